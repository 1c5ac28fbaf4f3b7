"""Make a run table ready for analysis: pick the target, drop unusable runs, sort the columns
into hyperparameters and everything else, and encode a design matrix.

Every step taken is recorded as a plain sentence in :attr:`Prepared.notes`. All work is done
column-wise with pandas/numpy (no loop over runs), so 100k runs x 50 params take seconds.
"""
from __future__ import annotations

import dataclasses
import re
import zlib

import numpy as np
import pandas as pd
from scipy import stats

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import PARAM, RunTable
from sweepsight.analysis import outcomes
from sweepsight.analysis.grouping import group_ids
from sweepsight.analysis.prepared import OUTCOMES, Aside, Condition, Prepared
from sweepsight.analysis.scale import Scale, ScaleChoice, ScaleReason, climb

MIN_RUNS = 3
SCALES = ("auto", "raw", "log", "rank")

# Words of a metric name that say which way is better (matched from the last word back; a
# phrase is its singular words run together: bits_per_dim -> "bitperdim", top1 -> "top1").
MINIMIZE = {
    "loss", "error", "err", "mse", "rmse", "mae", "mape", "smape", "perplexity", "ppl", "nll",
    "regret", "time", "latency", "cost", "runtime", "duration", "logloss", "crossentropy",
    "wer", "cer", "fid", "energy", "memory", "kl", "kld", "bpd", "bpc", "bpb", "bitperdim",
    "bitperchar", "bitperbyte", "xent", "distance", "dist",
}
MAXIMIZE = {
    "acc", "accuracy", "f1", "auc", "auroc", "auprc", "score", "reward", "return",
    "precision", "recall", "r2", "bleu", "rouge", "map", "iou", "miou", "ndcg", "mrr", "top1",
    "top5", "hit", "throughput", "likelihood", "elbo", "psnr", "ssim", "dice",
}
# Words that, before a metric word, turn its direction round (neg_log_likelihood).
NEGATED = {"neg", "negative", "minus"}
# Words of a name: camelCase humps, runs of digits; "/", ".", "_", "-" and spaces separate.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# Heavy-tail rule (metric_scale="auto"); see _choose_scale.
RATIO_LIMIT = 100.0
SKEW_LIMIT = 2.0
FAR_OUT = 3.0  # Tukey's "far out" fence, in IQRs beyond the quartiles
LOG_RANGE = 100.0  # numeric params spanning at least this max/min ratio are analysed as log10

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
MISSING_LEVEL = "(missing)"
RUNNING = "run still running (its metric is partial)"
#: Target values beyond this size are left out like inf when the metric is analysed as logged:
#: their squares and sums overflow float64 (1e308 beside -1e308 crashed the forest's R²).
#: On the log10 or rank scale (a few diverged runs at 1e250) they are kept.
HUGE = 1e150
HUGE_REASON = f"target beyond ±{HUGE:.0e} (arithmetic on it overflows)"


def prepare(
    table: RunTable,
    *,
    target: str,
    direction: str | None = None,
    metric_scale: str = "auto",
    budget: str | None = None,
    at_budget: float | str | None = None,
    max_levels: int = 50,
) -> Prepared:
    """Prepare ``table`` for analysis of the metric ``target``.

    Parameters
    ----------
    table
        The run table from an adapter.
    target
        Metric name (without ``metrics.``); an unknown name fails listing the metrics.
    direction
        ``"maximize"`` or ``"minimize"``; inferred from the metric name when ``None``.
    metric_scale
        ``"auto"`` (log10 or ranks when the metric is heavy-tailed), ``"raw"``, ``"log"``, ``"rank"``.
    budget
        Hyperparameter holding the training budget (epochs, steps); defaults to ``table.meta.budget``.
    at_budget
        ``None``: each configuration at the highest budget it reached (the default). A budget
        value, or ``"max"`` for the sweep's largest: only the runs at that budget, so that like
        is compared with like (configurations stopped before it are left out).
    max_levels
        Categoricals with more distinct values are set aside.

    Returns
    -------
    Prepared
        See :class:`analysis.prepared.Prepared`; ``notes`` lists every step taken. Failed,
        crashed and still running runs, and NaN/inf targets, are left out (``excluded``).

    Raises
    ------
    SweepError
        An unknown target, fewer than 3 usable runs, a target with one value in every
        analysed run, no varying hyperparameter, a bad budget or scale.
    """
    notes: list[str] = []
    y_all = table.metric(target)
    direction, direction_reason = infer_direction(target, direction)
    notes.append(f"Target {target!r}: {direction_reason}.")
    if metric_scale not in SCALES:
        raise SweepError(f"unknown metric scale {metric_scale!r}; valid scales: {', '.join(SCALES)}.")
    frame = table.frame
    where = table.meta.query.get("path") or table.meta.source
    all_params = table.params

    seed = table.meta.seed if table.meta.seed in all_params else None
    budget = budget if budget is not None else table.meta.budget
    if budget is not None and budget not in all_params:
        raise SweepError(
            f"budget column {budget!r} is not a hyperparameter of {where}; hyperparameters: "
            f"{', '.join(sorted(all_params)) or '(none)'}."
        )

    # 1. Runs that cannot be analysed.
    state = frame["state"].astype(str)
    reason = pd.Series("", index=frame.index, dtype=object)
    reason[state.isin(["failed", "crashed"])] = "run " + state + " (state)"
    reason[state == "running"] = RUNNING
    reason[(reason == "") & y_all.isna()] = "missing target"
    reason[(reason == "") & np.isinf(y_all.to_numpy(dtype=float))] = "infinite target"
    huge = (reason == "") & (y_all.abs() > HUGE)
    usable = y_all[reason == ""].to_numpy(dtype=float)
    # beside values of ordinary size (a metric in huge units everywhere is scaled, not dropped)
    beside = len(usable) > 0 and float(np.median(np.abs(usable))) <= HUGE
    if huge.any() and beside and _raw_scale(usable, metric_scale):
        reason[huge] = HUGE_REASON
    else:  # log10 or ranks tame them (diverged runs at 1e250): nothing overflows
        huge[:] = False
    if huge.any():
        shown = ", ".join(map(str, frame.loc[huge, "name"].head(5))) + (" ..." if huge.sum() > 5 else "")
        notes.append(f"Left out {int(huge.sum())} run(s) whose target is beyond ±{HUGE:.0e}, "
                     f"where arithmetic overflows (like inf): {shown}.")
    if budget is not None:
        b = table.param(budget)
        if not pd.api.types.is_numeric_dtype(b) or pd.api.types.is_bool_dtype(b):
            example = f" (e.g. {b.dropna().iloc[0]!r})" if b.notna().any() else " (it is empty)"
            raise SweepError(
                f"budget column {budget!r} of {where} is not numeric{example}; "
                "pass the column holding epochs/steps/samples with --budget."
            )
        reason[(reason == "") & b.isna()] = "missing budget"
    keep = reason == ""

    # 2. Columns that are not hyperparameters (seed, budget, identifiers) whatever the runs.
    set_aside: dict[str, str] = {}
    kind: dict[str, Aside] = {}
    forced = [p for p in table.meta.forced_params if p in all_params and p not in (seed, budget)]
    if seed is not None:
        set_aside[seed] = "random seed (repeats of a configuration, not a choice)"
        kind[seed] = Aside.SEED
    if budget is not None:
        set_aside[budget] = "training budget (reported per budget level, not a hyperparameter)"
        kind[budget] = Aside.BUDGET
    kept_frame = frame.loc[keep]
    for p in all_params:
        if p in set_aside or p in forced:
            continue
        what, why = _not_a_param(p, kept_frame[PARAM + p], max_levels=max_levels)
        if what is not None:
            set_aside[p], kind[p] = why, what

    # 3. Budgets: keep each configuration's runs at the highest budget it reached.
    budget_counts = None
    usable = keep.copy()  # before the budget filter: the whole sweep's finished runs
    if budget is not None:
        keep, budget_counts, note = _budget_filter(frame, keep, budget, [
            p for p in all_params if p not in set_aside], at_budget=at_budget, where=where)
        reason[(reason == "") & ~keep] = ("lower budget" if at_budget is None
                                          else "other budget level")
        notes.append(note)
    elif at_budget is not None:
        raise SweepError(f"--at-budget {at_budget} needs --budget NAME: the hyperparameter "
                         "holding the budget (epochs, steps).")

    excluded = pd.DataFrame({
        "run_id": frame.loc[~keep, "run_id"].to_numpy(),
        "name": frame.loc[~keep, "name"].to_numpy(),
        "reason": reason[~keep].to_numpy(),
    })
    n_total, n_kept = len(frame), int(keep.sum())
    if len(excluded):
        counts = excluded["reason"].value_counts()
        notes.append(
            f"Excluded {len(excluded):,} of {n_total:,} runs ("
            + "; ".join(f"{r}: {n:,}" for r, n in counts.items()) + ")."
        )
    if n_kept < MIN_RUNS:
        detail = "; ".join(f"{r}: {n:,}" for r, n in excluded["reason"].value_counts().items())
        raise SweepError(
            f"only {n_kept} of {n_total} runs of {where} can be analysed for {target!r} "
            f"(excluded: {detail or 'none'}); at least {MIN_RUNS} finished runs with a finite "
            "target are needed."
        )

    kept = frame.loc[keep].reset_index(drop=True)
    y_raw = kept[f"metrics.{target}"].astype(float)
    if y_raw.nunique() == 1:
        raise SweepError(_constant_target(table, target, float(y_raw.iloc[0]), n_kept, where))

    # 4. Hyperparameters: constant, too many levels etc. on the analysed runs.
    candidates: list[str] = []
    for p in all_params:
        if p in set_aside:
            continue
        what, why = _unusable(kept[PARAM + p], max_levels=max_levels)
        if what is not None:
            set_aside[p], kind[p] = why, what
        else:
            candidates.append(p)
    for p, what in _outcome_columns(kept, candidates, seed=seed, forced=forced).items():
        candidates.remove(p)
        kind[p] = what
        set_aside[p] = ("an outcome of the run by its name (a time, memory or the step it ended "
                        "at), not a choice" if what is Aside.OUTCOME_NAME else
                        f"an outcome of the run: a different value in {kept[PARAM + p].nunique()} "
                        f"of {len(kept)} runs, also between seeds of one configuration")
    if forced:
        notes.append(f"Analysed as hyperparameter{'s' if len(forced) > 1 else ''} because named "
                     f"with --param: {', '.join(forced)}.")
    values = {p: kept[PARAM + p] for p in candidates}
    infinite = [p for p, v in values.items() if _is_number(v) and np.isinf(v.to_numpy(float)).any()]
    values = {p: _levels_if(v, p in infinite) for p, v in values.items()}
    if infinite:
        notes.append(f"Analysed as categorical, since some values are infinite: {', '.join(infinite)}.")

    # 5. Aliases: identical partitions of the runs, judged on every usable run of the sweep
    # (a budget filter can leave so few configurations that independent knobs move together).
    aliases: dict[str, list[str]] = {}
    pool = values if budget is None else {
        p: _levels_if(frame.loc[usable, PARAM + p].reset_index(drop=True), p in infinite)
        for p in values}
    groups = _alias_groups(pool)
    merged_values: dict[str, pd.Series] = {}
    for group in groups:
        if len(group) == 1:
            merged_values[group[0]] = values[group[0]]
            continue
        name = " = ".join(group)
        aliases[name] = list(group)
        merged_values[name] = values[group[0]]
        for other in group[1:]:
            set_aside[other] = f"alias of {group[0]} (same runs in every level; merged as {name!r})"
            kind[other] = Aside.ALIAS
        notes.append(
            f"{' and '.join(group)} take the same value (up to relabelling) in every run, so they "
            f"are analysed as one hyperparameter {name!r} with the values of {group[0]}."
        )
    values = merged_values
    reserved = {"run_id", "name", "y", "y_raw", seed, budget}
    for p in [p for p in values if p in reserved]:
        values[f"{p} (param)"] = values.pop(p)
        notes.append(f"Hyperparameter {p!r} is analysed as {p + ' (param)'!r}, since {p!r} "
                     "names a column of the analysed runs.")
    if set_aside:
        grouped: dict[str, list[str]] = {}
        for p, why in set_aside.items():
            grouped.setdefault(why.split(" (")[0], []).append(p)
        notes.append("Set aside (not analysed as hyperparameters): " + "; ".join(
            f"{', '.join(ps[:8])}{' and %d more' % (len(ps) - 8) if len(ps) > 8 else ''}: {why}"
            for why, ps in grouped.items()) + ".")
    outcome_params = [p for p, k in kind.items() if k in OUTCOMES]
    if outcome_params:
        notes.append(outcome_note(outcome_params, csv=table.meta.source == "csv"))
    if not values:
        raise SweepError(
            f"no hyperparameter varies across the {n_kept} analysed runs of {where}; "
            f"set aside: {', '.join(sorted(set_aside)) or '(none)'}. Log the hyperparameters as "
            "params./config. columns, or pass them with --param."
        )

    # 6. Types.
    numeric = [p for p, s in values.items()
               if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)]
    categorical = [p for p in values if p not in numeric]

    # 7. Conditional hyperparameters: missing exactly at some levels of another one.
    conditions = _conditional(values, categorical, max_levels=max_levels, aliases=aliases)
    conditional = {p: c.describe() for p, c in conditions.items()}
    for p, text in conditional.items():
        notes.append(f"{p} is conditional: {text}; its inactive runs are flagged, not dropped.")

    # 8. Target scale.
    y, choice = _choose_scale(y_raw.to_numpy(), metric_scale)
    ids, names = kept["run_id"].astype(str).to_numpy(), kept["name"].astype(str).to_numpy()
    choice = dataclasses.replace(choice, extreme_runs=tuple(ids[i] for i in choice.extreme))
    scale, scale_reason = choice.scale.value, choice.sentence()
    notes.append(f"Metric scale {scale}: {scale_reason}.")
    if choice.extreme:
        shown = [names[i] for i in choice.extreme[:10]]
        more = len(choice.extreme) - len(shown)
        notes.append(f"Runs that made the scale choice (beyond 3 IQR"
                     f"{' on log10' if choice.tried is Scale.LOG else ''}): {', '.join(shown)}"
                     + (f" and {more} more" if more else "") + ".")

    # 9. Encoding.
    X, feature_param, log_scaled, enc_notes = _encode(values, numeric, categorical)
    notes.extend(enc_notes)

    runs = pd.DataFrame({"run_id": kept["run_id"].to_numpy(), "name": kept["name"].to_numpy()})
    for p, s in values.items():
        runs[p] = s.to_numpy() if not isinstance(s.dtype, pd.BooleanDtype) else s.array
    if seed is not None:
        runs[seed] = kept[PARAM + seed].to_numpy()
    runs["y"] = y
    runs["y_raw"] = y_raw.to_numpy()
    if budget is not None:
        runs[budget] = kept[PARAM + budget].to_numpy()
    notes.append(
        f"Analysing {n_kept} runs and {len(values)} hyperparameter{'' if len(values) == 1 else 's'} "
        f"({len(numeric)} numeric, {len(categorical)} categorical) as {X.shape[1]} encoded "
        f"column{'' if X.shape[1] == 1 else 's'}."
    )
    return Prepared(
        target=target,
        direction=direction,
        direction_reason=direction_reason,
        metric_scale=scale,
        scale_reason=scale_reason,
        runs=runs,
        params=list(values),
        numeric=numeric,
        categorical=categorical,
        log_scaled=log_scaled,
        X=X,
        feature_param=feature_param,
        seed=seed,
        excluded=excluded,
        set_aside=set_aside,
        aliases=aliases,
        conditional=conditional,
        conditions=conditions,
        budget=budget,
        budget_counts=budget_counts,
        notes=notes,
        set_aside_kind=kind,
        forced=forced,
        scale=choice,
    )


def _outcome_columns(kept: pd.DataFrame, candidates: list[str], *, seed: str | None,
                     forced: list[str]) -> dict[str, Aside]:
    """The candidate columns that are outcomes of the runs, by name or by values."""
    found: dict[str, Aside] = {}
    for p in candidates:
        if p not in forced and _is_number(kept[PARAM + p]) and outcomes.named_outcome(p):
            found[p] = Aside.OUTCOME_NAME
    rest = [p for p in candidates if p not in found]
    seeds = kept[PARAM + seed] if seed is not None else None
    for p in rest:
        if p in forced or not _is_number(kept[PARAM + p]):
            continue
        others = {q: kept[PARAM + q] for q in rest if q != p and q not in found}
        if outcomes.varies_like_an_outcome(kept[PARAM + p], others, seed=seeds):
            found[p] = Aside.OUTCOME_VALUES
    return found


def outcome_note(params: list[str], *, csv: bool = False) -> str:
    """The note for columns set aside as outcomes, with how to force one in."""
    s = "s" if len(params) > 1 else ""
    return (f"Set aside as outcome{s} of the runs, not hyperparameters: {', '.join(params)}; "
            f"to analyse one as a hyperparameter, pass --param NAME"
            + (" (in a CSV without params./metrics. prefixes --param lists the hyperparameters, "
               "so name the others too)" if csv else "") + ".")


def infer_direction(target: str, direction: str | None = None) -> tuple[str, str]:
    """``(direction, reason)``: given, else read from the metric's name (last matching word)."""
    if direction is not None:
        d = str(direction).strip().lower()
        d = {"max": "maximize", "min": "minimize", "maximise": "maximize",
             "minimise": "minimize"}.get(d, d)
        if d not in ("maximize", "minimize"):
            raise SweepError(f"unknown direction {direction!r}; pass --direction maximize or minimize.")
        return d, f"{d} (given)"
    spans = [m.span() for m in _WORD.finditer(target)]
    words = metric_words(target)
    for end in range(len(words), 0, -1):
        for start in range(max(0, end - 3), end):  # the longest phrase ending here first
            phrase = "".join(words[start:end])
            if phrase not in MINIMIZE and phrase not in MAXIMIZE:
                continue
            d = "minimize" if phrase in MINIMIZE else "maximize"
            said = target[spans[start][0]:spans[end - 1][1]]
            negated = NEGATED & set(words[:start])
            if negated:  # neg_log_likelihood, sklearn's neg_mean_squared_error
                d = "maximize" if d == "minimize" else "minimize"
                return d, f"{d} (the name contains {said!r}, negated by {min(negated)!r})"
            return d, f"{d} (the name contains {said!r})"
    return "maximize", ("maximize (assumed: the name says neither; pass --direction minimize "
                        "if lower is better)")


def metric_words(name: str) -> list[str]:
    """The lower-case, singular words of a metric name: ``valLosses/top1`` -> val, loss, top, 1."""
    return [_singular(w.lower()) for w in _WORD.findall(name)]


def _singular(word: str) -> str:
    if word.endswith("sses"):
        return word[:-2]  # losses
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]  # errors, rewards, bits, returns
    return word


def _constant_target(table: RunTable, target: str, value: float, n: int, where: str) -> str:
    """The message for a target with one value in every analysed run, naming the metrics that vary."""
    usable = table.frame["state"].astype(str).isin(["finished", "other"])
    varying = [m for m in sorted(table.metrics) if m != target
               and table.metric(m)[usable].replace([np.inf, -np.inf], np.nan).nunique() > 1]
    fix = (f"pick another metric with --target ({', '.join(varying)} "
           f"{'varies' if len(varying) == 1 else 'vary'})" if varying
           else "no other metric of this sweep varies either; check what was logged")
    return (f"metric {target!r} is {value:.6g} in all {n} analysed runs of {where}, so no "
            f"hyperparameter can explain it; {fix}.")


def _levels_if(values: pd.Series, as_levels: bool) -> pd.Series:
    """``values`` as text levels (inf included, missing as None) when ``as_levels``, else as is:
    a numeric column holding inf has no place on a numeric axis."""
    if not as_levels:
        return values
    return values.map(_show).where(values.notna(), None).astype(object)


def _levels(s: pd.Series) -> pd.Series:
    """Non-missing values of a column as text (booleans as True/False)."""
    present = s.dropna()
    return present.astype(str)


def _not_a_param(p: str, s: pd.Series, *, max_levels: int) -> tuple[Aside | None, str]:
    """Why ``p`` is not a hyperparameter whatever the runs (an identifier, path, timestamp)."""
    last = p.split(".")[-1]
    present = s.dropna()
    distinct = pd.Series(present.unique())
    n_unique, n = len(distinct), len(present)
    if n_unique <= 1:
        return None, ""  # constant or all missing: said later, on the analysed runs
    if _WANDB.search(p):
        return Aside.TRACKER, "tracker internals (name starts with _ or mentions wandb)"
    if _ID_NAME.match(last) or ("." not in p and _ID_NAME_TOP.match(p)):
        return Aside.IDENTIFIER, "identifier/path/timestamp by its name"
    if _FILE_NAME.match(last) and n_unique > max(3, 0.1 * n):
        return Aside.PATH, f"file path by its name, with {n_unique} distinct values in {n} runs"
    if pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.BooleanDtype):
        return None, ""
    uniques = distinct.astype(str)
    for label, pattern in _PATTERNS.items():
        if uniques.str.match(pattern).mean() >= 0.9:
            return Aside.IDENTIFIER, f"values look like {label} ({n_unique} distinct)"
    if n_unique > max(3, 0.1 * n) and uniques.str.contains(_PATH).mean() >= 0.9:
        return Aside.PATH, f"values look like paths ({n_unique} distinct in {n} runs)"
    if n_unique > 5 and n_unique >= 0.9 * n:
        return Aside.IDENTIFIER, (f"identifier (a different value in nearly every run: "
                                  f"{n_unique} distinct in {n} runs)")
    return None, ""


def _unusable(s: pd.Series, *, max_levels: int) -> tuple[Aside | None, str]:
    """Why ``s`` cannot be analysed on these runs: all missing, constant, too many levels."""
    present = s.dropna()
    if len(present) == 0:
        return Aside.ALL_MISSING, "missing in every analysed run"
    n_unique = present.nunique()
    if n_unique == 1:
        missing = len(s) - len(present)
        value = _show(present.iloc[0])
        return Aside.CONSTANT, (f"constant ({value}"
                                + (f", missing in {missing} runs)" if missing else ")"))
    if pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.BooleanDtype):
        return None, ""
    if n_unique > max_levels:
        text = present.astype(str)
        if text.str.match(r"^\s*[\[{]").mean() >= 0.9:
            return Aside.TOO_MANY_LEVELS, (f"lists/dicts with {n_unique} distinct values (more "
                                           f"than max_levels={max_levels})")
        return Aside.TOO_MANY_LEVELS, f"too many levels ({n_unique} > max_levels={max_levels})"
    return None, ""


def _is_number(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _monotone(ua: np.ndarray, ub: np.ndarray, order: np.ndarray) -> bool:
    """Whether paired distinct values (``ua[k]`` <-> ``ub[k]``) lie on a monotone curve;
    ``order`` sorts ``ua`` (NaN last)."""
    na, nb = np.isnan(ua), np.isnan(ub)
    if (na != nb).any():
        return False
    b = ub[order][: int((~na).sum())]
    d = np.diff(b)
    return bool(np.all(d > 0) or np.all(d < 0))


def _alias_groups(values: dict[str, pd.Series]) -> list[list[str]]:
    """Groups of params that are one-to-one relabellings of each other.

    Two columns split the runs identically exactly when their first-appearance factorize codes
    are equal, so candidates are bucketed by a hash of those codes (linear in params x runs).
    Two numeric columns must moreover be monotone in each other: in a random search every
    continuous param splits the runs into the same configurations without being an alias.
    """
    buckets: dict[tuple, list[str]] = {}
    codes: dict[str, np.ndarray] = {}
    uniques: dict[str, np.ndarray] = {}
    # Categoricals first, so that a merged name keeps words (adam/sgd) over codes (0/1).
    ordered = sorted(values, key=lambda p: _is_number(values[p]))
    for p in ordered:
        c, u = pd.factorize(values[p], use_na_sentinel=False)
        codes[p] = np.asarray(c, dtype=np.int64)
        if _is_number(values[p]):
            uniques[p] = np.asarray(u, dtype=float)
        key = (len(u), zlib.crc32(codes[p].tobytes()))
        buckets.setdefault(key, []).append(p)
    sort_order: dict[str, np.ndarray] = {}

    def monotone(a: str, b: str) -> bool:
        # Equal codes pair the k-th distinct value of a with the k-th of b.
        if a not in sort_order:
            sort_order[a] = np.argsort(uniques[a], kind="stable")
        return _monotone(uniques[a], uniques[b], sort_order[a])

    groups: list[list[str]] = []
    for members in buckets.values():
        while members:
            group, rest = [members[0]], []
            for q in members[1:]:
                same = np.array_equal(codes[group[0]], codes[q])  # guards hash collisions
                if same and q in uniques:
                    same = all(monotone(g, q) for g in group if g in uniques)
                (group if same else rest).append(q)
            groups.append(group)
            members = rest
    order = {p: i for i, p in enumerate(values)}
    return sorted(groups, key=lambda g: min(order[p] for p in g))


def _conditional(values: dict[str, pd.Series], categorical: list[str], *,
                 max_levels: int, aliases: dict[str, list[str]]) -> dict[str, Condition]:
    """Params whose missingness is fully determined by the level of another param."""
    out: dict[str, Condition] = {}
    n = len(next(iter(values.values())))
    # Candidate explainers: fewest levels first, complete columns before ones with gaps.
    explainers = []
    for c, s in values.items():
        k = s.nunique(dropna=False)
        if k <= min(max_levels, max(2, n // 2)):
            explainers.append((bool(s.isna().any()), c not in categorical, k, c))
    explainers.sort()
    cache: dict[str, tuple[np.ndarray, list]] = {}
    for p, s in values.items():
        m = s.isna().to_numpy()
        n_missing = int(m.sum())
        if n_missing < 2 or n - n_missing < 2:  # one run either way could match by chance
            continue
        for _, _, k, c in explainers:
            if c == p:
                continue
            if c not in cache:
                codes, uniques = pd.factorize(values[c], use_na_sentinel=False)
                cache[c] = (np.asarray(codes), list(uniques))
            codes, uniques = cache[c]
            total = np.bincount(codes, minlength=len(uniques))
            gone = np.bincount(codes, weights=m, minlength=len(uniques))
            if np.all((gone == 0) | (gone == total)):
                c = aliases.get(c, [c])[0]
                inactive = [_show(u) for u, g in zip(uniques, gone) if g > 0]
                active = [_show(u) for u, g in zip(uniques, gone) if g == 0]
                out[p] = Condition(parent=c, inactive_levels=tuple(inactive),
                                   active_levels=tuple(active))
                break
    return out


def _show(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return MISSING_LEVEL
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choose_scale(y: np.ndarray, metric_scale: str) -> tuple[np.ndarray, ScaleChoice]:
    """The target on the analysis scale and the typed choice (:mod:`analysis.scale`).

    Rule for ``"auto"`` (documented in the report): the metric is heavy-tailed when it is
    positive and spans more than 100x on either side of its median (max/median or median/min
    > 100), or when its sample skewness exceeds 2 in size *and* some value lies beyond Tukey's
    far-out fence (3 IQR past a quartile). Then the ladder of :func:`analysis.scale.climb`:
    log10 for a positive metric with a heavy right tail (or a 100x span), ranks (mid-ranks
    scaled to (0, 1]) only when a few extreme runs own the variance even so.
    """
    y = np.asarray(y, dtype=float)
    positive = bool(np.all(y > 0))
    if metric_scale == "raw":
        return y, ScaleChoice(Scale.RAW, ScaleReason.GIVEN, "raw")
    if metric_scale == "log":
        if not positive:
            raise SweepError(
                f"--metric-scale log needs a positive metric, but its minimum is {y.min():.4g}; "
                "use --metric-scale rank instead."
            )
        return np.log10(y), ScaleChoice(Scale.LOG, ScaleReason.GIVEN, "log")
    if metric_scale == "rank":
        return _rank(y), ScaleChoice(Scale.RANK, ScaleReason.GIVEN, "rank")
    heavy, detail, by_ratio = _heavy_tail(y)
    right = positive and (by_ratio or _skew(y) > 0)
    choice = climb(y, heavy=heavy, tail=detail, right=right)
    out = {Scale.RAW: y, Scale.LOG: np.log10(y) if positive else y, Scale.RANK: _rank(y)}
    return out[choice.scale], choice


def _raw_scale(y: np.ndarray, metric_scale: str) -> bool:
    """Whether ``y`` would be analysed as logged (where values beyond :data:`HUGE` overflow)."""
    try:
        return _choose_scale(y, metric_scale)[1].scale is Scale.RAW
    except SweepError:  # --metric-scale log of a non-positive metric: said later, in order
        return False


def _unit(y: np.ndarray) -> np.ndarray:
    """``y`` centred and divided by its largest deviation: moments without overflow."""
    y = np.asarray(y, dtype=float)
    if not len(y):
        return y
    big = np.max(np.abs(y))
    if big > 0 and np.isfinite(big):
        y = y / big  # first, so that y - median cannot overflow (1e308 and -1e308)
    d = y - np.median(y)
    top = np.max(np.abs(d))
    return d / top if top > 0 and np.isfinite(top) else d


def _skew(y: np.ndarray) -> float:
    """Sample skewness (biased, as ``scipy.stats.skew``) computed on :func:`_unit` values, so
    that neither 1e308 nor a mean near zero overflows; 0 for a constant."""
    c = _unit(y)
    c = c - c.mean()
    m2 = float(np.mean(c * c)) if len(c) else 0.0
    return float(np.mean(c ** 3) / m2 ** 1.5) if m2 > 0 else 0.0


def _heavy_tail(y: np.ndarray, *, ratio: bool = True) -> tuple[bool, str, bool]:
    """Whether ``y`` is heavy-tailed by the rule of :func:`_choose_scale`, the numbers, and
    whether the 100x ratio rule (rather than the skewness rule) said so."""
    if ratio and len(y) and np.all(y > 0):
        med = float(np.median(y))
        hi, lo = float(y.max()) / med, med / float(y.min())
        if hi > RATIO_LIMIT or lo > RATIO_LIMIT:
            what = f"max/median = {hi:.2g}" if hi >= lo else f"median/min = {lo:.2g}"
            return True, f"{what} > {RATIO_LIMIT:g}", True
    u = _unit(y)
    skew = _skew(u)
    q1, q3 = np.percentile(u, [25, 75])
    iqr = q3 - q1
    far = int(np.sum((u > q3 + FAR_OUT * iqr) | (u < q1 - FAR_OUT * iqr))) if iqr > 0 else 0
    detail = f"skewness {skew:.2g}, {far} value{'s' if far != 1 else ''} beyond 3 IQR"
    return abs(skew) > SKEW_LIMIT and far > 0, detail, False


def _rank(y: np.ndarray) -> np.ndarray:
    return stats.rankdata(y) / len(y)


def _budget_filter(frame: pd.DataFrame, keep: pd.Series, budget: str, config_params: list[str],
                   *, at_budget: float | str | None = None,
                   where: str = "the runs") -> tuple[pd.Series, pd.Series, str]:
    """Keep each configuration's runs at its highest budget (or only the runs at budget
    ``at_budget``); count configurations per level."""
    sub = frame.loc[keep]
    b = sub[PARAM + budget].astype(float)
    key = pd.Series(group_ids([sub[PARAM + p] for p in config_params], n=len(sub)), index=sub.index)
    config_max = b.groupby(key).max()
    levels = np.sort(b.unique())
    counts = pd.Series([int((config_max >= lv).sum()) for lv in levels],
                       index=pd.Index(levels, name=budget), name="configurations")
    reach = ", ".join(f"{_show(float(lv))}: {n}" for lv, n in counts.items())
    if at_budget is None:
        chosen = b == b.groupby(key).transform("max")
        note = (f"{budget} is the training budget: each of the {len(config_max)} configurations "
                f"is analysed at the highest {budget} it reached ({int((~chosen).sum())} runs at "
                f"lower budgets left out); configurations reaching each level: {reach}.")
        stopped = int((config_max < levels[-1]).sum()) if len(levels) else 0
        if stopped:
            note += (f" {stopped} configurations stopped before {budget} {_show(levels[-1])} are "
                     f"compared at a smaller {budget}: their metric mixes the hyperparameters' "
                     "effect with shorter training, which flatters whatever the scheduler let "
                     f"run longer. --at-budget max compares only runs at {budget} "
                     f"{_show(levels[-1])}, like with like.")
    else:
        level = levels[-1] if str(at_budget).lower() == "max" else _budget_value(at_budget)
        if not np.isclose(levels, level).any():
            raise SweepError(f"--at-budget {at_budget}: no run of {where} has {budget} = "
                             f"{_show(level)}; levels present: "
                             f"{', '.join(_show(float(v)) for v in levels)}.")
        chosen = pd.Series(np.isclose(b.to_numpy(), level), index=b.index)
        n_cfg = int(key[chosen].nunique())
        note = (f"{budget} is the training budget: only the runs at {budget} = {_show(level)} "
                f"are analysed ({n_cfg} of {len(config_max)} configurations reached it; "
                f"{int((~chosen).sum())} runs at other budgets left out). Like is compared with "
                "like, but only configurations the scheduler let through are in, so whatever "
                "decided who was stopped early cannot show here. Configurations reaching each "
                f"level: {reach}.")
    new_keep = keep.copy()
    new_keep.loc[sub.index] = chosen.to_numpy()
    return new_keep, counts, note


def _budget_value(text: float | str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise SweepError(f"--at-budget {text!r}: pass a budget value (e.g. 81) or max.") from None


def _log_scale(present: np.ndarray) -> bool:
    """Analyse a numeric param as log10 when it is positive, spans at least 100x, and its
    distinct values are less skewed on the log scale than on the raw one (log-spaced grids and
    log-uniform draws are; a uniform draw on [0, 1] is not, whatever its smallest value)."""
    lo, hi = present.min(), present.max()
    if not (lo > 0 and hi / lo >= LOG_RANGE):
        return False
    distinct = np.unique(present)
    if len(distinct) < 3:
        return True
    return abs(_skew(np.log10(distinct))) < abs(_skew(distinct))


def _encode(values: dict[str, pd.Series], numeric: list[str], categorical: list[str]
            ) -> tuple[pd.DataFrame, dict[str, str], list[str], list[str]]:
    """The design matrix: numeric (log10 where wide, mean-imputed, missing flags) + one-hot."""
    cols: dict[str, np.ndarray] = {}
    feature_param: dict[str, str] = {}
    log_scaled: list[str] = []
    notes: list[str] = []
    imputed: list[str] = []
    for p in values:
        s = values[p]
        if p in numeric:
            v = s.to_numpy(dtype=float, na_value=np.nan)
            present = v[~np.isnan(v)]
            if _log_scale(present):
                v = np.log10(v)
                log_scaled.append(p)
            miss = np.isnan(v)
            if miss.any():
                mean = float(np.nanmean(v))
                v = np.where(miss, mean, v)
                imputed.append(f"{p} ({int(miss.sum())} runs, mean {mean:.4g}"
                               + (" on log10 scale)" if p in log_scaled else ")"))
            cols[p] = v
            feature_param[p] = p
            if miss.any():
                cols[f"{p}__missing"] = miss.astype(float)
                feature_param[f"{p}__missing"] = p
        else:
            raw_codes, raw_uniques = pd.factorize(s, use_na_sentinel=True)
            labels = np.array([_show(u) for u in raw_uniques] + [MISSING_LEVEL], dtype=object)
            text = labels[np.where(raw_codes < 0, len(raw_uniques), raw_codes)]
            codes, uniques = pd.factorize(text, sort=True)
            onehot = np.zeros((len(text), len(uniques)))
            onehot[np.arange(len(text)), codes] = 1.0
            for j, level in enumerate(uniques):
                name = f"{p}={level}"
                cols[name] = onehot[:, j]
                feature_param[name] = p
    if log_scaled:
        notes.append("Analysed on a log10 scale (positive, spanning at least "
                     f"{LOG_RANGE:g}x and evenly spread on that scale): {', '.join(log_scaled)}.")
    if imputed:
        notes.append("Missing values replaced by the mean, with a <param>__missing indicator "
                     "column: " + "; ".join(imputed) + ".")
    if categorical:
        notes.append("Categorical hyperparameters one-hot encoded (every level, "
                     f"missing as {MISSING_LEVEL!r}): {', '.join(categorical)}.")
    X = pd.DataFrame(cols)
    return X, feature_param, log_scaled, notes
