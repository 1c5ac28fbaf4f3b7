"""``summary.md``: the report in one GitHub-flavoured markdown page (for a PR or an issue).

It leads with the overview's findings (the same list, numbers and order), then the
hyperparameters (shares as on the importance page, best value, shape), the best configuration
against its neighbours and the caveats. Lists drop whole items and say how many, so the page
stays under GitHub's 65,536-character comment limit; sentences are never cut; run-derived text
is escaped.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from sweepsight.analysis import findings as F
from sweepsight.analysis.configs import replicated_best
from sweepsight.analysis.constants import NOT_TESTABLE, TEST_NAMES
from sweepsight.analysis.findings import levels_of, neighbourhood
from sweepsight.analysis.levels import Shape
from sweepsight.reports.format import MISSING, count, number
from sweepsight.reports.render import esc
from sweepsight.reports.safe_text import cut_long, for_github
from sweepsight.reports.format import percent, plural
from sweepsight.reports.text import (finding_sentence, findings_lines, level_summary, names_cut,
                                     relative, rerun_plan_text, source_notes)

if TYPE_CHECKING:
    from sweepsight.analysis import Analysis

MAX_CHARS = 65_536
#: Findings that lead the page (the overview's first ones, in its order).
MAX_FINDINGS = 6
CELL_CHARS = 80
NOTE_CHARS = 400
#: A word (no blank) of run-derived text longer than this is cut where a sentence quotes it
NAME_CHARS = 2 * CELL_CHARS
#: ... and a quoted text (a name with blanks, a reason) longer than this
QUOTE_CHARS = 1_000


def text(value: Any, *, limit: int | None = CELL_CHARS) -> str:
    """Run-derived ``value`` (a name, a label: never a sentence) as inert markdown, shortened to
    ``limit`` characters (``None``: whole): no HTML, links or images, and nothing GitHub acts on
    (mentions, issue references, autolinks, bidi controls; :mod:`reports.safe_text`)."""
    s = "" if value is None else str(value)
    s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return esc(for_github(s))


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


def _numbers(result: Analysis) -> list[str]:
    prep, table_ = result.prep, result.table
    sig = result.significance
    rows = [["source", text(table_.meta.source)]]
    query = table_.meta.query or {}
    for key in ("path", "tracking_uri", "experiment", "project", "sweep", "filter"):
        if query.get(key):
            value = query[key]
            value = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            value = relative(value) if key == "path" and isinstance(value, str) else value
            rows.append([key, text(value)])
    n_excluded = 0 if prep.excluded is None else len(prep.excluded)
    rows.append(["runs", f"{len(table_.frame):,} ({len(prep.runs):,} analysed, {n_excluded:,} left out)"])
    configs = sig.run_configs if sig is not None else None
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
        best: Any = y_raw.idxmax() if prep.maximize else y_raw.idxmin()  # an index label
        rows.append(["best run", f"{text(prep.runs.loc[best, 'name'])}: {number(y_raw[best])}"])
    if configs is not None and len(configs):
        top = configs.iloc[0]
        mean = top.get("mean_raw", top.get("mean"))
        ranked = "" if prep.metric_scale == "raw" else f"; ranked on the {prep.metric_scale} scale"
        rows.append(["best configuration", f"{text(top.get('label'), limit=2 * CELL_CHARS)}: mean "
                                           f"{number(mean)} over {_runs(top.get('n'))}{ranked}"])
        steady = replicated_best(configs)
        if steady is not None:
            row, need = steady
            rows.append([f"best with at least {need} runs (the median)",
                         f"{text(row.get('label'), limit=2 * CELL_CHARS)}: mean "
                         f"{number(row.get('mean_raw', row.get('mean')))} over {_runs(row.get('n'))}"])
    est = result.best_estimate
    if est is not None:
        b = est.best
        value = (f"{number(b.estimate_raw)} [{number(b.ci_low_raw)}, {number(b.ci_high_raw)}]"
                 if prep.metric_scale != "rank" else
                 f"{number(b.estimate)} [{number(b.ci_low)}, {number(b.ci_high)}] on the rank scale")
        rows.append(["best configuration by estimate (all runs)",
                     f"{text(b.label, limit=2 * CELL_CHARS)}: {value} over {_runs(b.n)}"
                     + ("; not the best observed" if est.differ else "")
                     + ("; the best observed rests on one run" if est.one_run else "")])
    lin = result.linear
    if lin is not None:
        rows.append(["linear model R²", f"{number(lin.r2, 3)} (adjusted {number(lin.r2_adj, 3)})"])
    forest = result.forest
    if forest is not None:
        rows.append(["forest held-out R²", f"{number(forest.cv_r2, 3)} (pooled out-of-fold; spread "
                                           f"over folds {number(forest.cv_r2_std, 2)})"])
    return ["## The sweep in numbers", ""] + table(["", ""], rows)


def _runs(n) -> str:
    return plural(int(n), "run")


#: Every difference names its scale: the analysis scale of the target.
SCALE_WORDS = {"raw": "as logged", "log": "on the log10 scale", "rank": "on the rank scale"}


def _findings(result: Analysis, *, limit: int) -> list[str]:
    """The overview's findings, in its order, as sentences (whole ones; the rest counted)."""
    lines = findings_lines(result)
    shown, more = lines[:limit], len(lines) - limit
    out = ["## Findings", ""] + [f"- {line}" for line in shown]
    if more > 0:
        out.append(f"- {plural(more, 'more finding')} on the overview page.")
    return out


def _plan_unless_shown(result: Analysis) -> list[str]:
    """The rerun plans below the neighbours table (the neighbours' and the candidates by
    estimate), unless the findings above already said them."""
    found = F.findings(result)
    kinds = [f.kind for f in found][:MAX_FINDINGS]
    plan = rerun_plan_text(result)
    out = [] if not plan or F.Kind.RERUN_PLAN in kinds else ["", plan]
    for f in found:
        if f.kind is F.Kind.RERUN_CANDIDATES and f.kind not in kinds:
            out += ["", finding_sentence(f, result)]
    return out


def _importance(result: Analysis, *, limit: int) -> list[str]:
    """Main-effect shares (the importance page's numbers), noise test, best value and shape."""
    lines = ["## Hyperparameters", ""]
    imp = result.importance
    frame = imp.table
    if frame is None or not len(frame):
        return lines + ["No importance could be computed for this sweep."]
    levels = levels_of(result)
    share_col = "share" if "share" in frame else "importance"
    frame = frame.sort_values(share_col, ascending=False, na_position="last")
    what = {"configuration means": "% of the variance between configurations",
            "runs": "% of the run-to-run variance"}.get(imp.share_of or "", "importance")
    typical = "median" if result.prep.metric_scale == "rank" else "mean"
    scale = result.prep.metric_scale
    chosen = ("" if scale == "raw" else f"; the best is chosen {SCALE_WORDS.get(scale, scale)}, "
              "the analysis scale, and the best as logged is named where it differs")
    lines += [f"Main effects: each hyperparameter's share ({what}), whether it rises above "
              f"its noise floor, its best value ({typical} of the target over the runs at each "
              f"value, as logged{chosen}) and the shape of the effect.", ""]
    rows = []
    for i, (_, r) in enumerate(frame.iterrows()):
        pl = levels.get(str(r["param"]))
        above = r["above_floor"]
        above_text = MISSING if above is None or above is pd.NA or (
            isinstance(above, float) and math.isnan(above)) else ("yes" if bool(above) else "no")
        share = percent(float(r[share_col])) if share_col == "share" else number(r[share_col], 3)
        best = MISSING if pl is None else (f"{text(pl.best_level.label)} "
                                       f"({level_summary(pl, result.prep.metric_scale)})")
        if pl is not None and scale != "raw":  # chosen on the analysis scale: as logged too
            raw_best = pl.best_as_logged(levels.maximize)
            if raw_best != pl.best:
                best += f"; as logged {text(pl.levels[raw_best].label)}"
        shape = MISSING if pl is None else _shape(pl)
        rows.append([str(i + 1), text(r["param"]), share, above_text, best, shape])
    shown, more = capped(rows, limit)
    lines += table(["rank", "hyperparameter", "share", "above noise", f"best value ({typical})",
                    "shape"], shown)
    return lines + (["", more] if more else [])


def _shape(pl) -> str:
    if pl.shape is Shape.PEAKED:
        return f"peaked at {text(pl.best_level.label)}"
    return pl.shape.value if pl.shape is not Shape.FLAT else "flat within noise"


def _neighbours(result: Analysis, *, limit: int) -> list[str]:
    lines = ["## The best configuration against its neighbours", ""]
    sig = result.significance
    if sig is None or not sig.applicable:
        return lines + [f"Significance was not tested: {text(sig.reason, limit=None)}"]
    hood = neighbourhood(result)
    if hood is None:
        return lines + ["The sweep has no configurations to compare."]
    where = " on the coarsened grid" if hood.approximate else ""
    lines += [f"Best configuration{where}: {text(hood.center.label, limit=2 * CELL_CHARS)} "
              f"(mean {number(hood.center.mean_raw)} over {_runs(hood.center.n)}).", ""]
    if hood.approximate:
        lines += ["Configurations were formed on a coarsened grid (continuous hyperparameters "
                  "binned into the ranges shown), so neighbours are approximate.", ""]
    for f in [f for f in F.findings(result) if f.kind is F.Kind.NEIGHBOURS]:
        lines += [finding_sentence(f, result), ""]
    tested = hood.pairs[hood.pairs["verdict"].astype(str) != NOT_TESTABLE]
    if not len(tested):
        return lines[:-1]
    scale = SCALE_WORDS.get(result.prep.metric_scale, result.prep.metric_scale)
    test = TEST_NAMES.get(hood.test, hood.test)
    rows = [[text(r["param"]), f"{text(r['from_value'])} → {text(r['to_value'])}",
             number(r["diff"], 3), f"[{number(r['diff_ci_low'], 3)}, {number(r['diff_ci_high'], 3)}]",
             number(r["p_holm"], 2), text(r["verdict"])] for _, r in tested.iterrows()]
    shown, more = capped(rows, limit)
    whom = "the best cell" if hood.approximate else "the best configuration"
    lines += [f"Each neighbour against {whom} (neighbour minus best, {scale}; "
              f"Holm-adjusted {test}, α = {number(hood.alpha, 2)}; the verdict is the "
              "neighbour's).", ""]
    lines += table(["hyperparameter", "change", f"difference of means, {scale}",
                    f"{number(100 * (1 - hood.alpha), 2)}% interval", "p (Holm)",
                    "neighbour is"], shown)
    return lines + (["", more] if more else [])


def _next_sweep(result: Analysis) -> list[str]:
    """The next sweep in at most 15 lines, linking to its page and files."""
    from sweepsight.analysis.next_sweep import next_sweep_of
    from sweepsight.reports.next_text import summary_lines

    return summary_lines(next_sweep_of(result))


def _note_items(result: Analysis) -> list[str]:
    prep = result.prep
    items: list[str] = []
    # prep's notes say once which runs were excluded ("Excluded 3 of 1,200 runs ...") and
    # which hyperparameters were set aside, grouped by reason: no second line for either
    for source in (source_notes(result.table.meta), prep.notes, result.linear.warnings,
                   result.forest.warnings, result.importance.notes, result.significance.notes):
        items += [" ".join(str(s).split()) for s in (source or [])]
    seen, unique = set(), []
    for s in (cut_long(s, word=NAME_CHARS, whole=4 * QUOTE_CHARS) for s in items):
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def _notes(result: Analysis, *, limit: int, budget: int | None = None) -> list[str]:
    """Caveats as whole sentences: items are dropped, never cut, and the drop is counted."""
    items = _note_items(result)
    shown: list[str] = []
    used = 0
    for s in items[:limit]:
        line = f"- {esc(for_github(s))}"  # notes quote run names: keep them inert
        if budget is not None and used + len(line) + 1 > budget:
            break
        shown.append(line)
        used += len(line) + 1
    lines = ["## Notes and caveats", ""] + shown
    dropped = len(items) - len(shown)
    if dropped:
        lines.append(f"- {plural(dropped, 'more note')} left out to keep this page short (under "
                     f"{MAX_CHARS:,} characters); the report's pages list every one.")
    return lines + [
        "", "Correlation and importance describe this sweep, not causes; significance compares "
        "configurations only where several seeds were run."]


def _comparison(result: Analysis, *, limit: int) -> list[str]:
    """The comparison with the baseline (none without ``--baseline``): the verdict, its
    caveats and the matched configurations that differ most (most significant first)."""
    from sweepsight.reports.text import (baseline_origin_text, comparison_caveats,
                                         comparison_sentence)

    comp, origin = result.comparison, result.baseline
    if comp is None:
        # the one line saying why there is no baseline (--baseline-missing), if one was expected
        return [baseline_origin_text(origin)] if origin is not None else []
    lines = ["## Against the baseline", "", comparison_sentence(comp)]
    if origin is not None:
        lines += ["", baseline_origin_text(origin)]
    caveats = comparison_caveats(comp)
    if caveats:
        lines += [""] + [f"- {c}" for c in caveats]
    if comp.n_matched:
        shown, more = capped(list(comp.matched.itertuples(index=False)), limit)
        rows = [[text(r.label), f"{number(r.mean_raw_baseline)} ({count(r.n_baseline)})",
                 f"{number(r.mean_raw_current)} ({count(r.n_current)})",
                 number(r.diff_raw) + ("" if math.isnan(r.diff_raw_ci_low) else
                                    f" [{number(r.diff_raw_ci_low)}, {number(r.diff_raw_ci_high)}]"),
                 number(r.p_holm, 2), text(r.verdict)] for r in shown]
        lines += [""] + table(["matched configuration", "baseline (runs)", "current (runs)",
                               "difference [interval]", "p (Holm)", "verdict"], rows)
        if more:
            lines.append(more)
    return lines


def summary_markdown(result: Analysis, *, title: str, rows: int = 15, notes: int = 30) -> str:
    """The whole ``summary.md`` for an :class:`analysis.Analysis` (always < 65,536 characters):
    findings first, then the hyperparameters, the best configuration against its neighbours,
    the sweep in numbers and the caveats. Long lists drop whole items and say how many; a name
    too long for the page is shortened (``…``) wherever it is quoted."""
    with names_cut(word=NAME_CHARS, whole=QUOTE_CHARS):
        return _fitted(result, title=title, rows=rows, notes=notes)


def _fitted(result, *, title: str, rows: int, notes: int) -> str:
    """:func:`summary_markdown`: fewer table rows, then fewer findings, until the page fits;
    then whole lines from the end, counted."""
    head = [f"# {text(title, limit=2 * CELL_CHARS)}", ""]
    tail = ["*Full report: open `index.html` of the site, or the single-file `report.html`.*"]
    shown = MAX_FINDINGS
    while True:
        parts = list(head)
        for section in (_comparison(result, limit=rows), _findings(result, limit=shown),
                        _importance(result, limit=rows),
                        _neighbours(result, limit=rows) + _plan_unless_shown(result),
                        _next_sweep(result), _numbers(result)):
            parts += section + [""] if section else []
        used = len("\n".join(parts + tail)) + 2
        parts += _notes(result, limit=notes, budget=MAX_CHARS - used - 1_000) + [""]
        out = "\n".join(parts + tail) + "\n"
        if len(out) < MAX_CHARS:
            return out
        if rows > 1:
            rows = max(1, rows // 2)  # drop whole table rows ("… and N more") until it fits
        elif shown > 1:
            shown //= 2  # then whole findings ("N more findings on the overview page")
        else:
            return _last_lines_dropped(parts, tail)


def _last_lines_dropped(parts: list[str], tail: list[str]) -> str:
    """``parts`` and ``tail`` as a page under :data:`MAX_CHARS`: whole lines from the end of
    ``parts`` dropped, and a line saying how many."""
    room = MAX_CHARS - len("\n".join(tail)) - 400
    kept, used = [], 0
    for line in parts:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    said = (f"*{plural(len(parts) - len(kept), 'more line')} left out to keep this page under "
            f"{MAX_CHARS:,} characters; the report's pages have them all.*")
    return "\n".join(kept + ["", said, ""] + tail) + "\n"
