"""The proof of a surrogate's bound: ranges and errors, bottom-up over the loss.

* walking the loss bottom-up, each node gets the interval of its values and a bound on the
  error of its surrogate (variables range over the real line, exactly; constants are exact);
* a replaced node adds its table bound to its arguments' error, carried through the
  primitive's Lipschitz constant (1 for abs, max, min, clip in the sup norm), through the
  surrogate's (sigmoid, staircase), or by Hoelder for roots (``|a**p - b**p| <= |a - b|**p``);
* a smooth node carries its arguments' errors through the supremum of its partial
  derivatives over the box that holds both the loss's and the surrogate's argument values
  (mean value theorem, interval arithmetic from :mod:`diffcheck.intervals`);
* when that gives no finite bound (``exp(abs(f))``: exp has no global Lipschitz constant),
  band-limited C1 replacements are tried: they equal the primitive outside ``|u| <= delta``,
  so the error is 0 there, and inside the band the argument's interval is that band. The
  bound is the largest over the cases "which replaced nodes are inside their band".
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath as mp
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational

from diffcheck.intervals import DomainError, Interval, apply, enclose, number_interval
from diffcheck.printing import expression_text
from diffcheck.surrogates.exact import (
    Bound,
    fraction_of,
    hull,
    magnitude,
    mpf_up,
    plus,
    times,
    upper_bound,
)
from diffcheck.surrogates.planning import Replacement, flat_parts
from diffcheck.surrogates.printers import standard_form
from diffcheck.surrogates.recognition import relationals, switch_argument
from diffcheck.surrogates.table import (
    BLEND_FAMILIES,
    LIPSCHITZ_FAMILIES,
    STAIRCASE_FAMILIES,
    Switch,
)

#: at most this many band-limited nodes are split into cases (2**n walks)
MAX_BAND_CASES = 6




@dataclass(frozen=True)
class _NodeBound:
    values: Interval | None  # every value of the loss's node (None: defined nowhere)
    surrogate: Interval | None  # every value of the surrogate's node, at points of the domain
    error: Fraction | float  # sup |node - surrogate node| over the domain


class _EmptyCase(Exception):
    """The band constraints of a case cannot hold together."""


#: primitives that jump: an approximate argument gives no bound on their error
_JUMPS = (sp.floor, sp.ceiling, sp.sign, sp.Heaviside, sp.Mod)


@functools.lru_cache(maxsize=1024)
def _partials(func, shape: tuple) -> tuple:
    """((slot, dummy, d func/d dummy), ...) for the non-constant slots of func(*shape)."""
    dummies = {i: sp.Dummy(f"x{i}", real=True) for i, a in enumerate(shape) if a is None}
    template = func(*[dummies.get(i, a) for i, a in enumerate(shape)])
    return tuple((i, d, sp.diff(template, d)) for i, d in dummies.items())


@functools.lru_cache(maxsize=256)
def _formula_on_placeholders(rep: Replacement) -> tuple:
    """The replacement written on placeholder symbols for its non-constant parts."""
    placeholders = tuple(p if p.is_number else sp.Dummy(real=True) for p in rep.primitive.parts)
    return placeholders, standard_form(rep.entry.formula(placeholders, rep.symbol))


#: Operations above which an expression is bounded as written rather than cancelled: cancel's
#: cost grows steeply with size (a Lovasz extension's gaps, ~1000 operations, take 10 s each)
#: and an uncancelled expression, equal to the cancelled one, only bounds more loosely.
MAX_CANCEL_OPS = 300


@functools.lru_cache(maxsize=1024)
def _simplified(expr: sp.Expr) -> sp.Expr:
    """``expr`` with its branches folded and cancelled, for tight interval bounds (cached: the
    proofs of every surrogate of a loss fold the same gaps)."""
    if sp.count_ops(expr) > MAX_CANCEL_OPS:
        return expr
    folded = sp.piecewise_fold(expr)
    if isinstance(folded, sp.Piecewise):
        return sp.Piecewise(*[(sp.cancel(e), c) for e, c in folded.args])
    return sp.cancel(folded)


class _ErrorWalk:
    """One bottom-up pass over the loss for one case of the band split.

    ``banded``: band-limited replaced nodes with exact arguments; ``in_band``: those whose
    argument lies inside its band in this case (the others are exact here); ``overrides``:
    intervals the case imposes on sub-expressions (the bands, solved for a variable).
    """

    def __init__(self, plan, banded=(), in_band=(), overrides=None):
        self.plan = plan
        self.banded, self.in_band = set(banded), set(in_band)
        self.overrides = overrides or {}
        self.params = {r.symbol: number_interval(r.value) for r in plan.values() if r.symbol}
        self.memo: dict = {}
        self.culprit: str | None = None

    def blame(self, reason: str) -> Bound:
        if self.culprit is None:
            self.culprit = reason
        return math.inf

    def __call__(self, e: sp.Expr) -> _NodeBound:
        if e in self.memo:
            return self.memo[e]
        if e in self.plan:
            bound = COMPOSERS[self.plan[e].primitive.family](self, self.plan[e])
        elif e.is_number:
            box = number_interval(e)
            bound = _NodeBound(box, box, Fraction(0))
        elif e.is_Symbol:
            box = self.params.get(e, Interval.whole())
            bound = _NodeBound(box, box, Fraction(0))
        elif isinstance(e, sp.Piecewise):
            bound = self._piecewise(e)
        else:
            bound = self._operation(e)
        bound = self._restricted(e, bound)
        self.memo[e] = bound
        return bound

    def _restricted(self, e, bound: _NodeBound) -> _NodeBound:
        box = self.overrides.get(e)
        if box is None or bound.values is None:
            return bound
        values = bound.values.intersect(box)
        if values is None:
            raise _EmptyCase(e)
        return _NodeBound(values, values if bound.error == 0 else bound.surrogate, bound.error)

    def finish(self, values, surrogate, error) -> _NodeBound:
        """Cap the error by the spread of both ranges; narrow the surrogate's range by it."""
        if values is None:
            return _NodeBound(None, surrogate, Fraction(0))  # no point of the domain
        if surrogate is None:
            error = self.blame("the surrogate is undefined where the loss is defined")
        if error == 0:
            return _NodeBound(values, values, error)
        if surrogate is not None:
            spread = values.hull(surrogate)
            if spread.is_bounded():
                error = min(error, fraction_of(spread.width))
            if error != math.inf:
                surrogate = surrogate.intersect(values.widen(mpf_up(error))) or surrogate
        return _NodeBound(values, surrogate, error)

    # ---- nodes the surrogate keeps -------------------------------------------------
    def _operation(self, e) -> _NodeBound:
        args = [self(a) for a in e.args]
        values = apply(e, [a.values for a in args])
        surrogate = apply(e, [a.surrogate for a in args])
        errors = [a.error for a in args]
        error: Bound
        if all(x == 0 for x in errors):
            error = Fraction(0)
        elif isinstance(e, sp.Add):
            error = plus(*errors)
        elif isinstance(e, (sp.Max, sp.Min, sp.Abs)):  # 1-Lipschitz in the sup norm
            error = max(errors)
        elif isinstance(e, _JUMPS):
            error = self.blame(f"{e} jumps, and its argument is only approximated")
        elif isinstance(e, (AppliedUndef, sp.Derivative, sp.Subs)):
            error = self.blame(f"{e}: no Lipschitz constant is known for a model function")
        else:
            error = self._through_derivatives(e, args)
            if isinstance(e, sp.Pow):
                error = min(error, self._hoelder(e, args))
        return self.finish(values, surrogate, error)

    def _through_derivatives(self, e, args) -> Bound:
        """Mean value theorem: sum of sup|d e/d arg| * error(arg) over the joint box."""
        slots = _partials(e.func, tuple(None if not a.is_number else a for a in e.args))
        box = {dummy: hull(args[i].values, args[i].surrogate) or Interval.whole()
               for i, dummy, _ in slots}
        total: Bound = Fraction(0)
        for i, _, partial in slots:
            if args[i].error == 0:
                continue
            try:
                factor = magnitude(enclose(partial, box, strict=True))
            except DomainError:
                factor = math.inf
            if factor == math.inf:
                others = [a for j, a in enumerate(e.args) if j != i]
                if isinstance(e, sp.Mul):
                    reason = (f"the error of {e.args[i]} is multiplied by {sp.Mul(*others)}, "
                              "which is unbounded")
                else:
                    reason = (f"{e} has no bounded derivative in {e.args[i]} over the values the "
                              "loss and its surrogate reach")
                self.blame(reason)
            total = plus(total, times(factor, args[i].error))
        return total

    def _hoelder(self, e, args) -> Bound:
        """|a**p - b**p| <= |a - b|**p for a, b >= 0 and 0 < p < 1."""
        (base, _), p = args, e.args[1]
        if not (p.is_number and p.is_real and bool(0 < p < 1)):
            return math.inf
        if base.surrogate is None or base.surrogate.lo < 0 or base.error == math.inf:
            return math.inf
        return upper_bound(sp.Pow(sp.Rational(base.error.numerator, base.error.denominator), p))

    def _piecewise(self, e) -> _NodeBound:
        branches = [self(pair.expr) for pair in e.args]
        sides = [s for pair in e.args for r in relationals(pair.cond) for s in (r.lhs, r.rhs)]
        values = apply(e, [b.values for b in branches])
        surrogate = apply(e, [b.surrogate for b in branches])
        if any(self(s).error != 0 for s in sides):
            error = self.blame(f"the conditions of {e} are only approximated, so a branch may "
                               "switch")
        else:
            error = max(b.error for b in branches)
        return self.finish(values, surrogate, error)

    # ---- helpers for the replaced nodes --------------------------------------------
    def out_of_band(self, rep: Replacement) -> bool:
        node = rep.primitive.node
        return rep.entry.band and node in self.banded and node not in self.in_band

    def own_error(self, rep: Replacement) -> Bound:
        """The table bound of the replacement (0 where a band entry is exact)."""
        if self.out_of_band(rep):
            return Fraction(0)
        if rep.entry.bound is None:
            return math.inf
        return upper_bound(rep.at_value(rep.entry.bound(rep.symbol, rep.primitive)))

    def surrogate_range(self, rep: Replacement,
                        boxes: Sequence[Interval | None]) -> Interval | None:
        placeholders, formula = _formula_on_placeholders(rep)
        env = dict(self.params)
        for placeholder, box in zip(placeholders, boxes):
            if not placeholder.is_number:
                env[placeholder] = box if box is not None else Interval.whole()
        return enclose(formula, env)

    def primitive_range(self, rep: Replacement, bounds: Sequence[_NodeBound]) -> Interval | None:
        env = {p: b.values for p, b in zip(rep.primitive.parts, bounds) if b.values is not None}
        return enclose(rep.primitive.node, env)


# ---- one composer per family: the error of a replaced node ----------------------------


def _compose_lipschitz(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    """abs, max, min, clip, pinball: 1-Lipschitz (sup norm), so error = own + max(args)."""
    parts = [walk(p) for p in rep.primitive.parts]
    error = plus(walk.own_error(rep), max(p.error for p in parts))
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _switch_of(rep: Replacement) -> Switch:
    switch = rep.entry.switch
    if switch is None:
        raise ValueError(f"{rep.entry.name} is not a blend")  # blend families have switches
    return switch


def _deviation(walk: _ErrorWalk, rep: Replacement, condition) -> Bound:
    """sup |indicator(condition) - its smooth switch|."""
    if condition in (True, False) or isinstance(condition, sp.logic.boolalg.BooleanAtom):
        return Fraction(0)
    if isinstance(condition, sp.Not):
        return _deviation(walk, rep, condition.args[0])
    if isinstance(condition, (sp.And, sp.Or)):
        # all true: the product is >= prod(1 - d_i); one false: it is <= that one's d_j
        deviations = [_deviation(walk, rep, c) for c in condition.args]
        if max(deviations) >= 1:
            return Fraction(1)
        kept: Bound = Fraction(1)
        for d in deviations:
            kept *= 1 - d
        return max(1 - kept, max(deviations))
    if isinstance(condition, (sp.Eq, sp.Ne)):
        return Fraction(1)
    margin_error = plus(walk(condition.lhs).error, walk(condition.rhs).error)
    if margin_error == 0 and walk.out_of_band(rep):
        return Fraction(0)
    slope = upper_bound(rep.at_value(_switch_of(rep).slope(rep.symbol)))
    return min(Fraction(1), plus(Fraction(1, 2), times(slope, margin_error)))


def _margin_atom(margin: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(c0, c1, T) with margin = c0 + c1*T for numbers c0, c1 != 0 (1 - Abs(r): T = Abs(r))."""
    c0, rest = sp.expand(margin).as_coeff_Add()
    c1, atom = rest.as_coeff_Mul()
    if atom.is_number or c1 == 0 or atom.is_Add:
        return None
    return c0, c1, atom


def _through(expr: sp.Expr, atom: sp.Expr, placeholder: sp.Symbol) -> sp.Expr:
    """``expr`` with ``atom`` written as ``placeholder``, and even powers of u too when the atom
    is Abs(u) (u**2 = Abs(u)**2; SymPy would fold Abs(u)**2 back into u**2)."""
    if isinstance(atom, sp.Abs):
        (u,) = atom.args
        expr = expr.replace(lambda e: e.is_Pow and e.base == u and e.exp.is_even is True,
                            lambda e: placeholder**e.exp)
    return expr.xreplace({atom: placeholder})


@functools.lru_cache(maxsize=1024)
def _boundary_split(gap: sp.Expr, margin: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(at_boundary, slope) with gap = at_boundary + slope*margin, at_boundary free of the
    variable solved for: gap where the margin vanishes, along a variable the margin is
    linear in, or for the atom it is affine in (Abs(r) in 1 - Abs(r)); else 0, which leaves
    slope = gap/margin."""
    for x in sorted(margin.free_symbols, key=str):
        if not margin.is_polynomial(x):
            # a margin linear in x is a polynomial in it: differentiating a comparison of two
            # softmax errors by each of its logits (0.02 s each) only to find it is not costs
            # more than the rest of the split
            continue
        coefficient = sp.diff(margin, x)
        if coefficient.is_number and coefficient != 0:
            at_boundary = sp.expand(gap.subs(x, sp.expand(x - margin / coefficient)))
            return at_boundary, _simplified((gap - at_boundary) / margin)
    affine = _margin_atom(margin)
    if affine is not None:
        c0, c1, atom = affine
        t = sp.Dummy("t", real=True)
        gap_t = _through(gap, atom, t)
        at_boundary = sp.expand(gap_t.xreplace({t: -c0 / c1}))
        if not at_boundary.has(t):
            slope_t = _simplified((gap_t - at_boundary) / (c0 + c1 * t))
            return at_boundary, slope_t.xreplace({t: atom})
    return sp.S.Zero, _simplified(gap / margin)


def _slope_coefficients(slope: sp.Expr, margin: sp.Expr) -> list[sp.Expr] | None:
    """[a0, a1, ...] with slope = a0 + a1*g + ... where g is the margin, numbers a_j; None when
    the slope depends on more than the margin (x + y along x - y = 0)."""
    affine = _margin_atom(margin)
    if affine is None:
        return None
    c0, c1, atom = affine
    g = sp.Dummy("g", real=True)
    t = sp.Dummy("t", real=True)
    in_g = sp.expand(_through(slope, atom, t).xreplace({t: (g - c0) / c1}))
    if in_g.free_symbols - {g} or not in_g.is_polynomial(g):
        return None
    return sp.Poly(in_g, g).all_coeffs()[::-1]


def _mean_value_slope(gap: sp.Expr, margin: sp.Expr, overrides: dict) -> Bound:
    """sup |k| for gap = D0 + k*margin, by the mean value theorem along the margin's atom T:
    k = (d gap/dT)(xi)/c1, so sup |d gap/dT|/|c1| bounds it where the quotient itself has a
    removable singularity (Wing: the log branch meets the linear one at |x| = w)."""
    affine = _margin_atom(margin)
    if affine is None:
        return math.inf
    _, c1, atom = affine
    t = sp.Dummy("t", real=True)
    gap_t = _through(gap, atom, t)
    if isinstance(atom, sp.Abs) and gap_t.has(atom.args[0]):
        return math.inf  # gap also moves with u's sign: T alone does not parametrize it
    if not (atom.is_Symbol or isinstance(atom, sp.Abs)):
        return math.inf
    domain = Interval(0, mp.inf) if isinstance(atom, sp.Abs) else Interval.whole()
    derivative = enclose(sp.diff(gap_t, t), {**overrides, t: domain})
    return times(magnitude(derivative), upper_bound(1 / sp.Abs(c1)))


def _moment_error(rep: Replacement, power: int, margin_error: Fraction | float) -> Bound:
    """sup |indicator(g) - s(g')|*|g|**power where g' approximates the margin g within eps.

    Where g and g' have one sign, |g|**m <= (|g'| + eps)**m expands into the switch's moments
    of g'; where they differ, |g| <= eps and the switch is off by at most 1.
    """
    switch = _switch_of(rep)

    def moment(i: int) -> Bound:
        if i == 0:
            return Fraction(1, 2)
        return upper_bound(rep.at_value(switch.moment(rep.symbol, i)))

    if margin_error == 0:
        return moment(power)
    if margin_error == math.inf:
        return math.inf
    same_sign = plus(*[times(Fraction(math.comb(power, i)) * margin_error ** (power - i),
                             moment(i)) for i in range(power + 1)])
    return max(same_sign, margin_error**power)


#: why a bound is infinite, written only when it is reported: printing a large gap (the
#: pieces of a sort's orderings) costs more than bounding it
_Why = Callable[[], str]


def _split_error(walk: _ErrorWalk, rep: Replacement, gap: sp.Expr, relation: Relational
                 ) -> tuple[Bound, _Why | None]:
    """sup |indicator(g > 0) - s|*|gap| for one comparison g > 0: dev*sup|D0| plus the
    kink part, the gap being D0 + k*g near g = 0; and why, when there is no finite bound."""
    margin = switch_argument(relation)
    deviation = _deviation(walk, rep, relation)
    margin_error = plus(walk(relation.lhs).error, walk(relation.rhs).error)
    at_boundary, slope = _boundary_split(gap, margin)
    error = times(deviation, magnitude(enclose(at_boundary, walk.overrides)))
    if error == math.inf:
        return error, lambda: (f"the branches differ by {expression_text(at_boundary)} where "
                               f"{expression_text(margin)} = 0, "
                               "which is unbounded: the blend is off by half that jump")
    slope_bound = min(magnitude(enclose(slope, walk.overrides)),
                      _mean_value_slope(gap, margin, walk.overrides))
    if slope_bound != math.inf:
        return plus(error, times(slope_bound, _moment_error(rep, 1, margin_error))), None
    coefficients = _slope_coefficients(slope, margin)
    if coefficients is None:
        text = expression_text
        return math.inf, lambda: (f"near {text(margin)} = 0 the branches differ by "
                                  f"({text(slope)})*({text(margin)}); the blend's error "
                                  f"there grows like |{text(slope)}|, which is unbounded")
    # |k| <= sum |a_j|*|g|**j: the switch's moments of every order bound the rest
    for power, coefficient in enumerate(coefficients, start=1):
        error = plus(error, times(upper_bound(sp.Abs(coefficient)),
                                  _moment_error(rep, power, margin_error)))
    return error, None


def _inequalities(condition) -> list[Relational] | None:
    """The comparisons an and/or/not condition is made of (None: an == or != in it)."""
    atoms = relationals(condition)
    if any(isinstance(atom, (sp.Eq, sp.Ne)) for atom in atoms):
        return None
    return atoms


def _jump_error(walk: _ErrorWalk, rep: Replacement, value, rest, condition) -> Bound:
    """sup |(indicator - s)*(value - rest)|.

    Half the jump in general. With a margin g (approximated within eps), the gap splits as
    D0 + k*g (D0: the gap on the switching set), and the switch's moments bound
    |indicator - s|*|g|**m: the often much smaller dev*sup|D0| + sup|k|*kink(p) (a kink costs
    O(p), a jump half of D0), or, where k grows with g (where(abs(r) <= 1, r**2, abs(r)):
    k = -|r| = g - 1), the sum over the powers of g in k. An and/or/not of comparisons is
    off by at most the sum of its comparisons' deviations (product and complement are
    1-Lipschitz in each switch), so each comparison's split bounds its share
    (``hardshrink``: u where u > lambd or u < -lambd).
    """
    deviation = _deviation(walk, rep, condition)
    if deviation == 0:
        return Fraction(0)
    gap = _simplified(value - rest)
    error = times(deviation, magnitude(enclose(gap, walk.overrides)))
    reason: _Why = lambda: (f"the branch taken where {expression_text(condition)} differs from "  # noqa: E731
                            f"the others by {expression_text(gap)}")
    comparisons = _inequalities(condition)
    if error != 0 and comparisons:
        total: Bound = Fraction(0)
        for comparison in comparisons:
            share, why = _split_error(walk, rep, gap, comparison)
            total = plus(total, share)
            reason = why or reason
        error = min(error, total)
    if error == math.inf and walk.culprit is None:
        walk.blame(reason())
    return error


def _compose_blend(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    """step, sign, indicator, piecewise: s*a + (1 - s)*rest, folded from the last branch.

    L - S = (1_c - s)*(a - rest) + s*(a - a') + (1 - s)*(rest - rest'), s in [0, 1].
    """
    branches = rep.primitive.parts
    rest_expr = branches[-1][0]
    last = walk(rest_expr)
    values, surrogate, error = last.values, last.surrogate, last.error
    for value, condition in reversed(branches[:-1]):
        branch = walk(value)
        if error == math.inf and walk.culprit is not None:
            # no jump can make it finite again, and why is said already: the gaps of the
            # other branches (a sort's orderings: cancelled at 0.2 s each) need no bound
            jump: Bound = math.inf
        else:
            jump = _jump_error(walk, rep, value, rest_expr, condition)
        error = plus(jump, max(branch.error, error))
        values, surrogate = hull(values, branch.values), hull(surrogate, branch.surrogate)
        rest_expr = sp.Piecewise((value, condition), (rest_expr, True), evaluate=False)
    return walk.finish(values, surrogate, error)


def _compose_staircase(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    """floor, round, ceiling, mod: 1/2 (times |b| for mod) plus the argument's error."""
    parts = [walk(p) for p in rep.primitive.parts]
    own = walk.own_error(rep)
    if rep.primitive.family == "mod":
        numerator, modulus = parts
        if numerator.error or modulus.error:
            error = walk.blame(f"{rep.primitive.node} jumps, and its arguments are only "
                               "approximated")
        else:
            error = times(own, magnitude(modulus.values))
    elif parts[0].error == 0:
        error = own
    else:
        # Both floor(v) - v and staircase(v) - v lie in an interval of width 1.
        if rep.entry.lipschitz is None:
            raise ValueError(f"{rep.entry.name} has no Lipschitz constant")  # staircases do
        lipschitz = upper_bound(rep.at_value(rep.entry.lipschitz(rep.symbol)))
        through_surrogate = plus(own, times(lipschitz, parts[0].error))
        error = min(through_surrogate, plus(Fraction(1), parts[0].error))
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _compose_root(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    """b**p -> (b' + eps)**p: |b**p - (b' + eps)**p| <= (|b - b'| + eps)**p (Hoelder)."""
    base_expr, exponent = rep.primitive.parts
    base = walk(base_expr)
    if rep.value is None:
        raise ValueError("a shifted root has a parameter")
    eps = Fraction(int(rep.value.p), int(rep.value.q))
    # the shifted root must be real wherever the loss is: b' + eps >= 0 when b >= 0
    lowest = base.surrogate.lo if base.surrogate is not None else -mp.inf
    if base.error > eps and lowest < -mpf_up(eps):
        error = walk.blame(f"the surrogate of {base_expr} may fall below -{rep.symbol}, where "
                           f"{rep.entry.name} is undefined")
    elif isinstance(base.error, float):
        error = math.inf  # infinite: the inner node already said why
    else:
        total = base.error + eps  # base.error is finite here: an exact Fraction
        error = upper_bound(sp.Pow(sp.Rational(total.numerator, total.denominator), exponent))
    parts = (base, walk(exponent))
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _compose_arc(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    """acos(u) -> acos((1 - eps)*u): the table bound with an exact argument; acos has no
    Lipschitz (nor Hoelder-1/2 constant this proof uses) to carry an argument's error."""
    parts = [walk(p) for p in rep.primitive.parts]
    if parts[0].error != 0:
        error = walk.blame(f"{rep.primitive.node} has an unbounded slope at u = +-1, and its "
                           "argument is only approximated")
    else:
        error = walk.own_error(rep)
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _compose_unbounded(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    parts = [walk(p) for p in rep.primitive.parts]
    error = walk.blame(f"{rep.entry.name} has no uniform error bound for {rep.primitive.node}")
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


COMPOSERS: dict[str, Callable[[_ErrorWalk, Replacement], _NodeBound]] = {
    **dict.fromkeys(LIPSCHITZ_FAMILIES, _compose_lipschitz),
    **dict.fromkeys(BLEND_FAMILIES, _compose_blend),
    **dict.fromkeys(STAIRCASE_FAMILIES, _compose_staircase),
    "root": _compose_root,
    "acos": _compose_arc,
    "asin": _compose_arc,
    "log": _compose_unbounded,
}


# ---- band-limited cases ----------------------------------------------------------------


def _box(value: sp.Expr | None) -> Interval:
    """The interval of a real constant of the plan (parameters, clip bounds)."""
    box = None if value is None else number_interval(value)
    if box is None:
        raise ValueError(f"{value} is not a real number")
    return box


def _band_region(rep: Replacement) -> tuple[sp.Expr, Interval] | None:
    """(g, interval): where a band entry differs from its primitive, if one g says it."""
    primitive, delta = rep.primitive, _box(rep.value).hi
    band = Interval(-delta, delta)
    if primitive.family == "abs":
        return primitive.parts[0], band
    if primitive.family in ("max", "min", "pinball") and len(primitive.parts) == 2:
        return primitive.parts[0] - primitive.parts[-1], band
    if primitive.family == "clip":
        u, lo, hi = primitive.parts
        return u, Interval(_box(lo).lo - delta, _box(hi).hi + delta)
    if primitive.family in BLEND_FAMILIES:
        margins = {switch_argument(r) for _, c in primitive.parts for r in relationals(c)}
        if len(margins) == 1:
            return margins.pop(), band
    return None


def _solved(expr: sp.Expr, box: Interval) -> dict[sp.Expr, Interval]:
    """``expr`` in ``box``, and what follows for the inner term of c + k*term."""
    implied = {expr: box}
    while not expr.is_number:
        constant, rest = expr.as_coeff_Add()
        if constant != 0:
            expr, box = rest, box - _box(constant)
        else:
            factor, rest = expr.as_coeff_Mul()
            if factor in (0, 1):
                break
            expr, box = rest, box / _box(factor)
        implied[expr] = box
    return implied


def _case_overrides(plan, inside) -> dict | None:
    """The intervals implied by the nodes ``inside`` their bands (None: contradictory)."""
    merged: dict[sp.Expr, Interval] = {}
    for node in inside:
        region = _band_region(plan[node])
        if region is None:
            continue
        for key, box in _solved(*region).items():
            common = box if key not in merged else merged[key].intersect(box)
            if common is None:
                return None
            merged[key] = common
    return merged


def _has_exact_parts(rep: Replacement, plan) -> bool:
    return not any(part.has(node) for part in flat_parts(rep.primitive) for node in plan
                   if isinstance(part, sp.Basic))


@dataclass(frozen=True)
class Proof:
    error: Fraction | float
    culprit: str | None
    #: band-limited nodes split into cases, and those inside their band in the worst case
    banded: tuple = ()
    worst_inside: tuple = ()


def prove(expr: sp.Expr, plan: dict[sp.Expr, Replacement]) -> Proof:
    """sup |expr - surrogate| over the domain: the worst case of the band split."""
    banded = [n for n, rep in plan.items() if rep.entry.band and _has_exact_parts(rep, plan)]
    if len(banded) > MAX_BAND_CASES:
        banded = []  # too many cases: every band entry counts its error everywhere
    worst = Proof(Fraction(0), None, tuple(banded))
    for size in range(len(banded) + 1):
        for inside in itertools.combinations(banded, size):
            overrides = _case_overrides(plan, inside)
            if overrides is None:
                continue
            walk = _ErrorWalk(plan, banded, inside, overrides)
            try:
                error = walk(expr).error
            except _EmptyCase:
                continue
            if error > worst.error or (error == worst.error == math.inf and worst.culprit is None):
                worst = Proof(error, walk.culprit, tuple(banded), inside)
    return worst


