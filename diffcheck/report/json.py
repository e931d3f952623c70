"""``--format json``: the JSON report of CONTRACT.md section 5, for programs.

The results are written as they are, in their own key order, so the same results always
give the same bytes. JSON has no infinity or NaN; a one-sided slope of ``inf`` (an
infinite slope seen by the probe) is written as the string ``"inf"`` (and ``"-inf"``,
``"nan"``), which ``float()`` reads back, so strict parsers (``jq``, JavaScript) accept
the report.

>>> print(render([{"name": "l1", "differentiable": True}], version="0.1.0"))
{
  "diffcheck": "0.1.0",
  "results": [
    {
      "name": "l1",
      "differentiable": true
    }
  ]
}
<BLANKLINE>
>>> render([{"probe": {"left": 1.0, "right": float("inf")}}], version="0").count('"inf"')
1
"""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def render(results: list[dict[str, Any]], version: str, **options: Any) -> str:
    """The report ``{"diffcheck": version, "results": results}``, indented, ending in a newline.

    Options meant for other formats (``color``, ``width``, ...) are ignored.
    """
    report = {"diffcheck": version, "results": _finite(results)}
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
