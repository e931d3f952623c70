"""The verdict table: expression -> verdict, kinds, `where` set, smoothness class.

Each row is one case, in the shape sqlfluff uses for rule tests. Points ``on`` must lie on
the `where` set of some kink/jump/infinite-slope finding, points ``off`` on none. The cases
cover the ten points of the "exact verdicts" issue: cancellation, masking, branch matching,
smoothness class, wrt, zero gradient, model functions, domains and poles, gradients, and
honest unknowns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import sympy as sp
from sympy.parsing.sympy_parser import parse_expr

from diffcheck import check

BAD = {"kink", "jump", "infinite-slope"}


@dataclass
class Case:
    expr: str
    differentiable: bool
    kinds: set = field(default_factory=set)
    smoothness: str | None = None
    on: list = field(default_factory=list)
    off: list = field(default_factory=list)
    wrt: list | None = None
    forbid: set = field(default_factory=set)
    #: the probe cannot tell (difference quotients oscillate): confirmed is null, honestly
    probe_blind: bool = False

    def __post_init__(self):
        if self.differentiable:
            self.forbid = self.forbid | BAD


CASES = [
    # --- smooth losses -------------------------------------------------------------
    Case("(f - y)**2/2", True, smoothness="Cinf"),
    Case("log(1 + exp(f))", True, smoothness="Cinf"),
    Case("softplus(-t*f)", True, smoothness="Cinf"),
    Case("-log(sigmoid(y*f))", True, smoothness="Cinf"),
    Case("sqrt((f - y)**2 + 4) - 2", True, smoothness="Cinf"),
    Case("x*tanh(x)", True, smoothness="Cinf"),
    Case("log(cosh(f - y))", True, smoothness="Cinf"),
    Case("logsumexp(a, b, c) - a", True, smoothness="Cinf"),
    Case("exp(-f)*y + f", True, smoothness="Cinf"),
    Case("abs(u**2 + 2)", True, smoothness="Cinf"),
    Case("sqrt(exp(u) + 1)", True, smoothness="Cinf"),
    Case("atan(x)**2 + sin(x)", True, smoothness="Cinf"),
    # --- 1. cancellation: smooth although built from non-smooth parts ---------------
    Case("abs(u)**4", True, smoothness="Cinf", off=[{"u": "0"}]),
    Case("abs(u)**2", True, smoothness="Cinf"),
    Case("min(u, 0) - min(-u, 0)", True, smoothness="Cinf", off=[{"u": "0"}]),
    Case("max(f, 0) + min(f, 0)", True, smoothness="Cinf", off=[{"f": "0"}]),
    Case("relu(u)**4", True, smoothness="C3", off=[{"u": "0"}]),
    Case("relu(u)**2", True, smoothness="C1"),
    Case("u**2*abs(u)", True, smoothness="C2"),
    Case("abs(u)**3", True, smoothness="C2"),
    Case("sign(u)*u**4", True, smoothness="C3"),
    Case("heaviside(u)*u**3", True, smoothness="C2"),
    Case("sign(u)*u**2", True, smoothness="C1"),
    Case("where(abs(r) <= 2, r**2/4, abs(r) - 1)", True, smoothness="C1", off=[{"r": "2"}, {"r": "-2"}]),
    Case("Piecewise((r**2/2, abs(r) <= 1), (abs(r) - 1/2, True))", True, smoothness="C1"),
    Case("huber(f - y, 2)", True, smoothness="C1", off=[{"f": "2", "y": "0"}]),
    Case("huber(r)", True, smoothness="C1"),
    Case("max(u**2, -1)", True, smoothness="Cinf"),
    Case("max(0, 1 - y*f)**2", True, smoothness="C1"),
    Case("abs(u)**2.5", True, smoothness="C2"),
    Case("where(u > 0, u**2, 0)", True, smoothness="C1"),
    Case("where(u > 0, exp(u), 1 + u)", True, smoothness="C1"),
    Case("where(u > 0, sin(u), u)", True, smoothness="C2"),
    Case("abs(sin(u))**2", True, smoothness="Cinf"),
    Case("elu(u)", True, smoothness="C1"),
    # --- ... and not differentiable although it looks harmless -----------------------
    Case("(u**2)**0.5", False, {"kink"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("max(u, 0) - min(u, 0)", False, {"kink"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("max(u, v) - v", False, {"kink"}, "C0", on=[{"u": "1", "v": "1"}], off=[{"u": "2", "v": "1"}]),
    Case("abs(u)*sign(u)**2", False, {"kink"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("sqrt(x**2 + y**2)", False, {"kink"}, "C0", on=[{"x": "0", "y": "0"}], off=[{"x": "1", "y": "0"}]),
    # a norm at a shifted zero vector (pairwise_distance adds eps): met only where both
    # differences vanish together, which no choice of all-but-one variable finds by chance
    Case("max(0, 1 - sqrt((a - b + 0.001)**2 + (c - d + 0.002)**2))**2", False, {"kink"}, "C0",
         on=[{"a": "0", "b": "0.001", "c": "0", "d": "0.002"}], off=[{"a": "1", "b": "0", "c": "0", "d": "0"}]),
    # the sphere of a clamped norm (F.normalize, cosine similarity): only generic values
    # smaller than eps reach it, so it is solved along rays from the origin
    Case("x/max(sqrt(x**2 + y**2), 1e-8)", False, {"kink"}, "C0",
         on=[{"x": "1e-8", "y": "0"}], off=[{"x": "1", "y": "0"}]),
    Case("x*z/sqrt(clip(x**2 + y**2, 1e-6, None))", False, {"kink"}, "C0", wrt=["x", "y"],
         on=[{"x": "0.001", "y": "0", "z": "1"}], off=[{"x": "1", "y": "0", "z": "1"}]),
    # --- kinks --------------------------------------------------------------------------
    Case("abs(y - f)", False, {"kink"}, "C0", on=[{"f": "1", "y": "1"}], off=[{"f": "2", "y": "1"}]),
    Case("max(0, 1 - y*f)", False, {"kink"}, "C0", on=[{"y": "1", "f": "1"}], off=[{"y": "1", "f": "0"}]),
    Case("max(0, -y*f)", False, {"kink"}, "C0", on=[{"y": "1", "f": "0"}], off=[{"y": "1", "f": "1"}]),
    Case("relu(1 - f)", False, {"kink"}, "C0", on=[{"f": "1"}], off=[{"f": "0"}]),
    Case("max(f, 2*f)", False, {"kink"}, "C0", on=[{"f": "0"}], off=[{"f": "1"}]),
    Case("abs(f - 1) + abs(f + 1)", False, {"kink"}, "C0", on=[{"f": "1"}, {"f": "-1"}], off=[{"f": "0"}]),
    Case("clip(x, -2, 2)", False, {"kink"}, "C0", on=[{"x": "2"}, {"x": "-2"}], off=[{"x": "0"}]),
    Case("torch.clamp(u, 0, 6)", False, {"kink"}, "C0", on=[{"u": "0"}, {"u": "6"}], off=[{"u": "3"}]),
    Case("abs(x) + abs(y)", False, {"kink"}, "C0", on=[{"x": "0", "y": "1"}], off=[{"x": "1", "y": "1"}]),
    Case("max(0, x - y)", False, {"kink"}, "C0", on=[{"x": "1", "y": "1"}], off=[{"x": "2", "y": "1"}]),
    Case("exp(abs(f))", False, {"kink"}, "C0", on=[{"f": "0"}], off=[{"f": "1"}]),
    Case("np.maximum(u, 2*v)", False, {"kink"}, "C0", on=[{"u": "2", "v": "1"}], off=[{"u": "1", "v": "1"}]),
    Case("max(a, b, c)", False, {"kink"}, "C0", on=[{"a": "1", "b": "1", "c": "0"}], off=[{"a": "2", "b": "1", "c": "0"}]),
    Case("max(0.9*(y - f), -0.1*(y - f))", False, {"kink"}, "C0", on=[{"y": "1", "f": "1"}], off=[{"y": "2", "f": "1"}]),
    Case("max(0, abs(y - f) - 0.1)", False, {"kink"}, "C0", on=[{"y": "0.1", "f": "0"}], off=[{"y": "0", "f": "0"}]),
    Case("leaky_relu(u)", False, {"kink"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("where(u < 0, -u, 2*u)", False, {"kink"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("u*abs(u) + abs(u - 3)", False, {"kink"}, "C0", on=[{"u": "3"}], off=[{"u": "0"}]),
    Case("t*d**2 + (1 - t)*max(0, 1 - d)", False, {"kink"}, "C0", on=[{"t": "0", "d": "1"}], off=[{"t": "0", "d": "2"}]),
    # --- 2. masking -----------------------------------------------------------------
    Case("relu(abs(u) - 1)", False, {"kink"}, "C0", on=[{"u": "1"}, {"u": "-1"}], off=[{"u": "0"}]),
    Case("max(abs(u), 2)", False, {"kink"}, "C0", on=[{"u": "2"}, {"u": "-2"}], off=[{"u": "0"}]),
    Case("min(abs(u), 1)", False, {"kink"}, "C0", on=[{"u": "0"}, {"u": "1"}], off=[{"u": "2"}]),
    Case("relu(u - 1)*relu(-u - 1) + abs(u - 5)", False, {"kink"}, on=[{"u": "5"}], off=[{"u": "1"}, {"u": "-1"}]),
    Case("abs(u)*relu(v)", False, {"kink"}, "C0", on=[{"u": "0", "v": "1"}], off=[{"u": "0", "v": "-1"}]),
    Case("relu(-abs(u))", True, smoothness="Cinf", off=[{"u": "0"}]),
    Case("where(u > 1, abs(u), u)", True, smoothness="Cinf", off=[{"u": "0"}]),
    Case("log(abs(u - 1))", True, {"pole"}, off=[{"u": "1"}]),
    # --- 3. branch matching: jumps and kinks of where/Piecewise ------------------------
    Case("where(f < 1, f, f + 2)", False, {"jump"}, "discontinuous", on=[{"f": "1"}], off=[{"f": "0"}], forbid={"zero-gradient"}),
    Case("Piecewise((u, u < 0), (u + 1, True))", False, {"jump"}, "discontinuous", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("where(u == 0, 1, u)", False, {"jump"}, "discontinuous", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("where(u > 0, u, 0)", False, {"kink"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    # --- jumps and zero gradient (6.) -----------------------------------------------
    Case("heaviside(f - 1)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"f": "1"}], off=[{"f": "0"}]),
    Case("step(u)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("sign(u)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("(f > y)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"f": "1", "y": "1"}], off=[{"f": "2", "y": "1"}]),
    Case("(t*s <= 0)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"t": "0", "s": "1"}], off=[{"t": "1", "s": "1"}]),
    Case("round(x)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"x": "1/2"}], off=[{"x": "0"}]),
    Case("ceil(x)", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"x": "1"}], off=[{"x": "1/2"}]),
    Case("floor(4*u)/4", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"u": "1/4"}], off=[{"u": "1/8"}]),
    Case("(ceil(u) - v)**2", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"u": "1", "v": "0"}]),
    Case("(t - round(s))**2", False, {"jump", "zero-gradient"}, "discontinuous", on=[{"t": "0", "s": "1/2"}]),
    Case("ceil(u) + u", False, {"jump"}, "discontinuous", on=[{"u": "1"}], forbid={"zero-gradient"}),
    Case("u - ceil(u)", False, {"jump"}, "discontinuous", on=[{"u": "1"}], forbid={"zero-gradient"}),
    Case("floor(x/2)*x", False, {"jump"}, "discontinuous", on=[{"x": "2"}]),
    Case("u % 1", False, {"jump"}, "discontinuous", on=[{"u": "1"}], forbid={"zero-gradient"}),
    Case("floor(sigmoid(x))", True, smoothness="Cinf"),
    # --- 5. wrt ---------------------------------------------------------------------------
    Case("abs(v)*exp(u)", True, wrt=["u"], off=[{"u": "0", "v": "0"}]),
    Case("ceil(v)*u**3", True, wrt=["u"]),
    Case("abs(u - v)", False, {"kink"}, "C0", wrt=["u"], on=[{"u": "1", "v": "1"}]),
    Case("abs(u - v)", False, {"kink"}, "C0", wrt=["v"], on=[{"u": "1", "v": "1"}]),
    Case("abs(y)*exp(f)", True, wrt=["f"], off=[{"y": "0", "f": "0"}]),
    Case("floor(t)*f**2", True, wrt=["f"]),
    # --- 7. model functions ---------------------------------------------------------
    Case("(G(w) - t)**2", True, smoothness="Cinf", wrt=["w"]),
    Case("softplus(-t*G(w))", True, smoothness="Cinf", wrt=["w"]),
    Case("Loss(t, G(w))", True, wrt=["w"]),
    Case("exp(F(x))", True, wrt=["x"]),
    Case("abs(G(w) - t)", False, {"kink"}, "C0", wrt=["w"]),
    Case("abs(F(x))", False, {"kink"}, "C0", wrt=["x"]),
    Case("max(0, F(x) - 1)", False, {"kink"}, "C0", wrt=["x"]),
    Case("clip(G(w), 0, 1)", False, {"kink"}, "C0", wrt=["w"]),
    Case("(t - floor(G(w)))**2", False, {"jump", "zero-gradient"}, "discontinuous", wrt=["w"]),
    # --- 8. domains and poles ---------------------------------------------------------
    Case("sqrt(u - 1)", False, {"infinite-slope"}, "C0", on=[{"u": "1"}], off=[{"u": "2"}]),
    Case("sqrt(1 - f)", False, {"infinite-slope"}, "C0", on=[{"f": "1"}], off=[{"f": "0"}]),
    Case("sqrt(abs(f - 1))", False, {"infinite-slope"}, "C0", on=[{"f": "1"}], off=[{"f": "0"}]),
    Case("u**(1/3)", False, {"infinite-slope"}, "C0", on=[{"u": "0"}], off=[{"u": "1"}]),
    Case("sqrt(u)**3", True, {"domain"}, "C1"),
    Case("1/(u + v)", True, {"pole"}),
    Case("1/(x - 2)", True, {"pole"}),
    Case("log(1 - p)", True, {"domain", "pole"}),
    Case("log(p)", True, {"domain", "pole"}),
    Case("u**2*log(u)", True, {"domain"}, forbid={"pole"}),
    Case("log(x**2 + 1)", True, smoothness="Cinf", forbid={"domain", "pole"}),
    Case("x/abs(x)", True, {"domain"}, forbid={"pole"}),
    Case("where(x != 0, x*sin(1/x), 0)", False, smoothness="C0", probe_blind=True),
    Case("where(x != 0, x**3*sin(1/x), 0)", True, smoothness="C1"),
    Case("where(x > 0, log(x), 0)", False, {"jump", "pole"}, forbid={"domain"}),
    Case("sin(x)/x", True, {"domain"}, forbid={"pole"}),
    Case("-(t*log(p) + (1 - t)*log(1 - p))", True, {"domain"}),
]


def _covers(where: str | None, point: dict) -> bool:
    if not where or "=" not in where:
        return False
    lhs, rhs = where.split("=", 1)
    local = {"Abs": sp.Abs, "Max": sp.Max, "Min": sp.Min, "frac": sp.frac}
    g = parse_expr(lhs, local_dict=local) - parse_expr(rhs, local_dict=local)
    value = g.subs({sp.Symbol(k): sp.Rational(v) for k, v in point.items()})
    value = complex(sp.N(value, 30))
    return abs(value) < 1e-9


@pytest.mark.parametrize("case", CASES, ids=[f"{c.expr}|{c.wrt}" for c in CASES])
def test_verdict_table(case: Case):
    report = check(case.expr, wrt=case.wrt)
    assert report.error is None, report.error
    kinds = {f.kind for f in report.findings}
    assert report.differentiable is case.differentiable, kinds
    assert case.kinds <= kinds
    assert not (case.forbid & kinds)
    if case.smoothness:
        assert report.smoothness == case.smoothness
    bad = [f for f in report.findings if f.kind in BAD]
    for point in case.on:
        assert any(_covers(f.where, point) for f in bad), (point, [f.where for f in bad])
    for point in case.off:
        assert not any(_covers(f.where, point) for f in bad), (point, [f.where for f in bad])


def test_every_non_differentiable_finding_is_confirmed_by_the_probe():
    for case in CASES:
        for finding in check(case.expr, wrt=case.wrt).findings:
            if finding.kind in BAD:
                expected = None if case.probe_blind else True
                assert finding.confirmed is expected, (case.expr, finding)


_f, _y, _t, _u, _v, _w = sp.symbols("f y t u v w", real=True)
_G = sp.Function("G", real=True)


@pytest.mark.parametrize(
    "expr, wrt, variable, expected",
    [
        ("abs(y - f)", None, "f", sp.sign(_f - _y)),
        ("(f - y)**2", None, "y", 2 * _y - 2 * _f),
        ("softplus(-t*G(w))", ["w"], "w",
         -_t * sp.Derivative(_G(_w), _w) / (1 + sp.exp(_t * _G(_w)))),
        ("floor(u)*v", None, "u", sp.Integer(0)),
        # branch by branch, equal neighbours merged: (v > 0 | u > 0) has slope 2*u
        ("where(v > 0, u**2, where(u > 0, u**2, v*u))", None, "u",
         sp.Piecewise((2 * _u, (_v > 0) | (_u > 0)), (_v, True))),
        ("hardtanh(u)", None, "u", sp.Derivative(sp.Max(-1, _u), _u)
         * sp.Heaviside(1 - sp.Max(-1, _u))),
    ],
)
def test_gradient_is_the_backprop_derivative(expr, wrt, variable, expected):
    gradient = check(expr, wrt=wrt).gradient[variable]
    names = {"f": _f, "y": _y, "t": _t, "u": _u, "v": _v, "w": _w, "G": _G}
    assert sp.simplify(parse_expr(gradient, local_dict=names) - expected) == 0, gradient


def test_model_function_assumptions_are_named():
    report = check("Loss(t, G(w))", wrt=["w"])
    assert any("G" in a for a in report.assumptions)
    assert any("Loss" in a for a in report.assumptions)


def test_kink_reports_one_sided_slopes_and_autodiff_convention():
    (finding,) = check("abs(f)").findings
    assert finding.probe["left"] == pytest.approx(-1.0)
    assert finding.probe["right"] == pytest.approx(1.0)
    # what the frameworks return there, as the registry records it (JAX's abs'(0) is 1)
    assert "abs'(0) is 0 in PyTorch and 1 in JAX" in finding.autodiff


def test_masked_candidate_in_two_variables_is_narrowed():
    report = check("abs(u)*relu(v)")
    abs_kink = [f for f in report.findings if f.cause == "Abs(u)"]
    assert abs_kink, report.findings
    assert _covers(abs_kink[0].where, {"u": "0", "v": "2"})
    assert not _covers(abs_kink[0].where, {"u": "0", "v": "-2"})


def test_messages_quote_the_input_as_written():
    (finding,) = check("abs(y - f)").findings
    assert finding.message == "abs(y - f) has a kink where f - y = 0"
    assert finding.column == 1
    domain = [f for f in check("2*log(1 - p)").findings if f.kind == "domain"]
    assert domain[0].message.startswith("log(1 - p) is undefined")
    assert domain[0].column == 3


def test_a_surrogate_bound_that_fails_the_numeric_check_is_withdrawn(monkeypatch):
    from diffcheck.surrogates import SmoothLoss, build_smooth_loss, verify

    def overclaiming(*args, **kwargs):
        built = build_smooth_loss(*args, **kwargs)
        return SmoothLoss(dict(built.report, max_error=1e-9), built.expression)

    monkeypatch.setattr(verify, "build_smooth_loss", overclaiming)
    surrogate = check("abs(y - f)").surrogate
    assert surrogate["max_error"] is None
    assert "withdrawn" in surrogate["message"]


def test_a_surrogate_with_a_kink_left_at_a_finding_loses_its_bound(monkeypatch):
    """The check at the former singular points runs: a 'surrogate' that is the loss itself
    is within any bound of it, and is withdrawn for its kink."""
    from diffcheck.surrogates import SmoothLoss, build_smooth_loss, verify

    def kinked(expr, *args, **kwargs):
        built = build_smooth_loss(expr, *args, **kwargs)
        return SmoothLoss(built.report, expr)

    monkeypatch.setattr(verify, "build_smooth_loss", kinked)
    surrogate = check("abs(y - f)").surrogate
    assert surrogate["max_error"] is None
    assert "not differentiable" in surrogate["message"]


@pytest.mark.parametrize("point", [{_u: 2, _v: 1}, {_u: 2, _v: -1}, {_u: -1, _v: -1},
                                   {_u: sp.Rational(1, 3), _v: 0}, {_u: 0, _v: 0}])
def test_the_exact_value_takes_the_first_branch_that_holds(point):
    # the branch chosen condition by condition is the value SymPy gives, ties included
    from diffcheck.analysis.sides import exact_value

    loss = (sp.Piecewise((_u**2, (_u > 0) & (_v > 0)), (sp.exp(_u), _u > 1), (_v, True))
            + sp.Abs(sp.Piecewise((_u, (_v < 0) | (_u < 0)), (1, True))))
    assert abs(float(exact_value(loss, point)) - float(loss.xreplace(point))) < 1e-12, point


def test_a_line_through_a_deep_network_leaves_the_switches_of_its_unknown_unevaluated():
    # points on a set substitute every variable but one: rebuilding max(0, w * max(0, ...))
    # with a symbolic argument made SymPy compare the arguments of every stacked ReLU
    from diffcheck.sets import line_through

    x, y = sp.symbols("x y", real=True)
    inner = sp.Max(0, 2 * x - y)
    deep = sp.Max(0, 3 * inner - 1) + sp.Max(0, y - 4)
    line = line_through(deep, {y: sp.Integer(1)}, x)
    assert line.free_symbols == {x}
    switches = [node for node in sp.preorder_traversal(line) if isinstance(node, sp.Max)]
    assert len(switches) == 2  # max(0, y - 4) is free of x: the number 0
    for value in (-2, 0, sp.Rational(1, 3), 2):
        assert line.xreplace({x: value}) == deep.xreplace({x: value, y: 1})


def test_derivative_of_a_sum_of_rounded_logits_is_read():
    """Found by the fuzz test: dropping the unevaluated derivatives of two roundings made
    SymPy sort a sum of comparisons (a TypeError, reported as "analysis failed")."""
    report = check("log_softmax(np.round(y, 0), np.round(y, 1))")
    assert report.error is None and report.differentiable is False
    assert {f.code for f in report.findings} >= {"DC202"}
