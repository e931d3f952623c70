"""The input language (CONTRACT.md section 3): what is accepted, how it is lowered to SymPy,
what is refused and where, and that nothing in the input is ever run."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import sympy as sp

from diffcheck import functions, parser
from diffcheck.functions import KNOWN_FUNCTIONS, VOCABULARY
from diffcheck.parser import MODULE_PREFIXES, ParsedExpression, ParseError, parse

a, b, c, e, f, m, r, s, t, u, v, w, x, y, z = sp.symbols("a b c e f m r s t u v w x y z",
                                                        real=True)
HALF = sp.Rational(1, 2)


def indicator(condition):
    return sp.Piecewise((1, condition), (0, True))


def model(name, *args):
    return sp.Function(name, real=True)(*args)


# --- the vocabulary: one sample call per row --------------------------------------------------

#: Every vocabulary name -> a call and its lowering; the prefix test runs each with every
#: module prefix.
VOCABULARY_SAMPLES = {
    "abs": ("abs(y - f)", sp.Abs(f - y)),
    "sqrt": ("sqrt(x)", sp.sqrt(x)),
    "exp": ("exp(x)", sp.exp(x)),
    "log": ("log(x)", sp.log(x)),
    "log1p": ("log1p(x)", sp.log(1 + x)),
    "expm1": ("expm1(x)", sp.exp(x) - 1),
    "sin": ("sin(x)", sp.sin(x)),
    "cos": ("cos(x)", sp.cos(x)),
    "tan": ("tan(x)", sp.tan(x)),
    "tanh": ("tanh(x)", sp.tanh(x)),
    "sinh": ("sinh(x)", sp.sinh(x)),
    "cosh": ("cosh(x)", sp.cosh(x)),
    "atan": ("atan(x)", sp.atan(x)),
    "arctan": ("arctan(x)", sp.atan(x)),
    "sigmoid": ("sigmoid(x)", 1 / (1 + sp.exp(-x))),
    "softplus": ("softplus(x)", sp.log(1 + sp.exp(x))),
    "relu": ("relu(x)", sp.Max(x, 0)),
    "leaky_relu": ("leaky_relu(x)", sp.Piecewise((x, x > 0), (x / 100, True))),
    "elu": ("elu(x)", sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True))),
    "max": ("max(x, y)", sp.Max(x, y)),
    "maximum": ("maximum(x, y)", sp.Max(x, y)),
    "amax": ("amax(x, y)", sp.Max(x, y)),
    "min": ("min(x, y)", sp.Min(x, y)),
    "minimum": ("minimum(x, y)", sp.Min(x, y)),
    "amin": ("amin(x, y)", sp.Min(x, y)),
    "clip": ("clip(u, 0, 6)", sp.Min(sp.Max(u, 0), 6)),
    "clamp": ("clamp(u, 0, 6)", sp.Min(sp.Max(u, 0), 6)),
    "sign": ("sign(x)", sp.sign(x)),
    "floor": ("floor(x)", sp.floor(x)),
    "ceil": ("ceil(x)", sp.ceiling(x)),
    "round": ("round(x)", sp.floor(x + HALF)),
    "heaviside": ("heaviside(x)", sp.Heaviside(x, HALF)),
    "step": ("step(x)", sp.Heaviside(x, 1)),
    "where": ("where(x > 0, x, 0)", sp.Piecewise((x, x > 0), (0, True))),
    "Piecewise": ("Piecewise((x, x > 0), (-x, True))", sp.Piecewise((x, x > 0), (-x, True))),
    "huber": ("huber(r)", sp.Piecewise((r**2 / 2, sp.Abs(r) <= 1), (sp.Abs(r) - HALF, True))),
    "logsumexp": ("logsumexp(a, b)", sp.log(sp.exp(a) + sp.exp(b))),
    "mean": ("mean(x)", x),
    "sum": ("sum(x)", x),
    "square": ("square(x)", x**2),
    "pow": ("pow(x, 3)", x**3),
    # the activation vocabulary (issue 8), written out from the PyTorch/JAX documentation
    "expit": ("expit(x)", 1 / (1 + sp.exp(-x))),
    "logsigmoid": ("logsigmoid(x)", -sp.log(1 + sp.exp(-x))),
    "log_sigmoid": ("log_sigmoid(x)", -sp.log(1 + sp.exp(-x))),
    "relu6": ("relu6(x)", sp.Min(sp.Max(x, 0), 6)),
    "selu": ("selu(x)", sp.Rational("1.0507009873554804934193349852946") * sp.Piecewise(
        (x, x > 0), (sp.Rational("1.6732632423543772848170429916717") * (sp.exp(x) - 1), True))),
    "celu": ("celu(x, 2)", sp.Piecewise((x, x > 0), (2 * (sp.exp(x / 2) - 1), True))),
    "gelu": ("gelu(x)", x * (1 + sp.erf(x / sp.sqrt(2))) / 2),
    "silu": ("silu(x)", x / (1 + sp.exp(-x))),
    "swish": ("swish(x)", x / (1 + sp.exp(-x))),
    "mish": ("mish(x)", x * sp.tanh(sp.log(1 + sp.exp(x)))),
    "softsign": ("softsign(x)", x / (1 + sp.Abs(x))),
    "soft_sign": ("soft_sign(x)", x / (1 + sp.Abs(x))),
    "hardtanh": ("hardtanh(x)", sp.Min(sp.Max(x, -1), 1)),
    "hard_tanh": ("hard_tanh(x)", sp.Min(sp.Max(x, -1), 1)),
    "hardsigmoid": ("hardsigmoid(x)", sp.Min(sp.Max(x + 3, 0), 6) / 6),
    "hard_sigmoid": ("hard_sigmoid(x)", sp.Min(sp.Max(x + 3, 0), 6) / 6),
    "hardswish": ("hardswish(x)", x * sp.Min(sp.Max(x + 3, 0), 6) / 6),
    "hard_swish": ("hard_swish(x)", x * sp.Min(sp.Max(x + 3, 0), 6) / 6),
    "hard_silu": ("hard_silu(x)", x * sp.Min(sp.Max(x + 3, 0), 6) / 6),
    "softshrink": ("softshrink(x)", sp.Piecewise((x - HALF, x > HALF), (x + HALF, x < -HALF),
                                                 (0, True))),
    "hardshrink": ("hardshrink(x, 2)", sp.Piecewise((x, (x > 2) | (x < -2)), (0, True))),
    "tanhshrink": ("tanhshrink(x)", x - sp.tanh(x)),
    "threshold": ("threshold(x, 1, 0)", sp.Piecewise((x, x > 1), (0, True))),
    "erf": ("erf(x)", sp.erf(x)),
    "erfc": ("erfc(x)", sp.erfc(x)),
    "acos": ("acos(x)", sp.acos(x)),
    "arccos": ("arccos(x)", sp.acos(x)),
    "asin": ("asin(x)", sp.asin(x)),
    "arcsin": ("arcsin(x)", sp.asin(x)),
    "atan2": ("atan2(y, 1)", sp.atan(y)),
    "arctan2": ("arctan2(1, x)", sp.Piecewise((sp.atan(1 / x), x > 0), (sp.atan(1 / x) + sp.pi, x < 0),
                                              (sp.pi / 2, True))),
    "hypot": ("hypot(x, y)", sp.sqrt(x**2 + y**2)),
    "cbrt": ("cbrt(x)", sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)),
    "log2": ("log2(x)", sp.log(x) / sp.log(2)),
    "log10": ("log10(x)", sp.log(x) / sp.log(10)),
    "sinc": ("sinc(x)", sp.sinc(sp.pi * x)),
    "rsqrt": ("rsqrt(x)", 1 / sp.sqrt(x)),
    "reciprocal": ("reciprocal(x)", 1 / x),
    "logaddexp": ("logaddexp(x, y)", sp.log(sp.exp(x) + sp.exp(y))),
    "xlogy": ("xlogy(x, y)", sp.Piecewise((0, sp.Eq(x, 0)), (x * sp.log(y), True))),
    "clamp_min": ("clamp_min(x, 0)", sp.Max(x, 0)),
    "clamp_max": ("clamp_max(x, 1)", sp.Min(x, 1)),
    "softmax": ("softmax(x, y, index=1)", sp.exp(y) / (sp.exp(x) + sp.exp(y))),
    "log_softmax": ("log_softmax(x, y)", x - sp.log(sp.exp(x) + sp.exp(y))),
    "norm": ("norm(x, y)", sp.sqrt(x**2 + y**2)),
}


def test_every_vocabulary_entry_has_a_sample():
    assert set(VOCABULARY_SAMPLES) == set(KNOWN_FUNCTIONS)


def test_contract_function_list_is_in_the_vocabulary():
    contract = ("abs sqrt exp log log1p expm1 sin cos tan tanh sinh cosh atan sigmoid softplus "
                "relu leaky_relu elu max min maximum minimum clip clamp sign floor ceil round "
                "heaviside step where Piecewise huber logsumexp mean sum square pow").split()
    assert set(contract) <= KNOWN_FUNCTIONS


@pytest.mark.parametrize("name", sorted(VOCABULARY_SAMPLES))
def test_vocabulary_entry(name):
    text, expected = VOCABULARY_SAMPLES[name]
    assert parse(text).expr == expected


@pytest.mark.parametrize("prefix", MODULE_PREFIXES)
@pytest.mark.parametrize("name", sorted(VOCABULARY_SAMPLES))
def test_vocabulary_entry_with_module_prefix(name, prefix):
    text, expected = VOCABULARY_SAMPLES[name]
    assert parse(prefix + text).expr == expected


@pytest.mark.parametrize("name", sorted(VOCABULARY))
def test_vocabulary_rows_are_documented(name):
    spec = VOCABULARY[name]
    assert spec.doc and "\n" not in spec.doc
    assert spec.build.__doc__


# --- accepted inputs --------------------------------------------------------------------------

ACCEPTED = [
    # arithmetic and numbers
    ("x + 2*y - z/4", x + 2 * y - z / 4),
    ("-x", -x),
    ("+x", x),
    ("-x**2", -(x**2)),
    ("x**-1", 1 / x),
    ("x % 3", sp.Mod(x, 3)),
    ("x // 2", sp.floor(x / 2)),
    ("2**10", sp.Integer(1024)),
    ("x**(10**100)", x ** (sp.Integer(10) ** 100)),
    ("0.5*x", x / 2),
    ("1e-3", sp.Rational(1, 1000)),
    ("0.1 + 0.2", sp.Rational(3, 10)),  # exact decimals, not binary floats
    ("2.5e2", sp.Integer(250)),
    ("1_000.5", sp.Rational(2001, 2)),
    ("0x10 + x", x + 16),
    ("x**0.5", sp.sqrt(x)),
    ("(x*y)", x * y),
    ("  x + 1", x + 1),
    ("(x +\n 1)", x + 1),
    ("x + 1  # a comment", x + 1),
    # constants
    ("pi*r**2", sp.pi * r**2),
    ("np.pi", sp.pi),
    ("math.pi", sp.pi),
    ("torch.pi", sp.pi),
    ("np.e", sp.E),
    ("math.e**x", sp.exp(x)),
    ("e + 1", e + 1),  # a bare e is a variable
    # comparisons and conditions
    ("t*s <= 0", indicator(t * s <= 0)),
    ("(t*s <= 0) + 1", indicator(t * s <= 0) + 1),
    ("x < y", indicator(x < y)),
    ("x >= y", indicator(x >= y)),
    ("x == y", indicator(sp.Eq(x, y))),
    ("x != y", indicator(sp.Ne(x, y))),
    ("x < y < z", indicator(sp.And(x < y, y < z))),
    ("(x > 0) and (y > 0)", indicator(sp.And(x > 0, y > 0))),
    ("x > 0 or y > 0", indicator(sp.Or(x > 0, y > 0))),
    ("not x > 0", indicator(x <= 0)),
    ("1 < 2", sp.Integer(1)),
    ("max(x > 0, y)", sp.Max(indicator(x > 0), y)),
    ("a if x > 0 else b", sp.Piecewise((a, x > 0), (b, True))),
    ("where(m, a, b)", sp.Piecewise((a, sp.Ne(m, 0)), (b, True))),  # nonzero is true
    ("where((x > 0) and (y < 1), a, b)", sp.Piecewise((a, (x > 0) & (y < 1)), (b, True))),
    ("Piecewise((a, x < 0), (b, x < 1), (c, True))",
     sp.Piecewise((a, x < 0), (b, x < 1), (c, True))),
    ("where((x > 0) + (y > 0) > 1, a, b)", sp.Piecewise((a, (x > 0) & (y > 0)), (b, True))),
    # keywords, optional arguments and aliases
    ("log(x, 2)", sp.log(x) / sp.log(2)),
    ("softplus(x, beta=2)", sp.log(1 + sp.exp(2 * x)) / 2),
    ("softplus(x, 2)", sp.log(1 + sp.exp(2 * x)) / 2),
    ("leaky_relu(x, negative_slope=0.2)", sp.Piecewise((x, x > 0), (x / 5, True))),
    ("F.leaky_relu(x, 0.2, inplace=True)", sp.Piecewise((x, x > 0), (x / 5, True))),
    ("elu(x, alpha=2)", sp.Piecewise((x, x > 0), (2 * (sp.exp(x) - 1), True))),
    ("huber(r, delta=0.5)",
     sp.Piecewise((r**2 / 2, sp.Abs(r) <= HALF), (HALF * (sp.Abs(r) - HALF / 2), True))),
    ("torch.clamp(u, min=0)", sp.Max(u, 0)),
    ("torch.clamp(u, max=1)", sp.Min(u, 1)),
    ("np.clip(u, a_min=-1, a_max=1)", sp.Min(sp.Max(u, -1), 1)),
    ("clip(u, None, 1)", sp.Min(u, 1)),
    ("clip(u, 0, None)", sp.Max(u, 0)),
    ("clip(u, 0)", sp.Max(u, 0)),
    ("round(x, 2)", sp.floor(100 * x + HALF) / 100),
    ("np.round(x, decimals=1)", sp.floor(10 * x + HALF) / 10),
    ("round(x, ndigits=-1)", 10 * sp.floor(x / 10 + HALF)),
    ("heaviside(x, 0)", sp.Heaviside(x, 0)),
    ("torch.heaviside(x, values=1)", sp.Heaviside(x, 1)),
    ("max(x, y, z)", sp.Max(x, y, z)),
    ("logsumexp(a, b, c)", sp.log(sp.exp(a) + sp.exp(b) + sp.exp(c))),
    ("mean(x, axis=0)", x),
    ("torch.sum(x, dim=-1, keepdim=True)", x),
    ("np.mean(x, axis=(0, 1))", x),
    # the contract's examples, and what SymPy makes of them
    ("abs(u)**4", u**4),
    ("(u**2)**0.5", sp.Abs(u)),
    ("sqrt(u**2)", sp.Abs(u)),
    ("abs(-u)", sp.Abs(u)),
    ("relu(u)**4", sp.Max(u, 0) ** 4),
    ("max(u, 0) - min(u, 0)", sp.Max(u, 0) - sp.Min(u, 0)),
    ("max(u, v) - v", sp.Max(u, v) - v),
    ("relu(abs(u) - 1)", sp.Max(sp.Abs(u) - 1, 0)),
    ("u**2*abs(u)", u**2 * sp.Abs(u)),
    ("mean(abs(y - f))", sp.Abs(f - y)),
    # model functions
    ("F(x)", model("F", x)),
    ("Model(x, w)", model("Model", x, w)),
    ("Loss(t, G(w))", model("Loss", t, model("G", w))),
    ("F(x) + F.relu(x)", model("F", x) + sp.Max(x, 0)),
    ("F(x > 0)", model("F", indicator(x > 0))),
    # identifiers
    ("αβ + γ", sp.Symbol("αβ", real=True) + sp.Symbol("γ", real=True)),
    ("X + np", sp.Symbol("X", real=True) + sp.Symbol("np", real=True)),
]


@pytest.mark.parametrize("text, expected", ACCEPTED)
def test_accepted(text, expected):
    parsed = parse(text)
    assert parsed.expr == expected
    assert parsed.source == text


def test_variables_are_real_symbols():
    assert parse("x + y").expr.free_symbols == {x, y}
    assert all(symbol.is_real for symbol in parse("a*b - c").expr.free_symbols)


@pytest.mark.parametrize("text, variables, model_functions", [
    ("abs(y - f)", ("f", "y"), ()),
    ("Loss(t, G(w))", ("t", "w"), ("G", "Loss")),  # w appears only inside a model function
    ("Model(x, w) + Model(y, w)", ("w", "x", "y"), ("Model",)),
    ("pi*r**2", ("r",), ()),
    ("x - x", ("x",), ()),  # written, though SymPy cancels it
    ("where(True, a, b)", ("a", "b"), ()),
    ("F.relu(z)", ("z",), ()),  # F. is the torch prefix, not a model function
])
def test_variables_and_model_functions(text, variables, model_functions):
    parsed = parse(text)
    assert parsed.variables == variables
    assert parsed.model_functions == model_functions


def test_spans_give_the_column_of_each_call_and_comparison():
    parsed = parse("abs(y - f) + relu(x) + (t*s <= 0)")
    assert parsed.spans[sp.Abs(f - y)] == 1
    assert parsed.spans[sp.Max(x, 0)] == 14
    assert parsed.spans[t * s <= 0] == 25
    assert parsed.spans[indicator(t * s <= 0)] == 25


def test_spans_cover_what_a_call_builds_inside():
    parsed = parse("y + clip(u, 0, 6)")
    assert parsed.spans[sp.Max(u, 0)] == 5  # built by the clip call, not written
    assert parsed.spans[sp.Min(sp.Max(u, 0), 6)] == 5


def test_spans_first_occurrence_wins():
    assert parse("abs(x) + 2*abs(x)").spans[sp.Abs(x)] == 1


def test_parsed_expression_is_frozen_and_hashable():
    parsed = parse("abs(x)")
    assert isinstance(parsed, ParsedExpression)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.expr = x  # type: ignore[misc]
    assert hash(parsed) == hash(parse("abs(x)"))


def test_round_ties_go_up():
    assert parse("round(x)").expr.subs(x, HALF) == 1
    assert parse("round(x)").expr.subs(x, -HALF) == 0


# --- rejected inputs --------------------------------------------------------------------------

REJECTED = [
    # (input, column, fragment of the message); all of kind "parse"
    ("", 1, "empty expression"),
    ("   ", 1, "empty expression"),
    ("# only a comment", 1, "empty expression"),
    ("x +", 4, "syntax error"),
    ("(x + 1", 1, "never closed"),
    ("x\x00", 2, "NUL"),
    ("x + \ud800", 5, "invalid character"),
    ("import os", 1, "statement"),
    ("from os import system", 1, "statement"),
    ("x = 1", 3, "assignment (=)"),
    ("(x := 1)", 2, "assignments (:=)"),
    # unknown names and functions
    ("sigmod(x)", 1, "unknown function 'sigmod' (did you mean sigmoid?)"),
    ("y + sigmod(x)", 5, "did you mean sigmoid?"),
    ("   sigmod(x)", 4, "did you mean sigmoid?"),
    ("αβ + sigmod(x)", 6, "did you mean sigmoid?"),
    ("torch.sigmod(x)", 1, "unknown function 'torch.sigmod' (did you mean torch.sigmoid?)"),
    ("ceiling(x)", 1, "did you mean ceil?"),
    ("f(x)", 1, "unknown function 'f'"),
    ("Max(x, 0)", 1, "did you mean max?"),
    ("ReLU(x)", 1, "did you mean relu?"),
    ("LeakyReLU(x)", 1, "did you mean leaky_relu?"),
    ("exp + 1", 1, "exp is a function: call it as exp(...)"),
    ("2 * np.exp", 5, "np.exp is a function"),
    ("__x + 1", 1, "names starting with __"),
    ("inf", 1, "not a finite number"),
    ("x * nan", 5, "not a finite number"),
    ("np.inf", 1, "not a finite number"),
    ("math.nan", 1, "not a finite number"),
    ("G + G(x)", 1, "both as a variable and as a model function"),
    ("F()", 1, "at least one argument"),
    ("F(x, k=1)", 6, "takes no keyword arguments"),
    # attributes, calls, unsupported syntax
    ("os.system('ls')", 1, "unsupported attribute 'os.system'"),
    ("x.real", 1, "unsupported attribute 'x.real'"),
    ("np.linalg.norm(x)", 1, "unsupported attribute 'np.linalg.norm'"),
    ("1 + np.foo", 5, "unsupported attribute 'np.foo'"),
    ("x.__class__", 1, "unsupported attribute"),
    ("(np).exp(x)", 1, "unsupported attribute"),
    ("(f)(x)", 2, "called by name"),
    ("exp(x)(y)", 1, "called by name"),
    ("x[0]", 1, "subscripts"),
    ("lambda: 1", 1, "lambda"),
    ("[v for v in x]", 1, "list comprehensions"),
    ("{v for v in x}", 1, "set comprehensions"),
    ("{v: 1 for v in x}", 1, "dict comprehensions"),
    ("sum(v for v in x)", 4, "generator expressions"),  # a lone generator owns the brackets
    ("[x, y]", 1, "lists"),
    ("{x: 1}", 1, "dicts"),
    ("(x, y)", 1, "tuples"),
    ("'abc'", 1, "strings"),
    ("b'abc'", 1, "strings"),
    ("f'{x}'", 1, "f-strings"),
    ("exp(*x)", 5, "starred"),
    ("exp(**k)", 5, "**kwargs"),
    ("await x", 1, "await"),
    ("(yield x)", 2, "yield"),
    ("1j", 1, "complex"),
    ("None", 1, "None"),
    ("...", 1, "not supported"),
    ("True", 1, "conditions"),
    ("x + False", 5, "conditions"),
    ("x ^ 2", 3, "use ** for powers"),
    ("x & y", 3, "'&'"),
    ("x | y", 3, "'|'"),
    ("~x", 1, "'~'"),
    ("x @ y", 3, "'@'"),
    ("x << 1", 3, "'<<'"),
    ("x is y", 3, "'is'"),
    ("x not in y", 3, "'not in'"),
    # arguments
    ("clip(x, 1, 2, 3)", 1, "clip takes 1 to 3 arguments, got 4"),
    ("where(x > 0, x)", 1, "where takes 3 arguments, got 2"),
    ("exp(x, y)", 1, "exp takes 1 argument, got 2"),
    ("log(x, 2, 3)", 1, "log takes 1 or 2 arguments, got 3"),
    ("max(x)", 1, "max takes at least 2 arguments, got 1"),
    ("mean()", 1, "mean takes at least 1 argument, got 0"),
    ("clip(u)", 1, "needs a lower or an upper bound"),
    ("clip(u, None, None)", 1, "needs a lower or an upper bound"),
    ("softplus(x, gamma=1)", 13, "no keyword argument 'gamma' (accepted: beta, threshold)"),
    ("exp(x, base=2)", 8, "no keyword argument 'base' (it takes none)"),
    ("clip(u, 0, 1, min=0)", 15, "'min' repeats an argument"),
    ("clip(u, min=0, a_min=1)", 16, "'a_min' repeats an argument"),
    ("softplus(x, beta=None)", 18, "None"),
    ("mean(x, axis=y)", 9, "plain literal"),
    ("round(x, 0.5)", 1, "decimals must be an integer"),
    ("Piecewise(x)", 11, "(value, condition) pairs"),
    ("Piecewise((x, y, z))", 11, "(value, condition) pairs"),
    # values that are not numbers
    ("1/0", 1, "infinite"),
    ("x + log(0)", 5, "infinite"),
    ("0/0", 1, "undefined"),
    ("Piecewise((x, False))", 1, "undefined"),
    ("x % 0", 1, "cannot evaluate"),
    ("sqrt(-1) < 1", 1, "cannot evaluate"),
]


@pytest.mark.parametrize("text, column, fragment", REJECTED)
def test_rejected(text, column, fragment):
    with pytest.raises(ParseError) as caught:
        parse(text)
    err = caught.value
    assert (err.kind, err.column) == ("parse", column), err.message
    assert fragment in err.message
    assert str(err) == err.message
    assert "\n" not in err.message


LIMITS = [
    # (input, column, fragment of the message); all of kind "limit"
    ("x" * 10_001, 10_001, "too long"),
    ("(" * 101 + "x" + ")" * 101, 101, "brackets deep"),
    ("1" * 101, 1, "101 digits"),
    ("y + 0." + "1" * 101, 5, "102 digits"),
    ("2**2**2**2**2**2", 4, "19729 digits"),
    ("9**9**9", 1, "digits"),
    ("2**(10**100)", 1, "digits"),
    ("1e99999", 1, "digits"),
    ("0.5**(10**100)", 1, "digits"),
    ("sqrt(2)**(10**100)", 1, "digits"),
    ("exp(10**100)", 1, "digits"),
    ("floor(exp(10**100))", 7, "digits"),
    ("exp(x + 10**100)", 1, "digits"),
    ("exp(10**100*log(2))", 1, "digits"),
    ("np.e**(10**100*log(2))", 1, "digits"),
    ("round(x, 10**100)", 1, "digits"),
    ("10**3000*10**3000", 1, "digits"),
    ("sqrt(10**200 + 7)", 1, "root of a number"),
    ("not " * 150 + "x", 401, "nested more than 100 levels"),
    ("max(" + ", ".join(f"x{i}" for i in range(20)) + ")", 1, "Max of 20 arguments"),
    ("max(max(a, b, c, d, e, f, m, r, s), max(t, u, v, w, x, y, z, a0, b0))", 1, "Max of 18"),
    ("where(" + " < ".join(f"x{i}" for i in range(70)) + ", 1, 0)", 7, "69 comparisons"),
    ("huber(" * 8 + "x" + ")" * 8, 13, "cases"),  # the sixth huber from the inside
    ("x+" * 4999 + "x", 1, "Python's parser"),
]


@pytest.mark.parametrize("text, column, fragment", LIMITS, ids=lambda v: str(v)[:30])
def test_limits(text, column, fragment):
    with pytest.raises(ParseError) as caught:
        parse(text)
    err = caught.value
    assert (err.kind, err.column) == ("limit", column), err.message
    assert fragment in err.message


def test_build_time_is_bounded(monkeypatch):
    monkeypatch.setattr(parser, "MAX_BUILD_SECONDS", -1.0)
    with pytest.raises(ParseError, match="too long to build") as caught:
        parse("x + 1")
    assert caught.value.kind == "limit"


@pytest.mark.parametrize("text", [
    "(" * 5000 + "x" + ")" * 5000,
    "(" * 4000 + "x" + ")" * 4000,
    "-" * 100_000 + "x",
    "-" * 9_999 + "x",
    "2**" * 3000 + "2",
    "2**2**2**2**2**2",
    "9**9**9",
    "1" * 5000,
    "x" + ".a" * 4000,
    "x" + "[0]" * 3000,
    "f(" * 3000 + ")" * 3000,
    "lambda: " * 1000 + "x",
    "a if b else " * 800 + "c",
    "sigmoid(" * 99 + "x" + ")" * 99,
    "huber(" * 12 + "x" + ")" * 12,
    "elu(" * 12 + "x" + ")" * 12,
    "where(" + " + ".join(f"(x{i} > 0)" for i in range(12)) + " > 3, a, b)",
], ids=lambda text: f"{text[:20]}...({len(text)})")
def test_pathological_inputs_fail_cleanly(text):
    with pytest.raises(ParseError):
        parse(text)


# --- nothing in the input is ever run ---------------------------------------------------------

HOSTILE = [
    "__import__('os').system('touch {canary}')",
    "__import__('os')",
    "open('{canary}', 'w')",
    "exec(\"open('{canary}', 'w')\")",
    "eval(\"open('{canary}', 'w')\")",
    "compile(\"open('{canary}', 'w')\", 'f', 'exec')",
    "getattr(__builtins__, 'open')('{canary}', 'w')",
    "__builtins__.open('{canary}', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "(lambda: open('{canary}', 'w'))()",
    "max((lambda: __import__('os').system('touch {canary}'))(), 1)",
    "[open('{canary}', 'w') for _ in (1,)]",
    "sum(open('{canary}', 'w') for _ in [1])",
    "Model(__import__('os').system('touch {canary}'))",
    "where(exec('open(\"{canary}\", \"w\")'), 1, 0)",
    "x if open('{canary}', 'w') else y",
    "(y := open('{canary}', 'w'))",
    "f'{{open(\"{canary}\", \"w\")}}'",
    "np.os.system('touch {canary}')",
    "F.__globals__['os'].system('touch {canary}')",
    "sympy.sympify(\"open('{canary}', 'w')\")",
    "S(\"open('{canary}', 'w')\")",
    "parse_expr(\"open('{canary}', 'w')\")",
    "import os; os.system('touch {canary}')",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_input_is_never_run(template, tmp_path):
    canary = tmp_path / "CANARY"
    with pytest.raises(ParseError):
        parse(template.format(canary=canary))
    assert not canary.exists()


def test_modules_never_evaluate_text():
    """No eval-like call anywhere in the parser or the vocabulary."""
    evaluating = {"eval", "exec", "sympify", "parse_expr", "S", "lambdify", "import_module"}
    builtins = evaluating | {"compile", "getattr", "__import__"}  # re.compile is fine
    root = Path(parser.__file__).parent
    modules = [root / "parser.py", *sorted((root / "primitives").glob("*.py"))]
    for path in modules:
        module = path.name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name):
                assert node.func.id not in builtins, f"{module}:{node.lineno} {node.func.id}"
            if isinstance(node.func, ast.Attribute):
                assert node.func.attr not in evaluating, f"{module}:{node.lineno}"


def test_limits_of_the_numeric_guards_are_consistent():
    # Every number that passes the guards can still be printed by CPython.
    assert functions.MAX_NUMBER_DIGITS < 4300
    assert parse("2**13000").expr == sp.Integer(2) ** 13000


def test_no_module_of_the_package_parses_or_evaluates_text():
    """eval, exec, sympify and parse_expr appear nowhere in the package (lambdify only
    compiles trees the parser built, in numeric.py)."""
    forbidden = {"eval", "exec", "sympify", "parse_expr", "parse_latex"}
    root = Path(parser.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                assert name not in forbidden, f"{path.name}:{node.lineno} calls {name}"
                if name == "lambdify":
                    assert path.name == "numeric.py", f"{path.name}:{node.lineno} calls lambdify"
