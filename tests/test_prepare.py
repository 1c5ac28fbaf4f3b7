"""prepare(): target, direction, exclusions, set-aside columns, aliases, encoding."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import build_table
from sweepsight.analysis.direction import infer_direction
from sweepsight.analysis.prepare import prepare
from sweepsight.analysis.scale import OWN_LIMIT, ScaleReason
from sweepsight.analysis.synthetic import make_table, standard_sweep


def table_of(columns: dict, y, **kw):
    """A run table from plain columns (``params.`` added) and the target ``loss``."""
    frame = pd.DataFrame({f"params.{k}": v for k, v in columns.items()})
    frame["run_id"] = [f"r{i}" for i in range(len(frame))]
    frame["metrics.loss"] = y
    for k, v in kw.items():
        frame[k] = v
    return build_table(frame, source="csv")


MINIMIZE_NAMES = [
    "val_loss", "valLoss", "val_losses", "ValLoss", "train/loss", "NLLLoss", "test_err",
    "word_error_rate", "errors", "nll", "neg_log_likelihood", "NegLogLikelihood",
    "negative_log_likelihood", "perplexity", "val_ppl", "mse", "val_rmse", "mae", "mape",
    "wer", "cer", "bpd", "bits_per_dim", "test.bitsPerDim", "eval/kl", "kl_divergence",
    "regret", "cost", "latency_ms", "train_time_s", "runtime", "epoch_duration",
    "distance", "fid", "valFID", "top5_err",
]
MAXIMIZE_NAMES = [
    "val_acc", "eval/accuracy", "valAccuracy", "auc", "val_f1", "F1Score", "precision",
    "recall", "val.mAP", "map50", "iou", "dice", "bleu", "rouge", "episode_reward",
    "rewards", "eval/episode_returns", "score", "r2", "val-r2", "psnr", "ssim", "top1",
    "top5", "top1_acc", "acc1", "log_likelihood", "neg_mean_squared_error",
]


@pytest.mark.parametrize("name, direction", [(n, "minimize") for n in MINIMIZE_NAMES]
                         + [(n, "maximize") for n in MAXIMIZE_NAMES])
def test_direction_from_name(name, direction):
    d, reason = infer_direction(name)
    assert (d, "name contains" in reason) == (direction, True), reason


@pytest.mark.parametrize("name, said", [
    ("valLoss", "'Loss'"), ("bits_per_dim", "'bits_per_dim'"), ("val.mAP", "'mAP'"),
    ("neg_log_likelihood", "'likelihood', negated by 'neg'"), ("top1_acc", "'acc'"),
])
def test_direction_reason_quotes_the_words_of_the_name(name, said):
    assert infer_direction(name)[1].endswith(f"(the name contains {said})")


@pytest.mark.parametrize("name", ["goodness", "val_metric", "x", "lossy_compression_ratio"])
def test_direction_of_a_name_that_says_neither_is_assumed(name):
    d, reason = infer_direction(name)
    assert d == "maximize" and reason.startswith("maximize (assumed: the name says neither; "
                                                 "pass --direction")


def test_direction_unknown_name_and_override():
    d, reason = infer_direction("goodness")
    assert d == "maximize" and "--direction" in reason
    assert infer_direction("val_loss", "max") == ("maximize", "maximize (given)")
    with pytest.raises(SweepError, match="direction"):
        infer_direction("loss", "upwards")


def test_unknown_target_lists_metrics():
    table = make_table(**standard_sweep(n_configs=5, seeds=1))
    with pytest.raises(SweepError, match="metrics found: loss"):
        prepare(table, target="accuracy")


def test_standard_sweep_shape_and_alignment():
    table = make_table(**standard_sweep(n_configs=30))
    prep = prepare(table, target="loss")
    assert prep.direction == "minimize"
    assert prep.params == ["batch_size", "lr", "noise_param", "optimizer"]
    assert prep.numeric == ["batch_size", "lr", "noise_param"] and prep.categorical == ["optimizer"]
    assert prep.log_scaled == ["lr"]  # batch size spans 16x only
    assert prep.seed == "seed" and "seed" in prep.set_aside
    assert list(prep.runs.columns) == ["run_id", "name", "batch_size", "lr", "noise_param",
                                       "optimizer", "seed", "y", "y_raw"]
    assert list(prep.X.columns) == ["batch_size", "lr", "noise_param", "optimizer=adam",
                                    "optimizer=sgd"]
    assert prep.X.index.equals(prep.runs.index) and len(prep.X) == 90
    assert not prep.X.isna().any().any()
    np.testing.assert_allclose(prep.X["lr"], np.log10(prep.runs["lr"]))
    assert set(prep.feature_param) == set(prep.X.columns)
    assert prep.metric_scale == "raw" and (prep.runs["y"] == prep.runs["y_raw"]).all()
    assert prep.notes and all(isinstance(n, str) and n.endswith(".") for n in prep.notes)
    assert len(prep.excluded) == 0 and list(prep.excluded.columns) == ["run_id", "name", "reason"]


def test_random_search_continuous_params_are_not_aliases():
    # Every config has its own lr and noise value, so both split the runs the same way.
    prep = prepare(make_table(**standard_sweep(n_configs=20)), target="loss")
    assert prep.aliases == {} and {"lr", "noise_param"} <= set(prep.params)


def test_monotone_numeric_alias_and_categorical_relabel_are_merged():
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-4, -1, 30)
    opt = rng.choice(["adam", "sgd"], 30)
    table = table_of({"training.learning_rate": lr, "optimizer.lr": lr, "log_lr": np.log10(lr),
                      "opt": opt, "opt_id": np.where(opt == "adam", 0, 1)}, rng.normal(size=30))
    prep = prepare(table, target="loss")
    assert prep.aliases == {"log_lr = optimizer.lr = training.learning_rate":
                            ["log_lr", "optimizer.lr", "training.learning_rate"],
                            "opt = opt_id": ["opt", "opt_id"]}
    assert "opt = opt_id" in prep.categorical  # the words are kept, not the codes
    assert prep.set_aside["opt_id"].startswith("alias of opt")
    assert any("same value" in n for n in prep.notes)


def test_missing_numeric_is_imputed_with_indicator_and_categoricals_get_missing_level():
    y = np.arange(8.0)
    table = table_of({"wd": [0.1, 0.2, None, 0.4, 0.1, None, 0.3, 0.2],
                      "act": ["relu", "gelu", None, "relu", "gelu", "relu", None, "gelu"],
                      "bn": [True, False, True, False, True, False, True, False]}, y)
    prep = prepare(table, target="loss")
    assert prep.X["wd"].iloc[2] == pytest.approx(np.mean([0.1, 0.2, 0.4, 0.1, 0.3, 0.2]))
    assert prep.X["wd__missing"].tolist() == [0, 0, 1, 0, 0, 1, 0, 0]
    assert {"act=(missing)", "act=gelu", "act=relu", "bn=False", "bn=True"} <= set(prep.X.columns)
    assert prep.categorical == ["act", "bn"]
    assert prep.runs["act"].isna().sum() == 2  # original values kept in runs
    assert any("mean" in n and "wd" in n for n in prep.notes)


def test_set_aside_reasons():
    n = 200
    rng = np.random.default_rng(1)
    cols = {
        "lr": rng.uniform(size=n),
        "const": ["x"] * n,
        "all_missing": [None] * n,
        "many": [f"level{i % 60}" for i in range(n)],
        "layers_few": [json.dumps([64, 64]) if i % 2 else json.dumps([128]) for i in range(n)],
        "layers_many": [json.dumps([i % 60, 1]) for i in range(n)],
        "uid": [f"{i:08x}-1234-5678-9abc-{i:012x}" for i in range(n)],
        "ckpt": [f"/data/ckpt/{i}.pt" for i in range(n)],
        "dataset": ["/data/cifar10" if i % 3 else "/data/mnist" for i in range(n)],
        "link": [f"https://wandb.ai/x/runs/{i}" for i in range(n)],
        "tag": [f"t{i}" for i in range(n)],
    }
    prep = prepare(table_of(cols, rng.normal(size=n)), target="loss", max_levels=50)
    sa = prep.set_aside
    assert sa["const"].startswith("constant")
    assert sa["all_missing"].startswith("missing in every")
    assert sa["many"].startswith("too many levels")
    assert sa["layers_many"].startswith("lists/dicts")
    assert "layers_few" in prep.categorical
    assert "uuids" in sa["uid"] and "paths" in sa["ckpt"] and "URLs" in sa["link"]
    assert sa["tag"].startswith("identifier")
    assert "dataset" in prep.categorical  # a path with two values is a real choice
    assert set(prep.params) == {"lr", "layers_few", "dataset"}


def test_too_few_runs_names_counts_and_reasons():
    table = table_of({"a": [1.0, 2.0, 3.0, 4.0]}, [1.0, np.nan, np.inf, 2.0],
                     state=["finished", "finished", "finished", "failed"])
    with pytest.raises(SweepError, match=r"only 1 of 4 runs.*missing target: 1.*infinite target: 1"):
        prepare(table, target="loss")


def test_nothing_varies_is_a_sweep_error():
    table = table_of({"a": [1.0] * 5}, np.arange(5.0))
    with pytest.raises(SweepError, match="no hyperparameter varies"):
        prepare(table, target="loss")


def test_explicit_scales():
    table = make_table(**standard_sweep(n_configs=10))
    y_raw = prepare(table, target="loss", metric_scale="raw").runs["y_raw"]
    rank = prepare(table, target="loss", metric_scale="rank")
    assert rank.metric_scale == "rank" and rank.y.between(0, 1, inclusive="right").all()
    assert (rank.y.rank() == y_raw.rank()).all()
    with pytest.raises(SweepError, match="positive"):
        prepare(table, target="loss", metric_scale="log")  # the standard loss goes below 0
    with pytest.raises(SweepError, match="valid scales"):
        prepare(table, target="loss", metric_scale="sqrt")


def test_heavy_tail_with_negative_values_goes_to_ranks():
    rng = np.random.default_rng(3)
    y = rng.normal(size=100)
    y[:3] = [1e4, 5e4, 2e5]
    prep = prepare(table_of({"a": rng.normal(size=100)}, y), target="loss")
    assert prep.metric_scale == "rank" and "skewness" in prep.scale_reason


def test_budget_must_be_numeric_and_known():
    table = table_of({"a": [1.0, 2.0, 3.0], "ep": ["x", "y", "z"]}, [1.0, 2.0, 3.0])
    with pytest.raises(SweepError, match="not numeric"):
        prepare(table, target="loss", budget="ep")
    with pytest.raises(SweepError, match="not a hyperparameter"):
        prepare(table, target="loss", budget="epochs")


def test_nested_name_is_a_choice_but_top_level_name_is_not():
    rng = np.random.default_rng(5)
    n = 24
    opt = rng.choice(["adam", "sgd", "rmsprop"], n)
    table = table_of({"optimizer.name": opt, "name": [f"run{i % 12}" for i in range(n)],
                      "id": np.arange(n) % 12, "data.path": rng.choice(["/d/a", "/d/b"], n),
                      "trainer.output_dir": [f"/o/{i % 3}" for i in range(n)],
                      "x": rng.normal(size=n)}, rng.normal(size=n))
    prep = prepare(table, target="loss")
    assert {"optimizer.name", "data.path", "x"} == set(prep.params)
    for p in ("name", "id", "trainer.output_dir"):
        assert "by its name" in prep.set_aside[p]


def test_param_named_like_a_runs_column_is_renamed():
    rng = np.random.default_rng(6)
    table = table_of({"y": rng.normal(size=10), "y_raw": rng.choice(["a", "b"], 10)},
                     rng.normal(size=10))
    prep = prepare(table, target="loss")
    assert set(prep.params) == {"y (param)", "y_raw (param)"}
    np.testing.assert_allclose(prep.runs["y_raw"], table.metric("loss"))
    np.testing.assert_allclose(prep.runs["y (param)"], table.param("y"))


def test_empty_budget_column_is_a_sweep_error():
    table = table_of({"a": [1.0, 2.0, 3.0], "ep": [None, None, None]}, [1.0, 2.0, 3.0])
    with pytest.raises(SweepError, match="'ep'.*not numeric \\(it is empty\\)"):
        prepare(table, target="loss", budget="ep")


def test_diverged_runs_still_heavy_after_log_go_to_ranks():
    rng = np.random.default_rng(8)
    y = 10 ** rng.normal(0, 0.3, 200)
    y[:6] = 1e250  # diverged: outliers even on the log scale
    prep = prepare(table_of({"a": rng.normal(size=200)}, y), target="loss")
    assert prep.metric_scale == "rank" and prep.scale.reason is ScaleReason.OWNED_AFTER_LOG
    # the 2 most extreme runs (1% of 200) on log10: 250 against about 0 with mean 7.5
    by_hand = 2 * 242.5 ** 2 / (6 * 242.5 ** 2 + 194 * 7.5 ** 2)
    assert prep.scale.n_top == 2 and prep.scale.top_share == pytest.approx(by_hand, abs=0.002)
    assert prep.scale.extreme_runs == tuple(f"r{i}" for i in range(6))
    assert "max/median" in prep.scale_reason
    y = 10 ** rng.normal(0, 1.2, 200)  # spans decades, but evenly on the log scale
    prep = prepare(table_of({"a": rng.normal(size=200)}, y), target="loss")
    assert prep.metric_scale == "log" and prep.scale.reason is ScaleReason.LOG_TAMES_TAIL
    assert prep.scale.top_share < OWN_LIMIT and "> 100" in prep.scale_reason


def test_constant_target_is_a_sweep_error_naming_the_metrics_that_vary():
    rng = np.random.default_rng(11)
    n = 18
    table = table_of({"lr": np.repeat([1e-3, 1e-2, 1e-1], 6), "seed": np.tile(range(6), 3)},
                     [0.5] * (n - 1) + [np.nan], state=["finished"] * (n - 2) + ["failed", "finished"],
                     **{"metrics.val_acc": rng.normal(size=n), "metrics.flat": [2.0] * n})
    with pytest.raises(SweepError) as info:
        prepare(table, target="loss")
    message = str(info.value)
    assert "\n" not in message
    assert "metric 'loss' is 0.5 in all 16 analysed runs" in message
    assert "pick another metric with --target (val_acc varies)" in message  # not flat
    alone = table_of({"lr": [1e-3, 1e-2, 1e-1, 1.0]}, [3.0] * 4)
    with pytest.raises(SweepError, match=r"'loss' is 3 in all 4 analysed runs.*no other metric"):
        prepare(alone, target="loss")
    # One differing run is enough to analyse (whatever it says).
    varies = table_of({"lr": [1e-3, 1e-2, 1e-1, 1.0]}, [3.0, 3.0, 3.0, 3.5])
    assert prepare(varies, target="loss").runs["y_raw"].nunique() == 2


def test_running_runs_are_left_out_and_counted():
    rng = np.random.default_rng(12)
    n = 24
    state = ["finished"] * 18 + ["running"] * 3 + ["crashed"] * 2 + ["failed"]
    table = table_of({"lr": np.tile([1e-3, 1e-2, 1e-1], 8), "act": np.repeat(["relu", "tanh"], 12)},
                     rng.normal(size=n), state=state)
    prep = prepare(table, target="loss")
    running = prep.excluded[prep.excluded["reason"] == "run still running (its metric is partial)"]
    assert sorted(running["run_id"]) == ["r18", "r19", "r20"]
    assert len(prep.runs) == 18 and not set(prep.excluded["run_id"]) & set(prep.runs["run_id"])
    note = next(n for n in prep.notes if n.startswith("Excluded"))
    assert note == ("Excluded 6 of 24 runs (run still running (its metric is partial): 3; "
                    "run crashed (state): 2; run failed (state): 1).")
    table.frame.loc[table.frame["state"] == "finished", "state"] = "running"
    with pytest.raises(SweepError, match=r"only 0 of 24 runs.*run still running \(its metric is partial\): 21"):
        prepare(table, target="loss")


def test_infinite_values_give_no_warning_and_stay_out_of_the_numbers():
    """inf in the target is left out; inf in a numeric param makes it categorical (no axis
    holds it); huge finite targets do not overflow the heavy-tail check."""
    rng = np.random.default_rng(13)
    n = 40
    y = rng.normal(size=n)
    y[:3] = [np.inf, -np.inf, np.inf]
    y[3:5] = [1e308, -1e308]
    table = table_of({"clip": rng.choice([1.0, 10.0, np.inf], n),
                      "wd": rng.choice([0.0, 1e-4, -np.inf, np.nan], n),
                      "lr": 10 ** rng.uniform(-4, -1, n)}, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prep = prepare(table, target="loss")
    assert (prep.excluded["reason"] == "infinite target").sum() == 3
    assert prep.numeric == ["lr"] and prep.categorical == ["clip", "wd"]
    assert {"clip=inf", "clip=10", "wd=-inf", "wd=(missing)"} <= set(prep.X.columns)
    assert np.isfinite(prep.X.to_numpy(float)).all()
    assert any(n.startswith("Analysed as categorical, since some values are infinite: clip, wd")
               for n in prep.notes)


def test_skew_agrees_with_scipy():
    from scipy import stats

    from sweepsight.analysis.scale import skew as _skew

    rng = np.random.default_rng(14)
    for _ in range(50):
        y = rng.standard_t(2, size=int(rng.integers(3, 200))) * 10 ** rng.uniform(-8, 8)
        assert _skew(y) == pytest.approx(stats.skew(y), rel=1e-9, abs=1e-12)
    assert _skew(np.full(5, 2.0)) == 0.0
    assert _skew(np.array([1e308, -1e308, 0.0, 1.0])) == pytest.approx(
        stats.skew(np.array([1.0, -1.0, 0.0, 0.0])))


@pytest.mark.parametrize("name", [
    "runtime_s", "Runtime", "train_runtime", "duration", "epoch_duration", "train_time_s",
    "trainTime", "epoch_time_ms", "gpu_memory", "peak_mem", "throughput", "samples_per_sec",
    "_step", "global_step", "trainer/global_step", "epoch", "wallclock", "total_time"])
def test_outcome_by_name(name):
    from sweepsight.analysis.outcomes import named_outcome

    assert named_outcome(name)


@pytest.mark.parametrize("name", [
    "lr", "epochs", "num_epochs", "steps", "warmup_steps", "n_steps", "max_time", "time_limit",
    "time_budget_s", "lr_decay_epoch", "batch_size", "memory_size", "s", "timeout"])
def test_setting_by_name(name):
    from sweepsight.analysis.outcomes import named_outcome

    assert not named_outcome(name)


def _grid_with(extra: dict, *, seeds: int = 3, seed_column: bool = True):
    """A 3 x 3 grid x ``seeds`` with extra columns computed from the run index."""
    rng = np.random.default_rng(41)
    lr, wd = np.meshgrid([1e-3, 1e-2, 1e-1], [0.0, 0.1, 0.2])
    lr, wd = np.repeat(lr.ravel(), seeds), np.repeat(wd.ravel(), seeds)
    cols = {"lr": lr, "wd": wd}
    if seed_column:
        cols["seed"] = np.tile(np.arange(seeds), 9)
    n = len(lr)
    cols.update({k: f(n, rng) for k, f in extra.items()})
    return table_of(cols, -np.log10(lr) + wd + rng.normal(0, 0.1, n))


def test_a_column_that_differs_between_seeds_of_one_configuration_is_an_outcome():
    from sweepsight.analysis.prepared import Aside

    prep = prepare(_grid_with({"wall": lambda n, r: r.uniform(100, 200, n)}), target="loss")
    assert prep.outcomes == ["wall"] and prep.set_aside_kind["wall"] is Aside.OUTCOME_VALUES
    assert sorted(prep.params) == ["lr", "wd"]
    note = next(n for n in prep.notes if n.startswith("Set aside as outcome"))
    assert "wall" in note and "--param NAME" in note
    # the same column without a seed column: nothing tells it from a random-search knob
    bare = prepare(_grid_with({"wall": lambda n, r: r.uniform(100, 200, n)}, seed_column=False),
                   target="loss")
    assert "wall" in bare.params and bare.outcomes == []


def test_a_random_search_knob_is_no_outcome():
    rng = np.random.default_rng(43)
    n = 60
    table = table_of({"lr": 10 ** rng.uniform(-4, -1, n), "act": rng.choice(["relu", "tanh"], n),
                      "bs": rng.choice([32, 64], n), "seed": rng.choice([0, 1, 2], n)},
                     rng.normal(size=n))
    prep = prepare(table, target="loss")
    assert "lr" in prep.params and prep.outcomes == []


def test_param_forces_an_outcome_in_and_set_aside_reasons_are_typed():
    from sweepsight.analysis.prepared import Aside

    table = _grid_with({"runtime_s": lambda n, r: r.uniform(100, 200, n),
                        "const": lambda n, r: np.ones(n)})
    prep = prepare(table, target="loss")
    assert prep.set_aside_kind == {"seed": Aside.SEED, "runtime_s": Aside.OUTCOME_NAME,
                                   "const": Aside.CONSTANT}
    assert set(prep.set_aside) == set(prep.set_aside_kind)
    table.meta.forced_params = ["runtime_s"]
    forced = prepare(table, target="loss")
    assert "runtime_s" in forced.params and forced.forced == ["runtime_s"]
    assert forced.outcomes == []
    assert "Analysed as hyperparameter because named with --param: runtime_s." in forced.notes


def test_top_share_by_hand():
    from sweepsight.analysis.scale import far_out, top_share

    y = np.array([0.0] * 99 + [10.0])  # mean 0.1: 99 deviations of 0.1, one of 9.9
    share, k = top_share(y)
    assert k == 1 and share == pytest.approx(9.9 ** 2 / (9.9 ** 2 + 99 * 0.01))
    assert far_out(np.r_[np.arange(20.0), 1000.0]) == (20,)
