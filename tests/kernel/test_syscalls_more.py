"""poll/epoll, files and pipes, msghdr calls, MSG_ERRQUEUE zerocopy notifications, TCP_INFO."""

from __future__ import annotations

import os
import tempfile
import threading
import time

import pytest
from test_syscalls_netns import call, in_netns, loopback_executor, needs_netns, run_all
from test_syscalls_netns import server_client_pair as pair

from drillbook.config import IpMode, RunConfig
from drillbook.runtime.syscalls.executor import SyscallExecutor
from drillbook.runtime.syscalls.misc import poll_flags_to_string

pytestmark = [pytest.mark.kernel, needs_netns]


def test_poll_revents_and_wording() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("poll", [{"fd": 4, "events": "POLLIN|POLLOUT", "revents": "POLLOUT"}], 1, 0,
                 result=1),
            call("write", 4, ..., 10, result=10),
            call("poll", [{"fd": 5, "events": "POLLIN", "revents": "POLLIN"},
                          {"fd": 4, "events": "POLLIN"}], 2, 100, result=1),
            call("poll", [{"fd": 5, "events": "POLLIN|POLLOUT", "revents": "POLLIN"}], 1, 0,
                 result=1),
            call("poll", [{"fd": 5, "events": "POLLIN"}], 2, 0, result=1),
        )

    errors = in_netns(scenario)
    assert errors[:3] == [None, None, None]
    assert errors[3] == (
        "runtime error in poll call: Expected revents of POLLIN but got POLLIN|POLLOUT "
        "for pollfd 0"
    )
    assert errors[4] == (
        "runtime error in poll call: nfds 2 does not match 1-element pollfd array"
    )


def test_poll_flag_names() -> None:
    assert poll_flags_to_string(0) == ""
    assert poll_flags_to_string(0x1 | 0x4 | 0x8) == "POLLIN|POLLOUT|POLLERR"
    assert poll_flags_to_string(0x800) == "???"


def test_epoll_create_ctl_wait() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("epoll_create", 1, result=6),
            call("epoll_ctl", 6, "EPOLL_CTL_ADD", 5, {"events": "EPOLLIN", "fd": 5}),
            call("epoll_wait", 6, {"events": 0, "ptr": 0}, 1, 0, result=0),
            call("write", 4, ..., 100, result=100),
            call("epoll_wait", 6, {"events": "EPOLLIN", "fd": 5}, 5, 100, result=1),
            call("epoll_wait", 6, {"events": "EPOLLIN|EPOLLOUT", "fd": 5}, 5, 0, result=1),
            call("epoll_ctl", 6, "EPOLL_CTL_MOD", 5, {"events": "EPOLLOUT", "fd": 4}),
            call("epoll_ctl", 6, "EPOLL_CTL_MOD", 5, {"events": "EPOLLIN", "u64": 77}),
            call("epoll_wait", 6, {"events": "EPOLLIN", "u64": 78}, 1, 0, result=1),
        )

    errors = in_netns(scenario)
    assert errors[:5] == [None] * 5
    assert errors[5] == (
        "runtime error in epoll_wait call: epoll_event->events does not match script: "
        "expected: 0x5 actual: 0x1"
    )
    assert errors[6] == "runtime error in epoll_ctl call: wrong fd specified in epoll_event"
    assert errors[7] is None
    assert errors[8] == (
        "runtime error in epoll_wait call: epoll_event->data does not match script: "
        "expected: 78 actual: 77"
    )


def test_open_pipe_splice_sendfile() -> None:
    def scenario() -> list[str | None]:
        with tempfile.NamedTemporaryFile(delete=False) as data:
            data.write(b"x" * 5000)
        try:
            executor = loopback_executor()
            pair(executor)
            return run_all(
                executor,
                call("open", data.name.encode(), "O_RDONLY", result=7),
                call("sendfile", 4, 7, [0], 4000, result=4000),
                call("read", 5, ..., 10000, result=4000),
                call("pipe", [8, 9]),
                call("write", 4, ..., 1500, result=1500),
                call("splice", 5, "NULL", 9, "NULL", 1500, "SPLICE_F_NONBLOCK", result=1500),
                call("read", 8, ..., 5000, result=1500),
                call("open", b"/nonexistent/file", "O_RDONLY", result=-1, errno="ENOENT",
                     note="No such file"),
                call("pipe", [1, 2, 3]),
                call("open", 3, "O_RDONLY", result=10),
            )
        finally:
            os.unlink(data.name)

    errors = in_netns(scenario)
    assert errors[:8] == [None] * 8
    assert errors[8] == "runtime error in pipe call: 3 pipe file descriptors instead of 2"
    assert errors[9] == "runtime error in open call: Bad type; actual: integer expected: string"


def test_send_recv_sendto_recvfrom_readv_writev() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("send", 4, ..., 100, 0, result=100),
            call("recv", 5, ..., 1000, "MSG_PEEK", result=100),
            call("recvfrom", 5, ..., 1000, 0, ..., ..., result=100),
            call("sendto", 4, ..., 50, 0, ..., ..., result=50),
            call("writev", 4, [(..., 10), (..., 20)], 2, result=30),
            call("readv", 5, [(..., 60), (..., 60)], 2, result=80),
            call("writev", 4, [(..., 10)], 2),
        )

    errors = in_netns(scenario)
    assert errors[:6] == [None] * 6
    assert errors[6] == (
        "runtime error in writev call: iov_count 2 does not match 1-element iovec array"
    )


def test_sendmsg_recvmsg_with_inq_cmsg() -> None:
    msg = {"msg_name(...)": ..., "msg_iov(1)": [(..., 1000)], "msg_flags": 0}

    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("setsockopt", 5, "SOL_TCP", "TCP_INQ", [1], 4),
            call("sendmsg", 4, msg, 0, result=1000),
            call("recvmsg", 5, {**msg, "msg_iov(1)": [(..., 600)], "msg_control": [
                {"cmsg_level": "SOL_TCP", "cmsg_type": "TCP_CM_INQ", "cmsg_data": 400}]},
                0, result=600),
            call("recvmsg", 5, {**msg, "msg_control": [
                {"cmsg_level": "SOL_TCP", "cmsg_type": "TCP_CM_INQ", "cmsg_data": 0}]},
                0, result=400),
            call("sendmsg", 4, {**msg, "msg_flags": 1}, 0, result=1000),
            call("sendmsg", 4, msg, 0, result=1000),
            call("recvmsg", 5, {**msg, "msg_flags": "MSG_EOR"}, 0, result=1000),
            call("sendmsg", 4, msg, 0, result=1000),
            call("recvmsg", 5, msg, 0, result=1000),
        )

    errors = in_netns(scenario)
    assert errors[:4] == [None] * 4
    assert errors[4] == "runtime error in sendmsg call: sendmsg ignores msg_flags field in msghdr"
    assert errors[5] is None
    # TCP_INQ is on, but the script gave no room for the cmsg: the kernel says MSG_CTRUNC.
    assert errors[6] == (
        "runtime error in recvmsg call: Expected msg_flags 0x00000080 but got 0x00000008"
    )
    assert errors[7] is None
    assert errors[8] == (
        "runtime error in recvmsg call: Expected msg_flags 0x00000000 but got 0x00000008"
    )


@pytest.mark.parametrize(("mode", "level", "kind"), [
    (IpMode.IPV4, "SOL_IP", "IP_RECVERR"),
    (IpMode.IPV6, "SOL_IPV6", "IPV6_RECVERR"),
    (IpMode.IPV4_MAPPED_IPV6, "SOL_IPV6", "IPV6_RECVERR"),
])
def test_zerocopy_errqueue_notification(mode: IpMode, level: str, kind: str) -> None:
    def recverr(level: str, kind: str, info: int, data: int, code: str) -> dict[str, object]:
        return {
            "msg_name(...)": ..., "msg_iov(1)": [(..., 0)], "msg_flags": "MSG_ERRQUEUE",
            "msg_control": [{"cmsg_level": level, "cmsg_type": kind, "cmsg_data": {
                "ee_errno": 0, "ee_origin": "SO_EE_ORIGIN_ZEROCOPY", "ee_type": 0,
                "ee_code": code, "ee_info": info, "ee_data": data}}],
        }

    def scenario() -> list[str | None]:
        executor = loopback_executor(mode, send_omit_free=True)
        pair(executor)
        errors = run_all(
            executor,
            call("setsockopt", 4, "SOL_SOCKET", "SO_ZEROCOPY", [1], 4),
            call("send", 4, ..., 4000, "MSG_ZEROCOPY", result=4000),
            call("send", 4, ..., 4000, "MSG_ZEROCOPY", result=4000),
            call("read", 5, ..., 10000, result=8000),
        )
        time.sleep(0.05)
        # Over loopback the kernel copies (SO_EE_CODE_ZEROCOPY_COPIED); both sends in one
        # notification: ee_info 0 .. ee_data 1.
        errors += run_all(
            executor,
            call("recvmsg", 4, recverr(level, kind, 0, 1, "SO_EE_CODE_ZEROCOPY_COPIED"),
                 "MSG_ERRQUEUE", result=0),
            call("send", 4, ..., 100, "MSG_ZEROCOPY", result=100),
            call("read", 5, ..., 10000, result=100),
        )
        time.sleep(0.05)
        errors += run_all(
            executor,
            call("recvmsg", 4, recverr(level, kind, 2, 3, "SO_EE_CODE_ZEROCOPY_COPIED"),
                 "MSG_ERRQUEUE", result=0),
        )
        assert len(executor.runtime.retained) == 3  # zerocopy buffers are never freed
        return errors

    errors = in_netns(scenario)
    assert errors[:7] == [None] * 7
    assert errors[7] == (
        "runtime error in recvmsg call: Bad data in extended err 0: expected=3 actual=2"
    )


def test_tcp_info_decoding() -> None:
    def scenario() -> tuple[dict[str, int] | None, dict[str, int] | None, dict[str, int]]:
        executor = loopback_executor()
        pair(executor)
        live = executor.live_fd(5)
        listener = executor.live_fd(3)
        assert live is not None and listener is not None
        snapshot = executor.code_snapshot(live).values()
        return executor.tcp_info(live), executor.tcp_info(listener), snapshot

    info, listen_info, snapshot = in_netns(scenario)
    assert info is not None and listen_info is not None
    assert info["tcpi_state"] == 1  # TCP_ESTABLISHED
    assert listen_info["tcpi_state"] == 10  # TCP_LISTEN
    assert info["tcpi_snd_mss"] > 1000 and info["tcpi_advmss"] > 1000
    assert info["tcpi_snd_cwnd"] >= 10
    assert info["tcpi_options"] & 2  # SACK negotiated over loopback
    assert info["tcpi_rcv_wscale"] > 0
    assert "tcpi_received_ce_bytes" in info
    assert snapshot["tcpi_state"] == 1 and snapshot["SK_MEMINFO_RCVBUF"] > 0
    assert "tcpi_fastopen_client_fail" not in snapshot  # packetdrill does not emit it


def test_blocking_accept_from_another_thread() -> None:
    def scenario() -> tuple[list[str | None], float]:
        executor = loopback_executor()
        errors = run_all(
            executor,
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=3),
            call("bind", 3, ..., ...),
            call("listen", 3, 1),
        )
        outcome: list[str | None] = []
        started = time.monotonic()
        worker = threading.Thread(target=lambda: outcome.append(
            executor.execute(call("accept", 3, ..., ..., result=4, end_us=50000), 0).error))
        worker.start()
        time.sleep(0.05)
        errors += run_all(
            executor,
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=5),
            call("connect", 5, ..., ...),
        )
        worker.join(5)
        return errors + outcome, time.monotonic() - started

    errors, elapsed = in_netns(scenario)
    assert errors == [None] * 6
    assert 0.04 < elapsed < 2


def test_sticky_errno_like_c() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        first = run_all(executor, call("fcntl", 4, "F_GETFL", result=0))
        thread_errors: list[str | None] = []
        worker = threading.Thread(target=lambda: thread_errors.extend(
            run_all(executor, call("fcntl", 4, "F_GETFL", result=0))))
        worker.start()
        worker.join()
        later = run_all(
            executor,
            call("fcntl", 4, "F_SETFL", "O_RDWR|O_NONBLOCK"),
            call("read", 4, ..., 10, result=-1, errno="EAGAIN", note="x"),
            call("fcntl", 4, "F_GETFL", result=0),
        )
        return first + thread_errors + later

    errors = in_netns(scenario)
    assert errors[0] == (
        "runtime error in fcntl call: Expected result 0 but got 2 with errno 2 "
        "(No such file or directory)"
    )
    assert errors[1] == (
        "runtime error in fcntl call: Expected result 0 but got 2 with errno 0 (Success)"
    )
    assert errors[4] == (
        "runtime error in fcntl call: Expected result 0 but got 2050 with errno 11 "
        "(Resource temporarily unavailable)"
    )


def test_scm_timestamping_within_tolerance() -> None:
    def errqueue(ns: int, info: str) -> dict[str, object]:
        return {
            "msg_name(...)": ..., "msg_iov(1)": [(..., 0)],
            "msg_flags": "MSG_ERRQUEUE|MSG_TRUNC",
            "msg_control": [
                {"cmsg_level": "SOL_SOCKET", "cmsg_type": "SCM_TIMESTAMPING",
                 "cmsg_data": {"scm_sec": 0, "scm_nsec": ns}},
                {"cmsg_level": "SOL_IP", "cmsg_type": "IP_RECVERR", "cmsg_data": {
                    "ee_errno": "ENOMSG", "ee_origin": "SO_EE_ORIGIN_TIMESTAMPING",
                    "ee_type": 0, "ee_code": 0, "ee_info": info, "ee_data": 999}},
            ],
        }

    def scenario() -> list[str | None]:
        start = time.monotonic_ns() // 1000
        executor = SyscallExecutor(
            RunConfig(tolerance_usecs=10000), loopback_executor().runtime.addresses,
            lambda: time.monotonic_ns() // 1000 - start,
        )
        pair(executor)
        errors = run_all(executor, call(
            "setsockopt", 4, "SOL_SOCKET", "SO_TIMESTAMPING",
            ["SOF_TIMESTAMPING_TX_SCHED|SOF_TIMESTAMPING_TX_SOFTWARE|"
             "SOF_TIMESTAMPING_SOFTWARE|SOF_TIMESTAMPING_OPT_ID"], 4))
        time.sleep(0.05)
        written_us = executor.runtime.clock()
        errors += run_all(executor, call("write", 4, ..., 1000, result=1000))
        time.sleep(0.02)
        return errors + run_all(
            executor,
            call("recvmsg", 4, errqueue(written_us * 1000, "SCM_TSTAMP_SCHED"), "MSG_ERRQUEUE"),
            # The SND stamp came at the same time, not 100 ms later.
            call("recvmsg", 4, errqueue((written_us + 100_000) * 1000, "SCM_TSTAMP_SND"),
                 "MSG_ERRQUEUE"),
        )

    errors = in_netns(scenario)
    assert errors[:3] == [None, None, None]
    assert errors[3] is not None
    assert errors[3].startswith(
        "runtime error in recvmsg call: Bad timestamp 0 in scm_timestamping 0: expected=")


def test_sendto_msg_fastopen_is_an_implicit_connect() -> None:
    def scenario() -> tuple[list[str | None], list[str]]:
        executor = loopback_executor()
        errors = run_all(
            executor,
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=3),
            call("setsockopt", 3, "SOL_SOCKET", "SO_REUSEADDR", [1], 4),
            call("bind", 3, ..., ...),
            call("listen", 3, 1),
            call("setsockopt", 3, "SOL_TCP", "TCP_FASTOPEN", [1], 4),
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=4),
        )
        outcome = executor.execute(call("sendto", 4, ..., 1000, "MSG_FASTOPEN", ..., ...,
                                        result=1000), 0)
        errors += [outcome.error]
        errors += run_all(
            executor,
            call("accept", 3, ..., ..., result=5),
            call("read", 5, ..., 5000, result=1000),
            call("sendto", 4, ..., 10, 0, "AF_INET", ..., result=10),
        )
        return errors, [e.kind.value for e in outcome.events]

    errors, kinds = in_netns(scenario)
    assert errors == [None] * 10
    assert kinds == ["connect"]


def test_cap_set_drops_and_raises_a_capability() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("cap_set", "CAP_EFFECTIVE", "CAP_NET_RAW", "CAP_CLEAR"),
            call("socket", "AF_INET", "SOCK_RAW", "IPPROTO_RAW", result=-1, errno="EPERM",
                 note="Operation not permitted"),
            call("cap_set", "CAP_EFFECTIVE", "CAP_NET_RAW", "CAP_SET"),
            call("socket", "AF_INET", "SOCK_RAW", "IPPROTO_RAW", result=9),
        )

    assert in_netns(scenario) == [None] * 4


def test_psp_is_refused_outside_wire_mode() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(executor, call("psp_rx_assoc", 4, [23]), call("psp_tx_assoc", 4, 23))

    errors = in_netns(scenario)
    assert errors[0] is not None and errors[0].startswith(
        "runtime error in psp_rx_assoc call: PSP not initialized: psp_rx_assoc needs")
    assert errors[1] is not None and "wire mode" in errors[1]
