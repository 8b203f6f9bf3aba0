"""Internet checksums (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-headers (RFC 9293, RFC 8200).

The one's-complement sum of 16-bit words equals the bytes read as one big-endian integer taken
modulo 0xFFFF, because 2**16 is 1 modulo 0xFFFF. CPython does that modulo in C, which makes this
some fifty times faster than summing words in a Python loop.
"""

from __future__ import annotations

import socket
import struct

_PSEUDO4 = struct.Struct("!4s4sxBH")
_PSEUDO6 = struct.Struct("!16s16sIxxxB")


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
    """
    if ":" in src:
        raw = _PSEUDO6.pack(
            socket.inet_pton(socket.AF_INET6, src),
            socket.inet_pton(socket.AF_INET6, dst),
            length,
            protocol,
        )
    else:
        raw = _PSEUDO4.pack(socket.inet_aton(src), socket.inet_aton(dst), protocol, length)
    return ones_complement_sum(raw)


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
