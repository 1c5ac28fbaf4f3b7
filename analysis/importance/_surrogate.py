"""Main effects from a cross-fitted forest surrogate, with a permutation noise floor (random
and Bayesian searches, incomplete grids).

Two ExtraTrees fitted on the two halves of the configurations; for each parameter the mean
prediction over a background with the parameter set to each of its values gives a marginal
curve. Over the searched space, not the sample (``space=True``, as fANOVA): the values are the
parameter's distinct levels (or ``n_values`` evenly spaced over its range), equally weighted,
and the background draws every parameter independently from its own values, so that where a
steering sampler went weighs nothing (``space=False``, and conditional sweeps: background runs
and observed quantiles, weighted as sampled). The
main-effect variance is the *covariance* of the two halves' curves (cross-fitting: noise each
forest learnt is independent between halves, so it cancels in expectation instead of being
counted as effect), divided by the variance of the metric across runs (``share_of`` =
"runs": seed noise stays in the denominator). The null: ``n_null`` more fits with a *shadow* of each parameter appended (its values shuffled across
configurations, runs of one configuration together), so the real parameters are still learnt
and a shadow sees only the noise they leave. Covariances of a real half-curve with the other
half's shadow curves give the null sd of the statistic (linear in noise given the real curve,
so close to normal); ``noise_floor`` = t(1 − alpha/n_params, n_null) · sd / var(metric)
(Bonferroni), ``importance`` = share − floor, clipped at 0. Conditional parameters
(``prep.conditional``): a parent's curve moves its children with it (blocks taken from runs
with the parent at that level); a child varies only where it is active.
"""
from __future__ import annotations

import enum
import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import ExtraTreesRegressor

from sweepsight.analysis import grouping
from sweepsight.analysis.forest import config_ids, config_means, param_columns
from sweepsight.analysis.importance._base import ImportanceResult
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import ALPHA, RANDOM_STATE
from sweepsight.analysis.seeds import sklearn_seed

#: surrogate: rows predicted per marginal pass (params x grid values x background rows); the
#: background shrinks (to no fewer than MIN_BACKGROUND runs) when there are many parameters
MARGINAL_BUDGET = 400_000
MIN_BACKGROUND = 32
#: matrix cells (rows x columns) per predict call of the marginal curves (~64 MB of float64)
MAX_CELLS = 8_000_000


class SurrogateApprox(str, enum.Enum):
    """Where the surrogate path departs from its full computation (each also said in notes)."""

    #: more than ``max_rows`` runs: a random subset of whole configurations
    SUBSAMPLED_RUNS = "subsampled_runs"
    #: many parameters: fewer background runs per marginal curve than ``n_background``
    FEWER_BACKGROUND = "fewer_background"


def value_grid(sub: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` representative encoded values of one hyperparameter, with their weights.

    All distinct values when there are at most ``k``; otherwise the rows at the ``k`` quantiles
    of the column with most distinct values (so a missing-indicator block gets its share).
    """
    uniq, counts = np.unique(sub, axis=0, return_counts=True)
    if len(uniq) <= k:
        return uniq, counts / counts.sum()
    main = int(np.argmax([len(np.unique(sub[:, j])) for j in range(sub.shape[1])]))
    order = np.argsort(sub[:, main], kind="stable")
    picks = order[((np.arange(k) + 0.5) / k * len(order)).astype(int)]
    uniq, counts = np.unique(sub[picks], axis=0, return_counts=True)
    return uniq, counts / counts.sum()


def space_grid(sub: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Values spanning one hyperparameter's searched space, equally weighted (the space, not
    where the sampler went): every distinct value when there are at most ``2 k`` (a grid's
    levels), else ``k`` evenly spaced values over the observed range of a one-column (numeric) block,
    else :func:`value_grid`'s picks. Evenly spaced means the midpoints of ``k`` equal cells of
    the range, whose spread is the uniform distribution's (the endpoints would add 10% at 20
    values, and sit where the trees extrapolate)."""
    uniq = np.unique(sub, axis=0)
    if len(uniq) <= 2 * k:
        pass
    elif sub.shape[1] == 1:
        lo, hi = float(sub.min()), float(sub.max())
        uniq = (lo + (np.arange(k) + 0.5) / k * (hi - lo))[:, None]
    else:
        uniq = value_grid(sub, k)[0]
    return uniq, np.full(len(uniq), 1.0 / len(uniq))


def product_background(rows: np.ndarray, blocks: list[tuple[list[int], np.ndarray]], n: int,
                       rng: np.random.Generator) -> np.ndarray:
    """``n`` points of the searched space: each block of columns (a hyperparameter) drawn
    from its own values independently (a Monte Carlo sample of the product of the ranges);
    columns outside the blocks from random ``rows``."""
    bg = rows[rng.choice(len(rows), n, replace=len(rows) < n)].copy()
    for cols, vals in blocks:
        bg[:, cols] = vals[rng.integers(len(vals), size=n)]
    return bg


def _forest(n_estimators: int, seed: np.random.SeedSequence, n_jobs: int | None, *,
            leaf_weight: float | None = None) -> ExtraTreesRegressor:
    # leaves of >= 3 runs: smoother marginal curves and faster trees; all features per split
    # (the ExtraTrees default) keeps the curves from being flattened by splits on noise params.
    # Grown on configuration means (``leaf_weight``: total runs), a leaf holds >= 3 runs' weight.
    state = sklearn_seed(seed)
    if leaf_weight is None:
        return ExtraTreesRegressor(n_estimators=n_estimators, min_samples_leaf=3,
                                   max_features=1.0, random_state=state, n_jobs=n_jobs)
    return ExtraTreesRegressor(n_estimators=n_estimators, min_samples_leaf=1,
                               min_weight_fraction_leaf=min(3.0 / leaf_weight, 0.5),
                               max_features=1.0, random_state=state, n_jobs=n_jobs)


def _marginals(model, bg: np.ndarray, groups: dict[str, list[int]],
               grids: dict[str, tuple[np.ndarray, np.ndarray]], *,
               plans: dict[str, dict] | None = None, bg_rows: np.ndarray | None = None,
               X: np.ndarray | None = None, seed: int | np.random.SeedSequence = 0,
               max_cells: int = MAX_CELLS) -> dict[str, np.ndarray]:
    """Mean prediction over ``bg`` with each parameter set to each of its grid values.

    ``plans`` (see :func:`conditional_plans`) handle conditional parameters: a child is varied
    only over the background rows where it is active; a parent at level v takes, in each
    background row, its whole block (its columns and its children's) from a random run of
    ``X`` with the parent at v, so the children move with it. Parameters are predicted in
    batches of about ``max_cells`` matrix cells (rows x columns), so memory does not grow with
    the number of parameters.
    """
    plans = plans or {}
    rng = np.random.default_rng(seed)
    # float32: what the trees compare against anyway (predict would convert every batch)
    bg = np.asarray(bg, dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    pending: list[tuple[str, np.ndarray, int, int]] = []
    limit = max(max_cells // max(bg.shape[1], 1), 1)

    def flush():
        if not pending:
            return
        pred = model.predict(np.vstack([b for _, b, _, _ in pending]))
        start = 0
        for p, _, k, m in pending:
            out[p] = pred[start:start + k * m].reshape(k, m).mean(axis=1)
            start += k * m
        pending.clear()

    rows = 0
    for p, idx in groups.items():
        vals = grids[p][0]
        plan = plans.get(p, {})
        sub = bg
        if plan.get("active") is not None:
            on = plan["active"][bg_rows]
            sub = bg[on] if on.any() else bg
        block = np.repeat(sub[None, :, :], len(vals), axis=0)
        if plan.get("pools") is not None:
            assert X is not None  # a parent's blocks come from the runs
            fam = plan["fam"]
            for j, pool in enumerate(plan["pools"]):
                block[j][:, fam] = X[rng.choice(pool, len(sub))][:, fam]
        else:
            block[:, :, idx] = vals[:, None, :]
        block = block.reshape(-1, bg.shape[1])
        if rows and rows + len(block) > limit:
            flush()
            rows = 0
        pending.append((p, block, len(vals), len(sub)))
        rows += len(block)
    flush()
    return out


def _cross_cov(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    return float((w * (a - w @ a) * (b - w @ b)).sum())


def _main_shares(X, y, halves, groups, grids, *, n_estimators, n_background,
                 seed: np.random.SeedSequence, n_jobs, with_models=False, cfg=None, plans=None,
                 curves_out=None, blocks=None):
    """Cross-fitted main-effect variances (absolute) for every parameter.

    ``seed`` is spawned into the background draw and, per half, the forest and its marginal
    curves: five independent streams. With ``blocks`` (columns, values) per hyperparameter, the
    background is a sample of the searched space (:func:`product_background`) instead of the
    other half's runs.
    With ``cfg`` (configuration ids), the forests are grown on configuration means weighted by
    their runs instead of on the runs (when runs repeat configurations: a tree cannot split
    the runs of one configuration, so it is the same forest in distribution, grown faster).
    """
    draw, *per_half = seed.spawn(5)
    rng = np.random.default_rng(draw)
    models, curves, bgs = [], [], []
    for h in (0, 1):
        forest_seed, curve_seed = per_half[2 * h], per_half[2 * h + 1]
        train, other = np.flatnonzero(halves == h), np.flatnonzero(halves != h)
        if cfg is None:
            model = _forest(n_estimators, forest_seed, n_jobs).fit(X[train], y[train])
        else:
            Xm, ym, w = config_means(X[train], y[train], cfg[train])
            model = _forest(n_estimators, forest_seed, n_jobs,
                            leaf_weight=float(w.sum())).fit(Xm, ym, sample_weight=w)
        if blocks:  # over the searched space (fANOVA), not the sampled runs
            bg_rows = None
            bg = product_background(X[other], blocks, n_background, rng)
        else:
            bg_rows = rng.choice(other, min(n_background, len(other)), replace=False)
            bg = X[bg_rows]
        curves.append(_marginals(model, bg, groups, grids, plans=plans,
                                 bg_rows=bg_rows, X=X, seed=curve_seed))
        models.append(model)
        bgs.append(bg)
    if curves_out is not None:
        curves_out.extend(curves)
    scale = {p: (plans or {}).get(p, {}).get("scale", 1.0) for p in groups}
    v = {p: scale[p] * _cross_cov(curves[0][p], curves[1][p], grids[p][1])
         for p in groups}
    return (v, models, bgs) if with_models else v


def surrogate_main_effects(prep: Prepared, *, random_state: int = RANDOM_STATE, alpha: float = ALPHA,
                           n_values: int = 20, n_background: int = 256, n_estimators: int = 32,
                           n_null: int = 5, n_pair_values: int = 8, n_pair_params: int = 5,
                           n_jobs: int | None = None, max_rows: int = 20_000,
                           space: bool = True,
                           notes: list[str] | None = None) -> ImportanceResult:
    """Cross-fitted fANOVA-style main effects of a forest surrogate, with a permutation null."""
    notes = list(notes or [])
    approx: list[SurrogateApprox] = []
    big = len(prep.runs) > max_rows
    # one seed sequence, spawned per independent stream: the subsample, the halves, the real
    # fit, and each null replicate's shadows and fit (no two streams share a seed)
    subsample, split, real, *nulls = np.random.SeedSequence(random_state).spawn(3 + 2 * n_null)
    if big:
        prep = _subsample_configs(prep, max_rows, subsample)
        approx.append(SurrogateApprox.SUBSAMPLED_RUNS)
        notes.append(f"The surrogate uses a random {len(prep.runs)} runs (whole configurations) "
                     f"of the sweep, to stay fast.")
    groups = param_columns(prep)
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    params = list(groups)
    var_y = float(y.var())
    cfg = config_ids(prep)
    n_cfg = cfg.max() + 1
    halves = (np.random.default_rng(split).permutation(n_cfg) % 2)[cfg]
    grids = {p: value_grid(X[:, idx], n_values) for p, idx in groups.items()}
    plans = conditional_plans(prep, groups, X, grids)
    space = space and not plans  # conditional parameters keep the runs' background
    blocks = None
    if space:
        grids = {p: space_grid(X[:, idx], n_values) for p, idx in groups.items()}
        blocks = [(groups[p], grids[p][0]) for p in groups]
    for p, plan in plans.items():
        if plan.get("active") is not None:  # a child's values: where it is set
            grids[p] = value_grid(X[plan["active"]][:, groups[p]], n_values)
    # predictions per marginal pass (params x values x background rows) are kept to a budget,
    # so time and memory do not grow with the number of parameters beyond it
    n_rows_needed = sum(len(g[0]) for g in grids.values())
    bg_cap = int(np.clip(MARGINAL_BUDGET // max(n_rows_needed, 1), MIN_BACKGROUND,
                         n_background))
    if bg_cap < min(n_background, len(y) // 2):
        approx.append(SurrogateApprox.FEWER_BACKGROUND)
        notes.append(f"{len(params)} hyperparameters: the marginal curves average over "
                     f"{bg_cap} background runs instead of {n_background} (the null curves "
                     "likewise, so the noise floor includes the extra noise), to bound time "
                     "and memory.")
        n_background = bg_cap
    kw: dict[str, Any] = dict(n_estimators=n_estimators, n_background=n_background, n_jobs=n_jobs)
    if cfg.max() + 1 < len(cfg):
        kw["cfg"] = cfg
        notes.append("Its forests are grown on the configuration means, each weighted by its "
                     "number of runs, with at least 3 runs' weight per leaf: a tree cannot "
                     "separate runs of one configuration, so this is the same forest as one "
                     "grown on the runs, at a fraction of the cost.")
    if var_y == 0 or len(np.unique(halves)) < 2:
        table = pd.DataFrame({"param": params, "share": 0.0, "null_mean": 0.0,
                              "noise_floor": 0.0, "importance": 0.0, "above_floor": False})
        return ImportanceResult(table=table, method="main_effects (surrogate)",
                                interaction_share=0.0, noise_floor=0.0, share_of="runs",
                                explained_share=0.0, approximations=approx,
                                notes=notes + ["The metric does not vary, or there are too few "
                                               "configurations to split: no effects measured."])

    real_curves: list[dict] = []
    v, models, bgs = _main_shares(X, y, halves, groups, grids, seed=real,
                                  with_models=True, plans=plans, curves_out=real_curves,
                                  blocks=blocks, **kw)
    share = {p: max(v[p], 0.0) / var_y for p in params}

    # explained variance: covariance of out-of-half predictions with the metric
    oof = np.empty_like(y)
    for h in (0, 1):
        other = halves != h
        oof[other] = models[h].predict(X[other])
    v_f = max(float(np.cov(oof, y, bias=True)[0, 1]), 0.0)

    # permutation null: each parameter's shadow (its values shuffled across configurations,
    # runs of one configuration together) beside the real parameters
    null = np.empty((n_null, len(params)))
    null_curves: list[list[dict]] = []
    for r in range(n_null):
        null_curves.append([])
        Xn, sgroups, splans = _shadows(X, cfg, groups, grids, plans, nulls[2 * r])
        # half the trees: the null curves come out a little noisier, so the floor errs high
        sblocks = None if blocks is None else blocks + [(sgroups[p], grids[p][0])
                                                         for p in sgroups]
        vn = _main_shares(Xn, y, halves, sgroups, grids, seed=nulls[2 * r + 1],
                          plans=splans, curves_out=null_curves[-1], blocks=sblocks,
                          **{**kw, "n_estimators": max(n_estimators // 2, 8),
                             "n_background": max(n_background // 2, min(64, n_background))})
        null[r] = [vn[p] / var_y for p in params]
    k = len(params)
    scale = np.array([plans.get(p, {}).get("scale", 1.0) for p in params])
    sd = np.array([null_sd(real_curves, null_curves, p, grids[p][1]) for p in params])
    t_stat = np.divide([v[p] for p in params], sd, out=np.zeros(k), where=sd > 0)
    floor = scale * stats.t.ppf(1 - alpha / k, n_null) * sd / var_y

    table = pd.DataFrame({"param": params, "share": [share[p] for p in params],
                          "null_mean": null.mean(axis=0), "noise_floor": floor,
                          "t_stat": t_stat, "p_value": stats.t.sf(t_stat, n_null)})
    table["importance"] = (table["share"] - table["noise_floor"]).clip(lower=0)
    table["above_floor"] = (table["share"] > table["noise_floor"]).astype("boolean")

    top_df = _pair_shares(models, bgs, groups, X, table, n_pair_params, n_pair_values)
    top_df["share"] = top_df["share"] / var_y
    interaction = max(v_f - sum(max(v[p], 0.0) for p in params), 0.0) / var_y
    notes.append(
        f"Surrogate: two ExtraTrees ({n_estimators} trees) on the two halves of the "
        "configurations; marginal curves "
        + ("over the searched space, as fANOVA does: each parameter's distinct values (or "
           f"{n_values} evenly spaced over its range) equally weighted, averaged over "
           f"{n_background} points drawn from every parameter's values independently (where "
           "the sampler went weighs nothing)" if blocks else
           f"over up to {n_values} values per parameter and {n_background} background runs")
        + "; share = covariance of the two halves' curves / "
        "variance of the metric across runs (so seed noise counts in the denominator). "
        f"Noise floor: {n_null} more fits (half the trees, half the background) with a shadow "
        "of every parameter beside the real ones (its values shuffled across configurations, "
        "runs of one configuration together: no effect by construction, the same noise left "
        "over once the real parameters are learnt). The covariance of one half's real curve "
        "with the other half's shadow curve is a draw of the null; their root mean square is "
        f"the null sd; noise_floor = t(1 - {alpha}/{k}, {n_null} df) x sd / variance of the "
        f"metric (Bonferroni over the {k} parameters); p_value is that one-sided t test; "
        "importance = share - floor, clipped at 0.")
    if plans:
        kids = sorted(p for p, pl in plans.items() if pl.get("active") is not None)
        notes.append(
            "Conditional parameters: a parent's curve moves its children with it (each "
            "background run takes the parent's and its children's values from a random run "
            "with the parent at that level, so the curve is 'switching it, with its conditional "
            f"settings as they were used'); {', '.join(kids)} vary only over the runs where "
            "they are set, their share scaled by the fraction of those runs.")
    notes.append(f"Pairwise interactions: cross-fitted, among the top {n_pair_params} "
                 f"parameters on {n_pair_values} values each; they have no noise floor.")
    notes.append(f"The surrogate explains {v_f / var_y:.0%} of the metric's run-to-run "
                 f"variance out of sample (seed noise included in the denominator); main "
                 f"effects {sum(share.values()):.0%}, interactions {interaction:.0%} (what the "
                 "surrogate explains beyond its main effects, clipped at 0). These are shares "
                 "of the runs' variance, not of the variance between configurations.")
    return ImportanceResult(table=table, method="main_effects (surrogate)",
                            interaction_share=float(interaction), top_interactions=top_df,
                            noise_floor=float(floor.max()) if len(floor) else 0.0, notes=notes,
                            share_of="runs", explained_share=float(v_f / var_y),
                            approximations=approx)


def conditional_plans(prep: Prepared, groups: dict[str, list[int]], X: np.ndarray,
                      grids: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict]:
    """How to vary each conditional parameter (``prep.conditional``) in a marginal curve.

    A child gets ``active`` (runs where it is set) and ``scale`` (their fraction: its main effect
    acts on those runs only); a parent gets ``fam`` (its columns and its children's) and
    ``pools`` (for each grid value, the runs with the parent at that value).
    """
    plans: dict[str, dict] = {}
    for child in prep.conditional:
        parent = _parent(prep, child)
        if child not in groups or parent is None or parent not in groups:
            continue
        active = prep.runs[child].notna().to_numpy()
        plans[child] = {"active": active, "scale": float(active.mean())}
        fam = plans.setdefault(parent, {"fam": list(groups[parent])})["fam"]
        fam.extend(i for i in groups[child] if i not in fam)
    for p, plan in plans.items():
        if "fam" in plan:
            plan["pools"] = _pools(X[:, groups[p]], grids[p][0])
    return plans


def _parent(prep: Prepared, child: str) -> str | None:
    """The parameter whose level decides whether ``child`` is set (``prep.conditions``)."""
    cond = prep.conditions.get(child)
    q = None if cond is None else cond.parent
    if q is None or q == child or q not in prep.params:
        return None
    levels = prep.runs[q].astype(object).fillna("\0missing")
    miss = prep.runs[child].isna()
    return q if miss.groupby(levels).nunique().max() == 1 else None  # verify: it does decide


def _pools(sub: np.ndarray, vals: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero((sub == v).all(axis=1)) for v in vals]


def _shadows(X: np.ndarray, cfg: np.ndarray, groups: dict[str, list[int]],
             grids: dict[str, tuple[np.ndarray, np.ndarray]], plans: dict[str, dict],
             seed: np.random.SeedSequence) -> tuple[np.ndarray, dict[str, list[int]], dict[str, dict]]:
    """``X`` with a shadow of every parameter appended: its block shuffled across configurations.

    A shadow has the parameter's distribution but, by construction, no effect; the real
    parameters stay, so the forest still learns them and the shadow sees only the noise left.
    A parent's shadow carries its children's columns along (shuffled together); a child's
    shadow is shuffled among the configurations where it is active. Returns the widened
    matrix, the shadows' columns and their plans.
    """
    rng = np.random.default_rng(seed)
    n_cfg = cfg.max() + 1
    first = grouping.first_rows(cfg)
    parts, sgroups, splans = [X], {}, {}
    width = X.shape[1]
    for p, idx in groups.items():
        plan = plans.get(p, {})
        src = plan.get("fam", idx)
        mapping = np.arange(n_cfg)
        if plan.get("active") is not None:
            on = np.unique(cfg[plan["active"]])
            mapping[on] = on[rng.permutation(len(on))]
        else:
            mapping = rng.permutation(n_cfg)
        parts.append(X[first[mapping[cfg]]][:, src])
        pos = {c: width + j for j, c in enumerate(src)}
        sgroups[p] = [pos[c] for c in idx]
        splan = {k: v for k, v in plan.items() if k in ("active", "scale")}
        if "fam" in plan:
            splan["fam"] = [pos[c] for c in src]
            splan["pools"] = _pools(parts[-1][:, :len(idx)], grids[p][0])
        splans[p] = splan
        width += len(src)
    return np.hstack(parts), sgroups, splans


def _subsample_configs(prep: Prepared, max_rows: int, seed: np.random.SeedSequence) -> Prepared:
    """``prep`` reduced to a random set of whole configurations holding about ``max_rows`` runs."""
    import dataclasses

    cfg = config_ids(prep)
    n_cfg = cfg.max() + 1
    keep_cfg = np.random.default_rng(seed).permutation(n_cfg)[: int(n_cfg * max_rows / len(cfg))]
    keep = np.isin(cfg, keep_cfg)
    return dataclasses.replace(prep, runs=prep.runs[keep].reset_index(drop=True),
                               X=prep.X[keep].reset_index(drop=True))


def null_sd(real: list[dict], null: list[list[dict]], p: str, w: np.ndarray) -> float:
    """Standard deviation of the cross-fitted covariance of ``p`` if it had no effect.

    With no effect, the two halves' curves are independent noise, so the covariance of the real
    half-0 curve with a shadow's half-1 curve (and the other way round) is a draw of the same
    null given the real curve; the root mean square of those draws (null mean 0) is the sd.
    Conditioning on a real curve makes the statistic linear in the other half's noise, so it
    is close to normal (a product of two noise curves has heavy tails).
    """
    terms = [_cross_cov(real[0][p], d[1][p], w) for d in null]
    terms += [_cross_cov(d[0][p], real[1][p], w) for d in null]
    return float(np.sqrt(np.mean(np.square(terms)))) if terms else 0.0


def _pair_shares(models, bgs, groups, X, table, n_params, n_vals) -> pd.DataFrame:
    """Cross-fitted pure interaction variance for pairs of the top parameters (absolute)."""
    top = table.sort_values("share", ascending=False)["param"].head(n_params).tolist()
    out = []
    coarse = {p: value_grid(X[:, groups[p]], n_vals) for p in top}
    for a, b in itertools.combinations(top, 2):
        (va, wa), (vb, wb) = coarse[a], coarse[b]
        inter = []
        for model, bg in zip(models, bgs):
            bg = np.asarray(bg[: max(len(bg) // 2, 1)], dtype=np.float32)
            block = np.repeat(bg[None, None], len(va), axis=0).repeat(len(vb), axis=1)
            block[:, :, :, groups[a]] = va[:, None, None, :]
            block[:, :, :, groups[b]] = vb[None, :, None, :]
            m = model.predict(block.reshape(-1, X.shape[1])).reshape(len(va), len(vb), -1)
            m = m.mean(axis=2)
            ma, mb, mu = m @ wb, wa @ m, wa @ m @ wb
            inter.append(m - ma[:, None] - mb[None, :] + mu)
        w = np.outer(wa, wb)
        out.append({"param_a": a, "param_b": b,
                    "share": max(float((w * inter[0] * inter[1]).sum()), 0.0)})
    top = pd.DataFrame(out, columns=["param_a", "param_b", "share"])
    top["p_value"], top["noise_floor"] = np.nan, np.nan  # no noise floor on this path
    top["above_floor"] = pd.array([pd.NA] * len(top), dtype="boolean")
    return top.sort_values("share", ascending=False, kind="mergesort").reset_index(drop=True)
