"""Was the sweep steered? An optimizer's trials, told from an even design by the data alone.

Three signals, each against what an unsteered design gives:

- **concentration**: per hyperparameter, the normalised entropy of its levels (numeric ones
  with more than :data:`MAX_LEVELS` values in :data:`BINS` equal-width bins, on log10 where
  the analysis uses it) against the entropy of as many runs spread evenly at random over as
  many levels (Monte Carlo; its :data:`ALPHA` quantile, Bonferroni over the
  hyperparameters), and below :data:`EVEN_ENOUGH`;
- **association**: the mean Cramér's V between pairs of hyperparameters against the same
  with every column shuffled on its own (the marginals kept, the association broken);
- **trend**: Spearman's correlation of the metric's improvement with trial order (the runs'
  start times), one-sided at :data:`ALPHA`.

The sweep is called steered when some hyperparameter is concentrated and either of the other
two holds: an even grid or a random search may look lumpy in one column by chance or by its
prior, but an optimizer also ties its choices together and gets better over time.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import pandas as pd
from scipy import stats
from sweepsight.analysis import grouping
from sweepsight.analysis.configs import format_value
from sweepsight.analysis.options import RANDOM_STATE
from sweepsight.analysis.prepared import Prepared

MAX_LEVELS = 12
BINS = 8
ALPHA = 0.01
EVEN_ENOUGH = 0.95
DRAWS = 400
#: pairs of hyperparameters (the first this many hyperparameters) whose association is measured
MAX_PAIR_PARAMS = 12
SHUFFLES = 50


@dataclasses.dataclass(frozen=True)
class Concentration:
    """One hyperparameter: normalised ``entropy`` of its levels or bins (1 = even), the
    ``null_low`` an even random design goes below with probability ALPHA / params, its most
    visited ``top_level`` with ``top_share`` of the distinct configurations (``even_share``
    when spread evenly)."""

    param: str
    levels: int
    entropy: float
    null_low: float
    top_level: str
    top_share: float
    even_share: float
    concentrated: bool


@dataclasses.dataclass(frozen=True)
class Steering:
    """The three signals and the verdict (``steered``); ``trend`` is None without start
    times. Concentration and association are measured on the ``n`` trials: the runs, or the
    distinct configurations when a seed is logged (seeds repeat one configuration's values
    without any steering; without seeds, a configuration tried again is the sampler's choice);
    the trend on the runs."""

    steered: bool
    concentration: tuple[Concentration, ...]
    association: float | None
    association_null: float | None
    associated: bool
    trend: float | None
    trend_p: float | None
    improving: bool
    n: int

    @property
    def concentrated(self) -> tuple[Concentration, ...]:
        """The concentrated hyperparameters, most concentrated first."""
        return tuple(sorted((c for c in self.concentration if c.concentrated),
                            key=lambda c: c.entropy))


def level_codes(prep: Prepared, p: str) -> tuple[np.ndarray, list[str]]:
    """Each run's level (or equal-width bin) of ``p`` and the labels (missing: its own level)."""
    col = prep.runs[p]
    values = pd.to_numeric(col, errors="coerce") if p in prep.numeric else None
    if values is not None and values.nunique() > MAX_LEVELS:
        x = values.to_numpy(dtype=float)
        if p in prep.log_scaled and np.nanmin(x) > 0:
            x = np.log10(x)
        lo, hi = np.nanmin(x), np.nanmax(x)
        edges = np.linspace(lo, hi, BINS + 1)
        codes = np.clip(np.searchsorted(edges[1:-1], x, side="right"), 0, BINS - 1)
        codes = np.where(np.isnan(x), BINS, codes)
        back = (lambda e: 10 ** e) if p in prep.log_scaled and np.nanmin(values) > 0 else (lambda e: e)
        labels = [f"[{back(edges[i]):.3g}, {back(edges[i + 1]):.3g}]" for i in range(BINS)]
        used, codes = np.unique(codes, return_inverse=True)
        return codes, [labels[i] if i < BINS else "missing" for i in used]
    codes, uniques = pd.factorize(col.astype(object), use_na_sentinel=False)
    return np.asarray(codes), [format_value(u) for u in uniques]


def norm_entropy(counts: np.ndarray) -> float:
    k = len(counts)
    if k < 2:
        return 1.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(k))


@functools.lru_cache(maxsize=256)
def even_entropy_low(n: int, k: int, q: float, *, seed: int = 0) -> float:
    """The ``q`` quantile of the normalised entropy of ``n`` runs spread evenly at random over
    ``k`` levels (Monte Carlo)."""
    rng = np.random.default_rng(seed)
    p = rng.multinomial(n, np.full(k, 1.0 / k), size=DRAWS) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1) / np.log(k)
    return float(np.quantile(h, q))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    ka, kb = a.max() + 1, b.max() + 1
    if ka < 2 or kb < 2:
        return 0.0
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / table.sum() / (min(table.shape) - 1)))


def association(codes: list[np.ndarray], *, seed: int = 0) -> tuple[float, float] | None:
    """Mean Cramér's V over pairs, and its (1 - ALPHA) quantile with each column shuffled."""
    if len(codes) < 2:
        return None
    pairs = list(itertools.combinations(range(len(codes)), 2))

    def mean_v(cols):
        return float(np.mean([cramers_v(cols[i], cols[j]) for i, j in pairs]))

    rng = np.random.default_rng(seed)
    null = [mean_v([rng.permutation(c) for c in codes]) for _ in range(SHUFFLES)]
    return mean_v(codes), float(np.quantile(null, 1 - ALPHA))


def trial_order(table, prep: Prepared) -> np.ndarray | None:
    """Each analysed run's position in time (its start), None when start times are missing
    or all equal."""
    frame = getattr(table, "frame", None)
    if frame is None or "created_at" not in frame:
        return None
    start = frame.set_index(frame["run_id"].astype(str))["created_at"]
    start = start[~start.index.duplicated()]
    t = pd.to_datetime(start.reindex(prep.runs["run_id"].astype(str)), utc=True, errors="coerce")
    if t.isna().mean() > 0.1 or t.nunique() < 3:
        return None
    return t.rank(method="average").to_numpy(dtype=float)


def detect_steering(prep: Prepared, table=None, *,
                    random_state: int = RANDOM_STATE) -> Steering | None:
    """The three signals of :mod:`analysis.steering` for ``prep`` (the run table ``table``
    gives the start times); None with fewer than 20 runs or no hyperparameter."""
    if len(prep.runs) < 20 or not prep.params:
        return None
    coded = {p: level_codes(prep, p) for p in prep.params}
    seed = getattr(getattr(table, "meta", None), "seed", None)
    if seed is not None and seed in prep.runs:
        # on distinct configurations: seeds repeat a configuration's values without steering
        first = grouping.first_rows(grouping.group_ids([coded[p][0] for p in prep.params]))
        coded = {p: (codes[first], labels) for p, (codes, labels) in coded.items()}
    n = len(next(iter(coded.values()))[0])
    q = ALPHA / len(prep.params)
    conc = []
    for p, (codes, labels) in coded.items():
        counts = np.bincount(codes, minlength=len(labels))
        k = len(labels)
        ent = norm_entropy(counts)
        low = even_entropy_low(n, k, q, seed=random_state) if k > 1 else 0.0
        top = int(np.argmax(counts))
        conc.append(Concentration(p, k, ent, low, labels[top], float(counts[top] / n), 1.0 / k,
                                  bool(k > 1 and ent < low and ent < EVEN_ENOUGH)))
    assoc = association([coded[p][0] for p in prep.params[:MAX_PAIR_PARAMS]],
                        seed=random_state)
    order = trial_order(table, prep)
    trend = trend_p = None
    if order is not None and len(prep.runs) >= 20:
        better = prep.runs["y"].to_numpy(dtype=float) * (1 if prep.maximize else -1)
        res = stats.spearmanr(order, better)
        trend = float(res.statistic)
        trend_p = float(res.pvalue / 2 if trend > 0 else 1 - res.pvalue / 2)
    improving = trend_p is not None and trend_p < ALPHA
    associated = assoc is not None and assoc[0] > assoc[1]
    steered = any(c.concentrated for c in conc) and (improving or associated)
    return Steering(steered=steered, concentration=tuple(conc),
                    association=None if assoc is None else assoc[0],
                    association_null=None if assoc is None else assoc[1],
                    associated=associated, trend=trend, trend_p=trend_p, improving=improving,
                    n=n)
