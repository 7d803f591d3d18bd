"""Views of pricedin's results: number formatting, rich tables, figures, the HTML page.

Nothing here computes a result; every view reads a Dataset or a report dict that the
library returned. The package imports without click, so a notebook uses it directly:

* :mod:`engine.views.format` -- money, percentages, probabilities, multiples;
* :mod:`engine.views.tables` -- the rich tables the ``pricedin`` command prints;
* :mod:`engine.views.figures` -- matplotlib figures (also ``engine.plot``);
* :mod:`engine.views.html` -- the self-contained HTML report page.

Each submodule is imported on first use (PEP 562), so the command line's tables do not
load matplotlib.
"""

__all__ = ["figures", "format", "html", "progress", "tables"]


def __getattr__(name: str):
    if name in __all__:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
