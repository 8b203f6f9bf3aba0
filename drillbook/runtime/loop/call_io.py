"""The syscall side of the loop: a call made at once, or a blocking `...` call on the syscall
thread (unless its data is already queued, see syscalls/readiness.py)."""

from __future__ import annotations

import sys
import threading

from drillbook.engine.actions import Call, RunFailure
from drillbook.runtime.loop.blocking import (
    BlockingCall,
    BlockingCallThread,
    install_sigchld_handler,
)
from drillbook.runtime.loop.state import EventFailure, RunState
from drillbook.runtime.syscalls.args import SyscallFailure
from drillbook.runtime.syscalls.readiness import returns_at_once
from drillbook.trace.model import FailureKind

HANDOVER_US = 2000  # how long before its time a blocking call goes to its thread


class CallIO:
    """Call actions over the run's syscall host, and the blocking-call thread."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def call(self, action: Call) -> None:
        if action.end_us is not None:
            self._blocking_call(action)
            return
        state = self.state
        if state.blocking is not None:
            state.blocking.await_idle()  # packetdrill waits up to 1 s, then runs anyway
        actual = self._start(action)
        outcome = state.syscalls.execute(action.spec, action.at_us)
        state.interpreter.completed(state.clock.now_us())
        record = state.recorder.syscall_record(action.spec, outcome, None)
        state.record(state.interpreter.judge_call(action, outcome.error, record, actual, None))

    def _start(self, action: Call) -> int:
        """Wait for the call's time; fail if it starts late."""
        state = self.state
        state.idle(action.at_us)
        actual = state.clock.wait_until(action.at_us)
        late = state.interpreter.check_start(action.current, actual, "system call start")
        if late is not None:
            state.record(late)
        return actual

    def start_thread(self) -> BlockingCallThread:
        install_sigchld_handler()
        # A returning blocking call must not wait for the GIL while the main thread spins
        # toward its next event: hand the GIL over within 100 µs instead of 5 ms.
        sys.setswitchinterval(1e-4)
        self.state.blocking = BlockingCallThread()
        return self.state.blocking

    def _blocking_call(self, action: Call) -> None:
        state = self.state
        blocking = state.blocking
        if blocking is None:
            blocking = self.start_thread()
        elif not blocking.await_idle():
            raise EventFailure(RunFailure(
                FailureKind.SYSCALL, action.current.line,
                f"runtime error in {action.spec.name} call: blocking system call while another "
                "blocking system call is already in progress",
            ))
        # Hand the call over a little ahead of its time: the thread then waits for the time
        # itself, so its wake-up (~0.4 ms here) does not delay the call.
        state.idle(action.at_us - HANDOVER_US)
        clock, host = state.clock, state.syscalls
        thread_ident = blocking.ident or 0
        clock.wait_until(action.at_us - HANDOVER_US)
        args = host.evaluated_arguments(action.spec)
        if not isinstance(args, SyscallFailure) and returns_at_once(
            action.spec.name, args, host.live_fd
        ):
            # Its data is already queued: made here, it returns as it would on the thread,
            # without the hand-over's delay (see runtime/syscalls/readiness.py).
            actual = self._start(action)
            with host.errno_of(thread_ident):
                self._run_blocking(action, actual)
            entered_ns = host.entered_ns(threading.get_ident())
            state.interpreter.completed(
                clock.to_script_us(entered_ns) if entered_ns else clock.now_us()
            )
            state.raise_async_failure()  # the thread would die at once on a failed check
            return
        submitted_us = clock.now_us()
        host.watch_entering(thread_ident, blocking.entering)
        blocking.submit(BlockingCall(action.current.line, action.spec.name,
                                     lambda: self._start_blocking(action)))
        state.raise_async_failure()  # it started late: the thread made no call
        # The call started when the thread entered the C call: packetdrill's main thread sees
        # that within microseconds, drillbook's only after polling /proc. Count from there.
        entered_ns = host.entered_ns(thread_ident)
        entered_us = clock.to_script_us(entered_ns) if entered_ns else None
        state.interpreter.completed(
            entered_us if entered_us is not None and entered_us >= submitted_us
            else clock.now_us()
        )

    def _start_blocking(self, action: Call) -> None:
        """On the blocking-call thread: wait for the call's time, check the start is not late
        (as the main thread does for other events), then make the call."""
        state = self.state
        actual = state.clock.wait_until(action.at_us)
        late = state.interpreter.check_start(action.current, actual, "system call start")
        if late is not None:
            try:
                state.record(late)
            except EventFailure as failure:
                state.async_failure = failure.failure
            return
        self._run_blocking(action, actual)

    def _run_blocking(self, action: Call, actual_us: int) -> None:
        """The call and its checks, on whichever thread makes it; a failure is kept for the
        main thread (packetdrill's syscall thread dies and ends the run)."""
        state = self.state
        outcome = state.syscalls.execute(action.spec, action.at_us)
        # The return time is taken as the C call came back, not after the result checks.
        clock = state.clock
        returned_ns = outcome.returned_ns
        returned = clock.to_script_us(returned_ns) if returned_ns else clock.now_us()
        record = state.recorder.syscall_record(action.spec, outcome, returned)
        report = state.interpreter.judge_call(action, outcome.error, record, actual_us, returned)
        try:
            state.record(report)
        except EventFailure as failure:
            state.async_failure = failure.failure
            return
        late = state.interpreter.judge_return(action, returned)
        if late is not None:
            state.async_failure = late

    def settle(self) -> None:
        """Give an interrupted blocking call a moment to return, and fail if it failed."""
        state = self.state
        if state.blocking is not None:
            state.blocking.await_idle(0.05)
        state.raise_async_failure()
