"""The scale a metric is analysed on, chosen by a ladder with a stated, typed reason.

raw -> log10 -> ranks: a heavy-tailed positive metric goes to log10 (a heavy right tail, or
more than 100x on either side of its median); ranks only when a few extreme runs would still
own the variance: the :data:`TOP` most extreme runs (at least one) hold more than
:data:`OWN_LIMIT` of the sum of squared deviations on the last scale tried. The runs beyond
Tukey's far-out fence on that scale are listed: they are the diverged (or collapsed) runs that
made the choice. :func:`headline` and :class:`ScaleCheck` compare what the main effects say on
the chosen scale with what they say on the metric as logged.
"""
from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np
from scipy import stats

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.options import METRIC_SCALES
from sweepsight.analysis.constants import INTERACTIONS_DOMINATE

#: Share of the runs counted as "a few extreme runs" (at least one run).
TOP = 0.01
#: Share of the variance above which those few runs "own" it.
OWN_LIMIT = 0.25
FAR_OUT = 3.0  # Tukey's "far out" fence, in IQRs beyond the quartiles
#: ``--metric-scale`` values
SCALES = METRIC_SCALES  # defined with the other options
# Heavy-tail rule (metric_scale="auto"); see choose_scale.
RATIO_LIMIT = 100.0
SKEW_LIMIT = 2.0
#: Target values beyond this size are left out like inf when the metric is analysed as logged:
#: their squares and sums overflow float64 (1e308 beside -1e308 crashed the forest's R²).
#: On the log10 or rank scale (a few diverged runs at 1e250) they are kept.
HUGE = 1e150
HUGE_REASON = f"target beyond ±{HUGE:.0e} (arithmetic on it overflows)"
#: A metric analysed as logged whose largest value is below this size is analysed times a power
#: of ten (its squares, the variances, would underflow to zero: 1e-310 reads as no effect).
TINY = 1e-150


class Scale(str, enum.Enum):
    RAW = "raw"
    LOG = "log"
    RANK = "rank"


class ScaleReason(str, enum.Enum):
    GIVEN = "given"  # --metric-scale raw/log/rank
    NO_HEAVY_TAIL = "no heavy tail"
    LOG_TAMES_TAIL = "heavy tail of a positive metric, not owned by a few runs on log10"
    OWNED_AFTER_LOG = "a few extreme runs own the variance even after log10"
    OWNED_RAW = "a few extreme runs own the variance; log10 does not apply"
    NOT_OWNED = "heavy tail, but no few runs own the variance; log10 does not apply"
    #: a few extreme runs own the variance, but their hyperparameters explain them (a steered
    #: sweep's early trials in a bad region): not diverged, no ranks
    EXPLAINED = "the extreme runs are explained by their hyperparameters"


@dataclasses.dataclass(frozen=True)
class ScaleChoice:
    """Which scale and why, with the numbers behind it.

    ``tried`` is the last scale the extreme runs were measured on (``raw`` or ``log``);
    ``top_share`` is the share of the variance the :data:`TOP` most extreme runs hold there
    (``n_top`` runs); ``extreme`` are the positions (in the analysed runs) of the runs beyond
    Tukey's far-out fence there, ``extreme_runs`` their run ids (filled by ``prepare``).
    """

    scale: Scale
    reason: ScaleReason
    requested: str
    heavy: bool = False
    tail: str = ""  # the heavy-tail rule's numbers, e.g. "max/median = 3.1e+04 > 100"
    tried: Scale = Scale.RAW
    top_share: float = math.nan
    n_top: int = 0
    extreme: tuple[int, ...] = ()
    extreme_runs: tuple[str, ...] = ()
    #: share of the variance of a cross-fitted forest's residuals the same few runs hold
    #: (measured only where ranks were in question)
    residual_share: float = math.nan
    #: on the raw scale, the target is analysed times ``10**power`` (0: as logged); see TINY
    power: int = 0

    @property
    def name(self) -> str:
        """The scale as ``Prepared.metric_scale`` says it: ``raw``, ``log``, ``rank``, or
        ``×1e310`` for the raw scale times a power of ten (what is said "as logged" still is)."""
        return f"×1e{self.power}" if self.power else self.scale.value

    def sentence(self) -> str:
        """The reason in words (for ``Prepared.scale_reason`` and the notes)."""
        said = self._sentence()
        if self.power:
            said += (f", times 1e{self.power}: its values are below {TINY:.0e}, where their "
                     "squares underflow to zero and no effect could be seen; shares and tests do "
                     "not depend on the unit, and values as logged are still given as logged")
        return said

    def _sentence(self) -> str:
        share = (f"the {self.n_top} most extreme run{'s' if self.n_top != 1 else ''} "
                 f"({TOP:.0%}) hold {self.top_share:.0%} of the variance"
                 + (" on log10" if self.tried is Scale.LOG else ""))
        listed = (f"; {len(self.extreme)} run{'s' if len(self.extreme) != 1 else ''} beyond 3 "
                  f"IQR{' on log10' if self.tried is Scale.LOG else ''}" if self.extreme else "")
        r = self.reason
        if r is ScaleReason.EXPLAINED:
            on = " on log10" if self.tried is Scale.LOG else ""
            return (("log10" if self.scale is Scale.LOG else "as logged")
                    + f": {share}, more than {OWN_LIMIT:.0%}, but their hyperparameters explain "
                    f"them (a forest's out-of-fold residuals{on} leave them "
                    f"{self.residual_share:.0%} of it): the sampler tried a bad region, as an "
                    "optimizer does early, and those runs did not diverge; ranks are kept for "
                    f"runs that do (heavy tail: {self.tail}){listed}")
        if r is ScaleReason.GIVEN:
            return {Scale.RAW: "as logged (--metric-scale raw)",
                    Scale.LOG: "log10 (--metric-scale log)",
                    Scale.RANK: "ranks scaled to (0, 1] (--metric-scale rank)"}[self.scale]
        if r is ScaleReason.NO_HEAVY_TAIL:
            return f"as logged (no heavy tail: {self.tail})"
        if r is ScaleReason.LOG_TAMES_TAIL:
            return (f"log10, because the metric is heavy-tailed ({self.tail}) and on log10 no "
                    f"few runs own the variance ({share}, at most {OWN_LIMIT:.0%}){listed}; the "
                    "direction still holds")
        if r is ScaleReason.OWNED_AFTER_LOG:
            return (f"ranks scaled to (0, 1], because the metric is heavy-tailed ({self.tail}) "
                    f"and even after log10 a few runs own the variance ({share}, more than "
                    f"{OWN_LIMIT:.0%}){listed}; the direction still holds")
        if r is ScaleReason.OWNED_RAW:
            return (f"ranks scaled to (0, 1], because the metric is heavy-tailed ({self.tail}), "
                    f"log10 does not apply (not positive, or the tail is on the low side) and "
                    f"a few runs own the variance ({share}, more than {OWN_LIMIT:.0%}){listed}; "
                    "the direction still holds")
        return (f"as logged: the metric is heavy-tailed ({self.tail}) and log10 does not apply "
                f"(not positive, or the tail is on the low side), but no few runs own the "
                f"variance ({share}, at most {OWN_LIMIT:.0%}){listed}")


def top_share(y: np.ndarray, *, top: float = TOP) -> tuple[float, int]:
    """The share of the sum of squared deviations from the mean held by the ``top`` share of
    runs (at least one) farthest from it, and how many runs that is."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return math.nan, 0
    k = max(1, math.ceil(top * len(y)))
    big = np.max(np.abs(y))
    u = y / big if big > 0 and np.isfinite(big) else y  # no overflow at 1e308
    d2 = (u - u.mean()) ** 2
    total = float(d2.sum())
    if total == 0:
        return 0.0, k
    return float(np.sort(d2)[-k:].sum() / total), k


def far_out(y: np.ndarray) -> tuple[int, ...]:
    """Positions of the values beyond Tukey's far-out fence (3 IQR past a quartile)."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return ()
    big = np.max(np.abs(y))
    u = y / big if big > 0 and np.isfinite(big) else y
    q1, q3 = np.percentile(u, [25, 75])
    iqr = q3 - q1
    if iqr <= 0:
        return ()
    beyond = (u > q3 + FAR_OUT * iqr) | (u < q1 - FAR_OUT * iqr)
    return tuple(int(i) for i in np.flatnonzero(beyond))


def residual_share(y: np.ndarray, X: np.ndarray, *, seed: int = 0) -> float:
    """The share of the variance of ``y`` that its :data:`TOP` most extreme runs still hold
    once their hyperparameters have had their say: their squared out-of-fold residuals (an
    ExtraTrees forest predicting ``y`` from the design ``X``, 5 folds) over the sum of squared
    deviations of ``y``. A diverged run stays extreme there; a run that is bad because its
    hyperparameters are bad does not."""
    from sklearn.ensemble import ExtraTreesRegressor

    y = np.asarray(y, dtype=float)
    big = float(np.max(np.abs(y))) if len(y) else 0.0
    y = y / big if big > 0 and np.isfinite(big) else y  # shares do not depend on the unit
    folds = np.random.RandomState(seed).permutation(len(y)) % 5
    oof = np.empty_like(y)
    for k in range(5):
        test = folds == k
        model = ExtraTreesRegressor(n_estimators=50, min_samples_leaf=2, random_state=seed + k)
        oof[test] = model.fit(X[~test], y[~test]).predict(X[test])
    k = max(1, math.ceil(TOP * len(y)))
    d = y - y.mean()
    total = float((d * d).sum())
    top = np.argsort(d * d)[-k:]
    return float(((y - oof)[top] ** 2).sum() / total) if total > 0 else 0.0


#: fewest runs (and encoded columns >= 1) for the ladder to ask whether hyperparameters explain
#: the extreme runs
MIN_EXPLAIN_RUNS = 20


def climb(y: np.ndarray, *, heavy: bool, tail: str, right: bool,
          X: np.ndarray | None = None) -> ScaleChoice:
    """The ladder for ``--metric-scale auto``, given the heavy-tail test's verdict on ``y``
    (``tail``: its numbers; ``right``: a positive metric whose tail is on the high side or
    spans 100x, where log10 applies). Before going to ranks, with the design ``X``: when a
    forest's out-of-fold residuals leave the few extreme runs at most :data:`OWN_LIMIT`, their
    hyperparameters explain them (a steered sweep's bad region), and the scale stays."""
    y = np.asarray(y, dtype=float)
    if not heavy:
        return ScaleChoice(Scale.RAW, ScaleReason.NO_HEAVY_TAIL, "auto", False, tail)
    tried = np.log10(y) if right else y
    share, k = top_share(tried)
    stay = Scale.LOG if right else Scale.RAW
    rest = math.nan
    if share > OWN_LIMIT and X is not None and X.shape[1] and len(y) >= MIN_EXPLAIN_RUNS:
        rest = residual_share(tried, X)
        if rest <= OWN_LIMIT:
            return ScaleChoice(stay, ScaleReason.EXPLAINED, "auto", True, tail, stay, share, k,
                               far_out(tried), residual_share=rest)
    if right:
        reason = ScaleReason.OWNED_AFTER_LOG if share > OWN_LIMIT else ScaleReason.LOG_TAMES_TAIL
        scale = Scale.RANK if share > OWN_LIMIT else Scale.LOG
        return ScaleChoice(scale, reason, "auto", True, tail, Scale.LOG, share, k, far_out(tried),
                           residual_share=rest)
    if share > OWN_LIMIT:
        return ScaleChoice(Scale.RANK, ScaleReason.OWNED_RAW, "auto", True, tail, Scale.RAW,
                           share, k, far_out(y), residual_share=rest)
    return ScaleChoice(Scale.RAW, ScaleReason.NOT_OWNED, "auto", True, tail, Scale.RAW, share, k,
                       far_out(y))


def choose_scale(y: np.ndarray, metric_scale: str,
                 X: np.ndarray | None = None) -> tuple[np.ndarray, ScaleChoice]:
    """The target on the analysis scale and the typed choice.

    Rule for ``"auto"`` (documented in the report): the metric is heavy-tailed when it is
    positive and spans more than 100x on either side of its median (max/median or median/min
    > 100), or when its sample skewness exceeds 2 in size *and* some value lies beyond Tukey's
    far-out fence (3 IQR past a quartile). Then the ladder of :func:`analysis.scale.climb`:
    log10 for a positive metric with a heavy right tail (or a 100x span), ranks (mid-ranks
    scaled to (0, 1]) only when a few extreme runs own the variance even so, and (given the
    design ``X``) their hyperparameters do not explain them. On the raw scale, a metric below
    :data:`TINY` is analysed times a power of ten (``ScaleChoice.power``).
    """
    y = np.asarray(y, dtype=float)
    positive = bool(np.all(y > 0))
    if metric_scale == "raw":
        return _untiny(y, ScaleChoice(Scale.RAW, ScaleReason.GIVEN, "raw"))
    if metric_scale == "log":
        if not positive:
            raise SweepError(
                f"--metric-scale log needs a positive metric, but its minimum is {y.min():.4g}; "
                "use --metric-scale rank instead."
            )
        return np.log10(y), ScaleChoice(Scale.LOG, ScaleReason.GIVEN, "log")
    if metric_scale == "rank":
        return rank_scale(y), ScaleChoice(Scale.RANK, ScaleReason.GIVEN, "rank")
    heavy, detail, by_ratio = heavy_tail(y)
    right = positive and (by_ratio or skew(y) > 0)
    choice = climb(y, heavy=heavy, tail=detail, right=right, X=X)
    if choice.scale is Scale.RAW:
        return _untiny(y, choice)
    return (np.log10(y) if choice.scale is Scale.LOG else rank_scale(y)), choice


def tiny_power(y: np.ndarray) -> int:
    """The power of ten that brings the largest finite ``|y|`` into [1, 10) when it is below
    :data:`TINY` (and not zero); else 0."""
    y = np.asarray(y, dtype=float)
    finite = np.abs(y[np.isfinite(y)])
    big = float(finite.max()) if len(finite) else 0.0
    return -math.floor(math.log10(big)) if 0 < big < TINY else 0


def times_ten(y: np.ndarray, power: int) -> np.ndarray:
    """``y * 10**power`` in two steps (``10.0**310`` alone overflows)."""
    half = power // 2
    return np.asarray(y, dtype=float) * 10.0 ** half * 10.0 ** (power - half)


def tiny_safe_std(values: np.ndarray, *, axis=None, ddof: int = 1):
    """``values.std(axis=axis, ddof=ddof)``, computed times :func:`tiny_power` of them and
    divided back, so that the deviations of values below :data:`TINY` do not square to zero."""
    values = np.asarray(values, dtype=float)
    power = tiny_power(values)
    if not power:
        return values.std(axis=axis, ddof=ddof)
    return times_ten(times_ten(values, power).std(axis=axis, ddof=ddof), -power)


def _untiny(y: np.ndarray, choice: ScaleChoice) -> tuple[np.ndarray, ScaleChoice]:
    power = tiny_power(y)
    if not power:
        return y, choice
    return times_ten(y, power), dataclasses.replace(choice, power=power)


def overflowing(y: np.ndarray, metric_scale: str) -> np.ndarray:
    """Which of the finite targets ``y`` to leave out like inf: those beyond ±:data:`HUGE`,
    when they stand beside values of ordinary size (a metric in huge units everywhere is scaled,
    not dropped) and the ladder keeps the metric as logged, where their arithmetic overflows
    (log10 or ranks tame them: diverged runs at 1e250 are kept)."""
    y = np.asarray(y, dtype=float)
    huge = np.abs(y) > HUGE
    if not huge.any() or float(np.median(np.abs(y))) > HUGE:
        return np.zeros(len(y), dtype=bool)
    try:
        raw = choose_scale(y, metric_scale)[1].scale is Scale.RAW
    except SweepError:  # --metric-scale log of a non-positive metric: said later, in order
        raw = False
    return huge if raw else np.zeros(len(y), dtype=bool)


def _unit(y: np.ndarray) -> np.ndarray:
    """``y`` centred and divided by its largest deviation: moments without overflow."""
    y = np.asarray(y, dtype=float)
    if not len(y):
        return y
    big = np.max(np.abs(y))
    if big > 0 and np.isfinite(big):
        y = y / big  # first, so that y - median cannot overflow (1e308 and -1e308)
    d = y - np.median(y)
    top = np.max(np.abs(d))
    return d / top if top > 0 and np.isfinite(top) else d


def skew(y: np.ndarray) -> float:
    """Sample skewness (biased, as ``scipy.stats.skew``) computed on :func:`_unit` values, so
    that neither 1e308 nor a mean near zero overflows; 0 for a constant."""
    c = _unit(y)
    c = c - c.mean()
    m2 = float(np.mean(c * c)) if len(c) else 0.0
    return float(np.mean(c ** 3) / m2 ** 1.5) if m2 > 0 else 0.0


def heavy_tail(y: np.ndarray, *, ratio: bool = True) -> tuple[bool, str, bool]:
    """Whether ``y`` is heavy-tailed by the rule of :func:`choose_scale`, the numbers, and
    whether the 100x ratio rule (rather than the skewness rule) said so."""
    if ratio and len(y) and np.all(y > 0):
        med = float(np.median(y))
        hi, lo = float(y.max()) / med, med / float(y.min())
        if hi > RATIO_LIMIT or lo > RATIO_LIMIT:
            what = f"max/median = {hi:.2g}" if hi >= lo else f"median/min = {lo:.2g}"
            return True, f"{what} > {RATIO_LIMIT:g}", True
    u = _unit(y)
    sk = skew(u)
    q1, q3 = np.percentile(u, [25, 75])
    iqr = q3 - q1
    far = int(np.sum((u > q3 + FAR_OUT * iqr) | (u < q1 - FAR_OUT * iqr))) if iqr > 0 else 0
    detail = f"skewness {sk:.2g}, {far} value{'s' if far != 1 else ''} beyond 3 IQR"
    return abs(sk) > SKEW_LIMIT and far > 0, detail, False


def rank_scale(y: np.ndarray) -> np.ndarray:
    return stats.rankdata(y) / len(y)


@dataclasses.dataclass(frozen=True)
class Headline:
    """What the main effects say first: the top hyperparameter above its noise floor (None when
    nothing rises above it) and whether interactions dominate."""

    top: str | None
    interactions: bool


def headline(imp) -> Headline:
    """The headline of a main-effects :class:`~analysis.importance.ImportanceResult`: on a grid,
    interactions dominate when they rise above seed noise and (net of noise) exceed half of the
    variance between configurations, or nothing else rises above noise; on the surrogate path,
    when they exceed half of what the surrogate explains out of sample."""
    t = imp.table
    above = t[t["above_floor"].fillna(False).astype(bool)]
    col = "share" if "share" in above else "importance"
    top = str(above.sort_values(col, ascending=False, kind="mergesort")["param"].iloc[0]) \
        if len(above) else None
    if imp.share_of == "configuration means":
        inter = bool(imp.interaction_above_noise) and (
            top is None or (imp.interaction_share_corrected or 0.0) > INTERACTIONS_DOMINATE)
    else:
        share, explained = imp.interaction_share, imp.explained_share
        inter = bool(share is not None and explained is not None and explained > 0
                     and share > INTERACTIONS_DOMINATE * explained)
    return Headline(top, inter)


@dataclasses.dataclass(frozen=True)
class ScaleCheck:
    """The main effects' headline on the analysis scale and on the metric as logged; made by
    ``analysis.analyse`` whenever the two scales differ. ``differs`` says whether the report
    must give both."""

    scale: Scale
    chosen: Headline
    as_logged: Headline

    @property
    def differs(self) -> bool:
        return self.chosen != self.as_logged
