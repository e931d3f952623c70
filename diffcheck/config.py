"""Project settings: ``[tool.diffcheck]`` in the nearest ``pyproject.toml``.

The nearest ``pyproject.toml`` at or above the start directory is the project's; if it has no
``[tool.diffcheck]`` table, the defaults apply (a project without settings does not inherit
those of an enclosing one). Command-line options override what is read here.

>>> config = config_from_table({"wrt": "f, w", "fail-on": "warning", "ignore": ["dc302"]})
>>> config.wrt, config.fail_on, sorted(config.ignore), config.timeout
(('f', 'w'), 'warning', ['DC302'], None)
>>> config_from_table({"fail_on": "never"})
Traceback (most recent call last):
...
diffcheck.config.ConfigError: [tool.diffcheck]: unknown key 'fail_on' (did you mean 'fail-on'?)
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffcheck.report import FAIL_ON as FAIL_ON_CHOICES
from diffcheck.rules import RULES

#: the largest error of each smooth replacement of a primitive, unless told otherwise
DEFAULT_SMOOTH_SCALE = 0.01

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class ConfigError(Exception):
    """The settings cannot be used; the message names the file, the key and what is wrong."""


@dataclass(frozen=True)
class Config:
    """diffcheck's settings, with the defaults that apply when nothing is configured."""

    #: variables to differentiate with respect to; ``None``: all free variables
    wrt: tuple[str, ...] | None = None
    #: the lowest severity that makes the exit status 1 ("never": findings never do)
    fail_on: str = "error"
    #: finding codes to drop everywhere
    ignore: frozenset[str] = frozenset()
    #: seconds each expression or function may take; ``None``: by input (10 s for an
    #: expression, 60 s for a function or model of a ``.py`` file)
    timeout: float | None = None
    #: worker processes; ``None``: one per CPU (:func:`diffcheck.runner.default_jobs`)
    jobs: int | None = None
    #: the largest error each smooth replacement of a primitive may make
    smooth_scale: float = DEFAULT_SMOOTH_SCALE
    #: glob patterns (relative to the pyproject's folder) of loss files and ``.py`` files
    #: checked when diffcheck is run without arguments
    include: tuple[str, ...] = ()
    #: names of the functions and classes of ``.py`` files to check; empty: every loss
    functions: tuple[str, ...] = ()
    #: the ``pyproject.toml`` the settings came from, if any
    path: Path | None = None

    def included_files(self) -> list[str]:
        """The files ``include`` matches, sorted, relative to the current directory if inside it."""
        if not self.include:
            return []
        root = self.path.parent if self.path is not None else Path.cwd()
        found: set[Path] = set()
        for pattern in self.include:
            found.update(p for p in root.glob(pattern) if p.is_file())
        cwd = Path.cwd().resolve()
        shown = []
        for file in sorted(found):
            try:
                shown.append(str(file.resolve().relative_to(cwd)))
            except ValueError:
                shown.append(str(file))
        return shown


def find_pyproject(start: str | Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current directory) or above."""
    directory = Path(start if start is not None else Path.cwd()).resolve()
    if directory.is_file():
        directory = directory.parent
    for folder in (directory, *directory.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: str | Path | None = None) -> Config:
    """The settings of the project that contains ``start`` (default: the current directory)."""
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    tool = document.get("tool", {})
    table = tool.get("diffcheck") if isinstance(tool, dict) else None
    if table is None:
        return Config(path=path)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.diffcheck] must be a table")
    return config_from_table(table, path)


def config_from_table(table: Mapping[str, Any], path: Path | None = None) -> Config:
    """Check and convert the contents of a ``[tool.diffcheck]`` table."""
    where = f"{path}: [tool.diffcheck]" if path is not None else "[tool.diffcheck]"
    settings: dict[str, Any] = {}
    for key, value in table.items():
        convert = _CONVERTERS.get(key)
        if convert is None:
            raise ConfigError(f"{where}: unknown key {key!r}{_did_you_mean(key)}")
        try:
            settings[key.replace("-", "_")] = convert(value)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: {key}: {err}") from None
    return Config(**settings, path=path)


def _wrt(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = [name.strip() for name in value]
    else:
        raise TypeError(
            f"expected a list of variable names or a comma-separated string, got {_shown(value)}"
        )
    if not names:
        raise ValueError("name at least one variable (leave the key out to use all)")
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a variable name")
    return tuple(names)


def _names(value: Any) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise TypeError(f"expected a list of strings, got {_shown(value)}")
    return tuple(value)


def _fail_on(value: Any) -> str:
    if value not in FAIL_ON_CHOICES:
        choices = ", ".join(map(repr, FAIL_ON_CHOICES))
        raise ValueError(f"expected one of {choices}, got {_shown(value)}")
    return value


def _ignore(value: Any) -> frozenset[str]:
    if not (isinstance(value, list) and all(isinstance(code, str) for code in value)):
        raise TypeError(f"expected a list of codes such as [\"DC101\"], got {_shown(value)}")
    codes = frozenset(code.strip().upper() for code in value)
    unknown = sorted(codes - RULES.keys())
    if unknown:
        raise ValueError(f"unknown code {unknown[0]!r} (diffcheck --list-codes shows them)")
    return codes


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {_shown(value)}")
    if not value > 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return float(value)


def _positive_integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {_shown(value)}")
    if value < 1:
        raise ValueError(f"expected at least 1, got {value!r}")
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "wrt": _wrt,
    "fail-on": _fail_on,
    "ignore": _ignore,
    "timeout": _positive_number,
    "jobs": _positive_integer,
    "smooth-scale": _positive_number,
    "include": _names,
    "functions": _names,
}


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key.replace("_", "-"), _CONVERTERS, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; known keys: {', '.join(_CONVERTERS)}"


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
