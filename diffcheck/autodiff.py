"""The backward pass as PyTorch and JAX run it, on the program as written.

:func:`gradients` runs a :class:`~diffcheck.program.Node` tree forward and backward with the
rules of :mod:`diffcheck.autodiff_rules`, in float32 or float64 (NumPy arrays: many points at
once) or in exact arithmetic (mpmath numbers of high precision and unlimited range, which
never overflow). Comparing the three with the derivative of the mathematics tells what kind
of trap a point is: wrong in exact arithmetic too, the program itself is the problem
(``sqrt(x**2 + y**2)`` at 0); right in exact arithmetic but not in float32, the dtype's range
is (``log(1 + exp(x))`` at 100).

>>> from diffcheck.program import from_expression
>>> tree = from_expression("where(x > 0, sqrt(x), 0)")
>>> float32 = Arithmetic("float32")
>>> run = gradients(tree, "torch", float32, {"x": float32.values([-1.0, 4.0])}, ["x"])
>>> run.gradient["x"]
array([ nan, 0.25], dtype=float32)
>>> relu_cancel = from_expression("relu(x) - relu(-x)")
>>> [float(gradients(relu_cancel, fw, EXACT, {"x": 0}, ["x"]).gradient["x"]) for fw in FRAMEWORKS]
[0.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np

from diffcheck.autodiff_rules import CONDITIONS, FRAMEWORKS, RULES, Context, Rule
from diffcheck.program import Node

__all__ = ["EXACT", "FRAMEWORKS", "Arithmetic", "ExactArithmetic", "Run", "Unsupported",
           "gradients"]


class Unsupported(Exception):
    """The program uses something the model cannot run (a model function, an unknown op)."""


# --------------------------------------------------------------------------------------------
# Arithmetics: what a rule's ``ar`` is
# --------------------------------------------------------------------------------------------


class Arithmetic:
    """IEEE arithmetic of one NumPy dtype, elementwise over arrays of points."""

    def __init__(self, dtype: str) -> None:
        self.name = dtype
        self.dtype = np.dtype(dtype)
        info = np.finfo(self.dtype)
        self.largest = float(info.max)
        self.smallest = float(info.tiny)  # the smallest normal number
        self.epsilon = float(info.eps)  # the spacing of the numbers just above 1

    def const(self, value: Any) -> Any:
        return self.dtype.type(float(value))

    def values(self, numbers: Iterable[float]) -> np.ndarray:
        return np.asarray(list(numbers), dtype=np.float64).astype(self.dtype)

    def div(self, a, b):
        return np.divide(a, b)

    def pow(self, a, b):
        return np.power(a, b)

    def where(self, condition, a, b):
        return np.where(condition, a, b).astype(self.dtype, copy=False)

    def zeros_like(self, a):
        return np.zeros_like(a, dtype=self.dtype)

    def finite_or_zero(self, a):
        return np.where(np.isfinite(a), a, self.const(0)).astype(self.dtype, copy=False)

    def isinf(self, a):
        return np.isinf(a)

    def is_number(self, a):
        return ~np.isnan(a)

    def as_value(self, condition):
        return np.where(condition, self.const(1), self.const(0)).astype(self.dtype, copy=False)

    def __getattr__(self, name: str):
        # the elementary functions: numpy's, under their numpy names
        function = _NUMPY_FUNCTIONS.get(name)
        if function is None:
            raise AttributeError(name)
        return function


_NUMPY_FUNCTIONS = {
    "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sinh": np.sinh,
    "cosh": np.cosh, "atan": np.arctan, "abs": np.abs, "sign": np.sign, "floor": np.floor,
    "ceil": np.ceil, "rint": np.rint, "maximum": np.maximum, "minimum": np.minimum,
    "hypot": np.hypot, "acos": np.arccos, "asin": np.arcsin, "atan2": np.arctan2,
    "erf": lambda a: _erf_numpy(a), "erfc": lambda a: 1 - _erf_numpy(a),
}


def _erf_numpy(a: Any) -> Any:
    """erf elementwise in the array's dtype (NumPy has none; math.erf per element)."""
    array = np.asarray(a)
    return np.vectorize(math.erf, otypes=[array.dtype])(array).astype(array.dtype)


def _nan_safe(function: Any) -> Any:
    """A one-argument mpmath function as a method that passes NaN through."""

    def apply(self: Any, a: Any) -> Any:
        return mp.nan if mp.isnan(a) else function(a)

    return apply


class ExactArithmetic:
    """Real arithmetic at high precision with unlimited exponent range (mpmath), IEEE-like.

    Division by zero gives an infinity, 0 * inf and inf - inf give NaN, a square root or
    logarithm of a negative number gives NaN, as in floating point; but nothing overflows
    or underflows. One point at a time.
    """

    name = "exact"
    largest = math.inf
    smallest = 0.0

    def const(self, value: Any) -> mp.mpf:
        if isinstance(value, Fraction):
            return mp.mpf(value.numerator) / value.denominator
        return mp.mpf(value)

    def values(self, numbers: Iterable[float]) -> list:
        return [mp.mpf(float(n)) for n in numbers]

    @staticmethod
    def _nan(*values) -> bool:
        return any(mp.isnan(v) for v in values)

    def div(self, a, b):
        if self._nan(a, b) or (b == 0 and a == 0) or (mp.isinf(a) and mp.isinf(b)):
            return mp.nan
        if b == 0:
            return mp.inf if a > 0 else -mp.inf
        return a / b

    def pow(self, a, b):
        if self._nan(a, b):
            return mp.nan
        if b == 0:
            return mp.mpf(1)
        if a == 0:
            return mp.inf if b < 0 else mp.mpf(0)
        if a < 0 and b != mp.floor(b):
            return mp.nan
        if mp.isinf(a) or mp.isinf(b):
            result = mp.power(a, b)
            return result if isinstance(result, mp.mpf) else mp.nan
        result = mp.power(a, b)
        return result.real if isinstance(result, mp.mpc) else result

    def sqrt(self, a):
        return mp.nan if self._nan(a) or a < 0 else mp.sqrt(a)

    def log(self, a):
        if self._nan(a) or a < 0:
            return mp.nan
        return -mp.inf if a == 0 else mp.log(a)

    def log1p(self, a):
        if self._nan(a) or a < -1:
            return mp.nan
        return -mp.inf if a == -1 else mp.log1p(a)

    def exp(self, a):
        return mp.nan if self._nan(a) else mp.exp(a)

    def expm1(self, a):
        return mp.nan if self._nan(a) else mp.expm1(a)

    sin = _nan_safe(lambda a: mp.sin(a) if mp.isfinite(a) else mp.nan)
    cos = _nan_safe(lambda a: mp.cos(a) if mp.isfinite(a) else mp.nan)
    tan = _nan_safe(lambda a: mp.tan(a) if mp.isfinite(a) else mp.nan)
    tanh = _nan_safe(lambda a: mp.tanh(a) if mp.isfinite(a) else mp.sign(a))
    sinh = _nan_safe(lambda a: mp.sinh(a) if mp.isfinite(a) else a)
    cosh = _nan_safe(lambda a: mp.cosh(a) if mp.isfinite(a) else mp.inf)
    atan = _nan_safe(mp.atan)
    abs = _nan_safe(abs)
    sign = _nan_safe(lambda a: mp.mpf(mp.sign(a)))
    floor = _nan_safe(lambda a: mp.floor(a) if mp.isfinite(a) else a)
    ceil = _nan_safe(lambda a: mp.ceil(a) if mp.isfinite(a) else a)

    def rint(self, a):
        if self._nan(a) or not mp.isfinite(a):
            return a
        low = mp.floor(a)
        rest = a - low
        if rest == mp.mpf(0.5):
            return low if int(low) % 2 == 0 else low + 1
        return low + 1 if rest > 0.5 else low

    def maximum(self, a, b):
        return mp.nan if self._nan(a, b) else max(a, b)

    def minimum(self, a, b):
        return mp.nan if self._nan(a, b) else min(a, b)

    def hypot(self, a, b):
        return mp.nan if self._nan(a, b) else mp.hypot(a, b)

    def atan2(self, a, b):
        return mp.nan if self._nan(a, b) else mp.atan2(a, b)

    def acos(self, a):
        return mp.nan if self._nan(a) or abs(a) > 1 else mp.acos(a)

    def asin(self, a):
        return mp.nan if self._nan(a) or abs(a) > 1 else mp.asin(a)

    erf = _nan_safe(mp.erf)
    erfc = _nan_safe(mp.erfc)

    def where(self, condition, a, b):
        return a if condition else b

    def zeros_like(self, a):
        return mp.mpf(0)

    def finite_or_zero(self, a):
        return a if mp.isfinite(a) else mp.mpf(0)

    def isinf(self, a):
        return mp.isinf(a)

    def is_number(self, a):
        return not mp.isnan(a)

    def as_value(self, condition):
        return mp.mpf(1) if condition else mp.mpf(0)


EXACT = ExactArithmetic()

#: bits of the exact arithmetic: 1 - sigmoid(x) needs about 1.45*|x| bits to be told from 0
EXACT_BASE_BITS = 256


#: and at most this many (beyond it, 1 - sigmoid(x) for x > 2800 reads as 0 in "exact" too)
EXACT_MAX_BITS = 4096


def exact_bits(point: Mapping[str, Any]) -> int:
    largest = max((abs(float(v)) for v in point.values()), default=0.0)
    largest = min(largest, 1e5) if math.isfinite(largest) else 1e5
    return min(EXACT_BASE_BITS + int(1.5 * largest), EXACT_MAX_BITS)


# --------------------------------------------------------------------------------------------
# Running a program forward and backward
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One forward and backward pass: values and cotangents of every node, the gradient."""

    value: Any
    gradient: dict[str, Any]
    #: the nodes run, children before parents (after library calls were expanded)
    order: list[Node] = field(default_factory=list)
    values: dict[int, Any] = field(default_factory=dict)
    cotangents: dict[int, Any] = field(default_factory=dict)
    #: expanded node -> the node of the user's program it stands for
    origin: dict[int, Node] = field(default_factory=dict)


def gradients(tree: Node, framework: str, ar: Any, point: Mapping[str, Any],
              wrt: Sequence[str], bits: int | None = None) -> Run:
    """Run ``tree`` at ``point`` (variable -> number or array) as ``framework`` does.

    ``bits`` is the precision of the exact arithmetic (default: enough for the point).
    Raises :class:`Unsupported` for programs the model cannot run.
    """
    program = _expanded(tree, framework)
    if ar is EXACT:
        with mp.workprec(bits or exact_bits(point)):
            return _run(program, framework, ar, point, wrt)
    with np.errstate(all="ignore"):
        return _run(program, framework, ar, point, wrt)


class Origins(dict):
    """id(expanded node) -> the node of the user's program it stands for.

    Keyed by id (nodes compare by structure, and two ``x + 1`` of a program are two places),
    so every keyed node is held here: a node dropped during expansion would free its id for a
    later node, which would then inherit its origin (np_log_loss's ``1 - y_pred`` was reported
    as the parameter ``y_pred``, depending on where memory put them).
    """

    def __init__(self) -> None:
        super().__init__()
        self._held: list[Node] = []

    def stands_for(self, node: Node, original: Node, replace: bool = True) -> None:
        if replace or id(node) not in self:
            self[id(node)] = original
            self._held.append(node)


@dataclass
class _Program:
    root: Node
    order: list[Node]
    origin: dict[int, Node]
    constants: dict[int, Any]  # node -> its exact value, for constant subtrees
    integer_literals: dict[int, bool]  # node -> written as a Python int (2, -3, 2*3)
    variables: dict[int, frozenset[str]]


_EXPANDED: dict[tuple[int, str], tuple[Node, _Program]] = {}


def _expanded(tree: Node, framework: str) -> _Program:
    key = (id(tree), framework)
    cached = _EXPANDED.get(key)
    if cached is not None and cached[0] is tree:
        return cached[1]
    origin = Origins()
    root = _Expander(framework, origin).expand(tree)
    order = _topological(root)
    constants: dict[int, Any] = {}
    integer_literals: dict[int, bool] = {}
    variables: dict[int, frozenset[str]] = {}
    for node in order:
        variables[id(node)] = frozenset(
            {node.value} if node.op == "var"
            else set().union(*(variables[id(a)] for a in _children(node))) if _children(node)
            else set())
        folded = _fold(node, constants, integer_literals)
        if folded is not None:
            constants[id(node)], integer_literals[id(node)] = folded
    program = _Program(root, order, origin, constants, integer_literals, variables)
    if len(_EXPANDED) > 256:
        _EXPANDED.clear()
    _EXPANDED[key] = (tree, program)
    return program


def _topological(root: Node) -> list[Node]:
    """Every node once, children before parents (expansions share argument nodes)."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node)) if id(child) not in seen)
    return order


def _children(node: Node) -> list[Node]:
    return [*node.args, *(arg for _, arg in node.keywords)]


_FOLDABLE: dict[str, Any] = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
             "neg": lambda a: -a}


def _fold(node: Node, constants: dict, integer_literals: dict) -> tuple[Any, bool] | None:
    """The exact value of a constant subtree, and whether Python would make it an int."""
    if node.op == "const":
        value = node.value
        if isinstance(value, bool):
            return int(value), True
        return value, isinstance(value, int)
    if not node.args or any(id(a) not in constants for a in node.args) or node.keywords:
        return None
    values = [constants[id(a)] for a in node.args]
    integer = all(integer_literals[id(a)] for a in node.args)
    try:
        if node.op in _FOLDABLE:
            return _FOLDABLE[node.op](*values), integer
        if node.op == "div":
            return Fraction(values[0]) / Fraction(values[1]), False
        if node.op == "pow" and integer and values[1] >= 0 and abs(values[1]) < 64:
            return values[0] ** values[1], True
    except (ZeroDivisionError, OverflowError, TypeError, ValueError):
        return None
    return None


class _Builder:
    """What a rule's ``expand`` writes with: new nodes standing for the call being expanded."""

    def __init__(self, expander: _Expander, call: Node) -> None:
        self.expander = expander
        self.call_node = call

    def node(self, op: str, *args: Node, **options: Any) -> Node:
        keywords = tuple((k, v) for k, v in options.items())
        built = Node(op, tuple(args), keywords=keywords, span=self.call_node.span)
        self.expander.origin.stands_for(built, self.expander.origin.get(id(self.call_node),
                                                                        self.call_node))
        return built

    def const(self, value: Any) -> Node:
        return Node("const", value=value)

    def call(self, op: str, *args: Node) -> Node:
        return self.expander.expand(self.node(op, *args))

    def add(self, a, b):
        return self.node("add", a, b)

    def mul(self, a, b):
        return self.node("mul", a, b)

    def div(self, a, b):
        return self.node("div", a, b)

    def neg(self, a):
        return self.node("neg", a)

    def compare(self, op, a, b):
        return self.node(op, a, b)

    def where(self, condition, a, b):
        return self.node("where", condition, a, b)


class _Expander:
    """Rewrites library calls that a framework runs as a composition (``jnp.hypot``)."""

    def __init__(self, framework: str, origin: Origins) -> None:
        self.framework = framework
        self.origin = origin

    def expand(self, node: Node) -> Node:
        args = tuple(self.expand(a) for a in node.args)
        keywords = tuple((k, self.expand(v)) for k, v in node.keywords)
        if node.op == "square":
            rebuilt = Node("pow", (args[0], Node("const", value=2)), written=node.written,
                           span=node.span)
        else:
            rule = RULES.get(node.op)
            if rule is not None and rule.params != ("*",):
                # parameters left out take their defaults, as constants of the program
                given = set(rule.params[: len(args)]) | {k for k, _ in keywords}
                keywords += tuple((param, Node("const", value=default))
                                  for param, default in rule.defaults.items()
                                  if param not in given and default is not None)
            rebuilt = Node(node.op, args, node.value, keywords, node.written, node.span)
        self.origin.stands_for(rebuilt, self.origin.get(id(node), node), replace=False)
        rule = RULES.get(rebuilt.op)
        expand = rule.expand.get(self.framework) if rule else None
        if rule is None or expand is None:
            return rebuilt
        builder = _Builder(self, rebuilt)
        positional, _options = _bind(rule, rebuilt, builder=True)
        return expand(builder, *positional)


def _bind(rule: Rule, node: Node, builder: bool = False) -> tuple[list[Any], dict[str, Node]]:
    """The call's arguments in the rule's parameter order (None for an absent optional one)."""
    options = {k: v for k, v in node.keywords if k in rule.options}
    named = {k: v for k, v in node.keywords if k not in rule.options}
    if rule.params == ("*",):
        if named:
            raise Unsupported(f"{node.op}: keyword {next(iter(named))}= is not modelled")
        return list(node.args), options
    if len(node.args) > len(rule.params):
        raise Unsupported(f"{node.op} with {len(node.args)} arguments")
    bound: list[Any] = list(node.args) + [None] * (len(rule.params) - len(node.args))
    for key, value in named.items():
        if key not in rule.params:
            raise Unsupported(f"{node.op}: keyword {key}= is not modelled")
        bound[rule.params.index(key)] = value
    return bound, options


def _run(program: _Program, framework: str, ar: Any, point: Mapping[str, Any],
         wrt: Sequence[str]) -> Run:
    values: dict[int, Any] = {}
    contexts: dict[int, tuple[Rule, Context, list]] = {}
    for node in program.order:
        values[id(node)] = _forward(node, program, framework, ar, point, values, contexts)
    root = program.root
    result = values[id(root)]
    if root.op in CONDITIONS:
        result = ar.as_value(result)
    cotangents: dict[int, Any] = {id(root): ar.const(1) + ar.zeros_like(result)}
    gradient: dict[str, Any] = {}
    wanted = set(wrt)
    for node in reversed(program.order):
        g = cotangents.get(id(node))
        if g is None or node.op in CONDITIONS or node.op == "const":
            continue
        if node.op == "var":
            if node.value in wanted:
                gradient[node.value] = gradient[node.value] + g if node.value in gradient else g
            continue
        rule, ctx, bound = contexts[id(node)]
        inputs = _inputs(ar, node.op, bound, values)
        assert rule.backward is not None
        grads = rule.backward(ctx, inputs, values[id(node)], g)
        for child, child_grad in zip(bound, grads):
            if child is None or child.op in CONDITIONS:
                continue
            if child_grad is None:
                if program.variables[id(child)] & wanted:
                    raise Unsupported(f"no gradient modelled for an argument of {node.op}")
                continue
            key = id(child)
            cotangents[key] = cotangents[key] + child_grad if key in cotangents else child_grad
    for name in wrt:
        gradient.setdefault(name, ar.zeros_like(_numeric(ar, values, root)))
    return Run(result, gradient, program.order, values, cotangents, program.origin)


def _numeric(ar: Any, values: Mapping[int, Any], node: Node | None) -> Any:
    if node is None:
        return None
    value = values[id(node)]
    return ar.as_value(value) if node.op in CONDITIONS else value


def _forward(node: Node, program: _Program, framework: str, ar: Any, point: Mapping[str, Any],
             values: dict[int, Any], contexts: dict) -> Any:
    op = node.op
    if op == "var":
        if node.value not in point:
            raise Unsupported(f"no value for variable {node.value}")
        return point[node.value]
    if op == "const":
        return ar.const(node.value)
    if op in CONDITIONS:
        args = [values[id(a)] for a in node.args]
        if op == "not":
            return ~_as_condition(ar, node.args[0], args[0])
        if op in ("and", "or"):
            conditions = [_as_condition(ar, a, v) for a, v in zip(node.args, args)]
            combined = conditions[0]
            for c in conditions[1:]:
                combined = (combined & c) if op == "and" else (combined | c)
            return combined
        left, right = (_numeric(ar, values, a) for a in node.args)
        return {"lt": left < right, "le": left <= right, "gt": left > right,
                "ge": left >= right, "eq": left == right, "ne": left != right}[op]
    if op == "model":
        raise Unsupported(f"model function {node.value} cannot be run")
    rule = RULES.get(op)
    if rule is None or rule.forward is None:
        raise Unsupported(f"no autodiff rule for {op}")
    bound, options = _bind(rule, node)
    inputs = _inputs(ar, op, bound, values)
    option_values = {}
    for key, option in options.items():
        if id(option) not in program.constants:
            raise Unsupported(f"{op}: {key}= must be a constant")
        option_values[key] = program.constants[id(option)]
    if op == "mean":
        option_values["mean"] = True
    ctx = Context(
        framework=framework, ar=ar,
        constants=[None if b is None else program.constants.get(id(b)) for b in bound],
        integer_literals=[False if b is None else program.integer_literals.get(id(b), False)
                          for b in bound],
        written=node.written or op, options=option_values,
    )
    contexts[id(node)] = (rule, ctx, bound)
    return rule.forward(ctx, inputs)


def _inputs(ar: Any, op: str, bound: Sequence[Node | None], values: Mapping[int, Any]) -> list:
    """Argument values for a rule: numbers, and a condition for where's first argument."""
    if op == "where":
        condition = bound[0]
        assert condition is not None
        first = _as_condition(ar, condition, values[id(condition)])
        return [first, *(_numeric(ar, values, b) for b in bound[1:])]
    return [_numeric(ar, values, b) for b in bound]


def _as_condition(ar: Any, node: Node, value: Any) -> Any:
    return value if node.op in CONDITIONS else value != ar.const(0)
