"""A fetched sweep saved as Parquet plus its metadata as JSON, to re-render without fetching."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.schema import PARAM, RunMeta, RunTable, validate


def save(table: RunTable, path: str | Path) -> Path:
    """Write ``<path>.parquet`` and ``<path>.json`` (atomically: temp files, then rename)."""
    base = Path(path).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    parquet, meta = base.with_suffix(".parquet"), base.with_suffix(".json")
    frame = table.frame.copy()
    for col in frame.columns:
        if col.startswith(PARAM) and frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    tmp_parquet, tmp_meta = parquet.with_suffix(".parquet.tmp"), meta.with_suffix(".json.tmp")
    frame.to_parquet(tmp_parquet, index=False)
    tmp_meta.write_text(table.meta.to_json())
    tmp_parquet.replace(parquet)
    tmp_meta.replace(meta)
    return parquet


def load(path: str | Path) -> RunTable:
    """Read a snapshot written by :func:`save` (``path`` with or without a suffix)."""
    base = Path(path).with_suffix("")
    parquet, meta = base.with_suffix(".parquet"), base.with_suffix(".json")
    for f in (parquet, meta):
        if not f.exists():
            raise SweepError(
                f"snapshot file {f} not found; a snapshot is a .parquet and a .json side by side, "
                "written by an earlier report run into <site>/data/ (read it with --from-snapshot)."
            )
    frame = pd.read_parquet(parquet)
    meta_obj = RunMeta.from_json(meta.read_text())
    for col in frame.columns:
        if col.startswith(PARAM):
            name = col[len(PARAM):]
            if name in meta_obj.categorical:
                frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
            elif name in meta_obj.boolean:
                frame[col] = frame[col].astype("boolean")
            else:
                frame[col] = frame[col].astype("float64")
    for col in ("name", "group"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return RunTable(validate(frame, where=str(parquet)), meta_obj)
