"""A formula's statements: its left-hand sides, definitions, and which statement is the loss.

``\\ell(x, y) = L = \\{l_1,\\dots,l_N\\}^\\top, \\quad l_n = |x_n - y_n|`` holds two
statements. Each is split at its top-level ``=``: the left-hand side is set aside (it names
the loss, it is not part of it) and the right-hand side is read. The loss is the statement
whose name no other statement uses; the others are definitions, substituted into it.

>>> from diffcheck.readers.latex_tokens import scan
>>> [" ".join(tok.value for tok in part) for part, _ in split_statements(
...     scan(r"L = a + C, \\quad C = 2"), 20)]
['L == a + C', 'C == 2']
"""

from __future__ import annotations

from dataclasses import dataclass

from diffcheck.parser import ParseError
from diffcheck.readers import latex_ast as ast
from diffcheck.readers.latex_ast import Node, Seq, Sym
from diffcheck.readers.latex_tokens import Tok, resolve_delimiters

_OPENERS = frozenset({"LPAREN", "LBRACK", "LSET", "LGROUP", "BAR_OPEN", "NORM_OPEN",
                      "FLOOR_OPEN", "CEIL_OPEN", "ANGLE_OPEN", "BEGIN_CASES"})
_CLOSERS = frozenset({"RPAREN", "RBRACK", "RSET", "RGROUP", "BAR_CLOSE", "NORM_CLOSE",
                      "FLOOR_CLOSE", "CEIL_CLOSE", "ANGLE_CLOSE", "END_CASES"})
#: After a line break, these continue the same statement (a formula broken over lines).
_CONTINUATIONS = frozenset({"ADD", "SUB", "STAR", "CDOT", "SLASH", "REL", "DEF"})


def _top_level(tokens: list[Tok]):
    """Yield (index, token) for tokens outside every bracket."""
    depth = 0
    for index, tok in enumerate(tokens):
        if tok.kind in _OPENERS:
            depth += 1
        elif tok.kind in _CLOSERS:
            depth -= 1
        elif depth == 0:
            yield index, tok


#: Top-level tokens that end a statement: ``a = b, \\quad c = d`` holds two.
_SEPARATORS = frozenset({"COMMA", "SEMI", "KW_WHERE", "PERIOD"})


def split_statements(tokens: list[Tok], end: int) -> list[tuple[list[Tok], int]]:
    """The statements of a formula, each with the column where it ends; trailing commas and
    periods are dropped."""
    top = {index for index, _ in _top_level(tokens)}
    statements: list[tuple[list[Tok], int]] = [([], end)]
    for index, tok in enumerate(tokens):
        if index in top and (tok.kind in _SEPARATORS or (
                tok.kind == "ROWSEP" and not _line_continues(tokens, index))):
            statements[-1] = (statements[-1][0], tok.column)
            statements.append(([], end))
        elif not (index in top and tok.kind == "ROWSEP"):
            statements[-1][0].append(tok)
    return [(statement, stop) for statement, stop in statements if statement]


def _line_continues(tokens: list[Tok], index: int) -> bool:
    """A line break next to an operator (``a + \\\\ b``) continues the same statement."""
    before = tokens[index - 1].kind if index else ""
    after = tokens[index + 1].kind if index + 1 < len(tokens) else ""
    return before in _CONTINUATIONS or after in _CONTINUATIONS


#: Tokens of a left-hand side that names a variable (``l_n``, ``\\hat{y}_{i}``, ``w_{c}``).
_NAME_PATTERN = frozenset({"NAME", "ACCENT", "SUBSCRIPT", "LGROUP", "RGROUP", "COMMA", "NUM",
                           "PRIME"})


@dataclass
class Statement:
    """One statement: ``lhs = ... = rhs``; ``target`` is the lhs when it names a variable."""

    tokens: list[Tok]
    lhs: list[Tok]
    rhs: list[Tok]
    target: list[Tok] | None

    @classmethod
    def split(cls, statement: list[Tok], end: int) -> Statement:
        """The formula after the last top-level ``=`` (a left-hand side such as
        ``L(y, \\hat y) =`` or ``D_{KL}(P \\| Q) =`` is set aside, not read), and the one
        before the first. Bars are resolved in the parts that are read; ``end`` is the
        column where the statement ends."""
        cuts = [index for index, tok in _top_level(statement)
                if (tok.kind == "REL" and tok.value == "==") or tok.kind == "DEF"]
        if not cuts:
            resolved = resolve_delimiters(statement, end)
            return cls(resolved, [], resolved, None)
        rhs = statement[cuts[-1] + 1:]
        if not rhs:
            raise ParseError("nothing after '='", statement[cuts[-1]].column)
        lhs = statement[:cuts[0]]
        names_a_variable = bool(lhs) and lhs[0].kind in ("NAME", "ACCENT") and \
            all(tok.kind in _NAME_PATTERN for tok in lhs)
        target = resolve_delimiters(lhs, statement[cuts[0]].column) if names_a_variable \
            else None
        return cls(statement, lhs, resolve_delimiters(rhs, end), target)


def main_statement(statements: list[Statement], targets: list[Sym | None],
                    bodies: list[Node]) -> int:
    """The loss is the statement whose name no other statement uses: the first one in
    ``\\ell = L, \\quad l_n = |x_n - y_n|``, the last in ``i_c = ... \\\\ d_c = 1 - i_c``."""
    unused = []
    for index, target in enumerate(targets):
        used = target is not None and any(
            _refers_to(body, target) for other, body in enumerate(bodies) if other != index)
        if not used:
            unused.append(index)
    if len(unused) == 1:
        return unused[0]
    if not unused:
        raise ParseError("the definitions refer to each other in a circle",
                         statements[0].tokens[0].column)
    extra = statements[unused[1]]
    raise ParseError("the formula has several parts that nothing else uses; diffcheck cannot "
                     "tell which one is the loss", extra.tokens[0].column)


def _refers_to(body: Node, target: Sym) -> bool:
    for node in ast.walk(body):
        if isinstance(node, Sym) and _match_definition(target, node) is not None:
            return True
        if isinstance(node, Seq) and any(isinstance(item, Sym) and item.base == target.base
                                          and len(item.subs) == len(target.subs)
                                          for item in node.items):
            return True
    return False


def declared_subscripts(lhs: list[Tok]) -> set[str]:
    """``\\ell_{i,j}`` declares i and j: single-letter names in a subscript of the LHS."""
    declared: set[str] = set()
    for index, tok in enumerate(lhs):
        if tok.kind != "SUBSCRIPT" or index + 1 >= len(lhs):
            continue
        following = lhs[index + 1]
        if following.kind == "NAME":
            declared.add(following.value)
        elif following.kind == "LGROUP":
            for inner in lhs[index + 2:]:
                if inner.kind == "RGROUP":
                    break
                if inner.kind == "NAME" and len(inner.value) == 1:
                    declared.add(inner.value)
    return declared


def apply_definitions(main: Node, definitions: list[tuple[Sym, Node]]) -> Node:
    """Substitute ``l_n = ...`` (and a vector ``\\{l_1, \\dots, l_N\\}`` of them) into the loss."""
    table = list(definitions)
    if isinstance(main, Seq):
        main = _sequence_element(main, table)
    used = [False] * len(table)

    def visit(node: Node) -> Node | None:
        if not isinstance(node, Sym):
            return None
        for position, (target, body) in enumerate(table):
            binding = _match_definition(target, node)
            if binding is not None:
                used[position] = True
                return _rename(body, binding)
        return None

    for _ in range(len(table) + 1):
        main = ast.transform(main, visit)
    for position, (target, _) in enumerate(table):
        if not used[position]:
            raise ParseError(f"the definition of {ast.sym_name(target)} is not used",
                             target.col)
    return main


def _sequence_element(seq: Seq, table) -> Node:
    """``\\{l_1,\\dots,l_N\\}`` with ``l_n = ...`` defined: the loss is its element ``l_n``."""
    shapes = {(item.base, len(item.subs)) for item in seq.items if isinstance(item, Sym)}
    if len(shapes) == 1:
        base, count = shapes.pop()
        for target, _ in table:
            if target.base == base and len(target.subs) == count:
                return target
    raise ParseError("a list of values is not a loss (define its elements, as in l_n = ...)",
                     seq.col)


def _match_definition(target: Sym, use: Sym) -> dict[str, Node] | None:
    """How ``use`` instantiates ``target``: ``w_c`` matches ``w_{y_n}`` with c = y_n."""
    if (target.base, target.accents, target.primes) != (use.base, use.accents, use.primes) or \
            len(target.subs) != len(use.subs):
        return None
    binding: dict[str, Node] = {}
    for parameter, value in zip(target.subs, use.subs):
        if isinstance(parameter, Sym) and not parameter.subs and len(parameter.base) == 1:
            binding[parameter.base] = value
        elif ast.sub_text(parameter) != ast.sub_text(value):
            return None
    return binding


def _rename(body: Node, binding: dict[str, Node]) -> Node:
    def visit(node: Node) -> Node | None:
        if isinstance(node, Sym) and not node.subs and not node.accents and \
                node.base in binding:
            return binding[node.base]
        return None

    return ast.transform(body, visit)
