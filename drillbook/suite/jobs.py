"""How many runs at a time a machine takes without the runs' timing depending on each other.

Each run's worker runs at real-time priority while its script is timed (root), sleeps until an
event is near, then spins for its last few hundred microseconds, as packetdrill does. With more
runs at once than CPUs, two of them spin or answer at the same moment often enough that one
waits for the other's CPU: on a 2-CPU machine, three jobs delayed inbound packets by up to
34 ms and the public corpus agreed with the C packetdrill on 479 of 488 runs, against 487-488
with two jobs (2026-12-08). A suite may still ask for more (the machine may be idle otherwise,
or the scripts loose in their timing), so this is a warning, not a limit.
"""

from __future__ import annotations

import os


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


DEFAULT_JOBS = 2  # the corpus's conformance figures are measured at two runs at a time


def default_jobs(cpus: int) -> int:
    """``--jobs`` when not given: two, but never more than the CPUs (a one-CPU laptop VM)."""
    return max(1, min(DEFAULT_JOBS, cpus))


def jobs_warning(jobs: int, cpus: int) -> str | None:
    """What to tell a user who asked for ``jobs`` runs at a time on ``cpus`` CPUs (None: fine)."""
    if jobs <= cpus:
        return None
    return (f"--jobs {jobs} runs more scripts at once than this machine has CPUs ({cpus}): "
            "their timing then depends on each other, and timing-sensitive verdicts may change "
            f"from run to run (--jobs {cpus} keeps them apart)")
