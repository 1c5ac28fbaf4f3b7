"""The significance page's size at 1k, 10k and 30k configurations, and significance's time on
the 250k-run grid: ``python -m benchmarks.walk_size [--skip-250k]``.

Writes ``benchmarks/results/walk_size.json`` and ``walk_size.md`` and prints the Markdown table;
a full ``python -m benchmarks`` (``nox -s bench``) runs it after the goals. The sweeps are full
grids of 5 hyperparameters (3 numeric, 2 categorical) with 3 seeds; the 250k grid is
``benchmarks.sweeps.make_sweep(248_832, 9, seeds=4)``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
GRIDS = {1_000: (10, 10, 5, 2, 1), 10_000: (10, 10, 10, 5, 2), 30_000: (10, 10, 10, 6, 5)}


def walk_size(n_configs: int, *, seeds: int = 3) -> dict:
    from sweepsight.analysis import Analysis, AnalysisOptions
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours
    from sweepsight.analysis.synthetic import Choice, make_table
    from sweepsight.reports.charts.significance import significance_walk

    sizes = GRIDS[n_configs]
    space = {"a": Choice(list(range(sizes[0]))), "b": Choice([10.0 * i for i in range(1, sizes[1] + 1)]),
             "c": Choice([1e-5 * 2 ** i for i in range(sizes[2])]),
             "d": Choice([f"d{i}" for i in range(sizes[3])]),
             "e": Choice([f"e{i}" for i in range(sizes[4])])}
    table = make_table(space, effects={"a": {sizes[0] - 1: 1.0}}, grid=True, seeds=seeds,
                       noise=0.1, target="score", random_state=1)
    prep = prepare(table, target="score", direction="maximize", metric_scale="raw")
    start = time.perf_counter()
    sig = compare_neighbours(prep)
    seconds = time.perf_counter() - start
    analysis = Analysis(table=table, prep=prep, correlation=None, linear=None, forest=None,
                        importance=None, significance=sig, options=AnalysisOptions(target="score"),
                        timings={})
    start = time.perf_counter()
    html = significance_walk(analysis)
    return {"configs": len(sig.configs), "pairs": len(sig.pairs) // 2, "runs": len(prep.runs),
            "walk_bytes": len(html.encode("utf-8")), "walk_seconds": time.perf_counter() - start,
            "significance_seconds": seconds}


def significance_250k() -> dict:
    import tempfile

    from benchmarks.sweeps import make_sweep
    from sweepsight import adapters
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sweep.csv"
        make_sweep(248_832, 9, seeds=4).to_csv(csv, index=False)
        prep = prepare(adapters.load("csv", {"path": str(csv)}), target="val_loss")
    start = time.perf_counter()
    sig = compare_neighbours(prep)
    return {"runs": len(prep.runs), "configs": len(sig.configs), "pairs": len(sig.pairs) // 2,
            "significance_seconds": time.perf_counter() - start}


def to_markdown(out: dict) -> str:
    lines = ["| configurations | pairs | runs | significance page (walk) | build | significance |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in out["walk"]:
        lines.append(f"| {r['configs']:,} | {r['pairs']:,} | {r['runs']:,} | "
                     f"{r['walk_bytes'] / 1e6:.2f} MB | {r['walk_seconds']:.2f} s | "
                     f"{r['significance_seconds']:.2f} s |")
    if "grid_250k" in out:
        g = out["grid_250k"]
        lines += ["", f"250k-run sweep: {g['runs']:,} runs, {g['configs']:,} configurations, "
                      f"{g['pairs']:,} pairs: significance {g['significance_seconds']:.1f} s"]
    return "\n".join(lines) + "\n"


def main(argv: list[str], *, results: Path = RESULTS) -> str:
    """Measure, write ``walk_size.json`` and ``walk_size.md`` into ``results``; returns the
    Markdown table."""
    out = {"walk": [walk_size(n) for n in GRIDS]}
    if "--skip-250k" not in argv:
        out["grid_250k"] = significance_250k()
    results.mkdir(parents=True, exist_ok=True)
    (results / "walk_size.json").write_text(json.dumps(out, indent=1))
    text = to_markdown(out)
    (results / "walk_size.md").write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
