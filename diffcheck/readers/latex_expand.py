"""Sums, products, max and min over an index, and norms of vectors, written out.

diffcheck analyses expressions in finitely many variables. A sum over an index is therefore
written out for a few index values (:class:`_IndexExpander`), and a norm or an inner product
for vectors of a few components (:class:`_VectorExpander`); what that choice is, is reported
with the reading (``assumptions``).

>>> from diffcheck.readers.latex_ast import BigOp, IndexSpec, Sym, emit
>>> total = BigOp(1, "sum", IndexSpec(["i"]), Sym(6, "x", subs=(Sym(8, "i"),)))
>>> emit(expand(total, set(), {}).node)[0]
'x_1 + x_2 + x_3'
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction

from diffcheck.parser import ParseError
from diffcheck.readers.latex_ast import (
    Add,
    BigOp,
    Call,
    Const,
    Div,
    Indicator,
    Inner,
    Logic,
    ModelCall,
    Mul,
    Node,
    Norm,
    Num,
    Pow,
    Rel,
    Run,
    Sym,
    index_key,
    model_name,
    sym_name,
    transform,
    walk,
)

#: Index values a sum without bounds runs over, and the value of a bound such as N.
INDEX_VALUES = 3
#: Components of each vector in a norm or an inner product.
VECTOR_COMPONENTS = 2
#: Most terms one sum, product, max or min may expand to.
MAX_TERMS = 12
#: Most nodes the expanded formula may have.
MAX_EXPANDED_NODES = 20_000


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
        node = _split_runs_like_their_kin(node)
        self.check_indices(node)
        self.find_sizes(node)
        node = self.replace_sizes(node)
        self.find_labels(node)
        expanded = self.expand(node, {})
        return expanded

    # --- what the indices are -----------------------------------------------------------

    def pair_indices(self, node: Node, bound: list[str], root: Node | None = None) -> None:
        """``\\sum_{i \\neq j} K_{ij}``: a bare letter compared with the index, bound nowhere,
        not declared by the left-hand side, used nowhere outside the sum and used as an index
        in its summand is a second index (all pairs i != j). Otherwise (``\\sum_{c \\neq y}
        p_c``, or ``z_i`` outside the sum) it is a label, a fixed value."""
        root = node if root is None else root
        if isinstance(node, BigOp):
            outside = _free_uses(root) - _free_uses(node)
            for cond in node.spec.conditions:
                if isinstance(cond, Rel):
                    for operand in cond.operands[1:]:
                        key = index_key(operand)
                        if key is not None and len(key.split("_")[0]) == 1 and \
                                key not in bound and key not in self.declared and \
                                key not in node.spec.indices and key not in outside and \
                                indexes_something(node.body, key):
                            node.spec.indices.append(key)
            bound = bound + node.spec.indices
        for child in node.children():
            self.pair_indices(child, bound, root)

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
            trial = {**dict.fromkeys(self.size_names_all(), INDEX_VALUES), **self.sizes,
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
        key = index_key(sym)
        if key is not None and key in env:
            return _number(sym.col, env[key])  # an index used as a number: k x_k
        if sym_name(sym, reserved_ok=True) in self.labels:
            return _number(sym.col, self.labels[sym_name(sym, reserved_ok=True)])
        items: list[Node] = []
        for item in _sub_items(sym, env):
            if isinstance(item, Sym):
                items.append(self.expand(item, env))  # an index or a label: its value
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
        terms: list[tuple[int, Node]] = []
        for sign, term in node.terms:
            if isinstance(term, Add) and (sign > 0 or len(term.terms) == 1):
                # a + (b - c) is a + b - c; a + (-b) is a - b
                terms.extend((sign * inner, t) for inner, t in term.terms)
            else:
                terms.append((sign, term))
        terms = [(sign, t) for sign, t in terms if not (isinstance(t, Num) and t.value == 0)]
        if terms == node.terms:
            return None
        if not terms:
            return _number(node.col, 0)
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        return replace(node, terms=terms)
    return None


def _free_uses(node: Node, bound: frozenset[str] = frozenset()) -> Counter[str]:
    """How often each plain name (a possible index) occurs in ``node`` outside the sums that
    bind it."""
    uses: Counter[str] = Counter()
    key = index_key(node)
    if key is not None and key not in bound:
        uses[key] += 1
    if isinstance(node, BigOp):
        bound = bound | set(node.spec.indices)
    for child in node.children():
        uses += _free_uses(child, bound)
    return uses


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


def _split_runs_like_their_kin(node: Node) -> Node:
    """``s_{ii}`` next to ``\\sum_j s_{ij}`` is ``s_{i,i}``: the sum splits ``s_{ij}`` into
    two subscripts, so a run of as many letters on the same name is split too; kept whole,
    ``s_ii`` would be a variable unrelated to the ``s_i_j`` it is one of."""
    indices = {index for op in walk(node) if isinstance(op, BigOp) for index in op.spec.indices}
    arities: dict[str, set[int]] = {}
    for sym in (n for n in walk(node) if isinstance(n, Sym) and n.subs):
        items = _sub_items(sym, indices)
        if len(items) > 1 and any(index_key(item) in indices for item in items):
            arities.setdefault(_base_key(sym), set()).add(len(items))

    def split(current: Node) -> Node | None:
        if not isinstance(current, Sym) or len(current.subs) != 1:
            return None
        (run,) = current.subs
        if isinstance(run, Run) and all(index_key(part) is not None and
                                        len(index_key(part) or "") == 1 for part in run.items) \
                and len(run.items) in arities.get(_base_key(current), set()):
            return replace(current, subs=tuple(run.items))
        return None

    return transform(node, split) if arities else node


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
        if not any(isinstance(n, (Norm, Inner)) or _is_bold_dot(n) for n in walk(node)):
            return node
        self.vector_keys = _vector_keys(node)
        node = transform(node, self.dot_product)
        self.vector_keys = _vector_keys(node)  # with the names of the dot products
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
        """``a \\cdot b`` of two vectors (names in a norm elsewhere, or both written as
        vectors: ``\\mathbf{w} \\cdot \\mathbf{x}``) is their inner product: the cosine
        similarity ``\\frac{a \\cdot b}{\\|a\\| \\|b\\|}``."""
        if isinstance(node, Mul) and node.dot and len(node.factors) == 2 and (
                all(self.is_vector(f) for f in node.factors) or _is_bold_dot(node)):
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
            return replace(node, subs=(*node.subs, _number(node.col, k)))
        if isinstance(node, (Num, Const)):
            return node
        if isinstance(node, ModelCall):
            self.vector_names.setdefault(model_name(node.sym) + "(...)", node.col)
            sym = replace(node.sym, subs=(*node.sym.subs, _number(node.col, k)))
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


def _is_bold_dot(node: Node) -> bool:
    return isinstance(node, Mul) and node.dot and len(node.factors) == 2 and \
        all(_is_bold_vector(f) for f in node.factors)


def _is_bold_vector(node: Node) -> bool:
    """``\\mathbf{x}``, ``\\boldsymbol{\\mu}``, ``\\vec{v}``: a lower-case name written as a
    vector (a bold capital is a matrix, whose product with a vector is not a number)."""
    return isinstance(node, Sym) and node.style == "bold" and node.base[:1].islower()


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
