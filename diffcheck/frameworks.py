"""Run a program in the real PyTorch or JAX and take their gradient (for ``--confirm``).

Each op of :class:`~diffcheck.program.Node` is mapped to the library call a user writes for
it (``where`` to ``torch.where``/``jnp.where``, two-argument ``max`` to
``torch.maximum``/``jnp.maximum``, ``norm`` to ``torch.linalg.vector_norm``/``jnp.linalg.norm``);
constants stay Python numbers, so ``x**2`` dispatches as it does in user code. Nothing is
evaluated from text: the tree is walked, and each op picks a function from a fixed table.

Neither framework is a dependency: :func:`available` says which ones are importable, and
``pip install 'diffcheck[jax]'`` brings JAX.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from diffcheck.program import Node

#: framework -> the module whose presence makes it available
_MODULES = {"torch": "torch", "jax": "jax"}


def available() -> list[str]:
    """The frameworks that can be imported here, in a fixed order."""
    return [name for name, module in _MODULES.items() if importlib.util.find_spec(module)]


def versions() -> dict[str, str]:
    """Installed versions of the available frameworks."""
    found = {}
    for name in available():
        module = __import__(_MODULES[name])
        found[name] = str(getattr(module, "__version__", "unknown"))
    return found


def gradient(tree: Node, framework: str, point: Mapping[str, float], wrt: Sequence[str],
             dtype: str = "float32") -> dict[str, float] | str:
    """The framework's gradient of ``tree`` at ``point``, or the error message it raised."""
    runner = _torch_gradient if framework == "torch" else _jax_gradient
    try:
        return runner(tree, point, list(wrt), dtype)
    except Exception as err:
        return " ".join(f"{type(err).__name__}: {err}".split())[:200]


def _constant(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, Fraction):
        return float(value)
    return value


class _Walker:
    """Evaluates a tree with one library's functions (``lib`` maps op names to callables)."""

    def __init__(self, lib: Mapping[str, Callable[..., Any]], env: Mapping[str, Any]) -> None:
        self.lib = lib
        self.env = env

    def __call__(self, node: Node) -> Any:
        op = node.op
        if op == "var":
            return self.env[node.value]
        if op == "const":
            return _constant(node.value)
        args = [self(a) for a in node.args]
        keywords = {k: self(v) for k, v in node.keywords}
        function = self.lib.get(op)
        if function is None:
            raise NotImplementedError(f"no {op} in this framework table")
        if op in _NEEDS_NODE:
            return function(node, *args, **keywords)
        return function(*args, **keywords)


_NEEDS_NODE = frozenset({"max", "maximum", "amax", "min", "minimum", "amin", "where"})

_OPERATORS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
    "mod": lambda a, b: a % b, "floordiv": lambda a, b: a // b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
}


def _torch_table(torch: Any) -> dict[str, Callable[..., Any]]:
    functional = torch.nn.functional

    def tensor(value: Any) -> Any:
        return value if isinstance(value, torch.Tensor) else torch.tensor(float(value))

    def unary(function: Callable[..., Any]) -> Callable[..., Any]:
        return lambda u: function(tensor(u))

    def stack(args: Sequence[Any]) -> Any:
        return torch.stack([tensor(a) for a in args])

    def extremum(name: str) -> Callable[..., Any]:
        def call(node: Node, *args: Any) -> Any:
            if len(args) == 2 and not node.written.endswith(("amax", "amin")):
                pair = getattr(torch, "maximum" if name == "max" else "minimum")
                return pair(tensor(args[0]), tensor(args[1]))
            if node.written.endswith(("amax", "amin")):
                return getattr(torch, "a" + name)(stack(args), 0)
            return getattr(torch, name)(stack(args), dim=0).values

        return call

    def condition(node: Node, value: Any) -> Any:
        return value if node.op in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not") \
            else tensor(value) != 0

    def where(node: Node, c: Any, a: Any, b: Any) -> Any:
        return torch.where(condition(node.args[0], c), a, b)

    def clamp(u: Any, lo: Any = None, hi: Any = None) -> Any:
        if any(isinstance(b, torch.Tensor) for b in (lo, hi)):  # tensor bounds: both tensors
            lo, hi = (None if b is None else tensor(b) for b in (lo, hi))
        return torch.clamp(tensor(u), min=lo, max=hi)

    def softplus(u: Any, beta: Any = 1, threshold: Any = 20) -> Any:
        return functional.softplus(tensor(u), beta=beta, threshold=threshold)

    def log(u: Any, base: Any = None) -> Any:
        return torch.log(tensor(u)) if base is None else torch.log(tensor(u)) / math.log(base)

    def huber(r: Any, delta: Any = 1) -> Any:
        r = tensor(r)
        return functional.huber_loss(r, torch.zeros_like(r), reduction="none", delta=delta)

    def step(u: Any) -> Any:
        return (tensor(u) >= 0).to(tensor(u).dtype)

    return {
        **_OPERATORS,
        "and": lambda *c: _all(c), "or": lambda *c: _any(c), "not": lambda c: ~c,
        "where": where,
        "abs": unary(torch.abs), "sqrt": unary(torch.sqrt), "exp": unary(torch.exp),
        "log": log, "log1p": unary(torch.log1p), "expm1": unary(torch.expm1),
        "sin": unary(torch.sin), "cos": unary(torch.cos), "tan": unary(torch.tan),
        "tanh": unary(torch.tanh), "sinh": unary(torch.sinh), "cosh": unary(torch.cosh),
        "atan": unary(torch.atan), "arctan": unary(torch.atan),
        "sigmoid": unary(torch.sigmoid), "softplus": softplus, "relu": unary(torch.relu),
        "leaky_relu": lambda u, negative_slope=0.01: functional.leaky_relu(tensor(u), negative_slope),
        "elu": lambda u, alpha=1: functional.elu(tensor(u), alpha),
        "sign": unary(torch.sign), "floor": unary(torch.floor), "ceil": unary(torch.ceil),
        "round": lambda u, decimals=0: torch.round(tensor(u), decimals=int(decimals)),
        "heaviside": lambda u, h0=0.5: torch.heaviside(tensor(u), tensor(h0)),
        "step": step,
        "max": extremum("max"), "maximum": extremum("max"), "amax": extremum("max"),
        "min": extremum("min"), "minimum": extremum("min"), "amin": extremum("min"),
        "clamp": clamp, "clip": clamp, "huber": huber,
        "logsumexp": lambda *a: torch.logsumexp(stack(a), 0),
        "sum": lambda *a: stack(a).sum(0), "mean": lambda *a: stack(a).mean(0),
        "softmax": lambda *a, index=0: torch.softmax(stack(a), 0)[int(index)],
        "log_softmax": lambda *a, index=0: torch.log_softmax(stack(a), 0)[int(index)],
        "norm": lambda *a: torch.linalg.vector_norm(stack(a)),
        "hypot": lambda a, b: torch.hypot(tensor(a), tensor(b)),
        "xlogy": lambda a, b: torch.special.xlogy(tensor(a), tensor(b)),
        "logaddexp": lambda a, b: torch.logaddexp(tensor(a), tensor(b)),
        "logsigmoid": lambda u: functional.logsigmoid(tensor(u)),
        "log_sigmoid": lambda u: functional.logsigmoid(tensor(u)),
        "square": unary(torch.square),
        "log2": unary(torch.log2), "log10": unary(torch.log10), "rsqrt": unary(torch.rsqrt),
        "reciprocal": unary(torch.reciprocal), "acos": unary(torch.acos),
        "arccos": unary(torch.acos), "asin": unary(torch.asin), "arcsin": unary(torch.asin),
        "atan2": lambda a, b: torch.atan2(tensor(a), tensor(b)),
        "arctan2": lambda a, b: torch.atan2(tensor(a), tensor(b)),
        "erf": unary(torch.erf), "erfc": unary(torch.erfc), "silu": unary(functional.silu),
        "swish": unary(functional.silu), "softsign": unary(functional.softsign),
        "soft_sign": unary(functional.softsign),
    }


def _all(conditions: Sequence[Any]) -> Any:
    result = conditions[0]
    for c in conditions[1:]:
        result = result & c
    return result


def _any(conditions: Sequence[Any]) -> Any:
    result = conditions[0]
    for c in conditions[1:]:
        result = result | c
    return result


def _torch_gradient(tree: Node, point: Mapping[str, float], wrt: list[str],
                    dtype: str) -> dict[str, float]:
    import torch

    torch_dtype = getattr(torch, dtype)
    leaves = {name: torch.tensor(float(value), dtype=torch_dtype, requires_grad=name in wrt)
              for name, value in point.items()}
    torch.set_default_dtype(torch_dtype)
    try:
        output = _Walker(_torch_table(torch), leaves)(tree)
        if not isinstance(output, torch.Tensor) or not output.requires_grad:
            return dict.fromkeys(wrt, 0.0)
        inputs = [leaves[name] for name in wrt]
        grads = torch.autograd.grad(output.to(torch_dtype), inputs, allow_unused=True)
    finally:
        torch.set_default_dtype(torch.float32)
    return {name: 0.0 if g is None else float(g) for name, g in zip(wrt, grads)}


def _jax_table(jax: Any, jnp: Any) -> dict[str, Callable[..., Any]]:
    nn = jax.nn

    def extremum(name: str) -> Callable[..., Any]:
        def call(node: Node, *args: Any) -> Any:
            if len(args) == 2:
                return getattr(jnp, "maximum" if name == "max" else "minimum")(*args)
            return getattr(jnp, name)(jnp.stack([jnp.asarray(a) for a in args]))

        return call

    def where(node: Node, c: Any, a: Any, b: Any) -> Any:
        if node.args[0].op not in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not"):
            c = jnp.asarray(c) != 0
        return jnp.where(c, a, b)

    def stack(args: Sequence[Any]) -> Any:
        return jnp.stack([jnp.asarray(a) for a in args])

    def softplus(u: Any, beta: Any = 1, threshold: Any = 20) -> Any:
        return nn.softplus(u) if beta == 1 else nn.softplus(beta * u) / beta

    def huber(r: Any, delta: Any = 1) -> Any:  # optax.huber_loss
        abs_errors = jnp.abs(r)
        quadratic = jnp.minimum(abs_errors, delta)
        return 0.5 * quadratic**2 + delta * (abs_errors - quadratic)

    def log(u: Any, base: Any = None) -> Any:
        return jnp.log(u) if base is None else jnp.log(u) / math.log(base)

    return {
        **_OPERATORS,
        "and": lambda *c: _all(c), "or": lambda *c: _any(c), "not": lambda c: ~c,
        "where": where,
        "abs": jnp.abs, "sqrt": jnp.sqrt, "exp": jnp.exp, "log": log, "log1p": jnp.log1p,
        "expm1": jnp.expm1, "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "tanh": jnp.tanh,
        "sinh": jnp.sinh, "cosh": jnp.cosh, "atan": jnp.arctan, "arctan": jnp.arctan,
        "sigmoid": nn.sigmoid, "softplus": softplus, "relu": nn.relu,
        "leaky_relu": lambda u, negative_slope=0.01: nn.leaky_relu(u, negative_slope),
        "elu": lambda u, alpha=1: nn.elu(u, alpha),
        "sign": jnp.sign, "floor": jnp.floor, "ceil": jnp.ceil,
        "round": lambda u, decimals=0: jnp.round(u, int(decimals)),
        "heaviside": lambda u, h0=0.5: jnp.heaviside(u, h0),
        "step": lambda u: jnp.heaviside(u, 1.0),
        "max": extremum("max"), "maximum": extremum("max"), "amax": extremum("max"),
        "min": extremum("min"), "minimum": extremum("min"), "amin": extremum("min"),
        "clamp": lambda u, lo=None, hi=None: jnp.clip(u, lo, hi),
        "clip": lambda u, lo=None, hi=None: jnp.clip(u, lo, hi),
        "huber": huber,
        "logsumexp": lambda *a: nn.logsumexp(stack(a)),
        "sum": lambda *a: jnp.sum(stack(a)), "mean": lambda *a: jnp.mean(stack(a)),
        "softmax": lambda *a, index=0: nn.softmax(stack(a))[int(index)],
        "log_softmax": lambda *a, index=0: nn.log_softmax(stack(a))[int(index)],
        "norm": lambda *a: jnp.linalg.norm(stack(a)),
        "hypot": jnp.hypot,
        "xlogy": lambda a, b: jax.scipy.special.xlogy(a, b),
        "logaddexp": jnp.logaddexp,
        "logsigmoid": nn.log_sigmoid, "log_sigmoid": nn.log_sigmoid,
        "square": jnp.square,
        "log2": jnp.log2, "log10": jnp.log10, "rsqrt": jax.lax.rsqrt,
        "reciprocal": jnp.reciprocal, "acos": jnp.arccos, "arccos": jnp.arccos,
        "asin": jnp.arcsin, "arcsin": jnp.arcsin, "atan2": jnp.arctan2, "arctan2": jnp.arctan2,
        "erf": jax.scipy.special.erf, "erfc": jax.scipy.special.erfc, "silu": nn.silu,
        "swish": nn.silu, "softsign": nn.soft_sign, "soft_sign": nn.soft_sign,
    }


def _jax_gradient(tree: Node, point: Mapping[str, float], wrt: list[str],
                  dtype: str) -> dict[str, float]:
    import jax
    import jax.numpy as jnp
    import jax.scipy.special

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    names = list(point)
    table = _jax_table(jax, jnp)

    def function(*values: Any) -> Any:
        return jnp.asarray(_Walker(table, dict(zip(names, values)))(tree), dtype=dtype)

    argnums = tuple(names.index(name) for name in wrt)
    args = [jnp.asarray(float(point[name]), dtype=dtype) for name in names]
    grads = jax.grad(function, argnums=argnums)(*args)
    return {name: float(g) for name, g in zip(wrt, grads)}
