"""Autodiff traps: where PyTorch or JAX return NaN, inf or a wrong gradient of a loss.

The mathematics may be fine and the gradient still break: ``where(x > 0, sqrt(x), 0)`` is NaN
for x <= 0 (the unselected branch is differentiated too, and 0 * nan = nan), ``relu(x) -
relu(-x)`` is x but autodiff says its slope at 0 is 0, ``log(1 + exp(x))`` overflows in
float32 for x > 88.72. :func:`find_traps` looks for them on the program as written:

1. **where to look**: a grid of magnitudes up to :data:`MAGNITUDE` (range edges: exp
   overflows at 88.72 in float32, 1 - sigmoid(x) rounds to 0 past 16.6), the points the
   analyzer probed, points on the sets where a switch ties, a root or logarithm reaches 0, a
   division by 0;
2. **what autodiff returns**: the model of :mod:`diffcheck.autodiff`, for PyTorch and JAX, in
   the chosen dtype, at all points at once;
3. **what it should return**: the derivative of the mathematics (SymPy, exact at suspect
   points; one-sided difference quotients where a switch ties);
4. **where it holds**: the conditions of the program true at a trap point (the unselected
   side of a where, a root's argument <= 0, a kink's tie, a range edge found by bisection),
   reduced to the fewest that still hold at every sampled trap point and no other;
5. **what kind**: the exact-arithmetic model wrong too is a trap of the program (``dtype``
   ``any``); right there, a float range trap (``overflow`` / ``underflow``, by the first
   intermediate that overflowed to inf or underflowed to 0).

>>> from diffcheck.api import check
>>> [(f.code, f.where, f.autodiff["effect"]) for f in check("where(x > 0, sqrt(x), 0)").findings
...  if f.kind == "autodiff"]
[('DC501', 'x <= 0', 'nan')]
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp

from diffcheck import probe as probing
from diffcheck.autodiff import EXACT, FRAMEWORKS, Arithmetic, Run, Unsupported, gradients
from diffcheck.autodiff_rules import CONDITIONS, RULES
from diffcheck.model import Finding
from diffcheck.numeric import (
    DIGITS,
    compile_expr,
    compile_numpy,
    compile_numpy_together,
    evaluate,
    partial_derivative,
    to_mpf,
)
from diffcheck.parser import ParsedExpression, ParseError, parse
from diffcheck.program import Node, ProgramError, Span, from_expression
from diffcheck.rules import RULES as CODES
from diffcheck.sets import equation_text, points_on_set, same_set

#: variables are searched up to this magnitude (a float32 square overflows only past 1.8e19)
MAGNITUDE = 1e4
#: the grid of values each variable takes: zero, small, moderate, and range edges
GRID = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 1e-3, -1e-3, 10.0, -10.0, 20.0,
        -20.0, 50.0, -50.0, 100.0, -100.0, 200.0, -200.0, 1000.0, -1000.0, MAGNITUDE,
        -MAGNITUDE, 1e-8, -1e-8, 1e-6, -1e-6)
#: random grid combinations tried for two or more variables
RANDOM_POINTS = 160
#: suspect points whose derivative is computed exactly (the rest use float64)
MAX_EXACT_CHECKS = 64
#: at most this many trap findings per loss
MAX_FINDINGS = 6
#: seconds the search may take before it reports what it has
TIME_BUDGET = 3.0
#: of which at most this long goes to finding points on the sets of ties and roots
SET_SEARCH_SECONDS = 0.5
#: relative and absolute tolerance of a gradient, per dtype
TOLERANCE = {"float32": (1e-4, 1e-6), "float64": (1e-10, 1e-13)}

FRAMEWORK_NAMES = {"torch": "PyTorch", "jax": "JAX"}
#: a finite gradient error below this many machine epsilons of the largest term of the
#: backward pass is cancellation noise, not a trap
CANCELLATION = 100
_FLOAT64 = Arithmetic("float64")


def find_traps(parsed: ParsedExpression, wrt: Sequence[str], dtype: str = "float32",
               values: Mapping[str, Any] | None = None,
               kink_points: Sequence[Mapping[str, float]] = (),
               tree: Node | None = None) -> list[Finding]:
    """Autodiff findings (kind ``autodiff``) of one parsed loss; [] when it has none.

    ``values`` are the ``--set`` values the parser used; ``kink_points`` the points where the
    analyzer probed its findings (looked at first). ``tree`` is the program as written when a
    reader other than the expression parser built it (its variables are ``parsed``'s); by
    default it is read from ``parsed.source``.
    """
    if dtype not in TOLERANCE:
        raise ValueError(f"dtype must be float32 or float64, not {dtype!r}")
    if tree is None:
        try:
            tree = from_expression(parsed.source, values)
        except (ProgramError, SyntaxError):
            return []
    if any(node.op == "model" for node in tree.walk()) or not wrt:
        return []
    try:
        search = _Search(parsed, tree, list(parsed.variables), list(wrt), dtype, values or {})
        return search.run(kink_points)
    except Unsupported:
        return []


# --------------------------------------------------------------------------------------------
# What autodiff returns, and what it should
# --------------------------------------------------------------------------------------------


@dataclass
class Truth:
    """The exact partial derivative at a point: a value, or why there is none."""

    value: float | None
    differentiable: bool = True
    infinite_slope: bool = False


@dataclass
class Status:
    """What happened at one point: traps per framework (var -> "nan"|"inf"|"wrong")."""

    in_domain: bool
    known: bool
    traps: dict[str, dict[str, str]] = field(default_factory=dict)
    truth: dict[str, Truth] = field(default_factory=dict)

    @property
    def is_trap(self) -> bool:
        return any(self.traps.values())

    def same_trap(self, frameworks: set[str], nonfinite: bool) -> bool:
        """A trap in one of ``frameworks`` of the same class (NaN/inf, or a wrong value)."""
        return any(fw in frameworks and any((kind != "wrong") == nonfinite
                                            for kind in self.traps[fw].values())
                   for fw in self.traps)


@dataclass
class _TieScreen:
    """:meth:`_Search.screen_ties`: per point, a clear kink, clearly smooth (with its slopes)."""

    kinked: np.ndarray
    smooth: np.ndarray
    slopes: dict[str, np.ndarray]


def _trap_class(status: Status) -> tuple[set[str], bool]:
    """The frameworks a trap point fails in, and whether it fails with NaN/inf there."""
    frameworks = {fw for fw, found in status.traps.items() if found}
    nonfinite = any(kind != "wrong" for found in status.traps.values() for kind in found.values())
    return frameworks, nonfinite


def _judge(model: float, truth: Truth, ar: Arithmetic, dtype: str) -> str | None:
    """How ``model`` fails against ``truth`` in this dtype, or None when it is right."""
    if not truth.differentiable:
        if math.isnan(model):
            return "nan"
        if math.isinf(model) and not truth.infinite_slope:
            return "inf"
        return None  # a subgradient choice: the kink finding's note says which
    if truth.value is None:
        return None
    exact = truth.value
    if abs(exact) > math.sqrt(ar.largest):
        return None  # a slope this large (1.8e19 in float32) is broken training already
    if math.isnan(model):
        return "nan"
    if math.isinf(model):
        return "inf"
    relative, absolute = TOLERANCE[dtype]
    if abs(model - exact) > relative * abs(exact) + absolute * (1 + abs(exact)):
        return "wrong"
    return None


class _Search:
    def __init__(self, parsed: ParsedExpression, tree: Node, names: list[str], wrt: list[str],
                 dtype: str, values: Mapping[str, Any]) -> None:
        self.parsed = parsed
        self.tree = tree
        self.names = names
        self.wrt = [w for w in wrt if w in names]
        self.dtype = dtype
        self.values = values
        self.ar = Arithmetic(dtype)
        self.deadline = time.monotonic() + TIME_BUDGET
        self.symbols = [sp.Symbol(n, real=True) for n in names]
        self.expr = parsed.expr
        self.loss_fn = compile_expr(self.expr, tuple(self.symbols))
        self.float_loss = compile_numpy(self.expr, self.symbols)
        self.derivatives = {w: partial_derivative(self.expr, sp.Symbol(w, real=True))
                            for w in self.wrt}
        # one function for all the derivatives: they share the loss's forward pass
        self.float_derivatives = compile_numpy_together(list(self.derivatives.values()),
                                                        self.symbols)
        from diffcheck.analysis.candidates import propose_candidates

        switch_sets = {c.g for c in propose_candidates(self.expr)}
        self.switch_fns = [compile_numpy(g, self.symbols) for g in switch_sets]
        self.atoms = _Atoms(self)
        self.exact_checks = 0
        #: exact truths already computed, by point (the regions' pools repeat points)
        self.exact_truths: dict[tuple[bytes, bool], dict[str, Truth] | None] = {}

    # --- evaluation -------------------------------------------------------------------------

    def model(self, points: np.ndarray, ar: Arithmetic | None = None) -> dict[str, dict[str, np.ndarray]]:
        """framework -> wrt variable -> gradients at the points (rows of ``points``).

        The extra key ``"|cotangent|"`` holds the largest finite magnitude of the forward values
        and cotangents at each point: the scale of the terms the gradient was computed from.
        """
        ar = ar or self.ar
        env = {n: points[:, i].astype(ar.dtype) for i, n in enumerate(self.names)}
        result = {}
        shape = (len(points),)
        for fw in FRAMEWORKS:
            run = gradients(self.tree, fw, ar, env, self.wrt)
            result[fw] = {w: np.broadcast_to(np.asarray(run.gradient[w], dtype=np.float64), shape)
                          for w in self.wrt}
            scale = np.zeros(shape)
            with np.errstate(all="ignore"):
                terms = [*run.cotangents.values(),
                         *(run.values[id(n)] for n in run.order if n.op not in CONDITIONS)]
                for term in terms:
                    size = np.abs(np.broadcast_to(np.asarray(term, dtype=np.float64), shape))
                    scale = np.fmax(scale, np.where(np.isfinite(size), size, 0.0))
            result[fw]["|cotangent|"] = scale
        return result

    def program_defined(self, points: np.ndarray) -> np.ndarray:
        """Whether the program as written has a finite value in float64 at each point.

        SymPy's value can be defined where the program's is not: in log(1 + f) - log(1 + y)
        at f = y = -2 the complex logarithms cancel, but the program computes NaN.
        """
        env = {n: points[:, i].astype(np.float64) for i, n in enumerate(self.names)}
        run = gradients(self.tree, FRAMEWORKS[0], _FLOAT64, env, [])
        value = np.broadcast_to(np.asarray(run.value, dtype=np.float64), (len(points),))
        return ~np.isnan(value)  # an infinite value may be a huge one; NaN is no value

    def float_truth(self, columns: list[np.ndarray], shape: tuple[int],
                    dtype: Any = np.float64) -> dict[str, np.ndarray]:
        """The true partial derivatives at every point, in float64 (or long double)."""
        try:
            together = self.float_derivatives(*columns)
            return {w: _real_vector(value, shape, dtype)
                    for w, value in zip(self.derivatives, together)}
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            # one derivative that cannot be evaluated leaves the others their values
            return {w: _vector(compile_numpy(d, self.symbols), columns, shape, dtype)
                    for w, d in self.derivatives.items()}

    def statuses(self, points: np.ndarray) -> list[Status]:
        """Trap status at each point: model in the dtype against the true derivative."""
        points = points.astype(self.ar.dtype).astype(np.float64)  # what the dtype can hold
        model = self.model(points)
        program_defined = self.program_defined(points)
        columns = [points[:, i] for i in range(len(self.names))]
        shape = (len(points),)
        with np.errstate(all="ignore"):
            float_truth = self.float_truth(columns, shape)
            float_value = _vector(self.float_loss, columns, shape)
            # where float64 itself overflows (exp(1000)), long double (x87: up to 1e4932) is
            # a cheaper second opinion than exact arithmetic
            wide = ~np.isfinite(float_value)
            for w in self.wrt:
                wide |= ~np.isfinite(float_truth[w])
            if wide.any() and np.finfo(np.longdouble).max > np.finfo(np.float64).max:
                long_columns = [c[wide].astype(np.longdouble) for c in columns]
                narrow = (int(wide.sum()),)
                float_value = float_value.copy()
                float_value[wide] = _vector(self.float_loss, long_columns, narrow, np.longdouble)
                for w, wide_truth in self.float_truth(long_columns, narrow, np.longdouble).items():
                    float_truth[w] = float_truth[w].copy()
                    float_truth[w][wide] = wide_truth
            on_set = np.zeros(shape, dtype=bool)
            near_set = np.zeros(shape, dtype=bool)
            scale = 1 + np.max(np.abs(points), axis=1) if len(self.names) else np.ones(shape)
            for fn in self.switch_fns:
                g = np.abs(_vector(fn, columns, shape))
                on_set |= g == 0
                # within the dtype's rounding of a switch, float32 and the mathematics may
                # take different branches: such points tell nothing
                near_set |= (g > 0) & (g <= 1e-5 * scale)
            defined = np.isfinite(float_value) & program_defined
            finite_model = np.ones(shape, dtype=bool)
            for fw in FRAMEWORKS:
                for w in self.wrt:
                    finite_model &= np.isfinite(model[fw][w])
            ties = self.screen_ties(points, on_set & defined & finite_model)
        statuses = []
        for index, point in enumerate(points):
            if near_set[index]:
                statuses.append(Status(True, False))
                continue
            if ties.kinked[index]:
                # no gradient exists and autodiff returns finite numbers: a subgradient choice,
                # never a trap (the kink finding's note says which), and nothing to compute
                # exactly
                statuses.append(Status(True, True, {}, {w: Truth(None, False) for w in self.wrt}))
                continue
            values = {fw: {w: float(model[fw][w][index]) for w in self.wrt} for fw in FRAMEWORKS}
            scales = {fw: float(model[fw]["|cotangent|"][index]) for fw in FRAMEWORKS}
            if ties.smooth[index]:
                truth = {w: Truth(float(ties.slopes[w][index])) for w in self.wrt}
                statuses.append(Status(True, True, self._traps(values, truth, scales), truth))
                continue
            floats = {w: float(float_truth[w][index]) for w in self.wrt}
            statuses.append(self.status(point, values, floats, bool(on_set[index]),
                                        bool(defined[index]), scales))
        return statuses

    def screen_ties(self, points: np.ndarray, where: np.ndarray) -> _TieScreen:
        """A float64 reading of the loss at points on a switch's set, before exact arithmetic.

        Only where ``where`` holds (a defined loss and finite autodiff values). Along each
        ``wrt`` axis, one-sided difference quotients at two step sizes: a **kink** when they
        settle and disagree far beyond their rounding noise, with a gap that stays as the step
        shrinks; **smooth** when on every axis the gap shrinks with the step and the central
        quotients agree to 1e-8 (float32's tolerance is 1e-4), and the slopes along two
        oblique directions match the axis slopes (1 - IoU of two empty intervals is flat along
        each axis and not along p2 = -p1). Anything less clear (an infinite slope, a side
        outside the domain, a kink seen only obliquely, a noisy reading) is left to
        :meth:`exact_truth`.
        """
        n = len(points)
        screen = _TieScreen(np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), {})
        if not where.any() or not self.wrt:
            return screen
        rows = np.flatnonzero(where)
        chosen = points[rows]
        kinked = np.zeros(len(rows), dtype=bool)
        smooth = np.ones(len(rows), dtype=bool)
        slopes = {}
        for w in self.wrt:
            direction = np.zeros(len(self.names))
            direction[self.names.index(w)] = 1.0
            reading = probing.float_quotients(self.float_loss, chosen, direction)
            kinked |= reading.kink
            smooth &= reading.smooth
            slopes[w] = reading.slope
        if len(self.names) >= 2:
            for pattern in ((1.0, -1.0), (1.0, 2.0)):
                direction = np.array([pattern[i % 2] if name in self.wrt else 0.0
                                      for i, name in enumerate(self.names)])
                reading = probing.float_quotients(self.float_loss, chosen, direction)
                with np.errstate(all="ignore"):
                    expected = sum(slopes[w] * direction[self.names.index(w)] for w in self.wrt)
                    smooth &= reading.smooth & (np.abs(reading.slope - expected)
                                                <= 1e-6 * (1 + np.abs(expected)))
        # float32's tolerance (1e-4) is far above the quotients' error; float64's is not
        if TOLERANCE[self.dtype][0] < 1e-6:
            smooth[:] = False
        screen.kinked[rows] = kinked
        screen.smooth[rows] = smooth & ~kinked
        screen.slopes = {w: np.full(n, np.nan) for w in self.wrt}
        for w in self.wrt:
            screen.slopes[w][rows] = slopes[w]
        return screen

    def status(self, point: np.ndarray, values: dict, floats: dict, on_set: bool,
               defined: bool = False, scales: dict | None = None) -> Status:
        cheap = {w: Truth(v) for w, v in floats.items()}
        # float64 is trusted where the loss has a finite value and a finite derivative there
        usable = defined and not on_set and all(math.isfinite(v) for v in floats.values())
        if usable:
            # float64's error on a derivative it can evaluate is far below the tolerances
            return Status(True, True, self._traps(values, cheap, scales), cheap)
        key = (np.asarray(point, dtype=np.float64).tobytes(), on_set)
        if key in self.exact_truths:
            truth = self.exact_truths[key]
        elif self.exact_checks >= MAX_EXACT_CHECKS or time.monotonic() > self.deadline:
            return Status(True, False)
        else:
            self.exact_checks += 1
            truth = self.exact_truths[key] = self.exact_truth(point, on_set)
        if truth is None:
            return Status(False, True)
        traps = self._traps(values, truth, scales)
        # a derivative nobody could read (log-like growth, a power of a negative base) makes
        # the whole point undecided
        known = all(t.value is not None or not t.differentiable for t in truth.values())
        return Status(True, known, traps if known else {}, truth)

    def _traps(self, values: dict, truth: dict[str, Truth],
               scales: dict | None = None) -> dict[str, dict[str, str]]:
        traps: dict[str, dict[str, str]] = {}
        if any(not t.differentiable for t in truth.values()):
            # no gradient exists at the point: every component is a subgradient choice, and
            # only NaN or inf is a trap there
            truth = {w: t if not t.differentiable else Truth(None, False) for w, t in truth.items()}
        for fw in FRAMEWORKS:
            for w in self.wrt:
                kind = _judge(values[fw][w], truth[w], self.ar, self.dtype)
                if kind == "wrong" and scales and truth[w].value is not None:
                    # a sum of large terms that cancel (t*d**2 + (1 - t)*... at d = -1e4)
                    # loses digits in any float: only an error above that noise is a trap
                    noise = CANCELLATION * float(np.finfo(self.ar.dtype).eps) * scales[fw]
                    if abs(values[fw][w] - truth[w].value) <= noise:
                        kind = None
                if kind:
                    traps.setdefault(fw, {})[w] = kind
        return traps

    def exact_derivative(self, w: str) -> Any:
        """d loss / d w as an mpmath function, compiled when first needed: most losses are
        judged in float64 alone, off the sets and on them (:meth:`screen_ties`)."""
        return compile_expr(self.derivatives[w], tuple(self.symbols))

    def exact_truth(self, point: np.ndarray, on_set: bool) -> dict[str, Truth] | None:
        """The true partial derivatives at ``point``; None outside the loss's domain."""
        values = [mp.mpf(float(v)) for v in point]
        program = gradients(self.tree, FRAMEWORKS[0], EXACT, dict(zip(self.names, values)), [],
                            bits=96)
        if not isinstance(program.value, mp.mpf) or mp.isnan(program.value):
            return None  # the program as written has no value here (a log of a negative)
        with mp.workdps(DIGITS):
            if evaluate(self.loss_fn, values) is None:
                return None
            truths = {}
            for w in self.wrt:
                derivative = None if on_set else _real_value(self.exact_derivative(w), values)
                if derivative is not None:
                    truths[w] = Truth(float(derivative))
                    continue
                if not on_set and _complex_value(self.exact_derivative(w), values):
                    truths[w] = Truth(None)  # e.g. x**y in y at x < 0: no real derivative
                    continue
                symbol = self.symbols[self.names.index(w)]
                seen = probing.probe(self.loss_fn, self.symbols,
                                     dict(zip(self.symbols, values)), {symbol: 1})
                slopes = [s for s in (seen.left, seen.right) if s is not None]
                if seen.saw == "smooth" and len(slopes) == 2 and abs(slopes[0] - slopes[1]) > (
                        1e-6 * max(abs(slopes[0]), abs(slopes[1]))) and seen.gap_persists:
                    # a kink too small for the probe's absolute tolerance: |v|*exp(-10) at 0
                    # (a smooth function's one-sided slopes differ too, by step * curvature:
                    # +-1e-16 for (y - f)**2 at a tie, a gap that shrinks with the step)
                    truths[w] = Truth(None, False)
                elif seen.saw == "smooth":
                    truths[w] = Truth(sum(slopes) / len(slopes))
                elif seen.saw == "unknown":
                    truths[w] = Truth(None)
                else:
                    truths[w] = Truth(None, False, seen.saw == "infinite-slope")
            if on_set and not self._differentiable_along_diagonals(values, truths):
                # the axes alone can miss a kink (1 - IoU of two empty intervals is flat along
                # each axis and not along p2 = -p1): no gradient exists there
                truths = {w: Truth(None, False) for w in truths}
            return truths

    def _differentiable_along_diagonals(self, values: list, truths: dict[str, Truth]) -> bool:
        """Whether the slopes along two fixed oblique directions match the axis slopes."""
        slopes_along_axes = {w: t.value for w, t in truths.items()}
        if len(self.names) < 2 or any(v is None for v in slopes_along_axes.values()):
            return True
        for pattern in ((1, -1), (1, 2)):
            direction = {s: (pattern[i % 2] if s.name in truths else 0)
                         for i, s in enumerate(self.symbols)}
            seen = probing.probe(self.loss_fn, self.symbols, dict(zip(self.symbols, values)),
                                 direction)
            if seen.saw == "unknown":
                continue
            expected = sum(float(slopes_along_axes[s.name] or 0.0) * c
                           for s, c in direction.items() if c)
            slopes = [v for v in (seen.left, seen.right) if v is not None]
            if seen.saw != "smooth" or any(abs(v - expected) > 1e-6 * (1 + abs(expected))
                                           for v in slopes):
                return False
        return True

    # --- the search -------------------------------------------------------------------------

    def candidate_points(self, kink_points: Sequence[Mapping[str, float]]) -> np.ndarray:
        rows: list[tuple[float, ...]] = []
        n = len(self.names)
        for point in kink_points:
            rows.append(tuple(float(point.get(name, 0.0)) for name in self.names))
        for value in GRID:
            rows.append((value,) * n)
        if n > 1:
            for index in range(n):
                for value in GRID:
                    for rest in (0.0, 1.0):
                        row = [rest] * n
                        row[index] = value
                        rows.append(tuple(row))
            rng = random.Random(17)
            rows.extend(tuple(rng.choice(GRID) for _ in range(n)) for _ in range(RANDOM_POINTS))
        rows.extend(self.atoms.points_on_sets())
        unique = list(dict.fromkeys(rows))
        return np.asarray(unique, dtype=np.float64).reshape(len(unique), n)

    def run(self, kink_points: Sequence[Mapping[str, float]]) -> list[Finding]:
        points = self.candidate_points(kink_points)
        statuses = self.statuses(points)
        trap_rows = [i for i, s in enumerate(statuses) if s.is_trap]
        # a verified point where the derivative exists, and a simple one, comes first
        trap_rows.sort(key=lambda i: (not all(t.differentiable for t in statuses[i].truth.values()),
                                      _simplicity(points[i])))
        findings: list[Finding] = []
        explained: set[int] = set()
        for index in trap_rows:
            if index in explained or len(findings) >= MAX_FINDINGS:
                continue
            if time.monotonic() > self.deadline:
                break
            region = self.region(points, statuses, index)
            for other in trap_rows:
                if region.holds(points[other]):
                    explained.add(other)
            explained.add(index)
            finding = self.finding(points[index], statuses[index], region)
            if finding is not None and not any(_same_finding(finding, f) for f in findings):
                findings.append(finding)
        return findings

    # --- regions ----------------------------------------------------------------------------

    def region(self, points: np.ndarray, statuses: list[Status], index: int) -> Region:
        """The conditions that hold at the trap point and keep holding only at traps."""
        point = points[index]
        trapped = _trap_class(statuses[index])
        atoms = self.atoms.true_at(point)
        for safe in _nearest_safe(points, statuses, index, trapped):
            for atom in self.atoms.range_atoms(self, point, points[safe], trapped):
                if not any(_same_atom(atom, a) for a in atoms):
                    atoms.append(atom)
        pool = np.vstack([points, _around(point, len(self.names)),
                          *[np.asarray(a.points, dtype=np.float64).reshape(-1, len(self.names))
                            for a in atoms if a.points]])
        pool_status = statuses + self.statuses(pool[len(points):])
        inside = np.array([[a.holds(p) for a in atoms] for p in pool], dtype=bool).reshape(
            len(pool), len(atoms))

        def valid(chosen: list[int]) -> bool:
            mask = inside[:, chosen].all(axis=1) if chosen else np.ones(len(pool), dtype=bool)
            for row in np.flatnonzero(mask):
                status = pool_status[row]
                if not status.known:
                    continue
                # the region lies in the loss's domain, and every point of it is a trap
                if not status.in_domain or not status.same_trap(*trapped):
                    return False
            return True

        chosen = list(range(len(atoms)))
        if not atoms or not valid(chosen):
            return Region.at_point(self.names, point)
        # drop the most specific first (equalities, then complicated conditions), so that the
        # widest region that still holds is kept
        for position in sorted(chosen, key=lambda i: atoms[i].drop_order()):
            trial = [i for i in chosen if i != position]
            if trial and valid(trial):
                chosen = trial
        return Region([atoms[i] for i in chosen])

    def open_around(self, point: np.ndarray, trapped: set[str]) -> bool:
        """Whether the trap also holds at every point of a small box around ``point``."""
        rng = np.random.default_rng(29)
        scale = np.where(point == 0, 1e-3, 1e-3 * np.abs(point))
        nearby = point + scale * rng.uniform(-1, 1, (8, len(point)))
        return all(s.known and s.in_domain and s.is_trap and set(s.traps) & trapped
                   for s in self.statuses(nearby))

    # --- findings ---------------------------------------------------------------------------

    def finding(self, point: np.ndarray, status: Status, region: Region) -> Finding | None:
        env = {n: self.ar.values([point[i]]) for i, n in enumerate(self.names)}
        exact_env = {n: EXACT.values([point[i]])[0] for i, n in enumerate(self.names)}
        trapped = [fw for fw in FRAMEWORKS if status.traps.get(fw)]
        fw = trapped[0]
        variable = next(w for w in self.wrt if w in status.traps[fw])
        float_run = gradients(self.tree, fw, self.ar, env, self.wrt)
        exact_run = gradients(self.tree, fw, EXACT, exact_env, self.wrt)
        kind = status.traps[fw][variable]
        exact_value = float(exact_run.gradient[variable])
        truth = status.truth[variable]
        structural = _judge(exact_value, truth, self.ar, self.dtype) is not None
        diagnosis = _diagnose(float_run, exact_run, structural, self.tree)
        if structural:
            effect = {"nan": "nan", "inf": "inf", "wrong": "wrong-value"}[kind]
            dtype = "any"
        elif not self.open_around(point, set(trapped)) and any(a.op == "=" for a in region.atoms):
            # a range trap on a thin set only (abs(v)*exp(u) at v = 0, where the loss itself
            # overflows at every other point) is the dtype's range, not the way it is written
            return None
        else:
            # the effect is what the framework returns (NaN, inf); a finite wrong value is
            # named by the range limit that caused it. Which limit, either way, is in "range".
            effect = {"nan": "nan", "inf": "inf"}.get(kind) or diagnosis.event or "wrong-value"
            dtype = self.dtype
        code = _code(effect, diagnosis.mechanism, None if structural else diagnosis.event)
        culprit = diagnosis.culprit or self.tree
        span = culprit.span or self.tree.span
        values_by_fw = {}
        for name in FRAMEWORKS:
            run = float_run if name == fw else gradients(self.tree, name, self.ar, env, self.wrt)
            values_by_fw[name] = {w: float(np.asarray(run.gradient[w]).reshape(-1)[0])
                                  for w in self.wrt}
        point_dict = {n: float(point[i]) for i, n in enumerate(self.names)}
        true = {w: (status.truth[w].value if status.truth[w].differentiable else None)
                for w in self.wrt}
        autodiff = {
            "effect": effect,
            "dtype": dtype,
            "frameworks": {name: values_by_fw[name][variable] for name in FRAMEWORKS},
            "point": point_dict,
            "true": true,
            "variable": variable,
            "range": None if structural else diagnosis.event,
            "gradients": values_by_fw,
            "trapped": trapped,
        }
        fix = _fix(diagnosis, self.expr, effect, self.tree, self.ar)
        rule = CODES[code]
        who = " and ".join(FRAMEWORK_NAMES[name] for name in trapped)
        shown = _number(values_by_fw[fw][variable])
        expected = "not defined there" if truth.value is None else _number(truth.value)
        message = rule.message.format(
            frameworks_return=who + (" return" if len(trapped) > 1 else " returns"), value=shown, variable=variable, input=_one_line(self.parsed.source),
            where=region.text, culprit=_one_line(span.text if span else ""), true=expected,
            dtype=self.dtype,
        )
        return Finding(
            code=code, kind="autodiff", message=message,
            cause=_one_line(span.text if span else self.parsed.source), where=region.text,
            confirmed=True, autodiff=autodiff, column=span.column if span else None,
            fix=fix, line=span.line if span else None,
        )


def _real_value(fn: Any, values: list) -> Any:
    """``fn(*values)`` when it is a finite real number (relative to its size), else None.

    A complex value with a tiny imaginary part is not real: (-50)**y*log(-50) is about
    1e-85 in size, and so is its imaginary part.
    """
    value = evaluate(fn, values)
    if value is None or _complex_value(fn, values):
        return None
    return value


def _complex_value(fn: Any, values: list) -> bool:
    try:
        raw = fn(*values)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError):
        return False
    return isinstance(raw, mp.mpc) and abs(raw.imag) > mp.mpf("1e-30") * abs(raw.real)


def _vector(fn: Any, columns: list[np.ndarray], shape: tuple[int],
            dtype: Any = np.float64) -> np.ndarray:
    """``fn`` at every point, as float64 (NaN where it cannot be evaluated)."""
    try:
        return _real_vector(fn(*columns), shape, dtype)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return np.full(shape, np.nan)


def _real_vector(values: Any, shape: tuple[int], dtype: Any = np.float64) -> np.ndarray:
    """A compiled function's values as float64, NaN where they are complex (acos(y) at
    |y| > 1 in NumPy's complex branch: there is no real value, not its real part).

    >>> _real_vector(np.array([1.0 + 0j, 2.0 + 1j]), (2,))
    array([ 1., nan])
    """
    array = np.asarray(values)
    if np.iscomplexobj(array):
        array = np.where(array.imag == 0, array.real, np.nan)
    return np.broadcast_to(array.astype(dtype), shape).astype(np.float64)


def _same_finding(a: Finding, b: Finding) -> bool:
    return a.code == b.code and a.where == b.where


def _simplicity(point: np.ndarray) -> tuple:
    """Simple points first: few nonzero coordinates, small integers, small magnitudes."""
    magnitudes = [abs(float(v)) for v in point]
    return (sum(v != 0 for v in magnitudes), sum(v != round(v) for v in magnitudes),
            max(magnitudes, default=0.0), sum(float(v) < 0 for v in point))


def _nearest_safe(points: np.ndarray, statuses: list[Status], index: int,
                  trapped: tuple[set[str], bool]) -> list[int]:
    """The nearest point without the trap, and the nearest one on the other side of it."""
    here = points[index]
    safe = [row for row, status in enumerate(statuses)
            if status.known and status.in_domain and not status.same_trap(*trapped)]
    if not safe:
        return []
    distance = {row: float(np.sum(np.abs(points[row] - here))) for row in safe}
    first = min(safe, key=distance.__getitem__)
    ahead = points[first] - here
    behind = [row for row in safe if float(np.dot(points[row] - here, ahead)) < 0]
    return [first] + ([min(behind, key=distance.__getitem__)] if behind else [])


def _around(point: np.ndarray, n: int) -> np.ndarray:
    """Points near and far from ``point``: where a region around it is checked."""
    rng = np.random.default_rng(23)
    rows = [point * k for k in (0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 10.0)]
    for scale in (1e-3, 0.1, 1.0, 10.0, 100.0):
        rows.extend(point + scale * rng.standard_normal((6, n)))
    stacked = np.vstack(rows).reshape(-1, n)
    return np.clip(stacked, -10 * MAGNITUDE, 10 * MAGNITUDE)


def _number(value: float | None) -> str:
    if value is None:
        return "undefined"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# Conditions: the building blocks of a region
# --------------------------------------------------------------------------------------------


@dataclass
class Atom:
    """One condition on the user's variables: ``lhs OP rhs`` (OP one of = < <= > >=)."""

    lhs: sp.Expr
    op: str
    rhs: sp.Expr
    text: str
    fn: Any = None
    points: list[tuple[float, ...]] = field(default_factory=list)

    def holds(self, point: np.ndarray) -> bool:
        with np.errstate(all="ignore"):
            try:
                value = float(self.fn(*point))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                return False
        if math.isnan(value):
            return False
        if self.op == "=":
            return value == 0  # a trap on a thin set happens where it holds exactly
        return {"<": value < 0, "<=": value <= 0, ">": value > 0, ">=": value >= 0}[self.op]

    def drop_order(self) -> tuple:
        return (self.op != "=", self.op not in ("<", ">"), -sp.count_ops(self.lhs))


@dataclass
class Region:
    atoms: list[Atom]
    text_override: str | None = None

    @classmethod
    def at_point(cls, names: list[str], point: np.ndarray) -> Region:
        text = " and ".join(f"{n} = {_decimal(float(v))}" for n, v in zip(names, point))
        symbols = [sp.Symbol(n, real=True) for n in names]
        atoms = [
            Atom(s, "=", sp.Float(float(v)), "", compile_numpy(s - float(v), symbols))
            for s, v in zip(symbols, point)
        ]
        return cls(atoms, text)

    def holds(self, point: np.ndarray) -> bool:
        return all(atom.holds(point) for atom in self.atoms)

    @property
    def text(self) -> str:
        if self.text_override is not None:
            return self.text_override
        texts = [atom.text for atom in self.atoms]
        for a in self.atoms:
            for b in self.atoms:
                # u <= 0 and u >= 0 is the set u = 0
                if (a.op, b.op) == ("<=", ">=") and sp.expand((a.lhs - a.rhs) - (b.lhs - b.rhs)) == 0:
                    texts = [t for t in texts if t not in (a.text, b.text)]
                    texts.append(equation_text(a.lhs - a.rhs))
        return " and ".join(dict.fromkeys(texts))


def _decimal(value: float) -> str:
    return repr(float(value)).replace("e+", "e")


def _round_outward(value: float, up: bool, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, rounded into the region (away from its edge)."""
    if value == 0 or not math.isfinite(value):
        return _decimal(value)
    exponent = math.floor(math.log10(abs(value))) - (digits - 1)
    quantum = Decimal(1).scaleb(exponent)
    rounded = Decimal(repr(value)).quantize(quantum, rounding=ROUND_CEILING if up else ROUND_FLOOR)
    text = format(rounded.normalize(), "f") if -6 < exponent < 6 else format(rounded, "e")
    return text


class _Atoms:
    """The conditions a program's structure suggests, as SymPy and as fast float tests."""

    def __init__(self, search: _Search) -> None:
        self.search = search
        self.symbols = search.symbols
        self.static: list[Atom] = []
        #: SymPy forms already read, by node (range edges ask again for each trap point)
        self._read: dict[int, sp.Basic | None] = {}
        self._build()

    def sympy_of(self, node: Node) -> sp.Basic | None:
        """The SymPy form of a subtree, read by the parser from the subtree's own text."""
        if id(node) not in self._read:
            self._read[id(node)] = self._read_sympy(node)
        return self._read[id(node)]

    def _read_sympy(self, node: Node) -> sp.Basic | None:
        if node.span is None:
            return None
        fixed = {k: _as_sympy_number(v) for k, v in self.search.values.items()}
        try:
            parsed = parse(node.span.text, fixed)
        except ParseError:
            return None
        expr = parsed.expr
        if node.op in CONDITIONS and isinstance(expr, sp.Piecewise) and len(expr.args) == 2:
            return expr.args[0].cond  # an indicator 1 where c else 0: the condition c
        return expr

    def atom(self, lhs: sp.Expr, op: str, rhs: sp.Expr = sp.S.Zero,
             text: str | None = None) -> Atom | None:
        if not lhs.free_symbols:
            return None
        if not (lhs.free_symbols | getattr(rhs, "free_symbols", set())) <= set(self.symbols):
            # a name of the source text that is no variable of the loss (a parameter without
            # a value, a tensor read by components): no condition on the loss's variables
            return None
        g = lhs - rhs
        if op == "=" and (g.is_positive or g.is_negative):
            return None  # a set that is empty (exp(x) + exp(y) = 0)
        if text is None:
            text = equation_text(g) if op == "=" else f"{lhs} {op} {rhs}"
        try:
            fn = compile_numpy(g, self.symbols)
        except (TypeError, ValueError, SyntaxError):
            return None
        return Atom(lhs, op, rhs, text, fn)

    def _build(self) -> None:
        atoms: list[Atom | None] = []
        for node in self.search.tree.walk():
            if node.op == "where":
                condition = self.sympy_of(node.args[0])
                atoms.extend(self._condition_atoms(condition))
            if node.op in ("sqrt", "log") or (node.op == "pow" and _fractional_exponent(node)):
                u = self.sympy_of(node.args[0])
                if isinstance(u, sp.Expr) and not u.is_positive:
                    atoms.append(self.atom(u, "<=") if not u.is_nonnegative else None)
                    atoms.append(self.atom(u, "="))
                    # the domain itself: a region of traps stays inside it
                    atoms.append(self.atom(u, ">" if node.op == "log" else ">="))
            if node.op == "log1p":
                u = self.sympy_of(node.args[0])
                if isinstance(u, sp.Expr):
                    atoms.append(self.atom(u, "<=", sp.Integer(-1)))
                    atoms.append(self.atom(u, ">", sp.Integer(-1)))
            if node.op == "softplus":
                # F.softplus is the identity where beta*u > threshold
                u = self.sympy_of(node.args[0])
                beta = node.keyword("beta") or (node.args[1] if len(node.args) > 1 else None)
                threshold = node.keyword("threshold")
                scale = self.sympy_of(beta) if beta is not None else sp.Integer(1)
                limit = self.sympy_of(threshold) if threshold is not None else sp.Integer(20)
                if isinstance(u, sp.Expr) and isinstance(scale, sp.Expr) and isinstance(limit, sp.Expr):
                    atoms.append(self.atom(scale * u, ">", limit, f"{scale * u} > {limit}"))
            if node.op == "div":
                denominator = self.sympy_of(node.args[1])
                if isinstance(denominator, sp.Expr):
                    atoms.append(self.atom(denominator, "="))
            if node.op in ("norm", "hypot"):
                parts = [self.sympy_of(a) for a in node.args]
                squares = [p**2 for p in parts if isinstance(p, sp.Expr)]
                if len(squares) == len(parts):
                    atoms.append(self.atom(sp.Add(*squares), "="))
            rule = RULES.get(node.op)
            if rule is not None and rule.kinks is not None:
                args = [self.sympy_of(a) for a in node.args]
                for i, j in rule.kink_args(len(node.args)):
                    a = args[i] if i < len(args) else None
                    b = sp.Integer(0) if j == -1 else (args[j] if j < len(args) else None)
                    if isinstance(a, sp.Expr) and isinstance(b, sp.Expr):
                        atoms.append(self.atom(a - b, "="))
        unique: list[Atom] = []
        for atom in atoms:
            if atom is None or any(_same_atom(atom, seen) for seen in unique):
                continue
            unique.append(atom)
        self.static = unique[:32]

    def _condition_atoms(self, condition: Any) -> list[Atom | None]:
        if not isinstance(condition, sp.Basic):
            return []
        parts = []
        for cond in (condition, sp.Not(condition)):
            relations = list(sp.And.make_args(cond)) if isinstance(cond, sp.And) else [cond]
            for rel in relations:
                if isinstance(rel, sp.core.relational.Relational) and not isinstance(rel, sp.Ne):
                    op = {"==": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[rel.rel_op]
                    parts.append(self.atom(rel.lhs - rel.rhs, op, sp.Integer(0), str(rel)
                                           if op != "=" else None))
        return parts

    def points_on_sets(self) -> list[tuple[float, ...]]:
        """Points on each equality set (a tie, a root at 0): traps of measure zero live there."""
        rows: list[tuple[float, ...]] = []
        stop = min(self.search.deadline, time.monotonic() + SET_SEARCH_SECONDS)
        for atom in self.static:
            if atom.op != "=" or time.monotonic() > stop:
                continue
            try:
                found = points_on_set(sp.expand(atom.lhs - atom.rhs), self.symbols,
                                      self.symbols, seed=3, want=3)
            except (TypeError, ValueError, NotImplementedError, sp.PolynomialError):
                continue
            for point in found[:4]:
                row = tuple(float(to_mpf(point.get(s, 0))) for s in self.symbols)
                atom.points.append(row)
                rows.append(row)
        return rows

    def true_at(self, point: np.ndarray) -> list[Atom]:
        return [atom for atom in self.static if atom.holds(point)]

    def range_atoms(self, search: _Search, point: np.ndarray, safe: np.ndarray,
                    trapped: tuple[set[str], bool]) -> list[Atom]:
        """Range edges: where on the segment to a safe point the trap starts, per argument."""
        boundary = _bisect(search, point, safe, trapped)
        if boundary is None:
            return []
        atoms: list[Atom] = []
        for node in search.tree.walk():
            rule = RULES.get(node.op)
            positions: tuple[int, ...] = rule.range_args if rule else ()
            if node.op in ("log", "log1p", "sqrt"):
                positions = (0,)
            if node.op == "div":
                positions = (1,)
            for position in positions:
                if position >= len(node.args):
                    continue
                u = self.sympy_of(node.args[position])
                if not isinstance(u, sp.Expr) or not u.free_symbols:
                    continue
                at_trap = _exact_float(u, self.symbols, point)
                at_edge = _exact_float(u, self.symbols, boundary)
                if at_trap is None or at_edge is None or at_trap == at_edge:
                    continue
                up = at_trap > at_edge
                for digits in (4, 6, 8, 12, 17):
                    edge = _round_outward(at_edge, up, digits)
                    atom = self.atom(u, ">" if up else "<", sp.Float(edge, 30),
                                     f"{u} {'>' if up else '<'} {edge}")
                    if atom is not None and atom.holds(point):
                        break
                else:
                    continue  # the edge cannot be written so that it holds at the point
                if atom is not None and not any(_same_atom(atom, a) for a in atoms):
                    atoms.append(atom)
        return atoms


def _same_atom(a: Atom, b: Atom) -> bool:
    if a.op != b.op:
        return False
    if a.op == "=":
        return same_set(a.lhs - a.rhs, b.lhs - b.rhs)
    return a.text == b.text or sp.expand((a.lhs - a.rhs) - (b.lhs - b.rhs)) == 0


def _fractional_exponent(node: Node) -> bool:
    exponent = node.args[1]
    return exponent.op == "const" and not float(exponent.value).is_integer()


def _as_sympy_number(value: Any) -> Any:
    from diffcheck.parser import literal_as_sympy

    return literal_as_sympy(value)


def _exact_float(expr: sp.Expr, symbols: list[sp.Symbol], point: np.ndarray) -> float | None:
    value = evaluate(compile_expr(expr, tuple(symbols)), [mp.mpf(float(v)) for v in point])
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def _bisect(search: _Search, trap: np.ndarray, safe: np.ndarray,
            trapped: tuple[set[str], bool]) -> np.ndarray | None:
    """The first point of the segment safe -> trap where the trap holds (to ~1e-6)."""
    low, high = 0.0, 1.0  # fractions of the way from safe to trap
    for _ in range(4):
        ts = np.linspace(low, high, 33)
        rows = safe[None, :] + ts[:, None] * (trap - safe)[None, :]
        statuses = search.statuses(rows)
        flags = [s.same_trap(*trapped) for s in statuses]
        if not flags[-1]:
            return None
        last_safe = max((i for i, f in enumerate(flags) if not f), default=None)
        if last_safe is None:
            return rows[0]
        low, high = float(ts[last_safe]), float(ts[last_safe + 1])
    return safe + high * (trap - safe)


# --------------------------------------------------------------------------------------------
# Why: the mechanism, the culprit, the fix
# --------------------------------------------------------------------------------------------


@dataclass
class Diagnosis:
    mechanism: str  # unselected-branch | singular | convention | range
    culprit: Node | None = None
    event: str | None = None  # overflow | underflow, for a range trap
    where_node: Node | None = None
    branch: int | None = None  # 1: the true branch of where_node, 2: the false one
    exact: float | None = None  # the culprit's exact value, for a range trap


def _bad(value: Any) -> bool:
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError):
        return False
    return not math.isfinite(number)


def _scalar(value: Any) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError):
        return math.nan


def _diagnose(float_run: Run, exact_run: Run, structural: bool, tree: Node) -> Diagnosis:
    run = exact_run if structural else float_run
    origin = run.origin

    def user(node: Node) -> Node:
        return origin.get(id(node), node)

    if not structural:
        event, node, exact = _first_range_event(float_run, exact_run)
        if node is not None:
            return Diagnosis("range", user(node), event, exact=exact)
    # a where whose unselected branch holds a node that turns a zero cotangent non-finite
    for node in reversed(run.order):
        if node.op != "where" or id(node) not in run.cotangents:
            continue
        condition = run.values.get(id(node.args[0]))
        if condition is None:
            continue
        taken = 1 if bool(np.asarray(condition).reshape(-1)[0]) else 2
        unselected = node.args[3 - taken]
        producer = _nonfinite_producer(run, unselected)
        if producer is not None:
            return Diagnosis("unselected-branch", user(producer), None, user(node), 3 - taken)
    producer = _nonfinite_producer(run, run.order[-1])
    if producer is not None:
        return Diagnosis("singular", user(producer))
    tie = _tied_kink(run)
    return Diagnosis("convention", user(tie) if tie is not None else None)


def _nonfinite_producer(run: Run, top: Node) -> Node | None:
    """The node under ``top`` whose cotangent is finite but which sends a non-finite one on."""
    below = {id(n) for n in top.walk()}
    for node in reversed(run.order):
        if id(node) not in below:
            continue
        g = run.cotangents.get(id(node))
        if g is None or _bad(g):
            continue
        children = [*node.args, *(a for _, a in node.keywords)]
        if any(id(c) in run.cotangents and _bad(run.cotangents[id(c)]) for c in children):
            return node
    return None


def _tied_kink(run: Run) -> Node | None:
    """The node whose convention made the value wrong: a switch at its tie, or F.softplus past
    its threshold (the identity there, where softplus has slope sigmoid(x) < 1)."""
    for node in reversed(run.order):
        if node.op == "softplus" and node.keyword("threshold") is not None:
            return node
        rule = RULES.get(node.op)
        if rule is None or rule.kinks is None:
            continue
        args = [_scalar(run.values[id(a)]) for a in node.args if id(a) in run.values]
        for i, j in rule.kink_args(len(args)):
            a = args[i] if i < len(args) else None
            b = 0.0 if j == -1 else (args[j] if j < len(args) else None)
            if a is not None and b is not None and a == b:
                return node
    return None


def _first_range_event(float_run: Run, exact_run: Run
                       ) -> tuple[str | None, Node | None, float | None]:
    """The intermediate (forward, then backward) whose overflow or underflow made the gradient
    wrong: the first overflow, or the first rounding to 0 that a consumer turns non-finite
    (log(1 - y) where 1 - eps rounds to 1 in float32), before any harmless rounding to 0
    met on the way (log(y) of the same y: 0 where the truth is -1e-15). Third: the exact
    value of a forward intermediate (None for a cotangent)."""
    pairs = list(zip(float_run.order, exact_run.order))
    consumers: dict[int, list[Node]] = {}
    for node in float_run.order:
        for argument in node.args:
            consumers.setdefault(id(argument), []).append(node)

    def bad(node: Node) -> bool:
        return id(node) in float_run.values and _bad(float_run.values[id(node)])

    def turns_nonfinite(consumer: Node) -> bool:
        # non-finite here from finite arguments: log(0), 1/0 (a sum that is NaN because
        # another of its terms is does not make this term the culprit)
        return bad(consumer) and not any(bad(a) for a in consumer.args)

    first: tuple[str | None, Node | None, float | None] = (None, None, None)
    for table_f, table_e, sequence in (
        (float_run.values, exact_run.values, pairs),
        (float_run.cotangents, exact_run.cotangents, list(reversed(pairs))),
    ):
        for node_f, node_e in sequence:
            if node_f.op in CONDITIONS or id(node_f) not in table_f or id(node_e) not in table_e:
                continue
            got = _scalar(table_f[id(node_f)])
            want = table_e[id(node_e)]
            if not isinstance(want, mp.mpf) or not mp.isfinite(want):
                continue
            exact = float(want) if table_f is float_run.values else None
            if math.isinf(got) or math.isnan(got):
                return ("overflow", node_f, exact) if first[1] is None else first
            if got == 0 and want != 0:
                if table_f is float_run.cotangents or \
                        any(turns_nonfinite(c) for c in consumers.get(id(node_f), [])):
                    return "underflow", node_f, exact
                if first[1] is None:
                    first = ("underflow", node_f, exact)
    return first


def _code(effect: str, mechanism: str, range_event: str | None = None) -> str:
    if range_event == "overflow" or effect == "overflow":
        return "DC504"
    if range_event == "underflow" or effect == "underflow":
        return "DC505"
    if effect == "wrong-value":
        return "DC503"
    if mechanism == "unselected-branch":
        return "DC501"
    return "DC502"


def _text_of(span: Span | None) -> str | None:
    """The source text of a construct on one line (a fix is written on one line)."""
    if span is None or span.line != span.end_line:
        return None
    return span.text


def _replace(outer: Span, inner: Span, replacement: str) -> str | None:
    """``outer``'s text with ``inner``'s part replaced (both on one line)."""
    if outer.line != outer.end_line or inner.line != inner.end_line or outer.line != inner.line:
        return None
    start = inner.column - outer.column
    end = inner.end_column - outer.column + 1
    if start < 0 or end > len(outer.text):
        return None
    return outer.text[:start] + replacement + outer.text[end:]


#: the argument a singular op must be kept away from, and a safe stand-in value
_GUARDED_ARGUMENT = {"sqrt": 0, "log": 0, "log1p": 0, "pow": 0, "div": 1, "norm": None,
                     "hypot": None, "xlogy": 1}


def _fix(diagnosis: Diagnosis, expr: sp.Expr, effect: str, tree: Node, ar: Arithmetic) -> str:
    culprit = diagnosis.culprit
    if diagnosis.mechanism == "unselected-branch" and culprit is not None:
        return _double_where(diagnosis) or (
            f"double where: make the argument of {culprit.written or culprit.op} safe where the "
            "branch is not selected, e.g. where(cond, sqrt(where(cond, x, 1)), 0)")
    if diagnosis.mechanism == "range" and culprit is not None:
        return _range_fix(diagnosis, effect, tree, ar)
    if diagnosis.mechanism == "singular" and culprit is not None:
        return _singular_fix(culprit)
    if culprit is not None and culprit.op == "softplus":
        return ("F.softplus is the identity where beta*x > threshold: keep the default "
                "threshold=20 (where the difference is below float32 precision) or use "
                "jax.nn.softplus / logaddexp(x, 0)")
    simplified = _cancelled(expr)
    if simplified is not None:
        return f"write the function without the cancelling kinks: {simplified}"
    return ("the pieces' subgradients at the tie do not add up to the derivative: rewrite the "
            "loss so that no kink is evaluated where it cancels")


def _double_where(diagnosis: Diagnosis) -> str | None:
    where_node, culprit = diagnosis.where_node, diagnosis.culprit
    if where_node is None or culprit is None or where_node.span is None:
        return None
    position = _GUARDED_ARGUMENT.get(culprit.op)
    if position is None or position >= len(culprit.args):
        return None
    argument = culprit.args[position]
    condition = where_node.args[0]
    condition_text = _text_of(condition.span)
    argument_text = _text_of(argument.span)
    if argument.span is None or condition_text is None or argument_text is None:
        return None
    safe = "1"
    guarded = (f"where({condition_text}, {argument_text}, {safe})" if diagnosis.branch == 1
               else f"where({condition_text}, {safe}, {argument_text})")
    rewritten = _replace(where_node.span, argument.span, guarded)
    return None if rewritten is None else f"double where: {rewritten}"


def _singular_fix(culprit: Node) -> str:
    name = culprit.written or culprit.op
    argument = culprit.args[0] if culprit.args else None
    text = _text_of(argument.span) if argument is not None else None
    if culprit.op == "sqrt" and text:
        return (f"eps inside the root: {name}({text} + 1e-12), or a double where: "
                f"where({text} > 0, {name}(where({text} > 0, {text}, 1)), 0)")
    if culprit.op == "pow" and text and len(culprit.args) > 1:
        exponent = _text_of(culprit.args[1].span) or "p"
        return f"keep the base away from 0: ({text} + 1e-12)**{exponent}"
    if culprit.op in ("log", "log1p") and text:
        return f"clamp before log: {name}(clamp({text}, min=1e-12))"
    if culprit.op == "div" and len(culprit.args) == 2:
        numerator = _text_of(culprit.args[0].span) or "a"
        denominator = _text_of(culprit.args[1].span) or "b"
        return (f"double where: where({denominator} != 0, {numerator} / "
                f"where({denominator} != 0, {denominator}, 1), 0)")
    if culprit.op == "norm":
        return ("torch.linalg.vector_norm (its gradient is 0 at the zero vector), or a safe norm "
                "sqrt(sum of squares + 1e-12)")
    if culprit.op == "hypot":
        return "jnp.hypot (its gradient at the origin is finite), or sqrt(a**2 + b**2 + 1e-12)"
    return f"keep the argument of {name} away from its singular point (eps, clamp or a double where)"


def _range_fix(diagnosis: Diagnosis, effect: str, tree: Node, ar: Arithmetic) -> str:
    culprit = diagnosis.culprit
    assert culprit is not None
    known = _log_space_rewrite(culprit, tree)
    if known is not None:
        return known
    argument = culprit.args[0] if culprit.args else None
    text = _text_of(argument.span) if argument is not None else None
    if culprit.op == "exp" and text:
        return (f"compute in log space (softplus, logsumexp, log_softmax, softmax) or bound "
                f"the exponent: exp(clamp({text}, max=80))")
    if culprit.op == "sigmoid" and text:
        return (f"logsigmoid({text}) for log(sigmoid({text})) and logsigmoid(-({text})) for "
                f"log(1 - sigmoid({text})) (F.logsigmoid, jax.nn.log_sigmoid)")
    if culprit.op in ("log", "log1p") and text:
        return f"clamp before log: log(clamp({text}, min=1e-30)), or compute the log directly"
    written = _text_of(culprit.span)
    if (diagnosis.event == "underflow" and culprit.op in ("sub", "add") and written
            and diagnosis.exact is not None and 0 < abs(diagnosis.exact) < ar.epsilon):
        # a margin below the dtype's resolution (1 - 1e-15 is 1 in float32): the clip or
        # guard that was meant to keep this away from 0 does nothing in this dtype
        return (f"{written} is {diagnosis.exact:.3g} exactly, below {ar.name}'s resolution near "
                f"1 ({ar.epsilon:.3g}): take the margin from the dtype (np.finfo(x.dtype).eps, "
                "torch.finfo(x.dtype).eps, jnp.finfo(x.dtype).eps) instead of a smaller "
                "constant")
    if diagnosis.event == "underflow" or effect == "underflow":
        return ("a quantity rounds to 0 in this dtype: compute its logarithm directly "
                "(logsigmoid, log_softmax, xlogy, log(-expm1(x)) for log(1 - exp(x)))")
    return ("a value overflows this dtype: compute in log space (logsumexp, softplus, "
            "log_softmax) or bound it with clamp")


def _parents(tree: Node) -> dict[int, Node]:
    parents: dict[int, Node] = {}
    for node in tree.walk():
        for child in [*node.args, *(a for _, a in node.keywords)]:
            parents[id(child)] = node
    return parents


def _const_value(node: Node) -> Any:
    return node.value if node.op == "const" else None


def _log_space_rewrite(culprit: Node, tree: Node) -> str | None:
    """The library call that computes what the culprit's neighbourhood writes by hand."""
    parents = _parents(tree)
    parent = parents.get(id(culprit))
    grand = parents.get(id(parent)) if parent is not None else None
    inner = culprit.args[0] if culprit.args else None
    text = _text_of(inner.span) if inner is not None else None
    if text is None or parent is None:
        return None
    if culprit.op == "exp":
        if parent.op == "log1p":  # log1p(exp(u))
            return f"softplus({text}) (F.softplus, jax.nn.softplus)"
        if parent.op == "add" and grand is not None and grand.op == "log":
            other = parent.args[1] if parent.args[0] is culprit else parent.args[0]
            if _const_value(other) == 1:  # log(1 + exp(u))
                return f"softplus({text}) (F.softplus, jax.nn.softplus)"
            exps = _exp_terms(parent)
            if exps:  # log(exp(a) + exp(b) + ...)
                return f"logsumexp({', '.join(exps)}) (torch.logsumexp, jax.nn.logsumexp)"
        if parent.op == "sub" and _const_value(parent.args[0]) == 1 and grand is not None \
                and grand.op == "log":  # log(1 - exp(u))
            return f"log(-expm1({text})) (log1mexp)"
        division = parent if parent.op == "div" else grand if grand is not None and \
            grand.op == "div" and parent.op == "add" else None
        if division is not None:
            terms = _exp_terms(division.args[1])
            numerator = _text_of(division.args[0].args[0].span) \
                if division.args[0].op == "exp" and division.args[0].args else None
            if terms and numerator in terms:  # exp(a)/(exp(a) + exp(b))
                return (f"softmax({', '.join(terms)}, index={terms.index(numerator)}) "
                        "(torch.softmax, jax.nn.softmax); its log is log_softmax")
    if culprit.op == "sub" and _const_value(culprit.args[0]) == 1 and parent.op == "log":
        subtracted = culprit.args[1]
        inner_text = _text_of(subtracted.args[0].span) if subtracted.args else None
        if subtracted.op == "sigmoid" and inner_text:  # log(1 - sigmoid(u))
            return f"logsigmoid(-({inner_text})) (F.logsigmoid, jax.nn.log_sigmoid)"
        if subtracted.op == "exp" and inner_text:  # log(1 - exp(u))
            return f"log(-expm1({inner_text})) (log1mexp)"
    if culprit.op == "softmax" and parent.op == "log":
        call = _text_of(culprit.span)
        written = culprit.written or culprit.op
        if call and call.startswith(written):
            prefix = written[: len(written) - len("softmax")]
            return (f"{prefix}log_softmax{call[len(written):]} "
                    "(torch.log_softmax, jax.nn.log_softmax)")
    if culprit.op == "sigmoid" and parent.op == "log":
        return f"logsigmoid({text}) (F.logsigmoid, jax.nn.log_sigmoid)"
    if culprit.op == "sigmoid" and parent.op == "sub" and grand is not None and grand.op == "log":
        return f"logsigmoid(-({text})) (F.logsigmoid, jax.nn.log_sigmoid)"
    if culprit.op == "cosh" and parent.op == "log":
        return f"{text} + softplus(-2*({text})) - log(2) (a log cosh that cannot overflow)"
    return None


def _exp_terms(node: Node) -> list[str]:
    """The arguments of a sum of exponentials (exp(a) + exp(b) + ...), as written."""
    if node.op == "exp" and node.args:
        text = _text_of(node.args[0].span)
        return [text] if text else []
    if node.op in ("add", "sum"):
        parts = [_exp_terms(a) for a in node.args]
        return [t for part in parts for t in part] if all(parts) else []
    return []


#: SymPy's simplify is tried on losses up to this many operations (it takes seconds beyond)
MAX_SIMPLIFY_OPS = 12


def _cancelled(expr: sp.Expr) -> sp.Expr | None:
    """The loss without the kinks that cancel (relu(x) - relu(-x) is x), if SymPy sees it."""
    if sp.count_ops(expr) > MAX_SIMPLIFY_OPS:
        return None
    try:
        folded = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
        simplified = sp.simplify(folded)
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        return None
    kinked = (sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.sign)
    if simplified.has(*kinked) or sp.count_ops(simplified) > sp.count_ops(expr):
        return None
    return simplified


# --------------------------------------------------------------------------------------------
# What autodiff returns at the analyzer's kinks (the note on kink findings)
# --------------------------------------------------------------------------------------------


def annotate_kinks(parsed: ParsedExpression, findings: Sequence[Finding], wrt: Sequence[str],
                   dtype: str = "float32", values: Mapping[str, Any] | None = None,
                   tree: Node | None = None) -> None:
    """Add to each kink finding's autodiff note what the model of PyTorch and JAX returns at
    its probe point (``abs`` at 0: PyTorch 0, JAX 1)."""
    kinks = [f for f in findings if f.kind == "kink" and f.probe and f.probe.get("point")]
    if not kinks or not wrt:
        return
    if tree is None:
        try:
            tree = from_expression(parsed.source, values)
        except (ProgramError, SyntaxError):
            return
    if any(node.op == "model" for node in tree.walk()):
        return
    ar = Arithmetic(dtype)
    names = list(parsed.variables)
    for finding in kinks:
        assert finding.probe is not None
        point = finding.probe["point"]
        env = {n: ar.values([float(point.get(n, 0.0))]) for n in names}
        try:
            returned = {fw: gradients(tree, fw, ar, env, list(wrt)).gradient for fw in FRAMEWORKS}
        except Unsupported:
            continue
        at = ", ".join(f"{n} = {_number(float(point.get(n, 0.0)))}" for n in names)
        said = "; ".join(
            f"{FRAMEWORK_NAMES[fw]} " + ", ".join(
                f"d/d{w} = {_number(float(np.asarray(g[w]).reshape(-1)[0]))}" for w in wrt)
            for fw, g in returned.items())
        note = f"Autodiff at {at} ({dtype}): {said}."
        finding.autodiff = f"{finding.autodiff} {note}" if finding.autodiff else note
