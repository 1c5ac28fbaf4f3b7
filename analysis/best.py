"""The best configuration and its neighbourhood, derived once for the pages and summary.md."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sweepsight.analysis.configs import replicated_best
from sweepsight.analysis.constants import (BETTER, CANNOT_TELL, NOT_SIGNIFICANT, NOT_TESTABLE,
                                           TEST_P_COLUMNS, WORSE)
from sweepsight.analysis.options import ALPHA, TEST


@dataclasses.dataclass(frozen=True)
class Config:
    """One configuration: ``mean``/``std`` on the analysis scale, ``*_raw`` as logged."""

    config_id: str
    label: str
    n: int
    mean: float
    std: float
    mean_raw: float
    std_raw: float

    @classmethod
    def from_row(cls, row: pd.Series) -> Config:
        mean, std = float(row["mean"]), float(row["std"])
        return cls(config_id=str(row["config_id"]), label=str(row["label"]), n=int(row["n"]),
                   mean=mean, std=std, mean_raw=float(row.get("mean_raw", mean)),
                   std_raw=float(row.get("std_raw", std)))


@dataclasses.dataclass(frozen=True)
class Neighbourhood:
    """The best configuration of the significance grid and the tests around it.

    ``best``: best of the runs' own configurations (``ties``: how many others share its rank);
    ``replicated``/``replicated_runs``: the best
    among those with the typical number of runs when ``best`` has fewer (else None).
    ``center``: the configuration whose neighbours were tested (the best cell of the coarsened
    grid when ``approximate``, else ``best``); ``pairs``: its neighbour rows, most significant
    first. ``counts``: verdict -> number (every verdict present, 0 included); ``n_tested``:
    neighbours with a test result, ``n_cannot`` of them could not have reached significance
    whatever the data. ``cannot_reach``: every tested neighbour could not have
    reached significance whatever the data (too few runs, or Holm over the neighbourhood) -
    ``min_p``/``min_p_holm``/``n_a``/``n_b`` quote the first such limit.
    """

    best: Config
    ties: int
    replicated: Config | None
    replicated_runs: int | None
    center: Config
    approximate: bool
    pairs: pd.DataFrame
    counts: dict[str, int]
    n_neighbours: int
    n_tested: int
    n_cannot: int
    cannot_reach: bool
    min_p: float | None
    min_p_holm: float | None
    n_a: int | None
    n_b: int | None
    alpha: float
    test: str


def best_neighbourhood(sig, *, alpha: float = ALPHA, test: str = TEST) -> Neighbourhood | None:
    """The neighbourhood of the best configuration of ``sig`` (a
    :class:`~analysis.significance.SignificanceResult`); None when it has no configurations."""
    runs = sig.run_configs.sort_values("rank", kind="stable")
    configs = sig.configs.sort_values("rank", kind="stable")
    if not len(runs) or not len(configs):
        return None
    steady = replicated_best(runs)
    center = configs.iloc[0]
    nb = sig.pairs[sig.pairs["config_id"] == center["config_id"]]
    if "p_holm" in nb:
        nb = nb.sort_values(["p_holm", "param"], na_position="last", kind="stable")
    nb = nb.reset_index(drop=True)
    verdicts = nb["verdict"].astype(str) if len(nb) else pd.Series([], dtype=object)
    counts = {v: int((verdicts == v).sum()) for v in
              (WORSE, BETTER, NOT_SIGNIFICANT, CANNOT_TELL, NOT_TESTABLE)}
    tested = nb[verdicts != NOT_TESTABLE]
    limit = _cannot_reach(tested, alpha=alpha, test=test)
    return Neighbourhood(
        best=Config.from_row(runs.iloc[0]),
        ties=int((runs["rank"] == runs["rank"].iloc[0]).sum()) - 1,
        replicated=None if steady is None else Config.from_row(steady[0]),
        replicated_runs=None if steady is None else steady[1],
        center=Config.from_row(center), approximate=bool(sig.approximate), pairs=nb,
        counts=counts, n_neighbours=len(nb), n_tested=len(tested),
        n_cannot=int(cannot_reach(tested, alpha=alpha, test=test).sum()),
        cannot_reach=limit is not None and len(tested) > 0, alpha=alpha, test=test,
        min_p=None if limit is None else limit[0], min_p_holm=None if limit is None else limit[1],
        n_a=None if limit is None else limit[2], n_b=None if limit is None else limit[3])


def cannot_reach(pairs: pd.DataFrame, *, alpha: float, test: str = TEST) -> np.ndarray:
    """Per pair row: no outcome could reach Holm-adjusted significance at ``alpha`` (the
    smallest attainable p exceeds it, alone or times the neighbourhood's Holm factor), or the
    verdict already says "cannot tell"."""
    if not len(pairs):
        return np.zeros(0, dtype=bool)
    told = pairs["verdict"].astype(str).to_numpy() == CANNOT_TELL
    if "min_adjusted_p" in pairs:  # the significance step's own Holm-adjusted floor
        return told | (pairs["min_adjusted_p"].to_numpy(dtype=float) >= alpha)
    p_col = TEST_P_COLUMNS.get(test, "ks_p")
    minp = pairs["min_attainable_p"].to_numpy(dtype=float)
    m = pairs.groupby("config_id")[p_col].transform("count").to_numpy(dtype=float)
    first = pairs.groupby("config_id")["min_attainable_p"].transform("min").to_numpy(dtype=float)
    holm_min = np.minimum(1.0, m * first)
    told = pairs["verdict"].astype(str).to_numpy() == CANNOT_TELL
    return told | (minp > alpha) | (holm_min > alpha)


def _cannot_reach(tested: pd.DataFrame, *, alpha: float, test: str):
    """``(min p, min Holm p, n_a, n_b)`` when no tested neighbour could reach significance."""
    if not len(tested):
        return None
    hopeless = cannot_reach(tested, alpha=alpha, test=test)
    if not hopeless.all():
        return None
    row = tested.iloc[0]
    p_col = TEST_P_COLUMNS.get(test, "ks_p")
    m = int(tested[p_col].notna().sum())
    minp = float(row["min_attainable_p"])
    holm = min(1.0, m * float(tested["min_attainable_p"].min()))
    return minp, holm, int(row["n_a"]), int(row["n_b"])
