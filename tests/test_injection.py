"""Script injection through run-derived names (issue 24), through the real command line.

Metric names ``<img src=x onerror=alert(1)>`` and ``</script><script>alert(2)</script>``, a
hyperparameter whose name and levels are HTML, run names, the CSV's file name and ``--title``
reach every place on the site: page titles, the navbar, headings, prose, chart titles and
tooltips, tables, ``search.json``. Quarto cannot be installed here, so the Quarto site is
checked three ways: (a) the Quarto inputs the build writes (the executed notebooks and
``_quarto.yml``, captured by a fake ``quarto``) carry no markup from a name; (b)
:mod:`tests.quarto_sim` does what Quarto does with them where it matters (its Jupyter
engine's Markdown, the real pandoc, the reference render's page around it) and no element,
attribute or script comes from a name; (c) Chromium opens every page of those sites and of
an nbconvert build and no ``alert`` runs, tooltips included. The same checks find the script
in the reference render of the unfixed build (so they can fail).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sweepsight.reports import build
from tests.conftest import QUARTO_REFERENCE, REFERENCE_MISSING, REPO
from tests.hostile_inputs import write_rows
from tests.test_browser import browser  # noqa: F401  (the fixture, for the alert tests)

pytest.importorskip("pypandoc", reason="pypandoc-binary (the test group) runs the real pandoc")

HOSTILE_REFERENCE = QUARTO_REFERENCE / "hostile-metric-name"
needs_reference = pytest.mark.skipif(not (HOSTILE_REFERENCE / "index.html").exists(),
                                     reason=REFERENCE_MISSING)
SIM = Path(__file__).with_name("quarto_sim.py")
PAGES = [f"{p.stem}.html" for p in build.PAGES]

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(2)</script>"
PARAM = "<img src=x onerror=alert(3)>"
LEVELS = ["<svg onload=alert(4)>", "</script><script>alert(4)</script>"]
RUN = "<img src=x onerror=alert(5)> [r](javascript:alert(5))"
TITLE = ('<img src=x onerror=alert(6)> [t](javascript:alert(6)) [s]{onmouseover="alert(6)"} '
         '`<img src=x onerror=alert(6)>`{=html} {{< env HOME >}} **bold**')
CSV_NAME = "<svg onload=alert(7)>.csv"
NAMES = [IMG, SCRIPT, PARAM, *LEVELS]
#: tags the payloads would make (none of ours is among them in a page's static HTML)
PAYLOAD_TAGS = {"img", "svg", "b"}


def hostile_csv(folder: Path) -> Path:
    """24 runs: lr x optimizer x the hostile hyperparameter x 2 seeds; both hostile metrics
    rise with log10(lr), for adam and for the first hostile level."""
    rows = []
    for i in range(24):
        lr, opt, lv, seed = [1e-3, 1e-2, 1e-1][i % 3], ["adam", "sgd"][i // 3 % 2], i // 6 % 2, i // 12
        acc = 0.8 + 0.02 * (i % 3) + (0.05 if opt == "adam" else 0) + 0.03 * (lv == 0) + 0.001 * seed
        rows.append([f"r{i}", RUN if i % 4 == 0 else f"run-{i}", lr, opt, LEVELS[lv], seed,
                     round(acc, 6), round(1 - acc, 6)])
    return write_rows(folder / CSV_NAME, ["run_id", "name", "params.lr", "params.optimizer",
                                          f"params.{PARAM}", "params.seed", f"metrics.{IMG}",
                                          f"metrics.{SCRIPT}"], rows)


def run_cli(csv: Path, out: Path, *args: str, env: dict | None = None) -> Path:
    proc = subprocess.run([sys.executable, "-m", "reports", "--path", str(csv), "--out", str(out),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """``quarto-img`` (target IMG, hostile --title) and ``quarto-script`` (target SCRIPT, the
    default title: the metric and the CSV's file name) rendered by :mod:`tests.quarto_sim`
    as a fake ``quarto`` (its inputs captured beside), and ``nbconvert`` (target IMG, hostile
    --title)."""
    if not (HOSTILE_REFERENCE / "index.html").exists():
        pytest.skip(REFERENCE_MISSING)
    tmp = tmp_path_factory.mktemp("injection")
    csv = hostile_csv(tmp)
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "quarto").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{SIM}" "$@"\n')
    (bin_dir / "quarto").chmod(0o755)
    out = {}
    for name, target, extra in [("quarto-img", IMG, ["--title", TITLE]), ("quarto-script", SCRIPT, [])]:
        env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               "SWEEPSIGHT_QUARTO_CAPTURE": str(tmp / f"{name}-inputs"),
               "SWEEPSIGHT_QUARTO_REFERENCE": str(HOSTILE_REFERENCE)}
        out[name] = run_cli(csv, tmp / name, "--target", target, "--renderer", "quarto", *extra, env=env)
        out[f"{name}-inputs"] = tmp / f"{name}-inputs"
    out["nbconvert"] = run_cli(csv, tmp / "nbconvert", "--target", IMG, "--title", TITLE,
                               "--renderer", "nbconvert")
    return out


class Markup(HTMLParser):
    """Every element, attribute and script body of an HTML text, as a browser's tokenizer sees
    them (scripts end at the first ``</script``)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[tuple[str, str, str]] = []  # (tag, on* attribute, value)
        self.scripts: list[tuple[dict, str]] = []
        self.text: list[str] = []
        self._script: dict | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [(tag, k, v or "") for k, v in attrs if k.startswith("on")]
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[-1] = (self.scripts[-1][0], self.scripts[-1][1] + data)
        else:
            self.text.append(data)


def injected(text: str) -> list[str]:
    """What in ``text`` (HTML) came from a name: a payload's element, an event handler other
    than Quarto's own navbar toggle, a script that is a payload, a JSON script cut short."""
    found = []
    m = Markup(text)
    found += [f"<{t}>" for t in m.tags if t in PAYLOAD_TAGS]
    found += [f"{t} {k}={v!r}" for t, k, v in m.handlers if "quartoToggleHeadroom" not in v]
    for attrs, body in m.scripts:
        if re.match(r"\s*alert\(", body):
            found.append(f"<script>{body[:40]}")
        if attrs.get("type") == "application/json":
            try:
                json.loads(body)
            except ValueError:
                found.append(f"a JSON script cut short: {body[-60:]!r}")
    return found


def page_text(text: str) -> str:
    return " ".join("".join(Markup(text).text).split())


# ----------------------------------------------------------------------- (a) the Quarto inputs

@pytest.mark.slow
@needs_reference
@pytest.mark.parametrize("name", ["quarto-img", "quarto-script"])
def test_quarto_inputs_carry_no_markup_from_a_name(sites, name):
    inputs = sites[f"{name}-inputs"]
    markdown_outputs, html_outputs = [], 0
    for stem in [p.stem for p in build.PAGES]:
        nb = json.loads((inputs / f"{stem}.ipynb").read_text())
        source = next(p.template for p in build.PAGES if p.stem == stem)
        template = json.loads((build.TEMPLATES / f"{source}.ipynb").read_text())
        # Markdown that Quarto's pandoc reads: the templates' own cells, nothing run-derived
        assert ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"] == \
            ["".join(c["source"]) for c in template["cells"] if c["cell_type"] == "markdown"]
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "text/markdown" in data:
                    markdown_outputs.append((stem, "".join(data["text/markdown"])[:80]))
                if "text/html" in data:
                    html_outputs += 1
                    assert injected("".join(data["text/html"])) == [], stem
                assert output["output_type"] != "stream" or output["name"] != "stdout", output
    assert markdown_outputs == []  # no Markdown output: no run-derived text reaches pandoc
    assert html_outputs > 20


@needs_reference
@pytest.mark.parametrize("name, title", [
    ("quarto-img", TITLE), ("quarto-script", f"Sweep report: {SCRIPT} ({CSV_NAME})")])
@pytest.mark.slow
def test_the_quarto_title_is_text_to_pandoc_and_reads_as_given(sites, name, title):
    import yaml

    from tests.quarto_sim import pandoc, title_html

    written = yaml.safe_load((sites[f"{name}-inputs"] / "_quarto.yml").read_text())["website"]["title"]
    assert "<" not in written and "[" not in written and "`" not in written
    navbar = title_html(written)  # what Quarto puts into <span class="navbar-title">
    assert Markup(navbar).tags == [], navbar
    assert page_text(navbar) == " ".join(title.split())  # reads exactly as given
    assert " ".join(pandoc(written, "plain").split()) == " ".join(title.split())  # <title>


# ------------------------------------------------------------- (b) the pages Quarto would write

def _reference_finds_the_script():
    text = (HOSTILE_REFERENCE / "importance.html").read_text()
    return injected(text)


@needs_reference
def test_the_checks_find_the_script_in_the_unfixed_quarto_render():
    found = _reference_finds_the_script()
    assert any(f.startswith("<img>") for f in found), found
    assert any("onerror" in f for f in found), found


@needs_reference
def test_quartos_own_search_json_indexes_page_text_escaped():
    """What the simulation assumes of search.json, in the real render: Quarto indexes a page's
    text with ``<>&`` escaped (the name the reference shows as text is there, inert), so text
    that is text on our pages is text in search.json."""
    import html

    entries = json.loads((HOSTILE_REFERENCE / "search.json").read_text())
    name = '<img src=x onerror=alert("XSS-img")>'
    hits = [e["text"] for e in entries if name in html.unescape(e["text"])]
    assert hits and all(Markup(t).tags == [] and "&lt;img" in t for t in hits)


@pytest.mark.slow
@needs_reference
@pytest.mark.parametrize("name", ["quarto-img", "quarto-script", "nbconvert"])
def test_no_element_attribute_or_script_from_a_name_on_any_page(sites, name):
    site = sites[name]
    target = IMG if name != "quarto-script" else SCRIPT
    for page in PAGES + ["report.html"]:
        text = (site / page).read_text(encoding="utf-8")
        assert injected(text) == [], (name, page)
        if page in ("index.html", "importance.html", "report.html"):
            assert target in page_text(text), (name, page)  # the name is there, as text
    overview = page_text((site / "index.html").read_text())
    for shown in (PARAM, *LEVELS):
        assert shown in overview, shown  # hyperparameter names and levels, as text (tables)
    head = (site / "index.html").read_text().split("</head>")[0]
    title = re.search(r"<title>(.*?)</title>", head, re.S).group(1)
    assert Markup(title).tags == []
    wanted = TITLE if name != "quarto-script" else f"Sweep report: {SCRIPT} ({CSV_NAME})"
    import html

    assert " ".join(wanted.split()) in html.unescape(title)


@pytest.mark.slow
@needs_reference
@pytest.mark.parametrize("name", ["quarto-img", "quarto-script"])
def test_navbar_title_and_search_json_are_text(sites, name):
    import html

    site = sites[name]
    wanted = TITLE if name == "quarto-img" else f"Sweep report: {SCRIPT} ({CSV_NAME})"
    for page in PAGES:
        span = re.search(r'<span class="navbar-title">(.*?)</span>', (site / page).read_text(), re.S).group(1)
        assert Markup(span).tags == [] and page_text(span) == " ".join(wanted.split()), span
    entries = json.loads((site / "search.json").read_text())
    texts = [e["text"] for e in entries] + [e["section"] for e in entries]
    assert all(Markup(t).tags == [] for t in texts)  # Quarto's search shows them as HTML
    target = IMG if name == "quarto-img" else SCRIPT
    assert any(target in html.unescape(t) for t in texts)


# ----------------------------------------------------------------------------- (c) the browser



def _hover_marks(page, limit: int = 12) -> list[str]:
    """Hover the first ``limit`` point marks of every chart; the tooltips' HTML seen."""
    seen = []
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.sweepsight-chart .mark-symbol path, .sweepsight-chart .mark-rect path'))
        .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0)
        .map(r => [r.x + r.width / 2, r.y + r.height / 2])""")
    for x, y in boxes[:limit]:
        page.mouse.move(x, y)
        tip = page.evaluate("() => { const t = document.getElementById('vg-tooltip-element');"
                            " return t && t.classList.contains('visible') ? t.innerHTML : null; }")
        if tip:
            seen.append(tip)
    return seen


@pytest.mark.slow
@pytest.mark.browser
@needs_reference
@pytest.mark.parametrize("name", ["quarto-img", "quarto-script", "nbconvert"])
def test_no_alert_on_any_page_tooltips_included(browser, sites, name):
    from tests.test_browser import Watched

    watched = Watched(browser)
    tips = []
    for page in PAGES + (["report.html"] if name != "quarto-img" else []):
        watched.open(sites[name] / page)
        for y in range(0, 6000, 900):  # scroll through: lazy handlers run too
            watched.page.mouse.wheel(0, 900)
        if page in ("importance.html", "index.html"):
            tips += _hover_marks(watched.page)
        payloads = watched.page.evaluate("""() => Array.from(document.querySelectorAll('*'))
            .filter(e => e.tagName === 'IMG' || Array.from(e.attributes).some(
                a => a.name.startsWith('on') && !a.value.includes('quartoToggleHeadroom')))
            .map(e => e.outerHTML.slice(0, 80))""")
        assert payloads == [], (page, payloads)
    assert watched.dialogs == [], f"a name ran as a script: {watched.dialogs}"
    assert tips, "no tooltip was shown"
    shown = " ".join(page_text(t) for t in tips)
    assert any(n in shown for n in (PARAM, *LEVELS, IMG, SCRIPT)), shown[:300]
    assert all(not (set(Markup(t).tags) & PAYLOAD_TAGS) for t in tips)
    watched.page.close()


@pytest.mark.browser
@needs_reference
def test_the_browser_sees_the_script_run_in_the_unfixed_quarto_render(browser):
    from tests.test_browser import Watched

    watched = Watched(browser)
    watched.page.goto((HOSTILE_REFERENCE / "importance.html").as_uri(), wait_until="load")
    watched.page.wait_for_timeout(0)
    assert any("XSS-img" in d for d in watched.dialogs), watched.dialogs
    watched.page.close()


# ------------------------------------------------------------------- the escaping, name by name

TRICKS = [IMG, SCRIPT, PARAM, *LEVELS, RUN, TITLE, CSV_NAME, "<!-- c", "a & b &amp; &lt;b&gt;",
          "[^1] ^sup^ ~sub~ $x^2$ @cite :::", "![i](http://x/y.png)", "<http://angle.example>",
          "`code` *star* _under_ ~~strike~~ | pipe |", "val_acc", "a\u202eb", "{{< meta title >}}"]


@pytest.mark.parametrize("trick", TRICKS)
def test_site_title_reads_as_given_through_pandoc_and_makes_no_markup(trick):
    from sweepsight.reports.escape import site_title
    from sweepsight.reports.safe_text import for_page
    from tests.quarto_sim import pandoc, title_html

    title = site_title(f"Sweep report: {trick}")
    navbar = title_html(title)
    assert Markup(navbar).tags == [], navbar
    assert page_text(navbar) == " ".join(for_page(f"Sweep report: {trick}").split())
    assert " ".join(pandoc(title, "plain").split()) == " ".join(for_page(f"Sweep report: {trick}").split())
    assert site_title("Sweep report: val_acc (digits_sweep.csv)") == \
        "Sweep report: val_acc (digits_sweep.csv)"  # a plain title is written as typed


@pytest.mark.parametrize("trick", TRICKS)
def test_markdown_outputs_show_names_as_text_even_unescaped(trick):
    from sweepsight.reports.escape import markdown_html, md
    from sweepsight.reports.safe_text import for_page

    escaped = markdown_html(f"Mean of {md(trick)} over the runs")
    assert set(Markup(escaped).tags) == {"p"}, escaped
    assert page_text(escaped) == " ".join(f"Mean of {for_page(trick)} over the runs".split())
    # a fragment someone forgot to escape: Markdown may style it, but makes no markup from it
    raw = markdown_html(f"- Mean of {trick} over the runs")
    assert not set(Markup(raw).tags) - {"ul", "li", "p", "a", "strong", "em", "code", "del", "sup"}, raw
    assert injected(raw) == [] and "javascript:" not in raw


def test_embedded_chart_json_cannot_end_its_script():
    from sweepsight.reports.render import chart_html

    spec = {"title": f"{SCRIPT} <!-- {IMG} ]]> </SCRIPT >", "data": {"values": [{"a": SCRIPT}]}}
    page = Markup(chart_html(spec))
    assert [attrs.get("type") for attrs, _ in page.scripts] == ["application/json", None]
    assert json.loads(page.scripts[0][1]) == spec
    assert injected(chart_html(spec)) == [] and page.tags == ["div", "script", "script"]
