"""Edits that belong to events, not to positions: what a student does with the ``--tweak``
controls, one action at a time.

A student shifts *this packet* by 50 ms, moves *that packet* to the front, drops *a third*. Each
action names its event by identity (the event's index in the script as written), so the order
in which they are made does not matter: a time shift stays with its packet wherever the packet
moves, and a dropped packet takes its shift with it. :func:`resolve` turns the actions into one
positional :data:`~drillbook.script.edits.ScriptEdit` sequence over the script as written
(drops, then the new arrival order, then the time shifts at the packets' final places), which
:func:`~drillbook.script.edits.apply_edits` applies. The actions form a history; undoing is
dropping the last one (:meth:`EditHistory.undo`).

Arrival order follows :class:`~drillbook.script.edits.ReorderInbound`: an inbound slot keeps
its place in the event list and its written time, and the packet moves in. A shift on a packet
then counts from the time of the slot it arrives in.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from drillbook.script.edits import (
    DropEvent,
    EditError,
    ReorderInbound,
    ScriptEdit,
    ShiftTime,
    apply_edits,
    inbound_indices,
)
from drillbook.script.model import Script

__all__ = [
    "DropInbound",
    "EditHistory",
    "EditState",
    "MoveInbound",
    "PacketEdit",
    "ShiftEvent",
    "edit_state",
    "moves_between",
    "resolve",
    "running_order",
]


@dataclass(frozen=True)
class ShiftEvent:
    """Move event ``event`` (its index as written) by ``delta_us``, wherever it ends up."""

    event: int
    delta_us: int


@dataclass(frozen=True)
class MoveInbound:
    """Inbound packet ``event`` arrives ``position``-th among the kept inbound packets (a
    dropped packet moved somewhere comes back)."""

    event: int
    position: int


@dataclass(frozen=True)
class DropInbound:
    """Inbound packet ``event`` is not sent."""

    event: int


PacketEdit = ShiftEvent | MoveInbound | DropInbound


@dataclass(frozen=True)
class EditState:
    """Where a sequence of actions leaves the script: arrival order, drops, shifts (by event
    index as written)."""

    order: tuple[int, ...]  # the kept inbound packets, in arrival order
    dropped: frozenset[int]
    shifts: tuple[tuple[int, int], ...]  # (event, delta_us), non-zero, sorted

    def shift_of(self, event: int) -> int:
        return dict(self.shifts).get(event, 0)


def edit_state(script: Script, edits: tuple[PacketEdit, ...] | list[PacketEdit]) -> EditState:
    """Replay ``edits`` over ``script`` as written (EditError names an edit that does not fit)."""
    inbound = inbound_indices(script)
    order = list(inbound)
    dropped: set[int] = set()
    shifts: dict[int, int] = {}
    for edit in edits:
        if isinstance(edit, ShiftEvent):
            if not 0 <= edit.event < len(script.events):
                raise EditError(f"no event {edit.event}: the script has "
                                f"{len(script.events)} events")
            shifts[edit.event] = shifts.get(edit.event, 0) + edit.delta_us
            continue
        if edit.event not in inbound:
            raise EditError(f"event {edit.event} is not an inbound packet")
        if edit.event in order:
            order.remove(edit.event)
        if isinstance(edit, DropInbound):
            dropped.add(edit.event)
            continue
        dropped.discard(edit.event)
        order.insert(max(0, min(edit.position, len(order))), edit.event)
    return EditState(tuple(order), frozenset(dropped),
                     tuple(sorted((e, d) for e, d in shifts.items() if d)))


def resolve(script: Script, edits: tuple[PacketEdit, ...] | list[PacketEdit]) -> tuple[
        ScriptEdit, ...]:
    """The actions as one positional edit sequence over ``script`` as written."""
    state = edit_state(script, edits)
    positional: list[ScriptEdit] = [DropEvent(e) for e in sorted(state.dropped, reverse=True)]
    kept = [e for e in inbound_indices(script) if e not in state.dropped]
    permutation = tuple(kept.index(e) for e in state.order)
    if permutation != tuple(range(len(permutation))):
        positional.append(ReorderInbound(permutation))
    final = _final_positions(script, state, kept)
    for event, delta in state.shifts:
        if event in state.dropped:
            continue  # the shift left with its packet
        positional.append(ShiftTime(final[event], delta))
    return tuple(positional)


def _final_positions(script: Script, state: EditState, kept: list[int]) -> dict[int, int]:
    """Each kept event's index once the drops and the new arrival order are applied."""
    after_drops = [e for e in range(len(script.events)) if e not in state.dropped]
    where = {event: index for index, event in enumerate(after_drops)}
    slots = [where[e] for e in kept]  # inbound slots, in script order, after the drops
    for slot, event in zip(slots, state.order, strict=True):
        where[event] = slot
    return where


@dataclass
class EditHistory:
    """The actions made so far over one script, undoable one by one."""

    script: Script
    edits: list[PacketEdit] = field(default_factory=list)

    def add(self, edit: PacketEdit) -> None:
        """Record an action (it must fit: an EditError leaves the history as it was)."""
        candidate = [*self.edits, edit]
        apply_edits(self.script, resolve(self.script, candidate))
        self.edits.append(edit)

    def undo(self) -> PacketEdit | None:
        """Forget the last action; returns it (None when there was none)."""
        return self.edits.pop() if self.edits else None

    def clear(self) -> None:
        self.edits.clear()

    @property
    def state(self) -> EditState:
        return edit_state(self.script, self.edits)

    def positional(self) -> tuple[ScriptEdit, ...]:
        return resolve(self.script, self.edits)

    def edited(self) -> Script:
        return apply_edits(self.script, self.positional())


def running_order(script: Script, state: EditState) -> tuple[int, ...]:
    """The events as written (their indices) in the order the edited script runs them."""
    kept = [e for e in inbound_indices(script) if e not in state.dropped]
    final = _final_positions(script, state, kept)
    return tuple(sorted(final, key=final.__getitem__))


def moves_between(current: tuple[int, ...], wanted: tuple[int, ...]) -> tuple[PacketEdit, ...]:
    """The actions that turn arrival order ``current`` into ``wanted``: drops for packets
    missing from it, and one move per packet that left the longest run kept in order (so a
    single drag is a single move)."""
    actions: list[PacketEdit] = [DropInbound(e) for e in current if e not in wanted]
    order = [e for e in current if e in wanted]
    stable: set[int] = set()
    matcher = difflib.SequenceMatcher(a=order, b=list(wanted), autojunk=False)
    for block in matcher.get_matching_blocks():
        stable.update(order[block.a:block.a + block.size])
    for position, event in enumerate(wanted):
        if event in stable:
            continue
        if event in order:
            order.remove(event)
        order.insert(position, event)
        actions.append(MoveInbound(event, position))
    if tuple(order) != tuple(wanted):  # cannot happen with the above; stay correct anyway
        actions.extend(MoveInbound(e, k) for k, e in enumerate(wanted))
    return tuple(actions)
