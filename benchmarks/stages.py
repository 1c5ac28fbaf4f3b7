"""Time each stage on one sweep file in a fresh process: ``python -m benchmarks.stages FILE``.

Prints one JSON object: per stage the wall seconds, the CPU seconds of this process (all its
threads) and the peak resident memory so far (MB). Run in its own process so that the peak
belongs to this sweep alone. The forests get ``n_jobs=-1``, as :func:`analysis.analyse` gives
them.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

ANALYSES = ("prepare", "correlation", "linear", "forest", "main_effects", "significance")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(path: str) -> None:
    from sweepsight import adapters
    from sweepsight.analysis.correlation import correlations
    from sweepsight.analysis.forest import forest_importance
    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.linear import fit_linear
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours

    out: dict = {"imports": {"seconds": 0.0, "cpu_seconds": time.process_time(),
                             "peak_mb": peak_mb()},
                 "load_average_before": os.getloadavg()}
    state: dict = {}

    def stage(name, fn):
        start, cpu = time.perf_counter(), time.process_time()
        state[name] = fn()
        out[name] = {"seconds": time.perf_counter() - start,
                     "cpu_seconds": time.process_time() - cpu, "peak_mb": peak_mb()}

    stage("load", lambda: adapters.load("csv", {"path": path}))
    stage("prepare", lambda: prepare(state["load"], target="val_loss"))
    prep = state["prepare"]
    stage("correlation", lambda: correlations(prep))
    stage("linear", lambda: fit_linear(prep))
    stage("forest", lambda: forest_importance(prep, n_jobs=-1))
    stage("main_effects", lambda: get_param_importances(prep, evaluator="main_effects",
                                                        n_jobs=-1))
    stage("significance", lambda: compare_neighbours(prep))
    out["analyses_total"] = {
        "seconds": sum(out[k]["seconds"] for k in ANALYSES),
        "cpu_seconds": sum(out[k]["cpu_seconds"] for k in ANALYSES),
        "peak_mb": peak_mb(),
    }
    out["load_average_after"] = os.getloadavg()
    out["main_effects_method"] = state["main_effects"].method
    out["forest_cv_r2"] = state["forest"].cv_r2
    out["n_configs"] = int(len(state["significance"].configs))
    out["n_pairs"] = int(len(state["significance"].pairs))
    forest = state["forest"].table.set_index("param")["permutation"]
    main = state["main_effects"].table.set_index("param")["importance"]
    out["rankings"] = {"forest_permutation": forest.to_dict(), "main_effects": main.to_dict()}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
