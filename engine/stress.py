"""Stress scenarios run with common random numbers, and reverse stress tests.

A scenario file (TOML, ``configs/stress/<config stem>.toml``) lists named
scenarios; each overlays the base config with any of

* ``set``: replace inputs by key path (a number or a distribution table);
* ``shift`` / ``scale``: add to or multiply inputs, distributions included
  (:meth:`engine.distributions.DistributionSpec.shifted` / ``scaled``);
* ``shock``: one-off or multi-year shocks to a process in given years
  (growth, churn, margin, multiple, cost of capital) or to the FX rate;
* ``band``: restrict a drawn input to a percentile band of its own
  distribution (@RISK's "stress analysis" ranges) by resampling only that
  input inside the band;
* ``funding_closed``: years in which no equity can be raised.

Every scenario reuses the base run's random numbers (same seed, same blocks,
same uniforms for each input, same per-step shocks), so the paired difference
between a scenario and the base on each path is the scenario's effect and not
sampling noise; a scenario that changes nothing has a delta of exactly 0.

Order of the overlays: ``set``, then ``shift``, then ``scale``, then the
``fx`` shocks and ``funding_closed``; the result is validated like any config
(bounds included), so a scenario cannot produce an invalid model.

Common random numbers in detail: the base config's drawn inputs get their
(copula-coupled) uniforms exactly as in ``simulate``; a scenario maps the same
uniform of each input through its own (possibly changed) distribution. An input
that is fixed in the base but drawn in a scenario takes its uniform from a
separate stream of the block (:data:`STREAM_EXTRA`), so no other input's draw
moves. The kernel draws a fixed number of shocks per step whatever happens on a
path, so the per-step shocks are common too.
"""

from __future__ import annotations

import copy
import difflib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import _kernels as K
from ._stats import mean_sd
from .config import EXTREME_GROWTH, Config, ConfigError, Int, _show, config_from_dict, format_validation_error
from .distributions import parse_number, parse_param
from .sampling import block_seed, draw_uniforms
from .simulate import ParameterTable, _Plan, base_shock, simulate
from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "StressError",
    "Shock",
    "Scenario",
    "ScenarioFile",
    "PreparedScenario",
    "StressResult",
    "load_scenarios",
    "scenarios_from_dict",
    "default_scenario_file",
    "prepare_scenario",
    "run_stress",
    "paired_delta",
    "reverse_stress",
    "crossings",
    "HEADLINE_INPUTS",
    "STREAM_EXTRA",
]

#: Stream (within each block) of the uniforms for inputs drawn in a scenario but
#: fixed in the base config (streams 0 and 1 are the parameters and the shocks).
STREAM_EXTRA: int = 2

#: Key prefixes a scenario may not change: they define the run itself (paths,
#: seed, blocks, horizon) or the dependence structure, and changing them would
#: break the common random numbers.
_FORBIDDEN_PREFIXES = ("simulation.", "correlations.")

_Z95 = 1.959963984540054


class StressError(InputError):
    """A scenario that cannot run: the message names the scenario, the key, the value and the fix."""


# --------------------------------------------------------------------------- models


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _is_distribution_table(v: Any) -> bool:
    return isinstance(v, dict) and ("kind" in v or (v and set(v) <= {"p5", "p95"}))


def _flatten_keys(v: Any, prefix: str = "") -> Any:
    """``{"margin": {"target": x}}`` (TOML dotted keys) -> ``{"margin.target": x}``; distributions stay tables."""
    if not isinstance(v, dict):
        return v
    out: dict[str, Any] = {}
    for k, x in v.items():
        key = f"{prefix}{k}"
        if isinstance(x, dict) and not _is_distribution_table(x):
            out.update(_flatten_keys(x, key + "."))
        else:
            out[key] = x
    return out


_PROCESSES = ("growth", "churn", "margin", "multiple", "wacc", "fx")


class Shock(_Base):
    """A shock to a process in given years (1..horizon_years).

    ``process``:

    * ``growth``: ``add`` to the segment's gross growth rate (``-0.40`` is -40
      percentage points) in each step of the years;
    * ``churn``: ``set`` the segment's churn (``0.20``) in those years;
    * ``margin``: ``add`` to the operating margin (``-0.10``);
    * ``multiple``: multiply the EV/Sales multiple by ``factor`` (``0.5`` is
      -50%) in those years;
    * ``wacc``: ``add`` to the cost of capital (``0.02``) in those years;
    * ``fx``: multiply ``company.fx_rate`` by ``factor`` (``0.9``: the
      reporting currency weakens 10%); it applies at the valuation date, so
      it takes no years.

    ``segment`` names the segment of a growth or churn shock (default: every
    segment). Years are ``years = [2, 3]`` or ``from_year = 1`` (optionally
    with ``to_year``; default: to the horizon).
    """

    process: Literal["growth", "churn", "margin", "multiple", "wacc", "fx"]
    segment: Optional[str] = None
    years: Optional[list[Int]] = None
    from_year: Optional[Int] = None
    to_year: Optional[Int] = None
    add: Optional[float] = None
    set: Optional[float] = None
    factor: Optional[float] = None

    @field_validator("add", "set", "factor", mode="before")
    @classmethod
    def _number(cls, v):
        if v is None:
            return v
        if isinstance(v, bool):
            raise InputError(f"expected a number, got {v!r}")
        return parse_number(v)

    @model_validator(mode="after")
    def _check(self):
        p = self.process
        want = {"growth": "add", "churn": "set", "margin": "add", "multiple": "factor", "wacc": "add",
                "fx": "factor"}[p]
        given = [k for k in ("add", "set", "factor") if getattr(self, k) is not None]
        if given != [want]:
            example = {"add": "add = -0.10", "set": "set = 0.20", "factor": "factor = 0.5"}[want]
            raise InputError(
                f"a {p!r} shock takes `{want}` only (got {', '.join(given) or 'none'}); write e.g. {example}"
            )
        if p == "churn" and not 0.0 <= self.set <= 1.0:
            raise InputError(f"churn shock set = {self.set}: churn is a fraction in [0, 1] (0.20 for 20%)")
        if want == "factor" and not self.factor > 0.0:
            raise InputError(f"{p} shock factor = {self.factor} must be > 0 (0.5 halves it, 0.9 is -10%)")
        if self.segment is not None and p not in ("growth", "churn"):
            raise InputError(f"a {p!r} shock applies to the whole company; remove segment = {self.segment!r}")
        if p == "fx":
            if self.years is not None or self.from_year is not None or self.to_year is not None:
                raise InputError(
                    "an 'fx' shock rescales company.fx_rate at the valuation date; remove years/from_year/to_year"
                )
            return self
        if (self.years is None) == (self.from_year is None):
            raise InputError(
                f"a {p!r} shock needs exactly one of years = [2, 3] or from_year = 1 (optionally with to_year)"
            )
        if self.to_year is not None and self.from_year is None:
            raise InputError("to_year needs from_year")
        if self.from_year is not None and self.from_year < 1:
            raise InputError(f"from_year = {self.from_year}: years start at 1 (the first simulated year)")
        if self.to_year is not None and self.to_year < self.from_year:
            raise InputError(f"to_year = {self.to_year} is before from_year = {self.from_year}; "
                             "give to_year >= from_year (or years = [...])")
        if self.years is not None and not self.years:
            raise InputError("years = []: give at least one year (1 is the first simulated year)")
        return self

    def year_list(self, horizon: int) -> list[int]:
        """The shocked years, 1-based."""
        if self.years is not None:
            return sorted(set(self.years))
        end = self.to_year if self.to_year is not None else horizon
        return list(range(self.from_year, end + 1))

    def label(self) -> str:
        v = {"add": self.add, "set": self.set, "factor": self.factor}
        what = ", ".join(f"{k} = {x:g}" for k, x in v.items() if x is not None)
        seg = f" {self.segment}" if self.segment else ""
        return f"{self.process}{seg} ({what})"


class Scenario(_Base):
    """One named scenario: overlays on the base config (see the module docstring)."""

    name: str
    description: str
    set: dict[str, Any] = {}
    shift: dict[str, float] = {}
    scale: dict[str, float] = {}
    shock: list[Shock] = []
    band: dict[str, tuple[float, float]] = {}
    funding_closed: list[Int] = []

    @field_validator("set", mode="before")
    @classmethod
    def _flat(cls, v):
        return _flatten_keys(v)

    @field_validator("shift", "scale", mode="before")
    @classmethod
    def _nums(cls, v):
        v = _flatten_keys(v)
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if isinstance(x, bool) or not isinstance(x, (int, float, str)):
                    raise InputError(f"{k} = {x!r}: expected a number (shift: amount added; scale: factor)")
                out[k] = parse_number(x)
            return out
        return v

    @field_validator("band", mode="before")
    @classmethod
    def _band(cls, v):
        v = _flatten_keys(v)
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(x, (list, tuple)) or len(x) != 2:
                    raise InputError(
                        f"band {k} = {x!r}: give [low, high] percentiles of the input's own distribution as "
                        "fractions, e.g. [0, 0.1] for its bottom decile"
                    )
                lo, hi = parse_number(x[0]), parse_number(x[1])
                if not 0.0 <= lo < hi <= 1.0:
                    raise InputError(
                        f"band {k} = [{lo:g}, {hi:g}]: need 0 <= low < high <= 1 (fractions: [0.9, 1] is the "
                        "top decile)"
                    )
                out[k] = (lo, hi)
            return out
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not v.strip() or v.strip().lower() == "base":
            raise InputError(f"scenario name {v!r}: give a non-empty name other than 'base'")
        return v.strip()


class ScenarioFile(_Base):
    """A scenario file: an optional ``title`` and ``config`` (the config it is written for) and the scenarios."""

    title: Optional[str] = None
    config: Optional[str] = None
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self):
        names = [s.name for s in self.scenarios]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"scenario names must be unique; repeated: {dup}")
        return self


def _format_errors(e: ValidationError, data: dict, where: str) -> str:
    """Scenario-file errors through the config's one formatter (:func:`engine.config.format_validation_error`)."""
    allowed = {
        "scenario": ", ".join(Scenario.model_fields),
        "shock": ", ".join(Shock.model_fields),
        "file": ", ".join(ScenarioFile.model_fields),
    }
    kinds: dict = {}

    def key_of(loc: tuple, data: Any) -> str:
        parts: list[str] = []
        node: Any = data
        kind = "file"
        for p in loc:
            if isinstance(p, int) and parts and parts[-1] in ("scenarios", "shock"):
                kind = "scenario" if parts[-1] == "scenarios" else "shock"
                name = node[p].get("name") if isinstance(node, list) and p < len(node) and isinstance(
                    node[p], dict) else None
                parts.append(repr(name) if name else f"[{p}]")
                node = node[p] if isinstance(node, list) and p < len(node) else {}
                continue
            if isinstance(p, str) and ("[" in p or p in ("function-after", "function-before")):
                continue
            parts.append(str(p))
            node = node.get(p, {}) if isinstance(node, dict) else {}
        key = ".".join(parts) or "scenarios"
        kinds[key] = (kind, parts)
        return key

    def extra_key(key: str) -> str:
        kind, parts = kinds.get(key, ("file", [key]))
        bad = parts[-1] if parts else "?"
        return f"unknown key {bad!r} in {'.'.join(parts[:-1]) or 'the file'}; a {kind} takes: {allowed[kind]}"

    msg = format_validation_error(e, data, header=f"invalid scenario file {where}:", key_of=key_of,
                                  extra_key=extra_key)
    return msg.replace("; add it (see the config reference in README)", "")


def scenarios_from_dict(data: dict, where: str = "") -> ScenarioFile:
    """Validate a scenario file given as a dict (the parsed TOML).

    Raises
    ------
    StressError
        Unknown keys, wrong types, duplicate names; the message names the key.
    """
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as e:
        raise StressError(_format_errors(e, data, where or "(dict)")) from None


def load_scenarios(path) -> ScenarioFile:
    """Load and validate a scenario file (TOML).

    Raises
    ------
    StressError
        Missing or unparseable file, or an invalid scenario (see :func:`scenarios_from_dict`).
    """
    p = Path(path)
    if not p.is_file():
        raise StressError(
            f"scenario file {str(p)!r} does not exist; give the path of a scenario TOML file (format: "
            "docs/stress.md)"
        )
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise StressError(f"{p}: not valid TOML: {e}") from None
    return scenarios_from_dict(data, str(p))


def default_scenario_file(config_path, cfg: Optional[Config] = None) -> Path:
    """The scenario file of a config.

    ``simulation.stress_scenarios`` (relative to the config file) when the config
    names one, else ``stress/<config stem>.toml`` next to the config (for
    ``configs/zhipu.toml``: ``configs/stress/zhipu.toml``).
    """
    cp = Path(config_path)
    named = cfg.simulation.stress_scenarios if cfg is not None else None
    if named:
        p = Path(named)
        return p if p.is_absolute() else cp.parent / p
    return cp.parent / "stress" / f"{cp.stem}.toml"


# --------------------------------------------------------------------------- overlays


def _locate(d: dict, key: str):
    """(container, last key) of ``key`` in a normalised config dict, or None if absent."""
    parts = key.split(".")
    node: Any = d
    i = 0
    while i < len(parts) - 1:
        p = parts[i]
        if isinstance(node, dict) and p in node:
            node = node[p]
            if isinstance(node, list) and p == "segments":
                i += 1
                if i >= len(parts) - 1:
                    return None
                seg = next((s for s in node if isinstance(s, dict) and s.get("name") == parts[i]), None)
                if seg is None:
                    return None
                node = seg
            i += 1
            continue
        return None
    if isinstance(node, dict) and parts[-1] in node:
        return node, parts[-1]
    return None


def _scalar_keys(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if k == "segments" and isinstance(v, list):
            for s in v:
                out += _scalar_keys({kk: vv for kk, vv in s.items() if kk != "name"}, f"segments.{s['name']}.")
        elif isinstance(v, dict) and not _is_distribution_table(v):
            out += _scalar_keys(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


def _spec_value(spec) -> Any:
    d = spec.to_dict()
    return d["value"] if d.get("kind") == "fixed" else d


def _fail(scen: str, what: str, key: str, msg: str) -> StressError:
    return StressError(f"scenario {scen!r}: {what} {key!r}: {msg}")


def _check_key(scen: str, what: str, key: str, d: dict, params: dict) -> None:
    if key.startswith(_FORBIDDEN_PREFIXES):
        raise _fail(scen, what, key, "the run settings and correlations cannot change in a scenario (the "
                    "scenarios share the base run's paths, seed, blocks and copula); remove it")
    parent, last = key.rsplit(".", 1) if "." in key else ("", key)
    model = _section_model(parent)
    is_field = model is not None and last in model[0].model_fields and last != "method"
    if (key in params or is_field) and _locate(d, key) is None:
        # an input of the model that the config's method does not read (absent from its normalised form)
        if what == "set" and _locate(d, parent + ".method") is not None:
            return  # may come with a change of method; the scenario's config is validated as a whole
        loc = _locate(d, parent + ".method")
        how = f"its {parent}.method does not use it" if loc is not None else "it is not used"
        raise _fail(scen, what, key, f"has no value in the base config ({how}), so there is nothing to {what}; "
                    f"to use it, `set` {parent}.method and the inputs that method needs in the same scenario")
    if key in params:
        return
    if _locate(d, key) is None or key.endswith(".name"):
        known = dict.fromkeys([k for k in params if _locate(d, k) is not None] + _scalar_keys(d))
        near = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else (
            "; key paths are those of `pricedin validate CONFIG`, e.g. "
            f"'segments.{(d.get('segments') or [{'name': 'NAME'}])[0].get('name')}.growth.today'")
        raise _fail(scen, what, key, "no such input in the base config" + hint)


def _apply(cfg: Config, scen: Scenario) -> tuple[Config, dict]:
    """The scenario's config and its bands ``{key: (lo, hi)}``."""
    d = copy.deepcopy(cfg.normalised_dict())
    params = {p.key: p.spec for p in cfg.parameters()}
    name = scen.name
    h = cfg.simulation.horizon_years

    for key, val in scen.set.items():
        _check_key(name, "set", key, d, params)
        loc = _locate(d, key)
        if loc is None:  # an input the base's method does not use: add it next to its method
            parent, last = _locate(d, key.rsplit(".", 1)[0] + ".method")[0], key.rsplit(".", 1)[1]
            loc = (parent, last)
        node, last = loc
        if key in params:
            try:
                parse_param(val)
            except ValueError as e:
                raise _fail(name, "set", key, f"{_show(val)} is not a number or a distribution: {e}") from None
        node[last] = val
    dropped = _drop_unused_after_method_change(d, scen.set)
    infos = {p.key: p for p in cfg.parameters()}
    for what, table in (("shift", scen.shift), ("scale", scen.scale)):
        for key, amount in table.items():
            if key in dropped:
                section = key.rsplit(".", 1)[0]
                raise _fail(name, what, key, f"the scenario sets {section}.method = "
                            f"{scen.set[section + '.method']!r}, which does not use it; drop this {what}")
            _check_key(name, what, key, d, params)
            b = infos[key].bounds if key in infos else None
            if what == "shift" and b is not None and b.rate and 1.0 <= abs(amount) <= 100.0 \
                    and _leaves_bounds(params[key], amount, b):
                # a rate shifted by "2" meaning 2 points: say so about the shift, not about the shifted spec
                raise _fail(name, what, key, f"{amount:+g} takes it outside {b.what}: rates are fractions and so "
                            f"are shifts of them; write {amount / 100:+g} for {amount:+g} percentage points")
            node, last = _locate(d, key)
            cur = node[last]
            if key in params or _is_distribution_table(cur) or isinstance(cur, (int, float)) and not isinstance(
                    cur, bool):
                try:
                    spec = parse_param(cur)
                    new = spec.shifted(amount) if what == "shift" else spec.scaled(amount)
                except ValueError as e:
                    msg = str(e).splitlines()[-1]
                    raise _fail(name, what, key, f"cannot {what} by {amount:g}: {msg}") from None
                node[last] = _spec_value(new)
            else:
                raise _fail(name, what, key, f"is {cur!r}, not a number or distribution; use set instead")
    for s in scen.shock:
        if s.process == "fx":
            d["company"]["fx_rate"] = d["company"]["fx_rate"] * s.factor
    if scen.funding_closed:
        bad = [y for y in scen.funding_closed if not 1 <= y <= h]
        if bad:
            raise StressError(
                f"scenario {name!r}: funding_closed = {bad}: years must lie in 1..simulation.horizon_years = {h}"
            )
        fin = d.setdefault("financing", {})
        fin["closed_years"] = sorted(set(fin.get("closed_years", [])) | set(scen.funding_closed))
    _drop_fixed_correlations(d, frozenset(dropped))
    try:
        new_cfg = config_from_dict(d)
    except ConfigError as e:
        raise StressError(f"scenario {name!r} makes the config invalid:\n  "
                          + str(e).replace("invalid config:\n  ", "")) from None

    new_params = {p.key: p.spec for p in new_cfg.parameters()}
    bands = {}
    for key, (lo, hi) in scen.band.items():
        _check_key(name, "band", key, d, new_params)
        if key not in new_params:
            raise _fail(name, "band", key, "a band needs a numeric input (a distribution)")
        if new_params[key].is_fixed:
            raise _fail(name, "band", key, f"is the fixed number {new_params[key].median():g}; a band restricts a "
                        "distribution to part of its range: give the input a distribution, or use set")
        bands[key] = (lo, hi)
    return new_cfg, bands


def _leaves_bounds(spec, amount: float, b) -> bool:
    """Whether ``spec`` shifted by ``amount`` has draws (1e-9 tails) outside the bounds ``b``."""
    try:
        lo, hi = spec.shifted(amount).bounds(1e-9)
    except ValueError:
        return True
    return lo < b.lo or (b.lo_open and lo <= b.lo) or hi > b.hi or (b.hi_open and hi >= b.hi)


def _section_model(section: str):
    """(pydantic model, method enum) of a config section that has a ``method``, or None."""
    from .config import Growth, GrowthMethod, Margin, MarginMethod, Terminal, TerminalMethod

    if section == "margin":
        return Margin, MarginMethod
    if section == "terminal":
        return Terminal, TerminalMethod
    if section.startswith("segments.") and section.endswith(".growth") and section.count(".") == 2:
        return Growth, GrowthMethod
    return None


def _drop_unused_after_method_change(d: dict, sets: dict) -> set:
    """A scenario that sets a section's ``method`` drops the base's keys the new method does not use.

    E.g. ``set = {"margin.method" = "exponential", "margin.half_life" = 2}`` on a
    linear-margin base removes ``margin.convergence_year``; keys the scenario sets
    itself are kept (and validated with the rest of the scenario's config).

    Returns
    -------
    set of str
        The key paths removed.
    """
    dropped = set()
    for key, val in sets.items():
        if not key.endswith(".method"):
            continue
        section = key[: -len(".method")]
        model = _section_model(section)
        if model is None:
            continue
        cls, enum = model
        try:
            unused = cls.model_construct(method=enum(val)).unused_fields()
        except ValueError:
            continue  # an unknown method: the scenario's config validation names it
        node = _locate(d, key)[0]
        for k in unused:
            if f"{section}.{k}" not in sets and k in node:
                node.pop(k)
                dropped.add(f"{section}.{k}")
    return dropped


def _drop_fixed_correlations(d: dict, dropped: frozenset = frozenset()) -> None:
    """Drop correlations of inputs a scenario made fixed or removed (only drawn inputs can be correlated)."""
    c = d.get("correlations")
    if not c:
        return

    def fixed(key):
        if key in dropped:
            return True
        loc = _locate(d, key)
        if loc is None:
            return False
        try:
            return parse_param(loc[0][loc[1]]).is_fixed
        except ValueError:
            return False

    if c.get("pairs"):
        c["pairs"] = [p for p in c["pairs"] if not (fixed(p[0]) or fixed(p[1]))]
    if c.get("inputs"):
        keep = [i for i, k in enumerate(c["inputs"]) if not fixed(k)]
        if len(keep) != len(c["inputs"]):
            m = c.get("matrix") or []
            c["inputs"] = [c["inputs"][i] for i in keep]
            c["matrix"] = [[m[i][j] for j in keep] for i in keep] if m else []


def _shock_table(cfg: Config, scen: Scenario) -> np.ndarray:
    table = base_shock(cfg)
    h = cfg.simulation.horizon_years
    spy = cfg.simulation.steps_per_year
    names = [s.name for s in cfg.segments]
    for i, s in enumerate(scen.shock, 1):
        if s.process == "fx":
            continue
        years = s.year_list(h)
        if s.from_year is not None and s.from_year > h:
            years = [s.from_year]
        bad = [y for y in years if not 1 <= y <= h]
        if bad:
            raise StressError(
                f"scenario {scen.name!r}: shock {i} ({s.label()}): year {bad[0]} is outside "
                f"1..simulation.horizon_years = {h}; year 1 is the first simulated year "
                f"({cfg.company.base_year + 1})"
            )
        if s.segment is not None and s.segment not in names:
            raise StressError(
                f"scenario {scen.name!r}: shock {i} ({s.label()}): segment {s.segment!r} is not in the config; "
                f"segments are {', '.join(repr(n) for n in names)}"
            )
        segs = [names.index(s.segment)] if s.segment is not None else list(range(len(names)))
        if s.process == "growth":
            _check_growth_shock(cfg, scen.name, i, s, segs)
        rows = np.concatenate([np.arange((y - 1) * spy, y * spy) for y in years])
        if s.process == "margin":
            table[rows, K.SH_MARGIN_ADD] += s.add
        elif s.process == "wacc":
            table[rows, K.SH_WACC_ADD] += s.add
        elif s.process == "multiple":
            table[rows, K.SH_MULT_LOG] += math.log(s.factor)
        else:
            for k in segs:
                base = K.NSH + k * K.NSS
                if s.process == "growth":
                    table[rows, base + K.SS_GROWTH_ADD] += s.add
                else:
                    table[rows, base + K.SS_CHURN_SET] = s.set
    return table


def _check_growth_shock(cfg: Config, scen: str, i: int, s: "Shock", segs: list) -> None:
    """Refuse a growth shock that takes gross growth to -100% or below, or adds over 100% a year unasked.

    Gross growth g > -1 (a segment cannot lose more than all its revenue to growth);
    the shock adds ``add`` to g, so the lowest shocked growth is the least of the
    segment's growth.today and growth.long_run draws (1e-9 tails) plus ``add``.
    """
    for k in segs:
        seg = cfg.segments[k]
        if seg.growth is None:  # a market-share segment: the shock moves the market's growth
            g_lo = seg.market.growth.bounds(1e-9)[0]
        else:
            g_lo = min(seg.growth.today.bounds(1e-9)[0], seg.growth.long_run.bounds(1e-9)[0])
        if g_lo + s.add <= -1.0:
            raise StressError(
                f"scenario {scen!r}: shock {i} ({s.label()}): add = {s.add:g} takes segments.{seg.name}'s gross "
                f"growth (lowest draw {g_lo:.4g}) to {g_lo + s.add:.4g}, at or below -100% a year, which is not a "
                f"growth rate; give add > {-1.0 - g_lo:.4g} (add = -0.40 is -40 percentage points)"
            )
    if s.add > EXTREME_GROWTH and not cfg.simulation.allow_extreme_growth:
        raise StressError(
            f"scenario {scen!r}: shock {i} ({s.label()}): add = {s.add:g} adds {s.add:.0%} a year to growth; "
            f"write {s.add / 100:g} for {s.add:g} percentage points, or set simulation.allow_extreme_growth = true "
            "in the config if it is real"
        )


@dataclass
class PreparedScenario:
    """A scenario ready to run: its validated config, shock table and bands (``{key: (lo, hi)}``)."""

    name: str
    description: str
    cfg: Config
    shock: np.ndarray
    bands: dict = field(default_factory=dict)


def prepare_scenario(cfg: Config, scen: Scenario) -> PreparedScenario:
    """Apply a scenario's overlays to ``cfg``.

    Parameters
    ----------
    cfg : Config
        The base config (with the run's paths and seed).
    scen : Scenario

    Returns
    -------
    PreparedScenario

    Raises
    ------
    StressError
        A key path missing from the base, a shock year outside the horizon, an
        unknown segment, or a stressed config that fails validation.
    """
    new_cfg, bands = _apply(cfg, scen)
    return PreparedScenario(scen.name, scen.description, new_cfg, _shock_table(new_cfg, scen), bands)


# --------------------------------------------------------------------------- common random numbers


class _Unit:
    """A stand-in spec whose quantile function is the identity: yields the copula's uniforms."""

    is_fixed = False

    @staticmethod
    def ppf(u):
        return np.asarray(u, dtype=np.float64)

    sample_ppf = ppf


def _sample_ppf(spec, u):
    """Map uniforms to draws exactly as :func:`engine.sampling.sample_parameters` does."""
    f = getattr(spec, "sample_ppf", None)
    return f(u) if f is not None else spec.ppf(u)


class _CommonDraws:
    """The base run's uniforms per block, mapped through each scenario's distributions."""

    def __init__(self, base_cfg: Config):
        self.cfg = base_cfg
        self.table = ParameterTable(base_cfg)
        self.plan = _Plan(base_cfg, self.table)
        self.plan.drawn_specs = [_Unit() for _ in self.table.drawn]
        self.pos = {c: j for j, c in enumerate(self.table.drawn)}

    def theta_fn(self, cfg: Config, bands: Optional[dict] = None) -> Callable[[int, int], tuple]:
        table = ParameterTable(cfg)
        if table.keys != self.table.keys:
            raise StressError("a scenario cannot change the segments or their base form (revenue / run_rate)")
        extra = [c for c in table.drawn if c not in self.pos]
        band_cols = {table.column(k): v for k, v in (bands or {}).items()}
        seed = self.cfg.simulation.seed
        method = self.cfg.simulation.sampling

        def fn(block: int, n: int):
            _, u = self.plan.theta(block, n)
            ue = draw_uniforms(n, len(extra), method, block_seed(seed, block, STREAM_EXTRA)) if extra else None
            theta = np.empty((n, len(table.specs)))
            theta[:] = table.base_row
            for col in table.drawn:
                uc = u[:, self.pos[col]] if col in self.pos else ue[:, extra.index(col)]
                if col in band_cols:
                    lo, hi = band_cols[col]
                    uc = lo + uc * (hi - lo)
                theta[:, col] = _sample_ppf(table.specs[col], uc)
            return theta, theta[:, table.drawn]

        return fn


def _with_run(cfg: Config, paths: Optional[int], seed: Optional[int]) -> Config:
    upd = {}
    if paths is not None:
        upd["paths"] = int(paths)
    if seed is not None:
        upd["seed"] = int(seed)
    if not upd:
        return cfg
    return cfg.with_inputs({f"simulation.{k}": v for k, v in upd.items()})


# --------------------------------------------------------------------------- statistics


def paired_delta(a, b) -> dict:
    """Mean of the per-path differences ``a - b`` with a 95% interval.

    Parameters
    ----------
    a, b : array_like, (path,)
        A scenario's and the base's per-path values (numbers or 0/1 indicators)
        on the same paths (common random numbers).

    Returns
    -------
    dict
        ``estimate`` = mean(d), ``se`` = sd(d) / sqrt(n) (ddof 1),
        ``ci95`` = [estimate - 1.96 se, estimate + 1.96 se]. When every
        difference is 0 the estimate is 0 and the interval exactly [0, 0].
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = d.size
    if n == 0:
        return {"estimate": float("nan"), "se": float("nan"), "ci95": [float("nan"), float("nan")]}
    if not np.any(d):
        return {"estimate": 0.0, "se": 0.0, "ci95": [0.0, 0.0]}
    m, sd = mean_sd(d)
    se = sd / math.sqrt(n)
    return {"estimate": m, "se": se, "ci95": [m - _Z95 * se, m + _Z95 * se]}


def _row(name: str, description: str, ds) -> dict:
    from .summary import summary_dict as summarize

    s = summarize(ds)
    return {
        "name": name,
        "description": description,
        "value_per_share": s["value_per_share"],
        "p_justified": s["p_justified"],
        "failed_share": s["failed_share"],
        "price_percentile": s["price_percentile"],
        "median_horizon_return": s["median_horizon_return"],
        "tv_clipped": s["tv_clipped"],
    }


def _delta(row: dict, base: dict, cols: dict, base_cols: dict) -> dict:
    dm = paired_delta(cols["value_per_share"], base_cols["value_per_share"])
    dj = paired_delta(cols["justified_dcf"], base_cols["justified_dcf"])
    dk = paired_delta(cols["justified_market"], base_cols["justified_market"])
    df = paired_delta(cols["failed"], base_cols["failed"])
    v, bv = row["value_per_share"], base["value_per_share"]
    return {
        "mean": dm["estimate"],
        "mean_se": dm["se"],
        "mean_ci95": dm["ci95"],
        "p5": v["p5"] - bv["p5"],
        "p50": v["p50"] - bv["p50"],
        "p95": v["p95"] - bv["p95"],
        "p_justified_dcf": dj["estimate"],
        "p_justified_dcf_se": dj["se"],
        "p_justified_dcf_ci95": dj["ci95"],
        "p_justified_market": dk["estimate"],
        "p_justified_market_se": dk["se"],
        "p_justified_market_ci95": dk["ci95"],
        "failed_share": df["estimate"],
        "failed_share_ci95": df["ci95"],
    }


_KEPT = ("value_per_share", "justified_dcf", "justified_market", "failed")


@dataclass
class StressResult:
    """The base run and every scenario, with paired deltas.

    Attributes
    ----------
    base : dict
        ``name, description, value_per_share {mean, sd, p1 ... p99},
        p_justified {dcf, market}, failed_share, ...`` of the base run.
    scenarios : list of dict
        The same for each scenario, plus ``delta`` (see :func:`paired_delta`).
    info : dict
        ``company, value_unit, price, paths, seed, block_size, sampling,
        horizon_years, scenario_file``.
    datasets : list of xarray.Dataset, optional
        Base then scenarios, kept when ``keep_datasets``.
    """

    base: dict
    scenarios: list
    info: dict
    datasets: Optional[list] = None
    configs: Optional[list] = None

    def to_dict(self) -> dict:
        """The ``--json`` report: ``{**info, "base": {...}, "scenarios": [...]}``."""
        return {**self.info, "common_random_numbers": True, "base": self.base, "scenarios": self.scenarios}

    def dataset(self):
        """One Dataset with a ``scenario`` dimension (``base`` first) over the per-path results.

        Per-path variables are stacked on ``(scenario, path)``; a drawn input
        (``param_*``) absent in some scenario (fixed there) is filled with its
        fixed value. Scenario descriptions and configs (TOML) are variables on
        ``scenario``.
        """
        import xarray as xr

        if not self.datasets:
            raise InputError("the per-path datasets were not kept: call run_stress with `keep_datasets=True` (the default)")
        names = ["base"] + [s["name"] for s in self.scenarios]
        descs = [self.base["description"]] + [s["description"] for s in self.scenarios]
        dss = self.datasets
        var_names: list[str] = []
        for ds in dss:
            for v in ds.data_vars:
                if v not in var_names and ds[v].dims == ("path",):
                    var_names.append(v)
        data = {}
        for v in var_names:
            ref = next(ds[v] for ds in dss if v in ds)
            arrs = []
            for ds, cfg in zip(dss, self.configs):
                if v in ds:
                    arrs.append(np.asarray(ds[v].values))
                else:
                    key = ref.attrs.get("key")
                    spec = {p.key: p.spec for p in cfg.parameters()}.get(key)
                    fill = spec.median() if spec is not None else np.nan
                    arrs.append(np.full(ref.shape, fill, dtype=np.float64))
            arr = np.stack(arrs)
            attrs = dict(ref.attrs)
            attrs.pop("distribution", None)
            data[v] = (("scenario", "path"), arr, attrs)
        data["scenario_description"] = (("scenario",), np.array(descs, dtype=object),
                                        {"long_name": "scenario description"})
        data["scenario_config_toml"] = (("scenario",), np.array([c.to_toml() for c in self.configs], dtype=object),
                                        {"long_name": "the scenario's config (TOML)"})
        out = xr.Dataset(data, coords={"scenario": ("scenario", np.array(names, dtype=object)),
                                       "path": dss[0]["path"].values})
        out.attrs = dict(dss[0].attrs)
        out.attrs["title"] = f"pricedin stress test of {self.info['company']}"
        out.attrs["scenario_file"] = str(self.info.get("scenario_file", ""))
        out.attrs["scenario_file_toml"] = self.info.get("scenario_file_toml", "")
        out.attrs["common_random_numbers"] = 1
        return out


def run_stress(
    cfg: Config,
    scenarios,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    command: str = "",
    keep_datasets: bool = True,
    scheduler=None,
) -> StressResult:
    """Run the base and every scenario on common random numbers.

    Parameters
    ----------
    cfg : Config
        The base config.
    scenarios : ScenarioFile or list of Scenario
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed`` for every run.
    threads : int, optional
        Worker threads; results do not depend on it.
    progress : callable(done, total), optional
        Called after each block, counting the paths of all runs together.
    command : str
        Recorded in the datasets' ``history``.
    scheduler : str or distributed.Client, optional
        Run (scenario, block) tasks on a Dask cluster (``local:N`` or an
        address, see :func:`engine.distributed.connect`); the results are the
        same bits as on threads.
    keep_datasets : bool
        Keep every run's Dataset (for :meth:`StressResult.dataset`); ``False``
        saves memory when only the report dict is needed.

    Returns
    -------
    StressResult

    Raises
    ------
    StressError
        An invalid scenario (all are checked before anything runs).
    """
    scen_list = list(scenarios.scenarios if isinstance(scenarios, ScenarioFile) else scenarios)
    cfg = _with_run(cfg, paths, seed)
    prepared = [prepare_scenario(cfg, s) for s in scen_list]
    crn = _CommonDraws(cfg)
    P = cfg.simulation.paths
    total = P * (1 + len(prepared))
    runs = [PreparedScenario("base", "the config as given", cfg, base_shock(cfg))] + prepared
    rows, cols, dss = [], [], []
    cluster_ds = _run_on_cluster(cfg, runs, scheduler, progress, command) if scheduler is not None else None
    for i, r in enumerate(runs):
        def prog(done, _tot, _off=i * P):
            if progress:
                progress(_off + done, total)

        if cluster_ds is not None:
            ds = cluster_ds[i]
        else:
            ds = simulate(r.cfg, threads=threads, shock=r.shock, progress=prog, command=command,
                          theta_fn=crn.theta_fn(r.cfg, r.bands))
            # a scenario's per-path outcomes only, as on a cluster: the observed fiscal years are for updates
            ds = ds.drop_vars([k for k in ("observed_revenue", "observed_ebit", "observed_fcff", "observed_cash",
                                           "year", "segment") if k in ds.variables])
        rows.append(_row(r.name, r.description, ds))
        cols.append({k: np.asarray(ds[k].values) for k in _KEPT})
        if keep_datasets:
            dss.append(ds)
    base = rows[0]
    out = []
    for row, c in zip(rows[1:], cols[1:]):
        row["delta"] = _delta(row, base, c, cols[0])
        out.append(row)
    info = {
        "company": cfg.company.name,
        "value_unit": cfg.value_unit,
        "per_share": bool(cfg.market.per_share),
        "price": float(cfg.price),
        "paths": int(P),
        "seed": int(cfg.simulation.seed),
        "block_size": int(cfg.simulation.block_size),
        "sampling": cfg.simulation.sampling.value,
        "horizon_years": int(cfg.simulation.horizon_years),
    }
    return StressResult(base, out, info, dss if keep_datasets else None, [r.cfg for r in runs])


def stress_report_from_dataset(ds) -> dict:
    """The stress report (as :meth:`StressResult.to_dict`) recomputed from a saved stress Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        Written by ``pricedin stress --out`` (dims ``scenario``, ``path``; ``base`` first).

    Returns
    -------
    dict
        ``{company, value_unit, price, paths, ..., "base": {...}, "scenarios": [{..., "delta": {...}}]}``.
    """
    names = [str(n) for n in ds["scenario"].values]
    descs = [str(d) for d in ds["scenario_description"].values]
    rows, cols = [], []
    for i, name in enumerate(names):
        sub = ds.isel(scenario=i).drop_vars(["scenario_description", "scenario_config_toml", "scenario"])
        rows.append(_row(name, descs[i], sub))
        cols.append({k: np.asarray(sub[k].values) for k in _KEPT})
    base = rows[0]
    out = []
    for row, c in zip(rows[1:], cols[1:]):
        row["delta"] = _delta(row, base, c, cols[0])
        out.append(row)
    a = ds.attrs
    info = {
        "company": a["company"],
        "value_unit": a["value_unit"],
        "per_share": bool(a["per_share"]),
        "price": float(a["price"]),
        "paths": int(ds.sizes["path"]),
        "seed": int(a["seed"]),
        "block_size": int(a["block_size"]),
        "sampling": a.get("sampling", "random"),
        "horizon_years": int(a["horizon_years"]),
        "scenario_file": a.get("scenario_file", ""),
    }
    return {**info, "common_random_numbers": True, "base": base, "scenarios": out}


# --------------------------------------------------------------------------- on a cluster

#: Per-process cache of the base run's common draws for :func:`compute_stress_block`.
_CRN_CACHE: dict = {}


def compute_stress_block(base_toml: str, scen_toml: str, shock: np.ndarray, bands: dict, block: int) -> dict:
    """One block of one stress run: a pure, picklable unit of work (a Dask task).

    Parameters
    ----------
    base_toml : str
        The base config (with the run's paths and seed) as TOML: it fixes the
        common random numbers.
    scen_toml : str
        The scenario's config as TOML (the base for the base run).
    shock : ndarray(float64, ndim=2), (time, NSH + n_seg * NSS)
        The scenario's shock table.
    bands : dict
        ``{key: (lo, hi)}`` percentile bands.
    block : int
        Block number.

    Returns
    -------
    dict
        As :func:`engine.simulate.compute_block`: ``block, lo, hi, out, flags,
        draws``; the same bits as block ``block`` of :func:`run_stress` on threads.
    """
    import hashlib

    from .simulate import _cached_plan, run_one_block

    try:
        import tomllib
    except ImportError:  # pragma: no cover
        import tomli as tomllib

    key = hashlib.sha256(base_toml.encode()).hexdigest()
    crn = _CRN_CACHE.get(key)
    if crn is None:
        crn = _CommonDraws(config_from_dict(tomllib.loads(base_toml)))
        while len(_CRN_CACHE) >= 4:
            _CRN_CACHE.pop(next(iter(_CRN_CACHE)))
        _CRN_CACHE[key] = crn
    cfg, table, plan = _cached_plan(scen_toml)
    plan = copy.copy(plan)  # the cached plan is shared: give this run its own shock table
    plan.shock = np.ascontiguousarray(shock, dtype=np.float64)
    return run_one_block(cfg, table, plan, block, theta_fn=crn.theta_fn(cfg, bands))


def _run_on_cluster(cfg: Config, runs: list, scheduler, progress, command: str) -> list:
    """Every (run, block) of a stress test as Dask tasks; the runs' Datasets, as on threads."""
    import time

    from . import __version__
    from .distributed import connect, map_bounded
    from .simulate import _dataset

    P = cfg.simulation.paths
    nb = math.ceil(P / cfg.simulation.block_size)
    base_toml = cfg.to_toml()
    tomls = [r.cfg.to_toml() for r in runs]
    tables = [ParameterTable(r.cfg) for r in runs]
    arrays = [(np.empty((K.NO, P)), np.empty((K.NL, P), dtype=np.int8), np.empty((len(t.drawn), P)))
              for t in tables]
    jobs = [(i, b) for i in range(len(runs)) for b in range(nb)]
    args = [(base_toml, tomls[i], runs[i].shock, runs[i].bands, b) for i, b in jobs]
    t0 = time.perf_counter()
    done = 0
    with connect(scheduler) as client:
        for j, res in map_bounded(client, compute_stress_block, args):
            out, flags, draws = arrays[jobs[j][0]]
            lo, hi = res["lo"], res["hi"]
            out[:, lo:hi] = res["out"]
            flags[:, lo:hi] = res["flags"]
            draws[:, lo:hi] = res["draws"]
            done += hi - lo
            if progress:
                progress(done, P * len(runs))
    elapsed = time.perf_counter() - t0
    return [_dataset(r.cfg, t, *a, None, None, elapsed, command, __version__) for r, t, a in zip(runs, tables, arrays)]


# --------------------------------------------------------------------------- reverse stress

#: Headline inputs of a reverse stress test and the widest shift searched (in the
#: input's units; further limited by the input's allowed range).
HEADLINE_INPUTS = (
    ("terminal.growth", (-0.10, 0.10)),
    ("segments.*.growth.long_run", (-0.50, 1.00)),
    ("margin.target", (-1.0, 1.0)),
    ("margin.variable_cost_share", (-1.0, 1.0)),
    ("multiple.mature", (-math.inf, 50.0)),
    ("cost_of_capital.initial", (-0.20, 0.20)),
)


def _headline_keys(cfg: Config) -> list[tuple[str, tuple[float, float]]]:
    d = cfg.normalised_dict()
    params = {p.key: p for p in cfg.parameters() if _locate(d, p.key) is not None}
    out = []
    for pat, cap in HEADLINE_INPUTS:
        if "*" in pat:
            for s in cfg.segments:
                k = pat.replace("*", s.name)
                if k in params:
                    out.append((k, cap))
        elif pat in params:
            out.append((pat, cap))
    return out


def _allowed_shift(info, cap) -> tuple[float, float]:
    lo, hi = info.spec.bounds(1e-9)
    b = info.bounds
    d_lo, d_hi = cap
    if b is not None:
        eps_lo = 1e-9 * max(1.0, abs(b.lo)) if b.lo_open else 0.0
        eps_hi = 1e-9 * max(1.0, abs(b.hi)) if b.hi_open else 0.0
        if math.isfinite(b.lo):
            d_lo = max(d_lo, b.lo + eps_lo - lo)
        if math.isfinite(b.hi):
            d_hi = min(d_hi, b.hi - eps_hi - hi)
    if not math.isfinite(d_lo):
        d_lo = -abs(info.spec.median()) * 0.999
    return min(d_lo, 0.0), max(d_hi, 0.0)


def crossings(points: dict, target: float) -> list[tuple[float, float]]:
    """Neighbouring shifts between which P crosses ``target``.

    Parameters
    ----------
    points : dict of {float: float}
        ``{shift: P(justified)}`` at the shifts evaluated (any order).
    target : float
        The P sought.

    Returns
    -------
    list of (float, float)
        ``(a, b)``, ``a < b`` adjacent in sorted order, with ``P(a) - target``
        and ``P(b) - target`` of opposite signs or one of them exactly 0, in
        increasing order of ``a``.
    """
    xs = sorted(points)
    out = []
    for a, b in zip(xs, xs[1:]):
        fa, fb = points[a] - target, points[b] - target
        if fa == 0.0 or fb == 0.0 or (fa < 0) != (fb < 0):
            out.append((a, b))
    return out


def reverse_stress(
    cfg: Config,
    keys: Optional[list[str]] = None,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    target: float = 0.5,
    rel_tol: float = 1e-3,
    progress: Optional[Callable[[str], None]] = None,
    grid: int = 8,
) -> dict:
    """For each headline input, the shift that brings P(justified, DCF lens) to ``target``.

    Each input is shifted alone (:meth:`DistributionSpec.shifted`), the rest of
    the base held, on the base run's random numbers. P is a step function of
    the shift on a finite sample, so P is evaluated at the ends of the
    input's allowed range and at ``grid - 1`` evenly spaced shifts between 0
    and each end; every pair of neighbouring shifts where P crosses the
    target is narrowed with :func:`scipy.optimize.brentq` to ``rel_tol``
    times the range searched, and the crossing nearest the base (smallest
    absolute shift) is reported, as the bracket of shifts where P crosses the
    target, not an exact point. Where P does not cross the target at any
    evaluated shift, the entry says so and gives the P reached at the ends
    and its minimum and maximum over the grid. A crossing and its return
    both inside one grid step (a P above the target only on a band narrower
    than ``1/grid`` of the half range) can still be missed.

    Parameters
    ----------
    cfg : Config
    keys : list of str, optional
        Key paths to search (default: :data:`HEADLINE_INPUTS` present in the config).
    paths : int, optional
        Paths per evaluation (default: ``min(simulation.paths, 20000)``).
    seed, threads : int, optional
    target : float
        The P(justified, DCF) sought, default 0.5.
    rel_tol : float
        Bracket width as a fraction of the shift range searched.
    progress : callable(str), optional
        Called with the key before each input is searched.
    grid : int
        Steps of the scan between 0 and each end of the range (default 8).

    Returns
    -------
    dict
        ``paths, seed, target, p_base`` and ``inputs``: one dict per key with
        ``key, status`` ("found", "none" or "invalid"), ``base_median``,
        ``range`` [shift low, shift high], ``p_range`` [P at low, P at high],
        ``p_min``, ``p_max`` (over the shifts evaluated),
        and when found ``shift``, ``shift_bracket``, ``p_bracket``,
        ``value_median`` (the input's median after the shift), ``evaluations``,
        plus a ``message``.
    """
    from scipy.optimize import brentq

    cfg = _with_run(cfg, paths if paths is not None else min(cfg.simulation.paths, 20_000), seed)
    crn = _CommonDraws(cfg)
    params = {p.key: p for p in cfg.parameters()}
    base_dict = cfg.normalised_dict()
    if keys:
        todo = []
        for k in keys:
            if k not in params:
                near = difflib.get_close_matches(k, list(params), n=3, cutoff=0.6)
                raise StressError(f"reverse stress `keys`: {k!r} is not an input of the config"
                                  + (f"; did you mean {', '.join(map(repr, near))}?" if near else ""))
            if _locate(base_dict, k) is None:
                raise StressError(f"reverse stress `keys`: {k!r} is not used by this config (its "
                                  f"{k.rsplit('.', 1)[0]}.method does not read it); choose an input it uses, "
                                  "e.g. one listed by `pricedin validate CONFIG`")
            cap = next((c for pat, c in HEADLINE_INPUTS if pat == k or (
                "*" in pat and k.startswith("segments.") and k.endswith(pat.split("*")[1]))), (-math.inf, math.inf))
            if not math.isfinite(cap[1]):
                m = abs(params[k].spec.median())
                cap = (cap[0], max(1.0, 10 * m))
            todo.append((k, cap))
    else:
        todo = _headline_keys(cfg)

    def p_of(key: str, d: float) -> Optional[float]:
        scen = Scenario(name="reverse", description="", shift={key: d})
        try:
            ps = prepare_scenario(cfg, scen)
        except StressError:
            return None
        ds = simulate(ps.cfg, threads=threads, shock=ps.shock, theta_fn=crn.theta_fn(ps.cfg))
        return float(np.mean(ds["justified_dcf"].values))

    base_ds = simulate(cfg, threads=threads, theta_fn=crn.theta_fn(cfg))
    p_base = float(np.mean(base_ds["justified_dcf"].values))
    results = []
    for key, cap in todo:
        if progress:
            progress(key)
        info = params[key]
        d_lo, d_hi = _allowed_shift(info, cap)
        entry: dict[str, Any] = {"key": key, "base_median": float(info.spec.median())}
        evals: dict[float, float] = {0.0: p_base}

        def f(d, _key=key):
            if d not in evals:
                p = p_of(_key, d)
                if p is None:
                    raise StressError("invalid")
                evals[d] = p
            return evals[d] - target

        # shrink an end that makes the config invalid (e.g. a fixed Gordon spread) toward 0
        ends = []
        for end in (d_lo, d_hi):
            e = end
            for _ in range(40):
                if e == 0.0:
                    break
                p = p_of(key, e)
                if p is not None:
                    evals[e] = p
                    break
                e *= 0.5
            ends.append(e)
        d_lo, d_hi = ends
        entry["range"] = [d_lo, d_hi]
        entry["p_range"] = [evals.get(d_lo, p_base), evals.get(d_hi, p_base)]
        # a grid inside the range, so a P that is not monotone in the shift cannot hide a crossing between the ends
        for end in (d_lo, d_hi):
            for i in range(1, grid):
                d = end * i / grid
                if d != 0.0 and d not in evals:
                    p = p_of(key, d)
                    if p is not None:
                        evals[d] = p
        entry["p_min"], entry["p_max"] = min(evals.values()), max(evals.values())
        f0 = p_base - target
        candidates = crossings(evals, target)
        if f0 == 0.0:
            entry.update(status="found", shift=0.0, shift_bracket=[0.0, 0.0], p_bracket=[p_base, p_base],
                         value_median=entry["base_median"],
                         message=f"P(justified, DCF) is already {target:.0%} at the base")
            results.append(entry)
            continue
        if not candidates:
            lo_p, hi_p = entry["p_range"]
            entry.update(status="none", message=(
                f"no shift in [{d_lo:+.4g}, {d_hi:+.4g}] (the input's allowed range, capped) brings "
                f"P(justified, DCF) to {target:.0%}: P runs from {lo_p:.2%} to {hi_p:.2%} over it "
                f"(between {entry['p_min']:.2%} and {entry['p_max']:.2%} at the {len(evals)} shifts evaluated)"))
            results.append(entry)
            continue
        best = None
        for a, b in candidates:
            xtol = max(rel_tol * (d_hi - d_lo), 1e-12)
            try:
                x = brentq(f, a, b, xtol=xtol, maxiter=100)
            except (StressError, ValueError):
                continue
            # the tightest evaluated bracket around x with P on both sides of the target
            neg_a = evals[a] < target
            left = [d for d in evals if a <= d <= x and (evals[d] < target) == neg_a]
            right = [d for d in evals if x <= d <= b and (evals[d] < target) != neg_a]
            lo_b, hi_b = (max(left) if left else a), (min(right) if right else b)
            try:  # brentq stops within about 2 xtol; bisect the evaluated bracket down to xtol
                while hi_b - lo_b > xtol:
                    mid = 0.5 * (lo_b + hi_b)
                    if (f(mid) + target < target) == neg_a:
                        lo_b = mid
                    else:
                        hi_b = mid
            except StressError:
                pass
            x = min(max(x, lo_b), hi_b)
            cand = (abs(x), x, [lo_b, hi_b])
            if best is None or cand[0] < best[0]:
                best = cand
        if best is None:
            entry.update(status="invalid", message="every shift searched gave an invalid config")
            results.append(entry)
            continue
        _, x, br = best
        spec = info.spec.shifted(x)
        entry.update(
            status="found", shift=x, shift_bracket=br, p_bracket=[evals[br[0]], evals[br[1]]],
            value_median=float(spec.median()), evaluations=len(evals),
            message=(f"shift {x:+.4g} (bracket [{br[0]:+.4g}, {br[1]:+.4g}]; P is a step function of the "
                     f"shift on {cfg.simulation.paths:,} paths, bisected to {rel_tol:g} of the range)"),
        )
        results.append(entry)
    return {"paths": int(cfg.simulation.paths), "seed": int(cfg.simulation.seed), "target": target,
            "p_base": p_base, "inputs": results}
