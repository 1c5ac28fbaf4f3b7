"""A local stand-in for the W&B GraphQL API, for testing the wandb adapter with the real client.

The real ``wandb.Api()`` (through wandb-core) POSTs GraphQL to ``WANDB_BASE_URL/graphql``. The
server answers the operations that wandb 0.31's client sends to log in (Viewer), list runs
(Runs, paginated by cursor), look up a sweep and read history (RunHistoryKeys, then
RunParquetHistory with parquet files fetched by byte range, as from cloud storage; or
RunSampledHistory); every other operation gets a GraphQL error so that a shape the
client needs and this server lacks shows up as a failure, not as silently empty data. Every
request is recorded in :attr:`FakeWandb.requests` (operation name, variables; never headers).
"""
from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class FakeRun:
    """One run as the server stores it."""

    id: str
    name: str
    config: dict
    summary: dict
    history: list[dict]
    state: str = "finished"
    group: str | None = None
    sweep: str | None = None
    created_at: str = "2026-01-01T00:00:00"


@dataclass
class FakeProject:
    entity: str
    name: str
    runs: list[FakeRun] = field(default_factory=list)
    #: sweep name -> its config as YAML (as W&B stores it); default "method: grid"
    sweep_configs: dict[str, str] = field(default_factory=dict)

    def sweeps(self) -> list[str]:
        return sorted({r.sweep for r in self.runs if r.sweep})


def _op_name(payload: dict) -> str:
    name = payload.get("operationName")
    if name:
        return name
    match = re.search(r"\b(?:query|mutation)\s+(\w+)", payload.get("query") or "")
    return match.group(1) if match else ""


def _config_json(config: dict) -> str:
    """W&B stores each top-level config key as ``{"value": v, "desc": null}``."""
    return json.dumps({k: {"value": v, "desc": None} for k, v in config.items()})


def _match(run: FakeRun, filters: dict) -> bool:
    """The MongoDB-style filters the tests use: ``sweep``, ``state``, ``config.X``/``config.X.value``."""
    for key, want in (filters or {}).items():
        if key == "$and":
            if not all(_match(run, f) for f in want):
                return False
            continue
        if key == "sweep":
            have: Any = run.sweep
        elif key == "state":
            have = run.state
        elif key == "group":
            have = run.group
        elif key.startswith("config."):
            parts = key.split(".")[1:]
            if parts and parts[-1] == "value":
                parts = parts[:-1]
            have = run.config
            for p in parts:
                have = have.get(p) if isinstance(have, dict) else None
        else:
            raise ValueError(f"fake wandb server: unsupported filter key {key!r}")
        if isinstance(want, dict):
            if "$in" in want and have not in want["$in"]:
                return False
            if "$eq" in want and have != want["$eq"]:
                return False
            if "$ne" in want and have == want["$ne"]:
                return False
        elif have != want:
            return False
    return True


class FakeWandb:
    """The server: ``start()``, ``url``, ``stop()``; ``projects`` keyed by ``"entity/project"``."""

    def __init__(self, *, api_key: str, page_limit: int | None = None) -> None:
        self.api_key = api_key
        self.projects: dict[str, FakeProject] = {}
        self.requests: list[dict] = []
        self.unknown: list[str] = []
        self.page_limit = page_limit  # cap on the page size the server hands out
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        # The operations wandb 0.31's client sends (seen by logging what it asks for).
        self.handlers: dict[str, Callable[[dict], dict]] = {
            "Viewer": self._viewer,
            "GetDefaultEntity": self._viewer,
            "Runs": self._runs,
            "GetSweep": self._sweep,
            "GetSweepLegacy": self._sweep,
            "RunSampledHistory": self._sampled_history,
            "RunHistoryKeys": self._history_keys,
            "RunParquetHistory": self._parquet_history,
        }

    # lifecycle ---------------------------------------------------------------------------
    def add_project(self, entity: str, name: str, runs: list[FakeRun]) -> FakeProject:
        project = FakeProject(entity, name, list(runs))
        self.projects[f"{entity}/{name}"] = project
        return project

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> "FakeWandb":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: no request lines on stderr
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.rstrip("/") != "/graphql":
                    self._send(200, b"")  # wandb-core's telemetry export and the like
                    return
                status, out = fake._answer(self.headers.get("Authorization"), body)
                self._send(status, json.dumps(out).encode())

            def do_GET(self) -> None:
                match = re.fullmatch(r"/parquet/([\w-]+)\.parquet", self.path)
                data = fake._parquet_bytes(match.group(1)) if match else None
                with fake._lock:
                    fake.requests.append({"op": "GET " + self.path, "variables": {}, "query": ""})
                if data is None:
                    self._send(404, b"")
                    return
                # The reader fetches byte ranges (footer first), as from cloud storage.
                wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
                if not wanted:
                    self._send(200, data, "application/octet-stream")
                    return
                first, last = wanted.groups()
                size = len(data)
                if first == "":
                    start, end = max(size - int(last), 0), size - 1
                else:
                    start, end = int(first), min(int(last) if last else size - 1, size - 1)
                self.send_response(206)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.send_header("Content-Length", str(end - start + 1))
                self.end_headers()
                self.wfile.write(data[start:end + 1])

            def do_HEAD(self) -> None:
                match = re.fullmatch(r"/parquet/([\w-]+)\.parquet", self.path)
                data = fake._parquet_bytes(match.group(1)) if match else None
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def _send(self, status: int, data: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ops(self, name: str) -> list[dict]:
        """The recorded requests of operation ``name``."""
        return [r for r in self.requests if r["op"] == name]

    # dispatch ----------------------------------------------------------------------------
    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user_pass = base64.b64decode(header[6:]).decode()
        except ValueError:
            return False
        return user_pass.split(":", 1)[-1] == self.api_key

    def _answer(self, auth: str | None, body: bytes) -> tuple[int, dict]:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, {"errors": [{"message": "body is not JSON"}]}
        op = _op_name(payload)
        variables = payload.get("variables") or {}
        with self._lock:
            self.requests.append({"op": op, "variables": variables, "query": payload.get("query", "")})
        if not self._authorised(auth):
            return 401, {"errors": [{"message": "user is not logged in"}]}
        handler = self.handlers.get(op)
        if handler is None:
            with self._lock:
                self.unknown.append(op or payload.get("query", "")[:200])
            return 200, {"errors": [{"message": f"fake wandb server: unknown operation {op!r}"}]}
        try:
            return 200, {"data": handler(variables)}
        except LookupError as exc:
            return 200, {"data": None, "errors": [{"message": str(exc), "path": [op]}]}

    # operations --------------------------------------------------------------------------
    def _viewer(self, v: dict) -> dict:
        return {"viewer": {"id": "VXNlcjox", "entity": "ent", "username": "tester",
                           "email": "tester@example.com", "flags": "{}", "admin": False,
                           "teams": {"edges": [{"node": {"name": "ent"}}]}}}

    def _project_or_none(self, v: dict) -> FakeProject | None:
        entity = v.get("entity") or v.get("entityName")
        name = v.get("project") or v.get("name") or v.get("projectName")
        return self.projects.get(f"{entity}/{name}")

    def _run_node(self, project: FakeProject, run: FakeRun) -> dict:
        return {
            "id": base64.b64encode(f"Run:v1:{run.id}:{project.name}:{project.entity}".encode()).decode(),
            "tags": [], "name": run.id, "displayName": run.name, "sweepName": run.sweep,
            "state": run.state, "config": _config_json(run.config), "group": run.group,
            "jobType": None, "commit": None, "readOnly": False, "createdAt": run.created_at,
            "heartbeatAt": run.created_at, "description": None, "notes": None,
            "systemMetrics": "{}", "summaryMetrics": json.dumps(run.summary),
            "historyLineCount": len(run.history), "historyKeys": None,
            "user": {"name": "tester", "username": "tester"},
            "project": {"name": project.name, "entityName": project.entity,
                        "id": f"UHJvamVjdDo{project.name}"},
        }

    def _runs(self, v: dict) -> dict:
        project = self._project_or_none(v)
        if project is None:
            return {"project": None}
        filters = json.loads(v["filters"]) if isinstance(v.get("filters"), str) else (v.get("filters") or {})
        runs = [r for r in project.runs if _match(r, filters)]
        per_page = int(v.get("perPage") or v.get("first") or 50)
        if self.page_limit:
            per_page = min(per_page, self.page_limit)
        start = int(v["cursor"]) if v.get("cursor") else 0
        page = runs[start:start + per_page]
        end = start + len(page)
        return {"project": {
            "internalId": f"UHJvamVjdDo{project.name}",
            "readOnly": False,
            "runCount": len(runs),
            "runs": {
                "totalCount": len(runs),
                "edges": [{"node": self._run_node(project, r), "cursor": str(start + i + 1)}
                          for i, r in enumerate(page)],
                "pageInfo": {"endCursor": str(end), "hasNextPage": end < len(runs)},
            },
        }}

    def _sweep(self, v: dict) -> dict:
        project = self._project_or_none(v)
        name = v.get("name") or v.get("sweep")
        if project is None or name not in project.sweeps():
            return {"project": {"sweep": None}} if project else {"project": None}
        runs = [r for r in project.runs if r.sweep == name]
        return {"project": {"sweep": {
            "__typename": "Sweep", "id": base64.b64encode(f"Sweep:{name}".encode()).decode(),
            "name": name, "displayName": name, "method": "grid", "state": "FINISHED",
            "description": None, "bestLoss": None,
            "config": project.sweep_configs.get(name, "method: grid\n"),
            "createdAt": "2026-01-01T00:00:00", "updatedAt": "2026-01-01T00:00:00",
            "runCount": len(runs), "runCountExpected": len(runs),
        }}}

    def _find_run(self, v: dict) -> FakeRun:
        project = self._project_or_none(v)
        name = v.get("name") or v.get("run") or v.get("runName")
        for run in project.runs if project else []:
            if run.id == name:
                return run
        raise LookupError(f"run {name!r} not found")

    @staticmethod
    def _rows(run: FakeRun, keys: list[str] | None) -> list[dict]:
        rows = []
        for step, row in enumerate(run.history):
            full = {"_step": step, **row}
            if keys:
                if not all(k in full for k in keys):
                    continue
                full = {k: full[k] for k in ["_step", *keys]}
            rows.append(full)
        return rows

    def _history_keys(self, v: dict) -> dict:
        run = self._find_run(v)
        keys = sorted({k for row in run.history for k in row})
        return {"project": {"run": {"historyKeys": {
            "lastStep": len(run.history) - 1,
            "keys": {k: {"typeCounts": [{"type": "number", "count": len(run.history)}]} for k in keys},
        }}}}

    def _parquet_history(self, v: dict) -> dict:
        """All history as exported parquet files (fetched by GET with byte ranges), no live tail."""
        run = self._find_run(v)
        return {"project": {"run": {"parquetHistory": {
            "parquetUrls": [f"{self.url}/parquet/{run.id}.parquet"], "liveData": []}}}}

    def _parquet_bytes(self, run_id: str) -> bytes | None:
        import io

        import pandas as pd

        for project in self.projects.values():
            for run in project.runs:
                if run.id == run_id:
                    buf = io.BytesIO()
                    pd.DataFrame(self._rows(run, None)).to_parquet(buf, index=False)
                    return buf.getvalue()
        return None

    def _sampled_history(self, v: dict) -> dict:
        run = self._find_run(v)
        specs = v.get("specs") or []
        out = []
        for spec in specs:
            spec = json.loads(spec) if isinstance(spec, str) else spec
            out.append(self._rows(run, spec.get("keys")))
        return {"project": {"run": {"sampledHistory": out}}}
