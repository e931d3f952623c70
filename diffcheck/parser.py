"""Parse a loss expression into SymPy without ever running it.

The text is read by :func:`ast.parse` in ``"eval"`` mode, and a whitelist visitor builds SymPy
objects directly: nothing in the input is evaluated, imported, or looked up with ``getattr``.
Calls are looked up in the primitive registry (:func:`diffcheck.primitives.lookup`); an
unknown capitalized call (``Model(x, w)``) is a model function, an opaque ``sympy.Function``.

>>> parsed = parse("mean(abs(y - f))")
>>> parsed.expr
Abs(f - y)
>>> parsed.variables
('f', 'y')
>>> parse("torch.clamp(u, 0, 6) + (t*s <= 0)").expr
Piecewise((1, s*t <= 0), (0, True)) + Min(6, Max(0, u))
>>> parse("Loss(t, G(w))").model_functions
('G', 'Loss')
>>> parse("sigmod(x)")
Traceback (most recent call last):
    ...
diffcheck.parser.ParseError: unknown function 'sigmod' (did you mean sigmoid?)
>>> parse("2**2**2**2**2**2")
Traceback (most recent call last):
    ...
diffcheck.parser.ParseError: 2**2**2**2**2: the number would have about 19729 digits (limit 4000)
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import re
import time
import tokenize
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.logic.boolalg import Boolean

from diffcheck.primitives import (
    CONSTANTS,
    FUNCTIONS,
    KNOWN_FUNCTIONS,
    MODULE_CONSTANTS,
    MODULE_PREFIXES,
    NON_FINITE_NAMES,
    Function,
    guards,
    split_prefix,
)
from diffcheck.primitives.guards import LoweringError

__all__ = ["KNOWN_FUNCTIONS", "MODULE_PREFIXES", "ParseError", "ParsedExpression", "parse"]

#: Longer inputs are refused before anything else looks at them.
MAX_INPUT_CHARS = 10_000
#: Deepest bracket nesting, and deepest expression nesting, accepted.
MAX_NESTING = 100
#: Most digits in one number literal.
MAX_LITERAL_DIGITS = 100
#: Most nodes in the SymPy tree, counting shared subexpressions each time they occur:
#: ``huber`` uses its argument three times, so nested calls grow the tree geometrically.
MAX_TREE_SIZE = 50_000
#: Building stops after this long. The limits above bound each SymPy operation; this bounds
#: their number (SymPy takes about a millisecond per call of max, huber...).
MAX_BUILD_SECONDS = 1.0

_STATEMENT_KEYWORDS = frozenset({
    "import", "from", "def", "class", "return", "del", "pass", "raise", "global", "nonlocal",
    "assert", "with", "for", "while", "try", "break", "continue", "async", "if", "elif", "else",
})

_UNSUPPORTED = {
    "Lambda": "lambda expressions",
    "ListComp": "list comprehensions",
    "SetComp": "set comprehensions",
    "DictComp": "dict comprehensions",
    "GeneratorExp": "generator expressions",
    "Subscript": "subscripts (x[i])",
    "Slice": "slices",
    "Starred": "starred arguments (*x)",
    "NamedExpr": "assignments (:=)",
    "Await": "await expressions",
    "Yield": "yield expressions",
    "YieldFrom": "yield expressions",
    "List": "lists",
    "Set": "sets",
    "Dict": "dicts",
    "Tuple": "tuples outside Piecewise((value, condition), ...)",
    "JoinedStr": "f-strings",
    "FormattedValue": "f-strings",
}

_BAD_OPERATORS = {
    "BitXor": "'^' is not supported (use ** for powers)",
    "BitAnd": "'&' is not supported (use 'and')",
    "BitOr": "'|' is not supported (use 'or')",
    "Invert": "'~' is not supported (use 'not')",
    "MatMult": "'@' (matrix product) is not supported",
    "LShift": "'<<' is not supported",
    "RShift": "'>>' is not supported",
}

_RELATIONS: dict[str, Callable[..., Boolean]] = {
    "Lt": sp.Lt, "LtE": sp.Le, "Gt": sp.Gt, "GtE": sp.Ge, "Eq": sp.Eq, "NotEq": sp.Ne,
}
_BAD_COMPARISONS = {"Is": "is", "IsNot": "is not", "In": "in", "NotIn": "not in"}

#: Left-associative runs of these are built in one SymPy call (a long sum is one Add).
_RUNS = {"Add": "sum", "Sub": "sum", "Mult": "product", "Div": "product"}

_INFINITE = frozenset({sp.zoo, sp.oo, -sp.oo})

_SURROGATE = re.compile("[\ud800-\udfff]")


#: a syntax-tree node that has a position in the source
_Located = ast.expr | ast.keyword


class ParseError(Exception):
    """The input is not a valid expression of the input language, or exceeds a limit.

    ``kind`` is ``"parse"`` or ``"limit"``, ``message`` is one line, ``column`` is the 1-based
    position in the input where the problem starts; ``str(err)`` is the message.
    """

    def __init__(self, message: str, column: int = 1, kind: str = "parse") -> None:
        super().__init__(message, column, kind)
        self.message = message
        self.column = column
        self.kind = kind

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ParsedExpression:
    """The lowered expression and what the analysis needs to know about the input."""

    source: str
    expr: sp.Expr
    #: Sorted names of every variable written in the input.
    variables: tuple[str, ...]
    #: Sorted names of the model functions (unknown capitalized calls) used.
    model_functions: tuple[str, ...]
    #: Subexpression -> 1-based column of the smallest construct that built it (a call, a
    #: comparison, an operator...); the first occurrence wins.
    spans: dict = field(default_factory=dict, hash=False)
    #: Subexpression -> the input text of that construct (one line, shortened), so that
    #: messages quote what the user wrote: "abs(y - f) has a kink", not "Abs(f - y)".
    snippets: dict = field(default_factory=dict, hash=False)
    #: Sorted names that ``values`` fixed and the input uses.
    fixed: tuple[str, ...] = ()
    #: Subexpression -> :class:`~diffcheck.program.Span` of its construct, for inputs of
    #: several lines (a .py file): line, columns and text.
    locations: dict = field(default_factory=dict, hash=False)


def parse(text: str, values: Mapping[str, sp.Expr] | None = None) -> ParsedExpression:
    """Lower ``text`` to SymPy, or raise :class:`ParseError`. Nothing in ``text`` is run.

    ``values`` fixes variables to numbers (``--set delta=0.5``): each use of the name is
    that number, and the name is no variable of the result.

    >>> parse("huber(r, delta)", {"delta": sp.Rational(1, 2)}).variables
    ('r',)
    """
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(f"input is too long ({len(text)} characters, limit {MAX_INPUT_CHARS})",
                         MAX_INPUT_CHARS + 1, "limit")
    if "\x00" in text:
        raise ParseError("input contains a NUL byte", text.index("\x00") + 1)
    surrogate = _SURROGATE.search(text)
    if surrogate:  # not valid Unicode text: CPython's parser cannot even encode it
        raise ParseError("input contains an invalid character (a lone surrogate)",
                         surrogate.start() + 1)
    # CPython refuses leading indentation in eval mode; the columns keep counting it.
    body = text.lstrip(" \t\f\v\r\n")
    source = _Source(body, len(text) - len(body))
    _prescan(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings would go to stderr
            tree = ast.parse(body, mode="eval")
    except SyntaxError as err:
        raise _syntax_error(err, source) from None
    except (MemoryError, RecursionError):
        raise ParseError("expression is too long or too deeply nested for Python's parser",
                         source.offset + 1, "limit") from None
    lowering = _Lowering(source, values or {})
    try:
        expr = lowering.value(tree.body)
    except (MemoryError, RecursionError):
        raise ParseError("expression is too complex to build", source.offset + 1,
                         "limit") from None
    lowering.check_names()
    return ParsedExpression(
        source=text,
        expr=expr,
        variables=tuple(sorted(lowering.variables)),
        model_functions=tuple(sorted(lowering.model_functions)),
        spans=lowering.spans,
        snippets=lowering.snippets,
        fixed=tuple(sorted(lowering.fixed)),
    )


class _Source:
    """The parsed text and how its positions map to 1-based columns of the input."""

    def __init__(self, body: str, offset: int) -> None:
        self.body = body
        self.offset = offset  # characters stripped before ``body``
        # Python ends lines at \r\n, \r or \n (and so do ast positions and tokenize here).
        breaks = list(re.finditer(r"\r\n|\r|\n", body))
        self.line_starts = [0] + [match.end() for match in breaks]
        ends = [match.start() for match in breaks] + [len(body)]
        self.lines = [body[start:end] for start, end in zip(self.line_starts, ends)]

    def index(self, lineno: int, char_col: int) -> int:
        """Index in ``body`` of a 1-based line and 0-based character column."""
        return self.line_starts[min(lineno, len(self.line_starts)) - 1] + char_col

    def column(self, lineno: int, char_col: int) -> int:
        return self.offset + self.index(lineno, char_col) + 1

    def char_col(self, lineno: int, byte_col: int) -> int:
        """AST columns count UTF-8 bytes; columns count characters."""
        line = self.lines[lineno - 1]
        if line.isascii():
            return byte_col
        return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))

    def node_column(self, node: _Located) -> int:
        return self.column(node.lineno, self.char_col(node.lineno, node.col_offset))

    def node_end(self, node: _Located) -> int:
        """Index in ``body`` just after ``node``."""
        end_line = node.end_lineno or node.lineno
        return self.index(end_line, self.char_col(end_line, node.end_col_offset or 0))

    def segment(self, node: _Located) -> str:
        """The node's source text."""
        start = self.index(node.lineno, self.char_col(node.lineno, node.col_offset))
        return self.body[start:self.node_end(node)]

    def snippet(self, node: _Located, limit: int = 40) -> str:
        """The node's source on one line, shortened for messages."""
        text = " ".join(self.segment(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def operator_column(self, left: _Located, right: _Located) -> int:
        """Column of the operator between two operands (skipping spaces and brackets)."""
        start = self.node_end(left)
        stop = self.index(right.lineno, self.char_col(right.lineno, right.col_offset))
        for index in range(start, stop):
            if self.body[index] not in " \t\f\r\n\\()":
                return self.offset + index + 1
        return self.offset + start + 1


def _prescan(source: _Source) -> None:
    """Lexical checks before ast.parse: emptiness, bracket depth, length of number literals.

    CPython's parser recurses on brackets, and refuses literals of more than 4300 digits with
    its own message; both are checked here first.
    """
    depth = 0
    significant = False
    readline = io.StringIO(source.body, newline=None).readline
    try:
        for token in tokenize.generate_tokens(readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                              tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
                continue
            significant = True
            if token.string in ("(", "[", "{"):
                depth += 1
                if depth > MAX_NESTING:
                    raise ParseError(f"expression is nested more than {MAX_NESTING} brackets deep",
                                     source.column(*token.start), "limit")
            elif token.string in (")", "]", "}"):
                depth -= 1
            elif token.type == tokenize.NUMBER:
                digits = _literal_digits(token.string)
                if digits > MAX_LITERAL_DIGITS:
                    raise ParseError(f"number literal with {digits} digits "
                                     f"(limit {MAX_LITERAL_DIGITS})",
                                     source.column(*token.start), "limit")
    except (tokenize.TokenError, SyntaxError):
        significant = True  # ast.parse reports what is wrong, with a better message
    if not significant:
        raise ParseError("empty expression", 1)


def _literal_digits(literal: str) -> int:
    """Digits of a number literal's significand: ``1_000.5e3`` has 5."""
    literal = literal.lower()
    if literal[:2] in ("0x", "0o", "0b"):
        return sum(char.isalnum() for char in literal[2:])
    significand = literal.split("e")[0]
    return sum(char.isdigit() for char in significand)


def _syntax_error(err: SyntaxError, source: _Source) -> ParseError:
    first_word = re.match(r"[A-Za-z_]+", source.body)
    if first_word and first_word.group() in _STATEMENT_KEYWORDS:
        return ParseError(f"'{first_word.group()}' starts a Python statement, which is not "
                          "allowed (syntax error): write a single expression", source.offset + 1)
    if not err.offset:  # CPython's way of saying: at the end of the input
        end = len(source.body.rstrip())
        return ParseError(f"syntax error: {err.msg} (the expression ends too early)",
                          source.offset + end + 1)
    index = source.index(err.lineno or 1, err.offset - 1)
    column = source.offset + index + 1
    if source.body[index:index + 1] == "=" and source.body[index:index + 2] != "==":
        return ParseError("assignment (=) is not allowed: write a single expression, "
                          "and == to compare", column)
    return ParseError(f"syntax error: {err.msg}", column)


def _suggestion(name: str, prefix: str = "") -> str:
    match = difflib.get_close_matches(name, KNOWN_FUNCTIONS, n=1)
    return f" (did you mean {prefix}{match[0]}?)" if match else ""


def _normalized(name: str) -> str:
    return name.lower().replace("_", "")


#: ``Max``, ``ReLU``, ``LeakyReLU`` -> the vocabulary name they look like.
_LOOKALIKES = {_normalized(name): name for name in FUNCTIONS}


def _is_condition(built: sp.Basic) -> bool:
    """A relational or logical value; a Symbol is also a SymPy Boolean, but a number here."""
    return isinstance(built, Boolean) and not isinstance(built, sp.Expr)


def _is_bool_literal(node: _Located) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


def _is_none(node: _Located) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_plain_literal(node: _Located) -> bool:
    """An integer, boolean or None, or a tuple or list of them (``dim=(0, 1)``)."""
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_plain_literal(element) for element in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, int))


class _Lowering:
    """Builds SymPy from a whitelisted AST.

    Each ``visit_<NodeClass>`` method handles one kind of node; a node class without one is
    refused. Values and conditions are kept apart: :meth:`value` turns a condition into an
    indicator, :meth:`condition` turns a value into ``value != 0``.
    """

    def __init__(self, source: _Source, values: Mapping[str, sp.Expr]) -> None:
        self.source = source
        self.values = values
        self.fixed: set[str] = set()
        self.variables: dict[str, int] = {}  # name -> column of its first use
        self.model_functions: dict[str, int] = {}
        self.spans: dict[sp.Basic, int] = {}
        self.snippets: dict[sp.Basic, str] = {}
        self._depth = 0
        self._deadline = time.monotonic() + MAX_BUILD_SECONDS
        self._tree_sizes: dict[sp.Basic, int] = {}  # every subexpression built so far

    # --- errors and bookkeeping -------------------------------------------------------------

    def error(self, message: str, node: _Located, kind: str = "parse") -> ParseError:
        return ParseError(message, self.source.node_column(node), kind)

    @contextmanager
    def located(self, node: _Located) -> Iterator[None]:
        """Report errors raised while building ``node`` at its position."""
        try:
            yield
        except LoweringError as err:
            raise self.error(f"{self.source.snippet(node)}: {err}", node, err.kind) from None
        except (TypeError, ValueError, ArithmeticError) as err:
            # SymPy refusing an operation, e.g. ordering a non-real number: sqrt(-1) < 1.
            raise self.error(f"cannot evaluate {self.source.snippet(node)}: {err}",
                             node) from None

    def admit(self, built: sp.Basic, node: _Located) -> None:
        """Check a freshly built subexpression and record where its new parts come from.

        Walks only the parts not seen before (arguments were admitted when they were built):
        refuses an undefined or infinite value (``1/0``, ``log(0)``) and a tree that has grown
        past MAX_TREE_SIZE, and maps each new compound part to the column of ``node``.
        """
        sizes = self._tree_sizes
        column = self.source.node_column(node)
        stack = [built]
        while stack:
            current = stack[-1]
            if current in sizes:
                stack.pop()
                continue
            unseen = [arg for arg in current.args if arg not in sizes]
            if unseen:
                stack.extend(unseen)
                continue
            stack.pop()
            if current == sp.nan:
                raise self.error(f"{self.source.snippet(node)} is undefined", node)
            if current in _INFINITE:
                raise self.error(f"{self.source.snippet(node)} is infinite (a division by zero?)",
                                 node)
            sizes[current] = 1 + sum(sizes[arg] for arg in current.args)
            if not current.is_Atom and current not in self.spans:
                self.spans[current] = column
                self.snippets[current] = self.source.snippet(node, limit=60)
        if sizes[built] > MAX_TREE_SIZE:
            raise self.error(f"expression is too large: {self.source.snippet(node)} expands to "
                             f"{sizes[built]} SymPy nodes (limit {MAX_TREE_SIZE})", node, "limit")

    def check_names(self) -> None:
        """A name is either a variable or a model function, not both."""
        both = sorted(self.variables.keys() & self.model_functions.keys())
        if both:
            name = both[0]
            raise ParseError(f"'{name}' is used both as a variable and as a model function "
                             f"{name}(...)", self.variables[name])

    # --- dispatch ---------------------------------------------------------------------------

    def visit(self, node: _Located) -> sp.Basic:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise self.error(f"expression is nested more than {MAX_NESTING} levels deep",
                                 node, "limit")
            if time.monotonic() > self._deadline:
                raise self.error(f"expression takes too long to build (more than "
                                 f"{MAX_BUILD_SECONDS:g} s)", node, "limit")
            kind = type(node).__name__
            visitor = _VISITORS.get(kind)
            if visitor is None:
                what = _UNSUPPORTED.get(kind, f"'{kind}' expressions")
                raise self.error(f"{what} are not supported", node)
            with self.located(node):
                built = visitor(self, node)
            self.admit(built, node)
            return built
        finally:
            self._depth -= 1

    def value(self, node: _Located) -> sp.Expr:
        """Lower ``node`` where a number is expected; a condition becomes its indicator."""
        if _is_bool_literal(node):
            raise self.error("True and False can only be conditions, e.g. "
                             "Piecewise((a, x > 0), (b, True))", node)
        built = self.visit(node)
        if not _is_condition(built):
            return built
        with self.located(node):
            indicator = guards.piecewise((1, built), (0, True))
        if indicator not in self.spans:
            self.spans[indicator] = self.source.node_column(node)
            self.snippets[indicator] = self.source.snippet(node, limit=60)
        return indicator

    def condition(self, node: _Located) -> Boolean:
        """Lower ``node`` where a condition is expected; a value counts as true when nonzero."""
        built = self.visit(node)
        if _is_condition(built):
            return built
        with self.located(node):
            return sp.Ne(built, 0)

    # --- leaves -----------------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> sp.Basic:
        literal = node.value
        if isinstance(literal, bool):
            return sp.true if literal else sp.false
        if isinstance(literal, int):
            return sp.Integer(literal)
        if isinstance(literal, float):
            # The literal's decimal text, not the binary float: 0.1 is exactly 1/10.
            return guards.exact_decimal(self.source.segment(node))
        if isinstance(literal, complex):
            raise self.error("complex numbers are not supported", node)
        if isinstance(literal, (str, bytes)):
            raise self.error("strings are not supported", node)
        if literal is None:
            raise self.error("None is only allowed as a bound of clip/clamp", node)
        raise self.error(f"{self.source.snippet(node)} is not supported", node)

    def visit_Name(self, node: ast.Name) -> sp.Expr:
        name = node.id
        if name.startswith("__"):
            raise self.error(f"names starting with __ are not allowed: '{name}'", node)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name.lower() in NON_FINITE_NAMES:
            raise self.error(f"'{name}' is not a finite number", node)
        if name in FUNCTIONS:
            raise self.error(f"{name} is a function: call it as {name}(...)", node)
        if name in self.values:
            self.fixed.add(name)
            fixed = self.values[name]
            if not isinstance(fixed, sp.Basic):
                raise self.error(f"'{name}' is set to {fixed!r}, which is not a number", node)
            return fixed
        self.variables.setdefault(name, self.source.node_column(node))
        return sp.Symbol(name, real=True)

    def visit_Attribute(self, node: ast.Attribute) -> sp.Expr:
        prefix, member = self.module_member(node)
        dotted = prefix + member
        if member in MODULE_CONSTANTS:
            return MODULE_CONSTANTS[member]
        if member.lower() in NON_FINITE_NAMES:
            raise self.error(f"'{dotted}' is not a finite number", node)
        if member in FUNCTIONS:
            raise self.error(f"{dotted} is a function: call it as {dotted}(...)", node)
        raise self.error(f"unsupported attribute '{dotted}'", node)

    def module_member(self, node: ast.Attribute) -> tuple[str, str]:
        """Split ``np.exp`` into ``("np.", "exp")``: a dotted name with a known module prefix.

        This only reads names off the syntax tree; nothing is looked up on any object.
        """
        parts = []
        current: _Located = node
        while isinstance(current, ast.Attribute) and self.same_start(current, node):
            parts.append(current.attr)
            current = current.value
        if not (isinstance(current, ast.Name) and self.same_start(current, node)):
            raise self.error(f"unsupported attribute access: {self.source.snippet(node)}", node)
        dotted = ".".join([current.id, *parts[::-1]])
        split = split_prefix(dotted)
        if split is None:
            raise self.error(f"unsupported attribute '{dotted}'", node)
        return split

    @staticmethod
    def same_start(inner: _Located, outer: _Located) -> bool:
        """False when ``inner`` is in brackets inside ``outer``: ``(np).exp``, ``(f)(x)``."""
        return (inner.lineno, inner.col_offset) == (outer.lineno, outer.col_offset)

    # --- operators --------------------------------------------------------------------------

    def visit_UnaryOp(self, node: ast.UnaryOp) -> sp.Basic:
        operator = type(node.op).__name__
        if operator == "Not":
            return sp.Not(self.condition(node.operand))
        if operator == "USub":
            return -self.value(node.operand)
        if operator == "UAdd":
            return self.value(node.operand)
        raise self.error(_BAD_OPERATORS.get(operator, f"'{operator}' is not supported"), node)

    def visit_BinOp(self, node: ast.BinOp) -> sp.Expr:
        # ``a + b - c + d`` is a chain down the left operands. It is walked in a loop, not by
        # recursion, so a long sum does not count as deep nesting, and each run of + and -
        # (or * and /) becomes one Add (Mul) instead of re-flattening a growing one.
        chain = []
        leftmost: _Located = node
        while isinstance(leftmost, ast.BinOp):
            chain.append(leftmost)
            leftmost = leftmost.left
        chain.reverse()
        for binop in chain:
            operator = type(binop.op).__name__
            if operator in _BAD_OPERATORS:
                raise ParseError(_BAD_OPERATORS[operator],
                                 self.source.operator_column(binop.left, binop.right))
        operands = [self.value(leftmost)]
        run = None  # "sum" or "product" while operands holds the terms of a run
        for index, binop in enumerate(chain):
            operator = type(binop.op).__name__
            if _RUNS.get(operator) != run and len(operands) > 1:
                operands = [self.fold_run(run, operands, chain[index - 1])]
            run = _RUNS.get(operator)
            right = self.value(binop.right)
            with self.located(binop):
                if operator == "Add" or operator == "Mult":
                    operands.append(right)
                elif operator == "Sub":
                    operands.append(-right)
                elif operator == "Div":
                    operands.append(guards.power(right, sp.Integer(-1)))
                else:
                    operands = [self.apply_operator(operator, operands[0], right)]
            if run is None and binop is not node:
                self.admit(operands[0], binop)
        if len(operands) > 1:
            operands = [self.fold_run(run, operands, node)]
        return operands[0]

    def fold_run(self, run: str | None, operands: list[sp.Expr], last: ast.BinOp) -> sp.Expr:
        """One Add or Mul for a run of operands; ``last`` is the operator that ended it."""
        with self.located(last):
            built = guards.add(*operands) if run == "sum" else guards.mul(*operands)
        self.admit(built, last)
        return built

    @staticmethod
    def apply_operator(operator: str, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        if operator == "Pow":
            return guards.power(left, right)
        if operator == "Mod":
            return guards.modulo(left, right)
        return guards.floor_divide(left, right)  # FloorDiv: the other operators are runs

    def visit_Compare(self, node: ast.Compare) -> Boolean:
        operand_nodes = [node.left, *node.comparators]
        guards.check_comparison_count(len(node.ops))  # before SymPy builds any of them
        for op, left, right in zip(node.ops, operand_nodes, operand_nodes[1:]):
            name = type(op).__name__
            if name in _BAD_COMPARISONS:
                raise ParseError(f"'{_BAD_COMPARISONS[name]}' is not supported "
                                 "(compare with < <= > >= == !=)",
                                 self.source.operator_column(left, right))
        operands = [self.value(operand) for operand in operand_nodes]
        relations = [
            _RELATIONS[type(op).__name__](left, right)
            for op, left, right in zip(node.ops, operands, operands[1:])
        ]
        return relations[0] if len(relations) == 1 else sp.And(*relations)

    def visit_BoolOp(self, node: ast.BoolOp) -> Boolean:
        conditions = [self.condition(operand) for operand in node.values]
        guards.check_condition(*conditions)
        return sp.And(*conditions) if isinstance(node.op, ast.And) else sp.Or(*conditions)

    def visit_IfExp(self, node: ast.IfExp) -> sp.Expr:
        chosen = self.value(node.body)
        test = self.condition(node.test)
        otherwise = self.value(node.orelse)
        return guards.piecewise((chosen, test), (otherwise, True))

    # --- calls ------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> sp.Basic:
        name, spec = self.callee(node)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error("starred arguments (*x) are not supported", arg)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.error("keyword unpacking (**kwargs) is not supported", keyword)
        if spec is None:
            return self.model_call(name, node)
        return self.vocabulary_call(name, spec, node)

    def callee(self, node: ast.Call) -> tuple[str, Function | None]:
        """The called name as written and its vocabulary row (``None`` for a model function)."""
        func = node.func
        if isinstance(func, ast.Attribute) and self.same_start(func, node):
            prefix, member = self.module_member(func)
            if member in FUNCTIONS:
                return prefix + member, FUNCTIONS[member]
            raise self.error(f"unknown function '{prefix}{member}'{_suggestion(member, prefix)}",
                             func)
        if not (isinstance(func, ast.Name) and self.same_start(func, node)):
            raise self.error("only functions called by name are supported, as in exp(x), "
                             f"not {self.source.snippet(node)}", func)
        name = func.id
        if name in FUNCTIONS:
            return name, FUNCTIONS[name]
        if name.startswith("__"):
            raise self.error(f"'{name}' is not allowed: names starting with __ are reserved",
                             func)
        if name[0].isupper():
            lookalike = _LOOKALIKES.get(_normalized(name))
            if lookalike is not None:
                raise self.error(f"unknown function '{name}' (did you mean {lookalike}? "
                                 "Capitalized names are model functions, but this one "
                                 f"looks like {lookalike})", func)
            return name, None
        raise self.error(f"unknown function '{name}'{_suggestion(name)}", func)

    def model_call(self, name: str, node: ast.Call) -> sp.Expr:
        """``Model(x, w)``: an opaque function of its arguments, assumed differentiable."""
        if node.keywords:
            raise self.error(f"model function {name} takes no keyword arguments",
                             node.keywords[0])
        if not node.args:
            raise self.error(f"model function {name}() needs at least one argument", node)
        self.model_functions.setdefault(name, self.source.node_column(node))
        args = [self.value(arg) for arg in node.args]
        return sp.Function(name, real=True)(*args)

    def vocabulary_call(self, name: str, spec: Function, node: ast.Call) -> sp.Basic:
        count = len(node.args)
        if spec.max_args is not None and count > spec.max_args:
            raise self.error(f"{name} takes {spec.arity()}, got {count}", node)
        # Check the call's shape before lowering any argument.
        filled = set(spec.parameters()[:count])  # parameters the positional arguments set
        keyword_nodes: dict[str, _Located] = {}  # builder parameter -> the argument setting it
        option_values: dict[str, Any] = {}  # option keyword -> its literal value
        for keyword in node.keywords:
            assert keyword.arg is not None  # **kwargs was refused by visit_Call
            if keyword.arg in spec.ignored_keywords:
                if not _is_plain_literal(keyword.value):
                    raise self.error(f"{keyword.arg}= is ignored, and must be a plain literal "
                                     "such as 0 or (0, 1)", keyword)
                continue
            if keyword.arg in spec.options:
                option_values[keyword.arg] = self.option(name, keyword, spec.options[keyword.arg])
                continue
            parameter = spec.keywords.get(keyword.arg)
            if parameter is None:
                accepted = sorted([*spec.keywords, *spec.options]) + sorted(spec.ignored_keywords)
                allowed = f"accepted: {', '.join(accepted)}" if accepted else "it takes none"
                raise self.error(f"{name} has no keyword argument '{keyword.arg}' ({allowed})",
                                 keyword)
            if parameter in filled:
                raise self.error(f"{name}: '{keyword.arg}' repeats an argument already given",
                                 keyword)
            filled.add(parameter)
            keyword_nodes[parameter] = keyword.value
        if count + len(keyword_nodes) < spec.min_args:  # required parameters may be keywords
            given = f"{count}" + (f" and {len(keyword_nodes)} by keyword" if keyword_nodes else "")
            raise self.error(f"{name} takes {spec.arity()}, got {given}", node)
        args = [self.argument(arg, spec, position) for position, arg in enumerate(node.args)]
        keyword_values = {
            parameter: self.argument(value, spec, None)
            for parameter, value in keyword_nodes.items()
        }
        return spec.build(*args, **keyword_values, **option_values)

    def option(self, name: str, keyword: ast.keyword, allowed: frozenset[Any]) -> Any:
        """The literal value of an option keyword (``approximate='tanh'``), one of ``allowed``."""
        value = keyword.value
        literal = value.value if isinstance(value, ast.Constant) else None
        # True == 1 in Python: compare with the type, so approximate=1 is refused
        if not any(type(literal) is type(choice) and literal == choice for choice in allowed):
            choices = ", ".join(sorted(repr(choice) for choice in allowed))
            raise self.error(f"{name}: {keyword.arg}= must be one of {choices}", keyword)
        return literal

    def argument(self, node: _Located, spec: Function, position: int | None) -> Any:
        if spec.pair_args:
            return self.pair(node)
        if spec.accepts_none and _is_none(node):
            return None
        if position in spec.condition_args:
            return self.condition(node)
        return self.value(node)

    def pair(self, node: _Located) -> tuple[sp.Expr, Boolean]:
        """A ``(value, condition)`` argument of Piecewise."""
        if not (isinstance(node, ast.Tuple) and len(node.elts) == 2):
            raise self.error("Piecewise takes (value, condition) pairs, e.g. "
                             "Piecewise((a, x > 0), (b, True))", node)
        chosen, test = node.elts
        return self.value(chosen), self.condition(test)


#: Node class name -> the method lowering it; node classes not listed here are refused.
_VISITORS: dict[str, Callable[[_Lowering, Any], sp.Basic]] = {
    name[len("visit_"):]: method
    for name, method in vars(_Lowering).items()
    if name.startswith("visit_")
}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``name=value`` of a ``--set`` option: an identifier and a Python literal.

    The value is read from the syntax tree, never evaluated: a number (with an optional
    sign), a string, ``True``, ``False`` or ``None``.

    >>> parse_assignment("delta=0.5"), parse_assignment("reduction='mean'")
    (('delta', 0.5), ('reduction', 'mean'))
    >>> parse_assignment("k=-2"), parse_assignment("CIoU=True")
    (('k', -2), ('CIoU', True))
    >>> parse_assignment("x=__import__('os')")
    Traceback (most recent call last):
        ...
    diffcheck.parser.ParseError: --set x=...: the value must be a number, a string, True, False or None
    """
    name, equals, literal = text.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise ParseError(f"--set expects name=value, got {text!r}")
    try:
        node = ast.parse(literal.strip(), mode="eval").body if len(literal) < 1000 else None
    except SyntaxError:
        node = None
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
        if not (isinstance(node, ast.Constant) and type(node.value) in (int, float)):
            node = None
    if not isinstance(node, ast.Constant) or type(node.value) not in (int, float, str, bool,
                                                                    type(None)):
        raise ParseError(f"--set {name}=...: the value must be a number, a string, True, "
                         "False or None")
    value = node.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return name, sign * value
    return name, value


def literal_as_sympy(value: Any) -> Any:
    """A ``--set`` value as the parser uses it: numbers exact (0.1 is 1/10), others as given.

    >>> literal_as_sympy(0.1), literal_as_sympy(3), literal_as_sympy(True), literal_as_sympy("mean")
    (1/10, 3, 1, 'mean')
    """
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        magnitude = guards.exact_decimal(repr(abs(value)))
        return -magnitude if value < 0 else magnitude
    return value
