"""Hostile inputs, round three (issue 24, items 4-7), through the real command line: inputs that
raised a traceback, were killed or ran unbounded, builds that deleted files they did not write,
and messages that were noisy, cut or wrong. Every case ends in one line with exit 2, or in a
correct result with its note; inputs are generated here, sized to take seconds."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from sweepsight import adapters
from sweepsight.adapters import bounded, snapshot
from sweepsight.reports import cli, site_folder
from tests.conftest import REPO
from tests.hostile_inputs import grid, log_wandb, write_sweep

CSV = ["--source", "csv", "--path"]
BASE = {"run_id": "run_id", "params.lr": "lr", "params.optimizer": "optimizer",
        "metrics.val_acc": "val_acc"}


def _snapshot(tmp: Path, edit: Callable[[dict], None]) -> list[str]:
    table = adapters.load("csv", {"path": write_sweep(tmp / "in.csv", BASE)})
    base = tmp / "snap" / "sweep"
    snapshot.save(table, base)
    meta = json.loads(base.with_suffix(".json").read_text())
    edit(meta)
    base.with_suffix(".json").write_text(json.dumps(meta))
    return ["--from-snapshot", str(base)]


def _wandb(tmp: Path, root: Path, name: str, text: str) -> list[str]:
    dst = tmp / "wandb"
    shutil.copytree(root / "wandb", dst, symlinks=True)
    files = sorted(dst.glob("offline-run-*"))[0] / "files"
    files.mkdir(exist_ok=True)
    (files / name).write_text(text)
    return ["--source", "wandb", "--path", str(dst), "--target", "acc"]


def _alias_bomb() -> str:
    """1 KB of YAML whose aliases expand to 9**10 (3.5 billion) strings."""
    lines = ["lr:", "  value: 0.1", "a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines + ["bomb:", "  value: *a9", ""])


def _one_configuration(tmp: Path, _) -> list[str]:
    runs = [{**r, "lr": 0.01, "optimizer": "adam"} for r in grid()]
    path = write_sweep(tmp / "in.csv", {**BASE, "params.seed": "seed"}, runs=runs)
    return CSV + [str(path), "--target", "val_acc", "--check"]


def _input_inside_out(tmp: Path, _) -> list[str]:
    site = tmp / "site"
    site.mkdir()
    (site / site_folder.SITE_MARKER).write_text("old\n")
    return CSV + [str(write_sweep(site / "in.csv", BASE)), "--target", "val_acc"]


def _baseline_inside_out(tmp: Path, _) -> list[str]:
    site = tmp / "site"
    _snapshot(tmp, lambda meta: None)
    shutil.copytree(tmp / "snap", site / "data")
    (site / site_folder.SITE_MARKER).write_text("old\n")
    return CSV + [str(tmp / "in.csv"), "--target", "val_acc", "--baseline", str(site)]


@dataclass(frozen=True)
class Refused:
    id: str
    make: Callable[[Path, Path], list[str]]
    says: str
    out: str = "site"


def _deep(n: int) -> str:
    return "[" * n + "]" * n


REFUSED = [
    Refused("snapshot report_options.alpha a string",
            lambda tmp, _: _snapshot(tmp, lambda m: m["report_options"].update(alpha="0.05x")),
            r"sweep\.json: report_options\.alpha is '0\.05x', not a number between 0 and 1"),
    Refused("snapshot report_options.test unknown",
            lambda tmp, _: _snapshot(tmp, lambda m: m["report_options"].update(test="chi2")),
            r"report_options\.test is 'chi2', not one of ks, welch, mannwhitney"),
    Refused("snapshot without its type lists: says so, not a column's type",
            lambda tmp, _: _snapshot(tmp, lambda m: [m.pop(k) for k in
                                                     ("numeric", "categorical", "boolean")]),
            r"sweep\.json has no type lists \(numeric, categorical, boolean\) for its 2 "
            r"hyperparameters"),
    Refused("snapshot missing one hyperparameter from its type lists",
            lambda tmp, _: _snapshot(tmp, lambda m: m.update(categorical=[])),
            r"hyperparameter 'optimizer' is in none of the type lists"),
    Refused("wandb-summary.json nested 100k deep",
            lambda tmp, root: _wandb(tmp, root, "wandb-summary.json",
                                     '{"acc": 0.5, "x": ' + _deep(100_000) + "}"),
            r"wandb-summary\.json is nested more than 100 levels deep"),
    Refused("config.yaml nested 50k deep",
            lambda tmp, root: _wandb(tmp, root, "config.yaml", "x:\n  value: " + _deep(50_000)),
            r"config\.yaml"),
    Refused("config.yaml nested 500 deep (under the parser's own limit)",
            lambda tmp, root: _wandb(tmp, root, "config.yaml", "x:\n  value: " + _deep(500)),
            r"config\.yaml is nested more than 100 levels deep"),
    Refused("config.yaml alias bomb",
            lambda tmp, root: _wandb(tmp, root, "config.yaml", _alias_bomb()),
            r"config\.yaml: its YAML aliases \(\*name\) expand to more than 1,000,000 values"),
    Refused("--out named with 300 characters",
            lambda tmp, _: CSV + [str(write_sweep(tmp / "in.csv", BASE)), "--target", "val_acc"],
            r"the folder name is 300 bytes long .* pass a name of at most \d+ bytes",
            out="x" * 300),
    Refused("--out under a folder named with 300 characters",
            lambda tmp, _: CSV + [str(write_sweep(tmp / "in.csv", BASE)), "--target", "val_acc"],
            r"File name too long", out="x" * 300 + "/site"),
    Refused("--path inside --out", _input_inside_out,
            r"--out .*site holds the --path .*site/in\.csv"),
    Refused("--baseline inside --out", _baseline_inside_out,
            r"--out .*site holds the --baseline .*site/data/sweep"),
    Refused("one configuration: logged, but nothing varies", _one_configuration,
            r"no hyperparameter varies .* The hyperparameters are logged \(2\) but each has one "
            r"value in every analysed run, so this is one configuration"),
]


@pytest.fixture(scope="module")
def wandb_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("limits_wandb")
    log_wandb(root, [{"config": {"lr": lr}, "log": {"acc": acc}}
                     for lr, acc in [(0.1, 0.5), (0.01, 0.6), (0.001, 0.7)]])
    return root


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_refused_in_one_line(case, tmp_path, wandb_root, capsys):
    args = case.make(tmp_path, wandb_root)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code = cli.main(args + ["--out", str(tmp_path / case.out)])  # a traceback would raise here
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(case.says, lines[0]), lines[0]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # untouched


def test_snapshot_choices_are_the_command_lines():
    actions = {a.dest: a.choices for a in cli.parser()._actions if a.choices}
    for key, allowed in snapshot.REPORT_CHOICES.items():
        assert tuple(actions[key]) == allowed, key


def test_out_a_file_is_refused_before_loading(tmp_path):
    """Was caught after 19 s of loading and analysis: now before the sweep is read (no line of
    the build is printed) in a fresh process."""
    path = write_sweep(tmp_path / "in.csv", BASE)
    (tmp_path / "site").write_text("a file")
    proc = subprocess.run([sys.executable, "-m", "reports", *CSV, str(path), "--target", "val_acc",
                           "--out", str(tmp_path / "site")], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"error: --out {tmp_path / 'site'} is a file; pass a "
                                        "folder for the site."]


def test_yaml_aliases_that_stay_small_load():
    text = "a: &a [1, 2]\nb: [*a, *a]\n"
    assert bounded.load_yaml(text, where="f", fix="x") == {"a": [1, 2], "b": [[1, 2], [1, 2]]}
    assert bounded.load_json(_deep(bounded.MAX_DEPTH), where="f", fix="x") is not None


# --- MLflow messages ---------------------------------------------------------------------------
def test_mlflow_error_is_cut_after_a_whole_sentence(tmp_path, fast_tmp_path, capsys):
    """An MLflow store at an older schema: MLflow's message (430 characters) is quoted up to its
    last whole sentence that fits, not cut mid-word."""
    import sqlite3

    from tests.mlflow_helpers import client_for

    client_for(f"sqlite:///{fast_tmp_path / 'old.db'}").create_experiment("x")
    with sqlite3.connect(fast_tmp_path / "old.db") as db:
        db.execute("update alembic_version set version_num = '0a8213491aaa'")
    # another spelling of the same file: MLflow keeps one store per URI, and checks the
    # schema when it opens one
    uri = f"sqlite:///{fast_tmp_path}/./old.db"
    code = cli.main(["--source", "mlflow", "--tracking-uri", uri, "--experiment", "x",
                     "--out", str(tmp_path / "site")])
    (line,) = [e for e in capsys.readouterr().err.splitlines() if e.startswith("error: ")]
    assert code == 2, line
    assert "Detected out-of-date database schema (found version 0a8213491aaa" in line
    assert "to migrate your database to the latest schema; check the tracking URI" in line, line
    assert "…" not in line and "NOTE" not in line


def test_mlflow_missing_driver_names_its_pip_package(tmp_path, capsys):
    pytest.importorskip("sqlalchemy")
    try:
        import MySQLdb  # noqa: F401
        pytest.skip("mysqlclient is installed here")
    except ImportError:
        pass
    code = cli.main(["--source", "mlflow", "--tracking-uri", "mysql://u:pw@127.0.0.1:9/db",
                     "--experiment", "x", "--out", str(tmp_path / "site")])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and line.endswith("needs the module 'MySQLdb'; install it (pip install "
                                       "mysqlclient)."), line
    assert "pw" not in line


# --- wide and many-levelled sweeps: bounded, quiet ---------------------------------------------
def _check_quietly(argv: list[str], capsys) -> str:
    """``--check`` through the CLI with every warning recorded: none may be pandas'
    fragmentation warning or a numpy overflow."""
    from pandas.errors import PerformanceWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        code = cli.main(argv + ["--check"])
    out = capsys.readouterr()
    assert code == 0, out.err
    noisy = [str(w.message)[:80] for w in seen if issubclass(w.category, PerformanceWarning)
             or "overflow" in str(w.message)]
    assert noisy == [], noisy[:3]
    return out.out


def test_thousands_of_constant_columns_are_set_aside_in_one_pass(tmp_path, capsys):
    """20,000 constant columns on 54 runs ran past 300 s (every column replaced one at a time:
    quadratic); 2,000 here, and the numbers that say the result."""
    rng = np.random.default_rng(0)
    lr = np.tile([1e-3, 1e-2, 1e-1], 18)
    cols = {"run_id": [f"r{i}" for i in range(54)], "params.lr": lr,
            "params.seed": np.arange(54) % 6,
            "params.tiny": np.tile([5e-324, 1e300, 1.0], 18),  # hi / lo overflowed
            "metrics.val_acc": 0.8 + 0.02 * np.log10(lr) + rng.normal(0, 0.01, 54)}
    cols.update({f"params.c{i}": np.full(54, 1.0) for i in range(2_000)})
    pd.DataFrame(cols).to_csv(tmp_path / "wide.csv", index=False)
    out = _check_quietly(CSV + [str(tmp_path / "wide.csv"), "--target", "val_acc"], capsys)
    assert "54 runs from csv, 2,003 hyperparameters" in out or "2003 hyperparameters" in out
    assert "54 of 54 runs and 2 hyperparameters to analyse" in out


def test_wide_varying_sweep_prepares_without_warnings(tmp_path, capsys):
    from benchmarks.sweeps import make_sweep

    make_sweep(150, 300).to_csv(tmp_path / "wide.csv", index=False)
    out = _check_quietly(CSV + [str(tmp_path / "wide.csv"), "--target", "val_loss"], capsys)
    assert re.search(r"150 of 150 runs and \d{3} hyperparameters to analyse", out), out


def test_infinite_values_with_many_levels_stay_numeric_and_the_pairs_bounded(tmp_path):
    """A numeric column of 1,000 values, some infinite, was analysed as a 1,000-level
    categorical: every level a neighbour of every other (10,000 levels over 40k runs: a
    MemoryError in the significance stage). Past max_levels its infinities are missing instead,
    said in a note, and the pairs grow with the configurations, not their square."""
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours

    rng = np.random.default_rng(0)
    width = np.arange(1_000, dtype=float)
    width[0] = np.inf
    runs = 3_000
    w = width[rng.integers(0, len(width), runs)]
    lr = rng.choice([1e-3, 1e-2], runs)
    pd.DataFrame({"run_id": [f"r{i}" for i in range(runs)], "params.width": w, "params.lr": lr,
                  "params.seed": np.arange(runs) % 3,
                  "metrics.val_acc": 0.8 + 0.02 * np.log10(lr) + rng.normal(0, 0.01, runs)}
                 ).to_csv(tmp_path / "inf.csv", index=False)
    table = adapters.load("csv", {"path": str(tmp_path / "inf.csv")})
    prep = prepare(table, target="val_acc")
    n_inf = int(np.isinf(w).sum())
    assert prep.numeric == ["lr", "width"] and prep.categorical == []
    assert (f"Infinite values read as missing, since as categorical levels there would be more "
            f"than max_levels=50: width ({n_inf} runs, {len(np.unique(w))} values).") in prep.notes
    assert prep.runs["width"].isna().sum() == n_inf and "width__missing" in prep.X.columns
    sig = compare_neighbours(prep, n_boot=200)
    assert len(sig.pairs) <= 2 * len(sig.configs) * len(prep.params)  # was ~ levels squared


def test_infinite_values_with_few_levels_are_still_levels(tmp_path):
    from sweepsight.analysis.prepare import prepare

    runs = [{**r, "lr": np.inf if r["lr"] == 1e-1 else r["lr"]} for r in grid()]
    table = adapters.load("csv", {"path": write_sweep(tmp_path / "in.csv", BASE, runs=runs)})
    prep = prepare(table, target="val_acc")
    assert "lr" in prep.categorical
    assert "Analysed as categorical, since some values are infinite: lr." in prep.notes


# --- the build deletes only what a build wrote -------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """A folder holding a planted marker beside a .bashrc, built into twice: before the second
    build a user file, a file in data/, a page an older build listed in its manifest, and the
    building folder of a killed build (its owner gone, made a moment ago)."""
    from tests.conftest import build_site

    tmp = tmp_path_factory.mktemp("rebuilt")
    home = tmp / "site"
    home.mkdir()
    (home / site_folder.SITE_MARKER).write_text("planted\n")
    (home / ".bashrc").write_text("export PATH=~/bin:$PATH\n")
    first = build_site(tmp, seeds=2)
    (home / "notes.txt").write_text("mine")
    (home / "data" / "mine.csv").write_text("a,b\n")
    (home / "old-page.html").write_text("an older build's page")
    manifest = json.loads((home / site_folder.MANIFEST).read_text())
    (home / site_folder.MANIFEST).write_text(json.dumps(manifest + ["old-page.html"]))
    stale = tmp / f"{site_folder.building_prefix(home, pid=_dead_pid())}killed01"
    (stale / "data").mkdir(parents=True)
    (stale / site_folder.LOCK).write_text("")
    second = build_site(tmp, seeds=2)
    return first, second, home, stale


def test_a_planted_marker_does_not_cost_the_bashrc(rebuilt):
    first, _, home, _ = rebuilt
    assert first.code == 0, first.stderr
    assert (home / ".bashrc").read_text() == "export PATH=~/bin:$PATH\n"
    assert re.search(r"\] swap: .*; kept 1 file\(s\) no build wrote: \.bashrc$", first.stdout, re.M)


def test_the_next_build_replaces_only_what_a_build_wrote(rebuilt):
    _, second, home, _ = rebuilt
    assert second.code == 0, second.stderr
    assert (home / "notes.txt").read_text() == "mine" and (home / "data" / "mine.csv").exists()
    assert not (home / "old-page.html").exists()  # written by a build, no longer
    assert (home / "index.html").is_file() and (home / "data" / "sweep.parquet").is_file()
    assert re.search(r"kept 3 file\(s\) no build wrote: \.bashrc, data/mine\.csv, notes\.txt$",
                     second.stdout, re.M), second.stdout
    listed = set(json.loads((home / site_folder.MANIFEST).read_text()))
    assert {"index.html", "data/sweep.parquet", site_folder.SITE_MARKER} <= listed
    assert not listed & {"notes.txt", "data/mine.csv", ".bashrc", "old-page.html"}


def test_a_killed_builds_folder_is_cleaned_once_its_owner_is_gone(rebuilt):
    _, second, home, stale = rebuilt
    assert not stale.exists()
    assert f"cleaned 1 folder(s) left by killed builds: {stale.name}" in second.stdout
    assert [p.name for p in home.parent.iterdir() if p.name.startswith(".site.")] == []


def _fake_site(root: Path, tag: str) -> Path:
    tmp = root / f".site.building-{tag}"
    (tmp / "data").mkdir(parents=True)
    for name in ("index.html", "data/sweep.json", site_folder.SITE_MARKER):
        (tmp / name).write_text(tag)
    site_folder.write_manifest(tmp)
    return tmp


def test_concurrent_swaps_leave_one_complete_site_and_the_users_file(tmp_path):
    out = tmp_path / "site"
    site_folder.swap(_fake_site(tmp_path, "first"), out)
    (out / "mine.txt").write_text("mine")
    tmps = [_fake_site(tmp_path, f"b{i}") for i in range(6)]
    threads = [threading.Thread(target=site_folder.swap, args=(t, out)) for t in tmps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()}
    winner = texts["index.html"]
    assert winner.startswith("b") and texts["data/sweep.json"] == winner  # one build's site, whole
    assert texts[site_folder.SITE_MARKER] == winner and texts["mine.txt"] == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # nothing left beside it
