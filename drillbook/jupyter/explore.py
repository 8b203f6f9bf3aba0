"""Explore mode's answer: the script rewritten with what the kernel actually sent.

In explore mode the engine does not assert ``>`` lines: each gets the packet the kernel sent,
and packets sent after the last event (during a grace period) are recorded without a step.
:func:`rewrite_script` turns such a trace back into a script that passes when run normally:

- inbound lines, syscalls, commands and code blocks stay exactly as written;
- each ``>`` line becomes the kernel's packet, built from its :class:`PacketRecord` (script-space
  seq/ack/flags/options). ``win`` is omitted, as packetdrill then does not check it (§4.3);
  ``<...>`` stays ``<...>``; a ``>`` line the kernel never answered is dropped;
- a packet no ``>`` line took (an extra one, or one sent in the grace period) becomes a new
  ``>`` line at its time;
- a time is rewritten only when the kernel's time is outside packetdrill's tolerance
  (max(tolerance_usecs, tolerance_percent x the gap), reference §4.1).

Pure (no IPython): the printer turns the result into text.
"""

from __future__ import annotations

from dataclasses import replace

from drillbook.config import RunConfig
from drillbook.engine.timing import Tolerance
from drillbook.jupyter.verdict import unanswered_outbound
from drillbook.script.edits import DropEvent, apply_edits
from drillbook.script.model import (
    Direction,
    Event,
    EventTime,
    PacketSpec,
    Script,
    TcpOption,
    TcpSpec,
    TimeKind,
)
from drillbook.trace.model import Outcome, PacketRecord, Step, StepKind, TcpOptionRecord, Trace

__all__ = ["observed_tcp_spec", "rewrite_script", "rewritten_text"]

# Rewritten times are rounded: a reader wants `+.04`, not `+0.040187`; 100 us is far below
# packetdrill's smallest tolerance (4 ms).
_ROUND_US = 100


def rewritten_text(
    script: Script, trace: Trace, config: RunConfig | None = None, grace_us: int | None = None
) -> str:
    """The rewritten script as text (see :func:`rewrite_script`)."""
    from drillbook.script.printer import format_script

    return format_script(rewrite_script(script, trace, config or RunConfig(), grace_us))


def rewrite_script(
    script: Script, trace: Trace, config: RunConfig, grace_us: int | None = None
) -> Script:
    """``script`` with its ``>`` lines replaced by the kernel's packets from ``trace``.

    Packets no ``>`` line took are added when they came at most ``grace_us`` after the last
    event (None: any time). Later ones answer the run's own clean-up, not the script: the
    RSTs injected at the end draw challenge ACKs (RFC 5961 §3.2) that a normal run of the
    rewritten script would never see.
    """
    steps = {step.index: step for step in trace.steps}
    events = list(script.events)
    times: list[int | None] = []
    drops: list[int] = []
    for index, event in enumerate(script.events):
        step = steps.get(index)
        times.append(_actual_time(step))
        if step is None or step.kind is not StepKind.OUTBOUND:
            continue
        if step.actual is None:
            if step.outcome is not Outcome.NOT_RUN:
                drops.append(index)
            continue
        events[index] = _observed_event(event, step, step.actual, _previous_time(times, index),
                                        config)
    rewritten = replace(script, events=tuple(events))
    rewritten = apply_edits(rewritten, [DropEvent(i) for i in sorted(drops, reverse=True)])
    kept_times = [t for i, t in enumerate(times) if i not in set(drops)]
    return _insert_extras(rewritten, kept_times, unanswered_outbound(trace, grace_us))


def _actual_time(step: Step | None) -> int | None:
    if step is None:
        return None
    if step.actual is not None:
        return step.actual.time_us
    return step.actual_us


def _previous_time(times: list[int | None], index: int) -> int | None:
    for time in reversed(times[:index]):
        if time is not None:
            return time
    return None


def _observed_event(
    event: Event, step: Step, actual: PacketRecord, previous_us: int | None, config: RunConfig
) -> Event:
    action = event.action
    assert isinstance(action, PacketSpec)
    if not isinstance(action.body, TcpSpec) or actual.protocol != "tcp":
        return event  # only TCP lines are rewritten; others stay as written
    body = observed_tcp_spec(actual, action.body)
    time = _observed_time(event.time, step, actual.time_us, previous_us, config)
    return replace(event, time=time, action=replace(action, body=body))


def observed_tcp_spec(actual: PacketRecord, written: TcpSpec | None = None) -> TcpSpec:
    """A ``>`` line's TCP part for the packet the kernel sent (``win`` omitted)."""
    options: tuple[TcpOption, ...] | None = None
    any_options = False
    if written is not None and written.any_options:
        any_options = True
    else:
        converted = _options(actual.options, actual.sack_blocks, written)
        if converted is None:
            any_options = True
        elif converted:
            options = converted
    return TcpSpec(
        flags=actual.flags,
        start_seq=actual.seq,
        end_seq=actual.end_seq,
        payload_len=actual.payload_len,
        ack=actual.ack,
        window=None,
        options=options,
        any_options=any_options,
    )


def _options(
    records: tuple[TcpOptionRecord, ...],
    sack_blocks: tuple[tuple[int, int], ...],
    written: TcpSpec | None,
) -> tuple[TcpOption, ...] | None:
    """The kernel's options as script options; None when one cannot be written back."""
    options: list[TcpOption] = []
    for record in records:
        option = _option(record, sack_blocks, written)
        if option is None:
            return None
        options.append(option)
    return tuple(options)


def _option(
    record: TcpOptionRecord, sack_blocks: tuple[tuple[int, int], ...], written: TcpSpec | None
) -> TcpOption | None:
    words = record.text.split()
    kind = record.kind
    if kind in ("nop", "eol", "sackOK"):
        return TcpOption(kind)
    if kind in ("mss", "wscale") and len(words) == 2 and words[1].isdigit():
        return TcpOption(kind, value=int(words[1]))
    if kind == "sack":
        blocks = sack_blocks or tuple(_block(word) for word in words[1:])
        return TcpOption("sack", blocks=blocks)
    if kind == "TS":
        # The kernel's TS val is a clock reading; the script-space value the run checks
        # against is what the script wrote, so reuse it when there was one.
        for option in (written.options or ()) if written is not None else ():
            if option.kind == "TS":
                return option
        return None
    if kind in ("FO", "FOEXP", "md5"):
        return TcpOption(kind, cookie=words[1] if len(words) > 1 else "")
    return None


def _block(word: str) -> tuple[int, int]:
    left, right = word.split(":")
    return int(left), int(right)


def _observed_time(
    time: EventTime, step: Step, actual_us: int, previous_us: int | None, config: RunConfig
) -> EventTime:
    if time.kind is not TimeKind.ABSOLUTE and time.kind is not TimeKind.RELATIVE:
        return time  # `*` and ranges already say "about then"
    scheduled = step.scheduled_us
    if scheduled is None:
        return time
    gap = time.start_us if time.is_relative else 0
    tolerance = Tolerance(config.tolerance_usecs, config.tolerance_percent).for_gap(gap)
    if abs(actual_us - scheduled) <= tolerance:
        return time
    if time.kind is TimeKind.ABSOLUTE:
        return replace(time, start_us=_rounded(actual_us))
    base = previous_us if previous_us is not None else scheduled - time.start_us
    return replace(time, start_us=_rounded(max(0, actual_us - base)))


def _rounded(us: int) -> int:
    return round(us / _ROUND_US) * _ROUND_US


def _insert_extras(
    script: Script, times: list[int | None], extras: tuple[PacketRecord, ...]
) -> Script:
    """Insert each packet no ``>`` line took after the last event that happened before it."""
    events = list(script.events)
    for packet in sorted(extras, key=lambda p: p.time_us):
        if packet.protocol != "tcp":
            continue
        position = _insert_position(times, packet.time_us)
        base = _previous_time(times, position)
        delta = _rounded(max(0, packet.time_us - base)) if base is not None else 0
        spec = PacketSpec(Direction.OUTBOUND, observed_tcp_spec(packet))
        events.insert(position, Event(EventTime(TimeKind.RELATIVE, delta), spec))
        times.insert(position, packet.time_us)
        if position + 1 < len(events) and events[position + 1].time.kind is TimeKind.RELATIVE:
            # The next event was relative to the one before the new line; keep it in place.
            following = events[position + 1]
            start = max(0, following.time.start_us - delta)
            events[position + 1] = replace(following, time=replace(following.time,
                                                                   start_us=start))
    return replace(script, events=tuple(events))


def _insert_position(times: list[int | None], time_us: int) -> int:
    position = 0
    for index, time in enumerate(times):
        if time is not None and time <= time_us:
            position = index + 1
    return position

