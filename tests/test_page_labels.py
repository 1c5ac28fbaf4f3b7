"""Every page at a 1400 px window in headless Chromium, read from the DOM (Vega's svg
renderer makes labels DOM text): no two labels of an axis overlap or touch, no categorical
label is turned on its side, no command-line flag breaks across lines. Needs what
``tests/test_browser.py`` needs."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_browser import PAGE_FILES, SHOTS, Watched, browser, example_walk  # noqa: F401

pytestmark = pytest.mark.browser

# ---------------------------------------------------------------- axis labels at 1400 px

AXIS_LABEL_OVERLAPS = """() => {
    // the visible labels of each axis of each Vega view (svg renderer: DOM text), and the
    // pairs whose boxes overlap or come closer than GAP pixels ("-0.12-0.10" reads as one)
    const GAP = 3;
    const out = [];
    let axes = 0, labels = 0;
    document.querySelectorAll('.vega-embed svg.marks g.role-axis').forEach(axis => {
        const boxes = Array.from(axis.querySelectorAll('g.role-axis-label text'))
            .filter(t => t.textContent.trim() && +(t.getAttribute('opacity') ?? 1) > 0
                         && getComputedStyle(t).opacity !== '0')
            .map(t => [t.textContent, t.getBoundingClientRect()]);
        axes++;
        labels += boxes.length;
        for (let i = 0; i < boxes.length; i++)
            for (let j = i + 1; j < boxes.length; j++) {
                const a = boxes[i][1], b = boxes[j][1];
                const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
                const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
                if (w > -GAP && h > -GAP) out.push([boxes[i][0], boxes[j][0]]);
            }
    });
    const rotated = Array.from(document.querySelectorAll('.vega-embed svg.marks g.role-axis-label text'))
        .filter(t => /rotate\\((-?\\d+)/.test(t.getAttribute('transform') || '')
                     && Math.abs(+(t.getAttribute('transform').match(/rotate\\((-?[\\d.]+)/)[1])) > 60)
        .map(t => t.textContent).slice(0, 5);
    return {overlaps: out.slice(0, 10), axes: axes, labels: labels, rotated: rotated};
}"""


def _example_charts_page(analysis, path: Path) -> Path:
    """Every chart the pages draw, of the example sweep (where "−0.12−0.10" was seen), in one
    page as wide as the site's column."""
    from sweepsight.reports import charts, render
    from sweepsight.reports.charts import marginal

    made = [charts.parallel_coordinates(analysis), charts.correlation_chart(analysis),
            charts.coefficient_chart(analysis), charts.importance_chart(analysis),
            charts.interactions_chart(analysis), charts.metric_vs_params_chart(analysis),
            marginal.marginal_chart(marginal.marginal_info(analysis)),
            marginal.heatmap_chart(marginal.heatmap_info(analysis))]
    render.write_vega_bundle(path.parent)
    path.write_text('<!doctype html><html><head><meta charset="utf-8">'
                    f'<script src="{render.ASSETS}/{render.BUNDLE_NAME}"></script></head><body>'
                    '<main style="max-width:1240px;margin:0 auto;font-family:sans-serif">'
                    + "\n".join(render.show(c).data for c in made if c is not None)
                    + "</main></body></html>", encoding="utf-8")
    return path


def test_no_axis_labels_overlap_at_1400px(browser, built_site, example_walk, tmp_path):
    """Every page at a 1400 px window, and every chart of the example sweep: no two labels of
    an axis overlap or touch, none is turned on its side (categorical labels read level or
    at an angle)."""
    found, counted = {}, 0
    analysis, walk = example_walk
    pages = [built_site.site / name for name in PAGE_FILES] + [
        _example_charts_page(analysis, tmp_path / "example-charts.html"), walk]
    for page in pages:
        name = page.name
        watched = Watched(browser)
        watched.page.set_viewport_size({"width": 1400, "height": 1000})
        watched.open(page)
        state = watched.page.evaluate(AXIS_LABEL_OVERLAPS)
        # command-line flags in the text stay on one line ("or -" / "-test welch")
        flags = watched.page.evaluate("() => Array.from(document.querySelectorAll('main code[style*=nowrap]'))"
                                      ".map(c => [c.textContent, c.getClientRects().length])")
        if name == "significance.html":
            assert ["--test welch", 1] in flags, flags
        state["broken_flags"] = [f for f in flags if f[1] != 1]
        counted += state["labels"]
        if state["overlaps"] or state["rotated"] or state["broken_flags"]:
            found[name] = state
        watched.page.screenshot(path=str(SHOTS / f"labels-{name.replace('.html', '')}.png"),
                                full_page=True)
        watched.page.close()
    assert counted > 50  # it measured real axes
    assert found == {}, found
