"""analysis.options: every option reaches every stage that uses it (through analyse, the
baseline's analysis and the comparison), the defaults are defined once, and a bad value is
one SweepError at the edge (API, command line, snapshot)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import RunMeta
from sweepsight.analysis import analyse
from sweepsight.analysis.compare import analyse_baseline
from sweepsight.analysis.options import AnalysisOptions
from sweepsight.analysis.synthetic import Choice, make_table, standard_sweep
from sweepsight.reports import build, cli

BASE = AnalysisOptions(target="loss", alpha=0.01)


@pytest.fixture(scope="module")
def grid():
    """A 3 x 2 x 3 grid, 4 seeds: ``a`` matters a lot, ``b`` a little (Holm p 0.0025, so it
    is above the floor at alpha 0.01 and not at 0.001), ``c`` not at all."""
    return make_table({"a": Choice(["x", "y", "z"]), "b": Choice(["p", "q"]), "c": Choice([1, 2, 3])},
                      effects={"a": {"z": 1.0}, "b": {"q": 0.3}}, grid=True, seeds=4, noise=0.5,
                      target="loss", random_state=0)


@pytest.fixture(scope="module")
def base(grid):
    return analyse(grid, BASE, n_jobs=1)


def _changed(grid, **change):
    return analyse(grid, dataclasses.replace(BASE, **change), n_jobs=1)


def _pairs(a) -> pd.DataFrame:
    return a.significance.pairs.sort_values(["config_id", "neighbour_id"]).reset_index(drop=True)


def test_alpha_reaches_the_main_effects_levels_and_significance(grid, base):
    """The --alpha bug: analyse(alpha=...) once left the noise floors and interaction tests
    at 0.05 while the neighbour tests used the given alpha."""
    low = _changed(grid, alpha=0.001)
    assert (base.options.alpha, low.options.alpha) == (0.01, 0.001)
    t0, t1 = (x.importance.table.set_index("param") for x in (base, low))
    assert (t1["noise_floor"] > t0["noise_floor"]).all()  # a stricter level, a higher floor
    assert bool(t0.loc["b", "above_floor"]) and not bool(t1.loc["b", "above_floor"])
    assert any("p < 0.01;" in n for n in base.importance.notes)
    assert any("p < 0.001;" in n for n in low.importance.notes)
    assert not any("0.05" in n for n in base.importance.notes + low.importance.notes)
    # the levels take the floor's verdict
    lv0 = {p.param: p.above_noise for p in base.levels.params}
    lv1 = {p.param: p.above_noise for p in low.levels.params}
    assert lv0["b"] and not lv1["b"] and lv0["a"] and lv1["a"]
    # the neighbour tests: the same p, wider (99.9%) intervals, the level in the notes
    p0, p1 = _pairs(base), _pairs(low)
    np.testing.assert_array_equal(p0["ks_p"], p1["ks_p"])
    w0, w1 = (p["diff_ci_high"] - p["diff_ci_low"] for p in (p0, p1))
    assert (w1 >= w0).all() and (w1 > w0).mean() > 0.9
    assert any("alpha = 0.001" in n for n in low.significance.notes)


def test_alpha_reaches_the_baselines_analysis_and_the_comparison(grid, base):
    """The baseline is analysed with the sweep's options (the same bug in analysis.compare)."""
    low = _changed(grid, alpha=0.001)
    base_sweep = analyse_baseline(grid, low.options, n_jobs=1)
    pd.testing.assert_frame_equal(base_sweep.importance.table, low.importance.table)
    assert base_sweep.levels == low.levels
    pd.testing.assert_frame_equal(base_sweep.significance.pairs, low.significance.pairs)
    comp0 = build._compare(base, grid, progress=None)
    comp1 = build._compare(low, grid, progress=None)
    assert (comp0.alpha, comp1.alpha) == (0.01, 0.001)
    assert comp1.baseline_sweep.options == low.options
    m0, m1 = comp0.matched, comp1.matched
    assert ((m1["diff_ci_high"] - m1["diff_ci_low"]) > (m0["diff_ci_high"] - m0["diff_ci_low"])).all()


def test_test_reaches_the_verdicts_the_baseline_and_the_comparison(grid, base):
    """4 vs 4 runs: the KS test cannot reach 0.01 (its smallest p is 0.029); Welch's can."""
    welch = _changed(grid, test="welch")
    assert set(base.significance.pairs["verdict"].astype(str)) == {"cannot tell"}
    assert "cannot tell" not in set(welch.significance.pairs["verdict"].astype(str))
    p0, p1 = _pairs(base), _pairs(welch)
    np.testing.assert_array_equal(p0["t_p"], p1["t_p"])  # every p is given; Holm is on the test's
    assert (p1["p_holm"] < p0["p_holm"]).mean() > 0.5
    assert analyse_baseline(grid, welch.options, n_jobs=1).significance.pairs["verdict"].equals(
        welch.significance.pairs["verdict"])
    comp = build._compare(welch, grid, progress=None)
    assert comp.test == "welch"
    assert build._compare(base, grid, progress=None).counts["cannot tell"] == comp.n_tested
    assert comp.counts["cannot tell"] < comp.n_tested


def test_n_boot_reaches_the_bootstrap_intervals_and_nothing_else(grid, base):
    few = _changed(grid, n_boot=200)
    p0, p1 = _pairs(base), _pairs(few)
    np.testing.assert_array_equal(p0["ks_p"], p1["ks_p"])
    np.testing.assert_array_equal(p0["diff"], p1["diff"])
    assert (p0["diff_ci_low"] != p1["diff_ci_low"]).mean() > 0.9
    assert any("200 resamples" in n for n in few.significance.notes)
    pd.testing.assert_frame_equal(base.importance.table, few.importance.table)
    c0, c1 = (build._compare(x, grid, progress=None).matched for x in (base, few))
    assert (c0["diff_ci_low"] != c1["diff_ci_low"]).mean() > 0.9


@pytest.fixture(scope="module")
def random_search():
    return make_table(**standard_sweep(n_configs=30))


def test_random_state_reaches_every_random_step_and_runs_repeat(random_search):
    """Forests (forest importance, the main effects' surrogate) and the bootstrap are seeded
    from random_state; the same seed gives the same analysis."""
    a0 = analyse(random_search, target="loss", n_jobs=1)
    again = analyse(random_search, target="loss", n_jobs=1)
    a1 = analyse(random_search, target="loss", random_state=1, n_jobs=1)
    assert a0.importance.method == "main_effects (surrogate)"
    for a, b, same in ((a0, again, True), (a0, a1, False)):
        assert a.importance.table.equals(b.importance.table) is same
        assert a.forest.table.equals(b.forest.table) is same
        assert a.significance.pairs["diff_ci_low"].equals(b.significance.pairs["diff_ci_low"]) is same
        # the tests themselves are not random
        pd.testing.assert_series_equal(a.significance.pairs["ks_p"], b.significance.pairs["ks_p"])
    assert a1.options.random_state == 1


def test_defaults_are_the_options_defaults():
    o = AnalysisOptions(target="y")
    assert (o.alpha, o.test, o.n_boot, o.random_state, o.metric_scale) == (0.05, "ks", 2000, 0, "auto")
    assert cli.DEFAULTS == {k: getattr(o, k) for k in cli.CLI_OPTIONS}
    assert AnalysisOptions.of(None, target="y", alpha=0.01) == dataclasses.replace(o, alpha=0.01)
    assert AnalysisOptions.of(o, test="welch").test == "welch"
    assert AnalysisOptions(target="y", budget="", at_budget="").budget is None  # "": unset


@pytest.mark.parametrize("change, match", [
    ({"alpha": 1.0}, r"^alpha=1\.0 must be between 0 and 1"),
    ({"alpha": float("nan")}, r"^alpha=nan must be between 0 and 1"),
    ({"alpha": True}, r"^alpha=True must be between"),
    ({"test": "t"}, r"^test='t' must be one of ks, welch, mannwhitney"),
    ({"n_boot": 0}, r"^n_boot=0 must be a whole number of at least 1"),
    ({"n_boot": 2.5}, r"^n_boot=2\.5 must be a whole number"),
    ({"random_state": -1}, r"^random_state=-1 must be a whole number of at least 0"),
    ({"metric_scale": "sqrt"}, r"^metric_scale='sqrt' must be one of auto, raw, log, rank"),
    ({"direction": "up"}, r"^direction='up' must be one of maximize, minimize"),
])
def test_a_bad_option_is_one_sweep_error_at_the_api(random_search, change, match):
    with pytest.raises(SweepError, match=match):
        analyse(random_search, target="loss", **change)


def test_an_unknown_option_is_a_type_error(random_search):
    with pytest.raises(TypeError):
        analyse(random_search, target="loss", alpah=0.01)


def test_the_snapshots_options_are_checked_and_named_as_the_snapshots():
    args = cli.parser().parse_args(["--from-snapshot", "s/data/sweep"])
    meta = RunMeta(source="csv", report_options={"target": "loss", "alpha": 2, "n_boot": 500})
    with pytest.raises(SweepError, match=r"^the snapshot's report option alpha 2 must be between"):
        cli.analysis_options(args, meta, "loss")
    fixed = cli.parser().parse_args(["--from-snapshot", "s/data/sweep", "--alpha", "0.1"])
    got = cli.analysis_options(fixed, meta, "loss")  # the flag wins; the rest is remembered
    assert (got.alpha, got.n_boot, got.random_state) == (0.1, 500, 0)
    assert AnalysisOptions.from_mapping(got.as_dict()) == got  # what the snapshot keeps


def test_a_bad_flag_exits_2_before_loading(capsys):
    assert cli.main(["--alpha", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --alpha 1.5 must be between 0 and 1 (e.g. 0.05).")


def test_every_forest_of_the_surrogate_has_its_own_seed(random_search, monkeypatch):
    """The null replicates once took seeds random_state + 1000 + r and their halves + h, so
    replicate r's second forest was replicate r + 1's first; now every stream is spawned."""
    from sweepsight.analysis.importance import _surrogate, get_param_importances
    from sweepsight.analysis.prepare import prepare

    seeds: list[int] = []
    real = _surrogate._forest

    def recording(*args, **kwargs):
        forest = real(*args, **kwargs)
        seeds.append(forest.random_state)
        return forest

    monkeypatch.setattr(_surrogate, "_forest", recording)
    prep = prepare(random_search, target="loss")
    first = get_param_importances(prep, method="surrogate", n_null=5, n_jobs=1)
    assert len(seeds) == 2 + 2 * 5 and len(set(seeds)) == len(seeds)
    again = get_param_importances(prep, method="surrogate", n_null=5, n_jobs=1)
    assert seeds[:12] == seeds[12:]
    pd.testing.assert_frame_equal(first.table, again.table)
