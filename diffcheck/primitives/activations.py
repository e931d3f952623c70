"""Activation functions and robust losses, with the keywords PyTorch and JAX spell them with.

Each builder's first docstring line is its meaning in the README table. Keyword names follow
``torch.nn.functional`` (``min_val``, ``negative_slope``, ``lambd``, ``approximate``) and
``jax.nn`` (``alpha``, ``approximate=True``).

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> FUNCTIONS["hardtanh"].build(x, sp.Integer(-2), sp.Integer(2))
Min(2, Max(-2, x))
>>> FUNCTIONS["relu6"].build(x)
Min(6, Max(0, x))
>>> FUNCTIONS["hardshrink"].build(x)
Piecewise((x, (x > 1/2) | (x < -1/2)), (0, True))
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from diffcheck.primitives.guards import (
    ArgumentError,
    add,
    exact_decimal,
    exponential,
    maximum,
    minimum,
    mul,
    piecewise,
    power,
)
from diffcheck.primitives.registry import FUNCTIONS, function

_ONE = sp.Integer(1)
_HALF = sp.Rational(1, 2)
_INPLACE = frozenset({"inplace"})

#: what the frameworks return at the kink of a relu-shaped switch
_RELU_AUTODIFF = "PyTorch and JAX return relu'(0) = 0."


def _nonnegative(value: sp.Expr, what: str) -> None:
    """Refuse a parameter that must not be negative (a threshold written with a wrong sign)."""
    if value.is_number and value.is_negative:
        raise ArgumentError(f"{what} must not be negative, got {value}")


def _positive(value: sp.Expr, what: str) -> None:
    if value.is_number and not value.is_positive:
        raise ArgumentError(f"{what} must be positive, got {value}")


def _sigmoid(u: sp.Expr) -> sp.Expr:
    """sigmoid(u) = 1/(1 + exp(-u)) (also expit)"""
    return 1 / (1 + exponential(-u))


function(_sigmoid, aliases="expit", smoothness="Cinf")


def _logsigmoid(u: sp.Expr) -> sp.Expr:
    """logsigmoid(u) = log(sigmoid(u)) = -log(1 + exp(-u)) (also log_sigmoid)"""
    return -sp.log(1 + exponential(-u))


function(_logsigmoid, aliases="log_sigmoid", smoothness="Cinf")


def _softplus(u: sp.Expr, beta: sp.Expr = _ONE, threshold: sp.Expr | None = None) -> sp.Expr:
    """softplus(u, beta=1, threshold=20) = log(1 + exp(beta*u))/beta

    PyTorch returns ``u`` itself where ``beta*u > threshold``: there its value differs from
    the formula by log1p(exp(-threshold))/beta (2e-9 at the default), a jump that small.
    diffcheck analyses the formula, which is what the user means; the threshold is kept in
    the program as written (``Node.keyword("threshold")``) for the autodiff stage.
    """
    _positive(beta, "softplus: beta")
    return mul(sp.log(1 + exponential(mul(beta, u))), power(beta, sp.Integer(-1)))


function(_softplus, max_args=3, keywords={"beta": "beta", "threshold": "threshold"},
         smoothness="Cinf (the formula; see the note on PyTorch's threshold)",
         autodiff="torch.nn.functional.softplus switches to the identity where "
                  "beta*u > threshold (default 20): a jump of log1p(exp(-threshold))/beta "
                  "(2e-9) in value and of sigmoid(threshold) - 1 in slope, which float32 cannot "
                  "see; jax.nn.softplus has no threshold.")


def _relu(u: sp.Expr) -> sp.Expr:
    """relu(u) = max(u, 0)"""
    return maximum(u, sp.Integer(0))


function(_relu, ignored_keywords=_INPLACE, smoothness="C0: kink at x = 0",
         autodiff=_RELU_AUTODIFF)


def _relu6(u: sp.Expr) -> sp.Expr:
    """relu6(u) = min(max(u, 0), 6)"""
    return minimum(maximum(u, sp.Integer(0)), sp.Integer(6))


function(_relu6, ignored_keywords=_INPLACE, smoothness="C0: kinks at x = 0 and x = 6",
         autodiff="PyTorch and JAX pass gradient 0 at u = 0 and at u = 6 (only 0 < u < 6 "
                  "passes it).")


_ONE_PERCENT = sp.Rational(1, 100)


def _leaky_relu(u: sp.Expr, negative_slope: sp.Expr = _ONE_PERCENT) -> sp.Expr:
    """leaky_relu(u, negative_slope=0.01) = u where u > 0, else negative_slope*u"""
    return piecewise((u, u > 0), (mul(negative_slope, u), True))


function(_leaky_relu, max_args=2, keywords={"negative_slope": "negative_slope"},
         ignored_keywords=_INPLACE, smoothness="C0: kink at x = 0 (unless negative_slope = 1)",
         autodiff="PyTorch returns negative_slope at u = 0, JAX 1 (x >= 0 selects u).")


def _elu(u: sp.Expr, alpha: sp.Expr = _ONE) -> sp.Expr:
    """elu(u, alpha=1) = u where u > 0, else alpha*(exp(u) - 1)"""
    return piecewise((u, u > 0), (mul(alpha, exponential(u) - 1), True))


function(_elu, max_args=2, keywords={"alpha": "alpha"}, ignored_keywords=_INPLACE,
         smoothness="C1 for alpha = 1 (C0 otherwise: kink at x = 0)")

#: SELU's constants as published (Klambauer et al. 2017) and used by PyTorch and JAX
SELU_ALPHA = exact_decimal("1.6732632423543772848170429916717")
SELU_SCALE = exact_decimal("1.0507009873554804934193349852946")


def _selu(u: sp.Expr) -> sp.Expr:
    """selu(u) = scale*elu(u, alpha), alpha = 1.6733, scale = 1.0507"""
    return mul(SELU_SCALE, _elu(u, SELU_ALPHA))


function(_selu, ignored_keywords=_INPLACE,
         smoothness="C0: kink at x = 0 (slopes 1.0507 and 1.7581)")


def _celu(u: sp.Expr, alpha: sp.Expr = _ONE) -> sp.Expr:
    """celu(u, alpha=1) = u where u > 0, else alpha*(exp(u/alpha) - 1)"""
    _positive(alpha, "celu: alpha")
    scaled = mul(u, power(alpha, sp.Integer(-1)))
    return piecewise((u, u > 0), (mul(alpha, exponential(scaled) - 1), True))


function(_celu, max_args=2, keywords={"alpha": "alpha"}, ignored_keywords=_INPLACE,
         smoothness="C1: the second derivative jumps from 1/alpha to 0 at x = 0")

_GELU_CUBIC = exact_decimal("0.044715")


def _gelu(u: sp.Expr, approximate: Any = "none") -> sp.Expr:
    """gelu(u) = u*Phi(u) = u*(1 + erf(u/sqrt(2)))/2; approximate='tanh' (or True) uses tanh

    PyTorch's default is the erf form (``approximate='none'``); ``jax.nn.gelu`` defaults to the
    tanh form (``approximate=True``). Both are C-infinity, so the verdict is the same; diffcheck
    uses the erf form unless ``approximate`` is given.
    """
    if approximate in ("tanh", True):
        inner = mul(sp.sqrt(2 / sp.pi), add(u, mul(_GELU_CUBIC, power(u, sp.Integer(3)))))
        return mul(_HALF, u, 1 + sp.tanh(inner))
    return mul(_HALF, u, 1 + sp.erf(mul(u, power(sp.sqrt(2), sp.Integer(-1)))))


function(_gelu, options={"approximate": frozenset({"none", "tanh", True, False})},
         smoothness="Cinf")


def _silu(u: sp.Expr) -> sp.Expr:
    """silu(u) = u*sigmoid(u) (also swish)"""
    return mul(u, _sigmoid(u))


function(_silu, aliases="swish", ignored_keywords=_INPLACE, smoothness="Cinf")


def _mish(u: sp.Expr) -> sp.Expr:
    """mish(u) = u*tanh(softplus(u))"""
    return mul(u, sp.tanh(sp.log(1 + exponential(u))))


function(_mish, ignored_keywords=_INPLACE, smoothness="Cinf")


def _softsign(u: sp.Expr) -> sp.Expr:
    """softsign(u) = u/(1 + |u|) (also soft_sign)"""
    return mul(u, power(1 + sp.Abs(u), sp.Integer(-1)))


function(_softsign, aliases="soft_sign",
         smoothness="C1: the second derivative jumps from 2 to -2 at x = 0")


def _hardtanh(u: sp.Expr, lo: sp.Expr = -_ONE, hi: sp.Expr = _ONE) -> sp.Expr:
    """hardtanh(u, min_val=-1, max_val=1) = min(max(u, min_val), max_val) (also hard_tanh)"""
    return minimum(maximum(u, lo), hi)


function(_hardtanh, max_args=3, keywords={"min_val": "lo", "max_val": "hi"}, aliases="hard_tanh",
         ignored_keywords=_INPLACE, smoothness="C0: kinks at x = -1 and x = 1",
         autodiff="PyTorch passes gradient 0 at the bounds (min_val < u < max_val only); "
                  "jax.nn.hard_tanh passes 1 there.")


def _hardsigmoid(u: sp.Expr) -> sp.Expr:
    """hardsigmoid(u) = relu6(u + 3)/6 (also hard_sigmoid)"""
    return _relu6(u + 3) / 6


function(_hardsigmoid, aliases="hard_sigmoid", ignored_keywords=_INPLACE,
         smoothness="C0: kinks at x = -3 and x = 3")


def _hardswish(u: sp.Expr) -> sp.Expr:
    """hardswish(u) = u*relu6(u + 3)/6 (also hard_swish, hard_silu)"""
    return mul(u, _relu6(u + 3)) / 6


function(_hardswish, aliases="hard_swish hard_silu", ignored_keywords=_INPLACE,
         smoothness="C0: kinks at x = -3 and x = 3")


def _softshrink(u: sp.Expr, lambd: sp.Expr = _HALF) -> sp.Expr:
    """softshrink(u, lambd=0.5) = u - lambd where u > lambd, u + lambd where u < -lambd, else 0"""
    _nonnegative(lambd, "softshrink: lambd")
    return piecewise((u - lambd, u > lambd), (u + lambd, u < -lambd), (sp.Integer(0), True))


function(_softshrink, max_args=2, keywords={"lambd": "lambd"},
         smoothness="C0: kinks at x = -lambd and x = lambd")


def _hardshrink(u: sp.Expr, lambd: sp.Expr = _HALF) -> sp.Expr:
    """hardshrink(u, lambd=0.5) = u where |u| > lambd, else 0"""
    _nonnegative(lambd, "hardshrink: lambd")
    return piecewise((u, (u > lambd) | (u < -lambd)), (sp.Integer(0), True))


function(_hardshrink, max_args=2, keywords={"lambd": "lambd"},
         smoothness="discontinuous: jumps at x = -lambd and x = lambd")


def _tanhshrink(u: sp.Expr) -> sp.Expr:
    """tanhshrink(u) = u - tanh(u)"""
    return u - sp.tanh(u)


function(_tanhshrink, smoothness="Cinf")


def _threshold(u: sp.Expr, threshold: sp.Expr, value: sp.Expr) -> sp.Expr:
    """threshold(u, threshold, value) = u where u > threshold, else value"""
    return piecewise((u, u > threshold), (value, True))


function(_threshold, min_args=3, max_args=3, keywords={"threshold": "threshold", "value": "value"},
         ignored_keywords=_INPLACE, sample="threshold(x, 1, 0)",
         smoothness="discontinuous: jump at x = threshold (C0 when value = threshold)")


def _huber(r: sp.Expr, delta: sp.Expr = _ONE) -> sp.Expr:
    """huber(r, delta=1) = r**2/2 where |r| <= delta, else delta*(|r| - delta/2)"""
    return piecewise(
        (power(r, sp.Integer(2)) / 2, sp.Abs(r) <= delta),
        (mul(delta, sp.Abs(r) - delta / 2), True),
    )


function(_huber, max_args=2, keywords={"delta": "delta"},
         smoothness="C1: the second derivative jumps at |x| = delta")

__all__ = ["FUNCTIONS", "SELU_ALPHA", "SELU_SCALE"]
