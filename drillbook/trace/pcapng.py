"""Export a Trace as pcapng, each packet carrying a comment that says why it is there.

Wireshark shows a packet's comment in its tree (``pkt_comment``, "Packet comments"): the
script line that sent or expected it (``handshake.pkt:12``), the expected packet when the
kernel's differed (with packetdrill's message), and the kernel's explanation (``cause=rto
rto=300ms backoff=1 — retransmission timer fired ...``). Packets as in pcap.py: the IP packet
as on the wire, LINKTYPE_RAW, time ``started_at + time_us`` (microsecond resolution).

pcapng (draft-ietf-opsawg-pcapng) is written with ``struct``: a Section Header Block, one
Interface Description Block, then one Enhanced Packet Block per packet with an
``opt_comment`` option.
"""

from __future__ import annotations

import os
import struct

from drillbook.trace.model import Direction, Outcome, PacketRecord, Step, Trace

LINKTYPE_RAW = 101
SHB, IDB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_COMMENT = 1
SNAPLEN = 0  # no limit


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _options(comment: str) -> bytes:
    if not comment:
        return b""
    value = comment.encode("utf-8")
    return struct.pack("<HH", OPT_COMMENT, len(value)) + _padded(value) + struct.pack("<HH", 0, 0)


def packet_comments(trace: Trace) -> list[tuple[PacketRecord, str]]:
    """Every packet on the wire (time order) with its comment."""
    name = trace.script_path.rsplit("/", 1)[-1] or "<script>"
    by_packet: dict[tuple[int, str, int], Step] = {}
    for step in trace.steps:
        if step.actual is not None:
            key = (step.actual.time_us, step.actual.direction.value, step.actual.live_seq)
            by_packet[key] = step
    packets = sorted((p for p in trace.packets if p.raw), key=lambda p: p.time_us)
    return [(p, _comment(trace, name, p, by_packet.get((p.time_us, p.direction.value,
                                                          p.live_seq)))) for p in packets]


def _comment(trace: Trace, name: str, packet: PacketRecord, step: Step | None) -> str:
    if step is None:
        who = "sent by the kernel" if packet.direction is Direction.OUTBOUND else "injected"
        parts = [f"{name}: {who}; no script line reads this packet"]
    else:
        parts = [f"{name}:{step.line}: {step.text}"]
        if step.expected is not None and step.outcome in (Outcome.FAILED, Outcome.WARNING):
            failure = trace.failure
            if failure is not None and failure.line == step.line:
                parts.append(failure.message)
                parts.extend(failure.details[2:])  # drillbook's whole-packet sentence
            parts.append(f"expected: {step.expected.summary}")
            parts.append(f"actual: {packet.summary}")
    for explanation in trace.explanations:
        if explanation.packet_time_us == packet.time_us and (
            step is None or explanation.step_index == step.index
        ):
            parts.append(f"why: {explanation.keys()} — {explanation.sentence}")
    return "\n".join(parts)


def write_pcapng(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write every packet with bytes in ``raw`` to ``path`` as pcapng with comments."""
    start_us = round(trace.started_at * 1_000_000)
    out = [
        _block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)),
        _block(IDB, struct.pack("<HHI", LINKTYPE_RAW, 0, SNAPLEN)),
    ]
    for packet, comment in packet_comments(trace):
        stamp = start_us + packet.time_us
        head = struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(packet.raw),
                           len(packet.raw))
        out.append(_block(EPB, head + _padded(packet.raw) + _options(comment)))
    with open(path, "wb") as handle:
        handle.write(b"".join(out))
