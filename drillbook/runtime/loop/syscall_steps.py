"""The syscall steps of a run: a call made at once, or a blocking `...` call on the syscall
thread (unless its data is already queued, see syscalls/readiness.py)."""

from __future__ import annotations

import sys
import threading
import time

from drillbook.engine.timing import Schedule, verify_time
from drillbook.runtime.loop.base import EventFailure, EventState, RunBase
from drillbook.runtime.loop.blocking import (
    BlockingCall,
    BlockingCallThread,
    install_sigchld_handler,
)
from drillbook.runtime.syscalls.args import SyscallFailure
from drillbook.runtime.syscalls.executor import SyscallOutcome
from drillbook.runtime.syscalls.readiness import returns_at_once
from drillbook.script.model import Event, SyscallSpec
from drillbook.trace.model import FailureKind, Outcome, StepKind


class SyscallSteps(RunBase):
    """Syscall lines, and the blocking-call thread."""

    def _run_syscall(self, event: Event, spec: SyscallSpec, state: EventState) -> None:
        if spec.is_blocking:
            self._run_blocking_syscall(event, spec, state)
            return
        if self.blocking is not None:
            self.blocking.await_idle()  # packetdrill waits up to 1 s, then runs anyway
        actual = self._wait_for(event, state, "system call start")
        outcome = self.executor.execute(spec, state.schedule.start_us)
        self.completed_us = self.clock.now_us()
        self._after_syscall(event, spec, state, outcome, actual, None)

    def _start_blocking_thread(self) -> BlockingCallThread:
        install_sigchld_handler()
        # A returning blocking call must not wait for the GIL while the main thread spins
        # toward its next event: hand the GIL over within 100 µs instead of 5 ms.
        sys.setswitchinterval(1e-4)
        self.blocking = BlockingCallThread()
        return self.blocking

    def _run_blocking_syscall(self, event: Event, spec: SyscallSpec, state: EventState) -> None:
        if self.blocking is None:
            self.blocking = self._start_blocking_thread()
        elif not self.blocking.await_idle():
            raise EventFailure(
                FailureKind.SYSCALL,
                event.line,
                f"runtime error in {spec.name} call: blocking system call while another "
                "blocking system call is already in progress",
            )
        assert spec.end_us is not None
        end_us = spec.end_us + (state.schedule.offset_us if event.time.is_relative else 0)

        # Wait for the start time here, so that the thread enters the kernel at once.
        actual = self._wait_for(event, state, "system call start")

        def call() -> None:
            outcome = self.executor.execute(spec, state.schedule.start_us)
            # The return time is taken as the C call came back, not after the result checks.
            returned = (
                self.clock.to_script_us(outcome.returned_ns)
                if outcome.returned_ns
                else self.clock.now_us()
            )
            try:
                self._after_syscall(event, spec, state, outcome, actual, returned, end_us)
                end = Schedule(end_us, end_us, state.schedule.offset_us)
                error = verify_time(
                    event.time.kind,
                    end,
                    returned,
                    state.schedule.start_us,
                    self.tolerance,
                    "system call return",
                )
                if error:
                    raise EventFailure(FailureKind.TIMING, event.line, error)
            except EventFailure as failure:
                self.async_failure = failure

        libc = self.executor.runtime.libc
        args = self.executor.evaluated_arguments(spec)
        if not isinstance(args, SyscallFailure) and returns_at_once(
            spec.name, args, self.executor.live_fd
        ):
            # Its data is already queued: made here, it returns as it would on the thread,
            # without the hand-over's delay (see runtime/syscalls/readiness.py).
            with self.executor.runtime.errno_of(self.blocking.ident or 0):
                call()
            entered_ns = libc.entered_ns.get(threading.get_ident(), 0)
            self.completed_us = (
                self.clock.to_script_us(entered_ns) if entered_ns else self.clock.now_us()
            )
            self._raise_async_failure()  # the thread would die at once on a failed check
            return
        submitted_ns = time.time_ns()
        libc.entering[self.blocking.ident or 0] = self.blocking.entering
        self.blocking.submit(BlockingCall(event.line, spec.name, call))
        # The call started when the thread entered the C call: packetdrill's main thread sees
        # that within microseconds, drillbook's only after polling /proc. Count from there.
        entered_ns = libc.entered_ns.get(self.blocking.ident or 0, 0)
        if entered_ns >= submitted_ns:
            self.completed_us = self.clock.to_script_us(entered_ns)
        else:
            self.completed_us = self.clock.now_us()

    def _after_syscall(
        self,
        event: Event,
        spec: SyscallSpec,
        state: EventState,
        outcome: SyscallOutcome,
        actual_us: int,
        returned_us: int | None,
        end_us: int | None = None,
    ) -> None:
        record = self.recorder.syscall_record(spec, outcome, returned_us)
        if outcome.error is not None:
            message = outcome.error
            if not message.startswith("runtime error"):
                message = f"runtime error in {spec.name} call: {message}"
            self._fail(
                event,
                state,
                StepKind.SYSCALL,
                FailureKind.SYSCALL,
                message,
                actual_us=actual_us,
                end_scheduled_us=end_us,
                syscall=record,
            )
        self._step(
            event,
            state,
            StepKind.SYSCALL,
            Outcome.OK,
            actual_us=actual_us,
            end_scheduled_us=end_us,
            syscall=record,
            tcp_info=self._tcp_info(returned_us or actual_us),
        )

    def _settle_blocking_call(self) -> None:
        """Give an interrupted blocking call a moment to return, and fail if it failed."""
        if self.blocking is not None:
            self.blocking.await_idle(0.05)
        self._raise_async_failure()
