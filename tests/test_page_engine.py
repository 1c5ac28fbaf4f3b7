"""The in-process papermill engine the pages run with (reports/page_engine.py): real papermill,
real notebooks, the outputs a kernel would have recorded."""
from __future__ import annotations

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from sweepsight.reports import page_engine


def notebook(tmp_path, *sources: str, parameters: str = "x = 0"):
    cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / "in.ipynb"
    kernelspec = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


def run(tmp_path, *sources: str, **parameters):
    out = tmp_path / "out.ipynb"
    page_engine.forget()
    papermill.execute_notebook(str(notebook(tmp_path, *sources)), str(out), parameters=parameters,
                               engine_name=page_engine.ENGINE, kernel_name="python3",  # no kernel starts
                               progress_bar=False)
    return nbformat.read(out, as_version=4)


def cell(nb, source: str):
    return next(c for c in nb.cells if c.source == source)


def outputs(nb, source: str) -> list[dict]:
    return [dict(o) for o in cell(nb, source).outputs]


def test_outputs_are_recorded_as_a_kernel_records_them(tmp_path):
    shows = ("from IPython.display import HTML, Markdown, display\n"
             "display(Markdown('**m**'))\nprint('between')\ndisplay(HTML('<b>h</b>'))")
    warns = "import sys\nprint('warned', file=sys.stderr)"
    nb = run(tmp_path, "print('a'); print('b')", shows, "x * 2", "y = 1", warns, x=21)
    assert nb.cells[1].source == "# Parameters\nx = 21\n"  # injected after the parameters cell
    assert outputs(nb, "print('a'); print('b')") == [
        {"output_type": "stream", "name": "stdout", "text": "a\nb\n"}]
    shown = outputs(nb, shows)
    assert [o["output_type"] for o in shown] == ["display_data", "stream", "display_data"]
    assert shown[0]["data"]["text/markdown"] == "**m**" and shown[2]["data"]["text/html"] == "<b>h</b>"
    result = outputs(nb, "x * 2")
    assert len(result) == 1 and result[0]["output_type"] == "execute_result"
    assert result[0]["data"]["text/plain"] == "42"
    assert outputs(nb, "y = 1") == []
    assert outputs(nb, warns) == [{"output_type": "stream", "name": "stderr", "text": "warned\n"}]


def test_an_error_stops_the_notebook_and_papermill_names_it(tmp_path):
    with pytest.raises(PapermillExecutionError) as info:
        run(tmp_path, "before = 1", "raise ValueError('boom')", "after = 1")
    assert info.value.ename == "ValueError" and info.value.evalue == "boom"
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    error = [o for o in outputs(nb, "raise ValueError('boom')") if o["output_type"] == "error"]
    assert error and "ValueError: boom" in "".join(error[0]["traceback"])
    assert outputs(nb, "after = 1") == [] and cell(nb, "after = 1").execution_count is None


def test_variables_do_not_leak_from_one_notebook_to_the_next(tmp_path):
    run(tmp_path, "leaked = 'from the first page'")
    with pytest.raises(PapermillExecutionError) as info:
        run(tmp_path, "leaked")
    assert info.value.ename == "NameError"


def test_ctrl_c_in_a_cell_stops_the_build(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "raise KeyboardInterrupt")


def test_a_build_inside_ipython_leaves_the_callers_shell_alone(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    caller = InteractiveShell.instance()
    try:
        nb = run(tmp_path, "from IPython.display import Markdown, display\ndisplay(Markdown('x'))")
        shown = outputs(nb, "from IPython.display import Markdown, display\ndisplay(Markdown('x'))")
        assert shown[0]["data"]["text/markdown"] == "x"  # recorded, not shown to the caller
        assert InteractiveShell.instance() is caller
    finally:
        InteractiveShell.clear_instance()


def test_nothing_is_written_into_the_users_home(tmp_path):
    """No ~/.ipython profile, no IPython history database (a throw-away profile, removed at exit)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    home = tmp_path / "home"
    home.mkdir()
    code = "from sweepsight.reports import page_engine as e; print(e.run_cell('6 * 7')[0][0]['data'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}, check=True)
    assert "'42'" in proc.stdout
    assert list(home.iterdir()) == []
