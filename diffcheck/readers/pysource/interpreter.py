"""An abstract interpreter of loss functions: Python ``ast`` in, a program of tensor elements out.

Nothing of the source is executed. The interpreter walks the syntax tree of one function with
values that stand for what the code computes: hyperparameters are Python values (their defaults
or ``--set``), tensors are :class:`~diffcheck.readers.pysource.values.Tensor` s of
:class:`~diffcheck.program.Node` s, helper functions and methods of the same file are inlined,
``if`` on a hyperparameter picks its branch, ``if`` on a tensor becomes a ``where``, loops over
small known ranges are unrolled. Library calls are looked up by dotted name
(:mod:`diffcheck.readers.pysource.library`); an unknown call is an opaque function, assumed
differentiable and listed among the assumptions.

>>> import ast
>>> source = "def mae(pred, target):\\n    return (pred - target).abs().mean()\\n"
>>> module = ast.parse(source)
>>> run = Interpreter(module, source, {})
>>> translation = run.translate(run.function("mae"))
>>> translation.tensors, translation.program.op
(['pred', 'target'], 'abs')
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy as sp

from diffcheck.program import Node, Span
from diffcheck.readers.pysource import composites, library
from diffcheck.readers.pysource.layers import Layer
from diffcheck.readers.pysource.tensors import Builder, const
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

#: Statements and expressions evaluated per translation; a bound on pathological sources.
MAX_STEPS = 200_000
#: Deepest inlining of helper functions (recursion in the source ends here).
MAX_CALL_DEPTH = 32
#: Longest loop unrolled.
MAX_UNROLL = 64

#: Module aliases a loss file usually has; its own imports override them.
DEFAULT_ALIASES = {
    "torch": "torch", "F": "torch.nn.functional", "nn": "torch.nn", "np": "numpy",
    "numpy": "numpy", "jnp": "jax.numpy", "jax": "jax", "math": "math", "optax": "optax",
}

#: Calls whose value is ignored and whose only effect is logging or checking.
#: the module methods that walk submodules or parameters (``for m in self.modules()``)
_MODULE_WALKS = frozenset({"modules", "named_modules", "children", "named_children",
                           "parameters", "named_parameters"})
_IGNORED_STATEMENT_CALLS = ("warn", "info", "debug", "warning", "error", "print", "log",
                            "_log_api_usage_once", "assert_", "check", "register_buffer")


@dataclass
class Translation:
    """What one loss function computes, as a program over its tensors' elements."""

    program: Node
    #: tensor parameters in order (``self`` and hyperparameters left out)
    tensors: list[str]
    #: tensor parameters used only as class labels or indices: data, never differentiated
    labels: list[str]
    #: hyperparameters: name -> value used (defaults, constructor arguments, --set)
    hyperparameters: dict[str, Any]
    #: ``--set`` names this loss uses
    fixed: dict[str, Any]
    assumptions: list[str]
    builder: Builder
    #: where gradients are cut (``.detach()``, ``no_grad``, ``stop_gradient``): spans
    cuts: list[Span] = field(default_factory=list)
    #: learnable parameters the forward pass reads, by module path (``fc1.weight``)
    parameters: list[str] = field(default_factory=list)
    #: for a model: module path -> layer (None for an ``nn.Parameter``)
    layers: dict[str, Any] = field(default_factory=dict)
    #: spans of constructs in other files of the project -> their path
    span_files: dict[Span, str] = field(default_factory=dict)


@dataclass
class _Outcome:
    """How a block of statements ended."""

    kind: str  # "fall" | "return" | "break" | "continue" | "raise"
    value: Any = None


_FALL = _Outcome("fall")


class _Scope(dict):
    """Local names of one function call (a dict, so closures can share it)."""


class Interpreter:
    """Translates functions and classes of one parsed source file."""

    def __init__(self, module: ast.Module, text: str, values: dict[str, Any], path: str = ""):
        self.module = module
        self.text = text
        self.path = path
        self.values = dict(values)
        self.used_values: dict[str, Any] = {}
        self.lines = text.splitlines()
        self.evaluating_globals: set[tuple[int, str]] = set()
        #: attributes a model sets on a tensor (BinaryNet's ``self.weight.org = ...``), by the
        #: tensor's id; the tensor is kept with them so that its id is not reused
        self.tensor_attributes: dict[int, tuple[Tensor, dict[str, Any]]] = {}
        #: other files of the project read for their definitions (path -> module scope)
        self.modules: dict[str, dict[str, Any]] = {}
        #: the file whose code is being run, for spans: (text, lines, path)
        self.sources: list[_SourceFile] = [_SourceFile(text, self.lines, path)]
        self.globals: dict[str, Any] = self._module_scope(module, self.sources[0])
        #: where the user's code called into the composite layers of torch.nn (their source
        #: is the reader's own): spans inside them are reported there
        self.composite_entries: list[tuple[ast.AST, _SourceFile]] = []
        #: a model's forward is being read: its output components are weighed apart
        self.weigh_outputs = False
        self._composites: dict[str, Any] = {}
        self.builder = Builder(set())
        self.assumptions: dict[str, str] = {}
        self.label_names: set[str] = set()
        #: tensor parameters used as masks (a condition, or compared for equality): data
        self.mask_names: set[str] = set()
        self.tensor_names: list[str] = []
        self.steps = 0
        self.depth = 0
        self.no_grad = 0
        #: the ``with torch.no_grad():`` statements being run (a cut points at them)
        self.no_grad_sites: list[ast.AST] = []
        self.cuts: list[Span] = []
        #: parameters frozen while the model is built (``p.requires_grad = False``): the module
        #: object (a layer, submodule or container), the parameter's attribute name or None for
        #: all of them, and the statement
        self.frozen: list[tuple[Any, str | None, ast.AST]] = []
        #: the same by parameter path once the model's paths are known (see ``freeze``)
        self.frozen_paths: list[tuple[str, ast.AST]] = []
        #: what the translated function returned (a model's output, for a composition)
        self.output: Any = None
        #: the call being made of a library object (``self.act(h)``), for its findings' spans
        self.call_site: ast.AST | None = None
        self.frames: list[tuple[Function, dict[str, Any]]] = []
        #: the attribute an assignment is setting (``self.centers = nn.Parameter(...)``)
        self.attribute_target: str | None = None
        #: tensors of the loss object itself (``nn.Parameter`` attributes)
        self.extra_tensors: list[str] = []
        #: id of a decorated function of the file -> the function its decorators return
        self.decorations: dict[int, Any] = {}
        #: the function being translated and its scope (it runs outside ``frames``)
        self.translating: list[tuple[Function, _Scope]] = []
        #: arguments of the translated function that default to None (optional tensors)
        self.none_parameters: set[str] = set()
        #: learnable parameters read by the forward pass, by module path (``fc1.weight``)
        self.parameter_names: dict[str, None] = {}
        #: spans of constructs in other files of the project (helpers imported from them)
        self.span_files: dict[Span, str] = {}
        self.library = library.Library(self)

    # --- the module ---------------------------------------------------------------------------

    def _module_scope(self, module: ast.Module, source: _SourceFile) -> dict[str, Any]:
        """The names a module defines: functions, classes, imports, and its module-level
        assignments, kept as expressions (under ``__lazy__``) until a name is read."""
        scope: dict[str, Any] = {"__lazy__": {}, "__source__": source}
        self._collect_module(module.body, scope)
        return scope

    def _collect_module(self, body: list[ast.stmt], scope: dict[str, Any]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt, scope)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope.setdefault(stmt.name, self._function(stmt, scope))
            elif isinstance(stmt, ast.ClassDef):
                scope.setdefault(stmt.name, self._class(stmt, scope))
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(
                    stmt.targets[0], ast.Name):
                scope["__lazy__"].setdefault(stmt.targets[0].id, stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                scope["__lazy__"].setdefault(stmt.target.id, stmt.value)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
                    stmt.value.func, ast.Attribute) and isinstance(stmt.value.func.value, ast.Name):
                # parser.add_argument(...): a call that configures a module-level object, run
                # when that object is first read (only for a command line: see module_value)
                calls = scope.setdefault("__calls__", {})
                calls.setdefault(stmt.value.func.value.id, []).append(stmt.value)
            elif isinstance(stmt, ast.If):
                # Module-level "if TYPE_CHECKING:" / version switches: take every definition,
                # the first one of a name wins.
                self._collect_module(stmt.body + stmt.orelse, scope)
            elif isinstance(stmt, ast.Try):
                self._collect_module(stmt.body, scope)
                for handler in stmt.handlers:
                    self._collect_module(handler.body, scope)

    def _import(self, stmt: ast.Import | ast.ImportFrom, scope: dict[str, Any]) -> None:
        """Bind imported names: definitions of the project's own files (read with ``ast``,
        never imported), library modules (``torch``, ``F``) as dotted names."""
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    scope.setdefault(alias.asname, ModuleRef(alias.name))
                else:
                    head = alias.name.split(".")[0]
                    scope.setdefault(head, ModuleRef(head))
            return
        module = ("." * stmt.level) + (stmt.module or "")
        origin = scope.get("__source__")
        importer = origin.path if origin else self.path
        found = self._project_module(module, importer, stmt.level)
        for alias in stmt.names:
            if alias.name == "*":
                continue
            bound: Any = ModuleRef(f"{module}.{alias.name}")
            if found is not None:
                bound = _Imported(found, alias.name, bound)
            else:
                # from . import utils, from ..utils import common_functions: a module of its own
                submodule = self._project_module(f"{module}.{alias.name}" if stmt.module
                                                 else "." * stmt.level + alias.name,
                                                 importer, stmt.level)
                if submodule is not None:
                    bound = _Namespace(submodule)
            scope.setdefault(alias.asname or alias.name, bound)

    def _project_module(self, module: str, importer: str, level: int) -> dict[str, Any] | None:
        """The scope of a module of the same project, when it is a file next to this one."""
        if not importer or len(self.modules) >= MAX_MODULES:
            return None
        base = Path(importer).resolve().parent
        dotted = module.lstrip(".")
        if level:
            for _ in range(level - 1):
                base = base.parent
            roots = [base]
        else:
            # ``from mypkg.losses.utils import x``: the package is above this file
            roots = list(Path(importer).resolve().parents)[:MAX_PACKAGE_DEPTH]
        relative = Path(*dotted.split(".")) if dotted else Path()
        for root in roots:
            for candidate in (root / relative.with_suffix(".py") if dotted else None,
                              root / relative / "__init__.py"):
                if candidate is not None and candidate.is_file():
                    return self._load_module(candidate)
        return None

    def _load_module(self, path: Path) -> dict[str, Any] | None:
        key = str(path)
        if key in self.modules:
            return self.modules[key]
        try:
            if path.stat().st_size > MAX_MODULE_BYTES:
                return None
            text = path.read_text(encoding="utf-8", errors="replace")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text, filename=key)
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        self.modules[key] = {}  # a cycle of imports ends here
        scope = self._module_scope(tree, _SourceFile(text, text.splitlines(), key))
        self.modules[key] = scope
        return scope

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: dict[str, Any],
                  owner: ClassDef | None = None) -> Function:
        decorators = tuple(_dotted(d.func if isinstance(d, ast.Call) else d) or "?"
                           for d in node.decorator_list)
        return Function(node, scope, decorators, owner)

    def _class(self, node: ast.ClassDef, scope: dict[str, Any] | None = None) -> ClassDef:
        scope = self.globals if scope is None else scope
        cls = ClassDef(node, ())
        cls.scope = scope
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                cls.methods[stmt.name] = self._function(stmt, scope, cls)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        cls.attributes[target.id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                cls.attributes[stmt.target.id] = stmt.value
        return cls

    def composite_class(self, name: str) -> ClassDef:
        """A composite layer of torch.nn (``TransformerEncoderLayer``) as a class of the
        reader's own source (see :mod:`composites`)."""
        cls = self.restated(composites.PATH)[name]
        assert isinstance(cls, ClassDef)
        return cls

    def restated_function(self, name: str) -> Function:
        """A box function of torchvision.ops (``generalized_box_iou``) as a function of the
        reader's own source (see :mod:`composites`)."""
        function = self.restated(composites.TORCHVISION_PATH)[name]
        assert isinstance(function, Function)
        return function

    def restated(self, path: str) -> Any:
        """The module scope of one restated library of :mod:`composites`, read once."""
        if path not in self._composites:
            text = composites.SOURCES[path]
            source = _SourceFile(text, text.splitlines(), path)
            self._composites[path] = self._module_scope(ast.parse(text), source)
        return self._composites[path]

    def resolve_bases(self, cls: ClassDef) -> None:
        if cls.bases or not cls.node.bases:
            return
        bases = []
        for base in cls.node.bases:
            try:
                value = self.evaluate(base, _Scope({"__enclosing__": cls.scope or self.globals}))
            except SourceError:
                value = Opaque(_dotted(base) or "?")
            if isinstance(value, ClassDef):
                self.resolve_bases(value)
            bases.append(value)
        cls.bases = tuple(bases)

    def function(self, name: str) -> Function:
        value = self.globals.get(name)
        if not isinstance(value, Function):
            raise SourceError(f"no function named {name!r}")
        return value

    # --- entry points -------------------------------------------------------------------------

    def translate(self, function: Function, instance: Instance | None = None,
                  constructor: dict[str, Any] | None = None, bound: Any = None) -> Translation:
        """The program of ``function`` called with symbolic tensors for its tensor parameters.

        ``bound`` is the value of the first tensor parameter instead (a model's output fed to
        a loss: ``loss(model(x), y)``).
        """
        node = function.node
        if isinstance(node, ast.Lambda):
            raise SourceError("a lambda is not a loss definition")
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults: dict[str, ast.expr] = {}
        for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
            defaults[arg.arg] = default
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
            if kw_default is not None:
                defaults[arg.arg] = kw_default
        scope = _Scope()
        self.translating = [(function, scope)]
        self.none_parameters = {name for name, default in defaults.items()
                                if isinstance(default, ast.Constant) and default.value is None
                                and name not in self.values}
        hyperparameters: dict[str, Any] = dict(constructor or {})
        tensors: list[str] = []
        taken = False  # whether ``bound`` has been given to a parameter
        for index, arg in enumerate([*positional, *args.kwonlyargs]):
            name = arg.arg
            if index == 0 and instance is not None:
                scope[name] = instance
                continue
            if name in self.values:
                scope[name] = self.use_value(name)
                hyperparameters[name] = self.values[name]
            elif name in defaults and _is_literal(defaults[name]):
                scope[name] = self.evaluate(defaults[name], _Scope())
                hyperparameters[name] = _plain(scope[name])
            elif name in defaults:
                scope[name] = self.evaluate(defaults[name],
                                            _Scope({"__enclosing__": function.scope}))
            elif bound is not None and not taken:
                scope[name] = bound
                taken = True
            else:
                tensors.append(name)
                scope[name] = self.builder.parameter(name, self.span(arg))
        if args.vararg:
            scope[args.vararg.arg] = ()
        if args.kwarg:
            scope[args.kwarg.arg] = {}
        self.tensor_names = tensors
        self.builder.feature_parameters |= set(tensors) | set(self.extra_tensors)
        outcome = self.run_body(node.body, scope)
        if outcome.kind == "raise":
            raise SourceError(f"the function raises for these arguments: {outcome.value}", node)
        if outcome.kind != "return" or outcome.value is None:
            raise SourceError("the function returns no value", node)
        self.output = outcome.value
        program = self.loss_value(outcome.value, node)
        labels = sorted((self.label_names | self.mask_names) & set(tensors))
        tensors = tensors + [t for t in self.extra_tensors if t not in tensors]
        return Translation(
            program=program,
            tensors=tensors,
            labels=labels,
            hyperparameters=hyperparameters,
            fixed=dict(self.used_values),
            assumptions=list(self.assumptions.values()),
            builder=self.builder,
            cuts=list(self.cuts),
            parameters=list(self.parameter_names),
            span_files=self.span_files,
        )

    def loss_value(self, value: Any, where: ast.AST) -> Node:
        """The scalar program of what the function returns (a loss, or the first of a tuple)."""
        if isinstance(value, (tuple, list)) and value:
            return self.loss_value(value[0], where)
        if isinstance(value, dict):
            for key in ("loss", "total_loss", "loss_total"):
                if key in value:
                    return self.loss_value(value[key], where)
            raise SourceError("the function returns a dict without a 'loss' entry", where)
        if isinstance(value, PairGrid):
            # an unreduced matrix of pairs: the sum of its cells, as for components below
            value = self.library.reduction("sum", [value], {}, where)
        # an unreduced selection x[mask] is summed, as unreduced components are below
        tensor = self.library.unselect(self.as_tensor(value, where), where)
        if tensor.featured:
            span = self.span(where)
            if self.weigh_outputs:
                # A model's outputs reach a loss each with its own weight (the cotangent of
                # backpropagation): their plain sum can cancel what each of them does, as a
                # softmax's outputs sum to 1. Distinct weights cancel nothing generically.
                terms = [part if k == 0 else Node("mul", (const(k + 1, span), part), span=span)
                         for k, part in enumerate(tensor.parts)]
                return self.builder.meet([Node("add", tuple(terms), span=span)])[0]
            # Unreduced components of a loss: their sum (a reduction never changes the verdict).
            return self.builder.meet([Node("add", tensor.parts, span=span)])[0]
        return self.builder.meet([tensor.parts[0]])[0]

    def use_value(self, name: str) -> Any:
        value = self.values[name]
        self.used_values[name] = value
        return _from_literal(value)

    # --- statements ---------------------------------------------------------------------------

    def tick(self, node: ast.AST) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SourceError(f"translation takes more than {MAX_STEPS} steps", node, "limit")

    def run_body(self, body: list[ast.stmt], scope: _Scope) -> _Outcome:
        return self.run_block(list(body), scope)

    def run_block(self, stmts: list[ast.stmt], scope: _Scope) -> _Outcome:
        for index, stmt in enumerate(stmts):
            self.tick(stmt)
            if isinstance(stmt, ast.If):
                outcome = self.run_if(stmt, stmts[index + 1:], scope)
                if outcome is not None:
                    return outcome
                continue
            outcome = self.run_statement(stmt, scope)
            if outcome.kind != "fall":
                return outcome
        return _FALL

    def run_if(self, stmt: ast.If, rest: list[ast.stmt], scope: _Scope) -> _Outcome | None:
        """Run an ``if``; an outcome when the block ends in it (the rest was run too)."""
        test = self.evaluate(stmt.test, scope)
        truth = self.static_truth(test)
        if truth is not None:
            outcome = self.run_block(stmt.body if truth else stmt.orelse, scope)
            return None if outcome.kind == "fall" else outcome
        branches = []
        for body in (stmt.body, stmt.orelse):
            branch_scope = _Scope(scope)
            branches.append((branch_scope, self.run_block(body, branch_scope)))
        (true_scope, true_outcome), (false_scope, false_outcome) = branches
        condition = test if isinstance(test, Tensor) else None
        if true_outcome.kind == "fall" and false_outcome.kind == "fall":
            scope.update(self.merge_scopes(condition, true_scope, false_scope, stmt))
            return None
        if true_outcome.kind == "fall":
            true_outcome = self.run_block(rest, true_scope)
        if false_outcome.kind == "fall":
            false_outcome = self.run_block(rest, false_scope)
        return self.merge_outcomes(condition, true_outcome, false_outcome, stmt)

    def merge_scopes(self, condition: Tensor | None, when_true: dict, when_false: dict,
                     stmt: ast.If) -> dict:
        merged = {}
        for name in when_true.keys() | when_false.keys():
            a, b = when_true.get(name, _MISSING), when_false.get(name, _MISSING)
            if a is b:
                merged[name] = a
            elif a is _MISSING or b is _MISSING:
                merged[name] = b if a is _MISSING else a
            else:
                merged[name] = self.choose(condition, a, b, stmt, name)
        return merged

    def merge_outcomes(self, condition: Tensor | None, a: _Outcome, b: _Outcome,
                       stmt: ast.If) -> _Outcome:
        if a.kind == "raise":
            return b
        if b.kind == "raise":
            return a
        if a.kind == b.kind == "return":
            return _Outcome("return", self.choose(condition, a.value, b.value, stmt, "the result"))
        if a.kind == b.kind:
            return a
        # One path returns, the other runs off the end of the function (returning None): a
        # loss that returns nothing is not a loss, so the returning path is the loss.
        kinds = {a.kind, b.kind}
        if kinds == {"return", "fall"}:
            return a if a.kind == "return" else b
        raise SourceError("a loop ends in only one branch of a tensor condition", stmt)

    def choose(self, condition: Tensor | None, a: Any, b: Any, stmt: ast.If, what: str) -> Any:
        """``a`` where ``condition`` holds, else ``b``; equal values need no condition."""
        if _same_value(a, b):
            return a
        if condition is None:
            return self.undecided(a, b, stmt, what)
        if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
            return type(a)(self.choose(condition, x, y, stmt, what) for x, y in zip(a, b))
        ta, tb = self.as_tensor(a, stmt), self.as_tensor(b, stmt)
        return self.library.where(condition, ta, tb, stmt)

    def undecided(self, a: Any, b: Any, stmt: ast.If, what: str) -> Any:
        """Two values behind a condition on shapes or flags the reader cannot know.

        Real code branches on ranks and shapes to reshape or reduce in different ways; for
        differentiability those are one function. The reduced tensor (or the first branch) is
        taken, and the report says so among its assumptions.
        """
        chosen = a
        if (isinstance(a, Tensor) and isinstance(b, Tensor) and a.featured and not b.featured) or (not isinstance(a, (Tensor, tuple, list)) and isinstance(b, (Tensor, tuple, list))):
            chosen = b
        span = self.span(stmt.test)
        line = f"line {span.line}: " if span else ""
        self.assumptions[f"undecided:{span}"] = (
            f"{line}the condition `{self.snippet(stmt.test)}` depends on shapes or values the "
            f"source does not give; {what} is taken from the "
            f"{'first' if chosen is a else 'second'} branch")
        return chosen

    def static_truth(self, test: Any) -> bool | None:
        """The truth of a Python-level condition, ``None`` for a tensor or unknown condition."""
        if isinstance(test, Tensor):
            return None
        if isinstance(test, _Unknown):
            return None
        if isinstance(test, (Instance, Function, ClassDef, LibraryObject, ModuleRef, Opaque,
                             _Namespace)):
            return True
        if isinstance(test, Size):
            return True
        if isinstance(test, sp.Basic):
            if test in (sp.true, sp.false):
                return bool(test)
            if test.is_number:
                return bool(test != 0)
            return None
        try:
            return bool(test)
        except Exception:
            return None

    def run_statement(self, stmt: ast.stmt, scope: _Scope) -> _Outcome:
        kind = type(stmt).__name__
        handler = getattr(self, f"stmt_{_SAME_STATEMENTS.get(kind, kind)}", None)
        if handler is None:
            raise SourceError(f"{_STATEMENT_WORDS.get(kind, kind)} is not supported here", stmt)
        return handler(stmt, scope)

    def stmt_Expr(self, stmt: ast.Expr, scope: _Scope) -> _Outcome:
        value = stmt.value
        if isinstance(value, ast.Constant):
            return _FALL  # docstring
        if isinstance(value, ast.Call):
            func = value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if isinstance(func, ast.Attribute) and name == "requires_grad_" and isinstance(
                    self.try_evaluate(func.value, scope), (Layer, Instance, Container)):
                flag = self.evaluate(value.args[0], scope) if value.args else True
                self.set_requires_grad(func.value, flag, scope, stmt, every=True)
                return _FALL
            if isinstance(func, ast.Attribute) and name.endswith("_") and not name.startswith("_"):
                owner = self.try_evaluate(func.value, scope)
                if isinstance(owner, ModuleRef):
                    # a library function: nn.init.xavier_uniform_(self.weight) only picks the
                    # parameter's starting values; torch.relu_(x) changes its first argument
                    if not owner.dotted.endswith("nn.init") and value.args:
                        self.assign(value.args[0], self.evaluate(value, scope), scope)
                    return _FALL
                # In-place tensor method: x.clamp_(min=0) changes x.
                result = self.evaluate(value, scope)
                self.assign(func.value, result, scope)
                return _FALL
            if name in ("register_buffer", "register_parameter") and isinstance(func, ast.Attribute):
                self.register(func, value, scope)
                return _FALL
            if name in _IGNORED_STATEMENT_CALLS or name.startswith("_log"):
                return _FALL
            if name == "apply" and isinstance(func, ast.Attribute) and self.in_constructor() \
                    and isinstance(self.try_evaluate(func.value, scope), Instance):
                return _FALL  # self.apply(self._init_weights): starting values, as above
            callee = self.try_evaluate(func, scope)
            if isinstance(callee, (_ListMethod, _DictMethod)) or (
                    isinstance(callee, LibraryObject) and callee.dotted == "super().__init__"):
                self.evaluate(value, scope)  # append grows a list; super() sets attributes
            elif isinstance(callee, (ModuleRef, TensorMethod)) and any(
                    k.arg == "out" for k in value.keywords):
                self.evaluate(value, scope)  # np.clip(x, 0, None, out=x) changes x
            elif isinstance(callee, (Function, BoundMethod)):
                # A helper called for its effect: it may set attributes (self._build()), or
                # only check its inputs (KORNIA_CHECK_SHAPE(x, ...)), which the analysis
                # assumes valid: a check the reader cannot follow is skipped.
                try:
                    self.evaluate(value, scope)
                except SourceError as err:
                    if err.kind == "limit":
                        raise
            return _FALL
        return _FALL

    def register(self, func: ast.Attribute, call: ast.Call, scope: _Scope) -> None:
        """``self.register_buffer("weight", w)``: an attribute set by name."""
        owner = self.try_evaluate(func.value, scope)
        if not isinstance(owner, Instance) or len(call.args) < 2:
            return
        name = self.evaluate(call.args[0], scope)
        if not isinstance(name, str):
            return
        self.attribute_target = name
        try:
            value = self.evaluate(call.args[1], scope)
        finally:
            self.attribute_target = None
        owner.attributes[name] = value

    def stmt_Pass(self, stmt: ast.Pass, scope: _Scope) -> _Outcome:
        return _FALL

    def stmt_Assert(self, stmt: ast.Assert, scope: _Scope) -> _Outcome:
        # input checks: the loss is analysed where they hold. ``assert weight is not None`` on
        # an argument of the loss that defaults to None says the caller passes a tensor there.
        test = stmt.test
        if (not self.frames and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
                and len(test.ops) == 1 and isinstance(test.ops[0], ast.IsNot)
                and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value is None):
            name = test.left.id
            if name in self.none_parameters and scope.get(name, False) is None:
                scope[name] = self.builder.parameter(name, self.span(test.left))
                self.builder.feature_parameters.add(name)
                self.extra_tensors.append(name)
        return _FALL

    def stmt_Raise(self, stmt: ast.Raise, scope: _Scope) -> _Outcome:
        message = self.snippet(stmt.exc) if stmt.exc is not None else "raise"
        return _Outcome("raise", message)

    def stmt_Return(self, stmt: ast.Return, scope: _Scope) -> _Outcome:
        return _Outcome("return", None if stmt.value is None else self.evaluate(stmt.value, scope))

    def stmt_Break(self, stmt: ast.Break, scope: _Scope) -> _Outcome:
        return _Outcome("break")

    def stmt_Continue(self, stmt: ast.Continue, scope: _Scope) -> _Outcome:
        return _Outcome("continue")

    def stmt_Import(self, stmt: ast.Import, scope: _Scope) -> _Outcome:
        self._import(stmt, scope)
        return _FALL

    def stmt_Global(self, stmt: ast.Global, scope: _Scope) -> _Outcome:
        return _FALL

    def stmt_FunctionDef(self, stmt: ast.FunctionDef, scope: _Scope) -> _Outcome:
        scope[stmt.name] = self._function(stmt, scope)
        return _FALL

    def stmt_ClassDef(self, stmt: ast.ClassDef, scope: _Scope) -> _Outcome:
        scope[stmt.name] = self._class(stmt, scope)
        return _FALL

    def stmt_Delete(self, stmt: ast.Delete, scope: _Scope) -> _Outcome:
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                scope.pop(target.id, None)
        return _FALL

    def stmt_Assign(self, stmt: ast.Assign, scope: _Scope) -> _Outcome:
        target = stmt.targets[0]
        if isinstance(target, ast.Attribute) and target.attr == "requires_grad":
            self.set_requires_grad(target.value, self.evaluate(stmt.value, scope), scope, stmt)
            return _FALL
        self.attribute_target = target.attr if isinstance(target, ast.Attribute) else None
        try:
            value = self.evaluate(stmt.value, scope)
        finally:
            self.attribute_target = None
        for target in stmt.targets:
            self.assign(target, value, scope)
        return _FALL

    def stmt_AnnAssign(self, stmt: ast.AnnAssign, scope: _Scope) -> _Outcome:
        if stmt.value is not None:
            self.assign(stmt.target, self.evaluate(stmt.value, scope), scope)
        return _FALL

    def stmt_AugAssign(self, stmt: ast.AugAssign, scope: _Scope) -> _Outcome:
        current = self.evaluate(_load(stmt.target), scope)
        value = self.evaluate(stmt.value, scope)
        self.assign(stmt.target, self.binary(stmt.op, current, value, stmt), scope)
        return _FALL

    def stmt_With(self, stmt: ast.With, scope: _Scope) -> _Outcome:
        cutting = 0
        for item in stmt.items:
            name = _dotted(item.context_expr.func if isinstance(item.context_expr, ast.Call)
                           else item.context_expr) or ""
            if name.split(".")[-1] in ("no_grad", "inference_mode"):
                cutting += 1
                span = self.span(item.context_expr)
                if span is not None:
                    self.cuts.append(span)
                self.no_grad_sites.append(item.context_expr)
            elif item.optional_vars is not None:
                self.assign(item.optional_vars, Opaque(name), scope)
        self.no_grad += cutting
        try:
            return self.run_block(stmt.body, scope)
        finally:
            self.no_grad -= cutting
            del self.no_grad_sites[len(self.no_grad_sites) - cutting:]

    def stmt_Try(self, stmt: ast.Try, scope: _Scope) -> _Outcome:
        outcome = self.run_block(stmt.body, scope)
        if outcome.kind == "fall" and stmt.orelse:
            outcome = self.run_block(stmt.orelse, scope)
        if stmt.finalbody:
            final = self.run_block(stmt.finalbody, scope)
            if final.kind != "fall":
                return final
        return outcome

    def stmt_For(self, stmt: ast.For, scope: _Scope) -> _Outcome:
        if stmt.orelse:
            raise SourceError("for ... else is not supported", stmt)
        if self.initializes_weights(stmt, scope):
            return _FALL
        items = self.iterate(self.evaluate(stmt.iter, scope), stmt.iter)
        for item in items:
            self.assign(stmt.target, item, scope)
            outcome = self.run_block(stmt.body, scope)
            if outcome.kind == "break":
                break
            if outcome.kind in ("return", "raise"):
                return outcome
        return _FALL

    def in_constructor(self) -> bool:
        """Whether the model is being built (``__init__`` or a helper it calls)."""
        return any(function.name == "__init__" for function, _ in self.frames)

    def initializes_weights(self, stmt: ast.For, scope: _Scope) -> bool:
        """``for m in self.modules(): nn.init.kaiming_normal_(m.weight)`` in ``__init__``
        (torchvision's ResNet, VGG, MobileNet): it sets the parameters' starting values, not
        what the model computes, so it is skipped. A loop that freezes parameters
        (``p.requires_grad = False``) decides what is trained: it is refused at its line."""
        call = stmt.iter
        if not (self.in_constructor() and isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute) and call.func.attr in _MODULE_WALKS):
            return False
        freezes = [node for node in ast.walk(stmt)
                   if isinstance(node, ast.Attribute) and node.attr in ("requires_grad",
                                                                        "requires_grad_")]
        if not freezes:
            return True
        if call.func.attr not in ("parameters", "named_parameters") or len(stmt.body) != 1 \
                or not self.freezes_loop_variable(stmt, scope):
            raise SourceError("unsupported: parameters frozen in a loop over "
                              f"{call.func.attr}() other than all of them (requires_grad)",
                              freezes[0])
        return True

    def freezes_loop_variable(self, stmt: ast.For, scope: _Scope) -> bool:
        """``for p in self.backbone.parameters(): p.requires_grad = False`` (or
        ``p.requires_grad_(False)``): every parameter of the module, frozen; recorded."""
        target = stmt.target
        if isinstance(target, ast.Tuple) and len(target.elts) == 2:
            target = target.elts[1]  # for name, p in named_parameters()
        if not isinstance(target, ast.Name):
            return False
        (body,) = stmt.body
        if isinstance(body, ast.Assign) and len(body.targets) == 1:
            attribute, value = body.targets[0], self.evaluate(body.value, scope)
        elif isinstance(body, ast.Expr) and isinstance(body.value, ast.Call):
            attribute = body.value.func
            value = self.evaluate(body.value.args[0], scope) if body.value.args else True
        else:
            return False
        if not (isinstance(attribute, ast.Attribute) and isinstance(attribute.value, ast.Name)
                and attribute.value.id == target.id):
            return False
        assert isinstance(stmt.iter, ast.Call) and isinstance(stmt.iter.func, ast.Attribute)
        self.set_requires_grad(stmt.iter.func.value, value, scope, body, every=True)
        return True

    def set_requires_grad(self, owner_node: ast.expr, value: Any, scope: _Scope,
                          stmt: ast.AST, every: bool = False) -> None:
        """``module.requires_grad_(False)``, ``layer.weight.requires_grad = False``: those
        parameters are not trained; no gradient reaches them (a cut, like ``.detach()``)."""
        if value is True or value == sp.true or value == 1:
            return  # parameters are trained by default
        if not (value is False or value == sp.false or value == 0):
            raise SourceError("requires_grad set to a value the reader cannot know", stmt)
        if every:
            owner = self.evaluate(owner_node, scope)
            if not isinstance(owner, (Layer, Instance, Container)):
                raise SourceError("unsupported: requires_grad_ of something that is no module "
                                  "of the model", stmt)
            self.frozen.append((owner, None, stmt))
            return
        if not isinstance(owner_node, ast.Attribute):
            return  # x.requires_grad = False of a tensor of the loss: it is data already
        # layer.weight.requires_grad = False: the owner is the layer (read before its path is
        # known, its parameter must not be)
        owner = self.try_evaluate(owner_node.value, scope)
        attribute = owner_node.attr
        if isinstance(owner, Layer) and attribute in owner.parameters:
            self.frozen.append((owner, attribute, stmt))
        elif isinstance(owner, Instance) and isinstance(owner.attributes.get(attribute), Tensor):
            self.frozen.append((owner, attribute, stmt))  # an nn.Parameter of a submodule
        # module.requires_grad = False sets a plain attribute: PyTorch freezes nothing

    def frozen_cut(self, name: str) -> ast.AST | None:
        """The statement that froze the parameter ``name`` (a module path), if any."""
        for prefix, stmt in self.frozen_paths:
            if not prefix or name == prefix or name.startswith(prefix + "."):
                return stmt
        return None

    def stmt_While(self, stmt: ast.While, scope: _Scope) -> _Outcome:
        raise SourceError("while loops are not supported (the number of steps is unknown)", stmt)

    # --- assignment ---------------------------------------------------------------------------

    def assign(self, target: ast.expr, value: Any, scope: _Scope) -> None:
        if self.no_grad and isinstance(value, Tensor):
            site = self.no_grad_sites[-1] if self.no_grad_sites else target
            value = self.library.detach(value, site, "torch.no_grad()")
        if isinstance(target, ast.Name):
            scope[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.unpack(target, value, scope)
        elif isinstance(target, ast.Attribute):
            owner = self.evaluate(target.value, scope)
            if isinstance(owner, Instance):
                owner.attributes[target.attr] = value
            elif isinstance(owner, Tensor) and target.attr == "data":
                # t.data = v: t takes v's value while the gradient still reaches t unchanged
                # (BinaryNet's self.weight.data = sign(self.weight.org)): straight through
                offset = self.library.detach(self.binary(ast.Sub(), value, owner, target), target,
                                             why=".data =")
                self.assign(target.value, self.binary(ast.Add(), owner, offset, target), scope)
            elif isinstance(owner, Tensor):
                self.tensor_attributes.setdefault(id(owner), (owner, {}))[1][target.attr] = value
            elif isinstance(owner, LibraryObject):
                # a library module's attributes are its constructor's keywords: yolov5 sets
                # self.loss_fcn.reduction = "none" on a BCEWithLogitsLoss built elsewhere
                owner.keywords[target.attr] = value
            else:
                raise SourceError(f"cannot set the attribute {self.snippet(target)}", target)
        elif isinstance(target, ast.Subscript):
            self.assign_item(target, value, scope)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, list(self.iterate(value, target)), scope)
        else:
            raise SourceError(f"cannot assign to {self.snippet(target)}", target)

    def unpack(self, target: ast.Tuple | ast.List, value: Any, scope: _Scope) -> None:
        names = target.elts
        starred = [i for i, e in enumerate(names) if isinstance(e, ast.Starred)]
        items = self.iterate(value, target, count=None if starred else len(names))
        if starred:
            (s,) = starred
            after = len(names) - s - 1
            if len(items) < len(names) - 1:
                raise SourceError(f"cannot unpack {len(items)} values into {len(names)} names", target)
            groups = [*items[:s], list(items[s:len(items) - after]), *items[len(items) - after:]]
            for element, item in zip(names, groups):
                self.assign(element, item, scope)
            return
        if len(items) != len(names):
            raise SourceError(f"cannot unpack {len(items)} values into {len(names)} names", target)
        for element, item in zip(names, items):
            self.assign(element, item, scope)

    def assign_item(self, target: ast.Subscript, value: Any, scope: _Scope) -> None:
        container = self.evaluate(target.value, scope)
        if isinstance(container, (dict, list)):
            key = self.evaluate(target.slice, scope)
            container[_hashable(key)] = value
            return
        tensor = self.as_tensor(container, target)
        updated = self.library.set_item(tensor, target.slice, value, scope, target)
        self.assign(target.value, updated, scope)

    def iterate(self, value: Any, where: ast.AST, count: int | None = None) -> list[Any]:
        """The items of an iterable the reader can enumerate (unrolled loops, unpacking)."""
        if isinstance(value, (tuple, list, range, dict)):
            items = list(value)
        elif isinstance(value, library.LazySequence):
            items = value.items(count, where)
        elif isinstance(value, library.ResultPair):
            items = [value.values, value.indices]
        elif isinstance(value, Container):
            items = list(value.items)
        elif isinstance(value, library.Shape):
            if count is None:
                raise SourceError("iterating over a shape of unknown rank", where)
            items = [Size("size") for _ in range(count)]
        elif isinstance(value, Arange):
            items = [sp.Integer(v) for v in (value.values or range(DEFAULT_COMPONENTS))]
        elif isinstance(value, Tensor) and value.selected is not None:
            raise SourceError("unsupported: iterating over a selection by a mask computed from "
                              f"the predictions: {self.snippet(where)}", where)
        elif isinstance(value, Tensor) and count is not None and _is_unknown_result(value):
            # ``a, b = unknown_function(x)``: each item is some unknown function of x
            items = [value] * count
        elif isinstance(value, Tensor):
            if count is None and not value.featured:
                raise SourceError("iterating over a tensor of unknown length", where)
            tensor = self.builder.featured(value, count)
            items = [Tensor((p,), False, value.dtype) for p in tensor.parts]
        elif isinstance(value, Instance) and "__iter__" not in value.cls.methods:
            children = library.own_container(value)
            items = self.iterate(children, where) if children is not None else []
        else:
            raise SourceError(f"cannot iterate over {_describe(value)}", where)
        if len(items) > MAX_UNROLL:
            raise SourceError(f"a loop of {len(items)} steps (at most {MAX_UNROLL} are unrolled)",
                              where, "limit")
        return items

    # --- expressions --------------------------------------------------------------------------

    def try_evaluate(self, node: ast.expr, scope: _Scope) -> Any:
        try:
            return self.evaluate(node, scope)
        except SourceError:
            return None

    def evaluate(self, node: ast.expr, scope: _Scope) -> Any:
        self.tick(node)
        handler = getattr(self, f"expr_{type(node).__name__}", None)
        if handler is None:
            raise SourceError(f"{_EXPRESSION_WORDS.get(type(node).__name__, type(node).__name__)} "
                              "is not supported here", node)
        try:
            return handler(node, scope)
        except SourceError as err:
            # an error of the tensor model (shapes it cannot align) knows no place: it is at
            # the innermost expression being read
            if err.node is None and err.span is None:
                err.node = node
            raise

    def expr_Constant(self, node: ast.Constant, scope: _Scope) -> Any:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
            return value
        if value is Ellipsis:
            return Ellipsis
        if isinstance(value, int):
            return sp.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                return sp.oo if value > 0 else -sp.oo
            return _exact_decimal(self.segment(node), value)
        raise SourceError(f"the constant {self.snippet(node)} is not supported", node)

    def expr_Name(self, node: ast.Name, scope: _Scope) -> Any:
        return self.lookup(node.id, node, scope)

    def lookup(self, name: str, node: ast.AST, scope: dict[str, Any]) -> Any:
        """A name in the current scope, its enclosing scopes up to its module, then builtins."""
        chain = [scope, *_enclosing(scope)]
        if not any(d is self.globals for d in chain) and not any("__lazy__" in d for d in chain):
            chain.append(self.globals)
        for frame in chain:
            if name in frame:
                value = frame[name]
                if isinstance(value, _Imported):
                    value = self.resolve_import(value, node)
                    frame[name] = value
                return value
            lazy = frame.get("__lazy__")
            if lazy and name in lazy:
                return self.module_value(frame, name, node)
        if name in _BUILTINS:
            return _Builtin(name)
        if name in DEFAULT_ALIASES:
            return ModuleRef(DEFAULT_ALIASES[name])
        raise SourceError(f"the name {name!r} is not defined in this file", node)

    def module_value(self, module: dict[str, Any], name: str, node: ast.AST) -> Any:
        """A module-level assignment, evaluated the first time it is read."""
        key = (id(module), name)
        if key in self.evaluating_globals:
            raise SourceError(f"the module-level name {name!r} refers to itself", node)
        self.evaluating_globals.add(key)
        try:
            value = self.evaluate(module["__lazy__"][name], _Scope({"__enclosing__": module}))
            module[name] = value
            if isinstance(value, library.CommandLine):
                for call in module.get("__calls__", {}).get(name, []):
                    self.evaluate(call, _Scope({"__enclosing__": module}))
        finally:
            self.evaluating_globals.discard(key)
        return value

    def resolve_import(self, imported: _Imported, node: ast.AST) -> Any:
        """A name imported from a file of the project: its definition there, if it has one."""
        module = imported.module
        if imported.name in module:
            value = module[imported.name]
            return self.resolve_import(value, node) if isinstance(value, _Imported) else value
        if imported.name in module.get("__lazy__", {}):
            return self.module_value(module, imported.name, node)
        source = module.get("__source__")
        if isinstance(source, _SourceFile) and source.path.endswith("__init__.py"):
            # from .utils import common_functions: a submodule of that package
            submodule = self._load_module(Path(source.path).parent / f"{imported.name}.py")
            if submodule is not None:
                return _Namespace(submodule)
        return imported.fallback

    def expr_Attribute(self, node: ast.Attribute, scope: _Scope) -> Any:
        owner = self.evaluate(node.value, scope)
        return self.attribute(owner, node.attr, node)

    def attribute(self, owner: Any, name: str, node: ast.AST) -> Any:
        if isinstance(owner, ModuleRef):
            return self.library.module_attribute(owner.dotted, name, node)
        if isinstance(owner, Instance):
            if name in owner.attributes:
                return owner.attributes[name]
            found = owner.cls.method(name)
            if found is not None:
                function, cls = found
                if "staticmethod" in function.decorators:
                    return function
                if "property" in function.decorators:
                    return self.call_function(function, [owner], {}, node)
                return BoundMethod(function, cls, owner)
            value = self.class_attribute(owner.cls, name)
            if value is not _MISSING:
                return value
            if name in ("training",):
                return True
            if name in _CONTEXT_METHODS and _is_autograd_function(owner.cls):
                return LibraryObject(f"ctx.{name}", (), {}, lambda *args, **keywords: None)
            raise SourceError(f"the attribute self.{name} is never set", node)
        if isinstance(owner, ClassDef):
            self.resolve_bases(owner)
            if name == "apply" and _is_autograd_function(owner):
                custom = owner

                def apply(*args: Any, **keywords: Any) -> Any:
                    return self.apply_custom_function(custom, list(args), keywords, node)

                return LibraryObject(f"{owner.name}.apply", (), {}, apply)
            found = owner.method(name)
            if found is not None:
                return found[0]
            value = self.class_attribute(owner, name)
            if value is not _MISSING:
                return value
            raise SourceError(f"the class {owner.name} has no attribute {name!r}", node)
        if isinstance(owner, TENSORLIKE):
            own = self.tensor_attributes.get(id(owner))
            if own is not None and own[0] is owner and name in own[1]:
                return own[1][name]
            return self.library.tensor_attribute(owner, name, node)
        if isinstance(owner, Layer):
            return self.library.layer_attribute(owner, name, node)
        if isinstance(owner, Container):
            if name in ("append", "extend") and isinstance(owner.items, list):
                return _ListMethod(owner.items, name)
            if name in ("items", "keys", "values") and isinstance(owner.items, dict):
                return _DictMethod(owner.items, name)
            raise SourceError(f"the attribute {name!r} of an nn.{owner.kind}", node)
        if isinstance(owner, library.ResultPair):
            return owner.attribute(name, node)
        if isinstance(owner, library._SortIndices):
            # perm.data, perm.long(), perm.to(device): the same permutation
            return owner if name == "data" else _Passthrough(owner)
        if isinstance(owner, (library.CommandLine, library.ParsedOptions)):
            return owner.attribute(name, node)
        if isinstance(owner, LibraryObject):
            if name in owner.keywords:
                return owner.keywords[name]
            return Opaque(f"{owner.dotted}.{name}")
        if isinstance(owner, Opaque):
            return Opaque(f"{owner.dotted}.{name}")
        if isinstance(owner, _SuperObject):
            return self.super_attribute(owner, name, node)
        if isinstance(owner, _Namespace):
            if name in owner.scope or name in owner.scope.get("__lazy__", {}):
                return self.lookup(name, node, owner.scope)
            origin = _source_of(owner.scope)
            return Opaque(f"{origin.path if origin else '?'}.{name}")
        if isinstance(owner, _Unknown):
            return _Unknown()
        if isinstance(owner, (sp.Basic, int, float)) and name in ("real", "item"):
            return owner
        if isinstance(owner, dict) and name in ("get", "items", "keys", "values", "pop"):
            return _DictMethod(owner, name)
        if isinstance(owner, list) and name in ("append", "extend"):
            return _ListMethod(owner, name)
        if isinstance(owner, str) and name in ("lower", "upper", "strip", "startswith", "endswith"):
            return _StrMethod(owner, name)
        raise SourceError(f"the attribute {name!r} of {_describe(owner)} is not supported", node)

    def super_attribute(self, sup: _SuperObject, name: str, node: ast.AST) -> Any:
        self.resolve_bases(sup.cls)
        for base in sup.cls.bases:
            if isinstance(base, ClassDef):
                found = base.method(name)
                if found is not None:
                    return BoundMethod(found[0], found[1], sup.instance)
        if name == "__init__":
            instance = sup.instance
            bases = sup.cls.library_bases()

            def library_init(*args: Any, **keywords: Any) -> None:
                if isinstance(instance, Instance):
                    self.library.library_init(instance, bases, list(args), keywords)

            return LibraryObject("super().__init__", (), {}, library_init)
        library_bases = [b.dotted for b in sup.cls.bases if isinstance(b, (ModuleRef, Opaque))]
        if library_bases and not _is_module_base(library_bases[0]):
            # a method of a library base class (lightly's MemoryBankModule.forward): unknown,
            # assumed differentiable like any function the reader cannot see into
            return Opaque(f"{library_bases[0]}.{name}")
        raise SourceError(f"super().{name} is not found in the bases of this file", node)

    def apply_custom_function(self, cls: ClassDef, args: list[Any], keywords: dict[str, Any],
                              node: ast.AST) -> Any:
        """``MyFunction.apply(x, ...)`` of a ``torch.autograd.Function`` of the file.

        The value is its ``forward``; the gradient is its ``backward``, which the reader does
        not run: an input whose returned gradient is computed from the incoming one gets a
        straight-through path (``x + (forward(x) - x).detach()``: BinaryConnect's sign, a
        rounding with a custom backward), an input it returns None for gets none.
        """
        forward = cls.method("forward")
        if forward is None:
            raise SourceError(f"the autograd Function {cls.name} has no forward", node)
        result = self.call_function(forward[0], [Instance(cls), *args], keywords, node)
        backward = cls.method("backward")
        passing = _gradient_passing(backward[0].node) if backward is not None else []
        if not isinstance(result, Tensor):
            return result
        through = next((arg for position, arg in enumerate(args)
                        if isinstance(arg, Tensor) and position < len(passing) and passing[position]),
                       None)
        why = f"{cls.name}.backward"
        if through is None:
            return self.library.detach(result, node, why=f"{why} (no gradient for the input)")
        offset = self.binary(ast.Sub(), result, through, node)
        return self.binary(ast.Add(), through, self.library.detach(offset, node, why=why), node)

    def class_attribute(self, cls: ClassDef, name: str) -> Any:
        if name in cls.attributes:
            return self.evaluate(cls.attributes[name],
                                 _Scope({"__enclosing__": cls.scope or self.globals}))
        self.resolve_bases(cls)
        for base in cls.bases:
            if isinstance(base, ClassDef):
                value = self.class_attribute(base, name)
                if value is not _MISSING:
                    return value
        return _MISSING

    def expr_Subscript(self, node: ast.Subscript, scope: _Scope) -> Any:
        container = self.evaluate(node.value, scope)
        if isinstance(container, TENSORLIKE):
            return self.library.get_item(container, node.slice, scope, node)
        key = self.evaluate(node.slice, scope)
        if isinstance(container, library.ResultPair):
            return container.item(key, node)
        if isinstance(container, library._SortIndices):
            keys = key if isinstance(key, tuple) else (key,)
            ranks = [k for k in keys if isinstance(k, (int, sp.Integer)) and not isinstance(k, bool)]
            if len(ranks) != 1:
                raise SourceError("indexing sort indices other than by one rank", node)
            return self.library.rank_index(container, int(ranks[0]), node)
        if isinstance(container, Instance) and library.own_container(container) is not None:
            container = library.own_container(container)
        if isinstance(container, Container):
            if isinstance(container.items, dict):
                return container.items[_hashable(key)]
            if isinstance(key, slice):
                return Container(container.kind, container.items[key])
            return container.items[_index(key, node)]
        if isinstance(container, library.LazySequence):
            return container.item(key, node)
        if isinstance(container, library.Shape):
            if container.count is not None and not isinstance(key, slice) and _index(key, node) == 0:
                return container.count
            if container.last is not None and not isinstance(key, slice) and _index(key, node) == -1:
                return sp.Integer(container.last)
            return library.Shape() if isinstance(key, slice) else Size("size")
        if isinstance(container, (Opaque, ModuleRef)):
            return container  # a type annotation such as Optional[Tensor]
        if isinstance(container, (tuple, list, str)):
            if isinstance(key, slice):
                return container[key]
            return container[_index(key, node)]
        if isinstance(container, dict):
            hashable = _hashable(key)
            if hashable not in container:
                raise SourceError(f"the key {key!r} is not in the dict", node)
            return container[hashable]
        if isinstance(container, Instance):
            raise SourceError(f"indexing {container.cls.name} objects is not supported", node)
        raise SourceError(f"indexing {_describe(container)} is not supported", node)

    def expr_Slice(self, node: ast.Slice, scope: _Scope) -> slice:
        parts = [None if p is None else self.evaluate(p, scope) for p in (node.lower, node.upper, node.step)]
        return slice(*[None if p is None else _index_or_size(p, node) for p in parts])

    def expr_Tuple(self, node: ast.Tuple, scope: _Scope) -> tuple:
        return tuple(self.sequence_items(node.elts, scope))

    def expr_List(self, node: ast.List, scope: _Scope) -> list:
        return list(self.sequence_items(node.elts, scope))

    def sequence_items(self, elements: list[ast.expr], scope: _Scope) -> Iterable[Any]:
        for element in elements:
            if isinstance(element, ast.Starred):
                yield from self.iterate(self.evaluate(element.value, scope), element)
            else:
                yield self.evaluate(element, scope)

    def expr_ListComp(self, node: ast.ListComp, scope: _Scope) -> list:
        return self.comprehension(node.elt, node.generators, scope)

    def expr_GeneratorExp(self, node: ast.GeneratorExp, scope: _Scope) -> list:
        return self.comprehension(node.elt, node.generators, scope)

    def expr_SetComp(self, node: ast.SetComp, scope: _Scope) -> list:
        return self.comprehension(node.elt, node.generators, scope)

    def expr_DictComp(self, node: ast.DictComp, scope: _Scope) -> dict:
        pairs = self.comprehension(ast.Tuple([node.key, node.value], ast.Load()), node.generators,
                                   scope)
        return {_hashable(k): v for k, v in pairs}

    def comprehension(self, element: ast.expr, generators: list[ast.comprehension],
                      scope: _Scope) -> list:
        """A comprehension over iterables the reader can enumerate, unrolled."""
        results: list[Any] = []
        inner = _Scope(scope)

        def run(level: int) -> None:
            if level == len(generators):
                results.append(self.evaluate(element, inner))
                if len(results) > MAX_UNROLL:
                    raise SourceError(f"a comprehension of more than {MAX_UNROLL} items", element,
                                      "limit")
                return
            generator = generators[level]
            for item in self.iterate(self.evaluate(generator.iter, inner), generator.iter):
                self.assign(generator.target, item, inner)
                conditions = [self.evaluate(c, inner) for c in generator.ifs]
                truths = [self.static_truth(c) for c in conditions]
                if None in truths:
                    raise SourceError("a comprehension filtered by a tensor condition", generator)
                if all(truths):
                    run(level + 1)

        run(0)
        return results

    def expr_Set(self, node: ast.Set, scope: _Scope) -> tuple:
        return tuple(self.sequence_items(node.elts, scope))

    def expr_Dict(self, node: ast.Dict, scope: _Scope) -> dict:
        result = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                result.update(self.evaluate(value, scope))
            else:
                result[_hashable(self.evaluate(key, scope))] = self.evaluate(value, scope)
        return result

    def expr_JoinedStr(self, node: ast.JoinedStr, scope: _Scope) -> str:
        return self.segment(node)

    def expr_Lambda(self, node: ast.Lambda, scope: _Scope) -> Function:
        return Function(node, scope)

    def expr_NamedExpr(self, node: ast.NamedExpr, scope: _Scope) -> Any:
        value = self.evaluate(node.value, scope)
        self.assign(node.target, value, scope)
        return value

    def expr_IfExp(self, node: ast.IfExp, scope: _Scope) -> Any:
        test = self.evaluate(node.test, scope)
        truth = self.static_truth(test)
        if truth is not None:
            return self.evaluate(node.body if truth else node.orelse, scope)
        a, b = self.evaluate(node.body, scope), self.evaluate(node.orelse, scope)
        if _same_value(a, b):
            return a
        if not isinstance(test, Tensor):
            raise SourceError(f"a condition the reader cannot decide: {self.snippet(node.test)}",
                              node.test)
        return self.library.where(test, self.as_tensor(a, node), self.as_tensor(b, node), node)

    def expr_BoolOp(self, node: ast.BoolOp, scope: _Scope) -> Any:
        is_and = isinstance(node.op, ast.And)
        values = []
        for operand in node.values:
            value = self.evaluate(operand, scope)
            truth = self.static_truth(value)
            if truth is not None and not isinstance(value, Tensor):
                if is_and and not truth:
                    return value
                if not is_and and truth:
                    return value
                continue
            values.append(value)
        if not values:
            return value
        if len(values) == 1:
            return values[0]
        if any(isinstance(v, _Unknown) for v in values):
            # a dtype or shape test the source does not decide (HF's `... and
            # hidden_states.dtype != self.wo.weight.dtype`): as undecided as its parts
            return _Unknown()
        tensors = [self.as_condition(v, node) for v in values]
        return self.library.logical("and" if is_and else "or", tensors, node)

    def expr_UnaryOp(self, node: ast.UnaryOp, scope: _Scope) -> Any:
        operand = self.evaluate(node.operand, scope)
        if isinstance(node.op, ast.Not):
            if isinstance(operand, _Unknown):
                return _Unknown()
            truth = self.static_truth(operand)
            if truth is not None:
                return not truth
            return self.library.logical("not", [self.as_condition(operand, node)], node)
        if isinstance(node.op, ast.Invert):
            if isinstance(operand, bool):
                return not operand
            return self.library.logical("not", [self.as_condition(operand, node)], node)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(operand, TENSORLIKE):
            return self.library.unary("neg", self.library.operand(operand, node), node)
        return self.python_arithmetic(operator.neg, operand, None, node)

    def expr_BinOp(self, node: ast.BinOp, scope: _Scope) -> Any:
        left = self.evaluate(node.left, scope)
        right = self.evaluate(node.right, scope)
        return self.binary(node.op, left, right, node)

    def binary(self, op: ast.operator, left: Any, right: Any, node: ast.AST) -> Any:
        name = _BINARY_OPS.get(type(op).__name__)
        if name is None:
            raise SourceError(f"the operator {type(op).__name__} is not supported", node)
        if name == "matmul":
            return self.library.matmul(left, right, node)
        if isinstance(left, SelectionCount) or isinstance(right, SelectionCount):
            return self.library.count_arithmetic(name, left, right, node)
        tensors = isinstance(left, TENSORLIKE) or isinstance(right, TENSORLIKE)
        if not tensors:
            if isinstance(left, library.Shape) or isinstance(right, library.Shape):
                return library.Shape()
            if isinstance(left, _Unknown) or isinstance(right, _Unknown):
                return _Unknown()
            if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)) and name == "add":
                return type(left)(list(left) + list(right))
            if name == "mul" and (isinstance(left, (list, tuple)) or isinstance(right, (list, tuple))):
                sequence, count = (left, right) if isinstance(left, (list, tuple)) else (right, left)
                times = _index(count, node)
                if times > MAX_UNROLL:
                    raise SourceError(f"a list of {times} copies", node, "limit")
                return type(sequence)(list(sequence) * times)
            if (isinstance(left, str) or isinstance(right, str)) and name in ("mod", "add"):
                return "<string>"
            return self.python_arithmetic(_PYTHON_OPS[name], left, right, node)
        return self.library.binary(name, self.library.operand(left, node),
                                   self.library.operand(right, node), node)

    def python_arithmetic(self, fn: Callable, left: Any, right: Any, node: ast.AST) -> Any:
        a = _number(left, node)
        try:
            if right is None:
                return fn(a)
            b = _number(right, node)
            if fn is operator.truediv and b == 0:
                raise SourceError("division by zero", node)
            result = fn(a, b)
        except (TypeError, ZeroDivisionError, ValueError) as err:
            raise SourceError(f"cannot compute {self.snippet(node)}: {err}", node) from None
        if isinstance(result, sp.Basic) and result.has(sp.zoo, sp.nan):
            raise SourceError(f"{self.snippet(node)} is undefined", node)
        return result

    def expr_Compare(self, node: ast.Compare, scope: _Scope) -> Any:
        operands = [self.evaluate(node.left, scope)] + [self.evaluate(c, scope) for c in node.comparators]
        results = []
        for op, left, right in zip(node.ops, operands, operands[1:]):
            results.append(self.compare(op, left, right, node))
        if len(results) == 1:
            return results[0]
        if all(isinstance(r, bool) for r in results):
            return all(results)
        return self.library.logical("and", [self.as_condition(r, node) for r in results], node)

    def compare(self, op: ast.cmpop, left: Any, right: Any, node: ast.AST) -> Any:
        name = type(op).__name__
        if name in ("Is", "IsNot"):
            same = left is right or (left is None and right is None) or _same_value(left, right)
            if isinstance(left, Tensor) or isinstance(right, Tensor):
                same = False if (left is None or right is None) else same
            return same if name == "Is" else not same
        if name in ("In", "NotIn"):
            if isinstance(right, (tuple, list, dict, str, set)):
                found = any(_same_value(left, item) for item in right) if not isinstance(right, str) \
                    else (isinstance(left, str) and left in right)
                return found if name == "In" else not found
            raise SourceError(f"'in' on {_describe(right)} is not supported", node)
        if isinstance(left, TENSORLIKE) or isinstance(right, TENSORLIKE):
            return self.library.comparison(_COMPARISONS[name], left, right, node)
        if any(isinstance(v, (_Unknown, library.Shape, Opaque, ModuleRef)) for v in (left, right)):
            return _Unknown()
        if isinstance(left, Size) or isinstance(right, Size):
            return self.size_comparison(name, left, right)
        if isinstance(left, str) or isinstance(right, str) or left is None or right is None:
            if name == "Eq":
                return left == right
            if name == "NotEq":
                return left != right
            raise SourceError(f"cannot compare {left!r} and {right!r}", node)
        a, b = _number(left, node), _number(right, node)
        result = _PYTHON_COMPARISONS[name](a, b)
        if isinstance(result, sp.Basic):
            if result in (sp.true, sp.false):
                return bool(result)
            raise SourceError(f"cannot decide {self.snippet(node)}", node)
        return bool(result)

    @staticmethod
    def size_comparison(name: str, left: Any, right: Any) -> Any:
        """Sizes are positive and unknown: ``n == 0`` is false, ``n > 0`` true, others unknown."""
        other = right if isinstance(left, Size) else left
        flipped = not isinstance(left, Size)
        if isinstance(other, Size):
            return _Unknown()
        try:
            value = float(other)
        except (TypeError, ValueError):
            return _Unknown()
        # A size is a positive integer, and the reader takes tensors to be non-degenerate
        # (more than one element): against 0 or 1 every comparison is decided as for n = 2.
        if value <= 1:
            left_value, right_value = (2, value) if not flipped else (value, 2)
            return bool(_PYTHON_COMPARISONS[name](sp.Integer(left_value), sp.Integer(right_value)))
        return _Unknown()

    def expr_Call(self, node: ast.Call, scope: _Scope) -> Any:
        callee = self.evaluate(node.func, scope)
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.iterate(self.evaluate(arg.value, scope), arg))
            else:
                args.append(self.evaluate(arg, scope))
        keywords: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                spread = self.evaluate(keyword.value, scope)
                if not isinstance(spread, dict):
                    raise SourceError("**kwargs of something that is not a dict", keyword)
                keywords.update(spread)
            else:
                keywords[keyword.arg] = self.evaluate(keyword.value, scope)
        result = self.call(callee, args, keywords, node)
        out = next((k.value for k in node.keywords if k.arg == "out"), None)
        if out is not None and isinstance(callee, (ModuleRef, TensorMethod)) \
                and isinstance(result, Tensor):
            # np.clip(x, 0, None, out=x): a library call writes its result into ``out``,
            # which is how NumPy code clips or scales in place
            self.assign(out, result, scope)
        return result

    def call(self, callee: Any, args: list[Any], keywords: dict[str, Any], node: ast.AST) -> Any:
        if isinstance(callee, Layer) and "BatchNorm" not in callee.kind and args and isinstance(
                args[0], Tensor) and args[0].selected is not None:
            # a layer maps each row alone (batch norm excepted): the rows stay selected
            output = self.call_value(callee, [replace(args[0], selected=None), *args[1:]],
                                     keywords, node)
            if not isinstance(output, Tensor):
                raise SourceError(f"unsupported: {callee.kind} of a selection by a mask computed "
                                  f"from the predictions: {self.snippet(node)}", node)
            return replace(output, selected=args[0].selected)
        result = self.call_value(callee, args, keywords, node)
        if isinstance(callee, (Layer, ModuleRef, TensorMethod, LibraryObject, Opaque)):
            # library code sees every element: a selection x[mask] it does not keep is refused
            name = str(callee.kind if isinstance(callee, Layer) else getattr(
                callee, "name", None) or getattr(callee, "dotted", "call"))
            receiver = [callee.tensor] if isinstance(callee, TensorMethod) else []
            self.library.keeps_selections(name.rpartition(".")[2],
                                          [*receiver, *args, *keywords.values()], result, node)
        return result

    def call_value(self, callee: Any, args: list[Any], keywords: dict[str, Any],
                   node: ast.AST) -> Any:
        if isinstance(callee, Function):
            decorated = self.decorated(callee, node)
            if decorated is not callee:
                return self.call(decorated, args, keywords, node)
            return self.call_function(callee, args, keywords, node)
        if isinstance(callee, BoundMethod):
            return self.call_function(callee.function, [callee.instance, *args], keywords, node)
        if isinstance(callee, ClassDef):
            return self.construct(callee, args, keywords, node)
        if isinstance(callee, Instance):
            found = callee.cls.method("forward") or callee.cls.method("__call__")
            if found is None:
                children = library.own_container(callee)
                if children is not None:
                    return self.call(children, args, keywords, node)
                raise SourceError(f"{callee.cls.name} objects cannot be called", node)
            return self.call_function(found[0], [callee, *args], keywords, node)
        if isinstance(callee, Layer):
            return self.library.layer_forward(callee, args, keywords, node)
        if isinstance(callee, Container):
            if callee.kind != "Sequential":
                raise SourceError(f"an nn.{callee.kind} cannot be called", node)
            value = args[0] if args else None
            for module in callee.items:
                value = self.call(module, [value], {}, node)
            return value
        if isinstance(callee, ModuleRef):
            return self.library.call(callee.dotted, args, keywords, node)
        if isinstance(callee, TensorMethod):
            return self.library.call_method(callee.tensor, callee.name, args, keywords, node)
        if isinstance(callee, LibraryObject):
            if callee.call is None:
                return self.opaque_call(callee.dotted, args, node)
            outer, self.call_site = self.call_site, node
            try:
                return callee.call(*args, **{**callee.keywords, **keywords})
            finally:
                self.call_site = outer
        if isinstance(callee, Partial):
            return self.call(callee.function, [*callee.args, *args], {**callee.keywords, **keywords}, node)
        if isinstance(callee, _Builtin):
            if callee.name == "super":
                if len(args) == 2 and isinstance(args[0], ClassDef):
                    return _SuperObject(args[0], args[1])  # super(Cls, self)
                return self.super_object(node)
            return self.library.builtin(callee.name, args, keywords, node)
        if isinstance(callee, (_DictMethod, _ListMethod, _StrMethod, _Passthrough)):
            return callee(*args)
        if isinstance(callee, Opaque):
            return self.opaque_call(callee.dotted, args, node)
        raise SourceError(f"cannot call {_describe(callee)}", node)

    def decorated(self, function: Function, node: ast.AST) -> Any:
        """``function`` with the decorators the file defines applied (``@weighted_loss``).

        A library decorator (``@torch.jit.script``, ``@mmcv.jit(...)``) stays an identity;
        a decorator of the file is run on the function as Python would, innermost first.
        """
        if function.owner is not None or not function.decorators or isinstance(
                function.node, ast.Lambda):
            return function
        key = id(function)
        if key in self.decorations:
            return self.decorations[key]
        value: Any = Function(function.node, function.scope, (), function.owner)
        unknown: list[str] = []
        scope = _Scope({"__enclosing__": function.scope})
        for expression, name in reversed(list(zip(function.node.decorator_list,
                                                  function.decorators))):
            head = expression.func if isinstance(expression, ast.Call) else expression
            try:
                decorator = self.evaluate(head, scope)
            except SourceError:
                decorator = None
            if not isinstance(decorator, Function):
                unknown.append(name)
                continue
            if isinstance(expression, ast.Call):  # a decorator factory: @retry(times=3)
                decorator = self.evaluate(expression, scope)
            value = self.call(decorator, [value], {}, node)
        if isinstance(value, Function) and unknown and not value.decorators:
            # an unknown decorator may still add keyword arguments: keep their names
            value = Function(value.node, value.scope, tuple(unknown), value.owner)
        if len(unknown) == len(function.decorators):
            value = function
        self.decorations[key] = value
        return value

    def super_object(self, node: ast.AST) -> _SuperObject:
        """``super()`` in the method being run: its class's bases, bound to its ``self``."""
        for function, scope in [*reversed(self.frames), *self.translating]:
            if function.owner is not None:
                positional = [*function.node.args.posonlyargs, *function.node.args.args]
                if positional and positional[0].arg in scope:
                    return _SuperObject(function.owner, scope[positional[0].arg])
        raise SourceError("super() outside a method", node)

    def opaque_call(self, dotted: str, args: list[Any], node: ast.AST) -> Any:
        """An unknown function: assumed differentiable in its tensor arguments."""
        tensors = [self.as_tensor(a, node) for a in args if isinstance(a, TENSORLIKE)]
        if not tensors:
            return Opaque(dotted + "()")
        return self.library.opaque(dotted, tensors, node)

    def call_function(self, function: Function, args: list[Any], keywords: dict[str, Any],
                      node: ast.AST) -> Any:
        if self.depth >= MAX_CALL_DEPTH:
            raise SourceError(f"calls nested more than {MAX_CALL_DEPTH} deep (recursion?)",
                              node, "limit")
        scope = _Scope()
        scope["__enclosing__"] = function.scope
        source = _source_of(function.scope) or self.sources[-1]
        entering = source.path in composites.SOURCES and self.sources[-1].path not in composites.SOURCES
        if entering:
            self.composite_entries.append((node, self.sources[-1]))
        # the defaults are text of the function's own file (a restated library's, not the caller's)
        self.sources.append(source)
        try:
            self.bind(function, args, keywords, scope, node)
        except BaseException:
            self.sources.pop()
            if entering:
                self.composite_entries.pop()
            raise
        self.depth += 1
        self.frames.append((function, scope))
        try:
            if isinstance(function.node, ast.Lambda):
                return self.evaluate(function.node.body, scope)
            if "no_grad" in " ".join(function.decorators):
                self.no_grad += 1
            try:
                outcome = self.run_body(function.node.body, scope)
            finally:
                if "no_grad" in " ".join(function.decorators):
                    self.no_grad -= 1
        finally:
            self.depth -= 1
            self.frames.pop()
            self.sources.pop()
            if entering:
                self.composite_entries.pop()
        if outcome.kind == "raise":
            raise SourceError(f"{function.name}(...) raises for these arguments: {outcome.value}", node)
        return outcome.value if outcome.kind == "return" else None

    def bind(self, function: Function, args: list[Any], keywords: dict[str, Any], scope: _Scope,
             node: ast.AST) -> None:
        spec = function.node.args
        positional = [*spec.posonlyargs, *spec.args]
        defaults = dict(zip([a.arg for a in positional[len(positional) - len(spec.defaults):]],
                            spec.defaults))
        for arg, default in zip(spec.kwonlyargs, spec.kw_defaults):
            if default is not None:
                defaults[arg.arg] = default
        if len(args) > len(positional) and spec.vararg is None:
            raise SourceError(f"{function.name}() takes {len(positional)} positional arguments "
                              f"but {len(args)} were given", node)
        for arg, value in zip(positional, args):
            scope[arg.arg] = value
        if spec.vararg is not None:
            scope[spec.vararg.arg] = tuple(args[len(positional):])
        extra = {}
        names = {a.arg for a in [*positional, *spec.kwonlyargs]}
        for key, value in keywords.items():
            if key in names:
                scope[key] = value
            else:
                extra[key] = value
        if spec.kwarg is not None:
            scope[spec.kwarg.arg] = extra
        elif extra and not function.decorators:
            raise SourceError(f"{function.name}() got an unexpected keyword argument "
                              f"{next(iter(extra))!r}", node)
        for arg in [*positional, *spec.kwonlyargs]:
            if arg.arg not in scope:
                if arg.arg in defaults:
                    scope[arg.arg] = self.evaluate(defaults[arg.arg], _Scope(function.scope))
                else:
                    raise SourceError(f"{function.name}() is missing the argument {arg.arg!r}", node)

    def construct(self, cls: ClassDef, args: list[Any], keywords: dict[str, Any],
                  node: ast.AST) -> Instance:
        """A new object of a class of the file: its ``__init__`` runs on symbolic values."""
        self.resolve_bases(cls)
        instance = Instance(cls)
        found = cls.method("__init__")
        if found is not None:
            self.call_function(found[0], [instance, *args], keywords, node)
        else:
            self.library.library_init(instance, cls.library_bases(), args, keywords)
        return instance

    # --- conversions --------------------------------------------------------------------------

    def as_tensor(self, value: Any, where: ast.AST) -> Tensor:
        """A tensor for ``value``: numbers become constants; other values are errors."""
        if isinstance(value, Tensor):
            return value
        if isinstance(value, Labels):
            return self.library.label_values(value, where)
        if isinstance(value, Arange):
            return self.library.arange_values(value, where)
        if isinstance(value, bool):
            return Tensor((const(int(value), self.span(where)),))
        if isinstance(value, (int, float, Fraction, sp.Basic)):
            number = _number(value, where)
            return Tensor((const(_exact(number), self.span(where)),))
        if isinstance(value, Size):
            return Tensor((const(DEFAULT_COMPONENTS, self.span(where)),))
        if isinstance(value, SelectionCount):
            raise library.count_error(self.snippet(where), where)
        if isinstance(value, PairGrid):
            raise SourceError("unsupported: this operation on pairs of rows (a[:, None] - b[None]): "
                              f"{self.snippet(where)}", where)
        raise SourceError(f"{_describe(value)} used where a tensor or number is expected: "
                          f"{self.snippet(where)}", where)

    def as_condition(self, value: Any, where: ast.AST) -> Any:
        if isinstance(value, (Tensor, PairGrid)) and value.dtype == "bool":
            return value
        if isinstance(value, bool):
            return Tensor((const(value, self.span(where)),), dtype="bool")
        self.library.note_mask(value)
        tensor = self.as_tensor(value, where)
        return self.library.comparison("ne", tensor, sp.Integer(0), where)

    # --- source positions ---------------------------------------------------------------------

    def span(self, node: ast.AST | None) -> Span | None:
        if node is None or not hasattr(node, "lineno"):
            return None
        if self.sources[-1].path in composites.SOURCES and self.composite_entries:
            # inside nn.TransformerEncoderLayer: the user's call of the layer
            call, source = self.composite_entries[-1]
            self.sources.append(source)
            try:
                return self.span(call)
            finally:
                self.sources.pop()
        line, end_line = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        column = self._char_column(line, getattr(node, "col_offset", 0))
        end_column = self._char_column(end_line, getattr(node, "end_col_offset", 0) or 0)
        span = Span(line, column + 1, end_line, end_column + 1, self.snippet(node))
        path = self.sources[-1].path
        if path and path != self.path:
            self.span_files[span] = path
        return span

    def _char_column(self, line: int, byte_column: int) -> int:
        lines = self.sources[-1].lines
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if text.isascii():
            return byte_column
        return len(text.encode("utf-8")[:byte_column].decode("utf-8", "replace"))

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.sources[-1].text, node) or ""

    def snippet(self, node: ast.AST | None, limit: int = 60) -> str:
        if node is None:
            return ""
        text = " ".join(self.segment(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


# --- small values and helpers -------------------------------------------------------------------

#: At most this many other files of the project are read for imported definitions.
MAX_MODULES = 24
#: Larger files are not read for imported definitions.
MAX_MODULE_BYTES = 1_000_000
#: How far above the file a package root of an absolute import is looked for.
MAX_PACKAGE_DEPTH = 6


@dataclass(frozen=True)
class _SourceFile:
    """A file whose code the interpreter runs: its text, lines and path."""

    text: str
    lines: list[str]
    path: str


@dataclass(eq=False)
class _Namespace:
    """A module of the project used by name (``c_f.to_device(...)``): its definitions."""

    scope: dict[str, Any]


@dataclass(eq=False)
class _Imported:
    """A name imported from a file of the project, resolved when it is first read."""

    module: dict[str, Any]
    name: str
    fallback: Any


def _source_of(scope: dict[str, Any]) -> _SourceFile | None:
    for frame in [scope, *_enclosing(scope)]:
        source = frame.get("__source__")
        if isinstance(source, _SourceFile):
            return source
    return None

_MISSING = object()


class _Unknown:
    """A Python-level value the reader cannot know (a rank, a shape comparison)."""


@dataclass(frozen=True)
class _Builtin:
    name: str


@dataclass(eq=False)
class _Passthrough:
    """A method that gives back its owner (``perm.long()``, ``perm.cpu()``)."""

    owner: Any

    def __call__(self, *args: Any, **keywords: Any) -> Any:
        return self.owner


def _is_unknown_result(value: Tensor) -> bool:
    """Whether a tensor is the result of one function the reader cannot see into."""
    first = value.parts[0]
    return first.op == "call" and all(p.op == "call" and p.value == first.value
                                      for p in value.parts)


#: methods of the ``ctx`` of a custom autograd Function that only prepare its backward
_CONTEXT_METHODS = frozenset(["save_for_backward", "mark_dirty", "mark_non_differentiable",
                              "set_materialize_grads"])


def _is_autograd_function(cls: ClassDef) -> bool:
    """Whether a class of the file is a ``torch.autograd.Function`` (its ``apply`` runs it)."""
    return any(base.rsplit(".", 1)[-1] in ("Function", "InplaceFunction") and "autograd" in base
               for base in cls.library_bases())


def _gradient_passing(backward: ast.AST) -> list[bool]:
    """For each input of a custom Function, whether ``backward`` returns a gradient computed
    from the incoming one (read, not run: names assigned from it carry it on)."""
    if not isinstance(backward, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    carried = {a.arg for a in backward.args.args[1:]}
    if backward.args.vararg is not None:
        carried.add(backward.args.vararg.arg)

    def carries(expr: ast.AST | None) -> bool:
        return expr is not None and any(isinstance(n, ast.Name) and n.id in carried
                                        for n in ast.walk(expr))

    passing: list[bool] = []
    for stmt in ast.walk(backward):
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and carries(stmt.value):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                carried.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            values = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
            for position, value in enumerate(values):
                if position == len(passing):
                    passing.append(False)
                passing[position] = passing[position] or carries(value)
    return passing


def _is_module_base(dotted: str) -> bool:
    """Whether a base class is torch's own ``nn.Module`` (its methods are no computation)."""
    return dotted.rsplit(".", 1)[-1] in ("Module", "_Loss", "_WeightedLoss")


@dataclass(eq=False)
class _SuperObject:
    cls: ClassDef
    instance: Any


@dataclass(eq=False)
class _DictMethod:
    owner: dict
    name: str

    def __call__(self, *args: Any) -> Any:
        if self.name == "get":
            return self.owner.get(_hashable(args[0]), args[1] if len(args) > 1 else None)
        if self.name == "pop":
            return self.owner.pop(_hashable(args[0]), args[1] if len(args) > 1 else None)
        if self.name == "items":
            return list(self.owner.items())
        if self.name == "keys":
            return list(self.owner.keys())
        return list(self.owner.values())


@dataclass(eq=False)
class _ListMethod:
    owner: list
    name: str

    def __call__(self, *args: Any) -> Any:
        if self.name == "append":
            self.owner.append(args[0])
        else:
            self.owner.extend(args[0])
        return None


@dataclass(eq=False)
class _StrMethod:
    owner: str
    name: str

    def __call__(self, *args: Any) -> Any:
        return getattr(str, self.name)(self.owner, *args)


_BUILTINS = frozenset(
    ["abs", "min", "max", "sum", "len", "range", "zip", "enumerate", "float", "int", "bool", "isinstance", "hasattr", "getattr", "list", "tuple", "dict", "round", "pow", "reversed", "sorted", "any", "all", "str", "super", "print", "type", "divmod", "map", "callable"]
)

_BINARY_OPS = {
    "Add": "add", "Sub": "sub", "Mult": "mul", "Div": "div", "Pow": "pow", "Mod": "mod",
    "FloorDiv": "floordiv", "MatMult": "matmul", "BitAnd": "and", "BitOr": "or", "BitXor": "xor",
    "LShift": "lshift", "RShift": "rshift",
}
_PYTHON_OPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "pow": operator.pow, "mod": operator.mod, "floordiv": operator.floordiv,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift,
}
_COMPARISONS = {"Lt": "lt", "LtE": "le", "Gt": "gt", "GtE": "ge", "Eq": "eq", "NotEq": "ne"}
_PYTHON_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt, "GtE": operator.ge,
    "Eq": lambda a, b: sp.true if a == b else sp.false,
    "NotEq": lambda a, b: sp.true if a != b else sp.false,
}

#: statements run by the handler of another (``from x import y`` as ``import``)
_SAME_STATEMENTS = {"ImportFrom": "Import", "Nonlocal": "Global",
                    "AsyncFunctionDef": "FunctionDef", "AsyncWith": "With"}

_STATEMENT_WORDS = {"While": "a while loop", "AsyncFor": "async for", "Match": "match"}
_EXPRESSION_WORDS = {
    "ListComp": "a list comprehension", "GeneratorExp": "a generator expression",
    "DictComp": "a dict comprehension", "SetComp": "a set comprehension", "Await": "await",
    "Yield": "yield", "YieldFrom": "yield from", "Starred": "a starred expression",
}


def _enclosing(scope: dict[str, Any]) -> Iterable[dict[str, Any]]:
    current = scope.get("__enclosing__")
    seen = 0
    while isinstance(current, dict) and seen < 64:
        yield current
        current = current.get("__enclosing__")
        seen += 1


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _load(target: ast.expr) -> ast.expr:
    """The same expression read instead of written (for ``x += 1``), positions kept."""
    import copy

    loaded = copy.deepcopy(target)
    for child in ast.walk(loaded):
        if hasattr(child, "ctx"):
            child.ctx = ast.Load()
    return loaded


def _is_literal(node: ast.expr) -> bool:
    """A default that makes a parameter a hyperparameter: a number, string, bool or None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_literal(e) for e in node.elts)
    return False


def _exact_decimal(text: str, value: float) -> sp.Rational | sp.Float:
    from decimal import Decimal, InvalidOperation

    try:
        decimal = Decimal(text.replace("_", ""))
    except (InvalidOperation, ValueError):
        decimal = Decimal(repr(value))
    sign, digits, exponent = decimal.as_tuple()
    if not isinstance(exponent, int) or len(digits) + abs(exponent) > 400:
        return sp.Float(value)
    mantissa = int("".join(map(str, digits)) or "0")
    number = sp.Integer(mantissa) * sp.Integer(10) ** exponent
    return -number if sign else number


def _from_literal(value: Any) -> Any:
    """A ``--set`` literal as the interpreter computes with it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return _exact_decimal(repr(value), value)
    return value


def _plain(value: Any) -> Any:
    """A hyperparameter value as JSON shows it."""
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Basic) and value.is_number:
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _number(value: Any, where: ast.AST) -> Any:
    if isinstance(value, SelectionCount):
        raise library.count_error(ast.unparse(where) if isinstance(where, ast.expr) else "", where)
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return sp.Float(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, Size):
        return sp.Integer(DEFAULT_COMPONENTS)
    raise SourceError(f"{_describe(value)} used as a number", where)


def _exact(number: Any) -> Any:
    if isinstance(number, sp.Integer):
        return int(number)
    if isinstance(number, sp.Rational):
        return Fraction(int(number.p), int(number.q))
    return number


def _index(key: Any, where: ast.AST) -> int:
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, (int, sp.Integer)):
        return int(key)
    if isinstance(key, Size):
        return DEFAULT_COMPONENTS
    raise SourceError(f"{_describe(key)} used as an index", where)


def _index_or_size(value: Any, where: ast.AST) -> Any:
    if isinstance(value, Size):
        return None
    return _index(value, where)


def _hashable(key: Any) -> Any:
    if isinstance(key, sp.Integer):
        return int(key)
    if isinstance(key, list):
        return tuple(key)
    return key


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, TENSORLIKE) or isinstance(b, TENSORLIKE):
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            return a.featured == b.featured and len(a.parts) == len(b.parts) and all(
                x is y for x, y in zip(a.parts, b.parts))
        return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return "a tensor"
    if isinstance(value, Labels):
        return "a tensor of labels"
    if isinstance(value, Instance):
        return f"a {value.cls.name} object"
    if isinstance(value, (ModuleRef, Opaque)):
        return value.dotted
    if isinstance(value, Function):
        return f"the function {value.name}"
    if value is None:
        return "None"
    return type(value).__name__
