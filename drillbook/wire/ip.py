"""IPv4 (RFC 791) and IPv6 (RFC 8200) headers.

Addresses are kept as text (``"192.0.2.1"``, ``"2001:db8::1"``): the engine compares them with
configured addresses, and ``inet_ntop`` costs well under a microsecond.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

from drillbook.wire.address import pack_address_v4, pack_address_v6
from drillbook.wire.buffer import Buffer
from drillbook.wire.checksum import internet_checksum
from drillbook.wire.errors import WireError
from drillbook.wire.protocols import IPPROTO_TCP

# IPv4 flags (the 3 bits before the fragment offset).
IP_RF = 0x4  # reserved ("evil") bit
IP_DF = 0x2  # don't fragment
IP_MF = 0x1  # more fragments

# ECN codepoints in the low two bits of TOS / traffic class (RFC 3168 §5).
ECN_NOT_ECT = 0
ECN_ECT1 = 1
ECN_ECT0 = 2
ECN_CE = 3

IPV4_HEADER_LEN = 20
IPV6_HEADER_LEN = 40

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_IPV4_OUT = struct.Struct("!BBHHHBBH8s")  # both addresses packed together
_IPV6_OUT = struct.Struct("!IHBB32s")


@dataclass(frozen=True, slots=True)
class IPv4Header:
    """An IPv4 header. ``ihl``, ``total_length`` and ``checksum`` are filled by the encoder."""

    src: str
    dst: str
    protocol: int = IPPROTO_TCP
    tos: int = 0
    total_length: int = 0
    ident: int = 0
    flags: int = 0  # IP_RF | IP_DF | IP_MF
    frag_offset: int = 0  # in 8-byte units
    ttl: int = 64
    checksum: int = 0
    ihl: int = 5  # header length in 32-bit words
    options: bytes = b""
    version: int = 4

    @property
    def ecn(self) -> int:
        """The ECN codepoint (RFC 3168): ECN_NOT_ECT, ECN_ECT1, ECN_ECT0 or ECN_CE."""
        return self.tos & 3

    @property
    def dscp(self) -> int:
        """The DiffServ codepoint (upper 6 bits of TOS)."""
        return self.tos >> 2

    @property
    def header_length(self) -> int:
        """The header length in bytes, as the ``ihl`` field says."""
        return self.ihl * 4

    @property
    def upper_protocol(self) -> int:
        """The transport protocol number (``protocol``; IPv6 calls it ``next_header``)."""
        return self.protocol


@dataclass(frozen=True, slots=True)
class IPv6Header:
    """An IPv6 fixed header. ``payload_length`` is filled by the encoder."""

    src: str
    dst: str
    next_header: int = IPPROTO_TCP
    traffic_class: int = 0
    flow_label: int = 0
    payload_length: int = 0
    hop_limit: int = 64
    version: int = 6

    @property
    def ecn(self) -> int:
        """The ECN codepoint (RFC 3168) in the low bits of the traffic class."""
        return self.traffic_class & 3

    @property
    def dscp(self) -> int:
        """The DiffServ codepoint (upper 6 bits of the traffic class)."""
        return self.traffic_class >> 2

    @property
    def header_length(self) -> int:
        """Always 40: extension headers are not decoded."""
        return IPV6_HEADER_LEN

    @property
    def upper_protocol(self) -> int:
        """The transport protocol number (``next_header``)."""
        return self.next_header


IPHeader = IPv4Header | IPv6Header


def pull_ipv4_header(buf: Buffer) -> IPv4Header:
    """Read an IPv4 header (with options); the buffer is limited to ``total_length``."""
    start = buf.tell()
    (ver_ihl, tos, total_length, ident, frag, ttl, proto, csum, src, dst) = buf.pull_struct(
        _IPV4, "IPv4 header"
    )
    version, ihl = ver_ihl >> 4, ver_ihl & 0x0F
    if version != 4:
        raise WireError(f"bad IPv4 version: {version}")
    if ihl < 5:
        raise WireError(f"bad IPv4 header length: ihl {ihl} is below 5")
    if total_length < ihl * 4:
        raise WireError(f"bad IPv4 total length {total_length}: header alone is {ihl * 4}")
    options = buf.pull_bytes(ihl * 4 - IPV4_HEADER_LEN, "IPv4 options")
    if buf.remaining() + ihl * 4 < total_length:
        raise WireError(
            f"truncated IPv4 packet: total length {total_length}, "
            f"have {buf.remaining() + ihl * 4} bytes"
        )
    buf.limit(start + total_length)
    # Positional arguments, in field order: about a third cheaper than keywords (hot path).
    return IPv4Header(
        socket.inet_ntop(socket.AF_INET, src),
        socket.inet_ntop(socket.AF_INET, dst),
        proto,
        tos,
        total_length,
        ident,
        frag >> 13,
        frag & 0x1FFF,
        ttl,
        csum,
        ihl,
        options,
        version,
    )


def push_ipv4_header(
    buf: Buffer,
    header: IPv4Header,
    payload_length: int | None,
    fill_checksum: bool,
    addresses: bytes | None = None,
) -> None:
    """Write an IPv4 header; with ``payload_length`` given, fill ``ihl`` and ``total_length``.

    ``addresses`` may pass src and dst already packed (the encoder packs them once for both
    this header and the pseudo-header).
    """
    options = header.options
    ihl, total_length = header.ihl, header.total_length
    if payload_length is not None:
        if len(options) % 4:
            raise WireError(f"IPv4 options are {len(options)} bytes, not a multiple of 4")
        ihl = 5 + len(options) // 4
        total_length = ihl * 4 + payload_length
    if ihl > 15:
        raise WireError(f"IPv4 header too long: ihl {ihl} exceeds 15")
    # Fields that share a byte or word with another must not spill into it.
    if not (0 <= header.flags <= 7 and 0 <= header.frag_offset <= 0x1FFF and ihl >= 0):
        raise WireError(f"IPv4 header field out of range: {header!r}")
    if addresses is None:
        addresses = pack_address_v4(header.src) + pack_address_v4(header.dst)
    fields = [
        (header.version << 4) | ihl,
        header.tos,
        total_length,
        header.ident,
        (header.flags << 13) | header.frag_offset,
        header.ttl,
        header.protocol,
        header.checksum,
        addresses,
    ]
    if fill_checksum:
        fields[7] = 0
        fields[7] = internet_checksum(_pack(_IPV4_OUT, fields) + options)
    buf.push_bytes(_pack(_IPV4_OUT, fields) + options)


def pull_ipv6_header(buf: Buffer) -> IPv6Header:
    """Read the IPv6 fixed header; the buffer is limited to the payload length."""
    start = buf.tell()
    word, payload_length, next_header, hop_limit, src, dst = buf.pull_struct(_IPV6, "IPv6 header")
    version = word >> 28
    if version != 6:
        raise WireError(f"bad IPv6 version: {version}")
    if buf.remaining() < payload_length:
        raise WireError(
            f"truncated IPv6 packet: payload length {payload_length}, have {buf.remaining()}"
        )
    buf.limit(start + IPV6_HEADER_LEN + payload_length)
    return IPv6Header(
        socket.inet_ntop(socket.AF_INET6, src),
        socket.inet_ntop(socket.AF_INET6, dst),
        next_header,
        (word >> 20) & 0xFF,
        word & 0xFFFFF,
        payload_length,
        hop_limit,
        version,
    )


def push_ipv6_header(
    buf: Buffer, header: IPv6Header, payload_length: int | None, addresses: bytes | None = None
) -> None:
    """Write an IPv6 header; with ``payload_length`` given, fill that field."""
    if not (0 <= header.traffic_class <= 0xFF and 0 <= header.flow_label <= 0xFFFFF):
        raise WireError(f"IPv6 header field out of range: {header!r}")
    if addresses is None:
        addresses = pack_address_v6(header.src) + pack_address_v6(header.dst)
    fields = [
        (header.version << 28) | (header.traffic_class << 20) | header.flow_label,
        header.payload_length if payload_length is None else payload_length,
        header.next_header,
        header.hop_limit,
        addresses,
    ]
    buf.push_bytes(_pack(_IPV6_OUT, fields))


def _pack(fmt: struct.Struct, fields: list[Any]) -> bytes:
    try:
        return fmt.pack(*fields)
    except struct.error as exc:  # a field out of range for its width
        raise WireError(f"cannot encode IP header fields {fields!r}: {exc}") from None
