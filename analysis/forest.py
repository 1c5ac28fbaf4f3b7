"""Forest importance: an ExtraTrees surrogate of the metric, with honest cross-validation.

Impurity importance comes from the forest fitted on every run (the reference practice,
``ExtraTreesRegressor(n_estimators=250, random_state=0)``); permutation importance and the
surrogate's R² come from held-out folds. Encoded columns are summed / permuted together per
original hyperparameter, so a one-hot categorical counts once.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold

from analysis.prepared import Prepared

#: Above this many runs each tree sees a bootstrap sample of this size (``max_samples``) and
#: permutation importance is computed on at most this many held-out rows in total.
MAX_ROWS = 20_000
#: cross-validated R² below which importances are not to be trusted / only rough.
#: row-predictions spent on permutation importance per fold set (params x repeats x rows)
PERM_BUDGET = 2_000_000
R2_UNTRUSTED = 0.1
R2_ROUGH = 0.5


@dataclasses.dataclass
class ForestResult:
    """``table``: ``param, impurity, impurity_std, permutation, permutation_std`` sorted by
    permutation (desc); ``cv_r2``/``cv_r2_std``: mean/std over folds of the out-of-fold R²."""

    table: pd.DataFrame
    cv_r2: float
    cv_r2_std: float
    warnings: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    n_folds: int = 0
    grouped_cv: bool = False


def param_columns(prep: Prepared, params: list[str] | None = None) -> dict[str, list[int]]:
    """Map each analysed hyperparameter to the positions of its encoded columns in ``prep.X``."""
    params = list(prep.params if params is None else params)
    cols = list(prep.X.columns)
    out = {p: [i for i, c in enumerate(cols) if prep.feature_param.get(c) == p] for p in params}
    return {p: idx for p, idx in out.items() if idx}


def config_ids(prep: Prepared, params: list[str] | None = None) -> np.ndarray:
    """Integer id of each run's configuration (its values of ``params``; NaN is a value)."""
    params = list(prep.params if params is None else params)
    if not params:
        return np.zeros(len(prep.runs), dtype=int)
    keys = prep.runs[params].astype(object).where(prep.runs[params].notna(), "<NA>").astype(str)
    return keys.groupby(params, sort=False, dropna=False).ngroup().to_numpy()


def make_forest(n: int, *, n_estimators: int, random_state: int, n_jobs: int | None,
                max_rows: int = MAX_ROWS, min_samples_leaf: int | None = None) -> ExtraTreesRegressor:
    """The ExtraTrees used throughout: reference settings up to ``max_rows`` runs; beyond that
    each tree sees a bootstrap sample of ``max_rows`` runs and leaves hold >= 3 runs (speed)."""
    big = n > max_rows
    return ExtraTreesRegressor(
        n_estimators=n_estimators,
        random_state=random_state,
        n_jobs=n_jobs,
        bootstrap=big,
        max_samples=max_rows if big else None,
        min_samples_leaf=min_samples_leaf or (3 if big else 1),
    )


def cv_splits(groups: np.ndarray, *, n_splits: int, random_state: int) -> tuple[list, bool]:
    """Folds that never split runs of one configuration; plain shuffled KFold when none repeat."""
    n = len(groups)
    n_groups = len(np.unique(groups))
    grouped = n_groups < n
    k = min(n_splits, n_groups)
    if k < 2:
        return [], grouped
    dummy = np.zeros((n, 1))
    if grouped:
        splitter = GroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        return list(splitter.split(dummy, groups=groups)), True
    splitter = KFold(n_splits=k, shuffle=True, random_state=random_state)
    return list(splitter.split(dummy)), False


def grouped_permutation_importance(model, X: np.ndarray, y: np.ndarray,
                                   groups: dict[str, list[int]], *, n_repeats: int = 5,
                                   random_state: int = 0) -> dict[str, np.ndarray]:
    """Drop in R² when all columns of one group are permuted together (rows shuffled jointly).

    Seeded as :func:`sklearn.inspection.permutation_importance` (every group gets the same
    shuffles), so single-column groups reproduce it exactly. Returns group -> (n_repeats,) drops.
    """
    rng = np.random.RandomState(random_state)
    seed = rng.randint(np.iinfo(np.int32).max + 1)
    baseline = r2_score(y, model.predict(X))
    out = {}
    for name, idx in groups.items():
        rs = np.random.RandomState(seed)
        Xp = X.copy()
        order = np.arange(X.shape[0])
        drops = []
        for _ in range(n_repeats):
            rs.shuffle(order)
            Xp[:, idx] = Xp[np.ix_(order, idx)]  # cumulative, as sklearn does
            drops.append(baseline - r2_score(y, model.predict(Xp)))
        out[name] = np.asarray(drops)
    return out


def forest_importance(prep: Prepared, *, n_estimators: int = 250, random_state: int = 0,
                      n_splits: int = 5, n_jobs: int | None = None, n_repeats: int = 5,
                      max_rows: int = MAX_ROWS) -> ForestResult:
    """ExtraTrees importances per hyperparameter and the surrogate's cross-validated R².

    Parameters
    ----------
    prep : the prepared sweep; uses ``X``, ``y``, ``feature_param`` and ``runs`` (for the
        configuration ids that keep repeated seeds of one configuration in one fold).
    n_estimators, random_state : the forest; every random step is seeded from ``random_state``.
    n_splits : folds (fewer when there are fewer configurations).
    n_jobs : passed to the forest (fit and predict run trees in parallel).
    n_repeats : permutations per hyperparameter and fold.
    max_rows : above this many runs trees use bootstrap samples of this size and permutation
        importance uses at most this many held-out rows.
    """
    groups_cols = param_columns(prep)
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    n = len(y)
    notes: list[str] = []
    warnings: list[str] = []

    if n > max_rows:
        notes.append(
            f"{n} runs: each tree is grown on a bootstrap sample of {max_rows} runs "
            f"(max_samples) with at least 3 runs per leaf, and permutation importance is "
            f"measured on at most {max_rows} held-out runs in total, to keep the forest fast.")
    else:
        notes.append(f"ExtraTrees with {n_estimators} fully grown trees on all {n} runs "
                     f"(random_state={random_state}).")

    full = make_forest(n, n_estimators=n_estimators, random_state=random_state,
                       n_jobs=n_jobs, max_rows=max_rows).fit(X, y)
    impurity = {p: float(full.feature_importances_[idx].sum()) for p, idx in groups_cols.items()}

    cfg = config_ids(prep)
    splits, grouped = cv_splits(cfg, n_splits=n_splits, random_state=random_state)
    if grouped:
        notes.append(
            f"Runs repeat configurations ({len(np.unique(cfg))} configurations for {n} runs): "
            "folds keep all runs of one configuration together (GroupKFold), so the forest "
            "cannot score by remembering configuration means.")
    rng = np.random.RandomState(random_state)
    fold_imp, fold_perm, fold_r2 = [], [], []
    oof = np.full(n, np.nan)
    # permutation cost is params x repeats x rows x trees: keep it to a fixed budget of
    # row-predictions (and at most max_rows held-out rows) so 100k runs x 50 params stay feasible
    perm_rows = min(max_rows, max(PERM_BUDGET // max(len(groups_cols) * n_repeats, 1), 1000))
    per_fold_rows = int(np.ceil(perm_rows / max(len(splits), 1)))
    for k, (train, test) in enumerate(splits):
        model = make_forest(len(train), n_estimators=n_estimators, random_state=random_state + k,
                            n_jobs=n_jobs, max_rows=max_rows).fit(X[train], y[train])
        oof[test] = model.predict(X[test])
        fold_r2.append(r2_score(y[test], oof[test]) if len(test) > 1 else np.nan)
        fold_imp.append([model.feature_importances_[idx].sum() for idx in groups_cols.values()])
        rows = test
        if len(test) > per_fold_rows:
            rows = np.sort(rng.choice(test, per_fold_rows, replace=False))
        perm = grouped_permutation_importance(model, X[rows], y[rows], groups_cols,
                                              n_repeats=n_repeats, random_state=random_state + k)
        fold_perm.append([perm[p].mean() for p in groups_cols])

    names = list(groups_cols)
    if splits:
        fold_imp_a, fold_perm_a = np.asarray(fold_imp), np.asarray(fold_perm)
        cv_r2, cv_r2_std = float(np.nanmean(fold_r2)), float(np.nanstd(fold_r2))
        perm_mean, perm_std = fold_perm_a.mean(axis=0), fold_perm_a.std(axis=0)
        imp_std = fold_imp_a.std(axis=0)
        notes.append(
            f"Cross-validated R² of the forest: {cv_r2:.3f} ± {cv_r2_std:.3f} over {len(splits)} "
            f"folds (pooled out-of-fold R² {r2_score(y, oof):.3f}); permutation importance is the "
            "drop in held-out R² when all encoded columns of a hyperparameter are shuffled "
            f"together ({n_repeats} shuffles per fold); the ± columns are the spread across folds.")
        if any(len(test) > per_fold_rows for _, test in splits):
            notes.append(f"Permutation importance used a random {per_fold_rows} of the "
                         "held-out runs of each fold (to bound its cost).")
    else:
        cv_r2 = cv_r2_std = float("nan")
        perm_mean = perm_std = imp_std = np.full(len(names), np.nan)
        warnings.append("Fewer than two configurations: the forest cannot be cross-validated.")

    if np.isfinite(cv_r2):
        if cv_r2 < R2_UNTRUSTED:
            warnings.append(
                f"The forest cannot predict the metric (cross-validated R² = {cv_r2:.2f}): "
                "importances are not to be trusted.")
        elif cv_r2 < R2_ROUGH:
            warnings.append(
                f"The forest predicts the metric only partly (cross-validated R² = {cv_r2:.2f}): "
                "read the importances as rough.")
    if grouped:
        between = _between_config_share(y, cfg)
        notes.append(f"Between-configuration share of the metric's variance: {between:.2f} "
                     "(seed noise caps any model's R² near this value).")

    table = pd.DataFrame({
        "param": names,
        "impurity": [impurity[p] for p in names],
        "impurity_std": imp_std,
        "permutation": perm_mean,
        "permutation_std": perm_std,
    }).sort_values(["permutation", "impurity"], ascending=False, kind="mergesort")
    return ForestResult(table=table.reset_index(drop=True), cv_r2=cv_r2, cv_r2_std=cv_r2_std,
                        warnings=warnings, notes=notes, n_folds=len(splits), grouped_cv=grouped)


def _between_config_share(y: np.ndarray, cfg: np.ndarray) -> float:
    """Fraction of the run-level sum of squares that lies between configuration means."""
    total = ((y - y.mean()) ** 2).sum()
    if total == 0:
        return float("nan")
    means = pd.Series(y).groupby(cfg).transform("mean").to_numpy()
    return float(((means - y.mean()) ** 2).sum() / total)
