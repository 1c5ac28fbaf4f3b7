"""A sweep against a baseline (analysis/compare.py): planted changes, scipy, errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from statsmodels.stats.multitest import multipletests

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.compare import compare_sweeps
from sweepsight.analysis.constants import (BETTER, CANNOT_TELL, NOT_SIGNIFICANT, VERDICTS,
                                           WORSE)
from sweepsight.analysis.prepare import prepare
from sweepsight.analysis.synthetic import Choice, make_table

GRID = {"lr": Choice([0.001, 0.01, 0.1]), "solver": Choice(["adam", "sgd"]),
        "bs": Choice([32, 256])}
BASE_EFFECTS = {"solver": {"adam": 0.2}, "lr": {0.001: -0.3}}


def _sweep(effects=BASE_EFFECTS, *, seed, seeds=8, noise=0.1, target="acc",
           direction="maximize", params=GRID):
    table = make_table(params, grid=True, seeds=seeds, noise=noise, target=target,
                       effects=effects, random_state=seed)
    return prepare(table, target=target, direction=direction)


def _samples(prep, row, keys):
    runs = prep.runs
    mask = np.ones(len(runs), dtype=bool)
    for k in keys:
        mask &= (runs[k] == row[k]).to_numpy()
    return runs.loc[mask, "y"].to_numpy(dtype=float)


def test_improvement_confined_to_one_learning_rate_is_found():
    base = _sweep(seed=1)
    cur = _sweep({**BASE_EFFECTS, "lr": {0.001: -0.3, 0.01: 0.5}}, seed=2)
    c = compare_sweeps(cur, base, test="welch")
    assert c.n_matched == 12 and set(c.shared) == {"lr", "solver", "bs"}
    planted = c.matched["lr"] == 0.01
    assert (c.matched.loc[planted, "verdict"] == BETTER).all()
    assert (c.matched.loc[~planted, "verdict"] == NOT_SIGNIFICANT).all()
    assert c.counts[BETTER] == 4 and c.counts[WORSE] == 0 and sum(c.counts.values()) == 12
    assert_allclose(c.matched.loc[planted, "diff"], 0.5, atol=0.15)
    # the best moved to lr=0.01 and is better than the baseline's best (lr=0.01 or 0.1, adam)
    assert "lr=0.01" in c.best.current.label and "solver=adam" in c.best.current.label
    assert c.best.verdict == BETTER and c.best.diff > 0.3 and not c.best.winners_curse
    assert c.replicated is None  # every configuration has its 8 runs
    lr = next(m for m in c.moved if m.param == "lr")
    assert lr.best_current == "0.01" and lr.best_baseline != "0.01" and lr.moved
    solver = next(m for m in c.moved if m.param == "solver")
    assert solver.best_current == solver.best_baseline == "adam" and not solver.moved


def test_change_that_helps_small_batches_and_hurts_large_ones():
    base = _sweep(seed=3)
    cur = _sweep({**BASE_EFFECTS, "bs": {32: 0.4, 256: -0.4}}, seed=4)
    c = compare_sweeps(cur, base, test="welch")
    small = c.matched["bs"] == 32
    assert (c.matched.loc[small, "verdict"] == BETTER).all()
    assert (c.matched.loc[~small, "verdict"] == WORSE).all()
    assert c.counts[BETTER] == 6 and c.counts[WORSE] == 6


@pytest.mark.parametrize("test", ["ks", "welch", "mannwhitney"])
def test_p_values_equal_scipy_and_adjustments_statsmodels(test):
    base = _sweep(seed=5, seeds=6)
    cur = _sweep({**BASE_EFFECTS, "lr": {0.001: -0.3, 0.1: 0.15}}, seed=6, seeds=5)
    c = compare_sweeps(cur, base, test=test)
    keys = list(c.shared)
    for _, row in c.matched.iterrows():
        b, a = _samples(cur, row, keys), _samples(base, row, keys)
        assert (len(a), len(b)) == (row["n_baseline"], row["n_current"]) == (6, 5)
        assert_allclose(row["t_p"], stats.ttest_ind(b, a, equal_var=False).pvalue, rtol=1e-9)
        assert_allclose(row["ks_p"], stats.ks_2samp(b, a).pvalue, rtol=1e-9)
        assert_allclose(row["mw_p"], stats.mannwhitneyu(b, a, alternative="two-sided").pvalue,
                        rtol=1e-9)
        assert_allclose(row["diff"], b.mean() - a.mean(), rtol=1e-12)
        assert row["diff_ci_low"] < row["diff"] < row["diff_ci_high"]
    p = c.matched[{"ks": "ks_p", "welch": "t_p", "mannwhitney": "mw_p"}[test]].to_numpy()
    assert_allclose(c.matched["p_holm"], multipletests(p, method="holm")[1], rtol=1e-12)
    assert_allclose(c.matched["p_bh"], multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    assert c.matched["p_holm"].is_monotonic_increasing  # most significant first
    for _, grp in c.matched.groupby("p_holm"):
        assert grp["diff"].abs().is_monotonic_decreasing  # then the largest difference


def test_pure_noise_rerun_calls_nothing_significant_in_95_of_100():
    # the same code rerun with fresh seeds: same truth (adam +0.2), new noise on both sides
    params = {"lr": Choice([0.001, 0.01]), "solver": Choice(["adam", "sgd"])}
    prep = _sweep({"solver": {"adam": 0.2}}, seed=20, seeds=5, params=params)
    truth = np.where(prep.runs["solver"] == "adam", 0.2, 0.0)
    rng = np.random.default_rng(21)

    def rerun():
        y = truth + rng.normal(0.0, 0.1, len(truth))
        return dataclasses.replace(prep, runs=prep.runs.assign(y=y, y_raw=y))

    clean, worst = 0, 0
    for _ in range(100):
        c = compare_sweeps(rerun(), rerun(), test="welch", n_boot=20)
        called = c.counts[BETTER] + c.counts[WORSE]
        clean += called == 0
        worst = max(worst, called)
    assert clean >= 95, (clean, worst)


def test_few_seeds_cannot_tell_and_says_how_many_would_do():
    base = _sweep(seed=7, seeds=3)
    cur = _sweep(seed=8, seeds=3)
    c = compare_sweeps(cur, base, test="ks")
    assert c.counts[CANNOT_TELL] == 12 == c.n_tested
    # KS at 3 vs 3 cannot go below p = 0.1; Holm over 12 configurations needs more seeds
    assert c.seeds_needed is not None and c.seeds_needed > 3
    k = c.seeds_needed
    assert 12 * stats.ks_2samp(np.arange(k), np.arange(k) + k).pvalue < 0.05
    assert 12 * stats.ks_2samp(np.arange(k - 1), np.arange(k - 1) + k).pvalue >= 0.05
    assert set(c.counts) == set(VERDICTS)


def test_identical_sweeps_differ_nowhere():
    base = _sweep(seed=9)
    c = compare_sweeps(base, base, test="welch")
    assert c.counts[BETTER] == c.counts[WORSE] == 0
    assert_allclose(c.matched["diff"], 0.0)
    assert c.best.diff == 0 and c.best.verdict == NOT_SIGNIFICANT
    assert not any(m.moved for m in c.moved)


def test_parameters_on_one_side_are_named_and_pooled():
    base = _sweep(seed=10)
    more = dict(GRID, dropout=Choice([0.0, 0.5]))
    cur = _sweep(seed=11, params=more, seeds=4)
    c = compare_sweeps(cur, base, test="welch")
    assert c.only_current == ("dropout",) and c.only_baseline == ()
    assert "dropout" not in c.shared and c.n_matched == 12
    assert (c.matched["n_current"] == 8).all()  # 2 dropout values x 4 seeds pooled


def test_no_matched_configuration_still_compares_best_against_best():
    base = _sweep(seed=12)
    other = dict(GRID, lr=Choice([0.002, 0.02]))
    cur = _sweep({"solver": {"adam": 0.2}}, seed=13, params=other)
    c = compare_sweeps(cur, base)
    assert c.n_matched == 0 and c.n_tested == 0 and c.seeds_needed is None
    assert sum(c.counts.values()) == 0
    assert c.best is not None and c.best.current.n == 8


def test_winners_curse_when_the_best_has_few_runs():
    base = _sweep(seed=14, seeds=4)
    cur = make_table(GRID, grid=True, seeds=4, noise=0.1, target="acc", effects=BASE_EFFECTS,
                     random_state=15)
    frame = cur.frame
    # one lucky single run of a configuration no one else ran
    from sweepsight.adapters.schema import build_table

    extra = frame.iloc[[0]].copy()
    extra["run_id"], extra["name"] = "lucky", "lucky"
    extra["params.bs"], extra["metrics.acc"] = 64, 5.0
    table = build_table(__import__("pandas").concat([frame, extra], ignore_index=True),
                        source="csv", seed="seed", where="test")
    c = compare_sweeps(prepare(table, target="acc", direction="maximize"), base, test="welch")
    assert c.best.current.label.startswith("bs=64") and c.best.current.n == 1
    assert c.best.winners_curse and c.best.verdict == "not testable"
    assert c.replicated is not None and c.replicated.current.n == 4
    assert not c.replicated.winners_curse
    assert c.scale == "raw"  # the lucky run put the current sweep on ranks: compared as logged


def test_different_targets_or_directions_are_one_line_errors():
    base = _sweep(seed=16)
    with pytest.raises(SweepError, match=r"baseline explains 'loss'.*'acc'") as e:
        compare_sweeps(base, _sweep(seed=17, target="loss"))
    assert "\n" not in str(e.value)
    with pytest.raises(SweepError, match=r"baseline minimizes acc, this sweep maximizes") as e:
        compare_sweeps(base, _sweep(seed=17, direction="minimize"))
    assert "\n" not in str(e.value)
    with pytest.raises(SweepError, match="unknown test"):
        compare_sweeps(base, base, test="t")


def test_minimize_direction_flips_better():
    base = _sweep(seed=18, direction="minimize")
    cur = _sweep({**BASE_EFFECTS, "lr": {0.001: -0.8}}, seed=19, direction="minimize")
    c = compare_sweeps(cur, base, test="welch")
    low = c.matched["lr"] == 0.001
    assert (c.matched.loc[low, "verdict"] == BETTER).all()
    assert (c.matched.loc[~low, "verdict"] == NOT_SIGNIFICANT).all()


# --- the build and summary.md --------------------------------------------------------------

def _analysis(effects, *, seed):
    from sweepsight.analysis import analyse

    table = make_table(GRID, grid=True, seeds=8, noise=0.1, target="acc", effects=effects,
                       random_state=seed)
    return table, analyse(table, target="acc", direction="maximize", test="welch", n_jobs=1)


def test_summary_opens_with_the_comparison_and_its_table():
    from sweepsight.reports.build import _compare
    from sweepsight.reports.summary import summary_markdown
    from sweepsight.reports.text import comparison_caveats, comparison_sentence

    base_table, base = _analysis(BASE_EFFECTS, seed=30)
    _, cur = _analysis({**BASE_EFFECTS, "lr": {0.001: -0.3, 0.01: 0.5}}, seed=31)
    assert summary_markdown(cur, title="t").split("\n")[2] == "## Findings"  # no baseline
    comp = _compare(cur, base_table, progress=None)
    assert comp.best.verdict == BETTER and comp.counts[BETTER] == 4 and comp.counts[WORSE] == 0
    assert next(m for m in comp.moved if m.param == "lr").moved
    assert all(m.share_current is not None for m in comp.moved)  # main effects on both sides
    cur.comparison = comp
    md = summary_markdown(cur, title="t")
    lines = md.split("\n")
    assert lines[2] == "## Against the baseline" and lines[4] == comparison_sentence(comp)
    assert lines[4].startswith("The best configuration improves acc from ")
    assert "4 of 12 matched configurations are significantly better, 0 worse" in lines[4]
    assert md.index("## Against the baseline") < md.index("## Findings")
    for c in comparison_caveats(comp):
        assert f"- {c}" in md
    assert md.count("| better |") == 4


def test_comparison_sentence_says_cannot_tell_and_no_match():
    from sweepsight.reports.text import comparison_sentence

    c = compare_sweeps(_sweep(seed=32, seeds=3), _sweep(seed=33, seeds=3), test="ks")
    s = comparison_sentence(c)
    assert f"12 cannot tell with 3 seeds ({c.seeds_needed} per side would do)" in s
    other = dict(GRID, lr=Choice([0.002, 0.02]))
    s = comparison_sentence(compare_sweeps(_sweep(seed=34, params=other), _sweep(seed=35)))
    assert "no configuration is in both sweeps" in s and s.startswith("The best configuration")


def test_cli_baseline_that_cannot_be_read_is_one_line(capsys, tmp_path):
    from tests.test_cli import assert_failed_cleanly, run_main

    site = tmp_path / "site"
    site.mkdir()
    from sweepsight.reports import build

    (site / build.SITE_MARKER).write_text("old\n")
    (site / "index.html").write_text("<p>the old report</p>")
    proc = run_main(capsys, "--baseline", str(tmp_path / "nope" / "sweep"), "--out", str(site))
    assert_failed_cleanly(proc, site, says="--baseline")
    (tmp_path / "bad.parquet").write_text("not parquet")
    (tmp_path / "bad.json").write_text("{}")
    proc = run_main(capsys, "--baseline", str(tmp_path / "bad"), "--out", str(site))
    assert_failed_cleanly(proc, site, says="--baseline: snapshot file")
    from sweepsight.adapters import snapshot

    snapshot.save(make_table(GRID, grid=True, seeds=2, target="loss"), tmp_path / "other")
    proc = run_main(capsys, "--baseline", str(tmp_path / "other"), "--out", str(site))
    assert_failed_cleanly(proc, site, says="the baseline has no metric 'val_acc'")


def test_level_shifts_find_a_change_confined_to_one_solver():
    params = dict(GRID, wd=Choice([0.0, 0.1, 0.2, 0.3]))
    base = _sweep(seed=40, seeds=3, params=params)
    cur = _sweep({**BASE_EFFECTS, "solver": {"adam": 0.35}}, seed=41, seeds=3, params=params)
    c = compare_sweeps(cur, base, test="welch")
    by = {(s.param, s.level): s for s in c.shifts}
    assert len(by) == 3 + 2 + 2 + 4 and by[("solver", "adam")].n == 24
    assert by[("solver", "adam")].verdict == BETTER
    assert by[("solver", "sgd")].verdict == NOT_SIGNIFICANT
    assert_allclose(by[("solver", "adam")].mean_diff, 0.15, atol=0.05)
    adam = c.matched.loc[c.matched["solver"] == "adam", "diff"].to_numpy()
    assert_allclose(by[("solver", "adam")].p, stats.wilcoxon(adam).pvalue, rtol=1e-12)
    p = np.array([s.p for s in c.shifts])
    assert_allclose([s.p_holm for s in c.shifts], multipletests(p, method="holm")[1], rtol=1e-12)


def test_build_with_a_baseline_has_the_comparison_page_and_summary(tmp_path):
    import html

    from sweepsight.adapters import snapshot
    from sweepsight.reports import build

    base = make_table(GRID, grid=True, seeds=4, noise=0.05, target="acc", effects=BASE_EFFECTS,
                      random_state=50)
    cur = make_table(GRID, grid=True, seeds=4, noise=0.05, target="acc",
                     effects={**BASE_EFFECTS, "solver": {"adam": 0.6}}, random_state=51)
    snapshot.save(base, tmp_path / "base" / "sweep")
    build.build(out=tmp_path / "site", target="acc", table=cur, direction="maximize",
                test="welch", renderer="nbconvert", log=lambda line: None,
                baseline=snapshot.load(tmp_path / "base" / "sweep"))
    site = tmp_path / "site"
    md = (site / "summary.md").read_text(encoding="utf-8")
    page = html.unescape((site / "comparison.html").read_text(encoding="utf-8"))
    first = md.split("\n")[4]
    assert first.startswith("The best configuration improves acc from ")
    assert "6 of 12 matched configurations are significantly better, 0 worse, 6 not" in first
    assert "6 of 12 matched configurations are significantly better" in page
    assert "Baseline" in (site / "index.html").read_text(encoding="utf-8")  # in the navbar
    # without a baseline the page is there and says so
    build.build(out=tmp_path / "plain", target="acc", table=cur, direction="maximize",
                renderer="nbconvert", log=lambda line: None)
    assert "No baseline was given" in (tmp_path / "plain" / "comparison.html").read_text(
        encoding="utf-8")
    assert "## Against the baseline" not in (tmp_path / "plain" / "summary.md").read_text(
        encoding="utf-8")
