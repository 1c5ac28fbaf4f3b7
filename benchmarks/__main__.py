"""Run the benchmarks and write ``benchmarks/results/bench.json`` and ``bench.md``.

``python -m benchmarks [--quick] [--out DIR]``: --quick runs only the 1k-run sweeps.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.compare import mlflow_overhead, optuna_importances, rank_agreement
from benchmarks.sweeps import make_sweep

SIZES = [(1_000, 10), (1_000, 50), (10_000, 10), (10_000, 50), (100_000, 10), (100_000, 50)]
STAGES = ["load", "prepare", "correlation", "linear", "forest", "main_effects", "significance",
          "analyses_total"]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run_report(csv: Path, out: Path) -> dict:
    """Build the whole site (notebooks + render) for one sweep; time it and measure its size."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "reports", "--source", "csv", "--path", str(csv),
         "--target", "val_loss", "--out", str(out)],
        capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return {"seconds": seconds, "site_mb": dir_size_mb(out), "log": proc.stdout[-2000:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="only the 1k-run sweeps")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--no-report", action="store_true", help="skip the notebook+render stage")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [s for s in SIZES if s[0] == 1_000] if args.quick else SIZES
    results: dict = {"machine": machine(), "sweeps": [], "optuna": [], "mlflow": None}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n_runs, n_params in sizes:
            frame = make_sweep(n_runs, n_params)
            csv = tmp / f"sweep_{n_runs}x{n_params}.csv"
            frame.to_csv(csv, index=False)
            print(f"[bench] {n_runs} runs x {n_params} hyperparameters ...", flush=True)
            proc = subprocess.run([sys.executable, "-m", "benchmarks.stages", str(csv)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                entry = {"runs": n_runs, "params": n_params, "error": proc.stderr[-2000:]}
                print(proc.stderr[-2000:], file=sys.stderr)
            else:
                entry = {"runs": n_runs, "params": n_params, **json.loads(proc.stdout.splitlines()[-1])}
            if not args.no_report and n_runs <= 100_000:
                entry["report"] = run_report(csv, tmp / f"site_{n_runs}x{n_params}")
            results["sweeps"].append(entry)
            if n_runs <= 10_000 and n_params == 10 and "rankings" in entry:
                for evaluator in ("default", "fanova"):
                    imp, seconds = optuna_importances(frame, evaluator=evaluator)
                    results["optuna"].append({
                        "runs": n_runs, "params": n_params, "evaluator": evaluator,
                        "seconds": seconds,
                        "spearman_vs_main_effects": rank_agreement(imp, entry["rankings"]["main_effects"]),
                        "spearman_vs_forest": rank_agreement(imp, entry["rankings"]["forest_permutation"]),
                    })
        mlflow_runs = 1_000 if args.quick else 10_000
        print(f"[bench] MLflow: logging {mlflow_runs} runs into sqlite ...", flush=True)
        results["mlflow"] = mlflow_overhead(make_sweep(mlflow_runs, 10), tmp)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    (out / "bench.md").write_text(to_markdown(results))
    print(to_markdown(results))


def to_markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}", "",
             "| runs | params | " + " | ".join(STAGES) + " | peak RSS MB | report s | site MB |",
             "|---:|---:|" + "---:|" * (len(STAGES) + 3)]
    for e in results["sweeps"]:
        if "error" in e:
            lines.append(f"| {e['runs']} | {e['params']} | error |" + " |" * (len(STAGES) + 2))
            continue
        rep = e.get("report", {})
        cells = [f"{e[s]['seconds']:.2f}" for s in STAGES]
        lines.append(
            f"| {e['runs']} | {e['params']} | " + " | ".join(cells)
            + f" | {max(v['peak_mb'] for k, v in e.items() if isinstance(v, dict) and 'peak_mb' in v):.0f}"
            + f" | {rep.get('seconds', float('nan')):.1f} | {rep.get('site_mb', float('nan')):.2f} |")
    if results["optuna"]:
        lines += ["", "| runs | params | Optuna evaluator | seconds | Spearman vs our main effects | vs our forest |",
                  "|---:|---:|---|---:|---:|---:|"]
        for o in results["optuna"]:
            lines.append(f"| {o['runs']} | {o['params']} | {o['evaluator']} | {o['seconds']:.2f} | "
                         f"{o['spearman_vs_main_effects']:.2f} | {o['spearman_vs_forest']:.2f} |")
    m = results.get("mlflow")
    if m:
        lines += ["", f"MLflow ({m['runs']} runs, sqlite): mlflow.search_runs {m['search_runs_seconds']:.2f} s, "
                      f"our adapter {m['adapter_seconds']:.2f} s (overhead ratio {m['overhead_ratio']:.2f})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
