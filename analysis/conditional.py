"""Conditional hyperparameters: missing exactly at some levels of another one."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sweepsight.analysis.encoding import level_text
from sweepsight.analysis.prepared import Condition

def find_conditions(values: dict[str, pd.Series], categorical: list[str], *,
                 max_levels: int, aliases: dict[str, list[str]]) -> dict[str, Condition]:
    """Params whose missingness is fully determined by the level of another param."""
    out: dict[str, Condition] = {}
    n = len(next(iter(values.values())))
    # Candidate explainers: fewest levels first, complete columns before ones with gaps.
    explainers = []
    for c, s in values.items():
        k = s.nunique(dropna=False)
        if k <= min(max_levels, max(2, n // 2)):
            explainers.append((bool(s.isna().any()), c not in categorical, k, c))
    explainers.sort()
    cache: dict[str, tuple[np.ndarray, list]] = {}
    for p, s in values.items():
        m = s.isna().to_numpy()
        n_missing = int(m.sum())
        if n_missing < 2 or n - n_missing < 2:  # one run either way could match by chance
            continue
        for _, _, k, c in explainers:
            if c == p:
                continue
            if c not in cache:
                found, levels = pd.factorize(values[c], use_na_sentinel=False)
                cache[c] = (np.asarray(found), list(levels))
            codes, uniques = cache[c]
            total = np.bincount(codes, minlength=len(uniques))
            gone = np.bincount(codes, weights=m, minlength=len(uniques))
            if np.all((gone == 0) | (gone == total)):
                c = aliases.get(c, [c])[0]
                inactive = [level_text(u) for u, g in zip(uniques, gone) if g > 0]
                active = [level_text(u) for u, g in zip(uniques, gone) if g == 0]
                out[p] = Condition(parent=c, inactive_levels=tuple(inactive),
                                   active_levels=tuple(active))
                break
    return out
