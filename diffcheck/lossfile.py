"""Loss files: one expression per line, an optional ``name:`` label, ``#`` comments.

The reader never stops at a bad line. Each line that holds an expression becomes one
:class:`LossLine`; a line the reader cannot use (a NUL byte, bytes that are not UTF-8, more
than :data:`MAX_LINE_LENGTH` characters, a label that is not an identifier, a malformed
``# diffcheck: ignore[...]``) becomes a ``LossLine`` whose ``error`` says why, so every line of the file gets its own result.
Blank lines and whole-line comments give nothing.

>>> lines = read_loss_lines('''# regression losses
... mse: (y - f)**2
... l1: abs(y - f)    # diffcheck: ignore[DC101]
...
... max(0, 1 - y*f)
... ''', source="losses.txt")
>>> [(ln.line, ln.name, ln.text, ln.column) for ln in lines]
[(2, 'mse', '(y - f)**2', 6), (3, 'l1', 'abs(y - f)', 5), (5, None, 'max(0, 1 - y*f)', 1)]
>>> sorted(lines[1].ignored_codes)
['DC101']
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from diffcheck.rules import RULES

#: Longer lines are reported, not analysed: no loss needs them, and they are a cheap way to
#: make a parser or a terminal suffer.
MAX_LINE_LENGTH = 10_000

#: How much of an overlong line is kept as its ``text``, so that reports stay readable.
_PREVIEW_LENGTH = 80

_BRACKET_DEPTH = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}

_IGNORE_DIRECTIVE = re.compile(r"diffcheck\s*:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?", re.I)
_LAMBDA = re.compile(r"\blambda\b")


@dataclass(frozen=True)
class LossLine:
    """One expression of a loss file, or the reason a line could not give one.

    ``line`` and ``column`` are 1-based and count characters of the physical line, so a
    column the parser reports inside ``text`` maps back to the file as
    ``column + parser_column - 1``.
    """

    source: str | None
    line: int | None  # None for an expression given on the command line
    name: str | None
    text: str
    column: int
    ignored_codes: frozenset[str] = frozenset()
    error: str | None = None


def read_loss_lines(text: str, source: str | None = None) -> list[LossLine]:
    """Split a loss file into :class:`LossLine` objects, one per expression line.

    Parameters
    ----------
    text:
        The file's text. Bytes that were not UTF-8 should arrive as lone surrogates
        (:func:`decode_loss_bytes`) or U+FFFD; either makes that line an error.
    source:
        The file name to carry into every result (``None`` for standard input or a string).

    A colon starts a label only when what comes before it is an identifier and the colon is
    outside brackets and not part of ``::`` or ``:=``:

    >>> text = "hinge: max(0, 1 - y*f)\\nPiecewise((a, x > 0), (b, True))"
    >>> [(ln.name, ln.text) for ln in read_loss_lines(text)]
    [('hinge', 'max(0, 1 - y*f)'), (None, 'Piecewise((a, x > 0), (b, True))')]
    >>> read_loss_lines("my loss: abs(u)")[0].error
    "bad name prefix 'my loss': a name must be an identifier such as my_loss"
    >>> read_loss_lines("ok: u**2\\nbad: u\\x00 + 1")[1].error
    'NUL byte at column 7'
    >>> read_loss_lines("u  # diffcheck: ignore")[0].error
    "'# diffcheck: ignore' needs the codes to ignore, e.g. '# diffcheck: ignore[DC101]'"
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    loss_lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        loss_line = _read_line(raw.removesuffix("\r"), number, source)
        if loss_line is not None:
            loss_lines.append(loss_line)
    return loss_lines


def decode_loss_bytes(data: bytes) -> str:
    """Decode a loss file without failing: bytes that are not UTF-8 become lone surrogates.

    :func:`read_loss_lines` then reports exactly the lines that hold them.

    >>> read_loss_lines(decode_loss_bytes(b"a: u**2\\nb: caf\\xe9"))[1].error
    'invalid UTF-8 at column 7'
    """
    return data.decode("utf-8", errors="surrogateescape")


def _read_line(raw: str, number: int, source: str | None) -> LossLine | None:
    """One physical line -> a LossLine, or None for a blank or comment-only line."""
    if not raw.strip():
        return None

    def failure(message: str, column: int, name: str | None = None) -> LossLine:
        return LossLine(source, number, name, _preview(raw), column, error=message)

    if len(raw) > MAX_LINE_LENGTH:
        message = f"line is too long ({len(raw):,} characters; at most {MAX_LINE_LENGTH:,})"
        return failure(message, 1)
    comment_start, label_colon = _scan(raw)
    code = raw[:comment_start]
    name, expression_start = _label(code, label_colon)
    bad_character = _bad_character(raw)
    if bad_character is not None:
        return failure(*bad_character, name)
    if not code.strip():
        return None
    if expression_start is None:
        label = code[:label_colon].strip()
        return failure(_bad_label_message(label), _first_non_space(code) + 1)
    ignored_codes, directive_error = _ignored_codes(raw[comment_start:])
    if directive_error is not None:
        return failure(directive_error, comment_start + 1, name)
    expression = code[expression_start:]
    if not expression.strip():
        return failure(f"no expression after the name '{name}:'", expression_start + 1, name)
    column = expression_start + _first_non_space(expression) + 1
    return LossLine(source, number, name, expression.strip(), column, ignored_codes)


def _bad_character(raw: str) -> tuple[str, int] | None:
    """The message and column of the first NUL or non-UTF-8 character, if any."""
    for index, char in enumerate(raw):
        if char == "\x00":
            return f"NUL byte at column {index + 1}", index + 1
        if "\ud800" <= char <= "\udfff" or char == "\ufffd":
            return f"invalid UTF-8 at column {index + 1}", index + 1
    return None


def _label(code: str, label_colon: int | None) -> tuple[str | None, int | None]:
    """The name before ``label_colon`` and where the expression starts.

    The start is ``None`` for a bad label: a top-level colon is never valid in an expression,
    so the author meant a label. A lambda is left to the parser, which says that lambdas are
    not supported.
    """
    if label_colon is None:
        return None, 0
    label = code[:label_colon].strip()
    if label.isidentifier() and not keyword.iskeyword(label):
        return label, label_colon + 1
    if _LAMBDA.search(code[:label_colon]):
        return None, 0
    return None, None


def _scan(code: str) -> tuple[int, int | None]:
    """Where the comment starts (``len(code)`` if none) and the first label-like colon.

    Quotes are tracked only so that a ``#`` inside a (rejected) string literal does not cut
    the line short: the parser then reports the string itself.
    """
    depth = 0
    quote = None
    label_colon = None
    index = 0
    while index < len(code):
        char = code[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return index, label_colon
        elif char in _BRACKET_DEPTH:
            depth = max(0, depth + _BRACKET_DEPTH[char])
        elif char == ":" and depth == 0 and label_colon is None:
            following = code[index + 1 : index + 2]
            if following == ":":
                index += 1  # '::' is never a label; skip both colons
            elif following != "=":
                label_colon = index
        index += 1
    return len(code), label_colon


def _ignored_codes(comment: str) -> tuple[frozenset[str], str | None]:
    """The codes of a ``# diffcheck: ignore[DC101,DC102]`` directive, or an error message."""
    directive = _IGNORE_DIRECTIVE.search(comment)
    if directive is None:
        return frozenset(), None
    listed = directive.group("codes")
    codes = [code.strip().upper() for code in (listed or "").split(",") if code.strip()]
    if not codes:
        return frozenset(), (
            "'# diffcheck: ignore' needs the codes to ignore, e.g. '# diffcheck: ignore[DC101]'"
        )
    unknown = [code for code in codes if code not in RULES]
    if unknown:
        return frozenset(), f"unknown code {unknown[0]!r} in '# diffcheck: ignore[...]'"
    return frozenset(codes), None


def _bad_label_message(label: str) -> str:
    if not label:
        return "empty name before ':'"
    if keyword.iskeyword(label):
        return f"bad name prefix '{label}': a Python keyword cannot be a name"
    suggestion = re.sub(r"\W+", "_", label).strip("_")
    if suggestion and suggestion[0].isdigit():
        suggestion = "loss_" + suggestion
    hint = f" such as {suggestion}" if suggestion.isidentifier() else ""
    return f"bad name prefix '{label}': a name must be an identifier{hint}"


def _first_non_space(text: str) -> int:
    return len(text) - len(text.lstrip())


def _preview(raw: str) -> str:
    """A short, printable (encodable) stand-in for a line that cannot be analysed."""
    overlong = len(raw) > MAX_LINE_LENGTH
    shown = "".join(
        "\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char
        for char in (raw[:_PREVIEW_LENGTH] if overlong else raw)
    ).strip()
    return shown + "..." if overlong else shown
