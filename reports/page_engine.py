"""Run the page notebooks in the build's own process: a papermill engine over an IPython shell.

The build has already imported pandas, scikit-learn, statsmodels and the analysis; a Jupyter
kernel would import them all again in a second process (5-8 s of the example's build on 2
cores) and unpickle a second copy of the analysis. papermill still injects the parameters and
writes the executed notebook; this engine runs its code cells one after another in one
IPython shell and records what they show as a kernel would (``stream``, ``display_data``,
``execute_result``, ``error`` outputs), so Quarto and nbconvert render the notebooks as
before. Registered with papermill as ``sweepsight`` when this module is imported (not as a
``papermill.engine`` entry point: papermill loads those while it is itself being imported, and
this module imports papermill).
"""
from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import traceback

import nbformat
from papermill.engines import Engine, papermill_engines

ENGINE = "sweepsight"


class _Recorder:
    """The outputs of the cell being run, in the order they were made."""

    def __init__(self) -> None:
        self.outputs: list = []

    def stream(self, name: str, text: str) -> None:
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last.output_type == "stream" and last.name == name:
            last.text += text  # one output per run of writes, as a kernel sends them
        else:
            self.outputs.append(nbformat.v4.new_output("stream", name=name, text=text))


class _Stream:
    """``sys.stdout``/``sys.stderr`` while a cell runs: text goes to the cell's outputs."""

    def __init__(self, recorder: _Recorder, name: str) -> None:
        self.recorder, self.name = recorder, name

    def write(self, text: str) -> int:
        if text:
            self.recorder.stream(self.name, text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


_shell = None
_recorder = _Recorder()


def shell():
    """The one IPython shell the pages run in (made on first use; not the process-wide
    ``InteractiveShell.instance()``, so a build run from inside IPython leaves its shell alone)."""
    global _shell
    if _shell is None:
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, *args, **kwargs) -> None:
                _recorder.outputs.append(nbformat.v4.new_output(
                    "display_data", data=data, metadata=metadata or {}))

            def clear_output(self, wait: bool = False) -> None:
                _recorder.outputs.clear()

        class Hook(DisplayHook):
            """A cell's last expression as its ``execute_result`` (nothing printed)."""

            def start_displayhook(self) -> None:
                pass

            def write_output_prompt(self) -> None:
                pass

            def write_format_data(self, format_dict, md_dict=None) -> None:
                _recorder.outputs.append(nbformat.v4.new_output(
                    "execute_result", data=format_dict, metadata=md_dict or {},
                    execution_count=self.shell.execution_count if self.shell else None))

            def finish_displayhook(self) -> None:
                pass

        from IPython.core.profiledir import ProfileDir
        from traitlets.config import Config

        # No history database and no profile in the user's ~/.ipython: a throw-away profile
        config = Config()
        config.HistoryManager.enabled = False
        profile = tempfile.mkdtemp(prefix="sweepsight-ipython-")
        atexit.register(shutil.rmtree, profile, ignore_errors=True)
        _shell = InteractiveShell(config=config, display_pub_class=Publisher, ipython_dir=profile,
                                  profile_dir=ProfileDir.create_profile_dir(profile))
        # every MIME type, as a kernel's shell (a terminal's offers text/plain only)
        _shell.display_formatter.active_types = _shell.display_formatter.format_types
        _shell.displayhook = Hook(shell=_shell, cache_size=0)
        _shell.display_trap.hook = _shell.displayhook
    return _shell


def forget() -> None:
    """Forget the previous notebook's variables (modules stay imported)."""
    ns = shell().user_ns
    for name in [n for n in ns if not n.startswith("_") and n not in ("In", "Out", "get_ipython", "exit", "quit")]:
        del ns[name]


def run_cell(source: str) -> tuple[list, BaseException | None]:
    """Run one cell's ``source``: its outputs and the exception it raised (or None)."""
    from IPython.core.interactiveshell import InteractiveShell

    sh = shell()
    _recorder.outputs = []
    out, err = _Stream(_recorder, "stdout"), _Stream(_recorder, "stderr")
    # IPython.display.display publishes through the process-wide shell: ours while the cell
    # runs (and the caller's again after, when the build runs inside IPython)
    previous = InteractiveShell._instance if InteractiveShell.initialized() else None
    InteractiveShell._instance = sh
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = sh.run_cell(source, store_history=True, silent=False)
    finally:
        InteractiveShell._instance = previous
    error = result.error_before_exec or result.error_in_exec
    outputs = _recorder.outputs
    if error is not None:
        # IPython printed the traceback to stdout: keep it as the cell's error output instead
        outputs = [o for o in outputs if not (o.output_type == "stream" and o.name == "stdout")]
        outputs.append(nbformat.v4.new_output(
            "error", ename=type(error).__name__, evalue=str(error),
            traceback=traceback.format_exception(error)))
    return outputs, error


class InProcessEngine(Engine):
    """papermill engine: the notebook's code cells in this process's page shell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        for index, cell in enumerate(nb_man.nb.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs, error = run_cell(cell.source)
            cell.execution_count = shell().execution_count - 1
            if isinstance(error, KeyboardInterrupt):
                raise KeyboardInterrupt
            if error is not None:  # papermill raises it, naming the cell, after saving the notebook
                nb_man.cell_exception(cell, cell_index=index)
                break


papermill_engines.register(ENGINE, InProcessEngine)
