"""The speed goals (issue 15) and the wide case (issue 19), side by side in one run.

``python -m benchmarks.goals [--only NAME,...] [--no-report] [--out DIR]`` runs each case in a
fresh process (so its peak RSS is its own) and prints one table:

* ``example``: the bundled example's whole report (``python -m reports`` on
  ``examples/digits_sweep.csv``, nbconvert renderer, environments built); goal <= 15 s.
* ``ratio_10k``: :func:`analysis.analyse` on 10,000 runs x 10 hyperparameters against one
  ``ExtraTreesRegressor(n_estimators=250, random_state=0).fit`` on the same encoded data (the
  reference practice, single-threaded as written); goal: ratio <= 3.
* ``main_effects_30``: main-effect importance at 10,000 runs with 30 one-hot columns; <= 5 s.
* ``wide``: the whole analysis of 2,000 runs x 1,000 hyperparameters; minutes, < 2 GB.
* ``grid_250k``: the analyses of a full grid of 62,208 configurations x 4 seeds x 9
  hyperparameters (a third categorical), stage by stage in one process, then its whole report
  (``python -m reports --renderer nbconvert``, :func:`benchmarks.__main__.run_report`: wall
  and CPU seconds, peak RSS of the build's process tree summed); goals: the
  report <= 60 s and <= 1.2 GB, significance <= 10 s (``--no-report`` skips the report).
* ``grid_1m``: the largest sweeps one machine holds: a full grid of 245,760 configurations x 4
  seeds = 983,040 runs x 9 hyperparameters, analyses then whole report; goal <= 120 s, <= 2.5 GB.
* ``random_20k``: a random search, 20,000 trials (one run each, every trial its own
  configuration) x 50 hyperparameters (uniform, log-uniform and categorical), analyses then
  whole report; goal <= 60 s, <= 1.5 GB.

Wall and CPU seconds (all threads) are both given: the machine may be shared, and CPU time is
less affected by other jobs than wall time. The load average is recorded for each case.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ["example", "ratio_10k", "main_effects_30", "wide", "grid_250k", "grid_1m",
         "random_20k"]
REPORTED = {"grid_250k", "grid_1m", "random_20k"}  # cases that also build the whole report
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_sweep.csv"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start) -> dict:
    wall, cpu = start
    return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}


def _load(csv: Path):
    from sweepsight import adapters

    return adapters.load("csv", {"path": str(csv)})


def _analyse(table) -> dict:
    from sweepsight.analysis import analyse

    stages: dict = {}
    last = [_clock()]

    def progress(stage, seconds):
        stages[stage] = {**_since(last[0]), "peak_mb": _peak_mb()}
        last[0] = _clock()

    start = _clock()
    analyse(table, target="val_loss", progress=progress)
    return {"analyse": {**_since(start), "peak_mb": _peak_mb()}, "stages": stages}


def worker(case: str, csv: Path) -> dict:
    """Run one case in this process; returns its numbers."""
    out: dict = {"case": case, "load_average_before": os.getloadavg()}
    start = _clock()
    table = _load(csv)
    out["load"] = _since(start)
    if case == "ratio_10k":
        from sklearn.ensemble import ExtraTreesRegressor

        from sweepsight.analysis.prepare import prepare

        prep = prepare(table, target="val_loss")
        X, y = prep.X.to_numpy(dtype=float), prep.y.to_numpy(dtype=float)
        out["shape"] = list(X.shape)
        start = _clock()
        ExtraTreesRegressor(n_estimators=250, random_state=0).fit(X, y)
        out["one_forest"] = _since(start)
        out.update(_analyse(table))
        out["ratio"] = out["analyse"]["seconds"] / out["one_forest"]["seconds"]
        out["cpu_ratio"] = out["analyse"]["cpu_seconds"] / out["one_forest"]["cpu_seconds"]
    elif case == "main_effects_30":
        from sweepsight.analysis.importance import get_param_importances
        from sweepsight.analysis.prepare import prepare

        prep = prepare(table, target="val_loss")
        out["shape"] = list(prep.X.shape)
        out["one_hot_columns"] = sum(1 for c in prep.X.columns
                                     if prep.feature_param[c] in prep.categorical)
        start = _clock()
        res = get_param_importances(prep, n_jobs=-1)
        out["main_effects"] = _since(start)
        out["method"] = res.method
        out["above_floor"] = res.table.loc[res.table["above_floor"].fillna(False).astype(bool),
                                           "param"].tolist()
    else:
        out.update(_analyse(table))
    out["peak_mb"] = _peak_mb()
    out["load_average_after"] = os.getloadavg()
    return out


def make_csv(case: str, tmp: Path) -> Path:
    from benchmarks.sweeps import make_grid_sweep, make_random_sweep, make_sweep

    frame = {"ratio_10k": lambda: make_sweep(10_000, 10),
             "main_effects_30": lambda: make_sweep(10_000, 10, cat_levels=10),
             "wide": lambda: make_sweep(2_000, 1_000),
             "grid_250k": make_grid_sweep,
             "grid_1m": lambda: make_grid_sweep((4, 4, 4, 4, 4, 4, 4, 5, 3)),
             "random_20k": make_random_sweep}[case]()
    path = tmp / f"{case}.csv"
    frame.to_csv(path, index=False)
    return path


def run_case(case: str, csv: Path) -> dict:
    proc = subprocess.run([sys.executable, "-W", "ignore", "-m", "benchmarks.goals",
                           "--worker", case, str(csv)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"case": case, "error": proc.stderr.strip().splitlines()[-3:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def to_markdown(rows: list[dict]) -> str:
    lines = ["| case | what is judged | wall s | CPU s | peak RSS MB | goal | load avg |",
             "|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        load = f"{r.get('load_average_before', [float('nan')])[0]:.1f}"
        if "error" in r:
            lines.append(f"| {r['case']} | error: {' '.join(r['error'])[-200:]} | | | | | {load} |")
            continue
        c = r["case"]
        if c == "example":
            rep = r["report"]
            if "error" in rep:
                lines.append(f"| example | error: {' '.join(rep['error'])[-200:]} | | | | | {load} |")
                continue
            st = rep.get("stages", {})
            per = ", ".join(f"{k} {st[k]:.1f}" for k in ("load", "analysis", "pages", "pairs",
                                                          "summary", "render", "report")
                            if k in st)
            lines.append(f"| the example (1,200 runs), whole report, nbconvert | {per} | "
                         f"**{rep['seconds']:.1f}** | {rep.get('cpu_seconds') or float('nan'):.1f} | "
                         f"{rep.get('tree_peak_rss_mb') or float('nan'):.0f} | <= 15 s | {load} |")
            continue
        if c == "ratio_10k":
            a, f = r["analyse"], r["one_forest"]
            lines.append(f"| 10k x 10 ({r['shape'][1]} columns) | analyse / one ExtraTrees(250) fit"
                         f" = {a['seconds']:.1f} / {f['seconds']:.1f} s = **{r['ratio']:.2f}x** "
                         f"(CPU {r['cpu_ratio']:.2f}x) | {a['seconds']:.1f} | "
                         f"{a['cpu_seconds']:.1f} | {r['peak_mb']:.0f} | <= 3x | {load} |")
        elif c == "main_effects_30":
            m = r["main_effects"]
            lines.append(f"| 10k x 10, {r['one_hot_columns']} one-hot columns | main effects "
                         f"({r['method']}) | **{m['seconds']:.1f}** | {m['cpu_seconds']:.1f} | "
                         f"{r['peak_mb']:.0f} | <= 5 s | {load} |")
        else:
            a = r["analyse"]
            name = {"wide": "2k runs x 1,000 params", "grid_250k": "250k grid (62,208 x 4 x 9)",
                    "grid_1m": "1M grid (245,760 x 4 x 9)",
                    "random_20k": "random search, 20k trials x 50"}[c]
            goal = {"wide": "minutes, < 2 GB", "grid_250k": "report <= 60 s, <= 1.2 GB",
                    "grid_1m": "report <= 120 s, <= 2.5 GB",
                    "random_20k": "report <= 60 s, <= 1.5 GB"}[c]
            per = ", ".join(f"{k} {v['seconds']:.1f}" for k, v in r["stages"].items())
            lines.append(f"| {name} | analyse ({per}) | **{a['seconds']:.1f}** | "
                         f"{a['cpu_seconds']:.1f} | **{r['peak_mb']:.0f}** | {goal} | {load} |")
        if "report" in r:
            lines.append(_report_row(r["report"], load, GOALS.get(c, GOALS["grid_250k"]),
                                     name.split(" (")[0].replace(", 20k trials x 50", "")))
    return "\n".join(lines) + "\n"


GOALS = {"grid_250k": "<= 60 s, <= 1.2 GB; significance <= 10 s",
         "grid_1m": "<= 120 s, <= 2.5 GB", "random_20k": "<= 60 s, <= 1.5 GB"}


def _report_row(rep: dict, load: str, goal: str = GOALS["grid_250k"], what: str = "250k grid") -> str:
    """The 250k grid's whole report: wall and CPU seconds of every process, the peak RSS of
    the process tree (the build process and any children, summed) and of its largest process,
    and the CLI's own stage times (the analysis stages among them)."""
    if "error" in rep:
        return f"| {what}, whole report | error: {' '.join(rep['error'])[-200:]} | | | | | {load} |"
    st = rep.get("stages", {})
    keys = ["load", "analysis", "analysis.significance", "pages", "pairs", "summary", "render",
            "report"]
    per = ", ".join(f"{k.replace('analysis.', '')} {st[k]:.1f}" for k in keys if k in st)
    nan = float("nan")
    return (f"| {what}, whole report (`python -m reports`, nbconvert) | {per} | "
            f"**{rep.get('seconds', nan):.1f}** | {rep.get('cpu_seconds') or nan:.1f} | "
            f"**{rep.get('tree_peak_rss_mb') or nan:.0f}** (largest process "
            f"{rep.get('peak_rss_mb') or nan:.0f}) | {goal} | {load} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.goals")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "CSV"), help=argparse.SUPPRESS)
    parser.add_argument("--only", default=",".join(CASES), help=f"subset of {','.join(CASES)}")
    parser.add_argument("--report", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.add_argument("--no-report", action="store_true",
                        help="skip the 250k grid's whole report (python -m reports)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return
    from benchmarks.__main__ import machine, run_report

    cases = [c for c in args.only.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; valid: {', '.join(CASES)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            print(f"[bench] goal {case} ...", flush=True)
            if case == "example":
                rows.append({"case": case, "load_average_before": os.getloadavg(),
                             "report": run_report(EXAMPLE, Path(tmp) / "example", target="val_acc")})
                rows[-1]["report"].pop("log", None)
                print(to_markdown(rows[-1:]).splitlines()[-1], flush=True)
                continue
            csv = make_csv(case, Path(tmp))
            row = run_case(case, csv)
            if not args.no_report and case in REPORTED and "error" not in row:
                print("[bench]   report (python -m reports) ...", flush=True)
                row["report"] = run_report(csv, Path(tmp) / "site")
                row["report"].pop("log", None)
            rows.append(row)
            print(to_markdown(rows[-1:]).splitlines()[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
              "cases": rows}
    (out / "goals.json").write_text(json.dumps(result, indent=2))
    text = f"Machine: {result['machine']}.\n\n" + to_markdown(rows)
    (out / "goals.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
