"""Which value is best: per-level means with intervals for every analysed hyperparameter.

For each hyperparameter the runs are grouped by its level (numeric ones with many distinct
values into quantile bins, on log10 where the analysis uses it); each level gets the mean of
the target over its runs with a t interval, on the analysis scale and as logged. The best level
follows the metric's direction, and the shape says how the metric moves with the value:
flat within noise (decided by the main-effect noise test), rising, falling, peaked (best level
interior and worse on both sides beyond the intervals) or levelling off.
"""
from __future__ import annotations

import dataclasses
import enum

import numpy as np
import pandas as pd
from scipy import stats

from sweepsight.analysis.constants import LEVEL_BINS, LEVEL_CONFIDENCE, MAX_ORDERED_LEVELS
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import ALPHA
from sweepsight.analysis.scale import tiny_safe_std


class Shape(enum.Enum):
    """How the target's mean moves with a hyperparameter's value."""

    FLAT = "flat"  # not above noise: no level is shown to be better
    INCREASING = "increasing"  # the mean rises with the value (best at an end)
    DECREASING = "decreasing"  # the mean falls as the value rises (best at an end)
    PEAKED = "peaked"  # best level interior, worse on both sides beyond the intervals
    LEVELS_OFF = "levels off"  # best level interior, worse beyond the intervals on one side
    UNCLEAR = "unclear"  # above noise, but no clear shape (not monotone, intervals overlap)
    UNORDERED = "unordered"  # categorical: a best level, no order


@dataclasses.dataclass(frozen=True)
class Level:
    """One level (or bin) of a hyperparameter and the target over its runs.

    ``value``: the level as logged (for a bin, the median logged value in it); ``low``/``high``:
    a bin's edges as logged (None for a plain level); ``x``: the position on the analysis scale
    (log10 where analysed on log; None for a categorical level). ``mean``/``ci_low``/``ci_high``:
    target on the analysis scale; ``*_raw``: as logged (``median_raw``: robust to a heavy tail).
    Intervals are NaN for a single run.
    """

    label: str
    value: float | str | bool
    x: float | None
    low: float | None
    high: float | None
    n: int
    mean: float
    ci_low: float
    ci_high: float
    mean_raw: float
    ci_low_raw: float
    ci_high_raw: float
    median_raw: float


@dataclasses.dataclass(frozen=True)
class ParamLevels:
    """The marginal effect of one hyperparameter.

    ``best``: index into ``levels`` of the best level by the metric's direction; ``worse_below``
    / ``worse_above``: some lower / higher level is worse than the best beyond both intervals
    (ordered params only). ``above_noise`` comes from ``test`` (``"main effect"``: the
    importance's noise floor; ``"one-way ANOVA"`` otherwise) with ``p_value`` where it has one.
    ``n_inactive``: runs where the param is unset (not in any level).
    """

    param: str
    ordered: bool
    log: bool
    binned: bool
    levels: tuple[Level, ...]
    best: int
    shape: Shape
    worse_below: bool
    worse_above: bool
    above_noise: bool
    test: str
    p_value: float | None
    n_inactive: int

    @property
    def best_level(self) -> Level:
        return self.levels[self.best]

    def best_as_logged(self, maximize: bool) -> int:
        """Index of the best level by the mean as logged (``best`` is chosen on the analysis
        scale: on log10 or ranks the two may differ)."""
        means = np.array([lv.mean_raw for lv in self.levels], dtype=float)
        if not np.isfinite(means).any():
            return self.best
        return int(np.nanargmax(means) if maximize else np.nanargmin(means))


@dataclasses.dataclass(frozen=True)
class LevelsResult:
    """Marginal effects of every analysed hyperparameter (in ``prep.params`` order)."""

    params: tuple[ParamLevels, ...]
    maximize: bool
    confidence: float

    def get(self, param: str) -> ParamLevels | None:
        return next((p for p in self.params if p.param == param), None)


def level_effects(prep: Prepared, *, importance=None, alpha: float = ALPHA,
                  confidence: float = LEVEL_CONFIDENCE, max_levels: int = MAX_ORDERED_LEVELS,
                  bins: int = LEVEL_BINS) -> LevelsResult:
    """Per-level means with ``confidence`` intervals, best level and shape for every param.

    ``importance`` (an :class:`~analysis.importance.ImportanceResult`) supplies the flat-or-not
    test: a param is above noise when its main effect rises above its noise floor. Without it
    (or where the floor is undecided) a one-way ANOVA over the levels at ``alpha`` decides.
    """
    floors: dict[str, bool] = {}
    p_values: dict[str, float] = {}
    if importance is not None:
        t = importance.table
        for p, a in zip(t["param"], t["above_floor"]):
            if a is not None and a is not pd.NA and not (isinstance(a, float) and np.isnan(a)):
                floors[str(p)] = bool(a)
        pcol = "p_holm" if "p_holm" in t else ("p_value" if "p_value" in t else None)
        if pcol is not None:
            p_values = {str(p): float(v) for p, v in zip(t["param"], t[pcol]) if pd.notna(v)}
    out = []
    for p in prep.params:
        out.append(_one(prep, p, floors.get(p), p_values.get(p), alpha=alpha,
                        confidence=confidence, max_levels=max_levels, bins=bins))
    return LevelsResult(params=tuple(x for x in out if x is not None), maximize=prep.maximize,
                        confidence=confidence)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    n = values.size
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * tiny_safe_std(values) / np.sqrt(n))
    return mean, mean - half, mean + half


def _groups(prep: Prepared, p: str, *, max_levels: int, bins: int):
    """``(ordered, log, binned, [(label, value, x, low, high, run mask)])`` for param ``p``."""
    col = prep.runs[p]
    active = col.notna().to_numpy().copy()
    if p in prep.numeric:
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        active &= ~np.isnan(vals)
        log = p in prep.log_scaled and bool(np.all(vals[active] > 0))
        scaled = np.full(vals.shape, np.nan)
        scaled[active] = np.log10(vals[active]) if log else vals[active]
        distinct = np.unique(vals[active])
        if distinct.size <= max_levels:
            return True, log, False, [
                (_fmt(v), float(v), float(np.log10(v) if log else v), None, None,
                 active & (vals == v)) for v in distinct]
        edges = np.unique(np.quantile(scaled[active], np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges[1:-1], scaled, side="right"), 0, len(edges) - 2)
        raw_edges = 10.0 ** edges if log else edges
        groups = []
        for i in range(len(edges) - 1):
            mask = active & (which == i)
            if not mask.any():
                continue
            lo, hi = float(raw_edges[i]), float(raw_edges[i + 1])
            close = "]" if i == len(edges) - 2 else ")"
            groups.append((f"[{_fmt(lo)}, {_fmt(hi)}{close}", float(np.median(vals[mask])),
                           float(np.median(scaled[mask])), lo, hi, mask))
        return True, log, True, groups
    obj = col.astype(object).to_numpy()
    levels = sorted({v for v, a in zip(obj, active) if a}, key=lambda v: (str(type(v)), str(v)))
    return False, False, False, [(_fmt(v), v, None, None, None,
                                  active & np.array([x == v for x in obj])) for v in levels]


def _one(prep: Prepared, p: str, floor: bool | None, p_value: float | None, *, alpha: float,
         confidence: float, max_levels: int, bins: int) -> ParamLevels | None:
    ordered, log, binned, groups = _groups(prep, p, max_levels=max_levels, bins=bins)
    if not groups:
        return None
    y = prep.runs["y"].to_numpy(dtype=float)
    y_raw = prep.runs["y_raw"].to_numpy(dtype=float) if "y_raw" in prep.runs else y
    levels = []
    for label, value, x, lo, hi, mask in groups:
        m, cl, ch = _interval(y[mask], confidence)
        mr, clr, chr_ = _interval(y_raw[mask], confidence)
        levels.append(Level(label=label, value=value, x=x, low=lo, high=hi, n=int(mask.sum()),
                            mean=m, ci_low=cl, ci_high=ch, mean_raw=mr, ci_low_raw=clr,
                            ci_high_raw=chr_, median_raw=float(np.median(y_raw[mask]))))
    if floor is not None:
        above, test = floor, "main effect"
    else:
        samples = [y[g[-1]] for g in groups if g[-1].sum() > 0]
        test = "one-way ANOVA"
        p_value = (float(stats.f_oneway(*samples).pvalue)
                   if len(samples) > 1 and all(s.size > 1 for s in samples) else None)
        above = p_value is not None and p_value < alpha
    means = np.array([lv.mean for lv in levels])
    best = int(np.argmax(means) if prep.maximize else np.argmin(means))
    worse = [_worse(levels[best], lv, prep.maximize) for lv in levels]
    below = ordered and any(worse[:best])
    over = ordered and any(worse[best + 1:])
    steps = np.diff(means)
    monotone = bool(np.all(steps >= 0) or np.all(steps <= 0))
    shape = _shape(ordered=ordered, above=above, best=best, k=len(levels), below=below,
                   above_side=over, maximize=prep.maximize, monotone=monotone)
    n_inactive = int(len(prep.runs) - sum(lv.n for lv in levels))
    return ParamLevels(param=p, ordered=ordered, log=log, binned=binned, levels=tuple(levels),
                       best=best, shape=shape, worse_below=below, worse_above=over,
                       above_noise=above, test=test, p_value=p_value, n_inactive=n_inactive)


def _worse(best: Level, other: Level, maximize: bool) -> bool:
    """``other`` is worse than ``best`` beyond both intervals (they do not overlap)."""
    if maximize:
        return bool(other.ci_high < best.ci_low)
    return bool(other.ci_low > best.ci_high)


def _shape(*, ordered: bool, above: bool, best: int, k: int, below: bool, above_side: bool,
           maximize: bool, monotone: bool) -> Shape:
    """At an end, the best level makes a rising or falling shape when the means are monotone
    or the far side is worse beyond the intervals (the noise test has already said the param
    matters); interior, peaked needs both sides worse beyond the intervals."""
    if not above:
        return Shape.FLAT
    if not ordered:
        return Shape.UNORDERED
    if 0 < best < k - 1:
        if below and above_side:
            return Shape.PEAKED
        return Shape.LEVELS_OFF if (below or above_side) else Shape.UNCLEAR
    at_top = best == k - 1
    if not (monotone or (below if at_top else above_side)):
        return Shape.UNCLEAR
    rises = at_top == maximize  # the best is the highest value and higher is better, or ...
    return Shape.INCREASING if rises else Shape.DECREASING


def _fmt(value) -> str:
    from sweepsight.analysis.configs import format_value

    return format_value(value)


def run_labels(prep: Prepared, param: str, *, max_levels: int = MAX_ORDERED_LEVELS,
               bins: int = LEVEL_BINS) -> tuple[list[str], np.ndarray]:
    """The levels (or bins) of ``param`` in order, and each run's level label (None where the
    param is inactive): the same grouping as :func:`level_effects`."""
    _, _, _, groups = _groups(prep, param, max_levels=max_levels, bins=bins)
    out = np.full(len(prep.runs), None, dtype=object)
    for label, *_, mask in groups:
        out[mask] = label
    return [g[0] for g in groups], out
