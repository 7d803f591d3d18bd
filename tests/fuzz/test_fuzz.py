"""A short, fixed fuzz run in the suite: no case may hang or print a traceback, and no new failure may appear.

The cases are ``generate(SEED, CASES)`` (seeded: always the same 40). The failures the fuzzer
finds on today's code are listed in :data:`KNOWN` by case id: known, being fixed in other
branches. A case in it may fail as INTERNAL or SILENT; any other failure fails this test, and
so does a known case that now passes (shrink the list). Reproduce one case with
``python -m tests.fuzz --case 'ID'``.
"""

from __future__ import annotations

import pytest

from .core import CLASSES, Case, classify, generate, run_cases

SEED = 20260623
CASES = 40

#: Known failures (known, being fixed): case id -> the class it shows today.
KNOWN: dict = {}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return run_cases(generate(SEED, CASES), tmp_path_factory.mktemp("fuzz"), limit_s=120.0)


def test_the_same_seed_gives_the_same_cases():
    a, b = generate(SEED, CASES), generate(SEED, CASES)
    assert [c.id for c in a] == [c.id for c in b] and len(a) == CASES
    assert [c.id for c in generate(SEED + 1, CASES)] != [c.id for c in a]
    assert {c.family for c in a} == {"config", "stress", "cli", "results"}
    for c in a:
        assert Case.from_id(c.id) == c


def test_no_case_hangs_or_prints_a_traceback(outcomes):
    assert not [o.case.id for o in outcomes if o.cls == "HANG"]
    assert not [o.case.id for o in outcomes if "Traceback (most recent call last)" in o.output
                or o.reason.startswith("uncaught")]


def test_no_new_failure(outcomes):
    new = {o.case.id: f"{o.cls}: {o.reason}" for o in outcomes if o.cls != "OK" and o.case.id not in KNOWN}
    assert not new, "new fuzz failures (reproduce with python -m tests.fuzz --case ID):\n" + "\n".join(
        f"{k}\n    {v}" for k, v in new.items())


def test_known_failures_still_fail_as_listed(outcomes):
    """A known case that passes now (it was fixed) must leave :data:`KNOWN`, so the list only shrinks."""
    by_id = {o.case.id: o for o in outcomes}
    assert set(KNOWN) <= set(by_id), sorted(set(KNOWN) - set(by_id))
    fixed = [k for k, cls in KNOWN.items() if by_id[k].cls == "OK"]
    assert not fixed, f"fixed: remove from KNOWN: {fixed}"
    changed = {k: by_id[k].cls for k, cls in KNOWN.items() if by_id[k].cls not in ("OK", cls)}
    assert not changed, changed


class _R:
    """A stand-in CliRunner result for the classifier's own tests."""

    def __init__(self, code, out, exc=None):
        self.exit_code, self.output, self.stdout, self.exception = code, out, out, exc


def test_classifier():
    run = Case("config", "fixture", "margin/today", "nan", "run")
    dmg = Case("results", "run.nc", "price_nan", "damage", "report-json")
    j = ["run", "c.toml", "--json"]
    assert classify(run, _R(2, "error: margin.today = nan: give a finite number\n"), j)[0] == "OK"
    assert classify(run, _R(2, "Usage: pricedin run\nError: Invalid value for '--paths'\n"), j)[0] == "OK"
    assert classify(run, _R(2, "something went wrong\n"), j)[0] == "INTERNAL"
    assert classify(run, _R(1, "internal error: KeyError: 'x'\n"), j)[0] == "INTERNAL"
    assert classify(run, _R(1, "", KeyError("x")), j)[0] == "INTERNAL"
    assert classify(run, _R(0, '{"price": 10.0, "value_per_share": {"mean": null}}'), j) == (
        "SILENT", "null/non-finite in value_per_share.mean")
    assert classify(run, _R(0, '{"price": 10.0, "value_per_share": {"mean": 1.5}}'), j)[0] == "OK"
    # undefined by design (item 5): se at P = 0 or 1 and sd / se_mean of one path are null, not silent
    assert classify(run, _R(0, '{"price": 10.0, "p_justified": {"dcf": {"estimate": 1.0, "se": null}}}'), j)[0] == "OK"
    assert classify(run, _R(0, '{"price": 10.0, "p_justified": {"dcf": {"estimate": 0.5, "se": null}}}'), j)[0] == (
        "SILENT")
    assert classify(run, _R(0, '{"paths": 1, "price": 1.0, "value_per_share": {"sd": null, "mean": 2.0}}'), j)[0] == (
        "OK")
    assert classify(run, _R(0, '{"paths": 2, "price": 1.0, "value_per_share": {"sd": null}}'), j)[0] == "SILENT"
    assert classify(run, _R(0, "mean  nan\n"), ["run", "c.toml"])[0] == "SILENT"
    assert classify(dmg, _R(0, "{}"), ["report", "d.nc", "--json"])[0] == "SILENT"
    assert set(CLASSES) == {"OK", "INTERNAL", "SILENT", "HANG"}
