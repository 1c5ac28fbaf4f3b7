"""Hostile and huge inputs (issue 19), through the real command line: every case ends in one
line on stderr and exit code 2, or in a correct run table / site with its note; none in a
traceback, exit 1, a hang or a silently wrong number.

The corpus is two tables, :data:`REFUSED` and :data:`LOADED`: a new bug report becomes one
more row. Inputs are generated here (:mod:`tests.hostile_inputs`); wandb folders are written by
the real wandb client. One full report build covers what only a site can show.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from sweepsight import adapters
from sweepsight.adapters import snapshot
from sweepsight.analysis.prepare import prepare
from sweepsight.reports import cli
from tests.conftest import REPO
from tests.hostile_inputs import (BIDI, GFM_TRICKS, GITHUB_TRIGGERS, LONG_VALUE, grid, log_wandb,
                                  write_sweep)

CSV = ["--source", "csv", "--path"]


# --- the corpus: inputs refused in one line -----------------------------------------------------
@dataclass(frozen=True)
class Refused:
    """``make(tmp, wandb_root)`` writes the input and returns the CLI arguments; the one-line
    message must match ``says`` (it names the file, column or run at fault)."""

    id: str
    make: Callable[[Path, Path], list[str]]
    says: str


def _csv(columns, **kw) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, _: CSV + [str(write_sweep(tmp / "in.csv", columns, **kw)), "--target", "val_acc"]


BASE = {"run_id": "run_id", "params.lr": "lr", "params.optimizer": "optimizer",
        "metrics.val_acc": "val_acc"}
DUPLICATED = [*BASE.items(), ("params.lr", "lr")]  # the header names params.lr twice


def _snapshot(tmp: Path, damage: Callable[[Path], None]) -> list[str]:
    table = adapters.load("csv", {"path": write_sweep(tmp / "in.csv", BASE)})
    base = tmp / "snap" / "sweep"
    snapshot.save(table, base)
    damage(base)
    return ["--from-snapshot", str(base)]


def _fifo(tmp: Path, _) -> list[str]:
    os.mkfifo(tmp / "pipe.csv")
    return CSV + [str(tmp / "pipe.csv"), "--target", "val_acc"]


def _wandb_copy(tmp: Path, root: Path, edit: Callable[[Path], None], which: str = "same") -> list[str]:
    dst = tmp / "wandb"
    shutil.copytree(root / which / "wandb", dst, symlinks=True)
    edit(sorted(dst.glob("offline-run-*"))[0])
    return ["--source", "wandb", "--path", str(dst), "--target", "acc"]


def _files(run_dir: Path, name: str, text: str) -> None:
    (run_dir / "files").mkdir(exist_ok=True)
    (run_dir / "files" / name).write_text(text)


REFUSED = [
    Refused("csv params.lr beside config.lr, different",
            _csv({"run_id": "run_id", "params.lr": "lr", "config.lr": "lr",
                  "params.optimizer": "optimizer", "metrics.val_acc": "val_acc"},
                 edit=lambda i, r: r if i else [r[0], r[1], "0.5", *r[3:]]),
            r"columns 'params\.lr' and 'config\.lr' both give hyperparameter 'lr' with different "
            r"values \(run 'r0-0': '0\.001' vs '0\.5'\).*--param 'config\.lr'"),
    Refused("csv params.optimizer beside hparams.optimizer, different",
            _csv({"run_id": "run_id", "params.lr": "lr", "params.optimizer": "optimizer",
                  "hparams.optimizer": "optimizer", "metrics.val_acc": "val_acc"},
                 edit=lambda i, r: [*r[:3], "sgd" if r[3] == "adam" else "adam", r[4]]),
            r"'params\.optimizer' and 'hparams\.optimizer' both give hyperparameter 'optimizer'"),
    Refused("csv metrics.val_acc beside summary.val_acc holding 1 - acc",
            _csv({"run_id": "run_id", "params.lr": "lr", "metrics.val_acc": "val_acc",
                  "summary.val_acc": "val_acc"},
                 edit=lambda i, r: [*r[:3], round(1 - r[3], 6)]),
            r"'metrics\.val_acc' and 'summary\.val_acc' both give metric 'val_acc'.*"
            r"--metric 'summary\.val_acc'"),
    Refused("csv header naming params.lr twice, different",
            _csv(DUPLICATED, edit=lambda i, r: r if i else [*r[:4], "7"]),
            r"two columns named 'params\.lr' \(columns 2 and 5\) with different values"),
    Refused("csv separated by semicolons", _csv(BASE, delimiter=";"),
            r"has one column, 'run_id;params\.lr;.*the delimiter looks wrong"),
    Refused("csv column name with a line break", _csv({**BASE, "params.a\nb": "seed"}),
            r"column 'params\.a\\nb' of .*in\.csv: its name holds a line break"),
    Refused("csv empty params. name", _csv({**BASE, "params.": "seed"}),
            r"column 'params\.' of .*in\.csv: its name is empty after its prefix"),
    Refused("csv empty run ids", _csv({**BASE, "run_id": "name"},
                                      edit=lambda i, r: ["" if i < 2 else r[0], *r[1:]]),
            r"duplicate run ids \(1\): empty;"),
    Refused("csv --path /dev/zero", lambda tmp, _: CSV + ["/dev/zero", "--target", "val_acc"],
            r"/dev/zero is not a regular file"),
    Refused("csv --path a FIFO", _fifo, r"pipe\.csv is not a regular file"),
    Refused("snapshot json not JSON",
            lambda tmp, _: _snapshot(tmp, lambda b: b.with_suffix(".json").write_text("{nope")),
            r"snapshot file .*sweep\.json cannot be read .*damaged"),
    Refused("snapshot json a list",
            lambda tmp, _: _snapshot(tmp, lambda b: b.with_suffix(".json").write_text("[1, 2]")),
            r"snapshot file .*sweep\.json cannot be read .*damaged"),
    Refused("snapshot parquet torn",
            lambda tmp, _: _snapshot(tmp, lambda b: b.with_suffix(".parquet").write_bytes(
                b.with_suffix(".parquet").read_bytes()[:300])),
            r"snapshot file .*sweep\.parquet cannot be read .*damaged"),
    Refused("wandb --filter a JSON list",
            lambda tmp, _: ["--source", "wandb", "--project", "e/p", "--filter", "[1,2]"],
            r"--filter for wandb must be a JSON object, not a JSON list"),
    Refused("mlflow malformed tracking URI, credentials not echoed",
            lambda tmp, _: ["--source", "mlflow", "--tracking-uri", "http://u:pw@[::1:5123",
                            "--experiment", "x"],
            r"^error: the MLflow tracking URI is malformed \(Invalid IPv6 URL\)[^@]*$"),
    Refused("wandb config.yaml holding a list",
            lambda tmp, root: _wandb_copy(tmp, root, lambda d: _files(d, "config.yaml", "- 1\n- 2\n")),
            r"config\.yaml holds a list, not a mapping of config keys"),
    Refused("wandb wandb-summary.json holding a list",
            lambda tmp, root: _wandb_copy(tmp, root, lambda d: _files(d, "wandb-summary.json", "[1, 2]")),
            r"wandb-summary\.json holds a JSON list, not an object"),
    Refused("wandb config key 'model.depth' beside nested model: {depth}, different",
            lambda tmp, root: _wandb_copy(tmp, root, lambda d: None, which="differ"),
            r"the config of wandb run '\w+' .*'model\.depth' and model → depth both give "
            r"hyperparameter 'model\.depth' with different values \(4 vs 8\)"),
    Refused("wandb summary 'eval.acc' beside nested eval: {acc}, different",
            lambda tmp, root: _wandb_copy(tmp, root, lambda d: _files(
                d, "wandb-summary.json", json.dumps({"acc": 0.5, "eval.acc": 0.9, "eval": {"acc": 0.1}}))),
            r"the summary of wandb run .*'eval\.acc' and eval → acc both give metric 'eval\.acc' "
            r"with different values \(0\.9 vs 0\.1\)"),
]


@pytest.fixture(scope="module")
def wandb_root(tmp_path_factory) -> Path:
    """Offline runs by the real wandb client: ``same/`` (4 runs whose top-level ``model.depth``
    and ``eval.acc`` equal their nested twins) and ``differ/`` (one run where they differ)."""
    root = tmp_path_factory.mktemp("hostile_wandb")
    log_wandb(root / "same", [
        {"config": {"model.depth": d, "model": {"depth": d}, "lr": lr}, "log": {"acc": acc},
         "summary": {"eval.acc": acc, "eval": {"acc": acc}}}
        for d, lr, acc in [(2, 0.1, 0.5), (4, 0.01, 0.6), (8, 0.001, 0.7), (2, 0.01, 0.55)]])
    log_wandb(root / "differ", [{"config": {"model.depth": 4, "model": {"depth": 8}, "lr": 0.1},
                                 "log": {"acc": 0.5}}])
    return root


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_refused_in_one_line(case, tmp_path, wandb_root, capsys):
    args = case.make(tmp_path, wandb_root) + ["--out", str(tmp_path / "site")]
    code = cli.main(args)  # anything but a SweepError would raise here, traceback and all
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(case.says, lines[0]), lines[0]
    assert not (tmp_path / "site").exists()


def test_refused_in_a_fresh_process_without_traceback(tmp_path):
    """What a user sees: ``python -m reports`` on /dev/zero returns at once with one line."""
    proc = subprocess.run([sys.executable, "-m", "reports", *CSV, "/dev/zero", "--out",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["error: /dev/zero is not a regular file (a folder, "
                                                "device or pipe); pass the path of a CSV, Parquet "
                                                "or JSON-lines export."]


# --- the corpus: inputs that load, with their note -----------------------------------------------
@dataclass(frozen=True)
class Loaded:
    """``make`` as in :class:`Refused`; a note of the table or the preparation must match
    ``note``; ``check(table, prep)`` asserts the numbers."""

    id: str
    make: Callable[[Path, Path], list[str]]
    note: str
    check: Callable


def _same_lr(table, prep):
    assert table.params == ["lr", "optimizer"]
    np.testing.assert_array_equal(table.param("lr"), [r["lr"] for r in grid()])


def _same_metric(table, prep):
    assert table.metrics == ["val_acc"]
    np.testing.assert_array_equal(table.metric("val_acc"), [r["val_acc"] for r in grid()])


def _extreme_rows(tmp: Path, values: dict[int, float]) -> Path:
    runs = grid()
    for i, v in values.items():
        runs[i] = {**runs[i], "val_acc": v}
    return write_sweep(tmp / "in.csv", BASE, runs=runs)


def _huge_left_out(table, prep):
    assert sorted(prep.excluded["run_id"]) == ["r0-0", "r0-1"]
    assert set(prep.excluded["reason"]) == {"target beyond ±1e+150 (arithmetic on it overflows)"}
    assert np.isfinite(prep.y).all() and len(prep.runs) == len(grid()) - 2


def _huge_kept(table, prep):
    assert not len(prep.excluded) and prep.metric_scale != "raw" and np.isfinite(prep.y).all()


def _tiny_kept(table, prep):
    assert not len(prep.excluded) and np.isfinite(prep.y).all()
    assert prep.runs["y_raw"].min() == 5e-324


def _torn_is_crashed(table, prep):
    assert (table.frame["state"] == "crashed").sum() == 1 and len(table.frame) == 4
    assert list(prep.excluded["reason"]) == ["run crashed (state)"]


def _wandb_merged(table, prep):
    assert table.params == ["lr", "model.depth"] and sorted(table.metrics) == ["acc", "eval.acc"]
    np.testing.assert_array_equal(table.metric("eval.acc"), table.metric("acc"))


def _tear(run_dir: Path) -> None:
    log = next(run_dir.glob("run-*.wandb"))
    log.write_bytes(log.read_bytes()[:3])


LOADED = [
    Loaded("csv params.lr beside config.lr, identical (1e-3 written 0.001)",
           _csv({"run_id": "run_id", "params.lr": "lr", "config.lr": "lr",
                 "params.optimizer": "optimizer", "metrics.val_acc": "val_acc"},
                edit=lambda i, r: [r[0], r[1], f"{r[2]:e}", *r[3:]]),
           r"^Columns 'params\.lr' and 'config\.lr' hold the same values: read once as "
           r"hyperparameter lr\.$", _same_lr),
    Loaded("csv metrics.val_acc beside summary.val_acc, identical",
           _csv({"run_id": "run_id", "params.lr": "lr", "metrics.val_acc": "val_acc",
                 "summary.val_acc": "val_acc"}),
           r"read once as metric val_acc", _same_metric),
    Loaded("csv header naming params.lr twice, identical (no invented lr.1)",
           _csv(DUPLICATED),
           r"^Column params\.lr appears 2 times in in\.csv with the same values: read once\.$",
           _same_lr),
    Loaded("target ±1e308 beside normal values: left out like inf",
           lambda tmp, _: CSV + [str(_extreme_rows(tmp, {0: 1e308, 1: -1e308})), "--target", "val_acc"],
           r"^Left out 2 run\(s\) whose target is beyond ±1e\+150.*: r0-0, r0-1\.$", _huge_left_out),
    Loaded("target 1e250 beside normal values, --metric-scale raw: left out",
           lambda tmp, _: CSV + [str(_extreme_rows(tmp, {0: 1e250, 1: 1e250})), "--target",
                                 "val_acc", "--metric-scale", "raw"],
           r"^Left out 2 run\(s\) whose target is beyond ±1e\+150", _huge_left_out),
    Loaded("target 1e250 beside normal values, auto scale: kept, on log10 or ranks",
           lambda tmp, _: CSV + [str(_extreme_rows(tmp, {0: 1e250, 1: 1e250})), "--target", "val_acc"],
           r"^Metric scale (log|rank)", _huge_kept),
    Loaded("target 5e-324 beside normal values: analysed",
           lambda tmp, _: CSV + [str(_extreme_rows(tmp, {0: 5e-324})), "--target", "val_acc"],
           r"^Metric scale ", _tiny_kept),
    Loaded("wandb run whose .wandb log is 3 bytes: a crashed run",
           lambda tmp, root: _wandb_copy(tmp, root, _tear),
           r"^Excluded 1 of 4 runs \(run crashed \(state\): 1\)\.$", _torn_is_crashed),
    Loaded("wandb 'model.depth' and 'eval.acc' beside identical nested twins",
           lambda tmp, root: _wandb_copy(tmp, root, lambda d: None),
           r"^Summary keys 'eval\.acc' and eval → acc hold the same value in 4 runs: read once "
           r"as metric eval\.acc\.$", _wandb_merged),
]


def load_and_prepare(argv: list[str]):
    """The CLI's load and check steps (``reports.cli``), without the report build."""
    args = cli.parser().parse_args(argv)
    table = adapters.load(args.source or "csv", cli.adapter_options(args))
    target = cli.resolve_target(args.target, table.metrics, args.metric,
                                objective=table.meta.objective)
    options = cli.remembered(args, table.meta)
    return table, prepare(table, target=target, direction=options["direction"],
                          metric_scale=options["metric_scale"])


@pytest.mark.parametrize("case", LOADED, ids=lambda c: c.id)
def test_loaded_with_its_note(case, tmp_path, wandb_root):
    table, prep = load_and_prepare(case.make(tmp_path, wandb_root))
    notes = table.meta.notes + prep.notes
    assert any(re.search(case.note, n) for n in notes), notes
    case.check(table, prep)


def test_wandb_config_merge_note(tmp_path, wandb_root):
    table, _ = load_and_prepare(_wandb_copy(tmp_path, wandb_root, lambda d: None))
    assert ("Config keys 'model.depth' and model → depth hold the same value in 4 runs: read "
            "once as hyperparameter model.depth.") in table.meta.notes


# --- MLflow: a proxy's HTML error, a server that dies ----------------------------------------------
class _Proxy(BaseHTTPRequestHandler):
    """An auth proxy in front of MLflow: /health answers, the API gets 403 and an HTML page."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        ok = self.path.startswith("/health")
        body = b"OK" if ok else (b"<!doctype html><html><body>" + b"denied " * 120 + b"</body></html>")
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_mlflow_html_error_cut_to_the_status_line(capsys, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_port}/?token=s3cr3t-token"
        code = cli.main(["--source", "mlflow", "--tracking-uri", uri, "--experiment", "x",
                         "--out", str(tmp_path / "site")])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert "403" in line and "html" not in line.lower() and "denied" not in line
    assert "s3cr3t" not in line and len(line) < 400, line


def test_mlflow_http_retries_bounded_unless_set(monkeypatch):
    from mlflow.environment_variables import (MLFLOW_HTTP_REQUEST_MAX_RETRIES,
                                              MLFLOW_HTTP_REQUEST_TIMEOUT)

    from sweepsight.adapters import mlflow_runs

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")
    with mlflow_runs._bounded_http():
        assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 2
        assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 7  # the user's own setting wins
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"


@pytest.mark.server
def test_mlflow_server_dying_mid_fetch_fails_in_one_line(tmp_path, fast_tmp_path, monkeypatch, capsys):
    """The server answers the reachability probe, then dies: the experiment lookup fails after
    MLflow's (bounded) retries, as one line naming the server."""
    import time

    from sweepsight.adapters import mlflow_runs
    from tests.mlflow_helpers import MlflowServer, client_for, log_contract

    server = MlflowServer(fast_tmp_path)  # its sqlite store in RAM: no waits on fsync
    try:
        url = server.url()
        log_contract(client_for(url), "sweep")
        probe = mlflow_runs._probe_server

        def probe_then_die(uri):
            probe(uri)
            server.stop()

        monkeypatch.setattr(mlflow_runs, "_probe_server", probe_then_die)
        start = time.perf_counter()
        code = cli.main(["--source", "mlflow", "--tracking-uri", url, "--experiment", "sweep",
                         "--out", str(tmp_path / "site")])
        took = time.perf_counter() - start
    finally:
        server.stop()
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith(f"error: MLflow at {url} failed: "), err
    print(f"dead MLflow server reported after {took:.1f} s")  # measured, not asserted


# --- summary.md as a PR comment -------------------------------------------------------------------
def _triggers(markdown: str) -> dict[str, list[str]]:
    return {what: pattern.findall(markdown) for what, pattern in GITHUB_TRIGGERS.items()
            if pattern.findall(markdown)}


@pytest.mark.parametrize("trick", GFM_TRICKS)
def test_summary_cell_leaves_github_nothing_to_act_on(trick):
    import mistune

    from sweepsight.reports.summary import text

    cell = text(trick, limit=200)
    assert not _triggers(cell), cell
    assert "\n" not in cell
    html = mistune.create_markdown(plugins=["table", "url", "strikethrough", "footnotes"])(
        f"| a |\n|---|\n| {cell} |\n\n- {cell}\n")
    assert not re.search(r"<(a|img|script)\b", html), html
    assert len(re.findall(r"<td>", html)) == 1  # a | in the value did not split the cell


def test_counts_print_as_integers():
    from sweepsight.reports.charts.tables import html_table
    from sweepsight.reports.format import count

    assert [count(6667), count(6667.0), count(2.5), count(1_000_000)] == \
        ["6,667", "6,667", "2.5", "1,000,000"]
    assert "<td>66667</td>" in html_table(pd.DataFrame({"n": [66667.0]}))


# --- one full build: hostile names, a 10,000-character value, extreme values, merged columns ----
@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile_site")
    runs = grid()
    tricks = [t for t in GFM_TRICKS if "\n" not in t]
    for i, run in enumerate(runs):
        run["name"] = tricks[i % len(tricks)]
        run["tag"] = [LONG_VALUE, "a\u202eb @octocat #12 www.evil.io", "plain"][run["seed"]]
    runs += [{**runs[0], "run_id": "huge+", "name": "\u202ehuge @octocat", "val_acc": 1e308},
             {**runs[1], "run_id": "huge-", "name": "huge #99", "val_acc": -1e308}]
    path = write_sweep(tmp / "hostile.csv", {
        "run_id": "run_id", "name": "name", "params.lr": "lr", "config.lr": "lr",
        "params.optimizer": "optimizer", "params.tag": "tag", "params.seed": "seed",
        "metrics.val_acc": "val_acc"}, runs=runs)
    renderer = ["--renderer", "nbconvert"] if shutil.which("quarto") else []
    proc = subprocess.run([sys.executable, "-m", "reports", *CSV, str(path), "--target", "val_acc",
                           "--out", str(tmp / "site"), *renderer], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    return proc, tmp / "site"


def test_hostile_site_builds_with_its_notes(hostile_site):
    proc, site = hostile_site
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    index = (site / "index.html").read_text()
    assert "read once as hyperparameter lr" in index
    assert "whose target is beyond ±1e+150" in index


def test_hostile_summary_is_safe_as_a_pr_comment(hostile_site):
    import mistune

    proc, site = hostile_site
    summary = (site / "summary.md").read_text()
    assert not _triggers(summary), _triggers(summary)
    assert "⟨U+202E⟩huge @\u2060octocat" in summary  # the left-out run, named, made inert
    assert LONG_VALUE[:200] not in summary and len(summary) < 65_536
    html = mistune.create_markdown(plugins=["table", "url", "strikethrough", "footnotes"])(summary)
    assert not re.search(r"<(img|script)\b", html)
    # the only links are the report's own: the Next sweep section's to its page and files
    links = re.findall(r"<a\b[^>]*>", html)
    assert all(re.fullmatch(r'<a href="(next\.html#next-[a-z]+|next/[\w.-]+)">', a) for a in links), links


def test_hostile_pages_show_bidi_controls_and_cut_long_labels(hostile_site):
    import vl_convert

    proc, site = hostile_site
    for page in site.glob("*.html"):
        assert not BIDI.search(page.read_text()), page.name
    index = (site / "index.html").read_text()
    specs = [json.loads(s) for s in re.findall(
        r'<script[^>]* id="[^"]+-spec"[^>]*>(.*?)</script>', index, re.S)]
    (parallel,) = [s for s in specs if "vconcat" in s]
    ticks = [rows for rows in parallel["datasets"].values() if rows and "full" in rows[0]][0]
    assert LONG_VALUE in {r["full"] for r in ticks}  # whole in the tooltip ...
    assert "x" * 23 + "…" in {r["label"] for r in ticks}  # ... cut on the chart
    assert max(len(r["label"]) for r in ticks) < 40  # (a bidi control shows as 8 characters)
    svg = vl_convert.vegalite_to_svg(parallel)
    width = float(re.search(r'<svg[^>]*width="([\d.]+)"', svg).group(1))
    assert width < 2_000  # was 50,141 px with the level written out
