"""Did this change make the sweep better? A sweep compared with a baseline sweep.

Three views, all pure and typed: **matched configurations** (the same values of the
hyperparameters both sweeps analyse) tested run against run with the neighbour view's tests
(:func:`analysis.stats_tests.pair_tests`), Holm across the matched configurations and
Benjamini-Hochberg across the table; **best against best** (each sweep's best configuration,
and its best well-replicated one); **what moved** (main-effect shares and best levels per
hyperparameter on both sides). Differences are current minus baseline.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.best import Config
from sweepsight.analysis.grouping import n_groups
from sweepsight.analysis.configs import group_configs, replicated_best
from sweepsight.analysis.constants import (BETTER, CANNOT_TELL, NOT_SIGNIFICANT, NOT_TESTABLE,
                                           TEST_P_COLUMNS, VERDICTS, WORSE)
from sweepsight.analysis.options import ALPHA, N_BOOT, RANDOM_STATE, TEST, AnalysisOptions
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.scale import times_ten, tiny_power
from sweepsight.analysis.stats_tests import (benjamini_hochberg, holm, min_attainable_p,
                                             pair_tests, seeds_to_reach)

if TYPE_CHECKING:
    from sweepsight.adapters.schema import RunTable

#: Columns of :attr:`Comparison.matched` besides one per shared hyperparameter.
MATCHED_COLUMNS = [
    "label", "n_baseline", "n_current", "mean_baseline", "mean_current", "diff", "diff_ci_low",
    "diff_ci_high", "mean_raw_baseline", "mean_raw_current", "diff_raw", "diff_raw_ci_low",
    "diff_raw_ci_high", "cliffs_delta", "ks_p",
    "t_p", "mw_p", "p_holm", "p_bh", "min_attainable_p", "min_adjusted_p", "seeds_to_reach",
    "verdict",
]


@dataclasses.dataclass(frozen=True)
class BestAgainstBest:
    """One sweep's best configuration against the other's, current minus baseline.

    ``kind``: ``"best"`` (best mean of each sweep) or ``"replicated"`` (best among each sweep's
    configurations with its typical number of runs). ``p``: the chosen test's p-value (one
    comparison, not adjusted); ``verdict`` from the current side's point of view.
    ``winners_curse``: a side's best has fewer runs than its sweep's typical number or fewer
    than 3, so its mean is likely flattered by being picked as the best.
    """

    kind: str
    current: Config
    baseline: Config
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    diff_raw: float
    cliffs_delta: float
    ks_p: float
    t_p: float
    mw_p: float
    p: float
    min_attainable_p: float
    verdict: str
    winners_curse: bool


@dataclasses.dataclass(frozen=True)
class Moved:
    """One hyperparameter's main effect and best level in both sweeps (None: not analysed on
    that side). ``moved``: analysed on both sides, above noise on at least one, and the best
    levels differ (a flat hyperparameter's best level is noise and never counts)."""

    param: str
    share_current: float | None
    share_baseline: float | None
    best_current: str | None
    best_baseline: str | None
    above_noise_current: bool | None
    above_noise_baseline: bool | None
    moved: bool


@dataclasses.dataclass(frozen=True)
class LevelShift:
    """Where the change acts: the matched configurations at one level of a shared
    hyperparameter, their differences of means (current - baseline) tested against 0 with the
    Wilcoxon signed-rank test over configurations (scipy's; each configuration's runs are
    independent of the others'). ``p_holm``: Holm over every (param, level) row; ``verdict`` as
    for a matched configuration ("cannot tell" when even ``n`` configurations all moving the
    same way could not reach alpha after Holm: the exact floor is 2 / 2**n).

    ``param_p_holm``: whether the change differs between the levels of ``param`` at all
    (Kruskal-Wallis over its levels' differences, Holm over the hyperparameters; NaN with one
    level); ``acts``: it does (below alpha), so the change acts through ``param``. A change
    confined to ``solver=adam`` shifts every level of the other hyperparameters too (each holds
    adam configurations), alike: only ``solver`` acts."""

    param: str
    level: str
    n: int
    median_diff: float
    mean_diff: float
    p: float
    p_holm: float
    verdict: str
    param_p_holm: float = float("nan")
    acts: bool = False


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A sweep (current) compared with a baseline sweep; differences are current - baseline.

    ``shared``: hyperparameters analysed on both sides (the matching keys, with the budget
    when both have one); ``only_current``/``only_baseline``: analysed on one side only (their
    values are pooled within a matched configuration). ``scale``: the scale of the tests and
    differences (``"raw"`` when the two analysis scales differ or either is ranks).
    ``matched``: one row per matched configuration (columns :data:`MATCHED_COLUMNS` plus the
    shared hyperparameters), most significant first; ``verdict`` as in the neighbour view
    (better / worse for the current side, "cannot tell" when no outcome could reach ``alpha``
    after Holm over the tested matched configurations). ``counts``: verdict -> number, every
    verdict present. ``seeds_needed``: the fewest seeds per side with which the test could
    reach alpha after Holm over the matched configurations (None without any). ``best`` /
    ``replicated``: best against best (``replicated`` None when neither sweep's best lacks
    runs). ``moved``: per hyperparameter in either sweep. ``shifts``: see :class:`LevelShift`.
    """

    target: str
    direction: str
    test: str
    alpha: float
    scale: str
    shared: tuple[str, ...]
    only_current: tuple[str, ...]
    only_baseline: tuple[str, ...]
    n_configs_current: int
    n_configs_baseline: int
    matched: pd.DataFrame
    counts: dict[str, int]
    n_tested: int
    seeds_needed: int | None
    best: BestAgainstBest | None
    replicated: BestAgainstBest | None
    moved: tuple[Moved, ...]
    notes: tuple[str, ...]
    #: per level of each shared hyperparameter, the matched configurations' shift
    shifts: tuple[LevelShift, ...] = ()
    #: the baseline as analysed, when given as a :class:`BaselineSweep` (its neighbour walk)
    baseline_sweep: BaselineSweep | None = None

    @property
    def n_matched(self) -> int:
        return len(self.matched)


@dataclasses.dataclass(frozen=True)
class BaselineOrigin:
    """Where the baseline came from, as the report says it (``--baseline``). ``kind``:
    ``"snapshot"`` (``where``: its path, relative), ``"source"`` (loaded from a tracker with
    its own options) or ``"missing"`` (none was found; ``where``: why). ``source``/``query``:
    the tracker its runs were loaded from and the query, without credentials; ``runs``: rows."""

    kind: str
    where: str
    source: str = ""
    query: str = ""
    runs: int = 0


@dataclasses.dataclass(frozen=True)
class BaselineSweep:
    """What the comparison needs of a baseline: its prepared runs, main effects and levels,
    and its neighbour tests for the comparison page's walk over the baseline
    (:func:`analyse_baseline`; cheaper than a whole :class:`analysis.Analysis`). ``options``:
    what it was analysed with, as :attr:`analysis.Analysis.options`."""

    prep: Prepared
    importance: object
    levels: object
    significance: object = None
    options: AnalysisOptions | None = None


def analyse_baseline(table: RunTable, options: AnalysisOptions | None = None, *,
                     n_jobs: int | None = -1, neighbours: bool = True,
                     **given: Any) -> BaselineSweep:
    """Prepare a baseline run table and compute its main effects, levels and (``neighbours``)
    neighbour tests, with ``options`` (or its fields as keywords, as :func:`analysis.analyse`
    takes them); no forest. Raises :class:`SweepError` naming the baseline when it lacks the
    target."""
    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.levels import level_effects
    from sweepsight.analysis.prepare import prepare

    o = AnalysisOptions.of(options, **given)
    if o.target not in table.metrics:
        have = ", ".join(table.metrics[:5]) or "none"
        raise SweepError(f"--baseline: the baseline has no metric {o.target!r} (its metrics: "
                         f"{have}); pass a baseline sweep that logs {o.target}.")
    prep = prepare(table, **o.for_prepare())
    importance = get_param_importances(prep, **o.for_importance(), n_jobs=n_jobs)
    sig = None
    if neighbours:
        from sweepsight.analysis.significance import compare_neighbours

        sig = compare_neighbours(prep, **o.for_significance())
    return BaselineSweep(prep=prep, importance=importance,
                         levels=level_effects(prep, importance=importance, **o.for_levels()),
                         significance=sig, options=o)


def _parts(x):
    """(Prepared, Analysis or None) of an Analysis or a Prepared."""
    if isinstance(x, Prepared):
        return x, None
    prep = getattr(x, "prep", None)
    if not isinstance(prep, Prepared):
        raise TypeError(f"compare_sweeps takes an Analysis or a Prepared, not {type(x).__name__}")
    return prep, x


def compare_sweeps(current, baseline, *, test: str = TEST, alpha: float = ALPHA,
                   n_boot: int = N_BOOT, random_state: int = RANDOM_STATE) -> Comparison:
    """Compare ``current`` with ``baseline`` (each an :class:`analysis.Analysis`, a
    :class:`BaselineSweep` or a :class:`analysis.prepared.Prepared`); see :class:`Comparison`.

    Raises :class:`SweepError` when the two sweeps explain different targets or optimise in
    different directions. ``test``: ``"ks"``, ``"welch"`` or ``"mannwhitney"`` (all three
    p-values are always given); ``alpha``: the level, and 1 - the bootstrap intervals' level.
    """
    if test not in TEST_P_COLUMNS:
        raise SweepError(f"compare: unknown test {test!r}; valid tests: "
                         f"{', '.join(TEST_P_COLUMNS)}.")
    if not 0 < alpha < 1:
        raise SweepError(f"compare: alpha={alpha!r} must be between 0 and 1 (e.g. 0.05)")
    cur, cur_a = _parts(current)
    base, base_a = _parts(baseline)
    if cur.target != base.target:
        raise SweepError(f"--baseline: the baseline explains {base.target!r}, this sweep "
                         f"{cur.target!r}; compare sweeps of one metric (pass --target "
                         f"{base.target} or a baseline that logs {cur.target}).")
    if cur.direction != base.direction:
        raise SweepError(f"--baseline: the baseline {base.direction}s {cur.target}, this sweep "
                         f"{cur.direction}s it; pass the same --direction to both.")
    notes: list[str] = []
    scale = cur.metric_scale
    if cur.metric_scale != base.metric_scale or "rank" in (cur.metric_scale, base.metric_scale):
        scale = "raw"
        notes.append(f"{cur.target} is compared as logged: the two sweeps were analysed on "
                     f"different scales ({cur.metric_scale} and {base.metric_scale}) or on "
                     "ranks, which do not carry from one sweep to the other.")
    if scale == "raw":  # both as logged, each times its own power of ten: one power for both
        cur, base = _one_power(cur, base)
    shared = [p for p in cur.params if p in base.params]
    only_cur = tuple(p for p in cur.params if p not in base.params)
    only_base = tuple(p for p in base.params if p not in cur.params)
    budget = cur.budget if (cur.budget is not None and cur.budget == base.budget
                            and cur.budget in cur.runs and cur.budget in base.runs) else None
    keys = shared + ([budget] if budget is not None and budget not in shared else [])
    numeric = {p for p in keys if (p in cur.numeric and p in base.numeric) or p == budget}

    matched = _matched(cur, base, keys, numeric, scale=scale, test=test, alpha=alpha,
                       n_boot=n_boot, random_state=random_state)
    tested = matched["verdict"] != NOT_TESTABLE
    counts = {v: int((matched["verdict"] == v).sum()) for v in VERDICTS}
    m = int(tested.sum())
    seeds = int(seeds_to_reach(np.array([m]), alpha=alpha, test=test)[0]) if m else None

    best = _best_vs_best(cur, base, scale=scale, test=test, alpha=alpha, n_boot=n_boot,
                         random_state=random_state, replicated=False)
    rep = _best_vs_best(cur, base, scale=scale, test=test, alpha=alpha, n_boot=n_boot,
                        random_state=random_state, replicated=True)
    return Comparison(
        target=cur.target, direction=cur.direction, test=test, alpha=alpha, scale=scale,
        shared=tuple(keys), only_current=only_cur, only_baseline=only_base,
        n_configs_current=_n_configs(cur), n_configs_baseline=_n_configs(base),
        matched=matched, counts=counts, n_tested=m, seeds_needed=seeds, best=best,
        replicated=rep, moved=_moved(cur, base, cur_a, base_a, alpha=alpha), notes=tuple(notes),
        shifts=level_shifts(matched, keys, maximize=cur.direction == "maximize", alpha=alpha),
        baseline_sweep=baseline if isinstance(baseline, BaselineSweep) else None)


def level_shifts(matched: pd.DataFrame, keys: list[str], *, maximize: bool,
                 alpha: float) -> tuple[LevelShift, ...]:
    """:class:`LevelShift` rows for every level of ``keys`` among ``matched`` (configurations
    with a difference), Holm-adjusted over all rows."""
    from scipy import stats

    from sweepsight.analysis.configs import format_value

    rows = []
    d_all = matched["diff"].to_numpy(dtype=float)
    param_p = {}
    for k in keys:
        col = matched[k].astype(object).where(matched[k].notna(), None)
        groups = []
        for level in pd.unique(col):
            mask = (col == level).to_numpy() if level is not None else col.isna().to_numpy()
            d = d_all[mask]
            if np.isfinite(d).sum():
                groups.append(d[np.isfinite(d)])
        both = np.concatenate(groups) if groups else np.zeros(0)
        if len(groups) < 2 or len(both) < 3:
            param_p[k] = float("nan")
        elif np.all(both == both[0]):
            param_p[k] = 1.0  # every configuration moved by the same amount
        else:
            param_p[k] = float(stats.kruskal(*groups).pvalue)
        for level in pd.unique(col):
            mask = (col == level).to_numpy() if level is not None else col.isna().to_numpy()
            d = d_all[mask]
            d = d[np.isfinite(d)]
            nz = d[d != 0]
            if len(nz) >= 2:
                p = float(stats.wilcoxon(nz).pvalue)
            elif len(d) >= 2 and len(nz) == 0:
                p = 1.0  # no configuration moved at all
            else:
                p = float("nan")
            rows.append((k, format_value(level), len(d), p, 2.0 ** (1 - max(len(nz), 1)), d))
    if not rows:
        return ()
    ks = list(param_p)
    adjusted = dict(zip(ks, holm(np.array([param_p[k] for k in ks]), np.zeros(len(ks), dtype=np.int64))))
    p_all = np.array([r[3] for r in rows])
    fam = np.zeros(len(rows), dtype=np.int64)
    p_holm = holm(p_all, fam)
    floor = holm(np.where(np.isnan(p_all), np.nan, [r[4] for r in rows]), fam)
    out = []
    for (k, label, n, pv, _, d), ph, fl in zip(rows, p_holm, floor):
        med = float(np.median(d)) if len(d) else float("nan")
        if math.isnan(pv):
            verdict = NOT_TESTABLE
        elif ph < alpha:
            verdict = BETTER if (med > 0) == maximize else WORSE
        elif fl >= alpha and pv < 1.0:
            verdict = CANNOT_TELL
        else:
            verdict = NOT_SIGNIFICANT
        out.append(LevelShift(param=k, level=label, n=n, median_diff=med,
                              mean_diff=float(np.mean(d)) if len(d) else float("nan"), p=pv,
                              p_holm=float(ph), verdict=verdict,
                              param_p_holm=float(adjusted[k]),
                              acts=bool(adjusted[k] < alpha)))
    return tuple(out)


def _own_keys(prep: Prepared) -> list[str]:
    keys = [p for p in prep.params if p in prep.runs.columns]
    b = prep.budget
    return keys + ([b] if b is not None and b in prep.runs.columns and b not in keys else [])


def _n_configs(prep: Prepared) -> int:
    keys = _own_keys(prep)
    runs = prep.runs[prep.runs["y"].notna()]
    if not keys:
        return int(len(runs) > 0)
    return n_groups([runs[k] for k in keys])


def _one_power(cur: Prepared, base: Prepared) -> tuple[Prepared, Prepared]:
    """``cur`` and ``base`` with ``y`` as logged times one power of ten (:func:`tiny_power` of
    both sweeps' values), when either was analysed times a power of its own."""
    powers = [p.scale.power if p.scale is not None else 0 for p in (cur, base)]
    if not any(powers):
        return cur, base
    power = tiny_power(np.concatenate([p.runs["y_raw"].to_numpy(dtype=float) for p in (cur, base)]))
    def rescaled(p: Prepared) -> Prepared:
        y = times_ten(p.runs["y_raw"].to_numpy(dtype=float), power)
        return dataclasses.replace(p, metric_scale="raw", runs=p.runs.assign(y=y))

    return rescaled(cur), rescaled(base)


def _runs(prep: Prepared, scale: str) -> pd.DataFrame:
    """Finite runs, with ``y`` on the comparison scale."""
    runs = prep.runs[prep.runs["y"].notna()]
    if scale == "raw" and prep.metric_scale != "raw":
        runs = runs.assign(y=runs["y_raw"].astype(float))
    return runs[np.isfinite(runs["y"].to_numpy(dtype=float))]


def _key(value, numeric: bool):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ("", "inactive")
    if numeric:
        return ("n", float(f"{float(value):.12g}"))
    return ("s", str(value))


def _matched(cur: Prepared, base: Prepared, keys: list[str], numeric: set[str], *, scale: str,
             test: str, alpha: float, n_boot: int, random_state: int) -> pd.DataFrame:
    maximize = cur.direction == "maximize"
    conditional = frozenset(cur.conditional) | frozenset(base.conditional)
    groups = [group_configs(_runs(p, scale), keys, numeric, maximize=maximize,
                            conditional=conditional) for p in (base, cur)]
    index = []
    for g in groups:
        t = g.table
        index.append({tuple(_key(v, k in numeric) for k, v in zip(keys, row)): i
                      for i, row in enumerate(t[keys].itertuples(index=False, name=None))}
                     if keys else ({(): 0} if len(t) else {}))
    common = [k for k in index[1] if k in index[0]]  # current's order: best first
    a = np.array([index[0][k] for k in common], dtype=np.int64)
    b = np.array([index[1][k] for k in common], dtype=np.int64) + len(groups[0].n)
    y = np.concatenate([g.y for g in groups])
    y_raw = np.concatenate([g.y_raw if g.y_raw is not None else g.y for g in groups])
    n = np.concatenate([g.n for g in groups])
    start = np.concatenate([groups[0].start, groups[1].start + len(groups[0].y)])
    st = pair_tests(y, start, n, a, b, n_boot=n_boot, confidence=1 - alpha,
                    random_state=random_state, y_raw=y_raw)
    bt, ct = groups[0].table, groups[1].table
    out = pd.DataFrame({"label": ct["label"].to_numpy()[b - len(groups[0].n)]
                        if len(common) else pd.Series(dtype=object)})
    for k in keys:
        out[k] = ct[k].to_numpy()[b - len(groups[0].n)] if len(common) else []
    p_col = TEST_P_COLUMNS[test]
    ib = b - len(groups[0].n)
    out["n_baseline"], out["n_current"] = n[a], n[b]
    out["mean_baseline"], out["mean_current"] = bt["mean"].to_numpy()[a], ct["mean"].to_numpy()[ib]
    out["mean_raw_baseline"] = bt["mean_raw"].to_numpy()[a]
    out["mean_raw_current"] = ct["mean_raw"].to_numpy()[ib]
    for c in ("diff", "diff_ci_low", "diff_ci_high", "diff_raw", "diff_raw_ci_low",
              "diff_raw_ci_high", "cliffs_delta", "ks_p", "t_p", "mw_p"):
        out[c] = st[c].to_numpy()
    testable = out[p_col].notna().to_numpy()
    floor = (st["min_attainable_p"].to_numpy() if test == "ks"
             else np.asarray(min_attainable_p(test, n[a], n[b]), dtype=float))
    out["min_attainable_p"] = np.where(testable, floor, np.nan)
    fam = np.zeros(len(out), dtype=np.int64)
    out["p_holm"] = holm(out[p_col].to_numpy(), fam)
    out["p_bh"] = benjamini_hochberg(out[p_col].to_numpy())
    out["min_adjusted_p"] = holm(out["min_attainable_p"].to_numpy(), fam)
    out["seeds_to_reach"] = seeds_to_reach(np.full(len(out), max(int(testable.sum()), 1)),
                                           alpha=alpha, test=test)
    diff = out["diff"].to_numpy()
    good = diff > 0 if maximize else diff < 0
    bad = diff < 0 if maximize else diff > 0
    sig = out["p_holm"].to_numpy() < alpha
    cannot = testable & (out["min_adjusted_p"].to_numpy() >= alpha)
    out["verdict"] = np.select([~testable, cannot, sig & good, sig & bad],
                               [NOT_TESTABLE, CANNOT_TELL, BETTER, WORSE], NOT_SIGNIFICANT)
    out = out[["label", *keys, *[c for c in MATCHED_COLUMNS if c != "label"]]]
    # most significant first; among equal p (often all 1), the largest difference first
    out = out.assign(_gap=-out["diff"].abs())
    return out.sort_values(["p_holm", "_gap", "label"], na_position="last",
                           kind="stable").drop(columns="_gap").reset_index(drop=True)


def _best_vs_best(cur: Prepared, base: Prepared, *, scale: str, test: str, alpha: float,
                  n_boot: int, random_state: int, replicated: bool) -> BestAgainstBest | None:
    maximize = cur.direction == "maximize"
    picked, values, typical, steadies = [], [], [], []
    for prep in (base, cur):
        keys = _own_keys(prep)
        g = group_configs(_runs(prep, scale), keys, set(prep.numeric) | (
            {prep.budget} if prep.budget is not None else set()), maximize=maximize,
            conditional=frozenset(prep.conditional))
        if not len(g.n):
            return None
        i = 0
        steady = replicated_best(g.table)
        steadies.append(steady is not None)
        if replicated and steady is not None:
            i = int(np.flatnonzero(g.table["config_id"].to_numpy() == steady[0]["config_id"])[0])
        picked.append(Config.from_row(g.table.iloc[i]))
        values.append((g.values(i), (g.y_raw if g.y_raw is not None else g.y)
                       [g.start[i]:g.start[i] + g.n[i]]))
        typical.append(int(np.ceil(g.table["n"].median())))
    if replicated and not any(steadies):
        return None  # each sweep's best already has its typical number of runs
    y = np.concatenate([values[0][0], values[1][0]])
    y_raw = np.concatenate([values[0][1], values[1][1]])
    n = np.array([picked[0].n, picked[1].n])
    st = pair_tests(y, np.array([0, n[0]]), n, np.array([0]), np.array([1]), n_boot=n_boot,
                    confidence=1 - alpha, random_state=random_state, y_raw=y_raw).iloc[0]
    p = float(st[TEST_P_COLUMNS[test]])
    floor = float(st["min_attainable_p"]) if test == "ks" else float(
        min_attainable_p(test, int(n[0]), int(n[1])))
    diff = float(st["diff"])
    if math.isnan(p):
        verdict = NOT_TESTABLE
    elif floor >= alpha:
        verdict = CANNOT_TELL
    elif p < alpha:
        verdict = BETTER if (diff > 0) == maximize else WORSE
    else:
        verdict = NOT_SIGNIFICANT
    curse = any(c.n < max(t, 3) for c, t in zip(picked, typical))
    return BestAgainstBest(
        kind="replicated" if replicated else "best", current=picked[1], baseline=picked[0],
        diff=diff, diff_ci_low=float(st["diff_ci_low"]), diff_ci_high=float(st["diff_ci_high"]),
        diff_raw=float(st["diff_raw"]), cliffs_delta=float(st["cliffs_delta"]),
        ks_p=float(st["ks_p"]), t_p=float(st["t_p"]), mw_p=float(st["mw_p"]), p=p,
        min_attainable_p=floor, verdict=verdict, winners_curse=curse)


def _moved(cur: Prepared, base: Prepared, cur_a, base_a, *, alpha: float) -> tuple[Moved, ...]:
    def side(prep, result):
        from sweepsight.analysis.levels import level_effects

        levels = result.levels if result is not None else None
        imp = result.importance if result is not None else None
        if levels is None:
            levels = level_effects(prep, importance=imp, alpha=alpha)
        shares: dict[str, float] = {}
        if imp is not None:
            col = "share" if "share" in imp.table else "importance"
            shares = {str(p): float(v) for p, v in zip(imp.table["param"], imp.table[col])}
        return {pl.param: pl for pl in levels.params}, shares

    (lc, sc), (lb, sb) = side(cur, cur_a), side(base, base_a)
    out = []
    for p in [*cur.params, *[q for q in base.params if q not in cur.params]]:
        c, b = lc.get(p), lb.get(p)
        best_c = c.best_level.label if c is not None else None
        best_b = b.best_level.label if b is not None else None
        moved = (c is not None and b is not None and (c.above_noise or b.above_noise)
                 and best_c != best_b)
        out.append(Moved(param=p, share_current=sc.get(p), share_baseline=sb.get(p),
                         best_current=best_c, best_baseline=best_b,
                         above_noise_current=None if c is None else bool(c.above_noise),
                         above_noise_baseline=None if b is None else bool(b.above_noise),
                         moved=bool(moved)))
    return tuple(out)


__all__ = ["BaselineOrigin", "BaselineSweep", "BestAgainstBest", "Comparison", "LevelShift", "MATCHED_COLUMNS",
           "Moved", "analyse_baseline", "compare_sweeps", "level_shifts"]
