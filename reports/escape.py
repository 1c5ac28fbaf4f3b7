"""Run-derived text (metric, hyperparameter and run names, levels, file names, ``--title``) made
inert where it lands on the site, whichever renderer publishes it.

- The pages' prose is Markdown with each run-derived part escaped (:func:`md`).
  :func:`markdown_html` turns it into HTML once, here, with any HTML in it shown as text and
  harmful link schemes dropped, so nbconvert and Quarto publish the same HTML and neither
  one's Markdown reader ever parses run-derived text (Quarto's pandoc passes raw HTML, raw
  attributes and bracketed spans with ``onclick=`` through; it also reads shortcodes and
  citations).
- HTML the pages build themselves (tables, the walk), every run-derived part escaped with
  ``html.escape``, is :class:`Html` and passes unchanged.
- :func:`site_title` is the site title for Quarto's ``website.title``, which Quarto reads as
  Markdown and puts into every navbar as HTML, and into ``<title>`` as its plain text.
"""
from __future__ import annotations

import re
from typing import Any

from sweepsight.reports.safe_text import for_page

# mistune's plugins as nbconvert renders Markdown outputs, but "url": a bare URL in a name stays
# text (the prose's own links are [text](href); footnotes and abbr are off there too)
_PLUGINS = ["strikethrough", "table", "task_lists", "def_list"]
_markdown = None

# In a title: what pandoc's Markdown reader would act on (raw HTML, entities, links and spans,
# code and raw attributes, emphasis, math, citations, shortcodes' braces), and quotes for any
# attribute it lands in. "_" inside a word (val_acc) is literal in pandoc and stays as typed.
_TITLE_ACTIVE = re.compile(r"""[&<>"'`*\[\]{}\\~^$@|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])""")


class Html(str):
    """HTML built by the pages with every run-derived part escaped: shown as it is."""


def md(value: Any) -> str:
    """A run-derived ``value`` as a literal fragment of the pages' Markdown (bidi controls
    shown, Markdown punctuation backslash-escaped, ``<>&`` as entities, on one line)."""
    from sweepsight.reports.render import esc

    return esc(for_page(value))


def _renderer():
    """mistune's HTML renderer with entities read as characters (``&lt;`` from :func:`md`
    shows as ``<``, as in nbconvert) but raw HTML shown as text and images as their text."""
    import mistune
    from mistune.util import escape as escape_text

    class Renderer(mistune.HTMLRenderer):
        def inline_html(self, html: str) -> str:
            return escape_text(html)

        def block_html(self, html: str) -> str:
            return "<p>" + escape_text(html.strip()) + "</p>\n"

        def image(self, text: str, url: str, title: str | None = None) -> str:
            return text  # never fetched: the pages' prose has no images

    return mistune.create_markdown(renderer=Renderer(escape=False), plugins=_PLUGINS)


def markdown_html(markdown: str) -> Html:
    """The pages' Markdown as HTML: any raw HTML in it is shown as text (``&lt;img …&gt;``),
    ``javascript:``/``data:`` links are dropped; everything else renders as nbconvert renders
    Markdown outputs (mistune, the same plugins)."""
    global _markdown
    if _markdown is None:
        _markdown = _renderer()
    return Html(_markdown(markdown))


def site_title(title: Any) -> str:
    """``title`` (run-derived: the target, the CSV's file name, ``--title``) for Quarto's
    ``website.title``: one line, and every character Markdown or HTML would act on as a
    numeric character reference, which reads as that character whether Quarto parses the
    title as Markdown (it does: the navbar, ``<title>``) or pastes it into HTML."""
    text = " ".join(for_page(title).splitlines())
    return _TITLE_ACTIVE.sub(lambda m: f"&#{ord(m.group())};", text)
