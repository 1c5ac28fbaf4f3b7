"""The comparison with the baseline: matched configurations ranked by difference (a chart),
listed with links into both sweeps' significance walks, and where the change acts."""
from __future__ import annotations

import html
import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from sweepsight.analysis.scale import times_ten, tiny_power
from sweepsight.reports.charts._common import MAX_ROWS, VERDICT_COLORS
from sweepsight.reports.charts.marginal import FONT_PX
from sweepsight.reports.charts.significance import config_params
from sweepsight.reports.escape import Html


def comparison_data(comp, *, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Matched configurations ranked by difference as logged (current - baseline), best change
    first by the metric's direction; at most ``max_rows`` (the most significant kept)."""
    m = comp.matched.head(max_rows)
    out = pd.DataFrame({"configuration": m["label"].astype(str), "diff": m["diff_raw"],
                        "low": m["diff_raw_ci_low"], "high": m["diff_raw_ci_high"],
                        "baseline": m["mean_raw_baseline"], "current": m["mean_raw_current"],
                        "p_holm": m["p_holm"], "verdict": m["verdict"].astype(str)})
    out = out.sort_values("diff", ascending=comp.direction != "maximize",
                          kind="stable").reset_index(drop=True)
    power = tiny_power(out[["low", "high", "baseline", "current"]].to_numpy(dtype=float))
    if power:  # Vega's axis ticks fail on subnormal numbers: drawn times a power of ten
        for col in ("diff", "low", "high", "baseline", "current"):
            out[col] = times_ten(out[col].to_numpy(dtype=float), power)
    out.attrs["power"] = power
    return out


#: Rows of the comparison chart: beyond this many matched configurations it shows the
#: largest gains and the largest losses (half each), every row labelled.
CHART_ROWS = 40


def comparison_chart(comp):
    """Differences with their bootstrap intervals, one labelled row per matched configuration
    (the :data:`CHART_ROWS` // 2 largest gains and losses when there are more), coloured by
    verdict (None without matched configurations)."""
    import altair as alt

    data = comparison_data(comp)
    if not len(data):
        return None
    titled = {}
    if len(data) > CHART_ROWS:
        half = CHART_ROWS // 2
        titled["title"] = (f"The {half} largest gains and the {half} largest losses of "
                           f"{len(data):,} matched configurations")
        data = pd.concat([data.head(half), data.tail(half)], ignore_index=True)
    verdicts = [v for v in VERDICT_COLORS if v in set(data["verdict"])]
    color = alt.Color("verdict:N", scale=alt.Scale(domain=verdicts,
                                                   range=[VERDICT_COLORS[v] for v in verdicts]))
    y = alt.Y("configuration:N", sort=None, title=None, axis=alt.Axis(labelLimit=420))
    tips = ["configuration:N", alt.Tooltip("baseline:Q", format=".4g"),
            alt.Tooltip("current:Q", format=".4g"), alt.Tooltip("diff:Q", format=".4g"),
            alt.Tooltip("p_holm:Q", format=".2g"), "verdict:N"]
    base = alt.Chart(data).encode(y=y)
    times = f" (×1e{data.attrs['power']})" if data.attrs.get("power") else ""
    bars = base.mark_rule().encode(x=alt.X("low:Q", title=f"{comp.target}: current - baseline{times}"),
                                   x2="high:Q", color=color)
    dots = base.mark_point(filled=True).encode(x="diff:Q", color=color, tooltip=tips)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return (bars + dots + zero).properties(height=alt.Step(FONT_PX + 5), width=420,
                                           **titled) \
        .configure_axis(labelFontSize=FONT_PX, titleFontSize=FONT_PX + 1) \
        .configure_legend(labelFontSize=FONT_PX, titleFontSize=FONT_PX) \
        .configure_title(fontSize=FONT_PX + 1, fontWeight="normal", limit=760)


def _norm(value):
    """One hyperparameter value as a key both sweeps' tables agree on (None when inactive)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return ("b", bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return ("n", float(f"{float(value):.12g}"))
    return ("s", str(value))


def walk_positions(sig, matched: pd.DataFrame, keys) -> list[int | None]:
    """For each matched configuration, its position in a sweep's significance walk (the
    best-ranked configuration with the same values of ``keys`` that the walk knows; None when
    the walk does not apply, is on a coarsened grid, or has no such configuration)."""
    if (sig is None or not sig.applicable or sig.approximate or not len(sig.configs)
            or not len(matched)):
        return [None] * len(matched)
    configs = sig.configs.reset_index(drop=True)
    use = [k for k in keys if k in config_params(configs)]
    index: dict[tuple, int] = {}
    for pos in np.argsort(configs["rank"].to_numpy(), kind="stable")[::-1]:  # best rank wins
        index[tuple(_norm(v) for v in configs.loc[pos, use])] = int(pos)
    return [index.get(tuple(_norm(v) for v in row))
            for row in matched[use].itertuples(index=False, name=None)]


class MatchedRow(NamedTuple):
    """One matched configuration as the comparison page lists it (numbers as logged)."""

    label: str
    verdict: str
    n_baseline: int
    n_current: int
    mean_baseline: float
    mean_current: float
    diff: float
    low: float
    high: float
    p_holm: float
    current_walk: int | None
    baseline_walk: int | None


def matched_rows(comp, sig) -> list[MatchedRow]:
    """The matched configurations, most significant first, with their positions in the current
    sweep's walk (``sig``: its significance result) and in the baseline's."""
    m = comp.matched
    keys = list(comp.shared)
    cur = walk_positions(sig, m, keys)
    base_sig = comp.baseline_sweep.significance if comp.baseline_sweep is not None else None
    base = walk_positions(base_sig, m, keys)
    return [MatchedRow(str(r.label), str(r.verdict), int(r.n_baseline), int(r.n_current),
                       float(r.mean_raw_baseline), float(r.mean_raw_current), float(r.diff_raw),
                       float(r.diff_raw_ci_low), float(r.diff_raw_ci_high), float(r.p_holm), c, b)
            for r, c, b in zip(m.itertuples(index=False), cur, base)]


def _num(v: float, spec: str = ".4g") -> str:
    return "" if v is None or not np.isfinite(v) else format(v, spec)


#: Where the build writes every matched configuration (the page lists the first rows).
MATCHED_FILE = "data/matched.csv"


def matched_table_html(comp, sig, *, max_rows: int = 60) -> Html:
    """The matched configurations as an HTML table, rows coloured by verdict; each links to
    the significance page's walk at that configuration (``significance.html#config=N``) and to
    the baseline's walk on this page (``#baseline=N``). Run-derived text is escaped."""
    rows = matched_rows(comp, sig)
    if not rows:
        return Html("")
    head = ["configuration", "verdict", "baseline mean (runs)", "current mean (runs)",
            "difference [interval]", "p (Holm)", "walk the baseline"]
    out = ['<table class="sweepsight-table comparison-table">',
           "<thead><tr>" + "".join(
               f'<th style="text-align:{"left" if i in (0, 1, 6) else "right"}">{html.escape(h)}</th>'
               for i, h in enumerate(head)) + "</tr></thead>",
           "<tbody>"]
    for r in rows[:max_rows]:
        name = html.escape(r.label)
        if r.current_walk is not None:
            name = (f'<a class="to-walk" href="significance.html#config={r.current_walk}" '
                    f'title="its neighbours in this sweep (significance page)">{name}</a>')
        base = ("" if r.baseline_walk is None else
                f'<a class="to-baseline-walk" href="#baseline={r.baseline_walk}">its '
                "neighbours in the baseline</a>")
        interval = "" if not np.isfinite(r.low) else f" [{_num(r.low, '+.3g')}, {_num(r.high, '+.3g')}]"
        cells = [name, html.escape(r.verdict),
                 f"{_num(r.mean_baseline)} ({r.n_baseline})", f"{_num(r.mean_current)} ({r.n_current})",
                 f"{_num(r.diff, '+.4g')}{interval}", _num(r.p_holm, ".3g"), base]
        color = ROW_COLORS.get(r.verdict, "transparent")
        out.append(f'<tr data-verdict="{html.escape(r.verdict)}" style="background:{color}">'
                   + "".join(f'<td style="text-align:{"left" if i in (0, 1, 6) else "right"}">'
                             f"{c}</td>" for i, c in enumerate(cells)) + "</tr>")
    out.append("</tbody></table>")
    if len(rows) > max_rows:
        out.append(f"<p><em>{len(rows) - max_rows:,} more matched configurations not shown "
                   f'(the least significant); all {len(rows):,} are in <a href="{MATCHED_FILE}">'
                   f"{MATCHED_FILE}</a>.</em></p>")
    return Html("\n".join(out))


#: Light row backgrounds by verdict for the matched table.
ROW_COLORS = {"better": "#e3f4e3", "worse": "#fbe3e3", "cannot tell": "#efeaf6"}


SHIFT_COLUMNS = ["hyperparameter", "the change differs between its levels (p Holm)", "level",
                 "configurations", "median difference", "p (Holm)", "verdict"]


def shifts_frame(comp) -> pd.DataFrame:
    """Where the change acts: per level of each shared hyperparameter, the matched
    configurations' median difference and its Wilcoxon signed-rank verdict (Holm over levels),
    with whether the change differs between the hyperparameter's levels at all (Kruskal-Wallis,
    Holm over hyperparameters). When it acts through some hyperparameters, only their levels
    (the others' levels shift alike: :func:`reports.text.shifts_alike_sentence`)."""
    shifts = [s for s in comp.shifts if s.acts] or list(comp.shifts)
    rows = [{SHIFT_COLUMNS[0]: s.param,
             SHIFT_COLUMNS[1]: ("yes" if s.acts else "no") + (
                 "" if math.isnan(s.param_p_holm) else f" ({s.param_p_holm:.2g})"),
             "level": s.level, "configurations": s.n, "median difference": s.median_diff,
             "p (Holm)": s.p_holm, "verdict": s.verdict, "_acts": not s.acts,
             "_pp": s.param_p_holm}
            for s in shifts]
    out = pd.DataFrame(rows, columns=[*SHIFT_COLUMNS, "_acts", "_pp"])
    return out.sort_values(["_acts", "_pp", "hyperparameter", "p (Holm)"], na_position="last",
                           kind="stable").drop(columns=["_acts", "_pp"]).reset_index(drop=True)
