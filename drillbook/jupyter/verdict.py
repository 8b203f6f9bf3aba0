"""The verdict banner: what a cell says first, as plain text and as HTML.

Pass, or the first failure worded as packetdrill words it (``cell:12:3: error handling
packet: live packet field tcp_ack: expected: ... vs actual: ...``), the script line with a caret
under it, then packetdrill's ``script packet:``/``actual packet:`` lines (reference §4.4). In
explore mode the banner lists where the kernel's packets differ from the script instead.

Pure functions of the Script and the Trace: no IPython here, so they are easy to test.
"""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass
from types import MappingProxyType

from drillbook.jupyter.frames import scrolling_pre
from drillbook.script.model import Event, Script
from drillbook.source import Span
from drillbook.trace.model import Direction, Outcome, PacketRecord, Step, StepKind, Trace

__all__ = [
    "Verdict",
    "VerdictKind",
    "explore_differences",
    "packet_key",
    "unanswered_outbound",
    "verdict_for",
]



class VerdictKind(enum.Enum):
    """What a run's banner says: it passed, it failed, or explore mode recorded the kernel."""

    PASS = "pass"
    FAIL = "fail"
    EXPLORE = "explore"


_COLOURS = MappingProxyType({VerdictKind.PASS: "#e6f4ea", VerdictKind.FAIL: "#fce8e6",
                             VerdictKind.EXPLORE: "#fef7e0"})
_BORDERS = MappingProxyType({VerdictKind.PASS: "#1e8e3e", VerdictKind.FAIL: "#d93025",
                             VerdictKind.EXPLORE: "#f9ab00"})


@dataclass(frozen=True)
class Verdict:
    """The banner of one run."""

    status: VerdictKind
    headline: str
    body: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join((self.headline, *self.body))

    def html(self) -> str:
        """An HTML block that needs no CSS or JavaScript from the page (survives export)."""
        body = ""
        if self.body:
            body = scrolling_pre("\n".join(self.body), "margin:4px 0 0 0", wrap_at_spaces=True)
        return (
            f'<div class="drillbook-verdict drillbook-{self.status.value}" style="background:'
            f"{_COLOURS[self.status]};border-left:4px solid {_BORDERS[self.status]};"
            'padding:6px 10px;margin:2px 0;font-family:monospace">'
            f"<b>{html.escape(self.headline)}</b>{body}</div>"
        )


def verdict_for(
    script: Script, trace: Trace, *, explore: bool = False, grace_us: int | None = None
) -> Verdict:
    """The banner for a finished run of ``script``."""
    name = script.source.name or "cell"
    if trace.failure is not None:
        return _failure_verdict(script, trace, name)
    summary = f"{len(script.events)} events, {trace.duration_us / 1e6:.3f} s, {trace.ip_mode}"
    if explore:
        differences = explore_differences(trace, script, grace_us)
        head = f"EXPLORE {name}: the kernel's packets recorded ({summary})"
        if not differences:
            return Verdict(VerdictKind.EXPLORE, head, ("every outbound line matched the kernel",))
        return Verdict(VerdictKind.EXPLORE, head, differences)
    warnings = tuple(f"warning: {w}" for w in trace.warnings)
    return Verdict(VerdictKind.PASS, f"PASS {name} ({summary})", warnings)


def _failure_verdict(script: Script, trace: Trace, name: str) -> Verdict:
    failure = trace.failure
    assert failure is not None
    location = f"{name}:{failure.line}"
    if failure.column > 0:
        location += f":{failure.column}"
    body: list[str] = []
    excerpt = script.source.excerpt(_caret_span(script, failure.line, failure.column))
    if excerpt:
        body.extend(excerpt.splitlines())
    body.extend(failure.details)
    return Verdict(VerdictKind.FAIL, f"FAIL {location}: {failure.message}", tuple(body))


def _caret_span(script: Script, line: int, column: int) -> Span:
    """Underline the failing event from ``column`` (or its start) to the end of its line."""
    event = _event_on_line(script, line)
    if event is None or event.span.line != line:
        return Span.point(line, max(column, 1))
    start = column if column > 0 else event.span.column
    end = event.span.end_column if event.span.end_line == line else len(
        script.source.line_text(line)
    ) + 1
    return Span(line, start, line, max(end, start + 1))


def _event_on_line(script: Script, line: int) -> Event | None:
    for event in script.events:
        if event.line == line:
            return event
    return None


def explore_differences(
    trace: Trace, script: Script | None = None, grace_us: int | None = None
) -> tuple[str, ...]:
    """Where the kernel's outbound packets differ from the script's ``>`` lines."""
    lines: list[str] = []
    for step in trace.steps:
        if step.kind is not StepKind.OUTBOUND:
            continue
        missing = step.actual is None and step.outcome is not Outcome.NOT_RUN
        if step.outcome is Outcome.WARNING or missing:
            kernel = step.actual.summary if step.actual is not None else "(nothing sent)"
            written = script.source.line_text(step.line).strip() if script else ""
            lines.append(f"line {step.line}: script: {written or step.text.strip()}")
            lines.append(f"{' ' * len(str(step.line))}       kernel: > {kernel}")
    for packet in unanswered_outbound(trace, grace_us):
        lines.append(f"extra at {packet.time_us / 1e6:.6f}: kernel: > {packet.summary}")
    return tuple(lines)


def unanswered_outbound(
    trace: Trace, grace_us: int | None = None
) -> tuple[PacketRecord, ...]:
    """Outbound packets no ``>`` step took: extras, and those sent in the grace period.

    With ``grace_us``, only packets up to ``grace_us`` after the last event count: later ones
    answer the run's own clean-up (the RSTs injected at the end draw challenge ACKs, RFC 5961
    §3.2), not the script.
    """
    matched = {packet_key(s.actual) for s in trace.steps if s.actual is not None}
    limit = None
    if grace_us is not None:
        times = [_step_time(step) for step in trace.steps]
        known = [t for t in times if t is not None]
        limit = max(known) + grace_us if known else None
    return tuple(
        packet
        for packet in trace.packets
        if packet.direction is Direction.OUTBOUND
        and packet_key(packet) not in matched
        and (limit is None or packet.time_us <= limit)
    )


def _step_time(step: Step) -> int | None:
    return step.actual.time_us if step.actual is not None else step.actual_us


def packet_key(packet: PacketRecord) -> tuple[object, ...]:
    """Identity of a packet across the trace (records are copied, so not ``is``)."""
    return (packet.direction, packet.time_us, packet.seq, packet.end_seq, packet.ack,
            packet.flags, packet.summary)
