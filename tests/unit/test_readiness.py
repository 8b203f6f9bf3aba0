"""A `...` receive call runs at once when poll(2) says it cannot block
(runtime/syscalls/readiness.py), checked on a real socketpair."""

from __future__ import annotations

import select
import socket

from drillbook.runtime.syscalls.args import Args
from drillbook.runtime.syscalls.readiness import returns_at_once
from drillbook.script.model import EllipsisExpr, IntExpr

ELL = EllipsisExpr()


def _args(*items: int | None) -> Args:
    return Args(tuple(ELL if item is None else IntExpr(item) for item in items))


def test_a_receive_call_returns_at_once_only_when_data_is_queued() -> None:
    left, right = socket.socketpair()
    with left, right:
        fds = {3: left.fileno()}
        read = _args(3, None, 10)
        assert not returns_at_once("read", read, fds.get)
        right.send(b"x" * 10)
        assert returns_at_once("read", read, fds.get)
        assert returns_at_once("recv", _args(3, None, 10, 0), fds.get)
        assert returns_at_once("recvmsg", _args(3, None, 0), fds.get)


def test_waitall_writes_and_unknown_fds_always_take_the_thread() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.send(b"x" * 10)
        fds = {3: left.fileno()}
        assert not returns_at_once("recv", _args(3, None, 100, socket.MSG_WAITALL), fds.get)
        assert not returns_at_once("write", _args(3, None, 10), fds.get)
        assert not returns_at_once("read", _args(4, None, 10), fds.get)


def test_a_closed_peer_makes_a_read_return_at_once() -> None:
    left, right = socket.socketpair()
    with left:
        right.close()
        assert returns_at_once("read", _args(3, None, 10), {3: left.fileno()}.get)


def test_a_timestamp_on_the_error_queue_does_not_make_a_read_return_at_once() -> None:
    # SO_TIMESTAMPING puts a TX timestamp on the sender's error queue: poll says POLLERR,
    # but there is nothing to read, so a blocking read would block.
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as client:
        server, _ = listener.accept()
        with server:
            so_timestamping, tx_software, software, opt_tsonly = 37, 1 << 1, 1 << 4, 1 << 11
            client.setsockopt(socket.SOL_SOCKET, so_timestamping,
                              tx_software | software | opt_tsonly)
            client.send(b"x" * 10)
            server.recv(10)
            poller = select.poll()
            poller.register(client.fileno(), select.POLLIN)
            assert poller.poll(1000)  # the timestamp arrived: POLLERR
            assert not returns_at_once("read", _args(3, None, 10), {3: client.fileno()}.get)
