"""Edits tied to packets (drillbook/script/packet_edits.py): a shift, a move and a drop made in
any order land on the packets they were made on, resolved to one ScriptEdit sequence."""

from __future__ import annotations

import itertools

import pytest
from test_edits import _inbound_starts, _sack_like

from drillbook.script.edits import EditError, ReorderInbound, ShiftTime, apply_edits
from drillbook.script.model import Direction, PacketSpec, Script, TcpSpec
from drillbook.script.packet_edits import (
    DropInbound,
    EditHistory,
    MoveInbound,
    PacketEdit,
    ShiftEvent,
    edit_state,
    moves_between,
    resolve,
    running_order,
)

# _sack_like(): accept at 0, then inbound 1:1001 at event 1, 1001:2001 at 3, 2001:3001 at 5,
# 3001:4001 at 7, 4001:5001 at 9, each answered by an ACK.
SEGMENT_2, SEGMENT_4, SEGMENT_5 = 3, 7, 9


def _time_of(script: Script, start_seq: int) -> int:
    for event in script.events:
        action = event.action
        if isinstance(action, PacketSpec) and isinstance(action.body, TcpSpec) \
                and action.direction is Direction.INBOUND and action.body.start_seq == start_seq:
            return event.time.start_us
    raise AssertionError(f"no packet {start_seq}")


ISSUE_STEPS: list[PacketEdit] = [
    ShiftEvent(SEGMENT_2, 50_000),  # +50 ms on the row of 1001:2001
    MoveInbound(SEGMENT_5, 0),  # drag the last segment to the front
    DropInbound(SEGMENT_4),  # drop 3001:4001
]


@pytest.mark.parametrize("steps", list(itertools.permutations(ISSUE_STEPS)))
def test_shift_move_and_drop_follow_their_packets_in_any_order(
        steps: tuple[PacketEdit, ...]) -> None:
    script = _sack_like()
    edited = apply_edits(script, resolve(script, steps))
    assert _inbound_starts(edited) == [4001, 1, 1001, 2001]
    # 1001:2001 now arrives in the third inbound slot (written +2000 us) and carries its shift.
    assert _time_of(edited, 1001) == 2000 + 50_000
    assert _time_of(edited, 1) == 1000 and _time_of(edited, 2001) == 3000 + 1000
    assert _time_of(edited, 4001) == 0


def test_the_issue_steps_resolve_to_one_positional_sequence() -> None:
    script = _sack_like()
    positional = resolve(script, ISSUE_STEPS)
    assert positional[-1] == ShiftTime(5, 50_000)  # where 1001:2001 ends up
    assert any(isinstance(e, ReorderInbound) for e in positional)


def test_undo_takes_back_one_action_at_a_time() -> None:
    history = EditHistory(_sack_like())
    for step in ISSUE_STEPS:
        history.add(step)
    assert _inbound_starts(history.edited()) == [4001, 1, 1001, 2001]
    assert history.undo() == DropInbound(SEGMENT_4)
    assert _inbound_starts(history.edited()) == [4001, 1, 1001, 2001, 3001]
    history.undo()
    assert _inbound_starts(history.edited()) == [1, 1001, 2001, 3001, 4001]
    assert _time_of(history.edited(), 1001) == 1000 + 50_000
    history.undo()
    assert history.edited() == history.script and history.undo() is None


def test_a_dropped_packet_moved_back_returns_and_its_shift_with_it() -> None:
    script = _sack_like()
    steps = [ShiftEvent(SEGMENT_4, 7000), DropInbound(SEGMENT_4), MoveInbound(SEGMENT_4, 0)]
    state = edit_state(script, steps)
    assert state.order[0] == SEGMENT_4 and not state.dropped
    assert _time_of(apply_edits(script, resolve(script, steps)), 3001) == 0 + 7000


def test_an_edit_that_does_not_fit_is_refused_and_not_recorded() -> None:
    history = EditHistory(_sack_like())
    with pytest.raises(EditError):
        history.add(ShiftEvent(SEGMENT_2, -10_000_000))  # before time 0
    with pytest.raises(EditError):
        history.add(DropInbound(2))  # an outbound packet
    assert history.edits == []


@pytest.mark.parametrize("wanted", [
    (9, 1, 3, 5, 7), (3, 5, 7, 9, 1), (1, 5, 3, 9), (9, 7, 5, 3, 1), (5,), (1, 3, 5, 7, 9)])
def test_a_new_arrival_order_becomes_the_fewest_moves(wanted: tuple[int, ...]) -> None:
    script = _sack_like()
    current = edit_state(script, []).order
    actions = moves_between(current, wanted)
    assert edit_state(script, actions).order == wanted
    if sorted(wanted) == list(current) and wanted[1:] == current[:-1]:
        assert actions == (MoveInbound(9, 0),)  # one drag, one move


def test_running_order_follows_the_moves() -> None:
    script = _sack_like()
    state = edit_state(script, ISSUE_STEPS)
    assert running_order(script, state) == (0, 9, 2, 1, 4, 3, 6, 8, 5, 10)
