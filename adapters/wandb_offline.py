"""W&B run directories read from disk, with no network: ``wandb/offline-run-*`` and ``run-*``.

wandb 0.31 writes, in offline mode, only the transaction log ``run-<id>.wandb`` (no
``files/config.yaml`` nor ``files/wandb-summary.json``; those appear for online runs and after
``wandb sync``). The log is leveldb's log format with a W&B file header; each record is a
``wandb_internal_pb2.Record``. wandb no longer ships a Python reader for it (its Go core reads
it), so :func:`read_records` is a small one. ``files/config.yaml`` and
``files/wandb-summary.json`` win over the log when present.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sweepsight.adapters.bounded import MAX_DEPTH, load_json, load_yaml
from sweepsight.adapters.errors import SweepError

_BLOCK = 32768
_HEADER = 7  # checksum uint32, length uint16, type uint8
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_FILE_IDENT = b":W&B"


@dataclass
class OfflineRun:
    """What one run directory holds; ``config`` nested as logged, ``summary`` as logged."""

    run_id: str
    name: str | None = None
    group: str | None = None
    sweep: str | None = None
    project: str | None = None
    state: str = "crashed"
    created_at: datetime | None = None
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    path: Path | None = None
    # History rows as logged, values still JSON text: most loads never need them decoded.
    raw_history: list[list[tuple[tuple[str, ...], str]]] = field(default_factory=list, repr=False)
    _history: list[dict] | None = field(default=None, repr=False)

    @property
    def history(self) -> list[dict]:
        """The logged history rows (``_step``, ``_runtime`` ... included), decoded on first use."""
        if self._history is None:
            self._history = []
            for items in self.raw_history:
                row: dict = {}
                for keys, text in items:
                    _set(row, list(keys), _loads(text))
                self._history.append(row)
        return self._history


def read_records(path: Path) -> Iterator[bytes]:
    """The records (serialized protobuf ``Record`` bytes) of a ``.wandb`` transaction log.

    A torn last record (a run still writing, or killed mid-write) ends the scan quietly;
    a record whose checksum fails is skipped.
    """
    if not path.is_file():  # a FIFO or a device would block or never end
        raise SweepError(f"{path} is not a regular file; a run's .wandb log must be one.")
    data = path.read_bytes()
    if len(data) < _HEADER and _FILE_IDENT.startswith(data[:4]):
        return  # torn inside the header (killed as it started): a crashed run with no records
    if len(data) < _HEADER or data[:4] != _FILE_IDENT:
        raise SweepError(f"{path} is not a W&B transaction log (no ':W&B' header); "
                         "point --path at a wandb/ directory or one of its run directories.")
    pos, pending = _HEADER, None
    while pos < len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # block trailer: zero padding
            pos += left
            continue
        if pos + _HEADER > len(data):
            return
        checksum, length, kind = struct.unpack_from("<IHB", data, pos)
        pos += _HEADER
        chunk = data[pos:pos + length]
        pos += length
        if len(chunk) < length:
            return
        if kind == 0 and length == 0:
            continue
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != checksum:
            pending = None
            continue
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE and pending is not None:
            pending += chunk
        elif kind == _LAST and pending is not None:
            yield pending + chunk
            pending = None


def _item_key(item: Any) -> tuple[str, ...]:
    return (item.key,) if item.key else tuple(item.nested_key)


def _set(target: dict, keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        nxt = target.get(k)
        if not isinstance(nxt, dict):
            nxt = target[k] = {}
        target = nxt
    if keys:
        target[keys[-1]] = value


def _loads(text: str) -> Any:
    try:
        return json.loads(text)  # reads NaN, Infinity and -Infinity as wandb writes them
    except ValueError:
        return text


def _apply(target: dict, record: Any) -> None:
    """Apply a ConfigRecord / SummaryRecord to ``target`` (flat: key path -> JSON text).

    Updates then removals, in log order; removing a key removes what is nested under it.
    Values stay undecoded: wandb writes a summary record at every ``log`` call.
    """
    for item in record.update:
        keys = _item_key(item)
        if keys not in target:  # a new path may go into a dict logged whole, or replace one
            for k in [k for k in target if k[:len(keys)] == keys or keys[:len(k)] == k]:
                value = _loads(target.pop(k))
                if len(k) < len(keys) and isinstance(value, dict):
                    target.update({k + tuple(sub.split("\x00")): json.dumps(v)
                                   for sub, v in _flat(value).items()})
        target[keys] = item.value_json
    for item in record.remove:
        keys = _item_key(item)
        for k in [k for k in target if k[:len(keys)] == keys]:
            del target[k]


def _flat(value: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in value.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}\x00"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _nest(flat: dict) -> dict:
    out: dict = {}
    for keys, text in flat.items():
        _set(out, list(keys), _loads(text))
    return out


def read_log(path: Path) -> OfflineRun:
    """Replay one ``.wandb`` log into an :class:`OfflineRun` (config, summary, history, state);
    a value nested too deep to decode is a :class:`SweepError` naming the log."""
    try:
        return _read_log(path)
    except RecursionError:
        raise SweepError(f"{path} holds a config or summary value nested more than {MAX_DEPTH} "
                         "levels deep, which no run needs; leave the run's folder out of --path."
                         ) from None


def _read_log(path: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    run = OfflineRun(run_id=path.stem.removeprefix("run-"), path=path.parent)
    config: dict = {}
    summary: dict = {}
    exit_code: int | None = None
    for raw in read_records(path):
        record = pb.Record()  # type: ignore[attr-defined]  # generated protobuf module
        try:
            record.ParseFromString(raw)
        except Exception:  # a record from a newer schema: skip it, keep the rest
            continue
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = [(_item_key(item), item.value_json) for item in record.history.item]
            if record.history.HasField("step") and not any(k == ("_step",) for k, _ in items):
                items.append((("_step",), str(record.history.step.num)))
            run.raw_history.append(items)
        elif kind == "summary":
            _apply(summary, record.summary)
        elif kind == "config":
            _apply(config, record.config)
        elif kind == "run":
            r = record.run
            run.run_id = r.run_id or run.run_id
            run.name = r.display_name or run.name
            run.group = r.run_group or run.group
            run.sweep = r.sweep_id or run.sweep
            run.project = r.project or run.project
            if r.HasField("start_time"):
                run.created_at = r.start_time.ToDatetime(tzinfo=timezone.utc)
            _apply(config, r.config)
            _apply(summary, r.summary)
        elif kind == "exit":
            exit_code = record.exit.exit_code
    run.config, run.summary = _nest(config), _nest(summary)
    # No exit record: the process died (or is still writing); W&B shows such runs as crashed.
    run.state = "crashed" if exit_code is None else ("finished" if exit_code == 0 else "failed")
    return run


_FIX_CONFIG = "fix it, or remove it to read the config from the run's .wandb log"
_FIX_SUMMARY = "fix it, or remove it to read the summary from the run's .wandb log"


def _config_yaml(path: Path) -> dict | None:
    if not path.exists():
        return None
    if not path.is_file():
        raise SweepError(f"{path} is not a regular file; remove it or replace it with the file.")
    import yaml

    try:
        raw = load_yaml(path.read_text(), where=str(path), fix=_FIX_CONFIG) or {}
    except yaml.YAMLError as exc:
        raise SweepError(f"cannot read {path}: {str(exc).splitlines()[0]}; "
                         "remove the file to read the config from the run's .wandb log.") from None
    if not isinstance(raw, dict):
        raise SweepError(f"{path} holds a {type(raw).__name__}, not a mapping of config keys; "
                         "fix it, or remove it to read the config from the run's .wandb log.")
    # wandb's format: each key holds {"value": ..., "desc": ...}
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in raw.items()}


def _summary_json(path: Path) -> dict | None:
    if not path.exists():
        return None
    if not path.is_file():
        raise SweepError(f"{path} is not a regular file; remove it or replace it with the file.")
    try:
        summary = load_json(path.read_text(), where=str(path), fix=_FIX_SUMMARY)
    except ValueError as exc:
        raise SweepError(f"cannot read {path}: {exc}; remove the file to read the summary "
                         "from the run's .wandb log.") from None
    if not isinstance(summary, dict):
        raise SweepError(f"{path} holds a JSON {type(summary).__name__}, not an object of metric "
                         "names; fix it, or remove it to read the summary from the run's .wandb log.")
    return summary


def read_run_dir(path: Path) -> OfflineRun:
    """One run directory (``offline-run-<time>-<id>`` or ``run-<time>-<id>``)."""
    logs = sorted(path.glob("run-*.wandb"))
    if logs:
        run = read_log(logs[0])
    else:
        run = OfflineRun(run_id=path.name.rsplit("-", 1)[-1], path=path)
    if not run.summary and run.history:
        # History is the fallback for the summary: the last value logged for each key.
        for row in run.history:
            run.summary.update(row)
    config = _config_yaml(path / "files" / "config.yaml")
    if config is not None:
        run.config = config
    summary = _summary_json(path / "files" / "wandb-summary.json")
    if summary is not None:
        run.summary = summary
    if not logs and config is None and summary is None:
        raise SweepError(f"{path} holds no run-*.wandb log, files/config.yaml or "
                         "files/wandb-summary.json; is it a W&B run directory?")
    return run


def _is_run_dir(path: Path) -> bool:
    return path.is_dir() and path.name.startswith(("offline-run-", "run-")) and (
        any(path.glob("run-*.wandb")) or (path / "files").is_dir())


def find_run_dirs(path: Path) -> list[Path]:
    """The run directories under ``path``: a ``wandb/`` dir, one run dir, or a parent of ``wandb/``."""
    if not path.exists():
        raise SweepError(f"directory {path} not found; pass a wandb/ directory, one of its "
                         "offline-run-* directories, or the folder that holds wandb/.")
    if not path.is_dir():
        raise SweepError(f"{path} is a file; pass a wandb/ directory, one of its offline-run-* "
                         "directories, or the folder that holds wandb/.")
    if _is_run_dir(path):
        return [path]
    for base in (path, path / "wandb"):
        if base.is_dir():
            found = sorted(p for p in base.iterdir() if _is_run_dir(p))
            if found:
                return found
    raise SweepError(f"{path} holds no W&B run directories (offline-run-*/run-* with a .wandb "
                     "log); pass the wandb/ directory your script wrote (wandb.init(dir=...)).")


def read_dir(path: Path) -> list[OfflineRun]:
    """Every run under ``path`` (see :func:`find_run_dirs`); a run resumed twice counts once."""
    runs: dict[str, OfflineRun] = {}
    for run_dir in find_run_dirs(path):
        run = read_run_dir(run_dir)
        runs[run.run_id] = run  # directories sort by start time: the latest wins
    return list(runs.values())
