"""The values the source interpreter computes with: tensors, objects, functions.

A tensor is seen the way differentiability sees it. Elementwise code is the same function for
every element, so an elementwise tensor is *one generic element*: ``pred`` stands for any
``pred[n, c]``. Operations that couple the elements of an axis (softmax, max or norm over a
dimension, sort) need the elements one by one: the tensor is then *featured*, written as a few
components along that axis (``logits[0]``, ``logits[1]``, ``logits[2]``), enough to expose ties
and the zero vector. Everything else about shapes (views, transposes, unsqueeze) does not change
which function of which numbers a loss is, and is an identity here.

>>> from diffcheck.program import Node
>>> t = Tensor((Node("var", value="pred"),))
>>> t.featured, t.generic.value
(False, 'pred')
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diffcheck.program import Node

#: Components written for an axis whose size the source does not tell: two elements expose a
#: tie, three a tie that a third element masks.
DEFAULT_COMPONENTS = 3


class SourceError(Exception):
    """A construct the reader cannot translate (``unsupported``) or a bound reached (``limit``).

    ``node`` is the ast node it concerns, for its line and column.
    """

    def __init__(self, message: str, node: ast.AST | None = None, kind: str = "unsupported",
                 span: Any = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.kind = kind
        #: a :class:`~diffcheck.program.Span` when the error concerns a built node
        self.span = span

    def position(self) -> tuple[int | None, int | None]:
        """(line, column), 1-based, of what the error concerns; None when unknown."""
        if self.node is not None and hasattr(self.node, "lineno"):
            return self.node.lineno, getattr(self.node, "col_offset", 0) + 1
        if self.span is not None:
            return self.span.line, self.span.column
        return None, None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, eq=False)
class Tensor:
    """A tensor: one generic element, or components along the feature axis (``featured``).

    ``dtype`` is ``"float"``, ``"bool"`` (parts are conditions) or ``"int"`` (class labels,
    indices: data, never differentiated).
    """

    parts: tuple[Node, ...]
    featured: bool = False
    dtype: str = "float"
    #: a per-sample value kept as a column (``keepdim=True``, ``unsqueeze``): it broadcasts
    #: over the feature axis, so a generic tensor combined with it is written in components
    spread: bool = False
    #: which axis the parts run along when featured: "feature", or "rows" (the rows of a
    #: matrix: ``q @ k.t()`` scores one row of ``k`` per part)
    axis: str = "feature"
    #: transposed (``.t()``, ``.T``): in ``a @ b.t()`` the rows of ``b`` become an axis
    transposed: bool = False
    #: stacked along a new leading axis (``torch.stack(probs)``): that many tensors of
    #: len(parts) // stacked components each, item by item; a reduction over dim 0 combines
    #: them component by component
    stacked: int = 0
    #: where ``unsqueeze`` or ``None`` put a new axis (-1: none). Two tensors with new axes at
    #: p and p + 1 make pairs of rows (a :class:`PairGrid`): the one with the axis at p + 1
    #: varies along axis p (the "left" side, ``a.unsqueeze(1)``), the other along p + 1 (the
    #: "right" side, ``b.unsqueeze(0)``); axes before p are batch axes of both
    new_axis: int = -1
    #: a constant over the pairs of a batch with itself (``torch.eye(n)``, ``1 - eye``):
    #: ``parts`` is its value off the diagonal, this its value on the diagonal
    on_diagonal: tuple[Node, ...] | None = None
    #: the number of axes, where a ``view``/``reshape`` with a written shape gave it (0: not
    #: known): ``q.view(B, T, heads, d).transpose(1, 2)`` moves heads, not the last two axes
    rank: int = 0
    #: ``x[mask]`` of a mask computed from the predictions: the condition under which an
    #: element (a row, with its components) is one of the selected, as a 1-tuple. Elementwise
    #: and row-wise operations keep it; a sum over the selection is the sum of
    #: ``where(condition, x, 0)`` (see ``Library.unselect``)
    selected: tuple[Node, ...] | None = None

    @property
    def generic(self) -> Node:
        if self.featured:
            raise SourceError("internal: a featured tensor has no single element")
        return self.parts[0]

    def with_parts(self, parts: tuple[Node, ...] | list[Node], featured: bool | None = None,
                   dtype: str | None = None) -> Tensor:
        return Tensor(tuple(parts), self.featured if featured is None else featured,
                      self.dtype if dtype is None else dtype, self.spread, self.axis,
                      new_axis=self.new_axis, selected=self.selected)

    def spreading(self, new_axis: int = -1) -> Tensor:
        """This tensor kept as a column (``keepdim``/``unsqueeze``), if it is a reduced value;
        ``new_axis`` is where ``unsqueeze`` put the new axis, if known."""
        if self.featured or self.spread:
            return Tensor(self.parts, self.featured, self.dtype, self.spread, self.axis,
                          self.transposed, self.stacked, new_axis,
                          selected=self.selected) if new_axis >= 0 else self
        return Tensor(self.parts, False, self.dtype, True, self.axis, new_axis=new_axis,
                      selected=self.selected)

    def transposing(self) -> Tensor:
        """This tensor with its last two axes swapped (``.t()``).

        A column (``labels.unsqueeze(1)``, ``sq.sum(1, keepdim=True)``) becomes a row: the
        right side of pairs of rows, so ``sq + sq.t()`` is a grid of pairs.
        """
        new_axis = {1: 0, 0: 1}.get(self.new_axis, 0 if self.spread and self.new_axis < 0 else -1)
        return Tensor(self.parts, self.featured, self.dtype, self.spread, self.axis,
                      not self.transposed, new_axis=new_axis, rank=self.rank,
                      selected=self.selected)

    def swapping(self, first: int, second: int) -> Tensor:
        """``transpose(first, second)``: the last two axes swapped, or only a reshuffle of
        batch axes (heads and positions of an attention), the same elements in this model.

        Without a known rank, axes 0 and 1 or 1 and 2 are taken as the last two (a matrix, a
        (batch, positions, features) tensor), as in ``x.transpose(1, 2)`` before a conv1d.
        """
        if self.rank:
            axes = {first % self.rank, second % self.rank}
            if axes != {self.rank - 2, self.rank - 1}:
                return self
        return self.transposing()

    def with_rank(self, rank: int) -> Tensor:
        return Tensor(self.parts, self.featured, self.dtype, self.spread, self.axis,
                      self.transposed, self.stacked, self.new_axis, self.on_diagonal, rank,
                      self.selected)


@dataclass(frozen=True, eq=False)
class PairGrid:
    """Pairs of rows of two batches (or of one batch with itself): ``a[:, None] - b[None]``.

    ``cells[i * size + j]`` is the tensor ``f(a@i, b@j)``: one generic element or components
    along the feature axis, as a :class:`Tensor` without the pair axes. ``features`` says
    whether the cells still carry the feature axis (``(N, M, D)``) or not (``(N, M)``, after
    ``.sum(-1)``): it decides which axis a ``dim`` names.
    """

    cells: tuple[Tensor, ...]
    size: int
    features: bool
    dtype: str = "float"
    #: batch axes before the two pair axes (``p1.unsqueeze(2) - p2.unsqueeze(1)`` of point
    #: clouds ``(B, N, 3)`` has one): any element of them, as the batch of any tensor
    offset: int = 0

    def cell(self, i: int, j: int) -> Tensor:
        return self.cells[i * self.size + j]

    def transposing(self) -> PairGrid:
        """The grid with its two pair axes swapped (``d.t()`` of an ``(N, M)`` grid)."""
        cells = tuple(self.cell(j, i) for i in range(self.size) for j in range(self.size))
        return PairGrid(cells, self.size, self.features, self.dtype, self.offset)


@dataclass(frozen=True, eq=False)
class Labels:
    """An integer tensor of class indices (a parameter used as labels): data.

    Where it picks a class, class 0 stands for any class (the components are symmetric).
    """

    name: str


@dataclass(eq=False)
class Arange:
    """``torch.arange(...)``: row indices (``x[torch.arange(n), labels]``, the targets of a
    contrastive loss), or numbers along the feature axis (``k * z_sorted``).

    ``values`` are the numbers when the source tells them (``arange(1, 4)``).
    """

    values: list[int] | None


#: Values that stand for tensors.
TENSORLIKE = (Tensor, Labels, Arange, PairGrid)


@dataclass(frozen=True)
class Size:
    """A size the source does not tell (``x.shape[0]``, ``len(x)``, ``x.numel()``).

    It is positive; in arithmetic it counts as DEFAULT_COMPONENTS.
    """

    what: str = "size"


@dataclass(frozen=True, eq=False)
class SelectionCount:
    """The number of elements of selections ``x[mask]`` by masks computed from the predictions
    (``len(x[mask])``): the sum over the batch of the masks' indicators, one per condition.

    It changes with the predictions, unless the masks split every element exactly once
    (``len(x[d < t]) + len(x[d >= t])`` is the batch size): see ``Library.count_sum``.
    """

    conditions: tuple[Node, ...]


@dataclass(frozen=True)
class ModuleRef:
    """A module or a member of one, by its dotted name (``torch.nn.functional``)."""

    dotted: str


@dataclass(eq=False)
class Function:
    """A function or lambda of the source file, with the scope its defaults are read in."""

    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    scope: dict[str, Any]
    #: the decorators' dotted names: an unknown decorator may add keyword arguments
    decorators: tuple[str, ...] = ()
    owner: ClassDef | None = None

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<lambda>")


@dataclass(eq=False)
class ClassDef:
    """A class of the source file."""

    node: ast.ClassDef
    bases: tuple[Any, ...]
    methods: dict[str, Function] = field(default_factory=dict)
    attributes: dict[str, ast.expr] = field(default_factory=dict)
    #: the names of the module that defines it (its bases and class attributes are read there)
    scope: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.node.name

    def method(self, name: str) -> tuple[Function, ClassDef] | None:
        """The method ``name`` of this class or the first base of the file that has it."""
        if name in self.methods:
            return self.methods[name], self
        for base in self.bases:
            if isinstance(base, ClassDef):
                found = base.method(name)
                if found is not None:
                    return found
        return None

    def library_bases(self) -> list[str]:
        """Dotted names of bases that are library classes (``torch.nn.Module``)."""
        names: list[str] = []
        for base in self.bases:
            if isinstance(base, ModuleRef):
                names.append(base.dotted)
            elif isinstance(base, ClassDef):
                names.extend(base.library_bases())
        return names


@dataclass(eq=False)
class Instance:
    """An object of a class of the file (``self``)."""

    cls: ClassDef
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class LibraryObject:
    """An object of a library class built in the source (``nn.CrossEntropyLoss(...)``).

    Calling it calls ``call`` with the stored keyword arguments.
    """

    dotted: str
    args: tuple[Any, ...]
    keywords: dict[str, Any]
    call: Callable[..., Any] | None = None


@dataclass(eq=False)
class BoundMethod:
    """``obj.method`` for an object of the file."""

    function: Function
    owner: ClassDef
    instance: Any


@dataclass(eq=False)
class TensorMethod:
    """``tensor.name`` before it is called (``x.clamp``)."""

    tensor: Any
    name: str


@dataclass(eq=False)
class Partial:
    """``functools.partial(f, *args, **keywords)``."""

    function: Any
    args: tuple[Any, ...]
    keywords: dict[str, Any]


@dataclass(frozen=True)
class Opaque:
    """A name the reader cannot see into (an imported function, a global object)."""

    dotted: str


@dataclass(eq=False)
class Container:
    """``nn.Sequential``, ``nn.ModuleList`` or ``nn.ModuleDict`` of layers and modules."""

    kind: str
    items: Any  # list, or dict for ModuleDict
