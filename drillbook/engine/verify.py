"""Comparing a sniffed packet, mapped into script space, with the script's packet.

The order and the wording are packetdrill's (run_packet.c verify_*): IP header fields, then TCP
header fields, then the IPv6 flow label, then TCP options, then the payload; the first mismatch
wins. ``strict=False`` is the weaker check between consecutive GSO fragments.
"""

from __future__ import annotations

from dataclasses import dataclass

from drillbook.engine.expected import ExpectedTcp
from drillbook.engine.notation import option_text
from drillbook.wire.ip import IPv4Header, IPv6Header
from drillbook.wire.tcp import (
    TCP_ACK,
    TCP_AE,
    TCP_CWR,
    TCP_ECE,
    TCP_FIN,
    TCP_PSH,
    TCP_RST,
    TCP_SYN,
    TCP_URG,
    TcpSegment,
)
from drillbook.wire.tcp_options import TCPOPT_EOL, TCPOPT_NOP, TCPOPT_TIMESTAMP, TcpOptionValue


@dataclass(frozen=True)
class Mismatch:
    message: str
    field_name: str | None = None


def check_field(name: str, expected: int, actual: int) -> Mismatch | None:
    if expected == actual:
        return None
    return Mismatch(
        f"live packet field {name}: expected: {expected} (0x{expected:x}) "
        f"vs actual: {actual} (0x{actual:x})",
        name,
    )


@dataclass(frozen=True)
class IpExpectation:
    """What the script's IP header demands."""

    ipv6: bool
    protocol: int
    l4_length: int  # transport header + payload as the script builds it
    options_allowance: int  # bytes of actual TCP options allowed under `<...>`
    ecn: str | None = None  # noecn/ect0/ect1/ce/ect01 (checks ECN bits only)
    tos: int | None = None  # full byte
    ttl: int | None = None


_ECN = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}


def verify_ip(exp: IpExpectation, ip: IPv4Header | IPv6Header, strict: bool) -> Mismatch | None:
    if isinstance(ip, IPv4Header):
        if exp.ipv6:
            return Mismatch(
                "live packet header layer 0: expected: ipv6 header vs actual: ipv4 header"
            )
        found = (
            check_field("ipv4_version", 4, ip.version)
            or check_field("ipv4_protocol", exp.protocol, ip.protocol)
            or check_field("ipv4_header_length", 5, ip.ihl)
            or (
                strict
                and check_field(
                    "ipv4_total_length", 20 + exp.l4_length + exp.options_allowance, ip.total_length
                )
            )
        )
        tos_byte, ttl = ip.tos, ip.ttl
    else:
        if not exp.ipv6:
            return Mismatch(
                "live packet header layer 0: expected: ipv4 header vs actual: ipv6 header"
            )
        found = (
            check_field("ipv6_version", 6, ip.version)
            or (
                strict
                and check_field(
                    "ipv6_payload_len", exp.l4_length + exp.options_allowance, ip.payload_length
                )
            )
            or check_field("ipv6_next_header", exp.protocol, ip.next_header)
        )
        tos_byte, ttl = ip.traffic_class, ip.hop_limit
    if found:
        return found
    return _verify_tos(exp, tos_byte) or _verify_ttl(exp, ttl)


def _verify_tos(exp: IpExpectation, tos_byte: int) -> Mismatch | None:
    ecn_bits = tos_byte & 0x3
    if exp.ecn == "ect01":
        if ecn_bits not in (1, 2):
            return Mismatch(
                f"live packet field ip_ecn: expected: 0x1 or 0x2 vs actual: 0x{ecn_bits:x}",
                "ip_ecn",
            )
        return None
    if exp.tos is not None:
        return check_field("tos", exp.tos, tos_byte)
    if exp.ecn is not None:
        return check_field("ip_ecn", _ECN[exp.ecn], ecn_bits)
    return None


def _verify_ttl(exp: IpExpectation, ttl: int) -> Mismatch | None:
    if exp.ttl is None or exp.ttl == 255:  # 255: "don't check" (TTL_CHECK_NONE)
        return None
    return check_field("ttl", exp.ttl, ttl)


def _bit(flags: int, bit: int) -> int:
    return 1 if flags & bit else 0


def verify_tcp(
    exp: ExpectedTcp, tcp: TcpSegment, strict: bool, actual_options_len: int
) -> Mismatch | None:
    """TCP header fields; ``tcp`` is already in script space."""
    allowance = actual_options_len if exp.any_options else 0
    data_offset = 5 + (exp.options_len + 3) // 4 + allowance // 4
    e, a = exp.flags, tcp.flags
    if (  # fast path, checked on every packet: all fields equal, nothing to name
        strict
        and e == a
        and tcp.data_offset == data_offset
        and tcp.reserved == 0
        and tcp.seq == exp.seq
        and tcp.ack == exp.ack
        and (exp.window is None or tcp.window == exp.window)
        and tcp.urgent == exp.urgent
    ):
        return None
    checks: list[tuple[str, int, int, bool]] = [
        ("tcp_data_offset", data_offset, tcp.data_offset, True),
        ("tcp_fin", _bit(e, TCP_FIN), _bit(a, TCP_FIN), strict),
        ("tcp_syn", _bit(e, TCP_SYN), _bit(a, TCP_SYN), True),
        ("tcp_rst", _bit(e, TCP_RST), _bit(a, TCP_RST), True),
        ("tcp_psh", _bit(e, TCP_PSH), _bit(a, TCP_PSH), strict),
        ("tcp_ack", _bit(e, TCP_ACK), _bit(a, TCP_ACK), True),
        ("tcp_urg", _bit(e, TCP_URG), _bit(a, TCP_URG), True),
    ]
    if exp.ace:
        checks.append(("tcp_ace", _ace(e), _ace(a), True))
    else:
        checks += [
            ("tcp_ece", _bit(e, TCP_ECE), _bit(a, TCP_ECE), True),
            ("tcp_cwr", _bit(e, TCP_CWR), _bit(a, TCP_CWR), strict),
            ("tcp_ae", _bit(e, TCP_AE), _bit(a, TCP_AE), True),
        ]
    checks.append(("tcp_reserved_bits", 0, tcp.reserved, True))
    seq = exp.seq if strict else (exp.seq + exp.payload_len) & 0xFFFFFFFF
    checks += [
        ("tcp_seq", seq, tcp.seq, True),
        ("tcp_ack_seq", exp.ack, tcp.ack, True),
    ]
    if exp.window is not None:
        checks.append(("tcp_window", exp.window, tcp.window, True))
    checks.append(("tcp_urg_ptr", exp.urgent, tcp.urgent, True))
    for name, want, got, active in checks:
        if active:
            found = check_field(name, want, got)
            if found:
                return found
    return None


def _ace(flags: int) -> int:
    return (
        (4 if flags & TCP_AE else 0) | (2 if flags & TCP_CWR else 0) | (1 if flags & TCP_ECE else 0)
    )


def verify_options(
    exp: ExpectedTcp,
    tcp: TcpSegment,
    ts_tick_usecs: int,
    ts_tolerance_us: int,
    options: tuple[TcpOptionValue, ...] | None = None,
) -> Mismatch | None:
    """TCP options in order: kind, then length and value (TS: val only, with a tick).
    ``options`` replaces the segment's own (the TS val mapped to script space)."""
    if exp.any_options:
        return None
    script, actual = exp.options, (tcp.options if options is None else options)
    if script == actual:  # the common case: identical options, nothing to report
        return None
    # Padding bytes after the last option are EOLs on the wire; packetdrill's iterator stops
    # at an EOL, so trailing EOL padding on either side does not count.
    script = _strip_trailing_eol(script)
    actual = _strip_trailing_eol(actual)
    for index in range(max(len(script), len(actual))):
        if index >= len(script) or index >= len(actual) or script[index].kind != actual[index].kind:
            return Mismatch("bad outbound TCP options")
        s, a = script[index], actual[index]
        if a.kind in (TCPOPT_EOL, TCPOPT_NOP):
            continue
        if a.kind == TCPOPT_TIMESTAMP:
            s_val = int.from_bytes(s.data[:4], "big")
            a_val = int.from_bytes(a.data[:4], "big")
            delta = (a_val - s_val) & 0xFFFFFFFF
            if delta >= 0x80000000:
                delta = 0x100000000 - delta
            if ts_tick_usecs and delta * ts_tick_usecs > ts_tolerance_us:
                return Mismatch(f"bad outbound TCP timestamp value, tolerance {ts_tolerance_us}")
            continue
        error = None
        if len(s.data) != len(a.data):
            error = "bad length"
        if s.data and a.data[: len(a.data)] != s.data[: len(a.data)]:
            error = "bad value"
        if error:
            return Mismatch(
                f"{error} in outbound TCP option (kind={s.kind}): "
                f"expected: {option_text(s)} actual: {option_text(a)}"
            )
    return None


def _strip_trailing_eol(options: tuple[object, ...]) -> tuple:  # type: ignore[type-arg]
    out = list(options)
    while out and getattr(out[-1], "kind", None) == TCPOPT_EOL:
        out.pop()
    return tuple(out)
