"""The blocking-call thread's hand-back after an injection (runtime/loop/blocking.py).

After an injection the main thread steps aside for a blocking call the packet may have woken.
It must not busy-wait there: at real-time priority a spinning main thread kept the woken call
off its CPU, so under a suite's load a blocking write(2) copied its data late and the kernel
queued it differently (tcp-info-sndbuf-limited.pkt then failed at line 18, where the C tool
fails at line 28). These tests measure the main thread's own CPU time, which load does not
inflate, at the worker's scheduling class where the test may set it (root): there a
``time.sleep(0)`` loop spins.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from drillbook.runtime.loop.blocking import BlockingCall, BlockingCallThread


@pytest.fixture(autouse=True)
def realtime() -> Iterator[None]:
    """The worker's SCHED_RR (workers/priority.py) for this thread and the threads it starts, if
    allowed."""
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    # As a normal user the check is weaker: sleep(0) naps there too.
    with contextlib.suppress(PermissionError):
        os.sched_setscheduler(
            0, os.SCHED_RR, os.sched_param(os.sched_get_priority_min(os.SCHED_RR))
        )
    yield
    os.sched_setscheduler(0, *before)


@contextlib.contextmanager
def running(work: Callable[[], object]) -> Iterator[BlockingCallThread]:
    """A blocking-call thread running ``work``; stopped afterwards."""
    thread = BlockingCallThread()
    started = threading.Event()

    def call() -> None:
        started.set()
        work()

    thread.submit(BlockingCall(1, "test", call))
    assert started.wait(2.0)
    try:
        yield thread
    finally:
        thread.await_idle(5.0)
        thread.stop()


def cpu_us_of(action: Callable[[], None]) -> tuple[int, int]:
    """The calling thread's CPU time and the wall time of ``action``, in microseconds."""
    cpu, wall = time.thread_time_ns(), time.monotonic_ns()
    action()
    return (time.thread_time_ns() - cpu) // 1000, (time.monotonic_ns() - wall) // 1000


def test_a_call_asleep_in_the_kernel_is_not_waited_for() -> None:
    read_end, write_end = os.pipe()
    try:
        with running(lambda: os.read(read_end, 1)) as thread:
            time.sleep(0.01)  # now asleep in read(2)
            cpu_us, wall_us = cpu_us_of(lambda: thread.let_return(max_us=200_000))
            # One look at the thread's state, not a wait of up to 200 ms.
            assert wall_us < 100_000
            assert cpu_us < 5_000
            os.write(write_end, b"x")
    finally:
        os.close(read_end)
        os.close(write_end)


def test_the_main_thread_naps_while_a_woken_call_runs() -> None:
    data = bytes(64 << 20)
    done = threading.Event()
    read_end, write_end = os.pipe()

    def woken_then_busy() -> None:
        os.read(read_end, 1)  # asleep until "the packet" below arrives
        while not done.is_set():  # then runnable in C with the GIL released (hashlib does)
            hashlib.sha256(data).digest()

    try:
        with running(woken_then_busy) as thread:
            os.write(write_end, b"x")  # the injection that wakes the call
            time.sleep(0.01)
            cpu_us, wall_us = cpu_us_of(lambda: thread.let_return(max_us=50_000))
            done.set()
    finally:
        os.close(read_end)
        os.close(write_end)
    assert wall_us >= 40_000  # it did wait for the runnable call
    assert cpu_us < wall_us // 2  # ... napping, not spinning
