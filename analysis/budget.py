"""Multi-fidelity sweeps: each configuration at its highest budget, or only the runs at one."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import PARAM
from sweepsight.analysis.encoding import level_text
from sweepsight.analysis.grouping import group_ids

def budget_filter(frame: pd.DataFrame, keep: pd.Series, budget: str, config_params: list[str],
                   *, at_budget: float | str | None = None,
                   where: str = "the runs") -> tuple[pd.Series, pd.Series, str]:
    """Keep each configuration's runs at its highest budget (or only the runs at budget
    ``at_budget``); count configurations per level."""
    sub = frame.loc[keep]
    b = sub[PARAM + budget].astype(float)
    key = pd.Series(group_ids([sub[PARAM + p] for p in config_params], n=len(sub)), index=sub.index)
    config_max = b.groupby(key).max()
    levels = np.sort(b.unique())
    counts = pd.Series([int((config_max >= lv).sum()) for lv in levels],
                       index=pd.Index(levels, name=budget), name="configurations")
    reach = ", ".join(f"{level_text(float(lv))}: {n}" for lv, n in zip(levels, counts))
    if at_budget is None:
        chosen = b == b.groupby(key).transform("max")
        note = (f"{budget} is the training budget: each of the {len(config_max)} configurations "
                f"is analysed at the highest {budget} it reached ({int((~chosen).sum())} runs at "
                f"lower budgets left out); configurations reaching each level: {reach}.")
        stopped = int((config_max < levels[-1]).sum()) if len(levels) else 0
        if stopped:
            note += (f" {stopped} configurations stopped before {budget} {level_text(levels[-1])} are "
                     f"compared at a smaller {budget}: their metric mixes the hyperparameters' "
                     "effect with shorter training, which flatters whatever the scheduler let "
                     f"run longer. --at-budget max compares only runs at {budget} "
                     f"{level_text(levels[-1])}, like with like.")
    else:
        level = levels[-1] if str(at_budget).lower() == "max" else _budget_value(at_budget)
        if not np.isclose(levels, level).any():
            raise SweepError(f"--at-budget {at_budget}: no run of {where} has {budget} = "
                             f"{level_text(level)}; levels present: "
                             f"{', '.join(level_text(float(v)) for v in levels)}.")
        chosen = pd.Series(np.isclose(b.to_numpy(), level), index=b.index)
        n_cfg = int(key[chosen].nunique())
        note = (f"{budget} is the training budget: only the runs at {budget} = {level_text(level)} "
                f"are analysed ({n_cfg} of {len(config_max)} configurations reached it; "
                f"{int((~chosen).sum())} runs at other budgets left out). Like is compared with "
                "like, but only configurations the scheduler let through are in, so whatever "
                "decided who was stopped early cannot show here. Configurations reaching each "
                f"level: {reach}.")
    new_keep = keep.copy()
    new_keep.loc[sub.index] = chosen.to_numpy()
    return new_keep, counts, note


def _budget_value(text: float | str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise SweepError(f"--at-budget {text!r}: pass a budget value (e.g. 81) or max.") from None
