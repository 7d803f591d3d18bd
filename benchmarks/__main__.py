"""``python -m benchmarks [--quick] [--json] [--results FILE]``: run the benchmark and report it."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from .harness import FULL_DIST_SIZES, FULL_SIZES, QUICK_DIST_SIZES, QUICK_SIZES, format_table, run_benchmarks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1e4, 1e5, 1e6, keep_paths up to 1e5 (under a minute); default: full, adds 1e7")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
    ap.add_argument("--sizes", default=None, help="comma-separated path counts (overrides --quick)")
    ap.add_argument("--repeats", type=int, default=None, help="timings per case, best kept")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start runs")
    ap.add_argument("--no-distributed", action="store_true",
                    help="skip the distributed section (LocalCluster vs threads; 1e6 paths in --quick, 1e6 and 1e7 in full)")
    ap.add_argument("--monaco-paths", type=int, default=10_000, metavar="N",
                    help="cases of the monaco run of the standard model when monaco is installed (0: skip)")
    ap.add_argument("--results", default=None, metavar="FILE", help="also write the Markdown report to FILE")
    a = ap.parse_args(argv)
    if a.sizes:
        sizes = [int(float(s)) for s in a.sizes.split(",")]
        mode = "custom"
    else:
        sizes = QUICK_SIZES if a.quick else FULL_SIZES
        mode = "quick" if a.quick else "full"
    keep_max = 100_000 if mode == "quick" else None
    dist = None if a.no_distributed else (QUICK_DIST_SIZES if mode == "quick" else
                                           FULL_DIST_SIZES if mode == "full" else [s for s in sizes if s >= 100_000][-2:])
    res = run_benchmarks(sizes=sizes, repeats=a.repeats, keep_max_paths=keep_max, cold=not a.no_cold, mode=mode,
                         quiet=False, distributed_sizes=dist,
                         monaco_paths=a.monaco_paths)
    res["command"] = "python -m benchmarks " + " ".join(shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:]))
    table = format_table(res)
    if a.results:
        from .report import write_results

        write_results(res, a.results)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
