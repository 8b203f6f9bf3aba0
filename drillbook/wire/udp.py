"""The UDP header (RFC 768) and its payload."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drillbook.wire.buffer import Buffer
from drillbook.wire.checksum import add_length, combine_sums, finish, ones_complement_sum
from drillbook.wire.errors import WireError

UDP_HEADER_LEN = 8
_UDP = struct.Struct("!HHHH")
_U16 = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """A UDP header and payload; ``length`` and ``checksum`` are filled by the encoder."""

    sport: int
    dport: int
    payload: bytes = b""
    length: int = 0
    checksum: int = 0


def pull_udp_datagram(buf: Buffer) -> UdpDatagram:
    """Read a UDP header and the payload its length field covers."""
    sport, dport, length, csum = buf.pull_struct(_UDP, "UDP header")
    if length < UDP_HEADER_LEN:
        raise WireError(f"bad UDP length: {length} is below {UDP_HEADER_LEN}")
    payload = buf.pull_bytes(length - UDP_HEADER_LEN, "UDP payload")
    return UdpDatagram(sport=sport, dport=dport, payload=payload, length=length, checksum=csum)


def udp_wire_length(datagram: UdpDatagram) -> int:
    """The encoded length: header plus payload."""
    return UDP_HEADER_LEN + len(datagram.payload)


def push_udp_datagram(
    buf: Buffer, datagram: UdpDatagram, fill_length: bool, address_sum: int | None
) -> None:
    """Write a UDP datagram, filling the length and (given ``address_sum``) the checksum."""
    length = udp_wire_length(datagram) if fill_length else datagram.length
    start = buf.size()
    buf.push_struct(
        _UDP,
        datagram.sport,
        datagram.dport,
        length,
        0 if address_sum is not None else datagram.checksum,
    )
    buf.push_bytes(datagram.payload)
    if address_sum is not None:
        segment = buf.view(start)
        total = combine_sums(add_length(address_sum, len(segment)), ones_complement_sum(segment))
        # RFC 768: a computed checksum of zero is sent as all ones (zero means "none").
        checksum = finish(total) or 0xFFFF
        buf.patch_struct(_U16, start + 6, checksum)
