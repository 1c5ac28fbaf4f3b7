"""The next sweep: decisions, frontier, seeds and budget (analysis.next_sweep), its page,
summary.md section and next/ files, loaded by the trackers' own code (the ``sweeps`` package's
schema that ``wandb.sweep`` checks against, a real Optuna study), and its truth by simulation."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sweepsight.analysis import analyse
from sweepsight.analysis.next_sweep import Action, Part, Reason, plan_next
from sweepsight.analysis.synthetic import Choice, LogUniform, Uniform, make_table, standard_sweep
from sweepsight.reports import next_files, next_text

REPO = Path(__file__).resolve().parent.parent


def _tpe_table():
    """A sweep steered by Optuna's real TPE sampler (one run per trial)."""
    import optuna

    from sweepsight.adapters.schema import build_table

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        width = trial.suggest_int("width", 16, 256, log=True)
        opt = trial.suggest_categorical("optimizer", ["adam", "sgd"])
        return (math.log10(lr) + 3) ** 2 + 0.1 * (math.log2(width) - 6) ** 2 + (opt == "sgd") * 0.3

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=40)
    frame = pd.DataFrame({
        "run_id": [f"t{t.number}" for t in study.trials], "name": [f"trial-{t.number}" for t in study.trials],
        "state": "finished",
        **{f"params.{p}": [t.params[p] for t in study.trials] for p in ("lr", "width", "optimizer")},
        "metrics.loss": [t.value for t in study.trials]})
    return build_table(frame, source="csv", where="optuna TPE")


def _tables():
    from sweepsight import adapters

    grid = make_table({"lr": LogUniform(1e-4, 1e-2), "optimizer": Choice(["adam", "sgd"]),
                       "noise_param": Choice([0.0, 0.5, 1.0])},
                      effects={"lr": -1.0, "optimizer": {"sgd": 0.3}}, grid=True, grid_points=3,
                      seeds=3, noise=0.1, random_state=1)
    cond = make_table({"optimizer": Choice(["adam", "sgd"]), "momentum": Uniform(0.0, 0.9),
                       "lr": LogUniform(1e-4, 1e-1)},
                      effects={"lr": 1.0, "momentum": 0.3}, conditional={"momentum": ("optimizer", {"sgd"})},
                      n_configs=30, seeds=2, noise=0.2, random_state=2)
    fidelity = make_table({"lr": LogUniform(1e-4, 1e-1), "width": Choice([32, 64, 128], log=True)},
                          effects={"lr": 1.0, "width": 0.3}, grid=True, grid_points=4, seeds=2,
                          budgets=[1, 3, 9], noise=0.1, random_state=3)
    return {
        "example": (adapters.load("csv", {"path": str(REPO / "examples" / "digits_sweep.csv")}), "val_acc"),
        "grid": (grid, "loss"),
        "random": (make_table(**standard_sweep(n_configs=30, seeds=2)), "loss"),
        "tpe": (_tpe_table(), "loss"),
        "conditional": (cond, "loss"),
        "multi-fidelity": (fidelity, "loss"),
    }


@pytest.fixture(scope="module")
def analyses():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: analyse(table, target=target, n_jobs=1)
                for name, (table, target) in _tables().items()}


KINDS = ["example", "grid", "random", "tpe", "conditional", "multi-fidelity"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_files_load_in_wandb_sweeps_and_a_real_optuna_study(analyses, kind, tmp_path):
    import optuna
    import sweeps

    plan = plan_next(analyses[kind])
    wandb_path, optuna_path, csv_path = next_files.write_next(plan, tmp_path)
    assert [p.parent.name for p in (wandb_path, optuna_path, csv_path)] == ["next"] * 3
    text = wandb_path.read_text()
    assert "a suggestion, not a result" in text
    config = yaml.safe_load(text)
    assert sweeps.schema_violations_from_proposed_config(config) == []
    sweeps.SweepConfig(config)  # raises on a config wandb.sweep would refuse
    assert config["method"] == plan.method
    assert config["metric"] == {"name": plan.target, "goal": plan.direction}
    assert set(d.param for d in plan.decisions) <= set(config["parameters"])

    space = json.loads(optuna_path.read_text())
    dists = {name: optuna.distributions.json_to_distribution(json.dumps(d))
             for name, d in space["distributions"].items()}
    study = optuna.create_study(direction=space["direction"])
    for entry in space["enqueue"]:
        study.enqueue_trial(entry["params"])

    def objective(trial):  # parents first; a conditional one only where its parent allows
        for name in sorted(dists, key=lambda n: n in space["conditions"]):
            cond = space["conditions"].get(name)
            parent = trial.params.get(cond["parent"], space["fixed"].get(cond["parent"])) \
                if cond else None
            if cond is None or parent in cond["active_values"]:
                trial._suggest(name, dists[name])
        return 0.0

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=len(space["enqueue"]) or 1)
    for trial, entry in zip(study.trials, space["enqueue"]):
        assert trial.params == pytest.approx(entry["params"]), (kind, entry)
    assert len(space["enqueue"]) == len(plan.frontier)

    configs = pd.read_csv(csv_path)
    assert len(configs) == len(plan.configs)
    assert int(configs["runs"].sum()) == plan.used <= plan.budget
    parts = list(configs["part"])
    assert parts == sorted(parts, key=["frontier", "seeds", "design"].index)  # frontier first


@pytest.mark.parametrize("kind", KINDS)
def test_the_page_and_the_summary_section(analyses, kind, tmp_path):
    from sweepsight.reports import build
    from sweepsight.reports.summary import summary_markdown

    a = analyses[kind]
    a.next_sweep = plan_next(a)
    path = tmp_path / "analysis.pkl"
    build._IN_MEMORY[path.resolve()] = a
    try:
        build.execute(build.TEMPLATES / "next.ipynb", tmp_path / "next.ipynb",
                      {"analysis_path": str(path)}, cwd=tmp_path)
    finally:
        build._IN_MEMORY.pop(path.resolve(), None)
    nb = json.loads((tmp_path / "next.ipynb").read_text())
    page = "\n".join("".join(data) if isinstance(data, list) else str(data)
                     for cell in nb["cells"] for out in cell.get("outputs", [])
                     for data in out.get("data", {}).values())
    assert "a suggestion, not a result" in page
    for anchor in (next_text.DECISIONS, next_text.FRONTIER, next_text.SEEDS, next_text.FILES):
        assert f'id="{anchor}"' in page
    for d in a.next_sweep.decisions:  # each decision, its name in bold, then its action
        assert f"<strong>{d.param}</strong>: {next_text.ACTION_WORDS[d.action]}" in page
    summary = summary_markdown(a, title="t")
    section = summary.split("## Next sweep")[1].split("\n## ")[0].strip().splitlines()
    assert 3 <= len(section) + 1 <= 15
    assert "next.html#next-decisions" in "\n".join(section)
    assert "next/wandb-sweep.yaml" in "\n".join(section)


def test_extend_follows_a_trend_past_the_edge_on_the_log_spacing_and_stops_at_bounds(analyses):
    a = analyses["grid"]  # loss falls with log10(lr) (effect -1): the best lr is the highest
    d = plan_next(a).get("lr")
    assert d.action is Action.EXTEND and d.direction == "up"
    tried = np.log10(np.array(d.tried, dtype=float))
    new = np.log10(np.array([v for v in d.values if v > max(d.tried)], dtype=float))
    assert len(new) == 2 and np.allclose(np.diff(np.r_[tried[-1], new]), tried[-1] - tried[-2])
    assert "extend upward" in next_text.decision_sentence(d)
    stopped = plan_next(a, bounds={"lr": (1e-5, max(d.tried))}).get("lr")
    assert stopped.action is not Action.EXTEND and stopped.bounded
    assert max(stopped.values) <= max(d.tried)
    half = plan_next(a, bounds={"lr": (1e-5, 0.02)}).get("lr")
    assert half.action is Action.EXTEND and max(half.values) == 0.02 and half.bounded
    with pytest.raises(Exception, match="not an analysed hyperparameter"):
        plan_next(a, bounds={"nope": (0, 1)})


def test_a_flat_hyperparameter_is_frozen_or_needs_seeds_never_narrowed(analyses):
    d = plan_next(analyses["grid"]).get("noise_param")
    assert d.action in (Action.FREEZE, Action.NEEDS_SEEDS)
    if d.action is Action.FREEZE:
        assert len(d.values) == 1 and d.finding.value == "flat within noise"


def test_conditional_keeps_its_condition_and_multi_fidelity_its_budget(analyses):
    plan = plan_next(analyses["conditional"])
    d = plan.get("momentum")
    assert d.condition is not None and d.condition.parent == "optimizer"
    assert "conditional" in next_text.decision_sentence(d)
    for c in plan.configs:
        v = c.as_dict
        if v["optimizer"] == "adam":
            assert v["momentum"] is None
    space = next_files.optuna_space(plan)
    assert space["conditions"]["momentum"]["parent"] == "optimizer"
    fid = plan_next(analyses["multi-fidelity"])
    assert fid.fixed == (("epochs", 9.0),)
    assert next_files.wandb_config(fid)["parameters"]["epochs"] == {"value": 9}


def test_a_steered_one_run_sweep_says_unexplored_regions_were_not_measured(analyses):
    plan = plan_next(analyses["tpe"])
    assert plan.one_run and plan.unmeasured
    assert "were not measured" in next_text.honesty(plan)
    assert plan.seeds_all and all(s.have == 1 for s in plan.seeds_all)


def test_the_budget_fills_frontier_then_seeds_then_design(analyses):
    a = analyses["example"]
    full = plan_next(a)
    assert full.budget == len(a.prep.runs) and full.used <= full.budget
    assert all(f.reason in (Reason.EXTEND, Reason.UNRUN) for f in full.frontier)
    assert [f.priority for f in full.frontier] == sorted(f.priority for f in full.frontier)
    small = plan_next(a, budget=2 * full.seeds_per_config)
    assert [c.part for c in small.configs] == [Part.FRONTIER, Part.FRONTIER]
    assert small.configs == full.frontier[:2]
    mid = plan_next(a, budget=sum(f.seeds for f in full.frontier_all) + 10)
    assert mid.frontier == full.frontier_all and sum(s.seeds for s in mid.seeds) == 10
    assert mid.seeds_capped and not mid.design


def test_malformed_or_unknown_bounds_are_one_line_and_exit_2(capsys, tmp_path):
    from sweepsight.reports.cli import main

    assert main(["--bounds", "lr", "--out", str(tmp_path / "s")]) == 2
    assert "NAME=LOW:HIGH" in capsys.readouterr().err
    code = main(["--source", "csv", "--path", str(REPO / "examples" / "digits_sweep.csv"),
                 "--target", "val_acc",
                 "--bounds", "nope=0:1", "--check", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1
    assert main(["--next-budget", "0", "--out", str(tmp_path / "s")]) == 2


def test_truth_by_simulation_next_beats_a_rerun_never_freezes_a_real_effect_and_extends():
    from benchmarks import next_truth

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [next_truth.measure(case, 3) for case in next_truth.CASES.values()]
    wins = sum(r["next_beats"] * r["reps"] for r in results)
    reruns = sum(r["rerun_beats"] * r["reps"] for r in results)
    assert wins > reruns, results
    assert all(r["bad_freezes"] == 0 for r in results)
    edge = next(r for r in results if r["extend_seen"] is not None)
    assert edge["extend_seen"] == 1.0


def test_the_chart_puts_an_extension_past_the_tried_range(analyses):
    from sweepsight.reports.charts.next_sweep import _next_sweep_data, next_sweep_chart

    plan = plan_next(analyses["grid"])
    data = _next_sweep_data(plan)
    lr = data[data["param"] == "lr"]
    assert lr[lr["kind"] == "tried"]["lo"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert lr[lr["kind"] == "next"]["lo"].max() == pytest.approx(2.0)  # two steps of 0.5 past 1
    assert next_sweep_chart(plan).to_dict()["layer"]
