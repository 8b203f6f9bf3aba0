"""Laws of the wire codec on random packets: decode ∘ encode = id, and scapy as the oracle
(bytes we encode dissect in scapy to the same fields with valid checksums; bytes scapy builds
decode to the same fields)."""

from __future__ import annotations

import contextlib
import dataclasses
import socket

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, TCPOptions
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from drillbook import wire as w

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ipv4 = st.binary(min_size=4, max_size=4).map(lambda b: socket.inet_ntop(socket.AF_INET, b))
ipv6 = st.binary(min_size=16, max_size=16).map(lambda b: socket.inet_ntop(socket.AF_INET6, b))
payloads = st.binary(max_size=300)

FIXED = {2, 3, 4, 8}
# Kinds scapy (the oracle below) dissects by their own layout: random bytes under one of these
# kinds are a malformed option scapy may misread or raise on (MD5 with no digest, AO with a
# short body), so random kinds leave them to their own strategies (md5, fast_open).
SCAPY_KNOWN_KINDS = set(TCPOptions[0])
option = st.one_of(
    st.builds(w.mss, u16),
    st.builds(w.wscale, u8),
    st.just(w.sack_ok()),
    st.just(w.nop()),
    st.builds(w.timestamp, u32, u32),
    st.lists(st.tuples(u32, u32), min_size=1, max_size=4).map(lambda b: w.sack(*b)),
    st.builds(w.fast_open, st.binary(max_size=16)),
    st.builds(w.fast_open_exp, st.binary(max_size=16)),
    st.builds(w.md5, st.binary(min_size=16, max_size=16)),
    st.builds(w.accecn, st.sampled_from([0, 1]), st.integers(0, 0xFFFFFF)),
    st.builds(
        w.TcpOptionValue,
        st.integers(2, 255).filter(
            lambda k: k not in FIXED | SCAPY_KNOWN_KINDS and k != w.TCPOPT_SACK
        ),
        st.binary(max_size=10),
    ),
)


def padded(options: list[w.TcpOptionValue]) -> tuple[w.TcpOptionValue, ...] | None:
    """Options made up to a multiple of 4 with NOPs, or None if they do not fit in 40 bytes."""
    length = sum(o.wire_length for o in options)
    result = tuple(options) + (w.nop(),) * (-length % 4)
    return result if length + (-length % 4) <= 40 else None


option_lists = st.lists(option, max_size=8).map(padded).filter(lambda o: o is not None)

tcp_segments = st.builds(
    w.TcpSegment,
    sport=u16,
    dport=u16,
    seq=u32,
    ack=u32,
    flags=st.integers(0, 0x1FF),
    window=u16,
    urgent=u16,
    options=option_lists,
    payload=payloads,
    reserved=st.integers(0, 7),
)
udp_datagrams = st.builds(w.UdpDatagram, sport=u16, dport=u16, payload=payloads)
icmp_fields = {
    "type": u8,
    "code": u8,
    "rest": st.binary(min_size=4, max_size=4),
    "payload": st.binary(max_size=200),
}


# The codec keeps IPv4 options as opaque bytes, so any bytes must round-trip.
ip_option_bytes = st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])
# For scapy, options it will not reinterpret: scapy takes the pseudo-header's destination from a
# source-route option (RFC 9293 §3.1 says so too), which this codec does not parse.
plain_ip_options = st.sampled_from([b"", b"\x01" * 4, b"\x94\x04\x00\x00", b"\x01\x01\x01\x00"])


@st.composite
def packets(draw: st.DrawFn, ip_options: st.SearchStrategy[bytes] = ip_option_bytes) -> w.Packet:
    v6 = draw(st.booleans())
    kind = draw(st.sampled_from(["tcp", "udp", "icmp"]))
    transport: w.Transport
    if kind == "tcp":
        transport, protocol = draw(tcp_segments), w.IPPROTO_TCP
    elif kind == "udp":
        transport, protocol = draw(udp_datagrams), w.IPPROTO_UDP
    elif v6:
        transport, protocol = draw(st.builds(w.Icmpv6Message, **icmp_fields)), w.IPPROTO_ICMPV6
    else:
        transport, protocol = draw(st.builds(w.Icmpv4Message, **icmp_fields)), w.IPPROTO_ICMP
    ip: w.IPHeader
    if v6:
        ip = w.IPv6Header(
            src=draw(ipv6),
            dst=draw(ipv6),
            next_header=protocol,
            traffic_class=draw(u8),
            flow_label=draw(st.integers(0, 0xFFFFF)),
            hop_limit=draw(u8),
        )
    else:
        ip = w.IPv4Header(
            src=draw(ipv4),
            dst=draw(ipv4),
            protocol=protocol,
            tos=draw(u8),
            ident=draw(u16),
            flags=draw(st.sampled_from([0, w.IP_DF, w.IP_RF, w.IP_RF | w.IP_DF])),
            ttl=draw(u8),
            options=draw(ip_options),
        )
    return w.Packet(ip, transport)


def computed_fields_cleared(packet: w.Packet) -> w.Packet:
    """The packet with every field the encoder computes reset to its default."""
    ip = packet.ip
    if isinstance(ip, w.IPv4Header):
        ip = dataclasses.replace(ip, total_length=0, checksum=0, ihl=5)
    else:
        ip = dataclasses.replace(ip, payload_length=0)
    transport = packet.transport
    if isinstance(transport, w.TcpSegment):
        transport = dataclasses.replace(transport, data_offset=5, checksum=0)
    elif isinstance(transport, w.UdpDatagram):
        transport = dataclasses.replace(transport, length=0, checksum=0)
    elif isinstance(transport, w.Icmpv4Message | w.Icmpv6Message):
        transport = dataclasses.replace(transport, checksum=0)
    return w.Packet(ip, transport)


@SETTINGS
@given(packets())
def test_decode_encode_is_identity(packet: w.Packet) -> None:
    data = w.encode_packet(packet)
    decoded = w.decode_packet(data)
    assert computed_fields_cleared(decoded) == packet
    assert w.verify_checksums(data)
    assert w.encode_packet(decoded, fill_checksums=False, fill_lengths=False) == data
    assert w.encode_packet(decoded) == data


# -- scapy as the oracle -------------------------------------------------------------------------


def scapy_fields_agree(packet: w.Packet, parsed: ScapyPacket) -> None:
    """Every field of our decoded ``packet`` equals scapy's dissection of the same bytes."""
    ip = packet.ip
    if isinstance(ip, w.IPv4Header):
        layer = parsed[IP]
        assert (layer.src, layer.dst, layer.ttl, layer.tos, layer.id) == (
            ip.src,
            ip.dst,
            ip.ttl,
            ip.tos,
            ip.ident,
        )
        assert (int(layer.flags), layer.frag, layer.proto) == (
            ip.flags,
            ip.frag_offset,
            ip.protocol,
        )
        assert (layer.len, layer.ihl, layer.chksum) == (ip.total_length, ip.ihl, ip.checksum)
    else:
        layer = parsed[IPv6]
        assert (layer.src, layer.dst, layer.hlim, layer.nh) == (
            ip.src,
            ip.dst,
            ip.hop_limit,
            ip.next_header,
        )
        assert (layer.tc, layer.fl, layer.plen) == (
            ip.traffic_class,
            ip.flow_label,
            ip.payload_length,
        )
    transport = packet.transport
    if isinstance(transport, w.TcpSegment):
        tcp = parsed[TCP]
        assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack) == (
            transport.sport,
            transport.dport,
            transport.seq,
            transport.ack,
        )
        assert (int(tcp.flags), tcp.reserved, tcp.dataofs) == (
            transport.flags,
            transport.reserved,
            transport.data_offset,
        )
        assert (tcp.window, tcp.chksum, tcp.urgptr) == (
            transport.window,
            transport.checksum,
            transport.urgent,
        )
        assert bytes(tcp.payload) == transport.payload
        assert [scapy_view(o) for o in transport.options] == [
            (name, value) if name in SCAPY_NAMES.values() else None for name, value in tcp.options
        ]
    elif isinstance(transport, w.UdpDatagram):
        udp = parsed[UDP]
        assert (udp.sport, udp.dport, udp.len, udp.chksum) == (
            transport.sport,
            transport.dport,
            transport.length,
            transport.checksum,
        )
        assert bytes(udp.payload) == transport.payload


SCAPY_NAMES = {0: "EOL", 1: "NOP", 2: "MSS", 3: "WScale", 4: "SAckOK", 5: "SAck", 8: "Timestamp"}


def scapy_view(option: w.TcpOptionValue) -> tuple[str, object] | None:
    """How scapy shows a TCP option it knows (None for the kinds we do not compare)."""
    kind = option.kind
    values: dict[int, object] = {
        0: None,
        1: None,
        4: b"",
        2: option.as_mss() if kind == 2 else None,
        3: option.as_wscale() if kind == 3 else None,
        8: option.as_timestamp() if kind == 8 else None,
        5: sum(option.as_sack_blocks(), ()) if kind == 5 else None,
    }
    return (SCAPY_NAMES[kind], values[kind]) if kind in SCAPY_NAMES else None


def scapy_checksums(parsed: ScapyPacket) -> ScapyPacket:
    """Let scapy recompute every length and checksum of a dissected packet."""
    for layer in (IP, TCP, UDP, ICMP):
        if layer in parsed:
            del parsed[layer].chksum
    if IP in parsed:
        del parsed[IP].len
    if IPv6 in parsed:
        del parsed[IPv6].plen
    return parsed.__class__(bytes(parsed))


@SETTINGS
@given(
    packets(ip_options=plain_ip_options).filter(
        lambda p: not isinstance(p.transport, w.Icmpv6Message)
    )
)
@example(
    w.Packet(
        w.IPv6Header("2001:db8::1", "2001:db8::2"),
        w.TcpSegment(
            1,
            2,
            flags=w.TCP_SYN,
            options=(w.mss(1440), w.sack_ok(), w.timestamp(5, 0), w.nop(), w.wscale(9)),
        ),
    )
)
def test_scapy_reads_what_we_encode(packet: w.Packet) -> None:
    data = w.encode_packet(packet)
    parsed = (IPv6 if packet.is_ipv6 else IP)(data)
    scapy_fields_agree(w.decode_packet(data), parsed)
    # scapy's own lengths and checksums over our bytes are ours.
    assert bytes(scapy_checksums(parsed)) == data


@st.composite
def scapy_packets(draw: st.DrawFn) -> ScapyPacket:
    v6 = draw(st.booleans())
    if v6:
        base = IPv6(
            src=draw(ipv6),
            dst=draw(ipv6),
            tc=draw(u8),
            fl=draw(st.integers(0, 0xFFFFF)),
            hlim=draw(u8),
        )
    else:
        base = IP(
            src=draw(ipv4), dst=draw(ipv4), tos=draw(u8), id=draw(u16), ttl=draw(u8), flags="DF"
        )
    if draw(st.booleans()):
        segment = draw(tcp_segments)
        named = {w.TCPOPT_EOL: "EOL", w.TCPOPT_NOP: "NOP"}
        options = [
            (named[o.kind], None) if o.kind in named else (o.kind, o.data) for o in segment.options
        ]
        built = (
            base
            / TCP(
                sport=segment.sport,
                dport=segment.dport,
                seq=segment.seq,
                ack=segment.ack,
                flags=segment.flags,
                reserved=segment.reserved,
                window=segment.window,
                urgptr=segment.urgent,
                options=options,
            )
            / Raw(segment.payload)
        )
    else:
        datagram = draw(udp_datagrams)
        built = base / UDP(sport=datagram.sport, dport=datagram.dport) / Raw(datagram.payload)
    return built.__class__(bytes(built))


@SETTINGS
@given(scapy_packets())
@example(
    IP(
        bytes(
            IP(src="192.0.2.1", dst="192.168.0.1")
            / TCP(
                flags="SA",
                options=[
                    ("MSS", 1460),
                    ("SAckOK", b""),
                    ("Timestamp", (1, 2)),
                    ("NOP", None),
                    ("WScale", 7),
                    ("NOP", None),
                    ("NOP", None),
                    ("SAck", (1, 2, 3, 4)),
                ],
            )
        )
    )
)
def test_we_decode_what_scapy_builds(parsed: ScapyPacket) -> None:
    data = bytes(parsed)
    packet = w.decode_packet(data)
    scapy_fields_agree(packet, parsed)
    assert w.encode_packet(packet) == data


@SETTINGS
@given(st.binary(max_size=120))
def test_random_bytes_decode_or_raise_wire_error(data: bytes) -> None:
    try:
        packet = w.decode_packet(data)
    except w.WireError:
        return
    # Whatever decodes re-encodes to the bytes it came from (up to the IP length).
    again = w.encode_packet(packet, fill_checksums=False, fill_lengths=False)
    assert data.startswith(again)


@SETTINGS
@given(packets(), st.data())
def test_corrupted_packets_decode_or_raise_wire_error(
    packet: w.Packet, data: st.DataObject
) -> None:
    raw = bytearray(w.encode_packet(packet))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(u8)
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(w.WireError):
        w.decode_packet(bytes(raw[:cut]))
