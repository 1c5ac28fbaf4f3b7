"""Main effects on a grid: an exact variance decomposition of the configuration means and a
factorial ANOVA, with F tests against the pure error.

Used when the configurations cover >= 80% of the product of the levels and runs repeat
configurations, or the grid is complete). Exact variance decomposition of the configuration
means (each configuration weighs the same), plus a main-effects factorial ANOVA on the runs
(type II, as statsmodels' ``anova_lm(typ=2)``, computed on the configurations) for F tests
and the bias-corrected share ω² = (SS_effect − df·MS_error) / (SS_total + MS_error), clipped
at 0. MS_error is the main-effects residual (interactions pooled with seed noise) unless the
interactions rise above the pure within-configuration error (their own F test): then the pure
error, so that a strong interaction cannot hide a real main effect.
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
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import linalg, stats
from threadpoolctl import threadpool_limits

from sweepsight.analysis import grouping
from sweepsight.analysis.importance._base import ImportanceResult
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import ALPHA


def grid_main_effects(prep: Prepared, codes: pd.DataFrame, *, alpha: float = ALPHA,
                      notes: list[str] | None = None, max_pairs: int = 10) -> ImportanceResult:
    """Exact decomposition of configuration means plus a main-effects factorial ANOVA (F tests
    against the pure error when configurations repeat)."""
    params = list(prep.params)
    notes = list(notes or [])
    y = prep.y.to_numpy(dtype=float)
    ids = grouping.group_ids([codes[p].to_numpy() for p in params], n=len(y))
    cm = codes.iloc[grouping.first_rows(ids)].reset_index(drop=True)
    cm["m"] = pd.Series(y).groupby(ids).mean().to_numpy()
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
    pe = _pure_error(y, ids)
    scale = per_config * n_configs * v_total  # SS on the runs of a unit share (balanced: exact)
    df_main = int(sum(codes[p].nunique() - 1 for p in params))
    interaction = 1.0 - sum(share.values()) if v_total > 0 else 0.0
    inter = _f_test(max(interaction, 0.0) * scale, n_configs - 1 - df_main, pe, scale, alpha)

    # factorial ANOVA on the runs: main-effect sums of squares (type II) of the main-effects
    # model. Its residual pools the interactions with the seed noise, which is right while they
    # are noise; when they are not (the F test above), it would let a strong interaction hide
    # a real main effect, so the main effects are tested against the pure error instead.
    active = [p for p in params if codes[p].nunique() > 1]
    aov, (ss_resid, df_resid) = main_effects_anova(cm[active], cm["m"].to_numpy(),
                                                   np.bincount(ids), pe["ss"])
    pure = bool(inter["above"]) and pe["df"] > 0
    if pure:
        ms_error, df_error = pe["ms"], float(pe["df"])
    else:
        df_error, ms_error = df_resid, ss_resid / df_resid
    ss_total = float(((y - y.mean()) ** 2).sum())
    rows = []
    for p in params:
        if p in aov:
            ss, df = aov[p]
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


def main_effects_anova(levels: pd.DataFrame, means: np.ndarray, counts: np.ndarray,
                       within: float) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    """Type II sums of squares of the main-effects model ``y ~ C(a) + C(b) + ...`` fitted to the
    runs, as statsmodels' ``anova_lm(ols(...).fit(), typ=2)`` gives them: ``({factor: (sum_sq,
    df)}, (residual sum_sq, residual df))``, computed on the configurations.

    ``levels``: one row per configuration, a column of level codes per factor; ``means`` and
    ``counts``: each configuration's mean and number of runs; ``within``: the runs' sum of
    squares around their configuration means. Every run of a configuration has the same design
    row, so the runs' residual sum of squares of any such model is the configurations'
    (weighted by their runs) plus ``within``: the least squares run on 62,208 rows instead of
    248,832 at the benchmark grid, and without patsy checking every cell (5 s there). A term's
    type II sum of squares is the rise in residual sum of squares when it alone is dropped.
    """
    weight = np.sqrt(counts.astype(float))
    target = (means - np.average(means, weights=counts)) * weight  # centred: no cancellation
    blocks = {}
    for p in levels.columns:
        codes = grouping.level_codes(levels[p].to_numpy(), sort=True)
        dummies = np.zeros((len(codes), int(codes.max())))
        rows = np.flatnonzero(codes > 0)
        dummies[rows, codes[rows] - 1] = 1.0  # treatment coding, the first level dropped
        blocks[p] = dummies * weight[:, None]

    def residual(terms: list[str]) -> tuple[float, int]:
        design = np.column_stack([weight, *(blocks[t] for t in terms)])
        coef, _, rank, _ = linalg.lstsq(design, target, check_finite=False)
        resid = target - design @ coef
        return float(resid @ resid), int(rank)

    terms = list(levels.columns)
    # tall and thin: one BLAS thread does it in a tenth of the time threads fighting take
    with threadpool_limits(1):
        full, rank = residual(terms)
        effects = {t: (max(residual([u for u in terms if u != t])[0] - full, 0.0),
                       float(blocks[t].shape[1])) for t in terms}
    return effects, (full + within, float(int(counts.sum()) - rank))


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


def _pure_error(y: np.ndarray, ids: np.ndarray) -> dict:
    """Sum of squares, df and mean square of the runs around their configuration's mean
    (``ids``: each run's configuration)."""
    dev = y - pd.Series(y).groupby(ids).transform("mean")
    ss, df = float((dev.to_numpy() ** 2).sum()), len(y) - (int(ids.max()) + 1)
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
