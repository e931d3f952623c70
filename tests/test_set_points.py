"""Points on candidate sets are read from the set function compiled once: searching lines and
rays never rebuilds a max, min or piecewise with a symbolic argument (SymPy compares the
arguments of each again, seconds per line on a real loss), and finds the points the
substituted lines would.
"""

from __future__ import annotations

import random

import mpmath as mp
import pytest
import sympy as sp

from diffcheck import sets
from diffcheck.surrogates import recognize

x, y, z = sp.symbols("x y z", real=True)
THIRD = sp.Rational(1, 3)

#: set functions g (g = 0 is the set) that hold switches of the unknown: scanned, not solved
LINE_CASES = [
    sp.Max(x, y) - sp.Min(x + y, 2 * y) - THIRD,
    sp.Max(x, y, z) / 2 + sp.Max(sp.Min(x, y), sp.Min(y, z)) - 1,
    sp.Piecewise((sp.Max(x, y) - 1, x + y > 0), (x - z, True)) - x / 3,
    sp.Min(6, sp.Max(0, x - y)) - sp.Abs(z) - sp.Rational(1, 10**7),
    sp.exp(sp.Max(x, 2 * y)) - 2,
]


def _residual(g: sp.Expr, point: dict) -> mp.mpf:
    with mp.workdps(sets.DIGITS):
        return abs(mp.mpf(sp.N(g.xreplace(point), sets.DIGITS)))


@pytest.mark.parametrize("g", LINE_CASES, ids=str)
def test_a_line_read_from_the_compiled_set_finds_the_substituted_lines_roots(g):
    symbols = [x, y, z]
    rng = random.Random(3)
    compared = 0
    for unknown in [s for s in symbols if s in g.free_symbols]:
        others = [s for s in symbols if s != unknown]
        for assignment in sets.sample_assignments(others, rng):
            read = sets._roots_read_on_line(g, symbols, assignment, unknown)
            if read is None:
                continue
            substituted = sets.univariate_roots(g.xreplace(assignment), unknown)
            assert len(read) == len(substituted)
            for a, b in zip(read, substituted):
                assert a.is_Rational == b.is_Rational
                assert abs(sp.N(a - b, 60)) < sp.Float("1e-40")
            compared += len(read)
    assert compared > 0


@pytest.mark.parametrize("g", LINE_CASES, ids=str)
def test_points_on_a_set_of_switches_never_rebuild_them_symbolically(g, symbolic_switches):
    points = sets.points_on_set(g, [x, y, z], [x, y, z], seed=2)
    assert points
    assert all(_residual(g, p) < mp.mpf("1e-40") for p in points)
    assert symbolic_switches == []


#: a tiny sphere inside a max: generic lines miss it, rays from the origin cross it
SPHERE = sp.Max(sp.sqrt(x**2 + y**2), sp.Abs(x) / 2) - sp.Rational(1, 10**6)


def test_points_on_rays_never_rebuild_switches_symbolically(symbolic_switches):
    points = sets.points_on_rays(SPHERE, [x, y, z], seed=0)
    assert len(points) == 4
    assert all(_residual(SPHERE, p) < mp.mpf("1e-40") for p in points)
    assert symbolic_switches == []


def test_a_clamp_is_not_taken_apart_as_a_pinball(monkeypatch):
    # max(p, 1e-7): one side is a number, so it is no multiple of the other; expanding and
    # cancelling a large p (a mixture of softmaxes) took most of a second per clamp
    def refuse(*args, **kwargs):
        raise AssertionError("expanded or cancelled a clamp")

    clamp = sp.Max(sp.exp(x) / (sp.exp(x) + sp.exp(y) + sp.exp(z)), sp.Rational(1, 10**7))
    monkeypatch.setattr(sp, "expand", refuse)
    monkeypatch.setattr(sp, "cancel", refuse)
    assert recognize(clamp).family == "max"
    assert recognize(sp.Max(x - 1, -2)).family == "max"
