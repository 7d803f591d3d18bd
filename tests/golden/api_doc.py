"""Rewrite the expected outputs of the doctest walkthrough ``docs/api.md`` from a fresh run.

``python -m tests.golden --update`` calls :func:`refresh`: each ``>>>`` example runs in order in one namespace
(as ``tests/test_api.py`` runs them) and its expected output is replaced by what it printed, so the walkthrough
shows the published numbers of the current model. The lines around the examples are left as they are.
"""

from __future__ import annotations

import doctest
from pathlib import Path

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


class _Recorder(doctest.DocTestRunner):
    def __init__(self):
        super().__init__(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        self.got = {}

    def report_failure(self, out, test, example, got):
        self.got[example.lineno] = got

    def report_unexpected_exception(self, out, test, example, exc_info):
        raise exc_info[1]


def refresh(path: Path = API_DOC) -> int:
    """Rewrite the outputs of ``path``'s examples that no longer match; return how many changed."""
    text = path.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "api_doc"}, path.name, str(path), 0)
    runner = _Recorder()
    runner.run(test, out=lambda s: None)
    lines = text.split("\n")
    for ex in sorted(test.examples, key=lambda e: -e.lineno):  # bottom up: line numbers above stay valid
        if ex.lineno not in runner.got:
            continue
        start = ex.lineno + ex.source.count("\n")
        old = ex.want.count("\n")
        indent = " " * ex.indent
        new = [indent + g for g in runner.got[ex.lineno].rstrip("\n").split("\n")]
        lines[start:start + old] = new
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(runner.got)
