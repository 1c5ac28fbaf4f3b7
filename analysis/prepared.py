"""The prepared sweep: what every analysis takes as input (built by :mod:`analysis.prepare`)."""
from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from sweepsight.analysis.scale import ScaleChoice


class Aside(str, enum.Enum):
    """Why a column is not analysed as a hyperparameter (the typed twin of ``set_aside``)."""

    SEED = "seed"
    BUDGET = "budget"
    TRACKER = "tracker internals"
    IDENTIFIER = "identifier"  # by its name, or values like ids, URLs, hashes, timestamps
    PATH = "path"
    OUTCOME_NAME = "outcome by its name"  # runtime, duration, *_s, memory, the last step
    OUTCOME_VALUES = "outcome by its values"  # a different value in almost every run
    ALL_MISSING = "missing"
    CONSTANT = "constant"
    TOO_MANY_LEVELS = "too many levels"
    ALIAS = "alias"


@dataclasses.dataclass(frozen=True)
class AsideReason:
    """Why one column is set aside: its ``kind``, the short ``label`` the notes group columns
    by, and the whole reason ``text`` (the value in ``Prepared.set_aside``)."""

    kind: Aside
    label: str
    text: str

    @classmethod
    def of(cls, kind: Aside, label: str, detail: str = "") -> AsideReason:
        """``label (detail)``, or the label alone."""
        return cls(kind, label, f"{label} ({detail})" if detail else label)


#: The reasons that make a column an outcome of the run (``--param NAME`` forces it in).
OUTCOMES = (Aside.OUTCOME_NAME, Aside.OUTCOME_VALUES)


@dataclasses.dataclass(frozen=True)
class Condition:
    """When a conditional hyperparameter is set: by the level of ``parent``; it is inactive at
    ``inactive_levels`` and active at ``active_levels`` (levels as text)."""

    parent: str
    inactive_levels: tuple[str, ...]
    active_levels: tuple[str, ...]

    def describe(self) -> str:
        """``inactive when solver = adam`` (the sentence in ``Prepared.conditional``)."""
        if len(self.inactive_levels) == 1:
            return f"inactive when {self.parent} = {self.inactive_levels[0]}"
        if len(self.active_levels) == 1:
            return f"inactive when {self.parent} != {self.active_levels[0]}"
        return f"inactive when {self.parent} is one of {', '.join(self.inactive_levels)}"


@dataclasses.dataclass
class Prepared:
    """A run table made ready for analysis; every step taken is a sentence in ``notes``.

    ``runs`` holds one row per analysed run: ``run_id``, ``name``, each analysed hyperparameter
    under its bare name (original values; NaN/None where inactive or missing), the seed column
    if any, ``y`` (target on the analysis scale) and ``y_raw`` (as logged). ``X`` is the encoded
    design matrix aligned with ``runs`` (float, no NaN) and ``feature_param`` maps each of its
    columns back to a hyperparameter. ``conditional`` describes in words when each conditional
    hyperparameter is inactive; ``conditions`` holds the same as data (parent and levels).
    """

    target: str
    direction: str  # "maximize" | "minimize"
    direction_reason: str
    metric_scale: str  # "raw" | "log" | "rank"
    scale_reason: str
    runs: pd.DataFrame
    params: list[str]
    numeric: list[str]
    categorical: list[str]
    log_scaled: list[str]
    X: pd.DataFrame
    feature_param: dict[str, str]
    seed: str | None = None
    excluded: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=["run_id", "name", "reason"])
    )
    set_aside: dict[str, str] = dataclasses.field(default_factory=dict)
    aliases: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    conditional: dict[str, str] = dataclasses.field(default_factory=dict)
    conditions: dict[str, Condition] = dataclasses.field(default_factory=dict)
    budget: str | None = None
    budget_counts: pd.Series | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    #: param -> why it was set aside, typed (same keys as ``set_aside``)
    set_aside_kind: dict[str, Aside] = dataclasses.field(default_factory=dict)
    #: params named with ``--param``: analysed even where a rule would set them aside
    forced: list[str] = dataclasses.field(default_factory=list)
    #: the choice of ``metric_scale``, typed; None when built by hand
    scale: ScaleChoice | None = None

    @property
    def outcomes(self) -> list[str]:
        """Columns set aside as outcomes of the runs (runtime, memory, ...)."""
        return [p for p, k in self.set_aside_kind.items() if k in OUTCOMES]

    @property
    def y(self) -> pd.Series:
        return self.runs["y"]

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"
