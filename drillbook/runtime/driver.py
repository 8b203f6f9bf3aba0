"""The driver: runs one parsed script inside the sandbox and returns its Trace.

Theory of operation (packetdrill's run.c, run_packet.c, run_system_call.c):
- Before time 0 the init command runs; time 0 starts just after a clock tick.
- Events run in order. A relative time is anchored to when the previous event finished, except
  that consecutive inbound packets are anchored to the previous one's schedule.
- Inbound packets, syscalls, commands and code snapshots wait for their time and then check
  that they are not late. Outbound packets are sniffed at once (early packets count) and their
  kernel timestamp is checked against the schedule.
- The first failure ends the run: only the cleanup command then runs. On success: cleanup
  command, then the deferred %{ }% code, then RSTs for the connection under test.
The decisions (mapping, matching, wording) are the engine's; this module does the I/O.
"""

from __future__ import annotations

import ctypes
import gc
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from drillbook.config import RunConfig
from drillbook.engine.expected import expected_tcp
from drillbook.engine.packets import InboundPacket, OutboundVerdict, PacketEngine, PacketFailure
from drillbook.engine.records import lazy_script_record as script_record
from drillbook.engine.records import materialize
from drillbook.engine.timing import Schedule, Tolerance, adjust, sniff_timeout_us, verify_time
from drillbook.runtime.blocking import (
    BlockingCall,
    BlockingCallThread,
    install_sigchld_handler,
)
from drillbook.runtime.clock import RunClock
from drillbook.runtime.code import CodeRecorder
from drillbook.runtime.readiness import returns_at_once
from drillbook.runtime.recorder import RawTcpInfo, TraceRecorder
from drillbook.runtime.rehearsal import rehearse
from drillbook.runtime.sandbox import Sandbox
from drillbook.runtime.syscall_args import SyscallFailure
from drillbook.runtime.syscalls import SocketAddresses, SyscallExecutor, SyscallOutcome
from drillbook.runtime.tcpinfo import TCP_INFO_SIZE, SockoptReadError
from drillbook.runtime.worker import WorkerTimeout
from drillbook.script.model import (
    CodeBlock,
    Direction,
    Event,
    PacketSpec,
    Script,
    ShellCommand,
    SyscallSpec,
    TcpSpec,
    TimeKind,
)
from drillbook.trace.model import FailureKind, Outcome, StepKind, Trace

TCP_INFO = 11  # <netinet/tcp.h>
STALL_US = 1500  # longer between two events than this, and drillbook was stalled
FOREVER_S = 3600.0  # `*` times: no sniff timeout (the worker's own timeout still applies)
SHELL_TIMEOUT_S = 120.0  # drillbook's guard: packetdrill would hang forever
EXPLORE_WAIT_US = 500_000  # in explore mode, how long past its time to wait for a `>` packet


class EventFailure(Exception):
    """Ends the run at an event (internal to the driver; the trace records it as data)."""

    def __init__(
        self,
        kind: FailureKind,
        line: int,
        message: str,
        details: tuple[str, ...] = (),
        field_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.line = line
        self.message = message
        self.details = details
        self.field_name = field_name


@dataclass
class RunOptions:
    explore: bool = False
    explore_grace_us: int = 300_000


@dataclass
class _EventState:
    schedule: Schedule
    index: int


class ScriptRun:
    """One run of one script in one sandbox."""

    def __init__(
        self,
        script: Script,
        config: RunConfig,
        sandbox: Sandbox,
        options: RunOptions,
        ephemeral_port: Callable[[], int] = lambda: 0,
    ) -> None:
        self.script = script
        self.config = config
        self.sandbox = sandbox
        self.options = options
        self.clock = RunClock()
        self.tolerance = Tolerance(config.tolerance_usecs, config.tolerance_percent)
        addresses = sandbox.addresses
        self.engine = PacketEngine(config, addresses, ephemeral_port)
        self.executor = SyscallExecutor(
            config,
            SocketAddresses(
                family=addresses.socket_family,
                local_ip=addresses.bind_ip,
                remote_ip=addresses.connect_ip,
                bind_port=config.bind_port,
                connect_port=config.connect_port,
            ),
            self.clock.now_us,
            # At once: a blocking connect's SYN goes out before the call returns.
            on_event=self.engine.on_socket_event,
        )
        self.recorder = TraceRecorder(script, config, addresses)
        self.code = CodeRecorder()
        self.blocking: BlockingCallThread | None = None
        self.async_failure: EventFailure | None = None
        self.init_ran = False
        self.last_event: Event | None = None
        self.current_event: Event | None = None
        self.last_schedule: Schedule | None = None
        self.completed_us: int | None = None  # when the previous event's action finished
        self.reset_sent = False
        self.prepared: dict[int, InboundPacket | PacketFailure] = {}  # inbound bursts, built early
        self._info_buffer = ctypes.create_string_buffer(TCP_INFO_SIZE)
        self._info_length = ctypes.c_uint(TCP_INFO_SIZE)
        self.verbose: list[str] = []

    # -- the run -------------------------------------------------------------------------------

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
        self.clock.now_us()

    def _run(self) -> Trace:
        self._warm_up()
        if any(
            isinstance(e.action, SyscallSpec) and e.action.is_blocking for e in self.script.events
        ):
            self._start_blocking_thread()  # ready before time 0, not created mid-script
        try:
            self._run_init_command()
            self.clock.start()
            self.recorder.started_at = self.clock.started_at
            for index, event in enumerate(self.script.events):
                self.current_event = event
                self._raise_async_failure()
                self._run_event(index, event)
                self.last_event = event
            self._finish_success()
        except EventFailure as failure:
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
        return self.recorder.build(output="\n".join(self.verbose))

    def _raise_async_failure(self) -> None:
        if self.async_failure is not None:
            raise self.async_failure

    def _anchor(self, event: Event) -> int:
        """What a relative time counts from (see the module docstring)."""
        if (
            self.last_event is not None
            and self.last_schedule is not None
            and _is_inbound(self.last_event)
            and _is_inbound(event)
        ):
            return self.last_schedule.start_us
        # packetdrill reads "now" microseconds after the previous event's action finished; in
        # Python the bookkeeping in between takes far longer, and counting it would make every
        # relative time drift (scripts that check kernel timestamps against absolute script
        # time fail on that drift). So a relative time counts from when the previous action
        # finished. An outbound packet always does (it is checked against the kernel's own
        # timestamp); an event drillbook performs itself falls back to "now" after a stall,
        # so that a hiccup of drillbook's never makes that event look late.
        now = self.clock.now_us()
        if self.completed_us is not None and (
            _is_outbound(event) or now - self.completed_us <= STALL_US
        ):
            return self.completed_us
        return now

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
        state = _EventState(schedule, index)
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

    def _step(
        self, event: Event, state: _EventState, kind: StepKind, outcome: Outcome, **fields: Any
    ) -> None:
        """Record what an event did, at its scheduled time."""
        self.recorder.step(
            state.index, event, kind, outcome, scheduled_us=state.schedule.start_us, **fields
        )

    def _previous_us(self) -> int | None:
        return None if self.last_schedule is None else self.last_schedule.start_us

    def _wait_for(self, event: Event, state: _EventState, description: str) -> int:
        """packetdrill's wait_for_event: wait, then fail if we start late (not for event 0)."""
        actual = self.clock.wait_until(state.schedule.start_us)
        if state.index > 0:
            error = verify_time(
                event.time.kind,
                state.schedule,
                actual,
                self._previous_us(),
                self.tolerance,
                description,
            )
            if error:
                self._step(
                    event, state, _kind_of(event), Outcome.FAILED, actual_us=actual, message=error
                )
                raise EventFailure(FailureKind.TIMING, event.line, error)
        return actual

    # -- packets -------------------------------------------------------------------------------

    def _prepare_burst(self, index: int) -> None:
        """Build this inbound packet and the inbound packets that follow it at once, before
        the first one's time: a burst (`+0 <`, `+0 <`, ...) is then written back to back.
        Nothing between two consecutive inbound packets changes how they are mapped."""
        events = self.script.events
        while index < len(events) and _is_inbound(events[index]):
            action = events[index].action
            assert isinstance(action, PacketSpec)
            self.prepared[index] = self.engine.prepare_inbound(action, events[index].line)
            index += 1

    def _run_inbound(self, event: Event, spec: PacketSpec, state: _EventState) -> None:
        if state.index not in self.prepared:
            self._prepare_burst(state.index)
        prepared = self.prepared.pop(state.index)
        if isinstance(prepared, PacketFailure):
            self._packet_failure(event, state, prepared, None)
        self._wait_for(event, state, "inbound packet")
        # Like packetdrill, an injection happens at the moment it is sent, before the kernel
        # processes it (and perhaps answers) inside the write; it completes after the write.
        actual = self.clock.now_us()
        sent_ns = self.sandbox.inject(prepared.data, prepared.gso_type, prepared.gso_size)
        self.completed_us = self.clock.to_script_us(sent_ns)
        if self.blocking is not None:
            self.blocking.let_return()
        record = self.engine.record(prepared.data, "<", actual)
        self.recorder.packet(record)
        if self.config.verbose:
            self.verbose.append(f"inbound injected packet: {actual / 1e6:9.6f} {_summary(record)}")
        expected = script_record(spec, "<", state.schedule.start_us)
        self._step(
            event,
            state,
            StepKind.INBOUND,
            Outcome.OK,
            actual_us=actual,
            expected=expected,
            actual=record,
            tcp_info=self._tcp_info(actual),
        )

    def _run_outbound(self, event: Event, spec: PacketSpec, state: _EventState) -> None:
        matcher = self.engine.begin_outbound(spec, event.line)
        if isinstance(matcher, PacketFailure):
            self._packet_failure(event, state, matcher, None)
        last_us = self._previous_us() or 0
        timeout = sniff_timeout_us(state.schedule, event.time.kind, last_us)
        if self.options.explore:
            timeout = max(0, state.schedule.end_us - self.clock.now_us()) + EXPLORE_WAIT_US
        sniff_start = state.schedule.offset_us if event.time.is_relative else self._anchor(event)
        while True:
            self._raise_async_failure()
            got = self.sandbox.read_outbound(FOREVER_S if timeout is None else timeout / 1e6)
            if got is None:
                self._outbound_timeout(event, spec, state)
                return
            raw, ts_ns = got
            when = self.clock.to_script_us(ts_ns)
            # packetdrill reads a packet within microseconds of the kernel sending it (or at
            # once, if it was already queued when sniffing began): that is when this event
            # completes, whatever drillbook's own read latency.
            self.completed_us = max(when, sniff_start)
            verdict = matcher.feed(raw, when)
            if verdict.kind == "skip":
                continue
            record = verdict.record
            if record is not None:
                self.recorder.packet(record)
                if self.config.verbose:
                    self.verbose.append(
                        f"outbound sniffed packet: {when / 1e6:9.6f} {_summary(record)}"
                    )
            if verdict.kind == "more":
                continue
            self._finish_outbound(event, spec, state, verdict)
            return

    def _finish_outbound(
        self, event: Event, spec: PacketSpec, state: _EventState, verdict: OutboundVerdict
    ) -> None:
        actual_record = verdict.actual
        actual_us = actual_record.time_us if actual_record else None
        expected = script_record(spec, ">", state.schedule.start_us)
        failure = verdict.failure
        if failure is not None:
            failure = self.engine.with_dumps(failure, spec, state.schedule.start_us, actual_record)
        if failure is None and actual_us is not None:
            timing = verify_time(
                event.time.kind,
                state.schedule,
                actual_us,
                self._previous_us(),
                self.tolerance,
                "outbound packet",
            )
            if timing:
                failure = self.engine.describe_failure(
                    timing, spec, state.schedule.start_us, actual_record, FailureKind.TIMING
                )
        if self.options.explore:
            outcome = Outcome.OK if failure is None else Outcome.WARNING
            self._step(
                event,
                state,
                StepKind.OUTBOUND,
                outcome,
                actual_us=actual_us,
                end_scheduled_us=state.schedule.end_us,
                expected=expected,
                actual=actual_record,
                message=None if failure is None else failure.message,
                tcp_info=self._tcp_info(actual_us),
            )
            return
        if failure is not None and self.config.non_fatal_packet and failure.non_fatal:
            self.recorder.warn(
                f"{self.script.source.name}:{event.line}: warning handling packet: "
                f"{failure.message}"
            )
            self._step(
                event,
                state,
                StepKind.OUTBOUND,
                Outcome.WARNING,
                actual_us=actual_us,
                expected=expected,
                actual=actual_record,
                message=failure.message,
                tcp_info=self._tcp_info(actual_us),
            )
            return
        if failure is not None:
            self._packet_failure(event, state, failure, actual_record)
        self._step(
            event,
            state,
            StepKind.OUTBOUND,
            Outcome.OK,
            actual_us=actual_us,
            end_scheduled_us=state.schedule.end_us,
            expected=expected,
            actual=actual_record,
            tcp_info=self._tcp_info(actual_us),
        )

    def _outbound_timeout(self, event: Event, spec: PacketSpec, state: _EventState) -> None:
        expected = script_record(spec, ">", state.schedule.start_us)
        if self.options.explore:
            self._step(
                event,
                state,
                StepKind.OUTBOUND,
                Outcome.WARNING,
                expected=expected,
                message="no packet",
            )
            return
        message = "error handling packet: Timed out waiting for packet"
        self._step(
            event,
            state,
            StepKind.OUTBOUND,
            Outcome.FAILED,
            expected=expected,
            message=message,
        )
        raise EventFailure(FailureKind.TIMEOUT, event.line, message)

    def _packet_failure(
        self, event: Event, state: _EventState, failure: PacketFailure, actual: Any
    ) -> NoReturn:
        message = f"error handling packet: {failure.message}"
        expected = None
        if isinstance(event.action, PacketSpec):
            expected = script_record(
                event.action, event.action.direction.value, state.schedule.start_us
            )
        kind = (
            StepKind.INBOUND
            if (
                isinstance(event.action, PacketSpec) and event.action.direction is Direction.INBOUND
            )
            else StepKind.OUTBOUND
        )
        self._step(
            event,
            state,
            kind,
            Outcome.FAILED,
            actual_us=actual.time_us if actual is not None else None,
            expected=expected,
            actual=actual,
            message=message,
        )
        raise EventFailure(failure.kind, event.line, message, failure.details, failure.field_name)

    # -- syscalls ------------------------------------------------------------------------------

    def _run_syscall(self, event: Event, spec: SyscallSpec, state: _EventState) -> None:
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

    def _run_blocking_syscall(self, event: Event, spec: SyscallSpec, state: _EventState) -> None:
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
            # without the hand-over's delay (see runtime/readiness.py).
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
        state: _EventState,
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
            self._step(
                event,
                state,
                StepKind.SYSCALL,
                Outcome.FAILED,
                actual_us=actual_us,
                end_scheduled_us=end_us,
                syscall=record,
                message=message,
            )
            raise EventFailure(FailureKind.SYSCALL, event.line, message)
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

    # -- commands and code ----------------------------------------------------------------------

    def _shell(self, command: str) -> Any:
        result = self.sandbox.run_shell(command, {}, SHELL_TIMEOUT_S)
        if self.blocking is not None:
            self.blocking.interrupt()  # the SIGCHLD packetdrill's system(3) leaves behind
        return result

    def _run_init_command(self) -> None:
        if self.script.init_command is None:
            return
        result = self._shell(self.script.init_command.command)
        if result.output:
            self.verbose.append(result.output)
        self.recorder.command_output(result.output)
        self.init_ran = True
        if result.returncode != 0:
            line = self.script.init_command.span.line
            raise EventFailure(
                FailureKind.COMMAND,
                line,
                f"error executing init command: {_status_text(result.returncode)}",
            )

    def _run_cleanup_command(self, after_failure: bool = False) -> None:
        cleanup = self.script.cleanup_command
        if cleanup is None or not self.init_ran:
            return
        result = self._shell(cleanup.command)
        self.recorder.command_output(result.output)
        if result.returncode != 0 and not after_failure:
            raise EventFailure(
                FailureKind.COMMAND,
                cleanup.span.line,
                f"error executing cleanup command: {_status_text(result.returncode)}",
            )

    def _run_command(self, event: Event, spec: ShellCommand, state: _EventState) -> None:
        actual = self._wait_for(event, state, "command")
        result = self._shell(spec.command)
        self.completed_us = self.clock.now_us()
        self.recorder.command_output(result.output)
        if result.returncode != 0:
            message = f"error executing `{spec.command}` command: {_status_text(result.returncode)}"
            self._step(
                event,
                state,
                StepKind.COMMAND,
                Outcome.FAILED,
                actual_us=actual,
                message=message,
            )
            raise EventFailure(FailureKind.COMMAND, event.line, message)
        self._step(
            event,
            state,
            StepKind.COMMAND,
            Outcome.OK,
            actual_us=actual,
            tcp_info=self._tcp_info(actual),
        )

    def _run_code(self, event: Event, spec: CodeBlock, state: _EventState) -> None:
        actual = self._wait_for(event, state, "data collection for code")
        try:
            if self.engine.socket is None:
                raise SockoptReadError("no socket to use for code")
            live_fd = self.engine.socket_live_fd()
            if live_fd is None:  # a child not accepted yet: packetdrill's getsockopt(-1) fails
                raise SockoptReadError("can't find getsockopt to get TCP info")
            values = self.executor.code_snapshot(live_fd)
        except SockoptReadError as error:
            message = f"runtime error in code: {error}"
            self._step(
                event, state, StepKind.CODE, Outcome.FAILED, actual_us=actual, message=message
            )
            raise EventFailure(FailureKind.CODE, event.line, message) from None
        self.completed_us = self.clock.now_us()
        self.code.snapshot(spec, event.line, values)
        self._step(
            event,
            state,
            StepKind.CODE,
            Outcome.OK,
            actual_us=actual,
            tcp_info=self._tcp_info(actual),
        )

    # -- the end -------------------------------------------------------------------------------

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
                line, message, details = _code_error(result.error or "error in Python code")
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
        for packet in self.engine.reset_packets():
            self.sandbox.inject(packet)

    def _settle_blocking_call(self) -> None:
        """Give an interrupted blocking call a moment to return, and fail if it failed."""
        if self.blocking is not None:
            self.blocking.await_idle(0.05)
        self._raise_async_failure()

    def _sniff_for(self, duration_us: int) -> None:
        deadline = self.clock.now_us() + duration_us
        while True:
            left = deadline - self.clock.now_us()
            if left <= 0:
                return
            got = self.sandbox.read_outbound(left / 1e6)
            if got is None:
                return
            record = self.engine.observe(got[0], self.clock.to_script_us(got[1]))
            if record is not None:
                self.recorder.packet(record)

    def _drain_remaining_packets(self) -> None:
        """Record what the kernel sent that no `>` line read (for figures, not the verdict)."""
        try:
            while True:
                got = self.sandbox.read_outbound(0.0)
                if got is None:
                    return
                record = self.engine.observe(got[0], self.clock.to_script_us(got[1]))
                if record is not None:
                    self.recorder.packet(record)
        except OSError:
            return

    def _shutdown(self) -> None:
        if self.blocking is not None:
            self.blocking.stop()
        self.executor.close_all()

    def _tcp_info(self, when_us: int | None) -> RawTcpInfo | None:
        """The socket under test's TCP_INFO bytes now (decoded after the run); one reusable
        buffer keeps this to a few microseconds."""
        live_fd = self.engine.socket_live_fd()
        if live_fd is None:
            return None
        self._info_length.value = TCP_INFO_SIZE
        libc = self.executor.runtime.libc
        status = libc.getsockopt(
            live_fd,
            socket.IPPROTO_TCP,
            TCP_INFO,
            self._info_buffer,
            ctypes.byref(self._info_length),
        )
        if status != 0:
            return None
        data = self._info_buffer.raw[: self._info_length.value]
        return RawTcpInfo(when_us if when_us is not None else self.clock.now_us(), data)


def _summary(record: Any) -> str:
    shown = materialize(record)
    return shown.summary if shown is not None else ""


def _is_inbound(event: Event) -> bool:
    return isinstance(event.action, PacketSpec) and event.action.direction is Direction.INBOUND


def _is_outbound(event: Event) -> bool:
    return isinstance(event.action, PacketSpec) and event.action.direction is Direction.OUTBOUND


def _kind_of(event: Event) -> StepKind:
    action = event.action
    if isinstance(action, PacketSpec):
        return StepKind.INBOUND if action.direction is Direction.INBOUND else StepKind.OUTBOUND
    if isinstance(action, SyscallSpec):
        return StepKind.SYSCALL
    if isinstance(action, ShellCommand):
        return StepKind.COMMAND
    return StepKind.CODE


def _status_text(returncode: int) -> str:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"non-zero exit status {returncode}"


def _code_error(text: str) -> tuple[int, str, tuple[str, ...]]:
    """Split the code runner's error into (line, first message, the rest)."""
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "error in Python code"
    line_no = 0
    parts = first.split(":", 2)
    if len(parts) == 3 and parts[1].strip().isdigit():
        line_no = int(parts[1])
        first = parts[2].strip()
    return line_no, first, tuple(lines[1:])
