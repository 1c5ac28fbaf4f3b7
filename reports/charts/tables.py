"""Tables as escaped HTML, and one ``display`` for everything a page shows."""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from sweepsight.reports.escape import Html, markdown_html
from sweepsight.reports.format import number
from sweepsight.reports.safe_text import JOINER, for_vega, short, visible

CELL_CHARS = 120  # characters of a table cell shown; the whole text is its tooltip


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isfinite(v) and float(v).is_integer() and abs(float(v)) < 1e15:
            return str(int(v))  # counts (runs per configuration) as integers, not 6.667e+04
        return number(v)
    text = "" if v is None else str(v)
    if len(text) > CELL_CHARS:  # one unbroken 10,000-character value would widen the page
        return f'<span title="{html.escape(text)}">{html.escape(short(text, CELL_CHARS))}</span>'
    return html.escape(text)


#: A p-value that underflowed to 0 in a table: the bound the text writes (``p < 1e-300``).
P_UNDERFLOW = "&lt; 1e-300"
_P_COLUMN = re.compile(r"^(p|p[_ ].*|.*_p)$", flags=re.I)


def _is_p_column(name) -> bool:
    """``p``, ``p_value``, ``p_holm``, ``ks_p``: a column of p-values."""
    return bool(_P_COLUMN.match(str(name)))


def html_table(frame: pd.DataFrame, *, max_rows: int = 200, caption: str = "") -> Html:
    """``frame`` as an HTML table (every cell escaped, floats to 4 significant digits), at most
    ``max_rows`` rows with a line saying how many were left out."""
    if frame is None or len(frame) == 0:
        return Html("<p><em>(none)</em></p>")
    shown = frame.head(max_rows)
    out = ['<table class="sweepsight-table">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
               + "</tr></thead><tbody>")
    pcols = [_is_p_column(c) for c in shown.columns]
    for row in shown.itertuples(index=False):
        out.append("<tr>" + "".join(f"<td>{P_UNDERFLOW if p and v == 0 else _cell(v)}</td>"
                                    for v, p in zip(row, pcols)) + "</tr>")
    out.append("</tbody></table>")
    if len(frame) > max_rows:
        out.append(f"<p><em>{len(frame) - max_rows:,} more rows not shown.</em></p>")
    return Html("\n".join(out))


#: A command-line flag in page text (``--test welch``, ``--metric-agg max``, ``--quick``), its
#: value only when it is one of the CLI's choices; not inside a code span.
_FLAG = re.compile(r"(?<![\w`\\-])(--[a-z][a-z-]*[a-z](?: (?:ks|welch|mannwhitney|last|min|max|"
                   r"maximize|minimize|auto|raw|log|rank|quarto|nbconvert)\b)?)(?![\w`-])")


_CODE = re.compile(r"(<code\b.*?</code>|<pre\b.*?</pre>|<[^>]*>)", flags=re.S)


def flags_as_code(page_html: str) -> Html:
    """Each command-line flag in the text of ``page_html`` (rendered Markdown) as ``<code>``
    that does not wrap, so "--test" never breaks across lines after a hyphen; code, tags and
    attributes are left as they are."""
    parts = _CODE.split(page_html)  # code, pre and tags (odd parts) stay as they are
    return Html("".join(p if i % 2 else _FLAG.sub(r'<code style="white-space: nowrap">\1</code>', p)
                        for i, p in enumerate(parts)))


def spec_without_bidi(spec):
    """A Vega-Lite spec (or any JSON-like value) with every string, keys included, made safe
    for Vega (:func:`~reports.safe_text.for_vega`: bidi controls and other invisible characters
    shown as ``⟨U+XXXX⟩``, ``constructor`` no longer read as JavaScript's); the same string
    maps to the same text, so fields, data and sort orders still match up."""
    if isinstance(spec, str):
        return for_vega(spec)
    if isinstance(spec, dict):
        return {for_vega(k) if isinstance(k, str) else k: spec_without_bidi(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [spec_without_bidi(v) for v in spec]
    return spec


def display(obj) -> None:
    """Show ``obj`` in a page notebook: ``None`` shows nothing, :class:`~reports.escape.Html`
    (built with every run-derived part escaped) is shown as it is, any other ``str`` is Markdown
    (run-derived parts escaped with ``reports.escape.md``), shown as HTML made here
    (:func:`reports.escape.markdown_html`: no HTML in it survives, and no Markdown output
    reaches Quarto's pandoc), a DataFrame becomes an HTML table, an Altair chart is embedded
    with the site's own Vega bundle (``reports.render.show``)."""
    from IPython.display import HTML
    from IPython.display import display as ipy_display

    if obj is None:
        return
    # Bidi controls (U+202E) and invisible characters (U+200B) in run-derived text are shown,
    # not obeyed, on every page; they mean nothing to HTML, Markdown or Vega, so replacing them
    # everywhere changes nothing else. Markdown keeps the word joiners that reports.text put in
    # (after it made the run-derived text's own invisible characters visible).
    if isinstance(obj, pd.DataFrame):
        ipy_display(HTML(visible(html_table(obj))))
    elif isinstance(obj, Html):
        ipy_display(HTML(visible(obj, keep=JOINER)))
    elif isinstance(obj, str):
        ipy_display(HTML(flags_as_code(markdown_html(visible(obj, keep=JOINER)))))
    elif hasattr(obj, "to_dict"):
        import warnings

        from sweepsight.reports.render import show

        with warnings.catch_warnings():
            # one selection shared by several views is intended (the significance view)
            warnings.simplefilter("ignore", UserWarning)
            ipy_display(show(spec_without_bidi(obj.to_dict(validate=False))))
    else:
        ipy_display(obj)
