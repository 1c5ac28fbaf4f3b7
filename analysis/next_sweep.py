"""What to run next: one decision per hyperparameter, the walk frontier, seeds and a design.

:func:`plan_next` turns an :class:`~analysis.Analysis` into a :class:`NextSweep` (records, no
words; :mod:`reports.next_text` words them, :mod:`reports.next_files` writes the trackers'
files). Each hyperparameter gets one :class:`Decision` naming the finding it rests on:

- freeze at the best configuration's value: its main effect is well below its noise floor
  (under half of it, its test's p at least one half, and a one-way ANOVA over its levels'
  runs p at least one half too) and no interaction above noise involves it;
- narrow to the levels (or the range) whose marginal interval overlaps the best level's;
- extend past an edge: the best level is at the end of the tried range and the trend still
  improves there; the next values continue the tried spacing (on log10 where analysed so),
  never past a ``bounds`` limit;
- needs seeds: below the floor but not clearly (or the floor could not be tested);
- keep as is otherwise (and for a pair of interacting hyperparameters, which stay together).

The frontier, the seeds and the budget's design are in :mod:`analysis.next_frontier`.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.configs import format_value
from sweepsight.analysis.findings import (INTERACTION_MAP, MARGINALS, Evidence, Kind,
                                          interactions, levels_of)
from sweepsight.analysis.levels import ParamLevels, Shape
from sweepsight.analysis.prepared import Condition

#: A main effect is frozen only below this fraction of its noise floor and with its test's p
#: at least FREEZE_P (no larger than chance gives half the time); otherwise below the floor
#: the hyperparameter needs seeds (the test could not tell it from noise).
FREEZE_MARGIN = 0.5
FREEZE_P = 0.5
#: New values proposed past an edge (steps on the tried spacing).
EXTEND_STEPS = 2


class Action(enum.Enum):
    FREEZE = "freeze"
    NARROW = "narrow"
    EXTEND = "extend"
    KEEP = "keep"
    NEEDS_SEEDS = "needs seeds"


@dataclasses.dataclass(frozen=True)
class Decision:
    """The next sweep's space for one hyperparameter and why.

    ``values``: the levels to try next (a discrete hyperparameter; one value when frozen);
    ``low``/``high``: the range to sample (a continuous one; None when discrete), as logged.
    ``tried``: the values (discrete) or ``(min, max)`` (continuous) this sweep tried.
    ``direction``: "up" / "down" for an extension. ``dropped``: tried levels left out.
    ``bounded``: an extension stopped at the user's bound (or 0 for a non-negative one).
    ``finding``/``evidence``: the finding the decision comes from and where it is shown.
    ``share``/``noise_floor``: the main effect and its floor; ``partners``: hyperparameters
    it interacts with above noise; ``condition``: when it is active (conditional ones).
    """

    param: str
    action: Action
    numeric: bool
    continuous: bool
    log: bool
    integer: bool
    values: tuple
    low: float | None
    high: float | None
    tried: tuple
    direction: str | None
    dropped: tuple
    bounded: bool
    finding: Kind
    evidence: Evidence
    share: float | None
    noise_floor: float | None
    above_noise: bool | None
    shape: Shape | None
    partners: tuple[str, ...]
    condition: Condition | None


class Part(enum.Enum):
    """Where a planned configuration comes from (the order the budget fills them in)."""

    FRONTIER = "frontier"
    SEEDS = "seeds"
    DESIGN = "design"


class Status(enum.Enum):
    """Why a configuration is on top: the walk starts from it."""

    BEST = "best"
    BETTER = "significantly better"  # better than a neighbour, beyond noise
    UNDECIDED = "undecided"  # not significantly worse than the best (or nothing tested)


class Reason(enum.Enum):
    """Why a frontier configuration is proposed."""

    EXTEND = "past the edge"  # the step goes past the tried range, where the trend improves
    UNRUN = "one step, not run"  # a neighbour of a top configuration that was never run


@dataclasses.dataclass(frozen=True)
class Planned:
    """One configuration of the next sweep: ``values`` param -> value (None: inactive),
    ``seeds`` runs to make of it. Frontier rows: ``priority`` (1 first), ``reason``, the
    top configuration stepped from (``origin`` label, its ``status``) and the ``param``
    changed; seeds rows: ``have`` runs already made, ``total`` runs it should have."""

    part: Part
    priority: int
    values: tuple[tuple[str, object], ...]
    seeds: int
    reason: Reason | None = None
    origin: str | None = None
    status: Status | None = None
    param: str | None = None
    have: int = 0
    total: int = 0

    @property
    def as_dict(self) -> dict[str, object]:
        return dict(self.values)


@dataclasses.dataclass(frozen=True)
class NextSweep:
    """The proposed next sweep (a suggestion resting on this sweep's runs).

    ``decisions`` per hyperparameter; ``frontier``, ``seeds``, ``design``: the configurations
    the budget took, in that order (``frontier_all``: every frontier configuration found,
    ``seeds_all`` every rerun the power solve asked for). ``budget``: runs asked for,
    ``used`` the runs planned; ``method``: "grid" or "random" (the design and the W&B
    method); ``seeds_per_config``: runs per new configuration (this sweep's median);
    ``pairs``: interactions above noise kept together; ``fixed``: params held at one value
    outside the search (the budget at its largest); ``unmeasured``: the sweep did not cover
    its space evenly (random or steered search, one run per configuration): regions it did
    not sample were not measured. ``seeds_capped``: the power solve asked for more than
    the budget or its cap gave.
    """

    target: str
    direction: str
    decisions: tuple[Decision, ...]
    frontier: tuple[Planned, ...]
    frontier_all: tuple[Planned, ...]
    seeds: tuple[Planned, ...]
    seeds_all: tuple[Planned, ...]
    design: tuple[Planned, ...]
    budget: int
    used: int
    method: str
    seeds_per_config: int
    pairs: tuple[tuple[str, str], ...]
    fixed: tuple[tuple[str, object], ...]
    seed_param: str | None
    unmeasured: bool
    one_run: bool
    seeds_capped: bool
    bounds: tuple[tuple[str, float, float], ...]
    this_runs: int

    @property
    def configs(self) -> tuple[Planned, ...]:
        return self.frontier + self.seeds + self.design

    def get(self, param: str) -> Decision | None:
        return next((d for d in self.decisions if d.param == param), None)


def plan_next(analysis, *, budget: int | None = None,
              bounds: dict[str, tuple[float, float]] | None = None) -> NextSweep:
    """The next sweep for ``analysis``: ``budget`` runs (default: this sweep's analysed runs),
    extensions never past ``bounds`` (param -> (low, high), as logged)."""
    from sweepsight.analysis.next_frontier import assemble

    prep = analysis.prep
    bounds = dict(bounds or {})
    unknown = sorted(set(bounds) - set(prep.params))
    if unknown:
        raise SweepError(f"--bounds names {', '.join(unknown)}, not an analysed "
                         f"hyperparameter; analysed: {', '.join(prep.params) or '(none)'}")
    if budget is not None and budget < 1:
        raise SweepError(f"--next-budget {budget}: the next sweep needs at least 1 run")
    decisions = decide(analysis, bounds=bounds)
    return assemble(analysis, decisions, budget=budget or len(prep.runs), bounds=bounds)


def next_sweep_of(analysis) -> NextSweep:
    """The analysis's next sweep (planned here with the defaults when the build did not)."""
    plan = analysis.next_sweep
    return plan if plan is not None else plan_next(analysis)


def decide(analysis, *, bounds: dict[str, tuple[float, float]]) -> tuple[Decision, ...]:
    """One :class:`Decision` per analysed hyperparameter (in ``prep.params`` order)."""
    prep = analysis.prep
    levels = levels_of(analysis)
    table = analysis.importance.table.set_index(analysis.importance.table["param"].astype(str))
    inter = interactions(analysis)
    partners: dict[str, list[str]] = {}
    for pair in (inter.pairs if inter is not None else ()):
        partners.setdefault(pair.param_a, []).append(pair.param_b)
        partners.setdefault(pair.param_b, []).append(pair.param_a)
    from sweepsight.analysis.next_frontier import tops

    best_values = _best_values(analysis)
    top_values: dict[str, set] = {}
    for row, _ in tops(analysis):
        for p in prep.params:
            if p in row.index and _active(row[p]):
                top_values.setdefault(p, set()).add(format_value(row[p]))
    out = []
    for p in prep.params:
        pl = levels.get(p)
        if pl is None:
            continue
        found: pd.Series | None = table.loc[p] if p in table.index else None
        out.append(_decide_one(prep, pl, found, tuple(partners.get(p, ())), best_values.get(p),
                               bounds.get(p), top_values.get(p, set())))
    return tuple(out)


def _best_values(analysis) -> dict[str, object]:
    """The best configuration's exact values (the frozen value of a flat hyperparameter)."""
    configs = analysis.significance.run_configs
    if not len(configs):
        return {}
    top = configs.sort_values("rank", kind="stable").iloc[0]
    return {p: top[p] for p in analysis.prep.params if p in top.index and _active(top[p])}


def _active(value) -> bool:
    return not (value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)))


def _floor_state(row) -> tuple[float | None, float | None, bool | None, float | None]:
    """``(share, noise floor, above the floor, p)`` of one importance row."""
    if row is None:
        return None, None, None, None
    share = float(row["share"]) if "share" in row.index else float(row["importance"])
    floor = float(row["noise_floor"]) if pd.notna(row["noise_floor"]) else None
    a = row["above_floor"]
    above = None if a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a)) else bool(a)
    col = "p_holm" if "p_holm" in row.index else ("p_value" if "p_value" in row.index else None)
    p = float(row[col]) if col is not None and pd.notna(row[col]) else None
    return share, floor, above, p


def _decide_one(prep, pl: ParamLevels, row, partners: tuple[str, ...], best_value,
                bound: tuple[float, float] | None, top: set[str]) -> Decision:
    """``top``: the top configurations' values (as text): never dropped by narrowing."""
    share, floor, above_floor, p_value = _floor_state(row)
    numeric = p_numeric = pl.param in prep.numeric
    tried_vals = [lv.value for lv in pl.levels]
    integer = p_numeric and all(float(v).is_integer() for v in _tried_raw(prep, pl.param))
    base = dict(param=pl.param, numeric=numeric, continuous=pl.binned, log=pl.log,
                integer=integer, share=share, noise_floor=floor, above_noise=pl.above_noise,
                shape=pl.shape, partners=partners, condition=prep.conditions.get(pl.param),
                direction=None, dropped=(), bounded=False, low=None, high=None,
                tried=_tried(prep, pl))
    if pl.binned:
        base.update(low=base["tried"][0], high=base["tried"][1])
    keep_values = () if pl.binned else tuple(tried_vals)
    if not pl.above_noise:
        clear = above_floor is False and floor is not None and share is not None and \
            share <= FREEZE_MARGIN * floor and (p_value is None or p_value >= FREEZE_P) and \
            _levels_p(prep, pl.param) >= FREEZE_P
        if partners:
            return Decision(action=Action.KEEP, values=keep_values, finding=Kind.INTERACTIONS,
                            evidence=INTERACTION_MAP, **base)
        if clear:
            value = best_value if best_value is not None else pl.best_level.value
            return Decision(action=Action.FREEZE, values=(value,), finding=Kind.FLAT,
                            evidence=MARGINALS, **{**base, "low": None, "high": None})
        return Decision(action=Action.NEEDS_SEEDS, values=keep_values, finding=Kind.FLAT,
                        evidence=MARGINALS, **base)
    keep = [i for i, lv in enumerate(pl.levels) if not _worse(pl, i, prep.maximize)
            or _holds(lv, top, pl.binned)]
    k = len(pl.levels)
    if pl.ordered and pl.shape in (Shape.INCREASING, Shape.DECREASING) and pl.best in (0, k - 1):
        ext = _extend(prep, pl, keep, bound)
        if ext is not None and "direction" in ext:
            return Decision(action=Action.EXTEND, finding=Kind.MAIN_EFFECT, evidence=MARGINALS,
                            **{**base, **ext})
        base["bounded"] = ext is not None  # a bound stops it at the edge
    dropped = tuple(pl.levels[i].value for i in range(k) if i not in keep) if not pl.binned \
        else ()
    if len(keep) < k:
        if pl.binned:
            lo, hi = pl.levels[keep[0]].low, pl.levels[keep[-1]].high
            return Decision(action=Action.NARROW, values=(), finding=Kind.MAIN_EFFECT,
                            evidence=MARGINALS, **{**base, "low": lo, "high": hi})
        vals = tuple(pl.levels[i].value for i in (range(keep[0], keep[-1] + 1) if pl.ordered
                                                   else keep))
        return Decision(action=Action.NARROW, values=vals, finding=Kind.MAIN_EFFECT,
                        evidence=MARGINALS, **{**base, "dropped": tuple(
                            v for v in tried_vals if v not in vals)})
    return Decision(action=Action.KEEP, values=keep_values, finding=Kind.MAIN_EFFECT,
                    evidence=MARGINALS, **{**base, "dropped": dropped})


def _levels_p(prep, p: str) -> float:
    """One-way ANOVA of the target over the param's levels (its marginal's bins): a second
    look, on the runs themselves, before a surrogate's small share is read as no effect."""
    from scipy import stats

    from sweepsight.analysis.levels import run_labels

    _, labels = run_labels(prep, p)
    y = prep.runs["y"].to_numpy(dtype=float)
    groups = [y[labels == lab] for lab in pd.unique(labels[labels != None])]  # noqa: E711
    groups = [g[~np.isnan(g)] for g in groups]
    groups = [g for g in groups if g.size]
    if len(groups) < 2 or all(g.size < 2 for g in groups):
        return 1.0
    p_value = float(stats.f_oneway(*groups).pvalue)
    return 1.0 if math.isnan(p_value) else p_value


def _holds(lv, top: set[str], binned: bool) -> bool:
    """The level (a bin: its range) holds one of the top configurations' values."""
    if not binned:
        return format_value(lv.value) in top
    vals = [float(v) for v in top if _is_number(v)]
    return any(lv.low <= v <= lv.high for v in vals)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tried_raw(prep, p: str) -> np.ndarray:
    v = pd.to_numeric(prep.runs[p], errors="coerce").to_numpy(dtype=float)
    return v[~np.isnan(v)]


def _tried(prep, pl: ParamLevels) -> tuple:
    if pl.binned:
        v = _tried_raw(prep, pl.param)
        return (float(v.min()), float(v.max()))
    return tuple(lv.value for lv in pl.levels)


def _worse(pl: ParamLevels, i: int, maximize: bool) -> bool:
    best, other = pl.best_level, pl.levels[i]
    if maximize:
        return bool(other.ci_high < best.ci_low)
    return bool(other.ci_low > best.ci_high)


def _edge_ratio(pl: ParamLevels, up: bool) -> float:
    """The ratio of the two values at the best edge (a bin: its high over its low)."""
    if pl.binned:
        lv = pl.best_level
        assert lv.low is not None and lv.high is not None
        r = lv.high / lv.low if lv.low > 0 else 2.0
    else:
        a, b = float(pl.levels[-2].value), float(pl.levels[-1].value)
        if not up:
            a, b = float(pl.levels[1].value), float(pl.levels[0].value)
        r = b / a
    return r


def _extend(prep, pl: ParamLevels, keep: list[int], bound) -> dict | None:
    """The next values (discrete) or range (continuous) past the best edge, on the tried
    spacing; ``{"bounded": True}`` when a bound (the user's, or 0 for a non-negative one)
    stops it at the edge, None when there is no spacing to continue."""
    up = pl.best == len(pl.levels) - 1
    raw = _tried_raw(prep, pl.param)
    scale = (lambda v: np.log10(v)) if pl.log else (lambda v: np.asarray(v, dtype=float))
    unscale = (lambda x: 10.0 ** x) if pl.log else (lambda x: x)
    lo_lim, hi_lim = bound if bound is not None else (-math.inf, math.inf)
    if raw.min() >= 0:
        lo_lim = max(lo_lim, 0.0)
    edge = float(raw.max() if up else raw.min())
    if pl.binned:
        lv = pl.best_level
        step = float(scale(lv.high) - scale(lv.low))
    else:
        xs = [float(scale(lv.value)) for lv in pl.levels]
        step = xs[-1] - xs[-2] if up else xs[1] - xs[0]
    if not step > 0:
        return None
    sign = 1.0 if up else -1.0
    news = [float(unscale(float(scale(edge)) + sign * step * j)) for j in range(1, EXTEND_STEPS + 1)]
    if raw.min() > 0 and min(news) <= 0:  # a positive one continues on the ratio instead
        ratio = _edge_ratio(pl, up)
        news = [edge * ratio ** j for j in range(1, EXTEND_STEPS + 1)]
    integer = bool(np.all(np.asarray(raw) == np.round(raw)))
    if integer:
        news = [float(math.ceil(v) if up else math.floor(v)) for v in news]
    bounded = any(not lo_lim <= v <= hi_lim for v in news)
    news = sorted({min(max(v, lo_lim), hi_lim) for v in news} - {edge},
                  reverse=not up)
    news = [v for v in news if math.isfinite(v) and (v > edge if up else v < edge)]
    if not news:
        return {"bounded": True}
    kept_lo = keep[0] if keep else 0
    kept_hi = keep[-1] if keep else len(pl.levels) - 1
    out: dict = dict(direction="up" if up else "down", bounded=bounded)
    if pl.binned:
        far = news[-1]
        lo = pl.levels[kept_lo].low if up else far
        hi = far if up else pl.levels[kept_hi].high
        assert lo is not None and hi is not None  # binned levels have bounds
        out.update(values=(), low=float(lo), high=float(hi))
        return out
    kept = [pl.levels[i].value for i in range(kept_lo, kept_hi + 1)]
    vals: list[Any] = [*kept, *news] if up else [*reversed(news), *kept]
    out.update(values=tuple(vals), dropped=tuple(lv.value for lv in pl.levels
                                                 if lv.value not in kept))
    return out


__all__ = ["Action", "Decision", "NextSweep", "Part", "Planned", "Reason", "Status",
           "decide", "next_sweep_of", "plan_next"]
