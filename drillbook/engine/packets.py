"""The packet side of the engine: the socket under test, inbound packets built from the script,
outbound packets matched against it. Pure: bytes in, bytes and verdicts out.

Theory of operation (run_packet.c):
- An inbound TCP packet while the socket under test listens (or none exists) creates a child
  socket: its live remote port is a reserved ephemeral port, its remote ISN the script's seq.
- An outbound SYN while the socket under test is connecting teaches the live local port/ISN.
- Outbound packets of other flows are skipped silently. With GSO the kernel may send one big
  segment or several: consecutive segments are aggregated up to the script's payload length,
  unless --strict_segments.
- The payload length is checked first, then header fields, options, payload, and timing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from drillbook.config import RunConfig
from drillbook.engine.expected import ExpectedTcp, ecn_bits, expected_tcp
from drillbook.engine.notation import tcp_summary
from drillbook.engine.sockets import (
    MASK32,
    Endpoint,
    SocketState,
    TcpHeaderMemo,
    TestSocket,
    add32,
)
from drillbook.engine.verify import IpExpectation, Mismatch, verify_ip, verify_options, verify_tcp
from drillbook.engine.types import SocketEventLike, WireAddresses
from drillbook.script.model import IcmpSpec, PacketSpec, TcpSpec, UdpSpec
from drillbook.trace.model import (
    Direction,
    FailureKind,
    PacketRecord,
    TcpOptionRecord,
)
from drillbook.wire import tcp_options as opt
from drillbook.wire.errors import WireError
from drillbook.wire.icmp import Icmpv4Message, Icmpv6Message, icmp_quote
from drillbook.wire.ip import IPv4Header, IPv6Header
from drillbook.wire.packet import Packet, decode_packet, encode_packet
from drillbook.wire.tcp import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpSegment
from drillbook.wire.udp import UdpDatagram
from drillbook.wire.virtio import gso_header

IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 = 6, 17, 1, 58
SOCK_STREAM, SOCK_DGRAM = 1, 2
INBOUND_TTL = 255  # packetdrill's default TTL / hop limit for injected packets


@dataclass(frozen=True)
class PacketFailure:
    message: str
    details: tuple[str, ...] = ()
    field_name: str | None = None
    kind: FailureKind = FailureKind.PACKET
    non_fatal: bool = False  # may become a warning under --non_fatal=packet


@dataclass(frozen=True)
class InboundPacket:
    data: bytes
    gso_type: int = 0
    gso_size: int = 0


@dataclass(frozen=True)
class OutboundVerdict:
    kind: str  # "skip" (other flow) | "more" (aggregating) | "done"
    record: PacketRecord | None = None  # the sniffed segment, for the trace
    actual: PacketRecord | None = None  # the (aggregated) packet compared, in script space
    failure: PacketFailure | None = None


def _usec(us: int) -> str:
    return f"{us / 1e6:9.6f}"


class PacketEngine:
    """Socket-under-test tracking, inbound building and outbound matching."""

    def __init__(
        self,
        config: RunConfig,
        addresses: WireAddresses,
        ephemeral_port: Callable[[], int] = lambda: 0,
    ) -> None:
        self.config = config
        self.ipv6 = addresses.wire_family == socket.AF_INET6
        # Canonical text forms, so they compare equal to what the decoder prints.
        self.local_ip = ipaddress.ip_address(addresses.local_ip).compressed
        self.remote_ip = ipaddress.ip_address(addresses.remote_ip.split("/")[0]).compressed
        self.ephemeral_port = ephemeral_port
        self.socket: TestSocket | None = None
        self.sockets: list[TestSocket] = []

    # -- sockets ---------------------------------------------------------------------------

    def on_socket_event(self, event: SocketEventLike) -> None:
        if event.kind == "socket":
            protocol = IPPROTO_TCP if event.sock_type & 0xF == SOCK_STREAM else IPPROTO_UDP
            if event.protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6):
                protocol = event.protocol
            sock = TestSocket(protocol=protocol, script_fd=event.script_fd, live_fd=event.live_fd)
            self._adopt(sock)
        elif event.kind == "listen":
            found = self._by_fd(event.script_fd)
            if found is not None:
                found.state = SocketState.PASSIVE_LISTENING
        elif event.kind == "connect":
            found = self._by_fd(event.script_fd)
            if found is not None and found.state is SocketState.NEW:
                found.state = SocketState.ACTIVE_CONNECTING
                found.live_remote = Endpoint(self.remote_ip, self.config.connect_port)
                found.live_local = Endpoint(self.local_ip, 0)
        elif event.kind == "accept":
            for child in reversed(self.sockets):
                if child.state in (SocketState.PASSIVE_SYNACK_SENT,
                                   SocketState.PASSIVE_SYNACK_ACKED) and child.live_fd < 0:
                    child.script_fd, child.live_fd = event.script_fd, event.live_fd
                    break
        elif event.kind == "close":
            closed = self._by_fd(event.script_fd)
            if closed is not None:
                closed.live_fd = -1

    def _adopt(self, sock: TestSocket) -> None:
        self.sockets.append(sock)
        self.socket = sock

    def _by_fd(self, script_fd: int) -> TestSocket | None:
        for sock in reversed(self.sockets):
            if sock.script_fd == script_fd:
                return sock
        return None

    def socket_live_fd(self) -> int | None:
        sock = self.socket
        if sock is None or sock.live_fd < 0:
            return None
        return sock.live_fd

    def _socket_for(self, spec: PacketSpec, inbound: bool) -> TestSocket | PacketFailure:
        body = spec.body
        sock = self.socket
        if isinstance(body, TcpSpec):
            if inbound and (sock is None or sock.state is SocketState.PASSIVE_LISTENING):
                return self._new_child(spec, body)
            flags = body.flags
            if (not inbound and "S" in flags and "." not in flags and sock is not None
                    and sock.state is SocketState.ACTIVE_CONNECTING):
                sock.state = SocketState.ACTIVE_SYN_SENT
                sock.script_local_isn = body.start_seq & MASK32
                return sock
        if sock is not None and _protocol_matches(sock, spec):
            return sock
        if sock is not None and spec.ports is not None:
            return sock
        return PacketFailure("no matching socket for script packet", kind=FailureKind.RUNTIME)

    def _new_child(self, spec: PacketSpec, body: TcpSpec) -> TestSocket:
        sock = TestSocket(protocol=IPPROTO_TCP, state=SocketState.PASSIVE_PACKET_RECEIVED)
        sock.script_remote_isn = sock.live_remote_isn = body.start_seq & MASK32
        sock.live_remote = Endpoint(self.remote_ip, self.ephemeral_port())
        sock.live_local = Endpoint(self.local_ip, self.config.bind_port)
        self._adopt(sock)
        return sock

    # -- inbound ---------------------------------------------------------------------------

    def prepare_inbound(self, spec: PacketSpec, line: int) -> InboundPacket | PacketFailure:
        sock = self._socket_for(spec, inbound=True)
        if isinstance(sock, PacketFailure):
            return sock
        body = spec.body
        if isinstance(body, TcpSpec):
            return self._inbound_tcp(spec, body, sock)
        if isinstance(body, UdpSpec):
            transport: TcpSegment | UdpDatagram | Icmpv4Message | Icmpv6Message = UdpDatagram(
                sport=sock.live_remote.port, dport=sock.live_local.port,
                payload=bytes(body.payload_len))
            return InboundPacket(self._encode(spec, transport, sock, IPPROTO_UDP))
        assert isinstance(body, IcmpSpec)
        return InboundPacket(self._inbound_icmp(spec, body, sock))

    def _inbound_tcp(self, spec: PacketSpec, body: TcpSpec, sock: TestSocket) -> InboundPacket | PacketFailure:
        exp = expected_tcp(body)
        is_syn = bool(exp.flags & TCP_SYN)
        if sock.state is SocketState.PASSIVE_SYNACK_SENT and exp.flags & TCP_ACK:
            sock.state = SocketState.PASSIVE_SYNACK_ACKED
        elif (sock.state is SocketState.ACTIVE_SYN_SENT and is_syn and exp.flags & TCP_ACK):
            sock.state = SocketState.ACTIVE_SYN_ACKED
            sock.script_remote_isn = sock.live_remote_isn = exp.seq
        seq = add32(exp.seq, sock.remote_script_to_live(is_syn))
        ack_off = sock.local_script_to_live(is_syn)
        ack = add32(exp.ack, ack_off) if exp.flags & TCP_ACK else exp.ack
        options = []
        for option in exp.options:
            if option.kind == opt.TCPOPT_SACK:
                blocks = option.as_sack_blocks()
                option = opt.sack(*((add32(a, ack_off), add32(b, ack_off)) for a, b in blocks))
            elif option.kind == opt.TCPOPT_TIMESTAMP and exp.flags & TCP_ACK:
                val, ecr = option.as_timestamp()
                live_ecr = sock.ts_val_map.get(ecr)
                if live_ecr is None:
                    if self.config.tcp_ts_ecr_scaled and sock.found_first_ts:
                        live_ecr = add32(ecr - sock.first_script_ts_val, sock.first_actual_ts_val)
                    else:
                        return PacketFailure(
                            f"unable to infer live TS ecr for script TS ecr {ecr};  "
                            "no matching or preceding outbound TS val",
                            kind=FailureKind.RUNTIME)
                option = opt.timestamp(val, live_ecr)
            options.append(option)
        sport, dport = sock.live_remote.port, sock.live_local.port
        if spec.ports is not None:
            sport = spec.ports[0] or sport
            dport = spec.ports[1] or dport
        segment = TcpSegment(
            sport=sport, dport=dport, seq=seq, ack=ack, flags=exp.flags,
            window=exp.window or 0, urgent=exp.urgent, options=tuple(options),
            payload=bytes(exp.payload_len),
        )
        data = self._encode(spec, segment, sock, IPPROTO_TCP)
        sock.last_injected = TcpHeaderMemo(seq=seq, ack_seq=ack, window=segment.window,
                                           syn=is_syn, fin=bool(exp.flags & TCP_FIN),
                                           ack=bool(exp.flags & TCP_ACK),
                                           payload_len=exp.payload_len)
        if self.config.mss and exp.payload_len > self.config.mss:
            hdr = gso_header(self.config.mss, self.ipv6)
            return InboundPacket(data, hdr.gso_type, hdr.gso_size)
        return InboundPacket(data)

    def _inbound_icmp(self, spec: PacketSpec, body: IcmpSpec, sock: TestSocket) -> bytes:
        echoed = body.echoed
        quoted_transport: TcpSegment | UdpDatagram
        if echoed is not None and echoed.protocol == "udp":
            quoted_transport = UdpDatagram(sport=sock.live_local.port, dport=sock.live_remote.port,
                                           payload=bytes(echoed.payload_len))
            proto = IPPROTO_UDP
        else:
            seq = echoed.start_seq if echoed is not None else 0
            quoted_transport = TcpSegment(
                sport=sock.live_local.port, dport=sock.live_remote.port,
                seq=add32(seq, sock.local_script_to_live(False)), flags=TCP_ACK)
            proto = IPPROTO_TCP
        quoted = encode_packet(Packet(self._ip_header(sock, outbound=True, protocol=proto),
                                      quoted_transport))
        rest = bytes(4)
        if body.mtu is not None:
            rest = (body.mtu & 0xFFFF).to_bytes(4, "big") if not self.ipv6 else body.mtu.to_bytes(4, "big")
        elif body.echo_id is not None:
            rest = (body.echo_id & 0xFFFF).to_bytes(2, "big") + bytes(2)
        message: Icmpv4Message | Icmpv6Message
        if self.ipv6:
            message = Icmpv6Message(type=body.type_value, code=body.code_value, rest=rest,
                                    payload=icmp_quote(quoted))
            return self._encode(spec, message, sock, IPPROTO_ICMPV6)
        message = Icmpv4Message(type=body.type_value, code=body.code_value, rest=rest,
                                payload=icmp_quote(quoted))
        return self._encode(spec, message, sock, IPPROTO_ICMP)

    def _ip_header(self, sock: TestSocket, outbound: bool, protocol: int,
                   tos: int = 0, ttl: int = INBOUND_TTL, flowlabel: int = 0) -> IPv4Header | IPv6Header:
        src, dst = sock.live_remote.ip, sock.live_local.ip
        if outbound:
            src, dst = dst, src
        if self.ipv6:
            return IPv6Header(src=src, dst=dst, next_header=protocol, traffic_class=tos,
                              flow_label=flowlabel, hop_limit=ttl)
        return IPv4Header(src=src, dst=dst, protocol=protocol, tos=tos, ttl=ttl)

    def _encode(self, spec: PacketSpec, transport: TcpSegment | UdpDatagram | Icmpv4Message
                | Icmpv6Message, sock: TestSocket, protocol: int) -> bytes:
        ttl = spec.ip.ttl if spec.ip.ttl is not None else INBOUND_TTL
        header = self._ip_header(sock, False, protocol, ecn_bits(spec), ttl,
                                 spec.ip.flowlabel or 0)
        return encode_packet(Packet(header, transport))

    # -- outbound --------------------------------------------------------------------------

    def begin_outbound(self, spec: PacketSpec, line: int) -> OutboundMatcher | PacketFailure:
        sock = self._socket_for(spec, inbound=False)
        if isinstance(sock, PacketFailure):
            return sock
        body = spec.body
        if (isinstance(body, TcpSpec) and sock.state is SocketState.PASSIVE_PACKET_RECEIVED
                and "S" in body.flags and "." in body.flags):
            sock.script_local_isn = body.start_seq & MASK32
        return OutboundMatcher(self, spec, sock)

    def _owns(self, sock: TestSocket, pkt: Packet) -> bool:
        """find_socket_for_live_packet / find_connect_for_live_packet, for outbound packets."""
        transport = pkt.transport
        sport = getattr(transport, "sport", None)
        dport = getattr(transport, "dport", None)
        if isinstance(transport, (Icmpv4Message, Icmpv6Message)):
            return sock.protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6) and pkt.ip.dst == sock.live_remote.ip
        if sport is None or dport is None:
            return False
        if sock.live_local.port and sock.matches_outbound(pkt.ip.src, sport, pkt.ip.dst, dport):
            return True
        tcp = pkt.tcp
        connecting_udp = (pkt.udp is not None and sock.protocol == IPPROTO_UDP
                          and sock.state is SocketState.ACTIVE_CONNECTING)
        connecting_tcp = (tcp is not None and tcp.flags & TCP_SYN and not tcp.flags & TCP_ACK
                          and sock.protocol == IPPROTO_TCP
                          and sock.state is SocketState.ACTIVE_SYN_SENT)
        if not (connecting_udp or connecting_tcp):
            return False
        if pkt.ip.dst != sock.live_remote.ip or dport != sock.live_remote.port:
            return False
        sock.live_local = Endpoint(pkt.ip.src, sport)
        if tcp is not None:
            sock.live_local_isn = tcp.seq
        return True

    def to_script(self, sock: TestSocket, tcp: TcpSegment) -> TcpSegment:
        """tcp_convert_seq_number: live seq/ack/SACK to script space."""
        is_syn = bool(tcp.flags & TCP_SYN)
        seq = add32(tcp.seq, sock.local_live_to_script(is_syn))
        ack_off = sock.remote_live_to_script(is_syn)
        ack = add32(tcp.ack, ack_off) if tcp.flags & TCP_ACK else tcp.ack
        options = tuple(
            opt.sack(*((add32(a, ack_off), add32(b, ack_off)) for a, b in o.as_sack_blocks()))
            if o.kind == opt.TCPOPT_SACK else o
            for o in tcp.options
        )
        return replace(tcp, seq=seq, ack=ack, options=options)

    def record_tcp(self, direction: str, when_us: int, raw: bytes, pkt: Packet,
                   script_tcp: TcpSegment, window_shown: bool = True) -> PacketRecord:
        sack_blocks: tuple[tuple[int, int], ...] = ()
        for o in script_tcp.options:
            if o.kind == opt.TCPOPT_SACK:
                sack_blocks += o.as_sack_blocks()
        summary = tcp_summary(script_tcp.flags, script_tcp.seq, len(script_tcp.payload),
                              script_tcp.ack, script_tcp.window if window_shown else None,
                              script_tcp.options)
        return PacketRecord(
            direction=Direction(direction), time_us=when_us, protocol="tcp", summary=summary,
            flags=summary.split(" ", 1)[0], seq=script_tcp.seq,
            end_seq=(script_tcp.seq + len(script_tcp.payload)) & MASK32,
            payload_len=len(script_tcp.payload),
            ack=script_tcp.ack if script_tcp.flags & TCP_ACK else None,
            window=script_tcp.window,
            options=tuple(TcpOptionRecord(_opt_kind(o.kind), _opt_text(o))
                          for o in script_tcp.options),
            sack_blocks=sack_blocks, ecn=_ecn_name(pkt), live_seq=pkt.tcp.seq if pkt.tcp else 0,
            live_ack=pkt.tcp.ack if pkt.tcp else 0, raw=raw,
        )

    def record(self, raw: bytes, direction: str, when_us: int) -> PacketRecord:
        """An injected packet (live bytes) as a trace record in script space."""
        pkt = decode_packet(raw)
        tcp = pkt.tcp
        sock = self.socket
        if tcp is not None and sock is not None:
            is_syn = bool(tcp.flags & TCP_SYN)
            seq = add32(tcp.seq, -sock.remote_script_to_live(is_syn) & MASK32)
            ack_off = -sock.local_script_to_live(is_syn) & MASK32
            ack = add32(tcp.ack, ack_off) if tcp.flags & TCP_ACK else tcp.ack
            options = tuple(
                opt.sack(*((add32(a, ack_off), add32(b, ack_off)) for a, b in o.as_sack_blocks()))
                if o.kind == opt.TCPOPT_SACK else o for o in tcp.options)
            script_tcp = replace(tcp, seq=seq, ack=ack, options=options)
            return self.record_tcp(direction, when_us, raw, pkt, script_tcp)
        return _plain_record(direction, when_us, raw, pkt)

    def observe(self, raw: bytes, when_us: int) -> PacketRecord | None:
        """An outbound packet no `>` line read: a record if it belongs to the socket under test."""
        try:
            pkt = decode_packet(raw)
        except WireError:
            return None
        sock = self.socket
        if sock is None or not self._owns(sock, pkt):
            return None
        if pkt.tcp is not None:
            return self.record_tcp(">", when_us, raw, pkt, self.to_script(sock, pkt.tcp))
        return _plain_record(">", when_us, raw, pkt)

    def script_record(self, spec: PacketSpec, direction: str, when_us: int) -> PacketRecord:
        body = spec.body
        if isinstance(body, TcpSpec):
            exp = expected_tcp(body)
            summary = tcp_summary(exp.flags, exp.seq, exp.payload_len, exp.ack, exp.window,
                                  exp.options, exp.ace)
            blocks: tuple[tuple[int, int], ...] = ()
            for o in exp.options:
                if o.kind == opt.TCPOPT_SACK:
                    blocks += o.as_sack_blocks()
            return PacketRecord(
                direction=Direction(direction), time_us=when_us, protocol="tcp",
                summary=summary, flags=body.flags, seq=exp.seq,
                end_seq=(exp.seq + exp.payload_len) & MASK32, payload_len=exp.payload_len,
                ack=exp.ack if exp.flags & TCP_ACK else None, window=exp.window,
                options=tuple(TcpOptionRecord(_opt_kind(o.kind), _opt_text(o))
                              for o in exp.options),
                sack_blocks=blocks, ecn=spec.ip.ecn,
            )
        if isinstance(body, UdpSpec):
            return PacketRecord(direction=Direction(direction), time_us=when_us, protocol="udp",
                                summary=f"udp ({body.payload_len})",
                                payload_len=body.payload_len)
        summary = f"icmp {body.type_name}" + (f" {body.code_name}" if body.code_name else "")
        return PacketRecord(direction=Direction(direction), time_us=when_us, protocol="icmp",
                            summary=summary)

    def describe_failure(self, message: str, spec: PacketSpec, script_us: int,
                         actual: PacketRecord | None, kind: FailureKind) -> PacketFailure:
        return self.with_dumps(PacketFailure(message, (), None, kind, non_fatal=True), spec,
                               script_us, actual)

    def with_dumps(self, failure: PacketFailure, spec: PacketSpec, script_us: int,
                   actual: PacketRecord | None) -> PacketFailure:
        """Add packetdrill's `script packet:` and `actual packet:` lines to a failure."""
        if failure.details:
            return failure
        expected = self.script_record(spec, ">", script_us)
        details = [f"script packet: {_usec(script_us)} {expected.summary}"]
        if actual is not None:
            details.append(f"actual packet: {_usec(actual.time_us)} {actual.summary}")
        return replace(failure, details=tuple(details))

    # -- end of run ------------------------------------------------------------------------

    def reset_packets(self) -> list[bytes]:
        """RSTs for every TCP socket with a known 4-tuple (reset_connection)."""
        packets = []
        for sock in self.sockets:
            if sock.protocol != IPPROTO_TCP or not sock.live_remote.port or not sock.live_local.port:
                continue
            seq, ack, window = 0, 0, 0
            inj, out = sock.last_injected, sock.last_outbound
            if inj is not None and inj.ack:
                seq = (inj.seq + int(inj.syn) + int(inj.fin) + inj.payload_len) & MASK32
                ack, window = inj.ack_seq, inj.window
            elif out is not None and out.ack:
                seq, ack = out.ack_seq, out.seq
            elif out is not None:
                seq, ack = 0, (out.seq + 1) & MASK32
            else:
                continue
            segment = TcpSegment(sport=sock.live_remote.port, dport=sock.live_local.port,
                                 seq=seq, ack=ack, flags=TCP_RST | TCP_ACK, window=window)
            packets.append(encode_packet(Packet(
                self._ip_header(sock, False, IPPROTO_TCP), segment)))
        return packets


class OutboundMatcher:
    """Collects the sniffed segments for one `>` line and compares them with it."""

    def __init__(self, engine: PacketEngine, spec: PacketSpec, sock: TestSocket) -> None:
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
            return OutboundVerdict("skip")
        sock = self.sock
        if not self.engine._owns(sock, pkt):
            return OutboundVerdict("skip")
        tcp = pkt.tcp
        script_tcp = None
        if tcp is not None:
            if (sock.state is SocketState.PASSIVE_PACKET_RECEIVED and self.exp is not None
                    and self.exp.flags & TCP_SYN and self.exp.flags & TCP_ACK):
                sock.state = SocketState.PASSIVE_SYNACK_SENT
                sock.live_local_isn = tcp.seq
            sock.last_outbound = TcpHeaderMemo(seq=tcp.seq, ack_seq=tcp.ack, window=tcp.window,
                                               syn=bool(tcp.flags & TCP_SYN),
                                               fin=bool(tcp.flags & TCP_FIN),
                                               ack=bool(tcp.flags & TCP_ACK),
                                               payload_len=len(tcp.payload))
            script_tcp = self.engine.to_script(sock, tcp)
            record = self.engine.record_tcp(">", when_us, raw, pkt, script_tcp)
        else:
            record = _plain_record(">", when_us, raw, pkt)
        if self.fragments and script_tcp is not None and self.exp is not None:
            mismatch = self._fragment_mismatch(pkt, script_tcp)
            if mismatch is not None:
                return OutboundVerdict("done", record, record, mismatch)
        self.fragments.append((pkt, script_tcp, when_us, raw))
        sniffed = sum(_payload_len(p) for p, _s, _w, _r in self.fragments)
        if sniffed < self.expected_len and not self.engine.config.strict_segments:
            return OutboundVerdict("more", record)
        return self._finish(record, sniffed)

    def _fragment_mismatch(self, pkt: Packet, script_tcp: TcpSegment) -> PacketFailure | None:
        prev_pkt, prev_tcp, _w, _r = self.fragments[-1]
        assert prev_tcp is not None
        sniffed = sum(_payload_len(p) for p, _s, _w2, _r2 in self.fragments)
        prev_exp = ExpectedTcp(flags=prev_tcp.flags, ace=False, seq=prev_tcp.seq,
                               payload_len=len(prev_tcp.payload), ack=prev_tcp.ack,
                               window=prev_tcp.window, urgent=prev_tcp.urgent,
                               options=prev_tcp.options, any_options=False)
        ip_exp = IpExpectation(ipv6=isinstance(prev_pkt.ip, IPv6Header), protocol=IPPROTO_TCP,
                               l4_length=0, options_allowance=0)
        found = verify_ip(ip_exp, pkt.ip, strict=False) or verify_tcp(
            prev_exp, script_tcp, strict=False, actual_options_len=0)
        current = len(script_tcp.payload)
        if found is None and current < self.expected_len - sniffed and current != len(prev_tcp.payload):
            found = Mismatch(
                f"fragment payload: expected {len(prev_tcp.payload)} bytes vs actual {current} "
                f"bytes; total payload: expected {self.expected_len} bytes vs actual "
                f"{current + sniffed} bytes")
        if found is None:
            return None
        return PacketFailure(found.message, (), found.field_name)

    def _finish(self, record: PacketRecord, sniffed: int) -> OutboundVerdict:
        first_pkt, first_tcp, _w, _r = self.fragments[0]
        last_pkt, last_tcp, last_when, last_raw = self.fragments[-1]
        actual_tcp = last_tcp
        if last_tcp is not None and first_tcp is not None and len(self.fragments) > 1:
            payload = b"".join(s.payload for _p, s, _w, _r in self.fragments if s is not None)
            actual_tcp = replace(last_tcp, seq=first_tcp.seq, payload=payload,
                                 flags=(last_tcp.flags & ~0x80) | (first_tcp.flags & 0x80))
            # aggregate_packets: the last packet's headers, lengths grown by the extra payload.
            extra = len(payload) - len(last_tcp.payload)
            ip = last_pkt.ip
            if isinstance(ip, IPv4Header):
                last_pkt = replace(last_pkt, ip=replace(ip, total_length=ip.total_length + extra))
            else:
                last_pkt = replace(last_pkt, ip=replace(ip, payload_length=ip.payload_length + extra))
        actual = (self.engine.record_tcp(">", last_when, last_raw, last_pkt, actual_tcp)
                  if actual_tcp is not None else record)
        script_us = 0
        if sniffed != self.expected_len:
            failure = self._failure(f"live packet payload: expected {self.expected_len} bytes vs "
                                    f"actual {sniffed} bytes", actual, None, non_fatal=False)
            return OutboundVerdict("done", record, actual, failure)
        del script_us
        mismatch = self._verify(last_pkt, actual_tcp)
        if mismatch is not None:
            failure = self._failure(mismatch.message, actual, mismatch.field_name, non_fatal=True)
            return OutboundVerdict("done", record, actual, failure)
        return OutboundVerdict("done", record, actual, None)

    def _failure(self, message: str, actual: PacketRecord, field_name: str | None,
                 non_fatal: bool) -> PacketFailure:
        return PacketFailure(message, (), field_name, FailureKind.PACKET, non_fatal)

    def _verify(self, pkt: Packet, tcp: TcpSegment | None) -> Mismatch | None:
        engine = self.engine
        if isinstance(pkt.ip, IPv4Header):
            from drillbook.wire.checksum import verify_ipv4_header_checksum

            del verify_ipv4_header_checksum  # the kernel's IPv4 checksums are always right here
        spec = self.spec
        body = spec.body
        if isinstance(body, TcpSpec) and self.exp is not None:
            if tcp is None:
                return Mismatch(f"live packet header layer 1: expected: tcp header vs actual: "
                                f"{_l4_name(pkt)} header")
            exp = self.exp
            actual_opts = sum(o.wire_length for o in tcp.options)
            actual_opts = (actual_opts + 3) // 4 * 4
            ip_exp = IpExpectation(
                ipv6=engine.ipv6, protocol=IPPROTO_TCP,
                l4_length=20 + (exp.options_len + 3) // 4 * 4 + exp.payload_len,
                options_allowance=actual_opts if exp.any_options else 0,
                ecn=spec.ip.ecn, tos=spec.ip.tos, ttl=spec.ip.ttl,
            )
            found = verify_ip(ip_exp, pkt.ip, strict=True) or verify_tcp(
                exp, tcp, strict=True, actual_options_len=actual_opts)
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
                return Mismatch(f"live packet header layer 1: expected: udp header vs actual: "
                                f"{_l4_name(pkt)} header")
            ip_exp = IpExpectation(ipv6=engine.ipv6, protocol=IPPROTO_UDP,
                                   l4_length=8 + body.payload_len, options_allowance=0,
                                   ecn=spec.ip.ecn, tos=spec.ip.tos, ttl=spec.ip.ttl)
            return (verify_ip(ip_exp, pkt.ip, strict=True)
                    or verify_check("udp_len", 8 + body.payload_len, udp.length or 8 + len(udp.payload))
                    or (Mismatch("incorrect outbound data payload") if any(udp.payload) else None))
        assert isinstance(body, IcmpSpec)
        transport = pkt.transport
        if not isinstance(transport, (Icmpv4Message, Icmpv6Message)):
            return Mismatch(f"live packet header layer 1: expected: icmp header vs actual: "
                            f"{_l4_name(pkt)} header")
        return (verify_check("icmp_type", body.type_value, transport.type)
                or verify_check("icmp_code", body.code_value, transport.code))

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
        return Mismatch(f"inconsistent flowlabels for this packet: expected: "
                        f"0x{sock.flowlabel_live:x} vs actual: 0x{live:x}")

    def _map_ts_and_verify_options(self, exp: ExpectedTcp, tcp: TcpSegment,
                                   tolerance_us: int) -> Mismatch | None:
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
            mapped = opt.timestamp(add32(sock.first_script_ts_val,
                                         (a_val - sock.first_actual_ts_val) & MASK32), a_ecr)
            options = tuple(mapped if o.kind == opt.TCPOPT_TIMESTAMP else o for o in options)
        return verify_options(exp, replace(tcp, options=options),
                              self.engine.config.tcp_ts_tick_usecs, tolerance_us)


def verify_check(name: str, expected: int, actual: int) -> Mismatch | None:
    from drillbook.engine.verify import check_field

    return check_field(name, expected, actual)


def _payload_len(pkt: Packet) -> int:
    transport = pkt.transport
    if isinstance(transport, (TcpSegment, UdpDatagram)):
        return len(transport.payload)
    return 0


def _protocol_matches(sock: TestSocket, spec: PacketSpec) -> bool:
    body = spec.body
    if isinstance(body, IcmpSpec):
        return True
    if sock.protocol == IPPROTO_TCP:
        return isinstance(body, TcpSpec)
    if sock.protocol == IPPROTO_UDP:
        return isinstance(body, UdpSpec)
    return False


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


def _ecn_name(pkt: Packet) -> str | None:
    tos = pkt.ip.tos if isinstance(pkt.ip, IPv4Header) else pkt.ip.traffic_class
    return {0: None, 1: "ect1", 2: "ect0", 3: "ce"}[tos & 3]


_KIND_NAMES = {0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 8: "TS",
               19: "md5", 34: "FO", 254: "FOEXP", 172: "ECN", 174: "ECN"}


def _opt_kind(kind: int) -> str:
    return _KIND_NAMES.get(kind, str(kind))


def _opt_text(option: opt.TcpOptionValue) -> str:
    from drillbook.engine.notation import option_text

    return option_text(option)


def _plain_record(direction: str, when_us: int, raw: bytes, pkt: Packet) -> PacketRecord:
    transport = pkt.transport
    if isinstance(transport, UdpDatagram):
        return PacketRecord(direction=Direction(direction), time_us=when_us, protocol="udp",
                            summary=f"udp ({len(transport.payload)})",
                            payload_len=len(transport.payload), raw=raw)
    if isinstance(transport, (Icmpv4Message, Icmpv6Message)):
        return PacketRecord(direction=Direction(direction), time_us=when_us, protocol="icmp",
                            summary=f"icmp type {transport.type} code {transport.code}", raw=raw)
    return PacketRecord(direction=Direction(direction), time_us=when_us, protocol="ip",
                        summary="ip", raw=raw)


__all__ = ["InboundPacket", "OutboundMatcher", "OutboundVerdict", "PacketEngine",
           "PacketFailure", "field"]
