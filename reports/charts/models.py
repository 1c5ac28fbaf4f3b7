"""Correlation and linear-model charts."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sweepsight.analysis.constants import VIF_HIGH

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis


def _correlation_data(analysis: Analysis, *, alpha: float | None = None) -> pd.DataFrame:
    """Long table ``feature, param, method, r, p, n, significant``, features ordered by |Spearman|."""
    alpha = analysis.options.alpha if alpha is None else alpha
    c = analysis.correlation
    if c is None or len(c) == 0:
        return pd.DataFrame(columns=["feature", "param", "method", "r", "p", "n", "significant"])
    c = c.assign(_o=c["spearman_r"].abs()).sort_values("_o", ascending=False, kind="stable")
    parts = []
    for method, r, p in (("Pearson", "pearson_r", "pearson_p"), ("Spearman", "spearman_r", "spearman_p")):
        parts.append(pd.DataFrame({"feature": c["feature"].astype(str).to_numpy(),
                                   "param": c["param"].astype(str).to_numpy(), "method": method,
                                   "r": c[r].to_numpy(dtype=float), "p": c[p].to_numpy(dtype=float),
                                   "n": c["n"].to_numpy(dtype=int)}))
    out = pd.concat(parts, ignore_index=True)
    out["significant"] = out["p"] < alpha
    return out


def correlation_chart(analysis: Analysis):
    """Grouped bars of Pearson and Spearman r per encoded feature; p-values in the tooltip."""
    import altair as alt

    data = _correlation_data(analysis)
    order = list(dict.fromkeys(data["feature"]))
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("feature:N", sort=order, title=None, axis=alt.Axis(labelLimit=240)),
        yOffset=alt.YOffset("method:N"),
        x=alt.X("r:Q", title=f"correlation with {analysis.prep.target}",
                scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color("method:N", scale=alt.Scale(range=["#4c78a8", "#f58518"])),
        opacity=alt.condition("datum.significant", alt.value(1.0), alt.value(0.4)),
        tooltip=["feature:N", "param:N", "method:N", alt.Tooltip("r:Q", format=".3f"),
                 alt.Tooltip("p:Q", format=".3g"), "n:Q"],
    ).properties(width=420, height=max(60, 28 * len(order)))


def _coefficient_data(analysis: Analysis, *, alpha: float | None = None) -> pd.DataFrame:
    """Linear-model terms (no intercept) with ``significant`` (p < alpha) and ``vif_high`` (> :data:`~analysis.constants.VIF_HIGH`)."""
    alpha = analysis.options.alpha if alpha is None else alpha
    t = analysis.linear.table
    t = t[t["term"].astype(str).str.lower() != "intercept"].copy()
    t["term"] = t["term"].astype(str)
    t["significant"] = t["p_value"] < alpha
    t["vif_high"] = t["vif"].astype(float) > VIF_HIGH
    t["label"] = np.where(t["significant"], "p < " + f"{alpha:g}", "not significant")
    return t.sort_values("coef", ascending=False, kind="stable").reset_index(drop=True)


def coefficient_chart(analysis: Analysis):
    """Coefficients with confidence-interval error bars; significant ones in colour."""
    import altair as alt

    data = _coefficient_data(analysis)
    cols = ["term", "param", "coef", "ci_low", "ci_high", "p_value", "vif", "label"]
    data = data[cols].astype({"param": str})
    base = alt.Chart(data).encode(
        y=alt.Y("term:N", sort=list(data["term"]), title=None, axis=alt.Axis(labelLimit=240)),
        color=alt.Color("label:N", title=None,
                        scale=alt.Scale(domain=[f"p < {analysis.options.alpha:g}",
                                                "not significant"],
                                        range=["#d62728", "#9e9e9e"])),
        tooltip=["term:N", "param:N", alt.Tooltip("coef:Q", format=".4g"),
                 alt.Tooltip("ci_low:Q", format=".4g"), alt.Tooltip("ci_high:Q", format=".4g"),
                 alt.Tooltip("p_value:Q", format=".3g"), alt.Tooltip("vif:Q", format=".2f")],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 3]).encode(x="x:Q")
    return alt.layer(
        zero,
        base.mark_rule(strokeWidth=2).encode(
            x=alt.X("ci_low:Q", title=f"effect on {analysis.prep.target} (per SD / vs reference)"),
            x2="ci_high:Q"),
        base.mark_point(filled=True, size=70).encode(x="coef:Q"),
    ).properties(width=420, height=alt.Step(18))
