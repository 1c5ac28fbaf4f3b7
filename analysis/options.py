"""The options of one analysis, defined once: their defaults, their checks, and which stage
reads which.

:class:`AnalysisOptions` is frozen and checked when it is made; the edges make it (the CLI
from its flags, ``--from-snapshot`` from the snapshot's ``report_options``, the API from
:func:`analysis.analyse`'s keywords) and pass it whole. The ``for_*`` methods are the only
place that says which stage takes which option, so an option cannot be dropped on the way to
one stage (``alpha`` once never reached the main effects' noise floor). Light: no pandas.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.constants import TEST_P_COLUMNS

#: The two-sample tests behind the significance verdicts (``--test``).
TESTS = tuple(TEST_P_COLUMNS)
#: How the metric is analysed (``--metric-scale``; analysis.scale.SCALES).
METRIC_SCALES = ("auto", "raw", "log", "rank")
DIRECTIONS = ("maximize", "minimize")

ALPHA = 0.05
TEST = "ks"
N_BOOT = 2000
RANDOM_STATE = 0
METRIC_SCALE = "auto"


class OptionError(SweepError):
    """An option's value is out of range; ``field`` names it, ``reason`` says what it must be."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}={value!r} {reason}.")


@dataclasses.dataclass(frozen=True)
class AnalysisOptions:
    """What an analysis is run with. ``target``: the metric explained; ``direction``: None
    guesses it from the metric's name; ``budget``/``at_budget``: the budget hyperparameter
    and the budget analysed (None: each configuration at its largest; ``"max"``); ``alpha``:
    the level of every test and 1 - the intervals' level; ``test``: the neighbour test;
    ``n_boot``: bootstrap resamples per interval; ``random_state``: the seed every random
    step is drawn from."""

    target: str
    direction: str | None = None
    metric_scale: str = METRIC_SCALE
    budget: str | None = None
    at_budget: float | str | None = None
    alpha: float = ALPHA
    test: str = TEST
    n_boot: int = N_BOOT
    random_state: int = RANDOM_STATE

    def __post_init__(self) -> None:
        for name in ("direction", "budget", "at_budget"):  # "" from a form or a flag: unset
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)
        self._check()

    def _check(self) -> None:
        if not isinstance(self.target, str) or not self.target:
            raise OptionError("target", self.target, "must name a metric")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise OptionError("direction", self.direction, f"must be one of {', '.join(DIRECTIONS)}")
        if self.metric_scale not in METRIC_SCALES:
            raise OptionError("metric_scale", self.metric_scale,
                              f"must be one of {', '.join(METRIC_SCALES)}")
        if self.budget is not None and not isinstance(self.budget, str):
            raise OptionError("budget", self.budget, "must name a hyperparameter")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, Real) \
                or not 0 < float(self.alpha) < 1 or math.isnan(float(self.alpha)):
            raise OptionError("alpha", self.alpha, "must be between 0 and 1 (e.g. 0.05)")
        object.__setattr__(self, "alpha", float(self.alpha))
        if self.test not in TESTS:
            raise OptionError("test", self.test, f"must be one of {', '.join(TESTS)}")
        for name, least in (("n_boot", 1), ("random_state", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
                raise OptionError(name, value, f"must be a whole number of at least {least}")
            object.__setattr__(self, name, int(value))

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *,
                     label: Callable[[str], str] = lambda name: name) -> AnalysisOptions:
        """The options in ``values`` (keys that are not options are ignored: a snapshot of a
        later version may hold more), checked; an error names the option by ``label(name)``
        (e.g. ``--alpha``, or the snapshot's file)."""
        known = {k: values[k] for k in cls.fields() if k in values}
        try:
            return cls(**known)
        except OptionError as exc:
            raise SweepError(f"{label(exc.field)} {exc.value!r} {exc.reason}.") from None
        except TypeError:  # no target
            raise SweepError(f"{label('target')} is missing: name the metric to explain.") from None

    @classmethod
    def of(cls, options: AnalysisOptions | None = None, **given: Any) -> AnalysisOptions:
        """``options`` with the ``given`` keywords replacing its fields (the API's keywords:
        ``analyse(table, target=..., alpha=...)``); without ``options``, made from them."""
        if options is None:
            return cls(**given)
        return dataclasses.replace(options, **given) if given else options

    def as_dict(self) -> dict[str, Any]:
        """Every option by name (the snapshot's ``report_options``)."""
        return dataclasses.asdict(self)

    # -- which stage takes which option (the only place that says so) --
    def for_prepare(self) -> dict[str, Any]:
        return {"target": self.target, "direction": self.direction,
                "metric_scale": self.metric_scale, "budget": self.budget,
                "at_budget": self.at_budget}

    def for_importance(self) -> dict[str, Any]:
        """The main effects: their noise floors and interaction tests at ``alpha``."""
        return {"alpha": self.alpha, "random_state": self.random_state}

    def for_forest(self) -> dict[str, Any]:
        return {"random_state": self.random_state}

    def for_levels(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def for_significance(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "test": self.test, "n_boot": self.n_boot,
                "random_state": self.random_state}

    def for_comparison(self) -> dict[str, Any]:
        return self.for_significance()

    def for_best_estimate(self) -> dict[str, Any]:
        """The best configuration's estimate: the rerun seeds' power at ``alpha``."""
        return {"alpha": self.alpha, "random_state": self.random_state}

    def for_steering(self) -> dict[str, Any]:
        return {"random_state": self.random_state}
