"""What the kernel said about a run: its events, its counters, and the explanations drawn from
them. Pure data, part of the Trace's versioned JSON (format version 2; see model.py).

Three sources feed them (``KernelSources`` records which were available in a run):

- ``tracefs``: tracepoints (``tcp:tcp_retransmit_skb``, ``tcp:tcp_send_reset``,
  ``sock:inet_sock_set_state``, ...) captured in a tracefs instance of the run's own, as root
  only. Each :class:`KernelEvent` is attributed to one of the run's sockets by its socket
  cookie, or, for events that carry only the socket's address, through that socket's lifetime
  (never by IP address, port or pid: parallel runs share all three).
- ``counters``: the deltas of the run's namespace's own ``/proc/net/netstat`` and
  ``/proc/net/snmp`` counters (``TcpExt.TCPLossProbes``, ``Tcp.RetransSegs``, ...), sampled after
  steps, rootless too (:class:`CounterSample`).
- ``tcp_info``: the TCP_INFO snapshot of the socket under test after every step
  (``Step.tcp_info``).

:class:`Explanation` is the fixed vocabulary shown everywhere (trace, ``DrillResult``, beside the
sequence diagram's arrows, ``drillbook run --explain``, pcapng comments)::

    cause=tlp cong=Open->Loss cwnd=10->1 rto=300ms backoff=1 — retransmission timer fired ...

Consumers (the step-through stepper, labkit checks) read these types and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Source(enum.Enum):
    """Where a piece of evidence came from."""

    TRACEFS = "tracefs"
    COUNTERS = "counters"
    TCP_INFO = "tcp_info"
    SOCK_DIAG = "sock_diag"  # the namespace's socket dump (states of closed sockets' connections)


class Cause(enum.Enum):
    """Why the kernel (re)sent a segment: the ``cause=`` vocabulary."""

    RTO = "rto"  # the retransmission timer fired (RFC 6298)
    TLP = "tlp"  # a tail loss probe (RFC 8985 section 7)
    FAST_RETRANSMIT = "fast-retransmit"  # duplicate ACKs / SACK (RFC 5681, RFC 6675)
    RACK = "rack"  # RACK's reordering-window loss detection (RFC 8985)
    SYN_RETRANSMIT = "syn-retransmit"  # the SYN timer (connect)
    SYNACK_RETRANSMIT = "synack-retransmit"  # the SYN-ACK timer (listener)
    WINDOW_PROBE = "window-probe"  # zero-window probe (RFC 9293 3.8.6.1)
    KEEPALIVE = "keepalive"  # keepalive probe (RFC 1122 4.2.3.6)


@dataclass(frozen=True)
class Change:
    """``OLD->NEW`` of a state, a congestion state or cwnd."""

    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.old}->{self.new}"


@dataclass(frozen=True)
class Explanation:
    """Why one thing happened at one script line.

    ``kind`` says what is explained: ``retransmission`` (a segment sent again: ``cause``),
    ``reset`` (an RST the kernel sent: ``reason``), ``reset-received``, ``state`` (a TCP state
    change), ``cong`` (a congestion-state change), ``error`` (an error reported to the socket).
    ``step_index`` and ``line`` name the step it belongs to (the step that shows the packet or
    made the change); ``packet_time_us`` is the outbound packet it explains, if any.
    """

    kind: str
    line: int
    step_index: int | None
    time_us: int
    sentence: str
    cause: Cause | None = None
    reason: str | None = None  # the kernel's reset reason, e.g. TCP_ABORT_ON_CLOSE
    state: Change | None = None  # e.g. ESTABLISHED->CLOSE_WAIT
    cong: Change | None = None  # e.g. Open->Loss (tcpi_ca_state names)
    cwnd: Change | None = None  # packets
    ssthresh: int | None = None  # packets
    rto_us: int | None = None
    backoff: int | None = None  # tcpi_backoff: how many times the RTO has doubled
    packet_time_us: int | None = None
    evidence: tuple[Source, ...] = ()

    def keys(self) -> str:
        """The ``key=value`` part: ``cause=rto cong=Open->Loss cwnd=10->1 rto=600ms backoff=2``."""
        parts: list[str] = []
        if self.cause is not None:
            parts.append(f"cause={self.cause.value}")
        if self.reason is not None:
            parts.append(f"reason={self.reason}")
        for name in ("state", "cong", "cwnd"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        if self.ssthresh is not None:
            parts.append(f"ssthresh={self.ssthresh}")
        if self.rto_us is not None:
            parts.append(f"rto={format_ms(self.rto_us)}")
        if self.backoff is not None:
            parts.append(f"backoff={self.backoff}")
        return " ".join(parts)

    def render(self, name: str = "") -> str:
        """``FILE:LINE: key=value ... — sentence`` (``drillbook run --explain``)."""
        head = f"{name}:{self.line}: " if name else f"{self.line}: "
        keys = self.keys()
        return f"{head}{keys} — {self.sentence}" if keys else f"{head}{self.sentence}"


def format_ms(value_us: int) -> str:
    """Microseconds as the shortest readable milliseconds: 300ms, 1.5ms, 0.2ms."""
    if value_us % 1000 == 0:
        return f"{value_us // 1000}ms"
    return f"{value_us / 1000:.1f}ms"


@dataclass(frozen=True)
class CounterDelta:
    """How much one namespace counter grew, e.g. ``TcpExt.TCPLossProbes`` by 1."""

    name: str  # "TcpExt.TCPLossProbes", "Tcp.RetransSegs", ...
    delta: int


@dataclass(frozen=True)
class CounterSample:
    """The counters' growth since the previous sample, read after ``after_step`` (the index of
    the last step recorded when it was read; -1 before the first step). A sample is taken
    after a step when the run has time before the next event (never on the hot path), so one
    sample can cover several steps: those after the previous sample's ``after_step``."""

    after_step: int
    time_us: int
    deltas: tuple[CounterDelta, ...]

    def get(self, name: str) -> int:
        for item in self.deltas:
            if item.name == name:
                return item.delta
        return 0


@dataclass(frozen=True)
class SocketRecord:
    """A socket of the run, as known to the worker: its cookie (``SO_COOKIE``, the key kernel
    events are attributed by), its fd and when and where it appeared."""

    cookie: int
    live_fd: int
    script_fd: int
    time_us: int
    line: int
    closed_after_step: int | None = None  # the step after which its fd was gone (closed)


@dataclass(frozen=True)
class SocketStateSample:
    """The states of the run's sockets whose fds were closed (they may live on: FIN_WAIT1,
    LAST_ACK, TIME_WAIT), from the namespace's sock_diag, taken like a CounterSample after
    ``after_step``. A cookie missing from ``states`` is gone (CLOSE)."""

    after_step: int
    time_us: int
    states: tuple[tuple[int, str], ...]  # (cookie, TCP state name)

    def state_of(self, cookie: int) -> str:
        for key, value in self.states:
            if key == cookie:
                return value
        return "CLOSE"


@dataclass(frozen=True)
class KernelEvent:
    """One tracepoint hit attributed to one of the run's sockets.

    ``fields`` holds the numeric fields the kernel's ``format`` file declares (addresses and
    arrays left out); ``symbols`` the symbolic names of enum fields (``reason``,
    ``oldstate``, ``newstate``, ``state``), read from the same file at run time.
    """

    name: str  # "tcp_retransmit_skb", "inet_sock_set_state", ...
    time_us: int  # script time
    cpu: int
    cookie: int  # the socket it belongs to
    fields: tuple[tuple[str, int], ...] = ()
    symbols: tuple[tuple[str, str], ...] = ()

    def field(self, name: str, default: int = 0) -> int:
        for key, value in self.fields:
            if key == name:
                return value
        return default

    def symbol(self, name: str) -> str:
        for key, value in self.symbols:
            if key == name:
                return value
        return ""


@dataclass(frozen=True)
class KernelSources:
    """Which sources a run had, and what was lost."""

    tracefs: bool = False
    tracefs_note: str = ""  # why not, when tracefs is off ("needs root", "not mounted", ...)
    events: tuple[str, ...] = ()  # the tracepoints captured
    missing: tuple[str, ...] = ()  # events or fields this kernel lacks ("tcp:tcp_rcvbuf_grow")
    overruns: int = 0  # events the kernel dropped because the buffer was full
    counters: tuple[str, ...] = ()  # counter files read: "/proc/net/netstat", "/proc/net/snmp"
    tcp_info: bool = False
    arm_wait_us: int = 0  # how long the worker waited before time 0 for the capture to be armed
