"""Plain-language findings and caveats computed from an :class:`~analysis.Analysis`.

Pure functions returning Markdown strings; run-derived names are escaped with
:func:`reports.render.esc`. Thresholds are module constants so that tests and pages agree.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
from typing import TYPE_CHECKING

import numpy as np

from sweepsight.analysis import findings as F
from sweepsight.analysis.best import cannot_reach
from sweepsight.analysis.constants import (CV_R2_LOW, CV_R2_ROUGH, INTERACTIONS_DOMINATE,
                                           LINEAR_R2_LOW, NOT_TESTABLE, TEST_NAMES, VIF_HIGH)
from sweepsight.analysis.levels import ParamLevels, Shape
from sweepsight.analysis.shrinkage import MAX_SEEDS
from sweepsight.reports.format import number, ordinal, percent, plural

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis

__all__ = ["CV_R2_LOW", "CV_R2_ROUGH", "INTERACTIONS_DOMINATE", "TEST_NAMES", "finding_sentence",
           "findings", "findings_lines", "importance_summary", "importance_verdict", "percent",
           "plural"]


def relative(path: str) -> str:
    """A path as the user would type it from the working folder (never absolute there)."""
    try:
        return os.path.relpath(path) if os.path.isabs(path) else path
    except ValueError:  # another drive on Windows
        return os.path.basename(path)


#: ``(word, whole)`` while :func:`names_cut` is in force: run-derived text is shortened by
#: :func:`reports.safe_text.cut_long` (summary.md; the pages keep names whole).
_CUT: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("cut", default=None)


@contextlib.contextmanager
def names_cut(*, word: int, whole: int):
    """Within: every run-derived text these sentences quote has its words cut to ``word``
    characters and is cut to ``whole`` (for ``summary.md``, which must fit a PR comment)."""
    token = _CUT.set((word, whole))
    try:
        yield
    finally:
        _CUT.reset(token)


def _esc(text) -> str:
    """Run-derived ``text`` as inert Markdown for the pages and summary.md alike: no HTML, and
    nothing GitHub acts on (mentions, issue references, autolinks, bidi controls)."""
    from sweepsight.reports.render import esc
    from sweepsight.reports.safe_text import cut_long, for_github

    text, cut = str(text), _CUT.get()
    if cut is not None:
        text = cut_long(text, word=cut[0], whole=cut[1])
    return esc(for_github(text))


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines if line)


def _alpha(analysis: Analysis) -> float:
    return analysis.options.alpha


def _test(analysis: Analysis) -> str:
    return analysis.options.test


def importance_verdict(analysis: Analysis) -> str:
    """One of ``"noise"``, ``"interactions"``, ``"main_effects"``: what explains the metric
    (:func:`analysis.findings.verdict`)."""
    return F.verdict(analysis).value


def _p(p: float) -> str:
    """``p = 0.034``; a p-value that underflowed to 0 reads ``p < 1e-300``."""
    return "p < 1e-300" if p == 0 else f"p = {p:.2g}"


def _variance_words(share_of: str | None) -> str:
    return {"configuration means": "of the variance between configurations",
            "runs": "of the run-to-run variance"}.get(share_of or "", "of the variance")


def _pairs_text(pairs: tuple, k: int = 3) -> str:
    return ", ".join(f"{_esc(x.param_a)} × {_esc(x.param_b)} ({percent(x.share)}, {_p(x.p_value)})"
                     for x in pairs[:k])


def _interaction_sentence(fact: F.Interactions) -> str:
    """What the variance left by main effects is, in the words of the shares' denominator."""
    share = fact.share
    if fact.state is F.InteractionState.RUNS:
        mains = fact.mains if fact.mains is not None else float("nan")
        text = (f"These shares are of the run-to-run variance (seed noise included), not of "
                f"the variance between configurations: main effects together explain "
                f"{percent(mains)} of it")
        if fact.explained is not None:
            text += (f", the surrogate {percent(fact.explained)} out of sample, so interactions "
                     f"add about {percent(share)}; the remaining "
                     f"{percent(max(1 - fact.explained, 0.0))} is seed noise and what the "
                     "surrogate misses")
        if fact.dominate:
            return ("**Interactions dominate**: " + text + "; a hyperparameter's best value "
                    "depends on the others (pairwise interactions have no noise floor on this "
                    "path).")
        return text + "."
    between = "of the variance between configurations"
    if fact.state is F.InteractionState.UNTESTED or fact.p_value is None:
        return (f"Main effects leave {percent(max(share, 0.0))} {between} unexplained; with no "
                "repeated runs to measure seed noise, interactions cannot be told from it.")
    p, noise, corrected = fact.p_value, fact.noise_share or 0.0, fact.corrected or 0.0
    pairs = _pairs_text(fact.pairs)
    if fact.state is F.InteractionState.DOMINATE:
        return (f"**Interactions dominate**: main effects together explain only "
                f"{percent(1 - share)} {between}; the rest is more than seed noise would leave "
                f"(interactions beyond noise: {percent(corrected)}, F test {_p(p)}), so a "
                "hyperparameter's best value depends on the others"
                + (f". Strongest pairs above noise: {pairs}." if pairs else "."))
    if fact.state is F.InteractionState.ABOVE_NOISE:
        return (f"Main effects leave {percent(max(share, 0.0))} {between} unexplained, more than "
                f"seed noise alone would (about {percent(noise)}; F test {_p(p)}): "
                f"interactions beyond noise account for about {percent(corrected)}"
                + (f"; pairs above noise: {pairs}." if pairs else
                   ", but no single pair of hyperparameters rises above noise (weak evidence: "
                   "spread over many pairs, higher-order, or chance)."))
    return (f"The {percent(max(share, 0.0))} {between} that main effects leave is consistent "
            f"with seed noise (F test {_p(p)}; noise alone would leave about "
            f"{percent(noise)}): no interaction is claimed.")


def importance_summary(analysis: Analysis) -> str:
    """Sentences for the importance page: what rises above the noise floor, what the variance
    left by main effects is (interactions only when they rise above noise; the right
    denominator for each path), and how far to trust the forest."""
    imp = analysis.importance
    verdict = F.verdict(analysis)
    lines = []
    floor = imp.noise_floor
    floor_text = f" (noise floor {floor:.2g})" if floor is not None else ""
    if verdict is F.Verdict.NOISE:
        lines.append(f"**Nothing rises above the noise floor**{floor_text}: the differences "
                     "between configurations are what seed noise alone would produce, so no "
                     "ranking of hyperparameters is shown as meaningful.")
    else:
        above = F.main_effects(analysis)
        if above:
            lines.append(f"Above the noise floor{floor_text}, as shares "
                         f"{_variance_words(imp.share_of)}: " + ", ".join(
                             f"**{_esc(m.param)}** ({percent(m.share)})" for m in above) + ".")
        inter = F.interactions(analysis)
        if inter is not None:
            lines.append(_interaction_sentence(inter))
    lines.append(forest_trust(analysis))
    return _bullets(lines)


def disagreement_summary(analysis: Analysis) -> str:
    """The importance page's reconciliation of the forest's and the main effects' rankings."""
    found = F.disagreements(analysis)
    if not found:
        fit = F.forest_fit(analysis)
        if fit.fit in (F.Fit.UNCHECKED, F.Fit.POOR):
            return _bullets(["The forest does not predict held-out runs well enough for its "
                             "ranking to be compared with the main effects."])
        return _bullets(["The forest's impurity and permutation rankings agree with the main "
                         "effects within their noise: no hyperparameter is ranked higher by one "
                         "and lower by the other beyond it."])
    return _bullets([_disagreement(d) for d in found])


def forest_trust(analysis: Analysis) -> str:
    """How far the forest importances can be trusted, from its cross-validated R²."""
    return _forest_fit(F.forest_fit(analysis))


def _forest_fit(fact: F.ForestFit) -> str:
    cv = fact.cv_r2
    if fact.fit is F.Fit.UNCHECKED or cv is None:
        return "The forest could not be cross-validated (too few runs), so its importances are unchecked."
    if fact.fit is F.Fit.POOR:
        return (f"**Warning:** the forest predicts held-out runs poorly (cv R² = {cv:.2f}); its "
                "impurity and permutation importances are no evidence on their own (the main "
                "effects have their own noise test).")
    if fact.fit is F.Fit.ROUGH:
        return (f"The forest predicts held-out runs only roughly (cv R² = {cv:.2f}); read its "
                "importances as rough.")
    return f"The forest predicts held-out runs well (cv R² = {cv:.2f})."


def linear_summary(analysis: Analysis) -> str:
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
    high = t[t["vif"].astype(float) > VIF_HIGH]
    if len(high):
        lines.append(f"**Collinearity:** VIF above {VIF_HIGH:g} for " + ", ".join(
            f"{_esc(x)} ({v:.1f})" for x, v in zip(high["term"], high["vif"])) +
            "; their separate coefficients are unreliable.")
    if lin.r2 < LINEAR_R2_LOW:
        lines.append("**Warning:** a straight line explains little of the metric; effects may be "
                     "non-linear or interacting (see the importance page).")
    lines += [_esc(w) for w in lin.warnings]
    return _bullets(lines)


def significance_summary(analysis: Analysis) -> str:
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
    hood = F.neighbourhood(analysis)
    if hood is not None:
        best, counts = hood.center, hood.counts
        scale = analysis.prep.metric_scale
        mean = f"mean {best.mean_raw:.4g}" + (
            "" if scale == "raw" else f", {best.mean:.4g} on the {scale} scale")
        what = "The best cell of the coarsened grid" if sig.approximate else "The best configuration"
        told = (f", {counts['cannot tell']} cannot tell (no outcome could be significant)"
                if counts["cannot tell"] else "")
        if hood.n_tested == 0 and hood.n_neighbours:  # nothing ran: no "0 are worse" claim
            lines.append(_neighbours(F.Neighbours(F.NeighbourState.UNTESTABLE, hood), analysis))
        else:
            lines.append(f"{what} ({_esc(best.label)}, {mean} over {plural(best.n, 'run')}) has "
                         f"{plural(hood.n_neighbours, 'neighbour')}: "
                         f"{counts['worse']} significantly worse, "
                         f"{counts['better']} significantly better, "
                         f"{counts['not significant']} not significant{told}, "
                         f"{counts['not testable']} not testable.")
    lines.append(power_caveat(analysis))
    lines.append(f"Multiple testing: within each configuration's neighbourhood the p-values are "
                 f"Holm-adjusted, so the chance of calling any neighbour different by luck is "
                 f"at most {alpha:g}; p (BH) controls the false-discovery rate across all pairs.")
    return _bullets(lines)


def power_caveat(analysis: Analysis) -> str:
    """What "not significant" means given the fewest seeds (the smallest attainable p)."""
    sig, alpha = analysis.significance, _alpha(analysis)
    minp = sig.pairs["min_attainable_p"].astype(float)
    if len(minp) == 0 or minp.isna().all():
        return ""
    worst = float(np.nanmax(minp))
    n = sig.configs["n"]
    tested = sig.pairs[sig.pairs["verdict"] != NOT_TESTABLE]
    cannot = cannot_reach(tested, alpha=alpha, test=_test(analysis))
    if cannot.any():
        few = tested["min_attainable_p"].to_numpy(dtype=float) > alpha
        example = tested[cannot & few] if (cannot & few).any() else tested[cannot]
        row = example.iloc[0]
        why = (f"with {int(row['n_a'])} vs {int(row['n_b'])} seeds the smallest possible p is "
               f"{float(row['min_attainable_p']):.2g}" if (cannot & few).any() else
               "Holm's adjustment over a configuration's neighbours lifts the smallest possible "
               f"p above {alpha:g}")
        return (f"**Power:** {percent(float(cannot.mean()))} of the comparisons cannot reach "
                f"significance whatever the data (too few seeds, or Holm over many neighbours; "
                f"e.g. {why}): their verdict is \"cannot tell\", not \"not significant\". More "
                "seeds per configuration"
                + (", or --test welch," if _test(analysis) != "welch" else "")
                + " would settle them.")
    if worst == 0:  # a test without a floor (Welch's t): power depends on the spread alone
        return (f"Power: the chosen test has no smallest attainable p, but with {int(n.min())} "
                "runs per configuration only large, consistent differences reach significance; "
                "a \"not significant\" verdict can still hide a small difference.")
    return (f"Power: every comparison can reach p < {alpha:g} (smallest attainable p at most "
            f"{worst:.2g}); a \"not significant\" verdict can still hide a small difference.")


# --- findings: one list (analysis.findings) in words, for the overview and summary.md ---------

#: What each evidence anchor shows, as link text.
EVIDENCE_WORDS = {
    F.MAIN_EFFECTS.anchor: "main effects", F.MARGINALS.anchor: "which value is best",
    F.INTERACTION_MAP.anchor: "interactions", F.FOREST_VS_MAIN.anchor: "forest vs main effects",
    F.BEST_CONFIGS.anchor: "best configurations", F.BEST_NEIGHBOURS.anchor: "neighbours",
    F.SIGNIFICANCE.anchor: "significance",
}
PAGE_WORDS = {"index": "overview", "importance": "importance", "significance": "significance"}


def _config_text(c, target: str) -> str:
    """``**label** with <target> mean ± std over n runs``, as logged."""
    spread = "" if math.isnan(c.std_raw) else f" ± {number(c.std_raw, 2)}"
    return f"**{_esc(c.label)}** with {_esc(target)} {number(c.mean_raw)}{spread} over {plural(c.n, 'run')}"


def _level_value(pl: ParamLevels) -> str:
    """``at 0.01`` or, for a bin, ``in [0.001, 0.01)``."""
    return f"{'in' if pl.binned else 'at'} {_esc(pl.best_level.label)}"


def shape_words(pl: ParamLevels, target: str, *, maximize: bool) -> str:
    """Which value is best and how the metric moves around it (never a correlation sign)."""
    at, k = _level_value(pl), len(pl.levels)
    tgt = _esc(target)
    if pl.shape is Shape.FLAT:
        return "flat within noise: no value is shown to be better"
    if pl.shape is Shape.PEAKED:
        return f"best {at}, worse on both sides"
    if pl.shape in (Shape.INCREASING, Shape.DECREASING):
        end = "highest" if pl.best == k - 1 else "lowest"
        moves = "rises with it" if pl.shape is Shape.INCREASING else "falls as it rises"
        return f"{tgt} {moves}: best {at}, the {end} {'bin' if pl.binned else 'value'} tried"
    if pl.shape is Shape.LEVELS_OFF:
        worse, flat = ("lower", "higher") if pl.worse_below else ("higher", "lower")
        return f"best {at}; {worse} values are worse, {flat} ones are within the intervals"
    if pl.shape is Shape.UNORDERED:
        return f"best {at} (of {plural(k, 'level')})"
    return f"best mean {at}, with no clear pattern across its {plural(k, 'level')}"


def level_summary(pl: ParamLevels, metric_scale: str) -> str:
    """The best level's typical value as logged: the mean (the median when the metric was
    analysed on ranks because of a heavy tail, where a mean follows the tail)."""
    lv = pl.best_level
    return number(lv.median_raw if metric_scale == "rank" else lv.mean_raw, 3)


def _level_numbers(pl: ParamLevels, target: str, metric_scale: str) -> str:
    lv = pl.best_level
    n = f"over {plural(lv.n, 'run')}"
    if metric_scale == "rank":
        return f"median {_esc(target)} {number(lv.median_raw, 3)} there, {n}; ranked on the rank scale"
    ci = "" if math.isnan(lv.ci_low_raw) else (
        f", 95% interval [{number(lv.ci_low_raw, 3)}, {number(lv.ci_high_raw, 3)}]")
    return f"mean {_esc(target)} {number(lv.mean_raw, 3)} there{ci}, {n}"


def _main_effect(m: F.MainEffect, maximize: bool, metric_scale: str) -> str:
    lead = "matters most" if m.rank == 1 else ("comes next" if m.rank == 2 else "also matters")
    text = f"**{_esc(m.param)}** {lead} ({percent(m.share)} {_variance_words(m.share_of)})"
    if m.levels is None:
        return text + "."
    return (text + f"; {shape_words(m.levels, m.target, maximize=maximize)} "
            f"({_level_numbers(m.levels, m.target, metric_scale)}).")


def _neighbours(fact: F.Neighbours, analysis) -> str:
    hood, state = fact.hood, fact.state
    whose = ("the best configuration" if not hood.approximate else
             f"the best cell of the significance page's coarsened grid ({_esc(hood.center.label)})")
    test = TEST_NAMES.get(hood.test, hood.test)
    n = plural(hood.n_neighbours, "neighbour")
    if state is F.NeighbourState.NONE:
        return (f"{whose[0].upper() + whose[1:]} has no neighbours (nothing differs from it in one "
                "hyperparameter by one step), so nothing was tested around it.")
    if state is F.NeighbourState.UNTESTABLE:
        one = hood.n_neighbours == 1
        which = "its one neighbour" if one else f"none of its {n}"
        could = "could not" if one else "could"
        they = "it is" if one else "they are"
        if hood.center.n < 2:
            return (f"{whose[0].upper() + whose[1:]} has {plural(hood.center.n, 'run')}, so "
                    f"{which} {could} be tested (a test needs 2 or more runs on each side): "
                    f"whether {they} worse is not known.")
        return (f"{whose[0].upper() + whose[1:]} has {n}, and {'it has' if one else 'none has'} "
                f"2 or more runs, so {'it' if one else 'none'} {could} be tested: whether "
                f"{they} worse is not known.")
    if state is F.NeighbourState.ALL_WORSE:
        every = (f"The only neighbour of {whose} is" if hood.n_neighbours == 1 else
                 f"All {n} of {whose} are")
        return (f"{every} significantly worse by the {test} (Holm-adjusted, "
                f"α = {hood.alpha:g}).")
    worse = hood.counts["worse"]
    better = hood.counts["better"]
    extra = f", {better} significantly better" if better else ""
    untested = hood.counts["not testable"]
    skipped = f" ({plural(untested, 'neighbour')} could not be tested)" if untested else ""
    if state is F.NeighbourState.CANNOT_REACH:
        limit = (f"with {hood.n_a} vs {hood.n_b} runs the smallest possible p is "
                 f"{hood.min_p:.2g}")
        if hood.min_p is not None and hood.min_p <= hood.alpha:
            limit += f", {hood.min_p_holm:.2g} after Holm over {plural(hood.n_tested, 'neighbour')}"
        welch = " (or --test welch)" if hood.test != "welch" else ""
        return (f"No tested neighbour of {whose} is significantly worse{skipped}, and none could "
                f"be: {limit}; more seeds{welch} would settle them.")
    cannot = (f"; {hood.n_cannot} of the others could not have reached significance with "
              "these runs" if hood.n_cannot else "")
    return (f"Of the {n} of {whose}, {worse} {'is' if worse == 1 else 'are'} significantly "
            f"worse{extra} by the {test} (Holm-adjusted){skipped}{cannot}; that the others are "
            "not does not make them as good (see their intervals on the significance page).")


def _disagreement(d: F.Disagreement) -> str:
    p = _esc(d.param)
    head = (f"The forest's {d.measure} importance ranks **{p}** {ordinal(d.forest_rank)}, main "
            f"effects {ordinal(d.main_rank)} ({percent(d.main_share)})")
    if d.reason is F.Reason.INTERACTIONS and d.interaction is not None:
        other = d.interaction.param_b if d.interaction.param_a == d.param else d.interaction.param_a
        why = (f": {p} acts mostly through its interaction with {_esc(other)} "
               f"({percent(d.interaction.share)}), which the forest counts and a main effect "
               "does not")
    elif d.reason is F.Reason.MANY_LEVELS:
        why = (f": impurity favours hyperparameters with many distinct values ({p} has "
               f"{d.n_levels}), whatever their effect")
    else:
        why = ": main effects average over the other hyperparameters, the forest measures what it "
        why += "uses to predict"
    return (head + why + f". Believe the main effects for what changing {p} alone does, the "
            "forest for whether it matters at all.")


def finding_sentence(f: F.Finding, analysis) -> str:
    """One finding in words (Markdown, run-derived names escaped)."""
    fact, prep = f.fact, analysis.prep
    if isinstance(fact, F.MainEffect):
        return _main_effect(fact, prep.maximize, prep.metric_scale)
    if isinstance(fact, F.NoSignal):
        return ("No hyperparameter rises above the noise floor: the configurations differ no more "
                "than seed noise would make them.")
    if isinstance(fact, F.Flat):
        names = ", ".join(f"**{_esc(p)}**" for p in fact.params)
        verb = "stays" if len(fact.params) == 1 else "stay"
        return (f"{names} {verb} flat within noise (main effect below the noise floor): no value "
                f"of {'it' if len(fact.params) == 1 else 'them'} is shown to be better.")
    if isinstance(fact, F.Interactions):
        if fact.dominate:
            return _interaction_sentence(fact)
        top = fact.pairs[0]
        return (f"Interactions matter too: main effects leave {percent(fact.share)} "
                f"{_variance_words(fact.share_of)} unexplained, more than seed noise would "
                f"(about {percent(fact.noise_share or 0.0)}); the strongest pair is "
                f"{_esc(top.param_a)} × {_esc(top.param_b)} ({percent(top.share)}, {_p(top.p_value)}), "
                f"so the best {_esc(top.param_b)} depends on {_esc(top.param_a)}.")
    if isinstance(fact, F.BestConfig):
        ranked = "" if fact.metric_scale == "raw" else f", ranked on the {fact.metric_scale} scale"
        tied = (f", tied with {plural(fact.ties, 'other configuration')} at the same mean"
                if fact.ties else "")
        text = f"Best configuration: {_config_text(fact.best, fact.target)}{ranked}{tied}."
        if fact.off_marginal:
            text += " " + _off_marginal(fact)
        if fact.replicated is not None:
            text += (" That is fewer runs than most configurations have, and a mean over few "
                     f"runs tops a ranking by luck more often: the best with at least "
                     f"{fact.replicated_runs} runs (the median) is "
                     f"{_config_text(fact.replicated, fact.target)}.")
        return text
    if isinstance(fact, F.Neighbours):
        return _neighbours(fact, analysis)
    if isinstance(fact, F.NotTested):
        return f"Significance was not tested: {_esc(fact.reason)}"
    if isinstance(fact, F.Disagreement):
        return _disagreement(fact)
    if isinstance(fact, F.ForestFit):
        return _forest_fit(fact)
    if f.kind is F.Kind.SCALE:
        return scale_headline(analysis)
    if f.kind is F.Kind.RERUN_PLAN:
        return rerun_plan_text(analysis)
    if f.kind is F.Kind.BEST_ESTIMATE:
        return best_estimate_text(fact, prep.target)
    if f.kind is F.Kind.RERUN_CANDIDATES:
        return rerun_candidates_text(fact)
    if f.kind is F.Kind.STEERED:
        return steering_text(fact, prep.target)
    raise TypeError(f"no words for {type(fact).__name__}")


def evidence_link(e: F.Evidence) -> str:
    """``[importance: which value is best](importance.html#marginal-effects)``."""
    return f"[{PAGE_WORDS.get(e.page, e.page)}: {EVIDENCE_WORDS.get(e.anchor, e.anchor)}]({e.href})"


def findings_lines(analysis: Analysis, *, links: bool = False) -> list[str]:
    """Every finding as one Markdown sentence (with a link to its evidence when ``links``)."""
    return [finding_sentence(f, analysis) + (f" → {evidence_link(f.evidence)}" if links else "")
            for f in F.findings(analysis)]


def findings(analysis: Analysis) -> str:
    """The main findings for the overview page, each linked to the chart or table showing it."""
    return _bullets(findings_lines(analysis, links=True))


def _off_marginal(fact: F.BestConfig) -> str:
    """Why the best configuration holds values that are not each hyperparameter's best alone."""
    items = [f"{_esc(o.param)}={_esc(o.value)}, though {_esc(o.param)} alone is best at "
             f"{_esc(o.best_alone)}" for o in fact.off_marginal]
    why = ("interactions above noise make the best combination differ from the best value of "
           "each hyperparameter taken alone; the interaction heatmap on the Importance page "
           "shows how" if fact.interacting else
           "a best value alone averages over the other hyperparameters, so the best "
           "combination need not hold it")
    return f"It has {'; '.join(items)}: {why}."


def scale_headline(analysis: Analysis) -> str:
    """Both headlines when the main effects say something else on the analysis scale than on
    the metric as logged (``Analysis.scale_check``); "" when they agree or the scale is raw."""
    check = analysis.scale_check
    if check is None or not check.differs:
        return ""

    def said(h) -> str:
        top = (f"the largest main effect above noise is **{_esc(h.top)}**" if h.top else
               "no hyperparameter rises above the noise floor")
        return top + ("; interactions dominate" if h.interactions else "")

    scale, logged = check.scale.value, f"{_esc(analysis.prep.target)} as logged"
    chosen, raw = check.chosen, check.as_logged
    if chosen.top == raw.top:  # the same top hyperparameter: only the interactions differ
        where = (f"on the {scale} scale (the analysis scale), not on {logged}"
                 if chosen.interactions else f"on {logged}, not on the {scale} scale (the "
                 "analysis scale)")
        top = (f"the largest main effect above noise is **{_esc(chosen.top)}** on both"
               if chosen.top else "no hyperparameter rises above the noise floor on either")
        return f"The scale changes the headline: {top}, but interactions dominate only {where}."
    return (f"The scale changes the headline: on the {scale} scale (the analysis scale) "
            f"{said(chosen)}; on {logged} {said(raw)}.")


def notes(analysis: Analysis, *, which: str = "prep") -> str:
    """The notes of ``which`` (``prep``, ``significance``, ``importance``, ``forest``,
    ``linear``) as a bullet list."""
    obj = analysis.prep if which == "prep" else getattr(analysis, which)
    items = list(getattr(obj, "notes", []))
    if which == "prep":  # what the adapter did comes first: where the runs came from
        items = source_notes(analysis.table.meta) + items
    return _bullets([_esc(n) for n in items])


def query_text(meta) -> str:
    """A run table's query as ``key=value, ...`` (paths relative), "" when it has none."""
    query = meta.query if isinstance(meta.query, dict) else {}

    def show(k, v) -> str:
        if k == "path" and isinstance(v, str):
            return relative(v)
        return ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    return ", ".join(f"{k}={show(k, v)}" for k, v in sorted(query.items())
                     if v not in (None, "", []))


def source_notes(meta) -> list[str]:
    """Where the runs came from (query, fetch time, metric aggregation) and the adapter's notes."""
    query = query_text(meta)
    agg = {"last": "the last logged value", "min": "the minimum over the run's history",
           "max": "the maximum over the run's history"}.get(meta.metric_agg, meta.metric_agg)
    return [f"Runs loaded from {meta.source} ({query or 'no query'}) at {meta.fetched_at}; each "
            f"metric is {agg} (--metric-agg {meta.metric_agg})."] + list(meta.notes)


def _label(label: str) -> str:
    """A configuration's label, escaped and cut to twice a chart label's length."""
    from sweepsight.reports.safe_text import LABEL_CHARS, short

    return _esc(short(str(label), 2 * LABEL_CHARS))


def _estimated(e, scale: str, level: float) -> str:
    """``0.141 (95% interval 0.0115 to 0.27)`` as logged, on the analysis scale for ranks."""
    if scale == "rank" or math.isnan(e.estimate_raw):
        return (f"{number(e.estimate, 3)} on the {scale} scale ({level:.0%} interval "
                f"{number(e.ci_low, 3)} to {number(e.ci_high, 3)})")
    return (f"{number(e.estimate_raw, 3)} ({level:.0%} interval {number(e.ci_low_raw, 3)} to "
            f"{number(e.ci_high_raw, 3)})")


def best_estimate_text(est, target: str) -> str:
    """The best configuration by the estimate from all runs (:class:`analysis.shrinkage.
    BestEstimate`) beside the best observed one, and whether the winner rests on one run."""
    scale, tgt, level = est.metric_scale, _esc(target), est.confidence
    b, o = est.best, est.observed_best
    own = (f"{number(o.observed_raw, 3)} over {plural(o.n, 'run')}" if scale != "rank" else
           f"{number(o.observed, 3)} on the rank scale over {plural(o.n, 'run')}")
    luck = ("it rests on one run, and a single run tops a ranking by luck (the winner's "
            "curse)" if est.one_run else
            f"it rests on {plural(o.n, 'run')}, fewer than most configurations (median "
            f"{number(est.median_runs)}), and a mean over few runs tops a ranking by luck")
    how = "each configuration's mean shrunk toward what the other configurations predict for it"
    if est.differ:
        return (f"**Best by an estimate that uses all runs** ({how}): **{_label(b.label)}**, "
                f"{tgt} about {_estimated(b, scale, level)} over {plural(b.n, 'run')}. It "
                f"differs from the best observed, **{_label(o.label)}** ({own}), estimated at "
                f"{_estimated(o, scale, level)}" + (f": {luck}." if est.lucky else "."))
    return (f"**The best configuration's lead may be luck**: {luck}. Estimated from all runs "
            f"({how}), its {tgt} is about {_estimated(b, scale, level)}, not the {own} it "
            "logged; it stays the best by that estimate.")


def rerun_candidates_text(est) -> str:
    """The configurations worth rerunning to settle the best, and the seeds that would."""
    names = ", ".join(f"**{_label(c.label)}**" for c in est.candidates)
    k = len(est.candidates)
    if est.capped or est.seeds is None:
        return (f"**Worth rerunning to settle the best**: {names}. Their estimates are so close "
                f"that more than {MAX_SEEDS:,} seeds each would be needed to tell them apart: any of "
                "them is about as good as the others.")
    return (f"**Worth rerunning to settle the best**: {names} (the best estimate, then the "
            f"configurations whose interval reaches it). With {est.seeds:,} seeds each "
            f"({plural(k * est.seeds, 'run')}, {est.new_runs:,} more than now) a t-test would "
            "tell each from the best by its estimated difference with 80% power (Bonferroni "
            "over the rivals).")


def steering_text(st, target: str) -> str:
    """The steering finding (:class:`analysis.steering.Steering`) and what it means."""
    conc = st.concentrated
    shown = "; ".join(f"{percent(c.top_share)} of them at {_esc(c.param)}="
                      f"{_label(c.top_level)} (evenly: {percent(c.even_share)})"
                      for c in conc[:3])
    signs = [f"it concentrated its {plural(st.n, 'trial')} ({shown})"]
    if st.associated:
        signs.append(f"tied its choices together (mean Cramér's V between hyperparameters "
                     f"{number(st.association, 2)}; with each shuffled on its own, at most "
                     f"{number(st.association_null, 2)})")
    if st.improving:
        signs.append(f"got better over trial order (Spearman {number(st.trend, 2)} between a "
                     f"run's start and its {_esc(target)}, one-sided {_p(st.trend_p)})")
    said = ", ".join(signs[:-1]) + (" and " if len(signs) > 1 else "") + signs[-1]
    return (f"**The sweep was steered**, as an optimizer steers it, not spread evenly: {said}. "
            "The effects here are conditional on where it looked: main effects and the best "
            "values describe the region it explored, weighted by where it went; values it "
            "rarely tried are measured on few runs, and regions it left unexplored may hold "
            "better values.")


def rerun_plan_text(analysis: Analysis) -> str:
    """The significance rerun plan (:class:`~analysis.significance.RerunPlan`) as one Markdown
    sentence ("" without a plan). Run-derived text is escaped."""
    sig = analysis.significance
    plan = sig.rerun_plan if sig is not None else None
    if plan is None:
        return ""
    mine = sig.pairs[sig.pairs["config_id"] == plan.config_id].drop_duplicates("neighbour_id")
    change = dict(zip(mine["neighbour_id"], mine["param"].astype(str) + "="
                      + mine["to_value"].astype(str)))
    rivals = ", ".join(_esc(change.get(r, r)) for r in plan.rivals)
    k = len(plan.rivals)
    who = f"its closest rival ({rivals})" if k == 1 else f"its {k} closest rivals ({rivals})"
    test = TEST_NAMES[analysis.options.test]
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


def _mean_sd(c) -> str:
    spread = "" if math.isnan(c.std_raw) else f" ± {number(c.std_raw, 2)}"
    return f"{number(c.mean_raw)}{spread}"


def _best_words(b, target: str, test: str, alpha: float) -> str:
    """One best-against-best comparison (:class:`analysis.compare.BestAgainstBest`)."""
    from sweepsight.analysis.constants import BETTER, CANNOT_TELL, NOT_SIGNIFICANT, WORSE

    what = "best configuration" if b.kind == "best" else "best well-replicated configuration"
    move = f"{_esc(target)} from {_mean_sd(b.baseline)} to {_mean_sd(b.current)}"
    seeds = f"{b.baseline.n} vs {b.current.n} runs"
    test_name = {"ks": "KS", "welch": "Welch", "mannwhitney": "Mann-Whitney"}.get(test, test)
    verb = {BETTER: "improves", WORSE: "worsens",
            NOT_SIGNIFICANT: "does not significantly change"}.get(b.verdict)
    if verb is not None:
        return f"The {what} {verb} {move} ({test_name} {_p(b.p)}, {seeds})"
    if b.verdict == CANNOT_TELL:
        return (f"The {what} moves {move}, and {seeds} cannot tell whether that is real (the "
                f"smallest possible {test_name} p is {b.min_attainable_p:.2g}, not below "
                f"{alpha:g})")
    return f"The {what} moves {move}; with {seeds} it cannot be tested"


def comparison_sentence(comp) -> str:
    """The one-sentence verdict on a sweep against its baseline (an
    :class:`analysis.compare.Comparison`): best against best, then the matched configurations."""
    from sweepsight.analysis.constants import BETTER, CANNOT_TELL, NOT_SIGNIFICANT, WORSE

    parts = []
    if comp.best is not None:
        parts.append(_best_words(comp.best, comp.target, comp.test, comp.alpha))
    c = comp.counts
    if comp.n_matched == 0:
        parts.append("no configuration is in both sweeps, so none could be compared run "
                     "against run")
    elif comp.n_tested == 0:
        parts.append(f"{plural(comp.n_matched, 'configuration')} are in both sweeps, none "
                     "with 2 or more runs on each side to test")
    else:
        seeds = sorted(set(comp.matched["n_current"]) | set(comp.matched["n_baseline"]))
        tail = ""
        if c[CANNOT_TELL]:
            few = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
            tail = (f", {c[CANNOT_TELL]} cannot tell with {few} seeds ({comp.seeds_needed} per "
                    "side would do)")
        same = f", {c[NOT_SIGNIFICANT]} not significantly different" if c[NOT_SIGNIFICANT] else ""
        parts.append(f"{c[BETTER]} of {plural(comp.n_tested, 'matched configuration')} "
                     f"{'is' if c[BETTER] == 1 else 'are'} significantly better, {c[WORSE]} "
                     f"worse{same}{tail}")
    sentence = "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:]


def baseline_origin_text(origin) -> str:
    """Where the baseline came from (an :class:`analysis.compare.BaselineOrigin`), one
    sentence for the comparison page and summary.md; or why there is none."""
    if origin.kind == "missing":
        return f"No baseline: {_esc(origin.where.rstrip('.'))}."
    runs = plural(origin.runs, "run")
    if origin.kind == "snapshot":
        query = f": {_esc(origin.query)}" if origin.query else ""
        where = f"the snapshot {_esc(origin.where)} ({runs} loaded from {_esc(origin.source)}{query})"
    else:
        query = f" ({_esc(origin.query)})" if origin.query else ""
        where = f"{runs} loaded from {_esc(origin.source)}{query} with its own source options"
    return (f"The baseline is {where}; this site keeps it as `data/baseline.parquet` and "
            "`.json`.")


def comparison_caveats(comp) -> list[str]:
    """Sentences that qualify :func:`comparison_sentence`: the winner's curse (with the best
    well-replicated configurations), best levels that moved, hyperparameters on one side only."""
    out = []
    if comp.best is not None and comp.best.winners_curse:
        out.append("A best configuration with few runs is likely flattered by being picked as "
                   "the best (the winner's curse)" + (
                       "; " + _best_words(comp.replicated, comp.target, comp.test,
                                          comp.alpha)[0].lower()
                       + _best_words(comp.replicated, comp.target, comp.test, comp.alpha)[1:]
                       if comp.replicated is not None else "") + ".")
    out += _shift_sentences(comp)
    moved = [m for m in comp.moved if m.moved]
    if moved:
        out.append("The best level moved for " + ", ".join(
            f"**{_esc(m.param)}** ({_esc(m.best_baseline)} → {_esc(m.best_current)})"
            for m in moved) + ".")
    for names, side in ((comp.only_current, "this sweep"), (comp.only_baseline, "the baseline")):
        if names:
            out.append(f"Only {side} varies {', '.join(f'**{_esc(n)}**' for n in names)}; "
                       "matched configurations pool its values.")
    return out


def shifts_alike_sentence(comp) -> str | None:
    """When the change acts through some hyperparameters: the others, whose levels all shift
    alike (None otherwise)."""
    if not any(s.acts for s in comp.shifts):
        return None
    alike = sorted({s.param for s in comp.shifts if not s.acts})
    if not alike:
        return None
    return (f"The change is alike across the levels of {', '.join(_esc(n) for n in alike)} "
            f"(Kruskal-Wallis, Holm over hyperparameters: not below {comp.alpha:g}), so their "
            "levels are not listed.")


def _shift_sentences(comp, *, limit: int = 6) -> list[str]:
    """Where the change acts: the hyperparameters whose levels shift differently
    (:attr:`analysis.compare.LevelShift.acts`) with their levels that shifted significantly and
    those that did not; when none does, the levels that shifted (alike)."""
    from sweepsight.analysis.constants import BETTER, NOT_SIGNIFICANT, WORSE

    acting = [s for s in comp.shifts if s.acts]
    sig = sorted((s for s in (acting or comp.shifts) if s.verdict in (BETTER, WORSE)),
                 key=lambda s: s.p)
    if not sig:
        return []
    params = {s.param for s in sig}
    flat = [s for s in comp.shifts if s.param in params and s.verdict == NOT_SIGNIFICANT]

    def name(s):
        return f"**{_esc(s.param)}={_esc(s.level)}**"

    shown = ", ".join(f"{name(s)} ({s.verdict}, median {s.median_diff:+.3g} over "
                      f"{plural(s.n, 'configuration')})" for s in sig[:limit])
    more = f" and {len(sig) - limit} more" if len(sig) > limit else ""
    if acting:
        names = sorted({s.param for s in acting})
        lead = (f"The change acts through {', '.join(f'**{_esc(n)}**' for n in names)} (the "
                "matched configurations' differences differ between its levels: Kruskal-Wallis, "
                "Holm over hyperparameters; each level's shift by the Wilcoxon signed-rank test "
                "over configurations, Holm over levels): ")
    else:
        lead = ("Matched configurations shift significantly, alike across the levels of every "
                "hyperparameter (Wilcoxon signed-rank over configurations, Holm over levels), "
                "at ")
    line = f"{lead}{shown}{more}"
    if flat:
        line += "; not at " + ", ".join(name(s) for s in flat[:limit]) + (
            f" and {len(flat) - limit} more" if len(flat) > limit else "")
    return [line + "."]
