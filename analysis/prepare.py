"""Make a run table ready for analysis: pick the target, drop unusable runs, sort the columns
into hyperparameters and everything else, and encode a design matrix.

Every step taken is recorded as a plain sentence in :attr:`Prepared.notes`. All work is done
column-wise with pandas/numpy (no loop over runs), so 100k runs x 50 params take seconds.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import PARAM, RunTable
from sweepsight.analysis.aliases import alias_groups
from sweepsight.analysis.budget import budget_filter
from sweepsight.analysis.columns import (constant_floats, constant_reason, not_a_param,
                                         outcome_columns, outcome_note, unusable)
from sweepsight.analysis.conditional import find_conditions
from sweepsight.analysis.direction import infer_direction
from sweepsight.analysis.encoding import encode_design, levels_if
from sweepsight.analysis.outcomes import is_number
from sweepsight.analysis.prepared import OUTCOMES, Aside, AsideReason, Prepared
from sweepsight.analysis.scale import HUGE, HUGE_REASON, SCALES, Scale, choose_scale, overflowing

MIN_RUNS = 3
RUNNING = "run still running (its metric is partial)"


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
    finite = reason == ""
    huge = pd.Series(False, index=frame.index)
    huge[finite] = overflowing(y_all[finite].to_numpy(dtype=float), metric_scale)
    reason[huge] = HUGE_REASON
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
    label: dict[str, str] = {}  # the short reason the notes group set-aside columns by

    def put(p: str, why: AsideReason) -> None:
        set_aside[p], kind[p], label[p] = why.text, why.kind, why.label

    if seed is not None:
        put(seed, AsideReason.of(Aside.SEED, "random seed",
                                 "repeats of a configuration, not a choice"))
    if budget is not None:
        put(budget, AsideReason.of(Aside.BUDGET, "training budget",
                                   "reported per budget level, not a hyperparameter"))
    kept_frame = frame.loc[keep]
    constant = constant_floats(kept_frame, all_params)  # not_a_param has nothing to say of them
    for p in all_params:
        if p in set_aside or p in forced or p in constant:
            continue
        found = not_a_param(p, kept_frame[PARAM + p], max_levels=max_levels)
        if found is not None:
            put(p, found)

    # 3. Budgets: keep each configuration's runs at the highest budget it reached.
    budget_counts = None
    usable = keep.copy()  # before the budget filter: the whole sweep's finished runs
    if budget is not None:
        keep, budget_counts, note = budget_filter(frame, keep, budget, [
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
    constant = constant_floats(kept, [p for p in all_params if p not in set_aside])
    for p in all_params:
        if p in set_aside:
            continue
        found = (constant_reason(*constant[p]) if p in constant
                 else unusable(kept[PARAM + p], max_levels=max_levels))
        if found is not None:
            put(p, found)
        else:
            candidates.append(p)
    for p, what in outcome_columns(kept, candidates, seed=seed, forced=forced).items():
        candidates.remove(p)
        by_name = "an outcome of the run by its name"
        put(p, AsideReason(what, by_name, f"{by_name} (a time, memory or the step it ended at), "
                           "not a choice") if what is Aside.OUTCOME_NAME else
            AsideReason.of(what, f"an outcome of the run: a different value in "
                           f"{kept[PARAM + p].nunique()} of {len(kept)} runs, also between "
                           "seeds of one configuration"))
    if forced:
        notes.append(f"Analysed as hyperparameter{'s' if len(forced) > 1 else ''} because named "
                     f"with --param: {', '.join(forced)}.")
    values = {p: kept[PARAM + p] for p in candidates}
    values, infinite, notes_inf = _infinite_values(values, max_levels)
    notes.extend(notes_inf)

    # 5. Aliases: identical partitions of the runs, judged on every usable run of the sweep
    # (a budget filter can leave so few configurations that independent knobs move together).
    aliases: dict[str, list[str]] = {}
    pool = values if budget is None else {
        p: levels_if(frame.loc[usable, PARAM + p].reset_index(drop=True), p in infinite)
        for p in values}
    groups = alias_groups(pool)
    merged_values: dict[str, pd.Series] = {}
    for group in groups:
        if len(group) == 1:
            merged_values[group[0]] = values[group[0]]
            continue
        name = " = ".join(group)
        aliases[name] = list(group)
        merged_values[name] = values[group[0]]
        for other in group[1:]:
            put(other, AsideReason.of(Aside.ALIAS, f"alias of {group[0]}",
                                      f"same runs in every level; merged as {name!r}"))
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
        for p in set_aside:
            grouped.setdefault(label[p], []).append(p)
        notes.append("Set aside (not analysed as hyperparameters): " + "; ".join(
            f"{', '.join(ps[:8])}{' and %d more' % (len(ps) - 8) if len(ps) > 8 else ''}: {why}"
            for why, ps in grouped.items()) + ".")
    outcome_params = [p for p, k in kind.items() if k in OUTCOMES]
    if outcome_params:
        notes.append(outcome_note(outcome_params, csv=table.meta.source == "csv"))
    if not values:
        raise SweepError(_nothing_varies(set_aside, kind, n_kept, where))

    # 6. Types.
    numeric = [p for p, s in values.items()
               if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)]
    categorical = [p for p in values if p not in numeric]

    # 7. Conditional hyperparameters: missing exactly at some levels of another one.
    conditions = find_conditions(values, categorical, max_levels=max_levels, aliases=aliases)
    conditional = {p: c.describe() for p, c in conditions.items()}
    for p, text in conditional.items():
        notes.append(f"{p} is conditional: {text}; its inactive runs are flagged, not dropped.")

    # 8. Target scale (the design tells a diverged run from one its hyperparameters explain).
    X, feature_param, log_scaled, enc_notes = encode_design(values, numeric, categorical)
    y, choice = choose_scale(y_raw.to_numpy(), metric_scale, X.to_numpy(dtype=float))
    ids, names = kept["run_id"].astype(str).to_numpy(), kept["name"].astype(str).to_numpy()
    choice = dataclasses.replace(choice, extreme_runs=tuple(ids[i] for i in choice.extreme))
    scale, scale_reason = choice.name, choice.sentence()
    notes.append(f"Metric scale {scale}: {scale_reason}.")
    if choice.extreme:
        listed = [names[i] for i in choice.extreme[:10]]
        more = len(choice.extreme) - len(listed)
        notes.append(f"Runs that made the scale choice (beyond 3 IQR"
                     f"{' on log10' if choice.tried is Scale.LOG else ''}): {', '.join(listed)}"
                     + (f" and {more} more" if more else "") + ".")

    # 9. Encoding (made above).
    notes.extend(enc_notes)

    columns = {"run_id": kept["run_id"].to_numpy(), "name": kept["name"].to_numpy()}
    for p, s in values.items():
        columns[p] = s.to_numpy() if not isinstance(s.dtype, pd.BooleanDtype) else s.array
    if seed is not None:
        columns[seed] = kept[PARAM + seed].to_numpy()
    columns["y"] = y
    columns["y_raw"] = y_raw.to_numpy()
    if budget is not None:
        columns[budget] = kept[PARAM + budget].to_numpy()
    runs = pd.DataFrame(columns)  # at once: a column at a time fragments a wide frame
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


def _infinite_values(values: dict[str, pd.Series], max_levels: int
                     ) -> tuple[dict[str, pd.Series], list[str], list[str]]:
    """Numeric columns holding ±inf: analysed as categorical (inf a level of its own) when they
    have at most ``max_levels`` values, else kept numeric with the infinite values read as
    missing (as levels they would make ``max_levels``-fold more one-hot columns and neighbour
    pairs growing with the square of the levels). Returns the values, the categorical ones and
    the notes."""
    as_levels, as_missing, notes = [], [], []
    out = dict(values)
    for p, v in values.items():
        if not is_number(v):
            continue
        inf = np.isinf(v.to_numpy(float))
        if not inf.any():
            continue
        if v.nunique() <= max_levels:
            as_levels.append(p)
            out[p] = levels_if(v, True)
        else:
            as_missing.append(f"{p} ({int(inf.sum()):,} runs, {v.nunique():,} values)")
            out[p] = v.where(~inf)
    if as_levels:
        notes.append(f"Analysed as categorical, since some values are infinite: {', '.join(as_levels)}.")
    if as_missing:
        notes.append("Infinite values read as missing, since as categorical levels there would "
                     f"be more than max_levels={max_levels}: {'; '.join(as_missing)}.")
    return out, as_levels, notes


def _nothing_varies(set_aside: dict[str, str], kind: dict[str, Aside], n: int, where: str) -> str:
    """The message when no hyperparameter is left to analyse: what was set aside, and the fix
    that fits (logged but constant is not the same as not logged)."""
    constant = [p for p, k in kind.items() if k is Aside.CONSTANT]
    shown = ", ".join(sorted(set_aside)[:20]) + (f" and {len(set_aside) - 20} more"
                                                  if len(set_aside) > 20 else "")
    others = [p for p, k in kind.items() if k not in (Aside.CONSTANT, Aside.SEED, Aside.BUDGET)]
    if constant and not others:
        fix = (f"the hyperparameters are logged ({len(constant)}) but each has one value in every "
               "analysed run, so this is one configuration: sweep at least one of them over two "
               "or more values")
    elif constant:
        fix = (f"{len(constant)} logged hyperparameter(s) have one value in every analysed run; "
               "sweep one of them over two or more values, or pass a set-aside one with --param")
    elif set_aside:
        fix = "pass the ones that are hyperparameters with --param"
    else:
        fix = "log the hyperparameters as params./config. columns, or pass them with --param"
    return (f"no hyperparameter varies across the {n} analysed runs of {where}; set aside: "
            f"{shown or '(none)'}. {fix[0].upper() + fix[1:]}.")
