"""The command line: notebook parameters agree with what it passes; bad input is one line on
stderr, exit code 2, no traceback, and the existing site is left untouched."""
from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import papermill
import pytest

from sweepsight.adapters.errors import SweepError
from sweepsight.reports import build, cli
from tests.conftest import REPO, write_sweep


def test_analysis_notebook_takes_the_parameters_the_cli_passes():
    params = papermill.inspect_notebook(str(build.ANALYSIS_NOTEBOOK))
    assert set(params) == set(build.ANALYSIS_PARAMETERS)


@pytest.mark.parametrize("page", build.PAGES, ids=lambda p: p.template)
def test_page_templates_take_analysis_path(page):
    path = build.TEMPLATES / f"{page.template}.ipynb"
    assert path.exists(), f"page template {path} is missing"
    params = papermill.inspect_notebook(str(path))
    assert set(params) == set(build.PAGE_PARAMETERS)


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """``python -m reports ARGS`` in a fresh process (what a user sees, tracebacks included)."""
    return subprocess.run([sys.executable, "-m", "reports", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def run_main(capsys, *args: str) -> subprocess.CompletedProcess:
    """``reports.cli.main(ARGS)`` in this process: the same checks, without a Python start-up."""
    code = cli.main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.fixture
def old_site(tmp_path) -> Path:
    """A site from an earlier build (marker file and an index page)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / build.SITE_MARKER).write_text("old\n")
    (site / "index.html").write_text("<p>the old report</p>")
    return site


def assert_failed_cleanly(proc, old_site: Path, *, says: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert (old_site / "index.html").read_text() == "<p>the old report</p>"
    assert sorted(p.name for p in old_site.iterdir()) == sorted(["index.html", build.SITE_MARKER])
    leftovers = [p.name for p in old_site.parent.iterdir() if p.name.startswith(".site.")]
    assert leftovers == []


def test_unknown_source_lists_the_valid_ones(old_site):
    proc = run_cli("--source", "tensorboard", "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says="unknown source 'tensorboard'")
    assert "csv, mlflow, wandb" in proc.stderr


def test_missing_file(capsys, old_site, tmp_path):
    proc = run_main(capsys, "--path", str(tmp_path / "nope.csv"), "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says=f"{tmp_path / 'nope.csv'} not found")


def test_unknown_target_lists_the_metrics(capsys, old_site, tmp_path):
    csv = write_sweep(tmp_path / "sweep.csv")
    proc = run_main(capsys, "--path", str(csv), "--target", "accuracy", "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says="'accuracy'")
    assert "delta, val_acc, val_loss" in proc.stderr


def test_several_metrics_and_no_target_asks_for_one(capsys, old_site, tmp_path):
    csv = write_sweep(tmp_path / "sweep.csv")
    proc = run_main(capsys, "--path", str(csv), "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says="--target")
    assert "delta, val_acc, val_loss" in proc.stderr


def test_zero_runs(capsys, old_site, tmp_path):
    csv = tmp_path / "empty.csv"
    csv.write_text("run_id,params.lr,metrics.val_acc\n")
    proc = run_main(capsys, "--path", str(csv), "--target", "val_acc", "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says="no runs")


def test_out_that_is_not_a_site_is_refused(capsys, tmp_path):
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    csv = write_sweep(tmp_path / "sweep.csv")
    proc = run_main(capsys, "--path", str(csv), "--target", "val_acc", "--out", str(mine))
    assert proc.returncode == 2 and "does not hold a sweepsight site" in proc.stderr
    assert (mine / "thesis.tex").read_text() == "precious"


def test_error_raised_inside_the_analysis_notebook(old_site, tmp_path):
    """prepare() refuses a log scale for a metric with negative values: the SweepError comes
    out of papermill's PapermillExecutionError as the same one line (the build called directly,
    since the CLI finds this before the analysis starts)."""
    from sweepsight import adapters

    table = adapters.load("csv", {"path": str(write_sweep(tmp_path / "sweep.csv"))})
    with pytest.raises(SweepError, match="--metric-scale log needs a positive metric") as info:
        build.build(out=old_site, target="delta", table=table, metric_scale="log",
                    renderer="nbconvert", log=lambda line: None)
    assert "\n" not in str(info.value) and "Papermill" not in str(info.value)
    assert (old_site / "index.html").read_text() == "<p>the old report</p>"


def _few_runs(path: Path) -> list[str]:
    path.write_text("run_id,state,params.lr,metrics.val_acc\na,finished,0.1,0.5\n"
                    "b,finished,0.01,0.6\nc,failed,0.001,\n")
    return ["--target", "val_acc"]


def _constant_target(path: Path) -> list[str]:
    write_sweep(path)
    frame = pd.read_csv(path)
    frame["metrics.val_acc"] = 0.5
    frame.to_csv(path, index=False)
    return ["--target", "val_acc"]


def _log_of_negative(path: Path) -> list[str]:
    write_sweep(path)
    return ["--target", "delta", "--metric-scale", "log"]


@pytest.mark.parametrize("write, says", [
    (_few_runs, "only 2 of 3 runs"),
    (_constant_target, "metric 'val_acc' is 0.5 in all 72 analysed runs"),
    (_log_of_negative, "--metric-scale log needs a positive metric"),
], ids=["few_runs", "constant_target", "log_of_negative"])
def test_preparation_problems_fail_before_the_analysis_starts(capsys, old_site, tmp_path, write, says):
    args = write(tmp_path / "sweep.csv")
    proc = run_main(capsys, "--path", str(tmp_path / "sweep.csv"), *args, "--out", str(old_site),
                    "--renderer", "nbconvert")
    assert_failed_cleanly(proc, old_site, says=says)
    assert "] load: " in proc.stdout  # it got as far as loading ...
    assert "] kernel" not in proc.stdout and "] snapshot" not in proc.stdout  # ... and no further


def write_wandb_ui_export(path: Path) -> Path:
    """A W&B UI "Export CSV": bare columns, run metadata, tracker internals, a crashed run
    without a metric and a running one; val_loss is lowest at lr 1e-3 with adam."""
    rng = np.random.default_rng(21)
    rows = []
    grid = itertools.product([1e-4, 1e-3, 1e-2], [32, 128], ["adam", "sgd"])
    for i, (lr, bs, opt) in enumerate(grid):
        for seed in range(3):
            k = len(rows)
            state = "crashed" if k == 4 else "running" if k == 9 else "finished"
            loss = (0.3 + 0.1 * (np.log10(lr) + 3) ** 2 + 0.05 * (opt == "sgd")
                    + rng.normal(0, 0.01))
            rows.append({
                "Name": f"brisk-fox-{k + 1}", "State": state,
                "Created": f"2024-03-01T08:{k:02d}:00.000Z", "Runtime": int(rng.integers(100, 900)),
                "lr": lr, "batch_size": bs, "optimizer": opt, "seed": seed,
                "val_loss": "" if state == "crashed" else loss, "_step": int(rng.integers(90, 100)),
                "_runtime": float(rng.uniform(100, 900)), "_timestamp": 1.7e9 + 600 * k,
            })
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_bare_export_with_params_seed_and_metric_named(capsys, tmp_path, monkeypatch):
    """--seed names a hyperparameter column even when --param lists the others."""
    seen = {}

    def fake_build(**kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(build, "build", fake_build)
    csv = write_wandb_ui_export(tmp_path / "export.csv")
    proc = run_main(capsys, "--path", str(csv), "--param", "lr", "--param", "batch_size",
                    "--param", "optimizer", "--seed", "seed", "--metric", "val_loss",
                    "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    table = seen["table"]
    assert table.params == ["batch_size", "lr", "optimizer", "seed"] and table.meta.seed == "seed"
    assert seen["options"].target == "val_loss"
    # the check before the build: a crashed and a running run left out, seed set aside
    assert "] check: 34 of 36 runs and 3 hyperparameters to analyse" in proc.stdout


def test_bare_export_with_only_the_target_builds(capsys, tmp_path):
    """--target names the bare metric column: no --metric, no --param needed."""
    csv = write_wandb_ui_export(tmp_path / "export.csv")
    site = tmp_path / "site"
    proc = run_main(capsys, "--path", str(csv), "--target", "val_loss", "--seed", "seed",
                    "--out", str(site), "--renderer", "nbconvert")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    assert "] check: 34 of 36 runs and 3 hyperparameters to analyse" in proc.stdout
    summary = (site / "summary.md").read_text()
    assert "| target | val\\_loss (minimize;" in summary
    assert "hyperparameters analysed | 3 (2 numeric, 1 categorical)" in summary
    assert re.search(r"best configuration \| batch\\_size=\d+, lr=0.001, optimizer=adam:", summary)
    assert "Bare column val\\_loss read as the metric named by --target." in summary
    assert ("Excluded 2 of 36 runs (run crashed (state): 1; run still running (its metric is "
            "partial): 1).") in summary
    assert "\\_runtime, \\_step, \\_timestamp: tracker internals" in summary


def test_resolve_target():
    assert cli.resolve_target(None, ["loss"]) == "loss"
    assert cli.resolve_target("acc", ["acc", "loss"]) == "acc"
    with pytest.raises(SweepError, match="acc, loss"):
        cli.resolve_target(None, ["loss", "acc"])
    with pytest.raises(SweepError, match="metrics found: acc, loss"):
        cli.resolve_target("f1", ["loss", "acc"])


def test_adapter_options_pass_repeatable_flags_and_the_target_as_metric():
    args = cli.parser().parse_args(["--source", "mlflow", "--experiment", "a", "--experiment", "b",
                                    "--target", "val_loss", "--metric-agg", "min", "--seed", "s"])
    options = cli.adapter_options(args)
    assert options["experiment"] == ["a", "b"]
    assert options["metrics"] == ["val_loss"]
    assert options["metric_agg"] == "min" and options["seed"] == "s"
    assert "path" not in options and "project" not in options


def test_no_arguments_means_the_example_sweep(monkeypatch):
    seen = {}

    def fake_build(**kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(build, "build", fake_build)
    if not cli.EXAMPLE.exists():
        assert cli.main([]) == 2
        return
    assert cli.main([]) == 0
    assert seen["options"].target == cli.EXAMPLE_TARGET
    assert Path(seen["table"].meta.query["path"]).resolve() == cli.EXAMPLE.resolve()
    assert not Path(seen["table"].meta.query["path"]).is_absolute()  # as typed from here
    assert Path(seen["out"]) == Path("site")


def test_missing_snapshot(capsys, old_site, tmp_path):
    proc = run_main(capsys, "--from-snapshot", str(tmp_path / "data" / "sweep"), "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says="sweep.parquet not found")


@pytest.mark.skipif(bool(__import__("shutil").which("quarto")), reason="Quarto is installed")
def test_renderer_quarto_without_quarto_fails_before_building(capsys, old_site, tmp_path):
    csv = write_sweep(tmp_path / "sweep.csv")
    proc = run_main(capsys, "--path", str(csv), "--target", "val_acc", "--renderer", "quarto",
                    "--out", str(old_site))
    assert_failed_cleanly(proc, old_site, says="pip install quarto-cli")
    assert proc.stdout == ""  # refused before loading anything


def test_one_named_metric_is_the_target_and_an_unknown_target_lists_metrics():
    from sweepsight.reports.cli import resolve_target

    assert resolve_target(None, ["val/loss", "train/loss"], ["val/loss"]) == "val/loss"
    with pytest.raises(SweepError, match="choose the one to explain with --target"):
        resolve_target(None, ["a", "b"], [])
    with pytest.raises(SweepError, match="metrics found: a, b"):
        resolve_target("c", ["a", "b"], [])


def test_cli_options_reach_the_adapter_and_analysis():
    from sweepsight.reports.cli import adapter_options, parser

    args = parser().parse_args(["--source", "wandb", "--project", "e/p",
                                "--filter", '{"state": "finished"}', "--test", "welch"])
    assert adapter_options(args)["filters"] == {"state": "finished"}
    assert "filter" not in adapter_options(args) and args.test == "welch"
    bad = parser().parse_args(["--source", "wandb", "--project", "e/p", "--filter", "state=1"])
    with pytest.raises(SweepError, match="--filter for wandb must be a JSON object"):
        adapter_options(bad)
    mlflow = parser().parse_args(["--source", "mlflow", "--filter", "metrics.acc > 0.5",
                                  "--max-results", "10"])
    assert adapter_options(mlflow)["filter"] == "metrics.acc > 0.5"
    assert adapter_options(mlflow)["max_results"] == 10
