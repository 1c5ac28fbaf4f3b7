"""Synthetic sweeps with a known truth, for tests and benchmarks.

:func:`make_frame` draws configurations (a grid or random search), repeats them over seeds,
computes the metric from chosen effects plus noise, and can add the mess real sweeps have:
heavy tails, aliased parameters, conditional parameters, budgets (successive halving),
failed/NaN/inf runs and wide configs full of constants, names, paths and timestamps.
:func:`make_table` returns the same as a :class:`~adapters.schema.RunTable`, and
:func:`load_via_csv` writes it to a CSV file and loads it through the CSV adapter.

Example
-------
>>> frame = make_frame(
...     {"lr": LogUniform(1e-5, 1e-1), "optimizer": Choice(["adam", "sgd"])},
...     effects={"lr": 1.0, "optimizer": {"sgd": 0.3}}, n_configs=20, seeds=2)
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sweepsight.adapters.schema import RunTable, build_table


@dataclasses.dataclass(frozen=True)
class LogUniform:
    """Numbers spread evenly on a log scale; effects act on log10 of the value."""

    low: float
    high: float
    integer: bool = False

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        v = 10 ** rng.uniform(np.log10(self.low), np.log10(self.high), n)
        return np.round(v) if self.integer else v

    def grid(self, k: int) -> list:
        v = np.logspace(np.log10(self.low), np.log10(self.high), k)
        return list(np.round(v) if self.integer else v)

    def natural(self, v: np.ndarray) -> np.ndarray:
        return np.log10(v.astype(float))


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Numbers spread evenly on a linear scale."""

    low: float
    high: float
    integer: bool = False

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        v = rng.uniform(self.low, self.high, n)
        return np.round(v) if self.integer else v

    def grid(self, k: int) -> list:
        v = np.linspace(self.low, self.high, k)
        return list(np.round(v) if self.integer else v)

    def natural(self, v: np.ndarray) -> np.ndarray:
        return v.astype(float)


@dataclasses.dataclass(frozen=True)
class Choice:
    """A fixed set of values (numbers, strings or booleans); numbers act linearly (or on log10
    when ``log``), others through a level -> effect mapping."""

    values: tuple
    log: bool = False

    def __init__(self, values, log: bool = False):
        object.__setattr__(self, "values", tuple(values))
        object.__setattr__(self, "log", log)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        idx = rng.integers(0, len(self.values), n)
        return np.array(self.values, dtype=object)[idx]

    def grid(self, k: int) -> list:
        return list(self.values)

    def natural(self, v: np.ndarray) -> np.ndarray:
        x = v.astype(float)
        return np.log10(x) if self.log else x


Dist = LogUniform | Uniform | Choice
Effect = float | dict | Callable


def make_frame(
    params: dict[str, Dist],
    *,
    effects: dict[str | tuple, Effect] | None = None,
    n_configs: int = 30,
    grid: bool = False,
    grid_points: int = 4,
    seeds: int = 3,
    noise: float = 0.1,
    base: float = 0.0,
    target: str = "loss",
    exponentiate: bool = False,
    heavy_tail: tuple[float, float] | None = None,
    aliases: dict[str, tuple[str, dict | Callable | None]] | None = None,
    conditional: dict[str, tuple[str, set]] | None = None,
    budgets: list[float] | None = None,
    budget_name: str = "epochs",
    eta: int = 3,
    budget_penalty: float = 1.0,
    failed: int = 0,
    nan_target: int = 0,
    inf_target: int = 0,
    constants: int = 0,
    identifiers: bool = False,
    random_state: int = 0,
) -> pd.DataFrame:
    """A sweep as a raw frame (``run_id, name, state, params.*, metrics.<target>``).

    Parameters
    ----------
    params
        Name -> distribution (:class:`LogUniform`, :class:`Uniform`, :class:`Choice`).
    effects
        Name -> effect on the metric. A float is the change per standard deviation of the
        parameter on its natural scale (log10 for :class:`LogUniform`); a dict maps levels to
        shifts; a callable maps the column's values to shifts. A tuple of names with a callable
        taking a DataFrame of those columns gives an interaction. Unlisted params have no effect.
    n_configs, grid, grid_points
        Random search over ``n_configs`` configurations, or (``grid=True``) the full grid with
        ``grid_points`` values per continuous parameter.
    seeds
        Runs per configuration (a ``seed`` param is logged when > 1).
    noise, base
        Gaussian noise SD per run and the metric's baseline.
    exponentiate
        Log ``10 ** metric`` (effects then act on log10 of the logged metric).
    heavy_tail
        ``(fraction, factor)``: that fraction of runs, chosen at random, has its metric
        multiplied by ``factor`` (diverged runs) - a tail unrelated to any parameter.
    aliases
        New name -> (source param, mapping dict / callable / None for an exact copy).
    conditional
        Param -> (parent param, set of parent levels where it is active); missing elsewhere
        and without effect there.
    budgets, budget_name, eta, budget_penalty
        Successive halving: every configuration runs at ``budgets[0]``, the best 1/eta of them
        (by mean metric, lower is better) go on to the next level. The metric at budget b is
        the final metric plus ``budget_penalty * (1 - b / max(budgets))``.
    failed, nan_target, inf_target
        Numbers of runs (chosen at random) that failed (state failed, metric missing), have a
        missing metric, or an infinite one (+inf; state finished).
    constants, identifiers
        Add that many constant ``cfg.k<i>`` params; add run names, output paths, timestamps,
        git hashes and a wandb internal key (``identifiers=True``).
    random_state
        Seed of every random step.
    """
    rng = np.random.default_rng(random_state)
    effects = dict(effects or {})
    aliases = dict(aliases or {})
    conditional = dict(conditional or {})
    names = list(params)

    if grid:
        combos = list(itertools.product(*[params[p].grid(grid_points) for p in names]))
        configs = pd.DataFrame(combos, columns=names)
    else:
        configs = pd.DataFrame({p: params[p].sample(rng, n_configs) for p in names})
    n_cfg = len(configs)

    # Effects on the configurations (the truth), zero where a conditional param is inactive.
    active = {p: np.ones(n_cfg, dtype=bool) for p in names}
    for p, (parent, levels) in conditional.items():
        active[p] = configs[parent].isin(list(levels)).to_numpy()
    signal = np.full(n_cfg, float(base))
    for key, effect in effects.items():
        if isinstance(key, tuple):
            assert callable(effect), f"the interaction {key} needs a callable effect"
            contrib = np.asarray(effect(configs[list(key)]), dtype=float)
            mask = np.logical_and.reduce([active[k] for k in key])
        else:
            col = configs[key].to_numpy()
            if callable(effect):
                contrib = np.asarray(effect(col), dtype=float)
            elif isinstance(effect, dict):
                contrib = np.array([float(effect.get(v, 0.0)) for v in col])
            else:
                x = params[key].natural(col)
                sd = x[active[key]].std()
                contrib = float(effect) * (x - x[active[key]].mean()) / (sd if sd > 0 else 1.0)
            mask = active[key]
        signal += np.where(mask, contrib, 0.0)

    # Budgets: successive halving over configurations.
    levels_per_cfg: list[list[float]] = [[] for _ in range(n_cfg)]
    if budgets:
        alive = np.arange(n_cfg)
        for i, b in enumerate(budgets):
            for c in alive.tolist():
                levels_per_cfg[c].append(b)
            if i + 1 < len(budgets):
                keep = max(1, len(alive) // eta)
                alive = alive[np.argsort(signal[alive], kind="stable")[:keep]]
    else:
        levels_per_cfg = [[float("nan")] for _ in range(n_cfg)]

    rows = []
    for c in range(n_cfg):
        for s in range(seeds):
            for b in levels_per_cfg[c]:
                rows.append((c, s, b))
    cfg_idx = np.array([r[0] for r in rows])
    seed_idx = np.array([r[1] for r in rows])
    budget_col = np.array([r[2] for r in rows], dtype=float)
    n = len(rows)

    y = signal[cfg_idx] + rng.normal(0.0, noise, n)
    if budgets:
        y = y + budget_penalty * (1 - budget_col / max(budgets))
    if exponentiate:
        y = 10.0 ** y
    if heavy_tail is not None:
        fraction, factor = heavy_tail
        hit = rng.random(n) < fraction
        y = np.where(hit, y * factor, y)

    out: dict[str, Any] = {
        "run_id": [f"run-{i:05d}" for i in range(n)],
        "name": [f"cfg{c}-s{s}" + ("" if np.isnan(b) else f"-b{b:g}")
                 for c, s, b in rows],
        "state": np.array(["finished"] * n, dtype=object),
    }
    for p in names:
        v = configs[p].to_numpy()[cfg_idx].astype(object)
        if p in conditional:
            v = np.where(active[p][cfg_idx], v, None)
        out[f"params.{p}"] = v
    for alias, (source, mapping) in aliases.items():
        v = pd.Series(out[f"params.{source}"])
        if mapping is None:
            out[f"params.{alias}"] = v.to_numpy()
        elif callable(mapping):
            out[f"params.{alias}"] = [None if x is None else mapping(x) for x in v]
        else:
            out[f"params.{alias}"] = [None if x is None else mapping[x] for x in v]
    if seeds > 1:
        out["params.seed"] = seed_idx
    if budgets:
        out[f"params.{budget_name}"] = budget_col
    for i in range(constants):
        out[f"params.cfg.k{i:03d}"] = [(i % 7) * 0.5 if i % 3 else f"value{i}"] * n
    if identifiers:
        out["params.run_name"] = out["name"]
        out["params.output_dir"] = [f"/scratch/sweep/{r}" for r in out["run_id"]]
        start = pd.Timestamp("2024-05-01T12:00:00")
        out["params.started"] = [(start + pd.Timedelta(minutes=7 * i)).isoformat() for i in range(n)]
        out["params.code_version"] = [f"{int(h):040x}"[-12:] for h in rng.integers(2**40, 2**50, n)]
        out["params._wandb"] = [f'{{"runtime": {i}}}' for i in range(n)]
    frame = pd.DataFrame(out)

    order = rng.permutation(n)
    taken = iter(order)
    for _ in range(failed):
        i = next(taken)
        frame.loc[i, "state"] = "failed"
        y[i] = np.nan
    for _ in range(nan_target):
        y[next(taken)] = np.nan
    for _ in range(inf_target):
        y[next(taken)] = np.inf
    frame[f"metrics.{target}"] = y
    return frame


def make_table(params: dict[str, Dist], **kwargs: Any) -> RunTable:
    """:func:`make_frame` as a run table (seed and budget declared)."""
    frame = make_frame(params, **kwargs)
    budget = kwargs.get("budget_name", "epochs") if kwargs.get("budgets") else None
    return build_table(frame, source="csv", seed="seed" if "params.seed" in frame else None,
                       budget=budget, where="synthetic sweep")


def load_via_csv(frame: pd.DataFrame, path: str | Path, **options: Any) -> RunTable:
    """Write ``frame`` to ``path`` as CSV and load it through the CSV adapter."""
    from sweepsight import adapters

    frame.to_csv(path, index=False)
    return adapters.load("csv", {"path": str(path), **options})


def standard_sweep(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of the reference sweep: loss depends strongly on log10(lr), weakly on
    batch size, not at all on ``noise_param``, plus an lr x optimizer interaction."""
    kwargs: dict[str, Any] = dict(
        params={
            "lr": LogUniform(1e-5, 1e-1),
            "batch_size": Choice([16, 32, 64, 128, 256], log=True),
            "optimizer": Choice(["adam", "sgd"]),
            "noise_param": Uniform(0.0, 1.0),
        },
        effects={
            "lr": 1.0,
            "batch_size": 0.3,
            ("lr", "optimizer"): lambda d: 0.3 * np.where(d["optimizer"] == "sgd", 1.0, -1.0)
            * (np.log10(d["lr"].astype(float)) + 3.0) / 1.2,
        },
        n_configs=60,
        seeds=3,
        noise=0.3,
        base=1.0,
        target="loss",
        random_state=0,
    )
    kwargs.update(overrides)
    return kwargs
