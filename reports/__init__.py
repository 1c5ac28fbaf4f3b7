"""The report: ``python -m reports`` loads a sweep, analyses it once and builds a static site.

Pages are papermill notebooks (``reports/pages/*.ipynb``) executed with the pickled
:class:`analysis.Analysis`; charts come from :mod:`reports.charts` and are displayed with
:func:`reports.render.show`, which embeds them with the site's own Vega bundle (no CDN).
"""
