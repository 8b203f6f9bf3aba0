"""Whole IP packets: ``decode_packet`` and ``encode_packet``.

The IP version comes from the first nibble, the transport from the IPv4 protocol or the IPv6
next header. Extension headers and fragments are not parsed: their bytes stay in an
``OpaqueTransport``, as does any protocol other than TCP, UDP, ICMP and ICMPv6.
"""

from __future__ import annotations

from dataclasses import dataclass

from drillbook.wire.address import pack_address_v4, pack_address_v6
from drillbook.wire.buffer import Buffer
from drillbook.wire.checksum import (
    ones_complement_sum,
    verify_ipv4_header_checksum,
    verify_transport_checksum,
)
from drillbook.wire.errors import WireError
from drillbook.wire.icmp import (
    Icmpv4Message,
    Icmpv6Message,
    pull_icmp_message,
    push_icmp_message,
)
from drillbook.wire.ip import (
    IPv4Header,
    IPv6Header,
    pull_ipv4_header,
    pull_ipv6_header,
    push_ipv4_header,
    push_ipv6_header,
)
from drillbook.wire.protocols import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP
from drillbook.wire.tcp import TcpSegment, pull_tcp_segment, push_tcp_segment
from drillbook.wire.udp import UdpDatagram, pull_udp_datagram, push_udp_datagram


@dataclass(frozen=True, slots=True)
class OpaqueTransport:
    """The payload of an IP packet whose transport is not decoded (or is a fragment)."""

    data: bytes = b""


Transport = TcpSegment | UdpDatagram | Icmpv4Message | Icmpv6Message | OpaqueTransport


@dataclass(frozen=True, slots=True)
class Packet:
    """An IP packet: its header and its decoded transport."""

    ip: IPv4Header | IPv6Header
    transport: Transport

    @property
    def tcp(self) -> TcpSegment | None:
        """The TCP segment, if this is TCP."""
        return self.transport if isinstance(self.transport, TcpSegment) else None

    @property
    def udp(self) -> UdpDatagram | None:
        """The UDP datagram, if this is UDP."""
        return self.transport if isinstance(self.transport, UdpDatagram) else None

    @property
    def is_ipv6(self) -> bool:
        """Whether the IP header is IPv6."""
        return isinstance(self.ip, IPv6Header)


def decode_packet(data: bytes) -> Packet:
    """Decode an IP packet. Raises :class:`WireError` on truncated or malformed bytes.

    Bytes past the IPv4 total length (or IPv6 payload length) are ignored, as a NIC's padding.
    """
    if not data:
        raise WireError("empty packet")
    buf = Buffer(bytes(data))
    version = data[0] >> 4
    ip: IPv4Header | IPv6Header
    if version == 4:
        ip = pull_ipv4_header(buf)
        if ip.frag_offset or ip.flags & 1:  # a fragment: no transport header to parse
            return Packet(ip, OpaqueTransport(buf.pull_rest()))
        protocol = ip.protocol
    elif version == 6:
        ip = pull_ipv6_header(buf)
        protocol = ip.next_header
    else:
        raise WireError(f"unknown IP version: {version}")
    return Packet(ip, _pull_transport(buf, protocol, version == 6))


def _pull_transport(buf: Buffer, protocol: int, v6: bool) -> Transport:
    if protocol == IPPROTO_TCP:
        return pull_tcp_segment(buf)
    if protocol == IPPROTO_UDP:
        return pull_udp_datagram(buf)
    if protocol == (IPPROTO_ICMPV6 if v6 else IPPROTO_ICMP):
        return pull_icmp_message(buf, v6)
    return OpaqueTransport(buf.pull_rest())


def encode_packet(
    packet: Packet, *, fill_checksums: bool = True, fill_lengths: bool = True
) -> bytes:
    """Encode ``packet`` to bytes.

    With ``fill_lengths``, the IPv4 ihl and total length, IPv6 payload length, TCP data offset
    and UDP length are computed; with ``fill_checksums``, every checksum is. Turned off, the
    packet's own fields are written as they are (to build deliberately broken packets).
    """
    ip = packet.ip
    v4 = isinstance(ip, IPv4Header)
    pack = pack_address_v4 if v4 else pack_address_v6
    addresses = pack(ip.src) + pack(ip.dst)  # once, for the IP header and the pseudo-header
    body = _encode_transport(packet.transport, addresses, v4, fill_checksums, fill_lengths)
    buf = Buffer()
    payload_length = len(body) if fill_lengths else None
    if isinstance(ip, IPv4Header):
        push_ipv4_header(buf, ip, payload_length, fill_checksums, addresses)
    else:
        push_ipv6_header(buf, ip, payload_length, addresses)
    buf.push_bytes(body)
    return buf.data


def _encode_transport(
    transport: Transport, addresses: bytes, v4: bool, fill_checksums: bool, fill_lengths: bool
) -> bytes:
    buf = Buffer()
    pseudo = addresses if fill_checksums else None
    if isinstance(transport, TcpSegment):
        push_tcp_segment(buf, transport, fill_lengths, pseudo)
    elif isinstance(transport, UdpDatagram):
        push_udp_datagram(buf, transport, fill_lengths, pseudo)
    elif isinstance(transport, Icmpv4Message | Icmpv6Message):
        v6_pseudo = None if isinstance(transport, Icmpv4Message) else addresses
        push_icmp_message(buf, transport, fill_checksums, v6_pseudo)
    else:
        buf.push_bytes(transport.data)
    return buf.data


def verify_checksums(data: bytes) -> bool:
    """Whether the IPv4 header checksum and the transport checksum of ``data`` are right.

    A UDP checksum of zero means "no checksum" over IPv4 (RFC 768) and passes.
    """
    packet = decode_packet(data)
    ip = packet.ip
    header_length = ip.header_length
    if isinstance(ip, IPv4Header):
        if not verify_ipv4_header_checksum(data[:header_length]):
            return False
        end = ip.total_length
    else:
        end = header_length + ip.payload_length
    segment = data[header_length:end]
    transport = packet.transport
    if isinstance(transport, OpaqueTransport):
        return True
    if isinstance(transport, Icmpv4Message):
        return ones_complement_sum(segment) == 0xFFFF
    if isinstance(transport, UdpDatagram):
        if transport.checksum == 0 and isinstance(ip, IPv4Header):
            return True
        segment = segment[: transport.length]
    return verify_transport_checksum(ip.src, ip.dst, ip.upper_protocol, segment)
