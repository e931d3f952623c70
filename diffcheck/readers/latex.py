"""Read a loss written in LaTeX into diffcheck's expression text, in full or not at all.

The pipeline, one module a stage:

1. :mod:`~diffcheck.readers.latex_tokens` scans the input into tokens (commands looked up
   in tables, bars resolved);
2. :mod:`~diffcheck.readers.latex_statements` splits the formula into statements
   (``\\ell(x, y) = L, \\quad l_n = |x_n - y_n|``) and sets each left-hand side aside;
3. here, an LALR grammar (Lark) parses each right-hand side, so an accepted formula has
   exactly one parse tree, and :class:`_Builder` gives the tree its meaning (which name is a
   function, how far an argument or a sum reaches) as nodes of
   :mod:`~diffcheck.readers.latex_ast`;
4. :mod:`~diffcheck.readers.latex_expand` writes out sums over indices and norms of vectors;
5. :func:`~diffcheck.readers.latex_ast.emit` writes the text syntax, which
   :func:`diffcheck.parser.parse` then reads through its whitelist, as for any input.

Anything not understood is a :class:`~diffcheck.parser.ParseError` with the column of the
first construct in the LaTeX input that could not be read; there is no partial reading.

>>> read_latex(r"\\ell(y, \\hat{y}) = \\left| y - \\hat{y} \\right|").text
'abs(y - y_hat)'
>>> read_latex(r"\\max\\{0, 1 - y f(x)\\}").text
'max(0, 1 - y*F(x))'
>>> reading = read_latex(r"\\frac{1}{N}\\sum_{i=1}^{N} (y_i - \\hat{y}_i)^2")
>>> reading.text
'1/3*((y_1 - y_hat_1)**2 + (y_2 - y_hat_2)**2 + (y_3 - y_hat_3)**2)'
>>> reading.assumptions
['N = 3: the sum over i is written out for i = 1, 2, 3']
>>> read_latex(r"\\log \\sigma(z) + \\sigma^2")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
diffcheck.parser.ParseError: \\sigma is used both as a function, \\sigma(...), and as a number; ...
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from diffcheck.parser import ParseError
from diffcheck.readers import latex_ast as ast
from diffcheck.readers.latex_ast import (
    Add,
    BigOp,
    Call,
    Cases,
    Const,
    Div,
    IndexSpec,
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
    Seq,
    Sym,
)
from diffcheck.readers.latex_expand import expand, indexes_something
from diffcheck.readers.latex_statements import (
    Statement,
    apply_definitions,
    declared_subscripts,
    main_statement,
    split_statements,
)
from diffcheck.readers.latex_tokens import GREEK, Tok, looks_like_latex, scan

__all__ = ["LatexReading", "looks_like_latex", "read_latex", "text_name"]

text_name = ast.text_name

_GRAMMAR = r"""
start: relation

relation: expr (REL expr)*
condition: conjunction (KW_OR conjunction)*
conjunction: negation (KW_AND negation)*
negation: KW_NOT negation | relation

expr: sign? term (addop term)*
sign: ADD | SUB
addop: ADD | SUB
term: product (mulop product)*
mulop: STAR | CDOT | SLASH
product: item+
item: primary postfix*      -> atom
    | FUNC postfix*         -> func
    | BIGOP postfix*        -> bigop
    | EXPECT                -> expect

postfix: SUBSCRIPT script   -> sub
       | SUP script         -> sup
       | PRIME              -> prime
       | BANG               -> bang

script: NAME | NUM | CONST | INFTY | TOP | PRIME | ADD | SUB | STAR
      | LGROUP script_body RGROUP
script_body: arglist | ADD | SUB | STAR | TOP

primary: NUM                            -> num
       | NAME                           -> name
       | CONST                          -> const
       | INFTY                          -> infty
       | DOTS                           -> dots
       | INDICATOR                      -> indicator
       | LPAREN arglist RPAREN          -> parens
       | LBRACK arglist RBRACK          -> brackets
       | LSET arglist RSET              -> braces
       | LGROUP arglist? RGROUP         -> group
       | BAR_OPEN expr BAR_CLOSE        -> abs
       | NORM_OPEN expr NORM_CLOSE      -> norm
       | FLOOR_OPEN expr FLOOR_CLOSE    -> floor
       | CEIL_OPEN expr CEIL_CLOSE      -> ceil
       | ANGLE_OPEN arglist ANGLE_CLOSE -> angle
       | FRAC arg arg                   -> frac
       | SQRT root_index? arg           -> sqrt
       | ACCENT arg                     -> accent
       | BEGIN_CASES rows END_CASES     -> cases

root_index: LBRACK expr RBRACK
arg: LGROUP expr RGROUP | NAME | NUM | CONST
arglist: condition (COMMA condition)*

rows: row (ROWSEP row)* ROWSEP?
row: expr COMMA? row_tail?
row_tail: AMP row_condition?
        | KW_IF condition row_end
        | KW_OTHERWISE row_end
row_condition: KW_IF? condition row_end
             | KW_OTHERWISE row_end
row_end: COMMA? PERIOD?

%declare NUM NAME CONST INFTY DOTS INDICATOR TOP FUNC BIGOP FRAC SQRT ACCENT EXPECT
%declare ADD SUB STAR CDOT SLASH SUP SUBSCRIPT PRIME BANG REL COMMA AMP ROWSEP PERIOD
%declare KW_IF KW_OTHERWISE KW_AND KW_OR KW_NOT
%declare LPAREN RPAREN LBRACK RBRACK LSET RSET LGROUP RGROUP BAR_OPEN BAR_CLOSE
%declare NORM_OPEN NORM_CLOSE FLOOR_OPEN FLOOR_CLOSE CEIL_OPEN CEIL_CLOSE
%declare ANGLE_OPEN ANGLE_CLOSE BEGIN_CASES END_CASES
"""

#: How a token is named in a message.
_DESCRIPTIONS = {
    "AMP": "'&' outside a piecewise definition", "ROWSEP": "'\\\\' (a line break)",
    "COMMA": "','", "REL": "a comparison", "DEF": "a definition", "PERIOD": "'.'",
    "KW_IF": "'if'", "KW_OTHERWISE": "'otherwise'", "DOTS": "'\\dots'",
    "SEMI": "';'", "KW_WHERE": "'where'",
}

#: Latin and Greek letters that name functions when applied: f(x), \phi(x), D(G(z)).
_FUNCTION_LETTERS = frozenset({"f", "g", "h", "p", "q", "d", "r", "s", "ell", "phi", "psi",
                               *"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                               *(name for name in GREEK if name[0].isupper())})


@dataclass
class LatexReading:
    """What :func:`read_latex` read: the expression text and how to map it back.

    ``spans`` maps pieces of ``text`` to LaTeX columns (:meth:`column`); ``assumptions``
    are the readings the text cannot show (sums written out for three index values, labels
    fixed to a class); ``consumed`` are ``values`` keys the reader used itself (a sum
    bound ``N``); ``components`` maps a ``wrt`` name the reader wrote out (the vector ``w``
    of ``\\|w\\|^2``, the ``x_i`` of a sum) to the variables it became.
    """

    source: str
    text: str
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)
    components: dict[str, list[str]] = field(default_factory=dict)

    def column(self, text_column: int) -> int:
        """The LaTeX column behind a 1-based column of ``text``."""
        return ast.column_at(self.spans, text_column)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="basic", propagate_positions=False,
                maybe_placeholders=False)


def read_latex(text: str, values: Mapping[str, Any] | None = None,
               wrt: Sequence[str] = ()) -> LatexReading:
    """Read ``text`` (LaTeX mathematics) as diffcheck's expression text.

    ``values`` are the ``--set`` values: a sum bound among them (``N``) sets how many terms
    the sum is written out for. ``wrt`` are the ``--wrt`` names: one that names a model
    function (``f`` of ``f(x_i)``) makes that function's output a variable.

    >>> read_latex(r"\\max(0, 1 - y f(x))", wrt=["f"]).text
    'max(0, 1 - y*f)'
    """
    try:
        return _read(text, values, wrt)
    except RecursionError:  # a last resort: the nesting limits keep the reader far from it
        raise ParseError("formula is nested too deeply to read", 1, "limit") from None


def _read(text: str, values: Mapping[str, Any] | None, wrt: Sequence[str]) -> LatexReading:
    tokens = scan(text, resolve=False)
    if not tokens:
        raise ParseError("empty formula", 1)
    statements = [Statement.split(part, end)
                  for part, end in split_statements(tokens, len(text) + 1)]
    if not statements:
        raise ParseError("empty formula", 1)
    registry: list[Tok] = []  # every token the grammar sees; lark tokens point into it
    rhs_trees = [_parse(statement.rhs, registry) for statement in statements]
    target_trees = [_parse(statement.target, registry) if statement.target else None
                    for statement in statements]
    builder = _Builder(registry)
    for tree in rhs_trees + [t for t in target_trees if t is not None]:
        builder.count_usage(tree)
    builder.check_usage()
    bodies = [builder.statement(tree) for tree in rhs_trees]
    targets = [builder.target(tree) if tree is not None else None for tree in target_trees]
    main_index = main_statement(statements, targets, bodies)
    definitions = []
    for index, (statement, target, body) in enumerate(zip(statements, targets, bodies)):
        if index == main_index:
            continue
        if target is None:
            raise ParseError("besides the loss, the formula may only define names, as in "
                             "l_n = ...", statement.tokens[0].column)
        definitions.append((target, body))
    main = apply_definitions(bodies[main_index], definitions)
    main = _model_outputs_as_variables(main, wrt, builder.assumptions)
    declared = declared_subscripts(statements[main_index].lhs)
    expansion = expand(main, declared, dict(values or {}))
    text_out, spans = ast.emit(expansion.node)
    assumptions = list(dict.fromkeys(expansion.assumptions + builder.assumptions))
    return LatexReading(text, text_out, spans, assumptions, expansion.consumed,
                        _wrt_components(main, expansion.node, wrt))


def _parse(part: list[Tok], registry: list[Tok]) -> Tree:
    """Parse one statement's tokens; each is added to ``registry``, and the ``start_pos`` of
    its lark token is its index there."""
    interactive = _parser().parse_interactive()
    for tok in part:
        registry.append(tok)
        if tok.kind == "UNREADABLE":
            raise ParseError(tok.value, tok.column)
        if tok.kind in ("DEF", "SEMI", "KW_WHERE"):
            raise ParseError(f"unexpected {_DESCRIPTIONS.get(tok.kind, tok.value)}", tok.column)
        token = Token(tok.kind, tok.value, start_pos=len(registry) - 1, line=1,
                      column=tok.column)
        try:
            interactive.feed_token(token)
        except UnexpectedInput:
            raise ParseError(f"cannot read the formula at {_describe(tok)}", tok.column) \
                from None
    try:
        return interactive.feed_eof()
    except UnexpectedInput:
        last = part[-1]
        raise ParseError(f"the formula ends too early (after {_describe(last)})",
                         last.column) from None


def _describe(tok: Tok) -> str:
    if tok.kind in _DESCRIPTIONS:
        return _DESCRIPTIONS[tok.kind]
    return repr(tok.value)


# --- meaning --------------------------------------------------------------------------------


@dataclass
class _Group:
    """A bracketed group before it is known whether it holds arguments or a value."""

    col: int
    kind: str  # parens brackets braces
    args: list[Node]
    postfixes: list[Tree]
    spaced: bool


@dataclass
class _Item:
    """One juxtaposed item of a product, before function application is decided."""

    kind: str  # factor func bigop group indicator
    col: int
    node: Node | None = None
    name: str = ""  # func / bigop name
    sub: Tree | None = None  # the script trees of a func / bigop
    sup: Tree | None = None
    group: _Group | None = None


class _Builder:
    """Gives the parse tree its meaning: nodes of :mod:`~diffcheck.readers.latex_ast`."""

    def __init__(self, tokens: list[Tok]) -> None:
        self.tokens = tokens
        #: name -> how often it is applied to parentheses ("applied"), used otherwise
        #: ("bare"), and used without a superscript ("unpowered")
        self.usage: dict[str, dict[str, int]] = {}
        self.first_column: dict[str, int] = {}
        self.assumptions: list[str] = []
        #: name -> the single letters written as its superscripts (x_i^a, x_i^p, x_i^n)
        self.letter_superscripts: dict[str, set[str]] = {}
        #: True while building an item that another factor follows: there, w^T x is w'x
        self.transpose_context = False
        #: the negated term after a sum that ends its term (\sum_c -y_c \log p_c): its body
        self.signed_body: Node | None = None

    def tok(self, token: Token | Tree) -> Tok:
        """The scanned token behind a lark token (its ``start_pos`` is the index)."""
        assert isinstance(token, Token) and token.start_pos is not None
        return self.tokens[token.start_pos]

    def error(self, message: str, column: int) -> ParseError:
        return ParseError(message, column)

    # --- first pass: how each name is used -----------------------------------------------

    def count_usage(self, tree: Tree) -> None:
        """Record, for every name, whether it is applied to parentheses, used bare, or both."""
        for subtree in tree.iter_subtrees():
            if subtree.data != "product":
                continue
            items = subtree.children
            for index, item in enumerate(items):
                sym = self.name_like(item)
                if sym is None:
                    continue
                key = ast.sym_name(sym, reserved_ok=True)
                record = self.usage.setdefault(key, {"bare": 0, "applied": 0, "unpowered": 0})
                self.first_column.setdefault(key, sym.col)
                following = items[index + 1] if index + 1 < len(items) else None
                group = self.paren_group(following)
                powered = any(p.data == "sup" for p in item.children[1:])
                if not powered:
                    record["unpowered"] += 1
                if group is not None and not powered:
                    record["applied"] += 1
                else:
                    record["bare"] += 1
        for subtree in tree.iter_subtrees():
            if subtree.data == "atom":
                self.count_letter_superscripts(subtree)

    def count_letter_superscripts(self, atom: Tree) -> None:
        primary, *postfixes = atom.children
        if primary.data not in ("name", "accent") or len(postfixes) < 2 or \
                postfixes[0].data != "sub" or postfixes[1].data != "sup":
            return
        script = postfixes[1].children[1]
        letter = script.children[0]
        if not (isinstance(letter, Token) and letter.type == "NAME" and
                self.tok(letter).style in ("letter", "pair")):
            return
        try:
            sym = self.apply_postfixes(self.primary(primary), [postfixes[0]])
        except ParseError:
            return
        if isinstance(sym, Sym):
            key = ast.sym_name(sym, reserved_ok=True)
            self.letter_superscripts.setdefault(key, set()).add(str(letter))

    def name_like(self, item: Tree) -> Sym | None:
        """The variable an item names, when it is one (a name, an accent, with subscripts)."""
        if item.data != "atom":
            return None
        primary, *postfixes = item.children
        if primary.data not in ("name", "accent"):
            return None
        if any(p.data not in ("sub", "prime", "sup") for p in postfixes):
            return None
        named = [p for p in postfixes if p.data != "sup"]
        try:
            node = self.apply_postfixes(self.primary(primary), named)
        except ParseError:
            return None
        return node if isinstance(node, Sym) else None

    def paren_group(self, item: Tree | None) -> int | None:
        """The number of arguments, when ``item`` is a parenthesized group ``(a, b)``."""
        if item is None or item.data != "atom":
            return None
        primary = item.children[0]
        if primary.data != "parens":
            return None
        arglist = primary.children[1]
        return sum(1 for child in arglist.children if isinstance(child, Tree))

    def check_usage(self) -> None:
        """Refuse a name used both as a function (or Euler's number) and as a variable."""
        euler = self.usage.get("e")
        if euler and euler["unpowered"] and euler["unpowered"] < euler["bare"] + \
                euler["applied"]:
            raise self.error("e is used both as Euler's number (e^{...}) and as a variable; "
                             "write \\exp(...) for the exponential", self.first_column["e"])
        for key, record in self.usage.items():
            if record["applied"] and record["bare"] and self.is_function_name(key):
                raise self.error(
                    f"{_latex_name(key)} is used both as a function, {_latex_name(key)}(...), "
                    "and as a number; diffcheck cannot tell which is meant",
                    self.first_column[key])

    @staticmethod
    def is_function_name(key: str) -> bool:
        base = key.split("_")[0]
        return base in _FUNCTION_LETTERS or base == "sigma"

    def call_kind(self, sym: Sym, args: list[Node]) -> str:
        """Is ``name(...)`` a call (``sigmoid``, ``model``) or a product (``multiply``)?

        ``\\sigma(z)`` is the sigmoid; ``f(x)``, ``\\phi(x)``, ``D(G(z))``, ``k(x, x')`` and
        ``\\operatorname{sim}(u)`` are model functions; ``u(\\tau - 1)``, ``y(1 - p)`` and
        ``\\alpha(1 - p)`` are products. Another letter before one name in parentheses
        (``r(w)``, ``\\theta(x)``) could be either: refused.
        """
        arg_count = len(args)
        key = ast.sym_name(sym, reserved_ok=True)
        pair = self.tokens_before(sym) + sym.base if sym.style == "pair" else ""
        if pair and (pair.isupper() or pair[0] in _FUNCTION_LETTERS):
            # CE(p, y), hd(X, Y): one function, or C times E(p, y)? (yf(x) is y f(x))
            raise self.error(f"is {pair}(...) one function or a product of {pair[0]} and "
                             f"{sym.base}(...)? Write \\operatorname{{{pair}}}(...) or "
                             f"{pair[0]}\\,{sym.base}(...)", sym.col - 1)
        record = self.usage.get(key, {"bare": 0})
        if record["bare"]:
            if arg_count > 1:
                raise self.error(f"{_latex_name(key)} is used both as a function of "
                                 f"{arg_count} arguments and as a number", sym.col)
            return "multiply"
        if key == "sigma" and arg_count == 1:
            return "sigmoid"
        if arg_count > 1 or sym.style == "operator":
            return "model"
        if sym.base in _FUNCTION_LETTERS or sym.base == "sigma":
            return "model"
        if sym.style in ("text", "word") or isinstance(args[0], Sym):
            raise self.error(f"is {_latex_name(key)}(...) a function or a product? Write "
                             f"\\operatorname{{{sym.base}}}(...) for a function, or "
                             f"{_latex_name(key)} \\cdot (...)", sym.col)
        return "multiply"

    def tokens_before(self, sym: Sym) -> str:
        """The capital written just before ``sym`` (the C of ``CE``)."""
        return next((tok.value for tok in self.tokens if tok.column == sym.col - 1 and
                     tok.kind == "NAME"), "")

    # --- statements ------------------------------------------------------------------------

    def statement(self, tree: Tree) -> Node:
        (relation,) = tree.children
        node = self.relation(relation)
        if isinstance(node, BigOp) and _is_objective(node):
            names = ", ".join(node.spec.indices)
            self.assumptions.append(f"\\{node.kind}_{{{names}}}: the objective is read, as a "
                                    f"function of {names} (the loss {node.kind}imized)")
            node = node.body
        if isinstance(node, (Rel, Logic)):
            raise self.error("the formula is a comparison, not a loss (write an indicator "
                             "as \\mathbb{1}[...])", node.col)
        return node

    def target(self, tree: Tree) -> Sym | None:
        """The variable a definition defines (``l_n``), or None when it is not one."""
        (relation,) = tree.children
        node = self.relation(relation)
        return node if isinstance(node, Sym) else None

    # --- conditions and relations ----------------------------------------------------------

    def relation(self, tree: Tree) -> Node:
        children = tree.children
        operands = [self.expr(child) for child in children[0::2]]
        if len(operands) == 1:
            return operands[0]
        ops = [str(op) for op in children[1::2]]
        if any(_infinity_sign(operand) for operand in operands):
            return self.compare_with_infinity(ops, operands)
        return Rel(operands[0].col, ops, operands)

    def compare_with_infinity(self, ops: list[str], operands: list[Node]) -> Node:
        """``\\alpha = -\\infty`` is false and ``x < \\infty`` true for every number: the
        comparison is its truth value (Barron's loss lists alpha = -infinity as a case)."""
        holds = True
        for op, left, right in zip(ops, operands, operands[1:]):
            signs = (_infinity_sign(left), _infinity_sign(right))
            if signs[0] and signs[1]:
                raise self.error("a comparison of two infinities", left.col)
            if not signs[0] and not signs[1]:
                raise self.error("\\infty is only supported compared with a number",
                                 left.col)
            # with a finite number on one side, only the side of infinity decides
            infinite_right = signs[1] != 0
            sign = signs[1] or signs[0]
            bigger = {"<": True, "<=": True, ">": False, ">=": False}
            if op in ("==", "!="):
                holds = holds and op == "!="
            else:
                finite_smaller = sign > 0
                holds = holds and (bigger[op] == finite_smaller if infinite_right
                                   else bigger[op] != finite_smaller)
        note = "a number is never infinite: a comparison with \\infty is read as its truth value"
        if note not in self.assumptions:
            self.assumptions.append(note)
        return Num(operands[0].col, str(int(holds)), Fraction(int(holds)))

    def condition(self, tree: Tree) -> Node:
        parts = [self.conjunction(child) for child in tree.children if isinstance(child, Tree)]
        return parts[0] if len(parts) == 1 else Logic(parts[0].col, "or", parts)

    def conjunction(self, tree: Tree) -> Node:
        parts = [self.negation(child) for child in tree.children if isinstance(child, Tree)]
        return parts[0] if len(parts) == 1 else Logic(parts[0].col, "and", parts)

    def negation(self, tree: Tree) -> Node:
        first = tree.children[0]
        if isinstance(first, Token):
            inner = self.negation(tree.children[1])
            return Logic(self.tok(first).column, "not", [inner])
        return self.relation(first)

    def arglist(self, tree: Tree) -> list[Node]:
        return [self.condition(child) for child in tree.children if isinstance(child, Tree)]

    # --- sums and products -----------------------------------------------------------------

    def expr(self, tree: Tree) -> Node:
        outer, self.signed_body = self.signed_body, None  # for the sum of an enclosing term
        try:
            return self.expr_terms(tree)
        finally:
            self.signed_body = outer

    def expr_terms(self, tree: Tree) -> Node:
        terms: list[tuple[int, Node]] = []
        sign = 1
        children = tree.children
        index = 0
        while index < len(children):
            child = children[index]
            index += 1
            if child.data in ("sign", "addop"):
                sign = -1 if _token(child.children[0]).type == "SUB" else 1
                continue
            if _ends_with_open_operator(child) and index + 1 < len(children) and \
                    _token(children[index].children[0]).type == "SUB":
                # \sum_c -y_c \log p_c: the minus signs the summand, the next term
                following = self.term(children[index + 1])
                self.signed_body = Add(following.col, [(-1, following)])
                index += 2
            terms.append((sign, self.term(child)))
            if self.signed_body is not None:  # not taken (no sum was left without a body)
                col, self.signed_body = self.signed_body.col, None
                raise self.error("a sum needs something to sum after it", col)
            sign = 1
        terms = _extend_open_sums(terms)
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        return Add(terms[0][1].col, terms)

    def term(self, tree: Tree) -> Node:
        """Products joined by ``\\cdot``, ``*`` and ``/``; a sum takes the rest of the term."""
        children = tree.children
        products = children[0::2]
        operators = [_token(child.children[0]).type for child in children[1::2]]
        result: Node | None = None
        index = 0
        while index < len(products):
            operator = operators[index - 1] if index else None
            rest = list(zip(operators[index:], products[index + 1:]))
            factors, consumed_rest = self.product_factors(products[index], rest)
            if operator == "SLASH" and result is not None:
                result = _divide(result, factors)
            else:
                node = _product(factors)
                result = node if result is None else _combine(result, operator, node)
            if consumed_rest:
                break
            index += 1
        assert result is not None
        return result

    def product(self, tree: Tree, rest: list[tuple[str, Tree]]) -> tuple[Node, bool]:
        """Juxtaposed items; ``rest`` is what follows in the term (for a sum to take)."""
        factors, consumed_rest = self.product_factors(tree, rest)
        return _product(factors), consumed_rest

    def product_factors(self, tree: Tree, rest: list[tuple[str, Tree]]
                        ) -> tuple[list[Node], bool]:
        items = []
        outer = self.transpose_context
        try:
            for position, child in enumerate(tree.children):
                self.transpose_context = position + 1 < len(tree.children)
                items.append(self.item(child))
        finally:
            self.transpose_context = outer
        return self.group_items(items, rest)

    def group_items(self, items: list[_Item], rest: list[tuple[str, Tree]]
                    ) -> tuple[list[Node], bool]:
        factors: list[Node] = []
        index = 0
        while index < len(items):
            item = items[index]
            following = items[index + 1] if index + 1 < len(items) else None
            if item.kind == "expect":
                factors.append(self.expectation(item, following))
                index += 2
                continue
            if item.kind == "func" and item.name in ("max", "min") and item.sub is not None \
                    and following is not None and following.group is not None and \
                    len(following.group.args) == 1 and not following.group.postfixes:
                # \max_{j \neq y_i} (s_j - s_{y_i}): the group is what the max runs over
                node = self.big_operator(item, following.group.args[0], open_ended=False)
                factors.append(self.apply_postfixes(node, following.group.postfixes))
                index += 2
                continue
            if item.kind == "bigop" or (item.kind == "func" and item.name in ("max", "min")
                                        and item.sub is not None):
                body_factors, _ = self.group_items(items[index + 1:], [])
                body = self.rest_of_term(body_factors, rest, item.col)
                factors.append(self.big_operator(item, body))
                return factors, True
            if item.kind == "func":
                node, index = self.apply_function(items, index, rest)
                factors.append(node)
                continue
            if item.kind == "indicator":
                node, index = self.indicator(items, index)
                factors.append(node)
                continue
            # an item that takes the next one: f(x), x[i], w^T x
            paired = self.try_call(items, index) or self.try_indexing(items, index) or \
                self.try_inner_product(items, index)
            if paired is not None:
                factors.append(paired)
                index += 2
                continue
            factors.append(self.value(item))
            index += 1
        return [f for f in factors if not _is_empty(f)], False

    def rest_of_term(self, factors: list[Node], rest: list[tuple[str, Tree]], col: int) -> Node:
        """The body of a sum: the factors after it and the rest of the term (``\\cdot b``)."""
        body: Node | None = _product(factors) if factors else None
        for operator, product_tree in rest:
            following, _ = self.product_factors(product_tree, [])
            if body is None:
                raise self.error("a sum needs something to sum", col)
            body = _divide(body, following) if operator == "SLASH" else \
                _combine(body, operator, _product(following))
        if body is None and self.signed_body is not None:
            body, self.signed_body = self.signed_body, None
        if body is None:
            raise self.error("a sum needs something to sum after it", col)
        return body

    def expectation(self, item: _Item, following: _Item | None) -> Node:
        """``\\mathbb{E}_{x \\sim p}[\\ell(x)]`` is read as ``mean(...)``: like a mean over
        the batch, an expectation is as differentiable as what it averages."""
        if following is None or following.group is None or len(following.group.args) != 1:
            raise self.error("write the argument of \\mathbb{E} in brackets: "
                             "\\mathbb{E}[...]", item.col)
        note = ("an expectation E[...] is read as mean(...): it is as differentiable as "
                "what it averages")
        if note not in self.assumptions:
            self.assumptions.append(note)
        node = Call(item.col, "mean", following.group.args)
        return self.apply_postfixes(node, following.group.postfixes)

    def value(self, item: _Item) -> Node:
        if item.kind == "group":
            assert item.group is not None
            return self.group_value(item.group)
        if item.kind in ("func", "bigop"):
            raise self.error(f"\\{item.name} needs an argument", item.col)
        assert item.node is not None
        if isinstance(item.node, _Transposed):
            raise self.error("a transpose must be followed by the vector it multiplies",
                             item.col)
        return item.node

    def group_value(self, group: _Group) -> Node:
        """A bracketed group used as a value: one argument (``(1 - p)``), with its postfixes."""
        if len(group.args) != 1:
            if any(isinstance(arg, _Dots) for arg in group.args):
                node: Node = Seq(group.col, group.args)
            else:
                raise self.error(f"a list of {len(group.args)} values is not a number (only a "
                                 "function takes several arguments)", group.col)
        else:
            node = group.args[0]
        return self.apply_postfixes(node, group.postfixes, group_kind=group.kind)

    # --- items -----------------------------------------------------------------------------

    def item(self, tree: Tree) -> _Item:
        if tree.data == "expect":
            return _Item("expect", self.tok(tree.children[0]).column)
        if tree.data in ("func", "bigop"):
            name_token, *postfixes = tree.children
            sub = sup = None
            for postfix in postfixes:
                if postfix.data == "sub" and sub is None:
                    sub = postfix.children[1]
                elif postfix.data == "sup" and sup is None:
                    sup = postfix.children[1]
                else:
                    raise self.error("a function takes one subscript and one superscript",
                                     self.tok(name_token).column)
            return _Item(tree.data, self.tok(name_token).column, name=str(name_token), sub=sub,
                         sup=sup)
        primary, *postfixes = tree.children
        col = self.first_col(primary)
        inner = _sole_atom(primary.children[1]) if primary.data == "group" and \
            len(primary.children) == 3 else None
        if inner is not None and len(inner.children) == 1 and \
                inner.children[0].data in ("parens", "brackets", "braces"):
            # \log{\left(x\right)}^{3}: braces around a bracketed group are only grouping,
            # so the function takes the group and the power applies to its value
            primary = inner.children[0]
        if primary.data in ("parens", "brackets", "braces"):
            args = self.arglist(primary.children[1])
            spaced = self.tok(primary.children[0]).spaced
            return _Item("group", col, group=_Group(col, primary.data, args, postfixes, spaced))
        if primary.data == "indicator":
            if postfixes and postfixes[0].data == "sub":
                cond = self.script_condition(postfixes[0].children[1])
                node = self.apply_postfixes(Indicator(col, cond), postfixes[1:])
                return _Item("factor", col, node=node)
            if postfixes:
                raise self.error("an indicator \\mathbb{1} takes a subscript or a bracket",
                                 col)
            return _Item("indicator", col)
        return _Item("factor", col, node=self.atom(tree))

    def first_col(self, tree: Tree | Token) -> int:
        if isinstance(tree, Token):
            return self.tok(tree).column
        return self.first_col(tree.children[0])

    def atom(self, tree: Tree) -> Node:
        primary, *postfixes = tree.children
        node = self.primary(primary)
        return self.apply_postfixes(node, postfixes, "bars" if primary.data == "abs" else "")

    def apply_postfixes(self, node: Node, postfixes: list[Tree], group_kind: str = "") -> Node:
        postfixes = _subscript_first(postfixes)
        for before, after in itertools.pairwise(postfixes):
            if before.data == after.data == "sup":
                # LaTeX refuses x^a^b too: is it x^{ab} or x^{a^b}?
                raise self.error("a double superscript: write x^{a b} or x^{a^{b}}",
                                 self.first_col(after))
        for postfix in postfixes:
            kind = postfix.data
            col = self.first_col(postfix)
            if kind == "sub":
                node = self.subscript(node, postfix.children[1], group_kind, col)
            elif kind == "sup":
                node = self.superscript(node, postfix.children[1], group_kind, col)
            elif kind == "prime":
                if not isinstance(node, Sym):
                    raise self.error("a prime (') is only supported on a name, as in x'", col)
                node = replace(node, primes=node.primes + 1)
            else:
                raise self.error("factorials (!) are not supported", col)
            group_kind = ""
        return node

    def subscript(self, node: Node, script: Tree, group_kind: str, col: int) -> Node:
        if self.script_sign(script) == "+" and (group_kind in ("brackets", "parens") or (
                isinstance(node, Call) and node.func == "abs" and group_kind == "bars")):
            # [x]_+, (x)_+ and |x|_+ are the positive part max(x, 0)
            inner = node.args[0] if isinstance(node, Call) and group_kind == "bars" else node
            return Call(node.col, "relu", [inner])
        if isinstance(node, Sym):
            if node.subs:
                raise self.error("a name can have one subscript", col)
            return replace(node, subs=tuple(self.script_items(script)))
        if isinstance(node, Norm):
            return replace(node, order=self.norm_order(script, col))
        if isinstance(node, Num) and node.value == 1:
            return Indicator(node.col, self.script_condition(script))
        raise self.error("a subscript is only supported on a name, a norm, 1_{...} and "
                         "[...]_+", col)

    def superscript(self, node: Node, script: Tree, group_kind: str, col: int) -> Node:
        sign = self.script_sign(script)
        if sign == "+" and group_kind in ("brackets", "parens"):
            return Call(node.col, "relu", [node])
        if sign == "T":
            if isinstance(node, Seq):
                return node  # {l_1, ..., l_N}^T: the same elements
            if isinstance(node, Sym):
                return _Transposed(node.col, node)
            raise self.error("only a vector name can be transposed", col)
        if sign is not None:
            if isinstance(node, Sym) and sign in ("+", "-", "*"):
                mark = {"+": "plus", "-": "minus", "*": "star"}[sign]
                return replace(node, accents=(*node.accents, mark))
            raise self.error(f"^{sign} is not supported here", col)
        label = self.script_label(script)
        if isinstance(node, Sym) and label is not None:
            return replace(node, subs=(*node.subs, label))  # y^{(i)}: the i-th example, y_i
        exponent = self.script_value(script)
        if isinstance(node, Sym) and node.base == "e" and not node.subs and not node.accents:
            return Call(node.col, "exp", [exponent])
        if isinstance(node, Sym) and isinstance(exponent, Sym) and \
                exponent.style in ("letter", "pair") \
                and not exponent.subs and exponent.base.isascii() and len(exponent.base) == 1:
            key = ast.sym_name(node, reserved_ok=True)
            if exponent.base == "T" and self.transpose_context:
                return _Transposed(node.col, node)
            if node.subs and len(self.letter_superscripts.get(key, ())) >= 2:
                # x_i^a, x_i^p, x_i^n: anchor, positive, negative (FaceNet's triplets)
                return replace(node, subs=(*node.subs, exponent))
            if not node.subs and exponent.base != "T":
                return Pow(node.col, node, exponent)  # x^y, p^n: a power
            raise self.error(
                f"is {_latex_name(key)}^{exponent.base} a power or a label? Write "
                f"({_latex_name(key)})^{exponent.base} for a power, or "
                f"{_latex_name(key)}^{{({exponent.base})}} for a label", col)
        if isinstance(node, _Transposed):
            raise self.error("a transposed vector cannot be raised to a power", col)
        return Pow(node.col, node, exponent)

    # --- scripts ---------------------------------------------------------------------------

    def script_body(self, script: Tree) -> list[Tree] | Token:
        """The content of a script: a list of condition trees, or a single sign token."""
        first = script.children[0]
        if isinstance(first, Token) and first.type != "LGROUP":
            return first
        body = script.children[1]
        inner = body.children[0]
        if isinstance(inner, Token):
            return inner
        return [child for child in inner.children if isinstance(child, Tree)]

    def script_label(self, script: Tree) -> Sym | None:
        """``^{(i)}``: one letter in parentheses as a superscript is an index, not a power."""
        content = self.script_body(script)
        atom = _sole_atom(content[0]) if isinstance(content, list) and len(content) == 1 \
            else None
        if atom is None or len(atom.children) != 1 or atom.children[0].data != "parens":
            return None
        args = self.arglist(atom.children[0].children[1])
        if len(args) == 1 and isinstance(args[0], Sym) and not args[0].subs and \
                len(args[0].base) == 1:
            return args[0]
        return None

    def script_sign(self, script: Tree) -> str | None:
        content = self.script_body(script)
        if isinstance(content, Token) and content.type in ("ADD", "SUB", "STAR", "TOP"):
            return {"ADD": "+", "SUB": "-", "STAR": "*", "TOP": "T"}[content.type]
        return None

    def script_nodes(self, script: Tree) -> list[Node]:
        content = self.script_body(script)
        if isinstance(content, Token):
            return [self.script_token(content)]
        return [self.condition(child) for child in content]

    def script_token(self, token: Token) -> Node:
        tok = self.tok(token)
        if tok.style == "unbraced":
            raise self.error(f"{tok.value}: LaTeX puts only its first character in the script; "
                             f"write {{{tok.value}}} (or {{{tok.value[0]}}}{tok.value[1:]})",
                             tok.column)
        if tok.kind == "NAME":
            return Sym(tok.column, tok.value, style=tok.style)
        if tok.kind == "NUM":
            return _num(tok)
        if tok.kind == "CONST":
            return Const(tok.column, tok.value)
        if tok.kind == "INFTY":
            return _Infinity(tok.column)
        if tok.kind == "PRIME":
            raise self.error("^\\prime: write x' for a prime", tok.column)
        raise self.error(f"cannot read the script {tok.value!r}", tok.column)

    def script_value(self, script: Tree) -> Node:
        nodes = self.script_nodes(script)
        if len(nodes) != 1:
            raise self.error("a superscript holds one value", nodes[1].col)
        return nodes[0]

    def script_condition(self, script: Tree) -> Node:
        node = self.script_value(script)
        if not isinstance(node, (Rel, Logic)):
            raise self.error("an indicator needs a condition such as u < 0", node.col)
        return node

    def script_items(self, script: Tree) -> list[Node]:
        """Subscript items of a name: ``{n,c}`` -> [n, c]; ``{ij}`` -> [Run(i, j)]; ``k_+``
        -> [plus]."""
        sign = self.script_sign(script)
        if sign in ("+", "-", "*"):
            return [Sym(self.first_col(script), {"+": "plus", "-": "minus", "*": "star"}[sign])]
        items = []
        for node in self.script_nodes(script):
            if isinstance(node, Mul) and all(isinstance(f, (Sym, Num)) for f in node.factors):
                node = Run(node.col, list(node.factors))
            if isinstance(node, (Rel, Logic)):
                raise self.error("a comparison in the subscript of a name", node.col)
            items.append(node)
        return items

    def norm_order(self, script: Tree, col: int) -> Fraction | str:
        node = self.script_value(script)
        if isinstance(node, Num) and node.value >= 1:
            return node.value
        if isinstance(node, _Infinity):
            return "inf"
        if isinstance(node, Sym) and node.base == "F" and not node.subs:
            return Fraction(2)  # Frobenius
        if isinstance(node, Sym) and not node.subs:
            return "symbol:" + node.base
        raise self.error("a norm's order must be a number, \\infty or a name such as p", col)

    # --- primaries -------------------------------------------------------------------------

    def primary(self, tree: Tree) -> Node:
        kind = tree.data
        children = tree.children
        col = self.first_col(tree)
        if kind == "num":
            return _num(self.tok(children[0]))
        if kind == "name":
            tok = self.tok(children[0])
            return Sym(tok.column, tok.value, style=tok.style)
        if kind == "const":
            return Const(col, str(children[0]))
        if kind == "infty":
            return _Infinity(col)
        if kind == "dots":
            return _Dots(col)
        if kind == "group":
            args = self.arglist(children[1]) if len(children) == 3 else []
            if not args:
                return _Empty(col)
            if len(args) > 1:
                raise self.error("a {...} group holds one value", args[1].col)
            return args[0]
        if kind in ("parens", "brackets", "braces"):
            args = self.arglist(children[1])
            return self.group_value(_Group(col, kind, args, [], self.tok(children[0]).spaced))
        if kind == "abs":
            return Call(col, "abs", [self.expr(children[1])])
        if kind == "norm":
            return Norm(col, self.expr(children[1]))
        if kind == "floor":
            return Call(col, "floor", [self.expr(children[1])])
        if kind == "ceil":
            return Call(col, "ceil", [self.expr(children[1])])
        if kind == "angle":
            args = self.arglist(children[1])
            if len(args) != 2:
                raise self.error("an inner product \\langle a, b \\rangle takes two vectors", col)
            return Inner(col, args[0], args[1])
        if kind == "frac":
            num, den = self.arg(children[1]), self.arg(children[2])
            if _is_differential(num) and _is_differential(den):
                raise self.error("derivatives (\\frac{d}{dx}) are not supported", col)
            return Div(col, num, den)
        if kind == "sqrt":
            if len(children) == 3:
                index = self.expr(children[1].children[1])
                if not (isinstance(index, Num) and index.value.denominator == 1
                        and index.value >= 2):
                    raise self.error("the index of a root must be a whole number", index.col)
                if index.value % 2:
                    raise self.error("odd roots (the real cube root) are not supported",
                                     index.col)
                return Pow(col, self.arg(children[2]),
                           Div(index.col, Num(index.col, "1", Fraction(1)), index))
            return Call(col, "sqrt", [self.arg(children[1])])
        if kind == "accent":
            inner = self.arg(children[1])
            if not isinstance(inner, Sym):
                raise self.error("an accent (\\hat, \\bar...) is only supported on a name", col)
            accent = str(children[0])
            return replace(inner, accents=(*inner.accents, accent), col=col)
        if kind == "cases":
            return self.cases(children[1], col)
        if kind == "indicator":
            raise self.error("\\mathbb{1} needs a condition: \\mathbb{1}[u < 0]", col)
        raise self.error(f"cannot read {kind}", col)

    def arg(self, tree: Tree) -> Node:
        first = tree.children[0]
        if isinstance(first, Token) and first.type != "LGROUP":
            return self.script_token(first)
        return self.expr(tree.children[1])

    def cases(self, rows_tree: Tree, col: int) -> Node:
        """``\\begin{cases} a & \\text{if } c \\\\ b & \\text{otherwise} \\end{cases}``."""
        rows: list[tuple[Node, Node | None]] = []
        for row in rows_tree.children:
            if not isinstance(row, Tree):
                continue  # a line break
            value = self.expr(row.children[0])
            tail = next((c for c in row.children if isinstance(c, Tree) and
                         c.data == "row_tail"), None)
            condition: Node | None = _MISSING
            if tail is not None:
                # the row's own condition: a child of the tail (or of its row_condition), not
                # a condition nested in it (the {x} of \left|{x}\right| < 1 is one too)
                parts = [c for c in tail.children if isinstance(c, Tree)]
                parts += [c for p in parts if p.data == "row_condition" for c in p.children
                          if isinstance(c, Tree)]
                found = next((c for c in parts if c.data == "condition"), None)
                if found is not None:
                    condition = self.condition(found)
                elif any(isinstance(leaf, Token) and leaf.type == "KW_OTHERWISE"
                         for leaf in _leaves(tail)):
                    condition = None
            rows.append((value, condition))
        return _cases(rows, col, self)

    # --- functions and calls ---------------------------------------------------------------

    def apply_function(self, items: list[_Item], index: int, rest) -> tuple[Node, int]:
        """``\\log(x)``, ``\\log x``, ``\\max\\{0, x\\}``, ``\\log^2 x``, ``\\log_2 x``."""
        func = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if following is None:
            raise self.error(f"\\{func.name} needs an argument", func.col)
        if following.kind == "group":
            assert following.group is not None
            args = following.group.args
            node: Node = Call(func.col, func.name, args)
            node = self.function_scripts(func, node)
            node = self.apply_postfixes(node, following.group.postfixes)
            return node, index + 2
        argument, next_index = self.bare_argument(items, index + 1, func)
        node = self.function_scripts(func, Call(func.col, func.name, [argument]))
        return node, next_index

    def bare_argument(self, items: list[_Item], index: int, func: _Item) -> tuple[Node, int]:
        """The argument of ``\\log x_n``: the next item and the names and numbers after it
        (``\\log 2\\pi\\sigma^2`` is ``log(2*pi*sigma**2)``)."""
        first = items[index]
        if first.kind == "func" and not (first.name in ("max", "min") and first.sub is not None):
            return self.apply_function(items, index, [])
        if first.kind in ("bigop", "func"):
            # \log \sum_j e^{f_j}: the sum takes the rest of the product
            body_factors, _ = self.group_items(items[index + 1:], [])
            body = self.rest_of_term(body_factors, [], first.col)
            return self.big_operator(first, body), len(items)
        ambiguous = ParseError(f"where does the argument of \\{func.name} end? Write "
                               f"\\{func.name}(...) with parentheses", first.col)
        call = self.try_call(items, index)
        if call is not None:
            factors, index = [call], index + 2
        elif first.kind == "indicator":
            node, index = self.indicator(items, index)
            factors = [node]
        else:
            factors, index = [self.value(first)], index + 1
        following = items[index] if index < len(items) else None
        if isinstance(factors[0], (Num, Const)) or (isinstance(factors[0], Pow) and
                                                   isinstance(factors[0].base, (Num, Const))):
            # a coefficient starts a product: \log 2\pi\sigma^2 is log(2*pi*sigma**2)
            while index < len(items) and _is_simple(items[index]) and \
                    self.try_call(items, index) is None:
                factors.append(self.value(items[index]))
                index += 1
            following = items[index] if index < len(items) else None
            if following is not None and following.kind == "group":
                raise ambiguous
        elif _is_simple_node(factors[0]):
            # \log x y: log(x*y) or log(x)*y? \log x (1 - x)?
            if following is not None and (following.kind == "group" or _is_simple(following)):
                raise ambiguous
        elif following is not None and following.kind == "group":
            raise ambiguous  # \log \frac{1}{2} (x + 1)
        return _product(factors), index

    def function_scripts(self, func: _Item, node: Node) -> Node:
        assert isinstance(node, Call)
        if func.sub is not None:
            if func.name != "log":
                raise self.error(f"\\{func.name} does not take a subscript here", func.col)
            base = self.script_value(func.sub)
            if not (isinstance(base, Sym) and base.base == "e" and not base.subs):
                node = Call(node.col, "log", [*node.args, base])
        if func.sup is not None:
            exponent = self.script_value(func.sup)
            if _is_negative(exponent):
                raise self.error(f"\\{func.name}^{{-1}} (an inverse function) is not "
                                 "supported", func.col)
            node = Pow(node.col, node, exponent)
        return node

    def try_call(self, items: list[_Item], index: int) -> Node | None:
        """``f(x_i)``, ``\\sigma(z)``: a name applied to a parenthesized group."""
        item = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if following is None or following.kind != "group" or following.group is None or \
                following.group.kind != "parens" or item.kind != "factor":
            return None
        power = item.node
        if isinstance(power, Pow) and isinstance(power.base, Sym) and \
                _is_minus_one(power.exp) and (power.base.style == "operator" or
                                             power.base.base in _FUNCTION_LETTERS or
                                             power.base.base == "sigma"):
            # f^{-1}(x) is the inverse function; read as f**(-1)*x it would be wrong
            name = _latex_name(ast.sym_name(power.base, reserved_ok=True))
            raise self.error(f"is {name}^{{-1}}(...) an inverse function or a product? "
                             f"diffcheck cannot tell: write ({name}(...))^{{-1}} or "
                             f"{name}^{{-1}} \\cdot (...)", power.col)
        if not isinstance(item.node, Sym):
            return None
        sym = item.node
        group = following.group
        kind = self.call_kind(sym, group.args)
        if kind == "multiply":
            return None
        if kind == "sigmoid":
            node: Node = Call(sym.col, "sigmoid", group.args)
        else:
            node = ModelCall(sym.col, sym, group.args)
        return self.apply_postfixes(node, group.postfixes)

    def try_indexing(self, items: list[_Item], index: int) -> Node | None:
        """``x[i]`` (no space before the bracket, one index inside) is ``x_i``."""
        item = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if item.kind != "factor" or not isinstance(item.node, Sym) or item.node.subs or \
                following is None or following.kind != "group" or following.group is None or \
                following.group.kind != "brackets" or following.group.spaced:
            return None
        args = following.group.args
        if len(args) != 1 or not isinstance(args[0], (Sym, Num)):
            return None
        node = replace(item.node, subs=(args[0],))
        return self.apply_postfixes(node, following.group.postfixes)

    def try_inner_product(self, items: list[_Item], index: int) -> Node | None:
        item = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if item.kind != "factor" or not isinstance(item.node, _Transposed):
            return None
        if following is None or following.kind not in ("factor", "group"):
            raise self.error("a transposed vector must be followed by the vector it multiplies",
                             item.col)
        after = items[index + 2] if index + 2 < len(items) else None
        if following.kind == "factor" and isinstance(following.node, Sym) and \
                after is not None and after.group is not None and \
                after.group.kind == "parens" and \
                self.call_kind(following.node, after.group.args) != "multiply":
            # w^T \phi(x_i): the vector is the value of a function; its components are
            # unknown, and reading \phi as a vector of names times (x_i) would be wrong
            raise self.error(f"{_latex_name(ast.sym_name(following.node, reserved_ok=True))}"
                             "(...) after a transpose is a vector-valued function, which "
                             "diffcheck cannot write out in components", following.col)
        return Inner(item.col, item.node.sym, self.value(following))

    def indicator(self, items: list[_Item], index: int) -> tuple[Node, int]:
        """``\\mathbb{1}[u < 0]``, ``\\mathbb{1}\\{...\\}``, ``\\mathbb{I}(u < 0)``."""
        item = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if following is None or following.kind != "group" or following.group is None:
            raise self.error("\\mathbb{1} needs a condition: \\mathbb{1}[u < 0]", item.col)
        args = following.group.args
        if len(args) != 1 or not isinstance(args[0], (Rel, Logic)):
            raise self.error("an indicator needs one condition such as u < 0",
                             following.col)
        node = self.apply_postfixes(Indicator(item.col, args[0]),
                                    following.group.postfixes)
        return node, index + 2

    # --- sums ------------------------------------------------------------------------------

    def big_operator(self, item: _Item, body: Node, open_ended: bool = True) -> Node:
        kind = "sum" if item.name == "sum" else "prod" if item.name == "prod" else item.name
        spec = self.index_spec(item) if item.sub is not None or item.sup is not None else \
            self.implied_index(item, body)
        node = BigOp(item.col, kind, spec, body)
        node.open = open_ended  # type: ignore[attr-defined]  # took the rest of the term
        return node

    def implied_index(self, item: _Item, body: Node) -> IndexSpec:
        """``\\sum p_i g_i``: without an index written, the sum runs over the one letter that
        its summand uses as a subscript; with none or several, it is refused."""
        letters = sorted({sub.base for node in ast.walk(body) if isinstance(node, Sym)
                          for sub in node.subs if isinstance(sub, Sym) and not sub.subs and
                          not sub.accents and not sub.primes and len(sub.base) == 1})
        if len(letters) != 1:
            raise self.error(f"\\{item.name} needs an index: \\{item.name}_i or "
                             f"\\{item.name}_{{i=1}}^{{N}}", item.col)
        self.assumptions.append(f"\\{item.name} without an index runs over {letters[0]}, the "
                                "subscript of its summand")
        return IndexSpec(letters)

    def index_spec(self, item: _Item) -> IndexSpec:
        """``\\sum_{i=1}^{N}``, ``\\sum_i``, ``\\sum_{j \\neq y_i}``, ``\\max_{j}``."""
        if item.sub is None:
            raise self.error(f"\\{item.name} needs an index: \\{item.name}_i or "
                             f"\\{item.name}_{{i=1}}^{{N}}", item.col)
        spec = IndexSpec([])
        for node in self.script_nodes(item.sub):
            key = ast.index_key(node)
            if key is not None:
                spec.indices.append(key)
            elif isinstance(node, Run) or (isinstance(node, Mul) and
                                           all(isinstance(f, Sym) for f in node.factors)):
                parts = node.items if isinstance(node, Run) else node.factors
                spec.indices.extend(k for k in map(ast.index_key, parts) if k is not None)
            elif isinstance(node, Rel) and ast.index_key(node.operands[0]) is not None:
                index_name = ast.index_key(node.operands[0])
                assert index_name is not None
                if index_name not in spec.indices:
                    spec.indices.append(index_name)
                if node.ops == ["=="]:
                    spec.lower = node.operands[1]
                else:
                    spec.conditions.append(node)
            else:
                raise self.error(f"cannot read the index of \\{item.name} (write "
                                 f"\\{item.name}_{{i=1}}^{{N}})", node.col)
        if item.sup is not None:
            spec.upper = self.script_value(item.sup)
        if len(spec.indices) > 1 and (spec.lower is not None or spec.upper is not None):
            raise self.error("bounds for several indices at once are not supported",
                             item.col)
        return spec


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class _Transposed(Node):
    """``w^\\top`` before the vector it multiplies."""

    refusal = "a transposed vector must be followed by the vector it multiplies"

    sym: Sym


@dataclass
class _Infinity(Node):
    refusal = "\\infty is only supported as the order of a norm"


@dataclass
class _Dots(Node):
    refusal = "'\\dots' (terms left out) cannot be read: write the sum with \\sum"


@dataclass
class _Empty(Node):
    refusal = "an empty group {} is not a value"


#: The condition of a row that has none: "otherwise" when it is the last row, else an error.
_MISSING = Const(0, "missing")


def _is_minus_one(exponent: Node) -> bool:
    """``^{-1}``: the mark of an inverse function (``\\sigma^{-2}(y - \\mu)^2`` is a power)."""
    if isinstance(exponent, Num):
        return exponent.value == -1
    return _is_negative(exponent) and isinstance(exponent, Add) and \
        isinstance(exponent.terms[0][1], Num) and exponent.terms[0][1].value == 1


def _is_negative(exponent: Node) -> bool:
    """``-1`` or ``-a`` as written: a minus sign in front of one term."""
    if isinstance(exponent, Num):
        return exponent.value < 0
    return isinstance(exponent, Add) and len(exponent.terms) == 1 and exponent.terms[0][0] < 0


def _num(tok: Tok) -> Num:
    return Num(tok.column, tok.value, Fraction(tok.value))


def _is_empty(node: Node) -> bool:
    return isinstance(node, _Empty)


def _is_simple(item: _Item) -> bool:
    """Names and numbers that continue a bare function argument (``\\log 2 \\pi \\sigma^2``)."""
    return item.kind == "factor" and isinstance(item.node, (Sym, Num, Const, Pow)) and \
        not (isinstance(item.node, Pow) and not isinstance(item.node.base, (Sym, Num, Const)))


def _model_outputs_as_variables(node: Node, wrt: Sequence[str], notes: list[str]) -> Node:
    """``--wrt f`` on ``\\max(0, 1 - y f(x))``: the derivative with respect to the model's
    output. A model function named in ``wrt`` (and not a variable too) becomes one variable,
    provided every use applies it to the same arguments."""
    heads = {id(n.sym) for n in ast.walk(node) if isinstance(n, ModelCall)}
    variables = {ast.sym_name(n, reserved_ok=True) for n in ast.walk(node)
                 if isinstance(n, Sym) and id(n) not in heads}
    for name in wrt:
        calls = [n for n in ast.walk(node) if isinstance(n, ModelCall) and
                 ast.sym_name(n.sym, reserved_ok=True) == name]
        if not calls or name in variables:
            continue
        written = {ast.emit(Add(0, [(1, arg) for arg in call.args]))[0] for call in calls}
        if len(written) > 1:
            raise ParseError(f"--wrt {name}: {name} is applied to different arguments, so its "
                             "output is not one variable; differentiate with respect to its "
                             "arguments instead", calls[1].col)
        notes.append(f"{name}({', '.join(ast.emit(a)[0] for a in calls[0].args)}) is read as "
                     f"one variable {name}: --wrt {name} asks for the derivative with respect "
                     "to it")

        def visit(current: Node, target: str = name) -> Node | None:
            if isinstance(current, ModelCall) and \
                    ast.sym_name(current.sym, reserved_ok=True) == target:
                return Sym(current.col, target, style="word")
            return None

        node = ast.transform(node, visit)
    return node


def _wrt_components(written: Node, final: Node, wrt: Sequence[str]) -> dict[str, list[str]]:
    """``--wrt w`` on ``\\|w\\|^2`` or ``--wrt x`` (or ``x_i``) on ``\\sum_i (x_i - y_i)^2``: a
    name the reader wrote out component by component, or term by term, stands for every
    variable it became (not ``w_0``, which the reader left as it is). Each written name keeps
    its column through the writing out."""
    final_syms = list(_variable_syms(final))
    final_names = {ast.sym_name(s) for s in final_syms}
    found: dict[str, list[str]] = {}
    for name in wrt:
        key = ast.text_name(name)
        if key in final_names:
            continue
        columns = {s.col for s in _variable_syms(written) if _name_or_none(s) not in final_names
                   and key in (_name_or_none(s), _name_or_none(replace(s, subs=())))}
        names = list(dict.fromkeys(ast.sym_name(s) for s in final_syms if s.col in columns))
        if names:
            found[name] = names
    return found


def _variable_syms(node: Node):
    """The names used as variables: not subscript items, not model-function names."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Sym):
            yield current
            continue
        children = current.children()
        if isinstance(current, ModelCall):
            children = [c for c in children if c is not current.sym]
        stack.extend(reversed(children))


def _name_or_none(sym: Sym) -> str | None:
    try:
        return ast.sym_name(sym)
    except ParseError:
        return None


def _infinity_sign(node: Node) -> int:
    """+1 for ``\\infty``, -1 for ``-\\infty``, 0 for anything else."""
    if isinstance(node, _Infinity):
        return 1
    if isinstance(node, Add) and len(node.terms) == 1 and isinstance(node.terms[0][1], _Infinity):
        return node.terms[0][0]
    return 0


def _subscript_first(postfixes: list[Tree]) -> list[Tree]:
    """``x^2_2`` is ``x_2^2``: a superscript and a subscript of one base, in either order."""
    ordered = list(postfixes)
    for index in range(len(ordered) - 1):
        if ordered[index].data == "sup" and ordered[index + 1].data == "sub":
            ordered[index], ordered[index + 1] = ordered[index + 1], ordered[index]
    return ordered


def _is_simple_node(node: Node) -> bool:
    return isinstance(node, (Sym, Num, Const)) or (
        isinstance(node, Pow) and isinstance(node.base, (Sym, Num, Const)))


def _is_differential(node: Node) -> bool:
    """``d``, ``dx``, ``d f``: a product starting with the letter d (as in d/dx)."""
    first = node.factors[0] if isinstance(node, Mul) else node
    if isinstance(first, Pow):
        first = first.base
    return isinstance(first, Sym) and first.base == "d" and not first.subs


def _sole_atom(tree: Tree) -> Tree | None:
    """The atom a tree consists of, when it is nothing else (``{(x)}``: the atom ``(x)``)."""
    node: Tree | Token = tree
    while isinstance(node, Tree) and node.data != "atom":
        if len(node.children) != 1:
            return None
        node = node.children[0]
    return node if isinstance(node, Tree) else None


def _token(child: Tree | Token) -> Token:
    assert isinstance(child, Token)
    return child


def _leaves(tree: Tree):
    for child in tree.children:
        if isinstance(child, Tree):
            yield from _leaves(child)
        else:
            yield child


def _product(factors: list[Node]) -> Node:
    factors = [f for f in factors if not _is_empty(f)]
    if not factors:
        raise ParseError("empty group", 1)
    if len(factors) == 1:
        return factors[0]
    flat: list[Node] = []
    for factor in factors:
        flat.extend(factor.factors if isinstance(factor, Mul) and not factor.dot else [factor])
    return Mul(flat[0].col, flat)


def _divide(numerator: Node, factors: list[Node]) -> Node:
    """``a / b c``: ``1/n \\sum_i x_i`` and ``1/2 \\|w\\|^2`` are (a/b) times the rest, but
    whether ``x^2/2\\sigma^2`` divides by 2 or by 2 sigma^2 no convention settles: refused."""
    factors = [f for f in factors if not _is_empty(f)]
    if len(factors) > 1 and _is_simple_node(factors[1]):
        raise ParseError("what does the / divide by? Write \\frac{...}{...} or put the "
                         "denominator in parentheses", factors[0].col)
    quotient = Div(numerator.col, numerator, factors[0])
    return _product([quotient, *factors[1:]]) if len(factors) > 1 else quotient


def _combine(left: Node, operator: str | None, right: Node) -> Node:
    if operator == "SLASH":
        return Div(left.col, left, right)
    if operator == "CDOT":
        return Mul(left.col, [left, right], dot=True)
    return _product([left, right])


def _is_objective(op: BigOp) -> bool:
    """``\\min_{w} L(w)``, ``\\max_{\\theta}``: over a parameter, not an index (a single
    Latin letter used as one, as in ``\\max_j s_j``), a min or max states an objective."""
    return op.kind in ("min", "max") and any(
        not (len(name) == 1 and name.isascii() and indexes_something(op.body, name))
        for name in op.spec.indices)


def _ends_with_open_operator(term: Tree) -> bool:
    """Whether ``term`` ends with a sum (or ``\\max_j``) that has nothing after it."""
    last = term.children[-1].children[-1]  # the last item of the last product
    if last.data == "bigop":
        return True
    return last.data == "func" and str(last.children[0]) in ("max", "min") and \
        any(postfix.data == "sub" for postfix in last.children[1:])


def _extend_open_sums(terms: list[tuple[int, Node]]) -> list[tuple[int, Node]]:
    """``\\sum_i a_i + b_i``: terms after an open sum that use its index belong to it; all
    terms after a leading ``\\min_{w}`` objective belong to it."""
    first = terms[0][1] if terms else None
    if len(terms) > 1 and terms[0][0] == 1 and isinstance(first, BigOp) and \
            getattr(first, "open", False) and _is_objective(first):
        first.body = Add(first.body.col, [(1, first.body), *terms[1:]])
        return terms[:1]
    for position, (_sign, term) in enumerate(terms):
        chain = _open_chain(term)
        if not chain:
            continue
        later = terms[position + 1:]
        used = [[op for op in chain if _uses_index(t, op.spec.indices)] for _, t in later]
        if not any(used):
            continue
        if not all(used):
            unused = later[used.index([])][1]
            raise ParseError("where does the sum end? Some terms after it use its index and "
                             "some do not; put the summand in parentheses", unused.col)
        target = max((chain.index(op) for ops in used for op in ops), default=0)
        bigop = chain[target]
        bigop.body = Add(bigop.body.col, [(1, bigop.body), *later])
        return terms[:position + 1]
    return terms


def _open_chain(term: Node) -> list[BigOp]:
    """The sums that took the rest of ``term``, outermost first."""
    chain: list[BigOp] = []
    node: Node | None = term
    while node is not None:
        if isinstance(node, Mul):
            node = node.factors[-1]
        if isinstance(node, BigOp) and getattr(node, "open", False):
            chain.append(node)
            node = node.body
        else:
            break
    return chain


def _uses_index(node: Node, indices: list[str]) -> bool:
    """Does ``node`` use one of ``indices`` freely (not as the index of a sum of its own)?"""
    if isinstance(node, BigOp):
        # \sum_{i \neq j}: j may be an index of its own too
        own = set(node.spec.indices) | {
            ast.index_key(n) for cond in node.spec.conditions for n in ast.walk(cond)}
        indices = [index for index in indices if index not in own]
        if not indices:
            return False
    if ast.index_key(node) in indices:
        return True
    return any(_uses_index(child, indices) for child in node.children())


def _cases(rows: list[tuple[Node, Node | None]], col: int, builder: _Builder) -> Node:
    """Rows of a piecewise definition; only the last one may go without a condition."""
    cleaned: list[tuple[Node, Node | None]] = []
    for index, (value, cond) in enumerate(rows):
        if cond is _MISSING:
            if index != len(rows) - 1:
                raise ParseError("only the last row of a piecewise definition may go without "
                                 "a condition", value.col)
            cond = None
        cleaned.append((value, cond))
    if len(cleaned) < 2:
        raise ParseError("a piecewise definition needs two rows or more", col)
    if all(cond is not None for _, cond in cleaned):
        boundary = _complementary_comparisons(cleaned)
        if boundary is not None:
            builder.assumptions.append(
                f"no row of the piecewise definition covers {boundary}: the last row does")
            cleaned[-1] = (cleaned[-1][0], None)
            return Cases(col, cleaned)
        label = _label_equalities(cleaned)
        if label is not None:
            name, constants = label
            builder.assumptions.append(
                f"{name} takes only the values {', '.join(constants)}: the last row of the "
                "piecewise definition applies whenever the others do not")
            cleaned[-1] = (cleaned[-1][0], None)
    return Cases(col, cleaned)


def _complementary_comparisons(rows) -> str | None:
    """Rows ``x > 0`` and ``x < 0`` (the same two sides compared both ways, both strict):
    together they leave out ``x = 0``. Returns that set, written ``x = 0``."""
    if len(rows) != 2:
        return None
    sides = []
    for _, cond in rows:
        if not (isinstance(cond, Rel) and len(cond.ops) == 1 and cond.ops[0] in "<>"):
            return None
        lhs, rhs = cond.operands
        # a < b and b > a are the same comparison: orient each as (smaller, larger)
        smaller, larger = (lhs, rhs) if cond.ops[0] == "<" else (rhs, lhs)
        sides.append((ast.emit(smaller)[0], ast.emit(larger)[0]))
    if sides[0] != sides[1][::-1]:
        return None
    first = rows[0][1]
    return f"{ast.emit(first.operands[0])[0]} = {ast.emit(first.operands[1])[0]}"


def _label_equalities(rows) -> tuple[str, list[str]] | None:
    """Rows ``y = 1``, ``y = -1``: one name compared with distinct numbers, nothing else."""
    names, constants = set(), []
    for _, cond in rows:
        if not (isinstance(cond, Rel) and cond.ops == ["=="]):
            return None
        lhs, rhs = cond.operands
        number = _signed_number(rhs)
        if not isinstance(lhs, Sym) or number is None:
            return None
        names.add(ast.sym_name(lhs))
        constants.append(number)
    if len(names) != 1 or len(set(constants)) != len(constants):
        return None
    return names.pop(), constants


def _signed_number(node: Node) -> str | None:
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Add) and len(node.terms) == 1 and isinstance(node.terms[0][1], Num):
        sign, number = node.terms[0]
        assert isinstance(number, Num)
        return ("-" if sign < 0 else "") + number.text
    return None


def _latex_name(key: str) -> str:
    """``\\sigma_i`` for the name ``sigma_i``: how a name is written, for messages."""
    base, _, rest = key.partition("_")
    written = "\\" + base if base in GREEK else base
    return written + ("_" + rest if rest else "")
