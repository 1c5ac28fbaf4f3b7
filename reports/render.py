"""Rendering helpers: charts that embed with the site's own Vega bundle, text escaping, and
turning executed page notebooks into the HTML site (Quarto, or nbconvert without it).

Charts never reference a CDN: :func:`show` emits a ``<div>`` plus an inline JSON spec and a call
to ``vegaEmbed`` from the bundle written once per site by :func:`write_vega_bundle`.
"""
from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
from pathlib import Path
from typing import Any

BUNDLE_NAME = "vega-bundle.js"
ASSETS = "assets"
_counter = itertools.count()

# ASCII punctuation that Markdown (CommonMark, pandoc, mistune) may interpret.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def esc_html(text: Any) -> str:
    """``text`` as HTML text: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape("" if text is None else str(text), quote=True)


def esc(text: Any) -> str:
    """``text`` (a run name, a parameter value) made inert inside Markdown.

    Markdown punctuation is backslash-escaped and HTML characters become entities, so
    ``<script>alert(1)</script>`` shows as that text in ``IPython.display.Markdown`` output,
    in pandoc/Quarto and in GitHub-flavoured markdown (``summary.md``).
    """
    s = "" if text is None else str(text)
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("\r", " ").replace("\n", " ")


def _json_for_script(obj: Any) -> str:
    """JSON that cannot close the surrounding ``<script>`` element."""
    text = json.dumps(obj, allow_nan=False, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_html(spec: dict, *, element_id: str | None = None) -> str:
    """The HTML of one chart: a ``div``, its Vega-Lite spec as inline JSON and the embed call.

    ``vegaEmbed`` comes from the site's bundle (``assets/vega-bundle.js``, loaded in the page
    head); if the bundle loads later, the call is queued on ``window.__sweepsightQueue``.
    """
    payload = _json_for_script(spec)
    if element_id is None:
        digest = hashlib.sha1(payload.encode()).hexdigest()[:10]
        element_id = f"sweepsight-chart-{next(_counter)}-{digest}"
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


def show(chart: Any):
    """Display an Altair chart (or a Vega-Lite dict) in a page notebook, without any CDN.

    Returns an ``IPython.display.HTML`` object; the data travel inline in the spec.
    """
    from IPython.display import HTML

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    return HTML(chart_html(spec))


def bundle_js() -> str:
    """Vega, Vega-Lite and Vega-Embed in one classic script, assigned to ``window``.

    Built by ``vl_convert.javascript_bundle`` (a few seconds) and cached on disk per version.
    The bundle is wrapped in a function so its top-level names cannot clash with other scripts;
    at the end it runs any chart embeds queued before it loaded.
    """
    import vl_convert

    version = getattr(vl_convert, "__version__", "unknown")
    cache = Path(__file__).resolve().parent / "_generated" / f"vega-bundle-{version}.js"
    if cache.exists():
        return cache.read_text(encoding="utf-8")
    body = vl_convert.javascript_bundle()
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


def write_vega_bundle(site: str | Path) -> Path:
    """Write ``<site>/assets/vega-bundle.js`` and return its path."""
    path = Path(site) / ASSETS / BUNDLE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bundle_js(), encoding="utf-8")
    return path
