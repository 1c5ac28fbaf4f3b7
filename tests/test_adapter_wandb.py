"""The wandb adapter with the real wandb client: offline run directories written by
``wandb.init(mode="offline")``, and the public API against a local fake GraphQL server."""
from __future__ import annotations

import json
import shutil
import socket

import numpy as np
import pytest

from sweepsight import adapters
from sweepsight.adapters.errors import SweepError
from tests import contract
from tests.fake_wandb_server import FakeRun, FakeWandb

wandb = pytest.importorskip("wandb")

FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, like a real key
SWEEP = "sw1abcde"


def _history_agg(how: str) -> dict:
    """name -> {metric: min/max over the contract history}."""
    pick = min if how == "min" else max
    return {r["name"]: {m: pick(row[m] for row in r["history"]) for m in r["metrics"]}
            for r in contract.runs()}


def _check_agg(table, how: str) -> None:
    expected = _history_agg(how)
    frame = table.frame.set_index("name")
    for name, metrics in expected.items():
        for m, value in metrics.items():
            np.testing.assert_allclose(frame.loc[name, f"metrics.{m}"], value, rtol=1e-12)
    assert table.meta.metric_agg == how


# offline ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def offline_dir(tmp_path_factory):
    """The nine contract runs, logged by the real wandb client in offline mode."""
    root = tmp_path_factory.mktemp("wandb_offline")
    with pytest.MonkeyPatch.context() as mp:
        for var, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true",
                           "WANDB_CONSOLE": "off", "WANDB_DISABLE_GIT": "true",
                           "WANDB_DISABLE_CODE": "true"}.items():
            mp.setenv(var, value)
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True,
                                  x_disable_meta=True, x_disable_machine_info=True)
        for r in contract.runs():
            run = wandb.init(mode="offline", dir=root, project="contract", config=r["config"],
                             name=r["name"], reinit="create_new", settings=settings)
            for row in r["history"]:
                run.log(row)
            run.finish()
        # finish() can return before wandb-core has flushed the log to disk; stopping the
        # service makes it flush and close every file.
        wandb.teardown()
    return root


def test_offline_contract(offline_dir):
    table = adapters.load("wandb", {"path": str(offline_dir)})
    contract.assert_contract(table, "wandb")
    assert len(table.frame) == 9
    assert set(table.frame["state"]) == {"finished"}
    assert set(table.frame["group"]) == {"contract"}  # no sweep, no group: the project
    assert table.frame["created_at"].notna().all()
    assert table.meta.query == {"path": str(offline_dir)}


def test_offline_accepts_wandb_dir_and_one_run_dir(offline_dir):
    contract.assert_contract(adapters.load("wandb", {"path": offline_dir / "wandb"}), "wandb")
    one = sorted((offline_dir / "wandb").glob("offline-run-*"))[0]
    table = adapters.load("wandb", {"path": one})
    assert len(table.frame) == 1
    assert table.frame["run_id"][0] == one.name.rsplit("-", 1)[-1]
    assert table.frame["name"][0].startswith("cfg")


@pytest.mark.parametrize("how", ["min", "max"])
def test_offline_metric_agg(offline_dir, how):
    table = adapters.load("wandb", {"path": offline_dir, "metric_agg": how})
    _check_agg(table, how)
    assert any(how in note for note in table.meta.notes)


def test_offline_metric_agg_only_named_metrics(offline_dir):
    table = adapters.load("wandb", {"path": offline_dir, "metric_agg": "max", "metrics": ["val_loss"]})
    frame = table.frame.set_index("name")
    last = {r["name"]: r["metrics"] for r in contract.runs()}
    high = _history_agg("max")
    for name in last:
        np.testing.assert_allclose(frame.loc[name, "metrics.val_loss"], high[name]["val_loss"])
        np.testing.assert_allclose(frame.loc[name, "metrics.val_acc"], last[name]["val_acc"])
    with pytest.raises(SweepError, match="'val_los'.*val_acc, val_loss"):
        adapters.load("wandb", {"path": offline_dir, "metric_agg": "max", "metrics": ["val_los"]})


def test_offline_torn_log_reads_what_was_written(offline_dir, tmp_path):
    """A run killed mid-write: the log ends inside a record and has no exit record."""
    src = sorted((offline_dir / "wandb").glob("offline-run-*"))[0]
    dst = tmp_path / "wandb" / src.name
    shutil.copytree(src, dst)
    log = next(dst.glob("run-*.wandb"))
    data = log.read_bytes()
    log.write_bytes(data[: len(data) * 2 // 3])
    table = adapters.load("wandb", {"path": tmp_path})
    assert table.frame["state"].tolist() == ["crashed"]
    assert table.param("seed").notna().all()
    assert table.metrics  # the history rows before the tear are there


def test_offline_config_yaml_and_summary_json_win(offline_dir, tmp_path):
    """Online runs (and synced ones) carry files/config.yaml and files/wandb-summary.json."""
    src = sorted((offline_dir / "wandb").glob("offline-run-*"))[0]
    dst = tmp_path / "wandb" / ("run-" + src.name.removeprefix("offline-run-"))
    shutil.copytree(src, dst)
    (dst / "files" / "config.yaml").write_text(
        "_wandb:\n  value:\n    cli_version: 0.31.0\nlr:\n  desc: null\n  value: 0.5\n"
        "model:\n  desc: null\n  value:\n    depth: 3\n")
    (dst / "files" / "wandb-summary.json").write_text(json.dumps(
        {"acc": 0.25, "_step": 3, "img": {"_type": "image-file", "path": "x.png"},
         "eval": {"f1": 0.5}, "note": "text"}))
    table = adapters.load("wandb", {"path": tmp_path})
    assert table.params == ["lr", "model.depth"]
    assert sorted(table.metrics) == ["acc", "eval.f1"]
    assert table.metric("acc")[0] == 0.25


def test_offline_errors(tmp_path):
    with pytest.raises(SweepError, match="not found"):
        adapters.load("wandb", {"path": tmp_path / "nope"})
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "a.txt").write_text("x")
    with pytest.raises(SweepError, match="no W&B run directories"):
        adapters.load("wandb", {"path": tmp_path / "stuff"})
    bad = tmp_path / "wandb" / "offline-run-20260101_000000-abc"
    bad.mkdir(parents=True)
    (bad / "run-abc.wandb").write_bytes(b"not a log at all")
    with pytest.raises(SweepError, match="not a W&B transaction log"):
        adapters.load("wandb", {"path": tmp_path})
    with pytest.raises(SweepError, match="metric_agg 'median'.*last, min, max"):
        adapters.load("wandb", {"path": tmp_path, "metric_agg": "median"})
    with pytest.raises(SweepError, match="--project"):
        adapters.load("wandb", {})


# public API against the fake server -------------------------------------------------------
def _fake_runs() -> list[FakeRun]:
    out = []
    for i, r in enumerate(contract.runs()):
        out.append(FakeRun(id=f"run{i:02d}", name=r["name"], config=r["config"],
                           summary={**r["metrics"], "_step": 3, "_runtime": 1.5,
                                    "table": {"_type": "table-file", "path": "t.json"}},
                           history=r["history"], sweep=SWEEP if i < 6 else None,
                           group="grp" if i >= 6 else None,
                           created_at=f"2026-01-0{1 + i // 3}T10:00:0{i}"))
    return out


@pytest.fixture(scope="module")
def fake_server():
    server = FakeWandb(api_key=FAKE_KEY, page_limit=4).start()
    server.add_project("ent", "proj", _fake_runs())
    yield server
    server.stop()


@pytest.fixture
def api_env(fake_server, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_BASE_URL", fake_server.url)
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    fake_server.requests.clear()
    fake_server.unknown.clear()
    yield fake_server
    assert not fake_server.unknown, f"client sent operations the fake lacks: {fake_server.unknown}"


def _no_key(obj) -> None:
    assert FAKE_KEY not in str(obj)


@pytest.mark.server
def test_api_contract_paginates(api_env):
    table = adapters.load("wandb", {"project": "ent/proj", "per_page": 50})
    contract.assert_contract(table, "wandb")
    runs = api_env.ops("Runs")
    assert len(runs) == 3  # 9 runs, pages of at most 4
    assert [r["variables"]["cursor"] for r in runs] == [None, "4", "8"]
    frame = table.frame.set_index("run_id")
    assert frame.loc["run00", "group"] == SWEEP and frame.loc["run08", "group"] == "grp"
    assert str(frame.loc["run08", "created_at"]) == "2026-01-03 10:00:08+00:00"
    assert sorted(table.metrics) == ["val_acc", "val_loss"]  # "_step", media "table" dropped
    _no_key(table.meta.to_json())
    assert table.meta.query == {"project": "ent/proj"}


@pytest.mark.server
def test_api_sweep(api_env):
    table = adapters.load("wandb", {"project": "ent/proj", "sweep": SWEEP})
    assert sorted(table.frame["run_id"]) == [f"run{i:02d}" for i in range(6)]
    assert set(table.frame["group"]) == {SWEEP}
    assert api_env.ops("GetSweep")
    assert all(json.loads(r["variables"]["filters"]) == {"sweep": SWEEP} for r in api_env.ops("Runs"))
    assert table.meta.query == {"project": "ent/proj", "sweep": SWEEP, "filters": {"sweep": SWEEP}}


@pytest.mark.server
def test_api_filters_pass_through(api_env):
    filters = {"config.optimizer.name": "sgd"}
    table = adapters.load("wandb", {"project": "ent/proj", "filters": filters})
    assert table.param("optimizer.name").tolist() == ["sgd"] * 3
    assert json.loads(api_env.ops("Runs")[0]["variables"]["filters"]) == filters


@pytest.mark.server
@pytest.mark.parametrize("how", ["min", "max"])
def test_api_metric_agg_reads_full_history(api_env, how):
    table = adapters.load("wandb", {"project": "ent/proj", "metric_agg": how})
    _check_agg(table, how)
    # scan_history: every run's exported history, one scan per run
    assert len(api_env.ops("RunParquetHistory")) == 9


@pytest.mark.server
def test_api_missing_project_and_sweep(api_env):
    with pytest.raises(SweepError, match="project 'ent/nope' not found") as err:
        adapters.load("wandb", {"project": "ent/nope"})
    _no_key(err.value)
    with pytest.raises(SweepError, match="sweep 'nosuch' not found in wandb project 'ent/proj'") as err:
        adapters.load("wandb", {"project": "ent/proj", "sweep": "nosuch"})
    _no_key(err.value)
    with pytest.raises(SweepError, match="has no runs"):
        adapters.load("wandb", {"project": "ent/proj", "filters": {"config.seed": 99}})
    with pytest.raises(SweepError, match="entity/project"):
        adapters.load("wandb", {"project": "a/b/c"})


@pytest.mark.server
def test_api_bad_key(api_env, monkeypatch):
    wrong = "f" * 40
    monkeypatch.setenv("WANDB_API_KEY", wrong)
    with pytest.raises(SweepError, match="wandb login") as err:
        adapters.load("wandb", {"project": "ent/proj"})
    assert wrong not in str(err.value)


@pytest.mark.server
def test_api_no_key(api_env, monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    # wandb's global settings remember the key they saw when set up: start afresh, as a
    # new process without a key would.
    wandb.teardown()
    with pytest.raises(SweepError, match="wandb login.*WANDB_API_KEY"):
        adapters.load("wandb", {"project": "ent/proj"})


@pytest.mark.server
def test_api_unreachable_retries_then_says_so(api_env, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(SweepError, match="cannot reach the W&B server.*2 attempts") as err:
        adapters.load("wandb", {"project": "ent/proj", "timeout": 1, "retries": 1, "backoff": 0})
    _no_key(err.value)


@pytest.mark.server
def test_api_metric_agg_one_named_metric(api_env):
    table = adapters.load("wandb", {"project": "ent/proj", "metric_agg": "min", "metrics": "val_loss"})
    frame = table.frame.set_index("name")
    low = _history_agg("min")
    for r in contract.runs():
        np.testing.assert_allclose(frame.loc[r["name"], "metrics.val_loss"], low[r["name"]]["val_loss"])
        np.testing.assert_allclose(frame.loc[r["name"], "metrics.val_acc"], r["metrics"]["val_acc"])
    assert "val_loss" in table.meta.notes[-1] and "val_acc" not in table.meta.notes[-1]


@pytest.mark.server
def test_cli_unanswering_server_ends_in_one_line_within_seconds(tmp_path):
    """A W&B server that takes the connection and never answers (or no network at all): the
    real client would retry for minutes; the CLI says what it waits for, then one line, exit 2
    (about 8 s here; the subprocess time-out only guards against a hang)."""
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = {**__import__("os").environ, "WANDB_BASE_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
               "WANDB_API_KEY": "f" * 40, "WANDB_SILENT": "true",
               "WANDB_CONFIG_DIR": str(tmp_path / "config"), "WANDB_CACHE_DIR": str(tmp_path / "cache")}
        env.pop("WANDB_MODE", None)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "reports", "--source", "wandb", "--project",
                               "ent/proj", "--out", str(tmp_path / "site")], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        took = time.perf_counter() - start
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: cannot reach the W&B server")
    assert "f" * 40 not in done.stdout + done.stderr
    assert "fetching runs from wandb" in done.stdout and "retrying in" in done.stdout
    assert not (tmp_path / "site").exists()
    print(f"unanswering W&B server: exit 2 after {took:.1f} s")
