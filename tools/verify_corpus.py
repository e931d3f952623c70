#!/usr/bin/env python3
"""Check the labels of tests/corpus numerically, in real PyTorch, JAX and NumPy.

Not part of the test suite and not run in CI: it imports (executes) the corpus files, which
diffcheck itself never does. Run it in a scratch environment of its own:

    python3 -m venv /tmp/venv-verify && . /tmp/venv-verify/bin/activate
    pip install torch==2.13.0 jax numpy
    python tools/verify_corpus.py [--only ID[,ID...]] [--kind source|models|compositions] [--seed N] [-v]

How a label is checked (float64 throughout):

* Lines. The loss is restricted to lines x0 + t*d through the `wrt` tensors (the other
  arguments are data): random lines through random points, and short lines through points
  built on the labelled non-smooth set (`where`) or on places that look suspicious but are
  labelled smooth (a clamp that cancels, a switch under a vanishing weight).
* Features on a line. Second differences D2 = f(t+h) - 2f(t) + f(t-h) are computed on a grid,
  and the largest ones (and, on a constructed line, the cell around t = 0) are zoomed into
  about ten times finer, level after level, down to 1e-10 of the first cell or until D2 sinks
  to round-off (of the values, and of the position x0 + t*d times the slope). D2 scales like
  h**2 where f is smooth, h at a kink, h**0.5 at a square-root (infinite-slope) point and h**0
  at a jump; the exponent fitted on the two finest levels names the feature. The same is done
  on the first and second derivatives along the line (autograd / jax.grad); a step found in a
  derivative of order k is a kink of order k - 1. The lowest order with a feature is the class:
  C0 (or discontinuous), C1, C2, and Cinf when nothing is found up to the second derivative.
* Generic points: one-sided difference quotients agree at random points; the gradient is
  zero there exactly when the label has `zero-gradient`.
* Models: the same line test in parameter space (all parameters moved along a random
  direction, dropout masks fixed by reseeding); cuts: after backward, a labelled cut parameter
  has .grad None or zero and every other parameter gets a non-zero gradient somewhere; a
  straight-through estimator: the value jumps but the gradient is not zero.

Exit status 0 when every check agrees with the labels, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import functools
import importlib.util
import inspect
import json
import math
import os
import sys
import time
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "corpus")

torch: Any = None
jax: Any = None
jnp: Any = None


def _import_frameworks() -> None:
    global torch, jax, jnp
    import torch as _torch
    import torch.nn.attention  # noqa: F401  (sdpa_kernel)

    torch = _torch
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)  # tiny tensors: thread hand-offs cost more than they save
    try:
        import jax as _jax
        import jax.numpy as _jnp

        _jax.config.update("jax_enable_x64", True)
        jax, jnp = _jax, _jnp
    except ImportError:  # JAX cases are then reported as skipped
        pass


# --------------------------------------------------------------------------------------------
# Stand-ins for the library modules that corpus files import only for bookkeeping (usage
# logging, registries) or for mmdet's @weighted_loss, whose reduction semantics are reproduced.
# --------------------------------------------------------------------------------------------


def _weighted_loss(loss_func: Callable) -> Callable:
    @functools.wraps(loss_func)
    def wrapper(pred, target, weight=None, reduction="mean", avg_factor=None, **kwargs):
        loss = loss_func(pred, target, **kwargs)
        if weight is not None:
            loss = loss * weight
        if avg_factor is None:
            return {"mean": loss.mean, "sum": loss.sum}.get(reduction, lambda: loss)()
        if reduction == "mean":
            return loss.sum() / (avg_factor + 1.1920929e-07)
        return loss

    return wrapper


class _Registry:
    def register_module(self, *args, **kwargs):
        return lambda cls: cls


def _install_stubs() -> None:
    def module(name: str, **attrs: Any) -> None:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            sub = ".".join(parts[:i])
            if sub not in sys.modules:
                sys.modules[sub] = types.ModuleType(sub)
            if i > 1:
                setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], sys.modules[sub])
        for k, v in attrs.items():
            setattr(sys.modules[name], k, v)

    try:
        import torchvision.utils  # noqa: F401
    except ImportError:
        module("torchvision.utils", _log_api_usage_once=lambda obj: None)
    try:
        import chex  # noqa: F401
    except ImportError:
        module("chex", Array=object, Numeric=object, assert_type=lambda *a, **k: None)
    module("mmdet.registry", MODELS=_Registry())
    module("mmdet.models.losses.utils", weighted_loss=_weighted_loss)
    module("mmcv", jit=lambda **kwargs: (lambda f: f))
    module("kornia.core", Module=torch.nn.Module)
    module("kornia.core.logger", **{name: (lambda *a, **k: None) for name in (
        "KORNIA_CHECK", "KORNIA_CHECK_IS_TENSOR", "KORNIA_CHECK_SAME_SHAPE", "KORNIA_CHECK_SAME_DEVICE")})
    module("ultralytics.utils.torch_utils", autocast=lambda enabled=True: contextlib.nullcontext())
    module("lightly.loss.memory_bank", MemoryBankModule=_memory_bank_class())
    module("monai.utils", LossReduction=_LossReduction)


def _memory_bank_class() -> type:
    class MemoryBankModule(torch.nn.Module):
        """lightly's memory bank with size 0: out1 comes back unchanged, no negatives."""

        def __init__(self, size: int = 0, **kwargs):
            super().__init__()
            assert size == 0, "the corpus cases use no memory bank"

        def forward(self, output, update: bool = False):
            return output, None

    return MemoryBankModule


class _LossReduction(str, enum.Enum):
    NONE = "none"
    MEAN = "mean"
    SUM = "sum"


def load_module(path: str) -> types.ModuleType:
    name = "corpus_" + os.path.splitext(os.path.basename(path))[0] + "_" + str(zlib.crc32(path.encode()))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------------------------
# Feature detection on a line
# --------------------------------------------------------------------------------------------

EPS = np.finfo(np.float64).eps


@dataclass
class Feature:
    kind: str  # kink | jump | infinite-slope
    t: float
    exponent: float
    order: int  # 0: the value, 1: first derivative along the line, 2: second


def _d2(vals: np.ndarray) -> np.ndarray:
    return np.abs(vals[2:] - 2 * vals[1:-1] + vals[:-2])


def _classify(exponent: float) -> str | None:
    if exponent > 1.8:
        return None
    if exponent > 1.25:  # |d|**p with 1 < p < 2: C1, the next derivative has an infinite slope
        return "curvature"
    if exponent > 0.75:
        return "kink"
    if exponent > 0.3:
        return "infinite-slope"
    return "jump"


def zoom(F: Callable[[float], float], lo: float, hi: float, n: int = 21, min_h: float = 1e-10,
         focus: float | None = None) -> tuple[str | None, float, float]:
    """Follow the largest second difference into ever finer grids; name what is there.

    Returns (kind or None, location, fitted exponent of D2 against h). Grids have an odd
    number of intervals, so the constructed point t = 0 itself is never sampled: a value that
    is wrong only at that one point (autodiff's choice at a kink) is not a feature.
    """
    hs, ms = [], []
    scale = hi - lo
    loc = 0.5 * (lo + hi)
    while True:
        ts = np.linspace(lo, hi, n + 1)
        vals = np.array([F(t) for t in ts])
        if not np.all(np.isfinite(vals)):
            return None, loc, float("nan")  # a domain edge or a pole: not a kink/jump here
        d2 = _d2(vals)
        j = int(np.argmax(d2))
        h = ts[1] - ts[0]
        # round-off of f near these values, and of the position x0 + t*d (an error of
        # eps*|t| in t moves f by that much times its slope); fits use only D2 well above it
        slope = float(np.max(np.abs(np.diff(vals)))) / h
        value_floor = 64 * EPS * float(np.max(np.abs(vals)))
        floor = value_floor + 64 * EPS * (abs(loc) + hi - lo) * slope
        if d2[j] <= 100 * floor:
            break
        hs.append(h)
        ms.append(d2[j])
        loc = ts[j + 1]
        if h < min_h * scale:
            break
        if focus is None:
            lo, hi = ts[j], ts[j + 2]
        else:  # a constructed point: stay centred on it, whatever the rest of the line does
            lo, hi = focus - 2 * h, focus + 2 * h
            loc = focus
    if len(ms) < 3:
        return None, loc, float("nan")
    # exponent from the finest levels above round-off
    ex = [math.log(ms[k + 1] / ms[k]) / math.log(hs[k + 1] / hs[k]) for k in range(len(ms) - 1)]
    tail = ex[-2:]
    exponent = float(np.median(tail))
    kind = _classify(exponent)
    if kind == "jump" and ms[-1] < 1e4 * value_floor:
        kind = None  # a "jump" barely above round-off is noise, not a step in the value
    return kind, loc, exponent


def scan_line(F: Callable[[float], float], lo: float = -1.0, hi: float = 1.0, n: int = 61, candidates: int = 5,
              order: int = 0, focus: float | None = None) -> list[Feature]:
    ts = np.linspace(lo, hi, n + 1)
    vals = np.array([F(t) for t in ts])
    finite = np.isfinite(vals)
    d2 = _d2(np.where(finite, vals, 0.0))
    ok = finite[2:] & finite[1:-1] & finite[:-2]
    d2 = np.where(ok, d2, -1.0)
    found: list[Feature] = []
    cells = [(ts[j], ts[j + 2], None) for j in np.argsort(-d2)[:candidates] if d2[j] > 0]
    if focus is not None:  # small features at a known place can hide under the curvature elsewhere
        w = (hi - lo) / n
        cells.append((focus - w, focus + w, focus))
    for a, b, at_focus in cells:
        kind, loc, ex = zoom(F, a, b, focus=at_focus)
        if kind == "curvature":
            found.append(Feature("infinite-slope", float(loc), ex, order + 1))
        elif kind == "jump" and order > 0:
            # a step in the k-th derivative is a kink of the (k-1)-th: seen this way when the
            # kink is too small against the curvature of the rest to show in the values
            found.append(Feature("kink", float(loc), ex, order - 1))
        elif kind:
            found.append(Feature(kind, float(loc), ex, order))
    return found


# --------------------------------------------------------------------------------------------
# Evaluating a case along lines, per framework
# --------------------------------------------------------------------------------------------


class Evaluator:
    """f(t) = sum(loss(inputs with wrt tensors moved to x0 + t*d)) and its t-derivatives."""

    def __init__(self, fn: Callable, framework: str, inputs: dict, wrt: list[str], direction: dict):
        self.fn, self.framework, self.wrt = fn, framework, wrt
        self.inputs, self.direction = inputs, direction

    def _args(self, t, conv):
        args = {}
        for k, v in self.inputs.items():
            if k in self.wrt:
                args[k] = conv(v) + t * conv(self.direction[k])
            else:
                args[k] = conv(v)
        return args

    def value(self, t: float) -> float:
        if self.framework == "torch":
            torch.manual_seed(0)
            with torch.no_grad():
                out = self.fn(**self._args(torch.tensor(float(t)), _to_torch))
            return float(torch.as_tensor(out).sum())
        if self.framework == "jax":
            return float(self._jax_value(t))
        out = self.fn(**self._args(float(t), _to_numpy))
        return float(np.sum(out))

    @functools.cached_property
    def _jax_value(self):
        def F(t):
            return jnp.sum(self.fn(**self._args(t, _to_jax)))

        return jax.jit(F)

    @functools.cached_property
    def _jax_derivs(self):
        def F(t):
            return jnp.sum(self.fn(**self._args(t, _to_jax)))

        d1 = jax.grad(F)
        return {1: jax.jit(d1), 2: jax.jit(jax.grad(d1))}

    def derivative(self, order: int) -> Callable[[float], float] | None:
        if self.framework == "numpy":
            return None
        if self.framework == "jax":
            g = self._jax_derivs[order]
            return lambda t: float(g(float(t)))

        def g(t: float) -> float:
            torch.manual_seed(0)
            tt = torch.tensor(float(t), requires_grad=True)
            out = torch.as_tensor(self.fn(**self._args(tt, _to_torch))).sum()
            for _ in range(order):
                if not out.requires_grad:
                    return 0.0
                (out,) = torch.autograd.grad(out, tt, create_graph=True, allow_unused=True)
                if out is None:
                    return 0.0
            return float(out.detach())

        return g

    def gradient_is_zero(self) -> bool | None:
        """Autodiff gradient w.r.t. the wrt tensors at t = 0 (None for NumPy)."""
        if self.framework == "numpy":
            return None
        if self.framework == "jax":
            g = jax.grad(lambda t: jnp.sum(self.fn(**self._args(t, _to_jax))))(0.0)
            return bool(abs(float(g)) == 0.0)
        g = self.derivative(1)
        return g(0.0) == 0.0


def _to_torch(v):
    if torch.is_tensor(v):
        return v
    if isinstance(v, tuple):  # a tuple target: (labels, scores)
        return tuple(_to_torch(x) for x in v)
    a = np.asarray(v)
    if a.dtype.kind in "iu":
        return torch.as_tensor(a, dtype=torch.long)
    if a.dtype.kind == "b":
        return torch.as_tensor(a)
    return torch.as_tensor(a, dtype=torch.float64)


def _to_jax(v):
    if isinstance(v, (float, int)) or (hasattr(v, "dtype") and not isinstance(v, np.ndarray)):
        return v
    return jnp.asarray(v)


def _to_numpy(v):
    return v if isinstance(v, float) else np.asarray(v)


# --------------------------------------------------------------------------------------------
# Checking one loss case
# --------------------------------------------------------------------------------------------

SEED = 0  # --seed: every case draws from default_rng([crc32(id), SEED])

ORDER_OF_CLASS = {"discontinuous": 0, "C0": 0, "C1": 1, "C2": 2, "Cinf": 3}


@dataclass
class Outcome:
    case_id: str
    checks: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def expect(self, ok: bool, message: str) -> None:
        self.checks += 1
        if not ok:
            self.problems.append(message)


def _random_direction(inputs: dict, wrt: list[str], rng: np.random.Generator, scale: dict | float) -> dict:
    d = {}
    for k in wrt:
        s = scale.get(k, 1.0) if isinstance(scale, dict) else scale
        d[k] = rng.standard_normal(np.shape(inputs[k])) * s
    return d


def call_target(case: dict, mod: types.ModuleType, init: dict | None = None) -> tuple[Callable, Any]:
    """The callable a case names, with its hyperparameters from `fixed` (and `init`) bound."""
    fixed = {**(case.get("fixed") or {}), **(init or {})}
    name = case["function"].split(" (")[0]
    if "." in name:
        cls_name, meth = name.split(".", 1)
        cls = getattr(mod, cls_name)
        init_params = inspect.signature(cls.__init__).parameters
        init_kw = {k: v for k, v in fixed.items() if k in init_params}
        if hasattr(torch, "manual_seed"):
            torch.manual_seed(0)
        obj = cls(**init_kw)
        if hasattr(obj, "double"):
            obj = obj.double()
        method = getattr(obj, meth)
        call_params = inspect.signature(method).parameters
        call_kw = {k: v for k, v in fixed.items() if k in call_params and k not in init_kw}
        return functools.partial(method, **call_kw), obj
    fn = getattr(mod, name)
    params = inspect.signature(fn).parameters
    return functools.partial(fn, **{k: v for k, v in fixed.items() if k in params}), None


def check_loss(case: dict, spec: Spec, mod: types.ModuleType, lines: int, verbose: bool) -> Outcome:
    out = Outcome(case["id"])
    fw = case["framework"]
    if fw == "jax" and jax is None:
        out.skipped = "jax not installed"
        return out
    fn, obj = call_target(case, mod, spec.init() if spec.init else None)
    wrt = case["wrt"]
    rng = np.random.default_rng([zlib.crc32(case["id"].encode()), SEED])
    want_order = ORDER_OF_CLASS[case["smoothness"]]
    top_order = 0 if fw == "numpy" else spec.max_order
    primary = {k for k in case["kinds"] if k in ("kink", "jump", "infinite-slope")}

    # 1. generic points: one-sided quotients agree; zero gradient iff labelled
    zero_grads = []
    for _ in range(6):
        inputs = spec.make(rng)
        d = _random_direction(inputs, wrt, rng, spec.dir_scale)
        ev = Evaluator(fn, fw, inputs, wrt, d)
        h = 1e-6
        f0, fp, fm = ev.value(0.0), ev.value(h), ev.value(-h)
        if not all(map(math.isfinite, (f0, fp, fm))):
            out.notes.append("non-finite value at a random point")
            continue
        right, left = (fp - f0) / h, (f0 - fm) / h
        out.expect(abs(right - left) <= 1e-3 * (1 + abs(right) + abs(left)),
                   f"generic point not smooth: one-sided slopes {left:.6g} vs {right:.6g}")
        z = ev.gradient_is_zero()
        if z is None:  # NumPy: a flat difference quotient
            z = right == 0.0 and left == 0.0
        zero_grads.append(z)
    if zero_grads:
        all_zero = all(zero_grads)
        out.expect(all_zero == ("zero-gradient" in case["kinds"]),
                   f"gradient zero at generic points: {all_zero}, label zero-gradient: {'zero-gradient' in case['kinds']}")

    # 2. random lines, then lines through constructed points
    found: list[Feature] = []
    line_specs = [(None, None, 1.0)] * lines + [(f, e, r) for f, e, r in spec.on_set]
    for build, expect, radius in line_specs:
        inputs = spec.make(rng)
        if build is not None:
            inputs = build(inputs, rng, obj)
        d = _random_direction(inputs, wrt, rng, spec.dir_scale)
        ev = Evaluator(fn, fw, inputs, wrt, d)
        lo, hi = (-radius, radius)
        if build is not None and expect in ("domain", "pole"):
            _check_singular(out, ev, expect, radius)
            continue
        here: list[Feature] = []
        for order in range(min(top_order, max(want_order, 0) + 1) + 1):
            F = ev.value if order == 0 else ev.derivative(order)
            if F is None:
                break
            feats = scan_line(F, lo, hi, order=order, focus=0.0 if build is not None else None)
            here += feats
            if feats:
                break  # the lowest order with a feature decides the class on this line
        found += here
        if build is not None:
            near = [f for f in here if abs(f.t) <= 1e-3 * radius]
            if expect == "none":
                out.expect(not near, f"constructed point ({build.__name__}) labelled smooth, found {_fmt(near)}")
            elif expect in ("kink", "jump", "infinite-slope"):
                out.expect(any(f.kind == expect and f.order == 0 for f in near),
                           f"constructed point ({build.__name__}): want {expect} at t=0, found {_fmt(here)}")
            elif expect.startswith("order"):  # e.g. order1: a feature in the first derivative only
                k = int(expect[-1])
                out.expect(any(f.order == k for f in near) and not any(f.order < k for f in near),
                           f"constructed point ({build.__name__}): want a feature of derivative order {k}, found {_fmt(here)}")
    if verbose:
        print(f"  {case['id']}: features {_fmt(found)}")

    got_value = {f.kind for f in found if f.order == 0}
    if case["differentiable"]:
        out.expect(not got_value, f"labelled differentiable, value features {_fmt([f for f in found if f.order == 0])}")
    else:
        out.expect(bool(got_value), f"labelled not differentiable ({sorted(primary)}), no value feature found")
        missing = primary - got_value
        out.expect(not missing, f"labelled kinds {sorted(missing)} not seen (saw {sorted(got_value)})")
        extra = got_value - primary
        out.expect(not extra, f"saw {sorted(extra)} not in the label {sorted(primary)}")
    # smoothness class: the lowest derivative order with a feature
    orders = [f.order for f in found]
    if case["smoothness"] == "discontinuous":
        out.expect("jump" in got_value, "labelled discontinuous, no jump seen")
    elif case["smoothness"] == "C0":
        out.expect("jump" not in got_value and bool(got_value & {"kink", "infinite-slope"}), f"labelled C0, saw {sorted(got_value)}")
    elif fw == "numpy":
        out.notes.append(f"{case['smoothness']}: derivatives not checked for NumPy (value level only)")
    elif want_order > top_order and case["smoothness"] != "Cinf":
        out.notes.append(f"{case['smoothness']}: derivatives checked up to order {top_order} only")
    else:
        lowest = min(orders) if orders else None
        if case["smoothness"] == "Cinf":
            out.expect(lowest is None, f"labelled Cinf, features up to derivative order {top_order}: {_fmt(found)}")
            if top_order < 2:
                out.notes.append(f"Cinf: derivatives checked up to order {top_order} only")
        else:
            out.expect(lowest == want_order, f"labelled {case['smoothness']}, lowest feature order {lowest}: {_fmt(found)}")
    return out


def _check_singular(out: Outcome, ev: Evaluator, expect: str, radius: float) -> None:
    v0 = ev.value(0.0)
    if expect == "domain":
        out.expect(not math.isfinite(v0), f"expected a point outside the domain, value {v0}")
        return
    vals = [abs(ev.value(radius * 10.0**-k)) for k in range(1, 6)]
    out.expect(all(b > a for a, b in zip(vals, vals[1:])) and vals[-1] > 10 * vals[0] or not math.isfinite(v0),
               f"expected a pole: |f| near the point {vals}")


def _fmt(feats: list[Feature]) -> str:
    return ", ".join(f"{f.kind}@{f.t:+.3g}(d{f.order},p={f.exponent:.2f})" for f in feats[:6]) or "none"


# --------------------------------------------------------------------------------------------
# Input makers and constructed points (one Spec per corpus case)
# --------------------------------------------------------------------------------------------


@dataclass
class Spec:
    make: Callable[[np.random.Generator], dict]
    on_set: list = field(default_factory=list)  # (build(inputs, rng, obj) -> inputs, expect, radius)
    dir_scale: Any = 1.0
    max_order: int = 2  # highest derivative along lines that is examined (lower it, with a reason, where round-off rules)
    init: Callable[[], dict] | None = None  # tensor arguments of __init__ (data, not in `fixed`)


def at(expect: str, radius: float = 1e-2):
    """Decorator: a constructed-point builder with what must be seen at t = 0."""

    def wrap(f):
        return (f, expect, radius)

    return wrap


def pt(name: str, expect: str, radius: float, build: Callable) -> tuple:
    """A constructed point: build(inputs, rng, obj) -> inputs on the set; expect what at t = 0."""
    build.__name__ = name
    return (build, expect, radius)


def randn(rng, *shape, s=1.0):
    return rng.standard_normal(shape) * s


def boxes_xyxy(rng, n):
    xy = rng.uniform(0, 1, (n, 2))
    wh = rng.uniform(0.8, 1.5, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def boxes_xywh(rng, n):
    return np.concatenate([rng.uniform(0, 1, (n, 2)), rng.uniform(0.8, 1.5, (n, 2))], axis=1)


def labels(rng, n, c):
    return rng.integers(0, c, n)


def binary(rng, *shape):
    return (rng.uniform(size=shape) < 0.5).astype(np.float64)


def pm1(rng, n):
    return np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)


def logit(p):
    return math.log(p / (1 - p))


def _boxes(a="boxes1", b="boxes2"):
    make = lambda r: {a: boxes_xyxy(r, 4), b: boxes_xyxy(r, 4)}

    def corner_tie(x, r, o):
        x[a][0, 0] = x[b][0, 0]
        return x

    def touching(x, r, o):  # box 1 ends where box 2 begins, with y-overlap
        x[a][1] = [0.0, 0.0, 1.0, 1.0]
        x[b][1] = [1.0, 0.2, 2.0, 1.2]
        return x

    return Spec(make, [pt("corner_tie", "kink", 1e-2, corner_tie), pt("touching", "kink", 1e-2, touching)], dir_scale=0.1)


def _set(key, index, value_fn):
    def build(x, r, o):
        x[key][index] = value_fn(x)
        return x

    return build


SPECS: dict[str, Spec] = {}

SPECS["tv_giou_loss"] = _boxes()
SPECS["tv_diou_loss"] = _boxes()
SPECS["tv_ciou_loss"] = _boxes()
SPECS["fvcore_giou_loss"] = _boxes()
SPECS["mmdet_giou_loss"] = _boxes("pred", "target")


def _yolo_tie(x, r, o):  # equal left edges: cx1 - w1/2 = cx2 - w2/2
    x["pred_boxes"][0, 0] = x["target_boxes"][0, 0] - x["target_boxes"][0, 2] / 2 + x["pred_boxes"][0, 2] / 2
    return x


SPECS["yolo_ciou"] = Spec(lambda r: {"pred_boxes": boxes_xywh(r, 4), "target_boxes": boxes_xywh(r, 4)},
                          [pt("left_edges_equal", "kink", 1e-2, _yolo_tie)], dir_scale=0.1)

_reg = lambda r, a="input", b="target", n=8, s=1.0: {a: randn(r, n, s=s), b: randn(r, n, s=s)}
SPECS["d2_smooth_l1_beta0"] = Spec(_reg, [pt("input_eq_target", "kink", 1e-2, _set("input", 0, lambda x: x["target"][0]))])
SPECS["d2_smooth_l1"] = Spec(lambda r: _reg(r, s=0.2), [
    pt("abs_diff_eq_beta", "order1", 1e-2, _set("input", 0, lambda x: x["target"][0] + 1 / 9)),
    pt("input_eq_target", "none", 1e-2, _set("input", 1, lambda x: x["target"][1]))], dir_scale=0.1)
SPECS["tv_sigmoid_focal_loss"] = Spec(lambda r: {"inputs": randn(r, 8, s=2), "targets": binary(r, 8)})
SPECS["kornia_focal_loss"] = Spec(lambda r: {"pred": randn(r, 4, 3, 2, s=2), "target": labels(r, 8, 3).reshape(4, 2)})
SPECS["mmdet_py_focal_loss"] = Spec(lambda r: {"pred": randn(r, 6, 3, s=2), "target": np.eye(3)[labels(r, 6, 3)]})


def _dice_reach_eps(x, r, o):
    # a real-valued mask with a tiny positive sum: the cardinality can reach eps = 1e-7
    x["y_true"][:] = 1e-9
    n = x["y_true"].size
    p = (1e-7 - 1e-9 * n) / n
    x["y_pred"][:] = logit(p)
    return x


SPECS["smp_dice_loss"] = Spec(lambda r: {"y_pred": randn(r, 2, 1, 4, 4), "y_true": binary(r, 2, 1, 4, 4)},
                              [pt("cardinality_eq_eps", "kink", 1e-1, _dice_reach_eps)])
SPECS["soft_dice_loss"] = Spec(lambda r: {"logits": randn(r, 2, 1, 4, 4), "targets": binary(r, 2, 1, 4, 4)})
SPECS["focal_tversky_loss"] = Spec(lambda r: {"y_pred": randn(r, 2, 1, 8), "y_true": binary(r, 2, 1, 8)})


def _lovasz_make(r):
    lab = labels(r, 8, 2)
    lab[0], lab[1] = 1, 0
    return {"logits": randn(r, 8), "labels": lab}


def _lovasz_tie(x, r, o):  # error of a positive (1 - l0) equals that of a negative (1 + l1)
    x["logits"][1] = -x["logits"][0]
    return x


SPECS["lovasz_hinge"] = Spec(_lovasz_make, [pt("pos_neg_error_tie", "kink", 1e-2, _lovasz_tie),
                                            pt("relu_edge", "kink", 1e-2, _set("logits", 0, lambda x: 1.0))])


def _lovasz_softmax_make(r):
    lab = labels(r, 8, 3)
    lab[0], lab[1] = 0, 1
    return {"logits": randn(r, 8, 3), "labels": lab}


def _lovasz_softmax_tie(x, r, o):  # class-0 errors: 1 - p0 at pixel 0 (fg), p0 at pixel 1 (bg)
    z = x["logits"][0]
    p0 = math.exp(z[0]) / np.exp(z).sum()
    q = 1 - p0
    x["logits"][1] = [math.log(2 * q / (1 - q)), 0.0, 0.0]
    return x


SPECS["lovasz_softmax"] = Spec(_lovasz_softmax_make, [pt("fg_bg_error_tie", "kink", 1e-2, _lovasz_softmax_tie)])
SPECS["timm_label_smoothing_ce"] = Spec(lambda r: {"x": randn(r, 6, 5, s=2), "target": labels(r, 6, 5)})


def _jsd_tiny_mixture(x, r, o):  # class 0 of sample 0 has probability 1e-7 in all three splits
    a = math.log(3e-7 / (1 - 1e-7))
    for row in (0, 2, 4):
        x["output"][row] = [a, 0.0, 0.0, 0.0]
    return x


SPECS["timm_jsd_loss"] = Spec(lambda r: {"output": randn(r, 6, 4), "target": labels(r, 6, 4)},
                              [pt("mixture_eq_1e-7", "kink", 1e-1, _jsd_tiny_mixture)])
SPECS["timm_soft_target_ce"] = Spec(lambda r: {"x": randn(r, 6, 5, s=2), "target": np.exp(randn(r, 6, 5)) / np.exp(randn(r, 6, 5)).sum(1, keepdims=True)})


def _triplet_cone(x, r, o):
    x["positive"][0] = x["anchor"][0] + 1e-6
    x["negative"][0] = x["anchor"][0] + 0.1
    return x


SPECS["triplet_margin_pdist"] = Spec(lambda r: {k: randn(r, 4, 3, s=0.3) for k in ("anchor", "positive", "negative")},
                                     [pt("anchor_eq_positive_plus_eps", "kink", 1e-3, _triplet_cone)])


def _hadsell_cone(x, r, o):
    x["y"][0] = 0.0
    x["x2"][0] = x["x1"][0] + 1e-6
    return x


SPECS["contrastive_hadsell"] = Spec(lambda r: {"x1": randn(r, 4, 3, s=0.5), "x2": randn(r, 4, 3, s=0.5), "y": binary(r, 4)},
                                    [pt("x1_eq_x2_dissimilar", "kink", 1e-3, _hadsell_cone)])
SPECS["pml_contrastive_cdist"] = Spec(lambda r: {"embeddings": randn(r, 6, 3, s=0.5), "labels": np.array([0, 0, 1, 1, 2, 2])},
                                      [pt("same_label_coincide", "kink", 1e-3, _set("embeddings", 1, lambda x: x["embeddings"][0]))])
def _both_zero(x, r, o):  # pred = target = 0: d = t*dir has no cancellation at this scale
    x["pred"][0] = x["target"][0] = 0.0
    return x


# sqrt(d^2 + 1e-12) bends over |d| ~ 1e-6, far below the length of a random line, where it looks
# like |d|; lines of length ~1e-5 through d = 0 resolve the bend (and show it is smooth). The
# second derivative there is computed by autograd with cancellation (1/s - d^2/s^3): order 1 only
SPECS["basicsr_charbonnier"] = Spec(lambda r: _reg(r, "pred", "target"),
                                    [pt("pred_eq_target", "none", 1.0, _both_zero)], dir_scale=1e-5, max_order=1)
SPECS["basicsr_charbonnier_eps0"] = Spec(lambda r: _reg(r, "pred", "target"),
                                         [pt("pred_eq_target", "kink", 1e-3, _set("pred", 0, lambda x: x["target"][0]))])
SPECS["wing_loss"] = Spec(lambda r: _reg(r, "pred", "target", s=6.0), [
    pt("pred_eq_target", "kink", 1e-2, _set("pred", 0, lambda x: x["target"][0])),
    pt("abs_diff_eq_omega", "kink", 1e-2, _set("pred", 1, lambda x: x["target"][1] + 10.0))])
SPECS["quantile_loss"] = Spec(lambda r: {"y_pred": randn(r, 6, 3), "target": randn(r, 6)},
                              [pt("error_zero", "kink", 1e-2, _set("y_pred", (0, 1), lambda x: x["target"][0]))])
SPECS["log_cosh_loss"] = Spec(lambda r: _reg(r, "y_pred", "y_true"))
SPECS["sparsemax_loss"] = Spec(lambda r: {"logits": randn(r, 5, 4), "target": labels(r, 5, 4)})


def _orthogonal(x, r, o):  # a dissimilar pair with cos = margin = 0
    x["y"][1] = -1.0
    v = x["x2"][1] - (x["x2"][1] @ x["x1"][1]) / (x["x1"][1] @ x["x1"][1]) * x["x1"][1]
    x["x2"][1] = v
    return x


def _tiny_norm(key, eps):
    def build(x, r, o):
        u = x[key][0] / np.linalg.norm(x[key][0])
        x[key][0] = u * eps
        return x

    return build


def _similar_tiny_norm(x, r, o):  # y = 1 (1 - cos is not clamped away) and ||x1[0]|| = eps
    x["y"][0] = 1.0
    return _tiny_norm("x1", 1e-8)(x, r, o)


SPECS["cosine_embedding"] = Spec(lambda r: {"x1": randn(r, 6, 4), "x2": randn(r, 6, 4), "y": pm1(r, 6)},
                                 [pt("cos_eq_margin", "kink", 1e-2, _orthogonal), pt("norm_x1_eq_eps", "kink", 1e-9, _similar_tiny_norm)])
SPECS["cosine_distance_eps"] = Spec(lambda r: {"pred": randn(r, 4, 3), "target": randn(r, 4, 3)},
                                    [pt("norm_pred_eq_eps", "kink", 1e-9, _tiny_norm("pred", 1e-8))])


def _margin_edge(x, r, o):
    y0 = x["labels"][0]
    j = (y0 + 1) % x["scores"].shape[1]
    x["scores"][0, j] = x["scores"][0, y0] - 1.0
    return x


_cls = lambda r, a="scores", b="labels": {a: randn(r, 6, 4), b: labels(r, 6, 4)}
SPECS["multi_margin"] = Spec(_cls, [pt("margin_edge", "kink", 1e-2, _margin_edge)])


def _svm_edge(x, r, o):
    y0 = x["y"][0]
    j = (y0 + 1) % 4
    x["scores"][0, j] = x["scores"][0, y0] - 1.0
    return x


SPECS["multiclass_svm_masked"] = Spec(lambda r: _cls(r, "scores", "y"), [pt("margin_edge", "kink", 1e-2, _svm_edge)])


def _cs_tie(x, r, o):
    y0 = x["target"][0]
    j, k = (y0 + 1) % 4, (y0 + 2) % 4
    x["logits"][0, y0] = -3.0
    x["logits"][0, j] = x["logits"][0, k] = 0.0
    x["logits"][0, (y0 + 3) % 4] = -1.0
    return x


SPECS["crammer_singer_max"] = Spec(lambda r: _cls(r, "logits", "target"), [pt("wrong_class_tie", "kink", 1e-2, _cs_tie)])
SPECS["kd_kl_loss"] = Spec(lambda r: {"y_s": randn(r, 4, 5, s=3), "y_t": randn(r, 4, 5, s=3)})
SPECS["js_divergence"] = Spec(lambda r: {"logits_p": randn(r, 4, 5, s=2), "logits_q": randn(r, 4, 5, s=2)})
SPECS["huber_module"] = Spec(lambda r: _reg(r, "pred", "target"), [
    pt("abs_diff_eq_delta", "order1", 1e-2, _set("pred", 0, lambda x: x["target"][0] + 1.0)),
    pt("pred_eq_target", "none", 1e-2, _set("pred", 1, lambda x: x["target"][1]))])
# at d = 0 the |d|^3 term of g(|d|) leaves a kink in the second derivative only (C2 there)
SPECS["mmdet_balanced_l1"] = Spec(lambda r: _reg(r, "pred", "target"), [
    pt("abs_diff_eq_beta", "order1", 1e-2, _set("pred", 0, lambda x: x["target"][0] + 1.0)),
    pt("pred_eq_target", "order2", 1e-2, _set("pred", 1, lambda x: x["target"][1]))])
SPECS["bce_stable_manual"] = Spec(lambda r: {"input": randn(r, 8, s=3), "target": binary(r, 8)},
                                  [pt("clamp_switch", "none", 1e-2, _set("input", 0, lambda x: 0.0))])
SPECS["nt_xent"] = Spec(lambda r: {"z_i": randn(r, 4, 3), "z_j": randn(r, 4, 3)},
                        [pt("norm_eq_eps", "kink", 1e-13, _tiny_norm("z_i", 1e-12))])


def _zero_vec(key):
    def build(x, r, o):
        x[key][0] = 0.0
        return x

    return build


SPECS["info_nce"] = Spec(lambda r: {"image_emb": randn(r, 4, 3), "text_emb": randn(r, 4, 3)},
                         [pt("zero_embedding", "domain", 1e-3, _zero_vec("image_emb"))])


def _center_near(x, r, o):
    with torch.no_grad():
        # small centres (idempotent): the expanded |x|^2 + |c|^2 - 2xc then loses no digits
        o.centers.mul_(1e-3 / o.centers.abs().max())
    c = o.centers.detach().numpy()
    x["x"] = c[x["labels"]] + randn(r, 6, 2, s=1e-3)
    u = randn(r, 2)
    x["x"][0] = c[x["labels"][0]] + u / np.linalg.norm(u) * 1e-6
    return x


SPECS["center_loss"] = Spec(lambda r: {"x": randn(r, 6, 2), "labels": labels(r, 6, 10)},
                            [pt("sq_dist_eq_1e-12", "kink", 1e-7, _center_near)])
SPECS["ssim_loss"] = Spec(lambda r: {"x": r.uniform(size=(1, 1, 5, 5)), "y": r.uniform(size=(1, 1, 5, 5))}, dir_scale=0.3)
SPECS["psnr_loss"] = Spec(lambda r: {"image": r.uniform(size=(1, 1, 4, 4)), "target": r.uniform(size=(1, 1, 4, 4))},
                          [pt("image_eq_target", "pole", 1e-1, lambda x, r, o: {**x, "image": x["target"].copy()})], dir_scale=0.3)


def _ohem_tie(x, r, o):
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(torch.as_tensor(x["logits"]), torch.as_tensor(x["labels"]), reduction="none")
    order = np.argsort(-ce.numpy())
    i, j = order[3], order[4]  # 4th and 5th largest
    x["logits"][j] = x["logits"][i]
    x["labels"][j] = x["labels"][i]
    return x


SPECS["ohem_ce"] = Spec(lambda r: {"logits": randn(r, 8, 4), "labels": labels(r, 8, 4)}, [pt("topk_boundary_tie", "kink", 1e-2, _ohem_tie)])
SPECS["batch_hard_triplet"] = Spec(lambda r: {"embeddings": randn(r, 6, 3), "labels": np.array([0, 0, 1, 1, 2, 2])})
SPECS["chamfer_loss"] = Spec(lambda r: {"pred_points": randn(r, 5, 3), "gt_points": randn(r, 6, 3)})
SPECS["wasserstein_1d_sort"] = Spec(lambda r: {"samples": randn(r, 8), "target_samples": randn(r, 8)})
SPECS["tv_loss_anisotropic"] = Spec(lambda r: {"img": randn(r, 1, 1, 4, 4)},
                                    [pt("equal_neighbours", "kink", 1e-2, _set("img", (0, 0, 1, 0), lambda x: x["img"][0, 0, 0, 0]))])
SPECS["tv_loss_isotropic"] = Spec(lambda r: {"img": randn(r, 1, 1, 4, 4)},
                                  [pt("flat_image", "none", 1e-4, lambda x, r, o: {"img": np.zeros((1, 1, 4, 4))})])


def _asl_pos_clamp(x, r, o):
    x["y"][0] = 1.0
    x["x"][0] = logit(1e-8)
    return x


def _asl_neg_clip(x, r, o):
    x["y"][1] = 0.0
    x["x"][1] = logit(0.05)
    return x


SPECS["asymmetric_loss"] = Spec(lambda r: {"x": randn(r, 6, s=3), "y": binary(r, 6)},
                                [pt("sigmoid_eq_eps_positive", "kink", 1e-2, _asl_pos_clamp),
                                 pt("clip_switch_negative", "none", 1e-2, _asl_neg_clip)])
SPECS["accuracy_loss"] = Spec(lambda r: {"logits": randn(r, 6, 4), "labels": labels(r, 6, 4)})
SPECS["hard_dice_loss"] = Spec(lambda r: {"logits": randn(r, 8), "mask": binary(r, 8)},
                               [pt("logit_zero", "jump", 1e-2, _set("logits", 0, lambda x: 0.0))])
SPECS["margin_ranking"] = Spec(lambda r: {"score_pos": randn(r, 6), "score_neg": randn(r, 6)},
                               [pt("hinge_edge", "kink", 1e-2, _set("score_neg", 0, lambda x: x["score_pos"][0] - 0.5))])
SPECS["gaussian_nll"] = Spec(lambda r: {"mean": randn(r, 6), "target": randn(r, 6), "var": r.uniform(0.5, 1.5, 6)})
SPECS["weighted_loss_hierarchy"] = Spec(lambda r: _reg(r, "pred", "target"),
                                        [pt("pred_eq_target", "kink", 1e-2, _set("pred", 0, lambda x: x["target"][0]))])
SPECS["poly1_loss"] = Spec(lambda r: {"logits": randn(r, 6, 5, s=2), "labels": labels(r, 6, 5)})


def _bce_make(r):
    t = binary(r, 4, 3)
    t[0, 0] = -1.0
    return {"logits": randn(r, 4, 3, s=2), "targets": t, "pos_weight": r.uniform(0.5, 2.0, 3)}


SPECS["bce_pos_weight"] = Spec(_bce_make)
SPECS["adaptive_wing_loss"] = Spec(lambda r: {"pred": r.uniform(size=8), "target": np.full(8, 0.6)}, [
    pt("pred_eq_target", "order1", 1e-2, _set("pred", 0, lambda x: x["target"][0])),
    pt("abs_diff_eq_theta", "order1", 1e-2, _set("pred", 1, lambda x: x["target"][1] + 0.5))], dir_scale=0.5)
SPECS["optax_softmax_ce"] = Spec(lambda r: {"logits": randn(r, 4, 5, s=2), "labels": np.eye(5)[labels(r, 4, 5)] * 0.9 + 0.02})


def _swap_tie(x, r, o):  # ||a - n + eps|| = ||p - n + eps||: n - eps on the bisector of a and p
    a, p = x["anchor"][0], x["positive"][0]
    v = randn(r, 3)
    v -= (v @ (a - p)) / ((a - p) @ (a - p)) * (a - p)
    x["negative"][0] = (a + p) / 2 + 0.1 * v + 1e-6
    return x


SPECS["triplet_swap_functional"] = Spec(lambda r: {k: randn(r, 4, 3, s=0.5) for k in ("anchor", "positive", "negative")},
                                        [pt("swap_tie", "kink", 1e-3, _swap_tie)])
SPECS["optax_huber"] = Spec(lambda r: _reg(r, "predictions", "targets"), [
    pt("abs_err_eq_delta", "order1", 1e-2, _set("predictions", 0, lambda x: x["targets"][0] + 1.0)),
    pt("err_zero", "none", 1e-2, _set("predictions", 1, lambda x: x["targets"][1]))])
SPECS["optax_hinge"] = Spec(lambda r: {"predictor_outputs": randn(r, 8), "targets": pm1(r, 8)},
                            [pt("margin_one", "kink", 1e-2, _set("predictor_outputs", 0, lambda x: x["targets"][0]))])
SPECS["optax_sigmoid_bce"] = Spec(lambda r: {"logits": randn(r, 8, s=3), "labels": r.uniform(size=8)})
SPECS["flax_softmax_ce_int"] = Spec(lambda r: {"logits": randn(r, 4, 10, s=2), "labels": labels(r, 4, 10)})
SPECS["optax_l2"] = Spec(lambda r: _reg(r, "predictions", "targets"))
SPECS["optax_log_cosh"] = Spec(lambda r: _reg(r, "predictions", "targets", s=3))
SPECS["optax_cosine_distance"] = Spec(lambda r: {"predictions": randn(r, 4, 3), "targets": randn(r, 4, 3)},
                                      [pt("zero_prediction", "domain", 1e-3, _zero_vec("predictions"))])
SPECS["optax_cosine_distance_eps"] = Spec(lambda r: {"predictions": randn(r, 4, 3), "targets": randn(r, 4, 3)},
                                          [pt("sq_norm_eq_eps", "kink", 1e-4, _tiny_norm("predictions", 1e-3))])
SPECS["optax_poly_loss"] = Spec(lambda r: {"logits": randn(r, 4, 5, s=2), "labels": np.eye(5)[labels(r, 4, 5)] * 0.9 + 0.02})
SPECS["jax_focal_stopgrad"] = Spec(lambda r: {"logits": randn(r, 8, s=2), "labels": binary(r, 8)})
SPECS["jax_perceptron"] = Spec(lambda r: {"predictor_outputs": randn(r, 8), "targets": pm1(r, 8)},
                               [pt("zero_output", "kink", 1e-2, _set("predictor_outputs", 0, lambda x: 0.0))])
SPECS["jax_ste_round_mse"] = Spec(lambda r: _reg(r, "predictions", "targets", s=2),
                                  [pt("half_integer", "jump", 1e-2, _set("predictions", 0, lambda x: 0.5))])
SPECS["np_hinge_loss"] = Spec(lambda r: {"y_true": pm1(r, 8), "pred_decision": randn(r, 8)},
                              [pt("margin_one", "kink", 1e-2, _set("pred_decision", 0, lambda x: x["y_true"][0]))])
# random lines stay inside (0, 1): near 1 - eps = 1 - 1e-15 float64 has only a few values left, and
# log(1 - y_pred) there looks like steps; the clip at eps is probed at a constructed point instead
SPECS["np_log_loss"] = Spec(lambda r: {"y_true": binary(r, 8), "y_pred": r.uniform(0.3, 0.7, 8)}, [
    pt("y_pred_eq_eps", "kink", 1e-16, lambda x, r, o: (x["y_true"].__setitem__(0, 1.0), x["y_pred"].__setitem__(0, 1e-15), x)[-1])],
    dir_scale=0.05)
SPECS["np_mean_pinball"] = Spec(lambda r: _reg(r, "y_true", "y_pred"),
                                [pt("zero_error", "kink", 1e-2, _set("y_pred", 0, lambda x: x["y_true"][0]))])
SPECS["np_rmse"] = Spec(lambda r: _reg(r, "y_true", "y_pred"),
                        [pt("all_errors_zero", "kink", 1e-1, lambda x, r, o: {**x, "y_pred": x["y_true"].copy()})])
SPECS["np_median_ae"] = Spec(lambda r: _reg(r, "y_true", "y_pred", n=7))
SPECS["np_max_error"] = Spec(lambda r: _reg(r, "y_true", "y_pred"))
SPECS["np_zero_one"] = Spec(lambda r: {"y_true": pm1(r, 8), "scores": randn(r, 8)},
                            [pt("zero_score", "jump", 1e-2, _set("scores", 0, lambda x: 0.0))])
SPECS["np_mse_brier"] = Spec(lambda r: {"y_true": binary(r, 8), "y_prob": r.uniform(size=8)})
SPECS["np_msle"] = Spec(lambda r: {"y_true": r.uniform(0, 2, 8), "y_pred": r.uniform(0, 2, 8)},
                        [pt("y_pred_eq_minus_one", "domain", 1e-3, _set("y_pred", 0, lambda x: -1.0))], dir_scale=0.2)


# --- the sweep of real library losses (kornia, optax, ultralytics, mmdet, smp, lightly, monai) ---


def _rows_tie(key, value=0.0):
    """Two wrong-class scores of example 0 tie above the others (labels are class 0)."""

    def build(x, r, o):
        x[key][0] = [-3.0, value, value, -1.0]
        x["labels"][0] = 0
        return x

    return build


SPECS["kornia_welsch_loss"] = Spec(lambda r: _reg(r, "img1", "img2", s=2))
SPECS["kornia_tversky_loss"] = Spec(lambda r: {"input": randn(r, 2, 3, 2, 2, s=2), "target": labels(r, 8, 3).reshape(2, 2, 2)})
SPECS["kornia_total_variation"] = Spec(lambda r: {"img": randn(r, 1, 4, 4)},
                                       [pt("equal_neighbours", "kink", 1e-2, _set("img", (0, 1, 0), lambda x: x["img"][0, 0, 0]))])


def _cls4(r):
    return {"scores": randn(r, 4, 4), "labels": labels(r, 4, 4)}


SPECS["optax_multiclass_hinge"] = Spec(_cls4, [pt("wrong_class_tie", "kink", 1e-2, _rows_tie("scores"))])
SPECS["optax_multiclass_perceptron"] = Spec(_cls4, [pt("wrong_class_tie", "kink", 1e-2, _rows_tie("scores"))])
SPECS["optax_generalized_kl"] = Spec(lambda r: {"log_predictions": randn(r, 4, 5),
                                                "targets": np.where(r.uniform(size=(4, 5)) < 0.2, 0.0, r.uniform(size=(4, 5)))})
SPECS["optax_sigmoid_focal"] = Spec(lambda r: {"logits": randn(r, 8, s=3), "labels": binary(r, 8)})
SPECS["yolo_varifocal"] = Spec(lambda r: {"pred_score": randn(r, 3, 4, s=2), "gt_score": r.uniform(size=(3, 4)),
                                          "label": binary(r, 3, 4)})
SPECS["yolo_dfl"] = Spec(lambda r: {"pred_dist": randn(r, 8, 16, s=2), "target": r.uniform(0, 14.9, (2, 4))})
SPECS["yolo_keypoint_oks"] = Spec(lambda r: {"pred_kpts": randn(r, 2, 5, 3), "gt_kpts": randn(r, 2, 5, 3),
                                             "kpt_mask": binary(r, 2, 5), "area": r.uniform(0.5, 2, (2, 1))},
                                  init=lambda: {"sigmas": torch.tensor([0.26, 0.25, 0.35, 0.79, 0.72]) / 10})
SPECS["yolo_rle"] = Spec(lambda r: {"sigma": r.uniform(0.5, 2, (4, 2)), "log_phi": randn(r, 4), "error": randn(r, 4, 2),
                                    "target_weight": r.uniform(0.5, 1, 4)},
                         [pt("zero_error", "kink", 1e-2, _set("error", (0, 0), lambda x: 0.0))], dir_scale={"sigma": 0.05, "error": 1.0})


def _qfl_make(r):
    lab = labels(r, 6, 4)  # class 3 of 3 is the background
    return {"pred": randn(r, 6, 3, s=2), "target": (lab, r.uniform(size=6))}


def _qfl_score_eq_sigmoid(x, r, o):  # |score - sigmoid|^2 at its zero: smooth for beta = 2
    lab, score = x["target"]
    lab[0] = 1
    score = score.copy()
    score[0] = 1 / (1 + math.exp(-x["pred"][0, 1]))
    x["target"] = (lab, score)
    return x


SPECS["mmdet_quality_focal"] = Spec(_qfl_make, [pt("score_eq_sigmoid", "none", 1e-2, _qfl_score_eq_sigmoid)])
SPECS["mmdet_distribution_focal"] = Spec(lambda r: {"pred": randn(r, 4, 8, s=2), "target": r.uniform(0, 6.9, 4)})


def _pt_half(x, r, o):  # exp(-BCE) = 0.5 at a positive: sigmoid(output) = 0.5, output = 0
    x["target"][0] = 1.0
    x["output"][0] = 0.0
    return x


SPECS["smp_reduced_focal"] = Spec(lambda r: {"output": randn(r, 8, s=2), "target": binary(r, 8)},
                                  [pt("pt_eq_threshold", "kink", 1e-2, _pt_half)])
SPECS["smp_soft_ce"] = Spec(lambda r: {"y_pred": randn(r, 2, 3, 2, 2, s=2), "y_true": labels(r, 8, 3).reshape(2, 2, 2)})
SPECS["lightly_ntxent_bank"] = Spec(lambda r: {"out0": randn(r, 4, 3), "out1": randn(r, 4, 3)},
                                    [pt("norm_eq_eps", "kink", 1e-13, _tiny_norm("out0", 1e-12))])
SPECS["monai_focal_loss"] = Spec(lambda r: {"input": randn(r, 2, 3, 4, s=2), "target": binary(r, 2, 3, 4)})


def _sigmoid_eq_soft_target(x, r, o):  # sigmoid(input) = target at one pixel
    x["target"][0, 0, 0] = 0.3
    x["input"][0, 0, 0] = logit(0.3)
    return x


SPECS["monai_tversky_soft"] = Spec(lambda r: {"input": randn(r, 2, 2, 4, s=2), "target": r.uniform(size=(2, 2, 4))},
                                   [pt("sigmoid_eq_target", "kink", 1e-2, _sigmoid_eq_soft_target)])


def _triplet_hinge_edge(x, r, o):  # d(a, n) = d(a, p) + 1 for example 0
    a, p = x["anchors"][0], x["positives"][0]
    d_pos = math.sqrt(((a - p) ** 2).sum() + 1e-6)
    u = randn(r, 3)
    u /= np.linalg.norm(u)
    x["negatives"][0] = a + u * math.sqrt((d_pos + 1.0) ** 2 - 1e-6)
    return x


SPECS["optax_triplet_margin"] = Spec(lambda r: {k: randn(r, 4, 3) for k in ("anchors", "positives", "negatives")},
                                     [pt("hinge_edge", "kink", 1e-2, _triplet_hinge_edge)])
SPECS["timm_binary_ce"] = Spec(lambda r: {"x": randn(r, 4, 5, s=2), "target": labels(r, 4, 5)})


# --- second sweep (sweep2) ----------------------------------------------------------------------

def _softmax_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _qfocal_tie(x, r, o):  # sigmoid(pred) = true: |true - sigmoid(pred)|**1.5, C1 not C2
    x["pred"][0] = logit(x["true"][0])
    return x


SPECS["yolo_qfocal_loss"] = Spec(lambda r: {"pred": randn(r, 8, s=2), "true": r.uniform(0.1, 0.9, 8)},
                                 [pt("sigmoid_eq_true", "order1", 1e-2, _qfocal_tie)])


def _gaussian_target(r):
    t = r.uniform(0.0, 0.9, 8)
    t[:2] = 1.0  # peaks of the heatmap: the positive terms
    return t


SPECS["mmdet_gaussian_focal_loss"] = Spec(lambda r: {"pred": r.uniform(0.05, 0.95, 8), "gaussian_target": _gaussian_target(r)},
                                          dir_scale=0.02)
SPECS["mmdet_dice_loss"] = Spec(lambda r: {"pred": randn(r, 2, 1, 4, 4), "target": binary(r, 2, 1, 4, 4)})
SPECS["mmseg_silog_loss"] = Spec(lambda r: {"pred": r.uniform(0.5, 2.0, (2, 8)), "target": r.uniform(0.5, 2.0, (2, 8))},
                                 [pt("pred_at_eps", "kink", 1e-5, _set("pred", (0, 0), lambda x: 1e-4))], dir_scale=0.01)
SPECS["toolbelt_jaccard_loss"] = Spec(lambda r: {"y_pred": randn(r, 2, 1, 4, 4), "y_true": binary(r, 2, 1, 4, 4)},
                                      [pt("union_eq_eps", "kink", 1e-1, _dice_reach_eps)])


def _mags(r):
    return {"x_mag": r.uniform(0.5, 2.0, (2, 4, 5)), "y_mag": r.uniform(0.5, 2.0, (2, 4, 5))}


def _equal_spectra(x, r, o):  # x_mag = y_mag: the Frobenius norm of the difference at 0
    x["x_mag"] = x["y_mag"].copy()
    return x


SPECS["pwg_spectral_convergence"] = Spec(_mags, [pt("x_eq_y", "kink", 1e-2, _equal_spectra)], dir_scale=0.1)
SPECS["pwg_log_stft_magnitude"] = Spec(_mags, [pt("one_bin_equal", "kink", 1e-2, _set("x_mag", (0, 0, 0), lambda x: x["y_mag"][0, 0, 0]))],
                                       dir_scale=0.1)
SPECS["kornia_depth_smoothness"] = Spec(
    lambda r: {"idepth": r.uniform(0.5, 2.0, (1, 1, 4, 5)), "image": r.uniform(0.0, 1.0, (1, 3, 4, 5))},
    [pt("neighbours_equal", "kink", 1e-2, _set("idepth", (0, 0, 0, 1), lambda x: x["idepth"][0, 0, 0, 0]))], dir_scale=0.1)
SPECS["kornia_cauchy_loss"] = Spec(lambda r: _reg(r, "img", "target"))
SPECS["kornia_geman_mcclure_loss"] = Spec(lambda r: _reg(r, "img", "target"))
SPECS["kornia_charbonnier_loss"] = Spec(lambda r: _reg(r, "img", "target"))


def _unit_std(x, r, o):  # one embedding dimension with (unbiased) variance 1 - eps: std = 1
    column = x["emb"][:, 0] - x["emb"][:, 0].mean()
    x["emb"][:, 0] = column / column.std(ddof=1) * math.sqrt(1 - 1e-4)
    return x


SPECS["pml_vicreg_loss"] = Spec(lambda r: {"emb": randn(r, 6, 4), "ref_emb": randn(r, 6, 4)},
                                [pt("std_eq_1", "kink", 1e-2, _unit_std)], dir_scale=0.1)
SPECS["optax_convex_kl_divergence"] = Spec(lambda r: {"log_predictions": randn(r, 4, 5), "targets": _softmax_rows(randn(r, 4, 5))})
SPECS["optax_kl_with_log_targets"] = Spec(lambda r: {"log_predictions": randn(r, 4, 5),
                                                     "log_targets": np.log(_softmax_rows(randn(r, 4, 5)))})
SPECS["optax_safe_ce_smoothed_labels"] = Spec(lambda r: {"logits": randn(r, 4, 5, s=2), "labels": np.eye(5)[labels(r, 4, 5)]})
SPECS["sklearn_mape_loss"] = Spec(lambda r: {"y_true": r.uniform(0.5, 3.0, 8), "y_pred": r.uniform(0.5, 3.0, 8)},
                                  [pt("exact_prediction", "kink", 1e-2, _set("y_pred", 0, lambda x: x["y_true"][0]))])
_positive_pair = lambda r: {"y_true": r.uniform(0.5, 3.0, 8), "y_pred": r.uniform(0.5, 3.0, 8)}
SPECS["sklearn_poisson_deviance"] = Spec(_positive_pair, dir_scale=0.1)
SPECS["sklearn_gamma_deviance"] = Spec(_positive_pair, dir_scale=0.1)
SPECS["torchmetrics_smape_loss"] = Spec(lambda r: _reg(r, "preds", "target"),
                                        [pt("exact_prediction", "kink", 1e-2, _set("preds", 0, lambda x: x["target"][0])),
                                         pt("zero_prediction", "kink", 1e-2, _set("preds", 1, lambda x: 0.0))], dir_scale=0.1)
SPECS["torchmetrics_tweedie_deviance"] = Spec(lambda r: {"preds": r.uniform(0.5, 3.0, 8), "targets": r.uniform(0.0, 3.0, 8)},
                                              dir_scale=0.1)
SPECS["haiku_mnist_l2_loss"] = Spec(lambda r: {"logits": randn(r, 4, 10), "labels": labels(r, 4, 10), "params": randn(r, 6)})
SPECS["gram_style_loss"] = Spec(lambda r: {"input": randn(r, 1, 2, 3, 3), "target_feature": randn(r, 1, 2, 3, 3)})
SPECS["auraloss_esr_loss"] = Spec(lambda r: {"input": randn(r, 2, 16), "target": randn(r, 2, 16)})
SPECS["auraloss_dc_loss"] = Spec(lambda r: {"input": randn(r, 2, 16), "target": randn(r, 2, 16)})
SPECS["auraloss_snr_loss"] = Spec(lambda r: {"input": randn(r, 2, 16), "target": randn(r, 2, 16)})
SPECS["smp_mcc_loss"] = Spec(lambda r: {"y_pred": r.uniform(0.05, 0.95, (2, 1, 8)), "y_true": binary(r, 2, 1, 8)})
SPECS["mmseg_dice_loss"] = Spec(lambda r: {"pred": randn(r, 2, 3, 4), "target": labels(r, 8, 3).reshape(2, 4),
                                           "valid_mask": np.ones((2, 4))})
SPECS["kornia_binary_focal_logits"] = Spec(lambda r: {"pred": randn(r, 8, s=2), "target": binary(r, 8)})


def _pair_masks(r):
    positive = binary(r, 4, 4)
    positive[:, 0], positive[:, 1] = 1.0, 0.0  # every row has a positive and a negative pair
    return {"mat": r.uniform(-1.0, 1.0, (4, 4)), "pos_mask": positive, "neg_mask": 1.0 - positive}


def _circle_negative_edge(x, r, o):  # s = -m on a negative pair whose row's other negatives are below -m
    row = x["neg_mask"][1] > 0
    x["mat"][1, row] = -0.6  # relu(s + m) = 0: they do not swamp the kink of the logsumexp
    x["mat"][1, 1] = -0.4
    return x


def _circle_positive_edge(x, r, o):  # s = 1 + m on a positive pair whose row's other positives are above 1 + m
    row = x["pos_mask"][0] > 0
    x["mat"][0, row] = 1.6  # relu(1 + m - s) = 0: they do not swamp the kink of the logsumexp
    x["mat"][0, 0] = 1.4
    return x


SPECS["pml_circle_loss"] = Spec(_pair_masks, [pt("positive_at_1_plus_m", "kink", 1e-2, _circle_positive_edge),
                                              pt("negative_at_minus_m", "kink", 1e-2, _circle_negative_edge)],
                                dir_scale=0.1)
SPECS["pml_multi_similarity_loss"] = Spec(_pair_masks, dir_scale=0.1)
SPECS["monai_generalized_dice"] = Spec(lambda r: {"input": randn(r, 2, 2, 4), "target": binary(r, 2, 2, 4)})
SPECS["yolo_bce_blur_loss"] = Spec(lambda r: {"pred": randn(r, 8, s=2), "true": binary(r, 8)})
SPECS["pytorch_examples_vae_loss"] = Spec(lambda r: {"recon_x": r.uniform(0.1, 0.9, (2, 784)), "x": r.uniform(0.0, 1.0, (2, 784)),
                                                     "mu": randn(r, 2, 4), "logvar": randn(r, 2, 4)}, dir_scale=0.01)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def run_sources(only: set[str] | None, lines: int, verbose: bool) -> list[Outcome]:
    outcomes = []
    folder = os.path.join(CORPUS, "source")
    for jf in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
        case = json.load(open(os.path.join(folder, jf)))
        if only and case["id"] not in only:
            continue
        t0 = time.perf_counter()
        spec = SPECS.get(case["id"])
        if spec is None:
            o = Outcome(case["id"], skipped="no input spec in verify_corpus.py")
        else:
            try:
                mod = load_module(os.path.join(folder, case["id"] + ".py"))
                o = check_loss(case, spec, mod, lines, verbose)
            except Exception as ex:  # a broken corpus file is a finding, not a crash
                o = Outcome(case["id"], problems=[f"crashed: {type(ex).__name__}: {ex}"], checks=1)
        _print_outcome(o, time.perf_counter() - t0)
        outcomes.append(o)
    return outcomes


def _print_outcome(o: Outcome, seconds: float) -> None:
    if o.skipped:
        print(f"SKIP  {o.case_id:32s} {o.skipped}")
    elif o.problems:
        print(f"DIFF  {o.case_id:32s} {o.checks - len(o.problems)}/{o.checks} checks agree ({seconds:.1f} s)")
        for p in o.problems:
            print(f"        - {p}")
    else:
        print(f"ok    {o.case_id:32s} {o.checks} checks agree ({seconds:.1f} s)" + (f"  [{'; '.join(o.notes)}]" if o.notes else ""))
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated case ids")
    ap.add_argument("--kind", choices=["source", "models", "compositions", "all"], default="all")
    ap.add_argument("--lines", type=int, default=6, help="random lines per case (default 6)")
    ap.add_argument("--seed", type=int, default=0, help="another draw of random points and lines (default 0)")
    ap.add_argument("--corpus", help="a copy of tests/corpus to check instead (e.g. with labels changed on purpose)")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    global SEED, CORPUS
    SEED, CORPUS = a.seed, a.corpus or CORPUS
    _import_frameworks()
    _install_stubs()
    only = set(a.only.split(",")) if a.only else None
    outcomes: list[Outcome] = []
    if a.kind in ("source", "all"):
        outcomes += run_sources(only, a.lines, a.v)
    if a.kind in ("models", "all"):
        outcomes += run_models(only, a.lines, a.v)
    if a.kind in ("compositions", "all"):
        outcomes += run_compositions(only, a.lines, a.v)
    checked = [o for o in outcomes if not o.skipped]
    bad = [o for o in checked if o.problems]
    print(f"\n{len(checked)} cases verified ({sum(o.checks for o in checked)} checks), "
          f"{len(bad)} disagree, {len(outcomes) - len(checked)} skipped")
    return 1 if bad else 0




# --------------------------------------------------------------------------------------------
# Models and compositions: lines in parameter space
# --------------------------------------------------------------------------------------------


class ModelEvaluator:
    """f(t) = sum(R * objective(params0 + t*d)) for a model (or loss(model(x))) in train mode."""

    def __init__(self, model, objective: Callable, names: list[str], direction: dict, projection):
        self.model, self.objective, self.names = model, objective, names
        self.base = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.direction, self.R = direction, projection

    def _params(self, t):
        return {n: (self.base[n] + t * self.direction[n]) if n in self.names else self.base[n] for n in self.base}

    def _f(self, t):
        torch.manual_seed(0)  # the same dropout masks and Gumbel noise at every t: data of the step
        # the math kernel of scaled_dot_product_attention has double backward (flash on CPU has not)
        with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.MATH]):
            out = self.objective(self._params(t))
        return (out * self.R).sum() if self.R is not None else out.sum()

    def value(self, t: float) -> float:
        with torch.no_grad():
            return float(self._f(torch.tensor(float(t))))

    def derivative(self, order: int):
        def g(t: float) -> float:
            tt = torch.tensor(float(t), requires_grad=True)
            out = self._f(tt)
            for _ in range(order):
                if not out.requires_grad:
                    return 0.0
                (out,) = torch.autograd.grad(out, tt, create_graph=True, allow_unused=True)
                if out is None:
                    return 0.0
            return float(out.detach())

        return g


def _param_names(model, wrt) -> list[str]:
    names = [n for n, _ in model.named_parameters()]
    if wrt in (None, "params"):
        return names
    return [n for n in names if any(n == w or n.startswith(w + ".") for w in wrt)]


def _matches(name: str, cut: str) -> bool:
    return name == cut or name.startswith(cut + ".")


def judge(out: Outcome, case: dict, found: list[Feature], top_order: int) -> None:
    """Compare the features seen on all lines with the label's verdict, kinds and class."""
    primary = {k for k in case["kinds"] if k in ("kink", "jump", "infinite-slope")}
    got_value = {f.kind for f in found if f.order == 0}
    if case["differentiable"]:
        out.expect(not got_value, f"labelled differentiable, value features {_fmt([f for f in found if f.order == 0])}")
    else:
        out.expect(bool(got_value), f"labelled not differentiable ({sorted(primary)}), no value feature found")
        out.expect(not (primary - got_value), f"labelled kinds {sorted(primary - got_value)} not seen (saw {sorted(got_value)})")
        out.expect(not (got_value - primary), f"saw {sorted(got_value - primary)} not in the label {sorted(primary)}")
    smooth = case["smoothness"]
    lowest = min((f.order for f in found), default=None)
    if smooth == "discontinuous":
        out.expect("jump" in got_value, "labelled discontinuous, no jump seen")
    elif smooth == "C0":
        out.expect("jump" not in got_value and bool(got_value & {"kink", "infinite-slope"}), f"labelled C0, saw {sorted(got_value)}")
    elif smooth == "Cinf":
        out.expect(lowest is None, f"labelled Cinf, features up to derivative order {top_order}: {_fmt(found)}")
    else:
        out.expect(lowest == ORDER_OF_CLASS[smooth], f"labelled {smooth}, lowest feature order {lowest}: {_fmt(found)}")


def check_parametric(case: dict, build: Callable, make: Callable, lines: int, verbose: bool) -> Outcome:
    """build() -> (model, objective(params, inputs)); make(rng) -> inputs. Checks verdict, class, cuts."""
    out = Outcome(case["id"])
    rng = np.random.default_rng([zlib.crc32(case["id"].encode()), SEED])
    torch.manual_seed(0)
    model, objective = build()
    model = model.double().train()
    names = _param_names(model, case.get("wrt", "params"))
    want_order = ORDER_OF_CLASS[case["smoothness"]]
    top_order = 2

    def evaluator(inputs):
        d = {n: torch.as_tensor(rng.standard_normal(tuple(p.shape))) * (0.5 * float(p.detach().abs().mean()) + 0.05)
             for n, p in model.named_parameters() if n in names}
        obj = functools.partial(_call_objective, objective, model, inputs)
        with torch.no_grad():
            torch.manual_seed(0)
            y = obj({n: p.detach() for n, p in model.named_parameters()})
        R = torch.as_tensor(rng.standard_normal(tuple(y.shape))) if y.dim() > 0 else None
        return ModelEvaluator(model, obj, names, d, R)

    # generic points and cuts: which parameters get no gradient at all
    zero_everywhere = set(names)
    for _ in range(4):
        ev = evaluator(make(rng))
        h = 1e-6
        f0, fp, fm = ev.value(0.0), ev.value(h), ev.value(-h)
        right, left = (fp - f0) / h, (f0 - fm) / h
        out.expect(abs(right - left) <= 1e-3 * (1 + abs(right) + abs(left)),
                   f"generic point not smooth: one-sided slopes {left:.6g} vs {right:.6g}")
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        loss = _objective_at_base(ev)
        if loss.requires_grad:
            loss.backward()
        for n, p in model.named_parameters():
            if n in zero_everywhere and p.grad is not None and bool((p.grad != 0).any()):
                zero_everywhere.discard(n)
    want_cuts = [c["param"] for c in case.get("cuts") or []]
    labelled = {n for n in names if any(_matches(n, c) for c in want_cuts)}
    out.expect(labelled == zero_everywhere,
               f"parameters without gradient {sorted(zero_everywhere)}, labelled cuts {sorted(labelled)}")
    if want_cuts:
        out.expect("zero-gradient" in case["kinds"], "cuts labelled but no zero-gradient kind")
    if case.get("ste"):
        # the value jumps (checked below), yet the parameters in front of the estimator get a
        # gradient: every parameter that is not a labelled cut has one (checked above)
        out.expect("jump" in case["kinds"] and bool(set(names) - zero_everywhere),
                   "straight-through labelled, but no jump labelled or no parameter gets a gradient")

    found: list[Feature] = []
    for _ in range(lines):
        ev = evaluator(make(rng))
        here: list[Feature] = []
        for order in range(min(top_order, want_order + 1) + 1):
            F = ev.value if order == 0 else ev.derivative(order)
            feats = scan_line(F, -1.0, 1.0, order=order)
            here += feats
            if feats:
                break
        found += here
    if verbose:
        print(f"  {case['id']}: features {_fmt(found)}; no gradient: {sorted(zero_everywhere)}")
    judge(out, case, found, top_order)
    return out


def _call_objective(objective, model, inputs, params):
    return objective(params, {k: _to_torch(v) for k, v in inputs.items()})


def _objective_at_base(ev: ModelEvaluator):
    torch.manual_seed(0)
    params = dict(ev.model.named_parameters())
    with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.MATH]):
        out = ev.objective(params)
    return (out * ev.R).sum() if ev.R is not None else out.sum()


MODEL_INPUTS: dict[str, Callable] = {
    "timm_mlp_relu": lambda r: {"x": randn(r, 6, 8)},
    "cnn_bn_maxpool": lambda r: {"x": randn(r, 3, 1, 8, 8)},
    "cnn_bn_gelu_avgpool": lambda r: {"x": randn(r, 3, 1, 8, 8)},
    "nanogpt_block_sdpa": lambda r: {"x": randn(r, 2, 5, 8)},
    "transformer_mha_block": lambda r: {"src": randn(r, 2, 5, 8)},
    "lsq_quant_linear": lambda r: {"x": randn(r, 6, 8)},
    "moe_topk_router": lambda r: {"x": randn(r, 8, 8)},
    "linear_probe_no_grad": lambda r: {"x": randn(r, 6, 8)},
    "vqvae_codebook": lambda r: {"x": randn(r, 8, 6)},
    "lstm_classifier": lambda r: {"x": randn(r, 3, 5, 4)},
    "gru_tagger": lambda r: {"tokens": labels(r, 12, 20).reshape(3, 4)},
    "smooth_mlp_gelu_silu": lambda r: {"x": randn(r, 6, 8)},
    "dropout_tanh_mlp": lambda r: {"x": randn(r, 6, 8)},
    "adaptive_maxpool_1d": lambda r: {"x": randn(r, 3, 4, 7)},
    "unused_submodule": lambda r: {"x": randn(r, 6, 8)},
    "bucket_long_cast": lambda r: {"x": randn(r, 8, 4)},
    "modulelist_residual": lambda r: {"x": randn(r, 6, 8)},
    "resnet_basic_block": lambda r: {"x": randn(r, 2, 1, 6, 6)},
    "hard_attention_argmax": lambda r: {"x": randn(r, 6, 8)},
    "gumbel_softmax_soft": lambda r: {"x": randn(r, 6, 8)},
    "rmsnorm_llama_mlp": lambda r: {"x": randn(r, 6, 8)},
    "convnext_block": lambda r: {"x": randn(r, 2, 4, 5, 5)},
    "mobilenet_hardswish_se": lambda r: {"x": randn(r, 2, 4, 5, 5, s=2)},
    "detached_aux_head": lambda r: {"x": randn(r, 6, 8)},
    "input_gated_where": lambda r: {"x": randn(r, 6, 8)},
    "elu_mlp": lambda r: {"x": randn(r, 6, 8)},
    "clamped_output": lambda r: {"x": randn(r, 6, 8, s=3)},
    "byol_target_detach": lambda r: {"x": randn(r, 6, 8)},
    "torchvision_squeezenet_fire": lambda r: {"x": randn(r, 2, 4, 5, 5)},
    "torchvision_mobilenetv2_block": lambda r: {"x": randn(r, 2, 4, 5, 5)},
    "torchvision_shufflenetv2_block": lambda r: {"x": randn(r, 2, 4, 5, 5)},
    "torchvision_efficientnet_mbconv": lambda r: {"x": randn(r, 2, 8, 5, 5)},
    "timm_vit_mlp_block": lambda r: {"x": randn(r, 2, 5, 4)},
    "timm_swiglu_packed_block": lambda r: {"x": randn(r, 2, 5, 4)},
    "ldm_geglu_feedforward": lambda r: {"x": randn(r, 6, 3)},
    "brevitas_ste_fake_quant": lambda r: {"x": randn(r, 6, 4)},
    "hf_t5_gated_dense": lambda r: {"hidden_states": randn(r, 2, 5, 4)},
    "binarynet_mlp": lambda r: {"x": randn(r, 6, 4)},
}


def _model_builder(path: str, case: dict) -> Callable:
    def build():
        mod = load_module(path)
        model = getattr(mod, case["class"])(**(case.get("init") or {}))

        def objective(params, inputs):
            return torch.func.functional_call(model, params, kwargs=inputs)

        return model, objective

    return build


def run_models(only, lines, verbose):
    outcomes = []
    folder = os.path.join(CORPUS, "models")
    for jf in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
        case = json.load(open(os.path.join(folder, jf)))
        if only and case["id"] not in only:
            continue
        t0 = time.perf_counter()
        make = MODEL_INPUTS.get(case["id"])
        if make is None:
            o = Outcome(case["id"], skipped="no input maker in verify_corpus.py")
        else:
            try:
                o = check_parametric(case, _model_builder(os.path.join(folder, case["id"] + ".py"), case), make, lines, verbose)
            except Exception as ex:
                o = Outcome(case["id"], problems=[f"crashed: {type(ex).__name__}: {ex}"], checks=1)
        _print_outcome(o, time.perf_counter() - t0)
        outcomes.append(o)
    return outcomes


# loss data for each composition (the model output fills the loss's first tensor argument)
COMPOSITION_DATA: dict[str, Callable] = {
    "mlp_relu__smooth_l1": lambda r: {"target": randn(r, 6, 4)},
    "smooth_mlp__log_cosh": lambda r: {"y_true": randn(r, 6, 2)},
    "smooth_mlp__l1_hierarchy": lambda r: {"target": randn(r, 6, 2, s=0.3)},
    "quant_linear__mse": lambda r: {"y": randn(r, 6, 4)},
    "linear_probe__label_smoothing": lambda r: {"target": labels(r, 6, 3)},
    "hard_attention__mse": lambda r: {"y": randn(r, 6, 8)},
    "elu_mlp__huber": lambda r: {"target": randn(r, 6, 2)},
    "tanh_dropout__multi_margin": lambda r: {"labels": labels(r, 6, 2)},
}


def _composition_builder(comp: dict) -> Callable:
    model_path, cls_name = comp["model"].split("::")
    model_case = {"class": cls_name, "init": comp.get("init") or {}}
    build_model = _model_builder(os.path.join(CORPUS, model_path), model_case)

    def build():
        model, model_objective = build_model()
        if "::" in comp["loss"]:
            loss_path, name = comp["loss"].split("::")
            loss_fn, _ = call_target({"function": name if "." in name or not name[0].isupper() else name + ".forward",
                                      "fixed": comp.get("fixed") or {}}, load_module(os.path.join(CORPUS, loss_path)))
            first = next(iter(inspect.signature(loss_fn).parameters))
        else:  # an expression in `out` and data names, evaluated with torch functions (this tool's own input)
            expr = comp["loss"]
            loss_fn = lambda out, **data: eval(expr, {"abs": torch.abs, "torch": torch}, {"out": out, **data})
            first = "out"

        def objective(params, inputs):
            model_in = {k[2:]: v for k, v in inputs.items() if k.startswith("m:")}
            data = {k[2:]: v for k, v in inputs.items() if k.startswith("l:")}
            out = model_objective(params, model_in)
            return loss_fn(**{first: out}, **data)

        return model, objective

    return build


def run_compositions(only, lines, verbose):
    outcomes = []
    for comp in json.load(open(os.path.join(CORPUS, "compositions.json"))):
        if only and comp["id"] not in only:
            continue
        t0 = time.perf_counter()
        model_id = os.path.splitext(os.path.basename(comp["model"].split("::")[0]))[0]
        make_model, make_data = MODEL_INPUTS.get(model_id), COMPOSITION_DATA.get(comp["id"])
        if make_model is None or make_data is None:
            o = Outcome(comp["id"], skipped="no input maker in verify_corpus.py")
        else:
            def make(r, make_model=make_model, make_data=make_data):
                return {**{"m:" + k: v for k, v in make_model(r).items()}, **{"l:" + k: v for k, v in make_data(r).items()}}

            try:
                o = check_parametric(comp, _composition_builder(comp), make, lines, verbose)
            except Exception as ex:
                o = Outcome(comp["id"], problems=[f"crashed: {type(ex).__name__}: {ex}"], checks=1)
        _print_outcome(o, time.perf_counter() - t0)
        outcomes.append(o)
    return outcomes


if __name__ == "__main__":
    sys.exit(main())
