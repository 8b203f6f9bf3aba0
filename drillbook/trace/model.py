"""What happened in a run: the Trace. Pure data, versioned JSON (see codec.py).

A run always yields a Trace, whether it passed or not: mismatches are data, not exceptions.
``drillbook.trace.errors.raise_for_failures(trace)`` turns a failed trace into an exception at
the boundary; the JSON codec, the pcap export and the text report are functions of their own
modules, which import this one (never the other way round).

Times are integer microseconds since the run's time 0 (the script's ``0``).
Sequence and ack numbers in :class:`PacketRecord` are in *script* space (the relative numbers a
script writes); the live numbers are kept beside them.

Format versions: 1 had no kernel evidence; 2 adds what the kernel said (kernel.py): the run's
sockets and their cookies, counter samples, attributed kernel events, explanations and the
sources that were available. A version-1 document still reads (those fields stay empty).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from drillbook.trace.kernel import (
    CounterSample,
    Explanation,
    KernelEvent,
    KernelSources,
    SocketRecord,
    SocketStateSample,
)

TRACE_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)


class Direction(enum.Enum):
    INBOUND = "<"
    OUTBOUND = ">"


class StepKind(enum.Enum):
    INBOUND = "inbound"  # a `<` packet injected
    OUTBOUND = "outbound"  # a `>` packet expected and sniffed
    SYSCALL = "syscall"
    COMMAND = "command"  # a timed backtick command
    CODE = "code"  # a %{ }% block (its TCP_INFO snapshot is taken at its time)


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    WARNING = "warning"  # a mismatch under --non_fatal=packet
    NOT_RUN = "not_run"  # after the first failure


class FailureKind(enum.Enum):
    PACKET = "packet"  # a field of an outbound packet differs
    TIMING = "timing"
    TIMEOUT = "timeout"  # the expected packet never came
    SYSCALL = "syscall"
    COMMAND = "command"
    CODE = "code"  # a %{ }% block failed
    RUNTIME = "runtime"  # anything else at run time (unknown symbol, ...)


@dataclass(frozen=True)
class TcpOptionRecord:
    kind: str  # packetdrill's name: mss, nop, sackOK, wscale, TS, sack, FO, FOEXP, md5, eol...
    text: str  # as packetdrill prints it, e.g. "sack 1001:2001"


@dataclass(frozen=True)
class PacketRecord:
    """One packet, decoded, in script space."""

    direction: Direction
    time_us: int
    protocol: str  # tcp | udp | icmp
    summary: str  # packetdrill notation, e.g. "S. 0:0(0) ack 1 win 65535 <mss 1460,...>"
    flags: str = ""
    seq: int = 0
    end_seq: int = 0
    payload_len: int = 0
    ack: int | None = None
    window: int | None = None
    options: tuple[TcpOptionRecord, ...] = ()
    sack_blocks: tuple[tuple[int, int], ...] = ()  # script space
    ecn: str | None = None
    live_seq: int = 0
    live_ack: int = 0
    raw: bytes = field(default=b"", repr=False)  # the IP packet as on the wire, for pcap


@dataclass(frozen=True)
class TcpInfoSnapshot:
    """The socket under test's TCP_INFO after an event (fields as the kernel reports them)."""

    time_us: int
    state: str  # ESTABLISHED, SYN_RECV, ...
    ca_state: int = 0
    snd_cwnd: int = 0
    snd_ssthresh: int = 0
    rtt_us: int = 0
    rttvar_us: int = 0
    rto_us: int = 0
    unacked: int = 0
    sacked: int = 0
    lost: int = 0
    retrans: int = 0
    total_retrans: int = 0
    snd_wnd: int = 0
    rcv_wnd: int = 0
    rcv_space: int = 0
    snd_mss: int = 0
    rcv_mss: int = 0
    pmtu: int = 0
    delivered: int = 0
    reordering: int = 0
    fields: tuple[tuple[str, int], ...] = ()  # every tcpi_* field, for %{ }% and display


@dataclass(frozen=True)
class SyscallRecord:
    name: str
    text: str  # the call as written, e.g. "write(4, ..., 10)"
    expected_result: int | None
    result: int | None
    errno: int = 0
    errno_name: str = ""
    blocking: bool = False
    return_us: int | None = None  # for blocking calls: when it returned


@dataclass(frozen=True)
class Failure:
    """The first (fatal) failure, worded as packetdrill words it."""

    kind: FailureKind
    line: int
    column: int
    message: str  # e.g. "error handling packet: live packet field tcp_ack: expected: ..."
    details: tuple[str, ...] = ()  # "script packet: ...", "actual packet: ..."
    field_name: str | None = None  # the differing field, e.g. "tcp_ack"
    path: str = ""

    def render(self, name: str | None = None) -> str:
        """packetdrill's message. It names the script as its command line did: the CLI passes
        that path as ``name``; by default the file's own name is used."""
        name = name or self.path.rsplit("/", 1)[-1] or "<script>"
        head = f"{name}:{self.line}: {self.message}"
        return "\n".join((head, *self.details))


@dataclass(frozen=True)
class Step:
    """One event of the script as it ran."""

    index: int
    line: int
    kind: StepKind
    text: str  # the event's source text
    outcome: Outcome
    scheduled_us: int | None = None
    actual_us: int | None = None
    end_scheduled_us: int | None = None  # blocking calls and ranges
    expected: PacketRecord | None = None
    actual: PacketRecord | None = None
    syscall: SyscallRecord | None = None
    message: str | None = None
    tcp_info: TcpInfoSnapshot | None = None


@dataclass(frozen=True)
class Trace:
    """Everything a run produced: steps, every packet both ways, the verdict."""

    script_path: str
    script_text: str
    ip_mode: str
    steps: tuple[Step, ...]
    packets: tuple[PacketRecord, ...]  # every packet of the run, in time order
    failure: Failure | None = None
    warnings: tuple[str, ...] = ()
    output: str = ""  # what the run printed (code blocks' print, -v lines)
    duration_us: int = 0
    started_at: float = 0.0  # epoch seconds of time 0 (for pcap timestamps)
    local_ip: str = ""
    remote_ip: str = ""
    version: int = TRACE_FORMAT_VERSION
    # What the kernel said (format version 2, see kernel.py).
    started_monotonic_ns: int = 0  # time 0 on CLOCK_MONOTONIC (tracefs's trace_clock=mono)
    script_end_us: int = 0  # when the last event finished, before drillbook's end-of-run RSTs
    sockets: tuple[SocketRecord, ...] = ()
    counter_samples: tuple[CounterSample, ...] = ()
    socket_states: tuple[SocketStateSample, ...] = ()
    kernel_events: tuple[KernelEvent, ...] = ()
    explanations: tuple[Explanation, ...] = ()
    sources: KernelSources = field(default_factory=KernelSources)

    @property
    def passed(self) -> bool:
        return self.failure is None

    def explanations_at(self, line: int) -> tuple[Explanation, ...]:
        """The explanations of one script line, in time order."""
        return tuple(e for e in self.explanations if e.line == line)

    def explanations_for_step(self, index: int) -> tuple[Explanation, ...]:
        """The explanations of one step (by its index in ``steps``), in time order."""
        return tuple(e for e in self.explanations if e.step_index == index)

    def counters_for_step(self, index: int) -> CounterSample | None:
        """The counter sample that covers step ``index`` (the first taken after it)."""
        for sample in self.counter_samples:
            if sample.after_step >= index:
                return sample
        return None
