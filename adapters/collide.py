"""Two sources for one name: ``params.lr`` beside ``config.lr``, a wandb key ``model.depth``
beside ``model: {depth: ...}``. They are merged when they hold the same values, and refused,
naming both, when they do not: keeping whichever came last silently replaced data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from sweepsight.adapters.coerce import _as_number, _as_text, _is_missing


@dataclass(frozen=True)
class Collision:
    """Sources (column names, key paths as written) that give one ``name``; ``same`` when
    their values agree everywhere, else ``example`` is the first pair that differs and
    ``at`` says where (a row, a run)."""

    name: str
    sources: tuple[str, ...]
    same: bool
    example: tuple[Any, Any] | None = None
    at: str = ""


def same_value(a: Any, b: Any) -> bool:
    """Whether two cells hold the same value: both missing, equal text, or equal numbers
    ("1e-3" and 0.001)."""
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return _as_text(a).lower() == _as_text(b).lower()
    x, y = _as_number(a), _as_number(b)
    if x is not None and y is not None:
        return x == y or (math.isnan(x) and math.isnan(y))
    return _as_text(a) == _as_text(b)


def compare(name: str, sources: tuple[str, ...], columns: Iterable[Iterable[Any]],
            labels: Iterable[str]) -> Collision:
    """Compare aligned value sequences of ``sources`` (``labels`` names each position)."""
    columns, labels = [list(c) for c in columns], list(labels)
    first = columns[0]
    for other in columns[1:]:
        for label, a, b in zip(labels, first, other):
            if not same_value(a, b):
                return Collision(name, sources, False, (a, b), label)
    return Collision(name, sources, True)


def flat_sources(tree: dict, *, path: tuple[str, ...] = ()) -> dict[str, list[tuple[tuple[str, ...], Any]]]:
    """A nested dict flattened with dots, keeping every key path that gives each flat name
    (``{"model.depth": 4, "model": {"depth": 8}}`` gives ``model.depth`` twice)."""
    out: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
    for key, value in tree.items():
        here = path + (str(key),)
        if isinstance(value, dict) and value:
            for name, found in flat_sources(value, path=here).items():
                out.setdefault(name, []).extend(found)
        else:
            out.setdefault(".".join(here), []).append((here, value))
    return out


def show_path(path: tuple[str, ...]) -> str:
    """A key path as written: ``'model.depth'`` (one key) or ``model → depth`` (nested)."""
    return repr(path[0]) if len(path) == 1 else " → ".join(path)


def cell(value: Any, limit: int = 40) -> str:
    """A value for a one-line message, shortened."""
    text = "empty" if _is_missing(value) else repr(value if not isinstance(value, str) else value.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"
