"""``python -m reports`` / ``sweepsight``: load a sweep and build its report site.

With no arguments it builds the report of the bundled example sweep
(``examples/digits_sweep.csv``, target ``val_acc``) into ``site/``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# Only light imports here: ``--help`` and input errors answer before pandas, scikit-learn,
# mlflow or wandb load (the adapters and the build import them when they are needed).
from sweepsight.adapters.errors import SweepError, export_file
from sweepsight.analysis.options import (  # light: the options, their defaults and checks
    DIRECTIONS,
    METRIC_SCALES,
    TESTS,
    AnalysisOptions,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_sweep.csv"
EXAMPLE_TARGET = "val_acc"


#: The analysis options the command line sets (``--direction`` ... ``--test``; the target aside).
CLI_OPTIONS = ("direction", "metric_scale", "budget", "at_budget", "alpha", "test")
#: What a report is built with when neither the command line nor the snapshot says: the
#: defaults of :class:`analysis.options.AnalysisOptions`.
DEFAULTS = {f.name: f.default for f in dataclasses.fields(AnalysisOptions) if f.name in CLI_OPTIONS}


def add_source_options(group) -> None:
    """The options that say where the runs come from (``group``: a parser or argument group);
    the main sweep's and ``--baseline``'s, so both read the same options."""
    group.add_argument("--source", default=None,
                       help="csv, mlflow or wandb (default: csv; with no --path, the example sweep)")
    group.add_argument("--from-snapshot", metavar="PATH",
                       help="re-render a snapshot (<site>/data/sweep) instead of fetching")
    group.add_argument("--path", help="csv: the CSV, Parquet or JSON-lines file")
    group.add_argument("--param", action="append", default=[], metavar="NAME",
                       help="a hyperparameter to analyse even if it looks like an outcome "
                            "(runtime_s) or an identifier; csv: a bare column that is a "
                            "hyperparameter (repeatable)")
    group.add_argument("--metric", action="append", default=[], metavar="NAME",
                       help="a bare metric column (csv) or a metric whose history to aggregate (repeatable)")
    group.add_argument("--seed", metavar="NAME", help="the hyperparameter holding the random seed")
    group.add_argument("--budget", metavar="NAME",
                       help="the hyperparameter holding the budget (epochs, steps); each configuration "
                            "is analysed at the largest it reached")
    group.add_argument("--at-budget", metavar="VALUE",
                       help="with --budget: analyse only the runs at this budget ('max': the largest)")
    group.add_argument("--tracking-uri", help="mlflow: tracking URI (default: $MLFLOW_TRACKING_URI)")
    group.add_argument("--experiment", action="append", default=[], metavar="NAME",
                       help="mlflow: experiment name or id (repeatable)")
    group.add_argument("--filter",
                       help="mlflow: search filter string; wandb: a JSON filter, e.g. "
                            "'{\"state\": \"finished\"}'")
    group.add_argument("--max-results", type=int, metavar="N",
                       help="mlflow: fetch at most this many runs (newest first)")
    group.add_argument("--project", help="wandb: entity/project")
    group.add_argument("--sweep", help="wandb: sweep id")
    group.add_argument("--metric-agg", choices=["last", "min", "max"], default="last",
                       help="how a metric's history becomes one value per run (default: last)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=Path(sys.argv[0]).name if Path(sys.argv[0]).name == "sweepsight" else "python -m reports",
        description="Turn a hyperparameter sweep into a static report site. With no arguments: "
                    "the bundled example sweep.")
    src = p.add_argument_group("where the runs come from")
    add_source_options(src)
    src.add_argument("--baseline", metavar="SNAPSHOT|OPTIONS",
                     help="compare with a baseline sweep: a snapshot (<site>/data/sweep of the "
                          "base branch's report), a site folder, or its source options in one "
                          "argument, e.g. \"--source mlflow --experiment old-sweep\" (target "
                          "and direction are this sweep's)")
    src.add_argument("--baseline-missing", metavar="WHY",
                     help="without --baseline: why there is none (e.g. the base branch has no "
                          "report yet), said in summary.md and on the comparison page")
    ana = p.add_argument_group("analysis")
    ana.add_argument("--target", help="the metric to explain (default: the only metric, the "
                                      "one the sweep optimised, or the snapshot's)")
    ana.add_argument("--direction", choices=DIRECTIONS,
                     help="default: guessed from the metric's name")
    ana.add_argument("--metric-scale", choices=METRIC_SCALES,
                     help="default: auto (or the snapshot's)")
    ana.add_argument("--alpha", type=float,
                     help=f"significance level (default {DEFAULTS['alpha']:g})")
    ana.add_argument("--test", choices=TESTS,
                     help="the two-sample test behind the significance verdicts (default: ks, the "
                          "classic choice; welch has more power with few seeds)")
    nxt = p.add_argument_group("the next sweep (the Next sweep page and next/ files)")
    nxt.add_argument("--next-budget", type=int, metavar="N",
                     help="runs the next sweep may use: the frontier first, then seeds, then a "
                          "narrowed design (default: this sweep's size)")
    nxt.add_argument("--bounds", action="append", default=[], metavar="NAME=LOW:HIGH",
                     help="a limit the proposed values never pass, e.g. lr=1e-5:1e-1 "
                          "(repeatable)")
    out = p.add_argument_group("output")
    out.add_argument("--out", default="site", help="the site folder (default: site)")
    out.add_argument("--title", help="the site title")
    out.add_argument("--renderer", choices=["auto", "quarto", "nbconvert"], default="auto",
                     help="default: Quarto when on PATH, else nbconvert")
    out.add_argument("--check", action="store_true",
                     help="load and check the sweep with these options, say what would be "
                          "analysed, and stop (no site is written)")
    return p


def adapter_options(args: argparse.Namespace) -> dict:
    """The options dict every adapter reads (see ``adapters.load``)."""
    options = {
        "path": args.path, "param": args.param, "metric": args.metric, "seed": args.seed,
        "budget": args.budget, "metric_agg": args.metric_agg, "tracking_uri": args.tracking_uri,
        "experiment": args.experiment, "filter": args.filter, "project": args.project,
        "sweep": args.sweep, "max_results": args.max_results,
    }
    if args.source == "wandb" and args.filter:
        try:
            options["filters"] = json.loads(args.filter)
        except json.JSONDecodeError as exc:
            raise SweepError(f"--filter for wandb must be a JSON object ({exc.msg}), e.g. "
                             "'{\"state\": \"finished\"}'.") from None
        if not isinstance(options["filters"], dict):
            raise SweepError(f"--filter for wandb must be a JSON object, not a JSON "
                             f"{type(options['filters']).__name__}, e.g. '{{\"state\": \"finished\"}}'.")
        del options["filter"]
    metrics = list(args.metric) or ([args.target] if args.target else [])
    if metrics:
        options["metrics"] = metrics
    return {k: v for k, v in options.items() if v not in (None, [], "")}


def resolve_target(target: str | None, metrics: list[str], named: Sequence[str] = (), *,
                   objective: str | None = None) -> str:
    """``target`` if the sweep has it, else the only metric (or the only ``--metric`` named, or
    the metric the sweep optimised); otherwise a clear error."""
    if target:
        if target not in metrics:
            raise SweepError(f"target metric {target!r} is not in this sweep; metrics found: "
                             f"{', '.join(sorted(metrics)) or '(none)'}. Pass one of them with --target.")
        return target
    if len(metrics) == 1:
        return metrics[0]
    if len(named) == 1 and named[0] in metrics:
        return named[0]
    if objective and objective in metrics:
        return objective
    raise SweepError(f"this sweep has {len(metrics)} metrics ({', '.join(sorted(metrics)) or 'none'}); "
                     "choose the one to explain with --target NAME.")


def remembered(args: argparse.Namespace, meta) -> dict:
    """The report options: each as given on the command line, else as the snapshot was built
    with (``meta.report_options``), else :data:`DEFAULTS`."""
    saved = dict(getattr(meta, "report_options", None) or {})
    out = {}
    for key, default in DEFAULTS.items():
        given = getattr(args, key, None)
        out[key] = given if given not in (None, "") else saved.get(key, default)
    return out


def flag(name: str) -> str:
    """The command-line flag of an analysis option (``metric_scale`` -> ``--metric-scale``)."""
    return "--" + name.replace("_", "-")


def analysis_options(args: argparse.Namespace, meta, target: str) -> AnalysisOptions:
    """The analysis options, checked once: :func:`remembered` with ``target``. A bad value
    names its flag, or the snapshot's report option it came from."""
    given = {k for k in CLI_OPTIONS if getattr(args, k, None) not in (None, "")}
    saved = set(getattr(meta, "report_options", None) or {}) - given
    values = {**(getattr(meta, "report_options", None) or {}), **remembered(args, meta),
              "target": target}
    return AnalysisOptions.from_mapping(values, label=lambda k: (
        f"the snapshot's report option {k}" if k in saved else flag(k)))


def precheck(args: argparse.Namespace) -> None:
    """The input errors found without loading anything heavy (so they answer in well under a
    second): the options' values, a missing Quarto, a ``--path`` that is not a readable file."""
    from sweepsight import adapters

    given = {k: getattr(args, k) for k in CLI_OPTIONS if getattr(args, k, None) not in (None, "")}
    # the flags' values alone, before anything loads (the target is checked once it is known)
    AnalysisOptions.from_mapping({**given, "target": args.target or "?"}, label=flag)
    if args.renderer == "quarto" and not shutil.which("quarto"):
        raise SweepError("--renderer quarto: Quarto was not found on PATH; install it "
                         "(pip install quarto-cli) or pass --renderer nbconvert.")
    if args.source is not None and not args.from_snapshot:
        if args.source not in adapters.available():
            raise SweepError(f"unknown source {args.source!r}; valid sources: "
                             f"{', '.join(adapters.available())}.")
    if args.next_budget is not None and args.next_budget < 1:
        raise SweepError(f"--next-budget {args.next_budget}: the next sweep needs at least 1 run.")
    parse_bounds(args.bounds)  # a malformed --bounds fails before anything loads
    if args.baseline is not None and args.baseline_missing:
        raise SweepError("pass --baseline or --baseline-missing (why there is none), not both.")
    if args.path and (args.source or "csv") == "csv" and not args.from_snapshot:
        export_file(Path(args.path))  # the csv adapter's own check, before pandas loads
    if not args.check:
        check_out(args)


def check_out(args: argparse.Namespace, baseline: Path | None = None) -> None:
    """``--out`` before anything loads: not a file, a name that fits, no input inside it (the
    ``--path`` read, the ``--baseline`` snapshot or export)."""
    from sweepsight.reports import site_folder

    try:
        out = Path(args.out).resolve()
    except (OSError, RuntimeError) as exc:
        raise SweepError(f"--out {args.out}: {getattr(exc, 'strerror', None) or exc}; pass a "
                         "folder you can write to.") from None
    inputs = [("--path", Path(args.path))] if args.path and not args.from_snapshot else []
    if baseline is not None:
        inputs.append(("--baseline", baseline))
    site_folder.check_out(out, inputs=inputs)


def run(args: argparse.Namespace) -> dict[str, float]:
    """Load (or read the snapshot), then build the site; returns stage timings."""
    precheck(args)
    if not (args.source or args.path or args.from_snapshot) and not EXAMPLE.parent.is_dir():
        # installed, and no sweep named: the example ships with the repository, not the package
        raise SweepError(
            "no sweep given: pass --path runs.csv, --source mlflow --experiment NAME or "
            "--source wandb --project ENTITY/PROJECT (sweepsight --help lists them all; the "
            "example sweep ships with the repository, not the package).")
    from sweepsight.reports.baseline import load_baseline, parse_baseline, require_target

    spec = parse_baseline(args.baseline, args) if args.baseline is not None else None  # light
    if spec is not None and not args.check:
        given = spec.snapshot if spec.snapshot is not None else getattr(spec.options, "path", None)
        if given:
            check_out(args, Path(given))
    from sweepsight.reports import memory

    from sweepsight import adapters

    memory.return_freed_memory()  # before the runs are loaded: see reports.memory
    from sweepsight.adapters import snapshot
    from sweepsight.reports.build import build

    start = time.perf_counter()
    baseline = origin = None
    if spec is not None and spec.snapshot is not None:  # a snapshot fails before any fetch
        baseline, origin = load_baseline(spec, target=None)  # its target is checked below
    if args.from_snapshot:
        table = snapshot.load(args.from_snapshot)
        what = f"snapshot {args.from_snapshot}"
        if not args.target and table.meta.report_options.get("target") in table.metrics:
            args.target = table.meta.report_options["target"]
    else:
        source = args.source or "csv"
        if source == "csv" and not args.path and args.source is None:
            args.path, args.target = str(EXAMPLE), args.target or EXAMPLE_TARGET
            if not EXAMPLE.exists():
                raise SweepError(f"the example sweep {EXAMPLE} is missing; pass --path FILE, or "
                                 "create it with: python examples/digits_sweep.py")
        adapters.get_adapter(source)  # an unknown source fails here, listing the valid ones
        if source != "csv":  # a tracker may take a while: say what we wait for
            print(f"[{time.perf_counter() - start:7.2f} s] load: fetching runs from {source} ...",
                  flush=True)
        table = adapters.load(source, adapter_options(args))
        what = f"{source}"
        path = table.meta.query.get("path") if isinstance(table.meta.query, dict) else None
        if isinstance(path, str) and os.path.isabs(path):  # as typed from here: the pages are
            from sweepsight.reports.text import relative  # rendered from another folder

            table.meta.query["path"] = relative(path)
    target = resolve_target(args.target, table.metrics, args.metric,
                            objective=table.meta.objective)
    if spec is not None:
        if baseline is None:
            baseline, origin = load_baseline(spec, target=target)
        require_target(baseline, spec, target)
    bounds = _bounds(args, table)
    forced = [p for p in args.param if p in table.params]
    table.meta.forced_params = sorted(set(table.meta.forced_params) | set(forced))
    options = analysis_options(args, table.meta, target)
    table.meta.report_options = options.as_dict()  # the snapshot remembers them
    print(f"[{time.perf_counter() - start:7.2f} s] load: {len(table.frame):,} runs from {what}, "
          f"{len(table.params)} hyperparameters, target {target}", flush=True)
    if baseline is not None and origin is not None:
        print(f"[{time.perf_counter() - start:7.2f} s] baseline: {len(baseline.frame):,} runs from "
              f"{origin.where or origin.source} ({origin.query or 'no query'})", flush=True)
    timings = {"load": time.perf_counter() - start}
    timings["check"] = check(table, options)
    if args.check:
        chosen = ", ".join(f"{k} {v}" for k, v in options.as_dict().items()
                           if k != "target" and v is not None)
        print(f"check only: target {target}, {chosen}; nothing was built", flush=True)
        return timings
    timings.update(build(
        out=args.out, table=table, options=options, title=args.title,
        renderer=args.renderer, log=lambda line: print(line, flush=True), baseline=baseline,
        baseline_origin=origin or _missing(args.baseline_missing),
        next_budget=args.next_budget, bounds=bounds,
    ))
    return timings


def parse_bounds(items: list[str] | tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """``["lr=1e-5:1e-1", ...]`` as ``{"lr": (1e-05, 0.1)}``; a malformed item is a
    :class:`SweepError` naming it."""
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        name, sep, rng = str(item).partition("=")
        lo, sep2, hi = rng.partition(":")
        try:
            low, high = float(lo), float(hi)
        except ValueError:
            low = high = float("nan")
        if not (sep and sep2 and name.strip()) or not low <= high:
            raise SweepError(f"--bounds {item!r}: write NAME=LOW:HIGH with LOW <= HIGH, e.g. "
                             "--bounds lr=1e-5:1e-1")
        out[name.strip()] = (low, high)
    return out


def _bounds(args: argparse.Namespace, table) -> dict[str, tuple[float, float]]:
    """``--bounds`` as a dict; a name that is not a hyperparameter of the sweep fails here."""
    bounds = parse_bounds(args.bounds)
    unknown = sorted(set(bounds) - set(table.params))
    if unknown:
        raise SweepError(f"--bounds names {', '.join(unknown)}, not a hyperparameter of this "
                         f"sweep; hyperparameters: {', '.join(sorted(table.params))}.")
    return bounds


def _missing(why: str | None):
    """The origin saying why there is no baseline (``--baseline-missing``), else None."""
    if not why:
        return None
    from sweepsight.analysis.compare import BaselineOrigin

    return BaselineOrigin(kind="missing", where=" ".join(why.split()))


def check(table, options: AnalysisOptions) -> float:
    """Prepare the runs once with the build's options, so that a problem with them (too few
    runs, a constant target, an unknown budget) is reported before the analysis starts;
    the analysis notebook prepares them again. Returns the seconds taken."""
    from sweepsight.analysis.prepare import prepare

    start = time.perf_counter()
    prep = prepare(table, **options.for_prepare())
    took = time.perf_counter() - start
    print(f"[{took:7.2f} s] check: {len(prep.runs):,} of {len(table.frame):,} runs and "
          f"{len(prep.params)} hyperparameters to analyse", flush=True)
    return took


class _Stdout(logging.StreamHandler):
    """A handler writing to whatever ``sys.stdout`` is when a line is logged: one bound to the
    stdout of an earlier ``main`` call (a test's captured stream, closed since) failed, and
    logging then printed the exception being handled, a tracking URI's token in it, to stderr."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_waits() -> None:
    """The adapters' log lines (a tracker that does not answer, each retry and its wait) on
    stdout beside the build's progress; stderr keeps the one-line error."""
    logger = logging.getLogger("sweepsight")
    if not any(getattr(h, "sweepsight_cli", False) for h in logger.handlers):
        handler = _Stdout()
        handler.setFormatter(logging.Formatter("           wait: %(message)s"))
        handler.sweepsight_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Build the report; a :class:`SweepError` prints ``error: <message>`` and returns 2."""
    args = parser().parse_args(argv)
    show_waits()
    start = time.perf_counter()
    try:
        run(args)
    except SweepError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except BaseException as exc:
        build = sys.modules.get("sweepsight.reports.build")
        if build is not None and isinstance(exc, build.BuildError):
            # a bug in a page or the renderer: the message names it
            print(f"error: the report could not be built: {' '.join(str(exc).split())}",
                  file=sys.stderr)
            print("error: the existing site was left untouched.", file=sys.stderr)
            return 1
        if not isinstance(exc, KeyboardInterrupt):
            raise
        print("error: interrupted; the existing site was left untouched.", file=sys.stderr)
        return 130
    if not args.check:
        print(f"[{time.perf_counter() - start:7.2f} s] done: "
              f"{Path(args.out).resolve() / 'index.html'}")
    return 0
