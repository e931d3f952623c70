"""``--format sarif``: a SARIF 2.1.0 log for code-scanning tools (GitHub code scanning).

One run whose ``tool.driver.rules`` lists every finding code of :data:`diffcheck.rules.RULES`
(so a result's ``ruleIndex`` is stable from one log to the next) and whose ``results`` hold
one entry per finding and one per expression that could not be analysed. A location is
the loss file as given (``result["source"]``), the line, and the cause's column (1 when
unknown); expressions given on the command line have no file and so no location.

>>> log = sarif_log([], version="0.1.0")
>>> log["version"], log["runs"][0]["tool"]["driver"]["rules"][0]["id"], log["runs"][0]["results"]
('2.1.0', 'DC001', [])
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from diffcheck.report import Annotation, line_annotations
from diffcheck.rules import RULES, Rule

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

_RULE_INDEX = {code: index for index, code in enumerate(RULES)}


def _rule_name(rule: Rule) -> str:
    """SARIF wants a rule name that reads like an identifier: the title in PascalCase.

    >>> _rule_name(RULES["DC102"])
    'KinkOfMaxMinReluOrClip'
    """
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", rule.title))


def _reporting_descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": _rule_name(rule),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.what},
        "help": {"text": rule.explain()},
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"tags": [rule.kind]},
    }


def _uri(path: str) -> str:
    """A file path as a URI reference: unchanged unless it holds spaces or other unsafe text.

    >>> _uri("losses/train.txt"), _uri("my losses.txt")
    ('losses/train.txt', 'my%20losses.txt')
    """
    return quote(path.replace("\\", "/"), safe="/:@!$&'()*+,;=-._~")


def _sarif_result(annotation: Annotation) -> dict[str, Any]:
    result, code = annotation.result, annotation.code
    entry: dict[str, Any] = {"ruleId": code}
    if code in _RULE_INDEX:
        entry["ruleIndex"] = _RULE_INDEX[code]
    entry["level"] = annotation.severity
    entry["message"] = {"text": annotation.message}
    if result.get("source"):
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": _uri(annotation.path or result["source"])}}
        if annotation.line is not None:
            column = annotation.column or 1
            physical["region"] = {"startLine": annotation.line, "startColumn": column}
            if annotation.end_column is not None and annotation.end_column > column:
                physical["region"]["endColumn"] = annotation.end_column
        entry["locations"] = [{"physicalLocation": physical}]
    return entry


def sarif_log(
    results: list[dict[str, Any]], version: str, information_uri: str | None = None
) -> dict[str, Any]:
    """The SARIF log as a dict; :func:`render` writes it."""
    driver: dict[str, Any] = {"name": "diffcheck", "version": version}
    if information_uri:
        driver["informationUri"] = information_uri
    driver["rules"] = [_reporting_descriptor(rule) for rule in RULES.values()]
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                # columns count characters of the input line, as Python's str does
                "columnKind": "unicodeCodePoints",
                "results": [_sarif_result(item) for item in line_annotations(results)],
            }
        ],
    }


def render(
    results: list[dict[str, Any]],
    version: str,
    information_uri: str | None = None,
    **options: Any,
) -> str:
    """The SARIF log as indented JSON, ending in a newline.

    ``version`` is diffcheck's version; ``information_uri`` the project's home page, left
    out when not given. Options meant for other formats are ignored.
    """
    log = sarif_log(results, version, information_uri)
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
