"""Shared fixtures: small synthetic sweeps written as CSV, and report sites built from them
with the real pipeline (adapter -> papermill -> analyse() -> page notebooks -> render)."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT_NAME = "<script>alert(1)</script>"
PIPE_NAME = "pipe | `tick` *star*"


def write_sweep(path: Path, *, seeds: int = 3, random_state: int = 0) -> Path:
    """A grid of 24 configurations (lr x depth x optimizer) times ``seeds`` runs, as a CSV.

    ``val_acc`` has a known shape: quadratic in log10(lr) (peak at 10^-2.5), + with depth,
    + for adam. ``delta`` is val_acc minus 0.9 (negative values). One run is named
    :data:`SCRIPT_NAME`, one :data:`PIPE_NAME`; one more run, also named :data:`SCRIPT_NAME`,
    failed without metrics (so the name shows in the table of runs left out).
    """
    rng = np.random.default_rng(random_state)
    rows = []
    grid = itertools.product([1e-4, 1e-3, 1e-2, 1e-1], [2, 4, 8], ["adam", "sgd"])
    for i, (lr, depth, opt) in enumerate(grid):
        for s in range(seeds):
            acc = (0.9 - 0.05 * (np.log10(lr) + 2.5) ** 2 + 0.02 * np.log2(depth)
                   + (0.03 if opt == "adam" else 0.0) + rng.normal(0, 0.01))
            rows.append({
                "run_id": f"r{i}-{s}", "name": f"run-{i}-{s}", "state": "finished",
                "params.lr": lr, "params.depth": depth, "params.optimizer": opt, "params.seed": s,
                "metrics.val_acc": acc, "metrics.val_loss": 1 - acc + rng.normal(0, 0.01),
                "metrics.delta": acc - 0.9,
            })
    rows[min(5, len(rows) - 1)]["name"] = SCRIPT_NAME
    rows[min(7, len(rows) - 1)]["name"] = PIPE_NAME
    rows.append({**rows[0], "run_id": "failed-1", "name": SCRIPT_NAME, "state": "failed",
                 "metrics.val_acc": None, "metrics.val_loss": None, "metrics.delta": None})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@dataclasses.dataclass
class Built:
    site: Path
    csv: Path
    stdout: str
    stderr: str
    code: int


def build_site(tmp: Path, *, seeds: int, args: list[str] = ()) -> Built:
    """Run the CLI in-process on a fresh synthetic sweep; the site lands in ``tmp/site``."""
    from sweepsight.reports.cli import main

    tmp.mkdir(parents=True, exist_ok=True)
    csv = write_sweep(tmp / "sweep.csv", seeds=seeds)
    # without Quarto the CLI falls back to nbconvert by itself (and says so)
    renderer = ["--renderer", "nbconvert"] if shutil.which("quarto") else []
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--source", "csv", "--path", str(csv), "--target", "val_acc",
                     "--out", str(tmp / "site"), *renderer, *args])
    built = Built(tmp / "site", csv, out.getvalue(), err.getvalue(), code)
    if code != 0:
        sys.stderr.write(built.stdout + built.stderr)
    return built


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Built:
    """The report of a 24-configuration x 3-seed sweep (one run named like a script)."""
    built = build_site(tmp_path_factory.mktemp("report"), seeds=3,
                       args=["--title", "Synthetic <b>sweep</b>"])
    assert built.code == 0, built.stderr
    return built


@pytest.fixture(scope="session")
def single_run_site(tmp_path_factory) -> Built:
    """The report of a sweep with one run per configuration (significance cannot apply)."""
    built = build_site(tmp_path_factory.mktemp("single"), seeds=1)
    assert built.code == 0, built.stderr
    return built


@pytest.fixture
def fast_tmp_path(tmp_path) -> Path:
    """A fresh folder in RAM (``/dev/shm``) when there is one, else under ``tmp_path``: for
    MLflow sqlite stores, which commit (fsync) every migration and every logged run; on this
    machine's disk creating a store took 6-7 s, in RAM under 1 s."""
    from tests.mlflow_helpers import fast_dir

    with fast_dir(tmp_path / "fast") as path:
        yield path


def pytest_collection_finish(session):
    """Freeze every object alive after collection (the imported libraries, the test functions):
    statsmodels' Holm adjustment calls ``gc.collect()`` on every call, and rescanning those
    objects each time cost 0.2-1.2 s per call; frozen, about 4 microseconds. Objects made by
    the tests themselves are collected as usual."""
    import gc

    gc.freeze()
