"""An OLS linear model of the target on the hyperparameters (statsmodels)."""
from __future__ import annotations

import contextlib
import dataclasses
import warnings as _warnings

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant
from scipy.linalg import solve_triangular

from sweepsight.analysis.constants import VIF_HIGH as VIF_LIMIT
from sweepsight.analysis.prepared import Prepared

COLUMNS = ["term", "param", "coef", "std_err", "ci_low", "ci_high", "p_value", "vif", "reference"]
CONDITION_LIMIT = 30.0
COLLINEAR_TOL = 1e-9  # share of a column's variance left after projecting on the earlier ones


@dataclasses.dataclass
class LinearResult:
    """The fitted model: one row per term in ``table`` plus fit statistics."""

    table: pd.DataFrame
    r2: float
    r2_adj: float
    condition_number: float
    n: int
    warnings: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    intercept: float = float("nan")
    dropped: list[str] = dataclasses.field(default_factory=list)


def design(prep: Prepared) -> tuple[pd.DataFrame, dict[str, str], dict[str, str], list[str]]:
    """The model's inputs before any column is dropped.

    Returns ``(Z, term_param, reference, notes)``: numeric columns z-scored (sample SD) on their
    encoded scale, categoricals as 0/1 columns for every level but the reference (the most
    frequent level; ties go to the first in sorted order), then the ``__missing`` indicators.
    """
    X = prep.X
    names = [str(c) for c in X.columns]  # a plain list: iterating an Arrow-backed Index is slow
    pos = {c: i for i, c in enumerate(names)}
    values = X.to_numpy(dtype=float)  # one conversion, then columns by position
    cols: dict[str, np.ndarray] = {}
    term_param: dict[str, str] = {}
    reference: dict[str, str] = {}
    notes: list[str] = []
    numeric = set(prep.numeric)
    indicators = [c for c in names if c.endswith("__missing") and prep.feature_param[c] in numeric]
    by_param: dict[str, list[str]] = {}
    for c in names:
        if not c.endswith("__missing"):
            by_param.setdefault(prep.feature_param[c], []).append(c)
    for p in prep.numeric:
        v = values[:, pos[p]]
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        cols[p] = (v - v.mean()) / sd if sd > 0 else v - v.mean()
        term_param[p] = p
    for p in prep.categorical:
        levels = by_param.get(p, [])
        counts = values[:, [pos[c] for c in levels]].sum(axis=0)
        ref = levels[int(np.argmax(counts))]  # first maximum: levels are in sorted order
        ref_level = ref[len(p) + 1:]
        for c in levels:
            if c == ref:
                continue
            cols[c] = values[:, pos[c]]
            term_param[c] = p
            reference[c] = ref_level
        notes.append(f"{p}: each level compared with the most frequent, {ref_level!r}.")
    for c in indicators:
        cols[c] = values[:, pos[c]]
        term_param[c] = prep.feature_param[c]
    Z = pd.DataFrame(cols, index=X.index)
    if prep.numeric:
        scaled = [f"log10({p})" if p in prep.log_scaled else p for p in prep.numeric]
        notes.insert(0, "Numeric coefficients are the change in y per standard deviation of "
                        + ", ".join(scaled) + ".")
    return Z, term_param, reference, notes


def _centered_gram(Z: np.ndarray) -> np.ndarray:
    """``C.T @ C`` for the column-centred ``Z``: one pass over the runs."""
    mean = Z.mean(axis=0)
    return Z.T @ Z - len(Z) * np.outer(mean, mean)


def _independent(G: np.ndarray, *, block: int = 128) -> list[int]:
    """Indices of columns kept, in order, skipping any column that is (numerically) a linear
    combination of the intercept and the columns kept before it (``G``: centred Gram matrix).

    A column's residual after projecting on the kept columns before it is its pivot in a
    Cholesky factorisation of ``G`` in column order; the factorisation skips the columns whose
    pivot falls below ``COLLINEAR_TOL`` of their variance. Done in blocks of ``block`` columns
    (one triangular solve per block against the kept factor, then the block's own pivots one by
    one on its small Schur complement): O(k³) in all, not one least-squares fit per column.
    """
    k = G.shape[0]
    kept: list[int] = []
    L = np.zeros((0, 0))  # Cholesky factor of G[kept, kept]
    for start in range(0, k, block):
        idx = np.arange(start, min(start + block, k))
        if kept:
            W = solve_triangular(L, G[np.ix_(np.asarray(kept), idx)], lower=True, check_finite=False)
            S = G[np.ix_(idx, idx)] - W.T @ W  # residual Gram of the block given kept
        else:
            W = np.zeros((0, len(idx)))
            S = G[np.ix_(idx, idx)].copy()
        new: list[int] = []
        rows = np.zeros((0, len(idx)))  # the block's new factor rows (in block coordinates)
        for j in range(len(idx)):
            total = G[idx[j], idx[j]]
            if total <= 0 or not np.isfinite(total):
                continue
            resid = S[j, j] - rows[:, j] @ rows[:, j]
            if resid / total > COLLINEAR_TOL:
                row = np.zeros(len(idx))
                row[j:] = (S[j, j:] - rows[:, j] @ rows[:, j:]) / np.sqrt(resid)
                rows = np.vstack([rows, row])
                new.append(j)
        if new:
            m, b = len(kept), len(new)
            grown = np.zeros((m + b, m + b))
            grown[:m, :m] = L
            grown[m:, :m] = W[:, new].T
            grown[m:, m:] = rows[:, new].T
            L = grown
            kept += [int(idx[j]) for j in new]
    return kept


def fit_linear(prep: Prepared, *, robust: bool = False) -> LinearResult:
    """Fit ``y ~ terms`` by OLS with an intercept.

    Exactly collinear columns are dropped (with a warning) instead of making the fit singular;
    with too few runs for the terms, the terms with the strongest marginal correlation are kept.
    ``robust=True`` uses HC3 standard errors.

    Returns
    -------
    LinearResult
        ``table`` with ``term, param, coef, std_err, ci_low, ci_high, p_value, vif, reference``
        (``reference``: the level a categorical term is compared with), sorted by p-value.
    """
    Z, term_param, reference, notes = design(prep)
    warnings: list[str] = []
    y = prep.y.to_numpy(dtype=float)
    n = len(y)
    names = list(Z.columns)
    values = Z.to_numpy(dtype=float)

    G = _centered_gram(values) if names else np.zeros((0, 0))
    kept = _independent(G) if names else []
    dropped = [names[j] for j in range(len(names)) if j not in kept]
    if dropped:
        warnings.append(
            "Dropped exactly collinear terms (each is a linear combination of the intercept and "
            f"the terms before it, so its effect cannot be told apart): {', '.join(dropped)}."
        )
    names = [names[j] for j in kept]
    values = values[:, kept]

    if n <= len(names) + 1:
        room = max(n - 2, 0)
        strength = np.abs([_pearson(values[:, j], y) for j in range(len(names))])
        keep = sorted(np.argsort(-strength, kind="stable")[:room])
        cut = [names[j] for j in range(len(names)) if j not in keep]
        warnings.append(
            f"Only {n} runs for {len(names)} terms plus an intercept: fitted the {room} terms "
            f"with the strongest marginal correlation and left out {', '.join(cut)}; "
            "run more configurations for a full model."
        )
        dropped += cut
        names = [names[j] for j in keep]
        values = values[:, keep]
        kept = [kept[j] for j in keep]

    exog = add_constant(values, has_constant="add") if names else np.ones((n, 1))
    # Fit y / scale so that tiny (subnormal) or huge metrics do not under/overflow in sums of
    # squares; coefficients and intervals are scaled back, p-values and R² do not change.
    scale = float(np.max(np.abs(y))) if n else 1.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    model = OLS(y / scale, exog)
    with np.errstate(all="ignore"), _quiet():
        # pinv: one SVD of the design (statsmodels' "qr" path computes the pinv as well).
        fit = model.fit(cov_type="HC3") if robust else model.fit()
        coef = np.asarray(fit.params, dtype=float) * scale
        se = np.asarray(fit.bse, dtype=float) * scale
        ci = np.asarray(fit.conf_int(), dtype=float) * scale
        pv = np.asarray(fit.pvalues, dtype=float)
        ssr, r2, r2_adj = float(fit.ssr), float(fit.rsquared), float(fit.rsquared_adj)
        eigenvals = np.asarray(fit.eigenvals, dtype=float)
    if robust:
        notes.append("Standard errors are heteroskedasticity-robust (HC3).")
    yc = y / scale - np.mean(y / scale)
    tss = float(yc @ yc)
    constant_y = bool(np.all(y == y[0])) or not tss > 0
    exact = (not constant_y) and ssr <= 1e-20 * tss
    if constant_y:
        warnings.append("The target is the same in every run (to floating-point precision): there is nothing to explain.")
    elif exact:
        warnings.append("The model fits the runs exactly (no residual): standard errors and "
                        "p-values are not meaningful.")
    bad = ~np.isfinite(se) | ~np.isfinite(pv) | ~np.all(np.isfinite(ci), axis=1)
    if bad.any():
        if not (constant_y or exact):
            warnings.append("Some standard errors could not be computed (a run with leverage 1?); "
                            "they are shown as 0 with p = 1.")
        se = np.where(bad, 0.0, se)
        pv = np.where(bad, np.where(np.abs(coef) > 0, 0.0 if exact else 1.0, 1.0), pv)
        ci = np.where(bad[:, None], coef[:, None], ci)

    Gk = G[np.ix_(kept, kept)]
    vif = _vif(Gk)
    table = pd.DataFrame({
        "term": names,
        "param": [term_param[t] for t in names],
        "coef": coef[1:],
        "std_err": se[1:],
        "ci_low": ci[1:, 0],
        "ci_high": ci[1:, 1],
        "p_value": pv[1:],
        "vif": vif,
        "reference": [reference.get(t) for t in names],
    }, columns=COLUMNS)
    table = table.sort_values("p_value", kind="stable").reset_index(drop=True)

    if constant_y or not (np.isfinite(r2) and np.isfinite(r2_adj)):
        r2 = r2_adj = 0.0
    cond = _condition_number(eigenvals) if names else 1.0
    if cond > CONDITION_LIMIT:
        warnings.append(f"Condition number {cond:.3g} > {CONDITION_LIMIT:g} after standardising: "
                        "terms are nearly collinear, so single coefficients are unstable.")
    high = table.loc[table["vif"] > VIF_LIMIT, "term"].tolist()
    if high:
        warnings.append(f"Variance inflation above {VIF_LIMIT:g} for {', '.join(high)}: "
                        "their effects are hard to separate from the other terms.")
    notes.append(f"OLS on {n} runs with {len(names)} terms: R² = {r2:.3f} (adjusted {r2_adj:.3f}).")
    return LinearResult(table=table, r2=r2, r2_adj=r2_adj, condition_number=cond, n=n,
                        warnings=warnings, notes=notes, intercept=float(coef[0]), dropped=dropped)


@contextlib.contextmanager
def _quiet():
    """Silence statsmodels' RuntimeWarnings on degenerate fits: they become our warnings."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xm, ym = x - x.mean(), y - y.mean()
    denom = np.sqrt((xm @ xm) * (ym @ ym))
    return float(xm @ ym / denom) if denom > 0 else 0.0


def _vif(G: np.ndarray) -> np.ndarray:
    """Variance inflation factors: the diagonal of the inverse correlation matrix (``G``:
    centred Gram matrix of the terms)."""
    k = G.shape[0]
    if k == 0:
        return np.zeros(0)
    if k == 1:
        return np.ones(1)
    d = np.sqrt(np.diag(G))
    R = G / np.outer(d, d)
    v = np.diag(np.linalg.pinv(R, hermitian=True))
    return np.maximum(v, 1.0)


def _condition_number(eig: np.ndarray) -> float:
    """As statsmodels' ``condition_number``: sqrt of the eigenvalue ratio of ``exog.T @ exog``
    (the eigenvalues come from the fit's SVD; a rounding-level smallest one is floored)."""
    eig = np.sort(eig)
    floor = eig[-1] * np.finfo(float).eps
    return float(np.sqrt(eig[-1] / max(eig[0], floor))) if eig[-1] > 0 else 1.0
