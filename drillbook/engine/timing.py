"""packetdrill's time model, as pure functions over integer microseconds.

Theory (run.c): every event has a script time. A relative time (``+t``) is anchored to the moment
the previous event actually *finished* — except that consecutive inbound packets are anchored to
the previous inbound packet's *scheduled* time, so that CPU overheads do not add up over a burst.
The tolerance of a check is ``max(tolerance_usecs, tolerance_percent% x (t - t_prev))`` where
``t_prev`` is the previous event's (adjusted) script time; early and late count the same.
Ranges pass inside ``[start - tol, end + tol]``; ``*`` is never checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from drillbook.script.model import EventTime, TimeKind


@dataclass(frozen=True)
class Tolerance:
    usecs: int
    percent: float

    def for_gap(self, gap_us: int | None) -> int:
        """The tolerance for an event ``gap_us`` after the previous one (None: first event)."""
        tol = self.usecs
        if gap_us is not None:
            # C truncates the double to long, as does int() here.
            dynamic = int((self.percent / 100.0) * gap_us)
            if dynamic > tol:
                tol = dynamic
        return tol


@dataclass(frozen=True)
class Schedule:
    """An event's adjusted script times (µs since time 0)."""

    start_us: int
    end_us: int  # == start_us except for ranges
    offset_us: int  # what a relative time was added to (0 for absolute times)


def adjust(time: EventTime, *, anchor_us: int) -> Schedule:
    """Resolve ``time`` against ``anchor_us`` (see the module docstring for which anchor)."""
    if time.kind is TimeKind.ABSOLUTE:
        return Schedule(time.start_us, time.start_us, 0)
    if time.kind is TimeKind.ABSOLUTE_RANGE:
        end = time.end_us if time.end_us is not None else time.start_us
        return Schedule(time.start_us, end, 0)
    # RELATIVE, RELATIVE_RANGE and ANY (whose value is 0) are all offset by the anchor.
    end_rel = time.end_us if time.end_us is not None else time.start_us
    return Schedule(time.start_us + anchor_us, end_rel + anchor_us, anchor_us)


def seconds(us: int) -> str:
    """Microseconds as packetdrill prints seconds: ``%.6f``."""
    return f"{us / 1e6:.6f}"


def verify_time(
    kind: TimeKind,
    schedule: Schedule,
    actual_us: int,
    previous_us: int | None,
    tolerance: Tolerance,
    description: str,
) -> str | None:
    """packetdrill's ``verify_time``: None if on time, else its error text."""
    if kind is TimeKind.ANY:
        return None
    gap = None if previous_us is None else schedule.start_us - previous_us
    tol = tolerance.for_gap(gap)
    if kind is TimeKind.ABSOLUTE_RANGE or kind is TimeKind.RELATIVE_RANGE:
        if schedule.start_us - tol <= actual_us <= schedule.end_us + tol:
            return None
        if kind is TimeKind.ABSOLUTE_RANGE:
            return (
                f"timing error: expected {description} in time range "
                f"{seconds(schedule.start_us)}~{seconds(schedule.end_us)} sec "
                f"but happened at {seconds(actual_us)} sec"
            )
        off = schedule.offset_us
        return (
            f"timing error: expected {description} in relative time range "
            f"+{seconds(schedule.start_us - off)}~+{seconds(schedule.end_us - off)} sec "
            f"but happened at {(actual_us - off) / 1e6:+.6f} sec"
        )
    if schedule.start_us - tol <= actual_us <= schedule.start_us + tol:
        return None
    return (
        f"timing error: expected {description} at {seconds(schedule.start_us)} sec "
        f"but happened at {seconds(actual_us)} sec; tolerance {seconds(tol)} sec"
    )


SNIFF_GRACE_S = 2  # packetdrill waits this long past the expected time for an outbound packet


def sniff_timeout_us(schedule: Schedule, kind: TimeKind, last_script_us: int) -> int | None:
    """How long to wait for an expected outbound packet, from when sniffing starts.

    packetdrill computes ``max(t - t_last, end - t_last)`` in whole seconds (truncated) plus
    2 s; ``*`` waits forever (None).
    """
    if kind is TimeKind.ANY:
        return None
    expected = max(schedule.start_us, schedule.end_us) - last_script_us
    whole_seconds = int(expected / 1e6 + SNIFF_GRACE_S)  # C's implicit double->s32 truncation
    return max(whole_seconds, 0) * 1_000_000
