"""The syscall executor against the real kernel, over loopback in a fresh network namespace."""

from __future__ import annotations

import socket

import pytest
from test_syscalls_netns import call, in_netns, loopback_executor, needs_netns, run_all
from test_syscalls_netns import server_client_pair as pair

from drillbook.config import IpMode

pytestmark = [pytest.mark.kernel, needs_netns]


def test_connect_accept_write_read_close() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        events = executor.execute(call("close", 5), 0).events
        assert [e.kind.value for e in events] == ["close"]
        return run_all(
            executor,
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=6),
            call("connect", 6, ..., ...),
            call("accept", 3, ..., ..., result=7),
            call("write", 6, ..., 1000, result=1000),
            call("read", 7, ..., 2000, result=1000),
            call("close", 6),
            call("read", 7, ..., 10, result=0),
        )

    assert in_netns(scenario) == [None] * 7


@pytest.mark.parametrize("mode", [IpMode.IPV4, IpMode.IPV6, IpMode.IPV4_MAPPED_IPV6])
def test_every_ip_mode_connects(mode: IpMode) -> None:
    def scenario() -> tuple[int | None, list[str]]:
        executor = loopback_executor(mode)
        pair(executor)
        live = executor.live_fd(5)
        assert live is not None
        family = socket.socket(fileno=live)
        try:
            events = executor.execute(call("close", 4), 0).events
            return family.family, [e.kind.value for e in events]
        finally:
            family.detach()

    family, kinds = in_netns(scenario)
    assert family == (socket.AF_INET if mode is IpMode.IPV4 else socket.AF_INET6)
    assert kinds == ["close"]


def test_events_and_fd_labels() -> None:
    def scenario() -> list[tuple[str, int]]:
        executor = loopback_executor()
        seen = []
        for spec in (
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=3),
            call("bind", 3, ..., ...),
            call("listen", 3, 1),
            call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=40),
            call("connect", 40, ..., ...),
            call("accept", 3, ..., ..., result=941),
        ):
            outcome = executor.execute(spec, 0)
            assert outcome.error is None, outcome.error
            seen += [(e.kind.value, e.script_fd) for e in outcome.events]
        # A label far above any fd the process has open: the live fd is never equal to it.
        assert executor.live_fd(941) not in (None, 941)
        return seen

    assert in_netns(scenario) == [
        ("socket", 3), ("listen", 3), ("socket", 40), ("connect", 40), ("accept", 941),
    ]


def test_result_mismatch_wording() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("fcntl", 4, "F_SETFL", "O_RDWR|O_NONBLOCK"),
            call("read", 4, ..., 10, result=10),
            call("socket", ..., "SOCK_STREAM", 99, result=6),
            call("socket", ..., "SOCK_STREAM", 99, result=-99),
        )

    errors = in_netns(scenario)
    assert errors[0] is None
    assert errors[1] == (
        "runtime error in read call: Expected result 10 but got -1 with errno 11 "
        "(Resource temporarily unavailable)"
    )
    assert errors[2] == (
        "runtime error in socket call: Expected non-negative result but got -1 with errno 93 "
        "(Protocol not supported)"
    )
    assert errors[3] == (
        "runtime error in socket call: Expected result -99 but got -1 with errno 93 "
        "(Protocol not supported)"
    )


def test_errno_checks() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("fcntl", 4, "F_SETFL", "O_RDWR|O_NONBLOCK"),
            call("read", 4, ..., 10, result=-1, errno="EAGAIN", note="Resource"),
            call("read", 4, ..., 10, result=-1, errno="EPIPE", note="Broken pipe"),
            call("read", 4, ..., 10, result=-1, note="no errno check"),
            call("read", 4, ..., 10, result=-1, errno="ENOTATHING", note="x"),
            call("write", 4, "NULL", 1000, result=-1, errno="EFAULT", note="Bad address"),
            call("read", 4, 1, 1000, result=-1),
        )

    errors = in_netns(scenario)
    assert errors[:2] == [None, None]
    assert errors[2] == (
        "runtime error in read call: Expected errno 32 (Broken pipe) but got 11 "
        "(Resource temporarily unavailable)"
    )
    assert errors[3] is None
    assert errors[4] == "runtime error in read call: unknown symbol: 'ENOTATHING'"
    assert errors[5] is None
    assert errors[6] == "runtime error in read call: Expected ... or NULL for buffer"


def test_script_errors_before_the_call() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        return run_all(
            executor,
            call("frobnicate", 3),
            call("socket", ..., "SOCK_STREAM", "IPPROTO_NOPE", result=3),
            call("close", 42),
            call("listen", 3),
            call("socket", ..., "SOCK_STREAM", b"tcp", result=3),
        )

    assert in_netns(scenario) == [
        "runtime error in frobnicate call: Unknown system call: 'frobnicate'",
        "runtime error in socket call: unknown symbol: 'IPPROTO_NOPE'",
        "runtime error in close call: unable to find fd with script fd 42",
        "runtime error in listen call: Expected 2 args but got 1",
        "runtime error in socket call: Bad type; actual: string expected: integer",
    ]


def test_sockopts_int_and_optlen() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("setsockopt", 4, "SOL_TCP", "TCP_NOTSENT_LOWAT", [12345], 4),
            call("getsockopt", 4, "SOL_TCP", "TCP_NOTSENT_LOWAT", [12345], [4]),
            call("getsockopt", 4, "SOL_TCP", "TCP_NOTSENT_LOWAT", [1], [4]),
            call("getsockopt", 4, "SOL_SOCKET", "SO_ERROR", [0], [8]),
            call("getsockopt", 4, "SOL_SOCKET", "SO_ERROR", [0], [4]),
            call("setsockopt", 4, "SOL_SOCKET", "SO_LINGER", {"onoff": 1, "linger": 0}, 8),
            call("setsockopt", 4, "SOL_TCP", "TCP_CONGESTION", b"reno", 4),
            call("getsockopt", 4, "SOL_TCP", "TCP_CONGESTION", b"reno", [4]),
            call("setsockopt", 4, "SOL_TCP", "TCP_NODELAY", ..., 4),
        )

    errors = in_netns(scenario)
    assert errors[0] is None and errors[1] is None
    assert errors[2] == (
        "runtime error in getsockopt call: Bad getsockopt optval: expected: 1 actual: 12345"
    )
    assert errors[3] == (
        "runtime error in getsockopt call: Bad getsockopt optlen: expected: 8 actual: 4"
    )
    assert errors[4:8] == [None, None, None, None]
    assert errors[8] == (
        "runtime error in setsockopt call: unsupported setsockopt value type: ellipsis"
    )


def test_connect_af_unspec_disconnects() -> None:
    def scenario() -> tuple[list[str | None], list[str]]:
        executor = loopback_executor()
        pair(executor)
        outcome = executor.execute(call("connect", 4, "AF_UNSPEC", ...), 0)
        # tcp_disconnect() aborts the connection: the socket reports ECONNRESET once, and can
        # then connect again.
        errors = run_all(
            executor,
            call("getsockopt", 4, "SOL_SOCKET", "SO_ERROR", ["ECONNRESET"], [4]),
            call("connect", 4, ..., ...),
        )
        return [outcome.error, *errors], [e.kind.value for e in outcome.events]

    errors, kinds = in_netns(scenario)
    assert errors == [None, None, None]
    assert kinds == ["disconnect"]


def test_shutdown_and_ioctl_inq() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("write", 4, ..., 300, result=300),
            call("ioctl", 5, "SIOCINQ", [300]),
            call("ioctl", 5, "FIONREAD", [1]),
            call("shutdown", 4, "SHUT_WR"),
            call("read", 5, ..., 1000, result=300),
            call("read", 5, ..., 1000, result=0),
            call("ioctl", 5, "SIOCINQ", [1], 7),
        )

    errors = in_netns(scenario)
    assert errors[0] is None and errors[1] is None
    assert errors[2] == "runtime error in ioctl call: Bad ioctl optval: expected: 1 actual: 300"
    assert errors[3:6] == [None, None, None]
    assert errors[6] == "runtime error in ioctl call: ioctl expected 2-3 args but got 4"


def test_close_all_closes_live_fds() -> None:
    def scenario() -> tuple[int | None, bool]:
        executor = loopback_executor()
        pair(executor)
        live = executor.live_fd(5)
        executor.close_all()
        try:
            socket.socket(fileno=live).detach() if live is not None else None
            still_open = True
        except OSError:
            still_open = False
        return executor.live_fd(5), still_open

    assert in_netns(scenario) == (None, False)


def test_negative_counts_never_overrun_a_buffer() -> None:
    def scenario() -> list[str | None]:
        executor = loopback_executor()
        pair(executor)
        return run_all(
            executor,
            call("write", 4, ..., 100, result=100),
            call("read", 5, ..., -1, result=-1, errno="EFAULT", note="Bad address"),
            call("readv", 5, [(..., -5)], 1, result=-1, errno="EINVAL", note="Invalid"),
            call("read", 5, ..., 1000, result=100),
        )

    assert in_netns(scenario) == [None] * 4
