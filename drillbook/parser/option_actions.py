"""Grammar actions for TCP options (parser.y's tcp_option rules and their checks).

Option sizes follow the wire (RFC 793 NOP/EOL/MSS, RFC 7323 WS/TS, RFC 2018 SACK, RFC 7413
FO, the experimental FO kind 254, RFC 2385 MD5, AccECN): packetdrill refuses a list longer
than the 40 bytes a TCP header has room for, and a list that is not a multiple of 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drillbook.parser.context import ParseContext, is_uint, lexeme_span, span_of
from drillbook.parser.lexer import Lexeme
from drillbook.script.model import TcpOption
from drillbook.source import Span
from drillbook.wire.tcp_options import (
    FIXED_OPTION_LENGTHS,
    MAX_TCP_OPTION_BYTES,
    OPTION_KINDS,
    TCPOPT_EOL,
    TCPOPT_NOP,
)

MAX_FO_COOKIE = {"FO": MAX_TCP_OPTION_BYTES - 2, "FOEXP": MAX_TCP_OPTION_BYTES - 4}


@dataclass(frozen=True)
class Word:
    """A word-like value (flags, ICMP names, cookies) with where it was written."""

    value: str
    span: Span


ANY_OPTIONS = "any"  # `<...>`: outbound options are not checked


def option_length(option: TcpOption) -> int:
    """Bytes the option takes on the wire (packetdrill's option lengths)."""
    kind = OPTION_KINDS.get(option.kind)
    if kind in (TCPOPT_EOL, TCPOPT_NOP):
        return 1
    if kind in FIXED_OPTION_LENGTHS:
        return FIXED_OPTION_LENGTHS[kind]
    if option.kind == "sack":
        return 2 + 8 * len(option.blocks)
    cookie_bytes = len(option.cookie or "") // 2
    if option.kind in ("FO", "md5"):
        return 2 + cookie_bytes
    if option.kind == "FOEXP":
        return 4 + cookie_bytes
    return 2 + 3 * len(option.ecn_fields)  # AccECN: 24-bit fields


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdefABCDEF" for char in text)


class OptionActions:
    """Actions for TCP option rules; mixed into the packet actions."""

    ctx: ParseContext

    def _ranged(self, c: list[Any], bits: int, message: str) -> int | None:
        if not c:
            return None
        if not is_uint(c[1].value, bits):
            self.ctx.fail(message, lexeme_span(c[1]))
        value: int = c[1].value
        return value

    def tcp_option_list(self, c: list[Any]) -> tuple[TcpOption, ...]:
        options = tuple(item for item in c if isinstance(item, TcpOption))
        total = 0
        for option in options:
            total += option_length(option)
            if total > MAX_TCP_OPTION_BYTES:
                self.ctx.fail("TCP option list too long", option.span)
        return options

    def hex_blob(self, c: list[Any]) -> Word:
        lexeme: Lexeme = c[0]
        # An INTEGER cookie is taken as written (packetdrill copies yytext).
        text = str(lexeme.value) if lexeme.type == "WORD" else lexeme.text
        return Word(text, lexeme_span(lexeme))

    def opt_nop(self, c: list[Any]) -> TcpOption:
        return TcpOption("nop", span=span_of(*c))

    def opt_eol(self, c: list[Any]) -> TcpOption:
        return TcpOption("eol", span=span_of(*c))

    def opt_sackok(self, c: list[Any]) -> TcpOption:
        return TcpOption("sackOK", span=span_of(*c))

    def opt_mss(self, c: list[Any]) -> TcpOption:
        value = self._ranged(c, 16, "mss value out of range")
        return TcpOption("mss", value=value, span=span_of(*c))

    def opt_wscale(self, c: list[Any]) -> TcpOption:
        value = self._ranged(c, 8, "window scale shift count out of range")
        return TcpOption("wscale", value=value, span=span_of(*c))

    def opt_ts(self, c: list[Any]) -> TcpOption:
        if not is_uint(c[2].value, 32):
            self.ctx.fail("ts val out of range", lexeme_span(c[2]))
        if not is_uint(c[4].value, 32):
            self.ctx.fail("ecr val out of range", lexeme_span(c[4]))
        return TcpOption("TS", val=c[2].value, ecr=c[4].value, span=span_of(*c))

    def sack_block(self, c: list[Any]) -> tuple[int, int]:
        if not is_uint(c[0].value, 32):
            self.ctx.fail("TCP SACK left sequence number out of range", lexeme_span(c[0]))
        if not is_uint(c[2].value, 32):
            self.ctx.fail("TCP SACK right sequence number out of range", lexeme_span(c[2]))
        return c[0].value, c[2].value

    def opt_sack(self, c: list[Any]) -> TcpOption:
        blocks = tuple(c[1:])
        option = TcpOption("sack", blocks=blocks, span=span_of(*c))
        if option_length(option) > MAX_TCP_OPTION_BYTES:
            self.ctx.fail("TCP option list too long", option.span, hint="at most 4 SACK blocks")
        return option

    def opt_md5(self, c: list[Any]) -> TcpOption:
        digest: Word = c[1]
        if len(digest.value) // 2 > 16:
            self.ctx.fail("TCP MD5 digest longer than 16 bytes", digest.span)
        if len(digest.value) % 2 or not _is_hex(digest.value):
            self.ctx.fail("TCP MD5 digest is not a valid hex string", digest.span)
        return TcpOption("md5", cookie=digest.value.lower(), span=span_of(*c))

    def _fast_open(self, c: list[Any], kind: str) -> TcpOption:
        cookie: Word = c[1] if len(c) > 1 else Word("", lexeme_span(c[0]))
        text = cookie.value
        if len(text) % 2:
            self.ctx.fail(
                "TCP fast open cookie has an odd number of digits", cookie.span,
                hint="a cookie is hex bytes: an even number of hex digits",
            )
        limit = MAX_FO_COOKIE[kind]
        if len(text) // 2 > limit:
            self.ctx.fail(
                f"TCP fast open cookie of {len(text) // 2} bytes exceeds maximum cookie "
                f"length of {limit} bytes", cookie.span,
            )
        if not _is_hex(text):
            self.ctx.fail(f"TCP fast open cookie '{text}' is not a valid hex string", cookie.span)
        return TcpOption(kind, cookie=text.lower(), span=span_of(*c))

    def opt_fo(self, c: list[Any]) -> TcpOption:
        return self._fast_open(c, "FO")

    def opt_foexp(self, c: list[Any]) -> TcpOption:
        return self._fast_open(c, "FOEXP")

    def accecn_fields(self, c: list[Any]) -> tuple[tuple[str, int], ...]:
        pairs = []
        for name, value in zip(c[::2], c[1::2], strict=True):
            if not is_uint(value.value, 24):
                self.ctx.fail("TCP AccECN field value out of range", lexeme_span(value))
            pairs.append((name.text, int(value.value)))
        return tuple(pairs)

    def opt_accecn(self, c: list[Any]) -> TcpOption:
        return TcpOption("ECN", ecn_fields=c[1], span=span_of(*c))
