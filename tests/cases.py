"""Helpers for the tests that read their cases from data files (tests/data, tests/fixtures)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DATA = Path(__file__).parent / "data"
FIXTURES = Path(__file__).parent / "fixtures"
NON_SMOOTH = {"kink", "jump", "infinite-slope"}


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def covers(where: str | None, point: dict[str, str]) -> bool:
    """Whether ``where`` ('LHS = RHS', SymPy syntax) holds at ``point`` (exact strings)."""
    if not where or "=" not in where:
        return False
    lhs, rhs = where.split("=", 1)
    local = {"Abs": sp.Abs, "Max": sp.Max, "Min": sp.Min}
    local.update({name: sp.Symbol(name, real=True) for name in point})
    g = parse_expr(lhs, local_dict=local) - parse_expr(rhs, local_dict=local)
    value = g.subs({sp.Symbol(k, real=True): sp.Rational(v) for k, v in point.items()})
    return abs(complex(sp.N(value, 30))) < 1e-9
