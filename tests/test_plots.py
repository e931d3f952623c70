"""Pictures of findings (``--plot DIR``, CONTRACT.md section 9), sparklines and Jupyter display.

What a picture shows is checked on the data it was drawn from (``plot_finding`` returns it),
read from tests/data/plot_cases.toml; the files are checked as PNGs (signature, size, no
date or software in their metadata, the same bytes for the same loss).
"""

from __future__ import annotations

import json
import math
import pickle
import struct
import sys
import types

import numpy as np
import pytest
from cases import DATA, load_toml
from typer.testing import CliRunner

from diffcheck import cli
from diffcheck.api import SourceJob, check, check_line, check_source_job, plot_stage
from diffcheck.lossfile import read_loss_lines
from diffcheck.plots import (
    DPI,
    FIGURE_SIZE,
    INSTALL_HINT,
    MAP_SIZE,
    PlotUnavailable,
    add_pictures,
    file_stem,
    plot_finding,
    plot_map,
    safe_name,
)
from diffcheck.report.text import render
from diffcheck.slices import failing_regions, map_variables

pytest.importorskip("matplotlib")

CASES = load_toml(DATA / "plot_cases.toml")["case"]
runner = CliRunner()

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FINDING_PIXELS = (round(FIGURE_SIZE[0] * DPI), round(FIGURE_SIZE[1] * DPI))
MAP_PIXELS = (round(MAP_SIZE[0] * DPI), round(MAP_SIZE[1] * DPI))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk of a PNG, after checking its signature."""
    assert data[:8] == PNG_SIGNATURE
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        chunks.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


def png_size(data: bytes) -> tuple[int, int]:
    kind, body = png_chunks(data)[0]
    assert kind == b"IHDR"
    return struct.unpack(">II", body[:8])


def drawn(expr: str, code: str):
    """The picture of the first finding of ``code`` of ``expr``: its data and its PNG."""
    report = check(expr)
    finding = next((f for f in report.findings if f.code == code), None)
    assert finding is not None, [f.code for f in report.findings]
    result = plot_finding(report, finding)
    assert result is not None, f"no picture of {code}"
    return result


def expected(spec, at_point: float | None) -> float | str | None:
    if spec == "undefined":
        return None
    if spec == "point":
        return at_point
    if spec in ("inf", "-inf"):
        return float(spec)
    return spec if spec == "any" else float(spec)


def same(value: float | None, spec) -> bool:
    if spec == "any":
        return True
    if spec is None or value is None:
        return spec is value
    if math.isinf(spec):
        return value == spec
    return abs(value - spec) <= 1e-6 * (1 + abs(spec))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['expr']}:{c['code']}" for c in CASES])
def test_picture_data(case):
    cut, png = drawn(case["expr"], case["code"])
    assert png_size(png) == FINDING_PIXELS
    held = cut.line.held()
    at_point = next(iter(held.values()), None)
    sides = cut.at_point
    for got, spec in zip((sides.value_left, sides.value_right), case["values"]):
        assert same(got, expected(spec, at_point)), (sides, case["why"])
    for got, spec in zip((sides.slope_left, sides.slope_right), case["slopes"]):
        assert same(got, expected(spec, at_point)), (sides, case["why"])
    if "steps" in case:
        t, derivative = cut.wide.t, cut.wide.derivative
        for part, step in ((t < -1e-3, case["steps"][0]), (t > 1e-3, case["steps"][1])):
            values = derivative[part & np.isfinite(derivative)]
            assert len(values) > 100
            assert np.allclose(values, step), case["why"]
    if "nan_side" in case:
        zoom = cut.zoom
        left, right = zoom.t < cut.zoom_centre, zoom.t > cut.zoom_centre
        failing, working = (left, right) if case["nan_side"] == "left" else (right, left)
        assert set(zoom.frameworks) == {"torch", "jax"}
        for values in zoom.frameworks.values():
            assert np.isnan(values[failing]).all(), case["why"]
            assert np.isfinite(values[working]).all(), case["why"]
        # the shaded regions are where the NaN marks are
        for intervals in failing_regions(zoom).values():
            assert all((start < cut.zoom_centre) == (case["nan_side"] == "left")
                       for start, _ in intervals)
    if "returned" in case:
        assert cut.frameworks_at_point == {"torch": case["returned"], "jax": case["returned"]}


#: losses whose findings' pictures must keep the surrogate inside its band
SURROGATE_LOSSES = [
    "abs(y - f)", "max(x, y)", "max(0, 1 - y*f)", "sqrt(f)", "round(f)", "clip(x, 0, 1)",
    "sqrt(abs(f - 1))", "max(a, b, c)", "exp(abs(f))", "relu(x)**2 + abs(x - 1/3)",
    "abs(F(x) - y)", "floor(x) + x**2", "hardtanh(3*x)",
]


@pytest.mark.parametrize("expr", SURROGATE_LOSSES)
def test_drawn_surrogate_stays_within_max_error(expr):
    report = check(expr)
    bound = report.surrogate["max_error"]
    assert bound is not None
    for finding in report.findings:
        result = plot_finding(report, finding)
        if result is None:
            continue
        cut = result[0]
        assert cut.max_error == bound
        gaps = []
        for window in (cut.wide, cut.zoom):
            both = np.isfinite(window.loss) & np.isfinite(window.surrogate)
            gap = np.abs(window.loss - window.surrogate)[both]
            assert both.sum() > len(window.t) // 3
            assert gap.max() <= bound * (1 + 1e-9) + 1e-12, (finding.code, gap.max(), bound)
            gaps.append(gap.max())
        # the picture shows the smoothing: the curves differ where the loss is not smooth
        assert gaps[1] > 1e-3 * bound, finding.code


@pytest.mark.parametrize("expr", ["abs(y - f)", "max(0, 1 - y*f)", "abs(F(x) - y)",
                                  "relu(x)**2 + abs(x - 1/3)", "clip(x, 0, 1)", "max(a, b, c)"])
def test_one_sided_slopes_agree_with_the_probe(expr):
    # two computations: exact derivatives beside the point, and the probe's difference quotients
    report = check(expr)
    for finding in report.findings:
        if finding.kind != "kink":
            continue
        cut = plot_finding(report, finding)[0]
        assert cut.at_point.slope_left == pytest.approx(finding.probe["left"], rel=1e-6, abs=1e-6)
        assert cut.at_point.slope_right == pytest.approx(finding.probe["right"], rel=1e-6,
                                                         abs=1e-6)


def test_curves_break_at_jumps_and_poles_only():
    staircase, _ = drawn("floor(x) + x**2", "DC202")
    jumps = np.flatnonzero(staircase.wide.loss_breaks)
    # floor steps at the integers of the wide window, and nowhere else
    between = (staircase.line.coordinate(staircase.wide.t[jumps])
               + staircase.line.coordinate(staircase.wide.t[jumps + 1])) / 2
    assert np.allclose(between, np.round(between), atol=0.01)
    kink, _ = drawn("abs(y - f)", "DC101")
    assert not kink.wide.loss_breaks.any()  # a kink is continuous: one curve
    assert kink.wide.derivative_breaks.sum() == 1  # its derivative steps once
    pole, _ = drawn("1/u", "DC302")
    assert pole.wide.loss_breaks.sum() == 1


def test_cli_writes_one_picture_per_finding_and_a_map(tmp_path):
    out = tmp_path / "pictures"
    result = runner.invoke(cli.app, ["--plot", str(out), "--format", "json", "--jobs", "1",
                                     "abs(y - f)", "sqrt(f)"])
    assert result.exit_code == 1, result.output
    results = json.loads(result.stdout)["results"]
    stems = [file_stem(check(r["input"])) for r in results]
    abs_result, sqrt_result = results
    assert [f["plot"] for f in abs_result["findings"]] == [str(out / f"{stems[0]}-DC101-1.png")]
    assert abs_result["plot"] == str(out / f"{stems[0]}-map.png")
    assert [f["plot"] for f in sqrt_result["findings"]] == [
        str(out / f"{stems[1]}-DC301-1.png"), str(out / f"{stems[1]}-DC303-1.png")]
    assert "plot" not in sqrt_result  # one variable: no map
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{stems[0]}-DC101-1.png", f"{stems[0]}-map.png", f"{stems[1]}-DC301-1.png",
         f"{stems[1]}-DC303-1.png"])
    for path in out.iterdir():
        data = path.read_bytes()
        size = MAP_PIXELS if path.name.endswith("-map.png") else FINDING_PIXELS
        assert png_size(data) == size
        text_chunks = [body for kind, body in png_chunks(data) if kind in (b"tEXt", b"iTXt")]
        assert not any(b"Software" in body or b"Date" in body for body in text_chunks)
    # the same loss in another process gives the same bytes
    report = check("abs(y - f)")
    assert plot_finding(report, report.findings[0])[1] == \
        (out / f"{stems[0]}-DC101-1.png").read_bytes()
    assert plot_map(report)[1] == (out / f"{stems[0]}-map.png").read_bytes()


@pytest.mark.parametrize("case", [c for c in CASES if "files" in c], ids=lambda c: c["expr"])
def test_number_of_files(case, tmp_path):
    report = check(case["expr"], plot_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == case["files"], case["why"]
    paths = [f.plot for f in report.findings if f.plot] + ([report.plot] if report.plot else [])
    assert sorted(paths) == sorted(str(p) for p in tmp_path.iterdir())


def test_text_report_lists_the_pictures(tmp_path):
    result = runner.invoke(cli.app, ["--plot", str(tmp_path), "--jobs", "1", "max(x, y)"])
    stem = file_stem(check("max(x, y)"))
    assert f"DC102 picture: {tmp_path / stem}-DC102-1.png" in result.stdout
    assert f"map of the loss: {tmp_path / stem}-map.png" in result.stdout


def test_plot_without_matplotlib_exits_2_with_the_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    out = tmp_path / "pictures"
    result = runner.invoke(cli.app, ["--plot", str(out), "abs(y - f)"])
    assert result.exit_code == 2
    assert INSTALL_HINT in result.stderr
    assert result.stdout == ""  # nothing was analysed
    assert not out.exists()
    with pytest.raises(PlotUnavailable, match=r"pip install 'diffcheck\[plot\]'"):
        check("abs(y - f)", plot_dir=out)
    # without --plot nothing needs matplotlib
    assert runner.invoke(cli.app, ["abs(y - f)"]).exit_code == 1
    assert check("abs(y - f)", sparklines=True).findings[0].slice is not None


def test_plot_dir_that_is_a_file_is_a_usage_error(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("")
    result = runner.invoke(cli.app, ["--plot", str(blocker), "abs(y - f)"])
    assert result.exit_code == 2
    assert "--plot" in result.stderr


def test_suppressed_findings_get_no_picture(tmp_path):
    (line,) = read_loss_lines("steps: round(f)  # diffcheck: ignore[DC401]\n", source="l.txt")
    report = check_line(line, plot_dir=tmp_path)
    assert [f.code for f in report.findings] == ["DC202"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps-DC202-1.png"]


def test_file_names():
    assert safe_name("giou_loss") == "giou_loss"
    assert safe_name("Loss.forward") == "Loss.forward"
    assert safe_name("a/b\\c:d*e?f") == "a_b_c_d_e_f"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("nul") == "nul_"
    assert len(safe_name("x" * 500)) == 60
    # an unnamed expression: a hash of its text, the same in every run
    stem = file_stem(check("abs(y - f)"))
    assert stem == file_stem(check("abs(y - f)")) != file_stem(check("abs(y - g)"))
    assert stem.startswith("loss-")
    lines = read_loss_lines("mae: abs(f - y)\nmae: abs(f - 2*y)\nabs(f)\nabs(f)\n")
    names = cli._plot_names(lines)
    assert [names[line] for line in lines] == ["mae", "mae-2", names[lines[2]], names[lines[3]]]
    assert names[lines[2]] != names[lines[3]]  # two lines of one text are two jobs


def test_python_source_pictures(tmp_path):
    source = tmp_path / "losses.py"
    source.write_text(
        "import torch\n\n"
        "def l1_loss(pred, target):\n"
        "    return torch.abs(pred[..., 0] - target[..., 0]).mean()\n")
    job = SourceJob(str(source), source.read_text(), "l1_loss", 3)
    out = tmp_path / "out"
    report = check_source_job(job, plot_dir=out)
    (finding,) = report.findings
    assert finding.plot == str(out / "l1_loss-DC101-1.png")
    assert report.plot == str(out / "l1_loss-map.png")
    cut = plot_finding(report, finding)[0]
    assert cut.line.axis in ("pred[..., 0]", "target[..., 0]")
    assert (cut.at_point.slope_left, cut.at_point.slope_right) in ((-1.0, 1.0),)


def test_map_of_the_variables_the_findings_involve():
    report = check("abs(a - b) + c**2")
    loss_map, png = plot_map(report)
    assert (loss_map.x_name, loss_map.y_name) == ("a", "b")
    assert list(loss_map.held) == ["c"]
    assert png_size(png) == MAP_PIXELS
    report = check("max(x, y)")
    loss_map = plot_map(report)[0]
    (layer,) = loss_map.layers
    grid_x, grid_y = np.meshgrid(loss_map.x, loss_map.y)
    away = np.abs(grid_x - grid_y) > 1e-6
    # the set drawn at 0 is x = y: its expression changes sign across it
    assert (np.sign(layer.set_values[away]) == np.sign(grid_x - grid_y)[away]).all()
    assert layer.point == (0.875, 0.875)
    # one variable: no map
    assert plot_map(check("abs(f)")) is None
    assert map_variables(report.plot_source, report.findings, {}) == ["x", "y"]


def test_trap_region_on_the_map():
    report = check("where(x > 0, sqrt(x), 0) + y**2")
    loss_map = plot_map(report)[0]
    (trap,) = [layer for layer in loss_map.layers if layer.finding.kind == "autodiff"]
    grid_x = np.meshgrid(loss_map.x, loss_map.y)[0]
    x_axis = loss_map.x_name == "x"
    assert x_axis
    assert (trap.failing == (grid_x <= 0)).all()


def test_sparklines_in_the_text_report():
    report = check("abs(y - f)", sparklines=True)
    (finding,) = report.findings
    values = finding.slice["values"]
    assert len(values) == 16
    # the V: falls to the point, rises after it
    assert values == sorted(values[:8], reverse=True) + sorted(values[8:])
    text = render([report.to_dict()])
    assert "shape" in text and "█▇▆▅▄▃▂▁▁▂▃▄▅▆▇█" in text
    assert "shape" not in render([check("abs(y - f)").to_dict()])


def test_cli_draws_sparklines_at_a_terminal_only(monkeypatch):
    assert "█" not in runner.invoke(cli.app, ["--jobs", "1", "abs(y - f)"]).stdout
    monkeypatch.setattr(cli, "_at_terminal", lambda: True)
    assert "█▇▆▅▄▃▂▁▁▂▃▄▅▆▇█" in runner.invoke(cli.app, ["--jobs", "1", "abs(y - f)"]).stdout
    json_out = runner.invoke(cli.app, ["--jobs", "1", "--format", "json", "abs(y - f)"]).stdout
    assert "slice" not in json_out


def test_jupyter_shows_the_text_and_the_pictures(monkeypatch):
    shown = []
    display_module = types.ModuleType("IPython.display")
    display_module.display = lambda obj, raw=False: shown.append(obj)
    display_module.Image = lambda data, format: ("image", data)
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    report = check("max(x, y)")
    report._ipython_display_()
    text, *images = shown
    assert "NOT differentiable" in text["text/plain"] and "<pre" in text["text/html"]
    assert [png_size(data) for _, data in images] == [FINDING_PIXELS, MAP_PIXELS]


def test_reports_cross_processes_without_their_sympy_objects():
    report = check("abs(y - f)")
    assert report.plot_source is not None
    copy = pickle.loads(pickle.dumps(report))
    assert copy.plot_source is None
    assert copy.to_dict() == report.to_dict()
    assert plot_stage(copy, None, sparklines=True).findings[0].slice is None


def test_time_budget_skips_the_rest(tmp_path):
    report = check("clip(x, 0, 1)")
    add_pictures(report, tmp_path, time_budget=0.0)
    assert list(tmp_path.iterdir()) == []
    assert any("plots skipped" in note for note in report.assumptions)


def test_titles_are_the_input_as_written_and_never_markup():
    report = check("max(a1, b1)")
    cut, _ = plot_finding(report, report.findings[0])
    assert report.plot_source.title == "max(a1, b1)"
    from diffcheck.plots import finding_figure

    report.plot_source.title = "$x^2$ \x1b]0;title\x07"
    figure = finding_figure(cut, report.plot_source)
    title = figure.get_suptitle()
    assert title.startswith("$x^2$") and "\x1b" not in title
    (heading,) = [t.get_text() for t in figure.texts if "DC102" in t.get_text()]
    assert "where a1 - b1 = 0" in heading


def test_readme_picture_is_made_by_the_command_next_to_it(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = re.search(r"printf '(.*)\\n' \| diffcheck --plot (\S+) --file -", readme)
    picture = re.search(r"!\[[^]]*\]\((\S+\.png)\)", readme)
    assert command and picture
    line, folder = command.groups()
    assert Path(picture.group(1)).parent == Path(folder)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, ["--plot", folder, "--file", "-"], input=line + "\n")
    assert result.exit_code == 1, result.output
    made = (tmp_path / picture.group(1)).read_bytes()
    assert png_size(made) == png_size((root / picture.group(1)).read_bytes())
