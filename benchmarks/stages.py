"""Time each stage on one sweep file in a fresh process: ``python -m benchmarks.stages FILE``.

Prints one JSON object: seconds per stage and the peak resident memory after each stage (MB).
Run in its own process so that the peak belongs to this sweep alone.
"""
from __future__ import annotations

import json
import resource
import sys
import time


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(path: str) -> None:
    import adapters
    from analysis.correlation import correlations
    from analysis.forest import forest_importance
    from analysis.importance import get_param_importances
    from analysis.linear import fit_linear
    from analysis.prepare import prepare
    from analysis.significance import compare_neighbours

    out: dict[str, dict[str, float]] = {"imports": {"seconds": 0.0, "peak_mb": peak_mb()}}
    state: dict = {}

    def stage(name, fn):
        start = time.perf_counter()
        state[name] = fn()
        out[name] = {"seconds": time.perf_counter() - start, "peak_mb": peak_mb()}

    stage("load", lambda: adapters.load("csv", {"path": path}))
    stage("prepare", lambda: prepare(state["load"], target="val_loss"))
    prep = state["prepare"]
    stage("correlation", lambda: correlations(prep))
    stage("linear", lambda: fit_linear(prep))
    stage("forest", lambda: forest_importance(prep))
    stage("main_effects", lambda: get_param_importances(prep, evaluator="main_effects"))
    stage("significance", lambda: compare_neighbours(prep))
    out["analyses_total"] = {
        "seconds": sum(out[k]["seconds"] for k in
                       ("prepare", "correlation", "linear", "forest", "main_effects", "significance")),
        "peak_mb": peak_mb(),
    }
    forest = state["forest"].table.set_index("param")["permutation"]
    main = state["main_effects"].table.set_index("param")["importance"]
    out["rankings"] = {"forest_permutation": forest.to_dict(), "main_effects": main.to_dict()}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
