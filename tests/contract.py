"""The contract every adapter passes: one 3-configuration x 3-seed sweep, logged through each
source, comes back as the same run table (apart from source-specific columns)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sweepsight.adapters.schema import FIXED, STATES, RunTable

# (config, seed) -> metrics. Nested config keys flatten with dots.
CONFIGS = [
    {"optimizer": {"name": "adam", "lr": 0.001}, "batch_size": 32, "use_bn": True},
    {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "use_bn": True},
    {"optimizer": {"name": "sgd", "lr": 0.01}, "batch_size": 64, "use_bn": False},
]
SEEDS = [0, 1, 2]


def runs() -> list[dict]:
    """Nine runs: ``{"name", "config" (nested, with seed), "metrics" (final), "history"}``."""
    out = []
    for c, config in enumerate(CONFIGS):
        for seed in SEEDS:
            acc = 0.80 + 0.05 * c + 0.01 * seed
            history = [{"val_acc": acc - 0.1 * (3 - step) / 3, "val_loss": 1.0 - acc + 0.2 * (3 - step)}
                       for step in range(4)]
            out.append({
                "name": f"cfg{c}-seed{seed}",
                "config": {**config, "seed": seed},
                "metrics": dict(history[-1]),
                "history": history,
            })
    return out


def expected_frame() -> pd.DataFrame:
    """The params and metrics every adapter must return, sorted by name."""
    rows = []
    for r in runs():
        c = r["config"]
        rows.append({
            "name": r["name"],
            "params.batch_size": float(c["batch_size"]),
            "params.optimizer.lr": c["optimizer"]["lr"],
            "params.optimizer.name": c["optimizer"]["name"],
            "params.seed": float(c["seed"]),
            "params.use_bn": c["use_bn"],
            "metrics.val_acc": r["metrics"]["val_acc"],
            "metrics.val_loss": r["metrics"]["val_loss"],
        })
    return pd.DataFrame(rows).sort_values("name").reset_index(drop=True)


def assert_contract(table: RunTable, source: str) -> None:
    """Assert that ``table`` is the contract sweep, as loaded from ``source``."""
    frame = table.frame
    assert list(frame.columns[: len(FIXED)]) == FIXED
    assert (frame["source"] == source).all()
    assert frame["run_id"].is_unique
    assert set(frame["state"]) <= set(STATES)
    assert str(frame["created_at"].dtype).startswith("datetime64") and "UTC" in str(frame["created_at"].dtype)
    expected = expected_frame()
    got = frame.sort_values("name").reset_index(drop=True)
    for col in expected.columns:
        assert col in got.columns, f"{source}: column {col} missing; have {list(got.columns)}"
        if col.startswith("metrics.") or col in ("params.batch_size", "params.optimizer.lr", "params.seed"):
            np.testing.assert_allclose(got[col].astype(float), expected[col].astype(float), rtol=1e-6)
        else:
            assert got[col].tolist() == expected[col].tolist(), f"{source}: {col}"
    meta = table.meta
    assert meta.seed == "seed"
    assert sorted(meta.numeric) == ["batch_size", "optimizer.lr", "seed"]
    assert meta.categorical == ["optimizer.name"]
    assert meta.boolean == ["use_bn"]
    assert meta.source == source and meta.fetched_at
