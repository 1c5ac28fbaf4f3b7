"""The MLflow adapter against real MLflow stores: a sqlite file and a local ``mlflow server``."""
from __future__ import annotations

import logging

import pandas as pd
import pytest

from sweepsight import adapters
from sweepsight.adapters import mlflow_runs
from sweepsight.adapters.errors import SweepError
from tests import contract
from tests.mlflow_helpers import (T0, MlflowServer, client_for, fast_dir, log_contract, log_many,
                                  log_nested, refusing_port)

N_MANY = 23


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store with the contract sweep, nested sweeps, many runs and an empty experiment."""
    with fast_dir(tmp_path_factory.mktemp("mlflow_sqlite")) as root:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        client = client_for(uri)
        ids = {
            "contract": log_contract(client, "contract"),
            "many": log_many(client, "many", N_MANY),
            "empty": client.create_experiment("empty"),
        }
        log_nested(client, "nested")
        yield {"uri": uri, "ids": ids}


@pytest.fixture(scope="module", autouse=True)
def _server_boot(request, tmp_path_factory):
    """Launch the server first thing when server tests are selected: it boots while others run."""
    wanted = any(item.get_closest_marker("server") and item.module is request.module
                 for item in request.session.items)
    if not wanted:
        yield None
        return
    with fast_dir(tmp_path_factory.mktemp("mlflow_server")) as root:
        server = MlflowServer(root)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def server_url(_server_boot):
    url = _server_boot.url()
    client = client_for(url)
    log_contract(client, "contract")
    log_nested(client, "nested")
    return url


def _load(uri, **options):
    return adapters.load("mlflow", {"tracking_uri": uri, **options})


def _expected_history(how: str) -> dict[str, dict[str, float]]:
    pick = min if how == "min" else max
    return {r["name"]: {m: pick(h[m] for h in r["history"]) for m in ("val_acc", "val_loss")}
            for r in contract.runs()}


def _check_agg(table, how: str, metrics=("val_acc", "val_loss")):
    expected = _expected_history(how)
    last = {r["name"]: r["metrics"] for r in contract.runs()}
    frame = table.frame.set_index("name")
    for name, values in expected.items():
        for m in ("val_acc", "val_loss"):
            want = values[m] if m in metrics else last[name][m]
            assert frame.at[name, f"metrics.{m}"] == pytest.approx(want, rel=1e-9), (name, m)
    assert table.meta.metric_agg == how


# --- sqlite store ------------------------------------------------------------------------------

def test_contract_sqlite(store):
    table = _load(store["uri"], experiment="contract")
    contract.assert_contract(table, "mlflow")
    frame = table.frame.sort_values("created_at").reset_index(drop=True)
    assert frame["created_at"].tolist() == [pd.Timestamp(T0 + i * 1000, unit="ms", tz="UTC") for i in range(9)]
    assert set(frame["group"]) == {"contract"} and set(frame["state"]) == {"finished"}
    assert table.meta.metric_agg == "last"
    assert table.meta.query == {"tracking_uri": store["uri"], "experiment": ["contract"],
                                "experiment_id": [store["ids"]["contract"]], "filter": "", "max_results": None}


@pytest.mark.parametrize("how", ["min", "max"])
def test_metric_agg_reads_history(store, how):
    # val_acc rises and val_loss falls over the steps: min/max differ from the last value.
    table = _load(store["uri"], experiment="contract", metric_agg=how)
    _check_agg(table, how)
    assert table.meta.query["metrics"] == ["val_acc", "val_loss"]


def test_metric_agg_only_named_metrics(store):
    table = _load(store["uri"], experiment="contract", metric_agg="min", metrics=["val_acc"])
    _check_agg(table, "min", metrics=("val_acc",))


def test_metric_agg_serial_equals_parallel(store, monkeypatch):
    parallel = _load(store["uri"], experiment="contract", metric_agg="max").frame
    monkeypatch.setattr(mlflow_runs, "HISTORY_WORKERS", 1)
    serial = _load(store["uri"], experiment="contract", metric_agg="max").frame
    pd.testing.assert_frame_equal(parallel, serial)


def test_experiment_by_id_several_experiments_and_env_uri(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    table = adapters.load("mlflow", {"experiment": [store["ids"]["contract"], "many"]})
    assert len(table.frame) == 9 + N_MANY
    assert table.frame["group"].value_counts().to_dict() == {"many": N_MANY, "contract": 9}
    assert table.meta.query["experiment"] == ["contract", "many"]


def test_filter(store):
    table = _load(store["uri"], experiment="contract", filter="metrics.val_acc > 0.88")
    assert sorted(table.frame["name"]) == ["cfg2-seed0", "cfg2-seed1", "cfg2-seed2"]
    assert table.meta.query["filter"] == "metrics.val_acc > 0.88"


def test_nested_parents_left_out_and_group_children(store):
    table = _load(store["uri"], experiment="nested")
    groups = dict(zip(table.frame["name"], table.frame["group"]))
    assert groups == {**{f"trial-{p}-{c}": f"study-{p}" for p in range(2) for c in range(3)}, "solo": "nested"}
    assert "params.n_trials" not in table.frame.columns  # only the parents logged it
    assert "2 parent run(s) left out: they hold nested trials, not results." in table.meta.notes
    assert "6 nested run(s) grouped by their parent run's name." in table.meta.notes


def test_nested_parent_outside_filter_still_names_group(store):
    # The parents have no seed param, so the filter drops them: their names are fetched.
    table = _load(store["uri"], experiment="nested", filter="params.seed = '0'")
    assert dict(zip(table.frame["name"], table.frame["group"])) == {"trial-0-0": "study-0", "trial-1-0": "study-1"}
    assert not any("left out" in note for note in table.meta.notes)


def test_pagination_follows_page_tokens(store, monkeypatch):
    from mlflow import MlflowClient

    calls = []
    original = MlflowClient.search_runs

    def counting(self, *args, **kwargs):
        page = original(self, *args, **kwargs)
        calls.append((kwargs.get("max_results"), kwargs.get("page_token") is not None, len(page)))
        return page

    monkeypatch.setattr(MlflowClient, "search_runs", counting)
    monkeypatch.setattr(mlflow_runs, "PAGE_SIZE", 5)
    table = _load(store["uri"], experiment="many")
    assert sorted(table.frame["name"]) == [f"run-{i:05d}" for i in range(N_MANY)]
    assert [n for _, _, n in calls][:5] == [5, 5, 5, 5, 3]
    assert [tok for _, tok, _ in calls][:5] == [False, True, True, True, True]

    calls.clear()
    capped = _load(store["uri"], experiment="many", max_results=12)
    assert len(capped.frame) == 12 and capped.frame["run_id"].is_unique
    assert calls == [(5, False, 5), (5, True, 5), (2, True, 2)]
    # Newest first (MLflow's order), so the cap keeps the 12 latest runs.
    assert sorted(capped.frame["name"]) == [f"run-{i:05d}" for i in range(N_MANY - 12, N_MANY)]


def test_cli_options_reach_the_adapter(store):
    from sweepsight.reports.cli import adapter_options, parser

    args = parser().parse_args(["--source", "mlflow", "--tracking-uri", store["uri"], "--experiment", "contract",
                                "--metric-agg", "min", "--target", "val_acc"])
    table = adapters.load("mlflow", adapter_options(args))
    _check_agg(table, "min", metrics=("val_acc",))  # the target's history only


# --- bad input ---------------------------------------------------------------------------------

def _error(uri, **options) -> str:
    with pytest.raises(SweepError) as info:
        _load(uri, **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_error_no_experiment_option(store):
    assert "--experiment" in _error(store["uri"])


def test_error_unknown_experiment_lists_existing(store):
    message = _error(store["uri"], experiment="nope")
    assert "'nope' not found" in message
    for name in ("'contract'", "'many'", "'empty'", "'nested'"):
        assert name in message
    assert "--experiment" in message


def test_error_zero_runs(store):
    assert "has no runs; log runs to it" in _error(store["uri"], experiment="empty")
    message = _error(store["uri"], experiment="contract", filter="metrics.val_acc > 5")
    assert "'contract'" in message and "matching filter 'metrics.val_acc > 5'" in message
    assert "--filter" in message


def test_error_bad_filter(store):
    message = _error(store["uri"], experiment="contract", filter="metrics.val_acc >>> 1")
    assert "MLflow rejected the filter 'metrics.val_acc >>> 1'" in message


@pytest.mark.parametrize("options, expected", [
    ({"metric_agg": "mean"}, "--metric-agg 'mean' is not valid; choose one of: last, min, max"),
    ({"metric_agg": "max", "metrics": ["val_f1"]}, "metric 'val_f1' is not logged in MLflow experiment 'contract'"),
    ({"max_results": 0}, "--max-results 0 is not valid"),
])
def test_error_bad_options(store, options, expected):
    assert expected in _error(store["uri"], experiment="contract", **options)


def test_error_missing_sqlite_file_is_not_created(tmp_path):
    path = tmp_path / "missing.db"
    message = _error(f"sqlite:///{path}", experiment="x")
    assert "no MLflow store at" in message and str(path) in message and "--tracking-uri" in message
    assert not path.exists()


def test_error_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not an MLflow database\n" * 20)
    message = _error(f"sqlite:///{path}", experiment="x")
    assert message.startswith(f"cannot read the MLflow store at sqlite:///{path}: ")
    assert "file is not a database" in message


def test_error_unreachable_server_hides_credentials(monkeypatch, caplog, capsys):
    monkeypatch.setattr(mlflow_runs, "PROBE_BACKOFF", 0.01)
    with refusing_port() as port, caplog.at_level(logging.INFO,
                                                   logger="sweepsight.adapters.mlflow_runs"):
        uri = f"http://alice:s3cr3t-pw@127.0.0.1:{port}/?token=tok-9f8e7d"
        message = _error(uri, experiment="contract")
    assert f"cannot reach the MLflow tracking server at http://***@127.0.0.1:{port}/?token=***" in message
    assert f"after {mlflow_runs.PROBE_ATTEMPTS} tries" in message
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == mlflow_runs.PROBE_ATTEMPTS - 1
    seen = message + caplog.text + "".join(capsys.readouterr())
    assert "s3cr3t-pw" not in seen and "tok-9f8e7d" not in seen and "alice" not in seen


@pytest.mark.parametrize("uri, redacted", [
    ("http://user:secret@host:5000", "http://***@host:5000"),
    ("https://token@host/mlflow?token=abc&x=1", "https://***@host/mlflow?token=***&x=***"),
    ("http://host:5000/?token=abc#frag", "http://host:5000/?token=***#***"),
    ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
    ("databricks", "databricks"),
    ("/abs/mlruns", "/abs/mlruns"),
])
def test_redact_uri(uri, redacted):
    assert mlflow_runs.redact_uri(uri) == redacted


# --- tracking server ---------------------------------------------------------------------------

def _with_credentials(url: str) -> str:
    return url.replace("http://", "http://bob:hunter2-secret@")


@pytest.mark.server
def test_contract_server_with_credentials(server_url, caplog, capsys):
    with caplog.at_level(logging.DEBUG):  # every logger, MLflow's and urllib3's included
        table = _load(_with_credentials(server_url), experiment="contract", metric_agg="max",
                      metrics=["val_acc"])  # val_acc rises: its max is the final value
    contract.assert_contract(table, "mlflow")
    assert table.meta.query["tracking_uri"] == server_url.replace("http://", "http://***@")
    assert any("loaded 9 runs from MLflow experiment 'contract' at http://***@127.0.0.1" in r.getMessage()
               for r in caplog.records)
    seen = table.meta.to_json() + caplog.text + "".join(capsys.readouterr())
    assert "hunter2" not in seen and "bob" not in seen


@pytest.mark.server
@pytest.mark.parametrize("how", ["min", "max"])
def test_metric_agg_server(server_url, how):
    _check_agg(_load(server_url, experiment="contract", metric_agg=how), how)


@pytest.mark.server
def test_nested_server(server_url):
    table = _load(server_url, experiment="nested")
    assert sorted(set(table.frame["group"])) == ["nested", "study-0", "study-1"]
    assert len(table.frame) == 7


@pytest.mark.server
def test_error_unknown_experiment_server_hides_credentials(server_url):
    message = _error(_with_credentials(server_url), experiment="nope")
    assert "'nope' not found at http://***@127.0.0.1" in message and "'contract'" in message
    assert "hunter2" not in message and "bob" not in message


@pytest.mark.server
def test_error_server_failure_is_scrubbed(server_url):
    # A URI with a path the server does not serve: MLflow's own error quotes the URL it called.
    uri = _with_credentials(server_url) + "/no-such-prefix"
    message = _error(uri, experiment="contract")
    assert message.startswith("MLflow at http://***@127.0.0.1")
    assert "hunter2" not in message and "bob" not in message
