"""pricedin: a Monte Carlo risk engine for equity valuation.

The notebook API (see docs/api.md)::

    import engine
    ds = engine.simulate("configs/zhipu.toml", paths=100_000)  # xarray.Dataset, dims (path, ...)
    s = engine.summarize(ds)              # xarray.Dataset: dims quantile, lens
    engine.plot.hist(ds)                  # matplotlib Figure
    st = engine.run_stress(cfg, engine.load_scenarios("configs/stress/zhipu.toml"))
    st.dataset()                          # xarray.Dataset with a scenario dim

``engine.simulate``, ``engine.implied`` and ``engine.sensitivity`` are the functions;
they shadow the modules of the same names as attributes of the package (import those
as ``importlib.import_module("engine.simulate")`` or ``from engine.simulate import ...``).

Importing the package compiles nothing: kernels compile (or load from the numba
cache) on the first simulation.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("pricedin")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

import functools as _functools  # noqa: E402
import os as _os  # noqa: E402

from .config import Config, ConfigError, config_from_dict, load_config  # noqa: E402
from .simulate import MemoryLimitError, simulate as _simulate  # noqa: E402
from .summary import open_results, proportion, save_results, summary_dict  # noqa: E402
from .summary import summary_dataset as summarize  # noqa: E402
from .stress import load_scenarios, reverse_stress, run_stress  # noqa: E402
from .sensitivity import global_sensitivity, sensitivity, tornado  # noqa: E402
from .implied import implied  # noqa: E402
from .convergence import run_to_target  # noqa: E402
from .errors import InputError, InternalError, PricedinError  # noqa: E402
from .views import figures as plot  # noqa: E402


@_functools.wraps(_simulate)
def simulate(config, *args, **kwargs):
    # a config file's path is loaded first (engine.simulate accepts a path or a Config)
    if isinstance(config, (str, _os.PathLike)):
        config = load_config(config)
    return _simulate(config, *args, **kwargs)


__all__ = [
    "__version__",
    "Config",
    "ConfigError",
    "InputError",
    "InternalError",
    "MemoryLimitError",
    "PricedinError",
    "config_from_dict",
    "global_sensitivity",
    "implied",
    "load_config",
    "load_scenarios",
    "open_results",
    "plot",
    "proportion",
    "reverse_stress",
    "run_stress",
    "run_to_target",
    "save_results",
    "sensitivity",
    "simulate",
    "summarize",
    "summary_dict",
    "tornado",
]
