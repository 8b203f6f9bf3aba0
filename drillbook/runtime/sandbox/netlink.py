"""Link, address and route set-up for the sandbox, spoken directly in rtnetlink.

This mirrors what packetdrill's ``netdev.c`` and ``net_utils.c`` do with ``ifconfig``/``ip``
commands: ``ifconfig tun0 mtu N``, link up, ``ip addr add <local>/<prefix> dev tun0`` and
``ip route del <remote-prefix>; ip route add <remote-prefix> dev tun0 [via <gateway>]``.

Why not pyroute2 here: importing it costs ~270 ms (its package ``__init__`` loads every
netlink family and asyncio), which was two thirds of a worker's start-up; the four requests
below take ~60 lines of ``struct``. The kernel tests check the result with pyroute2 (and
``ip``) as independent oracles, as the wire codec is checked against scapy.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass

from drillbook.errors import SandboxError

# <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_addr.h>, <linux/if.h>
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 0x01, 0x04
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
IFLA_MTU = 4
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_NODAD = 0x02  # the address is usable at once, no DAD
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # what "ip route add" uses, as packetdrill does
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RTN_UNICAST = 1
IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBi")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


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
    with _Rtnl() as rtnl:
        rtnl.request(RTM_NEWLINK, 0, _link_body(_index("lo"), up=True))


def is_local_address(address: str) -> bool:
    """Whether *address* belongs to this namespace (binding to it succeeds), as
    packetdrill's ``is_ip_local``; used to refuse a remote address that is not remote."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return False
            raise
    return True


def configure_link(plan: LinkPlan) -> int:
    """Apply *plan* to an existing (freshly created, down) device; returns its ifindex.
    A refusal names the ``ip`` command packetdrill would have run, as its error does."""
    index = _index(plan.ifname)
    steps = [(RTM_NEWLINK, 0, _link_body(index, up=False, mtu=plan.mtu),
              f"ip link set {plan.ifname} mtu {plan.mtu}"),
             (RTM_NEWLINK, 0, _link_body(index, up=True), f"ip link set {plan.ifname} up")]
    if plan.local_ip is not None:
        steps.append((RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, _address_body(index, plan),
                      f"ip addr add {plan.local_ip}/{plan.prefix_len} dev {plan.ifname}"))
    steps.append((RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, _route_body(index, plan),
                  _route_command(plan)))
    with _Rtnl() as rtnl:
        for kind, flags, body, command in steps:
            try:
                rtnl.request(kind, flags, body)
            except OSError as exc:
                what = "route command" if kind == RTM_NEWROUTE else "command"
                raise SandboxError(f"error executing {what} '{command}': {exc.strerror}"
                                   ) from exc
    return index


def _route_command(plan: LinkPlan) -> str:
    version = 6 if plan.family == socket.AF_INET6 else 4
    via = f" via {plan.gateway_ip}" if plan.gateway_ip else ""
    return (f"ip -{version} route add {plan.remote_network}/{plan.remote_prefix_len}"
            f" dev {plan.ifname}{via}")


def _index(ifname: str) -> int:
    try:
        return socket.if_nametoindex(ifname)
    except OSError as exc:
        raise SandboxError(f"no network device named {ifname!r} in the sandbox") from exc


def _attr(kind: int, data: bytes) -> bytes:
    length = _RTATTR.size + len(data)
    return _RTATTR.pack(length, kind) + data + bytes(-length % 4)


def _link_body(index: int, up: bool, mtu: int | None = None) -> bytes:
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)
    return body + (_attr(IFLA_MTU, struct.pack("=I", mtu)) if mtu else b"")


def _address_body(index: int, plan: LinkPlan) -> bytes:
    assert plan.local_ip is not None
    raw = socket.inet_pton(plan.family, plan.local_ip)
    # packetdrill does not wait for DAD on tun devices (NOARP skips it); NODAD says so.
    flags = IFA_F_NODAD if plan.family == socket.AF_INET6 else 0
    body = _IFADDRMSG.pack(plan.family, plan.prefix_len, flags, RT_SCOPE_UNIVERSE, index)
    # Like "ip addr add": local and address are the same when no peer is given.
    body += _attr(IFA_LOCAL, raw) + _attr(IFA_ADDRESS, raw)
    return body + _attr(IFA_FLAGS, struct.pack("=I", flags))


def _route_body(index: int, plan: LinkPlan) -> bytes:
    # "ip route add X dev tun0": scope link without a gateway, universe with one.
    scope = RT_SCOPE_UNIVERSE if plan.gateway_ip else RT_SCOPE_LINK
    body = _RTMSG.pack(plan.family, plan.remote_prefix_len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                       scope, RTN_UNICAST, 0)
    body += _attr(RTA_DST, socket.inet_pton(plan.family, plan.remote_network))
    body += _attr(RTA_OIF, struct.pack("=i", index))
    if plan.gateway_ip:
        body += _attr(RTA_GATEWAY, socket.inet_pton(plan.family, plan.gateway_ip))
    return body


class _Rtnl:
    """A NETLINK_ROUTE socket that sends one request at a time and checks its ACK."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._seq = 0

    def __enter__(self) -> _Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind,
                                NLM_F_REQUEST | NLM_F_ACK | flags, self._seq, 0)
        self._sock.send(header + body)
        self._await_ack()

    def _await_ack(self) -> None:
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, _, seq, _ = _NLMSGHDR.unpack_from(data, offset)
                if kind == NLMSG_ERROR and seq == self._seq:
                    (code,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return
                offset += max(length, _NLMSGHDR.size) + (-length % 4)


# <linux/sockios.h>, <linux/ethtool.h>: the legacy get/set settings "ethtool -s" falls back to.
SIOCETHTOOL = 0x8946
ETHTOOL_GSET, ETHTOOL_SSET = 0x01, 0x02
_ETHTOOL_CMD = struct.Struct("=IIIHBBBBBBIIHBBI8x")
_IFREQ_PTR = struct.Struct("=16sQ16x")


def set_link_speed(ifname: str, mbps: int) -> None:
    """``ethtool -s IFNAME speed MBPS autoneg off`` (packetdrill's ``--speed``): tun keeps the
    value, and TCP reads it when the link comes up again, so the caller cycles the link."""
    import ctypes
    import fcntl

    buffer = ctypes.create_string_buffer(_ETHTOOL_CMD.size)
    request = _IFREQ_PTR.pack(ifname.encode(), ctypes.addressof(buffer))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        try:
            buffer.raw = _ETHTOOL_CMD.pack(ETHTOOL_GSET, *([0] * 15))
            fcntl.ioctl(control, SIOCETHTOOL, request)
            fields = list(_ETHTOOL_CMD.unpack(buffer.raw))
            fields[0], fields[3], fields[12] = ETHTOOL_SSET, mbps & 0xFFFF, mbps >> 16
            fields[8] = 0  # autoneg off
            buffer.raw = _ETHTOOL_CMD.pack(*fields)
            fcntl.ioctl(control, SIOCETHTOOL, request)
        except OSError as exc:
            raise SandboxError(f"error executing 'ethtool -s {ifname} speed {mbps} autoneg off'"
                               f": {exc.strerror}") from exc


def set_link_up(ifname: str, up: bool) -> None:
    """``ip link set IFNAME up|down``."""
    with _Rtnl() as rtnl:
        index = _index(ifname)
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP)
        rtnl.request(RTM_NEWLINK, 0, body)
