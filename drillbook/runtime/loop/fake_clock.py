"""A virtual clock for the fake kernel: time moves only when the run waits.

``wait_until`` jumps to its target at once, so every event of a fake run happens exactly on its
schedule and a run of seconds takes milliseconds. A blocking call on the blocking-call thread
sleeps until the main thread's waits carry the time past its end (:meth:`sleep_until`).

With a real kernel, real time passes between a blocking call's return and the script's next
event, and the call's thread hands its result over meanwhile. Virtual time passes in no time, so
the clock stands in for that: a wait never moves time past a booked return (:meth:`book`)
before the booking thread has woken and finished returning its call (its ``returned`` event
set), waiting up to ``RETURN_WAIT_S`` of real time for it. Without that, a loaded machine lets
the main thread reach the next event before the call's result is recorded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

WALL_BASE_NS = 1_700_000_000 * 10**9  # the fake wall clock's epoch time of its creation
STUCK_S = 5.0  # how long (real time) a virtual sleep waits for the run to move time on
RETURN_WAIT_S = 5.0  # how long (real time) a wait lets a woken call finish returning


@dataclass
class _Booking:
    """A thread's virtual sleep until ``target_us`` (script µs)."""

    target_us: int
    returned: threading.Event | None  # set once the thread has handed its call's result over
    woke: bool = False


class FakeClock:
    """Script time in µs over a virtual wall clock (the run loop's ``Clock``)."""

    def __init__(self) -> None:
        self._now_us = 0  # since creation
        self._zero_us = 0  # creation to time 0
        self._moved = threading.Condition()
        self._bookings: dict[int, _Booking] = {}  # thread ident -> its sleep

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
        """Move time to ``target_us``, stopping at every other thread's booked return before
        it until that thread has finished returning (see the module's docstring)."""
        me = threading.get_ident()
        with self._moved:
            while True:
                due = [(booking.target_us, ident) for ident, booking in self._bookings.items()
                       if ident != me and booking.target_us < target_us]
                if not due:
                    break
                booking_us, ident = min(due)
                self._move_to(booking_us)
                self._await_return(ident)
            self._move_to(target_us)
            return self.now_us()

    def _move_to(self, target_us: int) -> None:
        if target_us > self.now_us():
            self._now_us = target_us + self._zero_us
            self._moved.notify_all()

    def _await_return(self, ident: int) -> None:
        """With the lock held: wait until thread ``ident``, whose booked time has come, has
        woken and finished returning; forget its booking."""
        booking = self._bookings[ident]
        deadline = time.monotonic() + RETURN_WAIT_S
        while not booking.woke and self._bookings.get(ident) is booking:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._moved.wait(left)
        returned = booking.returned
        if booking.woke and returned is not None:
            left = max(deadline - time.monotonic(), 0.0)
            self._moved.release()  # the returning thread may read the clock meanwhile
            try:
                returned.wait(left)
            finally:
                self._moved.acquire()
        if self._bookings.get(ident) is booking:
            del self._bookings[ident]

    def advance(self, delta_us: int) -> int:
        return self.wait_until(self.now_us() + max(delta_us, 0))

    def book(self, target_us: int, returned: threading.Event | None = None) -> None:
        """Book this thread's sleep until ``target_us`` (before it tells anyone that its call
        has started): from now on time stops there until the thread has woken and, if given,
        ``returned`` has been set again after the wake (which clears it)."""
        with self._moved:
            self._bookings[threading.get_ident()] = _Booking(target_us, returned)

    def sleep_until(self, target_us: int) -> bool:
        """Block this (non-main) thread until the run's waits reach ``target_us`` (its
        booking's, made here if :meth:`book` was not called); False if time stood still for
        ``STUCK_S`` of real time."""
        ident = threading.get_ident()
        with self._moved:
            booking = self._bookings.get(ident)
            if booking is None or booking.woke or booking.target_us != target_us:
                booking = self._bookings[ident] = _Booking(target_us, None)
            while self.now_us() < target_us:
                if not self._moved.wait(STUCK_S):
                    if self._bookings.get(ident) is booking:
                        del self._bookings[ident]
                    self._moved.notify_all()
                    return False
            if booking.returned is not None:
                booking.returned.clear()  # set again once the call has been handed over
            booking.woke = True
            self._moved.notify_all()
            return True

    @property
    def started_at(self) -> float:
        return self.wall_ns(0) / 1e9

    @property
    def start_ns(self) -> int:
        return self.wall_ns(0)
