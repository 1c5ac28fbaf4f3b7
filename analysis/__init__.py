"""Analyses of a run table: pure functions returning tidy results (see DESIGN.md).

:func:`analyse` runs them all once; the report notebook calls it and pickles the result.
"""
from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from sweepsight.adapters.schema import RunTable

if TYPE_CHECKING:
    import pandas as pd

    from sweepsight.analysis.forest import ForestResult
    from sweepsight.analysis.importance import ImportanceResult
    from sweepsight.analysis.levels import LevelsResult
    from sweepsight.analysis.linear import LinearResult
    from sweepsight.analysis.prepared import Prepared
    from sweepsight.analysis.significance import SignificanceResult


@dataclasses.dataclass
class Analysis:
    """Everything the report shows, computed once."""

    table: RunTable
    prep: Prepared
    correlation: pd.DataFrame
    linear: LinearResult
    forest: ForestResult
    importance: ImportanceResult
    significance: SignificanceResult
    options: dict
    timings: dict[str, float]
    levels: LevelsResult | None = None  # per-level means, best level, shape (analysis.levels)


def analyse(
    table: RunTable,
    *,
    target: str,
    direction: str | None = None,
    metric_scale: str = "auto",
    budget: str | None = None,
    at_budget: float | str | None = None,
    alpha: float = 0.05,
    test: str = "ks",
    random_state: int = 0,
    n_jobs: int | None = -1,
) -> Analysis:
    """Prepare the sweep and run the four analyses plus the main-effect importance.

    ``n_jobs`` is passed to the forests (forest importance and the main-effect surrogate);
    -1 uses every core. Results do not depend on it.
    """
    from sweepsight.analysis.correlation import correlations
    from sweepsight.analysis.forest import forest_importance
    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.levels import level_effects
    from sweepsight.analysis.linear import fit_linear
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours

    timings: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - start
        return out

    prep = timed("prepare", prepare, table, target=target, direction=direction,
                 metric_scale=metric_scale, budget=budget, at_budget=at_budget)
    importance = timed("importance", get_param_importances, prep, random_state=random_state,
                       n_jobs=n_jobs)
    return Analysis(
        table=table,
        prep=prep,
        correlation=timed("correlation", correlations, prep),
        linear=timed("linear", fit_linear, prep),
        forest=timed("forest", forest_importance, prep, random_state=random_state,
                     n_jobs=n_jobs),
        importance=importance,
        significance=timed("significance", compare_neighbours, prep, alpha=alpha,
                           test=test, random_state=random_state),
        options={"target": target, "direction": direction, "metric_scale": metric_scale,
                 "budget": budget, "at_budget": at_budget, "alpha": alpha, "test": test,
                 "random_state": random_state},
        timings=timings,
        levels=timed("levels", level_effects, prep, importance=importance, alpha=alpha),
    )
