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

from sweepsight.analysis.constants import CV_R2_LOW as R2_UNTRUSTED
from sweepsight.analysis.constants import CV_R2_ROUGH as R2_ROUGH
from sweepsight.analysis.prepared import Prepared

#: Up to this many runs the forest is the reference one (every tree on all runs, fully grown,
#: 5-fold CV with as many trees). Above it the large-sweep approximations apply (see
#: :func:`forest_importance`), each stated in ``notes``.
MAX_ROWS = 20_000
#: Large sweeps: each tree is grown on a bootstrap sample of this many rows (runs, or
#: configuration means when runs repeat configurations).
TREE_ROWS = 5_000
#: Large sweeps: folds and trees per fold forest (CV only estimates R² and permutation drops).
LARGE_SPLITS = 3
LARGE_CV_TREES = 100
#: row-predictions spent on permutation importance per fold set (params x repeats x rows)
PERM_BUDGET = 2_000_000

@dataclasses.dataclass
class ForestResult:
    """``table``: ``param, impurity, impurity_std, permutation, permutation_std`` sorted by
    permutation (desc). ``cv_r2``: the pooled out-of-fold R² (every run's held-out prediction
    against every run's metric, one R² over all runs); ``cv_r2_std``: the spread (std) of the
    per-fold R² values. With few configurations a fold holds one or two of them, so a single
    fold's R² is measured against little more than seed noise: per-fold values say how stable
    the forest is, not how well it predicts."""

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
    key = np.zeros(len(prep.runs), dtype=np.int64)
    for p in params:
        # numbered in order of first appearance, as groupby(sort=False).ngroup() would; the key
        # is re-factorized after each column so it never exceeds the number of runs
        codes, levels = pd.factorize(prep.runs[p], use_na_sentinel=False)
        key = pd.factorize(key * max(len(levels), 1) + codes)[0]
    return key


def make_forest(n: int, *, n_estimators: int, random_state: int, n_jobs: int | None,
                big: bool = False, tree_rows: int = TREE_ROWS,
                min_samples_leaf: int | None = None) -> ExtraTreesRegressor:
    """The ExtraTrees used throughout, for ``n`` training rows: the reference settings unless
    ``big``; then each tree sees a bootstrap sample of ``tree_rows`` rows (when there are more)
    and leaves hold >= 3 rows (speed)."""
    sample = big and n > tree_rows
    return ExtraTreesRegressor(
        n_estimators=n_estimators,
        random_state=random_state,
        n_jobs=n_jobs,
        bootstrap=sample,
        max_samples=tree_rows if sample else None,
        min_samples_leaf=min_samples_leaf or (3 if big else 1),
    )


def config_means(X: np.ndarray, y: np.ndarray, cfg: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per configuration: its encoded values, mean metric and number of runs.

    A tree can never separate runs of one configuration (their encoded rows are identical), so
    a forest grown on the means weighted by run counts makes the same kind of splits, with the
    same impurity decreases, as one grown on the runs, at a fraction of the cost.
    """
    codes, first = np.unique(cfg, return_index=True)
    inverse = np.searchsorted(codes, cfg)
    counts = np.bincount(inverse, minlength=len(codes)).astype(float)
    means = np.bincount(inverse, weights=y, minlength=len(codes)) / counts
    return X[first], means, counts


def fit_forest(X: np.ndarray, y: np.ndarray, cfg: np.ndarray, *, n_estimators: int,
               random_state: int, n_jobs: int | None, big: bool,
               tree_rows: int = TREE_ROWS) -> ExtraTreesRegressor:
    """Fit :func:`make_forest` on the runs, or on configuration means (weighted by their runs)
    when runs repeat configurations: for fully grown trees the same forest in distribution
    (in-sample predictions agree to rounding), at a fraction of the cost."""
    if len(np.unique(cfg)) < len(cfg):
        Xm, ym, w = config_means(X, y, cfg)
        return make_forest(len(ym), n_estimators=n_estimators, random_state=random_state,
                           n_jobs=n_jobs, big=big, tree_rows=tree_rows).fit(Xm, ym,
                                                                             sample_weight=w)
    return make_forest(len(y), n_estimators=n_estimators, random_state=random_state,
                       n_jobs=n_jobs, big=big, tree_rows=tree_rows).fit(X, y)


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
                                   random_state: int = 0,
                                   chunk_rows: int = 100_000) -> dict[str, np.ndarray]:
    """Drop in R² when all columns of one group are permuted together (rows shuffled jointly).

    Seeded as :func:`sklearn.inspection.permutation_importance` (every group gets the same
    shuffles), so single-column groups reproduce it exactly. Returns group -> (n_repeats,) drops.
    The shuffled copies of several groups go through one ``predict`` call (up to ``chunk_rows``
    rows): a forest's per-call overhead (one task per tree) dominates on small held-out sets,
    and rows are predicted independently, so the numbers are the same as one call per shuffle.
    """
    n = X.shape[0]
    if n < 2:  # R² is undefined on one row
        return {name: np.full(n_repeats, np.nan) for name in groups}
    rng = np.random.RandomState(random_state)
    seed = rng.randint(np.iinfo(np.int32).max + 1)
    baseline = r2_score(y, model.predict(X))
    out: dict[str, np.ndarray] = {}
    pending: list[tuple[str, np.ndarray]] = []

    def flush():
        if not pending:
            return
        pred = model.predict(np.vstack([batch for _, batch in pending]))
        start = 0
        for name, batch in pending:
            block = pred[start:start + len(batch)].reshape(n_repeats, n)
            start += len(batch)
            out[name] = np.asarray([baseline - r2_score(y, p) for p in block])
        pending.clear()

    rows = 0
    for name, idx in groups.items():
        rs = np.random.RandomState(seed)
        Xp = X.copy()
        order = np.arange(n)
        batch = np.empty((n_repeats * n, X.shape[1]))
        for r in range(n_repeats):
            rs.shuffle(order)
            Xp[:, idx] = Xp[np.ix_(order, idx)]  # cumulative, as sklearn does
            batch[r * n:(r + 1) * n] = Xp
        if rows and rows + len(batch) > chunk_rows:
            flush()
            rows = 0
        pending.append((name, batch))
        rows += len(batch)
    flush()
    return out


def forest_importance(prep: Prepared, *, n_estimators: int = 250, random_state: int = 0,
                      n_splits: int = 5, n_jobs: int | None = None, n_repeats: int = 5,
                      max_rows: int = MAX_ROWS, tree_rows: int = TREE_ROWS) -> ForestResult:
    """ExtraTrees importances per hyperparameter and the surrogate's cross-validated R².

    Parameters
    ----------
    prep : the prepared sweep; uses ``X``, ``y``, ``feature_param`` and ``runs`` (for the
        configuration ids that keep repeated seeds of one configuration in one fold).
    n_estimators, random_state : the forest; every random step is seeded from ``random_state``.
    n_splits : folds (fewer when there are fewer configurations).
    n_jobs : passed to the forest (fit and predict run trees in parallel; -1: all cores).
    n_repeats : permutations per hyperparameter and fold.
    max_rows : up to this many runs, the reference practice: every tree on all runs, fully
        grown, ``n_splits`` folds of ``n_estimators`` trees (grown on configuration means
        weighted by runs when runs repeat configurations: the same forest, faster). Above it (a large sweep): each
        tree sees a bootstrap sample of ``min(tree_rows, max_rows)`` rows and leaves hold
        >= 3 rows; cross-validation uses at most 3 folds of at most 100 trees. Every
        approximation is stated in ``notes``.
    """
    groups_cols = param_columns(prep)
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    n = len(y)
    notes: list[str] = []
    warnings: list[str] = []
    cfg = config_ids(prep)
    n_cfg = len(np.unique(cfg))
    big = n > max_rows
    tree_rows = min(tree_rows, max_rows)
    cv_trees = n_estimators
    if big:
        means = n_cfg < n
        unit = "configuration means" if means else "runs"
        n_splits, cv_trees = min(n_splits, LARGE_SPLITS), min(n_estimators, LARGE_CV_TREES)
    splits, grouped = cv_splits(cfg, n_splits=n_splits, random_state=random_state)
    if big:
        if (n_cfg if means else n) > tree_rows:
            notes.append(
                f"{n} runs: each tree is grown on a bootstrap sample of {tree_rows} {unit} "
                f"(max_samples) with at least 3 {unit} per leaf, to keep the forest fast.")
        else:
            notes.append(f"{n} runs: trees hold at least 3 {unit} per leaf, to keep the "
                         "forest fast.")
        if splits:
            notes.append(
                f"Cross-validation (which only estimates R² and permutation importance) uses "
                f"{len(splits)} folds of {cv_trees} trees; impurity importance is the mean over "
                f"these fold forests ({len(splits) * cv_trees} trees, each grown outside its "
                "held-out fold) rather than a separate forest on every run.")
    else:
        notes.append(f"ExtraTrees with {n_estimators} fully grown trees on all {n} runs "
                     f"(random_state={random_state}).")
    if n_cfg < n:
        notes.append(
            f"The forests are grown on the {n_cfg} configuration means, each weighted by its "
            "number of runs: no tree can split runs of one configuration apart, so this gives "
            "the same splits and impurity decreases as growing on every run, at a fraction of "
            "the cost; R² and permutation importance are measured on held-out runs.")

    impurity = None
    if not (big and splits):
        full = fit_forest(X, y, cfg, n_estimators=n_estimators, random_state=random_state,
                          n_jobs=n_jobs, big=big, tree_rows=tree_rows)
        fi = full.feature_importances_  # a property that walks every tree: read it once
        impurity = {p: float(fi[idx].sum()) for p, idx in groups_cols.items()}
        del full
    if grouped:
        notes.append(
            f"Runs repeat configurations ({n_cfg} configurations for {n} runs): "
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
        model = fit_forest(X[train], y[train], cfg[train], n_estimators=cv_trees,
                           random_state=random_state + k, n_jobs=n_jobs, big=big,
                           tree_rows=tree_rows)
        oof[test] = model.predict(X[test])
        fold_r2.append(r2_score(y[test], oof[test]) if len(test) > 1 else np.nan)
        fi = model.feature_importances_
        fold_imp.append([fi[idx].sum() for idx in groups_cols.values()])
        rows = test
        if len(test) > per_fold_rows:
            rows = np.sort(rng.choice(test, per_fold_rows, replace=False))
        perm = grouped_permutation_importance(model, X[rows], y[rows], groups_cols,
                                              n_repeats=n_repeats, random_state=random_state + k)
        fold_perm.append([perm[p].mean() for p in groups_cols])

    names = list(groups_cols)
    if splits:
        fold_imp_a, fold_perm_a = np.asarray(fold_imp), np.asarray(fold_perm)
        # pooled, not the mean of per-fold R²: a fold of one or two configurations has almost
        # no between-configuration variance, so its own R² is seed noise over seed noise
        finite_r2 = [r for r in fold_r2 if np.isfinite(r)]
        cv_r2 = float(r2_score(y, oof))
        fold_mean = float(np.mean(finite_r2)) if finite_r2 else float("nan")
        cv_r2_std = float(np.std(finite_r2)) if finite_r2 else float("nan")
        perm_mean, perm_std = fold_perm_a.mean(axis=0), fold_perm_a.std(axis=0)
        imp_std = fold_imp_a.std(axis=0)
        if impurity is None:
            impurity = dict(zip(names, fold_imp_a.mean(axis=0).tolist()))
        notes.append(
            f"Cross-validated R² of the forest: {cv_r2:.3f}, pooled over the held-out predictions "
            f"of all {len(splits)} folds (per-fold R² {fold_mean:.3f} ± "
            f"{cv_r2_std:.3f}: a fold of few configurations measures its R² against little more "
            "than seed noise, so the per-fold values only show the spread); permutation "
            "importance is the "
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
