"""The syscall executor: runs one script syscall against the kernel and checks it.

Theory of operation. packetdrill handles a syscall event in three steps
(``invoke_system_call`` in run_system_call.c), and so does ``SyscallExecutor.execute``:

1. find the handler by name (``Unknown system call: 'x'``);
2. evaluate the arguments: symbols to numbers, ``A|B`` to one number (``unknown symbol: 'X'``);
   drillbook caches this per spec, since symbols are constants;
3. run the handler: it reads its arguments in packetdrill's order with packetdrill's checks,
   makes the C call through ctypes, then checks the result (``CallContext.end``: fd-returning
   calls with a non-negative expected value only need a non-negative result, which the script
   value then names; everything else matches exactly), then the errno if the script names one,
   then anything the call filled in (getsockopt values, recvmsg cmsgs, poll revents...).

Any failure becomes ``runtime error in <name> call: <message>``, packetdrill's wording; the
driver prefixes ``path:line: ``. Calls may run on the driver's blocking-syscall thread while the
main thread runs others: per-call state lives in a CallContext and the fd table is locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drillbook.config import RunConfig
from drillbook.runtime.syscalls.args import Args, SyscallFailure, evaluate
from drillbook.runtime.syscalls.context import (
    CallContext,
    Runtime,
    SocketAddresses,
    SocketEvent,
)
from drillbook.runtime.syscalls.fdtable import FdEntry, FdError
from drillbook.runtime.syscalls.io import HANDLERS as IO_HANDLERS
from drillbook.runtime.syscalls.misc import HANDLERS as MISC_HANDLERS
from drillbook.runtime.syscalls.sockets import HANDLERS as SOCKET_HANDLERS
from drillbook.runtime.syscalls.tcpinfo import CodeRaw, read_code_raw, read_tcp_info
from drillbook.script.model import SyscallSpec

Handler = Callable[[CallContext], None]

SYSCALL_HANDLERS: dict[str, Handler] = {**SOCKET_HANDLERS, **IO_HANDLERS, **MISC_HANDLERS}
"""The 32 syscalls packetdrill knows, name -> handler."""


@dataclass(frozen=True)
class SyscallOutcome:
    """What one call did: its result and errno, and the error if it did not match the script."""

    result: int
    errno: int
    error: str | None  # packetdrill-worded failure, None if the call matched the script
    events: tuple[SocketEvent, ...] = ()
    returned_ns: int = 0  # when the (last) C call returned, wall-clock ns; 0 if none was made


class SyscallExecutor:
    """Runs script syscalls against the kernel for one run."""

    def __init__(
        self,
        config: RunConfig,
        addresses: SocketAddresses,
        clock: Callable[[], int],
        on_event: Callable[[SocketEvent], None] | None = None,
        context: type[CallContext] = CallContext,
    ) -> None:
        """``clock()`` gives the current script time in µs (for timestamp tolerances).

        ``on_event`` (optional) hears each SocketEvent as soon as it happens, before a
        blocking call returns (a blocking connect's SYN goes out while the call still waits).
        ``context`` makes the C calls (drillbook.testing's fake kernel replaces it).
        """
        self._runtime = Runtime(config, addresses, clock, on_event=on_event)
        self._context = context
        self._cache: dict[int, tuple[SyscallSpec, Args | SyscallFailure]] = {}

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    def execute(self, spec: SyscallSpec, script_time_us: int) -> SyscallOutcome:
        """Run ``spec`` now; ``script_time_us`` is its scheduled script time (for messages)."""
        handler = SYSCALL_HANDLERS.get(spec.name)
        if handler is None:
            return self._failed(spec, f"Unknown system call: '{spec.name}'")
        args = self.evaluated_arguments(spec)
        if isinstance(args, SyscallFailure):
            return self._failed(spec, str(args))
        context = self._context(self._runtime, spec, args)
        try:
            handler(context)
        except (SyscallFailure, FdError) as failure:
            outcome = context.outcome
            return SyscallOutcome(outcome.result, outcome.errno, _worded(spec, str(failure)),
                                  tuple(context.events), outcome.returned_ns)
        return SyscallOutcome(context.outcome.result, context.outcome.errno, None,
                              tuple(context.events), context.outcome.returned_ns)

    def evaluated_arguments(self, spec: SyscallSpec) -> Args | SyscallFailure:
        """The call's arguments, evaluated once per spec (a pure function of the script)."""
        # dict reads and writes are atomic under the GIL; two threads evaluating the same spec
        # at once would only both compute the same value.
        cached = self._cache.get(id(spec))
        if cached is not None and cached[0] is spec:
            return cached[1]
        try:
            value: Args | SyscallFailure = Args(tuple(evaluate(arg) for arg in spec.args))
        except SyscallFailure as failure:
            value = failure
        self._cache[id(spec)] = (spec, value)  # holding spec keeps its id from being reused
        return value

    @staticmethod
    def _failed(spec: SyscallSpec, message: str) -> SyscallOutcome:
        return SyscallOutcome(0, 0, _worded(spec, message))

    def live_fd(self, script_fd: int) -> int | None:
        """The live fd a script fd names now, or None."""
        return self._runtime.fds.live_fd(script_fd)

    def fd_entry(self, script_fd: int) -> FdEntry | None:
        """What the script fd is (socket, file, epoll, pipe) and its live fd, or None."""
        return self._runtime.fds.get(script_fd)

    def fd_entries(self) -> list[FdEntry]:
        """Every fd the script has open now (the observer reads the sockets' cookies)."""
        return self._runtime.fds.entries()

    def fd_version(self) -> int:
        """Changes whenever the script's fds change (so the observer need not look again)."""
        return self._runtime.fds.version

    def fd_opened(self, live_fd: int) -> int:
        """The fd version at which ``live_fd`` was opened (FdTable.opened_version)."""
        return self._runtime.fds.opened_version(live_fd)

    def on_closing(self, hook: Callable[[int], None]) -> None:
        """Call ``hook(live_fd)`` just before a script's close() closes an fd."""
        self._runtime.on_closing = hook

    def tcp_info(self, live_fd: int) -> dict[str, int] | None:
        """Decoded TCP_INFO with packetdrill's ``tcpi_*`` names; None if it cannot be read."""
        return read_tcp_info(live_fd, self._runtime.libc.getsockopt_bytes)

    def code_snapshot(self, live_fd: int) -> CodeRaw:
        """TCP_INFO + TCP_CC_INFO + SO_MEMINFO for ``%{ }%`` (reference §4.9), read now and
        decoded later (``CodeRaw.values()``): the reads are all that happens at the block's time.

        Raises tcpinfo.SockoptReadError ("can't find getsockopt to get TCP info"...) if a read
        fails; the driver reports it as ``runtime error in code: <message>``.
        """
        return read_code_raw(live_fd, self._runtime.libc.getsockopt_bytes)

    def close_all(self) -> None:
        """Close every fd the script still has open (packetdrill does this at the end)."""
        libc = self._runtime.libc
        for entry in self._runtime.fds.drain():
            libc.close(entry.live_fd)


def _worded(spec: SyscallSpec, message: str) -> str:
    # Some packetdrill messages end in "\n" (they are printed inside another line): drop it.
    return f"runtime error in {spec.name} call: {message.rstrip()}"


__all__ = [
    "SYSCALL_HANDLERS",
    "SocketAddresses",
    "SocketEvent",
    "SyscallExecutor",
    "SyscallOutcome",
]
