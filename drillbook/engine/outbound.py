"""Matching sniffed packets against one `>` line: aggregation of GSO segments, then the
comparison in packetdrill's order (payload length, headers, flow label, options, payload)."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from drillbook.config import RunConfig
from drillbook.engine.expected import ExpectedTcp, expected_tcp
from drillbook.engine.records import AnyRecord, plain_record, record_tcp
from drillbook.engine.results import OutboundVerdict, OutboundVerdictKind, PacketFailure
from drillbook.engine.sockets import MASK32, SocketState, TcpHeaderMemo, TestSocket, add32
from drillbook.engine.verify import (
    IpExpectation,
    Mismatch,
    check_field,
    verify_ip,
    verify_options,
    verify_tcp,
)
from drillbook.script.model import IcmpSpec, PacketSpec, TcpSpec, UdpSpec
from drillbook.trace.model import FailureKind
from drillbook.wire import tcp_options as opt
from drillbook.wire.errors import WireError
from drillbook.wire.icmp import Icmpv4Message, Icmpv6Message
from drillbook.wire.ip import IPv4Header, IPv6Header
from drillbook.wire.packet import Packet, decode_packet
from drillbook.wire.protocols import IPPROTO_TCP, IPPROTO_UDP
from drillbook.wire.tcp import TCP_ACK, TCP_FIN, TCP_SYN, TcpSegment
from drillbook.wire.udp import UdpDatagram


class MatchContext(Protocol):
    """What a matcher needs of the engine that made it (drillbook.engine.packets)."""

    @property
    def config(self) -> RunConfig: ...

    @property
    def ipv6(self) -> bool: ...

    def owns(self, sock: TestSocket, pkt: Packet) -> bool:
        """Whether a sniffed packet belongs to ``sock``'s connection."""
        ...

    def to_script(self, sock: TestSocket, tcp: TcpSegment) -> TcpSegment:
        """``tcp`` with its numbers mapped to the script's."""
        ...



class OutboundMatcher:
    """Collects the sniffed segments for one `>` line and compares them with it."""

    def __init__(self, engine: MatchContext, spec: PacketSpec, sock: TestSocket) -> None:
        self.engine = engine
        self.spec = spec
        self.sock = sock
        body = spec.body
        self.exp: ExpectedTcp | None = expected_tcp(body) if isinstance(body, TcpSpec) else None
        self.expected_len = body.payload_len if isinstance(body, (TcpSpec, UdpSpec)) else 0
        self.fragments: list[tuple[Packet, TcpSegment | None, int, bytes]] = []

    def feed(self, raw: bytes, when_us: int) -> OutboundVerdict:
        try:
            pkt = decode_packet(raw)
        except WireError:
            return OutboundVerdict(OutboundVerdictKind.SKIP)
        sock = self.sock
        if not self.engine.owns(sock, pkt):
            return OutboundVerdict(OutboundVerdictKind.SKIP)
        tcp = pkt.tcp
        script_tcp = None
        record: AnyRecord
        if tcp is not None:
            if (
                sock.state is SocketState.PASSIVE_PACKET_RECEIVED
                and self.exp is not None
                and self.exp.flags & TCP_SYN
                and self.exp.flags & TCP_ACK
            ):
                sock.state = SocketState.PASSIVE_SYNACK_SENT
                sock.live_local_isn = tcp.seq
            flags = tcp.flags
            sock.last_outbound = TcpHeaderMemo(
                tcp.seq, tcp.ack, tcp.window, bool(flags & TCP_SYN), bool(flags & TCP_FIN),
                bool(flags & TCP_ACK), len(tcp.payload),
            )
            script_tcp = self.engine.to_script(sock, tcp)
            record = record_tcp(">", when_us, raw, pkt, script_tcp)
        else:
            record = plain_record(">", when_us, raw, pkt)
        if self.fragments and _tuple(self.fragments[-1][0]) != _tuple(pkt):
            # Another flow took over the socket's identity (a second SYN on a connecting
            # socket): packetdrill discards what it had gathered and starts anew.
            self.fragments.clear()
        if self.fragments and script_tcp is not None and self.exp is not None:
            mismatch = self._fragment_mismatch(pkt, script_tcp)
            if mismatch is not None:
                return OutboundVerdict(OutboundVerdictKind.DONE, record, record, mismatch)
        self.fragments.append((pkt, script_tcp, when_us, raw))
        sniffed = sum(_payload_len(p) for p, _s, _w, _r in self.fragments)
        if sniffed < self.expected_len and not self.engine.config.strict_segments:
            return OutboundVerdict(OutboundVerdictKind.MORE, record)
        return self._finish(record, sniffed)

    def _fragment_mismatch(self, pkt: Packet, script_tcp: TcpSegment) -> PacketFailure | None:
        prev_pkt, prev_tcp, _w, _r = self.fragments[-1]
        assert prev_tcp is not None
        sniffed = sum(_payload_len(p) for p, _s, _w2, _r2 in self.fragments)
        prev_exp = ExpectedTcp(
            flags=prev_tcp.flags,
            ace=False,
            seq=prev_tcp.seq,
            payload_len=len(prev_tcp.payload),
            ack=prev_tcp.ack,
            window=prev_tcp.window,
            urgent=prev_tcp.urgent,
            options=prev_tcp.options,
            any_options=False,
        )
        ip_exp = IpExpectation(
            ipv6=isinstance(prev_pkt.ip, IPv6Header),
            protocol=IPPROTO_TCP,
            l4_length=0,
            options_allowance=0,
        )
        found = verify_ip(ip_exp, pkt.ip, strict=False) or verify_tcp(
            prev_exp, script_tcp, strict=False, actual_options_len=0
        )
        current = len(script_tcp.payload)
        if (
            found is None
            and current < self.expected_len - sniffed
            and current != len(prev_tcp.payload)
        ):
            found = Mismatch(
                f"fragment payload: expected {len(prev_tcp.payload)} bytes vs actual {current} "
                f"bytes; total payload: expected {self.expected_len} bytes vs actual "
                f"{current + sniffed} bytes"
            )
        if found is None:
            return None
        return PacketFailure(found.message, (), found.field_name)

    def _finish(self, record: AnyRecord, sniffed: int) -> OutboundVerdict:
        first_pkt, first_tcp, _w, _r = self.fragments[0]
        last_pkt, last_tcp, last_when, last_raw = self.fragments[-1]
        actual_tcp = last_tcp
        if last_tcp is not None and first_tcp is not None and len(self.fragments) > 1:
            payload = b"".join(s.payload for _p, s, _w, _r in self.fragments if s is not None)
            actual_tcp = replace(
                last_tcp,
                seq=first_tcp.seq,
                payload=payload,
                flags=(last_tcp.flags & ~0x80) | (first_tcp.flags & 0x80),
            )
            # aggregate_packets: the last packet's headers, lengths grown by the extra payload.
            extra = len(payload) - len(last_tcp.payload)
            ip = last_pkt.ip
            if isinstance(ip, IPv4Header):
                last_pkt = replace(last_pkt, ip=replace(ip, total_length=ip.total_length + extra))
            else:
                last_pkt = replace(
                    last_pkt, ip=replace(ip, payload_length=ip.payload_length + extra)
                )
        actual = (
            record_tcp(">", last_when, last_raw, last_pkt, actual_tcp)
            if actual_tcp is not None
            else record
        )
        if sniffed != self.expected_len:
            # Checked before any header field, and fatal even under --non_fatal=packet.
            failure = PacketFailure(
                f"live packet payload: expected {self.expected_len} bytes vs "
                f"actual {sniffed} bytes"
            )
            return OutboundVerdict(OutboundVerdictKind.DONE, record, actual, failure)
        mismatch = self._verify(last_pkt, actual_tcp)
        if mismatch is not None:
            failure = PacketFailure(mismatch.message, (), mismatch.field_name, FailureKind.PACKET,
                                    non_fatal=True)
            return OutboundVerdict(OutboundVerdictKind.DONE, record, actual, failure)
        return OutboundVerdict(OutboundVerdictKind.DONE, record, actual, None)

    def _verify(self, pkt: Packet, tcp: TcpSegment | None) -> Mismatch | None:
        # packetdrill first verifies the IPv4 header checksum ("bad outbound IP checksum"); the
        # kernel computes it in software on a TUN device, so drillbook saves that work.
        engine = self.engine
        spec = self.spec
        body = spec.body
        if isinstance(body, TcpSpec) and self.exp is not None:
            if tcp is None:
                return Mismatch(
                    f"live packet header layer 1: expected: tcp header vs actual: "
                    f"{_l4_name(pkt)} header"
                )
            exp = self.exp
            actual_opts = sum(o.wire_length for o in tcp.options)
            actual_opts = (actual_opts + 3) // 4 * 4
            ip_exp = IpExpectation(
                ipv6=engine.ipv6,
                protocol=IPPROTO_TCP,
                l4_length=20 + (exp.options_len + 3) // 4 * 4 + exp.payload_len,
                options_allowance=actual_opts if exp.any_options else 0,
                ecn=spec.ip.ecn,
                tos=spec.ip.tos,
                ttl=spec.ip.ttl,
            )
            found = verify_ip(ip_exp, pkt.ip, strict=True) or verify_tcp(
                exp, tcp, strict=True, actual_options_len=actual_opts
            )
            if found:
                return found
            found = self._verify_flowlabel(pkt)
            if found:
                return found
            tolerance = max(engine.config.tolerance_usecs, 0)
            found = self._map_ts_and_verify_options(exp, tcp, tolerance)
            if found:
                return found
            if any(tcp.payload):
                return Mismatch("incorrect outbound data payload")
            return None
        if isinstance(body, UdpSpec):
            udp = pkt.udp
            if udp is None:
                return Mismatch(
                    f"live packet header layer 1: expected: udp header vs actual: "
                    f"{_l4_name(pkt)} header"
                )
            ip_exp = IpExpectation(
                ipv6=engine.ipv6,
                protocol=IPPROTO_UDP,
                l4_length=8 + body.payload_len,
                options_allowance=0,
                ecn=spec.ip.ecn,
                tos=spec.ip.tos,
                ttl=spec.ip.ttl,
            )
            return (
                verify_ip(ip_exp, pkt.ip, strict=True)
                or check_field("udp_len", 8 + body.payload_len, udp.length or 8 + len(udp.payload))
                or (Mismatch("incorrect outbound data payload") if any(udp.payload) else None)
            )
        assert isinstance(body, IcmpSpec)
        transport = pkt.transport
        if not isinstance(transport, (Icmpv4Message, Icmpv6Message)):
            return Mismatch(
                f"live packet header layer 1: expected: icmp header vs actual: "
                f"{_l4_name(pkt)} header"
            )
        return check_field("icmp_type", body.type_value, transport.type) or check_field(
            "icmp_code", body.code_value, transport.code
        )

    def _verify_flowlabel(self, pkt: Packet) -> Mismatch | None:
        label = self.spec.ip.flowlabel
        if not label or not isinstance(pkt.ip, IPv6Header):
            return None
        sock, live = self.sock, pkt.ip.flow_label
        if not live:
            return Mismatch("flowlabel unmarked in the live packet")
        if not sock.flowlabel_script:
            sock.flowlabel_script, sock.flowlabel_live = label, live
            return None
        if label != sock.flowlabel_script:
            if live != sock.flowlabel_live:
                sock.flowlabel_script, sock.flowlabel_live = label, live
                return None
            return Mismatch("expected a different flowlabel but got the same")
        if live == sock.flowlabel_live:
            return None
        return Mismatch(
            f"inconsistent flowlabels for this packet: expected: "
            f"0x{sock.flowlabel_live:x} vs actual: 0x{live:x}"
        )

    def _map_ts_and_verify_options(
        self, exp: ExpectedTcp, tcp: TcpSegment, tolerance_us: int
    ) -> Mismatch | None:
        sock = self.sock
        script_ts = next((o for o in exp.options if o.kind == opt.TCPOPT_TIMESTAMP), None)
        actual_ts = next((o for o in tcp.options if o.kind == opt.TCPOPT_TIMESTAMP), None)
        options = tcp.options
        if script_ts is not None and actual_ts is not None:
            s_val, _s_ecr = script_ts.as_timestamp()
            a_val, a_ecr = actual_ts.as_timestamp()
            sock.ts_val_map[s_val] = a_val
            if not sock.found_first_ts:
                sock.found_first_ts = True
                sock.first_script_ts_val, sock.first_actual_ts_val = s_val, a_val
            mapped = opt.timestamp(
                add32(sock.first_script_ts_val, (a_val - sock.first_actual_ts_val) & MASK32), a_ecr
            )
            options = tuple(mapped if o.kind == opt.TCPOPT_TIMESTAMP else o for o in options)
        return verify_options(
            exp, tcp, self.engine.config.tcp_ts_tick_usecs, tolerance_us, options=options
        )


def _tuple(pkt: Packet) -> tuple[str, str, int, int]:
    transport = pkt.transport
    sport = getattr(transport, "sport", 0)
    dport = getattr(transport, "dport", 0)
    return (pkt.ip.src, pkt.ip.dst, sport, dport)


def _payload_len(pkt: Packet) -> int:
    transport = pkt.transport
    if isinstance(transport, (TcpSegment, UdpDatagram)):
        return len(transport.payload)
    return 0


def _l4_name(pkt: Packet) -> str:
    transport = pkt.transport
    if isinstance(transport, TcpSegment):
        return "tcp"
    if isinstance(transport, UdpDatagram):
        return "udp"
    if isinstance(transport, Icmpv4Message):
        return "icmpv4"
    if isinstance(transport, Icmpv6Message):
        return "icmpv6"
    return "unknown"
