"""The report's findings as data: one ordered list for the overview page and ``summary.md``.

:func:`findings` turns an :class:`~analysis.Analysis` into typed :class:`Finding` objects (a
:class:`Kind`, the numbers it quotes, and the page and anchor that show the evidence). Facts
come from the analyses' typed fields; :mod:`reports.text` turns them into words, once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses
import enum
import math

import pandas as pd

from sweepsight.analysis.best import Config, Neighbourhood, best_neighbourhood
from sweepsight.analysis.configs import format_value
from sweepsight.analysis.constants import (BETTER, CV_R2_LOW, CV_R2_ROUGH,
                                           INTERACTIONS_DOMINATE, WORSE)
from sweepsight.analysis.levels import LevelsResult, ParamLevels, level_effects
from sweepsight.analysis.scale import ScaleCheck
from sweepsight.analysis.shrinkage import BestEstimate
from sweepsight.analysis.steering import Steering
from sweepsight.analysis.significance import RerunPlan

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis

#: Main effects quoted among the findings (the importance table lists them all).
TOP_MAIN_EFFECTS = 2
#: Rank disagreements quoted among the findings.
MAX_DISAGREEMENTS = 2


class Kind(enum.Enum):
    MAIN_EFFECT = "main effect"
    NO_SIGNAL = "nothing above noise"
    FLAT = "flat within noise"
    INTERACTIONS = "interactions"
    BEST_CONFIG = "best configuration"
    NEIGHBOURS = "neighbours"
    NOT_TESTED = "significance not tested"
    DISAGREEMENT = "rankings disagree"
    FOREST_FIT = "forest fit"
    SCALE = "the scale changes the headline"  # fact: analysis.scale.ScaleCheck
    RERUN_PLAN = "rerun plan"  # fact: analysis.significance.RerunPlan
    BEST_ESTIMATE = "best by estimate"  # fact: analysis.shrinkage.BestEstimate
    RERUN_CANDIDATES = "candidates to rerun"  # fact: analysis.shrinkage.BestEstimate
    STEERED = "the sweep was steered"  # fact: analysis.steering.Steering


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Where a finding is shown: a report page (file stem) and an anchor on it."""

    page: str
    anchor: str

    @property
    def href(self) -> str:
        return f"{self.page}.html#{self.anchor}"


#: The anchors the pages define (explicit ``<div id=...>``, the same in nbconvert and Quarto).
MAIN_EFFECTS = Evidence("importance", "main-effects")
MARGINALS = Evidence("importance", "marginal-effects")
INTERACTION_MAP = Evidence("importance", "interactions")
FOREST_VS_MAIN = Evidence("importance", "forest-vs-main-effects")
BEST_CONFIGS = Evidence("index", "best-configurations")
BEST_NEIGHBOURS = Evidence("significance", "best-neighbours")
SIGNIFICANCE = Evidence("significance", "significance-summary")
ANCHORS = (MAIN_EFFECTS, MARGINALS, INTERACTION_MAP, FOREST_VS_MAIN, BEST_CONFIGS,
           BEST_NEIGHBOURS, SIGNIFICANCE)


class Verdict(enum.Enum):
    """What explains the metric."""

    NOISE = "noise"
    INTERACTIONS = "interactions"
    MAIN_EFFECTS = "main_effects"


@dataclasses.dataclass(frozen=True)
class MainEffect:
    """``param`` is the ``rank``-th largest main effect above noise: ``share`` of the variance
    named by ``share_of``; ``levels`` says which value is best and the shape."""

    param: str
    rank: int
    share: float
    share_of: str | None
    noise_floor: float
    levels: ParamLevels | None
    target: str


@dataclasses.dataclass(frozen=True)
class NoSignal:
    noise_floor: float | None


@dataclasses.dataclass(frozen=True)
class Flat:
    """Hyperparameters whose main effect stays below its noise floor."""

    params: tuple[str, ...]


class InteractionState(enum.Enum):
    DOMINATE = "dominate"  # more than half of what is explained, above seed noise
    ABOVE_NOISE = "above noise"  # above seed noise, main effects still explain most
    NOISE = "noise"  # the leftover is what seed noise would leave
    UNTESTED = "untested"  # no repeated runs (grid) to measure seed noise
    RUNS = "runs"  # surrogate path: shares of the runs' variance, no noise test


@dataclasses.dataclass(frozen=True)
class Pair:
    param_a: str
    param_b: str
    share: float
    p_value: float


@dataclasses.dataclass(frozen=True)
class Interactions:
    """The variance main effects leave: ``share`` (of ``share_of``), what seed noise alone would
    leave (``noise_share``), the excess (``corrected``), its F test ``p_value``; on the
    surrogate path ``explained`` (out of sample) and ``mains`` (sum of main shares)."""

    state: InteractionState
    dominate: bool
    share: float
    share_of: str | None
    noise_share: float | None
    corrected: float | None
    p_value: float | None
    explained: float | None
    mains: float | None
    pairs: tuple[Pair, ...]


@dataclasses.dataclass(frozen=True)
class OffMarginal:
    """A hyperparameter whose value in the best configuration is not its best value alone."""

    param: str
    value: str  # in the best configuration
    best_alone: str  # the best level of its marginal means (the importance page's)


@dataclasses.dataclass(frozen=True)
class BestConfig:
    best: Config
    ties: int  # other configurations with the same (best) mean
    replicated: Config | None
    replicated_runs: int | None
    target: str
    metric_scale: str
    #: hyperparameters above noise whose best-configuration value is not their best alone
    off_marginal: tuple[OffMarginal, ...] = ()
    #: whether interactions rise above noise (then they are why, and the heatmap shows it)
    interacting: bool = False


class NeighbourState(enum.Enum):
    NONE = "no neighbours"
    UNTESTABLE = "none testable"  # every neighbour "not testable" (e.g. a single-run best)
    ALL_WORSE = "all worse"
    CANNOT_REACH = "cannot reach"  # tested, but no outcome could reach significance
    SOME_WORSE = "some worse"


@dataclasses.dataclass(frozen=True)
class Neighbours:
    state: NeighbourState
    hood: Neighbourhood


@dataclasses.dataclass(frozen=True)
class NotTested:
    """Significance was not tested; ``reason`` is the significance analysis's own sentence."""

    reason: str


class Reason(enum.Enum):
    """Why the forest and main effects rank a hyperparameter differently."""

    INTERACTIONS = "permutation includes interactions"
    MANY_LEVELS = "impurity favours many levels"
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class Disagreement:
    """The forest's ``measure`` ranks ``param`` ``forest_rank``-th, main effects ``main_rank``-th,
    each beyond its noise against ``others``; ``interaction`` is its strongest pair's share."""

    param: str
    measure: str  # "permutation" | "impurity"
    forest_rank: int
    main_rank: int
    others: tuple[str, ...]
    reason: Reason
    main_share: float
    interaction: Pair | None
    n_levels: int


class Fit(enum.Enum):
    UNCHECKED = "unchecked"
    POOR = "poor"
    ROUGH = "rough"
    GOOD = "good"


@dataclasses.dataclass(frozen=True)
class ForestFit:
    cv_r2: float | None
    fit: Fit


Fact = (MainEffect | NoSignal | Flat | Interactions | BestConfig | Neighbours | NotTested
        | Disagreement | ForestFit | ScaleCheck | RerunPlan | BestEstimate
        | Steering)


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: Kind
    fact: Fact
    evidence: Evidence


def levels_of(analysis: Analysis) -> LevelsResult:
    """The analysis's marginal effects (computed here when ``analysis.levels`` is None, as for
    an :class:`~analysis.Analysis` assembled by hand)."""
    levels = analysis.levels
    if levels is None:
        levels = level_effects(analysis.prep, importance=analysis.importance,
                               alpha=_alpha(analysis))
    return levels


def _alpha(analysis: Analysis) -> float:
    return analysis.options.alpha


def _above(imp) -> list[str]:
    t = imp.table
    return [str(p) for p, a in zip(t["param"], t["above_floor"].fillna(False)) if bool(a)]


def _shares(imp) -> pd.Series:
    t = imp.table
    return pd.Series(t["share"] if "share" in t else t["importance"], index=t.index).set_axis(
        t["param"].astype(str))


def interactions(analysis: Analysis) -> Interactions | None:
    """The leftover after main effects, with its noise test (None without a split)."""
    imp = analysis.importance
    if imp.interaction_share is None:
        return None
    pairs: tuple[Pair, ...] = ()
    t = imp.top_interactions
    if "above_floor" in t and len(t):
        keep = t[t["above_floor"].fillna(False).astype(bool)]
        pairs = tuple(Pair(str(a), str(b), float(s), float(p)) for a, b, s, p in
                      zip(keep["param_a"], keep["param_b"], keep["share"], keep["p_value"]))
    dominate = verdict(analysis) is Verdict.INTERACTIONS
    if imp.share_of == "runs":
        state = InteractionState.RUNS
    elif imp.interaction_p is None:
        state = InteractionState.UNTESTED
    elif dominate:
        state = InteractionState.DOMINATE
    elif imp.interaction_above_noise:
        state = InteractionState.ABOVE_NOISE
    else:
        state = InteractionState.NOISE
    mains = float(imp.table["share"].sum()) if "share" in imp.table else None
    return Interactions(state=state, dominate=dominate, share=float(imp.interaction_share),
                        share_of=imp.share_of, noise_share=imp.interaction_noise_share,
                        corrected=imp.interaction_share_corrected, p_value=imp.interaction_p,
                        explained=imp.explained_share, mains=mains, pairs=pairs)


def verdict(analysis: Analysis) -> Verdict:
    """What explains the metric: noise, interactions or main effects.

    Interactions dominate when they rise above seed noise and make up more than
    :data:`INTERACTIONS_DOMINATE` of what is explained: on a grid, when the leftover's F test
    against the within-configuration error passes and its noise-corrected share exceeds it (or
    no main effect rises above its floor); on the surrogate path, when the interactions exceed
    that part of what the surrogate explains out of sample and the configurations really
    differ."""
    imp = analysis.importance
    above = _above(imp)
    if imp.share_of == "configuration means":
        if imp.interaction_above_noise and (
                not above or (imp.interaction_share_corrected or 0.0) > INTERACTIONS_DOMINATE):
            return Verdict.INTERACTIONS
        return Verdict.MAIN_EFFECTS if above else Verdict.NOISE
    cv = analysis.forest.cv_r2
    sig = analysis.significance
    # configurations really differ when the forest predicts held-out runs or some neighbours
    # differ significantly (the forest's grouped CV cannot extrapolate on a small grid)
    differ = bool(sig.applicable and sig.pairs["verdict"].isin([BETTER, WORSE]).any())
    predictive = differ or (cv is not None and not math.isnan(cv) and cv >= CV_R2_LOW)
    share, explained = imp.interaction_share, imp.explained_share
    if share is not None and explained is not None and explained > 0 and predictive and \
            share > INTERACTIONS_DOMINATE * explained:
        return Verdict.INTERACTIONS
    return Verdict.MAIN_EFFECTS if above else Verdict.NOISE


def main_effects(analysis: Analysis) -> list[MainEffect]:
    """Every main effect above its noise floor, largest first."""
    imp, levels = analysis.importance, levels_of(analysis)
    shares = _shares(imp)
    floors = imp.table.set_index(imp.table["param"].astype(str))["noise_floor"]
    above = sorted(_above(imp), key=lambda p: -float(shares[p]))
    return [MainEffect(param=p, rank=i + 1, share=float(shares[p]), share_of=imp.share_of,
                       noise_floor=float(floors[p]), levels=levels.get(p),
                       target=analysis.prep.target) for i, p in enumerate(above)]


def forest_fit(analysis: Analysis) -> ForestFit:
    cv = analysis.forest.cv_r2
    if cv is None or math.isnan(cv):
        return ForestFit(None, Fit.UNCHECKED)
    fit = Fit.POOR if cv < CV_R2_LOW else Fit.ROUGH if cv < CV_R2_ROUGH else Fit.GOOD
    return ForestFit(float(cv), fit)


def neighbourhood(analysis: Analysis) -> Neighbourhood | None:
    """The best configuration and its neighbours (one derivation for every page)."""
    return best_neighbourhood(analysis.significance, alpha=_alpha(analysis),
                              test=analysis.options.test)


def neighbour_state(hood: Neighbourhood) -> NeighbourState:
    if hood.n_neighbours == 0:
        return NeighbourState.NONE
    if hood.n_tested == 0:
        return NeighbourState.UNTESTABLE
    if hood.counts[WORSE] == hood.n_neighbours:
        return NeighbourState.ALL_WORSE
    if hood.cannot_reach:
        return NeighbourState.CANNOT_REACH
    return NeighbourState.SOME_WORSE


def disagreements(analysis: Analysis) -> list[Disagreement]:
    """Hyperparameters the forest ranks above others while main effects rank them below, each
    ordering beyond its own noise (forest: ± its spread; main effects: the noise floors).
    None when the forest does not predict held-out runs (its ranking is then noise)."""
    fit = forest_fit(analysis)
    imp, forest = analysis.importance, analysis.forest.table
    if fit.fit in (Fit.UNCHECKED, Fit.POOR) or "share" not in imp.table or not len(forest):
        return []
    main = imp.table.set_index(imp.table["param"].astype(str))
    share, floor = main["share"].astype(float), main["noise_floor"].astype(float)
    above = set(_above(imp))
    main_rank = {p: i + 1 for i, p in enumerate(share.sort_values(ascending=False).index)}
    f = forest.set_index(forest["param"].astype(str))
    pairs = interactions(analysis)
    out: list[Disagreement] = []
    for measure in ("permutation", "impurity"):
        val, sd = f[measure].astype(float), f[f"{measure}_std"].astype(float).fillna(0.0)
        forest_rank = {p: i + 1 for i, p in enumerate(val.sort_values(ascending=False).index)}
        for p in val.index:
            if p not in share.index or any(d.param == p for d in out) or \
                    forest_rank[p] >= main_rank[p]:
                continue
            others = tuple(q for q in val.index if q != p and q in share.index and q in above
                           and val[p] - sd[p] > val[q] + sd[q]
                           and share[q] - share[p] > max(floor[p], floor[q]))
            if not others:
                continue
            pair = None
            if pairs is not None:
                mine = [x for x in pairs.pairs if p in (x.param_a, x.param_b)]
                pair = max(mine, key=lambda x: x.share) if mine else None
            n_levels = int(analysis.prep.runs[p].nunique())
            fewer = all(int(analysis.prep.runs[q].nunique()) < n_levels for q in others)
            if measure == "permutation" and pair is not None and pair.share > share[p]:
                reason = Reason.INTERACTIONS
            elif measure == "impurity" and fewer:
                reason = Reason.MANY_LEVELS
            elif pair is not None and pair.share > share[p]:
                reason = Reason.INTERACTIONS
            else:
                reason = Reason.OTHER
            out.append(Disagreement(param=p, measure=measure, forest_rank=forest_rank[p],
                                    main_rank=main_rank[p], others=others, reason=reason,
                                    main_share=float(share[p]), interaction=pair,
                                    n_levels=n_levels))
    return sorted(out, key=lambda d: d.forest_rank - d.main_rank)


def off_marginal(analysis: Analysis, best: Config) -> tuple[OffMarginal, ...]:
    """The hyperparameters above noise (plain levels, not bins) whose value in ``best`` differs
    from their best level on their own (``analysis.levels``)."""
    sig, levels = analysis.significance, analysis.levels
    if levels is None or sig is None or sig.approximate or not len(sig.configs):
        return ()
    rows = sig.configs.loc[sig.configs["config_id"].astype(str) == str(best.config_id)]
    if not len(rows):
        return ()
    row = rows.iloc[0]
    out = []
    for pl in levels.params:
        if pl.binned or not pl.above_noise or pl.param not in row.index:
            continue
        value, alone = format_value(row[pl.param]), format_value(pl.best_level.value)
        if value != alone:
            out.append(OffMarginal(pl.param, value, alone))
    return tuple(out)


def findings(analysis: Analysis) -> list[Finding]:
    """The ordered findings: what explains the metric (and which value is best), the best
    configuration and its neighbours, where the forest and main effects disagree, and how far
    the forest can be trusted when it cannot."""
    out: list[Finding] = []
    verdict_ = verdict(analysis)
    inter = interactions(analysis)
    if verdict_ is Verdict.INTERACTIONS and inter is not None:
        out.append(Finding(Kind.INTERACTIONS, inter, INTERACTION_MAP))
    if verdict_ is Verdict.NOISE:
        out.append(Finding(Kind.NO_SIGNAL, NoSignal(analysis.importance.noise_floor),
                           MAIN_EFFECTS))
    else:
        for m in main_effects(analysis)[:TOP_MAIN_EFFECTS]:
            out.append(Finding(Kind.MAIN_EFFECT, m, MARGINALS))
        flat = tuple(p for p in analysis.importance.table["param"].astype(str)
                     if p not in set(_above(analysis.importance)))
        if flat:
            out.append(Finding(Kind.FLAT, Flat(flat), MARGINALS))
    if verdict_ is Verdict.MAIN_EFFECTS and inter is not None and \
            inter.state is InteractionState.ABOVE_NOISE and inter.pairs:
        out.append(Finding(Kind.INTERACTIONS, inter, INTERACTION_MAP))
    steering = analysis.steering
    if steering is not None and steering.steered:
        out.append(Finding(Kind.STEERED, steering, MAIN_EFFECTS))
    check = analysis.scale_check
    if check is not None and check.differs:
        out.append(Finding(Kind.SCALE, check, MAIN_EFFECTS))
    sig = analysis.significance
    hood = neighbourhood(analysis)
    if hood is not None:
        out.append(Finding(Kind.BEST_CONFIG, BestConfig(
            best=hood.best, ties=hood.ties, replicated=hood.replicated, replicated_runs=hood.replicated_runs,
            target=analysis.prep.target, metric_scale=analysis.prep.metric_scale,
            off_marginal=off_marginal(analysis, hood.best),
            interacting=inter is not None and inter.state is InteractionState.ABOVE_NOISE),
            BEST_CONFIGS))
    est = analysis.best_estimate
    if est is not None and (est.lucky or est.differ):
        out.append(Finding(Kind.BEST_ESTIMATE, est, BEST_CONFIGS))
    if not sig.applicable:
        out.append(Finding(Kind.NOT_TESTED, NotTested(str(sig.reason)), SIGNIFICANCE))
    elif hood is not None:
        out.append(Finding(Kind.NEIGHBOURS, Neighbours(neighbour_state(hood), hood),
                           BEST_NEIGHBOURS))
        if sig.rerun_plan is not None:
            out.append(Finding(Kind.RERUN_PLAN, sig.rerun_plan, BEST_NEIGHBOURS))
    if est is not None and est.lucky and len(est.candidates) > 1 and (
            not sig.applicable or sig.rerun_plan is None or est.one_run):
        out.append(Finding(Kind.RERUN_CANDIDATES, est, BEST_CONFIGS))
    if verdict_ is not Verdict.NOISE:
        for d in disagreements(analysis)[:MAX_DISAGREEMENTS]:
            out.append(Finding(Kind.DISAGREEMENT, d, FOREST_VS_MAIN))
    fit = forest_fit(analysis)
    if fit.fit is not Fit.GOOD:
        out.append(Finding(Kind.FOREST_FIT, fit, MAIN_EFFECTS))
    return out


def level_table(analysis: Analysis) -> pd.DataFrame:
    """One row per hyperparameter and level: the marginal means and intervals (both scales),
    the best level and the shape - the data behind the marginal plots."""
    rows = []
    for pl in levels_of(analysis).params:
        for i, lv in enumerate(pl.levels):
            rows.append({"param": pl.param, "level": lv.label, "value": lv.value, "x": lv.x,
                         "n": lv.n, "mean": lv.mean, "ci_low": lv.ci_low,
                         "ci_high": lv.ci_high, "mean_raw": lv.mean_raw,
                         "ci_low_raw": lv.ci_low_raw, "ci_high_raw": lv.ci_high_raw,
                         "best": i == pl.best, "shape": pl.shape.value, "log": pl.log,
                         "ordered": pl.ordered})
    return pd.DataFrame(rows)


__all__ = ["ANCHORS", "Evidence", "Finding", "Kind", "Verdict", "findings", "level_table",
           "levels_of", "main_effects", "neighbourhood", "verdict"]
