"""The result type and the one base class every importance evaluator subclasses."""
from __future__ import annotations

import abc
import dataclasses

import pandas as pd

from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import RANDOM_STATE

PAIR_COLUMNS = ["param_a", "param_b", "share", "p_value", "noise_floor", "above_floor"]


@dataclasses.dataclass
class ImportanceResult:
    """Importance of each hyperparameter, with how much of it could be noise.

    ``table``: one row per hyperparameter with at least ``param, importance, noise_floor,
    above_floor`` (plus the evaluator's own columns), sorted by ``importance`` (desc).
    ``share_of``: the denominator of every share: ``"configuration means"`` (the variance
    between configurations, seed noise averaged out: grid path), ``"runs"`` (the run-to-run
    variance, seed noise included: surrogate path), None when there are no shares.
    ``interaction_share``: share of that variance not explained by main effects (None when the
    evaluator does not separate them). ``top_interactions``: ``param_a, param_b, share,
    p_value, noise_floor, above_floor`` (the last three NaN/NA where pairs are not tested).
    ``interaction_p``: F test of the leftover against the within-configuration (seed) error
    (grid with repeated runs; else None); ``interaction_noise_share``: the share seed noise alone
    is expected to leave there; ``interaction_share_corrected``: ``interaction_share`` minus
    it, clipped at 0; ``interaction_above_noise``: ``interaction_p < alpha`` (None: untested).
    ``explained_share``: surrogate path, the share the surrogate explains out of sample.
    ``noise_floor``: the largest per-parameter floor (one line for a chart), None when the
    evaluator has none.
    """

    table: pd.DataFrame
    method: str
    interaction_share: float | None = None
    top_interactions: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=PAIR_COLUMNS))
    noise_floor: float | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    share_of: str | None = None
    interaction_p: float | None = None
    interaction_noise_share: float | None = None
    interaction_share_corrected: float | None = None
    interaction_above_noise: bool | None = None
    explained_share: float | None = None
    #: how the evaluator departed from its full computation (its own enum values, e.g.
    #: ``SurrogateApprox``); empty when it did not
    approximations: list = dataclasses.field(default_factory=list)


class BaseImportanceEvaluator(abc.ABC):
    """One way to score hyperparameters; normalising and sorting happen in the caller."""

    @abc.abstractmethod
    def evaluate(self, prep: Prepared, *, random_state: int = RANDOM_STATE, **kw) -> ImportanceResult:
        """Score every hyperparameter in ``prep.params`` (already restricted by the caller).

        The returned table need not be sorted; ``importance`` is on the evaluator's own scale
        (non-negative), ``above_floor`` says whether a parameter rises above noise (NA if the
        evaluator cannot tell).
        """
