"""Rendering helpers: charts that embed with the site's own Vega bundle, text escaping, and
turning executed page notebooks into the HTML site (Quarto, or nbconvert without it).

Charts never reference a CDN: :func:`show` emits a ``<div>`` plus an inline JSON spec and a call
to ``vegaEmbed`` from the bundle written once per site by :func:`write_vega_bundle`.
"""
from __future__ import annotations

import html
import itertools
import os
import uuid
import json
import re
import shutil
from pathlib import Path
from typing import Any

BUNDLE_NAME = "vega-bundle.js"
ASSETS = "assets"
_counter = itertools.count()

# Characters that start Markdown/HTML constructs anywhere in a line (links, emphasis, code,
# tables, strikethrough, math); the rest of ASCII punctuation only matters at a line's start.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~$])")
# headings, list items, thematic breaks and setext underlines (single line: they start it)
_MD_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[+\-](?=\s|$)|\d{1,9}[.)](?=\s|$)|[-=](?=[-=]))")


def esc_html(text: Any) -> str:
    """``text`` as HTML text: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape("" if text is None else str(text), quote=True)


def esc(text: Any) -> str:
    """``text`` (a run name, a parameter value) made inert inside Markdown, on one line.

    Markdown punctuation is backslash-escaped and ``<``, ``>``, ``&`` become entities, so
    ``<script>alert(1)</script>`` shows as that text in ``IPython.display.Markdown`` output,
    in pandoc/Quarto and in GitHub-flavoured markdown (``summary.md``, where ``|`` would
    otherwise split a table cell).
    """
    s = " ".join(("" if text is None else str(text)).splitlines())
    s = _MD_INLINE.sub(r"\\\1", s)
    s = _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], s)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finite(obj: Any) -> Any:
    """``obj`` with NaN/inf floats as ``None`` (JSON has no NaN; ``JSON.parse`` rejects it)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_for_script(obj: Any) -> str:
    """JSON that cannot close the surrounding ``<script>`` element."""
    text = json.dumps(_finite(obj), allow_nan=False, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_html(spec: dict, *, element_id: str | None = None) -> str:
    """The HTML of one chart: a ``div``, its Vega-Lite spec as inline JSON and the embed call.

    ``vegaEmbed`` comes from the site's bundle (``assets/vega-bundle.js``, loaded in the page
    head); if the bundle loads later, the call is queued on ``window.__sweepsightQueue``.
    """
    payload = _json_for_script(spec)
    if element_id is None:  # unique across pages: report.html holds every page at once
        element_id = f"sweepsight-chart-{uuid.uuid4().hex[:12]}"
    return (
        f'<div class="sweepsight-chart" id="{element_id}"></div>\n'
        f'<script type="application/json" id="{element_id}-spec">{payload}</script>\n'
        "<script>\n(function () {\n"
        f'  var id = "{element_id}";\n'
        '  function embed() {\n'
        '    var spec = JSON.parse(document.getElementById(id + "-spec").textContent);\n'
        '    window.vegaEmbed("#" + id, spec, {actions: false, renderer: "svg"})\n'
        '      .catch(function (err) { console.error("chart " + id + ": " + err); });\n'
        "  }\n"
        "  if (window.vegaEmbed) { embed(); }\n"
        "  else { (window.__sweepsightQueue = window.__sweepsightQueue || []).push(embed); }\n"
        "})();\n</script>"
    )


#: Axis defaults of every chart (a chart's own axis settings win): numeric labels keep a gap
#: or are thinned (no "−0.12−0.10"), discrete x labels are not turned on their side.
AXIS_CONFIG = {
    # no text under 11 px (Vega-Lite's defaults: 10 px labels, 11 px titles)
    "axis": {"labelFontSize": 11, "titleFontSize": 12},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
    "header": {"labelFontSize": 11, "titleFontSize": 12},
    "title": {"fontSize": 13, "subtitleFontSize": 11},
    "axisQuantitative": {"labelOverlap": True, "labelSeparation": 6, "labelFlush": True},
    "axisXDiscrete": {"labelAngle": 0, "labelLimit": 120},
}


def with_axis_config(spec: dict) -> dict:
    """``spec`` with :data:`AXIS_CONFIG` under its own config (its own settings win)."""
    config = dict(spec.get("config") or {})
    for key, defaults in AXIS_CONFIG.items():
        config[key] = {**defaults, **(config.get(key) or {})}
    return {**spec, "config": config}


def show(chart: Any):
    """Display an Altair chart (or a Vega-Lite dict) in a page notebook, without any CDN.

    Returns an ``IPython.display.HTML`` object; the data travel inline in the spec.
    """
    from IPython.display import HTML

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    return HTML(chart_html(with_axis_config(spec)))


def bundle_js() -> str:
    """Vega, Vega-Lite and Vega-Embed in one classic script, assigned to ``window``.

    Built by ``vl_convert.javascript_bundle`` (a few seconds) and cached per version in
    :func:`cache_dir` (never inside the installed package).
    The bundle is wrapped in a function so its top-level names cannot clash with other scripts;
    at the end it runs any chart embeds queued before it loaded.
    """
    import vl_convert

    version = getattr(vl_convert, "__version__", "unknown")
    cache = cache_dir() / f"vega-bundle-{version}.js"
    if cache.exists():
        return cache.read_text(encoding="utf-8")
    body = vl_convert.javascript_bundle()  # type: ignore[call-arg]  # optional, unlike its stub says
    text = (
        f"/* Vega {vl_convert.get_vega_version()}, Vega-Lite {vl_convert.get_vegalite_versions()[-1]}, "
        f"Vega-Embed {vl_convert.get_vega_embed_version()} (bundled by vl-convert {version}) */\n"
        "(function () {\n" + body + "\n})();\n"
        "(window.__sweepsightQueue || []).forEach(function (f) { f(); });\n"
        "window.__sweepsightQueue = { push: function (f) { f(); } };\n"
    )
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{next(_counter)}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        pass  # a read-only install: rebuild the bundle each time
    return text


def cache_dir() -> Path:
    """``$SWEEPSIGHT_CACHE``, else ``$XDG_CACHE_HOME/sweepsight``, else ``~/.cache/sweepsight``."""
    if os.environ.get("SWEEPSIGHT_CACHE"):
        return Path(os.environ["SWEEPSIGHT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sweepsight"


def write_vega_bundle(site: str | Path) -> Path:
    """Write ``<site>/assets/vega-bundle.js`` and return its path."""
    path = Path(site) / ASSETS / BUNDLE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bundle_js(), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the site

QUARTO_MISSING = (
    "Quarto was not found on PATH: rendering the same pages with nbconvert instead "
    "(install Quarto: pip install quarto-cli, or https://quarto.org/docs/get-started/)"
)
TEMPLATE = Path(__file__).resolve().parent / "assets" / "sweepsight.html.j2"


def navbar(pages, *, title: str, active: str | None = None, anchors: bool = False) -> str:
    """The shared navbar: links to ``<stem>.html`` (or ``#<stem>`` in the single-file report)."""
    links = []
    for page in pages:
        href = f"#page-{page.stem}" if anchors else f"{page.stem}.html"
        cls = ' class="active"' if page.stem == active else ""
        links.append(f'<a href="{href}"{cls}>{esc_html(page.label)}</a>')
    return (f'<nav class="sweepsight-nav"><span class="sweepsight-brand">{esc_html(title)}</span>'
            + "".join(links) + "</nav>")


def _read_page(path: Path):
    """An executed page notebook, without stderr streams (library warnings are not for readers)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return nb


def _exporter():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file=str(TEMPLATE))
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def render_nbconvert(project: Path, site: Path, *, pages, title: str) -> None:
    """Each executed page ``<project>/<stem>.ipynb`` -> ``<site>/<stem>.html`` with the navbar
    and the shared Vega bundle (``<project>/assets``, copied)."""
    (site / ASSETS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project / ASSETS / BUNDLE_NAME, site / ASSETS / BUNDLE_NAME)
    exporter = _exporter()
    head = f'<script src="{ASSETS}/{BUNDLE_NAME}"></script>'
    for page in pages:
        nb = _read_page(project / f"{page.stem}.ipynb")
        resources = {
            "metadata": {"name": f"{page.label} · {title}"},
            "sweepsight_head": head,
            "sweepsight_nav": navbar(pages, title=title, active=page.stem),
        }
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        (site / f"{page.stem}.html").write_text(body, encoding="utf-8")


def write_single_file(project: Path, path: Path, *, pages, title: str) -> Path:
    """``report.html``: every page in one self-contained file (Vega bundle inline), to attach."""
    import nbformat

    combined = nbformat.v4.new_notebook()
    for page in pages:
        nb = _read_page(project / f"{page.stem}.ipynb")
        combined.cells.append(nbformat.v4.new_markdown_cell(  # pages start with their own title
            f'<section class="sweepsight-page" id="page-{page.stem}"></section>'))
        combined.cells.extend(nb.cells)
    bundle = bundle_js().replace("</script", "<\\/script")
    resources = {
        "metadata": {"name": title},
        "sweepsight_head": f"<script>\n{bundle}\n</script>",
        "sweepsight_nav": navbar(pages, title=title, anchors=True),
    }
    body, _ = _exporter().from_notebook_node(combined, resources=resources)
    path.write_text(body, encoding="utf-8")
    return path


QUARTO_PROJECT = Path(__file__).resolve().parent / "quarto"  # _quarto.yml + theme (package data)


def quarto_config(*, title: str) -> dict:
    """The project's ``_quarto.yml`` (package data) with ``website.title`` set to ``title``,
    escaped (:func:`reports.escape.site_title`): Quarto reads it as Markdown into every navbar."""
    import yaml

    from sweepsight.reports.escape import site_title

    config = yaml.safe_load((QUARTO_PROJECT / "_quarto.yml").read_text(encoding="utf-8"))
    config["website"]["title"] = site_title(title)
    return config


def write_quarto_project(project: Path, *, title: str) -> Path:
    """Put ``_quarto.yml`` (with the title) and the theme files into ``project``, beside the
    executed pages and ``assets/``; returns the ``_quarto.yml`` written."""
    import yaml

    for item in QUARTO_PROJECT.iterdir():
        if item.is_file() and item.name != "_quarto.yml":
            shutil.copyfile(item, project / item.name)
    path = project / "_quarto.yml"
    path.write_text(yaml.safe_dump(quarto_config(title=title), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


# What Quarto adds that would fetch from the network: the require.js and jQuery tags it injects
# into pages built from notebooks with HTML outputs (with their inline ``define('jquery')``
# shim, which fails once require.js is gone), and any other remote script or stylesheet.
_REMOTE_SCRIPT = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script>\s*""", re.I)
_REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>\s*""", re.I)
_REQUIRE_SHIM = re.compile(
    r"""<script\b[^>]*>\s*define\(\s*['"]jquery['"][^<]*</script>\s*""", re.I)
_CSS_REMOTE_IMPORT = re.compile(r"""@import\s+url\(\s*["']?(?:https?:)?//[^)]*\)\s*;?""", re.I)


def offline_html(text: str) -> str:
    """``text`` (a page Quarto wrote) without remote scripts, stylesheets and the require.js shim."""
    text = _REMOTE_SCRIPT.sub("", text)
    text = _REMOTE_LINK.sub("", text)
    return _REQUIRE_SHIM.sub("", text)


def offline_css(text: str) -> str:
    """``text`` (a stylesheet) without ``@import url(https://...)`` (e.g. web fonts)."""
    return _CSS_REMOTE_IMPORT.sub("", text)


def make_offline(site: Path) -> int:
    """Apply :func:`offline_html` / :func:`offline_css` to every page and stylesheet in ``site``
    (not to ``assets/``, our own files); returns how many files changed."""
    changed = 0
    for path in site.rglob("*"):
        if path.suffix not in (".html", ".css") or ASSETS in path.relative_to(site).parts[:1]:
            continue
        text = path.read_text(encoding="utf-8")
        new = offline_html(text) if path.suffix == ".html" else offline_css(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def render_quarto(quarto: str, project: Path, site: Path, *, title: str) -> None:
    """``quarto render`` of the build's own project folder (never the user's repository), then
    :func:`make_offline` and the output moved into ``site``, flat: ``site/index.html``, ..."""
    import subprocess

    write_quarto_project(project, title=title)
    output = project / "_site"
    proc = subprocess.run([quarto, "render", str(project)], cwd=project,
                          capture_output=True, text=True)
    if proc.returncode != 0 or not (output / "index.html").is_file():
        from sweepsight.reports.build import BuildError

        tail = " ".join((proc.stderr or proc.stdout).split())[-600:]
        raise BuildError(f"quarto render failed (exit {proc.returncode}): {tail}")
    make_offline(output)
    for item in output.iterdir():
        target = site / item.name
        if target.is_dir():
            shutil.rmtree(target)
        shutil.move(str(item), target)


def render_site(project: Path, site: Path, *, pages, title: str, renderer: str = "auto",
                log=print) -> str:
    """Render the executed pages in ``project`` into ``site``; returns which renderer ran.

    ``renderer``: ``"auto"`` (Quarto when ``quarto`` is on PATH, else nbconvert, said plainly),
    ``"quarto"`` or ``"nbconvert"``.
    """
    quarto = shutil.which("quarto")
    if renderer == "quarto" and not quarto:
        from sweepsight.adapters.errors import SweepError

        raise SweepError("--renderer quarto: Quarto was not found on PATH; install it "
                         "(pip install quarto-cli) or pass --renderer nbconvert.")
    if renderer in ("auto", "quarto") and quarto:
        render_quarto(quarto, project, site, title=title)
        return "quarto"
    if renderer == "auto":
        log(QUARTO_MISSING)
    render_nbconvert(project, site, pages=pages, title=title)
    return "nbconvert"
