"""The UDP header (RFC 768) and its payload."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drillbook.wire.buffer import Buffer
from drillbook.wire.checksum import internet_checksum
from drillbook.wire.errors import WireError
from drillbook.wire.protocols import IPPROTO_UDP

UDP_HEADER_LEN = 8
_UDP = struct.Struct("!HHHH")


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
    buf: Buffer, datagram: UdpDatagram, fill_length: bool, pseudo_addresses: bytes | None
) -> None:
    """Write a UDP datagram, filling the length and (given the addresses) the checksum."""
    length = udp_wire_length(datagram) if fill_length else datagram.length
    fields = [datagram.sport, datagram.dport, length, datagram.checksum]
    payload = datagram.payload
    if pseudo_addresses is not None:
        fields[3] = 0
        body = _pack(fields) + payload
        # RFC 768: a computed checksum of zero is sent as all ones (zero means "none").
        fields[3] = internet_checksum(pseudo_addresses + body, IPPROTO_UDP + len(body)) or 0xFFFF
    buf.push_bytes(_pack(fields) + payload)


def _pack(fields: list[int]) -> bytes:
    try:
        return _UDP.pack(*fields)
    except struct.error as exc:  # a field out of range for its width
        raise WireError(f"cannot encode UDP header fields {fields!r}: {exc}") from None
