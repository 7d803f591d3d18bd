"""One error family for the whole library.

Every error that pricedin raises on purpose derives from :class:`PricedinError`, so a caller
(the command line, a notebook, a batch job) tells the user's mistakes from pricedin's own bugs
by type, never by where an exception was raised:

- :class:`InputError` -- the input is wrong (a config, a scenario file, a results file, an
  argument, a request larger than memory). The message names the key or argument, the value and
  a fix, in the words of the Python API (argument names, config keys); the command line adds its
  own flag names where they differ. It also derives from :class:`ValueError`, so code written
  against the earlier ``ValueError`` contract keeps working.
- :class:`InternalError` -- a state that valid input should never reach: a bug in pricedin.

Anything else that escapes the library (a ``ZeroDivisionError``, a ``KeyError``, a
``ValueError`` raised inside numpy or scipy) is, by this contract, a bug too.
"""

from __future__ import annotations

__all__ = ["PricedinError", "InputError", "InternalError"]


class PricedinError(Exception):
    """Base class of every error pricedin raises on purpose."""


class InputError(PricedinError, ValueError):
    """Bad input: the message names the key or argument, the value and the fix."""


class InternalError(PricedinError, RuntimeError):
    """A state that valid input cannot reach: a bug in pricedin; please report it."""
