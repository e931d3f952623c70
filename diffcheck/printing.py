"""``str`` of SymPy expressions with every distinct subtree printed once.

The trees diffcheck builds share their subtrees: a sort's orderings compare the same errors
again and again (lovasz_softmax: 4,600 printed nodes, 200 distinct), and SymPy's printer
walks the tree, sorting each sum's terms at every visit. The text of a node depends on the
node alone (its parent adds the brackets), so it is kept per node; the text is exactly
``str(expr)``.

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> e = sp.Abs(x - y) ** 2 + sp.Abs(x - y) * sp.sqrt(sp.Abs(x - y) + 1)
>>> expression_text(e) == str(e)
True
>>> texts = SharedTexts()
>>> [texts(e), texts(sp.Abs(x - y))] == [str(e), str(sp.Abs(x - y))]
True
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.str import StrPrinter


class OncePerNode:
    """A mixin for SymPy printers: each distinct node is printed once per printer."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)  # type: ignore[misc]
        printed: dict[tuple[type, Any], str] = self.__dict__.setdefault("_printed", {})
        # keyed with the type: numbers equal across types (2 and 2.0) keep their own text
        key = (type(expr), expr)
        text = printed.get(key)
        if text is None:
            text = printed[key] = super()._print(expr)  # type: ignore[misc]
        return text


class _OncePerNode(OncePerNode, StrPrinter):
    """SymPy's ``str`` printer, with the settings of ``Basic.__str__``."""

    def __init__(self) -> None:
        super().__init__({"order": None})


class SharedTexts:
    """``str`` of several expressions that share subtrees (the keys of a parse's locations),
    each distinct subtree printed once for all of them."""

    def __init__(self) -> None:
        self._printer = _OncePerNode()

    def __call__(self, expr: Any) -> str:
        return self._printer.doprint(expr)


def expression_text(expr: Any) -> str:
    """``str(expr)``, each distinct subtree printed once."""
    return _OncePerNode().doprint(expr)
