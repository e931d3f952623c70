"""Autodiff traps (CONTRACT.md section 7): the model against the real frameworks, the corpus.

Three sources of truth, in this order of availability:

- ``tests/data/autodiff_reference.json``: gradients the real PyTorch and JAX returned, recorded
  by ``tools/record_autodiff_reference.py`` (with the versions); always checked;
- live JAX (``pip install 'diffcheck[jax]'``, part of the ``test`` extra);
- live PyTorch, only where it is installed (never in CI: the wheel is gigabytes).

``tests/data/autodiff_traps.jsonl`` holds traps collected from the PyTorch and JAX trackers and
docs (each with its source) and safe look-alikes; every trap must be reported with a fitting
effect and a region that holds at its point, every look-alike must raise no trap.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from diffcheck import frameworks
from diffcheck.api import check
from diffcheck.autodiff import EXACT, Arithmetic, gradients
from diffcheck.autodiff_rules import CHECKED_AGAINST, RULES
from diffcheck.program import from_expression

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "autodiff_reference.json").read_text())
CORPUS = [json.loads(line) for line in (DATA / "autodiff_traps.jsonl").read_text().splitlines()
          if line.strip()]
TRAPS = [row for row in CORPUS if row["class"] != "control"]
CONTROLS = [row for row in CORPUS if row["class"] == "control"]

#: the effects each class of trap may be reported with (as the public scorer accepts them)
EFFECTS = {
    "nan-from-unselected-branch": {"nan", "inf"},
    "nan-at-nonsmooth-point": {"nan", "inf", "wrong-value"},
    "wrong-finite-value": {"wrong-value"},
    "overflow-float32": {"overflow", "nan", "inf"},
    "underflow-float32": {"underflow", "nan", "inf", "wrong-value"},
    "other": {"nan", "inf"},
}


def _float(value) -> float:
    return float(value)  # "nan", "inf", "-inf" strings read back as floats


def _same(model: float, real: float) -> bool:
    if math.isnan(model) or math.isnan(real):
        return math.isnan(model) and math.isnan(real)
    if math.isinf(model) or math.isinf(real):
        return model == real
    return abs(model - real) <= 1e-5 * (1 + abs(real))


def holds(where: str, point: dict) -> bool:
    """Whether a finding's ``where`` holds at ``point`` (the public scorer's reading)."""
    symbols = {k: sp.Symbol(k, real=True) for k in point}
    values = {symbols[k]: sp.Float(v) for k, v in point.items()}
    for part in re.split(r"\band\b", where):
        part = part.strip()
        if "=" in part and not re.search(r"[<>!]=|==", part):
            left, right = part.split("=", 1)
            gap = sp.sympify(left, locals=symbols) - sp.sympify(right, locals=symbols)
            if abs(complex(gap.subs(values))) > 1e-6:
                return False
        elif not bool(sp.sympify(part, locals=symbols).subs(values)):
            return False
    return True


# --- the model against the recorded frameworks --------------------------------------------------


def _reference_groups():
    groups = defaultdict(list)
    for case in REFERENCE["cases"]:
        groups[(case["expr"], case["dtype"])].append(case)
    return sorted(groups.items())


@pytest.mark.parametrize(("key", "cases"), _reference_groups(), ids=lambda v: str(v)[:60])
def test_model_matches_recorded_pytorch_and_jax(key, cases):
    expr, dtype = key
    tree = from_expression(expr)
    ar = Arithmetic(dtype)
    wrt = cases[0]["wrt"]
    env = {name: ar.values([case["point"][name] for case in cases]) for name in wrt}
    mismatches = []
    for framework in ("torch", "jax"):
        run = gradients(tree, framework, ar, env, wrt)
        for index, case in enumerate(cases):
            real = case[framework]
            if "error" in real:
                continue  # the framework refused (torch.heaviside has no derivative)
            for name in wrt:
                model = float(np.broadcast_to(run.gradient[name], (len(cases),))[index])
                if not _same(model, _float(real[name])):
                    mismatches.append((framework, case["point"], name, model, real[name]))
    assert not mismatches, mismatches[:5]


def test_reference_records_the_versions_the_rules_were_checked_against():
    recorded = {name: version.split("+")[0] for name, version in REFERENCE["versions"].items()}
    assert recorded == dict(CHECKED_AGAINST)


def test_every_rule_is_exercised_by_the_reference():
    ops = {node.op for case in REFERENCE["cases"] for node in from_expression(case["expr"]).walk()}
    assert {rule.op for rule in RULES.values()} - ops == set()


# --- the model against live frameworks -----------------------------------------------------------

_POINTS_AT_TRAPS = [(row["expr"], row["point"]) for row in TRAPS]


def _live(framework: str) -> None:
    for expr, point in _POINTS_AT_TRAPS:
        tree = from_expression(expr)
        wrt = sorted(tree.variables())
        ar = Arithmetic("float32")
        run = gradients(tree, framework, ar, {n: ar.values([point[n]]) for n in wrt}, wrt)
        real = frameworks.gradient(tree, framework, point, wrt, "float32")
        if isinstance(real, str):
            continue
        for name in wrt:
            model = float(np.asarray(run.gradient[name]).reshape(-1)[0])
            assert _same(model, real[name]), (framework, expr, point, name, model, real[name])


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed (pip install 'diffcheck[jax]')")
def test_model_matches_live_jax_at_every_trap():
    _live("jax")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch is not installed here (CI never installs it; "
                           "tests/data/autodiff_reference.json stands in for it)")
def test_model_matches_live_pytorch_at_every_trap():
    _live("torch")


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("row", TRAPS, ids=[row["id"] for row in TRAPS])
def test_corpus_trap_is_reported_and_located(row):
    report = check(row["expr"])
    found = [f for f in report.findings
             if f.kind == "autodiff" and f.autodiff["effect"] in EFFECTS[row["class"]]]
    located = [f for f in found if holds(f.where, row["point"])]
    assert located, [(f.code, f.where, f.autodiff["effect"]) for f in report.findings]
    finding = located[0]
    assert finding.severity == ("warning" if finding.autodiff["effect"] == "wrong-value" else "error")
    assert finding.fix
    # the verified point is itself in the region, and the real frameworks reproduce the trap
    assert holds(finding.where, finding.autodiff["point"])


def _central_difference(expr: str, point: dict, name: str) -> float:
    """The derivative of the mathematics, from exact arithmetic (tests only: SymPy, mpmath)."""
    import mpmath as mp

    from diffcheck.parser import parse

    symbols = {k: sp.Symbol(k, real=True) for k in point}
    fn = sp.lambdify(list(symbols.values()), parse(expr).expr, modules="mpmath")
    with mp.workdps(80):
        h = mp.mpf("1e-30")
        values = [mp.mpf(point[k]) for k in symbols]
        index = list(symbols).index(name)
        ahead, behind = list(values), list(values)
        ahead[index] += h
        behind[index] -= h
        return float(mp.re(fn(*ahead) - fn(*behind)) / (2 * h))


@pytest.mark.parametrize("row", TRAPS, ids=[row["id"] for row in TRAPS])
def test_corpus_trap_is_real_in_the_recorded_frameworks(row):
    """At the trap's point the real PyTorch or JAX returned NaN, inf or a wrong value."""
    case = next(c for c in REFERENCE["cases"] if c["expr"] == row["expr"]
                and c["point"] == row["point"] and c["dtype"] == "float32")
    wrong = []
    for framework in ("torch", "jax"):
        if "error" in case[framework]:
            continue
        for name, value in case[framework].items():
            value = _float(value)
            if not math.isfinite(value):
                wrong.append((framework, name, value))
            elif row["class"] == "wrong-finite-value":
                true = _central_difference(row["expr"], row["point"], name)
                if abs(value - true) > 1e-3 * (1 + abs(true)):
                    wrong.append((framework, name, value, true))
    assert wrong, case


@pytest.mark.parametrize("row", CONTROLS, ids=[row["id"] for row in CONTROLS])
def test_safe_lookalike_raises_no_trap(row):
    report = check(row["expr"])
    assert report.error is None
    assert not [f.code for f in report.findings if f.kind == "autodiff"]


def test_corpus_is_large_enough_and_cites_its_sources():
    assert len(TRAPS) >= 35 and len(CONTROLS) >= 15
    assert all(row["source"] for row in CORPUS)
    assert all(row["source"].startswith("https://") for row in TRAPS)


# --- the model itself ------------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "point", "torch", "jax"), [
    ("abs(x)", 0.0, 0.0, 1.0),  # sgn(0) = 0; select(x >= 0, g, -g)
    ("relu(x)", 0.0, 0.0, 0.0),
    ("max(x, 0)", 0.0, 0.5, 0.5),  # maximum splits ties
    ("clamp(x, 0, 1)", 1.0, 1.0, 0.5),  # clamp_backward passes the bound; jnp.clip splits
    ("leaky_relu(x, 0.1)", 0.0, 0.1, 1.0),
    ("x**0.0", 0.0, 0.0, math.nan),  # lax.pow has no special case at 0
    ("sqrt(x)", 0.0, math.inf, math.inf),
    ("where(x > 0, sqrt(x), 0)", -1.0, math.nan, math.nan),
])
def test_conventions_of_each_framework(expr, point, torch, jax):
    tree = from_expression(expr)
    ar = Arithmetic("float32")
    for framework, expected in (("torch", torch), ("jax", jax)):
        got = float(gradients(tree, framework, ar, {"x": ar.values([point])}, ["x"]).gradient["x"][0])
        assert _same(got, expected), (framework, got)


def test_exact_arithmetic_has_no_range_but_keeps_ieee_specials():
    overflow = from_expression("log(1 + exp(x))")
    assert float(gradients(overflow, "torch", EXACT, {"x": 1000}, ["x"]).gradient["x"]) == 1.0
    float32 = Arithmetic("float32")
    assert math.isnan(gradients(overflow, "torch", float32, {"x": float32.values([1000])},
                                ["x"]).gradient["x"][0])
    root = from_expression("sqrt(x**2)")
    assert math.isnan(float(gradients(root, "jax", EXACT, {"x": 0}, ["x"]).gradient["x"]))


def test_dtype_moves_the_range_edge():
    float32 = check("log(1 + exp(x))").findings
    float64 = check("log(1 + exp(x))", dtype="float64").findings
    assert [f.where for f in float32 if f.kind == "autodiff"] == ["x > 88.73"]
    assert [(f.where, f.autodiff["dtype"]) for f in float64 if f.kind == "autodiff"] == [
        ("x > 709.8", "float64")]


def test_autodiff_findings_never_change_the_verdict():
    report = check("relu(x) - relu(-x)")
    assert report.differentiable is True
    assert [f.code for f in report.findings] == ["DC503"]


def test_kink_note_says_what_each_framework_returns():
    (kink,) = check("abs(x)").findings
    assert kink.kind == "kink" and "PyTorch d/dx = 0; JAX d/dx = 1" in kink.autodiff


def test_fix_is_written_in_the_users_terms():
    (trap,) = [f for f in check("where(u > 1, sqrt(u - 1), 0)").findings if f.kind == "autodiff"]
    assert trap.fix == "double where: where(u > 1, sqrt(where(u > 1, u - 1, 1)), 0)"
    assert trap.where == "u <= 1" and trap.column == 14
