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

import os
from pathlib import Path


def _invalidate_stale_kernel_cache() -> None:
    """Make numba recompile the kernel when a module it inlines has changed.

    numba's on-disk cache (``cache=True``) checks only the modification time of
    the file that defines a function, but the kernel compiles in the step functions
    of the concept modules and the slot numbers of the registry. So when one of
    those is newer than ``kernel.py``, ``kernel.py``'s time is moved forward to it,
    which makes numba's cache miss once. An installed, read-only copy is left as
    it is (its files do not change).
    """
    here = Path(__file__).resolve().parent
    kernel = here / "kernel.py"
    deps = [p for p in here.glob("*.py") if p.name != "kernel.py"] + [here.parent / "variables.py"]
    try:
        newest = max(p.stat().st_mtime for p in deps)
        if newest > kernel.stat().st_mtime:
            os.utime(kernel, (newest, newest))
    except OSError:  # pragma: no cover - read-only install
        pass


_invalidate_stale_kernel_cache()
