"""Overview page: the sweep at a glance, the best configurations, parallel coordinates."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from sweepsight.reports.charts._common import (MAX_ROWS, fields, metric_encoding, metric_title,
                                    param_tooltips, runs_with_text_params, sample_rows)
from sweepsight.reports.format import MISSING
from sweepsight.reports.format import value as show_value
from sweepsight.reports.safe_text import short

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis


def _sweep_summary_data(analysis: Analysis) -> pd.DataFrame:
    """``item, value`` rows: runs, configurations, seeds per configuration, exclusions, target."""
    prep, table = analysis.prep, analysis.table
    configs = analysis.significance.run_configs
    n = configs["n"] if len(configs) else pd.Series([0])
    states = table.frame["state"].value_counts()
    rows = [
        ("runs in the sweep", f"{len(table.frame):,}"),
        ("runs analysed", f"{len(prep.runs):,}"),
        ("runs left out", f"{len(prep.excluded):,}"),
        ("run states", ", ".join(f"{s}: {c:,}" for s, c in states.items())),
        ("configurations", f"{len(configs):,}"),
        ("runs per configuration (min / median / max)",
         f"{int(n.min())} / {float(n.median()):g} / {int(n.max())}"),
        ("hyperparameters analysed", ", ".join(prep.params) or "(none)"),
        ("target", f"{prep.target}: {prep.direction_reason}"),
        ("metric scale", f"{prep.metric_scale} ({prep.scale_reason})"),
    ]
    if prep.seed:
        rows.append(("seed column", prep.seed))
    if prep.budget:
        counts = prep.budget_counts
        text = "" if counts is None else "; ".join(f"{k}: {v}" for k, v in counts.items())
        rows.append(("budget", f"{prep.budget} ({text})" if text else prep.budget))
    return pd.DataFrame(rows, columns=["item", "value"])


def _excluded_data(analysis: Analysis) -> pd.DataFrame:
    """Runs left out (``run_id, name, reason``), failed/crashed and NaN/inf targets included."""
    ex = analysis.prep.excluded
    return ex[["run_id", "name", "reason"]].reset_index(drop=True) if len(ex) else \
        pd.DataFrame(columns=["run_id", "name", "reason"])


def _set_aside_data(analysis: Analysis) -> pd.DataFrame:
    """``what, name, detail``: params set aside, aliases merged, conditional params."""
    prep = analysis.prep
    rows = [("set aside", p, r) for p, r in prep.set_aside.items()]
    rows += [("aliases merged", p, ", ".join(map(str, names))) for p, names in prep.aliases.items()]
    rows += [("conditional", p, d) for p, d in prep.conditional.items()]
    return pd.DataFrame(rows, columns=["what", "name", "detail"])


def _top_configs_data(analysis: Analysis, *, k: int = 10) -> pd.DataFrame:
    """The ``k`` best configurations: ``rank, configuration, mean, std, n`` (means as logged)."""
    c = analysis.significance.run_configs.sort_values("rank", kind="stable").head(k)
    mean = c["mean_raw"] if "mean_raw" in c else c["mean"]
    std = c["std_raw"] if "std_raw" in c else c["std"]  # as logged, like the mean
    out = pd.DataFrame({"rank": c["rank"].to_numpy(dtype=int),
                        "configuration": c["label"].astype(str).to_numpy(),
                        "mean": mean.to_numpy(dtype=float),
                        "std": std.to_numpy(dtype=float),
                        "n": c["n"].to_numpy(dtype=int)})
    scale = analysis.prep.metric_scale
    if scale != "raw":  # the ranking's own numbers, so that the order can be read
        out[f"mean ({scale} scale)"] = c["mean"].to_numpy(dtype=float)
    est = analysis.best_estimate
    if est is not None:  # the estimate from all runs, and the best configurations by it
        by = est.table.set_index("label")
        num = {s: by.loc[s] for s in by.index}  # the rows by label
        col = "estimate" if scale == "rank" else "estimate_raw"
        found = out["configuration"].map(lambda s: s in by.index)
        out["estimate (all runs)"] = [float(num[s][col]) if f else float("nan")
                                      for s, f in zip(out["configuration"], found)]
        out["estimate interval"] = [
            f"{float(num[s][col.replace('estimate', 'ci_low')]):.4g} to "
            f"{float(num[s][col.replace('estimate', 'ci_high')]):.4g}" if f else ""
            for s, f in zip(out["configuration"], found)]
        out["best by estimate"] = out["configuration"] == est.best.label
    return out


def estimate_data(analysis: Analysis, *, k: int = 5) -> pd.DataFrame | None:
    """The ``k`` best configurations by the estimate from all runs (``analysis.best_estimate``):
    ``configuration, n, observed, estimate, interval, rerun`` (as logged; the rank scale's
    own numbers when the metric was ranked); None without an estimate."""
    est = analysis.best_estimate
    if est is None:
        return None
    t = est.table.head(k)
    raw = est.metric_scale != "rank"
    pick = (lambda c: t[f"{c}_raw"]) if raw else (lambda c: t[c])
    again = {c.label for c in est.candidates} if est.lucky else set()
    return pd.DataFrame({
        "configuration": t["label"].astype(str).to_numpy(), "n": t["n"].to_numpy(dtype=int),
        "observed mean": pick("observed").to_numpy(dtype=float),
        "estimate": pick("estimate").to_numpy(dtype=float),
        "interval": [f"{lo:.4g} to {hi:.4g}" for lo, hi in zip(pick("ci_low"), pick("ci_high"))],
        "worth rerunning": [lab in again for lab in t["label"].astype(str)]})


def top_configs_caption(analysis: Analysis) -> str:
    """How the best-configurations table is ranked (and what its numbers are)."""
    scale = analysis.prep.metric_scale
    text = ("Mean ± standard deviation of the target as logged, over the runs (seeds) of each "
            "configuration; n is the number of runs.")
    if scale != "raw":
        text += (f" Ranked by the mean on the {scale} scale that the analysis uses (the metric "
                 "is heavy-tailed), so a few extreme runs can make the logged mean and spread "
                 "look out of order.")
    if analysis.significance.approximate:
        text += (" Configurations here are the exact hyperparameter values of the runs; the "
                 "significance page groups them into ranges.")
    if analysis.best_estimate is not None:
        text += (" The estimate (all runs) shrinks each configuration's mean toward what a "
                 "forest grown on the other configurations predicts for it, by how much its "
                 "own runs can be trusted (empirical Bayes): a single lucky run is pulled back; "
                 "the table below lists the best configurations by that estimate.")
    return text


AXIS_PX = 110  # width per axis of the parallel coordinates
TICK_CHARS = 24  # characters of a level shown beside its axis (the tooltip has all of it)


class ParallelData(NamedTuple):
    """``runs``: one row per run shown (``name``, ``y_raw``, text params under ``field_of``,
    ``pos_<field>`` in [0, 1] per axis); ``axes``: ``axis, title, field, log, kind`` in order;
    ``ticks``: ``axis, pos, label`` (cut to :data:`TICK_CHARS`), ``full``; ``caption``:
    sampling sentence."""

    runs: pd.DataFrame
    axes: pd.DataFrame
    ticks: pd.DataFrame
    field_of: dict
    caption: str


def _positions(values: pd.Series, *, numeric: bool, log: bool) -> tuple[np.ndarray, list]:
    """Positions in [0, 1] (n/a at -0.08) and ``(pos, label)`` ticks for one axis."""
    if numeric:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(v)
        if log:
            ok &= v > 0
        s = np.where(ok, np.log10(np.where(ok, v, 1.0)) if log else v, np.nan)
        lo, hi = (np.nanmin(s), np.nanmax(s)) if ok.any() else (0.0, 1.0)
        pos = (s - lo) / (hi - lo) if hi > lo else np.where(ok, 0.5, np.nan)
        ticks = [(0.0 if hi > lo else 0.5, show_value(10 ** lo if log else lo))]
        if hi > lo:
            ticks.append((1.0, show_value(10 ** hi if log else hi)))
    else:
        text = np.array([show_value(x) for x in values.to_numpy(dtype=object)], dtype=object)
        ok = text != MISSING
        levels = sorted(set(text[ok]))
        k = len(levels)
        where = {lev: (i / (k - 1) if k > 1 else 0.5) for i, lev in enumerate(levels)}
        pos = np.array([where.get(t, np.nan) for t in text], dtype=float)
        step = max(1, k // 12)  # at most ~12 labels per axis
        ticks = [(where[lev], lev) for lev in levels[::step]]
    if (~ok).any():
        ticks.append((-0.08, MISSING))
    pos = np.where(np.isnan(pos), -0.08, pos)
    return pos, ticks


#: The best configurations the parallel coordinates highlight.
TOP_CONFIGS = 10
#: What the parallel coordinates show (a radio button switches): ``kind`` of each row.
MEANS, RUNS = "configuration means", "every run"


def _config_means(prep, *, max_rows: int, random_state: int = 0) -> pd.DataFrame:
    """One row per configuration (runs with the same hyperparameters): ``name`` ("rank 3,
    mean of 5 runs"), the means of ``y_raw`` and ``y``, ``rank`` (1 = best on the analysis
    scale) and the hyperparameters; the best first, at most ``max_rows`` (the best
    :data:`TOP_CONFIGS` always kept, the rest a seeded sample)."""
    runs = prep.runs
    if not prep.params or not len(runs):
        return pd.DataFrame(columns=["name", "y_raw", "y", "rank", *prep.params])
    grouped = runs.groupby(list(prep.params), dropna=False, sort=False)
    out = grouped[["y_raw", "y"]].mean().reset_index()
    out["n"] = grouped.size().to_numpy()
    out = out.sort_values("y", ascending=not prep.maximize, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    if len(out) > max_rows:
        rest = np.random.default_rng(random_state).choice(
            np.arange(TOP_CONFIGS, len(out)), max_rows - TOP_CONFIGS, replace=False)
        out = out.iloc[np.r_[np.arange(TOP_CONFIGS), np.sort(rest)]].reset_index(drop=True)
    out["name"] = [f"configuration rank {r}, mean of {n} run{'s' if n != 1 else ''}"
                   for r, n in zip(out["rank"], out["n"])]
    return out


def _parallel_data(analysis: Analysis, *, max_rows: int = MAX_ROWS, random_state: int = 0) -> ParallelData:
    """Runs on normalised axes: the varying hyperparameters (log10 where the analysis used it,
    categoricals at evenly spaced positions), ordered by importance, then the metric."""
    prep = analysis.prep
    order = list(prep.params)
    imp = analysis.importance.table if analysis.importance is not None else None
    if imp is not None and len(imp):
        ranked = [p for p in imp["param"] if p in order]
        order = ranked + [p for p in order if p not in ranked]
    field_of = fields(order)
    # the best configuration last: drawn on top
    means = _config_means(prep, max_rows=max_rows // 2, random_state=random_state).iloc[::-1]
    sample = sample_rows(prep.runs, max_rows=max_rows - len(means), random_state=random_state)
    rows = pd.concat([means, sample.frame[["name", "y_raw", "y", *prep.params]]],
                     ignore_index=True)
    out = runs_with_text_params(prep, field_of, rows)
    out["kind"] = [MEANS] * len(means) + [RUNS] * len(sample.frame)
    out["top"] = np.r_[means["rank"].to_numpy() <= TOP_CONFIGS,
                       np.zeros(len(sample.frame), dtype=bool)]
    axes, ticks = [], []
    for p in order:
        log = p in prep.log_scaled
        pos, t = _positions(rows[p], numeric=p in prep.numeric, log=log)
        f = field_of[p]
        out["pos_" + f] = pos
        title = f"log10 {p}" if log else p
        axes.append((title, p, f, log, "numeric" if p in prep.numeric else "categorical"))
        ticks += [(title, a, b) for a, b in t]
    # The metric axis on the analysis scale: on a linear axis a heavy tail (a few 1e3 among
    # 1e-3) squeezes every other run into one end and one colour.
    scale = prep.metric_scale
    if scale == "log":
        pos, t = _positions(rows["y_raw"], numeric=True, log=True)
    elif scale == "rank":  # ranks are monotone in the metric: label the ends as logged
        pos, _ = _positions(rows["y"], numeric=True, log=False)
        raw = rows["y_raw"].to_numpy(dtype=float)
        t = [(0.0, show_value(float(raw.min()))), (1.0, show_value(float(raw.max())))]
    else:
        pos, t = _positions(rows["y_raw"], numeric=True, log=False)
    out["pos_metric"] = pos
    title = prep.target if scale == "raw" else f"{prep.target} ({scale} scale)"
    axes.append((title, prep.target, "metric", scale == "log", "metric"))
    ticks += [(title, a, b) for a, b in t]
    tick_frame = pd.DataFrame(ticks, columns=["axis", "pos", "full"])
    # a 10,000-character level made the chart 50,000 px wide: labels are cut, tooltips whole
    tick_frame["label"] = [short(str(t), TICK_CHARS) for t in tick_frame["full"]]
    return ParallelData(out, pd.DataFrame(axes, columns=["axis", "title", "field", "log", "kind"]),
                        tick_frame[["axis", "pos", "label", "full"]], field_of, sample.caption)


def parallel_coordinates(analysis: Analysis, *, max_rows: int = MAX_ROWS):
    """Brushable parallel coordinates: one line per configuration (the mean of its runs), the
    best :data:`TOP_CONFIGS` drawn bold, coloured by the metric; a radio button shows every
    run instead; drag on the metric strip below to keep only the lines in that range."""
    import altair as alt

    data = _parallel_data(analysis, max_rows=max_rows)
    prep = analysis.prep
    axis_order = list(data.axes["axis"])
    pos_fields = ["pos_" + f for f in data.axes["field"]]
    fold_name = dict(zip(pos_fields, axis_order))
    brush = alt.selection_interval(name="brush", encodings=["x"])
    show = alt.param(name="show", value=MEANS,
                     bind=alt.binding_radio(options=[MEANS, RUNS], name="lines: "))
    shown = "datum.kind === show"
    tips = param_tooltips(prep, data.field_of) + [
        alt.Tooltip("y_raw:Q", title=prep.target, format=".4g")]
    # colour and filter strip on the analysis scale (log10 axis, or ranks), see _parallel_data
    field, kind, suffix = metric_encoding(prep)
    field += ":Q"
    metric_color = alt.Color(field, title=prep.target + (" (rank)" if field == "y:Q" else ""),
                             scale=alt.Scale(scheme="viridis", reverse=not prep.maximize, **kind))
    # the best configurations bold and opaque; outside the brush every line fades
    opacity = {"condition": [{"test": {"not": {"param": "brush"}}, "value": 0.08},
                             {"test": "datum.top", "value": 0.95}], "value": 0.35}
    lines = alt.Chart(data.runs).transform_filter(shown).transform_window(
        index="count()").transform_fold(
        pos_fields, as_=["key", "pos"]
    ).transform_lookup(  # the axis title by a lookup: no run-derived text in an expression
        lookup="key", from_=alt.LookupData(pd.DataFrame({"key": list(fold_name),
                                                          "axis": list(fold_name.values())}),
                                           key="key", fields=["axis"])
    ).mark_line().encode(
        x=alt.X("axis:N", sort=axis_order, title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("pos:Q", axis=None, scale=alt.Scale(domain=[-0.1, 1.02])),
        detail="index:N",
        color=alt.condition(brush, metric_color, alt.value("#e0e0e0")),
        opacity=opacity,
        strokeWidth=alt.condition("datum.top", alt.value(2.5), alt.value(1)),
        tooltip=tips,
    ).add_params(show)
    rules = alt.Chart(data.axes).mark_rule(color="#888").encode(x=alt.X("axis:N", sort=axis_order))
    labels = alt.Chart(data.ticks).mark_text(align="left", dx=3, fontSize=11, color="#333",
                                             limit=AXIS_PX - 8).encode(
        x=alt.X("axis:N", sort=axis_order), y=alt.Y("pos:Q"), text="label:N",
        tooltip=alt.Tooltip("full:N", title="value"))
    width = max(400, AXIS_PX * len(axis_order))
    top = alt.layer(lines, rules, labels).properties(width=width, height=320)
    strip = alt.Chart(data.runs).transform_filter(shown).mark_tick(opacity=0.6).encode(
        x=alt.X(field, title=metric_title(prep) + suffix + " — drag here to filter",
                scale=alt.Scale(zero=False, **kind)),
        color=alt.condition(brush, metric_color, alt.value("#cccccc")),
        tooltip=tips,
    ).add_params(brush).properties(width=width, height=40)
    return alt.vconcat(top, strip)
