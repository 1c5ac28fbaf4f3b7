"""Each configuration's true mean estimated from all runs, and the best configuration by it.

A configuration's own mean over one or two runs tops a ranking by luck (the winner's curse).
Here every configuration's mean is shrunk toward a cross-fitted surrogate's prediction for it
(an ExtraTrees forest grown on the *other* folds of configurations, so the prediction never
saw the configuration's own runs), by empirical Bayes:

    own mean ~ N(true, sigma^2 / n),   true ~ N(prediction, tau^2)
    estimate = prediction + w (own mean - prediction),   w = tau^2 / (tau^2 + sigma^2 / n)

with the posterior interval ``estimate ± z sqrt(w sigma^2 / n)``. ``sigma^2`` (run-to-run
noise) is the pooled within-configuration variance when configurations repeat (at least
:data:`MIN_NOISE_DF` degrees of freedom), else a difference estimate from each
configuration's nearest neighbour in the design, capped by the surrogate's residual variance;
``tau^2`` (what the surrogate misses) is the residuals' variance net of that noise (method of
moments), at least :data:`MIN_TAU_SHARE` of it. All on the analysis scale, best = largest when
maximising. :func:`estimate_best` also lists the configurations worth rerunning (those whose
interval reaches the best's) and the seeds that would settle them.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import ExtraTreesRegressor
from sweepsight.analysis.configs import INACTIVE, MISSING, format_value
from sweepsight.analysis.forest import config_ids, config_means
from sweepsight.analysis.options import ALPHA, RANDOM_STATE
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.stats_tests import seeds_for_power

#: degrees of freedom of repeated runs from which the noise is measured directly
MIN_NOISE_DF = 5
#: the surrogate's misses keep at least this share of the residual variance: with few repeats
#: the noise is often overestimated, and intervals this floor leaves narrow miss the truth
MIN_TAU_SHARE = 0.25
FOLDS = 5
#: trees of each fold's forest, and the runs' weight a leaf holds at least
TREES = 64
LEAF_RUNS = 3.0
#: above this many configurations each tree sees a sample of them (speed)
TREE_CONFIGS = 5_000
#: configurations besides the best listed as worth rerunning
RIVALS = 3
#: seeds per configuration above which a rerun is not spelled out
MAX_SEEDS = 1000


@dataclasses.dataclass(frozen=True)
class Estimate:
    """One configuration: its own mean (``observed``), the surrogate's out-of-fold
    ``prediction``, the shrunk ``estimate`` and its interval, on the analysis scale; ``*_raw``
    as logged (NaN on the rank scale, which has no way back); ``weight`` of its own runs."""

    label: str
    n: int
    observed: float
    prediction: float
    estimate: float
    ci_low: float
    ci_high: float
    weight: float
    observed_raw: float
    estimate_raw: float
    ci_low_raw: float
    ci_high_raw: float


@dataclasses.dataclass(frozen=True)
class BestEstimate:
    """The best configuration by the estimate beside the best by its own runs.

    ``differ``: they are different configurations; ``one_run``: the observed best rests on a
    single run; ``lucky``: it rests on fewer runs than the typical configuration or on one run
    (the winner's curse applies). ``candidates``: the best by estimate, then the observed best
    (when it differs) and the rivals whose interval reaches the best's (at most
    :data:`RIVALS` besides the best; the runner-up when none does), best estimate first; ``seeds``: seeds per candidate with
    which a t-test (80% power, alpha Bonferroni over the rivals) would tell each from the best
    by the estimated difference (``capped`` above :data:`MAX_SEEDS`); ``new_runs``: runs
    beyond those made. ``noise_sd``/``noise_from`` ("repeats" or "neighbours"), ``tau``: the
    surrogate's typical miss. ``table``: every configuration, best estimate first.
    """

    best: Estimate
    observed_best: Estimate
    differ: bool
    one_run: bool
    lucky: bool
    candidates: tuple[Estimate, ...]
    seeds: int | None
    capped: bool
    new_runs: int
    noise_sd: float
    noise_from: str
    noise_df: int
    tau: float
    confidence: float
    n_configs: int
    median_runs: float
    metric_scale: str
    table: pd.DataFrame
    notes: list[str]


def config_labels(prep: Prepared, first: np.ndarray, params: list[str]) -> list[str]:
    """``p=value, q=value`` for the configurations whose first runs are ``first`` (as the
    significance page labels them)."""
    runs = prep.runs.iloc[first]
    parts = []
    for p in params:
        absent = INACTIVE if p in prep.conditional else MISSING
        parts.append([f"{p}=" + (absent if _missing(v) else format_value(v)) for v in runs[p]])
    return [", ".join(cols) for cols in zip(*parts)] if parts else [""] * len(first)


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def oof_predictions(X: np.ndarray, y: np.ndarray, w: np.ndarray, *, random_state: int = RANDOM_STATE,
                    n_estimators: int = TREES, n_jobs: int | None = None) -> np.ndarray:
    """Each configuration's prediction by a forest grown on the other folds of
    configurations (``X``, mean ``y`` and runs ``w`` one row per configuration)."""
    n = len(y)
    folds = np.random.RandomState(random_state).permutation(n) % min(FOLDS, n)
    out = np.full(n, float(np.average(y, weights=w)))
    big = n > TREE_CONFIGS
    for k in np.unique(folds):
        train = folds != k
        if train.sum() < 2:
            continue
        model = ExtraTreesRegressor(
            n_estimators=n_estimators if not big else max(n_estimators // 2, 16),
            min_samples_leaf=1, min_weight_fraction_leaf=min(LEAF_RUNS / float(w[train].sum()), 0.5),
            max_features=1.0, bootstrap=big, max_samples=TREE_CONFIGS if big else None,
            random_state=random_state + int(k), n_jobs=n_jobs)
        model.fit(X[train], y[train], sample_weight=w[train])
        out[~train] = model.predict(X[~train])
    return out


def noise_variance(y: np.ndarray, cfg: np.ndarray, Xc: np.ndarray, means: np.ndarray,
                   resid_var: float) -> tuple[float, str, int]:
    """Run-to-run noise variance: pooled within repeated configurations when they give
    :data:`MIN_NOISE_DF` degrees of freedom, else half the squared difference between each
    configuration's mean and its nearest neighbour's (median-based, so a few far pairs do not
    dominate), at most ``resid_var``. Returns the variance, where it came from and its df."""
    dev = y - means[cfg]
    n = np.bincount(cfg)
    df = int((n - 1).clip(min=0).sum())
    if df >= MIN_NOISE_DF:
        return float((dev ** 2).sum() / df), "repeats", df
    from sklearn.neighbors import NearestNeighbors

    if len(means) < 3:
        return resid_var, "neighbours", 0
    scale = Xc.std(axis=0)
    Z = Xc[:, scale > 0] / scale[scale > 0]
    _, idx = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z)
    d2 = (means - means[idx[:, 1]]) ** 2 / 2
    sigma2 = float(np.median(d2) / stats.chi2.median(1))
    return min(sigma2, resid_var), "neighbours", len(means) - 1


def _to_raw(v: np.ndarray, scale: str) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if scale == "log":
        return 10.0 ** v
    return v if scale == "raw" else np.full(v.shape, np.nan)


def shrink(prep: Prepared, *, confidence: float = 0.95, random_state: int = RANDOM_STATE,
           n_jobs: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Every configuration's own mean, out-of-fold prediction, shrunk estimate and interval
    (one row per configuration, in first-run order), and the noise model's numbers."""
    params = list(prep.params)
    cfg = config_ids(prep, params)
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    Xc, means, n = config_means(X, y, cfg)
    first = np.unique(cfg, return_index=True)[1]
    raw = np.bincount(cfg, weights=prep.runs["y_raw"].to_numpy(dtype=float)) / n
    pred = oof_predictions(Xc, means, n, random_state=random_state, n_jobs=n_jobs)
    r = means - pred
    sigma2, source, df = noise_variance(y, cfg, Xc, means, float(np.mean(r ** 2)))
    tau2 = max(float(np.mean(r ** 2 - sigma2 / n)), MIN_TAU_SHARE * float(np.mean(r ** 2)))
    if not np.isfinite(tau2) or tau2 <= 0:
        tau2 = max(sigma2, 1e-300)
    w = tau2 / (tau2 + sigma2 / n)
    est = pred + w * r
    sd = np.sqrt(w * sigma2 / n)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    scale = prep.metric_scale
    table = pd.DataFrame({
        "label": config_labels(prep, first, params), "n": n.astype(int), "observed": means,
        "prediction": pred, "estimate": est, "ci_low": est - z * sd, "ci_high": est + z * sd,
        "weight": w, "observed_raw": raw, "estimate_raw": _to_raw(est, scale),
        "ci_low_raw": _to_raw(est - z * sd, scale), "ci_high_raw": _to_raw(est + z * sd, scale)})
    return table, {"sigma2": sigma2, "source": source, "df": df, "tau2": tau2, "sd": sd}


def estimate_best(prep: Prepared, *, confidence: float = 0.95, alpha: float = ALPHA,
                  random_state: int = RANDOM_STATE, n_jobs: int | None = None) -> BestEstimate | None:
    """The best configuration by the shrunk estimate, the observed best, the candidates worth
    rerunning and the seeds that would settle them (None with fewer than 3 configurations)."""
    if len(prep.runs) < 3 or not prep.params:
        return None
    table, model = shrink(prep, confidence=confidence, random_state=random_state,
                          n_jobs=n_jobs)
    if len(table) < 3:
        return None
    sign = 1.0 if prep.maximize else -1.0
    # best first by the estimate; the observed best by its own mean, more runs breaking ties
    table = table.iloc[np.lexsort((-table["n"].to_numpy(), -sign * table["estimate"].to_numpy()))]
    table = table.reset_index(drop=True)
    obs_i = int(np.lexsort((-table["n"].to_numpy(), -sign * table["observed"].to_numpy()))[0])
    best, observed = _row(table, 0), _row(table, obs_i)
    median = float(table["n"].median())
    # rivals: intervals reaching the best's
    high = table["ci_high" if sign > 0 else "ci_low"].to_numpy(dtype=float)
    reach = sign * high >= sign * float(table["ci_low" if sign > 0 else "ci_high"].iloc[0])
    rivals: list[int] = [int(i) for i in np.flatnonzero(reach) if i != 0][:RIVALS]
    if obs_i != 0 and obs_i not in rivals:
        rivals = ([obs_i] + rivals)[:RIVALS]
    if not rivals:  # the runner-up: what the best's own reruns must tell it from
        rivals = [1]
    rivals = sorted(rivals)
    seeds, capped, new_runs = None, False, 0
    sigma = math.sqrt(model["sigma2"])
    if rivals:
        diff = np.abs(table["estimate"].to_numpy()[rivals] - best.estimate)
        need = seeds_for_power(diff, np.full(len(rivals), sigma), np.full(len(rivals), sigma),
                               alpha=alpha / len(rivals), max_seeds=MAX_SEEDS)
        known = need[~np.isnan(need)]  # NaN: no estimated difference to detect
        top = float(known.max()) if known.size else math.inf
        capped = not math.isfinite(top) or top > MAX_SEEDS
        seeds = int(MAX_SEEDS if capped else max(top, 2))
        have = table["n"].to_numpy()[[0] + rivals]
        new_runs = int(np.maximum(seeds - have, 0).sum())
    notes = [_note(model, confidence, len(table))]
    return BestEstimate(
        best=best, observed_best=observed, differ=obs_i != 0, one_run=observed.n == 1,
        lucky=observed.n == 1 or observed.n < median, candidates=tuple(
            _row(table, i) for i in [0] + rivals), seeds=seeds, capped=capped,
        new_runs=new_runs, noise_sd=sigma, noise_from=model["source"], noise_df=model["df"],
        tau=math.sqrt(model["tau2"]), confidence=confidence, n_configs=len(table),
        median_runs=median, metric_scale=prep.metric_scale, table=table, notes=notes)


def _row(table: pd.DataFrame, i: int) -> Estimate:
    r = table.iloc[i]
    values: dict[str, Any] = {f.name: (str(r[f.name]) if f.name == "label" else
                                       int(r[f.name]) if f.name == "n" else float(r[f.name]))
                              for f in dataclasses.fields(Estimate)}
    return Estimate(**values)


def _note(model: dict, confidence: float, n_configs: int) -> str:
    where = (f"the pooled spread of repeated configurations ({model['df']} degrees of freedom)"
             if model["source"] == "repeats" else
             "differences between nearest configurations (no configuration repeats)")
    return (f"Estimated means: each of the {n_configs} configurations' mean shrunk toward a "
            f"forest's prediction from the other configurations ({FOLDS}-fold), by empirical "
            f"Bayes: run-to-run noise sd {math.sqrt(model['sigma2']):.3g} from {where}, the "
            f"forest's typical miss {math.sqrt(model['tau2']):.3g}; {confidence:.0%} intervals "
            "are the posterior's.")
