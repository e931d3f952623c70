"""Candidate sets ``g = 0``: finding real points on them and writing them as equations.

>>> import sympy as sp
>>> f, y = sp.symbols("f y", real=True)
>>> equation_text(f - y)
'f - y = 0'
>>> equation_text(1 - f)
'f = 1'
>>> equation_text(sp.Abs(f) - 2)
'Abs(f) = 2'
>>> [p[f] for p in points_on_set(f**2 - 4, [f], [f], seed=0)]
[-2, 2]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction

import mpmath as mp
import sympy as sp

from diffcheck.numeric import DIGITS, TINY, compile_expr, evaluate, to_mpf

#: how far out the numeric root scan looks, and how finely
SCAN_RADIUS = 12
SCAN_SAMPLES = 481
FAR_DECADES = 6
MAX_ROOTS_PER_LINE = 6
MAX_POLY_DEGREE = 16


def equation_text(g: sp.Expr) -> str:
    """``g = 0`` written the way a person would: the constant moved right, one sign chosen."""
    g = sign_carrier(g)
    if g.could_extract_minus_sign():
        g = -g
    symbols = sorted(g.free_symbols, key=str)
    if len(symbols) == 1 and g.is_polynomial(symbols[0]) and sp.degree(g, symbols[0]) == 1:
        (x,) = symbols
        return f"{x} = {sp.solve(g, x)[0]}"
    constant, rest = g.as_independent(*g.free_symbols, as_Add=True) if g.free_symbols else (g, 0)
    if constant != 0 and rest != 0:
        if rest.could_extract_minus_sign():
            rest, constant = -rest, -constant
        return f"{rest} = {-constant}"
    return f"{g} = 0"


def product_of_roots_text(x: sp.Symbol, roots: Sequence) -> str:
    """A finite set of points of one variable as one equation, e.g. ``(x - 1)*(x + 1) = 0``."""
    if len(roots) == 1:
        return f"{x} = {roots[0]}"
    return f"{sp.Mul(*[x - r for r in roots])} = 0"


def sample_assignments(symbols: Sequence[sp.Symbol], rng: random.Random, count: int = 4) -> list[dict]:
    """Values for the variables not solved for: random generic ones first, then 0 and 1.

    Random rationals make a point generic (no other switch is accidentally at its boundary);
    the special values find sets that only exist there, such as the tip of ``sqrt(x**2 + y**2)``.
    """
    if not symbols:
        return [{}]
    # Sign patterns alternate so that every variable is seen on both sides of 0, and pairs
    # of variables with both equal and opposite signs: masking often depends on a sign.
    patterns = [
        [(-1) ** j for j in range(len(symbols))],
        [(-1) ** (j + 1) for j in range(len(symbols))],
        [1] * len(symbols),
        [-1] * len(symbols),
    ]
    picks = []
    for i in range(count):
        signs = patterns[i % len(patterns)]
        picks.append({s: sp.Rational(sign * rng.randint(3, 23), 8) for s, sign in zip(symbols, signs)})
    picks.append({s: sp.Integer(0) for s in symbols})
    picks.append({s: sp.Integer(1) for s in symbols})
    return picks


def points_on_set(
    g: sp.Expr,
    all_symbols: Sequence[sp.Symbol],
    solve_order: Sequence[sp.Symbol],
    *,
    seed: int = 1,
    want: int = 4,
) -> list[dict]:
    """Real points (dicts symbol -> SymPy number) where ``g`` vanishes.

    ``g`` must hold no model functions. Each variable of ``solve_order`` that ``g`` depends on
    is tried in turn as the unknown, the others fixed by :func:`sample_assignments`.
    """
    rng = random.Random(seed)
    points: list[dict] = []
    seen: set = set()
    for unknown in [s for s in solve_order if s in g.free_symbols]:
        others = [s for s in all_symbols if s != unknown]
        for assignment in sample_assignments(others, rng):
            line = g.subs(assignment)
            for root in univariate_roots(line, unknown):
                point = dict(assignment)
                point[unknown] = root
                key = tuple(sorted((str(k), str(v)) for k, v in point.items()))
                if key not in seen:
                    seen.add(key)
                    points.append(point)
            if len(points) >= want and others:
                return points
        if points:
            return points
    return points


def univariate_roots(g: sp.Expr, x: sp.Symbol) -> list:
    """Real roots of ``g(x)``: exact for rational polynomials, else by scan and bisection."""
    if x not in g.free_symbols:
        return []
    g = sign_carrier(g)
    if isinstance(g, sp.Mul):
        # A product vanishes where a factor does; this also finds zeros where g touches 0.
        roots = {r for factor in g.args for r in univariate_roots(factor, x)}
        return sorted(roots, key=lambda r: float(r))[:MAX_ROOTS_PER_LINE]
    exact = _polynomial_roots(g, x)
    if exact is not None:
        return exact
    return _scanned_roots(g, x)


def same_set(g: sp.Expr, h: sp.Expr) -> bool:
    """Whether ``g = 0`` and ``h = 0`` are visibly the same set (``x``, ``-x``, ``Abs(2*x)``).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> same_set(x - y, sp.Abs(2*y - 2*x)), same_set(x, y)
    (True, False)
    """
    a, b = sign_carrier(g), sign_carrier(h)
    if a == b or sp.expand(a + b) == 0:
        return True
    try:
        ratio = sp.cancel(a / b)
    except (ZeroDivisionError, sp.PolynomialError):
        return False
    return bool(ratio.is_number and ratio != 0)


def sign_carrier(g: sp.Expr) -> sp.Expr:
    """Strip wrappers that vanish exactly where their argument does (abs, even powers).

    Their zeros are touching zeros (no sign change), which a scan for sign changes misses.
    """
    while True:
        if isinstance(g, sp.Abs):
            g = g.args[0]
        elif isinstance(g, sp.Pow) and g.exp.is_positive and g.exp.is_number:
            g = g.base
        else:
            return g


def _polynomial_roots(g: sp.Expr, x: sp.Symbol) -> list | None:
    try:
        if not g.is_polynomial(x):
            return None
        poly = sp.Poly(g, x)
    except (sp.PolynomialError, sp.GeneratorsNeeded):
        return None
    if poly.degree() > MAX_POLY_DEGREE or not all(c.is_Rational for c in poly.all_coeffs()):
        return None
    try:
        roots = sorted(set(poly.real_roots()), key=lambda r: float(r))
    except (TypeError, ValueError, NotImplementedError, sp.PolynomialError):
        return None
    return [_exact_or_float(r) for r in roots]


#: an algebraic root is kept exact (sqrt(2), not 1.41421...) when it is this simple
MAX_RADICAL_OPS = 12


def _exact_or_float(root: sp.Expr) -> sp.Expr:
    """A rational or a short radical exactly; any other root as a high-precision Float.

    Exact radicals keep points on the edge of a domain inside it: acos(1 - x**2) at
    x = sqrt(2) is acos(-1), while at a 60-digit float it is not real.
    """
    if root.is_Rational:
        return root
    if not isinstance(root, sp.CRootOf) and sp.count_ops(root) <= MAX_RADICAL_OPS:
        return root
    return sp.Float(sp.N(root, DIGITS), DIGITS)


def _scanned_roots(g: sp.Expr, x: sp.Symbol) -> list:
    fn = compile_expr(g, [x])
    near = [mp.mpf(SCAN_RADIUS) * (2 * i / (SCAN_SAMPLES - 1) - 1) for i in range(SCAN_SAMPLES)]
    # Farther out, geometrically spaced points up to 1e6 catch sets far from the origin
    # (relu(abs(x) - 100)); their roots are refined by bisection like the others.
    far = [mp.mpf(10) ** (k / 24) for k in range(int(24 * mp.log10(SCAN_RADIUS)) + 1, 24 * FAR_DECADES + 1)]
    grid = sorted([-v for v in far] + near + far)
    # Offset the grid by an irrational step so that exact roots at "nice" values are
    # bracketed rather than hit: bisection then converges from both sides.
    grid = [v + mp.mpf("0.0123456789") for v in grid]
    # The scan only needs signs: low precision is enough (and many times faster).
    values = [evaluate(fn, [v], digits=20) for v in grid]
    roots = []
    for (a, fa), (b, fb) in zip(zip(grid, values), zip(grid[1:], values[1:])):
        if fa is None or fb is None or fa * fb > 0:
            continue
        root = _bisect(fn, a, b, fa)
        if root is not None:
            roots.append(root)
    roots.sort(key=abs)
    return [_nice_number(g, x, r) for r in roots[:MAX_ROOTS_PER_LINE]]


def _bisect(fn, a, b, fa):
    with mp.workdps(DIGITS):
        for _ in range(3 * DIGITS + 20):
            mid = (a + b) / 2
            fm = evaluate(fn, [mid])
            if fm is None:
                return None
            if fm == 0:
                return mid
            if (fm > 0) == (fa > 0):
                a, fa = mid, fm
            else:
                b = mid
        value = evaluate(fn, [a])
        # A sign change without a root (a pole or a jump of g) is not a point of the set.
        if value is None or abs(value) > mp.mpf(10) ** (-DIGITS // 3):
            return None
        return a


def _nice_number(g: sp.Expr, x: sp.Symbol, root) -> sp.Expr:
    """The root as an exact small rational when it is one, else a high-precision Float."""
    guess = Fraction(mp.nstr(root, 30)).limit_denominator(1000)
    rational = sp.Rational(guess.numerator, guess.denominator)
    try:
        if abs(to_mpf(rational) - root) < mp.mpf("1e-25") and g.subs(x, rational) == 0:
            return rational
    except (TypeError, ValueError):
        pass
    return sp.Float(mp.nstr(root, DIGITS), DIGITS)


def is_zero(value) -> bool:
    return value is not None and abs(value) < TINY
