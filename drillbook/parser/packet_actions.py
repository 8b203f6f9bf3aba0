"""Grammar actions for packet lines (parser.y's tcp/udp/icmp_packet_spec and their parts).

Each method is called by the LALR parser when it reduces the rule of the same name, in the
same order as bison runs packetdrill's actions, so the first semantic error reported is the
same one packetdrill reports. Messages are packetdrill's own wording.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from drillbook.parser.context import ParseContext, is_uint, lexeme_span, span_of
from drillbook.parser.icmp import (
    ICMPV4_FRAG_NEEDED,
    ICMPV4_UNREACH,
    ICMPV6_PACKET_TOO_BIG,
    resolve_icmp,
)
from drillbook.parser.lexer import Lexeme
from drillbook.parser.option_actions import ANY_OPTIONS, OptionActions, Word, option_length
from drillbook.script.model import (
    Direction,
    EchoedHeader,
    Encapsulation,
    IcmpSpec,
    IntExpr,
    IpInfo,
    PacketSpec,
    TcpOption,
    TcpSpec,
    UdpSpec,
)
from drillbook.source import Span

MAX_DATAGRAM_BYTES = 64 * 1024  # packetdrill's MAX_TCP/UDP_DATAGRAM_BYTES sanity limit
VALID_TCP_FLAGS = ".FSRPEWAU01234567"
WINDOW_HINT = "inbound packets need a window, e.g. `< . 1:1(0) ack 1 win 1000`"


@dataclass(frozen=True)
class Prefix:
    """A packet line up to its IP info: the direction and any outer encapsulations."""

    direction: Direction
    span: Span
    encapsulations: tuple[Encapsulation, ...] = ()


@dataclass(frozen=True)
class Seq:
    start: int
    end: int
    length: int
    span: Span





@dataclass(frozen=True)
class Positioned:
    """An optional number with where it was written (``ack N``, ``win N``, ``urg N``,
    ``mtu N``, ``id N``), so that a packet's span reaches its last token."""

    value: int | None
    span: Span


class PacketActions(OptionActions):
    """Actions for packet rules; mixed into :class:`~drillbook.parser.actions.Actions`."""

    ctx: ParseContext

    def _ip_header_len(self) -> int:
        return 40 if self.ctx.wire_ipv6 else 20

    def _source_text(self, span: Span) -> str:
        return " ".join(self.ctx.source.text[span.offset : span.end_offset].split())

    # ------------------------------------------------------------ prefix and IP info
    def direction(self, c: list[Any]) -> Prefix:
        span = lexeme_span(c[0])
        self.ctx.mark_statement(span)
        return Prefix(Direction(c[0].value), span)

    def packet_prefix(self, c: list[Any]) -> Prefix:
        prefix: Prefix = c[0]
        return prefix

    def _encap(self, c: list[Any], kind: str) -> Prefix:
        prefix: Prefix = c[0]
        span = span_of(c[1], c[-2]) if len(c) > 2 else span_of(c[1])
        text = self._source_text(span)
        encap = Encapsulation(kind, text, span)
        return Prefix(prefix.direction, prefix.span, (*prefix.encapsulations, encap))

    def encap_ipv4(self, c: list[Any]) -> Prefix:
        self._check_addresses(c, 4)
        return self._encap(c, "ipv4")

    def encap_ipv6(self, c: list[Any]) -> Prefix:
        self._check_addresses(c, 6)
        return self._encap(c, "ipv6")

    def _check_addresses(self, c: list[Any], version: int) -> None:
        src, dst = c[3], c[5]
        for lexeme, end in ((src, "src"), (dst, "dst")):
            try:
                address = ipaddress.ip_address(lexeme.value)
            except ValueError:
                address = None
            if address is None or address.version != version:
                self.ctx.fail(f"bad IPv{version} {end} address: '{lexeme.value}'")

    def encap_gre(self, c: list[Any]) -> Prefix:
        return self._encap(c, "gre")

    def encap_mpls(self, c: list[Any]) -> Prefix:
        return self._encap(c, "mpls")

    def mpls_stack_entry(self, c: list[Any]) -> list[Any]:
        label, tc, ttl = c[2], c[5], c[-2]
        if not is_uint(label.value, 20):
            self.ctx.fail("MPLS label out of range for 20 bits", lexeme_span(label))
        if not is_uint(tc.value, 3):
            self.ctx.fail("MPLS traffic_class out of range for 3 bits", lexeme_span(tc))
        if not is_uint(ttl.value, 8):
            self.ctx.fail("MPLS ttl out of range for 8 bits", lexeme_span(ttl))
        return c

    def opt_mpls_stack_bottom(self, c: list[Any]) -> list[Any]:
        if c and c[1].value != "S":
            self.ctx.fail("expected [S] for MPLS label stack bottom", lexeme_span(c[1]))
        return c

    def ip_ecn(self, c: list[Any]) -> Word:
        return Word(c[0].text, lexeme_span(c[0]))

    def tos_spec(self, c: list[Any]) -> tuple[str, Any]:
        if isinstance(c[0], Word):
            return "ecn", c[0].value
        if c[0].type == "ECT01":
            return "ecn", "ect01"
        tos = c[1]
        if not is_uint(tos.value, 8):
            self.ctx.fail("tos out of range for 8 bits", lexeme_span(tos))
        return "tos", tos.value

    def flow_label(self, c: list[Any]) -> int:
        value: int = c[1].value
        if not is_uint(value, 20):
            self.ctx.fail("flowlabel out of range for 20 bits", lexeme_span(c[1]))
        return value

    def ip_info(self, c: list[Any]) -> IpInfo:
        span = span_of(*c)
        if isinstance(c[0], Lexeme):  # TTL INTEGER
            return IpInfo(ttl=c[1].value, span=span)
        if isinstance(c[0], int):
            return IpInfo(flowlabel=c[0], span=span)
        kind, value = c[0]
        flowlabel = c[2] if len(c) == 3 else None
        if kind == "ecn":
            return IpInfo(ecn=value, flowlabel=flowlabel, span=span)
        return IpInfo(tos=value, flowlabel=flowlabel, span=span)

    def opt_ip_info(self, c: list[Any]) -> IpInfo | None:
        if not c:
            return None
        info: IpInfo = c[1]
        return IpInfo(info.ecn, info.tos, info.ttl, info.flowlabel, span_of(*c))

    def opt_encap(self, c: list[Any]) -> int | None:
        if not c:
            return None
        spi: IntExpr = c[3]
        return spi.value

    def opt_port_info(self, c: list[Any]) -> tuple[int, int] | None:
        if not c:
            return None
        if not is_uint(c[0].value, 16):
            self.ctx.fail("src port out of range", lexeme_span(c[0]))
        if not is_uint(c[2].value, 16):
            self.ctx.fail("dst port out of range", lexeme_span(c[2]))
        return c[0].value, c[2].value

    # ------------------------------------------------------------ TCP
    def flags(self, c: list[Any]) -> Word:
        text = "".join("-" if t.type == "MINUS" else str(t.value) for t in c)
        return Word(text, span_of(*c))

    def seq(self, c: list[Any]) -> Seq:
        start, end, length = c[0], c[2], c[4]
        if not is_uint(start.value, 32):
            self.ctx.fail("TCP start sequence number out of range", lexeme_span(start))
        if not is_uint(end.value, 32):
            self.ctx.fail("TCP end sequence number out of range", lexeme_span(end))
        if not is_uint(length.value, 16):
            self.ctx.fail("TCP payload size out of range", lexeme_span(length))
        if end.value != start.value + length.value:
            self.ctx.fail(
                "inconsistent TCP sequence numbers and payload size", span_of(*c),
                hint=f"end must be start + length: {start.value}:"
                f"{start.value + length.value}({length.value})",
            )
        return Seq(start.value, end.value, length.value, span_of(*c))

    def opt_ack(self, c: list[Any]) -> Positioned:
        return Positioned(self._ranged(c, 32, "TCP ack sequence number out of range"), span_of(*c))

    def opt_window(self, c: list[Any]) -> Positioned:
        return Positioned(self._ranged(c, 16, "TCP window value out of range"), span_of(*c))

    def opt_urg_ptr(self, c: list[Any]) -> Positioned:
        return Positioned(self._ranged(c, 16, "urg_ptr value out of range"), span_of(*c))

    def opt_tcp_options(self, c: list[Any]) -> tuple[Any, Span] | None:
        if not c:
            return None
        if isinstance(c[1], Lexeme):
            return ANY_OPTIONS, span_of(*c)
        return c[1], span_of(*c)

    def _check_flags(self, flags: Word) -> None:
        seen_ecn = seen_ace = False
        for char in "" if flags.value == "-" else flags.value:
            if char not in VALID_TCP_FLAGS:
                self.ctx.fail(f"Invalid TCP flag: '{char}'", flags.span)
            is_ace = char.isdigit()
            if (char in "EWA" and seen_ace) or (is_ace and (seen_ecn or seen_ace)):
                self.ctx.fail(f"Conflicting TCP flag: '{char}'", flags.span)
            seen_ecn = seen_ecn or char in "EWA"
            seen_ace = seen_ace or is_ace

    def tcp_packet_spec(self, c: list[Any]) -> PacketSpec:
        prefix: Prefix = c[0]
        ip: IpInfo | None = c[1]
        flags: Word = c[4]
        seq: Seq = c[5]
        options_part: tuple[Any, Span] | None = c[9]
        inbound = prefix.direction is Direction.INBOUND
        if ip is not None and ip.ecn == "ect01" and inbound:
            self.ctx.fail("[ect01] can only be used with outbound packets", ip.span)
        options: tuple[TcpOption, ...] | None = None
        any_options = False
        if options_part is not None:
            if options_part[0] == ANY_OPTIONS:
                any_options = True
                if inbound:
                    self.ctx.fail_at(
                        "<...> for TCP options can only be used with outbound packets",
                        options_part[1],
                    )
            else:
                options = options_part[0]
        option_bytes = sum(option_length(o) for o in options or ())
        if option_bytes % 4:
            self.ctx.fail(
                "TCP options are not padded correctly to ensure TCP header is a multiple of "
                f"4 bytes: {option_bytes % 4} excess bytes",
                options_part[1] if options_part else seq.span,
                hint=f"add {4 - option_bytes % 4} nop option(s)",
            )
        psp_bytes = 16 + 8 if c[2] is not None else 0  # UDP + PSP headers
        if self._ip_header_len() + psp_bytes + 20 + option_bytes + seq.length > MAX_DATAGRAM_BYTES:
            self.ctx.fail("TCP segment too large", seq.span)
        self._check_flags(flags)
        if c[2] is not None and not self.ctx.psp_udp_port:
            self.ctx.fail(
                "attempting to use PSP without specifying its UDP port", seq.span,
                hint="PSP needs --psp_udp_port=N (and wire mode)",
            )
        ack: int | None = c[6].value
        window: int | None = c[7].value
        urgent: int | None = c[8].value
        if window is None and inbound:
            self.ctx.fail("window must be specified for inbound packets", seq.span, WINDOW_HINT)
        body = TcpSpec(
            flags.value, seq.start, seq.end, seq.length, ack, window, urgent, options,
            any_options, span_of(*c[4:]),
        )
        return self._packet(prefix, ip, body, c[3], c[2], c)

    def _packet(
        self, prefix: Prefix, ip: IpInfo | None, body: Any, ports: Any, spi: Any, c: list[Any]
    ) -> PacketSpec:
        return PacketSpec(
            prefix.direction, body, ip or IpInfo(), prefix.encapsulations, ports, spi,
            span_of(*c),
        )

    # ------------------------------------------------------------ UDP and ICMP
    def udp_packet_spec(self, c: list[Any]) -> PacketSpec:
        prefix: Prefix = c[0]
        ip: IpInfo | None = c[1]
        length: Lexeme = c[5]
        if ip is not None and ip.ecn is not None and ip.ecn != "ect01":
            self.ctx.fail("ECN can only be used with TCP packets", ip.span)
        if not is_uint(length.value, 16):
            self.ctx.fail("UDP payload size out of range", lexeme_span(length))
        if self._ip_header_len() + 8 + length.value > MAX_DATAGRAM_BYTES:
            self.ctx.fail("UDP datagram too large", lexeme_span(length))
        body = UdpSpec(length.value, span_of(*c[2:]))
        return self._packet(prefix, ip, body, c[3], None, c)

    def icmp_type(self, c: list[Any]) -> Word:
        return Word(str(c[0].value), lexeme_span(c[0]))

    def opt_icmp_code(self, c: list[Any]) -> Word | None:
        return Word(str(c[0].value), lexeme_span(c[0])) if c else None

    def opt_icmp_mtu(self, c: list[Any]) -> Positioned:
        return Positioned(int(c[1].value) if c else None, span_of(*c))

    def opt_icmp_echo_id(self, c: list[Any]) -> Positioned:
        return Positioned(int(c[1].value) if c else None, span_of(*c))

    def opt_icmp_echoed(self, c: list[Any]) -> EchoedHeader | None:
        if not c:
            return None
        span = span_of(*c)
        if isinstance(c[1], Seq):
            return EchoedHeader("tcp", c[1].start, c[1].end, c[1].length, span)
        protocol = "udp" if c[1].type == "UDP" else "raw"
        return EchoedHeader(protocol, payload_len=c[3].value, span=span)

    def icmp_packet_spec(self, c: list[Any]) -> PacketSpec:
        prefix: Prefix = c[0]
        ip: IpInfo | None = c[1]
        type_word: Word = c[3]
        code_word: Word | None = c[4]
        mtu: int | None = c[5].value
        echo_id: int | None = c[6].value
        echoed: EchoedHeader | None = c[7]
        if ip is not None and ip.ecn == "ect01" and prefix.direction is Direction.INBOUND:
            self.ctx.fail("[ect01] can only be used with outbound packets", ip.span)
        if echo_id is not None and not is_uint(echo_id, 16):
            self.ctx.fail("invalid echo_id, must be between 0 and 65535", type_word.span)
        if echoed is not None and echoed.protocol == "raw" and echoed.payload_len < 8:
            self.ctx.fail(
                f"icmp_bytes {echoed.payload_len} smaller than icmp header length 8",
                echoed.span,
            )
        type_value, code_value = self._icmp_type_code(type_word, code_word)
        self._check_icmp_mtu(mtu, type_value, code_value, type_word.span)
        body = IcmpSpec(
            type_word.value, type_value, code_word.value if code_word else None, code_value,
            mtu, echo_id, echoed, span_of(*c[2:]),
        )
        return self._packet(prefix, ip, body, None, None, c)

    def _icmp_type_code(self, type_word: Word, code_word: Word | None) -> tuple[int, int]:
        ipv6 = self.ctx.wire_ipv6
        type_value, code_value = resolve_icmp(
            type_word.value, code_word.value if code_word else None, ipv6
        )
        family = "ICMPv6" if ipv6 else "ICMPv4"
        if type_value is None:
            self.ctx.fail(
                f"bad ICMP type {type_word.value}", type_word.span,
                hint=f"not an {family} type name in this IP mode",
            )
        if code_value is None:
            assert code_word is not None
            self.ctx.fail(
                f"bad ICMP code {code_word.value}", code_word.span,
                hint=f"not an {family} code of '{type_word.value}' in this IP mode",
            )
        return type_value, code_value

    def _check_icmp_mtu(self, mtu: int | None, type_: int, code: int, span: Span) -> None:
        if mtu is None or mtu < 0:  # packetdrill treats a negative mtu as "none"
            return
        if not self.ctx.wire_ipv6:
            if type_ != ICMPV4_UNREACH or code != ICMPV4_FRAG_NEEDED:
                self.ctx.fail("ICMPv4 MTU is only valid for unreachable-frag_needed", span)
            if not is_uint(mtu, 16):
                self.ctx.fail("ICMPv4 MTU out of 16-bit range", span)
        else:
            if type_ != ICMPV6_PACKET_TOO_BIG or code != 0:
                self.ctx.fail("ICMPv6 MTU is only valid for packet_too_big-0", span)
            if not is_uint(mtu, 32):
                self.ctx.fail("ICMPv6 MTU out of 32-bit range", span)
