"""Smooth surrogates for non-smooth primitives, and for a whole loss, with proven error bounds.

``SURROGATES`` is the table: for each primitive family (``"abs"``, ``"max"``, ``"step"`` ...)
the smooth replacements diffcheck knows, each with its parameter, the parameter's default
for a target error, its smoothness, and ``bound(param)``: the supremum of
``|primitive - surrogate|`` over all inputs (``None`` when there is no uniform bound).

:func:`surrogates_for` lists the replacements of one non-smooth node (one finding);
:func:`smooth_loss` replaces every non-smooth node of a loss, innermost first, and proves a
bound on ``|loss - surrogate|`` over the whole domain; :func:`verify_surrogate` checks a
printed surrogate numerically before it is reported. The proof:

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

>>> f, y = sp.symbols("f y", real=True)
>>> s = smooth_loss(sp.Abs(f - y), [sp.Abs(f - y)])
>>> s["expression"], s["params"], s["max_error"], s["smoothness"]
('-delta + sqrt(delta**2 + (f - y)**2)', {'delta': 0.01}, 0.01, 'Cinf')
>>> s = smooth_loss(sp.exp(sp.Abs(f)), [sp.Abs(f)])
>>> s["expression"]
'exp(Piecewise((delta/2 + f**2/(2*delta), delta >= Abs(f)), (Abs(f), True)))'
>>> s["params"], s["max_error"], s["smoothness"]
({'delta': 0.02}, 0.01021, 'C1')
>>> smooth_loss(sp.exp(y) * sp.Abs(f), [sp.Abs(f)])["max_error"] is None
True
"""

from __future__ import annotations

import functools
import random
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath as mp
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pytorch import TorchPrinter

from diffcheck.intervals import DomainError, Interval, apply, enclose, number_interval, up
from diffcheck.numeric import as_sympy, compile_expr, concrete_model_functions, evaluate, to_mpf

#: decimal digits of the interval arithmetic behind every bound
BOUND_DIGITS = 40
#: significant digits kept in parameter values (rounded so the bound stays <= the target)
PARAM_DIGITS = 3
#: significant digits of a reported max_error (always rounded up)
ERROR_DIGITS = 4
#: at most this many band-limited nodes are split into cases (2**n walks)
MAX_BAND_CASES = 6
#: step of the one-sided difference quotients in verify_surrogate (as in the evaluation)
SLOPE_STEP = mp.mpf("1e-18")
#: relative slack for evaluation noise when verify_surrogate compares with max_error: some
#: bounds are attained exactly (floor at the integers) and sin(2*pi*k) is only ~1e-50 there
NOISE = mp.mpf("1e-30")



# --------------------------------------------------------------------------------------
# Numerically safe building blocks. They print as overflow-free NumPy/PyTorch calls and
# expand to standard SymPy functions in the reported expression.
# --------------------------------------------------------------------------------------


class _SafeFunction(sp.Function):
    """A smooth function with a standard SymPy form and overflow-free NumPy/PyTorch code."""

    def standard(self) -> sp.Expr:
        raise NotImplementedError


class safe_softplus(_SafeFunction):  # noqa: N801 (lower case: never a model function name)
    """log(1 + exp(x))."""

    nargs = 1

    def standard(self):
        return sp.log(1 + sp.exp(self.args[0]))


class safe_logsumexp(_SafeFunction):  # noqa: N801
    """log(exp(x1) + ... + exp(xn))."""

    def standard(self):
        return sp.log(sp.Add(*[sp.exp(a) for a in self.args]))


class safe_logcosh(_SafeFunction):  # noqa: N801
    """log(cosh(x))."""

    nargs = 1

    def standard(self):
        return sp.log(sp.cosh(self.args[0]))


class safe_sigmoid(_SafeFunction):  # noqa: N801
    """1/(1 + exp(-x))."""

    nargs = 1

    def standard(self):
        return 1 / (1 + sp.exp(-self.args[0]))


def standard_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every safe building block written with standard SymPy functions."""
    return expr.replace(lambda e: isinstance(e, _SafeFunction), lambda e: e.standard())


class _HintPrinting:
    """Safe building blocks and model functions for the NumPy and PyTorch printers."""

    SAFE: dict[str, str] = {}

    def _print_Function(self, expr):
        if isinstance(expr, AppliedUndef):  # a model function: the user's own callable
            return f"{expr.func.__name__}({', '.join(self._print(a) for a in expr.args)})"
        if isinstance(expr, _SafeFunction):
            args = [self._print(a) for a in expr.args]
            return self.SAFE[type(expr).__name__].format(*args, all=", ".join(args))
        return super()._print_Function(expr)


class _NumPyHints(_HintPrinting, NumPyPrinter):
    SAFE = {
        "safe_softplus": "np.logaddexp(0, {0})",
        "safe_logsumexp": "np.logaddexp.reduce([{all}], axis=0)",
        "safe_logcosh": "(np.logaddexp({0}, -({0})) - np.log(2))",
        "safe_sigmoid": "(0.5 + 0.5*np.tanh(0.5*({0})))",
    }


class _TorchHints(_HintPrinting, TorchPrinter):
    SAFE = {
        "safe_softplus": "torch.nn.functional.softplus({0})",
        "safe_logsumexp": "torch.logsumexp(torch.stack([{all}]), dim=0)",
        "safe_logcosh": "(torch.logaddexp({0}, -({0})) - math.log(2))",
        "safe_sigmoid": "torch.sigmoid({0})",
    }

    # torch.pow needs a tensor argument, but parameters are plain floats (delta**2):
    # Python's ** works for both
    def _print_Pow(self, expr, **kwargs):
        if expr.exp.is_Integer and expr.exp > 0:
            return f"{self.parenthesize(expr.base, 60)}**{expr.exp}"
        return super()._print_Pow(expr, **kwargs)

    # torch.max/torch.maximum need tensors on both sides: a constant becomes a clamp
    def _print_Max(self, expr):
        return self._extremum(expr, "torch.maximum", "min")

    def _print_Min(self, expr):
        return self._extremum(expr, "torch.minimum", "max")

    def _extremum(self, expr, pairwise: str, clamp_side: str) -> str:
        constants = [a for a in expr.args if a.is_number]
        code = ""
        for a in (a for a in expr.args if not a.is_number):
            code = f"{pairwise}({code}, {self._print(a)})" if code else self._print(a)
        for c in constants:
            code = f"torch.clamp({code}, {clamp_side}={self._print(c)})"
        return code


def _code(printer, expr: sp.Expr) -> str:
    # a hint is a convenience: a construct the printer cannot write must not sink the report
    try:
        return printer.doprint(expr)
    except Exception as exc:  # noqa: BLE001 (SymPy printers raise many kinds)
        return f"# not expressible: {type(exc).__name__}: {exc}"


def numpy_code(expr: sp.Expr) -> str:
    """NumPy code for ``expr`` (``np`` is numpy); safe blocks never overflow."""
    return _code(_NumPyHints(), expr).replace("numpy.", "np.")


def torch_code(expr: sp.Expr) -> str:
    """PyTorch code for ``expr``; safe blocks never overflow."""
    return _code(_TorchHints(), expr)


# --------------------------------------------------------------------------------------
# Recognising the non-smooth primitives
# --------------------------------------------------------------------------------------


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


def _positive(u: sp.Expr) -> Relational:
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
        branches = ((sp.S.One, _positive(u)), (sp.S.Zero, sp.true))
        if not (at_zero.is_number and bool(0 <= at_zero <= 1)):  # H(0) off the jump bound
            branches = ((sp.S.One, _positive(u)), (at_zero, sp.Eq(u, 0, evaluate=False)),
                        (sp.S.Zero, sp.true))
        return Primitive(node, "step", branches)
    if isinstance(node, sp.sign):
        branches = ((sp.S.One, _positive(node.args[0])), (sp.S.NegativeOne, sp.true))
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
    if isinstance(node, sp.log):
        return Primitive(node, "log", node.args)
    return None


def _relationals(condition) -> list:
    return sorted(condition.atoms(Relational), key=str) if isinstance(condition, sp.Basic) else []


def _switch_argument(relation: Relational) -> sp.Expr:
    """g with ``relation`` true exactly where g > 0 (or g >= 0)."""
    if isinstance(relation, (sp.StrictGreaterThan, sp.GreaterThan)):
        return relation.lhs - relation.rhs
    return relation.rhs - relation.lhs


def switching_functions(primitive: Primitive) -> list[sp.Expr]:
    """Functions g whose zero sets are where ``primitive`` switches branch."""
    family, parts = primitive.family, primitive.parts
    if family in ("abs", "root", "log"):
        return [parts[0]]
    if family in ("max", "min", "pinball"):
        return [a - b for a, b in itertools.combinations(parts, 2)]
    if family == "clip":
        return [parts[0] - parts[1], parts[0] - parts[2]]
    if family in ("step", "sign", "indicator", "piecewise"):
        return [_switch_argument(r) for _, c in parts for r in _relationals(c)]
    return []  # floor-like primitives switch on u = k for every integer k


# --------------------------------------------------------------------------------------
# Smooth switches for the blend families (step, sign, indicator, piecewise)
# --------------------------------------------------------------------------------------

#: sup over t >= 0 of t/(1 + exp(t)) = W(1/e) (Lambert W): where sigmoid blends a kink
_SIGMOID_KINK = sp.LambertW(sp.exp(-1))
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
    ``kink(p)`` bounds ``|g|*|indicator - s|`` (the error when the blended branches meet);
    a ``band`` switch equals the indicator outside ``|g| <= p``.
    """

    build: Callable[[sp.Expr, sp.Symbol], sp.Expr]
    slope: Callable[[sp.Expr], sp.Expr]
    kink: Callable[[sp.Expr], sp.Expr]
    band: bool = False


SIGMOID_SWITCH = Switch(lambda g, tau: safe_sigmoid(g / tau), lambda tau: 1 / (4 * tau),
                        lambda tau: tau * _SIGMOID_KINK)
#: sigmoid(2*g/tau) = (1 + tanh(g/tau))/2, so that sign(u) becomes tanh(u/tau)
TANH_SWITCH = Switch(lambda g, tau: (1 + sp.tanh(g / tau)) / 2, lambda tau: 1 / (2 * tau),
                     lambda tau: tau * _SIGMOID_KINK / 2)
SMOOTHSTEP_SWITCH = Switch(lambda g, delta: _smoothstep(g / delta), lambda delta: 3 / (4 * delta),
                           lambda delta: delta * _SMOOTHSTEP_KINK, band=True)


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
    return switch.build(_switch_argument(condition), p)


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
    "log": (
        _entry("shifted_log", _shifted_log, "eps", lambda t: t, "Cinf", None,
               note="log(u + eps) keeps the gradient finite at u = 0, but it differs from log(u) "
                    "without bound as u -> 0: a note, not a bounded surrogate."),
    ),
}

#: families whose composer carries errors through a Lipschitz-1 primitive
_LIPSCHITZ_FAMILIES = ("abs", "max", "min", "clip", "pinball")
_SMOOTHNESS_RANK = {"C1": 1, "Cinf": 2}.__getitem__
_BLEND_FAMILIES = ("step", "sign", "indicator", "piecewise")
_STAIRCASE_FAMILIES = ("floor", "round", "ceiling", "mod")


# --------------------------------------------------------------------------------------
# Exact error arithmetic: an error bound is a Fraction (exact) or math.inf. Interval ends
# enter as their exact binary values, already rounded upwards.
# --------------------------------------------------------------------------------------


def _fraction(x: mp.mpf) -> Fraction | float:
    """The exact value of an mpf; infinity stays math.inf."""
    if mp.isinf(x):
        return math.inf
    mantissa, exponent = mp.mpf(x).man_exp
    return Fraction(mantissa) * Fraction(2) ** exponent


def _mpf_up(x: Fraction | float) -> mp.mpf:
    return mp.inf if x == math.inf else up(mp.mpf(x.numerator) / x.denominator)


def _constant_bounds(value: sp.Expr) -> tuple:
    """Lower and upper bounds of a real constant, exact when it is rational."""
    value = as_sympy(value)
    if value.is_Rational:
        exact = Fraction(int(value.p), int(value.q))
        return exact, exact
    box = enclose(value)
    return (-math.inf, math.inf) if box is None else (_fraction(box.lo), _fraction(box.hi))


def _upper(value: sp.Expr) -> Fraction | float:
    return _constant_bounds(value)[1]


def _plus(*terms) -> Fraction | float:
    return math.inf if math.inf in terms else sum(terms, Fraction(0))


def _times(a, b) -> Fraction | float:
    if a == 0 or b == 0:  # an exact zero factor wins over an unbounded one
        return Fraction(0)
    return math.inf if math.inf in (a, b) else a * b


def _magnitude(box: Interval | None) -> Fraction | float:
    return math.inf if box is None else _fraction(box.magnitude())


def _hull(a: Interval | None, b: Interval | None) -> Interval | None:
    return a if b is None else b if a is None else a.hull(b)


def _decimal_unit(x: Fraction, digits: int) -> Fraction:
    """The unit of the last of ``digits`` significant decimal digits of ``x`` > 0."""
    exponent = math.floor(math.log10(x))
    while Fraction(10) ** exponent > x:
        exponent -= 1
    while Fraction(10) ** (exponent + 1) <= x:
        exponent += 1
    return Fraction(10) ** (exponent - digits + 1)


def _round_significant(x: Fraction, digits: int, upward: bool) -> Fraction:
    """``x`` > 0 rounded to ``digits`` significant decimal digits, up or down."""
    unit = _decimal_unit(x, digits)
    return (math.ceil(x / unit) if upward else math.floor(x / unit)) * unit


def _float_up(x: Fraction | float) -> float | None:
    """The reported max_error: a short decimal whose double is never below ``x``."""
    if x == math.inf:
        return None
    if x == 0:
        return 0.0
    rounded = _round_significant(x, ERROR_DIGITS, upward=True)
    if Fraction(float(rounded)) < rounded:  # the nearest double is a hair below: next decimal
        rounded += _decimal_unit(rounded, ERROR_DIGITS)
    return float(rounded)


def _exact(number) -> sp.Rational:
    return sp.Rational(repr(float(number)))


# --------------------------------------------------------------------------------------
# Plans: which node gets which entry and parameter
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """``primitive`` replaced by ``entry`` with parameter ``symbol`` set to ``value``."""

    primitive: Primitive
    entry: SurrogateEntry
    symbol: sp.Symbol | None
    value: sp.Rational | None

    def at_value(self, expr: sp.Expr) -> sp.Expr:
        return as_sympy(expr).xreplace({self.symbol: self.value}) if self.symbol else expr


def _flat_parts(primitive: Primitive) -> list[sp.Basic]:
    if primitive.family in _BLEND_FAMILIES:
        return [x for pair in primitive.parts for x in pair]
    return list(primitive.parts)


def _map_parts(primitive: Primitive, fn: Callable) -> tuple:
    if primitive.family in _BLEND_FAMILIES:
        return tuple((fn(v), fn(c)) for v, c in primitive.parts)
    return tuple(fn(p) for p in primitive.parts)


class _ParameterNames:
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
    exact = _constant_bounds(entry.default(target, primitive))[0]
    if exact <= 0:
        raise ValueError(f"target error {target} gives no positive parameter for {entry.name}")
    rounded = _round_significant(exact, PARAM_DIGITS, upward=False)
    return sp.Rational(rounded.numerator, rounded.denominator)


def _replacement(primitive: Primitive, entry: SurrogateEntry, target: sp.Rational,
                 names: _ParameterNames) -> Replacement:
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
    return (preferred or bounded or [None])[0]


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


def _primitives_to_replace(expr: sp.Expr, nonsmooth: Sequence[sp.Expr]) -> list[Primitive] | None:
    """The listed nodes, and every primitive a smooth surrogate also has to replace.

    The analyzer reports one node per non-smooth set, so a second primitive switching on the
    same set (``max(0, u) + abs(u)``) is added; so is every primitive nested with a replaced
    one, because smoothing one of them can expose the other (``sqrt(abs(u))``: a root of a
    smooth function that touches 0 has a kink). None: a listed node has no surrogate.
    """
    found = {}
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
            for part in _flat_parts(entries[e][0]):
                visit(part)
            return
        for a in getattr(e, "args", ()):
            visit(a)

    visit(expr)
    return [n for n in entries if n in reached]


def _plan(expr: sp.Expr, primitives: Sequence[Primitive], target: sp.Rational, band: bool,
          reserved: Iterable[str]) -> dict[sp.Expr, Replacement]:
    chosen = {p.node: (p, _choose_entry(p, band)) for p in primitives}
    names = _ParameterNames(reserved)
    return {node: _replacement(*chosen[node], target, names) for node in _reachable(expr, chosen)}


def _build(expr: sp.Expr, plan: dict[sp.Expr, Replacement]) -> sp.Expr:
    """The surrogate: planned nodes replaced bottom-up (with safe building blocks)."""
    memo: dict = {}

    def rebuild(e):
        if e in memo:
            return memo[e]
        if e in plan:
            rep = plan[e]
            result = rep.entry.formula(_map_parts(rep.primitive, rebuild), rep.symbol)
        elif isinstance(e, Relational):  # as written: see _positive
            result = e.func(rebuild(e.lhs), rebuild(e.rhs), evaluate=False)
        elif isinstance(e, sp.Basic) and e.args:
            result = e.func(*[rebuild(a) for a in e.args])
        else:
            result = e
        memo[e] = result
        return result

    return rebuild(expr)


# --------------------------------------------------------------------------------------
# The proof: ranges and error bounds, bottom-up
# --------------------------------------------------------------------------------------


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


def _simplified(expr: sp.Expr) -> sp.Expr:
    """``expr`` with its branches folded and cancelled, for tight interval bounds."""
    folded = sp.piecewise_fold(expr)
    if isinstance(folded, sp.Piecewise):
        return sp.Piecewise(*[(sp.cancel(sp.expand(e)), c) for e, c in folded.args])
    return sp.cancel(sp.expand(folded))


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

    def blame(self, reason: str) -> Fraction | float:
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
                error = min(error, _fraction(spread.width))
            if error != math.inf:
                surrogate = surrogate.intersect(values.widen(_mpf_up(error))) or surrogate
        return _NodeBound(values, surrogate, error)

    # ---- nodes the surrogate keeps -------------------------------------------------
    def _operation(self, e) -> _NodeBound:
        args = [self(a) for a in e.args]
        values = apply(e, [a.values for a in args])
        surrogate = apply(e, [a.surrogate for a in args])
        errors = [a.error for a in args]
        if all(x == 0 for x in errors):
            error = Fraction(0)
        elif isinstance(e, sp.Add):
            error = _plus(*errors)
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

    def _through_derivatives(self, e, args) -> Fraction | float:
        """Mean value theorem: sum of sup|d e/d arg| * error(arg) over the joint box."""
        slots = _partials(e.func, tuple(None if not a.is_number else a for a in e.args))
        box = {dummy: _hull(args[i].values, args[i].surrogate) or Interval.whole()
               for i, dummy, _ in slots}
        total = Fraction(0)
        for i, _, partial in slots:
            if args[i].error == 0:
                continue
            try:
                factor = _magnitude(enclose(partial, box, strict=True))
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
            total = _plus(total, _times(factor, args[i].error))
        return total

    def _hoelder(self, e, args) -> Fraction | float:
        """|a**p - b**p| <= |a - b|**p for a, b >= 0 and 0 < p < 1."""
        (base, _), p = args, e.args[1]
        if not (p.is_number and p.is_real and bool(0 < p < 1)):
            return math.inf
        if base.surrogate is None or base.surrogate.lo < 0 or base.error == math.inf:
            return math.inf
        return _upper(sp.Pow(sp.Rational(base.error.numerator, base.error.denominator), p))

    def _piecewise(self, e) -> _NodeBound:
        branches = [self(pair.expr) for pair in e.args]
        sides = [s for pair in e.args for r in _relationals(pair.cond) for s in (r.lhs, r.rhs)]
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

    def own_error(self, rep: Replacement) -> Fraction | float:
        """The table bound of the replacement (0 where a band entry is exact)."""
        if self.out_of_band(rep):
            return Fraction(0)
        return _upper(rep.at_value(rep.entry.bound(rep.symbol, rep.primitive)))

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
    error = _plus(walk.own_error(rep), max(p.error for p in parts))
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _deviation(walk: _ErrorWalk, rep: Replacement, condition) -> Fraction | float:
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
        kept = Fraction(1)
        for d in deviations:
            kept *= 1 - d
        return max(1 - kept, max(deviations))
    if isinstance(condition, (sp.Eq, sp.Ne)):
        return Fraction(1)
    margin_error = _plus(walk(condition.lhs).error, walk(condition.rhs).error)
    if margin_error == 0 and walk.out_of_band(rep):
        return Fraction(0)
    slope = _upper(rep.at_value(rep.entry.switch.slope(rep.symbol)))
    return min(Fraction(1), _plus(Fraction(1, 2), _times(slope, margin_error)))


def _boundary_split(gap: sp.Expr, margin: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(at_boundary, slope) with gap = at_boundary + slope*margin, at_boundary free of the
    variable solved for: gap where the margin vanishes, along a variable the margin is
    linear in (else 0, which leaves slope = gap/margin)."""
    for x in sorted(margin.free_symbols, key=str):
        coefficient = sp.diff(margin, x)
        if coefficient.is_number and coefficient != 0:
            at_boundary = sp.expand(gap.subs(x, sp.expand(x - margin / coefficient)))
            return at_boundary, _simplified((gap - at_boundary) / margin)
    return sp.S.Zero, _simplified(gap / margin)


def _jump_error(walk: _ErrorWalk, rep: Replacement, value, rest, condition) -> Fraction | float:
    """sup |(indicator - s)*(value - rest)|.

    Half the jump in general. With an exact margin g, the gap splits as D0 + k*g (D0: the
    gap on the switching set), and |indicator - s(g)|*|g| <= kink(p) gives the often much
    smaller dev*sup|D0| + sup|k|*kink(p): a kink (D0 = 0) costs O(p), a jump half of D0.
    """
    deviation = _deviation(walk, rep, condition)
    if deviation == 0:
        return Fraction(0)
    gap = _simplified(value - rest)
    error = _times(deviation, _magnitude(enclose(gap, walk.overrides)))
    exact_margin = (isinstance(condition, Relational) and not isinstance(condition, (sp.Eq, sp.Ne))
                    and walk(condition.lhs).error == 0 and walk(condition.rhs).error == 0)
    if exact_margin:
        at_boundary, slope = _boundary_split(gap, _switch_argument(condition))
        kink = _upper(rep.at_value(rep.entry.switch.kink(rep.symbol)))
        split = _plus(_times(deviation, _magnitude(enclose(at_boundary, walk.overrides))),
                      _times(_magnitude(enclose(slope, walk.overrides)), kink))
        error = min(error, split)
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
        jump = _jump_error(walk, rep, value, rest_expr, condition)
        error = _plus(jump, max(branch.error, error))
        values, surrogate = _hull(values, branch.values), _hull(surrogate, branch.surrogate)
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
            error = _times(own, _magnitude(modulus.values))
    elif parts[0].error == 0:
        error = own
    else:
        # Both floor(v) - v and staircase(v) - v lie in an interval of width 1.
        lipschitz = _upper(rep.at_value(rep.entry.lipschitz(rep.symbol)))
        through_surrogate = _plus(own, _times(lipschitz, parts[0].error))
        error = min(through_surrogate, _plus(Fraction(1), parts[0].error))
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _compose_root(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    """b**p -> (b' + eps)**p: |b**p - (b' + eps)**p| <= (|b - b'| + eps)**p (Hoelder)."""
    base_expr, exponent = rep.primitive.parts
    base = walk(base_expr)
    eps = Fraction(int(rep.value.p), int(rep.value.q))
    # the shifted root must be real wherever the loss is: b' + eps >= 0 when b >= 0
    lowest = base.surrogate.lo if base.surrogate is not None else -mp.inf
    if base.error > eps and lowest < -_mpf_up(eps):
        error = walk.blame(f"the surrogate of {base_expr} may fall below -{rep.symbol}, where "
                           f"{rep.entry.name} is undefined")
    elif base.error == math.inf:
        error = math.inf  # the inner node already said why
    else:
        total = _plus(base.error, eps)
        error = _upper(sp.Pow(sp.Rational(total.numerator, total.denominator), exponent))
    parts = (base, walk(exponent))
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


def _compose_unbounded(walk: _ErrorWalk, rep: Replacement) -> _NodeBound:
    parts = [walk(p) for p in rep.primitive.parts]
    error = walk.blame(f"{rep.entry.name} has no uniform error bound for {rep.primitive.node}")
    return walk.finish(walk.primitive_range(rep, parts),
                       walk.surrogate_range(rep, [p.surrogate for p in parts]), error)


COMPOSERS: dict[str, Callable[[_ErrorWalk, Replacement], _NodeBound]] = {
    **{family: _compose_lipschitz for family in _LIPSCHITZ_FAMILIES},
    **{family: _compose_blend for family in _BLEND_FAMILIES},
    **{family: _compose_staircase for family in _STAIRCASE_FAMILIES},
    "root": _compose_root,
    "log": _compose_unbounded,
}


# ---- band-limited cases ----------------------------------------------------------------


def _band_region(rep: Replacement) -> tuple[sp.Expr, Interval] | None:
    """(g, interval): where a band entry differs from its primitive, if one g says it."""
    primitive, delta = rep.primitive, number_interval(rep.value).hi
    band = Interval(-delta, delta)
    if primitive.family == "abs":
        return primitive.parts[0], band
    if primitive.family in ("max", "min", "pinball") and len(primitive.parts) == 2:
        return primitive.parts[0] - primitive.parts[-1], band
    if primitive.family == "clip":
        u, lo, hi = primitive.parts
        return u, Interval(number_interval(lo).lo - delta, number_interval(hi).hi + delta)
    if primitive.family in _BLEND_FAMILIES:
        margins = {_switch_argument(r) for _, c in primitive.parts for r in _relationals(c)}
        if len(margins) == 1:
            return margins.pop(), band
    return None


def _solved(expr: sp.Expr, box: Interval) -> dict[sp.Expr, Interval]:
    """``expr`` in ``box``, and what follows for the inner term of c + k*term."""
    implied = {expr: box}
    while not expr.is_number:
        constant, rest = expr.as_coeff_Add()
        if constant != 0:
            expr, box = rest, box - number_interval(constant)
        else:
            factor, rest = expr.as_coeff_Mul()
            if factor in (0, 1):
                break
            expr, box = rest, box / number_interval(factor)
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
            merged[key] = box if key not in merged else merged[key].intersect(box)
            if merged[key] is None:
                return None
    return merged


def _has_exact_parts(rep: Replacement, plan) -> bool:
    return not any(part.has(node) for part in _flat_parts(rep.primitive) for node in plan
                   if isinstance(part, sp.Basic))


@dataclass(frozen=True)
class _Proof:
    error: Fraction | float
    culprit: str | None
    #: band-limited nodes split into cases, and those inside their band in the worst case
    banded: tuple = ()
    worst_inside: tuple = ()


def _prove(expr: sp.Expr, plan: dict[sp.Expr, Replacement]) -> _Proof:
    """sup |expr - surrogate| over the domain: the worst case of the band split."""
    banded = [n for n, rep in plan.items() if rep.entry.band and _has_exact_parts(rep, plan)]
    if len(banded) > MAX_BAND_CASES:
        banded = []  # too many cases: every band entry counts its error everywhere
    worst = _Proof(Fraction(0), None, tuple(banded))
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
                worst = _Proof(error, walk.culprit, tuple(banded), inside)
    return worst


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _entry_report(primitive: Primitive, entry: SurrogateEntry, target: sp.Rational) -> dict:
    """One item of a finding's ``surrogates`` list."""
    node = primitive.node
    rep = _replacement(primitive, entry, target, _ParameterNames(s.name for s in node.free_symbols))
    if entry.numpy:  # a gradient rule: there is no replacement expression to print
        u = primitive.parts[0]
        replacement = u
        numpy_hint, torch_hint = (entry.numpy.format(u=numpy_code(u)),
                                  entry.torch.format(u=torch_code(u)))
    else:
        replacement = entry.formula(primitive.parts, rep.symbol)
        numpy_hint, torch_hint = numpy_code(replacement), torch_code(replacement)
    bounded = entry.replaces and entry.bound is not None
    max_error = _float_up(_prove(node, {node: rep}).error) if bounded else None
    return {
        "name": entry.name,
        "replace": str(node),
        "with": str(standard_form(replacement)),
        "params": {rep.symbol.name: float(rep.value)} if rep.symbol else {},
        "max_error": max_error,
        "smoothness": entry.smoothness,
        "note": entry.note,
        "numpy": numpy_hint,
        "torch": torch_hint,
    }


def surrogates_for(node: sp.Expr, target_error: float = 0.01) -> list[dict]:
    """Every table entry that replaces ``node``, with its proven bound for this node.

    ``max_error`` is sup |node - replacement| over all inputs, rounded up (None: no uniform
    bound, or not a replacement); parameters are set for ``target_error``.

    >>> u = sp.Symbol("u", real=True)
    >>> reports = surrogates_for(sp.Max(0, u))
    >>> [r["name"] for r in reports]
    ['softplus', 'rennie_srebro', 'quadratic_band', 'squared_hinge']
    >>> [r["max_error"] for r in reports]
    [0.009983, 0.01, 0.01, None]
    >>> surrogates_for(sp.Abs(u))[0]["with"]
    '-delta + sqrt(delta**2 + u**2)'
    """
    primitive = recognize(node)
    if primitive is None:
        return []
    with mp.workdps(BOUND_DIGITS):
        target = _exact(target_error)
        return [_entry_report(primitive, entry, target)
                for entry in SURROGATES[primitive.family] if entry.applies(primitive)]


def _describe(plan: dict[sp.Expr, Replacement], proof: _Proof, rejected: _Proof | None) -> str:
    """How the bound was composed, or why there is none."""
    steps = []
    for rep in plan.values():
        bound = rep.entry.bound(rep.symbol, rep.primitive) if rep.entry.bound else None
        own = f", own error <= {bound}" if bound is not None else ", no uniform bound"
        steps.append(f"{rep.primitive.node} -> {rep.entry.name} ({rep.symbol} = "
                     f"{float(rep.value):g}{own})")
    text = "Replaced " + "; ".join(steps) + "."
    if rejected is not None:
        text += (f" The C-infinity replacements give no finite bound ({rejected.culprit}), so "
                 "band-limited C1 replacements are used.")
    if proof.error == math.inf:
        return text + f" No finite bound on |loss - surrogate|: {proof.culprit}."
    text += (" Bound composed bottom-up: each replacement adds its own error to its arguments' "
             "error (carried with Lipschitz constant 1 through abs/max/min/clip, by Hoelder "
             "through roots); every other operation carries errors by the supremum of its "
             "derivatives over the values reached (interval arithmetic).")
    if proof.banded:
        inside = ", ".join(str(n) for n in proof.worst_inside) or "none"
        text += (" Band-limited replacements are exact outside their bands, so the bound is the "
                 f"worst over which of them are inside (worst case: {inside}).")
    return text + f" max_error = {_float_up(proof.error)}."


def smooth_loss(expr: sp.Expr, nonsmooth: Sequence[sp.Expr], target_error: float = 0.01,
                reserved_names: Iterable[str] = ()) -> dict | None:
    """A smooth surrogate of the whole loss and a proven bound on |loss - surrogate|.

    Every node of ``nonsmooth`` (and every primitive that has to go with it, see
    :func:`_primitives_to_replace`) is replaced bottom-up by the first C-infinity entry of its
    family; if that gives no finite bound, by band-limited C1 entries. ``max_error`` is None
    when neither gives a finite bound; ``message`` says why. None when ``nonsmooth`` is
    empty or holds a node with no surrogate.

    >>> f = sp.Symbol("f", real=True)
    >>> s = smooth_loss(sp.sqrt(sp.Abs(f - 1)), [sp.Abs(f - 1)])
    >>> s["expression"], s["params"], s["max_error"]
    ('sqrt(-delta + eps + sqrt(delta**2 + (f - 1)**2))', {'delta': 0.01, 'eps': 0.0001}, 0.1005)
    """
    built = build_smooth_loss(expr, nonsmooth, target_error, reserved_names)
    return None if built is None else built.report


@dataclass(frozen=True)
class SmoothLoss:
    """The report dict of a whole-loss surrogate and the SymPy expression it prints.

    ``expression`` has the parameter values substituted, exactly as ``params`` round them,
    so that checks run on what users get without ever parsing text.
    """

    report: dict
    expression: sp.Expr


def build_smooth_loss(expr: sp.Expr, nonsmooth: Sequence[sp.Expr], target_error: float = 0.01,
                      reserved_names: Iterable[str] = ()) -> SmoothLoss | None:
    """The whole-loss surrogate and its proof (see :func:`smooth_loss`)."""
    if not nonsmooth:
        return None
    with mp.workdps(BOUND_DIGITS):
        primitives = _primitives_to_replace(expr, list(nonsmooth))
        if primitives is None:
            return None
        target = _exact(target_error)
        reserved = set(reserved_names) | {s.name for s in expr.free_symbols}
        plan = _plan(expr, primitives, target, False, reserved)
        proof, rejected = _prove(expr, plan), None
        if proof.error == math.inf:
            banded_plan = _plan(expr, primitives, target, True, reserved)
            if any(r.entry.band for r in banded_plan.values()):
                banded_proof = _prove(expr, banded_plan)
                if banded_proof.error != math.inf:
                    plan, proof, rejected = banded_plan, banded_proof, proof
        surrogate = _build(expr, plan)
        report = {
            "expression": str(standard_form(surrogate)),
            "params": {r.symbol.name: float(r.value) for r in plan.values() if r.symbol},
            "max_error": _float_up(proof.error),
            "smoothness": min((r.entry.smoothness for r in plan.values()), key=_SMOOTHNESS_RANK),
            "message": _describe(plan, proof, rejected),
            "numpy": numpy_code(surrogate),
            "torch": torch_code(surrogate),
        }
        values = {r.symbol: sp.Rational(repr(float(r.value))) for r in plan.values() if r.symbol}
        return SmoothLoss(report, standard_form(surrogate).xreplace(values))


def _one_sided_slopes(fn: Callable, point: list, direction: list) -> tuple:
    with mp.workdps(60):
        center = evaluate(fn, point)
        ahead = evaluate(fn, [p + SLOPE_STEP * d for p, d in zip(point, direction)])
        behind = evaluate(fn, [p - SLOPE_STEP * d for p, d in zip(point, direction)])
        if center is None or ahead is None or behind is None:
            return None, None
        return (ahead - center) / SLOPE_STEP, (center - behind) / SLOPE_STEP


def verify_surrogate(expr: sp.Expr, smooth: SmoothLoss, points: list[dict[str, float]],
                     singular_points: list[dict]) -> tuple[bool, str]:
    """Check a surrogate numerically (mpmath, 50+ digits) with its printed parameter values.

    |expr - S| <= max_error (up to evaluation noise, NOISE) at every point of ``points``
    where expr is defined (S must be defined there too), and at every point of
    ``singular_points`` (the old kinks and jumps) the one-sided difference quotients of S at
    step 1e-18 agree along every variable. Variables missing from a point are set to 1/3.
    """
    surrogate = smooth.report
    smooth = smooth.expression
    symbols = sorted(expr.free_symbols | smooth.free_symbols, key=lambda s: s.name)
    loss_fn = compile_expr(concrete_model_functions(expr), symbols)
    smooth_fn = compile_expr(concrete_model_functions(smooth), symbols)
    bound = surrogate.get("max_error")

    def coordinate(number) -> mp.mpf:
        # a float stands for the decimal it prints as (0.1 is 1/10, as a user means it)
        return to_mpf(sp.Rational(repr(number)) if isinstance(number, float) else number)

    def coordinates(point):
        return [coordinate(point.get(s.name, sp.Rational(1, 3))) for s in symbols]

    for point in points:
        exact = evaluate(loss_fn, coordinates(point))
        approx = evaluate(smooth_fn, coordinates(point))
        if exact is None:
            continue
        if approx is None:
            return False, f"the surrogate is undefined at {point}"
        if bound is not None and abs(exact - approx) > bound * (1 + NOISE) + NOISE:
            return False, (f"|loss - surrogate| = {mp.nstr(abs(exact - approx), 6)} exceeds "
                           f"max_error = {bound} at {point}")
    for point in singular_points:
        for index, variable in enumerate(symbols):
            direction = [1 if j == index else 0 for j in range(len(symbols))]
            right, left = _one_sided_slopes(smooth_fn, coordinates(point), direction)
            if right is None:
                return False, f"the surrogate is undefined next to {point}"
            if abs(right - left) > mp.mpf("1e-6") * (1 + abs(right)) or abs(right) > 1e6:
                return False, (f"the surrogate is not differentiable in {variable} at {point}: "
                               f"slopes {mp.nstr(left, 6)} and {mp.nstr(right, 6)}")
    return True, "ok"


#: where the whole-loss surrogate's bound is checked: a grid per variable, near and far
CHECK_VALUES = ([sp.Rational(k, 4) for k in range(-16, 17)]
                + [sp.Integer(v) for v in (-1000, -50, 50, 1000)])
CHECK_POINTS = 40


def checked_surrogate(expr: sp.Expr, nonsmooth: Sequence[sp.Expr], singular_points: list[dict],
                      smooth_scale: float, reserved_names: Iterable[str] = ()) -> dict | None:
    """The whole-loss surrogate, printed only after a numeric check of what it claims.

    The bound is a proof (interval arithmetic); the check guards the proof's implementation:
    |loss - surrogate| <= max_error at sampled points and at ``singular_points`` (the former
    kinks and jumps, ``{name: number}``), where the surrogate must also be differentiable.
    A failed check withdraws the bound (max_error null) and says why.
    """
    built = build_smooth_loss(expr, nonsmooth, smooth_scale, reserved_names=reserved_names)
    if built is None:
        return None
    rng = random.Random(5)
    names = sorted(s.name for s in expr.free_symbols)
    points = [{n: rng.choice(CHECK_VALUES) for n in names} for _ in range(CHECK_POINTS)]
    ok, why = verify_surrogate(expr, built, points + singular_points, singular_points)
    report = dict(built.report)
    if not ok and report.get("max_error") is not None:
        report["max_error"] = None
        report["message"] = (f"{report.get('message', '')} Numeric check failed, bound "
                             f"withdrawn: {why}").strip()
    return report
