"""The library face of diffcheck: ``check`` one expression, ``check_file`` a loss file.

Nothing here prints. The pipeline runs one way, and this module runs it: parse -> analyze
-> probe -> surrogates -> autodiff traps -> :class:`~diffcheck.model.Report` -> plots (PNG
files with ``plot_dir``, see :mod:`diffcheck.plots`).

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

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffcheck.config import DEFAULT_SMOOTH_SCALE
from diffcheck.lossfile import LossLine, read_loss_lines
from diffcheck.model import Report, ReportError
from diffcheck.parser import ParsedExpression, ParseError, literal_as_sympy, parse
from diffcheck.printing import expression_text, forget_texts
from diffcheck.readers.latex_tokens import looks_like_latex

if TYPE_CHECKING:  # the reader imports lark, an optional dependency
    from diffcheck.readers.latex import LatexReading

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
    dtype: str = "float32",
    latex: bool | None = None,
    plot_dir: str | Path | None = None,
    plot_name: str | None = None,
    sparklines: bool = False,
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
    latex:
        ``True``: ``expr`` is LaTeX (CONTRACT.md section 8); ``False``: it is the text
        syntax; ``None`` (default): LaTeX when it contains a backslash command.
    plot_dir:
        Write a picture of each finding (and a map of a loss of two or more variables) into
        this folder, and its path into the finding's ``plot`` (needs matplotlib).
    plot_name:
        The start of the pictures' file names (default: ``name``, else a hash of ``expr``).
    sparklines:
        Sample the loss along each finding's probe line into the finding's ``slice``, for the
        text report's sparklines.
    """
    if timeout is not None:
        return _check_in_worker(expr, wrt, name, source, line, smooth_scale, timeout, values,
                                dtype, latex, {"plot_dir": plot_dir, "plot_name": plot_name,
                                        "sparklines": sparklines})
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
    pipeline = _analyse(parsed, report, smooth_scale)
    if report.error is None:
        _autodiff_stage(parsed, report, dtype)
        _keep_for_plots(report, pipeline, dtype, _program(parsed, report.fixed))
    if report.error is None and reading is not None:
        # what the text cannot show (sums written out for three terms, fixed labels) first
        report.assumptions = reading.assumptions + report.assumptions
        for finding in report.findings:
            if finding.column is not None:
                finding.column = reading.column(finding.column)
    return plot_stage(report, plot_dir, name=plot_name, sparklines=sparklines)


def _analyse(parsed, report: Report, smooth_scale: float) -> Any:
    """Run the analysis into ``report``; a failure becomes the report's error, never a guess.

    Returns what the plots are drawn from (the analysis and the checked surrogate), or None.
    """
    # Imported here so that ``import diffcheck`` stays cheap for the CLI's --help.
    from diffcheck.analysis import AnalysisLimit

    forget_texts()  # texts are shared within a report, not kept across a batch's lines
    try:
        return _run_pipeline(parsed, report, smooth_scale)
    except AnalysisLimit as err:
        report.error = ReportError("limit", str(err))
    except RecursionError:
        report.error = ReportError("limit", "expression too deeply nested to analyse")
    except MemoryError:
        report.error = ReportError("limit", "analysis ran out of memory")
    except Exception as err:
        detail = " ".join(str(err).split())  # one line, whatever the exception says
        report.error = ReportError("unsupported", f"analysis failed: {type(err).__name__}: {detail}")
    # No verdict without an analysis: differentiable stays null (CONTRACT.md section 5).
    report.differentiable, report.smoothness, report.surrogate = None, None, None
    report.findings = []
    return None


def _run_pipeline(parsed: ParsedExpression, report: Report, smooth_scale: float) -> Any:
    """analyze -> probe -> surrogates, filling ``report``; (analysis, checked surrogate)."""
    from diffcheck.analysis import analyze
    from diffcheck.probe import confirm
    from diffcheck.surrogates import checked_smooth_loss, surrogates_for

    analysis = analyze(parsed, report.wrt)
    confirm(analysis)
    # a sort's gather proposes many tie sets from one node: its surrogates are proved once
    surrogates: dict[Any, list[dict]] = {}
    for item in analysis.non_smooth:
        node = item.candidate.node
        if node not in surrogates:
            surrogates[node] = surrogates_for(node, smooth_scale)
        item.finding.surrogates = copy.deepcopy(surrogates[node])
        item.finding.set_expr = item.candidate.g
    report.assumptions = analysis.assumptions
    report.gradient = analysis.gradient
    report.findings = analysis.findings
    report.differentiable = analysis.differentiable
    report.smoothness = analysis.smoothness
    smooth = None
    if analysis.non_smooth:
        singular = [{s.name: item.comparison.point[s] for s in analysis.symbols}
                    for item in analysis.non_smooth]
        smooth = checked_smooth_loss(parsed.expr, analysis.nonsmooth_nodes, singular,
                                     smooth_scale, reserved_names=parsed.variables)
        report.surrogate = None if smooth is None else smooth.report
    return analysis, smooth


def _autodiff_stage(parsed, report: Report, dtype: str, tree: Any = None,
                    wrt: Sequence[str] | None = None) -> None:
    """Where PyTorch and JAX autodiff break although the mathematics may not (DC5xx).

    ``tree`` is the program as written when the reader built one (Python source); by default
    the expression's own text is read again. ``wrt`` names the analysis variables when they
    differ from the report's (tensor components).
    """
    from diffcheck.traps import annotate_kinks, find_traps

    variables = list(wrt) if wrt is not None else report.wrt
    kinks = [f.probe["point"] for f in report.findings if f.probe and f.probe.get("point")]
    try:
        annotate_kinks(parsed, report.findings, variables, dtype, report.fixed, tree=tree)
        traps = find_traps(parsed, variables, dtype, report.fixed, kinks, tree=tree)
    except Exception as err:
        detail = " ".join(str(err).split())[:200]
        report.assumptions.append(f"autodiff check skipped: {type(err).__name__}: {detail}")
        return
    report.findings.extend(sorted(traps, key=lambda f: (f.severity != "error", f.code)))


def _program(parsed: ParsedExpression, values: Mapping[str, Any]) -> Any:
    """The program as written, for PyTorch/JAX autodiff along the plots' lines (or None)."""
    from diffcheck.program import ProgramError, from_expression

    try:
        return from_expression(parsed.source, values)
    except (ProgramError, SyntaxError):
        return None


def _keep_for_plots(report: Report, pipeline: Any, dtype: str, program: Any = None,
                    wrt: Sequence[str] | None = None) -> None:
    """Keep the pipeline's SymPy objects on the report (in memory) for its pictures."""
    if pipeline is None:
        return
    from diffcheck.slices import plot_source

    analysis, smooth = pipeline
    title = report.name if report.reader == "python" and report.name else report.input
    report.plot_source = plot_source(analysis, smooth, title, dtype, program, wrt)


def plot_stage(report: Report, plot_dir: str | Path | None = None, *, name: str | None = None,
               sparklines: bool = False) -> Report:
    """The last stage: pictures of a complete report, once its suppressed findings are gone.

    With ``plot_dir``, a PNG per finding (and a map for two or more variables) and their
    paths in ``plot``; with ``sparklines``, each finding's ``slice``. Only a report made in
    this process has the SymPy objects the pictures come from; others are returned as they
    are. ``check(..., plot_dir=...)`` runs it itself.
    """
    if report.plot_source is None or not (plot_dir is not None or sparklines):
        return report
    from diffcheck.plots import add_pictures

    add_pictures(report, plot_dir, name=name, sparklines=sparklines)
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
                     dtype="float32", latex=None, pictures=None) -> Report:
    from diffcheck.runner import run_jobs

    def work(text):
        return check(text, wrt, name=name, source=source, line=line, smooth_scale=smooth_scale,
                     values=values, dtype=dtype, latex=latex, **(pictures or {}))

    def on_error(text, kind, message):
        return Report(input=text, name=name, source=source, line=line, error=ReportError(kind, message))

    (report,) = run_jobs([expr], work, jobs_n=1, timeout=timeout, on_error=on_error)
    return report


def warm_up() -> None:
    """Import the stages of the pipeline and build what each builds once per process.

    Nothing of any input is computed, so the checks after it give the same results, only
    without paying for the imports: the command line runs it in its first worker while it
    reads the options.
    """
    import sympy as sp

    from diffcheck import analysis, probe, surrogates, traps  # noqa: F401
    from diffcheck.numeric import compile_expr, compile_numpy

    # SymPy fills the namespace of a target module (mpmath, NumPy) on the first expression
    # compiled for it; NumPy's imports its lazily loaded submodules
    unrelated = sp.Symbol("warm_up_symbol")
    compile_expr(unrelated, [unrelated])
    compile_numpy(unrelated, [unrelated])


#: options of check() that belong to the plot stage
_PICTURE_OPTIONS = ("plot_dir", "plot_name", "sparklines")


def check_line(loss_line: LossLine, wrt: Sequence[str] | None = None, **options) -> Report:
    """Analyse one line of a loss file, keeping its name, source and line number."""
    if loss_line.error is not None:
        return Report(
            input=loss_line.text,
            name=loss_line.name,
            source=loss_line.source,
            line=loss_line.line,
            error=ReportError("parse", loss_line.error, loss_line.column),
            input_column=1,  # the text of a line the reader refused is the whole line
        )
    pictures: dict[str, Any] = {key: options.pop(key) for key in _PICTURE_OPTIONS
                                if key in options}
    if options.get("timeout") is not None:
        options.update(pictures)  # the worker draws them: its report has no SymPy objects
        pictures = {}
    report = check(
        loss_line.text, wrt, name=loss_line.name, source=loss_line.source, line=loss_line.line,
        **options,
    )
    report.input_column = loss_line.column
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
    return plot_stage(report, pictures.get("plot_dir"), name=pictures.get("plot_name"),
                      sparklines=bool(pictures.get("sparklines")))


def check_file(path: str | Path, wrt: Sequence[str] | None = None, **options) -> list[Report]:
    """Analyse every expression of a loss file (``-`` is not accepted here: pass text)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return [check_line(ln, wrt, **options) for ln in read_loss_lines(text, source=str(path))]


# --- Python source -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceJob:
    """One loss definition of a ``.py`` file to check (a job for the worker pool)."""

    path: str
    text: str
    target: str
    line: int


def source_jobs(path: str, text: str, selector: str | None = None) -> list[SourceJob | Report]:
    """The losses of a ``.py`` file as jobs, or one error report when the file cannot be read.

    Only the syntax tree is read here; nothing of the file runs.
    """
    from diffcheck.readers.pysource import SourceError, find_losses, read_module

    try:
        module = read_module(text, path)
        targets = find_losses(module, text, selector)
    except SourceError as err:
        line, column = err.position()
        return [Report(input=selector or path, name=selector, source=path, line=line,
                       reader="python", error=ReportError(err.kind, err.message, column, line))]
    return [SourceJob(path, text, t.name, t.line) for t in targets]


def check_source_job(job: SourceJob, wrt: Sequence[str] | None = None, *,
                     smooth_scale: float = DEFAULT_SMOOTH_SCALE,
                     values: Mapping[str, Any] | None = None, dtype: str = "float32",
                     plot_dir: str | Path | None = None, plot_name: str | None = None,
                     sparklines: bool = False) -> Report:
    """Translate and analyse one loss of a ``.py`` file (CONTRACT.md section 6).

    ``plot_dir``, ``plot_name`` and ``sparklines`` are those of :func:`check`.
    """
    import ast

    from diffcheck.readers.pysource import SourceError, find_losses, read_module, translate

    report = Report(input=job.target, name=job.target, source=job.path, line=job.line,
                    reader="python")
    try:
        module = read_module(job.text, job.path)
        (target,) = find_losses(module, job.text, job.target)
        report.input = ast.get_source_segment(job.text, target.node) or job.target
        loss = translate(module, job.text, target, dict(values or {}), job.path)
    except SourceError as err:
        line, column = err.position()
        report.error = ReportError(err.kind, err.message, column, line)
        return report
    except RecursionError:
        report.error = ReportError("limit", "the function is nested too deeply to translate")
        return report
    _fill_from_source(report, loss, wrt, smooth_scale, [job.text], dtype)
    return plot_stage(report, plot_dir, name=plot_name, sparklines=sparklines)


def read_source_job(job: SourceJob, values: Mapping[str, Any] | None = None) -> str:
    """The expression a ``.py`` loss is read as (what ``--show-parse`` prints for it).

    Raises :class:`~diffcheck.readers.pysource.SourceError` when it cannot be translated.
    """
    from diffcheck.readers.pysource import find_losses, read_module, translate

    module = read_module(job.text, job.path)
    (target,) = find_losses(module, job.text, job.target)
    return str(translate(module, job.text, target, dict(values or {}), job.path).parsed.expr)


def _fill_from_source(report: Report, loss: Any, wrt: Sequence[str] | None, smooth_scale: float,
                      texts: list[str], dtype: str = "float32") -> None:
    """Analyse a translated source loss into ``report``, in the file's lines and names."""
    parsed = loss.parsed
    chosen = loss.chosen_parameters(wrt) if (wrt and loss.is_model) else \
        [w for w in (wrt or []) if w in loss.tensors]
    parameters = chosen or loss.wrt
    analysed = Report(input=report.input, wrt=loss.symbols_of(parameters))
    pipeline = _analyse(parsed, analysed, smooth_scale)
    report.expression = expression_text(parsed.expr)
    report.wrt = list(parameters)
    report.fixed = dict(loss.translation.fixed)
    report.error = analysed.error
    report.differentiable, report.smoothness = analysed.differentiable, analysed.smoothness
    report.surrogate = analysed.surrogate
    report.assumptions = list(loss.translation.assumptions)
    report.gradient = analysed.gradient
    if analysed.error is None and not loss.is_model:
        # the program's text names the function's hyperparameters (eps): their values
        known = {**loss.translation.hyperparameters, **loss.translation.fixed}
        analysed.fixed = {name: value for name, value in known.items()
                          if isinstance(value, (bool, int, float, str))}
        _autodiff_stage(parsed, analysed, dtype, tree=loss.translation.program,
                        wrt=analysed.wrt)
    # printed once: the causes of a large model are large expressions
    spans_by_cause = {expression_text(k): v for k, v in parsed.locations.items()}
    located = [_in_source(f, parsed, loss.implicit, texts, loss.translation.span_files,
                          spans_by_cause) for f in analysed.findings]
    if loss.is_model:
        for finding in located:
            finding.where = _layer_calls(finding.where, loss.parameters)
            finding.message = _layer_calls(finding.message, loss.parameters) or finding.message
    # the sets of several rows or components read alike in the user's names
    # (norm(x[i] - x[j]) = 1 for every other row j; branch.1(branch.0(x)) = 0 for each of its
    # channels, once the layer calls are written without their weights): one finding says it
    distinct: dict[tuple, Any] = {}
    for finding in located:
        distinct.setdefault((finding.kind, finding.code, finding.where, finding.line,
                             finding.column), finding)
    located = list(distinct.values())
    if loss.is_model or loss.translation.cuts:
        located = _gradient_flow(loss, parameters, located, texts)
    report.findings = sorted(located, key=lambda f: (f.severity != "error", f.line or 0,
                                                     f.column or 0, f.code))
    if report.error is None:
        _keep_for_plots(report, pipeline, dtype,
                        None if loss.is_model else loss.translation.program, analysed.wrt)


def check_composition(job: SourceJob, loss: str, wrt: Sequence[str] | None = None, *,
                      smooth_scale: float = DEFAULT_SMOOTH_SCALE,
                      values: Mapping[str, Any] | None = None, dtype: str = "float32",
                      plot_dir: str | Path | None = None, plot_name: str | None = None,
                      sparklines: bool = False) -> Report:
    """``loss(model(x), y)`` w.r.t. the model's parameters: "can I train this?".

    ``job`` names the model (a class of a ``.py`` file); ``loss`` is ``path.py::name`` or an
    expression in which ``out`` is the model's output. The report says the verdict of the
    composition, and those of the model and of the loss on their own: by the chain rule, a
    model that is not differentiable makes the composition non-differentiable whatever the
    loss, and a loss that is not differentiable at the model's outputs does too.
    """
    import ast

    from diffcheck.readers.pysource import (
        SourceError,
        find_losses,
        read_module,
        translate_composition,
    )

    spec, loss_name = _loss_spec(loss)
    report = Report(input=job.target, name=f"{loss_name}({job.target})", source=job.path,
                    line=job.line, reader="python")
    try:
        module = read_module(job.text, job.path)
        (target,) = find_losses(module, job.text, job.target)
        report.input = ast.get_source_segment(job.text, target.node) or job.target
        composed = translate_composition(module, job.text, target, spec, dict(values or {}),
                                         job.path)
    except SourceError as err:
        line, column = err.position()
        report.error = ReportError(err.kind, err.message, column, line)
        return report
    except OSError as err:
        report.error = ReportError("parse", f"cannot read the loss: {err}")
        return report
    _fill_from_source(report, composed, wrt, smooth_scale, [job.text, spec.text or ""])
    model_alone = check_source_job(job, wrt, smooth_scale=smooth_scale, values=values)
    if spec.expression is not None:
        loss_alone = check(spec.expression, ["out"], smooth_scale=smooth_scale, values=values)
    else:
        loss_job = SourceJob(spec.path or "", spec.text or "", spec.name or "", 0)
        loss_alone = check_source_job(loss_job, None, smooth_scale=smooth_scale, values=values)
    report.composition = {
        "model": _verdict(job.target, model_alone),
        "loss": _verdict(loss_name, loss_alone),
    }
    return plot_stage(report, plot_dir, name=plot_name, sparklines=sparklines)


def _verdict(name: str, report: Report) -> dict[str, Any]:
    return {"name": name, "differentiable": report.differentiable,
            "smoothness": report.smoothness,
            "error": None if report.error is None else report.error.message}


def _loss_spec(loss: str):
    """``path.py::name`` (a loss of a file) or an expression in ``out``."""
    from diffcheck.readers.pysource import LossSpec

    path, _, name = loss.partition("::")
    if path.endswith(".py") and Path(path).is_file():
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        if not name:
            from diffcheck.readers.pysource import find_losses, read_module

            found = find_losses(read_module(text, path), text)
            name = found[0].name if found else ""
        return LossSpec(path=path, text=text, name=name), name
    return LossSpec(expression=loss, name="loss"), "loss"


def _gradient_flow(loss, parameters: list[str], findings: list, texts: list[str]) -> list:
    """Cuts (parameters no gradient reaches) and straight-through estimators, for a model."""
    from diffcheck import gradient_flow
    from diffcheck.model import Finding
    from diffcheck.rules import RULES

    program = loss.translation.program
    estimators = gradient_flow.straight_through(program)
    through: set[str] = set()
    for part in estimators:
        for node in part.walk():
            expr = loss.lowered.exprs.get(id(node)) if loss.lowered is not None else None
            if expr is not None and hasattr(expr, "free_symbols"):
                through.add(str(expr))
    kept = []
    for finding in findings:
        if finding.cause in through:
            if finding.kind == "zero-gradient":
                continue  # the straight-through estimator passes the gradient on
            finding.ste = True
            finding.message += "; the gradient is passed straight through (a straight-through estimator)"
        kept.append(finding)
    layers = loss.translation.layers
    modules: dict[str, list[str]] = {}
    for path, layer in layers.items():
        if layer is None:
            continue
        # a module and every module above it (backbone.0 is in backbone): the highest one whose
        # parameters are all cut is the one named
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            modules.setdefault(".".join(parts[:depth]), []).extend(layer.parameter_names())
    modules = dict(sorted(modules.items(), key=lambda item: item[0].count(".")))
    built_at = {name: layer.span for layer in layers.values() if layer is not None
                for name in layer.parameter_names()}
    rule = RULES["DC402"]
    for cut in gradient_flow.cuts(program, parameters, built_at, modules):
        what = ", ".join(cut.names)
        where = f" (line {cut.span.line})" if cut.span is not None else ""
        if cut.reason == "unused":
            cause = f"the forward pass never uses it{where}"
        else:
            cause = f"{cut.reason}{where} cuts it off the output"
        message = rule.format(parameters=what, cause=cause)
        finding = Finding(rule.code, "zero-gradient", message, cut.reason, None, confirmed=True,
                          cut=list(cut.names))
        if cut.span is not None:
            finding.line, finding.column = cut.span.line, cut.span.column
            if cut.span.end_line == cut.span.line:
                finding.end_column = cut.span.end_column
            finding.excerpt = _excerpt(cut.span, texts)
        kept.append(finding)
    return kept


def _layer_calls(text: str | None, parameters: list[str]) -> str | None:
    """A layer's output written as ``fc1(x)``: its parameters are implied by its name.

    >>> _layer_calls("fc1(x, fc1.weight, fc1.bias) = 0", ["fc1.weight", "fc1.bias"])
    'fc1(x) = 0'
    """
    if not text:
        return text
    import re

    for name in sorted(parameters, key=len, reverse=True):
        text = re.sub(r",\s*" + re.escape(name) + r"(?:@\d+|\[\d+\])*(?=[,)])", "", text)
    return text


def _excerpt(span: Any, texts: list[str]) -> str | None:
    """The line of ``span`` in whichever source text holds the construct there."""
    fallback = None
    for text in texts:
        lines = text.splitlines()
        if not 0 < span.line <= len(lines):
            continue
        line = lines[span.line - 1]
        fallback = fallback if fallback is not None else line
        first_line_of_span = (span.text or "").split("\n")[0]
        if line[span.column - 1:].startswith(first_line_of_span[:20]):
            return line
    return fallback


def _in_source(finding, parsed, implicit: set[str], texts: list[str],
               span_files: dict | None = None, spans_by_cause: dict | None = None):
    """A finding located in the file and written in the user's indexing (``spans_by_cause``:
    the parse's locations by the text of their expression, when the caller has them)."""
    from diffcheck.readers.pysource import user_indexing

    if spans_by_cause is None:
        spans_by_cause = {expression_text(k): v for k, v in parsed.locations.items()}
    span = spans_by_cause.get(finding.cause)
    if span is not None:
        finding.line, finding.column = span.line, span.column
        if span.end_line == span.line:
            finding.end_column = span.end_column
        other = (span_files or {}).get(span)
        if other is not None:
            finding.path = other
            try:
                texts = [Path(other).read_text(encoding="utf-8", errors="replace")]
            except OSError:
                texts = []
        finding.excerpt = _excerpt(span, texts)
    from diffcheck.readers.pysource import tensor_set

    whole = tensor_set(finding.set_expr, implicit) if finding.kind != "autodiff" else None
    if whole is not None:
        finding.message = finding.message.replace(finding.where or "\0", whole)
        finding.where = whole
    finding.where = user_indexing(finding.where, implicit)
    finding.message = user_indexing(finding.message, implicit) or finding.message
    return finding


def check_source(path: str | Path, wrt: Sequence[str] | None = None, *,
                 selector: str | None = None, **options: Any) -> list[Report]:
    """Check the losses of a ``.py`` file (or the one named ``selector``), never running it."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    reports = []
    for job in source_jobs(str(path), text, selector):
        reports.append(job if isinstance(job, Report) else check_source_job(job, wrt, **options))
    return reports


def check_function(function: Any, wrt: Sequence[str] | None = None, **options: Any) -> Report:
    """Check a loss function or class object from its source text; nothing of it is called.

    ``inspect.getsource`` reads the definition (with the rest of its file, for helpers); the
    same reader as for files translates it.
    """
    import inspect

    name = getattr(function, "__name__", None)
    if name is None:
        raise TypeError("check_function needs a function or a class")
    try:
        path = inspect.getsourcefile(function) or "<source>"
        text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else \
            inspect.getsource(function)
    except (OSError, TypeError):
        text, path = inspect.getsource(function), "<source>"
    jobs = source_jobs(path, text, name)
    job = jobs[0]
    return job if isinstance(job, Report) else check_source_job(job, wrt, **options)


def assert_differentiable(loss: Any, wrt: Sequence[str] | None = None, **options: Any) -> Report:
    """Raise ``AssertionError`` with the text report unless ``loss`` is differentiable.

    ``loss`` is an expression (a string) or a function or class of your code. For a project's
    own test suite::

        def test_my_loss_is_smooth():
            diffcheck.assert_differentiable(giou_loss, wrt=["boxes1"])
    """
    report = check(loss, wrt, **options) if isinstance(loss, str) else \
        check_function(loss, wrt, **options)
    if report.error is not None or report.differentiable is not True:
        from diffcheck.report.text import render

        raise AssertionError("\n" + render([report.to_dict()]))
    return report
