"""Shared pieces of the charts: row caps, safe field names, colours, run sampling."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from sweepsight.reports import format as fmt

#: No chart embeds more rows than this; larger inputs are sampled or aggregated (and say so).
MAX_ROWS = 5_000

VERDICT_COLORS = {
    "target": "#1f77b4",
    "better": "#2ca02c",
    "worse": "#d62728",
    "not significant": "#9e9e9e",
    "cannot tell": "#7b5ea7",
    "not testable": "#d9d9d9",
}
VERDICTS = list(VERDICT_COLORS)


def fields(names: list[str], prefix: str = "f") -> dict[str, str]:
    """Map each name to a field name Vega-Lite reads literally (dots, brackets, quotes in
    hyperparameter names would otherwise mean nested access); the names become titles."""
    return {name: f"{prefix}{i}" for i, name in enumerate(names)}


class Sample(NamedTuple):
    """Rows kept for a chart and a sentence saying how they were chosen ("" when all kept)."""

    frame: pd.DataFrame
    caption: str


def sample_rows(frame: pd.DataFrame, *, max_rows: int = MAX_ROWS, random_state: int = 0,
                what: str = "runs") -> Sample:
    """At most ``max_rows`` rows: all of them, or a seeded random sample (original order kept)."""
    if len(frame) <= max_rows:
        return Sample(frame, "")
    keep = np.sort(np.random.default_rng(random_state).choice(len(frame), max_rows, replace=False))
    return Sample(frame.iloc[keep],
                  f"Showing a random sample of {max_rows:,} of {len(frame):,} {what} "
                  f"(seed {random_state}) to keep the page light.")


def metric_title(prep) -> str:
    """Axis title of the target metric as the charts show it (as logged)."""
    arrow = "higher is better" if prep.maximize else "lower is better"
    return f"{prep.target} ({arrow})"


def metric_encoding(prep) -> tuple[str, dict, str]:
    """``(field, scale options, title suffix)`` to plot the target on the analysis scale: as
    logged on a log axis when analysed as log10, as ranks when analysed as ranks; on a linear
    axis a heavy tail (a few 1e3 among 1e-3) squeezes every other run into one pixel row."""
    scale = prep.metric_scale
    if scale == "log":
        return "y_raw", {"type": "log"}, ", log scale"
    if scale == "rank" or tiny_power(prep):
        return "y", {}, scale_suffix(prep)
    return "y_raw", {}, ""


def tiny_power(prep) -> int:
    """The power of ten a tiny metric is analysed times (``ScaleChoice.power``; 0: none).
    Charts draw it so too: Vega's axis ticks fail on subnormal numbers (1e-310)."""
    return int(getattr(getattr(prep, "scale", None), "power", 0) or 0)


def plots_raw(prep) -> bool:
    """Whether charts draw the target as logged (not on ranks, not times a power of ten)."""
    return getattr(prep, "metric_scale", "raw") != "rank" and not tiny_power(prep)


def scale_suffix(prep) -> str:
    """What an axis title adds when the target is not drawn as logged: ``, rank`` or
    ``, ×1e310``; "" when it is."""
    if plots_raw(prep):
        return ""
    return ", rank" if getattr(prep, "metric_scale", "raw") == "rank" else f", ×1e{tiny_power(prep)}"


def param_tooltips(prep, field_of: dict[str, str]) -> list:
    """Tooltip entries: run name then every varying hyperparameter (as text)."""
    import altair as alt

    return [alt.Tooltip("name:N", title="run")] + [
        alt.Tooltip(f"{field_of[p]}:N", title=p) for p in prep.params
    ]


def runs_with_text_params(prep, field_of: dict[str, str], rows: pd.DataFrame) -> pd.DataFrame:
    """``name``, ``y_raw``, ``y`` (analysis scale) and each param as display text under its
    safe field name."""
    out = pd.DataFrame({"name": rows["name"].astype(str).to_numpy(),
                        "y_raw": rows["y_raw"].to_numpy(dtype=float),
                        "y": rows["y"].to_numpy(dtype=float) if "y" in rows
                        else rows["y_raw"].to_numpy(dtype=float)})
    for p in prep.params:
        out[field_of[p]] = [fmt.value(v) for v in rows[p].to_numpy(dtype=object)]
    return out


def label_angle(levels, width: float, *, char_px: float = 7.0) -> int:
    """The angle of a discrete x axis's labels: level (0) when they fit side by side in
    ``width`` pixels, else -40 (never on their side)."""
    need = sum(len(str(v)) * char_px + 8 for v in levels)
    return 0 if need <= width else -40
