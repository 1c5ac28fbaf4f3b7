"""Hyperparameter importance: one public function in front of interchangeable evaluators.

>>> get_param_importances(prep)                       # main effects with a noise floor
>>> get_param_importances(prep, evaluator="permutation")

Evaluators are registered by name (:func:`register_evaluator`); each subclasses
:class:`BaseImportanceEvaluator` and implements ``evaluate``. Restricting to ``params``,
normalising and sorting happen here, once.
"""
from __future__ import annotations

import dataclasses

from sweepsight.adapters.errors import SweepError
from sweepsight.analysis.importance._base import BaseImportanceEvaluator, ImportanceResult
from sweepsight.analysis.importance._forest import ForestImpurityEvaluator, PermutationEvaluator
from sweepsight.analysis.importance._main_effects import MainEffectsEvaluator
from sweepsight.analysis.importance._ped_anova import PedAnovaEvaluator
from sweepsight.analysis.prepared import Prepared
from sweepsight.analysis.options import RANDOM_STATE

__all__ = ["BaseImportanceEvaluator", "ImportanceResult", "available", "get_evaluator",
           "get_param_importances", "register_evaluator"]

_EVALUATORS: dict[str, type[BaseImportanceEvaluator]] = {}


def register_evaluator(name: str, cls: type[BaseImportanceEvaluator]) -> None:
    """Make ``cls`` available as ``evaluator=name``."""
    if not (isinstance(cls, type) and issubclass(cls, BaseImportanceEvaluator)):
        raise TypeError(f"evaluator {name!r} must subclass BaseImportanceEvaluator")
    _EVALUATORS[name] = cls


def available() -> list[str]:
    """Names of the registered evaluators."""
    return sorted(_EVALUATORS)


def get_evaluator(name: str) -> BaseImportanceEvaluator:
    """A fresh evaluator by name; an unknown name fails listing the valid ones."""
    try:
        return _EVALUATORS[name]()
    except KeyError:
        raise SweepError(f"unknown importance evaluator {name!r}; valid evaluators: "
                         f"{', '.join(available())}.") from None


register_evaluator("main_effects", MainEffectsEvaluator)
register_evaluator("forest_impurity", ForestImpurityEvaluator)
register_evaluator("permutation", PermutationEvaluator)
register_evaluator("ped_anova", PedAnovaEvaluator)


def get_param_importances(prep: Prepared, *, evaluator: str = "main_effects",
                          params: list[str] | None = None, normalize: bool = True,
                          random_state: int = RANDOM_STATE, **kw) -> ImportanceResult:
    """Importance of each hyperparameter by the named evaluator.

    Parameters
    ----------
    prep : the prepared sweep.
    evaluator : ``main_effects`` (default), ``forest_impurity``, ``permutation`` or
        ``ped_anova`` (what separates the best runs from the rest), or any registered name.
    params : hyperparameters to assess (default: all of ``prep.params``); the others are left
        out of the model entirely.
    normalize : scale ``importance`` to sum to 1 (left at 0 when nothing has importance); the
        evaluator's absolute columns (``share``, ``omega2``, ``permutation``...) are kept.
    random_state, **kw : passed to the evaluator.

    Returns
    -------
    ImportanceResult whose ``table`` is sorted by ``importance`` (desc).
    """
    ev = get_evaluator(evaluator)
    sub = restrict(prep, params)
    res = ev.evaluate(sub, random_state=random_state, **kw)
    table = res.table.copy()
    notes = list(res.notes)
    total = float(table["importance"].sum())
    if normalize and total > 0:
        table["importance"] = table["importance"] / total
        notes.append("importance is normalised to sum to 1 over the assessed hyperparameters.")
    table = table.sort_values("importance", ascending=False, kind="mergesort")
    above = table["above_floor"]
    if len(table) and above.notna().all() and not above.any():
        notes.append("No hyperparameter rises above the noise floor: the differences between "
                     "configurations are what chance alone would give.")
    return dataclasses.replace(res, table=table.reset_index(drop=True), notes=notes)


def restrict(prep: Prepared, params: list[str] | None) -> Prepared:
    """``prep`` reduced to ``params`` (design matrix columns included)."""
    if params is None:
        return prep
    unknown = [p for p in params if p not in prep.params]
    if unknown:
        raise SweepError(f"unknown hyperparameter(s) {', '.join(map(repr, unknown))} for "
                         f"importance; analysed hyperparameters: {', '.join(prep.params)}.")
    cols = [c for c in prep.X.columns if prep.feature_param.get(c) in params]
    return dataclasses.replace(
        prep, params=list(params), X=prep.X[cols],
        feature_param={c: prep.feature_param[c] for c in cols},
        numeric=[p for p in prep.numeric if p in params],
        categorical=[p for p in prep.categorical if p in params],
        log_scaled=[p for p in prep.log_scaled if p in params])
