"""Run the benchmarks and write ``benchmarks/results/bench.json`` and ``bench.md``.

``python -m benchmarks [--goals] [--quick] [--sizes 10000x20,...] [--no-report] [--out DIR]``:
--goals runs only the speed goals side by side (:mod:`benchmarks.goals`: analyse vs one forest
at 10k x 10, main effects with 30 one-hot columns, 2k x 1,000 parameters, the 250k grid's
analyses and its whole report), which a full run also does first, followed by the
significance walk's page sizes (:mod:`benchmarks.walk_size`) and the next sweep against the
truth by simulation (:mod:`benchmarks.next_truth`); --quick
runs only the 1k-run sweeps (and logs 1k runs into MLflow instead of 10k); --sizes runs only
the named sweeps (and skips MLflow); --no-report skips the notebook+render stage
(``python -m reports``).

Every analysis stage runs in a fresh process (:mod:`benchmarks.stages`), so its peak memory is
its own. The machine's load average is recorded before and after each sweep: other jobs on the
machine inflate wall times (CPU seconds are less affected).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.compare import (OPTUNA_EVALUATORS, mlflow_overhead, optuna_in_subprocess,
                                rank_agreement, top_overlap)
from benchmarks.stages import ANALYSES
from benchmarks.sweeps import make_sweep

#: (runs, hyperparameters); 10k x 20 is the analyses issue's reference size
SIZES = [(1_000, 10), (1_000, 50), (10_000, 10), (10_000, 20), (10_000, 50), (100_000, 10),
         (100_000, 50)]
STAGES = ["load", *ANALYSES, "analyses_total"]
#: Optuna's importances are compared on these sweeps only (fANOVA grows with runs: > 5 min at
#: 10k runs), each stopped after OPTUNA_TIMEOUT seconds and reported as timed out.
OPTUNA_SIZES = [(1_000, 10), (10_000, 10)]
OPTUNA_TIMEOUT = 300.0
#: the hyperparameters with real effects in :func:`benchmarks.sweeps.make_sweep`, strongest first
TRUTH = {"p00": 3.0, "p01": 2.0, "p02": 1.0}
#: CLI progress lines: ``[   6.60 s] pages: 5 pages``
CLI_LINE = re.compile(r"^\[\s*([0-9.]+) s\] ([A-Za-z][\w ]*?)(?::|$)")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        mem_s = ""
    return (f"{cpu}, {len(os.sched_getaffinity(0))} cores usable{mem_s}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def parse_cli_stages(stdout: str) -> dict[str, float]:
    """Seconds per stage from the report CLI's progress lines (``analysis`` details included
    as ``analysis.<name>``)."""
    out: dict[str, float] = {}
    for line in stdout.splitlines():
        m = CLI_LINE.match(line.strip())
        if not m:
            continue
        name = m.group(2).strip()
        out[name] = out.get(name, 0.0) + float(m.group(1))
        if name == "analysis":
            for sub, secs in re.findall(r"(\w+) ([0-9.]+) s", line.split(":", 1)[1]):
                out[f"analysis.{sub}"] = float(secs)
    return out


def run_report(csv: Path, out: Path, *, target: str = "val_loss") -> dict:
    """Build the whole site (notebooks + render) for one sweep; time it, measure its size and
    the peak resident memory of its process tree (the build process and any children
    summed, sampled every 50 ms by :mod:`benchmarks.tree_rss`; ``peak_rss_mb`` is the largest
    single process)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.tree_rss", "--", sys.executable, "-W", "ignore",
         "-m", "reports", "--source", "csv", "--path", str(csv), "--target", target,
         "--out", str(out), "--renderer", "nbconvert"],
        capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:],
                "seconds": seconds}

    def mb(name: str) -> float | None:
        m = re.search(rf"\[bench\] {name} ([0-9.]+)", proc.stdout)
        return float(m.group(1)) if m else None

    return {"seconds": seconds, "site_mb": dir_size_mb(out),
            "largest_file_mb": max(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6,
            "tree_peak_rss_mb": mb("tree_peak_rss_mb"),
            "peak_rss_mb": mb("largest_process_peak_rss_mb"), "cpu_seconds": mb("cpu_seconds"),
            "stages": parse_cli_stages(proc.stdout), "log": proc.stdout[-3000:]}


def run_stages(csv: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.stages", str(csv)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.splitlines()[-1])


def compare_optuna(csv: Path, entry: dict, *, timeout: float) -> list[dict]:
    rows = []
    for evaluator in OPTUNA_EVALUATORS:
        print(f"[bench]   Optuna {evaluator} (timeout {timeout:.0f} s) ...", flush=True)
        res = optuna_in_subprocess(csv, evaluator=evaluator, timeout=timeout)
        row = {"runs": entry["runs"], "params": entry["params"], "evaluator": evaluator, **res}
        if "importances" in res and "rankings" in entry:
            row["spearman_vs_main_effects"] = rank_agreement(
                res["importances"], entry["rankings"]["main_effects"])
            row["spearman_vs_forest"] = rank_agreement(
                res["importances"], entry["rankings"]["forest_permutation"])
            row["top3_vs_main_effects"] = top_overlap(res["importances"],
                                                      entry["rankings"]["main_effects"])
            row["top3_vs_forest"] = top_overlap(res["importances"],
                                                entry["rankings"]["forest_permutation"])
        rows.append(row)
    return rows


def _sizes(text: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(x) for x in part.lower().split("x", 1)) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected RUNSxPARAMS[,...], e.g. 10000x20") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="only the 1k-run sweeps")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--sizes", type=_sizes, default=None, metavar="RUNSxPARAMS,...",
                        help="only these sweeps, e.g. 10000x20,1000x50")
    parser.add_argument("--no-report", action="store_true", help="skip the notebook+render stage")
    parser.add_argument("--optuna-timeout", type=float, default=OPTUNA_TIMEOUT)
    parser.add_argument("--goals", action="store_true",
                        help="only the speed goals side by side (benchmarks.goals)")
    parser.add_argument("--analytic", action="store_true",
                        help="only importance and the best configuration on analytic optuna "
                             "studies against Optuna's fANOVA and PED-ANOVA (benchmarks."
                             "analytic; with --trials and --seeds)")
    parser.add_argument("--trials", type=int, default=300, help="trials per analytic study")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per analytic study")
    parser.add_argument("--markdown-only", action="store_true",
                        help="rewrite bench.md from the bench.json in --out; run nothing")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.analytic:
        from benchmarks import analytic

        analytic.main([f"--trials={args.trials}", f"--seeds={args.seeds}"], out=out)
        return
    if args.markdown_only:
        (out / "bench.md").write_text(to_markdown(json.loads((out / "bench.json").read_text())))
        return
    out.mkdir(parents=True, exist_ok=True)
    if args.goals or not (args.quick or args.sizes):
        from benchmarks import goals

        goals.main(["--out", str(out)] + (["--no-report"] if args.no_report else []))
        if args.goals:
            return
        from benchmarks import walk_size

        print("[bench] the significance walk's size (benchmarks.walk_size) ...", flush=True)
        walk_size.main([], results=out)
        from benchmarks import next_truth

        print("[bench] the next sweep against the truth (benchmarks.next_truth) ...", flush=True)
        next_truth.main([], results=out)
    sizes = args.sizes or ([s for s in SIZES if s[0] == 1_000] if args.quick else SIZES)
    started = time.time()
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "load_average_start": os.getloadavg(), "sweeps": [], "optuna": [],
                     "mlflow": None}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n_runs, n_params in sizes:
            frame = make_sweep(n_runs, n_params)
            csv = tmp / f"sweep_{n_runs}x{n_params}.csv"
            frame.to_csv(csv, index=False)
            print(f"[bench] {n_runs} runs x {n_params} hyperparameters ...", flush=True)
            entry = {"runs": n_runs, "params": n_params, "csv_mb": csv.stat().st_size / 1e6,
                     **run_stages(csv)}
            if not args.no_report:
                print("[bench]   report (python -m reports) ...", flush=True)
                entry["report"] = run_report(csv, tmp / f"site_{n_runs}x{n_params}")
                entry["load_average_after_report"] = os.getloadavg()
            results["sweeps"].append(entry)
            if (n_runs, n_params) in OPTUNA_SIZES and "error" not in entry:
                results["optuna"] += compare_optuna(csv, entry, timeout=args.optuna_timeout)
            # write as we go: a long run that dies later still leaves its numbers
            (out / "bench.json").write_text(json.dumps(results, indent=2))
        if not args.sizes:  # a partial run (--sizes) leaves MLflow out
            mlflow_runs = 1_000 if args.quick else 10_000
            print(f"[bench] MLflow: logging {mlflow_runs} runs into sqlite ...", flush=True)
            results["mlflow"] = mlflow_overhead(make_sweep(mlflow_runs, 10), tmp)
    results["load_average_end"] = os.getloadavg()
    results["total_minutes"] = (time.time() - started) / 60
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    (out / "bench.md").write_text(to_markdown(results))
    print(to_markdown(results))


def _load(avg) -> str:
    return "/".join(f"{x:.1f}" for x in avg) if avg else "?"


def to_markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}. Started {results.get('started', '?')}; "
             f"load average (1/5/15 min) at start {_load(results.get('load_average_start'))}, "
             f"at end {_load(results.get('load_average_end'))}.", "",
             "Wall seconds per stage (CPU seconds of all threads in brackets for the totals); "
             "peak RSS of the analysis process; the report column is the whole "
             "`python -m reports` build (load, notebooks, render) and its site size.", "",
             "| runs | params | " + " | ".join(STAGES)
             + " | peak RSS MB | load avg | report s | report peak RSS MB (all processes) | site MB |",
             "|---:|---:|" + "---:|" * (len(STAGES) + 5)]
    for e in results["sweeps"]:
        if "error" in e:
            lines.append(f"| {e['runs']} | {e['params']} | error |" + " |" * (len(STAGES) + 4))
            continue
        rep = e.get("report", {})
        cells = [f"{e[s]['seconds']:.2f}" for s in STAGES]
        cells[-1] += f" ({e['analyses_total']['cpu_seconds']:.0f} CPU)"
        rep_s = ("error" if "error" in rep else f"{rep['seconds']:.1f}") if rep else "–"
        lines.append(
            f"| {e['runs']} | {e['params']} | " + " | ".join(cells)
            + f" | {e['analyses_total']['peak_mb']:.0f}"
            + f" | {e.get('load_average_before', [float('nan')])[0]:.1f}"
            + f" | {rep_s} | {rep.get('tree_peak_rss_mb') or float('nan'):.0f}"
            + f" | {rep.get('site_mb', float('nan')):.2f} |")
    reps = [e for e in results["sweeps"] if e.get("report", {}).get("stages")]
    if reps:
        names = [k for k in reps[0]["report"]["stages"] if not k.startswith("analysis.")]
        lines += ["", "Report build, seconds per CLI stage:", "",
                  "| runs | params | " + " | ".join(names) + " |",
                  "|---:|---:|" + "---:|" * len(names)]
        for e in reps:
            st = e["report"]["stages"]
            lines.append(f"| {e['runs']} | {e['params']} | "
                         + " | ".join(f"{st.get(k, float('nan')):.2f}" for k in names) + " |")
    if results["optuna"]:
        lines += ["", "Optuna's importances on the same runs: Spearman over all hyperparameters "
                  "(mostly the order of the ones without effect) and how many of its top 3 are "
                  "in ours (the sweeps have three real effects).", "",
                  "| runs | params | Optuna evaluator | seconds | Spearman vs our main effects "
                  "| vs our forest | top-3 shared with main effects | with forest "
                  "| true top 3 found |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
        for o in results["optuna"]:
            a = b = c = d = t = "–"
            if "timed_out" in o:
                secs = f"timed out after {o['timed_out']:.0f} s"
            elif "error" in o:
                secs = f"error: {o['error']}"
            else:
                secs = f"{o['seconds']:.2f}"
                a = f"{o.get('spearman_vs_main_effects', float('nan')):.2f}"
                b = f"{o.get('spearman_vs_forest', float('nan')):.2f}"
                c, d = o.get("top3_vs_main_effects", "?"), o.get("top3_vs_forest", "?")
                t = top_overlap(o["importances"], TRUTH)
            lines.append(f"| {o['runs']} | {o['params']} | {OPTUNA_EVALUATORS[o['evaluator']]} | "
                         f"{secs} | {a} | {b} | {c}/3 | {d}/3 | {t}/3 |")
        ours = [f"{e['runs']}x{e['params']}: main effects "
                f"{top_overlap(e['rankings']['main_effects'], TRUTH)}/3, forest "
                f"{top_overlap(e['rankings']['forest_permutation'], TRUTH)}/3"
                for e in results["sweeps"] if "rankings" in e]
        lines += ["", "True top 3 (p00, p01, p02) found by ours: " + "; ".join(ours) + "."]
    m = results.get("mlflow")
    if m:
        lines += ["", f"MLflow ({m['runs']} runs, sqlite): mlflow.search_runs "
                      f"{m['search_runs_seconds']:.2f} s, our adapter {m['adapter_seconds']:.2f} s "
                      f"(overhead ratio {m['overhead_ratio']:.2f}); logging them took "
                      f"{m['log_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
