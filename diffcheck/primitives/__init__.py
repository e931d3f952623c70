"""The primitive registry: what diffcheck knows about each function, in one place.

Two tables, both keyed the way their readers look things up:

* :data:`FUNCTIONS` (``lookup(name)``): every function of the input language as users call
  it, with its arity, keywords (as PyTorch, JAX and NumPy spell them), its lowering to SymPy,
  its meaning, smoothness class and autodiff conventions. Readers (the expression parser, the
  Python-source reader) lower calls through it.
* :data:`SWITCHES` (``switch_for(node)``, in :mod:`diffcheck.primitives.switching`): every
  SymPy class that switches branch (``Abs``, ``Max``, ``Heaviside``, ``Piecewise``, roots...),
  with its candidate sets, how to pick its active branch, its finding code per kind, and the
  surrogate family that replaces it. The analysis and the surrogates read it.

>>> entry = lookup("hardtanh")
>>> entry.parameters(), dict(entry.keywords)
(('u', 'lo', 'hi'), {'min_val': 'lo', 'max_val': 'hi'})
>>> lookup("F.relu") is None    # names are looked up without their module prefix
True
>>> split_prefix("F.relu")
('F.', 'relu')
"""

from __future__ import annotations

import sympy as sp

from diffcheck.primitives import activations, elementary, switches  # noqa: F401 (registers)
from diffcheck.primitives.registry import (
    ENTRIES,
    FUNCTIONS,
    MODULE_PREFIXES,
    Function,
    lookup,
    split_prefix,
)

#: Every name of the vocabulary (aliases included), for "did you mean" suggestions.
KNOWN_FUNCTIONS: frozenset[str] = frozenset(FUNCTIONS)

#: Named constants usable bare (``pi``) and after a module prefix (``np.pi``, ``math.e``).
#: A bare ``e`` stays a variable: it is a common name for an error term.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi}
MODULE_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}

#: Names of non-finite values, refused bare or prefixed (``inf``, ``np.nan``).
NON_FINITE_NAMES = frozenset({"inf", "infty", "infinity", "nan"})


def markdown_table() -> str:
    """The README's table of functions, generated from the registry (a test keeps them in sync)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| function | meaning | smoothness | PyTorch / JAX |", "|---|---|---|---|"]
    for entry in sorted(ENTRIES, key=lambda e: e.name.lower()):
        names = ", ".join(f"`{name}`" for name in (entry.name, *entry.aliases))
        rows.append(f"| {names} | {cell(entry.doc)} | {cell(entry.smoothness)} "
                    f"| {cell(entry.autodiff)} |")
    return "\n".join(rows)


__all__ = [
    "CONSTANTS",
    "ENTRIES",
    "FUNCTIONS",
    "KNOWN_FUNCTIONS",
    "MODULE_CONSTANTS",
    "MODULE_PREFIXES",
    "NON_FINITE_NAMES",
    "Function",
    "lookup",
    "markdown_table",
    "split_prefix",
]
