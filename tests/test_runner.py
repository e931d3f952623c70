"""The worker pool: input order, time limits, memory limits, crashing and raising jobs."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import time

import pytest

from diffcheck import runner
from diffcheck.runner import LIMIT, TIMEOUT, default_jobs, prestart, run_jobs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and rlimits")


def square(n):
    return n * n


def square_slowly(n):
    time.sleep(0.01 * (n % 3))
    return n * n


def run_job(job):
    """A job is (what, argument): the tests below say what each job does."""
    what, argument = job
    if what == "square":
        return argument * argument
    if what == "sleep":
        time.sleep(argument)
        return "woke"
    if what == "exit":
        os._exit(argument)
    if what == "raise":
        raise ValueError(argument)
    if what == "allocate":
        return len(bytearray(argument))
    if what == "signal":
        faulthandler.disable()  # pytest's crash dump would only be noise here
        os.kill(os.getpid(), argument)
        time.sleep(10)
    if what == "pid":
        return os.getpid()
    if what == "env":
        return os.environ.get(argument)
    raise AssertionError(what)


WARMED = "DIFFCHECK_TEST_WARMED_BY"


def warm_up():
    os.environ[WARMED] = str(os.getpid())


def error_result(job, kind, message):
    return ("error", kind, message)


@pytest.mark.parametrize("jobs_n", [1, 2, 4])
def test_results_keep_the_input_order(jobs_n):
    numbers = list(range(30))
    results = run_jobs(numbers, square_slowly, jobs_n=jobs_n, timeout=10, on_error=error_result)
    assert results == [n * n for n in numbers]


def test_no_jobs():
    assert run_jobs([], square, jobs_n=2, timeout=1, on_error=error_result) == []


@pytest.mark.parametrize("jobs_n", [1, 2])
def test_job_that_never_ends_is_killed_at_the_timeout(jobs_n):
    jobs = [("square", 2), ("sleep", 3600), ("square", 3), ("square", 4)]
    started = time.monotonic()
    results = run_jobs(jobs, run_job, jobs_n=jobs_n, timeout=1, on_error=error_result)
    assert time.monotonic() - started < 10
    assert results == [
        4,
        ("error", TIMEOUT, "analysis exceeded the time limit of 1 s"),
        9,
        16,
    ]


def test_every_job_gets_its_own_time_limit():
    # Three jobs of 0.6 s each with a 1 s limit: none may be charged for the others' time.
    jobs = [("sleep", 0.6)] * 3
    assert run_jobs(jobs, run_job, jobs_n=1, timeout=1, on_error=error_result) == ["woke"] * 3


def test_the_time_limit_can_depend_on_the_job():
    # a function of real code gets longer than a one-line formula (the CLI's default)
    jobs = [("sleep", 1.5), ("sleep", 3600)]
    limits = {1.5: 5.0, 3600: 0.5}
    results = run_jobs(jobs, run_job, jobs_n=1, timeout=lambda job: limits[job[1]],
                       on_error=error_result)
    assert results == ["woke", ("error", TIMEOUT, "analysis exceeded the time limit of 0.5 s")]


@pytest.mark.parametrize("jobs_n", [1, 2])
def test_worker_that_exits_becomes_a_limit_error(jobs_n):
    jobs = [("square", 2), ("exit", 3), ("square", 3)]
    results = run_jobs(jobs, run_job, jobs_n=jobs_n, timeout=10, on_error=error_result)
    assert results[0] == 4 and results[2] == 9
    assert results[1] == ("error", LIMIT, "analysis worker exited unexpectedly (exit status 3)")


def test_worker_that_crashes_becomes_a_limit_error():
    jobs = [("signal", signal.SIGSEGV), ("signal", signal.SIGKILL), ("square", 5)]
    results = run_jobs(jobs, run_job, jobs_n=1, timeout=10, on_error=error_result)
    assert results[0] == ("error", LIMIT, "analysis worker crashed (SIGSEGV)")
    assert results[1] == ("error", LIMIT, "analysis worker was killed by SIGKILL (out of memory?)")
    assert results[2] == 25


def test_job_that_raises_becomes_an_error_result():
    jobs = [("raise", "no\nway"), ("square", 6)]
    results = run_jobs(jobs, run_job, jobs_n=1, timeout=10, on_error=error_result)
    assert results == [("error", "unsupported", "analysis failed: ValueError: no way"), 36]


def test_job_allocating_ten_gib_becomes_a_limit_error():
    jobs = [("allocate", 10 * 1024**3), ("allocate", 1024**2)]
    results = run_jobs(jobs, run_job, jobs_n=1, timeout=30, on_error=error_result)
    assert results == [("error", LIMIT, "analysis exceeded the memory limit of 2 GiB"), 1024**2]


def test_memory_limit_is_configurable():
    jobs = [("allocate", 300 * 1024**2)]
    results = run_jobs(
        jobs, run_job, jobs_n=1, timeout=30, on_error=error_result, memory_limit=100 * 1024**2
    )
    assert results == [("error", LIMIT, "analysis exceeded the memory limit of 100 MiB")]


def test_workers_serve_many_jobs_and_are_replaced_after_a_kill():
    jobs = [("pid", None)] * 3 + [("sleep", 3600)] + [("pid", None)] * 2
    pids = run_jobs(jobs, run_job, jobs_n=1, timeout=1, on_error=error_result)
    assert pids[0] == pids[1] == pids[2] != os.getpid()
    assert pids[3][1] == TIMEOUT
    assert pids[4] == pids[5] != pids[0]


def test_a_worker_started_ahead_is_warmed_up_and_serves_the_next_batch():
    prestart(warm_up)
    ahead = runner._ahead
    assert ahead is not None
    jobs = [("env", WARMED), ("pid", None), ("sleep", 3600), ("pid", None)]
    results = run_jobs(jobs, run_job, jobs_n=1, timeout=1, on_error=error_result)
    assert results[:2] == [str(ahead.process.pid), ahead.process.pid]
    assert WARMED not in os.environ  # the warm-up ran in the worker, not here
    # the time limit holds for it as for any worker, and a fresh one takes its place
    assert results[2][1] == TIMEOUT and results[3] not in (ahead.process.pid, os.getpid())
    assert runner._ahead is None


def pid_and_square(job):
    return os.getpid(), job * job


@pytest.mark.parametrize(("ahead_memory_limit", "work"), [
    # a closure cannot be sent to a worker that is already running
    (runner.DEFAULT_MEMORY_LIMIT, lambda job: pid_and_square(job)),
    # a worker limited otherwise than the batch asks is another worker
    (None, pid_and_square),
])
def test_a_worker_started_ahead_that_cannot_serve_the_batch_is_replaced(ahead_memory_limit, work):
    import multiprocessing

    prestart(warm_up, memory_limit=ahead_memory_limit)
    ahead = runner._ahead
    assert ahead is not None
    results = run_jobs([2, 3], work, jobs_n=1, timeout=10, on_error=error_result)
    assert [square for _, square in results] == [4, 9]
    assert {pid for pid, _ in results} & {ahead.process.pid, os.getpid()} == set()
    assert not ahead.process.is_alive() and multiprocessing.active_children() == []
    assert runner._ahead is None


def test_progress_is_reported_after_every_job():
    calls = []
    jobs = [("square", 1), ("exit", 1), ("square", 2)]
    run_jobs(jobs, run_job, jobs_n=2, timeout=10, on_error=error_result,
             progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_workers_are_gone_afterwards():
    import multiprocessing

    jobs = [("square", 1), ("sleep", 3600)]
    run_jobs(jobs, run_job, jobs_n=2, timeout=0.5, on_error=error_result)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(("option", "value"), [("jobs_n", 0), ("timeout", 0)])
def test_bad_arguments(option, value):
    arguments = {"jobs_n": 1, "timeout": 1.0} | {option: value}
    with pytest.raises(ValueError):
        run_jobs([1], square, on_error=error_result, **arguments)


def test_default_jobs():
    assert default_jobs() == (os.cpu_count() or 1)
