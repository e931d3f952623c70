"""Report formatters: pure functions from result dicts to text, and the exit status.

Every formatter takes ``results``, a list of ``Report.to_dict()`` objects (CONTRACT.md
section 5), and returns a string; none of them prints or reads anything else.

- ``text``: people at a terminal, with rich and optional colour (:mod:`.text`);
- ``json``: programs, the contract's JSON report (:mod:`.json`);
- ``github``: GitHub Actions annotations, one workflow command a line (:mod:`.github`);
- ``sarif``: code-scanning tools, SARIF 2.1.0 (:mod:`.sarif`).

The helpers below phrase a finding for the one-line formats (github, sarif) and the text
table, so every format says "use instead" the same way.

>>> finding = {"code": "DC101", "severity": "error", "message": "abs(u): kink at 0",
...            "surrogates": [{"name": "pseudo-Huber", "with": "sqrt(u**2 + d**2) - d",
...                            "params": {"d": 0.01}, "max_error": 0.01}]}
>>> print(annotation_message(finding))
abs(u): kink at 0. Use instead: pseudo-Huber sqrt(u**2 + d**2) - d with d = 0.01 (max error 0.01)
>>> exit_status([{"error": None, "findings": [finding]}])
1
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from diffcheck.rules import ERROR_CODES, RULES

#: values of ``exit_status(fail_on=...)``, strictest first
FAIL_ON = ("warning", "error", "never")

#: the code of an error whose kind is not in ERROR_CODES: "analysis not supported"
_FALLBACK_ERROR_CODE = "DC003"


def format_number(value: Any) -> str:
    """A parameter or bound as people write it: ``0.01``, ``1``, ``inf``.

    >>> format_number(0.5), format_number(1.0), format_number(2), format_number(1e-06)
    ('0.5', '1', '2', '1e-06')
    """
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    return str(value)


def format_params(params: dict[str, Any] | None) -> str:
    """A surrogate's parameter values, as they follow its expression.

    >>> format_params({"delta": 0.01, "tau": 1.0}), format_params({})
    (' with delta = 0.01, tau = 1', '')
    """
    if not params:
        return ""
    return " with " + ", ".join(f"{name} = {format_number(v)}" for name, v in params.items())


def error_code(error: dict[str, Any]) -> str:
    """The finding code of an error result's ``error`` object.

    >>> error_code({"kind": "parse", "message": "unexpected ')'", "column": 4})
    'DC001'
    """
    return ERROR_CODES.get(error.get("kind") or "", _FALLBACK_ERROR_CODE)


def use_instead(finding: dict[str, Any]) -> str:
    """The best smooth replacement for one finding, or the rule's advice when there is none.

    The first entry of ``surrogates`` is the best one: its name, the replacement, its
    parameter values and its proven error bound.

    >>> use_instead({"code": "DC302", "surrogates": []}) == RULES["DC302"].instead
    True
    """
    if finding.get("fix"):
        return finding["fix"]
    surrogates = finding.get("surrogates") or []
    if not surrogates:
        return RULES[finding["code"]].instead
    best = surrogates[0]
    phrase = " ".join(str(part) for part in (best.get("name"), best.get("with")) if part)
    phrase += format_params(best.get("params"))
    if best.get("max_error") is not None:
        phrase += f" (max error {format_number(best['max_error'])})"
    return phrase


_USER_NAMES = {"Max": "max", "Min": "min", "Abs": "abs", "Heaviside": "heaviside"}
_SYMPY_CALL = re.compile(r"\b(Max|Min|Abs|Heaviside)\(")


def user_spelling(text: str) -> str:
    """SymPy's function names as people write them, for the reports people read.

    The JSON report keeps SymPy's spelling (``where`` is SymPy-parseable); messages, the text
    report and pull-request annotations say ``max(a, b)``, not ``Max(a, b)``.

    >>> user_spelling("Max(x[..., 0], y) - Abs(t) = 0")
    'max(x[..., 0], y) - abs(t) = 0'
    """
    return _SYMPY_CALL.sub(lambda m: _USER_NAMES[m.group(1)] + "(", text)


def annotation_message(finding: dict[str, Any]) -> str:
    """One finding as one sentence pair, for a pull-request annotation or a SARIF result."""
    message = user_spelling(finding["message"].rstrip())
    if not message.endswith((".", "!", "?")):
        message += "."
    return f"{message} Use instead: {use_instead(finding)}"


class Annotation(NamedTuple):
    """One thing to flag on a line of a loss file: an error or a finding."""

    result: dict[str, Any]
    code: str
    severity: str  # "error" | "warning"
    message: str
    column: int | None
    #: the line in the file: the finding's own (Python source) or the result's
    line: int | None = None
    end_column: int | None = None
    #: the file, when the finding is in another file than the result's (an imported helper)
    path: str | None = None


def line_annotations(results: list[dict[str, Any]]) -> Iterator[Annotation]:
    """Each result's error, then its findings, in order: what the CI formats list.

    >>> [(a.code, a.severity, a.column) for a in line_annotations([
    ...     {"error": {"kind": "parse", "message": "unexpected ')'", "column": 4}, "findings": []},
    ...     {"error": None, "findings": [{"code": "DC302", "severity": "warning", "column": None,
    ...                                   "message": "1/u has a pole", "surrogates": []}]}])]
    [('DC001', 'error', 4), ('DC302', 'warning', None)]
    """
    for result in results:
        error = result.get("error")
        if error:
            code, column = error_code(error), error.get("column")
            line = error.get("line") or result.get("line")
            yield Annotation(result, code, "error", error["message"], column, line)
        for finding in result.get("findings") or []:
            yield Annotation(
                result, finding["code"], finding["severity"], annotation_message(finding),
                finding.get("column"), finding.get("line") or result.get("line"),
                finding.get("end_column"), finding.get("path"),
            )


def exit_status(results: list[dict[str, Any]], fail_on: str = "error") -> int:
    """The exit status of CONTRACT.md section 4 for these results.

    ``2`` when any expression could not be parsed or analysed (whatever ``fail_on`` says:
    no verdict is never a pass); otherwise ``1`` when a finding is at least as severe as
    ``fail_on`` (``"error"``: errors only, ``"warning"``: warnings too, ``"never"``: none);
    otherwise ``0``. It reads findings, not ``differentiable``, so a finding suppressed
    with ``# diffcheck: ignore[...]`` does not fail the run.

    >>> kink = {"severity": "error"}
    >>> pole = {"severity": "warning"}
    >>> [exit_status([{"error": None, "findings": f}], fail_on=level)
    ...  for f, level in [([], "error"), ([kink], "error"), ([pole], "error"),
    ...                   ([pole], "warning"), ([kink], "never")]]
    [0, 1, 0, 1, 0]
    >>> exit_status([{"error": {"kind": "parse"}, "findings": []}], fail_on="never")
    2
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    if any(result.get("error") for result in results):
        return 2
    failing = {"warning": {"error", "warning"}, "error": {"error"}, "never": set()}[fail_on]
    findings = (finding for result in results for finding in result.get("findings") or [])
    return 1 if any(finding["severity"] in failing for finding in findings) else 0


class _Formatters(Mapping[str, Callable[..., str]]):
    """Format name (``--format``) -> ``render(results, **options) -> str`` of its module.

    A format's module is imported when it is looked up, not before: a JSON run never loads
    rich, and the command line can import the one it needs while the analysis runs.
    """

    _NAMES = ("text", "json", "github", "sarif")

    def __getitem__(self, name: str) -> Callable[..., str]:
        if name not in self._NAMES:
            raise KeyError(name)
        return importlib.import_module(f"{__name__}.{name}").render

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


FORMATTERS: Mapping[str, Callable[..., str]] = _Formatters()

__all__ = [
    "FAIL_ON",
    "FORMATTERS",
    "Annotation",
    "annotation_message",
    "error_code",
    "exit_status",
    "format_number",
    "format_params",
    "line_annotations",
    "use_instead",
    "user_spelling",
]
