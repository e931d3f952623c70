"""The value of a loss at an exact point, and the analysis deciding each set once.

The point value is checked against SymPy substituting the point into the whole tree (the way
it was computed before); the counts check the mechanisms that make a top-k router fast: each
tie decided by SymPy once, each relation of a localization once, each set of a loss once,
each condition of a masked set's description once.
"""

from __future__ import annotations

from types import SimpleNamespace

import mpmath as mp
import pytest
import sympy as sp
from cases import DATA, load_toml

import diffcheck.analysis.verdict as verdict
from diffcheck.analysis import masking, pointvalue
from diffcheck.analysis.localize import LineBranches
from diffcheck.analysis.pointvalue import value_at
from diffcheck.functions import piecewise
from diffcheck.numeric import DIGITS
from diffcheck.parser import parse

CASES = load_toml(DATA / "point_values.toml")["case"]


def _reference(expr: sp.Expr, point: dict) -> mp.mpf | None:
    value = expr.xreplace(point)
    if not value.is_number:
        return None
    value = sp.N(value, DIGITS)
    if not (value.is_real and value.is_finite):
        return None
    with mp.workdps(DIGITS):
        return mp.mpf(str(value))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['loss']} at {c['point']}" for c in CASES])
def test_point_value_is_the_whole_tree_substitution(case: dict) -> None:
    parsed = parse(case["loss"])
    symbols = {s.name: s for s in parsed.expr.free_symbols}
    point = {symbols[name]: parse(text).expr for name, text in case["point"].items()}
    expected = _reference(parsed.expr, point)
    got = value_at(parsed.expr, point)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        with mp.workdps(DIGITS):
            assert abs(got - expected) <= mp.mpf(10) ** (20 - DIGITS) * (1 + abs(expected))


def _router_mask(logits: list[sp.Expr], copies: int) -> sp.Expr:
    """A top-1 router's output written as a top-k reader writes it: the same comparisons of
    the logits repeated in the condition of every expert's mask, nested ``copies`` deep."""
    total: sp.Expr = sp.Integer(0)
    for copy in range(copies):
        for e, logit in enumerate(logits):
            wins = sp.And(*[logit >= other for other in logits if other is not logit])
            total = sp.Piecewise((total + (e + 1) * logit**2 + copy, wins), (total, True),
                                 evaluate=False)
    return total


def test_sympy_decides_each_tie_once(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = sp.symbols("a b c", real=True)
    loss = _router_mask([a - b, 2 * b, c], copies=6)
    point = {a: sp.Integer(3), b: sp.Integer(1), c: sp.Integer(0)}  # a - b ties with 2*b
    asked: list[sp.Basic] = []
    exactly = pointvalue._PointValue._exactly

    def counted(self, node):
        asked.append(node)
        return exactly(self, node)

    monkeypatch.setattr(pointvalue._PointValue, "_exactly", counted)
    got = value_at(loss, point)
    assert got is not None and got == _reference(loss, point)
    # the relations a - b >= 2*b and 2*b >= a - b tie; every other one is decided by intervals
    assert len(asked) == len(set(asked)) == 2


def _count_relations(monkeypatch: pytest.MonkeyPatch) -> list[sp.Basic]:
    """The relations a localization decides, in order, as it decides them."""
    asked: list[sp.Basic] = []
    holds = LineBranches.relation_holds

    def counted(self, rel):
        asked.append(rel)
        return holds(self, rel)

    monkeypatch.setattr(LineBranches, "relation_holds", counted)
    return asked


def test_a_localization_decides_each_relation_once(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = sp.symbols("a b c", real=True)
    loss = _router_mask([a - b, 2 * b, c], copies=6)
    asked = _count_relations(monkeypatch)
    LineBranches({a: sp.Integer(3), b: sp.Integer(1), c: sp.Integer(0)}, {a: 1})(loss)
    assert asked and len(asked) == len(set(asked))


def test_a_false_label_test_leaves_the_comparisons_under_it_undecided(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A sort's ordering condition with a label in its keys: the comparisons of the values
    # matter only where the label test holds, so at label 1 none of those under
    # ``label == 0`` is decided (each one is a series expansion along the line).
    x, y, label = sp.symbols("x y label", real=True)
    foreground = sp.Piecewise((1, sp.Eq(label, 0)), (0, True))
    loss = piecewise((x, sp.Abs(foreground - sp.exp(x)) >= sp.Abs(foreground - sp.exp(y))),
                     (y, True))
    asked = _count_relations(monkeypatch)
    point = {x: sp.Integer(1), y: sp.Integer(0), label: sp.Integer(1)}
    assert LineBranches(point, {x: 1})(loss) == x
    assert not any(rel.has(sp.Abs(1 - sp.exp(x))) for rel in asked)
    assert len(asked) == 2  # label == 0, then exp(x) >= exp(y)


def test_a_set_proposed_by_several_primitives_is_decided_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    decided: list[sp.Expr] = []
    decide = verdict.decide_candidate

    def counted(candidate, *args, **kwargs):
        decided.append(candidate.g)
        return decide(candidate, *args, **kwargs)

    monkeypatch.setattr(verdict, "decide_candidate", counted)
    analysis = verdict.analyze(parse("where(a >= b, a, 0) + where(a >= b, b, 1) + abs(a - 2)"),
                               ["a", "b"])
    assert len(decided) == 2  # a - b once (two masks propose it), a - 2 once
    assert {f.where for f in analysis.findings if f.kind == "jump"} == {"a - b = 0"}
    assert {f.where for f in analysis.findings} == {"a - b = 0", "a = 2"}


def test_masking_reads_a_condition_proposed_many_times_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = sp.symbols("x y", real=True)
    labels = [masking.Label({x: sp.Integer(v), y: sp.Integer(v)}, active=v > 1)
              for v in (-2, -1, 2, 3)]
    read: list[sp.Expr] = []
    sign = masking._sign

    def counted(h, label, symbols):
        read.append(h)
        return sign(h, label, symbols)

    monkeypatch.setattr(masking, "_sign", counted)

    def separating(copies: int):
        read.clear()
        others = [SimpleNamespace(g=y - 1)] * copies + [SimpleNamespace(g=x + 5)] * copies
        return masking._separating_conditions(labels, x - y, others, lambda e: e, ())

    once = separating(1)
    reads = len(read)
    assert once == [(y - 1, 1)]  # active where y > 1; masked below
    assert separating(12) == once and len(read) == reads
