"""Typing of values that trackers hand back as strings or mixed Python objects."""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError

#: Strings a metric reads as missing. In a hyperparameter column only a true null (an empty
#: cell, JSON null, NaN) is missing: a tracker that logged the string "none" logged a level
#: (an operation "none", augment=none, scheduler=None), unless the other values are numbers
#: or booleans, where these words are missing and counted (:attr:`Coerced.null_words`).
MISSING = {"", "none", "null", "nan", "na", "n/a", "<na>", "nat"}
NULL_WORDS = MISSING - {""}
_TRUE = {"true"}
_FALSE = {"false"}


@dataclasses.dataclass(frozen=True)
class Coerced:
    """One typed hyperparameter column.

    ``kind`` is ``"numeric"``, ``"boolean"`` or ``"categorical"``; ``null_words`` counts the
    strings of :data:`NULL_WORDS` read as missing (only in numeric and boolean columns: in a
    categorical column they are levels).
    """

    values: pd.Series
    kind: str
    null_words: int = 0


def _is_null(v: Any) -> bool:
    """A true null: None, NaN, pandas NA/NaT, or an empty (blank) string."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _is_null_word(v: Any) -> bool:
    return isinstance(v, str) and v.strip().lower() in NULL_WORDS


def _is_missing(v: Any) -> bool:
    """Missing as a metric value: a true null or one of :data:`NULL_WORDS`."""
    return _is_null(v) or _is_null_word(v)


def _as_text(v: Any) -> str:
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v).strip()


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def coerce_column(values: pd.Series) -> tuple[pd.Series, str]:
    """Type one hyperparameter column: the typed series and its kind (see :func:`coerce`)."""
    typed = coerce(values)
    return typed.values, typed.kind


def coerce(values: pd.Series) -> Coerced:
    """Type one hyperparameter column.

    ``"numeric"`` (float64; "1e-3" and "0.001" are the same number), ``"boolean"`` (pandas
    ``boolean``; true/false in any case) or ``"categorical"`` (strings; lists and dicts become
    JSON text). Empty cells, JSON null and NaN are missing; "None"/"null"/"NaN" strings are
    missing beside numbers or booleans (and counted), and a level of a categorical column.
    """
    if _all_text(values):
        numbers = _floats(values) if not values.hasnans else None
        if numbers is not None and not np.isnan(numbers).any():  # every cell a number: typed at
            return Coerced(pd.Series(numbers, index=values.index, dtype="float64"), "numeric")  # once
        codes, uniques = pd.factorize(values)  # missing -> -1
        if 2 * len(uniques) < len(values):  # a grid repeats a few values: type each once
            at = np.where(codes < 0, len(uniques), codes)
            distinct = pd.Series([*uniques.tolist(), None], dtype=object)
            typed = _coerce_text(distinct, counts=np.bincount(at, minlength=len(distinct)))
            return Coerced(pd.Series(typed.values.array.take(at), index=values.index,
                                     dtype=typed.values.dtype), typed.kind, typed.null_words)
        return _coerce_text(values)
    return _coerce_objects(values)


def _all_text(values: pd.Series) -> bool:
    """Every present value is a string (a CSV read as text): the vectorised path applies."""
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _text_missing(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The stripped text and where it is missing (NA, or one of :data:`MISSING`)."""
    stripped = values.astype(object).where(values.notna(), "").str.strip()
    return stripped, stripped.str.lower().isin(MISSING)


def _floats(text: pd.Series) -> np.ndarray | None:
    """``float()`` of every string (numpy applies Python's own parsing), or None if one fails."""
    try:
        return np.asarray(text.to_numpy(dtype=object), dtype=float)
    except ValueError:
        return None


def _coerce_text(values: pd.Series, counts: np.ndarray | None = None) -> Coerced:
    """:func:`_coerce_objects` for all-string columns, column at a time (~30x faster).
    ``counts``: how many runs each value stands for (distinct values typed once), for
    :attr:`Coerced.null_words`."""
    stripped = values.astype(object).where(values.notna(), "").str.strip()
    null = (stripped == "").to_numpy()
    word = stripped.str.lower().isin(NULL_WORDS).to_numpy() & ~null
    words = int(word.sum() if counts is None else counts[word].sum())
    rest = ~null & ~word
    if rest.any():
        low = stripped[rest].str.lower()
        if low.isin(_TRUE | _FALSE).all():
            out = pd.Series(pd.NA, index=values.index, dtype="boolean")
            out[rest] = (low == "true").to_numpy()
            return Coerced(out, "boolean", words)
        numbers = _floats(stripped[rest])
        if numbers is not None:
            floats = np.full(len(values), np.nan)
            floats[rest] = numbers
            return Coerced(pd.Series(floats, index=values.index, dtype="float64"), "numeric",
                           words)
    return Coerced(pd.Series(stripped.where(~null, None), index=values.index, dtype=object),
                   "categorical")


def _coerce_objects(values: pd.Series) -> Coerced:
    """:func:`coerce` value by value, for columns of mixed Python objects (JSON, APIs)."""
    null = [_is_null(v) for v in values]
    word = [not n and _is_null_word(v) for v, n in zip(values, null)]
    present = [v for v, n, w in zip(values, null, word) if not (n or w)]
    n_words = sum(word)
    if present and all(isinstance(v, (bool, np.bool_)) or (
        isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE) for v in present):
        flags = [pd.NA if n or w else (v if isinstance(v, (bool, np.bool_))
                 else v.strip().lower() in _TRUE) for v, n, w in zip(values, null, word)]
        return Coerced(pd.Series(flags, index=values.index, dtype="boolean"), "boolean", n_words)
    numbers = [_as_number(v) for v in present]
    if present and all(n is not None for n in numbers):
        floats = [np.nan if n or w else _as_number(v) for v, n, w in zip(values, null, word)]
        return Coerced(pd.Series(floats, index=values.index, dtype="float64"), "numeric", n_words)
    texts = [None if n else _as_text(v) for v, n in zip(values, null)]
    return Coerced(pd.Series(texts, index=values.index, dtype=object), "categorical")


def to_metric(values: pd.Series, *, where: str) -> pd.Series:
    """Metric values as float64: NaN and +/-inf stay as logged; text that is no number fails."""
    if _all_text(values):
        stripped, missing = _text_missing(values)
        numbers = _floats(stripped[~missing])
        if numbers is not None:
            floats = np.full(len(values), np.nan)
            floats[(~missing).to_numpy()] = numbers
            return pd.Series(floats, index=values.index, dtype="float64")
    out: list[float] = []
    bad = []
    for i, v in zip(values.index, values):
        if _is_missing(v):
            out.append(np.nan)
            continue
        n = _as_number(v)  # float() already reads "inf", "-inf" and "Infinity"
        if n is None:
            bad.append(v)
            out.append(np.nan)
        else:
            out.append(n)
    if bad:
        raise SweepError(
            f"{where} holds values that are not numbers (e.g. {bad[0]!r}); a metric must be "
            "numeric: pass it as a hyperparameter with --param, or clean the column."
        )
    return pd.Series(out, index=values.index, dtype="float64")


def flatten(config: dict, prefix: str = "") -> dict:
    """Flatten nested dicts with dots: ``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}``."""
    flat: dict = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
