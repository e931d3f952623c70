"""Numerically safe building blocks and the NumPy/PyTorch printers of surrogates.

The safe functions (``safe_softplus``...) print as overflow-free library calls
(``np.logaddexp(0, u)``, ``torch.nn.functional.softplus(u)``) and expand to standard SymPy
functions in the reported expression (:func:`standard_form`).
"""

from __future__ import annotations

from typing import ClassVar

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pytorch import TorchPrinter

from diffcheck.numeric import shared_xreplace
from diffcheck.printing import OncePerNode, SpelledOutConditions, kept_printer


class _SafeFunction(sp.Function):
    """A smooth function with a standard SymPy form and overflow-free NumPy/PyTorch code."""

    def standard(self) -> sp.Expr:
        raise NotImplementedError


class safe_softplus(_SafeFunction):  # noqa: N801 (lower case: never a model function name)
    """log(1 + exp(x))."""

    nargs = 1

    def standard(self):
        return _log(1 + sp.exp(self.args[0]))


class safe_logsumexp(_SafeFunction):  # noqa: N801
    """log(exp(x1) + ... + exp(xn))."""

    def standard(self):
        return _log(sp.Add(*[sp.exp(a) for a in self.args]))


class safe_logcosh(_SafeFunction):  # noqa: N801
    """log(cosh(x))."""

    nargs = 1

    def standard(self):
        return _log(sp.cosh(self.args[0]))


class safe_sigmoid(_SafeFunction):  # noqa: N801
    """1/(1 + exp(-x))."""

    nargs = 1

    def standard(self):
        return 1 / (1 + sp.exp(-self.args[0]))


def _log(argument: sp.Expr) -> sp.Expr:
    """log of a positive sum or cosh, built without SymPy's evaluation: it only tries rewrites
    that never apply to these (log(exp(u) + 1) stays as it is) and asked the argument's sign
    through the assumptions system (3 ms per surrogate, most of a batch line's printing)."""
    return sp.log(argument) if argument.is_number else sp.log(argument, evaluate=False)


def standard_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every safe building block written with standard SymPy functions.

    Each distinct subexpression is visited once (``replace`` walks the printed tree: a
    sort's surrogate repeats its comparisons in every ordering).

    >>> u = sp.Symbol("u", real=True)
    >>> standard_form(safe_sigmoid(u) + safe_sigmoid(u) ** 2)
    1/(1 + exp(-u)) + (1 + exp(-u))**(-2)
    """
    return shared_xreplace(expr, {}, _STANDARD_HEADS)


#: how shared_xreplace rebuilds each safe building block: as its standard form
_STANDARD_HEADS = {cls: (lambda *args, cls=cls: cls(*args).standard())
                   for cls in _SafeFunction.__subclasses__()}


class _HintPrinting(OncePerNode):
    """Safe building blocks and model functions for the NumPy and PyTorch printers (each
    distinct node printed once: a sort's surrogate repeats its comparisons)."""

    SAFE: ClassVar[dict[str, str]] = {}

    def _print_Function(self, expr):
        if isinstance(expr, AppliedUndef):  # a model function: the user's own callable
            return f"{expr.func.__name__}({', '.join(self._print(a) for a in expr.args)})"
        if isinstance(expr, _SafeFunction):
            args = [self._print(a) for a in expr.args]
            return self.SAFE[type(expr).__name__].format(*args, all=", ".join(args))
        return super()._print_Function(expr)

    def _print_label_is(self, expr):
        # the data indicator (labels == c) as a number: a bool array or tensor times 1.0
        label, value = (self._print(a) for a in expr.args)
        return f"(1.0*({label} == {value}))"


class _NumPyHints(_HintPrinting, SpelledOutConditions, NumPyPrinter):
    SAFE: ClassVar[dict[str, str]] = {
        "safe_softplus": "np.logaddexp(0, {0})",
        "safe_logsumexp": "np.logaddexp.reduce([{all}], axis=0)",
        "safe_logcosh": "(np.logaddexp({0}, -({0})) - np.log(2))",
        "safe_sigmoid": "(0.5 + 0.5*np.tanh(0.5*({0})))",
    }


class _TorchHints(_HintPrinting, TorchPrinter):
    SAFE: ClassVar[dict[str, str]] = {
        "safe_softplus": "torch.nn.functional.softplus({0})",
        "safe_logsumexp": "torch.logsumexp(torch.stack([{all}]), dim=0)",
        "safe_logcosh": "(torch.logaddexp({0}, -({0})) - math.log(2))",
        "safe_sigmoid": "torch.sigmoid({0})",
    }

    # torch.pow needs a tensor argument, but parameters are plain floats (delta**2):
    # Python's ** works for both
    def _print_Pow(self, expr, **kwargs):
        if expr.exp.is_Integer and expr.exp > 0:
            return f"{self.parenthesize(expr.base, 60)}**{expr.exp}"
        return super()._print_Pow(expr, **kwargs)

    # torch.max/torch.maximum need tensors on both sides: a constant becomes a clamp
    def _print_Max(self, expr):
        return self._extremum(expr, "torch.maximum", "min")

    def _print_Min(self, expr):
        return self._extremum(expr, "torch.minimum", "max")

    def _extremum(self, expr, pairwise: str, clamp_side: str) -> str:
        constants = [a for a in expr.args if a.is_number]
        code = ""
        for a in (a for a in expr.args if not a.is_number):
            code = f"{pairwise}({code}, {self._print(a)})" if code else self._print(a)
        for c in constants:
            code = f"torch.clamp({code}, {clamp_side}={self._print(c)})"
        return code


def _code(printer_class: type, expr: sp.Expr) -> str:
    """The code of ``expr`` by the report's printer of ``printer_class`` (:func:`kept_printer`:
    a loss's surrogates share their subtrees). The printers are strict: a node they cannot
    write raises (it is not listed above the code, which a kept text would skip)."""
    # a hint is a convenience: a construct the printer cannot write must not sink the report
    try:
        return kept_printer(printer_class).doprint(expr)
    except Exception as exc:
        return f"# not expressible: {type(exc).__name__}: {exc}"


def numpy_code(expr: sp.Expr) -> str:
    """NumPy code for ``expr`` (``np`` is numpy); safe blocks never overflow."""
    return _code(_NumPyHints, expr).replace("numpy.", "np.")


def torch_code(expr: sp.Expr) -> str:
    """PyTorch code for ``expr``; safe blocks never overflow."""
    return _code(_TorchHints, expr)


