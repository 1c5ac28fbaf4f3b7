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
    fast = coerce.coerce(col)
    slow = coerce._coerce_objects(col)
    assert fast.kind == slow.kind and _same(fast.values, slow.values)
    assert fast.null_words == slow.null_words


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


def test_a_logged_none_is_a_level_of_a_categorical_and_missing_beside_numbers():
    ops = coerce.coerce(pd.Series(["none", "skip", "conv", "None", "", None, "null"], dtype=object))
    assert ops.kind == "categorical" and ops.null_words == 0
    assert ops.values.tolist() == ["none", "skip", "conv", "None", None, None, "null"]
    # the same column as JSON objects (wandb, MLflow APIs): only None/NaN are missing
    mixed = coerce.coerce(pd.Series(["none", 3, "conv", None, float("nan")], dtype=object))
    assert mixed.kind == "categorical"
    assert mixed.values.tolist() == ["none", "3", "conv", None, None]
    depth = coerce.coerce(pd.Series(["none", 3, None, 5], dtype=object))  # max_depth=None
    assert depth.kind == "numeric" and depth.null_words == 1
    lr = coerce.coerce(pd.Series(["0.1", "None", "0.01", "null", "", "NaN"]))
    assert lr.kind == "numeric" and lr.null_words == 3
    np.testing.assert_array_equal(lr.values.to_numpy(), [0.1, np.nan, 0.01, np.nan, np.nan, np.nan])
    flag = coerce.coerce(pd.Series([True, "None", False], dtype=object))
    assert flag.kind == "boolean" and flag.null_words == 1 and flag.values.isna().tolist() == [
        False, True, False]
    # all words: a categorical with one level (said as constant later), nothing counted
    only = coerce.coerce(pd.Series(["None", "None"]))
    assert only.kind == "categorical" and only.values.tolist() == ["None", "None"]


def test_null_words_beside_numbers_are_a_typed_fact_and_a_note_of_the_run_table():
    from sweepsight.adapters.schema import build_table, null_words_note

    frame = pd.DataFrame({"run_id": ["a", "b", "c", "d"], "params.lr": ["0.1", "None", "0.01", "1"],
                          "params.op": ["none", "conv", "skip", "none"],
                          "metrics.acc": ["0.5", "0.6", "0.7", "0.4"]})
    table = build_table(frame, source="csv")
    assert table.meta.null_words == {"lr": 1}
    assert table.meta.numeric == ["lr"] and table.meta.categorical == ["op"]
    assert table.param("op").tolist() == ["none", "conv", "skip", "none"]
    assert null_words_note(table.meta) in table.meta.notes
