"""Main-effect variance shares (functional ANOVA), with a noise floor.

Two paths, chosen from the design:

* **grid** (the configurations cover >= 80% of the product of the levels and runs repeat
  configurations, or the grid is complete): exact variance decomposition of the configuration
  means (each configuration weighs the same), plus a main-effects factorial ANOVA on the runs
  (statsmodels ``ols`` + ``anova_lm(typ=2)``) for F tests and the bias-corrected share
  ω² = (SS_effect − df·MS_error) / (SS_total + MS_error), clipped at 0. MS_error is the
  main-effects residual (interactions pooled with seed noise) unless the interactions rise
  above the pure within-configuration error (their own F test): then the pure error, so that
  a strong interaction cannot hide a real main effect.
  ``importance`` = ω²; a parameter is above the floor when its Holm-adjusted p < alpha;
  ``noise_floor`` = the share at which its F test would reach its Holm level (alpha / (k − i)
  for the i-th smallest p), F_crit · df · MS_error / (runs per configuration · n_configurations
  · variance of the configuration means): the most that seed noise alone plausibly gives it.
  Shares are of the configuration means' variance (``share_of``). The leftover (interactions)
  and each pair are F-tested against the pure error (runs around their configuration's mean):
  SS = runs per configuration · n_configurations · leftover variance on
  n_configurations − 1 − Σ df_p (a pair: (l_a − 1)(l_b − 1), Holm over pairs); the share noise
  is expected to leave there (df · MS_pure / SS of the means) is subtracted for
  ``interaction_share_corrected``.
* **surrogate** (random / Bayesian search, incomplete grids): two ExtraTrees fitted on the two
  halves of the configurations; for each parameter the mean prediction over background runs with
  the parameter set to each of up to ``n_values`` (quantile) values gives a marginal curve. The
  main-effect variance is the *covariance* of the two halves' curves (cross-fitting: noise each
  forest learnt is independent between halves, so it cancels in expectation instead of being
  counted as effect), divided by the variance of the metric across runs (``share_of`` =
  "runs": seed noise stays in the denominator). The null: ``n_null``
  more fits with a *shadow* of each parameter appended (its values shuffled across
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

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import ExtraTreesRegressor

from sweepsight.analysis.forest import config_ids, config_means, param_columns
from sweepsight.analysis.importance._base import BaseImportanceEvaluator, ImportanceResult
from sweepsight.analysis.prepared import Prepared

GRID_COVERAGE = 0.8
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


class MainEffectsEvaluator(BaseImportanceEvaluator):
    """Variance share of each hyperparameter's main effect (grid ANOVA or surrogate fANOVA)."""

    def evaluate(self, prep: Prepared, *, random_state: int = 0, method: str = "auto",
                 alpha: float = 0.05, **kw) -> ImportanceResult:
        codes = level_codes(prep)
        grid, why = detect_grid(codes)
        if method not in ("auto", "grid", "surrogate"):
            raise ValueError(f"method must be 'auto', 'grid' or 'surrogate', not {method!r}")
        use_grid = grid if method == "auto" else method == "grid"
        if use_grid:
            return grid_main_effects(prep, codes, alpha=alpha, notes=[why])
        return surrogate_main_effects(prep, random_state=random_state, alpha=alpha,
                                      notes=[why], **kw)


# --------------------------------------------------------------------------- the design
def level_codes(prep: Prepared) -> pd.DataFrame:
    """Integer level of every run for each analysed hyperparameter (NaN is a level)."""
    return pd.DataFrame(
        {p: pd.factorize(prep.runs[p].astype(object), use_na_sentinel=False)[0]
         for p in prep.params}, index=prep.runs.index)


def detect_grid(codes: pd.DataFrame) -> tuple[bool, str]:
    """Whether the configurations form a (nearly) full grid, and a sentence saying why."""
    n = len(codes)
    levels = codes.max().to_numpy() + 1
    product = float(np.prod(levels.astype(float)))
    n_configs = len(codes.drop_duplicates())
    coverage = n_configs / product
    per_config = n / n_configs
    resid_df = n - 1 - int((levels - 1).sum())
    desc = (f"{n_configs} configurations cover {coverage:.0%} of the {product:.3g} "
            f"combinations of levels, {per_config:.1f} runs each on average")
    if coverage >= GRID_COVERAGE and (per_config >= 2 or coverage == 1.0) and resid_df > 0:
        return True, f"Grid design ({desc}): main effects from configuration means and ANOVA."
    return False, (f"Not a repeated full grid ({desc}): main effects from a cross-fitted "
                   "forest surrogate, with a shuffled-metric noise floor.")


# --------------------------------------------------------------------------- grid path
def grid_main_effects(prep: Prepared, codes: pd.DataFrame, *, alpha: float = 0.05,
                      notes: list[str] | None = None, max_pairs: int = 10) -> ImportanceResult:
    """Exact decomposition of configuration means plus a main-effects factorial ANOVA (F tests
    against the pure error when configurations repeat)."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    params = list(prep.params)
    notes = list(notes or [])
    y = prep.y.to_numpy(dtype=float)
    cm = codes.assign(m=y).groupby(params, sort=False)["m"].mean().reset_index()
    n_configs = len(cm)
    mu = cm["m"].mean()
    v_total = float(((cm["m"] - mu) ** 2).mean())

    def marginal_var(cols: list[str]) -> float:
        g = cm.groupby(cols, sort=False)["m"].agg(["mean", "size"])
        return float(((g["mean"] - mu) ** 2 * g["size"]).sum() / n_configs)

    v_main = {p: marginal_var([p]) for p in params}
    share = {p: (v_main[p] / v_total if v_total > 0 else 0.0) for p in params}

    # the leftover (interactions), tested against the pure within-configuration error: runs
    # around their own configuration's mean, which no model of the means can explain
    per_config = len(y) / n_configs
    pe = _pure_error(y, codes, params)
    scale = per_config * n_configs * v_total  # SS on the runs of a unit share (balanced: exact)
    df_main = int(sum(codes[p].nunique() - 1 for p in params))
    interaction = 1.0 - sum(share.values()) if v_total > 0 else 0.0
    inter = _f_test(max(interaction, 0.0) * scale, n_configs - 1 - df_main, pe, scale, alpha)

    # factorial ANOVA on the runs: main-effect sums of squares (type II) of the main-effects
    # model. Its residual pools the interactions with the seed noise, which is right while they
    # are noise; when they are not (the F test above), it would let a strong interaction hide
    # a real main effect, so the main effects are tested against the pure error instead.
    safe = {p: f"x{i}" for i, p in enumerate(params)}
    active = [p for p in params if codes[p].nunique() > 1]
    # categorical columns: patsy otherwise checks every cell for NaN one by one (25 s at 250k
    # runs); the levels and their order (sorted codes) are the ones it would find itself
    data = codes.rename(columns=safe).astype({safe[p]: "category" for p in active}).assign(y=y)
    rhs = " + ".join(f"C({safe[p]})" for p in active) or "1"
    fit = smf.ols(f"y ~ {rhs}", data=data).fit()
    aov = anova_lm(fit, typ=2)
    pure = bool(inter["above"]) and pe["df"] > 0
    if pure:
        ms_error, df_error = pe["ms"], float(pe["df"])
    else:
        df_error = float(aov.loc["Residual", "df"])
        ms_error = float(aov.loc["Residual", "sum_sq"]) / df_error
    ss_total = float(((y - y.mean()) ** 2).sum())
    rows = []
    for p in params:
        key = f"C({safe[p]})"
        if key in aov.index:
            ss, df = float(aov.loc[key, "sum_sq"]), float(aov.loc[key, "df"])
            f = (ss / df) / ms_error if ms_error > 0 else (np.inf if ss > 0 else np.nan)
            pv = float(stats.f.sf(f, df, df_error)) if not np.isnan(f) else np.nan
            denom = ss_total + ms_error
            omega2 = max((ss - df * ms_error) / denom, 0.0) if denom > 0 else 0.0
        else:
            df, f, pv, omega2 = 0.0, np.nan, np.nan, 0.0
        rows.append({"param": p, "share": share[p], "omega2": omega2, "f_stat": f,
                     "p_value": pv, "df": df})
    table = pd.DataFrame(rows)
    finite = table["p_value"].notna()
    table["p_holm"] = np.nan
    table["noise_floor"] = np.nan
    if finite.any():
        table.loc[finite, "p_holm"] = holm(table.loc[finite, "p_value"].to_numpy(float))
        table.loc[finite, "noise_floor"] = _holm_floor(
            table.loc[finite, "p_value"], table.loc[finite, "df"], df_error, ms_error, scale,
            alpha)
    table["above_floor"] = (table["p_holm"] < alpha).astype("boolean")
    table["importance"] = table["omega2"]

    # pairs, against the pure error like the leftover
    order = sorted(params, key=lambda p: -share[p])
    cand = order if len(params) <= 12 else order[:8]
    pairs = []
    for a, b in itertools.combinations(cand, 2):
        v_ab = marginal_var([a, b]) - v_main[a] - v_main[b]
        df_ab = (codes[a].nunique() - 1) * (codes[b].nunique() - 1)
        test = _f_test(per_config * n_configs * max(v_ab, 0.0), df_ab, pe, scale, alpha)
        pairs.append({"param_a": a, "param_b": b,
                      "share": v_ab / v_total if v_total > 0 else 0.0, "p_value": test["p"],
                      "df": df_ab})
    top = pd.DataFrame(pairs, columns=["param_a", "param_b", "share", "p_value", "df"])
    top["noise_floor"], top["above_floor"] = np.nan, pd.array([pd.NA] * len(top), "boolean")
    tested = top["p_value"].notna()
    if tested.any():  # Holm over the pairs tested, the floor at each pair's Holm step
        top.loc[tested, "p_holm"] = holm(top.loc[tested, "p_value"].to_numpy(float))
        top.loc[tested, "noise_floor"] = _holm_floor(
            top.loc[tested, "p_value"], top.loc[tested, "df"], pe["df"], pe["ms"], scale, alpha)
        top.loc[tested, "above_floor"] = (top.loc[tested, "p_holm"] < alpha).to_numpy()
    top = top.drop(columns=["df", "p_holm"], errors="ignore")
    top = top.sort_values("share", ascending=False, kind="mergesort").head(max_pairs)
    if v_total == 0:
        notes.append("The configuration means are all equal: no hyperparameter has any effect.")
    notes.append(
        "share: a hyperparameter's main-effect variance over the variance of the configuration "
        "means (seed noise averaged out; exact on a complete grid); omega2: the bias-corrected "
        "share of the run-to-run variance from the ANOVA (about 0 for a parameter without "
        "effect, however many levels it has); importance = omega2. F tests are against "
        + ("the pure error (runs around their configuration's mean), since the interactions "
           "rise above noise and would otherwise hide main effects. " if pure else
           "the main-effects model's residual (interactions pooled with seed noise"
           + (", as they do not rise above it). " if pe["df"] > 0 else
              "; no configuration repeats, so there is no pure error). "))
        + f"A parameter is above the "
        f"noise floor when its Holm-adjusted ANOVA p < {alpha}; noise_floor is the share at "
        "which it would (the F test's critical value at its Holm step, as a share of the "
        "configuration means' variance; exact on a balanced grid).")
    notes.append(_interaction_note(interaction, inter, pe, n_configs, df_main, alpha))
    if n_configs < float(np.prod(codes.max().to_numpy() + 1.0)):
        notes.append("The grid is incomplete: marginal means average over the configurations "
                     "present, so the shares are approximate.")
    return ImportanceResult(table=table, method="main_effects (grid ANOVA)",
                            interaction_share=float(interaction),
                            top_interactions=top.reset_index(drop=True),
                            noise_floor=float(table["noise_floor"].max())
                            if table["noise_floor"].notna().any() else None, notes=notes,
                            share_of="configuration means", interaction_p=inter["p"],
                            interaction_noise_share=inter["noise_share"],
                            interaction_share_corrected=inter["corrected"],
                            interaction_above_noise=inter["above"])


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, as ``statsmodels.stats.multitest.multipletests(p, method="holm")``
    (which runs ``gc.collect()`` on every call: ~0.1-0.6 s in a large process)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="mergesort")
    steps = (len(p) - np.arange(len(p))) * p[order]
    out = np.empty_like(p)
    out[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return out


def _holm_floor(p_values: pd.Series, df: pd.Series, df_error: float, ms_error: float,
                scale: float, alpha: float) -> np.ndarray:
    """The share each effect needs for its F test to pass its Holm step (alpha / (k - i) for
    the i-th smallest p): F_crit x df x MS_error is the SS it needs on the runs, over
    ``scale`` (the SS of a unit share) a share of the configuration means' variance."""
    if scale <= 0:
        return np.zeros(len(p_values))
    step = p_values.rank(method="first").to_numpy() - 1
    level = alpha / (len(p_values) - step)
    d = df.to_numpy(dtype=float)
    return stats.f.isf(level, d, df_error) * d * ms_error / scale


def _pure_error(y: np.ndarray, codes: pd.DataFrame, params: list[str]) -> dict:
    """Sum of squares, df and mean square of the runs around their configuration's mean."""
    dev = y - pd.Series(y).groupby([codes[p].to_numpy() for p in params]).transform("mean")
    ss, df = float((dev.to_numpy() ** 2).sum()), len(y) - len(codes.drop_duplicates())
    return {"ss": ss, "df": df, "ms": ss / df if df > 0 else float("nan")}


def _f_test(ss: float, df: int, pe: dict, scale: float, alpha: float) -> dict:
    """F test of a between-configuration sum of squares ``ss`` on ``df`` against the pure error;
    ``noise_share``: the share (of ``scale``) that noise alone puts there on average."""
    out = {"df": df, "f": float("nan"), "p": None, "noise_share": None,
           "corrected": None, "above": None}
    if df <= 0 or pe["df"] <= 0 or not np.isfinite(pe["ms"]):
        return out
    share = ss / scale if scale > 0 else 0.0
    if pe["ss"] <= 1e-12 * (scale + pe["ss"]):  # no seed noise: any leftover is real
        f, p = (float("inf"), 0.0) if share > 1e-9 else (float("nan"), 1.0)
    else:
        f = ss / df / pe["ms"]
        p = float(stats.f.sf(f, df, pe["df"]))
    noise = df * pe["ms"] / scale if scale > 0 else 0.0
    out.update(f=f, p=p, noise_share=float(noise), corrected=float(max(share - noise, 0.0)),
               above=bool(p < alpha))
    return out


def _interaction_note(share: float, t: dict, pe: dict, n_configs: int, df_main: int,
                      alpha: float) -> str:
    if t["p"] is None:
        why = ("no configuration was run more than once" if pe["df"] <= 0 else
               "the main effects use every degree of freedom")
        return (f"Interactions: main effects leave {share:.1%} of the configuration means' "
                f"variance unexplained; it cannot be tested against seed noise ({why}).")
    return (
        f"Interactions: main effects leave {share:.1%} of the configuration means' variance; "
        f"F test of that leftover (SS = runs per configuration x {n_configs} configurations x "
        f"its variance, df = {n_configs} - 1 - {df_main} = {t['df']}) against the runs' spread "
        f"around their configuration means (pure error, df = {pe['df']}): F = {t['f']:.3g}, "
        f"p = {t['p']:.3g}. Seed noise alone would leave about {t['noise_share']:.1%} there; "
        f"beyond it: {t['corrected']:.1%} ("
        + ("above noise" if t["above"] else "consistent with seed noise") + f" at {alpha}). "
        "Pairs: the same F test on df (levels_a - 1)(levels_b - 1), Holm-adjusted over the "
        "pairs; above_floor when p_holm < alpha; noise_floor is the share at which a pair "
        "would be.")


# --------------------------------------------------------------------------- surrogate path
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


def _forest(n_estimators: int, seed: int, n_jobs: int | None, *,
            leaf_weight: float | None = None) -> ExtraTreesRegressor:
    # leaves of >= 3 runs: smoother marginal curves and faster trees; all features per split
    # (the ExtraTrees default) keeps the curves from being flattened by splits on noise params.
    # Grown on configuration means (``leaf_weight``: total runs), a leaf holds >= 3 runs' weight.
    if leaf_weight is None:
        return ExtraTreesRegressor(n_estimators=n_estimators, min_samples_leaf=3,
                                   max_features=1.0, random_state=seed, n_jobs=n_jobs)
    return ExtraTreesRegressor(n_estimators=n_estimators, min_samples_leaf=1,
                               min_weight_fraction_leaf=min(3.0 / leaf_weight, 0.5),
                               max_features=1.0, random_state=seed, n_jobs=n_jobs)


def _marginals(model, bg: np.ndarray, groups: dict[str, list[int]],
               grids: dict[str, tuple[np.ndarray, np.ndarray]], *,
               plans: dict[str, dict] | None = None, bg_rows: np.ndarray | None = None,
               X: np.ndarray | None = None, seed: int = 0,
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
    rng = np.random.RandomState(seed)
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


def _main_shares(X, y, halves, groups, grids, *, n_estimators, n_background, seed, n_jobs,
                 with_models=False, cfg=None, plans=None, curves_out=None):
    """Cross-fitted main-effect variances (absolute) for every parameter.

    With ``cfg`` (configuration ids), the forests are grown on configuration means weighted by
    their runs instead of on the runs (when runs repeat configurations: a tree cannot split
    the runs of one configuration, so it is the same forest in distribution, grown faster).
    """
    rng = np.random.RandomState(seed)
    models, curves, bgs = [], [], []
    for h in (0, 1):
        train, other = np.flatnonzero(halves == h), np.flatnonzero(halves != h)
        if cfg is None:
            model = _forest(n_estimators, seed + h, n_jobs).fit(X[train], y[train])
        else:
            Xm, ym, w = config_means(X[train], y[train], cfg[train])
            model = _forest(n_estimators, seed + h, n_jobs,
                            leaf_weight=float(w.sum())).fit(Xm, ym, sample_weight=w)
        bg_rows = rng.choice(other, min(n_background, len(other)), replace=False)
        bg = X[bg_rows]
        curves.append(_marginals(model, bg, groups, grids, plans=plans,
                                 bg_rows=bg_rows, X=X, seed=seed + 7 + h))
        models.append(model)
        bgs.append(bg)
    if curves_out is not None:
        curves_out.extend(curves)
    scale = {p: (plans or {}).get(p, {}).get("scale", 1.0) for p in groups}
    v = {p: scale[p] * _cross_cov(curves[0][p], curves[1][p], grids[p][1])
         for p in groups}
    return (v, models, bgs) if with_models else v


def surrogate_main_effects(prep: Prepared, *, random_state: int = 0, alpha: float = 0.05,
                           n_values: int = 20, n_background: int = 256, n_estimators: int = 32,
                           n_null: int = 5, n_pair_values: int = 8, n_pair_params: int = 5,
                           n_jobs: int | None = None, max_rows: int = 20_000,
                           notes: list[str] | None = None) -> ImportanceResult:
    """Cross-fitted fANOVA-style main effects of a forest surrogate, with a permutation null."""
    notes = list(notes or [])
    approx: list[SurrogateApprox] = []
    big = len(prep.runs) > max_rows
    if big:
        prep = _subsample_configs(prep, max_rows, random_state)
        approx.append(SurrogateApprox.SUBSAMPLED_RUNS)
        notes.append(f"The surrogate uses a random {len(prep.runs)} runs (whole configurations) "
                     f"of the sweep, to stay fast.")
    groups = param_columns(prep)
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    params = list(groups)
    var_y = float(y.var())
    cfg = config_ids(prep)
    rng = np.random.RandomState(random_state)
    n_cfg = cfg.max() + 1
    halves = (rng.permutation(n_cfg) % 2)[cfg]
    grids = {p: value_grid(X[:, idx], n_values) for p, idx in groups.items()}
    plans = conditional_plans(prep, groups, X, grids)
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
    kw = dict(n_estimators=n_estimators, n_background=n_background, n_jobs=n_jobs)
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
    v, models, bgs = _main_shares(X, y, halves, groups, grids, seed=random_state,
                                  with_models=True, plans=plans, curves_out=real_curves, **kw)
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
        Xn, sgroups, splans = _shadows(X, cfg, groups, grids, plans, random_state + 1000 + r)
        # half the trees: the null curves come out a little noisier, so the floor errs high
        vn = _main_shares(Xn, y, halves, sgroups, grids, seed=random_state + 1000 + r,
                          plans=splans, curves_out=null_curves.append([]) or null_curves[-1],
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
        f"configurations; marginal curves over up to {n_values} values per parameter and "
        f"{n_background} background runs; share = covariance of the two halves' curves / "
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
             seed: int) -> tuple[np.ndarray, dict[str, list[int]], dict[str, dict]]:
    """``X`` with a shadow of every parameter appended: its block shuffled across configurations.

    A shadow has the parameter's distribution but, by construction, no effect; the real
    parameters stay, so the forest still learns them and the shadow sees only the noise left.
    A parent's shadow carries its children's columns along (shuffled together); a child's
    shadow is shuffled among the configurations where it is active. Returns the widened
    matrix, the shadows' columns and their plans.
    """
    rng = np.random.RandomState(seed)
    n_cfg = cfg.max() + 1
    first = pd.Series(np.arange(len(cfg))).groupby(cfg).first().to_numpy()
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


def _subsample_configs(prep: Prepared, max_rows: int, seed: int) -> Prepared:
    """``prep`` reduced to a random set of whole configurations holding about ``max_rows`` runs."""
    import dataclasses

    cfg = config_ids(prep)
    n_cfg = cfg.max() + 1
    keep_cfg = np.random.RandomState(seed).permutation(n_cfg)[: int(n_cfg * max_rows / len(cfg))]
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

