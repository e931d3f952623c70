"""Hostile input never runs: diffcheck parses with ``ast`` and a whitelist, never ``eval``.

Every test plants a canary path under ``tmp_path`` and feeds known sandbox escapes that
would create it (``__import__('os')``, ``open``, ``exec``, ``eval``, dunder walks, lambdas,
f-strings, module attributes, unicode lookalikes, ...) through the three entry points:

(a) the library, ``diffcheck.check``;
(b) the command line, one expression argument per run;
(c) one loss file holding all of them plus good lines, analysed with ``--jobs 2``.

The canary must never exist, every hostile input must come back as an error result (and
the run with exit status 2), good lines of the same file must still get their verdicts,
and every run must end in bounded time (a subprocess timeout or an alarm, nothing else
time-based).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diffcheck
from diffcheck.parser import ParseError, parse

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX alarm and paths")

#: a generous bound for one CLI run (interpreter start-up and sympy import included)
CLI_TIMEOUT = 120
#: a bound for one in-process check of a hostile input; they all fail at the parser
CHECK_TIMEOUT = 30

CANARY_NAME = "diffcheck_canary_pwned"


class _Alarm(BaseException):
    """Raised by SIGALRM; a BaseException so that no ``except Exception`` can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: int, what: str):
    def fire(signum, frame):
        raise _Alarm(f"{what!r} did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    except _Alarm as alarm:
        pytest.fail(str(alarm))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def hostile_inputs(canary: str) -> list[str]:
    """Known escapes, each of which would create ``canary`` (an absolute path) if run."""
    c = canary
    touch = f"touch {c}"
    return [
        # the classics
        f"__import__('os').system('{touch}')",
        f"__import__(\"os\").system(\"{touch}\")",
        f"open('{c}','w').write('x')",
        f"open('{c}', 'w')",
        f"exec(\"open('{c}','w')\")",
        f"eval(\"open('{c}','w')\")",
        f"eval(compile(\"open('{c}','w')\", 'x', 'exec'))",
        f"getattr(__builtins__, 'open')('{c}','w')",
        "().__class__.__base__.__subclasses__()",
        "().__class__.__bases__[0].__subclasses__()",
        "[c for c in ().__class__.__bases__[0].__subclasses__()]",
        f"[c.__init__.__globals__['sys'].modules['os'].system('{touch}') "
        "for c in ().__class__.__bases__[0].__subclasses__()]",
        f"lambda: open('{c}','w')",
        f"(lambda: open('{c}','w'))()",
        f"f\"{{open('{c}','w')}}\"",
        f"np.os.system('{touch}')",
        f"numpy.os.system('{touch}')",
        f"torch.load('{c}')",
        f"torch.save(0, '{c}')",
        f"np.save('{c}', 0)",
        f"F.__globals__['os'].system('{touch}')",
        "Model.__globals__",
        "x.__class__",
        "x.__class__.__mro__[-1].__subclasses__()",
        "import os",
        f"import os; os.system('{touch}')",
        f"__import__('subprocess').call(['touch', '{c}'])",
        f"breakpoint() or open('{c}','w')",
        f"x if open('{c}','w') else y",
        f"abs(x) + open('{c}','w').write('1')",
        f"max(0, x, __import__('os').system('{touch}'))",
        f"Model(open('{c}','w'))",
        f"Exec(\"open('{c}','w')\")",
        f"Symbol('x') + S(\"__import__('os').system('{touch}')\")",
        f"sympify(\"__import__('os').system('{touch}')\")",
        f"parse_expr(\"__import__('os').system('{touch}')\")",
        f"(x := open('{c}','w'))",
        f"{{'k': open('{c}','w')}}",
        f"{{open('{c}','w')}}",
        f"[open('{c}','w')]",
        f"(open('{c}','w'),)",
        f"x[open('{c}','w')]",
        f"*open('{c}','w')",
        f"abs(**{{'x': open('{c}','w')}})",
        f"open.__call__('{c}','w')",
        "__builtins__",
        "__builtins__.open",
        "__import__",
        "__loader__ + 1",
        "__spec__ * x",
        "globals()",
        "locals()['x']",
        "vars()",
        "dir()",
        "type(x)",
        f"Piecewise((open('{c}','w'), True))",
        f"where(open('{c}','w'), 1, 0)",
        f"Piecewise((1, open('{c}','w')), (0, True))",
        f"huber(x, delta=open('{c}','w'))",
        f"clip(x, None, __import__('os').system('{touch}'))",
        f"np.maximum(x, os.system('{touch}'))",
        f"math.os.system('{touch}')",
        f"torch.nn.functional.os.system('{touch}')",
        f"$(touch {c})",
        f"`touch {c}`",
        f"x; touch {c}",
        f"x && touch {c}",
        f"x | sh -c 'touch {c}'",
        # unicode lookalikes: NFKC folds these identifiers to the ASCII names
        f"\uff45\uff58\uff45\uff43(\"open('{c}','w')\")",  # fullwidth exec
        f"\uff3f\uff3fimport\uff3f\uff3f('os').system('{touch}')",  # fullwidth underscores
        f"\U0001d5c8\U0001d5c9\U0001d5be\U0001d5c7('{c}','w')",  # mathematical sans-serif open
        f"\u0435val(\"open('{c}','w')\")",  # Cyrillic e in eval
        f"\u1d52pen('{c}','w')",  # modifier letter small o
        "x.\u1d9c\u02e1\u1d43\u02e2\u02e2",  # x.(modifier letters) ~ x.class
        # bytes and strings
        f"b'{c}'",
        f"'{c}'",
        f"x + '{c}'",
        # very long and very deep
        "x+" * 6000 + "x",
        "(" * 5000 + "x" + ")" * 5000,
        "abs(" * 300 + "x" + ")" * 300,
        "-" * 5000 + "x",
        "not " * 2000 + "x",
        "x" * 20000,
        "1" * 5000,
        "9" * 200 + "**" + "9" * 200,
        "2**2**2**2**2**2",
        "exp(exp(exp(exp(exp(exp(1000))))))",
        "[" * 3000 + "]" * 3000,
    ]


#: the good lines of the mixed loss file, with their verdicts
GOOD_LINES = {
    "good_mse": ("(f - y)**2", True),
    "good_l1": ("abs(f - y)", False),
    "good_logistic": ("softplus(-t*G(w))", True),
}


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / CANARY_NAME
    assert not path.exists()
    yield path
    assert not path.exists(), "a hostile input created the canary file"


def _assert_canary_absent(canary: Path, cwd: Path | None = None) -> None:
    assert not canary.exists(), f"canary {canary} was created"
    if cwd is not None:
        assert not (cwd / CANARY_NAME).exists()


def test_hostile_list_is_nonempty_and_distinct(canary):
    inputs = hostile_inputs(str(canary))
    assert len(inputs) == len(set(inputs)) > 80


# --- (a) the library ------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(hostile_inputs("C"))))
def test_check_refuses_hostile_input(index, canary, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a relative path in any input would land next to the canary
    text = hostile_inputs(str(canary))[index]
    with time_limit(CHECK_TIMEOUT, text[:60]):
        report = diffcheck.check(text)
    assert report.error is not None, f"accepted hostile input {text[:80]!r}: {report.expression}"
    assert report.error.kind in ("parse", "limit"), report.error
    assert report.differentiable is None and report.findings == []
    message = report.error.message
    assert message and "\n" not in message and "\r" not in message
    if report.error.column is not None:
        assert 1 <= report.error.column <= len(text) + 1
    # the parser itself raises only ParseError, never runs anything
    with pytest.raises(ParseError):
        parse(text)
    _assert_canary_absent(canary, tmp_path)


def test_check_file_refuses_hostile_lines(canary, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, hostile = _mixed_loss_file(tmp_path, canary)
    with time_limit(4 * CHECK_TIMEOUT, "check_file"):
        reports = diffcheck.check_file(path)
    _check_mixed_results([r.to_dict() for r in reports], hostile)
    _assert_canary_absent(canary, tmp_path)


# --- (b) the command line, one expression argument ------------------------------------------


def _cli(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    return subprocess.run(
        [sys.executable, "-m", "diffcheck", *args],
        cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
        encoding="utf-8", errors="replace", timeout=CLI_TIMEOUT,
    )


#: one CLI process per input costs a second or two: a representative subset, plus all of
#: them at once in one run below
CLI_SAMPLE = [0, 2, 3, 5, 7, 8, 10, 12, 14, 15, 17, 20, 21, 22, 24, 34, 69, 70]


@pytest.mark.parametrize("index", CLI_SAMPLE)
def test_cli_refuses_hostile_argument(index, canary, tmp_path):
    text = hostile_inputs(str(canary))[index]
    completed = _cli(["--format", "json", "--jobs", "1", "--", text], cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    (entry,) = json.loads(completed.stdout)["results"]
    assert entry["input"] == text
    assert entry["error"] is not None and entry["error"]["kind"] in ("parse", "limit")
    assert entry["differentiable"] is None
    _assert_canary_absent(canary, tmp_path)


def test_cli_refuses_every_hostile_argument_in_one_run(canary, tmp_path):
    inputs = hostile_inputs(str(canary))
    # the kernel limits one argument to 128 KiB and all of them to a few MiB: all fit
    completed = _cli(["--format", "json", "--jobs", "2", "--", *inputs], cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert "Traceback" not in completed.stdout + completed.stderr
    results = json.loads(completed.stdout)["results"]
    assert [r["input"] for r in results] == inputs
    for entry in results:
        assert entry["error"] is not None, entry["input"][:80]
        assert entry["error"]["kind"] in ("parse", "limit"), entry["error"]
        assert entry["differentiable"] is None and entry["findings"] == []
    _assert_canary_absent(canary, tmp_path)


@pytest.mark.parametrize("fmt", ["text", "github", "sarif"])
def test_other_formats_survive_hostile_arguments(fmt, canary, tmp_path):
    inputs = [t for t in hostile_inputs(str(canary)) if len(t) < 300]
    args = ["--format", fmt, "--jobs", "2"] + (["--no-color"] if fmt == "text" else [])
    completed = _cli([*args, "--", *inputs], cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert "Traceback" not in completed.stdout + completed.stderr
    if fmt == "github":
        # one workflow command per line: an input can never start a command of its own
        lines = [ln for ln in completed.stdout.splitlines() if ln.strip()]
        assert len(lines) == len(inputs)
        assert all(ln.startswith("::error ") for ln in lines)
    if fmt == "sarif":
        json.loads(completed.stdout)
    _assert_canary_absent(canary, tmp_path)


def test_workflow_command_injection_is_escaped(tmp_path):
    """A newline in an argument cannot smuggle a second GitHub workflow command."""
    text = "x +\n::error file=evil,line=1::pwned\n::add-mask::secret"
    completed = _cli(["--format", "github", "--", text], cwd=tmp_path)
    assert completed.returncode == 2
    lines = [ln for ln in completed.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("::error ")


#: control sequences a hostile loss line could carry to the terminal of whoever checks it:
#: set the window title (OSC 0), plant a hyperlink (OSC 8), clear the screen, hide text
TERMINAL_ESCAPES = [
    "x + \x1b]0;pwned\x1b\\ + y",
    "x + \x1b]0;pwned\x07 + y",
    "abs(x) \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "x \x1b[2J\x1b[H",
    "x + \x1b[8m hidden",
    "x + \x9b31m",  # the 8-bit CSI
]


@pytest.mark.parametrize("how", ["argument", "file"])
def test_text_output_never_writes_terminal_escapes(how, tmp_path):
    """The default (text) format goes to a terminal: an untrusted input must not be able to
    send control sequences through it (the README says untrusted loss files are safe)."""
    if how == "argument":
        completed = _cli(["--no-color", "--", *TERMINAL_ESCAPES], cwd=tmp_path)
    else:
        path = tmp_path / "losses.txt"
        path.write_text("\n".join(f"l{i}: {t}" for i, t in enumerate(TERMINAL_ESCAPES)) + "\n",
                        encoding="utf-8")
        completed = _cli(["--no-color", "--file", str(path)], cwd=tmp_path)
    assert completed.returncode == 2
    out = completed.stdout + completed.stderr
    leaked = sorted({hex(ord(c)) for c in out if c in "\x1b\x9b\x07"})
    assert not leaked, f"raw control characters {leaked} in the text report: {out[:300]!r}"


# --- (c) one loss file, all hostile lines plus good ones, two workers ------------------------


def _mixed_loss_file(tmp_path: Path, canary: Path) -> tuple[Path, list[str]]:
    """A loss file with the good lines first, in the middle and last, and every hostile
    input that fits on one line (a '#' would start a comment, a newline a new line)."""
    hostile = [t for t in hostile_inputs(str(canary)) if "\n" not in t and "#" not in t]
    lines = ["# a loss file from an untrusted pull request", ""]
    names = list(GOOD_LINES)
    lines.append(f"{names[0]}: {GOOD_LINES[names[0]][0]}")
    half = len(hostile) // 2
    lines += hostile[:half]
    lines.append(f"{names[1]}: {GOOD_LINES[names[1]][0]}")
    lines += ["", "   # indented comment"]
    lines += hostile[half:]
    lines.append(f"{names[2]}: {GOOD_LINES[names[2]][0]}")
    path = tmp_path / "losses.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, hostile


def _check_mixed_results(results: list[dict], hostile: list[str]) -> None:
    assert len(results) == len(hostile) + len(GOOD_LINES)
    by_name = {r["name"]: r for r in results if r["name"] in GOOD_LINES}
    assert set(by_name) == set(GOOD_LINES)
    for name, (_, verdict) in GOOD_LINES.items():
        entry = by_name[name]
        assert entry["error"] is None, (name, entry["error"])
        assert entry["differentiable"] is verdict, name
    bad = [r for r in results if r["name"] not in GOOD_LINES]
    assert len(bad) == len(hostile)
    for entry in bad:
        assert entry["error"] is not None, f"accepted hostile line {entry['input'][:80]!r}"
        assert entry["error"]["kind"] in ("parse", "limit"), entry["error"]
        assert entry["differentiable"] is None and entry["findings"] == []
    lines = [r["line"] for r in results]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)


def test_cli_loss_file_with_every_hostile_line(canary, tmp_path):
    path, hostile = _mixed_loss_file(tmp_path, canary)
    completed = _cli(["--format", "json", "--jobs", "2", "--file", str(path)], cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert "Traceback" not in completed.stdout + completed.stderr
    _check_mixed_results(json.loads(completed.stdout)["results"], hostile)
    _assert_canary_absent(canary, tmp_path)


def test_cli_loss_file_from_stdin(canary, tmp_path):
    path, hostile = _mixed_loss_file(tmp_path, canary)
    completed = _cli(["--format", "json", "--jobs", "2", "--file", "-"], cwd=tmp_path,
                     stdin=path.read_text(encoding="utf-8"))
    assert completed.returncode == 2, completed.stderr[-2000:]
    _check_mixed_results(json.loads(completed.stdout)["results"], hostile)
    _assert_canary_absent(canary, tmp_path)


# --- generated variations -------------------------------------------------------------------

_TEMPLATES = [
    "__import__('os').system('touch {c}')",
    "open('{c}','w').write('x')",
    "exec(\"open('{c}','w')\")",
    "eval(\"__import__('os').system('touch {c}')\")",
    "getattr(__builtins__, 'open')('{c}','w')",
    "(lambda: open('{c}','w'))()",
    "[open('{c}','w') for _ in (1,)]",
    "np.os.system('touch {c}')",
    "torch.save(0, '{c}')",
    "f\"{{open('{c}','w')}}\"",
    "().__class__.__base__.__subclasses__()[0]('{c}')",
]

_GLUE = st.text(alphabet=" \t()[]{},.:;+-*/%<>=!&|^~@'\"\\#abcxyzAGnp0123456789_\u00e9\uff45",
                max_size=12)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=_GLUE, template=st.sampled_from(_TEMPLATES), suffix=_GLUE,
       wrap=st.sampled_from(["{}", "abs({})", "max(0, {})", "G({})", "x + {}", "where({}, 1, 0)"]))
def test_generated_strings_with_the_canary_command_never_run(tmp_path, prefix, template,
                                                             suffix, wrap, monkeypatch):
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / CANARY_NAME
    text = prefix + wrap.format(template.format(c=canary)) + suffix
    with time_limit(CHECK_TIMEOUT, text):
        report = diffcheck.check(text)
    assert not canary.exists(), text
    assert not (tmp_path / CANARY_NAME).exists()
    if "#" not in text:
        # without a comment to hide it, the command is part of the expression: refused
        assert report.error is not None, text
    if report.error is not None:
        assert report.error.kind in ("parse", "limit", "unsupported")
        assert "\n" not in report.error.message
