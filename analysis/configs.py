"""Configurations of a sweep (runs grouped by their hyperparameters) and their neighbours.

A configuration is one combination of the analysed hyperparameters; the runs that share it
(different seeds, or the same point sampled twice) are its repeats. Two configurations are
neighbours when they differ in exactly one hyperparameter: by one step among the values present
for a numeric one (the others held fixed), or by any other level of a categorical one.
Neighbours are found by hashing on the other hyperparameters, so the cost grows with
configurations x neighbours, never configurations squared.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from sweepsight.analysis.grouping import first_rows, group_ids
from sweepsight.analysis.scale import tiny_safe_std

INACTIVE = "inactive"  # a conditional hyperparameter switched off by another
MISSING = "missing"  # a value absent from a run for no stated reason


@dataclasses.dataclass
class Grouped:
    """Runs grouped into configurations.

    ``codes`` is (configs x params) int: the position of each configuration's value in the sorted
    levels of that param, -1 where the param is inactive (NaN/None). ``levels[p]`` are those
    levels (original values, or bin labels when coarsened). Configurations are ordered best
    first; ``y`` holds every run's value, ``start``/``n`` slice it per configuration.
    """

    params: list[str]
    codes: np.ndarray
    levels: dict[str, list]
    y: np.ndarray
    start: np.ndarray
    n: np.ndarray
    table: pd.DataFrame
    #: every run's value as logged, in the order of ``y`` (None: same as ``y``)
    y_raw: np.ndarray | None = None

    def values(self, i: int) -> np.ndarray:
        return self.y[self.start[i]:self.start[i] + self.n[i]]

    def matrix(self, idx: np.ndarray, k: int) -> np.ndarray:
        """Values of configurations ``idx`` (all with ``k`` runs) as an (len(idx) x k) array."""
        return self.y[self.start[idx][:, None] + np.arange(k)[None, :]]


def encode(col: pd.Series, *, numeric: bool) -> tuple[np.ndarray, list]:
    """Integer codes of one param column (-1 where inactive) and the sorted levels they index."""
    na = col.isna().to_numpy()
    codes = np.full(len(col), -1, dtype=np.int64)
    if numeric:
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        na = na | np.isnan(vals)
        levels = np.unique(vals[~na])
        codes[~na] = np.searchsorted(levels, vals[~na])
        return codes, [float(v) for v in levels]
    active = col.astype(object).to_numpy()[~na]
    found, uniques = pd.factorize(active, sort=False)
    order = sorted(range(len(uniques)), key=lambda i: (str(type(uniques[i])), str(uniques[i])))
    remap = np.empty(len(uniques), dtype=np.int64)
    remap[order] = np.arange(len(uniques))
    codes[~na] = remap[found]
    return codes, [uniques[i] for i in order]


def format_value(value) -> str:
    """Short readable text for one param value ("inactive" for NaN/None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return INACTIVE
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer() and abs(float(value)) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def coarsen(runs: pd.DataFrame, numeric: list[str], log_scaled: list[str], *,
            bins: int) -> tuple[pd.DataFrame, dict[str, list[float]], dict[str, list[str]]]:
    """Quantile-bin every numeric param with more than ``2 * bins`` distinct values.

    Returns the runs with those columns replaced by bin labels (``"[0.001, 0.01)"``; NaN stays
    NaN), a dict param -> bin edges on the original scale and a dict param -> bin labels in
    ascending order. Bins are quantiles of the log10 values for ``log_scaled`` params.
    """
    out = runs.copy()
    edges_by_param: dict[str, list[float]] = {}
    labels_by_param: dict[str, list[str]] = {}
    for p in numeric:
        vals = pd.to_numeric(runs[p], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        active = ~np.isnan(vals)
        if np.unique(vals[active]).size <= 2 * bins:
            continue
        use_log = p in log_scaled and bool(np.all(vals[active] > 0))
        scaled = np.log10(vals[active]) if use_log else vals[active]
        edges = np.unique(np.quantile(scaled, np.linspace(0.0, 1.0, bins + 1)))
        which = np.clip(np.searchsorted(edges[1:-1], scaled, side="right"), 0, len(edges) - 2)
        raw_edges = 10.0 ** edges if use_log else edges
        labels = _bin_labels(raw_edges)
        col = pd.Series(pd.Categorical.from_codes(np.asarray(which, dtype=np.int64),
                                                  categories=pd.Index(labels),
                                                  ordered=True))
        new = pd.Series([np.nan] * len(runs), index=runs.index, dtype=object)
        new[active] = col.astype(object).to_numpy()
        out[p] = new
        edges_by_param[p] = [float(e) for e in raw_edges]
        labels_by_param[p] = labels
    return out, edges_by_param, labels_by_param


def _bin_labels(edges: np.ndarray) -> list[str]:
    """``[lo, hi)`` labels (last one closed), with enough digits to tell the edges apart."""
    for digits in range(3, 18):
        text = [f"{e:.{digits}g}" for e in edges]
        if len(set(text)) == len(text):
            break
    last = len(edges) - 2
    return [f"[{text[i]}, {text[i + 1]}" + ("]" if i == last else ")") for i in range(last + 1)]


def group_configs(runs: pd.DataFrame, params: list[str], numeric: set[str], *,
                  maximize: bool, ordered_labels: dict[str, list] | None = None,
                  conditional: frozenset[str] | set[str] = frozenset()) -> Grouped:
    """Group runs by all ``params`` (NaN is its own value) and rank configurations best first.

    ``ordered_labels`` gives, for coarsened params, the bin labels in ascending order (they are
    then treated as ordered, numeric-like levels). In labels a NaN reads "inactive" for the
    ``conditional`` params and "missing" for the others.
    """
    ordered_labels = ordered_labels or {}
    y = runs["y"].to_numpy(dtype=float)
    y_raw = runs["y_raw"].to_numpy(dtype=float) if "y_raw" in runs else y
    codes_cols, levels = [], {}
    for p in params:
        if p in ordered_labels:
            labels = ordered_labels[p]
            pos = {lab: i for i, lab in enumerate(labels)}
            c = np.array([pos.get(v, -1) if isinstance(v, str) else -1 for v in runs[p]],
                         dtype=np.int64)
            codes_cols.append(c)
            levels[p] = list(labels)
        else:
            c, lev = encode(runs[p], numeric=p in numeric)
            codes_cols.append(c)
            levels[p] = lev
    k = np.column_stack(codes_cols) if codes_cols else np.zeros((len(runs), 0), dtype=np.int64)
    if len(runs) == 0:
        uniq, inv = np.zeros((0, k.shape[1]), dtype=np.int64), np.zeros(0, dtype=np.int64)
    elif k.shape[1] == 0:
        uniq, inv = np.zeros((1, 0), dtype=np.int64), np.zeros(len(runs), dtype=np.int64)
    else:
        inv = group_ids(list(k.T), sort=True)
        uniq = k[first_rows(inv)]
    n_cfg = uniq.shape[0]
    n = np.bincount(inv, minlength=n_cfg)
    sums = np.bincount(inv, weights=y, minlength=n_cfg)
    mean = np.divide(sums, n, out=np.full(n_cfg, np.nan), where=n > 0)
    mean_raw = np.divide(np.bincount(inv, weights=y_raw, minlength=n_cfg), n,
                         out=np.full(n_cfg, np.nan), where=n > 0)
    # best first; ties broken by more runs, then by the codes (stable, deterministic)
    key = -mean if maximize else mean
    order = np.lexsort(tuple(uniq[:, j] for j in range(uniq.shape[1] - 1, -1, -1)) + (-n, key)) \
        if n_cfg else np.zeros(0, dtype=np.int64)
    new_of_old = np.empty(n_cfg, dtype=np.int64)
    new_of_old[order] = np.arange(n_cfg)
    inv = new_of_old[inv]
    uniq, n, mean, mean_raw = uniq[order], n[order], mean[order], mean_raw[order]
    run_order = np.argsort(inv, kind="stable")
    y_sorted = y[run_order]
    y_raw_sorted = y_raw[run_order]
    start = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64) if n_cfg else n.copy()

    grouped = Grouped(params=list(params), codes=uniq, levels=levels, y=y_sorted,
                      start=start, n=n, table=pd.DataFrame(), y_raw=y_raw_sorted)
    width = max(4, len(str(n_cfg)))
    values = [v.tolist() for v in np.split(y_sorted, start[1:])] if n_cfg else []
    std, median = np.full(n_cfg, np.nan), np.full(n_cfg, np.nan)
    std_raw = np.full(n_cfg, np.nan)
    for k in np.unique(n):
        idx = np.flatnonzero(n == k)
        mat = grouped.matrix(idx, int(k))
        median[idx] = np.median(mat, axis=1)
        if k > 1:
            std[idx] = mat.std(axis=1, ddof=1)
            raw = y_raw_sorted[start[idx][:, None] + np.arange(int(k))[None, :]]
            std_raw[idx] = tiny_safe_std(raw, axis=1)
    cols = {}
    config_labels = np.full(n_cfg, "", dtype=object)
    for j, p in enumerate(params):
        lev = levels[p]
        # index -1 (inactive) picks the last entry
        cols[p] = np.array(list(lev) + [np.nan], dtype=object)[uniq[:, j]]
        absent = INACTIVE if p in conditional else MISSING
        text = np.array([format_value(v) for v in lev] + [absent], dtype=object)
        config_labels = config_labels + (", " if j else "") + p + "=" + text[uniq[:, j]]
    rank = pd.Series(key[order] if n_cfg else []).rank(method="min").astype(int).to_numpy()
    table = pd.DataFrame({"config_id": [f"c{i + 1:0{width}d}" for i in range(n_cfg)],
                          "label": pd.Series(config_labels, dtype=object)})
    for p in params:
        table[p] = pd.Series(cols[p], dtype=float if p in numeric and p not in ordered_labels
                             else object)
    table["n"] = n
    table["mean"] = mean
    table["std"] = std
    table["median"] = median
    table["values"] = values
    table["rank"] = rank
    table["mean_raw"] = mean_raw
    table["std_raw"] = std_raw  # as logged, to go with mean_raw (std is on the analysis scale)
    grouped.table = table
    return grouped


def find_neighbours(codes: np.ndarray, ordered: list[bool],
                    conditional: list[bool] | None = None) -> pd.DataFrame:
    """Unordered neighbour pairs ``a < b`` (config positions) and the param index they differ in.

    For param j, configurations are hashed on all other params; within each group, an ordered
    (numeric or binned) param links adjacent values present, a categorical one links all levels.
    Configurations where param j is inactive take no step in j. A categorical step may switch
    ``conditional`` params on or off (adam -> sgd activates momentum): such a param must be equal
    on both sides or inactive on exactly one.
    """
    n_cfg, n_par = codes.shape
    conditional = list(conditional) if conditional is not None else [False] * n_par
    out_a, out_b, out_p = [], [], []
    for j in range(n_par):
        active = np.flatnonzero(codes[:, j] >= 0)
        if active.size < 2:
            continue
        children = [c for c in range(n_par) if c != j and conditional[c] and not ordered[j]]
        others = np.delete(codes[active], [j] + children, axis=1)
        grp = group_ids(list(others.T), sort=True, n=active.size)
        vals = codes[active, j]
        if ordered[j]:
            o = np.lexsort((vals, grp))
            same = grp[o][1:] == grp[o][:-1]
            lo, hi = active[o][:-1][same], active[o][1:][same]
        else:
            df = pd.DataFrame({"g": grp, "i": active})
            m = df.merge(df, on="g")
            lo, hi = m["i_x"].to_numpy(), m["i_y"].to_numpy()
            keep = (lo < hi) & (codes[lo, j] != codes[hi, j])
            for c in children:
                ca, cb = codes[lo, c], codes[hi, c]
                keep &= (ca == cb) | ((ca < 0) != (cb < 0))
            lo, hi = lo[keep], hi[keep]
        out_a.append(np.minimum(lo, hi))
        out_b.append(np.maximum(lo, hi))
        out_p.append(np.full(lo.size, j, dtype=np.int64))
    if not out_a:
        return pd.DataFrame({"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64),
                             "param_idx": np.zeros(0, np.int64)})
    return pd.DataFrame({"a": np.concatenate(out_a), "b": np.concatenate(out_b),
                         "param_idx": np.concatenate(out_p)})


def replicated_best(configs: pd.DataFrame) -> tuple[pd.Series, int] | None:
    """``(row, runs)``: the best configuration among those with the typical number of runs (at
    least the median, ``runs``), when most configurations are repeated (median >= 2) and the
    overall best (``configs`` best first) has fewer: a mean over one or two runs wins a ranking
    by luck more often than a mean over many. None otherwise."""
    if len(configs) == 0:
        return None
    need = int(np.ceil(configs["n"].median()))
    if need < 2 or configs["n"].to_numpy()[0] >= need:
        return None
    enough = configs[configs["n"] >= need]
    return (enough.iloc[0], need) if len(enough) else None
