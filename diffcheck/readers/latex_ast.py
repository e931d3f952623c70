"""The meaning of a LaTeX formula: a small tree, its index expansion, and its text.

:mod:`diffcheck.readers.latex` builds these nodes from the parse tree. Here they are

- expanded: a sum, product, max or min over an index becomes its terms for a few index
  values (:func:`expand`), and a norm or an inner product becomes a function of the
  components of its vectors (:func:`vector_components`);
- written as diffcheck's expression text (:func:`emit`), with the LaTeX column of the
  construct behind every piece of text, so that an error or a finding in the text points at
  the LaTeX input.

>>> x, y = Sym(1, "x"), Sym(5, "y", accents=("hat",))
>>> text, spans = emit(Call(1, "abs", [Add(1, [(1, x), (-1, y)])]))
>>> text
'abs(x - y_hat)'
>>> column_at(spans, text.index("y_hat") + 1)
5
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction

from diffcheck.functions import CONSTANTS, VOCABULARY
from diffcheck.parser import ParseError

#: Index values a sum without bounds runs over, and the value of a bound such as N.
INDEX_VALUES = 3
#: Components of each vector in a norm or an inner product.
VECTOR_COMPONENTS = 2
#: Most terms one sum, product, max or min may expand to.
MAX_TERMS = 12
#: Most nodes the expanded formula may have.
MAX_EXPANDED_NODES = 20_000


# --- nodes -----------------------------------------------------------------------------------


@dataclass
class Node:
    """A construct of the formula; ``col`` is its 1-based column in the LaTeX input."""

    col: int

    def children(self) -> list[Node]:
        return []

    def map(self, function: Callable[[Node], Node]) -> Node:
        """A copy with ``function`` applied to each child."""
        return self


@dataclass
class Num(Node):
    """A number as written (``0.5``) and its exact value."""

    text: str
    value: Fraction = Fraction(0)


@dataclass
class Const(Node):
    name: str  # "pi"


@dataclass
class Sym(Node):
    """A variable as written: ``\\hat{y}_{n,c}'`` has base ``y``, accent ``hat``, two
    subscript items and a prime. Subscript items are nodes: names, numbers, or a run of
    them written together (``{ij}``, ``{0i}``)."""

    base: str
    accents: tuple[str, ...] = ()
    subs: tuple[Node, ...] = ()
    primes: int = 0
    style: str = "letter"

    def children(self) -> list[Node]:
        return list(self.subs)

    def map(self, function):
        return replace(self, subs=tuple(function(item) for item in self.subs))


@dataclass
class Run(Node):
    """Subscript items written together without a separator: ``ij`` in ``x_{ij}``."""

    items: list[Node]

    def children(self):
        return list(self.items)

    def map(self, function):
        return replace(self, items=[function(item) for item in self.items])


@dataclass
class Call(Node):
    """A function of diffcheck's vocabulary (``abs``, ``log``, ``max``, ``sigmoid``...)."""

    func: str
    args: list[Node]

    def children(self):
        return list(self.args)

    def map(self, function):
        return replace(self, args=[function(arg) for arg in self.args])


@dataclass
class ModelCall(Node):
    """A function the formula names but does not define (``f(x_i)``): a model function."""

    sym: Sym
    args: list[Node]

    def children(self):
        return [self.sym, *self.args]

    def map(self, function):
        sym = function(self.sym)
        assert isinstance(sym, Sym)
        return replace(self, sym=sym, args=[function(arg) for arg in self.args])


@dataclass
class Add(Node):
    terms: list[tuple[int, Node]]  # (+1 or -1, term)

    def children(self):
        return [term for _, term in self.terms]

    def map(self, function):
        return replace(self, terms=[(sign, function(term)) for sign, term in self.terms])


@dataclass
class Mul(Node):
    factors: list[Node]
    #: ``a \\cdot b``: two factors joined by a dot, a dot product when both are vectors
    dot: bool = False

    def children(self):
        return list(self.factors)

    def map(self, function):
        return replace(self, factors=[function(factor) for factor in self.factors])


@dataclass
class Div(Node):
    num: Node
    den: Node

    def children(self):
        return [self.num, self.den]

    def map(self, function):
        return replace(self, num=function(self.num), den=function(self.den))


@dataclass
class Pow(Node):
    base: Node
    exp: Node

    def children(self):
        return [self.base, self.exp]

    def map(self, function):
        return replace(self, base=function(self.base), exp=function(self.exp))


@dataclass
class Rel(Node):
    """A chain of comparisons ``a < b <= c`` (operators in Python syntax)."""

    ops: list[str]
    operands: list[Node]

    def children(self):
        return list(self.operands)

    def map(self, function):
        return replace(self, operands=[function(operand) for operand in self.operands])


@dataclass
class Logic(Node):
    op: str  # "and", "or", "not"
    args: list[Node]

    def children(self):
        return list(self.args)

    def map(self, function):
        return replace(self, args=[function(arg) for arg in self.args])


@dataclass
class Indicator(Node):
    """1 where the condition holds, 0 elsewhere."""

    cond: Node

    def children(self):
        return [self.cond]

    def map(self, function):
        return replace(self, cond=function(self.cond))


@dataclass
class Cases(Node):
    """A piecewise definition: rows of (value, condition); ``None`` is "otherwise"."""

    rows: list[tuple[Node, Node | None]]

    def children(self):
        return [part for row in self.rows for part in row if part is not None]

    def map(self, function):
        return replace(self, rows=[(function(value), None if cond is None else function(cond))
                                   for value, cond in self.rows])


@dataclass
class IndexSpec:
    """What a sum runs over: its index names, bounds and conditions."""

    indices: list[str]
    lower: Node | None = None
    upper: Node | None = None
    conditions: list[Node] = field(default_factory=list)


@dataclass
class BigOp(Node):
    """``\\sum``, ``\\prod``, ``\\max_j``, ``\\min_j`` over an index."""

    kind: str  # sum prod max min
    spec: IndexSpec
    body: Node

    def children(self):
        bounds = [b for b in (self.spec.lower, self.spec.upper) if b is not None]
        return [*bounds, *self.spec.conditions, self.body]

    def map(self, function):
        spec = IndexSpec(
            list(self.spec.indices),
            None if self.spec.lower is None else function(self.spec.lower),
            None if self.spec.upper is None else function(self.spec.upper),
            [function(cond) for cond in self.spec.conditions],
        )
        return replace(self, spec=spec, body=function(self.body))


@dataclass
class Norm(Node):
    """``\\|v\\|_p``: ``order`` is the number p (2 when not written; ``inf`` for max)."""

    body: Node
    order: Fraction | str = Fraction(2)

    def children(self):
        return [self.body]

    def map(self, function):
        return replace(self, body=function(self.body))


@dataclass
class Inner(Node):
    """``\\langle a, b \\rangle`` or ``a^\\top b``: the sum of products of components."""

    left: Node
    right: Node

    def children(self):
        return [self.left, self.right]

    def map(self, function):
        return replace(self, left=function(self.left), right=function(self.right))


def walk(node: Node) -> Iterator[Node]:
    """Every node under (and including) ``node``, parents first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def transform(node: Node, function: Callable[[Node], Node | None]) -> Node:
    """Rebuild ``node`` bottom-up; ``function`` may return a replacement or None (keep)."""
    rebuilt = node.map(lambda child: transform(child, function))
    replacement = function(rebuilt)
    return rebuilt if replacement is None else replacement


# --- names -----------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: Words that cannot be variable names in the text syntax, and what they become.
_RESERVED = set(VOCABULARY) | set(CONSTANTS) | set(keyword.kwlist) | {"np", "numpy", "torch",
                                                                       "jnp", "math", "True",
                                                                       "False", "None"}


def text_name(name: str) -> str:
    """The text-syntax name of a LaTeX name: ``lambda`` is a Python keyword, ``step`` a
    function, so they become ``lambda_`` and ``step_``; ``--set`` names go through this too.

    >>> text_name("delta"), text_name("lambda"), text_name("step")
    ('delta', 'lambda_', 'step_')
    """
    return name + "_" if name in _RESERVED else name


def sub_text(item: Node) -> str:
    """The text of one subscript item as part of a name: ``n``, ``1``, ``y_i``, ``pred``."""
    if isinstance(item, Sym):
        return sym_name(item, reserved_ok=True)
    if isinstance(item, Num):
        if item.value.denominator != 1 or item.value < 0:
            raise ParseError(f"subscript {item.text} is not a whole number", item.col)
        return str(item.value.numerator)
    if isinstance(item, Run):
        return "".join(sub_text(part) for part in item.items)
    if isinstance(item, Add) and len(item.terms) == 1 and item.terms[0][0] == -1:
        return "minus" + sub_text(item.terms[0][1])
    raise ParseError("this subscript is not a name or an index diffcheck can expand", item.col)


def sym_name(sym: Sym, reserved_ok: bool = False) -> str:
    """The variable name of ``sym``: ``y_hat_n_c`` for ``\\hat{y}_{n,c}``."""
    parts = [sym.base, *sym.accents, *(["prime"] * sym.primes)]
    parts += [sub_text(item) for item in sym.subs]
    name = "_".join(parts)
    if not _IDENTIFIER.fullmatch(name):
        raise ParseError(f"{name!r} is not a name diffcheck can use", sym.col)
    return name if reserved_ok else text_name(name)


def index_key(node: Node) -> str | None:
    """The name an index goes by (``c`` is ``c``, ``c'`` is ``c_prime``); None for anything
    that is not a name without subscripts."""
    if isinstance(node, Sym) and not node.subs:
        return sym_name(node, reserved_ok=True)
    return None


def model_name(sym: Sym) -> str:
    """The model-function name of ``f`` in ``f(x)``: capitalized, ``F``; ``\\phi`` is ``Phi``."""
    name = sym_name(sym, reserved_ok=True)
    return name[0].upper() + name[1:]


# --- expansion of indices ---------------------------------------------------------------------


def count_nodes(node: Node) -> int:
    return sum(1 for _ in walk(node))


def substitute(node: Node, env: dict[str, int]) -> Node:
    """Replace bound indices and labels (names in ``env``) by their values.

    In a subscript an index becomes its value (``x_i`` -> ``x_2``); used as a number it
    becomes the number (``i x_i`` -> ``2 x_2``).
    """

    def visit(current: Node) -> Node | None:
        key = index_key(current)
        if key is not None and key in env:
            return _number(current.col, env[key])
        if isinstance(current, Sym) and current.subs:
            key = sym_name(current, reserved_ok=True)
            if key in env:  # a label with subscripts: y_i -> 1
                return _number(current.col, env[key])
        if isinstance(current, Run) and all(isinstance(p, Num) for p in current.items) and \
                len(current.items) > 1:
            return current  # 1_2 stays separated
        if isinstance(current, Rel):
            return _fold_comparison(current)
        if isinstance(current, Indicator) and isinstance(current.cond, Num):
            return current.cond
        if isinstance(current, (Add, Mul)) and _is_integer_arithmetic(current):
            return _number(current.col, int(_evaluate(current)))
        return None

    return transform(node, visit)


def _number(col: int, value: int) -> Num:
    return Num(col, str(value), Fraction(value))


def _is_integer_arithmetic(node: Node) -> bool:
    return all(isinstance(n, (Add, Mul, Num)) for n in walk(node)) and \
        all(n.value.denominator == 1 for n in walk(node) if isinstance(n, Num))


def _evaluate(node: Node) -> Fraction:
    """The value of integer arithmetic (bounds such as ``2N`` or ``N - 1``)."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Add):
        return sum((sign * _evaluate(term) for sign, term in node.terms), Fraction(0))
    if isinstance(node, Mul):
        product = Fraction(1)
        for factor in node.factors:
            product *= _evaluate(factor)
        return product
    raise ParseError("a bound of a sum must be a whole number, or a name such as N",
                     node.col)


_COMPARE = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def _fold_comparison(rel: Rel) -> Node | None:
    """A comparison of numbers only (``2 != 1`` after expansion) is 1 or 0."""
    if not all(isinstance(operand, Num) for operand in rel.operands):
        return None
    values = [operand.value for operand in rel.operands if isinstance(operand, Num)]
    holds = all(_COMPARE[op](a, b) for op, a, b in zip(rel.ops, values, values[1:]))
    return _number(rel.col, int(holds))


# --- text ------------------------------------------------------------------------------------

#: Precedence of each construct in the text syntax (higher binds tighter).
_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 6


class _Emitter:
    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0
        #: (start, end, column): text[start:end] was written for the construct at ``column``
        self.spans: list[tuple[int, int, int]] = []

    def write(self, text: str) -> None:
        self.pieces.append(text)
        self.length += len(text)

    def node(self, node: Node, context: int = 0) -> None:
        start = self.length
        wrap = _precedence(node) < context
        if wrap:
            self.write("(")
        method = getattr(self, "emit_" + type(node).__name__, None)
        if method is None:
            # a construct of the builder that has no text: \dots, \infty, a list of values
            raise ParseError(getattr(node, "refusal", "this part of the formula cannot be "
                                                      "written as an expression"), node.col)
        method(node)
        if wrap:
            self.write(")")
        self.spans.append((start, self.length, node.col))

    def join(self, nodes: list[Node], separator: str = ", ", context: int = 0) -> None:
        for index, item in enumerate(nodes):
            if index:
                self.write(separator)
            self.node(item, context)

    def emit_Num(self, node: Num) -> None:
        self.write(node.text)

    def emit_Const(self, node: Const) -> None:
        self.write(node.name)

    def emit_Sym(self, node: Sym) -> None:
        self.write(sym_name(node))

    def emit_Call(self, node: Call) -> None:
        self.write(node.func + "(")
        self.join(node.args)
        self.write(")")

    def emit_ModelCall(self, node: ModelCall) -> None:
        self.write(model_name(node.sym) + "(")
        self.join(node.args)
        self.write(")")

    def emit_Add(self, node: Add) -> None:
        for index, (sign, term) in enumerate(node.terms):
            if index == 0:
                if sign < 0:
                    self.write("-")
                # -a*b is (-a)*b, the same number as -(a*b): no parentheses needed
                self.node(term, _MUL if sign < 0 else _ADD)
            else:
                self.write(" - " if sign < 0 else " + ")
                self.node(term, _MUL if sign < 0 else _ADD)

    def emit_Mul(self, node: Mul) -> None:
        for index, factor in enumerate(node.factors):
            if index:
                self.write("*")
            # a fraction after another factor reads better in parentheses: a*(1/2)*b
            self.node(factor, _NEG if index and _precedence(factor) == _MUL else _MUL)

    def emit_Div(self, node: Div) -> None:
        self.node(node.num, _MUL)
        self.write("/")
        self.node(node.den, _NEG)

    def emit_Pow(self, node: Pow) -> None:
        self.node(node.base, _ATOM)
        self.write("**")
        self.node(node.exp, _POW)

    def emit_Rel(self, node: Rel) -> None:
        self.node(node.operands[0], _ADD)
        for op, operand in zip(node.ops, node.operands[1:]):
            self.write(f" {op} ")
            self.node(operand, _ADD)

    def emit_Logic(self, node: Logic) -> None:
        if node.op == "not":
            self.write("not ")
            self.node(node.args[0], _ATOM)
        else:
            self.join(node.args, f" {node.op} ", _ATOM)

    def emit_Indicator(self, node: Indicator) -> None:
        self.write("(")
        self.node(node.cond)
        self.write(")")

    def emit_Cases(self, node: Cases) -> None:
        self.write("Piecewise(")
        for index, (value, cond) in enumerate(node.rows):
            self.write(", (" if index else "(")
            self.node(value)
            self.write(", ")
            if cond is None:
                self.write("True")
            else:
                self.node(cond)
            self.write(")")
        self.write(")")


def _precedence(node: Node) -> int:
    if isinstance(node, Add):
        single_negative = len(node.terms) == 1 and node.terms[0][0] < 0
        return _NEG if single_negative else _ADD
    if isinstance(node, (Mul, Div)):
        return _MUL
    if isinstance(node, Num):
        return _ATOM if "/" not in node.text else _MUL
    if isinstance(node, Pow):
        return _POW
    if isinstance(node, (Rel, Logic)):
        return 0
    return _ATOM


def emit(node: Node) -> tuple[str, list[tuple[int, int, int]]]:
    """The text of ``node`` and, for each construct, the span of text written for it."""
    emitter = _Emitter()
    emitter.node(node)
    return "".join(emitter.pieces), emitter.spans


def column_at(spans: list[tuple[int, int, int]], text_column: int) -> int:
    """The LaTeX column behind a 1-based column of the emitted text: the smallest span there."""
    index = text_column - 1
    best: tuple[int, int] | None = None  # (length, column)
    for start, end, column in spans:
        inside = start <= index < max(end, start + 1)
        if inside and (best is None or end - start < best[0]):
            best = (end - start, column)
    if best is None:  # past the end: the construct that ends last
        return max(spans, key=lambda span: (span[1], -span[0]))[2] if spans else 1
    return best[1]


# --- index expansion -------------------------------------------------------------------------


@dataclass
class Expansion:
    """The formula with every sum, product, max and min over an index written out."""

    node: Node
    assumptions: list[str] = field(default_factory=list)
    #: ``values`` keys used as the number of terms of a sum
    consumed: set[str] = field(default_factory=set)


def expand(node: Node, declared: set[str], values: dict) -> Expansion:
    """Write out sums and norms (see :class:`_IndexExpander` and :func:`vector_components`).

    ``declared`` are names the left-hand side gives as subscripts (``\\ell_{i,j}``): fixed
    labels, not indices to sum over. ``values`` may fix the number of terms (``N``).
    """
    expander = _IndexExpander(declared, values)
    expanded = expander.run(node)
    vectors = _VectorExpander(values)
    expanded = vectors.run(expanded)
    expanded = transform(expanded, _tidy)
    if count_nodes(expanded) > MAX_EXPANDED_NODES:
        raise ParseError(f"the formula expands to more than {MAX_EXPANDED_NODES} terms",
                         node.col, "limit")
    return Expansion(expanded, expander.assumptions + vectors.assumptions, expander.consumed)


class _IndexExpander:
    """Sums over an index become their terms for a few index values.

    - An index runs over its bounds; a bound that is a name (``N``, ``C``, ``2N``,
      ``n_samples - 1``) takes the value ``INDEX_VALUES`` (or its ``--set`` value), everywhere
      in the formula, so ``\\frac{1}{N}\\sum_{i=1}^N`` is a mean of three terms. Without
      bounds an index runs over 1, 2, 3.
    - A *label* is a free name that stands where an index stands (``x_{n,y_n}`` next to
      ``x_{n,c}``) or is compared with one (``\\sum_{j \\neq y_i}``): it is a class, read as
      the first value of that index (labels of one index are read as distinct values).
    """

    def __init__(self, declared: set[str], values: dict) -> None:
        self.declared = declared
        self.values = values
        self.assumptions: list[str] = []
        self.consumed: set[str] = set()
        self.sizes: dict[str, int] = {}
        #: (column, kind) of a sum -> the names in its bounds
        self.size_names: dict[tuple[int, str], list[str]] = {}
        self.labels: dict[str, int] = {}

    def run(self, node: Node) -> Node:
        self.pair_indices(node, [])
        self.check_indices(node)
        self.find_sizes(node)
        node = self.replace_sizes(node)
        self.find_labels(node)
        expanded = self.expand(node, {})
        return expanded

    # --- what the indices are -----------------------------------------------------------

    def pair_indices(self, node: Node, bound: list[str]) -> None:
        """``\\sum_{i \\neq j}``: a bare letter compared with the index, bound nowhere and not
        declared by the left-hand side, is a second index (all pairs i != j)."""
        if isinstance(node, BigOp):
            for cond in node.spec.conditions:
                if isinstance(cond, Rel):
                    for operand in cond.operands[1:]:
                        key = index_key(operand)
                        if key is not None and len(key.split("_")[0]) == 1 and \
                                key not in bound and key not in self.declared and \
                                key not in node.spec.indices:
                            node.spec.indices.append(key)
            bound = bound + node.spec.indices
        for child in node.children():
            self.pair_indices(child, bound)

    def check_indices(self, node: Node) -> None:
        """An index must index something: ``\\min_{w}`` over a parameter is an objective."""
        for op in (n for n in walk(node) if isinstance(n, BigOp)):
            for index in op.spec.indices:
                if not indexes_something(op.body, index) and \
                        not any(_mentions(cond, index) for cond in op.spec.conditions):
                    raise ParseError(
                        f"{index} is not used as an index in the {op.kind} (as in x_{index}): "
                        f"a {op.kind} over {index} is not a loss diffcheck can write out",
                        op.col)

    def find_sizes(self, node: Node) -> None:
        """Names in the bounds of sums (``N``, ``C``) stand for a number of terms.

        A name given with ``--set`` takes that value; any other takes the smallest value that
        gives each sum whose bounds use it ``INDEX_VALUES`` terms or more: ``N`` is 3 in
        ``\\sum_{i=1}^{N}`` and in ``\\sum_{i=0}^{N-1}``, and 2 in ``\\sum_{k=1}^{2N}``.
        """
        ops = [n for n in walk(node) if isinstance(n, BigOp)]
        for op in ops:
            for bound in (op.spec.lower, op.spec.upper):
                for sym in _value_syms(bound) if bound is not None else ():
                    name = sym_name(sym, reserved_ok=True)
                    self.size_names.setdefault((op.col, op.kind), []).append(name)
                    if name in self.values:
                        self.sizes[name] = self.given_size(name, sym.col)
        for key in self.size_names.values():
            for name in key:
                if name not in self.sizes:
                    self.sizes[name] = self.smallest_size(name, ops)

    def given_size(self, name: str, col: int) -> int:
        value = self.values[name]
        if not (isinstance(value, (int, float)) and float(value).is_integer() and
                1 <= value <= MAX_TERMS):
            raise ParseError(f"--set {name}=...: the number of terms of a sum must be a "
                             f"whole number from 1 to {MAX_TERMS}", col)
        self.consumed.add(name)
        return int(value)

    def smallest_size(self, name: str, ops: list[BigOp]) -> int:
        using = [op for op in ops if name in self.size_names.get((op.col, op.kind), [])]
        for value in range(1, MAX_TERMS + 1):
            trial = {**{other: INDEX_VALUES for other in self.size_names_all()}, **self.sizes,
                     name: value}
            counts = []
            for op in using:
                bounds = [substitute(b, trial) if b is not None else None
                          for b in (op.spec.lower, op.spec.upper)]
                if not all(b is None or isinstance(b, Num) for b in bounds):
                    raise ParseError("a bound of a sum must be a whole number or a name such "
                                     "as N", op.col)
                lower = bounds[0].value if isinstance(bounds[0], Num) else 1
                upper = bounds[1].value if isinstance(bounds[1], Num) else \
                    lower + INDEX_VALUES - 1
                counts.append(upper - lower + 1)
            if all(count >= INDEX_VALUES for count in counts):
                return value
        return INDEX_VALUES

    def size_names_all(self) -> set[str]:
        return {name for names in self.size_names.values() for name in names}

    def replace_sizes(self, node: Node) -> Node:
        """Every use of a bound name (``N`` in ``\\frac{1}{N}``) becomes its value."""
        if isinstance(node, Sym):
            name = sym_name(node, reserved_ok=True)
            if name in self.sizes:
                return _number(node.col, self.sizes[name])
        return node.map(self.replace_sizes)

    def find_labels(self, node: Node) -> None:
        slots: dict[tuple[str, int], list[int]] = {}  # (name, position) -> index values
        candidates: list[tuple[tuple[str, int], Sym]] = []
        compared: list[tuple[Sym, list[int]]] = []

        def visit(current: Node, ranges: dict[str, list[int]]) -> None:
            if isinstance(current, BigOp):
                inner = dict(ranges)
                for index in current.spec.indices:
                    inner[index] = self.index_range(current, {})
                for cond in current.spec.conditions:
                    collect_comparison(cond, inner)
                for child in current.children():
                    visit(child, inner)
                return
            if isinstance(current, Indicator):
                collect_comparison(current.cond, ranges)
            if isinstance(current, Sym) and current.subs:
                items = _sub_items(current, ranges)
                # a family of names: one base with as many subscripts (h^{(g)} and h_k^{(o)}
                # are two families, x_{n,y_n} and x_{n,c} one)
                key = f"{_base_key(current)}/{len(items)}"
                for position, item in enumerate(items):
                    item_index = index_key(item)
                    if item_index is not None and item_index in ranges:
                        slots.setdefault((key, position), ranges[item_index])
                    elif isinstance(item, Sym) and (len(item.base) == 1 or item.subs):
                        # i in z_i, y_i in x_{n,y_i}; a word (k_{pos}, k_+) names a variable
                        candidates.append(((key, position), item))
            for child in current.children():
                visit(child, ranges)

        def collect_comparison(cond: Node, ranges: dict[str, list[int]]) -> None:
            for rel in (n for n in walk(cond) if isinstance(n, Rel)):
                operands = rel.operands
                for a, b in itertools.pairwise(operands):
                    for index_side, other in ((a, b), (b, a)):
                        side_index = index_key(index_side)
                        if side_index is not None and side_index in ranges and \
                                isinstance(other, Sym) and index_key(other) not in ranges:
                            compared.append((other, ranges[side_index]))

        visit(node, {})
        found: list[tuple[Sym, list[int]]] = []
        for slot, sym in candidates:
            if slot in slots:
                found.append((sym, slots[slot]))
            elif sym.subs:
                # w_{y_n}: a name with its own index, written as an index, picks one
                found.append((sym, list(range(1, INDEX_VALUES + 1))))
        found.extend(compared)
        taken: dict[tuple[int, ...], int] = {}
        for sym, values in found:
            name = sym_name(sym, reserved_ok=True)
            if name in self.labels:
                continue
            position = taken.get(tuple(values), 0)
            taken[tuple(values)] = position + 1
            self.labels[name] = values[position % len(values)]
        self.labels_compared_with_labels(node)
        for name, value in self.labels.items():
            self.assumptions.append(f"{name} = {value}: a label that picks an index is read "
                                    "as one fixed value of that index")
        self.check_label_uses(node)

    def labels_compared_with_labels(self, node: Node) -> None:
        """``y_n \\neq \\text{ignore\\_index}``: a name compared with a label is an index
        value too, and a different one (the generic case: the label is not ignored)."""
        changed = True
        while changed:
            changed = False
            for rel in (n for n in walk(node) if isinstance(n, Rel)):
                if any(op not in ("==", "!=") for op in rel.ops):
                    continue
                names = [sym_name(o, reserved_ok=True) if isinstance(o, Sym) else None
                         for o in rel.operands]
                known = [name for name in names if name in self.labels]
                for operand, name in zip(rel.operands, names):
                    if known and name is not None and name not in self.labels and \
                            isinstance(operand, Sym) and not operand.subs and \
                            len(operand.base) > 1:
                        taken = set(self.labels.values())
                        value = next(v for v in range(1, len(taken) + 2) if v not in taken)
                        self.labels[name] = value
                        changed = True

    def check_label_uses(self, node: Node) -> None:
        """A label is an index value; used as a number it would be a different variable."""
        subscript_items = {id(item) for n in walk(node) if isinstance(n, Sym)
                           for item in walk_subs(n)}
        comparison_operands = {id(op) for n in walk(node) if isinstance(n, Rel)
                               for op in n.operands}
        for current in walk(node):
            if isinstance(current, Sym) and id(current) not in subscript_items and \
                    id(current) not in comparison_operands:
                name = sym_name(current, reserved_ok=True)
                if name in self.labels:
                    raise ParseError(f"{name} picks an index (as in x_{{{name}}}) and is also "
                                     "used as a number; diffcheck cannot read both",
                                     current.col)

    def index_range(self, op: BigOp, env: dict[str, int]) -> list[int]:
        spec = op.spec
        lower = 1
        if spec.lower is not None:
            lower = self.integer(spec.lower, env, op)
        if spec.upper is not None:
            upper = self.integer(spec.upper, env, op)
        else:
            upper = lower + INDEX_VALUES - 1
        count = upper - lower + 1
        if count > MAX_TERMS:
            raise ParseError(f"the {op.kind} has {count} terms (limit {MAX_TERMS})", op.col,
                             "limit")
        return list(range(lower, upper + 1))

    def integer(self, bound: Node, env: dict[str, int], op: BigOp) -> int:
        value = substitute(bound, {**env, **self.labels})
        if not isinstance(value, Num) or value.value.denominator != 1:
            raise ParseError("a bound of a sum must be a whole number or a name such as N",
                             bound.col)
        return int(value.value)

    # --- writing out --------------------------------------------------------------------

    def expand(self, node: Node, env: dict[str, int]) -> Node:
        if isinstance(node, BigOp):
            return self.expand_op(node, env)
        if isinstance(node, Sym):
            return self.expand_sym(node, env)
        expanded = node.map(lambda child: self.expand(child, env))
        if isinstance(expanded, Rel):
            folded = _fold_comparison(expanded)
            return folded if folded is not None else expanded
        if isinstance(expanded, Indicator) and isinstance(expanded.cond, Num):
            return expanded.cond
        if isinstance(expanded, Logic) and all(isinstance(a, Num) for a in expanded.args):
            truths = [a.value != 0 for a in expanded.args if isinstance(a, Num)]
            value = all(truths) if expanded.op == "and" else any(truths) if \
                expanded.op == "or" else not truths[0]
            return _number(expanded.col, int(value))
        return expanded

    def expand_sym(self, sym: Sym, env: dict[str, int]) -> Node:
        if sym_name(sym, reserved_ok=True) in self.labels:
            return _number(sym.col, self.labels[sym_name(sym, reserved_ok=True)])
        key = index_key(sym)
        if key is not None and key in env:
            return _number(sym.col, env[key])  # an index used as a number: k x_k
        items: list[Node] = []
        for item in _sub_items(sym, env):
            if isinstance(item, Sym):
                key = sym_name(item, reserved_ok=True)
                if key in self.labels:
                    items.append(_number(item.col, self.labels[key]))
                    continue
                items.append(self.expand(item, env))
            elif isinstance(item, Run):
                items.append(item)
            else:
                expanded = self.expand(item, env)
                if env and not isinstance(expanded, (Num, Sym)) and _mentions_any(item, env):
                    value = substitute(expanded, env)
                    if not isinstance(value, Num):
                        raise ParseError("this subscript depends on an index in a way "
                                         "diffcheck cannot write out", item.col)
                    expanded = value
                items.append(expanded)
        return replace(sym, subs=tuple(items))

    def expand_op(self, op: BigOp, env: dict[str, int]) -> Node:
        ranges = []
        inner_env = dict(env)
        for index in op.spec.indices:
            ranges.append((index, self.index_range(op, inner_env)))
        combos: list[dict[str, int]] = [{}]
        for index, values in ranges:
            combos = [{**combo, index: value} for combo in combos for value in values]
        if len(combos) > MAX_TERMS * MAX_TERMS:
            raise ParseError(f"the {op.kind} has {len(combos)} terms", op.col, "limit")
        terms = []
        used_values: list[dict[str, int]] = []
        for combo in combos:
            scope = {**env, **combo}
            if all(self.condition_holds(cond, scope, op) for cond in op.spec.conditions):
                terms.append(self.expand(op.body, scope))
                used_values.append(combo)
        self.describe(op, used_values)
        if not terms:
            if op.kind in ("max", "min"):
                raise ParseError(f"the {op.kind} has no terms", op.col)
            return _number(op.col, 0 if op.kind == "sum" else 1)
        if len(terms) == 1:
            return terms[0]
        if op.kind == "sum":
            return Add(op.col, [(1, term) for term in terms])
        if op.kind == "prod":
            return Mul(op.col, terms)
        return Call(op.col, op.kind, terms)

    def condition_holds(self, cond: Node, env: dict[str, int], op: BigOp) -> bool:
        value = self.expand(cond, env)
        if not isinstance(value, Num):
            raise ParseError(f"the condition of the {op.kind} must compare indices and labels",
                             cond.col)
        return value.value != 0

    def describe(self, op: BigOp, used: list[dict[str, int]]) -> None:
        names = ", ".join(op.spec.indices)
        if len(op.spec.indices) == 1:
            shown = ", ".join(str(combo[op.spec.indices[0]]) for combo in used)
        else:
            shown = ", ".join("(" + ", ".join(str(combo[i]) for i in op.spec.indices) + ")"
                              for combo in used)
        sizes = [f"{name} = {self.sizes[name]}"
                 for name in dict.fromkeys(self.size_names.get((op.col, op.kind), []))
                 if name not in self.consumed]
        prefix = (", ".join(sizes) + ": ") if sizes else ""
        word = {"sum": "sum", "prod": "product", "max": "max", "min": "min"}[op.kind]
        text = f"{prefix}the {word} over {names} is written out for {names} = {shown}"
        if text not in self.assumptions:
            self.assumptions.append(text)


def _value_syms(node: Node) -> Iterator[Sym]:
    """The variables of ``node``, not counting names inside their subscripts."""
    if isinstance(node, Sym):
        yield node
        return
    for child in node.children():
        yield from _value_syms(child)


def _tidy(node: Node) -> Node | None:
    """Drop what expansion left behind: factors 1 (an indicator that holds), terms 0."""
    if isinstance(node, Mul):
        if any(isinstance(f, Num) and f.value == 0 for f in node.factors):
            return _number(node.col, 0)
        factors = [f for f in node.factors if not (isinstance(f, Num) and f.value == 1)]
        if len(factors) == len(node.factors):
            return None
        if not factors:
            return _number(node.col, 1)
        return factors[0] if len(factors) == 1 else replace(node, factors=factors)
    if isinstance(node, Add):
        terms = []
        for sign, term in node.terms:
            if isinstance(term, Add) and sign > 0:  # a + (b - c) is a + b - c
                terms.extend(term.terms)
            else:
                terms.append((sign, term))
        terms = [(sign, t) for sign, t in terms if not (isinstance(t, Num) and t.value == 0)]
        if len(terms) == len(node.terms):
            return None
        if not terms:
            return _number(node.col, 0)
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        return replace(node, terms=terms)
    return None


def walk_subs(sym: Sym) -> Iterator[Node]:
    for item in sym.subs:
        yield from walk(item)


def _base_key(sym: Sym) -> str:
    return "_".join([sym.base, *sym.accents, *(["prime"] * sym.primes)])


def _sub_items(sym: Sym, scope) -> list[Node]:
    """Subscript items, with a run split when it holds an index: ``x_{ij}`` is ``x_{i,j}``."""
    items: list[Node] = []
    for item in sym.subs:
        if isinstance(item, Run) and any(
                index_key(part) in scope or
                (isinstance(part, Sym) and part.subs) for part in item.items):
            items.extend(item.items)
        else:
            items.append(item)
    return items


def indexes_something(node: Node, index: str) -> bool:
    """Is ``index`` used as an index in ``node``: in a subscript (``x_i``) or an indicator?"""
    for current in walk(node):
        if isinstance(current, Sym):
            for item in _sub_items(current, {index: 0}):
                if _mentions(item, index):
                    return True
        if isinstance(current, Indicator) and _mentions(current.cond, index):
            return True
    return False


def _mentions(node: Node, name: str) -> bool:
    return any(index_key(n) == name for n in walk(node))


def _mentions_any(node: Node, names) -> bool:
    return any(index_key(n) in names for n in walk(node))


# --- vectors ---------------------------------------------------------------------------------

#: Functions applied to a vector act on each component.
_ELEMENTWISE = frozenset(["abs", "exp", "log", "sqrt", "sigmoid", "tanh", "sinh", "cosh", "sin",
                          "cos", "softplus", "relu", "sign", "floor", "ceil"])


class _VectorExpander:
    """Norms and inner products of vectors with ``VECTOR_COMPONENTS`` components each.

    Every name inside ``\\|...\\|`` or ``\\langle ... \\rangle`` is a vector (``x`` has
    components ``x_1``, ``x_2``); a model function there is a vector-valued one (``F_1``,
    ``F_2``); numbers are scalars. A product of two names inside a norm is refused (a matrix
    product or a scaling?), and so is a vector used as a number elsewhere.
    """

    def __init__(self, values: dict) -> None:
        self.values = values
        self.assumptions: list[str] = []
        self.vector_names: dict[str, int] = {}

    def run(self, node: Node) -> Node:
        if not any(isinstance(n, (Norm, Inner)) for n in walk(node)):
            return node
        self.vector_keys = _vector_keys(node)
        node = transform(node, self.dot_product)
        expanded = self.top_down(node)
        self.check_scalar_uses(node)
        self.assumptions.append(
            f"vectors in norms and inner products are written out with {VECTOR_COMPONENTS} "
            f"components: {', '.join(sorted(self.vector_names))}")
        return expanded

    def visit(self, node: Node) -> Node | None:
        if isinstance(node, Pow) and isinstance(node.base, Norm) and node.base.order == 2 and \
                isinstance(node.exp, Num) and node.exp.value == 2:
            # \|v\|_2^2: the sum of squares, without a square root in between
            components = [self.component(node.base.body, k) for k in self.indices()]
            return Add(node.col, [(1, Pow(node.col, c, _number(node.col, 2)))
                                  for c in components])
        if isinstance(node, Norm):
            components = [self.component(node.body, k) for k in self.indices()]
            return self.norm(node, components)
        if isinstance(node, Inner):
            products: list[Node] = [
                Mul(node.col, [self.component(node.left, k), self.component(node.right, k)])
                for k in self.indices()]
            return Add(node.col, [(1, p) for p in products])
        return None

    def dot_product(self, node: Node) -> Node | None:
        """``a \\cdot b`` of two vectors (names in a norm elsewhere) is their inner product:
        the cosine similarity ``\\frac{a \\cdot b}{\\|a\\| \\|b\\|}``."""
        if isinstance(node, Mul) and node.dot and len(node.factors) == 2 and \
                all(self.is_vector(f) for f in node.factors):
            return Inner(node.col, node.factors[0], node.factors[1])
        return None

    def is_vector(self, node: Node) -> bool:
        """Does ``node`` hold a vector outside a norm (a norm is a number)?"""
        if isinstance(node, (Norm, Inner, ModelCall)):
            return False
        if isinstance(node, Sym):
            return sym_name(node, reserved_ok=True) in self.vector_keys
        return any(self.is_vector(child) for child in node.children())

    def top_down(self, node: Node) -> Node:
        replacement = self.visit(node)
        if replacement is not None:
            return replacement
        return node.map(self.top_down)

    @staticmethod
    def indices() -> range:
        return range(1, VECTOR_COMPONENTS + 1)

    def norm(self, node: Norm, components: list[Node]) -> Node:
        order = node.order
        if isinstance(order, str) and order.startswith("symbol:"):
            name = order.split(":", 1)[1]
            value = self.values.get(name)
            if not isinstance(value, (int, float)) or value < 1:
                raise ParseError(f"the order {name} of the norm is not known: give it with "
                                 f"--set {name}=2 (for example)", node.col)
            order = Fraction(value).limit_denominator(1000)
        col = node.col
        if order == "inf":
            return Call(col, "max", [Call(col, "abs", [c]) for c in components])
        assert isinstance(order, Fraction)
        if order == 1:
            return Add(col, [(1, Call(col, "abs", [c])) for c in components])
        if order == 2:
            return Call(col, "sqrt", [Add(col, [(1, Pow(col, c, _number(col, 2)))
                                                for c in components])])
        power = Num(col, _fraction_text(order), order)
        even = order.denominator == 1 and order.numerator % 2 == 0
        terms: list[tuple[int, Node]] = [
            (1, Pow(col, c if even else Call(col, "abs", [c]), power)) for c in components]
        return Pow(col, Add(col, terms), Num(col, _fraction_text(1 / order), 1 / order))

    def component(self, node: Node, k: int) -> Node:
        """Component ``k`` of a vector expression."""
        if isinstance(node, Sym):
            key = sym_name(node, reserved_ok=True)
            self.vector_names.setdefault(key, node.col)
            return replace(node, subs=node.subs + (_number(node.col, k),))
        if isinstance(node, (Num, Const)):
            return node
        if isinstance(node, ModelCall):
            self.vector_names.setdefault(model_name(node.sym) + "(...)", node.col)
            sym = replace(node.sym, subs=node.sym.subs + (_number(node.col, k),))
            return replace(node, sym=sym)
        if isinstance(node, Add):
            return replace(node, terms=[(sign, self.component(t, k)) for sign, t in node.terms])
        if isinstance(node, Mul):
            vectors = [f for f in node.factors if not _is_scalar_constant(f)]
            if len(vectors) > 1:
                raise ParseError("a product of two names inside a norm: diffcheck cannot tell "
                                 "a scaling from a matrix product", node.col)
            return replace(node, factors=[f if _is_scalar_constant(f) else self.component(f, k)
                                          for f in node.factors])
        if isinstance(node, Div) and _is_scalar_constant(node.den):
            return replace(node, num=self.component(node.num, k))
        if isinstance(node, Call) and node.func in _ELEMENTWISE and len(node.args) == 1:
            return replace(node, args=[self.component(node.args[0], k)])
        if isinstance(node, Pow) and _is_scalar_constant(node.exp):
            return replace(node, base=self.component(node.base, k))
        raise ParseError("diffcheck cannot write out this expression component by component",
                         node.col)

    def check_scalar_uses(self, node: Node) -> None:
        """A vector (a name inside a norm) must not also be used as a number."""
        inside: set[int] = set()
        for current in walk(node):
            if isinstance(current, (Norm, Inner)):
                inside.update(id(n) for n in walk(current))
        model_args: set[int] = set()
        for current in walk(node):
            if isinstance(current, (ModelCall,)):
                for arg in current.args:
                    model_args.update(id(n) for n in walk(arg))
        subscript_items = {id(item) for n in walk(node) if isinstance(n, Sym)
                           for item in walk_subs(n)}
        for current in walk(node):
            if isinstance(current, Sym) and id(current) not in inside and \
                    id(current) not in subscript_items:
                key = sym_name(current, reserved_ok=True)
                if key in self.vector_names and id(current) not in model_args:
                    raise ParseError(f"{key} is a vector (in a norm or an inner product) and "
                                     "is also used as a number", current.col)


def _vector_keys(node: Node) -> set[str]:
    """Names written inside a norm or an inner product (not as model-function arguments)."""
    keys: set[str] = set()

    def visit(current: Node, inside: bool) -> None:
        if isinstance(current, ModelCall):
            return  # its arguments are whole values, not components
        if isinstance(current, (Norm, Inner)):
            inside = True
        if inside and isinstance(current, Sym):
            keys.add(sym_name(current, reserved_ok=True))
            return
        for child in current.children():
            visit(child, inside)

    visit(node, False)
    return keys


def _is_scalar_constant(node: Node) -> bool:
    return all(isinstance(n, (Num, Const, Add, Mul, Div, Pow)) for n in walk(node)) and \
        any(isinstance(n, (Num, Const)) for n in walk(node))


def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else \
        f"{value.numerator}/{value.denominator}"
