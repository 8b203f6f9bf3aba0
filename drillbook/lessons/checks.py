"""Self-checks for lab exercises: did the kernel do what the student predicted, and why.

A check reads the run (a ``%%drill`` result or a Trace), compares it with the student's answer
and returns a :class:`Check`: ``ok`` and a sentence naming both numbers, e.g. "the kernel
retransmitted 1:1001(1000) after 0.30 s, you expected 0.50 s". The kernel is the authority: a
check never hard-codes the right answer, it measures it in the run. A Check displays as a
coloured box in a notebook (and in the exported HTML lesson); ``bool(check)`` is ``ok``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.lessons.queries import (
    HasTrace,
    ack_delay_us,
    data_segments,
    dup_acks_before,
    first_reply_after,
    retransmissions,
    tcp_info_at,
    trace_of,
    window_probes,
)
from drillbook.trace.model import Direction, Trace

__all__ = [
    "Check",
    "check_ack_delay",
    "check_backoff",
    "check_cause",
    "check_causes",
    "check_fast_retransmit",
    "check_packet",
    "check_passed",
    "check_reset_reason",
    "check_retransmission",
    "check_sack_blocks",
    "check_segments",
    "check_sent",
    "check_syscall",
    "check_tcp_info",
    "check_window_probes",
    "measured_on_a_passing_run",
]

Result = Trace | HasTrace

# Students predict round numbers; the kernel's timers run on jiffies and the run adds a few ms.
DEFAULT_TOLERANCE_S = 0.02
RELATIVE_TOLERANCE = 0.15

NO_ANSWER = "no answer yet: replace None with your prediction and run this cell again"


@dataclass(frozen=True)
class Check:
    """The outcome of a self-check: ``ok`` and why, in one or two sentences."""

    ok: bool
    message: str
    title: str = "Self-check"

    def __bool__(self) -> bool:
        return self.ok

    @property
    def headline(self) -> str:
        """A mark, the title and the verdict: ``✔ Self-check passed``, ``✘ ... not passed yet``.

        A check that fails says "not passed yet", never just "error": in a student's lab an
        unanswered or wrong exercise is a step on the way, and *Run All* goes on past it.
        """
        if self.ok:
            return f"✔ {self.title} passed"
        return f"✘ {self.title} not passed yet"

    @property
    def text(self) -> str:
        """One line: the headline and the explanation."""
        return f"{self.headline}: {self.message}"

    def html(self) -> str:
        """A coloured box; ``data-drillbook-check`` says pass/fail for tests and graders."""
        state = "pass" if self.ok else "fail"
        colour, border = ("#e8f5e9", "#2e7d32") if self.ok else ("#fdecea", "#c62828")
        return (
            f'<div class="drillbook-check" data-drillbook-check="{state}" '
            f'style="background:{colour};border-left:4px solid {border};padding:6px 10px;'
            f'margin:4px 0;font-family:sans-serif;white-space:pre-wrap">'
            f"<strong>{html.escape(self.headline)}</strong>: {html.escape(self.message)}</div>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.text


def _close(actual: float, expected: float, tolerance_s: float | None) -> bool:
    slack = tolerance_s
    if slack is None:
        slack = max(DEFAULT_TOLERANCE_S, RELATIVE_TOLERANCE * abs(expected))
    return abs(actual - expected) <= slack


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 0.1 else f"{value:.2f} s"


def check_passed(result: Result, why: str = "") -> Check:
    """The run passed: the kernel did everything the script says, at the times it says."""
    trace = trace_of(result)
    if trace.failure is None:
        return Check(True, "the kernel did exactly what your script says" + _why(why))
    return Check(False, "the kernel disagreed with your script: " + trace.failure.render())


def _why(why: str) -> str:
    return f" ({why})" if why else ""


def measured_on_a_passing_run(check: Check, result: Result) -> Check:
    """``check``, unless the run it measured failed: then a check that is not passed and says
    why. A failed run proves nothing about the exercise: in an "edit the script" exercise the
    kernel retransmits (or sends its segments) whether or not the student fixed the script, so
    a measurement of the handed-out run would pass with no answer. A check still waiting for
    the student's prediction keeps saying so."""
    if check.message == NO_ANSWER:  # before the run is looked at: it may not exist yet
        return check
    failure = trace_of(result).failure
    if failure is None:
        return check
    return Check(
        False,
        f"the kernel disagreed with your script, so this run shows nothing to check yet: "
        f"{failure.render()}\nFix the script until the kernel agrees and run this cell again "
        "(a worked example that failed on a busy machine: run its cell again).",
        title=check.title,
    )


def check_retransmission(
    result: Result,
    expected_after_s: float | None,
    *,
    nth: int = 1,
    tolerance_s: float | None = None,
) -> Check:
    """The ``nth`` retransmission of the run came ``expected_after_s`` after the transmission
    before it (RFC 6298: the retransmission timer, RTO)."""
    if expected_after_s is None:
        return Check(False, NO_ANSWER)
    found = retransmissions(result)
    if len(found) < nth:
        return Check(
            False,
            f"the kernel retransmitted {len(found)} time(s) in this run, so there is no "
            f"retransmission number {nth} to compare with your {_seconds(expected_after_s)}",
        )
    event = found[nth - 1]
    measured = f"the kernel retransmitted {event.label} after {_seconds(event.gap_s)}"
    if _close(event.gap_s, expected_after_s, tolerance_s):
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}, you expected {_seconds(expected_after_s)}")


def check_backoff(
    result: Result, expected_gaps_s: Sequence[float] | None, *, tolerance_s: float | None = None
) -> Check:
    """The gaps between successive transmissions of the first retransmitted segment
    (RFC 6298 5.5: each expiry doubles the RTO)."""
    if expected_gaps_s is None:
        return Check(False, NO_ANSWER)
    found = retransmissions(result)
    if not found:
        return Check(False, "the kernel did not retransmit anything in this run")
    first = found[0].packet.seq
    gaps = [r.gap_s for r in found if r.packet.seq == first]
    shown = ", ".join(_seconds(g) for g in gaps)
    wanted = ", ".join(_seconds(g) for g in expected_gaps_s)
    measured = f"the kernel waited {shown} between the transmissions of {found[0].label}"
    same = len(gaps) == len(expected_gaps_s) and all(
        _close(g, e, tolerance_s) for g, e in zip(gaps, expected_gaps_s, strict=True)
    )
    if same:
        ratios = [b / a for a, b in zip(gaps, gaps[1:], strict=False) if a > 0]
        doubling = " (each wait twice the one before)" if ratios and all(
            1.7 < r < 2.3 for r in ratios) else ""
        return Check(True, f"{measured}{doubling}, as you expected")
    return Check(False, f"{measured}; you expected {wanted}")


def check_fast_retransmit(result: Result, expected_dupacks: int | None) -> Check:
    """How many duplicate ACKs the kernel waited for before its first retransmission
    (RFC 5681 3.2: fast retransmit on the third duplicate ACK; Linux counts them only
    without SACK, where RACK has nothing to time)."""
    if expected_dupacks is None:
        return Check(False, NO_ANSWER)
    found = retransmissions(result)
    if not found:
        return Check(False, "the kernel did not retransmit anything in this run")
    first = found[0]
    count = dup_acks_before(result, first)
    measured = (
        f"the kernel retransmitted {first.label} after {count} duplicate ACK(s), "
        f"{_seconds(first.gap_s)} after sending it first"
    )
    if count == expected_dupacks:
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}; you expected {expected_dupacks} duplicate ACK(s)")


def _blocks(blocks: Sequence[tuple[int, int]]) -> str:
    return " ".join(f"{a}:{b}" for a, b in blocks) or "no SACK blocks"


def check_sack_blocks(
    result: Result, after_segment: int, expected: Sequence[tuple[int, int]] | None
) -> Check:
    """The SACK blocks of the kernel's answer to the inbound segment starting at
    ``after_segment``, in order (RFC 2018 4: the most recently received block first)."""
    if expected is None:
        return Check(False, NO_ANSWER)
    reply = first_reply_after(result, after_segment)
    if reply is None:
        return Check(False, f"no inbound segment starts at {after_segment}, or none was answered")
    actual = tuple(reply.sack_blocks)
    measured = (
        f"after segment {after_segment} the kernel's ACK {reply.ack} carried {_blocks(actual)}"
    )
    if actual == tuple(tuple(b) for b in expected):
        return Check(True, f"{measured}, as you expected")
    hint = ""
    if set(actual) == {tuple(b) for b in expected}:
        hint = " (same blocks, different order: the first block reports the newest data)"
    return Check(False, f"{measured}; you expected {_blocks(expected)}{hint}")


def check_ack_delay(
    result: Result,
    expected_s: float | None,
    *,
    inbound_seq: int | None = None,
    tolerance_s: float | None = None,
) -> Check:
    """How long the kernel took to acknowledge an inbound data segment (delayed ACK,
    RFC 1122 4.2.3.2 and RFC 5681 4.2)."""
    if expected_s is None:
        return Check(False, NO_ANSWER)
    delay_us = ack_delay_us(result, inbound_seq)
    if delay_us is None:
        return Check(False, "the kernel never acknowledged that segment in this run")
    delay = delay_us / 1e6
    measured = f"the kernel acknowledged the data after {_seconds(delay)}"
    if _close(delay, expected_s, tolerance_s):
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}, you expected {_seconds(expected_s)}")


def check_segments(result: Result, expected: Sequence[tuple[int, int]] | None) -> Check:
    """The data segments the kernel sent, as (start, end) pairs in script space."""
    if expected is None:
        return Check(False, NO_ANSWER)
    actual = data_segments(result)
    measured = f"the kernel sent {len(actual)} data segment(s): {_blocks(actual)}"
    if actual == tuple(tuple(s) for s in expected):
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}; you expected {_blocks(expected)}")


def check_window_probes(
    result: Result, expected_count: int | None, *, after_s: float | None = None
) -> Check:
    """How many zero-window probes the kernel sent (RFC 9293 3.8.6.1), and optionally when
    the first went out (seconds after the ACK that closed the window)."""
    if expected_count is None:
        return Check(False, NO_ANSWER)
    trace = trace_of(result)
    probes = window_probes(trace)
    measured = f"the kernel sent {len(probes)} window probe(s)"
    if probes:
        times = ", ".join(f"{p.time_us / 1e6:.2f}" for p in probes)
        measured += f" at {times} s"
    if len(probes) != expected_count:
        return Check(False, f"{measured}; you expected {expected_count}")
    if after_s is not None and probes:
        closed = [
            p.time_us for p in trace.packets
            if p.direction is Direction.INBOUND and p.window == 0 and p.time_us < probes[0].time_us
        ]
        if closed:
            gap = (probes[0].time_us - closed[0]) / 1e6
            if not _close(gap, after_s, None):
                return Check(False, f"{measured}, the first {_seconds(gap)} after the window "
                             f"closed; you expected {_seconds(after_s)}")
    return Check(True, f"{measured}, as you expected")


def check_sent(result: Result, flag: str, expected: bool | None) -> Check:
    """Whether the kernel sent any packet with TCP flag ``flag`` (``R``, ``F``, ``S``, ``P``)."""
    if expected is None:
        return Check(False, NO_ANSWER)
    names = {"R": "a RST", "F": "a FIN", "S": "a SYN", "P": "a PSH segment"}
    name = names.get(flag, f"a packet with flag {flag}")
    trace = trace_of(result)
    sent = [p for p in trace.packets if p.direction is Direction.OUTBOUND and flag in p.flags]
    measured = f"the kernel sent {name}" if sent else f"the kernel did not send {name}"
    if bool(sent) == expected:
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}; you expected the opposite")


def check_tcp_info(
    result: Result, field: str, expected: int | None, *, line: int | None = None
) -> Check:
    """A TCP_INFO field (``snd_cwnd``, ``snd_ssthresh``, ``rto``...) after the step on
    ``line`` (default: the last step of the run)."""
    if expected is None:
        return Check(False, NO_ANSWER)
    snapshot = tcp_info_at(result, line)
    where = f"after line {line}" if line is not None else "at the end of the run"
    if snapshot is None:
        return Check(False, f"the run recorded no TCP_INFO {where}")
    name = field.removeprefix("tcpi_")
    values = dict(snapshot.fields)
    value = values.get(f"tcpi_{name}", getattr(snapshot, name, None))
    if not isinstance(value, int):
        return Check(False, f"TCP_INFO has no field {field!r}")
    measured = f"TCP_INFO {where} says tcpi_{name} = {value}"
    if value == expected:
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}; you expected {expected}")


_PACKET_FIELDS = ("ack", "seq", "window", "flags", "payload_len")


def check_packet(result: Result, line: int, field: str, expected: int | str | None) -> Check:
    """A field (``ack``, ``seq``, ``window``, ``flags``, ``payload_len``) of the packet the
    kernel sent for the ``>`` line ``line`` of the script."""
    if expected is None:
        return Check(False, NO_ANSWER)
    if field not in _PACKET_FIELDS:
        known = ", ".join(_PACKET_FIELDS)
        return Check(False, f"unknown packet field {field!r}: use one of {known}")
    trace = trace_of(result)
    step = next(
        (s for s in trace.steps if s.line == line and s.actual is not None
         and s.actual.direction is Direction.OUTBOUND),
        None,
    )
    if step is None or step.actual is None:
        return Check(False, f"the kernel sent no packet for line {line} in this run")
    value = getattr(step.actual, field)
    measured = f"the kernel's packet for line {line} ({step.actual.summary}) has {field} {value}"
    if value == expected:
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}; you expected {expected}")


def check_syscall(result: Result, line: int, expected: int | None) -> Check:
    """What the system call on script line ``line`` returned (e.g. how many bytes a read got)."""
    if expected is None:
        return Check(False, NO_ANSWER)
    trace = trace_of(result)
    step = next((s for s in trace.steps if s.line == line and s.syscall is not None), None)
    if step is None or step.syscall is None or step.syscall.result is None:
        return Check(False, f"no system call ran on line {line} in this run")
    call = step.syscall
    value = f"{call.result} ({call.errno_name})" if call.errno else str(call.result)
    measured = f"{call.name}() on line {line} returned {value}"
    if call.result == expected:
        return Check(True, f"{measured}, as you expected")
    return Check(False, f"{measured}; you expected {expected}")


def _stopped_before(trace: Trace, line: int) -> str | None:
    """Why a run has nothing to explain at ``line``: it failed before (or at) that line, e.g.
    a timing miss on a busy machine. Then the answer is unknown, not wrong."""
    failure = trace.failure
    if failure is None or failure.line > line:
        return None
    return (f"this run stopped at line {failure.line} ({failure.message}), so it has nothing "
            f"to explain at line {line} yet: run the example's cell again (a busy machine can "
            "miss a timing window), then this check")


def check_cause(result: Result, line: int, expected: str | None) -> Check:
    """Why the kernel sent the packet of ``>`` line ``line`` again, as the kernel itself says:
    ``tlp``, ``rto``, ``fast-retransmit``, ``rack``, ``syn-retransmit``, ... (the student
    predicts it before looking at the run's explanations)."""
    if expected is None:
        return Check(False, NO_ANSWER, title="Why?")
    trace = trace_of(result)
    found = [e for e in trace.explanations_at(line) if e.cause is not None]
    if not found:
        return Check(False, _stopped_before(trace, line)
                     or f"the kernel sent nothing again at line {line} in this run",
                     title="Why?")
    cause = found[0].cause
    assert cause is not None
    said = f"at line {line} the kernel says cause={cause.value}: {found[0].sentence}"
    if cause.value == expected.strip().lower():
        return Check(True, f"{said}; as you predicted", title="Why?")
    return Check(False, f"{said}; you predicted {expected}", title="Why?")


def check_causes(result: Result, lines: Sequence[int], expected: Sequence[str] | None) -> Check:
    """:func:`check_cause` for several ``>`` lines at once: one prediction per line."""
    if expected is None:
        return Check(False, NO_ANSWER, title="Why?")
    if isinstance(expected, str):
        return Check(False, f"give a list with one cause for each of the {len(lines)} lines "
                     f"{list(lines)}, e.g. {[expected] * len(lines)!r}", title="Why?")
    if len(expected) != len(lines):
        return Check(False, f"give one cause for each of the {len(lines)} lines {list(lines)}, "
                     f"not {len(expected)}", title="Why?")
    trace = trace_of(result)
    said: list[str] = []
    wrong: list[str] = []
    why: list[str] = []
    for line, guess in zip(lines, expected, strict=True):
        found = [e for e in trace.explanations_at(line) if e.cause is not None]
        stopped = None if found else _stopped_before(trace, line)
        if stopped:
            return Check(False, stopped, title="Why?")
        cause = found[0].cause.value if found and found[0].cause is not None else "nothing"
        said.append(f"line {line}: {cause}")
        if cause != str(guess).strip().lower():
            wrong.append(f"line {line} (you said {guess})")
            # Why the kernel did it, in its own words, for each line the student got wrong
            # (once per cause: the RTO's backoffs read alike).
            sentence = found[0].sentence if found else "it sent nothing again there"
            if not any(s.startswith(f"{cause}: ") for s in why):
                why.append(f"{cause}: {sentence}")
    kernel = "the kernel says " + ", ".join(said)
    if not wrong:
        return Check(True, f"{kernel}; as you predicted", title="Why?")
    return Check(False, f"{kernel}; not as you predicted for {', '.join(wrong)}.\n"
                 + "\n".join(why), title="Why?")


def check_reset_reason(result: Result, line: int, expected: str | None) -> Check:
    """The kernel's own reason for the RST of ``>`` line ``line`` (``TCP_ABORT_ON_CLOSE``...);
    the prefix ``TCP_`` and the case do not matter."""
    if expected is None:
        return Check(False, NO_ANSWER, title="Why?")
    trace = trace_of(result)
    found = [e for e in trace.explanations_at(line) if e.reason is not None]
    if not found or found[0].reason is None:
        return Check(False, _stopped_before(trace, line)
                     or f"no reset with a reason at line {line} in this run", title="Why?")
    reason = found[0].reason

    def norm(text: str) -> str:
        text = text.strip().upper().replace("-", "_").replace(" ", "_")
        return text[4:] if text.startswith("TCP_") else text

    said = f"at line {line} the kernel says reason={reason}: {found[0].sentence}"
    if norm(reason) == norm(expected):
        return Check(True, f"{said}; as you predicted", title="Why?")
    return Check(False, f"{said}; you predicted {expected}", title="Why?")
