"""The CSV adapter on bare exports (no params./metrics. prefixes): which columns --seed,
--budget and --target make hyperparameters or the metric."""
from __future__ import annotations

import pandas as pd
import pytest

from sweepsight import adapters
from sweepsight.adapters.errors import SweepError


@pytest.fixture
def bare(tmp_path):
    path = tmp_path / "export.csv"
    pd.DataFrame({
        "Name": ["a", "b", "c", "d"], "State": ["finished"] * 4, "Runtime": [10, 20, 30, 40],
        "lr": [0.1, 0.01, 0.1, 0.01], "optimizer": ["adam", "sgd", "sgd", "adam"],
        "seed": [0, 0, 1, 1], "epochs": [3, 9, 9, 3], "val_loss": [0.5, 0.4, 0.45, 0.6],
        "train_loss": [0.3, 0.2, 0.25, 0.4], "_step": [9, 9, 9, 9],
    }).to_csv(path, index=False)
    return str(path)


def test_seed_and_budget_columns_are_hyperparameters_beside_named_params(bare):
    table = adapters.load("csv", {"path": bare, "param": ["lr"], "metric": ["val_loss"],
                                  "seed": "seed", "budget": "epochs"})
    assert table.params == ["epochs", "lr", "seed"] and table.metrics == ["val_loss"]
    assert table.meta.seed == "seed" and table.meta.budget == "epochs"


def test_seed_named_without_params_keeps_every_other_bare_column(bare):
    table = adapters.load("csv", {"path": bare, "metric": ["val_loss"], "seed": "seed"})
    assert table.params == ["_step", "epochs", "lr", "optimizer", "seed"]
    assert table.meta.seed == "seed"


def test_the_target_is_the_metric_of_a_bare_file(bare):
    table = adapters.load("csv", {"path": bare, "metrics": ["val_loss"], "seed": "seed"})
    assert table.metrics == ["val_loss"]
    assert "optimizer" in table.params and "train_loss" not in table.params  # named like a metric
    assert "Bare column val_loss read as the metric named by --target." in table.meta.notes
    with pytest.raises(SweepError, match="columns named like metrics: val_loss, train_loss"):
        adapters.load("csv", {"path": bare, "metrics": ["val_acc"]})


def test_the_target_does_not_turn_a_bare_column_into_a_metric_beside_prefixed_ones(tmp_path):
    path = tmp_path / "sweep.csv"
    pd.DataFrame({"params.lr": [0.1, 0.01, 0.1], "metrics.acc": [0.5, 0.6, 0.7],
                  "other": [1, 2, 3]}).to_csv(path, index=False)
    table = adapters.load("csv", {"path": str(path), "metrics": ["other"]})
    assert table.metrics == ["acc"] and table.params == ["lr"]


def test_a_bare_export_without_target_reads_columns_named_like_metrics(bare):
    from sweepsight.reports.cli import resolve_target

    table = adapters.load("csv", {"path": bare, "seed": "seed"})
    assert sorted(table.metrics) == ["train_loss", "val_loss"]
    assert "Runtime" not in table.params and "optimizer" in table.params
    assert any("train_loss, val_loss" in n or "val_loss, train_loss" in n
               for n in table.meta.notes)
    with pytest.raises(SweepError, match=r"2 metrics \(train_loss, val_loss\).*--target"):
        resolve_target(None, table.metrics)
    assert resolve_target("val_loss", table.metrics) == "val_loss"


def test_a_bare_export_with_one_metric_like_column_uses_it(tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"lr": [0.1, 0.01, 0.1, 0.01],
                  "val_acc": [0.5, 0.6, 0.7, 0.8]}).to_csv(path, index=False)
    table = adapters.load("csv", {"path": str(path)})
    assert table.metrics == ["val_acc"] and table.params == ["lr"]
    assert "Bare column val_acc read as the metric (named like one)." in table.meta.notes


def test_param_may_name_a_prefixed_hyperparameter(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"params.lr": [0.1, 0.01, 0.1], "params.runtime_s": [3.0, 4.0, 5.0],
                  "metrics.acc": [0.5, 0.6, 0.7]}).to_csv(path, index=False)
    table = adapters.load("csv", {"path": str(path), "param": ["runtime_s"]})
    assert table.params == ["lr", "runtime_s"]
