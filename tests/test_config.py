"""[tool.diffcheck] settings from the nearest pyproject.toml."""

from __future__ import annotations

import pytest

from diffcheck.config import Config, ConfigError, find_pyproject, load_config


def write_pyproject(folder, body: str):
    path = folder / "pyproject.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_a_pyproject(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = load_config(nested)
    assert config == Config()
    assert (config.wrt, config.fail_on, config.ignore, config.jobs) == (
        None, "error", frozenset(), None,
    )
    assert config.timeout is None and config.smooth_scale > 0  # None: the limit by input


def test_all_keys(tmp_path):
    path = write_pyproject(tmp_path, """
[project]
name = "x"

[tool.diffcheck]
wrt = ["f", "w"]
fail-on = "warning"
ignore = ["DC302", "dc303"]
timeout = 2
jobs = 3
smooth-scale = 0.001
""")
    config = load_config(tmp_path)
    assert config == Config(
        wrt=("f", "w"), fail_on="warning", ignore=frozenset({"DC302", "DC303"}),
        timeout=2.0, jobs=3, smooth_scale=0.001, path=path,
    )
    assert isinstance(config.timeout, float)


def test_wrt_as_a_comma_string(tmp_path):
    write_pyproject(tmp_path, '[tool.diffcheck]\nwrt = "f, w,"\n')
    assert load_config(tmp_path).wrt == ("f", "w")


def test_nearest_pyproject_wins_even_without_the_table(tmp_path):
    write_pyproject(tmp_path, '[tool.diffcheck]\nfail-on = "never"\n')
    inner = tmp_path / "pkg"
    (inner / "src").mkdir(parents=True)
    inner_path = write_pyproject(inner, '[tool.other]\nx = 1\n')
    assert load_config(inner / "src") == Config(path=inner_path)
    assert load_config(tmp_path).fail_on == "never"


def test_found_from_a_file_and_from_below(tmp_path):
    path = write_pyproject(tmp_path, "")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "losses.txt").write_text("u\n")
    assert find_pyproject(tmp_path / "deep" / "er") == path
    assert find_pyproject(tmp_path / "deep" / "losses.txt") == path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('fail_on = "never"', "unknown key 'fail_on' (did you mean 'fail-on'?)"),
        ("colour = true", "unknown key 'colour'; known keys: wrt, fail-on, ignore, timeout, jobs"),
        ('fail-on = "always"',
         "fail-on: expected one of 'warning', 'error', 'never', got str 'always'"),
        ("wrt = 3",
         "wrt: expected a list of variable names or a comma-separated string, got int 3"),
        ('wrt = ["f", 2]', "wrt: expected a list of variable names"),
        ('wrt = ["f-g"]', "wrt: 'f-g' is not a variable name"),
        ("wrt = []", "wrt: name at least one variable"),
        ('ignore = "DC101"', "ignore: expected a list of codes"),
        ('ignore = ["DC999"]', "ignore: unknown code 'DC999'"),
        ('timeout = "5"', "timeout: expected a number, got str '5'"),
        ("timeout = 0", "timeout: expected a positive number, got 0"),
        ("timeout = true", "timeout: expected a number, got bool True"),
        ("jobs = 1.5", "jobs: expected a whole number, got float 1.5"),
        ("jobs = 0", "jobs: expected at least 1, got 0"),
        ("smooth-scale = -1", "smooth-scale: expected a positive number, got -1"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path, body, message):
    path = write_pyproject(tmp_path, f"[tool.diffcheck]\n{body}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{path}: [tool.diffcheck]")


def test_invalid_toml_is_a_config_error(tmp_path):
    write_pyproject(tmp_path, "[tool.diffcheck\nwrt = ")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path)


def test_table_that_is_not_a_table(tmp_path):
    write_pyproject(tmp_path, '[tool]\ndiffcheck = "yes"\n')
    with pytest.raises(ConfigError, match=r"\[tool.diffcheck\] must be a table"):
        load_config(tmp_path)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().jobs = 2  # type: ignore[misc]


def test_include_and_functions_select_python_losses(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from diffcheck.cli import app

    write_pyproject(tmp_path, '[tool.diffcheck]\ninclude = ["src/**/losses.py"]\n'
                              'functions = ["hinge_loss"]\n')
    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "losses.py").write_text(
        "import torch\n\ndef hinge_loss(s, y):\n    return torch.clamp(1 - s * y, min=0).mean()\n\n"
        "def mse_loss(p, t):\n    return ((p - t) ** 2).mean()\n")
    (package / "other.py").write_text("def other_loss(x):\n    return abs(x)\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(tmp_path)
    assert config.include == ("src/**/losses.py",) and config.functions == ("hinge_loss",)
    assert config.included_files() == ["src/pkg/losses.py"]
    result = CliRunner().invoke(app, ["--format", "json"])
    import json

    names = [r["name"] for r in json.loads(result.stdout)["results"]]
    assert names == ["hinge_loss"] and result.exit_code == 1


def test_include_must_be_a_list_of_patterns(tmp_path):
    write_pyproject(tmp_path, '[tool.diffcheck]\ninclude = "losses.py"\n')
    with pytest.raises(ConfigError, match="include"):
        load_config(tmp_path)
