"""The valuation model as concept modules (docs/model.md).

One module per concept, each a few small jitted step functions:

- :mod:`.revenue` -- growth (Ornstein-Uhlenbeck on ln(1 + g), linear fade), churn, revenue shock (section 1)
- :mod:`.margin` -- linear, exponential and cost-structure margins, AR(1) noise, the cap (section 2)
- :mod:`.cashflow` -- taxes with an NOL, reinvestment by sales-to-capital, FCFF (sections 3, 4)
- :mod:`.discounting` -- the WACC fade, discount factors, mid-year convention (section 5)
- :mod:`.terminal` -- Gordon growth with g / ROC reinvestment, exit multiple (section 6)
- :mod:`.multiple` -- EV/Sales as a decaying log premium over a growth-linked anchor (section 7)
- :mod:`.financing` -- cash, SBC dilution, equity raised at the simulated price, failure (section 8)
- :mod:`.lenses` -- the equity bridge and the two lenses (section 9)
- :mod:`.kernel` -- :func:`~.kernel.simulate_block`, the loop over paths and steps that calls them
- :mod:`.layout` -- the kernel's slot numbers, generated from :mod:`engine.variables`
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
#: The sources the compiled model depends on: this package, the registry (slot numbers) and the numba settings.
_SOURCES = sorted(_HERE.glob("*.py")) + [_HERE.parent / "variables.py", _HERE.parent / "_jit.py"]


@functools.lru_cache(maxsize=None)
def _model_stamp() -> str:
    """sha256 of every source the compiled model depends on."""
    h = hashlib.sha256()
    for p in _SOURCES:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _register_model_cache_stamp() -> None:
    """Key numba's on-disk cache of the model's functions on all the model's sources.

    numba's cache (``cache=True``) is keyed on the source of the file that defines
    a function only, but the kernel compiles in the step functions of the concept
    modules and the slot numbers of the registry: after an edit of ``margin.py``
    a cached kernel would run the old margin. The locators registered here (numba's
    own in-tree, user-wide and ``NUMBA_CACHE_DIR`` locators, restricted to this
    package) stamp each cached function of ``engine.model`` with a hash of every
    source it depends on, so any edit recompiles the model once. Runs before the
    concept modules are compiled (they are imported after this package).
    """
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover
        return

    def stamped(base):
        class _ModelLocator(base):
            @classmethod
            def from_function(cls, py_func, py_file):
                if Path(py_file).resolve().parent != _HERE:
                    return None
                return super().from_function(py_func, py_file)

            def get_source_stamp(self):
                return _model_stamp()

        _ModelLocator.__name__ = f"_Model{base.__name__}"
        return _ModelLocator

    def find(name):  # numba >= 0.61 names them without the leading underscore
        return getattr(caching, name, None) or getattr(caching, "_" + name, None)

    bases = [find(n) for n in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")]
    locators = getattr(find("CacheImpl"), "_locator_classes", None)
    if locators is None or None in bases or any(c.__name__.startswith("_Model") for c in locators):
        return
    locators[0:0] = [stamped(b) for b in bases]


_register_model_cache_stamp()
