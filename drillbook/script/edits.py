"""Pure edits of a :class:`~drillbook.script.model.Script`: what the notebook controls produce.

A student who tweaks a script in a notebook changes *when* an event happens, *which* inbound
packet comes first, or removes an inbound packet. Each such change is a small frozen value
(:data:`ScriptEdit`); :func:`apply_edits` applies a sequence of them to a script and returns a
new script, leaving the original untouched. Event indices always refer to the script as it is
when that edit is applied (edits apply left to right).

Time semantics follow packetdrill (reference §1.1, §4.1): a relative time ``+t`` counts from
when the previous event finished, and the ``...end`` of a blocking syscall is measured from the
same base as its start, so moving an event's start moves its end with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from drillbook.errors import DrillbookError
from drillbook.script.model import (
    Direction,
    Event,
    EventTime,
    PacketSpec,
    Script,
    SyscallSpec,
    TimeKind,
)

__all__ = [
    "DropEvent",
    "EditError",
    "ReorderInbound",
    "ScriptEdit",
    "SetTime",
    "ShiftTime",
    "apply_edit",
    "apply_edits",
    "inbound_indices",
]


class EditError(DrillbookError, ValueError):
    """An edit does not fit the script (index out of range, negative time, bad permutation)."""


@dataclass(frozen=True)
class ShiftTime:
    """Move event ``event_index`` by ``delta_us`` (its written time; ranges move as a whole)."""

    event_index: int
    delta_us: int


@dataclass(frozen=True)
class SetTime:
    """Set the written start time of event ``event_index`` (relative or absolute as written)."""

    event_index: int
    time_us: int


@dataclass(frozen=True)
class ReorderInbound:
    """Permute the inbound packets among their slots.

    ``order[k]`` names which inbound packet (counted among inbound packets only, from 0) goes
    into the k-th inbound slot. A slot keeps its event position and its time: "segment 2
    arrives first" means segment 2 takes segment 1's place in the event list and its time,
    and everything between (syscalls, the kernel's answers) stays where it was.
    """

    order: tuple[int, ...]


@dataclass(frozen=True)
class DropEvent:
    """Remove event ``event_index``.

    The events after it keep their times: when the dropped event had a relative time and the
    next event is relative too, the dropped offset is added to the next one, because in
    packetdrill a relative time counts from the previous event.
    """

    event_index: int


ScriptEdit = ShiftTime | SetTime | ReorderInbound | DropEvent


def inbound_indices(script: Script) -> tuple[int, ...]:
    """Indices (into ``script.events``) of the inbound packet events, in script order."""
    return tuple(
        index
        for index, event in enumerate(script.events)
        if isinstance(event.action, PacketSpec) and event.action.direction is Direction.INBOUND
    )


def apply_edits(script: Script, edits: tuple[ScriptEdit, ...] | list[ScriptEdit]) -> Script:
    """Apply ``edits`` left to right; the input script is not modified."""
    for edit in edits:
        script = apply_edit(script, edit)
    return script


def apply_edit(script: Script, edit: ScriptEdit) -> Script:
    """Apply one edit and return the new script."""
    if isinstance(edit, ShiftTime):
        return _shift_time(script, edit.event_index, edit.delta_us)
    if isinstance(edit, SetTime):
        event = _event_at(script, edit.event_index)
        return _shift_time(script, edit.event_index, edit.time_us - event.time.start_us)
    if isinstance(edit, ReorderInbound):
        return _reorder_inbound(script, edit.order)
    return _drop_event(script, edit.event_index)


def _event_at(script: Script, index: int) -> Event:
    if not 0 <= index < len(script.events):
        raise EditError(f"no event {index}: the script has {len(script.events)} events")
    return script.events[index]


def _with_event(script: Script, index: int, event: Event) -> Script:
    events = script.events[:index] + (event,) + script.events[index + 1 :]
    return replace(script, events=events)


def _shift_time(script: Script, index: int, delta_us: int) -> Script:
    event = _event_at(script, index)
    if delta_us == 0:
        return script
    if event.time.kind is TimeKind.ANY:
        raise EditError(f"event {index} (line {event.line}) has time '*': it has no time to move")
    time = _shifted(event.time, delta_us, index, event.line)
    action = event.action
    if isinstance(action, SyscallSpec) and action.end_us is not None:
        # `start...end`: end is measured from the same base as start (reference §1.1).
        action = replace(action, end_us=action.end_us + delta_us)
    return _with_event(script, index, replace(event, time=time, action=action))


def _shifted(time: EventTime, delta_us: int, index: int, line: int) -> EventTime:
    start = time.start_us + delta_us
    if start < 0:
        raise EditError(f"event {index} (line {line}) would start at a negative time")
    end = None if time.end_us is None else time.end_us + delta_us
    return replace(time, start_us=start, end_us=end)


def _reorder_inbound(script: Script, order: tuple[int, ...]) -> Script:
    slots = inbound_indices(script)
    if sorted(order) != list(range(len(slots))):
        raise EditError(
            f"reorder needs a permutation of 0..{len(slots) - 1} "
            f"(one entry per inbound packet), got {order}"
        )
    events = list(script.events)
    for slot, source in zip(slots, order, strict=True):
        moved = script.events[slots[source]]
        # The slot keeps its time and position; the packet (with its own span) moves in.
        events[slot] = replace(script.events[slot], action=moved.action, span=moved.span)
    return replace(script, events=tuple(events))


def _drop_event(script: Script, index: int) -> Script:
    dropped = _event_at(script, index)
    events = list(script.events)
    del events[index]
    if index < len(events) and dropped.time.is_relative and events[index].time.is_relative:
        following = events[index]
        delta = dropped.time.start_us
        action = following.action
        if isinstance(action, SyscallSpec) and action.end_us is not None:
            action = replace(action, end_us=action.end_us + delta)
        events[index] = replace(
            following, time=_shifted(following.time, delta, index, following.line), action=action
        )
    return replace(script, events=tuple(events))
