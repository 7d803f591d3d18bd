"""The golden snapshot of the Zhipu summary: ``pricedin run configs/zhipu.toml --paths 5000 --seed 20260623 --json``.

:func:`fresh` runs the command in-process (click's ``CliRunner``) and returns its JSON
report minus the fields that measure the machine, not the model (:data:`VOLATILE`);
:func:`differences` compares two reports: strings, booleans, integers and ``null``
exactly, floats to :data:`RTOL` relative (the engine is bit-reproducible under the seed
contract, so any move is a change of the model, the sampler or the summary).
``python -m tests.golden --update`` rewrites :data:`SNAPSHOT`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).resolve().parent / "zhipu_5000.json"
ARGS = ["run", str(ROOT / "configs" / "zhipu.toml"), "--paths", "5000", "--seed", "20260623", "--json"]
#: Report fields that measure the run's speed, not its numbers.
VOLATILE = {"elapsed_s"}
RTOL = 1e-12
UPDATE = "python -m tests.golden --update"


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def fresh() -> dict:
    """The report of :data:`ARGS`, run now, without :data:`VOLATILE` fields."""
    from click.testing import CliRunner

    from engine.cli import main

    r = CliRunner().invoke(main, ARGS, catch_exceptions=False)
    if r.exit_code != 0:
        raise RuntimeError(f"pricedin {' '.join(ARGS)} exited {r.exit_code}:\n{r.output}")
    return _strip(json.loads(r.stdout))


def differences(expected, actual, where: str = "") -> list[str]:
    """Every place where ``actual`` differs from ``expected``, as ``"key.path: expected X, got Y"`` lines."""
    out = []
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k in sorted(set(expected) | set(actual)):
            p = f"{where}.{k}" if where else k
            if k not in actual:
                out.append(f"{p}: missing from the fresh run")
            elif k not in expected:
                out.append(f"{p}: new in the fresh run ({actual[k]!r})")
            else:
                out += differences(expected[k], actual[k], p)
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            out.append(f"{where}: {len(expected)} entries expected, got {len(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += differences(e, a, f"{where}[{i}]")
    elif type(expected) is float and type(actual) is float:
        if not (math.isclose(expected, actual, rel_tol=RTOL, abs_tol=0.0)
                or (math.isnan(expected) and math.isnan(actual))):
            out.append(f"{where}: expected {expected!r}, got {actual!r}")
    elif type(expected) is not type(actual) or expected != actual:
        out.append(f"{where}: expected {expected!r}, got {actual!r}")
    return out
