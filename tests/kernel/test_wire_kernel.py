"""The wire codec against the real kernel: packets we encode are accepted (the kernel drops
anything with a bad checksum), and what the kernel sends decodes with valid checksums.

A child process in a fresh network namespace (``unshare --net``) opens tun0 as packetdrill does
(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR), injects virtio_net_hdr + packets, reads the kernel's
answers and prints what it saw as JSON. This file is both the test and the child.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
from typing import Any

import pytest

from drillbook import wire as w

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x1000, 0x4000
LOCAL4, REMOTE4 = "192.168.0.1", "192.0.2.1"
LOCAL6, REMOTE6 = "fd3d:a0b:17d6::1", "fd3d:fa7b:d17d::1"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs CAP_NET_ADMIN: run as root"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2)"
    return None


pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
]


# -- the child, inside the namespace ------------------------------------------------------------


def _open_tun() -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", b"tun0", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR))
    for command in (
        "ip link set lo up",
        "ip link set tun0 up",
        f"ip addr add {LOCAL4}/24 dev tun0",
        "ip route add 192.0.2.0/24 dev tun0",
        f"ip -6 addr add {LOCAL6}/64 dev tun0 nodad",
        "ip -6 route add fd3d:fa7b:d17d::/64 dev tun0",
    ):
        subprocess.run(command.split(), check=True)
    return fd


def _inject(fd: int, packet: w.Packet) -> None:
    os.write(fd, w.pack_virtio_net_hdr() + w.encode_packet(packet))


def _read(fd: int, want: Any, timeout: float = 2.0) -> tuple[w.VirtioNetHdr, bytes, w.Packet]:
    """The next packet from tun0 for which ``want(packet)`` holds (skipping IPv6 chatter)."""
    while select.select([fd], [], [], timeout)[0]:
        header, data = w.unpack_virtio_net_hdr(os.read(fd, 65536))
        packet = w.decode_packet(data)
        if want(packet):
            return header, data, packet
    raise TimeoutError("the kernel sent nothing we wanted")


def _handshake(fd: int, local: str, remote: str, ip: w.IPHeader) -> dict[str, Any]:
    family = socket.AF_INET6 if ":" in local else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((local, 8080))
    listener.listen(1)
    options = (w.mss(1000), w.sack_ok(), w.timestamp(4242, 0), w.nop(), w.wscale(7))
    syn = w.TcpSegment(40000, 8080, seq=100, flags=w.TCP_SYN, window=8000, options=options)
    _inject(fd, w.Packet(ip, syn))
    header, data, packet = _read(fd, lambda p: p.tcp is not None and p.tcp.has(w.TCP_SYN))
    tcp = packet.tcp
    assert tcp is not None
    ack = w.TcpSegment(
        40000,
        8080,
        seq=101,
        ack=(tcp.seq + 1) & 0xFFFFFFFF,
        flags=w.TCP_ACK | w.TCP_PSH,
        window=8000,
        options=(w.nop(), w.nop(), w.timestamp(4243, tcp.timestamp[0] if tcp.timestamp else 0)),
        payload=b"hello, kernel",
    )
    _inject(fd, w.Packet(ip, ack))
    listener.settimeout(2)
    conn, _ = listener.accept()
    conn.settimeout(2)
    received = conn.recv(100)
    _, _, data_ack = _read(fd, lambda p: p.tcp is not None and p.tcp.ack == 101 + 13)
    return {
        "vnet_flags": header.flags,
        "checksums_ok": w.verify_checksums(data),
        "flags": tcp.flags,
        "ack": tcp.ack,
        "src": packet.ip.src,
        "options": [o.kind for o in tcp.options],
        "mss": (tcp.option(w.TCPOPT_MSS) or w.mss(0)).as_mss(),
        "ecr": tcp.timestamp[1] if tcp.timestamp else None,
        "received": received.decode(),
        "data_ack_window": data_ack.tcp.window if data_ack.tcp else None,
    }


def _udp(fd: int, local: str, ip: w.IPHeader) -> str:
    family = socket.AF_INET6 if ":" in local else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((local, 5353))
    sock.settimeout(2)
    _inject(fd, w.Packet(ip, w.UdpDatagram(1234, 5353, payload=b"datagram")))
    return sock.recv(100).decode()


def _echo(fd: int, ip: w.IPHeader, request: w.IcmpMessage) -> dict[str, Any]:
    _inject(fd, w.Packet(ip, request))
    reply_type = w.ICMPV6_ECHO_REPLY if request.type == w.ICMPV6_ECHO_REQUEST else w.ICMP_ECHOREPLY
    _, data, packet = _read(fd, lambda p: getattr(p.transport, "type", None) == reply_type)
    message = packet.transport
    assert isinstance(message, w.Icmpv4Message | w.Icmpv6Message)
    return {
        "ident": message.ident,
        "sequence": message.sequence,
        "payload": message.payload.decode(),
        "checksums_ok": w.verify_checksums(data),
    }


def child() -> None:
    """Runs inside the namespace; prints one JSON object."""
    fd = _open_tun()
    ip4 = w.IPv4Header(REMOTE4, LOCAL4, ttl=255)
    ip6 = w.IPv6Header(REMOTE6, LOCAL6, hop_limit=255)
    echo = w.icmp_rest_echo(77, 3)
    results = {
        "tcp4": _handshake(fd, LOCAL4, REMOTE4, ip4),
        "tcp6": _handshake(fd, LOCAL6, REMOTE6, ip6),
        "udp4": _udp(fd, LOCAL4, w.IPv4Header(REMOTE4, LOCAL4, protocol=w.IPPROTO_UDP)),
        "udp6": _udp(fd, LOCAL6, w.IPv6Header(REMOTE6, LOCAL6, next_header=w.IPPROTO_UDP)),
        "icmp4": _echo(
            fd,
            w.IPv4Header(REMOTE4, LOCAL4, protocol=w.IPPROTO_ICMP),
            w.Icmpv4Message(w.ICMP_ECHO, rest=echo, payload=b"ping4"),
        ),
        "icmp6": _echo(
            fd,
            w.IPv6Header(REMOTE6, LOCAL6, next_header=w.IPPROTO_ICMPV6),
            w.Icmpv6Message(w.ICMPV6_ECHO_REQUEST, rest=echo, payload=b"ping6"),
        ),
    }
    print(json.dumps(results))


# -- the test -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seen() -> dict[str, Any]:
    done = subprocess.run(
        ["unshare", "--net", sys.executable, __file__],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(("name", "remote"), [("tcp4", LOCAL4), ("tcp6", LOCAL6)])
def test_kernel_answers_our_syn_and_takes_our_data(
    seen: dict[str, Any], name: str, remote: str
) -> None:
    result = seen[name]
    assert result["checksums_ok"] and result["vnet_flags"] == 0
    assert result["flags"] == w.TCP_SYN | w.TCP_ACK and result["ack"] == 101
    assert result["src"] == remote
    assert w.TCPOPT_MSS in result["options"] and w.TCPOPT_SACK_PERMITTED in result["options"]
    assert w.TCPOPT_WSCALE in result["options"] and result["ecr"] == 4242
    assert result["received"] == "hello, kernel"


def test_kernel_takes_our_udp(seen: dict[str, Any]) -> None:
    assert seen["udp4"] == seen["udp6"] == "datagram"


@pytest.mark.parametrize("name", ["icmp4", "icmp6"])
def test_kernel_answers_our_echo(seen: dict[str, Any], name: str) -> None:
    result = seen[name]
    assert (result["ident"], result["sequence"], result["checksums_ok"]) == (77, 3, True)
    assert result["payload"] == f"ping{name[-1]}"


if __name__ == "__main__":
    child()
