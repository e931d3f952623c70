"""Elementary and special functions: roots, exponentials, logarithms, trigonometry, erf.

Each builder's first docstring line is its meaning in the README table.

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> FUNCTIONS["hypot"].build(x, y)
sqrt(x**2 + y**2)
>>> FUNCTIONS["cbrt"].build(x)
Abs(x)**(1/3)*sign(x)
>>> FUNCTIONS["log2"].build(x)
log(x)/log(2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from diffcheck.primitives import guards
from diffcheck.primitives.guards import ArgumentError, exponential, mul, piecewise, power
from diffcheck.primitives.registry import FUNCTIONS, function  # noqa: F401 (doctests)

_HALF = sp.Rational(1, 2)
_ZERO = sp.Integer(0)
_MINUS_ONE = sp.Integer(-1)

#: what PyTorch and JAX compute at a root's zero (the derivative formula 1/(2*sqrt(u)))
_ROOT_AUTODIFF = ("sqrt'(0) = inf in PyTorch and JAX: the gradient is inf at 0, and NaN once "
                  "it is multiplied by 0 (e.g. the unselected branch of a where).")


def _elementary(sympy_function: Callable[[sp.Expr], sp.Expr], name: str,
                doc: str) -> Callable[[sp.Expr], sp.Expr]:
    """A builder applying a SymPy function that needs no guard (bounded or shrinking)."""

    def build(u: sp.Expr) -> sp.Expr:
        return sympy_function(u)

    build.__name__ = name
    build.__doc__ = doc
    return build


def _hyperbolic(sympy_function: Callable[[sp.Expr], sp.Expr], name: str,
                doc: str) -> Callable[[sp.Expr], sp.Expr]:
    """A builder for sinh/cosh/tanh: exp-sized values, and SymPy rewrites f(log(b)) with b**2."""

    def build(u: sp.Expr) -> sp.Expr:
        guards.check_exponential(2 * u)
        return sympy_function(u)

    build.__name__ = name
    build.__doc__ = doc
    return build


def _abs(u: sp.Expr) -> sp.Expr:
    """abs(u) = |u|"""
    return sp.Abs(u)


function(_abs, smoothness="C0: kink at x = 0",
         autodiff="abs'(0) is 0 in PyTorch (sign) and 1 in JAX (select(x >= 0, 1, -1)).")


def _sqrt(u: sp.Expr) -> sp.Expr:
    """sqrt(u) = u**(1/2), defined for u >= 0"""
    return power(u, _HALF)


function(_sqrt, smoothness="C0: infinite slope at x = 0 (defined for x >= 0)",
         autodiff=_ROOT_AUTODIFF)


def _rsqrt(u: sp.Expr) -> sp.Expr:
    """rsqrt(u) = 1/sqrt(u), defined for u > 0"""
    return power(u, -_HALF)


function(_rsqrt, smoothness="Cinf on x > 0 (pole at 0)")


def _cbrt(u: sp.Expr) -> sp.Expr:
    """cbrt(u) = the real cube root, sign(u)*|u|**(1/3)"""
    return mul(power(sp.Abs(u), sp.Rational(1, 3)), sp.sign(u))


function(_cbrt, smoothness="C0: infinite slope at x = 0",
         autodiff="The derivative formula (1/3)*u**(-2/3) is inf at 0 in PyTorch and JAX.")


def _reciprocal(u: sp.Expr) -> sp.Expr:
    """reciprocal(u) = 1/u"""
    return power(u, _MINUS_ONE)


function(_reciprocal, smoothness="Cinf on x != 0 (pole at 0)")


def _square(u: sp.Expr) -> sp.Expr:
    """square(u) = u**2"""
    return power(u, sp.Integer(2))


function(_square, smoothness="Cinf")


def _pow(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """pow(a, b) = a**b"""
    return power(a, b)


function(_pow, min_args=2, max_args=2, smoothness="Cinf for an integer power b >= 0",
         sample="pow(x, 3)")


def _hypot(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """hypot(a, b) = sqrt(a**2 + b**2), the Euclidean norm of (a, b)"""
    return power(guards.add(power(a, sp.Integer(2)), power(b, sp.Integer(2))), _HALF)


function(_hypot, min_args=2, max_args=2, smoothness="C0: kink at a = b = 0",
         sample="hypot(x, y)",
         autodiff="torch.hypot returns gradient 0 at the origin; sqrt(a**2 + b**2) written out "
                  "gives NaN there (0/0).")


def _exp(u: sp.Expr) -> sp.Expr:
    """exp(u)"""
    return exponential(u)


function(_exp, smoothness="Cinf")


def _expm1(u: sp.Expr) -> sp.Expr:
    """expm1(u) = exp(u) - 1"""
    return exponential(u) - 1


function(_expm1, smoothness="Cinf")


def _log(u: sp.Expr, base: sp.Expr | None = None) -> sp.Expr:
    """log(u) natural logarithm, defined for u > 0; log(u, base) = log(u)/log(base)"""
    if base is None:
        return sp.log(u)
    return mul(sp.log(u), power(sp.log(base), _MINUS_ONE))


function(_log, max_args=2, smoothness="Cinf on x > 0 (pole at 0)")


def _log1p(u: sp.Expr) -> sp.Expr:
    """log1p(u) = log(1 + u), defined for u > -1"""
    return sp.log(1 + u)


function(_log1p, smoothness="Cinf on x > -1 (pole at -1)")


def _log2(u: sp.Expr) -> sp.Expr:
    """log2(u) = log(u)/log(2)"""
    return _log(u, sp.Integer(2))


function(_log2, smoothness="Cinf on x > 0 (pole at 0)")


def _log10(u: sp.Expr) -> sp.Expr:
    """log10(u) = log(u)/log(10)"""
    return _log(u, sp.Integer(10))


function(_log10, smoothness="Cinf on x > 0 (pole at 0)")


def _xlogy(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """xlogy(a, b) = a*log(b), and 0 where a = 0 (even at b = 0)"""
    return piecewise((sp.Integer(0), sp.Eq(a, 0)), (mul(a, sp.log(b)), True))


function(_xlogy, min_args=2, max_args=2, smoothness="Cinf on b > 0", sample="xlogy(x, 2)",
         autodiff="torch.xlogy and jax.scipy.special.xlogy return 0 at a = 0, so "
                  "xlogy(p, p) (entropy) is finite at p = 0; its slope there is infinite.")


def _logaddexp(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """logaddexp(a, b) = log(exp(a) + exp(b))"""
    return sp.log(guards.add(exponential(a), exponential(b)))


function(_logaddexp, min_args=2, max_args=2, smoothness="Cinf", sample="logaddexp(x, 0)")


def _logsumexp(*args: sp.Expr) -> sp.Expr:
    """logsumexp(a, b, ...) = log(exp(a) + exp(b) + ...)"""
    return sp.log(guards.add(*[exponential(a) for a in args]))


function(_logsumexp, min_args=2, max_args=None, smoothness="Cinf", sample="logsumexp(x, 0)")


for _name, _function, _doc in (
    ("sin", sp.sin, "sin(u)"),
    ("cos", sp.cos, "cos(u)"),
    ("tan", sp.tan, "tan(u), defined where cos(u) != 0"),
):
    function(_elementary(_function, _name, _doc),
             smoothness="Cinf (poles where cos(x) = 0)" if _name == "tan" else "Cinf")

for _name, _function, _doc in (
    ("tanh", sp.tanh, "tanh(u)"),
    ("sinh", sp.sinh, "sinh(u)"),
    ("cosh", sp.cosh, "cosh(u)"),
):
    function(_hyperbolic(_function, _name, _doc), smoothness="Cinf")

function(_elementary(sp.atan, "atan", "atan(u) (also arctan)"), aliases="arctan",
         smoothness="Cinf")
function(_elementary(sp.acos, "acos", "acos(u), defined for -1 <= u <= 1 (also arccos)"),
         aliases="arccos", smoothness="C0: infinite slopes at x = -1 and x = 1",
         autodiff="The derivative -1/sqrt(1 - u**2) is -inf at u = 1 and u = -1 in PyTorch "
                  "and JAX; NaN outside [-1, 1].")
function(_elementary(sp.asin, "asin", "asin(u), defined for -1 <= u <= 1 (also arcsin)"),
         aliases="arcsin", smoothness="C0: infinite slopes at x = -1 and x = 1",
         autodiff="The derivative 1/sqrt(1 - u**2) is inf at u = 1 and u = -1 in PyTorch and "
                  "JAX; NaN outside [-1, 1].")
function(_elementary(sp.erf, "erf", "erf(u), the error function"), smoothness="Cinf")
function(_elementary(sp.erfc, "erfc", "erfc(u) = 1 - erf(u)"), smoothness="Cinf")


def _sinc(u: sp.Expr) -> sp.Expr:
    """sinc(u) = sin(pi*u)/(pi*u), and 1 at u = 0 (normalized, as NumPy and PyTorch)"""
    return sp.sinc(mul(sp.pi, u))


function(_sinc, smoothness="Cinf")


def _atan2(y: sp.Expr, x: sp.Expr) -> sp.Expr:
    """atan2(y, x) = the angle of the point (x, y), in (-pi, pi]; 0 at the origin"""
    ratio = mul(y, power(x, _MINUS_ONE))
    return piecewise(
        (sp.atan(ratio), x > 0),
        (sp.atan(ratio) + sp.pi, (x < 0) & (y >= 0)),
        (sp.atan(ratio) - sp.pi, (x < 0) & (y < 0)),
        (sp.pi / 2, y > 0),
        (-sp.pi / 2, y < 0),
        (sp.Integer(0), True),
    )


function(_atan2, min_args=2, max_args=2, aliases="arctan2",
         smoothness="discontinuous: jumps by 2*pi across y = 0 where x < 0",
         sample="atan2(x, -1)",
         autodiff="The gradient (x, -y)/(x**2 + y**2) is NaN at the origin in PyTorch and JAX.")


_BATCH_AXES = frozenset({"axis", "dim", "keepdim", "keepdims"})


def _mean(*args: sp.Expr) -> sp.Expr:
    """mean(u) = u over the batch; mean(a, b, ...) = (a + b + ...)/n over components"""
    if len(args) == 1:
        return args[0]
    return mul(guards.add(*args), sp.Rational(1, len(args)))


function(_mean, max_args=None, ignored_keywords=_BATCH_AXES,
         smoothness="as smooth as its argument", sample="mean(x)", sample_class="Cinf")


def _sum(*args: sp.Expr) -> sp.Expr:
    """sum(u) = u over the batch; sum(a, b, ...) = a + b + ... over components"""
    return args[0] if len(args) == 1 else guards.add(*args)


function(_sum, max_args=None, ignored_keywords=_BATCH_AXES,
         smoothness="as smooth as its argument", sample="sum(x)", sample_class="Cinf")


# Library calls over the components of a tensor, as the Python-source reader emits them and as
# expressions may write them: softmax(a, b, c, index=k) is component k.

def _component(index: Any, args: tuple[sp.Expr, ...]) -> int:
    if not (isinstance(index, sp.Integer) and -len(args) <= int(index) < len(args)):
        raise ArgumentError(f"index must be an integer from {-len(args)} to {len(args) - 1}")
    return int(index) % len(args)


def _softmax(*args: sp.Expr, index: sp.Expr = _ZERO) -> sp.Expr:
    """softmax(a, b, ..., index=k) = exp(a_k)/(exp(a) + exp(b) + ...), component k (default 0)"""
    k = _component(index, args)
    total = guards.add(*[exponential(a) for a in args])
    return mul(exponential(args[k]), power(total, _MINUS_ONE))


function(_softmax, min_args=2, max_args=None, keywords={"index": "index"},
         ignored_keywords=_BATCH_AXES, smoothness="Cinf", sample="softmax(x, 0, index=0)",
         autodiff="torch.softmax and jax.nn.softmax subtract the maximum first: no overflow; "
                  "exp(a)/sum(exp) written out overflows in float32 above 88.7.")


def _log_softmax(*args: sp.Expr, index: sp.Expr = _ZERO) -> sp.Expr:
    """log_softmax(a, b, ..., index=k) = a_k - logsumexp(a, b, ...), component k (default 0)"""
    k = _component(index, args)
    return guards.add(args[k], -sp.log(guards.add(*[exponential(a) for a in args])))


function(_log_softmax, min_args=2, max_args=None, keywords={"index": "index"},
         ignored_keywords=_BATCH_AXES, smoothness="Cinf", sample="log_softmax(x, 0)",
         autodiff="The library computes it stably; log(softmax(...)) written out underflows.")


def _norm(*args: sp.Expr) -> sp.Expr:
    """norm(a, b, ...) = sqrt(a**2 + b**2 + ...), the 2-norm of the components"""
    return power(guards.add(*[power(a, sp.Integer(2)) for a in args]), _HALF)


function(_norm, max_args=None, ignored_keywords=_BATCH_AXES,
         smoothness="C0: kink at the zero vector", sample="norm(x, 0)",
         autodiff="torch.linalg.vector_norm returns gradient 0 at the zero vector; "
                  "jnp.linalg.norm returns NaN there.")

