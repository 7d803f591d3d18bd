"""pricedin: a Monte Carlo risk engine for equity valuation.

The public API::

    from engine import load_config, simulate, summarize
    cfg = load_config("configs/zhipu.toml")
    ds = simulate(cfg, paths=100_000)        # xarray.Dataset, dims (path, ...)
    report = summarize(ds)                   # dict: quantiles, P(justified), ...

Importing the package compiles nothing: kernels compile (or load from the numba
cache) on the first simulation.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("pricedin")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .config import Config, ConfigError, config_from_dict, load_config  # noqa: E402
from .simulate import MemoryLimitError, simulate  # noqa: E402
from .summary import open_results, proportion, save_results, summarize  # noqa: E402
from .stress import load_scenarios, reverse_stress, run_stress  # noqa: E402

__all__ = [
    "__version__",
    "Config",
    "ConfigError",
    "MemoryLimitError",
    "config_from_dict",
    "load_config",
    "load_scenarios",
    "open_results",
    "proportion",
    "reverse_stress",
    "run_stress",
    "save_results",
    "simulate",
    "summarize",
]
