"""CSV, Parquet and JSON-lines files: exports from any tracker, or ``mlflow.search_runs`` output."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from adapters.errors import SweepError
from adapters.schema import METRIC, PARAM, RunTable, build_table

PARAM_PREFIXES = ("params.", "param.", "config.", "hparams.", "hyperparameters.")
METRIC_PREFIXES = ("metrics.", "metric.", "summary.", "summary_metrics.")
IGNORED_PREFIXES = ("tags.", "system.", "sys.")
# Fixed columns under the names that common exports use (W&B and MLflow UI downloads, search_runs).
FIXED_ALIASES = {
    "run_id": ("run_id", "run id", "runid", "id", "run"),
    "name": ("name", "run_name", "run name", "tags.mlflow.runname", "display_name"),
    "group": ("group", "sweep", "sweep_id", "experiment_id", "experiment", "tags.mlflow.parentrunid"),
    "state": ("state", "status"),
    "created_at": ("created_at", "created", "start_time", "start time", "createdat", "timestamp"),
}


def read_file(path: Path) -> pd.DataFrame:
    """Read the file with every cell as text, so that typing is ours and not the reader's."""
    if not path.exists():
        raise SweepError(f"file {path} not found; pass the path of a CSV, Parquet or JSON-lines export.")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix.startswith(".parquet") or suffix == ".pq":
            return pd.read_parquet(path)
        if suffix.startswith((".jsonl", ".ndjson", ".json")):
            return pd.read_json(path, lines=True, dtype=False)
        sep = "\t" if suffix.startswith(".tsv") else ","
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise SweepError(f"cannot read {path}: {str(exc).splitlines()[0]}; "
                         "is it a CSV, Parquet or JSON-lines file?") from None


def load(options: dict) -> RunTable:
    """Load a file.

    Options: ``path`` (required), ``param``/``metric`` (lists of bare column names),
    ``seed``, ``budget``, ``metric_agg`` (only ``last``: a file has no history).
    """
    if not options.get("path"):
        raise SweepError("the csv source needs a file: pass --path FILE.")
    path = Path(options["path"])
    raw = read_file(path)
    where = str(path)
    if options.get("metric_agg", "last") != "last":
        raise SweepError(f"{where}: a file holds one value per run, so --metric-agg must be 'last'.")
    explicit_params = list(options.get("param") or [])
    explicit_metrics = list(options.get("metric") or [])
    for col in explicit_params + explicit_metrics:
        if col not in raw.columns:
            raise SweepError(f"column {col!r} is not in {where}; columns: {', '.join(map(str, raw.columns))}.")

    out = pd.DataFrame(index=raw.index)
    used: set[str] = set()
    lower = {str(c).lower(): c for c in raw.columns}
    for fixed, aliases in FIXED_ALIASES.items():
        for alias in aliases:
            col = lower.get(alias)
            if col is not None and col not in used and col not in explicit_params + explicit_metrics:
                out[fixed] = raw[col].values
                used.add(col)
                break
    if "run_id" not in out:
        if "name" in out and out["name"].is_unique:
            out["run_id"] = out["name"]
        else:
            out["run_id"] = [f"row-{i + 1}" for i in range(len(raw))]

    renamed_params, renamed_metrics = {}, {}
    for col in raw.columns:
        name = str(col)
        if col in used:
            continue
        if col in explicit_params:
            renamed_params[col] = name
        elif col in explicit_metrics:
            renamed_metrics[col] = name
        elif name.startswith(PARAM_PREFIXES):
            renamed_params[col] = name.split(".", 1)[1]
        elif name.startswith(METRIC_PREFIXES):
            renamed_metrics[col] = name.split(".", 1)[1]
    # A bare export (no prefixes) with --metric named: every other column is a hyperparameter.
    if explicit_metrics and not renamed_params:
        for col in raw.columns:
            name = str(col)
            if col not in used and col not in renamed_metrics and not name.startswith(IGNORED_PREFIXES):
                renamed_params[col] = name
    if not renamed_metrics:
        raise SweepError(
            f"{where} has no metric columns: prefix them (metrics., summary., metric.) or name "
            "bare columns with --metric NAME (and hyperparameters with --param NAME)."
        )
    for col, name in renamed_params.items():
        out[PARAM + name] = raw[col].values
    for col, name in renamed_metrics.items():
        out[METRIC + name] = raw[col].values
    return build_table(
        out.copy(),
        source="csv",
        seed=options.get("seed"),
        budget=options.get("budget"),
        query={"path": str(path)},
        where=where,
    )
