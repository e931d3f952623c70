"""The command line: options -> api calls (in isolated workers) -> a formatter -> exit status.

This is the only module that imports typer.
"""

from __future__ import annotations

import enum
import os
import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer

from diffcheck import HOMEPAGE, __version__
from diffcheck.rules import RULES

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Is my loss differentiable? Where not, why, and what smooth loss to use instead.",
)


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


class FailOn(str, enum.Enum):
    error = "error"
    warning = "warning"
    never = "never"


class CodeStyle(str, enum.Enum):
    sympy = "sympy"
    numpy = "numpy"
    torch = "torch"


def _usage_error(message: str) -> None:
    typer.echo(f"diffcheck: error: {message}", err=True)
    raise typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"diffcheck {__version__}")
        raise typer.Exit(0)


def _list_codes(value: bool) -> None:
    if value:
        for rule in RULES.values():
            typer.echo(f"{rule.code}  {rule.kind:15s} {rule.severity:8s} {rule.title}")
        raise typer.Exit(0)


def _explain(code: Optional[str]) -> None:
    if code:
        rule = RULES.get(code.upper())
        if rule is None:
            _usage_error(f"unknown code {code!r}; see --list-codes")
        typer.echo(rule.explain())
        raise typer.Exit(0)


@app.command()
def run(
    expressions: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="[EXPR]...",
            help="Loss expressions (with --files: loss file paths). Use -- before one that starts with '-'.",
            show_default=False,
        ),
    ] = None,
    wrt: Annotated[
        Optional[str], typer.Option("--wrt", help="Differentiate with respect to these variables only (comma-separated).")
    ] = None,
    assignments: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="NAME=VALUE",
                     help="Fix a variable or hyperparameter to a Python literal (repeatable): --set delta=0.5."),
    ] = None,
    output_format: Annotated[
        Optional[OutputFormat], typer.Option("--format", "-f", help="Output format.", show_default="text")
    ] = None,
    files: Annotated[
        Optional[list[str]], typer.Option("--file", help="A loss file, one expression per line ('-' reads standard input). Repeatable.")
    ] = None,
    positional_files: Annotated[
        bool, typer.Option("--files", help="Treat the positional arguments as loss file paths (for pre-commit).")
    ] = False,
    fail_on: Annotated[
        Optional[FailOn], typer.Option("--fail-on", help="Which findings make the exit status 1.", show_default="error")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict line of each expression.")] = False,
    timeout: Annotated[
        Optional[float], typer.Option("--timeout", help="Time limit per expression, in seconds.", show_default="10")
    ] = None,
    jobs: Annotated[
        Optional[int], typer.Option("--jobs", "-j", help="Worker processes for a batch.", show_default="CPU cores")
    ] = None,
    smooth_scale: Annotated[
        Optional[float],
        typer.Option("--smooth-scale", help="Largest error of each smooth replacement of a primitive.", show_default="0.01"),
    ] = None,
    surrogate_only: Annotated[
        bool, typer.Option("--surrogate", help="Print only the smooth replacement loss of each expression.")
    ] = False,
    code: Annotated[
        CodeStyle, typer.Option("--code", help="With --surrogate: write it as SymPy, NumPy or PyTorch code.")
    ] = CodeStyle.sympy,
    latex: Annotated[
        bool, typer.Option("--latex", help="Each expression is LaTeX (as is any input with a "
                                           "backslash command).")
    ] = False,
    show_parse: Annotated[
        bool, typer.Option("--show-parse", help="Print how each expression is read (in the "
                                                "text syntax) and exit.")
    ] = False,
    color: Annotated[
        Optional[bool], typer.Option("--color/--no-color", help="Colour in text output.", show_default="when a terminal")
    ] = None,
    explain: Annotated[
        Optional[str], typer.Option("--explain", metavar="CODE", help="Explain a finding code and exit.", callback=_explain, is_eager=True)
    ] = None,
    list_codes: Annotated[
        bool, typer.Option("--list-codes", help="List the finding codes and exit.", callback=_list_codes, is_eager=True)
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Show the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Check loss expressions for kinks, jumps, infinite slopes and zero gradients."""
    from diffcheck.config import ConfigError, load_config

    try:
        config = load_config(Path.cwd())
    except ConfigError as err:
        _usage_error(str(err))
    expressions = list(expressions or [])
    file_args = list(files or [])
    if positional_files:
        file_args += expressions
        expressions = []
    if not expressions and not file_args:
        _usage_error("give an expression, --file PATH, or --files PATH... (see --help)")

    wrt_names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else list(config.wrt or [])
    bad = [w for w in wrt_names if not w.isidentifier()]
    if bad:
        _usage_error(f"--wrt expects variable names, got {bad[0]!r}")
    fail_level = (fail_on.value if fail_on else None) or config.fail_on
    per_expression_timeout = timeout if timeout is not None else config.timeout
    if per_expression_timeout is not None and per_expression_timeout <= 0:
        _usage_error("--timeout must be positive")
    workers = jobs if jobs is not None else (config.jobs or 0)
    if workers < 0:
        _usage_error("--jobs must be at least 1")
    scale = smooth_scale if smooth_scale is not None else config.smooth_scale
    if scale is not None and not scale > 0:
        _usage_error("--smooth-scale must be positive")

    from diffcheck.parser import ParseError, parse_assignment

    values: dict[str, object] = {}
    for assignment in assignments or []:
        try:
            set_name, set_value = parse_assignment(assignment)
        except ParseError as err:
            _usage_error(str(err))
        values[set_name] = set_value

    if latex:
        from diffcheck.api import LATEX_MISSING

        try:
            import diffcheck.readers.latex  # noqa: F401 - only: is lark there?
        except ImportError as err:
            if err.name != "lark":
                raise
            _usage_error(LATEX_MISSING)
    lines = _collect_lines(expressions, file_args)
    if show_parse:
        raise typer.Exit(_show_parse(lines, latex or None, values))
    results = _analyse(lines, wrt_names or None, per_expression_timeout, workers, scale,
                       config.ignore, values, latex or None)
    dicts = [r.to_dict() for r in results]
    used = {name for result in dicts for name in result.get("fixed") or {}}
    # A result that could not be read cannot say which names it uses.
    unread = any(result.get("error") for result in dicts)
    for unused in [] if unread else sorted(values.keys() - used):
        typer.echo(f"diffcheck: warning: --set {unused}=...: no loss uses '{unused}'", err=True)

    from diffcheck.report import exit_status

    if surrogate_only:
        typer.echo(_render_surrogates(dicts, code.value))
    else:
        fmt = (output_format or OutputFormat.text).value
        typer.echo(_render(fmt, dicts, quiet=quiet, color=color), nl=False)
    raise typer.Exit(exit_status(dicts, fail_on=fail_level))


def _render(fmt: str, dicts: list[dict], *, quiet: bool, color: bool | None) -> str:
    from diffcheck.report import FORMATTERS

    render = FORMATTERS[fmt]
    if fmt == "text":
        use_color = sys.stdout.isatty() and not os.environ.get("NO_COLOR") if color is None else color
        return render(dicts, quiet=quiet, color=use_color)
    if fmt == "sarif":
        return render(dicts, version=__version__, information_uri=HOMEPAGE)
    if fmt == "json":
        return render(dicts, version=__version__)
    return render(dicts)


def _render_surrogates(dicts: list[dict], style: str) -> str:
    out = []
    for result in dicts:
        surrogate = result.get("surrogate")
        label = result.get("name") or result.get("input")
        if result.get("error"):
            out.append(f"# {label}: error: {result['error']['message']}")
        elif not surrogate:
            out.append(f"# {label}: already differentiable")
            out.append(result.get("expression") or result["input"])
        else:
            text = surrogate.get(style) if style != "sympy" else None
            params = ", ".join(f"{k} = {v}" for k, v in (surrogate.get("params") or {}).items())
            bound = surrogate.get("max_error")
            note = f"max error {bound}" if bound is not None else (surrogate.get("message") or "no uniform bound")
            out.append(f"# {label}: {note}" + (f"; {params}" if params else ""))
            out.append(text or surrogate["expression"])
    return "\n".join(out)


def _collect_lines(expressions: list[str], file_args: list[str]):
    from diffcheck.lossfile import LossLine, decode_loss_bytes, read_loss_lines

    lines = [
        LossLine(source=None, line=None, name=None, text=e, column=1, ignored_codes=frozenset(), error=None)
        for e in expressions
    ]
    for path in file_args:
        if path == "-":
            text = decode_loss_bytes(sys.stdin.buffer.read())
            source = "<stdin>"
        else:
            try:
                text = decode_loss_bytes(Path(path).read_bytes())
            except OSError as err:
                _usage_error(f"cannot read {path}: {err.strerror or err}")
            source = path
        lines.extend(read_loss_lines(text, source=source))
    return lines


def _show_parse(lines, latex: bool | None, values: dict) -> int:
    """Print the text each line is read as; errors go to standard error. The exit status."""
    from diffcheck.api import read
    from diffcheck.parser import ParseError

    status = 0
    for line in lines:
        label = f"{line.source}:{line.line}: " if line.source else ""
        try:
            if line.error is not None:
                raise ParseError(line.error, line.column)
            typer.echo(read(line.text, latex=latex, values=values))
        except ParseError as err:
            where = f"column {err.column + line.column - 1}: " if err.column else ""
            typer.echo(f"diffcheck: error: {label}{where}{err.message}", err=True)
            status = 2
    return status


def _analyse(lines, wrt, timeout, workers, scale, ignored_codes, values, latex=None):
    from diffcheck.model import Report, ReportError
    from diffcheck.runner import default_jobs, run_jobs

    options: dict = {} if scale is None else {"smooth_scale": scale}
    if values:
        options["values"] = values
    if latex:
        options["latex"] = latex
    work = partial(_check_one, wrt=wrt, options=options, ignored=frozenset(ignored_codes or ()))

    def on_error(line, kind, message):
        return Report(
            input=line.text, name=line.name, source=line.source, line=line.line,
            error=ReportError(kind, message, None),
        )

    progress = _progress_bar(len(lines))
    try:
        return run_jobs(
            lines, work, jobs_n=workers or default_jobs(), timeout=timeout,
            on_error=on_error, progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()


def _check_one(line, wrt, options, ignored):
    from diffcheck.api import check_line

    report = check_line(line, wrt, **options)
    if ignored:
        report.findings = [f for f in report.findings if f.code not in ignored]
    return report


class _ProgressBar:
    """A rich progress bar on standard error, for long batches at a terminal only."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import Progress

        # No refresh thread: the workers are forked while it runs, and a fork while another
        # thread holds a stream lock can hang the child.
        self._progress = Progress(console=Console(stderr=True), transient=True, auto_refresh=False)
        self._progress.start()
        self._task = self._progress.add_task("analysing", total=total)

    def __call__(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total, refresh=True)

    def close(self) -> None:
        self._progress.stop()


PROGRESS_THRESHOLD = 20


def _progress_bar(total: int):
    if total < PROGRESS_THRESHOLD or not sys.stderr.isatty():
        return None
    return _ProgressBar(total)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
