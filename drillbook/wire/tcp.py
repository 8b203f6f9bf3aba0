"""The TCP header (RFC 9293 §3.1) with its options and payload.

``flags`` holds all nine flag bits as one int: the eight of byte 13 plus bit 8, the former NS
bit that Accurate ECN (RFC 9768) renamed AE. The three reserved bits are kept apart so that any
header round-trips.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drillbook.wire.buffer import Buffer
from drillbook.wire.checksum import internet_checksum
from drillbook.wire.errors import WireError
from drillbook.wire.protocols import IPPROTO_TCP
from drillbook.wire.tcp_options import (
    TCPOPT_TIMESTAMP,
    TcpOptionValue,
    find_option,
    pull_tcp_options,
    push_tcp_options,
)

TCP_FIN = 0x001
TCP_SYN = 0x002
TCP_RST = 0x004
TCP_PSH = 0x008
TCP_ACK = 0x010
TCP_URG = 0x020
TCP_ECE = 0x040
TCP_CWR = 0x080
TCP_AE = 0x100  # RFC 9768; RFC 3540 called it NS
TCP_NS = TCP_AE

# packetdrill's flag letters, in the order it prints them (tcpdump 4.1.1 order, per
# packet_to_string.c).
TCP_FLAG_LETTERS: tuple[tuple[int, str], ...] = (
    (TCP_FIN, "F"),
    (TCP_SYN, "S"),
    (TCP_RST, "R"),
    (TCP_PSH, "P"),
    (TCP_ACK, "."),
    (TCP_URG, "U"),
    (TCP_ECE, "E"),
    (TCP_CWR, "W"),
    (TCP_AE, "A"),  # packetdrill: *A*ccurate ECN
)

TCP_HEADER_LEN = 20
_TCP = struct.Struct("!HHIIHHHH")


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """A TCP header, its options and its payload.

    ``data_offset`` (header length in 32-bit words) and ``checksum`` are filled by the encoder.
    """

    sport: int
    dport: int
    seq: int = 0
    ack: int = 0
    flags: int = 0
    window: int = 0
    urgent: int = 0
    options: tuple[TcpOptionValue, ...] = ()
    payload: bytes = b""
    data_offset: int = 5
    checksum: int = 0
    reserved: int = 0  # the 3 bits between data offset and AE

    def has(self, flag: int) -> bool:
        """Whether every bit of ``flag`` (e.g. ``TCP_SYN | TCP_ACK``) is set."""
        return self.flags & flag == flag

    def option(self, kind: int) -> TcpOptionValue | None:
        """The first option of ``kind``, or None."""
        return find_option(self.options, kind)

    @property
    def timestamp(self) -> tuple[int, int] | None:
        """``(val, ecr)`` of the TS option, if there is one."""
        option = find_option(self.options, TCPOPT_TIMESTAMP)
        return None if option is None else option.as_timestamp()

    @property
    def end_seq(self) -> int:
        """The sequence number after this segment (SYN and FIN count one each), mod 2**32."""
        span = len(self.payload) + (self.flags & TCP_SYN) // TCP_SYN + (self.flags & TCP_FIN)
        return (self.seq + span) & 0xFFFFFFFF


def pull_tcp_segment(buf: Buffer) -> TcpSegment:
    """Read a TCP header, its options and the payload up to the buffer's end."""
    sport, dport, seq, ack, off_flags, window, csum, urgent = buf.pull_struct(_TCP, "TCP header")
    data_offset = off_flags >> 12
    if data_offset < 5:
        raise WireError(f"bad TCP data offset: {data_offset} is below 5")
    options = pull_tcp_options(buf.pull_bytes(data_offset * 4 - TCP_HEADER_LEN, "TCP options"))
    # Positional arguments, in field order: about a third cheaper than keywords (hot path).
    return TcpSegment(
        sport,
        dport,
        seq,
        ack,
        off_flags & 0x1FF,
        window,
        urgent,
        options,
        buf.pull_rest(),
        data_offset,
        csum,
        (off_flags >> 9) & 0x7,
    )


def tcp_wire_length(segment: TcpSegment) -> int:
    """The encoded length with the data offset filled (options padded to 4 bytes)."""
    options = sum(option.wire_length for option in segment.options)
    return TCP_HEADER_LEN + (options + 3) // 4 * 4 + len(segment.payload)


def push_tcp_segment(
    buf: Buffer, segment: TcpSegment, fill_length: bool, pseudo_addresses: bytes | None
) -> None:
    """Write a TCP segment.

    With ``fill_length``, options are zero-padded (RFC 9293: padding is zeros, i.e. EOL) to a
    multiple of 4 and the data offset is computed. Given ``pseudo_addresses`` (source and
    destination address bytes) the checksum is computed, else the segment's own is written.
    """
    options = push_tcp_options(segment.options)
    data_offset = segment.data_offset
    if fill_length:
        if len(options) > 40:
            raise WireError(f"TCP options too long: {len(options)} bytes, at most 40")
        options += bytes(-len(options) % 4)
        data_offset = 5 + len(options) // 4
    if not 0 <= segment.flags <= 0x1FF or not 0 <= segment.reserved <= 7 or data_offset > 15:
        raise WireError(f"TCP header field out of range: {segment!r}")
    fields = [
        segment.sport,
        segment.dport,
        segment.seq,
        segment.ack,
        (data_offset << 12) | (segment.reserved << 9) | segment.flags,
        segment.window,
        segment.checksum,
        segment.urgent,
    ]
    payload = segment.payload
    if pseudo_addresses is not None:
        fields[6] = 0
        body = _pack(fields) + options + payload
        fields[6] = internet_checksum(pseudo_addresses + body, IPPROTO_TCP + len(body))
    buf.push_bytes(b"".join((_pack(fields), options, payload)))


def _pack(fields: list[int]) -> bytes:
    try:
        return _TCP.pack(*fields)
    except struct.error as exc:  # a field out of range for its width
        raise WireError(f"cannot encode TCP header fields {fields!r}: {exc}") from None
