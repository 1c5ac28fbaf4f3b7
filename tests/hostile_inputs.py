"""Hostile inputs for ``tests/test_hostile.py``, generated (nothing downloaded): CSV files
written cell by cell (so that a header may repeat a name), wandb run folders written by the
real ``wandb`` library, and GitHub-flavoured markdown tricks for run-derived text."""
from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import numpy as np

LONG_VALUE = "x" * 10_000
#: Run names, values and hyperparameter names that GitHub would act on in a PR comment.
GFM_TRICKS = [
    "@octocat", "ping @github/security-team now", "cc:@a-b", "me@example.com", "#123",
    "fixes #7", "GH-12", "owner/repo#45", "see https://evil.example/x?y=1", "http://a.b",
    "www.example.org", "ftp://files.example", "mailto:x@y.z", ":rocket: :+1:",
    "deadbeef1234567", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "![i](http://x/y.png)", "<http://angle.example>", "`code` *star* _under_ ~~strike~~",
    "| pipe | cell |", "$x^2$", "[^1]", "> [!WARNING]", "<!-- c -->", "&lt;b&gt;",
    "a\u202eexe.txt", "\u2066iso\u2069 \u200fmark\u200e", "line\nbreak",
]
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

# What GitHub acts on in a comment (GFM spec extensions + GitHub's references), on raw text.
GITHUB_TRIGGERS = {
    "mention": re.compile(r"(?<![A-Za-z0-9`])@[A-Za-z0-9][A-Za-z0-9-]*"),
    "issue reference": re.compile(r"(?<![A-Za-z0-9&])#\d+|\bGH-\d+|[\w.-]+/[\w.-]+#\d+", re.IGNORECASE),
    "autolink": re.compile(r"\b(?:https?|ftp)://|\bwww\.|\b(?:mailto|xmpp):", re.IGNORECASE),
    "e-mail autolink": re.compile(r"[\w.+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+"),
    "emoji": re.compile(r":(?:[a-z0-9_+\-]*[a-z][a-z0-9_+\-]*|[+\-]1):", re.IGNORECASE),
    "bidi control": BIDI,
}


def write_rows(path: Path, header: list[str], rows: list[list], *, delimiter: str = ",") -> Path:
    """A CSV exactly as given (a header may name a column twice)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def grid(*, seeds: int = 3, random_state: int = 0) -> list[dict]:
    """lr x optimizer x seed runs; ``val_acc`` rises with log10(lr) (+0.02 a decade) and for adam
    (+0.05), noise 0.005."""
    rng = np.random.default_rng(random_state)
    runs = []
    for i, (lr, opt) in enumerate(itertools.product([1e-3, 1e-2, 1e-1], ["adam", "sgd"])):
        for s in range(seeds):
            acc = 0.8 + 0.02 * np.log10(lr) + (0.05 if opt == "adam" else 0) + rng.normal(0, 0.005)
            runs.append({"run_id": f"r{i}-{s}", "name": f"run-{i}-{s}", "lr": lr, "optimizer": opt,
                         "seed": s, "val_acc": round(float(acc), 6)})
    return runs


def write_sweep(path: Path, columns: dict[str, str] | list[tuple[str, str]], *,
                runs: list[dict] | None = None, delimiter: str = ",", edit=None) -> Path:
    """:func:`grid` runs as a CSV: ``columns`` maps each header to the run field it holds
    (as ``(header, field)`` pairs a header may repeat); ``edit(run_index, row)`` may change
    the row's cells first."""
    runs = runs or grid()
    pairs = list(columns.items()) if isinstance(columns, dict) else list(columns)
    header = [h for h, _ in pairs]
    rows = []
    for i, run in enumerate(runs):
        row = [run[field] for _, field in pairs]
        if edit is not None:
            row = edit(i, row)
        rows.append(row)
    return write_rows(path, header, rows, delimiter=delimiter)


def log_wandb(root: Path, runs: list[dict]) -> Path:
    """Offline runs written by the real wandb client under ``root``; each run dict has
    ``config``, ``log`` (one history row) and ``summary`` (set after logging)."""
    import wandb

    settings = wandb.Settings(silent=True, console="off", x_disable_stats=True,
                              x_disable_meta=True, x_disable_machine_info=True)
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
           "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true"}
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        for i, r in enumerate(runs):
            run = wandb.init(mode="offline", dir=root, project="hostile", config=r["config"],
                             name=f"run-{i}", reinit="create_new", settings=settings)
            run.log(r["log"])
            for k, v in r.get("summary", {}).items():
                run.summary[k] = v
            run.finish()
        wandb.teardown()  # flushes every log to disk
    return root / "wandb"


#: Credentials planted in a snapshot's sweep.json (tests/test_hostile_data.py): none may reach
#: the site.
SECRETS = ["s3cr3t-pw", "tok-9f8e7d", "hunter2-x", "k3y-abc123"]


def planted_tiny(*, seeds: int = 4, random_state: int = 0) -> tuple[list[str], list[list]]:
    """``(header, rows)``: lr x optimizer x seed runs whose ``val_acc`` is subnormal (around
    6e-311): it rises 0.1e-310 a decade of lr, seed noise 0.01e-310 (the effect is 10x the
    noise); the optimizer has no effect."""
    rng = np.random.default_rng(random_state)
    rows = []
    for i, (lr, opt) in enumerate(itertools.product([1e-3, 1e-2, 1e-1], ["adam", "sgd"])):
        for s in range(seeds):
            acc = (0.8 + 0.1 * np.log10(lr) + rng.normal(0, 0.01)) * 1e-310
            rows.append([f"r{i}-{s}", lr, opt, s, float(acc)])
    return ["run_id", "params.lr", "params.optimizer", "params.seed", "metrics.val_acc"], rows


def js_names(*, runs: int = 40, random_state: int = 1) -> tuple[list[str], list[list]]:
    """``(header, rows)``: hyperparameters named like members of JavaScript's Object.prototype
    (``constructor`` and ``toString`` matter; ``valueOf`` is categorical) beside ``lr`` and
    its look-alikes ``l<U+200B>r`` and ``<U+FEFF>lr`` (which all matter a little)."""
    rng = np.random.default_rng(random_state)
    names = ["constructor", "toString", "hasOwnProperty", "__proto__", "lr", "l\u200br", "\ufefflr"]
    rows = []
    for i in range(runs):
        v = {n: float(rng.choice([0.1, 0.2, 0.4])) for n in names}
        level = str(rng.choice(["constructor", "toString", "plain"]))
        acc = (0.5 + 0.3 * v["constructor"] + 0.1 * v["toString"] + 0.05 * (v["lr"] + v["l\u200br"])
               + 0.05 * v["\ufefflr"] + 0.02 * (level == "plain") + rng.normal(0, 0.005))
        rows.append([f"r{i}", *v.values(), level, round(acc, 6)])
    return ["run_id", *(f"params.{n}" for n in names), "params.valueOf", "metrics.acc"], rows


JS_NAMES = js_names()
