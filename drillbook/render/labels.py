"""Text for figure labels: syscall boxes, failure notes, verdict titles."""

from __future__ import annotations

import re
import textwrap

from drillbook.render.events import format_gap, strip_time
from drillbook.trace.model import Failure, Outcome, Step, SyscallRecord, Trace

# "call(...) = result", spaces optional (`write(4, ..., 10)=10` is valid packetdrill).
WRITTEN_RESULT = re.compile(r"^(.*\))\s*=\s*([^)]*)$")


EXCEPTION_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception)\b.*")


def _as_written(text: str) -> tuple[str, str | None]:
    """Split ``write(4, ..., 10) = 10`` into the call and the result the script wrote."""
    match = WRITTEN_RESULT.match(text.strip())
    if match is None:
        return text.strip(), None
    return match.group(1), match.group(2).strip()


def syscall_label(call: SyscallRecord, failed: bool = False) -> str:
    """The call as the script wrote it, ``write(4, ..., 10) = 10``; a failed call adds what
    the kernel returned. A passing call shows the script's numbers, not the live ones: the
    runtime maps script fds to live fds (script 3 may be live 7), as packetdrill does."""
    text, written = _as_written(call.text)
    if written is None:
        expected = call.expected_result if call.expected_result is not None else call.result
        written = "…" if expected is None else str(expected)
    label = f"{text} = {written}"
    if failed:
        got = "no return" if call.result is None else str(call.result)
        if call.result is not None and call.result < 0 and call.errno_name:
            got += f" {call.errno_name}"
        label += f"   ✗ got {got}"
    return label


def step_box_label(step: Step) -> str:
    """The text in a syscall/command/code box."""
    if step.syscall is not None:
        label = syscall_label(step.syscall, failed=step.outcome is Outcome.FAILED)
        waited = blocked_us(step)
        if waited is not None and waited >= 1000:
            label += f"   (blocked, returned {format_gap(waited).lstrip('+')} later)"
        return label
    text = strip_time(step.text)
    return text if len(text) <= 60 else text[:57] + "..."


def blocked_us(step: Step) -> int | None:
    """How long a blocking call waited before it returned (packetdrill's ``t1...t2`` calls)."""
    call = step.syscall
    if call is None or not call.blocking or call.return_us is None or step.actual_us is None:
        return None
    return max(call.return_us - step.actual_us, 0)


def failure_note(failure: Failure, width: int = 56) -> str:
    """The short note drawn beside the failing event: field name, then packetdrill's words."""
    message = failure.message.removeprefix("error handling packet: ")
    message = message.removeprefix("live packet field ")
    head = f"✗ line {failure.line}"
    if failure.field_name:
        head += f": {failure.field_name} differs"
        message = message.removeprefix(f"{failure.field_name}: ")
    # A %{ }% block's failure is "error in Python code"; the exception line says what failed.
    raised = [d.strip() for d in failure.details if EXCEPTION_LINE.match(d.strip())]
    if raised:
        message = f"{message}: {raised[-1]}"
    return "\n".join([head, *textwrap.wrap(message, width=width)])


def verdict_title(trace: Trace) -> str:
    """``sack.pkt: passed`` or ``sack.pkt:31: error handling packet: ...``."""
    name = trace.script_path.rsplit("/", 1)[-1] or "<script>"
    if trace.failure is None:
        warnings = sum(1 for s in trace.steps if s.outcome is Outcome.WARNING)
        extra = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        return f"{name}: passed{extra}"
    return f"{name}:{trace.failure.line}: {trace.failure.message}"
