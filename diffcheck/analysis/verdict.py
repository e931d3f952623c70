"""The analysis of one parsed loss: its findings, smoothness class, gradient and assumptions.

:func:`analyze` decides every candidate set, names each non-smooth set once (by the primitive
whose own kind of failure it is: the root, not the abs, in ``sqrt(abs(u))``), and adds the
domain, pole and zero-gradient findings. It returns an :class:`Analysis` and prints nothing;
the api runs the probe and the surrogates on it afterwards.

>>> from diffcheck.parser import parse
>>> analysis = analyze(parse("relu(abs(u) - 1)"), ["u"])
>>> [(f.code, f.where) for f in analysis.findings]
[('DC102', 'Abs(u) = 1')]
>>> analyze(parse("sign(u)*u**4"), ["u"]).smoothness
'C3'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import mpmath as mp
import sympy as sp

from diffcheck.analysis.candidates import (
    KIND_RANK,
    CandidateOutcome,
    crossing_sets,
    decide_candidate,
    label_points,
    propose_candidates,
)
from diffcheck.analysis.domain import domain_findings, has_zero_gradient
from diffcheck.analysis.masking import Label, where_text
from diffcheck.analysis.sides import SideComparison
from diffcheck.model import Finding
from diffcheck.numeric import (
    DIGITS,
    compile_expr,
    concrete_model_functions,
    free_symbols,
    partial_derivative,
    sizes,
)
from diffcheck.parser import ParsedExpression
from diffcheck.primitives.switching import FAMILIES, Candidate
from diffcheck.printing import expression_text
from diffcheck.rules import NON_DIFFERENTIABLE_KINDS, rule_for
from diffcheck.sets import same_set

#: beyond this many candidate sets (a max of 30 arguments has 435) the analysis stops
MAX_CANDIDATES = 250
#: longest quote of the whole input in a message
MESSAGE_QUOTE = 60


class AnalysisLimit(Exception):
    """The expression is too large to analyse in bounded time: an error of kind "limit"."""


@dataclass
class NonSmooth:
    """A kink, jump or infinite-slope finding and what it was decided from."""

    finding: Finding
    candidate: Candidate
    comparison: SideComparison
    #: every primitive that switches on this set (abs(x) + relu(x): both), for surrogates
    nodes: list[sp.Expr] = field(default_factory=list)


@dataclass
class Analysis:
    """What the analysis found; the probe and the surrogate stages complete it."""

    parsed: ParsedExpression
    symbols: list[sp.Symbol]
    wrt: list[sp.Symbol]
    #: the loss with model functions replaced by concrete smooth stand-ins
    loss: sp.Expr
    assumptions: list[str]
    gradient: dict[str, str]
    non_smooth: list[NonSmooth] = field(default_factory=list)
    #: zero-gradient findings and the jumping primitive each one is about
    zero_gradient: list[tuple[Finding, sp.Expr]] = field(default_factory=list)
    #: pole and domain warnings
    warnings: list[Finding] = field(default_factory=list)
    #: lowest derivative order that differs somewhere without a finding (C^(k-1) there)
    smooth_order: int | None = None

    @property
    def loss_function(self) -> Callable:
        return compile_expr(self.loss, tuple(self.symbols))

    @property
    def findings(self) -> list[Finding]:
        every = ([item.finding for item in self.non_smooth]
                 + [finding for finding, _ in self.zero_gradient] + self.warnings)
        return sorted(every, key=lambda f: (f.severity != "error", f.code))

    @property
    def differentiable(self) -> bool:
        return not self.non_smooth

    @property
    def smoothness(self) -> str:
        kinds = {item.finding.kind for item in self.non_smooth}
        if "jump" in kinds:
            return "discontinuous"
        if kinds & NON_DIFFERENTIABLE_KINDS:
            return "C0"
        if self.smooth_order is None:
            return "Cinf"
        return f"C{self.smooth_order - 1}"

    @property
    def nonsmooth_nodes(self) -> list[sp.Expr]:
        """Every primitive that is non-smooth somewhere, in the order found."""
        nodes: list[sp.Expr] = []
        for item in self.non_smooth:
            nodes.extend(node for node in item.nodes if node not in nodes)
        return nodes

    def drop(self, item: NonSmooth) -> None:
        """Withdraw a finding (the probe cleared it), and what only it justified."""
        self.non_smooth.remove(item)
        jumping = {node for other in self.non_smooth if other.finding.kind == "jump"
                   for node in other.nodes}
        self.zero_gradient = [(f, node) for f, node in self.zero_gradient if node in jumping]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_QUOTE else text[:MESSAGE_QUOTE - 3] + "..."


def _autodiff_note(candidate: Candidate, comparison: SideComparison) -> str | None:
    parts = []
    if comparison.left_slope is not None or comparison.right_slope is not None:
        parts.append(f"one-sided slopes {_fmt(comparison.left_slope)} (left) and "
                     f"{_fmt(comparison.right_slope)} (right) along the probe direction.")
    parts.append(FAMILIES[candidate.family].autodiff)
    return " ".join(parts) or None


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


#: a loss printed larger than this (stacked layers of a model repeat their inputs) has no
#: gradient text in the report: nobody reads it, and printing it took minutes
GRADIENT_TEXT_LIMIT = 50_000


def gradient_text(expr: sp.Expr, w: sp.Symbol) -> str | None:
    """The partial derivative, valid wherever the loss is differentiable; None for a loss too
    large to print."""
    if sizes(expr)[0] > GRADIENT_TEXT_LIMIT:
        return None
    return expression_text(partial_derivative(expr, w))


def analyze(parsed: ParsedExpression, wrt: Sequence[str]) -> Analysis:
    """Decide every candidate set of ``parsed`` with respect to the variables ``wrt``."""
    # every numeric step works at DIGITS precision: points are known to 60 digits
    with mp.workdps(DIGITS):
        return _analyze(parsed, wrt)


def _decide_all(candidates: list[Candidate], loss: sp.Expr, symbols: list[sp.Symbol],
                wrt: list[sp.Symbol]) -> list[CandidateOutcome]:
    concrete = concrete_model_functions
    outcomes: dict[object, CandidateOutcome] = {}
    # The comparisons on a set are about the whole loss at points of that set: they depend on
    # the set and on the sets crossing it, not on which primitive proposed it. A top-k router
    # proposes each tie between two logits from dozens of nested Piecewise, Max and Min:
    # each set is decided once.
    decided: dict[tuple, list[SideComparison]] = {}
    for index, candidate in enumerate(candidates):
        g = concrete(candidate.g)
        others = [concrete(c.g) for c in candidates if c.node != candidate.node]
        same = (g, candidate.level_set, frozenset(crossing_sets(g, others)))
        if same in decided:
            outcome = CandidateOutcome(candidate, list(decided[same]))
        else:
            outcome = decide_candidate(candidate, loss, symbols, wrt, g, others, seed=index + 1)
            decided[same] = list(outcome.comparisons)
        # the levels u = k of one floor are one set (u an integer): decided together
        key = (candidate.node, candidate.level_set) if candidate.level_set is not None else index
        if key in outcomes:
            outcomes[key].comparisons.extend(outcome.comparisons)
        else:
            outcomes[key] = outcome
    return list(outcomes.values())


def _set_of(candidate: Candidate) -> sp.Expr:
    return candidate.level_set if candidate.level_set is not None else candidate.g


def _analyze(parsed: ParsedExpression, wrt_names: Sequence[str]) -> Analysis:
    symbols = [sp.Symbol(name, real=True) for name in parsed.variables]
    wrt = [s for s in symbols if s.name in wrt_names]
    loss = concrete_model_functions(parsed.expr)
    analysis = Analysis(
        parsed, symbols, wrt, loss,
        assumptions=[f"{name} is a model function, assumed differentiable (C-infinity) in its "
                     "arguments" for name in parsed.model_functions],
        gradient={w.name: text for w in wrt
                  if (text := gradient_text(parsed.expr, w)) is not None},
    )
    candidates = propose_candidates(parsed.expr)
    if len(candidates) > MAX_CANDIDATES:
        raise AnalysisLimit(
            f"{len(candidates)} candidate sets (limit {MAX_CANDIDATES}): too many non-smooth "
            "primitives to analyse one by one"
        )
    outcomes = _decide_all(candidates, loss, symbols, wrt)
    for outcome in outcomes:
        for comparison in outcome.active:
            order = comparison.order
            if comparison.kind is None and order is not None:  # C^(order - 1): a class
                analysis.smooth_order = (order if analysis.smooth_order is None
                                         else min(analysis.smooth_order, order))
    loss_text = _short(parsed.source)
    for group in _group_by_set(outcomes):
        comparisons = [c for outcome in group for c in outcome.comparisons]
        kinds = sorted({c.kind for c in comparisons if c.kind}, key=KIND_RANK.__getitem__)
        samples = None
        for kind in kinds:
            worst = min((c for c in comparisons if c.kind == kind), key=lambda c: c.order or 0)
            candidate = _named_cause(group, kind)
            g = concrete_model_functions(candidate.g)
            others = [c for c in candidates if not same_set(concrete_model_functions(c.g), g)]
            if samples is None:
                samples = _labels(group, kind, g, loss, symbols, wrt, others)
            where = where_text(kind, candidate.g, comparisons, others, concrete_model_functions,
                               level_set=candidate.level_set,
                               in_play=candidate.in_play if len(group) == 1 else (),
                               samples=samples)
            analysis.non_smooth.append(NonSmooth(
                _finding(parsed, candidate, worst, kind, where, loss_text), candidate, worst,
                [outcome.candidate.node for outcome in group]))
    _add_zero_gradient(analysis, loss_text)
    analysis.warnings = domain_findings(parsed, concrete_model_functions, symbols,
                                        analysis.loss_function, seed=11)
    return analysis


def _group_by_set(outcomes: list[CandidateOutcome]) -> list[list[CandidateOutcome]]:
    """Outcomes of primitives switching on one set (abs(x) + relu(x)): one set, one finding.

    Their comparisons are pooled: a comparison is about the whole loss at a point, whichever
    primitive proposed the point.
    """
    groups: list[list[CandidateOutcome]] = []
    for outcome in outcomes:
        if not outcome.comparisons:
            continue
        candidate = outcome.candidate
        group = next((group for group in groups
                      if (group[0].candidate.level_set is None) == (candidate.level_set is None)
                      and same_set(_set_of(group[0].candidate), _set_of(candidate))), None)
        if group is None:
            groups.append([outcome])
        else:
            group.append(outcome)
    return groups


def _named_cause(group: list[CandidateOutcome], kind: str) -> Candidate:
    """The primitive a finding of ``kind`` on this set is named after: one whose own kind of
    failure it is (the root, not the abs, in sqrt(abs(u))), else the first that shows it."""
    showing = [o.candidate for o in group if any(c.kind == kind for c in o.comparisons)]
    showing = showing or [o.candidate for o in group]
    native = [c for c in showing if kind in FAMILIES[c.family].native]
    return (native or showing)[0]


def _labels(group: list[CandidateOutcome], kind: str, g: sp.Expr, loss: sp.Expr,
            symbols: list[sp.Symbol], wrt: list[sp.Symbol],
            others: list[Candidate]) -> list[Label]:
    """Float-labelled points for the masking of a set of several variables that other
    primitives cross (a few exact points all active prove little about the rest)."""
    if len(free_symbols(g)) < 2 or not others:
        return []
    solve_order = [s for s in symbols if s in wrt] + [s for s in symbols if s not in wrt]
    crossing = [concrete_model_functions(c.g) for c in others]
    return [Label(point, active, exact=False)
            for point, active in label_points(g, loss, symbols, solve_order, crossing, seed=17)]


def _finding(parsed: ParsedExpression, candidate: Candidate, worst: SideComparison, kind: str,
             where: str, loss_text: str) -> Finding:
    rule = rule_for(kind, candidate.family)
    node_text = expression_text(candidate.node)
    cause = parsed.snippets.get(candidate.node, node_text)
    every_level = (candidate.level_set is not None
                   and where == f"sin({sp.pi * candidate.level_set}) = 0")
    message_where = f"{candidate.level_set} is an integer" if every_level else where
    return Finding(
        code=rule.code,
        kind=kind,
        message=rule.format(cause=cause, where=message_where, loss=loss_text),
        cause=node_text,
        where=where,
        autodiff=_autodiff_note(candidate, worst),
        column=parsed.spans.get(candidate.node),
    )


def _add_zero_gradient(analysis: Analysis, loss_text: str) -> None:
    """DC401 for each wrt variable that crosses a jump and has zero derivative elsewhere."""
    parsed = analysis.parsed
    for w in analysis.wrt:
        causes = [item.candidate.node for item in analysis.non_smooth
                  if item.finding.kind == "jump"
                  and w in free_symbols(concrete_model_functions(_set_of(item.candidate)))]
        if not causes or not has_zero_gradient(analysis.loss, analysis.symbols, w, seed=7):
            continue
        rule = rule_for("zero-gradient")
        cause = causes[0]
        finding = Finding(
            rule.code, "zero-gradient",
            rule.format(loss=loss_text, variable=w, cause=parsed.snippets.get(cause, cause)),
            str(cause), None, confirmed=True, column=parsed.spans.get(cause))
        analysis.zero_gradient.append((finding, cause))
