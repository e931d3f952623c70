"""Deep networks: the cost of each step grows with the distinct nodes of the loss, not with
its printed tree, and no step rebuilds a max or min whose arguments are still symbolic.

Stacked layers feed every unit of one layer into every unit of the next, so the loss printed
as a tree is exponentially larger than the expression in memory; SymPy's own walks
(``free_symbols``, ``logcombine``) and its evaluation of a rebuilt max (pairwise comparisons
through the assumptions) follow the printed tree.
"""

from __future__ import annotations

import importlib
import random

import mpmath as mp
import sympy as sp

from diffcheck import numeric
from diffcheck.analysis import candidates
from diffcheck.numeric import (
    compile_expr,
    compile_float,
    concrete_model_functions,
    evaluate,
    free_symbols,
    sizes,
    value,
)

x, y, z = sp.symbols("x y z", real=True)
INPUTS = (x, y, z)


def _mlp(depth: int, width: int = 3, seed: int = 0) -> sp.Expr:
    """A ReLU network on (x, y, z) with rational weights, built unevaluated (as the model
    reader leaves it): each unit of a layer feeds every unit of the next."""
    rng = random.Random(seed)
    layer = list(INPUTS)
    for _ in range(depth):
        layer = [sp.Max(0, sp.Add(*[sp.Rational(rng.randint(-9, 9), 7) * unit for unit in layer],
                                  sp.Rational(rng.randint(-5, 5), 11)), evaluate=False)
                 for _ in range(width)]
    return sp.Add(*layer)


#: built once, before any test records how SymPy evaluates a max
NETWORK = _mlp(6)
#: a set of stacked ReLUs of x (g -> -1 as x -> -oo, +oo as x -> +oo)
STACKED_SET = (2 * sp.Max(0, sp.Max(0, x - y) - sp.Max(0, z - 2 * x) + sp.Rational(1, 3))
               - sp.Max(0, x + z) / 3 - 1)


def _numbers(expr: sp.Expr, point: dict) -> mp.mpf:
    """The exact value at a rational point (numbers only: no max is symbolic there)."""
    return mp.mpf(sp.N(numeric.shared_xreplace(expr, point), 30))


def test_a_deep_network_compiles_without_evaluating_a_symbolic_max(symbolic_switches):
    network = NETWORK
    printed, distinct = sizes(network)
    assert printed > numeric._CSE_TREE_SIZE and printed > 4 * distinct  # compiled with cse
    exact = compile_expr(network, INPUTS)
    fast = compile_float(network, INPUTS)
    assert symbolic_switches == []
    rng = random.Random(1)
    for _ in range(5):
        point = {s: sp.Rational(rng.randint(-40, 40), 8) for s in INPUTS}
        want = _numbers(network, point)
        assert abs(evaluate(exact, list(point.values())) - want) < 1e-12 * (1 + abs(want))
        assert abs(value(fast, [float(v) for v in point.values()]) - float(want)) < 1e-9 * (1 + abs(want))


def test_free_symbols_visit_each_distinct_node_once(monkeypatch):
    # SymPy's walk of the 2**80 printed nodes would never end; refusing it proves it is unused
    layer = sp.Function("layer")
    chain = sp.Max(x, y - 1)
    for _ in range(80):
        chain = layer(chain + z, 2 * chain)
    deep = sp.exp(chain) * sp.sqrt(chain ** 2 + 1)

    def refuse(self):
        raise AssertionError(f"free_symbols of a {type(self).__name__} walked by SymPy")

    monkeypatch.setattr(sp.Basic, "free_symbols", property(refuse))
    assert free_symbols(deep) == {x, y, z}


def test_free_symbols_of_nodes_that_bind_variables_are_their_own():
    f = sp.Function("f")
    assert free_symbols(sp.Derivative(f(x, z), x) + sp.Lambda(y, y + z)(x)) == {x, z}
    assert free_symbols(sp.Lambda(y, y + z)) == {z}
    assert free_symbols(sp.Integral(x * y, (x, 0, 1))) == {y}


def test_points_of_a_set_found_by_trials_are_solved_without_rebuilding_its_switches(
        symbolic_switches):
    # a trial point in floats is made exact along x, the other coordinates rounded
    g = STACKED_SET
    trial_values = next(values for values, _ in candidates._trial_points(g, INPUTS, INPUTS, [],
                                                                          3, 40))
    point = candidates._exact_point(g, INPUTS, x, trial_values)
    assert point is not None and set(point) == set(INPUTS)
    assert abs(float(point[x]) - trial_values[0]) < 0.05  # the others rounded to 1/64ths
    assert abs(_numbers(g, point)) < mp.mpf("1e-40")
    assert symbolic_switches == []


def test_stand_ins_for_model_functions_do_not_take_an_exponential_apart(monkeypatch):
    # exp(c*u) looks through every factor of u for a log (logcombine walks the printed tree)
    simplify = importlib.import_module("sympy.simplify.simplify")  # not sympy.simplify()

    w = sp.Symbol("w", real=True)
    layer = sp.Function("G", real=True)(x, w)
    loss = sp.log(1 + sp.exp(-3 * sp.Max(0, layer - y) * (layer + z)))
    calls: list = []
    original = simplify.logcombine
    monkeypatch.setattr(simplify, "logcombine",
                        lambda *args, **kwargs: calls.append(args) or original(*args, **kwargs))
    concrete = concrete_model_functions(loss)
    assert calls == []
    assert free_symbols(concrete) == {x, y, z, w}
    monkeypatch.undo()
    evaluated = loss.replace(lambda e: isinstance(e, sp.Function) and type(e).__name__ == "G",
                             numeric._generic_stand_in)
    point = {x: sp.Rational(1, 3), y: sp.Rational(-1, 2), z: sp.Rational(2, 5), w: sp.Rational(3, 4)}
    assert abs(_numbers(concrete, point) - _numbers(evaluated, point)) < mp.mpf("1e-25")


def test_localizing_keeps_the_parts_without_a_switch_as_they_are():
    # a normalization's sqrt of a variance holds no switch: rebuilding it re-asks SymPy's
    # assumptions about every power and sum in it, on every side of every point
    from sympy.core.cache import clear_cache

    from diffcheck.analysis.localize import LineBranches

    normalized = (x - y) / sp.sqrt((x - z) ** 2 + (y - z) ** 2 + sp.Rational(1, 100))
    loss = sp.Max(0, normalized) + normalized ** 2
    clear_cache()  # a rebuild would not come back as the cached object
    local = LineBranches({x: 1, y: 0, z: 0}, {x: 1})(loss)
    assert local == normalized + normalized ** 2  # positive there: the max is its argument
    assert any(part is normalized for part in sp.preorder_traversal(local))
