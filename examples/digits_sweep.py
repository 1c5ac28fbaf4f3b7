"""A real, small hyperparameter sweep: scikit-learn's MLPClassifier on the digits data set.

Every configuration of the grid is trained once per seed with ``partial_fit`` (one call per
epoch), so the validation accuracy and loss of every epoch are known. Runs whose weights stop
being finite raise inside scikit-learn (plain SGD at learning rate 1.0 does, after 40 or so
epochs); they are kept with state ``failed`` and NaN metrics. Runs that diverge without raising
keep the metrics they reach: ``val_loss`` is ``sklearn.metrics.log_loss``, which clips
probabilities at machine epsilon, so a saturated model scores a large but finite loss, and
``train_loss`` (scikit-learn's own ``loss_``) may reach 1e200 or ``inf``.

Usage::

    python examples/digits_sweep.py                                   # -> examples/digits_sweep.csv
    python examples/digits_sweep.py --quick --out /tmp/quick.csv      # a tiny grid, seconds
    python examples/digits_sweep.py --sink mlflow --tracking-uri sqlite:///mlflow.db \\
        --experiment digits-sweep
    python examples/digits_sweep.py --sink wandb --wandb-dir /tmp/wb  # offline runs

Reproducible: every run trains on one thread (``threadpoolctl``; BLAS threads split sums
differently, which a diverging run amplifies into a different NaN), the network is seeded by
``seed`` and the split by ``SPLIT_SEED``, so the same machine writes the same metrics whatever
``--jobs``. ``created_at`` is the wall-clock start of each run unless ``SOURCE_DATE_EPOCH`` is
set (the reproducible-builds convention): then run *i* starts at that time plus *i - 1*
seconds, and two runs of the script write byte-identical CSVs.

Sinks: ``csv`` (one row per run, columns ``run_id, name, state, created_at, params.*,
metrics.*``), ``mlflow`` (one run per row, per-epoch history logged with ``log_batch``),
``wandb`` (offline runs, per-epoch history logged with ``wandb.log``).
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "digits_sweep.csv"
HIDDEN_UNITS = 64
TEST_SIZE = 0.25
SPLIT_SEED = 0  # the train/validation split is the same for every run
THREADS = 1  # BLAS/OpenMP threads per run: results must not depend on the machine's cores

GRID = {
    "learning_rate_init": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "alpha": [1e-5, 1e-3, 1e-1],
    "batch_size": [32, 128],
    "solver": ["adam", "sgd"],
    "activation": ["relu", "tanh"],
    "epochs": [10, 40],
}
QUICK_GRID = {
    "learning_rate_init": [1e-3, 1.0],
    "alpha": [1e-3],
    "batch_size": [128],
    "solver": ["adam", "sgd"],
    "activation": ["relu"],
    "epochs": [3],
}


def configurations(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid, in a fixed order."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised train/validation split of ``load_digits`` (fixed, stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y
    )
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_va), y_tr, y_va


def validation_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """``sklearn.metrics.log_loss`` of the validation set; NaN when the probabilities are not finite."""
    from sklearn.metrics import log_loss

    if not np.isfinite(proba).all():
        return math.nan
    return float(log_loss(y, proba, labels=np.arange(proba.shape[1])))


def train(config: dict, seed: int, data=None) -> dict:
    """Train one run; returns its state, final metrics, per-epoch history and timing."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_tr, X_va, y_tr, y_va = data if data is not None else _data()
    classes = np.arange(10)
    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN_UNITS,),
        solver=config["solver"],
        activation=config["activation"],
        learning_rate_init=config["learning_rate_init"],
        alpha=config["alpha"],
        batch_size=config["batch_size"],
        random_state=seed,
    )
    created_at = datetime.now(timezone.utc)
    start, cpu_start = time.perf_counter(), time.process_time()
    history: list[dict] = []
    state, error = "finished", None
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=THREADS):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a diverging run
        for epoch in range(1, config["epochs"] + 1):
            try:
                model.partial_fit(X_tr, y_tr, classes=classes)
            except ValueError as exc:  # "Solver produced non-finite parameter weights"
                state, error = "failed", str(exc).splitlines()[0]
                history.append({"epoch": epoch, "val_acc": math.nan, "val_loss": math.nan,
                                "train_loss": math.nan})
                break
            proba = model.predict_proba(X_va)
            history.append({
                "epoch": epoch,
                "val_acc": float(np.mean(classes[np.argmax(proba, axis=1)] == y_va)),
                "val_loss": validation_loss(y_va, proba),
                "train_loss": float(model.loss_),
            })
    final = history[-1]
    return {
        "config": config,
        "seed": seed,
        "state": state,
        "error": error,
        "created_at": created_at,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "metrics": {k: final[k] for k in ("val_acc", "val_loss", "train_loss")},
        "history": history,
    }


_DATA = None


def _data():
    global _DATA
    if _DATA is None:
        _DATA = digits_split()
    return _DATA


def _run_one(index: int, config: dict, seed: int) -> tuple[int, dict]:
    return index, train(config, seed)


def run_sweep(grid: dict[str, list], *, seeds: int, jobs: int = 2, progress: bool = True) -> list[dict]:
    """Train every configuration of ``grid`` for seeds ``0..seeds-1``; results in grid order."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    tasks = [(c, s) for c in configurations(grid) for s in range(seeds)]
    results: list[dict | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="digits sweep", unit="run", file=sys.stderr,
               disable=not progress)
    if jobs == 1:
        outputs = (_run_one(i, c, s) for i, (c, s) in enumerate(tasks))
    else:
        outputs = Parallel(n_jobs=jobs, return_as="generator_unordered", batch_size=4)(
            delayed(_run_one)(i, c, s) for i, (c, s) in enumerate(tasks)
        )
    for index, result in outputs:
        results[index] = result
        bar.update(1)
    bar.close()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    for number, result in enumerate(results, start=1):
        result["run_id"] = f"digits-{number:04d}"
        result["name"] = run_name(result["config"], result["seed"])
        if epoch:  # reproducible output: start times from the given clock, one second apart
            result["created_at"] = (datetime.fromtimestamp(int(epoch), timezone.utc)
                                    + timedelta(seconds=number - 1))
    return results


def run_name(config: dict, seed: int) -> str:
    c = config
    return (f"{c['solver']}-{c['activation']}-lr{c['learning_rate_init']:g}-a{c['alpha']:g}"
            f"-bs{c['batch_size']}-ep{c['epochs']}-s{seed}")


def run_params(result: dict) -> dict:
    """The hyperparameters logged for a run: the grid's, the seed, and the constant width."""
    return {**result["config"], "hidden_units": HIDDEN_UNITS, "seed": result["seed"]}


# --- sinks ---------------------------------------------------------------------------------

def to_csv(results: list[dict], args: argparse.Namespace) -> str:
    """One row per run in the prefixed form the CSV adapter reads."""
    import pandas as pd

    rows = []
    for r in results:
        row = {"run_id": r["run_id"], "name": r["name"], "state": r["state"],
               "created_at": r["created_at"].isoformat(timespec="seconds")}
        row.update({f"params.{k}": v for k, v in run_params(r).items()})
        row.update({f"metrics.{k}": v for k, v in r["metrics"].items()})
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False, na_rep="nan", float_format="%.6g")
    return str(out)


def _logging(results: list[dict], where: str, args: argparse.Namespace):
    """``results`` with a progress bar: logging 1,200 runs takes 40 s (MLflow) to 2 minutes
    (W&B) after training ends."""
    from tqdm import tqdm

    return tqdm(results, desc=f"logging {where}", unit="run", file=sys.stderr,
                disable=getattr(args, "no_progress", False))


def to_mlflow(results: list[dict], args: argparse.Namespace) -> str:
    """One MLflow run per result, per-epoch history and params in one ``log_batch`` each."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri)
    experiment = client.get_experiment_by_name(args.experiment)
    experiment_id = (experiment.experiment_id if experiment is not None
                     else client.create_experiment(args.experiment))
    for r in _logging(results, "to MLflow", args):
        start_ms = int(r["created_at"].timestamp() * 1000)
        run = client.create_run(experiment_id, start_time=start_ms, run_name=r["name"],
                                tags={"sweep": "digits", "example_run_id": r["run_id"]})
        metrics = [
            Metric(key, point[key], start_ms + point["epoch"], point["epoch"])
            for point in r["history"] for key in ("val_acc", "val_loss", "train_loss")
        ]
        params = [Param(k, str(v)) for k, v in run_params(r).items()]
        tags = [RunTag("error", r["error"])] if r["error"] else []
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run.info.run_id, status="FINISHED" if r["state"] == "finished" else "FAILED",
                              end_time=start_ms + int(r["seconds"] * 1000))
    return f"{args.tracking_uri} (experiment {args.experiment!r})"


def to_wandb(results: list[dict], args: argparse.Namespace) -> str:
    """Offline wandb runs (``wandb sync`` uploads them later), history logged per epoch."""
    import wandb

    directory = Path(args.wandb_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for r in _logging(results, "to W&B (offline)", args):
        run = wandb.init(mode="offline", dir=str(directory), project=args.project,
                         group="digits-sweep", name=r["name"], config=run_params(r),
                         reinit="finish_previous", settings=wandb.Settings(silent=True))
        for point in r["history"]:
            run.log({k: point[k] for k in ("val_acc", "val_loss", "train_loss")}, step=point["epoch"])
        run.finish(exit_code=0 if r["state"] == "finished" else 1)
    return str(directory / "wandb")


SINKS: dict[str, Callable[[list[dict], argparse.Namespace], str]] = {
    "csv": to_csv,
    "mlflow": to_mlflow,
    "wandb": to_wandb,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sink", choices=sorted(SINKS), default="csv")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="CSV path (csv sink)")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db", help="mlflow sink")
    parser.add_argument("--experiment", default="digits-sweep", help="mlflow sink")
    parser.add_argument("--wandb-dir", default="wandb-offline", help="wandb sink: local directory")
    parser.add_argument("--project", default="digits-sweep", help="wandb sink: project name")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (0..N-1)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default 2; 1 with --quick, where starting "
                             "workers costs more than the training)")
    parser.add_argument("--quick", action="store_true", help="a tiny grid (4 configurations)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.jobs is None:
        args.jobs = 1 if args.quick else 2
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    grid = QUICK_GRID if args.quick else GRID
    start = time.perf_counter()
    results = run_sweep(grid, seeds=args.seeds, jobs=args.jobs, progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    where = SINKS[args.sink](results, args)
    failed = sum(r["state"] == "failed" for r in results)
    cpu = sum(r["cpu_seconds"] for r in results)
    loss = np.array([r["metrics"]["val_loss"] for r in results])
    print(
        f"{len(results)} runs ({len(configurations(grid))} configurations x {args.seeds} seeds) "
        f"in {elapsed:.0f} s with {args.jobs} job(s) ({cpu:.0f} CPU s of training): {failed} failed, "
        f"{int(np.isnan(loss).sum())} NaN val_loss, {int(np.isinf(loss).sum())} inf val_loss "
        f"-> {where}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
