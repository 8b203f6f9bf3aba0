"""ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages.

Both share one layout: type, code, checksum, four "rest of header" bytes (unused, next-hop MTU,
or identifier and sequence number) and a body; for errors the body echoes the offending IP
header and at least the first 8 bytes of its payload. ICMPv4's checksum covers the message
only; ICMPv6's also covers the IPv6 pseudo-header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drillbook.wire.buffer import Buffer
from drillbook.wire.checksum import internet_checksum
from drillbook.wire.errors import WireError
from drillbook.wire.protocols import IPPROTO_ICMPV6

ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_SOURCE_QUENCH = 4
ICMP_REDIRECT = 5
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETERPROB = 12
ICMP_FRAG_NEEDED = 4  # code of ICMP_DEST_UNREACH

ICMPV6_DEST_UNREACH = 1
ICMPV6_PKT_TOOBIG = 2
ICMPV6_TIME_EXCEED = 3
ICMPV6_PARAMPROB = 4
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129

ICMP_HEADER_LEN = 8
_ICMP = struct.Struct("!BBH4s")
_U16_PAIR = struct.Struct("!HH")
_U32 = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class _IcmpBase:
    type: int
    code: int = 0
    rest: bytes = bytes(4)  # the 4 bytes after the checksum
    payload: bytes = b""
    checksum: int = 0

    @property
    def ident(self) -> int:
        """The identifier of an echo request/reply."""
        return int(_U16_PAIR.unpack(self.rest)[0])

    @property
    def sequence(self) -> int:
        """The sequence number of an echo request/reply."""
        return int(_U16_PAIR.unpack(self.rest)[1])


@dataclass(frozen=True, slots=True)
class Icmpv4Message(_IcmpBase):
    """An ICMPv4 message (IP protocol 1)."""

    @property
    def mtu(self) -> int:
        """The next-hop MTU of "fragmentation needed" (RFC 1191: low 16 bits of ``rest``)."""
        return int(_U16_PAIR.unpack(self.rest)[1])


@dataclass(frozen=True, slots=True)
class Icmpv6Message(_IcmpBase):
    """An ICMPv6 message (next header 58)."""

    @property
    def mtu(self) -> int:
        """The MTU of "packet too big" (RFC 4443 §3.2: all 32 bits of ``rest``)."""
        return int(_U32.unpack(self.rest)[0])


IcmpMessage = Icmpv4Message | Icmpv6Message


def icmp_rest_mtu_v4(mtu: int) -> bytes:
    """``rest`` for an ICMPv4 "fragmentation needed": 16 unused bits, then the MTU."""
    return _U16_PAIR.pack(0, mtu)


def icmp_rest_mtu_v6(mtu: int) -> bytes:
    """``rest`` for an ICMPv6 "packet too big": the 32-bit MTU."""
    return _U32.pack(mtu)


def icmp_rest_echo(ident: int, sequence: int) -> bytes:
    """``rest`` for an echo request or reply."""
    return _U16_PAIR.pack(ident, sequence)


def icmp_quote(ip_packet: bytes) -> bytes:
    """The body of an ICMP error about ``ip_packet``: its IP header and 8 payload bytes.

    RFC 792 asks for the internet header plus 64 bits of data, which is what packetdrill puts
    in (sport, dport and seq for TCP). The IP header length is read from the packet.
    """
    if not ip_packet:
        raise WireError("cannot quote an empty packet")
    header_length = (ip_packet[0] & 0x0F) * 4 if ip_packet[0] >> 4 == 4 else 40
    return ip_packet[: header_length + 8]


def pull_icmp_message(buf: Buffer, v6: bool) -> IcmpMessage:
    """Read an ICMPv4 or ICMPv6 message."""
    icmp_type, code, csum, rest = buf.pull_struct(_ICMP, "ICMPv6 header" if v6 else "ICMP header")
    cls = Icmpv6Message if v6 else Icmpv4Message
    return cls(type=icmp_type, code=code, rest=rest, payload=buf.pull_rest(), checksum=csum)


def icmp_wire_length(message: IcmpMessage) -> int:
    """The encoded length: 8 header bytes plus the body."""
    return ICMP_HEADER_LEN + len(message.payload)


def push_icmp_message(
    buf: Buffer, message: IcmpMessage, fill_checksum: bool, pseudo_addresses: bytes | None
) -> None:
    """Write an ICMP message; ``pseudo_addresses`` only for ICMPv6 (ICMPv4 has no pseudo-header)."""
    if len(message.rest) != 4:
        raise WireError(f"ICMP rest-of-header must be 4 bytes, got {len(message.rest)}")
    try:
        checksum = message.checksum
        if fill_checksum:
            body = _ICMP.pack(message.type, message.code, 0, message.rest) + message.payload
            extra = 0 if pseudo_addresses is None else IPPROTO_ICMPV6 + len(body)
            checksum = internet_checksum((pseudo_addresses or b"") + body, extra)
        header = _ICMP.pack(message.type, message.code, checksum, message.rest)
    except struct.error as exc:  # a field out of range for its width
        raise WireError(f"cannot encode {message!r}: {exc}") from None
    buf.push_bytes(header + message.payload)
