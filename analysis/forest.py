"""Forest importance: an ExtraTrees surrogate of the metric, with honest cross-validation.

The reference practice is one ``ExtraTreesRegressor(n_estimators=250, random_state=0)`` on every
run for impurity importance. Here its 250 trees are shared out between the cross-validation
folds: each fold forest is grown outside its held-out fold, all their trees together give the
impurity importance, and their held-out predictions give the R² and the permutation importance,
so the stage costs about one forest (``shared_trees=False``: the reference computation, a forest
on every run plus a full forest per fold). Every approximation is a :class:`ForestApprox` flag.
Encoded columns are summed / permuted together per
original hyperparameter, so a one-hot categorical counts once.
"""
from __future__ import annotations

import dataclasses
import enum

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.parallel import Parallel, delayed  # carries sklearn's config to the workers

from sweepsight.analysis.constants import CV_R2_LOW as R2_UNTRUSTED
from sweepsight.analysis.constants import CV_R2_ROUGH as R2_ROUGH
from sweepsight.analysis.grouping import group_ids
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import RANDOM_STATE

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
#: row x tree predictions spent on permutation importance (params x repeats x rows x trees)
PERM_BUDGET = 5_000_000
#: permutation importance uses at least this many held-out runs (all when there are fewer)
PERM_MIN_ROWS = 1_000
#: matrix cells (rows x columns) per predict call of the permutation batches (~64 MB)
MAX_CELLS = 8_000_000


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
    #: held-out R² extrapolated to ``n_estimators`` trees per fold forest (= ``cv_r2`` when
    #: the fold forests have that many); the gap is the error of measuring with fewer trees
    cv_r2_full: float = float("nan")
    #: trees per fold forest; trees behind the impurity importance
    cv_trees: int = 0
    n_trees: int = 0
    #: held-out runs per fold used for permutation importance (0: all of them)
    perm_rows: int = 0
    #: shuffles per hyperparameter and fold
    perm_repeats: int = 0
    approximations: list = dataclasses.field(default_factory=list)  # list[ForestApprox]


def param_columns(prep: Prepared, params: list[str] | None = None) -> dict[str, list[int]]:
    """Map each analysed hyperparameter to the positions of its encoded columns in ``prep.X``."""
    params = list(prep.params if params is None else params)
    cols = list(prep.X.columns)
    out = {p: [i for i, c in enumerate(cols) if prep.feature_param.get(c) == p] for p in params}
    return {p: idx for p, idx in out.items() if idx}


def config_ids(prep: Prepared, params: list[str] | None = None) -> np.ndarray:
    """Integer id of each run's configuration (its values of ``params``; NaN is a value),
    numbered in order of first appearance (:func:`analysis.grouping.group_ids`)."""
    params = list(prep.params if params is None else params)
    return group_ids([prep.runs[p] for p in params], n=len(prep.runs))


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
                                   random_state: int = RANDOM_STATE,
                                   chunk_rows: int | None = None) -> dict[str, np.ndarray]:
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
    baseline = _r2(y, model.predict(X))
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
            out[name] = baseline - _r2(y, block)
        pending.clear()

    if chunk_rows is None:  # bounded memory however wide X is
        chunk_rows = max(MAX_CELLS // max(X.shape[1], 1), 1)
    rows = 0
    for name, idx in groups.items():
        rs = np.random.RandomState(seed)
        Xp = X.copy()
        order = np.arange(n)
        batch = np.empty((n_repeats * n, X.shape[1]), dtype=X.dtype)
        for r in range(n_repeats):
            rs.shuffle(order)
            Xp[:, idx] = Xp[np.ix_(order, np.asarray(idx))]  # cumulative, as sklearn does
            batch[r * n:(r + 1) * n] = Xp
        if rows and rows + len(batch) > chunk_rows:
            flush()
            rows = 0
        pending.append((name, batch))
        rows += len(batch)
    flush()
    return out


class ForestApprox(str, enum.Enum):
    """Where :func:`forest_importance` departs from the reference computation (a separate
    250-tree forest on every run for impurity, k-fold CV with 250 trees a fold, permutation on
    every held-out run). Each is also said in ``notes``."""

    #: impurity is the mean over the fold forests' trees (each grown outside its held-out fold,
    #: on (k-1)/k of the configurations), not a separate forest on every run
    SHARED_TREES = "shared_trees"
    #: the held-out R² and permutation importance come from fold forests of ``cv_trees`` <
    #: ``n_estimators`` trees; ``cv_r2_full`` extrapolates the R² to ``n_estimators`` trees
    CV_TREES = "cv_trees"
    #: permutation importance on a random ``perm_rows`` of each fold's held-out runs
    PERMUTATION_SAMPLE = "permutation_sample"
    #: many parameters: fewer shuffles per fold than ``n_repeats`` (``perm_repeats``)
    PERMUTATION_REPEATS = "permutation_repeats"
    #: large sweep: each tree grown on a bootstrap sample of ``tree_rows`` rows
    TREE_SAMPLE = "tree_sample"
    #: large sweep: leaves hold >= 3 rows
    MIN_LEAF = "min_leaf"


def _r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray | float:
    """``sklearn.metrics.r2_score`` of each row of ``pred`` (1-d: one score), without its
    input checks (a few ms per call, which add up over params x repeats x folds)."""
    sst = float(((y - y.mean()) ** 2).sum())
    sse = ((pred - y) ** 2).sum(axis=-1)
    if sst > 0:
        return 1.0 - sse / sst
    # as sklearn: a constant y scores 1 when predicted exactly, else 0
    return np.where(sse == 0, 1.0, 0.0) if np.ndim(sse) else float(sse == 0)


def forest_importance(prep: Prepared, *, n_estimators: int = 250, random_state: int = RANDOM_STATE,
                      n_splits: int = 5, n_jobs: int | None = None, n_repeats: int = 5,
                      max_rows: int = MAX_ROWS, tree_rows: int = TREE_ROWS,
                      shared_trees: bool = True, perm_budget: int = PERM_BUDGET
                      ) -> ForestResult:
    """ExtraTrees importances per hyperparameter and the surrogate's cross-validated R².

    Parameters
    ----------
    prep : the prepared sweep; uses ``X``, ``y``, ``feature_param`` and ``runs`` (for the
        configuration ids that keep repeated seeds of one configuration in one fold).
    n_estimators, random_state : the forest; every random step is seeded from ``random_state``.
    n_splits : folds (fewer when there are fewer configurations).
    n_jobs : passed to the forest (fit and predict run trees in parallel; -1: all cores).
    n_repeats : permutations per hyperparameter and fold.
    max_rows : up to this many runs, fully grown trees on every run (on configuration means
        weighted by runs when runs repeat configurations: the same forest, faster). Above it (a
        large sweep): each tree sees a bootstrap sample of ``min(tree_rows, max_rows)`` rows,
        leaves hold >= 3 rows, cross-validation uses at most 3 folds of at most 100 trees.
    shared_trees : the ``n_estimators`` trees are split between the fold forests
        (``n_estimators / folds`` trees each): their trees make the impurity importance, their
        held-out predictions the R² and the permutation importance, so the stage costs about
        one forest. False: the reference computation (a forest on every run for impurity plus
        ``n_splits`` forests of ``n_estimators`` trees), about ``n_splits + 1`` forests.
    perm_budget : row x tree predictions spent on permutation importance (params x repeats x
        held-out rows x trees per fold forest); held-out rows beyond it are sampled (at least
        :data:`PERM_MIN_ROWS`).

    Every departure from the reference is listed in ``approximations`` and said in ``notes``.
    """
    groups_cols = param_columns(prep)
    names = list(groups_cols)
    X = prep.X.to_numpy(dtype=float)
    y = prep.y.to_numpy(dtype=float)
    n = len(y)
    notes: list[str] = []
    warnings: list[str] = []
    approx: list[ForestApprox] = []
    cfg = config_ids(prep)
    n_cfg = len(np.unique(cfg))
    means = n_cfg < n
    unit = "configuration means" if means else "runs"
    big = n > max_rows
    tree_rows = min(tree_rows, max_rows)
    if big:
        n_splits = min(n_splits, LARGE_SPLITS)
    splits, grouped = cv_splits(cfg, n_splits=n_splits, random_state=random_state)
    share = bool(splits) and (big or shared_trees)
    if big:
        cv_trees = min(n_estimators, LARGE_CV_TREES)
        if (n_cfg if means else n) > tree_rows:
            approx.append(ForestApprox.TREE_SAMPLE)
        approx.append(ForestApprox.MIN_LEAF)
    elif share:
        cv_trees = int(np.ceil(n_estimators / len(splits)))
    else:
        cv_trees = n_estimators
    if share:
        approx.append(ForestApprox.SHARED_TREES)
    if splits and cv_trees < n_estimators:
        approx.append(ForestApprox.CV_TREES)

    impurity = None
    if not share:
        full = fit_forest(X, y, cfg, n_estimators=n_estimators, random_state=random_state,
                          n_jobs=n_jobs, big=big, tree_rows=tree_rows)
        fi = full.feature_importances_  # a property that walks every tree: read it once
        impurity = {p: float(fi[idx].sum()) for p, idx in groups_cols.items()}
        del full
    rng = np.random.RandomState(random_state)
    fold_imp, fold_perm, fold_r2 = [], [], []
    oof = np.full(n, np.nan)
    oof_var = np.zeros(n)  # variance of the trees' predictions around their mean, per run
    # permutation cost is params x repeats x rows x trees: keep it to a fixed budget
    # (many parameters: fewer shuffles per fold before fewer than PERM_MIN_ROWS rows)
    per_row = max(len(names) * cv_trees, 1)  # predictions per held-out row and shuffle
    perm_repeats = int(np.clip(perm_budget // (per_row * PERM_MIN_ROWS), 1, n_repeats))
    if perm_repeats < n_repeats:
        approx.append(ForestApprox.PERMUTATION_REPEATS)
    perm_rows = int(np.clip(perm_budget // (per_row * perm_repeats), PERM_MIN_ROWS, max_rows))
    per_fold_rows = int(np.ceil(perm_rows / max(len(splits), 1)))
    X32 = np.asarray(X, dtype=np.float32)  # what the trees predict on
    for k, (train, test) in enumerate(splits):
        model = fit_forest(X[train], y[train], cfg[train], n_estimators=cv_trees,
                           random_state=random_state + k, n_jobs=n_jobs, big=big,
                           tree_rows=tree_rows)
        oof[test], oof_var[test] = tree_moments(model, X32[test], n_jobs=n_jobs)
        fold_r2.append(r2_score(y[test], oof[test]) if len(test) > 1 else np.nan)
        fi = model.feature_importances_
        fold_imp.append([fi[idx].sum() for idx in groups_cols.values()])
        rows = test
        if len(test) > per_fold_rows:
            rows = np.sort(rng.choice(test, per_fold_rows, replace=False))
        perm = grouped_permutation_importance(model, X32[rows], y[rows], groups_cols,
                                              n_repeats=perm_repeats,
                                              random_state=random_state + k)
        fold_perm.append([perm[p].mean() for p in groups_cols])
    sampled = any(len(test) > per_fold_rows for _, test in splits)
    if sampled:
        approx.append(ForestApprox.PERMUTATION_SAMPLE)

    cv_r2_full = float("nan")
    if splits:
        fold_imp_a, fold_perm_a = np.asarray(fold_imp), np.asarray(fold_perm)
        # pooled, not the mean of per-fold R²: a fold of one or two configurations has almost
        # no between-configuration variance, so its own R² is seed noise over seed noise
        finite_r2 = [r for r in fold_r2 if np.isfinite(r)]
        cv_r2 = float(r2_score(y, oof))
        cv_r2_full = r2_more_trees(y, oof, oof_var, trees=cv_trees, more=n_estimators)
        fold_mean = float(np.mean(finite_r2)) if finite_r2 else float("nan")
        cv_r2_std = float(np.std(finite_r2)) if finite_r2 else float("nan")
        perm_mean, perm_std = fold_perm_a.mean(axis=0), fold_perm_a.std(axis=0)
        imp_std = fold_imp_a.std(axis=0)
        if impurity is None:
            impurity = dict(zip(names, fold_imp_a.mean(axis=0).tolist()))
    else:
        cv_r2 = cv_r2_std = fold_mean = float("nan")
        perm_mean = perm_std = imp_std = np.full(len(names), np.nan)
        if impurity is None:  # not reached: share needs splits
            impurity = dict.fromkeys(names, float("nan"))
        warnings.append("Fewer than two configurations: the forest cannot be cross-validated.")

    notes += _notes(approx, n=n, n_cfg=n_cfg, unit=unit, n_estimators=n_estimators,
                    random_state=random_state, tree_rows=tree_rows, n_folds=len(splits),
                    cv_trees=cv_trees, per_fold_rows=per_fold_rows, grouped=grouped,
                    cv_r2=cv_r2, cv_r2_full=cv_r2_full, fold_mean=fold_mean,
                    cv_r2_std=cv_r2_std, n_repeats=perm_repeats, asked_repeats=n_repeats)
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
                        warnings=warnings, notes=notes, n_folds=len(splits), grouped_cv=grouped,
                        cv_r2_full=cv_r2_full, cv_trees=cv_trees if splits else 0,
                        n_trees=cv_trees * len(splits) if share else n_estimators,
                        perm_rows=per_fold_rows if sampled else 0, perm_repeats=perm_repeats,
                        approximations=approx)


def tree_moments(model: ExtraTreesRegressor, X32: np.ndarray, *, n_jobs: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean (the forest's prediction) and variance (ddof=1) of the trees' predictions per row.

    ``X32``: float32 rows, as the trees take them. Trees are split over ``n_jobs`` threads.
    """
    trees = model.estimators_
    m = len(trees)
    parts = np.array_split(np.arange(m), max(min(effective_n_jobs(n_jobs), m), 1))

    def moments(idx):
        s, ss = np.zeros(len(X32)), np.zeros(len(X32))
        for i in idx:
            p = trees[i].predict(X32, check_input=False)
            s += p
            ss += p * p
        return s, ss

    out = Parallel(n_jobs=len(parts), prefer="threads")(delayed(moments)(i) for i in parts)
    s = sum(o[0] for o in out)
    ss = sum(o[1] for o in out)
    mean = s / m
    var = np.maximum(ss - s * mean, 0.0) / (m - 1) if m > 1 else np.zeros(len(X32))
    return mean, var


def r2_more_trees(y: np.ndarray, pred: np.ndarray, tree_var: np.ndarray, *, trees: int,
                  more: int) -> float:
    """The R² that forests of ``more`` trees would reach, from forests of ``trees`` trees.

    A forest's prediction is the mean of ``trees`` trees drawn independently given the training
    data, so its expected squared error is the infinite forest's plus the trees' variance over
    the number of trees: SSE(more) = SSE(trees) − Σ var / trees + Σ var / more, with each run's
    tree variance (``tree_var``, ddof=1) estimated from the trees themselves.
    """
    sst = float(((y - y.mean()) ** 2).sum())
    if not sst > 0:
        return float("nan")
    sse = float(((pred - y) ** 2).sum())
    v = float(tree_var.sum())
    return 1.0 - (sse - v / trees + v / more) / sst


def _notes(approx: list[ForestApprox], *, n, n_cfg, unit, n_estimators, random_state,
           tree_rows, n_folds, cv_trees, per_fold_rows, grouped, cv_r2, cv_r2_full, fold_mean,
           cv_r2_std, n_repeats, asked_repeats) -> list[str]:
    """The notes for a forest run, one sentence per fact (the flags are the facts)."""
    notes = []
    if ForestApprox.TREE_SAMPLE in approx:
        notes.append(f"{n} runs: each tree is grown on a bootstrap sample of {tree_rows} {unit} "
                     f"(max_samples) with at least 3 {unit} per leaf, to keep the forest fast.")
    elif ForestApprox.MIN_LEAF in approx:
        notes.append(f"{n} runs: trees hold at least 3 {unit} per leaf, to keep the forest fast.")
    if ForestApprox.SHARED_TREES in approx:
        notes.append(
            f"ExtraTrees (random_state={random_state}): {n_folds} folds of {cv_trees} trees; "
            f"impurity importance is the mean over these fold forests ({n_folds * cv_trees} "
            "trees, each grown outside its held-out fold) rather than a separate forest on "
            "every run, and the same trees give the held-out R² and permutation importance.")
    else:
        notes.append(f"ExtraTrees with {n_estimators} fully grown trees on all {n} runs "
                     f"(random_state={random_state}); cross-validation with {n_folds} folds "
                     f"of {cv_trees} trees.")
    if n_cfg < n:
        notes.append(
            f"The forests are grown on the {n_cfg} configuration means, each weighted by its "
            "number of runs: no tree can split runs of one configuration apart, so this gives "
            "the same splits and impurity decreases as growing on every run, at a fraction of "
            "the cost; R² and permutation importance are measured on held-out runs.")
    if grouped:
        notes.append(
            f"Runs repeat configurations ({n_cfg} configurations for {n} runs): "
            "folds keep all runs of one configuration together (GroupKFold), so the forest "
            "cannot score by remembering configuration means.")
    if n_folds:
        notes.append(
            f"Cross-validated R² of the forest: {cv_r2:.3f}, pooled over the held-out "
            f"predictions of all {n_folds} folds (per-fold R² {fold_mean:.3f} ± "
            f"{cv_r2_std:.3f}: a fold of few configurations measures its R² against little "
            "more than seed noise, so the per-fold values only show the spread); permutation "
            "importance is the drop in held-out R² when all encoded columns of a "
            f"hyperparameter are shuffled together ({n_repeats} shuffles per fold); the ± "
            "columns are the spread across folds.")
    if ForestApprox.CV_TREES in approx:
        notes.append(
            f"The held-out R² is that of fold forests of {cv_trees} trees; with "
            f"{n_estimators} trees a fold it would be about {cv_r2_full:.3f} (estimated from "
            "the spread of the trees' own predictions; more trees only average that spread "
            f"away), a difference of {cv_r2_full - cv_r2:+.3f}.")
    if ForestApprox.PERMUTATION_SAMPLE in approx:
        notes.append(f"Permutation importance used a random {per_fold_rows} of the "
                     "held-out runs of each fold (to bound its cost).")
    if ForestApprox.PERMUTATION_REPEATS in approx:
        notes.append(f"With this many hyperparameters, permutation importance shuffles each "
                     f"{n_repeats} time{'s' if n_repeats != 1 else ''} per fold (instead of "
                     f"{asked_repeats}), to bound its cost; the ± is still the spread across "
                     "folds.")
    return notes


def _between_config_share(y: np.ndarray, cfg: np.ndarray) -> float:
    """Fraction of the run-level sum of squares that lies between configuration means."""
    total = ((y - y.mean()) ** 2).sum()
    if total == 0:
        return float("nan")
    means = pd.Series(y).groupby(cfg).transform("mean").to_numpy()
    return float(((means - y.mean()) ** 2).sum() / total)
