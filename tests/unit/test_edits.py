"""Pure ScriptEdit values applied to a Script (drillbook/script/edits.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drillbook.script.edits import (
    DropEvent,
    EditError,
    ReorderInbound,
    SetTime,
    ShiftTime,
    apply_edit,
    apply_edits,
    inbound_indices,
)
from drillbook.script.model import (
    Direction,
    EllipsisExpr,
    Event,
    EventTime,
    IntExpr,
    PacketSpec,
    Script,
    SyscallSpec,
    TcpSpec,
    TimeKind,
)


def _rel(us: int) -> EventTime:
    return EventTime(TimeKind.RELATIVE, us)


def _inbound(start: int, length: int) -> PacketSpec:
    body = TcpSpec(".", start, start + length, length, ack=1, window=32792)
    return PacketSpec(Direction.INBOUND, body)


def _outbound(ack: int) -> PacketSpec:
    return PacketSpec(Direction.OUTBOUND, TcpSpec(".", 1, 1, 0, ack=ack))


def _call(name: str, result: int = 0, end_us: int | None = None) -> SyscallSpec:
    return SyscallSpec(name, (EllipsisExpr(),), IntExpr(result), end_us=end_us)


def _sack_like() -> Script:
    """Five data segments, each answered by an ACK, after an accept()."""
    events = [Event(EventTime(TimeKind.ABSOLUTE, 0), _call("accept", 4))]
    for k in range(5):
        events.append(Event(_rel(1000 * k), _inbound(1 + 1000 * k, 1000)))
        events.append(Event(_rel(0), _outbound(1 + 1000 * (k + 1))))
    return Script(options=(), init_command=None, events=tuple(events))


def _inbound_starts(script: Script) -> list[int]:
    starts = []
    for index in inbound_indices(script):
        action = script.events[index].action
        assert isinstance(action, PacketSpec) and isinstance(action.body, TcpSpec)
        starts.append(action.body.start_seq)
    return starts


def test_inbound_indices_are_the_inbound_packet_events() -> None:
    assert inbound_indices(_sack_like()) == (1, 3, 5, 7, 9)


def test_reorder_moves_packets_and_keeps_slot_times() -> None:
    script = _sack_like()
    edited = apply_edit(script, ReorderInbound((4, 0, 1, 2, 3)))
    assert _inbound_starts(edited) == [4001, 1, 1001, 2001, 3001]
    # Each slot keeps its time: segment 5 now arrives at the first slot's time (+0).
    assert [e.time for e in edited.events] == [e.time for e in script.events]
    # Outbound lines and syscalls stay where they were.
    for index in (0, 2, 4, 6, 8, 10):
        assert edited.events[index] == script.events[index]
    assert script == _sack_like()  # the original is untouched


def test_reorder_rejects_non_permutations() -> None:
    with pytest.raises(EditError, match="permutation"):
        apply_edit(_sack_like(), ReorderInbound((0, 0, 1, 2, 3)))
    with pytest.raises(EditError):
        apply_edit(_sack_like(), ReorderInbound((0, 1, 2)))


def test_shift_time_moves_start_and_blocking_end() -> None:
    events = (
        Event(EventTime(TimeKind.ABSOLUTE, 0), _call("socket", 3)),
        Event(_rel(100_000), _call("read", 10, end_us=200_000)),
    )
    script = Script((), None, events)
    edited = apply_edit(script, ShiftTime(1, 50_000))
    assert edited.events[1].time.start_us == 150_000
    action = edited.events[1].action
    assert isinstance(action, SyscallSpec) and action.end_us == 250_000


def test_set_time_moves_a_range_as_a_whole() -> None:
    ranged = EventTime(TimeKind.RELATIVE_RANGE, 100_000, 105_000)
    script = Script((), None, (Event(EventTime(TimeKind.ABSOLUTE, 0), _call("x")),
                               Event(ranged, _outbound(1))))
    edited = apply_edit(script, SetTime(1, 300_000))
    assert (edited.events[1].time.start_us, edited.events[1].time.end_us) == (300_000, 305_000)


def test_time_edits_refuse_negative_times_and_star_times() -> None:
    script = _sack_like()
    with pytest.raises(EditError, match="negative"):
        apply_edit(script, ShiftTime(3, -5_000))
    star = Script((), None, (Event(EventTime(TimeKind.ANY), _outbound(1)),))
    with pytest.raises(EditError, match="'\\*'"):
        apply_edit(star, ShiftTime(0, 1))
    with pytest.raises(EditError, match="no event 99"):
        apply_edit(script, SetTime(99, 0))


def test_drop_keeps_later_events_at_their_times() -> None:
    script = _sack_like()
    # Event 3 (+1000us) is dropped; event 4 (+0) inherits its offset so it stays put.
    edited = apply_edit(script, DropEvent(3))
    assert len(edited.events) == len(script.events) - 1
    assert edited.events[3].time.start_us == 1000
    assert edited.events[3].action == script.events[4].action


def test_drop_last_event() -> None:
    script = _sack_like()
    edited = apply_edit(script, DropEvent(len(script.events) - 1))
    assert edited.events == script.events[:-1]


def test_edits_apply_left_to_right() -> None:
    script = _sack_like()
    edited = apply_edits(script, [DropEvent(9), ReorderInbound((3, 2, 1, 0))])
    assert _inbound_starts(edited) == [3001, 2001, 1001, 1]


permutations = st.permutations(list(range(5))).map(tuple)


@given(permutations)
def test_reorder_by_identity_is_identity(_: tuple[int, ...]) -> None:
    script = _sack_like()
    assert apply_edit(script, ReorderInbound(tuple(range(5)))) == script


@given(permutations)
def test_reorder_then_inverse_is_identity(order: tuple[int, ...]) -> None:
    script = _sack_like()
    inverse = tuple(order.index(k) for k in range(len(order)))
    edited = apply_edits(script, [ReorderInbound(order), ReorderInbound(inverse)])
    assert edited == script


@given(permutations)
def test_reorder_permutes_the_inbound_packets(order: tuple[int, ...]) -> None:
    script = _sack_like()
    before = _inbound_starts(script)
    assert _inbound_starts(apply_edit(script, ReorderInbound(order))) == [
        before[k] for k in order
    ]


@given(st.integers(0, 10), st.integers(0, 10**6))
def test_shift_then_unshift_is_identity(index: int, delta: int) -> None:
    script = _sack_like()
    there = apply_edit(script, ShiftTime(index, delta))
    assert apply_edit(there, ShiftTime(index, -delta)) == script


@given(st.integers(0, 10))
def test_set_time_to_the_written_time_is_identity(index: int) -> None:
    script = _sack_like()
    assert apply_edit(script, SetTime(index, script.events[index].time.start_us)) == script


@given(st.integers(1, 10))
def test_drop_preserves_total_relative_time(index: int) -> None:
    """With only relative events after time 0, dropping keeps the sum of later offsets."""
    script = _sack_like()
    edited = apply_edit(script, DropEvent(index))
    total = sum(e.time.start_us for e in script.events)
    if index == len(script.events) - 1:
        total -= script.events[index].time.start_us
    assert sum(e.time.start_us for e in edited.events) == total
