"""Real loss formulas, copied from library docs and papers, read to what they mean.

``fixtures/latex_formulas.jsonl`` has the format of ``shared/eval/score_latex.py`` (so the
scorer runs on it too) plus, for each formula, its ``source`` and ``text``: the formula
written by hand in diffcheck's text syntax, with the documented conventions (a sum runs
over three index values, a bound such as N is 3, a label that picks a class is class 1,
vectors have two components). A formula diffcheck refuses has ``error`` instead: a part of
the message it must give.

For each formula: the reading and the hand-written text have the same variables and the
same value at random points (where one is undefined, so is the other), and the analysis
gives the verdict, the kinds and the smoothness class of the fixture.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sympy as sp

import diffcheck
from diffcheck.api import read
from diffcheck.numeric import compile_expr, concrete_model_functions, evaluate
from diffcheck.parser import ParseError, literal_as_sympy, parse
from diffcheck.readers.latex import text_name

FIXTURE = Path(__file__).parent / "fixtures" / "latex_formulas.jsonl"
CASES = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
READ = [pytest.param(case, id=case["id"]) for case in CASES if not case.get("error")]
REFUSED = [pytest.param(case, id=case["id"]) for case in CASES if case.get("error")]

#: random points per formula, and how many of them must be in the domain of both sides
POINTS, DEFINED = 60, 10


def test_the_collection():
    """At least 40 formulas, each with a source, and at most 2 of them refused."""
    assert len(CASES) >= 40
    assert len(REFUSED) <= 2
    assert all(case["source"] and case["latex"] for case in CASES)
    assert len({case["id"] for case in CASES}) == len(CASES)


def _values(case) -> dict:
    return {text_name(name): literal_as_sympy(value) for name, value in case["params"].items()}


def _sample(rng: random.Random, names, fixed: dict) -> list[float]:
    """A point: label values from the fixture, otherwise uniform in (0, 1) or (-3, 3) (both,
    so that log(p) and log(1 - p) are defined at some points and not at others)."""
    scale = rng.choice([(0.01, 0.99), (-3.0, 3.0)])
    return [rng.choice(fixed[name]) if name in fixed else rng.uniform(*scale) for name in names]


@pytest.mark.parametrize("case", READ)
def test_formula_is_read_to_what_it_means(case):
    reading = read(case["latex"], latex=True, values=case["params"])
    mine, hand = parse(reading, _values(case)), parse(case["text"], _values(case))
    assert mine.variables == hand.variables, reading
    symbols = [sp.Symbol(name, real=True) for name in mine.variables]
    functions = [compile_expr(concrete_model_functions(parsed.expr), tuple(symbols))
                 for parsed in (mine, hand)]
    rng = random.Random(case["id"])
    defined = 0
    for _ in range(POINTS):
        point = _sample(rng, mine.variables, case.get("points", {}))
        read_value, hand_value = (evaluate(function, point) for function in functions)
        assert (read_value is None) == (hand_value is None), (reading, point)
        if read_value is not None:
            defined += 1
            assert abs(read_value - hand_value) <= 1e-9 * (1 + abs(hand_value)), (reading, point)
    assert defined >= DEFINED, reading


@pytest.mark.parametrize("case", READ)
def test_formula_gets_the_right_verdict(case):
    report = diffcheck.check(case["latex"], case["wrt"] or None, values=case["params"],
                             latex=True)
    assert report.error is None, report.error
    kinds = {finding.kind for finding in report.findings}
    assert report.differentiable is case["differentiable"], (report.reading, kinds)
    assert set(case["kinds"]) <= kinds, report.reading
    if "smoothness" in case:
        assert report.smoothness == case["smoothness"], report.reading


@pytest.mark.parametrize("case", REFUSED)
def test_formula_is_refused_honestly(case):
    with pytest.raises(ParseError) as caught:
        read(case["latex"], latex=True, values=case["params"])
    assert case["error"] in caught.value.message
    assert 1 <= caught.value.column <= len(case["latex"])
