"""IP addresses between text and bytes, with errors as :class:`WireError`."""

from __future__ import annotations

import socket

from drillbook.wire.errors import WireError


def pack_address(address: str) -> bytes:
    """4 bytes for an IPv4 address, 16 for IPv6 (chosen by the presence of a colon)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.inet_pton(family, address)
    except (OSError, ValueError):
        kind = "IPv6" if family == socket.AF_INET6 else "IPv4"
        raise WireError(f"not an {kind} address: {address!r}") from None


def pack_address_v4(address: str) -> bytes:
    """The 4 bytes of an IPv4 address."""
    packed = pack_address(address)
    if len(packed) != 4:
        raise WireError(f"not an IPv4 address: {address!r}")
    return packed


def pack_address_v6(address: str) -> bytes:
    """The 16 bytes of an IPv6 address."""
    packed = pack_address(address)
    if len(packed) != 16:
        raise WireError(f"not an IPv6 address: {address!r}")
    return packed


