"""The loss as written: a small tree of operations with the source span of each one.

SymPy simplifies as it builds (``sqrt(x)**2`` is ``x``, ``(x**2)**0.5`` is ``Abs(x)``), which is
right for the mathematics and wrong for the question "what does autodiff compute?": the
program ``sqrt(x)**2`` has a NaN gradient at 0 and the program ``x`` has none. Every reader
(expressions, Python source, LaTeX) can therefore also give the tree of operations exactly
as written, a :class:`Node`, and the autodiff model (and anything else that cares about the
program rather than the function) works on it.

>>> x = Node("var", value="x")
>>> tree = Node("pow", (Node("sqrt", (x,), written="sqrt"), Node("const", value=2)))
>>> tree.op, [arg.op for arg in tree.args]
('pow', ['sqrt', 'const'])
>>> sorted(tree.variables())
['x']

Operations (``op``):

- ``"var"`` (``value`` is the name) and ``"const"`` (``value`` is an ``int``, a
  ``fractions.Fraction`` holding the exact decimal written, a ``bool`` in conditions, or a
  ``float`` for a named constant such as ``pi``);
- operators: ``add sub mul div pow neg mod floordiv``, comparisons ``lt le gt ge eq ne``,
  logic ``and or not``, and ``where`` for ``a if cond else b`` and masks (args: condition,
  value where true, value where false);
- any other ``op`` is the name of a function of the vocabulary as the user called it, module
  prefix removed (``torch.clamp`` has ``op == "clamp"`` and ``written == "torch.clamp"``);
  its positional arguments are ``args``, its keyword arguments ``keywords``, keyed by the
  parameter they set;
- ``"model"``: a model function diffcheck cannot see into (``value`` is its name).

:func:`from_expression` reads an expression the parser accepted into this tree.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from diffcheck.functions import CONSTANTS, MODULE_CONSTANTS, VOCABULARY
from diffcheck.parser import MODULE_PREFIXES, _Source


@dataclass(frozen=True)
class Span:
    """Where a construct is in its source: 1-based lines and character columns, and its text.

    For an expression on the command line ``line`` is 1 and the columns count characters of
    the expression; for a file they are the file's own lines and columns.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    text: str = ""


@dataclass(frozen=True, eq=False)
class Node:
    """One operation of the program as written; see the module docstring for ``op``."""

    op: str
    args: tuple[Node, ...] = ()
    value: Any = None
    #: keyword arguments of a call: (parameter name, argument), in the order written
    keywords: tuple[tuple[str, Node], ...] = ()
    #: the callee as written (``"F.softplus"``); empty for operators, variables, constants
    written: str = ""
    span: Span | None = None

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, parents first."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed([*node.args, *(arg for _, arg in node.keywords)]))

    def variables(self) -> set[str]:
        """Names of the variables the program reads."""
        return {node.value for node in self.walk() if node.op == "var"}

    def keyword(self, name: str) -> Node | None:
        """The argument given for keyword parameter ``name``, if any."""
        return next((arg for key, arg in self.keywords if key == name), None)


# --- reading an expression ------------------------------------------------------------------

#: Python comparison operator -> op
_COMPARISONS = {"Lt": "lt", "LtE": "le", "Gt": "gt", "GtE": "ge", "Eq": "eq", "NotEq": "ne"}
#: Python arithmetic operator -> op
_OPERATORS = {"Add": "add", "Sub": "sub", "Mult": "mul", "Div": "div", "Pow": "pow",
              "Mod": "mod", "FloorDiv": "floordiv"}


class ProgramError(ValueError):
    """A construct the program reader does not know (the parser should have refused it)."""


def from_expression(text: str, values: Mapping[str, Any] | None = None) -> Node:
    """The program written in ``text``, an expression :func:`diffcheck.parser.parse` accepted.

    Nothing is evaluated: the tree is read off Python's ``ast``. Function names are resolved
    as the parser resolves them (module prefix removed, vocabulary keywords mapped to the
    parameter they set); a variable fixed in ``values`` (``--set delta=0.5``) is a constant.
    A model function ``G(w)`` is ``Node("model", args, value="G")``; ``Piecewise`` becomes
    nested ``where`` nodes, which is how it is run in PyTorch and JAX.

    >>> tree = from_expression("where(x > 0, torch.sqrt(x), 0)")
    >>> tree.op, [arg.op for arg in tree.args], tree.args[1].written
    ('where', ['gt', 'sqrt', 'const'], 'torch.sqrt')
    >>> tree.args[1].span
    Span(line=1, column=14, end_line=1, end_column=26, text='torch.sqrt(x)')
    >>> from_expression("clip(u, a_min=0, a_max=1)").keyword("hi").value
    1
    >>> from_expression("1e-6").value
    Fraction(1, 1000000)
    """
    body = text.lstrip(" \t\f\v\r\n")
    source = _Source(body, len(text) - len(body))
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as err:
        raise ProgramError(f"not an expression: {err.msg}") from None
    return _Reader(source, values or {}).read(tree.body)


class _Reader:
    """Builds :class:`Node` trees from a whitelisted AST, one ``read_<NodeClass>`` per kind."""

    def __init__(self, source: _Source, values: Mapping[str, Any]) -> None:
        self.source = source
        self.values = values

    def span(self, node: Any) -> Span:
        source = self.source
        line = node.lineno
        end_line = node.end_lineno or line
        column = source.column(line, source.char_col(line, node.col_offset))
        end_char = source.char_col(end_line, node.end_col_offset or 0)
        return Span(line, column, end_line, source.column(end_line, end_char) - 1,
                    source.segment(node))

    def read(self, node: ast.AST) -> Node:
        reader = getattr(self, "read_" + type(node).__name__, None)
        if reader is None:
            raise ProgramError(f"unsupported construct: {type(node).__name__}")
        return reader(node)

    def read_Constant(self, node: ast.Constant) -> Node:
        literal = node.value
        value: int | Fraction
        if isinstance(literal, float):  # the decimal as written: 0.1 is exactly 1/10
            value = Fraction(Decimal(self.source.segment(node).replace("_", "")))
        elif isinstance(literal, int):  # bool is an int
            value = literal
        else:
            raise ProgramError(f"unsupported constant {literal!r}")
        return Node("const", value=value, span=self.span(node))

    def read_Name(self, node: ast.Name) -> Node:
        name = node.id
        if name in CONSTANTS:
            return Node("const", value=float(CONSTANTS[name]), span=self.span(node))
        if name in self.values:
            return Node("const", value=_literal(self.values[name]), span=self.span(node))
        return Node("var", value=name, span=self.span(node))

    def read_Attribute(self, node: ast.Attribute) -> Node:
        member = _module_member(node)[1]
        if member not in MODULE_CONSTANTS:
            raise ProgramError(f"unsupported attribute {member!r}")
        return Node("const", value=float(MODULE_CONSTANTS[member]), span=self.span(node))

    def read_UnaryOp(self, node: ast.UnaryOp) -> Node:
        operand = self.read(node.operand)
        operator = type(node.op).__name__
        if operator == "UAdd":
            return operand
        op = {"USub": "neg", "Not": "not"}.get(operator)
        if op is None:
            raise ProgramError(f"unsupported operator {operator}")
        return Node(op, (operand,), span=self.span(node))

    def read_BinOp(self, node: ast.BinOp) -> Node:
        op = _OPERATORS.get(type(node.op).__name__)
        if op is None:
            raise ProgramError(f"unsupported operator {type(node.op).__name__}")
        return Node(op, (self.read(node.left), self.read(node.right)), span=self.span(node))

    def read_Compare(self, node: ast.Compare) -> Node:
        operands = [self.read(node.left), *(self.read(c) for c in node.comparators)]
        links = [
            Node(_COMPARISONS[type(op).__name__], (left, right), span=self.span(node))
            for op, left, right in zip(node.ops, operands, operands[1:])
        ]
        return links[0] if len(links) == 1 else Node("and", tuple(links), span=self.span(node))

    def read_BoolOp(self, node: ast.BoolOp) -> Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        return Node(op, tuple(self.read(v) for v in node.values), span=self.span(node))

    def read_IfExp(self, node: ast.IfExp) -> Node:
        parts = (self.read(node.test), self.read(node.body), self.read(node.orelse))
        return Node("where", parts, span=self.span(node))

    def read_Call(self, node: ast.Call) -> Node:
        func = node.func
        if isinstance(func, ast.Attribute):
            prefix, name = _module_member(func)
            written = prefix + name
        elif isinstance(func, ast.Name):
            name = written = func.id
        else:
            raise ProgramError("only functions called by name are supported")
        span = self.span(node)
        spec = VOCABULARY.get(name)
        if spec is None:
            args = tuple(self.read(arg) for arg in node.args)
            return Node("model", args, value=name, written=written, span=span)
        if name == "Piecewise":
            return self.piecewise(node.args, written, span)
        args = tuple(self.read(arg) for arg in node.args)
        keywords = tuple(
            (spec.keywords[str(k.arg)], self.read(k.value))
            for k in node.keywords
            if k.arg is not None and k.arg in spec.keywords  # others: ignored (dim=, inplace=)
        )
        return Node(name, args, keywords=keywords, written=written, span=span)

    def piecewise(self, pairs: list[ast.expr], written: str, span: Span) -> Node:
        """``Piecewise((a, c1), (b, c2), (d, True))`` as ``where(c1, a, where(c2, b, d))``."""
        result: Node | None = None
        for pair in reversed(pairs):
            if not (isinstance(pair, ast.Tuple) and len(pair.elts) == 2):
                raise ProgramError("Piecewise takes (value, condition) pairs")
            value_node, condition_node = pair.elts
            value = self.read(value_node)
            if result is None:
                always = (isinstance(condition_node, ast.Constant)
                          and condition_node.value is True)
                # no branch applies: SymPy's Piecewise is undefined there
                result = value if always else Node(
                    "where", (self.read(condition_node), value,
                              Node("const", value=float("nan"))), written=written, span=span)
                continue
            result = Node("where", (self.read(condition_node), value, result),
                          written=written, span=self.span(pair))
        if result is None:
            raise ProgramError("Piecewise needs at least one (value, condition) pair")
        return result


def _module_member(node: ast.Attribute) -> tuple[str, str]:
    """``np.exp`` as ``("np.", "exp")``, by the parser's module prefixes (names only)."""
    parts = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        raise ProgramError("unsupported attribute access")
    dotted = ".".join([current.id, *reversed(parts)])
    for prefix in MODULE_PREFIXES:
        member = dotted[len(prefix):]
        if dotted.startswith(prefix) and member.isidentifier():
            return prefix, member
    raise ProgramError(f"unsupported attribute {dotted!r}")


def _literal(value: Any) -> int | Fraction | float:
    """A ``--set`` value as a constant: numbers exact, as the parser reads them."""
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(Decimal(repr(value)))
    if isinstance(value, Fraction):
        return value
    raise ProgramError(f"not a number: {value!r}")
