"""Weights & Biases runs: from the public API (a project, a sweep) or offline run directories.

API mode uses ``wandb.Api().runs(...)``; offline mode reads ``wandb/offline-run-*`` directories
from disk (:mod:`adapters.wandb_offline`). Both end in the same rows: the config flattened with
dots (wandb's ``_``-keys dropped), numeric summary values as metrics, and optionally each
metric's minimum or maximum over its logged history instead of its last value.
"""
from __future__ import annotations

import inspect
import logging
import math
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, cast

import pandas as pd

from sweepsight.adapters.collide import Collision, cell, flat_sources, same_value, show_path
from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import METRIC, PARAM, RunTable, build_table

log = logging.getLogger(__name__)

AGGREGATIONS = ("last", "min", "max")
HISTORY_WORKERS = 8


# shared: raw wandb values -> row -----------------------------------------------------------
def _unwrap(value: Any) -> Any:
    """``{"value": x, "desc": ...}`` (how W&B stores each config key) -> ``x``."""
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}:
        return value["value"]
    return value


def clean_config(config: dict, *, where: str = "a run's config",
                 merged: list[Collision] | None = None) -> dict:
    """The config flattened with dots, values unwrapped, wandb's internal ``_`` keys dropped.

    A top-level key ``model.depth`` beside a nested ``model: {depth}`` gives one name twice:
    the same value is kept once (appended to ``merged``), different values fail naming both.
    """
    if not isinstance(config, dict):
        raise SweepError(f"{where} is a {type(config).__name__}, not a mapping of keys to values; "
                         "fix or remove it.")
    top = {k: _unwrap(v) for k, v in config.items() if not str(k).startswith("_")}
    return {name: _one(name, found, what="hyperparameter", where=where, merged=merged)
            for name, found in flat_sources(top).items()
            if not any(part.startswith("_") for part in name.split("."))}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def numeric_summary(summary: dict, *, where: str = "a run's summary",
                    merged: list[Collision] | None = None) -> dict[str, float]:
    """Numeric summary entries; ``_`` keys and media/histogram/table entries dropped.

    Plain nested dicts (``{"eval": {"acc": 0.9}}``) flatten with dots; a dict carrying
    ``_type`` is a W&B media or histogram object, and lists are not metrics. A key
    ``eval.acc`` beside ``{"eval": {"acc"}}`` is merged or refused as in :func:`clean_config`.
    """
    if not isinstance(summary, dict):
        raise SweepError(f"{where} is a {type(summary).__name__}, not a mapping of metric names "
                         "to values; fix or remove it.")
    found: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    _summary_numbers(summary, (), found)
    return {name: _one(name, values, what="metric", where=where, merged=merged)
            for name, values in found.items()}


def _summary_numbers(tree: dict, path: tuple[str, ...], out: dict) -> None:
    for key, value in tree.items():
        key = str(key)
        if key.startswith("_"):
            continue
        here = path + (key,)
        if isinstance(value, dict):
            if "_type" not in value:
                _summary_numbers(value, here, out)
            continue
        n = _number(value)
        if n is not None:
            out.setdefault(".".join(here), []).append((here, n))


def _one(name: str, found: list[tuple[tuple[str, ...], Any]], *, what: str, where: str,
         merged: list[Collision] | None) -> Any:
    """The value of ``name`` given by one or more key paths (see :func:`clean_config`)."""
    if len(found) == 1:
        return found[0][1]
    (path_a, a), *rest = found
    for path_b, b in rest:
        if not same_value(a, b):
            raise SweepError(
                f"{where}: {show_path(path_a)} and {show_path(path_b)} both give {what} {name!r} "
                f"with different values ({cell(a)} vs {cell(b)}); rename one of the keys so that "
                "each name means one thing.")
    if merged is not None:
        merged.append(Collision(name, tuple(show_path(p) for p, _ in found), True))
    return a


def merge_notes(merged: list[Collision], keys: str, what: str) -> list[str]:
    """One note per merged name: which ``keys`` ("Config", "Summary") agreed, in how many runs."""
    counts: dict[tuple[str, tuple[str, ...]], int] = {}
    for c in merged:
        counts[(c.name, c.sources)] = counts.get((c.name, c.sources), 0) + 1
    return [f"{keys} keys {' and '.join(sources)} hold the same value in "
            f"{n} run{'s' if n != 1 else ''}: read once as {what} {name}."
            for (name, sources), n in counts.items()]


def aggregate(values: Iterable[Any], how: str) -> float:
    """``min`` or ``max`` of the numeric ``values`` (NaN skipped; NaN if none are numbers)."""
    numbers = [n for n in (_number(v) for v in values) if n is not None and not math.isnan(n)]
    if not numbers:
        return math.nan
    return min(numbers) if how == "min" else max(numbers)


def _history_values(history: list[dict], metric: str) -> list[Any]:
    out = []
    for row in history:
        value: Any = row
        for part in metric.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None and metric in row:
            value = row[metric]
        if value is not None:
            out.append(value)
    return out


def _options(options: dict) -> tuple[str, list[str] | None]:
    how = options.get("metric_agg") or "last"
    if how not in AGGREGATIONS:
        raise SweepError(f"metric_agg {how!r} is not known; use one of: {', '.join(AGGREGATIONS)}.")
    metrics = options.get("metrics")
    if isinstance(metrics, str):
        metrics = [metrics]
    return how, (list(metrics) if metrics else None)


def _chosen_metrics(rows: list[dict], metrics: list[str] | None, where: str) -> list[str]:
    present = sorted({k[len(METRIC):] for r in rows for k in r if k.startswith(METRIC)})
    if metrics is None:
        return present
    unknown = [m for m in metrics if m not in present]
    if unknown:
        raise SweepError(f"metric {unknown[0]!r} is not in the summaries of {where}; metrics found: "
                         f"{', '.join(present) or '(none)'}. Pass one of them with --metric.")
    return metrics


def _finish(rows: list[dict], *, options: dict, how: str, query: dict, where: str,
            notes: list[str]) -> RunTable:
    table = build_table(
        pd.DataFrame(rows),
        source="wandb",
        seed=options.get("seed"),
        budget=options.get("budget"),
        metric_agg=how,
        query=query,
        where=where,
    )
    table.meta.notes.extend(notes)
    return table


# offline directories -------------------------------------------------------------------------
def load_offline(options: dict) -> RunTable:
    """Rows from offline run directories (option ``path``); no network."""
    from sweepsight.adapters.wandb_offline import read_dir

    path = Path(options["path"]).expanduser()
    where = f"wandb offline dir {path}"
    how, metrics = _options(options)
    rows, histories = [], []
    merged_config: list[Collision] = []
    merged_summary: list[Collision] = []
    for run in read_dir(path):
        row: dict[str, Any] = {"run_id": run.run_id, "name": run.name, "state": run.state,
               "group": run.sweep or run.group or run.project, "created_at": run.created_at}
        at = f"wandb run {run.run_id!r} ({run.path})"
        row.update({PARAM + k: v for k, v in clean_config(
            run.config, where=f"the config of {at}", merged=merged_config).items()})
        row.update({METRIC + k: v for k, v in numeric_summary(
            run.summary, where=f"the summary of {at}", merged=merged_summary).items()})
        rows.append(row)
        histories.append(run.history)
    if not rows:
        raise SweepError(f"{where} has no runs; check the path.")
    notes = merge_notes(merged_config, "Config", "hyperparameter") + merge_notes(
        merged_summary, "Summary", "metric")
    if how != "last":
        for row, history in zip(rows, histories):
            for m in _chosen_metrics(rows, metrics, where):
                values = _history_values(history, m)
                if values:
                    row[METRIC + m] = aggregate(values, how)
        notes.append(f"Metrics are the {how}imum over each run's logged history "
                     f"(read from the .wandb logs).")
    return _finish(rows, options=options, how=how, query={"path": str(path)}, where=where,
                   notes=notes)


# public API ----------------------------------------------------------------------------------
def _secret_free(text: object) -> str:
    """``text`` with the API key (if any is set) masked: keys never reach messages or logs."""
    key = os.environ.get("WANDB_API_KEY")
    text = " ".join(str(text).split())
    return text.replace(key, "***") if key else text


_NETWORK = re.compile(r"did not respond|timed out|timeout|connection (refused|reset|aborted)|"
                      r"failed to execute api request|temporarily unavailable|"
                      r"name resolution|\b50[234]\b", re.IGNORECASE)


def _is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` looks transient (server unreachable, timeout, gateway error)."""
    return isinstance(exc, (ConnectionError, TimeoutError)) or bool(_NETWORK.search(str(exc)))


#: The server is probed before the client logs in: one that has not answered within this many
#: seconds, twice, is not there (the client's own default waits 30 s a try, 4 tries: minutes).
PROBE_TIMEOUT = 2.5
PROBE_ATTEMPTS = 2


def _retry(call: Callable[[], Any], *, what: str, retries: int, backoff: float) -> Any:
    """``call()``, retried with exponential backoff on network errors (each wait logged);
    other errors pass through."""
    for attempt in range(retries + 1):
        try:
            return call()
        except SweepError:
            raise
        except Exception as exc:  # wandb raises CommError, ValueError, requests errors ...
            if not _is_network_error(exc):
                raise
            if attempt == retries:
                raise SweepError(
                    f"cannot reach the W&B server while {what} after {retries + 1} attempts "
                    f"({_secret_free(exc)[:200]}); check the network, WANDB_BASE_URL, or retry "
                    "later.") from None
            delay = backoff * 2 ** attempt
            log.info("W&B did not answer while %s (try %d of %d); retrying in %.1f s",
                     what, attempt + 1, retries + 1, delay)
            time.sleep(delay)


def _probe_server(*, retries: int, backoff: float) -> None:
    """Fail plainly, before the client starts its service process, when the W&B server (the URL
    the client would use) does not answer at all: any HTTP answer counts as reachable; only
    connection errors and time-outs are retried."""
    import requests
    from wandb import env
    from wandb.sdk import wandb_setup

    from sweepsight.adapters.redact import redact_uri

    # given a default, get_base_url answers a str (its hint says str | None)
    url = cast(str, env.get_base_url(wandb_setup.singleton().settings.base_url)).rstrip("/")

    def probe() -> None:
        try:
            requests.get(url, timeout=PROBE_TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ConnectionError(f"{redact_uri(url)} did not answer: {type(exc).__name__}") from None

    _retry(probe, what=f"connecting to {redact_uri(url)}", retries=retries, backoff=backoff)


def _api(timeout: float, retries: int, backoff: float) -> Any:
    """A ``wandb.Api`` with ``timeout`` per request, once the server has answered a probe
    (:func:`_probe_server`): an unreachable server ends in one line within seconds, not
    minutes; a refused key in one line at once."""
    import wandb
    from wandb.errors import AuthenticationError, UsageError

    def make() -> Any:
        try:
            return wandb.Api(timeout=timeout)  # type: ignore[arg-type]  # a float works; its hint says int
        except UsageError as exc:
            raise SweepError(f"no W&B API key ({_secret_free(exc)[:120]}); run `wandb login` or "
                             "set WANDB_API_KEY, or read offline runs with --path.") from None
        except AuthenticationError as exc:
            if _is_network_error(exc):
                raise
            raise SweepError(f"W&B refused the API key ({_secret_free(exc)[:160]}); run "
                             "`wandb login --relogin` or set WANDB_API_KEY to a valid key.") from None

    _probe_server(retries=PROBE_ATTEMPTS - 1, backoff=min(backoff, 0.5))
    return _retry(make, what="logging in", retries=retries, backoff=backoff)


def _split_project(project: str, api: Any) -> tuple[str, str]:
    parts = [p for p in str(project).strip().split("/") if p]
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 1:
        entity = getattr(api, "default_entity", None)
        if entity:
            return entity, parts[0]
    raise SweepError(f"wandb project {project!r} is not of the form 'entity/project'; "
                     "pass --project ENTITY/PROJECT.")


def _run_row(run: Any, project: str,
             merged: tuple[list[Collision], list[Collision]] | None = None) -> dict:
    attrs = getattr(run, "_attrs", {}) or {}
    sweep = attrs.get("sweepName") or getattr(run, "sweep_name", None)
    summary = getattr(run, "summary_metrics", None)
    if summary is None:
        summary = getattr(run.summary, "_json_dict", None) or dict(run.summary)
    row = {
        "run_id": run.id,
        "name": attrs.get("displayName") or run.name,
        "state": attrs.get("state") or run.state,
        "group": sweep or attrs.get("group") or project,
        "created_at": attrs.get("createdAt"),
    }
    at = f"wandb run {run.id!r}"
    row.update({PARAM + k: v for k, v in clean_config(
        run.config, where=f"the config of {at}", merged=merged[0] if merged else None).items()})
    row.update({METRIC + k: v for k, v in numeric_summary(
        summary, where=f"the summary of {at}", merged=merged[1] if merged else None).items()})
    return row


def _history_agg(run: Any, metrics: list[str], how: str) -> dict[str, float]:
    """``how`` over the full history of each of ``metrics`` (``scan_history``: every row, unsampled).

    One scan per run: for a single metric only its rows; for several, all rows (a row need
    not hold every metric, so a multi-key scan would drop rows).
    """
    rows = list(run.scan_history(keys=list(metrics)) if len(metrics) == 1 else run.scan_history())
    out = {}
    for m in metrics:
        values = _history_values(rows, m)
        if values:
            out[m] = aggregate(values, how)
    return out


def load_api(options: dict) -> RunTable:
    """Rows from the W&B public API (option ``project``, optional ``sweep`` and ``filters``)."""
    how, metrics = _options(options)
    timeout = float(options.get("timeout") or 30)
    retries = int(options.get("retries", 3))
    backoff = float(options.get("backoff", 1.0))
    per_page = int(options.get("per_page") or 100)
    api = _api(timeout, retries, backoff)
    entity, project = _split_project(options["project"], api)
    path = f"{entity}/{project}"
    sweep = options.get("sweep")
    where = f"wandb project '{path}'" + (f", sweep '{sweep}'" if sweep else "")
    filters = dict(options.get("filters") or {})

    if sweep:
        sweep = str(sweep).rsplit("/", 1)[-1]

        found: list = []

        def check_sweep() -> None:
            try:
                found.append(api.sweep(f"{path}/{sweep}"))
            except Exception as exc:
                if _is_network_error(exc):
                    raise
                raise SweepError(f"sweep {sweep!r} not found in wandb project '{path}' "
                                 f"({_secret_free(exc)[:120]}); check the sweep id (the last part "
                                 "of the sweep's URL) and the project.") from None

        _retry(check_sweep, what=f"looking up sweep {sweep!r}", retries=retries, backoff=backoff)
        filters = {"$and": [filters, {"sweep": sweep}]} if filters else {"sweep": sweep}

    kwargs: dict = {"filters": filters, "per_page": per_page}
    params = inspect.signature(api.runs).parameters
    if "lazy" in params:
        kwargs["lazy"] = False  # config and summary in the listing, not one request per run
    if "include_sweeps" in params:
        kwargs["include_sweeps"] = False

    def list_runs() -> list:
        try:
            return list(api.runs(path, **kwargs))
        except ValueError as exc:  # wandb: "Could not find project X"
            if "project" in str(exc).lower():
                raise SweepError(f"wandb project '{path}' not found; check the entity and project "
                                 "names (as in the project's URL) and that your API key can see "
                                 "it.") from None
            raise

    runs = _retry(list_runs, what=f"listing the runs of {path}", retries=retries, backoff=backoff)
    if not runs:
        raise SweepError(f"{where} has no runs" + (f" matching filters {filters}" if filters else "")
                         + "; check the project, sweep or filters.")
    merged: tuple[list[Collision], list[Collision]] = ([], [])
    rows = [_run_row(r, path, merged) for r in runs]
    notes = merge_notes(merged[0], "Config", "hyperparameter") + merge_notes(
        merged[1], "Summary", "metric")
    if how != "last":
        chosen = _chosen_metrics(rows, metrics, where)
        from tqdm.auto import tqdm

        def work(i: int) -> dict[str, float]:
            return _retry(lambda: _history_agg(runs[i], chosen, how),
                          what=f"reading the history of run {runs[i].id}", retries=retries,
                          backoff=backoff)

        with ThreadPoolExecutor(max_workers=HISTORY_WORKERS) as pool, tqdm(
                total=len(runs), desc="wandb history", unit="run", disable=None) as bar:
            for i, values in enumerate(pool.map(work, range(len(runs)))):
                rows[i].update({METRIC + m: v for m, v in values.items()})
                bar.update()
        notes.append(f"Metrics {', '.join(chosen)} are the {how}imum over each run's full logged "
                     "history (wandb scan_history).")
    query = {"project": path, "sweep": sweep, "filters": filters or None}
    table = _finish(rows, options=options, how=how, query={k: v for k, v in query.items() if v},
                    where=where, notes=notes)
    if sweep and found:
        table.meta.objective = sweep_objective(getattr(found[-1], "config", None))
    return table


def sweep_objective(config: Any) -> str | None:
    """The metric a W&B sweep optimised: its config's ``metric.name`` (None when unsaid)."""
    metric = config.get("metric") if isinstance(config, dict) else None
    name = metric.get("name") if isinstance(metric, dict) else None
    return str(name) if name else None


def load(options: dict) -> RunTable:
    """Load W&B runs.

    Options: ``project`` ("entity/project") with optional ``sweep`` (id) and ``filters``
    (MongoDB-style, as ``wandb.Api().runs`` takes), or ``path`` (a ``wandb/`` directory, one
    run directory, or the folder holding ``wandb/``); ``seed``, ``budget``, ``metric_agg``
    ("last" | "min" | "max"), ``metrics`` (names whose history to aggregate; default all
    summary metrics); API only: ``timeout`` (s), ``retries``, ``per_page``.
    """
    if options.get("path"):
        return load_offline(options)
    if options.get("project"):
        return load_api(options)
    raise SweepError("the wandb source needs --project ENTITY/PROJECT (with --sweep ID) for the "
                     "W&B API, or --path DIR for offline run directories.")
