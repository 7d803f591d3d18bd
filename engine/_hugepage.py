"""numpy's transparent-huge-page advice, turned off while the engine allocates its per-path arrays."""

from __future__ import annotations

import threading

__all__ = ["no_hugepage_advice"]

_LOCK = threading.Lock()
_DEPTH = 0  # contexts inside now, in all threads
_SAVED = True  # numpy's setting before the first of them


class no_hugepage_advice:
    """Context: numpy's ``madvise(MADV_HUGEPAGE)`` on new large arrays off, the previous setting restored after.

    numpy (>= 1.20 on Linux) advises the kernel to back every allocation of 4 MiB and
    more with transparent huge pages. Where the kernel has none to give (``AnonHugePages:
    0 kB``, THP ``defrag = madvise``) each page fault first tries to compact memory:
    measured on a 2-core VM, about 2 ms per MB of first touch, most of a large run's
    non-kernel time. The engine's per-path arrays are written once, in order, and read
    once, where huge pages save little; so the engine turns the advice off while it
    allocates them. The setting is process-wide (numpy's
    ``numpy._core.multiarray._set_madvise_hugepage``): arrays other threads allocate
    meanwhile get no advice either, which changes no value. Contexts that overlap (threads
    entering and leaving in any order) share one count: the first saves numpy's setting and
    the last restores it. A numpy without the switch,
    or ``NUMPY_MADVISE_HUGEPAGE`` set in the environment (the user's choice), leaves
    numpy's setting alone.
    """

    def __enter__(self):
        import os

        self._set = None
        if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
            return self
        try:
            from numpy._core.multiarray import _set_madvise_hugepage
        except ImportError:  # pragma: no cover - numpy < 2
            try:
                from numpy.core.multiarray import _set_madvise_hugepage
            except ImportError:
                return self
        self._set = _set_madvise_hugepage
        with _LOCK:  # the first of overlapping contexts (any threads, any order) saves, the last restores
            global _DEPTH, _SAVED
            if _DEPTH == 0:
                _SAVED = bool(_set_madvise_hugepage(False))
            _DEPTH += 1
        return self

    def __exit__(self, *exc):
        if self._set is not None:
            with _LOCK:
                global _DEPTH
                _DEPTH -= 1
                if _DEPTH == 0:
                    self._set(_SAVED)
            self._set = None
        return False
