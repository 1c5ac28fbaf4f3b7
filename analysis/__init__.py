"""Analyses of a run table: pure functions returning tidy results (see DESIGN.md).

:func:`analyse` runs them all once; the report notebook calls it and pickles the result.
"""
from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Callable

from sweepsight.analysis.options import AnalysisOptions

if TYPE_CHECKING:
    import pandas as pd

    from sweepsight.adapters.schema import RunTable

    from sweepsight.analysis.compare import BaselineOrigin, Comparison
    from sweepsight.analysis.forest import ForestResult
    from sweepsight.analysis.importance import ImportanceResult
    from sweepsight.analysis.levels import LevelsResult
    from sweepsight.analysis.linear import LinearResult
    from sweepsight.analysis.next_sweep import NextSweep
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
    options: AnalysisOptions
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
    #: the proposed next sweep (analysis.next_sweep; the build sets it with its budget/bounds)
    next_sweep: NextSweep | None = None


def analyse(
    table: RunTable,
    options: AnalysisOptions | None = None,
    *,
    n_jobs: int | None = -1,
    progress: Callable[[str, float], None] | None = None,
    **given: Any,
) -> Analysis:
    """Prepare the sweep and run the four analyses plus the main-effect importance.

    ``options`` (an :class:`~analysis.options.AnalysisOptions`), or its fields as keywords
    (``analyse(table, target="loss", alpha=0.01)``; with ``options`` they replace its fields).
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

    o = AnalysisOptions.of(options, **given)
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - start
        if progress is not None:
            progress(name, timings[name])
        return out

    prep = timed("prepare", prepare, table, **o.for_prepare())
    importance = timed("importance", get_param_importances, prep, **o.for_importance(),
                       n_jobs=n_jobs)
    result = Analysis(
        table=table,
        prep=prep,
        correlation=timed("correlation", correlations, prep),
        linear=timed("linear", fit_linear, prep),
        forest=timed("forest", forest_importance, prep, **o.for_forest(), n_jobs=n_jobs),
        importance=importance,
        significance=timed("significance", compare_neighbours, prep, **o.for_significance()),
        options=o,
        timings=timings,
        levels=timed("levels", level_effects, prep, importance=importance, **o.for_levels()),
    )
    result.scale_check = timed("scale check", scale_check, prep, result.importance, o,
                               n_jobs=n_jobs)
    result.best_estimate = timed("best estimate", estimate_best, prep, **o.for_best_estimate(),
                                 n_jobs=n_jobs)
    result.steering = timed("steering", detect_steering, prep, table, **o.for_steering())
    return result


def scale_check(prep: Prepared, importance: ImportanceResult, options: AnalysisOptions, *,
                n_jobs: int | None = -1) -> ScaleCheck | None:
    """The main effects' headline on the analysis scale beside the one on the metric as logged
    (main effects run once more, on ``y_raw``); None when the analysis scale is the raw one."""
    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.scale import Scale, ScaleCheck, headline

    if prep.metric_scale == "raw":
        return None
    y = prep.runs["y_raw"].astype(float)
    big = float(y.abs().max())
    # shares do not depend on the unit; dividing first keeps 1e250 from overflowing squares
    raw = dataclasses.replace(prep, runs=prep.runs.assign(y=y / big if big > 0 else y),
                              metric_scale="raw")
    as_logged = get_param_importances(raw, **options.for_importance(), n_jobs=n_jobs)
    return ScaleCheck(scale=prep.scale.scale if prep.scale is not None else Scale(prep.metric_scale),
                      chosen=headline(importance), as_logged=headline(as_logged))
