"""Kernel slot numbers, generated from the registry (:mod:`engine.variables`).

Each constant is the position of its spec in a registry list: ``P_*`` in
``GLOBAL_INPUTS`` (theta columns), ``S_*`` in ``SEGMENT_INPUTS`` (column
``NG + k * NS + S_*`` of segment ``k``), ``O_*`` / ``L_*`` / ``K_*`` / ``Y_*`` the rows of the
kernel's float outputs, flags, kept (path, time) and observed (path, year) variables, ``I_*`` / ``F_*``
the integer and float options, ``SH_*`` / ``SS_*`` the scenario-shock columns
(``NSH + k * NSS + SS_*`` for segment ``k``). ``NG``, ``NS``, ``NO``, ``NL``,
``NK``, ``NY``, ``NI``, ``NF``, ``NSH``, ``NSS`` are the counts.

They are plain module-level ints: the kernel modules import them by name, and
numba freezes a global int into the compiled code as a constant.
"""

from __future__ import annotations

from .. import variables as _v


def _number(specs) -> dict:
    return {s.slot: i for i, s in enumerate(specs)}


SLOTS: dict = {}
for _specs, _count in (
    (_v.GLOBAL_INPUTS, "NG"),
    (_v.SEGMENT_INPUTS, "NS"),
    (_v.OUTPUT_VARIABLES, "NO"),
    (_v.FLAG_VARIABLES, "NL"),
    (_v.STEP_VARIABLES, "NK"),
    (_v.YEAR_VARIABLES, "NY"),
    (_v.INT_OPTIONS, "NI"),
    (_v.FLOAT_OPTIONS, "NF"),
    (_v.SCENARIO_SHOCKS, "NSH"),
    (_v.SEGMENT_SHOCKS, "NSS"),
):
    _n = _number(_specs)
    if len(_n) != len(_specs):  # pragma: no cover - a registry typo
        raise ImportError(f"duplicate kernel slot among the {_count} slots of engine.variables")
    SLOTS.update(_n)
    SLOTS[_count] = len(_specs)
globals().update(SLOTS)

__all__ = sorted(SLOTS)
