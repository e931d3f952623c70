"""The budgets of issue 14, measured side by side in one run: is diffcheck fast enough for every commit?

    python benchmarks/run.py                 # the full run: about a quarter of an hour
    python benchmarks/run.py --smoke         # seconds: every part once, small (CI)
    python benchmarks/run.py --only cold,source --strict

Each budget is printed as a ratio to its reference or target, and met or not:

- **cold start**: ``diffcheck "abs(y - f)"`` against ``python -c "import sympy, numpy"``, the
  floor of any SymPy tool; runs of the two alternate, and the ratio is the median of the
  ratios of each pair (a busy machine slows both of a pair alike): at most 1.25x;
- **batch**: loss files of 1,000 and 5,000 mixed lines (``bench_batch.py``'s generator, hostile
  lines included) through the CLI with ``--jobs 2``: the time per line must stay flat (5,000
  within 1.1x of 1,000) and stay at most that of ``gradcheck.py``, a naive numeric gradient
  check of the same lines (lambdify, central differences at random points), run as one
  process; the CPU time of both (the CLI's workers included) is printed beside the wall clock;
- **memory**: the peak of the whole process tree of the 5,000-line run (the CLI and its
  workers, sampled from /proc), as the sum of resident sets (shared pages counted in every
  process that maps them: an upper bound) and of proportional sets: under 500 MB;
- **Python source**: the 40 largest losses of ``tests/corpus/source`` (real code of
  torchvision, mmdetection, kornia, ...), each read, translated, analysed and rendered in a
  worker after a warm-up, one at a time: median under 1 s, maximum under 5 s per function,
  with the time of each stage of the slowest ones.

A script, not a test: it prints what it measured and says which budgets hold; ``--strict``
makes a missed budget an exit status of 1. Results are checked too (one result per line,
hostile lines as errors): a wrong run stops with FAILED whatever the option.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import bench_batch  # noqa: E402

#: (what, limit) of each budget; a ratio is measured / reference, "s" and "MB" are absolute
COLD_START_RATIO = 1.25
BATCH_FLATNESS = 1.10
BATCH_VS_GRADCHECK = 1.0
SOURCE_MEDIAN_SECONDS = 1.0
SOURCE_MAX_SECONDS = 5.0
MEMORY_MB = 500.0

#: the full run; the smoke run takes the smallest functions instead of the largest
FULL = {"cold_repeat": 15, "batch_lines": (1000, 5000), "functions": 40, "largest": True,
        "timeout": 5.0, "source_timeout": 30.0}
SMOKE = {"cold_repeat": 2, "batch_lines": (20, 40), "functions": 3, "largest": False,
         "timeout": 5.0, "source_timeout": 30.0}


@dataclass
class Budget:
    """One line of the summary: a measured value against its limit."""

    name: str
    measured: float
    limit: float
    unit: str  # "x" (a ratio), "s" or "MB"
    note: str = ""

    @property
    def met(self) -> bool:
        return self.measured <= self.limit

    def row(self) -> str:
        value = f"{self.measured:.2f}{self.unit}" if self.unit == "x" else \
            f"{self.measured:.2f} {self.unit}" if self.unit == "s" else \
            f"{self.measured:.0f} {self.unit}"
        limit = f"<= {self.limit:g}{self.unit}" if self.unit == "x" else \
            f"< {self.limit:g} {self.unit}"
        return (f"  {self.name:44s} {value:>10s}  {limit:>10s}  "
                f"{'met' if self.met else 'NOT met':8s} {self.note}")


@dataclass
class Run:
    """One measured command: wall-clock and CPU seconds, peak memory of its process tree."""

    wall: float
    cpu: float
    stdout: bytes
    stderr: bytes
    status: int
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    largest_rss_mb: float = 0.0
    samples: int = 0


# --- measuring a command ------------------------------------------------------------------


#: where the measured commands keep their bytecode (set by main: a folder of this run)
BYTECODE_CACHE: str | None = None


def _environment() -> dict[str, str]:
    """The environment of every measured command: this checkout's diffcheck first, and its
    bytecode cached as an installed copy's is.

    pip compiles a package's bytecode when it installs it, and Python caches it for a
    checkout; an environment that forbids writing it (``PYTHONDONTWRITEBYTECODE``, as some CI
    images and containers set) would compile diffcheck's sources on every run, 0.1 s that no
    user pays. So the commands may write it, into a folder of this run rather than the
    checkout. The floor's SymPy and NumPy come compiled from their wheels either way.
    """
    python_path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path))
    if BYTECODE_CACHE is not None:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = BYTECODE_CACHE
    return environment


def run_command(command: list[str], cwd: str, memory: bool = False) -> Run:
    """Run ``command`` to its end; with ``memory``, sample its process tree meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    sampler = _TreeSampler(process.pid) if memory else None
    if sampler is not None:
        sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if sampler is not None:
        sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The CLI waits for its workers, so their CPU time is in its children's, and so in ours.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run = Run(wall, cpu, stdout, stderr, process.returncode)
    if sampler is not None:
        run.peak_rss_mb = sampler.peak_rss / 2**20
        run.peak_pss_mb = sampler.peak_pss / 2**20
        run.samples = sampler.samples
        # ru_maxrss (KiB on Linux) is the largest single process ever waited for, so far
        run.largest_rss_mb = after.ru_maxrss / 1024
    return run


class _TreeSampler(threading.Thread):
    """Samples the resident and proportional set sizes of a process and its descendants."""

    INTERVAL = 0.05

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0
        self._done = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def run(self) -> None:
        while not self._done.is_set():
            tree = _descendants(self.root)
            rss = sum(_rss_bytes(pid, self._page) for pid in tree)
            pss = sum(_pss_bytes(pid) for pid in tree)
            if tree:
                self.samples += 1
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self._done.wait(self.INTERVAL)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (from the parent ids in /proc/PID/stat)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # the command name is in parentheses and may hold spaces: split after it
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
    tree = [root] if root in parents else []
    for pid in tree:  # grows while it is walked: breadth first
        tree.extend(child for child, parent in parents.items() if parent == pid)
    return tree


def _rss_bytes(pid: int, page: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * page
    except (OSError, ValueError, IndexError):
        return 0  # it ended between the listing and now


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def expect(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"FAILED: {message}")


# --- the budgets --------------------------------------------------------------------------


def cold_start(repeat: int, workdir: str) -> list[Budget]:
    """``diffcheck "abs(y - f)"`` against the SymPy + NumPy import floor, in alternation."""
    floor_command = [sys.executable, "-c", "import sympy, numpy"]
    diffcheck_command = [sys.executable, "-m", "diffcheck", "abs(y - f)"]
    floors, runs, ratios = [], [], []
    run_command(diffcheck_command, workdir)  # bytecode caches and the page cache, warm
    for _ in range(repeat):
        floor = run_command(floor_command, workdir)
        run = run_command(diffcheck_command, workdir)
        expect(floor.status == 0, f"the import floor failed: {floor.stderr[-500:]!r}")
        expect(run.status == 1 and b"kink" in run.stdout,
               f"diffcheck 'abs(y - f)': status {run.status}, {run.stdout[-500:]!r}")
        floors.append(floor.wall)
        runs.append(run.wall)
        ratios.append(run.wall / floor.wall)
    floor_s, run_s = statistics.median(floors), statistics.median(runs)
    print(f"cold start ({repeat} pairs): import sympy, numpy {floor_s:.3f} s (min "
          f"{min(floors):.3f}); diffcheck 'abs(y - f)' {run_s:.3f} s (min {min(runs):.3f})")
    return [Budget("cold start / import floor", statistics.median(ratios), COLD_START_RATIO, "x",
                   f"{run_s:.2f} s vs {floor_s:.2f} s")]


@dataclass
class BatchResult:
    lines: int
    diffcheck: Run
    reference: Run

    @property
    def per_line(self) -> float:
        return self.diffcheck.wall / self.lines

    @property
    def reference_per_line(self) -> float:
        return self.reference.wall / self.lines


def batch(lines_n: int, jobs: int, timeout: float, workdir: str) -> BatchResult:
    """One generated loss file through the CLI (memory sampled) and through the reference."""
    data, rows = bench_batch.loss_file(lines_n, seed=0)
    path = Path(workdir) / f"batch-{lines_n}.losses"
    path.write_bytes(data)
    command = [sys.executable, "-m", "diffcheck", "--file", str(path), "--format", "json",
               "--jobs", str(jobs), "--timeout", str(timeout)]
    run = run_command(command, workdir, memory=True)
    expect(run.status in (0, 1, 2), f"batch {lines_n}: exit status {run.status}\n"
                                    f"{run.stderr[-2000:].decode(errors='replace')}")
    import json

    try:
        results = json.loads(run.stdout)["results"]
    except (ValueError, KeyError) as err:
        sys.exit(f"FAILED: batch {lines_n}: no JSON report ({err})")
    kinds = bench_batch.check_results(jobs, results, rows)
    reference = run_command([sys.executable, str(BENCHMARKS / "gradcheck.py"), str(path)],
                            workdir)
    expect(reference.status == 0, f"gradcheck.py failed: {reference.stderr[-2000:]!r}")
    errors = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    print(f"batch {lines_n} lines, --jobs {jobs}: diffcheck {run.wall:.1f} s wall, "
          f"{run.cpu:.1f} s CPU ({1000 * run.wall / lines_n:.1f} / "
          f"{1000 * run.cpu / lines_n:.1f} ms per line; errors: {errors or 'none'}); "
          f"gradcheck {reference.wall:.1f} s wall, {reference.cpu:.1f} s CPU "
          f"({reference.stdout.decode().strip()})")
    return BatchResult(lines_n, run, reference)


def batch_budgets(results: list[BatchResult]) -> list[Budget]:
    budgets = []
    if len(results) == 2:
        small, large = results
        budgets.append(Budget(
            f"batch per line, {large.lines} / {small.lines} lines",
            large.per_line / small.per_line, BATCH_FLATNESS, "x",
            f"{1000 * large.per_line:.1f} vs {1000 * small.per_line:.1f} ms per line"))
    for result in results:
        run, reference = result.diffcheck, result.reference
        budgets.append(Budget(
            f"batch {result.lines} per line / gradcheck", result.per_line /
            result.reference_per_line, BATCH_VS_GRADCHECK, "x",
            f"{1000 * result.per_line:.1f} vs {1000 * result.reference_per_line:.1f} ms wall; "
            f"CPU {run.cpu / reference.cpu:.2f}x"))
    largest = results[-1]
    run = largest.diffcheck
    expect(run.samples > 0, "no memory sample of the batch run")
    budgets.append(Budget(
        f"peak memory, batch {largest.lines} (sum of RSS)", run.peak_rss_mb, MEMORY_MB, "MB",
        f"PSS {run.peak_pss_mb:.0f} MB; largest process {run.largest_rss_mb:.0f} MB"))
    return budgets


@dataclass
class FunctionTiming:
    case_id: str
    seconds: float
    status: str
    stages: dict[str, float] = field(default_factory=dict)


def source(functions_n: int, timeout: float,
           largest: bool = True) -> tuple[list[Budget], list[FunctionTiming]]:
    """The largest (or smallest) loss functions of the corpus, one at a time in a worker,
    after a warm-up."""
    sys.path.insert(0, str(ROOT))
    import bench_source

    from diffcheck.api import check
    from diffcheck.runner import run_jobs

    cases = bench_source.cases("source")
    sign = -1 if largest else 1
    cases.sort(key=lambda case: (sign * Path(case["_path"]).stat().st_size, case["id"]))
    chosen = cases[:functions_n]
    check("abs(y - f)")  # warm-up: imports and caches, as a long-running CLI worker has them

    def timed(case: dict) -> FunctionTiming:
        with _StageTimer() as stages:
            seconds, status = bench_source.timed(case, render=True)
        return FunctionTiming(case["id"], seconds, status, stages.seconds)

    def failed(case: dict, kind: str, message: str) -> FunctionTiming:
        return FunctionTiming(case["id"], timeout, kind)

    timings = run_jobs(chosen, timed, jobs_n=1, timeout=timeout, on_error=failed)
    times = [t.seconds for t in timings]
    median, slowest = statistics.median(times), max(times)
    statuses = sorted({t.status for t in timings})
    which = "largest" if largest else "smallest"
    print(f"Python source: {len(timings)} functions (the {which} of tests/corpus/source), "
          f"median {median:.2f} s, max {slowest:.2f} s; outcomes: {', '.join(statuses)}")
    unusual = [f"{t.case_id} ({t.status})" for t in timings if t.status != "ok"]
    if unusual:
        print(f"not ok: {', '.join(unusual)}")
    budgets = [
        Budget("source: median per function", median, SOURCE_MEDIAN_SECONDS, "s"),
        Budget("source: max per function", slowest, SOURCE_MAX_SECONDS, "s",
               max(timings, key=lambda t: t.seconds).case_id),
    ]
    return budgets, timings


#: the pipeline's stages, as (label, module, function): each is looked up by name at call
#: time by its caller, so wrapping the module attribute times every call
STAGES = [
    ("translate", "diffcheck.readers.pysource", "translate"),
    ("analysis", "diffcheck.analysis", "analyze"),
    ("probe", "diffcheck.probe", "confirm"),
    ("surrogates", "diffcheck.surrogates", "surrogates_for"),
    ("surrogate", "diffcheck.surrogates", "checked_surrogate"),
    ("autodiff", "diffcheck.api", "_autodiff_stage"),
    ("report", "diffcheck.report.json", "render"),
]


class _StageTimer:
    """Seconds spent in each stage of :data:`STAGES` while it is active (in this process)."""

    def __enter__(self) -> _StageTimer:
        import importlib

        self.seconds: dict[str, float] = {}
        self._restore: list[tuple[object, str, Callable]] = []
        for label, module_name, attribute in STAGES:
            module = importlib.import_module(module_name)
            original = getattr(module, attribute)
            setattr(module, attribute, self._timed(label, original))
            self._restore.append((module, attribute, original))
        return self

    def _timed(self, label: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + \
                    time.perf_counter() - started
        return timed

    def __exit__(self, *exc) -> None:
        for module, attribute, original in self._restore:
            setattr(module, attribute, original)


def print_slowest(timings: list[FunctionTiming], count: int = 5) -> None:
    print(f"slowest functions (seconds per stage; {', '.join(label for label, *_ in STAGES)}):")
    for timing in sorted(timings, key=lambda t: -t.seconds)[:count]:
        stages = "  ".join(f"{label} {timing.stages[label]:.2f}"
                           for label, *_ in STAGES if label in timing.stages)
        print(f"  {timing.seconds:6.2f} s  {timing.status:12s} {timing.case_id:28s} {stages}")


# --- the run ------------------------------------------------------------------------------


def machine() -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, {platform.machine()}, load average {load}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="every part once and small: seconds (CI); no budget is judged")
    parser.add_argument("--only", default="cold,batch,source",
                        help="a comma-separated subset of cold, batch, source")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of the batch runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    options = parser.parse_args()
    settings = SMOKE if options.smoke else FULL
    parts = set(options.only.split(","))
    unknown = parts - {"cold", "batch", "source"}
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}")

    print(f"machine: {machine()}")
    budgets: list[Budget] = []
    timings: list[FunctionTiming] = []
    global BYTECODE_CACHE
    with tempfile.TemporaryDirectory() as workdir:
        BYTECODE_CACHE = os.path.join(workdir, "bytecode")
        # cwd outside the repository: no pyproject.toml settings change what is measured
        if "cold" in parts:
            budgets += cold_start(settings["cold_repeat"], workdir)
        if "batch" in parts:
            results = [batch(n, options.jobs, settings["timeout"], workdir)
                       for n in settings["batch_lines"]]
            budgets += batch_budgets(results)
    if "source" in parts:
        found, timings = source(settings["functions"], settings["source_timeout"],
                                settings["largest"])
        budgets += found
    if timings:
        print_slowest(timings)
    print()
    print(f"budgets ({'smoke run: sizes too small to judge' if options.smoke else 'issue 14'}; "
          f"load average now {', '.join(f'{v:.2f}' for v in os.getloadavg())}):")
    for budget in budgets:
        print(budget.row())
    missed = [b for b in budgets if not b.met]
    return 1 if options.strict and missed and not options.smoke else 0


if __name__ == "__main__":
    raise SystemExit(main())
