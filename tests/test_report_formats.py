"""The report formatters, on hand-written results in the shape of ``Report.to_dict()``."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from diffcheck.report import FORMATTERS, exit_status, github, sarif, text
from diffcheck.report import json as json_report
from diffcheck.rules import ERROR_CODES, RULES

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text("utf-8"))
VERSION = "0.1.0"


def result(**fields):
    """A result as ``Report.to_dict()`` writes it; ``fields`` override the defaults."""
    base = {
        "name": None,
        "source": "losses.txt",
        "line": 1,
        "input": "(y - f)**2",
        "expression": "(f - y)**2",
        "wrt": ["f", "y"],
        "differentiable": True,
        "smoothness": "Cinf",
        "assumptions": [],
        "gradient": {"f": "2*f - 2*y", "y": "-2*f + 2*y"},
        "findings": [],
        "surrogate": None,
        "error": None,
    }
    base.update(fields)
    return base


def finding(code, **fields):
    rule = RULES[code]
    base = {
        "code": code,
        "kind": rule.kind,
        "severity": rule.severity,
        "message": f"finding {code}",
        "cause": "u",
        "where": "u = 0",
        "confirmed": True,
        "probe": None,
        "surrogates": [],
        "autodiff": None,
        "column": 1,
    }
    base.update(fields)
    return base


PSEUDO_HUBER = {
    "name": "pseudo-Huber",
    "replace": "Abs(f - y)",
    "with": "sqrt((f - y)**2 + delta**2) - delta",
    "params": {"delta": 0.01},
    "max_error": 0.01,
}

L1 = result(
    name="l1",
    line=3,
    input="abs(y - f)",
    expression="Abs(f - y)",
    differentiable=False,
    smoothness="C0",
    gradient={"f": "sign(f - y)", "y": "-sign(f - y)"},
    findings=[
        finding(
            "DC101",
            message="abs(y - f) has a kink where f - y = 0",
            cause="Abs(f - y)",
            where="f - y = 0",
            probe={"point": {"f": 1.0, "y": 1.0}, "direction": {"f": 1.0},
                   "left": -1.0, "right": 1.0},
            autodiff="slopes -1 | +1; torch and jax return 0 at the kink",
            surrogates=[PSEUDO_HUBER],
            column=1,
        )
    ],
    surrogate={"expression": "sqrt((f - y)**2 + delta**2) - delta", "params": {"delta": 0.01},
               "max_error": 0.01},
)

LOG_LOSS = result(
    name="nll",
    line=5,
    input="-log(p)",
    expression="-log(p)",
    wrt=["p"],
    gradient={"p": "-1/p"},
    findings=[
        finding("DC302", message="-log(p) has a pole where p = 0", where="p = 0", column=2),
        finding("DC303", message="-log(p) is defined only where p > 0", where=None, column=None),
    ],
)

HINGE_AND_FLOOR = result(
    name="mixed",
    line=7,
    input="max(0, 1 - y*f) + floor(f)",
    differentiable=False,
    smoothness="discontinuous",
    findings=[
        finding("DC102", message="max(0, 1 - y*f) has a kink where f*y = 1", column=1),
        finding("DC202", message="floor(f) jumps where f = 1", column=19),
        finding("DC401", message="floor(f) has a zero gradient in f", column=19),
    ],
    surrogate={"expression": None, "params": {}, "max_error": None,
               "message": "no bounded smooth surrogate for floor"},
)

PARSE_ERROR = result(
    name="typo",
    line=9,
    input="1 + sigmod(y*f)",
    expression=None,
    wrt=[],
    differentiable=None,
    smoothness=None,
    gradient={},
    error={"kind": "parse", "column": 5,
           "message": "unknown function 'sigmod': did you mean sigmoid?"},
)

TIMEOUT = result(
    line=11,
    input="2**2**2**2**2**2",
    expression=None,
    differentiable=None,
    smoothness=None,
    gradient={},
    error={"kind": "timeout", "message": "analysis ran past the time limit", "column": None},
)

MODEL = result(
    source=None,
    line=None,
    input="Loss(t, G(w))",
    assumptions=[
        "Loss is a model function, assumed differentiable (C-infinity) in its arguments",
        "G is a model function, assumed differentiable (C-infinity) in its arguments",
    ],
    gradient={"t": "Derivative(Loss(t, G(w)), t)"},
)

STDIN_KINK = result(
    source=None,
    line=None,
    input="relu(u)",
    differentiable=False,
    smoothness="C0",
    findings=[finding("DC102", message="relu(u) has a kink where u = 0", column=None)],
)

ALL = [L1, LOG_LOSS, HINGE_AND_FLOOR, PARSE_ERROR, TIMEOUT, MODEL, STDIN_KINK]


# --- registry ------------------------------------------------------------------------

def test_formatters_cover_every_format_and_accept_one_set_of_options():
    assert set(FORMATTERS) == {"text", "json", "github", "sarif"}
    for render in FORMATTERS.values():
        output = render(ALL, version=VERSION, color=False, width=120, quiet=False)
        assert isinstance(output, str) and output.endswith("\n")


@pytest.mark.parametrize("fmt", sorted(FORMATTERS))
def test_deterministic_and_pure(fmt):
    results = copy.deepcopy(ALL)
    first = FORMATTERS[fmt](results, version=VERSION)
    assert results == ALL, "a formatter changed its input"
    assert FORMATTERS[fmt](copy.deepcopy(ALL), version=VERSION) == first


# --- exit status ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "results, fail_on, status",
    [
        ([], "error", 0),
        ([result()], "error", 0),
        ([MODEL], "error", 0),
        ([LOG_LOSS], "error", 0),
        ([LOG_LOSS], "warning", 1),
        ([LOG_LOSS], "never", 0),
        ([L1], "error", 1),
        ([L1], "warning", 1),
        ([L1], "never", 0),
        ([result(), L1], "error", 1),
        ([PARSE_ERROR], "error", 2),
        ([PARSE_ERROR], "never", 2),
        ([L1, TIMEOUT], "error", 2),
        ([LOG_LOSS, PARSE_ERROR], "warning", 2),
        # a finding suppressed with "# diffcheck: ignore" is gone from the findings
        ([result(differentiable=False, smoothness="C0")], "error", 0),
    ],
)
def test_exit_status(results, fail_on, status):
    assert exit_status(results, fail_on=fail_on) == status


def test_exit_status_rejects_an_unknown_threshold():
    with pytest.raises(ValueError, match="fail_on"):
        exit_status([], fail_on="errors")


# --- json ----------------------------------------------------------------------------

def test_json_is_the_contract_report():
    output = json_report.render(ALL, version=VERSION)
    report = json.loads(output)
    assert list(report) == ["diffcheck", "results"]
    assert report == {"diffcheck": VERSION, "results": ALL}
    assert list(report["results"][0]) == list(L1), "keys keep their order"
    assert output.startswith('{\n  "diffcheck": "0.1.0",\n  "results": [\n')


def test_json_writes_non_ascii_and_strict_numbers():
    slope = finding("DC301", probe={"point": {"u": 0.0}, "direction": {"u": 1.0},
                                    "left": None, "right": float("inf")})
    output = json_report.render([result(input="sqrt(u) + é", findings=[slope])], version=VERSION)
    assert "é" in output
    report = json.loads(output, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert report["results"][0]["findings"][0]["probe"]["right"] == "inf"


# --- github --------------------------------------------------------------------------

COMMAND = re.compile(r"^::(?P<level>error|warning) (?P<properties>[^:]*)::(?P<message>.*)$")


def commands(output):
    parsed = []
    for line in output.splitlines():
        match = COMMAND.match(line)
        assert match, f"not a workflow command: {line!r}"
        properties = dict(item.split("=", 1) for item in match["properties"].split(","))
        parsed.append((match["level"], properties, match["message"]))
    return parsed


@pytest.mark.parametrize(
    "raw, message, value",
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a\nb", "a%0Ab", "a%0Ab"),
        ("x: 1, y: 2", "x: 1, y: 2", "x%3A 1%2C y%3A 2"),
        ("%0A", "%250A", "%250A"),  # an escape sequence in the text stays text
        ("C:\\a,b.txt", "C:\\a,b.txt", "C%3A\\a%2Cb.txt"),
    ],
)
def test_github_escaping(raw, message, value):
    assert github.escape_message(raw) == message
    assert github.escape_property(raw) == value


def test_github_one_command_per_finding_and_error():
    output = github.render(ALL)
    expected = [
        ("error", {"file": "losses.txt", "line": "3", "col": "1", "title": "diffcheck (DC101)"}),
        ("warning", {"file": "losses.txt", "line": "5", "col": "2", "title": "diffcheck (DC302)"}),
        ("warning", {"file": "losses.txt", "line": "5", "title": "diffcheck (DC303)"}),
        ("error", {"file": "losses.txt", "line": "7", "col": "1", "title": "diffcheck (DC102)"}),
        ("error", {"file": "losses.txt", "line": "7", "col": "19", "title": "diffcheck (DC202)"}),
        ("error", {"file": "losses.txt", "line": "7", "col": "19", "title": "diffcheck (DC401)"}),
        ("error", {"file": "losses.txt", "line": "9", "col": "5", "title": "diffcheck (DC001)"}),
        ("error", {"file": "losses.txt", "line": "11", "title": "diffcheck (DC002)"}),
        ("error", {"title": "diffcheck (DC102)"}),
    ]
    assert [(level, properties) for level, properties, _ in commands(output)] == expected
    assert list(commands(output)[0][1]) == ["file", "line", "col", "title"]


def test_github_message_reads_well():
    [(_, _, message)] = commands(github.render([L1]))
    assert message == (
        "abs(y - f) has a kink where f - y = 0. Use instead: pseudo-Huber "
        "sqrt((f - y)**2 + delta**2) - delta with delta = 0.01 (max error 0.01)"
    )
    [(_, _, message)] = commands(github.render([PARSE_ERROR]))
    assert message == "unknown function 'sigmod': did you mean sigmoid?"
    # without a surrogate, the rule's own advice
    [(_, _, message)] = commands(github.render([STDIN_KINK]))
    assert message.endswith("Use instead: " + RULES["DC102"].instead)


def test_github_escapes_messages_and_paths():
    nasty = finding("DC101", message="100% wrong:\r\nsee a, b", column=3)
    source = "dir:one,two/loss%.txt"
    [line] = github.render([result(source=source, line=4, findings=[nasty])]).splitlines()
    assert line.startswith(
        "::error file=dir%3Aone%2Ctwo/loss%25.txt,line=4,col=3,title=diffcheck (DC101)::"
        "100%25 wrong:%0D%0Asee a, b. Use instead: "
    )
    [(_, properties, _)] = commands(line)
    assert properties["file"] == "dir%3Aone%2Ctwo/loss%25.txt"


def test_github_nothing_to_say():
    assert github.render([]) == ""
    assert github.render([result(), MODEL]) == ""


# --- sarif ---------------------------------------------------------------------------

SARIF_CASES = {
    "findings": [L1, HINGE_AND_FLOOR],
    "warnings": [LOG_LOSS],
    "errors": [PARSE_ERROR, TIMEOUT],
    "no location": [STDIN_KINK, MODEL],
    "zero results": [],
    "everything": ALL,
}


@pytest.mark.parametrize(
    "validator",
    [jsonschema.validators.validator_for(SCHEMA), jsonschema.Draft7Validator],
    ids=["declared-draft", "draft7"],
)
@pytest.mark.parametrize("case", list(SARIF_CASES))
def test_sarif_validates_against_the_official_schema(case, validator):
    log = json.loads(sarif.render(SARIF_CASES[case], version=VERSION))
    validator.check_schema(SCHEMA)
    checker = validator(SCHEMA, format_checker=validator.FORMAT_CHECKER)
    errors = sorted(checker.iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_vendored_schema_is_the_real_one():
    assert SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]
    assert len(SCHEMA["definitions"]) > 40


def test_sarif_driver_and_rules_come_from_the_registry():
    log = json.loads(sarif.render([], version=VERSION, information_uri="https://example.org/diffcheck"))
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("diffcheck", VERSION)
    assert driver["informationUri"] == "https://example.org/diffcheck"
    assert [rule["id"] for rule in driver["rules"]] == list(RULES)
    for descriptor, rule in zip(driver["rules"], RULES.values(), strict=True):
        assert descriptor["shortDescription"]["text"] == rule.title
        assert descriptor["fullDescription"]["text"] == rule.what
        for part in (rule.what, rule.why, rule.example, rule.instead):
            assert part in descriptor["help"]["text"]
        assert descriptor["defaultConfiguration"]["level"] == rule.severity
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", descriptor["name"])
    driver = json.loads(sarif.render([], version=VERSION))["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver


def test_sarif_results_locations_and_levels():
    run = json.loads(sarif.render(ALL, version=VERSION))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    summary = []
    for entry in run["results"]:
        assert rules[entry["ruleIndex"]]["id"] == entry["ruleId"]
        location = None
        if "locations" in entry:
            physical = entry["locations"][0]["physicalLocation"]
            location = (physical["artifactLocation"]["uri"], physical["region"]["startLine"],
                        physical["region"]["startColumn"])
        summary.append((entry["ruleId"], entry["level"], location))
    assert summary == [
        ("DC101", "error", ("losses.txt", 3, 1)),
        ("DC302", "warning", ("losses.txt", 5, 2)),
        ("DC303", "warning", ("losses.txt", 5, 1)),  # column unknown: 1
        ("DC102", "error", ("losses.txt", 7, 1)),
        ("DC202", "error", ("losses.txt", 7, 19)),
        ("DC401", "error", ("losses.txt", 7, 19)),
        ("DC001", "error", ("losses.txt", 9, 5)),
        (ERROR_CODES["timeout"], "error", ("losses.txt", 11, 1)),
        ("DC102", "error", None),  # an expression from the command line has no file
    ]
    assert run["results"][0]["message"]["text"].startswith(
        "abs(y - f) has a kink where f - y = 0. Use instead: "
    )
    assert run["results"][6]["message"]["text"] == PARSE_ERROR["error"]["message"]


def test_sarif_uri_is_the_path_as_given():
    for source, uri in [
        ("losses.txt", "losses.txt"),
        ("ci/losses/train.txt", "ci/losses/train.txt"),
        ("my losses.txt", "my%20losses.txt"),
    ]:
        item = result(source=source, findings=[finding("DC101")])
        log = json.loads(sarif.render([item], version=VERSION))
        physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == uri


# --- text ----------------------------------------------------------------------------

def render_text(results, **options):
    return text.render(results, width=options.pop("width", 200), **options)


@pytest.mark.parametrize(
    "item, verdict",
    [
        (result(), "differentiable (Cinf)"),
        (result(smoothness="C1"), "differentiable (C1)"),
        (L1, "NOT differentiable (C0)"),
        (HINGE_AND_FLOOR, "NOT differentiable (discontinuous)"),
        (PARSE_ERROR, "error DC001: unknown function 'sigmod': did you mean sigmoid?"),
        (TIMEOUT, f"error {ERROR_CODES['timeout']}: analysis ran past the time limit"),
        (result(differentiable=None, smoothness=None), "differentiability unknown"),
    ],
)
def test_text_verdict_line(item, verdict):
    first = render_text([item]).splitlines()[0]
    assert first.endswith(verdict)
    assert item["input"] in first


def test_text_verdict_names_the_place():
    first = render_text([L1]).splitlines()[0]
    assert first == "losses.txt:3 l1: abs(y - f)  NOT differentiable (C0)"
    assert render_text([MODEL]).splitlines()[0] == "Loss(t, G(w))  differentiable (Cinf)"


@pytest.mark.parametrize("column", [1, 5, 15, 16])
def test_text_caret_under_the_parse_error_column(column):
    item = dict(PARSE_ERROR, error=dict(PARSE_ERROR["error"], column=column))
    lines = render_text([item]).splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    echoed = lines[caret - 1]
    indent = len(echoed) - len(echoed.lstrip())
    assert echoed[indent:] == item["input"]
    assert lines[caret].index("^") - indent == column - 1


def test_text_no_caret_without_a_column():
    assert "^" not in render_text([TIMEOUT])


def test_text_findings_table_and_surrogate():
    output = render_text([L1])
    for shown in [
        "DC101",
        "kink",
        "f - y = 0",
        "Abs(f - y)",
        "torch and jax return 0 at the kink",
        "pseudo-Huber sqrt((f - y)**2 + delta**2) - delta with delta = 0.01 (max error 0.01)",
        "smooth surrogate: sqrt((f - y)**2 + delta**2) - delta with delta = 0.01  (max error 0.01)",
    ]:
        assert shown in output


def test_text_slopes_from_the_probe_when_no_autodiff_note():
    item = copy.deepcopy(L1)
    item["findings"][0]["autodiff"] = None
    assert "slopes -1 | 1" in render_text([item])


def test_text_surrogate_without_bound_shows_its_message():
    output = render_text([HINGE_AND_FLOOR])
    assert "no smooth surrogate: no bounded smooth surrogate for floor" in output
    unbounded = dict(HINGE_AND_FLOOR, surrogate={"expression": "softplus(1 - y*f)", "params": {},
                                                  "max_error": None, "message": "bound unknown"})
    assert "smooth surrogate: softplus(1 - y*f)  (bound unknown)" in render_text([unbounded])


def test_text_lines_have_no_trailing_padding():
    assert not [line for line in text.render(ALL).splitlines() if line.endswith(" ")]


def test_text_warnings_assumptions_and_rule_advice():
    output = render_text([LOG_LOSS, MODEL])
    assert "DC302" in output and "DC303" in output
    assert RULES["DC303"].instead in output  # no surrogate: the rule says what to use instead
    for assumption in MODEL["assumptions"]:
        assert f"  assumption: {assumption}\n" in output


def test_text_warnings_are_yellow_and_verdicts_coloured():
    output = render_text([L1, LOG_LOSS, result()], color=True)
    assert "\x1b[" in output
    yellow, green, red = "\x1b[33m", "\x1b[1;32m", "\x1b[1;31m"
    assert yellow + "DC302" in output
    assert green + "differentiable (Cinf)" in output
    assert red + "NOT differentiable (C0)" in output
    assert "\x1b[" not in render_text([L1, LOG_LOSS, result()], color=False)


def test_text_input_is_never_read_as_markup():
    item = result(input="[bold]x[/bold] + y[0]")
    assert render_text([item]).splitlines()[0].startswith("losses.txt:1 [bold]x[/bold] + y[0]  ")


def test_text_quiet_is_one_verdict_line_per_result():
    long_input = " + ".join(f"abs(x{i})" for i in range(40))
    results = [*ALL, dict(L1, input=long_input)]
    lines = text.render(results, quiet=True, width=40).splitlines()
    assert len(lines) == len(results)
    assert lines[0] == "losses.txt:3 l1: abs(y - f)  NOT differentiable (C0)"
    assert lines[3].endswith("error DC001: unknown function 'sigmod': did you mean sigmoid?")
    assert "DC101" not in "\n".join(lines)


def test_text_width_is_fixed_when_not_given(monkeypatch):
    monkeypatch.setenv("COLUMNS", "33")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert text.render(ALL) == text.render(ALL, width=text.DEFAULT_WIDTH)
    assert "\x1b[" not in text.render(ALL)


def test_text_nothing_to_say():
    assert text.render([]) == ""
