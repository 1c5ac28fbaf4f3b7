"""Build the report site: snapshot -> analysis notebook -> page notebooks -> render -> swap.

The site is built in a temporary folder next to ``out`` and swapped into place only when every
stage succeeded; on failure the temporary folder is deleted and the old site is left untouched.
The analysis and the page notebooks run in this process (papermill with the in-process engine
of :mod:`reports.page_engine`: no second Python importing everything again).
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sweepsight.adapters import snapshot
from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import RunTable
from sweepsight.reports import site_folder
from sweepsight.reports.site_folder import LOCK, SITE_MARKER, clean_stale, swap  # noqa: F401

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis
    from sweepsight.analysis.compare import BaselineOrigin, Comparison
    from sweepsight.analysis.options import AnalysisOptions

PACKAGE = Path(__file__).resolve().parent  # reports/ in a checkout, sweepsight/reports installed
TEMPLATES = PACKAGE / "pages"
ANALYSIS_NOTEBOOK = PACKAGE / "analysis.ipynb"  # the analysis by hand; the build calls run_analysis
SNAPSHOT = Path("data") / "sweep"  # inside the site: data/sweep.parquet + data/sweep.json
BASELINE_SNAPSHOT = Path("data") / "baseline"  # the baseline compared with (--baseline)
WORK = ".sweepsight-work"  # inside the building folder (notebooks, Quarto project); removed before the swap
# What the CLI passes to the notebooks (tests check them against papermill.inspect_notebook).
ANALYSIS_PARAMETERS = ("snapshot_path", "target", "direction", "metric_scale", "budget",
                       "at_budget", "alpha", "test", "analysis_path")
PAGE_PARAMETERS = ("analysis_path",)


@dataclasses.dataclass(frozen=True)
class Page:
    template: str  # <package>/pages/<template>.ipynb
    stem: str  # <stem>.ipynb in the build's project folder, <stem>.html in the site
    label: str  # navbar text


PAGES = (
    Page("overview", "index", "Overview"),
    Page("correlation", "correlation", "Correlation"),
    Page("linear", "linear", "Linear model"),
    Page("importance", "importance", "Importance"),
    Page("significance", "significance", "Significance"),
    Page("comparison", "comparison", "Baseline"),
    Page("next", "next", "Next sweep"),
)


class BuildError(RuntimeError):
    """A stage of the build failed for a reason that is not the user's input (a bug)."""


def run_analysis(snapshot_path: str, *, analysis_path: str,
                 progress: Callable[[str, float], None] | None = None,
                 **given: Any) -> dict[str, float]:
    """Load the snapshot, run :func:`analysis.analyse` and pickle the result to ``analysis_path``
    (``reports/analysis.ipynb``: the analysis by hand, for page notebooks opened by hand).
    ``given``: the analysis options (``target``, ``alpha``...; see
    :class:`analysis.options.AnalysisOptions`; None: its default), checked here.

    The build calls :func:`_analyse` and hands the result to its pages without a pickle.
    Returns the per-analysis timings in seconds. ``progress(stage, seconds)`` is passed on to
    ``analyse`` when it takes one.
    """
    from sweepsight.analysis.options import AnalysisOptions

    options = AnalysisOptions.from_mapping({k: v for k, v in given.items() if v is not None})
    result = _analyse(snapshot_path, options, progress=progress)
    path = Path(analysis_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)
    return dict(result.timings)


def _analyse(snapshot_path: str, options: AnalysisOptions, *,
             progress: Callable[[str, float], None] | None, baseline: RunTable | None = None,
             baseline_origin: BaselineOrigin | None = None, next_budget: int | None = None,
             bounds: dict[str, tuple[float, float]] | None = None) -> Analysis:
    """The :class:`analysis.Analysis` of the snapshot; with a ``baseline`` run table, its
    ``comparison`` (analysis.compare) against it, and ``baseline_origin`` (an
    :class:`analysis.compare.BaselineOrigin`) on ``.baseline``; ``.next_sweep`` planned with
    ``next_budget`` runs (default: this sweep's) within ``bounds``."""
    from sweepsight.analysis import analyse
    from sweepsight.analysis.next_sweep import plan_next

    table = snapshot.load(snapshot_path)
    extra: dict[str, Any] = {}
    if progress is not None and "progress" in inspect.signature(analyse).parameters:
        extra["progress"] = progress
    result = analyse(table, options=options, **extra)
    if baseline is not None:
        result.comparison = _compare(result, baseline, progress=progress)
    result.baseline = baseline_origin
    start = time.perf_counter()
    result.next_sweep = plan_next(result, budget=next_budget, bounds=bounds)
    result.timings["next sweep"] = time.perf_counter() - start
    if progress is not None:
        progress("next sweep", result.timings["next sweep"])
    return result


def _compare(result: Analysis, baseline: RunTable, *,
             progress: Callable[[str, float], None] | None) -> Comparison:
    """``result`` against the ``baseline`` table, analysed with the same options (its
    direction as its own report chose, so that different directions fail clearly)."""
    from sweepsight.analysis.compare import analyse_baseline, compare_sweeps

    start = time.perf_counter()
    o = result.options
    direction = baseline.meta.report_options.get("direction") or o.direction
    base = analyse_baseline(baseline, o, target=result.prep.target, direction=direction)
    comp = compare_sweeps(result, base, **o.for_comparison())
    result.timings["baseline"] = time.perf_counter() - start
    if progress is not None:
        progress("baseline", result.timings["baseline"])
    return comp


_IN_MEMORY: dict[Path, object] = {}  # analysis_path -> the Analysis a running build hands its pages


def load_analysis(path: str | Path):
    """The analysis a page notebook shows (its first cell): while a build runs its pages in this
    process, the :class:`analysis.Analysis` it registered for ``path`` (nothing is pickled);
    otherwise the one :func:`run_analysis` pickled there (a page opened by hand)."""
    resolved = Path(path).resolve()
    if resolved in _IN_MEMORY:
        return _IN_MEMORY[resolved]
    with open(resolved, "rb") as fh:
        return pickle.load(fh)


def execute(notebook: Path, output: Path, parameters: dict, *, cwd: Path | None = None) -> None:
    """Execute ``notebook`` with papermill in this process (:mod:`reports.page_engine`, its
    variables forgotten first); a :class:`SweepError` raised inside comes back as one.

    Any other failure is a :class:`BuildError` naming the notebook, the error, and a copy of
    the executed notebook (with the traceback) kept outside the build folder, which is removed.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from sweepsight.reports import page_engine

    name = notebook.relative_to(PACKAGE.parent) if notebook.is_relative_to(PACKAGE.parent) else notebook
    page_engine.forget()
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, engine_name=page_engine.ENGINE,
            kernel_name="python3", cwd=str(cwd or output.parent), progress_bar=False,
            log_output=False)
    except PapermillExecutionError as exc:
        if exc.ename.rsplit(".", 1)[-1] == "SweepError":
            raise SweepError(str(exc.evalue)) from None
        kept = Path(tempfile.gettempdir()) / f"sweepsight-failed-{output.name}"
        with contextlib.suppress(OSError):
            shutil.copyfile(output, kept)
        raise BuildError(f"{name} failed: {exc.ename}: {exc.evalue} (the executed notebook, "
                         f"with the traceback: {kept})") from None
    finally:
        page_engine.forget()


def _prepare_out(out: Path) -> None:
    site_folder.check_out(out)


def build(
    *,
    out: str | Path,
    table: RunTable | None = None,
    snapshot_path: str | Path | None = None,
    options: AnalysisOptions | None = None,
    title: str | None = None,
    renderer: str = "auto",
    log: Callable[[str], None] = print,
    baseline: RunTable | None = None,
    baseline_origin: BaselineOrigin | None = None,
    next_budget: int | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
    **given: Any,
) -> dict[str, float]:
    """Build the site for ``table`` (or an existing ``snapshot_path``) into ``out``, analysed
    with ``options`` (or its fields as keywords: ``target=...``, ``alpha=...``).

    ``renderer``: ``"auto"`` (Quarto when on PATH, else nbconvert), ``"quarto"`` or
    ``"nbconvert"``. Everything is made inside a ``.<out>.building-*`` folder next to ``out``
    (the site, and its ``.sweepsight-work`` folder: the executed notebooks and the Quarto
    project, removed before the swap), so builds into different
    folders run at the same time and nothing is written into the installed package.
    ``baseline``: a run table to compare with (``--baseline``; :mod:`analysis.compare`), kept
    in the site as ``data/baseline.parquet``/``.json``; ``baseline_origin``: where it came from,
    or why there is none (an :class:`analysis.compare.BaselineOrigin`, said on the comparison
    page and in summary.md). ``next_budget``/``bounds``: the next sweep's runs and the limits
    its extensions never pass (:func:`analysis.next_sweep.plan_next`); its files go to
    ``next/``.
    Returns the wall time of every stage in seconds.
    """
    from sweepsight.analysis.options import AnalysisOptions
    from sweepsight.reports import memory, next_files, pairs, render, summary

    options = AnalysisOptions.of(options, **given)
    if (table is None) == (snapshot_path is None):
        raise ValueError("pass exactly one of table and snapshot_path")
    try:
        out = Path(out).resolve()
    except OSError as exc:
        raise SweepError(f"--out {out}: {exc.strerror or exc}; pass a folder you can write to.") from None
    _prepare_out(out)
    tmp, lock = site_folder.building_folder(out)
    timings: dict[str, float] = {}

    memory.return_freed_memory()

    def stage(name: str, fn: Callable[[], str | None]) -> None:
        start = time.perf_counter()
        detail = fn()
        memory.trim()  # what the stage freed goes back before the next one allocates
        timings[name] = time.perf_counter() - start
        log(f"[{timings[name]:7.2f} s] {name}" + (f": {detail}" if detail else ""))

    try:
        stale = clean_stale(out)
        if stale:
            log(f"[   0.00 s] cleaned {len(stale)} folder(s) left by killed builds: "
                + ", ".join(p.name for p in stale))
        work = tmp / WORK
        project = work / "project"  # the executed pages + assets: what Quarto or nbconvert renders
        project.mkdir(parents=True)
        snap = tmp / SNAPSHOT

        def save_snapshot() -> str:
            if table is not None:
                snapshot.save(table, snap)
            else:
                assert snapshot_path is not None  # build_site takes a table or a snapshot
                src = Path(snapshot_path).with_suffix("")
                snapshot.load(src)  # fails clearly when either file is missing or malformed
                snap.parent.mkdir(parents=True, exist_ok=True)
                for suffix in (".parquet", ".json"):
                    shutil.copyfile(src.with_suffix(suffix), snap.with_suffix(suffix))
            kept = f"{snap.relative_to(tmp)}.parquet/.json"
            if baseline is not None:  # the site keeps what it was compared with
                snapshot.save(baseline, tmp / BASELINE_SNAPSHOT)
                kept += f", {BASELINE_SNAPSHOT}.parquet/.json"
            return kept

        stage("snapshot", save_snapshot)
        analysis_path = work / "analysis.pkl"  # the pages' parameter; never written by the build

        def progress(name: str, seconds: float) -> None:
            log(f"[{seconds:7.2f} s]   analysis: {name}")

        results: list = []

        def analyse_stage() -> str:
            results.append(_analyse(str(snap), options, progress=progress, baseline=baseline,
                                    baseline_origin=baseline_origin, next_budget=next_budget,
                                    bounds=bounds))
            comp = results[0].comparison
            if comp is not None and comp.n_matched == 0:
                log("[   0.00 s]   baseline: no configuration is in both sweeps (the "
                    "hyperparameters' values differ); comparing best against best only")
            return ", ".join(f"{k} {v:.2f} s" for k, v in results[0].timings.items())

        stage("analysis", analyse_stage)
        result = results[0]

        def pages_stage() -> str:
            missing = [p.template for p in PAGES if not (TEMPLATES / f"{p.template}.ipynb").exists()]
            if missing:
                raise BuildError(f"page templates missing in {TEMPLATES}: {', '.join(missing)}")
            _IN_MEMORY[analysis_path.resolve()] = result
            try:
                for page in PAGES:
                    start = time.perf_counter()
                    execute(TEMPLATES / f"{page.template}.ipynb", project / f"{page.stem}.ipynb",
                            dict.fromkeys(PAGE_PARAMETERS, str(analysis_path)), cwd=work)
                    log(f"[{time.perf_counter() - start:7.2f} s]   page {page.stem}")
            finally:
                _IN_MEMORY.pop(analysis_path.resolve(), None)
            return f"{len(PAGES)} pages"

        stage("pages", pages_stage)
        stage("pairs", lambda: ", ".join(p.name for p in pairs.write_pairs(result, tmp / SNAPSHOT.parent))
              or None)
        stage("next", lambda: ", ".join(
            str(p.relative_to(tmp)) for p in next_files.write_next(result.next_sweep, tmp)))
        if result.comparison is not None:  # every matched configuration, for the page
            from sweepsight.reports.charts.comparison import MATCHED_FILE

            result.comparison.matched.to_csv(tmp / MATCHED_FILE, index=False)
        site_title = title or default_title(result)

        def summary_stage() -> str:
            text = summary.summary_markdown(result, title=site_title)
            (tmp / "summary.md").write_text(text, encoding="utf-8")
            return f"summary.md ({len(text):,} characters)"

        stage("summary", summary_stage)
        # the rest is made from the executed pages: the analysis (most of this process's
        # memory at 250k runs) goes before rendering them, the build's last peaks
        results.clear()
        result = None
        gc.collect()
        memory.trim()
        stage("bundle", lambda: str(render.write_vega_bundle(project).relative_to(project)))
        stage("render", lambda: render.render_site(
            project, tmp, pages=PAGES, title=site_title, renderer=renderer, log=log))
        stage("report", lambda: render.write_single_file(
            project, tmp / "report.html", pages=PAGES, title=site_title).name)
        shutil.rmtree(work)
        (tmp / SITE_MARKER).write_text("A sweepsight report site; the next build replaces the "
                                       f"files listed in {site_folder.MANIFEST}.\n")
        (tmp / LOCK).unlink()
        site_folder.write_manifest(tmp)

        def swap_stage() -> str:
            kept = swap(tmp, out, log)
            if kept:
                shown = ", ".join(kept[:10]) + (f" and {len(kept) - 10} more" if len(kept) > 10 else "")
                return f"{out}; kept {len(kept)} file(s) no build wrote: {shown}"
            return str(out)

        stage("swap", swap_stage)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        lock.close()
    return timings


def default_title(result: Analysis) -> str:
    """``Sweep report: <target> (<where the runs came from>)``."""
    query = result.table.meta.query or {}
    where = query.get("path") or query.get("experiment") or query.get("project") or result.table.meta.source
    if isinstance(where, (list, tuple)):
        where = ", ".join(map(str, where))
    if query.get("path"):
        where = Path(str(where)).name
    return f"Sweep report: {result.options.target} ({where})"
