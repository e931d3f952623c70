"""The composite GitHub Action (action.yml) and the sample workflow that uses it."""

from __future__ import annotations

from pathlib import Path

import yaml  # installed with pre-commit (the test extra)

ROOT = Path(__file__).parent.parent


def test_action_is_composite_and_inputs_reach_the_shell_only_through_the_environment():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"paths", "args", "sarif"}
    scripts = [step["run"] for step in action["runs"]["steps"] if "run" in step]
    assert scripts
    # ${{ inputs.x }} inside a script is template injection: a path or an argument with
    # $(...) would run in the runner's shell
    assert not any("${{" in script for script in scripts)
    check = next(step for step in action["runs"]["steps"] if step.get("id") == "check")
    assert {"DIFFCHECK_PATHS", "DIFFCHECK_ARGS", "DIFFCHECK_SARIF"} <= set(check["env"])
    assert "--format github" in check["run"] and "--format sarif" in check["run"]


def test_sample_workflow_uses_the_action_and_uploads_sarif():
    workflow = yaml.safe_load((ROOT / "samples" / "github-workflow.yml").read_text())
    steps = next(iter(workflow["jobs"].values()))["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert "./" in uses
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)
    paths = next(step for step in steps if step.get("uses") == "./")["with"]["paths"].split()
    assert all((ROOT / path).is_file() for path in paths)
