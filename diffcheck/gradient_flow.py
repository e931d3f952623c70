"""Where gradients flow in the program as written: cuts and straight-through estimators.

The analysis of the *function* says whether it is differentiable; this module says what
backpropagation *does* with the program. Some edges carry no gradient at all: the input of
``.detach()`` (and ``no_grad``, ``stop_gradient``, integer casts, which the reader writes as
a detach), the arguments of ``argmax``, the index of a lookup, the condition of a ``where``,
comparisons. A parameter that the output reaches only through such edges (or not at all)
gets no gradient: a **cut**, the bug DDP reports as "parameters that did not receive grad".

A straight-through estimator ``x + (q - x).detach()`` has the value of ``q`` and the gradient
of ``x``: the non-differentiable ``q`` is intended, and is not a cut.

>>> from diffcheck.program import Node
>>> w, v = Node("var", value="w"), Node("var", value="v")
>>> out = Node("add", (Node("detach", (w,)), v))
>>> sorted(reached(out)), [c.names for c in cuts(out, ["w", "v"])]
(['v'], [['w']])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from diffcheck.program import Node, Span

#: op -> positions of the arguments that receive no gradient (None: all of them)
_BLOCKED: dict[str, tuple[int, ...] | None] = {
    "detach": None, "argmax": None, "argmin": None, "lt": None, "le": None, "gt": None,
    "ge": None, "eq": None, "ne": None, "and": None, "or": None, "not": None,
    "select": (0,), "where": (0,),
}

_REASONS = {"detach": "detach", "argmax": "an argmax index", "argmin": "an argmin index",
            "select": "an index", "where": "a condition"}


@dataclass
class Cut:
    """Parameters that no gradient reaches, and the construct that cuts them."""

    names: list[str]
    span: Span | None
    #: what cuts them: "detach", "an argmax index", ..., or "unused" (never read)
    reason: str
    #: every parameter name the cut covers (``names`` may group them by module)
    parameters: list[str] = field(default_factory=list)


def _blocked_positions(node: Node) -> set[int]:
    if node.op == "sort_gather":
        return set(range(len(node.args) // 2))  # the keys decide the order only
    blocked = _BLOCKED.get(node.op, ())
    if blocked is None:
        return set(range(len(node.args)))
    return set(blocked)


def reached(root: Node) -> set[str]:
    """Variables that receive a gradient from ``root``."""
    live: set[str] = set()
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.op == "var":
            live.add(str(node.value))
            continue
        blocked = _blocked_positions(node)
        stack.extend(arg for position, arg in enumerate(node.args) if position not in blocked)
        stack.extend(arg for _, arg in node.keywords)
    return live


def _variables(node: Node) -> set[str]:
    return {str(n.value) for n in node.walk() if n.op == "var"}


def _blocking_node(root: Node, name: str) -> Node | None:
    """What cuts ``name`` off: the construct nearest to it whose blocked argument holds it.

    On the way from the output to the parameter there may be several (an index made by an
    integer cast): the one closest to the parameter is the one to change.
    """
    holds: dict[int, bool] = {}

    def contains(node: Node) -> bool:
        if id(node) not in holds:
            holds[id(node)] = (node.op == "var" and node.value == name) or any(
                contains(arg) for arg in node.args)
        return holds[id(node)]

    found: Node | None = None
    node: Node | None = root
    while node is not None and node.op != "var":
        blocked = _blocked_positions(node)
        step = next(((position, arg) for position, arg in enumerate(node.args) if contains(arg)),
                    None)
        if step is None:
            break
        if step[0] in blocked:
            found = node
        node = step[1]
    return found


def cuts(root: Node, parameters: Sequence[str], built_at: dict[str, Span | None] | None = None,
         modules: dict[str, list[str]] | None = None) -> list[Cut]:
    """The parameters of ``parameters`` that no gradient from ``root`` reaches.

    ``built_at`` gives, per parameter, where its module was built (the line of an unused
    one); ``modules`` groups parameter names by module path, so that a module all of whose
    parameters are cut is named once (``body`` rather than ``body.weight, body.bias``).
    """
    live = reached(root)
    present = _variables(root)
    by_cause: dict[tuple[Any, str], list[str]] = {}
    spans: dict[tuple[Any, str], Span | None] = {}
    for name in parameters:
        if any(v == name or v.startswith((name + "[", name + "@")) for v in live):
            continue
        in_program = [v for v in present if v == name or v.startswith(name + "[")]
        if in_program:
            blocker = _blocking_node(root, in_program[0])
            reason = (blocker.written if blocker is not None and blocker.op == "detach"
                      and blocker.written else
                      _REASONS.get(blocker.op, "no gradient") if blocker is not None else ".detach()")
            span = blocker.span if blocker is not None else None
        else:
            reason, span = "unused", (built_at or {}).get(name)
        key = (None if span is None else (span.line, span.column), reason)
        by_cause.setdefault(key, []).append(name)
        spans[key] = span
    found = []
    for key, names in by_cause.items():
        found.append(Cut(_grouped(names, modules or {}), spans[key], key[1], names))
    return found


def _grouped(names: list[str], modules: dict[str, list[str]]) -> list[str]:
    """Parameter names, a module's all replaced by the module path."""
    remaining = list(names)
    grouped = []
    for module, members in modules.items():
        if members and all(m in remaining for m in members):
            grouped.append(module)
            remaining = [n for n in remaining if n not in members]
    return grouped + remaining


def _structure(node: Node, memo: dict[int, Any]) -> Any:
    key = id(node)
    if key not in memo:
        memo[key] = (node.op, node.value if node.op in ("var", "const") else node.written,
                     tuple(_structure(a, memo) for a in node.args))
    return memo[key]


def straight_through(root: Node) -> list[Node]:
    """The detached parts of straight-through estimators: ``q`` in ``x + (q - x).detach()``.

    A detach inside a sum is a straight-through estimator when the sum also holds, outside the
    detach, a term that appears inside it: the value is the detached expression's, the
    gradient is that term's.
    """
    memo: dict[int, Any] = {}
    found: list[Node] = []
    for node in root.walk():
        if node.op not in ("add", "sub"):
            continue
        terms = list(_sum_terms(node))
        detached = [t for t in terms if t.op == "detach"]
        others = [t for t in terms if t.op != "detach"]
        for d in detached:
            inner = {_structure(n, memo) for n in d.args[0].walk()}
            if any(_structure(o, memo) in inner for o in others):
                found.append(d.args[0])
    return found


def _sum_terms(node: Node) -> Iterable[Node]:
    for arg in node.args:
        if arg.op in ("add", "sub"):
            yield from _sum_terms(arg)
        elif arg.op == "neg":
            yield arg.args[0]
        else:
            yield arg
