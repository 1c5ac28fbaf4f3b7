"""Real sweeps read right, through the real CLI: a level named "none", a heavy-tailed loss
with a few diverged runs, a bounded accuracy with collapsed runs, and a bare export with a
runtime column. Each builds a site (adapter -> snapshot -> papermill -> render) and checks the
typed facts of the analysis the build pickled, and what the pages say."""
from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweepsight.analysis.prepared import Aside
from sweepsight.analysis.scale import OWN_LIMIT, Scale, ScaleReason, headline
from sweepsight.reports import text


def _page_text(site: Path, page: str = "index") -> str:
    raw = (site / f"{page}.html").read_text(encoding="utf-8")
    raw = re.sub(r"<script.*?</script>|<style.*?</style>", " ", raw, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))


def _plain(markdown: str) -> str:
    """A findings line as the page shows it: no bold, no markdown escapes."""
    return re.sub(r"\s+", " ", re.sub(r"\\(.)", r"\1", markdown.replace("**", "")))


def _said(sentence: str, page: str) -> bool:
    """Whether the page says ``sentence`` (inline tags may have left spaces around words)."""
    return re.sub(r"\s+", "", _plain(sentence)) in re.sub(r"\s+", "", page)


def build_cli(tmp_path: Path, csv: Path, *args: str, capsys):
    """``python -m reports`` in this process; returns the site and the analysis it pickled."""
    from sweepsight.reports.cli import main

    site = tmp_path / "site"
    rc = main(["--source", "csv", "--path", str(csv), *args, "--out", str(site),
               "--renderer", "nbconvert"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return site, analysis_of(site), out.out


def analysis_of(site: Path):
    """The analysis the build made, made again from the site's snapshot with the options the
    snapshot remembers (the build's own pickle lives in its temporary work folder)."""
    from sweepsight.adapters import snapshot
    from sweepsight.analysis import analyse

    table = snapshot.load(str(site / "data" / "sweep"))
    options = dict(table.meta.report_options)
    target = options.pop("target")
    return analyse(table, target=target, **{k: v for k, v in options.items() if v is not None})


# --- 1. "none" is a level -------------------------------------------------------------------

def nas_grid(path: Path) -> Path:
    """An architecture-search cell: op in {none, skip, conv} x width x 4 seeds, as a CSV that
    holds the strings exactly as a tracker logs them; "none" (no connection) is the worst op."""
    rng = np.random.default_rng(17)
    effect = {"none": -0.2, "skip": 0.0, "conv": 0.05}
    rows = []
    for i, (op, width) in enumerate(itertools.product(effect, [16, 32, 64])):
        for s in range(4):
            rows.append({"run_id": f"r{i}-{s}", "params.op": op, "params.width": width,
                         "params.seed": s, "metrics.val_acc": 0.7 + effect[op]
                         + 0.02 * np.log2(width / 16) + rng.normal(0, 0.01)})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_level_named_none_stays_a_level_and_its_neighbours_are_tested(tmp_path, capsys):
    site, a, _ = build_cli(tmp_path, nas_grid(tmp_path / "nas.csv"), "--target", "val_acc",
                           capsys=capsys)
    assert a.table.meta.categorical == ["op"] and a.table.meta.null_words == {}
    assert sorted(a.prep.runs["op"].unique()) == ["conv", "none", "skip"]
    assert {"op=none", "op=skip", "op=conv"} <= set(a.prep.X.columns)
    assert not any("(missing)" in c for c in a.prep.X.columns)
    pairs = a.significance.pairs
    around_none = pairs[(pairs["param"] == "op") & ((pairs["from_value"] == "none")
                                                    | (pairs["to_value"] == "none"))]
    # every width has none <-> skip and none <-> conv, both ways
    assert len(around_none) == 3 * 2 * 2
    assert (around_none["verdict"] != "not testable").all()
    # none is 0.2 worse than both: with 4 vs 4 seeds Welch's t or KS sees it where it leads
    worse = around_none[around_none["to_value"] == "none"]
    assert (worse["mean_b"] < worse["mean_a"] - 0.1).all()
    assert "op=none" in _page_text(site, "significance")


# --- 2. the scale ladder ---------------------------------------------------------------------

def loss_grid(path: Path, *, diverged: int) -> list[str]:
    """A loss spanning decades (lr quadratic on log10, depth, act) x 10 seeds, with
    ``diverged`` runs blown up to about 3e4; returns their run ids."""
    rng = np.random.default_rng(23)
    rows = []
    grid = itertools.product([1e-4, 3e-4, 1e-3, 3e-3, 1e-2], [2, 4, 8, 16], ["relu", "tanh"])
    for i, (lr, depth, act) in enumerate(grid):
        for s in range(10):
            log_loss = (1.0 * (np.log10(lr) + 2.5) ** 2 - 0.15 * np.log2(depth)
                        + (0.2 if act == "tanh" else 0.0) + rng.normal(0, 0.1))
            rows.append({"run_id": f"r{i}-{s}", "name": f"run-{i}-{s}", "params.lr": lr,
                         "params.depth": depth, "params.act": act, "params.seed": s,
                         "metrics.val_loss": 10 ** log_loss})
    frame = pd.DataFrame(rows)
    hit = np.sort(rng.choice(len(frame), diverged, replace=False))
    frame.loc[hit, "metrics.val_loss"] = 10 ** rng.normal(4.5, 0.1, diverged)
    frame.to_csv(path, index=False)
    return frame.loc[hit, "run_id"].tolist()


def test_heavy_tailed_loss_is_analysed_on_log10_with_the_diverged_runs_listed(tmp_path, capsys):
    csv = tmp_path / "loss.csv"
    diverged = loss_grid(csv, diverged=4)  # 1% of 400 runs
    site, a, _ = build_cli(tmp_path, csv, "--target", "val_loss", capsys=capsys)
    choice = a.prep.scale
    assert a.prep.metric_scale == "log" and choice.scale is Scale.LOG
    assert choice.reason is ScaleReason.LOG_TAMES_TAIL and choice.tried is Scale.LOG
    assert choice.n_top == 4 and choice.top_share <= OWN_LIMIT
    assert sorted(choice.extreme_runs) == sorted(diverged)
    page = _page_text(site)
    names = [f"run-{rid[1:]}" for rid in diverged]
    assert all(n in page for n in names) and "Runs that made the scale choice" in page
    # the headline on log10 is lr; as logged, four runs decide: both are said when they differ
    check = a.scale_check
    assert check is not None and check.chosen.top == "lr"
    if check.differs:
        assert _said(text.scale_headline(a), page)
    else:
        assert text.scale_headline(a) == ""


def accuracy_grid(path: Path, *, collapsed: int) -> list[str]:
    """A bounded accuracy (a > b > c main effects) x 10 seeds; ``collapsed`` runs at 0.1."""
    rng = np.random.default_rng(29)
    rows = []
    for i, (x, y, z) in enumerate(itertools.product([1, 2, 3, 4], [1, 2, 3, 4, 5], ["p", "q"])):
        for s in range(10):
            rows.append({"run_id": f"r{i}-{s}", "params.a": x, "params.b": y, "params.c": z,
                         "params.seed": s, "metrics.val_acc": 0.9 - 0.02 * x + 0.01 * y
                         + (0.01 if z == "p" else 0.0) + rng.normal(0, 0.01)})
    frame = pd.DataFrame(rows)
    hit = np.sort(rng.choice(len(frame), collapsed, replace=False))
    frame.loc[hit, "metrics.val_acc"] = 0.1 + rng.normal(0, 0.005, collapsed)
    frame.to_csv(path, index=False)
    return frame.loc[hit, "run_id"].tolist()


def test_bounded_accuracy_with_collapsed_runs_keeps_its_headline_or_says_both(tmp_path, capsys):
    csv = tmp_path / "acc.csv"
    collapsed = accuracy_grid(csv, collapsed=20)  # 5% of 400 runs
    site, a, _ = build_cli(tmp_path, csv, "--target", "val_acc", capsys=capsys)
    choice = a.prep.scale
    # heavy (left) tail, no log10 for a low tail, and 4 runs (1%) hold under a quarter of the
    # variance: the accuracy is analysed as logged, and the collapsed runs are listed
    assert choice.heavy and choice.reason is ScaleReason.NOT_OWNED and a.prep.metric_scale == "raw"
    assert sorted(choice.extreme_runs) == sorted(collapsed)
    assert a.scale_check is None and text.scale_headline(a) == ""
    assert "Metric scale raw: as logged: the metric is heavy-tailed" in _page_text(site)
    # on ranks (forced), the main effects' headline is compared with the accuracy as logged
    from sweepsight.analysis import analyse

    ranked = analyse(a.table, target="val_acc", metric_scale="rank")
    check = ranked.scale_check
    # the cheap check on the metric as logged agrees with the full analysis of the build
    assert check.scale is Scale.RANK and check.as_logged == headline(a.importance)
    said = text.scale_headline(ranked)
    assert (said != "") == check.differs
    if check.differs:
        assert _plain(said) in _plain(text.findings(ranked))


# --- 3. outcomes are not hyperparameters -------------------------------------------------------

def bare_export(path: Path) -> None:
    """A W&B-style UI export without prefixes: a 3 x 3 grid x 3 seeds, with the run's
    runtime in seconds (a different value in every run) and perplexity."""
    rng = np.random.default_rng(31)
    rows = []
    for i, (lr, wd) in enumerate(itertools.product([1e-4, 1e-3, 1e-2], [0.0, 0.01, 0.1])):
        for s in range(3):
            rows.append({"Name": f"run-{i}-{s}", "State": "finished", "lr": lr,
                         "weight_decay": wd, "seed": s,
                         "runtime_s": round(16000 + 900 * i + rng.normal(0, 300), 1),
                         "perplexity": 20 + 5 * abs(np.log10(lr) + 3) + 10 * wd
                         + rng.normal(0, 0.3)})
    pd.DataFrame(rows).to_csv(path, index=False)


def test_bare_export_sets_runtime_aside_and_keeps_the_exact_grid(tmp_path, capsys):
    csv = tmp_path / "export.csv"
    bare_export(csv)
    site, a, _ = build_cli(tmp_path, csv, "--metric", "perplexity", capsys=capsys)
    assert a.prep.outcomes == ["runtime_s"]
    assert a.prep.set_aside_kind["runtime_s"] is Aside.OUTCOME_NAME
    assert sorted(a.prep.params) == ["lr", "weight_decay"]
    sig = a.significance
    assert sig.applicable and not sig.approximate and len(sig.run_configs) == 9
    assert (sig.run_configs["n"] == 3).all()
    assert not any("runtime" in str(label) for label in sig.configs["label"])
    page = _page_text(site)
    assert "Set aside as outcome of the runs, not hyperparameters: runtime_s" in page
    assert "pass --param NAME" in page


# --- 6. the metric the sweep optimised, and options a snapshot remembers -------------------------

def test_an_mlflow_parent_runs_metric_tag_names_the_target(fast_tmp_path):
    from sweepsight import adapters
    from sweepsight.reports.cli import resolve_target
    from tests import contract
    from tests.mlflow_helpers import T0, client_for, log_run

    uri = f"sqlite:///{fast_tmp_path / 'mlflow.db'}"
    client = client_for(uri)
    eid = client.create_experiment("study")
    parent = client.create_run(eid, start_time=T0, run_name="study", tags={"metric": "val_loss"})
    for i, r in enumerate(contract.runs()):
        log_run(client, eid, name=r["name"], config=r["config"], history=r["history"],
                start=T0 + (i + 1) * 1000, tags={"mlflow.parentRunId": parent.info.run_id})
    table = adapters.load("mlflow", {"tracking_uri": uri, "experiment": ["study"]})
    assert table.meta.objective == "val_loss" and sorted(table.metrics) == ["val_acc", "val_loss"]
    assert resolve_target(None, table.metrics, objective=table.meta.objective) == "val_loss"
    assert resolve_target("val_acc", table.metrics, objective="val_loss") == "val_acc"
    from sweepsight.adapters.errors import SweepError

    with pytest.raises(SweepError, match="choose the one to explain with --target"):
        resolve_target(None, table.metrics, objective="f1")  # not one of them: no guess


@pytest.mark.server
def test_a_wandb_sweep_configs_metric_names_the_target(tmp_path, monkeypatch):
    from sweepsight import adapters
    from tests import contract
    from tests.fake_wandb_server import FakeRun, FakeWandb

    key = "0123456789abcdef0123456789abcdef01234567"
    server = FakeWandb(api_key=key).start()
    try:
        project = server.add_project("ent", "proj", [
            FakeRun(id=f"run{i:02d}", name=r["name"], config=r["config"], summary=r["metrics"],
                    history=r["history"], sweep="sw1") for i, r in enumerate(contract.runs())])
        project.sweep_configs["sw1"] = "method: grid\nmetric:\n  name: val_acc\n  goal: maximize\n"
        for var, value in {"WANDB_BASE_URL": server.url, "WANDB_API_KEY": key,
                           "WANDB_SILENT": "true", "WANDB_CACHE_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(var, value)
        monkeypatch.delenv("WANDB_MODE", raising=False)
        table = adapters.load("wandb", {"project": "ent/proj", "sweep": "sw1"})
        assert table.meta.objective == "val_acc"
        plain = adapters.load("wandb", {"project": "ent/proj"})  # no sweep named: nothing said
        assert plain.meta.objective is None
    finally:
        server.stop()


def test_options_are_the_command_lines_then_the_snapshots_then_the_defaults():
    from sweepsight.adapters.schema import RunMeta
    from sweepsight.reports.cli import DEFAULTS, parser, remembered

    meta = RunMeta(source="csv", report_options={"target": "val_acc", "metric_scale": "log",
                                                 "alpha": 0.01, "test": "mannwhitney"})
    args = parser().parse_args(["--from-snapshot", "s/data/sweep", "--test", "welch"])
    assert remembered(args, meta) == {**DEFAULTS, "metric_scale": "log", "alpha": 0.01,
                                      "test": "welch"}
    assert remembered(parser().parse_args([]), RunMeta(source="csv")) == DEFAULTS
