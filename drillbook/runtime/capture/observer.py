"""The worker's side of a run's kernel evidence: its sockets' cookies, the namespace's counter
samples, and the wait for the caller's tracefs capture before time 0.

The run loop calls four hooks, none on the hot path:
- ``before_time_zero()``: wait (bounded) until the capture is armed, take the counter baseline;
- ``after_step(index, line, now_us)``: note the cookie of any socket that appeared (one
  ``getsockopt(SO_COOKIE)`` per new socket, ~1 µs; nothing otherwise);
- ``idle(last_index, now_us, until_us)``: before a wait that leaves time, sample the counters
  (a sample then covers every step since the previous one);
- ``finish(last_index, now_us)``: the last sample.
"""

from __future__ import annotations

import os
import socket
import time
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


def wait_until_armed(instance_path: str, timeout_s: float = ARM_TIMEOUT_S) -> bool:
    """Wait until the caller's instance has tracing on (armed). The caller's capture thread
    makes it while this worker starts: if it does not appear within APPEAR_S, or disappears
    (it could not be armed), go on without it."""
    if not instance_path:
        return False
    start = time.monotonic()
    flag = os.path.join(instance_path, "tracing_on")
    seen = False
    events = os.path.join(instance_path, "set_event")
    while time.monotonic() - start < timeout_s:
        try:
            # A new instance has tracing on before it is armed: armed means tracing on *and*
            # events enabled (the capture turns tracing off first, on again last).
            with open(flag) as handle, open(events) as enabled:
                seen = True
                if handle.read().strip() == "1" and enabled.read().strip():
                    return True
        except OSError:
            if seen or time.monotonic() - start > APPEAR_S:
                return False  # removed, or never made: the capture could not be armed
        time.sleep(ARM_POLL_S)
    return False


def socket_cookie(live_fd: int) -> int:
    """``getsockopt(SO_COOKIE)`` of a live fd (0 if it has none)."""
    sock = socket.socket(fileno=live_fd)
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
    ) -> None:
        self.instance_path = instance_path
        self.fd_entries = fd_entries
        self.fd_version = fd_version
        self._seen_version: int | None = None
        self.counters = CounterReader()
        self.armed = False
        self.started_monotonic_ns = 0
        self._sockets: list[SocketRecord] = []
        self._known: dict[int, int] = {}  # live fd -> cookie
        self._closed: dict[int, int] = {}  # cookie -> the step after which its fd was gone
        self._lingering: set[int] = set()  # closed cookies whose connection may live on
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
        if version == self._seen_version and version != -1:
            return  # no fd opened or closed since the last look (most steps)
        self._seen_version = version
        entries = [e for e in self.fd_entries() if e.kind == "socket"]
        if len(entries) != len(self._known) or any(e.live_fd not in self._known for e in entries):
            # A closed fd's number may come back as the next socket: keep only open ones.
            known = {e.live_fd: self._known[e.live_fd] for e in entries if e.live_fd in self._known}
            for fd, cookie in self._known.items():
                if fd not in known and cookie:
                    self._closed.setdefault(cookie, index)
                    self._lingering.add(cookie)
            for entry in entries:
                if entry.live_fd not in known:
                    cookie = known[entry.live_fd] = socket_cookie(entry.live_fd)
                    if cookie:
                        self._sockets.append(
                            SocketRecord(cookie, entry.live_fd, entry.script_fd, now_us, line)
                        )
            self._known = known

    def script_done(self, now_us: int) -> None:
        """The script's last event finished (what follows is drillbook's own clean-up)."""
        self.script_end_us = now_us

    def idle(self, last_index: int, now_us: int, until_us: int) -> None:
        if last_index > self._sampled_after and until_us - now_us >= IDLE_SLACK_US:
            self._sample(last_index, now_us)

    def _sample(self, last_index: int, now_us: int) -> None:
        self.counters.sample(last_index, now_us)
        self._sampled_after = last_index
        if self._lingering:
            states = dump_states()
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
