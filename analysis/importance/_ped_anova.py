"""PED-ANOVA-style importance: what separates the best trials from the rest.

For each hyperparameter, the Pearson divergence between the distribution of its levels (or
equal-width bins, as :func:`analysis.steering.level_codes` makes them) among the top
``gamma`` quantile of runs and among all runs (Watanabe et al., 2023, with histograms instead
of kernel densities): ``sum_l p_all(l) (p_top(l) / p_all(l) - 1)^2``, both smoothed by half a
run per level. It answers "where do the good runs sit", not "how much does changing it move
the metric" (the main effects' question): a hyperparameter the best runs all share scores high
even when the rest of its range is as good on average. Noise floor: the same divergence with
the metric shuffled across runs (:data:`SHUFFLES` times), its 1 - alpha / params quantile.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sweepsight.analysis.importance._base import BaseImportanceEvaluator, ImportanceResult
from sweepsight.analysis.options import ALPHA, RANDOM_STATE
from sweepsight.analysis.prepared import Prepared

GAMMA = 0.1
SHUFFLES = 100


def pearson_divergence(codes: np.ndarray, k: int, top: np.ndarray) -> float:
    """Pearson divergence of the level distribution of the runs ``top`` from all runs'."""
    all_p = (np.bincount(codes, minlength=k) + 0.5) / (len(codes) + 0.5 * k)
    top_p = (np.bincount(codes[top], minlength=k) + 0.5) / (len(top) + 0.5 * k)
    return float((all_p * (top_p / all_p - 1.0) ** 2).sum())


def top_runs(y: np.ndarray, *, maximize: bool, gamma: float = GAMMA) -> np.ndarray:
    """Positions of the best ``gamma`` share of runs (at least 2)."""
    n_top = max(2, math.ceil(gamma * len(y)))
    order = np.argsort(-y if maximize else y, kind="stable")
    return order[:n_top]


class PedAnovaEvaluator(BaseImportanceEvaluator):
    """Pearson divergence of each hyperparameter between the top-gamma runs and all runs."""

    def evaluate(self, prep: Prepared, *, random_state: int = RANDOM_STATE, alpha: float = ALPHA,
                 gamma: float = GAMMA, **kw) -> ImportanceResult:
        from sweepsight.analysis.steering import level_codes

        y = prep.y.to_numpy(dtype=float)
        coded = {p: level_codes(prep, p) for p in prep.params}
        ks = {p: len(labels) for p, (_, labels) in coded.items()}
        top = top_runs(y, maximize=prep.maximize, gamma=gamma)
        score = {p: pearson_divergence(c, ks[p], top) for p, (c, _) in coded.items()}
        rng = np.random.default_rng(random_state)
        null = np.array([[pearson_divergence(c, ks[p], t) for p, (c, _) in coded.items()]
                         for t in (top_runs(rng.permutation(y), maximize=prep.maximize,
                                            gamma=gamma) for _ in range(SHUFFLES))])
        q = 1 - alpha / max(len(prep.params), 1)
        floor = np.quantile(null, q, axis=0) if len(null) else np.zeros(len(score))
        table = pd.DataFrame({"param": list(score), "importance": list(score.values()),
                              "noise_floor": floor})
        table["above_floor"] = (table["importance"] > table["noise_floor"]).astype("boolean")
        notes = [f"PED-ANOVA-style: for each hyperparameter, the Pearson divergence between "
                 f"its levels among the best {gamma:.0%} of runs ({len(top)}) and among all "
                 f"runs; it answers where the good runs sit, not how much changing it moves "
                 f"the metric (main effects). Noise floor: the {q:.3g} quantile of the same "
                 f"with the metric shuffled ({SHUFFLES} times)."]
        return ImportanceResult(table=table, method="ped_anova", notes=notes,
                                noise_floor=float(np.max(floor)) if len(floor) else None)
