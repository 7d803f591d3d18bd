"""The notebook API: ``import engine`` and call it; no click, no CLI flags in its messages."""

from __future__ import annotations

import ast
import doctest
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import engine
from engine.cli import flag_words, main

from .conftest import CONFIGS

ROOT = Path(__file__).resolve().parents[1]
ZHIPU = CONFIGS / "zhipu.toml"


@pytest.fixture(scope="module")
def ds():
    return engine.simulate(str(ZHIPU), paths=600, seed=7, threads=1)


def test_simulate_takes_a_path_or_a_config_and_is_the_function():
    import importlib

    assert callable(engine.simulate) and engine.simulate.__name__ == "simulate"
    assert importlib.import_module("engine.simulate").__name__ == "engine.simulate"  # the module is still importable
    a = engine.simulate(ZHIPU, paths=100, seed=3, threads=1)
    b = engine.simulate(engine.load_config(ZHIPU), paths=100, seed=3, threads=1)
    assert np.array_equal(a["value_per_share"].values, b["value_per_share"].values)


def test_summarize_is_a_dataset_with_quantile_and_lens_dims_and_units(ds):
    s = engine.summarize(ds)
    d = engine.summary_dict(ds)
    assert list(s["quantile"].values) == [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
    assert list(s["lens"].values) == ["dcf", "market"]
    v = np.asarray(ds["value_per_share"].values)
    assert float(s["value_per_share"].sel(quantile=0.5)) == pytest.approx(float(np.median(v)), rel=1e-12)
    k = int(np.count_nonzero(ds["justified_dcf"].values))
    assert float(s["p_justified"].sel(lens="dcf")) == k / 600
    if 0 < k < 600:
        assert float(s["se"].sel(lens="dcf")) == pytest.approx(math.sqrt(k / 600 * (1 - k / 600) / 600))
    else:  # 0 of n or n of n: the binomial standard error is a false 0, reported as NaN (README)
        assert math.isnan(float(s["se"].sel(lens="dcf")))
    assert int(s["justified_paths"].sel(lens="market")) == d["p_justified"]["market"]["hits"]
    lo, hi = float(s["ci95_low"].sel(lens="dcf")), float(s["ci95_high"].sel(lens="dcf"))
    assert lo <= k / 600 <= hi
    assert s["value_per_share"].attrs["units"] == ds.attrs["value_unit"]
    assert all("units" in s[v].attrs for v in s.data_vars)
    assert s.attrs["paths"] == 600 and s.attrs["seed"] == 7


def test_run_stress_dataset_has_a_scenario_dim():
    cfg = engine.load_config(ZHIPU)
    st = engine.run_stress(cfg, engine.load_scenarios(CONFIGS / "stress" / "zhipu.toml"), paths=200, threads=1)
    out = st.dataset()
    assert list(out["scenario"].values) == ["base"] + [s["name"] for s in st.scenarios]
    assert out["value_per_share"].dims == ("scenario", "path") and out.sizes["path"] == 200
    lean = engine.run_stress(cfg, engine.load_scenarios(CONFIGS / "stress" / "zhipu.toml"), paths=200,
                             threads=1, keep_datasets=False)
    with pytest.raises(engine.InputError, match="`keep_datasets=True`"):
        lean.dataset()


def test_tornado_implied_sensitivity_are_exported(ds):
    cfg = engine.load_config(ZHIPU)
    tor = engine.tornado(cfg, paths=100, seed=7, threads=1)
    assert tor["inputs"] and tor["paths"] == 100
    imp = engine.implied(cfg, max_horizon=20)
    assert imp["price"] == pytest.approx(cfg.price)
    g = engine.sensitivity(ds, with_tornado=False)["global"]
    assert g["paths"] == 600


@pytest.mark.parametrize("kind", ["hist", "cdf", "convergence", "fan"])
def test_plot_namespace_returns_figures(kind):
    from matplotlib.figure import Figure

    ds = engine.simulate(ZHIPU, paths=200, seed=1, threads=1, keep_paths=(kind == "fan"))
    fig = getattr(engine.plot, kind)(ds)
    assert isinstance(fig, Figure) and fig.axes
    assert any("[" in ax.get_xlabel() or "[" in ax.get_ylabel() for ax in fig.axes)  # axes carry units


def test_plot_tornado_from_a_given_result_and_fan_error_names_the_argument(ds):
    tor = engine.tornado(engine.load_config(ZHIPU), paths=100, seed=7, threads=1)
    fig = engine.plot.tornado(ds, tornado_result=tor)
    assert fig.axes[0].get_xlabel().startswith("median equity value [HKD million (whole equity)]")
    with pytest.raises(engine.InputError, match="`keep_paths=True`") as e:
        engine.plot.fan(ds)
    assert "--" not in str(e.value)


def test_run_to_target_equals_a_plain_run_of_the_final_paths():
    cfg = engine.load_config(ZHIPU)
    out, rec = engine.run_to_target(cfg, target_se=0.02, paths=100, max_paths=3200, threads=1)
    assert rec["paths"] == out.sizes["path"] and rec["met"] == (rec["se"] <= 0.02)
    plain = engine.simulate(cfg, paths=rec["paths"], threads=1)
    assert np.array_equal(out["value_per_share"].values, plain["value_per_share"].values)
    with pytest.raises(engine.InputError, match="target_se"):
        engine.run_to_target(cfg)


def test_library_messages_name_arguments_and_the_cli_reads_flags():
    assert flag_words("lower `paths` or set `keep_paths=False`") == "lower --paths or drop --keep-paths"
    assert flag_words("simulate with `keep_paths=True`") == "simulate with --keep-paths"
    assert flag_words("tornado quantiles `low` = 0.5, `high` = 0.2") == "tornado quantiles --low = 0.5, --high = 0.2"


def test_a_config_error_with_debug_raises_with_its_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[company]\nname = 3\n")
    r = CliRunner().invoke(main, ["validate", str(bad)])
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.output
    with pytest.raises(engine.ConfigError):
        CliRunner().invoke(main, ["validate", str(bad), "--debug"], catch_exceptions=False)
    p = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(bad), "--debug"], capture_output=True,
                       text=True, cwd=ROOT)
    assert p.returncode == 1 and "Traceback (most recent call last)" in p.stderr and "ConfigError" in p.stderr


def _engine_imports() -> dict:
    """{module: set of engine modules it imports} from every ``import`` statement (lazy ones included)."""
    mods = {}
    for f in (ROOT / "engine").rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    edges = {}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        out = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
                cands = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                cands = [a.name for a in node.names]
            else:
                continue
            # a submodule always imports its parent packages first: those edges are not cycles
            out |= {c for c in cands if c in mods and c != m and not m.startswith(c + ".")}
        edges[m] = out
    return edges


def test_no_import_cycle_in_engine():
    edges = _engine_imports()
    assert "engine.cli" in edges and "engine.views.tables" in edges
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles
    assert "engine.cli" not in set().union(*(v for k, v in edges.items() if k != "engine.cli"))


def test_every_engine_module_imports_in_a_fresh_interpreter_without_click_for_the_views():
    mods = sorted(m for m in _engine_imports() if m != "engine.cli")
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "assert 'click' not in sys.modules, 'click imported by the library'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr


def test_api_walkthrough_doctests():
    r = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                         optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert r.attempted > 10 and r.failed == 0
