"""Two-sample tests for many pairs of small samples at once, and multiple-testing adjustments.

Results equal calling scipy pair by pair: Mann-Whitney U is scipy's, with pairs batched by
sample sizes along an axis; Kolmogorov-Smirnov's p-value depends only on the statistic and the
two sizes, so scipy is called once per distinct (sizes, statistic); Welch's t is the same
formula as scipy's, for all pairs at once (the per-size scipy calls dominated the run time).
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

# elements per batch of the broadcast comparisons (keeps memory small for big samples)
_CHUNK = 2_000_000


@functools.lru_cache(maxsize=None)
def min_attainable_ks_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided KS p-value possible with samples of these sizes (3 vs 3 -> 0.1)."""
    res = stats.ks_2samp(np.arange(n_a, dtype=float), np.arange(n_b, dtype=float) + n_a)
    return float(res.pvalue)


def _chunks(n_rows: int, per_row: int):
    step = max(1, _CHUNK // max(per_row, 1))
    for s in range(0, n_rows, step):
        yield slice(s, min(n_rows, s + step))


def _ks_and_cliff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KS statistic numerator (integer, D * n_a * n_b) and Cliff's delta of b vs a, per row."""
    na, nb = a.shape[1], b.shape[1]
    k = np.empty(a.shape[0], dtype=np.int64)
    delta = np.empty(a.shape[0])
    for sl in _chunks(a.shape[0], (na + nb) * (na + nb)):
        aa, bb = a[sl], b[sl]
        pooled = np.concatenate([aa, bb], axis=1)
        ca = (aa[:, :, None] <= pooled[:, None, :]).sum(axis=1)
        cb = (bb[:, :, None] <= pooled[:, None, :]).sum(axis=1)
        k[sl] = np.abs(ca * nb - cb * na).max(axis=1)
        delta[sl] = np.sign(bb[:, None, :] - aa[:, :, None]).sum(axis=(1, 2)) / (na * nb)
    return k, delta


def _mannwhitney_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sided Mann-Whitney p per row, choosing scipy's method per row as a single call would.

    scipy's "auto" goes asymptotic for a whole batch when any row has ties, so rows with and
    without ties are sent separately.
    """
    p = np.empty(a.shape[0])
    pooled = np.sort(np.concatenate([a, b], axis=1), axis=1)
    ties = (np.diff(pooled, axis=1) == 0).any(axis=1)
    for mask in (ties, ~ties):
        if mask.any():
            p[mask] = stats.mannwhitneyu(b[mask], a[mask], alternative="two-sided", axis=1).pvalue
    return p


#: The fewest runs on each side for a bootstrap interval of the difference of means.
MIN_BOOT_RUNS = 3


def pair_tests(y: np.ndarray, start: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray,
               *, n_boot: int, confidence: float, random_state: int) -> pd.DataFrame:
    """Test every pair (config ``a[i]`` vs neighbour ``b[i]``) of per-seed samples.

    ``y[start[c]:start[c] + n[c]]`` are configuration ``c``'s values. Returns one row per pair:
    ``diff`` (mean b - mean a) with a percentile bootstrap CI at ``confidence`` (each sample
    resampled independently, ``n_boot`` times, seeded), ``cliffs_delta`` (b vs a), ``ks_stat``,
    ``ks_p``, ``t_p`` (Welch), ``mw_p``, ``min_attainable_p`` (KS). Tests are NaN where either
    side has fewer than 2 values, the interval where either has fewer than
    :data:`MIN_BOOT_RUNS` (resampling 2 values gives at most 3 distinct means: an interval from
    that looks precise and is not).
    """
    m = len(a)
    cols = {c: np.full(m, np.nan) for c in
            ("diff_ci_low", "diff_ci_high", "cliffs_delta", "ks_stat", "ks_p", "t_p", "mw_p",
             "min_attainable_p")}
    n_a, n_b = n[a], n[b]
    means = np.bincount(np.repeat(np.arange(len(n)), n), weights=y, minlength=len(n)) / \
        np.maximum(n, 1)
    cols["diff"] = means[b] - means[a]
    testable = (n_a >= 2) & (n_b >= 2)
    if not testable.any():
        return pd.DataFrame(cols)

    boot = _bootstrap_means(y, start, n, n_boot=n_boot, random_state=random_state)
    idx = np.flatnonzero(testable)
    lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    boot_idx = np.flatnonzero(testable & (n_a >= MIN_BOOT_RUNS) & (n_b >= MIN_BOOT_RUNS))
    for sl in _chunks(boot_idx.size, n_boot):
        rows = boot_idx[sl]
        d = boot[b[rows]] - boot[a[rows]]
        q = np.quantile(d, [lo_q, hi_q], axis=1)
        cols["diff_ci_low"][rows], cols["diff_ci_high"][rows] = q[0], q[1]

    sizes = pd.DataFrame({"na": n_a[idx], "nb": n_b[idx], "row": idx})
    ks_k = np.zeros(m, dtype=np.int64)
    with warnings.catch_warnings():
        # constant samples give NaN t p-values, which is the honest answer
        warnings.simplefilter("ignore", RuntimeWarning)
        for (na, nb), grp in sizes.groupby(["na", "nb"], sort=False):
            rows = grp["row"].to_numpy()
            sa = np.sort(_gather(y, start, a[rows], na), axis=1)
            sb = np.sort(_gather(y, start, b[rows], nb), axis=1)
            k, delta = _ks_and_cliff(sa, sb)
            ks_k[rows] = k
            cols["cliffs_delta"][rows] = delta
            cols["mw_p"][rows] = _mannwhitney_p(sa, sb)
            cols["min_attainable_p"][rows] = min_attainable_ks_p(int(na), int(nb))
        cols["t_p"][idx] = welch_p(y, start, n, a[idx], b[idx])
        # the KS p-value depends only on (sizes, statistic): one scipy call per distinct triple
        keyed = pd.DataFrame({"na": n_a[idx], "nb": n_b[idx], "k": ks_k[idx], "row": idx})
        for (na, nb, _), grp in keyed.groupby(["na", "nb", "k"], sort=False):
            rows = grp["row"].to_numpy()
            r = rows[0]
            res = stats.ks_2samp(_gather(y, start, a[r:r + 1], na)[0],
                                 _gather(y, start, b[r:r + 1], nb)[0])
            cols["ks_stat"][rows] = res.statistic
            cols["ks_p"][rows] = res.pvalue
    return pd.DataFrame(cols)


def welch_p(y: np.ndarray, start: np.ndarray, n: np.ndarray, a: np.ndarray,
            b: np.ndarray) -> np.ndarray:
    """Welch's two-sided t-test p per pair, for all sample sizes at once (as scipy's
    ``ttest_ind(equal_var=False)``; NaN when both samples are constant)."""
    cfg = np.repeat(np.arange(len(n)), n)
    nn = np.maximum(n, 1)
    mean = np.bincount(cfg, weights=y, minlength=len(n)) / nn
    var = np.bincount(cfg, weights=(y - mean[cfg]) ** 2, minlength=len(n)) / np.maximum(n - 1, 1)
    se2_a, se2_b = var[a] / n[a], var[b] / n[b]
    denom = np.sqrt(se2_a + se2_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (mean[b] - mean[a]) / denom
        df = (se2_a + se2_b) ** 2 / (se2_a ** 2 / (n[a] - 1) + se2_b ** 2 / (n[b] - 1))
    p = 2 * stats.t.sf(np.abs(t), df)
    # two different constants: scipy's t is infinite and p is 0
    return np.where((denom == 0) & (mean[b] != mean[a]), 0.0, p)


def _gather(y: np.ndarray, start: np.ndarray, configs: np.ndarray, k: int) -> np.ndarray:
    return y[start[configs][:, None] + np.arange(k)[None, :]]


def _bootstrap_means(y: np.ndarray, start: np.ndarray, n: np.ndarray, *, n_boot: int,
                     random_state: int) -> np.ndarray:
    """(configs x n_boot) bootstrap means, each configuration resampled independently."""
    rng = np.random.default_rng(random_state)
    out = np.full((len(n), n_boot), np.nan)
    for k in np.unique(n):
        if k < 2:
            continue
        cfg = np.flatnonzero(n == k)
        vals = _gather(y, start, cfg, int(k))
        for sl in _chunks(cfg.size, n_boot * int(k)):
            draw = rng.integers(0, k, size=(sl.stop - sl.start, n_boot, int(k)))
            out[cfg[sl]] = np.take_along_axis(vals[sl][:, None, :], draw, axis=2).mean(axis=2)
    return out


def holm(p: np.ndarray, family: np.ndarray) -> np.ndarray:
    """Holm-adjusted p within each family (NaN p stays NaN and does not count toward m)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    fam = np.asarray(family)[ok]
    _, fam = np.unique(fam, return_inverse=True)
    order = np.lexsort((p[ok], fam))
    f_sorted, p_sorted = fam[order], p[ok][order]
    m = np.bincount(f_sorted)
    first = np.concatenate([[0], np.cumsum(m)[:-1]])
    i = np.arange(ok.size) - first[f_sorted]
    adj = (m[f_sorted] - i) * p_sorted
    adj = pd.Series(adj).groupby(f_sorted).cummax().to_numpy()
    res = np.empty(ok.size)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p over all non-NaN entries (NaN stays NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * ok.size / np.arange(1, ok.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    res = np.empty(ok.size)
    res[order] = np.minimum(ranked, 1.0)
    out[ok] = res
    return out
