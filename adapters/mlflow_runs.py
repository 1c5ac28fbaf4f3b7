"""MLflow: the runs of one or more experiments, from a local store or a tracking server.

Runs come from ``MlflowClient.search_runs``, page by page, so any number of runs loads (a single
MLflow page is capped at 50,000). Sweeps logged by the Optuna or hyperopt integrations hold each
trial as a child of one parent run (tag ``mlflow.parentRunId``): parents are containers, not runs
of the sweep, so they are left out and their children are grouped by the parent's name.

Credentials in the tracking URI (``http://user:secret@host``, ``?token=...``) never leave this
module: errors, log lines and the snapshot metadata carry :func:`redact_uri` of it
(:mod:`adapters.redact`, which also masks them when a snapshot is read).
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.redact import redact_uri
from sweepsight.adapters.schema import METRIC, PARAM, RunTable, build_table

if TYPE_CHECKING:
    from mlflow.entities import Experiment

log = logging.getLogger(__name__)

PAGE_SIZE = 10_000  # runs per search_runs call; MLflow accepts at most 50,000
HISTORY_WORKERS = 8  # concurrent get_metric_history calls (bounded so a server is not flooded)
PROBE_ATTEMPTS = 4  # tries before a tracking server counts as unreachable
PROBE_BACKOFF = 0.5  # seconds before the 2nd try; doubled before each further try
PROBE_TIMEOUT = 5.0  # seconds per try
PARENT_TAG = "mlflow.parentRunId"
OBJECTIVE_TAG = "metric"  # on a parent run: the metric its sweep optimised
AGGREGATIONS = ("last", "min", "max")
_SHOWN_EXPERIMENTS = 10
MESSAGE_CHARS = 300  # of an MLflow error quoted in a message
#: MLflow's own HTTP retry settings for our calls (when not set by the user): a server that dies
#: mid-fetch fails in seconds (3 tries, 1 s then 2 s apart), one that hangs after 3 x 30 s.
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
#: Database driver modules whose pip package has another name (the others are named alike).
DRIVER_PACKAGES = {"MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary", "cx_Oracle": "cx-Oracle",
                   "pymssql": "pymssql", "pyodbc": "pyodbc", "pymysql": "PyMySQL"}
_REMOTE_NAMES = ("databricks", "databricks-uc", "uc")  # URIs that name no local path
#: MLflow's SQL store has no infinity: it writes ±inf as ±DBL_MAX (and its server sends that on)
INF_SENTINEL = sys.float_info.max


def _secrets(uri: str) -> list[str]:
    """The pieces of ``uri`` that must not appear anywhere: user info and query values."""
    try:
        parts = urlsplit(str(uri))
    except ValueError:
        return [str(uri)]
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found += [userinfo, *userinfo.split(":", 1)]
    found += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    if parts.fragment:
        found.append(parts.fragment)
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def _scrub(text: object, uri: str) -> str:
    """``text`` (e.g. an MLflow error) with the URI and its credentials masked, on one line,
    cut before the response body a server sends back (a proxy's whole HTML page)."""
    text = str(text).replace(str(uri), redact_uri(uri))
    for secret in _secrets(uri):
        text = text.replace(secret, "***")
    text = re.split(r"[.,;]?\s*Response body\b|<!doctype|<html", text, maxsplit=1,
                    flags=re.IGNORECASE)[0]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _whole_sentences(lines[0] if lines else "no detail", MESSAGE_CHARS)


def _whole_sentences(line: str, limit: int) -> str:
    """``line`` cut to at most ``limit`` characters after its last whole sentence that fits
    (a word boundary and "…" when even the first does not), without the final full stop: the
    message it is quoted in goes on after it."""
    if len(line) > limit:
        ends = [m.end() - 1 for m in re.finditer(r"[.!?](?=\s)", line[:limit + 1])]
        if ends and ends[-1] >= limit // 3:
            line = line[:ends[-1]]
        else:
            line = line[:limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return line.rstrip(".")


@contextlib.contextmanager
def _bounded_http():
    """MLflow's HTTP client retries a dead server for about 4 minutes by default (7 retries,
    backoff factor 2, 120 s time-out): for our calls, :data:`HTTP_LIMITS` unless the user set
    them."""
    saved = {k: os.environ.get(k) for k in HTTP_LIMITS}
    os.environ.update({k: v for k, v in HTTP_LIMITS.items() if saved[k] is None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _resolve_uri(options: dict) -> str:
    uri = options.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return str(uri)
    import mlflow

    return mlflow.get_tracking_uri()  # MLflow's own default: sqlite:///mlflow.db (or ./mlruns)


def _check_local_store(uri: str) -> None:
    """A local store must exist: opening a missing one would silently create an empty one."""
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if uri.split(":", 1)[0].lower() in _REMOTE_NAMES:
        return
    if scheme.startswith("sqlite"):
        path = uri.split("://", 1)[1].split("?", 1)[0]
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel.db, sqlite:////abs.db
        if path in ("", ":memory:") or Path(path).exists():
            return
    elif scheme in ("", "file"):
        path = urlsplit(uri).path if scheme == "file" else uri
        if Path(path).exists():
            return
    else:
        return
    raise SweepError(
        f"no MLflow store at {path!r} (tracking URI {redact_uri(uri)}); pass --tracking-uri "
        "with the path of your mlflow.db (sqlite:///path/mlflow.db) or your server's http:// URL."
    )


def _probe_server(uri: str) -> None:
    """Fail plainly when an http(s) tracking server does not answer, after a few backed-off tries.

    Any HTTP answer counts as reachable (a proxy may not serve ``/health``); only connection
    errors and time-outs are retried.
    """
    import requests

    parts = urlsplit(uri)
    health = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/health", parts.query, ""))
    delay = PROBE_BACKOFF
    for attempt in range(1, PROBE_ATTEMPTS + 1):
        try:
            requests.get(health, timeout=PROBE_TIMEOUT)
            return
        except (requests.ConnectionError, requests.Timeout):
            if attempt == PROBE_ATTEMPTS:
                break
            log.info("MLflow server %s did not answer (try %d of %d); retrying in %.1f s",
                     redact_uri(uri), attempt, PROBE_ATTEMPTS, delay)
            time.sleep(delay)
            delay *= 2
    raise SweepError(
        f"cannot reach the MLflow tracking server at {redact_uri(uri)} after {PROBE_ATTEMPTS} "
        "tries; check that it is running and the URL is right (--tracking-uri or MLFLOW_TRACKING_URI)."
    )


def _database_errors() -> tuple[type[BaseException], ...]:
    """The errors a broken or unreachable database store raises (SQLAlchemy, when installed)."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return ()
    return (SQLAlchemyError,)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [str(value)]
    return [str(v) for v in value]


def _experiments(client, wanted: list[str], uri: str) -> list[Experiment]:
    """The MLflow experiments named (by name or id) in ``wanted``; unknown ones fail listing some."""
    from mlflow.exceptions import MlflowException

    found: list[Experiment] = []
    for key in wanted:
        experiment = client.get_experiment_by_name(key)
        if experiment is None:
            try:
                experiment = client.get_experiment(key)
            except MlflowException:
                experiment = None
        if experiment is None:
            existing = [e.name for e in client.search_experiments(max_results=_SHOWN_EXPERIMENTS + 1)]
            shown = ", ".join(repr(n) for n in existing[:_SHOWN_EXPERIMENTS]) or "(none)"
            more = " ..." if len(existing) > _SHOWN_EXPERIMENTS else ""
            raise SweepError(
                f"MLflow experiment {key!r} not found at {redact_uri(uri)}; existing experiments: "
                f"{shown}{more}. Pass one of them (name or id) with --experiment."
            )
        if experiment.lifecycle_stage == "deleted":
            raise SweepError(
                f"MLflow experiment {key!r} at {redact_uri(uri)} is deleted; restore it with "
                f"'mlflow experiments restore --experiment-id {experiment.experiment_id}' or pick another."
            )
        if experiment.experiment_id not in {e.experiment_id for e in found}:
            found.append(experiment)
    return found


def _search(client, experiment_ids: list[str], filter_string: str, cap: int | None) -> list:
    """Every run matching the filter (up to ``cap``), following page tokens."""
    runs: list = []
    token = None
    while True:
        size = PAGE_SIZE if cap is None else min(PAGE_SIZE, cap - len(runs))
        page = client.search_runs(experiment_ids, filter_string=filter_string, max_results=size,
                                  page_token=token)
        runs.extend(page)
        token = page.token
        if not token or (cap is not None and len(runs) >= cap):
            return runs


def _unnest(client, runs: list) -> tuple[list, dict[str, str], set[str]]:
    """The runs that are not parents of others, child run id -> its parent's run name, and the
    metrics the parents say the sweep optimised (their ``metric`` tag).

    A parent outside the results (filtered out, past ``max_results``) is fetched for its name;
    one that cannot be read (deleted) groups its children under its id.
    """
    from mlflow.exceptions import MlflowException

    by_id = {r.info.run_id: r for r in runs}
    parent_of = {r.info.run_id: r.data.tags[PARENT_TAG] for r in runs if r.data.tags.get(PARENT_TAG)}
    names = {}
    objectives: set[str] = set()
    for parent in set(parent_of.values()):
        run = by_id.get(parent)
        if run is None:
            try:
                run = client.get_run(parent)
            except MlflowException:
                run = None
        names[parent] = (run.info.run_name if run is not None else None) or parent
        if run is not None and run.data.tags.get(OBJECTIVE_TAG):
            objectives.add(str(run.data.tags[OBJECTIVE_TAG]).strip())
    kept = [r for r in runs if r.info.run_id not in names]
    return kept, {child: names[parent] for child, parent in parent_of.items()}, objectives


def _frame(runs: list, experiment_names: dict[str, str], group_of: dict[str, str]) -> pd.DataFrame:
    rows = []
    for run in runs:
        info, data = run.info, run.data
        row = {
            "run_id": info.run_id,
            "name": info.run_name or None,
            "group": group_of.get(info.run_id, experiment_names.get(info.experiment_id)),
            "state": info.status,
            "created_at": info.start_time,
        }
        row.update({PARAM + k: v for k, v in data.params.items()})
        row.update({METRIC + k: v for k, v in data.metrics.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["created_at"] = pd.to_datetime(frame["created_at"], unit="ms", utc=True)
    return frame


def _infinities(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with each metric value of ±:data:`INF_SENTINEL` read back as ±inf, and how
    many were, per metric (a value logged as exactly ±DBL_MAX cannot be told apart)."""
    counts = {}
    for col in [c for c in frame.columns if c.startswith(METRIC)]:
        values = pd.to_numeric(frame[col], errors="coerce")
        hit = values.abs() == INF_SENTINEL
        if hit.any():
            frame[col] = values.where(~hit, np.sign(values) * np.inf)
            counts[col[len(METRIC):]] = int(hit.sum())
    return frame, counts


def _aggregate_history(client, frame: pd.DataFrame, logged: dict[str, set], metrics: list[str],
                       how: str) -> pd.DataFrame:
    """Replace each ``metrics.<m>`` in ``metrics`` by the min or max over the run's history.

    ``logged`` maps run id -> the metric names the run logged (only those are read); NaN steps
    are skipped, so a run whose last value is NaN still gets its best finite value.
    """
    from tqdm.auto import tqdm

    pick = min if how == "min" else max
    jobs = [(i, run_id, m) for m in metrics
            for i, run_id in zip(frame.index, frame["run_id"]) if m in logged[run_id]]

    def one(job):
        i, run_id, metric = job
        values = [h.value for h in client.get_metric_history(run_id, metric)]
        values = [v for v in values if not math.isnan(v)]
        return i, metric, pick(values) if values else math.nan

    frame = frame.copy()
    with ThreadPoolExecutor(max_workers=HISTORY_WORKERS) as pool, tqdm(
        total=len(jobs), desc=f"metric history ({how})", unit="call", file=sys.stderr, leave=False
    ) as bar:
        for i, metric, value in pool.map(one, jobs):
            frame.at[i, METRIC + metric] = value
            bar.update()
    return frame


def load(options: dict) -> RunTable:
    """Load the runs of MLflow experiments as a run table.

    Options: ``experiment`` (required; a name or id, or a list of them), ``tracking_uri``
    (default ``MLFLOW_TRACKING_URI``, else MLflow's default ``sqlite:///mlflow.db``),
    ``filter`` (an MLflow filter string), ``seed``, ``budget``, ``metric_agg`` ("last" uses
    each run's stored value; "min"/"max" read the metric history), ``metrics`` (names whose
    history to aggregate; default all), ``max_results`` (cap on runs fetched, parents included).
    """
    wanted = _as_list(options.get("experiment"))
    if not wanted:
        raise SweepError("the mlflow source needs an experiment: pass --experiment NAME (or id).")
    how = options.get("metric_agg") or "last"
    if how not in AGGREGATIONS:
        raise SweepError(f"--metric-agg {how!r} is not valid; choose one of: {', '.join(AGGREGATIONS)}.")
    cap = options.get("max_results")
    if cap is not None and (not str(cap).isdigit() or int(cap) < 1):
        raise SweepError(f"--max-results {cap!r} is not valid; pass a positive whole number.")
    cap = None if cap is None else int(cap)
    filter_string = options.get("filter") or ""
    uri = _resolve_uri(options)
    try:
        scheme = urlsplit(uri).scheme.lower()
    except ValueError as exc:  # "Invalid IPv6 URL": the URI is not echoed, it may hold secrets
        raise SweepError(f"the MLflow tracking URI is malformed ({exc}); pass --tracking-uri as "
                         "http://host:port, sqlite:///path/mlflow.db or a path.") from None
    with _bounded_http():
        return _load(options, uri=uri, scheme=scheme, wanted=wanted, how=how, cap=cap,
                     filter_string=filter_string)


def _load(options: dict, *, uri: str, scheme: str, wanted: list[str], how: str, cap: int | None,
          filter_string: str) -> RunTable:
    """:func:`load` once the options are checked."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if scheme in ("http", "https"):
        _probe_server(uri)
    else:
        _check_local_store(uri)
    try:
        client = MlflowClient(tracking_uri=uri)
        experiments = _experiments(client, wanted, uri)
        names = {e.experiment_id: e.name for e in experiments}
        where = (f"MLflow experiment{'s' if len(names) > 1 else ''} "
                 f"{', '.join(repr(n) for n in names.values())} at {redact_uri(uri)}")
        try:
            runs = _search(client, list(names), filter_string, cap)
        except MlflowException as exc:
            if filter_string and exc.error_code == "INVALID_PARAMETER_VALUE":
                raise SweepError(
                    f"MLflow rejected the filter {filter_string!r} for {where}: {_scrub(exc.message, uri)}; "
                    "fix it (e.g. \"metrics.val_acc > 0.9 and params.optimizer = 'adam'\")."
                ) from None
            raise
        kept, group_of, objectives = _unnest(client, runs)
        if not kept:
            because = f" matching filter {filter_string!r}" if filter_string else ""
            fix = "loosen or drop --filter" if filter_string else "log runs to it or pick another experiment"
            raise SweepError(f"{where} has no runs{because}; {fix}.")
        frame = _frame(kept, names, group_of)
        metric_names = sorted(c[len(METRIC):] for c in frame.columns if c.startswith(METRIC))
        if not metric_names:
            raise SweepError(f"no run of {where} logged a metric; log metrics (mlflow.log_metric) "
                             "or pick another experiment.")
        agg_metrics = _as_list(options.get("metrics")) or metric_names
        unknown = [m for m in agg_metrics if m not in metric_names]
        if unknown:
            raise SweepError(f"metric {unknown[0]!r} is not logged in {where}; metrics: "
                             f"{', '.join(metric_names)}. Fix --metric (or --target).")
        if how != "last":
            logged = {r.info.run_id: set(r.data.metrics) for r in kept}
            frame = _aggregate_history(client, frame, logged, agg_metrics, how)
        frame, infinities = _infinities(frame)
    except MlflowException as exc:
        raise SweepError(f"MLflow at {redact_uri(uri)} failed: {_scrub(exc.message, uri)}; "
                         "check the tracking URI, the server and its logs.") from None
    except _database_errors() as exc:
        raise SweepError(f"cannot read the MLflow store at {redact_uri(uri)}: {_scrub(exc, uri)}; "
                         "check that --tracking-uri names an MLflow database and that it is up.") from None
    except ModuleNotFoundError as exc:  # a database driver (psycopg2, pymysql ...) the URI needs
        module = (exc.name or "").split(".")[0]
        raise SweepError(f"the tracking URI {redact_uri(uri)} needs the module {module!r}; "
                         f"install it (pip install {DRIVER_PACKAGES.get(module, module)}).") from None

    query = {
        "tracking_uri": redact_uri(uri),
        "experiment": list(names.values()),
        "experiment_id": list(names),
        "filter": filter_string,
        "max_results": cap,
    }
    if how != "last":
        query["metrics"] = agg_metrics
    table = build_table(frame, source="mlflow", seed=options.get("seed"), budget=options.get("budget"),
                        metric_agg=how, query=query, where=where)
    if len(objectives) == 1:
        table.meta.objective = next(iter(objectives))
    if len(kept) < len(runs):
        table.meta.notes.append(f"{len(runs) - len(kept)} parent run(s) left out: they hold nested "
                                "trials, not results.")
    if group_of:
        table.meta.notes.append(f"{len(group_of)} nested run(s) grouped by their parent run's name.")
    if how != "last":
        table.meta.notes.append(f"metrics {', '.join(agg_metrics)}: the {how} over each run's history.")
    if infinities:
        table.meta.notes.append(
            f"{sum(infinities.values())} metric value(s) of ±{INF_SENTINEL!r}, MLflow's stored form "
            f"of infinity, read as ±inf ({', '.join(f'{m}: {n}' for m, n in infinities.items())}).")
    log.info("loaded %d runs from %s", len(table.frame), where)
    return table
