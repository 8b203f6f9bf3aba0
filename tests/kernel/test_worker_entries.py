"""Entry functions the kernel tests run inside a real worker (``module:function`` entries).

They stand in for the driver: each gets the live Sandbox and the request and returns a
JSON-able dict. pytest collects nothing here (no ``test_`` functions).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

from drillbook.runtime.sandbox.tun import Sandbox
from drillbook.runtime.workers.request import WorkerRequest

REMOTE_PORT = 40000


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
         options: bytes, v6: bool, payload: bytes = b"") -> bytes:
    """A TCP segment in an IP packet, built with struct (the test's own tiny codec)."""
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, 65535, 0, 0)
    segment = header + options + payload
    family = socket.AF_INET6 if v6 else socket.AF_INET
    s, d = socket.inet_pton(family, src), socket.inet_pton(family, dst)
    if v6:
        pseudo = s + d + struct.pack("!IxxxB", len(segment), 6)
    else:
        pseudo = s + d + struct.pack("!xBH", 6, len(segment))
    csum = _checksum(pseudo + segment)
    segment = segment[:16] + struct.pack("!H", csum) + segment[18:]
    if v6:
        return struct.pack("!IHBB", 6 << 28, len(segment), 6, 64) + s + d + segment
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 1, 0, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + segment


def _tcp_of(frame: bytes) -> tuple[int, bytes]:
    """(ip version, TCP header bytes) of an outbound frame."""
    version = frame[0] >> 4
    if version == 6:
        return 6, frame[40:]
    return 4, frame[(frame[0] & 0x0F) * 4:]


def handshake(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Listen, inject a SYN, sniff the SYN-ACK, complete the handshake, accept."""
    addresses = sandbox.addresses
    listener = socket.socket(addresses.socket_family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((addresses.bind_ip, 8080))
    listener.listen(1)
    v6 = addresses.wire_family == socket.AF_INET6
    mss = struct.pack("!BBH", 2, 4, 1000)
    syn = _tcp(addresses.remote_ip, addresses.local_ip, REMOTE_PORT, 8080, 0, 0, 0x02, mss, v6)
    before_ns = time.time_ns()
    injected_ns = sandbox.inject(syn)
    got = sandbox.read_outbound(1.0)
    read_ns = time.time_ns()
    skipped = 0
    while got is not None and _tcp_of(got[0])[1][13] != 0x12:
        skipped += 1  # e.g. an IPv6 MLD report: not ours
        got = sandbox.read_outbound(1.0)
    assert got is not None, "no SYN-ACK"
    frame, stamp_ns = got
    version, tcp = _tcp_of(frame)
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    final_ack = _tcp(addresses.remote_ip, addresses.local_ip, REMOTE_PORT, 8080, 1, seq + 1,
                     0x10, b"", v6)
    sandbox.inject(final_ack)
    listener.settimeout(2.0)
    conn, peer = listener.accept()
    if request.config.get("extra"):  # ("gso", "1"): one 3000-byte GSO super-packet
        data = bytes(range(256)) * 11 + bytes(184)
        packet = _tcp(addresses.remote_ip, addresses.local_ip, REMOTE_PORT, 8080, 1, seq + 1,
                      0x18, b"", v6, payload=data)
        sandbox.inject(packet, 4 if v6 else 1, 1000)
        conn.settimeout(2.0)
        received = b""
        while len(received) < len(data):
            received += conn.recv(65536)
        ack_frame = sandbox.read_outbound(1.0)
        return {"received_ok": received == data,
                "acked": struct.unpack("!I", _tcp_of(ack_frame[0])[1][8:12])[0]
                if ack_frame else None}
    return {
        "version": version, "sport": sport, "dport": dport, "ack": ack, "flags": tcp[13],
        "before_ns": before_ns, "injected_ns": injected_ns, "stamp_ns": stamp_ns,
        "read_ns": read_ns, "peer": list(peer)[:2], "skipped": skipped,
        "pid": os.getpid(), "cwd": os.getcwd(),
    }


def silence(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Nothing is sent: read_outbound must time out after about the time asked."""
    start = time.monotonic()
    got = sandbox.read_outbound(0.2)
    return {"got": got is not None, "waited_s": time.monotonic() - start}


def describe(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Report the sandbox's network and process set-up, as seen from inside."""
    show = sandbox.run_shell(
        "ip -d link show dev tun0; ip addr show dev tun0; ip -4 route; ip -6 route;"
        " echo PPID=$PPID PDPID=$PACKETDRILL_PID;"
        " echo probe > /tmp/drillbook-probe-$$ && echo TMP=$(cat /tmp/drillbook-probe-$$)",
        {"PATH": os.defpath},
        timeout_s=10,
    )
    return {"shell": show.output, "returncode": show.returncode, "pid": os.getpid(),
            "netns": os.stat("/proc/self/ns/net").st_ino,
            "addresses": {k: str(v) for k, v in vars(sandbox.addresses).items()}}


def sleep_forever(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Never returns: for timeout, interrupt and kill tests."""
    sandbox.run_shell("sleep 3600 & echo started", {"PATH": os.defpath}, timeout_s=5)
    time.sleep(3600)
    return {}


def crash(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """A bug in the entry: an ordinary exception."""
    raise ZeroDivisionError("deliberate crash in the entry")


def script_error(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """A script-level error raised while running."""
    from drillbook.errors import ScriptSemanticError

    raise ScriptSemanticError("deliberate script error")


def not_json(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """A result that cannot cross the process boundary."""
    return {"value": object()}


def leave_traces(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Do what scripts do that could leak: files in /tmp (as set_sysctls.py does), namespace
    sysctls, a background job; the host must see none of it."""
    env = {"PATH": os.defpath}
    marker = request.config.get("extra", [["marker", "x"]])[0][1]
    result = sandbox.run_shell(
        f"touch /tmp/{marker}; echo 'echo restore' > /tmp/sysctl_restore_$PACKETDRILL_PID.sh;"
        " echo 0 > /proc/sys/net/ipv4/tcp_syncookies; echo 3 > /proc/sys/net/ipv4/tcp_frto;"
        " sleep 3600 >/dev/null 2>&1 &", env, timeout_s=5,
    )
    with open("/proc/sys/net/ipv4/tcp_syncookies") as handle:
        inside = handle.read().strip()
    return {"returncode": result.returncode, "tmp": sorted(os.listdir("/tmp")),
            "syncookies_inside": inside, "netns": os.stat("/proc/self/ns/net").st_ino}


def shell_timeout(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """A hanging shell command with a child of its own is killed, group and all."""
    from drillbook.runtime.sandbox.process import _session_of

    start = time.monotonic()
    result = sandbox.run_shell("sleep 30 & echo begun; sleep 30", {"PATH": os.defpath}, 0.5)
    elapsed = time.monotonic() - start
    me, sid = os.getpid(), os.getsid(0)
    survivors: list[int] = []
    for _ in range(100):  # SIGKILL is asynchronous: give the kernel a moment
        survivors = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me
                     and _session_of(f"/proc/{p}") == sid
                     and not _is_zombie(int(p)) and not _is_guardian(int(p))]
        if not survivors:
            break
        time.sleep(0.01)
    return {"timed_out": result.timed_out, "returncode": result.returncode,
            "output": result.output, "elapsed": elapsed, "survivors": survivors}


def _is_guardian(pid: int) -> bool:
    # The session guardian is a fork of this worker: our child, with our name.
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
        with open(f"/proc/{pid}/comm", "rb") as mine, open("/proc/self/comm", "rb") as ours:
            same_name = mine.read() == ours.read()
    except OSError:
        return False
    return same_name and int(raw[raw.rindex(b")") + 2:].split()[1]) == os.getpid()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return True
    return raw[raw.rindex(b")") + 2:].split()[0] == b"Z"


def inject_latency(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Measure inject(): time.time_ns() before the write vs the time it returns, for RSTs to
    a closed port (each makes the kernel answer with a RST we read back)."""
    addresses = sandbox.addresses
    v6 = addresses.wire_family == socket.AF_INET6
    samples, echo = [], []
    for i in range(int(request.config.get("extra", [["n", "300"]])[0][1])):
        packet = _tcp(addresses.remote_ip, addresses.local_ip, 41000 + i % 1000, 9, 1, 0,
                      0x02, b"", v6)
        before = time.time_ns()
        after = sandbox.inject(packet)
        samples.append(after - before)
        got = sandbox.read_outbound(1.0)
        if got is not None:
            echo.append(got[1] - before)
    return {"inject_ns": samples, "answer_ns": echo}


# ------------------------------------------------------------------ helpers for the tests

ENTRIES = "test_worker_entries"
KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))




def make_request(entry: str, cwd: str = "/", **config: Any) -> WorkerRequest:
    """A request for one of this module's entries, with RunConfig fields from *config*."""
    from drillbook.config import RunConfig
    from drillbook.runtime.workers.request import config_to_dict

    return WorkerRequest(
        script_text="", script_path="test.pkt", cwd=cwd,
        config=config_to_dict(RunConfig(**config)), entry=f"{ENTRIES}:{entry}",
    )


def suicide(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """The worker dies from a signal before replying."""
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def echo_request(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """What arrived: the request's size, the working directory and the config round trip."""
    return {"script_len": len(request.script_text), "cwd": os.getcwd(),
            "same_class": type(request).__module__, "config": request.config,
            "run_config_mode": request.run_config.ip_mode.value}


def inspect_with_pyroute2(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """The sandbox's links, addresses and routes as pyroute2 (an independent netlink
    implementation) reads them back."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        links = {link.get_attr("IFLA_IFNAME"): {"mtu": link.get_attr("IFLA_MTU"),
                                                  "up": bool(link["flags"] & 1)}
                 for link in ipr.get_links()}
        tun = socket.if_nametoindex("tun0")
        addresses = sorted(
            [a.get_attr("IFA_ADDRESS"), a["prefixlen"], bool(a.get_attr("IFA_FLAGS", 0) & 2)]
            for a in ipr.get_addr(index=tun) if a["scope"] == 0)
        routes = sorted(
            [r.get_attr("RTA_DST"), r["dst_len"], r.get_attr("RTA_GATEWAY"), r["proto"],
             r["scope"]]
            for family in (socket.AF_INET, socket.AF_INET6)
            for r in ipr.get_routes(family=family, oif=tun, table=254)
            if r["proto"] != 2)  # not the kernel's own prefix and link-local routes
    return {"links": links, "addresses": addresses, "routes": routes}


def link_speed(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """tun0's speed and autoneg as pyroute2's ethtool reads them."""
    from pyroute2.ethtool import Ethtool

    with Ethtool() as ethtool:
        mode = ethtool.get_link_mode("tun0")
    return {"speed": mode.speed, "autoneg": mode.autoneg}


def stuck_thread(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Returns while a non-daemon thread is blocked in a syscall (as a blocking accept()
    the script never completed would be)."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    threading.Thread(target=listener.accept).start()
    print("from the entry")
    return {"done": True}


def partial_on_timeout(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """Catches the timeout and returns what it has, as a driver returns a partial trace."""
    from drillbook.runtime.loop.deadline import WorkerTimeout

    steps = []
    try:
        while True:
            steps.append(len(steps))
            time.sleep(0.05)
    except WorkerTimeout:
        return {"partial": True, "some_steps": bool(steps)}


def tun_queue(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    """What the TUN queue holds: whether a frame waits there before anything was sent (while
    the packet socket has seen none), and every frame left after one outbound UDP datagram
    was read through the packet socket (which drains one frame)."""
    import select

    poller = select.poll()
    poller.register(sandbox.tun_fd, select.POLLIN)
    queued_before = bool(poller.poll(200))
    seen_before = sandbox.read_outbound(0.0) is not None
    family = socket.AF_INET6 if ":" in sandbox.addresses.remote_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"x", (sandbox.addresses.remote_ip, REMOTE_PORT))
        got = sandbox.read_outbound(1.0)
    left = []  # IP version, next protocol and first L4 byte of each frame still queued
    while poller.poll(0):
        ip = os.read(sandbox.tun_fd, 4096)[10:]  # after the virtio_net_hdr
        if ip[0] >> 4 == 6:
            left.append([6, ip[6], ip[40]])
        else:
            left.append([4, ip[9], ip[(ip[0] & 0xF) * 4]])
    return {"queued_before": queued_before, "seen_before": seen_before,
            "got": got is not None, "left": left}
