#!/usr/bin/env python3
"""Record what the real PyTorch and JAX return, for the tests to check the autodiff model.

Run it where both frameworks are installed (never in CI: the PyTorch wheel is gigabytes):

    python tools/record_autodiff_reference.py            # writes tests/data/autodiff_reference.json

It takes each loss of ``tests/data/autodiff_traps.jsonl`` (at its trap point and at a few
generic points) and each loss of ``tests/data/autodiff_rule_cases.txt`` (at a grid of points
chosen to sit on the special values of every rule: 0, ties, range edges), runs it in the real
frameworks through :mod:`diffcheck.frameworks` (the same tables ``--confirm`` uses), and
writes every gradient with the framework versions. ``tests/test_autodiff.py`` replays the
cases through the model of :mod:`diffcheck.autodiff` without either framework installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the checkout's diffcheck (inserted on sys.path above), not an installed one
from diffcheck import frameworks
from diffcheck.autodiff_rules import RULES
from diffcheck.program import Node, from_expression

#: values every variable of a rule case takes (ties, zeros, signs, float32 range edges)
GRID = (0.0, 1.0, -1.0, 2.0, -0.5, 100.0, -200.0, 1e-30)
#: at most this many grid points per rule case (the first ones: all-zero and ties first)
POINTS_PER_CASE = 24
GENERIC_POINTS = ({"value": 0.7}, {"value": -1.3})


def _number(value):
    """JSON has no NaN or infinity: write them as strings, as the JSON report does."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def library_calls(tree: Node) -> Node:
    """``tree`` with each call the parser does not know yet but a rule does (``acos``) run as
    that library call, not as an opaque model function."""
    args = tuple(library_calls(a) for a in tree.args)
    if tree.op == "model" and tree.value in RULES:
        return Node(tree.value, args, written=tree.value, span=tree.span)
    return Node(tree.op, args, tree.value, tree.keywords, tree.written, tree.span)


def _record(expr, point, dtype, available):
    tree = library_calls(from_expression(expr))
    names = sorted(tree.variables())
    case = {"expr": expr, "dtype": dtype, "point": point, "wrt": names}
    for name in available:
        result = frameworks.gradient(tree, name, point, names, dtype)
        case[name] = ({k: _number(v) for k, v in result.items()} if isinstance(result, dict)
                      else {"error": result})
    return case


def _grid_points(names):
    combos = itertools.product(GRID, repeat=len(names))
    return [dict(zip(names, combo)) for combo in itertools.islice(combos, POINTS_PER_CASE)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "tests" / "data" / "autodiff_reference.json"))
    args = parser.parse_args()
    available = frameworks.available()
    if set(available) != {"torch", "jax"}:
        sys.exit(f"both torch and jax must be importable here (found: {available or 'neither'})")
    cases = []
    corpus = [json.loads(line) for line in
              (ROOT / "tests" / "data" / "autodiff_traps.jsonl").read_text().splitlines() if line]
    for row in corpus:
        names = sorted(from_expression(row["expr"]).variables())
        points = [row["point"]] if row["point"] else []
        points += [{n: g["value"] * (i + 1) for i, n in enumerate(names)} for g in GENERIC_POINTS]
        for point in points:
            cases.append(_record(row["expr"], point, "float32", available))
    rule_cases = [line.strip() for line in
                  (ROOT / "tests" / "data" / "autodiff_rule_cases.txt").read_text().splitlines()
                  if line.strip() and not line.startswith("#")]
    for expr in rule_cases:
        names = sorted(from_expression(expr).variables())
        for dtype in ("float32", "float64"):
            for point in _grid_points(names):
                cases.append(_record(expr, point, dtype, available))
    versions = frameworks.versions()
    Path(args.out).write_text(json.dumps({"versions": versions, "cases": cases}, indent=1) + "\n")
    print(f"{len(cases)} cases, {versions} -> {args.out}")


if __name__ == "__main__":
    main()
