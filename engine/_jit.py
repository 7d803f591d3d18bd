"""The one place for numba settings.

Every kernel is compiled with the project defaults: nopython, ``nogil`` (blocks run
on threads), ``cache=True`` (compiled code is kept on disk, so only the first run
compiles) and ``fastmath=False`` (results must be bit-reproducible). Set
``NUMBA_DISABLE_JIT=1`` to run the same kernels as plain Python (slow; used by the
tests that check the compiled and interpreted kernels agree).
"""

from __future__ import annotations

import numba

__all__ = ["jit"]


def jit(func=None, **overrides):
    """Compile ``func`` with the project's numba defaults (see module docstring)."""
    opts = dict(nopython=True, nogil=True, cache=True, fastmath=False, error_model="numpy")
    opts.update(overrides)
    if func is None:
        return lambda f: numba.jit(**opts)(f)
    return numba.jit(**opts)(func)
