"""From the program as written (:class:`~diffcheck.program.Node`) to the SymPy the analysis reads.

Every function of the vocabulary is built by its own builder (the same guarded constructors
the expression parser uses), so a loss read from a ``.py`` file and the same loss typed as an
expression are the same SymPy object. Each SymPy subexpression remembers the span of the first
construct that built it, so findings point at the user's line and column.

>>> from diffcheck.program import Node
>>> x = Node("var", value="x")
>>> lowered = lower(Node("abs", (Node("sub", (x, Node("const", value=1))),)))
>>> lowered.expr
Abs(x - 1)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy.logic.boolalg import Boolean

from diffcheck import functions
from diffcheck.primitives.switching import label_is
from diffcheck.program import Node, Span
from diffcheck.readers.pysource.values import SourceError


@dataclass
class Lowered:
    expr: sp.Expr
    #: SymPy subexpression -> span of the construct that built it (first occurrence)
    spans: dict[sp.Basic, Span] = field(default_factory=dict)
    model_functions: set[str] = field(default_factory=set)
    #: id of each node of the program -> what it lowered to
    exprs: dict[int, Any] = field(default_factory=dict)


def lower(root: Node) -> Lowered:
    """SymPy for ``root``; raises :class:`SourceError` (with the node's span) on failure."""
    lowering = _Lowering()
    lowering.plan_orderings(root)
    expr = lowering.value(root)
    return Lowered(expr, lowering.spans, lowering.model_functions, lowering.memo)


def _is_condition(value: Any) -> bool:
    return isinstance(value, Boolean) and not isinstance(value, sp.Expr)


#: The most orderings one subexpression is split over (4 sorted components: 4! = 24).
MAX_ORDERINGS = 24


@dataclass(frozen=True)
class _SortGroup:
    """The nodes that read one sort: gathers by its permutation and its order statistics.

    Under one ordering of the keys each of them is one of its arguments, so the smallest
    subexpression holding them all (the anchor) is lowered once per ordering: a Piecewise whose
    pieces are plain expressions (the Lovasz extension: linear in the sorted errors).
    """

    keys: tuple[Node, ...]
    descending: bool


class _Lowering:
    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self.spans: dict[sp.Basic, Span] = {}
        self.model_functions: set[str] = set()
        #: id of a sort-reading node -> its group
        self.members: dict[int, _SortGroup] = {}
        #: id of a node -> the groups whose members are below it (only nodes with some)
        self.depends: dict[int, frozenset[_SortGroup]] = {}
        #: id of an anchor -> the groups split over there
        self.anchors: dict[int, list[_SortGroup]] = {}
        #: the ordering (indices of the keys by rank) of each group in the piece being built
        self.fixed: dict[_SortGroup, tuple[int, ...]] = {}
        #: lowered nodes that depend on a fixed ordering, keyed by node and orderings
        self.piece_memo: dict[tuple[int, tuple[tuple[int, ...], ...]], Any] = {}

    def plan_orderings(self, root: Node) -> None:
        """Find the sorts read by a gather and where to split over their orderings."""
        from diffcheck.readers.pysource.tensors import order_statistic_of

        nodes: dict[int, Node] = {}
        for node in root.walk():
            nodes.setdefault(id(node), node)
        groups: dict[tuple[tuple[int, ...], bool], _SortGroup] = {}
        for node in nodes.values():
            if node.op == "sort_gather":
                count = len(node.args) // 2
                keys = node.args[:count]
                flag = node.keyword("descending")
                descending = bool(flag.value) if flag is not None else True
                group = groups.setdefault((tuple(map(id, keys)), descending),
                                          _SortGroup(tuple(keys), descending))
                self.members[id(node)] = group
        if not groups:
            return
        for node in nodes.values():
            stat = order_statistic_of(node)
            if stat is not None:
                sorted_by = groups.get((tuple(map(id, stat.of)), stat.largest))
                if sorted_by is not None:
                    self.members[id(node)] = sorted_by
        self._find_depends(root)
        for group in groups.values():
            anchor = root
            while True:
                below = [arg for arg in _children(anchor) if group in self.depends.get(id(arg), ())]
                if id(anchor) in self.members or len(below) != 1:
                    break
                anchor = below[0]
            placed = self.anchors.setdefault(id(anchor), [])
            orderings = 1
            for other in placed:
                orderings *= math.factorial(len(other.keys))
            if orderings * math.factorial(len(group.keys)) <= MAX_ORDERINGS:
                placed.append(group)

    def _find_depends(self, root: Node) -> None:
        """``depends`` for every node below ``root`` (post-order, without recursion)."""
        done: set[int] = set()
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend((arg, False) for arg in _children(node) if id(arg) not in done)
                continue
            done.add(id(node))
            found: set[_SortGroup] = set()
            if id(node) in self.members:
                found.add(self.members[id(node)])
            for arg in _children(node):
                found.update(self.depends.get(id(arg), ()))
            if found:
                self.depends[id(node)] = frozenset(found)

    def build(self, node: Node) -> Any:
        key = id(node)
        fixed = tuple(self.fixed.get(g, ()) for g in self.depends.get(key, ())) \
            if self.fixed and key in self.depends else ()
        if any(fixed):
            if (key, fixed) in self.piece_memo:
                return self.piece_memo[(key, fixed)]
        elif key in self.memo:
            return self.memo[key]
        try:
            pending = [g for g in self.anchors.get(key, ()) if g not in self.fixed]
            result = self.split_orderings(node, pending[0]) if pending else self._build(node)
        except functions.LoweringError as err:
            raise SourceError(f"{_text(node)}: {err}", kind=err.kind, span=node.span) from None
        except (TypeError, ValueError, ArithmeticError) as err:
            raise SourceError(f"cannot build {_text(node)}: {err}", span=node.span) from None
        except SourceError as err:
            if err.span is None and err.node is None:
                err.span = node.span
            raise
        if isinstance(result, sp.Basic) and result.has(sp.zoo, sp.nan):
            raise SourceError(f"{_text(node)} is undefined (a division by zero?)", span=node.span)
        if any(fixed):
            self.piece_memo[(key, fixed)] = result
        else:
            self.memo[key] = result
        if node.span is not None and isinstance(result, sp.Basic) and not result.is_Atom:
            for sub in sp.preorder_traversal(result):
                if sub.is_Atom:
                    continue
                if sub not in self.spans:
                    self.spans[sub] = node.span
        return result

    def value(self, node: Node) -> sp.Expr:
        built = self.build(node)
        if isinstance(built, (sp.Eq, sp.Ne)) and _tests_labels(node):
            indicator = label_is(*built.args)
            return indicator if isinstance(built, sp.Eq) else 1 - indicator
        if _is_condition(built):
            return functions.piecewise((sp.Integer(1), built), (sp.Integer(0), True))
        if built is None:
            raise SourceError("None used as a number")
        return built

    def condition(self, node: Node) -> Any:
        built = self.build(node)
        if _is_condition(built) or built in (True, False):
            return built
        return sp.Ne(built, 0)

    def split_orderings(self, node: Node, group: _SortGroup) -> Any:
        """``node`` lowered once per ordering of ``group``'s keys, as one Piecewise."""
        keys = [self.value(k) for k in group.keys]
        pieces = []
        for order in itertools.permutations(range(len(keys))):
            self.fixed[group] = order
            try:
                piece = self.value(node)
            finally:
                del self.fixed[group]
            pieces.append((piece, _ordered(keys, order, group.descending)))
        pieces[-1] = (pieces[-1][0], True)
        return functions.piecewise(*pieces)

    def _build(self, node: Node) -> Any:
        op = node.op
        group = self.members.get(id(node)) if self.fixed else None
        if group is not None and group in self.fixed:
            # under a fixed ordering a gather or an order statistic is one of its arguments
            order = self.fixed[group]
            if op == "sort_gather":
                rank = int(node.keyword("rank").value)  # type: ignore[union-attr]
                return self.value(node.args[len(group.keys) + order[rank]])
            from diffcheck.readers.pysource.tensors import order_statistic_of

            stat = order_statistic_of(node)
            assert stat is not None
            return self.value(group.keys[order[stat.rank]])
        if op == "var":
            return sp.Symbol(str(node.value), real=True)
        if op == "const":
            return _constant(node.value)
        handler = _OPERATORS.get(op)
        if handler is not None:
            return handler(self, node)
        return self.function(node)

    def function(self, node: Node) -> Any:
        from diffcheck.readers.pysource.library import _vocabulary

        entry = _vocabulary(node.op)
        if entry is None:
            raise SourceError(f"the function {node.written or node.op} is not known")
        args: list[Any] = []
        for position, arg in enumerate(node.args):
            if arg.op == "const" and arg.value is None:
                args.append(None)
            elif position in getattr(entry, "condition_args", ()):
                args.append(self.condition(arg))
            else:
                args.append(self.value(arg))
        keywords = {}
        for name, arg in node.keywords:
            if name in entry.options:
                keywords[name] = arg.value  # a literal option (approximate="tanh")
                continue
            keywords[name] = None if (arg.op == "const" and arg.value is None) else self.value(arg)
        return entry.build(*args, **keywords)

    # --- operators -------------------------------------------------------------------------

    def add(self, node: Node) -> sp.Expr:
        return functions.add(*[self.value(a) for a in node.args])

    def sub(self, node: Node) -> sp.Expr:
        a, b = (self.value(x) for x in node.args)
        return functions.add(a, functions.mul(sp.Integer(-1), b))

    def mul(self, node: Node) -> sp.Expr:
        return functions.mul(*[self.value(a) for a in node.args])

    def div(self, node: Node) -> sp.Expr:
        a, b = (self.value(x) for x in node.args)
        if b == 0:
            raise SourceError("division by zero")
        return functions.mul(a, functions.power(b, sp.Integer(-1)))

    def pow(self, node: Node) -> sp.Expr:
        a, b = (self.value(x) for x in node.args)
        return functions.power(a, b)

    def neg(self, node: Node) -> sp.Expr:
        return functions.mul(sp.Integer(-1), self.value(node.args[0]))

    def mod(self, node: Node) -> sp.Expr:
        a, b = (self.value(x) for x in node.args)
        return functions.modulo(a, b)

    def floordiv(self, node: Node) -> sp.Expr:
        a, b = (self.value(x) for x in node.args)
        return functions.floor_divide(a, b)

    def relation(self, node: Node) -> Any:
        a, b = (self.value(x) for x in node.args)
        relation = _RELATIONS[node.op](a, b)
        functions.check_condition(relation)
        return relation

    def logic(self, node: Node) -> Any:
        conditions = [self.condition(a) for a in node.args]
        functions.check_condition(*conditions)
        if node.op == "and":
            return sp.And(*conditions)
        if node.op == "or":
            return sp.Or(*conditions)
        return sp.Not(conditions[0])

    def where(self, node: Node) -> sp.Expr:
        condition = self.condition(node.args[0])
        a, b = self.value(node.args[1]), self.value(node.args[2])
        if condition in (True, sp.true):
            return a
        if condition in (False, sp.false):
            return b
        return functions.piecewise((a, condition), (b, True))

    def identity(self, node: Node) -> Any:
        return self.build(node.args[0])

    def extremum(self, node: Node) -> sp.Expr:
        args = [self.value(a) for a in node.args]
        if len(args) == 1:
            return args[0]
        return functions.maximum(*args) if node.op == "max" else functions.minimum(*args)

    def logsumexp(self, node: Node) -> sp.Expr:
        args = [self.value(a) for a in node.args]
        if len(args) == 1:
            return args[0]
        return sp.log(functions.add(*[functions.exponential(a) for a in args]))

    def softmax(self, node: Node) -> sp.Expr:
        args = [self.value(a) for a in node.args]
        index = int(self.value(node.keyword("index") or Node("const", value=0)))
        total = functions.add(*[functions.exponential(a) for a in args])
        if node.op == "log_softmax":
            return functions.add(args[index], functions.mul(sp.Integer(-1), sp.log(total)))
        return functions.mul(functions.exponential(args[index]), functions.power(total, sp.Integer(-1)))

    def norm(self, node: Node) -> sp.Expr:
        args = [self.value(a) for a in node.args]
        order_node = node.keyword("ord")
        order = self.value(order_node) if order_node is not None else sp.Integer(2)
        if order == 2:
            return functions.power(functions.add(*[functions.power(a, sp.Integer(2)) for a in args]),
                                   sp.Rational(1, 2))
        if order == 1:
            return functions.add(*[sp.Abs(a) for a in args])
        return functions.power(functions.add(*[functions.power(sp.Abs(a), order) for a in args]),
                               functions.power(order, sp.Integer(-1)))

    def argextremum(self, node: Node) -> sp.Expr:
        args = [self.value(a) for a in node.args]
        better = sp.Ge if node.op == "argmax" else sp.Le
        pieces = []
        for index, arg in enumerate(args[:-1]):
            condition = sp.And(*[better(arg, other) for other in args[index + 1:]])
            pieces.append((sp.Integer(index), condition))
        pieces.append((sp.Integer(len(args) - 1), True))
        return functions.piecewise(*pieces)

    def select(self, node: Node) -> sp.Expr:
        index = self.value(node.args[0])
        choices = [self.value(a) for a in node.args[1:]]
        pieces = [(choice, sp.Eq(index, k)) for k, choice in enumerate(choices[:-1])]
        pieces.append((choices[-1], True))
        return functions.piecewise(*pieces)

    def sort_gather(self, node: Node) -> sp.Expr:
        """The value at rank ``rank`` when the values are ordered by their keys."""
        count = len(node.args) // 2
        keys = [self.value(a) for a in node.args[:count]]
        values = [self.value(a) for a in node.args[count:]]
        rank = int(self.value(node.keyword("rank") or Node("const", value=0)))
        descending = bool(self.value(node.keyword("descending") or Node("const", value=1)))
        pieces = [(values[order[rank]], _ordered(keys, order, descending))
                  for order in itertools.permutations(range(count))]
        pieces[-1] = (pieces[-1][0], True)
        return functions.piecewise(*pieces)

    def call(self, node: Node) -> sp.Expr:
        name = str(node.value)
        self.model_functions.add(name)
        return sp.Function(name, real=True)(*[self.value(a) for a in node.args])


_RELATIONS = {"lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge, "eq": sp.Eq, "ne": sp.Ne}

_OPERATORS = {
    "add": _Lowering.add, "sub": _Lowering.sub, "mul": _Lowering.mul, "div": _Lowering.div,
    "pow": _Lowering.pow, "neg": _Lowering.neg, "mod": _Lowering.mod,
    "floordiv": _Lowering.floordiv, "where": _Lowering.where, "detach": _Lowering.identity,
    "identity": _Lowering.identity, "max": _Lowering.extremum, "min": _Lowering.extremum,
    "logsumexp": _Lowering.logsumexp, "softmax": _Lowering.softmax,
    "log_softmax": _Lowering.softmax, "norm": _Lowering.norm, "argmax": _Lowering.argextremum,
    "argmin": _Lowering.argextremum, "select": _Lowering.select, "call": _Lowering.call,
    "sort_gather": _Lowering.sort_gather,
    **dict.fromkeys(_RELATIONS, _Lowering.relation),
    "and": _Lowering.logic, "or": _Lowering.logic, "not": _Lowering.logic,
}


def _tests_labels(node: Node) -> bool:
    """Whether ``node`` compares class labels with a class number (the reader marks it)."""
    while node.op in ("identity", "detach") and node.args:
        node = node.args[0]
    return node.op in ("eq", "ne") and node.keyword("labels") is not None


def _children(node: Node) -> list[Node]:
    return [*node.args, *(arg for _, arg in node.keywords)]


def _ordered(keys: list[Any], order: tuple[int, ...], descending: bool) -> Any:
    """Where ``keys`` sorted (stably) are ``keys[order[0]], keys[order[1]], ...``."""
    conditions = []
    for first, second in itertools.pairwise(order):
        a, b = (keys[first], keys[second]) if descending else (keys[second], keys[first])
        # stable: equal keys keep their index order
        conditions.append(a >= b if first < second else a > b)
    return sp.And(*conditions)


def _constant(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        return sp.Rational(Fraction(repr(value)))
    if isinstance(value, sp.Basic):
        return value
    raise SourceError(f"the constant {value!r} is not a number")


def _text(node: Node) -> str:
    if node.span is not None and node.span.text:
        return node.span.text
    return node.written or node.op
