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
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial, wraps
from typing import Any, TypeVar

from diffcheck.program import Node, Span
from diffcheck.readers.pysource.values import DEFAULT_COMPONENTS, PairGrid, SourceError, Tensor

#: The most components one axis is written with (an explicit x[..., 9] asks for ten).
MAX_COMPONENTS = 16

#: Rows written each way for a grid of pairs (``a[:, None] - b[None]``). The grid has this
#: many squared cells, each with its features: two rows each way expose a nearest-neighbour
#: tie (the kink of a min over a pair axis) and keep a Chamfer distance at a few seconds.
PAIR_ROWS = 2


def const(value: Any, span: Span | None = None) -> Node:
    """A constant node: ints and exact fractions stay exact; SymPy numbers as they are."""
    return Node("const", value=value, span=span)


def is_const(node: Node, value: Any | None = None) -> bool:
    if node.op != "const":
        return False
    return value is None or node.value == value


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _whole(method: _Method) -> _Method:
    """A builder method that reads every element of its tensor: a selection by a mask computed
    from the predictions (``x[mask]``, :attr:`Tensor.selected`) is refused, not read as every
    element (the library reduces selections itself)."""

    @wraps(method)
    def checked(self: Any, tensor: Tensor, *args: Any, **keywords: Any) -> Any:
        if tensor.selected is not None:
            raise SourceError("unsupported: this operation on a selection by a mask computed "
                              "from the predictions (x[mask])")
        return method(self, tensor, *args, **keywords)

    return checked  # type: ignore[return-value]


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
        #: variables of other rows of the batch written for statistics over it (``x@1``)
        self.row_names: set[str] = set()

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

    @_whole
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

    @_whole
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

    def sample(self, tensor: Tensor, index: int) -> Tensor:
        """Row ``index`` of the batch of ``tensor`` (``x@1``, ``x[0]@1``): its data variables,
        and the components already written of them, renamed; model parameters stay shared
        unless the tensor is made of parameters alone (then their rows are split, as a
        codebook's)."""
        names = [n for n in self.feature_variables(tensor) if "@" not in n]
        written = {node.value for part in tensor.parts for node in part.walk()
                   if node.op == "var" and "@" not in node.value and node.value in self.component_of}
        components = sorted(n for n in written if self.component_of[n][0] not in self.parameters)
        if not components and all(n in self.parameters for n in names):
            # made of parameters alone (the squared norms of class centres, a codebook's): its
            # rows are rows of the parameter, with their components (centers[0]@1)
            components = sorted(written)
        mapping = {name: f"{name}@{index}" for name in [*names, *components]}
        for name, renamed in mapping.items():
            if name in self.component_of:
                self.component_of[renamed] = self.component_of[name]
                continue
            self.feature_parameters.add(renamed)
            if name in self.parameters:
                self.parameters.add(renamed)
            if self.sizes.get(name):
                self.sizes[renamed] = self.sizes[name]
        return tensor.with_parts([rename(p, mapping) for p in tensor.parts])

    @_whole
    def batch_rows(self, tensor: Tensor, count: int = DEFAULT_COMPONENTS) -> Tensor:
        """``count`` rows of the batch of a generic ``tensor`` as parts along the "rows" axis:
        what an order statistic or a max over ``dim=0`` compares (other samples, not copies)."""
        if tensor.featured:
            raise SourceError("unsupported: an order statistic over the batch of a tensor "
                              "that has components")
        parts = [self.sample(tensor, index).parts[0] for index in range(count)]
        return Tensor(tuple(parts), True, tensor.dtype, axis="rows")

    @_whole
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
        # the components of a row stay in a selection of rows (x[mask] of a mask per row)
        return Tensor(tuple(parts), True, tensor.dtype, selected=tensor.selected)

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
        return Tensor((tensor.parts[index],), False, tensor.dtype, selected=tensor.selected)

    def components(self, tensor: Tensor, indices: Sequence[int], spelling: str | None = None) -> Tensor:
        """Several elements of the feature axis as a featured tensor (a slice)."""
        parts = [self.component(tensor, i, spelling).parts[0] for i in indices]
        return Tensor(tuple(parts), True, tensor.dtype, selected=tensor.selected)

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
        selected = self.common_selection(tensors)
        marks = {t.new_axis for t in tensors if t.new_axis >= 0}
        tensors = self.meeting(tensors)
        aligned = self.broadcast(*tensors)
        featured = aligned[0].featured
        count = len(aligned[0].parts)
        parts = [make(*[t.parts[i] for t in aligned]) for i in range(count)]
        # a new axis survives operations with constants (a[:, None] * 2)
        (new_axis,) = marks if len(marks) == 1 and all(
            t.new_axis >= 0 or self.is_constant(t) for t in tensors) else (-1,)
        # the parts of a matrix of rows (relu(cdist(x, y) - m)) stay rows
        axes = {t.axis for t in aligned if t.featured and not _constant(t)}
        axis = axes.pop() if featured and len(axes) == 1 else "feature"
        diagonal = None
        if any(t.on_diagonal for t in tensors) and not featured and all(
                self.is_constant(t) for t in tensors):
            # eye * 1e9, ~eye, 1 - eye: the same operation on the diagonal's value
            diagonal = (make(*[(t.on_diagonal or t.parts)[0] for t in tensors]),)
        return Tensor(tuple(parts), featured, dtype, axis=axis, new_axis=new_axis,
                      on_diagonal=diagonal, selected=selected)

    def common_selection(self, tensors: Sequence[Tensor]) -> tuple[Node, ...] | None:
        """The selection (``x[mask]``, see :attr:`Tensor.selected`) an elementwise operation of
        ``tensors`` runs over: selections by the same mask meet element by element, and numbers
        the same for every element broadcast; anything else pairs elements torch would not."""
        selections = [t.selected for t in tensors if t.selected is not None]
        if not selections:
            return None
        first = selections[0]
        if any(len(s) != len(first) or not all(map(same_node, s, first)) for s in selections):
            raise SourceError("unsupported: selections by different masks computed from the "
                              "predictions, element by element")
        if any(t.selected is None and not self.is_constant(t) and not self.is_shared(t)
               for t in tensors):
            raise SourceError("unsupported: a selection by a mask computed from the predictions "
                              "(x[mask]) with a tensor not selected by it")
        return first

    def is_shared(self, tensor: Tensor) -> bool:
        """Made of a model's parameters alone (``self.scale``): the same for every sample."""
        names = {node.value for part in tensor.parts for node in part.walk() if node.op == "var"}
        bases = {self.component_of.get(name, (name,))[0] for name in names}
        return bool(bases) and bases <= self.parameters

    def is_constant(self, tensor: Tensor) -> bool:
        """No data or parameter in it: the same number for every element."""
        return not self.feature_variables(tensor) and not self.has_components(tensor) \
            and not (tensor.featured and tensor.axis == "rows")

    # --- pairs of rows (a[:, None] - b[None]) ---------------------------------------------

    def carries_features(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` still has its feature axis (a data tensor ``(N, D)``) rather than
        being a reduced per-sample value ``(N,)``.

        This is what tells ``a.unsqueeze(1)`` (``(N, 1, D)``: one side of pairs of rows of a
        data tensor) from ``losses.unsqueeze(1)`` (``(N, 1)``: a column of per-sample values,
        kept as ``spread``): the rank of the tensor, which the dims of ``unsqueeze`` count in.
        """
        if tensor.featured:
            return tensor.axis == "feature" and not tensor.stacked
        if tensor.spread:
            return False
        return bool(self.feature_variables(tensor)) and not self.has_components(tensor)

    def new_axis(self, tensor: Tensor, position: int) -> int:
        """Where ``unsqueeze(position)`` puts a new axis of ``tensor``, counted from the start
        for a tensor of rank 2 with features and 1 without (-1 when it makes no pairs).

        A new axis 0 makes ``(1, N, ...)``: rows vary along axis 1; a new axis 1 makes
        ``(N, 1, ...)``: rows vary along axis 0. Alone, a new axis is read as today (a column
        over the features: ``spread``); met by a new axis next to it, it makes pairs of rows.
        """
        if (tensor.featured and tensor.axis != "feature") or tensor.stacked or tensor.spread:
            return -1
        if not self.feature_variables(tensor) and not self.has_components(tensor):
            return -1
        rank = 2 if self.carries_features(tensor) else 1
        if position < 0:
            position += rank + 1
        return position if 0 <= position <= rank else -1

    def pair_offset(self, operands: Sequence[Tensor | PairGrid]) -> int | None:
        """The batch axes before the pair axes when ``operands`` make pairs of rows, or None.

        They do when one is a grid, or two new axes sit side by side (p and p + 1; a column
        kept by ``keepdim`` is a new axis 1 next to a row's 0).
        """
        for o in operands:
            if isinstance(o, PairGrid):
                return o.offset
        marks = {o.new_axis if o.new_axis >= 0 else (1 if o.spread else -1)
                 for o in operands if isinstance(o, Tensor)} - {-1}
        if len(marks) == 2 and max(marks) - min(marks) == 1:
            return min(marks)
        return 0 if self.left_meets_plain(operands) else None

    def left_meets_plain(self, operands: Sequence[Tensor | PairGrid]) -> bool:
        """``boxes1[:, None, :2]`` against ``boxes2[:, :2]``: a new axis 1 meets a tensor of the
        rank the left one had before it, whose rows numpy's broadcasting aligns with that new
        axis: pairs of rows, the plain one the right side (as ``boxes2[None]``).

        A column of per-sample values (``loss[:, None]``) against components has another rank:
        it stays a column broadcast over the components."""
        lefts = [o for o in operands if isinstance(o, Tensor) and o.new_axis == 1]
        plains = [o for o in operands if isinstance(o, Tensor) and o.new_axis < 0
                  and not o.spread and not self.is_constant(o)
                  and not (o.featured and o.axis != "feature") and not o.stacked]
        if not lefts or not plains or len(lefts) + len(plains) != sum(
                not self.is_constant(o) for o in operands if isinstance(o, Tensor)):
            return False
        ranks = {self.carries_features(Tensor(o.parts, o.featured, o.dtype, axis=o.axis))
                 for o in (*lefts, *plains)}
        return len(ranks) == 1

    def pairwise(self, make: Callable[..., Node], *operands: Tensor | PairGrid, offset: int = 0,
                 dtype: str = "float") -> PairGrid:
        """An elementwise operation on pairs of rows: cell ``(i, j)`` is ``make`` of row ``i``
        of the left operands (new axis at ``offset + 1``) and row ``j`` of the right ones
        (new axis at ``offset``), cell by cell."""
        grids = [o for o in operands if isinstance(o, PairGrid)]
        size = grids[0].size if grids else PAIR_ROWS
        with_features = self.pair_features(operands)
        cells_of = [self.pair_cells(o, size, with_features, offset) for o in operands]
        cells = [self.elementwise(make, *[c[k] for c in cells_of], dtype=dtype)
                 for k in range(size * size)]
        if any(c.featured for c in cells) and not all(c.featured for c in cells):
            cells = self.broadcast(*cells)
        return PairGrid(tuple(cells), size, with_features, dtype, offset)

    def pair_features(self, operands: Sequence[Tensor | PairGrid]) -> bool:
        """Whether pairs of rows of ``operands`` keep a feature axis (``(N, M, D)``).

        Components written along the feature axis commit to it; a generic data tensor does
        not (it may be 1-D, as labels or scores): it keeps the feature axis unless it meets
        pairs without one (a matrix of rows such as cdist, pairs of per-sample values).
        """
        claims: list[tuple[bool, bool]] = []  # (has the feature axis, committed to it)
        for o in operands:
            if isinstance(o, PairGrid):
                claims.append((o.features, any(c.featured for c in o.cells)))
            elif o.new_axis >= 0:
                # a side is also a column (spread) for today's reading; its rank is the tensor's
                plain = Tensor(o.parts, o.featured, o.dtype, axis=o.axis)
                claims.append((self.carries_features(plain), o.featured))
            elif (o.featured and o.axis == "rows") or o.spread:
                # a matrix of rows (cdist) or a column (keepdim) is two axes: no features
                claims.append((False, True))
            elif not self.is_constant(o):
                # a reduced per-sample value has no feature axis; components commit to one
                has = self.carries_features(o)
                claims.append((has, o.featured or not has))
        if any(has and committed for has, committed in claims):
            if any(not has for has, _ in claims):
                raise SourceError("unsupported: pairs of rows of data tensors combined with pairs "
                                  "of per-sample values")
            return True
        return all(has for has, _ in claims)

    def pair_cells(self, operand: Tensor | PairGrid, size: int, features: bool,
                   offset: int = 0) -> list[Tensor]:
        """The ``size * size`` cells ``operand`` contributes to a grid of pairs."""
        if isinstance(operand, PairGrid):
            if operand.size != size or operand.offset != offset:
                raise SourceError("unsupported: pairs of rows along different axes")
            return list(operand.cells)
        plain = Tensor(operand.parts, operand.featured, operand.dtype)
        if operand.featured and operand.axis == "rows":
            # cdist(x, y) or x @ y.t(): part j is the value of the generic row x with row j of
            # y; row i of x makes cell (i, j)
            if len(operand.parts) < size:
                raise SourceError("unsupported: a matrix of fewer rows than pairs of rows")
            return [self.sample(Tensor((operand.parts[j],), False, operand.dtype), i)
                    for i in range(size) for j in range(size)]
        if self.is_constant(operand):
            if operand.on_diagonal is not None:
                diagonal = Tensor(operand.on_diagonal, operand.featured, operand.dtype)
                return [diagonal if i == j else plain for i in range(size) for j in range(size)]
            if operand.featured and operand.axis == "feature" and not features:
                # a constant vector (C,) broadcasts along the last axis of a grid (N, C) without
                # features: a one-hot of labels picks, for every row i, its class column j
                # (class 0 stands for each row's own class, as for one_hot)
                parts = operand.parts
                return [Tensor((parts[min(j, len(parts) - 1)],), False, operand.dtype)
                        for _ in range(size) for j in range(size)]
            return [plain] * (size * size)
        # numpy broadcasting: a column (keepdim) varies along axis 0, anything else is aligned
        # with the trailing axes, so its rows vary along axis 1
        if operand.new_axis >= 0:
            if operand.new_axis not in (offset, offset + 1):
                raise SourceError("unsupported: a new axis that is not one of the pair axes")
            side = "left" if operand.new_axis == offset + 1 else "right"
        else:
            side = "left" if operand.spread else "right"
        if operand.new_axis < 0 and ((features and not self.carries_features(plain))
                                     or (not features and plain.featured)):
            raise SourceError("unsupported: a tensor without a pair axis combined with pairs of "
                              "rows of another rank (write both sides with unsqueeze or None)")
        rows = [self.sample(plain, i) for i in range(size)]
        return [rows[i] if side == "left" else rows[j] for i in range(size) for j in range(size)]

    def diagonal(self, grid: PairGrid) -> Tensor:
        """The cells (i, i) of ``grid`` as one generic element: cell (0, 0) with row 0 of
        each side (``x@0``) named back as the generic row (``x``)."""
        cell = grid.cell(0, 0)
        names = {node.value for part in cell.parts for node in part.walk()
                 if node.op == "var" and node.value.endswith("@0")}
        mapping = {name: name[: -len("@0")] for name in names}
        return cell.with_parts([rename(p, mapping) for p in cell.parts])

    def grid_reduce(self, grid: PairGrid, combine: Callable[[list[Node]], Node],
                    axes: set[str]) -> Tensor | PairGrid:
        """Reduce a grid over some of its axes: "i" (dim 0), "j" (dim 1), "feature".

        Over the feature axis alone it stays a grid; over one pair axis it is a tensor of rows
        (one part per row of the other side); over both, one value.
        """
        cells = list(grid.cells)
        features = grid.features
        if "feature" in axes:
            cells = [self.reduce(c, combine, True) for c in cells]
            features = False
        pair_axes = axes & {"i", "j"}
        if not pair_axes:
            return PairGrid(tuple(cells), grid.size, features, grid.dtype, grid.offset)
        if features or any(c.featured for c in cells):
            raise SourceError("unsupported: reducing a pair axis of a grid whose cells keep "
                              "their feature axis (reduce the features first)")
        values = [c.parts[0] for c in cells]
        n = grid.size
        if pair_axes == {"i", "j"}:
            return Tensor((combine(values),), False, grid.dtype)
        if pair_axes == {"j"}:
            lines = [[values[i * n + j] for j in range(n)] for i in range(n)]
        else:
            lines = [[values[i * n + j] for i in range(n)] for j in range(n)]
        return Tensor(tuple(combine(line) for line in lines), True, grid.dtype, axis="rows")

    def grid_coupled(self, grid: PairGrid, make: Callable[[list[Node], int], Node],
                     axis: str) -> PairGrid:
        """A coupled operation (softmax) along one axis of a grid, line by line."""
        if axis == "feature":
            cells = [self.coupled(c, make) for c in grid.cells]
            return PairGrid(tuple(cells), grid.size, grid.features, grid.dtype, grid.offset)
        if grid.features or any(c.featured for c in grid.cells):
            raise SourceError("unsupported: a coupled operation along a pair axis of a grid "
                              "whose cells keep their feature axis")
        n = grid.size
        values = [c.parts[0] for c in grid.cells]
        out = list(values)
        for line in range(n):
            keys = [line * n + k if axis == "j" else k * n + line for k in range(n)]
            parts = [values[k] for k in keys]
            for rank, key in enumerate(keys):
                out[key] = make(parts, rank)
        return PairGrid(tuple(Tensor((v,), False, grid.dtype) for v in out), n, False, grid.dtype,
                        grid.offset)

    # --- reductions and couplings ---------------------------------------------------------

    def reduce(self, tensor: Tensor, combine: Callable[[list[Node]], Node],
               over_features: bool) -> Tensor:
        """Combine the components (``over_features``) or reduce over the batch (a sum or mean
        over the batch is as differentiable as one element, see :meth:`batch_reduce`; the
        coupled reductions, max and min over the batch, go through :meth:`over_batch`)."""
        if not over_features:
            return self.batch_reduce(tensor, combine)
        featured = self.featured(tensor)
        return Tensor((combine(list(featured.parts)),), False, tensor.dtype,
                      selected=tensor.selected)

    @_whole
    def over_batch(self, tensor: Tensor, combine: Callable[[list[Node]], Node],
                   count: int = DEFAULT_COMPONENTS) -> Tensor:
        """A coupled reduction over the batch (``losses.max(dim=0)``): ``count`` rows of the
        batch, combined element by element (component by component if featured)."""
        rows = [self.sample(tensor, index) for index in range(count)]
        if not tensor.featured:
            return Tensor((combine([r.parts[0] for r in rows]),), False, tensor.dtype)
        parts = [combine([r.parts[k] for r in rows]) for k in range(len(tensor.parts))]
        return Tensor(tuple(parts), True, tensor.dtype, axis=tensor.axis)

    @_whole
    def full_reduce(self, tensor: Tensor, combine: Callable[[list[Node]], Node]) -> Tensor:
        """Reduce over every element: the batch (see :meth:`batch_reduce`) and the components."""
        if not tensor.featured:
            return self.batch_reduce(tensor, combine)
        parts = self.meet(tensor.parts)
        return Tensor((self.batch_reduced(parts, combine, combine(parts)),), False, tensor.dtype)

    # --- statistics over the batch (x - x.mean(0)) -----------------------------------------

    @_whole
    def batch_reduce(self, tensor: Tensor, combine: Callable[[list[Node]], Node],
                     single: Callable[[Node], Node] | None = None) -> Tensor:
        """A sum or mean (``combine``) over the batch of each part of ``tensor``.

        Alone it is the identity (``single`` for other reductions: the L2 norm of one element
        is its absolute value): the loss ``l.mean()`` is as differentiable as one ``l``. But
        the statistic can meet per-sample values of the same data again (``x - x.mean(0)``),
        and then the identity is wrong (it reads 0): the node is remembered with what it
        reduces, and :meth:`meet` writes it over :data:`STATISTIC_ROWS` rows of the batch, the
        generic element being row 0 (``x - (x + x@1 + x@2)/3``). A reduction of values that
        depend on a statistic of the same data (a variance, a Pearson correlation) is written
        over the rows at once.
        """
        parts = self.meet(tensor.parts)
        reduced = [self.batch_reduced([p], combine, single(p) if single else p) for p in parts]
        return replace(tensor, parts=tuple(reduced))

    @_whole
    def batch_statistic(self, tensor: Tensor, combine: Callable[[list[Node]], Node]) -> Tensor:
        """``combine`` over the batch of each part of ``tensor`` written over rows of it at once:
        a matrix of sums over the batch (``x.T @ y``) is a statistic whatever meets it."""
        parts = [self.rows_reading(BatchReduction((p,), combine))
                 if self.data_bases(self.scan([p])[0]) else p for p in self.meet(tensor.parts)]
        return replace(tensor, parts=tuple(parts))

    def batch_reduced(self, of: Sequence[Node], combine: Callable[[list[Node]], Node],
                      identity: Node) -> Node:
        """The node of ``combine`` over the batch of the elements ``of`` (see
        :meth:`batch_reduce`); ``identity`` is its reading as one generic element."""
        outside, _, statistics = self.scan(of)
        bases = self.data_bases(outside)
        if not bases or any("@" in name and name not in self.row_names for name in outside):
            # already the same for every sample (a constant over the batch), or written over
            # rows of the batch already (values sorted over it): nothing is left to reduce
            return identity
        if bases & self.data_bases(*[s.variables() for s in statistics]):
            # values centred by a statistic of the same data (((x - x.mean(0))**2).sum(0)):
            # read as one element they would lose the sum's zero at equal rows
            return self.rows_reading(BatchReduction(tuple(of), combine))
        if any(identity is p for p in of):
            identity = Node(identity.op, identity.args, identity.value, identity.keywords,
                            identity.written, identity.span)
        _BATCH_REDUCTIONS[identity] = BatchReduction(tuple(of), combine)
        return identity

    def data_bases(self, *names: set[str]) -> set[str]:
        """The data tensors (not model parameters) the variables ``names`` are elements of:
        ``x`` for ``x``, ``x@1`` and ``x[..., 0]@2``."""
        bases = set()
        for name in set().union(*names):
            base = self.component_of[name][0] if name in self.component_of else name
            base = base.partition("@")[0]
            if base in self.feature_parameters and base not in self.parameters:
                bases.add(base)
        return bases

    def scan(self, nodes: Sequence[Node]) -> tuple[set[str], list[Node], list[Node]]:
        """The variables of ``nodes`` outside statistics over the batch, the reductions read as
        the identity and the statistics written over rows found on the way (not entered)."""
        outside: set[str] = set()
        statistics: list[Node] = []
        reductions: list[Node] = []
        seen: set[int] = set()
        stack = list(nodes)
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node in _STATISTICS:
                statistics.append(node)
            elif node in _BATCH_REDUCTIONS:
                reductions.append(node)
            elif node.op == "var":
                outside.add(node.value)
            else:
                stack.extend([*node.args, *(arg for _, arg in node.keywords)])
        return outside, reductions, statistics

    def meeting(self, tensors: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """``tensors`` after :meth:`meet` of all their parts."""
        parts = [p for t in tensors for p in t.parts]
        met = self.meet(parts)
        if all(a is b for a, b in zip(parts, met)):
            return tuple(tensors)
        out, start = [], 0
        for t in tensors:
            out.append(replace(t, parts=tuple(met[start:start + len(t.parts)])))
            start += len(t.parts)
        return tuple(out)

    def meet(self, parts: Sequence[Node]) -> list[Node]:
        """``parts`` (operands about to be combined) with every reduction over the batch read
        as the identity whose data meet per-sample values of the same data, or statistics of
        it written over rows, written over rows of the batch instead (see
        :meth:`batch_reduce`)."""
        parts = list(parts)
        while True:
            outside, reductions, statistics = self.scan(parts)
            # the data met: per-sample values, and the rows of statistics already written
            bases = self.data_bases(outside, *[s.variables() for s in statistics])
            chosen = {id(r): r for r in reductions
                      if self.data_bases(self.scan(_BATCH_REDUCTIONS[r].of)[0]) & bases}
            if not chosen:
                return parts
            readings = {key: self.rows_reading(_BATCH_REDUCTIONS[r]) for key, r in chosen.items()}
            parts = [rewrite(p, partial(_reading, readings)) for p in parts]

    def rows_reading(self, reduction: BatchReduction) -> Node:
        """``reduction`` written over rows of the batch: what it reduces with the generic element
        as row 0, then with the roles of row 0 and row k swapped, for k = 1, 2."""
        rows = [self.swap_rows(p, k) for k in range(STATISTIC_ROWS) for p in reduction.of]
        node = reduction.combine(rows)
        _STATISTICS.add(node)
        return node

    def swap_rows(self, node: Node, row: int) -> Node:
        """``node`` with the data of the generic element (row 0) and of row ``row`` swapped;
        statistics over the batch inside are the same for every order of the rows."""
        if row == 0:
            return node
        outside, _, _ = self.scan([node])
        mapping: dict[str, str] = {}
        for name in outside:
            if not self.data_bases({name}):
                continue
            head, at, tail = name.partition("@")
            if not at:
                renamed = f"{name}@{row}"
                if name in self.component_of:
                    self.component_of[renamed] = self.component_of[name]
                else:
                    self.feature_parameters.add(renamed)
                    if self.sizes.get(name):
                        self.sizes[renamed] = self.sizes[name]
                self.row_names.add(renamed)
                mapping[name] = renamed
            elif tail == str(row) and name in self.row_names:
                mapping[name] = head

        def visit(current: Node) -> Node | None:
            if current in _STATISTICS or current in _BATCH_REDUCTIONS:
                return current
            if current.op == "var":
                renamed = mapping.get(current.value)
                return current if renamed is None else Node("var", value=renamed, span=current.span)
            return None

        return rewrite(node, visit)

    def coupled(self, tensor: Tensor, make: Callable[[list[Node], int], Node]) -> Tensor:
        """A featured result whose component k depends on every component (softmax)."""
        featured = self.featured(tensor)
        parts = [make(list(featured.parts), k) for k in range(len(featured.parts))]
        return Tensor(tuple(parts), True, tensor.dtype, selected=tensor.selected)


def same_node(a: Node, b: Node) -> bool:
    """Whether ``a`` and ``b`` compute the same thing (nodes compare by identity; a mask
    written twice, ``d[d < t]`` and ``y[d < t]``, is two nodes of one condition).

    >>> d, t = Node("var", value="d"), Node("const", value=1)
    >>> same_node(Node("lt", (d, t)), Node("lt", (Node("var", value="d"), t)))
    True
    """
    pending = [(a, b)]
    while pending:
        left, right = pending.pop()
        if left is right:
            continue
        if (left.op, left.value, left.written) != (right.op, right.value, right.written) or \
                len(left.args) != len(right.args) or \
                [k for k, _ in left.keywords] != [k for k, _ in right.keywords]:
            return False
        pending.extend(zip(left.args, right.args))
        pending.extend((x, y) for (_, x), (_, y) in zip(left.keywords, right.keywords))
    return True


#: comparison -> (the same comparison with its operands swapped, its negation)
_COMPARISON_DUALS = {"lt": ("gt", "ge"), "le": ("ge", "gt"), "gt": ("lt", "le"),
                     "ge": ("le", "lt"), "eq": ("eq", "ne"), "ne": ("ne", "eq")}


def complementary(a: Node, b: Node) -> bool:
    """Whether the conditions ``a`` and ``b`` hold for opposite elements: exactly one of them
    holds everywhere (``d < t`` and ``d >= t``, ``t > d`` and ``d >= t``, ``m`` and ``~m``).

    >>> d, t = Node("var", value="d"), Node("var", value="t")
    >>> complementary(Node("lt", (d, t)), Node("ge", (d, t))), complementary(
    ...     Node("lt", (d, t)), Node("le", (t, d))), complementary(Node("lt", (d, t)), Node("gt", (t, d)))
    (True, True, False)
    """
    for x, y in ((a, b), (b, a)):
        if y.op == "not" and len(y.args) == 1 and same_node(y.args[0], x):
            return True
    if a.op not in _COMPARISON_DUALS or b.op not in _COMPARISON_DUALS or \
            len(a.args) != 2 or len(b.args) != 2:
        return False
    _, negation = _COMPARISON_DUALS[a.op]
    left, right = a.args
    return (b.op == negation and same_node(b.args[0], left) and same_node(b.args[1], right)) or (
        b.op == _COMPARISON_DUALS[negation][0] and same_node(b.args[0], right)
        and same_node(b.args[1], left))


def _reading(readings: dict[int, Node], node: Node) -> Node | None:
    return readings.get(id(node))


def _constant(tensor: Tensor) -> bool:
    return all(part.op == "const" for part in tensor.parts)


def rename(node: Node, mapping: dict[str, str]) -> Node:
    """``node`` with the variables of ``mapping`` renamed (spans kept)."""
    if not mapping:
        return node

    def visit(current: Node) -> Node | None:
        if current.op == "var":
            return (Node("var", value=mapping[current.value], span=current.span)
                    if current.value in mapping else current)
        return None

    return rewrite(node, visit)


def rewrite(node: Node, replacement: Callable[[Node], Node | None]) -> Node:
    """``node`` with each node for which ``replacement`` gives a node replaced by it (and not
    entered); shared nodes stay shared. A statistic over the batch or a reduction read as the
    identity stays one when its inside changes (a component of ``x.mean(0)``)."""
    memo: dict[int, Node] = {}

    def visit(current: Node) -> Node:
        key = id(current)
        if key in memo:
            return memo[key]
        result = replacement(current)
        if result is None:
            if not current.args and not current.keywords:
                result = current
            else:
                args = tuple(visit(arg) for arg in current.args)
                keywords = tuple((k, visit(v)) for k, v in current.keywords)
                unchanged = all(a is b for a, b in zip(args, current.args)) and all(
                    a is b for (_, a), (_, b) in zip(keywords, current.keywords))
                result = current if unchanged else Node(current.op, args, current.value,
                                                       keywords, current.written, current.span)
        if result is not current:
            reduction = _BATCH_REDUCTIONS.get(current)
            if reduction is not None and result not in _STATISTICS:
                if result.op == "var" or any(result is p for p in reduction.of):
                    result = Node(result.op, result.args, result.value, result.keywords,
                                  result.written, result.span)
                _BATCH_REDUCTIONS[result] = BatchReduction(
                    tuple(rewrite(p, replacement) for p in reduction.of), reduction.combine)
            elif current in _STATISTICS:
                _STATISTICS.add(result)
        memo[key] = result
        return result

    return visit(node)


#: Rows of the batch a statistic over it (``x.mean(0)`` meeting ``x``) is written with: the
#: generic element and two others, enough for the zero of a variance (all rows equal) to be
#: a set of its own.
STATISTIC_ROWS = DEFAULT_COMPONENTS


@dataclass(frozen=True, eq=False)
class BatchReduction:
    """A sum or mean over the batch read as one generic element: the parts it reduces."""

    of: tuple[Node, ...]
    combine: Callable[[list[Node]], Node]


#: nodes standing for a reduction over the batch read as the identity -> what they reduce
_BATCH_REDUCTIONS: weakref.WeakKeyDictionary[Node, BatchReduction] = weakref.WeakKeyDictionary()
#: nodes written over rows of the batch: the same for every sample
_STATISTICS: weakref.WeakSet[Node] = weakref.WeakSet()


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


def order_statistic_of(node: Node) -> OrderStatistic | None:
    """What ``node`` is when :func:`order_statistic` built it (a max of mins), else None."""
    return _ORDER_STATISTICS.get(node)


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
