"""The sandbox against the real kernel: tun0 set-up in all IP modes, a real handshake through
inject/read_outbound, kernel timestamps, read timeouts, the private /tmp."""

from __future__ import annotations

import os

import pytest
from kernel_support import missing_privilege
from test_worker_entries import KERNEL_DIR, make_request

from drillbook.config import IpMode
from drillbook.runtime.workers.client import run_in_worker

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]

UPSTREAM = {
    IpMode.IPV4: {"local_ip": "192.168.0.1", "gateway_ip": "192.168.0.1",
                  "remote_ip": "192.0.2.1"},
    IpMode.IPV4_MAPPED_IPV6: {"local_ip": "192.168.0.1", "gateway_ip": "192.168.0.1",
                              "remote_ip": "192.0.2.1"},
    IpMode.IPV6: {"mtu": 1520, "local_ip": "fd3d:0a0b:17d6::1",
                  "gateway_ip": "fd3d:0a0b:17d6:8888::1", "remote_ip": "fd3d:fa7b:d17d::1"},
}


@pytest.fixture(autouse=True)
def _entries_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", KERNEL_DIR)


@pytest.mark.parametrize("mode", list(IpMode))
def test_tun0_is_set_up_like_packetdrill(mode: IpMode) -> None:
    reply = run_in_worker(make_request("describe", ip_mode=mode, **UPSTREAM[mode]), 20)
    assert reply.ok, reply.error
    shell = reply.result["shell"] if reply.result else ""
    assert "tun type tun pi off vnet_hdr on" in shell
    assert "UP,LOWER_UP" in shell
    assert f"mtu {1520 if mode is IpMode.IPV6 else 1500} " in shell
    if mode is IpMode.IPV6:
        assert "inet6 fd3d:a0b:17d6::1/48 scope global nodad" in shell
        assert "fd3d:fa7b:d17d::1 via fd3d:a0b:17d6:8888::1 dev tun0" in shell
    else:
        assert "inet 192.168.0.1/16 scope global tun0" in shell
        assert "192.0.2.1 via 192.168.0.1 dev tun0" in shell
    pid = reply.result["pid"] if reply.result else 0
    assert f"PPID={pid} PDPID={pid}" in shell
    # /tmp is writable inside, but what a script writes there never reaches the host's /tmp.
    assert "TMP=probe" in shell
    assert not any(name.startswith("drillbook-probe-") for name in os.listdir("/tmp"))


def test_default_addresses_route_the_remote_prefix() -> None:
    reply = run_in_worker(make_request("describe"), 20)
    assert reply.result is not None
    addresses = reply.result["addresses"]
    assert addresses["remote_prefix_len"] == "24"
    assert "192.0.2.0/24 via 192.168.0.1 dev tun0" in reply.result["shell"]
    assert f"inet {addresses['local_ip']}/16 " in reply.result["shell"]


def test_anyip_has_no_address_and_no_gateway() -> None:
    reply = run_in_worker(make_request("describe", is_anyip=True, **UPSTREAM[IpMode.IPV4]), 20)
    assert reply.result is not None
    shell = reply.result["shell"]
    assert "inet 192.168.0.1" not in shell
    assert "192.0.2.1 dev tun0" in shell and "via" not in shell.split("192.0.2.1 dev")[1][:20]


@pytest.mark.parametrize("mode", list(IpMode))
def test_handshake_through_inject_and_read_outbound(mode: IpMode) -> None:
    reply = run_in_worker(make_request("handshake", ip_mode=mode, **UPSTREAM[mode]), 20)
    assert reply.ok, reply.error
    r = reply.result
    assert r is not None
    assert r["version"] == (6 if mode is IpMode.IPV6 else 4)
    assert (r["sport"], r["dport"], r["ack"], r["flags"]) == (8080, 40000, 1, 0x12)
    expected_peer = {IpMode.IPV4: "192.0.2.1", IpMode.IPV4_MAPPED_IPV6: "::ffff:192.0.2.1",
                     IpMode.IPV6: "fd3d:fa7b:d17d::1"}[mode]
    assert r["peer"] == [expected_peer, 40000]
    # The kernel stamps the SYN-ACK between our write and our read, in CLOCK_REALTIME.
    assert r["before_ns"] <= r["stamp_ns"] <= r["read_ns"]
    assert r["read_ns"] - r["stamp_ns"] < 50_000_000


def test_read_outbound_times_out() -> None:
    reply = run_in_worker(make_request("silence"), 20)
    assert reply.result is not None
    assert reply.result["got"] is False
    assert 0.19 <= reply.result["waited_s"] < 0.5


def test_remote_that_is_local_is_refused() -> None:
    from drillbook.errors import SandboxError

    with pytest.raises(SandboxError, match="live_remote_ip 127.0.0.1 is not remote"):
        run_in_worker(make_request("describe", remote_ip="127.0.0.1"), 20)


def test_shell_timeout_kills_the_group() -> None:
    reply = run_in_worker(make_request("shell_timeout"), 20)
    r = reply.result
    assert r is not None
    assert r["timed_out"] and r["returncode"] == -9
    assert r["output"] == "begun\n"
    assert 0.5 <= r["elapsed"] < 2.0
    assert r["survivors"] == []


ORACLE = {
    IpMode.IPV4: ([["192.168.0.1", 16, False]], [["192.0.2.1", 32, "192.168.0.1", 3, 0]]),
    IpMode.IPV4_MAPPED_IPV6: ([["192.168.0.1", 16, False]],
                              [["192.0.2.1", 32, "192.168.0.1", 3, 0]]),
    IpMode.IPV6: ([["fd3d:a0b:17d6::1", 48, True]],
                  [["fd3d:fa7b:d17d::1", 128, "fd3d:a0b:17d6:8888::1", 3, 0]]),
}


@pytest.mark.parametrize("mode", list(IpMode))
def test_pyroute2_reads_back_what_packetdrill_would_configure(mode: IpMode) -> None:
    reply = run_in_worker(make_request("inspect_with_pyroute2", ip_mode=mode, **UPSTREAM[mode]),
                          20)
    assert reply.result is not None, reply.error
    links = reply.result["links"]
    assert links["lo"]["up"] and links["tun0"]["up"]
    assert links["tun0"]["mtu"] == (1520 if mode is IpMode.IPV6 else 1500)
    assert (reply.result["addresses"], reply.result["routes"]) == ORACLE[mode]


def test_anyip_route_is_a_device_route_of_link_scope() -> None:
    reply = run_in_worker(make_request("inspect_with_pyroute2", is_anyip=True,
                                       **UPSTREAM[IpMode.IPV4]), 20)
    assert reply.result is not None, reply.error
    assert reply.result["addresses"] == []
    assert reply.result["routes"] == [["192.0.2.1", 32, None, 3, 253]]


def test_unreachable_gateway_names_the_failing_command() -> None:
    from drillbook.errors import SandboxError

    with pytest.raises(SandboxError, match=(
            r"error executing route command 'ip -4 route add 192.0.2.1/32 dev tun0 "
            r"via 10.9.9.9': Network is unreachable")):
        run_in_worker(make_request("describe", local_ip="192.168.0.1", gateway_ip="10.9.9.9",
                                   remote_ip="192.0.2.1"), 20)


def test_speed_flag_sets_the_link_speed() -> None:
    reply = run_in_worker(make_request("link_speed", speed=40), 20)
    assert reply.result == {"speed": 40, "autoneg": False}, reply.error
    assert reply.timings["sandbox_ready"] - reply.timings["child_start"] >= 2e9  # as netdev.c


def test_anyip_refuses_a_local_address_that_is_configured() -> None:
    from drillbook.errors import SandboxError

    with pytest.raises(SandboxError, match="live_local_ip 127.0.0.1 is not remote for anyip"):
        run_in_worker(make_request("describe", is_anyip=True, local_ip="127.0.0.1"), 20)


@pytest.mark.parametrize("mode", [IpMode.IPV4, IpMode.IPV6])
def test_gso_injection_delivers_one_super_packet(mode: IpMode) -> None:
    reply = run_in_worker(make_request("handshake", ip_mode=mode, extra=(("gso", "1"),),
                                       **UPSTREAM[mode]), 20)
    assert reply.result == {"received_ok": True, "acked": 3001}, reply.error


@pytest.mark.parametrize("mode", list(IpMode))
def test_the_tun_queue_holds_the_router_solicitation_as_packetdrills_does(mode: IpMode) -> None:
    """tun0's router solicitation is queued before the packet socket opens, so the socket
    never sees it, and the drain (one TUN frame per packet read) frees the frame before the
    one just read, as packetdrill's does (tun.py, _await_router_solicitation)."""
    reply = run_in_worker(make_request("tun_queue", ip_mode=mode, **UPSTREAM[mode]), 20)
    assert reply.ok, reply.error
    result = reply.result or {}
    assert result["queued_before"] is True
    assert result["seen_before"] is False
    assert result["got"] is True
    # The datagram just read is still queued, alone: its drain took the solicitation.
    assert [frame[:2] for frame in result["left"]] == [[6 if mode is IpMode.IPV6 else 4, 17]]
