"""diffcheck: is a loss differentiable, where not, why, and what smooth loss to use instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__version__ = "0.1.0"
#: the project's home page (SARIF informationUri, README)
HOMEPAGE = "https://github.com/diffcheck/diffcheck"

from diffcheck.api import (  # noqa: E402
    Report,
    assert_differentiable,
    check,
    check_composition,
    check_file,
    check_function,
    check_source,
)

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
