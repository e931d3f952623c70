"""Masking: the part of a candidate set where its switch actually shows.

A switch can be hidden under a flat branch of an enclosing one: in ``relu(abs(u) - 1)`` the
kink of abs at u = 0 is masked, and in ``abs(u)*relu(v)`` the kink of abs shows only where
v > 0. Points of a set are labelled active or masked (exact comparisons, and cheap float
trials when the set has several variables), and the set is reported as:

* in one variable, the active points themselves (``(x - 1)*(x + 1) = 0``);
* in several variables, ``g = 0`` narrowed by the boundaries of other primitives that
  separate the active points from the masked ones: ``Abs(u) + Max(0, -v) = 0`` is
  ``u = 0 and v >= 0``. When no such boundaries explain every label, the whole set is
  reported: an overclaim at masked points is better than a kink left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from diffcheck.analysis.candidates import sign_at
from diffcheck.analysis.sides import SideComparison
from diffcheck.numeric import compile_float, free_symbols, value
from diffcheck.primitives.switching import Candidate
from diffcheck.sets import equation_text, product_of_roots_text, sign_carrier

#: a float sample this close to a boundary counts as on it (sign 0)
FLOAT_ZERO = 1e-9


@dataclass(frozen=True)
class Label:
    """A point of a set and whether the switch shows there (exact, or a float trial)."""

    point: dict
    active: bool
    exact: bool = True


def _sign(h: sp.Expr, label: Label, symbols: tuple[sp.Symbol, ...]) -> int | None:
    if label.exact:
        return sign_at(h, label.point)
    reading = value(compile_float(h, symbols), [label.point[s] for s in symbols])
    if reading is None:
        return None
    scale = 1 + max(abs(v) for v in label.point.values())
    return 0 if abs(reading) < FLOAT_ZERO * scale else (1 if reading > 0 else -1)


def where_text(kind: str, g: sp.Expr, comparisons: Sequence[SideComparison],
               others: Sequence[Candidate], concrete: Callable[[sp.Expr], sp.Expr], *,
               level_set: sp.Expr | None = None, in_play: Sequence[sp.Expr] = (),
               samples: Sequence[Label] = ()) -> str:
    """``g = 0``, narrowed to the part of the set where the loss shows ``kind``.

    ``comparisons`` are the exact ones made on the set (by every primitive switching on
    it); points showing another kind, or none, count as masked: ``x*floor(x)`` jumps at the
    integers but has a kink at 0, ``max(x**3, x**5)`` kinks at -1 and 1 only. ``samples`` are
    float-labelled points of the set (non-smooth or not). ``in_play`` are the switch's own
    conditions (a pair of a max must be the largest).
    """
    labels = [Label(c.point, c.kind == kind) for c in comparisons] + list(samples)
    active = [c for c in comparisons if c.kind == kind]
    inactive = [c for c in comparisons if c.kind != kind]
    variables = sorted(free_symbols(g), key=str)
    one_variable = len(variables) == 1 and all(len(c.point) == 1 for c in comparisons)
    if level_set is not None:
        return _levels_text(level_set, concrete(level_set), active, inactive)
    # In one variable the set is the points themselves: list them when some are masked, or
    # when g hides them inside max/min (clip's 'Max(-2, x) = 2' is just 'x = 2').
    if one_variable and (inactive or g.has(sp.Max, sp.Min)):
        (x,) = variables
        return product_of_roots_text(x, sorted({c.point[x] for c in active}, key=float))
    if all(label.active for label in labels) and not in_play:
        return equation_text(g)
    useful = _separating_conditions(labels, g, others, concrete, in_play)
    if useful is None:
        return equation_text(g)
    carrier = sign_carrier(g)
    if carrier.could_extract_minus_sign():
        carrier = -carrier
    bounds = " + ".join(f"Max(0, {-side * g_other})" for g_other, side in useful)
    return f"Abs({carrier}) + {bounds} = 0"


def _separating_conditions(labels: list[Label], g: sp.Expr, others: Sequence[Candidate],
                           concrete: Callable[[sp.Expr], sp.Expr],
                           in_play: Sequence[sp.Expr]) -> list[tuple[sp.Expr, int]] | None:
    """Boundaries (g_other, side) with every active point on ``side`` of each and every
    masked point on the wrong side of one; None when they cannot explain the labels."""
    symbols = tuple(sorted({s for label in labels for s in label.point}, key=str))
    active = [label for label in labels if label.active]
    inactive = [label for label in labels if not label.active]
    conditions: list[tuple[sp.Expr, sp.Expr, int]] = []
    # a set proposed by several primitives (a top-k router's masks repeat each tie of two
    # logits) is one condition: the first, which the greedy cover below would pick anyway
    seen: set[sp.Expr] = set()
    for other in others:
        h = concrete(other.g)
        if h in seen:
            continue
        seen.add(h)
        # points on the separating boundary itself (sign 0) belong to both closures
        signs = {_sign(h, label, symbols) for label in active} - {0}
        if signs == {1} or signs == {-1}:
            conditions.append((h, other.g, 1 if signs == {1} else -1))
    # the switch's own condition (a pair of a max must be the largest) is known exactly
    # (kept where the active points satisfy it: a point active for another primitive's
    # reason, min(clip(x, max=2), x % 1) jumping at x = 2 through the mod, does not)
    own = [(concrete(h), -h, -1) for h in in_play]
    own = [c for c in own if all(_sign(c[0], label, symbols) in (0, 1) for label in active)]
    inactive = [label for label in inactive
                if all(_sign(h, label, symbols) in (0, 1) for h, _, _ in own)]
    # greedy cover: fewest conditions that exclude every masked point, preferring those
    # that share a variable with g (the other arguments of the same max)
    signs_of = {id(c): [_sign(c[0], label, symbols) for label in inactive] for c in conditions}
    remaining = set(range(len(inactive)))
    useful: list[tuple[sp.Expr, int]] = []
    while remaining and conditions:
        def excluded_by(condition, left=frozenset(remaining)):
            return {i for i in left if signs_of[id(condition)][i] == -condition[2]}

        best = max(conditions, key=lambda c: (len(excluded_by(c)),
                                              bool(free_symbols(c[1]) & free_symbols(g))))
        newly = excluded_by(best)
        if not newly:
            break
        useful.append((best[1], best[2]))
        conditions.remove(best)
        remaining -= newly
    useful = [(g_other, side) for _, g_other, side in own] + useful
    if remaining or not useful:
        return None
    return useful


def _levels_text(u: sp.Expr, u_concrete: sp.Expr, active: list, inactive: list) -> str:
    """Where a floor-like switch shows: u an integer, or only some of the levels tried.

    sin(pi*u) rather than frac(u): it is continuous, so a point rounded to floats still reads
    as (nearly) on the set. Levels tried where the switch shows something else are left out
    (``x*floor(x)`` jumps at every integer but 0, where it has a kink).
    """
    def level(comparison: SideComparison) -> int:
        return round(float(u_concrete.xreplace(comparison.point)))

    shown = sorted({level(c) for c in active})
    hidden = sorted({level(c) for c in inactive} - set(shown))
    if not hidden:
        return f"sin({sp.pi * u}) = 0"
    if len(shown) < len(hidden):
        if len(shown) == 1:
            return equation_text(u - shown[0])
        return f"{sp.Mul(*[u - k for k in shown])} = 0"
    exclusions = " + ".join(f"Max(0, 1 - Abs({u - k}))" for k in hidden)
    return f"Abs(sin({sp.pi * u})) + {exclusions} = 0"
