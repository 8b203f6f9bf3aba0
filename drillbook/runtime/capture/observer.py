"""The worker's side of a run's kernel evidence: its sockets' cookies, the namespace's counter
samples, and the wait for the caller's tracefs capture before time 0.

The run loop calls these hooks; the one on every step does almost nothing:
- ``before_time_zero()``: wait (bounded) until the capture is armed, take the counter baseline;
- ``after_step(index, line, now_us)``: compare the fd table's version with the last one seen
  (~0.1 µs); when an fd was opened or closed, note the step (a list append). No system call:
  under load one ``socket.socket(fileno=...)`` to read a cookie took 12-36 µs on the step;
- ``idle(last_index, now_us, until_us)``: before a wait that leaves time, look at the noted
  steps (read the new sockets' cookies, one ``getsockopt(SO_COOKIE)`` each, and note the
  closed ones), and sample the counters (a sample then covers every step since the previous);
- ``before_close(live_fd)``: a close() is about to close an fd: look now if steps are noted,
  so that a socket opened and closed with no idle moment between still has its cookie;
- ``script_done(now_us)``: look one last time (the end of the run closes every fd);
- ``finish(last_index, now_us)``: the last sample.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from drillbook.runtime.capture.counters import CounterReader, counter_samples
from drillbook.runtime.capture.sockdiag import dump_states
from drillbook.runtime.syscalls.fdtable import FdEntry
from drillbook.trace.kernel import CounterSample, KernelSources, SocketRecord, SocketStateSample

TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "NEW_SYN_RECV",
}  # fmt: skip

SO_COOKIE = 57  # <asm-generic/socket.h>
ARM_TIMEOUT_S = 3.0
APPEAR_S = 1.0
ARM_POLL_S = 0.0005
IDLE_SLACK_US = 1500  # sample the counters only when the next event is at least this far away
# A sock_diag dump walks the kernel's whole TCP hash tables (every namespace's): ~7 ms here, not
# the tens of µs it costs where they are small. The socket states are dumped at an idle moment
# only when it leaves twice the last dump's duration (this, until one is measured).
FIRST_DUMP_US = 10_000
LOOK_SLACK_US = 200  # read new sockets' cookies only when the next event is this far away


def wait_until_armed(instance_path: str, timeout_s: float = ARM_TIMEOUT_S) -> bool:
    """Wait until the caller's instance has tracing on (armed). The caller's capture thread
    claims or makes it while this worker starts: if it does not appear within APPEAR_S, or
    disappears (it could not be armed), go on without it.

    Its two files are opened once and re-read: opening a tracefs file waits for tracefs's
    global lock, which any instance's set-up or removal on the machine holds for tens of ms."""
    if not instance_path:
        return False
    start = time.monotonic()
    names = (os.path.join(instance_path, "tracing_on"), os.path.join(instance_path, "set_event"))
    fds: list[int] = []
    try:
        while time.monotonic() - start < timeout_s:
            try:
                while len(fds) < len(names):
                    fds.append(os.open(names[len(fds)], os.O_RDONLY))
                # A new instance has tracing on before it is set up: armed means tracing on
                # *and* events enabled (a capture turns tracing on last).
                tracing, enabled = (os.pread(fd, 64, 0) for fd in fds)
                if tracing.strip() == b"1" and enabled.strip():
                    return True
            except OSError:
                if len(fds) == len(names) or time.monotonic() - start > APPEAR_S:
                    return False  # removed, or never made: the capture could not be armed
            time.sleep(ARM_POLL_S)
        return False
    finally:
        for fd in fds:
            os.close(fd)


def socket_cookie(live_fd: int) -> int:
    """``getsockopt(SO_COOKIE)`` of a live fd (0 if it has none). The family and type given
    keep Python from asking the kernel for them (three more system calls)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, live_fd)
    try:
        return int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8), "little")
    except OSError:
        return 0
    finally:
        sock.detach()


class RunObserver:
    """Collects a run's sockets and counter samples inside the worker."""

    def __init__(
        self,
        instance_path: str,
        fd_entries: Callable[[], list[FdEntry]],
        fd_version: Callable[[], int] = lambda: -1,
        fd_opened: Callable[[int], int] = lambda live_fd: 0,
    ) -> None:
        """``fd_entries``, ``fd_version``, ``fd_opened``: the fd table's open fds, its
        version, and the version that opened an fd (syscalls/fdtable.py)."""
        self.instance_path = instance_path
        self.fd_entries = fd_entries
        self.fd_version = fd_version
        self.fd_opened = fd_opened
        self._seen_version: int | None = None
        # (index, line, µs, fd version) of the steps that changed fds, not looked at yet; a
        # deque: a blocking call's step is noted from its own thread.
        self._changed: deque[tuple[int, int, int, int]] = deque()
        self.counters = CounterReader()
        self.armed = False
        self.started_monotonic_ns = 0
        self._sockets: list[SocketRecord] = []
        self._known: dict[int, tuple[int, int]] = {}  # live fd -> (cookie, opened version)
        self._closed: dict[int, int] = {}  # cookie -> the step after which its fd was gone
        self._lingering: set[int] = set()  # closed cookies whose connection may live on
        self._dump_us = FIRST_DUMP_US  # how long the last sock_diag dump took
        self._states: list[SocketStateSample] = []
        self._last_index = -1
        self._sampled_after = -2
        self.script_end_us = 0
        self.arm_wait_us = 0

    def before_time_zero(self) -> None:
        begin = time.monotonic_ns()
        self.armed = wait_until_armed(self.instance_path)
        self.arm_wait_us = (time.monotonic_ns() - begin) // 1000
        self.counters.sample(-1, 0)
        self._sampled_after = -1

    def time_zero(self, wall_start_ns: int) -> None:
        """Record time 0 on CLOCK_MONOTONIC (the tracefs clock) too."""
        self.started_monotonic_ns = wall_start_ns - (time.time_ns() - time.monotonic_ns())

    def after_step(self, index: int, line: int, now_us: int) -> None:
        version = self.fd_version()
        if version != self._seen_version or version == -1:
            self._seen_version = version
            self._changed.append((index, line, now_us, version))

    def before_close(self, live_fd: int) -> None:
        if self._changed:
            self._look()

    def _look(self) -> None:
        """Read the cookies of the sockets that appeared since the last look and note the
        ones that went (each at the first noted step, where its fd changed)."""
        changed = []
        with contextlib.suppress(IndexError):
            while self._changed:
                changed.append(self._changed.popleft())
        if not changed:
            return
        opened = {
            e.live_fd: (e, self.fd_opened(e.live_fd))
            for e in self.fd_entries() if e.kind == "socket"
        }  # fmt: skip
        for fd, (cookie, version) in list(self._known.items()):
            if fd not in opened or opened[fd][1] != version:  # closed (maybe its number reused)
                del self._known[fd]
                if cookie:
                    self._closed.setdefault(cookie, changed[0][0])
                    self._lingering.add(cookie)
        for fd, (entry, version) in opened.items():
            if fd in self._known:
                continue
            cookie = socket_cookie(fd)
            self._known[fd] = (cookie, version)
            if cookie:
                # The step that opened it: the first noted step at or after its version.
                _, line, now_us, _ = next((c for c in changed if c[3] >= version), changed[-1])
                self._sockets.append(SocketRecord(cookie, fd, entry.script_fd, now_us, line))

    def script_done(self, now_us: int) -> None:
        """The script's last event finished (what follows is drillbook's own clean-up)."""
        self.script_end_us = now_us
        self._look()

    def idle(self, last_index: int, now_us: int, until_us: int) -> None:
        slack = until_us - now_us
        if self._changed and slack >= LOOK_SLACK_US:
            self._look()
        if last_index > self._sampled_after and slack >= IDLE_SLACK_US:
            self._sample(last_index, now_us, states=slack >= 2 * self._dump_us)

    def _sample(self, last_index: int, now_us: int, states: bool = True) -> None:
        self.counters.sample(last_index, now_us)
        self._sampled_after = last_index
        if self._lingering and states:
            self._sample_states(last_index, now_us)

    def _sample_states(self, last_index: int, now_us: int) -> None:
        """The closed sockets' states now (one sock_diag dump, timed for the next idle)."""
        started = time.monotonic_ns()
        states = dump_states()
        self._dump_us = (time.monotonic_ns() - started) // 1000
        ours = tuple(
            (cookie, TCP_STATES.get(states[cookie], str(states[cookie])))
            for cookie in sorted(self._closed) if cookie in states
        )
        self._states.append(SocketStateSample(last_index, now_us, ours))
        self._lingering &= set(states)

    def finish(self, last_index: int, now_us: int) -> None:
        if last_index > self._sampled_after:
            self._sample(last_index, now_us)
        self.counters.close()

    def evidence(self) -> WorkerEvidence:
        """What the worker contributes to the trace (built after the run)."""
        return WorkerEvidence(
            started_monotonic_ns=self.started_monotonic_ns,
            script_end_us=self.script_end_us,
            sockets=tuple(
                replace(record, closed_after_step=self._closed.get(record.cookie))
                for record in self._sockets
            ),
            socket_states=tuple(self._states),
            counter_samples=counter_samples(self.counters.samples),
            sources=KernelSources(
                tracefs=self.armed,
                tracefs_note="" if self.armed else "no tracefs capture armed for this run",
                counters=tuple(self.counters.paths),
                tcp_info=True,
                arm_wait_us=self.arm_wait_us,
            ),
        )


@dataclass(frozen=True)
class WorkerEvidence:
    started_monotonic_ns: int
    script_end_us: int
    sockets: tuple[SocketRecord, ...]
    socket_states: tuple[SocketStateSample, ...]
    counter_samples: tuple[CounterSample, ...]
    sources: KernelSources
