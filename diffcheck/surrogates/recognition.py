"""Recognising a non-smooth node: its surrogate family and the parts a formula is built from.

>>> import sympy as sp
>>> u = sp.Symbol("u", real=True)
>>> recognize(sp.Min(sp.Max(u, 0), 6)).family, recognize(sp.Max(0.9*u, -0.1*u)).family
('clip', 'pinball')
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.core.relational import Relational


@dataclass(frozen=True)
class Primitive:
    """A non-smooth node and the parts a surrogate formula is built from.

    ``parts`` by family: abs, floor-like, log ``(u,)``; max/min/pinball the arguments with
    the "base" last (0 for relu, the ``q*u`` term for pinball); clip ``(u, lo, hi)``; blends
    (step, sign, indicator, piecewise) the ``(value, condition)`` branches; mod ``(a, b)``;
    root ``(base, exponent)``.
    """

    node: sp.Expr
    family: str
    parts: tuple


def _base_last(args: Sequence[sp.Expr]) -> tuple:
    """Arguments of max/min with a constant (0 for relu, hinge) moved to the end.

    The constant becomes the base of base + relu(a - base), which then never subtracts a
    huge value from a huge value when ``a`` is large.
    """
    return tuple(sorted(args, key=lambda a: bool(a.is_number)))


def _clip_parts(node: sp.Expr) -> tuple | None:
    """(u, lo, hi) when ``node`` is min(max(u, lo), hi) or max(min(u, hi), lo), lo < hi."""
    inner_class = sp.Max if isinstance(node, sp.Min) else sp.Min
    numbers = [a for a in node.args if a.is_number]
    inner = [a for a in node.args if isinstance(a, inner_class) and len(a.args) == 2]
    if len(node.args) != 2 or len(numbers) != 1 or len(inner) != 1:
        return None
    inner_numbers = [a for a in inner[0].args if a.is_number]
    if len(inner_numbers) != 1:
        return None
    (u,) = [a for a in inner[0].args if not a.is_number]
    if isinstance(node, sp.Min):
        lo, hi = inner_numbers[0], numbers[0]
    else:
        lo, hi = numbers[0], inner_numbers[0]
    return (u, lo, hi) if bool(lo < hi) else None


def _pinball_parts(node: sp.Expr) -> tuple | None:
    """((q - 1)*u, q*u) when ``node`` is max(q*u, (q - 1)*u) with 0 < q < 1."""
    if len(node.args) != 2:
        return None
    # Both terms are nonzero multiples of u, so they depend on the same variables: anything
    # else (a clamp max(p, 1e-7)) is ruled out before expanding and cancelling large terms.
    first, second = node.args
    if not first.free_symbols or first.free_symbols != second.free_symbols:
        return None
    for low, high in itertools.permutations(node.args):
        u = sp.expand(high - low)
        if u == 0:
            continue
        q = sp.cancel(high / u)
        if q.is_number and bool(0 < q < 1):
            return (low, high)
    return None


def _smoothable(condition) -> bool:
    """True for relations combined with and/or/not: what a product of switches can follow."""
    if isinstance(condition, (Relational, sp.logic.boolalg.BooleanAtom)):
        return True
    if isinstance(condition, (sp.And, sp.Or, sp.Not)):
        return all(_smoothable(c) for c in condition.args)
    return False


def strictly_positive(u: sp.Expr) -> Relational:
    """u > 0, kept even where SymPy could decide it: ``Heaviside(Min(0, x))`` is 1/2 on a
    half-line, which only the switch at u = 0 (worth 1/2) reproduces."""
    return sp.StrictGreaterThan(u, 0, evaluate=False)


def recognize(node: sp.Expr) -> Primitive | None:
    """The primitive family of ``node`` and its parts (None: not a non-smooth primitive)."""
    if isinstance(node, sp.Abs):
        return Primitive(node, "abs", node.args)
    if isinstance(node, (sp.Max, sp.Min)):
        clip = _clip_parts(node)
        if clip:
            return Primitive(node, "clip", clip)
        pinball = _pinball_parts(node) if isinstance(node, sp.Max) else None
        if pinball:
            return Primitive(node, "pinball", pinball)
        return Primitive(node, "max" if isinstance(node, sp.Max) else "min", _base_last(node.args))
    if isinstance(node, sp.Heaviside):
        u, at_zero = node.args[0], node.args[1] if len(node.args) > 1 else sp.S.Half
        branches: tuple[tuple[Any, Any], ...] = ((sp.S.One, strictly_positive(u)),
                                                 (sp.S.Zero, sp.true))
        if not (at_zero.is_number and bool(0 <= at_zero <= 1)):  # H(0) off the jump bound
            branches = ((sp.S.One, strictly_positive(u)), (at_zero, sp.Eq(u, 0, evaluate=False)),
                        (sp.S.Zero, sp.true))
        return Primitive(node, "step", branches)
    if isinstance(node, sp.sign):
        branches = ((sp.S.One, strictly_positive(node.args[0])), (sp.S.NegativeOne, sp.true))
        return Primitive(node, "sign", branches)
    if isinstance(node, sp.Piecewise):
        if not all(_smoothable(pair.cond) for pair in node.args):
            return None
        branches = tuple((pair.expr, pair.cond) for pair in node.args)
        values = [v for v, _ in branches]
        family = "indicator" if values == [sp.S.One, sp.S.Zero] else "piecewise"
        return Primitive(node, family, branches)
    if isinstance(node, sp.floor):
        u = node.args[0]
        return Primitive(node, "round" if u.as_coeff_Add()[0] == sp.S.Half else "floor", (u,))
    if isinstance(node, sp.ceiling):
        return Primitive(node, "ceiling", node.args)
    if isinstance(node, sp.Mod):
        return Primitive(node, "mod", node.args)
    if isinstance(node, sp.Pow):
        base, p = node.args
        fractional = p.is_number and p.is_real and not p.is_integer and bool(0 < p < 1)
        if fractional and base.free_symbols:
            return Primitive(node, "root", (base, p))
    if isinstance(node, (sp.acos, sp.asin)):
        return Primitive(node, type(node).__name__, node.args)
    if isinstance(node, sp.log):
        return Primitive(node, "log", node.args)
    return None


def relationals(condition) -> list:
    return sorted(condition.atoms(Relational), key=str) if isinstance(condition, sp.Basic) else []


def switch_argument(relation: Relational) -> sp.Expr:
    """g with ``relation`` true exactly where g > 0 (or g >= 0)."""
    if isinstance(relation, (sp.StrictGreaterThan, sp.GreaterThan)):
        return relation.lhs - relation.rhs
    return relation.rhs - relation.lhs


def switching_functions(primitive: Primitive) -> list[sp.Expr]:
    """Functions g whose zero sets are where ``primitive`` switches branch."""
    family, parts = primitive.family, primitive.parts
    if family in ("abs", "root", "log"):
        return [parts[0]]
    if family in ("acos", "asin"):
        return [1 - parts[0] ** 2]
    if family in ("max", "min", "pinball"):
        return [a - b for a, b in itertools.combinations(parts, 2)]
    if family == "clip":
        return [parts[0] - parts[1], parts[0] - parts[2]]
    if family in ("step", "sign", "indicator", "piecewise"):
        return [switch_argument(r) for _, c in parts for r in relationals(c)]
    return []  # floor-like primitives switch on u = k for every integer k


