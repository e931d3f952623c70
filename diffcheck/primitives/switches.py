"""Functions that switch between branches: extrema, clipping, steps, rounding, conditionals.

Each builder's first docstring line is its meaning in the README table.

>>> import sympy as sp
>>> u = sp.Symbol("u", real=True)
>>> FUNCTIONS["clip"].build(u, sp.Integer(0), sp.Integer(6))
Min(6, Max(0, u))
>>> FUNCTIONS["clamp_min"].build(u, sp.Integer(0))
Max(0, u)
"""

from __future__ import annotations

import sympy as sp

from diffcheck.primitives.guards import (
    ArgumentError,
    add,
    maximum,
    minimum,
    mul,
    piecewise,
    power,
)
from diffcheck.primitives.registry import FUNCTIONS, function  # noqa: F401 (doctests)

_HALF = sp.Rational(1, 2)

_MAX_AUTODIFF = ("torch.maximum/jnp.maximum split the gradient 0.5/0.5 at a tie; torch.max "
                 "over a dimension sends it all to one index.")


def _max(*args: sp.Expr) -> sp.Expr:
    """max(a, b, ...) = the largest argument (also maximum, amax)"""
    return maximum(*args)


function(_max, min_args=2, max_args=None, aliases="maximum amax", sample="max(x, 0)",
         smoothness="C0: kinks where the largest arguments tie", autodiff=_MAX_AUTODIFF)


def _min(*args: sp.Expr) -> sp.Expr:
    """min(a, b, ...) = the smallest argument (also minimum, amin)"""
    return minimum(*args)


function(_min, min_args=2, max_args=None, aliases="minimum amin", sample="min(x, 0)",
         smoothness="C0: kinks where the smallest arguments tie", autodiff=_MAX_AUTODIFF)


def _clip(u: sp.Expr, lo: sp.Expr | None = None, hi: sp.Expr | None = None) -> sp.Expr:
    """clip(u, lo, hi) = min(max(u, lo), hi); a bound that is None or left out does not apply"""
    if lo is None and hi is None:
        raise ArgumentError("needs a lower or an upper bound: clip(u, lo, hi), "
                            "where lo or hi may be None")
    clipped = u if lo is None else maximum(u, lo)
    return clipped if hi is None else minimum(clipped, hi)


function(_clip, max_args=3,
         keywords={"min": "lo", "max": "hi", "a_min": "lo", "a_max": "hi"},
         accepts_none=True, aliases="clamp", sample="clip(x, 0, 1)",
         smoothness="C0: kinks at x = lo and x = hi",
         autodiff="torch.clamp passes gradient 1 at a bound (lo <= u <= hi).")


def _clamp_min(u: sp.Expr, lo: sp.Expr) -> sp.Expr:
    """clamp_min(u, min) = max(u, min)"""
    return maximum(u, lo)


function(_clamp_min, min_args=2, max_args=2, keywords={"min": "lo"}, sample="clamp_min(x, 0)",
         smoothness="C0: kink at x = min")


def _clamp_max(u: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """clamp_max(u, max) = min(u, max)"""
    return minimum(u, hi)


function(_clamp_max, min_args=2, max_args=2, keywords={"max": "hi"}, sample="clamp_max(x, 0)",
         smoothness="C0: kink at x = max")


def _sign(u: sp.Expr) -> sp.Expr:
    """sign(u) = -1, 0 or 1"""
    return sp.sign(u)


function(_sign, smoothness="discontinuous: jump at x = 0",
         autodiff="The gradient is 0 everywhere in PyTorch and JAX.")


def _floor(u: sp.Expr) -> sp.Expr:
    """floor(u) = the largest integer <= u"""
    return sp.floor(u)


_STAIRCASE_AUTODIFF = "floor, ceil and round backpropagate 0 everywhere in PyTorch and JAX."
function(_floor, smoothness="discontinuous: jumps at the integers", autodiff=_STAIRCASE_AUTODIFF)


def _ceil(u: sp.Expr) -> sp.Expr:
    """ceil(u) = the smallest integer >= u"""
    return sp.ceiling(u)


function(_ceil, smoothness="discontinuous: jumps at the integers", autodiff=_STAIRCASE_AUTODIFF)


_ZERO = sp.Integer(0)


def _round(u: sp.Expr, decimals: sp.Expr = _ZERO) -> sp.Expr:
    """round(u, decimals=0) = floor(u*10**decimals + 1/2)/10**decimals: ties round up

    Python, NumPy and PyTorch round ties to even instead; that changes only the value at the
    jumps (u = k + 1/2), not where they are, so differentiability is the same.
    """
    if not decimals.is_Integer:
        raise ArgumentError("decimals must be an integer")
    scale = power(sp.Integer(10), decimals)
    return mul(sp.floor(add(mul(u, scale), _HALF)), power(scale, sp.Integer(-1)))


function(_round, max_args=2, keywords={"decimals": "decimals", "ndigits": "decimals"},
         smoothness="discontinuous: jumps at the half-integers", autodiff=_STAIRCASE_AUTODIFF)


def _heaviside(u: sp.Expr, h0: sp.Expr = _HALF) -> sp.Expr:
    """heaviside(u, h0=1/2) = 0 where u < 0, h0 at u = 0, 1 where u > 0"""
    return sp.Heaviside(u, h0)


function(_heaviside, max_args=2, keywords={"values": "h0"},
         smoothness="discontinuous: jump at x = 0",
         autodiff="torch.heaviside has no derivative (backward raises); jnp.heaviside's is 0.")


def _step(u: sp.Expr) -> sp.Expr:
    """step(u) = 1 where u >= 0, else 0 (heaviside(u, 1))"""
    return sp.Heaviside(u, 1)


function(_step, smoothness="discontinuous: jump at x = 0")


def _where(condition: sp.Basic, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """where(cond, a, b) = a where cond holds, else b"""
    return piecewise((a, condition), (b, True))


function(_where, min_args=3, max_args=3, condition_args=frozenset({0}),
         sample="where(x > 0, x, 0)",
         smoothness="as smooth as its branches where they meet (C0 for where(x > 0, x, 0))",
         sample_class="C0",
         autodiff="torch.where and jnp.where differentiate both branches and mask the "
                  "unselected one: inf or NaN there turns into NaN.")


def _Piecewise(*pairs: tuple[sp.Expr, sp.Basic]) -> sp.Expr:
    """Piecewise((a, cond1), (b, cond2), ..., (z, True)) = the value of the first true condition"""
    return piecewise(*pairs)


function(_Piecewise, max_args=None, pair_args=True,
         sample="Piecewise((x, x > 0), (-x, True))",
         smoothness="as smooth as its branches where they meet", sample_class="C0")
