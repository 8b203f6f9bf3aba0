"""A virtual clock for the fake kernel: time moves only when the run waits.

``wait_until`` jumps to its target at once, so every event of a fake run happens exactly on its
schedule and a run of seconds takes milliseconds. A blocking call on the blocking-call thread
sleeps until the main thread's waits carry the time past its end (:meth:`sleep_until`).
"""

from __future__ import annotations

import threading

WALL_BASE_NS = 1_700_000_000 * 10**9  # the fake wall clock's epoch time of its creation
STUCK_S = 5.0  # how long (real time) a virtual sleep waits for the run to move time on


class FakeClock:
    """Script time in µs over a virtual wall clock (the run loop's ``Clock``)."""

    def __init__(self) -> None:
        self._now_us = 0  # since creation
        self._zero_us = 0  # creation to time 0
        self._moved = threading.Condition()

    def start(self) -> None:
        with self._moved:
            self._zero_us = self._now_us

    def now_us(self) -> int:
        return self._now_us - self._zero_us

    def to_script_us(self, wall_ns: int) -> int:
        return (wall_ns - WALL_BASE_NS) // 1000 - self._zero_us

    def wall_ns(self, script_us: int | None = None) -> int:
        """The wall-clock ns of script time ``script_us`` (default: now)."""
        us = self.now_us() if script_us is None else script_us
        return WALL_BASE_NS + (us + self._zero_us) * 1000

    def wait_until(self, target_us: int) -> int:
        with self._moved:
            if target_us > self.now_us():
                self._now_us = target_us + self._zero_us
                self._moved.notify_all()
            return self.now_us()

    def advance(self, delta_us: int) -> int:
        return self.wait_until(self.now_us() + max(delta_us, 0))

    def sleep_until(self, target_us: int) -> bool:
        """Block this (non-main) thread until the run's waits reach ``target_us``; False if
        time stood still for ``STUCK_S`` of real time."""
        with self._moved:
            while self.now_us() < target_us:
                if not self._moved.wait(STUCK_S):
                    return False
            return True

    @property
    def started_at(self) -> float:
        return self.wall_ns(0) / 1e9

    @property
    def start_ns(self) -> int:
        return self.wall_ns(0)
