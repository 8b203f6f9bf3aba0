"""The worker's real-time priority covers the timed part of a run only (workers/priority.py)."""

from __future__ import annotations

import os
import threading

import pytest

from drillbook.runtime.workers.priority import RealtimeWhileTimed


def _policy(tid: int) -> int:
    return os.sched_getscheduler(tid)


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_RR needs CAP_SYS_NICE (root)")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: packetdrill stays at normal "
                    "priority, and so does drillbook")
def test_every_thread_runs_at_sched_rr_from_time_zero_until_the_run_is_over() -> None:
    """Threads started before time 0 (the blocking-call thread) are raised too; when the run
    is over all of them are back at SCHED_OTHER, so the trace is built at normal priority."""
    release = threading.Event()
    started = threading.Event()
    native: list[int] = []

    def worker_thread() -> None:
        native.append(threading.get_native_id())
        started.set()
        release.wait(10)

    thread = threading.Thread(target=worker_thread)
    thread.start()
    started.wait(10)
    main = threading.get_native_id()
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    priority = RealtimeWhileTimed()
    try:
        assert {_policy(main), _policy(native[0])} == {os.SCHED_OTHER}
        priority.before_time_zero()
        assert {_policy(main), _policy(native[0])} == {os.SCHED_RR}
        assert os.sched_getparam(native[0]).sched_priority == os.sched_get_priority_min(
            os.SCHED_RR)
        priority.finish(3, 1000)
        assert {_policy(main), _policy(native[0])} == {os.SCHED_OTHER}
        priority.finish(3, 1000)  # twice (the worker's finally): nothing to undo
    finally:
        release.set()
        thread.join()
        os.sched_setscheduler(0, *before)
