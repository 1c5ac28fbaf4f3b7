"""The significance view: pick a configuration, see which neighbours are really better or worse.

One combined Altair chart driven by a single selection parameter ``target`` on the field
``label``: the dropdown, a click on the ranking and a click on a neighbour all set it, so the
reader can walk from configuration to configuration. The data are configurations and neighbour
pairs only (never runs), capped at :data:`~reports.charts._common.MAX_ROWS` rows.
"""
from __future__ import annotations

import html
import textwrap
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

from sweepsight.analysis.stats_tests import MIN_BOOT_RUNS
from sweepsight.reports.charts._common import MAX_ROWS, VERDICT_COLORS, VERDICTS, show_value

#: Configurations shown in the ranking (and offered in the dropdown) at most.
TOP = 60
#: Row backgrounds of the classic table: the target green, significant neighbours yellow.
ROW_STYLE = {"target": "#cdeccd", "better": "#fff3b0", "worse": "#fff3b0"}


def _fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return format(v, spec)


class SignificanceData(NamedTuple):
    """``configs``: the ranked configurations shown; ``pairs``: their neighbour rows;
    ``default``: the label selected at first (the best configuration); ``caption``: what was
    left out, if anything; ``scale``: how the metric is shown."""

    configs: pd.DataFrame
    pairs: pd.DataFrame
    default: str
    caption: str
    scale: str


def _values_text(values, digits: int = 4) -> str:
    return ", ".join(f"{v:.{digits}g}" for v in values)


def _significance_data(analysis, *, top: int = TOP, max_rows: int = MAX_ROWS) -> SignificanceData:
    """The ranked configurations (best first, at most ``top``) and every neighbour pair whose
    configuration is among them, ready to chart. Rows of both tables stay under ``max_rows``."""
    sig, prep = analysis.significance, analysis.prep
    scale = prep.metric_scale
    configs = sig.configs.sort_values("rank", kind="stable").reset_index(drop=True)
    pairs = sig.pairs
    total = len(configs)
    keep = min(top, total)
    # both tables count: shrink the ranking until pairs + configs fit the cap
    per_cfg = pairs.groupby("config_id").size() if len(pairs) else pd.Series(dtype=int)
    counts = per_cfg.reindex(configs["config_id"]).fillna(0).to_numpy()
    while keep > 1 and counts[:keep].sum() + keep > max_rows:
        keep = max(1, keep // 2)
    shown = configs.head(keep)
    ids = set(shown["config_id"])
    labels = configs.set_index("config_id")["label"]
    values = configs.set_index("config_id")["values"]

    cfg = pd.DataFrame({
        "config_id": shown["config_id"].to_numpy(),
        "label": shown["label"].astype(str).to_numpy(),
        "rank": shown["rank"].to_numpy(dtype=int),
        "n": shown["n"].to_numpy(dtype=int),
        "mean": shown["mean"].to_numpy(dtype=float),
        "std": shown["std"].to_numpy(dtype=float),
    })
    spread = np.nan_to_num(cfg["std"].to_numpy(), nan=0.0)
    cfg["low"] = cfg["mean"] - spread
    cfg["high"] = cfg["mean"] + spread
    cfg["values"] = [list(np.round(np.asarray(v, dtype=float), 6)) for v in shown["values"]]
    cfg["values_text"] = [_values_text(v) for v in shown["values"]]
    params = config_params(configs)
    cfg["short"] = [f"#{r}  " + " \u00b7 ".join(show_value(row[q]) for q in params)
                    for r, (_, row) in zip(cfg["rank"], shown.iterrows())]
    cfg["t_mean"] = [_mean_text(m, sd) for m, sd in zip(cfg["mean"], cfg["std"])]
    # the header: the mean as logged, and the analysis-scale mean the tests use if it differs
    raw = shown["mean_raw"] if "mean_raw" in shown else shown["mean"]
    cfg["header"] = [
        f"Target: {lab}  (mean {r:.4g}" + ("" if scale == "raw" else f"; {m:.4g} on the {scale} "
                                             "scale") + f", n = {n})"
        for lab, r, m, n in zip(cfg["label"], raw.to_numpy(dtype=float), cfg["mean"], cfg["n"])]

    p = pairs[pairs["config_id"].isin(ids)] if len(pairs) else pairs
    pr = pd.DataFrame({
        "config_label": p["config_id"].map(labels).astype(str).to_numpy(),
        "label": p["neighbour_id"].map(labels).astype(str).to_numpy(),
        "param": p["param"].astype(str).to_numpy(),
        "change": [f"{a}: {b} \u2192 {c}" for a, b, c in
                   zip(p["param"], p["from_value"], p["to_value"])],
        "verdict": p["verdict"].astype(str).to_numpy(),
        "diff": p["diff"].to_numpy(dtype=float),
        "diff_ci_low": p["diff_ci_low"].to_numpy(dtype=float),
        "diff_ci_high": p["diff_ci_high"].to_numpy(dtype=float),
        "p_holm": p["p_holm"].to_numpy(dtype=float),
        "p_bh": p["p_bh"].to_numpy(dtype=float),
        "cliffs_delta": p["cliffs_delta"].to_numpy(dtype=float),
        "n_b": p["n_b"].to_numpy(dtype=int),
        "mean_b": p["mean_b"].to_numpy(dtype=float),
        "power_note": p["power_note"].astype(str).to_numpy() if "power_note" in p else "",
        "in_ranking": p["neighbour_id"].isin(ids).to_numpy(),
    })
    pr["values_b"] = [list(np.round(np.asarray(values[i], dtype=float), 6))
                      for i in p["neighbour_id"]]
    pr["values_text"] = [_values_text(v) for v in pr["values_b"]]
    # the classic table's cells; rows ordered within each target by adjusted p, then change
    std_b = p["neighbour_id"].map(configs.set_index("config_id")["std"]).to_numpy(dtype=float)
    pr["t_mean"] = [_mean_text(m, sd) for m, sd in zip(pr["mean_b"], std_b)]
    pr["t_diff"] = [_diff_text(d, lo, hi) for d, lo, hi in
                    zip(pr["diff"], pr["diff_ci_low"], pr["diff_ci_high"])]
    pr["t_p"] = [_fmt(v, ".3g") for v in pr["p_holm"]]
    pr["t_delta"] = [_fmt(v, "+.2f") for v in pr["cliffs_delta"]]
    pr["row"] = (pr.sort_values(["p_holm", "change"], na_position="last", kind="stable")
                 .groupby("config_label", sort=False).cumcount() + 1).astype(int)
    pr["bg"] = pr["verdict"].map(ROW_STYLE).fillna("transparent")

    caption = ""
    if keep < total:
        caption = (f"Showing the best {keep} of {total:,} configurations (and their neighbours); "
                   "the dropdown lists those. The tables below cover every configuration.")
    default = cfg["label"].iat[0] if len(cfg) else ""
    return SignificanceData(cfg, pr, default, caption, scale)


def config_params(configs: pd.DataFrame) -> list[str]:
    """The hyperparameters that define the configurations (the columns between ``label`` and
    ``n`` of :attr:`SignificanceResult.configs`), in label order."""
    cols = list(configs.columns)
    return cols[cols.index("label") + 1: cols.index("n")]


def _mean_text(mean: float, std: float) -> str:
    return f"{mean:.4g} \u00b1 {_fmt(std, '.2g') or 'n/a'}"


def _diff_text(diff: float, low: float, high: float) -> str:
    """``+0.012 [+0.004, +0.02]``: difference of means and its interval ("" when untested;
    "n/a (fewer than 3 runs)" for the interval when a side is too small to bootstrap)."""
    if np.isnan(diff):
        return ""
    if np.isnan(low) or np.isnan(high):
        return f"{diff:+.4g} n/a (fewer than {MIN_BOOT_RUNS} runs)"
    return f"{diff:+.4g} [{_fmt(low, '+.3g')}, {_fmt(high, '+.3g')}]"


def caption(analysis, *, top: int = TOP, max_rows: int = MAX_ROWS) -> str:
    """What the interactive view leaves out ("" when it shows everything or is not shown)."""
    if not analysis.significance.applicable:
        return ""
    return _significance_data(analysis, top=top, max_rows=max_rows).caption


def _metric_axis(analysis) -> str:
    prep = analysis.prep
    arrow = "higher is better" if prep.maximize else "lower is better"
    scale = "" if prep.metric_scale == "raw" else f", {prep.metric_scale} scale"
    return f"mean {prep.target} ({arrow}{scale})"


def significance_view(analysis, *, top: int = TOP, max_rows: int = MAX_ROWS):
    """The interactive view (an Altair chart), or ``None`` when significance is not applicable.

    Left: configurations ranked by mean with ±1 std error bars. Middle: the selected target's
    neighbours, their difference to it with its bootstrap interval, coloured by verdict. Right:
    per-seed values of the target and its neighbours. Pick the target in the dropdown or click
    any configuration or neighbour.
    """
    import altair as alt

    sig = analysis.significance
    if not sig.applicable or len(sig.configs) == 0:
        return None
    data = _significance_data(analysis, top=top, max_rows=max_rows)
    cfg = data.configs.drop(columns=["values"])
    cfg_values = data.configs[["label", "values", "n"]]
    pairs = data.pairs.drop(columns=["values_b"])
    pair_values = data.pairs[["config_label", "label", "change", "verdict", "diff", "values_b"]]

    target = alt.selection_point(
        name="target", fields=["label"], value=data.default, toggle=False, clear=False,
        on="click", empty=False,
        bind=alt.binding_select(options=list(cfg["label"]), name="Target configuration: "),
    )
    in_target = ("isArray(target.label) ? indexof(target.label, datum.config_label) >= 0 "
                 ": target.label == datum.config_label")
    verdict_color = alt.Color(
        "verdict:N", title="neighbour is",
        scale=alt.Scale(domain=VERDICTS, range=[VERDICT_COLORS[v] for v in VERDICTS]),
        legend=alt.Legend(orient="top", direction="horizontal"))
    metric = _metric_axis(analysis)
    height_rank = max(120, 14 * len(cfg))

    rank_base = alt.Chart(cfg).encode(
        y=alt.Y("short:N", sort=alt.EncodingSortField("rank", order="ascending"),
                title=None, axis=alt.Axis(labelLimit=220, labelFontSize=10)),
        tooltip=[alt.Tooltip("label:N", title="configuration"), alt.Tooltip("rank:Q"),
                 alt.Tooltip("n:Q", title="runs"), alt.Tooltip("mean:Q", format=".4g"),
                 alt.Tooltip("std:Q", format=".3g"),
                 alt.Tooltip("values_text:N", title="per-seed values")],
    )
    ranking = alt.layer(
        rank_base.mark_rule().encode(x=alt.X("low:Q", title=metric, scale=alt.Scale(zero=False)),
                                     x2="high:Q",
                                     color=alt.condition(target, alt.value(VERDICT_COLORS["target"]),
                                                         alt.value("#bbbbbb"))),
        rank_base.mark_point(filled=True, size=60, cursor="pointer").encode(
            x="mean:Q",
            color=alt.condition(target, alt.value(VERDICT_COLORS["target"]), alt.value("#777777")),
        ).add_params(target),
    ).properties(width=180, height=height_rank, title=alt.TitleParams(
        "Configurations ranked by mean (±1 std); click one",
        subtitle=_wrap("rank  " + " \u00b7 ".join(config_params(analysis.significance.configs)),
                       50)))

    header = alt.Chart(cfg).transform_filter(target).mark_text(
        align="left", fontWeight="bold", fontSize=13, limit=TABLE_WIDTH).encode(
        x=alt.value(0), y=alt.value(8), text="header:N").properties(
        width=TABLE_WIDTH, height=16, view=alt.ViewConfig(strokeWidth=0))

    # neighbours and per-seed values share their rows: the same rows (the target's included,
    # at difference 0) in the same order, so the per-seed panel needs no labels of its own
    rows = alt.Y("change:N", title=None, sort=alt.EncodingSortField("diff", order="descending"))
    target_row = alt.Chart(cfg).transform_filter(target).transform_calculate(
        change="'(target)'", verdict="'target'", diff="0")

    nb_base = alt.Chart(pairs).transform_filter(in_target).encode(
        y=rows.axis(labelLimit=220),
        tooltip=[alt.Tooltip("label:N", title="neighbour"), alt.Tooltip("change:N", title="changes"),
                 alt.Tooltip("verdict:N"), alt.Tooltip("p_holm:Q", title="p (Holm)", format=".3g"),
                 alt.Tooltip("p_bh:Q", title="p (BH)", format=".3g"),
                 alt.Tooltip("cliffs_delta:Q", title="Cliff's delta", format=".2f"),
                 alt.Tooltip("diff:Q", title="difference of means", format=".4g"),
                 alt.Tooltip("diff_ci_low:Q", title="interval low", format=".4g"),
                 alt.Tooltip("diff_ci_high:Q", title="interval high", format=".4g"),
                 alt.Tooltip("n_b:Q", title="neighbour runs"),
                 alt.Tooltip("values_text:N", title="neighbour per-seed values"),
                 alt.Tooltip("power_note:N", title="power")],
    )
    neighbours = alt.layer(
        alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(strokeDash=[4, 3], color="#444")
        .encode(x="zero:Q"),
        nb_base.mark_rule(strokeWidth=2).encode(
            x=alt.X("diff_ci_low:Q", title="neighbour mean − target mean (with interval)"),
            x2="diff_ci_high:Q", color=verdict_color),
        nb_base.mark_point(filled=True, size=90, cursor="pointer").encode(
            x="diff:Q", color=verdict_color).add_params(target),
        target_row.mark_point(filled=True, size=90, shape="diamond").encode(
            x="diff:Q", y=rows, color=verdict_color),
    ).properties(width=200, title=alt.TitleParams(
        "Its neighbours (one hyperparameter changed)", subtitle="click one to move there"))

    seeds = alt.layer(
        alt.Chart(cfg_values).transform_filter(target).transform_flatten(["values"])
        .transform_calculate(change="'(target)'", verdict="'target'", diff="0")
        .mark_tick(thickness=2, size=12).encode(
            x=alt.X("values:Q", title=f"per-seed {analysis.prep.target} (analysis scale)",
                    scale=alt.Scale(zero=False)),
            y=rows.axis(None),
            color=verdict_color, tooltip=[alt.Tooltip("values:Q", format=".4g", title="value")]),
        alt.Chart(pair_values).transform_filter(in_target).transform_flatten(["values_b"])
        .mark_tick(thickness=2, size=12).encode(
            x="values_b:Q", y=rows.axis(None), color=verdict_color,
            tooltip=[alt.Tooltip("label:N", title="neighbour"),
                     alt.Tooltip("values_b:Q", format=".4g", title="value")]),
    ).properties(width=200, title=alt.TitleParams("Per-seed values", subtitle="same rows"))

    table = _table_view(cfg, pairs, target, in_target)

    with warnings.catch_warnings():
        # the same selection on two views is intended: clicking either moves the target
        warnings.simplefilter("ignore", UserWarning)
        chart = alt.hconcat(
            ranking, alt.vconcat(header, alt.hconcat(neighbours, seeds), table),
        ).resolve_scale(color="shared", y="independent")
        chart.to_dict()
    return chart


#: The classic table's columns: (title, field in the target row, field in neighbour rows,
#: pixel x of the column's left edge, pixel width).
TABLE_COLUMNS = (
    ("", "role", "verdict", 0, 95),
    ("changes", None, "change", 95, 200),
    ("runs", "n", "n_b", 295, 40),
    ("mean \u00b1 std", "t_mean", "t_mean", 335, 105),
    ("difference [interval]", None, "t_diff", 440, 165),
    ("p (Holm)", None, "t_p", 605, 60),
    ("Cliff's \u03b4", None, "t_delta", 665, 55),
)
TABLE_WIDTH = 720
ROW_HEIGHT = 20


def _table_view(cfg: pd.DataFrame, pairs: pd.DataFrame, target, in_target: str):
    """The classic table for the selected target (it follows the selection): the target's row
    green, significantly different neighbours yellow, most significant first."""
    import altair as alt

    y = alt.Y("row:O", axis=None)
    head = alt.Chart(pd.DataFrame({"title": [c[0] for c in TABLE_COLUMNS],
                                   "x": [c[3] for c in TABLE_COLUMNS]})).mark_text(
        align="left", baseline="middle", fontWeight="bold", dx=4).encode(
        x=alt.X("x:Q", scale=None), y=alt.value(ROW_HEIGHT / 2), text="title:N",
    ).properties(width=TABLE_WIDTH, height=ROW_HEIGHT, view=alt.ViewConfig(strokeWidth=0))

    target_row = alt.Chart(cfg).transform_filter(target).transform_calculate(
        row="0", role="'target'", bg=f"'{ROW_STYLE['target']}'")
    neighbour_rows = alt.Chart(pairs).transform_filter(in_target)
    tooltip = [alt.Tooltip("label:N", title="neighbour"), alt.Tooltip("values_text:N",
               title="per-seed values"), alt.Tooltip("power_note:N", title="note")]
    layers = [
        target_row.mark_rect().encode(y=y, x=alt.value(0), x2=alt.value(TABLE_WIDTH),
                                      fill=alt.Fill("bg:N", scale=None)),
        neighbour_rows.mark_rect().encode(y=y, x=alt.value(0), x2=alt.value(TABLE_WIDTH),
                                          fill=alt.Fill("bg:N", scale=None), tooltip=tooltip),
    ]
    for _, target_field, pair_field, x, width in TABLE_COLUMNS:
        cell = dict(align="left", baseline="middle", dx=4, limit=width - 8)
        if target_field:
            layers.append(target_row.mark_text(**cell).encode(
                y=y, x=alt.value(x), text=f"{target_field}:N"))
        layers.append(neighbour_rows.mark_text(**cell).encode(
            y=y, x=alt.value(x), text=f"{pair_field}:N", tooltip=tooltip))
    body = alt.layer(*layers).properties(width=TABLE_WIDTH, height=alt.Step(ROW_HEIGHT))
    return alt.vconcat(head, body, spacing=0, title=alt.TitleParams(
        "The classic table: the target green, significantly different neighbours yellow",
        subtitle="hover a row for its per-seed values and what the test could reach",
        anchor="start"))


def _wrap(text: str, width: int) -> list[str]:
    """``text`` split at spaces into lines of at most about ``width`` characters."""
    return textwrap.wrap(text, width) or [""]


class TableData(NamedTuple):
    """The classic table for one target: ``frame`` rows are the target then its neighbours."""

    frame: pd.DataFrame
    target: str


def _significance_table_data(analysis, *, target: str | None = None) -> TableData:
    """The target configuration (default: the best) and its neighbours, most significant first."""
    sig = analysis.significance
    configs = sig.configs.sort_values("rank", kind="stable")
    by_label = configs.set_index("label")
    if target is None:
        target = str(configs["label"].iat[0]) if len(configs) else ""
    if target not in by_label.index:
        return TableData(pd.DataFrame(), target)
    row = by_label.loc[target]
    cid = row["config_id"]
    nb = sig.pairs[sig.pairs["config_id"] == cid]
    labels = configs.set_index("config_id")["label"]
    first = pd.DataFrame({
        "role": ["target"], "configuration": [target], "changes": [""],
        "n": [int(row["n"])], "mean": [float(row["mean"])], "std": [float(row["std"])],
        "diff": [np.nan], "diff_ci_low": [np.nan], "diff_ci_high": [np.nan],
        "p_holm": [np.nan], "cliffs_delta": [np.nan], "note": [""],
    })
    rest = pd.DataFrame({
        "role": nb["verdict"].astype(str).to_numpy(),
        "configuration": nb["neighbour_id"].map(labels).astype(str).to_numpy(),
        "changes": [f"{a}: {b} \u2192 {c}" for a, b, c in
                    zip(nb["param"], nb["from_value"], nb["to_value"])],
        "n": nb["n_b"].to_numpy(dtype=int), "mean": nb["mean_b"].to_numpy(dtype=float),
        "std": nb["neighbour_id"].map(configs.set_index("config_id")["std"]).to_numpy(dtype=float),
        "diff": nb["diff"].to_numpy(dtype=float),
        "diff_ci_low": nb["diff_ci_low"].to_numpy(dtype=float),
        "diff_ci_high": nb["diff_ci_high"].to_numpy(dtype=float),
        "p_holm": nb["p_holm"].to_numpy(dtype=float),
        "cliffs_delta": nb["cliffs_delta"].to_numpy(dtype=float),
        "note": nb["power_note"].astype(str).to_numpy() if "power_note" in nb else "",
    }).sort_values(["p_holm", "changes"], na_position="last", kind="stable")
    return TableData(pd.concat([first, rest], ignore_index=True), target)


def significance_table_html(analysis, *, target: str | None = None) -> str:
    """The best configuration's classic table as HTML: target row green, significantly
    different neighbours yellow; means as logged, and on the analysis scale (labelled) when
    it differs. Every run-derived text is escaped."""
    data = _significance_table_data(analysis, target=target)
    if data.frame.empty:
        return ""
    scale = analysis.prep.metric_scale
    raw = analysis.significance.configs.set_index("label")["mean_raw"]
    head = ["", "configuration", "changes", "runs", "mean as logged"]
    if scale != "raw":
        head.append(f"mean ± std on the {scale} scale (analysis scale)")
    else:
        head[-1] = "mean ± std"
    head += [f"difference [interval]{'' if scale == 'raw' else f' ({scale} scale)'}",
             "p (Holm)", "Cliff's delta", "note"]
    out = ['<table class="sweepsight-table significance-table">',
           "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>",
           "<tbody>"]
    for r in data.frame.itertuples(index=False):
        style = f"background:{ROW_STYLE[r.role]}" if r.role in ROW_STYLE else ""
        logged = _fmt(float(raw.get(r.configuration, np.nan)), ".4g")
        means = [logged, _mean_text(r.mean, r.std)] if scale != "raw" else [_mean_text(r.mean, r.std)]
        cells = [r.role, r.configuration, r.changes, str(r.n), *means,
                 _diff_text(r.diff, r.diff_ci_low, r.diff_ci_high),
                 _fmt(r.p_holm, ".3g"), _fmt(r.cliffs_delta, "+.2f"), r.note]
        out.append(f'<tr style="{style}">' + "".join(
            f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# ------------------------------------------------------------------ the walk (every configuration)

#: The walk's drawing width in pixels: fits Quarto's 800 px body column and nbconvert's page.
WALK_WIDTH = 780
#: One line per verdict for the walk's legend.
VERDICT_LEGEND = {
    "target": "the configuration you are looking at.",
    "better": "significantly better than the target (Holm-adjusted over its neighbours).",
    "worse": "significantly worse than the target.",
    "not significant": "the test could have detected a difference here and did not.",
    "cannot tell": "hollow: no outcome of the test could reach alpha with these seeds and this "
                   "many neighbours; the interval and Cliff's delta are still what was observed.",
    "not testable": "a side has fewer than 2 runs.",
}
#: The order of verdict codes in the embedded data.
WALK_VERDICTS = ["better", "worse", "not significant", "cannot tell", "not testable"]
_TEST_FIELD = {"ks": "ks", "welch": "t", "mannwhitney": "mw"}


def _num_text(values, digits: int = 4) -> str:
    """Floats as one comma-separated string at ``digits`` significant digits, an empty field
    for NaN/inf (the walk splits it: far smaller than a JSON array with nulls)."""
    arr = np.asarray(values, dtype=float)
    out = np.array([f"{v:.{digits}g}" for v in arr.tolist()], dtype=object) if arr.size else arr
    if arr.size:
        out[~np.isfinite(arr)] = ""
    return ",".join(out.tolist()) if arr.size else ""


def _int_text(values) -> str:
    return ",".join(map(str, np.asarray(values, dtype=np.int64).tolist()))


def walk_data(analysis, *, files: tuple[str, str] = ("data/pairs.csv", "data/pairs.parquet")) -> str | None:
    """The walk's data as a JSON text (None when significance is not applicable): every
    configuration (best first) as columns of codes into levels stored once, and every
    neighbour pair once by configuration index, with both sides' Holm p, verdict and seeds."""
    sig, prep = analysis.significance, analysis.prep
    if not sig.applicable or len(sig.configs) == 0:
        return None
    import json

    from sweepsight.analysis.configs import INACTIVE, MISSING, format_value

    configs = sig.configs.reset_index(drop=True)
    params = config_params(configs)
    index = pd.Series(np.arange(len(configs)), index=configs["config_id"])
    levels, codes, absent, has_absent = [], [], [], []
    for p in params:
        col = configs[p]
        na = col.isna().to_numpy()
        present = col[~na]
        # numeric levels sort by value, others by text; codes index the sorted level texts
        try:
            uniq = sorted(set(present.tolist()))
        except TypeError:
            uniq = sorted(set(present.tolist()), key=str)
        pos = {v: i for i, v in enumerate(uniq)}
        c = np.full(len(col), -1, dtype=np.int64)
        c[~na] = [pos[v] for v in present.tolist()]
        levels.append([format_value(v) for v in uniq])
        codes.append(c)
        absent.append(INACTIVE if p in prep.conditional else MISSING)
        has_absent.append(bool(na.any()))
    pairs = sig.pairs
    fwd = pairs[pairs["config_id"] < pairs["neighbour_id"]]
    fwd = fwd.assign(ia=fwd["config_id"].map(index).to_numpy(),
                     ib=fwd["neighbour_id"].map(index).to_numpy())
    fwd = fwd.sort_values(["ia", "ib"], kind="stable").reset_index(drop=True)
    back = pairs.set_index(["config_id", "neighbour_id"]).reindex(
        pd.MultiIndex.from_arrays([fwd["neighbour_id"], fwd["config_id"]])).reset_index(drop=True)
    code_of = {v: i for i, v in enumerate(WALK_VERDICTS)}

    def seeds(col: pd.Series) -> np.ndarray:
        v = col.to_numpy(dtype=float)
        return np.where(np.isnan(v), 0, np.where(np.isinf(v), -1, np.nan_to_num(v))).astype(int)

    values = np.concatenate([np.asarray(v, dtype=float) for v in configs["values"]]) \
        if len(configs) else np.zeros(0)
    # seeds to reach alpha depend only on the configuration's neighbourhood size
    reach = pairs.assign(ia=pairs["config_id"].map(index).to_numpy()).groupby("ia")[
        "seeds_to_reach"].max().reindex(np.arange(len(configs))).fillna(0)
    test = (analysis.options or {}).get("test", "ks")
    alpha = float((analysis.options or {}).get("alpha", 0.05))
    a_start = np.searchsorted(fwd["ia"].to_numpy(), np.arange(len(configs) + 1))
    raw_scale = prep.metric_scale == "raw"
    # per pair only what configurations cannot give (differences are differences of means)
    pair_text = {
        "a_start": _int_text(a_start), "b": _int_text(fwd["ib"]),
        "p": _int_text(fwd["param"].map({q: j for j, q in enumerate(params)})),
        "lo": _num_text(fwd["diff_ci_low"]), "hi": _num_text(fwd["diff_ci_high"]),
        "rlo": "" if raw_scale else _num_text(fwd["diff_raw_ci_low"]),
        "rhi": "" if raw_scale else _num_text(fwd["diff_raw_ci_high"]),
        "delta": _num_text(fwd["cliffs_delta"], 3), "ks": _num_text(fwd["ks_p"], 3),
        "t": _num_text(fwd["t_p"], 3), "mw": _num_text(fwd["mw_p"], 3),
        "bh": _num_text(fwd["p_bh"], 3),
        "holm_a": _num_text(fwd["p_holm"], 3), "holm_b": _num_text(back["p_holm"], 3),
        "verdict_a": _int_text(fwd["verdict"].map(code_of)),
        "verdict_b": _int_text(back["verdict"].map(code_of)),
        "power_a": _int_text(seeds(fwd["seeds_for_power"])),
        "power_b": _int_text(seeds(back["seeds_for_power"])),
    }
    plain = {
        "target": prep.target, "maximize": bool(prep.maximize), "scale": prep.metric_scale,
        "test": {"ks": "KS", "welch": "Welch", "mannwhitney": "MWU"}.get(test, test),
        "test_field": _TEST_FIELD.get(test, "ks"), "alpha": alpha,
        "params": params, "levels": levels, "absent": absent, "has_absent": has_absent,
        "verdicts": WALK_VERDICTS, "width": WALK_WIDTH,
        "colors": dict(VERDICT_COLORS), "row_colors": dict(ROW_STYLE),
        "legend": [{"verdict": v, "text": t} for v, t in VERDICT_LEGEND.items()],
        "min_boot": MIN_BOOT_RUNS, "ci_text": f"{100 * (1 - alpha):g}% bootstrap interval",
        "files": {"csv": files[0], "parquet": files[1]},
        "codes": [_int_text(c) for c in codes],
        "n": _int_text(configs["n"]), "rank": _int_text(configs["rank"]),
        "reach": _int_text(reach.to_numpy()),
        "mean": _num_text(configs["mean"], 7), "mean_raw": _num_text(configs["mean_raw"], 7),
        "values": _num_text(values), "pairs": pair_text,
    }
    return json.dumps(plain, separators=(",", ":"))


_WALK_CSS = """
.sweepsight-walk { font-size: 14px; max-width: 800px; }
.sweepsight-walk .walk-picker label { display: inline-block; margin: 0 12px 6px 0; font-size: 13px; }
.sweepsight-walk select, .sweepsight-walk input, .sweepsight-walk button { font-size: 13px; }
.sweepsight-walk .walk-rank { width: 5em; }
.sweepsight-walk .walk-note { color: #8a5a00; font-size: 13px; margin: 2px 0; min-height: 1em; }
.sweepsight-walk .walk-header { font-size: 14px; margin: 8px 0; }
.sweepsight-walk .walk-legend { font-size: 13px; margin: 6px 0 10px; }
.sweepsight-walk .walk-legend-item svg { vertical-align: middle; }
.sweepsight-walk .walk-svg { display: block; max-width: none; height: auto; }
.sweepsight-walk .walk-chart { overflow-x: auto; }
.sweepsight-walk table.walk-table-grid { border-collapse: collapse; font-size: 12px; width: 100%;
  margin: 6px 0; table-layout: auto; }
.sweepsight-walk .walk-table-grid th, .sweepsight-walk .walk-table-grid td {
  border-bottom: 1px solid #ddd; padding: 3px 5px; text-align: left; vertical-align: top;
  white-space: normal; word-break: normal; overflow-wrap: normal; }
.sweepsight-walk .walk-all-table td:first-child { min-width: 170px; }
.sweepsight-walk th { background: #f0f0f0; }
.sweepsight-walk h3 { font-size: 16px; margin: 16px 0 6px; }
.sweepsight-walk .walk-filter { width: 22em; margin: 4px 8px 4px 0; }
.sweepsight-walk .walk-pager { margin: 6px 0; font-size: 13px; }
"""


def significance_walk(analysis) -> str | None:
    """The significance walk as self-contained HTML (data embedded, script inline; nothing is
    fetched), or None when significance is not applicable."""
    from importlib import resources

    data = walk_data(analysis)
    if data is None:
        return None
    script = resources.files("sweepsight.reports").joinpath("assets/significance_walk.js").read_text(
        encoding="utf-8")
    import hashlib

    uid = "sweepsight-walk-" + hashlib.sha1(data.encode("utf-8")).hexdigest()[:12]
    safe = data.replace("<", "\\u003c")  # "<" only occurs inside JSON strings
    return (f'<div class="sweepsight-walk" id="{uid}"><p>Loading the significance view…</p></div>\n'
            f"<style>{_WALK_CSS}</style>\n"
            f'<script type="application/json" id="{uid}-data">{safe}</script>\n'
            f"<script>{script}\n"
            f'(function () {{ var root = document.getElementById("{uid}");\n'
            f'  var data = JSON.parse(document.getElementById("{uid}-data").textContent);\n'
            f"  window.SWEEPSIGHT_WALK(root, data); }})();</script>\n")
