"""Realistic messy sweeps for end-to-end QA of the report CLI, each with a known truth.

``python tests/qa_sweeps.py OUTDIR`` writes every case's file into OUTDIR and prints the CLI
arguments for each; :data:`CASES` maps a case name to a :class:`Case` (writer, CLI arguments,
the truth to check). :mod:`tests.test_qa_end_to_end` builds a few of them through the real CLI.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from sweepsight.analysis.synthetic import Choice, LogUniform, Uniform, make_frame


@dataclasses.dataclass(frozen=True)
class Case:
    """One QA sweep: ``write(path)`` writes the file; ``args`` are the CLI arguments besides
    ``--source csv --path FILE --out DIR``; ``strongest`` is the param that truly matters most;
    ``null`` are params with no effect."""

    filename: str
    write: Callable[[Path], None]
    args: tuple[str, ...]
    strongest: str
    null: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()  # sentences (fragments) the site text must contain


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def grid_4000(path: Path) -> None:
    """Grid: 10 lr x 5 wd x 2 optimizers x 4 batch sizes x 5 dropouts x 2 warmups = 4000
    configurations x 3 seeds; 30 failed runs, 10 NaN, 5 inf."""
    _write(make_frame(
        {"lr": LogUniform(1e-5, 1e-1), "weight_decay": Choice([1e-6, 1e-5, 1e-4, 1e-3, 1e-2], log=True),
         "optimizer": Choice(["adam", "sgd"]), "batch_size": Choice([32, 64, 128, 256], log=True),
         "dropout": Choice([0.0, 0.1, 0.2, 0.3, 0.4]), "warmup": Choice([0, 500])},
        effects={"lr": 1.0, "optimizer": {"sgd": 0.5}, "batch_size": 0.15, "dropout": 0.1},
        grid=True, grid_points=10, seeds=3, noise=0.3, base=2.0, target="val_loss",
        failed=30, nan_target=10, inf_target=5, random_state=1,
    ), path)


def heavy_tail(path: Path, *, n_configs: int = 40, seeds: int = 15, tail: float = 0.01) -> None:
    """15 seeds x 40 configurations; loss around 1e-3 with ~1% (``tail``) diverged runs near 1e3."""
    _write(make_frame(
        {"lr": LogUniform(1e-4, 1e-1), "optimizer": Choice(["adam", "sgd", "rmsprop"]),
         "width": Choice([64, 128, 256, 512], log=True)},
        effects={"lr": 0.4, "optimizer": {"sgd": 0.2}},
        n_configs=n_configs, seeds=seeds, noise=0.1, base=-3.0, exponentiate=True,
        heavy_tail=(tail, 1e6), target="train_loss", failed=4, random_state=2,
    ), path)


def random_search(path: Path, *, n_configs: int = 500) -> None:
    """Random search: 500 runs, continuous lr and weight decay, a categorical; no seed."""
    _write(make_frame(
        {"lr": LogUniform(1e-5, 1e-1), "weight_decay": LogUniform(1e-6, 1e-1),
         "activation": Choice(["relu", "gelu", "tanh"]), "label_smoothing": Uniform(0.0, 0.2)},
        effects={"lr": 1.0, "activation": {"tanh": -0.4}, "weight_decay": 0.2},
        n_configs=n_configs, seeds=1, noise=0.3, base=0.7, target="val_acc", nan_target=3,
        random_state=3,
    ), path)


def hyperband(path: Path) -> None:
    """Successive halving: 243 configurations at 1 epoch, 81 at 3, 27 at 9, 9 at 27; 1 seed."""
    _write(make_frame(
        {"lr": LogUniform(1e-5, 1e-1), "momentum": Uniform(0.5, 0.99),
         "optimizer": Choice(["adam", "sgd"]), "layers": Choice([2, 4, 8])},
        effects={"lr": 1.0, "layers": 0.3}, n_configs=243, seeds=1, noise=0.2, base=1.0,
        budgets=[1, 3, 9, 27], budget_name="epochs", eta=3, target="val_loss", random_state=4,
    ), path)


def conditional(path: Path) -> None:
    """Grid with conditional params: momentum only for sgd; batch_size empty for lbfgs."""
    _write(make_frame(
        {"optimizer": Choice(["adam", "sgd", "lbfgs"]), "momentum": Choice([0.0, 0.5, 0.9, 0.99]),
         "batch_size": Choice([32, 128, 512], log=True), "lr": LogUniform(1e-4, 1e-1)},
        effects={"lr": 1.0, "optimizer": {"lbfgs": 0.6}, "momentum": 0.3},
        conditional={"momentum": ("optimizer", {"sgd"}), "batch_size": ("optimizer", {"adam", "sgd"})},
        grid=True, grid_points=4, seeds=4, noise=0.3, base=1.0, target="loss", failed=5,
        random_state=5,
    ), path)


def wandb_export(path: Path) -> None:
    """A W&B UI export: Name,State,Notes,User,Tags,Created,Runtime,Sweep, 300 bare config
    columns (most constant; lists, dicts, paths, timestamps), bare summary columns."""
    frame = make_frame(
        {"learning_rate": LogUniform(1e-5, 1e-2), "optimizer": Choice(["adamw", "sgd"]),
         "num_layers": Choice([2, 4, 6]), "hidden_dims": Choice(["[128, 64]", "[256, 128]", "[512, 256]"])},
        effects={"learning_rate": 1.0, "hidden_dims": {"[512, 256]": -0.3}},
        n_configs=120, seeds=3, noise=0.2, base=0.5, target="val/loss", failed=6,
        random_state=6,
    )
    rng = np.random.default_rng(6)
    n = len(frame)
    start = pd.Timestamp("2024-03-01T08:00:00Z")
    states = np.where(frame["state"] == "failed", rng.choice(["failed", "crashed"], n), "finished")
    out = {
        "Name": [f"{w}-{c}-{i}" for i, (w, c) in enumerate(zip(
            rng.choice(["rosy", "hardy", "vivid", "lucky", "misty"], n),
            rng.choice(["sun", "pine", "wave", "field"], n)))],
        "State": states,
        "Notes": ["-"] * n,
        "User": rng.choice(["alice", "bob"], n),
        "Tags": rng.choice(["", "baseline", "baseline, v2"], n),
        "Created": [(start + pd.Timedelta(minutes=11 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                    for i in range(n)],
        "Runtime": rng.integers(300, 4000, n),
        "Sweep": ["k3j9x2ab"] * n,
    }
    for p in ("learning_rate", "optimizer", "num_layers", "hidden_dims", "seed"):
        out[p] = frame[f"params.{p}"].to_numpy()
    # Constant config keys of every kind, as W&B writes them in the CSV.
    kinds = [lambda i: i * 0.5, lambda i: f"value{i}", lambda i: True,
             lambda i: json.dumps([1, 2, i]), lambda i: json.dumps({"a": i, "b": [1, 2]}),
             lambda i: f"/data/cache/ds{i}", lambda i: None]
    for i in range(286):
        v = kinds[i % len(kinds)](i)
        out[f"cfg_k{i:03d}"] = ["" if v is None else v] * n
    out["data.path"] = ["/mnt/data/imagenet"] * n
    out["output_dir"] = [f"/scratch/runs/{nm}" for nm in out["Name"]]
    out["launch_time"] = [(start + pd.Timedelta(minutes=11 * i)).isoformat() for i in range(n)]
    out["aug.crop"] = json.dumps({"size": 224, "scale": [0.08, 1.0]})
    out["schedule"] = rng.choice([json.dumps({"name": "cosine", "warmup": 5}),
                                  json.dumps({"name": "step", "gamma": 0.1})], n)
    out["tags_list"] = [json.dumps(["exp", f"r{i % 4}"]) for i in range(n)]
    out["git_commit"] = [f"{int(h):012x}" for h in rng.integers(2**40, 2**47, n)]
    out["wandb_version"] = ["0.17.0"] * n
    out["_wandb"] = [json.dumps({"runtime": int(r)}) for r in out["Runtime"]]
    y = frame["metrics.val/loss"].to_numpy()
    out["val/loss"] = ["" if not np.isfinite(v) else f"{v:.6g}" for v in y]
    # another summary metric: as a hyperparameter it would "explain" val/loss perfectly
    out["train/loss"] = ["" if not np.isfinite(v) else f"{v - 0.1:.6g}" for v in y]
    out["best_val_acc"] = ["" if not np.isfinite(v) else f"{1 - v / 10:.6g}" for v in y]
    out["_runtime"] = out["Runtime"]
    out["_step"] = rng.integers(100, 1000, n)
    out["_timestamp"] = (1.709e9 + np.arange(n) * 660).astype(int)
    out["epoch"] = [30] * n
    _write(pd.DataFrame(out), path)


def mlflow_dump(path: Path) -> None:
    """An ``mlflow.search_runs`` CSV dump, 2 seeds per configuration (grid)."""
    frame = make_frame(
        {"alpha": LogUniform(1e-4, 1.0), "max_depth": Choice([3, 5, 8, 12]),
         "criterion": Choice(["gini", "entropy"])},
        effects={"max_depth": 0.8, "alpha": 0.2},
        grid=True, grid_points=5, seeds=2, noise=0.05, base=0.85, target="f1", failed=3,
        random_state=7,
    )
    n = len(frame)
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2024-06-01T10:00:00", tz="UTC") + pd.to_timedelta(np.arange(n) * 90, "s")
    out = {
        "run_id": [f"{int(h):032x}" for h in rng.integers(2**62, 2**63, n)],
        "experiment_id": ["412339920113"] * n,
        "status": np.where(frame["state"] == "failed", "FAILED", "FINISHED"),
        "artifact_uri": [f"mlflow-artifacts:/412339920113/{i}/artifacts" for i in range(n)],
        "start_time": start.astype(str),
        "end_time": (start + pd.Timedelta(seconds=80)).astype(str),
        "metrics.f1": frame["metrics.f1"],
        "metrics.training_score": frame["metrics.f1"] + 0.05,
        "params.alpha": frame["params.alpha"], "params.max_depth": frame["params.max_depth"],
        "params.criterion": frame["params.criterion"], "params.random_state": frame["params.seed"],
        "params.n_jobs": ["None"] * n,
        "tags.mlflow.runName": [f"{w}-{i}" for i, w in enumerate(rng.choice(["bold", "calm"], n))],
        "tags.mlflow.user": ["carol"] * n,
        "tags.mlflow.source.name": ["train.py"] * n,
    }
    _write(pd.DataFrame(out), path)


def one_run_per_config(path: Path, *, grid_points: int = 6) -> None:
    """Grid of 6 x 4 x 3 configurations, one run each."""
    _write(make_frame(
        {"lr": LogUniform(1e-4, 1e-1), "depth": Choice([2, 4, 8, 16]), "act": Choice(["relu", "silu", "tanh"])},
        effects={"lr": 1.0, "depth": 0.3}, grid=True, grid_points=grid_points, seeds=1, noise=0.2,
        base=1.0, target="val_loss", random_state=8,
    ), path)


def two_seeds(path: Path) -> None:
    """Random search of 150 configurations x 2 seeds with a boolean flag."""
    frame = make_frame(
        {"lr": LogUniform(1e-5, 1e-1), "use_bn": Choice([True, False]),
         "units": Choice([32, 64, 128])},
        effects={"lr": 1.0, "use_bn": {True: -0.3}}, n_configs=150, seeds=2, noise=0.2,
        base=1.0, target="val_loss", inf_target=2, random_state=9,
    )
    _write(frame, path)


CASES: dict[str, Case] = {
    "grid4000": Case("grid4000.csv", grid_4000, ("--target", "val_loss"), "lr", ("warmup",)),
    "heavytail": Case("heavytail.csv", heavy_tail, ("--target", "train_loss"), "lr",
                      ("width",), ("heavy-tailed",)),
    "random": Case("random.csv", random_search, ("--target", "val_acc"), "lr",
                   ("label_smoothing",), ("approximation",)),
    "hyperband": Case("hyperband.csv", hyperband, ("--target", "val_loss", "--budget", "epochs"),
                      "lr", ("momentum", "optimizer")),
    "conditional": Case("conditional.csv", conditional, ("--target", "loss"), "lr",
                        (), ("momentum is conditional",)),
    "wandb": Case("wandb_export.csv", wandb_export, ("--metric", "val/loss"),
                  "learning_rate", ("num_layers",)),
    "mlflow2seeds": Case("mlflow_runs.csv", mlflow_dump, ("--target", "f1"), "max_depth",
                         ("criterion",)),
    "twoseeds": Case("twoseeds.csv", two_seeds, ("--target", "val_loss"), "lr", ("units",)),
    "onerun": Case("onerun.csv", one_run_per_config, ("--target", "val_loss"), "lr",
                   ("act",), ("run once",)),
}


def write_all(outdir: Path) -> dict[str, Path]:
    """Write every case's file into ``outdir``; returns case name -> path."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, case in CASES.items():
        paths[name] = outdir / case.filename
        case.write(paths[name])
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/qa/data")
    for name, p in write_all(target).items():
        print(name, p, " ".join(CASES[name].args))
