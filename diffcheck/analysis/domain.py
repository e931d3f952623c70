"""Warnings about the domain (log, roots, acos, divisions) and the zero-gradient finding.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> [(node, argument) for node, argument, _, _ in singular_arguments(sp.log(x) + sp.acos(x))]
[(acos(x), 1 - x**2), (log(x), x)]
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence

import mpmath as mp
import sympy as sp

from diffcheck.analysis.localize import PointBranches
from diffcheck.model import Finding
from diffcheck.numeric import TINY, compile_expr, evaluate, to_mpf
from diffcheck.parser import ParsedExpression
from diffcheck.primitives.switching import DOMAINS, Ambiguous
from diffcheck.rules import rule_for
from diffcheck.sets import equation_text, points_on_set

#: distances at which a pole is watched growing
POLE_STEPS = (mp.mpf("1e-8"), mp.mpf("1e-16"), mp.mpf("1e-24"))


def singular_arguments(expr: sp.Expr) -> Iterator[tuple[sp.Expr, sp.Expr, bool, bool]]:
    """(node, argument, needs_nonnegative, can_pole) for log, roots, divisions, tan, acos
    (the registry's :data:`~diffcheck.primitives.switching.DOMAINS`)."""
    for node in sp.preorder_traversal(expr):
        rule = DOMAINS.get(type(node))
        if rule is not None:
            yield from rule(node)


def _undefined_where_negative(u: sp.Expr, symbols: Sequence[sp.Symbol], loss_fn: Callable,
                              seed: int) -> bool:
    """Whether some sampled point has ``u < 0`` and the loss itself undefined there.

    The loss must be undefined too: in ``where(x > 0, log(x), 0)`` log never sees x < 0.
    """
    if u.is_nonnegative:
        return False
    fn = compile_expr(u, tuple(symbols))
    rng = random.Random(seed)
    for scale in (1, 3, 10, 100):
        for _ in range(12):
            values = [rng.uniform(-scale, scale) for _ in symbols]
            v = evaluate(fn, values)
            if v is not None and v < 0 and evaluate(loss_fn, values) is None:
                return True
    return False


def _blows_up(loss_fn: Callable, symbols: Sequence[sp.Symbol], point: dict, u: sp.Expr) -> bool:
    """|L| keeps growing as the point is approached along an axis (even as slowly as log)."""
    for s in symbols:
        if sp.diff(u, s) == 0:
            continue
        for side in (1, -1):
            readings = [evaluate(loss_fn, [to_mpf(point[x]) + (side * t if x == s else 0)
                                           for x in symbols]) for t in POLE_STEPS]
            values = [v for v in readings if v is not None]
            if len(values) == len(readings) and all(abs(b) > abs(a) + 1
                                                    for a, b in itertools.pairwise(values)):
                return True
    return False


def domain_findings(parsed: ParsedExpression, concrete: Callable[[sp.Expr], sp.Expr],
                    symbols: Sequence[sp.Symbol], loss_fn: Callable, seed: int) -> list[Finding]:
    """Warnings: where log, roots, acos and divisions leave the real domain or blow up."""
    findings: list[Finding] = []
    seen = set()
    for node, argument, needs_nonnegative, can_pole in singular_arguments(parsed.expr):
        if (node, argument) in seen:
            continue
        seen.add((node, argument))
        u = concrete(argument)
        if not u.free_symbols or u.is_positive:
            continue
        where = equation_text(argument)
        quoted = parsed.snippets.get(node, str(node))
        column = parsed.spans.get(node)
        undefined_negative = (needs_nonnegative
                              and _undefined_where_negative(u, symbols, loss_fn, seed))
        if undefined_negative:
            rule = rule_for("domain")
            need = "> 0" if can_pole else ">= 0"
            findings.append(Finding(
                rule.code, "domain",
                rule.format(cause=quoted, region=f"{argument} < 0",
                            requirement=f" (it needs {argument} {need})"),
                str(node), where, column=column,
            ))
        if can_pole:
            zeros = points_on_set(u, symbols, symbols, seed=seed, want=2)
            if any(_blows_up(loss_fn, symbols, point, u) for point in zeros):
                rule = rule_for("pole")
                findings.append(Finding(rule.code, "pole", rule.format(cause=quoted, where=where),
                                        str(node), where, confirmed=True, column=column))
            elif not undefined_negative and any(
                    evaluate(loss_fn, [p[x] for x in symbols]) is None for p in zeros):
                # bounded but undefined there (x/abs(x) at 0): a hole in the domain
                rule = rule_for("domain")
                findings.append(Finding(
                    rule.code, "domain",
                    rule.format(cause=parsed.source.strip(), region=where, requirement=""),
                    str(node), where, column=column,
                ))
    return findings


def has_zero_gradient(loss: sp.Expr, symbols: Sequence[sp.Symbol], w: sp.Symbol,
                      seed: int) -> bool:
    """True when the local derivative in ``w`` vanishes at every sampled generic point."""
    rng = random.Random(seed)
    seen_points = 0
    for scale in (1, 10, 100):
        for _ in range(4):
            values = {s: mp.mpf(rng.uniform(-scale, scale)) for s in symbols}
            try:
                local = PointBranches(symbols, values)(loss)
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
