"""Reading loss files: labels, comments, suppressions, and lines that cannot be used."""

from __future__ import annotations

import pytest

from diffcheck.lossfile import MAX_LINE_LENGTH, LossLine, decode_loss_bytes, read_loss_lines


def only(text: str) -> LossLine:
    (loss_line,) = read_loss_lines(text, source="losses.txt")
    return loss_line


@pytest.mark.parametrize(
    ("line", "name", "expression", "column"),
    [
        ("abs(y - f)", None, "abs(y - f)", 1),
        ("mae: abs(y - f)", "mae", "abs(y - f)", 6),
        ("  mae :   abs(y - f)  ", "mae", "abs(y - f)", 11),
        ("mae:abs(y - f)", "mae", "abs(y - f)", 5),
        ("_l2: u**2", "_l2", "u**2", 6),
        ("λ: u**2", "λ", "u**2", 4),
        ("where(a, b, c)", None, "where(a, b, c)", 1),
        ("Piecewise((a, x > 0), (b, True))", None, "Piecewise((a, x > 0), (b, True))", 1),
        ("pw: Piecewise((a, x > 0), (b, True))", "pw", "Piecewise((a, x > 0), (b, True))", 5),
        # colons inside brackets never start a label; the parser judges them
        ("f({a: b})", None, "f({a: b})", 1),
        ("u[1:2]", None, "u[1:2]", 1),
        # '::' and ':=' are not labels either
        ("std::abs(u)", None, "std::abs(u)", 1),
        ("n := u**2", None, "n := u**2", 1),
        # a lambda is left to the parser, which says lambdas are not supported
        ("lambda u: u**2", None, "lambda u: u**2", 1),
        ("l: lambda u: u", "l", "lambda u: u", 4),
        # only the first top-level colon is a label; the rest is the parser's to reject
        ("a: b: c", "a", "b: c", 4),
    ],
)
def test_expression_name_and_column(line, name, expression, column):
    loss_line = only(line)
    assert (loss_line.name, loss_line.text, loss_line.column, loss_line.error) == (
        name, expression, column, None,
    )


def test_line_numbers_count_every_physical_line():
    text = "# header\n\nmse: (y - f)**2\r\n   # indented comment\nabs(u)  # trailing\n"
    lines = read_loss_lines(text, source="losses.txt")
    assert [(ln.line, ln.name, ln.text) for ln in lines] == [
        (3, "mse", "(y - f)**2"),
        (5, None, "abs(u)"),
    ]
    assert all(ln.source == "losses.txt" for ln in lines)


def test_byte_order_mark_is_not_part_of_the_first_line():
    assert only("\ufeffmse: u**2").name == "mse"
    assert only("\ufeffmse: u**2").column == 6


def test_nothing_to_read():
    assert read_loss_lines("", None) == []
    assert read_loss_lines("\n  \n# only comments\n\t\n", None) == []


def test_hash_inside_quotes_does_not_start_a_comment():
    # The parser then rejects the string itself, with its column.
    assert only("f('#', u)").text == "f('#', u)"


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("# diffcheck: ignore[DC101]", {"DC101"}),
        ("# diffcheck: ignore[DC101,DC102]", {"DC101", "DC102"}),
        ("#diffcheck:ignore[ dc101 , DC302 ]", {"DC101", "DC302"}),
        ("# Huber on purpose; diffcheck: ignore[DC103]", {"DC103"}),
        ("# just a comment", set()),
    ],
)
def test_ignore_directive(comment, codes):
    loss_line = only(f"l1: abs(u)  {comment}")
    assert loss_line.error is None
    assert loss_line.ignored_codes == frozenset(codes)
    assert loss_line.text == "abs(u)"


def test_ignore_directive_on_a_comment_line_applies_to_nothing():
    assert read_loss_lines("# diffcheck: ignore[DC101]\nabs(u)")[0].ignored_codes == frozenset()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("abs(u)  # diffcheck: ignore", "needs the codes to ignore"),
        ("abs(u)  # diffcheck: ignore[]", "needs the codes to ignore"),
        ("abs(u)  # diffcheck: ignore[DC999]", "unknown code 'DC999'"),
    ],
)
def test_bad_ignore_directive_is_an_error_line(line, message):
    loss_line = only(line)
    assert message in loss_line.error
    assert loss_line.column == line.index("#") + 1


@pytest.mark.parametrize(
    ("line", "message", "column"),
    [
        ("my loss: abs(u)", "'my loss': a name must be an identifier such as my_loss", 1),
        ("  l-1: abs(u)", "bad name prefix 'l-1'", 3),
        ("1st: abs(u)", "such as loss_1st", 1),
        ("class: u**2", "a Python keyword cannot be a name", 1),
        (": u**2", "empty name", 1),
        ("mse:", "no expression after the name 'mse:'", 5),
        ("mse:   # nothing", "no expression after the name 'mse:'", 5),
    ],
)
def test_bad_name_prefix_is_an_error_line(line, message, column):
    loss_line = only(line)
    assert message in loss_line.error
    assert loss_line.column == column
    assert "\n" not in loss_line.error


def test_unusable_lines_become_error_lines_and_the_rest_is_read():
    long_line = "u + " * (MAX_LINE_LENGTH // 4) + "u"
    text = "\n".join(["a: u**2", "b: u\x00", long_line, "c: caf\udce9", "d: \ufffd", "e: abs(u)"])
    lines = read_loss_lines(text, source="f.loss")
    assert [ln.line for ln in lines] == [1, 2, 3, 4, 5, 6]
    errors = [ln.error for ln in lines]
    assert errors[0] is None and errors[5] is None
    assert errors[1] == "NUL byte at column 5"
    assert errors[2] == f"line is too long ({len(long_line):,} characters; at most 10,000)"
    assert errors[3] == "invalid UTF-8 at column 7"
    assert errors[4] == "invalid UTF-8 at column 4"
    # the text of an error line stays printable and short
    assert "\x00" not in lines[1].text and len(lines[2].text) < 100
    lines[3].text.encode("utf-8")


def test_line_of_exactly_the_maximum_length_is_read():
    line = "u" * MAX_LINE_LENGTH
    assert only(line).error is None


def test_decode_loss_bytes_never_fails():
    text = decode_loss_bytes(b"ok: u**2\nbad: \xff\xfe\n")
    assert [ln.error for ln in read_loss_lines(text)] == [None, "invalid UTF-8 at column 6"]


def test_loss_line_is_frozen():
    with pytest.raises(AttributeError):
        only("u").text = "v"  # type: ignore[misc]


def test_error_lines_keep_their_name_when_it_can_be_read():
    lines = read_loss_lines("a: u\x00\nb: u  # diffcheck: ignore[DC0]\nc d: u\x00")
    assert [ln.name for ln in lines] == ["a", "b", None]
    assert all(ln.error is not None for ln in lines)
