"""Build the report site: snapshot -> analysis notebook -> page notebooks -> render -> swap.

The site is built in a temporary folder next to ``out`` and swapped into place only when every
stage succeeded; on failure the temporary folder is deleted and the old site is left untouched.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from sweepsight.adapters import snapshot
from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import RunTable

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "reports"
TEMPLATES = REPORTS / "pages"
ANALYSIS_NOTEBOOK = REPORTS / "analysis.ipynb"
GENERATED = REPORTS / "generated"  # git-ignored: the executed notebooks that Quarto renders
SNAPSHOT = Path("data") / "sweep"  # inside the site: data/sweep.parquet + data/sweep.json
SITE_MARKER = ".sweepsight-site"
# What the CLI passes to the notebooks (tests check them against papermill.inspect_notebook).
ANALYSIS_PARAMETERS = ("snapshot_path", "target", "direction", "metric_scale", "budget",
                       "at_budget", "alpha", "test", "analysis_path")
PAGE_PARAMETERS = ("analysis_path",)


@dataclasses.dataclass(frozen=True)
class Page:
    template: str  # reports/pages/<template>.ipynb
    stem: str  # <stem>.ipynb in reports/generated, <stem>.html in the site
    label: str  # navbar text


PAGES = (
    Page("overview", "index", "Overview"),
    Page("correlation", "correlation", "Correlation"),
    Page("linear", "linear", "Linear model"),
    Page("importance", "importance", "Importance"),
    Page("significance", "significance", "Significance"),
)


class BuildError(RuntimeError):
    """A stage of the build failed for a reason that is not the user's input (a bug)."""


def run_analysis(snapshot_path: str, *, target: str, direction: str | None = None,
                 metric_scale: str = "auto", budget: str | None = None,
                 at_budget: str | None = None, alpha: float = 0.05, test: str = "ks",
                 analysis_path: str) -> dict[str, float]:
    """Load the snapshot, run :func:`analysis.analyse` and pickle the result to ``analysis_path``.

    Called by ``reports/analysis.ipynb``; returns the per-analysis timings in seconds.
    """
    from sweepsight.analysis import analyse

    table = snapshot.load(snapshot_path)
    result = analyse(table, target=target, direction=direction or None,
                     metric_scale=metric_scale or "auto", budget=budget or None,
                     at_budget=at_budget or None, alpha=alpha,
                     test=test or "ks")
    path = Path(analysis_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)
    return dict(result.timings)


def load_analysis(path: str | Path):
    """The :class:`analysis.Analysis` pickled by :func:`run_analysis` (page notebooks use this)."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


@contextlib.contextmanager
def _repo_on_pythonpath() -> Iterator[None]:
    """Kernels started by papermill import ``adapters``/``analysis``/``reports`` from this repo."""
    old = os.environ.get("PYTHONPATH")
    parts = [str(REPO)] + ([old] if old else [])
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@contextlib.contextmanager
def _generated_lock() -> Iterator[None]:
    """One build at a time writes reports/generated (Quarto renders from that fixed folder)."""
    GENERATED.mkdir(parents=True, exist_ok=True)
    with open(GENERATED / ".lock", "w") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # Windows: no lock, builds must not overlap
            pass
        yield


def start_kernel(log_path: Path):
    """One Python kernel for the whole build (imports happen once, not once per page).

    Its own stdout/stderr (ipykernel's start-up chatter) go to ``log_path``; what the cells
    print stays in the executed notebooks. Stop it with :func:`stop_kernel`.
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
    try:
        run_sync(km.start_kernel)(cwd=str(REPO), stdout=log, stderr=log)
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
    finally:
        log.close()


def _reset(km) -> None:
    """Forget the previous notebook's variables (modules stay imported)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%reset -f")])
    NotebookClient(nb, km=km, kernel_name="python3").execute()
    km.close_clients()


def execute(notebook: Path, output: Path, parameters: dict, *, km=None) -> None:
    """Execute ``notebook`` with papermill (in kernel ``km`` when given, after a reset); a
    :class:`SweepError` raised inside comes back as one.

    Any other failure is a :class:`BuildError` naming the notebook and the executed copy.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    extra = {}
    if km is not None:
        _reset(km)
        extra["km"] = km
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, kernel_name="python3",
            cwd=str(REPO), progress_bar=False, log_output=False,
            request_save_on_cell_execute=False, **extra,
        )
    except PapermillExecutionError as exc:
        if exc.ename.rsplit(".", 1)[-1] == "SweepError":
            raise SweepError(str(exc.evalue)) from None
        raise BuildError(
            f"{notebook.relative_to(REPO) if notebook.is_relative_to(REPO) else notebook} failed: "
            f"{exc.ename}: {exc.evalue} (executed notebook kept at {output})"
        ) from None
    finally:
        if km is not None:
            km.close_clients()


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} is a file; pass a folder for the site.")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).exists():
        raise SweepError(
            f"--out {out} is a folder that does not hold a sweepsight site; the build replaces "
            "the whole folder, so pass a new or empty folder (or an earlier site)."
        )


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
) -> dict[str, float]:
    """Build the site for ``table`` (or an existing ``snapshot_path``) into ``out``.

    ``renderer``: ``"auto"`` (Quarto when on PATH, else nbconvert), ``"quarto"`` or
    ``"nbconvert"``. Returns the wall time of every stage in seconds.
    """
    from sweepsight.reports import pairs, render, summary

    if (table is None) == (snapshot_path is None):
        raise ValueError("pass exactly one of table and snapshot_path")
    out = Path(out).resolve()
    _prepare_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a site is meant to be read
    timings: dict[str, float] = {}

    def stage(name: str, fn: Callable[[], str | None]) -> None:
        start = time.perf_counter()
        detail = fn()
        timings[name] = time.perf_counter() - start
        log(f"[{timings[name]:7.2f} s] {name}" + (f": {detail}" if detail else ""))

    try:
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
            return f"{snap.relative_to(tmp)}.parquet/.json"

        stage("snapshot", save_snapshot)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_generated_lock())
            stack.enter_context(_repo_on_pythonpath())
            kernels: list = []
            stage("kernel", lambda: kernels.append(start_kernel(GENERATED / "kernel.log")))
            km = kernels[0]
            stack.callback(stop_kernel, km)  # on failure; on success stopped (and timed) below
            analysis_path = GENERATED / "analysis.pkl"
            analysis_path.unlink(missing_ok=True)

            def analyse_stage() -> str:
                parameters = {
                    "snapshot_path": str(snap), "target": target, "direction": direction,
                    "metric_scale": metric_scale, "budget": budget, "at_budget": at_budget,
                    "alpha": float(alpha),
                    "test": test, "analysis_path": str(analysis_path),
                }
                assert tuple(parameters) == ANALYSIS_PARAMETERS
                execute(ANALYSIS_NOTEBOOK, GENERATED / "_analysis.ipynb", parameters, km=km)
                result = load_analysis(analysis_path)
                return ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())

            stage("analysis", analyse_stage)

            def pages_stage() -> str:
                missing = [p.template for p in PAGES if not (TEMPLATES / f"{p.template}.ipynb").exists()]
                if missing:
                    raise BuildError(f"page templates missing in {TEMPLATES}: {', '.join(missing)}")
                for page in PAGES:
                    execute(TEMPLATES / f"{page.template}.ipynb", GENERATED / f"{page.stem}.ipynb",
                            dict.fromkeys(PAGE_PARAMETERS, str(analysis_path)), km=km)
                return f"{len(PAGES)} pages"

            stage("pages", pages_stage)
            pairs.write_pairs(load_analysis(analysis_path), tmp / SNAPSHOT.parent)  # data/pairs.csv
            stage("kernel shutdown", lambda: stop_kernel(km))
            render.write_vega_bundle(GENERATED)  # for Quarto (a listed resource)
            site_title = title or default_title(load_analysis(analysis_path))
            stage("render", lambda: render.render_site(
                GENERATED, tmp, pages=PAGES, title=site_title, renderer=renderer, log=log))

            def summary_stage() -> str:
                result = load_analysis(analysis_path)
                text = summary.summary_markdown(result, title=site_title)
                (tmp / "summary.md").write_text(text, encoding="utf-8")
                render.write_single_file(GENERATED, tmp / "report.html", pages=PAGES, title=site_title)
                return f"summary.md ({len(text):,} characters), report.html"

            stage("summary", summary_stage)
        (tmp / SITE_MARKER).write_text("A sweepsight report site; the next build replaces this folder.\n")
        stage("swap", lambda: (swap(tmp, out), str(out))[1])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
