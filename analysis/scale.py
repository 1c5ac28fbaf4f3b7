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

from sweepsight.analysis.constants import INTERACTIONS_DOMINATE

#: Share of the runs counted as "a few extreme runs" (at least one run).
TOP = 0.01
#: Share of the variance above which those few runs "own" it.
OWN_LIMIT = 0.25
FAR_OUT = 3.0  # Tukey's "far out" fence, in IQRs beyond the quartiles


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

    def sentence(self) -> str:
        """The reason in words (for ``Prepared.scale_reason`` and the notes)."""
        share = (f"the {self.n_top} most extreme run{'s' if self.n_top != 1 else ''} "
                 f"({TOP:.0%}) hold {self.top_share:.0%} of the variance"
                 + (" on log10" if self.tried is Scale.LOG else ""))
        listed = (f"; {len(self.extreme)} run{'s' if len(self.extreme) != 1 else ''} beyond 3 "
                  f"IQR{' on log10' if self.tried is Scale.LOG else ''}" if self.extreme else "")
        r = self.reason
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


def climb(y: np.ndarray, *, heavy: bool, tail: str, right: bool) -> ScaleChoice:
    """The ladder for ``--metric-scale auto``, given the heavy-tail test's verdict on ``y``
    (``tail``: its numbers; ``right``: a positive metric whose tail is on the high side or
    spans 100x, where log10 applies)."""
    y = np.asarray(y, dtype=float)
    if not heavy:
        return ScaleChoice(Scale.RAW, ScaleReason.NO_HEAVY_TAIL, "auto", False, tail)
    if right:
        logged = np.log10(y)
        share, k = top_share(logged)
        reason = ScaleReason.OWNED_AFTER_LOG if share > OWN_LIMIT else ScaleReason.LOG_TAMES_TAIL
        scale = Scale.RANK if share > OWN_LIMIT else Scale.LOG
        return ScaleChoice(scale, reason, "auto", True, tail, Scale.LOG, share, k, far_out(logged))
    share, k = top_share(y)
    if share > OWN_LIMIT:
        return ScaleChoice(Scale.RANK, ScaleReason.OWNED_RAW, "auto", True, tail, Scale.RAW,
                           share, k, far_out(y))
    return ScaleChoice(Scale.RAW, ScaleReason.NOT_OWNED, "auto", True, tail, Scale.RAW, share, k,
                       far_out(y))


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
    if getattr(imp, "share_of", None) == "configuration means":
        inter = bool(getattr(imp, "interaction_above_noise", False)) and (
            top is None or (imp.interaction_share_corrected or 0.0) > INTERACTIONS_DOMINATE)
    else:
        share, explained = imp.interaction_share, getattr(imp, "explained_share", None)
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
