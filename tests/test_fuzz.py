"""Property-based fuzzing of the parser, the analysis, the loss-file reader and the CLI.

Three families:

1. Random expression *trees* over the whole vocabulary (every name of
   ``diffcheck.functions.KNOWN_FUNCTIONS`` with a valid arity, ``+ - * / ** %``, unary minus,
   comparisons used as indicators, ``and``/``or``/``not`` in conditions, ``where``,
   ``Piecewise``, model functions ``G(w)``), rendered to text. ``check`` must return a Report
   with either an error of a known kind or a verdict, never raise; and every kink/jump/
   infinite-slope finding with a probe point is re-checked *independently*: the text is
   rebuilt with plain SymPy by the small reference translator below (its own table of
   names, not diffcheck's parser), and mpmath one-sided difference quotients at the probe
   point along the probe direction must show that the function really is non-smooth there.
2. Random malformed strings and random bytes of loss files: only ``ParseError`` (with a kind,
   an in-range column and a one-line message) or an error ``LossLine``.
3. Random bytes as a loss file through the CLI: one result per expression line, exit status
   0, 1 or 2, valid JSON, no traceback.

Example counts are sized so that the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import ast
import contextlib
import json
import signal
import string
import sys

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import diffcheck
from diffcheck import functions
from diffcheck.cli import app
from diffcheck.lossfile import decode_loss_bytes, read_loss_lines
from diffcheck.model import Report
from diffcheck.numeric import concrete_model_functions
from diffcheck.parser import ParseError, parse

ERROR_KINDS = {"parse", "unsupported", "limit", "timeout"}
NON_SMOOTH = {"kink", "jump", "infinite-slope"}
SMOOTHNESS = {"Cinf", "discontinuous"} | {f"C{k}" for k in range(0, 20)}

#: an in-process check of a small tree should take well under a second; this only turns a
#: runaway analysis into a readable failure instead of a hung test run
CHECK_ALARM = 60


class _Alarm(BaseException):
    """SIGALRM; a BaseException so that the API's ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds: int, what: str):
    if sys.platform == "win32":
        yield
        return

    def fire(signum, frame):
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    except _Alarm:
        pytest.fail(f"check({what!r}) ran for more than {seconds} s in process")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# =============================================================================================
# The reference translator: text -> plain SymPy, with its own table of names
# =============================================================================================
#
# Semantics from CONTRACT.md section 3 and the README, written out independently of
# diffcheck/functions.py (the scorer in shared/eval/score.py does the same with its NS dict).

_HALF = sp.Rational(1, 2)


def _ind(condition):
    return sp.Piecewise((1, condition), (0, True))


def _clip(u, lo=None, hi=None, **_):
    out = u if lo is None else sp.Max(u, lo)
    return out if hi is None else sp.Min(out, hi)


def _round(u, decimals=0, ndigits=None):
    decimals = ndigits if ndigits is not None else decimals
    scale = sp.Integer(10) ** decimals
    return sp.floor(u * scale + _HALF) / scale


REF_NS = {
    "abs": sp.Abs,
    "sqrt": sp.sqrt,
    "exp": sp.exp,
    "log": lambda u, base=None: sp.log(u) if base is None else sp.log(u) / sp.log(base),
    "log1p": lambda u: sp.log(1 + u),
    "expm1": lambda u: sp.exp(u) - 1,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh,
    "atan": sp.atan, "arctan": sp.atan,
    "sigmoid": lambda u: 1 / (1 + sp.exp(-u)),
    "softplus": lambda u, beta=1: sp.log(1 + sp.exp(beta * u)) / beta,
    "relu": lambda u, inplace=None: sp.Max(u, 0),
    "leaky_relu": lambda u, negative_slope=sp.Rational(1, 100), inplace=None:
        sp.Piecewise((u, u > 0), (negative_slope * u, True)),
    "elu": lambda u, alpha=1, inplace=None:
        sp.Piecewise((u, u > 0), (alpha * (sp.exp(u) - 1), True)),
    "max": sp.Max, "maximum": sp.Max, "amax": sp.Max,
    "min": sp.Min, "minimum": sp.Min, "amin": sp.Min,
    "clip": lambda u, lo=None, hi=None, a_min=None, a_max=None:
        _clip(u, lo if lo is not None else a_min, hi if hi is not None else a_max),
    "clamp": lambda u, lo=None, hi=None, min=None, max=None:  # noqa: A002
        _clip(u, lo if lo is not None else min, hi if hi is not None else max),
    "sign": sp.sign,
    "floor": sp.floor,
    "ceil": sp.ceiling,
    "round": _round,
    "heaviside": lambda u, values=_HALF:
        sp.Piecewise((0, u < 0), (values, sp.Eq(u, 0)), (1, True)),
    "step": lambda u: sp.Piecewise((1, u >= 0), (0, True)),
    "where": lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    "Piecewise": lambda *pairs: sp.Piecewise(*pairs),
    "huber": lambda r, delta=1: sp.Piecewise(
        (r**2 / 2, sp.Abs(r) <= delta), (delta * (sp.Abs(r) - delta / 2), True)),
    "logsumexp": lambda *a: sp.log(sum(sp.exp(t) for t in a)),
    "mean": lambda u, **_: u, "sum": lambda u, **_: u,
    "square": lambda u: u**2,
    "pow": lambda a, b: a**b,
    # the activation vocabulary, from the PyTorch and JAX documentation
    "expit": lambda u: 1 / (1 + sp.exp(-u)),
    "logsigmoid": lambda u: -sp.log(1 + sp.exp(-u)),
    "log_sigmoid": lambda u: -sp.log(1 + sp.exp(-u)),
    "relu6": lambda u, inplace=None: sp.Min(sp.Max(u, 0), 6),
    "selu": lambda u, inplace=None: _SELU_SCALE * sp.Piecewise(
        (u, u > 0), (_SELU_ALPHA * (sp.exp(u) - 1), True)),
    "celu": lambda u, alpha=1, inplace=None: sp.Max(u, 0) + sp.Min(0, alpha * (sp.exp(u / alpha) - 1)),
    "gelu": lambda u, approximate=None: u * (1 + sp.erf(u / sp.sqrt(2))) / 2,
    "silu": lambda u, inplace=None: u / (1 + sp.exp(-u)),
    "swish": lambda u, inplace=None: u / (1 + sp.exp(-u)),
    "mish": lambda u, inplace=None: u * sp.tanh(sp.log(1 + sp.exp(u))),
    "softsign": lambda u: u / (1 + sp.Abs(u)),
    "soft_sign": lambda u: u / (1 + sp.Abs(u)),
    "hardtanh": lambda u, min_val=-1, max_val=1, inplace=None: sp.Min(sp.Max(u, min_val), max_val),
    "hard_tanh": lambda u: sp.Min(sp.Max(u, -1), 1),
    "hardsigmoid": lambda u, inplace=None: sp.Min(sp.Max(u + 3, 0), 6) / 6,
    "hard_sigmoid": lambda u: sp.Min(sp.Max(u + 3, 0), 6) / 6,
    "hardswish": lambda u, inplace=None: u * sp.Min(sp.Max(u + 3, 0), 6) / 6,
    "hard_swish": lambda u: u * sp.Min(sp.Max(u + 3, 0), 6) / 6,
    "hard_silu": lambda u: u * sp.Min(sp.Max(u + 3, 0), 6) / 6,
    "softshrink": lambda u, lambd=_HALF: sp.Piecewise(
        (u - lambd, u > lambd), (u + lambd, u < -lambd), (0, True)),
    "hardshrink": lambda u, lambd=_HALF: sp.Piecewise((u, sp.Abs(u) > lambd), (0, True)),
    "tanhshrink": lambda u: u - sp.tanh(u),
    "threshold": lambda u, threshold, value, inplace=None: sp.Piecewise(
        (u, u > threshold), (value, True)),
    "erf": sp.erf, "erfc": sp.erfc,
    "acos": sp.acos, "arccos": sp.acos, "asin": sp.asin, "arcsin": sp.asin,
    "atan2": sp.atan2, "arctan2": sp.atan2,
    "hypot": lambda a, b: sp.sqrt(a**2 + b**2),
    "cbrt": lambda u: sp.real_root(u, 3),
    "log2": lambda u: sp.log(u, 2), "log10": lambda u: sp.log(u, 10),
    "sinc": lambda u: sp.Piecewise((1, sp.Eq(u, 0)), (sp.sin(sp.pi * u) / (sp.pi * u), True)),
    "rsqrt": lambda u: u ** -_HALF,
    "reciprocal": lambda u: 1 / u,
    "logaddexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)),
    "xlogy": lambda a, b: sp.Piecewise((0, sp.Eq(a, 0)), (a * sp.log(b), True)),
    "clamp_min": lambda u, min: sp.Max(u, min),  # noqa: A002
    "clamp_max": lambda u, max: sp.Min(u, max),  # noqa: A002
    "softmax": lambda *a, index=0, **_: sp.exp(a[index]) / sum(sp.exp(t) for t in a),
    "log_softmax": lambda *a, index=0, **_: a[index] - sp.log(sum(sp.exp(t) for t in a)),
    "norm": lambda *a, **_: sp.sqrt(sum(t**2 for t in a)),
}

_SELU_ALPHA = sp.Rational("1.6732632423543772848170429916717")
_SELU_SCALE = sp.Rational("1.0507009873554804934193349852946")
_PREFIXES = ("torch.nn.functional.", "jax.scipy.special.", "scipy.special.", "torch.special.",
             "jax.numpy.", "jax.nn.", "jax.lax.", "numpy.", "torch.", "math.", "jnp.", "lax.",
             "np.", "F.")
#: positions of REF_NS functions that take a condition
_CONDITION_ARGS = {"where": {0}}


class NotInReference(Exception):
    """The text uses a name the reference table does not know (e.g. a new vocabulary entry)."""


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    assert isinstance(node, ast.Name)
    return ".".join([node.id, *reversed(parts)])


def reference(text: str) -> sp.Expr:
    """Plain SymPy for ``text``: a test-only translator for the generated texts."""
    return _value(ast.parse(text.strip(), mode="eval").body)


def _is_condition(e) -> bool:
    return isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Expr)


def _value(node):
    built = _build(node)
    return _ind(built) if _is_condition(built) else built


def _condition(node):
    built = _build(node)
    return built if _is_condition(built) else sp.Ne(built, 0)


def _build(node):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if node.value is None:
            return None
        return sp.Rational(str(node.value))
    if isinstance(node, ast.Name):
        if node.id == "pi":
            return sp.pi
        return sp.Symbol(node.id, real=True)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return sp.Not(_condition(node.operand))
        operand = _value(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        a, b = _value(node.left), _value(node.right)
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
               ast.Div: lambda: a / b, ast.Pow: lambda: a**b, ast.Mod: lambda: sp.Mod(a, b),
               ast.FloorDiv: lambda: sp.floor(a / b)}
        return ops[type(node.op)]()
    if isinstance(node, ast.Compare):
        rel = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge,
               ast.Eq: sp.Eq, ast.NotEq: sp.Ne}
        operands = [_value(n) for n in [node.left, *node.comparators]]
        return sp.And(*[rel[type(op)](a, b)
                        for op, a, b in zip(node.ops, operands, operands[1:])])
    if isinstance(node, ast.BoolOp):
        parts = [_condition(v) for v in node.values]
        return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
    if isinstance(node, ast.IfExp):
        return sp.Piecewise((_value(node.body), _condition(node.test)), (_value(node.orelse), True))
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        if name not in REF_NS:
            if name[:1].isupper() and "." not in name:
                return sp.Function(name, real=True)(*[_value(a) for a in node.args])
            raise NotInReference(name)
        if name == "Piecewise":
            args = [(_value(t.elts[0]), _condition(t.elts[1])) for t in node.args]
        else:
            conds = _CONDITION_ARGS.get(name, set())
            args = [_condition(a) if i in conds else _value(a) for i, a in enumerate(node.args)]
        kwargs = {k.arg: _value(k.value) for k in node.keywords}
        return REF_NS[name](*args, **kwargs)
    raise NotInReference(type(node).__name__)


# =============================================================================================
# Independent numeric check: one-sided difference quotients with mpmath at 50 digits
# =============================================================================================

DPS = 50
#: 1e-10 is a coarse reference; 1e-15 and 1e-20 are the two steps compared. A probe point
#: arrives as binary floats, so a kink at 1/3 is about 2e-17 away from it: 1e-15 straddles
#: it, 1e-20 does not (there the quotient must at least agree with a clean one side).
STEPS = ("1e-10", "1e-15", "1e-20")


def _real(fn, point):
    try:
        with mp.workdps(DPS):
            v = fn(*point)
            if isinstance(v, mp.mpc):
                if abs(v.imag) > mp.mpf("1e-40") * (1 + abs(v.real)):
                    return None
                v = v.real
            v = mp.mpf(v)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError):
        return None
    except RecursionError:
        return None  # mpmath's mpc % mpf (acos(y) % 0.5 at |y| > 1) recurses: no real value
    return v if mp.isfinite(v) else None


def nonsmooth_at(fn, point, direction) -> bool | None:
    """True: left and right quotients differ, or one grows as the step shrinks (jump or
    infinite slope). False: the function looks smooth. None: undefined there (cannot tell)."""
    with mp.workdps(DPS):
        f0 = _real(fn, point)
        if f0 is None:
            return None
        left, right = [], []
        for h in map(mp.mpf, STEPS):
            fp = _real(fn, [p + h * d for p, d in zip(point, direction)])
            fm = _real(fn, [p - h * d for p, d in zip(point, direction)])
            right.append(None if fp is None else (fp - f0) / h)
            left.append(None if fm is None else (f0 - fm) / h)
        for ql, qr in zip(left, right):
            if ql is not None and qr is not None:
                if abs(ql - qr) > mp.mpf("1e-6") * (1 + max(abs(ql), abs(qr))):
                    return True
        for side in (left, right):
            for coarse, fine in zip(side, side[1:]):
                if coarse is not None and fine is not None:
                    if abs(fine) > 1e4 and abs(fine) > 30 * abs(coarse):
                        return True
        if all(q is None for q in left + right):
            return None
        if any(q is None for q in left + right):
            # one side leaves the domain: an edge; the other side must be a finite slope
            return None
        return False


def _snap(value: float):
    """The simple number a float coordinate most likely stands for (1/3, sqrt(2)...)."""
    if value == int(value):
        return sp.Integer(int(value))
    guess = sp.nsimplify(value, [sp.pi], tolerance=1e-13, rational=False)
    if guess.is_number and abs(float(guess) - value) <= 1e-13 * (1 + abs(value)):
        return guess
    return sp.Rational(value)


def verify_finding(loss: sp.Expr, names: list[str], finding: dict) -> bool | None:
    """Re-check one finding of kind kink/jump/infinite-slope at its probe point."""
    probe = finding["probe"]
    symbols = [sp.Symbol(n, real=True) for n in names]
    fn = sp.lambdify(symbols, loss, modules="mpmath")
    direction = [mp.mpf(probe["direction"].get(n, 0.0)) for n in names]
    raw = [probe["point"][n] for n in names]
    verdicts = []
    with mp.workdps(DPS):
        for point in ([mp.mpf(v) for v in raw],
                      [mp.mpf(sp.N(_snap(v), DPS + 10)) for v in raw]):
            verdicts.append(nonsmooth_at(fn, point, direction))
    if True in verdicts:
        return True
    if False in verdicts:
        return False
    return None


def where_holds(where: str, names: list[str], point: dict) -> bool | None:
    """Does the finding's 'LHS = RHS' hold at the probe point? None: not SymPy-parseable."""
    lhs, sep, rhs = where.partition(" = ")
    if not sep:
        return None
    local = {n: sp.Symbol(n, real=True) for n in names}
    try:
        g = sp.sympify(lhs, locals=local) - sp.sympify(rhs, locals=local)
    except (sp.SympifyError, SyntaxError, TypeError):
        return None
    g = concrete_model_functions(g.replace(
        lambda e: isinstance(e, sp.core.function.AppliedUndef),
        lambda e: sp.Function(type(e).__name__, real=True)(*e.args)))
    with mp.workdps(DPS):
        fn = sp.lambdify([local[n] for n in names], g, modules="mpmath")
        # the point arrives as floats: -0.05 is not quite -1/20, and frac(10*y + 1/2) at the
        # float is 1 - 3e-17, not 0; so the snapped point is tried as well
        values = [_real(fn, [mp.mpf(point[n]) for n in names]),
                  _real(fn, [mp.mpf(sp.N(_snap(point[n]), DPS + 10)) for n in names])]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return any(abs(v) < 1e-8 for v in values)


# =============================================================================================
# Random expression trees
# =============================================================================================

VARIABLES = ("x", "y", "w")
MODULE_PREFIX = st.sampled_from(["", "", "", "np.", "torch.", "jnp.", "F.", "numpy."])
CONSTANT = st.sampled_from(["0", "1", "2", "3", "0.5", "1.5", "-1", "-2", "0.25", "10"])
SMALL_POSITIVE = st.sampled_from(["0.5", "1", "2", "0.1"])
INT_EXPONENT = st.integers(-3, 4).map(lambda k: f"({k})" if k < 0 else str(k))
COMPARISON = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])

#: every function that takes one value argument (and possibly ignored or defaulted keywords)
#: the library calls over components (softmax, norm, hypot, ...): drawn by their own test
#: below, so that the trees of the tests above stay the ones they always drew
LIBRARY_CALLS = frozenset({"softmax", "log_softmax", "norm"})
UNARY = sorted(
    name for name, spec in functions.VOCABULARY.items()
    if spec.min_args == 1 and not spec.pair_args and not spec.condition_args
    and name not in ("clip", "clamp") and name not in LIBRARY_CALLS
)
VARIADIC = sorted(name for name, spec in functions.VOCABULARY.items()
                  if spec.min_args >= 2 and spec.max_args is None and name not in LIBRARY_CALLS)
#: functions of exactly two values (pow has its own generator, with integer exponents)
BINARY = sorted(name for name, spec in functions.VOCABULARY.items()
                if spec.min_args == spec.max_args == 2 and name != "pow")


def _leaf():
    return st.one_of(st.sampled_from(VARIABLES), CONSTANT)


def _condition_of(value):
    comparison = st.tuples(value, COMPARISON, value).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    return st.one_of(
        comparison,
        st.tuples(comparison, st.sampled_from(["and", "or"]), comparison)
        .map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        comparison.map(lambda c: f"not ({c})"),
    )


def _call(prefix, name, args, keywords=()):
    rendered = list(args) + [f"{k}={v}" for k, v in keywords]
    return f"{prefix}{name}({', '.join(rendered)})"


def _nodes(inner):
    """One level of the tree, built on ``inner`` subtrees."""
    unary = st.tuples(MODULE_PREFIX, st.sampled_from(UNARY), inner).map(
        lambda t: _call(t[0], t[1], [t[2]]))
    def keyword(prefix, name, key):
        return st.tuples(inner, SMALL_POSITIVE).map(
            lambda t: _call(prefix, name, [t[0]], [(key, t[1])]))

    with_keyword = st.one_of(
        keyword("", "huber", "delta"),
        keyword("F.", "softplus", "beta"),
        keyword("F.", "leaky_relu", "negative_slope"),
        keyword("torch.", "elu", "alpha"),
        keyword("F.", "celu", "alpha"),
        keyword("F.", "hardshrink", "lambd"),
        keyword("F.", "softshrink", "lambd"),
        st.tuples(inner, CONSTANT, CONSTANT).map(lambda t: _call(
            "F.", "hardtanh", [t[0]], [("min_val", f"-{t[1]}".replace("--", "")),
                                        ("max_val", t[2])])),
        st.tuples(inner, st.sampled_from(["0", "1"])).map(lambda t: _call("np.", "round", t)),
        st.tuples(inner, st.sampled_from(["0", "1", "0.5"])).map(
            lambda t: _call("np.", "heaviside", t)),
        st.tuples(inner, st.sampled_from(["2", "10"])).map(lambda t: _call("", "log", t)),
        inner.map(lambda u: _call("torch.", "relu", [u], [("inplace", "True")])),
        inner.map(lambda u: _call("np.", "mean", [u], [("axis", "0")])),
    )
    binary = st.tuples(MODULE_PREFIX, st.sampled_from(BINARY), inner, inner).map(
        lambda t: _call(t[0], t[1], [t[2], t[3]]))
    threshold = st.tuples(inner, CONSTANT, CONSTANT).map(
        lambda t: _call("F.", "threshold", [t[0]], [("threshold", t[1]), ("value", t[2])]))
    variadic = st.tuples(MODULE_PREFIX, st.sampled_from(VARIADIC),
                         st.lists(inner, min_size=2, max_size=3)).map(
        lambda t: _call(t[0], t[1], t[2]))
    bound = st.one_of(CONSTANT, st.just("None"))
    clip = st.one_of(
        st.tuples(st.sampled_from(["np.clip", "clip", "torch.clamp"]), inner, bound, bound)
        .filter(lambda t: t[2] != "None" or t[3] != "None")
        .map(lambda t: f"{t[0]}({t[1]}, {t[2]}, {t[3]})"),
        st.tuples(inner, CONSTANT).map(lambda t: f"torch.clamp({t[0]}, min={t[1]})"),
        st.tuples(inner, CONSTANT).map(lambda t: f"np.clip({t[0]}, a_max={t[1]})"),
    )
    condition = _condition_of(inner)
    conditional = st.one_of(
        st.tuples(condition, inner, inner).map(lambda t: f"where({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(inner, condition, inner).map(
            lambda t: f"Piecewise(({t[0]}, {t[1]}), ({t[2]}, True))"),
        st.tuples(inner, condition, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        condition.map(lambda c: f"({c})"),  # an indicator
    )
    arithmetic = st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, INT_EXPONENT).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(inner, INT_EXPONENT).map(lambda t: f"pow({t[0]}, {t[1]})"),
        st.tuples(inner, st.sampled_from(["1", "2", "0.5"])).map(lambda t: f"({t[0]} % {t[1]})"),
        inner.map(lambda u: f"-({u})"),
    )
    model = st.one_of(
        inner.map(lambda u: f"G({u})"),
        st.tuples(inner, inner).map(lambda t: f"Model({t[0]}, {t[1]})"),
    )
    return st.one_of(unary, arithmetic, binary, threshold, variadic, conditional, with_keyword,
                     clip, model)


#: trees of depth <= 3 (a leaf, or a node over subtrees of depth <= 2)
_DEPTH1 = _leaf()
_DEPTH2 = st.one_of(_DEPTH1, _nodes(_DEPTH1))
TREES = st.one_of(_nodes(_DEPTH2), _nodes(_DEPTH1))


def test_tree_vocabulary_is_the_whole_vocabulary():
    """The generators above cover every name of the function table (by construction)."""
    covered = set(UNARY) | set(VARIADIC) | set(BINARY) | set(LIBRARY_CALLS) | {"clip", "clamp", "where", "Piecewise", "pow", "threshold",
                                              "huber", "softplus", "leaky_relu", "elu", "round",
                                              "heaviside", "log", "relu", "mean"}
    assert set(functions.KNOWN_FUNCTIONS) <= covered, set(functions.KNOWN_FUNCTIONS) - covered
    missing = set(functions.KNOWN_FUNCTIONS) - set(REF_NS)
    assert not missing, f"reference translator lacks {missing}"


def _library_call(inner):
    """A library call over components: softmax(a, b, index=k), norm(a, b), hypot(a, b), ..."""
    def arguments(name):
        spec = functions.VOCABULARY[name]
        count = st.integers(spec.min_args, spec.max_args or 3)
        return count.flatmap(lambda n: st.lists(inner, min_size=n, max_size=n))

    name = st.sampled_from(sorted(LIBRARY_CALLS))
    return name.flatmap(lambda n: st.tuples(MODULE_PREFIX, st.just(n), arguments(n))).map(
        lambda t: _call(t[0], t[1], t[2]))


LIBRARY_TREES = st.one_of(_library_call(_DEPTH1), _library_call(_nodes(_DEPTH1)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LIBRARY_TREES)
def test_library_calls_never_raise(text):
    with time_limit(CHECK_ALARM, text):
        report = diffcheck.check(text)
    _assert_report_shape(text, report)


def _assert_report_shape(text: str, report: Report) -> None:
    assert isinstance(report, Report)
    if report.error is not None:
        assert report.error.kind in ERROR_KINDS, report.error
        assert report.error.message and "\n" not in report.error.message
        if report.error.kind == "unsupported":
            # an honest "cannot decide" is allowed; a crash of the analysis is a bug
            assert "analysis failed" not in report.error.message, (text, report.error.message)
        assert report.differentiable is None
        assert report.findings == []
        return
    assert report.differentiable in (True, False)
    assert report.smoothness in SMOOTHNESS, report.smoothness
    kinds = {f.kind for f in report.findings}
    assert report.differentiable == (not kinds & NON_SMOOTH), (text, kinds)
    assert (report.smoothness == "discontinuous") == ("jump" in kinds), (
        text, report.smoothness, kinds)
    if report.differentiable:
        assert report.surrogate is None
    json.dumps(report.to_dict())  # the contract's JSON, always serialisable



# No shrink phase: a tree is at most three levels deep, so a failing text is already short,
# and shrinking re-runs the analysis dozens of times (it alone took up to 40 s).
@settings(max_examples=100, deadline=None, report_multiple_bugs=False,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(TREES)
@example("abs(x - 0.5) + floor(y)")
@example("max(x, y) - y")
@example("sqrt(x - 1)")
@example("relu(abs(x) - 1)")
@example("where(x > 0, x, 0) + (x*y <= 0)")
@example("np.clip(G(w), 0, 1)")
@example("huber(x - G(w), delta=0.5)")
# a min's own condition (clip is the smaller) fails where the mod makes the jump at x = 2
@example("minimum(np.clip(x, a_max=2), (x % 1))")
def test_random_trees_never_raise_and_findings_are_real(text):
    with time_limit(CHECK_ALARM, text):
        report = diffcheck.check(text)
    _assert_report_shape(text, report)
    if report.error is not None:
        event(f"error: {report.error.kind}")
        return
    event(f"differentiable={report.differentiable}")
    # confirmed None: the probe could not tell (a jump of the value at one point, such as
    # G(x) != -1, is invisible to quotients at a rounded point); only probe claims are re-checked.
    findings = [f.to_dict() for f in report.findings
                if f.kind in NON_SMOOTH and f.probe and f.probe.get("point") and f.confirmed is not None]
    if not findings:
        return
    try:
        loss = concrete_model_functions(reference(text))
    except NotInReference as missing:
        event(f"reference lacks {missing}")
        return
    names = sorted(str(s) for s in loss.free_symbols)
    for finding in findings:
        assert set(finding["probe"]["point"]) >= set(names), (text, finding["probe"])
        names_here = sorted(finding["probe"]["point"])
        verdict = verify_finding(loss, names_here, finding)
        event(f"independent check: {verdict}")
        assert verdict is not False, (
            f"{text!r}: diffcheck reports a {finding['kind']} where {finding['where']} at "
            f"{finding['probe']}, but one-sided quotients there show a smooth function"
        )
        if finding["where"] is not None:
            on_set = where_holds(finding["where"], names_here, finding["probe"]["point"])
            assert on_set is not None or "=" not in finding["where"], (text, finding["where"])
            assert on_set is not False, (
                f"{text!r}: the probe point {finding['probe']['point']} is not on the "
                f"finding's set {finding['where']}"
            )


#: inputs the tree fuzzer found crashing the analysis (each one is an honest loss); shrunk
#: by hand to the smallest form
FOUND_BY_FUZZING = [
    "relu(floor(x))",  # PrintMethodNotImplementedError: Derivative(floor(x), x)
    "abs(round(x))",
    "min(ceil(x), 0)",
    "floor(y) % 2",
    "relu(heaviside(x))",  # NameError: name 'DiracDelta' is not defined
    "relu(step(x))",
    "where(heaviside(y, 1) <= x, x, w)",
    "relu(x % 1 - 0.5)",  # ValueError: _print_Derivative only supports symbols
    "huber(x % 2)",
    "where(x % 1 == w, 1, 0)",
    "where(y % 1 <= w, 1, 0)",
    "(log(y) < log(x))",  # KeyError: 'ComplexInfinity'
    "where(log(x) < log(y), 1, 0)",
]


@pytest.mark.parametrize("text", FOUND_BY_FUZZING)
def test_inputs_found_by_fuzzing_get_a_verdict(text):
    report = diffcheck.check(text)
    _assert_report_shape(text, report)
    assert report.error is None, report.error.message
    assert report.differentiable is False  # every one of them jumps or kinks somewhere


#: non-smooth templates whose set is placed at a distance c from the origin
FAR_TEMPLATES = [
    ("abs(x - {c})", "kink"),
    ("relu(abs(x) - {c})", "kink"),
    ("max(abs(x) - {c}, 0)", "kink"),
    ("relu(relu(x) - {c})", "kink"),
    ("where(relu(x) > {c}, 1, 0)", "jump"),
    ("(abs(x) < {c})", "jump"),
    ("clip(abs(x), 0, {c})", "kink"),
]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(FAR_TEMPLATES), st.integers(1, 1000) | st.sampled_from([13, 15, 20, 100]))
@example(("relu(abs(x) - {c})", "kink"), 13)
@example(("where(relu(x) > {c}, 1, 0)", "jump"), 20)
def test_nonsmooth_sets_far_from_the_origin_are_found(template, c):
    """Where the set g = 0 is only found numerically, its distance must not matter: a kink
    at |x| = 13 is as real as one at |x| = 12."""
    text, kind = template[0].format(c=c), template[1]
    report = diffcheck.check(text)
    _assert_report_shape(text, report)
    assert report.error is None, report.error
    assert report.differentiable is False, (
        f"{text!r}: reported differentiable ({report.smoothness}), but it has a {kind} at "
        f"|x| = {c}")
    assert kind in {f.kind for f in report.findings}


def test_where_of_a_max_is_exact():
    """CONTRACT: ``where`` is true exactly on the set of the finding. Where one argument of
    max dominates, the others tying is no kink, so no ``where`` may hold there."""
    names = ["a", "b", "c", "d"]
    text = f"max({', '.join(names)})"
    report = diffcheck.check(text)
    assert report.error is None and report.differentiable is False
    for top in names:
        point = {name: 0.0 for name in names}
        point[top] = 5.0  # max = that argument near this point: smooth; the others all tie
        for finding in report.findings:
            if finding.where is None:
                continue
            holds = where_holds(finding.where, names, point)
            assert holds is not True, (
                f"{text}: where {finding.where!r} holds at {point}, where {text} is smooth")


@pytest.mark.parametrize("text, kind", [
    ("abs(x - 1/3)", "kink"),
    ("max(x, y) - y", "kink"),
    ("floor(x)", "jump"),
    ("sqrt(x - 1)", "infinite-slope"),
    ("sign(x)*abs(x)**(1/3)", "infinite-slope"),
    ("(x*y <= 0)", "jump"),
    ("abs(G(w))", "kink"),
])
def test_the_independent_check_sees_known_nonsmooth_points(text, kind):
    """The reference check is not vacuous: it confirms textbook cases at diffcheck's probes."""
    report = diffcheck.check(text)
    assert report.error is None
    finding = next(f.to_dict() for f in report.findings if f.kind == kind)
    loss = concrete_model_functions(reference(text))
    assert verify_finding(loss, sorted(finding["probe"]["point"]), finding) is True


def test_the_independent_check_clears_smooth_points():
    x = sp.Symbol("x", real=True)
    for expr in (x**2, sp.Abs(x) ** 4, sp.exp(sp.exp(x)), sp.Max(x, 0) ** 3):
        finding = {"probe": {"point": {"x": 1 / 3}, "direction": {"x": 1.0}}}
        assert verify_finding(expr, ["x"], finding) is False
        finding = {"probe": {"point": {"x": 0.0}, "direction": {"x": 1.0}}}
        assert verify_finding(expr, ["x"], finding) is False


# =============================================================================================
# Malformed strings and loss-file bytes
# =============================================================================================

ALPHABET = string.printable + "()[]{}**//<<>>!!==..,,::__" + "\u00e9\u00b2\u2212\u00d7\uff45\u03c0"


def _assert_parse_error(text: str, err: ParseError) -> None:
    assert isinstance(err, ParseError)
    assert err.kind in ("parse", "limit"), err.kind
    assert type(err.column) is int, err.column
    assert 1 <= err.column <= len(text) + 1, (text, err.column)
    assert err.message and "\n" not in err.message and "\r" not in err.message, err.message
    assert str(err) == err.message


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
@example("")
@example("   ")
@example("abs(")
@example("x +")
@example("sigmod(x)")
@example("1/0")
@example("x\n+ y\n)")
@example("\x00")
@example("\r\n\r")
@example("log(0)")
@example("x ^ 2")
def test_malformed_strings_give_parse_errors_only(text):
    try:
        parse(text)
    except ParseError as err:
        _assert_parse_error(text, err)
        # the API turns it into the same error, column included (latex=False: text with a
        # backslash command would otherwise be read as LaTeX)
        report = diffcheck.check(text, latex=False)
        assert report.error is not None
        assert (report.error.kind, report.error.column) == (err.kind, err.column)
        return
    event("parsed")  # random text that happens to be an expression: fine


#: bytes biased towards loss-file structure
LOSS_BYTES = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.sampled_from([b"\n", b"\r\n", b"#", b":", b"name: ", b"abs(x)", b"u**2", b"(",
                         b")", b"\x00", b"\xff", b"\xe9", b"\xef\xbb\xbf", b"  ", b"lambda",
                         b"# diffcheck: ignore[DC101]", b"# diffcheck: ignore", b"'", b'"',
                         b"\xe2\x80\xa8", b"\x85", b"\x0c"]),
    ),
    max_size=14,
).map(b"".join)


def _expression_lines(text: str) -> list[int]:
    """The numbers of the lines that must give a result: non-blank, non-comment lines, and
    comment lines holding a character the reader cannot decode (it reports those too)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    numbers = []
    for number, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        undecodable = any(c == "\x00" or "\ud800" <= c <= "\udfff" or c == "\ufffd" for c in raw)
        if raw.lstrip().startswith("#") and not undecodable:
            continue
        numbers.append(number)
    return numbers


@settings(max_examples=300, deadline=None)
@given(LOSS_BYTES)
@example(b"a: u**2\nb: caf\xe9\n\n# c\r\nd: \x00x")
@example(b"\xef\xbb\xbfmse: (f-y)**2\r\n")
@example(b"x: \n: y\nmy loss: u")
def test_random_loss_bytes_read_without_failing(data):
    text = decode_loss_bytes(data)
    lines = read_loss_lines(text, source="fuzz.loss")
    physical = (text[1:] if text.startswith("\ufeff") else text).split("\n")
    expected = _expression_lines(text)
    got = [ln.line for ln in lines]
    assert got == expected, (data, got, expected)
    for ln in lines:
        raw = physical[ln.line - 1].removesuffix("\r")
        assert ln.source == "fuzz.loss"
        assert type(ln.column) is int and 1 <= ln.column <= len(raw) + 1, (data, ln)
        if ln.error is not None:
            assert "\n" not in ln.error and ln.error.strip(), ln.error
            continue
        assert ln.text and ln.text == ln.text.strip()
        assert raw[ln.column - 1:].startswith(ln.text), (raw, ln)
        try:
            parse(ln.text)
        except ParseError as err:
            _assert_parse_error(ln.text, err)
            assert 1 <= ln.column + err.column - 1 <= len(raw) + 1


# =============================================================================================
# Random bytes as a loss file, through the command line
# =============================================================================================

_runner = CliRunner()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(LOSS_BYTES)
@example(b"ok: u**2\nbad: abs(\n\xff\xfe\n# only a comment\nk: abs(u)\n")
@example(b"")
@example(b"\n\n# nothing\n")
def test_random_loss_file_through_cli(tmp_path, data):
    path = tmp_path / "fuzz.losses"
    path.write_bytes(data)
    expected = _expression_lines(decode_loss_bytes(data))
    result = _runner.invoke(app, ["--format", "json", "--jobs", "1", "--timeout", "20",
                                  "--file", str(path)])
    output = result.output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1, 2), (result.exit_code, output)
    results = json.loads(result.stdout)["results"]
    got = [r["line"] for r in results]
    # one result per expression line, in file order
    assert got == expected, (data, expected, got)
    assert all(r["source"] == str(path) for r in results)
    text = decode_loss_bytes(data)
    physical = (text[1:] if text.startswith("\ufeff") else text).split("\n")
    for r in results:
        raw = physical[r["line"] - 1]
        assert raw.strip(), r
        if r["error"] is not None:
            assert r["error"]["kind"] in ERROR_KINDS
            assert r["differentiable"] is None
        else:
            assert r["differentiable"] in (True, False)
    if any(r["error"] for r in results):
        assert result.exit_code == 2
    elif any(f["severity"] == "error" for r in results for f in r["findings"]):
        assert result.exit_code == 1
    else:
        assert result.exit_code == 0, (result.exit_code, output)  # (also for no expression)
