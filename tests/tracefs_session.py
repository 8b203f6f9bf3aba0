"""The test session leaves no tracefs instance behind (runtime/capture/tracefs.py).

A process killed outright (the SIGKILL and SIGTERM tests) cannot remove its instance: drillbook
sweeps such instances at its next start, and a session whose last test killed one would leave
it until then. At the session's end conftest.py therefore discards this process's spare,
sweeps the instances of dead processes (as every drillbook start does: never one of a live
process, such as another session's on this shared machine) and reports any instance that still
belongs to this process or one of its descendants.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from drillbook.runtime.capture.tracefs import (
    TracefsUnavailable,
    leftover_instances,
    sweep_stale,
    tracefs_root,
)
from drillbook.runtime.workers.hostcheck import all_descendant_pids


@dataclass(frozen=True)
class SessionInstances:
    swept: list[str]  # instances of dead processes, removed now
    ours: list[str]  # instances of this process or its descendants that are still there


def _discard_spare() -> None:
    """Remove this process's spare instance, if it ever kept one (atexit would, later)."""
    spare = sys.modules.get("drillbook.runtime.capture.spare")
    if spare is not None:
        spare.discard_spare()


def finish_instances(
    root: str | None = None, discard_spare: Callable[[], None] = _discard_spare
) -> SessionInstances:
    """Sweep the instances of dead processes under ``root`` (default: the mounted tracefs;
    nothing without one) and list those of this process and its descendants."""
    if root is None:
        try:
            root = tracefs_root(mount_if_missing=False)
        except TracefsUnavailable:
            return SessionInstances([], [])
    discard_spare()
    swept = sweep_stale(root)
    family = {os.getpid(), *all_descendant_pids()}
    ours = [name for name in leftover_instances(root) if int(name.split("-")[1]) in family]
    return SessionInstances(swept, ours)


def summary(instances: SessionInstances) -> list[str]:
    """The lines the session's summary shows (none when nothing was left)."""
    lines = []
    if instances.swept:
        lines.append(f"removed {len(instances.swept)} tracefs instance(s) of killed processes: "
                     + ", ".join(instances.swept))
    if instances.ours:
        lines.append("tracefs instance(s) of this test session left behind: "
                     + ", ".join(instances.ours))
    return lines
