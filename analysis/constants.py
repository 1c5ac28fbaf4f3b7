"""Thresholds, verdict states and test names, defined once for the analyses, pages and summary."""
from __future__ import annotations

import enum

#: The forest's cross-validated R² below which its importances are no evidence / only rough.
CV_R2_LOW = 0.1
CV_R2_ROUGH = 0.5
#: Linear-model R² below which a straight line explains little of the metric.
LINEAR_R2_LOW = 0.1
#: Variance inflation factor above which a linear coefficient is unreliable.
VIF_HIGH = 10.0
#: Interaction share above which interactions, not main effects, explain the configurations.
INTERACTIONS_DOMINATE = 0.5
#: Confidence of the per-level intervals (marginal effects).
LEVEL_CONFIDENCE = 0.95
#: Numeric hyperparameters with more distinct values than this are binned for their marginal.
MAX_ORDERED_LEVELS = 12
#: Quantile bins of a binned numeric hyperparameter.
LEVEL_BINS = 5

class Verdict(str, enum.Enum):
    """A neighbour's verdict against its configuration, from the neighbour's point of view
    (the pairs table's ``verdict`` column holds the values, as a pandas categorical).

    ``CANNOT_TELL``: no outcome of the chosen test could reach alpha here (the smallest
    attainable p, Holm-adjusted over the neighbourhood, is not below alpha: too few seeds or
    too many neighbours). ``NOT_SIGNIFICANT``: the test could have reached alpha and did not.
    ``NOT_TESTABLE``: a side has fewer than 2 runs.
    """

    BETTER = "better"
    WORSE = "worse"
    NOT_SIGNIFICANT = "not significant"
    CANNOT_TELL = "cannot tell"
    NOT_TESTABLE = "not testable"


#: The verdicts as the plain strings the pairs table holds.
BETTER = Verdict.BETTER.value
WORSE = Verdict.WORSE.value
NOT_SIGNIFICANT = Verdict.NOT_SIGNIFICANT.value
NOT_TESTABLE = Verdict.NOT_TESTABLE.value
CANNOT_TELL = Verdict.CANNOT_TELL.value
VERDICTS = tuple(v.value for v in Verdict)

#: How the report names the test behind the significance verdicts (``--test``), and the
#: pairs-table column holding its p-value.
TEST_NAMES = {"ks": "KS test", "welch": "Welch's t-test", "mannwhitney": "Mann-Whitney U test"}
TEST_P_COLUMNS = {"ks": "ks_p", "welch": "t_p", "mannwhitney": "mw_p"}
