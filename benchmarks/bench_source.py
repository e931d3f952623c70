"""Python source: the time per loss function (and per model) over the corpus of real code.

    python benchmarks/bench_source.py [--kind source|models|all] [--timeout 30] [--only ID,...]

Each function of ``tests/corpus/<kind>`` is read, translated and analysed as the CLI does it
(``check_source_job`` with the label's ``--wrt`` and ``--set``), one at a time in this process
after a warm-up, so each time is the work of one function, not the interpreter's start-up. It
prints the time per function, sorted, then the median and the maximum against the targets of
issue 9/14 (median under 1 s, maximum under 5 s), and the slowest functions. A script, not a
test: it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diffcheck.api import SourceJob, check, check_source_job, source_jobs  # noqa: E402
from diffcheck.runner import run_jobs  # noqa: E402

STRING_OPTIONS = {"reduction", "average", "padding", "mode", "multioutput"}
MEDIAN_TARGET, MAX_TARGET = 1.0, 5.0


def cases(kind: str) -> list[dict]:
    kinds = ["source", "models"] if kind == "all" else [kind]
    found = []
    for folder in kinds:
        for label in sorted((ROOT / "tests" / "corpus" / folder).glob("*.json")):
            case = json.loads(label.read_text())
            case["_path"] = str(label.with_suffix(".py"))
            name = (case.get("function") or case.get("class") or "").split(" (")[0]
            case["_target"] = name.split(".")[0]
            found.append(case)
    return found


def timed(case: dict, render: bool = False) -> tuple[float, str]:
    """Seconds to read, translate and analyse one case (and, with ``render``, to write its
    JSON report), and whether the verdict is the label's."""
    text = Path(case["_path"]).read_text()
    start = time.perf_counter()
    job = source_jobs(case["_path"], text, case["_target"])[0]
    if not isinstance(job, SourceJob):
        return time.perf_counter() - start, "unreadable"
    values = {k: v for k, v in {**(case.get("fixed") or {}), **(case.get("init") or {})}.items()
              if isinstance(v, (int, float, bool, type(None))) or
              (isinstance(v, str) and k in STRING_OPTIONS)}
    wrt = case.get("wrt")
    report = check_source_job(job, None if wrt in (None, "params") else list(wrt), values=values)
    if render:
        from diffcheck.report import json as json_report

        json_report.render([report.to_dict()], version="benchmark")
    elapsed = time.perf_counter() - start
    if report.error is not None:
        return elapsed, f"error: {report.error.kind}"
    return elapsed, "ok" if report.differentiable == case["differentiable"] else "wrong verdict"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["source", "models", "all"], default="source")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    selected = cases(args.kind)
    if args.only:
        wanted = set(args.only.split(","))
        selected = [c for c in selected if c["id"] in wanted]
    check("abs(y - f)")  # warm-up: imports, caches
    # One worker, so that a runaway function is stopped at --timeout and the others still run.
    results = run_jobs(selected, timed, jobs_n=1, timeout=args.timeout,
                       on_error=lambda case, kind, message: (args.timeout, kind))
    rows = sorted(zip(selected, results), key=lambda item: -item[1][0])
    print(f"{'seconds':>8}  {'status':14s} function")
    for case, (seconds, status) in rows:
        print(f"{seconds:8.2f}  {status:14s} {case['id']}")
    times = [seconds for seconds, _ in results]
    median, largest = statistics.median(times), max(times)
    print()
    print(f"{len(times)} functions: median {median:.2f} s (target < {MEDIAN_TARGET:g} s: "
          f"{'met' if median < MEDIAN_TARGET else 'NOT met'}), max {largest:.2f} s "
          f"(target < {MAX_TARGET:g} s: {'met' if largest < MAX_TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
