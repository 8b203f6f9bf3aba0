"""One tracefs instance per run: ``/sys/kernel/tracing/instances/drillbook-<pid>-<n>``.

An instance has its own ring buffer, clock and enabled events, so runs never disturb each
other's capture or the host's own tracing. Its life:

1. :func:`sweep_stale` removes instances left by drillbook processes that died (SIGKILL gives
   no chance to clean up; the next start does it);
2. :meth:`Instance.create` makes it with tracing off, :meth:`Instance.configure` sets
   ``trace_clock=mono``, a small per-CPU buffer and enables the events this kernel has (still
   recording nothing), and :meth:`Instance.record` turns tracing on when a run claims it (the
   worker waits for that before its time 0, see observer.py);
3. :meth:`Instance.remove` disables it and removes it, on every exit.

The slow parts (a clock change or a resize waits for an RCU grace period: 10-70 ms here)
happen before a run needs the instance: spare.py prepares it in the background.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass

from drillbook.runtime.capture.formats import WANTED_EVENTS, EventFormat, parse_format

TRACEFS_PATHS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
PREFIX = "drillbook-"
BUFFER_KB = 256  # per CPU; drained every DRAIN_INTERVAL_S (see session.py)
_NAME = re.compile(r"^drillbook-(\d+)-(\d+)$")


class TracefsUnavailable(Exception):
    """Why no instance can be made (the message goes into the trace's sources)."""


def tracefs_root(mount_if_missing: bool = True) -> str:
    """Where tracefs is mounted; mounts it at /sys/kernel/tracing when it is missing."""
    for path in TRACEFS_PATHS:
        if os.path.isdir(os.path.join(path, "instances")):
            return path
    if os.geteuid() != 0:
        raise TracefsUnavailable("kernel events need root (tracefs)")
    if mount_if_missing:
        from drillbook.runtime.sandbox.process import mount

        try:
            mount("nodev", TRACEFS_PATHS[0], "tracefs", 0, None)
        except OSError as exc:
            raise TracefsUnavailable(f"cannot mount tracefs: {exc}") from None
        if os.path.isdir(os.path.join(TRACEFS_PATHS[0], "instances")):
            return TRACEFS_PATHS[0]
    raise TracefsUnavailable("tracefs is not available on this kernel")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(root: str) -> list[str]:
    """Remove the instances of drillbook processes that are gone; return their names."""
    removed = []
    folder = os.path.join(root, "instances")
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            match = _NAME.match(name)
            if match and not _alive(int(match[1])):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(folder, name))
                    removed.append(name)
    return removed


def leftover_instances(root: str | None = None) -> list[str]:
    """The drillbook instances that exist now (for tests and host checks)."""
    for path in (root,) if root else TRACEFS_PATHS:
        with contextlib.suppress(OSError):
            return sorted(n for n in os.listdir(os.path.join(path, "instances")) if _NAME.match(n))
    return []


@dataclass
class Instance:
    """One run's tracefs instance."""

    root: str
    name: str

    @property
    def path(self) -> str:
        return os.path.join(self.root, "instances", self.name)

    @classmethod
    def named(cls, root: str) -> Instance:
        """An instance name of this process's, unique to it (nothing is made yet)."""
        return cls(root, f"{PREFIX}{os.getpid()}-{time.monotonic_ns()}")

    def create(self) -> None:
        """Make the instance, with tracing off until it is armed."""
        try:
            os.mkdir(self.path)
        except OSError as exc:
            raise TracefsUnavailable(f"cannot create a tracefs instance: {exc}") from None
        self.write("tracing_on", "0")

    def write(self, relative: str, value: str) -> None:
        with open(os.path.join(self.path, relative), "w") as handle:
            handle.write(value)

    def read(self, relative: str) -> str:
        with open(os.path.join(self.path, relative)) as handle:
            return handle.read()

    def formats(self) -> tuple[list[EventFormat], list[str]]:
        """The formats of the wanted events this kernel has, and the names it lacks."""
        found, missing = [], []
        for system, event in WANTED_EVENTS:
            try:
                with open(os.path.join(self.root, "events", system, event, "format")) as handle:
                    found.append(parse_format(system, event, handle.read()))
            except OSError:
                missing.append(f"{system}:{event}")
        return found, missing

    def configure(self, formats: list[EventFormat]) -> None:
        """trace_clock=mono, a small buffer, the events on; tracing stays off, so nothing is
        recorded until :meth:`record`."""
        self.write("trace_clock", "mono")
        self.write("buffer_size_kb", str(BUFFER_KB))
        for event in formats:
            self.write(os.path.join("events", event.system, event.name, "enable"), "1")

    def record(self) -> None:
        """Tracing on: from now on the enabled events are recorded."""
        self.write("tracing_on", "1")

    def cpus(self) -> list[int]:
        with contextlib.suppress(OSError):
            names = os.listdir(os.path.join(self.path, "per_cpu"))
            return sorted(int(n[3:]) for n in names if n.startswith("cpu") and n[3:].isdigit())
        return []

    def open_pipe(self, cpu: int) -> int:
        return os.open(
            os.path.join(self.path, "per_cpu", f"cpu{cpu}", "trace_pipe_raw"),
            os.O_RDONLY | os.O_NONBLOCK,
        )

    def open_stats(self, cpu: int) -> int:
        """``per_cpu/cpuN/stats``, opened ahead: opening any tracefs file waits for tracefs's
        global lock, which another instance's set-up or removal holds for tens of ms."""
        return os.open(os.path.join(self.path, "per_cpu", f"cpu{cpu}", "stats"), os.O_RDONLY)

    def remove(self) -> None:
        """Tracing off, events off, the instance gone (never raises)."""
        with contextlib.suppress(OSError):
            self.write("tracing_on", "0")
        with contextlib.suppress(OSError):
            self.write("set_event", "")
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY while a reader still closes: try again shortly
                time.sleep(0.01)


def overruns(stats_fds: list[int]) -> int:
    """Events the kernel dropped (buffer full) over all CPUs, from their open stats files."""
    total = 0
    for fd in stats_fds:
        with contextlib.suppress(OSError, ValueError):
            for line in os.pread(fd, 4096, 0).decode().splitlines():
                if line.startswith(("overrun:", "dropped events:")):
                    total += int(line.split(":", 1)[1])
    return total
