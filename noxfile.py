"""Sessions: ``report`` builds the report site, ``tests`` runs the test suite,
``example`` reruns the bundled example sweep, ``bench`` writes benchmark numbers; opt-in
``lint`` (ruff + mypy) and ``minimum`` (the fast tests on the lowest allowed versions)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.10"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
# Keep each session's environment between runs: `install` reinstalls only when what it would
# install changes (pyproject.toml, the groups, the extras). The project is installed editable,
# so a change of code needs no reinstall. `nox -R`/`--reuse-venv=no` starts afresh.
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")
STAMP = ".sweepsight-installed"  # in the environment: what was installed there, as a digest


# Compile to bytecode at install: uv does not by default, and where PYTHONDONTWRITEBYTECODE is
# set nothing is ever cached, so every Python process recompiled pandas, scikit-learn, scipy
# and statsmodels (16 CPU seconds of imports per process here, 5.4 compiled).
# UV_COMPILE_BYTECODE=0 in the environment turns it off (the noxfile test does, for speed).
COMPILED = {"UV_COMPILE_BYTECODE": os.environ.get("UV_COMPILE_BYTECODE", "1")}


def install(session: nox.Session, *groups: str, extras: str = "mlflow,wandb") -> None:
    """The project with its tracker extras, plus the named dependency groups (compiled), unless
    the reused environment already holds exactly that (:data:`STAMP`)."""
    deps = [d for g in groups for d in nox.project.dependency_groups(PYPROJECT, g)]
    args = ["-e", f".[{extras}]", *deps]
    wanted = hashlib.sha256(json.dumps(
        [Path("pyproject.toml").read_text(encoding="utf-8"), args]).encode()).hexdigest()
    stamp = Path(session.virtualenv.location) / STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == wanted:
        session.log(f"reusing {session.virtualenv.location}: pyproject.toml and the packages "
                    "asked for are unchanged, nothing to install (nox -R to start afresh)")
        return
    stamp.unlink(missing_ok=True)  # a failed install must not look complete next time
    session.log("installing the project and its dependencies: about a minute the first time, "
                "then only when pyproject.toml changes")
    session.install(*args, env=COMPILED, silent=False)
    stamp.write_text(wanted + "\n", encoding="utf-8")


# wandb's sweep-config validation (what ``wandb.sweep`` checks a config against) lives in the
# ``sweeps`` package (``wandb[sweeps]``), which pins numpy<2 for its Bayesian search; its schema
# check needs only jsonschema and jsonref (the test group), so it is installed without its
# dependencies rather than let it downgrade numpy under the whole suite.
SWEEPS = "sweeps>=0.2.0,<1"


def install_sweeps(session: nox.Session) -> None:
    """The ``sweeps`` package without its dependencies (once: a reused environment keeps it)."""
    venv = Path(session.virtualenv.location)
    if not any(venv.glob("lib/python*/site-packages/sweeps-*.dist-info")):
        session.install("--no-deps", SWEEPS, env=COMPILED)


def ensure_chromium(session: nox.Session) -> None:
    """Install Debian's Chromium for the browser tests when it is missing and we may (root)."""
    if shutil.which("chromium"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.log("installing Debian's chromium for the browser tests (a minute or two, once)")
        session.run("apt-get", "update", "-qq", external=True, env=env)
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True, env=env)
    else:
        session.warn("chromium not found: the browser tests will be skipped "
                     "(install Debian's 'chromium' package to run them).")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest options after --)."""
    install(session, "test")
    install_sweeps(session)
    ensure_chromium(session)
    # Two workers, a test file per worker (its module fixtures, e.g. a built site, are made
    # once): most tests wait on a kernel, a server or a browser as much as they compute.
    workers = [] if any(a.startswith("-n") for a in session.posargs) else ["-n", "2", "--dist", "loadfile"]
    session.run("pytest", *workers, *session.posargs)


@nox.session(python="3.11")
def report(session: nox.Session) -> None:
    """Build the report site: ``nox -s report -- --source mlflow --experiment NAME``.

    With no arguments it builds the report of the bundled example sweep.
    """
    install(session)
    session.run("python", "-m", "reports", *session.posargs)


@nox.session(python="3.11", default=False)
def example(session: nox.Session) -> None:
    """Rerun the example sweep (minutes): ``nox -s example -- --out examples/digits_sweep.csv``."""
    install(session)
    session.run("python", "examples/digits_sweep.py", *session.posargs)


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: writes benchmarks/results/*.json and *.md."""
    install(session, "bench")
    session.run("python", "-m", "benchmarks", *session.posargs)


PACKAGES = ("adapters", "analysis", "reports")


@nox.session(python="3.11", default=False)
def lint(session: nox.Session) -> None:
    """ruff and mypy on adapters/, analysis/, reports/ and sweepsight/ (config: pyproject),
    with the project and its dependencies installed (pandas, scipy: their stubs) so that mypy
    sees their types instead of Any."""
    install(session, "lint")
    root = Path.cwd()
    session.run("ruff", "check", *PACKAGES, "sweepsight", "noxfile.py")
    # mypy sees the installed layout: sweepsight/ with the top-level packages linked inside
    tmp = Path(session.create_tmp()).resolve()
    tree = tmp / "typecheck"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "sweepsight").mkdir(parents=True)
    for name in ("__init__.py", "__main__.py"):
        shutil.copy(root / "sweepsight" / name, tree / "sweepsight" / name)
    for name in PACKAGES:
        (tree / "sweepsight" / name).symlink_to(root / name, target_is_directory=True)
    with session.chdir(tree):
        # the cache outside the tree rebuilt above: cold, the stubs take minutes; warm, seconds
        session.run("mypy", "--config-file", str(root / "pyproject.toml"), "--cache-dir",
                    str(tmp / "mypy-cache"), "-p", "sweepsight", *session.posargs)


@nox.session(python="3.11", default=False, venv_backend="uv")
def minimum(session: nox.Session) -> None:
    """The fast tests on the lowest versions pyproject allows for each direct dependency
    (``uv pip install --resolution lowest-direct``); pass pytest options after --."""
    deps = nox.project.dependency_groups(PYPROJECT, "test")
    # MLflow before 3.9 imports a pool class that SQLAlchemy 2.1 removed: an environment of
    # the MLflow floor's day holds SQLAlchemy 2.0 (a transitive pin, not ours to declare)
    era = ["sqlalchemy<2.1"]
    session.install("--resolution", "lowest-direct", "-e", ".[mlflow,wandb]", *deps, *era,
                    env=COMPILED)
    install_sweeps(session)
    session.run("pytest", "-m", "not browser and not server", *session.posargs)
