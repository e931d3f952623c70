"""``--confirm``: the real frameworks' gradients at each autodiff trap, beside the model's.

Works on finished result dicts (the JSON report), in the calling process, after the
analysis: the loss is read again with :func:`diffcheck.program.from_expression` (never
evaluated as text) and run in :mod:`diffcheck.frameworks`.
"""

from __future__ import annotations

import math
from typing import Any

from diffcheck import frameworks
from diffcheck.parser import ParseError, parse
from diffcheck.program import ProgramError, from_expression

MISSING = ("--confirm needs JAX (pip install 'diffcheck[jax]') or PyTorch, and neither is "
           "installed: the model's predictions are shown unconfirmed")


def confirm_results(results: list[dict[str, Any]], dtype: str = "float32") -> list[str]:
    """Add ``autodiff.confirmed`` (framework -> gradient or error) to each autodiff finding.

    Returns notes for the user (which frameworks were run, or why none could be).
    """
    traps = [(result, finding) for result in results for finding in result.get("findings") or []
             if finding.get("kind") == "autodiff" and isinstance(finding.get("autodiff"), dict)]
    names = frameworks.available()
    if not names:
        return [MISSING]
    notes = [f"--confirm: {', '.join(f'{n} {v}' for n, v in frameworks.versions().items())}"]
    for result, finding in traps:
        try:
            parse(result["input"])
            tree = from_expression(result["input"], result.get("fixed") or None)
        except (ParseError, ProgramError, SyntaxError):
            continue
        trap = finding["autodiff"]
        confirmed = {}
        for name in names:
            confirmed[name] = frameworks.gradient(tree, name, trap["point"], result["wrt"], dtype)
        trap["confirmed"] = confirmed
        trap["reproduced"] = all(
            _same(trap["gradients"][name], confirmed[name]) for name in names
            if name in trap.get("gradients", {}))
    return notes


def _same(model: dict[str, float], real: dict[str, float] | str) -> bool:
    """The model's gradient and the framework's agree (NaN equals NaN)."""
    if isinstance(real, str):
        return False
    for key, value in model.items():
        other = real.get(key)
        if other is None:
            return False
        if math.isnan(value) or math.isnan(other):
            if not (math.isnan(value) and math.isnan(other)):
                return False
        elif value != other and abs(value - other) > 1e-5 * (1 + abs(other)):
            return False
    return True
