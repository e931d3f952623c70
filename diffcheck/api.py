"""The library face of diffcheck: ``check`` one expression, ``check_file`` a loss file.

Nothing here prints. The pipeline runs one way: parse -> analyze (which calls the probe)
-> surrogates -> :class:`~diffcheck.model.Report`.

>>> report = check("abs(y - f)", wrt=["f"])
>>> report.differentiable, report.findings[0].where
(False, 'f - y = 0')
>>> check("log(1 + exp(f))").smoothness
'Cinf'
>>> check("sigmod(f)").error.message
"unknown function 'sigmod' (did you mean sigmoid?)"
>>> check(r"\\max\\{0, 1 - y \\hat{y}\\}", wrt=["y_hat"]).reading
'max(0, 1 - y*y_hat)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffcheck.lossfile import LossLine, read_loss_lines
from diffcheck.model import Report, ReportError
from diffcheck.parser import ParseError, literal_as_sympy, parse
from diffcheck.readers.latex_tokens import looks_like_latex

if TYPE_CHECKING:  # the reader imports lark, an optional dependency
    from diffcheck.readers.latex import LatexReading

DEFAULT_SMOOTH_SCALE = 0.01
#: The error for LaTeX input when the optional dependency is not installed.
LATEX_MISSING = "LaTeX input needs the optional package lark: pip install 'diffcheck[latex]'"


def check(
    expr: str,
    wrt: Sequence[str] | None = None,
    *,
    name: str | None = None,
    source: str | None = None,
    line: int | None = None,
    smooth_scale: float = DEFAULT_SMOOTH_SCALE,
    timeout: float | None = None,
    values: Mapping[str, Any] | None = None,
    latex: bool | None = None,
) -> Report:
    """Analyse one loss expression.

    Parameters
    ----------
    expr:
        The loss, in the input language of CONTRACT.md section 3.
    wrt:
        Variables to differentiate with respect to; the others are data. Default: all.
    smooth_scale:
        The largest error each smooth replacement of a primitive may make (default 0.01).
    values:
        Variables fixed to Python literals (``{"delta": 0.5}``, as ``--set delta=0.5``).
    timeout:
        Seconds the analysis may take; it then runs in a worker process that is stopped at
        the limit (an error of kind "timeout"). Default: no limit, in this process.
    latex:
        ``True``: ``expr`` is LaTeX (CONTRACT.md section 8); ``False``: it is the text
        syntax; ``None`` (default): LaTeX when it contains a backslash command.
    """
    if timeout is not None:
        return _check_in_worker(expr, wrt, name, source, line, smooth_scale, timeout, values,
                                latex)
    # Imported here so that ``import diffcheck`` stays cheap for the CLI's --help.
    from diffcheck.analyzer import AnalysisLimit, analyze

    report = Report(input=expr, name=name, source=source, line=line)
    try:
        text, reading, values, wrt = _input_text(expr, latex, values, wrt)
        report.reading = reading.text if reading else None
        try:
            parsed = parse(text, {k: literal_as_sympy(v) for k, v in (values or {}).items()})
        except ParseError as err:
            raise ParseError(err.message, reading.column(err.column) if reading else err.column,
                             err.kind) from None
    except ParseError as err:
        report.error = ReportError(err.kind, err.message, err.column)
        return report
    report.expression = str(parsed.expr)
    report.fixed = {values.user_name(k): values[k] for k in parsed.fixed}
    if reading:
        report.fixed.update({k: values.given[k] for k in reading.consumed})
    unknown = [v for v in (wrt or []) if v not in parsed.variables]
    if reading and wrt and len(unknown) == len(wrt):
        # LaTeX names are made by the reader: a --wrt that names none of them is a mistake
        # to report, not a loss with nothing to differentiate (and so "differentiable")
        report.error = ReportError("parse", f"--wrt {', '.join(wrt)}: the formula has no such "
                                   f"variable (its variables: {', '.join(parsed.variables)})")
        return report
    wrt_names = list(wrt) if wrt else list(parsed.variables)
    report.wrt = [v for v in wrt_names if v not in unknown]
    try:
        analyze(parsed, report, smooth_scale=smooth_scale)
    except AnalysisLimit as err:
        report.error = ReportError("limit", str(err))
    except RecursionError:
        report.error = ReportError("limit", "expression too deeply nested to analyse")
    except MemoryError:
        report.error = ReportError("limit", "analysis ran out of memory")
    except Exception as err:  # noqa: BLE001 - an unforeseen failure is an honest "unknown"
        detail = " ".join(str(err).split())  # one line, whatever the exception says
        report.error = ReportError("unsupported", f"analysis failed: {type(err).__name__}: {detail}")
    if report.error is not None:
        # No verdict without an analysis: differentiable stays null (CONTRACT.md section 5).
        report.differentiable, report.smoothness, report.surrogate = None, None, None
        report.findings = []
    elif reading is not None:
        # what the text cannot show (sums written out for three terms, fixed labels) first
        report.assumptions = reading.assumptions + report.assumptions
        for finding in report.findings:
            if finding.column is not None:
                finding.column = reading.column(finding.column)
    return report


class _Values(dict):
    """``--set`` values under the names the text uses (``lambda`` is ``lambda_`` there),
    remembering every value as given; ``consumed`` names are used by the LaTeX reader
    itself (a sum bound) and are not passed on."""

    def __init__(self, given: Mapping[str, Any], rename=str, consumed=frozenset()) -> None:
        super().__init__({rename(k): v for k, v in given.items() if k not in consumed})
        self.given = dict(given)
        self.names = {rename(k): k for k in given}

    def user_name(self, text_name: str) -> str:
        return self.names.get(text_name, text_name)


def _input_text(expr: str, latex: bool | None, values: Mapping[str, Any] | None,
                wrt: Sequence[str] | None
                ) -> tuple[str, LatexReading | None, _Values, Sequence[str] | None]:
    """The text to parse, the LaTeX reading it came from (or None), values and wrt for it."""
    if latex is False or (latex is None and not looks_like_latex(expr)):
        return expr, None, _Values(values or {}), wrt
    try:
        from diffcheck.readers.latex import read_latex, text_name
    except ImportError as err:
        if err.name != "lark":
            raise
        raise ParseError(LATEX_MISSING, None, "unsupported") from None  # type: ignore[arg-type]
    reading = read_latex(expr, values, wrt or ())
    renamed = _Values(values or {}, text_name, reading.consumed)
    names = [n for w in wrt for n in reading.components.get(w, [text_name(w)])] if wrt else wrt
    return reading.text, reading, renamed, names


def read(expr: str, *, latex: bool | None = None,
         values: Mapping[str, Any] | None = None) -> str:
    """The expression text diffcheck analyses for ``expr`` (what ``--show-parse`` prints):
    the reading of a LaTeX formula, or the text itself. Raises ParseError (LaTeX columns).

    >>> read(r"\\frac{1}{2}\\lVert y - \\hat y \\rVert^2")
    '1/2*((y_1 - y_hat_1)**2 + (y_2 - y_hat_2)**2)'
    """
    text, reading, values, _ = _input_text(expr, latex, values, None)
    try:
        parse(text, {k: literal_as_sympy(v) for k, v in (values or {}).items()})
    except ParseError as err:
        raise ParseError(err.message, reading.column(err.column) if reading else err.column,
                         err.kind) from None
    return text


def _check_in_worker(expr, wrt, name, source, line, smooth_scale, timeout, values,
                     latex) -> Report:
    from diffcheck.runner import run_jobs

    def work(text):
        return check(text, wrt, name=name, source=source, line=line, smooth_scale=smooth_scale,
                     values=values, latex=latex)

    def on_error(text, kind, message):
        return Report(input=text, name=name, source=source, line=line, error=ReportError(kind, message))

    (report,) = run_jobs([expr], work, jobs_n=1, timeout=timeout, on_error=on_error)
    return report


def check_line(loss_line: LossLine, wrt: Sequence[str] | None = None, **options) -> Report:
    """Analyse one line of a loss file, keeping its name, source and line number."""
    if loss_line.error is not None:
        return Report(
            input=loss_line.text,
            name=loss_line.name,
            source=loss_line.source,
            line=loss_line.line,
            error=ReportError("parse", loss_line.error, loss_line.column),
        )
    report = check(
        loss_line.text, wrt, name=loss_line.name, source=loss_line.source, line=loss_line.line,
        **options,
    )
    if report.error is not None and report.error.column is not None:
        report.error.column += loss_line.column - 1
    for finding in report.findings:
        if finding.column is not None:
            finding.column += loss_line.column - 1
    if loss_line.ignored_codes:
        report.findings = [f for f in report.findings if f.code not in loss_line.ignored_codes]
        # The verdict stays the truth; suppression only hides findings (and their exit status).
        report.ignored = sorted(loss_line.ignored_codes)
    return report


def check_file(path: str | Path, wrt: Sequence[str] | None = None, **options) -> list[Report]:
    """Analyse every expression of a loss file (``-`` is not accepted here: pass text)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return [check_line(ln, wrt, **options) for ln in read_loss_lines(text, source=str(path))]
