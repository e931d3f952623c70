"""The reference of the batch budget: a naive numeric gradient check of every line of a loss file.

    python benchmarks/gradcheck.py LOSSFILE [--points 1000] [--seed 0]

What a user could run instead of diffcheck, gradcheck-style: for each expression, the loss and
its SymPy derivative in each variable are compiled with ``lambdify`` to NumPy and compared, at
``--points`` random points, with central differences of the loss. It prints how many
expressions were checked, how many disagreed somewhere, and how many it could not check (text
that does not parse, a derivative NumPy cannot evaluate). ``benchmarks/run.py`` times it on
the same files as diffcheck: the budget is that diffcheck takes at most as long per expression.

The text is read with diffcheck's own parser (never ``sympify``: the batch holds hostile
lines); everything after that is plain SymPy and NumPy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diffcheck.lossfile import decode_loss_bytes, read_loss_lines  # noqa: E402
from diffcheck.parser import ParseError, parse  # noqa: E402

#: central-difference step, relative to the size of the coordinate
STEP = 1e-6
#: a derivative and its central difference agree within this (relative to their size)
TOLERANCE = 1e-4


def gradient_mismatches(expr: sp.Expr, points: np.ndarray, symbols: list[sp.Symbol]) -> int:
    """How many points have a partial derivative that disagrees with its central difference."""
    loss = sp.lambdify(symbols, expr, "numpy")
    columns = list(points)
    disagree = np.zeros(points.shape[1], dtype=bool)
    for index, symbol in enumerate(symbols):
        derivative = sp.lambdify(symbols, sp.diff(expr, symbol), "numpy")
        step = STEP * (1 + np.abs(points[index]))
        ahead = [c + step if i == index else c for i, c in enumerate(columns)]
        behind = [c - step if i == index else c for i, c in enumerate(columns)]
        numeric = (loss(*ahead) - loss(*behind)) / (2 * step)
        exact = np.broadcast_to(derivative(*columns), numeric.shape)
        scale = 1 + np.abs(exact)
        disagree |= ~(np.abs(numeric - exact) <= TOLERANCE * scale)
    return int(disagree.sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    rng = np.random.default_rng(options.seed)
    lines = read_loss_lines(decode_loss_bytes(options.path.read_bytes()), source=str(options.path))
    checked = disagreeing = unchecked = 0
    for line in lines:
        try:
            if line.error is not None:
                raise ParseError(line.error)
            expr = parse(line.text).expr
            symbols = sorted(expr.free_symbols, key=lambda s: s.name)
            points = rng.normal(0.0, 2.0, (len(symbols), options.points))
            with np.errstate(all="ignore"):
                found = gradient_mismatches(expr, points, symbols)
        except (ParseError, TypeError, ValueError, NameError, NotImplementedError,
                ZeroDivisionError, OverflowError, RecursionError):
            unchecked += 1
            continue
        checked += 1
        disagreeing += found > 0
    print(f"{checked} checked, {disagreeing} with a gradient that disagrees somewhere, "
          f"{unchecked} not checked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
