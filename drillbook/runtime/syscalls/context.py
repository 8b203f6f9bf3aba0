"""What a syscall handler works with: the run's shared resources and one call's scratch state.

``Runtime`` is shared by every call of a run (libc handles, the fd table, addresses, buffers that
must outlive zerocopy sends). ``CallContext`` belongs to one call, so the main thread and the
blocking-syscall thread never share scratch state. ``CallContext.end`` is packetdrill's
``end_syscall``: it checks the result (exactly, or only its sign for fd-returning calls) and
then the errno, with packetdrill's wording.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from errno import ENOENT
from typing import Any

from drillbook.config import RunConfig
from drillbook.engine.types import SocketEventKind
from drillbook.runtime.syscalls.args import Args, SyscallFailure, evaluate, get_s32, to_c_int
from drillbook.runtime.syscalls.fdtable import FdEntry, FdError, FdTable
from drillbook.runtime.syscalls.libc import CallResult, Libc
from drillbook.script.model import SyscallSpec
from drillbook.script.symbols import errno_message, lookup

CHECK_EXACT = "exact"
CHECK_FD = "fd"


@dataclass(frozen=True)
class SocketAddresses:
    """How ``...`` sockaddrs are filled in; given by the driver."""

    family: int  # AF_INET or AF_INET6: the domain of socket(..., ...)
    local_ip: str  # bind address ("192.168.0.1", "::ffff:192.168.0.1", "fd3d:...")
    remote_ip: str  # connect/sendto address (mapped form in ipv4-mapped-ipv6 mode)
    bind_port: int
    connect_port: int


@dataclass(frozen=True)
class SocketEvent:
    """A change the driver needs to track the socket under test."""

    kind: SocketEventKind
    script_fd: int
    live_fd: int
    sock_type: int = 0
    protocol: int = 0


@dataclass
class Runtime:
    """Resources shared by all calls of one run."""

    config: RunConfig
    addresses: SocketAddresses
    clock: Callable[[], int]
    libc: Libc = field(default_factory=Libc)
    fds: FdTable = field(default_factory=FdTable)
    on_event: Callable[[SocketEvent], None] | None = None
    # Hears a live fd just before close() closes it (the capture observer reads a socket's
    # cookie there if it has not yet: runtime/capture/observer.py).
    on_closing: Callable[[int], None] | None = None
    retained: list[object] = field(default_factory=list)  # zerocopy buffers (send_omit_free)
    lock: threading.Lock = field(default_factory=threading.Lock)
    main_thread: int = field(default_factory=threading.get_ident)
    _errnos: dict[int, int] = field(default_factory=dict)  # thread ident -> its errno
    _borrowed: dict[int, int] = field(default_factory=dict)  # thread -> whose errno it uses

    def _errno_slot(self) -> int:
        ident = threading.get_ident()
        return self._borrowed.get(ident, ident)

    def thread_errno(self) -> int:
        """The errno this thread's last call left (C's errno is per thread and sticky).

        On the C packetdrill's main thread errno is already ENOENT when the script starts (left
        by its start-up), and its blocking-syscall thread starts with 0: the corpus's expected
        messages show both ("with errno 2 (No such file or directory)" after a successful
        short write on the main thread, "with errno 0 (Success)" on the blocking thread).
        """
        slot = self._errno_slot()
        value = self._errnos.get(slot)
        if value is None:
            value = ENOENT if slot == self.main_thread else 0
        return value

    def set_thread_errno(self, value: int) -> None:
        self._errnos[self._errno_slot()] = value

    @contextmanager
    def errno_of(self, ident: int) -> Iterator[None]:
        """Let this thread's calls read and leave thread ``ident``'s errno meanwhile: a
        blocking call that cannot block runs at once on the calling thread, yet its errno
        stays the syscall thread's, as in packetdrill."""
        me = threading.get_ident()
        self._borrowed[me] = ident
        try:
            yield
        finally:
            del self._borrowed[me]

    def retain(self, *buffers: object) -> None:
        """Keep send buffers alive for the whole run when ``--send_omit_free`` is set."""
        if self.config.send_omit_free:
            with self.lock:
                self.retained.extend(buffers)


@dataclass
class CallContext:
    """One call: its spec and evaluated arguments, what the kernel returned, its events."""

    runtime: Runtime
    spec: SyscallSpec
    args: Args
    outcome: CallResult = CallResult(0, 0)
    events: list[SocketEvent] = field(default_factory=list)
    expected: int | None = None  # the script's result value, once evaluated

    def live(self, script_fd: int) -> int:
        try:
            return self.runtime.fds.to_live(script_fd)
        except FdError as error:
            raise SyscallFailure(str(error)) from None

    def entry(self, script_fd: int) -> FdEntry | None:
        return self.runtime.fds.get(script_fd)

    def add_fd(self, entry: FdEntry) -> None:
        try:
            self.runtime.fds.add(entry)
        except FdError as error:
            raise SyscallFailure(str(error)) from None

    def emit(self, event: SocketEvent) -> None:
        """Record an event and tell the driver at once (it may need it before a call returns)."""
        self.events.append(event)
        if self.runtime.on_event is not None:
            self.runtime.on_event(event)

    def call(self, function: Callable[..., int], *c_args: Any) -> int:
        """Make the C call and remember its result and errno."""
        self.outcome = self.runtime.libc.call(function, self.runtime.thread_errno(), *c_args)
        self.runtime.set_thread_errno(self.outcome.errno)
        return self.outcome.result

    def expected_result(self) -> int:
        if self.expected is None:
            self.expected = to_c_int(get_s32(evaluate(self.spec.result)))
        return self.expected

    def expected_errno(self) -> int:
        """The errno the script names after its result (0 if none, or an unknown name)."""
        if self.spec.errno is None:
            return 0
        return lookup(self.spec.errno) or 0

    def end(self, mode: str) -> int:
        """Check the result and errno against the script (packetdrill's end_syscall)."""
        actual, actual_errno = self.outcome.result, self.outcome.errno
        expected = self.expected_result()
        if mode == CHECK_FD and expected >= 0:
            if actual < 0:
                raise SyscallFailure(
                    f"Expected non-negative result but got {actual} "
                    f"with errno {actual_errno} ({errno_message(actual_errno)})"
                )
        elif actual != expected:
            raise SyscallFailure(
                f"Expected result {expected} but got {actual} "
                f"with errno {actual_errno} ({errno_message(actual_errno)})"
            )
        if self.spec.errno is not None:
            wanted = lookup(self.spec.errno)
            if wanted is None:
                raise SyscallFailure(f"unknown symbol: '{self.spec.errno}'")
            if actual_errno != wanted:
                raise SyscallFailure(
                    f"Expected errno {wanted} ({errno_message(wanted)}) "
                    f"but got {actual_errno} ({errno_message(actual_errno)})"
                )
        return actual


__all__ = [
    "CHECK_EXACT",
    "CHECK_FD",
    "CallContext",
    "Runtime",
    "SocketAddresses",
    "SocketEvent",
]
