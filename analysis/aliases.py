"""Aliases: hyperparameters logged twice under different names (one-to-one relabellings)."""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from sweepsight.analysis.outcomes import is_number

def _monotone(ua: np.ndarray, ub: np.ndarray, order: np.ndarray) -> bool:
    """Whether paired distinct values (``ua[k]`` <-> ``ub[k]``) lie on a monotone curve;
    ``order`` sorts ``ua`` (NaN last)."""
    na, nb = np.isnan(ua), np.isnan(ub)
    if (na != nb).any():
        return False
    b = ub[order][: int((~na).sum())]
    d = np.diff(b)
    return bool(np.all(d > 0) or np.all(d < 0))


def alias_groups(values: dict[str, pd.Series]) -> list[list[str]]:
    """Groups of params that are one-to-one relabellings of each other.

    Two columns split the runs identically exactly when their first-appearance factorize codes
    are equal, so candidates are bucketed by a hash of those codes (linear in params x runs).
    Two numeric columns must moreover be monotone in each other: in a random search every
    continuous param splits the runs into the same configurations without being an alias.
    """
    buckets: dict[tuple, list[str]] = {}
    codes: dict[str, np.ndarray] = {}
    uniques: dict[str, np.ndarray] = {}
    # Categoricals first, so that a merged name keeps words (adam/sgd) over codes (0/1).
    ordered = sorted(values, key=lambda p: is_number(values[p]))
    for p in ordered:
        c, u = pd.factorize(values[p], use_na_sentinel=False)
        codes[p] = np.asarray(c, dtype=np.int64)
        if is_number(values[p]):
            uniques[p] = np.asarray(u, dtype=float)
        key = (len(u), zlib.crc32(codes[p].tobytes()))
        buckets.setdefault(key, []).append(p)
    sort_order: dict[str, np.ndarray] = {}

    def monotone(a: str, b: str) -> bool:
        # Equal codes pair the k-th distinct value of a with the k-th of b.
        if a not in sort_order:
            sort_order[a] = np.argsort(uniques[a], kind="stable")
        return _monotone(uniques[a], uniques[b], sort_order[a])

    groups: list[list[str]] = []
    for members in buckets.values():
        while members:
            group, rest = [members[0]], list[str]()
            for q in members[1:]:
                same = np.array_equal(codes[group[0]], codes[q])  # guards hash collisions
                if same and q in uniques:
                    same = all(monotone(g, q) for g in group if g in uniques)
                (group if same else rest).append(q)
            groups.append(group)
            members = rest
    order = {p: i for i, p in enumerate(values)}
    return sorted(groups, key=lambda g: min(order[p] for p in g))
