"""The analysis: candidate sets, one-sided branch comparison, masking, smoothness class.

Every primitive with a boundary (abs, max/min, sign, Heaviside, floor, Piecewise conditions,
fractional powers at 0) splits space by a set ``g = 0``. Near a point of that set the whole
loss is *localized* on each side: every switching primitive is replaced by the branch that
is active there, giving two smooth expressions L+ and L-. Comparing their one-sided limits
order by order decides everything at once:

* values differ: a jump;
* first derivatives differ: a kink (or infinite: an infinite slope);
* the k-th derivatives differ first: the loss is C^(k-1) there;
* never: no finding (cancellation, ``abs(u)**4``; masking, ``relu(abs(u) - 1)`` at 0).

Several random points per set decide which part of a set is active (masking in several
variables); the probe then checks each finding numerically on the original expression.

>>> from diffcheck.api import check
>>> [(f.kind, f.where) for f in check("relu(abs(u) - 1)").findings]
[('kink', 'Abs(u) = 1')]
>>> check("sign(u)*u**4").smoothness
'C3'
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import mpmath as mp
import sympy as sp

from diffcheck import probe as probing
from diffcheck.model import Finding, Report
from diffcheck.numeric import DIGITS, TINY, compile_expr, concrete_model_functions, evaluate, to_mpf
from diffcheck.parser import ParsedExpression
from diffcheck.rules import NON_DIFFERENTIABLE_KINDS, rule_for
from diffcheck.sets import (
    equation_text,
    points_on_set,
    product_of_roots_text,
    same_set,
    sign_carrier,
)

#: highest derivative order compared; agreement up to it counts as C-infinity
MAX_ORDER = 8
#: distance of the side points that pick each side's branches
SIDE_STEP = mp.mpf("1e-15")
#: the two distances at which one-sided limits of derivatives are read
LIMIT_STEPS = (mp.mpf("1e-22"), mp.mpf("1e-32"))
#: the integers k whose sets u = k stand for all jumps of floor(u)
FLOOR_LEVELS = (0, 1, -1, 2)
POINTS_PER_SET = 6
#: beyond this many candidate sets (a max of 30 arguments has 435) the analysis stops
MAX_CANDIDATES = 250

KIND_RANK = {"jump": 0, "infinite-slope": 1, "kink": 2}


class AnalysisLimit(Exception):
    """The expression is too large to analyse in bounded time: an error of kind "limit"."""


class Ambiguous(Exception):
    """A side point fell on another primitive's boundary: that point is not generic."""


# --------------------------------------------------------------------------------------
# Candidates: a table keyed by the primitive's SymPy class
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A set ``g = 0`` where ``node`` (a primitive of ``family``) may be non-smooth."""

    node: sp.Expr
    family: str  # abs | max | step | floor | piecewise | power
    g: sp.Expr
    #: for floor-like primitives: the set is g = k for integers k; ``g`` is one level
    level_set: sp.Expr | None = None
    #: expressions h >= 0 where this switch is in play at all (a pair of a max must be the
    #: largest: max(a, b, c) switches between a and b only where a = b >= c)
    in_play: tuple = ()


def _abs_candidates(node):
    return [Candidate(node, "abs", node.args[0])]


def _max_candidates(node):
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


def _step_candidates(node):
    return [Candidate(node, "step", node.args[0])]


def _floor_candidates(node):
    inner = node.args[0]
    return [Candidate(node, "floor", inner - k, level_set=inner) for k in FLOOR_LEVELS]


def _mod_candidates(node):
    inner = node.args[0] / node.args[1]
    return [Candidate(node, "floor", inner - k, level_set=inner) for k in FLOOR_LEVELS]


def _piecewise_candidates(node):
    values = [pair.expr for pair in node.args]
    family = "step" if all(v.is_number for v in values) else "piecewise"
    relationals = set()
    for pair in node.args:
        if isinstance(pair.cond, sp.Basic) and pair.cond not in (sp.true, sp.false):
            relationals |= pair.cond.atoms(sp.core.relational.Relational)
    return [Candidate(node, family, rel.lhs - rel.rhs) for rel in sorted(relationals, key=str)]


def _power_candidates(node):
    base, exponent = node.args
    if exponent.is_Rational and not exponent.is_integer and exponent > 0 and base.free_symbols:
        return [Candidate(node, "power", base)]
    return []


CANDIDATES: dict[type, Callable[[sp.Expr], list[Candidate]]] = {
    sp.Abs: _abs_candidates,
    sp.Max: _max_candidates,
    sp.Min: _max_candidates,
    sp.sign: _step_candidates,
    sp.Heaviside: _step_candidates,
    sp.floor: _floor_candidates,
    sp.ceiling: _floor_candidates,
    sp.Mod: _mod_candidates,
    sp.Piecewise: _piecewise_candidates,
    sp.Pow: _power_candidates,
}


def propose_candidates(expr: sp.Expr) -> list[Candidate]:
    """Every candidate set of every primitive occurrence, innermost first."""
    candidates: list[Candidate] = []
    seen = set()
    for node in sp.postorder_traversal(expr):
        handler = CANDIDATES.get(type(node))
        if handler is None or node in seen:
            continue
        seen.add(node)
        candidates.extend(c for c in handler(node) if c.g.free_symbols)
    return candidates


# --------------------------------------------------------------------------------------
# Localization: each switching primitive replaced by its branch active at a point
# --------------------------------------------------------------------------------------


class Localizer:
    """Replaces switching primitives by the branch active at one numeric point."""

    def __init__(self, symbols: Sequence[sp.Symbol], values: dict):
        self.symbols = tuple(symbols)
        self.point = [values[s] for s in self.symbols]
        self.memo: dict = {}

    def value(self, expr: sp.Expr):
        if expr.is_number:
            return to_mpf(expr) if expr.is_real else None
        result = evaluate(compile_expr(expr, self.symbols), self.point)
        return result

    def sign_of(self, expr: sp.Expr) -> int:
        v = self.value(expr)
        if v is None:
            raise Ambiguous("undefined")
        if abs(v) < TINY:
            raise Ambiguous("on a boundary")
        return 1 if v > 0 else -1

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        if expr.is_Atom or not expr.args:
            return expr
        if expr in self.memo:
            return self.memo[expr]
        handler = LOCALIZERS.get(type(expr))
        if handler is not None:
            result = handler(self, expr)
        else:
            args = [self(a) for a in expr.args]
            result = expr.func(*args)
        self.memo[expr] = result
        return result

    def truth(self, condition) -> bool:
        if condition in (sp.true, True):
            return True
        if condition in (sp.false, False):
            return False
        replacements = {}
        for rel in condition.atoms(sp.core.relational.Relational):
            v = self.value(rel.lhs - rel.rhs)
            if v is None:
                raise Ambiguous("undefined condition")
            if isinstance(rel, (sp.Eq, sp.Ne)):
                holds = abs(v) < TINY
                replacements[rel] = sp.true if holds == isinstance(rel, sp.Eq) else sp.false
                continue
            if abs(v) < TINY:
                raise Ambiguous("on a condition boundary")
            lhs_bigger = v > 0
            holds = lhs_bigger if isinstance(rel, (sp.StrictGreaterThan, sp.GreaterThan)) else not lhs_bigger
            replacements[rel] = sp.true if holds else sp.false
        return bool(condition.xreplace(replacements))


def _localize_abs(loc: Localizer, node):
    inner = loc(node.args[0])
    return inner if loc.sign_of(node.args[0]) > 0 else -inner


def _localize_extremum(loc: Localizer, node):
    args = list(node.args)
    values = [loc.value(a) for a in args]
    if any(v is None for v in values):
        raise Ambiguous("undefined argument")
    pick_max = isinstance(node, sp.Max)
    order = sorted(range(len(args)), key=lambda i: values[i], reverse=pick_max)
    best = loc(args[order[0]])
    if len(order) > 1 and abs(values[order[0]] - values[order[1]]) < TINY:
        # A tie between branches that are the same locally (two constants: relu(step(x))
        # where the step is 0) is no switch; any other tie means the point is not generic.
        if loc(args[order[1]]) != best:
            raise Ambiguous("tie")
    return best


def _localize_sign(loc: Localizer, node):
    return sp.Integer(loc.sign_of(node.args[0]))


def _localize_heaviside(loc: Localizer, node):
    return sp.Integer(1 if loc.sign_of(node.args[0]) > 0 else 0)


def _integer_part(loc: Localizer, inner: sp.Expr, round_up: bool) -> sp.Integer:
    local_inner = loc(inner)
    if local_inner.is_number:
        # Locally constant (floor(y) % 2): exact, even when it sits on an integer.
        return sp.ceiling(local_inner) if round_up else sp.floor(local_inner)
    v = loc.value(inner)
    if v is None:
        raise Ambiguous("undefined")
    nearest = mp.nint(v)
    if abs(v - nearest) < TINY:
        raise Ambiguous("at an integer")
    return sp.Integer(int(mp.ceil(v) if round_up else mp.floor(v)))


def _localize_floor(loc: Localizer, node):
    return _integer_part(loc, node.args[0], round_up=False)


def _localize_ceiling(loc: Localizer, node):
    return _integer_part(loc, node.args[0], round_up=True)


def _localize_mod(loc: Localizer, node):
    a, b = node.args
    return loc(a) - loc(b) * _integer_part(loc, a / b, round_up=False)


def _localize_piecewise(loc: Localizer, node):
    for pair in node.args:
        if loc.truth(pair.cond):
            return loc(pair.expr)
    raise Ambiguous("no branch applies")


LOCALIZERS: dict[type, Callable[[Localizer, sp.Expr], sp.Expr]] = {
    sp.Abs: _localize_abs,
    sp.Max: _localize_extremum,
    sp.Min: _localize_extremum,
    sp.sign: _localize_sign,
    sp.Heaviside: _localize_heaviside,
    sp.floor: _localize_floor,
    sp.ceiling: _localize_ceiling,
    sp.Mod: _localize_mod,
    sp.Piecewise: _localize_piecewise,
}


# --------------------------------------------------------------------------------------
# Comparing the two sides of a set at one point
# --------------------------------------------------------------------------------------


@dataclass
class SideComparison:
    """What the two one-sided branches of the loss do at one point, along one direction."""

    point: dict
    direction: dict
    kind: str | None  # jump | infinite-slope | kink | None
    order: int | None  # first derivative order that differs (0 = value); None: none up to MAX_ORDER
    left_slope: float | None = None
    right_slope: float | None = None
    #: a jump of the value at the point alone (where(u == 0, 1, u)): a difference probe at a
    #: rounded point cannot see it, so the probe does not clear it
    removable: bool = False

    @property
    def active(self) -> bool:
        return self.order is not None


def _directional_derivative(expr: sp.Expr, direction: dict) -> sp.Expr:
    return sp.Add(*[c * sp.diff(expr, s) for s, c in direction.items() if c != 0])


def _one_sided_limit(expr, symbols, point, direction, side):
    """lim of expr(point + t*direction) as t -> 0 from ``side``: (value, 'finite'|'infinite'|'undefined')."""
    fn = compile_expr(expr, symbols)
    readings = []
    for t in LIMIT_STEPS:
        shifted = [to_mpf(point[s]) + side * t * to_mpf(direction.get(s, 0)) for s in symbols]
        readings.append(evaluate(fn, shifted))
    near, nearer = readings
    if near is None or nearer is None:
        return None, "undefined"
    with mp.workdps(DIGITS):
        if abs(near - nearer) <= mp.mpf("1e-12") * (1 + abs(near)):
            return nearer, "finite"
        if abs(nearer) > abs(near):
            return nearer, "infinite"
    return nearer, "finite"


def _differ(a, b) -> bool:
    return abs(a - b) > mp.mpf("1e-9") * (1 + abs(a) + abs(b))


def compare_sides(
    loss: sp.Expr, symbols: Sequence[sp.Symbol], point: dict, direction: dict, singular: bool
) -> SideComparison | None:
    """Localize ``loss`` on both sides of ``point`` along ``direction`` and compare branches.

    ``singular`` says the point is a root of a fractional power, where one local expression
    may itself be non-smooth; then identical sides do not mean "smooth".
    """
    if evaluate(compile_expr(loss, tuple(symbols)), [point[s] for s in symbols]) is None:
        return None  # the point is outside the loss's domain: nothing to differentiate there
    local = {}
    for side in (1, -1):
        values = {s: to_mpf(point[s]) + side * SIDE_STEP * to_mpf(direction.get(s, 0)) for s in symbols}
        if evaluate(compile_expr(loss, tuple(symbols)), [values[s] for s in symbols]) is None:
            local[side] = None
            continue
        try:
            local[side] = Localizer(symbols, values)(loss)
        except Ambiguous:
            return None
    if local[1] is None and local[-1] is None:
        return None
    comparison = SideComparison(point, direction, None, None)
    # Identical sides mean "smooth" only where the local expression is itself regular at the
    # point: x*sin(1/x) is the same on both sides of 0 and still has no derivative there.
    for side in (1, -1):
        if local[side] is not None and not singular:
            at_point = evaluate(compile_expr(local[side], tuple(symbols)), [point[s] for s in symbols])
            singular = at_point is None
    value_here = _exact_value(loss, point)
    current = dict(local)
    for order in range(MAX_ORDER + 1):
        limits = {}
        for side in (1, -1):
            if current[side] is None:
                limits[side] = (None, "undefined")
            else:
                limits[side] = _one_sided_limit(current[side], symbols, point, direction, side)
        statuses = {limits[s][1] for s in (1, -1)}
        finite = [limits[s][0] for s in (1, -1) if limits[s][1] == "finite"]
        if order == 1:
            comparison.right_slope = _as_float(limits[1])
            comparison.left_slope = _as_float(limits[-1])
        if "infinite" in statuses:
            comparison.order = order
            comparison.kind = "jump" if order == 0 else "infinite-slope" if order == 1 else None
            return comparison
        differs = len(finite) == 2 and _differ(*finite)
        if order == 0 and value_here is not None and any(_differ(v, value_here) for v in finite):
            comparison.removable = not differs  # the sides agree; only the point itself differs
            differs = True
        if differs:
            comparison.order = order
            comparison.kind = "jump" if order == 0 else "kink" if order == 1 else None
            return comparison
        if not singular and current[1] is not None and current[1] == current[-1]:
            return comparison
        current = {
            s: None if current[s] is None else _directional_derivative(current[s], direction)
            for s in (1, -1)
        }
    return comparison


def _as_float(limit):
    value, status = limit
    if status == "finite":
        return float(value)
    if status == "infinite":
        return float("inf") if value > 0 else float("-inf")
    return None


def _exact_value(loss: sp.Expr, point: dict):
    """The loss's own value at the point (it can differ from both sides: ``where(u == 0, 1, u)``)."""
    try:
        value = loss.xreplace(point)
        if not value.is_number:
            return None
        value = sp.N(value, DIGITS)
        if not value.is_real or not value.is_finite:
            return None
        return to_mpf(value)
    except (TypeError, ValueError, ArithmeticError):
        return None


# --------------------------------------------------------------------------------------
# Deciding one candidate: several points, masking, the `where` set
# --------------------------------------------------------------------------------------


@dataclass
class CandidateOutcome:
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


def _rational_direction(gradient: dict) -> dict:
    scale = max(abs(v) for v in gradient.values())
    direction = {}
    for s, v in gradient.items():
        ratio = float(v / scale)
        direction[s] = sp.Rational(round(ratio * 64), 64)
    return {s: c for s, c in direction.items() if c != 0}


def _directions(g: sp.Expr, point: dict, symbols, wrt: Sequence[sp.Symbol]) -> list[dict]:
    """The normal of the set projected on the wrt variables, or the wrt axes where it vanishes.

    The normal is read numerically (symmetric quotients at a tiny step): ``g`` may itself
    hold floor, Heaviside or Mod, whose symbolic derivatives cannot be evaluated.
    """
    g_fn = compile_expr(g, tuple(symbols))
    base = [to_mpf(point[s]) for s in symbols]
    step = mp.mpf("1e-20")
    gradient = {}
    for w in wrt:
        if w not in g.free_symbols:
            continue
        i = symbols.index(w)
        ahead = evaluate(g_fn, [b + step if j == i else b for j, b in enumerate(base)])
        behind = evaluate(g_fn, [b - step if j == i else b for j, b in enumerate(base)])
        if ahead is None or behind is None:
            continue
        slope = (ahead - behind) / (2 * step)
        if abs(slope) > mp.mpf("1e-12"):
            gradient[w] = slope
    if gradient:
        # Crossing along one axis reads as users think ("the slope in f"); the normal
        # direction is the fallback when that axis point is not generic.
        first_axis = {next(iter(gradient)): sp.Integer(1)}
        normal = _rational_direction(gradient)
        return [first_axis] if normal == first_axis else [first_axis, normal]
    return [{w: sp.Integer(1)} for w in wrt if w in g.free_symbols]


def decide_candidate(candidate, loss, symbols, wrt, g_concrete, other_sets, seed) -> CandidateOutcome:
    """Compare the two sides of the loss at several points of ``g = 0``.

    Points where another candidate's set crosses this one are used only when there is no
    other point: there the other primitive's behaviour would be blamed on this one.
    """
    outcome = CandidateOutcome(candidate)
    if not (g_concrete.free_symbols & set(wrt)):
        return outcome  # the set is never crossed by moving the wrt variables
    solve_order = [s for s in symbols if s in wrt] + [s for s in symbols if s not in wrt]
    points = points_on_set(g_concrete, symbols, solve_order, seed=seed, want=POINTS_PER_SET)
    crossing = [other for other in other_sets if not same_set(other, g_concrete)]
    generic = [p for p in points if not any(_sign_at(h, p) == 0 for h in crossing)]
    points = generic or points
    singular = candidate.family == "power"
    for point in points:
        for direction in _directions(g_concrete, point, symbols, wrt):
            comparison = compare_sides(loss, symbols, point, direction, singular)
            if comparison is not None:
                outcome.comparisons.append(comparison)
                break
    return outcome


def where_text(outcome: CandidateOutcome, g: sp.Expr, others: list[Candidate], concrete) -> str:
    """``g = 0``, narrowed to the part of the set where the candidate is active."""
    candidate = outcome.candidate
    if candidate.family == "floor":
        # u is an integer. sin(pi*u) rather than frac(u): it is continuous, so a point
        # rounded to floats still reads as (nearly) on the set.
        return f"sin({sp.pi * candidate.level_set}) = 0"
    active = outcome.active
    inactive = [c for c in outcome.comparisons if not c.active]
    symbols = sorted(g.free_symbols, key=str)
    one_variable = len(symbols) == 1 and all(len(c.point) == 1 for c in outcome.comparisons)
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
        signs_active = {_sign_at(h, c.point) for c in active} - {0}
        if len(signs_active) == 1 and None not in signs_active:
            conditions.append((h, other.g, signs_active.pop()))
    # The switch's own condition (a pair of a max must be the largest) is known exactly.
    own = [(concrete(h), -h, -1) for h in candidate.in_play]
    inactive = [c for c in inactive if all(_sign_at(h, c.point) in (0, 1) for h, _, _ in own)]
    # Greedy cover: fewest conditions that exclude every masked point, preferring those
    # that share a variable with g (the other arguments of the same max).
    remaining = list(range(len(inactive)))
    useful = []
    while remaining and conditions:
        def excluded_by(condition):
            h, _, side = condition
            return [i for i in remaining if _sign_at(h, inactive[i].point) == -side]

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


def _sign_at(h, point):
    try:
        v = sp.N(h.xreplace(point), 30)
        if not v.is_real:
            return None
        return 0 if abs(v) < 1e-25 else (1 if v > 0 else -1)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# Poles, domains, zero gradient
# --------------------------------------------------------------------------------------


def _singular_arguments(expr: sp.Expr):
    """(node, argument, needs_positive, can_pole) for log and powers."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.log):
            yield node, node.args[0], True, True
        elif isinstance(node, sp.Pow) and node.args[1].is_number and node.args[0].free_symbols:
            base, exponent = node.args
            if not exponent.is_real:
                continue
            fractional = not exponent.is_integer
            if exponent.is_negative:
                yield node, base, fractional, True
            elif fractional:
                yield node, base, True, False
        elif isinstance(node, sp.tan):
            yield node, sp.cos(node.args[0]), False, True


def _undefined_where_negative(u_concrete, symbols, loss_fn, seed) -> bool:
    """Whether some sampled point has ``u < 0`` and the loss itself undefined there.

    The loss must be undefined too: in ``where(x > 0, log(x), 0)`` log never sees x < 0.
    """
    if u_concrete.is_nonnegative:
        return False
    fn = compile_expr(u_concrete, tuple(symbols))
    rng = random.Random(seed)
    for scale in (1, 3, 10, 100):
        for _ in range(12):
            values = [rng.uniform(-scale, scale) for _ in symbols]
            v = evaluate(fn, values)
            if v is not None and v < 0 and evaluate(loss_fn, values) is None:
                return True
    return False


def domain_findings(parsed: ParsedExpression, concrete, symbols, loss_fn, seed) -> list[Finding]:
    """Warnings: where log, roots and divisions leave the real domain or blow up."""
    findings: list[Finding] = []
    seen = set()
    for node, argument, needs_positive, can_pole in _singular_arguments(parsed.expr):
        if (node, argument) in seen:
            continue
        seen.add((node, argument))
        u = concrete(argument)
        if not u.free_symbols or u.is_positive:
            continue
        where = equation_text(argument)
        quoted = parsed.snippets.get(node, node)
        column = parsed.spans.get(node)
        undefined_negative = needs_positive and _undefined_where_negative(u, symbols, loss_fn, seed)
        if undefined_negative:
            rule = rule_for("domain")
            need = "> 0" if can_pole else ">= 0"
            findings.append(Finding(
                rule.code, "domain",
                f"{quoted} is undefined where {argument} < 0 (it needs {argument} {need})",
                str(node), where, column=column,
            ))
        if can_pole:
            zeros = points_on_set(u, symbols, symbols, seed=seed, want=2)
            if any(_blows_up(loss_fn, symbols, point, u) for point in zeros):
                rule = rule_for("pole")
                findings.append(Finding(
                    rule.code, "pole", f"{quoted} is unbounded near {where}", str(node), where,
                    confirmed=True, column=column,
                ))
            elif not undefined_negative and any(evaluate(loss_fn, [p[x] for x in symbols]) is None for p in zeros):
                # Bounded but undefined there (x/abs(x) at 0): a hole in the domain.
                rule = rule_for("domain")
                findings.append(Finding(
                    rule.code, "domain", f"{parsed.source.strip()} is undefined where {where}",
                    str(node), where, column=column,
                ))
    return findings


def _blows_up(loss_fn, symbols, point, u) -> bool:
    gradient = {s: sp.diff(u, s) for s in symbols}
    for s in symbols:
        direction = {t: (1 if t == s else 0) for t in symbols}
        if gradient[s] == 0:
            continue
        for side in (1, -1):
            readings = []
            for t in (mp.mpf("1e-8"), mp.mpf("1e-16"), mp.mpf("1e-24")):
                readings.append(evaluate(loss_fn, [to_mpf(point[x]) + side * t * direction[x] for x in symbols]))
            # Unbounded: |L| keeps growing as the point is approached (even as slowly as log).
            if None not in readings and all(
                abs(b) > abs(a) + 1 for a, b in zip(readings, readings[1:])
            ):
                return True
    return False


def has_zero_gradient(loss, symbols, w, seed) -> bool:
    """True when the local derivative in ``w`` vanishes at every sampled generic point."""
    rng = random.Random(seed)
    seen_points = 0
    for scale in (1, 10, 100):
        for _ in range(4):
            values = {s: mp.mpf(rng.uniform(-scale, scale)) for s in symbols}
            try:
                local = Localizer(symbols, values)(loss)
            except Ambiguous:
                continue
            derivative = sp.diff(local, w)
            if derivative == 0:
                seen_points += 1
                continue
            v = evaluate(compile_expr(derivative, tuple(symbols)), [values[s] for s in symbols])
            if v is None:
                continue
            if abs(v) > TINY:
                return False
            seen_points += 1
    return seen_points >= 3


# --------------------------------------------------------------------------------------
# The whole analysis
# --------------------------------------------------------------------------------------

KIND_WORDS = {"kink": "a kink", "jump": "a jump", "infinite-slope": "an infinite slope"}

#: what autodiff frameworks return at the non-smooth point, keyed by primitive family
AUTODIFF_CONVENTIONS = {
    "abs": "PyTorch returns abs'(0) = 0, JAX 1.",
    "max": "PyTorch returns relu'(0) = 0; torch.maximum/jnp.maximum split ties 0.5/0.5.",
    "step": "Autodiff returns gradient 0 on both sides: no training signal.",
    "floor": "floor/round/ceil backpropagate 0 everywhere in PyTorch and JAX.",
    "piecewise": "torch.where backpropagates only through the selected branch.",
    "power": "sqrt'(0) is inf in PyTorch and JAX: the gradient turns into inf/NaN.",
}


def _cause_family_for_kind(candidate: Candidate, kind: str) -> str:
    if candidate.family == "power" and kind == "infinite-slope":
        return "root"
    return candidate.family


def analyze(parsed: ParsedExpression, report: Report, *, smooth_scale: float = 0.01) -> None:
    """Fill ``report`` (verdict, smoothness, gradient, findings, surrogate) for ``parsed``."""
    # Every numeric step works at DIGITS precision: points are shifted by 1e-32.
    with mp.workdps(DIGITS):
        _analyze(parsed, report, smooth_scale)


def _analyze(parsed: ParsedExpression, report: Report, smooth_scale: float) -> None:
    from diffcheck import surrogates as smoothing

    expr = parsed.expr
    symbols = [sp.Symbol(name, real=True) for name in parsed.variables]
    wrt = [s for s in symbols if s.name in report.wrt]
    concrete = concrete_model_functions
    loss = concrete(expr)
    loss_fn = compile_expr(loss, tuple(symbols))
    report.assumptions = [
        f"{name} is a model function, assumed differentiable (C-infinity) in its arguments"
        for name in parsed.model_functions
    ]
    report.gradient = {w.name: _gradient_text(expr, w) for w in wrt}

    candidates = propose_candidates(expr)
    if len(candidates) > MAX_CANDIDATES:
        raise AnalysisLimit(
            f"{len(candidates)} candidate sets (limit {MAX_CANDIDATES}): too many non-smooth "
            "primitives to analyse one by one"
        )
    findings: list[Finding] = []
    nonsmooth_nodes: list[sp.Expr] = []  # every primitive that is non-smooth somewhere
    finding_nodes: list[sp.Expr] = []  # the primitive of each reported finding
    worst_order: int | None = None
    jump_causes: dict = {}  # wrt symbol -> jump primitives whose set it crosses
    reported_sets: list = []
    outcomes: dict = {}
    for index, candidate in enumerate(candidates):
        g_concrete = concrete(candidate.g)
        other_sets = [concrete(c.g) for c in candidates if c.node != candidate.node]
        outcome = decide_candidate(candidate, loss, symbols, wrt, g_concrete, other_sets, seed=index + 1)
        # The levels u = k of one floor are one set (u an integer): decide them together.
        key = (candidate.node, candidate.level_set) if candidate.level_set is not None else index
        if key in outcomes:
            outcomes[key].comparisons.extend(outcome.comparisons)
        else:
            outcomes[key] = outcome
    for outcome in outcomes.values():
        candidate = outcome.candidate
        g_concrete = concrete(candidate.g if candidate.level_set is None else candidate.level_set)
        worst = outcome.worst
        if worst is None:
            continue
        if worst.kind is None:
            worst_order = worst.order if worst_order is None else min(worst_order, worst.order)
            continue
        others = [c for c in candidates if c.g != candidate.g]
        where = where_text(outcome, candidate.g, others, concrete)
        check = probing.probe(loss_fn, symbols, worst.point, worst.direction)
        if check.saw == "smooth" and not worst.removable:
            continue  # the probe has the last word on the points it tests
        worst_order = worst.order if worst_order is None else min(worst_order, worst.order)
        if worst.kind == "jump":
            for symbol in g_concrete.free_symbols:
                jump_causes.setdefault(symbol, []).append(candidate.node)
        if candidate.node not in nonsmooth_nodes:
            nonsmooth_nodes.append(candidate.node)
        set_g = candidate.level_set if candidate.level_set is not None else candidate.g
        if any(kind == worst.kind and same_set(set_g, seen) for kind, seen in reported_sets):
            continue  # two primitives switching on one set (abs(x) + relu(x)) are one finding
        reported_sets.append((worst.kind, set_g))
        family = _cause_family_for_kind(candidate, worst.kind)
        rule = rule_for(worst.kind, family)
        finding = Finding(
            code=rule.code,
            kind=worst.kind,
            message=f"{parsed.snippets.get(candidate.node, candidate.node)} has "
            f"{KIND_WORDS[worst.kind]} where "
            + (f"{candidate.level_set} is an integer" if candidate.level_set is not None else where),
            cause=str(candidate.node),
            where=where,
            confirmed=None if worst.removable and check.saw == "smooth" else check.confirms(worst.kind),
            probe=check.to_dict(),
            autodiff=_autodiff_note(candidate, worst),
            column=parsed.spans.get(candidate.node),
        )
        findings.append(finding)
        finding_nodes.append(candidate.node)

    for w in wrt:
        if w in jump_causes and has_zero_gradient(loss, symbols, w, seed=7):
            rule = rule_for("zero-gradient")
            cause = jump_causes[w][0]
            findings.append(
                Finding(rule.code, "zero-gradient",
                        f"the derivative of {parsed.source.strip()} with respect to {w} is zero "
                        f"almost everywhere ({parsed.snippets.get(cause, cause)} is piecewise "
                        "constant): gradient descent gets no signal",
                        str(cause), None, confirmed=True, column=parsed.spans.get(cause))
            )
    findings.extend(domain_findings(parsed, concrete, symbols, loss_fn, seed=11))

    non_smooth = [f for f in findings if f.kind in NON_DIFFERENTIABLE_KINDS]
    report.differentiable = not non_smooth
    report.smoothness = _smoothness(findings, worst_order)
    for finding, node in zip(non_smooth, finding_nodes):
        finding.surrogates = smoothing.surrogates_for(node, smooth_scale)
    report.findings = sorted(findings, key=lambda f: (f.severity != "error", f.code))
    if non_smooth:
        report.surrogate = _checked_surrogate(expr, nonsmooth_nodes, non_smooth, symbols, smooth_scale, parsed)


#: where the whole-loss surrogate's bound is checked: a grid per variable, near and far
SURROGATE_CHECK_VALUES = [sp.Rational(k, 4) for k in range(-16, 17)] + [sp.Integer(v) for v in (-1000, -50, 50, 1000)]


def _checked_surrogate(expr, nonsmooth_nodes, non_smooth_findings, symbols, smooth_scale, parsed):
    """The whole-loss surrogate, printed only after a numeric check of what it claims.

    The bound is a proof (interval arithmetic); the check guards the proof's implementation:
    |loss - surrogate| <= max_error at sampled points, and no kink left at the probe points.
    A failed check withdraws the bound (max_error null) and says why.
    """
    from diffcheck import surrogates as smoothing

    built = smoothing.build_smooth_loss(expr, nonsmooth_nodes, smooth_scale, reserved_names=parsed.variables)
    if built is None:
        return None
    rng = random.Random(5)
    names = [s.name for s in symbols]
    points = [{n: rng.choice(SURROGATE_CHECK_VALUES) for n in names} for _ in range(40)]
    singular = [
        {str(k): sp.Rational(v).limit_denominator(10**6) for k, v in f.probe["point"].items()}
        for f in non_smooth_findings if f.probe
    ]
    singular = [p for p in singular if _exact_value(concrete_model_functions(expr), {sp.Symbol(k, real=True): v for k, v in p.items()}) is not None]
    points += singular
    ok, why = smoothing.verify_surrogate(expr, built, points, [])
    report = dict(built.report)
    if not ok and report.get("max_error") is not None:
        report["max_error"] = None
        report["message"] = f"{report.get('message', '')} Numeric check failed, bound withdrawn: {why}".strip()
    return report


def _smoothness(findings: list[Finding], worst_order: int | None) -> str:
    kinds = {f.kind for f in findings}
    if "jump" in kinds:
        return "discontinuous"
    if kinds & {"kink", "infinite-slope"}:
        return "C0"
    if worst_order is None:
        return "Cinf"
    return f"C{worst_order - 1}"


def _autodiff_note(candidate: Candidate, comparison: SideComparison) -> str:
    parts = []
    if comparison.left_slope is not None or comparison.right_slope is not None:
        parts.append(f"one-sided slopes {_fmt(comparison.left_slope)} (left) and "
                     f"{_fmt(comparison.right_slope)} (right) along the probe direction.")
    convention = AUTODIFF_CONVENTIONS.get(candidate.family)
    if convention:
        parts.append(convention)
    return " ".join(parts) or None


def _fmt(value) -> str:
    if value is None:
        return "undefined"
    return f"{value:.4g}"


_ZERO_DERIVATIVE_PRIMITIVES = (sp.floor, sp.ceiling, sp.sign, sp.Heaviside)


def _gradient_text(expr: sp.Expr, w: sp.Symbol) -> str:
    """The partial derivative, valid wherever the loss is differentiable."""
    derivative = sp.diff(expr, w)
    derivative = derivative.replace(
        lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, _ZERO_DERIVATIVE_PRIMITIVES),
        lambda e: sp.Integer(0),
    )
    derivative = derivative.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))
    return str(derivative)
