"""The noxfile's sessions keep their environments: a second ``nox -s report`` installs nothing,
and a change of pyproject.toml reinstalls. Run with the real nox and uv on a copy of the
checkout (the files git knows), so the checkout's own ``.nox`` is not touched."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

NOX = shutil.which("nox")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NOX is None or shutil.which("uv") is None,
                       reason="needs nox and uv on PATH (the README's "
                              "`python3 -m pip install nox uv`, which .ci/run does)"),
]


def _copy_checkout(to: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True,
                           text=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():  # a file deleted in the work tree but not yet in git is skipped
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, to / name, follow_symlinks=False)
    return to


def _nox_report(project: Path) -> str:
    env = {**os.environ, "UV_COMPILE_BYTECODE": "0"}  # no bytecode: the test's install is seconds
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([NOX, "-s", "report", "--", "--help"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_second_report_reuses_its_environment(tmp_path):
    project = _copy_checkout(tmp_path / "checkout")
    first = _nox_report(project)
    assert "installing the project" in first and "uv pip install" in first
    venv = project / ".nox" / "report"
    python = next(p for p in (venv / "bin" / "python", venv / "Scripts" / "python.exe") if p.exists())
    before = python.stat().st_ino

    second = _nox_report(project)
    assert "Reusing existing virtual environment" in second and "nothing to install" in second
    assert "uv pip install" not in second and "--source" in second  # the CLI still ran
    assert python.stat().st_ino == before  # the same environment, not a new one

    with open(project / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    third = _nox_report(project)
    assert "installing the project" in third and "uv pip install" in third
