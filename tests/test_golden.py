"""Golden outputs: tests/golden/losses.txt through the command line, in every format,
compared with the committed outputs next to it (as ruff's snapshot tests). Carets, columns,
labels and escaping are all in them.

To accept a deliberate change of the output: ``DIFFCHECK_UPDATE_GOLDEN=1 python -m pytest
tests/test_golden.py``, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diffcheck.cli import app

GOLDEN = Path(__file__).parent / "golden"
SAMPLE = "tests/golden/losses.txt"  # relative, as users pass it: it is printed
OUTPUTS = {"text": "losses.text.txt", "json": "losses.json", "github": "losses.github.txt",
           "sarif": "losses.sarif.json"}


@pytest.mark.parametrize("fmt", sorted(OUTPUTS))
def test_golden_output(fmt, monkeypatch):
    monkeypatch.chdir(GOLDEN.parent.parent)
    result = CliRunner().invoke(app, ["--format", fmt, "--no-color", "--jobs", "1",
                                      "--file", SAMPLE])
    assert result.exit_code == 2, result.output  # the sample holds lines that cannot be read
    expected = GOLDEN / OUTPUTS[fmt]
    if os.environ.get("DIFFCHECK_UPDATE_GOLDEN"):
        expected.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == expected.read_text(encoding="utf-8")
