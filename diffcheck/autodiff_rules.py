"""How PyTorch and JAX differentiate each operation: one table entry per op of :mod:`program`.

Autodiff does not differentiate the function, it differentiates the program, one operation at a
time, with a fixed backward formula per operation. Those formulas are what this table holds,
copied from the frameworks' sources (PyTorch's ``tools/autograd/derivatives.yaml``, JAX's
``jax/_src/lax/lax.py``, ``jax/_src/nn/functions.py``, ``jax/_src/numpy/ufuncs.py``) and
checked against the real frameworks at the versions in :data:`CHECKED_AGAINST` (the script
``tools/record_autodiff_reference.py`` and the tests replay them). The details are the point:
``sqrt'`` is ``0.5/sqrt`` (infinite at 0), ``where`` sends a zero cotangent into the branch it
did not select (``0 * inf = nan``), ``abs'(0)`` is 0 in PyTorch and 1 in JAX, ties of
``maximum`` split the gradient 0.5/0.5, ``torch.clamp`` passes the gradient at its bounds.

Each :class:`Rule` has a ``forward`` and a ``backward`` written against an arithmetic ``ar``
(float32 or float64 arrays, or exact mpmath numbers with unlimited range), so one formula
serves every dtype; ``ctx.framework`` is ``"torch"`` or ``"jax"``. A library function that
JAX writes as a composition of primitives (``jnp.hypot``, ``jax.nn.softplus``) has an
``expand`` instead: the framework runs the composition, so the model does too.

>>> RULES["clamp"] is RULES["clip"], RULES["sqrt"].frameworks["jax"]
(True, 'jnp.sqrt: mul(g, div(0.5, ans)) (jax/_src/lax/lax.py)')
>>> sorted(RULES["max"].kink_args(2))
[(0, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the framework versions every rule below was checked against
CHECKED_AGAINST: Mapping[str, str] = {"torch": "2.13.0", "jax": "0.10.2"}

FRAMEWORKS = ("torch", "jax")

Value = Any  # an array of one dtype, or an exact number; booleans for conditions


@dataclass
class Context:
    """What a rule may look at besides its inputs."""

    framework: str  # "torch" | "jax"
    ar: Any  # the arithmetic (see diffcheck.autodiff): const, div, sqrt, exp, where, ...
    #: per argument: the constant it is, if it is one (None otherwise)
    constants: Sequence[Any] = ()
    #: per argument: True when the constant was written as a Python int (x**2, not x**2.0)
    integer_literals: Sequence[bool] = ()
    written: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def torch(self) -> bool:
        return self.framework == "torch"


Forward = Callable[[Context, Sequence[Value]], Value]
#: (ctx, args, out, cotangent) -> one cotangent per argument (None: no gradient flows there)
Backward = Callable[[Context, Sequence[Value], Value, Value], Sequence[Value | None]]


@dataclass(frozen=True)
class Rule:
    """One operation: its forward value and its backward formula in each framework.

    ``params`` names the positional parameters (``("*",)`` for any number); keyword
    arguments of a call fill them by name. ``options`` are keyword-only settings that take
    no gradient (``softplus``'s threshold, ``softmax``'s index). ``frameworks`` says which
    function and formula each framework runs. ``kinks`` lists pairs of argument positions
    whose tie is a switch (``max(a, b)`` at ``a = b``; position -1 is the constant 0).
    """

    op: str
    params: tuple[str, ...]
    frameworks: Mapping[str, str]
    forward: Forward | None = None
    backward: Backward | None = None
    defaults: Mapping[str, float] = field(default_factory=dict)
    options: tuple[str, ...] = ()
    #: framework -> a rewrite of the call into other ops, run instead of forward/backward
    expand: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    kinks: Callable[[int], list[tuple[int, int]]] | None = None
    #: argument positions whose value can be too large or too small for a float dtype here
    range_args: tuple[int, ...] = ()
    checked: Mapping[str, str] = field(default_factory=lambda: dict(CHECKED_AGAINST))

    def kink_args(self, arity: int) -> list[tuple[int, int]]:
        return self.kinks(arity) if self.kinks else []


def _zero_kink(_arity: int) -> list[tuple[int, int]]:
    return [(0, -1)]


def _pairwise(arity: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(arity) for j in range(i + 1, arity)]


def _no_gradient(ctx: Context, args: Sequence[Value], out: Value, g: Value) -> list[Value | None]:
    return [ctx.ar.zeros_like(g) for _ in args]


# --- arithmetic -------------------------------------------------------------------------------


def _add_backward(ctx, args, out, g):
    return [g, g]


def _sub_backward(ctx, args, out, g):
    return [g, -g]


def _mul_backward(ctx, args, out, g):
    a, b = args
    return [g * b, g * a]


def _div_forward(ctx, args):
    a, b = args
    if ctx.torch and ctx.constants[0] is not None and ctx.constants[1] is None:
        # c / x is Tensor.__rtruediv__: reciprocal(x) * c
        return ctx.ar.div(ctx.ar.const(1), b) * a
    return ctx.ar.div(a, b)


def _div_backward(ctx, args, out, g):
    ar = ctx.ar
    a, b = args
    if ctx.torch:
        if ctx.constants[0] is not None and ctx.constants[1] is None:
            reciprocal = ar.div(ar.const(1), b)
            return [None, -(g * a) * (reciprocal * reciprocal)]  # reciprocal: -grad*(r*r)
        # div_tensor_self_backward: grad / other; div_tensor_other_backward: -grad*((self/other)/other)
        return [ar.div(g, b), -g * ar.div(ar.div(a, b), b)]
    # div_p jvp: div(g, y) and mul(mul(neg(g), x), integer_pow(y, -2))
    return [ar.div(g, b), (-g * a) * ar.div(ar.const(1), b * b)]


def _neg_backward(ctx, args, out, g):
    return [-g]


def _pow_forward(ctx, args):
    return ctx.ar.pow(args[0], args[1])


def _pow_backward(ctx, args, out, g):
    ar = ctx.ar
    base, exponent = args
    base_constant, exponent_constant = ctx.constants
    zero, one = ar.const(0), ar.const(1)
    if exponent_constant is not None:
        integer = ctx.integer_literals[1]
        if ctx.torch or integer:
            # torch pow_backward: zero for exponent 0, else grad * (e * x**(e - 1));
            # jax integer_pow: the same for a Python int exponent (x**2 is 2*x)
            if exponent_constant == 0:
                return [ar.zeros_like(g), None]
            if not ctx.torch and exponent_constant == 1:
                return [g, None]
            return [g * (exponent * ar.pow(base, exponent - one)), None]
        # jax lax.pow with a float exponent: mul(y, pow(x, y - 1)), no special case at 0
        return [g * (exponent * ar.pow(base, exponent - one)), None]
    # d/d exponent: result * log(base), where log(0) is replaced (both frameworks)
    safe_base = ar.where(base == zero, one, base)
    if ctx.torch:
        exponent_grad = g * ar.where((base == zero) & (exponent >= zero), zero, out * ar.log(base))
        if base_constant is not None:
            exponent_grad = g * ar.where(base == zero, zero, out * ar.log(safe_base))
        base_grad = ar.where(exponent == zero, zero, g * (exponent * ar.pow(base, exponent - one)))
    else:
        exponent_grad = g * (ar.log(safe_base) * out)
        base_grad = g * (exponent * ar.pow(base, exponent - one))
    return [None if base_constant is not None else base_grad, exponent_grad]


# --- elementary functions ---------------------------------------------------------------------


def _unary(function: str) -> Forward:
    def forward(ctx, args):
        return getattr(ctx.ar, function)(args[0])

    return forward


def _sqrt_backward(ctx, args, out, g):
    ar = ctx.ar
    if ctx.torch:
        return [ar.div(g, ar.const(2) * out)]  # grad / (2 * result)
    return [g * ar.div(ar.const(0.5), out)]  # mul(g, div(0.5, ans))


def _exp_backward(ctx, args, out, g):
    return [g * out]


def _log_forward(ctx, args):
    ar = ctx.ar
    if len(args) > 1 and args[1] is not None:
        return ar.div(ar.log(args[0]), ar.log(args[1]))
    return ar.log(args[0])


def _log_backward(ctx, args, out, g):
    ar = ctx.ar
    if len(args) > 1 and args[1] is not None:
        return [ar.div(g, args[0] * ar.log(args[1])), None]
    return [ar.div(g, args[0])]


def _log1p_backward(ctx, args, out, g):
    return [ctx.ar.div(g, args[0] + ctx.ar.const(1))]


def _expm1_backward(ctx, args, out, g):
    return [g * (out + ctx.ar.const(1))]


def _sin_backward(ctx, args, out, g):
    return [g * ctx.ar.cos(args[0])]


def _cos_backward(ctx, args, out, g):
    return [-(g * ctx.ar.sin(args[0]))]


def _tan_backward(ctx, args, out, g):
    return [g * (ctx.ar.const(1) + out * out)]


def _tanh_backward(ctx, args, out, g):
    one = ctx.ar.const(1)
    if ctx.torch:
        return [g * (one - out * out)]  # tanh_backward
    return [(g + g * out) * (one - out)]  # mul(add(g, mul(g, ans)), sub(1, ans))


def _sinh_backward(ctx, args, out, g):
    return [g * ctx.ar.cosh(args[0])]


def _cosh_backward(ctx, args, out, g):
    return [g * ctx.ar.sinh(args[0])]


def _atan_backward(ctx, args, out, g):
    ar = ctx.ar
    return [ar.div(g, args[0] * args[0] + ar.const(1))]


def _sigmoid_forward(ctx, args):
    ar = ctx.ar
    one = ar.const(1)
    return ar.div(one, one + ar.exp(-args[0]))  # jax logistic_impl; torch's kernel alike


def _sigmoid_backward(ctx, args, out, g):
    one = ctx.ar.const(1)
    if ctx.torch:
        return [g * (one - out) * out]  # sigmoid_backward: a * (1 - b) * b
    return [g * out * (one - out)]


# --- activations ------------------------------------------------------------------------------


def _softplus_forward(ctx, args):
    ar = ctx.ar
    u, beta = args
    threshold = ar.const(ctx.options.get("threshold", 20))
    scaled = u * beta
    smooth = ar.div(ar.log1p(ar.exp(scaled)), beta)
    return ar.where(scaled > threshold, u, smooth)  # F.softplus: the identity past threshold


def _softplus_backward(ctx, args, out, g):
    ar = ctx.ar
    u, beta = args
    threshold = ar.const(ctx.options.get("threshold", 20))
    z = ar.exp(u * beta)
    return [ar.where(u * beta > threshold, g, ar.div(g * z, z + ar.const(1))), None]


def _jax_softplus(b, u, beta):
    # jax.nn.softplus(x) = jnp.logaddexp(x, 0); a beta is written softplus(beta*x)/beta
    return b.div(b.call("logaddexp", b.mul(beta, u), b.const(0)), beta)


def _relu_forward(ctx, args):
    ar = ctx.ar
    return ar.maximum(args[0], ar.const(0))


def _relu_backward(ctx, args, out, g):
    ar = ctx.ar
    zero = ar.const(0)
    if ctx.torch:
        return [ar.where(out <= zero, zero, g)]  # threshold_backward(grad, result, 0)
    return [ar.where(args[0] > zero, g, zero)]  # select(x > 0, g, 0)


def _leaky_relu_forward(ctx, args):
    ar = ctx.ar
    u, slope = args
    return ar.where(u > ar.const(0), u, u * slope)


def _leaky_relu_backward(ctx, args, out, g):
    ar = ctx.ar
    u, slope = args
    zero = ar.const(0)
    if ctx.torch:
        return [ar.where(u > zero, g, g * slope), None]  # leaky_relu_backward: self > 0
    return [ar.where(u >= zero, g, g * slope), None]  # jnp.where(x >= 0, x, slope * x)


def _elu_forward(ctx, args):
    ar = ctx.ar
    u, alpha = args
    zero = ar.const(0)
    return ar.where(u > zero, u, alpha * ar.expm1(ar.where(u > zero, zero, u)))


def _elu_backward(ctx, args, out, g):
    ar = ctx.ar
    u, alpha = args
    zero = ar.const(0)
    return [ar.where(u > zero, g, g * alpha * ar.exp(ar.where(u > zero, zero, u))), None]


def _abs_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    if ctx.torch:
        return [g * ar.sign(u)]  # grad * self.sgn(): 0 at 0
    return [ar.where(u >= ar.const(0), g, -g)]  # select(x >= 0, g, -g): 1 at 0


def _round_forward(ctx, args):
    ar = ctx.ar
    u, decimals = args
    scale = ar.pow(ar.const(10), decimals)
    return ar.div(ar.rint(u * scale), scale)  # ties to even, as torch.round and jnp.round


def _heaviside_forward(ctx, args):
    ar = ctx.ar
    u, h0 = args
    zero = ar.const(0)
    return ar.where(u > zero, ar.const(1), ar.where(u < zero, zero, h0 + u * zero))


def _step_forward(ctx, args):
    ar = ctx.ar
    return ar.where(args[0] >= ar.const(0), ar.const(1), ar.const(0)) + args[0] * ar.const(0)


# --- choices: max, min, clamp, where ----------------------------------------------------------


def _extremum_forward(pick: str) -> Forward:
    def forward(ctx, args):
        ar = ctx.ar
        result = args[0]
        for arg in args[1:]:
            result = getattr(ar, pick)(result, arg)  # NaN-propagating, as both frameworks
        return result

    return forward


def _extremum_backward(ctx, args, out, g):
    ar = ctx.ar
    zero, one = ar.const(0), ar.const(1)
    hits = [ar.where(arg == out, one, zero) for arg in args]
    amax = ctx.written.endswith(("amax", "amin"))
    if len(args) > 2 and ctx.torch and not amax:
        # torch.max(t, dim) sends the gradient to one index, the first maximal one (a
        # scatter: the others get 0 even where the gradient is inf)
        taken = zero * hits[0]
        grads = []
        for hit in hits:
            first = hit * (one - taken)
            grads.append(ar.where(first > zero, g, zero * first))
            taken = taken + first
        return grads
    count = hits[0]
    for hit in hits[1:]:
        count = count + hit
    if ctx.torch and len(args) == 2:
        # maximum: where(self == other, grad / 2, grad).masked_fill_(self < other, 0)
        return [ar.where(hit > zero, ar.div(g, count), zero * hit) for hit in hits]
    # jnp.maximum (_balanced_eq), amax/amin and jnp.max multiply: inf * 0 is NaN there
    return [ar.div(g * hit, count) for hit in hits]


def _clamp_forward(ctx, args):
    ar = ctx.ar
    u, lo, hi = args
    if lo is not None:
        u = ar.maximum(u, lo)
    if hi is not None:
        u = ar.minimum(u, hi)
    return u


def _clamp_backward(ctx, args, out, g):
    ar = ctx.ar
    u, lo, hi = args
    inside = ar.is_number(u)  # NaN inputs pass no gradient
    if lo is not None:
        inside = inside & (u >= lo)
    if hi is not None:
        inside = inside & (u <= hi)
    # clamp_backward: where((self >= min) & (self <= max), grad, 0): a bound passes the
    # gradient to the input; a tensor bound gets it only where it is strictly active (and
    # max wins where min > max)
    lo_grad = hi_grad = None
    if lo is not None:
        lo_active = u < lo if hi is None else (u < lo) & (lo < hi)
        lo_grad = ar.where(lo_active, g, ar.zeros_like(g))
    if hi is not None:
        hi_active = u > hi if lo is None else (u > hi) | (hi < lo)
        hi_grad = ar.where(hi_active, g, ar.zeros_like(g))
    # a where, not a product: an infinite gradient outside the range still gives 0
    return [ar.where(inside, g, ar.zeros_like(g)), lo_grad, hi_grad]


def _jax_clip(b, u, lo, hi):
    # jnp.clip: maximum(min, arr), then minimum(max, arr): ties split the gradient
    if lo is not None:
        u = b.call("maximum", lo, u)
    if hi is not None:
        u = b.call("minimum", hi, u)
    return u


def _where_forward(ctx, args):
    return ctx.ar.where(args[0], args[1], args[2])


def _where_backward(ctx, args, out, g):
    ar = ctx.ar
    zero = ar.const(0) * g
    # both frameworks: where(cond, grad, 0) and where(cond, 0, grad)
    return [None, ar.where(args[0], g, zero), ar.where(args[0], zero, g)]


def _huber_forward(ctx, args):
    ar = ctx.ar
    r, delta = args
    size = ar.abs(r)
    half = ar.const(0.5)
    return ar.where(size < delta, half * r * r, delta * (size - half * delta))


def _huber_backward(ctx, args, out, g):
    ar = ctx.ar
    r, delta = args
    # huber_loss_backward: x < -delta ? -delta : (x > delta ? delta : x)
    return [g * ar.where(r < -delta, -delta, ar.where(r > delta, delta, r)), None]


# --- reductions over several arguments --------------------------------------------------------


def _sum_forward(ctx, args):
    total = args[0]
    for arg in args[1:]:
        total = total + arg
    if ctx.options.get("mean"):
        total = ctx.ar.div(total, ctx.ar.const(len(args)))
    return total


def _sum_backward(ctx, args, out, g):
    if ctx.options.get("mean"):
        g = ctx.ar.div(g, ctx.ar.const(len(args)))
    return [g for _ in args]


def _max_of(ar, args):
    top = args[0]
    for arg in args[1:]:
        top = ar.maximum(top, arg)
    return top


def _logsumexp_forward(ctx, args):
    ar = ctx.ar
    top = _max_of(ar, args)
    top = ar.where(ar.isinf(top), ar.const(0) * top, top)  # both: a non-finite max is not subtracted
    total = ar.exp(args[0] - top)
    for arg in args[1:]:
        total = total + ar.exp(arg - top)
    return ar.log(total) + top


def _logsumexp_backward(ctx, args, out, g):
    ar = ctx.ar
    return [g * ar.exp(arg - out) for arg in args]  # logsumexp_backward: grad * (self - result).exp()


def _softmax_parts(ar, args):
    top = _max_of(ar, args)
    exps = [ar.exp(arg - top) for arg in args]
    total = exps[0]
    for e in exps[1:]:
        total = total + e
    return exps, total


def _softmax_forward(ctx, args):
    ar = ctx.ar
    exps, total = _softmax_parts(ar, args)
    return ar.div(exps[_index(ctx, args)], total)


def _softmax_backward(ctx, args, out, g):
    ar = ctx.ar
    exps, total = _softmax_parts(ar, args)
    probabilities = [ar.div(e, total) for e in exps]
    k = _index(ctx, args)
    # _softmax_backward_data: y * (grad - sum(grad * y)), grad one-hot at k
    return [p * ((g if i == k else ar.const(0) * g) - g * out) for i, p in enumerate(probabilities)]


def _log_softmax_forward(ctx, args):
    ar = ctx.ar
    _, total = _softmax_parts(ar, args)
    top = _max_of(ar, args)
    return (args[_index(ctx, args)] - top) - ar.log(total)


def _log_softmax_backward(ctx, args, out, g):
    ar = ctx.ar
    exps, total = _softmax_parts(ar, args)
    k = _index(ctx, args)
    # _log_softmax_backward_data: grad - exp(output) * sum(grad)
    return [(g if i == k else ar.const(0) * g) - ar.div(e, total) * g for i, e in enumerate(exps)]


def _index(ctx: Context, args: Sequence[Value]) -> int:
    index = int(ctx.options.get("index", 0))
    return index % len(args)


def _norm_forward(ctx, args):
    ar = ctx.ar
    total = args[0] * args[0]
    for arg in args[1:]:
        total = total + arg * arg
    return ar.sqrt(total)


def _norm_backward(ctx, args, out, g):
    ar = ctx.ar
    zero = ar.const(0)
    # linalg_vector_norm_backward: self * (grad / norm).masked_fill_(norm == 0, 0)
    scale = ar.where(out == zero, zero * g, ar.div(g, out))
    return [arg * scale for arg in args]


def _jax_norm(b, *args):
    # jnp.linalg.norm(x) = sqrt(sum(x * conj(x))): sqrt'(0) is inf, so NaN at the zero vector
    total = b.mul(args[0], args[0])
    for arg in args[1:]:
        total = b.add(total, b.mul(arg, arg))
    return b.call("sqrt", total)


def _hypot_forward(ctx, args):
    return ctx.ar.hypot(args[0], args[1])


def _hypot_backward(ctx, args, out, g):
    ar = ctx.ar
    return [ar.div(g * args[0], out), ar.div(g * args[1], out)]  # grad * self / result


def _jax_hypot(b, x, y):
    # jnp.hypot: x, y = abs; x, y = maximum, minimum; where(x == 0, x, x*sqrt(1 + (y/x)**2))
    big = b.call("maximum", b.call("abs", x), b.call("abs", y))
    small = b.call("minimum", b.call("abs", x), b.call("abs", y))
    at_zero = b.compare("eq", big, b.const(0))
    safe = b.where(at_zero, b.const(1), big)
    ratio = b.div(small, safe)
    scaled = b.mul(big, b.call("sqrt", b.add(b.const(1), b.mul(ratio, ratio))))
    return b.where(at_zero, big, scaled)


def _xlogy_forward(ctx, args):
    ar = ctx.ar
    x, y = args
    zero = ar.const(0)
    return ar.where((x == zero) & ar.is_number(y), zero * y, x * ar.log(y))


def _xlogy_backward(ctx, args, out, g):
    ar = ctx.ar
    x, y = args
    zero = ar.const(0)
    log_y = ar.log(y)
    if ctx.torch:
        # self: xlogy(grad, other).masked_fill((self == 0) & (other <= 0), 0)
        dx = ar.where((g == zero) & ar.is_number(y), zero * y, g * log_y)
        dx = ar.where((x == zero) & (y <= zero), zero * y, dx)
        return [dx, ar.div(g * x, y)]
    return [g * log_y, ar.div(g * x, y)]  # _xlogy_jvp: x_dot*log(y) + y_dot*x/y


def _logaddexp_forward(ctx, args):
    ar = ctx.ar
    a, b = args
    top = ar.maximum(a, b)
    delta = a - b
    return ar.where(ar.is_number(delta), top + ar.log1p(ar.exp(-ar.abs(delta))), a + b)


def _logaddexp_backward(ctx, args, out, g):
    ar = ctx.ar
    a, b = args
    one = ar.const(1)
    if ctx.torch:  # grad / (1 + exp(other - self))
        return [ar.div(g, one + ar.exp(b - a)), ar.div(g, one + ar.exp(a - b))]
    # _logaddexp_jvp: t1 * exp(x1 - out) (infinities replaced by 0)
    return [g * ar.exp(ar.finite_or_zero(a) - ar.finite_or_zero(out)),
            g * ar.exp(ar.finite_or_zero(b) - ar.finite_or_zero(out))]


def _logsigmoid_forward(ctx, args):
    ar = ctx.ar
    u = args[0]
    return ar.minimum(u, ar.const(0)) - ar.log1p(ar.exp(-ar.abs(u)))


def _logsigmoid_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    zero, one = ar.const(0), ar.const(1)
    z = ar.exp(-ar.abs(u))
    # log_sigmoid_backward: max_deriv - sign * (z / (1 + z))
    negative = u < zero
    max_deriv = ar.where(negative, one, zero)
    sign = ar.where(negative, one, -one)
    return [g * (max_deriv - sign * ar.div(z, one + z))]


def _jax_logsigmoid(b, u):
    return b.neg(b.call("softplus", b.neg(u)))  # jax.nn.log_sigmoid(x) = -softplus(-x)


def _mod_forward(ctx, args):
    ar = ctx.ar
    a, b = args
    return a - b * ar.floor(ar.div(a, b))


def _mod_backward(ctx, args, out, g):
    ar = ctx.ar
    a, b = args
    return [g, -g * ar.floor(ar.div(a, b))]  # remainder: -grad * self.div(other, "floor")


def _floordiv_forward(ctx, args):
    return ctx.ar.floor(ctx.ar.div(args[0], args[1]))


def _log_base_backward(base: float):
    def backward(ctx, args, out, g):
        ar = ctx.ar
        return [ar.div(g, args[0] * ar.const(math.log(base)))]  # grad / (self * ln(base))

    return backward


def _log_base_forward(base: float):
    def forward(ctx, args):
        ar = ctx.ar
        return ar.div(ar.log(args[0]), ar.const(math.log(base)))

    return forward


def _rsqrt_forward(ctx, args):
    return ctx.ar.div(ctx.ar.const(1), ctx.ar.sqrt(args[0]))


def _rsqrt_backward(ctx, args, out, g):
    ar = ctx.ar
    if ctx.torch:
        return [ar.const(-0.5) * g * out * out * out]  # -0.5 * grad * result.pow(3)
    # jax rsqrt jvp: mul(g, mul(_const(x, -0.5), div(ans, x)))
    return [g * (ar.const(-0.5) * ar.div(out, args[0]))]


def _reciprocal_forward(ctx, args):
    return ctx.ar.div(ctx.ar.const(1), args[0])


def _reciprocal_backward(ctx, args, out, g):
    ar = ctx.ar
    if ctx.torch:
        return [-g * (out * out)]  # reciprocal: -grad * (result * result)
    return [(-g * ar.const(1)) * ar.div(ar.const(1), args[0] * args[0])]  # 1/x is div(1, x)


def _acos_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    # torch: grad * -((-self * self + 1).rsqrt()); jax: mul(g, neg(rsqrt(1 - x**2)))
    return [-(g * ar.div(ar.const(1), ar.sqrt(ar.const(1) - u * u)))]


def _asin_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    return [g * ar.div(ar.const(1), ar.sqrt(ar.const(1) - u * u))]


def _erf_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    return [g * (ar.const(2 / math.sqrt(math.pi)) * ar.exp(-(u * u)))]


def _erfc_backward(ctx, args, out, g):
    return [-_erf_backward(ctx, args, out, g)[0]]


def _silu_forward(ctx, args):
    return args[0] * _sigmoid_forward(ctx, args)


def _silu_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    s = _sigmoid_forward(ctx, args)
    one = ar.const(1)
    # torch silu_backward: grad * s * (1 + x * (1 - s)); jax: x * sigmoid(x), autodiff'd
    if ctx.torch:
        return [g * s * (one + u * (one - s))]
    return [g * s + g * u * (s * (one - s))]


def _softsign_forward(ctx, args):
    ar = ctx.ar
    return ar.div(args[0], ar.const(1) + ar.abs(args[0]))


def _jax_softsign(b, u):
    # jax.nn.soft_sign(x) = x / (abs(x) + 1)
    return b.div(u, b.add(b.call("abs", u), b.const(1)))


def _softsign_backward(ctx, args, out, g):
    ar = ctx.ar
    u = args[0]
    one = ar.const(1)
    denominator = one + ar.abs(u)
    # torch F.softsign is x / (1 + |x|) in Python: autodiff of div and abs (sgn(0) = 0)
    return [ar.div(g, denominator) - ar.div(ar.div(g * u, denominator), denominator) * ar.sign(u)]


def _atan2_forward(ctx, args):
    return ctx.ar.atan2(args[0], args[1])


def _atan2_backward(ctx, args, out, g):
    ar = ctx.ar
    y, x = args
    r2 = x * x + y * y
    if ctx.torch:
        # atan2_backward: recip = 1/(self^2 + other^2), taken as 0 where that is 0
        zero = ar.const(0)
        recip = ar.where(r2 == zero, zero, ar.div(ar.const(1), r2))
        return [g * x * recip, -(g * y) * recip]
    # jax: x / (x**2 + y**2), -y / (x**2 + y**2): 0/0 at the origin
    return [ar.div(g * x, r2), ar.div(-(g * y), r2)]


# --- the table --------------------------------------------------------------------------------

_DY = "tools/autograd/derivatives.yaml"
_LAX = "jax/_src/lax/lax.py"


def _both(formula: str) -> dict[str, str]:
    return {"torch": formula, "jax": formula}


_RULE_LIST = [
    Rule("add", ("a", "b"), _both("a + b: grad, grad"), lambda ctx, a: a[0] + a[1], _add_backward),
    Rule("sub", ("a", "b"), _both("a - b: grad, -grad"), lambda ctx, a: a[0] - a[1], _sub_backward),
    Rule("mul", ("a", "b"), _both("a * b: grad * other"), lambda ctx, a: a[0] * a[1], _mul_backward),
    Rule("div", ("a", "b"),
         {"torch": f"a / b: grad / other, -grad * ((self / other) / other); c / x is reciprocal(x) * c ({_DY})",
          "jax": f"div_p: div(g, y), mul(mul(neg(g), x), integer_pow(y, -2)) ({_LAX})"},
         _div_forward, _div_backward),
    Rule("neg", ("a",), _both("-a: -grad"), lambda ctx, a: -a[0], _neg_backward),
    Rule("pow", ("a", "b"),
         {"torch": f"pow_backward: 0 if exponent == 0 else grad * e * x**(e - 1); exponent: result * log(self), 0 where self == 0 ({_DY})",
          "jax": f"integer_pow for int literals (x**2: 2*x); lax.pow: mul(y, pow(x, y - 1)), log(_replace_zero(x)) * ans ({_LAX})"},
         _pow_forward, _pow_backward, range_args=(0, 1)),
    Rule("mod", ("a", "b"), _both("remainder: grad, -grad * floor(self / other)"),
         _mod_forward, _mod_backward),
    Rule("floordiv", ("a", "b"), {"torch": "floor_divide: no derivative (0)", "jax": "floor_divide: 0"},
         _floordiv_forward, _no_gradient),
    Rule("sqrt", ("u",), {"torch": f"sqrt: grad / (2 * result) ({_DY})",
                          "jax": f"jnp.sqrt: mul(g, div(0.5, ans)) ({_LAX})"},
         _unary("sqrt"), _sqrt_backward),
    Rule("exp", ("u",), _both("exp: grad * result"), _unary("exp"), _exp_backward, range_args=(0,)),
    Rule("log", ("u", "base"), _both("log: grad / self"), _log_forward, _log_backward,
         defaults={"base": None}),  # type: ignore[dict-item]
    Rule("log1p", ("u",), _both("log1p: grad / (self + 1)"), _unary("log1p"), _log1p_backward),
    Rule("expm1", ("u",), _both("expm1: grad * (result + 1)"), _unary("expm1"), _expm1_backward,
         range_args=(0,)),
    Rule("sin", ("u",), _both("sin: grad * cos(self)"), _unary("sin"), _sin_backward),
    Rule("cos", ("u",), _both("cos: grad * -sin(self)"), _unary("cos"), _cos_backward),
    Rule("tan", ("u",), _both("tan: grad * (1 + result**2)"), _unary("tan"), _tan_backward),
    Rule("tanh", ("u",), {"torch": "tanh_backward: grad * (1 - y*y)",
                          "jax": "tanh: mul(add(g, mul(g, ans)), sub(1, ans))"},
         _unary("tanh"), _tanh_backward, range_args=(0,)),
    Rule("sinh", ("u",), _both("sinh: grad * cosh(self)"), _unary("sinh"), _sinh_backward,
         range_args=(0,)),
    Rule("cosh", ("u",), _both("cosh: grad * sinh(self)"), _unary("cosh"), _cosh_backward,
         range_args=(0,)),
    Rule("atan", ("u",), _both("atan: grad / (self * self + 1)"), _unary("atan"), _atan_backward),
    Rule("sigmoid", ("u",), {"torch": "sigmoid_backward: grad * (1 - y) * y",
                             "jax": "logistic: 1/(1 + exp(-x)); jvp g * ans * (1 - ans)"},
         _sigmoid_forward, _sigmoid_backward, range_args=(0,)),
    Rule("softplus", ("u", "beta"),
         {"torch": "F.softplus: x where beta*x > threshold, else log1p(exp(beta*x))/beta; softplus_backward: z/(z + 1)",
          "jax": "jax.nn.softplus = jnp.logaddexp(x, 0)"},
         _softplus_forward, _softplus_backward, defaults={"beta": 1}, options=("threshold",),
         expand={"jax": _jax_softplus}, range_args=(0,)),
    Rule("relu", ("u",), {"torch": "relu: threshold_backward(grad, result, 0): 0 at 0",
                          "jax": "jax.nn.relu: select(x > 0, g, 0)"},
         _relu_forward, _relu_backward, kinks=_zero_kink),
    Rule("leaky_relu", ("u", "negative_slope"),
         {"torch": "leaky_relu_backward: self > 0 ? grad : grad * slope (slope at 0)",
          "jax": "jax.nn.leaky_relu: jnp.where(x >= 0, x, slope * x) (1 at 0)"},
         _leaky_relu_forward, _leaky_relu_backward, defaults={"negative_slope": 0.01},
         kinks=_zero_kink),
    Rule("elu", ("u", "alpha"), _both("elu: x > 0 ? grad : grad * alpha * exp(x)"),
         _elu_forward, _elu_backward, defaults={"alpha": 1}, kinks=_zero_kink),
    Rule("abs", ("u",), {"torch": f"abs: grad * self.sgn() (0 at 0) ({_DY})",
                         "jax": f"abs: select(x >= 0, g, -g) (1 at 0) ({_LAX})"},
         _unary("abs"), _abs_backward, kinks=_zero_kink),
    Rule("sign", ("u",), _both("sign: zero gradient"), _unary("sign"), _no_gradient),
    Rule("floor", ("u",), _both("floor: zero gradient"), _unary("floor"), _no_gradient),
    Rule("ceil", ("u",), _both("ceil: zero gradient"), _unary("ceil"), _no_gradient),
    Rule("round", ("u", "decimals"), _both("round: zero gradient (ties to even)"), _round_forward,
         _no_gradient, defaults={"decimals": 0}),
    Rule("heaviside", ("u", "h0"), {"torch": "heaviside: no derivative implemented (taken as 0)",
                                    "jax": "jnp.heaviside: zero gradient"},
         _heaviside_forward, _no_gradient, defaults={"h0": 0.5}),
    Rule("step", ("u",), _both("a step: zero gradient"), _step_forward, _no_gradient),
    Rule("max", ("*",), {"torch": "maximum: ties split grad / 2; torch.max(t, dim): the first index; amax: evenly",
                         "jax": "max_p: _balanced_eq (ties 0.5); reduce_max: evenly among ties"},
         _extremum_forward("maximum"), _extremum_backward, kinks=_pairwise),
    Rule("min", ("*",), {"torch": "minimum: ties split grad / 2; torch.min(t, dim): the first index; amin: evenly",
                         "jax": "min_p: _balanced_eq (ties 0.5); reduce_min: evenly among ties"},
         _extremum_forward("minimum"), _extremum_backward, kinks=_pairwise),
    Rule("clamp", ("u", "lo", "hi"),
         {"torch": "clamp_backward: where((self >= min) & (self <= max), grad, 0): 1 at a bound",
          "jax": "jnp.clip = minimum(max, maximum(min, x)): 0.5 at a bound"},
         _clamp_forward, _clamp_backward, defaults={"lo": None, "hi": None},  # type: ignore[dict-item]
         expand={"jax": _jax_clip}, kinks=lambda arity: [(0, 1), (0, 2)][: max(arity - 1, 0)]),
    Rule("where", ("cond", "a", "b"), _both("where(cond, grad, 0), where(cond, 0, grad): the unselected branch gets 0"),
         _where_forward, _where_backward),
    Rule("huber", ("r", "delta"), {"torch": "F.huber_loss: huber_loss_backward",
                                   "jax": "optax.huber_loss"},
         _huber_forward, _huber_backward, defaults={"delta": 1}),
    Rule("logsumexp", ("*",), {"torch": "torch.logsumexp: grad * exp(self - result) (stable)",
                               "jax": "jax.nn.logsumexp: max subtracted (stable)"},
         _logsumexp_forward, _logsumexp_backward),
    Rule("sum", ("*",), _both("sum: grad to each"), _sum_forward, _sum_backward),
    Rule("softmax", ("*",), {"torch": "torch.softmax: _softmax_backward_data, y * (grad - sum(grad * y))",
                             "jax": "jax.nn.softmax: y * (x_dot - sum(y * x_dot))"},
         _softmax_forward, _softmax_backward, options=("index",)),
    Rule("log_softmax", ("*",), {"torch": "torch.log_softmax: grad - exp(output) * sum(grad)",
                                 "jax": "jax.nn.log_softmax: shifted - log(sum(exp(shifted)))"},
         _log_softmax_forward, _log_softmax_backward, options=("index",)),
    Rule("norm", ("*",), {"torch": "linalg_vector_norm_backward: self * (grad / norm), 0 where norm == 0",
                          "jax": "jnp.linalg.norm: sqrt(sum(x * x)): NaN at the zero vector"},
         _norm_forward, _norm_backward, expand={"jax": _jax_norm}),
    Rule("hypot", ("a", "b"), {"torch": "hypot: grad * self / result (0/0 at the origin)",
                               "jax": "jnp.hypot: max/min of abs, where(x == 0, x, x*sqrt(1 + (y/x)**2))"},
         _hypot_forward, _hypot_backward, expand={"jax": _jax_hypot}),
    Rule("xlogy", ("x", "y"), {"torch": "xlogy: xlogy(grad, other) masked to 0 where self == 0 & other <= 0; grad * self / other",
                               "jax": "jax.scipy.special.xlogy: x_dot * log(y) + y_dot * x / y"},
         _xlogy_forward, _xlogy_backward),
    Rule("logaddexp", ("a", "b"), {"torch": "logaddexp: grad / (1 + exp(other - self))",
                                   "jax": "jnp.logaddexp: t1 * exp(x1 - out)"},
         _logaddexp_forward, _logaddexp_backward),
    Rule("log2", ("u",), _both("log2: grad / (self * ln 2)"), _log_base_forward(2),
         _log_base_backward(2)),
    Rule("log10", ("u",), _both("log10: grad / (self * ln 10)"), _log_base_forward(10),
         _log_base_backward(10)),
    Rule("rsqrt", ("u",), {"torch": "rsqrt: -0.5 * grad * result**3",
                           "jax": "lax.rsqrt: mul(g, mul(-0.5, div(ans, x)))"},
         _rsqrt_forward, _rsqrt_backward),
    Rule("reciprocal", ("u",), {"torch": "reciprocal: -grad * (result * result)",
                                "jax": "jnp.reciprocal = 1/x: div_p rule"},
         _reciprocal_forward, _reciprocal_backward),
    Rule("acos", ("u",), _both("acos: -grad / sqrt(1 - x**2): inf at +-1"), _unary("acos"),
         _acos_backward),
    Rule("asin", ("u",), _both("asin: grad / sqrt(1 - x**2): inf at +-1"), _unary("asin"),
         _asin_backward),
    Rule("atan2", ("y", "x"), _both("atan2: grad * x / (x**2 + y**2), -grad * y / (x**2 + y**2): 0/0 at the origin"),
         _atan2_forward, _atan2_backward),
    Rule("erf", ("u",), _both("erf: grad * 2/sqrt(pi) * exp(-x**2)"), _unary("erf"), _erf_backward),
    Rule("erfc", ("u",), _both("erfc: -grad * 2/sqrt(pi) * exp(-x**2)"), _unary("erfc"),
         _erfc_backward),
    Rule("silu", ("u",), {"torch": "silu_backward: grad * s * (1 + x * (1 - s))",
                          "jax": "jax.nn.silu = x * sigmoid(x)"},
         _silu_forward, _silu_backward, range_args=(0,)),
    Rule("softsign", ("u",), {"torch": "F.softsign = x / (1 + |x|) (sgn(0) = 0)",
                              "jax": "jax.nn.soft_sign = x / (|x| + 1)"},
         _softsign_forward, _softsign_backward, expand={"jax": _jax_softsign}),
    Rule("logsigmoid", ("u",), {"torch": "F.logsigmoid: log_sigmoid_backward (stable)",
                                "jax": "jax.nn.log_sigmoid = -softplus(-x)"},
         _logsigmoid_forward, _logsigmoid_backward, expand={"jax": _jax_logsigmoid}),
]

#: op (as in :class:`diffcheck.program.Node`) -> its rule; aliases share one entry
RULES: dict[str, Rule] = {rule.op: rule for rule in _RULE_LIST}
_ALIASES = {
    "arctan": "atan", "maximum": "max", "amax": "max", "minimum": "min", "amin": "min",
    "clip": "clamp", "mean": "sum", "square": None, "log_sigmoid": "logsigmoid",
    "arccos": "acos", "arcsin": "asin", "arctan2": "atan2", "swish": "silu",
    "soft_sign": "softsign",
}
RULES.update({alias: RULES[target] for alias, target in _ALIASES.items() if target})
#: ops rewritten into others before they are run: square(u) is u**2 (an int power)
REWRITES = {"square": "pow2"}

#: ops whose value is a condition (no gradient flows through them)
CONDITIONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not"})


def markdown_table() -> str:
    """The README's table of backward rules, generated from :data:`RULES` (a test keeps it in sync).

    >>> markdown_table().splitlines()[2].startswith("| `abs` |")
    True
    """
    rows = ["| op | PyTorch | JAX | checked against |", "|---|---|---|---|"]
    seen: dict[int, list[str]] = {}
    for name, rule in RULES.items():
        seen.setdefault(id(rule), []).append(name)
    for rule in sorted({id(r): r for r in RULES.values()}.values(), key=lambda r: r.op):
        names = ", ".join(f"`{n}`" for n in sorted(seen[id(rule)]))
        versions = ", ".join(f"{k} {v}" for k, v in rule.checked.items())
        torch, jax = (rule.frameworks[k].replace("|", "\\|") for k in ("torch", "jax"))
        rows.append(f"| {names} | {torch} | {jax} | {versions} |")
    return "\n".join(rows)
