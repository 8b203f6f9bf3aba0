"""What the packet engine hands back: prepared packets, verdicts and failures."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drillbook.engine.records import AnyRecord
from drillbook.trace.model import FailureKind


@dataclass(frozen=True)
class PacketFailure:
    message: str
    details: tuple[str, ...] = ()
    field_name: str | None = None
    kind: FailureKind = FailureKind.PACKET
    non_fatal: bool = False  # may become a warning under --non_fatal=packet


@dataclass(frozen=True)
class InboundPacket:
    data: bytes
    gso_type: int = 0
    gso_size: int = 0


class OutboundVerdictKind(enum.Enum):
    """What one sniffed packet did to the `>` line waiting for it."""

    SKIP = "skip"  # another flow's packet: not this line's
    MORE = "more"  # a segment of the line's packet, still aggregating
    DONE = "done"  # the line is decided (matched, or failed)


@dataclass(frozen=True)
class OutboundVerdict:
    kind: OutboundVerdictKind
    record: AnyRecord | None = None  # the sniffed segment, for the trace
    actual: AnyRecord | None = None  # the (aggregated) packet compared, in script space
    failure: PacketFailure | None = None


def usec(us: int) -> str:
    return f"{us / 1e6:9.6f}"
