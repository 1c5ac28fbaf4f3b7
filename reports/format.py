"""How the report writes a value, for the pages and summary.md alike: numbers, counts, shares,
plurals, hyperparameter values, and the one word for a value that is not there."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: The word for a missing value, wherever the report shows one.
MISSING = "n/a"


def number(value: Any, digits: int = 4) -> str:
    """``value`` at ``digits`` significant digits (``0.969``, ``8.89e-05``); ``∞``/``−∞``;
    :data:`MISSING` when it is missing or not a number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return MISSING
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}"


def count(value: Any) -> str:
    """A count or other whole number as an integer (``6,667``, not ``6.67e+03``); a median
    of counts may end in ``.5``; anything else as :func:`number` at 3 digits."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return MISSING
    if math.isfinite(x) and (2 * x).is_integer():
        return f"{int(x):,}" if x.is_integer() else f"{x:,.1f}"
    return number(value, 3)


def percent(share: float) -> str:
    """``47%``; two significant digits below 10% (``3.6%``, ``0.39%``) so that small shares
    stay apart and a real small share does not read as nothing."""
    pct = 100 * share
    return f"{pct:.0f}%" if abs(pct) >= 10 else f"{pct:.2g}%"


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 run``, ``3 runs``, ``2 neighbours`` (``many``: an irregular plural)."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def value(v: Any) -> str:
    """One hyperparameter value: whole floats as integers, others at 4 significant digits,
    :data:`MISSING` for NaN/None (missing, or inactive for a conditional hyperparameter)."""
    if v is None or v is pd.NA:
        return MISSING
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return MISSING
        return str(int(v)) if float(v).is_integer() and abs(float(v)) < 1e15 else number(v)
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    return str(v)


def formatted(values: np.ndarray, spec: str) -> np.ndarray:
    """``spec % v`` of every float (an object array; NaN gives ""), for data files and embedded
    data of half a million rows. When the values repeat (p-values, deltas, seeds), each
    distinct one is formatted once; hashing distinct values costs more than formatting them,
    so a sample of the first thousand decides."""
    arr = np.asarray(values, dtype=float)
    if arr.size > 1000 and len(pd.unique(arr[:1000])) < 500:
        codes, uniques = pd.factorize(arr)  # NaN -> -1; -0.0 joins 0.0, set apart below
        text = np.array([spec % v for v in uniques.tolist()] + [""], dtype=object)[codes]
        zero = np.flatnonzero(arr == 0)
        text[zero] = np.where(np.signbit(arr[zero]), spec % -0.0, spec % 0.0)
        return text
    text = np.array([spec % v for v in arr.tolist()], dtype=object)
    text[np.isnan(arr)] = ""
    return text
