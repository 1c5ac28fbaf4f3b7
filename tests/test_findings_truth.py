"""Findings against a known truth: a peaked, a monotone and a flat hyperparameter in one grid
sweep (analysis/synthetic.py), checked in numbers (levels against numpy/scipy on the same
runs, shares against the importance table) and in words (overview and summary.md)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sweepsight.analysis import analyse
from sweepsight.analysis import findings as F
from sweepsight.analysis import synthetic as S
from sweepsight.analysis.levels import Shape
from sweepsight.reports import text
from sweepsight.reports.summary import MAX_CHARS, summary_markdown

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"lr": S.LogUniform(1e-4, 1.0), "depth": S.Choice([1, 2, 4, 8]),
          "noise_param": S.Uniform(0.0, 1.0)}
#: loss is lowest at lr = 0.01 (peaked), falls as depth rises (monotone), ignores noise_param
EFFECTS = {"lr": lambda v: 0.5 * (np.log10(v.astype(float)) + 2.0) ** 2,
           "depth": {1: 0.6, 2: 0.4, 4: 0.2, 8: 0.0}}


@pytest.fixture(scope="module")
def known():
    table = S.make_table(PARAMS, effects=EFFECTS, grid=True, grid_points=5, seeds=3,
                         noise=0.05, target="loss", random_state=3)
    return analyse(table, target="loss", n_jobs=1)


def test_levels_match_the_truth_and_scipy(known):
    lr, depth, flat = (known.levels.get(p) for p in ("lr", "depth", "noise_param"))
    assert lr.shape is Shape.PEAKED and lr.best_level.label == "0.01"
    assert lr.worse_below and lr.worse_above
    assert depth.shape is Shape.DECREASING and depth.best_level.label == "8"
    assert flat.shape is Shape.FLAT and not flat.above_noise
    # per-level means and 95% t intervals are those of the runs at that level
    runs = known.prep.runs
    for lv in depth.levels:
        y = runs.loc[runs["depth"].astype(float) == float(lv.value), "y_raw"].to_numpy()
        lo, hi = stats.t.interval(0.95, len(y) - 1, loc=y.mean(), scale=stats.sem(y))
        np.testing.assert_allclose([lv.mean_raw, lv.ci_low_raw, lv.ci_high_raw], [y.mean(), lo, hi])
        assert lv.n == len(y)


def test_findings_say_the_truth_in_words_and_numbers(known):
    found = F.findings(known)
    mains = [f.fact for f in found if f.kind is F.Kind.MAIN_EFFECT]
    assert [m.param for m in mains] == ["lr", "depth"]
    shares = known.importance.table.set_index("param")["share"]
    assert mains[0].share == shares["lr"]
    words = text.findings_lines(known)
    first = words[0]
    assert first.startswith(f"**lr** matters most ({text.percent(shares['lr'])} of the variance "
                            "between configurations); best at 0.01, worse on both sides")
    assert "loss falls as it rises: best at 8, the highest value tried" in words[1]
    flat = next(w for f, w in zip(found, words) if f.kind is F.Kind.FLAT)
    assert flat.startswith("**noise\\_param** stays flat within noise")
    assert not any("Spearman" in w or "higher lr" in w for w in words)
    overview = text.findings(known)
    assert "→ [importance: which value is best](importance.html#marginal-effects)" in overview


def test_summary_md_repeats_the_findings_and_the_pages_shares(known):
    md = summary_markdown(known, title="t")
    words = text.findings_lines(known)
    lead = md.split("## Findings", 1)[1].split("##", 1)[0]
    assert [line[2:] for line in lead.strip().splitlines()][:len(words[:6])] == words[:6]
    shares = known.importance.table.set_index("param")["share"]
    row = next(line for line in md.splitlines() if line.startswith("| 1 | lr |"))
    assert f"| {text.percent(shares['lr'])} | yes | 0.01 (" in row and "peaked at 0.01" in row
    assert re.search(r"\| noise\\_param \| [^|]+ \| no \| .* \| flat within noise \|", md)
    assert "difference of means, as logged" in md
    assert "/" + "tmp" not in md and not re.search(r"\(path=/", md)


def test_summary_drops_whole_notes_and_counts_them(known):
    long = [f"Note {i}: " + "word " * 300 + "end." for i in range(400)]
    known.prep.notes.extend(long)
    try:
        md = summary_markdown(known, title="t", notes=1000)
    finally:
        del known.prep.notes[-len(long):]
    assert len(md) < MAX_CHARS
    shown = [line for line in md.splitlines() if line.startswith("- Note ")]
    assert shown and all(line.endswith("end.") for line in shown)  # never cut mid-sentence
    dropped = re.search(r"- ([\d,]+) more notes left out to keep this page short", md)
    assert dropped and int(dropped.group(1).replace(",", "")) >= 400 - len(shown)


def test_every_evidence_anchor_exists_on_its_page():
    for e in F.ANCHORS:
        page = "overview" if e.page == "index" else e.page
        source = (ROOT / "reports" / "pages" / f"{page}.ipynb").read_text()
        assert f'<div id=\\"{e.anchor}\\"></div>' in source, (e.page, e.anchor)


def test_no_code_compares_or_parses_generated_sentences():
    pattern = re.compile(r'startswith\("inactive|power_note (!=|==)|\["power_note"\] (!=|==)')
    for folder in ("analysis", "reports", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not pattern.search(path.read_text()), path


def test_conditions_are_data_not_sentences():
    table = S.make_table({"optimizer": S.Choice(["adam", "sgd"]), "momentum": S.Uniform(0, 1),
                          "lr": S.LogUniform(1e-4, 1e-1)},
                         conditional={"momentum": ("optimizer", {"sgd"})}, n_configs=30,
                         seeds=2, random_state=0)
    from sweepsight.analysis.prepare import prepare

    prep = prepare(table, target="loss")
    cond = prep.conditions["momentum"]
    assert (cond.parent, cond.inactive_levels, cond.active_levels) == ("optimizer", ("adam",), ("sgd",))
    assert prep.conditional["momentum"] == cond.describe() == "inactive when optimizer = adam"


def test_marginal_plot_info_is_the_levels_and_fits_an_800px_column(known):
    from sweepsight.reports.charts import marginal as M

    info = M.marginal_info(known)
    assert info.params[0] == "lr" and "lr" in info.log_x and "noise_param" not in info.log_x
    lr = info.levels[info.levels["param"] == "lr"]
    assert list(lr.loc[lr["best"], "level"]) == ["0.01"]
    np.testing.assert_allclose(lr["mean"], [lv.mean_raw for lv in known.levels.get("lr").levels])
    spec = M.marginal_chart(info).to_dict()
    widths = [panel["width"] for panel in spec["concat"]]
    assert spec["columns"] * max(widths) + 3 * 70 <= 800  # panels plus axes per column
    axis = spec["config"]["axis"]
    assert min(axis["labelFontSize"], axis["titleFontSize"]) >= 11
    assert M.heatmap_info(known) is None  # additive truth: no interaction above noise


def test_heatmap_of_a_true_interaction_shows_the_cell_means():
    from sweepsight.reports.charts import marginal as M

    params = {"lr": S.LogUniform(1e-4, 1e-1), "optimizer": S.Choice(["adam", "sgd"])}
    def flip(d):  # adam best at lr 0.1 (-3); sgd better on average, best at lr 1e-4 (-2.5)
        u = np.log10(d["lr"].astype(float)) + 2.5
        return np.where(d["optimizer"] == "sgd", u - 1.0, -2.0 * u)

    table = S.make_table(params, effects={("lr", "optimizer"): flip}, grid=True, grid_points=4,
                         seeds=4, noise=0.05, target="loss", random_state=1)
    result = analyse(table, target="loss", n_jobs=1)
    info = M.heatmap_info(result)
    assert {info.param_a, info.param_b} == {"lr", "optimizer"}
    runs = result.prep.runs
    cell = info.cells.loc[info.cells["best"]].iloc[0]
    col_a, col_b = runs[info.param_a].astype(str), runs[info.param_b].astype(str)
    lr_text = runs["lr"].map(lambda v: f"{v:.4g}")
    key_a = lr_text if info.param_a == "lr" else col_a
    key_b = lr_text if info.param_b == "lr" else col_b
    y = runs.loc[(key_a == cell["a"]) & (key_b == cell["b"]), "y_raw"]
    assert cell["mean"] == pytest.approx(y.mean()) and cell["n"] == len(y)
    assert cell["mean"] == pytest.approx(info.cells["mean"].min())  # loss: lowest is best
    # marginally sgd and lr 0.1 are best, but the best cell is adam at lr 0.1
    assert not info.best_at_marginal_bests and "not where the marginal bests meet" in info.caption


def test_a_cannot_tell_verdict_means_no_outcome_could_be_significant(known):
    """Issue 14's verdict: a neighbour marked "cannot tell" counts as unable to reach
    significance even where the attainable p alone would not say so."""
    import dataclasses

    sig = known.significance
    best = F.neighbourhood(known).center.config_id
    pairs = sig.pairs.copy()
    mine = (pairs["config_id"] == best) & (pairs["verdict"] != "not testable")
    pairs.loc[mine, "verdict"] = "cannot tell"
    pairs.loc[mine, "min_attainable_p"] = 1e-6
    told = dataclasses.replace(known, significance=dataclasses.replace(sig, pairs=pairs))
    hood = F.neighbourhood(told)
    assert hood.counts["cannot tell"] == int(mine.sum()) and hood.cannot_reach
    assert F.neighbour_state(hood) is F.NeighbourState.CANNOT_REACH
    words = text.findings(told)
    assert "is significantly worse, and none could be" in words
    assert f"{int(mine.sum())} cannot tell" in text.significance_summary(told)


def test_best_neighbourhood_counts_ties_and_single_runs_on_hand_made_configs():
    import pandas as pd

    from sweepsight.analysis.best import best_neighbourhood
    from sweepsight.analysis.significance import PAIR_COLUMNS, SignificanceResult

    configs = pd.DataFrame({"config_id": ["c1", "c2", "c3"], "label": ["a=1", "a=2", "a=3"],
                            "n": [1, 1, 4], "mean": [0.9, 0.9, 0.5], "std": [np.nan, np.nan, 0.1],
                            "mean_raw": [0.9, 0.9, 0.5], "std_raw": [np.nan, np.nan, 0.1],
                            "rank": [1, 1, 3]})
    pairs = pd.DataFrame([{c: np.nan for c in PAIR_COLUMNS} | {
        "config_id": "c1", "neighbour_id": "c2", "param": "a", "verdict": "not testable",
        "n_a": 1, "n_b": 1}])
    sig = SignificanceResult(configs, pairs, True, "", False, {}, [])
    hood = best_neighbourhood(sig, alpha=0.05)
    assert hood.best.label == "a=1" and hood.ties == 1
    assert (hood.n_neighbours, hood.n_tested, hood.cannot_reach) == (1, 0, False)
    assert F.neighbour_state(hood) is F.NeighbourState.UNTESTABLE


def test_marginal_plot_draws_many_levels_and_bins():
    """7-12 distinct values (one point per value, default ticks) and a binned continuous one."""
    from sweepsight.reports.charts import marginal as M

    table = S.make_table({"k": S.Choice(list(range(1, 10))), "lr": S.LogUniform(1e-4, 1e-1)},
                         effects={"k": 1.0}, n_configs=40, seeds=2, random_state=4)
    result = analyse(table, target="loss", n_jobs=1)
    assert len(result.levels.get("k").levels) == 9 and result.levels.get("lr").binned
    spec = M.marginal_chart(M.marginal_info(result)).to_dict()
    assert len(spec["concat"]) == 2
