"""Importance page: main-effect shares with the noise floor, forest importances, correlation sign,
and the metric against the most important hyperparameters."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from sweepsight.reports.charts._common import (MAX_ROWS, fields, label_angle, metric_encoding,
                                    metric_title, param_tooltips, runs_with_text_params,
                                    sample_rows)

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis


def _importance_data(analysis: Analysis) -> pd.DataFrame:
    """One row per hyperparameter: ``param, share, noise_floor, above_floor, impurity(_std),
    permutation(_std), corr, corr_feature``, ordered by main-effect share (desc).

    ``corr`` is the Spearman r of the param's own encoded column, or for a categorical the
    level column with the largest |r| (``corr_feature`` says which)."""
    imp = analysis.importance.table
    out = pd.DataFrame({"param": imp["param"].astype(str).to_numpy(),
                        "share": imp.get("share", imp["importance"]).to_numpy(dtype=float),
                        "noise_floor": imp["noise_floor"].to_numpy(dtype=float),
                        "above_floor": imp["above_floor"].fillna(False).to_numpy(dtype=bool)})
    forest = analysis.forest.table.set_index("param")
    for col in ("impurity", "impurity_std", "permutation", "permutation_std"):
        out[col] = out["param"].map(forest[col]).to_numpy(dtype=float)
    corr = analysis.correlation
    r: list[float] = []
    feat: list[str] = []
    for p in out["param"]:
        rows = corr[corr["param"] == p] if corr is not None and len(corr) else corr
        if rows is None or len(rows) == 0:
            r.append(np.nan)
            feat.append("")
            continue
        own = rows[rows["feature"] == p]
        strongest: Any = rows["spearman_r"].abs().idxmax()
        pick: pd.Series = own.iloc[0] if len(own) else rows.loc[strongest]
        r.append(float(pick["spearman_r"]))
        feat.append(str(pick["feature"]))
    out["corr"], out["corr_feature"] = r, feat
    return out.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)


def importance_chart(analysis: Analysis):
    """Four panels sharing the param axis: main-effect share (noise floor as a rule), forest
    impurity importance and permutation importance (± their spread; each on its own scale,
    they are different units), Spearman correlation (sign)."""
    import altair as alt

    data = _importance_data(analysis)
    order = list(data["param"])
    y = alt.Y("param:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    tips: list[Any] = ["param:N", alt.Tooltip("share:Q", format=".2~%", title="main-effect share"),
            alt.Tooltip("noise_floor:Q", format=".3f"), "above_floor:N",
            alt.Tooltip("impurity:Q", format=".3f"), alt.Tooltip("permutation:Q", format=".3f"),
            alt.Tooltip("corr:Q", format=".3f", title="Spearman r"), "corr_feature:N"]
    base = alt.Chart(data).encode(y=y, tooltip=tips)
    main = alt.layer(
        base.mark_bar().encode(
            x=alt.X("share:Q", title="share of variance (main effect)", axis=alt.Axis(format="~%")),
            color=alt.condition("datum.above_floor", alt.value("#4c78a8"), alt.value("#c7c7c7"))),
        base.mark_tick(color="#d62728", thickness=2, size=16).encode(x="noise_floor:Q"),
    ).properties(width=200, height=max(60, 30 * len(order)),
                 title=["Main effects", "(red tick: noise floor)"])
    cv = f"forest, cv R\u00b2 {analysis.forest.cv_r2:.2f}"
    impurity = _forest_panel(data, y, "impurity", "#72b7b2", width=170,
                             axis_title="share of impurity decrease",
                             title=["Impurity importance", f"(mean impurity decrease; {cv})"])
    permutation = _forest_panel(data, y, "permutation", "#54a24b", width=170,
                                axis_title="drop in R\u00b2",
                                title=["Permutation importance",
                                       "(drop in R\u00b2 when shuffled)"])
    corr = base.mark_bar().encode(
        x=alt.X("corr:Q", title="Spearman r", scale=alt.Scale(domain=[-1, 1])),
        color=alt.condition("datum.corr > 0", alt.value("#54a24b"), alt.value("#e45756")),
    ).properties(width=140, height=max(60, 30 * len(order)), title="Correlation")
    # impurity (a share of impurity decrease) and permutation (a drop in R²) are different units:
    # each on its own axis
    return alt.hconcat(main, impurity, permutation, corr).resolve_scale(
        color="independent", y="shared", x="independent")


def _forest_panel(data: pd.DataFrame, y, kind: str, color: str, *, width: int, title,
                  axis_title: str):
    """One forest importance per param with ± its spread over the trees / repeats."""
    import altair as alt

    rows = pd.DataFrame({"param": data["param"], "value": data[kind],
                         "lo": data[kind] - data[f"{kind}_std"].fillna(0),
                         "hi": data[kind] + data[f"{kind}_std"].fillna(0)})
    base = alt.Chart(rows).encode(
        y=y, tooltip=["param:N", alt.Tooltip("value:Q", format=".3f", title=kind),
                      alt.Tooltip("lo:Q", format=".3f", title="- std"),
                      alt.Tooltip("hi:Q", format=".3f", title="+ std")])
    return alt.layer(base.mark_bar(color=color).encode(x=alt.X("value:Q", title=axis_title)),
                     base.mark_rule(color="black").encode(x="lo:Q", x2="hi:Q")
                     ).properties(width=width, height=max(60, 30 * len(rows)), title=title)


def interactions_chart(analysis: Analysis, *, top: int = 8):
    """Bars of the largest pairwise interaction shares (``importance.top_interactions``)."""
    import altair as alt

    t = analysis.importance.top_interactions.head(top)
    data = pd.DataFrame({"pair": [f"{a} × {b}" for a, b in zip(t["param_a"], t["param_b"])],
                         "share": t["share"].to_numpy(dtype=float)})
    return alt.Chart(data).mark_bar(color="#b279a2").encode(
        y=alt.Y("pair:N", sort=list(data["pair"]), title=None),
        x=alt.X("share:Q", title="share of variance (interaction)", axis=alt.Axis(format="~%")),
        tooltip=["pair:N", alt.Tooltip("share:Q", format=".2~%")],
    ).properties(width=300, height=alt.Step(20))


class MetricVsParams(NamedTuple):
    """``runs``: runs shown (text params by ``field_of``, numeric ``num_<field>`` values);
    ``params``: the top hyperparameters plotted; ``caption``: sampling sentence."""

    runs: pd.DataFrame
    params: list
    field_of: dict
    caption: str


def _metric_vs_params_data(analysis: Analysis, *, top: int = 4, max_rows: int = MAX_ROWS,
                           random_state: int = 0) -> MetricVsParams:
    """The runs (sampled above ``max_rows``) with the ``top`` params by main-effect share."""
    prep = analysis.prep
    ranked = [p for p in _importance_data(analysis)["param"] if p in prep.params][:top]
    field_of = fields(prep.params)
    sample = sample_rows(prep.runs, max_rows=max_rows, random_state=random_state)
    out = runs_with_text_params(prep, field_of, sample.frame)
    for p in ranked:
        if p in prep.numeric:
            out["num_" + field_of[p]] = pd.to_numeric(sample.frame[p], errors="coerce").to_numpy()
    return MetricVsParams(out, ranked, field_of, sample.caption)


def metric_vs_params_chart(analysis: Analysis, *, top: int = 4, max_rows: int = MAX_ROWS):
    """The metric against each top hyperparameter: scatter (log x where analysed on log10) or,
    for categoricals, a box plot per level with the runs as dots."""
    import altair as alt

    prep = analysis.prep
    data = _metric_vs_params_data(analysis, top=top, max_rows=max_rows)
    tips = param_tooltips(prep, data.field_of) + [
        alt.Tooltip("y_raw:Q", title=prep.target, format=".4g")]
    field, kind, suffix = metric_encoding(prep)
    yenc = alt.Y(f"{field}:Q", title=metric_title(prep) + suffix,
                 scale=alt.Scale(zero=False, **kind))
    panels = []
    for p in data.params:
        f = data.field_of[p]
        base = alt.Chart(data.runs)
        if p in prep.numeric:
            log = p in prep.log_scaled
            panels.append(base.transform_filter(f"isValid(datum.num_{f})").mark_circle(
                size=28, opacity=0.5).encode(
                x=alt.X(f"num_{f}:Q", title=p, scale=alt.Scale(type="log" if log else "linear",
                                                               zero=False)),
                y=yenc, tooltip=tips).properties(width=220, height=200))
        else:
            angle = label_angle(data.runs[f].unique(), 220)
            xd = alt.X(f"{f}:N", title=p, axis=alt.Axis(labelAngle=angle, labelLimit=120))
            panels.append(alt.layer(
                # min-max whiskers: the runs are drawn as dots anyway, and an empty outlier
                # layer makes Vega warn "Infinite extent"
                base.mark_boxplot(extent="min-max", opacity=0.5).encode(x=xd, y=yenc),
                base.mark_circle(size=18, opacity=0.4, color="#333").encode(
                    x=xd, y=yenc, tooltip=tips),
            ).properties(width=220, height=200))
    if not panels:
        return None
    return alt.concat(*panels, columns=2)
