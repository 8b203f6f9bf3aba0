"""Internet checksums (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-headers (RFC 9293, RFC 8200).

The one's-complement sum of 16-bit words equals the bytes read as one big-endian integer taken
modulo 0xFFFF, because 2**16 is 1 modulo 0xFFFF. CPython does that modulo in C, which makes this
some fifty times faster than summing words in a Python loop.
"""

from __future__ import annotations

import struct

from drillbook.wire.address import pack_address
from drillbook.wire.errors import WireError

_PSEUDO4 = struct.Struct("!4s4sxB")
_PSEUDO6 = struct.Struct("!16s16sxxxB")


def ones_complement_sum(data: bytes) -> int:
    """The 16-bit one's-complement sum of ``data`` (zero-padded to an even length)."""
    if len(data) & 1:
        data += b"\0"
    value = int.from_bytes(data, "big")
    folded = value % 0xFFFF
    # In one's-complement arithmetic a sum is +0 only when every word is 0; otherwise a
    # multiple of 0xFFFF is the "negative zero" 0xFFFF.
    if folded == 0 and value:
        return 0xFFFF
    return folded


def combine_sums(*sums: int) -> int:
    """One's-complement add partial sums (each as returned by :func:`ones_complement_sum`)."""
    total = sum(sums)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def finish(total: int) -> int:
    """The checksum field for a one's-complement sum: its complement."""
    return ~total & 0xFFFF


def internet_checksum(data: bytes) -> int:
    """The RFC 1071 checksum of ``data`` (e.g. an IPv4 header with its checksum field zero)."""
    return finish(ones_complement_sum(data))


def pseudo_header_sum(src: str, dst: str, protocol: int, length: int) -> int:
    """The partial sum of the IPv4 or IPv6 pseudo-header for an upper-layer checksum.

    IPv4 (RFC 9293 §3.1): src, dst, zero, protocol, TCP/UDP length.
    IPv6 (RFC 8200 §8.1): src, dst, upper-layer length (32 bits), 3 zero bytes, next header.
    ``dst`` is the header's destination: source-route options and routing headers, which
    would put the final destination there, are not interpreted.
    """
    return add_length(address_sum(src, dst, protocol), length)


def address_sum(src: str, dst: str, protocol: int) -> int:
    """The pseudo-header sum without the length word (the encoder adds it when known)."""
    src_raw, dst_raw = pack_address(src), pack_address(dst)
    if len(src_raw) != len(dst_raw):
        raise WireError(f"mixed address families: {src!r} and {dst!r}")
    fmt = _PSEUDO4 if len(src_raw) == 4 else _PSEUDO6
    return ones_complement_sum(fmt.pack(src_raw, dst_raw, protocol))


def add_length(partial: int, length: int) -> int:
    """Add the upper-layer length to a pseudo-header sum from :func:`address_sum`.

    The sum is linear, so the length can come last; in IPv6's 32-bit length field the upper
    16 bits are zero for any packet without a jumbogram.
    """
    return combine_sums(partial, length >> 16, length & 0xFFFF)


def transport_checksum(src: str, dst: str, protocol: int, segment: bytes) -> int:
    """The TCP/UDP/ICMPv6 checksum of ``segment`` (checksum field zero), pseudo-header included."""
    pseudo = pseudo_header_sum(src, dst, protocol, len(segment))
    return finish(combine_sums(pseudo, ones_complement_sum(segment)))


def verify_ipv4_header_checksum(header: bytes) -> bool:
    """Whether an IPv4 header (including its checksum field) sums to all ones."""
    return ones_complement_sum(header) == 0xFFFF


def verify_transport_checksum(src: str, dst: str, protocol: int, segment: bytes) -> bool:
    """Whether a TCP/UDP/ICMPv6 segment (checksum field included) is intact."""
    pseudo = pseudo_header_sum(src, dst, protocol, len(segment))
    return combine_sums(pseudo, ones_complement_sum(segment)) == 0xFFFF
