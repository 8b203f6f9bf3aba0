"""The namespace's own TCP counters: ``/proc/net/netstat`` (TcpExt, IpExt, ...) and
``/proc/net/snmp`` (Ip, Tcp, Udp, ...), read inside the run's network namespace, so they
count this run only (rootless too: a user namespace's network namespace has its own).

Each file is kept open and re-read from offset 0 (``pread``); the bytes are kept and parsed
after the run. A read costs ~20-40 µs, so samples are taken only when the run has time before
its next event (see observer.py), never between a packet and its +0 answer.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from drillbook.trace.kernel import CounterDelta, CounterSample

COUNTER_FILES = ("/proc/net/netstat", "/proc/net/snmp")
READ_SIZE = 1 << 16


@dataclass(frozen=True)
class RawSample:
    after_step: int
    time_us: int
    data: tuple[bytes, ...]  # one per open file


class CounterReader:
    """Keeps the counter files open and takes raw samples."""

    def __init__(self, paths: tuple[str, ...] = COUNTER_FILES) -> None:
        self.fds: list[int] = []
        self.paths: list[str] = []
        for path in paths:
            with contextlib.suppress(OSError):
                self.fds.append(os.open(path, os.O_RDONLY))
                self.paths.append(path)
        self.samples: list[RawSample] = []

    def sample(self, after_step: int, time_us: int) -> None:
        data = []
        for fd in self.fds:
            try:
                data.append(os.pread(fd, READ_SIZE, 0))
            except OSError:
                data.append(b"")
        self.samples.append(RawSample(after_step, time_us, tuple(data)))

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def parse_counters(data: bytes) -> dict[str, int]:
    """``Prefix: Name Name ...`` / ``Prefix: 1 2 ...`` line pairs -> {"Prefix.Name": value}."""
    values: dict[str, int] = {}
    lines = data.decode("ascii", "replace").splitlines()
    for names, numbers in zip(lines[::2], lines[1::2], strict=False):
        prefix, _, name_text = names.partition(":")
        number_prefix, _, number_text = numbers.partition(":")
        if prefix != number_prefix:
            continue
        for name, number in zip(name_text.split(), number_text.split(), strict=False):
            with contextlib.suppress(ValueError):
                values[f"{prefix}.{name}"] = int(number)
    return values


def counter_samples(samples: list[RawSample]) -> tuple[CounterSample, ...]:
    """The deltas between consecutive samples (the first sample is the baseline)."""
    result: list[CounterSample] = []
    previous: dict[str, int] | None = None
    for raw in samples:
        current: dict[str, int] = {}
        for data in raw.data:
            current.update(parse_counters(data))
        if previous is not None:
            deltas = tuple(
                CounterDelta(name, value - previous.get(name, 0))
                for name, value in current.items()
                if value != previous.get(name, 0) and not _is_gauge(name)
            )
            result.append(CounterSample(raw.after_step, raw.time_us, deltas))
        previous = current
    return tuple(result)


def _is_gauge(name: str) -> bool:
    """Values that are levels, not counts (a delta of them means nothing here)."""
    return name in {"Tcp.CurrEstab", "Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax",
                    "Tcp.MaxConn", "Ip.Forwarding", "Ip.DefaultTTL"}  # fmt: skip
