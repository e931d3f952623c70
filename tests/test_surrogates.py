"""Surrogates: every claimed bound holds (and is tight where it should be), and whole-loss
surrogates are smooth at the old kinks, parse back with plain SymPy and stay within max_error.

The checks here are independent of diffcheck's own numerics: plain ``sympy.sympify`` on
the printed expression, mpmath at 50 digits, one-sided difference quotients at 1e-18, as in
the evaluation script.
"""

from __future__ import annotations

import math
import random

import mpmath as mp
import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

from diffcheck.intervals import Interval, enclose
from diffcheck.surrogates import (
    SURROGATES,
    Primitive,
    recognize,
    smooth_loss,
    standard_form,
    surrogates_for,
    verify_surrogate,
    build_smooth_loss,
    SmoothLoss,
)

u, v, w, f, y, x, t, s = sp.symbols("u v w f y x t s", real=True)
G = sp.Function("G", real=True)
HALF = sp.Rational(1, 2)
STEP = mp.mpf("1e-18")
#: evaluation noise at 50 digits: floor's bound 1/2 is attained exactly at the integers
NOISE = mp.mpf("1e-30")


# --------------------------------------------------------------------------------------
# Helpers: evaluation as the scorer does it
# --------------------------------------------------------------------------------------


def _value(fn, point):
    try:
        result = fn(*point)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError):
        return None
    if isinstance(result, mp.mpc):
        if abs(result.imag) > mp.mpf("1e-40"):
            return None
        result = result.real
    result = mp.mpf(result)
    return result if mp.isfinite(result) else None


def _mp_function(expr, symbols):
    if expr.has(sp.Heaviside):
        expr = expr.rewrite(sp.Piecewise)
    return sp.lambdify(symbols, expr, modules=["mpmath"])


def _stand_in_for_model_functions(expr):
    """Any smooth function will do for G; parsed and original G are matched by name."""
    return expr.replace(lambda e: isinstance(e, AppliedUndef),
                        lambda e: 1 + e.args[0] / 2 + e.args[0] ** 3 / 9)


def _parse(report, symbols):
    """The reported expression through plain sympify, parameters substituted (nsimplify)."""
    parsed = sp.sympify(report["expression"])
    real = {sym: sp.Symbol(sym.name, real=True) for sym in parsed.free_symbols}
    parsed = parsed.xreplace(real)
    values = {sp.Symbol(k, real=True): sp.nsimplify(val) for k, val in report["params"].items()}
    parsed = parsed.subs(values)
    assert parsed.free_symbols <= set(symbols), parsed.free_symbols
    return parsed


def _one_sided_slopes_agree(fn, point, direction):
    with mp.workdps(50):
        centre = _value(fn, point)
        ahead = _value(fn, [p + STEP * d for p, d in zip(point, direction)])
        behind = _value(fn, [p - STEP * d for p, d in zip(point, direction)])
        assert None not in (centre, ahead, behind), "surrogate undefined at the old kink"
        right, left = (ahead - centre) / STEP, (centre - behind) / STEP
        return abs(right - left) <= 1e-6 * (1 + abs(right)) and abs(right) < 1e6


def _sup_distance(exact_fn, smooth_fn, points):
    """max |exact - smooth| over the points where exact is defined (smooth must be too)."""
    worst = mp.mpf(0)
    for point in points:
        exact, approx = _value(exact_fn, point), _value(smooth_fn, point)
        if exact is not None:
            assert approx is not None, [float(c) for c in point]
            worst = max(worst, abs(exact - approx))
    return worst


def _grid(symbols, rng, far=True):
    """[-3, 3] in steps of 0.1 on the diagonal and per axis, random points, far points."""
    points = [[mp.mpf(k) / 10] * len(symbols) for k in range(-30, 31)]
    for axis in range(len(symbols)):
        for k in range(-30, 31, 3):
            point = [mp.mpf(1) / 3] * len(symbols)
            point[axis] = mp.mpf(k) / 10
            points.append(point)
    points += [[mp.mpf(rng.uniform(-3, 3)) for _ in symbols] for _ in range(150)]
    if far:
        points += [[mp.mpf(rng.choice((-1, 1)) * 10 ** rng.uniform(0, 3)) for _ in symbols]
                   for _ in range(80)]
    return points


# --------------------------------------------------------------------------------------
# The table: each entry against its canonical primitive
# --------------------------------------------------------------------------------------

#: family -> (canonical primitive node, its argument symbols, tight: the bound is approached)
CANONICAL = {
    "abs": (sp.Abs(u), [u]),
    "max": (sp.Max(u, 0), [u]),
    "min": (sp.Min(u, 0), [u]),
    "clip": (sp.Min(sp.Max(u, -1), 1), [u]),
    "pinball": (sp.Max(u / 4, -3 * u / 4), [u]),
    "step": (sp.Heaviside(u), [u]),
    "sign": (sp.sign(u), [u]),
    "indicator": (sp.Piecewise((1, u > 0), (0, True)), [u]),
    "piecewise": (sp.Piecewise((u + 1, u > 0), (u, True)), [u]),
    "floor": (sp.floor(u), [u]),
    "round": (sp.floor(u + HALF), [u]),
    "ceiling": (sp.ceiling(u), [u]),
    "mod": (sp.Mod(u, 1), [u]),
    "root": (sp.sqrt(u), [u]),
}
NARY = {"max": (sp.Max(u, v, 0), [u, v]), "min": (sp.Min(u, v, 0), [u, v])}


def _table_cases():
    for family, entries in SURROGATES.items():
        for entry in entries:
            if entry.bound is None or not entry.replaces:
                continue
            for node, symbols in filter(None, (CANONICAL.get(family), NARY.get(family))):
                primitive = recognize(node)
                if primitive is not None and entry.applies(primitive):
                    case_id = f"{family}-{entry.name}-{len(symbols)}"
                    yield pytest.param(primitive, entry, symbols, id=case_id)


def _dense_axis():
    """A dense 1-d grid with points crowding the kinks (0, +-1/2, +-1) and far points."""
    base = [mp.mpf(k) / 400 for k in range(-1200, 1201)]
    near = [sign * mp.mpf(10) ** -k + c for k in range(2, 16) for sign in (-1, 1)
            for c in (0, HALF, -HALF, 1, -1)]
    far = [sign * mp.mpf(10) ** k for k in range(1, 4) for sign in (-1, 1)]
    return base + near + far


@pytest.mark.parametrize("primitive, entry, symbols", list(_table_cases()))
def test_table_bound_holds_and_is_tight(primitive, entry, symbols):
    p = sp.Symbol(entry.param, positive=True)
    value = sp.Rational(1, 50)
    surrogate = standard_form(entry.formula(primitive.parts, p)).subs(p, value)
    exact_fn, smooth_fn = _mp_function(primitive.node, symbols), _mp_function(surrogate, symbols)
    axis = _dense_axis()
    if len(symbols) == 1:
        points = [[a] for a in axis]
    else:  # n-ary: the worst case is where all arguments tie
        coarse = [mp.mpf(k) / 20 for k in range(-20, 21)]
        points = [[a, b] for a in coarse for b in coarse] + [[a, a] for a in axis]
    with mp.workdps(50):
        bound = mp.mpf(str(sp.N(entry.bound(p, primitive).subs(p, value), 60)))
        worst = _sup_distance(exact_fn, smooth_fn, points)
        assert worst <= bound * (1 + NOISE), (entry.name, float(worst), float(bound))
        assert worst >= 0.9 * bound, f"{entry.name}: bound {bound} is not tight (sup {worst})"


@pytest.mark.parametrize("primitive, entry, symbols", list(_table_cases()))
def test_surrogates_for_reports_a_bound_that_holds(primitive, entry, symbols):
    reported = {r["name"]: r for r in surrogates_for(primitive.node)}[entry.name]
    assert reported["replace"] == str(primitive.node)
    assert reported["smoothness"] == entry.smoothness
    replacement = sp.sympify(reported["with"]).xreplace({sp.Symbol(n.name): n for n in symbols})
    params = {sp.Symbol(k): sp.nsimplify(val) for k, val in reported["params"].items()}
    replacement = replacement.subs(params)
    exact_fn, smooth_fn = _mp_function(primitive.node, symbols), _mp_function(replacement, symbols)
    with mp.workdps(50):
        worst = _sup_distance(exact_fn, smooth_fn, [[a] * len(symbols) for a in _dense_axis()])
        assert worst <= reported["max_error"] * (1 + NOISE)
        assert worst >= 0.9 * reported["max_error"]


def test_table_defaults_meet_the_target_error():
    for node, _ in [CANONICAL["abs"], CANONICAL["max"], CANONICAL["clip"], CANONICAL["root"]]:
        for report in surrogates_for(node, target_error=0.01):
            if report["max_error"] is not None:
                assert 0.009 <= report["max_error"] <= 0.01, report
    pseudo_huber = surrogates_for(sp.Abs(u))[0]
    assert (pseudo_huber["params"], pseudo_huber["max_error"]) == ({"delta": 0.01}, 0.01)
    assert surrogates_for(sp.Max(u, 0))[0]["params"] == {"tau": 0.0144}  # 0.01/log(2) rounded down


def test_entries_that_are_not_approximations_claim_no_bound():
    by_name = {r["name"]: r for r in surrogates_for(sp.Max(0, 1 - y * f))}
    assert by_name["squared_hinge"]["max_error"] is None
    assert "different loss" in by_name["squared_hinge"]["note"]
    straight_through = {r["name"]: r for r in surrogates_for(sp.floor(u))}["straight_through"]
    assert straight_through["max_error"] is None
    assert straight_through["torch"] == "u + (torch.floor(u) - u).detach()"
    assert surrogates_for(sp.log(u))[0]["max_error"] is None


def test_step_and_sign_notes_state_the_l1_error():
    step = surrogates_for(sp.Heaviside(u))[0]
    assert step["max_error"] == 0.5 and "2*tau*log(2)" in step["note"]
    assert surrogates_for(sp.sign(u))[0]["with"] == "tanh(u/tau)"


@pytest.mark.parametrize("node", [sp.Heaviside(u), sp.sign(u)], ids=["step", "sign"])
def test_l1_errors_in_the_notes_are_right(node):
    """The L1 error the note states, integrated for the table's own first formula."""
    primitive = recognize(node)
    entry = SURROGATES[primitive.family][0]
    tau = sp.Symbol(entry.param, positive=True)
    assert "2*tau*log(2)" in entry.note
    formula = _mp_function(standard_form(entry.formula(primitive.parts, tau)).subs(
        tau, sp.Rational(1, 100)), [u])
    exact = _mp_function(node.rewrite(sp.Piecewise) if node.has(sp.Heaviside) else node, [u])
    with mp.workdps(30):
        l1 = mp.quad(lambda z: abs(exact(z) - formula(z)), [-mp.inf, 0, mp.inf])
    assert mp.almosteq(l1, 2 * mp.mpf("0.01") * mp.log(2), rel_eps=mp.mpf("1e-10"))


def test_kink_shaped_piecewise_gets_a_bound_proportional_to_tau():
    leaky = sp.Piecewise((u, u > 0), (u / 100, True))
    report = surrogates_for(leaky)[0]
    tau = report["params"]["tau"]
    assert report["max_error"] <= 0.3 * tau  # 0.99*tau*W(1/e), not half an unbounded jump
    fn = _mp_function(sp.sympify(report["with"]).subs({"tau": sp.nsimplify(tau), "u": u}), [u])
    worst = max(abs(_value(fn, [a]) - (a if a > 0 else a / 100)) for a in _dense_axis())
    assert 0.9 * report["max_error"] <= worst <= report["max_error"]


def test_recognize_families():
    assert recognize(sp.Min(sp.Max(x, -2), 2)).family == "clip"
    assert recognize(sp.Max(x / 4, -3 * x / 4)).family == "pinball"
    assert recognize(sp.Max(0, 1 - y * f)).parts == (1 - y * f, 0)
    assert recognize(sp.floor(x + HALF)).family == "round"
    assert recognize(sp.sqrt(1 - f)) == Primitive(sp.sqrt(1 - f), "root", (1 - f, HALF))
    assert recognize(sp.Piecewise((1, t * s <= 0), (0, True))).family == "indicator"
    assert recognize(f**2) is None


# --------------------------------------------------------------------------------------
# Whole losses
# --------------------------------------------------------------------------------------

#: (loss, nonsmooth nodes as the analyzer lists them, points on the old kinks, finite bound?)
LOSSES = {
    "l1": (sp.Abs(f - y), [sp.Abs(f - y)], [{f: 1, y: 1}, {f: -2, y: -2}], True),
    "hinge": (sp.Max(0, 1 - y * f), [sp.Max(0, 1 - y * f)],
              [{y: 1, f: 1}, {y: -2, f: -HALF}], True),
    "clip": (sp.Min(sp.Max(x, -2), 2), [sp.Min(sp.Max(x, -2), 2), sp.Max(x, -2)],
             [{x: 2}, {x: -2}], True),
    "two_abs": (sp.Abs(f - 1) + sp.Abs(f + 1), [sp.Abs(f - 1), sp.Abs(f + 1)],
                [{f: 1}, {f: -1}], True),
    "two_slopes": (sp.Max(f, 2 * f), [sp.Max(f, 2 * f)], [{f: 0}], True),
    "pinball": (sp.Max(sp.Rational(3, 4) * (y - f), -(y - f) / 4),
                [sp.Max(sp.Rational(3, 4) * (y - f), -(y - f) / 4)], [{f: 1, y: 1}], True),
    "exp_abs": (sp.exp(sp.Abs(f)), [sp.Abs(f)], [{f: 0}], True),
    "exp_abs_residual": (sp.exp(sp.Abs(f - y)), [sp.Abs(f - y)], [{f: HALF, y: HALF}], True),
    "log_abs": (sp.log(1 + sp.Abs(f)), [sp.Abs(f)], [{f: 0}], True),
    "sqrt_abs_shift": (sp.sqrt(sp.Abs(f - 1)), [sp.Abs(f - 1)], [{f: 1}], True),
    "sqrt_one_minus": (sp.sqrt(1 - f), [sp.sqrt(1 - f)], [{f: 1}], True),
    "heaviside": (sp.Heaviside(f - 1, HALF), [sp.Heaviside(f - 1, HALF)], [{f: 1}], True),
    "greater": (sp.Piecewise((1, f > y), (0, True)), [sp.Piecewise((1, f > y), (0, True))],
                [{f: 1, y: 1}], True),
    "shifted_branch": (sp.Piecewise((f, f < 1), (f + 2, True)),
                       [sp.Piecewise((f, f < 1), (f + 2, True))], [{f: 1}], True),
    "floor": (sp.floor(x), [sp.floor(x)], [{x: 0}, {x: 1}, {x: -2}], True),
    "scaled_by_exp": (sp.exp(y) * sp.Abs(f), [sp.Abs(f)], [{f: 0, y: 1}], False),
    # the analyzer lists one node per non-smooth set: the second one must be replaced too
    "same_set": (sp.Max(0, x - y) + sp.Abs(x - y), [sp.Max(0, x - y)], [{x: 1, y: 1}], True),
    "root_over_abs_only_root": (sp.sqrt(sp.Abs(x)), [sp.sqrt(sp.Abs(x))], [{x: 0}], True),
    "masked": (sp.Max(sp.Abs(x) - 1, 0), [sp.Max(sp.Abs(x) - 1, 0)], [{x: 1}, {x: -1}], True),
    "sign_times_power": (sp.sign(x) * x**2, [sp.sign(x)], [{x: 0}], True),
    "zero_one": (sp.Piecewise((1, t * s <= 0), (0, True)),
                 [sp.Piecewise((1, t * s <= 0), (0, True))], [{t: 1, s: 0}, {t: 0, s: 2}], True),
    "three_way_max": (sp.Max(f, y, x), [sp.Max(f, y, x)], [{f: 1, y: 1, x: 0}], True),
    "mod": (sp.Mod(x, 3), [sp.Mod(x, 3)], [{x: 3}, {x: 0}], True),
    "round": (sp.floor(x + HALF), [sp.floor(x + HALF)], [{x: HALF}], True),
    "ceil": (sp.ceiling(x), [sp.ceiling(x)], [{x: 1}], True),
    "model_function": (sp.Abs(G(w) - t), [sp.Abs(G(w) - t)], [], True),
    "leaky_relu": (sp.Piecewise((x, x > 0), (x / 100, True)),
                   [sp.Piecewise((x, x > 0), (x / 100, True))], [{x: 0}], True),
    "exp_relu": (sp.exp(sp.Max(0, f)), [sp.Max(0, f)], [{f: 0}], True),
    # Min(0, u) > 0 is decidably False, yet Heaviside(0) = 1/2 holds on a whole half-line
    "step_of_min": (sp.Heaviside(sp.Min(0, 2 * y + 1)), [sp.Heaviside(sp.Min(0, 2 * y + 1))],
                    [{y: -HALF}], True),
    "sign_of_relu": (sp.sign(sp.Max(0, y)), [sp.sign(sp.Max(0, y))], [{y: 0}], True),
    "where_linear_branches": (sp.Piecewise((f, f < 1), (3 * f, True)),
                              [sp.Piecewise((f, f < 1), (3 * f, True))], [{f: 1}], True),
    # blends whose branches meet with a slope that grows with the margin (k = g - 1), whose
    # quotient only has a removable singularity (Wing), and of an or of two comparisons
    "blend_growing_slope": (sp.Piecewise((f**2, sp.Abs(f) <= 1), (sp.Abs(f), True)),
                            [sp.Piecewise((f**2, sp.Abs(f) <= 1), (sp.Abs(f), True))],
                            [{f: 1}, {f: -1}], True),
    "wing": (sp.Piecewise((10 * sp.log(1 + sp.Abs(x) / 2), sp.Abs(x) < 10),
                          (sp.Abs(x) - 10 + 10 * sp.log(6), True)),
             [sp.Abs(x), sp.Piecewise((10 * sp.log(1 + sp.Abs(x) / 2), sp.Abs(x) < 10),
                                      (sp.Abs(x) - 10 + 10 * sp.log(6), True))],
             [{x: 0}, {x: 10}, {x: -10}], True),
    "hardshrink": (sp.Piecewise((x, (x > HALF) | (x < -HALF)), (0, True)),
                   [sp.Piecewise((x, (x > HALF) | (x < -HALF)), (0, True))],
                   [{x: HALF}, {x: -HALF}], True),
    "acos": (sp.acos(x), [sp.acos(x)], [], True),
    # no finite bound exists: the branches differ by (x + y)*(x - y) near x = y
    "blend_unbounded_slope": (sp.Piecewise((x**2, x > y), (y**2, True)),
                              [sp.Piecewise((x**2, x > y), (y**2, True))], [{x: 1, y: 1}], False),
}


@pytest.fixture(scope="module")
def reports():
    return {name: smooth_loss(loss, nodes) for name, (loss, nodes, _, _) in LOSSES.items()}


@pytest.mark.parametrize("name", list(LOSSES))
def test_whole_loss_surrogate(name, reports):
    loss, _, kinks, finite = LOSSES[name]
    report = reports[name]
    symbols = sorted(loss.free_symbols, key=lambda sym: sym.name)
    smooth = _parse(report, symbols)
    assert not smooth.has(sp.floor, sp.ceiling, sp.sign, sp.Heaviside, sp.Max, sp.Min, sp.Mod)
    assert (report["max_error"] is not None) == finite, report["message"]
    smooth_fn = _mp_function(_stand_in_for_model_functions(smooth), symbols)
    loss_fn = _mp_function(_stand_in_for_model_functions(loss), symbols)
    rng = random.Random(name)
    for kink in kinks:
        point = [mp.mpf(sp.Rational(kink.get(sym, sp.Rational(1, 3)))) for sym in symbols]
        axes = range(len(symbols))
        directions = [[1 if j == i else 0 for j in axes] for i in axes]
        directions += [[rng.uniform(-1, 1) for _ in symbols] for _ in range(3)]
        for direction in directions:
            assert _one_sided_slopes_agree(smooth_fn, point, direction), (name, kink, direction)
    if not finite:
        return
    bound = report["max_error"]
    with mp.workdps(50):
        for point in _grid(symbols, rng):
            exact, approx = _value(loss_fn, point), _value(smooth_fn, point)
            if exact is None:
                continue
            assert approx is not None, (name, point)
            error = abs(exact - approx)
            assert error <= bound * (1 + NOISE), (name, [float(c) for c in point], float(error))


def test_expected_bounds_for_the_brief_losses(reports):
    expected = {
        "l1": 0.01, "hinge": 0.009982, "clip": 0.009982, "two_abs": 0.02, "two_slopes": 0.009982,
        "pinball": 0.009982, "exp_abs": 0.01021, "sqrt_one_minus": 0.01, "heaviside": 0.5,
        "greater": 0.5, "shifted_branch": 1.0, "floor": 0.5,
    }
    assert {k: reports[k]["max_error"] for k in expected} == expected
    assert reports["sqrt_abs_shift"]["max_error"] <= 0.101  # (delta + eps)**(1/2), Hoelder
    assert reports["log_abs"]["max_error"] <= 0.0101


def test_no_finite_bound_says_precisely_why(reports):
    message = reports["blend_unbounded_slope"]["message"]
    assert "(x + y)*(x - y)" in message and "unbounded" in message
    assert ": None" not in message


def test_unbounded_composition_says_why(reports):
    report = reports["scaled_by_exp"]
    assert report["max_error"] is None
    assert "exp(y)" in report["message"] and "unbounded" in report["message"]


def test_band_limited_retry_is_c1_and_explained(reports):
    report = reports["exp_abs"]
    assert report["smoothness"] == "C1"
    assert "band-limited" in report["message"]
    assert reports["l1"]["smoothness"] == "Cinf"


def test_bound_is_tight_enough_to_be_useful(reports):
    # exp(|f|) vs its Huber surrogate: the worst error is at f = 0, half of delta
    delta = reports["exp_abs"]["params"]["delta"]
    assert reports["exp_abs"]["max_error"] <= 1.05 * delta / 2


def test_parameter_names_avoid_the_loss_variables():
    tau, delta = sp.symbols("tau delta", real=True)
    loss = sp.Abs(delta - tau) + sp.Max(0, tau)
    nodes = [sp.Abs(delta - tau), sp.Max(0, tau)]
    report = smooth_loss(loss, nodes, reserved_names=["tau", "delta"])
    assert set(report["params"]) == {"delta_1", "tau_1"}
    parameters = {sp.Symbol("delta_1"), sp.Symbol("tau_1")}
    assert sp.sympify(report["expression"]).free_symbols >= parameters


def test_parameters_with_one_name_and_different_values_get_different_symbols():
    report = smooth_loss(sp.Heaviside(f) + sp.Max(0, f), [sp.Heaviside(f), sp.Max(0, f)])
    assert report["params"] == {"tau": 0.00721, "tau_1": 0.0144}


def test_no_surrogate_without_findings():
    assert smooth_loss(f**2, []) is None


def test_code_hints_never_overflow():
    report = smooth_loss(sp.Max(0, 1 - y * f) + sp.Abs(f), [sp.Max(0, 1 - y * f), sp.Abs(f)])
    assert "np.logaddexp(0, " in report["numpy"]
    assert "torch.nn.functional.softplus(" in report["torch"]
    import numpy as np

    value = eval(report["numpy"], {"np": np, "tau": 0.0144, "delta": 0.01, "f": 1e3, "y": -1e3})
    assert np.isfinite(value)


# --------------------------------------------------------------------------------------
# verify_surrogate
# --------------------------------------------------------------------------------------


def test_verify_surrogate_accepts_a_good_surrogate_and_rejects_bad_ones():
    loss = sp.Abs(f - y)
    built = build_smooth_loss(loss, [loss])
    points = [{"f": a / 7, "y": -a / 5} for a in range(-20, 21)]
    kinks = [{"f": 1, "y": 1}]
    assert verify_surrogate(loss, built, points, kinks) == (True, "ok")
    too_tight = SmoothLoss(dict(built.report, max_error=1e-4), built.expression)
    ok, why = verify_surrogate(loss, too_tight, points + [{"f": 50, "y": 0}], kinks)
    assert not ok and "max_error" in why
    kinked = SmoothLoss(built.report, loss)
    ok, why = verify_surrogate(loss, kinked, points, kinks)
    assert not ok and "not differentiable" in why


def test_verify_surrogate_handles_model_functions():
    loss = sp.Abs(G(w) - t)
    built = build_smooth_loss(loss, [loss])
    ok, why = verify_surrogate(loss, built, [{"w": a / 3, "t": 1} for a in range(-9, 10)], [])
    assert ok, why


# --------------------------------------------------------------------------------------
# Interval arithmetic: enclosures contain every sampled value
# --------------------------------------------------------------------------------------

ENCLOSED = [
    x**2 - 2 * x, sp.exp(-x) * sp.sin(3 * x), sp.log(1 + x**2), sp.atan(x) / (1 + sp.Abs(x)),
    sp.sqrt(x + 1), x ** sp.Rational(1, 3), sp.tanh(x) * sp.cosh(x / 2), 1 / (1 + sp.exp(-x)),
    sp.cos(x) ** 3 - sp.Max(x, 0), sp.floor(x) + sp.sign(x), sp.Piecewise((x, x > 0), (x**2, True)),
    sp.Mod(x, 2), sp.Heaviside(x), 2**x,
]


@pytest.mark.parametrize("expr", ENCLOSED, ids=str)
def test_interval_enclosure_contains_samples(expr):
    rng = random.Random(str(expr))
    fn = _mp_function(expr, [x])
    for _ in range(30):
        a, b = sorted(rng.uniform(-6, 6) for _ in range(2))
        box = enclose(expr, {x: Interval(a, b)})
        for z in [a, b] + [rng.uniform(a, b) for _ in range(25)]:
            value = _value(fn, [mp.mpf(z)])
            if value is not None:
                assert box is not None and box.lo <= value <= box.hi, (expr, a, b, z, box)


def test_interval_strict_mode_rejects_boxes_outside_the_domain():
    from diffcheck.intervals import DomainError

    with pytest.raises(DomainError):
        enclose(sp.log(x), {x: Interval(-1, 1)}, strict=True)
    assert enclose(sp.log(x), {x: Interval(-2, -1)}) is None
    assert enclose(sp.exp(x)).lo >= 0 and math.isinf(enclose(sp.exp(x)).hi)
