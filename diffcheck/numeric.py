"""High-precision numerics shared by the analyzer and the probe.

Expressions are compiled with ``lambdify`` to mpmath. That is only ever done on trees the
parser built (never on user text), after model functions were replaced by concrete ones.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> f = compile_expr(sp.sqrt(x), [x])
>>> float(evaluate(f, [4]))
2.0
>>> evaluate(f, [-1]) is None    # outside the real domain
True
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import inspect
import keyword
import math
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath as mp
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter, PythonCodePrinter

from diffcheck.printing import SpelledOutConditions

#: working precision (decimal digits) of every numeric decision
DIGITS = 60
#: below this a value counts as zero (far below any step the analysis takes)
TINY = mp.mpf("1e-40")


_HALF = mp.mpf("0.5")


def _heaviside(u, h0=_HALF):
    return mp.mpf(1) if u > 0 else mp.mpf(0) if u < 0 else h0


def _label_is(label, value):
    """The data indicator ``label_is`` (diffcheck.primitives.switching): 1 where they are equal."""
    return mp.mpf(1) if label == value else mp.mpf(0)


#: beyond this |argument| exp is reported as an overflow: mpmath computes exp(x) exactly for
#: any x, but needs log(2) to about log2(|x|) bits, so the exp of a stand-in's exp (a model's
#: layers compose cubics and exponentials) ran for minutes on one point. No float format comes
#: near such a value; a point where a loss needs it is one no training step can reach.
EXP_ARGUMENT_LIMIT = mp.mpf(2) ** 64


def _bounded_exp(u):
    """mpmath's exp, refusing astronomically large arguments.

    >>> _bounded_exp(mp.mpf(-2) ** 70)
    Traceback (most recent call last):
    ...
    OverflowError: exp of an argument beyond 2**64
    """
    if isinstance(u, (mp.mpf, mp.mpc)) and abs(u) > EXP_ARGUMENT_LIMIT:
        raise OverflowError("exp of an argument beyond 2**64")
    return mp.exp(u)


_MP_MODULE = [
    {
        "Heaviside": _heaviside,
        "label_is": _label_is,
        "exp": _bounded_exp,
        "sign": lambda u: mp.sign(u),
        "floor": mp.floor,
        "ceiling": mp.ceil,
        "Max": max,
        "Min": min,
    },
    "mpmath",
]


def not_a_number(expr: sp.Basic) -> bool:
    """Whether SymPy folded part of ``expr`` into an infinity, a NaN or a set of values
    (``atan(1/0)`` is ``AccumBounds(-pi/2, pi/2)``): undefined wherever it is evaluated."""
    return expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or bool(expr.atoms(sp.AccumBounds))


def compile_expr(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> Callable:
    """An mpmath function of ``symbols``; the expression must hold no model functions."""
    return _compile(expr, tuple(symbols))


#: switches a compiled function computes with a function of its module namespace (Max: max)
_OPAQUE_SWITCHES = (sp.Max, sp.Min)


def _names_print_as_they_are(expr: sp.Expr, symbols: tuple, modules: list,
                             defined: Collection[str]) -> bool:
    """Whether ``expr`` can be compiled over its own symbols, without :func:`_printable`'s
    rebuild (a third of a small expression's compile): every name a plain identifier that no
    name the compiled code may read (a module's function, a builtin) could be confused with,
    and no max or min to print as a named function.

    >>> x, exp = sp.Symbol("x"), sp.Symbol("exp")
    >>> _names_print_as_they_are(sp.sin(x), (x,), ["math"], ())
    True
    >>> _names_print_as_they_are(sp.exp(exp), (exp,), ["math"], ())
    False
    """
    for symbol in symbols:
        name = symbol.name
        if (not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_")
                or name in _BUILTIN_NAMES or any(name in _module_names(m) for m in modules)):
            return False
    return not (any(cls.__name__ in defined for cls in _OPAQUE_SWITCHES)
                and expr.has(*_OPAQUE_SWITCHES))


_BUILTIN_NAMES = frozenset(dir(builtins))


def _module_names(module: Any) -> Collection[str]:
    """The names code compiled for ``module`` (a namespace dict or a module's name) reads."""
    if isinstance(module, dict):
        return module
    if module not in _MODULE_NAMES:
        _MODULE_NAMES[module] = frozenset(dir(importlib.import_module(module)))
    return _MODULE_NAMES[module]


_MODULE_NAMES: dict[str, frozenset[str]] = {}


def _printable(expr: sp.Expr, symbols: tuple,
               defined: Collection[str] = ()) -> tuple[sp.Expr, list[sp.Symbol]]:
    """``expr`` over plain argument names ``_a0, _a1, ...``, rebuilt without evaluation.

    Variables of tensor components (``x[0]``, ``pred[..., 1]``) are not Python identifiers:
    lambdify would substitute them itself, re-evaluating every node of a large tree (each
    Max and Min compares its arguments again), which costs seconds per call. Renaming is
    exact, so nothing needs evaluating. Each max and min the module namespace ``defined``
    becomes an undefined function of the same name, printed the same: the common
    subexpressions of a large tree are taken out by rebuilding it, and SymPy would compare
    the arguments of every max again, now temporaries it knows nothing about (most of the
    cost of compiling a deep ReLU network).
    """
    arguments = [sp.Symbol(f"_a{i}", real=True) for i in range(len(symbols))]
    heads = {cls: sp.Function(cls.__name__, real=True) for cls in _OPAQUE_SWITCHES
             if cls.__name__ in defined}
    with sp.core.parameters.evaluate(False):
        renamed = shared_xreplace(expr, dict(zip(symbols, arguments)), heads)
    return renamed, arguments


def shared_xreplace(expr: sp.Basic, mapping: dict,
                    heads: Mapping[type, Callable[..., sp.Basic]] | None = None) -> sp.Basic:
    """``expr.xreplace(mapping)`` visiting each distinct subexpression once: SymPy's own walks
    the printed tree, exponentially larger for stacked layers that repeat their inputs.
    A node whose class is in ``heads`` is rebuilt by that function of its arguments.

    >>> x, y = sp.symbols("x y")
    >>> shared_xreplace(sp.sin(x) + sp.sin(x) ** 2, {x: y})
    sin(y)**2 + sin(y)
    """
    heads = heads or {}
    done: dict[sp.Basic, sp.Basic] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if node in mapping:
            done[node] = mapping[node]
        elif not node.args:
            done[node] = node
        elif expanded:
            args = tuple(done[a] for a in node.args)
            head = heads.get(type(node))
            if head is not None:
                done[node] = head(*args)
            else:
                done[node] = node if args == node.args else node.func(*args)
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in done)
    return done[expr]


@lru_cache(maxsize=4096)
def free_symbols(expr: sp.Basic) -> frozenset:
    """``expr.free_symbols``, each distinct subexpression visited once (cached).

    SymPy's own collects the symbols of every argument again wherever a subexpression
    repeats: the printed tree, exponentially larger for stacked layers (each ReLU of a
    network feeds every unit of the next), seconds per set of a deep MLP.

    >>> x, y = sp.symbols("x y")
    >>> e = x
    >>> for _ in range(60):
    ...     e = sp.Function("f")(e + y, 2 * e)
    >>> sorted(free_symbols(e), key=str)
    [x, y]
    """
    done: dict[sp.Basic, frozenset] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if _binds_symbols(type(node)):
            # a symbol, or a node binding variables of its own (Derivative, Subs, Lambda)
            done[node] = frozenset(node.free_symbols)
        elif not node.args:
            done[node] = frozenset()  # a number
        elif expanded:
            done[node] = frozenset().union(*[done[a] for a in node.args])
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in done)
    return done[expr]


_BINDS_SYMBOLS: dict[type, bool] = {}


def _binds_symbols(cls: type) -> bool:
    """Whether the class computes its free symbols itself (Derivative, Subs, Lambda, ...)."""
    binds = _BINDS_SYMBOLS.get(cls)
    if binds is None:
        owner = next(k for k in cls.__mro__ if "free_symbols" in vars(k))
        binds = _BINDS_SYMBOLS[cls] = owner is not sp.Basic
    return binds


def sizes(expr: sp.Basic) -> tuple[int, int]:
    """(nodes of the tree as printed, distinct nodes): a model's layers repeat their inputs,
    so the printed tree can be exponentially larger than the expression in memory.

    >>> x = sp.Symbol("x")
    >>> e = x
    >>> for _ in range(20):
    ...     e = sp.Function("f")(e, e)
    >>> sizes(e)
    (2097151, 21)
    """
    tree: dict[sp.Basic, int] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in tree:
            continue
        if expanded or not node.args:
            tree[node] = 1 + sum(tree[a] for a in node.args)
            continue
        stack.append((node, True))
        stack.extend((a, False) for a in node.args if a not in tree)
    return tree[expr], len(tree)


#: a tree printed larger than this, and much larger than its distinct nodes, is compiled
#: with its common subexpressions as temporaries
_CSE_TREE_SIZE = 2000


#: constructs with bound variables: their insides are not subexpressions of the tree
_BINDING = (sp.Lambda, sp.Derivative, sp.Subs, sp.Integral, sp.Sum, sp.Product)


@lru_cache(maxsize=64)
def _shared_subexpressions(expr: sp.Basic) -> tuple[list[tuple[sp.Symbol, sp.Basic]], sp.Basic]:
    """``expr`` with every subexpression it reaches more than once computed once, as
    lambdify's ``cse``: (temporaries in dependency order, the rewritten expression).

    One walk over the distinct nodes (SymPy's ``cse`` also looks for rewrites of products
    and powers, several times slower on a sort's blends); the rewritten nodes are built
    without evaluation, so the code computes the tree as it was written. Cached: the NumPy,
    float and mpmath compiles of one tree share it.

    >>> x, y = sp.symbols("x y", real=True)
    >>> e = sp.sin(x + y) ** 2 + sp.cos(sp.sin(x + y)) + sp.exp(x + y)
    >>> temporaries, reduced = _shared_subexpressions(e)
    >>> temporaries, reduced
    ([(_cse0, x + y), (_cse1, sin(_cse0))], _cse1**2 + exp(_cse0) + cos(_cse1))
    """
    if expr.has(*_BINDING):
        return sp.cse(expr, list=False)
    order: list[sp.Basic] = []  # distinct nodes, each after its arguments
    seen: set[sp.Basic] = set()
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a not in seen)
    references: dict[sp.Basic, int] = {}
    for node in order:
        for a in node.args:
            references[a] = references.get(a, 0) + 1
    temporaries: list[tuple[sp.Symbol, sp.Basic]] = []
    rewritten: dict[sp.Basic, sp.Basic] = {}
    with sp.core.parameters.evaluate(False):
        for node in order:
            if not node.args:
                rewritten[node] = node
                continue
            args = tuple(rewritten[a] for a in node.args)
            new = node if all(n is a for n, a in zip(args, node.args)) else node.func(*args)
            if references.get(node, 0) > 1 and isinstance(node, sp.Expr) and node is not expr:
                symbol = sp.Symbol(f"_cse{len(temporaries)}")
                temporaries.append((symbol, new))
                new = symbol
            rewritten[node] = new
    return temporaries, rewritten[expr]


#: lambdify's option that leaves the expression out of the compiled function's docstring:
#: printing it there (``str``, sorting every sum's terms) cost 40% of each compile (SymPy >= 1.13)
_NO_DOCSTRING = ({"docstring_limit": -1}
                 if "docstring_limit" in inspect.signature(sp.lambdify).parameters else {})


def _lambdify(expr: sp.Expr, symbols: tuple, printer: type, modules: list) -> Callable:
    """lambdify of a tree the package built (never user text), printed without sorting terms."""
    # the functions a module dict defines print under their own names, as lambdify's own
    # printer would have them
    defined = {name: name for module in modules if isinstance(module, dict) for name in module}
    modules = [_NAMESPACES[module] if isinstance(module, str) else module
               for module in modules]
    if _names_print_as_they_are(expr, symbols, modules, defined):
        renamed, arguments = expr, list(symbols)
    else:
        renamed, arguments = _printable(expr, symbols, defined)
    settings = {"fully_qualified_modules": False, "inline": True,
                "allow_unknown_functions": True, "user_functions": defined, "order": "none"}
    printed, distinct = sizes(renamed)
    # Stacked layers (a transformer's encoder) repeat each layer's output in the next one:
    # printed as a tree, two layers took minutes; with temporaries it is linear.
    shared = printed > _CSE_TREE_SIZE and printed > 4 * distinct
    # use_imps: no function here carries an implementation of its own (implemented_function),
    # and looking for one walks the whole tree
    compiled = sp.lambdify(arguments, renamed, modules=modules, dummify=False, use_imps=False,
                           printer=printer(settings),
                           cse=_shared_subexpressions if shared else False, **_NO_DOCSTRING)
    return _with_shared_globals(compiled, _SHARED_GLOBALS.setdefault(printer, {}))


#: printer class -> the globals its compiled functions share
_SHARED_GLOBALS: dict[type, dict[str, Any]] = {}
_ABSENT = object()


def _with_shared_globals(compiled: Any, shared: dict[str, Any]) -> Any:
    """``compiled`` running on ``shared`` globals instead of its own copy of the namespace.

    lambdify gives every function its own copy of the module namespace (9 KB of its 19); a
    worker's caches hold thousands of compiled functions, so the copies were the largest
    part of a long batch's memory. The function sees the same object under every name it can
    read (its arguments shadow their names), so it computes the same; a name bound to another
    object in ``shared`` keeps the function on its own globals.

    >>> x = sp.Symbol("x", real=True)
    >>> first, second = compile_expr(sp.sin(x), [x]), compile_expr(sp.cos(x) + 1, [x])
    >>> first.__globals__ is second.__globals__, float(evaluate(second, [0]))
    (True, 2.0)
    """
    own = compiled.__globals__
    arguments = set(compiled.__code__.co_varnames[:compiled.__code__.co_argcount])
    added = {}
    for name, value in own.items():
        present = shared.get(name, _ABSENT)
        if present is value or name in arguments:
            continue
        if present is not _ABSENT:
            return compiled
        added[name] = value
    shared.update(added)
    return types.FunctionType(compiled.__code__, shared, compiled.__name__,
                              compiled.__defaults__, compiled.__closure__)


class _Namespaces(dict):
    """The namespace lambdify gives code compiled for a module, built once per process.

    For NumPy it is what lambdify's own ``from numpy import *`` defines except NumPy's
    submodules: touching those NumPy loads lazily (``fft``, ``random``, ``ma``, ...) imported
    a dozen packages, 0.1 s of every process's first compile. Compiled code never names a
    module: what the printer qualifies (``numpy.linalg.norm``) lambdify imports itself. A
    dict, not the module's name, is handed to lambdify: the printer is chosen by us anyway.

    >>> numpy_names = _NAMESPACES["numpy"]
    >>> "sin" in numpy_names, "norm" in numpy_names, "fft" in numpy_names, "linalg" in numpy_names
    (True, True, False, False)
    """

    def __missing__(self, module: str) -> Any:
        if module != "numpy":
            return module  # lambdify's own, already cheap (mpmath, math)
        import numpy
        import numpy.linalg
        from sympy.utilities.lambdify import MODULES

        loaded = vars(numpy)
        namespace = dict(MODULES["numpy"][1])  # what lambdify starts from: I = 1j
        namespace["numpy"] = numpy
        namespace.update((name, loaded[name]) for name in numpy.__all__
                         if name in loaded and not isinstance(loaded[name], types.ModuleType))
        namespace.update((name, getattr(numpy.linalg, name)) for name in numpy.linalg.__all__)
        for sympy_name, translation in MODULES["numpy"][2].items():
            namespace[sympy_name] = namespace[translation]
        namespace.setdefault("Abs", abs)
        self[module] = namespace
        return namespace


_NAMESPACES = _Namespaces()


@lru_cache(maxsize=4096)
def _compile(expr: sp.Expr, symbols: tuple) -> Callable:
    if not_a_number(expr):
        return _undefined  # e.g. log(0) folded by SymPy: undefined wherever it is asked
    if expr.has(sp.Mod):
        # The mpmath printer writes Mod(a, b) as 'a % b' without brackets around a product
        # (-c*Mod(x, 2) becomes -c*x % 2): spell out its definition instead.
        expr = expr.replace(sp.Mod, lambda a, b: a - b * sp.floor(a / b))
    return _lambdify(expr, symbols, MpmathPrinter, _MP_MODULE)


def _numpy_label_is(label: Any, value: Any) -> Any:
    return __import__("numpy").equal(label, value) * 1.0


_NUMPY_MODULE: list[Any] = [{"Heaviside": lambda u, h0=0.5: __import__("numpy").heaviside(u, h0),
                             "label_is": _numpy_label_is}, "numpy"]


def compile_numpy(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> Callable:
    """A NumPy float64 function of ``symbols`` (fast, over arrays of points; may overflow).

    Like :func:`compile_expr`, only for trees the parser built, never for user text.
    """
    return _compile_numpy(expr, tuple(symbols))


def compile_numpy_together(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> Callable:
    """One NumPy function of ``symbols`` returning the tuple of ``exprs``: the partial
    derivatives of a loss repeat its forward pass, so their common subexpressions are taken
    out and computed once, and the tree is renamed and printed once, not once per derivative.

    >>> x, y = sp.symbols("x y", real=True)
    >>> both = compile_numpy_together([sp.cos(x * y) * y, sp.cos(x * y) * x], [x, y])
    >>> [float(v) for v in both(0.0, 2.0)]
    [2.0, 0.0]
    """
    return _compile_numpy(sp.Tuple(*exprs), tuple(symbols))


class _NumPyCode(SpelledOutConditions, NumPyPrinter):
    """SymPy's NumPy printer, without its logic simplification of if-then-else conditions."""


@lru_cache(maxsize=1024)
def _compile_numpy(expr: sp.Expr, symbols: tuple) -> Callable:
    return _lambdify(expr, symbols, _NumPyCode, _NUMPY_MODULE)


def _undefined(*_args):
    raise ValueError("undefined expression")


def _float_heaviside(u: float, h0: float = 0.5) -> float:
    return 1.0 if u > 0 else 0.0 if u < 0 else h0


def _float_sign(u: float) -> float:
    return 1.0 if u > 0 else -1.0 if u < 0 else 0.0


def _float_sinc(u: float) -> float:
    return 1.0 if u == 0 else math.sin(u) / u


_FLOAT_MODULE = [
    {
        "Heaviside": _float_heaviside,
        "label_is": lambda label, value: 1.0 if label == value else 0.0,
        "sign": _float_sign,
        "sinc": _float_sinc,
        "Max": max,
        "Min": min,
    },
    "math",
]


def compile_float(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> Callable:
    """A fast float64 function of ``symbols`` for cheap trials (evaluate with :func:`value`)."""
    return _compile_float(expr, tuple(symbols))


@lru_cache(maxsize=1024)
def _compile_float(expr: sp.Expr, symbols: tuple) -> Callable:
    if not_a_number(expr):
        return _undefined
    if expr.has(sp.Mod):
        expr = expr.replace(sp.Mod, lambda a, b: a - b * sp.floor(a / b))
    return _lambdify(expr, symbols, PythonCodePrinter, _FLOAT_MODULE)


#: what a float function raises where its value is not a real number
_FLOAT_FAILURES = (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError)


def value(fn: Callable, values: Sequence[float]) -> float | None:
    """``fn(*values)`` for a :func:`compile_float` function; None where it is not a real number."""
    try:
        result = fn(*values)
    except _FLOAT_FAILURES:
        return None
    if isinstance(result, complex) or not isinstance(result, (int, float)):
        return None
    result = float(result)
    return result if math.isfinite(result) else None


def readings_along(expr: sp.Expr, symbols: Sequence[sp.Symbol], point: Sequence[float],
                   index: int, grid: Sequence[float]) -> list[float | None]:
    """:func:`value` of ``expr`` at ``point`` with coordinate ``index`` set to each number of
    ``grid``, in one NumPy call: a scan for sign changes reads hundreds of points of one
    line, each a Python call of the float function otherwise. None where the value is not a
    real number; the float function reads the points one by one where NumPy cannot. Where
    float64 overflows on the way, NumPy carries the infinity on (1/(1 + exp(1000)) reads 0,
    where the float function gives up): readings only bracket roots, which are then refined
    exactly.

    >>> x, y = sp.symbols("x y", real=True)
    >>> readings_along(sp.log(x) + y, [x, y], [0.0, 1.0], 0, [-1.0, 1.0, 2.0])
    [None, 1.0, 1.6931471805599454]
    """
    np = importlib.import_module("numpy")
    symbols = tuple(symbols)
    line = np.asarray(grid, dtype=float)
    columns = [line if i == index else np.full(line.shape, float(v)) for i, v in enumerate(point)]
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(_compile_numpy(expr, symbols)(*columns))
    except Exception:  # a function NumPy lacks, a printer limit: the exact loop below decides
        result = None
    if result is None or result.dtype.kind not in "fiub":
        # complex or object values, or no NumPy function: one point at a time
        scan, values = compile_float(expr, symbols), list(point)
        readings = []
        for v in grid:
            values[index] = v
            readings.append(value(scan, values))
        return readings
    result = np.broadcast_to(result.astype(float), line.shape)
    return [float(r) if math.isfinite(r) else None for r in result.tolist()]


def evaluate(fn: Callable, values: Sequence, digits: int = DIGITS) -> mp.mpf | None:
    """``fn(*values)`` as a real mpf, or None where it is undefined, complex or infinite."""
    with mp.workdps(digits):
        try:
            result = fn(*[to_mpf(v) for v in values])
        except (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError):
            return None
        except NameError:
            # A generalized function with no value (DiracDelta in the derivative of a step):
            # undefined here, as at a pole.
            return None
        if isinstance(result, mp.mpc):
            if abs(result.imag) > TINY * (1 + abs(result.real)):
                return None
            result = result.real
        try:
            result = mp.mpf(result)
        except (TypeError, ValueError):
            return None
        if not mp.isfinite(result):
            return None
        return result


def as_sympy(value) -> sp.Basic:
    """A SymPy object for an internal number or SymPy object; never parses text.

    >>> as_sympy(2), as_sympy(Fraction(1, 3)), as_sympy(True)
    (2, 1/3, True)
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        return sp.Float(value)
    raise TypeError(f"not a number or SymPy object: {type(value).__name__}")


def to_mpf(value) -> mp.mpf:
    """A SymPy number, Fraction, int or float as an mpf at the working precision."""
    if isinstance(value, mp.mpf):
        return value  # most calls: points on a line, already converted
    with mp.workdps(DIGITS):
        if isinstance(value, sp.Rational):
            return mp.mpf(int(value.p)) / int(value.q)
        if isinstance(value, Fraction):
            return mp.mpf(value.numerator) / value.denominator
        if isinstance(value, sp.Basic):
            return mp.mpf(str(sp.N(value, DIGITS)))
        return mp.mpf(value)


#: primitives whose derivative is zero wherever it exists (SymPy leaves it unevaluated)
_PIECEWISE_CONSTANT = (sp.floor, sp.ceiling, sp.sign, sp.Heaviside)


def _constant_piece(e: sp.Basic) -> bool:
    if isinstance(e, sp.Subs):
        e = e.expr
    return isinstance(e, sp.Derivative) and isinstance(e.expr, _PIECEWISE_CONSTANT)


class _Differentiator:
    """d/dw of the subexpressions of one loss, each distinct one differentiated once.

    SymPy's ``diff`` differentiates a subexpression again wherever it occurs (a softmax's
    denominator in every probability) and walks each intermediate result once more to make
    its unevaluated derivatives canonical. The rules for sums, products, powers and
    functions below are SymPy's own (``Add._eval_derivative``, ``Mul``'s Leibniz rule for one
    derivative, ``Pow._eval_derivative``, ``Function._eval_derivative``), so every result is
    the expression ``diff`` builds; any other node is left to ``diff``.

    >>> x, y = sp.symbols("x y", real=True)
    >>> _Differentiator(x).derivative(sp.exp(x * y) / (1 + sp.exp(x * y)))
    y*exp(x*y)/(exp(x*y) + 1) - y*exp(2*x*y)/(exp(x*y) + 1)**2
    """

    def __init__(self, w: sp.Symbol):
        self.w = w
        self.plain: dict[sp.Basic, sp.Expr] = {}
        self.pieces: dict[sp.Basic, sp.Expr] = {}

    def derivative(self, expr: sp.Expr) -> sp.Expr:
        """``sp.diff(expr, w)``."""
        result = self._plain(expr)
        if result.has(sp.Derivative):
            result = result.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.canonical)
        return result

    def _plain(self, e: sp.Basic) -> sp.Expr:
        known = self.plain.get(e)
        if known is not None:
            return known
        kind = type(e)
        if not e.args:
            result = sp.Integer(1) if e == self.w else sp.Integer(0)
        elif kind is sp.Add or kind is sp.Mul or kind is sp.Pow or (
                isinstance(e, sp.Function) and kind._eval_derivative is _FUNCTION_RULE
                and kind._eval_derivative_n_times is _REPEATED_RULE):
            # a node whose arguments are all constant in w is (SymPy's quick exit for a
            # node without w, and what each rule gives when every derivative below is 0)
            slopes = [self._plain(a) for a in e.args]
            if all(slope is sp.S.Zero for slope in slopes):
                result = sp.Integer(0)
            elif kind is sp.Add:
                result = sp.Add(*slopes)
            elif kind is sp.Mul:
                result = sp.Add(*[sp.Mul(*[slope if i == k else a
                                           for i, (a, slope) in enumerate(zip(e.args, slopes))])
                                  for k in range(len(e.args))])
            elif kind is sp.Pow:
                base, exponent = e.args
                d_base, d_exponent = slopes
                result = e * (d_exponent * sp.log(base) + d_base * exponent / base)
            else:
                terms = []
                for i, slope in enumerate(slopes, start=1):
                    if slope.is_zero:
                        continue
                    try:
                        outer = e.fdiff(i)
                    except sp.ArgumentIndexError:
                        outer = sp.Function.fdiff(e, i)
                    terms.append(outer * slope)
                result = sp.Add(*terms)
        else:
            result = sp.diff(e, self.w)
        self.plain[e] = result
        return result

    def piecewise(self, expr: sp.Expr) -> sp.Expr:
        """``diff(expr, w)``, each Piecewise differentiated branch by branch as it stands.

        SymPy rebuilds the derivative of a Piecewise and merges equal neighbouring branches by
        writing the or of their conditions in conjunctive normal form: exponential in the
        comparisons of a sort's orderings (minutes for a Lovasz-Softmax of three classes).
        """
        known = self.pieces.get(expr)
        if known is not None:
            return known
        result = self._piecewise(expr)
        self.pieces[expr] = result
        return result

    def _piecewise(self, expr: sp.Expr) -> sp.Expr:
        w = self.w
        if not expr.has(w):
            return sp.Integer(0)
        if isinstance(expr, sp.Piecewise):
            pieces: list[tuple[sp.Expr, Any]] = []
            for value, condition in expr.args:
                slope = self.piecewise(value)
                if pieces and pieces[-1][0] == slope:
                    pieces[-1] = (slope, sp.Or(pieces[-1][1], condition))
                else:
                    pieces.append((slope, condition))
            return pieces[0][0] if len(pieces) == 1 else sp.Piecewise(*pieces, evaluate=False)
        if expr.is_Add:
            return sp.Add(*[self.piecewise(term) for term in expr.args])
        if expr.is_Mul and expr.has(sp.Piecewise):
            factors = expr.args
            return sp.Add(*[sp.Mul(*factors[:i], self.piecewise(factor), *factors[i + 1:])
                            for i, factor in enumerate(factors)])
        return self.derivative(expr)


_FUNCTION_RULE = sp.Function._eval_derivative
_REPEATED_RULE = sp.Basic._eval_derivative_n_times


@lru_cache(maxsize=512)
def partial_derivative(expr: sp.Expr, w: sp.Symbol) -> sp.Expr:
    """d expr / d w wherever the loss is differentiable: steps and rounding contribute 0
    (their DiracDelta and unevaluated derivatives are dropped). Cached: the verdict, the
    autodiff trap search and the report all ask for the same derivatives.

    >>> x = sp.Symbol("x", real=True)
    >>> partial_derivative(sp.floor(x) + sp.Heaviside(x) * x ** 2, x)
    2*x*Heaviside(x)
    """
    derivative = _Differentiator(w).piecewise(expr)
    try:
        return derivative.replace(_dropped_term, lambda e: sp.Integer(0))
    except TypeError:
        # replace rebuilds the inside of an unevaluated derivative of a step first, and
        # SymPy's sort of a sum can fail on what that evaluates to (a comparison of
        # relationals: log_softmax(round(y), round(y, 1))); the outermost terms to drop are
        # dropped whole instead
        dropped = {}
        walk = sp.preorder_traversal(derivative)
        for node in walk:
            if _dropped_term(node):
                dropped[node] = sp.Integer(0)
                walk.skip()
        return derivative.xreplace(dropped)


def _dropped_term(e: sp.Basic) -> bool:
    """A DiracDelta or an unevaluated derivative of a step: 0 wherever the loss is
    differentiable."""
    return isinstance(e, sp.DiracDelta) or _constant_piece(e)


# cached: the analysis asks again for the same sets (each candidate against every other one),
# and rebuilding an expression with max/min in it re-evaluates them (seconds on a real loss)
@lru_cache(maxsize=2048)
def concrete_model_functions(expr: sp.Expr) -> sp.Expr:
    """Replace each model function ``G(a, b)`` by a fixed generic smooth function.

    diffcheck cannot see into a model function; it assumes it is differentiable and can take
    any value. A generic stand-in (an affine map plus a cubic term, its coefficients derived
    from the name so that different functions never coincide) lets the numeric stages find
    points where, say, ``abs(G(w) - t)`` switches branch.

    >>> import sympy as sp
    >>> w = sp.Symbol("w", real=True)
    >>> concrete_model_functions(sp.Function("G", real=True)(w)).free_symbols == {w}
    True
    """
    if not expr.has(AppliedUndef):
        return expr
    return _rebuilt_without_switch_evaluation(expr, _generic_stand_in)


def _rebuilt_without_switch_evaluation(expr: sp.Expr,
                                       stand_in: Callable[[sp.Expr], sp.Expr]) -> sp.Expr:
    """``expr`` with each model function replaced by ``stand_in`` of it, bottom up.

    ``replace`` would rebuild every max, min and piecewise above a model function with
    evaluation, and SymPy compares their arguments pairwise there (minutes for a
    mixture-of-experts router whose gates are sorted). The stand-in changes no branch
    structure, so those are rebuilt unevaluated; everything else evaluates as usual.
    """
    memo: dict[sp.Basic, sp.Basic] = {}

    def visit(node: sp.Basic) -> sp.Basic:
        if node in memo:
            return memo[node]
        if not node.args or not node.has(AppliedUndef):
            result = node
        else:
            args = [visit(arg) for arg in node.args]
            if isinstance(node, AppliedUndef):
                result = stand_in(node.func(*args))
            elif isinstance(node, (sp.Max, sp.Min, sp.Piecewise)):
                result = node.func(*args, evaluate=False)
            elif isinstance(node, sp.Function) and any(free_symbols(a) for a in args):
                # exp(c*u) takes each factor of u apart looking for a log (logcombine walks
                # the whole tree of a deep network), and the stand-in made no new log
                result = node.func(*args, evaluate=False)
            else:
                result = node.func(*args)
        memo[node] = result
        return result

    return visit(expr)


def _generic_stand_in(application: sp.Expr) -> sp.Expr:
    name = type(application).__name__
    digest = hashlib.sha256(name.encode()).digest()
    offset = sp.Rational(digest[0] % 50 + 10, 97)
    args = application.args
    if not args:
        return offset
    slopes = [sp.Rational(digest[i + 1] % 40 + 60, 71 * (i + 1)) for i in range(len(args))]
    # Products with the input: a layer is bilinear in its input and its weights
    # (``w @ x``), so its derivative in ``w`` depends on ``x``; a separable stand-in would make
    # ``G(x0, w) - G(x1, w)`` (a max-pool tie, an argmax gate) independent of the weights.
    # The input is written twice only, as in c*x + x**3/9: a stand-in inside a stand-in
    # repeats it, and a layer deep the repetitions multiply.
    couplings = [sp.Rational(digest[j % 31 + 1] % 30 + 20, 97) * args[j] for j in range(1, len(args))]
    head = args[0] * (slopes[0] + args[0] ** 2 / 9 + sp.Add(*couplings))
    return offset + head + sp.Add(*[c * a for c, a in zip(slopes[1:], args[1:])])


def exact_number(value: Any) -> sp.Basic:
    """The number ``value`` is, exactly, as SymPy's.

    >>> exact_number(0.375), exact_number(mp.mpf(-3) / 4), exact_number(Fraction(1, 3))
    (3/8, -3/4, 1/3)
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (bool, int)):
        return sp.Integer(int(value))
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        return sp.Rational(*value.as_integer_ratio())
    if isinstance(value, mp.mpf):
        sign, mantissa, exponent, _ = value._mpf_
        if not mantissa:
            return sp.Integer(0)  # zero (infinities and NaN never reach a point)
        magnitude = sp.Integer(mantissa) * sp.Integer(2) ** exponent
        return -magnitude if sign else magnitude
    raise TypeError(f"not a coordinate: {type(value).__name__}")
