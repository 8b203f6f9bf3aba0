"""Text for figure labels: syscall boxes, failure notes, verdict titles."""

from __future__ import annotations

from drillbook.trace.model import Failure, Outcome, Step, SyscallRecord, Trace


def syscall_label(call: SyscallRecord) -> str:
    """``write(4, ..., 10) = 10``; a failed call also names errno and what was expected."""
    if call.result is None:
        got = "…"
    elif call.errno_name:
        got = f"{call.result} {call.errno_name}"
    else:
        got = str(call.result)
    text = f"{call.text} = {got}"
    if call.expected_result is not None and call.expected_result != call.result:
        text += f"  (script: {call.expected_result})"
    return text


def step_box_label(step: Step) -> str:
    """The text in a syscall/command/code box."""
    if step.syscall is not None:
        return syscall_label(step.syscall)
    text = step.text.strip()
    return text if len(text) <= 60 else text[:57] + "..."


def failure_note(failure: Failure) -> str:
    """The short note drawn beside the failing event: field name, then packetdrill's words."""
    message = failure.message.removeprefix("error handling packet: ")
    message = message.removeprefix("live packet field ")
    head = f"✗ line {failure.line}"
    if failure.field_name:
        head += f": {failure.field_name} differs"
        message = message.removeprefix(f"{failure.field_name}: ")
    return f"{head}\n{message}"


def verdict_title(trace: Trace) -> str:
    """``sack.pkt: passed`` or ``sack.pkt:31: error handling packet: ...``."""
    name = trace.script_path.rsplit("/", 1)[-1] or "<script>"
    if trace.failure is None:
        warnings = sum(1 for s in trace.steps if s.outcome is Outcome.WARNING)
        extra = f" ({warnings} warnings)" if warnings else ""
        return f"{name}: passed{extra}"
    return f"{name}:{trace.failure.line}: {trace.failure.message}"
