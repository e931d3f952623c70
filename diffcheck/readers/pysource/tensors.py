"""Building the program of a loss from tensor operations, component by component.

A :class:`~diffcheck.readers.pysource.values.Tensor` is one generic element or components
along the feature axis. :class:`Builder` makes :class:`~diffcheck.program.Node` trees for
elementwise operations (broadcasting generic tensors to components where needed), reductions
and the coupled operations (softmax, norms, order statistics), and names the components of the
loss's tensor parameters in the user's own indexing (``boxes[..., 0]``).

>>> from diffcheck.program import Node
>>> b = Builder({"x"})
>>> x = b.parameter("x")
>>> [n.value for n in b.featured(x, 2).parts]
['x[0]', 'x[1]']
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from diffcheck.program import Node, Span
from diffcheck.readers.pysource.values import DEFAULT_COMPONENTS, SourceError, Tensor

#: The most components one axis is written with (an explicit x[..., 9] asks for ten).
MAX_COMPONENTS = 16


def const(value: Any, span: Span | None = None) -> Node:
    """A constant node: ints and exact fractions stay exact; SymPy numbers as they are."""
    return Node("const", value=value, span=span)


def is_const(node: Node, value: Any | None = None) -> bool:
    if node.op != "const":
        return False
    return value is None or node.value == value


class Builder:
    """Makes the nodes of one translation and remembers how components are named.

    ``feature_parameters`` are the tensor parameters whose elements run along the feature
    axis too (float tensors); labels and per-sample data are left out by the interpreter.
    """

    def __init__(self, feature_parameters: set[str]):
        self.feature_parameters = set(feature_parameters)
        #: parameter -> how the user indexes its feature axis, e.g. "[..., {}]"
        self.spelling: dict[str, str] = {}
        #: parameter -> components known to exist (the largest index written + 1)
        self.sizes: dict[str, int] = {}
        #: component name -> (parameter, index), for writing sets in the user's indexing
        self.component_of: dict[str, tuple[str, int]] = {}
        #: names whose components were made up (no user spelling): printed as x[i], x[j]
        self.implicit: set[str] = set()
        #: learnable parameters of a model: shared by every element, so never split into
        #: components or rows unless the parameter itself is indexed (a codebook's rows)
        self.parameters: set[str] = set()

    # --- leaves ---------------------------------------------------------------------------

    def parameter(self, name: str, span: Span | None = None) -> Tensor:
        return Tensor((Node("var", value=name, span=span),))

    def component_name(self, name: str, index: int) -> str:
        # other samples of a tensor (``x@1``) are written as the tensor is: x[..., 0]@1
        base, at, sample = name.partition("@")
        spelling = self.spelling.get(base)
        if spelling is None:
            self.implicit.add(base)
            component = f"{base}[{index}]{at}{sample}"
        else:
            component = base + spelling.format(index) + at + sample
        self.component_of[component] = (base, index)
        self.sizes[name] = max(self.sizes.get(name, 0), index + 1)
        return component

    def size_of(self, tensor: Tensor) -> int:
        """How many components ``tensor`` is written with along the feature axis."""
        if tensor.featured:
            return len(tensor.parts)
        sizes = [self.sizes.get(name, 0) for name in self.feature_variables(tensor)]
        return max([DEFAULT_COMPONENTS, *sizes])

    def feature_variables(self, tensor: Tensor) -> list[str]:
        """The variables whose elements run along the axes of ``tensor``.

        Data (inputs, targets) always do. A model's parameters do only when the tensor is
        computed from parameters alone (``codebook.weight ** 2``): in a layer's output they
        are shared by every element.
        """
        names = set()
        for part in tensor.parts:
            for node in part.walk():
                if node.op == "var" and node.value in self.feature_parameters:
                    names.add(node.value)
        data = {n for n in names if n not in self.parameters}
        return sorted(data or names)

    def rows(self, tensor: Tensor, count: int = DEFAULT_COMPONENTS) -> Tensor:
        """``tensor`` as ``count`` of its rows (other elements of its batch axis): ``k@0``, ``k@1``.

        Parameters inside stay shared; a bare parameter (a codebook) is split into its rows.
        """
        if tensor.featured:
            return tensor
        names = self.feature_variables(tensor)
        (generic,) = tensor.parts
        parts = []
        for index in range(count):
            mapping = {name: f"{name}@{index}" for name in names}
            for row in mapping.values():
                self.feature_parameters.add(row)
                if any(row.startswith(p + "@") for p in self.parameters):
                    self.parameters.add(row)
            parts.append(rename(generic, mapping))
        return Tensor(tuple(parts), True, tensor.dtype, axis="rows")

    def batch_chunks(self, tensor: Tensor, count: int) -> list[Tensor]:
        """``count`` chunks of the batch of a generic ``tensor`` (``torch.split(x, n)``): other
        samples, so their data are other variables (``x@0``, ``x@1``)."""
        names = self.feature_variables(tensor)
        chunks = []
        for index in range(count):
            mapping = {name: f"{name.partition('@')[0]}@{index}" for name in names}
            for name, renamed in mapping.items():
                self.feature_parameters.add(renamed)
                if self.sizes.get(name):
                    self.sizes[renamed] = self.sizes[name]
            chunks.append(tensor.with_parts([rename(p, mapping) for p in tensor.parts]))
        return chunks

    def ranked(self, tensor: Tensor, count: int | None = None, samples: int | None = None) -> Tensor:
        """The elements a sort or top-k orders: the (``count``) components of ``tensor``, or,
        for a per-sample value whose feature axis is already reduced (a cross-entropy with
        ``reduction="none"``), ``samples`` samples of it with their own data (``x[0]@1``).

        Copies of one generic sample would always tie, and the order statistic of equal
        numbers never switches: the top-k of per-sample losses would read as their mean.
        """
        if tensor.featured or self.feature_variables(tensor):
            return self.featured(tensor, count)
        (generic,) = tensor.parts
        names = sorted({node.value for node in generic.walk() if node.op == "var"
                        and node.value in self.component_of
                        and self.component_of[node.value][0] in self.feature_parameters
                        and self.component_of[node.value][0] not in self.parameters})
        if not names:
            return self.featured(tensor, count)
        count = samples or count or DEFAULT_COMPONENTS
        if count > MAX_COMPONENTS:
            raise SourceError(f"an axis of {count} components (at most {MAX_COMPONENTS})",
                              kind="limit")
        parts = []
        for index in range(count):
            mapping = {name: f"{name}@{index}" for name in names}
            for renamed, name in zip(mapping.values(), names):
                self.component_of[renamed] = self.component_of[name]
            parts.append(rename(generic, mapping))
        return Tensor(tuple(parts), True, tensor.dtype, axis="rows")

    # --- components -----------------------------------------------------------------------

    def featured(self, tensor: Tensor, count: int | None = None) -> Tensor:
        """``tensor`` as components along the feature axis (``count`` of them)."""
        if tensor.featured:
            if count is not None and count > len(tensor.parts):
                raise SourceError(f"tensors with {len(tensor.parts)} and {count} components "
                                  "along one axis")
            return tensor
        count = count or self.size_of(tensor)
        if count > MAX_COMPONENTS:
            raise SourceError(f"an axis of {count} components (at most {MAX_COMPONENTS})",
                              kind="limit")
        (generic,) = tensor.parts
        names = self.feature_variables(tensor)
        parts = []
        for index in range(count):
            mapping = {name: self.component_name(name, index) for name in names}
            parts.append(rename(generic, mapping))
        return Tensor(tuple(parts), True, tensor.dtype)

    def component(self, tensor: Tensor, index: int, spelling: str | None = None) -> Tensor:
        """Element ``index`` of the feature axis, e.g. ``boxes[..., 2]``."""
        if index < 0:
            if not tensor.featured:
                # The last element of an axis of unknown length (h_n[-1]): another element.
                names = self.feature_variables(tensor)
                mapping = {name: f"{name}[{index}]" for name in names}
                for renamed in mapping.values():
                    self.feature_parameters.add(renamed)
                return tensor.with_parts([rename(p, mapping) for p in tensor.parts])
            index += len(tensor.parts)
        if not tensor.featured:
            for name in self.feature_variables(tensor):
                if spelling is not None and name not in self.spelling:
                    self.spelling[name] = spelling
                self.sizes[name] = max(self.sizes.get(name, 0), index + 1)
            tensor = self.featured(tensor, max(self.size_of(tensor), index + 1))
        if index >= len(tensor.parts):
            raise SourceError(f"index {index} out of {len(tensor.parts)} components")
        return Tensor((tensor.parts[index],), False, tensor.dtype)

    def components(self, tensor: Tensor, indices: Sequence[int], spelling: str | None = None) -> Tensor:
        """Several elements of the feature axis as a featured tensor (a slice)."""
        parts = [self.component(tensor, i, spelling).parts[0] for i in indices]
        return Tensor(tuple(parts), True, tensor.dtype)

    # --- elementwise ----------------------------------------------------------------------

    def broadcast(self, *tensors: Tensor) -> list[Tensor]:
        """Bring tensors to a common layout: all generic, or all featured alike."""
        if not any(t.featured for t in tensors):
            # A column of per-sample values (x.norm(dim=1, keepdim=True)) broadcasts over the
            # features of a generic tensor (x / norm): both are then written in components.
            spread = [t for t in tensors if t.spread and self.has_components(t)]
            loose = [t for t in tensors if self.feature_variables(t)]
            if not (spread and loose):
                return list(tensors)
        # Constant tensors (one_hot(labels, 10), per-class weights) take the size of the others:
        # class 0 stands for the label class, so truncating or repeating the tail is the same.
        variable_counts = {len(t.parts) for t in tensors if t.featured and not _constant(t)}
        counts = variable_counts or {len(t.parts) for t in tensors if t.featured}
        count = max(counts) if counts else max(self.size_of(t) for t in tensors)
        out = []
        for t in tensors:
            if t.featured and _constant(t) and len(t.parts) != count:
                parts = list(t.parts[:count]) + [t.parts[-1]] * max(0, count - len(t.parts))
                out.append(t.with_parts(parts))
            elif t.featured:
                out.append(t)
            elif self.feature_variables(t) and not any(u.featured and u.axis == "rows" for u in tensors):
                out.append(self.featured(t, count))
            else:
                # constant along the axis (a per-row value broadcast over a row's scores)
                out.append(Tensor(t.parts * count, True, t.dtype,
                                  axis=next((u.axis for u in tensors if u.featured), "feature")))
        if len({len(t.parts) for t in out}) > 1:
            raise SourceError("tensors whose feature axes have different sizes")
        return out

    def has_components(self, tensor: Tensor) -> bool:
        return any(node.op == "var" and node.value in self.component_of
                   for part in tensor.parts for node in part.walk())

    def elementwise(self, make: Callable[..., Node], *tensors: Tensor, dtype: str = "float") -> Tensor:
        aligned = self.broadcast(*tensors)
        featured = aligned[0].featured
        count = len(aligned[0].parts)
        parts = [make(*[t.parts[i] for t in aligned]) for i in range(count)]
        return Tensor(tuple(parts), featured, dtype)

    # --- reductions and couplings ---------------------------------------------------------

    def reduce(self, tensor: Tensor, combine: Callable[[list[Node]], Node],
               over_features: bool) -> Tensor:
        """Combine the components (``over_features``) or reduce over the batch (identity)."""
        if not over_features:
            return tensor
        featured = self.featured(tensor)
        return Tensor((combine(list(featured.parts)),), False, tensor.dtype)

    def full_reduce(self, tensor: Tensor, combine: Callable[[list[Node]], Node]) -> Tensor:
        """Reduce over every element: the batch (identity) and the components if any."""
        if not tensor.featured:
            return tensor
        return Tensor((combine(list(tensor.parts)),), False, tensor.dtype)

    def coupled(self, tensor: Tensor, make: Callable[[list[Node], int], Node]) -> Tensor:
        """A featured result whose component k depends on every component (softmax)."""
        featured = self.featured(tensor)
        parts = [make(list(featured.parts), k) for k in range(len(featured.parts))]
        return Tensor(tuple(parts), True, tensor.dtype)


def _constant(tensor: Tensor) -> bool:
    return all(part.op == "const" for part in tensor.parts)


def rename(node: Node, mapping: dict[str, str]) -> Node:
    """``node`` with the variables of ``mapping`` renamed (spans kept)."""
    if not mapping:
        return node
    memo: dict[int, Node] = {}

    def visit(current: Node) -> Node:
        key = id(current)
        if key in memo:
            return memo[key]
        if current.op == "var":
            result = (Node("var", value=mapping[current.value], span=current.span)
                      if current.value in mapping else current)
        elif not current.args and not current.keywords:
            result = current
        else:
            args = tuple(visit(arg) for arg in current.args)
            keywords = tuple((k, visit(v)) for k, v in current.keywords)
            unchanged = all(a is b for a, b in zip(args, current.args)) and all(
                a is b for (_, a), (_, b) in zip(keywords, current.keywords))
            result = current if unchanged else Node(current.op, args, current.value, keywords,
                                                   current.written, current.span)
        memo[key] = result
        return result

    return visit(node)


#: the most subsets an order statistic or a sum of the top k is written with
MAX_SUBSETS = 64


@dataclass(frozen=True, eq=False)
class OrderStatistic:
    """What an order-statistic node is: the ``rank``-th largest (or smallest) of ``of``."""

    of: tuple[Node, ...]
    rank: int
    largest: bool


#: order-statistic nodes -> what they are, so that a sum of the top k can be rewritten
#: (keyed by the node itself: nodes compare by identity)
_ORDER_STATISTICS: weakref.WeakKeyDictionary[Node, OrderStatistic] = weakref.WeakKeyDictionary()


def order_statistic(parts: list[Node], rank: int, span: Span | None, largest: bool = True) -> Node:
    """The ``rank``-th largest (or smallest) of ``parts``, 0-based, with max and min only.

    The k-th largest of n numbers is the max over all (k+1)-subsets of their min: exact at
    ties, and built from primitives the analysis knows.
    """
    outer, inner = ("max", "min") if largest else ("min", "max")
    subsets = list(itertools.combinations(parts, rank + 1))
    if len(subsets) > MAX_SUBSETS:
        raise SourceError("sorting more than a few components", kind="limit")
    mins = [s[0] if len(s) == 1 else Node(inner, tuple(s), span=span, written=inner) for s in subsets]
    node = mins[0] if len(mins) == 1 else Node(outer, tuple(mins), span=span, written=outer)
    if node.op in ("max", "min"):
        _ORDER_STATISTICS[node] = OrderStatistic(tuple(parts), rank, largest)
    return node


def sum_of_ranked(parts: Sequence[Node], span: Span | None) -> Node | None:
    """``parts`` summed, when they are the k largest (or smallest) of the same numbers.

    A sum of order statistics written one by one nests a max of mins per rank (OHEM's
    ``loss.topk(k)[0].mean()``: thousands of SymPy terms). The sum of the k largest of n
    numbers is the largest sum of k of them, and the n numbers' total less the smallest sum
    of the other n - k: one max (or min) over subset sums, equal everywhere, ties included.
    None when ``parts`` are not such a run of ranks.

    >>> from diffcheck.program import Node
    >>> xs = [Node("var", value=n) for n in "abc"]
    >>> top = [order_statistic(xs, r, None) for r in range(2)]
    >>> total = sum_of_ranked(top, None)
    >>> total.op, [arg.op for arg in total.args]
    ('sub', ['add', 'min'])
    """
    known = [_ORDER_STATISTICS.get(part) for part in parts]
    first = known[0]
    if first is None or any(k is None or (k.of is not first.of and k.of != first.of)
                            or k.largest != first.largest for k in known):
        return None
    if sorted(k.rank for k in known if k is not None) != list(range(len(parts))):
        return None
    values = list(first.of)
    count, rest = len(parts), len(values) - len(parts)
    if rest <= 0:
        return Node("add", tuple(values), span=span)
    outer, inner = ("max", "min") if first.largest else ("min", "max")
    chosen, how = (rest, inner) if rest < count else (count, outer)
    subsets = list(itertools.combinations(values, chosen))
    if len(subsets) > MAX_SUBSETS:
        return None
    sums = [s[0] if len(s) == 1 else Node("add", s, span=span) for s in subsets]
    best = sums[0] if len(sums) == 1 else Node(how, tuple(sums), span=span, written=how)
    if how == outer:
        return best
    return Node("sub", (Node("add", tuple(values), span=span), best), span=span)


def fraction(value: Any) -> Any:
    """An exact number for a constant node (ints and Fractions pass through)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, Fraction)):
        return value
    return value
