"""The table of smooth replacements: for each family, its formulas, parameters and bounds.

``SURROGATES[family]`` lists the entries of one family (``"abs"``, ``"max"``, ``"step"``...),
each with its parameter, the parameter's default for a target error, its smoothness, and
``bound(param)``: the supremum of ``|primitive - surrogate|`` over all inputs (``None`` when
there is no uniform bound). Blends of branches (step, sign, indicator, piecewise) are built
from a smooth :class:`Switch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from diffcheck.numeric import as_sympy
from diffcheck.surrogates.printers import safe_logcosh, safe_logsumexp, safe_sigmoid, safe_softplus
from diffcheck.surrogates.recognition import Primitive, switch_argument

#: sup over t >= 0 of t/(1 + exp(t)) = W(1/e) (Lambert W): where sigmoid blends a kink
_SIGMOID_KINK = sp.LambertW(sp.exp(-1))


def sigmoid_moment(m: int) -> sp.Expr:
    """sup over u >= 0 of u**m/(1 + exp(u)), exactly: sup |g|**m*|indicator - sigmoid(g)|.

    The derivative vanishes where m*(1 + exp(u)) = u*exp(u), at u = m + W(m*exp(-m)).

    >>> [round(float(sigmoid_moment(m)), 4) for m in (1, 2, 3)]
    [0.2785, 0.4828, 1.2844]
    """
    if m == 1:
        return _SIGMOID_KINK
    u = m + sp.LambertW(m * sp.exp(-m))
    return u**m / (1 + sp.exp(u))

#: sup over 0 <= t <= 1 of t*(1 - smoothstep(t)) = t*(1 - t)**2*(2 + t)/4, where its
#: derivative (2 - 6*t + 4*t**3)/4 vanishes: t = (sqrt(3) - 1)/2
_SMOOTHSTEP_PEAK = (sp.sqrt(3) - 1) / 2
_SMOOTHSTEP_KINK = _SMOOTHSTEP_PEAK * (1 - _SMOOTHSTEP_PEAK) ** 2 * (2 + _SMOOTHSTEP_PEAK) / 4


def _smoothstep(t: sp.Expr) -> sp.Expr:
    """C1 cubic step: 0 for t <= -1, 1 for t >= 1, (1 + t)**2*(2 - t)/4 between."""
    return sp.Piecewise((0, t <= -1), (1, t >= 1), ((1 + t) ** 2 * (2 - t) / 4, True))


@dataclass(frozen=True)
class Switch:
    """A smooth s(g) in [0, 1] standing for the indicator of g > 0.

    ``|indicator - s| <= 1/2`` everywhere (s(0) = 1/2); ``slope(p)`` bounds |s'|;
    ``moment(p, m)`` bounds ``|g|**m*|indicator - s|``: with m = 1 the error where blended
    branches meet with different slopes (a kink, ``kink(p)``), higher m where their
    difference grows like a power of g; a ``band`` switch equals the indicator outside
    ``|g| <= p``.
    """

    build: Callable[[sp.Expr, sp.Symbol], sp.Expr]
    slope: Callable[[sp.Expr], sp.Expr]
    moment: Callable[[sp.Expr, int], sp.Expr]
    band: bool = False

    def kink(self, p: sp.Expr) -> sp.Expr:
        return self.moment(p, 1)


SIGMOID_SWITCH = Switch(lambda g, tau: safe_sigmoid(g / tau), lambda tau: 1 / (4 * tau),
                        lambda tau, m: tau**m * sigmoid_moment(m))
#: sigmoid(2*g/tau) = (1 + tanh(g/tau))/2, so that sign(u) becomes tanh(u/tau)
TANH_SWITCH = Switch(lambda g, tau: (1 + sp.tanh(g / tau)) / 2, lambda tau: 1 / (2 * tau),
                     lambda tau, m: (tau / 2)**m * sigmoid_moment(m))
#: |g|**m <= delta**(m - 1)*|g| inside the band |g| <= delta, and the error is 0 outside
SMOOTHSTEP_SWITCH = Switch(lambda g, delta: _smoothstep(g / delta), lambda delta: 3 / (4 * delta),
                           lambda delta, m: delta**m * _SMOOTHSTEP_KINK, band=True)


def _condition_switch(condition, switch: Switch, p: sp.Symbol) -> sp.Expr:
    """A smooth stand-in in [0, 1] for the indicator of ``condition``."""
    if condition in (True, sp.true):
        return sp.S.One
    if condition in (False, sp.false):
        return sp.S.Zero
    if isinstance(condition, sp.Not):
        return 1 - _condition_switch(condition.args[0], switch, p)
    if isinstance(condition, sp.And):
        return sp.Mul(*[_condition_switch(c, switch, p) for c in condition.args])
    if isinstance(condition, sp.Or):
        return 1 - sp.Mul(*[1 - _condition_switch(c, switch, p) for c in condition.args])
    if isinstance(condition, sp.Eq):  # true on a null set: drop the branch
        return sp.S.Zero
    if isinstance(condition, sp.Ne):
        return sp.S.One
    return switch.build(switch_argument(condition), p)


def _blend(branches: Sequence[tuple], p: sp.Symbol, switch: Switch) -> sp.Expr:
    """s1*a1 + (1 - s1)*(s2*a2 + (1 - s2)*(...)): Piecewise semantics, first true wins."""
    value, condition = branches[0]
    if len(branches) == 1 or condition in (True, sp.true):
        return as_sympy(value)
    s = _condition_switch(condition, switch, p)
    return s * value + (1 - s) * _blend(branches[1:], p, switch)


# --------------------------------------------------------------------------------------
# Formula builders: (parts, parameter symbol) -> replacement
# --------------------------------------------------------------------------------------


def _pseudo_huber(parts, d):
    (u,) = parts
    return sp.sqrt(u**2 + d**2) - d


def _log_cosh(parts, tau):
    (u,) = parts
    return tau * safe_logcosh(u / tau)


def _huber_band(parts, delta):
    # Huber's function shifted up by delta/2: equal to |u| outside the band, C1 at its edges
    (u,) = parts
    return sp.Piecewise((u**2 / (2 * delta) + delta / 2, sp.Abs(u) <= delta), (sp.Abs(u), True))


def _soft_relu(v, tau):
    return tau * safe_softplus(v / tau)


def _quadratic_relu(v, delta):
    """C1 relu: (v + delta)**2/(4*delta) on |v| <= delta, relu(v) outside."""
    return sp.Piecewise((0, v <= -delta), ((v + delta) ** 2 / (4 * delta), v <= delta), (v, True))


def _via_relu(relu: Callable) -> Callable:
    """max(a, base) = base + relu(a - base), with a smooth relu."""
    def formula(parts, p):
        a, base = parts
        return base + relu(a - base, p)
    return formula


def _logsumexp(parts, tau):
    return tau * safe_logsumexp(*[a / tau for a in parts])


def _rennie_srebro(parts, delta):
    # Rennie & Srebro's smooth hinge, scaled to width delta: u - delta/2 beyond the band
    u, _ = parts
    return sp.Piecewise((0, u <= 0), (u**2 / (2 * delta), u <= delta), (u - delta / 2, True))


def _squared_hinge(parts, _):
    u, _zero = parts
    return sp.Max(u, 0) ** 2


def _via_clip(relu: Callable) -> Callable:
    """clip(u, lo, hi) = lo + relu(u - lo) - relu(u - hi), with a smooth relu."""
    def formula(parts, p):
        u, lo, hi = parts
        return lo + relu(u - lo, p) - relu(u - hi, p)
    return formula


def _negated(formula: Callable) -> Callable:
    """min(args) = -max(-args)."""
    def flipped(parts, p):
        return -formula(tuple(-a for a in parts), p)
    return flipped


def _via_switch(switch: Switch) -> Callable:
    def formula(parts, p):
        return _blend(parts, p, switch)
    return formula


def _staircase(parts, eps):
    # atan(sin(2*pi*u)/(1 - cos(2*pi*u))) = pi*(1/2 - frac(u)); eps > 0 keeps it smooth at
    # integers and only shrinks |atan(...)| without changing its sign: |floor - this| <= 1/2.
    (u,) = parts
    angle = 2 * sp.pi * u
    return u - sp.S.Half + sp.atan(sp.sin(angle) / (1 - sp.cos(angle) + eps)) / sp.pi


def _ceiling_staircase(parts, eps):
    return -_staircase((-parts[0],), eps)


def _mod_staircase(parts, eps):
    a, b = parts
    return a - b * _staircase((a / b,), eps)


def _straight_through(parts, _):
    return parts[0]


def _shifted_root(parts, eps):
    base, exponent = parts
    return (base + eps) ** exponent


def _shrunk(arc: Callable[[sp.Expr], sp.Expr]) -> Callable:
    """acos((1 - eps)*u): the argument never reaches the ends +-1, where the slope is infinite."""
    def formula(parts, eps):
        (u,) = parts
        return arc((1 - eps) * u)
    return formula


def _arc_entry(arc: Callable[[sp.Expr], sp.Expr]) -> SurrogateEntry:
    # |acos(u) - acos((1 - eps)*u)| grows with |u| (acos is steepest at the ends), so its sup
    # over [-1, 1] is at u = 1: acos(1 - eps); asin = pi/2 - acos alike
    return SurrogateEntry(
        "shrunk_argument", _shrunk(arc), "eps", lambda t, prim: 1 - sp.cos(t), "Cinf",
        lambda eps, prim: sp.acos(1 - eps),
        note=f"{arc.__name__}((1 - eps)*u): smooth on [-1, 1], within acos(1 - eps) of "
             f"{arc.__name__}(u) (at u = +-1).")


def _shifted_log(parts, eps):
    return sp.log(parts[0] + eps)


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


def _always(primitive: Primitive) -> bool:
    return True


def _relu_shaped(primitive: Primitive) -> bool:
    return len(primitive.parts) == 2 and primitive.parts[-1] == 0


def _binary(primitive: Primitive) -> bool:
    return len(primitive.parts) == 2


def _many(primitive: Primitive) -> bool:
    return len(primitive.parts) >= 3


@dataclass(frozen=True)
class SurrogateEntry:
    """One smooth replacement of a primitive family.

    ``formula(parts, p)`` builds it from the primitive's parts (see :class:`Primitive`) and
    the parameter symbol. ``default(target, primitive)`` is the parameter value that makes
    ``bound`` equal the target error (exact SymPy; rounded down to PARAM_DIGITS when used).
    ``bound(p, primitive)`` is sup |primitive - surrogate| over all inputs, for a unit jump
    in the blend families and modulus 1 for mod; None when there is no uniform bound.
    ``numpy``/``torch`` are hint templates (``{u}``) for entries that are a gradient rule
    rather than an expression; every other entry prints its own formula.
    """

    name: str
    formula: Callable[[tuple, sp.Symbol], sp.Expr]
    param: str
    default: Callable[[sp.Expr, Primitive], sp.Expr]
    smoothness: str
    bound: Callable[[sp.Expr, Primitive], sp.Expr] | None
    numpy: str = ""
    torch: str = ""
    note: str = ""
    #: the error vanishes outside a band of half-width ``param`` around the switching set
    band: bool = False
    #: Lipschitz constant of the surrogate in its argument (staircases)
    lipschitz: Callable[[sp.Expr], sp.Expr] | None = None
    #: the smooth switch of a blend entry (step, sign, indicator, piecewise)
    switch: Switch | None = None
    applies: Callable[[Primitive], bool] = _always
    #: False for a different loss or a gradient rule: listed, never used to replace
    replaces: bool = True


LOG2 = sp.log(2)


def _entry(name, formula, param, default, smoothness, bound, note, **options) -> SurrogateEntry:
    """An entry whose default and bound depend on the parameter only."""
    per_primitive_bound = None if bound is None else (lambda p, prim: bound(p))
    return SurrogateEntry(name, formula, param, lambda t, prim: default(t), smoothness,
                          per_primitive_bound, note=note, **options)


def _blend_entry(name, switch: Switch, default, jump_bound, note) -> SurrogateEntry:
    """A switch-based entry; ``jump_bound`` is its bound for the family's canonical jump."""
    return _entry(name, _via_switch(switch), "delta" if switch.band else "tau", default,
                  "C1" if switch.band else "Cinf", lambda p: jump_bound, note,
                  band=switch.band, switch=switch)


def _staircase_entry(formula, note) -> SurrogateEntry:
    # The bound is 1/2 for every eps; eps = target sets the width of the rounded corners.
    return _entry("smooth_staircase", formula, "eps", lambda t: t, "Cinf", lambda eps: sp.S.Half,
                  note, lipschitz=lambda eps: 1 + 2 / eps)


def _negated_entry(entry: SurrogateEntry, name: str | None = None) -> SurrogateEntry:
    return SurrogateEntry(name or entry.name, _negated(entry.formula), entry.param,
                          entry.default, entry.smoothness, entry.bound,
                          note="min(a, b) = -max(-a, -b); " + entry.note, band=entry.band,
                          applies=entry.applies, replaces=entry.replaces)


_STEP_NOTE = ("No uniform bound below half the jump height: next to the jump the error tends "
              "to half of it. The L1 error is 2*tau*log(2) per unit jump.")
_STAIRCASE_NOTE = ("Smooth staircase u - 1/2 + atan(sin(2*pi*u)/(1 - cos(2*pi*u) + eps))/pi. "
                   "atan(sin/(1 - cos)) is pi*(1/2 - frac(u)); eps > 0 shrinks it without "
                   "changing its sign, so the staircase stays within 1/2 of floor (1/2 exactly "
                   "at the integers).")
_STRAIGHT_THROUGH = SurrogateEntry(
    "straight_through", _straight_through, "", lambda t, prim: sp.S.Zero, "Cinf", None,
    numpy="{u}  # NumPy has no autograd: value np.floor({u}), gradient as for {u}",
    torch="{u} + (torch.floor({u}) - {u}).detach()", replaces=False,
    note="Straight-through estimator: a gradient rule, not an expression. Keep the exact "
         "value in the forward pass and back-propagate as if it were the identity.")

_MAX = (
    _entry("softplus", _via_relu(_soft_relu), "tau", lambda t: t / LOG2, "Cinf",
           lambda tau: tau * LOG2, applies=_binary,
           note="max(a, b) = b + relu(a - b), relu(v) ~ tau*log(1 + exp(v/tau)): above the max "
                "by at most tau*log(2), at the kink."),
    SurrogateEntry(
        "logsumexp", _logsumexp, "tau", lambda t, prim: t / sp.log(len(prim.parts)), "Cinf",
        lambda tau, prim: tau * sp.log(len(prim.parts)), applies=_many,
        note="tau*log(sum(exp(a_i/tau))): above the max by at most tau*log(n)."),
    _entry("rennie_srebro", _rennie_srebro, "delta", lambda t: 2 * t, "C1", lambda d: d / 2,
           applies=_relu_shaped,
           note="Rennie-Srebro smooth hinge scaled to width delta: 0 for u <= 0, u**2/(2*delta) "
                "up to delta, u - delta/2 beyond (bound 1/2 for the unit version)."),
    _entry("quadratic_band", _via_relu(_quadratic_relu), "delta", lambda t: 4 * t, "C1",
           lambda d: d / 4, band=True, applies=_binary,
           note="b + (v + delta)**2/(4*delta) on |v| <= delta, v = a - b: equal to the max "
                "outside the band, above it by at most delta/4."),
    SurrogateEntry(
        "squared_hinge", _squared_hinge, "", lambda t, prim: sp.S.Zero, "C1", None,
        applies=_relu_shaped, replaces=False,
        note="max(0, u)**2 is a different loss (C1), not an approximation: no error bound."),
)

_MIN_NAMES = {"softplus": "softmin", "logsumexp": "neg_logsumexp"}

SURROGATES: dict[str, tuple[SurrogateEntry, ...]] = {
    "abs": (
        _entry("pseudo_huber", _pseudo_huber, "delta", lambda t: t, "Cinf", lambda d: d,
               note="sqrt(u**2 + delta**2) - delta: below |u| by less than delta."),
        _entry("log_cosh", _log_cosh, "tau", lambda t: t / LOG2, "Cinf", lambda tau: tau * LOG2,
               note="tau*log(cosh(u/tau)): below |u| by less than tau*log(2). The code hints "
                    "use logaddexp, so cosh never overflows."),
        _entry("huber", _huber_band, "delta", lambda t: 2 * t, "C1", lambda d: d / 2, band=True,
               note="Huber's function shifted up by delta/2: equal to |u| for |u| >= delta, "
                    "above it by at most delta/2 (at u = 0)."),
    ),
    "max": _MAX,
    "min": tuple(_negated_entry(e, _MIN_NAMES.get(e.name)) for e in _MAX),
    "clip": (
        _entry("softplus_clip", _via_clip(_soft_relu), "tau", lambda t: t / LOG2, "Cinf",
               lambda tau: tau * LOG2,
               note="lo + softplus_tau(u - lo) - softplus_tau(u - hi): within tau*log(2)."),
        _entry("quadratic_band_clip", _via_clip(_quadratic_relu), "delta", lambda t: 4 * t, "C1",
               lambda d: d / 4, band=True,
               note="Both corners rounded by (v + delta)**2/(4*delta) on |v| <= delta: exact "
                    "elsewhere, within delta/4."),
    ),
    "pinball": (
        _entry("softplus_pinball", _via_relu(_soft_relu), "tau", lambda t: t / LOG2, "Cinf",
               lambda tau: tau * LOG2,
               note="max(q*u, (q - 1)*u) = q*u + relu(-u) ~ q*u + tau*log(1 + exp(-u/tau)): "
                    "within tau*log(2)."),
        _entry("quadratic_band_pinball", _via_relu(_quadratic_relu), "delta", lambda t: 4 * t,
               "C1", lambda d: d / 4, band=True,
               note="q*u plus the quadratic relu of -u: exact for |u| >= delta, within delta/4."),
    ),
    "step": (
        _blend_entry("sigmoid", SIGMOID_SWITCH, lambda t: t / (2 * LOG2), sp.S.Half, _STEP_NOTE),
        _blend_entry("smoothstep", SMOOTHSTEP_SWITCH, lambda t: 8 * t / 3, sp.S.Half,
                     "C1 cubic step on |u| <= delta, exact outside; within 1/2 of the jump "
                     "inside, L1 error 3*delta/8."),
    ),
    "sign": (
        _blend_entry("tanh", TANH_SWITCH, lambda t: t / (2 * LOG2), sp.S.One,
                     "tanh(u/tau): no uniform bound below 1 (half the jump); L1 error "
                     "2*tau*log(2)."),
        _blend_entry("smoothstep_sign", SMOOTHSTEP_SWITCH, lambda t: 4 * t / 3, sp.S.One,
                     "2*smoothstep(u/delta) - 1: exact for |u| >= delta; L1 error 3*delta/4."),
    ),
    "indicator": (
        _blend_entry("sigmoid", SIGMOID_SWITCH, lambda t: t / (2 * LOG2), sp.S.Half,
                     _STEP_NOTE + " And/Or conditions combine the switches (product, "
                     "complement)."),
        _blend_entry("smoothstep", SMOOTHSTEP_SWITCH, lambda t: 8 * t / 3, sp.S.Half,
                     "C1 cubic step in the condition's margin: exact outside |margin| <= delta."),
    ),
    "piecewise": (
        _blend_entry("sigmoid_blend", SIGMOID_SWITCH, lambda t: t / (2 * LOG2), sp.S.Half,
                     "s*a + (1 - s)*b with s = sigmoid(g/tau), g the condition's margin: within "
                     "half the jump |a - b|, and within tau*W(1/e)*sup|(a - b)/g| where the "
                     "branches meet (a kink)."),
        _blend_entry("smoothstep_blend", SMOOTHSTEP_SWITCH, lambda t: 8 * t / 3, sp.S.Half,
                     "s*a + (1 - s)*b with a C1 cubic s on |g| <= delta: exact outside the "
                     "band."),
    ),
    "floor": (_staircase_entry(_staircase, _STAIRCASE_NOTE), _STRAIGHT_THROUGH),
    "round": (_staircase_entry(_staircase, "round(u) is floor(u + 1/2). " + _STAIRCASE_NOTE),
              _STRAIGHT_THROUGH),
    "ceiling": (_staircase_entry(_ceiling_staircase, "ceil(u) = -floor(-u). " + _STAIRCASE_NOTE),
                _STRAIGHT_THROUGH),
    "mod": (_staircase_entry(_mod_staircase, "Mod(a, b) = a - b*floor(a/b) with floor smoothed: "
                             "within |b|/2. " + _STAIRCASE_NOTE),),
    "root": (
        SurrogateEntry(
            "shifted_root", _shifted_root, "eps", lambda t, prim: t ** (1 / prim.parts[1]), "Cinf",
            lambda eps, prim: eps ** prim.parts[1],
            note="(b + eps)**p, 0 < p < 1: by Hoelder |(b + eps)**p - b**p| <= eps**p for b >= 0."),
    ),
    "acos": (_arc_entry(sp.acos),),
    "asin": (_arc_entry(sp.asin),),
    "log": (
        _entry("shifted_log", _shifted_log, "eps", lambda t: t, "Cinf", None,
               note="log(u + eps) keeps the gradient finite at u = 0, but it differs from log(u) "
                    "without bound as u -> 0: a note, not a bounded surrogate."),
    ),
}

#: families whose composer carries errors through a Lipschitz-1 primitive
LIPSCHITZ_FAMILIES = ("abs", "max", "min", "clip", "pinball")
SMOOTHNESS_RANK = {"C1": 1, "Cinf": 2}.__getitem__
BLEND_FAMILIES = ("step", "sign", "indicator", "piecewise")
STAIRCASE_FAMILIES = ("floor", "round", "ceiling", "mod")


