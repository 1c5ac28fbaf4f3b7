"""Messy sweeps, each written to a CSV file and loaded through the CSV adapter, then prepared
and analysed; plus a property test on random small run tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import build_table
from sweepsight.analysis.correlation import correlations
from sweepsight.analysis.linear import fit_linear
from sweepsight.analysis.prepare import prepare
from sweepsight.analysis.synthetic import Choice, LogUniform, Uniform, load_via_csv, make_frame, standard_sweep


def via_csv(tmp_path, **overrides):
    options = overrides.pop("options", {})
    return load_via_csv(make_frame(**standard_sweep(**overrides)), tmp_path / "sweep.csv", **options)


def top_ols_term(res):
    return res.table.sort_values("p_value")["term"].iloc[0]


def test_heavy_tail_is_logged_and_the_true_driver_comes_first(tmp_path):
    # Loss spans decades (10 ** latent) and 3% of runs diverged (x 1e5) at random.
    table = via_csv(tmp_path, exponentiate=True, heavy_tail=(0.03, 1e5), base=0.0, noise=0.2,
                    random_state=1)
    raw = prepare(table, target="loss", metric_scale="raw")
    auto = prepare(table, target="loss")
    # On the raw scale a few diverged runs decide everything: lr is not singled out.
    raw_fit = fit_linear(raw)
    assert top_ols_term(raw_fit) != "lr"
    assert raw_fit.table.set_index("term").loc["lr", "p_value"] > 0.05
    assert correlations(raw).sort_values("pearson_p")["feature"].iloc[0] != "lr"
    # auto: log10, with the reason and numbers; lr first by every measure.
    assert auto.metric_scale == "log" and "max/median" in auto.scale_reason
    assert np.isfinite(float(auto.scale_reason.split("= ")[1].split(" ")[0]))
    corr = correlations(auto)
    assert corr["feature"].iloc[0] == "lr"
    assert corr.sort_values("pearson_p")["feature"].iloc[0] == "lr"
    fit = fit_linear(auto)
    assert top_ols_term(fit) == "lr" and fit.table["p_value"].iloc[0] < 1e-10
    # Ranks do not care about a monotone transform: Spearman is the same on both scales.
    np.testing.assert_allclose(correlations(raw).set_index("feature")["spearman_r"].sort_index(),
                               corr.set_index("feature")["spearman_r"].sort_index())
    np.testing.assert_allclose(auto.y, np.log10(auto.runs["y_raw"]))


def test_aliases_are_merged_and_ols_is_not_singular(tmp_path):
    table = via_csv(tmp_path, n_configs=80, aliases={
        "training.learning_rate": ("lr", None),
        "opt_id": ("optimizer", {"adam": 0, "sgd": 1}),
        "log_bs": ("batch_size", lambda v: float(np.log2(v))),
    })
    prep = prepare(table, target="loss")
    assert prep.aliases == {
        "batch_size = log_bs": ["batch_size", "log_bs"],
        "lr = training.learning_rate": ["lr", "training.learning_rate"],
        "optimizer = opt_id": ["optimizer", "opt_id"],
    }
    assert sorted(prep.params) == ["batch_size = log_bs", "lr = training.learning_rate",
                                   "noise_param", "optimizer = opt_id"]
    fit = fit_linear(prep)
    assert not fit.dropped and not fit.warnings
    assert top_ols_term(fit) == "lr = training.learning_rate"
    assert fit.table.set_index("term").loc["noise_param", "p_value"] > 0.05
    # Without merging, OLS would have had to drop the copies as exactly collinear.
    assert fit.condition_number < 30


def test_budgets_keep_each_configuration_at_its_highest_budget(tmp_path):
    frame = make_frame(**standard_sweep(n_configs=54, seeds=2, budgets=[1, 3, 9, 27]))
    table = load_via_csv(frame, tmp_path / "sweep.csv", budget="epochs")
    prep = prepare(table, target="loss")
    assert prep.budget == "epochs" and "epochs" in prep.set_aside
    assert prep.budget_counts.to_dict() == {1.0: 54, 3.0: 18, 9.0: 6, 27.0: 2}
    # 2 seeds x (54 + 18 + 6 + 2) runs; each configuration kept once per seed.
    assert len(frame) == 160 and len(prep.runs) == 108
    assert (prep.excluded["reason"] == "lower budget").sum() == 52
    per_config = prep.runs.groupby(["lr"])["epochs"].nunique()
    assert (per_config == 1).all()
    assert prep.runs.groupby("epochs").size().to_dict() == {1.0: 72, 3.0: 24, 9.0: 8, 27.0: 4}
    assert "epochs" not in prep.params and not any(c.startswith("epochs") for c in prep.X)
    assert any("highest epochs" in n for n in prep.notes)
    assert top_ols_term(fit_linear(prep)) == "lr"


def test_early_stopped_configurations_are_flagged_and_at_budget_compares_like_with_like(tmp_path):
    frame = make_frame(**standard_sweep(n_configs=54, seeds=2, budgets=[1, 3, 9, 27]))
    table = load_via_csv(frame, tmp_path / "sweep.csv", budget="epochs")
    default = prepare(table, target="loss")
    assert any("52 configurations stopped before epochs 27" in n and "--at-budget max" in n
               for n in default.notes)
    top = prepare(table, target="loss", at_budget="max")
    assert set(top.runs["epochs"]) == {27.0} and len(top.runs) == 4  # 2 configurations x 2 seeds
    assert (top.excluded["reason"] == "other budget level").sum() == 156
    assert any("only the runs at epochs = 27" in n and "2 of 54 configurations" in n
               for n in top.notes)
    nine = prepare(table, target="loss", at_budget="9")
    assert set(nine.runs["epochs"]) == {9.0} and len(nine.runs) == 12
    with pytest.raises(SweepError, match=r"no run .* has epochs = 5; levels present: 1, 3, 9, 27"):
        prepare(table, target="loss", at_budget="5")
    with pytest.raises(SweepError, match="pass a budget value"):
        prepare(table, target="loss", at_budget="most")
    plain = load_via_csv(frame, tmp_path / "plain.csv")
    with pytest.raises(SweepError, match="needs --budget NAME"):
        prepare(plain, target="loss", at_budget="max")


def test_budget_from_table_meta_and_argument_agree(tmp_path):
    frame = make_frame(**standard_sweep(n_configs=27, seeds=1, budgets=[1, 3, 9]))
    from_meta = prepare(load_via_csv(frame, tmp_path / "a.csv", budget="epochs"), target="loss")
    from_arg = prepare(load_via_csv(frame, tmp_path / "b.csv"), target="loss", budget="epochs")
    assert from_meta.runs["run_id"].tolist() == from_arg.runs["run_id"].tolist()


def test_conditional_params(tmp_path):
    frame = make_frame(
        {"lr": LogUniform(1e-4, 1e-1), "solver": Choice(["adam", "sgd", "lbfgs"]),
         "momentum": Uniform(0.5, 0.99), "batch_size": Choice([32, 64, 128])},
        effects={"lr": 1.0, "momentum": 0.5},
        conditional={"momentum": ("solver", {"sgd"}), "batch_size": ("solver", {"adam", "sgd"})},
        n_configs=90, seeds=2, noise=0.2, random_state=4)
    prep = prepare(load_via_csv(frame, tmp_path / "sweep.csv"), target="loss")
    assert prep.conditional == {
        "batch_size": "inactive when solver = lbfgs",
        "momentum": "inactive when solver != sgd",
    }
    assert {"momentum__missing", "batch_size__missing"} <= set(prep.X.columns)
    assert prep.runs.loc[prep.runs["solver"] != "sgd", "momentum"].isna().all()
    assert not prep.X.isna().any().any()
    fit = fit_linear(prep)
    # The missing flags repeat solver's levels exactly: dropped with a warning, fit not singular.
    assert set(fit.dropped) == {"momentum__missing", "batch_size__missing"}
    assert any("collinear" in w for w in fit.warnings)
    by = fit.table.set_index("term")
    assert top_ols_term(fit) == "lr" and by.loc["momentum", "p_value"] < 1e-3
    assert np.isfinite(fit.table[["coef", "std_err", "p_value", "vif"]].to_numpy(float)).all()


def test_failed_nan_and_inf_runs_are_excluded_and_counted(tmp_path):
    table = via_csv(tmp_path, n_configs=20, failed=4, nan_target=3, inf_target=2)
    assert np.isinf(table.metric("loss")).sum() == 2  # the adapter kept inf as inf
    prep = prepare(table, target="loss")
    reasons = prep.excluded["reason"].value_counts().to_dict()
    assert reasons == {"run failed (state)": 4, "missing target": 3, "infinite target": 2}
    assert len(prep.runs) == 60 - 9
    assert np.isfinite(prep.runs["y"]).all() and np.isfinite(prep.runs["y_raw"]).all()
    assert not set(prep.excluded["run_id"]) & set(prep.runs["run_id"])
    assert any("Excluded 9 of 60 runs" in n for n in prep.notes)


def test_wide_messy_config(tmp_path):
    table = via_csv(tmp_path, n_configs=40, constants=300, identifiers=True)
    assert len(table.params) > 300
    prep = prepare(table, target="loss")
    assert sorted(prep.params) == ["batch_size", "lr", "noise_param", "optimizer"]
    sa = prep.set_aside
    assert sum(r.startswith("constant") for r in sa.values()) == 300
    assert "by its name" in sa["run_name"] and "by its name" in sa["output_dir"]
    assert "timestamps" in sa["started"] and "hashes" in sa["code_version"]
    assert "internals" in sa["_wandb"]
    assert "and 292 more: constant" in " ".join(prep.notes)
    assert top_ols_term(fit_linear(prep)) == "lr"


# --- property test -------------------------------------------------------------------------

_values = {
    "numeric": st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False), st.just(float("nan"))),
    "positive": st.one_of(st.none(), st.sampled_from([1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0])),
    "category": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "/x/y", "2024-01-01"])),
    "boolean": st.one_of(st.none(), st.booleans()),
    "mixed": st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["x", "[1, 2]", "true"])),
}


@st.composite
def run_tables(draw):
    n = draw(st.integers(1, 14))
    kinds = draw(st.lists(st.sampled_from(sorted(_values)), min_size=1, max_size=5))
    frame = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)]})
    for j, kind in enumerate(kinds):
        frame[f"params.p{j}_{kind}"] = draw(st.lists(_values[kind], min_size=n, max_size=n))
    frame["state"] = draw(st.lists(st.sampled_from(["finished", "finished", "failed", "running"]),
                                   min_size=n, max_size=n))
    y = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(
        [float("nan"), float("inf"), -float("inf"), 0.0, 1e-9, 1e5]))
    frame["metrics.score"] = draw(st.lists(y, min_size=n, max_size=n))
    return build_table(frame, source="csv")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=run_tables(), scale=st.sampled_from(["auto", "raw", "rank"]))
def test_random_tables_give_finite_results_or_a_sweep_error(table, scale):
    try:
        prep = prepare(table, target="score", metric_scale=scale)
    except SweepError:
        return
    assert len(prep.runs) >= 3 and prep.X.index.equals(prep.runs.index)
    assert np.isfinite(prep.X.to_numpy(float)).all() and np.isfinite(prep.y.to_numpy()).all()
    assert set(prep.X.columns) == set(prep.feature_param)
    corr = correlations(prep)
    numbers = ["pearson_r", "pearson_p", "spearman_r", "spearman_p", "n"]
    assert np.isfinite(corr[numbers].to_numpy(float)).all()
    fit = fit_linear(prep)
    assert np.isfinite(fit.table[["coef", "std_err", "ci_low", "ci_high", "p_value", "vif"]]
                       .to_numpy(float)).all()
    assert np.isfinite([fit.r2, fit.r2_adj, fit.condition_number, fit.intercept]).all()


def test_aliases_are_judged_on_the_whole_sweep_not_the_runs_a_budget_kept(tmp_path):
    # 54 random (lr, wd) configurations, 2 reach epochs 27: over those 2, lr and wd move
    # together as aliases would; over the sweep they are independent knobs.
    frame = make_frame({"lr": LogUniform(1e-4, 1e-1), "wd": LogUniform(1e-6, 1e-2)},
                       effects={"lr": 1.0}, n_configs=54, seeds=2, budgets=[1, 3, 9, 27],
                       random_state=0, target="loss")
    top = prepare(load_via_csv(frame, tmp_path / "hb.csv", budget="epochs"), target="loss",
                  at_budget="max")
    assert top.runs["lr"].nunique() == 2 and top.runs["wd"].nunique() == 2
    assert top.aliases == {} and set(top.params) == {"lr", "wd"}
