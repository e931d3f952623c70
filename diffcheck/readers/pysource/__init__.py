"""Python source: find the losses of a ``.py`` file and translate each one, never running it.

The file is parsed with :mod:`ast` only. Which definitions are losses (CONTRACT.md section 6):
those named with ``path.py::NAME``; otherwise functions whose name contains ``loss``, classes
whose name ends with ``Loss`` (their ``forward`` or ``__call__``), and definitions decorated with
``@diffcheck.loss`` or preceded by a ``# diffcheck: check`` comment. Private names (``_helper``)
are helpers, checked only when named.

>>> text = "def l1_loss(pred, target):\\n    return (pred - target).abs().mean()\\n"
>>> module = read_module(text, "losses.py")
>>> [t.name for t in find_losses(module, text)]
['l1_loss']
>>> source = translate(module, text, find_losses(module, text)[0], {})
>>> str(source.parsed.expr), source.wrt
('Abs(pred - target)', ['pred', 'target'])
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from diffcheck.parser import ParsedExpression
from diffcheck.readers.pysource.interpreter import Interpreter, Translation
from diffcheck.readers.pysource.lowering import lower
from diffcheck.readers.pysource.values import ClassDef, Function, Instance, SourceError

__all__ = ["LossTarget", "SourceError", "SourceLoss", "find_losses", "read_module", "translate"]

#: Larger files are refused before parsing (a loss file is a few hundred lines).
MAX_FILE_CHARS = 2_000_000

_CHECK_COMMENT = re.compile(r"#\s*diffcheck\s*:\s*check\b", re.IGNORECASE)


@dataclass(frozen=True)
class LossTarget:
    """A function or class of the file to check."""

    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    line: int

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, ast.ClassDef)


@dataclass
class SourceLoss:
    """A translated loss: what the analysis reads, and how to report it in the user's terms."""

    target: LossTarget
    parsed: ParsedExpression
    #: tensor parameters differentiated by default (labels and indices left out)
    wrt: list[str]
    tensors: list[str]
    translation: Translation
    #: component name -> how the user writes it; implicit components get i, j, k
    implicit: set[str] = field(default_factory=set)
    #: learnable parameters (module paths), for a model
    parameters: list[str] = field(default_factory=list)
    #: a model (nn.Module with parameters, not a ...Loss): checked w.r.t. its parameters
    is_model: bool = False
    #: the program lowered to SymPy, node by node
    lowered: Any = None

    def chosen_parameters(self, names: Sequence[str]) -> list[str]:
        """``--wrt`` for a model: ``params``, parameter names, module prefixes or tensor inputs."""
        chosen: list[str] = []
        for name in names:
            if name == "params":
                chosen.extend(self.parameters)
            elif name in self.tensors:
                chosen.append(name)
            else:
                chosen.extend(p for p in self.parameters if p == name or p.startswith(name + "."))
        return list(dict.fromkeys(chosen))

    def symbols_of(self, parameters: list[str]) -> list[str]:
        """The analysis variables (components included) of these tensor parameters."""
        chosen = set(parameters)
        return [v for v in self.parsed.variables if _base_name(v) in chosen]


def read_module(text: str, path: str = "<source>") -> ast.Module:
    """Parse a source file; a syntax error is a :class:`SourceError` with its position."""
    if len(text) > MAX_FILE_CHARS:
        raise SourceError(f"{path} is too large ({len(text):,} characters; at most "
                          f"{MAX_FILE_CHARS:,})", kind="limit")
    if "\x00" in text:
        raise SourceError("the file contains a NUL byte", kind="parse")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=path)
    except SyntaxError as err:
        error = SourceError(f"syntax error: {err.msg}", kind="parse")
        error.span = _position(err.lineno or 1, err.offset or 1)
        raise error from None
    except (RecursionError, MemoryError):
        raise SourceError("the file is nested too deeply for Python's parser", kind="limit") from None


def _position(line: int, column: int) -> Any:
    from diffcheck.program import Span

    return Span(line, column, line, column)


def find_losses(module: ast.Module, text: str, selector: str | None = None) -> list[LossTarget]:
    """The definitions to check: ``selector`` alone, or every loss of the file."""
    definitions = [s for s in module.body
                   if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if selector:
        head, _, _member = selector.partition(".")
        for stmt in definitions:
            if stmt.name == head:
                return [LossTarget(stmt.name, stmt, stmt.lineno)]
        names = ", ".join(s.name for s in definitions) or "none"
        raise SourceError(f"no function or class named {selector!r} (defined here: {names})",
                          kind="parse")
    lines = text.splitlines()
    found = []
    for stmt in definitions:
        if _is_loss(stmt, lines):
            found.append(LossTarget(stmt.name, stmt, stmt.lineno))
    return found


def _is_loss(stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> bool:
    decorated = any((_dotted(d.func if isinstance(d, ast.Call) else d) or "") in
                    ("diffcheck.loss", "loss") for d in stmt.decorator_list)
    first = min([stmt.lineno] + [d.lineno for d in stmt.decorator_list])
    commented = first >= 2 and bool(_CHECK_COMMENT.search(lines[first - 2]))
    if decorated or commented:
        return True
    if stmt.name.startswith("_"):
        return False
    if isinstance(stmt, ast.ClassDef):
        # FocalLoss, AsymmetricLossMultiLabel, LabelSmoothingCrossEntropy, subclasses of _Loss
        bases = {(_dotted(b) or "").rsplit(".", 1)[-1] for b in stmt.bases}
        return ("Loss" in stmt.name or stmt.name.endswith(("CrossEntropy", "Criterion"))
                or bool(bases & {"_Loss", "_WeightedLoss"}))
    return "loss" in stmt.name.lower()


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def translate(module: ast.Module, text: str, target: LossTarget, values: dict[str, Any],
              path: str = "<source>") -> SourceLoss:
    """Translate one loss definition into what the analysis reads."""
    interpreter = Interpreter(module, text, values, path)
    interpreter.weigh_outputs = target.is_class and not target.name.endswith("Loss")
    if target.is_class:
        translation = _translate_class(interpreter, target)
    else:
        function = interpreter.globals.get(target.name)
        if not isinstance(function, Function):
            raise SourceError(f"{target.name} is not a function", target.node)
        translation = interpreter.translate(function)
    lowered = lower(translation.program)
    expr = lowered.expr
    if not isinstance(expr, sp.Expr):
        raise SourceError("the function does not return a number", target.node)
    variables = tuple(sorted(str(s) for s in expr.free_symbols))
    spans = {k: v.column for k, v in lowered.spans.items()}
    snippets = {k: v.text for k, v in lowered.spans.items()}
    parsed = ParsedExpression(
        source=target.name,
        expr=expr,
        variables=variables,
        model_functions=tuple(sorted(lowered.model_functions)),
        spans=spans,
        snippets=snippets,
        fixed=tuple(sorted(translation.fixed)),
    )
    parsed.locations.update(lowered.spans)
    parameters = model_parameters(translation)
    is_model = bool(parameters) and not target.name.endswith("Loss")
    wrt = parameters if is_model else [t for t in translation.tensors if t not in translation.labels]
    return SourceLoss(target, parsed, wrt, translation.tensors, translation,
                      set(translation.builder.implicit), parameters, is_model, lowered)


def model_parameters(translation: Translation) -> list[str]:
    """Every learnable parameter of the model: read by the forward pass or not (a cut)."""
    names = list(translation.parameters)
    for path, layer in translation.layers.items():
        if layer is None:
            names.append(path)
        else:
            names.extend(layer.parameter_names())
    return list(dict.fromkeys(names))


@dataclass
class LossSpec:
    """The loss of a composition: a definition of a ``.py`` file, or an expression in ``out``."""

    expression: str | None = None
    path: str | None = None
    text: str | None = None
    name: str | None = None


def translate_composition(module: ast.Module, text: str, model: LossTarget, loss: LossSpec,
                          values: dict[str, Any], path: str = "<source>") -> SourceLoss:
    """``loss(model(x), y)``: the model's output fed to the loss, checked w.r.t. the model.

    A loss of a ``.py`` file gets the output as its first tensor parameter; an expression
    reads it as the variable ``out``.
    """
    from diffcheck.parser import ParseError, parse

    interpreter = Interpreter(module, text, values, path)
    model_translation = _translate_class(interpreter, model) if model.is_class else \
        interpreter.translate(interpreter.function(model.name))
    output = interpreter.output
    while isinstance(output, (tuple, list)) and output:
        output = output[0]
    if loss.expression is not None:
        program_value = interpreter.loss_value(output, model.node)
        lowered = lower(program_value)
        try:
            parsed_loss = parse(loss.expression, {"out": lowered.expr})
        except ParseError as err:
            raise SourceError(f"--loss: {err.message} (column {err.column})", kind=err.kind) from None
        translation = model_translation
        translation.program = program_value
        expr = parsed_loss.expr
        spans = dict(lowered.spans)
        model_functions = set(lowered.model_functions) | set(parsed_loss.model_functions)
    else:
        loss_module = read_module(loss.text or "", loss.path or "<loss>")
        (loss_target,) = find_losses(loss_module, loss.text or "", loss.name)
        loss_interpreter = Interpreter(loss_module, loss.text or "", values, loss.path or "")
        loss_interpreter.builder = interpreter.builder
        loss_interpreter.library = type(interpreter.library)(loss_interpreter)
        loss_interpreter.tensor_names = list(interpreter.tensor_names)
        if loss_target.is_class:
            translation = _translate_class(loss_interpreter, loss_target, bound=output)
        else:
            translation = loss_interpreter.translate(loss_interpreter.function(loss_target.name),
                                                     bound=output)
        translation.layers = model_translation.layers
        translation.parameters = list(dict.fromkeys(
            model_translation.parameters + translation.parameters))
        translation.assumptions = model_translation.assumptions + translation.assumptions
        lowered = lower(translation.program)
        expr = lowered.expr
        spans = dict(lowered.spans)
        model_functions = set(lowered.model_functions)
    variables = tuple(sorted(str(s) for s in expr.free_symbols))
    parsed = ParsedExpression(
        source=f"{loss.name or 'loss'}({model.name})", expr=expr, variables=variables,
        model_functions=tuple(sorted(model_functions)),
        spans={k: v.column for k, v in spans.items()},
        snippets={k: v.text for k, v in spans.items()},
        fixed=tuple(sorted(interpreter.used_values)),
    )
    parsed.locations.update(spans)
    parameters = model_parameters(model_translation)
    return SourceLoss(model, parsed, parameters, model_translation.tensors, translation,
                      set(interpreter.builder.implicit), parameters, True, lowered)


def _translate_class(interpreter: Interpreter, target: LossTarget, bound: Any = None) -> Translation:
    cls = interpreter.globals.get(target.name)
    if not isinstance(cls, ClassDef):
        raise SourceError(f"{target.name} is not a class", target.node)
    interpreter.resolve_bases(cls)
    method = cls.method("forward") or cls.method("__call__")
    if method is None:
        raise SourceError(f"{target.name} has no forward or __call__ method", target.node)
    constructor: dict[str, Any] = {}
    keywords: dict[str, Any] = {}
    init = cls.method("__init__")
    if init is not None:
        spec = init[0].node.args
        positional = [*spec.posonlyargs, *spec.args][1:]
        with_defaults = positional[len(positional) - len(spec.defaults):]
        defaulted = {a.arg for a in with_defaults} | {
            a.arg for a, d in zip(spec.kwonlyargs, spec.kw_defaults) if d is not None}
        for arg in [*positional, *spec.kwonlyargs]:
            if arg.arg in interpreter.values:
                keywords[arg.arg] = interpreter.use_value(arg.arg)
                constructor[arg.arg] = interpreter.values[arg.arg]
            elif arg.arg not in defaulted and _is_tensor_annotation(arg.annotation):
                # a tensor given to the constructor (class weights, keypoint sigmas): data the
                # loss reads, like a tensor argument of forward, never a hyperparameter
                keywords[arg.arg] = interpreter.builder.parameter(arg.arg, interpreter.span(arg))
                interpreter.extra_tensors.append(arg.arg)
            elif arg.arg not in defaulted:
                raise SourceError(f"{target.name}(...) needs the argument {arg.arg!r}: give it "
                                  f"with --set {arg.arg}=VALUE", init[0].node)
    instance = interpreter.construct(cls, [], keywords, target.node)
    if not isinstance(instance, Instance):
        raise SourceError(f"cannot build a {target.name} object", target.node)
    places: dict[int, str] = {}
    layers = assign_paths(instance, interpreter, places=places)
    freeze(instance, interpreter, places)
    for name, value in instance.attributes.items():
        if isinstance(value, (str, bool, int, float)) or value is None or (
                isinstance(value, sp.Basic) and value.is_number):
            constructor.setdefault(name, value)
    translation = interpreter.translate(method[0], instance, constructor, bound)
    translation.layers = layers
    return translation


#: The last names of the array types a parameter annotated as a tensor is written with.
_TENSOR_TYPES = frozenset({"Tensor", "ndarray", "Array", "ArrayLike", "FloatTensor"})


def _is_tensor_annotation(annotation: ast.expr | None) -> bool:
    """Whether an annotation names an array type: ``torch.Tensor``, ``Optional[Tensor]``."""
    if annotation is None:
        return False
    names = [n.attr if isinstance(n, ast.Attribute) else n.id
             for n in ast.walk(annotation) if isinstance(n, (ast.Attribute, ast.Name))]
    return any(name in _TENSOR_TYPES for name in names)


def freeze(instance: Instance, interpreter: Interpreter, places: dict[int, str]) -> None:
    """The parameters frozen while the model was built, by path: no gradient reaches them.

    A layer's parameters are cut where the layer reads them (``Library.parameter_tensor``);
    an ``nn.Parameter`` attribute of a submodule is replaced by its cut value here.
    """
    from diffcheck.readers.pysource.values import Tensor

    for owner, attribute, stmt in interpreter.frozen:
        prefix = "" if owner is instance else places.get(id(owner))
        if prefix is None:
            raise SourceError("unsupported: requires_grad of a module that is not part of the "
                              "model", stmt)
        path = f"{prefix}.{attribute}" if prefix and attribute else (attribute or prefix)
        interpreter.frozen_paths.append((path, stmt))
    if not interpreter.frozen_paths:
        return

    def cut(module: Instance, prefix: str) -> None:
        for name, value in list(module.attributes.items()):
            path = prefix + name
            if isinstance(value, Tensor) and value.dtype != "param" and value.parts and \
                    value.parts[0].op == "var" and value.parts[0].value == path:
                stmt = interpreter.frozen_cut(path)
                if stmt is not None:
                    module.attributes[name] = interpreter.library.detach(
                        value, stmt, "requires_grad = False")
            elif isinstance(value, Instance) and id(value) in places:
                cut(value, places[id(value)] + ".")

    cut(instance, "")


def assign_paths(instance: Instance, interpreter: Interpreter, prefix: str = "",
                 seen: set[int] | None = None, places: dict[int, str] | None = None
                 ) -> dict[str, Any]:
    """Name every layer and parameter of a built model by its module path, as PyTorch does.

    Returns module path -> layer (or parameter name -> None for ``nn.Parameter`` attributes);
    ``places`` gets the path of every module object (by ``id``).
    """
    from diffcheck.program import Node
    from diffcheck.readers.pysource.layers import Layer
    from diffcheck.readers.pysource.values import Container, Tensor

    seen = set() if seen is None else seen
    if id(instance) in seen:
        return {}
    seen.add(id(instance))
    found: dict[str, Any] = {}

    def visit(value: Any, path: str) -> Any:
        if places is not None and isinstance(value, (Layer, Instance, Container)):
            places.setdefault(id(value), path)
        if isinstance(value, Layer):
            value.path = path
            found[path] = value
        elif isinstance(value, Instance):
            found.update(assign_paths(value, interpreter, path + ".", seen, places))
        elif isinstance(value, Container):
            entries = value.items.items() if isinstance(value.items, dict) else enumerate(value.items)
            for key, item in entries:
                visit(item, f"{path}.{key}")
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                visit(item, f"{path}.{index}")
        elif (isinstance(value, Tensor) and value.dtype == "param" and not value.featured
              and value.parts[0].op == "var"):
            interpreter.builder.feature_parameters.add(path)
            interpreter.builder.parameters.add(path)
            found[path] = None
            return Tensor((Node("var", value=path, span=value.parts[0].span),))
        return value

    for name, value in list(instance.attributes.items()):
        replaced = visit(value, prefix + name)
        if replaced is not value:
            instance.attributes[name] = replaced
    return found


def _base_name(variable: str) -> str:
    # x[0], and other samples or rows of x: x@1, x[0]@1
    return variable.split("[", 1)[0].split("@", 1)[0]


def tensor_set(g: Any, implicit: set[str]) -> str | None:
    """A set written over whole tensors when it is one: ``anchor - positive = 0``.

    ``g`` a sum of squares of one expression over every component of some tensors (a norm at
    the zero vector) is the set where that expression vanishes for the whole vector.

    >>> a0, a1, p0, p1 = sp.symbols("a[0] a[1] p[0] p[1]", real=True)
    >>> tensor_set((a0 - p0)**2 + (a1 - p1)**2, {"a", "p"})
    'a - p = 0'

    Other rows of a tensor (``x[0]@1``, from ``cdist(x, x)``) are written as rows of it:

    >>> x0, x1, y0, y1 = sp.symbols("x[0] x[1] x[0]@1 x[1]@1", real=True)
    >>> tensor_set((x0 - y0)**2 + (x1 - y1)**2, {"x"})
    'x[i] - x[j] = 0'

    The sphere where a clamped norm switches (``x / max(norm(x), eps)``) is a norm's value:

    >>> tensor_set(sp.sqrt(a0**2 + a1**2) - sp.Rational(1, 10**8), {"a"})
    'norm(a) = 1/100000000'
    """
    if not isinstance(g, sp.Expr) or not implicit:
        return None
    whole = _whole_tensor(sp.Add.make_args(g), implicit)
    if whole is not None:
        if whole.could_extract_minus_sign():
            whole = -whole
        return f"{whole} = 0"
    # a sphere of a clamped norm: sqrt(sum of squares) = eps, or sum of squares = eps
    constant, rest = g.as_independent(*g.free_symbols, as_Add=True)
    if constant == 0:
        return None
    if rest.could_extract_minus_sign():
        rest, constant = -rest, -constant
    root = isinstance(rest, sp.Pow) and rest.exp == sp.Rational(1, 2)
    whole = _whole_tensor(sp.Add.make_args(rest.base if root else rest), implicit)
    if whole is None:
        return None
    return f"norm({whole}){'' if root else '**2'} = {-constant}"


def _whole_tensor(terms: tuple[Any, ...], implicit: set[str]) -> Any:
    """The one expression over whole tensors whose components' squares are ``terms``."""
    if len(terms) < 2 or not all(isinstance(t, sp.Pow) and t.exp == 2 for t in terms):
        return None
    shapes = set()
    rows: set[tuple[str, str | None]] = set()
    for term in terms:
        base = term.base
        mapping = {}
        for symbol in base.free_symbols:
            match = _IMPLICIT_ROW_INDEX.fullmatch(str(symbol))
            if match is None:
                return None
            name, row = match.group("name"), match.group("row")
            if not {name, f"{name}@{row}"} & implicit:
                return None
            rows.add((name, row))
            mapping[symbol] = sp.Symbol(name + (f"@{row}" if row else ""), real=True)
        shapes.add(base.xreplace(mapping))
    if len(shapes) != 1:
        return None
    whole = shapes.pop()
    if any(row is not None for _, row in rows):
        # the generic element is row i; every other row of the tensor gets the next letter
        others = sorted({row for _, row in rows if row is not None}, key=int)
        letters: dict[str | None, str] = {None: _INDEX_LETTERS[0]}
        letters.update({row: _INDEX_LETTERS[1 + k % (len(_INDEX_LETTERS) - 1)]
                        for k, row in enumerate(others)})
        whole = whole.xreplace({
            sp.Symbol(name + (f"@{row}" if row else ""), real=True):
                sp.Symbol(f"{name}[{letters[row]}]", real=True) for name, row in rows})
    return whole


_IMPLICIT_INDEX = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\[(\d+)\]")
#: a component of another row of a tensor (``x[0]@1``: component 0 of a second row of ``x``)
_IMPLICIT_ROW_INDEX = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\[(\d+)\](?:@(?P<row>\d+))?")
_INDEX_LETTERS = "ijklmn"


def user_indexing(text: str | None, implicit: set[str]) -> str | None:
    """Components diffcheck made up (``logits[0]``) written as ``logits[i]``, ``logits[j]``.

    >>> user_indexing("logits[0] - logits[1] = 0", {"logits"})
    'logits[i] - logits[j] = 0'
    """
    if not text or not implicit:
        return text
    letters: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        name, index = match.group(1), match.group(2)
        if name not in implicit:
            return match.group(0)
        if index not in letters:
            letters[index] = _INDEX_LETTERS[len(letters) % len(_INDEX_LETTERS)]
        return f"{name}[{letters[index]}]"

    return _IMPLICIT_INDEX.sub(replace, text)


# keep the public names importable from the package
_ = (Function,)
