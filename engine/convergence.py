"""Run to a precision target: more paths until the standard error of P(justified, DCF) is small enough."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .errors import InputError

__all__ = ["run_to_target"]


def run_to_target(config, target_se: Optional[float] = None, target_rse: Optional[float] = None,
                  paths: Optional[int] = None, max_paths: int = 10_000_000, **simulate_kwargs):
    """Simulate, then re-simulate with more whole blocks until P(justified, DCF) is precise enough.

    The path count starts at ``paths`` (default: one block) and doubles (rounded up to
    whole blocks for Latin hypercube and Sobol sampling, whose blocks are designs)
    until the target is met or ``max_paths`` is reached. By the seed contract a run
    of P paths is the prefix of any longer run with the same seed, so the result is
    bit-identical to a plain ``engine.simulate(config, paths=record["paths"])``.

    Parameters
    ----------
    config : Config
        A validated config (:func:`engine.load_config`).
    target_se : float, optional
        Stop once the standard error sqrt(p (1 - p) / P) of P(justified, DCF) is at
        most this (a probability, e.g. 0.005).
    target_rse : float, optional
        Stop once SE / p is at most this (relative; infinite while p = 0).
        With both targets, both must be met.
    paths : int, optional
        First path count (default: ``simulation.block_size``).
    max_paths : int
        Upper limit on paths; the record says whether the target was met.
    **simulate_kwargs
        Passed to :func:`engine.simulate` (``seed``, ``threads``, ``keep_paths``,
        ``memory_limit``, ``progress``, ``command``).

    Returns
    -------
    ds : xarray.Dataset
        The last run (dim ``path``, ``record["paths"]`` paths).
    record : dict
        ``target_se``, ``target_rse`` (as given), ``paths`` (of the last run),
        ``se``, ``rse`` (reached; ``se`` is the Wilson half-width / 1.96 when no path or
        every path is justified, where the binomial SE is undefined), ``met`` (bool), ``max_paths``.

    Raises
    ------
    engine.errors.InputError
        Neither target given, a target not > 0, or ``paths`` / ``max_paths`` < 1.
    """
    from .simulate import simulate
    from .summary import proportion

    if target_se is None and target_rse is None:
        raise InputError("run_to_target needs `target_se` or `target_rse` (e.g. target_se=0.005)")
    for name, x in (("target_se", target_se), ("target_rse", target_rse)):
        if x is not None and not x > 0:
            raise InputError(f"`{name}` = {x!r}: give a positive number (e.g. 0.005)")
    if max_paths < 1 or (paths is not None and paths < 1):
        raise InputError(f"`paths` = {paths!r}, `max_paths` = {max_paths!r}: give positive path counts")
    B = config.simulation.block_size
    n = min(int(paths or B), max_paths)
    while True:
        ds = simulate(config, paths=n, **simulate_kwargs)
        pr = proportion(int(np.count_nonzero(ds["justified_dcf"].values)), n)
        se, p = pr["se"], pr["estimate"]
        if not se == se:  # 0 or all paths justified: the binomial SE is undefined; the Wilson half-width / 1.96
            se = pr["wilson_half_width"] / 1.959963984540054
        rse = se / p if p > 0 else float("inf")
        met = (target_se is None or se <= target_se) and (target_rse is None or rse <= target_rse)
        if met or n >= max_paths:
            break
        if config.simulation.sampling.value == "random":
            n = min(max_paths, 2 * n)  # plain random draws: any P is a prefix of a longer run
        else:
            n = min(max_paths, max(n + B, -(-2 * n // B) * B))  # LHS / Sobol: whole blocks only
    return ds, {"target_se": target_se, "target_rse": target_rse, "paths": int(n), "se": se,
                "rse": rse, "met": bool(met), "max_paths": int(max_paths)}
