"""What changed between two runs of a tweaked script, as text a student reads top to bottom.

The kernel's packets (``>``) of the two runs are lined up in order of sending (difflib's
longest matching blocks, as ``diff`` does) and reported as changed (same place, other
contents), appeared or disappeared. Timestamp option values are clock readings that differ on
every run, so they are left out of the comparison; everything else a packet says counts. Pure
functions of the two traces (no IPython).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum

from drillbook.trace.model import Direction, PacketRecord, Trace

__all__ = ["ChangeKind", "PacketChange", "kernel_packet_changes", "run_differences"]

_TIMESTAMP = re.compile(r"TS val \d+ ecr \d+")


class ChangeKind(Enum):
    CHANGED = "changed"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"


@dataclass(frozen=True)
class PacketChange:
    """One difference in what the kernel sent: ``before``/``after`` are packetdrill lines."""

    kind: ChangeKind
    before: PacketRecord | None
    after: PacketRecord | None


def _comparable(packet: PacketRecord) -> str:
    return _TIMESTAMP.sub("TS val * ecr *", packet.summary)


def _kernel_packets(trace: Trace) -> list[PacketRecord]:
    return [p for p in trace.packets if p.direction is Direction.OUTBOUND]


def kernel_packet_changes(previous: Trace, current: Trace) -> tuple[PacketChange, ...]:
    """The kernel's packets that changed, appeared or disappeared from one run to the next."""
    before, after = _kernel_packets(previous), _kernel_packets(current)
    matcher = difflib.SequenceMatcher(
        a=[_comparable(p) for p in before], b=[_comparable(p) for p in after], autojunk=False)
    changes: list[PacketChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        changes.extend(PacketChange(ChangeKind.CHANGED, before[i1 + k], after[j1 + k])
                       for k in range(paired))
        changes.extend(PacketChange(ChangeKind.DISAPPEARED, p, None)
                       for p in before[i1 + paired:i2])
        changes.extend(PacketChange(ChangeKind.APPEARED, None, p)
                       for p in after[j1 + paired:j2])
    return tuple(changes)


def _at(packet: PacketRecord) -> str:
    return f"{packet.time_us / 1e6:.3f} s"


def run_differences(previous: Trace, current: Trace, previous_verdict: str,
                    current_verdict: str) -> tuple[str, ...]:
    """The differences as lines: verdicts, then each kernel packet that changed."""
    lines = [f"previous run: {previous_verdict}", f"this run:     {current_verdict}", ""]
    changes = kernel_packet_changes(previous, current)
    count = len(_kernel_packets(current))
    if not changes:
        lines.append(f"The kernel sent the same {count} packets (timestamp values aside).")
        return tuple(lines)
    lines.append(f"The kernel's packets: {len(changes)} difference"
                 f"{'s' if len(changes) != 1 else ''} ({len(_kernel_packets(previous))} "
                 f"packets before, {count} now)")
    for change in changes:
        if change.kind is ChangeKind.CHANGED:
            assert change.before is not None and change.after is not None
            lines.append(f"  changed:      > {change.after.summary}   at {_at(change.after)}")
            lines.append(f"    was:        > {change.before.summary}   at {_at(change.before)}")
        elif change.kind is ChangeKind.APPEARED:
            assert change.after is not None
            lines.append(f"  appeared:     > {change.after.summary}   at {_at(change.after)}")
        else:
            assert change.before is not None
            lines.append(f"  disappeared:  > {change.before.summary}   "
                         f"(was at {_at(change.before)})")
    return tuple(lines)
