"""The one place for numba settings.

Every kernel is compiled with the project defaults (:data:`OPTIONS`): nopython, ``nogil``
(blocks run on threads), ``cache=True`` (compiled code is kept on disk, so only the first
run compiles) and ``fastmath=False`` (results must be bit-reproducible). Set
``NUMBA_DISABLE_JIT=1`` to run the same kernels as plain Python (slow; used by the tests
that check the compiled and interpreted kernels agree).

Where the compiled kernels are kept
-----------------------------------
numba keys its on-disk cache on the kernel's source file and signature, not on the compile
options, and by default keeps it beside the source in site-packages, where it outlives
``pip uninstall``. A release that changed only :data:`OPTIONS` would then load kernels
compiled with the old ones. So the kernels are cached in a folder of their own,
:data:`CACHE_DIR` = ``<user cache>/pricedin/<version>-<options hash>``, where ``<user
cache>`` is ``$XDG_CACHE_HOME`` or ``~/.cache`` (``~/Library/Caches`` on macOS,
``%LOCALAPPDATA%`` on Windows) and the hash covers :data:`OPTIONS` and the numba version:
a new release or new options compile afresh, and removing ``<user cache>/pricedin``
clears everything. When that folder cannot be written the same name under the system's
temporary folder is used, and when neither can, kernels are compiled on every start
(``cache=False``), never an error. An explicit ``NUMBA_CACHE_DIR`` in the environment is
respected as given (the user then owns the keying). The folder is set only while
pricedin's own kernels are decorated: numba's setting for other libraries is unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import numba

__all__ = ["jit", "OPTIONS", "CACHE_DIR", "cache_dir", "user_cache_root"]

#: The compile options of every kernel (a kernel may override single ones in ``jit(...)``).
OPTIONS = dict(nopython=True, nogil=True, cache=True, fastmath=False, error_model="numpy")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pricedin")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def user_cache_root() -> Path:
    """The per-user cache folder of pricedin: ``$XDG_CACHE_HOME/pricedin`` or ``~/.cache/pricedin``.

    ``~/Library/Caches/pricedin`` on macOS and ``%LOCALAPPDATA%/pricedin`` on Windows
    (the platforms' conventions, as in the XDG Base Directory specification).
    """
    if os.environ.get("XDG_CACHE_HOME"):
        base = Path(os.environ["XDG_CACHE_HOME"])
    elif sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path.home() / ".cache"
    return base / "pricedin"


def cache_dir(options: Optional[dict] = None, version: Optional[str] = None, root: Optional[Path] = None) -> Path:
    """The kernel cache folder for these compile options and this pricedin version.

    Parameters
    ----------
    options : dict, optional
        Compile options (default :data:`OPTIONS`).
    version : str, optional
        pricedin's version (default: the installed one).
    root : Path, optional
        The folder that holds one subfolder per version (default :func:`user_cache_root`).

    Returns
    -------
    Path
        ``root / "<version>-<hash>"``, the hash being the first 12 hex digits of the
        SHA-256 of the options (as sorted JSON) and the numba version. Creates nothing.
    """
    opts = OPTIONS if options is None else options
    key = json.dumps({"options": opts, "numba": numba.__version__}, sort_keys=True, default=repr)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "._+-" else "_" for c in (version or _version()))
    return (root or user_cache_root()) / f"{safe}-{digest}"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.")
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def _choose_cache_dir() -> Optional[Path]:
    """The first writable of the user cache folder and its twin under the temporary folder; None if neither."""
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    for root in (user_cache_root(), Path(tempfile.gettempdir()) / f"pricedin-cache-{uid}"):
        folder = cache_dir(root=root)
        if _writable(folder):
            return folder
    return None


#: Where the compiled kernels are cached; ``None`` when ``NUMBA_CACHE_DIR`` is set (numba's own
#: setting is used) or when no folder could be written (kernels then compile on every start).
CACHE_DIR: Optional[Path] = None
_EXPLICIT = bool(os.environ.get("NUMBA_CACHE_DIR"))
_NO_CACHE = False
if not _EXPLICIT:
    CACHE_DIR = _choose_cache_dir()
    _NO_CACHE = CACHE_DIR is None


@contextlib.contextmanager
def _kernel_cache():
    """numba's cache folder set to :data:`CACHE_DIR` while a kernel is decorated (its cache is bound then)."""
    if CACHE_DIR is None:
        yield
        return
    old = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(CACHE_DIR)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = old


def jit(func=None, **overrides):
    """Compile ``func`` with the project's numba defaults (see module docstring).

    Parameters
    ----------
    func : callable, optional
        The kernel; without it, returns a decorator.
    **overrides
        Options that replace single entries of :data:`OPTIONS` for this kernel.
    """
    opts = dict(OPTIONS)
    opts.update(overrides)
    if _NO_CACHE:
        opts["cache"] = False

    def decorate(f):
        with _kernel_cache():
            return numba.jit(**opts)(f)

    if func is None:
        return decorate
    return decorate(func)
