"""JSON and YAML read with limits: a file nested deeper than :data:`MAX_DEPTH`, or a YAML file
whose aliases expand past :data:`MAX_NODES` values (a "billion laughs" of 1 KB grows to
gigabytes), is refused in one line instead of exhausting the stack or the memory."""
from __future__ import annotations

import json
from typing import Any

from sweepsight.adapters.errors import SweepError

MAX_DEPTH = 100  # levels of nesting; a config or summary of a real run has a handful
MAX_NODES = 1_000_000  # values after expanding YAML aliases


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` (decoded JSON/YAML) nests lists/dicts deeper than ``limit``; iterative."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _too_deep(where: str, fix: str) -> SweepError:
    return SweepError(f"{where} is nested more than {MAX_DEPTH} levels deep, which no run's "
                      f"config or summary needs; {fix}.")


def load_json(text: str, *, where: str, fix: str) -> Any:
    """``json.loads(text)`` (NaN and ±Infinity read as wandb writes them); nested deeper than
    :data:`MAX_DEPTH` is a :class:`SweepError` naming ``where`` with ``fix``. A text that is not
    JSON raises ``ValueError`` as ``json.loads`` does."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(where, fix) from None
    if isinstance(value, (dict, list)) and _deeper_than(value, MAX_DEPTH):
        raise _too_deep(where, fix)
    return value


def load_yaml(text: str, *, where: str, fix: str) -> Any:
    """``yaml.safe_load(text)`` after one streaming pass over its events that counts the nesting
    and the values the aliases expand to; past :data:`MAX_DEPTH` or :data:`MAX_NODES` it is a
    :class:`SweepError` naming ``where`` with ``fix``. Malformed YAML raises ``yaml.YAMLError``."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sizes: dict[str, int] = {}  # anchor -> values it expands to
    stack: list[list] = [[None, 0]]  # per open collection: its anchor, values so far
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            size = sizes.get(event.anchor or "", 1)  # an alias always names its anchor
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append([event.anchor, 1])
            if len(stack) - 1 > MAX_DEPTH:
                raise _too_deep(where, fix)
            continue
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        stack[-1][1] += size
        if stack[-1][1] > MAX_NODES:
            raise SweepError(f"{where}: its YAML aliases (*name) expand to more than "
                             f"{MAX_NODES:,} values (an alias bomb); {fix}.")
    return yaml.load(text, Loader=loader)
