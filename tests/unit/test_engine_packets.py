"""The packet engine without a kernel: mapping, matching and packetdrill's wording.

These drive the pure engine with hand-made live packets (the codec builds them); the same
paths run against the real kernel in tests/kernel/.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from drillbook.config import RunConfig
from drillbook.engine.packets import InboundPacket, OutboundMatcher, PacketEngine
from drillbook.engine.records import materialize
from drillbook.engine.results import OutboundVerdictKind
from drillbook.engine.types import SocketEventKind
from drillbook.script.model import Direction, PacketSpec, TcpOption, TcpSpec
from drillbook.wire import IPv4Header, Packet, TcpSegment, decode_packet, encode_packet
from drillbook.wire import tcp_options as opt
from drillbook.wire.tcp import TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN

LOCAL, REMOTE, EPHEMERAL, ISN = "192.168.0.1", "192.0.2.1", 40000, 3_000_000_000


@dataclass(frozen=True)
class Addresses:
    wire_family: int = socket.AF_INET
    local_ip: str = LOCAL
    remote_ip: str = REMOTE


@dataclass(frozen=True)
class SocketEvent:
    kind: SocketEventKind
    script_fd: int
    live_fd: int
    sock_type: int = socket.SOCK_STREAM
    protocol: int = socket.IPPROTO_TCP


def tcp(
    direction: Direction,
    flags: str,
    start: int,
    length: int,
    ack: int | None = None,
    win: int | None = None,
    options: tuple[TcpOption, ...] | None = None,
) -> PacketSpec:
    return PacketSpec(
        direction,
        TcpSpec(flags, start, start + length, length, ack=ack, window=win, options=options),
    )


def live_out(
    flags: int,
    seq: int,
    ack: int,
    payload: int = 0,
    window: int = 502,
    options: tuple[opt.TcpOptionValue, ...] = (),
) -> bytes:
    segment = TcpSegment(
        sport=8080,
        dport=EPHEMERAL,
        seq=seq,
        ack=ack,
        flags=flags,
        window=window,
        options=options,
        payload=bytes(payload),
    )
    return encode_packet(Packet(IPv4Header(src=LOCAL, dst=REMOTE, ttl=64), segment))


def listening_engine(config: RunConfig | None = None) -> PacketEngine:
    engine = PacketEngine(config or RunConfig(), Addresses(), lambda: EPHEMERAL)
    engine.on_socket_event(SocketEvent(SocketEventKind.SOCKET, 3, 7))
    engine.on_socket_event(SocketEvent(SocketEventKind.LISTEN, 3, 7))
    return engine


def established(config: RunConfig | None = None) -> PacketEngine:
    engine = listening_engine(config)
    engine.prepare_inbound(tcp(Direction.INBOUND, "S", 0, 0, win=1000), 5)
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, "S.", 0, 0, ack=1), 6)
    assert isinstance(matcher, OutboundMatcher)
    matcher.feed(live_out(TCP_SYN | TCP_ACK, ISN, 1), 10)
    return engine


def test_inbound_syn_to_a_listener_uses_the_reserved_port_and_script_isn() -> None:
    engine = listening_engine()
    prepared = engine.prepare_inbound(tcp(Direction.INBOUND, "S", 0, 0, win=1000), 5)
    assert isinstance(prepared, InboundPacket)
    packet = decode_packet(prepared.data)
    assert (packet.ip.src, packet.ip.dst) == (REMOTE, LOCAL)
    assert packet.tcp is not None
    assert (packet.tcp.sport, packet.tcp.dport, packet.tcp.seq) == (EPHEMERAL, 8080, 0)
    assert packet.ip.ttl == 255


def test_outbound_seq_is_relative_to_the_kernels_isn() -> None:
    engine = established()
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, "P.", 1, 10, ack=1), 9)
    assert isinstance(matcher, OutboundMatcher)
    verdict = matcher.feed(live_out(TCP_PSH | TCP_ACK, ISN + 1, 1, payload=10), 20)
    assert verdict.kind is OutboundVerdictKind.DONE and verdict.failure is None
    actual = materialize(verdict.actual)
    assert actual is not None and actual.summary == "P. 1:11(10) ack 1 win 502"


def test_inbound_ack_is_mapped_to_the_live_isn() -> None:
    engine = established()
    prepared = engine.prepare_inbound(tcp(Direction.INBOUND, ".", 1, 0, ack=1, win=1000), 7)
    assert isinstance(prepared, InboundPacket)
    segment = decode_packet(prepared.data).tcp
    assert segment is not None and segment.ack == ISN + 1 and segment.seq == 1


def test_field_mismatch_names_the_field_as_packetdrill_does() -> None:
    engine = established()
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, ".", 1, 0, ack=1001), 9)
    assert isinstance(matcher, OutboundMatcher)
    verdict = matcher.feed(live_out(TCP_ACK, ISN + 1, 2001), 20)
    assert verdict.failure is not None
    assert verdict.failure.message == (
        "live packet field tcp_ack_seq: expected: 1001 (0x3e9) vs actual: 2001 (0x7d1)"
    )
    assert verdict.failure.field_name == "tcp_ack_seq"


def test_options_missing_from_the_script_fail_on_total_length_first() -> None:
    engine = listening_engine()
    engine.prepare_inbound(tcp(Direction.INBOUND, "S", 0, 0, win=1000), 5)
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, "S.", 0, 0, ack=1), 6)
    assert isinstance(matcher, OutboundMatcher)
    verdict = matcher.feed(live_out(TCP_SYN | TCP_ACK, ISN, 1, options=(opt.mss(1460),)), 10)
    assert verdict.failure is not None
    assert verdict.failure.message == (
        "live packet field ipv4_total_length: expected: 40 (0x28) vs actual: 44 (0x2c)"
    )


def test_any_options_accepts_whatever_the_kernel_sends() -> None:
    engine = listening_engine()
    engine.prepare_inbound(tcp(Direction.INBOUND, "S", 0, 0, win=1000), 5)
    spec = PacketSpec(Direction.OUTBOUND, TcpSpec("S.", 0, 0, 0, ack=1, any_options=True))
    matcher = engine.begin_outbound(spec, 6)
    assert isinstance(matcher, OutboundMatcher)
    options = (opt.mss(1460), opt.nop(), opt.nop(), opt.sack_ok())
    verdict = matcher.feed(live_out(TCP_SYN | TCP_ACK, ISN, 1, options=options), 10)
    assert verdict.failure is None


def test_gso_segments_are_aggregated_up_to_the_script_length() -> None:
    engine = established()
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, "P.", 1, 2000, ack=1), 9)
    assert isinstance(matcher, OutboundMatcher)
    first = matcher.feed(live_out(TCP_ACK, ISN + 1, 1, payload=1000), 20)
    assert first.kind is OutboundVerdictKind.MORE
    second = matcher.feed(live_out(TCP_PSH | TCP_ACK, ISN + 1001, 1, payload=1000), 21)
    assert second.kind is OutboundVerdictKind.DONE and second.failure is None


def test_strict_segments_reports_the_payload_length() -> None:
    engine = established(RunConfig(strict_segments=True))
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, "P.", 1, 2000, ack=1), 9)
    assert isinstance(matcher, OutboundMatcher)
    verdict = matcher.feed(live_out(TCP_ACK, ISN + 1, 1, payload=1000), 20)
    assert verdict.failure is not None
    assert (
        verdict.failure.message == "live packet payload: expected 2000 bytes vs actual 1000 bytes"
    )


def test_sack_blocks_are_compared_in_script_space() -> None:
    engine = established()
    spec = tcp(
        Direction.OUTBOUND,
        ".",
        1,
        0,
        ack=1001,
        options=(TcpOption("nop"), TcpOption("nop"), TcpOption("sack", blocks=((2001, 3001),))),
    )
    matcher = engine.begin_outbound(spec, 9)
    assert isinstance(matcher, OutboundMatcher)
    live = live_out(TCP_ACK, ISN + 1, 1001, options=(opt.nop(), opt.nop(), opt.sack((2001, 3001))))
    assert matcher.feed(live, 20).failure is None


def test_other_flows_are_skipped() -> None:
    engine = established()
    matcher = engine.begin_outbound(tcp(Direction.OUTBOUND, ".", 1, 0, ack=1), 9)
    assert isinstance(matcher, OutboundMatcher)
    other = encode_packet(
        Packet(IPv4Header(src=LOCAL, dst="192.0.2.9"), TcpSegment(sport=1, dport=2, flags=TCP_ACK))
    )
    assert matcher.feed(other, 20).kind is OutboundVerdictKind.SKIP


def test_reset_uses_the_last_injected_header() -> None:
    engine = established()
    engine.prepare_inbound(tcp(Direction.INBOUND, ".", 1, 100, ack=1, win=1000), 7)
    (rst,) = engine.reset_packets()
    segment = decode_packet(rst).tcp
    assert segment is not None
    assert segment.flags == TCP_RST | TCP_ACK and segment.seq == 101 and segment.ack == ISN + 1
