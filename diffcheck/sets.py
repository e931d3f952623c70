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

import math
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache

import mpmath as mp
import sympy as sp

from diffcheck.numeric import (
    DIGITS,
    compile_expr,
    compile_float,
    concrete_model_functions,
    evaluate,
    exact_number,
    free_symbols,
    not_a_number,
    readings_along,
    to_mpf,
    value,
)

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
    symbols = sorted(free_symbols(g), key=str)
    if len(symbols) == 1 and g.is_polynomial(symbols[0]) and sp.degree(g, symbols[0]) == 1:
        (x,) = symbols
        return f"{x} = {sp.solve(g, x)[0]}"
    constant, rest = (g.as_independent(*free_symbols(g), as_Add=True) if free_symbols(g)
                      else (g, sp.Integer(0)))
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
    for unknown in [s for s in solve_order if s in free_symbols(g)]:
        others = [s for s in all_symbols if s != unknown]
        for assignment in sample_assignments(others, rng):
            for root in roots_on_line(g, all_symbols, assignment, unknown):
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


def roots_on_line(g: sp.Expr, all_symbols: Sequence[sp.Symbol], assignment: dict,
                  unknown: sp.Symbol) -> list:
    """Real roots of ``g`` along ``unknown``, every other variable fixed by ``assignment``.

    Read from ``g`` compiled once for every line where a scan finds them; otherwise solved
    on :func:`line_through` (never ``g.xreplace(assignment)``: it rebuilds every max of a
    deep network with evaluation). An assignment on a pole of ``g`` has none.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> roots_on_line(sp.Max(0, x - y) - 1, [x, y], {y: sp.Integer(2)}, x)
    [3]
    """
    roots = _roots_read_on_line(g, all_symbols, assignment, unknown)
    if roots is not None:
        return roots
    line = line_through(g, assignment, unknown)
    if not_a_number(line):  # the assignment sits on a pole of g (atan(1/0))
        return []
    return univariate_roots(line, unknown)


def line_through(g: sp.Expr, assignment: dict, unknown: sp.Symbol) -> sp.Expr:
    """``g`` with every variable but ``unknown`` replaced by its value: a function of one
    variable, each distinct subexpression rebuilt once.

    Parts free of ``unknown`` evaluate to numbers; a max, min or piecewise that still depends
    on it is rebuilt without evaluation: SymPy would compare its arguments pairwise through
    the assumption system, minutes for the stacked layers of a deep ReLU network, and a
    switch of the unknown is read by the numeric scan anyway.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> line_through(sp.Max(0, x - y) + sp.Max(0, y) + y, {y: 2}, x)
    Max(0, x - 2) + 4
    """
    done: dict[sp.Basic, sp.Basic] = {}
    stack: list[tuple[sp.Basic, bool]] = [(g, False)]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if node in assignment:
            done[node] = exact_number(assignment[node])
        elif not node.args:
            done[node] = node
        elif expanded:
            args = tuple(done[a] for a in node.args)
            if args == node.args:
                done[node] = node
            elif isinstance(node, _SWITCHES) and any(unknown in free_symbols(a) for a in args):
                done[node] = node.func(*args, evaluate=False)
            else:
                done[node] = node.func(*args)
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in done)
    return done[g]


@lru_cache(maxsize=1024)
def _scanned_only(g: sp.Expr, unknown: sp.Symbol) -> bool:
    carrier = sign_carrier(g)
    return not (isinstance(carrier, sp.Mul) or carrier.is_polynomial(unknown))


def _roots_read_on_line(g: sp.Expr, all_symbols: Sequence[sp.Symbol], assignment: dict,
                        unknown: sp.Symbol) -> list | None:
    """The roots :func:`univariate_roots` would scan on the line of ``g`` through
    ``assignment``, read with ``g`` compiled once for every line (None: left to it).

    Substituting the assignment into a large loss rebuilds each of its max, min and
    piecewise, which compare their arguments, still symbolic in the unknown, again: most of
    the cost of a line. Products and polynomials (solved exactly, touching zeros included)
    and lines that over- or underflow in float64 are left to :func:`univariate_roots`.
    """
    if not _scanned_only(g, unknown):
        return None
    symbols = tuple(all_symbols)
    index = symbols.index(unknown)
    values = [float(assignment[s]) if s != unknown else 0.0 for s in symbols]
    readings = readings_along(g, symbols, values, index, _GRID)
    known = [r for r in readings if r is not None]
    if len(known) < len(readings) - len(readings) // 2:
        return None  # over- or underflows: the exact scan reads it at a lower precision
    if all(r > 0 for r in known) or all(r < 0 for r in known):
        return []
    exact = compile_expr(g, symbols)
    fixed = [to_mpf(assignment[s]) if s != unknown else None for s in symbols]

    def on_line(v):
        return exact(*[v if s == unknown else fixed[i] for i, s in enumerate(symbols)])

    return _roots_from_readings(readings, on_line, lambda rational: g.xreplace(
        {**assignment, unknown: rational}) == 0)


def univariate_roots(g: sp.Expr, x: sp.Symbol) -> list:
    """Real roots of ``g(x)``: exact for rational polynomials, else by scan and bisection."""
    if x not in free_symbols(g):
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
    return _same_set(g, h)


@lru_cache(maxsize=4096)
def _same_set(g: sp.Expr, h: sp.Expr) -> bool:
    a, b = sign_carrier(g), sign_carrier(h)
    if a == b:
        return True
    if free_symbols(a) != free_symbols(b):
        return False
    if _ratio_varies(a, b):
        return False
    # The same switches on both sides, each read as one unknown, decide most pairs without
    # rebuilding them: SymPy re-evaluates a max or min whenever an expression holding it is
    # expanded (a pairwise comparison of its arguments; seconds per pair on a real loss)
    return _constant_ratio(*_switches_as_unknowns(a, b))


def _constant_ratio(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether ``a = -b`` or ``a/b`` is a nonzero constant, exactly."""
    if sp.expand(a + b) == 0:
        return True
    try:
        ratio = sp.cancel(a / b)
    except (ZeroDivisionError, sp.PolynomialError):
        return False
    return bool(ratio.is_number and ratio != 0)


#: what :func:`_switches_as_unknowns` replaces: functions SymPy re-evaluates when rebuilt
_SWITCHES = (sp.Max, sp.Min, sp.Piecewise)


def _switches_as_unknowns(a: sp.Expr, b: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``a`` and ``b`` with each max, min and piecewise (the outermost ones) replaced by a
    fresh symbol, the same symbol for the same subexpression on both sides.

    An identity of the results holds for the originals too. The converse need not: two sets
    equal only through an identity of max itself (``max(x, 0) - max(-x, 0) = x``) are then
    not "visibly" the same, and are decided as two sets, each on its own.

    >>> x, y = sp.symbols("x y", real=True)
    >>> _switches_as_unknowns(2*sp.Max(x, y) - x, x - 2*sp.Max(x, y))[0].has(sp.Max)
    False
    """
    found = (a.atoms(*_SWITCHES) | b.atoms(*_SWITCHES)) if a.has(*_SWITCHES) or \
        b.has(*_SWITCHES) else set()
    if not found:
        return a, b
    unknowns = {switch: sp.Dummy(f"s{k}", real=True)
                for k, switch in enumerate(sorted(found, key=sp.default_sort_key))}
    return a.xreplace(unknowns), b.xreplace(unknowns)


#: generic points at which two set functions are compared before any exact test
_SCREEN_POINTS = 3


def _ratio_varies(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether ``a/b`` visibly takes two different values (then ``a = 0`` and ``b = 0`` are not
    the same set): a cheap screen at generic points before SymPy's exact ``cancel``, which on
    the sets of a real loss (dozens of max/min over box coordinates) costs seconds per pair.
    Model functions are compared through their stand-ins, which differ when the functions do.
    """
    symbols = sorted(free_symbols(a), key=str)
    a_fn = compile_expr(concrete_model_functions(a), symbols)
    b_fn = compile_expr(concrete_model_functions(b), symbols)
    ratios = []
    for k in range(_SCREEN_POINTS):
        # fixed generic rationals of both signs, different for every variable and point
        point = [mp.mpf((-1) ** (i + k) * ((37 * i + 61 * k) % 89 + 11)) / 29
                 for i in range(len(symbols))]
        a_value, b_value = evaluate(a_fn, point, digits=30), evaluate(b_fn, point, digits=30)
        if a_value is None or b_value is None:
            continue
        if (a_value == 0) != (b_value == 0):
            return True
        if b_value != 0:
            ratios.append(a_value / b_value)
    return any(abs(r - ratios[0]) > mp.mpf("1e-20") * (abs(r) + abs(ratios[0]))
               for r in ratios[1:])


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
    if poly.degree() == 1:  # most sets meet a line once: its root without the root finder
        slope, offset = poly.all_coeffs()
        return [-offset / slope]
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


def _scan_grid() -> list[float]:
    near = [SCAN_RADIUS * (2 * i / (SCAN_SAMPLES - 1) - 1) for i in range(SCAN_SAMPLES)]
    # Farther out, geometrically spaced points up to 1e6 catch sets far from the origin
    # (relu(abs(x) - 100)); their roots are refined like the others.
    far = [10 ** (k / 24) for k in range(int(24 * math.log10(SCAN_RADIUS)) + 1,
                                         24 * FAR_DECADES + 1)]
    # Offset the grid by an irrational step so that exact roots at "nice" values are
    # bracketed rather than hit: the refinement then converges from both sides.
    return [v + 0.0123456789 for v in sorted([-v for v in far] + near + far)]


_GRID = _scan_grid()


def _scanned_roots(g: sp.Expr, x: sp.Symbol) -> list:
    """Sign changes of g on a grid (float64: only signs are needed), refined at DIGITS."""
    readings = readings_along(g, [x], [0.0], 0, _GRID)
    if sum(r is None for r in readings) > len(readings) // 2:
        # float64 over- or underflows (exp(1000*x)): scan at a low mpmath precision instead
        fn = compile_expr(g, [x])
        readings = [evaluate(fn, [v], digits=20) for v in _GRID]
    return _roots_from_readings(readings, compile_expr(g, [x]),
                                lambda rational: g.subs(x, rational) == 0)


def _roots_from_readings(readings: list, fn: Callable, vanishes_at: Callable) -> list:
    """The sign changes of ``readings`` (of ``fn`` on the grid) refined at DIGITS, nearest
    to 0 first, each exact where ``vanishes_at`` it."""
    roots = []
    for (a, fa), (b, fb) in zip(zip(_GRID, readings), zip(_GRID[1:], readings[1:])):
        if fa is None or fb is None or (fa > 0) == (fb > 0):
            continue
        root = _refine(fn, mp.mpf(a), mp.mpf(b))
        if root is not None:
            roots.append(root)
    roots.sort(key=abs)
    return [_nice_root(r, vanishes_at) for r in roots[:MAX_ROOTS_PER_LINE]]


#: halvings of a bracket whose ends have one sign before it is given up (2**-64 of the grid
#: step: well below float64's resolution of the scan that proposed it)
UNBRACKETED_STEPS = 64


def _refine(fn, a, b):
    """A root of fn in the bracket [a, b], at DIGITS precision (None: a jump or a pole).

    Regula falsi with the Illinois correction: exact in one step on a linear piece (g is
    often piecewise linear), superlinear elsewhere; bisection when it stalls.
    """
    with mp.workdps(DIGITS):
        fa, fb = evaluate(fn, [a]), evaluate(fn, [b])
        if fa is None or fb is None:
            return None
        tolerance = mp.mpf(10) ** (-DIGITS + 5) * (1 + abs(a) + abs(b))
        kept = 0  # which end stayed at the last step: +1 a, -1 b
        # ends of one sign: the float scan's sign change was rounding (1 - softmax where it
        # saturates, far out on a line); halving looks for a sign change inside (two roots)
        # as far as float64 could have placed one, not down to DIGITS (180 evaluations)
        unbracketed = (fa > 0) == (fb > 0) and fa != 0 and fb != 0
        for step in range(4 * DIGITS):
            if unbracketed and step >= UNBRACKETED_STEPS:
                break
            if fa == 0:
                return a
            if fb == 0:
                return b
            # equal ends (a bracket that lost its sign change) have no secant: bisect
            c = (a * fb - b * fa) / (fb - fa) if fb != fa else (a + b) / 2
            if not (min(a, b) < c < max(a, b)):
                c = (a + b) / 2
            fc = evaluate(fn, [c])
            if fc is None:
                return None
            if fc == 0 or abs(b - a) < tolerance:
                a = c
                break
            if (fc > 0) == (fb > 0):
                b, fb = c, fc
                if kept == 1:
                    fa /= 2
                kept = 1
            else:
                a, fa = c, fc
                unbracketed = False
                if kept == -1:
                    fb /= 2
                kept = -1
        root = a if abs(evaluate(fn, [a]) or 0) <= abs(evaluate(fn, [b]) or 0) else b
        reading = evaluate(fn, [root])
        # a sign change without a root (a pole or a jump of g) is not a point of the set
        if reading is None or abs(reading) > mp.mpf(10) ** (-DIGITS // 3):
            return None
        return root


def _nice_root(root, vanishes_at: Callable[[sp.Rational], bool]) -> sp.Expr:
    """``root`` as an exact small rational where ``vanishes_at`` it, else a high-precision Float."""
    # the check is exact, so a large denominator risks nothing (1 - 1e-7 is one)
    guess = Fraction(mp.nstr(root, 40)).limit_denominator(10**12)
    rational = sp.Rational(guess.numerator, guess.denominator)
    try:
        if abs(to_mpf(rational) - root) < mp.mpf("1e-25") and vanishes_at(rational):
            return rational
    except (TypeError, ValueError):
        pass
    return sp.Float(mp.nstr(root, DIGITS), DIGITS)


def vanishing_parts(g: sp.Expr) -> list[sp.Expr] | None:
    """The parts ``h_k`` of a set ``sum_k c_k * |h_k|**p_k = 0`` (``c_k > 0``), or None.

    Such a set (a norm at the zero vector: ``(a0 - p0)**2 + (a1 - p1)**2``) is where every part
    vanishes at once: it has lower dimension, and fixing all the variables but one hits it
    only by accident. Its points are solved from the parts together
    (:func:`common_zeros`).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> vanishing_parts((x - y)**2 + 2*sp.Abs(y + 1))
    [x - y, y + 1]
    >>> vanishing_parts(x**2 - y) is None
    True
    """
    g = sign_carrier(g)
    if not isinstance(g, sp.Add):
        return None
    parts = []
    for term in g.args:
        coefficient, rest = term.as_coeff_Mul()
        if not (coefficient.is_positive and free_symbols(rest)):
            return None
        if isinstance(rest, sp.Pow) and rest.exp.is_even:
            parts.append(sign_carrier(rest.base))
        elif isinstance(rest, sp.Abs) or (isinstance(rest, sp.Pow) and isinstance(rest.base, sp.Abs)
                                          and rest.exp.is_positive):
            parts.append(sign_carrier(rest))
        else:
            return None
    return parts


def common_zeros(parts: Sequence[sp.Expr], all_symbols: Sequence[sp.Symbol],
                 solve_order: Sequence[sp.Symbol], *, seed: int = 1, want: int = 4) -> list[dict]:
    """Real points where every one of ``parts`` vanishes (rational linear parts only).

    One variable per part is solved for (the first of ``solve_order`` not taken yet), the
    others get the values of :func:`sample_assignments`.

    >>> import sympy as sp
    >>> a0, a1, p0, p1 = sp.symbols("a0 a1 p0 p1", real=True)
    >>> points = common_zeros([a0 - p0 + 1, a1 - p1], [a0, a1, p0, p1], [a0, a1], seed=0)
    >>> all(p[a0] == p[p0] - 1 and p[a1] == p[p1] for p in points), len(points) > 0
    (True, True)
    """
    pivots: list[sp.Symbol] = []
    for part in parts:
        pivot = next((s for s in [*solve_order, *all_symbols]
                      if s in free_symbols(part) and s not in pivots), None)
        if pivot is None:
            return []
        pivots.append(pivot)
    try:
        if not all(sp.Poly(part, *pivots).total_degree() == 1 for part in parts):
            return []
    except (sp.PolynomialError, sp.GeneratorsNeeded):
        return []
    rng = random.Random(seed)
    others = [s for s in all_symbols if s not in pivots]
    points: list[dict] = []
    for assignment in sample_assignments(others, rng):
        system = [part.xreplace(assignment) for part in parts]
        solutions = sp.linsolve(system, pivots)
        if not isinstance(solutions, sp.FiniteSet) or len(solutions) != 1:
            continue
        (solution,) = solutions
        if any(free_symbols(v) or not v.is_real for v in solution):
            continue  # a degenerate system (parts dependent at these values)
        point = dict(assignment)
        point.update(zip(pivots, solution))
        points.append(point)
        if len(points) >= want:
            break
    return points


#: the ray parameter is scanned over these decades (a sphere of radius 1e-12 up to 1e6)
RAY_DECADES = (-14, 7)
RAY_STEPS_PER_DECADE = 4


def _along(fn: Callable, direction: Sequence) -> Callable:
    """``t -> fn(t * direction)``: a compiled function read along a ray from the origin (the
    direction is converted at the caller's working precision)."""
    return lambda t: fn(*[t * to_mpf(v) for v in direction])


def points_on_rays(g: sp.Expr, all_symbols: Sequence[sp.Symbol], *, seed: int = 1,
                   want: int = 4) -> list[dict]:
    """Points of ``g = 0`` on rays from the origin of the set's variables.

    Generic values hit a set such as the sphere ``norm(x) = eps`` of a clamped norm only by
    accident (every other variable would have to be smaller than eps). Along the ray
    ``t * v`` through a random point ``v`` it is one crossing; ``t`` is scanned over decades
    (the sphere may be tiny) and refined exactly.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> points = points_on_rays(sp.sqrt(x**2 + y**2) - sp.Rational(1, 10**8), [x, y], seed=0)
    >>> all(abs(float(sp.sqrt(p[x]**2 + p[y]**2)) - 1e-8) < 1e-20 for p in points), len(points)
    (True, 4)
    """
    rng = random.Random(seed)
    ray_symbols = [s for s in all_symbols if s in free_symbols(g)]
    others = [s for s in all_symbols if s not in free_symbols(g)]
    low, high = RAY_DECADES
    grid = [mp.mpf(10) ** (mp.mpf(k) / RAY_STEPS_PER_DECADE + mp.mpf("0.0123456789"))
            for k in range(low * RAY_STEPS_PER_DECADE, high * RAY_STEPS_PER_DECADE + 1)]
    # g is compiled once and read along each ray numerically: substituting ``t * v`` into
    # g would rebuild every Max and Min of it, each comparing its now symbolic arguments
    # (seconds per ray for a clamped mixture of softmaxes).
    scan = compile_float(g, ray_symbols)  # float64: only signs are needed
    exact = compile_expr(g, ray_symbols)
    points: list[dict] = []
    for assignment in sample_assignments(all_symbols, rng)[:-2]:  # not the points 0 and 1
        direction = [assignment[s] for s in ray_symbols]
        floats = [float(v) for v in direction]
        readings = [value(scan, [float(t) * v for v in floats]) for t in grid]
        for (a, fa), (b, fb) in zip(zip(grid, readings), zip(grid[1:], readings[1:])):
            if fa is None or fb is None or (fa > 0) == (fb > 0):
                continue
            on_ray = _along(exact, direction)
            root = _refine(on_ray, a, b)
            if root is None:
                continue

            def vanishes_at(r: sp.Rational, along: list = direction) -> bool:
                return bool(g.xreplace({s: r * v for s, v in zip(ray_symbols, along)}) == 0)

            scale = _nice_root(root, vanishes_at)
            point = {s: assignment[s] for s in others}
            point.update({s: scale * assignment[s] for s in ray_symbols})
            points.append(point)
            break
        if len(points) >= want:
            break
    return points
