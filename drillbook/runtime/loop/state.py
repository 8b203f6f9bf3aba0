"""The one state of a run that the loop's parts share, and how a step report is recorded."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drillbook.config import RunConfig
from drillbook.engine.actions import RunFailure, StepReport
from drillbook.engine.interpreter import Interpreter
from drillbook.engine.records import AnyRecord, materialize
from drillbook.runtime.loop.blocking import BlockingCallThread
from drillbook.runtime.loop.code import CodeRecorder
from drillbook.runtime.loop.ports import Clock, Device, RunObserver, SyscallHost
from drillbook.runtime.loop.recorder import RawTcpInfo, TraceRecorder
from drillbook.runtime.loop.rewarm import Rewarm
from drillbook.script.model import Script


class EventFailure(Exception):
    """Ends the run at an event (internal to the loop; the trace records it as data)."""

    def __init__(self, failure: RunFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class RunState:
    """Everything one run holds: what it runs, what it runs on, and what it has recorded."""

    script: Script
    config: RunConfig
    interpreter: Interpreter
    device: Device
    clock: Clock
    syscalls: SyscallHost
    recorder: TraceRecorder
    observers: tuple[RunObserver, ...] = ()
    code: CodeRecorder = field(default_factory=CodeRecorder)
    blocking: BlockingCallThread | None = None
    async_failure: RunFailure | None = None  # a blocking call's failure, seen by the main thread
    init_ran: bool = False
    reset_sent: bool = False
    verbose: list[str] = field(default_factory=list)
    deferred: list[Callable[[], None]] = field(default_factory=list)  # bookkeeping for later
    unread: deque[tuple[bytes, int]] = field(default_factory=deque)  # read ahead of their await
    last_step_index: int = -1
    script_done: bool = False
    rewarm: Rewarm | None = None  # warms the code again before an event after a long wait

    def raise_async_failure(self) -> None:
        if self.async_failure is not None:
            raise EventFailure(self.async_failure)

    def idle(self, until_us: int, rewarm: bool = True) -> None:
        """Tell the observers the loop is about to wait until ``until_us``; then, if the wait
        is long, warm the loop's code again near its end (``rewarm.py``). ``rewarm=False``
        for a wait that a packet may end at any moment (an await)."""
        if self.observers:
            now = self.clock.now_us()
            for observer in self.observers:
                observer.idle(self.last_step_index, now, until_us)
        if rewarm and self.rewarm is not None:
            self.rewarm.before(until_us)

    def end_script(self) -> None:
        """The script is over (its last event ran, or one failed), once."""
        if not self.script_done:
            self.script_done = True
            now = self.clock.now_us()
            for observer in self.observers:
                observer.script_done(now)

    def read_outbound(self, timeout_s: float) -> tuple[bytes, int] | None:
        """The next packet the kernel sent: one already read ahead, else the device's."""
        if self.unread:
            return self.unread.popleft()
        return self.device.read_outbound(timeout_s)

    def defer(self, bookkeeping: Callable[[], None]) -> None:
        """Do ``bookkeeping`` at the next :meth:`flush`: after the answer a packet may need."""
        self.deferred.append(bookkeeping)

    def flush(self) -> None:
        """Do the deferred bookkeeping, in order."""
        while self.deferred:
            self.deferred.pop(0)()

    def record(
        self, report: StepReport, syscall: Any = None, tcp_info: RawTcpInfo | None = None
    ) -> None:
        """Write ``report`` into the trace (reading TCP_INFO now if it asks and ``tcp_info``
        was not read already), tell the observers, and end the run if it failed."""
        if tcp_info is None and report.tcp_info:
            tcp_info = self.tcp_info(report.tcp_info_us)
        self.recorder.step(
            report.index, report.event, report.kind, report.outcome,
            scheduled_us=report.scheduled_us, actual_us=report.actual_us,
            end_scheduled_us=report.end_scheduled_us, expected=report.expected,
            actual=report.actual, message=report.message,
            syscall=syscall if syscall is not None else report.syscall, tcp_info=tcp_info,
        )
        if report.warning is not None:
            self.recorder.warn(report.warning)
        self.last_step_index = max(self.last_step_index, report.index)
        for observer in self.observers:
            observer.after_step(report.index, report.event.line, report.scheduled_us)
        if report.failure is not None:
            raise EventFailure(report.failure)

    def not_run(self, report: StepReport) -> None:
        """A step that did not run but left a trace (an early answer after a failure)."""
        self.recorder.step(
            report.index, report.event, report.kind, report.outcome,
            scheduled_us=report.scheduled_us, actual_us=report.actual_us,
            expected=report.expected, actual=report.actual, message=report.message,
        )

    def packet(self, record: AnyRecord | None, what: str) -> None:
        """A packet for the trace's packet list (and the -v line)."""
        if record is None:
            return
        self.recorder.packet(record)
        if self.config.verbose:
            shown = materialize(record)
            summary = shown.summary if shown is not None else ""
            self.verbose.append(f"{what} packet: {record.time_us / 1e6:9.6f} {summary}")

    def tcp_info(self, when_us: int | None) -> RawTcpInfo | None:
        """The socket under test's TCP_INFO bytes now (decoded after the run)."""
        live_fd = self.interpreter.packets.socket_live_fd()
        if live_fd is None:
            return None
        data = self.syscalls.tcp_info_bytes(live_fd)
        if data is None:
            return None
        return RawTcpInfo(when_us if when_us is not None else self.clock.now_us(), data)
