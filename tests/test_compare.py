"""A sweep against a baseline (analysis/compare.py): planted changes, scipy, errors."""
from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

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
from tests.test_browser import browser  # noqa: F401  (the fixture, for the click-through test)

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
    # the change acts through solver only: its levels' differences differ (Kruskal-Wallis over
    # the levels, Holm over the hyperparameters), the other hyperparameters' levels shift alike
    names = ["lr", "solver", "bs", "wd"]
    kw = [stats.kruskal(*[g["diff"].to_numpy() for _, g in c.matched.groupby(k)]).pvalue
          for k in names]
    want = dict(zip(names, multipletests(kw, method="holm")[1]))
    for s in c.shifts:
        assert_allclose(s.param_p_holm, want[s.param], rtol=1e-12)
        assert s.acts == (s.param == "solver"), s


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


# --- --baseline through the real CLI: source options, a site folder, the example ------------

class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts, and every link's href."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _page(path: Path) -> _Tables:
    parsed = _Tables()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def test_baseline_options_that_are_not_source_options_are_one_line(capsys, tmp_path,
                                                                    monkeypatch):
    from tests.conftest import write_sweep
    from tests.test_cli import assert_failed_cleanly, run_main

    monkeypatch.chdir(tmp_path)
    write_sweep(tmp_path / "sweep.csv", seeds=2)
    site = tmp_path / "site"
    site.mkdir()
    from sweepsight.reports import build

    (site / build.SITE_MARKER).write_text("old\n")
    (site / "index.html").write_text("<p>the old report</p>")
    main = ["--source", "csv", "--path", "sweep.csv", "--target", "val_acc", "--out", "site"]
    for given, says in [
        ("--source csv --path sweep.csv --target val_loss",
         "--baseline: unrecognized arguments: --target val_loss; the baseline shares this "
         "sweep's target and direction"),
        ("--direction minimize", "unrecognized arguments: --direction minimize"),
        ("--source tensorboard", "--baseline: unknown source 'tensorboard'; valid sources: csv"),
        ("--experiment old", "say where its runs come from with --source (csv, mlflow, wandb)"),
        ("--source csv --path 'unclosed", "No closing quotation"),
        ("--source csv --path missing.csv", "--baseline: "),
        ("nowhere/sweep", "--baseline nowhere/sweep: no snapshot there"),
        ("--source csv --path sweep.csv --at-budget max", "--at-budget is this sweep's"),
    ]:
        proc = run_main(capsys, *main, "--baseline", given)
        assert_failed_cleanly(proc, site, says=says)
    proc = run_main(capsys, *main, "--baseline", "sweep", "--baseline-missing", "x")
    assert_failed_cleanly(proc, site, says="not both")


def test_baseline_from_a_site_folder_or_csv_options_is_read_with_check(capsys, tmp_path,
                                                                       monkeypatch):
    from sweepsight.adapters import snapshot
    from tests.conftest import write_sweep
    from tests.test_cli import run_main

    monkeypatch.chdir(tmp_path)
    write_sweep(tmp_path / "sweep.csv", seeds=2)
    write_sweep(tmp_path / "base.csv", seeds=3, random_state=1)
    main = ["--source", "csv", "--path", "sweep.csv", "--target", "val_acc", "--check"]
    proc = run_main(capsys, *main, "--baseline", "--source csv --path base.csv --seed seed")
    assert proc.returncode == 0, proc.stderr
    assert "baseline: 73 runs from csv (path=base.csv)" in proc.stdout
    from sweepsight import adapters

    snapshot.save(adapters.load("csv", {"path": "base.csv"}), tmp_path / "old" / "data" / "sweep")
    for given in ("old", "old/data/sweep", "old/data/sweep.parquet", "--from-snapshot old"):
        proc = run_main(capsys, *main, "--baseline", given)
        assert proc.returncode == 0, (given, proc.stderr)
        assert "baseline: 73 runs from old/data/sweep (path=base.csv)" in proc.stdout, given
    other = make_table(GRID, grid=True, seeds=2, target="loss")
    snapshot.save(other, tmp_path / "other" / "sweep")
    proc = run_main(capsys, *main, "--baseline", "other")
    assert proc.returncode == 2
    assert "--baseline other: the baseline has no metric 'val_acc'" in proc.stderr


def test_example_raised_for_adam_only_against_the_example(capsys, tmp_path, monkeypatch):
    """Issue 16, done when #2: the example sweep against a copy whose val_acc is raised by 0.01
    for solver=adam only, the baseline given as CSV source options."""
    import pandas as pd

    from sweepsight.adapters import snapshot
    from sweepsight.reports.cli import EXAMPLE
    from tests.test_cli import run_main

    monkeypatch.chdir(tmp_path)
    runs = pd.read_csv(EXAMPLE)
    runs.to_csv("base.csv", index=False)
    runs.loc[runs["params.solver"] == "adam", "metrics.val_acc"] += 0.01
    runs.to_csv("current.csv", index=False)
    proc = run_main(capsys, "--source", "csv", "--path", "current.csv", "--target", "val_acc",
                    "--baseline", "--source csv --path base.csv", "--out", "site",
                    "--renderer", "nbconvert")
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    md = (site / "summary.md").read_text(encoding="utf-8")
    lines = md.split("\n")
    assert lines[2] == "## Against the baseline"
    assert lines[4].startswith("The best configuration improves val\\_acc from 0.98 ")
    assert lines[6] == ("The baseline is 1,200 runs loaded from csv (path=base.csv) with its own "
                        "source options; this site keeps it as `data/baseline.parquet` and `.json`.")
    assert "The change acts through **solver**" in md and "not at **solver=sgd**" in md
    page = _page(site / "comparison.html")
    (shifts,) = [t for t in page.tables if t and "level" in t[0]]
    head, *rows = shifts
    got = {(r[head.index("level")], r[head.index("verdict")]) for r in rows}
    assert got == {("adam", "better"), ("sgd", "not significant")}  # solver's levels only
    assert all(r[0] == "solver" and r[head.index("configurations")] == "120" for r in rows)
    # every adam configuration moved by +0.01, every sgd one by 0
    matched = pd.read_csv(site / "data" / "matched.csv")
    assert len(matched) == 240
    assert_allclose(matched.loc[matched["solver"] == "adam", "diff_raw"], 0.01, atol=1e-9)
    assert_allclose(matched.loc[matched["solver"] == "sgd", "diff_raw"], 0.0, atol=1e-9)
    kept = snapshot.load(site / "data" / "baseline")
    assert len(kept.frame) == 1200 and kept.meta.query["path"] == "base.csv"
    html_page = (site / "comparison.html").read_text(encoding="utf-8")
    assert "The baseline is 1,200 runs loaded from csv (path=base.csv)" in html_page
    assert str(tmp_path) not in md + html_page and "/work/" not in md + html_page  # relative only
    assert sum(h.startswith("significance.html#config=") for h in page.links) == 60  # shown rows
    assert sum(h.startswith("#baseline=") for h in page.links) == 60


@pytest.fixture(scope="module")
def mlflow_baseline_site(tmp_path_factory):
    """A CSV sweep (adam raised by 0.03) built against its baseline in a real MLflow sqlite
    store, given as source options; the site, the store's folder and the CLI's output."""
    import contextlib
    import io
    import os

    import pandas as pd

    from sweepsight.reports.cli import main
    from tests.conftest import write_sweep
    from tests.mlflow_helpers import T0, client_for, fast_dir, log_run

    tmp = tmp_path_factory.mktemp("mlflow_baseline")
    with fast_dir(tmp / "store") as root:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        client = client_for(uri)
        eid = client.create_experiment("old-sweep")
        base = pd.read_csv(write_sweep(tmp / "base.csv", seeds=3, random_state=1))
        for i, r in enumerate(base.to_dict("records")):
            if r["state"] != "finished":
                continue
            config = {k.removeprefix("params."): v for k, v in r.items() if k.startswith("params.")}
            history = [{k.removeprefix("metrics."): v for k, v in r.items()
                        if k.startswith("metrics.")}]
            log_run(client, eid, name=r["name"], config=config, history=history,
                    start=T0 + i * 1000)
        current = pd.read_csv(write_sweep(tmp / "current.csv", seeds=3, random_state=2))
        current.loc[current["params.optimizer"] == "adam", "metrics.val_acc"] += 0.03
        current.to_csv(tmp / "current.csv", index=False)
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["--source", "csv", "--path", "current.csv", "--target", "val_acc",
                             "--out", "site", "--renderer", "nbconvert", "--baseline",
                             f"--source mlflow --tracking-uri {uri} --experiment old-sweep"])
        finally:
            os.chdir(cwd)
        assert code == 0, err.getvalue()
        yield tmp / "site", root, out.getvalue()


def _walk_labels(page: Path) -> list[str]:
    """The configurations of the first significance walk embedded in ``page``, as the walk
    labels them (``lr=0.01, depth=2, ...``), in its order."""
    import json
    import re

    data = json.loads(re.search(r'<script [^>]*id="sweepsight-walk-[^"]+-data"[^>]*>(.*?)</script>',
                                page.read_text(encoding="utf-8"), re.S).group(1))
    codes = [[int(x) for x in c.split(",")] for c in data["codes"]]
    return [", ".join(f"{p}={data['levels'][j][codes[j][c]]}" for j, p in enumerate(data["params"]))
            for c in range(len(codes[0]))]


def test_baseline_from_a_real_mlflow_store_through_the_cli(mlflow_baseline_site):
    import html

    import pandas as pd

    from sweepsight.adapters import snapshot

    site, store, stdout = mlflow_baseline_site
    assert ("baseline: 72 runs from mlflow (experiment=old-sweep, experiment_id=1, "
            "tracking_uri=sqlite:///") in stdout
    md = (site / "summary.md").read_text(encoding="utf-8")
    page_html = html.unescape((site / "comparison.html").read_text(encoding="utf-8"))
    said = ("The baseline is 72 runs loaded from mlflow (experiment=old-sweep, experiment\\_id=1, "
            "tracking\\_uri=sqlite")
    assert said in md and said.replace("\\_", "_") in page_html
    # relative paths only: the store's URI as relative to the working folder, nothing absolute
    assert f":///{store}" not in md + page_html and str(site.parent) not in md + page_html
    kept = snapshot.load(site / "data" / "baseline")
    assert kept.meta.source == "mlflow" and len(kept.frame) == 72
    assert sorted(kept.frame["name"]) == sorted(
        pd.read_csv(site.parent / "base.csv").query("state == 'finished'")["name"])
    # each matched configuration links to the same configuration in both walks
    page = _page(site / "comparison.html")
    (table,) = [t for t in page.tables if t and t[0][0] == "configuration"]
    assert len(table) - 1 == 24
    current = _walk_labels(site / "significance.html")
    baseline = _walk_labels(site / "comparison.html")
    to_current = [h for h in page.links if h.startswith("significance.html#config=")]
    to_baseline = [h for h in page.links if h.startswith("#baseline=")]
    assert len(to_current) == len(to_baseline) == 24
    for row, a, b in zip(table[1:], to_current, to_baseline):
        parts = set(row[0].split(", "))
        assert set(current[int(a.rsplit("=", 1)[1])].split(", ")) == parts
        assert set(baseline[int(b.rsplit("=", 1)[1])].split(", ")) == parts


@pytest.mark.browser
def test_a_comparison_row_opens_the_walk_at_its_configuration(browser, mlflow_baseline_site):
    from tests.test_browser import SHOTS, Watched

    site, _, _ = mlflow_baseline_site
    watched = Watched(browser)
    watched.page.set_viewport_size({"width": 1400, "height": 900})
    watched.open(site / "comparison.html")
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(SHOTS / "comparison-baseline.png"), full_page=True)
    link = watched.page.locator("a.to-walk").nth(2)
    name = link.inner_text()
    want = int(link.get_attribute("href").rsplit("=", 1)[1])
    assert want != 0  # not the walk's default
    # the baseline's walk on this page follows its link without leaving the page
    base_link = watched.page.locator("a.to-baseline-walk").nth(2)
    base_want = base_link.get_attribute("href").rsplit("=", 1)[1]
    base_link.click()
    walk = watched.page.locator(".sweepsight-walk")
    watched.page.wait_for_function(
        f"() => document.querySelector('.sweepsight-walk').dataset.target === '{base_want}'")
    assert set(name.split(", ")) <= set(
        walk.locator(".walk-header").inner_text().split(": ", 2)[-1].rstrip(".").split(". ")[0]
        .split(", "))
    link = watched.page.locator("a.to-walk").nth(2)
    link.click()
    watched.page.wait_for_url(f"**/significance.html#config={want}")
    watched.page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.sweepsight-walk')).every(e => e.dataset.ready)")
    walk = watched.page.locator(".sweepsight-walk")
    assert walk.get_attribute("data-target") == str(want)
    header = walk.locator(".walk-header").inner_text()
    assert set(name.split(", ")) <= set(header.split(": ", 2)[-1].split(". ")[0].split(", "))
    # the hash also takes a configuration's label, or some of its values (the best-ranked match)
    from urllib.parse import quote

    labels = _walk_labels(site / "significance.html")
    for key, index in ((labels[5], 5), ("optimizer=sgd", next(
            i for i, label in enumerate(labels) if "optimizer=sgd" in label))):
        watched.page.goto(f"{(site / 'significance.html').as_uri()}#config={quote(key)}")
        watched.page.wait_for_function(
            f"() => document.querySelector('.sweepsight-walk').dataset.target === '{index}'")
    assert watched.errors == [] and watched.remote == [] and watched.dialogs == []
    watched.page.close()
