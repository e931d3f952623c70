"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

Each finding becomes ``::error`` (severity error) or ``::warning`` (severity warning) on
the loss file's line and the cause's column; each expression that could not be analysed
becomes one ``::error`` with its error code. Escaping follows the Actions toolkit
(``@actions/core``): ``%``, CR and LF in the message; also ``:`` and ``,`` in property
values.

>>> result = {"source": "losses.txt", "line": 3, "error": None, "findings": [
...     {"code": "DC101", "severity": "error", "column": 1, "surrogates": [],
...      "message": "abs(u) has a kink where u = 0"}]}
>>> print(render([result]), end="")  # doctest: +ELLIPSIS
::error file=losses.txt,line=3,col=1,title=diffcheck (DC101)::abs(u) has a kink where u = 0. Use...
"""

from __future__ import annotations

from typing import Any

from diffcheck.report import Annotation, line_annotations

#: finding severity -> workflow command
_COMMAND = {"error": "error", "warning": "warning"}


def escape_message(text: str) -> str:
    """Escape a command's message (``escapeData`` in the Actions toolkit).

    >>> escape_message("100% sure\\r\\nnext: a, b")
    '100%25 sure%0D%0Anext: a, b'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a command's property value (``escapeProperty`` in the Actions toolkit).

    >>> escape_property("C:/losses, v2.txt")
    'C%3A/losses%2C v2.txt'
    """
    return escape_message(text).replace(":", "%3A").replace(",", "%2C")


def _command(annotation: Annotation) -> str:
    # an expression given on the command line has no file; GitHub then shows the
    # annotation on the run rather than on a made-up path
    properties = {
        "file": annotation.path or annotation.result.get("source"),
        "line": annotation.line,
        "col": annotation.column,
        "title": f"diffcheck ({annotation.code})",
    }
    listed = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in properties.items()
        if value is not None
    )
    return f"::{_COMMAND[annotation.severity]} {listed}::{escape_message(annotation.message)}"


def render(results: list[dict[str, Any]], **options: Any) -> str:
    """One workflow command per line: each result's error, then its findings in order.

    Options meant for other formats (``version``, ``color``, ...) are ignored.
    """
    return "".join(_command(annotation) + "\n" for annotation in line_annotations(results))
