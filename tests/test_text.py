"""Findings sentences on real analyses of sweeps with a known truth."""
from __future__ import annotations

import numpy as np
import pytest

from sweepsight.analysis import analyse
from sweepsight.analysis import synthetic as S
from sweepsight.reports import charts, text

PARAMS = {"lr": S.LogUniform(1e-4, 1e-1), "optimizer": S.Choice(["adam", "sgd"])}


def _analyse(effects, *, seeds=5, noise=0.1):
    table = S.make_table(PARAMS, effects=effects, grid=True, grid_points=4, seeds=seeds,
                         noise=noise, target="loss", random_state=1)
    return analyse(table, target="loss")


@pytest.fixture(scope="module")
def noise():
    return _analyse({}, noise=1.0)


@pytest.fixture(scope="module")
def interaction():
    # lr helps with adam and hurts with sgd by the same amount: no main effect, all interaction
    flip = lambda d: 2.0 * np.where(d["optimizer"] == "sgd", 1.0, -1.0) * (
        np.log10(d["lr"].astype(float)) + 2.5)
    return _analyse({("lr", "optimizer"): flip}, noise=0.05)


@pytest.fixture(scope="module")
def main_effect():
    return _analyse({"lr": 2.0}, noise=0.1)


def test_pure_noise_says_nothing_rises_above_the_floor(noise):
    assert text.importance_verdict(noise) == "noise"
    assert "Nothing rises above the noise floor" in text.importance_summary(noise)
    assert "No hyperparameter rises above the noise floor" in text.findings(noise)


def test_interactions_dominate(interaction):
    assert text.importance_verdict(interaction) == "interactions"
    summary = text.importance_summary(interaction)
    assert "Interactions dominate" in summary and "lr × optimizer" in summary


def test_main_effect_named_with_its_share(main_effect):
    assert text.importance_verdict(main_effect) == "main_effects"
    summary = text.importance_summary(main_effect)
    assert "**lr**" in summary and "Interactions dominate" not in summary
    assert "Best configuration" in text.findings(main_effect)
    lin = text.linear_summary(main_effect)
    assert "R² = " in lin and "lr (+" in lin


def test_significance_summary_and_power(main_effect):
    s = text.significance_summary(main_effect)
    assert "Holm" in s and "neighbours" in s
    # 5 vs 5 seeds: the smallest attainable KS p is ~0.0079 < 0.05 -> every comparison can reach it
    assert "every comparison can reach p < 0.05" in text.power_caveat(main_effect)


def test_single_seed_sweep_says_why_not_tested():
    a = _analyse({"lr": 1.0}, seeds=1)
    assert not a.significance.applicable
    assert text.significance_summary(a).startswith("**Significance was not tested.**")
    assert charts.significance_walk(a) is None
    assert "Significance was not tested" in text.findings(a)


def test_run_names_are_escaped(main_effect):
    main_effect.prep.notes.append("<script>alert(1)</script>")
    try:
        assert "<script>" not in text.notes(main_effect)
    finally:
        main_effect.prep.notes.pop()


def test_source_notes_say_where_runs_came_from_and_how_metrics_were_aggregated():
    from sweepsight.adapters.schema import RunMeta
    from sweepsight.reports.text import source_notes

    meta = RunMeta(source="mlflow", metric_agg="max", notes=["2 parent runs left out"],
                   query={"tracking_uri": "http://127.0.0.1:5000", "experiment": ["sweep"]})
    first, second = source_notes(meta)
    assert first.startswith("Runs loaded from mlflow (experiment=sweep, "
                            "tracking_uri=http://127.0.0.1:5000) at ")
    assert "each metric is the maximum over the run's history (--metric-agg max)" in first
    assert second == "2 parent runs left out"


def test_small_shares_do_not_read_as_zero():
    assert text.percent(0.4714) == "47%"
    assert text.percent(0.00385) == "0.39%"
    assert text.percent(0.0) == "0%"


def test_interaction_claims_follow_the_noise_test_and_the_denominator(main_effect, interaction):
    """Additive truth on a grid: the leftover is called seed noise, no pair is listed; a true
    lr x optimizer interaction is claimed with its pair; random search speaks of the runs'
    variance and never of 'the variance between configurations'."""
    summary = text.importance_summary(main_effect)
    assert main_effect.importance.share_of == "configuration means"
    assert "consistent with seed noise" in summary and "×" not in summary
    assert "of the variance between configurations" in summary
    inter = text.importance_summary(interaction)
    assert "Strongest pairs above noise: lr × optimizer" in inter
    table = S.make_table(PARAMS, effects={"lr": 2.0}, n_configs=40, seeds=3, noise=0.1,
                         target="loss", random_state=1)
    rand = analyse(table, target="loss")
    assert rand.importance.share_of == "runs"
    s = text.importance_summary(rand)
    assert "as shares of the run-to-run variance: **lr** (" in s and "% of the variance between" not in s
    assert "Interactions and leftovers account for" not in s


@pytest.mark.parametrize("chosen_inter, where", [
    (True, "only on the log scale (the analysis scale), not on loss as logged"),
    (False, "only on loss as logged, not on the log scale (the analysis scale)")])
def test_scale_headline_names_a_shared_top_once_and_says_what_differs(interaction, chosen_inter,
                                                                       where):
    """The same top hyperparameter on both scales, interactions dominating on one: one
    sentence naming it once and saying where interactions dominate (it named lr twice and read
    as a contradiction)."""
    import copy

    from sweepsight.analysis.scale import Headline, Scale, ScaleCheck

    a = copy.copy(interaction)
    a.scale_check = ScaleCheck(Scale.LOG, Headline("lr", chosen_inter),
                               Headline("lr", not chosen_inter))
    said = text.scale_headline(a)
    assert said.count("lr") == 1 and "**lr** on both" in said and where in said, said
    # different tops: both are named, each with its scale
    a.scale_check = ScaleCheck(Scale.LOG, Headline("lr", False), Headline("optimizer", True))
    said = text.scale_headline(a)
    assert "on the log scale (the analysis scale) the largest main effect above noise is " \
           "**lr**; on loss as logged the largest main effect above noise is **optimizer**; " \
           "interactions dominate." in said, said


def test_best_configuration_says_why_its_values_are_not_each_best_alone():
    """The example sweep: learning_rate_init is best at 0.01 alone, but the best configuration
    (learning_rate_init x batch_size interacts above noise) holds 0.001. The sentence says so,
    names interactions as why and points to the heatmap; its values are the importance page's
    best levels (``analysis.levels``)."""
    from sweepsight import adapters
    from sweepsight.analysis import findings as F
    from sweepsight.analysis.configs import format_value
    from tests.conftest import REPO

    a = analyse(adapters.load("csv", {"path": str(REPO / "examples" / "digits_sweep.csv")}),
                target="val_acc")
    found = next(f for f in F.findings(a) if f.kind is F.Kind.BEST_CONFIG)
    by = {o.param: o for o in found.fact.off_marginal}
    lr = by["learning_rate_init"]
    assert (lr.value, lr.best_alone) == ("0.001", "0.01")
    assert lr.best_alone == format_value(a.levels.get("learning_rate_init").best_level.value)
    assert found.fact.interacting
    said = text.finding_sentence(found, a)
    assert ("learning\\_rate\\_init=0.001, though learning\\_rate\\_init alone is best at 0.01"
            in said), said
    assert "interactions above noise" in said and "interaction heatmap" in said


def test_best_value_says_the_scale_it_was_chosen_on_and_the_best_as_logged(tmp_path):
    """A loss analysed on log10 where one run in four of level ``a`` diverges: ``a`` is best on
    log10 (the analysis scale), ``b`` by the mean as logged. summary.md labels the scale the
    choice was made on and names both; the importance page's caption says the scale too."""
    import pandas as pd

    from sweepsight import adapters
    from sweepsight.reports import summary
    from sweepsight.reports.charts.marginal import marginal_info

    rows = [{"run_id": f"r{k}-{s}", "params.opt": opt, "params.seed": s,
             "metrics.val_loss": v}
            for k, (opt, values) in enumerate([("a", [1.0, 1.1, 0.9, 100.0]),
                                               ("b", [5.0, 5.2, 4.8, 5.1])])
            for s, v in enumerate(values * 3)]
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    a = analyse(adapters.load("csv", {"path": str(tmp_path / "runs.csv")}), target="val_loss",
                metric_scale="log")
    pl = a.levels.get("opt")
    assert pl.best_level.label == "a" and pl.levels[pl.best_as_logged(False)].label == "b"
    md = summary.summary_markdown(a, title="t")
    assert "the best is chosen on the log10 scale, the analysis scale" in md
    row = next(line for line in md.splitlines() if line.startswith("| 1 |") and "opt" in line)
    assert "a (" in row and "; as logged b" in row, row
    assert "chosen by the mean on the log10 scale" in marginal_info(a).caption
