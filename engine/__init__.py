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

Importing the package compiles nothing and imports nothing heavy: each name of the API
is imported on first use (PEP 562, module ``__getattr__``), so ``import engine.cli``
(``pricedin --version``) does not load numpy, numba, xarray, scipy or matplotlib.
Kernels compile (or load from the numba cache) on the first simulation.
"""

from __future__ import annotations

import sys as _sys
import types as _types

#: Each name of the notebook API -> (module, attribute); imported on first access.
_API = {
    "Config": ("config", "Config"),
    "ConfigError": ("config", "ConfigError"),
    "config_from_dict": ("config", "config_from_dict"),
    "load_config": ("config", "load_config"),
    "MemoryLimitError": ("simulate", "MemoryLimitError"),
    "simulate_arrays": ("simulate", "simulate_arrays"),
    "open_results": ("summary", "open_results"),
    "proportion": ("summary", "proportion"),
    "save_results": ("summary", "save_results"),
    "summary_dict": ("summary", "summary_dict"),
    "summarize": ("summary", "summary_dataset"),
    "load_scenarios": ("stress", "load_scenarios"),
    "reverse_stress": ("stress", "reverse_stress"),
    "run_stress": ("stress", "run_stress"),
    "global_sensitivity": ("sensitivity", "global_sensitivity"),
    "sensitivity": ("sensitivity", "sensitivity"),
    "tornado": ("sensitivity", "tornado"),
    "implied": ("implied", "implied"),
    "run_to_target": ("convergence", "run_to_target"),
    "InputError": ("errors", "InputError"),
    "InternalError": ("errors", "InternalError"),
    "PricedinError": ("errors", "PricedinError"),
    "plot": ("views.figures", None),
}

#: API functions that share their name with a submodule: the function stays the package's attribute.
_SHADOWED = frozenset({"simulate", "implied", "sensitivity"})

__all__ = ["__version__", "simulate", *sorted(_API, key=str.lower)]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pricedin")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def _simulate_wrapper():
    import functools
    import os

    from .config import load_config
    from .simulate import simulate as _simulate

    @functools.wraps(_simulate)
    def simulate(config, *args, **kwargs):
        # a config file's path is loaded first (engine.simulate accepts a path or a Config)
        if isinstance(config, (str, os.PathLike)):
            config = load_config(config)
        return _simulate(config, *args, **kwargs)

    return simulate


def __getattr__(name: str):
    """Import a name of the API on first access (PEP 562) and keep it as a package attribute."""
    import importlib

    if name == "__version__":
        value = _version()
    elif name == "simulate":
        value = _simulate_wrapper()
    elif name in _API:
        module, attr = _API[name]
        mod = importlib.import_module(f".{module}", __name__)
        value = mod if attr is None else getattr(mod, attr)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """The package's module type: importing the submodule ``engine.simulate`` (or ``implied``,
    ``sensitivity``) does not replace the API function of the same name on the package."""

    def __setattr__(self, name, value):
        if name in _SHADOWED and isinstance(value, _types.ModuleType):
            return  # the import system binds a loaded submodule to its parent; the function wins
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
