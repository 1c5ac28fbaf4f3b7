"""A fetched sweep saved as Parquet plus its metadata as JSON, to re-render without fetching.

A snapshot may come from another branch or another tool: credentials in any URI of its
metadata (``user:pass@``, a query's token) are masked as it is read (:mod:`adapters.redact`),
so that a report built from it never re-publishes them."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sweepsight.adapters.errors import SweepError
from sweepsight.adapters.redact import redact_json
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
        meta_obj = RunMeta.from_json(meta.read_text(), clean=redact_json)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:  # not JSON, not an object
        raise SweepError(f"snapshot file {meta} cannot be read ({_first_line(exc)}); it is "
                         "damaged: fetch the sweep again instead of --from-snapshot.") from None
    _check_meta(meta_obj, frame, meta)
    missing = [c for c in ("run_id", "name", "group") if c not in frame.columns]
    if missing:
        raise SweepError(f"snapshot file {parquet} has no column {missing[0]!r}: it is not a "
                         "sweepsight snapshot; fetch the sweep again instead of --from-snapshot.")
    typed: dict[str, pd.Series] = {}
    categorical, boolean = set(meta_obj.categorical), set(meta_obj.boolean)
    for col in frame.columns:
        if col.startswith(PARAM):
            name = col[len(PARAM):]
            if name in categorical:
                typed[col] = frame[col].astype(object).where(frame[col].notna(), None)
                continue
            try:
                typed[col] = frame[col].astype("boolean" if name in boolean else "float64")
            except (ValueError, TypeError) as exc:
                raise SweepError(f"snapshot {parquet}: column {col!r} does not match its type in "
                                 f"{meta.name} ({_first_line(exc)}); the snapshot is damaged: "
                                 "fetch the sweep again.") from None
    for col in ("name", "group"):
        typed[col] = frame[col].astype(object).where(frame[col].notna(), None)
    # one new frame: replacing a column at a time is quadratic in the number of columns
    frame = pd.DataFrame({c: typed.get(c, frame[c]) for c in frame.columns}, index=frame.index)
    return RunTable(validate(frame, where=str(parquet)), meta_obj)


#: The report options a snapshot may remember, and what each may hold (the CLI's choices;
#: tests/test_hostile.py checks that they agree with the parser's).
REPORT_CHOICES = {"direction": ("maximize", "minimize"), "metric_scale": ("auto", "raw", "log", "rank"),
                  "test": ("ks", "welch", "mannwhitney")}
_TYPE_LISTS = ("numeric", "categorical", "boolean")


def _check_meta(meta: RunMeta, frame: pd.DataFrame, path: Path) -> None:
    """The metadata fits the frame: every ``params.*`` column in exactly one type list, and the
    remembered report options of the kinds the report takes; else one line naming the field."""
    damaged = "the snapshot is damaged: fetch the sweep again, or fix the field"
    for field in _TYPE_LISTS:
        value = getattr(meta, field)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SweepError(f"snapshot file {path}: {field!r} is not a list of hyperparameter "
                             f"names; {damaged}.")
    params = [c[len(PARAM):] for c in frame.columns if str(c).startswith(PARAM)]
    typed = {f: set(getattr(meta, f)) for f in _TYPE_LISTS}
    untyped = [p for p in params if not any(p in names for names in typed.values())]
    if untyped and not any(typed.values()):
        raise SweepError(f"snapshot file {path} has no type lists ({', '.join(_TYPE_LISTS)}) for "
                         f"its {len(params)} hyperparameters; {damaged}.")
    if untyped:
        raise SweepError(f"snapshot file {path}: hyperparameter {untyped[0]!r} is in none of "
                         f"the type lists ({', '.join(_TYPE_LISTS)}); {damaged}.")
    options = meta.report_options
    if not isinstance(options, dict):
        raise SweepError(f"snapshot file {path}: 'report_options' is not an object; {damaged}.")
    alpha = options.get("alpha")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                              or not 0 < alpha < 1):
        raise SweepError(f"snapshot file {path}: report_options.alpha is {alpha!r}, not a number "
                         "between 0 and 1; fix the field (e.g. \"alpha\": 0.05) or fetch the sweep again.")
    for key, allowed in REPORT_CHOICES.items():
        value = options.get(key)
        if value is not None and value not in allowed:
            raise SweepError(f"snapshot file {path}: report_options.{key} is {value!r}, not one "
                             f"of {', '.join(allowed)}; fix the field or fetch the sweep again.")
    for key in ("target", "budget", "at_budget"):
        value = options.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise SweepError(f"snapshot file {path}: report_options.{key} is a "
                             f"{type(value).__name__}, not a name; {damaged}.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0][:160] if text else type(exc).__name__) or type(exc).__name__
