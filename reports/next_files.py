"""The next sweep as files the trackers take: ``next/wandb-sweep.yaml``, ``next/optuna_space.json``
and ``next/configs.csv`` (from an :class:`analysis.next_sweep.NextSweep`).

- ``wandb-sweep.yaml``: a W&B sweep config (``method``, ``metric`` with its ``goal``,
  ``parameters`` with ``value``, ``values`` or ``min``/``max``/``distribution``), valid under
  the ``sweeps`` package's schema (what ``wandb.sweep`` checks a config against).
- ``optuna_space.json``: ``distributions`` in Optuna's own JSON form
  (``optuna.distributions.json_to_distribution`` reads each), ``fixed`` values, the
  ``conditions`` of conditional hyperparameters and the frontier as ``enqueue`` entries (the
  params of ``study.enqueue_trial``).
- ``configs.csv``: every configuration to run, with its runs, part, priority and reason.
"""
from __future__ import annotations

import json
import math
from typing import Any
from pathlib import Path

import pandas as pd
import yaml

from sweepsight.analysis.next_sweep import Action, Decision, NextSweep, Planned

FOLDER = "next"
WANDB_FILE = "wandb-sweep.yaml"
OPTUNA_FILE = "optuna_space.json"
CONFIGS_FILE = "configs.csv"

HEADER = ("# The next sweep suggested by sweepsight from this sweep's runs: a suggestion, not a "
          "result.\n# See next.html in the report for the evidence behind every value.\n")


def plain(value, integer: bool = False):
    """A JSON/YAML scalar: numpy numbers as Python ones, whole numbers of an integer
    hyperparameter as int."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and integer and value.is_integer():
        return int(value)
    return value


def _values(d: Decision) -> list:
    return [plain(v, d.integer) for v in d.values]


def wandb_parameter(d: Decision) -> dict:
    """One W&B sweep parameter for a decision."""
    if d.action is Action.FREEZE:
        return {"value": plain(d.values[0], d.integer)}
    if d.values or d.low is None or d.high is None:
        return {"values": _values(d)}
    if d.integer:
        lo, hi = int(math.floor(d.low)), int(math.ceil(d.high))
        if d.log and lo > 0:
            return {"distribution": "q_log_uniform_values", "min": lo, "max": hi, "q": 1}
        return {"distribution": "int_uniform", "min": lo, "max": hi}
    if d.log and d.low > 0:
        return {"distribution": "log_uniform_values", "min": float(d.low), "max": float(d.high)}
    return {"distribution": "uniform", "min": float(d.low), "max": float(d.high)}


def wandb_config(plan: NextSweep) -> dict:
    """The W&B sweep config (a dict; :func:`write_next` writes it as YAML)."""
    params = {d.param: wandb_parameter(d) for d in plan.decisions}
    for name, value in plan.fixed:
        params[name] = {"value": plain(value, True)}
    if plan.seed_param and plan.method == "grid" and plan.seed_param not in params:
        # a grid runs every cell once per seed value: this sweep's runs per configuration
        params[plan.seed_param] = {"values": list(range(plan.seeds_per_config))}
    return {"method": plan.method,
            "metric": {"name": plan.target, "goal": plan.direction},
            "parameters": params}


def optuna_distribution(d: Decision) -> dict:
    """Optuna's JSON form of a distribution (``distribution_to_json``'s)."""
    if d.values or d.low is None or d.high is None:
        return {"name": "CategoricalDistribution", "attributes": {"choices": _values(d)}}
    if d.integer:
        lo, hi = int(math.floor(d.low)), int(math.ceil(d.high))
        return {"name": "IntDistribution",
                "attributes": {"low": lo, "high": hi, "log": bool(d.log and lo > 0), "step": 1}}
    return {"name": "FloatDistribution",
            "attributes": {"low": float(d.low), "high": float(d.high),
                           "log": bool(d.log and d.low > 0), "step": None}}


def optuna_space(plan: NextSweep) -> dict:
    """The Optuna search space with the frontier to enqueue (a JSON-ready dict)."""
    by = {d.param: d for d in plan.decisions}
    fixed = {d.param: plain(d.values[0], d.integer) for d in plan.decisions
             if d.action is Action.FREEZE}
    fixed.update({name: plain(v, True) for name, v in plan.fixed})
    conditions = {}
    for d in plan.decisions:
        c = d.condition
        if c is None or c.parent not in by:
            continue
        from sweepsight.analysis.configs import format_value

        parent = by[c.parent]
        active = [plain(v, parent.integer) for v in (parent.values or ())
                  if format_value(v) in set(c.active_levels)]
        conditions[d.param] = {"parent": c.parent, "active_values": active}
    enqueue = [{"params": _active_params(f, by, fixed), "runs": f.seeds, "priority": f.priority}
               for f in plan.frontier]
    return {"direction": plan.direction, "metric": plan.target,
            "distributions": {d.param: optuna_distribution(d) for d in plan.decisions
                              if d.action is not Action.FREEZE},
            "fixed": fixed, "conditions": conditions, "enqueue": enqueue}


def _active_params(f: Planned, by: dict[str, Decision], fixed: dict) -> dict:
    return {p: plain(v, by[p].integer) for p, v in f.values
            if v is not None and p in by and p not in fixed}


def configs_frame(plan: NextSweep) -> pd.DataFrame:
    """Every configuration to run: ``part, priority, <params>, <fixed>, runs, reason, from,
    changed`` (an inactive hyperparameter is an empty cell)."""
    by = {d.param: d for d in plan.decisions}
    rows = []
    for c in plan.configs:
        row: dict[str, Any] = {"part": c.part.value, "priority": c.priority}
        row.update({p: plain(v, by[p].integer) if p in by else v for p, v in c.values})
        row.update({name: plain(v, True) for name, v in plan.fixed})
        row.update({"runs": c.seeds, "reason": c.reason.value if c.reason else "",
                    "from": c.origin or "", "changed": c.param or ""})
        rows.append(row)
    cols = ["part", "priority"] + list(by) + [n for n, _ in plan.fixed] + [
        "runs", "reason", "from", "changed"]
    return pd.DataFrame(rows, columns=cols)


def write_next(plan: NextSweep, site: Path) -> list[Path]:
    """Write the three files into ``site/next/``; returns their paths."""
    folder = Path(site) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    wandb_path, optuna_path, csv_path = (folder / WANDB_FILE, folder / OPTUNA_FILE,
                                         folder / CONFIGS_FILE)
    wandb_path.write_text(HEADER + yaml.safe_dump(wandb_config(plan), sort_keys=False),
                          encoding="utf-8")
    optuna_path.write_text(json.dumps(optuna_space(plan), indent=1) + "\n", encoding="utf-8")
    configs_frame(plan).to_csv(csv_path, index=False)
    return [wandb_path, optuna_path, csv_path]
