"""Distribution specifications for uncertain model inputs.

Every uncertain input of a valuation (a growth rate, a margin, a discount
rate, ...) is described by a small *spec*: a frozen pydantic model whose
``kind`` names a family of distributions and whose other fields give its
parameters.  Each spec maps to a :mod:`scipy.stats` frozen distribution and is
sampled by the inverse-CDF method (:meth:`DistributionSpec.ppf`), so the same
code turns plain pseudo-random, Latin hypercube and scrambled Sobol uniforms
into draws of the input.

Kinds and their parameter forms (give exactly one form per spec):

==============  ===========================================================
``fixed``       ``value``
``normal``      ``mean, sd``  or  ``p5, p95``
``lognormal``   ``mean, sd`` (of the variable itself)  or  ``mu, sigma``
                (of its logarithm)  or  ``p5, p95``
``triangular``  ``min, mode, max``
``pert``        ``min, mode, max`` and optional ``lambda`` (default 4)
``uniform``     ``min, max``  or  ``p5, p95``
``beta``        ``alpha, beta``  or  ``mean, sd``; optional ``min``
                (default 0) and ``max`` (default 1) for a scaled beta
``truncnormal`` ``mean, sd`` (of the parent normal) and ``low`` and/or
                ``high`` (bounds in value units)
==============  ===========================================================

A table with no ``kind`` and only ``p5`` and ``p95`` is a 90 % interval
shorthand (like Squiggle's ``5 to 10``): lognormal when both ends are
positive, normal otherwise.

Wherever a number is accepted, a percentage string such as ``"8%"`` or
``"-40 %"`` is accepted too and means 0.08 / -0.40 (see :func:`parse_number`).

A parameter given as ``mean`` is stored in the attribute ``mean_`` because
``spec.mean()`` is the expected value of every kind (for a truncated normal
it differs from the parent's ``mean``).

The annotated type :data:`Param` is what configuration models use as a field
type: it accepts a bare number (a :class:`Fixed` spec), a percentage string or
a table, and yields a spec instance.
"""

from __future__ import annotations

import math
import numbers
from enum import Enum
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    TypeAdapter,
    model_validator,
)
from scipy import special
from .errors import InputError

__all__ = [
    "Z95",
    "Kind",
    "KINDS",
    "parse_number",
    "Number",
    "DistributionSpec",
    "Fixed",
    "Normal",
    "Lognormal",
    "Triangular",
    "Pert",
    "Uniform",
    "Beta",
    "TruncNormal",
    "Spec",
    "Param",
    "SPEC_CLASSES",
    "parse_param",
    "validation_message",
    "clean_message",
]

#: Standard normal 95th percentile, Phi^-1(0.95) = 1.6448536269514722.
Z95: float = float(special.ndtri(0.95))


class Kind(str, Enum):
    """Names of the distribution families (the ``kind`` field of a spec)."""

    FIXED = "fixed"
    NORMAL = "normal"
    LOGNORMAL = "lognormal"
    TRIANGULAR = "triangular"
    PERT = "pert"
    UNIFORM = "uniform"
    BETA = "beta"
    TRUNCNORMAL = "truncnormal"


#: Valid ``kind`` strings, in documentation order.
KINDS: tuple[str, ...] = tuple(k.value for k in Kind)

_NUMBER_HELP = (
    "give a number such as 0.08 or 1e6, or a percentage string such as '8%'"
)


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


def parse_number(v: Any) -> float:
    """Read a finite number, accepting percentage strings.

    Parameters
    ----------
    v : int, float, numpy number or str
        A real number, a numeric string such as ``"1e6"`` or ``"0.08"``, or a
        percentage string such as ``"8%"`` or ``"-40 %"`` (the number before
        ``%`` divided by 100). Surrounding white space is ignored.

    Returns
    -------
    float
        The value as a Python float; ``"8%"`` gives 0.08.

    Raises
    ------
    ValueError
        If `v` is a bool (a TOML ``true``/``false`` is not a number), is NaN
        or infinite, or is any other type or string. The message names the
        value and says what is accepted.
    """
    if isinstance(v, (bool, np.bool_)):
        raise InputError(
            f"{v!r} is a true/false value, not a number; {_NUMBER_HELP}"
        )
    if isinstance(v, str):
        text = v.strip()
        try:
            if text.endswith("%"):
                out = float(text[:-1].strip()) / 100.0
            else:
                out = float(text)
        except ValueError:
            raise InputError(
                f"cannot read {v!r} as a number; {_NUMBER_HELP}"
            ) from None
    elif isinstance(v, numbers.Real):
        out = float(v)
    else:
        raise InputError(
            f"{v!r} (type {type(v).__name__}) is not a number; {_NUMBER_HELP}"
        )
    if not math.isfinite(out):
        raise InputError(f"{v!r} is not a finite number; {_NUMBER_HELP}")
    return out


def validation_message(e: Any) -> str:
    """The user-facing text of a pydantic ``ValidationError`` raised while validating a spec.

    Each error becomes ``problem`` (the validator's own message, without
    pydantic's ``Value error,`` prefix, its ``[type=..., input_value=...]``
    suffix or its web address); several errors are joined by ``"; "``.

    Parameters
    ----------
    e : pydantic.ValidationError

    Returns
    -------
    str
    """
    out: list[str] = []
    for err in e.errors(include_url=False):
        msg = clean_message(str(err.get("msg", "")))
        if msg and msg not in out:
            out.append(msg)
    return "; ".join(out)


def clean_message(msg: str) -> str:
    """Strip pydantic's decorations from one error message.

    Removes the ``Value error, `` / ``Assertion failed, `` prefixes, any
    ``[type=..., input_value=..., input_type=...]`` suffix, pydantic web
    addresses and a nested ``N validation error(s) for X`` header, and turns
    ``Input should be`` into ``must be``.
    """
    import re

    lines = []
    for line in str(msg).splitlines():
        line = re.sub(r"\s*\[type=[^\]]*\]", "", line)
        if "errors.pydantic.dev" in line or re.match(r"^\s*\d+ validation errors? for ", line):
            continue
        line = line.strip()
        for prefix in ("Value error, ", "Assertion failed, "):
            if line.startswith(prefix):
                line = line[len(prefix):]
        line = line.replace("Input should be", "must be")
        if line:
            lines.append(line)
    # a nested error repeats the field name on a line of its own before its message: keep the message
    if len(lines) >= 2 and re.fullmatch(r"[\w.\[\]-]+", lines[0]):
        lines = lines[1:]
    return "; ".join(lines)


#: A float field that also accepts percentage and numeric strings.
Number = Annotated[float, BeforeValidator(parse_number)]


def _fmt(x: float) -> str:
    """Format a number compactly for error messages."""
    return format(float(x), ".6g")


# ---------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _cached_dist(spec: "DistributionSpec") -> Any:
    # Specs are frozen and hash/compare by their field values, so this cache
    # is keyed on the parameters and never goes stale after model_copy().
    return spec._make_dist()


#: u-resolution of the numerical inversion used for sampling (see ``DistributionSpec.sample_ppf``).
PINV_U_RESOLUTION = 1e-12


def _stats() -> Any:
    """:mod:`scipy.stats`, imported on first use.

    Its import takes about half a second (most of it scipy building docstrings): importing this module or
    :mod:`engine.config` (``pricedin schema``) does not pay it; the first frozen distribution does (a
    quantile, a support end or a mean of most kinds).
    """
    from scipy import stats

    return stats


#: Kinds whose exact scipy ppf is slow (an iterative inverse per value) and which are
#: sampled through a numerical-inversion table instead.
_PINV_KINDS = frozenset({"pert", "beta", "truncnormal"})


class _StdBeta:
    """Standard beta(a, b) density and CDF on [0, 1] for the numerical inversion (a, b >= 1)."""

    def __init__(self, a: float, b: float):
        self.a, self.b = a, b
        # Python floats, not numpy scalars: UNU.RAN calls pdf some 10^4 times per table, and numpy scalar
        # arithmetic is several times slower than float arithmetic (the values are the same doubles).
        self.am1, self.bm1 = float(a) - 1.0, float(b) - 1.0
        self.c = -float(special.betaln(a, b))

    def pdf(self, x: float) -> float:
        if not 0.0 < x < 1.0:
            return 0.0
        return math.exp(self.am1 * math.log(x) + self.bm1 * math.log1p(-x) + self.c)

    def cdf(self, x: float) -> float:
        return float(special.betainc(self.a, self.b, x))

    def support(self):
        return 0.0, 1.0


class _StdTruncNormal:
    """Standard normal truncated to [lo, hi]: density and CDF for the numerical inversion."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi
        self.f_lo = float(special.ndtr(lo))
        self.z = float(special.ndtr(hi)) - self.f_lo
        self.c = 1.0 / (math.sqrt(2.0 * math.pi) * self.z)

    def pdf(self, x: float) -> float:
        if not self.lo <= x <= self.hi:
            return 0.0
        return self.c * math.exp(-0.5 * x * x)

    def cdf(self, x: float) -> float:
        return (float(special.ndtr(x)) - self.f_lo) / self.z

    def support(self):
        return self.lo, self.hi


@lru_cache(maxsize=1024)
def _cached_pinv(spec: "DistributionSpec") -> Any:
    """Numerical inverse CDF of ``spec`` on its standard scale, or None if it cannot be built.

    Returns ``(gen, loc, scale)``: x = loc + scale * gen.ppf(u), where ``gen`` is
    scipy's NumericalInversePolynomial (UNU.RAN PINV) built on a lightweight
    standard density (building it on the frozen scipy distribution is about 5
    times slower, which matters for short runs).
    """
    import warnings

    from scipy.stats.sampling import NumericalInversePolynomial

    if spec.kind in ("pert", "beta"):
        a, b = spec.shape()
        if a < 1.0 or b < 1.0:
            return None  # unbounded density at an end: keep the exact ppf
        std, (lo, hi) = _StdBeta(a, b), (0.0, 1.0)
        loc, scale = spec.support()[0], spec.support()[1] - spec.support()[0]
        center = (a - 1.0) / (a + b - 2.0) if a + b > 2.0 else 0.5
        center = min(max(center, 1e-3), 1.0 - 1e-3)
    else:  # truncnormal
        lo, hi = spec.standard_bounds()
        std = _StdTruncNormal(lo, hi)
        loc, scale = spec.mean_, spec.sd
        step = 0.1 * min(1.0, hi - lo)
        center = 0.0 if lo < 0.0 < hi else (lo + step if lo >= 0.0 else hi - step)  # near the mode
        lo = lo if math.isfinite(lo) else -40.0
        hi = hi if math.isfinite(hi) else 40.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gen = NumericalInversePolynomial(std, domain=(lo, hi), center=center, u_resolution=PINV_U_RESOLUTION)
    except Exception:  # noqa: BLE001 - fall back to the exact ppf
        return None
    return gen, loc, scale


class DistributionSpec(BaseModel):
    """Base class of all distribution specs.

    Specs are immutable (``frozen``) pydantic models that compare and hash by
    their field values. Subclasses declare a ``kind`` literal, their
    parameter fields, the alternative parameter *forms* and a
    :meth:`_make_dist` that builds the scipy distribution.

    Notes
    -----
    A parameter given as ``mean`` is stored in the attribute ``mean_`` (and
    PERT's ``lambda`` in ``lambda_``), because :meth:`mean` is the method
    that returns the distribution's expected value for every kind. Input
    dicts, :meth:`to_dict` and constructor keywords use the plain names.

    The scipy distribution returned by :meth:`dist` is cached in a module
    level LRU cache keyed on the spec itself (its kind and field values), so
    it never leaks into equality, hashing or :meth:`model_copy`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: Alternative groups of required parameters (input names); exactly one
    #: group must be given.
    _FORMS: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: Attribute names of parameters that have defaults.
    _OPTIONAL: ClassVar[tuple[str, ...]] = ()
    #: Input names of parameters moved by :meth:`shifted` (and multiplied by
    #: :meth:`scaled`).
    _LOC_KEYS: ClassVar[tuple[str, ...]] = ()
    #: Input names of parameters multiplied by :meth:`scaled` only.
    _SCALE_KEYS: ClassVar[tuple[str, ...]] = ()

    # -- validation ---------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = {"kind"}
            for name, field in cls.model_fields.items():
                allowed.add(name)
                if field.alias:
                    allowed.add(field.alias)
            unknown = [k for k in data if k not in allowed]
            if unknown:
                kind = cls.model_fields["kind"].default
                names = ", ".join(repr(k) for k in unknown)
                params = ", ".join(cls._param_names())
                raise InputError(
                    f"{kind} distribution does not take {names}; "
                    f"its parameters are: {params}"
                )
        return data

    @classmethod
    def _param_names(cls) -> list[str]:
        out = []
        for name, field in cls.model_fields.items():
            if name != "kind":
                out.append(field.alias or name)
        return out

    @classmethod
    def _describe_forms(cls) -> str:
        return ", or ".join(" and ".join(f) for f in cls._FORMS)

    @classmethod
    def _attr(cls, key: str) -> str:
        """Attribute name of the parameter whose input name is `key`."""
        for name, field in cls.model_fields.items():
            if (field.alias or name) == key:
                return name
        return key

    def _param(self, key: str) -> Any:
        """Value of the parameter whose input name is `key`."""
        return getattr(self, self._attr(key))

    @model_validator(mode="after")
    def _validate_spec(self) -> "DistributionSpec":
        form_keys = {f for form in self._FORMS for f in form}
        given = {f for f in form_keys if self._param(f) is not None}
        if not any(set(form) == given for form in self._FORMS):
            kind = self.kind  # type: ignore[attr-defined]
            needs = self._describe_forms()
            if not given:
                raise InputError(f"{kind} distribution needs {needs}")
            got = ", ".join(sorted(given))
            if any(given <= set(form) for form in self._FORMS):
                raise InputError(
                    f"{kind} distribution needs {needs}; got only {got}"
                )
            raise InputError(
                f"{kind} distribution takes either {needs}, not a mix; got {got}"
            )
        self._check()
        return self

    def _form(self) -> tuple[str, ...]:
        """The parameter form that was given (one of ``_FORMS``)."""
        for form in self._FORMS:
            if all(self._param(f) is not None for f in form):
                return form
        raise AssertionError("unreachable: validated spec has no form")

    def _check(self) -> None:
        """Check parameter values; subclasses raise ValueError."""

    # -- scipy --------------------------------------------------------------

    def _make_dist(self) -> Any:
        raise NotImplementedError

    def dist(self) -> Any:
        """The equivalent scipy.stats frozen distribution (cached).

        Returns
        -------
        scipy.stats.rv_frozen
            Frozen distribution with the spec's parameters. The same object
            is returned for equal specs.
        """
        return _cached_dist(self)

    # -- common API -----------------------------------------------------------

    @property
    def is_fixed(self) -> bool:
        """True only for kind ``fixed`` (a constant input)."""
        return False

    def ppf(self, u: Any) -> np.ndarray:
        """Inverse CDF (quantile function) applied elementwise.

        Parameters
        ----------
        u : array_like of float, any shape
            Probabilities, normally in the open interval (0, 1). Values
            outside [0, 1] give NaN.

        Returns
        -------
        numpy.ndarray of float64, same shape as `u`
            The values x with P(X <= x) = u, in the units of the input.
        """
        u = np.asarray(u, dtype=np.float64)
        out = np.asarray(self.dist().ppf(u), dtype=np.float64).reshape(u.shape)
        # scipy computes a support end as loc + scale * (standard end), which
        # can miss the given bound by an ulp, and its ppf can overshoot too;
        # keep every draw inside the exact support.
        lo, hi = self.support()
        return np.clip(out, lo, hi, out=out)

    def sample_ppf(self, u: Any) -> np.ndarray:
        """Inverse CDF for sampling: exact where scipy's ppf is fast, else numerical inversion.

        PERT, beta and truncated normal are inverted with scipy's
        ``scipy.stats.sampling.NumericalInversePolynomial`` (UNU.RAN's PINV;
        Derflinger, Hoermann & Leydold 2010), built once per spec, with
        u-resolution ``PINV_U_RESOLUTION`` = 1e-12: every value x returned has
        ``|F(x) - u| < 1e-12``. It is about 20 times faster than the exact
        iterative inverse and deterministic, so the seed contract holds. Other
        kinds (and any spec whose table cannot be built) use :meth:`ppf`.

        Parameters
        ----------
        u : array_like of float, any shape
            Probabilities in (0, 1).

        Returns
        -------
        numpy.ndarray of float64, same shape as `u`
        """
        if self.kind not in _PINV_KINDS:
            return self.ppf(u)
        fast = _cached_pinv(self)
        if fast is None:
            return self.ppf(u)
        gen, loc, scale = fast
        u = np.asarray(u, dtype=np.float64)
        out = np.asarray(gen.ppf(u), dtype=np.float64).reshape(u.shape)
        out *= scale
        out += loc
        lo, hi = self.support()
        return np.clip(out, lo, hi, out=out)

    def support(self) -> tuple[float, float]:
        """The exact support ``(lo, hi)``; an unbounded end is -inf / inf.

        Returns
        -------
        (float, float)
            For bounded kinds the given bounds exactly (min and max, low and
            high), not scipy's ``loc + scale * end``.
        """
        lo, hi = self.dist().support()
        return float(lo), float(hi)

    def quantile(self, q: float) -> float:
        """The `q`-quantile of the distribution.

        Parameters
        ----------
        q : float
            Probability in [0, 1].

        Returns
        -------
        float
            x with P(X <= x) = q (the support end for q = 0 or 1, which may
            be infinite).

        Raises
        ------
        ValueError
            If `q` is not in [0, 1].
        """
        q = parse_number(q)
        if not 0.0 <= q <= 1.0:
            raise InputError(f"quantile level q = {_fmt(q)} must be in [0, 1]")
        return float(self.ppf(np.float64(q)))

    def median(self) -> float:
        """The median, ``quantile(0.5)``."""
        return self.quantile(0.5)

    def mean(self) -> float:
        """The expected value of the distribution."""
        return float(self.dist().mean())

    def bounds(self, tail: float = 1e-9) -> tuple[float, float]:
        """A practical range of the distribution.

        Parameters
        ----------
        tail : float, default 1e-9
            Probability left out on each unbounded side, in (0, 0.5).

        Returns
        -------
        (float, float)
            ``(lo, hi)``: the exact support end on a bounded side (for
            example min and max of a triangular, 0 for a lognormal's lower
            end), else ``ppf(tail)`` and ``ppf(1 - tail)``.

        Raises
        ------
        ValueError
            If `tail` is not in (0, 0.5).
        """
        tail = parse_number(tail)
        if not 0.0 < tail < 0.5:
            raise InputError(f"tail = {_fmt(tail)} must be in (0, 0.5)")
        s_lo, s_hi = self.support()
        lo = s_lo if math.isfinite(s_lo) else self.quantile(tail)
        hi = s_hi if math.isfinite(s_hi) else self.quantile(1.0 - tail)
        return lo, hi

    def draw_range(self) -> tuple[float, float]:
        """The smallest and largest value the sampler can draw.

        The samplers of :mod:`engine.sampling` keep every uniform in
        [2**-54, 1 - 2**-53], so a draw is never below ``sample_ppf(2**-54)``
        nor above ``sample_ppf(1 - 2**-53)``. A support end reached with
        probability zero is therefore not reached: a beta with alpha < 1 has
        support [0, 1], yet beta(0.321, 6.10) (mean 0.05, sd 0.08) draws at
        most about 0.9965.

        Returns
        -------
        (float, float)
            ``(lo, hi)`` in the input's units; finite for every kind.
        """
        u = np.array([2.0**-54, 1.0 - 2.0**-53])
        exact = self.ppf(u)
        fast = self.sample_ppf(u)
        return float(min(exact[0], fast[0])), float(max(exact[1], fast[1]))

    # -- output and transforms ----------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the spec in the form it was given.

        Returns
        -------
        dict
            ``{"kind": ..., <parameter>: float, ...}``: the kind, the
            parameters of the form that was given and any optional parameter
            that was set explicitly (``lambda`` under its input name), ready
            for TOML output.
        """
        out: dict[str, Any] = {"kind": self.kind}  # type: ignore[attr-defined]
        for name, field in type(self).model_fields.items():
            if name == "kind":
                continue
            v = getattr(self, name)
            if v is None:
                continue
            if name in self._OPTIONAL and name not in self.model_fields_set:
                continue
            out[field.alias or name] = v
        return out

    def _transform_params(self) -> dict[str, Any]:
        """Parameters used as the starting point of shifted()/scaled()."""
        return self.to_dict()

    def shifted(self, delta: Any) -> "DistributionSpec":
        """The same distribution moved by `delta` (X + delta).

        Parameters
        ----------
        delta : float or str
            Amount added to the variable, in its units ("1%" = 0.01).

        Returns
        -------
        DistributionSpec
            A new spec of the same kind and form with every location
            parameter (mean, p5, p95, min, mode, max, low, high, value)
            moved by `delta`; spreads are unchanged. A lognormal is an
            exception, see :meth:`Lognormal.shifted`.

        Raises
        ------
        ValueError
            If `delta` is not a number or the shifted spec is invalid.
        """
        delta = parse_number(delta)
        p = self._transform_params()
        for k in self._LOC_KEYS:
            if k in p:
                p[k] = p[k] + delta
        return self._revalidate(p, f"shifted by {_fmt(delta)}")

    def scaled(self, factor: Any) -> "DistributionSpec":
        """The same distribution multiplied by `factor` (factor * X).

        Parameters
        ----------
        factor : float or str
            Multiplier, > 0 for every kind but ``fixed`` (which takes any
            finite number).

        Returns
        -------
        DistributionSpec
            A new spec of the same kind and form with location and scale
            parameters (mean, sd, p5, p95, min, mode, max, low, high)
            multiplied by `factor`; shape parameters (alpha, beta, lambda,
            a lognormal's sigma) are unchanged and a lognormal's mu moves
            by ln(factor).

        Raises
        ------
        ValueError
            If `factor` is not a positive number or the result is invalid.
        """
        factor = parse_number(factor)
        if factor <= 0.0:
            raise InputError(
                f"factor = {_fmt(factor)} must be > 0 to scale a "
                f"{self.kind} distribution"  # type: ignore[attr-defined]
            )
        p = self._transform_params()
        for k in self._LOC_KEYS + self._SCALE_KEYS:
            if k in p:
                p[k] = p[k] * factor
        return self._revalidate(p, f"scaled by {_fmt(factor)}")

    def _revalidate(self, p: dict, how: str) -> "DistributionSpec":
        """Validate transformed parameters; an invalid result is an InputError naming the transform."""
        from pydantic import ValidationError

        for k, v in p.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise InputError(
                    f"{self.kind} distribution {how}: its {k} would be {v}, not a finite number; "  # type: ignore[attr-defined]
                    "give a smaller amount"
                )
        try:
            return type(self).model_validate(p)
        except ValidationError as e:
            raise InputError(f"{self.kind} distribution {how} is invalid: {validation_message(e)}") from None  # type: ignore[attr-defined]


def _require_positive(name: str, value: float | None, what: str) -> None:
    if value is not None and not value > 0.0:
        raise InputError(f"{name} = {_fmt(value)} must be > 0; give {what}")


def _require_ordered_p(p5: float | None, p95: float | None) -> None:
    if p5 is not None and p95 is not None and not p5 < p95:
        raise InputError(
            f"p5 = {_fmt(p5)} must be < p95 = {_fmt(p95)}; p5 is the 5th "
            "percentile (low end of the 90% interval) and p95 the 95th"
        )


def _require_min_max(lo: float, hi: float, lo_name: str = "min",
                     hi_name: str = "max") -> None:
    if not lo < hi:
        raise InputError(
            f"{lo_name} = {_fmt(lo)} must be < {hi_name} = {_fmt(hi)}; "
            f"give the lower bound as {lo_name} and the upper as {hi_name} "
            "(use kind = \"fixed\" for a constant)"
        )


def _require_mode(lo: float, mode: float, hi: float) -> None:
    if not lo <= mode <= hi:
        raise InputError(
            f"mode = {_fmt(mode)} must lie within [min, max] = "
            f"[{_fmt(lo)}, {_fmt(hi)}]; give the most likely value between "
            "min and max"
        )


# ---------------------------------------------------------------------------
# Kinds
# ---------------------------------------------------------------------------


class Fixed(DistributionSpec):
    """A constant input.

    Parameters
    ----------
    value : float
        The constant, in the input's units.
    """

    kind: Literal["fixed"] = "fixed"
    value: Number

    _FORMS = (("value",),)
    _LOC_KEYS = ("value",)

    @property
    def is_fixed(self) -> bool:
        return True

    def _make_dist(self) -> Any:
        # A one-point discrete distribution; ppf/quantile/bounds are
        # overridden so they return `value` everywhere.
        return _stats().rv_discrete(values=([self.value], [1.0]))()

    def ppf(self, u: Any) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        return np.full(u.shape, self.value, dtype=np.float64)

    def quantile(self, q: float) -> float:
        q = parse_number(q)
        if not 0.0 <= q <= 1.0:
            raise InputError(f"quantile level q = {_fmt(q)} must be in [0, 1]")
        return self.value

    def mean(self) -> float:
        return self.value

    def bounds(self, tail: float = 1e-9) -> tuple[float, float]:
        return self.value, self.value

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def scaled(self, factor: Any) -> "Fixed":
        factor = parse_number(factor)
        return Fixed(value=self.value * factor)


class Normal(DistributionSpec):
    """Normal distribution.

    Give either ``mean`` and ``sd``, or the 90 % interval ``p5`` and ``p95``
    (then mean = (p5 + p95) / 2 and sd = (p95 - p5) / (2 z95), with
    z95 = Phi^-1(0.95) = 1.6448536...).

    Parameters
    ----------
    mean, sd : float, optional
        Mean and standard deviation (sd > 0), in the input's units.
    p5, p95 : float, optional
        5th and 95th percentiles, p5 < p95.
    """

    kind: Literal["normal"] = "normal"
    mean_: Number | None = Field(None, alias="mean")
    sd: Number | None = None
    p5: Number | None = None
    p95: Number | None = None

    _FORMS = (("mean", "sd"), ("p5", "p95"))
    _LOC_KEYS = ("mean", "p5", "p95")
    _SCALE_KEYS = ("sd",)

    def _check(self) -> None:
        _require_positive("sd", self.sd, "the standard deviation as a positive number")
        _require_ordered_p(self.p5, self.p95)

    def loc_scale(self) -> tuple[float, float]:
        """``(mean, sd)`` of the distribution, whichever form was given."""
        if self.mean_ is not None:
            return self.mean_, self.sd  # type: ignore[return-value]
        p5, p95 = self.p5, self.p95
        return 0.5 * (p5 + p95), (p95 - p5) / (2.0 * Z95)  # type: ignore[operator]

    def _make_dist(self) -> Any:
        m, s = self.loc_scale()
        return _stats().norm(loc=m, scale=s)

    def mean(self) -> float:
        return self.loc_scale()[0]

    def ppf(self, u: Any) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        m, s = self.loc_scale()
        return np.asarray(m + s * special.ndtri(u), dtype=np.float64)


class Lognormal(DistributionSpec):
    """Lognormal distribution: ln X ~ Normal(mu, sigma).

    Give one of

    * ``mean`` and ``sd`` of X itself (mean > 0, sd > 0); then
      sigma^2 = ln(1 + sd^2 / mean^2) and mu = ln(mean) - sigma^2 / 2;
    * ``mu`` and ``sigma``, the mean and standard deviation of ln X;
    * the 90 % interval ``p5`` and ``p95`` (0 < p5 < p95); then
      mu = (ln p5 + ln p95) / 2 and sigma = (ln p95 - ln p5) / (2 z95).

    The scipy equivalent is ``lognorm(s=sigma, scale=exp(mu))``.

    Parameters
    ----------
    mean, sd : float, optional
        Mean and standard deviation of X, in the input's units.
    mu, sigma : float, optional
        Log-space location and scale (sigma > 0), dimensionless.
    p5, p95 : float, optional
        5th and 95th percentiles of X.
    """

    kind: Literal["lognormal"] = "lognormal"
    mean_: Number | None = Field(None, alias="mean")
    sd: Number | None = None
    mu: Number | None = None
    sigma: Number | None = None
    p5: Number | None = None
    p95: Number | None = None

    _FORMS = (("mean", "sd"), ("mu", "sigma"), ("p5", "p95"))
    _SCALE_KEYS = ("mean", "sd", "p5", "p95")

    def _check(self) -> None:
        if self.mean_ is not None and not self.mean_ > 0.0:
            raise InputError(
                f"mean = {_fmt(self.mean_)} must be > 0 for a lognormal (all its "
                "values are positive); use kind = \"normal\" for a quantity "
                "that can be zero or negative"
            )
        _require_positive("sd", self.sd, "the standard deviation as a positive number")
        _require_positive(
            "sigma", self.sigma,
            "the standard deviation of ln(X) as a positive number",
        )
        if self.p5 is not None and not self.p5 > 0.0:
            raise InputError(
                f"p5 = {_fmt(self.p5)} must be > 0 for a lognormal (all its "
                "values are positive); use kind = \"normal\" for an interval "
                "that includes zero or negative values"
            )
        _require_ordered_p(self.p5, self.p95)
        if self.mu is not None and self.sigma is not None and self.mu + 0.5 * self.sigma**2 > 700.0:
            raise InputError(
                f"mu = {_fmt(self.mu)}, sigma = {_fmt(self.sigma)}: the mean exp(mu + sigma^2/2) overflows; mu and "
                "sigma are the mean and sd of ln(X), so mu = ln(typical value) (e.g. mu = 7.6 for about 2000), "
                "or give the variable's own mean and sd"
            )

    def log_params(self) -> tuple[float, float]:
        """``(mu, sigma)``: mean and standard deviation of ln X."""
        form = self._form()
        if form == ("mu", "sigma"):
            return self.mu, self.sigma  # type: ignore[return-value]
        if form == ("mean", "sd"):
            m, s = self.mean_, self.sd
            sigma2 = math.log1p((s / m) ** 2)  # type: ignore[operator]
            return math.log(m) - 0.5 * sigma2, math.sqrt(sigma2)  # type: ignore[arg-type]
        lo, hi = math.log(self.p5), math.log(self.p95)  # type: ignore[arg-type]
        return 0.5 * (lo + hi), (hi - lo) / (2.0 * Z95)

    def moments(self) -> tuple[float, float]:
        """``(mean, sd)`` of X, whichever form was given."""
        if self.mean_ is not None:
            return self.mean_, self.sd  # type: ignore[return-value]
        mu, sigma = self.log_params()
        m = math.exp(mu + 0.5 * sigma * sigma)
        return m, m * math.sqrt(math.expm1(sigma * sigma))

    def _make_dist(self) -> Any:
        mu, sigma = self.log_params()
        return _stats().lognorm(s=sigma, scale=math.exp(mu))

    def mean(self) -> float:
        return self.moments()[0]

    def ppf(self, u: Any) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        mu, sigma = self.log_params()
        return np.asarray(np.exp(mu + sigma * special.ndtri(u)), dtype=np.float64)

    def shifted(self, delta: Any) -> "Lognormal":
        """A lognormal whose mean is moved by `delta`, keeping its sd.

        X + delta is not lognormal, so the shift is applied to the
        variable's mean: the result is ``Lognormal(mean=m + delta, sd=s)``
        (mean/sd form whatever form was given), where m, s are the current
        mean and sd.

        Parameters
        ----------
        delta : float or str
            Change of the mean, in the input's units.

        Returns
        -------
        Lognormal

        Raises
        ------
        ValueError
            If the new mean is not > 0.
        """
        delta = parse_number(delta)
        m, s = self.moments()
        return Lognormal(mean=m + delta, sd=s)

    def scaled(self, factor: Any) -> "Lognormal":
        factor = parse_number(factor)
        if factor <= 0.0:
            raise InputError(
                f"factor = {_fmt(factor)} must be > 0 to scale a lognormal "
                "distribution"
            )
        p = self.to_dict()
        if "mu" in p:
            p["mu"] = p["mu"] + math.log(factor)
            return Lognormal.model_validate(p)
        return super().scaled(factor)  # type: ignore[return-value]

    scaled.__doc__ = DistributionSpec.scaled.__doc__


class Triangular(DistributionSpec):
    """Triangular distribution on [min, max] with peak at mode.

    scipy equivalent: ``triang(c=(mode - min)/(max - min), loc=min,
    scale=max - min)``.

    Parameters
    ----------
    min, mode, max : float
        Lower end, most likely value and upper end; min < max and
        min <= mode <= max.
    """

    kind: Literal["triangular"] = "triangular"
    min: Number
    mode: Number
    max: Number

    _FORMS = (("min", "mode", "max"),)
    _LOC_KEYS = ("min", "mode", "max")

    def _check(self) -> None:
        _require_min_max(self.min, self.max)
        _require_mode(self.min, self.mode, self.max)

    def support(self) -> tuple[float, float]:
        return self.min, self.max

    def _make_dist(self) -> Any:
        width = self.max - self.min
        return _stats().triang(c=(self.mode - self.min) / width, loc=self.min, scale=width)


class Pert(DistributionSpec):
    """(Modified) PERT distribution: a scaled beta on [min, max].

    alpha = 1 + lambda (mode - min) / (max - min),
    beta  = 1 + lambda (max - mode) / (max - min),
    so the mean is (min + lambda mode + max) / (lambda + 2), i.e.
    (min + 4 mode + max) / 6 for the default lambda = 4 (Vose, *Risk
    Analysis: A Quantitative Guide*, 3rd ed., Wiley 2008, PERT distribution).

    Parameters
    ----------
    min, mode, max : float
        Lower end, most likely value and upper end; min < max and
        min <= mode <= max.
    lambda : float, default 4
        Shape (weight of the mode), > 0. Input name ``lambda``, attribute
        ``lambda_``.
    """

    kind: Literal["pert"] = "pert"
    min: Number
    mode: Number
    max: Number
    lambda_: Number = Field(4.0, alias="lambda")

    _FORMS = (("min", "mode", "max"),)
    _OPTIONAL = ("lambda_",)
    _LOC_KEYS = ("min", "mode", "max")

    def _check(self) -> None:
        _require_min_max(self.min, self.max)
        _require_mode(self.min, self.mode, self.max)
        _require_positive(
            "lambda", self.lambda_,
            "the PERT shape as a positive number (4 is the classic PERT)",
        )

    def shape(self) -> tuple[float, float]:
        """``(alpha, beta)`` of the underlying beta distribution."""
        width = self.max - self.min
        a = 1.0 + self.lambda_ * (self.mode - self.min) / width
        b = 1.0 + self.lambda_ * (self.max - self.mode) / width
        return a, b

    def support(self) -> tuple[float, float]:
        return self.min, self.max

    def _make_dist(self) -> Any:
        a, b = self.shape()
        return _stats().beta(a, b, loc=self.min, scale=self.max - self.min)


class Uniform(DistributionSpec):
    """Uniform distribution on [min, max].

    The 90 % interval form sets min and max so that the 5th and 95th
    percentiles are p5 and p95: width = (p95 - p5) / 0.9,
    min = p5 - 0.05 width, max = p95 + 0.05 width.

    Parameters
    ----------
    min, max : float, optional
        Ends of the interval, min < max.
    p5, p95 : float, optional
        5th and 95th percentiles, p5 < p95.
    """

    kind: Literal["uniform"] = "uniform"
    min: Number | None = None
    max: Number | None = None
    p5: Number | None = None
    p95: Number | None = None

    _FORMS = (("min", "max"), ("p5", "p95"))
    _LOC_KEYS = ("min", "max", "p5", "p95")

    def _check(self) -> None:
        if self.min is not None and self.max is not None:
            _require_min_max(self.min, self.max)
        _require_ordered_p(self.p5, self.p95)

    def interval(self) -> tuple[float, float]:
        """``(min, max)`` of the distribution, whichever form was given."""
        if self.min is not None:
            return self.min, self.max  # type: ignore[return-value]
        width = (self.p95 - self.p5) / 0.9  # type: ignore[operator]
        return self.p5 - 0.05 * width, self.p95 + 0.05 * width  # type: ignore[operator]

    def support(self) -> tuple[float, float]:
        return self.interval()

    def _make_dist(self) -> Any:
        lo, hi = self.interval()
        return _stats().uniform(loc=lo, scale=hi - lo)


class Beta(DistributionSpec):
    """Beta distribution, optionally scaled to [min, max].

    Give ``alpha`` and ``beta``, or ``mean`` and ``sd`` of the (scaled)
    variable. The mean/sd form uses the method of moments on the unit
    scale: m = (mean - min)/(max - min), v = sd^2/(max - min)^2,
    k = m (1 - m)/v - 1, alpha = m k, beta = (1 - m) k; it needs
    v < m (1 - m).

    Parameters
    ----------
    alpha, beta : float, optional
        Shape parameters, > 0.
    mean, sd : float, optional
        Mean (strictly between min and max) and standard deviation (> 0)
        in the input's units.
    min, max : float, default 0 and 1
        Ends of the support, min < max.
    """

    kind: Literal["beta"] = "beta"
    alpha: Number | None = None
    beta: Number | None = None
    mean_: Number | None = Field(None, alias="mean")
    sd: Number | None = None
    min: Number = 0.0
    max: Number = 1.0

    _FORMS = (("alpha", "beta"), ("mean", "sd"))
    _OPTIONAL = ("min", "max")
    _LOC_KEYS = ("min", "max", "mean")
    _SCALE_KEYS = ("sd",)

    def _check(self) -> None:
        _require_min_max(self.min, self.max)
        _require_positive("alpha", self.alpha, "the first shape parameter as a positive number")
        _require_positive("beta", self.beta, "the second shape parameter as a positive number")
        if self.mean_ is not None:
            if not self.min < self.mean_ < self.max:
                raise InputError(
                    f"mean = {_fmt(self.mean_)} must lie strictly between "
                    f"min = {_fmt(self.min)} and max = {_fmt(self.max)}; "
                    "set min and max to the range of the variable"
                )
            _require_positive("sd", self.sd, "the standard deviation as a positive number")
            width = self.max - self.min
            m = (self.mean_ - self.min) / width
            limit = math.sqrt(m * (1.0 - m)) * width
            if not self.sd < limit:  # type: ignore[operator]
                raise InputError(
                    f"sd = {_fmt(self.sd)} is too large for a beta with mean = "
                    f"{_fmt(self.mean_)} on [{_fmt(self.min)}, {_fmt(self.max)}]: "
                    f"sd must be < {_fmt(limit)} (sd^2 < m(1 - m) on the unit "
                    "scale); lower sd or widen min/max"
                )

    def shape(self) -> tuple[float, float]:
        """``(alpha, beta)``, whichever form was given."""
        if self.alpha is not None:
            return self.alpha, self.beta  # type: ignore[return-value]
        width = self.max - self.min
        m = (self.mean_ - self.min) / width  # type: ignore[operator]
        v = (self.sd / width) ** 2  # type: ignore[operator]
        k = m * (1.0 - m) / v - 1.0
        return m * k, (1.0 - m) * k

    def support(self) -> tuple[float, float]:
        return self.min, self.max

    def _make_dist(self) -> Any:
        a, b = self.shape()
        return _stats().beta(a, b, loc=self.min, scale=self.max - self.min)

    def _transform_params(self) -> dict[str, Any]:
        p = self.to_dict()
        p.setdefault("min", self.min)
        p.setdefault("max", self.max)
        return p


class TruncNormal(DistributionSpec):
    """Normal distribution truncated to [low, high].

    ``mean`` and ``sd`` are those of the parent (untruncated) normal, so the
    truncated distribution's own mean differs from ``mean`` unless the
    bounds are symmetric about it. Bounds are in value units; scipy's
    standardized bounds are a = (low - mean)/sd, b = (high - mean)/sd.
    Either bound may be omitted for one-sided truncation.

    Parameters
    ----------
    mean, sd : float
        Parent normal's mean and standard deviation (sd > 0).
    low, high : float, optional
        Lower and upper bounds (at least one), low < high.
    """

    kind: Literal["truncnormal"] = "truncnormal"
    mean_: Number = Field(alias="mean")
    sd: Number
    low: Number | None = None
    high: Number | None = None

    _FORMS = (("mean", "sd"),)
    _OPTIONAL = ("low", "high")
    _LOC_KEYS = ("mean", "low", "high")
    _SCALE_KEYS = ("sd",)

    def _check(self) -> None:
        _require_positive("sd", self.sd, "the standard deviation as a positive number")
        if self.low is None and self.high is None:
            raise InputError(
                "truncnormal distribution needs low and/or high (bounds in "
                "value units); use kind = \"normal\" for no truncation"
            )
        if self.low is not None and self.high is not None:
            _require_min_max(self.low, self.high, "low", "high")
        # the mass of the parent normal inside [low, high]: a window many sd away
        # from the mean holds (numerically) none of it and cannot be sampled
        a, b = self.standard_bounds()
        log_mass = special.log_ndtr(b) if a == -math.inf else (
            special.log_ndtr(-a) if b == math.inf else
            math.log(max(special.ndtr(b) - special.ndtr(a), special.ndtr(-a) - special.ndtr(-b), 0.0) or 1e-300)
        )
        if log_mass < math.log(1e-12):
            raise InputError(
                f"the window [low, high] = [{_fmt(self.low) if self.low is not None else '-inf'}, "
                f"{_fmt(self.high) if self.high is not None else 'inf'}] lies {min(abs(a), abs(b)):.3g} sd from "
                f"mean = {_fmt(self.mean_)}: the parent normal puts almost no probability there; move the mean "
                "inside the bounds or widen sd (mean and sd are those of the normal before truncation)"
            )

    def standard_bounds(self) -> tuple[float, float]:
        """``(a, b)``: the bounds in standard deviations from ``mean``."""
        a = -math.inf if self.low is None else (self.low - self.mean_) / self.sd
        b = math.inf if self.high is None else (self.high - self.mean_) / self.sd
        return a, b

    def support(self) -> tuple[float, float]:
        return (-math.inf if self.low is None else self.low,
                math.inf if self.high is None else self.high)

    def _make_dist(self) -> Any:
        a, b = self.standard_bounds()
        return _stats().truncnorm(a, b, loc=self.mean_, scale=self.sd)


SPEC_CLASSES: dict[str, type[DistributionSpec]] = {
    "fixed": Fixed,
    "normal": Normal,
    "lognormal": Lognormal,
    "triangular": Triangular,
    "pert": Pert,
    "uniform": Uniform,
    "beta": Beta,
    "truncnormal": TruncNormal,
}

#: Union of all spec classes, discriminated on ``kind``.
Spec = Annotated[
    Union[Fixed, Normal, Lognormal, Triangular, Pert, Uniform, Beta, TruncNormal],
    Discriminator("kind"),
]

_KIND_LIST = ", ".join(KINDS)


def _coerce_param(v: Any) -> Any:
    """Normalise a raw parameter value before spec validation.

    A bare number or numeric/percentage string becomes a ``fixed`` table, a
    table without ``kind`` but with exactly ``p5`` and ``p95`` becomes a
    lognormal (both ends > 0) or normal table, and ``kind`` is lower-cased
    and checked against the known kinds. Spec instances pass through.
    """
    if isinstance(v, DistributionSpec):
        return v
    if isinstance(v, (bool, np.bool_)):
        raise InputError(
            f"{v!r} is a true/false value, not a number or a distribution; "
            f"{_NUMBER_HELP}, or a table with kind = one of: {_KIND_LIST}"
        )
    if isinstance(v, (numbers.Real, str)):
        return {"kind": "fixed", "value": parse_number(v)}
    if isinstance(v, dict):
        if "kind" not in v:
            if set(v) == {"p5", "p95"}:
                p5, p95 = parse_number(v["p5"]), parse_number(v["p95"])
                kind = "lognormal" if p5 > 0.0 and p95 > 0.0 else "normal"
                return {"kind": kind, "p5": p5, "p95": p95}
            keys = ", ".join(repr(k) for k in v) or "none"
            raise InputError(
                f"distribution table has no 'kind' (keys: {keys}); add "
                f"kind = one of: {_KIND_LIST}; or give only p5 and p95 for a "
                "90% interval (lognormal if both > 0, else normal)"
            )
        kind = v["kind"]
        if isinstance(kind, Kind):
            kind = kind.value
        if not isinstance(kind, str) or kind.strip().lower() not in KINDS:
            raise InputError(
                f"unknown distribution kind {kind!r}; use one of: {_KIND_LIST}"
            )
        return {**v, "kind": kind.strip().lower()}
    raise InputError(
        f"{v!r} (type {type(v).__name__}) is not a number or a distribution; "
        f"{_NUMBER_HELP}, or a table with kind = one of: {_KIND_LIST}"
    )


#: Field type for an uncertain input in configuration models: accepts a
#: number, a percentage string or a table (with ``kind``, or the ``p5``/``p95``
#: shorthand) and yields a spec instance (a number gives :class:`Fixed`).
Param = Annotated[Spec, BeforeValidator(_coerce_param)]

_PARAM_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    Param, config=ConfigDict(title="distribution parameter")
)


def parse_param(v: Any) -> DistributionSpec:
    """Validate one input value as a distribution spec.

    Parameters
    ----------
    v : number, str, dict or DistributionSpec
        What a configuration file gives for an input (see :data:`Param`).

    Returns
    -------
    DistributionSpec
        The spec instance.

    Raises
    ------
    InputError
        If `v` is not a valid spec (a ValueError); the message is the
        validator's own text, without pydantic's decorations.
    """
    from pydantic import ValidationError

    try:
        return _PARAM_ADAPTER.validate_python(v)
    except ValidationError as e:
        raise InputError(validation_message(e)) from None
