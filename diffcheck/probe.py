"""The numeric probe: one-sided difference quotients of the original loss at a point.

The analyzer proposes; the probe confirms or clears. It evaluates the loss itself (with all
its switching primitives) at ``p + h*d`` and ``p - h*d`` for shrinking ``h``. Central
differences are blind at symmetric kinks (``abs`` has central quotient 0 at 0), so only
one-sided quotients are used:

* a jump: the two sides do not meet, quotients grow like 1/h;
* an infinite slope: a quotient grows without bound, more slowly;
* a kink: both quotients settle, at different values;
* smooth: both settle at the same value.

It is the one place difference quotients are computed: :func:`one_sided_quotients` (also
for the normals of sets and the check of surrogates), :func:`looks_nonsmooth`, the cheap
float screen the analysis uses to search a set for points where a switch shows, and
:func:`float_quotients`, the trap search's float64 reading of many points at once.

>>> import sympy as sp
>>> from diffcheck.numeric import compile_expr
>>> x = sp.Symbol("x", real=True)
>>> r = probe(compile_expr(sp.Abs(x), (x,)), [x], {x: 0}, {x: 1})
>>> r.saw, r.left, r.right
('kink', -1.0, 1.0)
>>> probe(compile_expr(sp.Max(x, 0)**4, (x,)), [x], {x: 0}, {x: 1}).saw
'smooth'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mpmath as mp
import numpy as np

from diffcheck.numeric import DIGITS, evaluate, to_mpf
from diffcheck.numeric import value as float_value

if TYPE_CHECKING:
    from diffcheck.analysis import Analysis

#: shrinking step sizes; far above the working precision (DIGITS) so rounding never matters
STEPS = (mp.mpf("1e-8"), mp.mpf("1e-12"), mp.mpf("1e-16"))


@dataclass
class ProbeResult:
    saw: str  # jump | infinite-slope | kink | smooth | unknown
    point: dict
    direction: dict
    left: float | None
    right: float | None
    #: right minus left quotient at each step, where both exist: a kink keeps its gap as the
    #: step shrinks, a smooth function's gap shrinks with it (about step times curvature)
    gaps: tuple[float, ...] = ()

    @property
    def gap_persists(self) -> bool:
        """Whether the slopes' gap stays as the step shrinks (a kink), not with it (smooth)."""
        if len(self.gaps) < 2:
            return False
        return abs(self.gaps[-1]) > 0.1 * abs(self.gaps[-2])

    def confirms(self, kind: str) -> bool | None:
        """Whether what the probe saw backs a finding of ``kind`` (None: it could not tell)."""
        if self.saw == "unknown":
            return None
        # a kink over an infinite one-sided slope (sqrt(abs(u))) still shows as non-smooth
        return self.saw != "smooth"

    def to_dict(self) -> dict:
        return {
            "point": {str(k): float(to_mpf(v)) for k, v in self.point.items()},
            "direction": {str(k): float(to_mpf(v)) for k, v in self.direction.items() if v != 0},
            "left": self.left,
            "right": self.right,
            "saw": self.saw,
        }


def one_sided_quotients(fn: Callable, symbols: Sequence, point: dict, direction: dict, h) -> tuple:
    """(left, right, value): one-sided difference quotients of ``fn`` at ``point`` with step
    ``h``, and its value there (None where undefined). The only place they are computed."""
    return _quotients(fn, symbols, point, direction, (h,))[0]


def _quotients(fn: Callable, symbols: Sequence, point: dict, direction: dict,
               steps: Sequence) -> list[tuple]:
    """:func:`one_sided_quotients` for each of ``steps``, the value at the point read once."""
    with mp.workdps(DIGITS):  # the steps are far below double precision
        base = [to_mpf(point[s]) for s in symbols]
        step = [to_mpf(direction.get(s, 0)) for s in symbols]
        here = evaluate(fn, base)
        if here is None:
            return [(None, None, None)] * len(steps)
        series = []
        for h in steps:
            ahead = evaluate(fn, [b + h * d for b, d in zip(base, step)])
            behind = evaluate(fn, [b - h * d for b, d in zip(base, step)])
            right = None if ahead is None else (ahead - here) / h
            left = None if behind is None else (here - behind) / h
            series.append((left, right, here))
        return series


def probe(fn: Callable, symbols: Sequence, point: dict, direction: dict) -> ProbeResult:
    """Classify the loss at ``point`` along ``direction`` from one-sided difference quotients."""
    with mp.workdps(DIGITS):
        series = _quotients(fn, symbols, point, direction, STEPS)
        lefts = [s[0] for s in series]
        rights = [s[1] for s in series]
        saw = _classify(lefts, rights, STEPS)
        left = None if lefts[-1] is None else float(lefts[-1])
        right = None if rights[-1] is None else float(rights[-1])
        gaps = tuple(float(after - before) for before, after in zip(lefts, rights)
                     if before is not None and after is not None)
    return ProbeResult(saw, point, direction, left, right, gaps)


def _settles(values) -> bool:
    _, b, c = values
    return abs(b - c) <= mp.mpf("1e-3") * (1 + abs(c))


def _grows(values, steps) -> str | None:
    a, _, c = (abs(v) for v in values)
    if c <= 10 * a or c < 1e3:
        return None
    # growth like 1/h (a jump) or slower (an infinite slope)
    rate = mp.log(c / max(a, mp.mpf("1e-300"))) / mp.log(steps[0] / steps[-1])
    return "jump" if rate > mp.mpf("0.9") else "infinite-slope"


def _classify(lefts, rights, steps) -> str:
    sides = [s for s in (lefts, rights) if None not in s]
    if not sides:
        return "unknown"
    growth = [_grows(s, steps) for s in sides]
    if "jump" in growth:
        return "jump"
    if "infinite-slope" in growth:
        return "infinite-slope"
    if not all(_settles(s) for s in sides):
        return "unknown"
    if len(sides) == 2 and abs(lefts[-1] - rights[-1]) > mp.mpf("1e-4") * (1 + abs(rights[-1])):
        return "kink"
    return "smooth"


def confirm(analysis: Analysis) -> None:
    """Probe every kink, jump and infinite-slope finding of ``analysis`` at its point.

    Each finding gets the probe's reading (``probe``) and whether it backs the finding
    (``confirmed``). A finding the exact analysis decided stays whatever the probe sees (a
    slope change of 1e-6 is below any difference quotient's resolution); one decided by the
    numeric fallback is withdrawn when the probe sees a smooth function there.
    """
    loss_fn = analysis.loss_function
    for item in list(analysis.non_smooth):
        comparison = item.comparison
        check = probe(loss_fn, analysis.symbols, comparison.point, comparison.direction)
        if check.saw == "smooth" and not comparison.removable and not comparison.exact:
            analysis.drop(item)
            continue
        item.finding.probe = check.to_dict()
        # a value that differs at the point alone (where(u == 0, 1, u)) shows only at the exact
        # point: when the report can only give it rounded, the probe cannot vouch for it
        blind = comparison.removable and (check.saw == "smooth"
                                          or not _exact_in_floats(comparison.point))
        item.finding.confirmed = None if blind else check.confirms(item.finding.kind)


def _exact_in_floats(point: dict) -> bool:
    """Whether every coordinate of ``point`` is a double exactly (0, 1/2; not 1/3 or sqrt(2))."""
    with mp.workdps(DIGITS):
        return all(mp.mpf(float(to_mpf(v))) == to_mpf(v) for v in point.values())


def looks_nonsmooth(loss_fn: Callable, values: list[float], index: int) -> bool:
    """A cheap screen: whether a :func:`~diffcheck.numeric.compile_float` function looks
    non-smooth along coordinate ``index`` at a float point (``values`` is restored).

    The second difference quotient (f(x+h) + f(x-h) - 2 f(x))/h shrinks like h for a smooth
    function and does not for a kink (or grows, for a jump).
    """
    x = values[index]
    readings = []
    for h in (1e-4 * (1 + abs(x)), 1e-6 * (1 + abs(x))):
        readings_here = []
        for shift in (h, -h, 0.0):
            values[index] = x + shift
            reading = float_value(loss_fn, values)
            if reading is None:
                values[index] = x
                return False
            readings_here.append(reading)
        values[index] = x
        ahead, behind, here = readings_here
        readings.append(((ahead + behind - 2 * here) / h, here))
    (coarse, _), (fine, here) = readings
    return abs(fine) > 1e-6 * (1 + abs(here)) and abs(fine) > 0.3 * abs(coarse)


@dataclass
class FloatReading:
    """:func:`float_quotients` at each point: a clear kink, clearly smooth, the slope."""

    kink: np.ndarray
    smooth: np.ndarray
    slope: np.ndarray


def float_quotients(loss: Callable, points: np.ndarray, direction: np.ndarray) -> FloatReading:
    """One-sided difference quotients of a NumPy float64 ``loss`` at rows of ``points`` along
    ``direction``, at two step sizes: a **kink** where both sides settle and disagree far
    beyond their rounding noise with a gap that stays as the step shrinks; **smooth** where
    the gap shrinks with the step and the central quotients agree to 1e-8; else neither.

    >>> import sympy as sp
    >>> from diffcheck.numeric import compile_numpy
    >>> x = sp.Symbol("x", real=True)
    >>> reading = float_quotients(compile_numpy(sp.Abs(x) + x**2, [x]),
    ...                           np.array([[0.0], [1.0]]), np.array([1.0]))
    >>> reading.kink.tolist(), reading.smooth.tolist(), round(float(reading.slope[1]), 6)
    ([True, False], [False, True], 3.0)
    """
    shape = (len(points),)
    eps = float(np.finfo(np.float64).eps)
    scale = 1 + np.max(np.abs(points), axis=1)

    def at(rows: np.ndarray) -> np.ndarray:
        try:
            return np.broadcast_to(np.asarray(loss(*rows.T), dtype=np.float64), shape)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return np.full(shape, np.nan)

    with np.errstate(all="ignore"):
        here = at(points)
        readings = []
        for relative_step in (1e-4, 1e-5):
            h = relative_step * scale
            sides = []
            for sign in (1.0, -1.0):
                there = at(points + sign * h[:, None] * direction[None, :])
                noise = 64 * eps * np.fmax(np.abs(here), np.abs(there)) / h
                sides.append((sign * (there - here) / h, noise))
            (right, right_noise), (left, left_noise) = sides
            readings.append((right, left, right_noise + left_noise))
        (coarse_right, coarse_left, _), (right, left, noise) = readings
        finite = (np.isfinite(right) & np.isfinite(left) & np.isfinite(coarse_right)
                  & np.isfinite(coarse_left))
        gap, coarse_gap = right - left, coarse_right - coarse_left
        settled = ((np.abs(right - coarse_right) <= 1e-3 * (1 + np.abs(right)) + noise)
                   & (np.abs(left - coarse_left) <= 1e-3 * (1 + np.abs(left)) + noise))
        kink = (finite & settled & (np.abs(gap) > 0.5 * np.abs(coarse_gap))
                & (np.abs(gap) > 1e-2 * (1 + np.abs(right) + np.abs(left)) + 10 * noise))
        slope = (right + left) / 2
        coarse_slope = (coarse_right + coarse_left) / 2
        tight = 1e-8 * (1 + np.abs(slope))
        smooth = (finite & (np.abs(gap) <= 0.2 * np.abs(coarse_gap) + 2 * noise)
                  & (np.abs(slope - coarse_slope) <= tight + 2 * noise) & (noise <= tight))
    return FloatReading(kink, smooth, np.where(finite, slope, np.nan))
