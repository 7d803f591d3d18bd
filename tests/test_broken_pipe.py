"""A reader that closes stdout early (``pricedin run ... | head``) ends pricedin quietly with status 141."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.cli import EXIT_CLOSED_PIPE
from engine.config import config_from_dict

from .conftest import ROOT, base_dict


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    p = tmp_path_factory.mktemp("pipe") / "co.toml"
    p.write_text(config_from_dict(base_dict()).to_toml())
    return str(p)


def _with_closed_reader(*args):
    """Run pricedin with stdout a pipe whose reading end is already closed: every write fails with EPIPE."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "engine.cli", *args], stdout=w, stderr=subprocess.PIPE,
                           cwd=ROOT, timeout=300)
    finally:
        os.close(w)
    return p.returncode, p.stderr.decode()


def test_exit_status_is_128_plus_sigpipe():
    assert EXIT_CLOSED_PIPE == 128 + 13


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ("run", "{cfg}", "--paths", "64", "--quiet"),             # the report is printed by rich
    ("run", "{cfg}", "--paths", "64", "--quiet", "--json"),   # one click.echo
    ("validate", "{cfg}"),                                    # click.echo, then a line on stderr
])
def test_closed_reader_gives_status_141_and_nothing_on_stderr(config, args):
    code, err = _with_closed_reader(*(a.format(cfg=config) for a in args))
    assert code == EXIT_CLOSED_PIPE, err
    assert err == ""


@pytest.mark.slow
def test_head_closing_the_pipe_is_quiet(config):
    """The real case: ``| head -1`` reads one line and exits while pricedin may still be writing."""
    p = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", config, "--paths", "64", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    code = p.wait(timeout=300)
    assert first.startswith(b"Textbook Co: 64 paths")
    assert err == ""
    assert code in (0, EXIT_CLOSED_PIPE)  # 0 when the whole report fitted in the pipe before it was closed
