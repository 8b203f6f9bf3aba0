"""The run's clock: script time in integer microseconds, and precise waiting.

packetdrill uses the wall clock (gettimeofday) and starts time 0 a little after a clock tick, so
that the kernel's jiffy-based RTT/RTO arithmetic is reproducible from run to run. Kernel packet
timestamps are CLOCK_REALTIME too, so they share this time base.
"""

from __future__ import annotations

import os
import time

SPIN_US = 600  # sleep until this close to the target, then spin (packetdrill: sleep, then spin)
JIFFY_TICKS = 2  # clock ticks to wait for before time 0 (packetdrill waits 10)
JIFFY_OFFSET_US = 250  # start this far into a tick, as packetdrill does
TICK_POLL_S = 0.0001


class RunClock:
    """Maps wall-clock nanoseconds to script microseconds since time 0."""

    def __init__(self) -> None:
        self.start_ns = time.time_ns()

    def start(self) -> None:
        """Set time 0 just after a clock tick boundary (times(2) ticks, like packetdrill)."""
        last = os.times().elapsed
        ticks = 0
        start_ns = time.time_ns()
        deadline = time.monotonic() + 0.2  # never spin longer than this if times() is coarse
        while ticks < JIFFY_TICKS and time.monotonic() < deadline:
            # Poll, do not spin: at real-time priority a spinning worker would starve the
            # other runs of a suite for a whole tick.
            time.sleep(TICK_POLL_S)
            now = os.times().elapsed
            if now != last:
                start_ns = time.time_ns()
                ticks += 1
                last = now
        self.start_ns = start_ns + JIFFY_OFFSET_US * 1000

    def now_us(self) -> int:
        return (time.time_ns() - self.start_ns) // 1000

    def to_script_us(self, wall_ns: int) -> int:
        return (wall_ns - self.start_ns) // 1000

    def wait_until(self, target_us: int) -> int:
        """Sleep coarsely, then spin, until script time ``target_us``; returns the time reached."""
        remaining = target_us - self.now_us()
        if remaining > SPIN_US:
            time.sleep((remaining - SPIN_US) / 1e6)
        now = self.now_us()
        while now < target_us:
            now = self.now_us()
        return now

    @property
    def started_at(self) -> float:
        """Epoch seconds of time 0 (for pcap timestamps)."""
        return self.start_ns / 1e9
