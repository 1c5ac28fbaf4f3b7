"""The common run table: one row per run, declared once and validated where adapters return.

Columns
-------
run_id, name, source, group, state, created_at
    Fixed columns. ``state`` is one of :data:`STATES`; ``created_at`` is UTC.
params.<name>
    One per hyperparameter, typed: float64 for numbers, pandas ``boolean`` for
    booleans, strings for categoricals. Nested configs are flattened with dots.
metrics.<name>
    One per metric, float64 (NaN and +/-inf kept as logged).
"""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pandera.pandas as pa

from sweepsight.adapters.errors import SweepError

PARAM = "params."
METRIC = "metrics."
FIXED = ["run_id", "name", "source", "group", "state", "created_at"]
SOURCES = ("csv", "mlflow", "wandb")
STATES = ("finished", "failed", "crashed", "running", "other")

_STATE_ALIASES = {
    "finished": "finished", "finish": "finished", "completed": "finished", "complete": "finished",
    "success": "finished", "succeeded": "finished", "done": "finished", "ok": "finished",
    "failed": "failed", "fail": "failed", "error": "failed", "errored": "failed", "pruned": "failed",
    "crashed": "crashed", "killed": "crashed", "preempted": "crashed", "lost": "crashed",
    "running": "running", "scheduled": "running", "pending": "running", "queued": "running",
}
SEED_NAMES = ("seed", "random_seed", "random_state", "rng_seed", "trial_seed", "run_seed")

_schema = pa.DataFrameSchema(
    {
        "run_id": pa.Column(str, unique=True, nullable=False),
        "name": pa.Column(str, nullable=True),
        "source": pa.Column(str, pa.Check.isin(SOURCES)),
        "group": pa.Column(str, nullable=True),
        "state": pa.Column(str, pa.Check.isin(STATES)),
        "created_at": pa.Column(pd.DatetimeTZDtype(tz="UTC"), nullable=True, coerce=True),
        r"^params\..+$": pa.Column(nullable=True, regex=True),
        r"^metrics\..+$": pa.Column(float, nullable=True, regex=True),
    },
    strict=True,
    ordered=False,
)


def normalise_state(value: Any) -> str:
    """Map a tracker's run state (``FINISHED``, ``KILLED``, ``crashed`` ...) to :data:`STATES`."""
    if value is None or (isinstance(value, float) and value != value):
        return "other"
    return _STATE_ALIASES.get(str(value).strip().lower(), "other")


def guess_seed(params: list[str]) -> str | None:
    """The hyperparameter that looks like a random seed, matched on the last dotted part."""
    for candidate in SEED_NAMES:
        for p in params:
            if p.split(".")[-1].lower() == candidate:
                return p
    return None


@dataclasses.dataclass
class RunMeta:
    """What the run table alone does not say."""

    source: str
    numeric: list[str] = dataclasses.field(default_factory=list)
    categorical: list[str] = dataclasses.field(default_factory=list)
    boolean: list[str] = dataclasses.field(default_factory=list)
    seed: str | None = None
    budget: str | None = None
    metric_agg: str = "last"
    query: dict = dataclasses.field(default_factory=dict)
    fetched_at: str = dataclasses.field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    notes: list[str] = dataclasses.field(default_factory=list)
    #: numeric/boolean param -> how many "None"/"null"/"NaN" strings were read as missing
    null_words: dict[str, int] = dataclasses.field(default_factory=dict)
    #: the metric the sweep was run to optimise, when the tracker says (W&B sweep config
    #: ``metric.name``, an MLflow parent run's ``metric`` tag)
    objective: str | None = None
    #: the report options a snapshot was built with (target, direction, metric_scale, budget,
    #: at_budget, alpha, test), so that ``--from-snapshot`` rebuilds it alike
    report_options: dict = dataclasses.field(default_factory=dict)
    #: params named with ``--param``: analysed as hyperparameters even where a rule (an
    #: outcome, an identifier) would set them aside
    forced_params: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, clean=None) -> "RunMeta":
        """The metadata in ``text``; ``clean(data)`` first rewrites the parsed JSON."""
        data = json.loads(text)
        data = clean(data) if clean is not None else data
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclasses.dataclass
class RunTable:
    """The run table (``frame``) and its metadata (``meta``)."""

    frame: pd.DataFrame
    meta: RunMeta

    @property
    def params(self) -> list[str]:
        """Hyperparameter names, without the ``params.`` prefix (seed and budget included)."""
        return [c[len(PARAM):] for c in self.frame.columns if c.startswith(PARAM)]

    @property
    def metrics(self) -> list[str]:
        """Metric names, without the ``metrics.`` prefix."""
        return [c[len(METRIC):] for c in self.frame.columns if c.startswith(METRIC)]

    def param(self, name: str) -> pd.Series:
        return self.frame[PARAM + name]

    def metric(self, name: str) -> pd.Series:
        """The metric column; an unknown name fails listing the metrics that exist."""
        column = METRIC + name
        if column not in self.frame.columns:
            raise SweepError(
                f"metric {name!r} is not in this sweep; metrics found: "
                f"{', '.join(sorted(self.metrics)) or '(none)'}. Pass one of them with --target."
            )
        return self.frame[column]


def build_table(
    frame: pd.DataFrame,
    *,
    source: str,
    seed: str | None = None,
    budget: str | None = None,
    metric_agg: str = "last",
    query: dict | None = None,
    where: str = "the input",
) -> RunTable:
    """Type the parameter columns, fill the metadata and validate: what every adapter returns.

    ``frame`` has the fixed columns (missing ones are filled) and ``params.*``/``metrics.*``
    columns holding raw values (strings, numbers, booleans, lists). ``where`` names the input
    in error messages (a file path, an MLflow experiment, a wandb project).
    """
    from sweepsight.adapters.coerce import coerce, to_metric

    if len(frame) == 0:
        raise SweepError(f"{where} has no runs; check the experiment, project, sweep or filter.")
    frame = frame.copy()
    for col in FIXED:
        if col not in frame.columns:
            frame[col] = None
    frame["run_id"] = frame["run_id"].astype(str)
    dupes = frame["run_id"][frame["run_id"].duplicated()].unique().tolist()
    if dupes:
        shown = ", ".join(map(show_id, dupes[:5])) + (" ..." if len(dupes) > 5 else "")
        raise SweepError(
            f"{where} has duplicate run ids ({len(dupes)}): {shown}; each run must appear once "
            "(drop the repeated rows or pick a column of unique ids)."
        )
    for col in frame.columns:
        _check_name(col, where)
    frame["source"] = source
    frame["state"] = [normalise_state(v) for v in frame["state"]]
    frame["name"] = frame["name"].where(frame["name"].notna(), frame["run_id"]).astype(str)
    frame["group"] = frame["group"].map(lambda v: None if v is None or v != v else str(v))
    frame["group"] = frame["group"].astype("str") if frame["group"].notna().all() else frame["group"].astype(object)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")

    meta = RunMeta(source=source, metric_agg=metric_agg, query=query or {})
    metric_cols = [c for c in frame.columns if c.startswith(METRIC)]
    if not metric_cols:
        raise SweepError(
            f"{where} has no metric columns; name them with a prefix (metrics., summary., metric.) "
            "or pass --metric NAME for each bare metric column."
        )
    typed_columns: dict[str, pd.Series] = {}
    for col in metric_cols:
        typed_columns[col] = to_metric(frame[col], where=f"{where}, column {col!r}")
    for col in [c for c in frame.columns if c.startswith(PARAM)]:
        typed = coerce(frame[col])
        typed_columns[col] = pd.Series(typed.values.array, index=frame.index)
        getattr(meta, typed.kind).append(col[len(PARAM):])
        if typed.null_words:
            meta.null_words[col[len(PARAM):]] = typed.null_words
    # one new frame, not a column replaced at a time (quadratic in the number of columns)
    frame = pd.DataFrame({c: typed_columns.get(c, frame[c]) for c in frame.columns}, index=frame.index)
    if meta.null_words:
        meta.notes.append(null_words_note(meta))
    params = [c[len(PARAM):] for c in frame.columns if c.startswith(PARAM)]
    if seed is not None and seed not in params:
        raise SweepError(
            f"seed column {seed!r} is not a hyperparameter of {where}; hyperparameters: "
            f"{', '.join(sorted(params)) or '(none)'}."
        )
    if budget is not None and budget not in params:
        raise SweepError(
            f"budget column {budget!r} is not a hyperparameter of {where}; hyperparameters: "
            f"{', '.join(sorted(params)) or '(none)'}."
        )
    meta.seed = seed if seed is not None else guess_seed(params)
    meta.budget = budget
    extra = [c for c in frame.columns if c not in FIXED and not c.startswith((PARAM, METRIC))]
    frame = frame.drop(columns=extra)
    order = FIXED + sorted(c for c in frame.columns if c.startswith(PARAM)) + sorted(
        c for c in frame.columns if c.startswith(METRIC)
    )
    frame = frame[order].reset_index(drop=True)
    return RunTable(validate(frame, where=where), meta)


def null_words_note(meta: RunMeta) -> str:
    """The note for :attr:`RunMeta.null_words` (made from the typed fact, never parsed back)."""
    cols = "; ".join(f"{p}: {n} run{'' if n == 1 else 's'}"
                     for p, n in sorted(meta.null_words.items()))
    return ("Read as missing: \"None\"/\"null\"/\"NaN\" strings in columns whose other values are "
            f"numbers or booleans ({cols}); in a column of text they would be a level.")


def validate(frame: pd.DataFrame, *, where: str = "the run table") -> pd.DataFrame:
    """Check ``frame`` against the declared schema; a violation becomes a :class:`SweepError`."""
    try:
        return _schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0] if len(cases) else None
        column = None if first is None else first["column"]
        if first is not None and (column is None or column != column):  # a column-level check
            column = first["failure_case"]
        detail = "" if first is None else f": column {str(column)!r} fails {first['check']}"
        raise SweepError(f"{where} does not fit the run table schema{detail}.") from None


def show_id(run_id) -> str:
    """A run id for a message: ``empty`` when blank, so it does not read as nothing."""
    text = "" if run_id is None else str(run_id)
    return text if text.strip() else "empty"


def _check_name(col, where: str) -> None:
    """A ``params.``/``metrics.`` column with an empty name or a line break fails naming it."""
    name = str(col)
    for prefix in (PARAM, METRIC):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            why = ("has an empty name after its prefix" if not rest.strip() else
                   "has a line break or control character in its name"
                   if any(ord(ch) < 32 for ch in rest) else "")
            if why:
                raise SweepError(f"column {name!r} of {where} {why}; rename it (e.g. {prefix}{'lr' if prefix == PARAM else 'val_acc'}).")


_SAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return _SAFE.sub("_", text).strip("_") or "sweep"
