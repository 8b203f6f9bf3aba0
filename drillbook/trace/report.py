"""A plain-text report of a trace: one line per step, then the verdict."""

from __future__ import annotations

from drillbook.trace.model import Outcome, Trace

_MARK = {Outcome.OK: " ", Outcome.FAILED: "✗", Outcome.WARNING: "!", Outcome.NOT_RUN: "·"}


def text_report(trace: Trace) -> str:
    lines = []
    for step in trace.steps:
        when = "" if step.actual_us is None else f"{step.actual_us / 1e6:9.6f}"
        lines.append(f"{_MARK[step.outcome]} {step.line:4d} {when:>9} {step.text}")
        if step.message and step.outcome is not Outcome.OK:
            lines.append(f"       {step.message}")
    if trace.failure is None:
        lines.append(f"PASS {trace.script_path} ({trace.ip_mode})")
    else:
        lines.append(f"FAIL {trace.failure.render()}")
    lines.extend(trace.warnings)
    return "\n".join(lines)
