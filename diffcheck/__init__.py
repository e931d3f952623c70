"""diffcheck: is a loss differentiable, where not, why, and what smooth loss to use instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

__version__ = "0.1.0"
#: the project's home page (SARIF informationUri, README)
HOMEPAGE = "https://github.com/diffcheck/diffcheck"

if TYPE_CHECKING:
    from diffcheck.api import (
        Report,
        assert_differentiable,
        check,
        check_composition,
        check_file,
        check_function,
        check_source,
    )

#: the API, imported from diffcheck.api on first use: ``import diffcheck`` does not import
#: SymPy, so the command line can start its first worker before the 0.3 s of that import
_API = frozenset({"Report", "assert_differentiable", "check", "check_composition",
                  "check_file", "check_function", "check_source"})


def __getattr__(name: str) -> Any:
    if name in _API:
        from diffcheck import api

        value = getattr(api, name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    raise AttributeError(f"module 'diffcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


_Loss = TypeVar("_Loss", bound=Callable)


def loss(definition: _Loss) -> _Loss:
    """Mark a function or class as a loss for ``diffcheck file.py`` (a no-op at run time).

    diffcheck reads the decorator from the syntax tree; Python sees the definition unchanged.

    >>> @loss
    ... def my_objective(pred, target):
    ...     return abs(pred - target)
    >>> my_objective(3, 1)
    2
    """
    return definition


__all__ = [
    "Report",
    "__version__",
    "assert_differentiable",
    "check",
    "check_composition",
    "check_file",
    "check_function",
    "check_source",
    "loss",
]
