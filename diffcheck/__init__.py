"""diffcheck: is a loss differentiable, where not, why, and what smooth loss to use instead."""

__version__ = "0.1.0"
#: the project's home page (SARIF informationUri, README)
HOMEPAGE = "https://github.com/diffcheck/diffcheck"

from diffcheck.api import Report, check, check_file  # noqa: E402

__all__ = ["Report", "__version__", "check", "check_file"]
