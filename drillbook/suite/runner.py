"""Run a suite's cases N at a time.

Theory of operation: each case runs in its own worker process (its own network namespace), so
cases are independent and a thread pool only has to wait on them. Results are reported to a
:class:`Listener` as they finish and returned in discovery order. Ctrl-C stops the suite:
pending cases are dropped, the running workers (our direct children, each leading its own
session) are killed with their process groups, and the partial result is returned marked
``interrupted``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from drillbook.config import UPSTREAM_COMMON_FLAGS, UPSTREAM_MODE_FLAGS
from drillbook.suite.attempt import attempt_case
from drillbook.suite.discovery import Case
from drillbook.suite.result import CaseResult, SuiteResult
from drillbook.suite.retry import Attempt, run_with_retries

DEFAULT_TIMEOUT_S = 180.0  # run_all.py's max_runtime


class Listener(Protocol):
    """Told about each case as it starts and finishes (called from worker threads)."""

    def started(self, case: Case) -> None: ...

    def finished(self, result: CaseResult) -> None: ...


class QuietListener:
    """A listener that does nothing."""

    def started(self, case: Case) -> None:
        """Ignore."""

    def finished(self, result: CaseResult) -> None:
        """Ignore."""


@dataclass(frozen=True)
class SuiteOptions:
    """How to run a suite (the flags of ``drillbook suite``)."""

    jobs: int = 2
    retries: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S
    extra_flags: tuple[str, ...] = ()  # packetdrill flags added after upstream's
    upstream_flags: bool = True  # upstream's per-mode flags and -D symbols
    attempt: Attempt = field(default=attempt_case, compare=False)


def case_flags(case: Case, options: SuiteOptions) -> tuple[str, ...]:
    """The command line run_all.py gives packetdrill for *case*, then the user's flags."""
    if not options.upstream_flags:
        return (f"--ip_version={case.mode.value}", *options.extra_flags)
    return (*UPSTREAM_COMMON_FLAGS, *UPSTREAM_MODE_FLAGS[case.mode], *options.extra_flags)


def run_suite(
    cases: Sequence[Case], options: SuiteOptions, listener: Listener | None = None
) -> SuiteResult:
    """Run *cases* ``options.jobs`` at a time; see the module doc for interrupts."""
    listener = listener or QuietListener()
    start = time.monotonic()
    results: dict[int, CaseResult] = {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, options.jobs),
                                 thread_name_prefix="drillbook-suite")
    stop = threading.Event()
    futures = {pool.submit(_run_one, case, options, listener, stop): index
               for index, case in enumerate(cases)}
    interrupted = False
    try:
        for future in cf.as_completed(futures):
            results[futures[future]] = future.result()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        for future in futures:
            future.cancel()
        _stop_running(futures)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if interrupted:
        results.update(_collect_done(futures))
    ordered = tuple(results[index] for index in sorted(results))
    return SuiteResult(ordered, time.monotonic() - start, options.jobs, interrupted)


def _stop_running(futures: dict[cf.Future[CaseResult], int]) -> None:
    """Kill workers until every running case has returned: a thread may still be parsing
    its script and spawn its worker after the first kill."""
    running = {future for future in futures if not future.done()}
    while running:
        kill_child_workers()
        _, running = cf.wait(running, timeout=0.1)


def _run_one(case: Case, options: SuiteOptions, listener: Listener,
             stop: threading.Event) -> CaseResult:
    if stop.is_set():
        raise cf.CancelledError  # interrupted before this case began
    listener.started(case)
    flags = case_flags(case, options)
    result = run_with_retries(options.attempt, case, flags, options.timeout_s, options.retries)
    listener.finished(result)
    return result


def _collect_done(futures: dict[cf.Future[CaseResult], int]) -> dict[int, CaseResult]:
    done = {}
    for future, index in futures.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            done[index] = future.result()
    return done


def kill_child_workers() -> list[int]:
    """SIGKILL the process group of every direct child of this process; return their pids.

    The children are the workers, or the runtime's fork server (zygote) whose forked workers
    die with it (parent-death signal); each worker leads its own session and takes its shell
    commands with it, so nothing of a run survives."""
    killed = []
    for pid in _children(os.getpid()):
        try:
            os.killpg(pid, signal.SIGKILL)
            killed.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return killed


def _children(parent: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        if int(raw[raw.rindex(b")") + 2:].split()[1]) == parent:
            pids.append(int(name))
    return pids
