"""The built site in headless Chromium, offline: every page opens from disk, every chart
renders, nothing is fetched from another host, no console error, no script runs from a run name.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package;
skipped with the reason when either is missing. Screenshots go to ``/tmp/shots/``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from sweepsight.reports import build
from tests.conftest import QUARTO_REFERENCE, REFERENCE_MISSING, SCRIPT_NAME

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("SWEEPSIGHT_SHOTS", "/tmp/shots"))
PAGE_FILES = [f"{p.stem}.html" for p in build.PAGES]
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watched:
    """A page whose every request, console error and dialog is recorded; remote requests fail."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.remote: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)

    def _route(self, route):
        url = urlparse(route.request.url)
        if url.scheme in ("file", "data", "blob", "about") or (
                url.scheme in ("http", "https", "ws") and url.hostname in LOCAL_HOSTS):
            route.continue_()
        else:
            self.remote.append(route.request.url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> None:
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.sweepsight-chart'))"
            ".every(e => e.querySelector('svg, canvas')) && Array.from("
            "document.querySelectorAll('.sweepsight-walk')).every(e => e.dataset.ready)",
            timeout=20_000)

    def chart_state(self) -> dict:
        return self.page.evaluate("""() => {
            // the significance walk holds one Vega view (its neighbourhood and per-seed strip)
            const walks = document.querySelectorAll('.sweepsight-walk');
            const embeds = Array.from(document.querySelectorAll('.vega-embed'));
            return {charts: document.querySelectorAll('.sweepsight-chart').length + walks.length,
                    embeds: embeds.length,
                    walk_embeds: document.querySelectorAll('.sweepsight-walk .walk-chart.vega-embed').length,
                    walks: walks.length,
                    drawn: embeds.filter(e => {
                        const g = e.querySelector('svg, canvas');
                        return g && (g.tagName === 'canvas' || g.querySelectorAll('path, rect, line, text').length > 0);
                    }).length};
        }""")


@pytest.mark.parametrize("name", PAGE_FILES + ["report.html"])
def test_page_opens_offline_and_every_chart_renders(browser, built_site, name):
    watched = Watched(browser)
    watched.open(built_site.site / name)
    state = watched.chart_state()
    # the comparison page has a chart only with --baseline (built_site has none)
    assert state["charts"] >= (0 if name == "comparison.html" else 1), f"{name} shows no chart"
    assert state["embeds"] == state["charts"] == state["drawn"], state
    assert state["walk_embeds"] == state["walks"] == (1 if name == "significance.html" else
                                                      state["walks"]), state
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(SHOTS / name.replace(".html", ".png")), full_page=True)
    assert watched.remote == [], f"{name} asked another host: {watched.remote}"
    assert watched.errors == [], f"{name} console errors: {watched.errors}"
    assert watched.dialogs == [], f"{name} ran a script from the data: {watched.dialogs}"
    watched.page.close()


def test_the_script_named_run_is_text(browser, built_site):
    watched = Watched(browser)
    watched.open(built_site.site / "index.html")
    assert watched.page.evaluate("() => document.querySelectorAll('main script:not([src])').length") > 0
    # every script in the page is ours: the chart embeds and the bundle, none from a run name
    bodies = watched.page.evaluate(
        "() => Array.from(document.scripts).filter(s => !s.type || /javascript|module/.test(s.type))"
        ".map(s => s.src || s.textContent)")
    assert bodies and not any("alert(1)" in b for b in bodies)
    assert SCRIPT_NAME in watched.page.inner_text("main")  # the failed run, in runs left out
    watched.open(built_site.site / "report.html")
    assert SCRIPT_NAME in watched.page.inner_text("main")
    assert watched.dialogs == []
    watched.page.close()


def test_navbar_links_open_the_other_pages(browser, built_site):
    watched = Watched(browser)
    watched.open(built_site.site / "index.html")
    for name in PAGE_FILES[1:]:
        watched.page.click(f'nav.sweepsight-nav a[href="{name}"]')
        watched.page.wait_for_load_state("load")
        assert watched.page.url.endswith("/" + name)
        assert watched.page.locator("nav.sweepsight-nav a.active").get_attribute("href") == name
    assert watched.remote == [] and watched.errors == []
    watched.page.close()


# ---------------------------------------------------------------- the significance walk

WALK_STATE = """root => {
    // The embedded data, parsed once per page and kept while its text is unchanged: with
    // 30,000 configurations, parsing it again for every state cost ~40 ms (x ~150 states).
    const nums = s => s === "" ? [] : s.split(",").map(Number);  // the walk's column format
    const text = document.getElementById(root.id + '-data').textContent;
    if (root._testDataText !== text) {
        const parsed = JSON.parse(text);
        const b = nums(parsed.pairs.b), start = nums(parsed.pairs.a_start);
        const neighbours = Array.from({length: Math.max(start.length - 1, 0)}, () => []);
        for (let a = 0; a + 1 < start.length; a++)
            for (let k = start[a]; k < start[a + 1]; k++) {
                neighbours[a].push(b[k]);  // a's pairs, and the pairs that name a
                neighbours[b[k]].push(a);
            }
        root._testData = {neighbours: neighbours, codes: parsed.codes.map(nums),
                          n: nums(parsed.n).length};
        root._testDataText = text;
    }
    const data = root._testData;
    const t = parseInt(root.dataset.target, 10);
    const want = data.neighbours[t].slice();
    // the Vega view's neighbour marks, each labelled for screen readers
    const marks = Array.from(root.querySelectorAll('.walk-chart.vega-embed svg .walk-neighbour'));
    const drawn = marks.map(g => parseInt(g.dataset.config, 10));
    const unlabelled = marks.filter(g => !(g.getAttribute('aria-label') || '').includes(' \u2192 ')
                                         || g.getAttribute('tabindex') !== '0').length;
    const rows = Array.from(root.querySelectorAll('.walk-nb-table tbody tr[data-config]'))
        .map(r => parseInt(r.dataset.config, 10));
    const picked = Array.from(root.querySelectorAll('.walk-picker select'))
        .map(s => parseInt(s.value, 10));
    const codes = data.codes.map(c => c[t]);
    return {target: t, want: want.sort((x, y) => x - y), drawn: drawn.sort((x, y) => x - y),
            drawn_for: parseInt(root.dataset.drawn, 10), unlabelled: unlabelled,
            rows: rows.sort((x, y) => x - y), picked: picked, codes: codes,
            rank: parseInt(root.querySelector('.walk-rank').value, 10),
            header: root.querySelector('.walk-header').textContent,
            n_configs: data.n};
}"""


def _walk_state(page, target: int | None = None) -> dict:
    """The walk's state once its Vega view has drawn ``target`` (default: the current one)."""
    root = page.locator(".sweepsight-walk").first
    root.evaluate("(root, t) => new Promise(done => { const want = t === null ? root.dataset.target : String(t);"
                  " const ok = () => root.dataset.drawn === want && root.dataset.target === want;"
                  " if (ok()) return done(); const o = new MutationObserver(() => { if (ok()) { o.disconnect(); done(); } });"
                  " o.observe(root, {attributes: true}); })", target)
    return root.evaluate(WALK_STATE)


def _check_walk_state(state: dict, target: int) -> None:
    assert state["target"] == target == state["drawn_for"]
    assert state["unlabelled"] == 0, state
    assert state["drawn"] == state["want"] == state["rows"], state  # neighbours redrawn
    assert state["picked"] == state["codes"] and state["rank"] == target + 1  # picker in step
    assert state["header"].startswith("Target: rank ")


def walk_clicks(watched, *, random_clicks: int = 50, seed: int = 0) -> int:
    """Click every neighbour of the best configuration, then ``random_clicks`` random
    neighbours; after each click the target, its drawn neighbours, its table and the picker
    agree with the embedded data. Returns the number of clicks."""
    import random

    page = watched.page
    root = page.locator(".sweepsight-walk").first
    # each click's time to the redrawn view, measured in the page (milliseconds)
    root.evaluate("""root => { root._clickMs = [];
        root.addEventListener('click', () => { root._t0 = performance.now(); }, true);
        new MutationObserver(() => {
            if (root._t0 !== undefined && root.dataset.drawn === root.dataset.target) {
                root._clickMs.push(performance.now() - root._t0); root._t0 = undefined; }
        }).observe(root, {attributes: true, attributeFilter: ['data-drawn']}); }""")
    first = _walk_state(page)
    _check_walk_state(first, 0)
    assert first["want"], "the best configuration has no neighbours"
    clicks = 0
    for c in first["want"]:
        root.locator(".walk-picker button", has_text="best").click()
        _check_walk_state(_walk_state(page, 0), 0)
        root.locator(f'.walk-chart .walk-neighbour[data-config="{c}"]').click()
        _check_walk_state(_walk_state(page, c), c)
        clicks += 1
    # picking a configuration by its values: the rank box follows
    state = _walk_state(page)
    last = root.locator(".walk-picker select").last
    options = last.evaluate("s => Array.from(s.options).map(o => o.value)")
    other = next(v for v in options if int(v) != state["codes"][-1])
    last.select_option(other)
    moved = _walk_state(page)
    assert moved["codes"][-1] == int(other) and moved["picked"] == moved["codes"]
    assert moved["rank"] == moved["target"] + 1
    rng = random.Random(seed)
    for _ in range(random_clicks):
        state = _walk_state(page)
        c = rng.choice(state["drawn"])
        root.locator(f'.walk-chart .walk-neighbour[data-config="{c}"]').click()
        _check_walk_state(_walk_state(page, c), c)
        clicks += 1
    watched.click_ms = root.evaluate("root => root._clickMs")
    assert len(watched.click_ms) >= clicks
    return clicks


def walk_keyboard(watched) -> int:
    """Walk with the keyboard only: Tab from the picker's "best" button to the first focusable
    neighbour mark of the Vega view, Enter walks there (the focus moves to the new target's
    first neighbour mark, so Enter walks on); then Enter on a focused row of the neighbour
    table. Returns the number of keyboard walks."""
    page = watched.page
    root = page.locator(".sweepsight-walk").first
    root.locator(".walk-picker button", has_text="best").click()
    _check_walk_state(_walk_state(page, 0), 0)
    for _ in range(10):  # past the legend (text only) to the view's marks
        page.keyboard.press("Tab")
        focused = page.evaluate("() => { const e = document.activeElement;"
                                " return e && e.classList.contains('walk-neighbour') ? +e.dataset.config : -1; }")
        if focused >= 0:
            break
    assert focused >= 0, "Tab never reached a neighbour mark of the view"
    walks = 0
    for _ in range(3):
        label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
        assert " \u2192 " in label and "Enter" in label
        page.keyboard.press("Enter")
        _check_walk_state(_walk_state(page, focused), focused)
        walks += 1
        focused = page.evaluate("() => document.activeElement.classList.contains('walk-neighbour')"
                                " ? +document.activeElement.dataset.config : -1")
        assert focused >= 0, "the focus left the view's marks after a keyboard walk"
    row = root.locator(".walk-nb-table tbody tr[data-config]").last
    want = int(row.get_attribute("data-config"))
    row.focus()
    page.keyboard.press("Enter")
    _check_walk_state(_walk_state(page, want), want)
    assert page.evaluate("() => document.activeElement.matches('.walk-nb-table tbody tr[data-config]')")
    return walks + 1


def walk_layout(page) -> dict:
    """Rendered font sizes and overflows of the walk: every text's size as drawn (SVG scale
    included), SVG texts outside their SVG, table cells wider than their box."""
    return page.locator(".sweepsight-walk").first.evaluate("""root => {
        const small = [], clipped = [];
        const svgs = Array.from(root.querySelectorAll('.walk-chart svg.marks'));
        const scale = svgs.map(s => s.getBoundingClientRect().width / parseFloat(s.getAttribute('width')));
        svgs.forEach(s => {
            const box = s.getBoundingClientRect();
            s.querySelectorAll('text').forEach(t => {
                const size = parseFloat(getComputedStyle(t).fontSize) * (box.width / parseFloat(s.getAttribute('width')));
                if (size < 11) small.push([t.textContent, size]);
                const b = t.getBoundingClientRect();
                if (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5)
                    clipped.push(['svg text', t.textContent]);
            });
        });
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        let n, texts = 0;
        while ((n = walker.nextNode())) {
            if (!n.textContent.trim() || n.parentElement.closest('svg') && !n.parentElement.closest('.walk-chart svg.marks')) continue;
            if (n.parentElement.closest('title, script, style')) continue;
            texts++;
            const size = parseFloat(getComputedStyle(n.parentElement).fontSize);
            if (size < 11) small.push([n.textContent.slice(0, 40), size]);
        }
        root.querySelectorAll('td, th, .walk-header, .walk-legend-item').forEach(e => {
            if (e.scrollWidth > e.clientWidth + 1) clipped.push([e.tagName, e.textContent.slice(0, 60)]);
        });
        const chart = root.querySelector('.walk-chart');
        if (chart.scrollWidth > chart.clientWidth + 1) clipped.push(['chart wider than its column', chart.scrollWidth]);
        if (root.scrollWidth > root.clientWidth + 1) clipped.push(['walk wider than its column', root.scrollWidth]);
        return {small: small, clipped: clipped, scale: scale, texts: texts,
                width: root.getBoundingClientRect().width};
    }""")


class WalkPage(Watched):
    """A walk page at a 1400 px window; console warnings count as errors too."""

    def __init__(self, browser):
        super().__init__(browser)
        self.page.set_viewport_size({"width": 1400, "height": 1000})
        self.warnings: list[str] = []
        self.page.on("console", lambda m: self.warnings.append(m.text) if m.type == "warning" else None)


def _open_walk(browser, path: Path) -> WalkPage:
    watched = WalkPage(browser)
    watched.open(path)
    watched.page.wait_for_selector(".sweepsight-walk[data-ready]", timeout=60_000)
    return watched


def _walk_test(browser, path: Path, shot: str, *, other_charts: bool = False) -> dict:
    """``other_charts``: the page also holds Vega charts of other pages (report.html), whose
    warnings while loading are theirs; warnings during the walk still fail."""
    watched = _open_walk(browser, path)
    if other_charts:
        watched.warnings.clear()
    clicks = walk_clicks(watched)
    assert walk_keyboard(watched) == 4
    layout = walk_layout(watched.page)
    # the raw p-value cells of both tables hold three p-values each
    cells = watched.page.evaluate("""() => ['.walk-nb-table tbody tr[data-config] td:nth-child(6)',
        '.walk-all-table tbody td:nth-child(5)'].map(q => Array.from(document.querySelectorAll(q))
        .map(td => td.innerText.split('\\n')))""")
    assert cells[0] and cells[1]
    for lines in cells[0] + cells[1]:
        ps = [float(x) for x in lines if x.strip()]
        assert len(ps) == 3 and all(0 <= v <= 1 for v in ps), lines
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched.page.locator(".sweepsight-walk").first.screenshot(path=str(SHOTS / shot))
    assert layout["texts"] > 20 and layout["scale"] and all(abs(s - 1) < 1e-3 for s in layout["scale"])
    assert layout["small"] == [], layout["small"][:10]
    assert layout["clipped"] == [], layout["clipped"][:10]
    assert watched.errors == [] and watched.remote == [] and watched.dialogs == []
    assert watched.warnings == []
    watched.page.close()
    return {"clicks": clicks, "click_ms": watched.click_ms, **layout}


def test_walk_on_the_built_site_reaches_every_neighbour(browser, built_site):
    for name in ("significance.html", "report.html"):
        out = _walk_test(browser, built_site.site / name, f"walk-{name.replace('.html', '')}.png",
                         other_charts=name == "report.html")
        assert out["clicks"] >= 50


def _walk_page(analysis, path: Path) -> Path:
    """The walk of ``analysis`` alone in a page as narrow as Quarto's body column (800 px)."""
    from sweepsight.reports import render
    from sweepsight.reports.charts.significance import significance_walk

    render.write_vega_bundle(path.parent)  # the site's offline bundle, as the pages load it
    path.write_text('<!doctype html><html><head><meta charset="utf-8">'
                    f'<script src="{render.ASSETS}/{render.BUNDLE_NAME}"></script></head><body>'
                    '<main style="max-width:800px;margin:0 auto;font-family:sans-serif">'
                    + significance_walk(analysis) + "</main></body></html>", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def example_walk(tmp_path_factory):
    from sweepsight import adapters
    from sweepsight.analysis import analyse
    from sweepsight.reports.cli import EXAMPLE

    table = adapters.load("csv", {"path": str(EXAMPLE)})
    analysis = analyse(table, target="val_acc", n_jobs=1)
    return analysis, _walk_page(analysis, tmp_path_factory.mktemp("walk") / "example.html")


def test_walk_on_the_example(browser, example_walk):
    analysis, page = example_walk
    assert len(analysis.significance.configs) == 240
    out = _walk_test(browser, page, "walk-example.png")
    assert out["clicks"] == 7 + 50


def test_walk_on_a_30000_configuration_sweep(browser, tmp_path):
    from sweepsight.analysis import Analysis, AnalysisOptions
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours
    from sweepsight.analysis.synthetic import Choice, make_table

    table = make_table(
        {"a": Choice(list(range(10))), "b": Choice([10.0 * i for i in range(1, 11)]),
         "c": Choice([1e-5 * 2 ** i for i in range(10)]), "d": Choice(list("uvwxyz")),
         "e": Choice(["p", "q", "r", "s", "t"])},
        effects={"a": {9: 1.0}}, grid=True, seeds=2, noise=0.1, target="score", random_state=1)
    prep = prepare(table, target="score", direction="maximize")
    sig = compare_neighbours(prep, n_boot=200)
    assert len(sig.configs) == 30_000
    analysis = Analysis(table=table, prep=prep, correlation=None, linear=None, forest=None,
                        importance=None, significance=sig, options=AnalysisOptions(target="score"),
                        timings={})
    page = _walk_page(analysis, tmp_path / "walk30k.html")
    out = _walk_test(browser, page, "walk-30k.png")
    assert out["clicks"] >= 50
    ms = sorted(out["click_ms"])
    (SHOTS / "walk-30k-clicks.json").write_text(json.dumps(
        {"clicks": len(ms), "median_ms": ms[len(ms) // 2], "max_ms": ms[-1]}))
    # the budget is 200 ms a click (README); a loaded CI machine gets headroom, a regression
    # to whole-sweep redraws (seconds at this size) does not
    assert ms[-1] < 1000, ms[-10:]


#: the example's significance page as Quarto wrote it
QUARTO_SIGNIFICANCE = QUARTO_REFERENCE / "example" / "significance.html"


@pytest.mark.skipif(not QUARTO_SIGNIFICANCE.exists(), reason=REFERENCE_MISSING)
def test_walk_in_the_reference_quarto_page(browser, example_walk, tmp_path):
    """The walk of today's code in the page real Quarto wrote (its head, scripts and layout;
    ``site_libs`` is not in the reference, so its files are served empty): the Vega view
    renders from the bundle the Quarto head loads, and walks by mouse and keyboard."""
    import re

    from sweepsight.reports import render
    from sweepsight.reports.charts.significance import significance_walk

    analysis, _ = example_walk
    text = QUARTO_SIGNIFICANCE.read_text(encoding="utf-8")
    old = re.search(r'<div class="sweepsight-walk".*?window\.SWEEPSIGHT_WALK\(root, data\); \}\)\(\);</script>',
                    text, flags=re.S)
    assert old and '<script src="assets/vega-bundle.js"></script>' in text[:text.index("<body")]
    render.write_vega_bundle(tmp_path)
    page = tmp_path / "significance.html"
    page.write_text(text[:old.start()] + significance_walk(analysis) + text[old.end():], encoding="utf-8")
    watched = WalkPage(browser)
    watched.page.route("**/site_libs/**", lambda route: route.fulfill(
        body="", content_type="text/css" if route.request.url.endswith(".css") else "text/javascript"))
    watched.open(page)
    watched.page.wait_for_selector(".sweepsight-walk[data-ready]", timeout=60_000)
    assert watched.chart_state()["walk_embeds"] == 1
    assert walk_clicks(watched, random_clicks=10) == 7 + 10
    assert walk_keyboard(watched) == 4
    # Quarto's after-body script calls site_libs' AnchorJS, served empty here
    errors = [e for e in watched.errors if "AnchorJS" not in e]
    assert errors == [] and watched.remote == [] and watched.warnings == []
    watched.page.close()
