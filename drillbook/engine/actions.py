"""What the interpreter asks the run loop to do, and what it reports back for the trace.

Actions are frozen values: the loop performs one, tells the interpreter what it observed, and
gets the next one. Reports say what a step did; the loop only adds what it measured (TCP_INFO,
a syscall's raw outcome) and writes them into the trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drillbook.engine.outbound import OutboundMatcher
from drillbook.engine.records import AnyRecord
from drillbook.engine.results import InboundPacket
from drillbook.engine.timing import Schedule
from drillbook.script.model import CodeBlock, Event, SyscallSpec
from drillbook.trace.model import FailureKind, Outcome, StepKind


@dataclass(frozen=True)
class Current:
    """The event being run and its resolved times (handed to the checks of a blocking call,
    which run on another thread while the interpreter moves on)."""

    index: int
    event: Event
    schedule: Schedule

    @property
    def line(self) -> int:
        return self.event.line


@dataclass(frozen=True)
class RunFailure:
    """Why the run ends, at which line (the trace's Failure, before its column is known)."""

    kind: FailureKind
    line: int
    message: str
    details: tuple[str, ...] = ()
    field_name: str | None = None


@dataclass(frozen=True)
class StepReport:
    """One step for the trace. ``tcp_info``: read the socket's TCP_INFO (after any write) and
    stamp it with ``tcp_info_us`` (None: the time of the read). ``failure``: the run ends
    here. ``warning``: a line for the trace's warnings (a non-fatal mismatch)."""

    index: int
    event: Event
    kind: StepKind
    outcome: Outcome
    scheduled_us: int
    actual_us: int | None = None
    end_scheduled_us: int | None = None
    expected: AnyRecord | None = None
    actual: AnyRecord | None = None
    message: str | None = None
    syscall: Any = None
    tcp_info: bool = False
    tcp_info_us: int | None = None
    failure: RunFailure | None = None
    warning: str | None = None


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inject:
    """Wait until ``at_us``, check the start is not late, write ``packet``; then, if the
    kernel's answer is already queued, ``then`` (the script's answer to it, built ahead).
    ``burst``: the next event is an inbound packet due at the same time (`+0 <` after `<`),
    built already, which the loop writes right after this one, before the bookkeeping."""

    current: Current
    packet: InboundPacket
    then: EarlyAnswer | None = None
    burst: bool = False

    @property
    def at_us(self) -> int:
        return self.current.schedule.start_us


@dataclass(frozen=True)
class EarlyAnswer:
    """The `+0` inbound packet that answers an awaited outbound one, built before it arrives.

    The loop writes ``packet`` as soon as a sniffed packet :meth:`completes` the await, and
    decodes and matches it only after the write. Only offered when the answer's bytes cannot
    depend on the awaited packet (see Interpreter._early_answer)."""

    index: int
    packet: InboundPacket
    protocol: int  # IPPROTO_TCP / IPPROTO_UDP
    sport: int  # the kernel's side of the flow (the awaited packet's source port)
    dport: int
    payload_len: int
    then: EarlyAnswer | None = None  # the answer to the packet after, if built ahead
    # The inbound packets right after this one at `+0` (a burst), written at once behind it.
    burst: tuple[EarlyAnswer, ...] = ()

    def completes(self, raw: bytes) -> bool:
        """Whether ``raw`` is a packet of the awaited flow carrying the whole expected payload
        (so the matcher will give its verdict on it): a few byte reads, no decoding."""
        if len(raw) < 28:
            return False
        version = raw[0] >> 4
        if version == 4:
            header = (raw[0] & 0x0F) * 4
            protocol = raw[9]
            total = (raw[2] << 8) | raw[3]
        elif version == 6:
            header, protocol, total = 40, raw[6], 40 + ((raw[4] << 8) | raw[5])
        else:
            return False
        if protocol != self.protocol or len(raw) < header + 20:
            return False
        sport = (raw[header] << 8) | raw[header + 1]
        dport = (raw[header + 2] << 8) | raw[header + 3]
        if sport != self.sport or dport != self.dport:
            return False
        transport = (raw[header + 12] >> 4) * 4 if protocol == 6 else 8
        return total - header - transport == self.payload_len


@dataclass(frozen=True)
class AwaitPacket:
    """Read outbound packets and feed them to ``matcher`` until it gives a verdict, for at most
    ``timeout_us`` (None: no limit) from now."""

    current: Current
    matcher: OutboundMatcher
    timeout_us: int | None
    sniff_start_us: int
    answer: EarlyAnswer | None = None


@dataclass(frozen=True)
class Call:
    """Wait until ``at_us``, check the start is not late, make the call. ``end_us`` is set
    for a blocking (`...`) call: when it should return."""

    current: Current
    spec: SyscallSpec
    end_us: int | None = None

    @property
    def at_us(self) -> int:
        return self.current.schedule.start_us


@dataclass(frozen=True)
class RunShell:
    """Wait until ``at_us``, check the start is not late, run a backtick command."""

    current: Current
    command: str

    @property
    def at_us(self) -> int:
        return self.current.schedule.start_us


@dataclass(frozen=True)
class Snapshot:
    """Wait until ``at_us``, check the start is not late, snapshot the socket under test for
    a %{ }% block (``Interpreter.snapshot_socket`` names it, at that time)."""

    current: Current
    block: CodeBlock

    @property
    def at_us(self) -> int:
        return self.current.schedule.start_us


@dataclass(frozen=True)
class Record:
    """Nothing to do but record: an inbound packet already written as an early answer, or a
    failure found before any I/O."""

    report: StepReport
    packet: AnyRecord | None = None


@dataclass(frozen=True)
class Stop:
    """The run ends with ``failure`` before the event does anything (no step is recorded)."""

    failure: RunFailure


@dataclass(frozen=True)
class Finish:
    """Every event ran."""


Action = Inject | AwaitPacket | Call | RunShell | Snapshot | Record | Stop | Finish


@dataclass(frozen=True)
class PacketSeen:
    """What one sniffed packet did: ``record`` for the trace's packet list (None: not ours),
    ``report`` once the await is over."""

    record: AnyRecord | None
    report: StepReport | None
