"""``pricedin`` from its own command line ends without the interpreter's teardown (engine._cli_support.end_process),
with the same output, status, files and exit handlers as an ordinary exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import config_from_dict

from .conftest import ROOT, base_dict

# The command line as the console script runs it: main() reads sys.argv, whose first word is "pricedin" ("plain"),
# also with a profile hook attached ("profiled"), or a script of the user's that calls main() ("script"). An exit
# handler writes "exit handler ran" to stderr; "teardown reached" is written only if main() returns or raises.
_DRIVER = """
import atexit, sys
mode = sys.argv.pop(1)
sys.argv[0] = "my_batch.py" if mode == "script" else "pricedin"
atexit.register(lambda: print("exit handler ran", file=sys.stderr, flush=True))
if mode == "profiled":
    sys.setprofile(lambda *a: None)
from engine.cli import main
try:
    main()
finally:
    sys.setprofile(None)
    print("teardown reached", file=sys.stderr, flush=True)
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    p = tmp_path_factory.mktemp("end") / "co.toml"
    p.write_text(config_from_dict(base_dict()).to_toml())
    return str(p)


def _command(mode, *args):
    """(status, stdout, stderr) of ``pricedin ARGS`` run by :data:`_DRIVER` in ``mode``, in a fresh process."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout a buffered pipe, as for a user
    p = subprocess.run([sys.executable, "-c", _DRIVER, mode, *args], capture_output=True, text=True, cwd=ROOT,
                       timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.slow
def test_a_finished_run_ends_at_once_with_its_output_its_file_and_its_exit_handlers(config, tmp_path):
    import xarray as xr

    out = tmp_path / "run.nc"
    code, stdout, stderr = _command("plain", "run", config, "--paths", "64", "--quiet", "--out", str(out))
    assert code == 0, stderr
    # the whole report: the same as with the ordinary exit (a profiled process), but for the elapsed time
    code2, stdout2, _ = _command("profiled", "run", config, "--paths", "64", "--quiet")
    assert code2 == 0 and "P(today's price is justified)" in stdout
    assert stdout.splitlines()[-1] == f"results written to {out}"
    assert [ln for ln in stdout.splitlines()[:-1] if "elapsed" not in ln] == \
        [ln for ln in stdout2.splitlines() if "elapsed" not in ln]
    assert "exit handler ran" in stderr  # atexit handlers (multiprocessing, temporary folders) still run
    assert "teardown reached" not in stderr  # the process ended inside main(): no teardown after it
    with xr.open_dataset(out) as ds:  # the results file is whole
        assert ds.sizes["path"] == 64


@pytest.mark.slow
def test_statuses_are_kept_and_a_profiler_gets_the_ordinary_exit(config, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[company]\nname = 1\n")
    code, _, stderr = _command("plain", "validate", str(bad))
    assert code == 2 and stderr.startswith("error: ") and "exit handler ran" in stderr
    assert "teardown reached" not in stderr
    code, stdout, stderr = _command("plain", "--version")
    assert code == 0 and "pricedin" in stdout and "teardown reached" not in stderr
    # with a profile hook (python -m cProfile) the process goes on after main() to print or save its profile
    code, stdout, stderr = _command("profiled", "--version")
    assert code == 0 and "pricedin" in stdout
    assert "teardown reached" in stderr and "exit handler ran" in stderr
    # a script that calls main() itself gets its SystemExit back too
    code, stdout, stderr = _command("script", "--version")
    assert code == 0 and "pricedin" in stdout and "teardown reached" in stderr


@pytest.mark.parametrize("argv0, entry", [
    ("/home/me/.venv/bin/pricedin", True),       # the console script
    (str(ROOT / "engine" / "cli.py"), True),      # python -m engine.cli
    ("/usr/lib/python3/ipykernel_launcher.py", False),
    ("my_batch.py", False),
    ("-c", False),
])
def test_only_the_command_itself_ends_its_process(monkeypatch, argv0, entry):
    from engine.cli import _is_process_entry

    monkeypatch.setattr(sys, "argv", [argv0, "run"])
    assert _is_process_entry() is entry


@pytest.mark.slow
def test_the_command_starts_numpy_with_one_openblas_thread_unless_told(config):
    """numpy is not imported before the group's callback sets OPENBLAS_NUM_THREADS=1; a user's value is kept."""
    import os

    probe = ("import atexit, os, sys; sys.argv[0] = 'pricedin'; "
             "atexit.register(lambda: print('threads', os.environ.get('OPENBLAS_NUM_THREADS'), "
             "'numpy' in sys.modules, file=sys.stderr, flush=True)); "
             "from engine.cli import main; main()")
    for given, want in ((None, "1"), ("3", "3")):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        if given:
            env["OPENBLAS_NUM_THREADS"] = given
        p = subprocess.run([sys.executable, "-c", probe, "validate", config], capture_output=True, text=True,
                           cwd=ROOT, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        assert f"threads {want} True" in p.stderr  # numpy was imported by the command, after the setting


def test_what_exit_handlers_print_is_not_lost():
    """An exit handler that prints without flushing (stdout a pipe: block-buffered) still gets its text out."""
    driver = ("import atexit, sys; sys.argv[0] = 'pricedin'; "
              "atexit.register(lambda: (print('handler out'), print('handler err', file=sys.stderr))); "
              "from engine.cli import main\ntry:\n    main()\nfinally:\n    print('teardown reached', file=sys.stderr)")
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as for a user
    p = subprocess.run([sys.executable, "-c", driver, "--version"], capture_output=True, text=True, cwd=ROOT,
                       timeout=300, env=env)
    assert p.returncode == 0 and "pricedin" in p.stdout
    assert "teardown reached" not in p.stderr  # ended by end_process, not by the interpreter
    assert p.stdout.rstrip().endswith("handler out") and "handler err" in p.stderr


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_device_is_the_systems_error_not_a_bug(tmp_path):
    """stdout on a full device: exit 74 (EX_IOERR) with what failed and a fix, not 'internal error ... a bug'."""
    import os

    cfg = tmp_path / "c.toml"
    cfg.write_text((ROOT / "configs" / "zhipu.toml").read_text())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "engine.cli", "validate", str(cfg)], stdout=full,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=300)
    assert p.returncode == 74, p.stderr
    assert "cannot write the output: No space left on device" in p.stderr, p.stderr
    assert "internal error" not in p.stderr and "Traceback" not in p.stderr
