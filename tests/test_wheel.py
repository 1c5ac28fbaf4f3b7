"""sweepsight as users get it: the wheel built from this checkout, installed into a fresh venv,
run from a folder of another repository that has its own ``analysis/`` and ``reports/``
packages (whose ``__init__.py`` raise), with no ``PYTHONPATH``.

Needs ``uv`` (nox's venv backend; ``pip install uv``). The install comes from uv's cache when it
can (offline), else from PyPI. About a minute or two: marked ``slow`` (``nox -s tests`` runs it).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, write_sweep

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "digits_sweep.csv"
HEAVY = ("pandas", "pandera", "sklearn", "scipy", "statsmodels", "mlflow", "wandb", "altair",
         "papermill", "nbconvert")
PACKAGES = {"adapters": "sweepsight/adapters", "analysis": "sweepsight/analysis",
            "reports": "sweepsight/reports", "sweepsight": "sweepsight"}


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    uv = shutil.which("uv")
    if not uv:
        pytest.skip("uv not found: pip install uv (nox -s tests has it)")
    out = tmp_path_factory.mktemp("wheel")
    done = _run([uv, "build", "--wheel", "--out-dir", str(out), str(REPO)], timeout=600)
    if done.returncode != 0:  # no network and setuptools not in uv's cache
        done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                     "-w", str(out), str(REPO)], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = out.glob("sweepsight-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; returns its bin folder."""
    uv = shutil.which("uv")
    root = tmp_path_factory.mktemp("venv") / "env"
    done = _run([uv, "venv", "-q", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
                 str(root)], timeout=300)
    assert done.returncode == 0, done.stderr
    install = [uv, "pip", "install", "-q", "--python", str(root / "bin" / "python"), str(wheel)]
    done = _run([*install, "--offline"], timeout=900)
    if done.returncode != 0:  # something not in uv's cache: fetch it
        done = _run(install, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return root / "bin"


@pytest.fixture
def hostile(tmp_path) -> Path:
    """A user's repository: its own analysis/ and reports/ packages that raise on import."""
    repo = tmp_path / "user-repo"
    for name in ("analysis", "reports", "adapters"):
        (repo / name).mkdir(parents=True)
        (repo / name / "__init__.py").write_text(f"raise RuntimeError('the user\\'s {name} was imported')\n")
    return repo


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".nox" not in p and ".venv" not in p)
    return env


def test_the_wheel_holds_every_module_and_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not any(n.split("/")[0] in ("adapters", "analysis", "reports") for n in names)
    for folder, installed in PACKAGES.items():
        for path in (REPO / folder).rglob("*"):
            if "__pycache__" in path.parts or not path.is_file() or path.suffix == ".pyc":
                continue
            rel = path.relative_to(REPO / folder).as_posix()
            if folder == "reports" and rel.startswith("generated/"):
                continue
            assert f"{installed}/{rel}" in names, f"{folder}/{rel} is not in the wheel"
    for data in ("sweepsight/reports/analysis.ipynb", "sweepsight/reports/pages/overview.ipynb",
                 "sweepsight/reports/assets/sweepsight.html.j2",
                 "sweepsight/reports/quarto/_quarto.yml", "sweepsight/reports/quarto/sweepsight.scss"):
        assert data in names, data
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "sweepsight = sweepsight.reports.cli:main" in entry


def test_help_and_input_errors_load_nothing_heavy(venv, hostile):
    for args, code in ((["--help"], 0), ([], 2), (["--path", "missing.csv"], 2),
                       (["--source", "nope"], 2), (["--alpha", "3"], 2)):
        start = time.perf_counter()
        done = _run([str(venv / "python"), "-X", "importtime", "-m", "sweepsight", *args],
                    cwd=hostile, env=clean_env(), timeout=60)
        took = time.perf_counter() - start
        assert done.returncode == code, (args, done.stderr[-1000:])
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                    if line.startswith("import time:")}
        assert not imported & set(HEAVY), (args, sorted(imported & set(HEAVY)))
        assert not any(m.split(".")[0] in ("analysis", "reports", "adapters") for m in imported)
        messages = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
        if code == 2:
            assert len(messages) == 1 and messages[0].startswith("error: "), messages
        if not args:  # installed, with no sweep named: what to pass, not a missing example file
            assert messages[0].startswith("error: no sweep given: pass --path"), messages
        print(f"{' '.join(args)}: {took:.2f} s")
    done = _run([str(venv / "sweepsight"), "--help"], cwd=hostile, env=clean_env(), timeout=60)
    assert done.returncode == 0 and "--source" in done.stdout


def test_the_installed_tool_builds_two_sites_at_once_from_another_repository(venv, hostile):
    """The example sweep and a small synthetic one, built at the same time into two folders;
    nothing is written into the installed package."""
    package = next((venv.parent / "lib").glob("python*/site-packages/sweepsight"))
    before = sorted(p.relative_to(package) for p in package.rglob("*") if "__pycache__" not in p.parts)
    shutil.copyfile(EXAMPLE, hostile / "digits_sweep.csv")
    small = write_sweep(hostile / "small.csv", seeds=2)
    env = clean_env()
    cmds = {"site": [str(venv / "sweepsight"), "--source", "csv", "--path", "digits_sweep.csv",
                     "--target", "val_acc", "--out", "site", "--renderer", "nbconvert"],
            "other/site": [str(venv / "python"), "-m", "sweepsight", "--source", "csv", "--path",
                           str(small), "--target", "val_acc", "--out", "other/site",
                           "--renderer", "nbconvert"]}
    procs = {out: subprocess.Popen(cmd, cwd=hostile, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for out, cmd in cmds.items()}
    results = {out: p.communicate(timeout=1200) for out, p in procs.items()}
    for out, proc in procs.items():
        stdout, stderr = results[out]
        assert proc.returncode == 0, (out, stderr[-3000:])
        assert "Traceback" not in stderr
        site = hostile / out
        for name in ("index.html", "correlation.html", "linear.html", "importance.html",
                     "significance.html", "summary.md", "report.html", "assets/vega-bundle.js",
                     "data/sweep.parquet"):
            assert (site / name).is_file(), (out, name)
        assert "val\\_acc" in (site / "summary.md").read_text()  # markdown-escaped
        assert [p.name for p in site.parent.iterdir() if ".building-" in p.name] == []
        print(out, "\n", stdout)
    after = sorted(p.relative_to(package) for p in package.rglob("*") if "__pycache__" not in p.parts)
    assert after == before  # nothing written into the installed package
    assert re.search(r"1,197 of 1,200 runs", results["site"][0])
