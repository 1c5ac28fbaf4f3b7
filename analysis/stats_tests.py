"""Two-sample tests for many pairs of small samples at once, and multiple-testing adjustments.

Results equal calling scipy pair by pair: Mann-Whitney U is scipy's, with pairs batched by
sample sizes along an axis; Kolmogorov-Smirnov's p-value depends only on the statistic and the
two sizes, so scipy is called once per distinct (sizes, statistic); Welch's t is the same
formula as scipy's, for all pairs at once (the per-size scipy calls dominated the run time).
"""
from __future__ import annotations

import functools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from sweepsight.analysis import grouping

# elements per batch of the broadcast comparisons (keeps memory small for big samples)
_CHUNK = 4_000_000


@functools.lru_cache(maxsize=None)
def min_attainable_ks_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided KS p-value possible with samples of these sizes (3 vs 3 -> 0.1)."""
    res = stats.ks_2samp(np.arange(n_a, dtype=float), np.arange(n_b, dtype=float) + n_a)
    return float(res.pvalue)


def in_threads(fn, jobs: list) -> list:
    """``[fn(job) for job in jobs]`` on one thread per usable core (at most 4): the batched
    numpy work below (sorts, gathers, scipy's distributions) releases the GIL, so chunks run
    side by side; results do not depend on the number of threads."""
    workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        return [fn(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, jobs))


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


def _mannwhitney_p(a: np.ndarray, b: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Two-sided Mann-Whitney p per row, choosing scipy's method per row as a single call would.

    scipy's "auto" goes asymptotic for a whole batch when any row has ties, so rows with and
    without ties are sent separately. Without ties the p-value depends only on the sizes and
    U (from Cliff's ``delta``: U = (delta + 1) * n_a * n_b / 2), so scipy is called once per
    distinct U.
    """
    p = np.empty(a.shape[0])
    pooled = np.sort(np.concatenate([a, b], axis=1), axis=1)
    ties = (np.diff(pooled, axis=1) == 0).any(axis=1)
    if ties.any():
        p[ties] = stats.mannwhitneyu(b[ties], a[ties], alternative="two-sided", axis=1).pvalue
    rows = np.flatnonzero(~ties)
    if rows.size:
        nn = a.shape[1] * b.shape[1]
        u = np.rint((delta[rows] + 1) * nn / 2).astype(np.int64)
        _, first, inverse = np.unique(u, return_index=True, return_inverse=True)
        rep = rows[first]
        p[rows] = stats.mannwhitneyu(b[rep], a[rep], alternative="two-sided",
                                     axis=1).pvalue[inverse.reshape(-1)]
    return p


#: The fewest runs on each side for a bootstrap interval of the difference of means.
MIN_BOOT_RUNS = 3


def pair_tests(y: np.ndarray, start: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray,
               *, n_boot: int, confidence: float, random_state: int,
               y_raw: np.ndarray | None = None) -> pd.DataFrame:
    """Test every pair (config ``a[i]`` vs neighbour ``b[i]``) of per-seed samples.

    ``y[start[c]:start[c] + n[c]]`` are configuration ``c``'s values (``y_raw`` the same runs as
    logged, when the analysis scale differs). Returns one row per pair: ``diff`` (mean b - mean
    a) with a percentile bootstrap CI at ``confidence`` (each sample resampled independently,
    ``n_boot`` times, seeded), the same on ``y_raw`` (``diff_raw``, ``diff_raw_ci_low/high``,
    from the same resamples), ``cliffs_delta`` (b vs a), ``ks_stat``, ``ks_p``, ``t_p``
    (Welch), ``mw_p``, ``min_attainable_p`` (KS). Tests are NaN where either side has fewer
    than 2 values, the intervals where either has fewer than :data:`MIN_BOOT_RUNS` (resampling
    2 values gives at most 3 distinct means: an interval from that looks precise and is not).
    """
    m = len(a)
    # on the raw scale the two are equal: one bootstrap serves both
    y_raw = y if y_raw is None or np.array_equal(y_raw, y) else y_raw
    cols = {c: np.full(m, np.nan) for c in
            ("diff_ci_low", "diff_ci_high", "diff_raw_ci_low", "diff_raw_ci_high",
             "cliffs_delta", "ks_stat", "ks_p", "t_p", "mw_p", "min_attainable_p")}
    n_a, n_b = n[a], n[b]
    cfg = np.repeat(np.arange(len(n)), n)
    means = np.bincount(cfg, weights=y, minlength=len(n)) / np.maximum(n, 1)
    means_raw = np.bincount(cfg, weights=y_raw, minlength=len(n)) / np.maximum(n, 1)
    cols["diff"] = means[b] - means[a]
    cols["diff_raw"] = means_raw[b] - means_raw[a]
    testable = (n_a >= 2) & (n_b >= 2)
    if not testable.any():
        return pd.DataFrame(cols)

    idx = np.flatnonzero(testable)
    boot_idx = np.flatnonzero(testable & (n_a >= MIN_BOOT_RUNS) & (n_b >= MIN_BOOT_RUNS))
    ci, ci_raw = bootstrap_diff_ci((y, y_raw), start, n, a[boot_idx], b[boot_idx],
                                   n_boot=n_boot, confidence=confidence,
                                   random_state=random_state)
    cols["diff_ci_low"][boot_idx], cols["diff_ci_high"][boot_idx] = ci[:, 0], ci[:, 1]
    cols["diff_raw_ci_low"][boot_idx], cols["diff_raw_ci_high"][boot_idx] = ci_raw[:, 0], ci_raw[:, 1]

    sizes = pd.DataFrame({"na": n_a[idx], "nb": n_b[idx], "row": idx})
    ks_k = np.zeros(m, dtype=np.int64)
    with warnings.catch_warnings():
        # constant samples give NaN t p-values, which is the honest answer
        warnings.simplefilter("ignore", RuntimeWarning)
        for key, grp in sizes.groupby(["na", "nb"], sort=False):
            na, nb = (int(v) for v in cast(tuple, key))
            rows = grp["row"].to_numpy()
            sa = np.sort(_gather(y, start, a[rows], na), axis=1)
            sb = np.sort(_gather(y, start, b[rows], nb), axis=1)
            k, delta = _ks_and_cliff(sa, sb)
            ks_k[rows] = k
            cols["cliffs_delta"][rows] = delta
            cols["mw_p"][rows] = _mannwhitney_p(sa, sb, delta)
            cols["min_attainable_p"][rows] = min_attainable_ks_p(na, nb)
        cols["t_p"][idx] = welch_p(y, start, n, a[idx], b[idx])
        # the KS p-value depends only on (sizes, statistic): one scipy call per distinct triple
        keyed = pd.DataFrame({"na": n_a[idx], "nb": n_b[idx], "k": ks_k[idx], "row": idx})
        for key, grp in keyed.groupby(["na", "nb", "k"], sort=False):
            na, nb = (int(v) for v in cast(tuple, key)[:2])
            rows = grp["row"].to_numpy()
            r = rows[0]
            res = stats.ks_2samp(_gather(y, start, a[r:r + 1], na)[0],
                                 _gather(y, start, b[r:r + 1], nb)[0])
            cols["ks_stat"][rows] = res.statistic
            cols["ks_p"][rows] = res.pvalue
    return pd.DataFrame(cols)


#: Largest sample size whose every ordered resample (k**k of them) is enumerated once.
_TUPLE_MAX_K = 5


def bootstrap_diff_ci(samples: tuple[np.ndarray, ...], start: np.ndarray, n: np.ndarray,
                      a: np.ndarray, b: np.ndarray, *, n_boot: int, confidence: float,
                      random_state: int) -> list[np.ndarray]:
    """Percentile bootstrap interval of mean(b) - mean(a) per pair, for each array of
    ``samples`` (the same runs on different scales, resampled identically): (pairs x 2) each.

    Each side is resampled with replacement, ``n_boot`` times, seeded. Pairs with the same
    sample sizes share the resampling indices (each pair's interval is still an ordinary
    bootstrap; only pairs' errors are correlated), so every resampled difference of means of
    a chunk of pairs is one matrix product: the pairs' deviations from their means (b, then
    minus a) times each resample's counts of every position over the sample size. For
    samples of up to :data:`_TUPLE_MAX_K` values a resample draws one of the k**k equally
    likely ordered resamples (the same distribution as drawing k positions).
    """
    rng = np.random.default_rng(random_state)
    out = [np.full((len(a), 2), np.nan) for _ in samples]
    if len(a) == 0:
        return out
    q = [(1 - confidence) / 2, 1 - (1 - confidence) / 2]
    same = len(samples) > 1 and all(s is samples[0] for s in samples[1:])
    na_all, nb_all = n[a], n[b]
    jobs = []
    for na, nb in sorted(set(zip(na_all.tolist(), nb_all.tolist()))):
        rows = np.flatnonzero((na_all == na) & (nb_all == nb))
        draw_a, draw_b = _draw(rng, na, n_boot), _draw(rng, nb, n_boot)
        weights = np.vstack([_weights(draw_b, nb, n_boot), _weights(draw_a, na, n_boot)])
        jobs += [(rows[sl], na, nb, weights) for sl in _chunks(rows.size, 2 * n_boot)]

    def interval(job) -> None:
        r, na, nb, weights = job
        for res, y in zip(out[:1] if same else out, samples):
            # resampled deviations from each side's own mean, in float32 (the Monte Carlo
            # error dwarfs its rounding), shifted back by the observed difference
            vb, va = _gather(y, start, b[r], nb), _gather(y, start, a[r], na)
            mean_b, mean_a = vb.mean(axis=1), va.mean(axis=1)
            dev = np.concatenate([vb - mean_b[:, None], mean_a[:, None] - va], axis=1)
            res[r] = _quantiles(dev.astype(np.float32) @ weights, q) + (mean_b - mean_a)[:, None]

    with threadpool_limits(1):  # the products are small: one BLAS thread per chunk's thread
        in_threads(interval, jobs)  # chunks write disjoint rows; the draws were made above
    if same:
        for res in out[1:]:
            res[:] = out[0]
    return out


def _quantiles(d: np.ndarray, q: list[float]) -> np.ndarray:
    """``np.quantile(d, q, axis=1).T`` (linear interpolation), reordering ``d`` in place."""
    pos = np.asarray(q) * (d.shape[1] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, d.shape[1] - 1)
    frac = (pos - lo)[None, :]
    at = order_statistics(d, np.concatenate([lo, hi]))
    return at[:, :len(lo)] * (1 - frac) + at[:, len(lo):] * frac


#: rows are sorted in this many slices when that gives the order statistics (see below)
_SLICES = 4


def order_statistics(d: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``np.sort(d, axis=1)[:, positions]`` (NaN last), reordering ``d`` in place.

    Near either end, as a percentile interval's are: each row is sorted as four slices (numpy's
    vectorised sort is about four times faster on 500 values than on 2,000, per value), then
    only the m smallest and m largest of every slice (m: the deepest position asked for, from
    its nearer end) are merged and sorted. The k-th smallest value of a row is among the k
    smallest of its slices, so the result is the full sort's, exactly.
    """
    rows, n = d.shape
    positions = np.asarray(positions, dtype=int)
    depth = int(np.minimum(positions + 1, n - positions).max(initial=0))
    if n % _SLICES or 2 * depth * _SLICES > n:
        d.sort(axis=1)
        return d[:, positions]
    width = n // _SLICES
    parts = d.reshape(rows * _SLICES, width)  # a view: d is C-contiguous from the callers
    parts.sort(axis=1)
    slices = parts.reshape(rows, _SLICES, width)
    low = np.sort(slices[:, :, :depth].reshape(rows, -1), axis=1)
    high = np.sort(slices[:, :, width - depth:].reshape(rows, -1), axis=1)
    below = positions < depth  # else n - position <= depth: counted from the top
    out = np.empty((rows, positions.size), dtype=d.dtype)
    out[:, below] = low[:, positions[below]]
    out[:, ~below] = high[:, positions[~below] - (n - high.shape[1])]
    return out


def _draw(rng: np.random.Generator, k: int, n_boot: int) -> np.ndarray:
    """Resampling indices shared by every sample of size k: (n_boot,) indices of ordered
    resamples when k is small, else (n_boot x k) positions."""
    if k <= _TUPLE_MAX_K:
        return rng.integers(0, k ** k, size=n_boot)
    return rng.integers(0, k, size=(n_boot, k))


@functools.lru_cache(maxsize=None)
def _tuples(k: int) -> np.ndarray:
    """Every ordered resample of k positions: (k**k x k)."""
    return np.indices((k,) * k).reshape(k, -1).T


def _weights(draw: np.ndarray, k: int, n_boot: int) -> np.ndarray:
    """(k x n_boot) float32: how often each resample drew each position, over k (a resample's
    mean is the sample times its column)."""
    positions = _tuples(k)[draw] if draw.ndim == 1 else draw  # (n_boot x k)
    flat = (positions * n_boot + np.arange(n_boot)[:, None]).ravel()
    return (np.bincount(flat, minlength=k * n_boot).reshape(k, n_boot) / k).astype(np.float32)


def seeds_to_reach(m: np.ndarray, *, alpha: float, test: str, max_seeds: int = 1000) -> np.ndarray:
    """The fewest seeds per side (equal on both) at which ``test``, Holm-adjusted over ``m``
    comparisons, can give p < ``alpha``: the smallest k with m * (smallest p at k vs k) <
    alpha. Welch's t has no floor (2). ``max_seeds + 1`` where even ``max_seeds`` would not do.
    """
    m = np.maximum(np.asarray(m, dtype=np.int64), 1)
    out = np.full(m.shape, 2, dtype=np.int64)
    if test == "welch":
        return out
    for mm in np.unique(m):
        k = 2
        while k <= max_seeds and mm * min_attainable_p(test, k, k) >= alpha:
            k += 1
        out[m == mm] = k
    return out


def _reaches(d: np.ndarray, k: np.ndarray, alpha: np.ndarray, power: float) -> np.ndarray:
    """Whether the two-sided two-sample t-test, k seeds per side, at ``alpha`` has at least
    ``power`` against effect size d >= 0 (statsmodels' power: ``nct.sf(crit) +
    nct.cdf(-crit)``), mostly without the smaller term: the chance of a significant result in
    the wrong direction is at most alpha / 2 (its value with no effect), so it can only decide
    where the larger term falls short of ``power`` by less than that. The critical values are
    computed once per distinct (k, alpha), in the calling thread (``t.isf`` is cdflib's
    ``stdtrit``: threads calling it hung with SciPy 1.11 and 1.12); the noncentral t (Boost's
    since SciPy 1.12) runs on threads in chunks of :data:`_POWER_CHUNK`."""
    df = 2 * k - 2
    key = grouping.group_ids([df, alpha])
    first = grouping.first_rows(key)
    crit = stats.t.isf(alpha[first] / 2, df[first])[key]
    nc = d * np.sqrt(k / 2)
    upper = np.concatenate(in_threads(
        lambda sl: stats.nct.sf(crit[sl], df[sl], nc[sl]),
        [slice(s, s + _POWER_CHUNK) for s in range(0, max(d.size, 1), _POWER_CHUNK)]))
    out = upper >= power
    close = np.flatnonzero(~out & (upper >= power - alpha / 2))
    if close.size:
        out[close] = upper[close] + stats.nct.cdf(-crit[close], df[close], nc[close]) >= power
    return out


def min_attainable_p(test: str, n_a, n_b):
    """The smallest two-sided p-value ``test`` ("ks", "mannwhitney", "welch") can give with
    these sample sizes (arrays allowed): KS as scipy's exact test, Mann-Whitney exact
    (2 / C(n_a + n_b, n_a), fully separated samples), Welch none (0)."""
    if test == "ks":
        f = np.vectorize(lambda x, z: min_attainable_ks_p(int(x), int(z)), otypes=[float])
        return f(n_a, n_b) if np.ndim(n_a) or np.ndim(n_b) else min_attainable_ks_p(int(n_a), int(n_b))
    if test == "mannwhitney":
        from scipy.special import comb

        return np.minimum(1.0, 2.0 / comb(np.add(n_a, n_b), n_a))
    return np.zeros(np.broadcast(n_a, n_b).shape) if np.ndim(n_a) or np.ndim(n_b) else 0.0


def seeds_for_power(diff: np.ndarray, sd_a: np.ndarray, sd_b: np.ndarray, *, alpha,
                    power: float = 0.8, max_seeds: int = 10_000) -> np.ndarray:
    """Seeds per side for a two-sided two-sample t-test at ``alpha`` (scalar or per pair) to
    detect a true difference of ``|diff|`` with ``power``, given the per-seed spreads: as
    statsmodels' ``TTestIndPower().solve_power(effect_size=|diff| / sqrt((sd_a**2 +
    sd_b**2) / 2), alpha, power)`` rounded up, at least 2. ``inf`` above ``max_seeds``; NaN
    where ``diff`` is 0 or any input is NaN. (Equal seeds per side, where Welch's and
    Student's t coincide in their statistic.)
    """
    diff, sd_a, sd_b = (np.asarray(v, dtype=float) for v in (diff, sd_a, sd_b))
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), diff.shape)
    d, sa, sb, al = diff.ravel(), sd_a.ravel(), sd_b.ravel(), alpha.ravel()
    # pieces of pairs one after another: the solve's working arrays stay small
    parts = [_seeds_for_power(d[sl], sa[sl], sb[sl], al[sl], power, max_seeds)
             for sl in (slice(s, s + _POWER_PIECE)
                        for s in range(0, max(diff.size, 1), _POWER_PIECE))]
    return np.concatenate(parts).reshape(diff.shape)


#: power evaluations per chunk of :func:`_reaches` (the chunks run on threads)
_POWER_CHUNK = 50_000
#: pairs solved at a time by :func:`seeds_for_power`
_POWER_PIECE = 200_000


def _seeds_for_power(diff: np.ndarray, sd_a: np.ndarray, sd_b: np.ndarray, alpha: np.ndarray,
                     power: float, max_seeds: int) -> np.ndarray:
    out = np.full(diff.shape, np.nan)
    pooled = np.sqrt((sd_a ** 2 + sd_b ** 2) / 2)
    ok = np.isfinite(diff) & np.isfinite(pooled) & (diff != 0)
    with np.errstate(divide="ignore"):
        d = np.abs(diff) / pooled
    out[ok & np.isinf(d)] = 2
    todo = np.flatnonzero(ok & np.isfinite(d))
    if todo.size == 0:
        return out
    z_a = stats.norm.isf(alpha[todo] / 2)
    z = z_a + stats.norm.isf(1 - power)
    # Guenther's approximation (normal + z**2/4) is rarely off: certify it with one power
    # below it and one at it, and step only where that fails
    normal = 2 * (z / d[todo]) ** 2
    k = np.maximum(2, np.ceil(normal + z_a ** 2 / 4)).astype(float)
    # the t-test never needs fewer seeds than the normal approximation: beyond the cap early
    # (and scipy's noncentral t is slow at huge degrees of freedom)
    k[normal > max_seeds] = np.inf
    dd_all, aa_all = d[todo], alpha[todo]
    live = np.flatnonzero(np.isfinite(k))
    below = np.zeros(k.shape, dtype=bool)  # the power holds one seed fewer: step down
    at = np.zeros(k.shape, dtype=bool)
    both = np.concatenate([live, live[k[live] > 2]])
    steps = np.concatenate([k[live], k[live[k[live] > 2]] - 1])
    ok = _reaches(dd_all[both], steps, aa_all[both], power)
    at[live] = ok[:live.size]
    below[live[k[live] > 2]] = ok[live.size:]
    down = below.copy()
    while down.any():
        cand = np.flatnonzero(down)
        k[cand] -= 1
        down[cand] = k[cand] > 2
        cand = np.flatnonzero(down)
        if cand.size:
            down[cand] = _reaches(dd_all[cand], k[cand] - 1, aa_all[cand], power)
    up = np.isfinite(k) & ~at & ~below
    while up.any():
        rows = np.flatnonzero(up)
        k[rows] += 1
        over = k[rows] > max_seeds
        k[rows[over]] = np.inf
        rows = rows[~over]
        up[:] = False
        up[rows] = ~_reaches(dd_all[rows], k[rows], aa_all[rows], power)
    k[k > max_seeds] = np.inf
    out[todo] = k
    return out


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
