"""The bundled example sweep (examples/digits_sweep.py and the CSV it wrote).

The committed CSV must be a sweep worth analysing (many configurations, several seeds each,
some runs that failed), and the script must still run and write what the adapters read, through
every sink. Quick mode trains 4 tiny configurations, so the same runs can be compared across
sinks: a run is deterministic given its configuration and seed.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweepsight import adapters

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "digits_sweep.py"
CSV = ROOT / "examples" / "digits_sweep.csv"
GRID_PARAMS = ["learning_rate_init", "alpha", "batch_size", "solver", "activation", "epochs"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--no-progress", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done


def _reproducible(threads: str) -> dict[str, str]:
    """Start times from SOURCE_DATE_EPOCH; BLAS told to use ``threads`` threads."""
    return {"SOURCE_DATE_EPOCH": "1767225600", "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def _by_name(table, metric: str) -> pd.Series:
    return pd.Series(table.metric(metric).to_numpy(), index=table.frame["name"]).sort_index()


@pytest.fixture(scope="module")
def committed():
    return adapters.load("csv", {"path": str(CSV)})


@pytest.fixture(scope="module")
def quick_csv(tmp_path_factory):
    """Quick mode's CSV, BLAS free to use 2 threads, start times from SOURCE_DATE_EPOCH (the
    first of the two runs compared byte for byte below; the mlflow and wandb sinks' runs
    below keep the wall-clock start times)."""
    out = tmp_path_factory.mktemp("quick") / "quick.csv"
    done = _run("--sink", "csv", "--out", str(out), "--seeds", "2", env=_reproducible("2"))
    return out, done


def test_committed_csv_is_a_sweep_worth_analysing(committed):
    frame, meta = committed.frame, committed.meta
    assert meta.seed == "seed"
    assert set(GRID_PARAMS) <= set(committed.params)
    sizes = frame.groupby([f"params.{p}" for p in committed.params if p != "seed"]).size()
    assert len(sizes) >= 100
    assert sizes.min() >= 5
    # every configuration has each seed once
    per_seed = frame.groupby([f"params.{p}" for p in GRID_PARAMS])["params.seed"].nunique()
    assert (per_seed == sizes.to_numpy()).all()
    # most configurations have neighbours: each grid value occurs in several configurations
    for p in GRID_PARAMS:
        assert frame[f"params.{p}"].nunique() >= 2


def test_committed_csv_keeps_failed_runs_honestly(committed):
    frame = committed.frame
    failed = frame["state"] == "failed"
    assert failed.sum() > 0
    # a failed run has no metrics, a finished run always has an accuracy
    for m in committed.metrics:
        assert frame.loc[failed, f"metrics.{m}"].isna().all(), m
    assert frame.loc[~failed, "metrics.val_acc"].notna().all()
    assert set(frame["state"]) == {"finished", "failed"}
    # the failures are the unstable corner (plain SGD at learning rate 1.0), not scattered at random
    bad = frame[failed]
    assert (bad["params.solver"] == "sgd").all()
    assert (bad["params.learning_rate_init"] == 1.0).all()
    acc = committed.metric("val_acc")
    assert acc[~failed].between(0, 1).all()
    assert acc[~failed].max() > 0.95  # the good corner of the grid learns digits well


def test_quick_mode_writes_a_loadable_csv(quick_csv):
    out, done = quick_csv
    table = adapters.load("csv", {"path": str(out)})
    assert len(table.frame) == 4 * 2
    assert table.meta.seed == "seed"
    assert set(table.metrics) == {"val_acc", "val_loss", "train_loss"}
    assert list(table.frame.columns[:6]) == ["run_id", "name", "source", "group", "state", "created_at"]
    raw = pd.read_csv(out, nrows=0)
    assert list(raw.columns[:4]) == ["run_id", "name", "state", "created_at"]
    assert "8 runs (4 configurations x 2 seeds)" in done.stderr


def test_a_run_is_deterministic_and_its_loss_is_sklearns_log_loss(quick_csv):
    digits_sweep = _script()
    from sklearn.metrics import log_loss

    config = dict(digits_sweep.QUICK_GRID, learning_rate_init=1e-3)
    config = {k: (v[0] if isinstance(v, list) else v) for k, v in config.items()}
    result = digits_sweep.train(config, 1)
    table = adapters.load("csv", {"path": str(quick_csv[0])})
    row = table.frame.set_index("name").loc[digits_sweep.run_name(config, 1)]
    assert row["metrics.val_acc"] == pytest.approx(result["metrics"]["val_acc"], abs=1e-6)
    assert row["metrics.val_loss"] == pytest.approx(result["metrics"]["val_loss"], rel=1e-5)

    proba = np.full((3, 10), 0.1)
    proba[:, 2] = 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    y = np.array([2, 2, 3])
    assert digits_sweep.validation_loss(y, proba) == pytest.approx(log_loss(y, proba, labels=range(10)))
    assert math.isnan(digits_sweep.validation_loss(y, np.full((3, 10), np.nan)))


def _script():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import digits_sweep
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return digits_sweep


UNSTABLE = dict(solver="sgd", activation="relu", learning_rate_init=1.0, alpha=1e-5,
                batch_size=16, epochs=30)


def test_an_unstable_run_fails_for_real():
    result = _script().train(UNSTABLE, 0)
    assert result["state"] == "failed"
    assert "non-finite" in result["error"]
    assert all(math.isnan(v) for v in result["metrics"].values())
    assert len(result["history"]) < 30  # it stopped at the epoch that broke


def test_parallel_runs_equal_serial_runs(monkeypatch):
    # the worker processes import the script's module by name, so it must be on their path
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    script = _script()
    serial = script.run_sweep(script.QUICK_GRID, seeds=1, jobs=1, progress=False)
    parallel = script.run_sweep(script.QUICK_GRID, seeds=1, jobs=2, progress=False)
    assert [r["name"] for r in parallel] == [r["name"] for r in serial]
    assert [r["run_id"] for r in parallel] == [f"digits-{i:04d}" for i in range(1, 5)]
    for a, b in zip(serial, parallel):
        assert a["metrics"] == b["metrics"]
        assert a["history"] == b["history"]


def test_quick_mode_mlflow_sink_loads_back(quick_csv, fast_tmp_path):
    pytest.importorskip("mlflow")
    if not (ROOT / "adapters" / "mlflow_runs.py").exists():
        pytest.skip("adapters/mlflow_runs.py is not written yet")
    uri = f"sqlite:///{fast_tmp_path / 'mlflow.db'}"
    _run("--sink", "mlflow", "--tracking-uri", uri, "--experiment", "quick", "--seeds", "2")
    table = adapters.load("mlflow", {"tracking_uri": uri, "experiment": "quick"})
    assert len(table.frame) == 8
    assert table.meta.seed == "seed"
    assert set(GRID_PARAMS) <= set(table.params)
    # the same runs as the CSV sink wrote
    csv = adapters.load("csv", {"path": str(quick_csv[0])})
    for metric in ("val_acc", "val_loss"):
        pd.testing.assert_series_equal(_by_name(table, metric), _by_name(csv, metric),
                                       rtol=1e-5, check_names=False)
    # the per-epoch history is logged: the best epoch's accuracy is at least the last one's
    best = adapters.load("mlflow", {"tracking_uri": uri, "experiment": "quick",
                                    "metric_agg": "max", "metrics": ["val_acc"]})
    assert (_by_name(best, "val_acc") >= _by_name(table, "val_acc") - 1e-12).all()

    # a run that raised is logged as FAILED with NaN at the epoch that broke
    script = _script()
    failed = script.train(UNSTABLE, 0)
    failed.update(run_id="digits-0001", name="unstable")
    args = script.parse_args(["--tracking-uri", uri, "--experiment", "unstable"])
    script.to_mlflow([failed], args)
    unstable = adapters.load("mlflow", {"tracking_uri": uri, "experiment": "unstable"})
    assert unstable.frame["state"].tolist() == ["failed"]
    assert unstable.frame[["metrics.val_acc", "metrics.val_loss"]].isna().all(axis=None)


def test_quick_mode_wandb_offline_sink_loads_back(quick_csv, tmp_path):
    pytest.importorskip("wandb")
    if not (ROOT / "adapters" / "wandb_runs.py").exists():
        pytest.skip("adapters/wandb_runs.py is not written yet")
    _run("--sink", "wandb", "--wandb-dir", str(tmp_path), "--seeds", "2")
    table = adapters.load("wandb", {"path": str(tmp_path)})
    assert len(table.frame) == 8
    assert set(GRID_PARAMS) <= set(table.params)
    csv = adapters.load("csv", {"path": str(quick_csv[0])})
    pd.testing.assert_series_equal(_by_name(table, "val_acc"), _by_name(csv, "val_acc"),
                                   rtol=1e-5, check_names=False)


def test_quick_mode_twice_writes_identical_csvs_whatever_the_blas_threads(quick_csv, tmp_path):
    """Two runs of the script (one with BLAS free to use 2 threads, one told 1) write the same
    bytes: one thread per run inside, seeds, and SOURCE_DATE_EPOCH for the start times. The
    first run is the module's quick CSV (the same command line and environment)."""
    first = quick_csv[0]
    out = tmp_path / "quick1.csv"
    _run("--seeds", "2", "--out", str(out), env=_reproducible("1"))
    assert first.read_bytes() == out.read_bytes()
    frame = pd.read_csv(first)
    assert frame["created_at"].iloc[0] == "2026-01-01T00:00:00+00:00"
    assert frame["created_at"].iloc[-1] == "2026-01-01T00:00:07+00:00"


def test_a_run_trains_on_one_thread(monkeypatch):
    """Inside train() the BLAS pools are limited to THREADS (1)."""
    from threadpoolctl import threadpool_info

    script = _script()
    seen = []
    import sklearn.neural_network

    original = sklearn.neural_network.MLPClassifier.partial_fit

    def spy(self, *args, **kwargs):
        seen.append({p["num_threads"] for p in threadpool_info()})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sklearn.neural_network.MLPClassifier, "partial_fit", spy)
    config = {k: v[0] for k, v in script.QUICK_GRID.items()}
    script.train(config, 0)
    assert seen and all(s <= {script.THREADS} for s in seen)
