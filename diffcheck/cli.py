"""The command line: options -> api calls (in isolated workers) -> a formatter -> exit status.

This is the only module that imports typer.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from diffcheck import HOMEPAGE, __version__
from diffcheck.jobs import Composition, check_job, is_python
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


class Dtype(str, enum.Enum):
    float32 = "float32"
    float64 = "float64"


class CodeStyle(str, enum.Enum):
    sympy = "sympy"
    numpy = "numpy"
    torch = "torch"


def _usage_error(message: str) -> NoReturn:
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


def _explain(code: str | None) -> None:
    if code:
        rule = RULES.get(code.upper())
        if rule is None:
            _usage_error(f"unknown code {code!r}; see --list-codes")
        typer.echo(rule.explain())
        raise typer.Exit(0)


@app.command()
def run(
    expressions: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[EXPR]...",
            help="Loss expressions (with --files: loss file paths). Use -- before one that starts with '-'.",
            show_default=False,
        ),
    ] = None,
    wrt: Annotated[
        str | None, typer.Option("--wrt", help="Differentiate with respect to these variables only (comma-separated).")
    ] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="NAME=VALUE",
                     help="Fix a variable or hyperparameter to a Python literal (repeatable): --set delta=0.5."),
    ] = None,
    loss: Annotated[
        str | None,
        typer.Option("--loss", metavar="LOSS",
                     help="With a model (model.py::Net): check loss(Net(x), y), where LOSS is "
                          "losses.py::name or an expression in `out`, the model's output."),
    ] = None,
    output_format: Annotated[
        OutputFormat | None, typer.Option("--format", "-f", help="Output format.", show_default="text")
    ] = None,
    files: Annotated[
        list[str] | None, typer.Option("--file", help="A loss file, one expression per line ('-' reads standard input). Repeatable.")
    ] = None,
    positional_files: Annotated[
        bool, typer.Option("--files", help="Treat the positional arguments as loss file paths (for pre-commit).")
    ] = False,
    fail_on: Annotated[
        FailOn | None, typer.Option("--fail-on", help="Which findings make the exit status 1.", show_default="error")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict line of each expression.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Time limit per expression or Python function, in seconds.", show_default="10; 60 for a Python function or model")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Worker processes for a batch.", show_default="CPU cores")
    ] = None,
    smooth_scale: Annotated[
        float | None,
        typer.Option("--smooth-scale", help="Largest error of each smooth replacement of a primitive.", show_default="0.01"),
    ] = None,
    dtype: Annotated[
        Dtype, typer.Option("--dtype", help="The float type training uses, for autodiff traps (DC5xx).")
    ] = Dtype.float32,
    confirm: Annotated[
        bool,
        typer.Option("--confirm", help="Run each autodiff trap in the real JAX (pip install 'diffcheck[jax]') "
                     "and PyTorch, where installed, and show their gradients."),
    ] = False,
    surrogate_only: Annotated[
        bool, typer.Option("--surrogate", help="Print only the smooth replacement loss of each expression.")
    ] = False,
    plot_dir: Annotated[
        Path | None,
        typer.Option("--plot", metavar="DIR",
                     help="Write a picture of each finding (and a map of each loss of two or more "
                          "variables) into DIR as PNG (pip install 'diffcheck[plot]')."),
    ] = None,
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
        bool | None, typer.Option("--color/--no-color", help="Colour in text output.", show_default="when a terminal")
    ] = None,
    explain: Annotated[
        str | None, typer.Option("--explain", metavar="CODE", help="Explain a finding code and exit.", callback=_explain, is_eager=True)
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
        file_args = config.included_files()
        if not file_args:
            hint = " ([tool.diffcheck] include matches no file)" if config.include else ""
            _usage_error(f"give an expression, a .py file, --file PATH, or --files PATH...{hint} "
                         "(see --help)")

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

    values: dict[str, object] = {}
    for assignment in assignments or []:
        from diffcheck.parser import ParseError, parse_assignment

        try:
            set_name, set_value = parse_assignment(assignment)
        except ParseError as err:
            _usage_error(str(err))
        values[set_name] = set_value

    if plot_dir is not None:
        _prepare_plot_dir(plot_dir)
    if latex:
        from diffcheck.api import LATEX_MISSING

        try:
            import diffcheck.readers.latex  # noqa: F401 - only: is lark there?
        except ImportError as err:
            if err.name != "lark":
                raise
            _usage_error(LATEX_MISSING)
    lines = _collect_lines(expressions, file_args, config.functions)
    if show_parse:
        raise typer.Exit(_show_parse(lines, latex or None, values))
    if loss is not None:
        from diffcheck.api import SourceJob

        if not any(isinstance(job, SourceJob) for job in lines):
            _usage_error("--loss needs a model: diffcheck model.py::Net --loss ...")
        lines = [Composition(job, loss) if isinstance(job, SourceJob) else job for job in lines]
    from diffcheck.report import FORMATTERS

    fmt = (output_format or OutputFormat.text).value
    # looked up (its module imported) now, while the first worker may still be starting
    render = FORMATTERS[fmt]
    pictures = {"plot_dir": plot_dir,
                "sparklines": fmt == "text" and not quiet and not surrogate_only
                and _at_terminal()}
    results = _analyse(lines, wrt_names or None, per_expression_timeout, workers, scale,
                       config.ignore, values, dtype.value, latex or None, pictures)
    dicts = [r.to_dict() for r in results]
    if confirm:
        from diffcheck.confirm import confirm_results

        for note in confirm_results(dicts, dtype.value):
            typer.echo(f"diffcheck: {note}", err=True)
    used = {name for result in dicts for name in result.get("fixed") or {}}
    # A result that could not be read cannot say which names it uses.
    unread = any(result.get("error") for result in dicts)
    for unused in [] if unread else sorted(values.keys() - used):
        typer.echo(f"diffcheck: warning: --set {unused}=...: no loss uses '{unused}'", err=True)

    from diffcheck.report import exit_status

    if surrogate_only:
        typer.echo(_render_surrogates(dicts, code.value))
    else:
        typer.echo(_render(fmt, render, dicts, quiet=quiet, color=color), nl=False)
    raise typer.Exit(exit_status(dicts, fail_on=fail_level))


def _render(fmt: str, render: Callable[..., str], dicts: list[dict], *, quiet: bool,
            color: bool | None) -> str:
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


def _collect_lines(expressions: list[str], file_args: list[str], functions: tuple[str, ...] = ()):
    """The jobs of a run: expressions, lines of loss files, and losses of ``.py`` files.

    A positional argument naming an existing ``.py`` file (``losses.py`` or
    ``losses.py::giou_loss``) is Python source; anything else is an expression.
    """
    from diffcheck.lossfile import LossLine, decode_loss_bytes, read_loss_lines

    jobs: list = []
    for text in expressions:
        if _existing(text, directory=True):
            for found in _python_files(Path(text)):
                jobs.extend(_source_jobs(str(found), None, functions))
            continue
        python_source = _python_target(text)
        if python_source is not None:
            jobs.extend(_source_jobs(*python_source, functions))
            continue
        jobs.append(LossLine(source=None, line=None, name=None, text=text, column=1,
                             ignored_codes=frozenset(), error=None))
    for path in file_args:
        target = _python_target(path) if path != "-" else None
        if target is not None:
            jobs.extend(_source_jobs(*target, functions))
            continue
        if path == "-":
            text = decode_loss_bytes(sys.stdin.buffer.read())
            source = "<stdin>"
        else:
            try:
                text = decode_loss_bytes(Path(path).read_bytes())
            except OSError as err:
                _usage_error(f"cannot read {path}: {err.strerror or err}")
            source = path
        jobs.extend(read_loss_lines(text, source=source))
    return jobs


#: folders never searched for Python files (environments, caches, version control)
_SKIPPED_FOLDERS = frozenset({".git", ".hg", ".venv", "venv", "env", "__pycache__", "build",
                              "dist", "node_modules", ".tox", ".mypy_cache", ".ruff_cache"})


def _existing(text: str, directory: bool = False) -> bool:
    """Whether ``text`` names an existing file (or folder); an expression never does."""
    if "\n" in text or "\x00" in text or len(text) > 4096:
        return False
    try:
        return Path(text).is_dir() if directory else Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, say
        return False


def _python_files(folder: Path) -> list[Path]:
    """The ``.py`` files under ``folder``, sorted, skipping environments and hidden folders."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).parts[:-1]
        if any(part in _SKIPPED_FOLDERS or part.startswith(".") for part in relative):
            continue
        found.append(path)
    return found


def _python_target(argument: str) -> tuple[str, str | None] | None:
    """``(path, selector)`` when ``argument`` is an existing .py file, optionally ``::NAME``."""
    path, _, selector = argument.partition("::")
    if not path.endswith(".py") or "\n" in argument:
        return None
    if not _existing(path):
        if selector or argument.endswith(".py"):
            _usage_error(f"cannot read {path}: no such file")
        return None
    return path, selector or None


def _source_jobs(path: str, selector: str | None, functions: tuple[str, ...] = ()) -> list:
    """The losses of a .py file: the one named, those of [tool.diffcheck] functions, or all."""
    from diffcheck.api import SourceJob, source_jobs
    from diffcheck.lossfile import decode_loss_bytes

    try:
        text = decode_loss_bytes(Path(path).read_bytes())
    except OSError as err:
        _usage_error(f"cannot read {path}: {err.strerror or err}")
    if selector or not functions:
        return source_jobs(path, text, selector)
    jobs: list = []
    for name in functions:
        found = source_jobs(path, text, name)
        # A configured name this file does not define is not an error for this file.
        jobs.extend(job for job in found if isinstance(job, SourceJob))
    return jobs


def _at_terminal() -> bool:
    """Whether the report goes to a terminal (its findings then get sparklines)."""
    return sys.stdout.isatty()


def _prepare_plot_dir(plot_dir: Path) -> None:
    """--plot: matplotlib is there and DIR can be written, or a usage error (exit 2)."""
    from diffcheck.plots import PlotUnavailable, require_matplotlib

    try:
        require_matplotlib()
    except PlotUnavailable as err:
        _usage_error(str(err))
    try:
        plot_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _usage_error(f"--plot {plot_dir}: {err.strerror or err}")
    # imported before the workers fork, so that each of them does not import it again
    import matplotlib.figure  # noqa: F401


def _plot_names(lines) -> dict:
    """job -> the start of its pictures' file names: the loss's name (a hash of an unnamed
    expression), with ``-2``, ``-3``... for a name that an earlier job already has."""
    from diffcheck.api import SourceJob
    from diffcheck.lossfile import LossLine
    from diffcheck.model import Report
    from diffcheck.plots import file_stem

    names: dict = {}
    taken: set[str] = set()
    for job in lines:
        if isinstance(job, LossLine):
            stem = file_stem(Report(input=job.text, name=job.name))
        elif isinstance(job, (SourceJob, Composition)):
            stem = file_stem(Report(input=job.target, name=job.target))
        else:
            continue
        if job in names:
            continue
        unique, count = stem, 1
        while unique in taken:
            count += 1
            unique = f"{stem}-{count}"
        taken.add(unique)
        names[job] = unique
    return names



def _show_parse(lines, latex: bool | None, values: dict) -> int:
    """Print the text each line is read as; errors go to standard error. The exit status."""
    from diffcheck.api import SourceJob, read, read_source_job
    from diffcheck.model import Report
    from diffcheck.parser import ParseError
    from diffcheck.readers.pysource import SourceError
    from diffcheck.report import user_spelling

    status = 0
    for line in lines:
        if isinstance(line, Report):  # a file that could not be read
            message = line.error.message if line.error else "cannot be read"
            typer.echo(f"diffcheck: error: {line.source}: {message}", err=True)
            status = 2
            continue
        if isinstance(line, SourceJob):
            try:
                typer.echo(f"{line.path}::{line.target}: "
                           f"{user_spelling(read_source_job(line, values))}")
            except SourceError as err:
                row, column = err.position()
                typer.echo(f"diffcheck: error: {line.path}:{row}:{column}: {err.message}", err=True)
                status = 2
            continue
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


def _analyse(lines, wrt, timeout, workers, scale, ignored_codes, values, dtype="float32",
             latex=None, pictures=None):
    from diffcheck.model import Report, ReportError
    from diffcheck.runner import default_jobs, run_jobs

    options: dict = {} if scale is None else {"smooth_scale": scale}
    options["dtype"] = dtype
    if values:
        options["values"] = values
    if latex:
        options["latex"] = latex
    pictures = dict(pictures or {})
    extra_seconds = 0.0
    if pictures.get("plot_dir") is not None:
        from diffcheck.plots import PLOT_SECONDS

        pictures["names"] = _plot_names(lines)
        extra_seconds = PLOT_SECONDS  # the pictures have their own time, within the job's
    work = partial(check_job, wrt=wrt, options=options, ignored=frozenset(ignored_codes or ()),
                   pictures=pictures)

    def on_error(job, kind, message):
        if is_python(job):
            return Report(input=job.target, name=job.target, source=job.path, line=job.line,
                          reader="python", error=ReportError(kind, message, None))
        return Report(
            input=job.text, name=job.name, source=job.source, line=job.line,
            error=ReportError(kind, message, None),
        )

    def time_limit(job) -> float:
        from diffcheck.runner import DEFAULT_SOURCE_TIMEOUT, DEFAULT_TIMEOUT

        if timeout is not None:
            return timeout + extra_seconds
        # unless told otherwise: a function of real code gets longer than a one-line formula
        return (DEFAULT_SOURCE_TIMEOUT if is_python(job) else DEFAULT_TIMEOUT) + extra_seconds

    if len(lines) > 1:
        # the other workers are forked from this process (and again after a time-out kills
        # one): with the pipeline imported here first, each starts in milliseconds and shares
        # its pages. One line needs no second worker: its run waits only for the first.
        from diffcheck.api import warm_up

        warm_up()
    progress = _progress_bar(len(lines))
    try:
        return run_jobs(
            lines, work, jobs_n=workers or default_jobs(), timeout=time_limit,
            on_error=on_error, progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()


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
    """The command (:func:`diffcheck.entry.main`, which starts the first worker sooner)."""
    from diffcheck.entry import main as entry_main

    entry_main()


if __name__ == "__main__":
    main()
