"""Run configuration: packetdrill's command-line flags as one typed, immutable value.

Names and defaults follow packetdrill's ``config.c`` (reference §5). Script header lines
(``--name=value``) are applied first and the command line overrides them, as in packetdrill.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class IpMode(enum.Enum):
    IPV4 = "ipv4"
    IPV4_MAPPED_IPV6 = "ipv4-mapped-ipv6"
    IPV6 = "ipv6"

    @property
    def wire_is_ipv6(self) -> bool:
        """The family of packets on the wire (ipv4-mapped sockets send IPv4 packets)."""
        return self is IpMode.IPV6


@dataclass(frozen=True)
class RunConfig:
    ip_mode: IpMode = IpMode.IPV4
    bind_port: int = 8080
    connect_port: int = 8080
    local_ip: str | None = None  # None: the mode's default (see addresses_for)
    remote_ip: str | None = None  # may carry a /prefix
    gateway_ip: str | None = None
    netmask_ip: str = "255.255.0.0"
    mtu: int = 1500
    speed: int = 0
    mss: int = 0
    tolerance_usecs: int = 4000
    tolerance_percent: float = 12.5
    tcp_ts_ecr_scaled: bool = False
    tcp_ts_tick_usecs: int = 0
    strict_segments: bool = False
    non_fatal_packet: bool = False
    non_fatal_syscall: bool = False
    init_scripts: tuple[str, ...] = ()
    code_command: str = "python3"
    code_format: str = "python"
    code_sockopt: str = ""
    defines: tuple[tuple[str, str], ...] = ()
    dry_run: bool = False
    verbose: bool = False
    debug: int = 0
    send_omit_free: bool = False
    is_anyip: bool = False
    psp_udp_port: int = 0
    wire_client: bool = False
    wire_server: bool = False
    extra: tuple[tuple[str, str], ...] = field(default=())  # accepted, unused flags

    def with_changes(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    @property
    def define_map(self) -> dict[str, str]:
        return dict(self.defines)


# Upstream's run_all.py flags per IP mode (../shared/corpus/README.md).
UPSTREAM_MODE_FLAGS: dict[IpMode, tuple[str, ...]] = {
    IpMode.IPV4: (
        "--ip_version=ipv4", "--local_ip=192.168.0.1", "--gateway_ip=192.168.0.1",
        "--netmask_ip=255.255.0.0", "--remote_ip=192.0.2.1",
        "-D", "TFO_COOKIE=3021b9d889017eeb", "-D", "CODE=host_unreachable",
        "-D", "CMSG_LEVEL_IP=SOL_IP", "-D", "CMSG_TYPE_RECVERR=IP_RECVERR",
    ),
    IpMode.IPV6: (
        "--ip_version=ipv6", "--mtu=1520", "--local_ip=fd3d:0a0b:17d6::1",
        "--gateway_ip=fd3d:0a0b:17d6:8888::1", "--remote_ip=fd3d:fa7b:d17d::1",
        "-D", "TFO_COOKIE=c1d1e9742a47a9bc",
        "-D", "CMSG_LEVEL_IP=SOL_IPV6", "-D", "CMSG_TYPE_RECVERR=IPV6_RECVERR",
    ),
    IpMode.IPV4_MAPPED_IPV6: (
        "--ip_version=ipv4-mapped-ipv6", "--local_ip=192.168.0.1", "--gateway_ip=192.168.0.1",
        "--netmask_ip=255.255.0.0", "--remote_ip=192.0.2.1",
        "-D", "TFO_COOKIE=3021b9d889017eeb", "-D", "CODE=host_unreachable",
        "-D", "CMSG_LEVEL_IP=SOL_IPV6", "-D", "CMSG_TYPE_RECVERR=IPV6_RECVERR",
    ),
}
UPSTREAM_COMMON_FLAGS: tuple[str, ...] = ("--send_omit_free",)
