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
from tests.conftest import SCRIPT_NAME

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
            ".every(e => e.querySelector('svg, canvas'))", timeout=20_000)

    def chart_state(self) -> dict:
        return self.page.evaluate("""() => {
            const embeds = Array.from(document.querySelectorAll('.vega-embed'));
            return {charts: document.querySelectorAll('.sweepsight-chart').length,
                    embeds: embeds.length,
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
    assert state["charts"] >= 1, f"{name} shows no chart"
    assert state["embeds"] == state["charts"] == state["drawn"], state
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


def test_choosing_another_target_changes_the_highlighted_neighbours(browser, built_site):
    watched = Watched(browser)
    watched.open(built_site.site / "significance.html")
    select = watched.page.locator(".vega-bindings select").first
    assert select.count() == 1, "the significance view has no dropdown"
    options = select.locator("option").all_inner_texts()
    assert len(options) > 1
    chart = watched.page.locator(".vega-embed").filter(has=watched.page.locator(".vega-bindings")).first
    spec = json.loads(watched.page.locator(f"#{chart.get_attribute('id')}-spec").text_content())
    pairs = next(rows for rows in spec["datasets"].values() if rows and "t_diff" in rows[0])
    labels = select.evaluate("s => Array.from(s.options).map(o => o.value)")

    def shown(label: str) -> dict:
        """What the drawn chart shows against what the data say ``label``'s neighbours are."""
        mine = [r for r in pairs if r["config_label"] == label]
        svg = chart.locator("svg").first
        texts = svg.evaluate("s => Array.from(s.querySelectorAll('text')).map(e => e.textContent)")
        fills = svg.evaluate(
            "s => Array.from(s.querySelectorAll('path, rect')).map(e => e.getAttribute('fill'))")
        return {"changes": {r["change"] for r in mine},
                "significant": sum(r["verdict"] in ("better", "worse") for r in mine),
                "texts": texts, "green": fills.count("#cdeccd"), "yellow": fills.count("#fff3b0")}

    def check(label: str, other: str) -> None:
        now, then = shown(label), shown(other)
        # each neighbour's change is drawn twice (neighbour row label, table cell), the other
        # target's changes not at all; the table marks one target and the significant rows
        assert now["changes"] and all(now["texts"].count(c) == 2 for c in now["changes"]), label
        assert not (then["changes"] - now["changes"]) & set(now["texts"]), label
        assert now["green"] == 1 and now["yellow"] == now["significant"], (label, now)

    check(labels[0], labels[-1])  # the default target: the best configuration
    select.select_option(index=len(options) - 1)
    watched.page.wait_for_timeout(500)
    check(labels[-1], labels[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(SHOTS / "significance-other-target.png"), full_page=True)
    assert watched.errors == [] and watched.remote == []
    watched.page.close()
