"""Every neighbour pair's test results as files of the site: ``data/pairs.csv`` and
``data/pairs.parquet`` (one row per pair of neighbouring configurations)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from sweepsight.analysis.significance import pair_sides
from sweepsight.reports.format import formatted

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis

#: File names written into the site's data folder.
CSV, PARQUET = "pairs.csv", "pairs.parquet"


def pairs_frame(analysis: Analysis) -> pd.DataFrame:
    """One row per neighbour pair (a, b), a the better-ranked configuration.

    Differences are b minus a, as logged (``*_logged``) and on the analysis scale; raw
    p-values of the three tests; ``p_bh`` across all pairs; Holm-adjusted p, verdict and
    seeds needed once within a's neighbourhood (``*_in_a``: b as seen from a) and once
    within b's (``*_in_b``: a as seen from b).
    """
    parts = list(_pair_chunks(analysis, chunk=None))
    return parts[0] if parts else pd.DataFrame(columns=_COLUMNS)


def _pair_chunks(analysis: Analysis, *, chunk: int | None):
    """:func:`pairs_frame` in frames of ``chunk`` pairs (None: one frame), in order."""
    sig = analysis.significance
    pairs = sig.pairs
    if len(pairs) == 0:
        return
    rows_all, mirror_all, ia_all, ib_all = pair_sides(sig)
    labels = sig.configs["label"].to_numpy()
    scale = analysis.prep.metric_scale
    test = analysis.options.test
    step = chunk or len(rows_all)
    for start in range(0, len(rows_all), step):
        sl = slice(start, start + step)
        rows, mirror, ia, ib = rows_all[sl], mirror_all[sl], ia_all[sl], ib_all[sl]
        fwd = pairs.iloc[rows].reset_index(drop=True)
        back = _mirror_rows(pairs[["p_holm", "verdict", "seeds_to_reach", "seeds_for_power"]],
                            mirror)
        out = pd.DataFrame({
            "pair": np.arange(start + 1, start + len(fwd) + 1),
            "param": fwd["param"].astype(str),
            "from_value": fwd["from_value"].astype(str), "to_value": fwd["to_value"].astype(str),
            "config_a_id": fwd["config_id"], "config_a": pd.Series(labels[ia]).astype(str),
            "config_b_id": fwd["neighbour_id"],
            "config_b": pd.Series(labels[ib]).astype(str),
            "n_a": fwd["n_a"].astype(int), "n_b": fwd["n_b"].astype(int),
            "mean_a_logged": fwd["mean_raw_a"], "mean_b_logged": fwd["mean_raw_b"],
            "diff_logged": fwd["diff_raw"], "diff_logged_ci_low": fwd["diff_raw_ci_low"],
            "diff_logged_ci_high": fwd["diff_raw_ci_high"],
            "analysis_scale": scale,
            "mean_a": fwd["mean_a"], "mean_b": fwd["mean_b"],
            "diff": fwd["diff"], "diff_ci_low": fwd["diff_ci_low"],
            "diff_ci_high": fwd["diff_ci_high"],
            "cliffs_delta": fwd["cliffs_delta"],
            "ks_stat": fwd["ks_stat"], "ks_p": fwd["ks_p"], "welch_p": fwd["t_p"],
            "mannwhitney_p": fwd["mw_p"], "p_bh": fwd["p_bh"],
            "test": test,
            "p_holm_in_a": fwd["p_holm"], "verdict_in_a": fwd["verdict"].astype(str),
            "seeds_to_reach_in_a": fwd["seeds_to_reach"].astype(int),
            "seeds_for_power_in_a": fwd["seeds_for_power"],
            "p_holm_in_b": back["p_holm"].to_numpy(),
            "verdict_in_b": back["verdict"].astype(str).to_numpy(),
            "seeds_to_reach_in_b": back["seeds_to_reach"].to_numpy(dtype=int),
            "seeds_for_power_in_b": back["seeds_for_power"].to_numpy(),
        })
        yield out[_COLUMNS]


def _mirror_rows(pairs: pd.DataFrame, mirror: np.ndarray) -> pd.DataFrame:
    """The rows at ``mirror``, all missing where -1 (a pair seen from one side only)."""
    back = pairs.iloc[np.maximum(mirror, 0)].reset_index(drop=True)
    missing = mirror < 0
    if missing.any():
        back = back.astype(object)
        back.loc[missing] = np.nan
    return back


_COLUMNS = [
    "pair", "param", "from_value", "to_value", "config_a_id", "config_a", "config_b_id",
    "config_b", "n_a", "n_b", "mean_a_logged", "mean_b_logged", "diff_logged",
    "diff_logged_ci_low", "diff_logged_ci_high", "analysis_scale", "mean_a", "mean_b", "diff",
    "diff_ci_low", "diff_ci_high", "cliffs_delta", "ks_stat", "ks_p", "welch_p",
    "mannwhitney_p", "p_bh", "test", "p_holm_in_a", "verdict_in_a", "seeds_to_reach_in_a",
    "seeds_for_power_in_a", "p_holm_in_b", "verdict_in_b", "seeds_to_reach_in_b",
    "seeds_for_power_in_b",
]


#: pairs per piece written: the whole table never exists as text or as a second frame
PAIR_CHUNK = 50_000


def write_pairs(analysis: Analysis, data_dir: str | Path) -> list[Path]:
    """Write :func:`pairs_frame` as ``pairs.csv`` and ``pairs.parquet`` into ``data_dir``
    (created if needed), :data:`PAIR_CHUNK` pairs at a time (one Parquet row group each);
    returns the two paths. Nothing is written when significance was not tested (no pairs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunks = _pair_chunks(analysis, chunk=PAIR_CHUNK)
    first = next(chunks, None)
    if first is None:
        return []
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    csv, parquet = data_dir / CSV, data_dir / PARQUET
    table = pa.Table.from_pandas(first, preserve_index=False)
    with open(csv, "w", newline="", encoding="utf-8") as fh, \
            pq.ParquetWriter(parquet, table.schema) as parquet_out:
        for i, frame in enumerate(itertools.chain([first], chunks)):
            if i:
                table = pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False)
            parquet_out.write_table(table)
            _write_rows(frame, fh, header=i == 0)
    return [csv, parquet]


def write_csv(frame: pd.DataFrame, path: Path, *, chunk: int = 20_000) -> None:
    """``frame.to_csv(path, index=False, float_format="%.10g")``: the same text, faster (a
    250k-run grid has half a million pairs), see :func:`_write_rows`."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        _write_rows(frame, fh, header=True, chunk=chunk)


def _write_rows(frame: pd.DataFrame, fh, *, header: bool, chunk: int = 20_000) -> None:
    """Append ``frame`` to the open CSV ``fh`` as ``to_csv(float_format="%.10g")`` writes it
    (with its header line when ``header``): each distinct value of a column formatted, and
    quoted as the csv module would (``QUOTE_MINIMAL``), once; rows joined ``chunk`` at a time so
    that the texts never all exist at once; missing cells are empty, as pandas writes them.
    Frames with other column types or a single column (an empty field alone on a line is
    quoted) go through pandas."""
    for name in frame.columns:
        col = frame[name]
        if not (col.dtype.kind in "fiu" or pd.api.types.infer_dtype(col, skipna=False) == "string"):
            frame.to_csv(fh, index=False, header=header, float_format="%.10g")
            return
    if frame.shape[1] < 2:
        frame.to_csv(fh, index=False, header=header, float_format="%.10g")
        return
    if header:
        fh.write(",".join(_quote(str(c)) for c in frame.columns) + "\n")
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start:start + chunk]
        cells = [_cell_text(part[name]) for name in part.columns]
        fh.write("".join(",".join(row) + "\n" for row in zip(*cells)))


def _quote(text: str) -> str:
    """A field as the csv module writes it with ``QUOTE_MINIMAL``."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _cell_text(col: pd.Series) -> list[str]:
    """One column's cells as pandas' ``to_csv(float_format="%.10g")`` writes them; texts
    (labels repeat across pairs) quoted once per distinct value."""
    if col.dtype.kind == "f":
        return formatted(col.to_numpy(), "%.10g").tolist()
    if col.dtype.kind in "iu":
        return list(map(str, col.tolist()))
    codes, uniques = pd.factorize(col.to_numpy())  # missing -> -1: an empty field
    text = np.array(uniques.tolist() + [""], dtype=object)
    special = np.flatnonzero(pd.Series(text).str.contains('[,"\r\n]', regex=True).to_numpy())
    text[special] = [_quote(v) for v in text[special].tolist()]
    return text[codes].tolist()
