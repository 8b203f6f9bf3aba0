"""Packets as trace records, in script space and packetdrill's notation."""

from __future__ import annotations

from collections.abc import Callable

from drillbook.engine.expected import expected_tcp
from drillbook.engine.notation import option_text, tcp_summary
from drillbook.engine.sockets import MASK32
from drillbook.script.model import PacketSpec, TcpSpec, UdpSpec
from drillbook.trace.model import Direction, PacketRecord, TcpOptionRecord
from drillbook.wire import tcp_options as opt
from drillbook.wire.icmp import Icmpv4Message, Icmpv6Message
from drillbook.wire.ip import IPv4Header
from drillbook.wire.packet import Packet
from drillbook.wire.tcp import TCP_ACK, TcpSegment
from drillbook.wire.udp import UdpDatagram


class LazyRecord:
    """A PacketRecord built only when asked for: formatting notation costs more than the whole
    hot path of a packet, so it waits until the run is over (or a failure needs the text)."""

    __slots__ = ("time_us", "_make", "_value")

    def __init__(self, time_us: int, make: Callable[[], PacketRecord]) -> None:
        self.time_us = time_us
        self._make: Callable[[], PacketRecord] | None = make
        self._value: PacketRecord | None = None

    def get(self) -> PacketRecord:
        if self._value is None:
            assert self._make is not None
            self._value = self._make()
            self._make = None
        return self._value


AnyRecord = PacketRecord | LazyRecord


def materialize(record: AnyRecord | None) -> PacketRecord | None:
    """The PacketRecord behind ``record`` (None stays None)."""
    return record.get() if isinstance(record, LazyRecord) else record


def record_tcp(
    direction: str,
    when_us: int,
    raw: bytes,
    pkt: Packet,
    script_tcp: TcpSegment,
    window_shown: bool = True,
) -> LazyRecord:
    """A TCP packet (already mapped to script space) as a deferred trace record."""
    return LazyRecord(
        when_us, lambda: _record_tcp_now(direction, when_us, raw, pkt, script_tcp, window_shown)
    )


def _record_tcp_now(
    direction: str,
    when_us: int,
    raw: bytes,
    pkt: Packet,
    script_tcp: TcpSegment,
    window_shown: bool,
) -> PacketRecord:
    sack_blocks: tuple[tuple[int, int], ...] = ()
    for o in script_tcp.options:
        if o.kind == opt.TCPOPT_SACK:
            sack_blocks += o.as_sack_blocks()
    summary = tcp_summary(
        script_tcp.flags,
        script_tcp.seq,
        len(script_tcp.payload),
        script_tcp.ack,
        script_tcp.window if window_shown else None,
        script_tcp.options,
    )
    return PacketRecord(
        direction=Direction(direction),
        time_us=when_us,
        protocol="tcp",
        summary=summary,
        flags=summary.split(" ", 1)[0],
        seq=script_tcp.seq,
        end_seq=(script_tcp.seq + len(script_tcp.payload)) & MASK32,
        payload_len=len(script_tcp.payload),
        ack=script_tcp.ack if script_tcp.flags & TCP_ACK else None,
        window=script_tcp.window,
        options=tuple(TcpOptionRecord(_opt_kind(o.kind), _opt_text(o)) for o in script_tcp.options),
        sack_blocks=sack_blocks,
        ecn=_ecn_name(pkt),
        live_seq=pkt.tcp.seq if pkt.tcp else 0,
        live_ack=pkt.tcp.ack if pkt.tcp else 0,
        raw=raw,
    )


def lazy_script_record(spec: PacketSpec, direction: str, when_us: int) -> LazyRecord:
    """``script_record``, deferred."""
    return LazyRecord(when_us, lambda: script_record(spec, direction, when_us))


def script_record(spec: PacketSpec, direction: str, when_us: int) -> PacketRecord:
    body = spec.body
    if isinstance(body, TcpSpec):
        exp = expected_tcp(body)
        summary = tcp_summary(
            exp.flags, exp.seq, exp.payload_len, exp.ack, exp.window, exp.options, exp.ace
        )
        blocks: tuple[tuple[int, int], ...] = ()
        for o in exp.options:
            if o.kind == opt.TCPOPT_SACK:
                blocks += o.as_sack_blocks()
        return PacketRecord(
            direction=Direction(direction),
            time_us=when_us,
            protocol="tcp",
            summary=summary,
            flags=body.flags,
            seq=exp.seq,
            end_seq=(exp.seq + exp.payload_len) & MASK32,
            payload_len=exp.payload_len,
            ack=exp.ack if exp.flags & TCP_ACK else None,
            window=exp.window,
            options=tuple(TcpOptionRecord(_opt_kind(o.kind), _opt_text(o)) for o in exp.options),
            sack_blocks=blocks,
            ecn=spec.ip.ecn,
        )
    if isinstance(body, UdpSpec):
        return PacketRecord(
            direction=Direction(direction),
            time_us=when_us,
            protocol="udp",
            summary=f"udp ({body.payload_len})",
            payload_len=body.payload_len,
        )
    summary = f"icmp {body.type_name}" + (f" {body.code_name}" if body.code_name else "")
    return PacketRecord(
        direction=Direction(direction), time_us=when_us, protocol="icmp", summary=summary
    )


def _ecn_name(pkt: Packet) -> str | None:
    tos = pkt.ip.tos if isinstance(pkt.ip, IPv4Header) else pkt.ip.traffic_class
    return {0: None, 1: "ect1", 2: "ect0", 3: "ce"}[tos & 3]


def _opt_kind(kind: int) -> str:
    return opt.OPTION_NAMES.get(kind, str(kind))


def _opt_text(option: opt.TcpOptionValue) -> str:
    return option_text(option)


def plain_record(direction: str, when_us: int, raw: bytes, pkt: Packet) -> PacketRecord:
    transport = pkt.transport
    if isinstance(transport, UdpDatagram):
        return PacketRecord(
            direction=Direction(direction),
            time_us=when_us,
            protocol="udp",
            summary=f"udp ({len(transport.payload)})",
            payload_len=len(transport.payload),
            raw=raw,
        )
    if isinstance(transport, (Icmpv4Message, Icmpv6Message)):
        return PacketRecord(
            direction=Direction(direction),
            time_us=when_us,
            protocol="icmp",
            summary=f"icmp type {transport.type} code {transport.code}",
            raw=raw,
        )
    return PacketRecord(
        direction=Direction(direction), time_us=when_us, protocol="ip", summary="ip", raw=raw
    )
