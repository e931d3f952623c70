"""The switching primitives: SymPy classes whose value switches branch on a set ``g = 0``.

Each SymPy class the lowering produces and that is not smooth everywhere has one
:class:`Switch` entry: the candidate sets where it may be non-smooth, and how to pick the
branch that is active next to a point (``localize``). Each candidate belongs to a
:class:`Family`, which says which finding code each kind of finding gets (explicitly: a
(kind, family) pair that is not listed is a bug and raises), what autodiff frameworks do
there, and which kinds the family causes by itself.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> [(c.family, c.g) for c in candidates_of(sp.Max(x, 0))]
[('max', -x)]
>>> code_for("kink", "step")     # sign(u)*u: a kink made by a step times a vanishing factor
'DC105'
>>> code_for("pole", "abs")
Traceback (most recent call last):
    ...
KeyError: "no finding code for a pole caused by a primitive of family 'abs'"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import sympy as sp
from sympy.core.relational import Relational

#: the integers k whose sets u = k stand for all jumps of floor(u)
FLOOR_LEVELS = (0, 1, -1, 2)


@dataclass(frozen=True)
class Candidate:
    """A set ``g = 0`` where ``node`` (a primitive of ``family``) may be non-smooth."""

    node: sp.Expr
    family: str
    g: sp.Expr
    #: for floor-like primitives: the set is g = k for integers k; ``g`` is one level
    level_set: sp.Expr | None = None
    #: expressions h >= 0 where this switch is in play at all (a pair of a max must be the
    #: largest: max(a, b, c) switches between a and b only where a = b >= c)
    in_play: tuple[sp.Expr, ...] = ()


class Ambiguous(Exception):
    """The point or direction is not generic: a switch ties along the whole line there."""


class Branches(Protocol):
    """What a localize rule may ask about the neighbourhood of one point, on one side."""

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every switching primitive replaced by its active branch."""

    def sign(self, expr: sp.Expr) -> int:
        """+1 or -1: the sign of ``expr`` next to the point on this side (Ambiguous on a tie)."""

    def largest(self, args: Sequence[sp.Expr], pick_max: bool) -> sp.Expr:
        """The localized argument that is largest (smallest) next to the point."""

    def integer_part(self, inner: sp.Expr, round_up: bool) -> sp.Expr:
        """floor (ceiling) of ``inner`` next to the point, a constant."""

    def truth(self, condition: Any) -> bool:
        """Whether ``condition`` holds next to the point on this side."""


@dataclass(frozen=True)
class Family:
    """A kind of switch, as findings name it: its codes per kind and its autodiff behaviour."""

    name: str
    #: finding kind -> code, for every kind this family can be blamed for
    codes: Mapping[str, str]
    #: kinds the family causes by itself (abs: kink); for the other kinds in ``codes`` it is
    #: only where they happen (sign(u)*u kinks where sign jumps). A finding on a set several
    #: primitives share names the one whose native kind it is.
    native: frozenset[str]
    #: what PyTorch and JAX return at the switch
    autodiff: str


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("abs", {"kink": "DC101", "jump": "DC204", "infinite-slope": "DC301"},
               frozenset({"kink"}),
               "abs'(0) is 0 in PyTorch and 1 in JAX."),
        Family("max", {"kink": "DC102", "jump": "DC204", "infinite-slope": "DC301"},
               frozenset({"kink"}),
               "PyTorch and JAX return relu'(0) = 0; torch.maximum/jnp.maximum split ties "
               "0.5/0.5."),
        Family("piecewise", {"kink": "DC103", "jump": "DC203", "infinite-slope": "DC301"},
               frozenset({"kink", "jump"}),
               "torch.where/jnp.where backpropagate only through the selected branch."),
        Family("power", {"kink": "DC104", "jump": "DC204", "infinite-slope": "DC301"},
               frozenset({"kink", "infinite-slope"}),
               "sqrt'(0) is inf in PyTorch and JAX: the gradient turns into inf/NaN."),
        Family("step", {"jump": "DC201", "kink": "DC105", "infinite-slope": "DC301"},
               frozenset({"jump"}),
               "Autodiff returns gradient 0 on both sides: no training signal."),
        Family("floor", {"jump": "DC202", "kink": "DC105", "infinite-slope": "DC301"},
               frozenset({"jump"}),
               "floor/round/ceil backpropagate 0 everywhere in PyTorch and JAX."),
    )
}


def code_for(kind: str, family: str) -> str:
    """The finding code of a ``kind`` finding caused by a primitive of ``family``."""
    code = FAMILIES[family].codes.get(kind)
    if code is None:
        raise KeyError(f"no finding code for a {kind} caused by a primitive of family "
                       f"{family!r}")
    return code


# --- candidate sets, by SymPy class --------------------------------------------------------


def _abs_candidates(node: sp.Expr) -> list[Candidate]:
    return [Candidate(node, "abs", node.args[0])]


def _extremum_candidates(node: sp.Expr) -> list[Candidate]:
    args = node.args
    sign = 1 if isinstance(node, sp.Max) else -1
    return [
        Candidate(
            node, "max", args[i] - args[j],
            in_play=tuple(sign * (args[i] - args[k]) for k in range(len(args)) if k not in (i, j)),
        )
        for i in range(len(args))
        for j in range(i + 1, len(args))
    ]


def _step_candidates(node: sp.Expr) -> list[Candidate]:
    return [Candidate(node, "step", node.args[0])]


def _floor_candidates(node: sp.Expr) -> list[Candidate]:
    inner = node.args[0]
    return [Candidate(node, "floor", inner - k, level_set=inner) for k in FLOOR_LEVELS]


def _mod_candidates(node: sp.Expr) -> list[Candidate]:
    inner = node.args[0] / node.args[1]
    return [Candidate(node, "floor", inner - k, level_set=inner) for k in FLOOR_LEVELS]


def _piecewise_candidates(node: sp.Expr) -> list[Candidate]:
    values = [pair.expr for pair in node.args]
    family = "step" if all(v.is_number for v in values) else "piecewise"
    relationals: set[Relational] = set()
    for pair in node.args:
        if isinstance(pair.cond, sp.Basic) and pair.cond not in (sp.true, sp.false):
            relationals |= pair.cond.atoms(Relational)
    return [Candidate(node, family, rel.lhs - rel.rhs) for rel in sorted(relationals, key=str)]


def _power_candidates(node: sp.Expr) -> list[Candidate]:
    base, exponent = node.args
    if exponent.is_Rational and not exponent.is_integer and exponent > 0 and base.free_symbols:
        return [Candidate(node, "power", base)]
    return []


def _arc_candidates(node: sp.Expr) -> list[Candidate]:
    """acos and asin have infinite slopes at the ends of their domain, u = 1 and u = -1."""
    return [Candidate(node, "power", 1 - node.args[0] ** 2)]


class label_is(sp.Function):  # noqa: N801 (lower case: never a model function name)
    """``(label == value)`` as a number: 1 where the data ``label`` equals the class ``value``.

    Integer labels are data, so the indicator never switches as the wrt variables move: the
    analysis reads it as a data-valued factor in {0, 1}. Written as a Piecewise, a comparison
    of two values holding it (a sort of ``|(labels == c) - p|``) would be split into one case
    per label value, multiplying the tie sets of the sort. As a function of the label it is
    a step (its set ``label = value``), decided and localized like ``Eq(label, value)``.

    >>> l = sp.Symbol("l", real=True)
    >>> label_is(l, 2), label_is(2, 2), label_is(sp.Rational(1, 2), 2)
    ((l == 2), 1, 0)
    >>> [(c.family, c.g) for c in candidates_of(label_is(l, 2))]
    [('step', l - 2)]
    """

    nargs = 2
    is_real = True
    is_nonnegative = True

    @classmethod
    def eval(cls, label: sp.Expr, value: sp.Expr) -> sp.Expr | None:
        difference = label - value
        if difference.is_number:
            return sp.Integer(1 if difference == 0 else 0)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Integer(0)  # a step: flat wherever it is differentiable

    def _eval_rewrite_as_Piecewise(self, label: sp.Expr, value: sp.Expr,
                                   **_: Any) -> sp.Expr:
        return sp.Piecewise((sp.Integer(1), sp.Eq(label, value)), (sp.Integer(0), True))

    def _sympystr(self, printer: Any) -> str:
        return f"({printer._print(self.args[0])} == {printer._print(self.args[1])})"


def _label_candidates(node: sp.Expr) -> list[Candidate]:
    return [Candidate(node, "step", node.args[0] - node.args[1])]


# --- the active branch next to a point -----------------------------------------------------


def _localize_abs(branches: Branches, node: sp.Expr) -> sp.Expr:
    inner = branches(node.args[0])
    return inner if branches.sign(node.args[0]) > 0 else -inner


def _localize_extremum(branches: Branches, node: sp.Expr) -> sp.Expr:
    return branches.largest(node.args, pick_max=isinstance(node, sp.Max))


def _localize_sign(branches: Branches, node: sp.Expr) -> sp.Expr:
    return sp.Integer(branches.sign(node.args[0]))


def _localize_heaviside(branches: Branches, node: sp.Expr) -> sp.Expr:
    return sp.Integer(1 if branches.sign(node.args[0]) > 0 else 0)


def _localize_floor(branches: Branches, node: sp.Expr) -> sp.Expr:
    return branches.integer_part(node.args[0], round_up=False)


def _localize_ceiling(branches: Branches, node: sp.Expr) -> sp.Expr:
    return branches.integer_part(node.args[0], round_up=True)


def _localize_mod(branches: Branches, node: sp.Expr) -> sp.Expr:
    a, b = node.args
    return branches(a) - branches(b) * branches.integer_part(a / b, round_up=False)


def _localize_piecewise(branches: Branches, node: sp.Expr) -> sp.Expr:
    for pair in node.args:
        if branches.truth(pair.cond):
            return branches(pair.expr)
    raise Ambiguous("no branch applies")


def _localize_label(branches: Branches, node: sp.Expr) -> sp.Expr:
    return sp.Integer(1 if branches.truth(_label_test(node)) else 0)


@lru_cache(maxsize=1024)
def _label_test(node: sp.Expr) -> Any:
    """``Eq(label, value)`` of a label indicator, built once: SymPy's Eq asks the assumptions
    about the difference each time (each side of each point localizes every label)."""
    return sp.Eq(*node.args)


@dataclass(frozen=True)
class Switch:
    """How the analysis treats one SymPy class: its candidate sets and its active branch.

    ``localize`` is None for classes that do not switch but can be non-smooth where their
    argument reaches a point (roots, acos): the expansion of the class itself says how.
    """

    sympy_class: type
    candidates: Callable[[sp.Expr], list[Candidate]]
    localize: Callable[[Branches, sp.Expr], sp.Expr] | None = None
    families: frozenset[str] = field(default_factory=frozenset)
    #: the surrogate families (diffcheck.surrogates.table.SURROGATES) that replace it
    surrogates: tuple[str, ...] = ()


SWITCHES: dict[type, Switch] = {
    switch.sympy_class: switch
    for switch in (
        Switch(sp.Abs, _abs_candidates, _localize_abs, frozenset({"abs"}), ("abs",)),
        Switch(sp.Max, _extremum_candidates, _localize_extremum, frozenset({"max"}),
               ("max", "clip", "pinball")),
        Switch(sp.Min, _extremum_candidates, _localize_extremum, frozenset({"max"}),
               ("min", "clip")),
        Switch(sp.sign, _step_candidates, _localize_sign, frozenset({"step"}), ("sign",)),
        Switch(sp.Heaviside, _step_candidates, _localize_heaviside, frozenset({"step"}),
               ("step",)),
        Switch(sp.floor, _floor_candidates, _localize_floor, frozenset({"floor"}),
               ("floor", "round")),
        Switch(sp.ceiling, _floor_candidates, _localize_ceiling, frozenset({"floor"}),
               ("ceiling",)),
        Switch(sp.Mod, _mod_candidates, _localize_mod, frozenset({"floor"}), ("mod",)),
        Switch(sp.Piecewise, _piecewise_candidates, _localize_piecewise,
               frozenset({"piecewise", "step"}), ("indicator", "piecewise")),
        # no surrogate family: a smooth surrogate keeps a test of data as it is (smoothing the
        # labels would change the loss, not where it is non-smooth in the predictions)
        Switch(label_is, _label_candidates, _localize_label, frozenset({"step"})),
        Switch(sp.Pow, _power_candidates, None, frozenset({"power"}), ("root",)),
        Switch(sp.acos, _arc_candidates, None, frozenset({"power"}), ("acos",)),
        Switch(sp.asin, _arc_candidates, None, frozenset({"power"}), ("asin",)),
    )
}


#: (node, argument, needs_nonnegative, can_pole) of a class whose domain is limited
DomainRule = Callable[[sp.Expr], list[tuple[sp.Expr, sp.Expr, bool, bool]]]


def _log_domain(node: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, bool, bool]]:
    return [(node, node.args[0], True, True)]


def _power_domain(node: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, bool, bool]]:
    base, exponent = node.args
    if not (exponent.is_number and exponent.is_real and base.free_symbols):
        return []
    fractional = not exponent.is_integer
    if exponent.is_negative:
        return [(node, base, fractional, True)]  # a division: a pole where base = 0
    return [(node, base, True, False)] if fractional else []


def _tan_domain(node: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, bool, bool]]:
    return [(node, sp.cos(node.args[0]), False, True)]


def _arc_domain(node: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, bool, bool]]:
    return [(node, 1 - node.args[0] ** 2, True, False)]


#: SymPy class -> where it leaves the real domain (its argument must be >= 0 or > 0) and
#: where it may blow up (a pole where the argument vanishes)
DOMAINS: dict[type, DomainRule] = {
    sp.log: _log_domain,
    sp.Pow: _power_domain,
    sp.tan: _tan_domain,
    sp.acos: _arc_domain,
    sp.asin: _arc_domain,
}


def candidates_of(node: sp.Expr) -> list[Candidate]:
    """The candidate sets of one node (none for a class that is smooth everywhere)."""
    switch = SWITCHES.get(type(node))
    return [] if switch is None else switch.candidates(node)
