"""Marginal association of each encoded column with the target: Pearson and Spearman."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sweepsight.analysis.prepared import Prepared

COLUMNS = ["feature", "param", "pearson_r", "pearson_p", "spearman_r", "spearman_p", "n"]


def correlations(prep: Prepared) -> pd.DataFrame:
    """Pearson and Spearman correlation of every encoded column of ``prep.X`` with ``prep.y``.

    Same numbers as :func:`scipy.stats.pearsonr` (exact beta distribution of r) and
    :func:`scipy.stats.spearmanr` (t approximation on mid-ranks), computed for all columns at
    once. Constant columns are skipped, and so is everything when the target is constant.

    Returns
    -------
    DataFrame
        ``feature, param, pearson_r, pearson_p, spearman_r, spearman_p, n``, sorted by
        ``|spearman_r|`` (largest first).
    """
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    n = len(y)
    varying = ~np.all(X == X[:1], axis=0) if n else np.zeros(X.shape[1], bool)
    if n < 3 or np.all(y == y[0]) or not varying.any():
        return pd.DataFrame(columns=COLUMNS)
    features = [c for c, v in zip(prep.X.columns, varying) if v]
    X = X[:, varying]

    pearson_r = _corr(X, y)
    ab = n / 2 - 1
    pearson_p = np.clip(2 * stats.beta.cdf(-np.abs(pearson_r), ab, ab, loc=-1, scale=2), 0, 1)

    spearman_r = _corr(stats.rankdata(X, axis=0), stats.rankdata(y))
    dof = n - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = spearman_r * np.sqrt((dof / ((spearman_r + 1.0) * (1.0 - spearman_r))).clip(0))
    spearman_p = np.clip(2 * stats.t.sf(np.abs(t), dof), 0, 1)

    out = pd.DataFrame({
        "feature": features,
        "param": [prep.feature_param[f] for f in features],
        "pearson_r": pearson_r,
        "pearson_p": pearson_p,
        "spearman_r": spearman_r,
        "spearman_p": spearman_p,
        "n": n,
    })
    order = np.argsort(-np.abs(out["spearman_r"].to_numpy()), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def _corr(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``X`` with ``y`` (scaled first, as scipy does, to avoid
    overflow), clipped to [-1, 1]."""
    xm = X - X.mean(axis=0)
    ym = y - y.mean()
    xm = xm / np.abs(xm).max(axis=0)
    ym = ym / np.abs(ym).max()
    r = (xm * ym[:, None]).sum(axis=0) / (np.linalg.norm(xm, axis=0) * np.linalg.norm(ym))
    return np.clip(r, -1.0, 1.0)
