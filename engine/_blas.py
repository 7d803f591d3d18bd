"""One BLAS thread while the engine's blocks run: the copula's small matrix product spawns no threads."""

from __future__ import annotations

import threading

__all__ = ["one_blas_thread"]

_LOCK = threading.Lock()
_DEPTH = 0  # contexts inside now, in all threads
_LIMITER = None  # threadpoolctl's limiter of the first of them (restores the previous limits)


class one_blas_thread:
    """Context: the BLAS libraries loaded in this process (OpenBLAS, MKL, BLIS) on one thread, restored after.

    Each block's Gaussian copula multiplies its (paths, k) normal scores by the k x k
    Cholesky factor (:func:`engine.sampling.correlate_uniforms`): numpy hands that to BLAS,
    and OpenBLAS splits it over all cores, while the engine already runs one block per
    core. The extra threads only wait on each other: measured on a 2-core machine,
    configs/zhipu.toml at 1,000,000 paths on 2 threads took 3.4-4.5 s against 2.0-2.1 s
    with one BLAS thread (the parameter draws' CPU time 2.0 s against 1.2 s per million
    paths). The product's values do not change: OpenBLAS splits the output's rows and
    columns over threads, never the sum over k, and tests/test_golden.py holds the bits.
    The limit is process-wide (``threadpoolctl``, Varoquaux et al.): BLAS calls of other
    threads meanwhile run on one thread too. Contexts that overlap (threads entering and
    leaving in any order) share one count: the first sets the limit and the last restores
    the previous one. A limit set from the calling thread holds for the blocks' worker threads
    (measured: the copula's product of 65,536 x 20 by 20 x 20 in a worker thread, 4 ms on one
    BLAS thread against 11 ms on two). Without ``threadpoolctl`` importable nothing is changed.
    """

    def __enter__(self):
        global _DEPTH, _LIMITER
        with _LOCK:
            if _DEPTH == 0:
                _LIMITER = _limit()
            _DEPTH += 1
        return self

    def __exit__(self, *exc):
        global _DEPTH, _LIMITER
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0 and _LIMITER is not None:
                _LIMITER.restore_original_limits()
                _LIMITER = None
        return False


def _limit():
    """threadpoolctl's limiter with every BLAS library at one thread, or None without threadpoolctl.

    A new controller each time (under 1 ms): it lists the libraries loaded now, scipy's own BLAS included
    once scipy.linalg is imported.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency; its absence only costs speed
        return None
    return ThreadpoolController().limit(limits=1, user_api="blas")
