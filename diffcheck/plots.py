"""Pictures of findings, drawn with matplotlib: the only module that imports it.

matplotlib is an optional extra (``pip install 'diffcheck[plot]'``) and is imported only
when a picture is drawn, so this module itself always imports. Figures are made with
``matplotlib.figure.Figure`` and the Agg canvas directly: no pyplot, no GUI backend, no
global state changed in the caller's process (a notebook keeps its backend). Sizes, dpi and
fonts are fixed and the PNG metadata holds no software version or date, so the same loss
gives the same bytes.

One picture per finding (:func:`finding_figure`): on top the loss along the probe line
through the finding's point, wide (the shape) and zoomed (the feature), with the whole-loss
surrogate, the band ``loss +- max_error`` it stays in, the two one-sided tangents and the
point; below, the derivative along the same line (the exact one-sided values, and what
PyTorch and JAX return: NaN as marks on the axis, its region shaded). One more per loss of
two or more variables (:func:`map_figure`): the loss over the two variables its findings
involve, every finding's set drawn and labelled by its code. The numbers come from
:mod:`diffcheck.slices`; the functions that draw return them, so that tests read what was
drawn rather than pixels.

>>> safe_name("focal/loss: v2"), safe_name("..."), safe_name("CON")
('focal_loss_v2', 'loss', 'CON_')
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from diffcheck.model import Finding, Report
from diffcheck.slices import (
    FindingSlice,
    LossMap,
    PlotSource,
    Window,
    failing_regions,
    finding_slice,
    loss_map,
    sparkline_values,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'diffcheck[plot]'"
#: inches and dots per inch: 1100 x 720 pixels, readable at 100% on a laptop screen
FIGURE_SIZE = (11.0, 7.2)
MAP_SIZE = (8.5, 8.0)
#: the height of one legend row under a map, as a fraction of the figure's height
MAP_LEGEND_ROW = 0.028
DPI = 100
#: seconds the pictures of one loss may take; the rest are skipped (and the report says so)
PLOT_SECONDS = 30.0
#: longest title, in characters (a Python loss's title is its name)
TITLE_LENGTH = 90
#: a curve whose values span less than this (relative to their size) is drawn as flat
MIN_SPAN = 1e-4

#: every setting a picture depends on, so that no matplotlibrc or style changes it
STYLE: dict[Any, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.titlesize": 12.5,
    # user text is never TeX: a '$' in a name is a dollar sign
    "text.parse_math": False,
    "text.usetex": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.unicode_minus": True,
    "path.simplify": True,
    "image.cmap": "viridis",
    "hatch.linewidth": 0.8,
}

COLOURS = {
    "loss": "#1a1a1a",
    "surrogate": "#1f6fd1",
    "band": "#9cc3f5",
    "left": "#d1495b",
    "right": "#2e9e57",
    "point": "#1a1a1a",
    "torch": "#ee4c2c",
    "jax": "#7b3fbf",
    "nan": "#e0313b",
    "undefined": "#bdbdbd",
}
FRAMEWORK_NAMES = {"torch": "PyTorch", "jax": "JAX"}
#: colours of the sets on a map, each outlined in black: visible on every colour of viridis
SET_COLOURS = ("#ff3b30", "#ffffff", "#ff9f0a", "#e040fb", "#64d2ff", "#ffd60a", "#30d158")


class PlotUnavailable(ImportError):
    """matplotlib is not installed: pictures need the ``plot`` extra."""

    def __init__(self) -> None:
        super().__init__(f"--plot needs matplotlib: {INSTALL_HINT}")


def require_matplotlib() -> None:
    """Raise :class:`PlotUnavailable` unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise PlotUnavailable() from err


def matplotlib_available() -> bool:
    try:
        require_matplotlib()
    except PlotUnavailable:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Names of the files
# --------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10))}


def safe_name(text: str, limit: int = 60) -> str:
    """``text`` as a file name on every file system: letters, digits, ``_ . -``, no leading
    dot, no device name of Windows, at most ``limit`` characters."""
    name = _UNSAFE.sub("_", text).strip("._-")[:limit].rstrip("._-") or "loss"
    return name + "_" if name.upper() in _RESERVED else name


def file_stem(report: Report, name: str | None = None) -> str:
    """How the pictures of a loss start: its name, or ``loss-`` and a short stable hash of
    its input (the same expression gets the same files from run to run).

    >>> file_stem(Report(input="abs(y - f)")), file_stem(Report(input="x", name="mae"))
    ('loss-83fdf63a', 'mae')
    """
    if name:
        return safe_name(name)
    if report.name:
        return safe_name(report.name)
    digest = hashlib.sha256(report.input.encode("utf-8", "replace")).hexdigest()[:8]
    return f"loss-{digest}"


# --------------------------------------------------------------------------------------------
# The plot stage
# --------------------------------------------------------------------------------------------


def add_pictures(report: Report, plot_dir: str | Path | None, *, name: str | None = None,
                 sparklines: bool = False, time_budget: float = PLOT_SECONDS) -> None:
    """The plot stage of the pipeline, on a complete report with its ``plot_source``.

    With ``plot_dir``: each finding's picture ``<stem>-<code>-<n>.png`` (n counts the
    findings of that code) and its path in the finding's ``plot``; for two or more variables
    the map ``<stem>-map.png`` in the report's ``plot``. With ``sparklines``: each finding's
    ``slice``. A picture that cannot be drawn is skipped and the report says why; it never
    changes a verdict.
    """
    source: PlotSource | None = report.plot_source
    if source is None:
        return
    if plot_dir is not None:
        require_matplotlib()
        Path(plot_dir).mkdir(parents=True, exist_ok=True)
    stem = file_stem(report, name)
    deadline = time.monotonic() + time_budget
    numbers: Counter[str] = Counter()
    for finding in report.findings:
        numbers[finding.code] += 1
        if time.monotonic() > deadline:
            report.assumptions.append(f"plots skipped after {time_budget:g} s")
            return
        try:
            cut = finding_slice(source, finding, report.findings)
            if cut is None:
                continue
            if sparklines:
                finding.slice = {"start": float(cut.line.coordinate(cut.wide.t[0])),
                                 "stop": float(cut.line.coordinate(cut.wide.t[-1])),
                                 "values": sparkline_values(cut)}
            if plot_dir is not None:
                number = numbers[finding.code]
                path = Path(plot_dir) / f"{stem}-{safe_name(finding.code)}-{number}.png"
                path.write_bytes(png_bytes(finding_figure(cut, source)))
                finding.plot = str(path)
        except Exception as err:  # a picture must never cost a loss its result
            report.assumptions.append(f"plot of {finding.code} skipped: {_reason(err)}")
    if plot_dir is not None and len(source.symbols) >= 2 and report.findings:
        try:
            drawn = loss_map(source, report.findings)
            if drawn is not None:
                path = Path(plot_dir) / f"{stem}-map.png"
                path.write_bytes(png_bytes(map_figure(drawn, source)))
                report.plot = str(path)
        except Exception as err:
            report.assumptions.append(f"map of the loss skipped: {_reason(err)}")


def _reason(err: Exception) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())[:160]}"


def plot_finding(report: Report, finding: Finding, path: str | Path | None = None
                 ) -> tuple[FindingSlice, bytes] | None:
    """Draw one finding of a report made in this process: the data drawn and the PNG (also
    written to ``path`` when given). None when the finding has no point to draw at."""
    source = report.plot_source
    if source is None:
        return None
    cut = finding_slice(source, finding, report.findings)
    if cut is None:
        return None
    png = png_bytes(finding_figure(cut, source))
    if path is not None:
        Path(path).write_bytes(png)
    return cut, png


def plot_map(report: Report, path: str | Path | None = None) -> tuple[LossMap, bytes] | None:
    """Draw the map of a report made in this process (see :func:`plot_finding`)."""
    source = report.plot_source
    if source is None:
        return None
    drawn = loss_map(source, report.findings)
    if drawn is None:
        return None
    png = png_bytes(map_figure(drawn, source))
    if path is not None:
        Path(path).write_bytes(png)
    return drawn, png


def report_images(report: Report) -> list[tuple[str, bytes]]:
    """(caption, PNG) of every picture of a report, drawn in memory (for a notebook); the
    files of ``--plot`` when the report came from another process. [] without matplotlib."""
    if not matplotlib_available():
        return []
    images = []
    if report.plot_source is not None:
        for finding in report.findings:
            try:
                drawn = plot_finding(report, finding)
            except Exception:
                continue
            if drawn is not None:
                images.append((finding.code, drawn[1]))
        if len(report.plot_source.symbols) >= 2 and report.findings:
            try:
                mapped = plot_map(report)
            except Exception:
                mapped = None
            if mapped is not None:
                images.append(("map", mapped[1]))
        return images
    paths = [(f.code, f.plot) for f in report.findings if f.plot] + \
        ([("map", report.plot)] if report.plot else [])
    for caption, path in paths:
        try:
            images.append((caption, Path(path).read_bytes()))
        except OSError:
            continue
    return images


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def png_bytes(figure: Figure) -> bytes:
    """The PNG of a figure, the same bytes for the same figure (no software, no date)."""
    import io

    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    with rc_context(STYLE):
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _printable(text: str) -> str:
    """Control characters of untrusted text shown as ``?``, one line."""
    return " ".join("".join("?" if unicodedata.category(ch) == "Cc" else ch
                            for ch in text).split())


def _shorten(text: str, limit: int) -> str:
    text = _printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float | None) -> str:
    if value is None:
        return "undefined"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.4g}"


def _finding_heading(finding: Finding) -> str:
    from diffcheck.report import user_spelling

    where = user_spelling(finding.where) if finding.where else None
    text = f"{finding.code} {finding.kind}"
    return text + (f" where {where}" if where else "")


def _held_text(held: dict[str, float]) -> str:
    if not held:
        return ""
    parts = ", ".join(f"{name} = {value:.4g}" for name, value in held.items())
    return _shorten("held at: " + parts, 400)


def _footnote(figure: Figure, parts: list[str], left: float) -> None:
    """Small grey lines at the bottom: what is held fixed, what is drawn as a stand-in."""
    import textwrap

    width_px = figure.get_figwidth() * DPI * (1 - 2 * left)
    text = "   ".join(p for p in parts if p)
    lines = textwrap.wrap(text, width=int(width_px / 5.6))[:2]
    figure.text(left, 0.012, "\n".join(lines), fontsize=8.5, color="#555555", ha="left",
                va="bottom")


def finding_figure(cut: FindingSlice, source: PlotSource) -> Figure:
    """The picture of one finding (see the module's docstring)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with rc_context(STYLE):
        figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
        grid = figure.add_gridspec(2, 2, height_ratios=(3, 2), hspace=0.08, wspace=0.18,
                                   left=0.08, right=0.985, top=0.865, bottom=0.12)
        loss_wide = figure.add_subplot(grid[0, 0])
        loss_zoom = figure.add_subplot(grid[0, 1])
        slope_wide = figure.add_subplot(grid[1, 0], sharex=loss_wide)
        slope_zoom = figure.add_subplot(grid[1, 1], sharex=loss_zoom)
        title = _shorten(source.title, TITLE_LENGTH)
        figure.suptitle(title, fontweight="bold", y=0.985)
        bound = ("max error " + _number(cut.max_error) if cut.max_error is not None
                 else "no uniform error bound")
        subtitle = _shorten(_finding_heading(cut.finding), 100)
        if source.surrogate is not None:
            subtitle += f"  ·  smooth surrogate: {bound}"
        figure.text(0.5, 0.925, subtitle, ha="center", va="center", fontsize=11)
        axis = cut.line.axis
        variable = axis or "t"
        footnote = [_held_text(cut.line.held())]
        if axis is None:
            footnote.append("t along " + ", ".join(f"{v:g}·{n}" for n, v in
                                                   cut.line.direction.items() if v))
        if source.stand_ins:
            footnote.append(f"model functions {', '.join(source.stand_ins)} drawn as a generic "
                            "smooth stand-in")
        _footnote(figure, footnote, 0.08)
        for panel, slope_panel, window, zoomed in ((loss_wide, slope_wide, cut.wide, False),
                                                   (loss_zoom, slope_zoom, cut.zoom, True)):
            _draw_loss(panel, cut, source, window, zoomed)
            _draw_derivative(slope_panel, cut, window, zoomed, variable)
            panel.tick_params(labelbottom=False)
            slope_panel.set_xlabel(variable)
        loss_wide.set_ylabel("loss")
        slope_wide.set_ylabel(f"d loss / d{variable}" if len(variable) == 1 else
                              f"d loss / d {variable}")
        for panel in (loss_wide, loss_zoom, slope_wide, slope_zoom):
            panel.ticklabel_format(axis="y", useOffset=False)
            panel.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        figure.align_ylabels([loss_wide, slope_wide])
        low, high = (cut.line.coordinate(cut.zoom.t[0]), cut.line.coordinate(cut.zoom.t[-1]))
        loss_wide.set_title(f"the loss along {variable}", loc="left")
        loss_zoom.set_title(f"zoomed: {_number(low)} to {_number(high)}", loc="left")
        loss_wide.legend(loc="best", framealpha=0.92)
        handles, labels = slope_wide.get_legend_handles_labels()
        extra_handles, extra_labels = slope_zoom.get_legend_handles_labels()
        for handle, label in zip(extra_handles, extra_labels):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
        slope_wide.legend(handles, labels, loc="best", framealpha=0.92)
    return figure


def _segments(x: np.ndarray, y: np.ndarray, breaks: np.ndarray | None) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """``x`` and ``y`` with a NaN between samples where the curve breaks (drawn as a gap)."""
    if breaks is None or not breaks.any():
        return x, y
    cut_after = np.flatnonzero(breaks) + 1
    return (np.insert(x.astype(float), cut_after, np.nan),
            np.insert(y.astype(float), cut_after, np.nan))


def _robust_limits(values: Sequence[np.ndarray | None], keep: Sequence[float | None] = (),
                   quantile: float = 0.01, pad: float = 0.08) -> tuple[float, float] | None:
    """y limits that show the curves but not a pole's or an infinite slope's spike."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values if v is not None] or [np.zeros(0)])
    anchors = [v for v in keep if v is not None and math.isfinite(v)]
    if len(finite) == 0 and not anchors:
        return None
    low, high = (float(np.quantile(finite, quantile)), float(np.quantile(finite, 1 - quantile))) \
        if len(finite) else (min(anchors), max(anchors))
    low, high = min([low, *anchors]), max([high, *anchors])
    if high - low < MIN_SPAN * (1 + abs(high) + abs(low)):
        # flat, or rounding noise around a constant (a float32 gradient of 1 +- 1e-7)
        centre = (high + low) / 2
        spread = 0.1 * (1 + abs(centre))
        return centre - spread, centre + spread
    margin = pad * (high - low)
    return low - margin, high + margin


def _draw_loss(ax: Axes, cut: FindingSlice, source: PlotSource, window: Window,
               zoomed: bool) -> None:
    x = cut.line.coordinate(window.t)
    x0 = cut.line.coordinate(0.0)
    _shade_undefined(ax, x, window.loss)
    _shade_failing(ax, cut, window, x, labelled=False)
    bound = cut.max_error
    if window.surrogate is not None and bound is not None:
        finite = np.isfinite(window.loss)
        ax.fill_between(x, window.loss - bound, window.loss + bound, where=finite,
                        color=COLOURS["band"], alpha=0.45, linewidth=0,
                        label=f"loss ± max error ({_number(bound)})")
    ax.plot(*_segments(x, window.loss, window.loss_breaks), color=COLOURS["loss"], lw=2.0,
            label="loss", zorder=3)
    if window.surrogate is not None:
        ax.plot(*_segments(x, window.surrogate, None), color=COLOURS["surrogate"], lw=1.6,
                ls="--", label="smooth surrogate", zorder=4)
    keep = [cut.at_point.value_left, cut.at_point.value_right, cut.value_at_point] \
        if window.t[0] < 0 < window.t[-1] else []
    limits = _robust_limits([window.loss, window.surrogate], keep)
    if limits is not None:
        ax.set_ylim(*limits)
    if cut.zoom_centre == 0.0 or not zoomed:
        _draw_tangents(ax, cut, window, x0)
    _draw_point(ax, cut, x0)
    ax.set_xlim(x[0], x[-1])


def _shade_undefined(ax: Axes, x: np.ndarray, values: np.ndarray) -> None:
    """Grey where the loss has no real value (outside its domain)."""
    undefined = ~np.isfinite(values)
    if not undefined.any():
        return
    step = (x[-1] - x[0]) / (len(x) - 1)
    first = True
    for start, stop in _runs(undefined):
        ax.axvspan(x[start] - step / 2, x[stop] + step / 2, color=COLOURS["undefined"],
                   alpha=0.3, lw=0, label="loss undefined" if first else None)
        first = False


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of true flags."""
    runs = []
    start = None
    for index, flag in enumerate(flags):
        if flag and start is None:
            start = index
        if start is not None and (not flag or index == len(flags) - 1):
            runs.append((start, index if flag else index - 1))
            start = None
    return runs


def _smooth_at_point(cut: FindingSlice) -> bool:
    """Whether both one-sided values and slopes agree: one tangent, not two."""
    sides = cut.at_point
    values = (sides.value_left, sides.value_right, sides.slope_left, sides.slope_right)
    if any(v is None or not math.isfinite(v) for v in values):
        return False
    return (_same_value(cut, sides.value_left, sides.value_right)
            and _close(sides.slope_left, sides.slope_right, 1e-6))


def _same_value(cut: FindingSlice, a: float | None, b: float | None) -> bool:
    """Whether two values at the point are one on the picture: closer than a ten-thousandth
    of what the wide window spans (a one-sided limit read 1e-12 away from the point of
    ``sqrt`` is 1e-6; a jump that small would not show anyway)."""
    if a is None or b is None:
        return a is b
    finite = cut.wide.loss[np.isfinite(cut.wide.loss)]
    span = float(finite.max() - finite.min()) if len(finite) else 0.0
    return abs(a - b) <= 1e-4 * span + 1e-9 * (1 + abs(a))


def _close(a: float | None, b: float | None, tolerance: float) -> bool:
    assert a is not None and b is not None
    return abs(a - b) <= tolerance * (1 + abs(a) + abs(b))


def _draw_tangents(ax: Axes, cut: FindingSlice, window: Window, x0: float) -> None:
    """The two one-sided tangents at the point, each drawn on its own side (one line where
    they agree)."""
    reach = 0.55 * max(abs(window.t[0]), abs(window.t[-1]))
    low, high = ax.get_ylim()
    if _smooth_at_point(cut):
        value, slope = cut.at_point.value_right, cut.at_point.slope_right
        assert value is not None and slope is not None
        t = np.array([-reach, reach])
        ax.plot(x0 + t, value + slope * t, color=COLOURS["right"], lw=2.2, ls=(0, (4, 2)),
                zorder=5, label=f"tangent, slope {_number(slope)} (both sides)")
        ax.set_ylim(low, high)
        return
    sides = ((-1, cut.at_point.value_left, cut.at_point.slope_left, "left"),
             (1, cut.at_point.value_right, cut.at_point.slope_right, "right"))
    for side, value, slope, name in sides:
        if value is None or slope is None or not math.isfinite(value):
            continue  # outside the domain on that side, or a pole
        colour = COLOURS[name]
        if math.isinf(slope):
            # vertical: it climbs (or falls) from the point
            rising = (slope > 0) == (side > 0)
            end = value + (0.45 if rising else -0.45) * (high - low)
            ax.plot([x0, x0], [value, end], color=colour, lw=2.2, ls=(0, (4, 2)), zorder=5,
                    label=f"{name} tangent: vertical (infinite slope)")
            continue
        t = np.array([0.0, side * reach])
        ax.plot(x0 + t, value + slope * t, color=colour, lw=2.2, ls=(0, (4, 2)), zorder=5,
                label=f"{name} tangent, slope {_number(slope)}")
    ax.set_ylim(low, high)


def _draw_point(ax: Axes, cut: FindingSlice, x0: float) -> None:
    """The point: filled at its value; open circles at one-sided limits that differ (a jump)."""
    where = f" ({cut.line.axis} = {_number(x0)})" if cut.line.axis is not None else ""
    label: str | None = "the point" + where
    if cut.value_at_point is not None:
        ax.plot([x0], [cut.value_at_point], "o", color=COLOURS["point"], ms=7, zorder=6,
                label=label)
        label = None
    for value in (cut.at_point.value_left, cut.at_point.value_right):
        if value is None or not math.isfinite(value):
            continue
        if cut.value_at_point is not None and _same_value(cut, value, cut.value_at_point):
            continue
        ax.plot([x0], [value], "o", mfc="white", mec=COLOURS["point"], mew=1.6, ms=7,
                zorder=6, label=label)
        label = None


def _draw_derivative(ax: Axes, cut: FindingSlice, window: Window, zoomed: bool,
                     variable: str) -> None:
    x = cut.line.coordinate(window.t)
    x0 = cut.line.coordinate(0.0)
    _shade_failing(ax, cut, window, x)
    ax.plot(*_segments(x, window.derivative, window.derivative_breaks), color=COLOURS["loss"],
            lw=1.8, label="exact derivative", zorder=3)
    is_trap = cut.finding.kind == "autodiff"
    for fw, values in window.frameworks.items() if is_trap else ():
        finite = np.where(np.isfinite(values), values, np.nan)
        ax.plot(x, finite, color=COLOURS[fw], lw=1.3, ls="--" if fw == "torch" else ":",
                label=f"{FRAMEWORK_NAMES[fw]} ({cut.dtype})", zorder=4)
    one_sided = [cut.at_point.slope_left, cut.at_point.slope_right]
    trap_values = [v for values in window.frameworks.values() for v in values[np.isfinite(values)]]
    limits = _robust_limits([window.derivative, np.asarray(trap_values, dtype=float)],
                            one_sided if (cut.zoom_centre == 0.0 or not zoomed) else [],
                            quantile=0.02)
    if limits is not None:
        low, high = limits
        if is_trap and any((~np.isfinite(v)).any() for v in window.frameworks.values()):
            # room under the curves for the NaN marks on the axis
            low -= 0.18 * (high - low)
        ax.set_ylim(low, high)
    if is_trap:
        _mark_nonfinite(ax, window, x)
    # the values at the point go where the point is looked at: the zoom, when it shows it
    if zoomed == (cut.zoom_centre == 0.0):
        _draw_one_sided_slopes(ax, cut, x0)
        if not is_trap:
            _draw_framework_values(ax, cut, x0)
    ax.axvline(x0, color="#888888", lw=0.8, ls=":", zorder=1)
    ax.set_xlim(x[0], x[-1])


def _shade_failing(ax: Axes, cut: FindingSlice, window: Window, x: np.ndarray,
                   labelled: bool = True) -> None:
    """Where PyTorch or JAX return NaN: shaded, with the frameworks named."""
    if cut.finding.kind != "autodiff":
        return
    regions = failing_regions(window)
    if not regions:
        return
    offset = float(x[0] - window.t[0])
    spans: dict[tuple[float, float], list[str]] = {}
    for fw, intervals in regions.items():
        for interval in intervals:
            spans.setdefault(interval, []).append(FRAMEWORK_NAMES[fw])
    named: set[str] = set()
    for (start, stop), names in spans.items():
        label = f"{' and '.join(names)} return NaN"
        ax.axvspan(start + offset, stop + offset, facecolor=COLOURS["nan"], alpha=0.14,
                   hatch="//", edgecolor=COLOURS["nan"], lw=0,
                   label=None if label in named or not labelled else label, zorder=0)
        named.add(label)


def _mark_nonfinite(ax: Axes, window: Window, x: np.ndarray) -> None:
    """NaN returned by a framework: crosses on the bottom of the axis; inf: triangles on top."""
    from matplotlib.transforms import blended_transform_factory

    on_edge = blended_transform_factory(ax.transData, ax.transAxes)
    for row, (fw, values) in enumerate(window.frameworks.items()):
        every = max(1, len(x) // 40)
        nan = np.flatnonzero(np.isnan(values))[::every]
        inf = np.flatnonzero(np.isinf(values))[::every]
        if len(nan):
            ax.plot(x[nan], np.full(len(nan), 0.035 + 0.055 * row), "x", color=COLOURS[fw],
                    ms=6, mew=1.6, transform=on_edge, clip_on=False, zorder=6,
                    label=f"{FRAMEWORK_NAMES[fw]}: NaN (marks on the axis)")
        if len(inf):
            ax.plot(x[inf], np.full(len(inf), 0.96 - 0.05 * row), "^", color=COLOURS[fw],
                    ms=6, transform=on_edge, clip_on=False, zorder=6,
                    label=f"{FRAMEWORK_NAMES[fw]}: inf")


def _draw_one_sided_slopes(ax: Axes, cut: FindingSlice, x0: float) -> None:
    """The exact one-sided derivatives at the point; an infinite one as an arrow on the edge."""
    from matplotlib.transforms import blended_transform_factory

    on_edge = blended_transform_factory(ax.transData, ax.transAxes)
    sides = ((cut.at_point.slope_left, "left", "<"), (cut.at_point.slope_right, "right", ">"))
    if _smooth_at_point(cut):
        slope = cut.at_point.slope_right
        assert slope is not None
        ax.plot([x0], [slope], "o", color=COLOURS["right"], ms=8, zorder=7,
                label=f"derivative at the point: {_number(slope)}")
        return
    for slope, name, marker in sides:
        if slope is None:
            continue
        colour = COLOURS[name]
        if math.isinf(slope):
            ax.plot([x0], [0.95 if slope > 0 else 0.05], "^" if slope > 0 else "v",
                    color=colour, ms=10, transform=on_edge, clip_on=False, zorder=7,
                    label=f"{name} derivative at the point: {_number(slope)}")
            continue
        ax.plot([x0], [slope], marker, color=colour, ms=9, zorder=7,
                label=f"{name} derivative at the point: {_number(slope)}")


def _draw_framework_values(ax: Axes, cut: FindingSlice, x0: float) -> None:
    """What PyTorch and JAX return at the point (a choice of subgradient at a kink; inf at
    a root's edge, drawn on the top or bottom of the axis; NaN at the bottom)."""
    from matplotlib.transforms import blended_transform_factory

    on_edge = blended_transform_factory(ax.transData, ax.transAxes)
    marker = {"torch": "s", "jax": "D"}
    for fw, value in cut.frameworks_at_point.items():
        style: dict[str, Any] = {"mfc": "none", "mec": COLOURS[fw], "mew": 1.6, "zorder": 8,
                 "ms": 9 if fw == "torch" else 7,
                 "label": f"{FRAMEWORK_NAMES[fw]} returns {_number(value)} there"}
        if math.isfinite(value):
            ax.plot([x0], [value], marker[fw], **style)
        else:
            edge = 0.9 if value > 0 else 0.1
            ax.plot([x0], [edge], marker[fw], transform=on_edge, clip_on=False, **style)


def map_figure(drawn: LossMap, source: PlotSource) -> Figure:
    """The loss over two variables with every finding's set (see the module's docstring)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.patheffects import withStroke
    from matplotlib.ticker import MaxNLocator

    outline = [withStroke(linewidth=4.2, foreground="black")]

    with rc_context(STYLE):
        figure = Figure(figsize=MAP_SIZE, dpi=DPI)
        ax = figure.add_axes((0.09, 0.12, 0.72, 0.74))
        bar_ax = figure.add_axes((0.84, 0.12, 0.025, 0.74))
        figure.suptitle(_shorten(source.title, 70), fontweight="bold", y=0.975)
        figure.text(0.45, 0.915, "the loss over two variables, with the sets of its findings",
                    ha="center", fontsize=10.5)
        values = drawn.loss
        ax.grid(False)
        limits = _robust_limits([values.ravel()], quantile=0.02, pad=0.0)
        handles: list[Any] = []
        if limits is not None:
            levels = MaxNLocator(nbins=20).tick_values(*limits)
            clipped = np.clip(values, levels[0], levels[-1])
            filled = ax.contourf(drawn.x, drawn.y, clipped, levels=levels)
            bar = figure.colorbar(filled, cax=bar_ax)
            bar.set_label("loss")
        undefined = ~np.isfinite(values)
        if undefined.any():
            ax.contourf(drawn.x, drawn.y, undefined.astype(float), levels=[0.5, 1.5],
                        colors=[COLOURS["undefined"]], alpha=0.8)
            handles.append(Patch(facecolor=COLOURS["undefined"], label="loss undefined"))
        for index, layer in enumerate(drawn.layers):
            colour = SET_COLOURS[index % len(SET_COLOURS)]
            heading = _shorten(_finding_heading(layer.finding), 70)
            if layer.set_values is not None and _crosses_zero(layer.set_values):
                lines = ax.contour(drawn.x, drawn.y, layer.set_values, levels=[0.0],
                                   colors=[colour], linewidths=2.4)
                lines.set(path_effects=outline)
                labels = ax.clabel(lines, fmt={0.0: layer.finding.code}, fontsize=9.5,
                                   inline=True, inline_spacing=8)
                for label in labels:
                    label.set(fontweight="bold", color="black", bbox={
                        "boxstyle": "round,pad=0.15", "fc": colour, "ec": "black", "lw": 0.6})
                handles.append(Line2D([], [], color=colour, lw=2.4, path_effects=outline,
                                      label=heading))
            if layer.failing is not None and layer.failing.any():
                ax.contourf(drawn.x, drawn.y, layer.failing.astype(float), levels=[0.5, 1.5],
                            colors="none", hatches=["xx"])
                handles.append(Patch(facecolor="none", hatch="xx", edgecolor="black",
                                     label=f"{layer.finding.code}: PyTorch/JAX return NaN or inf"))
            if layer.point is not None:
                ax.plot(*layer.point, "o", mfc=colour, mec="black", ms=8, zorder=6)
                ax.annotate(layer.finding.code, layer.point, xytext=(6, 6),
                            textcoords="offset points", fontsize=9, fontweight="bold",
                            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8})
                if layer.set_values is None or not _crosses_zero(layer.set_values):
                    handles.append(Line2D([], [], marker="o", ls="", mfc=colour, mec="black",
                                          label=heading))
        ax.set_xlabel(drawn.x_name)
        ax.set_ylabel(drawn.y_name)
        ax.set_xlim(drawn.x[0], drawn.x[-1])
        ax.set_ylim(drawn.y[0], drawn.y[-1])
        if handles:
            # below the axes, where it hides nothing; the axes shrink to make room
            rows = len(handles)
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.1),
                      framealpha=0.95, borderaxespad=0.0)
            bottom = 0.08 + MAP_LEGEND_ROW * rows + 0.075
            for axes in (ax, bar_ax):
                axes.set_position((axes.get_position().x0, bottom, axes.get_position().width,
                                   0.86 - bottom))
        footnote = [_held_text(drawn.held)]
        if source.stand_ins:
            footnote.append(f"model functions {', '.join(source.stand_ins)} drawn as a generic "
                            "smooth stand-in")
        _footnote(figure, footnote, 0.09)
    return figure


def _crosses_zero(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(len(finite)) and finite.min() <= 0 <= finite.max()
