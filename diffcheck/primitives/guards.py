"""SymPy constructors that stay fast: every builder of the registry constructs through these.

SymPy evaluates eagerly, and some of its automatic steps take forever on inputs a few
characters long: ``2**2**2**2**2**2`` is computed digit by digit, ``floor(exp(10**100))``
never finishes, roots of long integers are factored, Max compares its arguments pairwise, and
a condition containing a Piecewise is solved as inequalities. So the builders construct
through :func:`power`, :func:`exponential`, :func:`add`, :func:`mul`, :func:`maximum`,
:func:`minimum` and :func:`piecewise`, which check the size first and raise
:class:`LimitExceeded`:

>>> import sympy as sp
>>> u = sp.Symbol("u", real=True)
>>> power(sp.Integer(2), sp.Integer(10))
1024
>>> power(sp.Integer(9), power(sp.Integer(9), sp.Integer(9)))
Traceback (most recent call last):
    ...
diffcheck.primitives.guards.LimitExceeded: the number would have about 369693100 digits (limit 4000)
>>> power(u, sp.Integer(10) ** 100) == u ** (sp.Integer(10) ** 100)  # symbolic base: no digits
True
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

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
    # a float or infinite coefficient (finfo eps, a fill with -inf) is no rational: no digits to add
    coefficients = [c for c in (term.as_coeff_Mul()[0] for term in terms) if c.is_Rational]
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


def check_exponential(arg: sp.Expr) -> None:
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
    # Max(Max(a, b), c) is merged into one Max of three (exactly this class: a subclass counts once)
    merged = sum(len(arg.args) if arg.func is kind else 1 for arg in args)
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
    check_exponential(arg)
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
    if not isinstance(exponent, int):  # 'n', 'N', 'F': NaN or infinity, which no literal spells
        raise ArgumentError(f"{literal} is not a finite number")
    _check_digits(len(digit_tuple) + abs(exponent))  # checked before 10**exponent is computed
    mantissa = int("".join(map(str, digit_tuple)))
    if exponent >= 0:
        return sp.Integer(mantissa * 10**exponent)
    return sp.Rational(mantissa, 10**-exponent)
