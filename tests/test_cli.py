"""The command line as users and CI pipelines drive it: exit codes, formats, batches."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from diffcheck.cli import app
from diffcheck.rules import RULES

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def json_results(*args, input=None):
    result = invoke("--format", "json", *args, input=input)
    return result, json.loads(result.stdout)["results"]


def test_kink_exit_status_1_and_json_shape():
    result, (entry,) = json_results("abs(y - f)")
    assert result.exit_code == 1
    assert set(entry) >= {
        "name", "source", "line", "input", "expression", "wrt", "differentiable", "smoothness",
        "assumptions", "gradient", "findings", "surrogate", "error",
    }
    assert entry["differentiable"] is False
    assert entry["wrt"] == ["f", "y"]
    (finding,) = entry["findings"]
    assert finding["code"] == "DC101"
    assert finding["kind"] == "kink" and finding["severity"] == "error"
    assert finding["where"] == "f - y = 0"
    assert finding["confirmed"] is True
    assert finding["surrogates"]
    assert entry["surrogate"]["max_error"] is not None


def test_smooth_exit_status_0():
    result, (entry,) = json_results("(f - y)**2")
    assert result.exit_code == 0
    assert entry["differentiable"] is True and entry["surrogate"] is None


def test_warning_only_is_exit_0_unless_fail_on_warning():
    assert invoke("--format", "json", "log(p)").exit_code == 0
    assert invoke("--format", "json", "--fail-on", "warning", "log(p)").exit_code == 1


def test_parse_error_exit_2_with_column():
    result, (entry,) = json_results("sigmod(f)")
    assert result.exit_code == 2
    assert entry["differentiable"] is None
    assert entry["error"]["kind"] == "parse"
    assert "did you mean sigmoid" in entry["error"]["message"]
    assert entry["error"]["column"] == 1


def test_text_error_shows_caret_and_no_traceback():
    result = invoke("--no-color", "abs(y - f")
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout
    assert "^" in result.stdout


def test_expression_starting_with_minus_after_double_dash():
    result, (entry,) = json_results("--", "-log(p)")
    assert entry["error"] is None
    assert result.exit_code == 0


def test_wrt_option_restricts_differentiation():
    result, (entry,) = json_results("--wrt", "u", "abs(v)*exp(u)")
    assert entry["differentiable"] is True and entry["wrt"] == ["u"]
    assert result.exit_code == 0


def test_batch_file_good_and_bad_lines(tmp_path):
    path = tmp_path / "losses.txt"
    path.write_text(
        "# my losses\n"
        "mse: (f - y)**2\n"
        "\n"
        "l1: abs(f - y)\n"
        "bad: __import__('os').system('echo hacked')\n"
        "hinge: max(0, 1 - y*f)  # trailing comment\n"
    )
    result, entries = json_results("--file", str(path))
    assert result.exit_code == 2
    assert [e["name"] for e in entries] == ["mse", "l1", "bad", "hinge"]
    assert [e["line"] for e in entries] == [2, 4, 5, 6]
    assert entries[0]["differentiable"] is True
    assert entries[1]["differentiable"] is False
    assert entries[2]["error"]["kind"] == "parse"
    assert entries[3]["differentiable"] is False
    assert all(e["source"] == str(path) for e in entries)


def test_stdin_file():
    result, entries = json_results("--file", "-", input="a: abs(u)\nb: u**2\n")
    assert [e["differentiable"] for e in entries] == [False, True]


def test_unreadable_file_is_usage_error(tmp_path):
    result = invoke("--file", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2


def test_suppression_comment_hides_the_finding(tmp_path):
    path = tmp_path / "losses.txt"
    path.write_text("l1: abs(f - y)  # diffcheck: ignore[DC101]\n")
    result, (entry,) = json_results("--file", str(path))
    assert entry["findings"] == []
    assert result.exit_code == 0


def test_explain_and_list_codes():
    result = invoke("--explain", "DC101")
    assert result.exit_code == 0
    assert RULES["DC101"].why in result.stdout
    listing = invoke("--list-codes")
    assert all(code in listing.stdout for code in RULES)


def test_surrogate_only_prints_pasteable_code():
    result = invoke("--surrogate", "--code", "torch", "abs(y - f)")
    assert result.exit_code == 1
    assert "torch" in result.stdout


def test_timeout_gives_timeout_error():
    result, (entry,) = json_results("--timeout", "0.001", "abs(y - f) + max(0, x) + floor(z)")
    assert entry["error"]["kind"] == "timeout"
    assert result.exit_code == 2


def test_python_m_diffcheck_runs():
    completed = subprocess.run(
        [sys.executable, "-m", "diffcheck", "--format", "json", "abs(f)"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["results"][0]["findings"][0]["kind"] == "kink"


#: runs the command in this process and reports, at exit, whether it imported SymPy
_PARENT_IMPORTS = """
import atexit, os, sys
parent = os.getpid()
atexit.register(lambda: os.getpid() == parent and print(
    "imported:", ",".join(m for m in ("sympy", "numpy") if m in sys.modules), file=sys.stderr))
sys.argv = ["diffcheck", *sys.argv[1:]]
from diffcheck.entry import main
main()
"""


@pytest.mark.parametrize("output", ["text", "json", "github", "sarif"])
def test_one_expression_run_leaves_sympy_to_its_worker(output):
    """The command line forks its first worker before anything heavy and never imports SymPy
    or NumPy itself for a line of text: the worker's import is the only one on the path a
    one-expression run waits for (issue 14's cold start)."""
    completed = subprocess.run(
        [sys.executable, "-c", _PARENT_IMPORTS, "--format", output, "abs(y - f)"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1, completed.stderr
    assert "kink" in completed.stdout or "DC101" in completed.stdout
    assert "imported: \n" in completed.stderr, completed.stderr


def test_import_diffcheck_is_light_and_the_api_is_still_there():
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, diffcheck; light = 'sympy' not in sys.modules; "
         "print(light, diffcheck.check('abs(x)').differentiable, 'check' in dir(diffcheck))"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.stdout.split() == ["True", "False", "True"], completed.stderr


def test_readme_code_table_is_generated_from_the_registry():
    from pathlib import Path

    from diffcheck.rules import markdown_table

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme


def test_output_is_byte_identical_whatever_jobs_and_hash_seed():
    import os
    from pathlib import Path

    samples = Path(__file__).parent.parent / "samples" / "losses.txt"
    outputs = set()
    for jobs, seed in (("1", "1"), ("2", "2")):
        for fmt in ("json", "sarif"):
            completed = subprocess.run(
                [sys.executable, "-m", "diffcheck", "--format", fmt, "--jobs", jobs, "--file", str(samples)],
                capture_output=True, text=True, timeout=300,
                env={**os.environ, "PYTHONHASHSEED": seed},
            )
            outputs.add((fmt, completed.stdout))
    assert len(outputs) == 2  # one distinct output per format


def test_api_timeout_stops_a_long_analysis():
    from diffcheck import check

    nested = "x"
    for _ in range(40):
        nested = f"relu({nested} - 1)"
    report = check(nested, timeout=0.5)
    assert report.error is not None and report.error.kind == "timeout"
    assert report.differentiable is None


def test_set_fixes_a_variable_to_an_exact_literal():
    result, (entry,) = json_results("--set", "delta=0.5", "huber(r, delta)")
    assert result.exit_code == 0
    assert entry["wrt"] == ["r"] and entry["fixed"] == {"delta": 0.5}
    assert "1/2" in entry["expression"] and "delta" not in entry["expression"]


def test_set_of_an_unused_name_warns_on_stderr_only():
    result = CliRunner().invoke(app, ["--set", "gamma=2", "abs(f)"])
    assert result.exit_code == 1
    assert "no loss uses 'gamma'" in result.stderr
    assert "gamma" not in result.stdout


@pytest.mark.parametrize("bad", ["x=__import__('os')", "x=[1]", "=1", "1x=2", "x=1+1"])
def test_set_refuses_anything_but_a_literal(bad):
    result = invoke("--set", bad, "x")
    assert result.exit_code == 2
    assert "--set" in result.stderr


def test_set_to_a_string_used_as_a_number_is_a_parse_error_with_column():
    result, (entry,) = json_results("--set", "r='mean'", "abs(r)")
    assert result.exit_code == 2
    assert entry["error"]["kind"] == "parse" and entry["error"]["column"] == 5
