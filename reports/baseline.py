"""``--baseline``: the sweep to compare with, given as a snapshot, a site folder, or source
options in one argument (``"--source mlflow --experiment old-sweep"``, read by the same
options as the main sweep's), loaded with where it came from for the report.

Parsing is light (no pandas): a bad ``--baseline`` answers before anything heavy loads.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import shlex
from pathlib import Path

from sweepsight.adapters.errors import SweepError

#: The main sweep's options the baseline keeps unless its own options set them: they describe
#: how the sweep was logged (the seed's and budget's names, the history, the server).
INHERITED = ("seed", "budget", "metric_agg", "tracking_uri")
HINT = ('pass a snapshot (<site>/data/sweep), a site folder, or source options in one '
        'argument, e.g. --baseline "--source csv --path base.csv"')
#: Where the site keeps the baseline it was compared with (data/baseline.parquet + .json).
SITE_BASELINE = Path("data") / "baseline"


class _OptionsParser(argparse.ArgumentParser):
    """The source options of ``--baseline``: an error is one :class:`SweepError` line."""

    def error(self, message: str):  # type: ignore[override]
        raise SweepError(f"--baseline: {message}; the baseline shares this sweep's target and "
                         f"direction, so only source options go there ({HINT}).")


def _options_parser() -> argparse.ArgumentParser:
    from sweepsight.reports.cli import add_source_options

    p = _OptionsParser(prog="--baseline", add_help=False, allow_abbrev=False)
    add_source_options(p)
    p.set_defaults(metric_agg=None)  # None: inherit the main sweep's
    return p


def snapshot_at(value: str | Path) -> Path | None:
    """The snapshot (path without suffix) at ``value``: ``<value>.parquet/.json``, or a site
    folder's ``data/sweep``, or a folder holding ``sweep.*`` (a downloaded snapshot artifact)."""
    p = Path(value)
    candidates = [p / "data" / "sweep", p / "sweep"] if p.is_dir() else []
    candidates.append(p.with_suffix("") if p.suffix in (".parquet", ".json") else p)
    for c in candidates:
        if c.with_name(c.name + ".parquet").is_file() and c.with_name(c.name + ".json").is_file():
            return c
    return None


@dataclasses.dataclass(frozen=True)
class BaselineSpec:
    """A parsed ``--baseline``: a ``snapshot`` path, or source ``options`` (a namespace of the
    source options, the main sweep's :data:`INHERITED` ones filled in)."""

    given: str
    snapshot: Path | None = None
    options: argparse.Namespace | None = None

    @property
    def kind(self) -> str:
        return "snapshot" if self.snapshot is not None else "source"


def parse_baseline(value: str, main: argparse.Namespace) -> BaselineSpec:
    """Read ``--baseline VALUE``; raises :class:`SweepError` (one line) for options that are
    not source options, an unknown source, or a path that holds no snapshot."""
    from sweepsight import adapters

    text = value.strip()
    if not text:
        raise SweepError(f"--baseline is empty; {HINT}.")
    if not text.startswith("-"):
        snap = snapshot_at(text)
        if snap is None:
            raise SweepError(f"--baseline {value}: no snapshot there ({text}.parquet and .json, "
                             f"or data/sweep.* in a site folder); {HINT}.")
        return BaselineSpec(value, snapshot=snap)
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise SweepError(f"--baseline {value!r}: {exc} (quote it as in a shell); {HINT}.") from None
    opts = _options_parser().parse_args(tokens)
    if opts.at_budget is not None:
        raise SweepError("--baseline: --at-budget is this sweep's analysis option and applies to "
                         "the baseline too; leave it out of --baseline.")
    if opts.from_snapshot:
        snap = snapshot_at(opts.from_snapshot)
        if snap is None:
            raise SweepError(f"--baseline: --from-snapshot {opts.from_snapshot}: no snapshot "
                             f"there; {HINT}.")
        return BaselineSpec(value, snapshot=snap)
    if opts.source is None:
        if not opts.path:
            raise SweepError(f"--baseline {value!r}: say where its runs come from with --source "
                             f"({', '.join(adapters.available())}) and that source's options.")
        opts.source = "csv"
    if opts.source not in adapters.available():
        raise SweepError(f"--baseline: unknown source {opts.source!r}; valid sources: "
                         f"{', '.join(adapters.available())}.")
    for key in INHERITED:
        if getattr(opts, key) in (None, "", []):
            setattr(opts, key, getattr(main, key, None))
    return BaselineSpec(value, options=opts)


def load_baseline(spec: BaselineSpec, *, target: str | None):
    """The baseline's run table and a :class:`analysis.compare.BaselineOrigin` saying where it
    came from (relative paths; the adapters' queries hold no credentials). A baseline that
    cannot be read, or lacks ``target`` (None: not known yet, see :func:`require_target`), is
    one :class:`SweepError` line naming ``--baseline``."""
    from sweepsight import adapters
    from sweepsight.adapters import snapshot
    from sweepsight.analysis.compare import BaselineOrigin
    from sweepsight.reports.cli import adapter_options
    from sweepsight.reports.text import query_text, relative

    try:
        if spec.snapshot is not None:
            table = snapshot.load(spec.snapshot)
            where = relative(str(spec.snapshot))
        else:
            assert spec.options is not None  # a spec is a snapshot or source options
            opts = copy.copy(spec.options)
            opts.target = target  # its history is aggregated for the same metric
            table = adapters.load(opts.source, adapter_options(opts))
            where = ""
    except SweepError as exc:
        msg = str(exc)
        raise SweepError(msg if msg.startswith("--baseline") else f"--baseline: {msg}") from None
    if target is not None:
        require_target(table, spec, target)
    query = table.meta.query if isinstance(table.meta.query, dict) else {}
    if isinstance(query.get("path"), str):
        query["path"] = relative(query["path"])
    if isinstance(query.get("tracking_uri"), str):
        query["tracking_uri"] = relative_uri(query["tracking_uri"])
    return table, BaselineOrigin(kind=spec.kind, where=where, source=str(table.meta.source),
                                 query=query_text(table.meta), runs=len(table.frame))


def require_target(table, spec: BaselineSpec, target: str) -> None:
    """A :class:`SweepError` line when the baseline does not log ``target``."""
    if target not in table.metrics:
        raise SweepError(f"--baseline {spec.given}: the baseline has no metric {target!r} (its "
                         f"metrics: {', '.join(table.metrics[:5]) or 'none'}); pass a baseline "
                         f"sweep that logs {target}.")


def relative_uri(uri: str) -> str:
    """A ``sqlite:///`` or ``file:`` tracking URI with its path relative to the working folder
    (as the report may say it); any other URI unchanged."""
    from sweepsight.reports.text import relative

    for scheme in ("sqlite:///", "file://", "file:"):
        if uri.startswith(scheme) and uri[len(scheme):].startswith("/"):
            return ("sqlite:///" if scheme == "sqlite:///" else "file:") + relative(uri[len(scheme):])
    return uri
