"""``summary.md``: the report in one GitHub-flavoured markdown page (for a PR or an issue).

Every list is capped ("… and N more") and every cell shortened, so the page stays under
GitHub's 65,536-character comment limit whatever the sweep; run-derived text is escaped.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import pandas as pd

from sweepsight.analysis.configs import replicated_best
from sweepsight.reports.render import esc
from sweepsight.reports.safe_text import for_github
from sweepsight.reports.text import TEST_NAMES, rerun_plan_text

MAX_CHARS = 65_536
CELL_CHARS = 80
NOTE_CHARS = 400


def text(value: Any, *, limit: int = CELL_CHARS) -> str:
    """Run-derived ``value`` as inert markdown, shortened to ``limit`` characters: no HTML,
    links or images, and nothing GitHub acts on (mentions, issue references, autolinks, bidi
    controls; :mod:`reports.safe_text`)."""
    s = "" if value is None else str(value)
    s = " ".join(s.split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return esc(for_github(s))


def num(value: Any, digits: int = 4) -> str:
    """A number for a table cell (``–`` when missing)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def count(value: Any) -> str:
    """A count or other whole number as an integer (``6,667``, not ``6.67e+03``); a median
    of counts may end in ``.5``; anything else as :func:`num`."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isfinite(x) and (2 * x).is_integer():
        return f"{int(x):,}" if x.is_integer() else f"{x:,.1f}"
    return num(value, 3)


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """GFM table lines; ``header`` cells are plain text, ``rows`` already escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def capped(items: list, limit: int) -> tuple[list, str]:
    """The first ``limit`` items and the "… and N more" line ("" when nothing was cut)."""
    if len(items) <= limit:
        return items, ""
    return items[:limit], f"… and {len(items) - limit:,} more"


def _numbers(result) -> list[str]:
    prep, table_ = result.prep, result.table
    sig = result.significance
    rows = [["source", text(table_.meta.source)]]
    query = table_.meta.query or {}
    for key in ("path", "tracking_uri", "experiment", "project", "sweep", "filter"):
        if query.get(key):
            value = query[key]
            value = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            rows.append([key, text(value)])
    n_excluded = 0 if prep.excluded is None else len(prep.excluded)
    rows.append(["runs", f"{len(table_.frame):,} ({len(prep.runs):,} analysed, {n_excluded:,} left out)"])
    configs = getattr(sig, "run_configs", None)
    if configs is not None and len(configs):
        n = pd.to_numeric(configs["n"], errors="coerce")
        rows.append(["configurations", f"{len(configs):,} (runs per configuration: median "
                                       f"{count(n.median())}, min {count(n.min())}, max {count(n.max())})"])
    rows.append(["hyperparameters analysed", f"{len(prep.params):,} ({len(prep.numeric):,} numeric, "
                                             f"{len(prep.categorical):,} categorical)"])
    if prep.set_aside:
        rows.append(["set aside", f"{len(prep.set_aside):,}"])
    rows.append(["target", f"{text(prep.target)} ({prep.direction}; analysed on the "
                           f"{text(prep.metric_scale)} scale)"])
    y_raw = pd.to_numeric(prep.runs["y_raw"], errors="coerce")
    if y_raw.notna().any():
        best = y_raw.idxmax() if prep.maximize else y_raw.idxmin()
        rows.append(["best run", f"{text(prep.runs.loc[best, 'name'])}: {num(y_raw[best])}"])
    if configs is not None and len(configs):
        top = configs.iloc[0]
        mean = top.get("mean_raw", top.get("mean"))
        ranked = "" if prep.metric_scale == "raw" else f"; ranked on the {prep.metric_scale} scale"
        rows.append(["best configuration", f"{text(top.get('label'), limit=2 * CELL_CHARS)}: mean "
                                           f"{num(mean)} over {_runs(top.get('n'))}{ranked}"])
        steady = replicated_best(configs)
        if steady is not None:
            row, need = steady
            rows.append([f"best with at least {need} runs (the median)",
                         f"{text(row.get('label'), limit=2 * CELL_CHARS)}: mean "
                         f"{num(row.get('mean_raw', row.get('mean')))} over {_runs(row.get('n'))}"])
    lin = result.linear
    if lin is not None and getattr(lin, "r2", None) is not None:
        rows.append(["linear model R²", f"{num(lin.r2, 3)} (adjusted {num(getattr(lin, 'r2_adj', None), 3)})"])
    forest = result.forest
    if forest is not None and getattr(forest, "cv_r2", None) is not None:
        rows.append(["forest held-out R²", f"{num(forest.cv_r2, 3)} (pooled out-of-fold; spread "
                                           f"over folds {num(getattr(forest, 'cv_r2_std', None), 2)})"])
    return ["## The sweep in numbers", ""] + table(["", ""], rows)


def _runs(n) -> str:
    return f"{count(n)} run{'' if n == 1 else 's'}"


def _importance_column(frame: pd.DataFrame) -> str | None:
    for col in ("importance", "main_effect", "value", "permutation", "impurity"):
        if col in frame.columns:
            return col
    numeric = [c for c in frame.columns if c != "param" and pd.api.types.is_float_dtype(frame[c])]
    return numeric[0] if numeric else None


def _signs(correlation: pd.DataFrame | None) -> dict[str, str]:
    """Per hyperparameter: the sign of its strongest Spearman correlation with the target."""
    out: dict[str, str] = {}
    if correlation is None or not len(correlation) or "spearman_r" not in correlation:
        return out
    frame = correlation.assign(_abs=correlation["spearman_r"].abs()).dropna(subset=["_abs"])
    for param, rows in frame.groupby("param", sort=False):
        row = rows.loc[rows["_abs"].idxmax()]
        r = float(row["spearman_r"])
        sign = "+" if r > 0 else ("−" if r < 0 else "0")
        where = "" if str(row["feature"]) == str(param) else f" ({text(row['feature'])})"
        out[str(param)] = f"{sign} (ρ = {num(r, 2)}){where}"
    return out


def _importance(result, *, limit: int) -> list[str]:
    lines = ["## Top hyperparameters by importance", ""]
    imp = result.importance
    frame = getattr(imp, "table", None)
    col = None if frame is None else _importance_column(frame)
    if frame is None or col is None or not len(frame):
        return lines + ["No importance could be computed for this sweep."]
    frame = frame.sort_values(col, ascending=False, na_position="last")
    signs = _signs(result.correlation)
    method = getattr(imp, "method", None)
    if method:
        lines += [f"Importance: {text(method, limit=NOTE_CHARS)}; sign: direction of the strongest "
                  "Spearman correlation with the target (as logged).", ""]
    rows = [[str(i + 1), text(r["param"]), num(r[col], 3), signs.get(str(r["param"]), "–")]
            for i, (_, r) in enumerate(frame.iterrows())]
    shown, more = capped(rows, limit)
    lines += table(["rank", "hyperparameter", "importance", "correlation sign"], shown)
    return lines + (["", more] if more else [])


def _neighbours(result, *, limit: int) -> list[str]:
    lines = ["## Significant neighbours of the best configuration", ""]
    sig = result.significance
    if sig is None or not getattr(sig, "applicable", False):
        reason = getattr(sig, "reason", "") or "the comparison could not be made."
        return lines + [f"Not applicable: {text(reason, limit=NOTE_CHARS)}"]
    configs, pairs = sig.configs, sig.pairs
    best = configs.iloc[0]
    mine = pairs[pairs["config_id"] == best["config_id"]]
    alpha = result.options.get("alpha", 0.05)
    test = TEST_NAMES.get(result.options.get("test", "ks"), "KS test")
    where = " on the coarsened grid" if sig.approximate else ""
    lines += [f"Best configuration{where}: {text(best.get('label'), limit=2 * CELL_CHARS)}.", ""]
    if sig.approximate:
        lines += ["Configurations were formed on a coarsened grid (continuous hyperparameters "
                  "binned into the ranges shown), so neighbours are approximate.", ""]
    significant = mine[mine["verdict"].isin(["better", "worse"])]
    if not len(significant):
        line = (f"None of its {len(mine):,} neighbour{'' if len(mine) == 1 else 's'} differs "
                "significantly "
                f"(Holm-adjusted {test}, α = {num(alpha, 2)}).")
        tested = mine[mine["verdict"] != "not testable"]
        if len(tested) and (tested["power_note"] != "").all():
            line += (f" **None could**: {text(tested['power_note'].iloc[0], limit=NOTE_CHARS)}. "
                     "Rerun with more "
                     "seeds" + (" or with `--test welch`." if result.options.get("test", "ks")
                                != "welch" else "."))
        return lines + [line]
    rows = [[text(r["param"]), f"{text(r['from_value'])} → {text(r['to_value'])}", num(r["diff"], 3),
             f"[{num(r['diff_ci_low'], 3)}, {num(r['diff_ci_high'], 3)}]", num(r["p_holm"], 2),
             text(r["verdict"])] for _, r in significant.sort_values("p_holm").iterrows()]
    shown, more = capped(rows, limit)
    lines += [f"{len(significant):,} of its {len(mine):,} neighbours differ significantly "
              f"(Holm-adjusted {test}, α = {num(alpha, 2)}); the verdict is the neighbour's.", ""]
    lines += table(["hyperparameter", "change", "difference of means", "interval", "p (Holm)",
                    "neighbour is"], shown)
    return lines + (["", more] if more else [])


def _notes(result, *, limit: int) -> list[str]:
    prep = result.prep
    items: list[str] = []
    from sweepsight.reports.text import source_notes

    for source in (source_notes(result.table.meta), prep.notes, getattr(result.linear, "warnings", []),
                   getattr(result.forest, "warnings", []), getattr(result.importance, "notes", []),
                   getattr(result.significance, "notes", [])):
        items += [str(s) for s in (source or [])]
    if prep.excluded is not None and len(prep.excluded):
        counts = prep.excluded["reason"].astype(str).value_counts()
        items.append("Runs left out: " + "; ".join(f"{n} × {r}" for r, n in counts.items()))
    for param, reason in list(prep.set_aside.items()):
        items.append(f"Set aside {param}: {reason}")
    seen, unique = set(), []
    for s in items:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    shown, more = capped(unique, limit)
    lines = ["## Notes and caveats", ""] + [f"- {text(s, limit=NOTE_CHARS)}" for s in shown]
    return lines + ([f"- {more}"] if more else []) + [
        "", "Correlation and importance describe this sweep, not causes; significance compares "
        "configurations only where several seeds were run."]


def summary_markdown(result, *, title: str, rows: int = 15, notes: int = 30) -> str:
    """The whole ``summary.md`` for an :class:`analysis.Analysis` (always < 65,536 characters)."""
    parts = [f"# {text(title, limit=2 * CELL_CHARS)}", ""]
    for section in (_numbers(result), _importance(result, limit=rows),
                    _neighbours(result, limit=rows) + ["", rerun_plan_text(result)],
                    _notes(result, limit=notes)):
        parts += section + [""]
    parts.append("*Full report: open `index.html` of the site, or the single-file `report.html`.*")
    out = "\n".join(parts) + "\n"
    if len(out) >= MAX_CHARS:  # cannot happen with the caps above; a last guard, cut at a line
        cut = out.rfind("\n", 0, MAX_CHARS - 200)
        out = out[:cut] + "\n\n… (truncated to stay under 65,536 characters)\n"
    return out
