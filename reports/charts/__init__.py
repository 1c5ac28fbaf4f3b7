"""Charts of the report, built from analysis results only (see DESIGN.md).

Every chart is two steps: a pure ``_<chart>_data(analysis, ...)`` returning a small table
(tested for real numbers) and a function that only draws it with Altair. No chart embeds more
than :data:`MAX_ROWS` rows. :func:`display` shows any of them in a page notebook.
"""
from __future__ import annotations

from sweepsight.reports.charts import marginal
from sweepsight.reports.charts._common import MAX_ROWS
from sweepsight.reports.charts.comparison import comparison_chart
from sweepsight.reports.charts.importance import (importance_chart, interactions_chart,
                                       metric_vs_params_chart)
from sweepsight.reports.charts.models import coefficient_chart, correlation_chart
from sweepsight.reports.charts.overview import parallel_coordinates
from sweepsight.reports.charts.significance import significance_table_html, significance_walk
from sweepsight.reports.charts.tables import display, html_table

__all__ = ["MAX_ROWS", "coefficient_chart", "comparison_chart", "correlation_chart", "display",
           "html_table",
           "importance_chart", "interactions_chart", "marginal", "metric_vs_params_chart",
           "parallel_coordinates", "significance_table_html", "significance_walk"]
