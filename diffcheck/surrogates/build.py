"""The surrogate of one non-smooth node and of a whole loss, with its proven bound.

>>> import sympy as sp
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

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mpmath as mp
import sympy as sp

from diffcheck.printing import expression_text
from diffcheck.surrogates.exact import exact_rational, float_up
from diffcheck.surrogates.planning import (
    ParameterNames,
    Replacement,
    build_surrogate,
    make_plan,
    make_replacement,
    primitives_to_replace,
)
from diffcheck.surrogates.printers import numpy_code, standard_form, torch_code
from diffcheck.surrogates.proof import Proof, prove
from diffcheck.surrogates.recognition import Primitive, recognize
from diffcheck.surrogates.table import SMOOTHNESS_RANK, SURROGATES, SurrogateEntry

#: decimal digits of the interval arithmetic behind every bound
BOUND_DIGITS = 40




def _entry_report(primitive: Primitive, entry: SurrogateEntry, target: sp.Rational,
                  node_text: str) -> dict:
    """One item of a finding's ``surrogates`` list (``node_text``: the node, printed once for
    all its entries: a sort's gather prints in a second)."""
    node = primitive.node
    names = ParameterNames(s.name for s in node.free_symbols)
    rep = make_replacement(primitive, entry, target, names)
    if entry.numpy:  # a gradient rule: there is no replacement expression to print
        u = primitive.parts[0]
        replacement = u
        numpy_hint, torch_hint = (entry.numpy.format(u=numpy_code(u)),
                                  entry.torch.format(u=torch_code(u)))
    else:
        replacement = entry.formula(primitive.parts, rep.symbol)
        numpy_hint, torch_hint = numpy_code(replacement), torch_code(replacement)
    bounded = entry.replaces and entry.bound is not None
    max_error = float_up(prove(node, {node: rep}).error) if bounded else None
    return {
        "name": entry.name,
        "replace": node_text,
        "with": expression_text(standard_form(replacement)),
        "params": rep.parameter,
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
    [0.009982, 0.01, 0.01, None]
    >>> surrogates_for(sp.Abs(u))[0]["with"]
    '-delta + sqrt(delta**2 + u**2)'
    """
    primitive = recognize(node)
    if primitive is None:
        return []
    with mp.workdps(BOUND_DIGITS):
        target = exact_rational(target_error)
        node_text = expression_text(node)
        return [_entry_report(primitive, entry, target, node_text)
                for entry in SURROGATES[primitive.family] if entry.applies(primitive)]


def _describe(plan: dict[sp.Expr, Replacement], proof: Proof, rejected: Proof | None) -> str:
    """How the bound was composed, or why there is none."""
    steps = []
    for rep in plan.values():
        bound = rep.entry.bound(rep.symbol, rep.primitive) if rep.entry.bound else None
        own = f", own error <= {bound}" if bound is not None else ", no uniform bound"
        parameter = ", ".join(f"{name} = {value:g}" for name, value in rep.parameter.items())
        steps.append(f"{expression_text(rep.primitive.node)} -> {rep.entry.name} ({parameter}{own})")
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
    return text + f" max_error = {float_up(proof.error)}."


def smooth_loss(expr: sp.Expr, nonsmooth: Sequence[sp.Expr], target_error: float = 0.01,
                reserved_names: Iterable[str] = ()) -> dict | None:
    """A smooth surrogate of the whole loss and a proven bound on |loss - surrogate|.

    Every node of ``nonsmooth`` (and every primitive that has to go with it, see
    :func:`primitives_to_replace`) is replaced bottom-up by the first C-infinity entry of its
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
        primitives = primitives_to_replace(expr, list(nonsmooth))
        if primitives is None:
            return None
        target = exact_rational(target_error)
        reserved = set(reserved_names) | {s.name for s in expr.free_symbols}
        plan = make_plan(expr, primitives, target, False, reserved)
        proof, rejected = prove(expr, plan), None
        if proof.error == math.inf:
            banded_plan = make_plan(expr, primitives, target, True, reserved)
            if any(r.entry.band for r in banded_plan.values()):
                banded_proof = prove(expr, banded_plan)
                if banded_proof.error != math.inf:
                    plan, proof, rejected = banded_plan, banded_proof, proof
        surrogate = build_surrogate(expr, plan)
        written = standard_form(surrogate)
        report = {
            "expression": expression_text(written),
            "params": {name: value for r in plan.values() for name, value in r.parameter.items()},
            "max_error": float_up(proof.error),
            "smoothness": min((r.entry.smoothness for r in plan.values()), key=SMOOTHNESS_RANK),
            "message": _describe(plan, proof, rejected),
            "numpy": numpy_code(surrogate),
            "torch": torch_code(surrogate),
        }
        values = {r.symbol: sp.Rational(repr(float(r.value))) for r in plan.values()
                  if r.symbol is not None and r.value is not None}
        return SmoothLoss(report, written.xreplace(values))


