"""The README's `pricedin update` example (Zhipu, a hypothetical 2026 MaaS revenue) runs as written.

The commands are read from the README's sections "Updating on reported figures", "When the figures are
surprising" and "A new price without a new run", so a renamed file, option or command there fails here.
They run through click's CliRunner at a small path count (``--paths`` and ``--target-ess`` scaled down).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from engine.cli import main
from engine.update import load_observations

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "zhipu_obs_2026_hypothetical.toml"
PATHS = 1000  # instead of the README's 20,000
SCALE = {"--paths": lambda n: PATHS, "--target-ess": lambda x: max(1, round(float(x) * PATHS / 20_000))}


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Updating on reported figures")
    return text[start:text.index("\n## ", start + 3)]


def _commands() -> list[list[str]]:
    """Every ``pricedin ...`` line of the section's bash blocks, comments dropped, as argv lists."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", _section(), flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("pricedin "):
                out.append(shlex.split(line)[1:])
    return out


def test_the_readme_names_the_example_file_and_labels_it_hypothetical():
    sec = _section()
    assert "examples/zhipu_obs_2026_hypothetical.toml" in sec and "hypothetical" in sec.lower()
    (o,) = load_observations(EXAMPLE)
    assert (o.quantity, o.segment, o.period, o.value, o.error.relative_sd) == ("revenue", "maas", "2026", 2500, 0.05)
    assert "HYPOTHETICAL" in EXAMPLE.read_text(encoding="utf-8")


def test_the_readme_commands_run(tmp_path, monkeypatch):
    cmds = _commands()
    kinds = [c[0] for c in cmds]
    assert kinds[0] == "run" and "update" in kinds and "report" in kinds, cmds
    assert any("--resample" in c for c in cmds) and any("--price" in c for c in cmds), cmds
    monkeypatch.chdir(tmp_path)
    seen = set()
    for argv in cmds:
        args = []
        for i, a in enumerate(argv):
            if i and argv[i - 1] in SCALE:
                a = str(SCALE[argv[i - 1]](a))
            elif (ROOT / a).exists() and not Path(a).is_absolute():
                a = str(ROOT / a)  # configs/..., examples/...: from the repository
            args.append(a)
        r = CliRunner().invoke(main, args, catch_exceptions=False, env={"COLUMNS": "200"})
        assert r.exit_code == 0, (argv, r.output)
        if argv[0] == "update":
            assert re.search(r"effective sample size \(Kish\) [\d,.]+", r.output), r.output
            assert "revenue maas 2026" in r.output and "P(today's price is justified), updated" in r.output
            if "--resample" in argv:
                assert re.search(r"pooled ESS of [\d,.]+", r.output) and "distinct ancestors" in r.output
                assert "effective n" in r.output
            seen.add("resample" if "--resample" in argv else "update")
        if "--price" in argv:
            assert "P(price is justified)" in r.output and "percentile of the price" in r.output
            seen.add("price")
    assert seen == {"update", "resample", "price"}
