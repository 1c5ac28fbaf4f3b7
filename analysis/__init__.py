"""Analyses of a run table: pure functions returning tidy results (see DESIGN.md).

:func:`analyse` runs them all once; the report notebook calls it and pickles the result.
"""
from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Callable

from sweepsight.adapters.schema import RunTable

if TYPE_CHECKING:
    import pandas as pd

    from sweepsight.analysis.compare import BaselineOrigin, Comparison
    from sweepsight.analysis.forest import ForestResult
    from sweepsight.analysis.importance import ImportanceResult
    from sweepsight.analysis.levels import LevelsResult
    from sweepsight.analysis.linear import LinearResult
    from sweepsight.analysis.prepared import Prepared
    from sweepsight.analysis.scale import ScaleCheck
    from sweepsight.analysis.shrinkage import BestEstimate
    from sweepsight.analysis.significance import SignificanceResult
    from sweepsight.analysis.steering import Steering


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
    #: the main effects' headline on the analysis scale and as logged (None on the raw scale)
    scale_check: ScaleCheck | None = None
    #: this sweep against ``--baseline`` (analysis.compare; None without a baseline)
    comparison: Comparison | None = None
    #: where the baseline came from, or why there is none (None: no --baseline was asked for)
    baseline: BaselineOrigin | None = None
    #: each configuration's mean estimated from all runs and the best by it
    #: (analysis.shrinkage; None with fewer than 3 configurations)
    best_estimate: BestEstimate | None = None
    #: whether an optimizer steered the sweep, from the data (analysis.steering)
    steering: Steering | None = None


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
    progress: Callable[[str, float], None] | None = None,
) -> Analysis:
    """Prepare the sweep and run the four analyses plus the main-effect importance.

    ``n_jobs`` is passed to the forests (forest importance and the main-effect surrogate);
    -1 uses every core. Results do not depend on it. ``progress``, if given, is called after
    each stage with its name (``prepare``, ``correlation``, ``linear``, ``forest``,
    ``importance``, ``significance``: the keys of ``timings``) and its wall seconds, so a caller
    can show that the analysis is moving; it must not raise.
    """
    from sweepsight.analysis.correlation import correlations
    from sweepsight.analysis.forest import forest_importance
    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.levels import level_effects
    from sweepsight.analysis.linear import fit_linear
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.shrinkage import estimate_best
    from sweepsight.analysis.significance import compare_neighbours
    from sweepsight.analysis.steering import detect_steering

    timings: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - start
        if progress is not None:
            progress(name, timings[name])
        return out

    prep = timed("prepare", prepare, table, target=target, direction=direction,
                 metric_scale=metric_scale, budget=budget, at_budget=at_budget)
    importance = timed("importance", get_param_importances, prep, random_state=random_state,
                       n_jobs=n_jobs)
    result = Analysis(
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
    result.scale_check = timed("scale check", scale_check, prep, result.importance,
                               random_state=random_state, n_jobs=n_jobs)
    result.best_estimate = timed("best estimate", estimate_best, prep, alpha=alpha,
                                 random_state=random_state, n_jobs=n_jobs)
    result.steering = timed("steering", detect_steering, prep, table,
                            random_state=random_state)
    return result


def scale_check(prep, importance, *, random_state: int = 0, n_jobs: int | None = -1):
    """The main effects' headline on the analysis scale beside the one on the metric as logged
    (main effects run once more, on ``y_raw``); None when the analysis scale is the raw one."""
    import dataclasses

    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.scale import ScaleCheck, headline

    if prep.metric_scale == "raw":
        return None
    y = prep.runs["y_raw"].astype(float)
    big = float(y.abs().max())
    # shares do not depend on the unit; dividing first keeps 1e250 from overflowing squares
    raw = dataclasses.replace(prep, runs=prep.runs.assign(y=y / big if big > 0 else y),
                              metric_scale="raw")
    as_logged = get_param_importances(raw, random_state=random_state, n_jobs=n_jobs)
    return ScaleCheck(scale=prep.scale.scale if prep.scale is not None else prep.metric_scale,
                      chosen=headline(importance), as_logged=headline(as_logged))
