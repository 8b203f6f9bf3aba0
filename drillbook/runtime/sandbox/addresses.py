"""The concrete addresses of a run: packetdrill's defaults and prefix rules (``config.c``,
``ip_address.c``, ``ip_prefix.c``; reference §4.6 and §4.8), as pure functions of the run
configuration. The sandbox configures tun0 from them; syscalls bind and connect with them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from drillbook.config import IpMode, RunConfig
from drillbook.errors import UsageError

# packetdrill's config.c defaults (reference §4.6).
V4_REMOTE_DEFAULT = "192.0.2.1/24"
V4_LOCAL_BASE = "192.168.0.0"
V4_GATEWAY_DEFAULT = "192.168.0.1"
V6_REMOTE_DEFAULT = "2001:DB8::1/32"
V6_LOCAL_BASE = "fd3d:fa7b:d17d::"
V6_GATEWAY_DEFAULT = "fd3d:fa7b:d17d:8888::"
V6_PREFIX_LEN = 48


@dataclass(frozen=True)
class Addresses:
    """The concrete addresses of one run. ``local_ip``/``remote_ip``/``gateway_ip`` are wire
    addresses (IPv4 in ipv4-mapped-ipv6 mode); ``bind_ip``/``connect_ip`` are what sockets
    use (``::ffff:a.b.c.d`` in ipv4-mapped-ipv6 mode)."""

    ip_mode: IpMode
    wire_family: int
    socket_family: int
    local_ip: str
    remote_ip: str
    remote_network: str
    remote_prefix_len: int
    gateway_ip: str
    prefix_len: int
    netmask: str
    bind_ip: str
    connect_ip: str
    is_anyip: bool = False

    @property
    def remote_prefix(self) -> str:
        """The routed remote prefix, as packetdrill prints it (``192.0.2.0/24``)."""
        return f"{self.remote_network}/{self.remote_prefix_len}"


def _urandom32() -> int:
    return int.from_bytes(os.urandom(4), "big")


def resolve_addresses(config: RunConfig, rand32: Callable[[], int] = _urandom32) -> Addresses:
    """Fill in packetdrill's defaults for the addresses *config* leaves unset (``config.c``):
    a remote given without ``/len`` is a host route (/32 or /128); the local address defaults
    to a random one in the local prefix (*rand32* supplies the random bits)."""
    if config.ip_mode.wire_is_ipv6:
        return _resolve_v6(config, rand32)
    return _resolve_v4(config, rand32)


def _resolve_v4(config: RunConfig, rand32: Callable[[], int]) -> Addresses:
    prefix_len = _netmask_to_prefix(config.netmask_ip)
    local = config.local_ip or _random_v4(prefix_len, rand32)
    remote, network = _parse_prefix(config.remote_ip or V4_REMOTE_DEFAULT, 4)
    gateway = str(_parse_ip(config.gateway_ip or V4_GATEWAY_DEFAULT, 4))
    local = str(_parse_ip(local, 4))
    mapped = config.ip_mode is IpMode.IPV4_MAPPED_IPV6
    return Addresses(
        ip_mode=config.ip_mode, wire_family=socket.AF_INET,
        socket_family=socket.AF_INET6 if mapped else socket.AF_INET,
        local_ip=local, remote_ip=str(remote), remote_network=str(network.network_address),
        remote_prefix_len=network.prefixlen, gateway_ip=gateway, prefix_len=prefix_len,
        netmask=str(ipaddress.IPv4Network(f"0.0.0.0/{prefix_len}").netmask),
        bind_ip=f"::ffff:{local}" if mapped else local,
        connect_ip=f"::ffff:{remote}" if mapped else str(remote),
        is_anyip=config.is_anyip,
    )


def _resolve_v6(config: RunConfig, rand32: Callable[[], int]) -> Addresses:
    local = str(_parse_ip(config.local_ip, 6)) if config.local_ip else _random_v6(rand32)
    remote, network = _parse_prefix(config.remote_ip or V6_REMOTE_DEFAULT, 6)
    gateway = str(_parse_ip(config.gateway_ip or V6_GATEWAY_DEFAULT, 6))
    return Addresses(
        ip_mode=config.ip_mode, wire_family=socket.AF_INET6, socket_family=socket.AF_INET6,
        local_ip=local, remote_ip=str(remote), remote_network=str(network.network_address),
        remote_prefix_len=network.prefixlen, gateway_ip=gateway, prefix_len=V6_PREFIX_LEN,
        netmask=str(ipaddress.IPv6Network(f"::/{V6_PREFIX_LEN}").netmask),
        bind_ip=local, connect_ip=str(remote), is_anyip=config.is_anyip,
    )


def _random_v4(prefix_len: int, rand32: Callable[[], int]) -> str:
    # ip_address.c generate_random_ipv4_addr: .0 is the network, .1 the gateway, all-ones the
    # broadcast; prefixes of /31 and /32 keep the base address.
    base = int(ipaddress.IPv4Address(V4_LOCAL_BASE))
    if prefix_len < 31:
        mask = (1 << (32 - prefix_len)) - 1
        rnd = rand32() & mask if prefix_len else rand32() & 0xFFFFFFFF
        if prefix_len:
            rnd = 2 if rnd < 2 else rnd
            rnd = rnd - 1 if rnd == mask else rnd
        base |= rnd
    return str(ipaddress.IPv4Address(base))


def _random_v6(rand32: Callable[[], int]) -> str:
    # ip_address.c generate_random_ipv6_addr: random low 32 bits, never 0 nor all-ones.
    rnd = rand32() & 0xFFFFFFFF
    rnd = 1 if rnd == 0 else rnd
    rnd = rnd - 1 if rnd == 0xFFFFFFFF else rnd
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(V6_LOCAL_BASE)) | rnd))


def _netmask_to_prefix(netmask: str) -> int:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
    except ValueError as exc:
        raise UsageError(f"invalid --netmask_ip: {netmask!r}") from exc


def _parse_ip(text: str, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise UsageError(f"invalid IPv{version} address: {text!r}") from exc
    if address.version != version:
        raise UsageError(f"invalid IPv{version} address: {text!r}")
    return address


def _parse_prefix(
    text: str, version: int
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ipaddress.IPv4Network
           | ipaddress.IPv6Network]:
    # ip_prefix.c: "a/len" or a bare address meaning all address bits; the route uses the
    # normalised network, the remote end keeps the address as written.
    address_text, _, length = text.partition("/")
    address = _parse_ip(address_text, version)
    bits = 32 if version == 4 else 128
    try:
        network = ipaddress.ip_network(f"{address}/{length or bits}", strict=False)
    except ValueError as exc:
        raise UsageError(f"invalid prefix: {text!r}") from exc
    return address, network
