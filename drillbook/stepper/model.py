"""The socket at each event of a run: what the stepper shows beside the sequence diagram.

Pure: a Trace and the diagram's rows in, one :class:`StepView` per row out. Everything comes
from the trace, so the views can be computed once and shown without a kernel:

- TCP state, congestion state, cwnd, ssthresh, srtt/rttvar, RTO and the kernel's packet
  counts (unacked, SACKed, lost, retransmitted) from the TCP_INFO snapshot taken after the step
  (a row without one, such as a packet no line expected, keeps the previous snapshot);
- bytes in flight and the SACK scoreboard from the packets on the wire up to the row, in
  script space: the kernel's send side (highest sequence sent, highest ACK received, the SACK
  blocks the peer reported above it) and, when the kernel is receiving, the SACK blocks it
  reports itself;
- counter deltas from the namespace counter sample that covers the step (one sample may cover
  several steps: it is read when the run has time, never on the hot path);
- the explanations of the step (``drillbook.explain``'s vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.explain.vocabulary import CA_STATES
from drillbook.render.events import Row, format_time, strip_time
from drillbook.trace.kernel import CounterDelta, Explanation, format_ms
from drillbook.trace.model import Direction, PacketRecord, TcpInfoSnapshot, Trace

__all__ = ["Scoreboard", "SocketView", "StepView", "step_views", "INFINITE_SSTHRESH"]

INFINITE_SSTHRESH = 0x7FFFFFFF  # TCP_INFINITE_SSTHRESH (include/net/tcp.h)


@dataclass(frozen=True)
class Scoreboard:
    """One side's view of a sequence space: from its left edge (snd_una or rcv_nxt) to its
    right edge (snd_nxt, or the highest byte received), and the SACKed ranges between."""

    title: str
    left: int
    right: int
    blocks: tuple[tuple[int, int], ...]  # SACKed ranges, clipped to [left, right]

    @property
    def sacked_bytes(self) -> int:
        return sum(end - start for start, end in self.blocks)


@dataclass(frozen=True)
class SocketView:
    """The socket under test after one event (from its TCP_INFO snapshot)."""

    state: str
    ca_state: str
    cwnd: int
    ssthresh: str  # "∞" for the kernel's infinite ssthresh
    srtt: str
    rttvar: str
    rto: str
    unacked: int
    sacked: int
    lost: int
    retrans: int
    mss: int

    @property
    def packets_in_flight(self) -> int:
        """tcp_packets_in_flight(): unacked - (sacked + lost) + retransmitted."""
        return max(0, self.unacked - self.sacked - self.lost + self.retrans)


@dataclass(frozen=True)
class StepView:
    """One row of the diagram and the socket at that moment."""

    row: int
    line: int | None
    time: str
    event: str  # the event's text, without its time
    socket: SocketView | None  # None before the socket under test exists
    snapshot_line: int | None  # the line whose snapshot is shown (differs when carried over)
    bytes_outstanding: int  # snd_nxt - snd_una, from the wire
    bytes_in_flight: int  # outstanding minus what the peer SACKed
    send_scoreboard: Scoreboard | None
    receive_scoreboard: Scoreboard | None
    counters: tuple[CounterDelta, ...]
    counters_since_line: int | None  # the first line the counter sample covers
    explanations: tuple[Explanation, ...]


def socket_view(info: TcpInfoSnapshot) -> SocketView:
    ssthresh = "∞" if info.snd_ssthresh >= INFINITE_SSTHRESH else str(info.snd_ssthresh)
    return SocketView(
        state=info.state, ca_state=CA_STATES.get(info.ca_state, str(info.ca_state)),
        cwnd=info.snd_cwnd, ssthresh=ssthresh, srtt=format_ms(info.rtt_us),
        rttvar=format_ms(info.rttvar_us), rto=format_ms(info.rto_us), unacked=info.unacked,
        sacked=info.sacked, lost=info.lost, retrans=info.retrans, mss=info.snd_mss,
    )


def _merge(blocks: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(blocks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _clip(blocks: list[tuple[int, int]], left: int, right: int) -> tuple[tuple[int, int], ...]:
    clipped = [(max(s, left), min(e, right)) for s, e in blocks]
    return _merge([(s, e) for s, e in clipped if s < e])


class _Wire:
    """The packets seen up to a moment, folded into both sides' sequence state."""

    def __init__(self) -> None:
        self.snd_nxt = 0  # highest sequence the kernel sent (end of its data)
        self.snd_una = 0  # highest ACK the peer sent
        self.sent_data = False
        self.peer_sacks: list[tuple[int, int]] = []
        self.rcv_right = 0  # highest byte the peer sent the kernel
        self.kernel_sacks: tuple[tuple[int, int], ...] = ()
        self.kernel_ack = 0

    def add(self, packet: PacketRecord) -> None:
        if packet.direction is Direction.OUTBOUND:
            if packet.payload_len > 0:
                self.sent_data = True
                self.snd_nxt = max(self.snd_nxt, packet.end_seq)
            if packet.ack is not None:
                self.kernel_ack = max(self.kernel_ack, packet.ack)
                self.kernel_sacks = packet.sack_blocks
        else:
            if packet.payload_len > 0:
                self.rcv_right = max(self.rcv_right, packet.end_seq)
            if packet.ack is not None and packet.ack > self.snd_una:
                self.snd_una = packet.ack
                self.peer_sacks = [b for b in self.peer_sacks if b[1] > packet.ack]
            self.peer_sacks.extend(packet.sack_blocks)

    def send_scoreboard(self) -> Scoreboard | None:
        if not self.sent_data or self.snd_nxt <= self.snd_una:
            return None
        blocks = _clip(self.peer_sacks, self.snd_una, self.snd_nxt)
        return Scoreboard("sent, not yet acknowledged (SACKed by the peer: filled)",
                          self.snd_una, self.snd_nxt, blocks)

    def receive_scoreboard(self) -> Scoreboard | None:
        if not self.kernel_sacks or self.rcv_right <= self.kernel_ack:
            return None
        blocks = _clip(list(self.kernel_sacks), self.kernel_ack, self.rcv_right)
        return Scoreboard("received out of order (the kernel's SACK blocks: filled)",
                          self.kernel_ack, self.rcv_right, blocks)


def _row_packets(row: Row) -> tuple[PacketRecord, ...]:
    if row.parts:
        return row.parts
    if row.step is not None and row.step.actual is None:
        return ()  # expected but never on the wire
    return (row.packet,) if row.packet is not None else ()


def _counters(trace: Trace, index: int | None) -> tuple[tuple[CounterDelta, ...], int | None]:
    """The counter deltas of the sample covering step ``index``, and the first line it covers."""
    if index is None:
        return (), None
    previous = -1
    for sample in sorted(trace.counter_samples, key=lambda s: s.after_step):
        if previous < index <= sample.after_step:
            first = next((s.line for s in trace.steps if s.index == previous + 1), None)
            return tuple(d for d in sample.deltas if d.delta), first
        previous = sample.after_step
    return (), None


def step_views(trace: Trace, rows: Sequence[Row]) -> tuple[StepView, ...]:
    """The socket after each of ``rows`` (the sequence diagram's rows, in order)."""
    wire = _Wire()
    views: list[StepView] = []
    info: TcpInfoSnapshot | None = None
    info_line: int | None = None
    for number, row in enumerate(rows):
        for packet in _row_packets(row):
            wire.add(packet)
        if row.step is not None and row.step.tcp_info is not None:
            info, info_line = row.step.tcp_info, row.step.line
        index = row.step.index if row.step is not None else None
        counters, since = _counters(trace, index)
        send = wire.send_scoreboard()
        outstanding = max(0, wire.snd_nxt - wire.snd_una) if wire.sent_data else 0
        event = strip_time(row.step.text) if row.step is not None else (
            f"{row.packet.direction.value} {row.packet.summary}  (no script line)"
            if row.packet is not None else "")
        views.append(StepView(
            row=number, line=row.line,
            time=format_time(row.time_us) if row.time_us is not None else "",
            event=event, socket=socket_view(info) if info is not None else None,
            snapshot_line=info_line, bytes_outstanding=outstanding,
            bytes_in_flight=outstanding - (send.sacked_bytes if send else 0),
            send_scoreboard=send, receive_scoreboard=wire.receive_scoreboard(),
            counters=counters, counters_since_line=since,
            explanations=tuple(e for e in trace.explanations
                               if index is not None and e.step_index == index),
        ))
    return tuple(views)
