"""Sweeps as optimizers run them, against an exact truth: analytic functions on level grids
(tests/analytic_studies.py) sampled by real optuna TPE and random samplers, one run per trial,
read through the CSV adapter (one study through a real MLflow store) and analysed whole."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweepsight.analysis import analyse
from sweepsight.analysis import findings as F
from sweepsight.analysis import synthetic as S
from sweepsight.reports import text
from sweepsight.reports.summary import summary_markdown
from tests import analytic_studies as A

pytest.importorskip("optuna")

#: (family, sampler, trials): each study is sampled once for the module
STUDIES = [("additive", "random", 300), ("ishigami", "tpe", 300),
           ("ishigami", "random", 300), ("interaction", "random", 300),
           ("sobol_g", "random", 300)]


#: this study goes through a real MLflow store (sqlite), the others through CSV files
MLFLOW_STUDY = ("additive", "tpe", 150)


def via_mlflow(frame: pd.DataFrame, folder):
    """The trials logged as MLflow runs (params and the loss, start times in trial order) and
    read back through the MLflow adapter."""
    from sweepsight import adapters
    from tests.mlflow_helpers import T0, client_for, fast_dir, log_run

    with fast_dir(folder) as where:
        uri = f"sqlite:///{where / 'mlflow.db'}"
        client = client_for(uri)
        eid = client.create_experiment("study")
        params = [c for c in frame if c.startswith("params.")]
        for i in range(len(frame)):
            log_run(client, eid, name=f"trial {i}", start=T0 + i * 1000,
                    config={c[len("params."):]: int(frame.at[i, c]) for c in params},
                    history=[{"loss": float(frame.at[i, "metrics.loss"])}])
        return adapters.load("mlflow", {"tracking_uri": uri, "experiment": ["study"]})


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    out = {}
    folder = tmp_path_factory.mktemp("studies")
    for fam, sampler, n in STUDIES + [MLFLOW_STUDY]:
        fn = A.FAMILIES[fam]()
        frame = A.sample_study(fn, sampler=sampler, n_trials=n, seed=0)
        if (fam, sampler, n) == MLFLOW_STUDY:
            table = via_mlflow(frame, folder)
            assert table.meta.source == "mlflow" and len(table.frame) == n
        else:
            table = S.load_via_csv(frame, folder / f"{fam}-{sampler}.csv")
        out[fam, sampler] = (fn, analyse(table, target="loss", n_jobs=1))
    return out


def test_the_steering_finding_appears_for_tpe_and_not_for_random_search(studies):
    for (fam, sampler), (fn, a) in studies.items():
        st = a.steering
        kinds = [f.kind for f in F.findings(a)]
        assert st.steered == (sampler == "tpe") == (F.Kind.STEERED in kinds), (fam, sampler)
        if sampler == "tpe":
            assert st.concentrated and (st.improving or st.associated)
            words = text.findings_lines(a)[kinds.index(F.Kind.STEERED)]
            assert "The sweep was steered" in words and "conditional on where it looked" in words
            assert "unexplored may hold better values" in words
        else:
            assert not st.concentrated  # an even design is not lumpy beyond chance


def _config(label: str) -> pd.DataFrame:
    return pd.DataFrame([dict(kv.split("=") for kv in label.split(", "))])


def regret(fn: A.Analytic, label: str) -> tuple[float, float]:
    """How far a configuration's true loss is from the optimum: the share of the space that is
    strictly better, and the gap as a share of the function's range."""
    v = fn.grid()["value"].to_numpy()
    true = float(fn.true_values(_config(label))[0])
    return fn.quantile_of(true), (true - v.min()) / (v.max() - v.min())


def test_the_best_by_estimate_is_truly_near_the_optimum(studies):
    for (fam, sampler), (fn, a) in studies.items():
        est = a.best_estimate
        share, gap = regret(fn, est.best.label)
        print(fam, sampler, f"better share {share:.3f}, gap {gap:.3f}")
        assert share <= 0.07 and gap <= 0.05, (fam, sampler, share, gap)
        # the estimate pulls a lucky single run back toward the others' prediction
        if est.differ and est.observed_best.n == 1:
            o = est.observed_best
            assert abs(o.estimate - o.prediction) < abs(o.observed - o.prediction)


def test_a_one_run_winner_always_carries_its_warning_and_its_rerun_plan(studies):
    seen = 0
    for (fam, sampler), (fn, a) in studies.items():
        est = a.best_estimate
        found = F.findings(a)
        kinds = [f.kind for f in found]
        if est.observed_best.n != 1:
            continue
        seen += 1
        assert est.one_run and est.lucky and F.Kind.BEST_ESTIMATE in kinds, (fam, sampler)
        words = text.findings_lines(a)[kinds.index(F.Kind.BEST_ESTIMATE)]
        assert "rests on one run" in words and "luck" in words
        assert F.Kind.RERUN_CANDIDATES in kinds
        plan = est.candidates
        assert plan[0] == est.best and len(plan) >= 2
        assert est.seeds is not None and (est.capped or est.seeds >= 2)
        md = summary_markdown(a, title="t")
        assert "rests on one run" in md and "Worth rerunning to settle the best" in md
        assert "best configuration by estimate (all runs)" in md
    assert seen >= 3  # random search's winners rest on one run


def test_every_configuration_run_once_still_flags_the_winner():
    """A continuous random search: no configuration repeats, no neighbour can be tested; the
    noise comes from nearest configurations and the winner's warning still fires."""
    frame = S.make_frame({"lr": S.LogUniform(1e-4, 1e-1), "wd": S.Uniform(0, 1),
                          "act": S.Choice(["relu", "tanh"])},
                         effects={"lr": 1.0, "act": {"tanh": 0.3}}, n_configs=150, seeds=1,
                         noise=0.3, random_state=5)
    a = analyse(_table(frame), target="loss", n_jobs=1)
    est = a.best_estimate
    assert (est.table["n"] == 1).all() and est.noise_from == "neighbours"
    assert 0.15 < est.noise_sd < 0.6  # the true noise is 0.3
    assert est.one_run and est.lucky
    kinds = [f.kind for f in F.findings(a)]
    assert F.Kind.BEST_ESTIMATE in kinds and F.Kind.RERUN_CANDIDATES in kinds
    assert a.significance.approximate  # its neighbours are bins, not configurations


def _table(frame):
    from sweepsight.adapters.schema import build_table

    return build_table(frame, source="csv", where="synthetic sweep")


def test_the_intervals_cover_the_true_means(studies):
    """Posterior intervals of the configurations' true means: most cover the truth."""
    for key in (("additive", "random"), ("ishigami", "random")):
        fn, a = studies[key]
        t = a.best_estimate.table
        cfgs = pd.concat([_config(lab) for lab in t["label"]], ignore_index=True)
        true = fn.true_values(cfgs)
        covered = (t["ci_low_raw"] <= true) & (true <= t["ci_high_raw"])
        assert covered.mean() >= 0.8, (key, covered.mean())


def test_estimates_use_the_noise_of_repeated_configurations():
    """On a repeated grid the noise is the pooled within-configuration spread, exactly."""
    table = S.make_table({"a": S.Choice([0, 1, 2]), "b": S.Choice(["x", "y"])},
                         effects={"a": 1.0}, grid=True, seeds=3, noise=0.2, random_state=2)
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.shrinkage import estimate_best

    prep = prepare(table, target="loss")
    est = estimate_best(prep)
    runs = prep.runs.assign(cfg=prep.runs["a"].astype(str) + prep.runs["b"].astype(str))
    pooled = runs.groupby("cfg")["y"].var(ddof=1).mean()  # equal runs per configuration
    assert est.noise_from == "repeats" and est.noise_df == 12
    assert est.noise_sd == pytest.approx(np.sqrt(pooled))
    t = est.table
    w = t["weight"].to_numpy()
    np.testing.assert_allclose(t["estimate"], t["prediction"] + w * (t["observed"]
                                                                      - t["prediction"]))
    assert ((w > 0) & (w <= 1)).all()
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(t["ci_high"] - t["estimate"], z * np.sqrt(w * est.noise_sd ** 2 / 3))


def bad_region() -> A.Analytic:
    """An accuracy (as minus a loss) that collapses in one corner of the space (a = 0, b <= 1),
    which TPE visits a few times early and then leaves."""
    def f(v):
        return -(0.9 - 0.01 * v["b"] - 0.6 * ((v["a"] == 0) & (v["b"] <= 1)) + 0.005 * v["c"])
    return A.Analytic("bad_region", {"a": 6, "b": 5, "c": 4}, f, 0.01)


def test_a_steered_sweeps_bad_region_is_not_read_as_divergence(tmp_path):
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.scale import OWN_LIMIT, ScaleReason

    frame = A.sample_study(bad_region(), sampler="tpe", n_trials=300, seed=0)
    frame["metrics.acc"] = -frame.pop("metrics.loss")
    prep = prepare(S.load_via_csv(frame, tmp_path / "tpe.csv"), target="acc")
    choice = prep.scale
    # a few runs own the variance, but their hyperparameters explain them: no ranks
    assert choice.top_share > OWN_LIMIT and choice.residual_share <= OWN_LIMIT
    assert choice.reason is ScaleReason.EXPLAINED and prep.metric_scale == "raw"
    assert "their hyperparameters explain them" in prep.scale_reason
    assert "did not diverge" in prep.scale_reason
    # the same sweep with three runs that truly diverged (wherever they were): ranks
    runs = frame.index[[50, 150, 250]]
    frame.loc[runs, "metrics.acc"] = 0.05
    frame.loc[(frame["params.a"] == 0) & (frame["params.b"] <= 1), "metrics.acc"] += 0.6
    prep = prepare(S.load_via_csv(frame, tmp_path / "diverged.csv"), target="acc")
    assert prep.metric_scale == "rank" and prep.scale.reason is ScaleReason.OWNED_RAW
    assert prep.scale.residual_share > OWN_LIMIT
    assert sorted(prep.scale.extreme_runs) == sorted(frame.loc[runs, "run_id"])


def test_main_effects_over_the_searched_space_match_the_exact_shares(studies):
    """The surrogate's marginal curves average over the space (fANOVA), not where the sampler
    went: the top hyperparameter is right in every study, and the ranking agrees with the
    exact shares (Spearman; the pure-interaction family has three exact zeros, so only its top
    is checked)."""
    rhos = {}
    for (fam, sampler), (fn, a) in studies.items():
        truth = fn.shares()
        imp = a.importance
        share = imp.table.set_index("param")["share"]
        assert share.idxmax() == max(truth, key=truth.get), (fam, sampler, share.to_dict())
        assert any("over the searched space" in n for n in imp.notes)
        if fam != "interaction":
            rhos[fam, sampler] = stats.spearmanr([share[p] for p in truth],
                                                 [truth[p] for p in truth])[0]
    print({k: round(v, 2) for k, v in rhos.items()})
    assert np.mean(list(rhos.values())) >= 0.85 and min(rhos.values()) >= 0.6, rhos


def test_the_ped_anova_lens_finds_where_the_best_runs_sit(studies):
    """The second lens (registered evaluator ``ped_anova``): on random additive and Ishigami
    studies the hyperparameter that decides the best runs comes first, and one without any
    effect stays under its shuffled-metric floor. (On a TPE study the best runs all share the
    sampler's favourite levels of every knob, so this lens need not rank by main effect.)"""
    from sweepsight.analysis.importance import get_param_importances

    for key, dead in ((("additive", "random"), "d"), (("ishigami", "random"), "x4")):
        fn, a = studies[key]
        res = get_param_importances(a.prep, evaluator="ped_anova")
        t = res.table.set_index("param")
        assert res.method == "ped_anova" and res.table["param"].iloc[0] == max(
            fn.shares(), key=fn.shares().get), (key, t["importance"].to_dict())
        assert not t.loc[dead, "above_floor"], key
        assert abs(t["importance"].sum() - 1) < 1e-9  # normalised like every evaluator
