"""The function vocabulary of the input language, and SymPy constructors that stay fast.

Every function the parser accepts is one row of :data:`VOCABULARY`: how many arguments it
takes, which keywords, how it is lowered to SymPy, and a one-line description (the first line
of the builder's docstring). Adding a function to the language is adding a row; the parser,
its "did you mean" suggestions and the documentation all read this table.

>>> import sympy as sp
>>> u = sp.Symbol("u", real=True)
>>> VOCABULARY["relu"].build(u)
Max(0, u)
>>> VOCABULARY["clip"].build(u, sp.Integer(0), sp.Integer(6))
Min(6, Max(0, u))
>>> VOCABULARY["clip"].arity()
'1 to 3 arguments'
>>> VOCABULARY["softplus"].doc
'softplus(u, beta=1) = log(1 + exp(beta*u))/beta'

SymPy evaluates eagerly, and some of its automatic steps take forever on inputs a few
characters long: ``2**2**2**2**2**2`` is computed digit by digit, ``floor(exp(10**100))``
never finishes, roots of long integers are factored, Max compares its arguments pairwise, and
a condition containing a Piecewise is solved as inequalities. So the builders below construct
through :func:`power`, :func:`exponential`, :func:`add`, :func:`mul`, :func:`maximum`,
:func:`minimum` and :func:`piecewise`, which check the size first and raise
:class:`LimitExceeded`:

>>> power(sp.Integer(2), sp.Integer(10))
1024
>>> power(sp.Integer(9), power(sp.Integer(9), sp.Integer(9)))
Traceback (most recent call last):
    ...
diffcheck.functions.LimitExceeded: the number would have about 369693100 digits (limit 4000)
>>> power(u, sp.Integer(10) ** 100) == u ** (sp.Integer(10) ** 100)  # symbolic base: no digits
True
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

import sympy as sp
from sympy.core.relational import Relational

#: Largest exact number (in decimal digits) or constant magnitude (10**4000) built. It stays
#: below CPython's int-to-str limit (4300 digits), so every expression can still be printed.
MAX_NUMBER_DIGITS = 4000

#: SymPy factors a rational before taking its root (sqrt(n) -> k*sqrt(m)): 100 digits take
#: about a millisecond, 1000 digits half a second.
MAX_ROOT_DIGITS = 100

#: SymPy compares every pair of a Max's (Min's) arguments: 16 take 0.1 s, 100 take seconds.
#: Nested maxima are merged into one, so the merged count is what is limited.
MAX_EXTREMUM_ARGS = 16

#: A condition that depends on piecewise values (``(x > 0) + (y > 0) > 1``) is split into
#: one case per combination of their pieces; more cases than this are refused.
MAX_CONDITION_CASES = 16

#: Each comparison costs SymPy about a millisecond of assumption queries, several times over
#: when a Piecewise makes its conditions canonical.
MAX_CONDITION_COMPARISONS = 64

_LOG10_OF_LN10 = math.log10(math.log(10))


class LoweringError(Exception):
    """A call or number that cannot be lowered; the parser adds the position."""

    kind = "parse"


class ArgumentError(LoweringError):
    """Arguments that the input language does not allow, e.g. ``clip(u)`` without bounds."""


class LimitExceeded(LoweringError):
    """Something SymPy would spend (practically) forever on: see the MAX_* limits."""

    kind = "limit"


# --- size estimates -------------------------------------------------------------------------


def _int_digits(n: int) -> float:
    """Decimal digits of ``n`` as a real number (log10 |n|); 0 for 0 and 1."""
    n = abs(n)
    return math.log10(n) if n > 1 else 0.0


def _log10_abs(value: sp.Expr) -> float:
    """log10 |value| for a constant expression; ``-inf`` for zero."""
    if value.is_Rational:
        if value == 0:
            return -math.inf
        return _int_digits(value.p) - _int_digits(value.q)
    # Every constant reaching this point was itself built through these guards, so its
    # magnitude is at most 10**MAX_NUMBER_DIGITS and evalf is cheap.
    approx = sp.Abs(value).evalf(5)
    if not approx.is_Float:
        return 0.0  # no numeric value (e.g. nan): nothing SymPy could blow up either
    if approx == 0:
        return -math.inf
    return float(sp.log(approx)) / math.log(10)


def _constant_part(expr: sp.Expr) -> sp.Expr:
    """The sum of the constant terms of ``expr`` (2 for ``x + 2``)."""
    # is_number stops at the first symbol; free_symbols would walk the whole tree.
    return sp.Add(*[term for term in sp.Add.make_args(expr) if term.is_number])


def _times(digits: float, log10_factor: float) -> float:
    """``digits * 10**log10_factor`` without overflowing (the factor may be 10**4000)."""
    if digits == 0 or log10_factor == -math.inf:
        return 0.0
    log10_result = math.log10(digits) + log10_factor
    return 10.0**log10_result if log10_result < 300 else math.inf


def number_digits(expr: sp.Expr) -> float:
    """Estimate the decimal digits of the numbers SymPy multiplies out of ``expr``.

    This is the size that grows when ``expr`` is raised to a power or multiplied: the digits
    of its rational coefficient, of constant factors (by magnitude), and what SymPy computes
    when it merges like factors (``2**(x + 5) * 2**(5 - x)`` is ``2**10``).

    >>> number_digits(sp.Integer(1000) * sp.Symbol("x"))
    3.0
    >>> round(number_digits(sp.exp(sp.Symbol("x") + 2303)))
    1000
    """
    digits = 0.0
    for factor in sp.Mul.make_args(expr):
        if factor.is_Rational:
            digits += _int_digits(factor.p) + _int_digits(factor.q)
        elif isinstance(factor, sp.exp):  # exp(c) has about |c|/ln(10) digits
            digits += _times(1.0, _log10_abs(_constant_part(factor.exp)) - _LOG10_OF_LN10)
        elif factor.is_Pow:
            digits += _times(number_digits(factor.base), _log10_abs(_constant_part(factor.exp)))
        elif factor.is_number:
            digits += abs(_log10_abs(factor))
    return digits


def _sum_digits(terms: tuple[sp.Expr, ...]) -> float:
    """Digits of the rational SymPy computes when adding up the coefficients of ``terms``.

    Only rational coefficients combine in a sum (3*x + 2*x is 5*x); other parts stay symbolic.
    The sum's denominator divides the lcm of the denominators, which is cheap to compute.
    """
    coefficients = [term.as_coeff_Mul()[0] for term in terms]
    denominator = 1
    for coefficient in coefficients:
        denominator = math.lcm(denominator, coefficient.q)
        if _int_digits(denominator) > MAX_NUMBER_DIGITS:
            return _int_digits(denominator)  # stop before it grows any further
    largest = max((_int_digits(c.p) - _int_digits(c.q) for c in coefficients), default=0.0)
    return max(largest, 0.0) + _int_digits(denominator) + math.log10(len(terms) + 1)


def _check_digits(digits: float) -> None:
    if digits > MAX_NUMBER_DIGITS:
        # An integer n has floor(log10 n) + 1 digits.
        size = f"{int(digits) + 1}" if digits < 1e15 else (
            f"{digits:.1e}" if digits < math.inf else "more than 1e300")
        raise LimitExceeded(f"the number would have about {size} digits "
                            f"(limit {MAX_NUMBER_DIGITS})")


def _check_root_bases(bases: list[sp.Rational]) -> None:
    """Refuse roots of long rationals, which SymPy factors before taking the root."""
    digits = sum(_int_digits(base.p) + _int_digits(base.q) for base in bases)
    if digits > MAX_ROOT_DIGITS:
        raise LimitExceeded(f"root of a number with about {int(digits) + 1} digits "
                            f"(limit {MAX_ROOT_DIGITS})")


def _root_bases(expr: sp.Expr) -> list[sp.Rational]:
    """The rationals under a root in ``expr``'s factors (7 in ``x*7**(1/3)``)."""
    return [factor.base for factor in sp.Mul.make_args(expr)
            if factor.is_Pow and factor.base.is_Rational and not factor.exp.is_Integer]


def _check_power(base: sp.Expr, exponent: sp.Expr) -> None:
    exponent_part = _constant_part(exponent)
    _check_digits(_times(number_digits(base), _log10_abs(exponent_part)))
    if exponent_part.is_Rational and not exponent_part.is_Integer:
        _check_root_bases([factor for factor in sp.Mul.make_args(base) if factor.is_Rational])


def _check_exponential(arg: sp.Expr) -> None:
    """Refuse exp(arg) that is astronomically large or small, or hides a huge power.

    SymPy rewrites ``exp(k*log(b))`` as ``b**k``, so those terms get the power check.
    """
    _check_digits(_times(1.0, _log10_abs(_constant_part(arg)) - _LOG10_OF_LN10))
    for term in sp.Add.make_args(arg):
        coefficient, rest = term.as_coeff_Mul()
        logs = [factor for factor in sp.Mul.make_args(rest) if isinstance(factor, sp.log)]
        if len(logs) == 1:
            _check_power(logs[0].args[0], coefficient)


def _check_extremum(kind: type, args: tuple[sp.Expr, ...]) -> None:
    merged = sum(len(arg.args) if isinstance(arg, kind) else 1 for arg in args)
    if merged > MAX_EXTREMUM_ARGS:
        raise LimitExceeded(f"{kind.__name__} of {merged} arguments "
                            f"(limit {MAX_EXTREMUM_ARGS})")


def check_condition(*parts: Any) -> None:
    """Refuse a condition made of more than MAX_CONDITION_COMPARISONS distinct comparisons."""
    comparisons: set[Any] = set()
    for part in parts:
        if isinstance(part, sp.Basic):
            comparisons |= part.atoms(Relational)
    check_comparison_count(len(comparisons))


def check_comparison_count(count: int) -> None:
    """Refuse ``count`` comparisons in one condition, before SymPy builds them."""
    if count > MAX_CONDITION_COMPARISONS:
        raise LimitExceeded(f"condition with {count} comparisons "
                            f"(limit {MAX_CONDITION_COMPARISONS})")


# --- guarded constructors -------------------------------------------------------------------


def power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base**exponent``, refused when SymPy would build a number that is too large."""
    if base == sp.E:  # SymPy turns E**u into exp(u)
        return exponential(exponent)
    _check_power(base, exponent)
    return sp.Pow(base, exponent)


def exponential(arg: sp.Expr) -> sp.Expr:
    """``exp(arg)``, refused when its value or a power it hides would be too large."""
    _check_exponential(arg)
    return sp.exp(arg)


def add(*terms: sp.Expr) -> sp.Expr:
    """The sum of ``terms``; refused when the rationals SymPy combines would be too large."""
    _check_digits(_sum_digits(terms))
    return sp.Add(*terms)


def mul(*factors: sp.Expr) -> sp.Expr:
    """The product of ``factors``; refused when the numbers SymPy combines would be too large."""
    _check_digits(sum(number_digits(factor) for factor in factors))
    # SymPy merges roots of rationals (sqrt(2)*sqrt(3) is sqrt(6)) and factors the product.
    _check_root_bases([base for factor in factors for base in _root_bases(factor)])
    return sp.Mul(*factors)


def maximum(*args: sp.Expr) -> sp.Expr:
    """``Max(*args)``, refused when SymPy would compare too many arguments pairwise."""
    _check_extremum(sp.Max, args)
    return sp.Max(*args)


def minimum(*args: sp.Expr) -> sp.Expr:
    """``Min(*args)``, refused when SymPy would compare too many arguments pairwise."""
    _check_extremum(sp.Min, args)
    return sp.Min(*args)


def modulo(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a % b`` = ``Mod(a, b)``: like Python, the result has the sign of ``b``."""
    _check_digits(number_digits(a) + number_digits(b))
    return sp.Mod(a, b)


def floor_divide(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a // b`` = ``floor(a/b)``."""
    return sp.floor(mul(a, power(b, sp.Integer(-1))))


def piecewise(*pairs: tuple[sp.Expr, Any]) -> sp.Expr:
    """``Piecewise(*pairs)``, with conditions first made free of piecewise values.

    SymPy folds a condition that contains a Piecewise and checks the pieces' coverage by
    solving inequalities, which takes seconds for a few indicators; :func:`cases_of` splits
    the condition without solving anything.

    >>> x, y = sp.symbols("x y", real=True)
    >>> indicator = piecewise((1, x > 0), (0, True))
    >>> piecewise((y, indicator + 1 > 1), (0, True))
    Piecewise((y, x > 0), (0, True))
    """
    conditions = [cases_of(condition) for _, condition in pairs]
    check_condition(*conditions)
    return sp.Piecewise(*[(expr, condition) for (expr, _), condition in zip(pairs, conditions)])


def cases_of(condition: Any) -> Any:
    """``condition`` without piecewise values inside: one case per piece.

    ``P > 0`` with ``P = Piecewise((a, c), (b, True))`` is ``(c & (a > 0)) | (~c & (b > 0))``.

    >>> x, y = sp.symbols("x y", real=True)
    >>> cases_of(sp.Piecewise((x, x > 0), (y, True)) > 1)
    ((x <= 0) & (y > 1)) | ((x > 0) & (x > 1))
    """
    case_count = 0

    def split(current: Any) -> Any:
        nonlocal case_count
        piece = next((node for node in sp.preorder_traversal(current)
                      if isinstance(node, sp.Piecewise)), None)
        if piece is None:
            case_count += 1
            if case_count > MAX_CONDITION_CASES:
                raise LimitExceeded(f"the condition splits into more than {MAX_CONDITION_CASES} "
                                    "cases of the piecewise values in it")
            return current
        cases = []
        earlier: list[Any] = []  # conditions of the earlier pieces: false in this one
        for expr, piece_condition in piece.args:
            within = sp.And(*[sp.Not(c) for c in earlier], piece_condition)
            if within != sp.false:
                cases.append(sp.And(within, split(current.xreplace({piece: expr}))))
            earlier.append(piece_condition)
        return sp.Or(*cases)

    return split(condition) if isinstance(condition, sp.Basic) else condition


def exact_decimal(literal: str) -> sp.Rational:
    """The exact rational written by a float literal: ``"0.1"`` is 1/10, not a binary float.

    >>> exact_decimal("1e-3")
    1/1000
    >>> exact_decimal("2.50")
    5/2
    """
    _, digit_tuple, exponent = Decimal(literal.replace("_", "")).as_tuple()  # literals are unsigned
    _check_digits(len(digit_tuple) + abs(exponent))  # checked before 10**exponent is computed
    mantissa = int("".join(map(str, digit_tuple)))
    if exponent >= 0:
        return sp.Integer(mantissa * 10**exponent)
    return sp.Rational(mantissa, 10**-exponent)


# --- builders: one per vocabulary entry -----------------------------------------------------
# The first docstring line of each builder is the user-facing description in the table.

_ZERO = sp.Integer(0)
_ONE = sp.Integer(1)
_HALF = sp.Rational(1, 2)


def _elementary(function: Callable[[sp.Expr], sp.Expr], doc: str) -> Callable[[sp.Expr], sp.Expr]:
    """A builder applying a SymPy function that needs no guard (bounded or shrinking)."""

    def build(u: sp.Expr) -> sp.Expr:
        return function(u)

    build.__doc__ = doc
    return build


def _hyperbolic(function: Callable[[sp.Expr], sp.Expr], doc: str) -> Callable[[sp.Expr], sp.Expr]:
    """A builder for sinh/cosh/tanh: exp-sized values, and SymPy rewrites f(log(b)) with b**2."""

    def build(u: sp.Expr) -> sp.Expr:
        _check_exponential(2 * u)
        return function(u)

    build.__doc__ = doc
    return build


def _abs(u: sp.Expr) -> sp.Expr:
    """abs(u) = |u|"""
    return sp.Abs(u)


def _sqrt(u: sp.Expr) -> sp.Expr:
    """sqrt(u) = u**(1/2), defined for u >= 0"""
    return power(u, _HALF)


def _exp(u: sp.Expr) -> sp.Expr:
    """exp(u)"""
    return exponential(u)


def _log(u: sp.Expr, base: sp.Expr | None = None) -> sp.Expr:
    """log(u) natural logarithm; log(u, base) = log(u)/log(base)"""
    if base is None:
        return sp.log(u)
    return mul(sp.log(u), power(sp.log(base), sp.Integer(-1)))


def _log1p(u: sp.Expr) -> sp.Expr:
    """log1p(u) = log(1 + u)"""
    return sp.log(1 + u)


def _expm1(u: sp.Expr) -> sp.Expr:
    """expm1(u) = exp(u) - 1"""
    return exponential(u) - 1


def _sigmoid(u: sp.Expr) -> sp.Expr:
    """sigmoid(u) = 1/(1 + exp(-u))"""
    return 1 / (1 + exponential(-u))


def _softplus(u: sp.Expr, beta: sp.Expr = _ONE, threshold: Any = None) -> sp.Expr:
    """softplus(u, beta=1) = log(1 + exp(beta*u))/beta

    ``threshold`` (torch's F.softplus switches to the identity where beta*u > threshold) is
    accepted and left out of the mathematics; the autodiff check reports what it does.
    """
    return mul(sp.log(1 + exponential(mul(beta, u))), power(beta, sp.Integer(-1)))


def _relu(u: sp.Expr) -> sp.Expr:
    """relu(u) = max(u, 0)"""
    return maximum(u, sp.Integer(0))


def _leaky_relu(u: sp.Expr, negative_slope: sp.Expr = sp.Rational(1, 100)) -> sp.Expr:
    """leaky_relu(u, negative_slope=0.01) = u where u > 0, else negative_slope*u"""
    return piecewise((u, u > 0), (mul(negative_slope, u), True))


def _elu(u: sp.Expr, alpha: sp.Expr = _ONE) -> sp.Expr:
    """elu(u, alpha=1) = u where u > 0, else alpha*(exp(u) - 1)"""
    return piecewise((u, u > 0), (mul(alpha, exponential(u) - 1), True))


def _max(*args: sp.Expr) -> sp.Expr:
    """max(a, b, ...) = the largest argument (also maximum, amax)"""
    return maximum(*args)


def _min(*args: sp.Expr) -> sp.Expr:
    """min(a, b, ...) = the smallest argument (also minimum, amin)"""
    return minimum(*args)


def _clip(u: sp.Expr, lo: sp.Expr | None = None, hi: sp.Expr | None = None) -> sp.Expr:
    """clip(u, lo, hi) = min(max(u, lo), hi); a bound that is None or left out does not apply"""
    if lo is None and hi is None:
        raise ArgumentError("needs a lower or an upper bound: clip(u, lo, hi), "
                            "where lo or hi may be None")
    clipped = u if lo is None else maximum(u, lo)
    return clipped if hi is None else minimum(clipped, hi)


def _round(u: sp.Expr, decimals: sp.Expr = sp.Integer(0)) -> sp.Expr:
    """round(u, decimals=0) = floor(u*10**decimals + 1/2)/10**decimals: ties round up

    Python, NumPy and PyTorch round ties to even instead; that changes only the value at the
    jumps (u = k + 1/2), not where they are, so differentiability is the same.
    """
    if not decimals.is_Integer:
        raise ArgumentError("decimals must be an integer")
    scale = power(sp.Integer(10), decimals)
    return mul(sp.floor(add(mul(u, scale), _HALF)), power(scale, sp.Integer(-1)))


def _heaviside(u: sp.Expr, h0: sp.Expr = _HALF) -> sp.Expr:
    """heaviside(u, h0=1/2) = 0 where u < 0, h0 at u = 0, 1 where u > 0"""
    return sp.Heaviside(u, h0)


def _step(u: sp.Expr) -> sp.Expr:
    """step(u) = 1 where u >= 0, else 0 (heaviside(u, 1))"""
    return sp.Heaviside(u, 1)


def _where(condition: sp.Basic, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """where(cond, a, b) = a where cond holds, else b"""
    return piecewise((a, condition), (b, True))


def _piecewise(*pairs: tuple[sp.Expr, sp.Basic]) -> sp.Expr:
    """Piecewise((a, cond1), (b, cond2), ..., (z, True)) = the value of the first true condition"""
    return piecewise(*pairs)


def _huber(r: sp.Expr, delta: sp.Expr = _ONE) -> sp.Expr:
    """huber(r, delta=1) = r**2/2 where |r| <= delta, else delta*(|r| - delta/2)"""
    return piecewise(
        (power(r, sp.Integer(2)) / 2, sp.Abs(r) <= delta),
        (mul(delta, sp.Abs(r) - delta / 2), True),
    )


def _logsumexp(*args: sp.Expr) -> sp.Expr:
    """logsumexp(a, b, ...) = log(exp(a) + exp(b) + ...)"""
    return sp.log(add(*[exponential(a) for a in args]))


def _sum(*args: sp.Expr) -> sp.Expr:
    """sum(u) = u over the batch; sum(a, b, ...) = a + b + ... over components"""
    return args[0] if len(args) == 1 else add(*args)


def _mean(*args: sp.Expr) -> sp.Expr:
    """mean(u) = u over the batch; mean(a, b, ...) = (a + b + ...)/n over components"""
    return args[0] if len(args) == 1 else mul(add(*args), sp.Rational(1, len(args)))


def _square(u: sp.Expr) -> sp.Expr:
    """square(u) = u**2"""
    return power(u, sp.Integer(2))


def _pow(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """pow(a, b) = a**b"""
    return power(a, b)


# Library calls over several tensor components, as the Python-source reader emits them (and as
# expressions may write them); their autodiff rules are in diffcheck.autodiff_rules.


def _softmax(*args: sp.Expr, index: sp.Expr = _ZERO) -> sp.Expr:
    """softmax(a, b, ..., index=k) = exp(a_k)/(exp(a) + exp(b) + ...), component k (default 0)"""
    k = _component(index, args)
    return mul(exponential(args[k]), power(add(*[exponential(a) for a in args]), sp.Integer(-1)))


def _log_softmax(*args: sp.Expr, index: sp.Expr = _ZERO) -> sp.Expr:
    """log_softmax(a, b, ..., index=k) = a_k - logsumexp(a, b, ...), component k (default 0)"""
    k = _component(index, args)
    return args[k] - sp.log(add(*[exponential(a) for a in args]))


def _component(index: Any, args: tuple[sp.Expr, ...]) -> int:
    if not (isinstance(index, sp.Integer) and -len(args) <= int(index) < len(args)):
        raise ArgumentError(f"index must be an integer from {-len(args)} to {len(args) - 1}")
    return int(index) % len(args)


def _logsigmoid(u: sp.Expr) -> sp.Expr:
    """logsigmoid(u) = log(sigmoid(u)) = -softplus(-u), as the library computes it"""
    return -sp.log(1 + exponential(-u))


def _hypot(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """hypot(a, b) = sqrt(a**2 + b**2)"""
    return power(add(power(a, sp.Integer(2)), power(b, sp.Integer(2))), _HALF)


def _norm(*args: sp.Expr) -> sp.Expr:
    """norm(a, b, ...) = sqrt(a**2 + b**2 + ...), the 2-norm of the components"""
    return power(add(*[power(a, sp.Integer(2)) for a in args]), _HALF)


def _xlogy(x: sp.Expr, y: sp.Expr) -> sp.Expr:
    """xlogy(x, y) = x*log(y), and 0 where x = 0"""
    return piecewise((sp.Integer(0), sp.Eq(x, 0)), (mul(x, sp.log(y)), True))


def _logaddexp(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """logaddexp(a, b) = log(exp(a) + exp(b))"""
    return sp.log(add(exponential(a), exponential(b)))


_LIBRARY_CALLS: dict[str, FunctionSpec]  # filled below, after _spec is defined


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """One row of the vocabulary: how a call is checked and lowered to SymPy."""

    min_args: int
    #: ``None``: any number of arguments (max, min, logsumexp, Piecewise).
    max_args: int | None
    #: Keyword as written -> the builder parameter it sets (clip's ``a_min`` sets ``lo``).
    keywords: Mapping[str, str]
    build: Callable[..., Any]
    #: One line for users: the first line of the builder's docstring.
    doc: str
    #: Positions that hold a condition rather than a value (``where``'s first argument).
    condition_args: frozenset[int] = frozenset()
    #: Every argument is a ``(value, condition)`` tuple (``Piecewise``).
    pair_args: bool = False
    #: ``None`` may stand for a bound that does not apply (clip's bounds).
    accepts_none: bool = False
    #: Keywords accepted for compatibility and ignored (``axis=`` of a batch mean).
    ignored_keywords: frozenset[str] = frozenset()

    def parameters(self) -> tuple[str, ...]:
        """The builder's positional parameter names, in order: which keyword a position fills.

        A ``*args`` builder (max, softmax) has none: its keywords (``index``) are keyword-only.
        """
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return tuple(name for name, parameter in inspect.signature(self.build).parameters.items()
                     if parameter.kind in positional)

    def arity(self) -> str:
        """How many positional arguments, in words: ``'1 or 2 arguments'``."""
        low, high = self.min_args, self.max_args
        if high is None:
            return f"at least {low} argument{'s' * (low != 1)}"
        if low == high:
            return f"{low} argument{'s' * (low != 1)}"
        return f"{low} {'or' if high == low + 1 else 'to'} {high} arguments"


def _spec(
    build: Callable[..., Any],
    min_args: int = 1,
    max_args: int | None = 1,
    keywords: Mapping[str, str] | None = None,
    **options: Any,
) -> FunctionSpec:
    doc = (build.__doc__ or "").strip().splitlines()[0]
    return FunctionSpec(min_args, max_args, dict(keywords or {}), build, doc, **options)


def _aliases(names: str, spec: FunctionSpec) -> dict[str, FunctionSpec]:
    return dict.fromkeys(names.split(), spec)


_TORCH_INPLACE = frozenset({"inplace"})
_BATCH_AXES = frozenset({"axis", "dim", "keepdim", "keepdims"})

#: name -> how calls to it are checked and lowered. Prefixed calls (``np.exp``) use the name
#: after the prefix.
VOCABULARY: dict[str, FunctionSpec] = {
    "abs": _spec(_abs),
    "sqrt": _spec(_sqrt),
    "exp": _spec(_exp),
    "log": _spec(_log, 1, 2),
    "log1p": _spec(_log1p),
    "expm1": _spec(_expm1),
    "sin": _spec(_elementary(sp.sin, "sin(u)")),
    "cos": _spec(_elementary(sp.cos, "cos(u)")),
    "tan": _spec(_elementary(sp.tan, "tan(u), defined where cos(u) != 0")),
    "tanh": _spec(_hyperbolic(sp.tanh, "tanh(u)")),
    "sinh": _spec(_hyperbolic(sp.sinh, "sinh(u)")),
    "cosh": _spec(_hyperbolic(sp.cosh, "cosh(u)")),
    **_aliases("atan arctan", _spec(_elementary(sp.atan, "atan(u) (also arctan)"))),
    "sigmoid": _spec(_sigmoid),
    "softplus": _spec(_softplus, 1, 2, {"beta": "beta", "threshold": "threshold"}),
    "relu": _spec(_relu, ignored_keywords=_TORCH_INPLACE),
    "leaky_relu": _spec(_leaky_relu, 1, 2, {"negative_slope": "negative_slope"},
                        ignored_keywords=_TORCH_INPLACE),
    "elu": _spec(_elu, 1, 2, {"alpha": "alpha"}, ignored_keywords=_TORCH_INPLACE),
    **_aliases("max maximum amax", _spec(_max, 2, None)),
    **_aliases("min minimum amin", _spec(_min, 2, None)),
    **_aliases("clip clamp", _spec(_clip, 1, 3, {"min": "lo", "max": "hi", "a_min": "lo",
                                                 "a_max": "hi"}, accepts_none=True)),
    "sign": _spec(_elementary(sp.sign, "sign(u) = -1, 0 or 1")),
    "floor": _spec(_elementary(sp.floor, "floor(u) = the largest integer <= u")),
    "ceil": _spec(_elementary(sp.ceiling, "ceil(u) = the smallest integer >= u")),
    "round": _spec(_round, 1, 2, {"decimals": "decimals", "ndigits": "decimals"}),
    "heaviside": _spec(_heaviside, 1, 2, {"values": "h0"}),
    "step": _spec(_step),
    "where": _spec(_where, 3, 3, condition_args=frozenset({0})),
    "Piecewise": _spec(_piecewise, 1, None, pair_args=True),
    "huber": _spec(_huber, 1, 2, {"delta": "delta"}),
    "logsumexp": _spec(_logsumexp, 2, None),
    "mean": _spec(_mean, 1, None, ignored_keywords=_BATCH_AXES),
    "sum": _spec(_sum, 1, None, ignored_keywords=_BATCH_AXES),
    "square": _spec(_square),
    "pow": _spec(_pow, 2, 2),
}

_LIBRARY_CALLS = {
    "softmax": _spec(_softmax, 2, None, {"index": "index"}, ignored_keywords=_BATCH_AXES),
    "log_softmax": _spec(_log_softmax, 2, None, {"index": "index"}, ignored_keywords=_BATCH_AXES),
    **_aliases("logsigmoid log_sigmoid", _spec(_logsigmoid)),
    "hypot": _spec(_hypot, 2, 2),
    "norm": _spec(_norm, 1, None, ignored_keywords=_BATCH_AXES),
    "xlogy": _spec(_xlogy, 2, 2),
    "logaddexp": _spec(_logaddexp, 2, 2),
}
VOCABULARY.update({name: spec for name, spec in _LIBRARY_CALLS.items() if name not in VOCABULARY})

#: The vocabulary's names, for "did you mean" suggestions and the documentation.
KNOWN_FUNCTIONS: frozenset[str] = frozenset(VOCABULARY)

#: Named constants usable bare (``pi``) and after a module prefix (``np.pi``, ``math.e``).
#: A bare ``e`` stays a variable: it is a common name for an error term.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi}
MODULE_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}

#: Names of non-finite values, refused bare or prefixed (``inf``, ``np.nan``).
NON_FINITE_NAMES = frozenset({"inf", "infty", "infinity", "nan"})
