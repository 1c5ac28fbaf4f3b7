"""Thresholds, verdict states and test names, defined once for the analyses, pages and summary."""
from __future__ import annotations

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

#: Verdicts of a neighbour comparison (from the neighbour's point of view).
BETTER = "better"
WORSE = "worse"
NOT_SIGNIFICANT = "not significant"
NOT_TESTABLE = "not testable"
#: No outcome could have reached significance with these sample sizes (issue 14's verdict).
CANNOT_TELL = "cannot tell"
VERDICTS = (BETTER, WORSE, NOT_SIGNIFICANT, CANNOT_TELL, NOT_TESTABLE)

#: How the report names the test behind the significance verdicts (``--test``), and the
#: pairs-table column holding its p-value.
TEST_NAMES = {"ks": "KS test", "welch": "Welch's t-test", "mannwhitney": "Mann-Whitney U test"}
TEST_P_COLUMNS = {"ks": "ks_p", "welch": "t_p", "mannwhitney": "mw_p"}
