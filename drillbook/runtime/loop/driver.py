"""The driver: runs one parsed script inside the sandbox and returns its Trace.

Theory of operation (packetdrill's run.c, run_packet.c, run_system_call.c):
- Before time 0 the init command runs, and every event's code path is rehearsed on scratch
  state (rehearsal.py); time 0 starts just after a clock tick.
- Events run in order. A relative time is anchored to when the previous event finished, except
  that consecutive inbound packets are anchored to the previous one's schedule.
- Inbound packets, syscalls, commands and code snapshots wait for their time and then check
  that they are not late. Outbound packets are sniffed at once (early packets count) and their
  kernel timestamp is checked against the schedule. A `...` syscall runs on the syscall
  thread (blocking.py) while the script goes on, unless its data is already queued
  (syscalls/readiness.py).
- The first failure ends the run: only the cleanup command then runs. On success: cleanup
  command, then the deferred %{ }% code, then RSTs for the connection under test.
The decisions (mapping, matching, wording) are the engine's; this module does the I/O.
"""

from __future__ import annotations

import contextlib
import gc
import socket

from drillbook.engine.expected import expected_tcp
from drillbook.engine.records import lazy_script_record as script_record
from drillbook.engine.records import materialize
from drillbook.engine.timing import adjust
from drillbook.runtime.loop.base import EventFailure, EventState, RunOptions
from drillbook.runtime.loop.command_steps import CommandSteps, code_error
from drillbook.runtime.loop.deadline import WorkerTimeout
from drillbook.runtime.loop.packet_steps import PacketSteps
from drillbook.runtime.loop.rehearsal import rehearse
from drillbook.runtime.loop.syscall_steps import SyscallSteps
from drillbook.runtime.syscalls.tcpinfo import SockoptReadError
from drillbook.script.model import (
    Direction,
    Event,
    PacketSpec,
    ShellCommand,
    SyscallSpec,
    TcpSpec,
    TimeKind,
)
from drillbook.trace.model import FailureKind, Trace

__all__ = ["EventFailure", "RunOptions", "ScriptRun"]


class ScriptRun(PacketSteps, SyscallSteps, CommandSteps):
    """One run of one script in one sandbox."""

    def run(self) -> Trace:
        # A collection of the older generations can stall for milliseconds: none during a run.
        gc.disable()
        try:
            return self._run()
        finally:
            gc.enable()

    def _warm_up(self) -> None:
        """Before time 0, walk the hot paths once: the first call of a function in a freshly
        forked worker pays for page faults and specialisation, which must not land on an
        event's clock."""
        for event in self.script.events:
            action = event.action
            if isinstance(action, PacketSpec) and isinstance(action.body, TcpSpec):
                expected_tcp(action.body)
                materialize(script_record(action, action.direction.value, 0))
        self.engine.warm_up()
        rehearse(self.script.events, self.executor, self.config, self.sandbox.addresses)
        # The socket reads of a TCP_INFO step and of a %{ }% block, on a throwaway socket (the
        # first %{ }% read took ~190 µs in a fresh worker, ~10 µs after).
        with socket.socket(self.sandbox.addresses.socket_family, socket.SOCK_STREAM) as probe:
            self._read_tcp_info(probe.fileno(), 0)
            with contextlib.suppress(SockoptReadError):
                self.executor.code_snapshot(probe.fileno())
        self.clock.now_us()

    def _run(self) -> Trace:
        self._warm_up()
        if any(
            isinstance(e.action, SyscallSpec) and e.action.is_blocking for e in self.script.events
        ):
            self._start_blocking_thread()  # ready before time 0, not created mid-script
        try:
            self._run_init_command()
            self.observer.before_time_zero()
            self.clock.start()
            self.observer.time_zero(self.clock.start_ns)
            self.recorder.started_at = self.clock.started_at
            for index, event in enumerate(self.script.events):
                self.current_event = event
                self._raise_async_failure()
                self._run_event(index, event)
                self.last_event = event
            self._finish_success()
        except EventFailure as failure:
            if not self.observer.script_end_us:
                self.observer.script_done(self.clock.now_us())
            self.recorder.fail(
                failure.kind, failure.line, failure.message, failure.details, failure.field_name
            )
            self._run_cleanup_command(after_failure=True)
        except WorkerTimeout:
            # The caller's time limit: return what happened so far (RunAborted carries it).
            line = self.current_event.line if self.current_event is not None else 0
            self.recorder.fail(
                FailureKind.RUNTIME,
                line,
                "runtime error: the run exceeded its time limit",
                (),
                None,
            )
        finally:
            if not self.reset_sent:
                self._drain_remaining_packets()
            self._shutdown()
        self.recorder.duration_us = self.clock.now_us()
        self.observer.finish(self.last_step_index, self.recorder.duration_us)
        self.recorder.evidence(self.observer.evidence())
        return self.recorder.build(output="\n".join(self.verbose))

    def _run_event(self, index: int, event: Event) -> None:
        anchor = (
            self._anchor(event) if event.time.is_relative or event.time.kind is TimeKind.ANY else 0
        )
        schedule = adjust(event.time, anchor_us=anchor)
        if index == 0 and event.time.start_us != 0:  # checked on the script's value, as in C
            raise EventFailure(FailureKind.RUNTIME, event.line, "first event should be at time 0")
        if (
            self.last_event is not None
            and self.last_schedule is not None
            and not self.last_event.time.is_relative
            and not event.time.is_relative
            and event.time.kind is not TimeKind.ANY
            and self.last_event.time.kind is not TimeKind.ANY
            and schedule.start_us < self.last_schedule.start_us
        ):
            raise EventFailure(
                FailureKind.RUNTIME,
                event.line,
                f"time goes backward in script from {self.last_schedule.start_us} usec "
                f"to {schedule.start_us} usec",
            )
        state = EventState(schedule, index)
        self.completed_us = None
        action = event.action
        if isinstance(action, PacketSpec):
            if action.direction is Direction.INBOUND:
                self._run_inbound(event, action, state)
            else:
                self._run_outbound(event, action, state)
        elif isinstance(action, SyscallSpec):
            self._run_syscall(event, action, state)
        elif isinstance(action, ShellCommand):
            self._run_command(event, action, state)
        else:
            self._run_code(event, action, state)
        self.last_schedule = schedule

    def _finish_success(self) -> None:
        """packetdrill's end of run: cleanup command, code, then the syscall thread is stopped
        (a call still blocked after 1 s fails the run), then RSTs. A blocking call's own failure
        ends the run as soon as the call returns, as the C thread's die() does."""
        self._raise_async_failure()
        if self.options.explore and self.options.explore_grace_us > 0:
            self._sniff_for(self.options.explore_grace_us)
        self._run_cleanup_command()
        self._settle_blocking_call()
        if self.code.has_blocks:
            result = self.code.run(self.script.path, self.config.code_command, timeout_s=60.0)
            if self.blocking is not None:
                self.blocking.interrupt()
            if result.output:
                self.verbose.append(result.output)
                self.recorder.command_output(result.output)
            if not result.ok:
                # packetdrill dies on the failed code at once, before a blocking call that the
                # interpreter's exit interrupted can report anything.
                line, message, details = code_error(result.error or "error in Python code")
                raise EventFailure(FailureKind.CODE, line, message, details)
            self._settle_blocking_call()
        if self.blocking is not None and not self.blocking.await_idle():
            busy = self.blocking.busy
            line = busy.line if busy else 0
            raise EventFailure(
                FailureKind.SYSCALL,
                line,
                "runtime error: exiting while a blocking system call is in progress",
            )
        self._raise_async_failure()
        # What the kernel sent that no line read belongs in the trace; its answers to the RSTs
        # below (challenge ACKs) do not.
        self._drain_remaining_packets()
        self.reset_sent = True
        self.observer.script_done(self.clock.now_us())  # what follows, no line caused
        for packet in self.engine.reset_packets():
            self.sandbox.inject(packet)

    def _shutdown(self) -> None:
        if self.blocking is not None:
            self.blocking.stop()
        self.executor.close_all()
