"""Correlations: ground truth on a synthetic sweep and equality with scipy."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from sweepsight.analysis.correlation import COLUMNS, correlations
from sweepsight.analysis.prepare import prepare
from sweepsight.analysis.synthetic import Choice, Uniform, make_table, standard_sweep


@pytest.fixture(scope="module")
def prep():
    return prepare(make_table(**standard_sweep(n_configs=80)), target="loss")


def test_ground_truth_singles_out_lr_and_batch_size(prep):
    table = correlations(prep)
    assert list(table.columns) == COLUMNS
    assert table["feature"].iloc[0] == "lr"
    by = table.set_index("feature")
    assert by.loc["lr", "spearman_r"] > 0.8 and by.loc["lr", "pearson_p"] < 1e-10
    assert by.loc["batch_size", "spearman_p"] < 0.05
    assert by.loc["batch_size", "spearman_r"] > 0  # larger batches: higher loss, as generated
    assert by.loc["noise_param", "spearman_p"] > 0.05
    assert by.loc["noise_param", "pearson_p"] > 0.05
    assert (table["n"] == len(prep.y)).all()
    assert (np.abs(table["spearman_r"]).diff().dropna() <= 0).all()  # sorted by |spearman|


def test_equals_scipy_on_every_column(prep):
    table = correlations(prep).set_index("feature")
    y = prep.y.to_numpy()
    for feature in prep.X.columns:
        x = prep.X[feature].to_numpy()
        p = stats.pearsonr(x, y)
        s = stats.spearmanr(x, y)
        row = table.loc[feature]
        assert_allclose(row["pearson_r"], p.statistic, rtol=1e-12, atol=1e-14)
        assert_allclose(row["pearson_p"], p.pvalue, rtol=1e-8, atol=1e-300)
        assert_allclose(row["spearman_r"], s.statistic, rtol=1e-12, atol=1e-14)
        assert_allclose(row["spearman_p"], s.pvalue, rtol=1e-8, atol=1e-300)
        assert row["param"] == prep.feature_param[feature]


def test_equals_scipy_with_ties_and_small_n():
    table = make_table({"a": Choice([1, 2, 3]), "b": Uniform(0, 1), "c": Choice(["x", "y"])},
                       effects={"a": 1.0}, n_configs=6, seeds=1, noise=0.5, random_state=3)
    prep = prepare(table, target="loss", metric_scale="raw")
    out = correlations(prep).set_index("feature")
    for feature in out.index:
        x, y = prep.X[feature].to_numpy(), prep.y.to_numpy()
        assert_allclose(out.loc[feature, "pearson_p"], stats.pearsonr(x, y).pvalue, rtol=1e-8)
        assert_allclose(out.loc[feature, "spearman_p"], stats.spearmanr(x, y).pvalue, rtol=1e-8)


def test_constant_columns_and_constant_target_are_skipped(prep):
    X = prep.X.copy()
    X["flat"] = 1.0
    flat = type(prep)(**{**prep.__dict__, "X": X, "feature_param": {**prep.feature_param, "flat": "flat"}})
    assert "flat" not in set(correlations(flat)["feature"])
    runs = prep.runs.copy()
    runs["y"] = 2.0
    const = type(prep)(**{**prep.__dict__, "runs": runs})
    out = correlations(const)
    assert list(out.columns) == COLUMNS and len(out) == 0
