"""Degenerate sets and exponents, read from tests/data/degenerate_sets.toml.

Each row states the exact smoothness class, the kinds (and codes) of the non-smooth findings,
and points on and off their sets; the file says why each answer is right.
"""

from __future__ import annotations

import pytest
from cases import DATA, NON_SMOOTH, covers, load_toml

from diffcheck import check

CASES = load_toml(DATA / "degenerate_sets.toml")["case"]


@pytest.mark.parametrize("case", CASES, ids=[case["expr"] for case in CASES])
def test_degenerate_case(case):
    report = check(case["expr"], wrt=case.get("wrt"))
    assert report.error is None, report.error
    assert report.smoothness == case["smoothness"]
    assert report.differentiable is (case["smoothness"] not in ("C0", "discontinuous"))
    bad = [f for f in report.findings if f.kind in NON_SMOOTH]
    assert {f.kind for f in bad} == set(case.get("kinds", []))
    if "codes" in case:
        assert {f.code for f in bad} == set(case["codes"])
    for point in case.get("on", []):
        assert any(covers(f.where, point) for f in bad), (point, [f.where for f in bad])
    for point in case.get("off", []):
        assert not any(covers(f.where, point) for f in bad), (point, [f.where for f in bad])
