"""What every step of a run shares: the run's state, its clock and schedule, and recording.

ScriptRun (driver.py) is assembled from this base and three kinds of steps: packets
(packet_steps.py), syscalls (syscall_steps.py), shell commands and code (command_steps.py).
"""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from drillbook.config import RunConfig
from drillbook.engine.packets import InboundPacket, PacketEngine, PacketFailure
from drillbook.engine.records import materialize
from drillbook.engine.timing import Schedule, Tolerance, verify_time
from drillbook.runtime.capture.observer import RunObserver
from drillbook.runtime.loop.blocking import BlockingCallThread
from drillbook.runtime.loop.clock import RunClock
from drillbook.runtime.loop.code import CodeRecorder
from drillbook.runtime.loop.recorder import RawTcpInfo, TraceRecorder
from drillbook.runtime.sandbox.tun import Sandbox
from drillbook.runtime.syscalls.executor import SocketAddresses, SyscallExecutor
from drillbook.runtime.syscalls.tcpinfo import TCP_INFO, TCP_INFO_SIZE
from drillbook.script.model import Direction, Event, PacketSpec, Script, ShellCommand, SyscallSpec
from drillbook.trace.model import FailureKind, Outcome, StepKind

STALL_US = 1500  # longer between two events than this, and drillbook was stalled


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
class EventState:
    schedule: Schedule
    index: int


class RunBase:
    """One run's state and the helpers all its steps use."""

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
        # Kernel evidence (runtime/capture/observer.py): cookies, counters, the capture's gate.
        self.observer = RunObserver(
            dict(config.extra).get("capture_instance", ""), self.executor.fd_entries
        )
        self.last_step_index = -1
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

    def _raise_async_failure(self) -> None:
        if self.async_failure is not None:
            raise self.async_failure

    def _anchor(self, event: Event) -> int:
        """What a relative time counts from (see the theory of operation in driver.py)."""
        if (
            self.last_event is not None
            and self.last_schedule is not None
            and is_inbound(self.last_event)
            and is_inbound(event)
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
            is_outbound(event) or now - self.completed_us <= STALL_US
        ):
            return self.completed_us
        return now

    def _step(
        self, event: Event, state: EventState, kind: StepKind, outcome: Outcome, **fields: Any
    ) -> None:
        """Record what an event did, at its scheduled time."""
        self.recorder.step(
            state.index, event, kind, outcome, scheduled_us=state.schedule.start_us, **fields
        )
        self.last_step_index = max(self.last_step_index, state.index)
        self.observer.after_step(state.index, event.line, state.schedule.start_us)

    def _fail(
        self,
        event: Event,
        state: EventState,
        kind: StepKind,
        failure: FailureKind,
        message: str,
        **fields: Any,
    ) -> NoReturn:
        """Record the event as failed with ``message``, and end the run there."""
        self._step(event, state, kind, Outcome.FAILED, message=message, **fields)
        raise EventFailure(failure, event.line, message)

    def _previous_us(self) -> int | None:
        return None if self.last_schedule is None else self.last_schedule.start_us

    def _wait_for(self, event: Event, state: EventState, description: str) -> int:
        """packetdrill's wait_for_event: wait, then fail if we start late (not for event 0)."""
        self.observer.idle(self.last_step_index, self.clock.now_us(), state.schedule.start_us)
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
                kind = kind_of(event)
                self._fail(event, state, kind, FailureKind.TIMING, error, actual_us=actual)
        return actual

    def _tcp_info(self, when_us: int | None) -> RawTcpInfo | None:
        """The socket under test's TCP_INFO bytes now (decoded after the run); one reusable
        buffer keeps this to a few microseconds."""
        live_fd = self.engine.socket_live_fd()
        if live_fd is None:
            return None
        return self._read_tcp_info(live_fd, when_us)

    def _read_tcp_info(self, live_fd: int, when_us: int | None) -> RawTcpInfo | None:
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


def summary(record: Any) -> str:
    shown = materialize(record)
    return shown.summary if shown is not None else ""



def is_inbound(event: Event) -> bool:
    return isinstance(event.action, PacketSpec) and event.action.direction is Direction.INBOUND



def is_outbound(event: Event) -> bool:
    return isinstance(event.action, PacketSpec) and event.action.direction is Direction.OUTBOUND



def kind_of(event: Event) -> StepKind:
    action = event.action
    if isinstance(action, PacketSpec):
        return StepKind.INBOUND if action.direction is Direction.INBOUND else StepKind.OUTBOUND
    if isinstance(action, SyscallSpec):
        return StepKind.SYSCALL
    if isinstance(action, ShellCommand):
        return StepKind.COMMAND
    return StepKind.CODE
