"""Real MLflow stores for the adapter tests: a sqlite file, a local ``mlflow server``, and runs
logged into them with the ordinary client (``log_batch``, one call per run)."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from sweepsight.adapters.coerce import flatten
from tests import contract

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms: start times are fixed, so tests can check them


@contextlib.contextmanager
def fast_dir(fallback: Path):
    """A scratch folder in RAM (/dev/shm) when there is one, else ``fallback``.

    MLflow creates a sqlite store through ~50 committed migrations and commits every logged
    run: on a disk that fsyncs this is 3-5x slower than in memory.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        fallback.mkdir(parents=True, exist_ok=True)
        yield fallback
        return
    path = Path(tempfile.mkdtemp(prefix="sweepsight-mlflow-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def client_for(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def log_run(client, experiment_id: str, *, name: str, config: dict, history: list[dict],
            start: int, tags: dict | None = None, status: str = "FINISHED") -> str:
    """One run: params flattened with dots (as ``mlflow.log_params`` stores them), one metric
    entry per history step; returns the run id."""
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, start_time=start, run_name=name, tags=tags or {})
    params = [Param(k, str(v)) for k, v in flatten(config).items()]
    metrics = [Metric(key, float(value), start + step * 1000, step)
               for step, values in enumerate(history) for key, value in values.items()]
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    client.set_terminated(run.info.run_id, status, end_time=start + 60_000)
    return run.info.run_id


def log_contract(client, experiment: str) -> str:
    """The contract sweep (9 runs, 4 steps of history each); returns the experiment id."""
    eid = client.create_experiment(experiment)
    for i, r in enumerate(contract.runs()):
        log_run(client, eid, name=r["name"], config=r["config"], history=r["history"], start=T0 + i * 1000)
    return eid


def log_nested(client, experiment: str, *, parents: int = 2, children: int = 3) -> dict[str, list[str]]:
    """Optuna-style sweeps: parent runs with trials as children (tag ``mlflow.parentRunId``),
    plus one stand-alone run. Returns parent name -> child run ids (key ``""``: the stand-alone)."""
    from mlflow.entities import Param

    eid = client.create_experiment(experiment)
    out: dict[str, list[str]] = {}
    for p in range(parents):
        parent = client.create_run(eid, start_time=T0, run_name=f"study-{p}")
        pid = parent.info.run_id
        client.log_batch(pid, params=[Param("n_trials", str(children))])
        out[f"study-{p}"] = [
            log_run(client, eid, name=f"trial-{p}-{c}", config={"lr": 10.0 ** -(c + 1), "seed": c},
                    history=[{"loss": 1.0 / (c + 1)}], start=T0 + 1000 * (p * children + c + 1),
                    tags={"mlflow.parentRunId": pid})
            for c in range(children)
        ]
        client.set_terminated(pid, "FINISHED")
    out[""] = [log_run(client, eid, name="solo", config={"lr": 0.5, "seed": 9}, history=[{"loss": 2.0}],
                       start=T0)]
    return out


def log_many(client, experiment: str, n: int) -> str:
    """``n`` small runs (2 params, 2 metrics, 1 step); returns the experiment id."""
    eid = client.create_experiment(experiment)
    for i in range(n):
        log_run(client, eid, name=f"run-{i:05d}", config={"lr": 10.0 ** -(i % 5 + 1), "depth": i % 7,
                                                           "seed": i % 3},
                history=[{"loss": 1.0 / (i + 1), "acc": i / n}], start=T0 + i)
    return eid


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port held bound but not listening: connections are refused, and no other process (a
    server another test starts on a free port) can take it while the test runs."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


class MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 backed by sqlite under ``root``.

    Construction only launches it (start-up takes a while: it can overlap other tests);
    :meth:`url` waits until ``/health`` answers; :meth:`stop` ends it and its workers.
    """

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self._url = f"http://127.0.0.1:{self.port}"
        self._ready = False
        cmd = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
               "--default-artifact-root", str(root / "artifacts"),
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job runner: one process less to boot
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # offline: its flush would only delay shutdown
        self._log = open(root / "server.log", "wb")
        # Its own process group, so that stop() reaches the uvicorn worker the CLI spawns.
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     cwd=root, start_new_session=True)

    def _tail(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")[-2000:]

    def url(self, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while not self._ready:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self._tail()}")
            try:
                with urllib.request.urlopen(self._url + "/health", timeout=2) as answer:
                    self._ready = answer.status == 200
            except OSError:
                pass
            if not self._ready:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server not up after {timeout} s: {self._tail()}")
                time.sleep(0.2)
        return self._url

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            # uvicorn stops in a fraction of a second; the CLI wrapper then lingers for seconds
            # with nothing left to tidy, so it is not waited for (the store is thrown away: a
            # SIGKILL loses nothing a test reads).
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.25)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()
