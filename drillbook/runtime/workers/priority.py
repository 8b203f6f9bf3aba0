"""Real-time priority for the timed part of a run, and only for it.

packetdrill runs at the lowest real-time priority when there is more than one CPU: a busy
machine then cannot delay an injection or a sniffed packet by a time slice. drillbook's worker
does the same, but only from just before time 0 until the script's events are over. Before
(parsing, the rehearsal that warms the hot paths) and after (building and encoding the trace,
which takes tens of ms for a long run) it is ordinary Python work, and at real-time priority
it would hold a CPU against every normal process: the Jupyter kernel that waits for the result,
the other runs' parents, and on a class's hub the students, whose runs cannot have real-time
priority at all.
"""

from __future__ import annotations

import contextlib
import os


def _threads() -> list[int]:
    """This process's threads (the blocking-call thread too: a policy is per thread)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


class RealtimeWhileTimed:
    """A run observer (runtime/loop/ports.py) that raises every thread of the worker to the
    lowest SCHED_RR priority before time 0 and sets them back to SCHED_OTHER when the run is
    over. Not permitted (no CAP_SYS_NICE, as for a class's students) or a single CPU: the run
    stays at normal priority, as packetdrill would."""

    def __init__(self) -> None:
        self.raised: list[int] = []

    def before_time_zero(self) -> None:
        if (os.cpu_count() or 1) < 2:
            return
        param = os.sched_param(os.sched_get_priority_min(os.SCHED_RR))
        for tid in _threads():
            with contextlib.suppress(OSError):
                os.sched_setscheduler(tid, os.SCHED_RR, param)
                self.raised.append(tid)

    def time_zero(self, wall_start_ns: int) -> None:
        return None

    def after_step(self, index: int, line: int, now_us: int) -> None:
        return None

    def idle(self, last_index: int, now_us: int, until_us: int) -> None:
        return None

    def script_done(self, now_us: int) -> None:
        return None

    def finish(self, last_index: int, now_us: int) -> None:
        """The run is over: the trace is built and sent at normal priority."""
        self.drop()

    def drop(self) -> None:
        """Every raised thread back to SCHED_OTHER (again is harmless: the run's end, then the
        worker's ``finally`` for a run that raised before it)."""
        for tid in self.raised:
            with contextlib.suppress(OSError):  # a thread that has ended
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        self.raised = []
