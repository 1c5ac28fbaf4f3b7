"""QA on realistic messy sweeps (tests/qa_sweeps.py): the fixes found by running the real CLI
on them, then three small cases built through the real CLI with their key sentences checked."""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from sweepsight import adapters
from sweepsight.analysis.prepare import prepare
from sweepsight.analysis.significance import compare_neighbours
from sweepsight.reports import text
from sweepsight.reports.charts import overview
from tests import qa_sweeps


def _load(path, **options):
    return adapters.load("csv", {"path": str(path), **options})


# --- W&B bare export: run metadata and other summary metrics are not hyperparameters ---------

def test_wandb_bare_export_keeps_metadata_and_other_metrics_out_of_the_hyperparameters(tmp_path):
    path = tmp_path / "wandb.csv"
    qa_sweeps.wandb_export(path)
    table = _load(path, metric=["val/loss"])
    for col in ("Notes", "User", "Tags", "Runtime", "train/loss", "best_val_acc"):
        assert col not in table.params, col
    assert {"learning_rate", "optimizer", "num_layers", "hidden_dims"} <= set(table.params)
    assert table.metrics == ["val/loss"]
    assert any("Notes, User, Tags, Runtime" in n for n in table.meta.notes)
    assert any("train/loss, best_val_acc" in n and "--metric" in n for n in table.meta.notes)
    # named explicitly, another metric loads as a metric
    both = _load(path, metric=["val/loss", "train/loss"])
    assert sorted(both.metrics) == ["train/loss", "val/loss"]
    # the analysed hyperparameters are the real ones: no metadata or outcome leaks in
    prep = prepare(table, target="val/loss")
    assert set(prep.params) <= {"learning_rate", "optimizer", "num_layers", "hidden_dims",
                                "schedule", "tags_list"}


def test_bare_numeric_column_named_like_a_setting_stays_a_hyperparameter(tmp_path):
    rng = np.random.default_rng(0)
    n = 20
    frame = pd.DataFrame({"Name": [f"r{i}" for i in range(n)], "loss_scale": rng.choice([1, 128], n),
                          "loss": rng.choice(["huber", "mse"], n), "acc": rng.random(n)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    table = _load(tmp_path / "s.csv", metric=["acc"])
    # numeric but its last word is not a metric word; "loss" holds text, so it is a choice
    assert {"loss_scale", "loss"} <= set(table.params)


# --- heavy tails: spread and colours on the scale the report says ---------------------------

@pytest.fixture(scope="module")
def heavy_analysis(tmp_path_factory):
    from sweepsight.analysis import analyse

    path = tmp_path_factory.mktemp("heavy") / "heavy.csv"
    qa_sweeps.heavy_tail(path, n_configs=12, seeds=10, tail=0.04)
    return analyse(_load(path), target="train_loss", metric_scale="log")


def test_best_configuration_std_is_as_logged_like_its_mean(heavy_analysis):
    a = heavy_analysis
    configs = a.significance.configs
    truth = a.prep.runs.groupby(list(a.prep.params))["y_raw"].std().to_numpy()
    np.testing.assert_allclose(np.sort(configs["std_raw"].to_numpy()), np.sort(truth))
    # std (log10 scale) and std_raw (as logged) differ by orders of magnitude here
    assert not np.allclose(configs["std"], configs["std_raw"])
    best = configs.sort_values("rank")
    top = overview._top_configs_data(a, k=3)
    np.testing.assert_allclose(top["std"], best["std_raw"].head(3))
    np.testing.assert_allclose(top["mean"], best["mean_raw"].head(3))
    first = best.iloc[0]
    said = text.findings(a)
    assert f"{first['mean_raw']:.4g} ± {first['std_raw']:.2g} over" in said
    assert f"± {first['std']:.2g} over" not in said


def test_parallel_coordinates_metric_axis_on_log_scale(heavy_analysis):
    data = overview._parallel_data(heavy_analysis)
    pos = data.runs["pos_metric"]
    # on a linear axis the few 1e3 runs would push every other run to position ~0
    assert 0.05 < float(np.median(pos)) < 0.95
    metric_axis = data.axes.set_index("field").loc["metric"]
    assert bool(metric_axis["log"]) and "log scale" in metric_axis["axis"]
    spec = str(overview.parallel_coordinates(heavy_analysis).to_dict())
    assert "'type': 'log'" in spec


def test_metric_against_params_on_the_analysis_scale(heavy_analysis):
    from sweepsight.reports.charts import importance

    spec = importance.metric_vs_params_chart(heavy_analysis).to_dict()
    y_scales = [str(layer) for layer in spec["concat"]]
    # every panel's y axis is logarithmic; box plots carry no (possibly empty) outlier layer
    assert all("'type': 'log'" in panel for panel in y_scales)
    assert "min-max" in str(spec)


# --- budgets: a configuration at 1 epoch is no repeat of one at 27 ---------------------------

def test_budget_levels_are_never_repeats_or_neighbours(tmp_path):
    path = tmp_path / "hb.csv"
    qa_sweeps.hyperband(path)
    prep = prepare(_load(path, budget="epochs"), target="val_loss")
    sig = compare_neighbours(prep, n_boot=200)
    runs = prep.runs
    # every configuration holds runs of one budget only
    for vals, b in zip(sig.configs["values"], sig.configs["epochs"]):
        assert len(vals) >= 1 and not np.isnan(b)
    assert sig.configs.groupby("epochs")["n"].sum().to_dict() == runs["epochs"].value_counts().to_dict()
    budget_of = sig.configs.set_index("config_id")["epochs"]
    pairs = sig.pairs
    assert len(pairs) and (pairs["config_id"].map(budget_of).to_numpy()
                           == pairs["neighbour_id"].map(budget_of).to_numpy()).all()
    assert "epochs" not in set(pairs["param"])
    assert any("training budget" in n for n in sig.notes)


def test_one_run_per_configuration_reason_names_one_number_of_seeds(tmp_path):
    path = tmp_path / "one.csv"
    qa_sweeps.one_run_per_config(path, grid_points=3)
    sig = compare_neighbours(prepare(_load(path), target="val_loss"))
    assert not sig.applicable
    assert "rerun with 4 or more seeds per configuration" in sig.reason
    assert "\u22653" not in sig.reason


# --- three cases through the real CLI -------------------------------------------------------

def _site_text(site) -> str:
    out = []
    for page in ("index", "significance", "importance"):
        raw = (site / f"{page}.html").read_text(encoding="utf-8")
        raw = re.sub(r"<script.*?</script>|<style.*?</style>", " ", raw, flags=re.S)
        out.append(html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    return re.sub(r"\s+", " ", " ".join(out))


def _aliases_and_failures(path):
    """The same knob logged twice, plus failed, NaN and inf runs."""
    from sweepsight.analysis.synthetic import make_frame, standard_sweep

    frame = make_frame(**standard_sweep(n_configs=30, failed=4, nan_target=3, inf_target=2,
                                        aliases={"training.learning_rate": ("lr", None)}))
    frame.to_csv(path, index=False)


CLI_CASES = {
    # case -> (writer, CLI arguments, sentences the site must say)
    "heavytail": (lambda p: qa_sweeps.heavy_tail(p, n_configs=12, seeds=10, tail=0.04),
                  ["--target", "train_loss"],
                  ["because the metric is heavy-tailed (max/median =",
                   "Tests and differences use train_loss on the rank scale"]),
    "random": (lambda p: qa_sweeps.random_search(p, n_configs=150), ["--target", "val_acc"],
               ["Approximate: exact neighbours were too rare", "an approximation"]),
    "onerun": (lambda p: qa_sweeps.one_run_per_config(p, grid_points=3), ["--target", "val_loss"],
               ["Each configuration was run once, so there is no spread to test against",
                "rerun with 4 or more seeds per configuration"]),
    "hyperband": (qa_sweeps.hyperband, ["--target", "val_loss", "--budget", "epochs"],
                  ["epochs is the training budget: each of the",
                   "analysed at the highest epochs it reached",
                   "--at-budget max compares only runs at epochs"]),
    "hyperband_top": (qa_sweeps.hyperband, ["--target", "val_loss", "--budget", "epochs",
                                            "--at-budget", "max"],
                      ["only the runs at epochs =", "Like is compared with like"]),
    "conditional": (qa_sweeps.conditional, ["--target", "loss"],
                    ["momentum is conditional: inactive when",
                     "is compared only between configurations where it is active"]),
    "wide": (qa_sweeps.wandb_export, ["--metric", "val/loss"],
             ["Set aside (not analysed as hyperparameters):", "identifier/path/timestamp"]),
    "aliases_failed": (_aliases_and_failures, ["--target", "loss"],
                       ["take the same value (up to relabelling) in every run",
                        "Excluded 9 of", "infinite target"]),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_builds_messy_sweep_and_says_why(case, tmp_path, capsys):
    from sweepsight.reports.cli import main

    write, args, sentences = CLI_CASES[case]
    data = tmp_path / f"{case}.csv"
    write(data)
    site = tmp_path / "site"
    rc = main(["--source", "csv", "--path", str(data), *args, "--out", str(site),
               "--renderer", "nbconvert"])
    err = capsys.readouterr().err
    assert rc == 0, err
    body = _site_text(site)
    for sentence in sentences:
        assert sentence in body, (case, sentence)
    # no chart embeds the whole sweep twice over: the pages stay small
    assert sum(f.stat().st_size for f in site.glob("*.html")) < 15e6
