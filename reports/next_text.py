"""The next sweep (:class:`analysis.next_sweep.NextSweep`) in words, for its page and summary.md.

Every proposal says what it rests on and that it is a suggestion, not a result. Run-derived
names and values are escaped.
"""
from __future__ import annotations

import pandas as pd

from sweepsight.analysis.configs import format_value
from sweepsight.analysis.next_sweep import Action, Decision, NextSweep, Planned
from sweepsight.reports.format import number, percent, plural
from sweepsight.reports.next_files import CONFIGS_FILE, FOLDER, OPTUNA_FILE, WANDB_FILE
from sweepsight.reports.text import _esc, evidence_link

PAGE = "next.html"
#: The page's anchors (``<div id=...>``), the summary's links.
DECISIONS, FRONTIER, SEEDS, FILES = ("next-decisions", "next-frontier", "next-seeds",
                                     "next-files")
ACTION_WORDS = {Action.FREEZE: "freeze", Action.NARROW: "narrow", Action.EXTEND: "extend",
                Action.KEEP: "keep", Action.NEEDS_SEEDS: "needs seeds"}


def _vals(values) -> str:
    return ", ".join(_esc(format_value(v)) for v in values)


def _range(d: Decision) -> str:
    scale = " (on a log scale)" if d.log else ""
    return f"{_esc(format_value(d.low))} to {_esc(format_value(d.high))}{scale}"


def next_space(d: Decision) -> str:
    """What the next sweep tries for ``d``: its values or its range."""
    if d.action is Action.FREEZE:
        return _vals(d.values)
    return _vals(d.values) if d.values or d.low is None else _range(d)


def tried(d: Decision) -> str:
    if d.continuous and len(d.tried) == 2:
        return f"{_esc(format_value(d.tried[0]))} to {_esc(format_value(d.tried[1]))}"
    return _vals(d.tried)


def _share(d: Decision) -> str:
    if d.share is None:
        return ""
    floor = "" if d.noise_floor is None else f" against a noise floor of {percent(d.noise_floor)}"
    return f"main effect {percent(d.share)}{floor}"


def decision_sentence(d: Decision) -> str:
    """One hyperparameter's decision and its evidence, in one Markdown sentence (no link)."""
    name, share = f"**{_esc(d.param)}**", _share(d)
    if d.action is Action.FREEZE:
        text = (f"{name}: freeze at {next_space(d)} (the best configuration's value): its "
                f"{share} stays under half of it, so no value was shown to matter.")
    elif d.action is Action.EXTEND:
        way = "upward" if d.direction == "up" else "downward"
        edge = "highest" if d.direction == "up" else "lowest"
        spacing = "log" if d.log else "linear"
        text = (f"{name}: extend {way} to {next_space(d)}: the best value is the {edge} tried "
                f"and the metric still improves there ({share}); the new values continue the "
                f"tried {spacing} spacing.")
        if d.bounded:
            text += " They stop at the bound given."
    elif d.action is Action.NARROW:
        gone = f" (dropped: {_vals(d.dropped)})" if d.dropped else ""
        text = (f"{name}: narrow to {next_space(d)}{gone}: the other values are worse than the "
                f"best beyond their 95% intervals ({share}).")
    elif d.action is Action.NEEDS_SEEDS:
        text = (f"{name}: needs seeds: its {share or 'effect'} cannot be told from noise with "
                f"the seeds run, so it is kept at {next_space(d)} rather than frozen.")
    elif d.partners:
        text = (f"{name}: keep {next_space(d)}: it interacts with "
                f"{_vals(d.partners)} above noise, so the pair is kept together, not frozen one "
                "by one.")
    else:
        text = f"{name}: keep {next_space(d)} ({share}; no value is clearly worse)."
        if d.bounded:
            text += " The best value sits at the bound given, so it is not extended."
    if d.condition is not None:
        text += f" It stays conditional: {_esc(d.condition.describe())}."
    return text


def decisions_lines(plan: NextSweep) -> list[str]:
    """Every decision as a bullet with a link to the finding it comes from."""
    return [f"- {decision_sentence(d)} → {evidence_link(d.evidence)}" for d in plan.decisions]


def honesty(plan: NextSweep) -> str:
    """What the plan rests on, said first."""
    text = (f"This is a suggestion, not a result: it rests on this sweep's "
            f"{plural(plan.this_runs, 'run')} and their analysis. Values past the tried range "
            "are guesses from the trend at its edge.")
    if plan.unmeasured:
        text += (" This sweep did not cover its space evenly (random or steered search, or one "
                 "run per configuration): regions it did not sample were not measured, and "
                 "nothing here says they are worse.")
    if plan.bounds:
        text += " Bounds given: " + "; ".join(
            f"{_esc(n)} from {number(lo)} to {number(hi)}" for n, lo, hi in plan.bounds) + "."
    return text


def _runs(part: tuple[Planned, ...]) -> int:
    return sum(p.seeds for p in part)


def budget_sentence(plan: NextSweep) -> str:
    """How the budget was shared out: frontier, seeds, design."""
    f, s, d = _runs(plan.frontier), _runs(plan.seeds), _runs(plan.design)
    design = "grid" if plan.method == "grid" else "random"
    text = (f"Budget: {plural(plan.budget, 'run')} (`--next-budget`; the default is this "
            f"sweep's size). Frontier first: {plural(f, 'run')} "
            f"({plural(len(plan.frontier), 'configuration')}); then seeds: {plural(s, 'run')}; "
            f"then a narrowed {design} design: {plural(d, 'run')} "
            f"({plural(len(plan.design), 'configuration')} × {plan.seeds_per_config}).")
    if len(plan.frontier) < len(plan.frontier_all):
        text += f" {plural(len(plan.frontier_all) - len(plan.frontier), 'frontier configuration')} did not fit."
    if plan.seeds_capped:
        text += " The seeds the power solve asks for did not all fit."
    if plan.used < plan.budget:
        text += (f" {plural(plan.budget - plan.used, 'run')} left unplanned: the narrowed "
                 "space has no more new configurations.")
    return text


def _change(p: Planned) -> str:
    v = p.as_dict.get(p.param) if p.param else None
    return f"{p.param}={format_value(v)}" if p.param else ""


def frontier_frame(plan: NextSweep) -> pd.DataFrame:
    """The frontier the budget took, highest priority first."""
    return pd.DataFrame({
        "priority": [p.priority for p in plan.frontier],
        "change": [_change(p) for p in plan.frontier],
        "from": [p.origin or "" for p in plan.frontier],
        "from is": [p.status.value if p.status else "" for p in plan.frontier],
        "why": [p.reason.value if p.reason else "" for p in plan.frontier],
        "runs": [p.seeds for p in plan.frontier]})


def seeds_frame(plan: NextSweep) -> pd.DataFrame:
    return pd.DataFrame({
        "configuration": [p.origin or "" for p in plan.seeds],
        "is": [p.status.value if p.status else "" for p in plan.seeds],
        "runs so far": [p.have for p in plan.seeds],
        "new runs": [p.seeds for p in plan.seeds],
        "runs then": [p.have + p.seeds for p in plan.seeds]})


def frontier_sentence(plan: NextSweep) -> str:
    if not plan.frontier_all:
        return ("The walk frontier is empty: every configuration one step from the top ones "
                "(in the next space) has been run.")
    return ("The walk frontier: configurations not yet run one step from a top configuration "
            "(the best, one significantly better than a neighbour, or a neighbour of the best "
            "not significantly worse than it), the best's first; steps past the tried range "
            "first within each.")


def seeds_sentence(plan: NextSweep) -> str:
    if not plan.seeds_all:
        return "No reruns are needed to settle the top comparisons (or none can be planned)."
    if plan.one_run:
        return ("Each configuration was run once: these reruns give the best configuration and "
                "its closest rivals the fewest seeds with which the test can reach significance.")
    return ("Reruns that would settle the best configuration against its closest unsettled "
            "neighbours: the seeds the power solve gives (80% power for the observed "
            "differences, Holm-adjusted).")


def files_lines(prefix: str = "") -> list[str]:
    """Links to the three files (``prefix``: the site's path from where they are read)."""
    base = f"{prefix}{FOLDER}/"
    return [f"- [{WANDB_FILE}]({base}{WANDB_FILE}): `wandb sweep {FOLDER}/{WANDB_FILE}`",
            f"- [{OPTUNA_FILE}]({base}{OPTUNA_FILE}): an Optuna search space and the frontier "
            "to `enqueue_trial`",
            f"- [{CONFIGS_FILE}]({base}{CONFIGS_FILE}): every configuration with its runs"]


def summary_lines(plan: NextSweep, *, limit: int = 15) -> list[str]:
    """The summary.md section: at most ``limit`` lines, with links to the page."""
    counts: dict[Action, list[str]] = {}
    for d in plan.decisions:
        counts.setdefault(d.action, []).append(d.param)
    lines = ["## Next sweep", "",
             f"A suggestion, not a result ([the page]({PAGE}#{DECISIONS}) gives the evidence): "
             f"{plural(plan.used, 'run')} of a budget of {plan.budget:,}."]
    for action in (Action.EXTEND, Action.NARROW, Action.FREEZE, Action.NEEDS_SEEDS, Action.KEEP):
        names = counts.get(action, [])
        if names:
            lines.append(f"- {ACTION_WORDS[action]}: " + ", ".join(_esc(n) for n in names[:6])
                         + (f" and {len(names) - 6} more" if len(names) > 6 else ""))
    lines.append(f"- frontier: {plural(len(plan.frontier), 'configuration')}, seeds: "
                 f"{plural(_runs(plan.seeds), 'run')}, {plan.method} design: "
                 f"{plural(len(plan.design), 'configuration')} "
                 f"([frontier]({PAGE}#{FRONTIER}), [seeds]({PAGE}#{SEEDS}))")
    if plan.unmeasured:
        lines.append("- regions this sweep did not sample were not measured")
    lines.append(f"- files: [{WANDB_FILE}]({FOLDER}/{WANDB_FILE}), "
                 f"[{OPTUNA_FILE}]({FOLDER}/{OPTUNA_FILE}), "
                 f"[{CONFIGS_FILE}]({FOLDER}/{CONFIGS_FILE})")
    return lines[:limit]


__all__ = ["budget_sentence", "decision_sentence", "decisions_lines", "files_lines",
           "frontier_frame", "frontier_sentence", "honesty", "seeds_frame", "seeds_sentence",
           "summary_lines"]
