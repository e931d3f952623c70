"""Test-wide settings.

Under CI (``CI`` set, as the CI runner does) hypothesis is derandomized: a pipeline must not
fail on one unlucky draw; exploring new random examples is for developers' runs.
"""

import os

import pytest
from hypothesis import settings
from sympy.functions.elementary.miscellaneous import MinMaxBase

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def symbolic_switches(monkeypatch) -> list:
    """The arguments of every max or min SymPy evaluates with a variable still in them: the
    rebuilds of a deep network that the set and compile code must not do."""
    seen: list = []
    original = MinMaxBase._find_localzeros.__func__

    def recording(cls, values, **options):
        if any(v.free_symbols for v in values):
            seen.append(values)
        return original(cls, values, **options)

    monkeypatch.setattr(MinMaxBase, "_find_localzeros", classmethod(recording))
    return seen
