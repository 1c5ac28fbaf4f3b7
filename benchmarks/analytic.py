"""Importance and the best configuration on analytic optuna studies, against Optuna's own.

``python -m benchmarks --analytic [--trials 300 --seeds 3]``: every family of
tests/analytic_studies.py, sampled by real TPE and random samplers, one run per trial. Per
method (our main effects over the searched space, our PED-ANOVA lens, Optuna's fANOVA and
PED-ANOVA on the same trials): how often its top hyperparameter is the true one, its mean
Spearman with the exact shares (the pure-interaction family, with three exact zeros, counts
for top-1 only) and its seconds. Then how often the configuration called best (by our
estimate from all runs, and the best observed run) is truly within the top 1% of the space.
Writes ``analytic.json`` and ``analytic.md`` in ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from scipy import stats

METHODS = ("main_effects", "ped_anova", "optuna fANOVA", "optuna PED-ANOVA")


def optuna_shares(frame: pd.DataFrame, fn, evaluator: str) -> tuple[dict, float]:
    import optuna
    from optuna.distributions import IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {p: IntDistribution(0, k - 1) for p, k in fn.levels.items()}
    study = optuna.create_study()
    study.add_trials([optuna.trial.create_trial(
        params={p: int(row[f"params.{p}"]) for p in fn.levels}, distributions=dists,
        value=float(row["metrics.loss"])) for _, row in frame.iterrows()])
    ev = (optuna.importance.FanovaImportanceEvaluator(seed=0) if evaluator == "fanova" else
          optuna.importance.PedAnovaImportanceEvaluator())
    start = time.perf_counter()
    out = optuna.importance.get_param_importances(study, evaluator=ev)
    return dict(out), time.perf_counter() - start


def one_study(fam: str, sampler: str, seed: int, trials: int, tmp: Path) -> list[dict]:
    from sweepsight.analysis import synthetic as S
    from sweepsight.analysis.importance import get_param_importances
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.shrinkage import estimate_best
    from tests import analytic_studies as A

    fn = A.FAMILIES[fam]()
    truth = fn.shares()
    frame = A.sample_study(fn, sampler=sampler, n_trials=trials, seed=seed)
    prep = prepare(S.load_via_csv(frame, tmp / "study.csv"), target="loss")
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        if method.startswith("optuna"):
            imp, secs = optuna_shares(frame, fn, "fanova" if "fANOVA" in method else "ped")
        else:
            t = get_param_importances(prep, evaluator=method, n_jobs=1).table
            secs = time.perf_counter() - start
            imp = dict(zip(t["param"], t["share" if "share" in t else "importance"]))
        vals = [float(imp.get(p, 0.0)) for p in truth]
        rho = (float(stats.spearmanr(vals, [truth[p] for p in truth])[0])
               if fam != "interaction" else float("nan"))
        rows.append({"family": fam, "sampler": sampler, "seed": seed, "method": method,
                     "top1": max(imp, key=imp.get) == max(truth, key=truth.get),
                     "rho": rho, "seconds": secs})
    est = estimate_best(prep)
    for who, label in (("best by estimate", est.best.label),
                       ("best observed", est.observed_best.label)):
        cfg = pd.DataFrame([dict(kv.split("=") for kv in label.split(", "))])
        q = fn.quantile_of(float(fn.true_values(cfg)[0]))
        rows.append({"family": fam, "sampler": sampler, "seed": seed, "method": who,
                     "in_top1pct": q < 0.01, "better_share": q})
    return rows


def main(argv: list[str] | None = None, *, out: Path | None = None) -> str:
    import tempfile

    from tests import analytic_studies as A

    parser = argparse.ArgumentParser(prog="python -m benchmarks --analytic")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv or [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fam in A.FAMILIES:
            for sampler in ("tpe", "random"):
                for seed in range(args.seeds):
                    print(f"[bench] analytic {fam} {sampler} seed {seed} ...", flush=True)
                    rows += one_study(fam, sampler, seed, args.trials, Path(tmp))
    r = pd.DataFrame(rows)
    imp = r[r["method"].isin(METHODS)]
    table = imp.groupby(["sampler", "method"]).agg(top1=("top1", "mean"), rho=("rho", "mean"),
                                                    seconds=("seconds", "mean"))
    best = r[~r["method"].isin(METHODS)].groupby(["sampler", "method"]).agg(
        in_top1pct=("in_top1pct", "mean"), better_share=("better_share", "mean"))
    md = "\n".join([
        f"Analytic optuna studies: {len(A.FAMILIES)} families x TPE and random x "
        f"{args.seeds} seeds, {args.trials} trials each.", "",
        "| sampler | method | top-1 rate | mean Spearman vs exact shares | seconds |",
        "|---|---|---:|---:|---:|"] + [
        f"| {s} | {m} | {v.top1:.2f} | {v.rho:.2f} | {v.seconds:.2f} |"
        for (s, m), v in table.iterrows()] + [
        "", "| sampler | configuration called best | truly in the top 1% | mean share of the "
        "space better |", "|---|---|---:|---:|"] + [
        f"| {s} | {m} | {v.in_top1pct:.2f} | {v.better_share:.3f} |"
        for (s, m), v in best.iterrows()])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "analytic.json").write_text(json.dumps(rows, indent=1, default=float))
        (out / "analytic.md").write_text(md + "\n")
    print(md)
    return md


if __name__ == "__main__":
    main()
