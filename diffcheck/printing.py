"""``str`` of SymPy expressions with every distinct subtree printed once.

The trees diffcheck builds share their subtrees: a sort's orderings compare the same errors
again and again (lovasz_softmax: 4,600 printed nodes, 200 distinct), and SymPy's printer
walks the tree, sorting each sum's terms at every visit. The text of a node depends on the
node alone (its parent adds the brackets), so it is kept per node for the whole report
(:func:`forget_texts` starts a new one): a report prints the loss, its derivatives, its
switching nodes and their surrogates, all made of the same subtrees. The text is exactly
``str(expr)``.

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> e = sp.Abs(x - y) ** 2 + sp.Abs(x - y) * sp.sqrt(sp.Abs(x - y) + 1)
>>> [expression_text(e), expression_text(sp.Abs(x - y))] == [str(e), str(sp.Abs(x - y))]
True
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.logic.boolalg import ITE
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
            self.__dict__["_characters"] = self.__dict__.get("_characters", 0) + len(text)
        return text


class SpelledOutConditions:
    """A mixin for SymPy's NumPy printer: a branch condition holding an if-then-else (a band
    over a masked max: ``ITE(labels0 != labels1, d >= 1/5, d <= 999999999.8)``) is printed as
    and/or/not. SymPy's printer runs ``simplify_logic`` on it first, up to 1.4 s per
    condition, for code that computes the same.

    >>> from diffcheck.numeric import compile_numpy
    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> condition = ITE(sp.Eq(a, b), x > 0, x < 1)
    >>> f = compile_numpy(sp.Piecewise((x, condition), (0, True)), [a, b, x])
    >>> [float(f(1.0, 1.0, 2.0)), float(f(1.0, 2.0, 0.5)), float(f(1.0, 2.0, 2.0))]
    [2.0, 0.5, 0.0]
    """

    def _print_Piecewise(self, expr: Any) -> str:
        if any(condition.has(ITE) for _, condition in expr.args):
            expr = sp.Piecewise(*[(e, _spelled_out(c) if c.has(ITE) else c)
                                  for e, c in expr.args], evaluate=False)
        return super()._print_Piecewise(expr)  # type: ignore[misc]


def _spelled_out(condition: Any) -> Any:
    """``condition`` with each ITE(a, b, c) written (a and b) or (not a and c)."""
    return condition.replace(
        lambda e: isinstance(e, ITE),
        lambda e: sp.Or(sp.And(e.args[0], e.args[1]), sp.And(sp.Not(e.args[0]), e.args[2])))


class _TextPrinter(OncePerNode, StrPrinter):
    """SymPy's ``str`` printer, with the settings of ``Basic.__str__``."""

    def __init__(self) -> None:
        super().__init__({"order": None})


#: characters of text kept before the kept texts are dropped (lovasz_softmax's report prints
#: 1.4 million)
MAX_KEPT_CHARACTERS = 4_000_000

#: the printers kept for the report, by class: the report's text, and the NumPy and PyTorch
#: code of its surrogates
_kept_printers: dict[type, Any] = {}


def forget_texts() -> None:
    """Drop the kept texts, at the start of each report: a batch worker keeps one report's
    texts (and the SymPy nodes they are keyed by), not every line's (60 MB more over 5,000
    lines)."""
    _kept_printers.clear()


def expression_text(expr: Any) -> str:
    """``str(expr)``, each distinct subtree printed once for the report."""
    return kept_printer(_TextPrinter).doprint(expr)


def kept_printer(printer_class: type) -> Any:
    """The report's instance of a :class:`OncePerNode` printer class: a report prints the
    loss, its derivatives, causes and surrogates (each finding's and the whole loss's), all
    made of the same subtrees. Its texts are dropped with :func:`forget_texts`, or when they
    pass MAX_KEPT_CHARACTERS."""
    printer = _kept_printers.get(printer_class)
    if printer is None or printer.__dict__.get("_characters", 0) > MAX_KEPT_CHARACTERS:
        printer = _kept_printers[printer_class] = printer_class()
    return printer
