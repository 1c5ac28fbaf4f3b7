"""sweepsight: a hyperparameter sweep in, a static report site out.

Installed, ``sweepsight.adapters``, ``sweepsight.analysis`` and ``sweepsight.reports`` are
subpackages (the wheel maps the repository's top-level folders under this name, so a user's own
``analysis/`` or ``reports/`` folder never shadows ours). In a checkout this folder holds only this
file, and the repository root joins the package path so that the same names resolve there.
"""
from __future__ import annotations

import os

__version__ = "0.1.0"

_here = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(_here, "reports")):  # a checkout, not an installed wheel
    __path__.append(os.path.dirname(_here))  # type: ignore[name-defined]  # noqa: F821
