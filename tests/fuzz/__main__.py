"""``python -m tests.fuzz --seed S --cases N [--json]``: run N seeded fuzz cases and print a summary.

``--case ID`` re-runs one case (an id from a summary) and prints its command and output.
Exit status 0 when no case is INTERNAL, SILENT or HANG, else 1.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

from .core import CLASSES, Case, generate, kind_of, run_cases


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="seed of random.Random (default 0)")
    ap.add_argument("--cases", type=int, default=100, help="number of cases (default 100)")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per case before it counts as HANG")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--case", action="append", default=[], metavar="ID", help="run only this case id (repeatable)")
    ap.add_argument("--keep", metavar="DIR", help="write the cases' files into DIR (kept) instead of a temp folder")
    a = ap.parse_args(argv)
    cases = [Case.from_id(c) for c in a.case] if a.case else generate(a.seed, a.cases)
    verbose = bool(a.case)

    def progress(i, n, o):
        if not a.json:
            print(f"\r{i}/{n} cases", end="", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="pricedin-fuzz-") as tmp:
        folder = Path(a.keep) if a.keep else Path(tmp)
        outcomes = run_cases(cases, folder, a.limit, progress)
    if not a.json:
        print(file=sys.stderr)
    counts = collections.Counter(o.cls for o in outcomes)
    failing = [o for o in outcomes if o.cls != "OK"]
    kinds = collections.defaultdict(list)
    for o in failing:
        kinds[kind_of(o)].append(o.case.id)
    if a.json:
        print(json.dumps({"seed": a.seed, "cases": len(outcomes), "counts": {c: counts.get(c, 0) for c in CLASSES},
                          "kinds": {k: {"count": len(v), "example": v[0]} for k, v in sorted(kinds.items())},
                          "failing": [o.as_dict() for o in failing]}, indent=2))
    else:
        print(f"seed {a.seed}, {len(outcomes)} cases: "
              + ", ".join(f"{c} {counts.get(c, 0)}" for c in CLASSES))
        if kinds:
            print("\ndistinct kinds (count, one reproducing case id):")
            for k, ids in sorted(kinds.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                print(f"  {len(ids):4d}  {k}\n        --case '{ids[0]}'")
        if failing:
            print("\nfailing cases:")
            for o in failing:
                print(f"  [{o.cls}] {o.case.id}\n      pricedin {' '.join(o.args)}\n      {o.reason}")
        if verbose:
            for o in outcomes:
                print(f"\n=== {o.case.id}: {o.cls} (exit {o.exit_code}, {o.seconds:.2f} s)\n"
                      f"pricedin {' '.join(o.args)}\n{o.output}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
