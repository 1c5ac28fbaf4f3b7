"""Main-effect variance shares (functional ANOVA), with a noise floor.

Two paths, chosen from the design (:func:`detect_grid`): on a (nearly) complete grid whose
configurations repeat, the exact decomposition and ANOVA of :mod:`._grid_anova`; otherwise
(random or Bayesian search, incomplete grids) the cross-fitted forest surrogate of
:mod:`._surrogate`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from sweepsight.analysis import grouping
from sweepsight.analysis.importance._base import BaseImportanceEvaluator, ImportanceResult
from sweepsight.analysis.importance._grid_anova import grid_main_effects
from sweepsight.analysis.importance._surrogate import surrogate_main_effects
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import ALPHA, RANDOM_STATE

GRID_COVERAGE = 0.8


class MainEffectsEvaluator(BaseImportanceEvaluator):
    """Variance share of each hyperparameter's main effect (grid ANOVA or surrogate fANOVA)."""

    def evaluate(self, prep: Prepared, *, random_state: int = RANDOM_STATE, method: str = "auto",
                 alpha: float = ALPHA, **kw) -> ImportanceResult:
        codes = level_codes(prep)
        grid, why = detect_grid(codes)
        if method not in ("auto", "grid", "surrogate"):
            raise ValueError(f"method must be 'auto', 'grid' or 'surrogate', not {method!r}")
        use_grid = grid if method == "auto" else method == "grid"
        if use_grid:
            return grid_main_effects(prep, codes, alpha=alpha, notes=[why])
        # on a (nearly) full grid the runs already are the searched space: the surrogate
        # averages over them (its search-space background was worse calibrated there: a
        # 40-level parameter of pure noise above its floor for 3 of 10 seeds, 1 of 10 so)
        kw.setdefault("space", not grid)
        return surrogate_main_effects(prep, random_state=random_state, alpha=alpha,
                                      notes=[why], **kw)


def level_codes(prep: Prepared) -> pd.DataFrame:
    """Integer level of every run for each analysed hyperparameter (NaN is a level)."""
    return pd.DataFrame({p: grouping.level_codes(prep.runs[p]) for p in prep.params},
                        index=prep.runs.index)


def detect_grid(codes: pd.DataFrame) -> tuple[bool, str]:
    """Whether the configurations form a (nearly) full grid, and a sentence saying why."""
    n = len(codes)
    levels = codes.max().to_numpy() + 1
    product = float(np.prod(levels.astype(float)))
    n_configs = grouping.n_groups([codes[p].to_numpy() for p in codes])
    coverage = n_configs / product
    per_config = n / n_configs
    resid_df = n - 1 - int((levels - 1).sum())
    desc = (f"{n_configs} configurations cover {coverage:.0%} of the {product:.3g} "
            f"combinations of levels, {per_config:.1f} runs each on average")
    if coverage >= GRID_COVERAGE and (per_config >= 2 or coverage == 1.0) and resid_df > 0:
        return True, f"Grid design ({desc}): main effects from configuration means and ANOVA."
    return False, (f"Not a repeated full grid ({desc}): main effects from a cross-fitted "
                   "forest surrogate, with a shuffled-metric noise floor.")
