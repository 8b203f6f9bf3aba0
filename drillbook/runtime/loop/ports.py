"""What the run loop needs of the world, as protocols: a clock, a device, a syscall host, and
observers. The real ones are the sandbox's TUN device (``sandbox/tun.py``), :class:`RunClock`
(``clock.py``) and :class:`KernelSyscalls` (``kernel.py``); the fakes that run a script without
root are ``fake_kernel.py`` and ``fake_clock.py`` (the loop's rehearsal uses them; tests get them
from ``drillbook.testing``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from drillbook.engine.types import WireAddresses
from drillbook.runtime.syscalls.args import Args, SyscallFailure
from drillbook.runtime.syscalls.context import SocketEvent
from drillbook.runtime.syscalls.tcpinfo import CodeRaw
from drillbook.script.model import Event, SyscallSpec


class RunAddresses(WireAddresses, Protocol):
    """The run's addresses as the loop uses them (the sandbox's Addresses)."""

    @property
    def socket_family(self) -> int: ...


class Clock(Protocol):
    """Script time in integer µs since time 0, and precise waiting."""

    def start(self) -> None:
        """Set time 0 (now, or just after a clock tick)."""

    def now_us(self) -> int: ...

    def to_script_us(self, wall_ns: int) -> int:
        """A wall-clock time (a kernel timestamp, ``time.time_ns()``) in script µs."""

    def wait_until(self, target_us: int) -> int:
        """Return at script time ``target_us`` (or at once if it has passed): the time reached."""

    @property
    def started_at(self) -> float:
        """Epoch seconds of time 0."""

    @property
    def start_ns(self) -> int:
        """Wall-clock ns of time 0."""


class ShellOutcome(Protocol):
    @property
    def returncode(self) -> int: ...

    @property
    def output(self) -> str: ...


class Device(Protocol):
    """The wire side: inject a packet toward the kernel, read what the kernel sent."""

    def inject(self, ip_packet: bytes, gso_type: int = 0, gso_size: int = 0) -> int:
        """Write one IP packet; returns ``time.time_ns()``-style wall ns right after it."""

    def read_outbound(self, timeout_s: float) -> tuple[bytes, int] | None:
        """The next packet the kernel sent and its wall-ns timestamp, or None after
        ``timeout_s``."""

    def run_shell(
        self, command: str, env: Mapping[str, str], timeout_s: float | None
    ) -> ShellOutcome: ...


class SyscallOutcomeLike(Protocol):
    @property
    def result(self) -> int: ...

    @property
    def errno(self) -> int: ...

    @property
    def error(self) -> str | None: ...

    @property
    def returned_ns(self) -> int: ...


class SyscallHost(Protocol):
    """Makes the script's calls and reads socket state."""

    def listen(self, on_event: Callable[[SocketEvent], None]) -> None:
        """Tell ``on_event`` each socket event as it happens (before a blocking call returns)."""

    def execute(self, spec: SyscallSpec, script_time_us: int) -> SyscallOutcomeLike: ...

    def evaluated_arguments(self, spec: SyscallSpec) -> Args | SyscallFailure: ...

    def live_fd(self, script_fd: int) -> int | None: ...

    def tcp_info_bytes(self, live_fd: int) -> bytes | None:
        """The socket's raw TCP_INFO now (decoded after the run); None if unreadable. Each
        calling thread has its own buffer."""

    def code_snapshot(self, live_fd: int) -> CodeRaw:
        """What a %{ }% block sees; raises tcpinfo.SockoptReadError if a read fails."""

    def entered_ns(self, thread_ident: int) -> int:
        """When the thread's last call entered the kernel (wall ns; 0: never)."""

    def watch_entering(self, thread_ident: int, entering: threading.Event) -> None:
        """Set ``entering`` as the thread's next call enters the kernel."""

    def errno_of(self, thread_ident: int) -> AbstractContextManager[None]:
        """Make calls on this thread with (and update) another thread's errno."""

    def rehearse(self, events: Iterable[Event]) -> None:
        """Before time 0, walk the calls' code paths once on scratch state."""

    def close_all(self) -> None: ...


class RunObserver(Protocol):
    """Hears the run as it goes, never between a packet's arrival and the answer to it.
    Kernel-event capture and counter snapshots hook in here (``runtime/capture/observer.py``);
    the hooks' order and places are in the theory of operation of ``driver.py``."""

    def before_time_zero(self) -> None:
        """After the init command, before the clock starts."""

    def time_zero(self, wall_start_ns: int) -> None:
        """Time 0 was just set (wall-clock ns)."""

    def after_step(self, index: int, line: int, now_us: int) -> None:
        """A step was recorded (``now_us``: its scheduled time)."""

    def idle(self, last_index: int, now_us: int, until_us: int) -> None:
        """The loop is about to wait from ``now_us`` until ``until_us``; ``last_index`` is the
        last step recorded so far."""

    def script_done(self, now_us: int) -> None:
        """The script's last event finished (or failed): what follows is clean-up."""

    def finish(self, last_index: int, now_us: int) -> None:
        """The run is over, before its trace is built."""
