"""Atomic file writing shared by the result, report and page writers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable
from .errors import InputError

__all__ = ["atomic_write", "check_output_file", "check_writable", "temp_beside"]


def atomic_write(path, write: Callable[[str], None], option: str = "path") -> Path:
    """Write a file atomically: ``write(tmp)`` to a temporary name in the same folder, then rename.

    An interrupted or failed write never leaves a file that looks complete, nor a
    temporary one. Missing parent folders are created; the file gets the usual
    permissions (0666 less the umask), not the temporary file's 0600.

    Parameters
    ----------
    path : str or Path
        The final file.
    write : callable(str)
        Writes the content to the temporary path it is given.
    option : str
        The argument named in error messages (the command line passes its flag).

    Returns
    -------
    Path

    Raises
    ------
    engine.errors.InputError
        The folder cannot be written, or writing failed; the message names ``option``
        and the path.
    """
    p = Path(path)
    tmp = temp_beside(p, option)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except OSError as e:
        _unlink(tmp)
        raise InputError(f"{option} {str(p)!r}: writing failed ({e.strerror or e}); no file was left") from None
    except BaseException:
        _unlink(tmp)
        raise
    return p


def temp_beside(path, option: str = "path") -> str:
    """Create (empty) and return a temporary file in ``path``'s folder, creating the folder if needed.

    For writing only; to check a path before the work use :func:`check_writable`,
    which creates nothing.

    Raises
    ------
    engine.errors.InputError
        The folder cannot be written; the message names ``option`` and the path.
    """
    p = Path(path)
    blocker = next((q for q in p.parents if q.exists() and not q.is_dir()), None)
    if blocker is not None:
        raise InputError(f"{option} {str(p)!r}: {str(blocker)!r} is a file, not a folder; choose another path")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    except OSError as e:
        raise InputError(f"{option} {str(p)!r}: cannot write there ({e.strerror or e}); choose a writable folder") \
            from None
    os.close(fd)
    return tmp


def check_writable(path, option: str = "path") -> None:
    """Refuse, before any work, an output path whose folder cannot be written, creating nothing.

    The check runs on the nearest folder that exists (the file's own, or the ancestor
    below which the missing folders would be made): a probe file is created there and
    removed at once. Missing folders are made only when the output is written
    (:func:`atomic_write`), so a run refused for bad input leaves no empty folder behind.

    Raises
    ------
    engine.errors.InputError
        A file stands where a folder is needed, or the folder cannot be written; the
        message names ``option`` and the path.
    """
    p = Path(path)
    blocker = next((q for q in p.parents if q.exists() and not q.is_dir()), None)
    if blocker is not None:
        raise InputError(f"{option} {str(p)!r}: {str(blocker)!r} is a file, not a folder; choose another path")
    base = next((q for q in p.parents if q.is_dir()), Path.cwd())
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=base)
    except OSError as e:
        raise InputError(f"{option} {str(p)!r}: cannot write there ({e.strerror or e}); choose a writable folder") \
            from None
    os.close(fd)
    _unlink(tmp)


def check_output_file(path, option: str = "path") -> None:
    """Refuse, before any work, an output file that is a folder or whose folder cannot be written.

    Creates nothing (see :func:`check_writable`).

    Raises
    ------
    engine.errors.InputError
        The message names ``option`` and the path.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {str(p)!r} is a folder; give a file name (an existing file is replaced)")
    check_writable(p, option)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
