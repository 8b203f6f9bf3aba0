"""The wire codec on hand-built packets: fields, lengths, checksums, options, errors."""

from __future__ import annotations

import contextlib
import struct

import pytest

from drillbook import wire as w

REMOTE, LOCAL = "192.0.2.1", "192.168.0.1"
REMOTE6, LOCAL6 = "fd3d:fa7b:d17d::1", "fd3d:fa7b:d17d::36"


def syn_ack(payload: bytes = b"") -> w.Packet:
    return w.Packet(
        w.IPv4Header(REMOTE, LOCAL, ident=1, flags=w.IP_DF),
        w.TcpSegment(
            8080,
            80,
            seq=1000,
            ack=2000,
            flags=w.TCP_SYN | w.TCP_ACK,
            window=65535,
            options=(w.mss(1460), w.sack_ok(), w.timestamp(7, 9), w.nop(), w.wscale(8)),
            payload=payload,
        ),
    )


def test_encode_fills_lengths_and_checksums() -> None:
    data = w.encode_packet(syn_ack(b"hello"))
    assert len(data) == 20 + 40 + 5
    assert struct.unpack_from("!H", data, 2)[0] == len(data)
    assert data[20 + 12] >> 4 == 10  # data offset: 20 + 20 option bytes
    assert w.verify_checksums(data)
    assert w.verify_ipv4_header_checksum(data[:20])


def test_decode_reads_every_field() -> None:
    packet = w.decode_packet(w.encode_packet(syn_ack(b"hello")))
    ip, tcp = packet.ip, packet.tcp
    assert isinstance(ip, w.IPv4Header) and tcp is not None
    assert (ip.src, ip.dst, ip.protocol, ip.flags, ip.ident, ip.ttl) == (
        REMOTE,
        LOCAL,
        w.IPPROTO_TCP,
        w.IP_DF,
        1,
        64,
    )
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.window) == (8080, 80, 1000, 2000, 65535)
    assert tcp.has(w.TCP_SYN | w.TCP_ACK) and not tcp.has(w.TCP_FIN)
    assert tcp.payload == b"hello"
    assert tcp.end_seq == 1000 + 1 + 5
    assert tcp.timestamp == (7, 9)
    mss_option = tcp.option(w.TCPOPT_MSS)
    assert mss_option is not None and mss_option.as_mss() == 1460
    assert [o.kind for o in tcp.options] == [2, 4, 8, 1, 3]


def test_ae_flag_is_bit_8_next_to_data_offset() -> None:
    packet = w.Packet(
        w.IPv4Header(REMOTE, LOCAL), w.TcpSegment(1, 2, flags=w.TCP_AE | w.TCP_CWR | w.TCP_ECE)
    )
    data = w.encode_packet(packet)
    assert data[32] == 0x51  # data offset 5, AE set
    assert data[33] == 0xC0  # CWR, ECE
    decoded = w.decode_packet(data).tcp
    assert decoded is not None and decoded.flags == 0x1C0


def test_ipv6_tcp_round_trip_and_checksum() -> None:
    packet = w.Packet(
        w.IPv6Header(REMOTE6, LOCAL6, traffic_class=0x02, flow_label=0x12345, hop_limit=255),
        w.TcpSegment(5000, 6000, seq=1, flags=w.TCP_PSH | w.TCP_ACK, payload=b"abc"),
    )
    data = w.encode_packet(packet)
    assert len(data) == 40 + 20 + 3
    assert w.verify_checksums(data)
    decoded = w.decode_packet(data)
    assert isinstance(decoded.ip, w.IPv6Header)
    assert decoded.ip.payload_length == 23 and decoded.ip.flow_label == 0x12345
    assert decoded.ip.ecn == w.ECN_ECT0 and decoded.is_ipv6
    assert w.encode_packet(decoded, fill_checksums=False, fill_lengths=False) == data


def test_udp_zero_checksum_is_sent_as_all_ones() -> None:
    # Find a payload whose computed checksum would be 0: then RFC 768 sends 0xFFFF.
    zeros = w.UdpDatagram(1, 2, payload=b"\0\0")
    base = w.Packet(w.IPv4Header(REMOTE, LOCAL, protocol=w.IPPROTO_UDP), zeros)
    plain = w.decode_packet(w.encode_packet(base)).udp
    assert plain is not None
    fix = struct.pack("!H", plain.checksum)  # adding the checksum to the sum makes it 0xFFFF
    packet = w.Packet(base.ip, w.UdpDatagram(1, 2, payload=fix))
    udp = w.decode_packet(w.encode_packet(packet)).udp
    assert udp is not None and udp.checksum == 0xFFFF and udp.length == 10
    assert w.verify_checksums(w.encode_packet(packet))


def test_icmpv4_frag_needed_quotes_the_tcp_packet() -> None:
    quoted = w.icmp_quote(w.encode_packet(syn_ack(b"x" * 100)))
    assert len(quoted) == 28
    message = w.Icmpv4Message(
        w.ICMP_DEST_UNREACH, w.ICMP_FRAG_NEEDED, rest=w.icmp_rest_mtu_v4(1200), payload=quoted
    )
    data = w.encode_packet(w.Packet(w.IPv4Header(REMOTE, LOCAL, protocol=w.IPPROTO_ICMP), message))
    decoded = w.decode_packet(data).transport
    assert isinstance(decoded, w.Icmpv4Message)
    assert (decoded.type, decoded.code, decoded.mtu) == (3, 4, 1200)
    assert decoded.payload == quoted
    assert quoted[12:16] == bytes((192, 0, 2, 1)) and quoted[20:22] == b"\x1f\x90"  # src, sport
    assert w.verify_checksums(data)


def test_icmpv6_packet_too_big_uses_pseudo_header() -> None:
    message = w.Icmpv6Message(w.ICMPV6_PKT_TOOBIG, rest=w.icmp_rest_mtu_v6(1280), payload=b"q" * 48)
    ip = w.IPv6Header(REMOTE6, LOCAL6, next_header=w.IPPROTO_ICMPV6)
    data = w.encode_packet(w.Packet(ip, message))
    decoded = w.decode_packet(data).transport
    assert isinstance(decoded, w.Icmpv6Message) and decoded.mtu == 1280
    assert w.verify_checksums(data)
    # The same bytes summed without the pseudo-header do not verify: the pseudo-header counts.
    assert w.ones_complement_sum(data[40:]) != 0xFFFF


def test_echo_ident_and_sequence() -> None:
    message = w.Icmpv4Message(w.ICMP_ECHO, rest=w.icmp_rest_echo(0x1234, 7), payload=b"ping")
    assert (message.ident, message.sequence) == (0x1234, 7)


def test_typed_option_helpers() -> None:
    assert w.wscale(14).as_wscale() == 14
    assert w.sack((1, 2), (3, 4)).as_sack_blocks() == ((1, 2), (3, 4))
    assert w.fast_open(b"\x01\x02").as_fast_open_cookie() == b"\x01\x02"
    assert w.fast_open().as_fast_open_cookie() == b""
    foexp = w.fast_open_exp(b"\xaa" * 8)
    assert foexp.kind == 254 and foexp.data[:2] == b"\xf9\x89"
    assert foexp.as_fast_open_cookie() == b"\xaa" * 8
    assert w.md5(bytes(range(16))).as_md5() == bytes(range(16))
    assert w.accecn(0, 1, 2, 0xFFFFFF).kind == w.TCPOPT_ACCECN0
    assert w.accecn(1, 5).as_accecn() == (5,)
    assert w.accecn(0, 1, 2, 0xFFFFFF).as_accecn() == (1, 2, 0xFFFFFF)
    assert w.push_tcp_options((w.eol(), w.nop(), w.mss(536))) == b"\x00\x01\x02\x04\x02\x18"


def test_options_are_padded_with_eol_to_four_bytes() -> None:
    segment = w.TcpSegment(1, 2, options=(w.mss(1000), w.wscale(2)))
    data = w.encode_packet(w.Packet(w.IPv4Header(REMOTE, LOCAL), segment))
    tcp = w.decode_packet(data).tcp
    assert tcp is not None and tcp.data_offset == 7
    assert [o.kind for o in tcp.options] == [2, 3, 0]


@pytest.mark.parametrize(
    ("option_bytes", "message"),
    [
        (b"\x02", "TCP option length byte extends too far"),
        (b"\x02\x01\x00\x00", "TCP option with length byte is too short"),
        (b"\x05\x0a\x00\x00", "TCP option data extends too far"),
        (b"\x02\x03\x00\x01", "bad TCP option length: was 3 but expected 4"),
        (b"\x08\x08\x00\x00\x00\x00\x00\x00", "bad TCP option length: was 8 but expected 10"),
    ],
)
def test_malformed_options_raise_wire_error(option_bytes: bytes, message: str) -> None:
    with pytest.raises(w.WireError, match=message):
        w.pull_tcp_options(option_bytes)


def test_bad_typed_reads_raise_wire_error() -> None:
    with pytest.raises(w.WireError, match="not kind 2"):
        w.wscale(1).as_mss()
    with pytest.raises(w.WireError, match="not a multiple of SACK block size"):
        w.TcpOptionValue(w.TCPOPT_SACK, b"\0" * 6).as_sack_blocks()
    with pytest.raises(w.WireError, match="unknown experimental option"):
        w.TcpOptionValue(w.TCPOPT_EXP, b"\x12\x34").as_fast_open_cookie()
    with pytest.raises(w.WireError):
        w.TcpOptionValue(w.TCPOPT_NOP, b"x").wire_length and w.push_tcp_options(
            (w.TcpOptionValue(w.TCPOPT_NOP, b"x"),)
        )


def test_every_truncation_is_a_wire_error() -> None:
    data = w.encode_packet(syn_ack(b"payload"))
    for cut in range(len(data)):
        try:
            w.decode_packet(data[:cut])
        except w.WireError:
            continue
        pytest.fail(f"decoding {cut} of {len(data)} bytes did not raise WireError")


def test_garbage_never_escapes_as_another_error() -> None:
    data = bytearray(w.encode_packet(syn_ack(b"payload")))
    for index in range(len(data)):
        for value in (0x00, 0x0F, 0x45, 0x60, 0xFF):
            mutated = bytearray(data)
            mutated[index] = value
            with contextlib.suppress(w.WireError):
                w.decode_packet(bytes(mutated))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty packet"),
        (b"\x75" + bytes(40), "unknown IP version: 7"),
        (b"\x44" + bytes(19), "ihl 4 is below 5"),
        (bytes.fromhex("45000014") + bytes(15), "truncated IPv4 header"),
        (bytes.fromhex("450000ff") + bytes(16), "truncated IPv4 packet"),
    ],
)
def test_bad_ip_headers(data: bytes, message: str) -> None:
    with pytest.raises(w.WireError, match=message):
        w.decode_packet(data)


def test_link_padding_past_total_length_is_ignored() -> None:
    data = w.encode_packet(syn_ack(b"ab"))
    tcp = w.decode_packet(data + b"\0" * 6).tcp
    assert tcp is not None and tcp.payload == b"ab"


def test_unknown_protocol_and_fragments_stay_opaque() -> None:
    ip = w.IPv4Header(REMOTE, LOCAL, protocol=47)
    packet = w.decode_packet(w.encode_packet(w.Packet(ip, w.OpaqueTransport(b"gre!"))))
    assert packet.transport == w.OpaqueTransport(b"gre!")
    fragment = w.IPv4Header(REMOTE, LOCAL, flags=w.IP_MF)
    packet = w.decode_packet(w.encode_packet(w.Packet(fragment, w.OpaqueTransport(b"\x01" * 8))))
    assert isinstance(packet.transport, w.OpaqueTransport)


def test_encode_rejects_out_of_range_fields() -> None:
    with pytest.raises(w.WireError):
        w.encode_packet(w.Packet(w.IPv4Header(REMOTE, LOCAL), w.TcpSegment(70000, 1)))
    with pytest.raises(w.WireError, match="not an IPv4 address"):
        w.encode_packet(w.Packet(w.IPv4Header("nowhere", LOCAL), w.TcpSegment(1, 1)))
    with pytest.raises(w.WireError, match="TCP options too long"):
        options = (w.timestamp(1, 1),) * 5
        w.encode_packet(w.Packet(w.IPv4Header(REMOTE, LOCAL), w.TcpSegment(1, 1, options=options)))


def test_checksum_corruption_is_detected() -> None:
    data = bytearray(w.encode_packet(syn_ack(b"data")))
    data[-1] ^= 0x01
    assert not w.verify_checksums(bytes(data))
    data = bytearray(w.encode_packet(syn_ack(b"data")))
    data[8] ^= 0x01  # TTL
    assert not w.verify_checksums(bytes(data))


def test_internet_checksum_known_value() -> None:
    # RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to 0xddf2 (checksum 0x220d).
    assert w.ones_complement_sum(bytes.fromhex("0001f203f4f5f6f7")) == 0xDDF2
    assert w.internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert w.ones_complement_sum(b"\xff\xff\xff\xff") == 0xFFFF
    assert w.ones_complement_sum(b"\x00\x00") == 0


def test_virtio_net_hdr() -> None:
    assert w.pack_virtio_net_hdr() == bytes(10)
    header = w.gso_header(1000, ipv6=True)
    assert header.gso_type == w.VIRTIO_NET_HDR_GSO_TCPV6 and header.gso_size == 1000
    raw = w.pack_virtio_net_hdr(header)
    assert len(raw) == w.VIRTIO_NET_HDR_LEN
    assert w.unpack_virtio_net_hdr(raw + b"\x45") == (header, b"\x45")
    full = w.VirtioNetHdr(
        flags=w.VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type=w.VIRTIO_NET_HDR_GSO_TCPV4 | w.VIRTIO_NET_HDR_GSO_ECN,
        hdr_len=54,
        gso_size=1448,
        csum_start=34,
        csum_offset=16,
    )
    assert w.unpack_virtio_net_hdr(w.pack_virtio_net_hdr(full))[0] == full
    with pytest.raises(w.WireError, match="truncated virtio_net_hdr"):
        w.unpack_virtio_net_hdr(b"\0" * 9)


def test_public_surface_is_importable_and_stdlib_only() -> None:
    import subprocess
    import sys

    for name in w.__all__:
        assert getattr(w, name) is not None, name
    # The codec must not drag scapy (or anything heavy) in: it runs on the hot path.
    code = "import sys, drillbook.wire; print(sorted(m for m in sys.modules if 'scapy' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
