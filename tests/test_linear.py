"""OLS: ground truth, statsmodels formula cross-check, collinearity and degenerate fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from numpy.testing import assert_allclose

from sweepsight.analysis.linear import COLUMNS, fit_linear
from sweepsight.analysis.prepare import prepare
from sweepsight.analysis.synthetic import make_table, standard_sweep
from sweepsight.adapters.schema import build_table


@pytest.fixture(scope="module")
def prep():
    return prepare(make_table(**standard_sweep(n_configs=80)), target="loss")


def test_ground_truth(prep):
    res = fit_linear(prep)
    assert list(res.table.columns) == COLUMNS
    by = res.table.set_index("term")
    assert res.table["term"].iloc[0] == "lr"
    assert by.loc["lr", "p_value"] < 1e-10
    assert by.loc["batch_size", "p_value"] < 0.01
    assert by.loc["noise_param", "p_value"] > 0.05
    # lr's effect was generated as 1.0 per SD of log10(lr); batch size 0.3 per SD of log2 size.
    assert by.loc["lr", "ci_low"] < 1.0 < by.loc["lr", "ci_high"]
    assert 0.1 < by.loc["batch_size", "coef"] < 0.5
    assert res.r2 > 0.7 and res.n == len(prep.y) and not res.warnings
    assert by.loc["optimizer=sgd", "reference"] == "adam" or by.loc["optimizer=adam", "reference"] == "sgd"


def _formula_fit(prep, robust=False):
    df = pd.DataFrame({"y": prep.y.to_numpy()})
    for p in prep.numeric:
        v = prep.X[p]
        df[f"z_{p}"] = (v - v.mean()) / v.std(ddof=1)
    counts = prep.runs["optimizer"].value_counts().sort_index()
    ref = counts.idxmax()  # ties: the first level in sorted order, as fit_linear does
    df["optimizer"] = prep.runs["optimizer"].to_numpy()
    fit = smf.ols(f"y ~ z_lr + z_batch_size + z_noise_param + C(optimizer, Treatment('{ref}'))",
                  data=df).fit(cov_type="HC3" if robust else "nonrobust")
    other = "sgd" if ref == "adam" else "adam"
    names = {"z_lr": "lr", "z_batch_size": "batch_size", "z_noise_param": "noise_param",
             f"C(optimizer, Treatment('{ref}'))[T.{other}]": f"optimizer={other}"}
    return fit, names


@pytest.mark.parametrize("robust", [False, True])
def test_matches_statsmodels_formula_api(prep, robust):
    res = fit_linear(prep, robust=robust)
    fit, names = _formula_fit(prep, robust)
    by = res.table.set_index("term")
    for formula_name, term in names.items():
        assert_allclose(by.loc[term, "coef"], fit.params[formula_name], rtol=1e-9)
        assert_allclose(by.loc[term, "std_err"], fit.bse[formula_name], rtol=1e-9)
        assert_allclose(by.loc[term, "p_value"], fit.pvalues[formula_name], rtol=1e-6, atol=1e-300)
        assert_allclose(by.loc[term, ["ci_low", "ci_high"]].to_numpy(dtype=float),
                        fit.conf_int().loc[formula_name].to_numpy(), rtol=1e-9)
    assert_allclose(res.r2, fit.rsquared, rtol=1e-12)
    assert_allclose(res.r2_adj, fit.rsquared_adj, rtol=1e-12)
    assert_allclose(res.intercept, fit.params["Intercept"], rtol=1e-9)


def test_vif_matches_statsmodels(prep):
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    from sweepsight.analysis.linear import design
    import statsmodels.api as sm

    res = fit_linear(prep)
    Z = design(prep)[0][res.table["term"].tolist()]
    exog = sm.add_constant(Z.to_numpy())
    expected = [variance_inflation_factor(exog, i + 1) for i in range(Z.shape[1])]
    assert_allclose(res.table["vif"].to_numpy(), expected, rtol=1e-8)


def _table_from_columns(columns: dict, y: np.ndarray):
    frame = pd.DataFrame({f"params.{k}": v for k, v in columns.items()})
    frame["run_id"] = [f"r{i}" for i in range(len(y))]
    frame["metrics.loss"] = y
    return build_table(frame, source="csv")


def test_exactly_collinear_column_is_dropped_with_a_warning():
    rng = np.random.default_rng(0)
    n = 40
    a, b = rng.normal(size=n), rng.normal(size=n)
    table = _table_from_columns({"a": a, "b": b, "c": a + 2 * b}, 1 + a + rng.normal(0, .1, n))
    prep = prepare(table, target="loss")
    res = fit_linear(prep)
    assert "c" in res.dropped and "c" not in set(res.table["term"])
    assert any("collinear" in w and "c" in w for w in res.warnings)
    assert np.isfinite(res.table[["coef", "std_err", "p_value", "vif"]].to_numpy()).all()


def test_near_collinearity_warns_condition_number_and_vif():
    rng = np.random.default_rng(1)
    n = 60
    a = rng.normal(size=n)
    b = a + rng.normal(0, 0.01, n)
    table = _table_from_columns({"a": a, "b": b}, a + rng.normal(0, 1, n))
    res = fit_linear(prepare(table, target="loss"))
    assert res.condition_number > 30
    assert any("Condition number" in w for w in res.warnings)
    assert any("Variance inflation" in w for w in res.warnings)
    assert (res.table["vif"] > 10).all()


def test_too_few_runs_degrades_gracefully():
    rng = np.random.default_rng(2)
    n = 5
    cols = {f"p{i}": rng.normal(size=n) for i in range(6)}
    y = 3 * cols["p2"] + rng.normal(0, 0.1, n)
    res = fit_linear(prepare(_table_from_columns(cols, y), target="loss"))
    assert len(res.table) <= n - 2
    assert "p2" in set(res.table["term"])
    assert any("Only 5 runs" in w for w in res.warnings)
    assert np.isfinite(res.table[["coef", "std_err", "ci_low", "ci_high", "p_value", "vif"]]
                       .to_numpy(dtype=float)).all()
    assert np.isfinite([res.r2, res.r2_adj, res.condition_number]).all()


def test_exact_fit_and_constant_target_give_finite_numbers():
    x = np.arange(6.0)
    exact = fit_linear(prepare(_table_from_columns({"x": x}, 2 * x + 1), target="loss"))
    assert_allclose(exact.table["coef"].iloc[0], 2 * x.std(ddof=1))
    assert any("exactly" in w for w in exact.warnings)
    # prepare() refuses a constant target; the fit still copes with one given by hand
    varied = prepare(_table_from_columns({"x": x}, x ** 2 + 1), target="loss")
    flat_prep = type(varied)(**{**varied.__dict__, "runs": varied.runs.assign(y=1.0, y_raw=1.0)})
    flat = fit_linear(flat_prep)
    assert flat.r2 == 0 and any("same in every run" in w for w in flat.warnings)
    for res in (exact, flat):
        assert np.isfinite(res.table[["coef", "std_err", "p_value"]].to_numpy(dtype=float)).all()


@pytest.mark.parametrize("tiny", [2.2e-308, 1e-300, 1e300])
def test_extreme_metric_magnitudes_give_finite_results(tiny):
    # Found by hypothesis: a subnormal spread made statsmodels' R² 0/0.
    rng = np.random.default_rng(7)
    x = rng.normal(size=8)
    y = np.where(np.arange(8) == 7, tiny, 0.0) if tiny < 1 else tiny * (1 + 0.1 * x)
    res = fit_linear(prepare(_table_from_columns({"x": x}, y), target="loss", metric_scale="raw"))
    assert np.isfinite(res.table[["coef", "std_err", "ci_low", "ci_high", "p_value"]]
                       .to_numpy(dtype=float)).all()
    assert np.isfinite([res.r2, res.r2_adj, res.intercept]).all()
    if tiny > 1:
        assert res.table["coef"].iloc[0] == pytest.approx(0.1 * tiny * x.std(ddof=1), rel=1e-9)


@pytest.mark.parametrize("block", [1, 7, 128])
def test_collinearity_check_matches_one_least_squares_per_column(block):
    """The blocked Cholesky keeps exactly the columns that a least-squares fit of each column on
    the intercept and the kept columns before it leaves a residual share > COLLINEAR_TOL."""
    from sweepsight.analysis.linear import COLLINEAR_TOL, _centered_gram, _independent

    rng = np.random.default_rng(3)
    Z = rng.integers(0, 3, size=(40, 30)).astype(float)
    Z[:, 4] = 2 * Z[:, 1] - Z[:, 2] + 1  # combinations of earlier columns (+ intercept)
    Z[:, 9] = Z[:, 4] + Z[:, 7]
    Z[:, 12] = 5.0  # constant
    Z[:, 20] = rng.integers(0, 3, size=40) * 1e-3  # tiny scale, still independent
    Z = np.hstack([Z, rng.normal(size=(40, 25))])  # 55 columns on 40 runs: rank-deficient
    G = _centered_gram(Z)
    expected = []
    for j in range(G.shape[0]):
        if G[j, j] <= 0:
            continue
        coef = np.linalg.lstsq(G[np.ix_(expected, expected)], G[expected, j], rcond=None)[0]
        if (G[j, j] - G[expected, j] @ coef) / G[j, j] > COLLINEAR_TOL:
            expected.append(j)
    kept = _independent(G, block=block)
    assert kept == expected
    assert {4, 9, 12}.isdisjoint(kept) and 20 in kept
    assert len(kept) == 39  # 40 runs less the intercept
