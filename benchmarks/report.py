"""Write ``benchmarks/RESULTS.md`` from a results dict."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from .harness import format_table


def _source(res: dict) -> str:
    src = res.get("source") or {}
    mod = src.get("engine_modified")
    tail = f"; uncommitted changes in {', '.join(mod)}" if mod else ""
    return f"Source: commit {src.get('commit') or 'unknown'}{tail}."


def _load(m: dict) -> str:
    a, b = m.get("loadavg_at_start"), m.get("loadavg_at_end")
    if not a:
        return ""
    return (f" Load average (1, 5, 15 min) at the start {', '.join(map(str, a))}"
            + (f", at the end {', '.join(map(str, b))}" if b else "") + f" on {m['nproc']} CPUs.")


def write_results(res: dict, path) -> None:
    m = res["machine"]
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    text = [
        "# Benchmark results",
        "",
        f"Latest **{res['mode']}** run, {now} (took {res['elapsed_s']:.0f} s).",
        "",
        f"Command: `{res.get('command', 'python -m benchmarks')}`",
        "",
        f"Machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory_gib']} GiB; Python {m['python']}, "
        f"numpy {m['numpy']}, numba {m['numba']}, scipy {m['scipy']}; {m['platform']}. The machine was shared "
        "with other jobs while this ran: compare the ratios, which are measured back to back in one process, "
        "not the absolute times." + _load(m),
        "",
        _source(res),
        "",
        format_table(res),
    ]
    Path(path).write_text("\n".join(text) + "\n")
