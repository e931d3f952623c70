"""The meaning of a LaTeX formula as a small tree, and that tree written as diffcheck's text.

:mod:`diffcheck.readers.latex` builds these nodes from the parse tree;
:mod:`diffcheck.readers.latex_expand` writes out their sums and norms; :func:`emit` writes
the result in the text syntax, with the LaTeX column of the construct behind every piece of
text, so that an error or a finding in the text points at the LaTeX input.

>>> x, y = Sym(1, "x"), Sym(5, "y", accents=("hat",))
>>> text, spans = emit(Call(1, "abs", [Add(1, [(1, x), (-1, y)])]))
>>> text
'abs(x - y_hat)'
>>> column_at(spans, text.index("y_hat") + 1)
5
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass, replace
from fractions import Fraction

from diffcheck.functions import CONSTANTS, VOCABULARY
from diffcheck.parser import ParseError

# --- nodes -----------------------------------------------------------------------------------


@dataclass
class Node:
    """A construct of the formula; ``col`` is its 1-based column in the LaTeX input."""

    col: int

    def children(self) -> list[Node]:
        """The nodes in this node's fields (in lists, tuples and an IndexSpec too), in order."""
        found: list[Node] = []
        for value in _field_values(self):
            _collect(value, found)
        return found

    def map(self, function: Callable[[Node], Node]) -> Node:
        """A copy with ``function`` applied to each child."""
        changes = {f.name: _mapped(getattr(self, f.name), function) for f in fields(self)
                   if f.name != "col"}
        return replace(self, **changes)


def _field_values(instance) -> list:
    return [getattr(instance, f.name) for f in fields(instance) if f.name != "col"]


def _collect(value, found: list[Node]) -> None:
    if isinstance(value, Node):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, found)
    elif is_dataclass(value) and not isinstance(value, type):
        for item in _field_values(value):
            _collect(item, found)


def _mapped(value, function: Callable[[Node], Node]):
    if isinstance(value, Node):
        return function(value)
    if isinstance(value, list):
        return [_mapped(item, function) for item in value]
    if isinstance(value, tuple):
        return tuple(_mapped(item, function) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _mapped(getattr(value, f.name), function)
                                 for f in fields(value)})
    return value


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


@dataclass
class Run(Node):
    """Subscript items written together without a separator: ``ij`` in ``x_{ij}``."""

    items: list[Node]


@dataclass
class Call(Node):
    """A function of diffcheck's vocabulary (``abs``, ``log``, ``max``, ``sigmoid``...)."""

    func: str
    args: list[Node]


@dataclass
class ModelCall(Node):
    """A function the formula names but does not define (``f(x_i)``): a model function."""

    sym: Sym
    args: list[Node]


@dataclass
class Add(Node):
    terms: list[tuple[int, Node]]  # (+1 or -1, term)


@dataclass
class Mul(Node):
    factors: list[Node]
    #: ``a \\cdot b``: two factors joined by a dot, a dot product when both are vectors
    dot: bool = False


@dataclass
class Div(Node):
    num: Node
    den: Node


@dataclass
class Pow(Node):
    base: Node
    exp: Node


@dataclass
class Rel(Node):
    """A chain of comparisons ``a < b <= c`` (operators in Python syntax)."""

    ops: list[str]
    operands: list[Node]


@dataclass
class Logic(Node):
    op: str  # "and", "or", "not"
    args: list[Node]


@dataclass
class Indicator(Node):
    """1 where the condition holds, 0 elsewhere."""

    cond: Node


@dataclass
class Cases(Node):
    """A piecewise definition: rows of (value, condition); ``None`` is "otherwise"."""

    rows: list[tuple[Node, Node | None]]


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


@dataclass
class Norm(Node):
    """``\\|v\\|_p``: ``order`` is the number p (2 when not written; ``inf`` for max)."""

    body: Node
    order: Fraction | str = Fraction(2)


@dataclass
class Inner(Node):
    """``\\langle a, b \\rangle`` or ``a^\\top b``: the sum of products of components."""

    left: Node
    right: Node


@dataclass
class Seq(Node):
    """``\\{l_1, \\dots, l_N\\}``: the elements of a vector, a loss only through the
    definition of its element (``l_n = ...``)."""

    refusal = "a list of values is not a loss (define its elements, as in l_n = ...)"

    items: list[Node]


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
