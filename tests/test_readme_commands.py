"""Every ``nox -s report`` command of the README, run verbatim.

The commands are read from the README's bash blocks, so a command added there is run here (or
must be listed in :data:`NOT_HERE` with the reason). ``nox -s report -- ARGS`` runs
``python -m reports ARGS`` (what the nox session does, without building its environment), in
a fresh process whose working folder holds what the command names: the site built by the first
command (``site/``, read back by ``--from-snapshot``), ``runs.csv``, ``wandb_export.csv``,
offline ``wandb/`` run folders written by the real wandb client, and an MLflow store with an
experiment ``my-sweep`` ($MLFLOW_TRACKING_URI, as the README's help says). The one command
that names a server (``--tracking-uri http://127.0.0.1:5000``) runs against a real
``mlflow server`` on a free port, the URL rewritten to it; the W&B project and sweep are served
by ``tests/fake_wandb_server.py`` (``WANDB_BASE_URL``) to the real wandb client. Builds are
slow (a minute or more each on a loaded 2-core machine): marker ``slow``.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests import contract
from tests.conftest import REPO, write_sweep

README = REPO / "README.md"
#: Commands of the README that are not report builds, with why they are not run here.
NOT_HERE = {
    "nox -s tests": "runs the whole test suite (this test is part of it)",
    "python3 -m pip install": "installs nox from PyPI: the test already runs inside an environment",
}
SERVER_PORT = "127.0.0.1:5000"
FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"


def readme_commands() -> list[str]:
    """The commands of the README's bash blocks (split at ``&&``, comments dropped)."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


def report_commands() -> list[str]:
    return [c for c in readme_commands() if c.startswith("nox -s report")]


def test_every_readme_command_is_run_here_or_says_why_not():
    commands = readme_commands()
    assert len(report_commands()) >= 7
    for c in commands:
        assert c.startswith("nox -s report") or any(c.startswith(k) for k in NOT_HERE), c
    # the option is --from-snapshot: neither the README nor a message names a --snapshot
    assert not any("--snapshot " in c for c in commands)
    sources = [f for d in ("adapters", "analysis", "reports") for f in (REPO / d).rglob("*.py")]
    assert sources and not [f for f in sources
                            if re.search(r"(?<!from)--snapshot\b", f.read_text(encoding="utf-8"))]


def _bare_export(path: Path) -> None:
    """A W&B UI export as downloaded: Name, State, Runtime, config and summary columns."""
    rows = []
    for i, r in enumerate(contract.runs()):
        c = r["config"]
        rows.append({"Name": r["name"], "State": "finished", "Runtime": 60 + i,
                     "optimizer.name": c["optimizer"]["name"], "optimizer.lr": c["optimizer"]["lr"],
                     "batch_size": c["batch_size"], "seed": c["seed"],
                     "val_loss": r["metrics"]["val_loss"], "val_acc": r["metrics"]["val_acc"]})
    pd.DataFrame(rows).to_csv(path, index=False)


def _wandb_offline(root: Path) -> None:
    import wandb

    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
           "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true"}
    with pytest.MonkeyPatch.context() as mp:
        for var, value in env.items():
            mp.setenv(var, value)
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True,
                                  x_disable_meta=True, x_disable_machine_info=True)
        for r in contract.runs():
            run = wandb.init(mode="offline", dir=root, project="readme", config=r["config"],
                             name=r["name"], reinit="create_new", settings=settings)
            for row in r["history"]:
                run.log(row)
            run.finish()
        wandb.teardown()


def _log_sweep(uri: str, experiment: str | None = None, *, objective: str | None = None) -> str:
    """The contract sweep into the MLflow store at ``uri``, in ``experiment`` (default: the
    experiment with id 3); with ``objective``, as the children of a parent run whose tag
    ``metric`` names the metric the sweep optimised. Returns the experiment id."""
    from tests.mlflow_helpers import T0, client_for, log_run

    client = client_for(uri)
    if experiment:
        eid = client.create_experiment(experiment)
    else:  # the README's --experiment 3 (a new store counts from 0, "Default")
        eid = "0"
        while int(eid) < 3:
            eid = client.create_experiment(f"sweep-{len(client.search_experiments())}")
    tags = {}
    if objective:
        parent = client.create_run(eid, start_time=T0, run_name="study",
                                   tags={"metric": objective})
        client.set_terminated(parent.info.run_id, "FINISHED")
        tags = {"mlflow.parentRunId": parent.info.run_id}
    for i, r in enumerate(contract.runs()):
        log_run(client, eid, name=r["name"], config=r["config"], history=r["history"],
                start=T0 + (i + 1) * 1000, tags=tags)
    return eid


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> Iterator[str]:
    """The MLflow store of $MLFLOW_TRACKING_URI, with the experiment ``my-sweep``: a sqlite
    file in RAM when there is some (:func:`tests.mlflow_helpers.fast_dir`)."""
    from tests.mlflow_helpers import fast_dir

    with fast_dir(tmp_path_factory.mktemp("readme_store")) as root:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        _log_sweep(uri, "my-sweep")
        yield uri


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, mlflow_store) -> Path:
    """The folder the commands run in, with the files they name."""
    root = tmp_path_factory.mktemp("readme")
    write_sweep(root / "runs.csv")
    _bare_export(root / "wandb_export.csv")
    _wandb_offline(root)
    return root


def run_command(command: str, cwd: Path, env: dict | None = None, *,
                check: bool = False) -> subprocess.CompletedProcess:
    """``nox -s report -- ARGS`` as ``python -m reports ARGS`` in ``cwd`` (with ``--check``
    appended when ``check``: load, check and stop, without building the site)."""
    words = shlex.split(command)
    assert words[:3] == ["nox", "-s", "report"], command
    args = words[4:] if words[3:4] == ["--"] else words[3:]
    args += ["--check"] if check else []
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "reports", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=900)


def _params():
    out = []
    for c in report_commands():
        marks = [pytest.mark.slow]
        if SERVER_PORT in c or "--project" in c:
            marks.append(pytest.mark.server)
        out.append(pytest.param(c, marks=marks, id=re.sub(r"\W+", "_", c[len("nox -s report"):])
                                .strip("_") or "example"))
    return out


@pytest.mark.parametrize("command", _params())
def test_readme_command_runs_verbatim(command, workdir, mlflow_store, tmp_path):
    from sweepsight.adapters import snapshot

    env = {"MLFLOW_TRACKING_URI": mlflow_store}
    server = None
    scratch = contextlib.ExitStack()
    if "--from-snapshot site/data/sweep" in command:
        if not (workdir / "site/data/sweep.json").exists():  # run alone: the quick start's site
            assert run_command("nox -s report", workdir).returncode == 0
        before = snapshot.load(workdir / "site" / "data" / "sweep").meta.report_options
        assert before["target"]
    if "--project entity/project" in command:
        from tests.fake_wandb_server import FakeRun, FakeWandb

        server = FakeWandb(api_key=FAKE_KEY).start()
        project = server.add_project("entity", "project", [
            FakeRun(id=f"run{i:02d}", name=r["name"], config=r["config"],
                    summary={**r["metrics"], "_step": 3}, history=r["history"], sweep="abc123")
            for i, r in enumerate(contract.runs())])
        project.sweep_configs["abc123"] = ("method: grid\nmetric:\n  name: val_loss\n"
                                           "  goal: minimize\n")
        env.update({"WANDB_BASE_URL": server.url, "WANDB_API_KEY": FAKE_KEY,
                    "WANDB_SILENT": "true", "WANDB_CACHE_DIR": str(tmp_path / "cache")})
        env["WANDB_MODE"] = "online"
    if SERVER_PORT in command:
        from tests.mlflow_helpers import MlflowServer, fast_dir

        server = MlflowServer(scratch.enter_context(fast_dir(tmp_path)))
        url = server.url()
        _log_sweep(url, objective="val_acc")
        command = command.replace(f"http://{SERVER_PORT}", url)
    # One command builds the whole site (the quick start's); the others run verbatim with
    # --check appended: loading, option handling and the checks are the same code as a build,
    # which the report-build tests cover, and eight full builds would take minutes.
    full = command.strip() == "nox -s report"
    try:
        proc = run_command(command, workdir, env, check=not full)
    finally:
        if server is not None:
            server.stop()
        scratch.close()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    if full:
        assert "done:" in proc.stdout and (workdir / "site" / "index.html").exists()
    else:
        assert "check only:" in proc.stdout and "done:" not in proc.stdout
    if "--from-snapshot" in command:  # the snapshot's target and options, with --test welch
        assert f"target {before['target']}" in proc.stdout
        assert "test welch" in proc.stdout
        said = proc.stdout.split("check only:")[1].split(";")[0]
        assert all(f"{k} {v}" in said for k, v in {**before, "test": "welch"}.items()
                   if k != "target" and v is not None), said
    if SERVER_PORT in command:  # no --target: the metric the parent run says it optimised
        assert "target val_acc" in proc.stdout
