"""Benchmarks (``nox -s bench``): wall time and peak memory of each stage on synthetic sweeps."""
