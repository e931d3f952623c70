"""Localization: every switching primitive replaced by the branch active next to a point.

Near a point ``p`` of a candidate set, on one side of it along a direction ``d``, each
switching primitive (abs, max, sign, floor, Piecewise...) has one active branch; replacing
every one of them gives a smooth expression, the loss *as seen from that side*.

:class:`LineBranches` decides exactly: the sign of a switching argument on the side
``t -> 0+`` of ``p + t*d`` is the sign of the leading term of its expansion
(:mod:`diffcheck.analysis.series`), so ``relu(x**3)`` at 0 sees ``x**3 ~ t**3 > 0`` however
flat it is. :class:`PointBranches` reads signs at one numeric point; it is for points away
from every set (random generic points) and for the numeric fallback.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> LineBranches({x: 0}, {x: 1})(sp.Max(x**3, 0))
x**3
>>> LineBranches({x: 0}, {x: -1})(sp.Max(x**3, 0))
0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mpmath as mp
import sympy as sp
from sympy.core.relational import Relational

from diffcheck.analysis.series import NOISE, Expansion, Series, Unbounded, Unsupported
from diffcheck.numeric import TINY, compile_expr, evaluate, to_mpf
from diffcheck.primitives.switching import SWITCHES, Ambiguous

#: expansions of switching arguments go this far before a tie along the line is declared
MAX_SIGN_HORIZON = 24

_GREATER = (sp.StrictGreaterThan, sp.GreaterThan)


class _Localizer:
    """The shared walk: rebuild the expression, asking a switch's rule for its branch."""

    def __init__(self) -> None:
        self.memo: dict[sp.Basic, sp.Expr] = {}
        #: each relation decided once: the masks of a top-k router repeat the same comparisons
        #: of two logits in dozens of conditions
        self.decided: dict[Relational, bool] = {}

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        if expr.is_Atom or not expr.args:
            return expr
        cached = self.memo.get(expr)
        if cached is not None:
            return cached
        switch = SWITCHES.get(type(expr))
        if switch is not None and switch.localize is not None:
            result = switch.localize(self, expr)  # type: ignore[arg-type]
        else:
            args = [self(a) for a in expr.args]
            # a part with no switch stays as it is: rebuilding it re-asks SymPy's assumptions
            # about every power and sum in it (a normalization's sqrt of a variance)
            unchanged = all(new is old for new, old in zip(args, expr.args))
            result = expr if unchanged else expr.func(*args)
        self.memo[expr] = result
        return result

    def truth(self, condition: Any) -> bool:
        if condition in (sp.true, True):
            return True
        if condition in (sp.false, False):
            return False
        if isinstance(condition, Relational):
            return self._holds(condition)
        if isinstance(condition, (sp.And, sp.Or)):
            # Decided lazily, equality tests first: a sort's ordering conditions nest the
            # comparisons of the values under tests of the labels (``labels == c``), and
            # a false test makes every comparison under it irrelevant at this point.
            deciding = isinstance(condition, sp.Or)  # the operand value that decides it
            for operand in sorted(condition.args, key=_evaluation_order):
                if self.truth(operand) == deciding:
                    return deciding
            return not deciding
        if isinstance(condition, sp.Not):
            return not self.truth(condition.args[0])
        if isinstance(condition, sp.ITE):
            test, then, otherwise = condition.args
            return self.truth(then if self.truth(test) else otherwise)
        replacements = {rel: sp.true if self._holds(rel) else sp.false
                        for rel in condition.atoms(Relational)}
        return bool(condition.xreplace(replacements))

    def _holds(self, rel: Relational) -> bool:
        holds = self.decided.get(rel)
        if holds is None:
            holds = self.decided[rel] = self.relation_holds(rel)
        return holds

    def relation_holds(self, rel: Relational) -> bool:
        raise NotImplementedError


def _evaluation_order(condition: Any) -> int:
    """Equality tests (cheap, and often on data) before other comparisons, compounds last."""
    if isinstance(condition, (sp.Eq, sp.Ne)):
        return 0
    return 1 if isinstance(condition, Relational) else 2


class LineBranches(_Localizer):
    """Active branches on the side ``t -> 0+`` of ``point + t*direction``, decided exactly."""

    def __init__(self, point: Mapping[sp.Symbol, Any], direction: Mapping[sp.Symbol, Any],
                 mirror: LineBranches | None = None):
        """``mirror``: the branches on the other side (the direction negated), whose
        expansions this side reuses where they are analytic (:class:`Expansion`)."""
        super().__init__()
        self.line = {s: (point[s], direction.get(s, 0)) for s in point}
        self.expansions: dict[int, Expansion] = {}
        self.mirror = mirror

    def expansion(self, horizon: int) -> Expansion:
        if horizon not in self.expansions:
            mirror = self.mirror
            self.expansions[horizon] = Expansion(
                self.line, horizon,
                None if mirror is None else lambda: mirror.expansions.get(horizon))
        return self.expansions[horizon]

    def series(self, expr: sp.Expr, horizon: int = 4) -> Series:
        """The expansion of the localized ``expr``, deep enough to show its leading term."""
        localized = self(expr)
        while True:
            try:
                series = self.expansion(horizon)(localized)
            except Unbounded as err:
                raise Unsupported(str(err)) from None
            if series.terms or series.order == float("inf") or horizon >= MAX_SIGN_HORIZON:
                return series
            horizon *= 2

    def sign(self, expr: sp.Expr) -> int:
        sign = self.series(expr).sign()
        if sign is None:
            raise Ambiguous(f"{expr} vanishes along the whole line")
        return sign

    def largest(self, args: Sequence[sp.Expr], pick_max: bool) -> sp.Expr:
        best = args[0]
        for arg in args[1:]:
            difference = self.series(arg - best)
            sign = difference.sign()
            if sign is None:
                if self(arg) != self(best):
                    raise Ambiguous("a tie between different branches along the line")
                continue
            if (sign > 0) == pick_max:
                best = arg
        return self(best)

    def integer_part(self, inner: sp.Expr, round_up: bool) -> sp.Expr:
        local = self(inner)
        if local.is_number:  # locally constant (floor(y) % 2): exact, even on an integer
            return sp.ceiling(local) if round_up else sp.floor(local)
        series = self.series(inner)
        if series.valuation() < 0:
            raise Unsupported(f"{inner} is unbounded next to the point")
        value = series.coefficient(0)
        nearest = mp.nint(value)
        if abs(value - nearest) > NOISE * (1 + abs(value)):
            return sp.Integer(int(mp.ceil(value) if round_up else mp.floor(value)))
        side = self.series(inner - sp.Integer(int(nearest))).sign()
        if side is None:
            raise Ambiguous(f"{inner} stays at an integer along the line")
        below = int(nearest) - 1 if side < 0 else int(nearest)
        return sp.Integer(below + 1 if round_up else below)

    def relation_holds(self, rel: Relational) -> bool:
        sign = self.series(rel.lhs - rel.rhs).sign()
        if isinstance(rel, (sp.Eq, sp.Ne)):
            return (sign is None) == isinstance(rel, sp.Eq)
        if sign is None:
            raise Ambiguous(f"{rel} is at its boundary along the whole line")
        greater = sign > 0
        return greater if isinstance(rel, _GREATER) else not greater


class PointBranches(_Localizer):
    """Active branches at one numeric point, which must be away from every switching set."""

    def __init__(self, symbols: Sequence[sp.Symbol], values: Mapping[sp.Symbol, Any]):
        super().__init__()
        self.symbols = tuple(symbols)
        self.point = [values[s] for s in self.symbols]

    def value(self, expr: sp.Expr) -> mp.mpf | None:
        if expr.is_number:
            return to_mpf(expr) if expr.is_real else None
        return evaluate(compile_expr(expr, self.symbols), self.point)

    def sign(self, expr: sp.Expr) -> int:
        v = self.value(expr)
        if v is None:
            raise Ambiguous("undefined")
        if abs(v) < TINY:
            raise Ambiguous("on a boundary")
        return 1 if v > 0 else -1

    def largest(self, args: Sequence[sp.Expr], pick_max: bool) -> sp.Expr:
        readings = [self.value(a) for a in args]
        values = [v for v in readings if v is not None]
        if len(values) < len(readings):
            raise Ambiguous("undefined argument")
        order = sorted(range(len(args)), key=lambda i: values[i], reverse=pick_max)
        best = self(args[order[0]])
        # a tie between branches that are the same locally (relu(step(x)) where the step is
        # 0) is no switch; any other tie means the point is not generic
        tie = len(order) > 1 and abs(values[order[0]] - values[order[1]]) < TINY
        if tie and self(args[order[1]]) != best:
            raise Ambiguous("tie")
        return best

    def integer_part(self, inner: sp.Expr, round_up: bool) -> sp.Expr:
        local = self(inner)
        if local.is_number:
            return sp.ceiling(local) if round_up else sp.floor(local)
        v = self.value(inner)
        if v is None:
            raise Ambiguous("undefined")
        if abs(v - mp.nint(v)) < TINY:
            raise Ambiguous("at an integer")
        return sp.Integer(int(mp.ceil(v) if round_up else mp.floor(v)))

    def relation_holds(self, rel: Relational) -> bool:
        v = self.value(rel.lhs - rel.rhs)
        if v is None:
            raise Ambiguous("undefined condition")
        if isinstance(rel, (sp.Eq, sp.Ne)):
            return (abs(v) < TINY) == isinstance(rel, sp.Eq)
        if abs(v) < TINY:
            raise Ambiguous("on a condition boundary")
        greater = v > 0
        return greater if isinstance(rel, _GREATER) else not greater

