"""Shared fixtures: small synthetic sweeps written as CSV, and report sites built from them
with the real pipeline (adapter -> papermill -> analyse() -> page notebooks -> render)."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent


def _quarto_reference() -> Path:
    """What a real Quarto wrote (``../shared/quarto-render``): ``$SWEEPSIGHT_QUARTO_REFERENCE``,
    else ``shared/quarto-render`` beside the checkout (or beside the folder of its worktrees)."""
    if os.environ.get("SWEEPSIGHT_QUARTO_REFERENCE"):
        return Path(os.environ["SWEEPSIGHT_QUARTO_REFERENCE"])
    found = [d / "shared" / "quarto-render" for d in (REPO.parent, REPO.parent.parent)]
    return next((d for d in found if d.is_dir()), found[0])


QUARTO_REFERENCE = _quarto_reference()
#: The skip reason of the tests that read it: what provides it.
REFERENCE_MISSING = (f"the reference Quarto render is not at {QUARTO_REFERENCE}: it is the "
                     "team's shared folder beside the checkout (../shared/quarto-render, which "
                     "CI has), or set SWEEPSIGHT_QUARTO_REFERENCE to a copy")
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
def fast_tmp_path(tmp_path) -> Iterator[Path]:
    """A fresh folder in RAM (``/dev/shm``) when there is one, else under ``tmp_path``: for
    MLflow sqlite stores, which commit (fsync) every migration and every logged run; on this
    machine's disk creating a store took 6-7 s, in RAM under 1 s."""
    from tests.mlflow_helpers import fast_dir

    with fast_dir(tmp_path / "fast") as path:
        yield path


#: The test files that take longest (wall seconds on 2 workers, a full run on this 2-core
#: machine), longest first. ``nox -s tests`` hands out whole files (``--dist loadfile``); xdist
#: would hand them out by number of tests, which put the wheel (3 tests, ~27 s) last and left
#: one worker idle for ~20 s at the end. Longest first, the short files fill in at the end.
#: Files not named here follow, in the order pytest collects them.
LONGEST_FIRST = (
    "test_readme_commands.py",  # 66 s
    "test_browser.py",  # 58 s
    "test_compare.py",  # 45 s
    "test_qa_end_to_end.py",  # 44 s
    "test_example.py",  # 38 s
    "test_hostile.py",  # 36 s
    "test_hostile_limits.py",  # 60 s alone on a loaded machine
    "test_wheel.py",  # 27 s
    "test_quarto_site.py",  # 26 s
    "test_report_build.py",  # 27 s
    "test_significance.py",  # 27 s
    "test_real_sweeps.py",  # 23 s
    "test_workflows.py",  # 20 s
    "test_noxfile.py",  # 20 s (three nox runs, one install)
    "test_adapter_mlflow.py",  # 14 s
    "test_importance.py",  # 12 s
    "test_charts.py",  # 11 s
    "test_messy.py",  # 10 s
    "test_forest.py",  # 10 s
    "test_adapter_wandb.py",  # 7 s
)


def pytest_configure(config):
    """Keep the file order below for xdist (``--no-loadscope-reorder``, in xdist >= 3.6)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    """The files of :data:`LONGEST_FIRST` first, in that order (a stable sort: the tests of a
    file keep their order, and so do the files not named)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_collection_finish(session):
    """Freeze every object alive after collection (the imported libraries, the test functions):
    statsmodels' Holm adjustment calls ``gc.collect()`` on every call, and rescanning those
    objects each time cost 0.2-1.2 s per call; frozen, about 4 microseconds. Objects made by
    the tests themselves are collected as usual."""
    import gc

    gc.freeze()


_last_module: list = [None]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """At the first test of each file, once the previous file's module fixtures are gone:
    collect, then freeze what is left (as after collection, above). Objects the earlier files
    left alive (caches, shells, imported modules) made each of statsmodels' ``gc.collect()``
    calls slower as the run went on: test_holm_and_bh_equal_statsmodels took 0.07 s alone,
    2 s after test_qa_end_to_end and 5-9 s late in a full run."""
    if item.module is not _last_module[0]:
        import gc

        _last_module[0] = item.module
        gc.collect()
        gc.freeze()
