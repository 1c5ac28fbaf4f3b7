"""The significance view: pick a configuration, see which neighbours are really better or worse.

:func:`significance_walk` embeds every configuration and every tested pair as compact columns
(levels once, configurations as codes, neighbours by index) for a small script
(``reports/assets/significance_walk.js``) that keeps the picker, the tables and the URL hash,
so the reader can walk from any configuration to any other. The chart is the Vega-Lite view
of :func:`neighbourhood_spec` (the target's neighbours and their per-seed values); the script
hands it only the current target's rows through Vega's View API, never a dataset of every
pair, so the view scales to tens of thousands of configurations.
:func:`significance_table_html` is the classic table of one configuration's neighbours.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import pandas as pd

from sweepsight.analysis.constants import VERDICTS
from sweepsight.analysis.significance import pair_sides
from sweepsight.analysis.stats_tests import MIN_BOOT_RUNS
from sweepsight.reports import format as fmt
from sweepsight.reports.charts._common import VERDICT_COLORS
from sweepsight.reports.escape import Html

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis

#: Row backgrounds of the classic table: the target green, significant neighbours yellow.
ROW_STYLE = {"target": "#cdeccd", "better": "#fff3b0", "worse": "#fff3b0"}


def _fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return format(v, spec)


def _values_text(values, digits: int = 4) -> str:
    return ", ".join(f"{v:.{digits}g}" for v in values)


def config_params(configs: pd.DataFrame) -> list[str]:
    """The hyperparameters that define the configurations (the columns between ``label`` and
    ``n`` of :attr:`SignificanceResult.configs`), in label order."""
    cols = list(configs.columns)
    return cols[cols.index("label") + 1: cols.index("n")]


def _mean_text(mean: float, std: float) -> str:
    return f"{mean:.4g} \u00b1 {_fmt(std, '.2g') or fmt.MISSING}"


def _diff_text(diff: float, low: float, high: float) -> str:
    """``+0.012 [+0.004, +0.02]``: difference of means and its interval ("" when untested;
    "n/a (fewer than 3 runs)" for the interval when a side is too small to bootstrap)."""
    if np.isnan(diff):
        return ""
    if np.isnan(low) or np.isnan(high):
        return f"{diff:+.4g} {fmt.MISSING} (fewer than {MIN_BOOT_RUNS} runs)"
    return f"{diff:+.4g} [{_fmt(low, '+.3g')}, {_fmt(high, '+.3g')}]"


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


class TableData(NamedTuple):
    """The classic table for one target: ``frame`` rows are the target then its neighbours."""

    frame: pd.DataFrame
    target: str


def _significance_table_data(analysis: Analysis, *, target: str | None = None) -> TableData:
    """The target configuration (default: the best) and its neighbours, most significant first."""
    sig = analysis.significance
    configs = sig.configs.sort_values("rank", kind="stable")
    by_label = configs.set_index("label")
    if target is None:
        target = str(configs["label"].iat[0]) if len(configs) else ""
    if target not in by_label.index:
        return TableData(pd.DataFrame(), target)
    row = cast(pd.Series, by_label.loc[target])  # labels are unique: one row
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


def significance_table_html(analysis: Analysis, *, target: str | None = None) -> Html:
    """The best configuration's classic table as HTML: target row green, significantly
    different neighbours yellow; means as logged, and on the analysis scale (labelled) when
    it differs. Every run-derived text is escaped."""
    data = _significance_table_data(analysis, target=target)
    if data.frame.empty:
        return Html("")
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
    r: Any  # a row of data.frame
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
    return Html("\n".join(out))


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
WALK_VERDICTS = list(VERDICTS)  # the script reads verdicts by their index in this list
_TEST_FIELD = {"ks": "ks", "welch": "t", "mannwhitney": "mw"}


def _num_text(values, digits: int = 4) -> str:
    """Floats as one comma-separated string at ``digits`` significant digits, an empty field
    for NaN/inf (the walk splits it: far smaller than a JSON array with nulls)."""
    arr = np.asarray(values, dtype=float)
    if not arr.size:
        return ""
    text = fmt.formatted(arr, f"%.{digits}g")
    text[np.isinf(arr)] = ""
    return ",".join(text.tolist())


def _int_text(values) -> str:
    return ",".join(map(str, np.asarray(values, dtype=np.int64).tolist()))


PAIR_FILES = ("data/pairs.csv", "data/pairs.parquet")


def walk_data(analysis: Analysis, *, files: tuple[str, str] | None = PAIR_FILES,
              hash_key: str = "config") -> str | None:
    """The walk's data as a JSON text (None when significance is not applicable): every
    configuration (best first) as columns of codes into levels stored once, and every
    neighbour pair once by configuration index, with both sides' Holm p, verdict and seeds.
    ``files``: the pair files to link (None: none); ``hash_key``: the URL hash key that
    selects a configuration (``#config=<index or label>``)."""
    sig, prep = analysis.significance, analysis.prep
    if sig is None or not sig.applicable or len(sig.configs) == 0:
        return None
    import json

    from sweepsight.analysis.configs import INACTIVE, MISSING, format_value
    from sweepsight.reports.safe_text import for_page

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
        levels.append([for_page(format_value(v)) for v in uniq])
        codes.append(c)
        absent.append(INACTIVE if p in prep.conditional else MISSING)
        has_absent.append(bool(na.any()))
    pairs = sig.pairs
    rows, mirror, ia, ib = pair_sides(sig)
    order = np.lexsort((ib, ia))  # by the first configuration, then the second
    # only the columns the walk embeds (a million rows at 250k runs)
    fwd = _rows(pairs, rows[order], ["param", "diff_ci_low", "diff_ci_high", "diff_raw_ci_low",
                                     "diff_raw_ci_high", "cliffs_delta", "ks_p", "t_p", "mw_p",
                                     "p_bh", "p_holm", "verdict", "seeds_for_power"])
    fwd = fwd.assign(ia=ia[order], ib=ib[order])
    back = _rows(pairs, mirror[order], ["p_holm", "verdict", "seeds_for_power"])
    code_of = {v: i for i, v in enumerate(WALK_VERDICTS)}

    def seeds(col: pd.Series) -> np.ndarray:
        v = col.to_numpy(dtype=float)
        return np.where(np.isnan(v), 0, np.where(np.isinf(v), -1, np.nan_to_num(v))).astype(int)

    values = np.concatenate([np.asarray(v, dtype=float) for v in configs["values"]]) \
        if len(configs) else np.zeros(0)
    # seeds to reach alpha depend only on the configuration's neighbourhood size
    reach = pairs.assign(ia=pairs["config_id"].map(index).to_numpy()).groupby("ia")[
        "seeds_to_reach"].max().reindex(np.arange(len(configs))).fillna(0)
    test, alpha = analysis.options.test, analysis.options.alpha
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
        "target": for_page(prep.target), "maximize": bool(prep.maximize), "scale": prep.metric_scale,
        "test": {"ks": "KS", "welch": "Welch", "mannwhitney": "MWU"}.get(test, test),
        "test_field": _TEST_FIELD.get(test, "ks"), "alpha": alpha,
        "params": [for_page(p) for p in params], "levels": levels, "absent": absent, "has_absent": has_absent,
        "verdicts": WALK_VERDICTS,
        "spec": neighbourhood_spec(prep, ci_text=f"{100 * (1 - alpha):g}% bootstrap interval"),
        "datasets": {"neighbours": NEIGHBOURS, "seeds": SEEDS}, "points_mark": POINTS,
        "colors": dict(VERDICT_COLORS), "row_colors": dict(ROW_STYLE),
        "legend": [{"verdict": v, "text": t} for v, t in VERDICT_LEGEND.items()],
        "min_boot": MIN_BOOT_RUNS, "ci_text": f"{100 * (1 - alpha):g}% bootstrap interval",
        "files": {"csv": files[0], "parquet": files[1]} if files else None,
        "hash_key": hash_key,
        "codes": [_int_text(c) for c in codes],
        "n": _int_text(configs["n"]), "rank": _int_text(configs["rank"]),
        "reach": _int_text(reach.to_numpy()),
        "mean": _num_text(configs["mean"], 7), "mean_raw": _num_text(configs["mean_raw"], 7),
        "values": _num_text(values), "pairs": pair_text,
    }
    return json.dumps(plain, separators=(",", ":"))


#: The names of the walk's Vega datasets: the script replaces their rows on each new target.
NEIGHBOURS, SEEDS = "neighbours", "seeds"
#: The Vega-Lite mark names of the walk's clickable marks (a Vega mark ``<name>_marks``).
POINTS = "walk_points"
_SHAPES = {"target": "diamond"}
_FONT: dict[str, Any] = {"labelFontSize": 12, "titleFontSize": 12}


def neighbourhood_spec(prep, *, ci_text: str, width: int = WALK_WIDTH) -> dict:
    """The walk's two views as one Vega-Lite spec, without rows: the target and its neighbours
    by their difference to it (interval rule, verdict-coloured point, hollow for *cannot
    tell*), and beside it each one's per-seed values. The script feeds the datasets
    :data:`NEIGHBOURS` (``row, order, config, verdict, diff, lo, hi, desc``) and :data:`SEEDS`
    (``row, order, config, verdict, value``) through Vega's View API on each new target."""
    import altair as alt

    scale = prep.metric_scale
    colors = alt.Scale(domain=list(VERDICT_COLORS), range=list(VERDICT_COLORS.values()))
    shapes = alt.Scale(domain=list(VERDICT_COLORS),
                       range=[_SHAPES.get(v, "circle") for v in VERDICT_COLORS])
    y = alt.Y("row:N", title=None, sort=alt.EncodingSortField("order", op="min"),
              axis=alt.Axis(labelLimit=220, **_FONT))
    legend = alt.Legend(orient="bottom", columns=3, **_FONT)
    verdict = alt.Color("verdict:N", scale=colors, title="verdict", legend=legend)
    nb = alt.Chart(alt.Data(name=NEIGHBOURS)).encode(y=y)
    x_title = ["Neighbour mean \u2212 target mean",
               f"with {ci_text}" + ("" if scale == "raw" else f", {scale} scale")]

    def x(field: str):
        return alt.X(f"{field}:Q", title=x_title, scale=alt.Scale(zero=True, nice=True),
                     axis=alt.Axis(labelFlush=True, labelOverlap=True, tickCount=5, **_FONT))

    text = {"description": "desc:N", "tooltip": alt.Tooltip("desc:N", title=None)}
    # no interval (a side too small to bootstrap): lo = hi = diff, a rule of no length
    lines = nb.mark_rule(strokeWidth=2).encode(
        x=x("lo"), x2="hi:Q", color=verdict,
        strokeDash=alt.condition("datum.verdict === 'cannot tell'", alt.value([5, 3]),
                                 alt.value([1, 0])), **text)
    points = nb.mark_point(size=90, filled=True, strokeWidth=2, cursor="pointer").encode(
        x=x("diff"), color=verdict, stroke=verdict,
        shape=alt.Shape("verdict:N", scale=shapes, title="verdict", legend=legend),
        fillOpacity=alt.condition("datum.verdict === 'cannot tell'", alt.value(0), alt.value(1)),
        **text)
    points = points.properties(name=POINTS)
    zero = alt.Chart(alt.Data(values=[{"zero": 0}])).mark_rule(
        color="#444", strokeDash=[4, 3], aria=False).encode(x=x("zero"))
    diff = alt.layer(zero, lines, points).properties(width=int(width * 0.46), height=alt.Step(24))
    strip = alt.Chart(alt.Data(name=SEEDS)).mark_tick(thickness=2, size=14).encode(
        y=alt.Y("row:N", sort=alt.EncodingSortField("order", op="min"), axis=None),
        x=alt.X("value:Q", title=["Per-seed values", "as logged" if scale == "raw"
                                  else f"{scale} scale"],
                scale=alt.Scale(zero=False, nice=True),
                axis=alt.Axis(labelFlush=True, labelOverlap=True, tickCount=4, **_FONT)),
        color=verdict, **text).properties(width=int(width * 0.22),
                                                               height=alt.Step(24))
    chart = alt.hconcat(diff, strip, spacing=16).resolve_scale(y="shared")
    from sweepsight.reports.render import with_axis_config

    return with_axis_config(chart.configure_view(stroke=None).to_dict())


def _rows(frame: pd.DataFrame, rows: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``frame[columns]`` at positions ``rows``, in one take, with a fresh index."""
    cols = frame.columns.get_indexer(pd.Index(columns))
    taken = cast(pd.DataFrame, frame.iloc[rows, cols])  # type: ignore[index]  # stubs: scalars only
    return taken.reset_index(drop=True)


_WALK_CSS = """
.sweepsight-walk { font-size: 14px; max-width: 800px; scroll-margin-top: 72px; }
.sweepsight-walk .walk-picker label { display: inline-block; margin: 0 12px 6px 0; font-size: 13px; }
.sweepsight-walk select, .sweepsight-walk input, .sweepsight-walk button { font-size: 13px; }
.sweepsight-walk .walk-rank { width: 5em; }
.sweepsight-walk .walk-note { color: #8a5a00; font-size: 13px; margin: 2px 0; min-height: 1em; }
.sweepsight-walk .walk-header { font-size: 14px; margin: 8px 0; }
.sweepsight-walk .walk-legend { font-size: 13px; margin: 6px 0 10px; }
.sweepsight-walk .walk-chart { overflow-x: auto; min-height: 60px; }
.sweepsight-walk .walk-chart [tabindex]:focus { outline: 2px solid #1f77b4; }
.sweepsight-walk table.walk-table-grid { border-collapse: collapse; font-size: 12px; width: 100%;
  margin: 6px 0; table-layout: auto; }
.sweepsight-walk .walk-table-grid th, .sweepsight-walk .walk-table-grid td {
  border-bottom: 1px solid #ddd; padding: 3px 5px; text-align: left; vertical-align: top;
  white-space: normal; word-break: normal; overflow-wrap: normal; }
.sweepsight-walk .walk-table-grid tbody tr:focus { outline: 2px solid #1f77b4; outline-offset: -2px; }
.sweepsight-walk .walk-all-table td:first-child { min-width: 170px; }
.sweepsight-walk th { background: #f0f0f0; }
.sweepsight-walk h3 { font-size: 16px; margin: 16px 0 6px; }
.sweepsight-walk .walk-filter { width: 22em; margin: 4px 8px 4px 0; }
.sweepsight-walk .walk-pager { margin: 6px 0; font-size: 13px; }
"""


def significance_walk(analysis: Analysis, *, files: tuple[str, str] | None = PAIR_FILES,
                      hash_key: str = "config") -> Html | None:
    """The significance walk as self-contained HTML (data embedded, script inline; nothing is
    fetched; the chart embeds with ``vegaEmbed`` from the site's bundle, which the page loads),
    or None when significance is not applicable. ``analysis``: anything with
    ``significance``, ``prep`` and ``options`` (an :class:`analysis.Analysis`, or a baseline's
    :class:`analysis.compare.BaselineSweep`); ``files``, ``hash_key``: see :func:`walk_data`."""
    from importlib import resources

    data = walk_data(analysis, files=files, hash_key=hash_key)
    if data is None:
        return None
    script = resources.files("sweepsight.reports").joinpath("assets/significance_walk.js").read_text(
        encoding="utf-8")
    import hashlib

    digest = hashlib.sha1()
    for i in range(0, len(data), 1 << 20):  # tens of MB at 250k runs: no encoded copy of it all
        digest.update(data[i:i + (1 << 20)].encode("utf-8"))
    uid = "sweepsight-walk-" + digest.hexdigest()[:12]
    safe = data.replace("<", "\\u003c")  # "<" only occurs inside JSON strings
    del data
    return Html(f'<div class="sweepsight-walk" id="{uid}"><p>Loading the significance view…</p></div>\n'
            f"<style>{_WALK_CSS}</style>\n"
            f'<script type="application/json" id="{uid}-data">{safe}</script>\n'
            f"<script>{script}\n"
            f'(function () {{ var root = document.getElementById("{uid}");\n'
            f'  var data = JSON.parse(document.getElementById("{uid}-data").textContent);\n'
            f"  window.SWEEPSIGHT_WALK(root, data); }})();</script>\n")
