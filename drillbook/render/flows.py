"""Pure helpers over a Trace's packets: directions, data segments, ACKs, window scaling.

Sequence numbers are the script's relative ones (PacketRecord.seq/ack are in script space),
so plots start near 1 as tcptrace's and Wireshark's relative sequence numbers do.
"""

from __future__ import annotations

from dataclasses import dataclass

from drillbook.trace.model import Direction, PacketRecord, Trace


def other(direction: Direction) -> Direction:
    """The opposite direction."""
    return Direction.OUTBOUND if direction is Direction.INBOUND else Direction.INBOUND


def tcp_packets(trace: Trace, direction: Direction) -> tuple[PacketRecord, ...]:
    """The run's TCP packets one way, in time order."""
    return tuple(p for p in trace.packets if p.direction is direction and p.protocol == "tcp")


def data_segments(trace: Trace, direction: Direction) -> tuple[PacketRecord, ...]:
    """Segments that carry payload one way."""
    return tuple(p for p in tcp_packets(trace, direction) if p.payload_len > 0)


def payload_bytes(trace: Trace, direction: Direction) -> int:
    """Total payload sent one way (retransmissions included)."""
    return sum(p.payload_len for p in data_segments(trace, direction))


def data_direction(trace: Trace) -> Direction:
    """The direction that carries more payload (inbound on a tie: the peer usually sends)."""
    inbound = payload_bytes(trace, Direction.INBOUND)
    outbound = payload_bytes(trace, Direction.OUTBOUND)
    return Direction.OUTBOUND if outbound > inbound else Direction.INBOUND


def acks(trace: Trace, direction: Direction) -> tuple[PacketRecord, ...]:
    """Packets with the ACK bit one way, SYN-ACKs left out (they acknowledge no data)."""
    return tuple(
        p for p in tcp_packets(trace, direction) if p.ack is not None and "S" not in p.flags
    )


def has_sack(trace: Trace) -> bool:
    """Whether any packet of the run carries SACK blocks."""
    return any(p.sack_blocks for p in trace.packets)


def sack_direction(trace: Trace) -> Direction:
    """The direction whose ACKs carry SACK blocks (outbound if both or neither)."""
    if any(p.sack_blocks for p in tcp_packets(trace, Direction.OUTBOUND)):
        return Direction.OUTBOUND
    if any(p.sack_blocks for p in tcp_packets(trace, Direction.INBOUND)):
        return Direction.INBOUND
    return Direction.OUTBOUND


def _wscale(packet: PacketRecord) -> int | None:
    for option in packet.options:
        if option.kind == "wscale":
            try:
                return int(option.text.split()[-1])
            except ValueError:
                return None
    return None


def window_shift(trace: Trace, direction: Direction) -> int:
    """The shift for windows sent in ``direction``: that side's SYN wscale, used only when both
    SYNs carried the option (RFC 7323 §2.2); a SYN's own window is never scaled."""
    syn_shift: dict[Direction, int | None] = {}
    for packet in trace.packets:
        if "S" in packet.flags and packet.direction not in syn_shift:
            syn_shift[packet.direction] = _wscale(packet)
    mine, theirs = syn_shift.get(direction), syn_shift.get(other(direction))
    if mine is None or theirs is None:
        return 0
    return mine


def scaled_window(packet: PacketRecord, shift: int) -> int | None:
    """The window in bytes a packet advertises (script space window, shifted after the SYN)."""
    if packet.window is None:
        return None
    return packet.window if "S" in packet.flags else packet.window << shift


@dataclass(frozen=True)
class SeqRange:
    """A half-open range of sequence space."""

    start: int
    end: int


def retransmitted(segments: tuple[PacketRecord, ...]) -> tuple[bool, ...]:
    """For each data segment in time order, whether its range overlaps bytes sent before
    (tcptrace's red "R")."""
    sent: list[SeqRange] = []
    flags: list[bool] = []
    for seg in segments:
        flags.append(any(r.start < seg.end_seq and seg.seq < r.end for r in sent))
        sent.append(SeqRange(seg.seq, seg.end_seq))
    return tuple(flags)
