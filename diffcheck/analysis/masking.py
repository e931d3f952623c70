"""Masking: the part of a candidate set where its switch actually shows.

A switch can be hidden under a flat branch of an enclosing one: in ``relu(abs(u) - 1)`` the
kink of abs at u = 0 is masked, and in ``abs(u)*relu(v)`` the kink of abs shows only where
v > 0. The comparisons made at several points of a set (active or not) decide which part to
report: in one variable the active points themselves, in several variables the set
narrowed by the boundaries of other primitives that separate the active points from the
masked ones (``Abs(u) + Max(0, -v) = 0`` for ``u = 0 and v >= 0``).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from diffcheck.analysis.candidates import CandidateOutcome, sign_at
from diffcheck.primitives.switching import Candidate
from diffcheck.sets import equation_text, product_of_roots_text, sign_carrier


def where_text(outcome: CandidateOutcome, kind: str, g: sp.Expr, others: list[Candidate],
               concrete: Callable[[sp.Expr], sp.Expr]) -> str:
    """``g = 0``, narrowed to the part of the set where the candidate shows ``kind``.

    Points where the switch shows another kind, or none, count as masked: ``x*floor(x)``
    jumps at the integers but has a kink at 0, ``max(x**3, x**5)`` kinks at -1 and 1 only.
    """
    candidate = outcome.candidate
    active = [c for c in outcome.comparisons if c.kind == kind]
    inactive = [c for c in outcome.comparisons if c.kind != kind]
    symbols = sorted(g.free_symbols, key=str)
    one_variable = len(symbols) == 1 and all(len(c.point) == 1 for c in outcome.comparisons)
    if candidate.level_set is not None:
        return _levels_text(candidate.level_set, concrete(candidate.level_set), active, inactive)
    # In one variable the set is the points themselves: list them when some are masked, or
    # when g hides them inside max/min (clip's 'Max(-2, x) = 2' is just 'x = 2').
    if one_variable and (inactive or g.has(sp.Max, sp.Min)):
        (x,) = symbols
        return product_of_roots_text(x, sorted({c.point[x] for c in active}, key=float))
    if not inactive and not candidate.in_play:
        return equation_text(g)
    # Several variables: look for another primitive's boundary that separates the active
    # points from the masked ones; the active part is then g = 0 on that side of them (max of
    # four arguments needs two: b = d >= a and b = d >= c).
    conditions = []
    for other in others:
        h = concrete(other.g)
        # Points on the separating boundary itself (sign 0) belong to both closures.
        signs_active = {sign_at(h, c.point) for c in active} - {0}
        if len(signs_active) == 1 and None not in signs_active:
            conditions.append((h, other.g, signs_active.pop()))
    # The switch's own condition (a pair of a max must be the largest) is known exactly.
    own = [(concrete(h), -h, -1) for h in candidate.in_play]
    inactive = [c for c in inactive if all(sign_at(h, c.point) in (0, 1) for h, _, _ in own)]
    # Greedy cover: fewest conditions that exclude every masked point, preferring those
    # that share a variable with g (the other arguments of the same max).
    remaining = list(range(len(inactive)))
    useful = []
    while remaining and conditions:
        def excluded_by(condition):
            h, _, side = condition
            return [i for i in remaining if sign_at(h, inactive[i].point) == -side]

        best = max(conditions, key=lambda c: (len(excluded_by(c)), bool(c[1].free_symbols & g.free_symbols)))
        newly = excluded_by(best)
        if not newly:
            break
        useful.append((best[1], best[2]))
        conditions.remove(best)
        remaining = [i for i in remaining if i not in newly]
    useful = [(g_other, side) for _, g_other, side in own] + useful
    if useful and not remaining:
        carrier = sign_carrier(g)
        if carrier.could_extract_minus_sign():
            carrier = -carrier
        bounds = " + ".join(f"Max(0, {-side * g_other})" for g_other, side in useful)
        return f"Abs({carrier}) + {bounds} = 0"
    return equation_text(g)


def _levels_text(u: sp.Expr, u_concrete: sp.Expr, active: list, inactive: list) -> str:
    """Where a floor-like switch shows: u an integer, or only some of the levels tried.

    sin(pi*u) rather than frac(u): it is continuous, so a point rounded to floats still reads
    as (nearly) on the set. Levels tried where the switch shows something else are left out
    (``x*floor(x)`` jumps at every integer but 0, where it has a kink).
    """
    def level(comparison) -> int:
        return int(round(float(u_concrete.xreplace(comparison.point))))

    shown = sorted({level(c) for c in active})
    hidden = sorted({level(c) for c in inactive} - set(shown))
    every = f"sin({sp.pi * u}) = 0"
    if not hidden:
        return every
    if len(shown) < len(hidden):
        return equation_text(u - shown[0]) if len(shown) == 1 else f"{sp.Mul(*[u - k for k in shown])} = 0"
    exclusions = " + ".join(f"Max(0, 1 - Abs({u - k}))" for k in hidden)
    return f"Abs(sin({sp.pi * u})) + {exclusions} = 0"
