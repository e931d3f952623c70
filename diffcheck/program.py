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
  ``fractions.Fraction`` holding the exact decimal written, or a ``bool`` in conditions);
- operators: ``add sub mul div pow neg mod floordiv``, comparisons ``lt le gt ge eq ne``,
  logic ``and or not``, and ``where`` for ``a if cond else b`` and masks (args: condition,
  value where true, value where false);
- any other ``op`` is the name of a function of the vocabulary as the user called it, module
  prefix removed (``torch.clamp`` has ``op == "clamp"`` and ``written == "torch.clamp"``);
  its positional arguments are ``args``, its keyword arguments ``keywords``, keyed by the
  parameter they set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


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
