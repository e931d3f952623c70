"""Work shared instead of repeated (issue 14) gives exactly what the repeated work gave.

Each shortcut here replaces a slower computation whose result is known: SymPy's ``diff``,
the float function read point by point, the expansion computed afresh on the other side of a
point, the numeric check of a surrogate. The tests compare the two on tables of cases,
including the cases where the shortcut must not apply.
"""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import sympy as sp

from diffcheck import numeric
from diffcheck.analysis.series import Expansion
from diffcheck.numeric import _Differentiator, compile_float, readings_along, value
from diffcheck.primitives.switching import label_is

x, y, z = sp.symbols("x y z", real=True)
G = sp.Function("G", real=True)
_softmax = sp.exp(x) / (sp.exp(x) + sp.exp(y) + sp.exp(z))

DERIVATIVE_CASES = [
    _softmax,
    sp.log(_softmax) * _softmax + sp.Abs(1 - _softmax) ** 2,
    x**x,
    sp.sqrt(x**2 + y**2) / (1 + sp.sqrt(x**2 + y**2)),
    sp.floor(x) * x,
    sp.Heaviside(x) * x**2,
    sp.sign(x) * x,
    sp.Max(x, y) * x + sp.Min(x, 0),
    sp.Piecewise((x, x > 0), (x**2, True)) * sp.exp(x),
    sp.erf(x**2) + sp.loggamma(x) + sp.atan2(y, x),
    sp.Mod(x, 2) * x,
    G(x, y) * x + G(x**2),
    sp.DiracDelta(x) * x,
    label_is(y, 1) * sp.log(_softmax),
    (x * y + 1) ** sp.Rational(3, 2) * sp.exp(-x * y),
    y * z,  # free of x
]


@pytest.mark.parametrize("expr", DERIVATIVE_CASES, ids=str)
def test_each_subexpression_differentiated_once_is_sympys_diff(expr):
    assert _Differentiator(x).derivative(expr) == sp.diff(expr, x)


def test_the_derivative_of_a_piecewise_is_taken_branch_by_branch_with_shared_parts():
    branches = sp.Piecewise((_softmax * x, x > y), (_softmax * y, True), evaluate=False)
    got = numeric.partial_derivative.__wrapped__(branches * sp.exp(y), x)
    want = sp.Add(sp.Mul(sp.Piecewise((sp.diff(_softmax * x, x), x > y),
                                      (sp.diff(_softmax * y, x), True), evaluate=False),
                         sp.exp(y)))
    assert got == want


READING_CASES = [
    sp.log(x) + y,
    sp.sqrt(x - 1) - y,
    1 / x,
    sp.Max(x, y) - sp.Min(0, x * y),
    sp.Piecewise((x, x > 1), (y - x, y > 0)),  # no branch for x <= 1, y <= 0: undefined
    sp.Heaviside(x) - sp.sign(y) + sp.floor(x / 3),
    sp.Mod(x, 1.5) - y,
    label_is(sp.floor(x), 2) * y,
    sp.acos(x / 4) + sp.atan(y),
    sp.Integer(3),  # constant along the line
]


@pytest.mark.parametrize("expr", READING_CASES, ids=str)
def test_a_grid_read_in_one_call_is_the_grid_read_point_by_point(expr):
    # offset like the scans' grids: at an exact multiple of a float modulus the float
    # function's a - b*floor(a/b) and NumPy's mod may round to different sides
    grid = [k / 7 - 5 + 0.0123456789 for k in range(71)]
    point = [0.0, -0.75]
    one_by_one = []
    for v in grid:
        one_by_one.append(value(compile_float(expr, [x, y]), [v, point[1]]))
    at_once = readings_along(expr, [x, y], point, 0, grid)
    assert [r is None for r in at_once] == [r is None for r in one_by_one]
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
               for a, b in zip(at_once, one_by_one) if a is not None)


def test_a_value_numpy_cannot_give_is_read_point_by_point(monkeypatch):
    # a complex value: the float function says None, as the point-by-point scan did
    expr = (x - 2) ** sp.Rational(1, 3) + sp.I * 0 + y
    grid = [0.5, 1.0, 3.0]
    assert readings_along(expr, [x, y], [0.0, 1.0], 0, grid) == \
        [value(compile_float(expr, [x, y]), [v, 1.0]) for v in grid]

    def numpy_fails(*_args):
        raise NameError("lowergamma")

    monkeypatch.setattr(numeric, "_compile_numpy", lambda *_args: numpy_fails)
    assert readings_along(sp.log(x), [x], [0.0], 0, [-1.0, math.e]) == [None, 1.0]


def _series(expr, point, direction, horizon=6, mirror=None):
    line = {s: (point[s], direction[s]) for s in point}
    expansion = Expansion(line, horizon, mirror)
    return expansion, expansion(expr)


def _terms(series):
    return {key: mp.nstr(c, 30) for key, c in series.terms.items()}


@pytest.mark.parametrize("expr", [_softmax, sp.log(1 + x**2) / (y - x), sp.exp(x) / x],
                         ids=str)
def test_the_side_behind_reflects_the_analytic_expansions_ahead(expr):
    point = {x: sp.Integer(0), y: sp.Rational(1, 2), z: sp.Integer(-1)}
    ahead, _ = _series(expr, point, {x: 1, y: 1, z: 0})
    _, reflected = _series(expr, point, {x: -1, y: -1, z: 0}, mirror=lambda: ahead)
    _, afresh = _series(expr, point, {x: -1, y: -1, z: 0})
    assert expr in ahead.memo and not ahead.events
    assert _terms(reflected) == _terms(afresh)


@pytest.mark.parametrize("expr, point", [
    (sp.acos(1 - x**2), {x: sp.Integer(0)}),  # |x|-like: integer powers ahead, not analytic
    (sp.atan(1 / x), {x: sp.Integer(0)}),     # pi/2 ahead, -pi/2 behind
    (sp.sqrt(x**3 + x**2), {x: sp.Integer(0)}),       # |x|*sqrt(1 + x)
])
def test_an_expansion_with_an_event_is_computed_afresh_behind(expr, point):
    ahead, _ = _series(expr, point, {x: 1})
    assert ahead.events
    _, behind = _series(expr, point, {x: -1}, mirror=lambda: ahead)
    _, afresh = _series(expr, point, {x: -1})
    assert _terms(behind) == _terms(afresh)
    reflected = ahead(expr).reflected()
    assert reflected is None or _terms(reflected) != _terms(afresh)


def test_a_whole_loss_surrogate_without_a_bound_is_not_checked(monkeypatch):
    from diffcheck.surrogates import verify

    checked = []
    original = verify.verify_surrogate

    def spy(*args):
        checked.append(args)
        return original(*args)

    monkeypatch.setattr(verify, "verify_surrogate", spy)
    bounded = verify.checked_smooth_loss(sp.Abs(x - y), [sp.Abs(x - y)], [{"x": 0, "y": 0}], 0.01)
    assert bounded is not None and bounded.report["max_error"] is not None and checked
    checked.clear()
    unbounded = verify.checked_smooth_loss(sp.exp(y) * sp.Abs(x), [sp.Abs(x)], [{"x": 0}], 0.01)
    assert unbounded is not None and unbounded.report["max_error"] is None and not checked


def test_the_code_printers_are_kept_for_one_report_and_print_what_fresh_ones_do():
    from diffcheck import printing
    from diffcheck.surrogates import printers

    u = sp.Abs(x - _softmax)
    blend = sp.Piecewise((u * y, u > y), (u**2, True), evaluate=False)
    fresh = [printers._NumPyHints().doprint(e).replace("numpy.", "np.") for e in (u, blend)]
    printing.forget_texts()
    assert [printers.numpy_code(u), printers.numpy_code(blend)] == fresh
    kept = printing.kept_printer(printers._NumPyHints)
    assert kept._printed  # the second call reused the texts of the first
    printing.forget_texts()
    assert printing.kept_printer(printers._NumPyHints) is not kept


def _counted(fn):
    calls = []

    def counted(*args):
        calls.append(args)
        return fn(*args)

    return counted, calls


def test_a_bracket_whose_ends_agree_is_given_up_early_unless_it_holds_two_roots():
    from diffcheck import sets
    from diffcheck.numeric import compile_expr

    with mp.workdps(numeric.DIGITS):
        # 1 - softmax far out on a line: float64 rounds it to 0 and back, the exact value
        # stays positive on the whole bracket
        saturated = 1 - sp.exp(x) / (sp.exp(x) + sp.exp(-3))
        fn, calls = _counted(compile_expr(saturated, [x]))
        assert sets._refine(fn, mp.mpf(38), mp.mpf(42)) is None
        assert len(calls) <= sets.UNBRACKETED_STEPS + 8
        # positive at both ends, negative in the middle: the halving finds the sign change
        two_roots = (x - mp.mpf("0.3")) * (x - mp.mpf("0.55"))
        fn, calls = _counted(compile_expr(two_roots, [x]))
        root = sets._refine(fn, mp.mpf(0), mp.mpf(1))
        assert root is not None and abs(root - mp.mpf("0.55")) < mp.mpf("1e-40")
        # a root at an end is kept
        fn, _ = _counted(compile_expr(x - 1, [x]))
        assert sets._refine(fn, mp.mpf(1), mp.mpf(2)) == 1
