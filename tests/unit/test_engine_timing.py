"""packetdrill's time model: anchoring, tolerance and its wording."""

from __future__ import annotations

from drillbook.engine.timing import Schedule, Tolerance, adjust, sniff_timeout_us, verify_time
from drillbook.script.model import EventTime, TimeKind

TOL = Tolerance(4000, 12.5)


def test_relative_time_is_offset_by_the_anchor() -> None:
    schedule = adjust(EventTime(TimeKind.RELATIVE, 100_000), anchor_us=250_000)
    assert schedule == Schedule(350_000, 350_000, 250_000)


def test_absolute_time_ignores_the_anchor() -> None:
    assert adjust(EventTime(TimeKind.ABSOLUTE, 100_000), anchor_us=9).start_us == 100_000


def test_tolerance_is_the_larger_of_floor_and_percentage() -> None:
    assert TOL.for_gap(None) == 4000
    assert TOL.for_gap(10_000) == 4000
    assert TOL.for_gap(1_000_000) == 125_000


def test_on_time_within_tolerance_passes_both_ways() -> None:
    schedule = Schedule(200_000, 200_000, 0)
    for actual in (196_000, 204_000):
        assert verify_time(TimeKind.ABSOLUTE, schedule, actual, 199_000, TOL, "x") is None


def test_late_event_is_reported_in_packetdrills_words() -> None:
    schedule = Schedule(200_000, 200_000, 0)
    error = verify_time(TimeKind.ABSOLUTE, schedule, 212_000, 200_000, TOL, "outbound packet")
    assert error == (
        "timing error: expected outbound packet at 0.200000 sec but happened at "
        "0.212000 sec; tolerance 0.004000 sec"
    )


def test_range_passes_inside_and_fails_outside() -> None:
    schedule = Schedule(100_000, 105_000, 0)
    assert verify_time(TimeKind.RELATIVE_RANGE, schedule, 108_000, 0, TOL, "p") is None
    error = verify_time(TimeKind.RELATIVE_RANGE, schedule, 130_000, 0, TOL, "outbound packet")
    assert error is not None and "relative time range +0.100000~+0.105000" in error


def test_any_time_is_never_checked() -> None:
    assert verify_time(TimeKind.ANY, Schedule(0, 0, 0), 10**9, 0, TOL, "p") is None
    assert sniff_timeout_us(Schedule(0, 0, 0), TimeKind.ANY, 0) is None


def test_sniff_timeout_is_whole_seconds_plus_two() -> None:
    assert sniff_timeout_us(Schedule(1_500_000, 1_500_000, 0), TimeKind.RELATIVE, 0) == 3_000_000
    assert sniff_timeout_us(Schedule(100, 100, 0), TimeKind.RELATIVE, 0) == 2_000_000
