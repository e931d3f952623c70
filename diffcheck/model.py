"""The report data model shared by the analyzer, the probe, the API and the formatters.

Every object here serialises to the JSON report of CONTRACT.md section 5 with ``to_dict()``.
Formatters receive those plain dicts, so they never depend on SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diffcheck.rules import SEVERITY


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
    #: one-sided slopes and what autodiff frameworks return there (extension of the contract)
    autodiff: str | None = None
    #: 1-based column of the primitive in the input, when the parser knows it
    column: int | None = None

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

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
            "column": self.column,
        }


@dataclass
class ReportError:
    kind: str  # parse | unsupported | limit | timeout
    message: str
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "column": self.column}


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
    #: for LaTeX input: the expression text it was read as (what ``--show-parse`` prints)
    reading: str | None = None

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
            "reading": self.reading,
        }
