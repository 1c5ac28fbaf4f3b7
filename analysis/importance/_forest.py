"""Forest evaluators: thin views of :func:`analysis.forest.forest_importance`."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sweepsight.analysis.forest import forest_importance
from sweepsight.analysis.importance._base import BaseImportanceEvaluator, ImportanceResult
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import ALPHA, RANDOM_STATE


class ForestImpurityEvaluator(BaseImportanceEvaluator):
    """ExtraTrees mean decrease in impurity (in-sample; no noise floor)."""

    def evaluate(self, prep: Prepared, *, random_state: int = RANDOM_STATE, **kw) -> ImportanceResult:
        res = forest_importance(prep, random_state=random_state, **kw)
        table = res.table.copy()
        table["importance"] = table["impurity"]
        table["noise_floor"] = np.nan
        table["above_floor"] = pd.array([pd.NA] * len(table), dtype="boolean")
        notes = res.notes + res.warnings + [
            "Impurity importance is measured on the runs the forest was grown on: it has no "
            "noise floor and favours hyperparameters with many distinct values (a 40-level "
            "parameter that does nothing can outrank a 2-level one that matters)."]
        return ImportanceResult(table=table, method="forest_impurity", notes=notes)


class PermutationEvaluator(BaseImportanceEvaluator):
    """Held-out grouped permutation importance of the ExtraTrees surrogate."""

    def evaluate(self, prep: Prepared, *, random_state: int = RANDOM_STATE, alpha: float = ALPHA,
                 **kw) -> ImportanceResult:
        res = forest_importance(prep, random_state=random_state, **kw)
        table = res.table.copy()
        k = max(res.n_folds, 2)
        # one-sided bound over folds: the mean drop must exceed t * standard error to count
        floor = stats.t.ppf(1 - alpha, k - 1) * table["permutation_std"] / np.sqrt(k - 1)
        table["importance"] = table["permutation"].clip(lower=0)
        table["noise_floor"] = floor
        table["above_floor"] = table["permutation"] > floor
        notes = res.notes + res.warnings + [
            f"A hyperparameter rises above the noise floor when its mean drop in held-out R² "
            f"exceeds the one-sided {1 - alpha:.0%} t bound from its spread across the "
            f"{res.n_folds} folds."]
        return ImportanceResult(table=table, method="permutation",
                                noise_floor=float(np.nanmax(floor)) if len(floor) else None,
                                notes=notes)

