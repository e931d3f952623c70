"""The numeric probe: one-sided difference quotients classify what they see."""

from __future__ import annotations

import pytest
import sympy as sp

from diffcheck.numeric import compile_expr
from diffcheck.probe import probe

x, y = sp.symbols("x y", real=True)


@pytest.mark.parametrize(
    "expr, point, direction, saw",
    [
        (sp.Abs(x), {x: 0}, {x: 1}, "kink"),
        (sp.Max(x, 0), {x: 0}, {x: 1}, "kink"),
        (sp.Max(x, 0) ** 4, {x: 0}, {x: 1}, "smooth"),
        (x**2 * sp.Abs(x), {x: 0}, {x: 1}, "smooth"),
        (sp.Heaviside(x, sp.S.Half), {x: 0}, {x: 1}, "jump"),
        (sp.floor(x), {x: 1}, {x: 1}, "jump"),
        (sp.sqrt(sp.Abs(x)), {x: 0}, {x: 1}, "infinite-slope"),
        (sp.sqrt(1 - x), {x: 1}, {x: -1}, "infinite-slope"),
        (sp.cbrt(x), {x: 0}, {x: 1}, "infinite-slope"),
        (sp.exp(x), {x: 0}, {x: 1}, "smooth"),
        (sp.Abs(x - y), {x: 1, y: 1}, {x: 1}, "kink"),
        (sp.Abs(x - y), {x: 1, y: 2}, {x: 1}, "smooth"),
        (sp.sqrt(x**2 + y**2), {x: 0, y: 0}, {x: 1, y: 1}, "kink"),
    ],
)
def test_probe_classifies(expr, point, direction, saw):
    symbols = sorted(expr.free_symbols, key=str)
    result = probe(compile_expr(expr, tuple(symbols)), symbols, point, direction)
    assert result.saw == saw


@pytest.mark.parametrize(("expr", "persists"), [
    (sp.Abs(x), True),
    (sp.Abs(x) * sp.exp(-10), True),  # a kink below the probe's absolute tolerance
    ((x - 1) ** 2 + sp.Abs(x) ** 2, False),  # one-sided slopes differ by step * curvature
    (x**2, False),
])
def test_a_kinks_gap_persists_as_the_step_shrinks_a_smooth_gap_does_not(expr, persists):
    result = probe(compile_expr(expr, (x,)), [x], {x: 0}, {x: 1})
    assert result.gap_persists is persists


def test_central_differences_would_miss_the_kink_but_one_sided_do_not():
    result = probe(compile_expr(sp.Abs(x), (x,)), [x], {x: 0}, {x: 1})
    central = (result.left + result.right) / 2
    assert central == pytest.approx(0.0)
    assert (result.left, result.right) == (pytest.approx(-1.0), pytest.approx(1.0))


def test_probe_outside_the_domain_cannot_tell():
    result = probe(compile_expr(sp.log(x), (x,)), [x], {x: 0}, {x: 1})
    assert result.saw == "unknown" and result.confirms("kink") is None


def test_probe_report_shape():
    result = probe(compile_expr(sp.Abs(x - y), (x, y)), [x, y], {x: 1, y: 1}, {x: 1})
    assert result.to_dict() == {
        "point": {"x": 1.0, "y": 1.0},
        "direction": {"x": 1.0},
        "left": pytest.approx(-1.0),
        "right": pytest.approx(1.0),
        "saw": "kink",
    }
