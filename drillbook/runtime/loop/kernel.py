"""The real syscall host: the script's calls against the running kernel (the run loop's
:class:`~drillbook.runtime.loop.ports.SyscallHost`, over the syscall executor)."""

from __future__ import annotations

import ctypes
import socket
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from drillbook.config import RunConfig
from drillbook.engine.types import WireAddresses
from drillbook.runtime.loop.rehearsal import rehearse
from drillbook.runtime.syscalls.args import Args, SyscallFailure
from drillbook.runtime.syscalls.context import SocketAddresses, SocketEvent
from drillbook.runtime.syscalls.executor import SyscallExecutor, SyscallOutcome
from drillbook.runtime.syscalls.tcpinfo import SOL_TCP, TCP_INFO, TCP_INFO_SIZE, CodeRaw
from drillbook.script.model import Event, SyscallSpec


class _InfoBuffer(threading.local):
    """One reusable TCP_INFO buffer per thread: the blocking-call thread reads TCP_INFO while
    the main thread may be reading it too."""

    def __init__(self) -> None:
        self.buffer = ctypes.create_string_buffer(TCP_INFO_SIZE)
        self.length = ctypes.c_uint(TCP_INFO_SIZE)


class KernelSyscalls:
    """The script's syscalls made for real (see ``syscalls/executor.py``)."""

    def __init__(
        self, config: RunConfig, addresses: SocketAddresses, wire: WireAddresses,
        clock: Callable[[], int],
    ) -> None:
        self.config = config
        self.wire = wire
        self.executor = SyscallExecutor(config, addresses, clock)
        self._libc = self.executor.runtime.libc
        self._info = _InfoBuffer()

    def listen(self, on_event: Callable[[SocketEvent], None]) -> None:
        self.executor.runtime.on_event = on_event

    def execute(self, spec: SyscallSpec, script_time_us: int) -> SyscallOutcome:
        return self.executor.execute(spec, script_time_us)

    def evaluated_arguments(self, spec: SyscallSpec) -> Args | SyscallFailure:
        return self.executor.evaluated_arguments(spec)

    def live_fd(self, script_fd: int) -> int | None:
        return self.executor.live_fd(script_fd)

    def tcp_info_bytes(self, live_fd: int) -> bytes | None:
        info = self._info
        info.length.value = TCP_INFO_SIZE
        status = self._libc.getsockopt(
            live_fd, SOL_TCP, TCP_INFO, info.buffer, ctypes.byref(info.length)
        )
        return None if status != 0 else info.buffer.raw[: info.length.value]

    def code_snapshot(self, live_fd: int) -> CodeRaw:
        return self.executor.code_snapshot(live_fd)

    def entered_ns(self, thread_ident: int) -> int:
        return self._libc.entered_ns.get(thread_ident, 0)

    def watch_entering(self, thread_ident: int, entering: threading.Event) -> None:
        self._libc.entering[thread_ident] = entering

    def errno_of(self, thread_ident: int) -> AbstractContextManager[None]:
        return self.executor.runtime.errno_of(thread_ident)

    def rehearse(self, events: Iterable[Event]) -> None:
        rehearse(events, self.executor, self.config, self.wire)
        # One real call through the same C-call path, on a throwaway socket: the first one in
        # a fresh worker costs ~300 µs more than the next (measured on socket() at time 0).
        libc = self._libc
        family = self.executor.runtime.addresses.family
        fd = libc.call(libc.socket, 0, family, socket.SOCK_STREAM, 0).result
        if fd >= 0:
            libc.call(libc.close, 0, fd)
        self._libc.entered_ns.clear()

    def close_all(self) -> None:
        self.executor.close_all()
