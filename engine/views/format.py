"""Number formatting shared by every view: the tables, the HTML page and the figures.

One module, so the terminal report, the web page and a notebook print a number the same way:

* :func:`money` -- an amount in the config's unit, with thousands separators (``1,234``,
  ``12.35``, ``0.1235``; ``scale`` fixes the decimals of a whole column);
* :func:`short` -- an amount in at most about 7 characters (``1.07M``, ``-137k``);
* :func:`pct` -- a fraction as a percentage with fixed decimals (``12.3%``);
* :func:`prob` -- a probability as a percentage with 3 significant digits (``0.0384%``);
* :func:`multiple` -- a multiple (``2.35x``);
* :func:`by_format` -- a value by its kind ('fraction', 'multiple', 'money', 'number');
* :func:`input_value` -- a drawn input's value (no exponent from 1,000 up);
* :func:`json_safe` -- NaN / infinity replaced by ``None`` for JSON;
* :func:`money_cells` -- a table's amounts with as many decimals as keep two different amounts apart;
* :func:`interval` -- a probability interval whose ends print differently when they differ;
* :func:`by_kind` / :func:`shift_by_kind` -- an input's value / an additive shift of it by its kind
  (fraction as % / percentage points, multiple as x, money with separators);
* :func:`significant` -- a small number with a few significant digits and no exponent (``0.000070``);
* :func:`count` -- a count with its noun, singular for one (``1 path``, ``2,000 paths``);
* :func:`change_cell` -- a signed change and its half-width (``-0.0005 ± 0.0003``), never ``-0.00``;
* :func:`value_label` / :func:`unit_value_label` -- what a run's values are: ``'value per share'`` or
  ``'equity value'``, from its ``per_share`` flag or its value unit.

One rule per kind of quantity, in every table: a fraction prints as %, money with
thousands separators, a multiple with "x", a probability as % with 3 significant digits.

Every formatter returns ``"n/a"`` for NaN or infinity, never ``"nan"``.
"""

from __future__ import annotations

import math
from typing import Optional

__all__ = ["money", "short", "pct", "prob", "multiple", "by_format", "input_value", "json_safe", "money_cells",
           "interval", "by_kind", "shift_by_kind", "significant", "count", "change_cell", "value_label", "unit_value_label"]


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def money(x: float, scale: Optional[float] = None, extra: int = 0) -> str:
    """An amount: 1,234 / 12.35 / 0.1235 by its size, or by ``scale`` (the column's largest) when given.

    Parameters
    ----------
    x : float
        The amount, in whatever unit the caller reports (the config's value unit).
    scale : float, optional
        The largest absolute amount of the column; its size sets the decimals, so
        a column reads 594 next to 4,747 rather than 594.06.
    extra : int
        More decimals (significant digits below 1) than the size rule gives; see
        :func:`money_cells`.

    Examples
    --------
    >>> money(1234.5), money(12.345), money(0.12345), money(594.06, scale=4747)
    ('1,234', '12.35', '0.1235', '594')
    """
    if not math.isfinite(x):
        return "n/a"
    a = abs(x) if scale is None else max(abs(x), scale)
    if a >= 1e15:
        return f"{x:.{3 + extra}e}"
    if a >= 1000:
        return f"{x:,.{extra}f}"
    if a >= 1:
        return f"{x:,.{2 + extra}f}"
    return f"{x:.{4 + extra}g}"


def money_cells(values, scale: Optional[float] = None, max_extra: int = 6) -> list:
    """Amounts of one table as :func:`money` strings, with as few extra decimals as keep them apart.

    Two different finite amounts never print the same string (up to ``max_extra``
    more decimals than :func:`money` gives; equal amounts print the same).

    Parameters
    ----------
    values : sequence of float
        The table's amounts (one unit per table column or row; NaN prints "n/a").
    scale : float, optional
        As in :func:`money`.

    Examples
    --------
    >>> money_cells([16.04, 16.0]), money_cells([1_070_000.0, 1_070_000.4])
    (['16.04', '16.00'], ['1,070,000.0', '1,070,000.4'])
    """
    vals = [float(v) for v in values]
    for extra in range(max_extra + 1):
        cells = [money(v, scale, extra) for v in vals]
        seen = {}
        if all(seen.setdefault(c, v) == v for c, v in zip(cells, vals) if math.isfinite(v)):
            return cells
    return cells


def interval(low: float, high: float) -> str:
    """A probability interval ``[low, high]`` as percentages, its ends printed apart when they differ.

    3 significant digits as :func:`prob`, more where they would print the same:
    the Wilson interval of 10,000 of 10,000 reads [99.96%, 100%], not [100%, 100%].
    Ends print without exponents, as :func:`prob` (1 of 200,000 paths: [0.0000883%, 0.00283%]).

    >>> interval(0.943, 1.0), interval(0.9996159, 1.0), interval(0.0, 3.84e-4)
    ('[94.3%, 100%]', '[99.96%, 100%]', '[0%, 0.0384%]')
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return "[n/a, n/a]"
    for sig in range(3, 10):
        lo, hi = (prob(x, sig) for x in (low, high))
        if lo != hi or low == high:
            return f"[{lo}, {hi}]"
    return f"[{lo}, {hi}]"


def by_kind(x, kind: str) -> str:
    """An input's value by its kind: 'fraction' as % with 2 decimals, 'multiple' as x, else money.

    >>> by_kind(0.06197, "fraction"), by_kind(12.5, "multiple"), by_kind(11450.2, "money")
    ('6.20%', '12.50x', '11,450')
    """
    if x is None or not _finite(x):
        return "n/a"
    if kind == "fraction":
        return f"{100 * x:.2f}%"
    if kind == "multiple":
        return multiple(x)
    return input_value(x)


def shift_by_kind(x, kind: str) -> str:
    """An additive shift of an input by its kind, signed: percentage points for a fraction.

    >>> shift_by_kind(-0.0312, "fraction"), shift_by_kind(1.5, "multiple"), shift_by_kind(-250.0, "money")
    ('-3.12 pp', '+1.50x', '-250')
    """
    if x is None or not _finite(x):
        return "n/a"
    if kind == "fraction":
        return f"{100 * x:+.2f} pp"
    if kind == "multiple":
        return f"{x:+.2f}x"
    return ("+" if x > 0 else "") + input_value(x)


def short(x: float) -> str:
    """A number in at most ~7 characters: 1.07M, -137k, 69.5k, 12.3, 0.0123.

    >>> short(1_070_000), short(-137_400), short(12.34)
    ('1.07M', '-137k', '12.3')
    """
    if not math.isfinite(x):
        return "n/a"
    a = abs(x)
    for lim, suf in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= lim:
            v = x / lim
            return f"{v:.3g}{suf}" if abs(v) < 100 else f"{v:.0f}{suf}"
    return f"{x:.3g}"


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals.

    >>> pct(0.1234), pct(0.1234, 2)
    ('12.3%', '12.34%')
    """
    return "n/a" if not math.isfinite(x) else f"{100 * x:.{digits}f}%"


#: Probabilities below this print as ``"<0.0000001%"`` (one path in a billion); the exact value is in ``--json``.
PROB_FLOOR = 1e-9


def prob(x: float, sig: int = 3) -> str:
    """A probability as a percentage with ``sig`` significant digits (0.0384%, 3.11%); exactly 0 is '0%'.

    A positive probability below :data:`PROB_FLOOR` (a weighted estimate whose weight sits on paths far from the
    reported figures, e.g. 7.8e-24) prints as ``"<0.0000001%"``; none prints in exponent notation (Python's
    ``g`` format where ``100 * x`` >= 1e-4, fixed notation without trailing zeros below). NaN or inf: 'n/a'.

    >>> prob(0.000384), prob(0.0311), prob(0.0), prob(7.8e-24), prob(1e-8), prob(1.234e-8)
    ('0.0384%', '3.11%', '0%', '<0.0000001%', '0.000001%', '0.00000123%')
    """
    if x == 0:
        return "0%"
    if not math.isfinite(x):
        return "n/a"
    if 0 < x < PROB_FLOOR:
        return "<0.0000001%"
    v = 100 * x
    if abs(v) >= 1e-4:
        return f"{v:.{sig}g}%"
    digits = sig - 1 - math.floor(math.log10(abs(v)))  # sig significant digits in fixed notation
    return f"{v:.{digits}f}".rstrip("0").rstrip(".") + "%"


def multiple(x: float) -> str:
    """A multiple with two decimals.

    >>> multiple(2.345)
    '2.35x'
    """
    return "n/a" if not math.isfinite(x) else f"{x:.2f}x"


def by_format(x, fmt: str) -> str:
    """A value formatted by its kind: 'fraction' as %, 'multiple' as 'x', 'money' and 'number' plainly.

    >>> by_format(0.25, "fraction"), by_format(3.0, "multiple"), by_format(1500.0, "money"), by_format(None, "money")
    ('25.0%', '3.00x', '1,500', 'n/a')
    """
    if x is None or not _finite(x):
        return "n/a"
    if fmt == "fraction":
        return f"{100 * x:.1f}%"
    if fmt == "multiple":
        return multiple(x)
    return money(x)


def input_value(x: float) -> str:
    """An input's value in a table: 11,450 (no exponent) from 1,000 up, 4 significant digits below.

    >>> input_value(11450.2), input_value(0.123456)
    ('11,450', '0.1235')
    """
    if not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1e3 else f"{x:.4g}"


def json_safe(obj):
    """``obj`` with every non-finite float (NaN, +/-inf) replaced by ``None``, recursively (JSON has no NaN).

    >>> json_safe({"a": [1.0, float("nan")], "b": float("inf")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj


def significant(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` significant digits in fixed-point notation (no exponent); exactly 0 is '0'.

    For standard errors and other small positive quantities that :func:`money` would print with an
    exponent. From 1e15 up the exponent form is kept (fixed point would be unreadable).

    Parameters
    ----------
    x : float
        The number (any unit; the caller adds it).
    digits : int
        Significant digits, >= 1.

    Examples
    --------
    >>> significant(7.0e-05), significant(0.01234), significant(3.0), significant(1234.5), significant(0.0)
    ('0.000070', '0.012', '3.0', '1,200', '0')
    """
    if not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 1e15:
        return f"{x:.{digits - 1}e}"
    # decimals that leave `digits` significant digits after rounding (0.0999 -> 0.10, not 0.100)
    r = float(f"{x:.{digits - 1}e}")
    dec = max(0, digits - 1 - math.floor(math.log10(abs(r))))
    return f"{r:,.{dec}f}"


def count(n: int, noun: str, plural: Optional[str] = None) -> str:
    """A count with thousands separators and its noun, singular for exactly one.

    >>> count(1, "path"), count(2000, "path"), count(0, "path")
    ('1 path', '2,000 paths', '0 paths')
    """
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def change_cell(est: float, half: float, scale: float = 1.0, decimals: int = 2, max_decimals: int = 12) -> str:
    """A signed change and its interval half-width, ``'-0.0005 ± 0.0003'``, in a stress change table.

    Both numbers are multiplied by ``scale`` (100 for percentage points of a fraction) and printed
    with one number of decimals: ``decimals``, or more until every nonzero one of the two shows a
    nonzero digit (up to ``max_decimals``). A number exactly 0 prints '0', a positive change gets '+',
    and no cell reads '-0.00' (negative zero): a change that rounds to zero at ``max_decimals`` prints
    '0'. An exactly zero change with a zero half-width is ``'0 ± 0'``.

    Parameters
    ----------
    est : float
        The change (estimate), in the quantity's unit before ``scale``.
    half : float
        The half-width of its interval, >= 0, same unit.
    scale : float
        Factor applied to both before printing (100: a fraction as percentage points).

    Examples
    --------
    >>> change_cell(-0.000005, 0.000003, 100), change_cell(-0.0001, 0.00002, 100), change_cell(0.0, 0.0)
    ('-0.0005 ± 0.0003', '-0.010 ± 0.002', '0 ± 0')
    >>> change_cell(0.0015, 0.0002, 100), change_cell(0.0, 0.00004, 100)
    ('+0.15 ± 0.02', '0 ± 0.004')
    """
    a, h = scale * est, scale * half
    if not (math.isfinite(a) and math.isfinite(h)):
        return "n/a"
    dec = decimals
    while dec < max_decimals and any(x != 0 and float(f"{abs(x):.{dec}f}") == 0 for x in (a, h)):
        dec += 1

    def one(x: float, signed: bool) -> str:
        t = f"{abs(x):.{dec}f}"
        if x == 0 or float(t) == 0:
            return "0"
        return ("-" if x < 0 else "+" if signed else "") + t

    return f"{one(a, True)} ± {one(h, False)}"


def value_label(per_share) -> str:
    """What a run's values are: 'value per share', or 'equity value' when the config gives no share count.

    ``per_share`` is the run's ``per_share`` attribute or report key (bool or 0 / 1); a config with
    ``market.market_cap`` alone values the whole equity, and every printed label says so.

    >>> value_label(True), value_label(0)
    ('value per share', 'equity value')
    """
    return "value per share" if bool(int(per_share)) else "equity value"


def unit_value_label(value_unit: str) -> str:
    """:func:`value_label` from a run's value unit, for a report dict that carries no ``per_share`` key.

    The value unit ends in "(whole equity)" exactly when the config gives no share count
    (:attr:`engine.config.Config.value_unit`).

    >>> unit_value_label("HKD/share"), unit_value_label("HKD million (whole equity)")
    ('value per share', 'equity value')
    """
    return value_label(not str(value_unit).endswith("(whole equity)"))
