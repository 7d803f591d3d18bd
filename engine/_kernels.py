"""Compatibility re-export: the path kernel now lives in :mod:`engine.model`.

``simulate_block`` and ``draw_normals`` are in :mod:`engine.model.kernel`, the step
functions in the concept modules of :mod:`engine.model`, and the slot constants
(``P_*``, ``S_*``, ``O_*``, ``L_*``, ``K_*``, ``I_*``, ``F_*``, ``SH_*``, ``SS_*``) in
:mod:`engine.model.layout`, generated from the registry :mod:`engine.variables`.
"""

from __future__ import annotations

from .model.discounting import wacc_at  # noqa: F401
from .model.kernel import draw_normals, simulate_block  # noqa: F401
from .model.layout import *  # noqa: F401,F403
from .model.margin import ar1_step_scale  # noqa: F401
from .model.revenue import decaying_volatility  # noqa: F401
from .model.terminal import gordon_terminal_value  # noqa: F401
