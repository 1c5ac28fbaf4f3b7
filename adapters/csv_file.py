"""CSV, Parquet and JSON-lines files: exports from any tracker, or ``mlflow.search_runs`` output."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sweepsight.adapters.coerce import _as_number, _is_missing
from sweepsight.adapters.collide import cell, compare
from sweepsight.adapters.errors import SweepError, export_file
from sweepsight.adapters.schema import METRIC, PARAM, RunTable, build_table

PARAM_PREFIXES = ("params.", "param.", "config.", "hparams.", "hyperparameters.")
METRIC_PREFIXES = ("metrics.", "metric.", "summary.", "summary_metrics.")
IGNORED_PREFIXES = ("tags.", "system.", "sys.")
# Run metadata columns of UI exports (W&B: Name,State,Notes,User,Tags,Created,Runtime,Sweep;
# MLflow search_runs: end_time, artifact_uri, lifecycle_stage): never hyperparameters.
METADATA_COLUMNS = {
    "notes", "user", "username", "tags", "runtime", "end_time", "end time", "artifact_uri",
    "lifecycle_stage", "job type", "job_type", "hostname", "host", "github", "commit",
    "duration", "description",
}
# Words that, as the last word of a bare numeric column's name (train/loss, val_acc), mark an
# outcome rather than a hyperparameter (loss_scale, reward_scale stay hyperparameters).
METRIC_WORDS = {
    "loss", "error", "err", "mse", "rmse", "mae", "perplexity", "ppl", "nll", "acc", "accuracy",
    "f1", "auc", "auroc", "score", "reward", "return", "precision", "recall", "r2", "bleu",
    "rouge", "iou", "miou", "top1", "top5", "wer", "cer", "fid",
}
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
    export_file(path)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix.startswith(".parquet") or suffix == ".pq":
            return pd.read_parquet(path)
        if suffix.startswith((".jsonl", ".ndjson", ".json")):
            return pd.read_json(path, lines=True, dtype=False)
        sep = "\t" if suffix.startswith(".tsv") else ","
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
        header = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, header=None,
                             nrows=1).iloc[0].tolist()
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise SweepError(f"cannot read {path}: {str(exc).splitlines()[0]}; "
                         "is it a CSV, Parquet or JSON-lines file?") from None
    _check_delimiter(path, frame, sep)
    return _drop_duplicate_headers(path, frame, header)


def _check_delimiter(path: Path, frame: pd.DataFrame, sep: str) -> None:
    """One column whose name holds ``;``, a tab or ``,``: the file uses another delimiter."""
    if len(frame.columns) != 1:
        return
    name = str(frame.columns[0])
    for other, called in ((";", "';'"), ("\t", "a tab"), (",", "','"), ("|", "'|'")):
        if other != sep and other in name:
            wanted = "a tab (save it as .tsv)" if sep == "\t" else "','"
            raise SweepError(f"{path} has one column, {name[:60]!r}: the delimiter looks wrong "
                             f"(the header is split by {called}, this reader expects {wanted}); "
                             "save the file comma-separated (or tab-separated as .tsv).")


def _drop_duplicate_headers(path: Path, frame: pd.DataFrame, header: list) -> pd.DataFrame:
    """A header naming one column twice (pandas reads the second ``params.lr`` as ``params.lr.1``,
    an invented hyperparameter): identical copies are dropped (said in ``attrs["notes"]``);
    different ones fail naming both positions."""
    if len(header) != len(frame.columns):
        return frame
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(str(name), []).append(i)
    drop, notes = [], []
    for name, where in positions.items():
        if len(where) < 2:
            continue
        cols = [frame.iloc[:, i] for i in where]
        found = compare(name, tuple(f"column {i + 1}" for i in where), cols,
                        [f"data row {r + 1}" for r in range(len(frame))])
        if not found.same:
            a, b = found.example or ("", "")  # set whenever not same
            raise SweepError(
                f"{path} has two columns named {name!r} (columns {where[0] + 1} and {where[1] + 1}) "
                f"with different values ({found.at}: {cell(a)} vs {cell(b)}); rename or delete one.")
        drop += [frame.columns[i] for i in where[1:]]
        notes.append(f"Column {name} appears {len(where)} times in {path.name} with the same "
                     "values: read once.")
    if drop:
        frame = frame.drop(columns=drop)
        frame.attrs["notes"] = notes
    return frame


def _merge_sources(raw: pd.DataFrame, renamed: dict, *, what: str, option: str, where: str,
                   runs: list[str], notes: list[str]) -> dict:
    """``renamed`` (column -> name) with one column per name: columns giving one name
    (``params.lr`` and ``config.lr``) are merged when their values agree, else refused naming
    both and how to keep them apart."""
    by_name: dict[str, list] = {}
    for col, name in renamed.items():
        by_name.setdefault(name, []).append(col)
    out = dict(renamed)
    for name, cols in by_name.items():
        if len(cols) < 2:
            continue
        found = compare(name, tuple(map(str, cols)), [raw[c] for c in cols],
                        [f"run {r!r}" for r in runs])
        shown = " and ".join(repr(str(c)) for c in cols)
        if not found.same:
            a, b = found.example or ("", "")  # set whenever not same
            raise SweepError(
                f"{where}: columns {shown} both give {what} {name!r} with different values "
                f"({found.at}: {cell(a)} vs {cell(b)}); keep one under its full name with "
                f"{option} {str(cols[-1])!r}, or rename or delete one of the columns.")
        for col in cols[1:]:
            del out[col]
        notes.append(f"Columns {shown} hold the same values: read once as {what} {name}.")
    return out


def load(options: dict) -> RunTable:
    """Load a file.

    Options: ``path`` (required), ``param``/``metric`` (lists of bare column names),
    ``seed``, ``budget`` (columns that are hyperparameters, bare or prefixed), ``metric_agg``
    (only ``last``: a file has no history), ``metrics`` (the target: in a file with no
    prefixed metric columns and no ``metric``, the bare column holding it).
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
    # --param NAME of a column logged as params.NAME: already a hyperparameter (the CLI keeps
    # it analysed whatever a rule says); only bare columns are listed below.
    prefixed = {str(c).split(".", 1)[1] for c in raw.columns if str(c).startswith(PARAM_PREFIXES)}
    explicit_params = [c for c in explicit_params if c in raw.columns or c not in prefixed]
    for col in explicit_params + explicit_metrics:
        if col not in raw.columns:
            raise SweepError(f"column {col!r} is not in {where}; columns: {', '.join(map(str, raw.columns))}.")
    notes: list[str] = []
    has_metrics = any(str(c).startswith(METRIC_PREFIXES) for c in raw.columns)
    if not explicit_metrics and not has_metrics:
        explicit_metrics, note = _bare_target(raw, options.get("metrics") or [], explicit_params,
                                              where=where)
        notes.append(note)
    # The columns named by --seed/--budget are hyperparameters even when --param lists others.
    implied = [c for c in (options.get("seed"), options.get("budget")) if c in raw.columns
               and c not in explicit_params + explicit_metrics and c not in prefixed]

    out = pd.DataFrame(index=raw.index)
    used: set[str] = set()
    lower = {str(c).lower(): c for c in raw.columns}
    for fixed, aliases in FIXED_ALIASES.items():
        for alias in aliases:
            col = lower.get(alias)
            if col is not None and col not in used and col not in explicit_params + explicit_metrics + implied:
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
        if col in explicit_params or col in implied:
            renamed_params[col] = name
        elif col in explicit_metrics:
            renamed_metrics[col] = name
        elif name.startswith(PARAM_PREFIXES):
            renamed_params[col] = name.split(".", 1)[1]
        elif name.startswith(METRIC_PREFIXES):
            renamed_metrics[col] = name.split(".", 1)[1]
    # A bare export (no prefixes) with --metric named: every other column is a hyperparameter,
    # except run metadata and other numeric metrics (a train/loss beside val/loss would leak).
    if explicit_metrics and not set(renamed_params) - set(implied):
        skipped, as_metric = [], []
        for col in raw.columns:
            name = str(col)
            if (col in used or col in renamed_metrics or col in renamed_params
                    or name.startswith(IGNORED_PREFIXES)):
                continue
            if name.strip().lower() in METADATA_COLUMNS:
                skipped.append(name)
            elif _looks_like_metric(name, raw[col]):
                as_metric.append(name)
            else:
                renamed_params[col] = name
        if skipped:
            notes.append(f"Run metadata columns left out of the hyperparameters: {', '.join(skipped)}.")
        if as_metric:
            notes.append("Numeric columns named like metrics left out of the hyperparameters "
                         f"(an outcome, not a choice): {', '.join(as_metric)}; name one with "
                         "--metric to load it, or with --param to analyse it as a hyperparameter.")
    notes += raw.attrs.get("notes", [])
    for col, name in {**renamed_params, **renamed_metrics}.items():
        if not str(name).strip() or any(ch in str(name) for ch in "\r\n\x00"):
            why = "is empty after its prefix" if not str(name).strip() else "holds a line break"
            raise SweepError(f"column {str(col)!r} of {where}: its name {why}; rename the column "
                             "(e.g. params.lr).")
    renamed_params = _merge_sources(raw, renamed_params, what="hyperparameter", option="--param",
                                    where=where, runs=list(map(str, out["run_id"])), notes=notes)
    renamed_metrics = _merge_sources(raw, renamed_metrics, what="metric", option="--metric",
                                     where=where, runs=list(map(str, out["run_id"])), notes=notes)
    if not renamed_metrics:
        raise SweepError(
            f"{where} has no metric columns: prefix them (metrics., summary., metric.) or name "
            "bare columns with --metric NAME (and hyperparameters with --param NAME)."
        )
    columns = {PARAM + name: raw[col].values for col, name in renamed_params.items()}
    columns.update({METRIC + name: raw[col].values for col, name in renamed_metrics.items()})
    out = pd.concat([out, pd.DataFrame(columns, index=raw.index)], axis=1)  # at once, not column by column
    table = build_table(
        out,
        source="csv",
        seed=options.get("seed"),
        budget=options.get("budget"),
        query={"path": str(path)},
        where=where,
    )
    table.meta.notes.extend(n for n in notes if n)
    return table


def _bare_target(raw: pd.DataFrame, targets: list[str], params: list[str], *,
                 where: str) -> tuple[list[str], str]:
    """The metric columns of a bare export (no prefixes) named by neither --metric nor a prefix,
    and the note saying so: the column named by --target, else every numeric column named like
    a metric (val_acc, train_loss; the CLI then takes the only one or asks which)."""
    named = [m for m in targets if m in raw.columns and m not in params]
    if named:
        return named, (f"Bare column{'s' if len(named) > 1 else ''} {', '.join(named)} read as "
                       "the metric named by --target.")
    fixed = {a for aliases in FIXED_ALIASES.values() for a in aliases}
    guessed = [str(c) for c in raw.columns if c not in params
               and str(c).strip().lower() not in fixed | METADATA_COLUMNS
               and not str(c).startswith(PARAM_PREFIXES + IGNORED_PREFIXES)
               and _looks_like_metric(str(c), raw[c])]
    if targets and guessed:
        raise SweepError(f"--target {targets[0]} is not a column of {where}; columns named like "
                         f"metrics: {', '.join(guessed)}. Pass one of them with --target.")
    if len(guessed) == 1:
        return guessed, f"Bare column {guessed[0]} read as the metric (named like one)."
    return guessed, (f"Bare columns named like metrics read as metrics: {', '.join(guessed)}; "
                     "--target chooses the one to explain." if guessed else "")


def _looks_like_metric(name: str, values: pd.Series) -> bool:
    """A bare column whose last word is a metric word and whose cells are all numbers/empty."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    if not words or words[-1] not in METRIC_WORDS:
        return False
    present = [v for v in values if not _is_missing(v)]
    return bool(present) and all(_as_number(v) is not None for v in present)
