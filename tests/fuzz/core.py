"""A seeded fuzzer of the command line: mutated configs, scenario files, arguments and damaged results files.

Every case is a small, self-describing record (:class:`Case`): its ``id`` names the family,
the source, the key path, the mutation and the command, and :func:`build` turns it into
files and CLI arguments deterministically, so an id alone reproduces a case
(``python -m tests.fuzz --case ID``). :func:`generate` draws cases from
``random.Random(seed)``: the same seed gives the same cases.

Each case runs in-process through click's ``CliRunner`` and is classified (:func:`classify`):

- ``OK``: exit 0 with finite output, or exit 2 with a message starting ``error:`` (click's
  own usage errors, ``Error: ...``, count too) and no traceback;
- ``INTERNAL``: exit 1, "internal error", an uncaught exception or a traceback;
- ``SILENT``: exit 0 but a number the report must have is NaN / inf / null, or a damaged
  results file was accepted;
- ``HANG``: the case ran past its time limit.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import json
import math
import random
import re
import signal
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"

CLASSES = ("OK", "INTERNAL", "SILENT", "HANG")
SEP = "|"

# ------------------------------------------------------------------------------------------------ sources


def _base_fixture() -> dict:
    from tests.conftest import base_dict

    return base_dict()


def config_sources() -> dict:
    """name -> loader of the configs mutated: the shipped configs and the test fixture."""
    out = {p.name: p for p in sorted(CONFIGS.glob("*.toml")) + sorted(CONFIGS.glob("*.yaml"))}
    out["fixture"] = None
    return out


def stress_sources() -> dict:
    return {p.name: p for p in sorted((CONFIGS / "stress").glob("*.toml"))}


def _load(path: Optional[Path]) -> dict:
    if path is None:
        return _base_fixture()
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else tomllib.loads(text)


# ------------------------------------------------------------------------------------------------ mutations

#: Value mutations: token -> function of the old value giving the new one (None: the key is deleted).
_DELETE = object()


def _pct(old):
    return old * 100 if isinstance(old, (int, float)) and not isinstance(old, bool) else 5.0


VALUE_MUTATIONS = {
    "delete": lambda old: _DELETE,
    "0": lambda old: 0,
    "-1": lambda old: -1,
    "1.0": lambda old: 1.0,
    "1e308": lambda old: 1e308,
    "-1e308": lambda old: -1e308,
    "1e-320": lambda old: 1e-320,
    "nan": lambda old: float("nan"),
    "inf": lambda old: float("inf"),
    "-inf": lambda old: float("-inf"),
    "string": lambda old: "abc",
    "bool": lambda old: True,
    "hugeint": lambda old: 10 ** 30,
    "pct": _pct,  # a percentage written as 5.0 for 5%
    "empty_list": lambda old: [],
    "empty_table": lambda old: {},
    "-0.0": lambda old: -0.0,
}

#: YAML specials written raw into a YAML file (YAML 1.1 reads ON as true, 0700 as octal 448, ~ as null).
YAML_SPECIALS = {"yaml:ON": "ON", "yaml:0700": "0700", "yaml:null": "~", "yaml:no": "no", "yaml:.inf": ".inf",
                 "yaml:1_000": "1_000", "yaml:date": "2026-01-01", "yaml:5%": "5%"}

DIST_KINDS = ("normal", "lognormal", "pert", "triangular", "uniform", "beta", "nope")

CORRELATION_MUTATIONS = {
    "corr:1.5": lambda pair: [pair[0], pair[1], 1.5],
    "corr:-1": lambda pair: [pair[0], pair[1], -1.0],
    "corr:nan": lambda pair: [pair[0], pair[1], float("nan")],
    "corr:self": lambda pair: [pair[0], pair[0], 0.5],
    "corr:unknown_key": lambda pair: [pair[0], "segments.nope.growth.today", 0.5],
    "corr:short": lambda pair: [pair[0], pair[1]],
    "corr:string": lambda pair: [pair[0], pair[1], "high"],
}


def leaf_paths(d: Any, prefix: tuple = ()) -> list:
    """Every key path (tuples of str keys and int indices) of a parsed document, leaves and tables alike."""
    out = []
    if isinstance(d, dict):
        for k, v in d.items():
            out.append(prefix + (k,))
            out.extend(leaf_paths(v, prefix + (k,)))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.append(prefix + (i,))
            out.extend(leaf_paths(v, prefix + (i,)))
    return out


def _fmt_path(path: tuple) -> str:
    return "/".join(str(p) for p in path)  # "/" not ".": scenario files have dotted keys


def _parse_path(text: str) -> tuple:
    return tuple(int(p) if p.lstrip("-").isdigit() else p for p in text.split("/")) if text else ()


def _get(d, path):
    for p in path:
        d = d[p]
    return d


def apply_mutation(doc: dict, path: tuple, mutation: str):
    """Apply ``mutation`` at ``path`` of a copy of ``doc``. Returns (new doc, raw YAML token or None)."""
    doc = copy.deepcopy(doc)
    parent, key = _get(doc, path[:-1]), path[-1]
    old = parent[key]
    if mutation in YAML_SPECIALS:
        parent[key] = "__RAW_TOKEN__"
        return doc, YAML_SPECIALS[mutation]
    if mutation.startswith("kind:"):
        old["kind"] = mutation.split(":", 1)[1]
        return doc, None
    if mutation in CORRELATION_MUTATIONS:
        parent[key] = CORRELATION_MUTATIONS[mutation](old)
        return doc, None
    new = VALUE_MUTATIONS[mutation](old)
    if new is _DELETE:
        del parent[key]
    else:
        parent[key] = new
    return doc, None


# ------------------------------------------------------------------------------------------------ writers


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        r = repr(v)
        return r if any(c in r for c in ".eE") else r + ".0"
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(doc: dict) -> str:
    """A document as TOML: one ``key = value`` line per top-level key, tables inline (valid TOML 1.0)."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def to_yaml(doc: dict, raw: Optional[str] = None) -> str:
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if raw is not None:
        text = text.replace("__RAW_TOKEN__", raw)
    return text


# ------------------------------------------------------------------------------------------------ cases


@dataclasses.dataclass(frozen=True)
class Case:
    """One fuzz case; every field is text, and :attr:`id` joins them (it reproduces the case alone)."""

    family: str   # config | stress | cli | results
    source: str   # the file (or template) mutated
    path: str     # the key path, option or damage
    mutation: str  # the mutation applied
    command: str  # which command runs it

    @property
    def id(self) -> str:
        return SEP.join((self.family, self.source, self.path, self.mutation, self.command))

    @classmethod
    def from_id(cls, text: str) -> "Case":
        parts = text.split(SEP)
        if len(parts) != 5:
            raise ValueError(f"a case id has 5 parts separated by {SEP!r}: {text!r}")
        return cls(*parts)


CONFIG_COMMANDS = ("run", "run", "run", "validate", "run-text")
STRESS_COMMANDS = ("stress-json", "stress-text")

#: CLI argument cases: template -> (argument list with {cfg}/{nc}/{tmp}, {opt} mutated options).
CLI_TEMPLATES = {
    "run": ["run", "{cfg}", "--paths", "200", "--json", "--quiet"],
    "stress": ["stress", "{cfg}", "--paths", "200", "--json", "--quiet"],
    "report": ["report", "{nc}", "--json"],
    "sensitivity": ["sensitivity", "{nc}", "--json", "--tornado-paths", "50"],
    "implied": ["implied", "{cfg}", "--paths", "200", "--json"],
    "plot": ["plot", "{nc}", "-o", "{tmp}/f.png"],
}

CLI_MUTATIONS = {
    "run": [["--paths", "0"], ["--paths", "-1"], ["--paths", "1e3"], ["--paths", "nan"], ["--seed", "-1"],
            ["--seed", str(2 ** 64)], ["--threads", "0"], ["--max-memory-gb", "nan"], ["--max-memory-gb", "inf"],
            ["--target-se", "0"], ["--target-se", "nan"], ["--target-se", "inf"],
            ["--target-se", "1e-9", "--max-paths", "400"], ["--target-rse", "1e-300", "--max-paths", "300"],
            ["--out", "{tmp}/x.txt"], ["--out", "{tmp}"], ["--out", "{tmp}/new/x.nc"], ["--resume"],
            ["--scheduler", "local:0"], ["--scheduler", "nonsense"], ["--keep-paths", "--max-memory-gb", "0.01"],
            ["--plot", "{tmp}/figs/f.png/x"], ["--paths", "1"], ["--paths", "3"], ["--seed", "0"],
            ["--keep-paths", "--out", "{tmp}/k.nc"], ["--max-paths", "1", "--target-se", "0.5"]],
    "stress": [["--paths", "1"], ["--paths", "2"], ["--seed", "-1"], ["--reverse", "--input", "nope"],
               ["--reverse", "--input", "margin.target"], ["--scenarios", "{tmp}/missing.toml"],
               ["--scenarios", "{cfg}"], ["--out", "{tmp}/s.txt"], ["--input", "margin.target"],
               ["--reverse", "--paths", "1"], ["--reverse", "--out", "{tmp}/r.nc"]],
    "report": [["--html", "{tmp}/r.txt"], ["--tornado"], ["--html", "{tmp}/r.html", "--json"],
               ["--tornado-paths", "5"], ["--html", "{tmp}/r.html", "--tornado", "--tornado-paths", "10"]],
    "sensitivity": [["--low", "0.9", "--high", "0.1"], ["--low", "0"], ["--bins", "1"], ["--bins", "100000"],
                    ["--top", "0"], ["--no-tornado"], ["--low", "nan"], ["--paths", "5"]],
    "implied": [["--paths", "0"], ["--max-horizon", "0"], ["--max-horizon", "1"], ["--max-horizon", "101"],
                ["--paths", "1"]],
    "plot": [["--kind", "nope"], ["--kind", "fan"], ["--kind", "tornado"], ["--kind", "convergence"],
             ["-o", "{tmp}/f.jpg"], ["-o", "{tmp}"], ["--kind", "cdf"]],
}

#: Damages of a saved results file (a run's, or a stress file's for the ``stress_`` ones).
DAMAGES = ("rename_path_dim", "extra_dim", "flags_as_float", "zero_paths", "transposed_kept", "price_nan",
           "price_inf", "price_0", "price_-1", "seed_-1", "horizon_0", "nan_in_value", "inf_in_value",
           "nan_in_horizon_return", "drop_value", "stress_no_description", "stress_rename_scenario_dim",
           "stress_nan_in_value", "not_netcdf")
RESULT_COMMANDS = ("report-json", "report-text", "sensitivity", "plot", "html")


def generate(seed: int, n: int) -> list:
    """``n`` cases drawn from ``random.Random(seed)`` (the same seed gives the same cases, in order)."""
    rng = random.Random(seed)
    cfg_src, st_src = config_sources(), stress_sources()
    docs = {name: _load(p) for name, p in cfg_src.items()}
    sdocs = {name: _load(p) for name, p in st_src.items()}
    cases, seen = [], set()
    families = ["config"] * 5 + ["stress"] * 2 + ["cli"] * 2 + ["results"] * 2
    tries = 0
    while len(cases) < n and tries < 50 * n:
        tries += 1
        fam = rng.choice(families)
        if fam == "config":
            src = rng.choice(sorted(docs))
            case = _config_case(rng, "config", src, docs[src], rng.choice(CONFIG_COMMANDS))
        elif fam == "stress":
            src = rng.choice(sorted(sdocs))
            case = _config_case(rng, "stress", src, sdocs[src], rng.choice(STRESS_COMMANDS))
        elif fam == "cli":
            tpl = rng.choice(sorted(CLI_TEMPLATES))
            muts = CLI_MUTATIONS[tpl]
            case = Case("cli", tpl, " ".join(rng.choice(muts)), "args", tpl)
        else:
            dmg = rng.choice(DAMAGES)
            cmd = "report-json" if dmg.startswith("stress_") else rng.choice(RESULT_COMMANDS)
            case = Case("results", "stress.nc" if dmg.startswith("stress_") else "run.nc", dmg, "damage", cmd)
        if case is not None and case.id not in seen:
            seen.add(case.id)
            cases.append(case)
    return cases


def _config_case(rng, family, src, doc, command) -> Optional[Case]:
    paths = leaf_paths(doc)
    path = rng.choice(paths)
    node = _get(doc, path)
    parent = _get(doc, path[:-1])
    options = list(VALUE_MUTATIONS)
    if isinstance(node, dict) and "kind" in node:
        options += [f"kind:{k}" for k in DIST_KINDS if k != node["kind"]] * 2
    if len(path) >= 2 and path[0] == "correlations" and isinstance(node, list) and len(node) == 3:
        options += list(CORRELATION_MUTATIONS) * 3
    if family == "config" and not isinstance(parent, list):
        options += list(YAML_SPECIALS)
    if isinstance(parent, list) and rng.random() < 0.5:
        return None  # list entries: mostly mutate inside them
    return Case(family, src, _fmt_path(path), rng.choice(options), command)


# ------------------------------------------------------------------------------------------------ building


class _Fixtures:
    """The small saved run and stress file that the ``results`` and ``cli`` cases read (made once per folder)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._run = self._stress = None

    def config(self) -> Path:
        p = self.folder / "fixture.toml"
        if not p.exists():
            d = _base_fixture()
            d["segments"][0]["growth"]["volatility"] = 0.2
            d["margin"]["target"] = {"kind": "pert", "min": 0.05, "mode": 0.10, "max": 0.20}
            p.write_text(to_toml(d))
        return p

    def run_nc(self) -> Path:
        if self._run is None:
            self._run = self.folder / "run.nc"
            if not self._run.exists():
                _invoke(["run", str(self.config()), "--paths", "200", "--quiet", "--out", str(self._run)], check=True)
        return self._run

    def stress_nc(self) -> Path:
        if self._stress is None:
            self._stress = self.folder / "stress.nc"
            if not self._stress.exists():
                scen = self.folder / "fixture_scenarios.toml"
                scen.write_text('[[scenarios]]\nname = "a"\ndescription = "margin up"\n'
                                'shift = { "margin.today" = 0.01 }\n')
                _invoke(["stress", str(self.config()), "--scenarios", str(scen), "--paths", "200", "--quiet",
                         "--out", str(self._stress)], check=True)
        return self._stress


def build(case: Case, work: Path, fixtures: _Fixtures) -> list:
    """Write the case's files into ``work`` and return its CLI arguments."""
    work.mkdir(parents=True, exist_ok=True)
    if case.family in ("config", "stress"):
        src = (config_sources() if case.family == "config" else stress_sources())[case.source]
        doc = _load(src)
        doc, raw = apply_mutation(doc, _parse_path(case.path), case.mutation)
        if case.family == "config":
            yaml_out = raw is not None or (src is not None and src.suffix == ".yaml")
            f = work / ("config.yaml" if yaml_out else "config.toml")
            f.write_text(to_yaml(doc, raw) if yaml_out else to_toml(doc), encoding="utf-8")
            if case.command == "validate":
                return ["validate", str(f)]
            return ["run", str(f), "--paths", "200", "--quiet"] + ([] if case.command == "run-text" else ["--json"])
        f = work / "scenarios.toml"
        f.write_text(to_toml(doc), encoding="utf-8")
        cfg = CONFIGS / case.source  # the scenario file's own company
        return ["stress", str(cfg), "--scenarios", str(f), "--paths", "200", "--quiet"] + (
            ["--json"] if case.command == "stress-json" else [])
    if case.family == "cli":
        subs = {"cfg": str(fixtures.config()), "tmp": str(work)}
        if "{nc}" in " ".join(CLI_TEMPLATES[case.source]):
            subs["nc"] = str(fixtures.run_nc())
        args = [a.format(**subs) for a in CLI_TEMPLATES[case.source]]
        return args + [a.format(**subs) for a in case.path.split(" ")]
    if case.family == "results":
        f = work / "damaged.nc"
        _damage(case.path, fixtures, f)
        return {
            "report-json": ["report", str(f), "--json"],
            "report-text": ["report", str(f)],
            "sensitivity": ["sensitivity", str(f), "--json", "--no-tornado"],
            "plot": ["plot", str(f), "-o", str(work / "f.png")],
            "html": ["report", str(f), "--html", str(work / "r.html")],
        }[case.command]
    raise ValueError(f"unknown family {case.family!r}")


def _damage(name: str, fixtures: _Fixtures, out: Path) -> None:
    import numpy as np
    import xarray as xr

    if name == "not_netcdf":
        out.write_bytes(b"CDF\x01 this is not a results file")
        return
    src = fixtures.stress_nc() if name.startswith("stress_") else fixtures.run_nc()
    ds = xr.load_dataset(src, engine="h5netcdf")
    if name == "rename_path_dim":
        ds = ds.rename_dims({"path": "draw"})
    elif name == "extra_dim":
        ds["value_per_share"] = ds["value_per_share"].expand_dims(copy=3, axis=1)
    elif name == "flags_as_float":
        for v in ("justified_dcf", "justified_market", "failed", "tv_clipped", "floored"):
            if v in ds:
                ds[v] = ds[v].astype("float64") * 0.5
    elif name == "zero_paths":
        ds = ds.isel(path=slice(0, 0))
    elif name == "transposed_kept":
        ds = _with_kept_paths(fixtures).transpose("time", "path", ...)
    elif name.startswith("price_"):
        ds.attrs["price"] = {"price_nan": float("nan"), "price_inf": float("inf"), "price_0": 0.0,
                             "price_-1": -1.0}[name]
    elif name == "seed_-1":
        ds.attrs["seed"] = -1
    elif name == "horizon_0":
        ds.attrs["horizon_years"] = 0
    elif name in ("nan_in_value", "inf_in_value", "stress_nan_in_value"):
        v = ds["value_per_share"].values.copy()
        v.flat[: max(1, v.size // 10)] = np.nan if "nan" in name else np.inf
        ds["value_per_share"] = (ds["value_per_share"].dims, v, ds["value_per_share"].attrs)
    elif name == "nan_in_horizon_return":
        v = ds["horizon_return"].values.copy()
        v[:] = np.nan
        ds["horizon_return"] = (ds["horizon_return"].dims, v, ds["horizon_return"].attrs)
    elif name == "drop_value":
        ds = ds.drop_vars("value_per_share")
    elif name == "stress_no_description":
        for k in [k for k in ds.variables if "description" in k]:
            ds = ds.drop_vars(k)
        for k in [k for k in ds.attrs if "description" in k]:
            del ds.attrs[k]
    elif name == "stress_rename_scenario_dim":
        ds = ds.rename_dims({"scenario": "case"})
    else:
        raise ValueError(f"unknown damage {name!r}")
    ds.to_netcdf(out, engine="h5netcdf")


def _with_kept_paths(fixtures: _Fixtures):
    import xarray as xr

    p = fixtures.folder / "kept.nc"
    if not p.exists():
        _invoke(["run", str(fixtures.config()), "--paths", "200", "--quiet", "--keep-paths", "--out", str(p)],
                check=True)
    return xr.load_dataset(p, engine="h5netcdf")


# ------------------------------------------------------------------------------------------------ running


class _Timeout(BaseException):
    """Raised in the main thread when a case runs past its limit (not an Exception: nothing catches it)."""


def _invoke(args: list, check: bool = False):
    from click.testing import CliRunner

    from engine.cli import main

    r = CliRunner().invoke(main, args)
    if check and r.exit_code != 0:
        raise RuntimeError(f"fuzz fixture failed: pricedin {' '.join(args)}\n{r.output}")
    return r


@dataclasses.dataclass
class Outcome:
    case: Case
    cls: str
    reason: str
    exit_code: Optional[int]
    seconds: float
    args: list
    output: str = ""

    def as_dict(self) -> dict:
        return {"id": self.case.id, "class": self.cls, "reason": self.reason, "exit_code": self.exit_code,
                "seconds": round(self.seconds, 3), "command": "pricedin " + " ".join(self.args)}


def run_case(case: Case, work: Path, fixtures: _Fixtures, limit_s: float = 60.0) -> Outcome:
    """Build, run and classify one case within ``limit_s`` seconds."""
    t0 = time.perf_counter()
    args: list = []
    try:
        with _time_limit(limit_s):
            args = build(case, work, fixtures)
            r = _invoke(args)
    except _Timeout:
        return Outcome(case, "HANG", f"over {limit_s:g} s", None, time.perf_counter() - t0, args)
    cls, reason = classify(case, r, args)
    return Outcome(case, cls, reason, r.exit_code, time.perf_counter() - t0, args, r.output)


class _time_limit:
    """SIGALRM-based limit in the main thread; elsewhere no limit (the caller then uses a thread join)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def _fire(self, *_):
        raise _Timeout()

    def __enter__(self):
        if self.armed:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
        return False


_NONFINITE_TEXT = re.compile(r"(?<![\w/])(nan|-?inf|NaN|-?Infinity|null)(?![\w/])")

#: Numbers every run report must have, finite (``--json`` of run / report).
_REQUIRED = ("price", "price_percentile", "failed_share", "median_horizon_return", "median_dilution")


def _nonfinite_in_report(rep: dict) -> list:
    bad = []
    for k in _REQUIRED:
        if k in rep and not _finite_number(rep[k]):
            bad.append(k)
    one_path = rep.get("paths") == 1
    for k, v in (rep.get("value_per_share") or {}).items():
        if v is None and one_path and k in ("sd", "se_mean"):
            continue  # undefined for one path: reported as null ("n/a") by design
        if not _finite_number(v):
            bad.append(f"value_per_share.{k}")
    for lens, d in (rep.get("p_justified") or {}).items():
        for k, v in d.items():
            if v is None and k == "se" and d.get("estimate") in (0, 0.0, 1, 1.0):
                continue  # sqrt(p (1 - p) / n) is a false 0 at p = 0 or 1: null by design, the Wilson interval stands
            if not _finite_number(v):
                bad.append(f"p_justified.{lens}.{k}")
    return bad


def _finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def classify(case: Case, r, args: list) -> tuple:
    """(class, reason) of a CliRunner result of ``pricedin *args``."""
    out = r.output or ""
    exc = r.exception
    if exc is not None and not isinstance(exc, SystemExit):
        return "INTERNAL", f"uncaught {type(exc).__name__}: {str(exc)[:200]}"
    if "Traceback (most recent call last)" in out:
        return "INTERNAL", "traceback in the output"
    if "internal error" in out:
        line = next((ln for ln in out.splitlines() if "internal error" in ln), "")
        return "INTERNAL", line[:240]
    if r.exit_code == 2:
        errs = [ln for ln in out.splitlines() if ln.lower().startswith("error:")]
        if errs:
            return "OK", errs[0][:240]
        return "INTERNAL", "exit 2 without a line starting 'error:'"
    if r.exit_code != 0:
        return "INTERNAL", f"exit {r.exit_code}: {out.strip().splitlines()[-1][:200] if out.strip() else ''}"
    # exit 0
    if case.family == "results":
        return "SILENT", f"damaged results file accepted ({case.path})"
    stdout = r.stdout or ""
    if "--json" in args:
        try:
            rep = json.loads(stdout)
        except ValueError:
            return "SILENT", "--json output is not JSON"
        reps = rep if isinstance(rep, list) else [rep]
        bad = []
        for one in reps:
            bad += _nonfinite_in_report(one)
            for s in [one.get("base")] + list(one.get("scenarios") or []):
                if isinstance(s, dict):
                    bad += [f"{s.get('name', '?')}.{b}" for b in _nonfinite_in_report(s)]
        if bad:
            return "SILENT", "null/non-finite in " + ", ".join(sorted(set(bad))[:6])
        return "OK", "exit 0, finite"
    m = _NONFINITE_TEXT.search(stdout)
    if m and case.command != "validate":
        line = next((ln for ln in stdout.splitlines() if m.group(0) in ln), "")
        return "SILENT", f"{m.group(0)!r} in the report: {line.strip()[:160]}"
    if case.command == "validate" and m:
        line = next((ln for ln in stdout.splitlines() if m.group(0) in ln), "")
        return "SILENT", f"validate accepted a non-finite value: {line.strip()[:160]}"
    return "OK", "exit 0"


def run_cases(cases: list, folder: Path, limit_s: float = 60.0, progress=None) -> list:
    """Run ``cases`` (each in its own subfolder of ``folder``); return their :class:`Outcome` s."""
    fixtures = _Fixtures(folder / "_fixtures")
    fixtures.folder.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for i, case in enumerate(cases):
        o = run_case(case, folder / f"case{i:04d}", fixtures, limit_s)
        outcomes.append(o)
        if progress:
            progress(i + 1, len(cases), o)
    return outcomes


def kind_of(o: Outcome) -> str:
    """A short name grouping outcomes of the same defect: class + the exception type or the first words."""
    reason = re.sub(r"'[^']*'|\"[^\"]*\"|[-+]?\d[\d.,e+-]*", "…", o.reason)
    return f"{o.cls}: {reason[:90]}"
