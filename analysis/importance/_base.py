"""The result type and the one base class every importance evaluator subclasses."""
from __future__ import annotations

import abc
import dataclasses

import pandas as pd

from analysis.prepared import Prepared


@dataclasses.dataclass
class ImportanceResult:
    """Importance of each hyperparameter, with how much of it could be noise.

    ``table``: one row per hyperparameter with at least ``param, importance, noise_floor,
    above_floor`` (plus the evaluator's own columns), sorted by ``importance`` (desc).
    ``interaction_share``: share of the variance not explained by main effects (None when the
    evaluator does not separate them). ``top_interactions``: ``param_a, param_b, share``.
    ``noise_floor``: the largest per-parameter floor (one line for a chart), None when the
    evaluator has none.
    """

    table: pd.DataFrame
    method: str
    interaction_share: float | None = None
    top_interactions: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=["param_a", "param_b", "share"]))
    noise_floor: float | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


class BaseImportanceEvaluator(abc.ABC):
    """One way to score hyperparameters; normalising and sorting happen in the caller."""

    @abc.abstractmethod
    def evaluate(self, prep: Prepared, *, random_state: int = 0, **kw) -> ImportanceResult:
        """Score every hyperparameter in ``prep.params`` (already restricted by the caller).

        The returned table need not be sorted; ``importance`` is on the evaluator's own scale
        (non-negative), ``above_floor`` says whether a parameter rises above noise (NA if the
        evaluator cannot tell).
        """
