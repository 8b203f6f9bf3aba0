"""The capture observer's work in the worker: nothing but a version check on a step; the
sockets' cookies are read at idle moments, before a close, and at the script's end."""

from __future__ import annotations

import socket

import pytest

from drillbook.runtime.capture import observer as observer_module
from drillbook.runtime.capture.observer import RunObserver
from drillbook.runtime.syscalls.fdtable import FdEntry, FdTable


def test_cookies_are_read_off_the_steps_and_every_socket_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[int] = []
    real = observer_module.socket_cookie

    def counted(live_fd: int) -> int:
        reads.append(live_fd)
        return real(live_fd)

    monkeypatch.setattr(observer_module, "socket_cookie", counted)
    table = FdTable()
    observer = RunObserver("", table.entries, lambda: table.version, table.opened_version)
    first, second = socket.socket(), socket.socket()
    table.add(FdEntry(3, first.fileno(), "socket"))
    observer.after_step(0, 10, 0)
    observer.idle(0, 100, 150)  # the next event is too close: not now
    assert reads == []
    observer.idle(0, 100, 1000)
    assert reads == [first.fileno()]
    # Opened and closed with no idle moment between: read just before the close.
    table.add(FdEntry(4, second.fileno(), "socket"))
    observer.after_step(1, 11, 200)
    number = second.fileno()
    observer.before_close(number)
    second.close()
    table.close(4, number)
    observer.after_step(2, 12, 300)
    # The next socket may get the same fd number: it is another socket.
    third = socket.socket()
    table.add(FdEntry(5, third.fileno(), "socket"))
    observer.after_step(3, 13, 400)
    for _ in range(100):
        observer.after_step(4, 14, 500)  # no fd changed: nothing to note
    assert len(reads) == 2
    observer.script_done(600)
    sockets = observer.evidence().sockets
    assert [(s.line, s.script_fd, s.closed_after_step) for s in sockets] == [
        (10, 3, None), (11, 4, 2), (13, 5, None)]
    assert len({s.cookie for s in sockets}) == 3 and all(s.cookie for s in sockets)
    first.close()
    third.close()
