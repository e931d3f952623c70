"""Run a batch of jobs in worker processes, each job under a time limit and a memory limit.

One expression must never stall or crash a batch. Each job runs in a worker process that
the parent can kill: a job that runs past ``timeout`` seconds is killed, a job that runs out
of memory (the worker caps its address space with ``RLIMIT_AS``) or takes its worker down
(segfault, ``os._exit``, the kernel's OOM killer) becomes an error result, and a fresh worker
takes its place. Workers are forked once and serve job after job until one is killed; the
command line starts its first worker ahead (:func:`prestart`), before it reads its options.

Only ``multiprocessing`` and ``resource`` from the standard library are used, so this works
wherever diffcheck's run-time dependencies do.

>>> run_jobs([3, 1, 2], abs, jobs_n=2, timeout=10, on_error=lambda job, kind, message: kind)
[3, 1, 2]
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Seconds one job may run before its worker is killed.
DEFAULT_TIMEOUT = 10.0
#: seconds a function or model of a ``.py`` file may take by default: real code is a program of
#: dozens of operations, checked as one loss (a GIoU of 30 lines, a transformer block)
DEFAULT_SOURCE_TIMEOUT = 60.0
#: Bytes of address space one job may add to its worker (on top of what the worker inherits).
DEFAULT_MEMORY_LIMIT = 2 * 1024**3
#: Seconds a new worker may take to report that it is ready; only a broken setup needs more.
STARTUP_TIMEOUT = 60.0

#: Error kinds handed to ``on_error``; they are the report error kinds of CONTRACT.md.
TIMEOUT = "timeout"
LIMIT = "limit"  # out of memory, recursion limit, or the worker died
FAILED = "unsupported"  # the job raised an exception: the analysis could not decide

_OK = "ok"
_READY = "ready"
#: the index of a request that hands a worker started ahead (:func:`prestart`) its work
_WORK = "work"
_MESSAGE_LENGTH = 300


def default_jobs() -> int:
    """The default number of worker processes: one per CPU."""
    return os.cpu_count() or 1


def run_jobs(
    jobs: Sequence[T],
    work: Callable[[T], R],
    *,
    jobs_n: int,
    timeout: float | Callable[[T], float],
    on_error: Callable[[T, str, str], R],
    progress: Callable[[int, int], None] | None = None,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
) -> list[R]:
    """Run ``work(job)`` for every job in up to ``jobs_n`` worker processes.

    Parameters
    ----------
    jobs:
        The inputs. Each is pickled to a worker; each result is pickled back.
    work:
        Runs in a worker. With the ``fork`` start method (Linux) any callable works; elsewhere
        it must be picklable (a module-level function).
    jobs_n:
        How many workers run at once (at least 1). Even with 1, every job runs in a worker,
        so a runaway job is killed rather than stalling the batch.
    timeout:
        Seconds each job may run (``math.inf`` for no limit), or a function of the job that
        gives them.
    on_error:
        ``on_error(job, kind, message)`` builds the result of a job that did not finish:
        kind :data:`TIMEOUT`, :data:`LIMIT` (memory, recursion, the worker died) or
        :data:`FAILED` (``work`` raised). It runs in the calling process.
    progress:
        Called in the calling process as ``progress(done, total)`` after each job.
    memory_limit:
        Bytes of address space a job may allocate in its worker (``None``: no limit).

    Returns
    -------
    list
        One result per job, in the order of ``jobs``.
    """
    if jobs_n < 1:
        raise ValueError(f"jobs_n must be at least 1, not {jobs_n}")
    limit = timeout if callable(timeout) else (lambda job: timeout)
    for job in jobs:
        if not limit(job) > 0:
            raise ValueError(f"timeout must be positive, not {limit(job)}")
    batch = _Batch(jobs, work, limit, on_error, progress, memory_limit)
    return batch.run(min(jobs_n, len(jobs)))


#: the worker :func:`prestart` started, until a batch adopts it
_ahead: _Worker | None = None


def prestart(warm_up: Callable[[], object],
             memory_limit: int | None = DEFAULT_MEMORY_LIMIT) -> None:
    """Start one worker now, before its jobs are known, and run ``warm_up`` in it.

    The command line calls this first: the worker imports what jobs need while the parent
    reads the options and the inputs, so a one-expression run waits for the longer of the
    two rather than for both. The next :func:`run_jobs` with the same ``memory_limit`` adopts
    the worker and sends it its ``work`` (which must then be picklable; otherwise the worker
    is stopped and a new one forked). Only where workers are forked (Linux); elsewhere, and
    when a worker was started ahead already, this does nothing.
    """
    global _ahead
    if _ahead is not None or not sys.platform.startswith("linux"):
        return
    context = multiprocessing.get_context("fork")
    _ahead = _Worker(context, None, memory_limit, warm_up)


def _adopt(work: Callable[[Any], Any], memory_limit: int | None) -> _Worker | None:
    """The worker started ahead, given ``work``; None when there is none that can take it."""
    global _ahead
    worker, _ahead = _ahead, None
    if worker is None:
        return None
    try:
        if worker.memory_limit != memory_limit or not worker.process.is_alive():
            raise ValueError("the worker started ahead cannot serve this batch")
        worker.conn.send((_WORK, work))
    except Exception:  # work that cannot be pickled (a closure), a dead worker
        worker.stop()
        return None
    return worker


def _serve(conn: Connection, work: Callable[[Any], Any] | None, memory_limit: int | None,
           warm_up: Callable[[], object] | None = None) -> None:
    """The worker's loop: receive ``(index, job)``, send back ``(index, kind, value)``.

    A worker started ahead has no ``work`` yet: a request ``(_WORK, work)`` brings it.
    """
    # Ctrl-C reaches the whole process group; only the parent should act on it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Whatever a job prints must not end up inside the parent's JSON or SARIF on stdout.
    with contextlib.suppress(OSError):
        os.dup2(2, 1)
    # A job runs alone in its worker; a BLAS thread pool per worker would only oversubscribe
    # the CPUs, and its thread stacks would eat into the address-space limit.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    if warm_up is not None:
        # a failure here is met again, and reported, by the first job that needs the same
        with contextlib.suppress(Exception):
            warm_up()
    if memory_limit is not None:
        _limit_address_space(memory_limit)
    conn.send(_READY)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        index, job = request
        if index == _WORK:
            work = job
            continue
        assert work is not None, "a worker started ahead got a job before its work"
        try:
            outcome = (index, _OK, work(job))
        except MemoryError:
            outcome = (index, LIMIT, _memory_message(memory_limit))
        except RecursionError:
            outcome = (index, LIMIT, "analysis exceeded the recursion limit (nested too deeply)")
        except BaseException as exc:
            outcome = (index, FAILED, f"analysis failed: {_one_line(exc)}")
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send((index, LIMIT, _memory_message(memory_limit)))
        except Exception as exc:
            conn.send((index, FAILED, f"result could not be sent back: {_one_line(exc)}"))


def _limit_address_space(extra_bytes: int) -> None:
    """Cap this process's address space at what it already maps plus ``extra_bytes``.

    The cap is relative because a forked worker inherits the parent's mappings (numpy's
    thread pools alone can reserve gigabytes on a many-core machine).
    """
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the time limit still applies
        return
    soft = _mapped_bytes() + extra_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    # macOS refuses RLIMIT_AS; the time limit still applies
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, work: Callable[[Any], Any] | None,
                 memory_limit: int | None, warm_up: Callable[[], object] | None = None):
        parent_end, child_end = context.Pipe()
        self.memory_limit = memory_limit
        self.process = context.Process(
            target=_serve, args=(child_end, work, memory_limit, warm_up), daemon=True
        )
        self.process.start()
        child_end.close()
        self.conn: Connection = parent_end
        self.ready = False
        self.index: int | None = None  # the job it is running
        self.deadline = time.monotonic() + STARTUP_TIMEOUT

    @property
    def idle(self) -> bool:
        return self.ready and self.index is None

    def start_job(self, index: int, job: Any, timeout: float) -> None:
        self.conn.send((index, job))
        self.index = index
        self.deadline = time.monotonic() + timeout

    def stop(self) -> None:
        """Kill the process (if it still runs) and release its pipe."""
        if self.idle:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=1)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def death(self) -> str:
        """Why the process ended, for a person."""
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return f"analysis worker was killed by {name} (out of memory?)"
            return f"analysis worker crashed ({name})"
        return f"analysis worker exited unexpectedly (exit status {code})"


class _Batch:
    """The state of one ``run_jobs`` call: pending jobs, workers, results."""

    def __init__(self, jobs, work, timeout, on_error, progress, memory_limit):
        self.jobs = jobs
        self.work = work
        self.timeout = timeout
        self.on_error = on_error
        self.progress = progress
        self.memory_limit = memory_limit
        self.pending: deque[int] = deque(range(len(jobs)))
        self.results: list[Any] = [None] * len(jobs)
        self.done = 0
        # fork: workers start in milliseconds and need nothing pickled but jobs and results.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self.context = multiprocessing.get_context(method)

    def run(self, workers_n: int) -> list[Any]:
        workers: list[_Worker | None] = [None] * workers_n
        try:
            while self.done < len(self.jobs):
                for slot, worker in enumerate(workers):
                    if worker is None and self.pending:
                        workers[slot] = worker = _adopt(self.work, self.memory_limit) or \
                            _Worker(self.context, self.work, self.memory_limit)
                    if worker is not None and worker.idle and self.pending:
                        self._hand_out(worker)
                self._wait(worker for worker in workers if worker is not None)
                for slot, worker in enumerate(workers):
                    if worker is not None and not self._check(worker):
                        worker.stop()
                        workers[slot] = None
        finally:
            for worker in workers:
                if worker is not None:
                    worker.stop()
        return self.results

    def _hand_out(self, worker: _Worker) -> None:
        index = self.pending.popleft()
        try:
            worker.start_job(index, self.jobs[index], self.timeout(self.jobs[index]))
        except (BrokenPipeError, ConnectionResetError):
            # The worker died while idle; the job is not to blame. _check replaces the worker.
            self.pending.appendleft(index)
            worker.index = None

    def _wait(self, workers) -> None:
        waiting = [w for w in workers if not w.idle]
        if not waiting:
            return
        soonest = min(w.deadline for w in waiting)
        delay = None if math.isinf(soonest) else max(0.0, soonest - time.monotonic())
        wait([w.conn for w in waiting] + [w.process.sentinel for w in waiting], delay)

    def _check(self, worker: _Worker) -> bool:
        """Collect what the worker has to say; False when it must be replaced."""
        if worker.idle:
            return worker.process.is_alive()
        if worker.conn.poll():
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                return self._died(worker)
            if not worker.ready:
                worker.ready = message == _READY
                worker.deadline = math.inf
                return worker.ready
            index, kind, value = message
            worker.index = None
            if kind != _OK:
                value = self.on_error(self.jobs[index], kind, value)
            self._finish(index, value)
            # After a MemoryError the worker's heap is suspect: start afresh.
            return kind != LIMIT
        if not worker.process.is_alive():
            return self._died(worker)
        if time.monotonic() >= worker.deadline:
            if not worker.ready:
                raise RuntimeError(f"worker process did not start within {STARTUP_TIMEOUT:g} s")
            index = worker.index
            assert index is not None  # past its deadline: it is running a job
            message = f"analysis exceeded the time limit of {self.timeout(self.jobs[index]):g} s"
            self._finish(index, self.on_error(self.jobs[index], TIMEOUT, message))
            return False
        return True

    def _died(self, worker: _Worker) -> bool:
        worker.process.join()
        if not worker.ready:
            raise RuntimeError(f"worker process failed to start: {worker.death()}")
        index = worker.index
        if index is not None:
            self._finish(index, self.on_error(self.jobs[index], LIMIT, worker.death()))
        return False

    def _finish(self, index: int, result: Any) -> None:
        self.results[index] = result
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(self.jobs))


def _memory_message(memory_limit: int | None) -> str:
    if memory_limit is None:
        return "analysis ran out of memory"
    return f"analysis exceeded the memory limit of {_format_bytes(memory_limit)}"


def _format_bytes(size: int) -> str:
    """
    >>> _format_bytes(2 * 1024**3), _format_bytes(512 * 1024**2), _format_bytes(1000)
    ('2 GiB', '512 MiB', '1000 bytes')
    """
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= _MESSAGE_LENGTH else text[: _MESSAGE_LENGTH - 3] + "..."
