"""Runs grouped into configurations: the one way every analysis numbers them.

A configuration is one combination of values of some columns; a missing value (NaN, None) is a
value of its own. :func:`group_ids` numbers the combinations exactly as
``frame.groupby(columns, dropna=False, sort=sort).ngroup()`` would (first appearance, or the
sorted order of the values with missing last), without building a DataFrame: each column is
factorized once and the codes are folded into one int64 key.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: a folded key stays below 2**62 (room for one more multiplication check)
_KEY_BITS = 62


def level_codes(values: pd.Series | np.ndarray, *, sort: bool = False) -> np.ndarray:
    """Integer level of each value (missing is a level): first appearance, or sorted order
    with missing last (``sort``); as ``groupby(dropna=False).ngroup()`` on the one column."""
    codes, _ = pd.factorize(values, use_na_sentinel=False, sort=sort)
    return np.asarray(codes, dtype=np.int64)


def group_ids(columns: Sequence[pd.Series | np.ndarray], *, sort: bool = False,
              n: int | None = None) -> np.ndarray:
    """Configuration id (0, 1, ...) of every row of the equally long ``columns``.

    The ids are ``pd.DataFrame(columns).groupby(..., dropna=False, sort=sort).ngroup()``:
    numbered in order of first appearance, or (``sort``) in the lexicographic order of the
    values (first column most significant, missing last in each). Integer arrays are taken as
    codes already (any order-preserving integers, e.g. -1 for inactive), which skips their
    factorization. ``n``: the number of rows when there are no columns (all in group 0).
    """
    if not columns:
        return np.zeros(0 if n is None else n, dtype=np.int64)
    key: np.ndarray | None = None
    bits = 0.0
    for col in columns:
        arr = np.asarray(col) if isinstance(col, np.ndarray) else None
        if arr is not None and arr.dtype.kind in "iu" and arr.size:
            low = int(arr.min())
            codes = arr.astype(np.int64) - low
            radix = int(codes.max()) + 1
        else:
            codes = level_codes(col, sort=sort)
            radix = int(codes.max()) + 1 if codes.size else 1
        if key is None:
            key, bits = codes, float(np.log2(max(radix, 1)))
            continue
        if bits + np.log2(max(radix, 1)) >= _KEY_BITS:  # fold first: the product would overflow
            key = _dense(key, sort=sort)
            bits = float(np.log2(max(int(key.max()) + 1, 1))) if key.size else 0.0
        key = key * radix + codes
        bits += float(np.log2(max(radix, 1)))
    assert key is not None
    return _dense(key, sort=sort)


def first_rows(ids: np.ndarray) -> np.ndarray:
    """The position of the first row of each group id (ids numbered 0..k-1)."""
    return np.unique(ids, return_index=True)[1].astype(np.int64)


def _dense(key: np.ndarray, *, sort: bool) -> np.ndarray:
    """Ids 0..k-1 of the distinct values of ``key``: sorted, or in order of first appearance."""
    if sort:
        return np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return np.asarray(pd.factorize(key)[0], dtype=np.int64)


def n_groups(columns: Sequence[pd.Series | np.ndarray]) -> int:
    """How many distinct combinations of values the rows of ``columns`` hold."""
    ids = group_ids(columns)
    return int(ids.max()) + 1 if ids.size else 0
