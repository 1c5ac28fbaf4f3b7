"""Which value is best: a marginal (slice) plot per hyperparameter, and a heatmap of the
configuration means over the top interaction pair. Compute the info, then draw it."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from sweepsight.analysis.findings import interactions, levels_of, verdict, Verdict
from sweepsight.analysis.levels import run_labels
from sweepsight.reports.charts._common import plots_raw, scale_suffix
from sweepsight.reports.escape import md

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis

#: Charts fit an 800 px column; no text below 11 px.
COLUMN_PX = 800
PANEL_PX = 190
FONT_PX = 11


class MarginalInfo(NamedTuple):
    """``levels``: one row per (param, level): ``param, level, x, n, mean, lo, hi, best,
    shape`` with ``mean/lo/hi`` on the plotted scale (as logged, or ranks when analysed on
    ranks); ``params``: plotting order (by main-effect share); ``log_x``: params on a log axis;
    ``ordered``: params with ordered levels; ``y_title``, ``log_y``; ``caption``."""

    levels: pd.DataFrame
    params: list[str]
    log_x: set[str]
    ordered: set[str]
    y_title: str
    log_y: bool
    caption: str


def marginal_info(analysis: Analysis) -> MarginalInfo:
    """Per-level means and intervals of every analysed hyperparameter (from ``analysis.levels``)."""
    prep, res = analysis.prep, levels_of(analysis)
    raw = plots_raw(prep)
    order = [str(p) for p in analysis.importance.table["param"] if res.get(str(p)) is not None]
    rows = []
    for pl in (res.get(p) for p in order):
        if pl is None:
            continue
        p = pl.param
        for i, lv in enumerate(pl.levels):
            rows.append({"param": p, "level": lv.label,
                         "x": lv.value if pl.ordered else np.nan, "n": lv.n,
                         "mean": lv.mean_raw if raw else lv.mean,
                         "lo": lv.ci_low_raw if raw else lv.ci_low,
                         "hi": lv.ci_high_raw if raw else lv.ci_high,
                         "best": i == pl.best, "shape": pl.shape.value})
    arrow = "higher is better" if prep.maximize else "lower is better"
    y_title = f"{prep.target} ({arrow})" + scale_suffix(prep)
    pct = f"{100 * res.confidence:.0f}%"
    chosen = {"log": " (chosen by the mean on the log10 scale, the analysis scale; summary.md "
                     "names the best as logged where it differs)",
              "rank": " (chosen on the rank scale, the analysis scale)"}.get(prep.metric_scale, "")
    caption = (f"Mean of {md(prep.target)} over the runs at each value ({pct} interval over those "
               "runs; the other hyperparameters vary within each point), the best value in "
               f"orange{chosen}. Continuous hyperparameters with many values are binned into quantiles "
               "(the point sits at the bin's median).")
    return MarginalInfo(pd.DataFrame(rows), order,
                        {pl.param for pl in res.params if pl.log},
                        {pl.param for pl in res.params if pl.ordered}, y_title,
                        prep.metric_scale == "log", caption)


def marginal_chart(info: MarginalInfo, *, columns: int = 3):
    """One small panel per hyperparameter: means with interval bars, best value highlighted,
    log x where the analysis used log10, categorical levels side by side."""
    import altair as alt

    if not len(info.levels):
        return None
    panels = []
    y = alt.Y("mean:Q", title=info.y_title,
              scale=alt.Scale(zero=False, padding=8, type="log" if info.log_y else "linear"))
    colour = alt.condition("datum.best", alt.value("#f58518"), alt.value("#4c78a8"))
    tips = ["param:N", "level:N", "n:Q", alt.Tooltip("mean:Q", format=".4g"),
            alt.Tooltip("lo:Q", format=".4g"), alt.Tooltip("hi:Q", format=".4g"), "shape:N"]
    for p in info.params:
        data = info.levels[info.levels["param"] == p]
        base = alt.Chart(data)
        if p in info.ordered:
            ticks = [float(v) for v in data["x"]] if len(data) <= 6 else alt.Undefined
            x = alt.X("x:Q", title=p, scale=alt.Scale(type="log" if p in info.log_x else "linear",
                                                      zero=False, nice=False, padding=12),
                      axis=alt.Axis(values=ticks, format=".6~g", grid=False, labelOverlap=True))
            layers = [base.mark_line(color="#9e9e9e").encode(x=x, y=y)]
        else:
            x = alt.X("level:N", title=p, sort=list(data["level"]),
                      axis=alt.Axis(labelAngle=0, labelLimit=PANEL_PX // max(1, len(data))))
            layers = []
        layers += [base.mark_rule().encode(x=x, y="lo:Q", y2="hi:Q", color=colour),
                   base.mark_circle(size=60, opacity=1).encode(x=x, y=y, color=colour,
                                                               tooltip=tips)]
        panels.append(alt.layer(*layers).properties(width=PANEL_PX, height=150))
    return _fonts(alt.concat(*panels, columns=columns))


class HeatmapInfo(NamedTuple):
    """``cells``: ``a, b, mean, n, best, light`` per level pair (mean over runs, as logged or
    rank); ``param_a``/``param_b`` and their level orders; ``share`` of the pair; ``caption``."""

    cells: pd.DataFrame
    param_a: str
    param_b: str
    order_a: list[str]
    order_b: list[str]
    share: float
    value_title: str
    caption: str
    best_at_marginal_bests: bool  # the best cell is where the two marginal bests meet


def heatmap_info(analysis: Analysis) -> HeatmapInfo | None:
    """The configuration means over the top interaction pair, when interactions rise above
    noise (None otherwise)."""
    fact = interactions(analysis)
    if fact is None or not fact.pairs or not (
            analysis.importance.interaction_above_noise or verdict(analysis) is Verdict.INTERACTIONS):
        return None
    top = fact.pairs[0]
    prep = analysis.prep
    order_a, lab_a = run_labels(prep, top.param_a)
    order_b, lab_b = run_labels(prep, top.param_b)
    raw = plots_raw(prep)
    frame = pd.DataFrame({"a": lab_a, "b": lab_b,
                          "y": prep.runs["y_raw" if raw else "y"].to_numpy(dtype=float)})
    frame = frame.dropna(subset=["a", "b"])
    cells = frame.groupby(["a", "b"], sort=False)["y"].agg(["mean", "count"]).reset_index()
    cells = cells.rename(columns={"count": "n"})
    best = cells["mean"].idxmax() if prep.maximize else cells["mean"].idxmin()
    cells["best"] = cells.index == best
    # viridis is light at the top of the range: dark text there, white below
    cells["light"] = cells["mean"] > (cells["mean"].min() + cells["mean"].max()) / 2
    title = f"mean {prep.target}" + ("" if raw else f" ({scale_suffix(prep)[2:]})")
    levels = levels_of(analysis)
    la, lb = levels.get(top.param_a), levels.get(top.param_b)
    marginal = (None if la is None or lb is None else
                (la.best_level.label, lb.best_level.label))
    cell = (str(cells.at[best, "a"]), str(cells.at[best, "b"]))
    meets = marginal == cell
    where = ("" if marginal is None else
             f" It is {'' if meets else 'not '}where the marginal bests meet "
             f"({md(top.param_a)} = {md(marginal[0])}, {md(top.param_b)} = {md(marginal[1])}).")
    caption = (f"Mean {md(prep.target)} over the runs in each cell of {md(top.param_a)} × "
               f"{md(top.param_b)}, "
               f"the strongest interaction ({100 * top.share:.0f}% of the variance between "
               "configurations): how much one hyperparameter's effect changes with the other. "
               f"The best cell is outlined.{where}")
    return HeatmapInfo(cells, top.param_a, top.param_b, order_a, order_b, top.share, title,
                       caption, meets)


def heatmap_chart(info: HeatmapInfo | None):
    """Cells coloured by the mean (viridis), values written in, the best cell outlined."""
    import altair as alt

    if info is None:
        return None
    width = min(COLUMN_PX - 200, 70 * len(info.order_a))
    base = alt.Chart(info.cells).encode(
        x=alt.X("a:N", title=info.param_a, sort=info.order_a, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("b:N", title=info.param_b, sort=info.order_b))
    rect = base.mark_rect().encode(
        color=alt.Color("mean:Q", title=info.value_title, scale=alt.Scale(scheme="viridis")),
        tooltip=["a:N", "b:N", alt.Tooltip("mean:Q", format=".4g"), "n:Q"])
    outline = base.transform_filter("datum.best").mark_rect(fill=None, stroke="#d62728",
                                                            strokeWidth=3)
    label = base.mark_text(fontSize=FONT_PX + 1).encode(
        text=alt.Text("mean:Q", format=".3g"),
        color=alt.condition("datum.light", alt.value("black"), alt.value("white")))
    chart = alt.layer(rect, outline, label).properties(width=width,
                                                       height=alt.Step(36))
    return _fonts(chart)


def _fonts(chart):
    """No text under :data:`FONT_PX` pixels."""
    return chart.configure_axis(labelFontSize=FONT_PX, titleFontSize=FONT_PX + 1) \
        .configure_legend(labelFontSize=FONT_PX, titleFontSize=FONT_PX) \
        .configure_title(fontSize=FONT_PX + 2)
