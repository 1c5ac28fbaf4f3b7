"""The next sweep against the truth, by simulation: ``python -m benchmarks.next_truth [--reps N]``.

On analytic sweeps with a known optimum, a sweep is run (grid or random search, with seeds and
Gaussian noise), analysed, and its proposed next sweep of the same size is run on the same
function. Each sweep picks its configuration with the best observed mean; a sweep's *true
best* is the function's noiseless value there. Measured over replicates:

- ``next_beats``: how often the next sweep's true best beats this sweep's;
- ``next_holds``/``rerun_holds``: the same for the best true value among all the
  configurations each ran (not only the one its noisy means pick);
- ``rerun_beats``: how often re-running this sweep's design (the same grid, or new draws of the
  same random search) with new seeds beats it;
- ``bad_freezes``: hyperparameters frozen although their true share (of the same variance the
  analysis's shares are of) is above the analysis's noise floor for them;
- ``extend_seen``: where the true optimum lies beyond the tried range, the plan says extend in
  that direction.

Writes ``benchmarks/results/next_truth.json`` and ``next_truth.md``; ``nox -s bench`` runs it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


@dataclasses.dataclass(frozen=True)
class Case:
    """An analytic sweep: the loss (lower is better) is the sum of ``parts`` (param -> its
    additive term, a function of that param's values), so each hyperparameter's true main
    effect is known exactly; its design (``grid`` values, or ``draw(rng, n)`` for random
    search), seeds, noise, and where the optimum lies beyond the tried range (param -> "up" /
    "down")."""

    name: str
    parts: dict[str, Callable[[np.ndarray], np.ndarray]]
    grid: dict[str, list] | None
    draw: Callable[[np.random.Generator, int], pd.DataFrame] | None
    n_configs: int
    seeds: int
    noise: float
    beyond: dict[str, str]

    def truth(self, d: pd.DataFrame) -> np.ndarray:
        return np.sum([np.asarray(f(d[p].to_numpy()), dtype=float)
                       for p, f in self.parts.items()], axis=0)


def _log10(v: np.ndarray) -> np.ndarray:
    return np.log10(v.astype(float))


EDGE = {"lr": lambda v: 0.5 * (_log10(v) + 1.0) ** 2,  # optimum at 0.1: past the tried 1e-2
        "width": lambda v: 0.2 * (np.log2(v.astype(float)) - 6.0) ** 2,
        "optimizer": lambda v: 0.3 * (v == "sgd"),
        "junk": lambda v: 0.0 * v.astype(float)}
INSIDE = {"lr": lambda v: 0.4 * (_log10(v) + 3.0) ** 2,
          "dropout": lambda v: 4.0 * (v.astype(float) - 0.1) ** 2,
          "optimizer": lambda v: 0.4 * (v == "sgd"),
          "junk": lambda v: 0.0 * v.astype(float)}


def _interior_draw(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"lr": 10 ** rng.uniform(-5, -1, n), "dropout": rng.uniform(0, 0.5, n),
                         "optimizer": rng.choice(["adam", "sgd"], n),
                         "junk": rng.uniform(0, 1, n)})


CASES = {
    "grid, optimum past the edge": Case(
        "grid, optimum past the edge", EDGE,
        grid={"lr": [1e-4, 1e-3, 1e-2], "width": [32.0, 64.0, 128.0],
              "optimizer": ["adam", "sgd"], "junk": [0.0, 1.0]},
        draw=None, n_configs=0, seeds=3, noise=0.3, beyond={"lr": "up"}),
    "random search, optimum inside": Case(
        "random search, optimum inside", INSIDE, grid=None, draw=_interior_draw,
        n_configs=40, seeds=2, noise=0.15, beyond={}),
}


def design(case: Case, rng: np.random.Generator) -> pd.DataFrame:
    """This sweep's configurations (a grid, or ``n_configs`` draws)."""
    if case.grid is not None:
        import itertools

        return pd.DataFrame(list(itertools.product(*case.grid.values())), columns=list(case.grid))
    assert case.draw is not None
    return case.draw(rng, case.n_configs)


def run(case: Case, configs: pd.DataFrame, seeds, rng: np.random.Generator) -> pd.DataFrame:
    """Runs of ``configs`` (``seeds``: one number for all, or one per configuration) with
    noise: columns ``config`` (row of ``configs``), ``seed``, the params and ``loss``."""
    reps = np.full(len(configs), seeds) if np.ndim(seeds) == 0 else np.asarray(seeds)
    idx = np.repeat(np.arange(len(configs)), reps)
    runs = configs.iloc[idx].reset_index(drop=True)
    seed = np.concatenate([np.arange(r) for r in reps]) if len(reps) else np.zeros(0, int)
    loss = case.truth(runs) + rng.normal(0.0, case.noise, len(runs))
    return runs.assign(config=idx, seed=seed, loss=loss)


def table_of(runs: pd.DataFrame, params: list[str]):
    from sweepsight.adapters.schema import build_table

    frame = pd.DataFrame({"run_id": [f"run-{i:05d}" for i in range(len(runs))],
                          "name": [f"cfg{c}-s{s}" for c, s in zip(runs["config"], runs["seed"])],
                          "state": "finished"})
    for p in params:
        frame[f"params.{p}"] = runs[p].to_numpy(dtype=object)
    frame["params.seed"] = runs["seed"].to_numpy()
    frame["metrics.loss"] = runs["loss"].to_numpy()
    return build_table(frame, source="csv", seed="seed", where="simulated sweep")


def pick(case: Case, configs: pd.DataFrame, runs: pd.DataFrame) -> float:
    """The true loss of the configuration with the best observed mean."""
    means = runs.groupby("config")["loss"].mean()
    return float(case.truth(configs.iloc[[int(means.idxmin())]])[0])


def true_shares(case: Case, prep, share_of: str | None) -> dict[str, float]:
    """Each hyperparameter's true main-effect share over this sweep's runs: the variance of
    its own term over the variance the analysis's shares are of (configuration means, or
    runs: seed noise included)."""
    runs = prep.runs
    total = float(np.var(case.truth(runs))) + (case.noise ** 2 if share_of == "runs" else 0.0)
    return {p: float(np.var(case.parts[p](runs[p].to_numpy()))) / total if total > 0 else 0.0
            for p in prep.params}


def replicate(case: Case, rep: int) -> dict:
    """One replicate: this sweep, its plan, the plan run, and a rerun of this design."""
    from sweepsight.analysis import analyse
    from sweepsight.analysis.next_sweep import Action, plan_next

    rng = np.random.default_rng(1000 + rep)
    configs = design(case, rng)
    params = list(configs.columns)
    runs = run(case, configs, case.seeds, rng)
    analysis = analyse(table_of(runs, params), target="loss", direction="minimize", n_jobs=1,
                       random_state=rep)
    plan = plan_next(analysis)
    this_best = pick(case, configs, runs)
    rerun_configs = design(case, rng)
    rerun_best = pick(case, rerun_configs, run(case, rerun_configs, case.seeds, rng))
    planned = pd.DataFrame([c.as_dict for c in plan.configs], columns=params)
    next_best = pick(case, planned, run(case, planned, [c.seeds for c in plan.configs], rng))
    this_min = float(case.truth(configs).min())
    holds = {"next_min": float(case.truth(planned).min()) if len(planned) else math.inf,
             "rerun_min": float(case.truth(rerun_configs).min()), "this_min": this_min}
    imp = analysis.importance
    floors = dict(zip(imp.table["param"].astype(str), imp.table["noise_floor"].astype(float)))
    shares = true_shares(case, analysis.prep, imp.share_of)
    frozen = [d.param for d in plan.decisions if d.action is Action.FREEZE]
    bad = [p for p in frozen if shares[p] > floors.get(p, 0.0)]
    extends = {d.param: d.direction for d in plan.decisions if d.action is Action.EXTEND}
    return {"rep": rep, "this": this_best, "next": next_best, "rerun": rerun_best, **holds,
            "runs": len(runs), "planned_runs": plan.used, "frozen": frozen, "bad_freezes": bad,
            "extend_seen": all(extends.get(p) == way for p, way in case.beyond.items()),
            "actions": {d.param: d.action.value for d in plan.decisions}}


def measure(case: Case, reps: int) -> dict:
    start = time.perf_counter()
    rows = [replicate(case, r) for r in range(reps)]
    return {"case": case.name, "reps": reps,
            "next_beats": float(np.mean([r["next"] < r["this"] for r in rows])),
            "rerun_beats": float(np.mean([r["rerun"] < r["this"] for r in rows])),
            "next_holds": float(np.mean([r["next_min"] < r["this_min"] for r in rows])),
            "rerun_holds": float(np.mean([r["rerun_min"] < r["this_min"] for r in rows])),
            "bad_freezes": int(sum(len(r["bad_freezes"]) for r in rows)),
            "freezes": int(sum(len(r["frozen"]) for r in rows)),
            "extend_seen": float(np.mean([r["extend_seen"] for r in rows])) if case.beyond else None,
            "seconds": time.perf_counter() - start, "replicates": rows}


def to_markdown(results: list[dict]) -> str:
    lines = ["| sweep | replicates | next sweep beats this one (its pick) | rerun of this design "
             "beats it | next sweep holds a better configuration | rerun holds one "
             "| freezes (of a param above its floor) | extend in the optimum's direction |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        ext = "n/a" if r["extend_seen"] is None else f"{100 * r['extend_seen']:.0f}%"
        lines.append(f"| {r['case']} | {r['reps']} | {100 * r['next_beats']:.0f}% | "
                     f"{100 * r['rerun_beats']:.0f}% | {100 * r['next_holds']:.0f}% | "
                     f"{100 * r['rerun_holds']:.0f}% | {r['freezes']} ({r['bad_freezes']}) | {ext} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str], *, results: Path = RESULTS) -> str:
    reps = int(argv[argv.index("--reps") + 1]) if "--reps" in argv else 20
    out = [measure(case, reps) for case in CASES.values()]
    results.mkdir(parents=True, exist_ok=True)
    (results / "next_truth.json").write_text(json.dumps(out, indent=1, default=str))
    text = to_markdown(out)
    (results / "next_truth.md").write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
