"""The design matrix: numeric hyperparameters (log10 where wide, mean-imputed, with missing
flags) and one-hot categoricals; how a level reads as text."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sweepsight.analysis.scale import skew

LOG_RANGE = 100.0  # numeric params spanning at least this max/min ratio are analysed as log10
MISSING_LEVEL = "(missing)"


def level_text(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return MISSING_LEVEL
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def levels_if(values: pd.Series, as_levels: bool) -> pd.Series:
    """``values`` as text levels (inf included, missing as None) when ``as_levels``, else as is:
    a numeric column holding inf has no place on a numeric axis."""
    if not as_levels:
        return values
    return values.map(level_text).where(values.notna(), None).astype(object)


def log_scale(present: np.ndarray) -> bool:
    """Analyse a numeric param as log10 when it is positive, spans at least 100x, and its
    distinct values are less skewed on the log scale than on the raw one (log-spaced grids and
    log-uniform draws are; a uniform draw on [0, 1] is not, whatever its smallest value)."""
    lo, hi = float(present.min()), float(present.max())
    if not (lo > 0 and math.log10(hi) - math.log10(lo) >= math.log10(LOG_RANGE)):
        return False  # (as logs: hi / lo overflows for a subnormal lo)
    distinct = np.unique(present)
    if len(distinct) < 3:
        return True
    return abs(skew(np.log10(distinct))) < abs(skew(distinct))


def encode_design(values: dict[str, pd.Series], numeric: list[str], categorical: list[str]
            ) -> tuple[pd.DataFrame, dict[str, str], list[str], list[str]]:
    """The design matrix: numeric (log10 where wide, mean-imputed, missing flags) + one-hot."""
    cols: dict[str, np.ndarray] = {}
    feature_param: dict[str, str] = {}
    log_scaled: list[str] = []
    notes: list[str] = []
    imputed: list[str] = []
    for p in values:
        s = values[p]
        if p in numeric:
            v = s.to_numpy(dtype=float, na_value=np.nan)
            present = v[~np.isnan(v)]
            if log_scale(present):
                v = np.log10(v)
                log_scaled.append(p)
            miss = np.isnan(v)
            if miss.any():
                mean = float(np.nanmean(v))
                v = np.where(miss, mean, v)
                imputed.append(f"{p} ({int(miss.sum())} runs, mean {mean:.4g}"
                               + (" on log10 scale)" if p in log_scaled else ")"))
            cols[p] = v
            feature_param[p] = p
            if miss.any():
                cols[f"{p}__missing"] = miss.astype(float)
                feature_param[f"{p}__missing"] = p
        else:
            raw_codes, raw_uniques = pd.factorize(s, use_na_sentinel=True)
            labels = np.array([level_text(u) for u in raw_uniques] + [MISSING_LEVEL], dtype=object)
            text = labels[np.where(raw_codes < 0, len(raw_uniques), raw_codes)]
            codes, uniques = pd.factorize(text, sort=True)
            onehot = np.zeros((len(text), len(uniques)))
            onehot[np.arange(len(text)), codes] = 1.0
            for j, level in enumerate(uniques):
                name = f"{p}={level}"
                cols[name] = onehot[:, j]
                feature_param[name] = p
    if log_scaled:
        notes.append("Analysed on a log10 scale (positive, spanning at least "
                     f"{LOG_RANGE:g}x and evenly spread on that scale): {', '.join(log_scaled)}.")
    if imputed:
        notes.append("Missing values replaced by the mean, with a <param>__missing indicator "
                     "column: " + "; ".join(imputed) + ".")
    if categorical:
        notes.append("Categorical hyperparameters one-hot encoded (every level, "
                     f"missing as {MISSING_LEVEL!r}): {', '.join(categorical)}.")
    X = pd.DataFrame(cols)
    return X, feature_param, log_scaled, notes
