"""Tables as escaped HTML, and one ``display`` for everything a page shows."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isfinite(v) and float(v).is_integer() and abs(v) < 1e15:
            return str(int(v))  # counts (runs per configuration) as integers, not 6.667e+04
        return "" if np.isnan(v) else f"{v:.4g}"
    return html.escape("" if v is None else str(v))


def html_table(frame: pd.DataFrame, *, max_rows: int = 200, caption: str = "") -> str:
    """``frame`` as an HTML table (every cell escaped, floats to 4 significant digits), at most
    ``max_rows`` rows with a line saying how many were left out."""
    if frame is None or len(frame) == 0:
        return "<p><em>(none)</em></p>"
    shown = frame.head(max_rows)
    out = ['<table class="sweepsight-table">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
               + "</tr></thead><tbody>")
    for row in shown.itertuples(index=False):
        out.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
    out.append("</tbody></table>")
    if len(frame) > max_rows:
        out.append(f"<p><em>{len(frame) - max_rows:,} more rows not shown.</em></p>")
    return "\n".join(out)


def display(obj) -> None:
    """Show ``obj`` in a page notebook: ``None`` shows nothing, ``str`` is Markdown (escape
    run-derived parts first), a DataFrame becomes an HTML table, an Altair chart is embedded
    with the site's own Vega bundle (``reports.render.show``)."""
    from IPython.display import HTML, Markdown
    from IPython.display import display as ipy_display

    if obj is None:
        return
    if isinstance(obj, pd.DataFrame):
        ipy_display(HTML(html_table(obj)))
    elif isinstance(obj, str):
        ipy_display(HTML(obj) if obj.lstrip().startswith("<") else Markdown(obj))
    elif hasattr(obj, "to_dict"):
        import warnings

        from sweepsight.reports.render import show

        with warnings.catch_warnings():
            # one selection shared by several views is intended (the significance view)
            warnings.simplefilter("ignore", UserWarning)
            ipy_display(show(obj))
    else:
        ipy_display(obj)
