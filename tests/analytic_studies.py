"""Analytic sweeps with an exactly known truth, sampled by real optuna samplers.

Each :class:`Analytic` is a function of a few hyperparameters on a grid of levels (integer
level indices 0..k-1, mapped to the function's domain), with Gaussian noise of known size.
Because the space is a finite product grid with every level equally likely, the main-effect
shares are exact: the variance over a hyperparameter's levels of the function averaged over
all the others (enumerated), divided by the variance of the function over the grid
(:meth:`Analytic.shares`). The families: additive terms of different sizes, a pure
interaction beside one main effect, Ishigami and Sobol-G.

:func:`sample_study` runs an optuna study (``TPESampler`` or ``RandomSampler``, one seed)
minimising the noisy function and returns the trials as a run-table frame (``run_id, name,
state, created_at, params.*, metrics.loss``) for an adapter to read.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

import numpy as np
import pandas as pd

PI = np.pi


@dataclasses.dataclass(frozen=True)
class Analytic:
    """``f`` maps a dict of level-index arrays to the noiseless loss (lower is better)."""

    name: str
    levels: dict[str, int]
    f: Callable[[dict[str, np.ndarray]], np.ndarray]
    noise: float

    def grid(self) -> pd.DataFrame:
        """Every configuration of the space with its true loss (column ``value``)."""
        names = list(self.levels)
        combos = np.array(list(itertools.product(*[range(self.levels[p]) for p in names])))
        frame = pd.DataFrame(combos, columns=names)
        frame["value"] = self.f({p: frame[p].to_numpy() for p in names})
        return frame

    def shares(self) -> dict[str, float]:
        """Exact main-effect share of each hyperparameter (uniform levels, product grid)."""
        g = self.grid()
        total = float(g["value"].var(ddof=0))
        return {p: float(g.groupby(p)["value"].mean().var(ddof=0)) / total for p in self.levels}

    def true_values(self, configs: pd.DataFrame) -> np.ndarray:
        """The true loss of each row of ``configs`` (columns named as the levels)."""
        return np.asarray(self.f({p: configs[p].to_numpy(dtype=float).astype(int)
                                  for p in self.levels}), dtype=float)

    def quantile_of(self, value: float) -> float:
        """The share of the space's configurations strictly better (lower) than ``value``."""
        v = self.grid()["value"].to_numpy()
        return float(np.mean(v < value - 1e-12))


def _x(i: np.ndarray, k: int, lo: float, hi: float) -> np.ndarray:
    return lo + (hi - lo) * np.asarray(i, dtype=float) / (k - 1)


def additive(noise: float = 0.3) -> Analytic:
    """Additive terms of clearly different sizes: a (peaked), b (linear), c (small), d (none)."""
    k = {"a": 7, "b": 5, "c": 5, "d": 5}

    def f(v):
        a = _x(v["a"], 7, -1.0, 1.0)
        return (3.0 * (a - 0.33) ** 2 + 1.2 * _x(v["b"], 5, 0.0, 1.0)
                + 0.4 * np.abs(_x(v["c"], 5, -1.0, 1.0)) + 0.0 * v["d"])
    return Analytic("additive", k, f, noise)


def interaction(noise: float = 0.2) -> Analytic:
    """A pure interaction a x b (no main effect of either) beside a main effect of c."""
    k = {"a": 5, "b": 5, "c": 6, "d": 4}

    def f(v):
        a, b = _x(v["a"], 5, -1.0, 1.0), _x(v["b"], 5, -1.0, 1.0)
        return 1.5 * a * b + 1.0 * _x(v["c"], 6, 0.0, 1.0) ** 2 + 0.0 * v["d"]
    return Analytic("interaction", k, f, noise)


def ishigami(noise: float = 0.5) -> Analytic:
    """Ishigami (a = 7, b = 0.1) on [-pi, pi]^3 plus a dummy; loss = minus the function."""
    k = {"x1": 9, "x2": 9, "x3": 9, "x4": 4}

    def f(v):
        x1, x2, x3 = (_x(v[p], 9, -PI, PI) for p in ("x1", "x2", "x3"))
        return -(np.sin(x1) + 7.0 * np.sin(x2) ** 2 + 0.1 * x3 ** 4 * np.sin(x1)) + 0.0 * v["x4"]
    return Analytic("ishigami", k, f, noise)


def sobol_g(noise: float = 0.05) -> Analytic:
    """Sobol-G with a = (0, 1, 4.5, 99) on 6 levels of [0, 1] (mid-cells)."""
    a = {"g1": 0.0, "g2": 1.0, "g3": 4.5, "g4": 99.0}
    k = {p: 6 for p in a}

    def f(v):
        out = 1.0
        for p, ap in a.items():
            x = (np.asarray(v[p], dtype=float) + 0.5) / 6
            out = out * (np.abs(4 * x - 2) + ap) / (1 + ap)
        return out
    return Analytic("sobol_g", k, f, noise)


FAMILIES = {"additive": additive, "interaction": interaction, "ishigami": ishigami,
            "sobol_g": sobol_g}


def sample_study(fn: Analytic, *, sampler: str, n_trials: int, seed: int = 0) -> pd.DataFrame:
    """A real optuna study (``"tpe"`` or ``"random"``) minimising ``fn`` plus its noise, as a
    run-table frame in trial order (one run per trial; ``created_at`` one second apart)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(seed + 1)
    noise = rng.normal(0.0, fn.noise, n_trials)
    make = {"tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed)}[sampler]
    study = optuna.create_study(direction="minimize", sampler=make())

    def objective(trial):
        v = {p: np.array([trial.suggest_int(p, 0, k - 1)]) for p, k in fn.levels.items()}
        return float(fn.f(v)[0] + noise[trial.number])

    study.optimize(objective, n_trials=n_trials)
    t0 = pd.Timestamp("2026-01-01T00:00:00Z")
    rows = []
    for t in study.trials:
        row = {"run_id": f"trial-{t.number:04d}", "name": f"trial {t.number}",
               "state": "finished", "created_at": (t0 + pd.Timedelta(seconds=t.number)).isoformat()}
        row.update({f"params.{p}": v for p, v in t.params.items()})
        row["metrics.loss"] = t.value
        rows.append(row)
    return pd.DataFrame(rows)
