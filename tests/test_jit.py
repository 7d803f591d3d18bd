"""The numba kernel cache is keyed on pricedin's version and the compile options (engine._jit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numba

from engine import __version__
from engine._jit import OPTIONS, cache_dir

from .conftest import ROOT


def test_cache_dir_names_the_version_and_the_options_hash(tmp_path):
    d = cache_dir(version="1.2.3", root=tmp_path)
    assert d.parent == tmp_path
    version, digest = d.name.rsplit("-", 1)
    assert version == "1.2.3" and len(digest) == 12 and int(digest, 16) >= 0
    assert cache_dir(version="1.2.3", root=tmp_path) == d  # deterministic
    assert not d.exists()  # computing the name creates nothing


def test_changing_one_option_or_the_version_changes_the_folder(tmp_path):
    base = cache_dir(version="1.0", root=tmp_path)
    for key, value in (("fastmath", True), ("error_model", "python"), ("nogil", False)):
        assert cache_dir({**OPTIONS, key: value}, version="1.0", root=tmp_path) != base, key
    assert cache_dir({**OPTIONS, "boundscheck": True}, version="1.0", root=tmp_path) != base
    assert cache_dir(version="1.1", root=tmp_path) != base
    # the order in which options are written does not matter
    assert cache_dir(dict(reversed(list(OPTIONS.items()))), version="1.0", root=tmp_path) == base


_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import numba
import engine._jit as j
import kernel_mod
kernel_mod.add(1.0, 2.0)
print(json.dumps({"cache_dir": None if j.CACHE_DIR is None else str(j.CACHE_DIR),
                  "numba_cache_dir": numba.config.CACHE_DIR, "cache": kernel_mod.add._cache.__class__.__name__}))
"""


def _probe(tmp_path, **env):
    """Compile a tiny kernel through engine._jit.jit in a fresh interpreter; return its report."""
    mod = tmp_path / "src"
    mod.mkdir(exist_ok=True)
    (mod / "kernel_mod.py").write_text("from engine._jit import jit\n\n@jit\ndef add(a, b):\n    return a + b\n")
    e = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_DISABLE_JIT")}
    e.update(env)
    r = subprocess.run([sys.executable, "-c", _PROBE, str(mod)], cwd=ROOT, env=e, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), mod


def test_index_files_are_written_in_the_versioned_folder_under_xdg_cache_home(tmp_path):
    xdg = tmp_path / "xdg"
    rep, mod = _probe(tmp_path, XDG_CACHE_HOME=str(xdg))
    want = cache_dir(root=xdg / "pricedin")
    assert rep["cache_dir"] == str(want)
    assert want.name.startswith(f"{__version__}-")
    assert list(want.rglob("kernel_mod.add-*.nbi")), sorted(str(p) for p in xdg.rglob("*"))
    assert not list(mod.rglob("*.nbi"))  # nothing beside the source
    assert rep["numba_cache_dir"] == ""  # numba's own setting is restored for other libraries


def test_an_explicit_numba_cache_dir_is_respected(tmp_path):
    mine = tmp_path / "mine"
    rep, _ = _probe(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"), NUMBA_CACHE_DIR=str(mine))
    assert rep["cache_dir"] is None
    assert list(mine.rglob("kernel_mod.add-*.nbi"))
    assert not (tmp_path / "xdg").exists()


def test_unwritable_cache_folders_fall_back_without_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    # the user cache folder cannot be made: the temporary folder is used
    rep, _ = _probe(tmp_path, XDG_CACHE_HOME=str(blocker))
    assert Path(rep["cache_dir"]).parent.name.startswith("pricedin-cache-")


def test_no_writable_cache_folder_compiles_without_a_cache(tmp_path, monkeypatch):
    import tempfile

    import engine._jit as j

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setattr(j, "user_cache_root", lambda: blocker / "pricedin")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(blocker))
    assert j._choose_cache_dir() is None
    monkeypatch.setattr(j, "CACHE_DIR", None)
    monkeypatch.setattr(j, "_NO_CACHE", True)
    add = j.jit(lambda a, b: a + b)
    assert add(1.0, 2.0) == 3.0
    assert type(add._cache).__name__ == "NullCache"  # cache=False: compiled each start, never an error


def test_numba_version_is_part_of_the_key(tmp_path, monkeypatch):
    base = cache_dir(version="1.0", root=tmp_path)
    monkeypatch.setattr(numba, "__version__", numba.__version__ + ".post1")
    assert cache_dir(version="1.0", root=tmp_path) != base
