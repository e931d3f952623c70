"""``--format text``: the report for people, rendered with rich (the only module that uses it).

For each result: a verdict line; for an error, a caret under the column it names; the
assumptions (model functions taken as differentiable); a table of findings (warnings in
yellow; with a sparkline of the loss along each probe line when the findings carry their
``slice``), the paths of their pictures (``--plot``); and the smooth surrogate of the whole
loss with its proven bound. ``quiet=True`` keeps only the verdict lines, one per result.

>>> print(render([{"name": "l2", "source": None, "line": None, "input": "(y - f)**2",
...                "differentiable": True, "smoothness": "Cinf", "error": None,
...                "assumptions": [], "findings": [], "surrogate": None}]), end="")
l2: (y - f)**2  differentiable (Cinf)
"""

from __future__ import annotations

import io
import math
import unicodedata
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from diffcheck.report import error_code, format_number, format_params, use_instead, user_spelling

#: the width when the caller gives none; a fixed number keeps the output reproducible
DEFAULT_WIDTH = 100
_INDENT = "  "
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}


_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """One block per value, from the lowest to the highest; a gap where undefined.

    >>> sparkline([0, 1, 2, 3, None, 3, 2, 1, 0])
    '▁▃▆█ █▆▃▁'
    >>> sparkline([5, 5, None])
    '▄▄ '
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    blocks = []
    for value in values:
        if value is None or not math.isfinite(value):
            blocks.append(" ")
        elif high == low:
            blocks.append(_BLOCKS[len(_BLOCKS) // 2 - 1])
        else:
            level = int((value - low) / (high - low) * len(_BLOCKS))
            blocks.append(_BLOCKS[min(level, len(_BLOCKS) - 1)])
    return "".join(blocks)


def _shape(finding: dict[str, Any]) -> str:
    """The sparkline of a finding's slice ('' when it has none)."""
    cut = finding.get("slice") or {}
    if not cut.get("values"):
        return ""
    return sparkline(cut["values"])


def _console(color: bool, width: int | None, record: bool = False) -> Console:
    # every setting rich would otherwise guess from the terminal or the environment is
    # given, so the same results always render to the same text
    return Console(
        file=io.StringIO(),
        record=record,
        width=width or DEFAULT_WIDTH,
        height=25,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        force_jupyter=False,
        force_interactive=False,
        legacy_windows=False,
        markup=False,
        emoji=False,
        highlight=False,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def verdict_line(result: dict[str, Any]) -> Text:
    """``[source:line] [name: ]input  verdict``, the verdict coloured."""
    line = Text()
    if result.get("source"):
        location = result["source"] + (f":{result['line']}" if result.get("line") else "")
        line.append(location + " ", style="dim")
    elif result.get("line"):
        line.append(f"line {result['line']} ", style="dim")
    if result.get("reader") == "python":
        line.append(result.get("name") or "", style="bold")
    else:
        if result.get("name"):
            line.append(f"{result['name']}: ", style="bold")
        line.append(result["input"])
    line.append("  ")

    smoothness = f" ({result['smoothness']})" if result.get("smoothness") else ""
    error = result.get("error")
    if error:
        line.append(f"error {error_code(error)}", style="bold red")
        line.append(f": {_one_line(error['message'])}", style="red")
    elif result.get("differentiable") is True:
        line.append(f"differentiable{smoothness}", style="bold green")
    elif result.get("differentiable") is False:
        line.append(f"NOT differentiable{smoothness}", style="bold red")
    else:
        line.append("differentiability unknown", style="bold yellow")
    return line


def _caret(text: str, column: int) -> Text:
    """A caret under the 1-based ``column`` of ``text``, keeping its tabs and wide characters."""
    pad = "".join("\t" if char == "\t" else " " * cell_len(char) for char in text[: column - 1])
    return Text(_INDENT * 2 + pad + "^", style="bold red")


def _autodiff_summary(trap: dict[str, Any]) -> str:
    """An autodiff finding's numbers: each framework's value against the true one."""
    names = {"torch": "PyTorch", "jax": "JAX"}
    variable = trap.get("variable") or ""
    said = ", ".join(f"{names.get(fw, fw)} {format_number(value)}"
                     for fw, value in (trap.get("frameworks") or {}).items())
    true = (trap.get("true") or {}).get(variable)
    at = ", ".join(f"{k} = {format_number(v)}" for k, v in (trap.get("point") or {}).items())
    text = (f"{trap.get('effect')} ({trap.get('dtype')}): d/d{variable} = {said}; "
            f"true {'undefined' if true is None else format_number(true)} at {at}")
    for fw, real in (trap.get("confirmed") or {}).items():
        shown = (", ".join(f"d/d{k} = {format_number(v)}" for k, v in real.items())
                 if isinstance(real, dict) else str(real))
        text += f"; real {names.get(fw, fw)}: {shown}"
    return text


def _slopes(finding: dict[str, Any]) -> str:
    if isinstance(finding.get("autodiff"), dict):
        return _autodiff_summary(finding["autodiff"])
    if finding.get("autodiff"):
        return finding["autodiff"]
    probe = finding.get("probe") or {}
    if probe.get("left") is not None and probe.get("right") is not None:
        return f"slopes {format_number(probe['left'])} | {format_number(probe['right'])}"
    return ""


def _findings_table(findings: list[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    shapes = any(_shape(finding) for finding in findings)
    for title in ("code", "kind", "where", "cause", "slopes / autodiff", "use instead"):
        table.add_column(title, overflow="fold")
        if title == "where" and shapes:
            table.add_column("shape", no_wrap=True, overflow="crop")
    for finding in findings:
        severity_style = _SEVERITY_STYLE.get(finding["severity"], "")
        table.add_row(
            Text(finding["code"], style=severity_style),
            Text(finding["kind"]),
            Text(user_spelling(finding.get("where") or "-")),
            *([Text(_shape(finding), style="cyan")] if shapes else []),
            Text(finding.get("cause") or ""),
            Text(_slopes(finding)),
            Text(use_instead(finding)),
            style="yellow" if finding["severity"] == "warning" else None,
        )
    return table


def _surrogate_line(surrogate: dict[str, Any]) -> Text:
    if not surrogate.get("expression"):
        line = Text(_INDENT + "no smooth surrogate", style="bold")
        if surrogate.get("message"):
            line.append(f": {surrogate['message']}", style="yellow")
        return line
    line = Text(_INDENT + "smooth surrogate: ", style="bold")
    line.append(surrogate["expression"])
    line.append(format_params(surrogate.get("params")))
    if surrogate.get("max_error") is not None:
        line.append(f"  (max error {format_number(surrogate['max_error'])})", style="green")
    elif surrogate.get("message"):
        line.append(f"  ({surrogate['message']})", style="yellow")
    return line


#: a surrogate longer than this is not printed in full for a Python function
_LONG_SURROGATE = 240


def _print_source_result(console: Console, result: dict[str, Any]) -> None:
    """A loss of a .py file: each finding at its line, the code shown with a caret."""
    path = result.get("source") or ""
    error = result.get("error")
    if error:
        where = ":".join(str(p) for p in (path, error.get("line"), error.get("column")) if p)
        line = Text(f"{_INDENT}{where}: ", style="dim")
        line.append(f"{error_code(error)} {error['kind']}: ", style="bold red")
        # the reader's messages often start with the kind already ("unsupported: ...")
        line.append(_one_line(error["message"].removeprefix(f"{error['kind']}: ")))
        console.print(line, soft_wrap=True)
        return
    if result.get("wrt"):
        console.print(Text(f"{_INDENT}with respect to {', '.join(result['wrt'])}", style="dim"))
    if result.get("composition"):
        _print_composition(console, result)
    for assumption in result.get("assumptions") or []:
        line = Text(_INDENT + "assumption: ", style="dim")
        line.append(assumption)
        console.print(line)
    for finding in result.get("findings") or []:
        _print_source_finding(console, path, finding)
    _pictures(console, result, findings=False)
    surrogate = result.get("surrogate")
    if surrogate:
        expression = surrogate.get("expression") or ""
        if len(expression) > _LONG_SURROGATE or surrogate.get("max_error") is None:
            line = Text(_INDENT + "smooth surrogate: ", style="bold")
            line.append(f"{len(expression)} characters (--format json or --surrogate prints it)")
            if surrogate.get("max_error") is not None:
                line.append(f"  (max error {format_number(surrogate['max_error'])})", style="green")
            elif surrogate.get("message"):
                line.append("  (no uniform error bound)", style="yellow")
            console.print(line)
        else:
            console.print(_surrogate_line(surrogate))


def _print_composition(console: Console, result: dict[str, Any]) -> None:
    """Can I train this? The model's and the loss's verdicts, and what the chain rule makes of them."""
    parts = result["composition"]
    for role in ("model", "loss"):
        part = parts.get(role) or {}
        verdict = ("could not be read" if part.get("error") else
                   "differentiable" if part.get("differentiable") else "NOT differentiable")
        smoothness = f" ({part['smoothness']})" if part.get("smoothness") else ""
        what = "in its parameters" if role == "model" else "in the model's output"
        line = Text(f"{_INDENT}the {role} {part.get('name')}: ")
        line.append(f"{verdict}{smoothness}", style="green" if part.get("differentiable") else "red")
        line.append(f" {what}")
        console.print(line)
    model, loss = parts.get("model") or {}, parts.get("loss") or {}
    if model.get("differentiable") is False:
        why = "the model is not differentiable, and no loss can make up for it"
    elif loss.get("differentiable") is False:
        why = "the loss is not differentiable where the model's outputs reach its kinks"
    else:
        why = "both are differentiable, so their composition is"
    console.print(Text(f"{_INDENT}chain rule: d loss/d params = d loss/d out * d out/d params: {why}",
                       style="dim"))


def _print_source_finding(console: Console, path: str, finding: dict[str, Any]) -> None:
    style = _SEVERITY_STYLE.get(finding["severity"], "")
    location = ":".join(str(p) for p in (finding.get("path") or path, finding.get("line"),
                                         finding.get("column")) if p)
    head = Text(f"{_INDENT}{location}: ", style="dim")
    head.append(f"{finding['code']} {finding['kind']}", style=style)
    head.append(f"  {user_spelling(_one_line(finding['message']))}")
    console.print(head, soft_wrap=True)
    excerpt, column = finding.get("excerpt"), finding.get("column")
    gutter = f"{finding.get('line')}" if finding.get("line") else ""
    pad = " " * len(gutter)
    if excerpt is not None and column:
        console.print(Text(f"{_INDENT * 2}{gutter} | {excerpt}", style="dim"), soft_wrap=True)
        end = finding.get("end_column") or column + 1
        width = max(1, min(end, len(excerpt) + 1) - column)
        marks = "".join("\t" if ch == "\t" else " " * cell_len(ch) for ch in excerpt[: column - 1])
        console.print(Text(f"{_INDENT * 2}{pad} | {marks}{'^' * width}", style=style or "bold"),
                      soft_wrap=True)
    slopes = _slopes(finding)
    if slopes:
        console.print(Text(f"{_INDENT * 2}{pad} = {_one_line(slopes)}"), soft_wrap=True)
    console.print(Text(f"{_INDENT * 2}{pad} = use instead: {use_instead(finding)}"), soft_wrap=True)
    if _shape(finding):
        line = Text(f"{_INDENT * 2}{pad} = shape: ")
        line.append(_shape(finding), style="cyan")
        console.print(line, soft_wrap=True)
    if finding.get("plot"):
        console.print(Text(f"{_INDENT * 2}{pad} = picture: {finding['plot']}"), soft_wrap=True)


def _pictures(console: Console, result: dict[str, Any], findings: bool = True) -> None:
    """The paths of a result's pictures (``--plot``): each finding's, then its map."""
    for finding in (result.get("findings") or []) if findings else []:
        if finding.get("plot"):
            line = Text(f"{_INDENT}{finding['code']} picture: ", style="dim")
            line.append(finding["plot"])
            console.print(line, soft_wrap=True)
    if result.get("plot"):
        line = Text(f"{_INDENT}map of the loss: ", style="dim")
        line.append(result["plot"])
        console.print(line, soft_wrap=True)


def summary_line(results: list[dict[str, Any]]) -> Text:
    """``12 losses checked: 7 differentiable, 4 not differentiable, 1 could not be read``.

    >>> print(summary_line([{"differentiable": True}, {"differentiable": False},
    ...                     {"error": {"kind": "parse"}}]))
    3 losses checked: 1 differentiable, 1 not differentiable, 1 could not be read
    """
    errors = sum(1 for r in results if r.get("error"))
    smooth = sum(1 for r in results if not r.get("error") and r.get("differentiable") is True)
    rough = sum(1 for r in results if not r.get("error") and r.get("differentiable") is False)
    parts = [f"{smooth} differentiable", f"{rough} not differentiable"]
    if errors:
        parts.append(f"{errors} could not be read")
    noun = "loss" if len(results) == 1 else "losses"
    return Text(f"{len(results)} {noun} checked: " + ", ".join(parts), style="bold")


def _printable(value: Any) -> Any:
    """``value`` with every control character (C0, DEL, C1) shown as ``?``.

    Inputs come from untrusted loss files; an escape sequence must never reach the terminal
    (window titles, hyperlinks, cursor moves). One character for one keeps carets aligned.

    >>> _printable({"input": "x\x1b]0;pwned\x07 + \x9by"})
    {'input': 'x?]0;pwned? + ?y'}
    """
    if isinstance(value, str):
        return "".join("?" if unicodedata.category(ch) == "Cc" else ch for ch in value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def render(
    results: list[dict[str, Any]],
    color: bool = False,
    width: int | None = None,
    quiet: bool = False,
    **options: Any,
) -> str:
    """The text report.

    ``color`` writes ANSI colours (the CLI decides, e.g. from ``isatty``); ``width`` is the
    line width tables wrap to (``DEFAULT_WIDTH`` when None); ``quiet`` prints only the
    verdict lines. Options meant for other formats (``version``, ...) are ignored.
    """
    console = _console(color, width)
    _print_results(console, results, quiet)
    output = console.file
    assert isinstance(output, io.StringIO)
    # rich pads table cells to their column width; the padding at a line's end is noise
    return "".join(line.rstrip(" ") + "\n" for line in output.getvalue().splitlines())


def render_html(results: list[dict[str, Any]], width: int | None = None) -> str:
    """The text report as HTML with its colours (what a notebook shows).

    >>> "NOT differentiable" in render_html([{"input": "abs(u)", "differentiable": False}])
    True
    """
    console = _console(True, width, record=True)
    _print_results(console, results, quiet=False)
    return console.export_html(inline_styles=True, code_format="<pre style=\"font-family:"
                               "Menlo,'DejaVu Sans Mono',consolas,monospace\">{code}</pre>")


def _print_results(console: Console, results: list[dict[str, Any]], quiet: bool) -> None:
    results = [_printable(result) for result in results]
    for index, result in enumerate(results):
        if index and not quiet:
            console.print()
        # verdict and caret lines never wrap: a caret must stay under its column
        console.print(verdict_line(result), soft_wrap=True)
        if quiet:
            continue
        if result.get("reader") == "python":
            _print_source_result(console, result)
            continue
        error = result.get("error")
        if error and error.get("column"):
            # the column counts from the start of the line; the input may start after a label
            column = error["column"] - (result.get("input_column") or 1) + 1
            console.print(Text(_INDENT * 2 + result["input"]), soft_wrap=True)
            console.print(_caret(result["input"], max(column, 1)), soft_wrap=True)
        if result.get("reading") and not error:
            console.print(Text(_INDENT + "read as: ", style="dim") + Text(result["reading"]),
                          soft_wrap=True)
        for assumption in result.get("assumptions") or []:
            line = Text(_INDENT + "assumption: ", style="dim")
            line.append(assumption)
            console.print(line)
        if result.get("findings"):
            console.print(Padding(_findings_table(result["findings"]), (0, 0, 0, len(_INDENT))))
        _pictures(console, result)
        if result.get("surrogate"):
            console.print(_surrogate_line(result["surrogate"]))
    if not quiet and (len(results) > 1 or any(r.get("reader") == "python" for r in results)):
        console.print()
        console.print(summary_line(results))
