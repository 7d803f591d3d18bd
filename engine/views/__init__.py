"""Views of pricedin's results: number formatting, rich tables, figures, the HTML page.

Nothing here computes a result; every view reads a Dataset or a report dict that the
library returned. The package imports without click, so a notebook uses it directly:

* :mod:`engine.views.format` -- money, percentages, probabilities, multiples;
* :mod:`engine.views.tables` -- the rich tables the ``pricedin`` command prints;
* :mod:`engine.views.figures` -- matplotlib figures (also ``engine.plot``);
* :mod:`engine.views.html` -- the self-contained HTML report page.
"""

from . import figures, format, html, progress, tables  # noqa: F401

__all__ = ["figures", "format", "html", "progress", "tables"]
