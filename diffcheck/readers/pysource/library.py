"""PyTorch, JAX and NumPy as the source reader understands them: one table of tensor operations.

Elementwise functions (``torch.exp``, ``F.relu``, ``jnp.clip``, ``x.clamp(min=0)``) are the
primitives of the vocabulary (:mod:`diffcheck.functions`), looked up by name with the module
prefix removed; this module only knows what is about *tensors*: reductions over the batch or
over an axis, couplings (softmax, norms, order statistics), indexing, shape operations (which
change nothing here) and the library losses (``F.cross_entropy``, ``optax.huber_loss``...),
each written in terms of those primitives.

Dimensions: ``dim=1`` and ``dim=-1`` (and tuples holding them) are the *feature* axis, whose
elements are written as components; other dimensions are the batch, over which a reduction
is an identity (a mean of a differentiable function is as differentiable as the function).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import sympy as sp

from diffcheck.program import Node
from diffcheck.readers.pysource.composites import LAYERS as COMPOSITE_LAYERS
from diffcheck.readers.pysource.composites import TORCHVISION_FUNCTIONS as RESTATED_FUNCTIONS
from diffcheck.readers.pysource.layers import (
    IDENTITY_LAYERS,
    MAX_POOLS,
    RECURRENT,
    Layer,
    build_layer,
    is_layer,
)
from diffcheck.readers.pysource.tensors import (
    PAIR_ROWS,
    STATISTIC_ROWS,
    complementary,
    const,
    order_statistic,
    same_node,
    sum_of_ranked,
)
from diffcheck.readers.pysource.values import (
    DEFAULT_COMPONENTS,
    TENSORLIKE,
    Arange,
    BoundMethod,
    ClassDef,
    Container,
    Function,
    Instance,
    Labels,
    LibraryObject,
    ModuleRef,
    Opaque,
    PairGrid,
    Partial,
    SelectionCount,
    Size,
    SourceError,
    Tensor,
    TensorMethod,
)

if TYPE_CHECKING:
    from diffcheck.readers.pysource.interpreter import Interpreter

#: Dotted module prefixes -> the family of names they hold.
NAMESPACES = {
    "torch": "torch", "torch.nn.functional": "torch", "torch.special": "torch",
    "torch.linalg": "linalg", "torch.Tensor": "torch", "numpy": "numpy", "np": "numpy",
    "jax.numpy": "numpy", "jax.numpy.linalg": "linalg", "numpy.linalg": "linalg",
    "jax.nn": "torch", "jax.lax": "lax", "jax.scipy.special": "torch", "scipy.special": "torch",
    "jax": "jax", "math": "math", "optax": "optax", "optax.losses": "optax",
    "torchvision.ops": "torchvision", "torchvision.ops.boxes": "torchvision",
    "torchvision.ops.giou_loss": "torchvision", "torchvision.ops.diou_loss": "torchvision",
    "torchvision.ops.ciou_loss": "torchvision", "torchvision.ops.focal_loss": "torchvision",
    "torch.nn": "nn", "torch.nn.modules.loss": "nn", "functools": "functools",
    "typing": "typing", "torch.autograd": "torch", "jax.numpy.fft": "opaque",
    "itertools": "itertools", "argparse": "argparse", "inspect": "inspect",
    "flax.training.common_utils": "flax", "flax.linen": "torch",
}

#: Operations that only change shapes, dtypes or devices: identities here.
SHAPE_OPERATIONS = frozenset(
    ["view", "reshape", "view_as", "reshape_as", "permute", "transpose", "swapaxes", "moveaxis", "t", "unsqueeze", "squeeze", "flatten", "unflatten", "expand", "expand_as", "repeat", "tile", "contiguous", "float", "double", "half", "bfloat16", "to", "type", "type_as", "cpu", "cuda", "clone", "copy", "detach_", "requires_grad_", "expand_dims", "atleast_1d", "atleast_2d", "broadcast_to", "asarray", "array", "tensor", "as_tensor", "ravel", "squeeze_", "unsqueeze_", "numpy", "item", "tolist", "block_until_ready", "astype", "pin_memory", "narrow_copy"]
)

#: ``torch.Tensor(data)`` and the typed constructors of old PyTorch code
_LEGACY_CONSTRUCTORS = frozenset({"Tensor", "FloatTensor", "DoubleTensor", "HalfTensor",
                                  "LongTensor", "IntTensor", "BoolTensor"})

#: Reductions: name -> how components combine (the batch part is always an identity).
_REDUCTIONS = {
    "sum": "sum", "nansum": "sum", "mean": "mean", "nanmean": "mean", "prod": "prod",
    "amax": "max", "amin": "min", "logsumexp": "logsumexp", "average": "mean",
}

#: ``finfo`` of the float types: machine epsilon, smallest normal, largest value.
_FLOAT_LIMITS = {
    "float16": {"eps": 2.0 ** -10, "tiny": 2.0 ** -14, "max": 65504.0},
    "bfloat16": {"eps": 2.0 ** -7, "tiny": 2.0 ** -126, "max": 3.3895313892515355e38},
    "float32": {"eps": 2.0 ** -23, "tiny": 2.0 ** -126, "max": 3.4028234663852886e38},
    "float64": {"eps": 2.0 ** -52, "tiny": 2.0 ** -1022, "max": 1.7976931348623157e308},
}
for _limits in _FLOAT_LIMITS.values():
    _limits.update(min=-_limits["max"], smallest_normal=_limits["tiny"])
_FLOAT_NAMES = {"half": "float16", "float": "float32", "double": "float64"}

#: Integer dtypes (``torch.long``, ``jnp.int32``): tensors of them hold indices.
_INTEGER_DTYPES = frozenset({"long", "int", "int64", "int32", "int16", "int8", "uint8", "short"})

#: Integer casts: the value is truncated (piecewise constant), no gradient flows.
#: Random samples by family (``torch.randn_like(std)``, ``jax.random.normal(key, shape)``,
#: ``torch.empty_like(x).normal_()``): noise is data, no function of its arguments.
_RANDOM_SAMPLES = {
    "torch": frozenset({"rand", "randn", "rand_like", "randn_like", "bernoulli"}),
    "numpy": frozenset({"rand", "randn", "standard_normal"}),
    "jax": frozenset({"normal", "uniform", "bernoulli"}),
    # x.new_empty(shape).bernoulli_(keep_prob): timm's drop_path mask (in-place names arrive
    # without their underscore)
    "method": frozenset({"normal", "uniform", "bernoulli"}),
}

_INTEGER_CASTS = frozenset({"long", "int", "short", "byte", "char", "bool"})



def _tree_leaves(tree: Any) -> list[Any]:
    """The leaves of a pytree in JAX's order (a dict by sorted keys; ``None`` is an empty subtree).

    >>> _tree_leaves({"w": 1, "b": [2, (3, None)]})
    [2, 3, 1]
    """
    if tree is None:
        return []
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree, key=str) for leaf in _tree_leaves(tree[key])]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _tree_leaves(item)]
    return [tree]


#: jax.lax operations that are another name's operation
_LAX_NAMES = {"max": "maximum", "min": "minimum", "select": "where", "integer_pow": "pow"}

#: torch.distributions whose densities are modelled (Library.distribution)
_DISTRIBUTIONS = frozenset({"Normal", "Laplace"})

#: optax losses: the names of their leading parameters, in order
_OPTAX_PARAMETERS: dict[str, tuple[str, ...]] = {
    "l2_loss": ("predictions", "targets"), "squared_error": ("predictions", "targets"),
    "huber_loss": ("predictions", "targets", "delta"), "log_cosh": ("predictions", "targets"),
    "sigmoid_binary_cross_entropy": ("logits", "labels"),
    "softmax_cross_entropy": ("logits", "labels"), "safe_softmax_cross_entropy": ("logits", "labels"),
    "softmax_cross_entropy_with_integer_labels": ("logits", "labels"),
    "hinge_loss": ("predictor_outputs", "targets"),
    "cosine_similarity": ("predictions", "targets"), "cosine_distance": ("predictions", "targets"),
    "kl_divergence": ("log_predictions", "targets"),
    "kl_divergence_with_log_targets": ("log_predictions", "log_targets"),
    "convex_kl_divergence": ("log_predictions", "targets"),
    "perceptron_loss": ("predictor_outputs", "targets"),
    "sigmoid_focal_loss": ("logits", "labels", "alpha", "gamma"),
    "triplet_margin_loss": ("anchors", "positives", "negatives"),
}

class LazySequence:
    """A sequence whose length the source tells only when it is unpacked (``x.unbind(-1)``)."""

    def __init__(self, make: Callable[[int], list[Any]], known: int | None = None):
        self._make = make
        self._known = known
        self._items: list[Any] | None = None

    def items(self, count: int | None, where: ast.AST) -> list[Any]:
        if self._items is None:
            size = count if count is not None else self._known
            if size is None:
                raise SourceError("the number of parts is not known here", where)
            self._items = self._make(size)
        return self._items

    def __iter__(self) -> Any:
        """All the parts, where a consumer takes them all (``torch.cat(x.unbind(1))``): a
        dimension of unknown size has the reader's default number of components."""
        return iter(self._items if self._items is not None
                    else self.items(self._known or DEFAULT_COMPONENTS, ast.Pass()))

    def item(self, key: Any, where: ast.AST) -> Any:
        index = int(key)
        if self._items is None:
            size = max(self._known or 0, index + 1 if index >= 0 else DEFAULT_COMPONENTS)
            self._items = self._make(size)
        return self._items[index]


def _undetached(node: Node) -> Node:
    while node.op == "detach" and node.args:
        node = node.args[0]
    return node


def count_error(snippet: str, where: ast.AST) -> SourceError:
    """The refusal of a count of selected elements used as a number (``s / len(x[m])``)."""
    return SourceError("unsupported: the number of elements a mask computed from the "
                       f"predictions selects changes with them: {snippet}", where)


def _is_first_axis(dim: Any) -> bool:
    """Whether ``dim`` is the number 0 (an int or an exact number of the reader)."""
    if isinstance(dim, sp.Basic):
        return dim.is_zero is True
    return isinstance(dim, (int, Fraction)) and not isinstance(dim, bool) and dim == 0


@dataclass(eq=False)
class ResultPair:
    """``(values, indices)`` as ``max(dim)``, ``sort``, ``topk`` return them."""

    values: Any
    indices: Any

    def attribute(self, name: str, where: ast.AST) -> Any:
        if name == "values":
            return self.values
        if name == "indices":
            return self.indices
        raise SourceError(f"the result has no attribute {name!r}", where)

    def item(self, key: Any, where: ast.AST) -> Any:
        return (self.values, self.indices)[int(key)]

    def __iter__(self):
        return iter((self.values, self.indices))

    def __len__(self) -> int:
        return 2


class Shape:
    """``x.shape``: sizes the source does not tell; ``count`` is the length of the first axis
    when it is the number of elements a mask computed from the predictions selects."""

    def __init__(self, count: SelectionCount | None = None, last: int | None = None):
        self.count = count
        #: the length of the last axis, where it is the feature axis of written components
        #: (``x.shape[-1] // 2`` of a linear layer's output halves its components)
        self.last = last


class Library:
    """Translates library calls, tensor methods and operators for one interpreter."""

    def __init__(self, interpreter: Interpreter):
        self.run = interpreter
        self.build = interpreter.builder

    @property
    def builder(self):
        return self.run.builder

    # --- nodes ----------------------------------------------------------------------------

    def node(self, op: str, args: Sequence[Node], where: ast.AST | None, *, written: str = "",
             keywords: Sequence[tuple[str, Node]] = (), value: Any = None) -> Node:
        return Node(op, tuple(args), value, tuple(keywords), written or "", self.run.span(where))

    def number(self, value: Any, where: ast.AST | None) -> Node:
        return const(_exact(value), self.run.span(where))

    def tensor(self, value: Any, where: ast.AST) -> Tensor:
        return self.run.as_tensor(value, where)

    def operand(self, value: Any, where: ast.AST) -> Tensor | PairGrid:
        """``value`` for an elementwise operation: a grid of pairs stays one."""
        return value if isinstance(value, PairGrid) else self.run.as_tensor(value, where)

    def apply(self, make: Callable[..., Node], *operands: Tensor | PairGrid, where: ast.AST,
              dtype: str = "float") -> Any:
        """An elementwise operation: on pairs of rows when a grid, or a left and a right side
        of pairs (``a[:, None]`` and ``b[None]``), meet; element by element otherwise."""
        offset = self.builder.pair_offset(operands)
        if offset is not None:
            with located(where):
                return self.builder.pairwise(make, *operands, offset=offset, dtype=dtype)
        tensors = [o for o in operands if isinstance(o, Tensor)]
        with located(where):
            return self.builder.elementwise(make, *tensors, dtype=dtype)

    def unsqueeze_axis(self, tensor: Tensor, name: str, args: list[Any],
                       keywords: dict[str, Any]) -> int:
        """Where ``unsqueeze(dim)`` puts the new axis of ``tensor`` (-1: unknown or none)."""
        if name not in ("unsqueeze", "unsqueeze_", "expand_dims"):
            return -1
        dim = keywords.get("dim", keywords.get("axis", args[0] if args else None))
        if dim is None or not _is_integer(dim):
            return -1
        return self.builder.new_axis(tensor, int(dim))

    # --- operators ------------------------------------------------------------------------

    def binary(self, name: str, left: Any, right: Any, where: ast.AST) -> Any:
        if name in ("and", "or", "xor"):
            if left.dtype == "bool" or right.dtype == "bool":
                a, b = self.run.as_condition(left, where), self.run.as_condition(right, where)
                if name == "xor":
                    return self.builder.elementwise(
                        lambda x, y: self.node("ne", (x, y), where), a, b, dtype="bool")
                return self.logical(name, [a, b], where)
            raise SourceError(f"bitwise {name} on numbers is not supported", where)
        if name in ("lshift", "rshift"):
            raise SourceError("a bit shift of a tensor is not supported", where)
        return self.apply(lambda a, b: self.node(name, (a, b), where),
                          self.operand(left, where), self.operand(right, where), where=where)

    def unary(self, op: str, tensor: Any, where: ast.AST, **keywords: Any) -> Any:
        kw = tuple((k, self.number(v, where) if not isinstance(v, Node) else v)
                   for k, v in keywords.items())
        return self.apply(lambda a: self.node(op, (a,), where, written=op, keywords=kw),
                          self.operand(tensor, where), where=where)

    def note_mask(self, value: Any) -> None:
        """A tensor parameter used as a mask or compared for equality is data."""
        name = self.label_name(value)
        if name is not None:
            self.run.mask_names.add(name)

    def comparison(self, op: str, left: Any, right: Any, where: ast.AST) -> Tensor:
        if op in ("eq", "ne"):
            for side, other in ((left, right), (right, left)):
                if not isinstance(other, TENSORLIKE):
                    self.note_mask(side)
                if isinstance(other, Arange) and not isinstance(side, Arange):
                    hot = self.class_mask(side, other, op == "eq", where)
                    if hot is not None:
                        return hot
        a, b = self.operand(left, where), self.operand(right, where)
        # labels == c, c a class number: a test of data, read as a value by label_is
        keywords = (("labels", const(True)),) if op in ("eq", "ne") and any(
            _is_integer(other) and self.label_name(side) not in (None, _ROWS)
            for side, other in ((left, right), (right, left))) else ()
        return self.apply(lambda x, y: self.node(op, (x, y), where, keywords=keywords), a, b,
                          where=where, dtype="bool")

    def class_mask(self, labels: Any, classes: Arange, equal: bool,
                   where: ast.AST) -> Tensor | None:
        """``labels[:, None] == arange(C)``: a one-hot of the labels along the class axis, as
        ``one_hot`` reads it (class 0 stands for each sample's own class), or its negation
        (``!=``, not ``equal``); None when ``labels`` are not class labels of the source.

        Read element by element it would compare the same label with each class index as if
        the label had a component per class (``labels[k] == k``); against a matrix of
        distances to class centres (a grid of pairs) the one-hot is the class axis of the grid.
        """
        label = self.label_name(labels)
        if label is None or label == _ROWS:
            return None
        self.run.label_names.add(label)
        size = len(classes.values) if classes.values else DEFAULT_COMPONENTS
        parts = [const((k == 0) == equal, self.run.span(where)) for k in range(size)]
        return Tensor(tuple(parts), size > 1, "bool")

    def logical(self, op: str, conditions: list[Any], where: ast.AST) -> Any:
        return self.apply(lambda *xs: self.node(op, xs, where), *conditions, where=where,
                          dtype="bool")

    def where(self, condition: Any, a: Any, b: Any, where: ast.AST) -> Any:
        cond = condition if isinstance(condition, PairGrid) and condition.dtype == "bool" \
            else self.run.as_condition(condition, where)
        ta, tb = self.operand(a, where), self.operand(b, where)
        return self.apply(lambda c, x, y: self.masked_update(c, x, y, where), cond, ta, tb,
                          where=where)

    def masked_update(self, condition: Node, new: Node, old: Node, where: ast.AST) -> Node:
        """``where(c, old + d, old)`` as ``old + where(c, d, 0)`` (and ``-`` alike).

        Equal everywhere, ties included: both take ``d`` exactly where ``c`` holds. A masked
        accumulation (``out[mask] += w * expert(x)`` of a mixture of experts, once per expert
        and slot) otherwise holds the accumulator twice per update, and the tree doubles with
        each update.
        """
        if len(new.args) == 2 and ((new.op in ("add", "sub") and new.args[0] is old)
                                   or (new.op == "add" and new.args[1] is old)):
            delta = new.args[1] if new.args[0] is old else new.args[0]
            masked = self.node("where", (condition, delta, self.number(0, where)), where)
            return self.node(new.op, (old, masked), where)
        return self.node("where", (condition, new, old), where)

    def matmul(self, left: Any, right: Any, where: ast.AST) -> Tensor:
        """``a @ b``: what is contracted and what stays, by the structure of the operands.

        ``a @ b.t()`` scores ``a`` against each row of ``b`` (attention scores, similarity
        matrices, distances to a codebook): a part per row of ``b``. ``w @ v`` with ``w``
        having a part per row (attention weights) sums those rows of ``v``. Anything else is a
        dot product over the feature axis, per element.
        """
        a, b = self.tensor(left, where), self.tensor(right, where)
        if a.transposed and not a.featured and not b.transposed and \
                self.builder.feature_variables(a):
            # x.T @ y of (N, D) data: a (D, D) matrix of sums over the batch (a covariance),
            # cell (i, j) the sum over rows of the batch of x[i] * y[j]: pairs of features
            if b.featured or not self.builder.feature_variables(b):
                raise SourceError("unsupported: a product contracting the batch axis (x.T @ y) "
                                  "of tensors of different layouts", where)
            size = PAIR_ROWS
            left, right = self.builder.featured(a, size), self.builder.featured(b, size)
            cells = tuple(self.builder.batch_statistic(
                Tensor((self.node("mul", (left.parts[i], right.parts[j]), where),)),
                lambda ps: self.combine("sum", ps, where))
                for i in range(size) for j in range(size))
            return PairGrid(cells, size, False)  # type: ignore[return-value]
        if b.transposed and not b.featured:
            rows = self.builder.rows(b)
            scores = [self.dot(a, Tensor((row,)), where) for row in rows.parts]
            return Tensor(tuple(scores), True, axis="rows")
        if a.featured and a.axis == "rows" and not b.featured:
            rows = self.builder.rows(b, len(a.parts))
            terms = [self.node("mul", (w, r), where) for w, r in zip(a.parts, rows.parts)]
            return Tensor((self.node("add", terms, where),))
        return Tensor((self.dot(a, b, where),))

    def dot(self, a: Tensor, b: Tensor, where: ast.AST) -> Node:
        aligned = self.builder.broadcast(self.builder.featured(a), self.builder.featured(b))
        products = [self.node("mul", (x, y), where) for x, y in zip(aligned[0].parts, aligned[1].parts)]
        return self.node("add", products, where)

    def detach(self, tensor: Tensor, where: ast.AST, why: str = ".detach()") -> Tensor:
        """``tensor`` as a constant for backpropagation; ``why`` names the construct that cuts."""
        span = self.run.span(where)
        if span is not None:
            self.run.cuts.append(span)
        return tensor.with_parts([self.node("detach", (p,), where, written=why)
                                  for p in tensor.parts])

    def opaque(self, dotted: str, tensors: list[Tensor], where: ast.AST,
               known_smooth: bool = False) -> Tensor:
        """A function of ``tensors`` seen as one smooth function; ``known_smooth`` when that
        is what it is (a polynomial such as einsum), else it is listed as an assumption."""
        name = dotted.split(".")[-1].rstrip("()") or "f"
        span = self.run.span(where)
        line = f" (line {span.line})" if span else ""
        if not known_smooth:
            self.run.assumptions[name] = (
                f"{dotted}(...){line} is not known to diffcheck: assumed differentiable "
                "(C-infinity) in its tensor arguments")
        return self.builder.elementwise(
            lambda *xs: self.node("call", xs, where, written=dotted, value=_model_name(name)),
            *tensors)

    def label_values(self, labels: Labels, where: ast.AST) -> Tensor:
        return self.builder.parameter(labels.name, self.run.span(where))

    def arange_values(self, arange: Arange, where: ast.AST) -> Tensor:
        """``arange`` used as numbers: a constant along the feature axis."""
        values = arange.values or list(range(DEFAULT_COMPONENTS))
        return Tensor(tuple(self.number(v, where) for v in values), len(values) > 1, "int")

    # --- attributes -----------------------------------------------------------------------

    def module_attribute(self, dotted: str, name: str, where: ast.AST) -> Any:
        full = f"{dotted}.{name}"
        if name in ("pi",):
            return sp.pi
        if name == "e" and dotted in ("math", "numpy", "torch", "jax.numpy"):
            return sp.E
        if name in ("inf", "infty", "Inf"):
            return sp.oo
        if name == "newaxis":
            return None
        if name in ("float32", "float64", "float16", "bfloat16", "int64", "long", "int32", "bool",
                    "float", "double"):
            return Opaque(full)
        return ModuleRef(full)

    def tensor_attribute(self, owner: Any, name: str, where: ast.AST) -> Any:
        if isinstance(owner, PairGrid):
            if name == "shape":
                return Shape()
            if name in ("T", "mT") and not owner.features and not owner.offset:
                return owner.transposing()
            if name in ("dtype", "device", "requires_grad", "is_cuda"):
                return Opaque(f"tensor.{name}")
            return TensorMethod(owner, name)
        if isinstance(owner, Arange) and name in (SHAPE_OPERATIONS | _INTEGER_CASTS) - {"bool"}:
            # torch.arange(n).view(-1, 1).to(device), arange(C).long().expand(n, C): still the
            # row (class) indices
            return TensorMethod(owner, name)
        tensor = self.tensor(owner, where)
        if name == "shape":
            last = None
            if tensor.featured and tensor.axis == "feature" and not (
                    tensor.stacked or tensor.transposed or tensor.spread):
                last = len(tensor.parts)
            elif not tensor.featured and not tensor.spread and self.builder.carries_features(tensor):
                # the components it is read with when sliced (x[..., :x.shape[-1] // 2] and
                # x[..., x.shape[-1] // 2:] of rotary embeddings split one set of components)
                last = self.builder.size_of(tensor)
            return Shape(SelectionCount(tensor.selected) if tensor.selected is not None else None,
                         last)
        if name in ("T", "mT", "H"):
            return tensor.transposing()
        if name == "real":
            return tensor
        if name == "data":
            return self.detach(tensor, where)
        if name in ("ndim",):
            from diffcheck.readers.pysource.interpreter import _Unknown

            return _Unknown()
        if name in ("dtype", "device", "is_cuda", "requires_grad", "grad_fn", "layout"):
            return Opaque(f"tensor.{name}")
        return TensorMethod(tensor, name)

    # --- indexing -------------------------------------------------------------------------

    def get_item(self, container: Any, key_node: ast.expr, scope: Any, where: ast.AST) -> Any:
        keys = key_node.elts if isinstance(key_node, ast.Tuple) else [key_node]
        values = [self.run.evaluate(k, scope) for k in keys]
        if isinstance(container, PairGrid) and len(values) > 1:
            return self.grid_components(container, values, keys, where)
        if isinstance(container, PairGrid) or isinstance(values[0], PairGrid):
            if len(values) != 1:
                raise SourceError("unsupported: indexing pairs of rows other than by a mask: "
                                  f"{self.run.snippet(where)}", where)
            # a matrix of rows (cdist) under a mask of pairs of rows is the same pairs
            grid = container if isinstance(container, PairGrid) else self.apply(
                lambda value, flag: value, self.tensor(container, where), values[0], where=where)
            return self.masked_pairs(grid, values[0], where)
        if isinstance(container, Arange) and all(v is None or _selects_all(v) for v in values):
            return container  # arange(C)[None]: new axes, the same class indices
        tensor = self.tensor(container, where)
        return self.index(tensor, values, keys, where)

    def index(self, tensor: Tensor, values: list[Any], keys: list[ast.expr], where: ast.AST) -> Any:
        """``tensor[...]``: masks select (identity), integers pick a component."""
        picks = [(i, v) for i, v in enumerate(values) if not _selects_all(v)]
        if not picks:
            if not any(v is None for v in values):
                return tensor
            return tensor.spreading(self.builder.new_axis(tensor, position) if (
                position := _new_axis_position(values)) is not None else -1)
        added = [i for i, v in enumerate(values) if v is None]
        if len(added) == 1 and all((_is_integer(v) or isinstance(v, slice))
                                   and _axis_kind(values, i) == "feature" for i, v in picks):
            # boxes1[:, None, :2]: the components, then the new axis (one side of pairs of rows)
            kept = [i for i in range(len(values)) if i != added[0]]
            picked = self.index(tensor, [values[i] for i in kept], [keys[i] for i in kept], where)
            position = added[0] - len(values) if Ellipsis in values[:added[0]] else added[0]
            return picked.spreading(self.builder.new_axis(picked, position))
        if tensor.selected is not None:
            if (values[0] is Ellipsis or values[0] == slice(None)) and all(
                    (_is_integer(v) or isinstance(v, slice)) and _axis_kind(values, i) == "feature"
                    for i, v in picks):
                # components of each selected row (x[mask][:, 0]): the rows stay selected
                picked = self.index(replace(tensor, selected=None), values, keys, where)
                return replace(picked, selected=tensor.selected)
            raise SourceError("unsupported: indexing a selection by a mask computed from the "
                              f"predictions: {self.run.snippet(where)}", where)
        spelling = self.spelling(values, keys)
        conditions = [v for _, v in picks if isinstance(v, Tensor) and v.dtype == "bool"]
        if conditions and len(conditions) == len(picks):
            if any(self.selects_by_predictions(c, tensor) for c in conditions):
                return self.selection(tensor, conditions, where)
            for condition in conditions:
                self.note_mask(condition)
            return tensor  # x[mask]: the elements where the mask holds
        moving = [c for c in conditions if self.selects_by_predictions(c, tensor)]
        if moving:
            # w[mask, k]: component k of w, then the selection of its rows
            rest = [slice(None) if any(v is c for c in moving) else v for v in values]
            return self.selection(self.index(tensor, rest, keys, where), moving, where)
        shifted = [(i, v) for i, v in picks if (_is_integer(v) or isinstance(v, slice))
                   and _axis_kind(values, i) != "feature"]
        if shifted:
            return self.shifted(tensor, keys, where)
        integers = [(i, v) for i, v in picks if _is_integer(v)]
        slices = [(i, v) for i, v in picks if isinstance(v, slice)]
        labels = [(i, v) for i, v in picks if isinstance(v, TENSORLIKE) and not
                  (isinstance(v, Tensor) and v.dtype == "bool")]
        labels = [(i, v) for i, v in labels if not isinstance(v, Arange)]
        permutations = [v for _, v in picks if isinstance(v, _SortIndices)]
        if permutations:
            return self.sort_gather(tensor, permutations[-1], where)
        if labels:
            # x[range(n), labels] or x[labels]: the component of each element's class.
            return self.select(tensor, labels[-1][1], where)
        if integers:
            _, index = integers[-1]
            return self.builder.component(tensor, int(index), spelling)
        if slices:
            _, part = slices[-1]
            return self.slice(tensor, part, spelling, where)
        raise SourceError(f"this indexing is not supported: {self.run.snippet(where)}", where)

    def selects_by_predictions(self, condition: Tensor, tensor: Tensor) -> bool:
        """Whether the mask ``condition`` of ``tensor[condition]`` is computed from the
        predictions rather than data.

        A mask of data only says which samples count (``x[labels != ignore]``,
        ``x[target > 0]``, ``x[valid.bool()]``, ``~eye``): the generic element stands for a
        selected one. A mask that compares a computed value (``d[d.abs() < t]``), or the
        selected tensor's own values (``x[x > 0]``), moves with the predictions: which
        elements are summed switches where the condition does. Data are labels, masks and
        constants; another tensor parameter compared as it is with a number is taken for data
        too (the reader cannot tell a target from a prediction there: that reading is today's).
        """
        data = self.run.label_names | self.run.mask_names | self.builder.parameters
        varying = {name for name in self.builder.data_bases(
            *[part.variables() for part in condition.parts]) if name not in data}
        if not varying:
            return False
        pending = list(condition.parts)
        while pending:
            node = pending.pop()
            if node.op in ("and", "or", "not", "detach"):
                pending.extend(node.args)
            elif node.op in ("lt", "le", "gt", "ge", "eq", "ne"):
                operands = [_undetached(arg) for arg in node.args]
                if not all(arg.op in ("var", "const") for arg in operands) or any(
                        arg.op == "var" and same_node(arg, part)
                        for arg in operands for part in tensor.parts):
                    return True
            elif node.op not in ("var", "const"):
                return True
        return False

    def selection(self, tensor: Tensor, conditions: list[Tensor], where: ast.AST) -> Tensor:
        """``x[mask]`` for a mask computed from the predictions: ``x`` with the condition under
        which an element is selected (:attr:`Tensor.selected`), kept by elementwise operations
        until a sum turns it into ``where(mask, x, 0)`` (:meth:`unselect`)."""
        mask = conditions[0] if len(conditions) == 1 else self.logical("and", conditions, where)
        if mask.featured or isinstance(tensor, PairGrid) or (
                tensor.featured and tensor.axis != "feature"):
            raise SourceError("unsupported: a selection by a mask computed from the predictions "
                              f"that has components: {self.run.snippet(where)}", where)
        return replace(tensor, selected=mask.parts)

    def unselect(self, tensor: Tensor, where: ast.AST) -> Tensor:
        """A selection's elements as zeros where its mask fails: what a sum over it adds up."""
        if tensor.selected is None:
            return tensor
        (condition,) = tensor.selected  # one per row: the components of a row share it
        parts = [self.node("where", (condition, part, self.number(0, where)), where)
                 for part in tensor.parts]
        return replace(tensor, parts=tuple(parts), selected=None)

    def selection_reduction(self, how: str, tensor: Tensor, args: list[Any],
                            keywords: dict[str, Any], where: ast.AST) -> Tensor:
        """A reduction of a selection (``x[mask].sum()``) along its one axis: a sum is the sum
        of :meth:`unselect` (one generic element, as any sum over the batch); a mean divides it
        by the count of selected elements, which couples the samples: it is written over rows
        of the batch (an element crossing the mask's boundary changes the count: a jump)."""
        dim = self.dims(keywords, args, 1)
        if dim is not None and self.over_features(dim):
            # along the components of each selected row: the rows stay selected
            reduced = self.reduction(how, [replace(tensor, selected=None), *args[1:]], keywords,
                                     where)
            return replace(reduced, selected=tensor.selected)
        if dim is not None and not _is_first_axis(dim):
            raise SourceError("unsupported: a reduction along this axis of a selection by a mask "
                              f"computed from the predictions: {self.run.snippet(where)}", where)
        if how == "mean" and tensor.featured:
            raise SourceError("unsupported: a mean over a selection of rows with components (by a "
                              f"mask computed from the predictions): {self.run.snippet(where)}",
                              where)
        if how == "sum":
            return self.reduction("sum", [self.unselect(tensor, where)], {}, where)
        if how == "mean":
            summed = self.unselect(tensor, where)
            flags = [self.node("where", (c, self.number(1, where), self.number(0, where)), where)
                     for c in tensor.selected or ()]
            total, count = [], []
            for row in range(STATISTIC_ROWS):
                total.append(self.builder.sample(summed, row).parts[0])
                count.append(self.builder.sample(Tensor(tuple(flags)), row).parts[0])
            return Tensor((self.node("div", (self.node("add", total, where),
                                             self.node("add", count, where)), where),))
        raise SourceError(f"unsupported: {how} of a selection by a mask computed from the "
                          f"predictions: {self.run.snippet(where)}", where)

    def count_arithmetic(self, name: str, left: Any, right: Any, where: ast.AST) -> Any:
        """Arithmetic with the number of selected elements (``len(x[mask])``): a sum of counts
        of complementary masks is every element, the batch size; any other count changes with
        the predictions."""
        if name == "add" and isinstance(left, SelectionCount) and isinstance(right, SelectionCount):
            conditions = (*left.conditions, *right.conditions)
            if len(conditions) == 2 and complementary(*conditions):
                return Size("len")
            return SelectionCount(conditions)
        raise count_error(self.run.snippet(where), where)

    def grid_components(self, grid: PairGrid, values: list[Any], keys: list[ast.expr],
                        where: ast.AST) -> PairGrid:
        """``wh[:, :, 0]``, ``wh[..., :2]`` of pairs of rows ``(N, M, D)``: the same pick of the
        feature axis in every cell."""
        *leading, last = values
        whole = all(v is Ellipsis or (isinstance(v, slice) and v == slice(None)) for v in leading)
        if not grid.features or not whole or not (_is_integer(last) or isinstance(last, slice)) \
                or (Ellipsis not in leading and len(leading) != 2 + grid.offset):
            raise SourceError("unsupported: indexing pairs of rows other than by a mask or along "
                              f"their last axis: {self.run.snippet(where)}", where)
        spelling = self.spelling(values, keys)
        if _is_integer(last):
            cells = [self.builder.component(c, int(last), spelling) for c in grid.cells]
            return PairGrid(tuple(cells), grid.size, False, grid.dtype, grid.offset)
        cells = [self.slice(c, last, spelling, where) for c in grid.cells]
        return PairGrid(tuple(cells), grid.size, True, grid.dtype, grid.offset)

    def masked_pairs(self, grid: PairGrid, mask: Any, where: ast.AST) -> Tensor:
        """``d[mask]`` of pairs of rows: the cells where the mask may hold, as one axis.

        As for any tensor, the mask selects and is data: a cell whose mask is the constant
        False (the diagonal of ``~eye``) is left out, every other cell is kept.
        """
        cells = grid.cells
        if isinstance(mask, PairGrid) and mask.dtype == "bool" and mask.size == grid.size:
            flags = mask.cells
        elif isinstance(mask, Tensor) and mask.dtype == "bool" and not mask.featured:
            flags = tuple(self.builder.pair_cells(mask, grid.size, grid.features, grid.offset))
        else:
            raise SourceError("unsupported: indexing pairs of rows other than by a mask: "
                              f"{self.run.snippet(where)}", where)
        if any(c.featured for c in cells) or any(f.featured for f in flags):
            raise SourceError("unsupported: a mask of pairs of rows whose cells have components",
                              where)
        kept = [c.parts[0] for c, f in zip(cells, flags)
                if not (f.parts[0].op == "const" and f.parts[0].value in (False, 0))]
        if not kept:
            raise SourceError("the mask selects no pair", where)
        return Tensor(tuple(kept), True, grid.dtype, axis="rows")

    def shifted(self, tensor: Tensor, keys: list[ast.expr], where: ast.AST) -> Tensor:
        """Elements picked along the batch or a spatial axis (``img[:, :, 1:]``, ``x[:-1]``).

        They are other elements of the same tensors: each variable becomes the elements named
        by the user's index (``img[:, :, 1:]``), a set of its own, so that differences of
        neighbours (``img[..., 1:] - img[..., :-1]``) are functions of two sets of elements.
        """
        text = ", ".join(self.run.segment(k) for k in keys)
        suffix = f"[{text}]"
        if tensor.featured:
            raise SourceError("indexing a spatial axis of a tensor that has components", where)
        names = self.builder.feature_variables(tensor)
        mapping = {name: name + suffix for name in names}
        for name in names:
            self.builder.feature_parameters.add(name + suffix)
        from diffcheck.readers.pysource.tensors import rename

        return tensor.with_parts([rename(p, mapping) for p in tensor.parts])

    @staticmethod
    def spelling(values: list[Any], keys: list[ast.expr]) -> str:
        """How the user writes the picked axis: ``[..., {}]``, ``[:, {}]``."""
        parts = []
        for value in values:
            if value is Ellipsis:
                parts.append("...")
            elif value is None:
                parts.append("None")
            elif isinstance(value, slice) and value == slice(None):
                parts.append(":")
            else:
                parts.append("{}")
        if "{}" not in parts:
            return "[{}]"
        return "[" + ", ".join(parts) + "]"

    def slice(self, tensor: Tensor, part: slice, spelling: str, where: ast.AST) -> Tensor:
        start = part.start or 0
        stop = part.stop
        if stop is None or stop < 0:
            size = len(tensor.parts) if tensor.featured else max(
                self.builder.size_of(tensor), 2 * start if start else 0)
            stop = size if stop is None else size + stop
        if start < 0:
            size = len(tensor.parts) if tensor.featured else self.builder.size_of(tensor)
            start += size
        indices = list(range(start, stop, part.step or 1))
        if len(indices) == 1:
            return self.builder.component(tensor, indices[0], spelling)
        return self.builder.components(tensor, indices, spelling)

    def select(self, tensor: Tensor, index: Any, where: ast.AST) -> Tensor:
        """The component picked by an index tensor (labels: class 0; argmax: piecewise)."""
        label = self.label_name(index)
        if label is not None:
            if label != _ROWS:
                self.run.label_names.add(label)
            return self.builder.component(tensor, 0)
        index_tensor = self.tensor(index, where)
        # An index computed from the values (argmax, argmin) picks a row: v[idx], codebook[idx].
        rows = tensor if tensor.featured else self.builder.rows(tensor)
        (index_node,) = index_tensor.parts if not index_tensor.featured else (None,)
        if index_node is None:
            raise SourceError("indexing with a tensor of indices per component", where)
        return Tensor((self.node("select", (index_node, *rows.parts), where),))

    def rank_index(self, order: _SortIndices, rank: int, where: ast.AST) -> Tensor:
        """``indices[..., rank]`` of a sort or topk: which element has that rank."""
        keys = order.tensor
        count = len(keys.parts)
        positions = Tensor(tuple(self.number(k, where) for k in range(count)), True, "int")
        gathered = self.sort_gather(positions, order, where)
        return Tensor((gathered.parts[rank],), False, "int")

    def sort_gather(self, tensor: Tensor, order: _SortIndices, where: ast.AST) -> Tensor:
        """``values[perm]`` for ``perm`` from a sort: the values in the order of the sorted keys.

        Component k is the value whose key has rank k: a piecewise choice over the orderings
        of the keys (stable: ties keep their index order).
        """
        keys = order.tensor
        count = len(keys.parts)
        values = self.tensor(tensor, where)
        if keys.axis == "rows" and not values.featured:
            # keys sorted over the batch (dim=0) are rows: the value of row k goes with key k
            values = self.builder.batch_rows(values, count)
        else:
            values = self.builder.featured(values, count)
        if count > 4:
            raise SourceError("gathering by a sort of more than 4 components", where, "limit")
        flag = self.number(1 if order.descending else 0, where)
        parts = [self.node("sort_gather", (*keys.parts, *values.parts), where, written="sort",
                           keywords=(("rank", self.number(k, where)), ("descending", flag)))
                 for k in range(count)]
        return values.with_parts(parts, featured=True)

    def set_item(self, tensor: Tensor, key_node: ast.expr, value: Any, scope: Any,
                 where: ast.AST) -> Tensor:
        """``tensor[key] = value``: a mask is a ``where``, an index replaces a component."""
        keys = key_node.elts if isinstance(key_node, ast.Tuple) else [key_node]
        values = [self.run.evaluate(k, scope) for k in keys]
        new = self.tensor(value, where)
        picks = [v for v in values if not _selects_all(v)]
        labels = [v for v in picks if self.label_name(v) is not None and self.label_name(v) != _ROWS]
        if labels:
            label = self.label_name(labels[-1])
            if label is not None:
                self.run.label_names.add(label)
            featured = self.builder.featured(tensor)
            parts = list(featured.parts)
            parts[0] = new.parts[0]
            return featured.with_parts(parts, featured=True)
        if not picks:
            return self.builder.broadcast(new, tensor)[0] if tensor.featured else new
        masks = [v for v in picks if isinstance(v, Tensor) and v.dtype == "bool"]
        if masks and len(masks) == len(picks):
            mask = masks[0] if len(masks) == 1 else self.logical("and", masks, where)
            if new.selected is not None:
                # x[m] = f(y[m]): the selected elements, put back where they were taken
                if len(new.selected) != len(mask.parts) or not all(
                        map(same_node, new.selected, mask.parts)):
                    raise SourceError("unsupported: assigning a selection by one mask where "
                                      f"another holds: {self.run.snippet(where)}", where)
                new = replace(new, selected=None)
            return self.where(mask, new, tensor, where)
        slices = [v for v in picks if isinstance(v, slice)]
        if slices and len(slices) == len(picks):
            featured = self.builder.featured(tensor)
            indices = list(range(len(featured.parts)))[slices[-1]]
            parts = list(featured.parts)
            replacement = self.builder.featured(new, len(indices)) if not new.featured else new
            if replacement.featured and len(replacement.parts) != len(indices):
                raise SourceError("assigning a slice of a different length", where)
            for position, index in enumerate(indices):
                parts[index] = replacement.parts[position] if replacement.featured else new.parts[0]
            return featured.with_parts(parts, featured=True)
        integers = [v for v in picks if _is_integer(v)]
        if integers and len(integers) == len(picks):
            index = int(integers[-1])
            spelling = self.spelling(values, keys)
            if not tensor.featured:
                self.builder.component(tensor, index, spelling)
            featured = self.builder.featured(tensor, max(self.builder.size_of(tensor), index + 1))
            parts = list(featured.parts)
            parts[index] = new.parts[0] if not new.featured else new.parts[index]
            return featured.with_parts(parts, featured=True)
        raise SourceError(f"this assignment is not supported: {self.run.snippet(where)}", where)

    def sliced_labels(self, target: Tensor, classes: int) -> str | None:
        """The parameter whose slice ``target`` is, when it can only be class labels.

        ``labels[..., 1:]`` of a causal language model's loss shifts the labels along the
        sequence; read on a tensor not yet known as labels it is a slice of components. Passed
        as the target of logits with another number of classes, it cannot be probabilities
        over them: it is the labels, data, as any slice of them.
        """
        if len(target.parts) == classes or target.dtype == "bool":
            return None
        bases = {self.builder.component_of[node.value][0]
                 if node.op == "var" and node.value in self.builder.component_of else None
                 for node in target.parts}
        if len(bases) != 1 or None in bases:
            return None
        (base,) = bases
        return base if base in self.builder.feature_parameters else None

    def label_name(self, value: Any) -> str | None:
        """The parameter name when ``value`` is a tensor parameter used as labels."""
        if isinstance(value, Labels):
            return value.name
        if isinstance(value, Arange):
            return _ROWS
        if isinstance(value, Tensor) and not value.featured:
            node = value.parts[0]
            while node.args:
                if node.op == "detach":
                    node = node.args[0]
                elif node.op == "where" and len(node.args) == 3:
                    # labels.masked_fill(labels == ignore_index, 0): still the labels
                    branches = [a for a in node.args[1:] if a.op != "const"]
                    if len(branches) != 1:
                        break
                    node = branches[0]
                else:
                    break
            if node.op == "var" and node.value in self.run.tensor_names:
                return str(node.value)
            if node.op == "var" and self.builder.component_of.get(
                    str(node.value), ("",))[0] in self.run.tensor_names:
                # ``label, score = target``: a part of a tensor argument used as indices
                return str(node.value)
        return None

    # --- calls ----------------------------------------------------------------------------

    def canonical(self, dotted: str) -> tuple[str, str]:
        """(family, name) of a dotted library name: ``torch.nn.functional.relu`` -> ("torch", "relu")."""
        module, _, name = dotted.rpartition(".")
        while module and module not in NAMESPACES:
            # torch.nn.functional.F? jax.numpy.linalg.norm: strip to the longest known prefix
            head, _, _ = module.rpartition(".")
            if not head:
                break
            module = head
        return NAMESPACES.get(module, module or "builtin"), name

    def call(self, dotted: str, args: list[Any], keywords: dict[str, Any], where: ast.AST) -> Any:
        family, name = self.canonical(dotted)
        if family == "functools" and name == "partial":
            return Partial(args[0], tuple(args[1:]), dict(keywords))
        if family == "itertools":
            return self.itertools(name, args, keywords, where)
        if family == "argparse" and name == "ArgumentParser":
            return CommandLine()
        if family == "inspect" and name in ("isfunction", "isclass", "ismethod") and args:
            # default(val, d): d() if isfunction(d) else d (latent diffusion's helpers)
            kinds = {"isfunction": Function, "isclass": ClassDef}
            return isinstance(args[0], kinds.get(name, BoundMethod))
        if family == "typing" or name in ("cast",):
            return args[-1] if args else None
        if "distributions" in dotted.split("."):
            if name in _DISTRIBUTIONS:
                return self.distribution(name, args, keywords, where)
            if name == "kl_divergence" and len(args) == 2 and all(
                    isinstance(a, LibraryObject) and a.dotted in _DISTRIBUTIONS for a in args):
                return self.normal_kl(args[0], args[1], where)
        if name == "prod" and args and isinstance(args[0], Shape):
            # np.prod(x.shape), math.prod(x.shape): the number of elements, a size
            return Size("numel")
        if family == "nn":
            return self.module_object(dotted, name, args, keywords, where)
        if family == "optax":
            return self.optax(name, args, keywords, where)
        if family == "jax" and name in ("tree_leaves", "leaves"):
            # jax.tree_util.tree_leaves(params): a parameter tree given as one argument is one
            # tensor here, standing for all of its leaves
            return _tree_leaves(args[0] if args else None)
        if family == "flax" and name == "onehot":
            # flax.training.common_utils.onehot(labels, num_classes): jax.nn.one_hot's signature
            return self.tensor_call("torch", "one_hot", args, keywords, where, written=dotted)
        if family == "torchvision" and name == "sigmoid_focal_loss":
            return self.sigmoid_focal_loss(args, keywords, where)
        if family == "torchvision" and name in RESTATED_FUNCTIONS:
            return self.run.call_function(self.run.restated_function(name), list(args),
                                          dict(keywords), where)
        if family == "math":
            return self.math(name, args, where)
        if family == "numpy" and name == "vectorize" and args:
            # np/jnp.vectorize(f, signature=...) maps f over the leading (batch) axes; the
            # tensor model already applies every operation row by row, so it is f itself
            return args[0]
        if family in ("torch", "numpy", "linalg", "lax", "jax"):
            if name.endswith("_") and not name.startswith("_"):
                name = name[:-1]  # torch.relu_(x): the in-place form computes the same values
            return self.tensor_call(family, name, args, keywords, where, written=dotted)
        return self.run.opaque_call(dotted, args, where)

    def itertools(self, name: str, args: list[Any], keywords: dict[str, Any],
                  where: ast.AST) -> list[Any]:
        """``repeat(x, n)`` and ``chain(a, b)`` as the lists they give (timm's ``to_2tuple``)."""
        if name == "repeat" and (len(args) == 2 or "times" in keywords):
            times = int(_number(args[1] if len(args) == 2 else keywords["times"], where))
            from diffcheck.readers.pysource.interpreter import MAX_UNROLL

            if times > MAX_UNROLL:
                raise SourceError(f"itertools.repeat of {times} items", where, "limit")
            return [args[0]] * max(times, 0)
        if name == "chain":
            return [item for arg in args for item in self.run.iterate(arg, where)]
        raise SourceError(f"itertools.{name} is not supported here", where)

    def call_method(self, tensor: Any, name: str, args: list[Any], keywords: dict[str, Any],
                    where: ast.AST) -> Any:
        base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
        return self.tensor_call("method", base, [tensor, *args], keywords, where, written=f".{name}")

    def tensor_call(self, family: str, name: str, args: list[Any], keywords: dict[str, Any],
                    where: ast.AST, written: str) -> Any:
        if any(isinstance(a, Tensor) and a.selected is not None for a in args):
            # the builder refuses to read a selection x[mask] as every element; place it here
            with located(where):
                return self.library_tensor_call(family, name, args, keywords, where, written)
        return self.library_tensor_call(family, name, args, keywords, where, written)

    def keeps_selections(self, name: str, inputs: Sequence[Any], result: Any,
                         where: ast.AST) -> None:
        """Refuse a call of selections by masks computed from the predictions (``x[mask]``)
        whose result is not one: it would read the selection as every element."""
        if name in _SELECTION_AWARE:
            return
        items = [*inputs, *(i for v in inputs if isinstance(v, (list, tuple)) for i in v)]
        if any(isinstance(v, Tensor) and v.selected is not None for v in items) and not (
                isinstance(result, Tensor) and result.selected is not None):
            raise SourceError(f"unsupported: {name} of a selection by a mask computed from the "
                              f"predictions: {self.run.snippet(where)}", where)

    def library_tensor_call(self, family: str, name: str, args: list[Any],
                            keywords: dict[str, Any], where: ast.AST, written: str) -> Any:
        args, keywords = _positional_by_name(args, keywords)
        if family == "lax":
            # lax.max/min are elementwise (not torch.max's reduction), lax.select is where
            name = _LAX_NAMES.get(name, name)
        handler = getattr(self, f"op_{name}", None)
        if handler is not None:
            return handler(args, keywords, where, family=family, written=written)
        if name in ("transpose", "swapaxes") and len(args) >= 3 and isinstance(args[0], Tensor) \
                and all(_is_integer(a) for a in args[1:3]):
            return args[0].swapping(int(args[1]), int(args[2]))
        if name in ("t", "transpose", "swapaxes", "mT") and args and isinstance(args[0], Tensor):
            return args[0].transposing()
        if name in ("t", "mT") and args and isinstance(args[0], PairGrid) and not args[0].features \
                and not args[0].offset:
            return args[0].transposing()
        if name in (SHAPE_OPERATIONS | _INTEGER_CASTS) - {"bool"} and args \
                and isinstance(args[0], Arange):
            return args[0]  # torch.arange(n).view(-1, 1).long(): still the row indices
        if name == "type" and len(args) == 1 and not keywords and isinstance(args[0], Tensor):
            # x.type() names the tensor type, as on the CPU (x.type() == "torch.cuda.FloatTensor"
            # is False): a string, not the tensor; x.type(torch.float16) is a cast below
            return "torch.LongTensor" if args[0].dtype == "int" else "torch.FloatTensor"
        if name in _LEGACY_CONSTRUCTORS and len(args) == 1 and isinstance(args[0], (list, tuple)):
            # torch.Tensor([0.25, 0.75]), torch.FloatTensor(weights): torch.tensor of the list
            return self.op_tensor(args, keywords, where)
        if name in SHAPE_OPERATIONS:
            value = args[0] if args else None
            if name in ("repeat", "tile") and isinstance(value, Tensor) \
                    and value.on_diagonal is not None:
                # eye(n).repeat(views, views): a diagonal per block (the other views of the
                # same sample, SupCon, SimCLR) that the diagonal of one grid cannot tell
                raise SourceError(f"unsupported: {name} of a diagonal mask over pairs of rows "
                                  f"(blocks of views): {self.run.snippet(where)}", where)
            if isinstance(value, PairGrid) and name not in _KEEPS_LAYOUT:
                raise SourceError(f"unsupported: the shape operation {name} on pairs of rows "
                                  f"(a[:, None] - b[None]): {self.run.snippet(where)}", where)
            if isinstance(value, Tensor) and _adds_axis(name, args[1:], keywords):
                value = value.spreading(self.unsqueeze_axis(value, name, args[1:], keywords))
            if isinstance(value, Tensor) and name in ("view", "reshape") and len(args) > 1:
                shape = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) \
                    else args[1:]
                return value.with_rank(len(shape))
            return value
        if name in _INTEGER_CASTS:
            return self.integer_cast(args[0], where)
        if name in _REDUCTIONS:
            return self.reduction(_REDUCTIONS[name], args, keywords, where)
        if name in ("zeros_like", "ones_like", "full_like", "empty_like", "zeros", "ones", "full",
                    "empty"):
            return self.constant_tensor(name, args, keywords, where)
        if name in _RANDOM_SAMPLES.get(family, ()):
            return self.random_sample(name, where)
        if name in ("new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"):
            # x.new_zeros(shape): a constant tensor (the receiver only gives dtype and device)
            constant = {"new_zeros": 0, "new_ones": 1, "new_empty": 0}.get(name)
            if constant is None:
                fill = keywords.get("fill_value", args[2] if len(args) > 2 else None)
                if name == "new_tensor":
                    return self.op_tensor(args[1:], keywords, where)
                constant = _number(fill, where)
            return Tensor((self.number(constant, where),))
        entry = _vocabulary(name)
        if entry is not None:
            return self.vocabulary_call(name, entry, args, keywords, where, written)
        if family == "linalg" and name in ("norm", "vector_norm"):
            return self.op_norm(args, keywords, where, family=family, written=written)
        return self.run.opaque_call(f"{family}.{name}", args, where)

    def vocabulary_call(self, name: str, entry: Any, args: list[Any], keywords: dict[str, Any],
                        where: ast.AST, written: str) -> Any:
        """An elementwise primitive of the vocabulary, applied to every element."""
        parameters = entry.parameters()
        positional = list(args)
        named: dict[str, Any] = {}
        options: dict[str, Any] = {}
        for key, value in keywords.items():
            if key in entry.ignored_keywords or key in ("out", "inplace", "name"):
                continue
            if key in entry.options:
                # a literal choice of formula (F.gelu(x, approximate="tanh")), kept as written
                if not isinstance(value, (str, bool)) or value not in entry.options[key]:
                    raise SourceError(f"{written or name}: {key}={value!r} is not one of "
                                      f"{sorted(map(repr, entry.options[key]))}", where)
                options[key] = value
                continue
            parameter = entry.keywords.get(key)
            if parameter is None:
                raise SourceError(f"{written or name} has no keyword argument {key!r}", where)
            named[parameter] = value
        if len(positional) < entry.min_args:
            raise SourceError(f"{name} needs at least {entry.min_args} arguments", where)
        tensor_slots: list[Tensor | PairGrid] = []
        layout: list[tuple[str, Any]] = []
        for value in positional:
            layout.append(("pos", value))
        for parameter, value in named.items():
            layout.append((parameter, value))
        for _, value in layout:
            if isinstance(value, TENSORLIKE):
                tensor_slots.append(self.operand(value, where))
        if not tensor_slots:
            # Every argument is a Python number: a constant tensor (torch.tensor(2.0).exp()).
            tensor_slots.append(Tensor((self.number(0, where),)))
            dummy = True
        else:
            dummy = False
        accepts_none = getattr(entry, "accepts_none", False)

        def make(*parts: Node) -> Node:
            queue = list(parts)
            if dummy:
                queue = []
            pos_nodes: list[Node] = []
            kw_nodes: list[tuple[str, Node]] = []
            for slot, value in layout:
                if isinstance(value, TENSORLIKE):
                    node = queue.pop(0)
                elif value is None and accepts_none:
                    node = Node("const", value=None)
                else:
                    node = self.number(_number(value, where), where)
                if slot == "pos":
                    pos_nodes.append(node)
                else:
                    kw_nodes.append((slot, node))
            kw_nodes.extend((key, Node("const", value=value)) for key, value in options.items())
            return self.node(name, pos_nodes, where, written=written, keywords=kw_nodes)

        del parameters
        return self.apply(make, *tensor_slots, where=where)

    # --- tensor operations ------------------------------------------------------------------

    def dims(self, keywords: dict[str, Any], args: list[Any], position: int) -> Any:
        for key in ("dim", "axis", "axes"):
            if key in keywords:
                return keywords[key]
        if len(args) > position:
            return args[position]
        return None

    @staticmethod
    def over_features(dim: Any) -> bool | None:
        """True for the feature axis (1, -1), False for the batch, None for every axis."""
        if dim is None:
            return None
        values = dim if isinstance(dim, (tuple, list)) else [dim]
        numbers = []
        for value in values:
            if isinstance(value, Size):
                continue
            numbers.append(int(value))
        return any(n in (1, -1) for n in numbers) or (len(numbers) > 0 and all(n >= 2 for n in numbers) and False)

    def combine(self, how: str, parts: list[Node], where: ast.AST) -> Node:
        if len(parts) == 1 and how in ("sum", "max", "min", "prod"):
            return parts[0]
        if how in ("sum", "mean"):
            total = sum_of_ranked(parts, self.run.span(where)) or self.node("add", parts, where)
            if how == "sum":
                return total
            return self.node("div", (total, self.number(len(parts), where)), where)
        if how == "prod":
            return self.node("mul", parts, where)
        if how in ("max", "min"):
            return self.node(how, parts, where, written=f"torch.{how}")
        if how == "logsumexp":
            return self.node("logsumexp", parts, where, written="logsumexp")
        raise SourceError(f"unknown reduction {how}", where)

    def grid_axes(self, grid: PairGrid, dim: Any, where: ast.AST) -> set[str]:
        """The axes of a grid of pairs that ``dim`` names: "i" (rows of the left side), "j"
        (rows of the right side) and "feature" when the cells still carry it."""
        names = ["batch"] * grid.offset + ["i", "j"] + (["feature"] if grid.features else [])
        rank = len(names)
        if dim is None:
            return set(names)
        axes = set()
        for value in dim if isinstance(dim, (tuple, list)) else [dim]:
            if not _is_integer(value) or not -rank <= int(value) < rank:
                raise SourceError(f"unsupported: dim {value!r} of pairs of rows of rank {rank}",
                                  where)
            axes.add(names[int(value) % rank])
        return axes

    def reduction(self, how: str, args: list[Any], keywords: dict[str, Any], where: ast.AST) -> Any:
        dim = self.dims(keywords, args, 1)
        if isinstance(args[0], PairGrid):
            axes = self.grid_axes(args[0], dim, where)
            if "batch" in axes and how not in ("sum", "mean"):
                raise SourceError(f"unsupported: {how} over a batch axis of pairs of rows", where)
            with located(where):
                # over the batch axes before the pairs: as over any batch, the identity
                return self.builder.grid_reduce(args[0], lambda ps: self.combine(how, ps, where),
                                                axes - {"batch"})
        tensor = self.tensor(args[0], where)
        if tensor.selected is not None:
            return self.selection_reduction(how, tensor, args, keywords, where)
        features = self.over_features(dim)
        if tensor.stacked and _is_first_axis(dim):
            width = len(tensor.parts) // tensor.stacked
            return Tensor(tuple(self.combine(how, list(tensor.parts[c::width]), where)
                                for c in range(width)), True, tensor.dtype)
        if features is None:
            if not tensor.featured and how in ("max", "min", "logsumexp"):
                # max over every element couples them: components expose the ties.
                tensor = self.builder.featured(tensor)
            return self.builder.full_reduce(tensor, lambda ps: self.combine(how, ps, where))
        if how in _COUPLED_REDUCTIONS and _is_first_axis(dim):
            # max, min or logsumexp over the samples couples them (a tie of two samples' losses
            # is a kink): other rows of the batch, not the identity of a sum over it
            reduced = self.builder.over_batch(tensor, lambda ps: self.combine(how, ps, where))
        else:
            reduced = self.builder.reduce(tensor, lambda ps: self.combine(how, ps, where), features)
        return reduced.spreading() if keywords.get("keepdim") or keywords.get("keepdims") else reduced

    def integer_cast(self, value: Any, where: ast.AST) -> Tensor | Arange:
        if isinstance(value, Arange):
            return value  # arange(n).long(): integers already, still the class indices
        tensor = self.tensor(value, where)
        if tensor.on_diagonal is not None:
            return tensor  # eye(n).bool(): 0 and 1 already, and its diagonal kept
        if tensor.dtype == "bool":
            return tensor.with_parts(tensor.parts, dtype="float")
        if self.label_name(tensor) is not None:
            # targets.long(): the labels themselves (they are integers already), still data
            return self.detach(tensor, where, "an integer cast").with_parts(
                tensor.parts, dtype="int")
        truncated = self.unary("trunc", tensor, where) if _vocabulary("trunc") else \
            self.builder.elementwise(lambda a: self.node(
                "mul", (self.node("sign", (a,), where, written="sign"),
                        self.node("floor", (self.node("abs", (a,), where, written="abs"),), where,
                                  written="floor")), where), tensor)
        cast = self.detach(truncated, where, "an integer cast")
        return cast.with_parts(cast.parts, dtype="int")

    def random_sample(self, name: str, where: ast.AST) -> Tensor:
        """Fresh noise (``eps = torch.randn_like(std)``): data of its own, not a function of
        the tensor it copies the shape of. No gradient flows into a sample; what it multiplies
        (the reparameterisation ``mu + eps * std``) keeps its gradient."""
        span = self.run.span(where)
        noise = f"{name}_{span.line}" if span else name
        self.builder.feature_parameters.add(noise)
        return self.builder.parameter(noise, span)

    def constant_tensor(self, name: str, args: list[Any], keywords: dict[str, Any],
                        where: ast.AST) -> Tensor:
        if name.startswith(("zeros", "empty")):
            value: Any = 0
        elif name.startswith("ones"):
            value = 1
        elif name.startswith("full"):
            fill = keywords.get("fill_value", args[1] if len(args) > 1 else 0)
            value = _number(fill, where)
        else:
            return self.run.opaque_call(f"torch.{name}", args, where)
        like = args[0] if name.endswith("_like") and args else None
        dtype = keywords.get("dtype")
        written = getattr(dtype, "dotted", "").rsplit(".", 1)[-1]
        # torch.zeros(n, dtype=torch.long): class indices (the positives of a contrastive loss)
        kind = "int" if written in _INTEGER_DTYPES else "float"
        tensor = Tensor((self.number(value, where),), dtype=kind)
        if isinstance(like, Tensor) and like.featured:
            tensor = Tensor(tensor.parts * len(like.parts), True, kind)
        return tensor

    # torch.max / min have three meanings: of all elements, along a dim (values, indices),
    # and elementwise between two tensors.
    def op_max(self, args, keywords, where, family="torch", **_):
        return self.extremum("max", args, keywords, where, family)

    def op_min(self, args, keywords, where, family="torch", **_):
        return self.extremum("min", args, keywords, where, family)

    def extremum(self, how: str, args: list[Any], keywords: dict[str, Any], where: ast.AST,
                 family: str = "torch") -> Any:
        other = keywords.get("other", args[1] if len(args) > 1 else None)
        if isinstance(other, TENSORLIKE) or (len(args) > 1 and not _is_integer(args[1])
                                                   and "dim" not in keywords and "axis" not in keywords):
            entry = _vocabulary("maximum" if how == "max" else "minimum")
            return self.vocabulary_call(how, entry, [args[0], other], {}, where, f"torch.{how}")
        dim = self.dims(keywords, args, 1)
        if dim is None:
            return self.reduction(how, [args[0]], {}, where)
        kept = {k: v for k, v in keywords.items() if k in ("keepdim", "keepdims")}
        values = self.reduction(how, [args[0]], {"dim": dim, **kept}, where)
        if family == "numpy":
            # np.max / jnp.max(x, axis) are amax: the values alone, no indices
            return values
        if isinstance(args[0], PairGrid):
            op = "argmax" if how == "max" else "argmin"
            found = self.builder.grid_reduce(args[0], lambda ps: self.node(op, ps, where, written=op),
                                             self.grid_axes(args[0], dim, where) - {"batch"})
            if not isinstance(found, Tensor):
                raise SourceError(f"unsupported: {op} over the features of pairs of rows", where)
            return ResultPair(values, found.with_parts(found.parts, dtype="int"))
        indices = self.arg_extremum(how, args[0], dim, where)
        return ResultPair(values, indices)

    def op_maximum(self, args, keywords, where, **_):
        entry = _vocabulary("maximum")
        return self.vocabulary_call("max", entry, args[:2], {}, where, "maximum")

    def op_minimum(self, args, keywords, where, **_):
        entry = _vocabulary("minimum")
        return self.vocabulary_call("min", entry, args[:2], {}, where, "minimum")

    op_fmax = op_maximum
    op_fmin = op_minimum

    def arg_extremum(self, how: str, value: Any, dim: Any, where: ast.AST) -> Tensor:
        tensor = self.builder.featured(self.tensor(value, where))
        op = "argmax" if how == "max" else "argmin"
        index = self.node(op, tensor.parts, where, written=op)
        return Tensor((index,), False, "int")

    def op_argmax(self, args, keywords, where, **_):
        return self.detach(self.arg_extremum("max", args[0], self.dims(keywords, args, 1), where), where)

    def op_argmin(self, args, keywords, where, **_):
        return self.detach(self.arg_extremum("min", args[0], self.dims(keywords, args, 1), where), where)

    def op_clamp_min(self, args, keywords, where, **_):
        bound = keywords.get("min", args[1] if len(args) > 1 else None)
        return self.op_clamp([args[0]], {"min": bound}, where)

    def op_clamp_max(self, args, keywords, where, **_):
        bound = keywords.get("max", args[1] if len(args) > 1 else None)
        return self.op_clamp([args[0]], {"max": bound}, where)

    def op_clamp(self, args, keywords, where, **_):
        lo = keywords.get("min", keywords.get("a_min", args[1] if len(args) > 1 else None))
        hi = keywords.get("max", keywords.get("a_max", args[2] if len(args) > 2 else None))
        entry = _vocabulary("clip")
        return self.vocabulary_call("clip", entry, [args[0], lo, hi], {}, where, "clamp")

    op_clip = op_clamp

    def op_where(self, args, keywords, where, family="torch", **_):
        if family == "method":
            # x.where(condition, y) is where(condition, x, y)
            other = keywords.get("other", args[2] if len(args) > 2 else None)
            return self.where(keywords.get("condition", args[1]), args[0], other, where)
        if len(args) == 1:
            raise SourceError("where(condition) without values is not supported", where)
        return self.where(args[0], args[1], args[2], where)

    def op_addcmul(self, args, keywords, where, **_):
        value = keywords.get("value", 1)
        product = self.binary("mul", self.operand(args[1], where), self.operand(args[2], where), where)
        scaled = self.binary("mul", self.operand(value, where), product, where)
        return self.binary("add", self.operand(args[0], where), scaled, where)

    def op_addcdiv(self, args, keywords, where, **_):
        value = keywords.get("value", 1)
        quotient = self.binary("div", self.operand(args[1], where), self.operand(args[2], where), where)
        scaled = self.binary("mul", self.operand(value, where), quotient, where)
        return self.binary("add", self.operand(args[0], where), scaled, where)

    def op_detach(self, args, keywords, where, written="", **_):
        why = "stop_gradient" if written.endswith("stop_gradient") else ".detach()"
        return self.detach(self.tensor(args[0], where), where, why)

    op_stop_gradient = op_detach

    def op_pow(self, args, keywords, where, **_):
        exponent = keywords.get("exponent", args[1] if len(args) > 1 else None)
        return self.binary("pow", self.operand(args[0], where), self.operand(exponent, where), where)

    op_power = op_pow
    op_float_power = op_pow

    def op_square(self, args, keywords, where, **_):
        return self.binary("pow", self.operand(args[0], where), self.operand(2, where), where)

    def op_add(self, args, keywords, where, **_):
        other = keywords.get("other", args[1] if len(args) > 1 else 0)
        alpha = keywords.get("alpha")
        if alpha is not None:
            other = self.binary("mul", self.operand(other, where), self.operand(alpha, where), where)
        return self.binary("add", self.operand(args[0], where), self.operand(other, where), where)

    def op_sub(self, args, keywords, where, **_):
        other = keywords.get("other", args[1] if len(args) > 1 else 0)
        return self.binary("sub", self.operand(args[0], where), self.operand(other, where), where)

    op_subtract = op_sub

    def op_mul(self, args, keywords, where, **_):
        other = keywords.get("other", args[1] if len(args) > 1 else 1)
        return self.binary("mul", self.operand(args[0], where), self.operand(other, where), where)

    op_multiply = op_mul

    def op_div(self, args, keywords, where, **_):
        other = keywords.get("other", args[1] if len(args) > 1 else 1)
        mode = keywords.get("rounding_mode")
        quotient = self.binary("div", self.operand(args[0], where), self.operand(other, where), where)
        if mode == "floor":
            return self.unary("floor", quotient, where)
        return quotient

    op_divide = op_div
    op_true_divide = op_div

    def op_neg(self, args, keywords, where, **_):
        return self.unary("neg", self.operand(args[0], where), where)

    op_negative = op_neg

    def op_rsub(self, args, keywords, where, **_):
        return self.binary("sub", self.operand(args[1], where), self.operand(args[0], where), where)

    def op_reciprocal(self, args, keywords, where, **_):
        return self.binary("div", self.operand(1, where), self.operand(args[0], where), where)

    def op_rsqrt(self, args, keywords, where, **_):
        return self.binary("div", self.operand(1, where),
                           self.unary("sqrt", self.operand(args[0], where), where), where)

    def op_matmul(self, args, keywords, where, **_):
        return self.matmul(args[0], args[1], where)

    op_mm = op_matmul
    op_bmm = op_matmul

    def op_addmm(self, args, keywords, where, **_):
        """``torch.addmm(input, a, b, beta=1, alpha=1)`` = ``beta * input + alpha * (a @ b)``.

        In place (``distmat.addmm_(x, c.t(), beta=1, alpha=-2)``) it is the same value
        assigned back. The scalars may come first, positionally, as in PyTorch's deprecated
        signature (``distmat.addmm_(1, -2, x, c.t())``, still in much real code).
        """
        args = list(args)
        scalars = []
        while len(args) > 3 and len(scalars) < 2 and _is_number(args[1]):
            scalars.append(args.pop(1))
        if len(args) != 3:
            raise SourceError("addmm needs an input and two matrices", where)
        beta = keywords.get("beta", scalars[0] if scalars else 1)
        alpha = keywords.get("alpha", scalars[1] if len(scalars) > 1 else 1)
        if not (_is_number(beta) and _is_number(alpha)):
            raise SourceError("addmm with beta or alpha that are not numbers", where)
        product = self.matmul(args[1], args[2], where)
        if alpha != 1:
            product = self.binary("mul", self.operand(alpha, where), product, where)
        if beta == 0:
            return product  # PyTorch ignores input then (even its nan and inf)
        start = self.operand(args[0], where)
        if beta != 1:
            start = self.binary("mul", self.operand(beta, where), start, where)
        return self.binary("add", start, product, where)

    op_baddbmm = op_addmm
    op_dot = op_matmul
    op_inner = op_matmul
    op_vdot = op_matmul

    def op_eq(self, args, keywords, where, **_):
        return self.comparison("eq", args[0], args[1], where)

    def op_ne(self, args, keywords, where, **_):
        return self.comparison("ne", args[0], args[1], where)

    def op_gt(self, args, keywords, where, **_):
        return self.comparison("gt", args[0], args[1], where)

    def op_ge(self, args, keywords, where, **_):
        return self.comparison("ge", args[0], args[1], where)

    def op_lt(self, args, keywords, where, **_):
        return self.comparison("lt", args[0], args[1], where)

    def op_le(self, args, keywords, where, **_):
        return self.comparison("le", args[0], args[1], where)

    op_greater = op_gt
    op_greater_equal = op_ge
    op_less = op_lt
    op_less_equal = op_le
    op_equal = op_eq
    op_not_equal = op_ne

    def op_logical_and(self, args, keywords, where, **_):
        return self.logical("and", [self.run.as_condition(a, where) for a in args[:2]], where)

    def op_logical_or(self, args, keywords, where, **_):
        return self.logical("or", [self.run.as_condition(a, where) for a in args[:2]], where)

    def op_logical_not(self, args, keywords, where, **_):
        return self.logical("not", [self.run.as_condition(args[0], where)], where)

    def op_isnan(self, args, keywords, where, **_):
        return Tensor((Node("const", value=False),), dtype="bool")

    op_isinf = op_isnan

    def op_isfinite(self, args, keywords, where, **_):
        return Tensor((Node("const", value=True),), dtype="bool")

    def op_nan_to_num(self, args, keywords, where, **_):
        return args[0]

    def op_numel(self, args, keywords, where, **_):
        if args and isinstance(args[0], Tensor) and args[0].selected is not None:
            return SelectionCount(args[0].selected)
        return Size("numel")

    op_nelement = op_numel

    def op_size(self, args, keywords, where, **_):
        shape = self.tensor_attribute(args[0], "shape", where) if args and isinstance(
            args[0], Tensor) else Shape()
        if len(args) > 1 or "dim" in keywords:
            dim = keywords.get("dim", args[1] if len(args) > 1 else None)
            if shape.last is not None and dim == -1:
                return sp.Integer(shape.last)
            return shape.count if shape.count is not None and dim == 0 else Size("size")
        return shape

    def op_is_floating_point(self, args, keywords, where, **_):
        """``t.is_floating_point()``: a question about the dtype, a Python bool (the
        dtype-upcast helpers of DETR-style box code branch on it), never a tensor condition."""
        tensor = args[0] if args else keywords.get("input")
        return not (isinstance(tensor, (Labels, Arange)) or (
            isinstance(tensor, Tensor) and tensor.dtype in ("int", "bool")))

    def op_is_complex(self, args, keywords, where, **_):
        return False

    def op_is_tensor(self, args, keywords, where, **_):
        return bool(args) and isinstance(args[0], (*TENSORLIKE, PairGrid))

    def op_dim(self, args, keywords, where, **_):
        from diffcheck.readers.pysource.interpreter import _Unknown

        return _Unknown()

    op_ndimension = op_dim

    def op_all(self, args, keywords, where, **_):
        return True

    op_any = op_all

    def op_sign(self, args, keywords, where, **_):
        return self.unary("sign", self.operand(args[0], where), where)

    def op_round(self, args, keywords, where, **_):
        decimals = keywords.get("decimals", args[1] if len(args) > 1 else None)
        tensor = self.tensor(args[0], where)
        if decimals is None:
            return self.unary("round", tensor, where)
        return self.unary("round", tensor, where, decimals=_number(decimals, where))

    def distribution(self, name: str, args: list[Any], keywords: dict[str, Any], where: ast.AST) -> Any:
        """``torch.distributions.Normal(loc, scale)`` (or Laplace): its log_prob and entropy.

        The object keeps ``loc``/``scale`` (and ``mean``/``stddev``) as attributes; its methods
        are library objects that build the density's formula, so ``-Laplace(mu, b).log_prob(y)``
        shows the kink of |y - mu| instead of an unknown function assumed smooth.
        """
        loc = self.tensor(keywords.get("loc", args[0] if args else None), where)
        scale = self.tensor(keywords.get("scale", args[1] if len(args) > 1 else None), where)
        half_log_two_pi = self.tensor(sp.log(2 * sp.pi) / 2, where)

        def log_prob(value: Any, **_: Any) -> Tensor:
            x = self.tensor(value, where)
            error = self.binary("sub", x, loc, where)
            log_scale = self.unary("log", scale, where)
            if name == "Laplace":  # -log(2 b) - |x - mu| / b
                spread = self.binary("div", self.unary("abs", error, where), scale, where)
                return self.unary("neg", self.binary("add", self.binary(
                    "add", log_scale, self.tensor(sp.log(2), where), where), spread, where), where)
            squared = self.binary("div", self.binary("pow", error, self.tensor(2, where), where),
                                  self.binary("mul", self.tensor(2, where), self.binary(
                                      "pow", scale, self.tensor(2, where), where), where), where)
            return self.unary("neg", self.binary("add", self.binary(
                "add", squared, log_scale, where), half_log_two_pi, where), where)

        def entropy(**_: Any) -> Tensor:
            log_scale = self.unary("log", scale, where)
            if name == "Laplace":  # 1 + log(2 b)
                return self.binary("add", log_scale, self.tensor(1 + sp.log(2), where), where)
            return self.binary("add", log_scale, self.tensor(sp.Rational(1, 2) + sp.log(2 * sp.pi) / 2,
                                                             where), where)

        members = {"loc": loc, "scale": scale, "mean": loc,
                   "log_prob": LibraryObject(f"{name}.log_prob", (), {}, log_prob),
                   "entropy": LibraryObject(f"{name}.entropy", (), {}, entropy)}
        if name == "Normal":
            members["stddev"] = scale
        return LibraryObject(name, (), members)

    def normal_kl(self, p: LibraryObject, q: LibraryObject, where: ast.AST) -> Tensor:
        """KL(p || q) of two Normals: log(s_q/s_p) + (s_p^2 + (m_p - m_q)^2)/(2 s_q^2) - 1/2."""
        if p.dotted != "Normal" or q.dotted != "Normal":
            raise SourceError("kl_divergence is modelled between two Normal distributions only", where)
        two = self.tensor(2, where)
        ratio = self.unary("log", self.binary("div", q.keywords["scale"], p.keywords["scale"], where), where)
        spread = self.binary("add", self.binary("pow", p.keywords["scale"], two, where), self.binary(
            "pow", self.binary("sub", p.keywords["loc"], q.keywords["loc"], where), two, where), where)
        scaled = self.binary("div", spread, self.binary("mul", two, self.binary(
            "pow", q.keywords["scale"], two, where), where), where)
        return self.binary("sub", self.binary("add", ratio, scaled, where),
                           self.tensor(sp.Rational(1, 2), where), where)

    def truncated(self, x: Tensor, where: ast.AST) -> Tensor:
        """trunc(x) = sign(x)*floor(|x|): rounding toward zero."""
        return self.binary("mul", self.unary("sign", x, where),
                           self.unary("floor", self.unary("abs", x, where), where), where)

    def op_trunc(self, args, keywords, where, **_):
        return self.truncated(self.tensor(args[0], where), where)

    op_fix = op_trunc

    def op_frac(self, args, keywords, where, **_):
        x = self.tensor(args[0], where)
        return self.binary("sub", x, self.truncated(x, where), where)

    def op_sgn(self, args, keywords, where, **_):
        return self.unary("sign", self.tensor(args[0], where), where)

    def op_signbit(self, args, keywords, where, **_):
        return self.comparison("lt", args[0], 0, where)

    def op_copysign(self, args, keywords, where, **_):
        """copysign(a, b): |a| with the sign of b (+ for b = +0)."""
        magnitude = self.unary("abs", self.tensor(args[0], where), where)
        other = keywords.get("other", args[1] if len(args) > 1 else None)
        return self.where(self.comparison("lt", other, 0, where),
                          self.unary("neg", magnitude, where), magnitude, where)

    def op_prelu(self, args, keywords, where, **_):
        """prelu(x, w) = max(0, x) + w*min(0, x)."""
        x = self.tensor(args[0], where)
        weight = self.tensor(keywords.get("weight", args[1] if len(args) > 1 else None), where)
        negative = self.unary("neg", self.relu(self.unary("neg", x, where), where), where)
        return self.binary("add", self.relu(x, where), self.binary("mul", weight, negative, where), where)

    def op_glu(self, args, keywords, where, **_):
        """glu(x, dim) = a * sigmoid(b), a and b the two halves of x along ``dim``."""
        dim = keywords.get("dim", args[1] if len(args) > 1 else -1)
        halves = self.op_chunk([args[0], 2], {"dim": dim}, where)
        first, second = halves.items(2, where) if isinstance(halves, LazySequence) \
            else list(halves)
        gate = self.vocabulary_call("sigmoid", _vocabulary("sigmoid"), [second], {}, where,
                                    "glu")
        return self.binary("mul", first, gate, where)

    def op_rrelu(self, args, keywords, where, **_):
        """rrelu outside training: leaky_relu with the mean slope (lower + upper)/2.

        In training the slope is random per element; either way the kink at 0 stays.
        """
        lower = _number(keywords.get("lower", args[1] if len(args) > 1 else Fraction(1, 8)), where)
        upper = _number(keywords.get("upper", args[2] if len(args) > 2 else Fraction(1, 3)), where)
        entry = _vocabulary("leaky_relu")
        return self.vocabulary_call("leaky_relu", entry, [args[0], (lower + upper) / 2], {}, where, "rrelu")

    def op_logit(self, args, keywords, where, **_):
        """logit(x, eps) = log(z/(1 - z)) with z = x clamped to [eps, 1 - eps] when eps is given."""
        eps = keywords.get("eps", args[1] if len(args) > 1 else None)
        x = self.tensor(args[0], where)
        if eps is not None:
            x = self.op_clamp([x, eps, 1 - _number(eps, where)], {}, where)
        ratio = self.binary("div", x, self.binary("sub", self.tensor(1, where), x, where), where)
        return self.unary("log", ratio, where)

    def op_softmin(self, args, keywords, where, **_):
        return self.softmax("softmax", [self.unary("neg", self.tensor(args[0], where), where), *args[1:]],
                            keywords, where)

    def op_exp2(self, args, keywords, where, **_):
        return self.binary("pow", self.tensor(2, where), self.tensor(args[0], where), where)

    def op_nanmedian(self, args, keywords, where, **kwargs):
        return self.op_median(args, keywords, where, **kwargs)

    def op_remainder(self, args, keywords, where, **_):
        """torch.remainder / jnp.mod: Python's %, the sign of the divisor."""
        divisor = keywords.get("other", args[1] if len(args) > 1 else None)
        return self.binary("mod", self.tensor(args[0], where), self.tensor(divisor, where), where)

    op_mod = op_remainder

    def op_fmod(self, args, keywords, where, **_):
        """torch.fmod / jnp.fmod: C's fmod, x - d*trunc(x/d), the sign of the dividend.

        Unlike x % d it is continuous at 0: the jumps are at the other multiples of d.
        """
        x = self.tensor(args[0], where)
        d = self.tensor(keywords.get("other", args[1] if len(args) > 1 else None), where)
        ratio = self.binary("div", x, d, where)
        truncated = self.binary("mul", self.unary("sign", ratio, where),
                                self.unary("floor", self.unary("abs", ratio, where), where), where)
        return self.binary("sub", x, self.binary("mul", d, truncated, where), where)

    def op_floor_divide(self, args, keywords, where, **_):
        divisor = keywords.get("other", args[1] if len(args) > 1 else None)
        return self.binary("floordiv", self.tensor(args[0], where), self.tensor(divisor, where), where)

    def op_entr(self, args, keywords, where, **_):
        """torch.special.entr / jax.scipy.special.entr: -x log x, 0 at x = 0 (xlogy's convention)."""
        x = self.tensor(args[0], where)
        entry = _vocabulary("xlogy")
        return self.unary("neg", self.vocabulary_call("xlogy", entry, [x, x], {}, where, "entr"), where)

    def op_lerp(self, args, keywords, where, **_):
        """torch.lerp(start, end, weight) = start + weight*(end - start)."""
        start, end = self.tensor(args[0], where), self.tensor(args[1], where)
        weight = self.tensor(keywords.get("weight", args[2] if len(args) > 2 else None), where)
        return self.binary("add", start, self.binary("mul", weight, self.binary("sub", end, start, where), where), where)

    def op_one_hot(self, args, keywords, where, **_):
        label = self.label_name(args[0])
        count = keywords.get("num_classes", args[1] if len(args) > 1 else None)
        size = int(count) if _is_integer(count) and int(count) > 0 else DEFAULT_COMPONENTS
        if label is not None and label != _ROWS:
            self.run.label_names.add(label)
        # flax's onehot(labels, n, on_value=, off_value=): label smoothing written as soft targets
        on = _number(keywords.get("on_value", args[2] if len(args) > 2 else 1), where)
        off = _number(keywords.get("off_value", args[3] if len(args) > 3 else 0), where)
        parts = [self.number(on if k == 0 else off, where) for k in range(size)]
        return Tensor(tuple(parts), True, "float")

    def op_gather(self, args, keywords, where, **_):
        index = keywords.get("index", args[2] if len(args) > 2 else None)
        return self.select(self.tensor(args[0], where), index, where)

    def op_take_along_axis(self, args, keywords, where, **_):
        return self.select(self.tensor(args[0], where), args[1], where)

    def op_index_select(self, args, keywords, where, **_):
        return self.select(self.tensor(args[0], where), args[2], where)

    def op_scatter(self, args, keywords, where, **_):
        """``x.scatter(dim, labels, value)``: the label's component set to ``value``."""
        tensor = self.tensor(args[0], where)
        index = keywords.get("index", args[2] if len(args) > 2 else None)
        source = keywords.get("src", keywords.get("value", args[3] if len(args) > 3 else 0))
        label = self.label_name(index)
        if label is None:
            raise SourceError("scatter with indices that are not class labels", where)
        if label != _ROWS:
            self.run.label_names.add(label)
        featured = self.builder.featured(tensor)
        value = self.tensor(source, where)
        parts = list(featured.parts)
        parts[0] = value.parts[0]
        return featured.with_parts(parts, featured=True)

    def op_masked_fill(self, args, keywords, where, **_):
        mask = keywords.get("mask", args[1] if len(args) > 1 else None)
        value = keywords.get("value", args[2] if len(args) > 2 else 0)
        return self.where(mask, self.tensor(value, where), args[0], where)

    def op_fill(self, args, keywords, where, **_):
        """``t.fill_(v)``: every element ``v`` (label smoothing's ``true_dist.fill_(eps / C)``);
        ``t.zero_()`` likewise 0."""
        value = keywords.get("value", args[1] if len(args) > 1 else 0)
        return self.constant_tensor("full_like", [args[0], value], {}, where)

    op_zero = op_fill

    def op_Variable(self, args, keywords, where, **_):
        """``torch.autograd.Variable(t)``: the tensor itself since PyTorch 0.4."""
        return args[0] if args else keywords.get("data")

    def op_diag(self, args, keywords, where, family="torch", written="diag", **_):
        """The diagonal of pairs of rows (``torch.diag(generalized_box_iou(a, b))``, DETR's
        box loss): cell (i, i) pairs row i with itself, so it is the generic element of both
        sides, element by element. Of any other tensor (``diag(v)`` builds a matrix) it stays
        an unknown function, assumed differentiable."""
        grid = args[0] if args else keywords.get("input")
        if not isinstance(grid, PairGrid):
            return self.run.opaque_call(f"{family}.{written.lstrip('.')}", args, where)
        offset = args[1] if len(args) > 1 else keywords.get("diagonal", keywords.get("offset", 0))
        if grid.features or grid.offset or not _is_integer(offset) or int(offset) != 0:
            raise SourceError("unsupported: a diagonal of pairs of rows with components, batch "
                              f"axes or an offset: {self.run.snippet(where)}", where)
        return self.builder.diagonal(grid)

    op_diagonal = op_diag

    def op_tril(self, args, keywords, where, **_):
        """``tril``/``triu``: the elements on one side of the diagonal, zeros on the other.
        The generic element stands for a kept one, as for a mask of labels: a causal mask
        ``tril(ones(T, T)) == 0`` is false for it, so the keys it attends to stay."""
        return self.tensor(args[0], where)

    op_triu = op_tril

    def op_masked_select(self, args, keywords, where, **_):
        """``torch.masked_select(x, mask)``: ``x[mask]``."""
        mask = keywords.get("mask", args[1] if len(args) > 1 else None)
        return self.index(self.tensor(args[0], where), [self.run.as_condition(mask, where)], [],
                          where)

    def op_finfo(self, args, keywords, where, **_):
        """``finfo(dtype)``: the limits of a float type. A dtype read from a tensor
        (``x.dtype``) is taken as float32, the type losses are trained in."""
        dtype = args[0] if args else keywords.get("dtype")
        written = getattr(dtype, "dotted", "").rsplit(".", 1)[-1]
        limits = _FLOAT_LIMITS.get(_FLOAT_NAMES.get(written, written), _FLOAT_LIMITS["float32"])
        return LibraryObject("finfo", (), dict(limits))

    def op_nonzero(self, args, keywords, where, family="torch", **_):
        """``mask.nonzero()``: the positions where a condition holds. Indexing with them picks
        the same elements as the mask itself (``x[mask.nonzero().squeeze(1)]``)."""
        if family not in ("torch", "method") or keywords.get("as_tuple"):
            return self.run.opaque_call(f"{family}.nonzero", args, where)
        return self.run.as_condition(args[0], where)

    op_argwhere = op_nonzero

    def op_index_fill(self, args, keywords, where, **_):
        return self.op_scatter([args[0], args[1], args[2], args[3] if len(args) > 3 else 0],
                               {}, where)

    def op_Parameter(self, args, keywords, where, **_):
        """``nn.Parameter(...)`` in ``__init__``: a learnable tensor of the module itself.

        Its name is the attribute it is stored in; once the model is built, the module path
        (``encoder.scale``) replaces it (see :func:`assign_paths`).
        """
        name = self.run.attribute_target or "parameter"
        self.run.extra_tensors.append(name)
        self.builder.feature_parameters.add(name)
        return Tensor((Node("var", value=name, span=self.run.span(where)),), False, "param")

    def op_eye(self, args, keywords, where, **_):
        # eye(n) marks the diagonal of a matrix over the batch: element by element it is read
        # off the diagonal (a row against another row); pairs of rows see its diagonal too
        return Tensor((Node("const", value=False),), dtype="bool",
                      on_diagonal=(Node("const", value=True),))

    def op_unbind(self, args, keywords, where, **_):
        tensor = self.tensor(args[0], where)
        dim = self.dims(keywords, args, 1)
        if dim is None:
            dim = 0
        spelling = "[..., {}]" if int(dim) == -1 else "[" + ", ".join([":"] * int(dim) + ["{}"]) + "]"

        def make(count: int) -> list[Any]:
            return [self.builder.component(tensor, k, spelling) for k in range(count)]

        known = len(tensor.parts) if tensor.featured else None
        return LazySequence(make, known)

    def op_chunk(self, args, keywords, where, **_):
        tensor = self.tensor(args[0], where)
        chunks = int(keywords.get("chunks", args[1] if len(args) > 1 else 2))
        if self.along_batch(tensor, keywords.get("dim", args[2] if len(args) > 2 else 0)):
            return LazySequence(lambda count: self.builder.batch_chunks(tensor, count), chunks)
        return self.split_into(tensor, chunks, None, where)

    def op_split(self, args, keywords, where, family="torch", **_):
        tensor = self.tensor(args[0], where)
        size = keywords.get("split_size_or_sections", args[1] if len(args) > 1 else 1)
        if family == "numpy":
            return self.split_into(tensor, int(size), None, where)
        if self.along_batch(tensor, keywords.get("dim", args[2] if len(args) > 2 else 0)):
            # the batch has DEFAULT_COMPONENTS samples (x.shape[0]): that many // size chunks
            known = len(size) if isinstance(size, (list, tuple)) else \
                max(2, DEFAULT_COMPONENTS // max(1, int(size)))
            return LazySequence(lambda count: self.builder.batch_chunks(tensor, count), known)
        if isinstance(size, (list, tuple)):
            return self.split_into(tensor, len(size), [int(s) for s in size], where)
        return self.split_into(tensor, None, [int(size)], where)

    def along_batch(self, tensor: Tensor, dim: Any) -> bool:
        """Whether a split or chunk of ``tensor`` along ``dim`` cuts its batch into groups of
        samples: dim 0 (torch's default) of a generic tensor of data."""
        return (_is_first_axis(dim) and not tensor.featured
                and bool(self.builder.feature_variables(tensor)))

    def split_into(self, tensor: Tensor, chunks: int | None, sizes: list[int] | None,
                   where: ast.AST) -> LazySequence:
        def make(count: int) -> list[Any]:
            widths = sizes if sizes and len(sizes) == count else [sizes[0] if sizes else 1] * count
            if max(widths) > MAX_CHUNK_COMPONENTS and not tensor.featured:
                # Wide chunks (q, k, v = qkv.split(n_embd, dim=2)): each is its own set of
                # elements of the tensor, not components to write out.
                from diffcheck.readers.pysource.tensors import rename

                names = self.builder.feature_variables(tensor)
                chunks_out = []
                for index in range(count):
                    mapping = {n: f"{n}.chunk{index}" for n in names}
                    for renamed in mapping.values():
                        self.builder.feature_parameters.add(renamed)
                    chunks_out.append(tensor.with_parts([rename(p, mapping) for p in tensor.parts]))
                return chunks_out
            out, start = [], 0
            for width in widths:
                indices = list(range(start, start + width))
                start += width
                out.append(self.builder.component(tensor, indices[0], "[..., {}]") if width == 1
                           else self.builder.components(tensor, indices, "[..., {}]"))
            return out

        return LazySequence(make, chunks)

    def op_stack(self, args, keywords, where, **_):
        items = [self.tensor(t, where) for t in args[0]]
        dim = self.dims(keywords, args, 1)
        if self.over_features(dim if dim is not None else 0):
            parts = []
            for item in items:
                if item.featured:
                    raise SourceError("stacking tensors that already have components", where)
                parts.append(item.parts[0])
            return Tensor(tuple(parts), True)
        # Stacking along the batch: the elements are those of the tensors, one generic each;
        # only equal layouts can be one generic element.
        if len(items) == 1:
            return items[0]
        stacked = self.concatenated_batch(items, where)
        if all(item.featured for item in items) and len({len(i.parts) for i in items}) == 1:
            # a new leading axis over tensors with components: a mean over it stays per component
            return Tensor(stacked.parts, True, stacked.dtype, stacked=len(items))
        return stacked

    def op_cat(self, args, keywords, where, **_):
        items = [self.tensor(t, where) for t in args[0]]
        dim = self.dims(keywords, args, 1)
        if self.over_features(dim if dim is not None else 0):
            parts: list[Node] = []
            for item in items:
                # A per-sample column (x.unsqueeze(-1)) is one part; a generic tensor with
                # feature variables brings all of its components.
                if item.featured:
                    parts.extend(item.parts)
                elif item.spread or not self.builder.feature_variables(item) or (
                        self.builder.has_components(item) and not any(
                            name not in self.builder.parameters
                            for name in self.builder.feature_variables(item))):
                    # one component (x[..., :1] of a layer's output: its weights are shared,
                    # not an axis of their own)
                    parts.append(item.parts[0])
                else:
                    parts.extend(self.builder.featured(item).parts)
            return Tensor(tuple(parts), True)
        if len(items) == 1:
            return items[0]
        return self.concatenated_batch(items, where)

    op_concatenate = op_cat
    op_concat = op_cat
    op_hstack = op_cat

    def concatenated_batch(self, items: list[Tensor], where: ast.AST) -> Tensor:
        """Elements of several tensors along the batch: a reduction sees each of them.

        They are kept as components: a mean over the result is the sum of the pieces (up to a
        constant factor), which is as differentiable as the concatenation.
        """
        parts: list[Node] = []
        for item in self.builder.broadcast(*items):
            parts.extend(item.parts)
        return Tensor(tuple(parts), True)

    def functional_layer(self, name: str, args: list[Any], where: ast.AST) -> Tensor:
        """F.linear, F.conv2d, F.layer_norm, F.scaled_dot_product_attention: smooth in all inputs."""
        parts: list[Node] = []
        for arg in args:
            if isinstance(arg, TENSORLIKE):
                parts.extend(self.tensor(arg, where).parts)
        return Tensor((self.node("call", parts, where, written=name, value=name),))

    def op_linear(self, args, keywords, where, **_):
        return self.functional_layer("linear", [*args, *keywords.values()], where)

    def op_conv1d(self, args, keywords, where, **_):
        return self.functional_layer("conv", [*args, *keywords.values()], where)

    op_conv2d = op_conv1d
    op_conv3d = op_conv1d
    op_conv_transpose2d = op_conv1d

    def op_layer_norm(self, args, keywords, where, **_):
        return self.functional_layer("layer_norm", [*args, *keywords.values()], where)

    def op_batch_norm(self, args, keywords, where, **_):
        names = ("input", "running_mean", "running_var", "weight", "bias", "training",
                 "momentum", "eps")
        given = {**dict(zip(names, args)), **keywords}
        training = given.get("training", False)
        if not isinstance(training, bool):
            raise SourceError("unsupported: F.batch_norm with a training flag that is not a "
                              "literal True or False", where)
        if not training:
            # running statistics: an affine map of the input with learned numbers
            return self.functional_layer("batch_norm", [*args, *keywords.values()], where)
        # training: standardised by the batch's own mean and (biased) variance
        tensor = self.tensor(given["input"], where)
        eps = _number(given.get("eps", Fraction(1, 10**5)), where)
        mean = self.builder.batch_reduce(tensor, lambda ps: self.combine("mean", ps, where))
        variance = self.batch_variance(tensor, 0, where)
        out = self.builder.elementwise(lambda a, m, v: self.node("div", (
            self.node("sub", (a, m), where),
            self.node("pow", (self.node("add", (v, self.number(eps, where)), where),
                              self.number(Fraction(1, 2), where)), where)), where),
            tensor, mean, variance)
        for key, op in (("weight", "mul"), ("bias", "add")):
            if isinstance(given.get(key), TENSORLIKE):
                out = self.builder.elementwise(lambda a, w, op=op: self.node(op, (a, w), where),
                                               out, self.tensor(given[key], where))
        return out

    def op_group_norm(self, args, keywords, where, **_):
        return self.functional_layer("group_norm", [*args, *keywords.values()], where)

    def op_rms_norm(self, args, keywords, where, **_):
        return self.functional_layer("rms_norm", [*args, *keywords.values()], where)

    def op_scaled_dot_product_attention(self, args, keywords, where, **_):
        tensors = [a for a in [*args, *keywords.values()] if isinstance(a, TENSORLIKE)]
        return self.functional_layer("attention", tensors, where)

    def op_dropout(self, args, keywords, where, **_):
        return args[0]

    op_dropout1d = op_dropout
    op_dropout2d = op_dropout
    op_alpha_dropout = op_dropout

    def op_max_pool1d(self, args, keywords, where, **_):
        return self.max_pool(self.tensor(args[0], where), where)

    op_max_pool2d = op_max_pool1d
    op_max_pool3d = op_max_pool1d
    op_adaptive_max_pool1d = op_max_pool1d
    op_adaptive_max_pool2d = op_max_pool1d

    def op_avg_pool2d(self, args, keywords, where, **_):
        return args[0]

    op_avg_pool1d = op_avg_pool2d
    op_adaptive_avg_pool1d = op_avg_pool2d
    op_adaptive_avg_pool2d = op_avg_pool2d
    op_interpolate = op_avg_pool2d
    op_pad = op_avg_pool2d

    def op_embedding(self, args, keywords, where, **_):
        weight = self.tensor(keywords.get("weight", args[1] if len(args) > 1 else None), where)
        return self.select(weight, args[0], where)

    def op_gumbel_softmax(self, args, keywords, where, **_):
        logits = self.tensor(args[0], where)
        soft = self.softmax("softmax", [logits], {}, where)
        if not keywords.get("hard", False):
            return soft
        # hard: one_hot(argmax) in the forward pass, the soft gradient (a straight-through)
        index = self.arg_extremum("max", soft, -1, where)
        count = len(soft.parts)
        hard = Tensor(tuple(self.node("eq", (index.parts[0], self.number(k, where)), where)
                            for k in range(count)), True, "bool")
        hard = hard.with_parts(hard.parts, dtype="float")
        return self.binary("add", self.detach(self.binary("sub", hard, soft, where), where),
                           soft, where)

    def op_softmax(self, args, keywords, where, **_):
        return self.softmax("softmax", args, keywords, where)

    def op_log_softmax(self, args, keywords, where, **_):
        return self.softmax("log_softmax", args, keywords, where)

    def softmax(self, op: str, args: list[Any], keywords: dict[str, Any], where: ast.AST) -> Any:
        if isinstance(args[0], PairGrid):
            # soft nearest neighbours: a softmax over the rows of one side, line by line
            axes = self.grid_axes(args[0], self.dims(keywords, args, 1), where)
            if len(axes) != 1 or "batch" in axes:
                raise SourceError(f"unsupported: {op} over this axis of pairs of rows", where)
            with located(where):
                return self.builder.grid_coupled(args[0], lambda parts, k: self.node(
                    op, parts, where, written=op, keywords=(("index", self.number(k, where)),)),
                    axes.pop())
        tensor = self.over_samples(self.tensor(args[0], where), self.dims(keywords, args, 1))
        return self.builder.coupled(tensor, lambda parts, k: self.node(
            op, parts, where, written=op, keywords=(("index", self.number(k, where)),)))

    def over_samples(self, tensor: Tensor, dim: Any, count: int = DEFAULT_COMPONENTS) -> Tensor:
        """``tensor`` as rows of its batch when an operation that compares elements (sort,
        top-k, median, softmax) runs along ``dim=0`` of a generic tensor; else unchanged."""
        if _is_first_axis(dim) and not tensor.featured:
            return self.builder.batch_rows(tensor, count)
        return tensor

    def op_logsumexp(self, args, keywords, where, **_):
        return self.reduction("logsumexp", args, keywords, where)

    def op_norm(self, args, keywords, where, family="torch", **_):
        order = keywords.get("p", keywords.get("ord", args[1] if len(args) > 1 else 2))
        dim = self.dims(keywords, args, 2)
        if family == "linalg" and len(args) > 2:
            dim = args[2]
        if order is None or order == "fro":
            order = 2
        if isinstance(args[0], PairGrid):
            # a distance per pair (``(a[:, None] - b[None]).norm(dim=-1)``): cell by cell
            grid = args[0]
            if not grid.features or self.grid_axes(grid, dim, where) != {"feature"}:
                raise SourceError("unsupported: a norm over a pair axis of pairs of rows", where)
            cells = [Tensor((self.norm_node(list(self.builder.featured(c).parts), order, where),))
                     for c in grid.cells]
            return PairGrid(tuple(cells), grid.size, False, offset=grid.offset)
        tensor = self.tensor(args[0], where)
        features = self.over_features(dim)
        if features is False:
            # over the samples: one per feature, the norm of the rows of the batch where it
            # meets the samples again (x / x.norm(dim=0)), |x| alone
            norm = self.builder.batch_reduce(
                tensor, lambda ps: self.norm_node(ps, order, where),
                lambda p: self.norm_node([p], order, where))
            return norm.spreading() if keywords.get("keepdim") else norm
        featured = self.builder.featured(tensor)
        node = self.norm_node(list(featured.parts), order, where)
        return Tensor((node,))

    op_vector_norm = op_norm

    def norm_node(self, parts: list[Node], order: Any, where: ast.AST) -> Node:
        if order == sp.oo or order == float("inf"):
            return self.node("max", [self.node("abs", (p,), where, written="abs") for p in parts], where)
        return self.node("norm", parts, where, written="norm",
                         keywords=(("ord", self.number(_number(order, where), where)),))

    def op_normalize(self, args, keywords, where, **_):
        tensor = self.builder.featured(self.tensor(args[0], where))
        order = keywords.get("p", args[1] if len(args) > 1 else 2)
        eps = keywords.get("eps", args[3] if len(args) > 3 else Fraction(1, 10**12))
        norm = self.norm_node(list(tensor.parts), order, where)
        clamped = self.node("max", (norm, self.number(eps, where)), where, written="max")
        return tensor.with_parts([self.node("div", (p, clamped), where) for p in tensor.parts])

    def op_cosine_similarity(self, args, keywords, where, **_):
        eps = keywords.get("eps", args[3] if len(args) > 3 else Fraction(1, 10**8))
        a, b = self.builder.broadcast(self.builder.featured(self.tensor(args[0], where)),
                                      self.builder.featured(self.tensor(args[1], where)))
        dot = self.node("add", [self.node("mul", (x, y), where) for x, y in zip(a.parts, b.parts)], where)
        norms = [self.node("max", (self.norm_node(list(t.parts), 2, where), self.number(eps, where)),
                           where, written="max") for t in (a, b)]
        return Tensor((self.node("div", (dot, self.node("mul", norms, where)), where),))

    def op_pairwise_distance(self, args, keywords, where, **_):
        order = keywords.get("p", args[2] if len(args) > 2 else 2)
        eps = keywords.get("eps", args[3] if len(args) > 3 else Fraction(1, 10**6))
        difference = self.binary("add", self.binary("sub", self.operand(args[0], where),
                                                     self.tensor(args[1], where), where),
                                 self.tensor(eps, where), where)
        featured = self.builder.featured(difference)
        return Tensor((self.norm_node(list(featured.parts), order, where),))

    def op_cdist(self, args, keywords, where, **_):
        order = keywords.get("p", args[2] if len(args) > 2 else 2)
        first, second = self.tensor(args[0], where), self.tensor(args[1], where)
        if not first.featured and not second.featured and self.builder.feature_variables(second):
            # cdist(a, b)[i, j] = norm(a[i] - b[j]): a row of distances, one part per row of b
            # (like a @ b.t()); cdist(x, x) then compares different rows of x, not x with itself
            distances = []
            for row in self.builder.rows(second).parts:
                featured = self.builder.featured(self.binary("sub", first, Tensor((row,)), where))
                distances.append(self.norm_node(list(featured.parts), order, where))
            return Tensor(tuple(distances), True, axis="rows")
        return self.distance(first, second, order, where)

    def op_pdist(self, args, keywords, where, **_):
        """``pdist(x)``: the distances of every pair of distinct rows of ``x`` (i < j), one
        part each, so that a min over them ties between pairs."""
        order = keywords.get("p", args[1] if len(args) > 1 else 2)
        tensor = self.tensor(args[0], where)
        if tensor.featured and tensor.axis != "feature":
            raise SourceError("unsupported: pdist of a tensor that is not rows of features", where)
        rows = [self.builder.sample(tensor, index) for index in range(DEFAULT_COMPONENTS)]
        distances = [self.distance(rows[i], rows[j], order, where).parts[0]
                     for i in range(len(rows)) for j in range(i + 1, len(rows))]
        return Tensor(tuple(distances), True, axis="rows")

    def op_dist(self, args, keywords, where, **_):
        # torch.dist(a, b): the norm of a - b (not pairwise)
        order = keywords.get("p", args[2] if len(args) > 2 else 2)
        return self.distance(self.tensor(args[0], where), self.tensor(args[1], where), order, where)

    def distance(self, first: Tensor, second: Tensor, order: Any, where: ast.AST) -> Tensor:
        difference = self.binary("sub", first, second, where)
        featured = self.builder.featured(difference)
        return Tensor((self.norm_node(list(featured.parts), order, where),))

    def op_cumsum(self, args, keywords, where, **_):
        tensor = self.builder.featured(self.tensor(args[0], where))
        parts, total = [], None
        for part in tensor.parts:
            total = part if total is None else self.node("add", (total, part), where)
            parts.append(total)
        return tensor.with_parts(parts)

    def op_sort(self, args, keywords, where, family="torch", **_):
        tensor = self.builder.ranked(self.over_samples(self.tensor(args[0], where),
                                                       self.dims(keywords, args, 1)))
        descending = bool(keywords.get("descending", False))
        parts = list(tensor.parts)
        ordered = [order_statistic(parts, k, self.run.span(where), largest=descending)
                   for k in range(len(parts))]
        values = tensor.with_parts(ordered)
        if family == "numpy":
            return values
        indices = _SortIndices(tensor, descending)
        return ResultPair(values, indices)

    def op_topk(self, args, keywords, where, **_):
        k = int(keywords.get("k", args[1] if len(args) > 1 else 1))
        # samples of a per-sample value: one more than k, or the top k would be all of them
        tensor = self.builder.ranked(self.over_samples(
            self.tensor(args[0], where), self.dims(keywords, args, 2), k + 1), samples=k + 1)
        largest = bool(keywords.get("largest", True))
        parts = list(tensor.parts)
        if k > len(parts):
            tensor = self.builder.ranked(self.tensor(args[0], where), k)
            parts = list(tensor.parts)
        ordered = [order_statistic(parts, r, self.run.span(where), largest=largest) for r in range(k)]
        return ResultPair(tensor.with_parts(ordered), _SortIndices(tensor, largest))

    def op_kthvalue(self, args, keywords, where, **_):
        k = int(keywords.get("k", args[1] if len(args) > 1 else 1))
        tensor = self.builder.featured(self.over_samples(
            self.tensor(args[0], where), self.dims(keywords, args, 2), max(k, DEFAULT_COMPONENTS)))
        value = order_statistic(list(tensor.parts), k - 1, self.run.span(where), largest=False)
        return ResultPair(Tensor((value,)), _SortIndices(tensor, False))

    def op_median(self, args, keywords, where, family="torch", **_):
        tensor = self.builder.featured(self.over_samples(self.tensor(args[0], where),
                                                         self.dims(keywords, args, 1)))
        count = len(tensor.parts)
        value = order_statistic(list(tensor.parts), (count - 1) // 2, self.run.span(where), largest=False)
        dim = self.dims(keywords, args, 1)
        result = Tensor((value,))
        if family == "numpy" or dim is None:
            return result
        return ResultPair(result, _SortIndices(tensor, False))

    def op_rint(self, args, keywords, where, **_):
        return self.unary("round", self.tensor(args[0], where), where)

    op_around = op_round

    def op_fabs(self, args, keywords, where, **_):
        return self.unary("abs", self.tensor(args[0], where), where)

    def op_percentile(self, args, keywords, where, **_):
        q = _number(keywords.get("q", args[1] if len(args) > 1 else 50), where)
        return self.op_quantile([args[0], q / 100], {}, where)

    op_nanpercentile = op_percentile

    def op_nanquantile(self, args, keywords, where, **kwargs):
        return self.op_quantile(args, keywords, where, **kwargs)

    def op_nanmax(self, args, keywords, where, **_):
        return self.extremum("max", args, keywords, where, "numpy")

    def op_nanmin(self, args, keywords, where, **_):
        return self.extremum("min", args, keywords, where, "numpy")

    def op_ptp(self, args, keywords, where, **_):
        """np.ptp(x) = max(x) - min(x)."""
        return self.binary("sub", self.extremum("max", args, keywords, where, "numpy"),
                           self.extremum("min", args, keywords, where, "numpy"), where)

    def op_sparse_plus(self, args, keywords, where, **_):
        """jax.nn.sparse_plus: 0 below -1, (x + 1)^2/4 on [-1, 1], x above 1 (C1)."""
        x = self.tensor(args[0], where)
        one = self.tensor(1, where)
        quadratic = self.binary("div", self.binary("pow", self.binary("add", x, one, where),
                                                   self.tensor(2, where), where), self.tensor(4, where), where)
        middle = self.where(self.comparison("le", x, 1, where), quadratic, x, where)
        return self.where(self.comparison("le", x, -1, where), self.tensor(0, where), middle, where)

    def op_rel_entr(self, args, keywords, where, **_):
        """scipy's rel_entr(x, y) = x log(x/y) (0 at x = 0): xlogy(x, x/y)."""
        x, y = self.tensor(args[0], where), self.tensor(args[1], where)
        entry = _vocabulary("xlogy")
        return self.vocabulary_call("xlogy", entry, [x, self.binary("div", x, y, where)], {}, where,
                                    "rel_entr")

    def op_quantile(self, args, keywords, where, **_):
        tensor = self.builder.featured(self.tensor(args[0], where))
        q = _number(keywords.get("q", args[1] if len(args) > 1 else Fraction(1, 2)), where)
        count = len(tensor.parts)
        position = q * (count - 1)
        low = int(sp.floor(position))
        high = min(low + 1, count - 1)
        weight = position - low
        stats = [order_statistic(list(tensor.parts), r, self.run.span(where), largest=False)
                 for r in sorted({low, high})]
        if len(stats) == 1 or weight == 0:
            return Tensor((stats[0],))
        mixed = self.node("add", (
            self.node("mul", (self.number(1 - weight, where), stats[0]), where),
            self.node("mul", (self.number(weight, where), stats[1]), where)), where)
        return Tensor((mixed,))

    def op_abs(self, args, keywords, where, **_):
        return self.unary("abs", self.operand(args[0], where), where)

    op_absolute = op_abs

    def op_var(self, args, keywords, where, **_):
        correction = keywords.get("correction", 0 if keywords.get("unbiased") is False else 1)
        if not _is_integer(correction):
            raise SourceError(f"unsupported: a correction of {correction!r} in a variance", where)
        features = self.over_features(self.dims(keywords, args, 1))
        if features is False or (features is None and not self.tensor(args[0], where).featured):
            # over the batch (of every element of a generic tensor, as a full mean is)
            variance = self.batch_variance(self.tensor(args[0], where), int(correction), where)
            return variance.spreading() if keywords.get("keepdim") else variance
        tensor = self.builder.featured(self.tensor(args[0], where))
        n = len(tensor.parts)
        mean = self.combine("mean", list(tensor.parts), where)
        squares = [self.node("pow", (self.node("sub", (p, mean), where), self.number(2, where)), where)
                   for p in tensor.parts]
        return Tensor((self.node("div", (self.node("add", squares, where),
                                         self.number(n - int(correction), where)), where),))

    def batch_variance(self, tensor: Tensor, correction: int, where: ast.AST) -> Tensor:
        """The variance over the batch (``x.var(0)``), written over rows of it: one value for all
        samples, zero where the rows are all equal (the generic element alone would read 0)."""
        if (tensor.featured and tensor.axis != "feature") or tensor.stacked:
            raise SourceError("unsupported: a variance over the batch of this tensor", where)
        rows = STATISTIC_ROWS - correction
        if rows <= 0:
            raise SourceError(f"unsupported: a correction of {correction} in a variance", where)
        mean = self.builder.batch_reduce(tensor, lambda ps: self.combine("mean", ps, where))
        squares = self.builder.elementwise(lambda a, m: self.node("pow", (
            self.node("sub", (a, m), where), self.number(2, where)), where), tensor, mean)
        total = self.builder.batch_reduce(squares, lambda ps: self.combine("sum", ps, where))
        return self.builder.elementwise(
            lambda t: self.node("div", (t, self.number(rows, where)), where), total)

    def op_std(self, args, keywords, where, **_):
        return self.unary("sqrt", self.op_var(args, keywords, where), where)

    def op_einsum(self, args, keywords, where, **_):
        # sums of products of its operands: a polynomial, smooth in each of them; the operands
        # may come as one list (torch.einsum("nc,ck->nk", [q, queue]), MoCo)
        operands = [item for a in args[1:]
                    for item in (a if isinstance(a, (list, tuple)) else [a])]
        tensors = [self.run.as_tensor(a, where) for a in operands if isinstance(a, TENSORLIKE)]
        if not tensors:
            return self.run.opaque_call("torch.einsum", operands, where)
        return self.opaque("torch.einsum", tensors, where, known_smooth=True)

    def op_arange(self, args, keywords, where, **_):
        numbers = [a for a in args if not isinstance(a, (Opaque, ModuleRef))]
        bounds = [DEFAULT_COMPONENTS if isinstance(a, Size) else a for a in numbers]
        try:
            values = list(range(*[int(b) for b in bounds])) if bounds else []
        except (TypeError, ValueError):
            values = []
        return Arange(values if 0 < len(values) <= MAX_ARANGE else None)

    def op_tensor(self, args, keywords, where, **_):
        value = args[0] if args else 0
        if isinstance(value, (list, tuple)):
            parts = [self.tensor(v, where).parts[0] for v in value]
            return Tensor(tuple(parts), True) if len(parts) > 1 else Tensor(tuple(parts))
        return self.tensor(value, where)

    op_as_tensor = op_tensor
    op_asarray = op_tensor
    op_array = op_tensor
    op_scalar_tensor = op_tensor

    def op_softplus(self, args, keywords, where, written="", **_):
        entry = _vocabulary("softplus")
        kept = {k: v for k, v in keywords.items() if k in entry.keywords}
        threshold = keywords.get("threshold", args[2] if len(args) > 2 else None)
        result = self.vocabulary_call("softplus", entry, args[:2], kept, where, written)
        del threshold  # the math is the smooth softplus; the autodiff stage reads the call
        return result

    # --- losses -----------------------------------------------------------------------------

    def reduce_loss(self, tensor: Tensor, keywords: dict[str, Any], where: ast.AST) -> Tensor:
        reduction = keywords.get("reduction", "mean")
        if reduction == "none" or reduction is None:
            return tensor
        return self.builder.full_reduce(tensor, lambda ps: self.combine(
            "sum" if reduction == "sum" else "mean", ps, where))

    def log_probabilities(self, logits: Tensor, where: ast.AST) -> Tensor:
        return self.builder.coupled(logits, lambda parts, k: self.node(
            "log_softmax", parts, where, written="log_softmax",
            keywords=(("index", self.number(k, where)),)))

    def op_cross_entropy(self, args, keywords, where, **_):
        logits = self.builder.featured(self.tensor(args[0], where))
        target = keywords.get("target", args[1] if len(args) > 1 else None)
        smoothing = _number(keywords.get("label_smoothing", 0), where)
        log_p = self.log_probabilities(logits, where)
        count = len(log_p.parts)
        label = self.label_name(target) if not (isinstance(target, Tensor) and target.featured) \
            else self.sliced_labels(target, count)
        if label is not None:
            if label != _ROWS:
                self.run.label_names.add(label)
            weights = [self.number(1 if k == 0 else 0, where) for k in range(count)]
        elif isinstance(target, Tensor) and target.dtype == "int" and not target.featured:
            # class indices that are no argument: a constant class picks its component, other
            # computed indices stand for a class like labels do (the first component)
            node = target.parts[0]
            chosen = int(node.value) if node.op == "const" and _is_integer(node.value) else 0
            if not 0 <= chosen < count:
                raise SourceError(f"class index {chosen} of {count} classes", where)
            weights = [self.number(1 if k == chosen else 0, where) for k in range(count)]
        else:
            probabilities = self.builder.featured(self.tensor(target, where), count)
            weights = list(probabilities.parts)
        if smoothing != 0:
            weights = [self.node("add", (self.node("mul", (self.number(1 - smoothing, where), w), where),
                                         self.number(smoothing / count, where)), where) for w in weights]
        terms = [self.node("mul", (w, lp), where) for w, lp in zip(weights, log_p.parts)
                 if not (w.op == "const" and w.value == 0)]
        loss = Tensor((self.node("neg", (self.node("add", terms, where),), where),))
        return self.reduce_loss(loss, keywords, where)

    def op_nll_loss(self, args, keywords, where, **_):
        log_p = self.tensor(args[0], where)
        target = keywords.get("target", args[1] if len(args) > 1 else None)
        picked = self.select(log_p, target, where)
        return self.reduce_loss(self.unary("neg", picked, where), keywords, where)

    def op_binary_cross_entropy_with_logits(self, args, keywords, where, **_):
        x = self.tensor(args[0], where)
        y = self.tensor(keywords.get("target", args[1] if len(args) > 1 else None), where)
        positive = self.unary("softplus", self.unary("neg", x, where), where)  # -log sigmoid(x)
        negative = self.unary("softplus", x, where)  # -log(1 - sigmoid(x))
        pos_weight = keywords.get("pos_weight")
        if pos_weight is not None:
            positive = self.binary("mul", positive, self.operand(pos_weight, where), where)
        loss = self.binary("add", self.binary("mul", y, positive, where),
                           self.binary("mul", self.binary("sub", self.operand(1, where), y, where),
                                       negative, where), where)
        weight = keywords.get("weight")
        if weight is not None:
            loss = self.binary("mul", loss, self.operand(weight, where), where)
        return self.reduce_loss(loss, keywords, where)

    def op_binary_cross_entropy(self, args, keywords, where, **_):
        p = self.tensor(args[0], where)
        y = self.tensor(keywords.get("target", args[1] if len(args) > 1 else None), where)
        log_p = self.unary("log", p, where)
        log_q = self.unary("log", self.binary("sub", self.operand(1, where), p, where), where)
        loss = self.unary("neg", self.binary(
            "add", self.binary("mul", y, log_p, where),
            self.binary("mul", self.binary("sub", self.operand(1, where), y, where), log_q, where),
            where), where)
        weight = keywords.get("weight", args[2] if len(args) > 2 else None)
        if weight is not None:
            loss = self.binary("mul", loss, self.operand(weight, where), where)
        return self.reduce_loss(loss, keywords, where)

    def pointwise_loss(self, make: Callable[[Tensor, Tensor], Tensor], args, keywords, where) -> Tensor:
        a = self.tensor(args[0], where)
        b = self.tensor(keywords.get("target", args[1] if len(args) > 1 else 0), where)
        return self.reduce_loss(make(a, b), keywords, where)

    def op_mse_loss(self, args, keywords, where, **_):
        return self.pointwise_loss(lambda a, b: self.binary(
            "pow", self.binary("sub", a, b, where), self.operand(2, where), where), args, keywords, where)

    def op_l1_loss(self, args, keywords, where, **_):
        return self.pointwise_loss(lambda a, b: self.unary("abs", self.binary("sub", a, b, where), where),
                                   args, keywords, where)

    def op_smooth_l1_loss(self, args, keywords, where, **_):
        beta = _number(keywords.get("beta", 1), where)

        def make(a: Tensor, b: Tensor) -> Tensor:
            r = self.binary("sub", a, b, where)
            if beta == 0:
                return self.unary("abs", r, where)
            n = self.unary("abs", r, where)
            quadratic = self.binary("div", self.binary("mul", self.operand(Fraction(1, 2), where),
                                                       self.binary("pow", n, self.operand(2, where), where),
                                                       where), self.tensor(beta, where), where)
            linear = self.binary("sub", n, self.operand(beta / 2, where), where)
            return self.where(self.comparison("lt", n, beta, where), quadratic, linear, where)

        return self.pointwise_loss(make, args, keywords, where)

    def op_huber_loss(self, args, keywords, where, **_):
        delta = _number(keywords.get("delta", 1), where)
        entry = _vocabulary("huber")
        return self.pointwise_loss(lambda a, b: self.vocabulary_call(
            "huber", entry, [self.binary("sub", a, b, where), delta], {}, where, "huber_loss"),
            args, keywords, where)

    def op_soft_margin_loss(self, args, keywords, where, **_):
        return self.pointwise_loss(lambda x, y: self.unary("softplus", self.unary(
            "neg", self.binary("mul", y, x, where), where), where), args, keywords, where)

    def op_margin_ranking_loss(self, args, keywords, where, **_):
        x1, x2, y = (self.tensor(a, where) for a in args[:3])
        margin = _number(keywords.get("margin", args[3] if len(args) > 3 else 0), where)
        inner = self.binary("add", self.unary("neg", self.binary("mul", y, self.binary(
            "sub", x1, x2, where), where), where), self.tensor(margin, where), where)
        return self.reduce_loss(self.relu(inner, where), keywords, where)

    def op_hinge_embedding_loss(self, args, keywords, where, **_):
        x, y = self.tensor(args[0], where), self.tensor(args[1], where)
        margin = _number(keywords.get("margin", 1), where)
        negative = self.relu(self.binary("sub", self.operand(margin, where), x, where), where)
        loss = self.where(self.comparison("eq", y, 1, where), x, negative, where)
        return self.reduce_loss(loss, keywords, where)

    def op_triplet_margin_loss(self, args, keywords, where, **_):
        anchor, positive, negative = (self.tensor(a, where) for a in args[:3])
        margin = _number(keywords.get("margin", args[3] if len(args) > 3 else 1), where)
        order = keywords.get("p", 2)
        eps = keywords.get("eps", Fraction(1, 10**6))
        d_ap = self.op_pairwise_distance([anchor, positive, order, eps], {}, where)
        d_an = self.op_pairwise_distance([anchor, negative, order, eps], {}, where)
        if keywords.get("swap"):
            d_pn = self.op_pairwise_distance([positive, negative, order, eps], {}, where)
            entry = _vocabulary("minimum")
            d_an = self.vocabulary_call("min", entry, [d_an, d_pn], {}, where, "min")
        inner = self.binary("add", self.binary("sub", d_ap, d_an, where), self.operand(margin, where), where)
        return self.reduce_loss(self.relu(inner, where), keywords, where)

    def op_triplet_margin_with_distance_loss(self, args, keywords, where, **_):
        anchor, positive, negative = args[:3]
        distance_function = keywords.get("distance_function")
        margin = _number(keywords.get("margin", 1), where)

        def distance(first: Any, second: Any) -> Tensor:
            if distance_function is None:  # PyTorch's default: pairwise_distance
                return self.op_pairwise_distance([first, second], {}, where)
            # the user's distance (a lambda, a function of the file, nn.PairwiseDistance())
            return self.tensor(self.run.call(distance_function, [first, second], {}, where), where)

        d_ap, d_an = distance(anchor, positive), distance(anchor, negative)
        if keywords.get("swap"):
            entry = _vocabulary("minimum")
            d_an = self.vocabulary_call("min", entry, [d_an, distance(positive, negative)], {},
                                        where, "min")
        inner = self.binary("add", self.binary("sub", d_ap, d_an, where), self.tensor(margin, where), where)
        return self.reduce_loss(self.relu(inner, where), keywords, where)

    def op_cosine_embedding_loss(self, args, keywords, where, **_):
        x1, x2, y = args[:3]
        margin = _number(keywords.get("margin", args[3] if len(args) > 3 else 0), where)
        cosine = self.op_cosine_similarity([x1, x2], {"dim": 1, "eps": Fraction(1, 10**8)}, where)
        positive = self.binary("sub", self.operand(1, where), cosine, where)
        negative = self.relu(self.binary("sub", cosine, self.operand(margin, where), where), where)
        loss = self.where(self.comparison("eq", y, 1, where), positive, negative, where)
        return self.reduce_loss(loss, keywords, where)

    def op_kl_div(self, args, keywords, where, **_):
        x = self.tensor(args[0], where)
        t = self.tensor(keywords.get("target", args[1] if len(args) > 1 else None), where)
        if keywords.get("log_target"):
            loss = self.binary("mul", self.unary("exp", t, where), self.binary("sub", t, x, where), where)
        else:
            entry = _vocabulary("xlogy")
            if entry is not None:
                t_log_t = self.vocabulary_call("xlogy", entry, [t, t], {}, where, "xlogy")
            else:
                t_log_t = self.binary("mul", t, self.unary("log", t, where), where)
            loss = self.binary("sub", t_log_t, self.binary("mul", t, x, where), where)
        reduction = keywords.get("reduction", "mean")
        if reduction == "batchmean":
            keywords = {**keywords, "reduction": "sum"}
        return self.reduce_loss(loss, keywords, where)

    def op_poisson_nll_loss(self, args, keywords, where, **_):
        x, t = self.tensor(args[0], where), self.tensor(args[1], where)
        log_input = keywords.get("log_input", True)
        eps = keywords.get("eps", Fraction(1, 10**8))
        if log_input:
            loss = self.binary("sub", self.unary("exp", x, where), self.binary("mul", t, x, where), where)
        else:
            loss = self.binary("sub", x, self.binary("mul", t, self.unary("log", self.binary(
                "add", x, self.tensor(eps, where), where), where), where), where)
        return self.reduce_loss(loss, keywords, where)

    def op_gaussian_nll_loss(self, args, keywords, where, **_):
        x, t, var = (self.tensor(a, where) for a in args[:3])
        eps = keywords.get("eps", Fraction(1, 10**6))
        entry = _vocabulary("clip")
        var = self.vocabulary_call("clip", entry, [var, eps, None], {}, where, "clamp")
        loss = self.binary("mul", self.operand(Fraction(1, 2), where), self.binary(
            "add", self.unary("log", var, where), self.binary("div", self.binary(
                "pow", self.binary("sub", x, t, where), self.operand(2, where), where), var, where),
            where), where)
        return self.reduce_loss(loss, keywords, where)

    def op_multi_margin_loss(self, args, keywords, where, **_):
        x = self.builder.featured(self.tensor(args[0], where))
        target = keywords.get("target", args[1] if len(args) > 1 else None)
        margin = _number(keywords.get("margin", 1), where)
        power = int(keywords.get("p", 1))
        picked = self.select(x, target, where).parts[0]
        terms = []
        for k, part in enumerate(x.parts):
            if k == 0:
                continue
            hinge = self.node("max", (self.number(0, where), self.node("add", (
                self.number(margin, where), self.node("sub", (part, picked), where)), where)), where,
                written="max")
            terms.append(hinge if power == 1 else self.node("pow", (hinge, self.number(power, where)), where))
        loss = Tensor((self.node("div", (self.node("add", terms, where),
                                         self.number(len(x.parts), where)), where),))
        return self.reduce_loss(loss, keywords, where)

    def op_multilabel_soft_margin_loss(self, args, keywords, where, **_):
        x, y = self.tensor(args[0], where), self.tensor(args[1], where)
        loss = self.binary("add", self.binary("mul", y, self.unary("softplus", self.unary(
            "neg", x, where), where), where), self.binary("mul", self.binary(
                "sub", self.operand(1, where), y, where), self.unary("softplus", x, where), where), where)
        return self.reduce_loss(loss, keywords, where)

    def relu(self, tensor: Tensor, where: ast.AST) -> Tensor:
        entry = _vocabulary("relu")
        return self.vocabulary_call("relu", entry, [tensor], {}, where, "relu")

    def sigmoid_focal_loss(self, args, keywords, where) -> Tensor:
        inputs, targets = self.tensor(args[0], where), self.tensor(args[1], where)
        alpha = keywords.get("alpha", args[2] if len(args) > 2 else Fraction(1, 4))
        gamma = keywords.get("gamma", args[3] if len(args) > 3 else 2)
        p = self.unary("sigmoid", inputs, where)
        ce = self.op_binary_cross_entropy_with_logits([inputs, targets], {"reduction": "none"}, where)
        one = self.tensor(1, where)
        p_t = self.binary("add", self.binary("mul", p, targets, where), self.binary(
            "mul", self.binary("sub", one, p, where), self.binary("sub", one, targets, where), where), where)
        loss = self.binary("mul", ce, self.binary("pow", self.binary("sub", one, p_t, where),
                                                  self.tensor(gamma, where), where), where)
        if _number(alpha, where) >= 0:
            a = self.tensor(alpha, where)
            alpha_t = self.binary("add", self.binary("mul", a, targets, where), self.binary(
                "mul", self.binary("sub", one, a, where), self.binary("sub", one, targets, where),
                where), where)
            loss = self.binary("mul", alpha_t, loss, where)
        return self.reduce_loss(loss, {"reduction": keywords.get("reduction", "none")}, where)

    # --- optax ------------------------------------------------------------------------------

    def optax(self, name: str, args: list[Any], keywords: dict[str, Any], where: ast.AST) -> Any:
        none = {"reduction": "none"}
        # arguments given by keyword (flax's examples: logits=..., labels=...) move to their
        # positions, so that each loss below reads args[0], args[1] however it was called
        args = list(args)
        for parameter in _OPTAX_PARAMETERS.get(name, ())[len(args):]:
            if parameter not in keywords:
                break
            args.append(keywords[parameter])
        if name == "l2_loss":
            target = keywords.get("targets", args[1] if len(args) > 1 else 0)
            diff = self.binary("sub", self.operand(args[0], where), self.operand(target or 0, where), where)
            return self.binary("mul", self.operand(Fraction(1, 2), where),
                               self.binary("pow", diff, self.operand(2, where), where), where)
        if name == "squared_error":
            target = keywords.get("targets", args[1] if len(args) > 1 else 0)
            diff = self.binary("sub", self.operand(args[0], where), self.operand(target or 0, where), where)
            return self.binary("pow", diff, self.operand(2, where), where)
        if name == "huber_loss":
            target = keywords.get("targets", args[1] if len(args) > 1 else None)
            delta = keywords.get("delta", args[2] if len(args) > 2 else 1)
            return self.op_huber_loss([args[0], target if target is not None else 0],
                                      {**none, "delta": delta}, where)
        if name == "log_cosh":
            target = keywords.get("targets", args[1] if len(args) > 1 else None)
            diff = self.binary("sub", self.operand(args[0], where), self.operand(target or 0, where), where)
            return self.unary("log", self.unary("cosh", diff, where), where)
        if name == "sigmoid_binary_cross_entropy":
            return self.op_binary_cross_entropy_with_logits(args[:2], none, where)
        if name in ("softmax_cross_entropy", "safe_softmax_cross_entropy"):
            labels = keywords.get("labels", args[1] if len(args) > 1 else None)
            return self.op_cross_entropy([args[0], self.builder.featured(self.tensor(labels, where))],
                                         none, where)
        if name == "softmax_cross_entropy_with_integer_labels":
            labels = keywords.get("labels", args[1] if len(args) > 1 else None)
            return self.op_cross_entropy([args[0], labels], none, where)
        if name == "hinge_loss":
            targets = keywords.get("targets", args[1] if len(args) > 1 else None)
            margin = self.binary("sub", self.operand(1, where), self.binary(
                "mul", self.tensor(args[0], where), self.tensor(targets, where), where), where)
            return self.relu(margin, where)
        if name == "cosine_similarity":
            return self.op_cosine_similarity(args[:2], {"eps": keywords.get("epsilon", 0)}, where)
        if name == "cosine_distance":
            similarity = self.op_cosine_similarity(args[:2], {"eps": keywords.get("epsilon", 0)}, where)
            return self.binary("sub", self.operand(1, where), similarity, where)
        if name == "kl_divergence":
            return self.op_kl_div(args[:2], none, where)
        if name == "kl_divergence_with_log_targets":
            return self.op_kl_div(args[:2], {**none, "log_target": True}, where)
        if name == "convex_kl_divergence":
            # kl_divergence + exp(log_predictions) - targets, summed with it over the last axis
            kl = self.op_kl_div(args[:2], none, where)
            mass = self.binary("sub", self.unary("exp", self.tensor(args[0], where), where),
                               self.tensor(args[1], where), where)
            return self.binary("add", kl, mass, where)
        if name == "perceptron_loss":
            return self.relu(self.unary("neg", self.binary(
                "mul", self.tensor(args[0], where), self.tensor(args[1], where), where), where), where)
        if name == "sigmoid_focal_loss":
            alpha = keywords.get("alpha", args[2] if len(args) > 2 else None)
            gamma = keywords.get("gamma", args[3] if len(args) > 3 else 2)
            # optax's alpha=None is torchvision's negative alpha: no class weighting
            return self.sigmoid_focal_loss(args[:2], {"alpha": -1 if alpha is None else alpha,
                                                      "gamma": gamma}, where)
        if name == "triplet_margin_loss":
            return self.op_triplet_margin_loss(args[:3], {
                **none, "margin": keywords.get("margin", 1), "p": keywords.get("norm_degree", 2),
                "eps": keywords.get("eps", Fraction(1, 10**6))}, where)
        return self.run.opaque_call(f"optax.{name}", args, where)

    # --- math and builtins -------------------------------------------------------------------

    def math(self, name: str, args: list[Any], where: ast.AST) -> Any:
        if any(isinstance(a, TENSORLIKE) for a in args):
            return self.tensor_call("torch", name, args, {}, where, written=f"math.{name}")
        functions = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "log1p": lambda x: sp.log(1 + x),
                     "pow": lambda a, b: a**b, "tanh": sp.tanh, "cos": sp.cos, "sin": sp.sin,
                     "floor": sp.floor, "ceil": sp.ceiling, "fabs": sp.Abs, "erf": sp.erf,
                     "atan": sp.atan, "log2": lambda x: sp.log(x, 2), "log10": lambda x: sp.log(x, 10)}
        fn = functions.get(name)
        if fn is None:
            raise SourceError(f"math.{name} is not supported", where)
        return fn(*[_number(a, where) for a in args])

    def builtin(self, name: str, args: list[Any], keywords: dict[str, Any], where: ast.AST) -> Any:
        result = self.python_builtin(name, args, keywords, where)
        if name not in ("len", "isinstance", "hasattr", "getattr", "type", "print", "callable"):
            self.keeps_selections(name, [*args, *keywords.values()], result, where)
        return result

    def python_builtin(self, name: str, args: list[Any], keywords: dict[str, Any],
                       where: ast.AST) -> Any:
        from diffcheck.readers.pysource.interpreter import _Unknown

        tensors = any(isinstance(a, TENSORLIKE) for a in args)
        if name == "range":
            numbers = [DEFAULT_COMPONENTS if isinstance(a, (Size, _Unknown)) else int(a) for a in args]
            return range(*numbers)
        if name == "len":
            value = args[0]
            if isinstance(value, Instance) and own_container(value) is not None:
                value = own_container(value)
            if isinstance(value, Container):
                value = value.items
            if isinstance(value, (list, tuple, dict, str, range)):
                return sp.Integer(len(value))
            if isinstance(value, LazySequence):
                # x.chunk(ncrops): as many parts as iterating over it gives
                return sp.Integer(len(list(value)))
            if isinstance(value, Tensor) and value.selected is not None:
                return SelectionCount(value.selected)
            return Size("len")
        if name == "zip":
            return list(zip(*[self.run.iterate(a, where) for a in args]))
        if name == "enumerate":
            return [(sp.Integer(i), v) for i, v in enumerate(self.run.iterate(args[0], where))]
        if name == "reversed":
            return list(reversed(self.run.iterate(args[0], where)))
        if name == "sorted":
            return sorted(self.run.iterate(args[0], where))
        if name in ("list", "tuple"):
            items = self.run.iterate(args[0], where) if args else []
            return list(items) if name == "list" else tuple(items)
        if name == "dict":
            return dict(*args, **keywords)
        if name in ("float", "int", "bool"):
            if tensors:
                return self.integer_cast(args[0], where) if name == "int" else args[0]
            if not args:
                return 0
            value = args[0]
            if isinstance(value, str):
                if value.lower() in ("inf", "+inf", "infinity"):
                    return sp.oo
                if value.lower() == "-inf":
                    return -sp.oo
                raise SourceError(f"{name}({value!r}) is not supported", where)
            if name == "bool":
                return self.run.static_truth(value)
            number = _number(value, where)
            return sp.floor(number) if name == "int" and number.is_number else number
        if name == "abs":
            if tensors:
                return self.unary("abs", self.operand(args[0], where), where)
            return abs(_number(args[0], where))
        if name in ("max", "min"):
            items = args if len(args) > 1 else self.run.iterate(args[0], where)
            if any(isinstance(a, TENSORLIKE) for a in items):
                entry = _vocabulary("maximum" if name == "max" else "minimum")
                return self.vocabulary_call(name, entry, list(items), {}, where, name)
            numbers = [_number(a, where) for a in items]
            return sp.Max(*numbers) if name == "max" else sp.Min(*numbers)
        if name == "sum":
            items = self.run.iterate(args[0], where)
            start = args[1] if len(args) > 1 else 0
            total: Any = start
            for item in items:
                total = self.run.binary(ast.Add(), total, item, where)
            return total
        if name == "pow":
            return self.run.binary(ast.Pow(), args[0], args[1], where)
        if name == "round":
            if tensors:
                return self.unary("round", self.operand(args[0], where), where)
            return sp.floor(_number(args[0], where) + sp.Rational(1, 2))
        if name == "isinstance":
            return _isinstance(args[0], args[1])
        if name == "callable":
            return _callable(args[0])
        if name == "hasattr":
            if isinstance(args[0], Tensor):
                own = self.run.tensor_attributes.get(id(args[0]))
                return own is not None and own[0] is args[0] and str(args[1]) in own[1]
            return isinstance(args[0], Instance) and str(args[1]) in args[0].attributes
        if name == "getattr":
            if isinstance(args[0], Instance) and isinstance(args[1], str):
                if args[1] in args[0].attributes:
                    return args[0].attributes[args[1]]
                if len(args) > 2:
                    return args[2]
            raise SourceError("getattr with a name the reader cannot know", where)
        if name in ("any", "all"):
            return True
        if name == "str":
            return "<string>"
        if name == "print":
            return None
        if name == "type":
            return Opaque("type")
        if name == "map":
            function = args[0]
            return [self.run.call(function, list(group), {}, where)
                    for group in zip(*[self.run.iterate(a, where) for a in args[1:]])]
        if name == "divmod":
            a, b = (_number(x, where) for x in args)
            return (sp.floor(a / b), a - b * sp.floor(a / b))
        raise SourceError(f"the builtin {name}() is not supported here", where)

    # --- nn modules -------------------------------------------------------------------------

    def module_object(self, dotted: str, name: str, args: list[Any], keywords: dict[str, Any],
                      where: ast.AST) -> Any:
        """``nn.CrossEntropyLoss(...)``, ``nn.ReLU()``: objects whose call is a function."""
        if name == "Parameter":
            return self.op_Parameter(args, keywords, where)
        if name in _REPARAMETRIZATIONS and args and isinstance(args[0], (Layer, Instance, Container)):
            # nn.utils.spectral_norm(nn.Conv2d(...)): the same layer with its weight divided by
            # a norm of itself, smooth in that weight (the power iteration runs under no_grad)
            return args[0]
        if is_layer(name):
            return build_layer(name, tuple(args), dict(keywords), self.run.span(where))
        if name in COMPOSITE_LAYERS:
            return self.run.construct(self.run.composite_class(name), list(args), dict(keywords),
                                      where)
        if name in CONTAINER_KINDS:
            return container(name, args)
        loss_functions = {
            "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll_loss", "MSELoss": "mse_loss",
            "L1Loss": "l1_loss", "SmoothL1Loss": "smooth_l1_loss", "HuberLoss": "huber_loss",
            "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "BCELoss": "binary_cross_entropy",
            "KLDivLoss": "kl_div", "TripletMarginLoss": "triplet_margin_loss",
            "MarginRankingLoss": "margin_ranking_loss", "SoftMarginLoss": "soft_margin_loss",
            "CosineEmbeddingLoss": "cosine_embedding_loss", "HingeEmbeddingLoss": "hinge_embedding_loss",
            "MultiMarginLoss": "multi_margin_loss", "PoissonNLLLoss": "poisson_nll_loss",
            "GaussianNLLLoss": "gaussian_nll_loss", "CosineSimilarity": "cosine_similarity",
            "PairwiseDistance": "pairwise_distance", "Softmax": "softmax", "LogSoftmax": "log_softmax",
            "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
        }
        function = loss_functions.get(name)
        if function is None:
            activation = _ACTIVATION_MODULES.get(name)
            if activation is None:
                return LibraryObject(dotted, tuple(args), dict(keywords))
            function = activation
        stored = dict(keywords)
        if name in ("Softmax", "LogSoftmax", "Softmin") and args:
            stored["dim"] = args[0]
        elif name == "CrossEntropyLoss" and args:
            stored["weight"] = args[0]
        stored = {k: v for k, v in stored.items() if k not in ("inplace", "size_average", "reduce")}
        if name.endswith("Loss"):
            # read back as loss_fcn.reduction before it is changed (yolov5's FocalLoss)
            stored.setdefault("reduction", "mean")

        def call(*call_args: Any, **call_keywords: Any) -> Any:
            # The call site (self.act(h)) is where a finding points, not the constructor.
            site = self.run.call_site or where
            return self.tensor_call("torch", function, list(call_args), call_keywords, site,
                                    written=f"nn.{name}")

        return LibraryObject(dotted, tuple(args), stored, call)

    # --- layers -------------------------------------------------------------------------------

    def parameter_tensor(self, name: str, where: ast.AST | None) -> Tensor:
        """A learnable parameter of the model, by module path (``fc1.weight``)."""
        self.builder.feature_parameters.add(name)
        self.builder.parameters.add(name)
        self.run.parameter_names.setdefault(name, None)
        tensor = self.builder.parameter(name, self.run.span(where))
        frozen = self.run.frozen_cut(name)
        if frozen is not None:
            # requires_grad = False: the parameter is read, no gradient reaches it
            return self.detach(tensor, frozen, "requires_grad = False")
        return tensor

    def layer_attribute(self, layer: Layer, name: str, where: ast.AST) -> Any:
        if name in layer.parameters:
            return self.parameter_tensor(f"{layer.path}.{name}" if layer.path else name, where)
        if name in ("in_features", "out_features", "num_embeddings", "embedding_dim",
                    "in_channels", "out_channels", "hidden_size", "num_features"):
            return Size(name)
        if name in layer.keywords:
            return layer.keywords[name]
        return Opaque(f"{layer.kind}.{name}")

    def layer_forward(self, layer: Layer, args: list[Any], keywords: dict[str, Any],
                      where: ast.AST) -> Any:
        """``layer(x)``: what the layer computes, as far as differentiability goes."""
        kind = layer.kind
        if kind in IDENTITY_LAYERS:
            return args[0] if args else None
        if kind in MAX_POOLS:
            return self.max_pool(self.tensor(args[0], where), where)
        if kind in ("Embedding", "EmbeddingBag"):
            return self.lookup(layer, args[0], where)
        if kind == "PReLU":
            weight = self.parameter_tensor(layer.parameter_names()[0], where)
            return self.op_prelu([args[0], weight], {}, where)
        tensors = [self.tensor(a, where) for a in [*args, *keywords.values()]
                   if isinstance(a, TENSORLIKE)]
        inputs: list[Node] = []
        for tensor in tensors:
            inputs.extend(tensor.parts)
        parameters = [self.parameter_tensor(n, where).parts[0] for n in layer.parameter_names()]
        name = layer.path or kind.lower()

        def output(suffix: str = "") -> Tensor:
            return Tensor((self.node("call", (*inputs, *parameters), where,
                                     written=f"{name}{suffix}", value=f"{name}{suffix}"),))

        if kind in RECURRENT:
            result = output()
            hidden = output(".h_n")
            return (result, (hidden, output(".c_n"))) if kind == "LSTM" else (result, hidden)
        if kind == "MultiheadAttention":
            return (output(), output(".weights"))
        if kind in ("LSTMCell",):
            return (output(".h"), output(".c"))
        return output()

    def max_pool(self, tensor: Tensor, where: ast.AST) -> Tensor:
        """The largest of two neighbouring elements: enough to show ties in a window."""
        if tensor.featured:
            return tensor.with_parts([self.node("max", self.builder.rows(Tensor((p,)), 2).parts,
                                                where, written="max_pool") for p in tensor.parts])
        windows = self.builder.rows(tensor, 2)
        return Tensor((self.node("max", windows.parts, where, written="max_pool"),))

    def lookup(self, layer: Layer, index: Any, where: ast.AST) -> Tensor:
        """``embedding(indices)``: the weight row an index picks."""
        weight = self.parameter_tensor(layer.parameter_names()[0], where)
        return self.select(weight, index, where)

    def library_init(self, instance: Instance, bases: list[str], args: list[Any],
                     keywords: dict[str, Any]) -> None:
        """``super().__init__(...)`` of a library base class: the attributes it sets.

        A subclass of a layer (``class QuantLinear(nn.Linear)``) has that layer's parameters.
        """
        for base in bases:
            kind = base.rsplit(".", 1)[-1]
            if kind in CONTAINER_KINDS:
                # class ConvNormActivation(nn.Sequential): super().__init__(*layers) makes the
                # layers children named by position (or key), as PyTorch names them
                built = container(kind, args)
                entries = built.items.items() if isinstance(built.items, dict) \
                    else enumerate(built.items)
                keys = []
                for key, item in entries:
                    instance.attributes[str(key)] = item
                    keys.append(str(key))
                instance.attributes[CONTAINER_KEYS] = (kind, tuple(keys))
                break
            if is_layer(kind):
                layer = build_layer(kind, tuple(args), dict(keywords), None)
                for name in layer.parameters:
                    instance.attributes.setdefault(name, Tensor(
                        (Node("var", value=name),), False, "param"))
                    self.run.extra_tensors.append(name)
                break
        if any(base.endswith(("_Loss", "_WeightedLoss")) for base in bases):
            names = ["size_average", "reduce", "reduction"]
            values = dict(zip(names, args))
            values.update(keywords)
            instance.attributes.setdefault("reduction", values.get("reduction", "mean"))
            if any(base.endswith("_WeightedLoss") for base in bases):
                instance.attributes.setdefault("weight", keywords.get("weight"))


#: library classes whose objects hold modules (a subclass of one is a container too)
CONTAINER_KINDS = ("Sequential", "ModuleList", "ModuleDict")
#: the attribute of an object of such a subclass that lists its kind and its children's names
CONTAINER_KEYS = "__container__"


def container(kind: str, args: list[Any]) -> Container:
    """``nn.Sequential(a, b)``, ``nn.Sequential(OrderedDict(...))``, ``nn.ModuleList([a, b])``."""
    if kind == "ModuleDict":
        return Container(kind, dict(args[0]) if args else {})
    items = list(args[0]) if kind == "ModuleList" and args else list(args)
    if kind == "Sequential" and len(args) == 1 and isinstance(args[0], dict):
        items = list(args[0].values())
    return Container(kind, items)


def own_container(instance: Instance) -> Container | None:
    """The children of an object of a container subclass, as that container; None otherwise."""
    entry = instance.attributes.get(CONTAINER_KEYS)
    if entry is None:
        return None
    kind, keys = entry
    if kind == "ModuleDict":
        return Container(kind, {key: instance.attributes[key] for key in keys})
    return Container(kind, [instance.attributes[key] for key in keys])


@dataclass(eq=False)
class CommandLine:
    """``argparse.ArgumentParser()`` of a training script: what ``parse_args()`` gives with no
    arguments, the default of each option (``nz = int(opt.nz)`` sizes DCGAN's layers)."""

    defaults: dict[str, Any]

    def __init__(self) -> None:
        self.defaults = {}

    def attribute(self, name: str, where: ast.AST) -> Any:
        if name == "add_argument":
            return LibraryObject("argparse.add_argument", (), {}, self.add_argument)
        if name in ("parse_args", "parse_known_args"):
            options = ParsedOptions(dict(self.defaults))
            result: Any = options if name == "parse_args" else (options, [])
            return LibraryObject(f"argparse.{name}", (), {}, lambda *args, **keywords: result)
        if name in ("add_argument_group", "add_mutually_exclusive_group"):
            return LibraryObject(f"argparse.{name}", (), {}, lambda *args, **keywords: self)
        if name == "set_defaults":
            return LibraryObject("argparse.set_defaults", (), {},
                                 lambda *args, **keywords: self.defaults.update(keywords))
        return Opaque(f"argparse.ArgumentParser.{name}")

    def add_argument(self, *flags: Any, **keywords: Any) -> None:
        names = [f for f in flags if isinstance(f, str)]
        long = next((f for f in names if f.startswith("--")), names[0] if names else None)
        destination = keywords.get("dest") or (long.lstrip("-").replace("-", "_") if long else None)
        if not isinstance(destination, str):
            return
        action = keywords.get("action")
        if "default" in keywords:
            value = keywords["default"]
        elif action in ("store_true", "store_false"):
            value = action == "store_false"
        else:
            value = None
        self.defaults[destination] = value


@dataclass(eq=False)
class ParsedOptions:
    """What ``parse_args()`` returns: each option at its default."""

    values: dict[str, Any]

    def attribute(self, name: str, where: ast.AST) -> Any:
        if name not in self.values:
            raise SourceError(f"the command line has no option {name!r}", where)
        return self.values[name]


@dataclass(eq=False)
class _SortIndices:
    """The indices ``sort``/``topk`` return: which element is at each rank."""

    tensor: Tensor
    descending: bool


#: The longest arange written out as numbers.
MAX_ARANGE = 16

#: Chunks wider than this are element sets of their own rather than written-out components.
MAX_CHUNK_COMPONENTS = 4


#: torch.nn.utils functions that return the module they are given with a smooth
#: reparametrization of its weight (its parameters keep their module path)
_REPARAMETRIZATIONS = frozenset(["spectral_norm", "weight_norm", "orthogonal",
                                 "remove_spectral_norm", "remove_weight_norm"])


_ACTIVATION_MODULES = {
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "ELU": "elu", "SELU": "selu",
    "CELU": "celu", "GELU": "gelu", "SiLU": "silu", "Mish": "mish", "Softplus": "softplus",
    "Softsign": "softsign", "Sigmoid": "sigmoid", "Tanh": "tanh", "Hardtanh": "hardtanh",
    "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid", "LogSigmoid": "logsigmoid",
    "Softshrink": "softshrink", "Hardshrink": "hardshrink", "Tanhshrink": "tanhshrink",
    "Threshold": "threshold", "Identity": "identity", "GLU": "glu", "RReLU": "rrelu",
    "Softmin": "softmin",
}


def _vocabulary(name: str) -> Any:
    """The vocabulary entry of an elementwise primitive, or None."""
    from diffcheck.primitives import lookup

    return lookup(name)


def _axis_kind(values: list[Any], position: int) -> str:
    """"feature", "batch" or "spatial": which axis index ``position`` of ``values`` picks.

    Dimension 1 (and the last one after ``...``) is the feature axis; dimension 0 the batch;
    dimensions 2 and up (images, sequences) are spatial. ``None`` adds an axis and is skipped.
    """
    real = [i for i, v in enumerate(values) if v is not None]
    if position not in real:
        return "batch"
    if Ellipsis in values:
        ellipsis = values.index(Ellipsis)
        after = [i for i in real if i > ellipsis]
        if position > ellipsis:
            return "feature" if position == after[-1] else "spatial"
    dimension = real.index(position)
    if len(real) == 1:
        return "feature"
    return {0: "batch", 1: "feature"}.get(dimension, "spatial")


#: what ``label_name`` says of ``arange`` rows: every element, its own row
_ROWS = "<rows>"


def _selects_all(value: Any) -> bool:
    """An index that keeps an axis whole: ``:``, ``...``, ``None`` or the rows ``arange(n)``."""
    return (value is None or value is Ellipsis or isinstance(value, Arange)
            or (isinstance(value, slice) and value == slice(None)))


#: reductions whose value over the batch depends on every sample's, not each alone
_COUPLED_REDUCTIONS = ("max", "min", "logsumexp")

#: calls that read a selection by a mask computed from the predictions themselves (a sum over
#: it, its count) rather than element by element
_SELECTION_AWARE = frozenset({
    *(name for name, how in _REDUCTIONS.items() if how in ("sum", "mean")),
    "numel", "nelement", "size"})

#: shape operations that leave a grid of pairs as it is (casts, copies, broadcasts)
_KEEPS_LAYOUT = frozenset({
    "contiguous", "float", "double", "half", "bfloat16", "to", "type", "type_as", "cpu", "cuda",
    "clone", "requires_grad_", "pin_memory", "block_until_ready", "astype", "expand",
    "expand_as", "broadcast_to"})


@contextmanager
def located(where: ast.AST) -> Iterator[None]:
    """Errors of the tensor builder (which sees no source) placed at the construct ``where``."""
    try:
        yield
    except SourceError as err:
        if err.node is None and err.span is None:
            err.node = where
        raise


def _new_axis_position(values: list[Any]) -> int | None:
    """Where ``x[:, None]``, ``x[None]``, ``x[..., None, :]`` put their one new axis, counted
    as ``unsqueeze`` counts (negative after an ellipsis); None for any other index."""
    if sum(v is None for v in values) != 1:
        return None
    if not all(v is None or v is Ellipsis or (isinstance(v, slice) and v == slice(None))
               for v in values):
        return None
    position = next(i for i, v in enumerate(values) if v is None)
    if Ellipsis in values[:position]:
        return position - len(values)
    return position


def _adds_axis(name: str, args: list[Any], keywords: dict[str, Any]) -> bool:
    """Whether a shape operation makes a column of a per-sample value (unsqueeze, view(-1, 1))."""
    if name in ("unsqueeze", "unsqueeze_", "expand_dims", "expand", "expand_as", "broadcast_to"):
        return True
    if name in ("view", "reshape") and args:
        shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        return len(shape) >= 2 and _is_integer(shape[-1]) and int(shape[-1]) == 1
    return False


def _model_name(name: str) -> str:
    """A model-function name for an opaque call (capitalized, as the analysis expects)."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_") or "F"
    return cleaned[0].upper() + cleaned[1:]


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, sp.Integer)


def _is_number(value: Any) -> bool:
    """A plain number of the source (a literal or a number it computed), not a tensor."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, Fraction)):
        return True
    return isinstance(value, sp.Basic) and bool(value.is_number)


def _number(value: Any, where: ast.AST) -> Any:
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return sp.Float(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, sp.Basic) and value.is_number:
        return value
    if isinstance(value, Size):
        return sp.Integer(DEFAULT_COMPONENTS)
    raise SourceError(f"a number is expected here, not {type(value).__name__}", where)


def _exact(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, Fraction)):
        return value
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Rational):
        return Fraction(int(value.p), int(value.q))
    if isinstance(value, float):
        return Fraction(repr(value))
    return value


def _callable(value: Any) -> bool:
    """``callable(value)`` for what the reader holds: functions, classes, modules, layers."""
    if isinstance(value, Instance):
        return value.cls.method("forward") is not None or value.cls.method("__call__") is not None
    if isinstance(value, Container):
        return value.kind == "Sequential"
    if isinstance(value, (Tensor, str, int, float, sp.Basic, list, tuple, dict)) or value is None:
        return False
    if isinstance(value, (Function, BoundMethod, ClassDef, Partial, Layer, LibraryObject, ModuleRef)):
        return True
    raise SourceError(f"callable() of {type(value).__name__} is not known")


def _isinstance(value: Any, kinds: Any) -> bool:
    names = kinds if isinstance(kinds, (tuple, list)) else (kinds,)
    for kind in names:
        dotted = getattr(kind, "dotted", "") if isinstance(kind, (ModuleRef, Opaque)) else ""
        last = dotted.split(".")[-1] if dotted else ""
        if type(kind).__name__ == "_Builtin":
            last = kind.name  # isinstance(alpha, (float, int)): the builtin types by name
        if isinstance(value, TENSORLIKE) and last in ("Tensor", "ndarray", "Array"):
            return True
        if isinstance(value, (int, sp.Integer)) and last == "int":
            return True
        if isinstance(value, (float, sp.Basic)) and last in ("float", "Number"):
            return True
        if isinstance(value, str) and last == "str":
            return True
        if isinstance(value, (list, tuple)) and last in ("list", "tuple", "Sequence"):
            return True
        if isinstance(value, bool) and last == "bool":
            return True
        if isinstance(value, (list, tuple, dict, str, range, Container)) \
                and last in ("Iterable", "Collection", "Sized"):
            return True
        if isinstance(value, dict) and last in ("dict", "Mapping"):
            return True
        if isinstance(value, Instance) and isinstance(kind, ClassDef) and value.cls is kind:
            return True
    return False


# Names used by other modules for type checks.
__all__ = ["NAMESPACES", "Function", "LazySequence", "Library", "Partial", "ResultPair", "Shape"]


#: how PyTorch, JAX and NumPy name the first two parameters of their functions and losses:
#: ``F.cross_entropy(input=logits, target=labels)`` is ``F.cross_entropy(logits, labels)``
_FIRST_PARAMETER_NAMES = ("input", "x", "a", "x1", "logits", "predictions", "preds", "tensor")
_SECOND_PARAMETER_NAMES = ("target", "targets", "labels", "y", "x2")


def _positional_by_name(args: list[Any], keywords: dict[str, Any]
                        ) -> tuple[list[Any], dict[str, Any]]:
    """The first two arguments passed by keyword, moved to their positions.

    Only an argument whose position is the next free one moves (``where(c, input=a)`` keeps
    ``input`` a keyword: its position is not the first), so the handlers read positions.
    """
    if not keywords:
        return args, keywords
    args, keywords = list(args), dict(keywords)
    for position, names in ((0, _FIRST_PARAMETER_NAMES), (1, _SECOND_PARAMETER_NAMES)):
        if len(args) != position:
            continue
        found = [n for n in names if n in keywords]
        if len(found) == 1:
            args.append(keywords.pop(found[0]))
    return args, keywords
