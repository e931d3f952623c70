"""End to end: the pre-commit hook fails a commit that adds a non-differentiable loss.

A temporary git repository gets a ``losses.txt`` with a bad loss on line 2 and a
``.pre-commit-config.yaml`` whose ``repo: local`` hook mirrors the project's
``.pre-commit-hooks.yaml`` (same id, file pattern, types and arguments), with
``language: system`` and ``python -m diffcheck`` from this interpreter, so nothing is
downloaded. ``pre-commit run --all-files`` must fail and name line 2; the GitHub
annotation of the same file must point at the line and column of ``abs``.

Skipped unless the ``pre-commit`` package is importable and ``git`` is on the PATH.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pre_commit = pytest.importorskip("pre_commit")
yaml = pytest.importorskip("yaml")  # a dependency of pre-commit

if shutil.which("git") is None:
    pytest.skip("git is not available", allow_module_level=True)

PROJECT = Path(__file__).resolve().parents[1]
HOOKS_FILE = PROJECT / ".pre-commit-hooks.yaml"
TIMEOUT = 300

BAD_LOSSES = "mse: (y - f)**2\nl1: abs(y - f)\nhinge_sq: max(0, 1 - y*f)**2\n"
GOOD_LOSSES = "mse: (y - f)**2\nlogistic: softplus(-y*f)\n"


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "PRE_COMMIT_HOME": str(home / "pre-commit-cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "NO_COLOR": "1",
        "TERM": "dumb",
    })
    env.pop("PYTHONSTARTUP", None)
    return env


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def _project_hook() -> dict:
    hooks = yaml.safe_load(HOOKS_FILE.read_text())
    (hook,) = [h for h in hooks if h["id"] == "diffcheck"]
    return hook


def _local_config() -> dict:
    """The project's hook as a ``repo: local`` hook running this interpreter's diffcheck."""
    hook = dict(_project_hook())
    entry = shlex.split(hook["entry"])
    assert entry[0] == "diffcheck", hook["entry"]
    hook["entry"] = shlex.join([sys.executable, "-m", "diffcheck", *entry[1:]])
    hook["language"] = "system"
    return {"repos": [{"repo": "local", "hooks": [hook]}]}


@pytest.fixture
def repo(tmp_path: Path):
    root = tmp_path / "repo"
    root.mkdir()
    env = _env(tmp_path)
    _run(["git", "init", "-q", "."], root, env).check_returncode()
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(_local_config()))
    return root, env


def _stage(root: Path, env: dict) -> None:
    _run(["git", "add", "-A"], root, env).check_returncode()


def test_project_hook_definition_matches_the_readme():
    hook = _project_hook()
    assert hook["entry"].split()[:2] == ["diffcheck", "--files"]
    assert hook["language"] == "python"
    assert hook.get("pass_filenames", True) is True
    import re

    pattern = re.compile(hook["files"])
    for name in ("losses.txt", "sub/dir/losses.txt", "a.loss", "b.losses"):
        assert pattern.search(name), name
    for name in ("notlosses.txt", "losses.txt.bak", "a.lossy", "README.md"):
        assert not pattern.search(name), name


def _pre_commit_all_files(root, env):
    """Stage everything and run every hook on every file: (completed process, output)."""
    _stage(root, env)
    completed = _run([sys.executable, "-m", "pre_commit", "run", "--all-files"], root, env)
    return completed, completed.stdout + completed.stderr


def test_pre_commit_fails_on_a_bad_loss_and_names_line_2(repo):
    root, env = repo
    (root / "losses.txt").write_text(BAD_LOSSES)
    (root / "notes.txt").write_text("abs(y - f) is not checked here\n")
    completed, output = _pre_commit_all_files(root, env)
    assert completed.returncode != 0, output
    assert "Failed" in output, output
    assert "losses.txt:2" in output, output
    assert "NOT differentiable" in output
    assert "Traceback" not in output
    assert "notes.txt" not in output  # the file pattern of the hook keeps other files out


def test_pre_commit_passes_on_good_losses(repo):
    root, env = repo
    (root / "losses.txt").write_text(GOOD_LOSSES)
    (root / "model.loss").write_text("l2: (f - y)**2\n")
    completed, output = _pre_commit_all_files(root, env)
    assert completed.returncode == 0, output
    assert "Passed" in output, output


def test_pre_commit_blocks_the_commit(repo):
    root, env = repo
    _run([sys.executable, "-m", "pre_commit", "install"], root, env).check_returncode()
    (root / "losses.txt").write_text(BAD_LOSSES)
    _stage(root, env)
    commit = _run(["git", "commit", "-q", "-m", "add losses"], root, env)
    assert commit.returncode != 0, commit.stdout + commit.stderr
    assert "losses.txt:2" in commit.stdout + commit.stderr
    log = _run(["git", "rev-parse", "--verify", "HEAD"], root, env)
    assert log.returncode != 0  # nothing was committed


def test_github_annotation_points_at_line_2_and_the_column_of_abs(repo):
    root, env = repo
    (root / "losses.txt").write_text(BAD_LOSSES)
    completed = _run([sys.executable, "-m", "diffcheck", "--format", "github",
                      "--file", "losses.txt"], root, env)
    assert completed.returncode == 1, completed.stderr
    line2 = BAD_LOSSES.splitlines()[1]
    column = line2.index("abs") + 1  # 1-based, in the physical line (after "l1: ")
    assert column == 5
    annotations = [ln for ln in completed.stdout.splitlines() if ln.startswith("::")]
    kink = [ln for ln in annotations if "line=2," in ln]
    assert len(kink) == 1, completed.stdout
    assert kink[0].startswith(f"::error file=losses.txt,line=2,col={column},"), kink[0]
    assert "DC101" in kink[0]
    # line 3 is the squared hinge: differentiable, so no annotation
    assert not [ln for ln in annotations if "line=3," in ln], completed.stdout
