"""Forest importance against known truth and against scikit-learn's own permutation importance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.inspection import permutation_importance

from sweepsight.analysis.forest import (
    config_ids,
    cv_splits,
    fit_forest,
    forest_importance,
    grouped_permutation_importance,
)
from sweepsight.analysis.prepared import Prepared


def make_prep(runs: pd.DataFrame, *, categorical=(), log_scaled=(), seed=None) -> Prepared:
    """A Prepared built by hand: numeric columns as is (log10 if asked), one-hot categoricals."""
    params = [c for c in runs.columns if c not in ("y", seed)]
    numeric = [p for p in params if p not in categorical]
    cols, fmap = {}, {}
    for p in params:
        if p in categorical:
            for level in sorted(runs[p].astype(str).unique()):
                cols[f"{p}={level}"] = (runs[p].astype(str) == level).astype(float)
                fmap[f"{p}={level}"] = p
        else:
            v = runs[p].astype(float)
            cols[p] = np.log10(v) if p in log_scaled else v
            fmap[p] = p
    full = runs.copy()
    full.insert(0, "run_id", [f"r{i}" for i in range(len(runs))])
    full.insert(1, "name", full["run_id"])
    full["y_raw"] = full["y"]
    return Prepared(
        target="y", direction="maximize", direction_reason="test", metric_scale="raw",
        scale_reason="test", runs=full.reset_index(drop=True), params=params, numeric=numeric,
        categorical=list(categorical), log_scaled=list(log_scaled),
        X=pd.DataFrame(cols).reset_index(drop=True), feature_param=fmap, seed=seed)


def lr_sweep(n_seeds=3, noise=0.05, rng_seed=0) -> pd.DataFrame:
    """y strongly on lr (log), weakly on batch size, not on `junk`, plus lr x optimizer."""
    rng = np.random.default_rng(rng_seed)
    grid = pd.MultiIndex.from_product(
        [np.logspace(-4, -1, 7), [32, 64, 128, 256], ["adam", "sgd"], [0.1, 0.2, 0.3, 0.4, 0.5],
         range(n_seeds)], names=["lr", "batch_size", "optimizer", "junk", "seed"]).to_frame(index=False)
    loglr = np.log10(grid["lr"])
    sgd = (grid["optimizer"] == "sgd").to_numpy()
    y = (-(loglr + 2.5) ** 2 + 0.05 * np.log2(grid["batch_size"] / 32)
         + np.where(sgd, 0.4 * (loglr + 2.5), 0.0))
    grid["y"] = y + rng.normal(0, noise, len(grid))
    return grid


def test_forest_ranks_lr_first_and_noise_last():
    prep = make_prep(lr_sweep(), categorical=["optimizer"], log_scaled=["lr"], seed="seed")
    res = forest_importance(prep, n_estimators=100)
    assert list(res.table.columns) == ["param", "impurity", "impurity_std", "permutation",
                                       "permutation_std"]
    assert res.table["param"].iloc[0] == "lr"
    assert res.table["param"].iloc[-1] == "junk"
    assert res.table.set_index("param")["impurity"].idxmax() == "lr"
    assert_allclose(res.table["impurity"].sum(), 1.0)
    assert res.cv_r2 > 0.5 and res.grouped_cv
    assert not any("not to be trusted" in w for w in res.warnings)
    assert (res.table["permutation_std"] >= 0).all()


def test_pure_noise_cv_r2_near_zero_and_warned():
    rng = np.random.default_rng(1)
    runs = pd.DataFrame({"a": rng.uniform(size=300), "b": rng.uniform(size=300),
                         "c": rng.choice(["x", "y", "z"], 300), "y": rng.normal(size=300)})
    res = forest_importance(make_prep(runs, categorical=["c"]), n_estimators=100)
    assert res.cv_r2 < 0.1
    assert any("not to be trusted" in w for w in res.warnings)
    assert not res.grouped_cv


def test_grouped_permutation_equals_sklearn_for_single_columns():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = 2 * X[:, 0] + X[:, 1] + rng.normal(0, 0.1, 200)
    model = ExtraTreesRegressor(n_estimators=30, random_state=0).fit(X, y)
    ours = grouped_permutation_importance(model, X, y, {"a": [0], "b": [1], "c": [2]},
                                          n_repeats=4, random_state=7)
    ref = permutation_importance(model, X, y, scoring="r2", n_repeats=4, random_state=7)
    assert_allclose(np.vstack([ours["a"], ours["b"], ours["c"]]), ref.importances)


def test_grouped_permutation_keeps_one_hot_rows_valid():
    """Permuting a one-hot group together never produces a row with two or zero levels set."""
    runs = lr_sweep(n_seeds=1)
    prep = make_prep(runs, categorical=["optimizer"], log_scaled=["lr"])
    X = prep.X.to_numpy(float)

    class Check:
        def predict(self, Xp):
            onehot = Xp[:, [i for i, c in enumerate(prep.X.columns) if c.startswith("optimizer=")]]
            assert_allclose(onehot.sum(axis=1), 1.0)
            return Xp[:, 0]

    grouped_permutation_importance(Check(), X, prep.y.to_numpy(), {"optimizer": [2, 3]},
                                   n_repeats=3, random_state=0)


def test_folds_never_split_a_configuration():
    prep = make_prep(lr_sweep(), categorical=["optimizer"], log_scaled=["lr"], seed="seed")
    cfg = config_ids(prep)
    assert len(np.unique(cfg)) == len(prep.runs) // 3
    splits, grouped = cv_splits(cfg, n_splits=5, random_state=0)
    assert grouped and len(splits) == 5
    for train, test in splits:
        assert not set(cfg[train]) & set(cfg[test])


def test_deterministic_given_seed():
    prep = make_prep(lr_sweep(n_seeds=1), categorical=["optimizer"], log_scaled=["lr"])
    a = forest_importance(prep, n_estimators=30, random_state=3)
    b = forest_importance(prep, n_estimators=30, random_state=3, n_jobs=2)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.cv_r2 == b.cv_r2


def test_large_sweep_uses_bootstrap_subsamples_and_notes_it():
    rng = np.random.default_rng(3)
    n = 3000
    runs = pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n)})
    runs["y"] = runs["a"] + rng.normal(0, 0.1, n)
    res = forest_importance(make_prep(runs), n_estimators=20, max_rows=1000)
    assert any("bootstrap sample of 1000" in s for s in res.notes)
    assert res.table["param"].iloc[0] == "a"
    assert res.cv_r2 > 0.5


@pytest.mark.parametrize("n_splits", [2, 5])
def test_cv_r2_std_is_spread_over_folds(n_splits):
    prep = make_prep(lr_sweep(n_seeds=1), categorical=["optimizer"], log_scaled=["lr"])
    res = forest_importance(prep, n_estimators=30, n_splits=n_splits)
    assert res.n_folds == n_splits
    assert res.cv_r2_std >= 0


def test_through_prepare_on_the_standard_synthetic_sweep():
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.synthetic import make_table, standard_sweep

    prep = prepare(make_table(**standard_sweep()), target="loss")
    res = forest_importance(prep, n_estimators=100)
    assert res.table["param"].iloc[0] == "lr"
    assert res.table["param"].iloc[-1] == "noise_param"
    assert res.grouped_cv and res.cv_r2 > 0.5


def test_forest_on_configuration_means_is_the_forest_on_runs():
    """Repeated seeds: growing on weighted configuration means gives the reference forest."""
    prep = make_prep(lr_sweep(n_seeds=4, noise=0.3), categorical=["optimizer"],
                     log_scaled=["lr"], seed="seed")
    X, y, cfg = prep.X.to_numpy(float), prep.y.to_numpy(float), config_ids(prep)
    means = fit_forest(X, y, cfg, n_estimators=200, random_state=0, n_jobs=None, big=False)
    runs = ExtraTreesRegressor(n_estimators=200, random_state=0).fit(X, y)
    assert means.min_samples_leaf == 1
    assert means.estimators_[0].tree_.n_node_samples[0] == len(y) // 4  # grown on the means
    # fully grown trees predict each configuration's mean either way
    assert_allclose(means.predict(X), runs.predict(X), atol=1e-9)
    # impurity importances agree within the forest's own seed-to-seed spread
    assert_allclose(means.feature_importances_, runs.feature_importances_, atol=0.01)
    res = forest_importance(prep, n_estimators=50)
    assert any("configuration means" in s for s in res.notes)


def test_large_sweep_notes_every_approximation():
    rng = np.random.default_rng(4)
    cfgs = pd.DataFrame({"a": rng.uniform(size=1500), "b": rng.uniform(size=1500)})
    runs = cfgs.loc[np.repeat(np.arange(1500), 2)].reset_index(drop=True)
    runs["seed"] = np.tile([0, 1], 1500)
    runs["y"] = runs["a"] + rng.normal(0, 0.1, len(runs))
    res = forest_importance(make_prep(runs, seed="seed"), n_estimators=120, max_rows=2000,
                            tree_rows=500)
    text = " ".join(res.notes)
    assert "bootstrap sample of 500 configuration means" in text
    assert "3 folds of 100 trees" in text and res.n_folds == 3
    assert "mean over these fold forests" in text
    assert res.table["param"].iloc[0] == "a" and res.cv_r2 > 0.5


def test_grouped_permutation_same_in_one_call_or_many():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 4))
    y = X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + rng.normal(0, 0.1, 150)
    model = ExtraTreesRegressor(n_estimators=20, random_state=0).fit(X, y)
    groups = {"a": [0], "bc": [1, 2], "d": [3]}
    one = grouped_permutation_importance(model, X, y, groups, n_repeats=3, random_state=1)
    many = grouped_permutation_importance(model, X, y, groups, n_repeats=3, random_state=1,
                                          chunk_rows=1)
    assert list(one) == list(many) == list(groups)
    for g in groups:
        assert_allclose(one[g], many[g])
    assert one["a"].mean() > one["d"].mean()


def few_configs(effect, rng_seed=0) -> Prepared:
    """6 configurations x 16 seeds; y = effect * log10(lr) + N(0, 0.01)."""
    rng = np.random.default_rng(rng_seed)
    g = pd.MultiIndex.from_product([[1e-4, 1e-3, 1e-2], ["adam", "sgd"], range(16)],
                                   names=["lr", "opt", "seed"]).to_frame(index=False)
    g["y"] = effect * np.log10(g["lr"]) + rng.normal(0, 0.01, len(g))
    return make_prep(g, categorical=["opt"], log_scaled=["lr"], seed="seed")


@pytest.mark.parametrize("rng_seed", [0, 1, 2])
def test_few_configurations_many_seeds_cv_r2_is_pooled(rng_seed):
    """A fold holds one or two configurations: its own R² is seed noise over seed noise, so the
    headline is the pooled out-of-fold R², close to the between-configuration share (true
    0.0004 x 2/3 / (that + 0.0001) = 0.73)."""
    res = forest_importance(few_configs(0.02, rng_seed), n_estimators=100)
    assert res.grouped_cv and res.n_folds == 5
    assert 0.6 < res.cv_r2 < 0.85
    assert res.cv_r2_std >= 0
    assert not any("not to be trusted" in w for w in res.warnings)
    assert any("pooled over the held-out predictions" in s for s in res.notes)
    # pure noise on the same design stays near or below 0, and is warned about
    null = forest_importance(few_configs(0.0, rng_seed), n_estimators=100)
    assert null.cv_r2 < 0.1
    assert any("not to be trusted" in w for w in null.warnings)


# --------------------------------------------------------------------------- shared trees
def _standard_prep(**overrides):
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.synthetic import make_table, standard_sweep

    return prepare(make_table(**standard_sweep(**overrides)), target="loss")


def test_shared_trees_agree_with_the_reference_computation():
    """Trees shared out between 5 fold forests (the default) against the reference (a forest
    on every run + 5 folds of as many trees), 100 trees here to keep the test fast, on a sweep
    with known truth: lr >> batch_size > optimizer (interaction only) > noise_param (nothing)."""
    from sweepsight.analysis.forest import ForestApprox

    prep = _standard_prep(n_configs=120)
    fast = forest_importance(prep, n_estimators=100)
    exact = forest_importance(prep, n_estimators=100, shared_trees=False)
    assert fast.approximations == [ForestApprox.SHARED_TREES, ForestApprox.CV_TREES]
    assert exact.approximations == []
    assert (fast.cv_trees, fast.n_trees) == (20, 100)
    assert (exact.cv_trees, exact.n_trees) == (100, 100)
    f, e = fast.table.set_index("param"), exact.table.set_index("param")
    # impurity: trees grown on 4/5 of the configurations vs on all of them
    assert_allclose(f["impurity"], e.loc[f.index, "impurity"], atol=0.02)
    assert list(f.index) == list(e.index)  # same ranking by permutation
    assert f.index[0] == "lr" and f.index[-1] == "noise_param"
    # permutation: within the folds' spread of each other
    gap = (f["permutation"] - e.loc[f.index, "permutation"]).abs()
    assert (gap <= 2 * (f["permutation_std"] + e.loc[f.index, "permutation_std"]) + 0.01).all()
    # R² with 20 trees a fold is a little lower; extrapolated to 100 it matches the reference
    assert exact.cv_r2_full == exact.cv_r2
    assert fast.cv_r2 <= fast.cv_r2_full
    assert abs(fast.cv_r2_full - exact.cv_r2) < 0.02
    text = " ".join(fast.notes)
    assert "5 folds of 20 trees" in text and "with 100 trees a fold it would be about" in text


@pytest.mark.parametrize("rng_seed", [6, 7, 8])
def test_r2_more_trees_predicts_the_larger_forest(rng_seed):
    """Extrapolating from 5 trees gives the held-out R² of 150 (the mean over more trees)
    to within half the gap between the two."""
    from sweepsight.analysis.forest import r2_more_trees, tree_moments

    rng = np.random.default_rng(rng_seed)
    X = rng.uniform(size=(1200, 4))
    y = np.sin(6 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.3, 1200)
    train, test = np.arange(800), np.arange(800, 1200)
    big = ExtraTreesRegressor(n_estimators=150, random_state=0).fit(X[train], y[train])
    small = ExtraTreesRegressor(n_estimators=5, random_state=1).fit(X[train], y[train])
    X32 = X[test].astype(np.float32)
    mean, var = tree_moments(small, X32, n_jobs=2)
    assert_allclose(mean, small.predict(X[test]), rtol=1e-6)
    per_tree = np.stack([t.predict(X32) for t in small.estimators_])
    assert_allclose(var, per_tree.var(axis=0, ddof=1), rtol=1e-6, atol=1e-12)
    r2_small = 1 - ((mean - y[test]) ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()
    r2_big = float(big.score(X[test], y[test]))
    guess = r2_more_trees(y[test], mean, var, trees=5, more=150)
    assert r2_big - r2_small > 0.015  # a real gap to close
    assert abs(guess - r2_big) < 0.5 * (r2_big - r2_small)
    assert r2_more_trees(y[test], mean, var, trees=5, more=5) == pytest.approx(r2_small)


def test_permutation_sample_is_flagged_and_close_to_all_rows():
    from sweepsight.analysis.forest import PERM_MIN_ROWS, ForestApprox

    prep = make_prep(lr_sweep(n_seeds=10, noise=0.3), categorical=["optimizer"],
                     log_scaled=["lr"], seed="seed")
    assert len(prep.runs) > PERM_MIN_ROWS
    every = forest_importance(prep, n_estimators=50, perm_budget=10**12)
    part = forest_importance(prep, n_estimators=50, perm_budget=0)
    assert ForestApprox.PERMUTATION_SAMPLE not in every.approximations and every.perm_rows == 0
    assert ForestApprox.PERMUTATION_SAMPLE in part.approximations
    assert part.perm_rows == int(np.ceil(PERM_MIN_ROWS / part.n_folds))
    assert any(f"random {part.perm_rows} of the held-out runs" in s for s in part.notes)
    a, b = every.table.set_index("param"), part.table.set_index("param")
    assert a.index[0] == b.index[0] == "lr"
    assert_allclose(b.loc[a.index, "permutation"], a["permutation"], atol=0.05)


def test_many_parameters_shuffle_fewer_times_and_say_so():
    from sweepsight.analysis.forest import ForestApprox

    rng = np.random.default_rng(0)
    runs = pd.DataFrame({f"x{j:02d}": rng.uniform(size=400) for j in range(60)})
    runs["y"] = runs["x00"] + rng.normal(0, 0.1, 400)
    res = forest_importance(make_prep(runs), n_estimators=50, perm_budget=60 * 10 * 1000 * 3)
    assert ForestApprox.PERMUTATION_REPEATS in res.approximations and res.perm_repeats == 3
    assert any("shuffles each 3 times per fold (instead of 5)" in s for s in res.notes)
    assert res.table["param"].iloc[0] == "x00"
