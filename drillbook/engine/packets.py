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
from dataclasses import replace

from drillbook.config import RunConfig
from drillbook.engine.expected import ecn_bits, expected_tcp
from drillbook.engine.outbound import OutboundMatcher
from drillbook.engine.records import (
    AnyRecord,
    LazyRecord,
    materialize,
    plain_record,
    record_tcp,
    script_record,
)
from drillbook.engine.results import InboundPacket, OutboundVerdict, PacketFailure, usec
from drillbook.engine.sockets import (
    MASK32,
    Endpoint,
    SocketState,
    TcpHeaderMemo,
    TestSocket,
    add32,
)
from drillbook.engine.types import SocketEventKind, SocketEventLike, WireAddresses
from drillbook.script.model import IcmpSpec, PacketSpec, TcpSpec, UdpSpec
from drillbook.trace.model import FailureKind, PacketRecord
from drillbook.wire import tcp_options as opt
from drillbook.wire.errors import WireError
from drillbook.wire.icmp import Icmpv4Message, Icmpv6Message, icmp_quote
from drillbook.wire.ip import IPv4Header, IPv6Header
from drillbook.wire.packet import Packet, decode_packet, encode_packet
from drillbook.wire.protocols import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP
from drillbook.wire.tcp import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpSegment
from drillbook.wire.udp import UdpDatagram
from drillbook.wire.virtio import gso_header

SOCK_STREAM, SOCK_DGRAM = 1, 2
INBOUND_TTL = 255  # packetdrill's default TTL / hop limit for injected packets


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
        if event.kind is SocketEventKind.SOCKET:
            protocol = IPPROTO_TCP if event.sock_type & 0xF == SOCK_STREAM else IPPROTO_UDP
            if event.protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6):
                protocol = event.protocol
            sock = TestSocket(protocol=protocol, script_fd=event.script_fd, live_fd=event.live_fd)
            self._adopt(sock)
        elif event.kind is SocketEventKind.LISTEN:
            found = self._by_fd(event.script_fd)
            if found is not None:
                found.state = SocketState.PASSIVE_LISTENING
        elif event.kind is SocketEventKind.CONNECT:
            found = self._by_fd(event.script_fd)
            if found is not None and found.state is SocketState.NEW:
                found.state = SocketState.ACTIVE_CONNECTING
                found.live_remote = Endpoint(self.remote_ip, self.config.connect_port)
                found.live_local = Endpoint(self.local_ip, 0)
        elif event.kind is SocketEventKind.DISCONNECT:  # connect/sendto with AF_UNSPEC
            # packetdrill marks the socket new and keeps its live addresses: the reset the
            # kernel sends on the disconnect is still the socket's packet.
            found = self._by_fd(event.script_fd)
            if found is not None:
                found.state = SocketState.NEW
        elif event.kind is SocketEventKind.ACCEPT:
            for child in reversed(self.sockets):
                if (
                    child.state
                    in (SocketState.PASSIVE_SYNACK_SENT, SocketState.PASSIVE_SYNACK_ACKED)
                    and child.live_fd < 0
                ):
                    child.script_fd, child.live_fd = event.script_fd, event.live_fd
                    break
        elif event.kind is SocketEventKind.CLOSE:
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
            if (
                not inbound
                and "S" in flags
                and "." not in flags
                and sock is not None
                and sock.state is SocketState.ACTIVE_CONNECTING
            ):
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
        sock.live_remote_isn = body.start_seq & MASK32
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
                sport=sock.live_remote.port,
                dport=sock.live_local.port,
                payload=bytes(body.payload_len),
            )
            return InboundPacket(self._encode(spec, transport, sock, IPPROTO_UDP))
        assert isinstance(body, IcmpSpec)
        return InboundPacket(self._inbound_icmp(spec, body, sock))

    def _inbound_tcp(
        self, spec: PacketSpec, body: TcpSpec, sock: TestSocket
    ) -> InboundPacket | PacketFailure:
        exp = expected_tcp(body)
        is_syn = bool(exp.flags & TCP_SYN)
        if sock.state is SocketState.PASSIVE_SYNACK_SENT and exp.flags & TCP_ACK:
            sock.state = SocketState.PASSIVE_SYNACK_ACKED
        elif sock.state is SocketState.ACTIVE_SYN_SENT and is_syn and exp.flags & TCP_ACK:
            sock.state = SocketState.ACTIVE_SYN_ACKED
            sock.live_remote_isn = exp.seq
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
                            kind=FailureKind.RUNTIME,
                        )
                option = opt.timestamp(val, live_ecr)
            options.append(option)
        sport, dport = sock.live_remote.port, sock.live_local.port
        if spec.ports is not None:
            sport = spec.ports[0] or sport
            dport = spec.ports[1] or dport
        segment = TcpSegment(
            sport=sport,
            dport=dport,
            seq=seq,
            ack=ack,
            flags=exp.flags,
            window=exp.window or 0,
            urgent=exp.urgent,
            options=tuple(options),
            payload=bytes(exp.payload_len),
        )
        data = self._encode(spec, segment, sock, IPPROTO_TCP)
        sock.last_injected = TcpHeaderMemo(
            seq=seq,
            ack_seq=ack,
            window=segment.window,
            syn=is_syn,
            fin=bool(exp.flags & TCP_FIN),
            ack=bool(exp.flags & TCP_ACK),
            payload_len=exp.payload_len,
        )
        if self.config.mss and exp.payload_len > self.config.mss:
            hdr = gso_header(self.config.mss, self.ipv6)
            return InboundPacket(data, hdr.gso_type, hdr.gso_size)
        return InboundPacket(data)

    def _inbound_icmp(self, spec: PacketSpec, body: IcmpSpec, sock: TestSocket) -> bytes:
        echoed = body.echoed
        quoted_transport: TcpSegment | UdpDatagram
        if echoed is not None and echoed.protocol == "udp":
            quoted_transport = UdpDatagram(
                sport=sock.live_local.port,
                dport=sock.live_remote.port,
                payload=bytes(echoed.payload_len),
            )
            proto = IPPROTO_UDP
        else:
            seq = echoed.start_seq if echoed is not None else 0
            quoted_transport = TcpSegment(
                sport=sock.live_local.port,
                dport=sock.live_remote.port,
                seq=add32(seq, sock.local_script_to_live(False)),
                flags=TCP_ACK,
            )
            proto = IPPROTO_TCP
        quoted = encode_packet(
            Packet(self._ip_header(sock, outbound=True, protocol=proto), quoted_transport)
        )
        rest = bytes(4)
        if body.mtu is not None:
            rest = (
                (body.mtu & 0xFFFF).to_bytes(4, "big")
                if not self.ipv6
                else body.mtu.to_bytes(4, "big")
            )
        elif body.echo_id is not None:
            rest = (body.echo_id & 0xFFFF).to_bytes(2, "big") + bytes(2)
        message: Icmpv4Message | Icmpv6Message
        if self.ipv6:
            message = Icmpv6Message(
                type=body.type_value, code=body.code_value, rest=rest, payload=icmp_quote(quoted)
            )
            return self._encode(spec, message, sock, IPPROTO_ICMPV6)
        message = Icmpv4Message(
            type=body.type_value, code=body.code_value, rest=rest, payload=icmp_quote(quoted)
        )
        return self._encode(spec, message, sock, IPPROTO_ICMP)

    def _ip_header(
        self,
        sock: TestSocket,
        outbound: bool,
        protocol: int,
        tos: int = 0,
        ttl: int = INBOUND_TTL,
        flowlabel: int = 0,
    ) -> IPv4Header | IPv6Header:
        src, dst = sock.live_remote.ip, sock.live_local.ip
        if outbound:
            src, dst = dst, src
        if self.ipv6:
            return IPv6Header(
                src=src,
                dst=dst,
                next_header=protocol,
                traffic_class=tos,
                flow_label=flowlabel,
                hop_limit=ttl,
            )
        return IPv4Header(src=src, dst=dst, protocol=protocol, tos=tos, ttl=ttl)

    def _encode(
        self,
        spec: PacketSpec,
        transport: TcpSegment | UdpDatagram | Icmpv4Message | Icmpv6Message,
        sock: TestSocket,
        protocol: int,
    ) -> bytes:
        ttl = spec.ip.ttl if spec.ip.ttl is not None else INBOUND_TTL
        header = self._ip_header(sock, False, protocol, ecn_bits(spec), ttl, spec.ip.flowlabel or 0)
        return encode_packet(Packet(header, transport))

    # -- outbound --------------------------------------------------------------------------

    def begin_outbound(self, spec: PacketSpec, line: int) -> OutboundMatcher | PacketFailure:
        sock = self._socket_for(spec, inbound=False)
        if isinstance(sock, PacketFailure):
            return sock
        body = spec.body
        if (
            isinstance(body, TcpSpec)
            and sock.state is SocketState.PASSIVE_PACKET_RECEIVED
            and "S" in body.flags
            and "." in body.flags
        ):
            sock.script_local_isn = body.start_seq & MASK32
        return OutboundMatcher(self, spec, sock)

    def owns(self, sock: TestSocket, pkt: Packet) -> bool:
        """find_socket_for_live_packet / find_connect_for_live_packet, for outbound packets."""
        transport = pkt.transport
        sport = getattr(transport, "sport", None)
        dport = getattr(transport, "dport", None)
        if isinstance(transport, (Icmpv4Message, Icmpv6Message)):
            return (
                sock.protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6)
                and pkt.ip.dst == sock.live_remote.ip
            )
        if sport is None or dport is None:
            return False
        if sock.live_local.port and sock.matches_outbound(pkt.ip.src, sport, pkt.ip.dst, dport):
            return True
        tcp = pkt.tcp
        connecting_udp = (
            pkt.udp is not None
            and sock.protocol == IPPROTO_UDP
            and sock.state is SocketState.ACTIVE_CONNECTING
        )
        connecting_tcp = (
            tcp is not None
            and tcp.flags & TCP_SYN
            and not tcp.flags & TCP_ACK
            and sock.protocol == IPPROTO_TCP
            and sock.state is SocketState.ACTIVE_SYN_SENT
        )
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
        options = tcp.options
        if any(o.kind == opt.TCPOPT_SACK for o in options):
            options = tuple(
                opt.sack(*((add32(a, ack_off), add32(b, ack_off)) for a, b in o.as_sack_blocks()))
                if o.kind == opt.TCPOPT_SACK
                else o
                for o in options
            )
        # Built directly rather than with dataclasses.replace: this runs for every packet.
        return TcpSegment(tcp.sport, tcp.dport, seq, ack, tcp.flags, tcp.window, tcp.urgent,
                          options, tcp.payload, tcp.data_offset, tcp.checksum, tcp.reserved)

    def record(self, raw: bytes, direction: str, when_us: int) -> AnyRecord:
        """An injected packet (live bytes) as a trace record in script space, built later:
        the mapping offsets are taken now, the decoding and formatting after the run."""
        sock = self.socket
        if sock is None:
            return LazyRecord(when_us, lambda: plain_record(direction, when_us, raw,
                                                            decode_packet(raw)))
        offsets = (
            (-sock.remote_script_to_live(True)) & MASK32,
            (-sock.remote_script_to_live(False)) & MASK32,
            (-sock.local_script_to_live(True)) & MASK32,
            (-sock.local_script_to_live(False)) & MASK32,
        )
        return LazyRecord(when_us, lambda: _inbound_record(direction, when_us, raw, offsets))

    def observe(self, raw: bytes, when_us: int) -> AnyRecord | None:
        """An outbound packet no `>` line read: a record if it belongs to the socket under test."""
        try:
            pkt = decode_packet(raw)
        except WireError:
            return None
        sock = self.socket
        if sock is None or not self.owns(sock, pkt):
            return None
        if pkt.tcp is not None:
            return record_tcp(">", when_us, raw, pkt, self.to_script(sock, pkt.tcp))
        return plain_record(">", when_us, raw, pkt)

    def describe_failure(
        self,
        message: str,
        spec: PacketSpec,
        script_us: int,
        actual: AnyRecord | None,
        kind: FailureKind,
    ) -> PacketFailure:
        return self.with_dumps(
            PacketFailure(message, (), None, kind, non_fatal=True), spec, script_us, actual
        )

    def with_dumps(
        self, failure: PacketFailure, spec: PacketSpec, script_us: int, actual: AnyRecord | None
    ) -> PacketFailure:
        """Add packetdrill's `script packet:` and `actual packet:` lines to a failure."""
        if failure.details:
            return failure
        expected = script_record(spec, ">", script_us)
        details = [f"script packet: {usec(script_us)} {expected.summary}"]
        shown = materialize(actual)
        if shown is not None:
            details.append(f"actual packet: {usec(shown.time_us)} {shown.summary}")
        return replace(failure, details=tuple(details))

    def warm_up(self) -> None:
        """Encode, decode, map and describe one throwaway packet (see ScriptRun._warm_up)."""
        src, dst = (self.remote_ip, self.local_ip)
        header = (IPv6Header(src=src, dst=dst) if self.ipv6
                  else IPv4Header(src=src, dst=dst))
        segment = TcpSegment(sport=1, dport=2, seq=1, ack=1, flags=TCP_ACK, window=1,
                             options=(opt.nop(), opt.nop(), opt.timestamp(1, 1)),
                             payload=bytes(10))
        raw = encode_packet(Packet(header, segment))
        pkt = decode_packet(raw)
        sock = TestSocket(protocol=IPPROTO_TCP)
        assert pkt.tcp is not None
        materialize(record_tcp(">", 0, raw, pkt, self.to_script(sock, pkt.tcp)))

    def scripted_outbound(self, matcher: OutboundMatcher) -> bytes | None:
        """The packet a kernel would send that did exactly what the matcher's `>` TCP line
        says, with the script's own ISN (None for other protocols). Only the driver's
        rehearsal before time 0 uses it, to walk the matching code once."""
        spec, sock = matcher.spec, matcher.sock
        if not isinstance(spec.body, TcpSpec):
            return None
        exp = expected_tcp(spec.body)
        is_syn = bool(exp.flags & TCP_SYN)
        segment = TcpSegment(
            sport=sock.live_local.port,
            dport=sock.live_remote.port,
            seq=add32(exp.seq, sock.local_script_to_live(is_syn)),
            ack=add32(exp.ack, sock.remote_script_to_live(is_syn)),
            flags=exp.flags,
            window=exp.window or 1000,
            options=exp.options,
            payload=bytes(exp.payload_len),
        )
        header = self._ip_header(sock, outbound=True, protocol=IPPROTO_TCP)
        return encode_packet(Packet(header, segment))

    # -- end of run ------------------------------------------------------------------------

    def reset_packets(self) -> list[bytes]:
        """RSTs for every TCP socket with a known 4-tuple (reset_connection)."""
        packets = []
        for sock in self.sockets:
            if (
                sock.protocol != IPPROTO_TCP
                or not sock.live_remote.port
                or not sock.live_local.port
            ):
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
            segment = TcpSegment(
                sport=sock.live_remote.port,
                dport=sock.live_local.port,
                seq=seq,
                ack=ack,
                flags=TCP_RST | TCP_ACK,
                window=window,
            )
            packets.append(
                encode_packet(Packet(self._ip_header(sock, False, IPPROTO_TCP), segment))
            )
        return packets


def _inbound_record(
    direction: str, when_us: int, raw: bytes, offsets: tuple[int, int, int, int]
) -> PacketRecord:
    """Decode an injected packet and map it back to script space (see PacketEngine.record)."""
    pkt = decode_packet(raw)
    tcp = pkt.tcp
    if tcp is None:
        return plain_record(direction, when_us, raw, pkt)
    is_syn = bool(tcp.flags & TCP_SYN)
    seq_off = offsets[0] if is_syn else offsets[1]
    ack_off = offsets[2] if is_syn else offsets[3]
    ack = add32(tcp.ack, ack_off) if tcp.flags & TCP_ACK else tcp.ack
    options = tuple(
        opt.sack(*((add32(a, ack_off), add32(b, ack_off)) for a, b in o.as_sack_blocks()))
        if o.kind == opt.TCPOPT_SACK
        else o
        for o in tcp.options
    )
    script_tcp = replace(tcp, seq=add32(tcp.seq, seq_off), ack=ack, options=options)
    return record_tcp(direction, when_us, raw, pkt, script_tcp).get()


def _protocol_matches(sock: TestSocket, spec: PacketSpec) -> bool:
    body = spec.body
    if isinstance(body, IcmpSpec):
        return True
    if sock.protocol == IPPROTO_TCP:
        return isinstance(body, TcpSpec)
    if sock.protocol == IPPROTO_UDP:
        return isinstance(body, UdpSpec)
    return False


__all__ = ["InboundPacket", "OutboundMatcher", "OutboundVerdict", "PacketEngine", "PacketFailure"]
