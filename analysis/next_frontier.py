"""The next sweep's configurations: the walk frontier, the seeds, and a design for the rest.

The frontier is the significance walk's loop automated: from each top configuration (the
best, those significantly better than a neighbour, and the best's neighbours not
significantly worse than it) one step along each hyperparameter that is not frozen, to the
configurations not yet run. The seeds are the reruns of the existing power solve
(:func:`analysis.significance.rerun_plan`). What the budget leaves goes to a grid or random
design over the narrowed space (seeded, so the same analysis gives the same plan).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from sweepsight.analysis.configs import format_value
from sweepsight.analysis.constants import BETTER, LEVEL_BINS, WORSE
from sweepsight.analysis.next_sweep import (Action, Decision, NextSweep, Part, Planned, Reason,
                                            Status)
from sweepsight.analysis.stats_tests import seeds_to_reach

#: Top configurations the frontier steps from.
MAX_TOP = 5
#: Neighbours of the best that a one-run sweep's rerun settles (as the rerun plan's rivals).
RIVALS = 3


def assemble(analysis, decisions: tuple[Decision, ...], *, budget: int,
             bounds: dict[str, tuple[float, float]]) -> NextSweep:
    """The :class:`NextSweep` of ``decisions``, filled up to ``budget`` runs."""
    prep, sig = analysis.prep, analysis.significance
    configs = sig.run_configs.sort_values("rank", kind="stable")
    per = max(1, int(round(float(pd.to_numeric(configs["n"]).median())))) if len(configs) else 1
    one_run = bool(len(configs)) and int(configs["n"].max()) < 2
    by = {d.param: d for d in decisions}
    seen = _run_keys(prep, list(by))
    frontier_all = _frontier(analysis, by, seen)
    seeds_all, capped = _seeds(analysis, by, one_run=one_run)
    left = budget
    frontier = []
    for f in frontier_all:
        if f.seeds <= left:
            frontier.append(f)
            left -= f.seeds
    seeds = []
    for s in seeds_all:
        take = min(s.seeds, left)
        if take <= 0:
            capped = capped or s.seeds > 0
            continue
        capped = capped or take < s.seeds
        seeds.append(Planned(part=Part.SEEDS, priority=s.priority, values=s.values, seeds=take,
                             origin=s.origin, status=s.status, have=s.have,
                             total=s.have + take))
        left -= take
    method = "grid" if all(not d.continuous for d in decisions) else "random"
    taken = seen | {_key(f.as_dict, list(by)) for f in frontier}
    design = _design(analysis, decisions, n=left // per, per=per, method=method, taken=taken)
    used = sum(p.seeds for p in frontier + seeds) + sum(p.seeds for p in design)
    pairs = tuple(sorted({(min(d.param, q), max(d.param, q)) for d in decisions for q in d.partners}))
    fixed: tuple[tuple[str, object], ...] = ()
    if prep.budget is not None and prep.budget in prep.runs:
        b = pd.to_numeric(prep.runs[prep.budget], errors="coerce")
        fixed = ((prep.budget, float(b.max())),)
    unmeasured = one_run or bool(sig.approximate) or method == "random"
    return NextSweep(
        target=prep.target, direction=prep.direction, decisions=decisions,
        frontier=tuple(frontier), frontier_all=tuple(frontier_all), seeds=tuple(seeds),
        seeds_all=tuple(seeds_all), design=tuple(design), budget=int(budget), used=int(used),
        method=method, seeds_per_config=per, pairs=pairs, fixed=fixed, seed_param=prep.seed,
        unmeasured=unmeasured, one_run=one_run, seeds_capped=bool(capped),
        bounds=tuple((k, float(v[0]), float(v[1])) for k, v in sorted(bounds.items())),
        this_runs=len(prep.runs))


def _key(values: dict, params: list[str]) -> tuple:
    return tuple(format_value(values.get(p)) for p in params)


def _run_keys(prep, params: list[str]) -> set[tuple]:
    cols = prep.runs[params].astype(object).to_numpy()
    return {tuple(format_value(v) for v in row) for row in cols}


def tops(analysis) -> list[tuple[pd.Series, Status]]:
    """The configurations the walk continues from, best first, with why each is on top."""
    sig = analysis.significance
    exact = sig.run_configs.sort_values("rank", kind="stable")
    if not len(exact):
        return []
    if sig.approximate or not sig.applicable or not len(sig.pairs):
        return [(exact.iloc[i], Status.BEST if i == 0 else Status.UNDECIDED)
                for i in range(min(3, len(exact)))]
    rows = exact.set_index("config_id", drop=False)
    best = exact["config_id"].iat[0]
    pairs = sig.pairs
    out: dict[str, Status] = {best: Status.BEST}
    mine = pairs[(pairs["config_id"] == best) & (pairs["verdict"].astype(str) != WORSE)]
    top_ids = set(exact["config_id"].head(10))
    better = pairs[pairs["config_id"].isin(top_ids) & (pairs["verdict"].astype(str) == BETTER)]
    for cid in better["neighbour_id"]:
        out.setdefault(str(cid), Status.BETTER)
    for cid in mine["neighbour_id"]:
        out.setdefault(str(cid), Status.UNDECIDED)
    order = sorted((c for c in out if c in rows.index), key=lambda c: int(rows.loc[c, "rank"]))
    return [(rows.loc[c], out[c]) for c in order[:MAX_TOP]]


def _frontier(analysis, by: dict[str, Decision], seen: set[tuple]) -> list[Planned]:
    params = list(by)
    per = analysis.significance.run_configs["n"]
    seeds = max(1, int(round(float(pd.to_numeric(per).median())))) if len(per) else 1
    found: dict[tuple, tuple] = {}
    order = {Status.BEST: 0, Status.BETTER: 1, Status.UNDECIDED: 2}
    share = {p: (d.share or 0.0) for p, d in by.items()}
    for t_rank, (row, status) in enumerate(tops(analysis)):
        start = _start(row, by)
        for p, d in by.items():
            if d.action is Action.FREEZE or start.get(p) is None:
                continue
            for value, reason in _steps(d, start[p]):
                cand = dict(start, **{p: value})
                cand = _conditions(cand, by)
                key = _key(cand, params)
                if key in seen or key in found:
                    continue
                rank = (order[status], t_rank, 0 if reason is Reason.EXTEND else 1, -share[p])
                found[key] = (rank, cand, reason, str(row["label"]), status, p)
    ranked = sorted(found.values(), key=lambda x: x[0])
    return [Planned(part=Part.FRONTIER, priority=i + 1,
                    values=tuple((p, cand.get(p)) for p in params), seeds=seeds, reason=reason,
                    origin=origin, status=status, param=p_)
            for i, (_, cand, reason, origin, status, p_) in enumerate(ranked)]


def _start(row: pd.Series, by: dict[str, Decision]) -> dict[str, object]:
    """A top configuration's values, frozen hyperparameters at their frozen value."""
    out: dict[str, object] = {}
    for p, d in by.items():
        v = row[p] if p in row.index else None
        v = None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
        if d.action is Action.FREEZE and v is not None:
            v = d.values[0]
        out[p] = _plain(v)
    return out


def _plain(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _steps(d: Decision, value) -> list[tuple[object, Reason]]:
    """The values one step from ``value`` in the next space of ``d``."""
    if not d.numeric:
        return [(v, Reason.UNRUN) for v in d.values if v != value]
    if not d.continuous:
        vals = sorted(float(v) for v in d.values)
        x = float(value)
        below = [v for v in vals if v < x]
        above = [v for v in vals if v > x]
        out = ([below[-1]] if below else []) + ([above[0]] if above else [])
        lo, hi = min(float(t) for t in d.tried), max(float(t) for t in d.tried)
        return [(v, Reason.EXTEND if (v > hi or v < lo) else Reason.UNRUN) for v in out]
    assert d.low is not None and d.high is not None and d.tried
    lo_t, hi_t = d.tried
    f, inv = ((math.log10, lambda x: 10.0 ** x) if d.log and value > 0 and d.low > 0
              else (float, float))
    step = (f(hi_t) - f(lo_t)) / (2 * LEVEL_BINS) if hi_t > lo_t else 0.0
    steps: list[tuple[object, Reason]] = []
    for sign in (-1.0, 1.0):
        v = inv(f(float(value)) + sign * step)
        v = float(round(v)) if d.integer else float(v)
        if d.low <= v <= d.high and v != value:
            steps.append((v, Reason.EXTEND if (v > hi_t or v < lo_t) else Reason.UNRUN))
    return steps


def _conditions(cand: dict, by: dict[str, Decision]) -> dict:
    """Switch conditional hyperparameters off (None) or on (at their next space's first
    value) as their parent's level says."""
    out = dict(cand)
    for p, d in by.items():
        c = d.condition
        if c is None or c.parent not in out:
            continue
        active = format_value(out[c.parent]) in set(c.active_levels)
        if not active:
            out[p] = None
        elif out[p] is None:
            out[p] = _plain(d.values[0]) if d.values else _mid(d)
    return out


def _mid(d: Decision) -> float:
    assert d.low is not None and d.high is not None
    if d.log and d.low > 0:
        v = 10.0 ** ((math.log10(d.low) + math.log10(d.high)) / 2)
    else:
        v = (d.low + d.high) / 2
    return float(round(v)) if d.integer else float(v)


def _seeds(analysis, by: dict[str, Decision], *, one_run: bool) -> tuple[list[Planned], bool]:
    """The reruns settling the top comparisons: the significance's rerun plan (power solve),
    or for a one-run sweep the fewest seeds with which the test can reach alpha for the best
    and its closest rivals."""
    sig = analysis.significance
    exact = sig.run_configs.sort_values("rank", kind="stable").set_index("config_id", drop=False)
    plan = sig.rerun_plan
    params = list(by)
    if plan is not None and not sig.approximate:
        ids, seeds, capped = list(plan.configs), int(plan.seeds), bool(plan.capped)
    elif one_run or sig.approximate:
        alpha, test = analysis.options.alpha, analysis.options.test
        seeds = int(seeds_to_reach(np.array([RIVALS]), alpha=alpha, test=test)[0])
        ids, capped = list(exact["config_id"].head(1 + RIVALS)), False
    else:
        return [], False
    out = []
    for i, cid in enumerate(ids):
        if cid not in exact.index:
            continue
        row = exact.loc[cid]
        have = int(row["n"])
        if seeds - have <= 0:
            continue
        values = tuple((p, _plain(row[p]) if p in row.index and pd.notna(row[p]) else None)
                       for p in params)
        out.append(Planned(part=Part.SEEDS, priority=i + 1, values=values, seeds=seeds - have,
                           origin=str(row["label"]), have=have, total=seeds,
                           status=Status.BEST if i == 0 else Status.UNDECIDED))
    return out, capped


def _design(analysis, decisions: tuple[Decision, ...], *, n: int, per: int, method: str,
            taken: set[tuple]) -> list[Planned]:
    """``n`` new configurations (``per`` runs each) over the narrowed space, none already
    run or on the frontier: the grid's cells (a seeded sample when it has more), or draws."""
    if n <= 0 or not decisions:
        return []
    params = [d.param for d in decisions]
    by = {d.param: d for d in decisions}
    rng = np.random.default_rng(analysis.options.random_state)
    cands: list[dict] = []
    if method == "grid":
        combos = itertools.product(*[[_plain(v) for v in d.values] for d in decisions])
        cells = [_conditions(dict(zip(params, c)), by) for c in combos]
        uniq: dict[tuple, dict] = {}
        for c in cells:
            uniq.setdefault(_key(c, params), c)
        cells = [c for k, c in uniq.items() if k not in taken]
        if len(cells) > n:
            cells = [cells[i] for i in sorted(rng.choice(len(cells), n, replace=False))]
        cands = cells
    else:
        for _ in range(20 * n):
            if len(cands) >= n:
                break
            c = _conditions({d.param: _draw(d, rng) for d in decisions}, by)
            k = _key(c, params)
            if k not in taken:
                taken = taken | {k}
                cands.append(c)
    return [Planned(part=Part.DESIGN, priority=i + 1,
                    values=tuple((p, c.get(p)) for p in params), seeds=per)
            for i, c in enumerate(cands)]


def _draw(d: Decision, rng: np.random.Generator):
    if d.values:
        return _plain(d.values[int(rng.integers(len(d.values)))])
    assert d.low is not None and d.high is not None
    if d.log and d.low > 0:
        v = 10.0 ** rng.uniform(math.log10(d.low), math.log10(d.high))
    else:
        v = rng.uniform(d.low, d.high)
    return float(round(v)) if d.integer else float(v)


__all__ = ["assemble"]
