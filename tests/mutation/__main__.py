"""``python -m tests.mutation``: mutation check of ``engine/model/*.py`` against the fast tests.

Each one-line mutant (see :mod:`tests.mutation.core`) is written into a temporary copy of
the repository, the fast subset (``tests/test_concepts.py``, ``tests/test_model.py``,
``tests/test_concepts_extra.py``; ``-x -q``) is run against it with ``NUMBA_DISABLE_JIT=1``,
and the mutant is reported killed, survived or timeout. Exit status 0 when the kill
rate is at least ``--target`` and every planted bug is killed, else 1.

Examples::

    python -m tests.mutation                      # everything: baseline, planted bugs, all mutants
    python -m tests.mutation --list               # the mutant ids only
    python -m tests.mutation --only financing.py  # the mutants whose id contains this text
    python -m tests.mutation --planted            # the planted bugs only, with the test that kills each
    python -m tests.mutation --json out.json      # also write every result as JSON
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import core


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the mutant ids and exit")
    ap.add_argument("--only", action="append", default=[],
                    help="run only the mutants whose id contains this text (repeatable: any of them)")
    ap.add_argument("--every", type=int, default=1,
                    help="run every K-th mutant of the deterministic order only (a quicker estimate)")
    ap.add_argument("--planted", action="store_true", help="run the planted bugs only")
    ap.add_argument("--no-planted", action="store_true", help="skip the planted bugs")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="seconds per mutant (default: 3 x the baseline run + 30)")
    ap.add_argument("--jobs", type=int, default=2, help="mutants run at a time (one repository copy each)")
    ap.add_argument("--quick", action="store_true",
                    help="skip the second stage (the slow margin-noise tests) for mutants that pass the rest: "
                         "their survivors are an upper bound")
    ap.add_argument("--target", type=float, default=0.90, help="kill rate below which the exit status is 1")
    ap.add_argument("--json", type=Path, help="write every result to this JSON file")
    args = ap.parse_args(argv)

    mutants = [m for m in core.generate() if not args.only or any(o in m.id for o in args.only)]
    mutants = mutants[:: max(args.every, 1)]
    if args.list:
        for m in mutants:
            print(f"{m.id}\t{m.old}  ->  {m.new}")
        print(f"{len(mutants)} mutants", file=sys.stderr)
        return 0

    # a terminated run unwinds like an interrupted one: children killed, files restored, the copy removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    core.preload()
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pricedin-mutation-") as tmp:
        copy = core.copy_tree(Path(tmp) / "repo")
        log = Path(tmp) / "pytest.log"
        tests = [t for t in core.FAST_TESTS if (copy / t).exists()]
        base = (core.run_tests(copy, tests, 3600, log, core.DESELECT + core.SECOND_STAGE) if args.quick
                else core.run_staged(copy, tests, 3600, log))
        if base.status != "survived":
            print(f"the fast tests fail without a mutant ({base.killer}):\n{log.read_text()[-3000:]}")
            return 1
        timeout = args.timeout or 3 * base.seconds + 30
        print(f"baseline: {', '.join(tests)} pass in {base.seconds:.1f} s; per-mutant timeout {timeout:.0f} s",
              flush=True)
        results: dict = {"baseline_s": base.seconds, "timeout_s": timeout, "planted": [], "mutants": []}

        bad_planted = 0
        if not args.no_planted:
            for name, r in core.run_planted(copy, timeout, log):
                print(f"planted  {r.status:9s} {r.seconds:6.1f}s  {name}  <- {r.killer}", flush=True)
                results["planted"].append({"bug": name, "status": r.status, "killer": r.killer})
                bad_planted += r.status != "killed"
        if args.planted:
            return 1 if bad_planted else 0

        counts = {"killed": 0, "survived": 0, "timeout": 0}
        copies = [copy] + [core.copy_tree(Path(tmp) / f"repo{j}") for j in range(1, args.jobs)]
        for i, (m, r) in enumerate(core.run_mutants(copies, mutants, tests, timeout, not args.quick), 1):
            counts[r.status] += 1
            print(f"[{i}/{len(mutants)}] {r.status:8s} {r.seconds:5.1f}s {m.id}  {m.old!r} -> {m.new!r}"
                  + (f"  <- {r.killer}" if r.status == "killed" else ""), flush=True)
            results["mutants"].append({"id": m.id, "old": m.old, "new": m.new, "status": r.status,
                                       "seconds": round(r.seconds, 2), "killer": r.killer})
    n = len(mutants)
    caught = counts["killed"] + counts["timeout"]
    rate = caught / n if n else 1.0
    elapsed = time.monotonic() - t_start
    print(f"\n{n} mutants: killed {counts['killed']}, timeout {counts['timeout']}, survived {counts['survived']}; "
          f"kill rate {rate:.1%} (timeouts count as killed); {elapsed / 60:.1f} min")
    results["mutants"].sort(key=lambda r: [int(x) if x.isdigit() else x for x in r["id"].split(":")])
    for m in results["mutants"]:
        if m["status"] == "survived":
            print(f"  survived {m['id']}  {m['old']!r} -> {m['new']!r}")
    results.update(counts=counts, kill_rate=rate, elapsed_s=elapsed)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if rate >= args.target and not bad_planted else 1


if __name__ == "__main__":
    sys.exit(main())
