"""The sequence diagram's rows, worked out from a Trace without drawing anything.

The diagram is one row per event, in the order things happened (Wireshark's Flow Graph is not
drawn to time scale either, teaching anchors §0.3): packetdrill scripts put many events at the
same moment (the SACK example sends 14 packets within 0.2 ms), so a time-proportional y axis
would pile them up. Time is printed beside each row instead, and large gaps become bands.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from drillbook.trace.model import (
    Direction,
    FailureKind,
    Outcome,
    PacketRecord,
    Step,
    StepKind,
    Trace,
)

PACKET_KINDS = (StepKind.INBOUND, StepKind.OUTBOUND)
# The event's time as written at the start of its text: 0, +.1, *, +0~+.5 ...
LEADING_TIME = re.compile(r"^(\*|[+-]?[0-9.]+(\s*~\s*[+-]?[0-9.]+)?)\s+")


def strip_time(text: str) -> str:
    """An event's text without the time it was written at: ``+.1 < S 0:0(0)`` -> ``< S ...``."""
    return LEADING_TIME.sub("", text.strip())


def script_packet(step: Step) -> PacketRecord:
    """A stand-in record for a packet step the runtime kept no packet for (a failure before
    the packet was built): its summary is the script's own text."""
    direction = Direction.INBOUND if step.kind is StepKind.INBOUND else Direction.OUTBOUND
    summary = strip_time(step.text).removeprefix(direction.value).strip()
    return PacketRecord(direction=direction, time_us=step.scheduled_us or 0, protocol="tcp",
                        summary=summary)


class PacketStatus(enum.Enum):
    """How a packet row is drawn."""

    OK = "ok"
    MISMATCH = "mismatch"  # an outbound packet came but differs (expected drawn as a ghost)
    MISSING = "missing"  # expected, never came (packetdrill: "Timed out waiting for packet")
    UNEXPECTED = "unexpected"  # in trace.packets, matched to no step
    NOT_RUN = "not_run"  # after the first fatal failure
    WARNING = "warning"  # a mismatch under --non_fatal=packet
    LATE = "late"  # the right packet at the wrong time (timing error)


@dataclass(frozen=True)
class Row:
    """One event of the diagram: a packet step, an unexpected packet, or a syscall/command."""

    time_us: int | None
    step: Step | None  # None for an unexpected packet
    packet: PacketRecord | None  # the packet drawn: the actual one if any, else the expected
    ghost: PacketRecord | None = None  # the expected packet, when the actual one differs
    status: PacketStatus = PacketStatus.OK
    state: str | None = None  # the TCP state entered after this event, if it changed
    parts: tuple[PacketRecord, ...] = ()  # wire packets a script packet was matched against

    @property
    def is_packet(self) -> bool:
        return self.packet is not None

    @property
    def direction(self) -> Direction | None:
        return self.packet.direction if self.packet is not None else None

    @property
    def line(self) -> int | None:
        return self.step.line if self.step is not None else None


@dataclass(frozen=True)
class Gap:
    """A stretch of time between two consecutive rows, wide enough to show as a band."""

    after_row: int  # the band sits between rows after_row and after_row + 1
    gap_us: int
    skipped: int = 0  # events left out of a long diagram here (the band says how many)

    @property
    def label(self) -> str:
        """``⋯  +100 ms  ⋯``, or ``⋯  73 events not shown  ⋯``."""
        if self.skipped:
            return f"⋯  {self.skipped} events not shown  ⋯"
        return f"⋯  {format_gap(self.gap_us)}  ⋯"


def packet_key(packet: PacketRecord) -> tuple[object, ...]:
    """What identifies one packet of a run (records are rebuilt by the JSON codec)."""
    return (packet.direction, packet.time_us, packet.summary, packet.seq, packet.end_seq)


def step_time_us(step: Step) -> int | None:
    """When a step happened (its actual time), or when it was due if it never ran."""
    if step.actual_us is not None:
        return step.actual_us
    if step.actual is not None:
        return step.actual.time_us
    return step.scheduled_us


def aggregate_parts(trace: Trace) -> dict[int, tuple[PacketRecord, ...]]:
    """Wire packets behind each step whose actual packet is an aggregate.

    Like packetdrill, the engine matches one script packet against several wire packets
    (TSO/GSO sends ``P. 1:10001(10000)`` as five 2000-byte segments) and records the sum; the
    wire packets then match no step by identity. They belong to the step whose range holds
    theirs, sent after the previous such step and no later than it."""
    wire = {packet_key(p) for p in trace.packets}
    parts: dict[int, tuple[PacketRecord, ...]] = {}
    since = {Direction.INBOUND: -1, Direction.OUTBOUND: -1}
    for step in trace.steps:
        got = step.actual
        if got is None or step.kind not in PACKET_KINDS:
            continue
        if packet_key(got) not in wire:
            parts[step.index] = tuple(
                p for p in trace.packets
                if p.direction is got.direction and since[got.direction] < p.time_us
                <= got.time_us and got.seq <= p.seq and p.end_seq <= got.end_seq
                and p.payload_len > 0
            )
        since[got.direction] = got.time_us
    return parts


def unexpected_packets(trace: Trace) -> tuple[PacketRecord, ...]:
    """Packets of the run that no script line injected or expected (packetdrill catches them
    lazily, at the next `>` line, so a passing run may still have some at its end)."""
    seen: set[tuple[object, ...]] = set()
    for step in trace.steps:
        for packet in (step.actual, step.expected):
            if packet is not None:
                seen.add(packet_key(packet))
    for group in aggregate_parts(trace).values():
        seen.update(packet_key(p) for p in group)
    return tuple(p for p in trace.packets if packet_key(p) not in seen)


def packet_status(step: Step, failure_kind: FailureKind | None) -> PacketStatus:
    """Classify a packet step from its outcome and, for the fatal one, the failure kind."""
    if step.outcome is Outcome.NOT_RUN:
        return PacketStatus.NOT_RUN
    if step.outcome is Outcome.WARNING:
        return PacketStatus.WARNING
    if step.outcome is Outcome.OK:
        return PacketStatus.OK
    if step.actual is None or failure_kind is FailureKind.TIMEOUT:
        return PacketStatus.MISSING
    if failure_kind is FailureKind.TIMING:
        return PacketStatus.LATE
    return PacketStatus.MISMATCH


def _step_row(step: Step, trace: Trace, parts: dict[int, tuple[PacketRecord, ...]]) -> Row:
    if step.kind not in PACKET_KINDS:
        return Row(time_us=step_time_us(step), step=step, packet=None)
    is_fatal = trace.failure is not None and trace.failure.line == step.line
    kind = trace.failure.kind if (is_fatal and trace.failure is not None) else None
    status = packet_status(step, kind)
    packet = step.actual if step.actual is not None else step.expected
    if packet is None:
        packet = script_packet(step)
    ghost = None
    if status in (PacketStatus.MISMATCH, PacketStatus.WARNING, PacketStatus.LATE):
        ghost = step.expected
    return Row(step_time_us(step), step, packet, ghost, status, parts=parts.get(step.index, ()))


def _merge(steps: list[Row], extras: Iterable[PacketRecord]) -> list[Row]:
    """Insert unexpected packets among the steps by time, keeping the script's order."""
    rows = list(steps)
    for packet in sorted(extras, key=lambda p: p.time_us):
        at = len(rows)
        for i, row in enumerate(rows):
            if row.time_us is not None and row.time_us > packet.time_us:
                at = i
                break
        rows.insert(at, Row(packet.time_us, None, packet, status=PacketStatus.UNEXPECTED))
    return rows


def _with_states(rows: list[Row]) -> list[Row]:
    """Mark the rows after which the socket under test's TCP state changed."""
    out: list[Row] = []
    current: str | None = None
    for row in rows:
        info = row.step.tcp_info if row.step is not None else None
        if info is not None and info.state and info.state != current:
            current = info.state
            row = replace(row, state=current)
        out.append(row)
    return out


def sequence_rows(trace: Trace) -> tuple[Row, ...]:
    """Every row of the sequence diagram, top to bottom."""
    parts = aggregate_parts(trace)
    # Script order: the runtime records a blocking call when it returns, but it began at its
    # own line, before the packets that woke it (packetdrill's `+0...0.100 read(...)`).
    # Times cannot order the rows: an injected packet is stamped after the write, so the
    # kernel's answer can carry an earlier time than the packet that caused it.
    ordered = sorted(trace.steps, key=lambda s: (s.line, s.index))
    steps = [_step_row(step, trace, parts) for step in ordered]
    return tuple(_with_states(_merge(steps, unexpected_packets(trace))))


def time_gaps(rows: tuple[Row, ...], threshold_us: int) -> tuple[Gap, ...]:
    """Gaps of at least ``threshold_us`` between consecutive rows that have a time."""
    gaps: list[Gap] = []
    last: int | None = None
    for i, row in enumerate(rows):
        if row.time_us is None:
            continue
        if last is not None and row.time_us - last >= threshold_us and i > 0:
            gaps.append(Gap(after_row=i - 1, gap_us=row.time_us - last))
        last = row.time_us if last is None else max(last, row.time_us)
    return tuple(gaps)


@dataclass(frozen=True)
class Window:
    """The rows a long diagram shows: all of them, or a head and the stretch around the
    failure, with a band where the rest were left out."""

    rows: tuple[Row, ...]
    gaps: tuple[Gap, ...]


def visible_rows(rows: tuple[Row, ...], threshold_us: int, max_rows: int | None,
                 failure_line: int | None) -> Window:
    """At most ``max_rows`` rows: the first ones and, when the run failed further down, the
    rows leading to the failure (the part a student needs to see)."""
    if max_rows is None or len(rows) <= max_rows:
        return Window(rows, time_gaps(rows, threshold_us))
    lines = [r.line for r in rows]
    focus = lines.index(failure_line) if failure_line in lines else -1
    if focus < max_rows - 3:  # nothing to show further down: the first max_rows rows
        kept, bands = rows[:max_rows], [(max_rows - 1, len(rows) - max_rows)]
    else:
        tail = max_rows // 3
        head = max_rows - tail
        end = min(len(rows), focus + 6)  # a few events after the failure (not-run ones)
        begin = end - tail
        kept = rows[:head] + rows[begin:end]
        bands = [(head - 1, begin - head), (len(kept) - 1, len(rows) - end)]
    cuts = {at for at, n in bands if n > 0}
    gaps = [g for g in time_gaps(kept, threshold_us) if g.after_row not in cuts]
    gaps += [Gap(after_row=at, gap_us=0, skipped=n) for at, n in bands if n > 0]
    return Window(kept, tuple(sorted(gaps, key=lambda g: g.after_row)))


def format_time(time_us: int | None) -> str:
    """A row's time, as milliseconds with microsecond precision: ``100.052 ms``."""
    if time_us is None:
        return "—"
    return f"{time_us / 1000:.3f} ms"


def format_gap(gap_us: int) -> str:
    """A gap's length in the unit that reads best: ``+100 ms``, ``+1.5 s``, ``+250 µs``."""
    if gap_us >= 1_000_000:
        return f"+{gap_us / 1_000_000:g} s"
    if gap_us >= 1000:
        return f"+{round(gap_us / 1000, 1):g} ms"
    return f"+{gap_us} µs"
