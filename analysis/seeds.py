"""The random-number discipline: each entry point (an analysis given ``random_state``) makes
one :class:`numpy.random.SeedSequence` and spawns a child for every independent stream; a
stream is a :class:`numpy.random.Generator` (``np.random.default_rng(child)``), or, for
scikit-learn (which takes an int or a ``RandomState``, not a ``Generator``), the child's
:func:`sklearn_seed`. No stream is derived by adding to a seed (``seed + k`` streams overlap)."""
from __future__ import annotations

import numpy as np


def sklearn_seed(seed: np.random.SeedSequence) -> int:
    """An int seed for a scikit-learn estimator, drawn from ``seed`` (31 bits: what
    ``RandomState`` takes)."""
    return int(seed.generate_state(1, dtype=np.uint32)[0] >> 1)
