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
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

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


def _library_calls(expr: str):
    """The program of ``expr``; calls of operations the parser does not know yet (``acos``)
    are the library calls of that name, as tools/record_autodiff_reference.py ran them."""
    import importlib.machinery

    path = Path(__file__).parent.parent / "tools" / "record_autodiff_reference.py"
    loader = importlib.machinery.SourceFileLoader("record_autodiff_reference", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.library_calls(from_expression(expr))


@pytest.mark.parametrize(("key", "cases"), _reference_groups(), ids=lambda v: str(v)[:60])
def test_model_matches_recorded_pytorch_and_jax(key, cases):
    expr, dtype = key
    tree = _library_calls(expr)
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
    ops = {node.op for case in REFERENCE["cases"]
           for node in _library_calls(case["expr"]).walk()}
    assert {rule.op for rule in RULES.values()} - ops == set()


# --- the model against live frameworks -----------------------------------------------------------

# A framework is imported in a child process: JAX starts threads, and the rest of the suite
# forks analysis workers, which must not happen in a process that holds them.
_LIVE_CHECK = """
import json, math, sys
import numpy as np
from diffcheck import frameworks
from diffcheck.autodiff import Arithmetic, gradients
from diffcheck.program import from_expression
framework, rows = sys.argv[1], json.loads(sys.stdin.read())
def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-5 * (1 + abs(b))
bad = []
for expr, point in rows:
    tree = from_expression(expr)
    wrt = sorted(tree.variables())
    ar = Arithmetic("float32")
    run = gradients(tree, framework, ar, {n: ar.values([point[n]]) for n in wrt}, wrt)
    real = frameworks.gradient(tree, framework, point, wrt, "float32")
    if isinstance(real, str):
        continue
    for name in wrt:
        model = float(np.asarray(run.gradient[name]).reshape(-1)[0])
        if not same(model, real[name]):
            bad.append([expr, point, name, model, real[name]])
print(json.dumps(bad))
"""


def _live(framework: str) -> None:
    import subprocess
    import sys

    rows = [(row["expr"], row["point"]) for row in TRAPS]
    done = subprocess.run([sys.executable, "-c", _LIVE_CHECK, framework], input=json.dumps(rows),
                          capture_output=True, text=True, timeout=600, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


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


def test_readme_rule_table_is_generated_from_the_rules():
    from diffcheck.autodiff_rules import markdown_table

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- autodiff-rules:start -->\n") + len("<!-- autodiff-rules:start -->\n")
    assert readme[start:readme.index("<!-- autodiff-rules:end -->")].strip() == markdown_table()


# --- the command line and the formats ----------------------------------------------------------


def _cli(*args):
    from typer.testing import CliRunner

    from diffcheck.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_fail_on_covers_autodiff_errors_and_warnings():
    # a differentiable loss whose autodiff overflows in float32: an error, exit 1
    assert _cli("log(1 + exp(x))").exit_code == 1
    assert _cli("--fail-on", "never", "log(1 + exp(x))").exit_code == 0
    # a wrong finite value is a warning
    assert _cli("relu(x) - relu(-x)").exit_code == 0
    assert _cli("--fail-on", "warning", "relu(x) - relu(-x)").exit_code == 1
    # a safe look-alike passes
    assert _cli("softplus(x)").exit_code == 0


def test_cli_json_finding_has_the_contract_fields():
    result = _cli("--format", "json", "--dtype", "float64", "log(1 + exp(x))")
    (entry,) = json.loads(result.stdout)["results"]
    (finding,) = entry["findings"]
    assert entry["differentiable"] is True
    assert {"code", "kind", "severity", "message", "where", "line", "column", "autodiff",
            "fix"} <= set(finding)
    trap = finding["autodiff"]
    assert {"effect", "dtype", "frameworks", "point", "true"} <= set(trap)
    assert (finding["where"], trap["dtype"], trap["effect"]) == ("x > 709.8", "float64", "nan")
    assert trap["frameworks"] == {"torch": "nan", "jax": "nan"}
    assert holds(finding["where"], trap["point"]) and trap["true"]["x"] == 1.0
    assert finding["fix"] == "softplus(x) (F.softplus, jax.nn.softplus)"


def test_cli_github_and_sarif_carry_the_fix():
    import jsonschema

    github = _cli("--format", "github", "where(y != 0, x/y, 0)").stdout
    assert "title=diffcheck (DC501)::" in github
    assert "Use instead: double where: where(y != 0, x/where(y != 0, y, 1), 0)" in github
    sarif = json.loads(_cli("--format", "sarif", "where(y != 0, x/y, 0)").stdout)
    schema = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text("utf-8"))
    jsonschema.validate(sarif, schema)
    rules = [rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert {"DC501", "DC502", "DC503", "DC504", "DC505"} <= set(rules)


def test_confirm_without_frameworks_says_so(monkeypatch):
    from diffcheck import confirm

    monkeypatch.setattr(confirm.frameworks, "available", list)
    result = _cli("--confirm", "where(x > 0, sqrt(x), 0)")
    assert "--confirm needs JAX (pip install 'diffcheck[jax]') or PyTorch" in result.stderr
    assert "DC501" in result.stdout


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed (pip install 'diffcheck[jax]')")
def test_confirm_runs_the_real_jax_at_the_reported_point():
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "diffcheck", "--confirm", *args,
                               "where(x > 0, sqrt(x), 0)"], capture_output=True, text=True,
                              timeout=300, check=False)

    (entry,) = json.loads(run("--format", "json").stdout)["results"]
    (trap,) = [f["autodiff"] for f in entry["findings"] if f["kind"] == "autodiff"]
    assert trap["confirmed"]["jax"] == {"x": "nan"} and trap["reproduced"] is True
    assert "real JAX: d/dx =" in " ".join(run("--no-color").stdout.split())


# --- the program as written --------------------------------------------------------------------


def test_program_keeps_what_sympy_would_simplify():
    from diffcheck.program import from_expression as read

    assert [n.op for n in read("sqrt(x)**2").walk()] == ["pow", "sqrt", "var", "const"]
    tree = read("Piecewise((a, x > 0), (b, x < -1), (c, True))")
    assert [n.op for n in tree.walk()][:3] == ["where", "gt", "var"]
    assert tree.args[2].op == "where" and tree.args[2].args[2].value == "c"
    call = read("F.softplus(u, beta=2, threshold=5)")
    assert (call.op, call.written, call.keyword("threshold").value) == ("softplus", "F.softplus", 5)
    assert read("torch.clamp(u, min=0)").keyword("lo").value == 0
    assert read("Model(w) + k", {"k": 0.5}).args[1].value == Fraction(1, 2)
    assert read("G(w)").op == "model" and read("G(w)").value == "G"


def test_program_spans_point_at_the_source():
    from diffcheck.program import from_expression as read

    text = "a + where(b < 0, log(-b), 0)"
    tree = read(text)
    log = next(n for n in tree.walk() if n.op == "log")
    assert log.span is not None
    assert text[log.span.column - 1:log.span.end_column] == "log(-b)" == log.span.text
    assert read("  x**2").span.column == 3


@pytest.mark.parametrize(("expr", "fix"), [
    ("log(1 + exp(x))", "softplus(x) (F.softplus, jax.nn.softplus)"),
    ("log(exp(a) + exp(b))", "logsumexp(a, b) (torch.logsumexp, jax.nn.logsumexp)"),
    ("exp(b)/(exp(a) + exp(b))", ("softmax(a, b, index=1) (torch.softmax, jax.nn.softmax); "
                                  "its log is log_softmax")),
    ("log(sigmoid(z))", "logsigmoid(z) (F.logsigmoid, jax.nn.log_sigmoid)"),
    ("log(1 - sigmoid(z))", "logsigmoid(-(z)) (F.logsigmoid, jax.nn.log_sigmoid)"),
    ("log(1 - exp(z))", "log(-expm1(z)) (log1mexp)"),
    ("log(torch.softmax(a, b, index=1))", ("torch.log_softmax(a, b, index=1) "
                                           "(torch.log_softmax, jax.nn.log_softmax)")),
])
def test_range_traps_name_the_library_call_that_computes_the_same(expr, fix):
    fixes = [f.fix for f in check(expr).findings if f.kind == "autodiff"]
    assert fixes and fixes[0] == fix


def test_softplus_threshold_is_reported_with_its_own_fix():
    (trap,) = [f for f in check("softplus(x, threshold=1)").findings if f.kind == "autodiff"]
    assert trap.severity == "warning" and trap.autodiff["trapped"] == ["torch"]
    assert trap.message.startswith("PyTorch returns 1 for d/dx")
    assert "threshold" in trap.fix and holds(trap.where, {"x": 2.0})
    assert not [f for f in check("softplus(x)").findings if f.kind == "autodiff"]


def test_find_traps_takes_a_program_from_another_reader():
    from diffcheck.parser import parse
    from diffcheck.traps import find_traps

    parsed = parse("where(x > 0, sqrt(x), 0)")
    given = find_traps(parsed, ["x"], tree=from_expression("where(x > 0, sqrt(x), 0)"))
    assert [(f.code, f.where) for f in given] == [("DC501", "x <= 0")]


def test_wrong_slope_at_a_smooth_tie_with_curvature_is_a_trap():
    """relu'(0) = 0 in both frameworks, so the gradient at 0 is -1; the loss is smooth there
    with slope 0. Its one-sided quotients differ by step * curvature (+-1e-16), which a test
    of the gap's size alone took for a kink, and then only NaN could be a trap there."""
    traps = [f for f in check("relu(x) - relu(-x) - x + x**2").findings if f.kind == "autodiff"]
    assert [(f.code, f.where, f.autodiff["effect"]) for f in traps] == [
        ("DC503", "x = 0", "wrong-value")]
    assert traps[0].autodiff["true"] == {"x": 0.0}


def _screened(expr: str, dtype: str = "float32"):
    """The trap search of ``expr``, its candidate points, which lie on a switch's set, and
    the float screen's reading of those."""
    from diffcheck.parser import parse
    from diffcheck.traps import _Search

    parsed = parse(expr)
    names = list(parsed.variables)
    search = _Search(parsed, from_expression(expr), names, names, dtype, {})
    points = search.candidate_points([])
    with np.errstate(all="ignore"):  # the points on a switch's set, as the search asks
        on_set = np.zeros(len(points), dtype=bool)
        for fn in search.switch_fns:
            on_set |= np.broadcast_to(fn(*points.T), on_set.shape) == 0
    return search, points, on_set, search.screen_ties(points, on_set)


def test_float_screen_decides_the_common_ties_without_exact_arithmetic():
    _, _, on_set, screen = _screened("abs(y - f)")
    assert screen.kinked[on_set].mean() > 0.9  # all but the points at 1e4 (rounding noise)
    _, _, on_set, screen = _screened("max(0, abs(y - f) - 0.2)")
    assert screen.smooth[on_set].mean() > 0.9
    # float64's tolerance (1e-10) is below what difference quotients can vouch for
    _, _, on_set, screen = _screened("max(0, abs(y - f) - 0.2)", "float64")
    assert on_set.any() and not screen.smooth.any()


@pytest.mark.parametrize("expr", [
    "abs(y - f)", "max(0, abs(y - f) - 0.2)", "huber(y - f, 0.5)", "max(0, 1 - y*f)",
    "where(abs(y - f) < 0.7, 0.5*(y - f)**2/0.7, abs(y - f) - 0.35)", "abs(y - f)**3",
    "sqrt(x**2 + y**2)", "relu(x) - relu(-x) - x + x**2", "max(x, y)**2 - max(x, y)",
    "1 - max(min(a, b) - max(c, d), 0)", "clip(f, -1, 2)*y", "abs(x)*exp(-10) + y",
])
def test_float_screen_of_ties_agrees_with_exact_arithmetic(expr):
    """Points the float64 screen calls a kink have no gradient in exact arithmetic; points it
    calls smooth have the gradient it read, to float32's tolerance (1e-4) and much better."""
    search, points, on_set, screen = _screened(expr)
    assert on_set.any()
    for index in np.flatnonzero(on_set):
        truth = search.exact_truth(points[index], on_set=True)
        assert truth is not None
        if any(t.differentiable and t.value is None for t in truth.values()):
            continue  # exact arithmetic cannot tell: 0.8*1.25 is 1 only up to rounding
        if screen.kinked[index]:  # no gradient: some partial derivative does not exist
            assert not all(t.differentiable for t in truth.values()), (points[index], truth)
            continue
        if not screen.smooth[index]:  # left to exact arithmetic; never a kink called smooth
            continue
        for w, t in truth.items():
            read = float(screen.slopes[w][index])
            assert t.differentiable and t.value is not None, (points[index], truth)
            assert abs(read - t.value) <= 1e-6 * (1 + abs(t.value)), (points[index], w, read, t)


def test_trap_search_of_a_python_function_reads_its_parameters(tmp_path):
    """The program's text says ``eps``; its value is the function's default. Read as an
    unknown, every condition on it is none on the loss's variables (and its set search ran
    out of time before finding the NaN of sqrt at 0)."""
    from diffcheck.api import check_source

    path = tmp_path / "losses.py"
    path.write_text("import torch\n\n\ndef charbonnier_loss(pred, target, eps=0.0):\n"
                    "    return torch.sqrt((pred - target) ** 2 + eps).mean()\n")
    (report,) = check_source(path)
    assert [(f.code, f.where) for f in report.findings] == [
        ("DC101", "pred - target = 0"), ("DC502", "pred - target = 0")]
    smooth = path.read_text().replace("eps=0.0", "eps=1e-12")
    path.write_text(smooth)
    (report,) = check_source(path)
    assert report.differentiable and not report.findings


def test_range_trap_names_the_rounding_that_makes_the_gradient_nan(tmp_path):
    """scikit-learn's log_loss clipped to [eps, 1 - eps]: in float32 1 - eps is 1, so past
    y_pred = 1 the clip is 1, log(1 - 1) is -inf and the clip's zero slope times inf is NaN.
    The culprit is ``1 - y_pred`` (0 where the truth is 1e-15), not the first value that
    rounds to 0 on the way (log(y_pred): 0 where the truth is -1e-15, harmless), and never an
    unrelated node that inherited a freed node's id (the parameter ``y_pred`` on the def line)."""
    from diffcheck.api import check_source

    path = tmp_path / "metrics.py"
    path.write_text(
        "import numpy as np\n\n\n"
        "def log_loss(y_true, y_pred, eps=1e-15):\n"
        "    y_pred = np.clip(y_pred, eps, 1 - eps)\n"
        "    loss = -(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred))\n"
        "    return np.mean(loss)\n")
    (report,) = check_source(path, ["y_pred"])
    (trap,) = [f for f in report.findings if f.code == "DC505"]
    assert (trap.cause, trap.line) == ("1 - y_pred", 6)
    assert trap.autodiff["effect"] == "nan" and "1 - y_pred rounds to 0" in trap.message
    # the fix says why the clip did nothing: its margin is below float32's resolution
    assert "1 - y_pred is 1e-15 exactly, below float32's resolution" in trap.fix
    assert "finfo(x.dtype).eps" in trap.fix


@pytest.mark.parametrize("expr, where_part, culprit", [
    # the NaN comes from log(1 - sigmoid(x)) = log(0); log(sigmoid(x)) = 0 there is harmless
    ("-(sigmoid(x)*log(sigmoid(x)) + (1 - sigmoid(x))*log(1 - sigmoid(x)))", "x > 16.64",
     "1 - sigmoid(x)"),
    ("-(t*log(sigmoid(x)) + (1 - t)*log(1 - sigmoid(x)))", "x > 16.64", "1 - sigmoid(x)"),
    # p*log(p) is NaN because log(p) is -inf: the culprit is p, not the product -p
    ("-(exp(x)/(exp(x) + exp(y)))*log(exp(x)/(exp(x) + exp(y)))", "x < -104",
     "exp(x)/(exp(x) + exp(y))"),
])
def test_underflow_culprit_is_the_value_a_log_turns_infinite(expr, where_part, culprit):
    report = check(expr)
    traps = [f for f in report.findings if f.code == "DC505" and where_part in f.where]
    assert traps, [(f.code, f.where) for f in report.findings]
    assert all(f.cause == culprit and f"{culprit} rounds to 0" in f.message for f in traps), \
        [f.message for f in traps]
