"""Losses as people write them (IoU, GIoU, DIoU, focal, dice, hinge, pinball, Wing, sorted
errors...), read from tests/data/real_losses.toml with hand-derived sets."""

from __future__ import annotations

import pytest
from cases import DATA, NON_SMOOTH, covers, load_toml

from diffcheck import check

CASES = load_toml(DATA / "real_losses.toml")["case"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_real_loss(case):
    report = check(case["expr"], wrt=case.get("wrt"))
    assert report.error is None, report.error
    assert report.smoothness == case["smoothness"]
    bad = [f for f in report.findings if f.kind in NON_SMOOTH]
    assert {f.kind for f in bad} == set(case.get("kinds", []))
    for point in case.get("on", []):
        assert any(covers(f.where, point) for f in bad), (point, [f.where for f in bad])
    for point in case.get("off", []):
        assert not any(covers(f.where, point) for f in bad), (point, [f.where for f in bad])
