"""The report data model shared by the analyzer, the probe, the API and the formatters.

Every object here serialises to the JSON report of CONTRACT.md section 5 with ``to_dict()``.
Formatters receive those plain dicts, so they never depend on SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diffcheck.rules import RULES, SEVERITY


@dataclass
class Finding:
    """One confirmed (or unprobed) non-smooth feature of a loss."""

    code: str
    kind: str
    message: str
    cause: str
    where: str | None
    confirmed: bool | None = None
    probe: dict[str, Any] | None = None
    surrogates: list[dict[str, Any]] = field(default_factory=list)
    #: kink findings: a note on the one-sided slopes and what autodiff returns there;
    #: autodiff findings: {effect, dtype, frameworks, point, true, ...} (CONTRACT.md section 7)
    autodiff: str | dict[str, Any] | None = None
    #: 1-based column of the primitive in the input, when the parser knows it
    column: int | None = None
    #: 1-based line of the primitive in its file (Python source), when known
    line: int | None = None
    #: the text of that line, for reports that show it with a caret
    excerpt: str | None = None
    #: 1-based column just after the construct, when it ends on the same line
    end_column: int | None = None
    #: for a cut: the parameters (or modules) no gradient reaches (CONTRACT section 10)
    cut: list[str] | None = None
    #: the finding lies in the forward value of a straight-through estimator
    ste: bool | None = None
    #: autodiff findings: the standard fix, as code
    fix: str | None = None
    #: the path of this finding's picture (``--plot DIR``)
    plot: str | None = None
    #: the loss sampled along the probe line, for the text report's sparkline:
    #: {"start": t0, "stop": t1, "values": [number or None, ...]}
    slice: dict[str, Any] | None = None
    #: the file of ``line`` when it is not the result's own (a helper imported from another
    #: file of the project)
    path: str | None = None
    #: the SymPy ``g`` of the set ``g = 0`` (in memory only, for readers that rewrite
    #: ``where`` in their own terms)
    set_expr: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # a finding comes back from a worker pickled: without its SymPy set, unpickling it
        # needs no SymPy (the command line's process never imports it for a one-line run)
        return {**self.__dict__, "set_expr": None}

    @property
    def severity(self) -> str:
        rule = RULES.get(self.code)
        return rule.severity if rule is not None else SEVERITY[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "cause": self.cause,
            "where": self.where,
            "confirmed": self.confirmed,
            "probe": self.probe,
            "surrogates": self.surrogates,
            "autodiff": self.autodiff,
            "line": self.line,
            "column": self.column,
            **({"excerpt": self.excerpt, "end_column": self.end_column}
               if self.excerpt is not None else {}),
            **({"cut": list(self.cut)} if self.cut is not None else {}),
            **({"ste": self.ste} if self.ste is not None else {}),
            **({"fix": self.fix} if self.fix is not None else {}),
            **({"plot": self.plot} if self.plot is not None else {}),
            **({"slice": self.slice} if self.slice is not None else {}),
            **({"path": self.path} if self.path is not None else {}),
        }


@dataclass
class ReportError:
    kind: str  # parse | unsupported | limit | timeout
    message: str
    column: int | None = None
    #: 1-based line in the file, for Python source
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"kind": self.kind, "message": self.message, "column": self.column}
        if self.line is not None:
            error["line"] = self.line
        return error


@dataclass
class Report:
    """The result for one expression (one line of a loss file)."""

    input: str
    name: str | None = None
    source: str | None = None
    line: int | None = None
    expression: str | None = None
    wrt: list[str] = field(default_factory=list)
    differentiable: bool | None = None
    smoothness: str | None = None
    assumptions: list[str] = field(default_factory=list)
    gradient: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    surrogate: dict[str, Any] | None = None
    error: ReportError | None = None
    #: codes suppressed for this line (``# diffcheck: ignore[DC101]``); their findings are dropped
    ignored: list[str] = field(default_factory=list)
    #: variables fixed by ``--set`` that the input uses, with their values
    fixed: dict[str, Any] = field(default_factory=dict)
    #: what kind of input this was: "expression", "python" (a .py file), "latex"
    reader: str = "expression"
    #: for loss(model(x)): the verdicts of the model and of the loss on their own
    composition: dict[str, Any] | None = None
    #: 1-based column where ``input`` starts in its line (after a ``name:`` label in a loss
    #: file), so that a column counted in the line can be shown under the input
    input_column: int | None = None
    #: for LaTeX input: the expression text it was read as (what ``--show-parse`` prints)
    reading: str | None = None
    #: the path of the loss's map over two variables (``--plot DIR``, two or more variables)
    plot: str | None = None
    #: the SymPy objects the pictures are computed from (:class:`diffcheck.slices.PlotSource`);
    #: in memory only: never serialised, and dropped when the report is pickled
    plot_source: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # reports come back from worker processes pickled; SymPy trees stay where they were made
        return {**self.__dict__, "plot_source": None}

    def _ipython_display_(self) -> None:
        """In Jupyter: the text report, and the pictures when matplotlib is installed."""
        from diffcheck.notebook import display_report

        display_report(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "line": self.line,
            "input": self.input,
            "expression": self.expression,
            "wrt": list(self.wrt),
            "differentiable": self.differentiable,
            "smoothness": self.smoothness,
            "assumptions": list(self.assumptions),
            "gradient": dict(self.gradient),
            "findings": [f.to_dict() for f in self.findings],
            "surrogate": self.surrogate,
            "error": None if self.error is None else self.error.to_dict(),
            "fixed": dict(self.fixed),
            "reader": self.reader,
            **({"composition": self.composition} if self.composition is not None else {}),
            "input_column": self.input_column,
            **({"plot": self.plot} if self.plot is not None else {}),
            "reading": self.reading,
        }
