"""Importance evaluators against closed-form variance shares and statsmodels' own ANOVA."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from numpy.testing import assert_allclose
from scipy import stats
from statsmodels.stats.anova import anova_lm

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.importance import (
    BaseImportanceEvaluator,
    ImportanceResult,
    available,
    get_param_importances,
    register_evaluator,
)
from tests.test_forest import lr_sweep, make_prep


def grid(levels: dict[str, list], n_seeds: int) -> pd.DataFrame:
    names = list(levels) + ["seed"]
    idx = pd.MultiIndex.from_product([*levels.values(), range(n_seeds)], names=names)
    return idx.to_frame(index=False)


@pytest.mark.parametrize("n_seeds", [1, 2])
def test_additive_full_grid_exact_shares(n_seeds):
    a, b, c = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0]), np.array([1.0, 1.5, 4.0, 0.5])
    g = grid({"a": list(a), "b": list(b), "c": list(c)}, n_seeds)
    g["y"] = g["a"] + g["b"] + g["c"]  # seeds identical: no noise
    res = get_param_importances(make_prep(g, seed="seed"), normalize=False)
    assert res.method.startswith("main_effects (grid")
    truth = np.array([a.var(), b.var(), c.var()]) / (a.var() + b.var() + c.var())
    shares = res.table.set_index("param").loc[["a", "b", "c"], "share"].to_numpy()
    assert_allclose(shares, truth, atol=1e-9)
    assert_allclose(res.interaction_share, 0.0, atol=1e-9)
    assert_allclose(res.top_interactions["share"], 0.0, atol=1e-9)
    # no noise: omega2 is the share itself, and every effect is far above the floor
    assert_allclose(res.table["omega2"], res.table["share"], atol=1e-9)
    assert res.table["above_floor"].all()


def test_grid_interaction_share_closed_form():
    """f = a + b + k·a·b: main a = (1 + k·mean b)² var a, pair = k² var a var b."""
    a, b, k = np.array([0.0, 1.0, 3.0]), np.array([-1.0, 2.0, 2.5, 4.0]), 0.7
    g = grid({"a": list(a), "b": list(b)}, 2)
    g["y"] = g["a"] + g["b"] + k * g["a"] * g["b"]
    res = get_param_importances(make_prep(g, seed="seed"), normalize=False)
    va, vb = (1 + k * b.mean()) ** 2 * a.var(), (1 + k * a.mean()) ** 2 * b.var()
    vab = k**2 * a.var() * b.var()
    total = va + vb + vab
    shares = res.table.set_index("param")["share"]
    assert_allclose([shares["a"], shares["b"]], [va / total, vb / total], atol=1e-9)
    assert_allclose(res.interaction_share, vab / total, atol=1e-9)
    assert_allclose(res.top_interactions["share"].iloc[0], vab / total, atol=1e-9)


def test_random_sampling_surrogate_shares_within_005():
    rng = np.random.default_rng(0)
    n = 1000
    runs = pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n),
                         "c": rng.uniform(size=n)})
    runs["y"] = 2 * runs["a"] + runs["b"]  # var 4/12 and 1/12: shares 0.8, 0.2, 0
    res = get_param_importances(make_prep(runs), normalize=False)
    assert res.method == "main_effects (surrogate)"
    t = res.table.set_index("param")
    assert abs(t.loc["a", "share"] - 0.8) <= 0.05
    assert abs(t.loc["b", "share"] - 0.2) <= 0.05
    assert t.loc["c", "share"] <= 0.01
    assert list(t["above_floor"]) == [True, True, False]
    assert res.interaction_share < 0.05


def two_vs_forty(rng_seed=0) -> pd.DataFrame:
    """2-level optimizer shifts y by 0.02; 40-level weight_decay does nothing; noise SD 0.02."""
    rng = np.random.default_rng(rng_seed)
    g = grid({"optimizer": ["adam", "sgd"], "weight_decay": list(np.logspace(-6, -2, 40))}, 3)
    g["y"] = 0.02 * (g["optimizer"] == "sgd") + rng.normal(0, 0.02, len(g))
    return g


def test_two_levels_beat_forty_levels_of_nothing():
    prep = make_prep(two_vs_forty(), categorical=["optimizer"], log_scaled=["weight_decay"],
                     seed="seed")
    res = get_param_importances(prep)
    t = res.table.set_index("param")
    assert res.table["param"].iloc[0] == "optimizer"
    assert t.loc["optimizer", "above_floor"] and not t.loc["weight_decay", "above_floor"]
    assert t.loc["weight_decay", "omega2"] < 0.02
    assert t.loc["weight_decay", "p_value"] > 0.05
    # the floor is where the F test passes: share above it exactly when p clears its Holm step
    # (balanced grid), so a bar below its tick is never called above the floor
    step = t["p_value"].rank(method="first") - 1
    clears = t["p_value"] < 0.05 / (len(t) - step)
    assert ((t["share"] > t["noise_floor"]) == clears).all()
    assert t.loc["weight_decay", "share"] < t.loc["weight_decay", "noise_floor"]
    # the surrogate path agrees
    sur = get_param_importances(prep, method="surrogate").table.set_index("param")
    assert sur.loc["optimizer", "importance"] > 0 and not sur.loc["weight_decay", "above_floor"]
    # ExtraTrees impurity has the many-levels bias: the useless 40-level parameter ranks first
    imp = get_param_importances(prep, evaluator="forest_impurity", n_estimators=100)
    assert imp.table["param"].iloc[0] == "weight_decay"
    assert any("many distinct values" in s for s in imp.notes)


def test_pure_noise_grid_everything_at_the_floor():
    rng = np.random.default_rng(5)
    g = grid({"a": [1, 2, 3], "b": ["x", "y", "z", "w"], "c": [0.1, 0.2]}, 3)
    g["y"] = rng.normal(size=len(g))
    res = get_param_importances(make_prep(g, categorical=["b"], seed="seed"))
    assert res.method.startswith("main_effects (grid")
    assert not res.table["above_floor"].any()
    assert any("No hyperparameter rises above the noise floor" in s for s in res.notes)


def test_pure_noise_random_search_everything_at_the_floor():
    rng = np.random.default_rng(6)
    n = 400
    runs = pd.DataFrame({"lr": 10 ** rng.uniform(-5, -1, n), "dropout": rng.uniform(0, .5, n),
                         "opt": rng.choice(["adam", "sgd", "rmsprop"], n),
                         "y": rng.normal(size=n)})
    res = get_param_importances(make_prep(runs, categorical=["opt"], log_scaled=["lr"]))
    assert res.method == "main_effects (surrogate)"
    assert not res.table["above_floor"].any()
    assert_allclose(res.table["importance"], 0.0)
    assert any("No hyperparameter rises above the noise floor" in s for s in res.notes)


def test_f_and_p_equal_statsmodels_anova_lm():
    rng = np.random.default_rng(7)
    g = grid({"lr": [1e-3, 1e-2, 1e-1], "bs": [32, 64], "opt": ["adam", "sgd"]}, 3)
    g["y"] = (np.log10(g["lr"]) * 0.3 + 0.1 * (g["opt"] == "sgd") + 0.01 * (g["bs"] == 64)
              + rng.normal(0, 0.1, len(g)))
    g = g.drop(index=[0, 5, 17]).reset_index(drop=True)  # unbalanced, still a grid
    res = get_param_importances(make_prep(g, categorical=["opt"], seed="seed"), normalize=False)
    ref = anova_lm(smf.ols("y ~ C(lr) + C(bs) + C(opt)", data=g).fit(), typ=2)
    t = res.table.set_index("param")
    for p in ("lr", "bs", "opt"):
        assert_allclose(t.loc[p, "f_stat"], ref.loc[f"C({p})", "F"], rtol=1e-10)
        assert_allclose(t.loc[p, "p_value"], ref.loc[f"C({p})", "PR(>F)"], rtol=1e-8)
    ms_e = ref.loc["Residual", "sum_sq"] / ref.loc["Residual", "df"]
    ss_t = ((g["y"] - g["y"].mean()) ** 2).sum()
    w2 = (ref.loc["C(lr)", "sum_sq"] - 2 * ms_e) / (ss_t + ms_e)
    assert_allclose(t.loc["lr", "omega2"], w2, rtol=1e-10)


def test_one_way_f_equals_scipy():
    rng = np.random.default_rng(8)
    g = grid({"opt": ["a", "b", "c", "d"]}, 5)
    g["y"] = rng.normal(size=len(g)) + 0.5 * (g["opt"] == "c")
    res = get_param_importances(make_prep(g, categorical=["opt"], seed="seed"))
    f, p = stats.f_oneway(*[g.loc[g["opt"] == k, "y"] for k in "abcd"])
    assert_allclose(res.table["f_stat"].iloc[0], f, rtol=1e-10)
    assert_allclose(res.table["p_value"].iloc[0], p, rtol=1e-8)


def test_forest_evaluators_through_public_function():
    prep = make_prep(lr_sweep(), categorical=["optimizer"], log_scaled=["lr"], seed="seed")
    perm = get_param_importances(prep, evaluator="permutation", n_estimators=60)
    assert perm.table["param"].iloc[0] == "lr"
    assert perm.table.set_index("param").loc["lr", "above_floor"]
    assert_allclose(perm.table["importance"].sum(), 1.0)
    main = get_param_importances(prep)
    assert main.table["param"].iloc[0] == "lr"
    pair = main.top_interactions.iloc[0]
    assert {pair["param_a"], pair["param_b"]} == {"lr", "optimizer"}


def test_params_restricts_and_unknown_names_fail():
    prep = make_prep(lr_sweep(n_seeds=1), categorical=["optimizer"], log_scaled=["lr"])
    res = get_param_importances(prep, params=["lr", "junk"], evaluator="forest_impurity",
                                n_estimators=20)
    assert sorted(res.table["param"]) == ["junk", "lr"]
    with pytest.raises(SweepError, match="'nope'.*analysed hyperparameters: lr"):
        get_param_importances(prep, params=["nope"])
    with pytest.raises(SweepError, match="valid evaluators: forest_impurity, main_effects"):
        get_param_importances(prep, evaluator="fanova")


def test_register_evaluator():
    class Constant(BaseImportanceEvaluator):
        def evaluate(self, prep, *, random_state=0, **kw):
            t = pd.DataFrame({"param": prep.params, "importance": 2.0, "noise_floor": 0.0,
                              "above_floor": True})
            return ImportanceResult(table=t, method="constant")

    register_evaluator("constant_test", Constant)
    assert "constant_test" in available()
    prep = make_prep(lr_sweep(n_seeds=1), categorical=["optimizer"], log_scaled=["lr"])
    res = get_param_importances(prep, evaluator="constant_test")
    assert_allclose(res.table["importance"], 1 / len(prep.params))
    with pytest.raises(TypeError):
        register_evaluator("bad", dict)


def test_through_prepare_on_the_standard_synthetic_sweep():
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.synthetic import make_table, standard_sweep

    prep = prepare(make_table(**standard_sweep()), target="loss")
    res = get_param_importances(prep)
    t = res.table.set_index("param")
    assert res.table["param"].iloc[0] == "lr"
    assert t.loc["lr", "above_floor"] and not t.loc["noise_param", "above_floor"]
    assert t.loc["noise_param", "importance"] == 0.0


def _qa_prep(writer, target, tmp_path):
    from sweepsight import adapters
    from sweepsight.analysis.prepare import prepare

    path = tmp_path / "sweep.csv"
    writer(path)
    return prepare(adapters.load("csv", {"path": str(path)}), target=target)


def test_conditional_parent_and_child_above_the_floor(tmp_path):
    """optimizer (lbfgs +0.6) moves momentum/batch_size with it; momentum acts only for sgd."""
    from tests.qa_sweeps import conditional

    prep = _qa_prep(conditional, "loss", tmp_path)
    assert prep.conditional  # momentum and batch_size depend on optimizer
    res = get_param_importances(prep, method="surrogate")
    t = res.table.set_index("param")
    for p in ("lr", "momentum"):
        assert t.loc[p, "above_floor"] and t.loc[p, "importance"] > 0, p
    assert not t.loc["batch_size", "above_floor"]
    assert any("moves its children with it" in s for s in res.notes)
    # the parent's curve now shows lbfgs (share ~0.006, before: 0.0016)...
    assert t.loc["optimizer", "share"] > 0.004


@pytest.mark.xfail(strict=False, reason="half-data forests attenuate the lbfgs step (+0.35 of "
                   "the true +0.63): optimizer's share sits at its floor, above it for 5 of "
                   "random_state 0-7 (2 of 8 before the surrogate's streams were spawned)")
def test_conditional_parent_above_the_floor(tmp_path):
    from tests.qa_sweeps import conditional

    t = get_param_importances(_qa_prep(conditional, "loss", tmp_path),
                              method="surrogate").table.set_index("param")
    assert t.loc["optimizer", "above_floor"] and t.loc["optimizer", "importance"] > 0


def test_weak_but_real_effect_above_the_floor(tmp_path):
    """use_bn shifts the loss by 0.3 beside a dominant lr (OLS p ~ 1e-35): not noise."""
    from tests.qa_sweeps import two_seeds

    prep = _qa_prep(two_seeds, "val_loss", tmp_path)
    res = get_param_importances(prep)
    assert res.method == "main_effects (surrogate)"
    t = res.table.set_index("param")
    assert t.loc["use_bn", "above_floor"] and t.loc["use_bn", "importance"] > 0
    assert t.loc["use_bn", "p_value"] < 1e-3
    assert not t.loc["units", "above_floor"] and t.loc["units", "importance"] == 0


# --------------------------------------------------------------------------- interactions vs noise
def _three_factor(rng, *, inter=0.0, n_seeds=3, noise=0.02):
    """lr (3) x wd (3) x batch (4) grid: additive lr effect, optional lr x batch interaction."""
    g = grid({"lr": [1e-4, 1e-3, 1e-2], "wd": [0.0, 1e-4, 1e-3], "batch": [32, 64, 128, 256]},
             n_seeds)
    loglr = np.log10(g["lr"])
    g["y"] = (0.006 * loglr + inter * (loglr + 3) * (np.log2(g["batch"]) - 6.75)
              + rng.normal(0, noise, len(g)))
    return g


def test_interaction_f_tests_equal_statsmodels_on_a_balanced_grid():
    g = _three_factor(np.random.default_rng(11), inter=0.01)
    res = get_param_importances(make_prep(g, seed="seed"), normalize=False)
    main = smf.ols("y ~ C(lr) + C(wd) + C(batch)", data=g).fit()
    full = smf.ols("y ~ C(lr) * C(wd) * C(batch)", data=g).fit()
    leftover = anova_lm(main, full)  # all interactions at once, against the pure error
    assert_allclose(res.interaction_p, leftover["Pr(>F)"].iloc[1], rtol=1e-8)
    ref = anova_lm(full, typ=2)
    pairs = res.top_interactions.set_index(["param_a", "param_b"])
    for (a, b), row in pairs.iterrows():
        key = f"C({a}):C({b})" if f"C({a}):C({b})" in ref.index else f"C({b}):C({a})"
        assert_allclose(row["p_value"], ref.loc[key, "PR(>F)"], rtol=1e-8)
    ms_pe = ref.loc["Residual", "sum_sq"] / ref.loc["Residual", "df"]
    # noise share: df_leftover x MS_pure over the SS of the configuration means
    ss_between = smf.ols("y ~ C(lr):C(wd):C(batch)", data=g).fit().ess
    assert_allclose(res.interaction_noise_share, 28 * ms_pe / ss_between, rtol=1e-8)
    assert_allclose(res.interaction_share_corrected,
                    max(res.interaction_share - res.interaction_noise_share, 0), rtol=1e-12)
    assert res.share_of == "configuration means"


def test_additive_truth_claims_no_interaction():
    """Additive lr effect + Gaussian seed noise: the leftover between configurations is noise.
    Over 60 such sweeps the F test rejects at about its level, and no pair rises above noise."""
    rng = np.random.default_rng(12)
    rejected, pairs_above = 0, 0
    for _ in range(60):
        res = get_param_importances(make_prep(_three_factor(rng), seed="seed"))
        assert res.interaction_share > 0.2  # raw leftover: seed noise of 3-run means lands here
        rejected += bool(res.interaction_above_noise)
        pairs_above += bool(res.top_interactions["above_floor"].fillna(False).any())
        assert res.interaction_share_corrected < res.interaction_share
    assert rejected <= 8 and pairs_above <= 6  # alpha = 0.05: ~3 expected of 60


def test_true_interaction_is_claimed_with_its_pair_first():
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.synthetic import make_table, standard_sweep

    prep = prepare(make_table(**standard_sweep(grid=True, grid_points=4)), target="loss")
    res = get_param_importances(prep)
    assert res.interaction_above_noise and res.interaction_p < 1e-10
    top = res.top_interactions
    assert {top["param_a"].iloc[0], top["param_b"].iloc[0]} == {"lr", "optimizer"}
    assert top["above_floor"].iloc[0] and not top["above_floor"].iloc[1:].any()
    assert top["share"].iloc[0] > top["noise_floor"].iloc[0]
    assert 0.05 < res.interaction_share_corrected < res.interaction_share


def test_single_seed_grid_cannot_test_interactions():
    g = grid({"a": [0.0, 1.0, 3.0], "b": [0.0, 2.0]}, 1)
    g["y"] = g["a"] + g["b"] + 0.5 * g["a"] * g["b"]
    res = get_param_importances(make_prep(g, seed="seed"))
    assert res.interaction_share > 0 and res.interaction_p is None
    assert res.interaction_above_noise is None and res.top_interactions["p_value"].isna().all()
    assert any("cannot be tested against seed noise" in s for s in res.notes)


def test_surrogate_shares_are_of_the_runs_variance():
    rng = np.random.default_rng(0)
    n = 600
    runs = pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n)})
    runs["y"] = 2 * runs["a"] + rng.normal(0, 0.3, n)  # var 1/3 of 0.42: a's share ~0.79
    res = get_param_importances(make_prep(runs), normalize=False)
    assert res.share_of == "runs" and res.interaction_p is None
    assert 0.65 < res.explained_share < 0.85
    assert abs(res.table.set_index("param").loc["a", "share"] - 0.79) < 0.07
    assert list(res.top_interactions.columns[:6]) == ["param_a", "param_b", "share", "p_value",
                                                       "noise_floor", "above_floor"]
    assert res.top_interactions["p_value"].isna().all()


def test_a_strong_interaction_does_not_hide_a_real_main_effect():
    """lr x optimizer interaction far above noise, and a small real wd effect: the main effects
    are then tested against the pure error (equal to statsmodels' full factorial ANOVA on a
    balanced grid), and wd rises above its floor; against the main-effects residual, which
    holds the interaction, it would not."""
    rng = np.random.default_rng(21)
    g = grid({"lr": [1e-4, 3e-4, 1e-3, 3e-3], "wd": [0.0, 1e-4, 1e-3],
              "opt": ["adam", "sgd"]}, 5)
    loglr = np.log10(g["lr"]) + 2.75
    g["y"] = (0.05 * loglr * np.where(g["opt"] == "adam", 1.0, -1.0) - 0.01 * (g["wd"] == 1e-3)
              + rng.normal(0, 0.01, len(g)))
    res = get_param_importances(make_prep(g, categorical=["opt"], seed="seed"), normalize=False)
    assert res.interaction_above_noise
    t = res.table.set_index("param")
    full = anova_lm(smf.ols("y ~ C(lr) * C(wd) * C(opt)", data=g).fit(), typ=2)
    for p in ("lr", "wd", "opt"):
        assert_allclose(t.loc[p, "f_stat"], full.loc[f"C({p})", "F"], rtol=1e-8)
        assert_allclose(t.loc[p, "p_value"], full.loc[f"C({p})", "PR(>F)"], rtol=1e-8)
    assert t.loc["wd", "p_value"] < 0.01 and t.loc["wd", "above_floor"]
    assert t.loc["wd", "share"] > t.loc["wd", "noise_floor"]
    pooled = anova_lm(smf.ols("y ~ C(lr) + C(wd) + C(opt)", data=g).fit(), typ=2)
    assert pooled.loc["C(wd)", "PR(>F)"] > 0.05  # what the old error term said
    assert any("against the pure error" in n for n in res.notes)


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from sweepsight.analysis.importance._grid_anova import holm

    rng = np.random.default_rng(0)
    for p in [rng.uniform(size=7), rng.uniform(0, 0.05, size=12), np.array([0.01, 0.01, 0.2]),
              np.array([0.5]), np.array([0.0, 1.0, 0.04, 0.03])]:
        assert_allclose(holm(p), multipletests(p, method="holm")[1])
