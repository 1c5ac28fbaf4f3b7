"""Run a command and sample the resident memory of its whole process tree:
``python -m benchmarks.tree_rss [--interval S] [--trace FILE] -- CMD ...``.

``ru_maxrss`` of children is the largest single process, not what the machine must hold when
a build may start other processes (Quarto, a browser); this sums the RSS of every
live process in the tree every ``interval`` seconds (0.05 by default) and prints, after the
command ends, ``[bench] tree_peak_rss_mb X``, ``[bench] largest_process_peak_rss_mb Y`` and
``[bench] cpu_seconds Z`` (user + system of the whole tree, as reaped).
``--trace`` writes every sample (seconds, tree MB, then each process's MB) as TSV, to see
which stage holds the peak. The command's own output passes through; the exit code is its.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import threading
import time

import psutil


def sample_tree(proc: psutil.Process) -> dict[int, float]:
    """RSS in MB of ``proc`` and each of its live descendants, by pid."""
    out: dict[int, float] = {}
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:  # the command has just ended
        return out
    for p in procs:
        try:
            out[p.pid] = p.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def run(cmd: list[str], *, interval: float = 0.05, trace: str | None = None) -> tuple[int, dict]:
    """Run ``cmd``; returns its exit code and ``{"tree_peak_rss_mb", "largest_process_peak_rss_mb",
    "seconds", "cpu_seconds"}``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(cmd)
    root = psutil.Process(child.pid)
    peaks = {"tree": 0.0, "largest": 0.0}
    rows: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            sizes = sample_tree(root)
            if sizes:
                total = sum(sizes.values())
                peaks["tree"] = max(peaks["tree"], total)
                peaks["largest"] = max(peaks["largest"], max(sizes.values()))
                if trace:
                    rows.append(f"{time.perf_counter() - start:.2f}\t{total:.0f}\t"
                                + "\t".join(f"{pid}:{mb:.0f}" for pid, mb in sizes.items()))
            done.wait(interval)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code = child.wait()
    done.set()
    watcher.join()
    if trace:
        with open(trace, "w") as fh:
            fh.write("\n".join(rows) + "\n")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, {"tree_peak_rss_mb": peaks["tree"], "largest_process_peak_rss_mb": peaks["largest"],
                  "seconds": time.perf_counter() - start, "cpu_seconds": cpu}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tree_rss")
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--trace", default=None)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("give the command after --")
    code, peaks = run(cmd, interval=args.interval, trace=args.trace)
    print(f"[bench] tree_peak_rss_mb {peaks['tree_peak_rss_mb']:.1f}", flush=True)
    print(f"[bench] largest_process_peak_rss_mb {peaks['largest_process_peak_rss_mb']:.1f}",
          flush=True)
    print(f"[bench] cpu_seconds {peaks['cpu_seconds']:.1f}", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
