"""The comparison with the baseline as a chart: matched configurations ranked by difference."""
from __future__ import annotations

import pandas as pd

from sweepsight.reports.charts._common import MAX_ROWS, VERDICT_COLORS


def comparison_data(comp, *, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Matched configurations ranked by difference as logged (current - baseline), best change
    first by the metric's direction; at most ``max_rows`` (the most significant kept)."""
    m = comp.matched.head(max_rows)
    out = pd.DataFrame({"configuration": m["label"].astype(str), "diff": m["diff_raw"],
                        "low": m["diff_raw_ci_low"], "high": m["diff_raw_ci_high"],
                        "baseline": m["mean_raw_baseline"], "current": m["mean_raw_current"],
                        "p_holm": m["p_holm"], "verdict": m["verdict"].astype(str)})
    return out.sort_values("diff", ascending=comp.direction != "maximize",
                           kind="stable").reset_index(drop=True)


def comparison_chart(comp):
    """Differences with their bootstrap intervals, one row per matched configuration, coloured
    by verdict (None without matched configurations)."""
    import altair as alt

    data = comparison_data(comp)
    if not len(data):
        return None
    verdicts = [v for v in VERDICT_COLORS if v in set(data["verdict"])]
    color = alt.Color("verdict:N", scale=alt.Scale(domain=verdicts,
                                                   range=[VERDICT_COLORS[v] for v in verdicts]))
    y = alt.Y("configuration:N", sort=None, title=None, axis=alt.Axis(labels=len(data) <= 60))
    tips = ["configuration:N", alt.Tooltip("baseline:Q", format=".4g"),
            alt.Tooltip("current:Q", format=".4g"), alt.Tooltip("diff:Q", format=".4g"),
            alt.Tooltip("p_holm:Q", format=".2g"), "verdict:N"]
    base = alt.Chart(data).encode(y=y)
    bars = base.mark_rule().encode(x=alt.X("low:Q", title=f"{comp.target}: current - baseline"),
                                   x2="high:Q", color=color)
    dots = base.mark_point(filled=True).encode(x="diff:Q", color=color, tooltip=tips)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return (bars + dots + zero).properties(height=max(120, min(12 * len(data), 1500)))
