"""Test-wide settings.

Under CI (``CI`` set, as the CI runner does) hypothesis is derandomized: a pipeline must not
fail on one unlucky draw; exploring new random examples is for developers' runs.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
