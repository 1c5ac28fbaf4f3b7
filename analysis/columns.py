"""Which columns are not hyperparameters: tracker internals, identifiers and paths (by their
name or their values) whatever the runs; on the analysed runs, columns missing everywhere,
constant, with too many levels, or outcomes of the runs (runtime, memory)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sweepsight.adapters.schema import PARAM
from sweepsight.analysis import outcomes
from sweepsight.analysis.encoding import level_text
from sweepsight.analysis.grouping import group_ids, n_groups
from sweepsight.analysis.outcomes import is_number
from sweepsight.analysis.prepared import Aside, AsideReason

# Names (last dotted part) that never describe a choice worth analysing, at any depth.
_ID_NAME = re.compile(
    r"^(?:run_?name|display_?name|run_?id|uuid|guid|job_?id|trial_?id|experiment_?id|"
    r"(?:[a-z]+_)?(?:dir|directory)|output|outputs|logdir|"
    r"timestamp|time_?stamp|date|datetime|created(?:_at)?|start_?time|host|hostname|"
    r"git_?(?:commit|hash|sha|branch)|commit|sha|hash|url|uri)$",
    re.IGNORECASE,
)
# Names that are identifiers only at the top level: ``optimizer.name`` is a real choice.
_ID_NAME_TOP = re.compile(r"^(?:name|id|path|file|filename|out)$", re.IGNORECASE)
# Names of files that may be a real choice (a data set) unless they take many values.
_FILE_NAME = re.compile(r"^(?:[a-z]+_)?(?:path|file|filename)$", re.IGNORECASE)
_WANDB = re.compile(r"(^|[._])_?wandb|^_", re.IGNORECASE)
_PATTERNS = {
    "URLs": re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE),
    "timestamps": re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T _]\d{2}:\d{2})?"),
    "uuids": re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
                        re.IGNORECASE),
    "hashes": re.compile(r"^(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}$", re.IGNORECASE),
}
_PATH = re.compile(r"[/\\]")


def not_a_param(p: str, s: pd.Series, *, max_levels: int) -> AsideReason | None:
    """Why ``p`` is not a hyperparameter whatever the runs (an identifier, path, timestamp)."""
    last = p.split(".")[-1]
    present = s.dropna()
    distinct = pd.Series(present.unique())
    n_unique, n = len(distinct), len(present)
    if n_unique <= 1:
        return None  # constant or all missing: said later, on the analysed runs
    if _WANDB.search(p):
        return AsideReason.of(Aside.TRACKER, "tracker internals",
                              "name starts with _ or mentions wandb")
    if _ID_NAME.match(last) or ("." not in p and _ID_NAME_TOP.match(p)):
        return AsideReason.of(Aside.IDENTIFIER, "identifier/path/timestamp by its name")
    if _FILE_NAME.match(last) and n_unique > max(3, 0.1 * n):
        return AsideReason.of(Aside.PATH, f"file path by its name, with {n_unique} distinct "
                              f"values in {n} runs")
    if pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.BooleanDtype):
        return None
    uniques = distinct.astype(str)
    for label, pattern in _PATTERNS.items():
        if uniques.str.match(pattern).mean() >= 0.9:
            return AsideReason.of(Aside.IDENTIFIER, f"values look like {label}",
                                  f"{n_unique} distinct")
    if n_unique > max(3, 0.1 * n) and uniques.str.contains(_PATH).mean() >= 0.9:
        return AsideReason.of(Aside.PATH, "values look like paths",
                              f"{n_unique} distinct in {n} runs")
    if n_unique > 5 and n_unique >= 0.9 * n:
        return AsideReason.of(Aside.IDENTIFIER, "identifier", "a different value in nearly "
                              f"every run: {n_unique} distinct in {n} runs")
    return None


def unusable(s: pd.Series, *, max_levels: int) -> AsideReason | None:
    """Why ``s`` cannot be analysed on these runs: all missing, constant, too many levels."""
    present = s.dropna()
    if len(present) == 0:
        return constant_reason(None, len(s))
    n_unique = present.nunique()
    if n_unique == 1:
        return constant_reason(present.iloc[0], len(s) - len(present))
    if pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.BooleanDtype):
        return None
    if n_unique > max_levels:
        text = present.astype(str)
        if text.str.match(r"^\s*[\[{]").mean() >= 0.9:
            return AsideReason.of(Aside.TOO_MANY_LEVELS, f"lists/dicts with {n_unique} distinct "
                                  f"values", f"more than max_levels={max_levels}")
        return AsideReason.of(Aside.TOO_MANY_LEVELS, "too many levels",
                              f"{n_unique} > max_levels={max_levels}")
    return None


def constant_reason(value, missing: int) -> AsideReason:
    """Why a column with one present ``value`` (None: none at all) in the runs is set aside."""
    if value is None:
        return AsideReason.of(Aside.ALL_MISSING, "missing in every analysed run")
    return AsideReason.of(Aside.CONSTANT, "constant", level_text(value)
                          + (f", missing in {missing} runs" if missing else ""))


def constant_floats(frame: pd.DataFrame, names: list[str]) -> dict[str, tuple[float | None, int]]:
    """The float ``params.*`` columns of ``frame`` among ``names`` with at most one distinct
    present value, found for all of them at once (20,000 constant columns took a pandas call
    each): name -> (the value, or None when missing in every run; how many runs miss it)."""
    cols = [p for p in names if frame[PARAM + p].dtype == np.float64]
    if not cols or not len(frame):
        return {}
    block = frame[[PARAM + p for p in cols]].to_numpy(dtype=float)
    nan = np.isnan(block)
    lo = np.where(nan, np.inf, block).min(axis=0)
    hi = np.where(nan, -np.inf, block).max(axis=0)
    missing = nan.sum(axis=0)
    out: dict[str, tuple[float | None, int]] = {}
    for j in np.flatnonzero((missing == len(block)) | (lo == hi)):
        out[cols[j]] = (None if missing[j] == len(block) else float(lo[j]), int(missing[j]))
    return out


def outcome_columns(kept: pd.DataFrame, candidates: list[str], *, seed: str | None,
                     forced: list[str]) -> dict[str, Aside]:
    """The candidate columns that are outcomes of the runs, by name or by values
    (:func:`analysis.outcomes.varies_like_an_outcome` for each numeric candidate against the
    others not found so far, in order). Linear in the columns: the columns that cannot be an
    outcome by value (not nearly distinct) are grouped once, and a nearly distinct other column
    that alone tells more than half the runs apart settles a candidate without grouping."""
    found: dict[str, Aside] = {}
    for p in candidates:
        if p not in forced and is_number(kept[PARAM + p]) and outcomes.named_outcome(p):
            found[p] = Aside.OUTCOME_NAME
    rest = [p for p in candidates if p not in found]
    seeds = kept[PARAM + seed] if seed is not None else None
    if seeds is None or seeds.nunique() < 2 or len(rest) < 2:
        return found
    tested = [p for p in rest if p not in forced and is_number(kept[PARAM + p])
              and outcomes.nearly_distinct(kept[PARAM + p])]
    fixed = [kept[PARAM + q].to_numpy() for q in rest if q not in tested]
    base = [group_ids(fixed)] if fixed else []
    rows = len(kept)
    spread = {q: n_groups([kept[PARAM + q].to_numpy()]) for q in tested}
    for p in tested:
        others = [q for q in tested if q != p and q not in found]
        if any(spread[q] > rows / 2 for q in others):
            continue  # that column alone tells more than half the runs apart: no repeats
        columns = base + [kept[PARAM + q].to_numpy() for q in others]
        if columns and outcomes.others_repeat_under_seeds(columns, seeds.to_numpy()):
            found[p] = Aside.OUTCOME_VALUES
    return found


def outcome_note(params: list[str], *, csv: bool = False) -> str:
    """The note for columns set aside as outcomes, with how to force one in."""
    s = "s" if len(params) > 1 else ""
    return (f"Set aside as outcome{s} of the runs, not hyperparameters: {', '.join(params)}; "
            f"to analyse one as a hyperparameter, pass --param NAME"
            + (" (in a CSV without params./metrics. prefixes --param lists the hyperparameters, "
               "so name the others too)" if csv else "") + ".")
