"""One fixture file per finding code (tests/fixtures/codes/DCxxx.toml), as sqlfluff's rule
tests: ``fail`` cases must give exactly the listed findings of that code (kind, where set,
message when given) and ``pass`` cases none; both with their options (``wrt``, ``set``) and,
where given, the exact smoothness class."""

from __future__ import annotations

import pytest
from cases import FIXTURES, load_toml

from diffcheck import check
from diffcheck.api import check_source
from diffcheck.rules import ERROR_CODES, RULES

#: codes of the analysis of expressions (autodiff and other stages bring their own)
ANALYSIS_KINDS = {"input", "kink", "jump", "infinite-slope", "pole", "domain", "zero-gradient"}
FILES = sorted((FIXTURES / "codes").glob("*.toml"))


def _cases():
    for path in FILES:
        data = load_toml(path)
        assert data["code"] == path.stem, path
        for outcome in ("fail", "pass"):
            for index, case in enumerate(data.get(outcome, [])):
                label = case.get("expr") or case.get("target")
                yield pytest.param(path.stem, outcome, case,
                                   id=f"{path.stem}-{outcome}-{index}-{label}")


def test_every_analysis_code_has_a_fixture_file():
    codes = {code for code, rule in RULES.items() if rule.kind in ANALYSIS_KINDS}
    assert {path.stem for path in FILES} == codes


def _checked(case, folder):
    """An expression case through check(), a source case (a module and a target) from a file."""
    if "source" not in case:
        return check(case["expr"], wrt=case.get("wrt"), values=case.get("set"))
    path = folder / "case.py"
    path.write_text(case["source"].lstrip("\n"))
    (report,) = check_source(path, case.get("wrt"), selector=case["target"],
                             values=case.get("set"))
    return report


@pytest.mark.parametrize("code, outcome, case", list(_cases()))
def test_code_fixture(code, outcome, case, tmp_path):
    report = _checked(case, tmp_path)
    if "error" in case:
        assert report.error is not None, case["expr"]
        expected = case["error"]
        assert ERROR_CODES[report.error.kind] == code
        assert (report.error.kind, report.error.column, report.error.message) == (
            expected["kind"], expected["column"], expected["message"])
        return
    assert report.error is None, report.error
    if "smoothness" in case:
        assert report.smoothness == case["smoothness"]
    found = sorted((f for f in report.findings if f.code == code),
                   key=lambda f: (f.kind, f.where or "", f.line or 0))
    if outcome == "pass":
        assert not found, [(f.code, f.where) for f in found]
        return
    expected = sorted(case["findings"], key=lambda f: (f["kind"], f.get("where") or "",
                                                       f.get("line") or 0))
    assert [(f.kind, f.where) for f in found] == [(e["kind"], e.get("where")) for e in expected]
    for finding, wanted in zip(found, expected):
        if "message" in wanted:
            assert finding.message == wanted["message"]
        for field in ("cut", "line"):
            if field in wanted:
                assert getattr(finding, field) == wanted[field], (field, finding)
