"""TCP options in wire format: a generic ``TcpOptionValue`` plus typed builders and readers.

Decoding follows packetdrill's option iterator (tcp_options_iterator.c): EOL and NOP are one
byte each and iteration goes on past an EOL to the end of the header (so padding shows as
``eol`` options); every other option has a length byte, must fit, and the kinds with a fixed
size (mss, wscale, sackOK, TS) must have exactly that size. The error messages use
packetdrill's wording. Kinds packetdrill does not know are kept generically here; refusing
them is the engine's business.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from drillbook.wire.errors import WireError

TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_MSS = 2
TCPOPT_WSCALE = 3
TCPOPT_SACK_PERMITTED = 4
TCPOPT_SACK = 5
TCPOPT_TIMESTAMP = 8
TCPOPT_MD5SIG = 19  # RFC 2385
TCPOPT_FASTOPEN = 34  # RFC 7413
TCPOPT_ACCECN0 = 172  # AccECN order 0 (RFC 9768)
TCPOPT_ACCECN1 = 174  # AccECN order 1
TCPOPT_EXP = 254  # experimental (RFC 6994); packetdrill's FOEXP

TCP_FASTOPEN_MAGIC = 0xF989  # the experiment id of pre-RFC TFO (packetdrill's FOEXP)
MAX_TCP_OPTION_BYTES = 40
MD5_DIGEST_LEN = 16

# packetdrill's name of each kind: the word a script writes between < > and a message prints
# (tcp_options_to_string.c). The one table: the parser, the engine and the trace read it.
OPTION_NAMES: Mapping[int, str] = MappingProxyType({
    TCPOPT_EOL: "eol",
    TCPOPT_NOP: "nop",
    TCPOPT_MSS: "mss",
    TCPOPT_WSCALE: "wscale",
    TCPOPT_SACK_PERMITTED: "sackOK",
    TCPOPT_SACK: "sack",
    TCPOPT_TIMESTAMP: "TS",
    TCPOPT_MD5SIG: "md5",
    TCPOPT_FASTOPEN: "FO",
    TCPOPT_EXP: "FOEXP",
    TCPOPT_ACCECN0: "ECN",
    TCPOPT_ACCECN1: "ECN",
})
# The kind of each name (``ECN`` is order 0's; order 1 is written with its fields' names).
OPTION_KINDS: Mapping[str, int] = MappingProxyType(
    {name: kind for kind, name in sorted(OPTION_NAMES.items(), reverse=True)})

# Total option length (kind + length byte + data) of the fixed-size kinds.
FIXED_OPTION_LENGTHS: dict[int, int] = {
    TCPOPT_MSS: 4,
    TCPOPT_WSCALE: 3,
    TCPOPT_SACK_PERMITTED: 2,
    TCPOPT_TIMESTAMP: 10,
}

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_TS = struct.Struct("!II")


@dataclass(frozen=True, slots=True)
class TcpOptionValue:
    """One TCP option: its kind and the bytes after the length byte (empty for EOL/NOP)."""

    kind: int
    data: bytes = b""

    @property
    def wire_length(self) -> int:
        """Bytes on the wire: 1 for EOL/NOP, else kind + length byte + data."""
        return 1 if self.kind in (TCPOPT_EOL, TCPOPT_NOP) else 2 + len(self.data)

    def as_mss(self) -> int:
        """The MSS value of an ``mss`` option."""
        return int(_U16.unpack(self._expect(TCPOPT_MSS, 2))[0])

    def as_wscale(self) -> int:
        """The shift count of a ``wscale`` option."""
        return self._expect(TCPOPT_WSCALE, 1)[0]

    def as_timestamp(self) -> tuple[int, int]:
        """``(val, ecr)`` of a ``TS`` option."""
        val, ecr = _TS.unpack(self._expect(TCPOPT_TIMESTAMP, 8))
        return int(val), int(ecr)

    def as_sack_blocks(self) -> tuple[tuple[int, int], ...]:
        """The ``(left, right)`` edges of a ``sack`` option (RFC 2018)."""
        data = self._expect(TCPOPT_SACK, None)
        if not data:
            raise WireError("TCP SACK option too short")
        if len(data) % 8:
            raise WireError("TCP SACK option not a multiple of SACK block size")
        edges = struct.unpack(f"!{len(data) // 4}I", data)
        return tuple(zip(edges[::2], edges[1::2], strict=True))

    def as_fast_open_cookie(self) -> bytes:
        """The cookie (possibly empty) of an ``FO`` (kind 34) or ``FOEXP`` (kind 254) option."""
        if self.kind == TCPOPT_FASTOPEN:
            return self.data
        data = self._expect(TCPOPT_EXP, None)
        if len(data) < 2 or _U16.unpack_from(data)[0] != TCP_FASTOPEN_MAGIC:
            raise WireError("unknown experimental option")
        return data[2:]

    def as_md5(self) -> bytes:
        """The digest of an ``md5`` option (packetdrill accepts 0..16 bytes)."""
        data = self._expect(TCPOPT_MD5SIG, None)
        if len(data) > MD5_DIGEST_LEN:
            raise WireError(f"bad TCP MD5 option length: {len(data) + 2}")
        return data

    def as_accecn(self) -> tuple[int, ...]:
        """The 24-bit counters (0 to 3) of an AccECN option (kind 172 or 174)."""
        if self.kind not in (TCPOPT_ACCECN0, TCPOPT_ACCECN1):
            raise WireError(f"TCP option kind {self.kind} is not AccECN")
        data = self.data
        if len(data) > 9:
            raise WireError("invalid ECN option")
        count = len(data) // 3  # packetdrill ignores a trailing partial field
        return tuple(int.from_bytes(data[3 * i : 3 * i + 3], "big") for i in range(count))

    def _expect(self, kind: int, length: int | None) -> bytes:
        if self.kind != kind:
            raise WireError(f"TCP option kind {self.kind} is not kind {kind}")
        if length is not None and len(self.data) != length:
            raise WireError(
                f"bad TCP option length: was {len(self.data) + 2} but expected {length + 2}"
            )
        return self.data


# -- builders (packetdrill's option names) ---------------------------------------------------


def eol() -> TcpOptionValue:
    """End of option list (kind 0)."""
    return TcpOptionValue(TCPOPT_EOL)


def nop() -> TcpOptionValue:
    """No-operation (kind 1)."""
    return TcpOptionValue(TCPOPT_NOP)


def mss(value: int) -> TcpOptionValue:
    """``mss <value>`` (kind 2)."""
    return TcpOptionValue(TCPOPT_MSS, _pack(_U16, value, "mss"))


def wscale(shift: int) -> TcpOptionValue:
    """``wscale <shift>`` (kind 3)."""
    if not 0 <= shift <= 0xFF:
        raise WireError(f"wscale out of range: {shift}")
    return TcpOptionValue(TCPOPT_WSCALE, bytes((shift,)))


def sack_ok() -> TcpOptionValue:
    """``sackOK`` (kind 4)."""
    return TcpOptionValue(TCPOPT_SACK_PERMITTED)


def timestamp(val: int, ecr: int) -> TcpOptionValue:
    """``TS val <val> ecr <ecr>`` (kind 8)."""
    try:
        return TcpOptionValue(TCPOPT_TIMESTAMP, _TS.pack(val, ecr))
    except struct.error:
        raise WireError(f"TS val/ecr out of range: {val}, {ecr}") from None


def sack(*blocks: tuple[int, int]) -> TcpOptionValue:
    """``sack l1:r1 l2:r2 ...`` (kind 5), 1 to 4 blocks."""
    data = b"".join(_pack(_U32, edge, "sack edge") for block in blocks for edge in block)
    return TcpOptionValue(TCPOPT_SACK, data)


def fast_open(cookie: bytes = b"") -> TcpOptionValue:
    """``FO <cookie>`` (kind 34, RFC 7413); an empty cookie requests one."""
    return TcpOptionValue(TCPOPT_FASTOPEN, bytes(cookie))


def fast_open_exp(cookie: bytes = b"") -> TcpOptionValue:
    """``FOEXP <cookie>``: kind 254 with the 0xF989 experiment id, then the cookie."""
    return TcpOptionValue(TCPOPT_EXP, _U16.pack(TCP_FASTOPEN_MAGIC) + bytes(cookie))


def md5(digest: bytes = bytes(MD5_DIGEST_LEN)) -> TcpOptionValue:
    """``md5 <digest>`` (kind 19, RFC 2385)."""
    return TcpOptionValue(TCPOPT_MD5SIG, bytes(digest))


def accecn(order: int, *fields: int) -> TcpOptionValue:
    """An AccECN option (RFC 9768): order 0 is kind 172, order 1 kind 174; 0-3 24-bit fields."""
    if order not in (0, 1) or len(fields) > 3:
        raise WireError(f"bad AccECN option: order {order}, {len(fields)} fields")
    for value in fields:
        if not 0 <= value < 1 << 24:
            raise WireError(f"AccECN field out of range: {value}")
    data = b"".join(value.to_bytes(3, "big") for value in fields)
    return TcpOptionValue(TCPOPT_ACCECN0 if order == 0 else TCPOPT_ACCECN1, data)


def _pack(fmt: struct.Struct, value: int, what: str) -> bytes:
    try:
        return fmt.pack(value)
    except struct.error:
        raise WireError(f"{what} out of range: {value}") from None


# -- the option list -------------------------------------------------------------------------


def pull_tcp_options(data: bytes) -> tuple[TcpOptionValue, ...]:
    """Split the option bytes of a TCP header into options (packetdrill's iterator rules)."""
    options: list[TcpOptionValue] = []
    pos, end = 0, len(data)
    while pos < end:
        kind = data[pos]
        if kind <= TCPOPT_NOP:
            options.append(_ONE_BYTE[kind])
            pos += 1
            continue
        if pos + 1 >= end:
            raise WireError("TCP option length byte extends too far")
        length = data[pos + 1]
        if length < 2:
            raise WireError("TCP option with length byte is too short")
        if pos + length > end:
            raise WireError("TCP option data extends too far")
        expected = FIXED_OPTION_LENGTHS.get(kind)
        if expected is not None and length != expected:
            raise WireError(f"bad TCP option length: was {length} but expected {expected}")
        options.append(TcpOptionValue(kind, data[pos + 2 : pos + length]))
        pos += length
    return tuple(options)


_ONE_BYTE = (TcpOptionValue(TCPOPT_EOL), TcpOptionValue(TCPOPT_NOP))


def push_tcp_options(options: tuple[TcpOptionValue, ...]) -> bytes:
    """The wire bytes of an option list, unpadded."""
    parts: list[bytes] = []
    for option in options:
        kind = option.kind
        if kind in (TCPOPT_EOL, TCPOPT_NOP):
            if option.data:
                raise WireError(f"TCP option kind {kind} (eol/nop) cannot carry data")
            parts.append(_KIND_BYTE[kind])
        elif not 0 <= kind <= 0xFF or len(option.data) > 253:
            raise WireError(f"cannot encode TCP option kind {kind} with {len(option.data)} bytes")
        else:
            parts.append(bytes((kind, len(option.data) + 2)))
            parts.append(option.data)
    return b"".join(parts)


_KIND_BYTE = (b"\x00", b"\x01")


def find_option(options: tuple[TcpOptionValue, ...], kind: int) -> TcpOptionValue | None:
    """The first option of ``kind``, or None."""
    for option in options:
        if option.kind == kind:
            return option
    return None
