"""The Quarto site, tested without Quarto (it cannot be installed where the tests run; the site
is checked with a real Quarto 1.11 before release):

- the project configuration the build writes (flat pages like nbconvert's, anchored resources,
  an offline theme, no smart typography, a column wide enough for the widest chart);
- the post-render step on what Quarto really writes (the reference render in
  ``../shared/quarto-render/`` when present, and the exact tags Quarto injects);
- the file plumbing (temporary project, flat output, rebuilds, the repository's .gitignore)
  with a FAKE ``quarto`` executable. The fake writes HTML in Quarto's shape; it is not a
  render, and says nothing about how Quarto lays out the pages.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweepsight.reports import build, render
from tests.conftest import QUARTO_REFERENCE, REFERENCE_MISSING, REPO, write_sweep
from tests.test_report_build import Resources

STEMS = [p.stem for p in build.PAGES]
SCSS = render.QUARTO_PROJECT / "sweepsight.scss"


def column_width() -> int:
    """The report column (px) the Quarto theme allows; charts must fit in it."""
    return int(re.search(r"\$sweepsight-column:\s*(\d+)px", SCSS.read_text()).group(1))


def remote(urls) -> list[str]:
    return [u for u in urls if re.match(r"^\s*(https?:)?//", u, flags=re.I)]


def fetched(text: str) -> list[str]:
    parser = Resources()
    parser.feed(text)
    return parser.fetched


# ----------------------------------------------------------------------------- configuration

def test_the_project_renders_the_pages_flat_at_the_site_root():
    config = render.quarto_config(title="T")
    project = config["project"]
    assert project["type"] == "website"
    assert project["render"] == [f"{s}.ipynb" for s in STEMS]  # -> site/index.html, ...
    navbar = config["website"]["navbar"]["left"]
    assert [item["href"] for item in navbar] == [f"{s}.ipynb" for s in STEMS]
    assert [item["text"] for item in navbar] == [p.label for p in build.PAGES]
    # output inside the temporary project, never a folder that could hold an old site
    assert project["output-dir"] == "_site"
    assert config["execute"]["enabled"] is False


def test_resources_are_anchored_and_the_header_scripts_are_shipped():
    config = render.quarto_config(title="T")
    resources = config["project"]["resources"]
    assert resources and all(r.startswith("/") for r in resources), resources  # not **/...
    html = config["format"]["html"]
    headers = " ".join(h["text"] for h in html["include-in-header"])
    srcs = re.findall(r'src="([^"]+)"', headers)
    assert srcs == [f"{render.ASSETS}/{render.BUNDLE_NAME}"]
    assert [f"/{s}" for s in srcs] == resources
    assert remote(srcs) == []


def test_the_theme_works_offline_and_prose_keeps_double_hyphens():
    html = render.quarto_config(title="T")["format"]["html"]
    theme = html["theme"]
    assert theme[0] == "cosmo" and "sweepsight.scss" in theme
    defaults = SCSS.read_text().split("/*-- scss:rules --*/")[0]
    assert "/*-- scss:defaults --*/" in defaults
    assert re.search(r"^\$web-font-path:\s*false;", defaults, flags=re.M)
    assert html["from"] == "markdown-smart"  # "--metric-agg" stays two hyphens
    assert html["html-math-method"] != "mathjax"  # MathJax would come from a CDN
    assert html["embed-resources"] is False
    assert html["toc"] is False and html["page-layout"] == "full"  # no margin column
    assert html["grid"]["body-width"] == f"{column_width()}px"


def test_the_project_is_written_into_the_build_folder_with_the_title(tmp_path):
    before = (render.QUARTO_PROJECT / "_quarto.yml").read_text()
    title = 'Sweep "report": val_acc <b> --metric-agg # not a comment'
    path = render.write_quarto_project(tmp_path, title=title)
    assert path == tmp_path / "_quarto.yml"
    # Quarto reads website.title as Markdown into the navbar: what it would act on is a
    # character reference (the same character as Markdown and as HTML); words stay as typed
    assert yaml.safe_load(path.read_text())["website"]["title"] == (
        "Sweep &#34;report&#34;: val_acc &#60;b&#62; --metric-agg # not a comment")
    assert (tmp_path / "sweepsight.scss").read_text() == SCSS.read_text()
    assert (render.QUARTO_PROJECT / "_quarto.yml").read_text() == before  # package untouched


def test_the_template_column_matches_the_nbconvert_site():
    template = render.TEMPLATE.read_text()
    assert f"max-width: {column_width()}px" in template


# ----------------------------------------------------------------------------- post-render

# The tags Quarto injects into a page built from a notebook with HTML outputs (both CDNs seen
# in Quarto releases), the cosmo font stylesheet, and the widget runtime.
INJECTED = """\
<script src="https://cdn.jsdelivr.net/npm/jquery@3.5.1/dist/jquery.min.js" integrity="sha384-x" crossorigin="anonymous"></script><script src="site_libs/quarto-nav/quarto-nav.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js" integrity="sha512-x" crossorigin="anonymous"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/jquery/3.5.1/jquery.min.js" integrity="sha512-x" crossorigin="anonymous" data-relocate-top="true"></script>
<script type="application/javascript" data-relocate-top="true">define('jquery', [],function() {return window.jQuery;})</script>
<script src="https://unpkg.com/@jupyter-widgets/html-manager@*/dist/embed-amd.js" crossorigin="anonymous"></script>
<link href="https://fonts.googleapis.com/css2?family=Source+Sans+Pro" rel="stylesheet">
<script src="assets/vega-bundle.js"></script>
"""
BODY = """<main><p>Use <code>--metric-agg</code>: see <a href="https://example.org/docs">the docs</a>.</p>
<div class="sweepsight-chart" id="c1"></div>
<script type="application/json" id="c1-spec">{"a":1}</script>
<script>
(function () { var id = "c1"; })();
</script></main>"""


def test_offline_html_removes_every_injected_remote_tag_and_keeps_ours():
    page = f"<!DOCTYPE html><html><head>\n{INJECTED}</head><body>{BODY}</body></html>"
    assert len(remote(fetched(page))) == 5
    out = render.offline_html(page)
    assert remote(fetched(out)) == []
    assert fetched(out) == ["site_libs/quarto-nav/quarto-nav.js", "assets/vega-bundle.js"]
    assert "define(" not in out
    assert BODY in out  # the charts' own scripts, links in prose (not fetched) are kept
    assert render.offline_html(out) == out


def test_offline_css_drops_the_web_font_import():
    css = ('@import url("https://fonts.googleapis.com/css2?family=Source+Sans+Pro:wght@300;400;700'
           '&display=swap");:root{--bs-blue:#2780e3}\n@import url(local.css);')
    out = render.offline_css(css)
    assert "googleapis" not in out and ":root{--bs-blue:#2780e3}" in out
    assert "@import url(local.css);" in out


@pytest.mark.skipif(not (QUARTO_REFERENCE / "reports" / "generated" / "correlation.html").exists(),
                    reason=REFERENCE_MISSING)
@pytest.mark.parametrize("name", ["reports/generated/correlation.html", "index.html"])
def test_offline_html_on_the_reference_quarto_render(name):
    text = (QUARTO_REFERENCE / name).read_text(encoding="utf-8")
    out = render.offline_html(text)
    assert remote(fetched(out)) == []
    local = [u for u in fetched(text) if not remote([u])]
    assert fetched(out) == local  # every local script and stylesheet is still loaded
    if "correlation" in name:
        assert len(remote(fetched(text))) == 2  # require.js and jQuery from jsDelivr
        assert "define(" not in out and "assets/vega-bundle.js" in local
        assert out.count('class="sweepsight-chart"') == text.count('class="sweepsight-chart"') >= 1


# ----------------------------------------------------------------------------- plumbing (fake)

FAKE_QUARTO = r'''#!{python}
"""A FAKE quarto for tests: writes files in the shape Quarto 1.11 writes (pages, site_libs,
the injected CDN tags, the font import, .quarto/ and a .gitignore in the project). Not a render."""
import json, pathlib, shutil, sys
import yaml

assert sys.argv[1] == "render", sys.argv
project = pathlib.Path(sys.argv[2])
config = yaml.safe_load((project / "_quarto.yml").read_text())
log = pathlib.Path({log!r})
for path in project.rglob("*"):  # the project must never hold an earlier site
    assert path.name != ".sweepsight-site", path
out = project / config["project"]["output-dir"]
out.mkdir()
head = "\n".join(h["text"] for h in config["format"]["html"]["include-in-header"])
for src in config["project"]["render"]:
    nb = json.loads((project / src).read_text())
    body = "".join("".join(o.get("data", {{}}).get("text/html", ""))
                   for c in nb["cells"] for o in c.get("outputs", []))
    (out / src.replace(".ipynb", ".html")).write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.jsdelivr.net/npm/jquery@3.5.1/dist/jquery.min.js"></script>'
        '<script src="site_libs/quarto-nav/quarto-nav.js"></script>'
        '<script src="https://cdn.jsdelivr.net/npm/requirejs@2.3.6/require.min.js"></script>'
        "<script type=\"application/javascript\">define('jquery', [],function() {{return window.jQuery;}})</script>"
        + head + "</head><body><main>" + body + "</main></body></html>")
for resource in config["project"].get("resources", []):
    matches = [project / resource.lstrip("/")] if resource.startswith("/") else list(project.glob("**/" + resource))
    for match in matches:
        dest = out / match.relative_to(project)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(match, dest)
(out / "site_libs" / "quarto-nav").mkdir(parents=True)
(out / "site_libs" / "quarto-nav" / "quarto-nav.js").write_text("// nav")
(out / "site_libs" / "bootstrap").mkdir(parents=True)
(out / "site_libs" / "bootstrap" / "bootstrap.min.css").write_text(
    '@import url("https://fonts.googleapis.com/css2?family=Source+Sans+Pro");body{{margin:0}}')
(project / ".quarto").mkdir(exist_ok=True)
with open(project / ".gitignore", "a") as fh:
    fh.write("\n/.quarto/\n**/*.quarto_ipynb\n")
with open(log, "a") as fh:
    fh.write(str(project) + "\n")
'''


@pytest.fixture
def fake_quarto(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "quarto-calls.log"
    exe = bin_dir / "quarto"
    exe.write_text(FAKE_QUARTO.format(python=sys.executable, log=str(log)))
    exe.chmod(0o755)
    return bin_dir, log


def test_quarto_plumbing_with_a_fake_quarto_flat_offline_and_rebuildable(tmp_path, fake_quarto):
    """Two builds into the same --out inside a git repository, through the real CLI with a
    FAKE quarto on PATH: flat pages, nothing remote, nothing nested, git status clean."""
    bin_dir, log = fake_quarto
    repo = tmp_path / "repo"
    repo.mkdir()
    csv = write_sweep(repo / "sweep.csv", seeds=2)
    (repo / ".gitignore").write_text("/site/\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "sweep"], cwd=repo, check=True)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "sweepsight", "--source", "csv", "--path", str(csv),
           "--target", "val_acc", "--out", "site", "--renderer", "quarto"]
    sizes = []
    for _ in range(2):
        done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr
        assert re.search(r"\[\s*\d+\.\d\d s\] render: quarto", done.stdout)
        site = repo / "site"
        sizes.append(sum(p.stat().st_size for p in site.rglob("*") if p.is_file()))
    calls = log.read_text().split()
    assert len(calls) == 2 and not any(Path(c).is_relative_to(site) for c in calls)
    assert all(not Path(c).exists() for c in calls)  # the temporary projects are gone
    for stem in STEMS:
        page = site / f"{stem}.html"
        text = page.read_text(encoding="utf-8")
        assert remote(fetched(text)) == [], stem
        assert "define(" not in text
        for url in fetched(text):
            assert (site / url).is_file(), (stem, url)
    css = (site / "site_libs" / "bootstrap" / "bootstrap.min.css").read_text()
    assert "googleapis" not in css
    for name in ("summary.md", "report.html", "data/sweep.parquet", build.SITE_MARKER):
        assert (site / name).is_file(), name
    assert not (site / "site").exists() and not (site / "reports").exists()  # flat, not nested
    assert not any(p.name in (".quarto", "_site", build.WORK) or p.suffix == ".ipynb"
                   for p in site.rglob("*"))
    assert abs(sizes[1] - sizes[0]) < 0.05 * sizes[0], sizes  # the rebuild did not grow
    status = subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", status  # .gitignore untouched, nothing new outside site/
    assert [p.name for p in repo.iterdir() if p.name.startswith(".site.")] == []


# ----------------------------------------------------------------------------- chart widths

@pytest.mark.browser
def test_every_chart_fits_the_column_at_a_1400px_window(built_site):
    """Measured in the nbconvert site (same charts, same column width as the Quarto theme)."""
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip(f"{chromium} not found: install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    column = column_width()
    widths = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for stem in STEMS:
            page.goto((built_site.site / f"{stem}.html").as_uri(), wait_until="load")
            page.wait_for_function("() => Array.from(document.querySelectorAll('.sweepsight-chart'))"
                                   ".every(e => e.querySelector('svg, canvas'))", timeout=20_000)
            widths[stem] = page.evaluate(
                "() => Array.from(document.querySelectorAll("
                "'.sweepsight-chart svg, .sweepsight-walk svg'))"
                ".map(s => s.getBoundingClientRect().width)")
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= 1400, (stem, scroll)  # no horizontal scrolling at 1400 px
        browser.close()
    assert all(widths[s] for s in STEMS if s != "comparison"), widths  # (no baseline: no chart)
    too_wide = {s: [w for w in ws if w > column] for s, ws in widths.items()}
    assert not any(too_wide.values()), (column, too_wide)
    assert max(max(ws) for ws in widths.values() if ws) > column / 2  # it measured real charts
