"""Warm the loop's code again just before an event that ends a long wait.

Why: after a long wait the loop's Python runs several times slower than a moment later. On
``blocking-read.pkt`` (2026-12-08, 12 runs, ipv4) line 27, a `+0` read of queued data right
after the kernel's `+0 > . ack 6001`, started 450 µs (p50) after that ACK, while line 28, the
same path once more, started 75 µs after line 27 returned. Timestamps along the path showed
every part of it slower, not one: the readiness poll 28 µs against 6, the call's handler 72 µs
against 14. As far as we can tell, the 100 ms before line 25 let the CPU's caches go cold. The
rehearsal before time 0 (``loop_rehearsal.py``) warms these paths once, but a long wait undoes
that.

So before an event that ends a wait of ``IDLE_MIN_US`` or more, the loop walks the rehearsal
script over the fake kernel once more, ending shortly before the event. Measured the same way:
line 27 then started ~210 µs late, line 15's accept ~35 µs late instead of 140, injections
3 µs instead of 22. The walk took 1.4–1.8 ms for that 22-event script.

The walk never delays the event: it begins twice the last walk's length (plus a margin) ahead
of the event, and an observer of the fake run (:class:`WalkDeadline`) stops it at its deadline.
"""

from __future__ import annotations

from collections.abc import Callable

from drillbook.runtime.loop.ports import Clock

IDLE_MIN_US = 20_000  # a wait at least this long lets the caches go cold
MARGIN_US = 1_000  # between the walk's deadline and the event


def walk_start_us(now_us: int, until_us: int, walk_us: int) -> int | None:
    """When to begin a walk before an event at ``until_us``, given that a walk takes
    ``walk_us``: None if the wait is too short to go cold or to hold the walk."""
    if until_us - now_us < IDLE_MIN_US:
        return None
    start = until_us - 2 * walk_us - MARGIN_US
    return start if start >= now_us else None


class PastDeadline(Exception):
    """Stops a walk that reached its deadline (the fake run ends there)."""


class WalkDeadline:
    """A run observer (``ports.RunObserver``) for the fake run of a walk: it stops the walk
    once the real clock reaches ``deadline_us``, at the fake run's next step or wait."""

    def __init__(self, clock: Clock, deadline_us: int) -> None:
        self.clock = clock
        self.deadline_us = deadline_us

    def _check(self) -> None:
        if self.clock.now_us() >= self.deadline_us:
            raise PastDeadline

    def before_time_zero(self) -> None:
        return None

    def time_zero(self, wall_start_ns: int) -> None:
        return None

    def after_step(self, index: int, line: int, now_us: int) -> None:
        self._check()

    def idle(self, last_index: int, now_us: int, until_us: int) -> None:
        self._check()

    def script_done(self, now_us: int) -> None:
        return None

    def finish(self, last_index: int, now_us: int) -> None:
        return None


class Rewarm:
    """Walks the loop's code before an event that ends a long wait (see the module's doc).

    ``walk(deadline)`` runs the rehearsal walk with ``deadline`` among the fake run's
    observers; ``walk_us`` is how long one took before time 0 (a cold walk: an upper bound)."""

    def __init__(self, clock: Clock, walk: Callable[[WalkDeadline], None], walk_us: int) -> None:
        self.clock = clock
        self.walk = walk
        self.walk_us = walk_us
        self.walks = 0

    def before(self, until_us: int) -> None:
        """Called as the loop is about to wait until ``until_us``: walk near the wait's end."""
        clock = self.clock
        start = walk_start_us(clock.now_us(), until_us, self.walk_us)
        if start is None:
            return
        begun = clock.wait_until(start)
        deadline = WalkDeadline(clock, until_us - MARGIN_US)
        self.walk(deadline)
        ended = clock.now_us()
        # A walk stopped at its deadline says only that a whole one takes longer.
        took = ended - begun
        self.walk_us = max(self.walk_us, took) if ended >= deadline.deadline_us else took
        self.walks += 1


__all__ = ["IDLE_MIN_US", "MARGIN_US", "PastDeadline", "Rewarm", "WalkDeadline",
           "walk_start_us"]
