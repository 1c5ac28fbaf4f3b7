"""Adapters turn a tracker's runs into the common run table (:mod:`adapters.schema`).

One registry maps a source name to a loader ``load(options: dict) -> RunTable``. The built-in
sources register at import; a broken optional source (its library missing) fails only when used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sweepsight.adapters.errors import SweepError

if TYPE_CHECKING:  # pandas and pandera load with the first adapter, not with this registry
    from sweepsight.adapters.schema import RunTable

Loader = Callable[[dict], "RunTable"]
_REGISTRY: dict[str, Callable[[], Loader]] = {}


def register(name: str, factory: Callable[[], Loader]) -> None:
    """Register ``factory`` (returning a loader) under ``name``; the import happens on first use."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    return sorted(_REGISTRY)


def get_adapter(name: str) -> Loader:
    """The loader for ``name``; an unknown name fails listing the valid ones."""
    if name not in _REGISTRY:
        raise SweepError(f"unknown source {name!r}; valid sources: {', '.join(available())}.")
    return _REGISTRY[name]()


def load(source: str, options: dict) -> RunTable:
    """Load a sweep from ``source`` with adapter ``options`` (see each adapter's ``load``)."""
    return get_adapter(source)(options)


def _lazy(module: str) -> Callable[[], Loader]:
    def factory() -> Loader:
        import importlib

        try:
            return importlib.import_module(module).load
        except ImportError as exc:
            raise SweepError(
                f"the {module.rsplit('.', 1)[-1]} adapter needs a package that is not installed "
                f"({exc.name}); install it with: pip install 'sweepsight[{exc.name}]'"
            ) from None

    return factory


register("csv", _lazy("sweepsight.adapters.csv_file"))
register("mlflow", _lazy("sweepsight.adapters.mlflow_runs"))
register("wandb", _lazy("sweepsight.adapters.wandb_runs"))
