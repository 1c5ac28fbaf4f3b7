"""Charts: the ``_data`` functions on real analyses of synthetic sweeps, and valid, capped specs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sweepsight.analysis import analyse
from sweepsight.analysis import synthetic as S
from sweepsight.reports import charts
from sweepsight.reports.charts import importance as imp_charts
from sweepsight.reports.charts import models, overview, significance
from sweepsight.reports.charts._common import MAX_ROWS


@pytest.fixture(scope="module")
def analysis():
    """lr (log-uniform, strong) x optimizer grid with 6 seeds, a failed run and a NaN target."""
    table = S.make_table(
        {"lr": S.LogUniform(1e-4, 1e-1), "optimizer": S.Choice(["adam", "sgd"]),
         "noise_param": S.Uniform(0.0, 1.0)},
        effects={"lr": 2.0}, grid=True, grid_points=3, seeds=6, noise=0.1, base=0.0,
        target="loss", failed=1, nan_target=1, random_state=0)
    return analyse(table, target="loss")


@pytest.fixture(scope="module")
def big():
    """A 100k-run sweep (120 configurations, many repeats) - for the row caps only."""
    rng = np.random.default_rng(0)
    n = 100_000
    lr = 10 ** rng.choice(np.linspace(-5, -1, 40), n)  # 40 x 3 configurations, ~830 runs each
    frame = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "name": [f"r{i}" for i in range(n)],
                          "state": "finished", "params.lr": lr,
                          "params.opt": rng.choice(["adam", "sgd", "rmsprop"], n),
                          "metrics.loss": np.log10(lr) ** 2 + rng.normal(0, 0.1, n)})
    from sweepsight.adapters.schema import build_table
    from sweepsight.analysis import Analysis, AnalysisOptions
    from sweepsight.analysis.correlation import correlations
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours

    prep = prepare(build_table(frame, source="csv"), target="loss")
    sig = compare_neighbours(prep, n_boot=50)
    return Analysis(table=None, prep=prep, correlation=correlations(prep), linear=None,
                    forest=None, importance=None, significance=sig, options=AnalysisOptions(target="loss"),
                    timings={})


def _rows(chart) -> int:
    spec = chart.to_dict()
    return max(len(v) for v in spec.get("datasets", {"_": []}).values())






def test_significance_table_marks_target_and_significant(analysis):
    data = significance._significance_table_data(analysis).frame
    assert data["role"].iat[0] == "target"
    html = charts.significance_table_html(analysis)
    assert html.count("background:#cdeccd") == 1
    n_sig = int(data["role"].isin(["better", "worse"]).sum())
    assert n_sig > 0 and html.count("background:#fff3b0") == n_sig




def test_parallel_data_only_varying_params_and_log_axes(analysis):
    data = overview._parallel_data(analysis)
    prep = analysis.prep
    assert set(data.axes["title"]) == set(prep.params) | {prep.target}
    assert "seed" not in set(data.axes["title"])
    lr = data.axes.set_index("title").loc["lr"]
    assert bool(lr["log"]) and lr["axis"] == "log10 lr"
    pos = data.runs["pos_" + lr["field"]]
    # lr grid 1e-4, ~3e-3, 1e-1: evenly spaced on log10 -> positions 0, 0.5, 1
    np.testing.assert_allclose(sorted(pos.unique()), [0.0, 0.5, 1.0], atol=1e-9)
    opt = data.axes.set_index("title").loc["optimizer"]
    assert sorted(data.runs["pos_" + opt["field"]].unique()) == [0.0, 1.0]
    assert (data.runs["kind"] == overview.RUNS).sum() == len(prep.runs)


def test_parallel_data_draws_configuration_means_and_marks_the_best(analysis):
    """One line per configuration at the mean of its runs (on the analysis scale and as
    logged), the best TOP_CONFIGS flagged; every run is there too, behind the radio button."""
    prep = analysis.prep
    data = overview._parallel_data(analysis)
    means = data.runs[data.runs["kind"] == overview.MEANS]
    want = prep.runs.groupby(list(prep.params), dropna=False)["y"].agg(["mean", "size"])
    assert len(means) == len(want) == len(analysis.significance.run_configs)
    np.testing.assert_allclose(np.sort(means["y"].to_numpy()), np.sort(want["mean"].to_numpy()))
    best = means.sort_values("y", ascending=not prep.maximize)
    assert best["top"].head(overview.TOP_CONFIGS).all() and not best["top"].iloc[
        overview.TOP_CONFIGS:].any()
    assert best["name"].iat[0].startswith("configuration rank 1, mean of ")
    spec = json.dumps(charts.parallel_coordinates(analysis).to_dict())
    assert '"show"' in spec and overview.RUNS in spec and "datum.kind === show" in spec


def test_top_configs_and_summary(analysis):
    top = overview._top_configs_data(analysis, k=3)
    assert list(top["rank"]) == sorted(top["rank"]) and len(top) == 3
    assert top["n"].between(5, 6).all()  # 6 seeds, one failed / one NaN run
    summary = overview._sweep_summary_data(analysis).set_index("item")["value"]
    assert summary["runs left out"] == "2"
    assert summary["runs per configuration (min / median / max)"].startswith("5 /") or \
        summary["runs per configuration (min / median / max)"].startswith("6 /")
    assert len(overview._excluded_data(analysis)) == 2


def test_importance_data_joins_forest_and_correlation(analysis):
    data = imp_charts._importance_data(analysis)
    assert data["param"].iat[0] == "lr" and bool(data["above_floor"].iat[0])
    assert data.set_index("param").loc["lr", "corr"] > 0.9  # loss rises with lr
    np.testing.assert_allclose(
        data.set_index("param").loc["lr", "impurity"],
        analysis.forest.table.set_index("param").loc["lr", "impurity"])


def test_correlation_and_coefficients(analysis):
    corr = models._correlation_data(analysis)
    assert set(corr["method"]) == {"Pearson", "Spearman"}
    assert corr["feature"].iat[0] == "lr"
    coef = models._coefficient_data(analysis)
    assert "intercept" not in set(coef["term"].str.lower())
    assert bool(coef.set_index("term").loc["lr", "significant"])


def test_every_chart_is_valid_vega_lite(analysis):
    for make in (charts.parallel_coordinates, charts.correlation_chart, charts.coefficient_chart,
                 charts.importance_chart, charts.interactions_chart, charts.metric_vs_params_chart):
        spec = make(analysis).to_dict()
        assert json.dumps(spec)


def test_row_caps_on_100k_runs(big):
    assert len(big.prep.runs) > 90_000
    pc = overview._parallel_data(big)
    assert len(pc.runs) == MAX_ROWS and "random sample" in pc.caption
    assert (pc.runs["kind"] == overview.MEANS).sum() == len(big.significance.run_configs)
    assert _rows(charts.parallel_coordinates(big)) <= MAX_ROWS
    assert big.significance.applicable
    assert charts.significance_walk(big)  # no Vega dataset: every configuration, as columns


def test_overview_counts_exact_configurations_and_names_the_ranking_scale():
    table = S.make_table({"lr": S.LogUniform(1e-4, 1e-1), "wd": S.LogUniform(1e-6, 1e-2)},
                         effects={"lr": 1.0}, n_configs=40, seeds=2, noise=0.1,
                         heavy_tail=(0.05, 1e3), target="loss", random_state=2)
    a = analyse(table, target="loss", metric_scale="rank")
    assert a.significance.approximate
    summary = overview._sweep_summary_data(a).set_index("item")["value"]
    assert summary["configurations"] == "40"
    top = overview._top_configs_data(a)
    assert not top["configuration"].str.contains(r"\[").any()
    assert "mean (rank scale)" in top and top["mean (rank scale)"].is_monotonic_increasing
    caption = overview.top_configs_caption(a)
    assert "rank scale" in caption and "groups them into ranges" in caption


def test_tables_write_the_bound_of_an_underflowed_p_value():
    """A p-value of 0 (float underflow) reads "< 1e-300" in a table, as the text writes it;
    other zeros stay 0."""
    from sweepsight.reports.charts.tables import html_table

    out = html_table(pd.DataFrame({"param": ["lr", "wd"], "p_value": [0.0, 0.031],
                                   "p_holm": [0.0, 0.062], "ks_p": [0.0, 1.0],
                                   "share": [0.0, 0.5]}))
    rows = out.split("<tr>")[2:]
    assert rows[0].count("<td>&lt; 1e-300</td>") == 3 and "<td>0</td>" in rows[0]  # share 0
    assert "1e-300" not in rows[1] and "<td>0.031</td>" in rows[1]


def test_flags_in_page_text_are_code_that_does_not_wrap():
    from sweepsight.reports.charts.tables import flags_as_code
    from sweepsight.reports.escape import markdown_html

    out = flags_as_code(markdown_html(
        "More seeds, or --test welch (which compares means), or --quick; "
        "`--test` stays a code span, `--baseline \"--source csv\"` too; a--b is no flag; "
        '[a link](https://example.org/?x=--test "--test").'))
    assert out.count('<code style="white-space: nowrap">') == 2
    assert '<code style="white-space: nowrap">--test welch</code> (which' in out
    assert '<code style="white-space: nowrap">--quick</code>;' in out
    assert "<code>--test</code>" in out and "a--b" in out and "x=--test" in out



def test_walk_is_a_vega_lite_view_fed_one_target_at_a_time(analysis):
    """The walk's chart is a Vega-Lite spec whose datasets are empty names (the script hands
    them the current target's rows through the View API); the script draws no SVG itself."""
    from importlib import resources

    import altair as alt

    data = json.loads(significance.walk_data(analysis))
    spec = data["spec"]
    alt.HConcatChart.from_dict(spec)  # valid Vega-Lite (raises on a schema error)
    names = set(data["datasets"].values())
    assert names == {significance.NEIGHBOURS, significance.SEEDS}
    assert "datasets" not in spec  # no rows in the spec: the script inserts the target's
    text = json.dumps(spec)
    for name in names:
        assert f'{{"name": "{name}"}}' in text
    assert text.count('"values"') == 1  # only the zero line's one row
    assert '"description"' in text and '"tooltip"' in text  # aria labels and tooltips
    colors = json.dumps(spec["hconcat"][0]["layer"][2]["encoding"]["color"]["scale"])
    assert all(c in colors for c in significance.VERDICT_COLORS.values())
    script = resources.files("sweepsight.reports").joinpath(
        "assets/significance_walk.js").read_text(encoding="utf-8")
    assert "createElementNS" not in script and "<svg" not in script
    assert "vegaEmbed(" in script and ".change(" in script and "addEventListener(\"click\"" in script


def test_comparison_chart_labels_every_row_it_draws():
    """Beyond CHART_ROWS matched configurations the chart draws the largest gains and losses,
    each row labelled, and its title says how many there are."""
    from sweepsight.analysis.compare import compare_sweeps
    from sweepsight.analysis.prepare import prepare
    from sweepsight.reports.charts import comparison

    grid = {"a": S.Choice(list(range(6))), "b": S.Choice(list(range(6))),
            "c": S.Choice(["x", "y"])}

    def sweep(seed):
        table = S.make_table(grid, grid=True, seeds=3, noise=0.1, target="acc",
                             effects={"a": {0: -0.3}}, random_state=seed)
        return prepare(table, target="acc", direction="maximize")

    comp = compare_sweeps(sweep(1), sweep(2), test="welch", n_boot=50)
    data = comparison.comparison_data(comp)
    assert len(data) == 72 > comparison.CHART_ROWS
    spec = comparison.comparison_chart(comp).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == comparison.CHART_ROWS
    drawn = [r["configuration"] for r in rows]
    assert drawn[:20] == list(data["configuration"].head(20))
    assert drawn[20:] == list(data["configuration"].tail(20))
    assert spec["layer"][0]["encoding"]["y"]["axis"].get("labels", True) is True
    assert "of 72 matched configurations" in str(spec["title"])


def test_comparison_chart_of_few_configurations_draws_them_all():
    from sweepsight.analysis.compare import compare_sweeps
    from sweepsight.analysis.prepare import prepare
    from sweepsight.reports.charts import comparison

    def sweep(seed):
        table = S.make_table({"a": S.Choice([1, 2, 3]), "c": S.Choice(["x", "y"])}, grid=True,
                             seeds=3, noise=0.1, target="acc", random_state=seed)
        return prepare(table, target="acc", direction="maximize")

    spec = comparison.comparison_chart(compare_sweeps(sweep(1), sweep(2), n_boot=50)).to_dict()
    assert len(next(iter(spec["datasets"].values()))) == 6 and "title" not in spec
