"""Synthetic benchmark sweeps: mixed numeric and categorical hyperparameters, with seeds."""
from __future__ import annotations

import numpy as np
import pandas as pd


def make_sweep(n_runs: int, n_params: int, *, seeds: int = 3, random_state: int = 0,
               cat_levels: int | None = None) -> pd.DataFrame:
    """A sweep in the CSV adapter's prefixed form: ``run_id, name, params.*, metrics.val_loss``.

    About 70% of the hyperparameters are numeric on grids of 3-6 levels (every third one
    log-spaced), the rest categorical with 2-5 levels. ``n_runs // seeds`` configurations are
    drawn from the grid, each run with ``seeds`` seeds. The loss depends on the first three
    hyperparameters (strong, medium, weak) plus noise; a few runs diverge (heavy tail).
    ``cat_levels``: every categorical has this many levels (one-hot columns) instead.
    """
    rng = np.random.default_rng(random_state)
    n_configs = max(1, n_runs // seeds)
    columns: dict[str, np.ndarray] = {}
    effect = np.zeros(n_configs)
    for j in range(n_params):
        if j % 10 < 7:
            levels = rng.integers(3, 7)
            grid = np.logspace(-5, -1, levels) if j % 3 == 0 else np.arange(1, levels + 1) * 16.0
            codes = rng.integers(0, levels, n_configs)
            columns[f"params.p{j:02d}"] = grid[codes]
        else:
            levels = rng.integers(2, 6)
            levels = cat_levels or levels
            grid = np.array([f"level{k}" for k in range(levels)])
            codes = rng.integers(0, levels, n_configs)
            columns[f"params.c{j:02d}"] = grid[codes]
        if j < 3:
            effect += (1.0, 0.3, 0.1)[j] * (codes - codes.mean()) / max(codes.std(), 1e-9)
    frame = pd.DataFrame(columns).loc[np.repeat(np.arange(n_configs), seeds)].reset_index(drop=True)
    n = len(frame)
    frame.insert(0, "params.seed", np.tile(np.arange(seeds), n_configs).astype(float))
    loss = np.exp(np.repeat(effect, seeds) * 0.3 + rng.normal(0, 0.2, n))
    diverged = rng.random(n) < 0.005
    loss[diverged] *= 1e4
    frame["metrics.val_loss"] = loss
    frame.insert(0, "name", [f"run-{i}" for i in range(n)])
    frame.insert(0, "run_id", [f"r{i:07d}" for i in range(n)])
    return frame


def make_grid_sweep(levels: tuple[int, ...] = (4, 4, 4, 4, 3, 3, 3, 3, 3), *, seeds: int = 4,
                    random_state: int = 0) -> pd.DataFrame:
    """A full grid (every combination of ``levels``) run with ``seeds`` seeds, in the CSV
    adapter's prefixed form. Every third hyperparameter is categorical, the others numeric
    (every other one log-spaced); the loss depends on the first three (strong, medium, weak)
    plus noise. The default is 62,208 configurations x 4 seeds = 248,832 runs, 9 parameters.
    """
    rng = np.random.default_rng(random_state)
    codes = np.indices(levels).reshape(len(levels), -1)
    n_configs = codes.shape[1]
    columns: dict[str, np.ndarray] = {}
    effect = np.zeros(n_configs)
    for j, (k, c) in enumerate(zip(levels, codes)):
        if j % 3 == 2:
            columns[f"params.c{j:02d}"] = np.array([f"level{i}" for i in range(k)])[c]
        else:
            grid = np.logspace(-5, -1, k) if j % 2 == 0 else np.arange(1, k + 1) * 16.0
            columns[f"params.p{j:02d}"] = grid[c]
        if j < 3:
            effect += (1.0, 0.3, 0.1)[j] * (c - c.mean()) / max(c.std(), 1e-9)
    frame = pd.DataFrame(columns).loc[np.repeat(np.arange(n_configs), seeds)].reset_index(drop=True)
    n = len(frame)
    frame.insert(0, "params.seed", np.tile(np.arange(seeds), n_configs).astype(float))
    frame["metrics.val_loss"] = np.exp(np.repeat(effect, seeds) * 0.3 + rng.normal(0, 0.2, n))
    frame.insert(0, "name", [f"run-{i}" for i in range(n)])
    frame.insert(0, "run_id", [f"r{i:07d}" for i in range(n)])
    return frame


def make_random_sweep(n_trials: int = 20_000, n_params: int = 50, *,
                      random_state: int = 0) -> pd.DataFrame:
    """A random search as W&B's ``random`` method or Optuna's RandomSampler runs it: one run
    per trial, every trial its own configuration. Of the hyperparameters, 40% are uniform
    numbers, 30% log-uniform (1e-5..1e-1) and 30% categorical with 2-6 levels; the loss
    depends on the first three (strong, medium, weak) plus noise."""
    rng = np.random.default_rng(random_state)
    columns: dict[str, np.ndarray] = {}
    effect = np.zeros(n_trials)
    for j in range(n_params):
        kind = j % 10
        if kind < 4:
            u = rng.random(n_trials)
            columns[f"params.u{j:02d}"] = 0.1 + 0.8 * u
        elif kind < 7:
            u = rng.random(n_trials)
            columns[f"params.lr{j:02d}"] = 10 ** (-5 + 4 * u)
        else:
            levels = int(rng.integers(2, 7))
            codes = rng.integers(0, levels, n_trials)
            u = codes / max(levels - 1, 1)
            columns[f"params.c{j:02d}"] = np.array([f"level{k}" for k in range(levels)])[codes]
        if j < 3:
            effect += (1.0, 0.3, 0.1)[j] * (u - 0.5) * 3.4
    frame = pd.DataFrame(columns)
    frame["metrics.val_loss"] = np.exp(effect * 0.3 + rng.normal(0, 0.2, n_trials))
    frame.insert(0, "name", [f"trial-{i}" for i in range(n_trials)])
    frame.insert(0, "run_id", [f"t{i:06d}" for i in range(n_trials)])
    return frame
