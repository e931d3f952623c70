"""Candidate sets and the points where each is decided.

Every switching primitive of the loss proposes its sets ``g = 0`` (the table is
:data:`diffcheck.primitives.switching.SWITCHES`). A set is decided by comparing the two sides
of the loss (:func:`~diffcheck.analysis.sides.compare_sides`) at several of its points. A
set where the loss is flat on both sides at every point tried is *masked* there.

Points are picked in two rounds. First a few points solved exactly on the set
(:func:`diffcheck.sets.points_on_set`). When none of them shows the switch and the set has
several variables, the switch may be active only on part of it (the kink of ``min(p2, t2)``
in an IoU shows only where the intervals overlap): many cheap float trials on the set are
then screened for a non-smooth loss, and the promising ones are solved exactly and compared.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> [c.g for c in propose_candidates(sp.Abs(x - 1) + sp.Max(x, 0))]
[x - 1, -x]
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath as mp
import sympy as sp

from diffcheck.analysis.series import Unsupported
from diffcheck.analysis.sides import SideComparison, compare_sides
from diffcheck.numeric import (
    compile_expr,
    compile_float,
    evaluate,
    free_symbols,
    readings_along,
    to_mpf,
    value,
)
from diffcheck.primitives.switching import Candidate, candidates_of
from diffcheck.probe import looks_nonsmooth, one_sided_quotients
from diffcheck.sets import (
    common_zeros,
    points_on_rays,
    points_on_set,
    roots_on_line,
    same_set,
    vanishing_parts,
)

POINTS_PER_SET = 6
#: points on rays through the origin tried when the first points show no switch
RAY_POINTS = 3
#: float trials screened when the first points show no switch (bounded work per set)
SEARCH_TRIALS = 160
#: promising trial points compared exactly
SEARCH_COMPARISONS = 3
#: the scale of the random values the search tries for the other variables
SEARCH_SCALES = (1.0, 3.0, 0.3, 10.0)
#: float-labelled points gathered on a set whose switch is masked on part of it
LABELLED_POINTS = 80
#: a float trial this close to another set is not labelled (that set's switch would show)
CLEARANCE = 1e-4
#: random starts, rounds over the variables, and the reach of the grid of a descent onto a set
DESCENT_STARTS = 2
DESCENT_ROUNDS = 2
DESCENT_REACH = 10.0
#: how far off another set the points beside it are (exact: they are compared at DIGITS)
BESIDE_STEP = sp.Rational(1, 2**40)
#: points beside other sets compared when no other point shows the switch
BESIDE_COMPARISONS = 4
#: steps off other sets tried per set (bounded work where many sets meet, as in a sort)
BESIDE_TRIALS = 24
#: the other sets whose meeting with the set is solved for (besides the points that meet one)
MAX_CROSSINGS_MET = 4

KIND_RANK = {"jump": 0, "infinite-slope": 1, "kink": 2}


def propose_candidates(expr: sp.Expr) -> list[Candidate]:
    """Every candidate set of every switching primitive occurrence, innermost first."""
    candidates: list[Candidate] = []
    seen = set()
    for node in sp.postorder_traversal(expr):
        if node in seen:
            continue
        seen.add(node)
        candidates.extend(c for c in candidates_of(node) if free_symbols(c.g))
    return candidates


@dataclass
class CandidateOutcome:
    """The comparisons made on one candidate set."""

    candidate: Candidate
    comparisons: list[SideComparison] = field(default_factory=list)

    @property
    def active(self) -> list[SideComparison]:
        return [c for c in self.comparisons if c.active]

    @property
    def worst(self) -> SideComparison | None:
        active = self.active
        if not active:
            return None
        return min(active, key=lambda c: (c.order, KIND_RANK.get(c.kind or "", 9)))


#: below this, a set function at a point known to DIGITS digits counts as zero
SIGN_ZERO = mp.mpf("1e-25")


def sign_at(h: sp.Expr, point: dict) -> int | None:
    """The sign of ``h`` at a point (0 within rounding of the point's coordinates).

    Evaluated by the compiled function at the working precision: substituting the point
    into the tree makes SymPy re-evaluate every max and min of a real loss, seconds per call.
    """
    free = tuple(sorted(free_symbols(h), key=str))
    if any(s not in point for s in free):
        return None
    reading = evaluate(compile_expr(h, free), [point[s] for s in free])
    if reading is None:
        return None
    return 0 if abs(reading) < SIGN_ZERO else (1 if reading > 0 else -1)


def _rational_direction(gradient: dict) -> dict:
    scale = max(abs(v) for v in gradient.values())
    direction = {s: sp.Rational(round(float(v / scale) * 64), 64) for s, v in gradient.items()}
    return {s: c for s, c in direction.items() if c != 0}


def directions(g: sp.Expr, point: dict, symbols: Sequence[sp.Symbol],
               wrt: Sequence[sp.Symbol]) -> list[dict]:
    """The first wrt axis the set depends on, then the set's normal (projected on wrt).

    The normal is read numerically (symmetric quotients): ``g`` may itself hold floor,
    Heaviside or Mod, whose symbolic derivatives cannot be evaluated. Where it vanishes (a
    multiple root, ``x**3`` at 0) the wrt axes are used.
    """
    g_fn = compile_expr(g, tuple(symbols))
    gradient = {}
    for w in wrt:
        if w not in free_symbols(g):
            continue
        axis = {s: (1 if s == w else 0) for s in symbols}
        left, right, _ = one_sided_quotients(g_fn, symbols, point, axis, mp.mpf("1e-20"))
        if left is None or right is None:
            continue
        slope = (left + right) / 2
        if abs(slope) > mp.mpf("1e-12"):
            gradient[w] = slope
    if gradient:
        # crossing along one axis reads as users think ("the slope in f"); the normal
        # direction is the fallback when that axis point is not generic
        first_axis = {next(iter(gradient)): sp.Integer(1)}
        normal = _rational_direction(gradient)
        return [first_axis] if normal == first_axis else [first_axis, normal]
    return [{w: sp.Integer(1)} for w in wrt if w in free_symbols(g)]


def _compare_at(outcome: CandidateOutcome, loss, symbols, wrt, g, point,
                numeric: bool = True) -> SideComparison | None:
    """The first usable comparison at ``point`` (None: none); with ``numeric`` False, a
    point the expansions cannot decide raises Unsupported instead of being compared
    numerically."""
    for direction in directions(g, point, symbols, wrt):
        comparison = compare_sides(loss, symbols, point, direction, numeric=numeric)
        if comparison is not None:
            outcome.comparisons.append(comparison)
            return comparison
    return None


def _compare_all(outcome: CandidateOutcome, loss, symbols, wrt, g, points) -> None:
    """Compare at every point, exactly; the numeric fallback only at the points the
    expansions could not decide, and only when no exact comparison shows the switch (it
    differentiates the whole loss symbolically, which on a real loss takes seconds)."""
    undecided = []
    for point in points:
        try:
            _compare_at(outcome, loss, symbols, wrt, g, point, numeric=False)
        except Unsupported:
            undecided.append(point)
    if outcome.active:
        return
    for point in undecided:
        _compare_at(outcome, loss, symbols, wrt, g, point)


def crossing_sets(g: sp.Expr, other_sets: Sequence[sp.Expr]) -> list[sp.Expr]:
    """The sets of other primitives that may cross ``g = 0`` (not ``g = 0`` itself again)."""
    return [other for other in other_sets if not same_set(other, g)]


def decide_candidate(candidate: Candidate, loss: sp.Expr, symbols: Sequence[sp.Symbol],
                     wrt: Sequence[sp.Symbol], g: sp.Expr, other_sets: Sequence[sp.Expr],
                     seed: int) -> CandidateOutcome:
    """Compare the two sides of the loss at several points of ``g = 0``.

    Points where another candidate's set crosses this one are used only when there is no
    other point: there the other primitive's behaviour would be blamed on this one.
    """
    outcome = CandidateOutcome(candidate)
    if not (free_symbols(g) & set(wrt)):
        return outcome  # the set is never crossed by moving the wrt variables
    solve_order = [s for s in symbols if s in wrt] + [s for s in symbols if s not in wrt]
    parts = vanishing_parts(g)
    points = common_zeros(parts, symbols, solve_order, seed=seed, want=POINTS_PER_SET) \
        if parts and len(parts) > 1 else []
    solved = points_on_set(g, symbols, solve_order, seed=seed, want=POINTS_PER_SET)
    points += solved
    if not points and len(free_symbols(g)) > 1:
        points = descend_onto_set(g, symbols, seed)
    crossing = crossing_sets(g, other_sets)
    generic = [p for p in points if not any(sign_at(h, p) == 0 for h in crossing)]
    _compare_all(outcome, loss, symbols, wrt, g, generic or points)
    if not outcome.active and len(free_symbols(g)) > 1 and len(solved) < POINTS_PER_SET:
        # generic values rarely meet this set: a sphere (norm(x) = eps) is met only when all
        # the other variables are smaller than eps, but every ray from the origin crosses it
        on_rays = points_on_rays(g, symbols, seed=seed, want=RAY_POINTS)
        _compare_all(outcome, loss, symbols, wrt, g,
                     [p for p in on_rays if not any(sign_at(h, p) == 0 for h in crossing)])
    if not outcome.active and len(free_symbols(g)) > 1 and crossing:
        found = search_active_points(g, loss, symbols, solve_order, crossing, seed)
        _compare_all(outcome, loss, symbols, wrt, g, found)
    if not outcome.active and len(free_symbols(g)) > 1 and crossing:
        beside = points_beside_crossings(g, symbols, solve_order, crossing, points, seed)
        _compare_all(outcome, loss, symbols, wrt, g, beside)
    return outcome


# --- points of a set that random lines miss ------------------------------------------------


def descend_onto_set(g: sp.Expr, symbols: Sequence[sp.Symbol], seed: int) -> list[dict]:
    """A point of ``g = 0`` reached by moving one variable at a time towards the other sign.

    Random lines miss a set that needs several variables extreme at once: a clamp_min(eps)
    of a mean of softmax probabilities, ``(p1 + p2 + p3)/3 = eps``, is reached only where
    every term is small. From a random point each variable of ``g`` in turn goes to the value
    on a wide grid that takes ``g`` furthest towards the other sign, until one crosses; the
    crossing is then solved exactly along that variable (cheap float64 work, a few rounds).
    """
    variables = [s for s in symbols if s in free_symbols(g)]
    g_fn = compile_float(g, tuple(symbols))
    rng = random.Random(seed)
    found: list[dict] = []
    for scale in SEARCH_SCALES[:DESCENT_STARTS]:
        values = [rng.uniform(-scale, scale) for _ in symbols]
        start = value(g_fn, values)
        if start is None or start == 0:
            continue
        side = 1 if start > 0 else -1
        point = _descend(g, symbols, variables, values, side, 4 * DESCENT_REACH)
        if point is not None:
            found.append(point)
    return found


def _descend(g, symbols, variables, values, side, reach) -> dict | None:
    for _ in range(DESCENT_ROUNDS):
        for variable in variables:
            index = list(symbols).index(variable)
            grid = [reach * (2 * k / 63 - 1) + 0.01234567 for k in range(64)]
            readings = readings_along(g, tuple(symbols), values, index, grid)
            usable = [(r * side, x) for r, x in zip(readings, grid) if r is not None]
            if not usable:
                return None
            lowest, best = min(usable)
            values[index] = best
            if lowest < 0:
                roots = _float_roots(g, tuple(symbols), list(values), index, reach / 4)
                for root in sorted(roots, key=lambda r: abs(r - best)):
                    values[index] = root
                    point = _exact_point(g, symbols, variable, values)
                    if point is not None:
                        return point
                return None
    return None


# --- points of the set on each side of another switch's set --------------------------------


def points_beside_crossings(g: sp.Expr, symbols: Sequence[sp.Symbol],
                            solve_order: Sequence[sp.Symbol], crossing: Sequence[sp.Expr],
                            points: Sequence[dict], seed: int) -> list[dict]:
    """Points of ``g = 0`` just off each place where another set ``h = 0`` meets it, on both
    sides of ``h``: there every branch of the other switch is in play.

    Random points of a set can all fall where another switch is inactive when the part of
    the set where it is active is thin: ``max(eps, t + exp(f))`` switches where
    ``t + exp(f) = eps``, which needs ``t < eps``, and a mask ``where(t > 0, ...)`` keeps only
    ``0 < t < eps`` of it. Where the two sets meet (``t = 0``) both branches of the mask are
    arbitrarily close, so a step of BESIDE_STEP off ``h`` along the set reaches each.
    """
    unknown = next(s for s in solve_order if s in free_symbols(g))
    meetings = [p for p in points if any(sign_at(h, p) == 0 for h in crossing)]
    for h in crossing[:MAX_CROSSINGS_MET]:
        meetings.extend(_meeting_points(g, h, symbols, unknown, seed))
    found: list[dict] = []
    seen: set = set()
    steps = ((meeting, h, moved, side) for meeting in meetings for h in crossing
             if sign_at(h, meeting) == 0
             for moved in sorted(free_symbols(h) - {unknown}, key=str) for side in (1, -1))
    for meeting, h, moved, side in itertools.islice(steps, BESIDE_TRIALS):
        point = _step_along_set(g, symbols, unknown, meeting, moved, side)
        if point is None or sign_at(h, point) in (0, None):
            continue
        if any(sign_at(other, point) == 0 for other in crossing):
            continue
        key = tuple(sorted((str(k), str(v)) for k, v in point.items()))
        if key in seen:
            continue
        seen.add(key)
        found.append(point)
        if len(found) >= BESIDE_COMPARISONS:
            break
    return found


def _meeting_points(g: sp.Expr, h: sp.Expr, symbols: Sequence[sp.Symbol], unknown: sp.Symbol,
                    seed: int) -> list[dict]:
    """Points of ``h = 0`` moved onto ``g = 0`` along ``unknown`` (on both sets when ``h``
    does not hold ``unknown``)."""
    if unknown in free_symbols(h) or not (free_symbols(h) & free_symbols(g)):
        return []
    order = sorted(free_symbols(h), key=str)
    meetings = []
    for on_h in points_on_set(h, symbols, order, seed=seed, want=2):
        assignment = {s: v for s, v in on_h.items() if s != unknown}
        for root in roots_on_line(g, symbols, assignment, unknown)[:2]:
            meetings.append({**assignment, unknown: root})
    return meetings


def _step_along_set(g: sp.Expr, symbols: Sequence[sp.Symbol], unknown: sp.Symbol, point: dict,
                    moved: sp.Symbol, side: int) -> dict | None:
    """``point`` with ``moved`` stepped by BESIDE_STEP to ``side``, back on ``g = 0`` by
    solving for ``unknown`` (the root nearest the old one)."""
    step = BESIDE_STEP * (1 + int(abs(float(point[moved]))))  # relative to the coordinate
    assignment = {s: v for s, v in point.items() if s != unknown}
    assignment[moved] = point[moved] + side * step
    roots = roots_on_line(g, symbols, assignment, unknown)
    if not roots:
        return None
    target = float(point[unknown])
    root = min(roots, key=lambda r: abs(float(r) - target))
    return {**assignment, unknown: root}


# --- the search for points where a switch shows ------------------------------------------


def _float_roots(g: sp.Expr, symbols: tuple, values: list[float], index: int,
                 scale: float) -> list[float]:
    """Roots of g along one coordinate, by a sign scan and bisection (float64, cheap)."""
    grid = [scale * 4 * (2 * k / 63 - 1) + 0.01234567 * scale for k in range(64)]
    readings = readings_along(g, symbols, values, index, grid)
    roots = []
    for (a, fa), (b, fb) in zip(zip(grid, readings), zip(grid[1:], readings[1:])):
        if fa is None or fb is None or (fa > 0) == (fb > 0):
            continue
        g_fn = compile_float(g, symbols)  # compiled (once) only for a g with a bracket
        for _ in range(60):
            mid = (a + b) / 2
            values[index] = mid
            fm = value(g_fn, values)
            if fm is None:
                break
            if (fm > 0) == (fa > 0):
                a, fa = mid, fm
            else:
                b = mid
        values[index] = (a + b) / 2
        at_root = value(g_fn, values)
        if at_root is not None and abs(at_root) < 1e-9 * (1 + scale):
            roots.append((a + b) / 2)
    return roots


def _exact_point(g: sp.Expr, symbols: Sequence[sp.Symbol], unknown: sp.Symbol,
                 trial: list[float]) -> dict | None:
    """The trial point with simple rational coordinates, solved exactly on the set."""
    assignment = {s: sp.Rational(Fraction(v).limit_denominator(64).numerator,
                                 Fraction(v).limit_denominator(64).denominator)
                  for s, v in zip(symbols, trial) if s != unknown}
    roots = roots_on_line(g, symbols, assignment, unknown)
    if not roots:
        return None
    target = trial[list(symbols).index(unknown)]
    root = min(roots, key=lambda r: abs(float(r) - target))
    point = dict(assignment)
    point[unknown] = root
    return point


def search_active_points(g: sp.Expr, loss: sp.Expr, symbols: Sequence[sp.Symbol],
                         solve_order: Sequence[sp.Symbol], crossing: Sequence[sp.Expr],
                         seed: int) -> list[dict]:
    """Points of ``g = 0`` where the loss looks non-smooth, found by cheap float trials.

    Up to SEARCH_TRIALS random lines are solved in float64 and screened with
    :func:`diffcheck.probe.looks_nonsmooth`; the promising points (at most SEARCH_COMPARISONS) come back
    exact, away from the other sets.
    """
    unknown = next(s for s in solve_order if s in free_symbols(g))
    loss_fn = compile_float(loss, tuple(symbols))
    exact_loss = compile_expr(loss, tuple(symbols))
    found: list[dict] = []
    for values, index in _trial_points(g, symbols, solve_order, crossing, seed, SEARCH_TRIALS):
        if not looks_nonsmooth(loss_fn, values, index):
            continue
        point = _exact_point(g, symbols, unknown, values)
        if point is None or any(sign_at(h, point) == 0 for h in crossing):
            continue
        if evaluate(exact_loss, [to_mpf(point[s]) for s in symbols]) is None:
            continue
        found.append(point)
        if len(found) >= SEARCH_COMPARISONS:
            break
    return found

def _trial_points(g: sp.Expr, symbols: Sequence[sp.Symbol], solve_order: Sequence[sp.Symbol],
                  crossing: Sequence[sp.Expr], seed: int, trials: int):
    """Float points of ``g = 0`` away from the other sets: (values, index of the unknown)."""
    unknown = next(s for s in solve_order if s in free_symbols(g))
    index = list(symbols).index(unknown)
    others = [compile_float(h, tuple(symbols)) for h in crossing]
    rng = random.Random(seed)
    for trial_number in range(trials):
        scale = SEARCH_SCALES[trial_number % len(SEARCH_SCALES)]
        values = [rng.uniform(-scale, scale) for _ in symbols]
        for root in _float_roots(g, tuple(symbols), list(values), index, scale):
            values[index] = root
            clearance = CLEARANCE * (1 + max(abs(v) for v in values))
            near = [value(h, values) for h in others]
            if any(v is None or abs(v) < clearance for v in near):
                continue
            yield list(values), index
            break


def label_points(g: sp.Expr, loss: sp.Expr, symbols: Sequence[sp.Symbol],
                 solve_order: Sequence[sp.Symbol], crossing: Sequence[sp.Expr],
                 seed: int) -> list[tuple[dict, bool]]:
    """Float points of ``g = 0`` labelled by whether the loss looks non-smooth there.

    They let the masking find which boundaries of other primitives bound the part of the
    set where a switch shows, with far more points than exact comparisons could afford.
    """
    loss_fn = compile_float(loss, tuple(symbols))
    labelled = []
    for values, index in _trial_points(g, symbols, solve_order, crossing, seed + 1000,
                                       LABELLED_POINTS):
        if value(loss_fn, values) is None:
            continue
        labelled.append((dict(zip(symbols, values)), looks_nonsmooth(loss_fn, values, index)))
    return labelled
