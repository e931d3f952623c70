"""``labels == c``: the data indicator ``label_is`` (diffcheck.primitives.switching).

Integer labels are data: a test of them against a class number never switches as the wrt
variables move. Read as a number it is one opaque factor in {0, 1}, so a sort of values that
hold it (Lovasz-Softmax sorts ``|(labels == c) - p|``) is one Piecewise over the orderings of
the values, not one case per label value in every comparison of the sort.
"""

from __future__ import annotations

import itertools
import json
import random
import textwrap
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from diffcheck.analysis.candidates import propose_candidates
from diffcheck.analysis.localize import LineBranches, PointBranches
from diffcheck.api import check_source
from diffcheck.intervals import Interval, enclose
from diffcheck.numeric import compile_expr, compile_float, compile_numpy, evaluate, value
from diffcheck.primitives.switching import label_is
from diffcheck.readers.pysource import find_losses, read_module, translate
from diffcheck.surrogates import numpy_code, torch_code

HEADER = "import torch\nimport torch.nn.functional as F\n\n"
TABLE = json.loads((Path(__file__).parent / "data" / "label_indicators.json").read_text())


def _translated(body: str):
    text = HEADER + f"def loss(x, y, labels):\n    {body}\n"
    module = read_module(text)
    (target,) = find_losses(module, text, "loss")
    return translate(module, text, target, {})


@pytest.mark.parametrize("case", TABLE["readings"], ids=[c["id"] for c in TABLE["readings"]])
def test_a_label_test_read_as_a_number_is_the_data_indicator(case):
    expr = _translated(case["body"]).parsed.expr
    x, y, labels = (sp.Symbol(n, real=True) for n in ("x", "y", "labels"))
    assert expr.free_symbols <= {x, y, labels}, expr
    assert len(expr.atoms(label_is)) == case["indicators"], expr
    if case["indicators"]:
        # no case split on the labels is left: the indicator is the only test of them
        tests = [rel for rel in expr.atoms(sp.Eq, sp.Ne) if labels in rel.free_symbols]
        assert not tests, expr
    wanted = sp.sympify(case["formula"], locals={"x": x, "y": y, "labels": labels})
    rng = random.Random(7)
    for label in (0, 1, 2):
        for _ in range(3):
            point = {x: sp.Rational(rng.randint(-20, 20), 3), y: sp.Rational(rng.randint(-20, 20), 3),
                     labels: sp.Integer(label)}
            assert expr.xreplace(point) == wanted.xreplace(point), (point, expr)


LOVASZ_LIKE = """
def ranked_loss(probs, labels):
    total = 0
    for c in range({classes}):
        fg = (labels == c).float()
        errors = (fg - probs[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        total = total + torch.dot(errors_sorted, fg[perm].cumsum(0))
    return total
"""


@pytest.mark.parametrize("classes", [2, 3])
def test_a_sort_of_label_tests_is_one_piece_per_ordering_and_one_tie_per_pair(classes):
    text = HEADER + textwrap.dedent(LOVASZ_LIKE.format(classes=classes))
    module = read_module(text)
    (target,) = find_losses(module, text, "ranked_loss")
    expr = translate(module, text, target, {}).parsed.expr
    orderings = (sp.GreaterThan, sp.StrictGreaterThan, sp.LessThan, sp.StrictLessThan)
    sorts = [node for node in expr.atoms(sp.Piecewise)
             if any(condition.atoms(*orderings) for _, condition in node.args)]
    assert len(sorts) == classes, expr
    for sort in sorts:
        assert len(sort.args) == 6, sort  # the 3! orderings of three rows
        for _, condition in sort.args:
            # each ordering compares the errors themselves: no case per label value
            assert not condition.atoms(sp.Eq, sp.Ne), condition
    ties = {c.g for c in propose_candidates(expr) if isinstance(c.node, sp.Piecewise)}
    assert len(ties) == classes * 3, ties  # the 3 pairs of rows, once per class


def test_abs_of_a_label_test_minus_a_probability_never_switches(tmp_path):
    # sigmoid is in (0, 1), the indicator in {0, 1}: the abs has no kink anywhere
    path = tmp_path / "loss.py"
    path.write_text(HEADER + textwrap.dedent("""
        def loss(logits, labels):
            fg = (labels == 1).float()
            return (fg - torch.sigmoid(logits)).abs().sum()
        """))
    (report,) = check_source(path, ["logits"])
    assert report.error is None, report.error
    assert report.differentiable and report.smoothness == "Cinf", report.findings


# label value, class number, direction of the label along the line
POINTS = [(0, 0, 0), (1, 0, 0), (2, 2, 1), (sp.Rational(1, 2), 1, 0), (-1, -1, 0), (3, 1, -1)]


@pytest.mark.parametrize("label, number, direction", POINTS)
def test_the_indicator_computes_and_localizes_as_its_piecewise(label, number, direction):
    lab, x = sp.symbols("lab x", real=True)
    indicator = label_is(lab, number) * x
    piecewise = indicator.rewrite(sp.Piecewise)
    assert piecewise.has(sp.Piecewise) and not piecewise.has(label_is)
    point = {lab: sp.Integer(label) if isinstance(label, int) else label, x: sp.Integer(3)}
    wanted = piecewise.xreplace(point)
    assert indicator.xreplace(point) == wanted
    assert evaluate(compile_expr(indicator, [lab, x]), [point[lab], point[x]]) == mp.mpf(wanted)
    assert value(compile_float(indicator, [lab, x]), [float(point[lab]), 3.0]) == float(wanted)
    assert float(compile_numpy(indicator, [lab, x])(np.float64(point[lab]), 3.0)) == float(wanted)
    assert PointBranches([lab, x], point)(indicator) == \
        PointBranches([lab, x], point)(piecewise)
    # along a line that moves the label, the side t -> 0+ leaves the class unless it stays put
    line = LineBranches(point, {lab: direction, x: 1})
    assert line(indicator) == LineBranches(point, {lab: direction, x: 1})(piecewise)


def test_the_indicator_is_flat_and_prints_as_the_test_it_reads():
    lab, x = sp.symbols("lab x", real=True)
    assert sp.diff(label_is(lab, 1) * x, lab) == 0
    assert sp.diff(label_is(lab, 1) * x, x) == label_is(lab, 1)
    assert str(label_is(lab, 1)) == "(lab == 1)"
    # the surrogates' code hints compute it as the test times 1.0 (arrays and tensors alike)
    assert numpy_code(label_is(lab, 1) * x) == "x*(1.0*(lab == 1))"
    assert torch_code(label_is(lab, 1) * x) == "x*(1.0*(lab == 1))"
    assert [label_is(v, 1) for v in itertools.islice(itertools.count(-1), 4)] == [0, 0, 1, 0]


# label box, class number, the enclosure of (label == class) * x for x in [2, 3]
BOXES = [((1, 1), 1, (2, 3)), ((0, 0.5), 1, (0, 0)), ((0, 3), 1, (0, 3)), ((-2, -1), 1, (0, 0))]


@pytest.mark.parametrize("box, number, enclosure", BOXES)
def test_interval_arithmetic_bounds_the_indicator_by_0_and_1(box, number, enclosure):
    lab, x = sp.symbols("lab x", real=True)
    found = enclose(label_is(lab, number) * x, {lab: Interval(*box), x: Interval(2, 3)})
    lo, hi = enclosure  # up to the outward rounding of the product
    assert found is not None and found.lo <= lo and found.hi >= hi, found
    assert found.lo > lo - 1e-9 and found.hi < hi + 1e-9, found


def test_a_smooth_surrogate_keeps_the_test_of_the_labels(tmp_path):
    # relu(x - (labels == 1)): the relu is smoothed, the indicator of the data is kept exact
    path = tmp_path / "loss.py"
    path.write_text(HEADER + textwrap.dedent("""
        def loss(x, labels):
            fg = (labels == 1).float()
            return F.relu(x - fg).sum()
        """))
    (report,) = check_source(path, ["x"])
    assert report.error is None and not report.differentiable, report
    expression = report.surrogate["expression"]
    assert "(labels == 1)" in expression and "Eq(" not in expression, expression
