"""analysis.grouping: the one numbering of configurations equals pandas' groupby.ngroup()."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sweepsight.analysis.grouping import first_rows, group_ids, level_codes, n_groups


def _tricky(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """NaN, inactive (None), mixed types, a nullable boolean and an integer code column."""
    rng = np.random.default_rng(seed)
    lr = rng.choice([1e-3, 1e-2, np.nan, 0.1], n)
    opt = pd.Series(rng.choice(["adam", "sgd", "none", ""], n), dtype=object)
    opt[rng.random(n) < 0.1] = None
    opt[rng.random(n) < 0.05] = np.nan  # None and NaN are one missing value, as in groupby
    mixed = pd.Series(rng.choice(np.array([1, "1", 2.5, "b"], dtype=object), n), dtype=object)
    flag = pd.Series(rng.choice([True, False], n), dtype="boolean")
    flag[rng.random(n) < 0.2] = pd.NA
    return pd.DataFrame({"lr": lr, "optimizer": opt, "mixed": mixed, "flag": flag,
                         "code": rng.integers(-1, 3, n)})


@pytest.mark.parametrize("sort", [False, True])
@pytest.mark.parametrize("cols", [["lr"], ["optimizer"], ["lr", "optimizer"],
                                  ["flag", "lr", "optimizer"], ["code", "lr", "flag"]])
def test_group_ids_equal_groupby_ngroup(cols, sort):
    frame = _tricky()
    expected = frame.groupby(cols, dropna=False, sort=sort).ngroup().to_numpy()
    columns = [frame[c].to_numpy() if c == "code" else frame[c] for c in cols]
    np.testing.assert_array_equal(group_ids(columns, sort=sort), expected)
    assert n_groups(columns) == expected.max() + 1


def test_mixed_types_first_appearance():
    # 1 and "1" are different values; first appearance numbers them in row order
    frame = _tricky()
    expected = frame.groupby(["mixed", "optimizer"], dropna=False, sort=False).ngroup()
    np.testing.assert_array_equal(group_ids([frame["mixed"], frame["optimizer"]]), expected)


def test_integer_codes_sorted_like_np_unique_rows():
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 6, size=(5000, 7))
    _, inverse = np.unique(codes, axis=0, return_inverse=True)
    np.testing.assert_array_equal(group_ids(list(codes.T), sort=True), inverse.reshape(-1))


def test_wide_keys_fold_without_overflow():
    # 30 columns of 16 levels: 2**120 combinations, folded before the int64 key overflows
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.integers(0, 16, size=(3000, 30))).astype(float)
    frame.iloc[::7, 3] = np.nan
    for sort in (False, True):
        expected = frame.groupby(list(frame.columns), dropna=False, sort=sort).ngroup()
        got = group_ids([frame[c] for c in frame.columns], sort=sort)
        np.testing.assert_array_equal(got, expected.to_numpy())


def test_no_columns_and_first_rows():
    assert group_ids([], n=4).tolist() == [0, 0, 0, 0]
    assert n_groups([]) == 0
    ids = group_ids([pd.Series(["b", "a", "b", np.nan, "a"])])
    assert ids.tolist() == [0, 1, 0, 2, 1]
    assert first_rows(ids).tolist() == [0, 1, 3]
    assert level_codes(pd.Series([2.0, np.nan, 1.0, np.nan]), sort=True).tolist() == [1, 2, 0, 2]
