"""Link, address and route set-up for the sandbox, through rtnetlink (pyroute2).

This is the slow, once-per-run part of the sandbox; it mirrors what packetdrill's
``netdev.c`` and ``net_utils.c`` do with ``ifconfig``/``ip`` commands:
``ifconfig tun0 mtu N``, link up, ``ip addr add <local>/<prefix> dev tun0`` and
``ip route del <remote-prefix>; ip route add <remote-prefix> dev tun0 [via <gateway>]``.
pyroute2 is imported here only, and only when a sandbox is built, so ``import drillbook``
stays light.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from drillbook.errors import SandboxError

IFA_F_NODAD = 0x02  # <linux/if_addr.h>: the address is usable at once, no DAD
RTPROT_BOOT = 3  # <linux/rtnetlink.h>: what "ip route add" uses, as packetdrill does


@dataclass(frozen=True)
class LinkPlan:
    """What to configure on the TUN device, already resolved to concrete values."""

    ifname: str
    family: int  # socket.AF_INET or socket.AF_INET6: the wire family
    mtu: int
    local_ip: str | None  # None: --is_anyip, no local address
    prefix_len: int
    remote_network: str  # the remote prefix's network address ("192.0.2.0")
    remote_prefix_len: int
    gateway_ip: str | None  # None: --is_anyip, a device route without "via"


def bring_up_loopback() -> None:
    """``ip link set lo up`` (what upstream's ``in_netns.sh`` does in each fresh netns)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        ipr.link("set", index=_index(ipr, "lo"), state="up")


def local_addresses() -> set[str]:
    """Every address configured on any device of the current namespace (normalised text)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        return {_normalise(str(msg.get_attr("IFA_ADDRESS"))) for msg in ipr.get_addr()}


def configure_link(plan: LinkPlan) -> int:
    """Apply *plan* to an existing (freshly created, down) device; returns its ifindex."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        index = _index(ipr, plan.ifname)
        try:
            ipr.link("set", index=index, mtu=plan.mtu)
            ipr.link("set", index=index, state="up")
            if plan.local_ip is not None:
                _add_address(ipr, index, plan)
            _replace_route(ipr, index, plan)
        except NetlinkError as exc:
            raise SandboxError(f"could not configure {plan.ifname}: {exc}") from exc
    return index


def _add_address(ipr: object, index: int, plan: LinkPlan) -> None:
    assert plan.local_ip is not None
    kwargs: dict[str, object] = {
        "index": index, "address": plan.local_ip, "prefixlen": plan.prefix_len,
    }
    if plan.family == socket.AF_INET6:
        # packetdrill does not wait for DAD on tun devices; NODAD makes that explicit.
        kwargs["flags"] = IFA_F_NODAD
    ipr.addr("add", **kwargs)  # type: ignore[attr-defined]


def _replace_route(ipr: object, index: int, plan: LinkPlan) -> None:
    # "ip route del X; ip route add X ..." in packetdrill: replace is the atomic equivalent.
    kwargs: dict[str, object] = {
        "dst": f"{plan.remote_network}/{plan.remote_prefix_len}",
        "oif": index,
        "family": plan.family,
        "proto": RTPROT_BOOT,
    }
    if plan.gateway_ip is not None:
        kwargs["gateway"] = plan.gateway_ip
    ipr.route("replace", **kwargs)  # type: ignore[attr-defined]


def _index(ipr: object, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)  # type: ignore[attr-defined]
    if not found:
        raise SandboxError(f"no network device named {ifname!r} in the sandbox")
    return int(found[0])


def _normalise(address: str) -> str:
    import ipaddress

    return str(ipaddress.ip_address(address))
