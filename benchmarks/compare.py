"""Side-by-side measurements against Optuna's importance evaluators and raw MLflow."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import stats


def optuna_importances(frame: pd.DataFrame, *, evaluator: str) -> tuple[dict[str, float], float]:
    """Optuna's importances on the same runs (one trial per run); returns (importances, seconds)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = [c for c in frame.columns if c.startswith("params.") and c != "params.seed"]
    y = frame["metrics.val_loss"].to_numpy()
    keep = np.isfinite(y)
    dists = {}
    for col in params:
        values = frame[col]
        if not pd.api.types.is_numeric_dtype(values):
            dists[col[7:]] = CategoricalDistribution(sorted(values.unique().tolist()))
        else:
            low, high = float(values.min()), float(values.max())
            dists[col[7:]] = FloatDistribution(low, high, log=low > 0 and high / low >= 100)
    trials = [
        optuna.trial.create_trial(
            params={name: (v if isinstance(v, str) else float(v)) for name, v in
                    zip(dists, row)},
            distributions=dists, value=float(np.log10(val)))
        for row, val in zip(frame.loc[keep, params].itertuples(index=False), y[keep])
    ]
    study = optuna.create_study()
    study.add_trials(trials)
    if evaluator not in OPTUNA_EVALUATORS:
        raise ValueError(f"unknown Optuna evaluator {evaluator!r}; valid: {', '.join(OPTUNA_EVALUATORS)}")
    ev = (optuna.importance.PedAnovaImportanceEvaluator() if evaluator == "ped_anova"
          else optuna.importance.FanovaImportanceEvaluator(seed=0))
    start = time.perf_counter()
    result = optuna.importance.get_param_importances(study, evaluator=ev)
    return dict(result), time.perf_counter() - start


OPTUNA_EVALUATORS = {"ped_anova": "Optuna's default (PED-ANOVA)", "fanova": "fANOVA (seed 0)"}


def optuna_in_subprocess(csv, *, evaluator: str, timeout: float) -> dict:
    """:func:`optuna_importances` on the sweep in ``csv`` in a child process, stopped after
    ``timeout`` seconds: ``{"importances", "seconds"}`` or ``{"timed_out": timeout}``."""
    import json
    import subprocess
    import sys

    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.compare", str(csv), evaluator],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timed_out": timeout}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.splitlines()[-1])


def rank_agreement(a: dict[str, float], b: dict[str, float]) -> float:
    """Spearman correlation of two importance dicts over their shared keys."""
    keys = sorted(set(a) & set(b))
    if len(keys) < 3:
        return float("nan")
    return float(stats.spearmanr([a[k] for k in keys], [b[k] for k in keys]).statistic)


def top_overlap(a: dict[str, float], b: dict[str, float], k: int = 3) -> int:
    """How many of ``a``'s top ``k`` are among ``b``'s top ``k`` (the rest of a ranking is
    mostly the order of noise parameters, which Spearman over all keys mixes in)."""
    top = lambda d: set(sorted(d, key=d.get, reverse=True)[:k])  # noqa: E731
    return len(top(a) & top(b))


def mlflow_overhead(frame: pd.DataFrame, workdir) -> dict[str, float]:
    """Log ``frame`` into a sqlite store, then time raw ``mlflow.search_runs`` and our adapter."""
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from sweepsight import adapters

    uri = f"sqlite:///{workdir}/bench.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("bench")
    params = [c for c in frame.columns if c.startswith("params.")]
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for name, pvals, mvals in zip(frame["name"], frame[params].itertuples(index=False),
                                  frame[metrics].itertuples(index=False)):
        run = client.create_run(exp, run_name=name)
        client.log_batch(
            run.info.run_id,
            params=[Param(c[len("params."):], str(v)) for c, v in zip(params, pvals)],
            metrics=[Metric(c[len("metrics."):], float(v), now, 0) for c, v in zip(metrics, mvals)],
        )
        client.set_terminated(run.info.run_id)
    logged = time.perf_counter() - start

    mlflow.set_tracking_uri(uri)
    start = time.perf_counter()
    raw = mlflow.search_runs(experiment_names=["bench"], max_results=len(frame) + 1)
    raw_seconds = time.perf_counter() - start
    start = time.perf_counter()
    table = adapters.load("mlflow", {"tracking_uri": uri, "experiment": ["bench"]})
    ours = time.perf_counter() - start
    assert len(raw) == len(table.frame) == len(frame)
    return {"runs": len(frame), "log_seconds": logged, "search_runs_seconds": raw_seconds,
            "adapter_seconds": ours, "overhead_ratio": ours / raw_seconds}


if __name__ == "__main__":  # python -m benchmarks.compare SWEEP.csv EVALUATOR
    import json
    import sys

    imp, seconds = optuna_importances(pd.read_csv(sys.argv[1]), evaluator=sys.argv[2])
    print(json.dumps({"importances": imp, "seconds": seconds}))
