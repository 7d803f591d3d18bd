"""``python -m tests.golden [--update]``: compare a fresh Zhipu run to the golden snapshot, or rewrite it.

Without ``--update``: exit 0 when the fresh report matches ``tests/golden/zhipu_5000.json``,
else print the differences and exit 1. With ``--update``: write the fresh report there, and rewrite the
example outputs of the doctest walkthrough ``docs/api.md`` (:mod:`tests.golden.api_doc`).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import SNAPSHOT, differences, fresh


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="rewrite the snapshot from a fresh run")
    args = ap.parse_args(argv)
    report = fresh()
    if args.update:
        SNAPSHOT.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")
        print(f"wrote {SNAPSHOT}")
        from .api_doc import API_DOC, refresh

        print(f"{refresh()} example outputs of {API_DOC} rewritten")
        return 0
    diff = differences(json.loads(SNAPSHOT.read_text()), report)
    print("\n".join(diff) if diff else f"matches {SNAPSHOT}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
