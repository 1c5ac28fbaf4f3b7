"""Every neighbour pair's test results as files of the site: ``data/pairs.csv`` and
``data/pairs.parquet`` (one row per pair of neighbouring configurations)."""
from __future__ import annotations

import csv as csv_module
from pathlib import Path

import numpy as np
import pandas as pd

from sweepsight.analysis.significance import pair_sides

#: File names written into the site's data folder.
CSV, PARQUET = "pairs.csv", "pairs.parquet"


def pairs_frame(analysis) -> pd.DataFrame:
    """One row per neighbour pair (a, b), a the better-ranked configuration.

    Differences are b minus a, as logged (``*_logged``) and on the analysis scale; raw
    p-values of the three tests; ``p_bh`` across all pairs; Holm-adjusted p, verdict and
    seeds needed once within a's neighbourhood (``*_in_a``: b as seen from a) and once
    within b's (``*_in_b``: a as seen from b).
    """
    sig = analysis.significance
    pairs = sig.pairs
    if len(pairs) == 0:
        return pd.DataFrame(columns=_COLUMNS)
    rows, mirror, ia, ib = pair_sides(sig)
    fwd = pairs.iloc[rows].reset_index(drop=True)
    back = _mirror_rows(pairs[["p_holm", "verdict", "seeds_to_reach", "seeds_for_power"]], mirror)
    labels = sig.configs["label"].to_numpy()
    scale = analysis.prep.metric_scale
    out = pd.DataFrame({
        "pair": np.arange(1, len(fwd) + 1),
        "param": fwd["param"].astype(str),
        "from_value": fwd["from_value"].astype(str), "to_value": fwd["to_value"].astype(str),
        "config_a_id": fwd["config_id"], "config_a": pd.Series(labels[ia]).astype(str),
        "config_b_id": fwd["neighbour_id"],
        "config_b": pd.Series(labels[ib]).astype(str),
        "n_a": fwd["n_a"].astype(int), "n_b": fwd["n_b"].astype(int),
        "mean_a_logged": fwd["mean_raw_a"], "mean_b_logged": fwd["mean_raw_b"],
        "diff_logged": fwd["diff_raw"], "diff_logged_ci_low": fwd["diff_raw_ci_low"],
        "diff_logged_ci_high": fwd["diff_raw_ci_high"],
        "analysis_scale": scale,
        "mean_a": fwd["mean_a"], "mean_b": fwd["mean_b"],
        "diff": fwd["diff"], "diff_ci_low": fwd["diff_ci_low"],
        "diff_ci_high": fwd["diff_ci_high"],
        "cliffs_delta": fwd["cliffs_delta"],
        "ks_stat": fwd["ks_stat"], "ks_p": fwd["ks_p"], "welch_p": fwd["t_p"],
        "mannwhitney_p": fwd["mw_p"], "p_bh": fwd["p_bh"],
        "test": analysis.options.get("test", "ks") if analysis.options else "ks",
        "p_holm_in_a": fwd["p_holm"], "verdict_in_a": fwd["verdict"].astype(str),
        "seeds_to_reach_in_a": fwd["seeds_to_reach"].astype(int),
        "seeds_for_power_in_a": fwd["seeds_for_power"],
        "p_holm_in_b": back["p_holm"].to_numpy(), "verdict_in_b": back["verdict"].astype(str).to_numpy(),
        "seeds_to_reach_in_b": back["seeds_to_reach"].to_numpy(dtype=int),
        "seeds_for_power_in_b": back["seeds_for_power"].to_numpy(),
    })
    return out[_COLUMNS]


def _mirror_rows(pairs: pd.DataFrame, mirror: np.ndarray) -> pd.DataFrame:
    """The rows at ``mirror``, all missing where -1 (a pair seen from one side only)."""
    back = pairs.iloc[np.maximum(mirror, 0)].reset_index(drop=True)
    missing = mirror < 0
    if missing.any():
        back = back.astype(object)
        back.loc[missing] = np.nan
    return back


_COLUMNS = [
    "pair", "param", "from_value", "to_value", "config_a_id", "config_a", "config_b_id",
    "config_b", "n_a", "n_b", "mean_a_logged", "mean_b_logged", "diff_logged",
    "diff_logged_ci_low", "diff_logged_ci_high", "analysis_scale", "mean_a", "mean_b", "diff",
    "diff_ci_low", "diff_ci_high", "cliffs_delta", "ks_stat", "ks_p", "welch_p",
    "mannwhitney_p", "p_bh", "test", "p_holm_in_a", "verdict_in_a", "seeds_to_reach_in_a",
    "seeds_for_power_in_a", "p_holm_in_b", "verdict_in_b", "seeds_to_reach_in_b",
    "seeds_for_power_in_b",
]


def write_pairs(analysis, data_dir: str | Path) -> list[Path]:
    """Write :func:`pairs_frame` as ``pairs.csv`` and ``pairs.parquet`` into ``data_dir``
    (created if needed); returns the two paths. Nothing is written when significance was not
    tested (no pairs)."""
    frame = pairs_frame(analysis)
    if len(frame) == 0:
        return []
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    csv, parquet = data_dir / CSV, data_dir / PARQUET
    write_csv(frame, csv)
    frame.to_parquet(parquet, index=False)
    return [csv, parquet]


def write_csv(frame: pd.DataFrame, path: Path, *, chunk: int = 20_000) -> None:
    """``frame.to_csv(path, index=False, float_format="%.10g")``, the same text about twice as
    fast (a 250k-run grid has half a million pairs): floats formatted a column at a time, rows
    written by the csv module (which pandas uses too), ``chunk`` rows at a time so that the
    texts never all exist at once. Frames with missing text or other column types go through
    pandas."""
    for name in frame.columns:
        dtype = frame[name].dtype
        text = dtype.kind in "OU" or isinstance(dtype, pd.StringDtype)
        if not (dtype.kind in "fiu" or text) or (text and not all(
                isinstance(v, str) for v in frame[name].tolist())):  # missing or non-text cells
            frame.to_csv(path, index=False, float_format="%.10g")
            return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv_module.writer(fh, lineterminator="\n")
        out.writerow(list(frame.columns))
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start:start + chunk]
            out.writerows(zip(*(_cell_text(part[name]) for name in part.columns)))


def _cell_text(col: pd.Series) -> list[str]:
    """One column's cells as pandas' ``to_csv(float_format="%.10g")`` writes them."""
    if col.dtype.kind == "f":
        values = col.to_numpy()
        text = ["%.10g" % v for v in values.tolist()]
        for i in np.flatnonzero(np.isnan(values)).tolist():
            text[i] = ""
        return text
    if col.dtype.kind in "iu":
        return [str(v) for v in col.tolist()]
    return col.tolist()
