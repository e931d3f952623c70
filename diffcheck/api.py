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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from diffcheck.lossfile import LossLine, read_loss_lines
from diffcheck.model import Report, ReportError
from diffcheck.parser import ParseError, literal_as_sympy, parse

DEFAULT_SMOOTH_SCALE = 0.01


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
    dtype: str = "float32",
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
    dtype:
        The float type training uses, for the autodiff traps: "float32" (default) or "float64".
    """
    if timeout is not None:
        return _check_in_worker(expr, wrt, name, source, line, smooth_scale, timeout, values,
                                dtype)
    # Imported here so that ``import diffcheck`` stays cheap for the CLI's --help.
    from diffcheck.analyzer import AnalysisLimit, analyze

    report = Report(input=expr, name=name, source=source, line=line)
    try:
        parsed = parse(expr, {k: literal_as_sympy(v) for k, v in (values or {}).items()})
    except ParseError as err:
        report.error = ReportError(err.kind, err.message, err.column)
        return report
    report.expression = str(parsed.expr)
    report.fixed = {k: values[k] for k in parsed.fixed} if values else {}
    unknown = [v for v in (wrt or []) if v not in parsed.variables]
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
        return report
    _autodiff_stage(parsed, report, dtype)
    return report


def _autodiff_stage(parsed, report: Report, dtype: str) -> None:
    """Where PyTorch and JAX autodiff break although the mathematics may not (DC5xx)."""
    from diffcheck.traps import annotate_kinks, find_traps

    kinks = [f.probe["point"] for f in report.findings if f.probe and f.probe.get("point")]
    try:
        annotate_kinks(parsed, report.findings, report.wrt, dtype, report.fixed)
        traps = find_traps(parsed, report.wrt, dtype, report.fixed, kinks)
    except Exception as err:  # noqa: BLE001 - the verdict stands without the autodiff check
        detail = " ".join(str(err).split())[:200]
        report.assumptions.append(f"autodiff check skipped: {type(err).__name__}: {detail}")
        return
    report.findings.extend(sorted(traps, key=lambda f: (f.severity != "error", f.code)))


def _check_in_worker(expr, wrt, name, source, line, smooth_scale, timeout, values,
                     dtype="float32") -> Report:
    from diffcheck.runner import run_jobs

    def work(text):
        return check(text, wrt, name=name, source=source, line=line, smooth_scale=smooth_scale,
                     values=values, dtype=dtype)

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
        if finding.line is not None and loss_line.line is not None:
            finding.line += loss_line.line - 1
    if loss_line.ignored_codes:
        report.findings = [f for f in report.findings if f.code not in loss_line.ignored_codes]
        # The verdict stays the truth; suppression only hides findings (and their exit status).
        report.ignored = sorted(loss_line.ignored_codes)
    return report


def check_file(path: str | Path, wrt: Sequence[str] | None = None, **options) -> list[Report]:
    """Analyse every expression of a loss file (``-`` is not accepted here: pass text)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return [check_line(ln, wrt, **options) for ln in read_loss_lines(text, source=str(path))]
