"""resolve_addresses: packetdrill's address defaults and prefix rules (config.c, ip_prefix.c)."""

from __future__ import annotations

import socket

import pytest

from drillbook.config import IpMode, RunConfig
from drillbook.errors import UsageError
from drillbook.runtime.sandbox.addresses import resolve_addresses

UPSTREAM_V4 = {"local_ip": "192.168.0.1", "gateway_ip": "192.168.0.1", "remote_ip": "192.0.2.1"}
UPSTREAM_V6 = {"local_ip": "fd3d:0a0b:17d6::1", "gateway_ip": "fd3d:0a0b:17d6:8888::1",
               "remote_ip": "fd3d:fa7b:d17d::1", "mtu": 1520}


def test_upstream_ipv4_flags_route_a_host_prefix() -> None:
    a = resolve_addresses(RunConfig(ip_mode=IpMode.IPV4, **UPSTREAM_V4))
    assert (a.local_ip, a.remote_ip, a.gateway_ip) == ("192.168.0.1", "192.0.2.1", "192.168.0.1")
    assert a.remote_prefix == "192.0.2.1/32"  # no "/len": all address bits
    assert (a.prefix_len, a.netmask) == (16, "255.255.0.0")
    assert (a.wire_family, a.socket_family) == (socket.AF_INET, socket.AF_INET)
    assert (a.bind_ip, a.connect_ip) == ("192.168.0.1", "192.0.2.1")


def test_ipv4_mapped_ipv6_uses_ipv4_on_the_wire_and_mapped_sockets() -> None:
    a = resolve_addresses(RunConfig(ip_mode=IpMode.IPV4_MAPPED_IPV6, **UPSTREAM_V4))
    assert (a.wire_family, a.socket_family) == (socket.AF_INET, socket.AF_INET6)
    assert (a.bind_ip, a.connect_ip) == ("::ffff:192.168.0.1", "::ffff:192.0.2.1")
    assert a.local_ip == "192.168.0.1"


def test_upstream_ipv6_flags() -> None:
    a = resolve_addresses(RunConfig(ip_mode=IpMode.IPV6, **UPSTREAM_V6))
    assert (a.local_ip, a.remote_ip) == ("fd3d:a0b:17d6::1", "fd3d:fa7b:d17d::1")
    assert a.gateway_ip == "fd3d:a0b:17d6:8888::1"
    assert (a.remote_prefix, a.prefix_len) == ("fd3d:fa7b:d17d::1/128", 48)
    assert a.wire_family == a.socket_family == socket.AF_INET6


def test_ipv4_defaults_randomise_the_local_address() -> None:
    a = resolve_addresses(RunConfig(), rand32=lambda: 0x12345678)
    assert a.local_ip == "192.168.86.120"  # 0x5678 in the /16
    assert (a.remote_ip, a.remote_prefix, a.gateway_ip) == (
        "192.0.2.1", "192.0.2.0/24", "192.168.0.1")


@pytest.mark.parametrize(("bits", "local"), [
    (0x0000, "192.168.0.2"),  # .0 is the network
    (0x0001, "192.168.0.2"),  # .1 is the gateway
    (0xFFFF, "192.168.255.254"),  # the broadcast
])
def test_ipv4_random_local_skips_reserved(bits: int, local: str) -> None:
    assert resolve_addresses(RunConfig(), rand32=lambda: bits).local_ip == local


def test_ipv4_netmask_sets_the_local_prefix() -> None:
    a = resolve_addresses(RunConfig(netmask_ip="255.255.255.0"), rand32=lambda: 0xFFFF07)
    assert (a.prefix_len, a.local_ip) == (24, "192.168.0.7")


def test_ipv6_defaults() -> None:
    a = resolve_addresses(RunConfig(ip_mode=IpMode.IPV6), rand32=lambda: 0xABCDEF01)
    assert a.local_ip == "fd3d:fa7b:d17d::abcd:ef01"
    assert (a.remote_ip, a.remote_prefix) == ("2001:db8::1", "2001:db8::/32")
    assert a.gateway_ip == "fd3d:fa7b:d17d:8888::"


@pytest.mark.parametrize(("bits", "local"), [
    (0, "fd3d:fa7b:d17d::1"), (0xFFFFFFFF, "fd3d:fa7b:d17d::ffff:fffe")])
def test_ipv6_random_local_avoids_zero_and_all_ones(bits: int, local: str) -> None:
    assert resolve_addresses(RunConfig(ip_mode=IpMode.IPV6), rand32=lambda: bits).local_ip == local


def test_remote_prefix_is_normalised() -> None:
    a = resolve_addresses(RunConfig(remote_ip="10.1.2.3/8", local_ip="192.168.0.9"))
    assert (a.remote_ip, a.remote_prefix) == ("10.1.2.3", "10.0.0.0/8")


@pytest.mark.parametrize("config", [
    RunConfig(netmask_ip="255.0.255.0"),
    RunConfig(local_ip="fd00::1"),
    RunConfig(ip_mode=IpMode.IPV6, remote_ip="192.0.2.1"),
    RunConfig(remote_ip="192.0.2.1/40"),
])
def test_bad_addresses_are_usage_errors(config: RunConfig) -> None:
    with pytest.raises(UsageError):
        resolve_addresses(config, rand32=lambda: 5)
