"""Typing of text columns: the column-at-a-time path agrees with the value-by-value one."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sweepsight.adapters import coerce

TEXT = st.sampled_from(["1e-3", "0.001", " 2 ", "", "None", "null", "NaN", "nan", "n/a", "<NA>",
                        "true", "False", " TRUE", "abc", "inf", "-inf", "Infinity", "1_000",
                        "0x10", "[1, 2]", "3"])


def _same(a: pd.Series, b: pd.Series) -> bool:
    return a.dtype == b.dtype and all(
        (pd.isna(x) and pd.isna(y)) or x == y for x, y in zip(a.astype(object), b.astype(object)))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(TEXT, min_size=1, max_size=8), arrow=st.booleans(), na_first=st.booleans())
def test_text_columns_typed_as_value_by_value(values, arrow, na_first):
    col = pd.Series(values, dtype="string" if arrow else object)
    if arrow and na_first:
        col[0] = pd.NA
    fast, kind = coerce.coerce_column(col)
    slow, slow_kind = coerce._coerce_objects(col)
    assert kind == slow_kind and _same(fast, slow)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.sampled_from(["1e-3", " 2 ", "", "None", "NaN", "inf", "-inf",
                                        "Infinity", "1_000"]), min_size=1, max_size=8))
def test_text_metrics_read_as_python_floats(values):
    expected = [np.nan if coerce._is_missing(v) else float(v) for v in values]
    got = coerce.to_metric(pd.Series(values, dtype=object), where="x")
    np.testing.assert_array_equal(got.to_numpy(), np.array(expected, dtype=float))


def test_typing_examples():
    num, kind = coerce.coerce_column(pd.Series(["1e-3", "0.001", "", "null"]))
    assert kind == "numeric" and num.iloc[0] == num.iloc[1] == 0.001 and num.iloc[2:].isna().all()
    flags, kind = coerce.coerce_column(pd.Series(["True", "false", "None"]))
    assert kind == "boolean" and flags.tolist()[:2] == [True, False] and flags.isna().iloc[2]
