"""Is a configuration really better than its neighbours, or is the gap seed noise?

For each configuration (runs grouped by every analysed hyperparameter, seed excluded) and each
neighbour (one hyperparameter changed by one step), the per-seed samples are compared with
Kolmogorov-Smirnov (the verdict), Welch's t and Mann-Whitney U, with a bootstrap interval for the
difference of means and Cliff's delta. KS p-values are Holm-adjusted within each configuration's
neighbourhood and Benjamini-Hochberg-adjusted across all pairs.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis import grouping
from sweepsight.analysis.configs import coarsen, find_neighbours, format_value, group_configs
from sweepsight.analysis.constants import Verdict
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.stats_tests import (MIN_BOOT_RUNS, benjamini_hochberg, holm,
                                             min_attainable_ks_p, min_attainable_p, pair_tests,
                                             seeds_for_power, seeds_to_reach)
from sweepsight.analysis.options import ALPHA, N_BOOT, RANDOM_STATE, TEST

PAIR_COLUMNS = [
    "config_id", "neighbour_id", "param", "from_value", "to_value", "n_a", "n_b", "mean_a",
    "mean_b", "diff", "diff_ci_low", "diff_ci_high", "cliffs_delta", "ks_stat", "ks_p", "t_p",
    "mw_p", "p_holm", "p_bh", "min_attainable_p", "verdict", "power_note",
    "mean_raw_a", "mean_raw_b", "diff_raw", "diff_raw_ci_low", "diff_raw_ci_high",
    "min_adjusted_p", "n_family", "seeds_to_reach", "seeds_for_power",
]




#: Seeds per side above which a rerun plan is not worth spelling out ("more than").
MAX_PLAN_SEEDS = 1000


@dataclasses.dataclass(frozen=True)
class RerunPlan:
    """What to rerun to settle the best configuration against its closest unsettled rivals.

    ``rivals``: neighbour config ids whose verdict is "cannot tell", "not significant" or "not
    testable", closest mean first (at most 3). ``seeds``: seeds per configuration that would
    let the chosen test, Holm-adjusted over the neighbourhood, reach alpha and give 80% power
    (Welch) to detect each observed difference (the largest over the rivals); ``capped`` when
    that exceeds :data:`MAX_PLAN_SEEDS` (``seeds`` is then that cap). ``limited_by``: "power"
    or "test floor", whichever asked for more. ``configs``: the best then the rivals;
    ``runs``: ``len(configs) * seeds``; ``new_runs``: runs beyond those already made.
    """

    config_id: str
    rivals: tuple[str, ...]
    configs: tuple[str, ...]
    seeds: int
    runs: int
    new_runs: int
    capped: bool
    limited_by: str
# below this share of configurations with a testable neighbour, exact neighbours are too rare
_MIN_NEIGHBOUR_SHARE = 0.10


@dataclasses.dataclass
class SignificanceResult:
    """Configurations, their neighbour comparisons, and whether the comparison could be made.

    ``configs``: ``config_id, label, <params...>, n, mean, std, median, values, rank, mean_raw,
    std_raw``
    (best first). ``pairs``: one row per ordered (configuration, neighbour) pair, columns
    :data:`PAIR_COLUMNS`; ``from_value``/``to_value`` are display text; ``diff`` is neighbour
    minus configuration on the analysis scale and ``verdict`` is the neighbour's
    (a :class:`Verdict` value).
    ``min_adjusted_p`` is the smallest p the test could give after Holm over the ``n_family``
    tested neighbours, ``seeds_to_reach`` the fewest seeds per side with which the test,
    Holm-adjusted over the whole neighbourhood, could reach alpha, ``seeds_for_power`` the
    seeds per side for 80% power (t-test at alpha / neighbourhood size) to detect ``diff`` given
    the observed spreads (inf above 10,000; NaN untestable or no difference). ``*_raw`` columns
    are as logged, the others on the analysis scale. ``rerun_plan``: see :class:`RerunPlan`.
    ``bins``: param -> bin edges when ``approximate`` (configurations on a coarsened grid);
    ``exact_configs`` then holds the configurations as the runs define them.
    """

    configs: pd.DataFrame
    pairs: pd.DataFrame
    applicable: bool
    reason: str
    approximate: bool
    bins: dict[str, list[float]]
    notes: list[str]
    exact_configs: pd.DataFrame | None = None
    rerun_plan: RerunPlan | None = None

    @property
    def run_configs(self) -> pd.DataFrame:
        """The configurations as the runs define them (exact values, best first): ``configs``,
        or when ``approximate`` the exact grouping that the coarsened grid replaced."""
        return self.configs if self.exact_configs is None else self.exact_configs


TESTS = {
    "ks": ("ks_p", "the two-sample Kolmogorov-Smirnov test"),
    "welch": ("t_p", "Welch's t-test"),
    "mannwhitney": ("mw_p", "the Mann-Whitney U test"),
}


def compare_neighbours(prep: Prepared, *, alpha: float = ALPHA, n_boot: int = N_BOOT,
                       random_state: int = RANDOM_STATE, bins: int = 4, test: str = TEST) -> SignificanceResult:
    """Compare every configuration with its neighbours (configurations one step away).

    Parameters
    ----------
    prep : the prepared sweep (uses ``runs``, ``params``, ``numeric``, ``log_scaled``,
        ``direction``).
    alpha : significance level for the verdict (on Holm-adjusted KS p) and 1 - level of the
        bootstrap interval.
    n_boot : bootstrap resamples per configuration.
    random_state : seed of the bootstrap.
    test : the test behind the verdict: ``"ks"`` (the classic choice; distribution-free but
        weak with few seeds), ``"welch"`` (difference of means, the most power with few seeds,
        assumes roughly normal per-seed values) or ``"mannwhitney"``. All three p-values are
        always reported.
    bins : quantile bins per continuous param when exact neighbours are too rare
        (random/Bayesian search); the result is then flagged ``approximate``.
    """
    if not 0 < alpha < 1:
        raise SweepError(f"significance: alpha={alpha!r} must be between 0 and 1 (e.g. 0.05)")
    if bins < 2:
        raise SweepError(f"significance: bins={bins!r} must be at least 2 (e.g. 4)")
    if test not in TESTS:
        raise SweepError(f"significance: unknown test {test!r}; valid tests: {', '.join(TESTS)}.")
    maximize = prep.direction == "maximize"
    params = [p for p in prep.params if p in prep.runs.columns]
    numeric = set(prep.numeric)
    runs = prep.runs[~prep.runs["y"].isna()]
    notes: list[str] = []

    # Runs at different budgets (successive halving keeps each configuration at the highest
    # it reached) are never repeats of one another, nor neighbours: the budget is part of the
    # configuration, and no step is taken along it.
    budget = prep.budget if prep.budget is not None and prep.budget in runs.columns else None
    keys = params + ([budget] if budget is not None and budget not in params else [])
    key_numeric = numeric | ({budget} if budget is not None else set())
    cond_params = frozenset(prep.conditional)
    grouped = group_configs(runs, keys, key_numeric, maximize=maximize, conditional=cond_params)
    exact = grouped.table
    ordered = [p in key_numeric for p in keys]
    cond = [p in prep.conditional for p in keys]
    links = _steps(find_neighbours(grouped.codes, ordered, cond), len(params))
    approximate, edges = False, dict[str, list[float]]()
    if _testable_share(grouped.n, links) < _MIN_NEIGHBOUR_SHARE and len(grouped.n):
        binned, edges, labels = coarsen(runs, [p for p in params if p in numeric],
                                        list(prep.log_scaled), bins=bins)
        if edges:
            grouped = group_configs(binned, keys, key_numeric, maximize=maximize,
                                    ordered_labels=labels, conditional=cond_params)
            links = _steps(find_neighbours(grouped.codes, ordered, cond), len(params))
            approximate = True
            notes.append(
                "No two configurations differ in exactly one value often enough to compare "
                f"(continuous {_join(list(edges))}): neighbours are on a coarsened grid of "
                f"{bins} quantile bins per continuous hyperparameter, an approximation; runs "
                "in one bin count as repeats of one configuration."
            )
    configs = grouped.table
    n = grouped.n
    notes.insert(0, ("On the coarsened grid: " if approximate else "")
                 + _config_sentence(configs, len(runs)))
    if budget is not None:
        notes.append(f"{budget} (the training budget) is part of each configuration: runs at "
                     f"different {budget} are never counted as repeats, and neighbours share "
                     f"their {budget}.")
    for p, why in prep.conditional.items():
        if p in params:
            notes.append(f"{p} is compared only between configurations where it is active "
                         f"({why}); a change of a categorical hyperparameter that switches {p} "
                         "on or off still counts as one step of that hyperparameter.")

    text_cols = {"config_id", "neighbour_id", "param", "from_value", "to_value", "verdict",
                 "power_note"}
    empty = pd.DataFrame({c: pd.Series(dtype=object if c in text_cols else float)
                          for c in PAIR_COLUMNS})
    if len(n) == 0:
        return SignificanceResult(configs, empty, False, "there are no runs to compare.",
                                  approximate, edges, notes,
                                  exact if approximate else None)
    if n.max() < 2:
        reason = (
            "each configuration was run once, so there is no spread to test against; rerun "
            f"with {_seeds_needed(alpha)} or more seeds per configuration (the fewest with which "
            f"the KS test can reach p < {alpha:g})."
        )
        notes.append("Significance between neighbours was not tested: " + reason)
        return SignificanceResult(configs, empty, False, reason[0].upper() + reason[1:],
                                  approximate, edges, notes,
                                  exact if approximate else None)
    if len(links) == 0:
        reason = ("No two configurations differ in exactly one hyperparameter, so there are no "
                  "neighbours to compare.")
        notes.append(reason)
        return SignificanceResult(configs, empty, False, reason, approximate, edges, notes,
                                  exact if approximate else None)

    pairs = _pairs_table(grouped, links, alpha=alpha, n_boot=n_boot,
                         random_state=random_state, maximize=maximize, test=test)
    notes.extend(_pair_sentences(pairs, alpha=alpha, n_boot=n_boot, random_state=random_state,
                                 test=test))
    if prep.metric_scale != "raw":
        notes.append(f"Tests and differences use {prep.target} on the {prep.metric_scale} scale "
                     "(the analysis scale); mean_raw is the mean as logged.")
    testable = pairs["verdict"] != "not testable"
    if not testable.any():
        reason = ("No neighbouring configurations both have 2 or more runs, so none can be "
                  f"tested; rerun the neighbours with {_seeds_needed(alpha)} or more seeds.")
        return SignificanceResult(configs, pairs, False, reason, approximate, edges, notes,
                                  exact if approximate else None)
    plan = rerun_plan(configs, pairs)
    return SignificanceResult(configs, pairs, True, "", approximate, edges, notes,
                              exact if approximate else None, plan)


def rerun_plan(configs: pd.DataFrame, pairs: pd.DataFrame, *, rivals: int = 3) -> RerunPlan | None:
    """The rerun that would settle the best configuration against its ``rivals`` closest
    unsettled neighbours (None when every neighbour of the best is settled or there are none).
    """
    if len(configs) == 0 or len(pairs) == 0:
        return None
    best = configs.sort_values("rank", kind="stable")["config_id"].iat[0]
    mine = pairs[(pairs["config_id"] == best) & pairs["verdict"].isin(
        [Verdict.CANNOT_TELL.value, Verdict.NOT_SIGNIFICANT.value, Verdict.NOT_TESTABLE.value])]
    if len(mine) == 0:
        return None
    mine = mine.assign(gap=mine["diff"].abs()).sort_values(["gap", "neighbour_id"],
                                                            kind="stable").head(rivals)
    floor = int(mine["seeds_to_reach"].max())
    power = mine["seeds_for_power"].to_numpy(dtype=float)
    power = power[~np.isnan(power)]
    need_power = float(power.max()) if power.size else 0.0
    seeds = max(floor, need_power)
    capped = seeds > MAX_PLAN_SEEDS
    seeds = int(min(seeds, MAX_PLAN_SEEDS))
    ids = (best,) + tuple(mine["neighbour_id"])
    have = configs.set_index("config_id")["n"].reindex(list(ids)).to_numpy(dtype=int)
    return RerunPlan(config_id=str(best), rivals=tuple(mine["neighbour_id"]), configs=ids,
                     seeds=seeds, runs=seeds * len(ids),
                     new_runs=int(np.maximum(seeds - have, 0).sum()), capped=capped,
                     limited_by="power" if need_power > floor else "test floor")


def neighbourhood(result: SignificanceResult, config_id: str) -> pd.DataFrame:
    """One configuration's neighbour rows (with ``neighbour_label``), most significant first."""
    if config_id not in set(result.configs["config_id"]):
        first = ", ".join(result.configs["config_id"].head(3))
        raise SweepError(f"significance: no configuration {config_id!r}; ids look like "
                         f"{first or '(none: the sweep has no configurations)'}")
    rows = result.pairs[result.pairs["config_id"] == config_id]
    labels = result.configs.set_index("config_id")["label"]
    rows = rows.assign(neighbour_label=rows["neighbour_id"].map(labels).to_numpy())
    return rows.sort_values(["p_holm", "param"], na_position="last",
                            kind="stable").reset_index(drop=True)


def _pairs_table(grouped, links: pd.DataFrame, *, alpha: float, n_boot: int,
                 random_state: int, maximize: bool, test: str = TEST) -> pd.DataFrame:
    a, b = links["a"].to_numpy(), links["b"].to_numpy()
    pidx = links["param_idx"].to_numpy()
    st = pair_tests(grouped.y, grouped.start, grouped.n, a, b, n_boot=n_boot,
                    confidence=1 - alpha, random_state=random_state, y_raw=grouped.y_raw)
    p_col = TESTS[test][0]
    st["min_attainable_p"] = _min_attainable(st, grouped.n[a], grouped.n[b], test)
    st["p_bh"] = benjamini_hochberg(st[p_col].to_numpy())
    params = grouped.params
    # both directions of every pair, in the order (configuration, param, neighbour), built
    # column by column: no per-side frames, concatenation or sorted copy of them
    cfg_all, nbr_all = np.concatenate([a, b]), np.concatenate([b, a])
    pidx_all = np.concatenate([pidx, pidx])
    order = np.lexsort((nbr_all, pidx_all, cfg_all))
    fwd = order < len(a)  # rows seen from a (difference b - a), the others from b
    sign = np.where(fwd, 1.0, -1.0)
    half = np.where(fwd, order, order - len(a))  # each row's pair in ``st``
    cfg, nbr, pidx_o = cfg_all[order], nbr_all[order], pidx_all[order]
    del cfg_all, nbr_all, pidx_all, order

    # (bound as defaults, not closures: deleted below, they free the pair tests' table)
    def pair_col(name: str, st: pd.DataFrame = st, half: np.ndarray = half) -> np.ndarray:
        return st[name].to_numpy()[half]

    def swapped(low: str, high: str, fwd: np.ndarray = fwd,
                pair_col=pair_col) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = pair_col(low), pair_col(high)
        return np.where(fwd, lo, -hi), np.where(fwd, hi, -lo)

    # display text: values of different params have different types (0.001, "adam", True)
    text = [np.array([format_value(v) for v in grouped.levels[p]], dtype=object) for p in params]
    from_value = np.empty(len(cfg), dtype=object)
    to_value = np.empty(len(cfg), dtype=object)
    for j in range(len(params)):
        rows = np.flatnonzero(pidx_o == j)
        from_value[rows] = text[j][grouped.codes[cfg[rows], j]]
        to_value[rows] = text[j][grouped.codes[nbr[rows], j]]
    ids = grouped.table["config_id"].to_numpy()
    means = grouped.table["mean"].to_numpy()
    means_raw = grouped.table["mean_raw"].to_numpy()
    lo, hi = swapped("diff_ci_low", "diff_ci_high")
    diff, mean_a, mean_b = sign * pair_col("diff"), means[cfg], means[nbr]
    if np.array_equal(grouped.y_raw, grouped.y):  # the raw scale: the same numbers, held once
        rlo, rhi, diff_raw, raw_a, raw_b = lo, hi, diff, mean_a, mean_b
    else:
        rlo, rhi = swapped("diff_raw_ci_low", "diff_raw_ci_high")
        diff_raw, raw_a, raw_b = sign * pair_col("diff_raw"), means_raw[cfg], means_raw[nbr]
    out = pd.DataFrame({
        "cfg": cfg, "nbr": nbr,
        "config_id": ids[cfg], "neighbour_id": ids[nbr],
        # a few distinct texts each, repeated over up to millions of rows: categoricals
        "param": pd.Categorical(np.array(params, dtype=object)[pidx_o] if len(pidx_o) else []),
        "from_value": pd.Categorical(from_value), "to_value": pd.Categorical(to_value),
        "n_a": grouped.n[cfg], "n_b": grouped.n[nbr], "mean_a": mean_a, "mean_b": mean_b,
        "diff": diff, "diff_ci_low": lo, "diff_ci_high": hi,
        "cliffs_delta": sign * pair_col("cliffs_delta"),
        "ks_stat": pair_col("ks_stat"), "ks_p": pair_col("ks_p"),
        "t_p": pair_col("t_p"), "mw_p": pair_col("mw_p"),
        "p_bh": pair_col("p_bh"), "min_attainable_p": pair_col("min_attainable_p"),
        "mean_raw_a": raw_a, "mean_raw_b": raw_b,
        "diff_raw": diff_raw, "diff_raw_ci_low": rlo, "diff_raw_ci_high": rhi,
    }, copy=False)  # each column is a fresh array: no second, consolidated copy of them all
    del from_value, to_value, lo, hi, rlo, rhi, sign, st, half, fwd, pair_col, swapped
    del diff, mean_a, mean_b, diff_raw, raw_a, raw_b
    out["p_holm"] = holm(out[p_col].to_numpy(), cfg)
    testable = ~out[p_col].isna()
    # the smallest p each pair could get after Holm: Holm is monotone in every p, so it is
    # the Holm adjustment of the neighbourhood's smallest attainable p-values
    floor = np.where(testable, out["min_attainable_p"].to_numpy(), np.nan)
    out["min_adjusted_p"] = holm(floor, cfg)
    # rows run by configuration (the lexsort above): each neighbourhood is one run of rows
    starts = np.flatnonzero(np.r_[True, cfg[1:] != cfg[:-1]]) if len(cfg) else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, len(cfg)])
    out["n_family"] = np.repeat(np.add.reduceat(testable.to_numpy(dtype=np.int64), starts)
                                if len(cfg) else np.zeros(0, np.int64), sizes)
    cannot = testable & (out["min_adjusted_p"] >= alpha)
    good = out["diff"] > 0 if maximize else out["diff"] < 0
    bad = out["diff"] < 0 if maximize else out["diff"] > 0
    sig = out["p_holm"] < alpha
    V = Verdict
    names = sorted(v.value for v in V)
    code = {v: names.index(v.value) for v in V}  # codes, not a million strings
    verdict = np.select([~testable, cannot, sig & good, sig & bad],
                        [code[V.NOT_TESTABLE], code[V.CANNOT_TELL], code[V.BETTER],
                         code[V.WORSE]], code[V.NOT_SIGNIFICANT])
    out["verdict"] = pd.Categorical.from_codes(np.asarray(verdict, dtype=np.int64),
                                               categories=pd.Index(names))
    least = (np.repeat(np.fmin.reduceat(out["min_attainable_p"].to_numpy(), starts), sizes)
             if len(cfg) else np.zeros(0))
    out["power_note"] = pd.Categorical(_power_notes(out, alpha, least))
    family = np.repeat(sizes, sizes)
    out["seeds_to_reach"] = seeds_to_reach(family, alpha=alpha, test=test)
    std = grouped.table["std"].to_numpy(dtype=float)
    # symmetric in the two sides: solve once per (pair, neighbourhood size)
    _, first, inverse = np.unique(_pair_key(cfg, nbr, family), return_index=True,
                                  return_inverse=True)
    diff = np.where(testable, out["diff"].to_numpy(), np.nan)
    power = seeds_for_power(diff[first], std[cfg[first]], std[nbr[first]],
                            alpha=alpha / family[first])
    out["seeds_for_power"] = power[inverse.reshape(-1)]
    return out[PAIR_COLUMNS]


def pair_sides(result: SignificanceResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each neighbour pair once, as positions: ``(rows, mirror, ia, ib)``. ``rows``: the rows of
    ``result.pairs`` whose ``config_id`` sorts before their ``neighbour_id`` (in table order),
    ``mirror``: the row of the same pair seen from the neighbour (-1 if absent), ``ia``/``ib``:
    the two configurations' positions in ``result.configs``. Integer lookups instead of
    string joins: half a million pairs at 250k runs."""
    pairs = result.pairs
    index = pd.Index(result.configs["config_id"])
    ia_all = index.get_indexer(pairs["config_id"])
    ib_all = index.get_indexer(pairs["neighbour_id"])
    rows = np.flatnonzero((pairs["config_id"] < pairs["neighbour_id"]).to_numpy(dtype=bool))
    width = max(len(index), 1)
    seen_from = pd.Index(ia_all.astype(np.int64) * width + ib_all)
    mirror = seen_from.get_indexer(ib_all[rows].astype(np.int64) * width + ia_all[rows])
    return rows, mirror, ia_all[rows], ib_all[rows]


def _pair_key(cfg: np.ndarray, nbr: np.ndarray, family: np.ndarray) -> np.ndarray:
    """One int64 per (unordered pair, neighbourhood size), ordered as the rows
    ``(min, max, family)`` would sort."""
    lo, hi = np.minimum(cfg, nbr).astype(np.int64), np.maximum(cfg, nbr).astype(np.int64)
    n_cfg = int(max(cfg.max(initial=0), nbr.max(initial=0))) + 1
    width = int(family.max(initial=0)) + 1
    return (lo * n_cfg + hi) * width + family.astype(np.int64)


def _min_attainable(st: pd.DataFrame, n_a: np.ndarray, n_b: np.ndarray, test: str) -> np.ndarray:
    """The smallest p-value the verdict's test can give for these sample sizes."""
    if test == "ks":
        return st["min_attainable_p"].to_numpy()
    return np.asarray(min_attainable_p(test, n_a, n_b), dtype=float)


def _power_notes(out: pd.DataFrame, alpha: float, least: np.ndarray) -> np.ndarray:
    """``least``: each row's neighbourhood's smallest attainable p."""
    notes = np.full(len(out), "", dtype=object)
    minp = out["min_attainable_p"].to_numpy()
    na, nb = out["n_a"].to_numpy(), out["n_b"].to_numpy()
    m = out["n_family"].to_numpy()
    hm = np.minimum(1.0, m * least)
    few = minp > alpha
    after_holm = ~few & (hm > alpha)
    # the texts repeat: build each distinct one once
    rows = np.flatnonzero(few)
    codes = grouping.group_ids([na[rows], nb[rows]])
    first = grouping.first_rows(codes)
    texts = [f"cannot tell: with {na[i]} vs {nb[i]} seeds the smallest possible p is "
             f"{minp[i]:.2g}" for i in rows[first]]
    notes[rows] = np.array(texts, dtype=object)[codes] if texts else notes[rows]
    rows = np.flatnonzero(after_holm)
    codes = grouping.group_ids([m[rows], np.round(hm[rows], 12)])
    first = grouping.first_rows(codes)
    texts = [f"cannot tell after Holm over {m[i]} neighbours: the smallest possible adjusted p "
             f"is {hm[i]:.2g}" for i in rows[first]]
    notes[rows] = np.array(texts, dtype=object)[codes] if texts else notes[rows]
    return notes


def _pair_sentences(pairs: pd.DataFrame, *, alpha: float, n_boot: int,
                    random_state: int, test: str = TEST) -> list[str]:
    n_pairs = len(pairs) // 2
    testable = pairs[pairs["verdict"] != "not testable"]
    n_test = len(testable) // 2
    out = [
        f"{n_pairs} neighbour pairs (configurations that differ in exactly one hyperparameter, "
        f"by one step for numeric ones); {n_test} of them have at least 2 runs on each side "
        "and were tested.",
        f"The verdict uses the p-value of {TESTS[test][1]}, Holm-adjusted within each "
        f"configuration's neighbourhood (family-wise error), at alpha = {alpha:g}; p_bh is the "
        f"Benjamini-Hochberg adjustment across all {n_test} tested pairs (false discovery "
        "rate). The Kolmogorov-Smirnov, Welch's t and Mann-Whitney U p-values are all shown.",
        f"diff is the neighbour's mean minus the configuration's, with a {100 * (1 - alpha):g}% "
        f"percentile bootstrap interval ({n_boot} resamples of each side, seed {random_state}; "
        f"none where a side has fewer than {MIN_BOOT_RUNS} runs).",
    ]
    # a power note marks a comparison that cannot be significant whatever the data: too few
    # seeds, or Holm over the neighbourhood lifting the smallest attainable p above alpha
    from sweepsight.analysis.best import cannot_reach

    cannot = pd.Series(cannot_reach(testable, alpha=alpha, test=test), index=testable.index)
    if cannot.any():
        few = cannot & (testable["min_attainable_p"] > alpha)
        why = [f"{_pct(part.mean())} {what} (e.g. {testable.loc[part, 'power_note'].iloc[0]})"
               for part, what in ((few, "have too few seeds"),
                                  (cannot & ~few, "have enough for one test but not after the "
                                                  "Holm adjustment over their neighbours"))
               if part.any()]
        out.append(
            f"{_pct(cannot.mean())} of the tested comparisons cannot reach p < {alpha:g} "
            "whatever the data: their verdict is \"cannot tell\" (not \"not significant\", which "
            "is kept for comparisons that could have been significant): " + "; ".join(why) + ". More seeds per configuration"
            + (", or --test welch (which compares means and has no such floor), would settle "
               "them." if test != "welch" else " would settle them."))
    n_sig = int(testable["verdict"].isin([Verdict.BETTER.value, Verdict.WORSE.value]).sum()) // 2
    out.append(f"{n_sig} of the {n_test} tested neighbour pairs differ significantly (seen from "
               "at least one of the two configurations: Holm adjusts within each one's "
               "neighbourhood).")
    return out


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%" if share >= 0.01 or share == 0 else "under 1%"


def _config_sentence(configs: pd.DataFrame, n_runs: int) -> str:
    if len(configs) == 0:
        return "There are no runs with a finite target to group into configurations."
    n = configs["n"]
    return (f"{len(configs)} configurations from {n_runs} runs (runs with identical "
            f"hyperparameters, seed aside, are repeats); seeds (runs) per configuration: min "
            f"{n.min()}, median {n.median():g}, max {n.max()}.")


def _steps(links: pd.DataFrame, n_params: int) -> pd.DataFrame:
    """Neighbour links along the analysed hyperparameters only (not along the budget)."""
    return links[links["param_idx"] < n_params].reset_index(drop=True)


def _testable_share(n: np.ndarray, links: pd.DataFrame) -> float:
    if len(n) == 0:
        return 0.0
    a, b = links["a"].to_numpy(), links["b"].to_numpy()
    ok = (n[a] >= 2) & (n[b] >= 2)
    has = np.zeros(len(n), dtype=bool)
    has[a[ok]] = True
    has[b[ok]] = True
    return float(has.mean())


def _seeds_needed(alpha: float) -> int:
    k = 2
    while min_attainable_ks_p(k, k) > alpha and k < 1000:
        k += 1
    return k


def _join(names: list[str]) -> str:
    return ", ".join(names)


__all__ = ["PAIR_COLUMNS", "RerunPlan", "SignificanceResult", "Verdict", "compare_neighbours",
           "neighbourhood", "pair_sides", "rerun_plan"]
