"""The next sweep beside this one: per numeric hyperparameter the values tried and the values
(or range) proposed, each on its own scale. Compute the table, then draw it."""
from __future__ import annotations

import math

import pandas as pd

from sweepsight.analysis.configs import format_value
from sweepsight.analysis.next_sweep import Decision, NextSweep

CAPTION = ("Each numeric hyperparameter on its own scale (log10 where analysed so): 0 is the "
           "lowest value tried, 1 the highest. Grey: tried; blue: the next sweep (points are "
           "values, a bar a range to sample). Past 1 or below 0: an extension.")


def _scale(d: Decision):
    lo, hi = float(min(d.tried)), float(max(d.tried))
    f = math.log10 if d.log and lo > 0 else float
    a, b = f(lo), f(hi)
    span = b - a if b > a else 1.0
    return lambda v: (f(float(v)) - a) / span


def _next_sweep_data(plan: NextSweep) -> pd.DataFrame:
    """``param, kind (tried/next), lo, hi, label``: a point where lo == hi, else a range."""
    rows = []
    for d in plan.decisions:
        if not d.numeric or not d.tried:
            continue
        pos = _scale(d)
        tried = [d.tried] if d.continuous else [(v, v) for v in d.tried]
        nxt = ([(d.low, d.high)] if not d.values and d.low is not None
               else [(v, v) for v in d.values])
        for kind, spans in (("tried", tried), ("next", nxt)):
            for lo, hi in spans:
                label = format_value(lo) if lo == hi else f"{format_value(lo)} to {format_value(hi)}"
                rows.append({"param": d.param, "kind": kind, "lo": pos(lo), "hi": pos(hi),
                             "label": label, "decision": d.action.value})
    return pd.DataFrame(rows, columns=["param", "kind", "lo", "hi", "label", "decision"])


def next_sweep_chart(plan: NextSweep):
    """Tried against next values (None when no hyperparameter is numeric)."""
    import altair as alt

    data = _next_sweep_data(plan)
    if not len(data):
        return None
    y = alt.Y("param:N", title=None, axis=alt.Axis(labelLimit=200))
    color = alt.Color("kind:N", title=None,
                      scale=alt.Scale(domain=["tried", "next"], range=["#9d9d9d", "#4c78a8"]))
    base = alt.Chart(data).encode(y=y, yOffset=alt.YOffset("kind:N", sort=["tried", "next"]),
                                  color=color,
                                  tooltip=["param:N", "kind:N", "label:N", "decision:N"])
    x = alt.X("lo:Q", title="position on the tried range (0 = lowest, 1 = highest)")
    return alt.layer(
        base.transform_filter("datum.lo != datum.hi").mark_bar(height=6).encode(x=x, x2="hi:Q"),
        base.transform_filter("datum.lo == datum.hi").mark_point(filled=True, size=60).encode(x=x),
    ).properties(width=600, height=alt.Step(28), title=alt.Title("Tried and next", subtitle=CAPTION))
