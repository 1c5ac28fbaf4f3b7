"""Build the report site: snapshot -> analysis notebook -> page notebooks -> render -> swap.

The site is built in a temporary folder next to ``out`` and swapped into place only when every
stage succeeded; on failure the temporary folder is deleted and the old site is left untouched.
The analysis runs in this process; the page notebooks run with papermill in one kernel, which
starts (and imports) while the analysis runs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from sweepsight.adapters import snapshot
from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import RunTable

PACKAGE = Path(__file__).resolve().parent  # reports/ in a checkout, sweepsight/reports installed
TEMPLATES = PACKAGE / "pages"
ANALYSIS_NOTEBOOK = PACKAGE / "analysis.ipynb"  # the analysis by hand; the build calls run_analysis
SNAPSHOT = Path("data") / "sweep"  # inside the site: data/sweep.parquet + data/sweep.json
BASELINE_SNAPSHOT = Path("data") / "baseline"  # the baseline compared with (--baseline)
SITE_MARKER = ".sweepsight-site"
WORK = ".sweepsight-work"  # inside the building folder (notebooks, pickle, Quarto project); removed before the swap
LOCK = ".sweepsight-building.lock"  # held (flock) by the build that owns a .<out>.building-* folder
# What the CLI passes to the notebooks (tests check them against papermill.inspect_notebook).
ANALYSIS_PARAMETERS = ("snapshot_path", "target", "direction", "metric_scale", "budget",
                       "at_budget", "alpha", "test", "analysis_path")
PAGE_PARAMETERS = ("analysis_path",)
# Imported by the kernel while the analysis runs in the build's own process: the page modules
# and the modules whose classes the pickled Analysis holds (sklearn, statsmodels).
KERNEL_PRELOAD = ("sweepsight.reports.charts", "sweepsight.reports.text", "sweepsight.analysis.prepare",
                  "sweepsight.analysis.correlation", "sweepsight.analysis.linear",
                  "sweepsight.analysis.forest", "sweepsight.analysis.importance",
                  "sweepsight.analysis.significance")


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
)


class BuildError(RuntimeError):
    """A stage of the build failed for a reason that is not the user's input (a bug)."""


def run_analysis(snapshot_path: str, *, target: str, direction: str | None = None,
                 metric_scale: str = "auto", budget: str | None = None,
                 at_budget: str | None = None, alpha: float = 0.05, test: str = "ks",
                 analysis_path: str, progress: Callable[[str, float], None] | None = None,
                 ) -> dict[str, float]:
    """Load the snapshot, run :func:`analysis.analyse` and pickle the result to ``analysis_path``.

    ``reports/analysis.ipynb`` runs it by hand (the build calls :func:`_analyse_and_pickle`);
    returns the per-analysis timings in seconds. ``progress(stage, seconds)`` is passed on to
    ``analyse`` when it takes one.
    """
    result = _analyse_and_pickle(
        snapshot_path, target=target, direction=direction, metric_scale=metric_scale,
        budget=budget, at_budget=at_budget, alpha=alpha, test=test, analysis_path=analysis_path,
        progress=progress)
    return dict(result.timings)


def _analyse_and_pickle(snapshot_path: str, *, target: str, direction: str | None,
                        metric_scale: str, budget: str | None, at_budget: str | None,
                        alpha: float, test: str, analysis_path: str,
                        progress: Callable[[str, float], None] | None,
                        baseline: RunTable | None = None, baseline_origin=None):
    """:func:`run_analysis`, returning the :class:`analysis.Analysis` itself; with a
    ``baseline`` run table, its ``comparison`` (analysis.compare) against it, and
    ``baseline_origin`` (an :class:`analysis.compare.BaselineOrigin`) on ``.baseline``."""
    from sweepsight.analysis import analyse

    table = snapshot.load(snapshot_path)
    extra = {}
    if progress is not None and "progress" in inspect.signature(analyse).parameters:
        extra["progress"] = progress
    result = analyse(table, target=target, direction=direction or None,
                     metric_scale=metric_scale or "auto", budget=budget or None,
                     at_budget=at_budget or None, alpha=alpha,
                     test=test or "ks", **extra)
    if baseline is not None:
        result.comparison = _compare(result, baseline, progress=progress)
    result.baseline = baseline_origin
    path = Path(analysis_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)
    return result


def _compare(result, baseline: RunTable, *, progress: Callable[[str, float], None] | None):
    """``result`` against the ``baseline`` table, analysed with the same options (its
    direction as its own report chose, so that different directions fail clearly)."""
    from sweepsight.analysis.compare import analyse_baseline, compare_sweeps

    start = time.perf_counter()
    o = result.options
    base = analyse_baseline(
        baseline, target=result.prep.target,
        direction=baseline.meta.report_options.get("direction") or o.get("direction") or None,
        metric_scale=o.get("metric_scale") or "auto", budget=o.get("budget") or None,
        at_budget=o.get("at_budget") or None, alpha=float(o.get("alpha", 0.05)),
        test=o.get("test") or "ks", random_state=int(o.get("random_state", 0)))
    comp = compare_sweeps(result, base, test=o.get("test") or "ks",
                          alpha=float(o.get("alpha", 0.05)),
                          random_state=int(o.get("random_state", 0)))
    result.timings["baseline"] = time.perf_counter() - start
    if progress is not None:
        progress("baseline", result.timings["baseline"])
    return comp


def load_analysis(path: str | Path):
    """The :class:`analysis.Analysis` pickled by :func:`run_analysis` (page notebooks use this)."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


def kernel_env() -> dict[str, str]:
    """The kernel's environment: ours, plus the repository root on ``PYTHONPATH`` only when
    ``sweepsight`` runs from a bare checkout (an installed package needs nothing)."""
    import sweepsight

    env = dict(os.environ)
    if not (Path(sweepsight.__file__).parent / "reports").is_dir():  # a checkout
        root = str(PACKAGE.parent)
        env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def start_kernel(log_path: Path, *, cwd: Path, preload: tuple[str, ...] = ()):
    """One Python kernel for every page (imports happen once, not once per page).

    It starts in ``cwd`` (the build's own folder, so a user's ``analysis/`` or ``reports/`` in
    the working folder is never on its path) and imports ``preload`` while it starts, which
    overlaps with the analysis running in this process. Its own stdout/stderr go to
    ``log_path``; what the cells print stays in the executed notebooks. Stop it with
    :func:`stop_kernel`.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    class SharedKernelManager(AsyncKernelManager):
        """Remembers the clients nbclient opens on it, so each can be closed after its notebook
        (nbclient leaves a kernel it does not own running, and its client open)."""

        def client(self, **kwargs):
            kc = super().client(**kwargs)
            self.__dict__.setdefault("_open_clients", []).append(kc)
            return kc

        def close_clients(self) -> None:
            clients = self.__dict__.get("_open_clients", [])
            while clients:
                clients.pop().stop_channels()

    km = SharedKernelManager(kernel_name="python3")
    km.__dict__["_log"] = log = open(log_path, "w")
    extra = [f"--IPKernelApp.exec_lines=import {', '.join(preload)}"] if preload else []
    try:
        run_sync(km.start_kernel)(cwd=str(cwd), stdout=log, stderr=log, env=kernel_env(),
                                  extra_arguments=extra)
    except BaseException:
        log.close()
        raise
    return km


def stop_kernel(km) -> None:
    """Shut the kernel down (a no-op when it already is)."""
    from jupyter_core.utils import run_sync

    log = km.__dict__.pop("_log", None)
    if log is None:
        return
    try:
        km.close_clients()
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # a dead kernel: nothing left to stop
        pass
    finally:
        log.close()


def _kernel_alive(km) -> bool:
    from jupyter_core.utils import run_sync

    try:
        return bool(run_sync(km.is_alive)())
    except Exception:
        return False


def execute(notebook: Path, output: Path, parameters: dict, *, km=None, cwd: Path | None = None) -> None:
    """Execute ``notebook`` with papermill (in kernel ``km`` when given, after a reset); a
    :class:`SweepError` raised inside comes back as one.

    Any other failure is a :class:`BuildError` naming the notebook and the executed copy; a
    kernel that died (killed for memory, crashed) is one too, in one line.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    extra = {}
    if km is not None:
        extra["km"] = km
    name = notebook.relative_to(PACKAGE.parent) if notebook.is_relative_to(PACKAGE.parent) else notebook
    try:
        if km is not None:
            _reset(km)
        papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, kernel_name="python3",
            cwd=str(cwd or output.parent), progress_bar=False, log_output=False,
            request_save_on_cell_execute=False, **extra,
        )
    except PapermillExecutionError as exc:
        if exc.ename.rsplit(".", 1)[-1] == "SweepError":
            raise SweepError(str(exc.evalue)) from None
        raise BuildError(
            f"{name} failed: {exc.ename}: {exc.evalue} (executed notebook kept at {output})"
        ) from None
    except (KeyboardInterrupt, SweepError, BuildError):
        raise
    except Exception as exc:
        if km is not None and not _kernel_alive(km):
            raise BuildError(
                f"the notebook kernel died while running {name} (killed by the system, for "
                f"example out of memory; {type(exc).__name__})") from None
        raise
    finally:
        if km is not None:
            km.close_clients()


# Forgets the previous page's variables (so a page cannot lean on another's by accident) while
# modules stay imported. Not ``%reset -f``: its full garbage collection over every imported
# module cost 1-2 s per page.
_FORGET = """\
_ns = get_ipython().user_ns
for _name in [n for n in _ns if not n.startswith("_") and n not in ("In", "Out", "get_ipython", "exit", "quit")]:
    del _ns[_name]
del _ns, _name
"""


def _reset(km) -> None:
    """Forget the previous notebook's variables (modules stay imported)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_FORGET)])
    NotebookClient(nb, km=km, kernel_name="python3").execute()
    km.close_clients()


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} is a file; pass a folder for the site.")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).exists():
        raise SweepError(
            f"--out {out} is a folder that does not hold a sweepsight site; the build replaces "
            "the whole folder, so pass a new or empty folder (or an earlier site)."
        )


def _building_folder(out: Path):
    """A new ``.<out>.building-*`` folder next to ``out`` and the open, locked file that marks
    it as in use; a folder or place we cannot write is the user's error, in one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
    except OSError as exc:
        raise SweepError(f"--out {out}: cannot create the site there ({exc.strerror or exc}); "
                         "pass a folder you can write to.") from None
    lock = open(tmp / LOCK, "w")
    _flock(lock, blocking=True)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a site is meant to be read
    return tmp, lock


def _flock(fh, *, blocking: bool) -> bool | None:
    """Lock ``fh`` exclusively: True when locked, False when another process holds it
    (non-blocking), None where files cannot be locked (Windows)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


STALE_YOUNG = 60  # seconds: a building folder younger than this is never cleaned
STALE_UNLOCKED = 24 * 3600  # a building folder whose lock cannot be asked, older than this, is stale


def clean_stale(out: Path) -> list[Path]:
    """Remove ``.<out>.building-*`` folders left by builds that were killed (SIGKILL, power loss).

    A running build holds the lock on its folder's lock file; the lock dies with its process,
    so a folder whose lock we can take is stale. Returns the folders removed.
    """
    removed = []
    for folder in out.parent.glob(f".{out.name}.building-*"):
        lock_path = folder / LOCK
        try:
            if time.time() - folder.stat().st_mtime < STALE_YOUNG:
                continue  # may be a build that is just starting (folder made, lock not yet taken)
            locked = None
            if lock_path.exists():
                with open(lock_path, "a") as fh:
                    locked = _flock(fh, blocking=False)
                if locked is False:
                    continue  # another build is working there
            if locked is None and time.time() - folder.stat().st_mtime < STALE_UNLOCKED:
                continue  # no lock to ask: just created, being swapped into place, or Windows
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def swap(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``tmp`` with renames, restoring ``out`` if that fails."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / "site")
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old / "site", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def build(
    *,
    out: str | Path,
    target: str,
    table: RunTable | None = None,
    snapshot_path: str | Path | None = None,
    direction: str | None = None,
    metric_scale: str = "auto",
    budget: str | None = None,
    at_budget: str | None = None,
    alpha: float = 0.05,
    test: str = "ks",
    title: str | None = None,
    renderer: str = "auto",
    log: Callable[[str], None] = print,
    baseline: RunTable | None = None,
    baseline_origin=None,
) -> dict[str, float]:
    """Build the site for ``table`` (or an existing ``snapshot_path``) into ``out``.

    ``renderer``: ``"auto"`` (Quarto when on PATH, else nbconvert), ``"quarto"`` or
    ``"nbconvert"``. Everything is made inside a ``.<out>.building-*`` folder next to ``out``
    (the site, and its ``.sweepsight-work`` folder: the executed notebooks, the pickled
    analysis and the Quarto project, removed before the swap), so builds into different
    folders run at the same time and nothing is written into the installed package.
    ``baseline``: a run table to compare with (``--baseline``; :mod:`analysis.compare`), kept
    in the site as ``data/baseline.parquet``/``.json``; ``baseline_origin``: where it came from,
    or why there is none (an :class:`analysis.compare.BaselineOrigin`, said on the comparison
    page and in summary.md).
    Returns the wall time of every stage in seconds.
    """
    from sweepsight.reports import pairs, render, summary

    if (table is None) == (snapshot_path is None):
        raise ValueError("pass exactly one of table and snapshot_path")
    try:
        out = Path(out).resolve()
    except OSError as exc:
        raise SweepError(f"--out {out}: {exc.strerror or exc}; pass a folder you can write to.") from None
    _prepare_out(out)
    tmp, lock = _building_folder(out)
    timings: dict[str, float] = {}

    def stage(name: str, fn: Callable[[], str | None]) -> None:
        start = time.perf_counter()
        detail = fn()
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
        with contextlib.ExitStack() as stack:
            kernels: list = []
            stage("kernel", lambda: kernels.append(
                start_kernel(work / "kernel.log", cwd=work, preload=KERNEL_PRELOAD))
                or "started; it imports the page modules while the analysis runs")
            km = kernels[0]
            stack.callback(stop_kernel, km)  # on failure; on success stopped (and timed) below
            analysis_path = work / "analysis.pkl"

            def progress(name: str, seconds: float) -> None:
                log(f"[{seconds:7.2f} s]   analysis: {name}")

            results: list = []

            def analyse_stage() -> str:
                results.append(_analyse_and_pickle(
                    str(snap), target=target, direction=direction, metric_scale=metric_scale,
                    budget=budget, at_budget=at_budget, alpha=float(alpha), test=test,
                    analysis_path=str(analysis_path), progress=progress, baseline=baseline,
                    baseline_origin=baseline_origin))
                comp = results[0].comparison
                if comp is not None and comp.n_matched == 0:
                    log("[   0.00 s]   baseline: no configuration is in both sweeps (the "
                        "hyperparameters' values differ); comparing best against best only")
                return ", ".join(f"{k} {v:.2f} s" for k, v in results[0].timings.items())

            stage("analysis", analyse_stage)

            def pages_stage() -> str:
                missing = [p.template for p in PAGES if not (TEMPLATES / f"{p.template}.ipynb").exists()]
                if missing:
                    raise BuildError(f"page templates missing in {TEMPLATES}: {', '.join(missing)}")
                for page in PAGES:
                    start = time.perf_counter()
                    execute(TEMPLATES / f"{page.template}.ipynb", project / f"{page.stem}.ipynb",
                            dict.fromkeys(PAGE_PARAMETERS, str(analysis_path)), km=km, cwd=work)
                    log(f"[{time.perf_counter() - start:7.2f} s]   page {page.stem}")
                return f"{len(PAGES)} pages"

            stage("pages", pages_stage)
            pairs.write_pairs(load_analysis(analysis_path), tmp / SNAPSHOT.parent)  # data/pairs.csv
            if results[0].comparison is not None:  # every matched configuration, for the page
                from sweepsight.reports.charts.comparison import MATCHED_FILE

                results[0].comparison.matched.to_csv(tmp / MATCHED_FILE, index=False)
            stage("kernel shutdown", lambda: stop_kernel(km))
        stage("bundle", lambda: str(render.write_vega_bundle(project).relative_to(project)))
        result = results[0]
        site_title = title or default_title(result)
        stage("render", lambda: render.render_site(
            project, tmp, pages=PAGES, title=site_title, renderer=renderer, log=log))

        def summary_stage() -> str:
            text = summary.summary_markdown(result, title=site_title)
            (tmp / "summary.md").write_text(text, encoding="utf-8")
            render.write_single_file(project, tmp / "report.html", pages=PAGES, title=site_title)
            return f"summary.md ({len(text):,} characters), report.html"

        stage("summary", summary_stage)
        shutil.rmtree(work)
        (tmp / SITE_MARKER).write_text("A sweepsight report site; the next build replaces this folder.\n")
        (tmp / LOCK).unlink()
        stage("swap", lambda: (swap(tmp, out), str(out))[1])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        lock.close()
    return timings


def default_title(result) -> str:
    """``Sweep report: <target> (<where the runs came from>)``."""
    query = result.table.meta.query or {}
    where = query.get("path") or query.get("experiment") or query.get("project") or result.table.meta.source
    if isinstance(where, (list, tuple)):
        where = ", ".join(map(str, where))
    if query.get("path"):
        where = Path(str(where)).name
    return f"Sweep report: {result.options.get('target')} ({where})"
