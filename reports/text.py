"""Plain-language findings and caveats computed from an :class:`~analysis.Analysis`.

Pure functions returning Markdown strings; run-derived names are escaped with
:func:`reports.render.esc`. Thresholds are module constants so that tests and pages agree.
"""
from __future__ import annotations

import math

import numpy as np

from sweepsight.analysis.configs import replicated_best

#: The forest's cross-validated R² below which it is no evidence at all / only rough.
CV_R2_LOW = 0.1
CV_R2_ROUGH = 0.5
#: Interaction share above which interactions, not main effects, explain the configurations.
INTERACTIONS_DOMINATE = 0.5


def percent(share: float) -> str:
    """``47%``, or two significant digits below 1% (``0.39%``) so a real small share does not
    read as nothing."""
    pct = 100 * share
    return f"{pct:.0f}%" if abs(pct) >= 1 or pct == 0 else f"{pct:.2g}%"


def _esc(text) -> str:
    from sweepsight.reports.render import esc

    return esc(text)


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines if line)


def _alpha(analysis) -> float:
    return float(analysis.options.get("alpha", 0.05))


def _test(analysis) -> str:
    return str(analysis.options.get("test", "ks"))


#: How the report names the test behind the significance verdicts (``--test``).
TEST_NAMES = {"ks": "KS test", "welch": "Welch's t-test", "mannwhitney": "Mann-Whitney U test"}


def _count(n: int, noun: str) -> str:
    """``1 neighbour``, ``7 neighbours``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _above_floor(analysis) -> list[str]:
    t = analysis.importance.table
    return [str(p) for p, a in zip(t["param"], t["above_floor"].fillna(False)) if bool(a)]


def importance_verdict(analysis) -> str:
    """One of ``"noise"``, ``"interactions"``, ``"main_effects"``: what explains the metric.

    Interactions dominate when they rise above seed noise and make up more than
    :data:`INTERACTIONS_DOMINATE` of what is explained: on a grid (shares of the configuration
    means), when the leftover's F test against the within-configuration error passes and its
    noise-corrected share exceeds it (or no main effect rises above its floor); on the
    surrogate path (shares of the runs' variance, no noise test for the leftover), when the
    interactions exceed that part of what the surrogate explains out of sample and the
    configurations really differ."""
    imp = analysis.importance
    above = _above_floor(analysis)
    if _share_of(imp) == "configuration means":
        # the only thing above noise, or more than half of the variance even net of noise
        if _interactions_above_noise(imp) and (not above or (
                imp.interaction_share_corrected or 0.0) > INTERACTIONS_DOMINATE):
            return "interactions"
        return "main_effects" if above else "noise"
    cv = analysis.forest.cv_r2
    sig = analysis.significance
    # configurations really differ when the forest predicts held-out runs or some neighbours
    # differ significantly (the forest's grouped CV cannot extrapolate on a small grid)
    differ = bool(sig.applicable and sig.pairs["verdict"].isin(["better", "worse"]).any())
    predictive = differ or (cv is not None and not math.isnan(cv) and cv >= CV_R2_LOW)
    share = imp.interaction_share
    explained = getattr(imp, "explained_share", None)
    if share is not None and explained is not None and explained > 0 and predictive and \
            share > INTERACTIONS_DOMINATE * explained:
        return "interactions"
    if not above:
        return "noise"
    return "main_effects"


def _share_of(imp) -> str | None:
    """The denominator of the importance shares (None for evaluators without shares)."""
    return getattr(imp, "share_of", None)


def _interactions_above_noise(imp) -> bool:
    return bool(getattr(imp, "interaction_above_noise", None))


def _p(p: float) -> str:
    """``p = 0.034``; a p-value that underflowed to 0 reads ``p < 1e-300``."""
    return "p < 1e-300" if p == 0 else f"p = {p:.2g}"


def _variance_words(imp) -> str:
    return {"configuration means": "of the variance between configurations",
            "runs": "of the run-to-run variance"}.get(_share_of(imp), "of the variance")


def _pairs_above_noise(imp, k: int = 3) -> str:
    t = imp.top_interactions
    if "above_floor" not in t:
        return ""
    t = t[t["above_floor"].fillna(False).astype(bool)].head(k)
    return ", ".join(f"{_esc(a)} × {_esc(b)} ({percent(s)}, {_p(p)})"
                     for a, b, s, p in zip(t["param_a"], t["param_b"], t["share"], t["p_value"]))


def _interaction_sentence(imp, verdict: str) -> str:
    """What the variance left by main effects is, in the words of the shares' denominator."""
    share = imp.interaction_share
    if share is None:
        return ""
    if _share_of(imp) == "runs":
        explained = getattr(imp, "explained_share", None)
        mains = float(imp.table["share"].sum()) if "share" in imp.table else float("nan")
        text = (f"These shares are of the run-to-run variance (seed noise included), not of "
                f"the variance between configurations: main effects together explain "
                f"{percent(mains)} of it")
        if explained is not None:
            text += (f", the surrogate {percent(explained)} out of sample, so interactions add "
                     f"about {percent(share)}; the remaining {percent(max(1 - explained, 0.0))} "
                     "is seed noise and what the surrogate misses")
        if verdict == "interactions":
            return ("**Interactions dominate**: " + text + "; a hyperparameter's best value "
                    "depends on the others (pairwise interactions have no noise floor on this "
                    "path).")
        return text + "."
    between = "of the variance between configurations"
    p = getattr(imp, "interaction_p", None)
    if p is None:
        return (f"Main effects leave {percent(max(share, 0.0))} {between} unexplained; with no "
                "repeated runs to measure seed noise, interactions cannot be told from it.")
    noise = imp.interaction_noise_share
    corrected = imp.interaction_share_corrected
    pairs = _pairs_above_noise(imp)
    if verdict == "interactions":
        return (f"**Interactions dominate**: main effects together explain only "
                f"{percent(1 - share)} {between}; the rest is more than seed noise would leave "
                f"(interactions beyond noise: {percent(corrected)}, F test {_p(p)}), so a "
                "hyperparameter's best value depends on the others"
                + (f". Strongest pairs above noise: {pairs}." if pairs else "."))
    if _interactions_above_noise(imp):
        return (f"Main effects leave {percent(max(share, 0.0))} {between} unexplained, more than "
                f"seed noise alone would (about {percent(noise)}; F test {_p(p)}): "
                f"interactions beyond noise account for about {percent(corrected)}"
                + (f"; pairs above noise: {pairs}." if pairs else
                   ", but no single pair of hyperparameters rises above noise (weak evidence: "
                   "spread over many pairs, higher-order, or chance)."))
    return (f"The {percent(max(share, 0.0))} {between} that main effects leave is consistent "
            f"with seed noise (F test {_p(p)}; noise alone would leave about "
            f"{percent(noise)}): no interaction is claimed.")


def importance_summary(analysis) -> str:
    """Sentences for the importance page: what rises above the noise floor, what the variance
    left by main effects is (interactions only when they rise above noise; the right
    denominator for each path), and how far to trust the forest."""
    imp = analysis.importance
    verdict = importance_verdict(analysis)
    lines = []
    floor = imp.noise_floor
    floor_text = f" (noise floor {floor:.2g})" if floor is not None else ""
    if verdict == "noise":
        lines.append(f"**Nothing rises above the noise floor**{floor_text}: the differences "
                     "between configurations are what seed noise alone would produce, so no "
                     "ranking of hyperparameters is shown as meaningful.")
    else:
        t = imp.table
        above = [(p, s) for p, s, a in zip(t["param"], t.get("share", t["importance"]),
                                          t["above_floor"].fillna(False)) if bool(a)]
        if above:
            lines.append(f"Above the noise floor{floor_text}, as shares "
                         f"{_variance_words(imp)}: " + ", ".join(
                             f"**{_esc(p)}** ({percent(s)})" for p, s in above) + ".")
    if verdict != "noise":
        lines.append(_interaction_sentence(imp, verdict))
    lines.append(forest_trust(analysis))
    return _bullets(lines)


def forest_trust(analysis) -> str:
    """How far the forest importances can be trusted, from its cross-validated R²."""
    cv = analysis.forest.cv_r2
    if cv is None or math.isnan(cv):
        return "The forest could not be cross-validated (too few runs), so its importances are unchecked."
    if cv < CV_R2_LOW:
        return (f"**Warning:** the forest predicts held-out runs poorly (cv R² = {cv:.2f}); its "
                "impurity and permutation importances are no evidence on their own (the main "
                "effects have their own noise test).")
    if cv < CV_R2_ROUGH:
        return (f"The forest predicts held-out runs only roughly (cv R² = {cv:.2f}); read its "
                "importances as rough.")
    return f"The forest predicts held-out runs well (cv R² = {cv:.2f})."


def linear_summary(analysis) -> str:
    """R², adjusted R², condition number, significant terms, and the model's warnings."""
    lin = analysis.linear
    alpha = _alpha(analysis)
    t = lin.table[lin.table["term"].astype(str).str.lower() != "intercept"]
    sig = t[t["p_value"] < alpha].sort_values("p_value")
    lines = [f"R² = {lin.r2:.3f}, adjusted R² = {lin.r2_adj:.3f} over {lin.n} runs; "
             f"condition number {lin.condition_number:.3g}."]
    if len(sig):
        lines.append(f"Terms with p < {alpha:g}: " + ", ".join(
            f"{_esc(term)} ({'+' if c > 0 else '−'}{abs(c):.3g})"
            for term, c in zip(sig["term"], sig["coef"])) + ".")
    else:
        lines.append(f"No term has p < {alpha:g}.")
    high = t[t["vif"].astype(float) > 10]
    if len(high):
        lines.append("**Collinearity:** VIF above 10 for " + ", ".join(
            f"{_esc(x)} ({v:.1f})" for x, v in zip(high["term"], high["vif"])) +
            "; their separate coefficients are unreliable.")
    if lin.r2 < 0.1:
        lines.append("**Warning:** a straight line explains little of the metric; effects may be "
                     "non-linear or interacting (see the importance page).")
    lines += [_esc(w) for w in lin.warnings]
    return _bullets(lines)


def significance_summary(analysis) -> str:
    """Applicability, approximation, the default target's neighbourhood, the power caveat and
    the multiple-testing control, in plain words."""
    sig, alpha = analysis.significance, _alpha(analysis)
    if not sig.applicable:
        return f"**Significance was not tested.** {_esc(sig.reason)}"
    lines = []
    if sig.approximate:
        bins = "; ".join(f"{_esc(p)}: " + ", ".join(f"{e:.3g}" for e in edges)
                         for p, edges in sig.bins.items())
        lines.append("**Approximate:** exact neighbours were too rare, so continuous "
                     f"hyperparameters were binned (bin edges — {bins}); runs in one bin count "
                     "as repeats of one configuration.")
    best = sig.configs.sort_values("rank").iloc[0]
    nb = sig.pairs[sig.pairs["config_id"] == best["config_id"]]
    counts = nb["verdict"].value_counts()
    raw = best["mean_raw"] if "mean_raw" in best else best["mean"]
    scale = analysis.prep.metric_scale
    mean = f"mean {raw:.4g}" + ("" if scale == "raw" else f", {best['mean']:.4g} on the {scale} scale")
    what = "The best cell of the coarsened grid" if sig.approximate else "The best configuration"
    lines.append(f"{what} ({_esc(best['label'])}, {mean} over "
                 f"{_count(int(best['n']), 'run')}) has {_count(len(nb), 'neighbour')}: "
                 f"{counts.get('worse', 0)} significantly worse, "
                 f"{counts.get('better', 0)} significantly better, "
                 f"{counts.get('not significant', 0)} not significant, "
                 f"{counts.get('cannot tell', 0)} cannot tell (no outcome could be significant), "
                 f"{counts.get('not testable', 0)} not testable.")
    lines.append(power_caveat(analysis))
    lines.append(f"Multiple testing: within each configuration's neighbourhood the p-values are "
                 f"Holm-adjusted, so the chance of calling any neighbour different by luck is "
                 f"at most {alpha:g}; p (BH) controls the false-discovery rate across all pairs.")
    return _bullets(lines)


def power_caveat(analysis) -> str:
    """What "not significant" means given the fewest seeds (the smallest attainable p)."""
    sig, alpha = analysis.significance, _alpha(analysis)
    minp = sig.pairs["min_attainable_p"].astype(float)
    if len(minp) == 0 or minp.isna().all():
        return ""
    worst = float(np.nanmax(minp))
    n = sig.configs["n"]
    tested = sig.pairs[sig.pairs["verdict"] != "not testable"]
    cannot = tested["power_note"] != ""
    if cannot.any():
        return (f"**Power:** {percent(cannot.mean())} of the comparisons cannot reach "
                f"significance whatever the data (too few seeds, or Holm over many neighbours; "
                f"e.g. {_esc(tested.loc[cannot, 'power_note'].iat[0])}): their verdict is \"cannot "
                "tell\", not \"not significant\". More seeds per "
                "configuration" + (", or --test welch," if _test(analysis) != "welch" else "")
                + " would settle them.")
    if worst == 0:  # a test without a floor (Welch's t): power depends on the spread alone
        return (f"Power: the chosen test has no smallest attainable p, but with {int(n.min())} "
                "runs per configuration only large, consistent differences reach significance; "
                "a \"not significant\" verdict can still hide a small difference.")
    return (f"Power: every comparison can reach p < {alpha:g} (smallest attainable p at most "
            f"{worst:.2g}); a \"not significant\" verdict can still hide a small difference.")


def _config_text(row, target: str) -> str:
    """``**label** with <target> mean ± std over n run(s)``, as logged."""
    mean = row["mean_raw"] if "mean_raw" in row else row["mean"]
    std = row["std_raw"] if "std_raw" in row else row["std"]
    spread = "" if math.isnan(std) else f" ± {std:.2g}"
    return (f"**{_esc(row['label'])}** with {_esc(target)} {mean:.4g}{spread} over "
            f"{int(row['n'])} run(s)")


def _feature_subject(prep, feature: str) -> str:
    """How a correlation's encoded column reads as the subject of "goes with higher y"."""
    param = prep.feature_param.get(feature, feature)
    if feature.endswith("__missing"):
        return f"runs without {_esc(param)} go with"
    if param in prep.categorical and feature != param:
        return f"{_esc(feature)} (against its other levels) goes with"
    return f"higher {_esc(feature)} goes with"


def findings(analysis) -> str:
    """The main findings for the overview page, in plain words."""
    prep, sig = analysis.prep, analysis.significance
    lines = []
    configs = sig.run_configs.sort_values("rank", kind="stable")
    if len(configs):
        best = configs.iloc[0]
        ranked = "" if prep.metric_scale == "raw" else f", ranked on the {prep.metric_scale} scale"
        lines.append(f"Best configuration: {_config_text(best, prep.target)}{ranked}.")
        steady = replicated_best(configs)
        if steady is not None:
            row, need = steady
            lines.append(f"That is fewer runs than most configurations have, and a mean over few "
                         f"runs tops a ranking by luck more often: the best with at least {need} "
                         f"runs (the median) is {_config_text(row, prep.target)}.")
    verdict = importance_verdict(analysis)
    if verdict == "noise":
        lines.append("No hyperparameter rises above the noise floor: the configurations differ "
                     "no more than seed noise would make them.")
    else:
        t = analysis.importance.table
        top = [(p, s) for p, s, a in zip(t["param"], t.get("share", t["importance"]),
                                        t["above_floor"].fillna(False)) if bool(a)][:3]
        if top:
            lines.append(f"Largest main effects above the noise floor (share "
                         f"{_variance_words(analysis.importance)}): " + ", ".join(
                             f"**{_esc(p)}** ({percent(s)})" for p, s in top) + ".")
        if verdict == "interactions":
            lines.append("Interactions dominate: main effects explain less than half of the "
                         "differences between configurations (see the importance page).")
    corr = analysis.correlation
    if corr is not None and len(corr):
        c = corr.loc[corr["spearman_r"].abs().idxmax()]
        if c["spearman_p"] < _alpha(analysis):
            word = "higher" if c["spearman_r"] > 0 else "lower"
            lines.append(f"Strongest monotone link: {_feature_subject(prep, c['feature'])} "
                         f"{word} {_esc(prep.target)} (Spearman r = {c['spearman_r']:+.2f}).")
    if sig.applicable:
        top = sig.configs.sort_values("rank").iloc[0]
        nb = sig.pairs[sig.pairs["config_id"] == top["config_id"]]
        whose = ("the best configuration" if not sig.approximate else
                 f"the best cell of the significance page's coarsened grid "
                 f"({_esc(top['label'])})")
        worse = int((nb["verdict"] == "worse").sum())
        tested = nb[nb["verdict"] != "not testable"]
        hopeless = len(tested) > 0 and bool((tested["power_note"] != "").all())
        test = TEST_NAMES.get(_test(analysis), _test(analysis))
        if len(nb) == 0:
            lines.append(f"{whose[0].upper() + whose[1:]} has no neighbours (nothing differs from "
                         "it in one hyperparameter by one step), so nothing was tested around it.")
        elif worse == len(nb):
            lines.append(f"All {_count(len(nb), 'neighbour')} of {whose} are significantly worse.")
        else:
            lines.append(f"Of the {_count(len(nb), 'neighbour')} of {whose}, {worse} "
                         f"{'is' if worse == 1 else 'are'} significantly worse by the {test} "
                         "(Holm-adjusted); that the others are not does not make them as good"
                         + (f": with this test none could be ({_esc(tested['power_note'].iat[0])})."
                            if hopeless else " (see their intervals on the significance page)."))
    else:
        lines.append(f"Significance was not tested: {_esc(sig.reason)}")
    lines.append(forest_trust(analysis))
    return _bullets(lines)


def notes(analysis, *, which: str = "prep") -> str:
    """The notes of ``which`` (``prep``, ``significance``, ``importance``, ``forest``,
    ``linear``) as a bullet list."""
    obj = analysis.prep if which == "prep" else getattr(analysis, which)
    items = list(getattr(obj, "notes", []))
    if which == "prep":  # what the adapter did comes first: where the runs came from
        items = source_notes(analysis.table.meta) + items
    return _bullets([_esc(n) for n in items])


def source_notes(meta) -> list[str]:
    """Where the runs came from (query, fetch time, metric aggregation) and the adapter's notes."""
    query = ", ".join(f"{k}={v}" for k, v in sorted(meta.query.items()) if v not in (None, "", []))
    agg = {"last": "the last logged value", "min": "the minimum over the run's history",
           "max": "the maximum over the run's history"}.get(meta.metric_agg, meta.metric_agg)
    return [f"Runs loaded from {meta.source} ({query or 'no query'}) at {meta.fetched_at}; each "
            f"metric is {agg} (--metric-agg {meta.metric_agg})."] + list(meta.notes)


def rerun_plan_text(analysis) -> str:
    """The significance rerun plan (:class:`~analysis.significance.RerunPlan`) as one Markdown
    sentence ("" without a plan). Run-derived text is escaped."""
    sig = analysis.significance
    plan = getattr(sig, "rerun_plan", None) if sig is not None else None
    if plan is None:
        return ""
    mine = sig.pairs[sig.pairs["config_id"] == plan.config_id].drop_duplicates("neighbour_id")
    change = dict(zip(mine["neighbour_id"], mine["param"].astype(str) + "="
                      + mine["to_value"].astype(str)))
    rivals = ", ".join(_esc(change.get(r, r)) for r in plan.rivals)
    k = len(plan.rivals)
    who = f"its closest rival ({rivals})" if k == 1 else f"its {k} closest rivals ({rivals})"
    test = TEST_NAMES.get(analysis.options.get("test", "ks"), "the test")
    if plan.capped:
        return (f"**To settle the best configuration against {who}** each would need more than "
                f"{plan.seeds:,} seeds: the observed differences are too small to settle by "
                "rerunning.")
    why = ("a t-test would have 80% power to detect the observed differences"
           if plan.limited_by == "power" else
           f"the {test}, Holm-adjusted over its neighbours, could reach α = {_alpha(analysis):g}")
    return (f"**To settle the best configuration against {who}**, rerun these "
            f"{len(plan.configs)} configurations with {plan.seeds:,} seeds each "
            f"({plan.runs:,} runs, {plan.new_runs:,} more than now): with that many {why}.")
