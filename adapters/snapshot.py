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
        if not f.is_file():
            raise SweepError(f"snapshot file {f} is not a regular file; pass the data/sweep of "
                             "a site built earlier.")
    try:
        frame = pd.read_parquet(parquet)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError ... for a damaged file
        raise SweepError(f"snapshot file {parquet} cannot be read ({_first_line(exc)}); it is "
                         "damaged: fetch the sweep again instead of --from-snapshot.") from None
    try:
        meta_obj = RunMeta.from_json(meta.read_text())
    except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not an object
        raise SweepError(f"snapshot file {meta} cannot be read ({_first_line(exc)}); it is "
                         "damaged: fetch the sweep again instead of --from-snapshot.") from None
    missing = [c for c in ("run_id", "name", "group") if c not in frame.columns]
    if missing:
        raise SweepError(f"snapshot file {parquet} has no column {missing[0]!r}: it is not a "
                         "sweepsight snapshot; fetch the sweep again instead of --from-snapshot.")
    for col in frame.columns:
        if col.startswith(PARAM):
            name = col[len(PARAM):]
            if name in meta_obj.categorical:
                frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
                continue
            try:
                frame[col] = frame[col].astype("boolean" if name in meta_obj.boolean else "float64")
            except (ValueError, TypeError) as exc:
                raise SweepError(f"snapshot {parquet}: column {col!r} does not match its type in "
                                 f"{meta.name} ({_first_line(exc)}); the snapshot is damaged: "
                                 "fetch the sweep again.") from None
    for col in ("name", "group"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return RunTable(validate(frame, where=str(parquet)), meta_obj)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0][:160] if text else type(exc).__name__) or type(exc).__name__
