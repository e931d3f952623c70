"""Plans: which node of a loss gets which table entry, with which parameter value.

Every node the analysis found non-smooth is replaced, and so is every primitive nested with
one (smoothing one can expose the other: ``sqrt(abs(u))``) or switching on the same set.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.core.relational import Relational

from diffcheck.intervals import enclose
from diffcheck.numeric import as_sympy
from diffcheck.surrogates.exact import constant_bounds, round_significant
from diffcheck.surrogates.recognition import Primitive, recognize, switching_functions
from diffcheck.surrogates.table import BLEND_FAMILIES, SURROGATES, SurrogateEntry

#: significant digits kept in parameter values (rounded so the bound stays <= the target)
PARAM_DIGITS = 3




@dataclass(frozen=True)
class Replacement:
    """``primitive`` replaced by ``entry`` with parameter ``symbol`` set to ``value``."""

    primitive: Primitive
    entry: SurrogateEntry
    symbol: sp.Symbol | None
    value: sp.Rational | None

    @property
    def parameter(self) -> dict[str, float]:
        """The parameter as reported: ``{"tau": 0.0144}``, or nothing."""
        if self.symbol is None or self.value is None:
            return {}
        return {self.symbol.name: float(self.value)}

    def at_value(self, expr: sp.Expr) -> sp.Expr:
        return as_sympy(expr).xreplace({self.symbol: self.value}) if self.symbol else expr


def flat_parts(primitive: Primitive) -> list[sp.Basic]:
    if primitive.family in BLEND_FAMILIES:
        return [x for pair in primitive.parts for x in pair]
    return list(primitive.parts)


def _map_parts(primitive: Primitive, fn: Callable) -> tuple:
    if primitive.family in BLEND_FAMILIES:
        return tuple((fn(v), fn(c)) for v, c in primitive.parts)
    return tuple(fn(p) for p in primitive.parts)


class ParameterNames:
    """One parameter symbol per (name, value); names avoid the loss's variables."""

    def __init__(self, reserved: Iterable[str]):
        self.taken = set(reserved)
        self.symbols: dict[tuple, sp.Symbol] = {}

    def symbol(self, name: str, value: sp.Rational) -> sp.Symbol:
        if (name, value) not in self.symbols:
            candidates = itertools.chain([name], (f"{name}_{i}" for i in itertools.count(1)))
            chosen = next(c for c in candidates if c not in self.taken)
            self.taken.add(chosen)
            self.symbols[(name, value)] = sp.Symbol(chosen, positive=True)
        return self.symbols[(name, value)]


def _parameter_value(entry: SurrogateEntry, target: sp.Rational,
                     primitive: Primitive) -> sp.Rational:
    """The entry's default for ``target``, rounded down (every bound grows with it)."""
    exact = constant_bounds(entry.default(target, primitive))[0]
    if exact <= 0:
        raise ValueError(f"target error {target} gives no positive parameter for {entry.name}")
    rounded = round_significant(exact, PARAM_DIGITS, upward=False)
    return sp.Rational(rounded.numerator, rounded.denominator)


def make_replacement(primitive: Primitive, entry: SurrogateEntry, target: sp.Rational,
                 names: ParameterNames) -> Replacement:
    if not entry.param:
        return Replacement(primitive, entry, None, None)
    value = _parameter_value(entry, target, primitive)
    return Replacement(primitive, entry, names.symbol(entry.param, value), value)


def _choose_entry(primitive: Primitive, band: bool) -> SurrogateEntry | None:
    """The first usable entry, band-limited or not as asked when the family has both."""
    family = SURROGATES.get(primitive.family, ())
    usable = [e for e in family if e.replaces and e.applies(primitive)]
    bounded = [e for e in usable if e.bound is not None] or usable
    preferred = [e for e in bounded if e.band == band]
    best = preferred or bounded
    return best[0] if best else None


def _shares_switching_set(primitive: Primitive, others: Iterable[Primitive]) -> bool:
    """True when a switching function of ``primitive`` is a constant multiple of another's."""
    mine = switching_functions(primitive)
    for other in others:
        for g in mine:
            for h in switching_functions(other):
                ratio = sp.cancel(g / h) if h != 0 else None
                if ratio is not None and ratio.is_number and ratio != 0:
                    return True
    return False


def _can_switch(primitive: Primitive) -> bool:
    """False when no switching function can vanish (``sqrt(1 + abs(x))`` is smooth)."""
    functions = switching_functions(primitive)
    if not functions:
        return True
    boxes = [enclose(g) for g in functions]
    return any(box is None or box.contains(0) for box in boxes)


def primitives_to_replace(expr: sp.Expr, nonsmooth: Sequence[sp.Expr]) -> list[Primitive] | None:
    """The listed nodes, and every primitive a smooth surrogate also has to replace.

    The analyzer reports one node per non-smooth set, so a second primitive switching on the
    same set (``max(0, u) + abs(u)``) is added; so is every primitive nested with a replaced
    one, because smoothing one of them can expose the other (``sqrt(abs(u))``: a root of a
    smooth function that touches 0 has a kink). None: a listed node has no surrogate.
    """
    found: dict[sp.Expr, Primitive] = {}
    for node in sp.postorder_traversal(expr):
        primitive = recognize(node)
        if primitive is not None and (primitive.family != "log" or node in nonsmooth):
            found.setdefault(node, primitive)
    selected = {}
    for node in nonsmooth:
        primitive = found.get(node) or recognize(node)
        if primitive is None or _choose_entry(primitive, band=False) is None:
            return None
        selected[node] = primitive
    grew = True
    while grew:
        grew = False
        for node, primitive in found.items():
            if node in selected:
                continue
            if not _can_switch(primitive):
                continue
            nested = any(node.has(other) or other.has(node) for other in selected)
            if nested or _shares_switching_set(primitive, selected.values()):
                selected[node] = primitive
                grew = True
    return [p for node, p in found.items() if node in selected] + [
        p for node, p in selected.items() if node not in found]


def _reachable(expr: sp.Expr, entries: dict[sp.Expr, tuple[Primitive, SurrogateEntry]]) -> list:
    """Planned nodes the surrogate actually contains (a clip swallows its inner max)."""
    reached: list = []

    def visit(e):
        if e in entries:
            if e not in reached:
                reached.append(e)
            for part in flat_parts(entries[e][0]):
                visit(part)
            return
        for a in getattr(e, "args", ()):
            visit(a)

    visit(expr)
    return [n for n in entries if n in reached]


def make_plan(expr: sp.Expr, primitives: Sequence[Primitive], target: sp.Rational, band: bool,
          reserved: Iterable[str]) -> dict[sp.Expr, Replacement]:
    chosen = {}
    for p in primitives:
        entry = _choose_entry(p, band)
        if entry is None:
            raise ValueError(f"{p.node} has no surrogate")  # refused by primitives_to_replace
        chosen[p.node] = (p, entry)
    names = ParameterNames(reserved)
    return {node: make_replacement(*chosen[node], target, names)
            for node in _reachable(expr, chosen)}


def build_surrogate(expr: sp.Expr, plan: dict[sp.Expr, Replacement]) -> sp.Expr:
    """The surrogate: planned nodes replaced bottom-up (with safe building blocks)."""
    memo: dict = {}

    def rebuild(e):
        if e in memo:
            return memo[e]
        if e in plan:
            rep = plan[e]
            result = rep.entry.formula(_map_parts(rep.primitive, rebuild), rep.symbol)
        elif isinstance(e, Relational):  # as written: see strictly_positive
            result = e.func(rebuild(e.lhs), rebuild(e.rhs), evaluate=False)
        elif isinstance(e, sp.Basic) and e.args:
            result = e.func(*[rebuild(a) for a in e.args])
        else:
            result = e
        memo[e] = result
        return result

    return rebuild(expr)


