"""LaTeX input (CONTRACT.md section 8): read in full or refused with a column, never guessed.

The table of constructs is data (``fixtures/latex_constructs.txt``): each LaTeX line with the
text it must be read as, or the column and message of its error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import diffcheck
from diffcheck.api import LATEX_MISSING, read
from diffcheck.cli import app
from diffcheck.numeric import compile_expr, evaluate
from diffcheck.parser import MAX_INPUT_CHARS, ParseError, parse
from diffcheck.readers.latex import looks_like_latex, read_latex, text_name

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def _construct_cases():
    """(line number, LaTeX, expectation) for each case of the constructs table."""
    cases = []
    for number, line in enumerate((FIXTURES / "latex_constructs.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("  "):
            cases[-1][2] = line.strip()
        else:
            cases.append([number, line, None])
    return [pytest.param(latex, expected, id=f"line{number}") for number, latex, expected in cases]


@pytest.mark.parametrize("latex, expected", _construct_cases())
def test_construct(latex, expected):
    kind, _, detail = expected.partition(" ")
    if kind == "=>":
        assert read(latex, latex=True) == detail
        return
    assert kind == "!!", expected
    column, _, fragment = detail.partition(": ")
    with pytest.raises(ParseError) as caught:
        read(latex, latex=True)
    assert (caught.value.column, fragment in caught.value.message) == (int(column), True), \
        caught.value.message
    assert "\n" not in caught.value.message


def test_every_reading_is_parsed_by_the_same_whitelist():
    """The reader writes text; only diffcheck.parser turns text into SymPy."""
    reading = read_latex(r"\max\{0, 1 - y \hat{y}\} + \lvert r \rvert")
    assert parse(reading.text).variables == ("r", "y", "y_hat")


def test_left_hand_side_is_not_read():
    """What stands left of '=' is dropped even when it is not a formula diffcheck can read."""
    assert read_latex(r"D_{KL}(P \| Q) = p \log \frac{p}{q}").text == "p*log(p/q)"


# --- the API -----------------------------------------------------------------------------------


def test_check_reads_latex_with_the_flag_or_a_backslash_command():
    assert diffcheck.check(r"\lvert y - f \rvert").reading == "abs(y - f)"
    assert diffcheck.check("|y - f|", latex=True).reading == "abs(y - f)"
    # the text syntax has no '|' for abs: without the flag this is a text parse error
    assert diffcheck.check("|y - f|").error.kind == "parse"
    assert diffcheck.check(r"\lvert y \rvert", latex=False).error.kind == "parse"
    assert diffcheck.check("abs(y - f)").reading is None


def test_report_keeps_the_latex_input_and_says_how_it_was_read():
    latex = r"\frac{1}{N}\sum_{i=1}^{N} \left| y_i - \hat{y}_i \right|"
    entry = diffcheck.check(latex).to_dict()
    assert entry["input"] == latex
    assert entry["reading"] == ("1/3*(abs(y_1 - y_hat_1) + abs(y_2 - y_hat_2) + "
                                "abs(y_3 - y_hat_3))")
    assert entry["assumptions"][0] == "N = 3: the sum over i is written out for i = 1, 2, 3"
    assert entry["differentiable"] is False


def test_error_and_finding_columns_point_into_the_latex():
    report = diffcheck.check(r"\ell = x + \cos(a, b)")
    assert (report.error.kind, report.error.column) == ("parse", 12)
    report = diffcheck.check(r"\ell = y^2 + \max\{0, 1 - y f\}", wrt=["f"])
    (finding,) = report.findings
    assert finding.kind == "kink" and finding.column == 14


def test_set_values_use_latex_names():
    report = diffcheck.check(r"\max\{0, |r| - \lambda\}", wrt=["r"], values={"lambda": 0.5})
    assert report.reading == "max(0, abs(r) - lambda_)"
    assert report.fixed == {"lambda": 0.5}
    assert report.expression == "Max(0, Abs(r) - 1/2)"
    huber = (r"L_\delta(r) = \begin{cases} \frac{1}{2} r^2 & \text{if } |r| \le \delta \\ "
             r"\delta (|r| - \frac{1}{2}\delta) & \text{otherwise} \end{cases}")
    report = diffcheck.check(huber, values={"delta": 1.0})
    assert (report.wrt, report.differentiable, report.smoothness) == (["r"], True, "C1")


def test_wrt_a_model_function_is_its_output_and_an_unknown_wrt_is_an_error():
    hinge = r"L(y_i, f(x_i)) = \max(0, 1 - y_i f(x_i))"
    report = diffcheck.check(hinge, wrt=["f"])
    assert (report.reading, report.wrt, report.differentiable) == \
        ("max(0, 1 - y_i*f)", ["f"], False)
    assert report.assumptions[0].startswith("f(x_i) is read as one variable f")
    assert diffcheck.check(hinge, wrt=["x_i"]).reading == "max(0, 1 - y_i*F(x_i))"
    # not "differentiable" for want of a variable: an error that lists the variables
    error = diffcheck.check(hinge, wrt=["yhat"]).error
    assert error.kind == "parse" and "its variables: x_i, y_i" in error.message
    error = diffcheck.check(r"f(x) + f(z)", wrt=["f"], latex=True).error
    assert error.column == 8 and "different arguments" in error.message


def test_wrt_a_written_out_name_means_the_variables_it_became():
    svm = r"\frac{1}{N}\sum_{i=1}^{N} \max(0, 1 - y_i w^\top x_i) + \lambda |w_0|"
    assert diffcheck.check(svm, wrt=["w"]).wrt == ["w_1", "w_2"]  # not the bias w_0
    assert diffcheck.check(svm, wrt=["w", "w_0"]).wrt == ["w_1", "w_2", "w_0"]
    assert diffcheck.check(svm, wrt=["x"]).wrt == diffcheck.check(svm, wrt=["x_i"]).wrt == \
        ["x_1_1", "x_1_2", "x_2_1", "x_2_2", "x_3_1", "x_3_2"]
    mse = r"\sum_{i} (\hat{y}_i - y_i)^2"
    assert diffcheck.check(mse, wrt=["y_hat"]).wrt == ["y_hat_1", "y_hat_2", "y_hat_3"]
    # a name left as written is not a prefix: y does not mean y_pred
    error = diffcheck.check(r"(y_{pred} - y_{true})^2", wrt=["y"], latex=True).error
    assert error.kind == "parse" and "its variables: y_pred, y_true" in error.message


def test_set_bound_of_a_sum_is_the_number_of_terms():
    report = diffcheck.check(r"\frac{1}{N}\sum_{i=1}^{N} x_i^2", values={"N": 2})
    assert report.reading == "1/2*(x_1**2 + x_2**2)"
    assert report.fixed == {"N": 2}
    assert report.assumptions == ["the sum over i is written out for i = 1, 2"]
    bad = diffcheck.check(r"\sum_{i=1}^{N} x_i", values={"N": 0.5})
    assert bad.error.kind == "parse" and "--set N" in bad.error.message


def test_text_name_renames_what_the_text_syntax_reserves():
    assert [text_name(n) for n in ("delta", "lambda", "max", "pi", "e", "y_hat")] == \
        ["delta", "lambda_", "max_", "pi_", "e", "y_hat"]


def test_looks_like_latex():
    assert looks_like_latex(r"\frac{1}{2}") and looks_like_latex(r"\{x\}")
    assert not looks_like_latex("abs(x) + y") and not looks_like_latex("x \\\n + y")


# --- the command line --------------------------------------------------------------------------


def test_cli_latex_flag_and_json_input_kept():
    result = runner.invoke(app, ["--format", "json", "--latex", "--wrt", "y_hat", "--",
                                 r"\left| y - \hat{y} \right|"])
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)["results"]
    assert entry["input"] == r"\left| y - \hat{y} \right|"
    assert entry["reading"] == "abs(y - y_hat)"
    assert [f["kind"] for f in entry["findings"]] == ["kink"]


def test_cli_detects_latex_without_the_flag_and_prints_the_reading():
    result = runner.invoke(app, [r"\frac{1}{2}\left(y - \hat{y}\right)^2"])
    assert result.exit_code == 0
    assert "read as: 1/2*(y - y_hat)**2" in result.stdout


def test_latex_input_gets_the_autodiff_check_of_its_reading():
    # log(1 + e^{-z}) is smooth, but exp(-z) overflows in float32 for z < -88.7 (DC504)
    result = runner.invoke(app, ["--format", "json", r"\log\left(1 + e^{-z}\right)"])
    (entry,) = json.loads(result.stdout)["results"]
    assert entry["differentiable"] is True and entry["reading"] == "log(1 + exp(-z))"
    assert [f["code"] for f in entry["findings"]] == ["DC504"]


def test_cli_show_parse_prints_readings_and_errors():
    result = runner.invoke(app, ["--latex", "--show-parse", r"\hat{y}^2", "|x|", r"\log x (1-x)"])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == ["y_hat**2", "abs(x)"]
    assert "column 6: where does the argument of \\log end" in result.stderr


def test_cli_show_parse_of_text_input_checks_it():
    assert runner.invoke(app, ["--show-parse", "abs(y - f)"]).stdout == "abs(y - f)\n"
    assert runner.invoke(app, ["--show-parse", "sigmod(f)"]).exit_code == 2


def test_cli_set_with_latex_names_is_used(tmp_path):
    result = runner.invoke(app, ["--format", "json", "--set", "delta=1.0", "--set", "N=2", "--",
                                 r"\frac{1}{N}\sum_{i=1}^{N} \delta |x_i|"])
    (entry,) = json.loads(result.stdout)["results"]
    assert entry["fixed"] == {"N": 2, "delta": 1.0}
    assert "no loss uses" not in result.stderr


def test_cli_latex_lines_in_a_loss_file(tmp_path):
    losses = tmp_path / "losses.txt"
    losses.write_text("hinge: \\max\\{0, 1 - y f\\}\nsmooth: (y - f)**2\nbad: \\foo\n")
    result = runner.invoke(app, ["--format", "json", "--file", str(losses)])
    hinge, smooth, bad = json.loads(result.stdout)["results"]
    assert (hinge["reading"], hinge["differentiable"]) == ("max(0, 1 - y*f)", False)
    assert (smooth["reading"], smooth["differentiable"]) == (None, True)
    # the column counts in the file's line: "bad: " comes first
    assert (bad["error"]["kind"], bad["error"]["column"]) == ("parse", 6)
    assert result.exit_code == 2


def test_missing_lark_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "lark", None)  # import lark now fails
    monkeypatch.delitem(sys.modules, "diffcheck.readers.latex")
    report = diffcheck.check(r"\lvert y \rvert")
    assert (report.error.kind, report.error.message) == ("unsupported", LATEX_MISSING)
    assert diffcheck.check("abs(y)").error is None  # the text syntax does not need lark
    result = runner.invoke(app, ["--latex", "|y|"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"diffcheck: error: {LATEX_MISSING}"


# --- hostile and malformed input ---------------------------------------------------------------


HOSTILE = [
    r"\text{__import__('os').system('touch CANARY')}",
    r"\operatorname{eval}(\text{open})",
    r"\mathrm{exec}(x) + \operatorname{getattr}(x, y)",
    r"\text{x.__class__}",
    r"__import__(\text{os})",
    r"\input{CANARY}",
    r"\def\x{1} \x",
    r"\newcommand{\f}{x} \f",
    r"\write18{touch CANARY}",
    r"\text{open('CANARY', 'w')}",
]


@pytest.mark.parametrize("latex", HOSTILE)
def test_hostile_latex_never_runs(latex, tmp_path):
    """Refused, or read as harmless names (``\\operatorname{eval}(x)`` is a model function
    Eval of x); the canary file is never created."""
    canary = tmp_path / "canary"
    latex = latex.replace("CANARY", str(canary))
    report = diffcheck.check(latex, latex=True)
    assert not canary.exists()
    if report.error is None:
        assert report.reading is not None and "(" in report.reading
        assert all(name.isidentifier() for name in report.wrt)
    else:
        assert report.error.kind == "parse" and report.error.column


def test_limits_are_errors_of_kind_limit():
    assert diffcheck.check("\\frac{1}{x}" * (MAX_INPUT_CHARS // 10 + 1)).error.kind == "limit"
    for depth in (45, 99, 150):  # each a clear limit error, never a RecursionError
        for opening, closing in (("{", "}"), ("(", ")"), ("\\sqrt{", "}"), ("|", "|")):
            deep = opening * depth + "x" + closing * depth
            assert diffcheck.check(deep, latex=True).error.kind == "limit", deep
    nested = r"\sum_{i=1}^{12}\sum_{j=1}^{12}\sum_{k=1}^{12}\sum_{l=1}^{12} x_{i,j,k,l}"
    assert diffcheck.check(nested).error.kind == "limit"


LATEX_ALPHABET = list("xy12+-*/^_()[]{}|,.=<>&' ") + [
    r"\frac", r"\sqrt", r"\left(", r"\right)", r"\left|", r"\right|", r"\|", r"\{", r"\}",
    r"\sum_", r"\max", r"\log", r"\sigma", r"\hat", r"\text{if}", r"\\", r"\begin{cases}",
    r"\end{cases}", r"\mathbb{1}", r"\alpha", r"\cdot", r"\le", r"\dots", r"\lvert",
    r"\rvert", r"\,", "e^",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LATEX_ALPHABET), max_size=25).map("".join))
def test_random_latex_is_read_or_refused_with_a_column(latex):
    try:
        text = read(latex, latex=True)
    except ParseError as err:
        assert err.kind in ("parse", "limit")
        assert 1 <= err.column <= len(latex) + 1, (latex, err.column)
        assert err.message and "\n" not in err.message
        return
    assert parse(text).expr is not None


# --- SymPy's latex() read back ------------------------------------------------------------------

_x, _y, _z = sp.symbols("x y z", real=True)
#: names whose LaTeX is a subscript, an accent or a Greek letter (and lambda, a keyword)
_NAMED = [sp.Symbol(name, real=True) for name in ("x_1", "y_hat", "delta", "alpha", "lambda")]
_LEAVES = st.sampled_from([_x, _y, _z, *_NAMED, sp.Integer(2), sp.Integer(3), sp.Rational(1, 2),
                           sp.Rational(3, 4), sp.Float("0.5"), sp.pi])
_UNARY = [sp.exp, sp.log, sp.sqrt, sp.Abs, sp.tanh, sp.sin, sp.cos, sp.atan, sp.floor,
          sp.ceiling, sp.sign, lambda a: -a, lambda a: a**2, lambda a: 1 / a]
_BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
           sp.Max, sp.Min, lambda a, b: sp.Max(a, b, _z),
           lambda a, b: sp.Piecewise((a, a < b), (b, True)),
           lambda a, b: a ** (b if b.is_Symbol else 3)]


def _ambiguous_power(expr) -> bool:
    """``x_1^y``: a subscripted name with a letter for a power is refused as ambiguous (a
    power, or a label as in FaceNet's x_i^a?)."""
    return any(p.base.is_Symbol and "_" in p.base.name and not p.exp.is_number
               for p in expr.atoms(sp.Pow))


def _apply(function, *args):
    try:
        return function(*args)
    except (TypeError, ValueError):  # Max of a complex constant: keep the argument instead
        return args[0]


def _expressions():
    return st.recursive(
        _LEAVES,
        lambda inner: st.one_of(
            st.builds(_apply, st.sampled_from(_UNARY), inner),
            st.builds(_apply, st.sampled_from(_BINARY), inner, inner),
        ),
        max_leaves=6,
    )


@settings(max_examples=200, deadline=None)
@given(_expressions(), st.randoms(use_true_random=False))
def test_sympy_latex_is_read_back_to_the_same_expression(expr, rng):
    """Random expressions printed with SymPy's ``latex()`` read back to equal values."""
    if expr.has(sp.E, sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo, sp.ITE) or not expr.free_symbols \
            or _ambiguous_power(expr):
        # bare e and i are variables in LaTeX input (and sqrt(-1) no real number); constants
        # and infinities say nothing; SymPy prints a nested Piecewise condition as
        # \operatorname{ITE}, not as mathematics
        return
    latex = sp.latex(expr)
    reading = parse(read(latex, latex=True))
    renamed = expr.xreplace({s: sp.Symbol(text_name(s.name), real=True)
                             for s in expr.free_symbols})
    names = sorted(str(s) for s in renamed.free_symbols)
    assert set(reading.variables) == set(names), (latex, reading.expr)
    symbols = tuple(sp.Symbol(name, real=True) for name in names)
    original, read_back = compile_expr(renamed, symbols), compile_expr(reading.expr, symbols)
    for _ in range(12):
        point = [rng.uniform(-3, 3) for _ in names]
        want, got = evaluate(original, point), evaluate(read_back, point)
        assert (want is None) == (got is None), (latex, point)
        if want is not None:
            assert abs(want - got) <= 1e-9 * (1 + abs(want)), (latex, reading.expr, point)
