"""The numbers behind the pictures: a finding's slice of the loss, and a loss's map.

A finding happens at a point ``p`` of a set; the probe looked along a direction ``d``. The
*slice* is the loss on the line ``p + t*d``: a function of one number ``t``, restricted in
SymPy (``loss.xreplace({x: p_x + t*d_x})``), so its exact derivative along the line is one
``diff`` away. :func:`finding_slice` samples it over a wide window (the shape) and a zoomed
one (the feature), with the whole-loss surrogate, the exact one-sided values and slopes at
the point, and what PyTorch and JAX return along the line (the autodiff model of
:mod:`diffcheck.autodiff`, in the dtype of the run). :func:`loss_map` samples the loss over
the two variables the findings involve, with every finding's set.

Everything here is computed from the SymPy objects of the pipeline (:class:`PlotSource`),
never from the report's strings; :mod:`diffcheck.plots` draws it (this module never imports
matplotlib, so the text report's sparklines work without it).

>>> from diffcheck.api import check
>>> report = check("abs(y - f)")
>>> cut = finding_slice(report.plot_source, report.findings[0])
>>> cut.line.axis, cut.at_point.slope_left, cut.at_point.slope_right
('f', -1.0, 1.0)
>>> bool(abs(cut.wide.loss - cut.wide.surrogate).max() <= report.surrogate["max_error"])
True
>>> sparkline_values(cut)[:4]
[1.997, 1.73, 1.463, 1.197]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from diffcheck.model import Finding
from diffcheck.numeric import compile_expr, compile_numpy, concrete_model_functions, evaluate

#: half the width of the wide window, in units of the direction (the probe's are unit axes)
WIDE_HALF_WIDTH = 2.0
#: samples per window, at the midpoints of equal cells: neither ``t = 0`` (the value at the
#: point may be the odd one, ``where(u == 0, 1, u)``; it is drawn as the point) nor the ends
#: (a floor's next step is often exactly there) are samples
WIDE_SAMPLES = 600
ZOOM_SAMPLES = 400
#: how many points a sparkline has (one character each)
SPARK_SAMPLES = 16
#: the zoom shows the feature with this many feature widths on each side
ZOOM_FEATURES = 3.0
#: a surrogate's slope counts as caught up with the loss's beyond this relative difference
CAUGHT_UP = 0.1
#: the zoom is at most as wide as the surrogate's gap to the loss stays this visible: this
#: fraction of the loss's range in the window
VISIBLE_GAP = 1 / 8
#: how far (in wide windows) an autodiff finding's line is searched for the trap's boundary
BOUNDARY_SEARCH = (1, 4, 16, 64)
#: one-sided limits at the point are read at these distances (times 1 + the point's size):
#: far above the rounding of a point that is a float (a root like 0.33606277200411183 is off
#: by 1e-17), far below any feature the pictures show
ONE_SIDE = (1e-6, 1e-9, 1e-12)
#: a one-sided value or slope is infinite when it grows at least this much from each
#: distance to the next (1/t by 1000, 1/sqrt(t) by 32, log(t) by 1.3)
GROWTH = 1.3
#: samples per axis of a loss's map
MAP_SAMPLES = 201
#: at most this many samples of a window are evaluated in mpmath where float64 overflows
EXACT_FALLBACK = 240


@dataclass
class PlotSource:
    """What the plot stage needs of one analysed loss, as the pipeline held it in memory.

    ``loss`` and ``surrogate`` have model functions replaced by the generic stand-ins the
    analysis used (:func:`~diffcheck.numeric.concrete_model_functions`); ``sets`` pairs each
    finding with the expression whose zero set it lies on; ``switches`` are the zero sets of
    every switching primitive (where a curve is broken if it jumps), ``poles`` those of the
    arguments of divisions and logarithms (where it is always broken).
    """

    title: str
    loss: sp.Expr
    symbols: list[sp.Symbol]
    wrt: list[str]
    surrogate: sp.Expr | None = None
    max_error: float | None = None
    sets: list[tuple[Finding, sp.Expr]] = field(default_factory=list)
    switches: list[sp.Expr] = field(default_factory=list)
    poles: list[sp.Expr] = field(default_factory=list)
    #: the program as written (PyTorch/JAX autodiff runs it); None for models and model functions
    program: Any = None
    dtype: str = "float32"
    #: model functions are drawn as their stand-ins: the picture says so
    stand_ins: tuple[str, ...] = ()

    def set_of(self, finding: Finding) -> sp.Expr | None:
        return next((g for owner, g in self.sets if owner is finding), None)


def plot_source(analysis: Any, smooth: Any, title: str, dtype: str, program: Any = None,
                wrt: Sequence[str] | None = None) -> PlotSource:
    """A :class:`PlotSource` from an :class:`~diffcheck.analysis.Analysis` and the checked
    whole-loss surrogate (a :class:`~diffcheck.surrogates.SmoothLoss` or None)."""
    from diffcheck.analysis.candidates import propose_candidates
    from diffcheck.analysis.domain import singular_arguments

    concrete = concrete_model_functions
    sets: list[tuple[Finding, sp.Expr]] = []
    for item in analysis.non_smooth:
        sets.append((item.finding, _zero_set(item.candidate, concrete)))
    for finding, cause in analysis.zero_gradient:
        # a zero gradient is about a jumping primitive: it lives where that one jumps
        jump = next((item for item in analysis.non_smooth if cause in item.nodes), None)
        if jump is not None:
            sets.append((finding, _zero_set(jump.candidate, concrete)))
    # findings name their causes as the parser built them (model functions and all)
    arguments = list(singular_arguments(analysis.parsed.expr))
    singular = {str(node): concrete(argument) for node, argument, _, _ in arguments}
    poles = [concrete(argument) for _, argument, _, can_pole in arguments if can_pole]
    for finding in analysis.warnings:
        argument = singular.get(finding.cause)
        if argument is not None:
            sets.append((finding, argument))
    switches = [_zero_set(c, concrete) for c in propose_candidates(analysis.loss)]
    surrogate = None if smooth is None else concrete(smooth.expression)
    bound = None if smooth is None else smooth.report.get("max_error")
    return PlotSource(
        title=title, loss=analysis.loss, symbols=list(analysis.symbols),
        wrt=list(wrt) if wrt is not None else [s.name for s in analysis.wrt],
        surrogate=surrogate, max_error=bound, sets=sets, switches=list(dict.fromkeys(switches)),
        poles=[g for g in dict.fromkeys(poles) if g.free_symbols],
        program=program, dtype=dtype, stand_ins=tuple(analysis.parsed.model_functions))


def _zero_set(candidate: Any, concrete: Callable[[sp.Expr], sp.Expr]) -> sp.Expr:
    """The expression that vanishes on a candidate's set: ``g``, or ``sin(pi*u)`` for the
    levels ``u = k`` of a floor-like primitive (every integer at once)."""
    if candidate.level_set is not None:
        return sp.sin(sp.pi * concrete(candidate.level_set))
    return concrete(candidate.g)


# --------------------------------------------------------------------------------------------
# The line through a finding
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """The points ``point + t*direction`` (variable name -> number)."""

    point: dict[str, float]
    direction: dict[str, float]

    @property
    def axis(self) -> str | None:
        """The one variable the line moves along, when it moves along an axis."""
        moving = [name for name, step in self.direction.items() if step]
        if len(moving) == 1 and self.direction[moving[0]] == 1:
            return moving[0]
        return None

    def coordinate(self, t: Any) -> Any:
        """Where ``t`` is on the horizontal axis: the moving variable's value, or ``t``."""
        axis = self.axis
        return t + self.point.get(axis, 0.0) if axis is not None else t

    def held(self) -> dict[str, float]:
        """The variables that stay fixed along the line, at their values."""
        return {name: value for name, value in self.point.items() if not self.direction.get(name)}


def finding_line(source: PlotSource, finding: Finding,
                 findings: Sequence[Finding] = ()) -> Line | None:
    """The line a finding is drawn along: the probe's; an autodiff finding's point along its
    variable; else the line of another finding with the same cause (a zero gradient is seen
    where its floor jumps, a domain edge where its root has an infinite slope); else a point
    of the finding's set, along the variable it depends on most. None when there is none."""
    names = [s.name for s in source.symbols]

    def complete(point: dict) -> dict[str, float]:
        return {name: float(point.get(name, 0.0)) for name in names}

    if finding.probe and finding.probe.get("point"):
        return Line(complete(finding.probe["point"]), dict(finding.probe.get("direction") or {}))
    trap = finding.autodiff if isinstance(finding.autodiff, dict) else None
    if trap and trap.get("point") and trap.get("variable") in names:
        return Line(complete(trap["point"]), {trap["variable"]: 1.0})
    for other in findings:
        if other is not finding and other.cause == finding.cause and other.probe \
                and other.probe.get("point"):
            return Line(complete(other.probe["point"]), dict(other.probe.get("direction") or {}))
    g = source.set_of(finding)
    return None if g is None else _line_on_set(source, g)


def _line_on_set(source: PlotSource, g: sp.Expr) -> Line | None:
    from diffcheck.sets import points_on_set

    wrt = [s for s in source.symbols if s.name in source.wrt]
    order = wrt + [s for s in source.symbols if s not in wrt]
    points = points_on_set(g, source.symbols, order, seed=3, want=1)
    if not points:
        return None
    point = {s.name: float(sp.N(points[0].get(s, 0))) for s in source.symbols}
    steepest, largest = None, -1.0
    for s in order:
        if s not in g.free_symbols:
            continue
        slope = evaluate(compile_expr(sp.diff(g, s), source.symbols),
                         [point[x.name] for x in source.symbols])
        size = -1.0 if slope is None else abs(float(slope))
        if size > largest:
            steepest, largest = s, size
    return None if steepest is None else Line(point, {steepest.name: 1.0})


_T = sp.Dummy("t", real=True)


def restricted(expr: sp.Expr, symbols: Sequence[sp.Symbol], line: Line) -> sp.Expr:
    """``expr`` on the line: a function of the line's parameter alone, exactly.

    A float coordinate stands for the decimal it prints as (0.1 is 1/10).
    """
    def exact(number: float) -> sp.Expr:
        return sp.Rational(repr(float(number)))

    return expr.xreplace({s: exact(line.point.get(s.name, 0.0))
                          + exact(line.direction.get(s.name, 0.0)) * _T for s in symbols})


_ZERO_DERIVATIVE = (sp.floor, sp.ceiling, sp.sign, sp.Heaviside)


def derivative_along(expr_on_line: sp.Expr) -> sp.Expr:
    """d/dt of a restricted expression, valid wherever it is differentiable: the derivative
    of a step or a floor is 0 beside its set (its delta is the jump, drawn as a break)."""
    derivative = sp.diff(expr_on_line, _T)
    derivative = derivative.replace(
        lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, _ZERO_DERIVATIVE),
        lambda e: sp.Integer(0))
    return derivative.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))


def sample(expr_on_line: sp.Expr, t: np.ndarray) -> np.ndarray:
    """Float64 values at the parameters ``t`` (NaN where undefined).

    NumPy first; where it overflows or gives up, mpmath (``log(1 + exp(x))`` at 800 is 800,
    not inf), at most :data:`EXACT_FALLBACK` samples.
    """
    with np.errstate(all="ignore"):
        try:
            raw = compile_numpy(expr_on_line, (_T,))(t)
            values = np.broadcast_to(np.asarray(raw), t.shape)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError):
            values = np.full(t.shape, np.nan)
        if np.iscomplexobj(values):
            values = np.where(values.imag == 0, values.real, np.nan)
        values = np.array(values, dtype=np.float64)
    missing = np.flatnonzero(~np.isfinite(values))
    if len(missing):
        fn = compile_expr(expr_on_line, (_T,))
        for index in missing[:: max(1, math.ceil(len(missing) / EXACT_FALLBACK))]:
            exact = evaluate(fn, [float(t[index])], digits=30)
            values[index] = np.nan if exact is None else float(exact)
    return values


# --------------------------------------------------------------------------------------------
# A finding's slice
# --------------------------------------------------------------------------------------------


@dataclass
class OneSided:
    """Exact one-sided limits at the point: values and slopes along the line (None: that side
    is outside the domain; +-inf: an infinite slope, or a pole's value)."""

    value_left: float | None
    value_right: float | None
    slope_left: float | None
    slope_right: float | None


@dataclass
class Window:
    """One window of a slice: samples of ``t`` and what was drawn over them.

    ``loss_breaks[i]`` (``derivative_breaks[i]``) is true where the curve jumps between
    samples ``i`` and ``i + 1`` (a step, a pole, a switch of branch): drawn as a gap.
    ``frameworks`` holds the derivative along the line as each framework computes it.
    """

    t: np.ndarray
    loss: np.ndarray
    derivative: np.ndarray
    surrogate: np.ndarray | None = None
    frameworks: dict[str, np.ndarray] = field(default_factory=dict)
    loss_breaks: np.ndarray | None = None
    derivative_breaks: np.ndarray | None = None


@dataclass
class FindingSlice:
    """Everything the picture of one finding shows."""

    finding: Finding
    line: Line
    wide: Window
    zoom: Window
    #: where the zoomed window is centred (0: the point; an autodiff trap: its boundary)
    zoom_centre: float
    at_point: OneSided
    #: the loss's value at the point itself (None where undefined)
    value_at_point: float | None
    #: what PyTorch and JAX return along the line at the point
    frameworks_at_point: dict[str, float] = field(default_factory=dict)
    max_error: float | None = None
    dtype: str = "float32"


def finding_slice(source: PlotSource, finding: Finding,
                  findings: Sequence[Finding] = ()) -> FindingSlice | None:
    """The slice of ``source``'s loss through ``finding`` (None when it has no point)."""
    line = finding_line(source, finding, findings)
    if line is None:
        return None
    loss_t = restricted(source.loss, source.symbols, line)
    derivative_t = derivative_along(loss_t)
    surrogate_t = (restricted(source.surrogate, source.symbols, line)
                   if source.surrogate is not None else None)
    switches_t = _on_line(source.switches, source.symbols, line)
    poles_t = _on_line(source.poles, source.symbols, line)
    dtype = _dtype_of(finding, source.dtype)
    runner = _FrameworkRunner(source, line, dtype)

    half_width = WIDE_HALF_WIDTH
    centre = 0.0
    if finding.kind == "autodiff":
        half_width, centre = _trap_boundary(runner, derivative_t, half_width)

    def window(low: float, high: float, n: int) -> Window:
        t = midpoints(low, high, n)
        loss = sample(loss_t, t)
        derivative = sample(derivative_t, t)
        crossing = _crossings(switches_t, t)
        pole = _crossings(poles_t, t)
        jumps = crossing & ~_continuous(loss, derivative, t)
        return Window(t=t, loss=loss, derivative=derivative,
                      surrogate=None if surrogate_t is None else sample(surrogate_t, t),
                      frameworks=runner.along(t),
                      loss_breaks=jumps | pole | _nonfinite_between(loss),
                      derivative_breaks=crossing | pole | _nonfinite_between(derivative))

    wide = window(-half_width, half_width, WIDE_SAMPLES)
    if finding.kind == "autodiff":
        zoom_half = half_width / 10
    else:
        zoom_half = _feature_width(loss_t, derivative_t, surrogate_t, wide, half_width)
    zoom = window(centre - zoom_half, centre + zoom_half, ZOOM_SAMPLES)
    return FindingSlice(
        finding=finding, line=line, wide=wide, zoom=zoom, zoom_centre=centre,
        at_point=_one_sided(loss_t, derivative_t,
                            1 + max((abs(v) for v in line.point.values()), default=0.0)),
        value_at_point=_float_or_none(evaluate(compile_expr(loss_t, (_T,)), [0])),
        frameworks_at_point={fw: float(v[0]) for fw, v in runner.along(np.zeros(1)).items()},
        max_error=source.max_error, dtype=dtype)


def _on_line(sets: list[sp.Expr], symbols: Sequence[sp.Symbol], line: Line) -> list[sp.Expr]:
    """The expressions of ``sets`` on the line, those that change along it."""
    on_line = [restricted(g, symbols, line) for g in sets]
    return [g for g in on_line if g.has(_T)]


def midpoints(low: float, high: float, n: int) -> np.ndarray:
    """The centres of ``n`` equal cells between ``low`` and ``high``.

    >>> midpoints(-1, 1, 4).tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    step = (high - low) / n
    return low + step * (np.arange(n) + 0.5)


def _dtype_of(finding: Finding, default: str) -> str:
    trap = finding.autodiff if isinstance(finding.autodiff, dict) else {}
    dtype = trap.get("dtype")
    return dtype if isinstance(dtype, str) and dtype in ("float32", "float64") else default


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _one_sided(loss_t: sp.Expr, derivative_t: sp.Expr, scale: float) -> OneSided:
    """Limits of the value and of the exact slope from each side (read at ONE_SIDE: what
    keeps growing towards the point is infinite)."""
    value_fn = compile_expr(loss_t, (_T,))
    slope_fn = compile_expr(derivative_t, (_T,))

    def limit(fn: Callable, side: int) -> float | None:
        readings = [evaluate(fn, [side * h * scale]) for h in ONE_SIDE]
        if any(r is None for r in readings):
            return None
        values = [float(r) for r in readings if r is not None]
        growing = all(abs(b) >= GROWTH * abs(a) and a * b > 0
                      for a, b in itertools.pairwise(values))
        return math.copysign(math.inf, values[-1]) if growing else values[-1]

    def limits(side: int) -> tuple[float | None, float | None]:
        value = limit(value_fn, side)
        return value, None if value is None else limit(slope_fn, side)

    value_left, slope_left = limits(-1)
    value_right, slope_right = limits(1)
    return OneSided(value_left, value_right, slope_left, slope_right)


def _crossings(switches_t: Iterable[sp.Expr], t: np.ndarray) -> np.ndarray:
    """Whether some switching set is crossed between consecutive samples."""
    crossed = np.zeros(len(t) - 1, dtype=bool)
    for g in switches_t:
        values = sample(g, t)
        signs = np.sign(values)
        crossed |= (signs[:-1] * signs[1:] < 0) | ((signs[:-1] == 0) ^ (signs[1:] == 0))
    return crossed


def _continuous(values: np.ndarray, slopes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Whether each step between samples changes the value no more than its slopes allow."""
    step = np.abs(np.diff(values))
    with np.errstate(invalid="ignore"):
        allowed = 4 * np.diff(t) * np.fmax(np.abs(slopes[:-1]), np.abs(slopes[1:]))
        scale = 1e-9 * (1 + np.fmax(np.abs(values[:-1]), np.abs(values[1:])))
        return np.nan_to_num(step, nan=np.inf) <= np.nan_to_num(allowed, nan=0.0) + scale


def _nonfinite_between(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    return ~(finite[:-1] & finite[1:])


def _feature_width(loss_t: sp.Expr, derivative_t: sp.Expr, surrogate_t: sp.Expr | None,
                   wide: Window, half_width: float) -> float:
    """Half the width of the zoomed window, from how the surrogate meets the loss.

    The feature is the smoothing the surrogate needs (``delta`` for abs, ``tau`` for max,
    ``eps`` in ``sqrt(f + eps)``, scaled by how fast the set's expression moves along the
    line): a few times the distance beyond which the surrogate's slope has caught up with
    the loss's, but no wider than the window in which their gap is still visible (an
    infinite slope makes the slopes meet late, the values early). Without a surrogate: a
    twentieth of the wide window.
    """
    fallback = half_width / 20
    if surrogate_t is None:
        return fallback
    distances = half_width * np.logspace(-8, 0, 161)
    sides = [side * distances for side in (-1, 1)]
    loss = [sample(loss_t, t) for t in sides]
    smooth = [sample(surrogate_t, t) for t in sides]
    widths = [_slopes_meet(derivative_t, derivative_along(surrogate_t), sides, distances,
                           _typical_slope(wide, half_width)),
              _gap_visible(loss, smooth, distances)]
    found = [w for w in widths if w is not None]
    if not found:
        return fallback
    return float(min(min(found), half_width / 4))


def _slopes_meet(derivative_t: sp.Expr, surrogate_slope: sp.Expr, sides: list[np.ndarray],
                 distances: np.ndarray, slope_scale: float) -> float | None:
    """ZOOM_FEATURES times the distance past which the slopes agree (on the far side)."""
    width = 0.0
    for t in sides:
        loss_slope = sample(derivative_t, t)
        smooth_slope = sample(surrogate_slope, t)
        with np.errstate(invalid="ignore"):
            gap = np.abs(smooth_slope - loss_slope) / (np.abs(loss_slope) + slope_scale)
        known = np.isfinite(gap)
        apart = np.flatnonzero(known & (gap > CAUGHT_UP))
        if len(apart) == 0:
            continue
        # the first distance past the feature where the slopes agree again
        agree = np.flatnonzero(known[apart[0]:] & (gap[apart[0]:] <= CAUGHT_UP))
        if len(agree):
            width = max(width, float(distances[apart[0] + agree[0]]))
    return ZOOM_FEATURES * width if width else None


def _gap_visible(loss: list[np.ndarray], smooth: list[np.ndarray],
                 distances: np.ndarray) -> float | None:
    """The widest window around the point in which |loss - surrogate| still reaches
    VISIBLE_GAP of the loss's range there."""
    with np.errstate(invalid="ignore"):
        gaps = np.fmax(*(np.abs(s - v) for s, v in zip(smooth, loss)))
        highest = np.fmax(*loss)
        lowest = np.fmin(*loss)
    gap_within = np.fmax.accumulate(np.nan_to_num(gaps, nan=0.0))
    top = np.fmax.accumulate(np.where(np.isfinite(highest), highest, -np.inf))
    bottom = np.fmin.accumulate(np.where(np.isfinite(lowest), lowest, np.inf))
    with np.errstate(invalid="ignore"):
        visible = (gap_within > 0) & (gap_within >= VISIBLE_GAP * (top - bottom))
    inside = np.flatnonzero(visible)
    return float(distances[inside[-1]]) if len(inside) else None


def _typical_slope(wide: Window, half_width: float) -> float:
    """A slope as large as the loss's typical one on the wide window (never 0)."""
    finite = np.abs(wide.derivative[np.isfinite(wide.derivative)])
    median = float(np.median(finite)) if len(finite) else 0.0
    values = wide.loss[np.isfinite(wide.loss)]
    spread = float(values.max() - values.min()) / (2 * half_width) if len(values) else 0.0
    return max(median, spread, 1e-12)


# --------------------------------------------------------------------------------------------
# What PyTorch and JAX return along the line
# --------------------------------------------------------------------------------------------


class _FrameworkRunner:
    """The derivative along a line as the autodiff model of each framework computes it."""

    def __init__(self, source: PlotSource, line: Line, dtype: str) -> None:
        self.program = source.program
        self.names = [s.name for s in source.symbols]
        self.line = line
        self.dtype = dtype
        self.moving = [n for n, step in line.direction.items() if step and n in self.names]

    def along(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """framework -> the derivative along the line at ``t`` ({} when it cannot run)."""
        if self.program is None or not self.moving:
            return {}
        from diffcheck.autodiff import FRAMEWORKS, Arithmetic, Unsupported, gradients

        ar = Arithmetic(self.dtype)
        env = {n: ar.values(self.line.point.get(n, 0.0) + self.line.direction.get(n, 0.0) * t)
               for n in self.names}
        result = {}
        for fw in FRAMEWORKS:
            try:
                run = gradients(self.program, fw, ar, env, self.moving)
            except Unsupported:
                return {}
            except (TypeError, ValueError, ArithmeticError):
                # the autodiff model could not run this program (its own stage says so, or
                # should): the picture is drawn without the frameworks rather than not at all
                return {}
            with np.errstate(all="ignore"):
                total = np.zeros(t.shape)
                for name in self.moving:
                    part = np.broadcast_to(np.asarray(run.gradient[name], dtype=np.float64),
                                           t.shape)
                    total = total + self.line.direction[name] * part
            result[fw] = total
        return result


def _trap_boundary(runner: _FrameworkRunner, derivative_t: sp.Expr,
                   half_width: float) -> tuple[float, float]:
    """(half width, centre): a wide window that shows where the frameworks stop failing, and
    the boundary nearest to the point (0 when they fail at the point alone)."""
    for factor in BOUNDARY_SEARCH:
        width = half_width * factor
        t = midpoints(-width, width, WIDE_SAMPLES)
        failing = _failing(runner.along(t), sample(derivative_t, t))
        if failing is None:
            return half_width, 0.0
        edges = np.flatnonzero(failing[:-1] != failing[1:])
        if len(edges):
            nearest = edges[np.argmin(np.abs(t[edges]))]
            boundary = _bisect(runner, derivative_t, float(t[nearest]), float(t[nearest + 1]),
                               bool(failing[nearest]))
            return max(half_width, 1.25 * abs(boundary)), boundary
    return half_width, 0.0


def _bisect(runner: _FrameworkRunner, derivative_t: sp.Expr, low: float, high: float,
            failing_low: bool) -> float:
    """Where the frameworks start or stop failing between ``low`` and ``high``."""
    for _ in range(48):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        here = np.array([middle])
        failing = _failing(runner.along(here), sample(derivative_t, here))
        if failing is not None and bool(failing[0]) == failing_low:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _failing(frameworks: dict[str, np.ndarray], truth: np.ndarray) -> np.ndarray | None:
    """Where some framework returns NaN, inf or a value far from the exact derivative."""
    if not frameworks:
        return None
    bad = np.zeros(truth.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for values in frameworks.values():
            wrong = np.isfinite(truth) & (np.abs(values - truth) > 1e-3 * (1 + np.abs(truth)))
            bad |= ~np.isfinite(values) | wrong
    return bad


def failing_regions(window: Window) -> dict[str, list[tuple[float, float]]]:
    """framework -> the intervals of ``t`` where it returns NaN (each sample's neighbourhood)."""
    regions: dict[str, list[tuple[float, float]]] = {}
    step = (window.t[-1] - window.t[0]) / (len(window.t) - 1)
    for fw, values in window.frameworks.items():
        nan = np.isnan(values)
        spans = []
        start = None
        for index, flag in enumerate(nan):
            if flag and start is None:
                start = index
            if start is not None and (not flag or index == len(nan) - 1):
                stop = index if flag else index - 1
                spans.append((float(window.t[start] - step / 2), float(window.t[stop] + step / 2)))
                start = None
        if spans:
            regions[fw] = spans
    return regions


# --------------------------------------------------------------------------------------------
# Sparklines
# --------------------------------------------------------------------------------------------


def sparkline_values(cut: FindingSlice, n: int = SPARK_SAMPLES) -> list[float | None]:
    """The loss at ``n`` evenly spaced points of the wide window (None where undefined),
    rounded to 4 significant digits: the data of a text sparkline."""
    t = cut.wide.t
    picks = np.linspace(0, len(t) - 1, n).round().astype(int)
    return [None if not math.isfinite(v) else float(f"{v:.4g}") for v in cut.wide.loss[picks]]


# --------------------------------------------------------------------------------------------
# A loss's map over two variables
# --------------------------------------------------------------------------------------------


@dataclass
class MapLayer:
    """One finding on a map: its set's expression sampled on the grid (drawn at 0), the grid
    cells where a framework fails (autodiff findings), and its point when it lies in the plane."""

    finding: Finding
    set_values: np.ndarray | None = None
    failing: np.ndarray | None = None
    point: tuple[float, float] | None = None


@dataclass
class LossMap:
    """The loss over two variables, the others held at a finding's point."""

    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    #: loss[j, i] at (x[i], y[j]); NaN where undefined
    loss: np.ndarray
    held: dict[str, float]
    layers: list[MapLayer]


def map_variables(source: PlotSource, findings: Sequence[Finding],
                  lines: dict[int, Line]) -> list[str]:
    """The two variables the findings involve most (their sets' and their lines'), in the
    loss's order; filled up with the wrt variables, then the others."""
    names = [s.name for s in source.symbols]
    count = dict.fromkeys(names, 0)
    for finding in findings:
        involved: set[str] = set()
        g = source.set_of(finding)
        if g is not None:
            involved |= {s.name for s in g.free_symbols}
        line = lines.get(id(finding))
        if line is not None:
            involved |= {n for n, step in line.direction.items() if step}
        for name in involved & set(names):
            count[name] += 1
    involved_names = sorted((n for n in names if count[n]), key=lambda n: -count[n])
    chosen = involved_names[:2]
    for name in [n for n in names if n in source.wrt] + names:
        if len(chosen) == 2:
            break
        if name not in chosen:
            chosen.append(name)
    return sorted(chosen, key=names.index)


def loss_map(source: PlotSource, findings: Sequence[Finding]) -> LossMap | None:
    """The map of a loss of two or more variables (None for one variable, or no point)."""
    if len(source.symbols) < 2:
        return None
    lines = {id(f): line for f in findings
             if (line := finding_line(source, f, findings)) is not None}
    centre_line = next((lines[id(f)] for f in findings if id(f) in lines), None)
    if centre_line is None:
        return None
    x_name, y_name = map_variables(source, findings, lines)
    centre = centre_line.point
    span = WIDE_HALF_WIDTH
    x = np.linspace(centre[x_name] - span, centre[x_name] + span, MAP_SAMPLES)
    y = np.linspace(centre[y_name] - span, centre[y_name] + span, MAP_SAMPLES)
    grid_x, grid_y = np.meshgrid(x, y)
    held = {n: v for n, v in centre.items() if n not in (x_name, y_name)}
    by_name = {s.name: s for s in source.symbols}
    u, v = sp.Dummy("u", real=True), sp.Dummy("v", real=True)

    def on_plane(expr: sp.Expr) -> np.ndarray:
        plane = expr.xreplace({**{by_name[n]: sp.Rational(repr(val)) for n, val in held.items()},
                               by_name[x_name]: u, by_name[y_name]: v})
        with np.errstate(all="ignore"):
            try:
                raw = compile_numpy(plane, (u, v))(grid_x, grid_y)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError):
                return np.full(grid_x.shape, np.nan)
            values = np.broadcast_to(np.asarray(raw), grid_x.shape)
            if np.iscomplexobj(values):
                values = np.where(values.imag == 0, values.real, np.nan)
            values = np.array(values, dtype=np.float64)
        values[~np.isfinite(values)] = np.nan
        return values

    layers = []
    for finding in findings:
        layer = MapLayer(finding)
        g = source.set_of(finding)
        if g is not None:
            layer.set_values = on_plane(g)
        line = lines.get(id(finding))
        if line is not None and all(abs(line.point[n] - val) <= 1e-9 * (1 + abs(val))
                                    for n, val in held.items()):
            layer.point = (line.point[x_name], line.point[y_name])
        if finding.kind == "autodiff" and line is not None:
            layer.failing = _failing_on_grid(source, finding, line, grid_x, grid_y,
                                             x_name, y_name, held)
        layers.append(layer)
    return LossMap(x_name, y_name, x, y, on_plane(source.loss), held, layers)


def _failing_on_grid(source: PlotSource, finding: Finding, line: Line, grid_x: np.ndarray,
                     grid_y: np.ndarray, x_name: str, y_name: str,
                     held: dict[str, float]) -> np.ndarray | None:
    """Grid cells where PyTorch or JAX return NaN or inf for the finding's variable."""
    if source.program is None:
        return None
    from diffcheck.autodiff import FRAMEWORKS, Arithmetic, Unsupported, gradients

    ar = Arithmetic(_dtype_of(finding, source.dtype))
    columns = {x_name: grid_x.ravel(), y_name: grid_y.ravel()}
    env = {n: ar.values(columns[n] if n in columns else np.full(grid_x.size, held[n]))
           for n in (s.name for s in source.symbols)}
    variable = next(iter(line.direction))
    bad = np.zeros(grid_x.size, dtype=bool)
    for fw in FRAMEWORKS:
        try:
            run = gradients(source.program, fw, ar, env, [variable])
        except (Unsupported, TypeError, ValueError, ArithmeticError):
            return None
        gradient = np.broadcast_to(np.asarray(run.gradient[variable], dtype=np.float64),
                                   (grid_x.size,))
        bad |= ~np.isfinite(gradient)
    return bad.reshape(grid_x.shape)
