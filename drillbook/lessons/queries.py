"""Questions a lab asks of a run's Trace: retransmissions, ACK delays, SACK blocks, probes.

Pure functions over :class:`~drillbook.trace.model.Trace` (no I/O, no kernel): the checks in
:mod:`drillbook.lessons.checks` word their answers, these only find the packets. Sequence and
ack numbers are in script space, as the student writes them (``1:1001`` is the first 1000
bytes after the SYN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drillbook.trace.model import Direction, PacketRecord, TcpInfoSnapshot, Trace

__all__ = [
    "Retransmission",
    "ack_delay_us",
    "data_segments",
    "dup_acks_before",
    "first_reply_after",
    "retransmissions",
    "tcp_info_at",
    "trace_of",
    "window_probes",
]


INBOUND_STAMP_LAG_US = 1000
"""An injected packet is stamped when its write to the TUN device returns; the kernel's answer
(stamped by the kernel) can carry an earlier time by a few microseconds. Packets within this
lag are taken as having caused what follows them."""


BURST_GAP_US = 1000
"""Outbound data packets this close together, each continuing the last, form one burst."""


class HasTrace(Protocol):
    """Anything carrying a run's trace, e.g. the value of a ``%%drill`` cell."""

    @property
    def trace(self) -> Trace: ...


def trace_of(result: Trace | HasTrace) -> Trace:
    """The Trace itself, or the ``.trace`` of a ``%%drill`` result."""
    if isinstance(result, Trace):
        return result
    trace = getattr(result, "trace", None)
    if not isinstance(trace, Trace):
        raise TypeError(f"expected a %%drill result or a Trace, got {type(result).__name__}")
    return trace


def _outbound(trace: Trace) -> list[PacketRecord]:
    return [p for p in trace.packets if p.direction is Direction.OUTBOUND and p.protocol == "tcp"]


def _inbound(trace: Trace) -> list[PacketRecord]:
    return [p for p in trace.packets if p.direction is Direction.INBOUND and p.protocol == "tcp"]


@dataclass(frozen=True)
class Retransmission:
    """A segment the kernel sent again: ``previous_us`` is when it last went out before."""

    packet: PacketRecord
    previous_us: int
    count: int  # 1 for the first retransmission of that segment, 2 for the second, ...

    @property
    def gap_s(self) -> float:
        """Seconds between this transmission and the one before it."""
        return (self.packet.time_us - self.previous_us) / 1e6

    @property
    def label(self) -> str:
        """The segment as a script writes it, e.g. ``1:1001(1000)`` or ``S 0:0(0)``."""
        p = self.packet
        text = f"{p.seq}:{p.seq + p.payload_len}({p.payload_len})"
        return f"{p.flags} {text}" if "S" in p.flags or "F" in p.flags else text


def _control_key(packet: PacketRecord) -> str | None:
    """SYN and FIN occupy sequence space without payload; retransmitted, they repeat exactly."""
    if "S" in packet.flags:
        return "SYN"
    if "F" in packet.flags and packet.payload_len == 0:
        return f"FIN {packet.seq}"
    return None


def retransmissions(result: Trace | HasTrace) -> tuple[Retransmission, ...]:
    """Every outbound segment that re-sends bytes (or a SYN/FIN) the kernel had already sent.

    A data segment is a retransmission when it starts below the highest sequence number sent
    so far (RFC 793's SND.NXT); the previous transmission is the latest one covering its start.
    """
    sent: list[tuple[int, int, int]] = []  # (start, end, time_us)
    last_control: dict[str, int] = {}
    counts: dict[tuple[int, str], int] = {}
    found: list[Retransmission] = []
    for packet in _outbound(trace_of(result)):
        key = _control_key(packet)
        previous: int | None = None
        if key is not None:
            previous = last_control.get(key)
            last_control[key] = packet.time_us
        elif packet.payload_len > 0:
            start, end = packet.seq, packet.seq + packet.payload_len
            covering = [t for (s, e, t) in sent if s <= start < e]
            previous = max(covering) if covering else None
            sent.append((start, end, packet.time_us))
        if previous is not None:
            ident = (packet.seq, key or "data")
            counts[ident] = counts.get(ident, 0) + 1
            found.append(Retransmission(packet, previous, counts[ident]))
    return tuple(found)


def data_segments(result: Trace | HasTrace) -> tuple[tuple[int, int], ...]:
    """The data segments the kernel sent, as ``(start, end)`` in script space, in order.

    Packets that continue each other and leave back to back (within BURST_GAP_US) count as one
    segment, as a script's ``>`` line matches them: whether the kernel hands the device one
    large (TSO/GSO) packet or several MSS-sized ones is a property of the device, not of TCP.
    """
    merged: list[list[int]] = []  # [start, end, time of the last packet]
    for p in _outbound(trace_of(result)):
        if p.payload_len <= 0:
            continue
        end = p.seq + p.payload_len
        if merged and merged[-1][1] == p.seq and p.time_us - merged[-1][2] <= BURST_GAP_US:
            merged[-1][1:] = [end, p.time_us]
        else:
            merged.append([p.seq, end, p.time_us])
    return tuple((start, end) for start, end, _ in merged)


def first_reply_after(result: Trace | HasTrace, inbound_seq: int) -> PacketRecord | None:
    """The kernel's first packet that reports the inbound data segment starting at
    ``inbound_seq``: its ack covers the segment or one of its SACK blocks does.

    Matching by what the reply acknowledges, not by timestamps, keeps this right when the
    kernel answers within the same microsecond as the segment's injection.
    """
    trace = trace_of(result)
    sent = next((p for p in _inbound(trace) if p.seq == inbound_seq and p.payload_len > 0), None)
    if sent is None:
        return None
    start, end = sent.seq, sent.seq + sent.payload_len
    for packet in _outbound(trace):
        if packet.ack is not None and packet.ack >= end:
            return packet
        if any(left <= start and end <= right for left, right in packet.sack_blocks):
            return packet
    return None


def ack_delay_us(result: Trace | HasTrace, inbound_seq: int | None = None) -> int | None:
    """How long the kernel took to acknowledge an inbound data segment (the first by default).

    The delay runs from the segment's arrival to the first outbound packet whose ack covers
    its last byte (RFC 1122 4.2.3.2 allows up to 500 ms; Linux starts at 40 ms and adapts).
    """
    trace = trace_of(result)
    segments = [p for p in _inbound(trace) if p.payload_len > 0]
    if inbound_seq is not None:
        segments = [p for p in segments if p.seq == inbound_seq]
    if not segments:
        return None
    data = segments[0]
    end = data.seq + data.payload_len
    for packet in _outbound(trace):
        # Nothing can acknowledge the data before it arrived, so the first covering ACK is the
        # answer; clamp at 0 because an inbound packet is stamped when its write returns.
        if packet.ack is not None and packet.ack >= end:
            return max(0, packet.time_us - data.time_us)
    return None


def dup_acks_before(result: Trace | HasTrace, retransmission: Retransmission) -> int:
    """How many duplicate ACKs arrived (RFC 5681 2: same ack, no data) before ``retransmission``.

    The count restarts whenever an ACK advances; the first ACK ever seen is not a duplicate.
    """
    last_ack: int | None = None
    duplicates = 0
    deadline = retransmission.packet.time_us + INBOUND_STAMP_LAG_US
    for packet in _inbound(trace_of(result)):
        if packet.time_us > deadline or packet.ack is None:
            continue
        if packet.ack == last_ack and packet.payload_len == 0 and "F" not in packet.flags:
            duplicates += 1
        elif packet.ack != last_ack:
            last_ack, duplicates = packet.ack, 0
    return duplicates


def window_probes(result: Trace | HasTrace) -> tuple[PacketRecord, ...]:
    """Zero-window probes: empty segments one byte below what the peer has acknowledged.

    Linux probes a closed window with an old sequence number (snd_una - 1), which forces the
    peer to answer with its current window (RFC 9293 3.8.6.1).
    """
    trace = trace_of(result)
    acked = 0
    probes: list[PacketRecord] = []
    for packet in trace.packets:
        if packet.protocol != "tcp":
            continue
        if packet.direction is Direction.INBOUND and packet.ack is not None:
            acked = max(acked, packet.ack)
        elif (
            packet.payload_len == 0
            and not set(packet.flags) & {"S", "F", "R"}
            and packet.seq == acked - 1
        ):
            probes.append(packet)
    return tuple(probes)


def tcp_info_at(result: Trace | HasTrace, line: int | None = None) -> TcpInfoSnapshot | None:
    """TCP_INFO as the kernel reported it after the step on ``line`` (default: the last one)."""
    steps = [s for s in trace_of(result).steps if s.tcp_info is not None]
    if line is not None:
        steps = [s for s in steps if s.line == line]
    return steps[-1].tcp_info if steps else None
