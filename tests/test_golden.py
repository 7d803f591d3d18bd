"""The published numbers: a fresh Zhipu run (5,000 paths, seed 20260623) against tests/golden/zhipu_5000.json."""

from __future__ import annotations

import json

from tests.golden import SNAPSHOT, UPDATE, differences, fresh


def test_zhipu_summary_matches_the_golden_snapshot():
    expected = json.loads(SNAPSHOT.read_text())
    diff = differences(expected, fresh())
    assert not diff, (
        f"the published numbers moved: if intended, regenerate with `{UPDATE}` and the README example in the "
        f"same commit. {len(diff)} differences:\n" + "\n".join(diff[:40]))


def test_differences_catches_a_move_in_the_last_bits():
    expected = {"a": 1, "b": [0.1, {"c": 2.0}], "d": None}
    assert differences(expected, {"a": 1, "b": [0.1, {"c": 2.0}], "d": None}) == []
    assert differences(expected, {"a": 1, "b": [0.1, {"c": 2.0 * (1 + 1e-11)}], "d": None}) == [
        f"b[1].c: expected 2.0, got {2.0 * (1 + 1e-11)!r}"]
    assert differences(expected, {"a": 2, "b": [0.1], "d": None}) == [
        "a: expected 1, got 2", "b: 2 entries expected, got 1"]
    assert differences({"n": 186}, {"n": 186.0}) == ["n: expected 186, got 186.0"]
    assert differences({"x": 1.0}, {}) == ["x: missing from the fresh run"]
