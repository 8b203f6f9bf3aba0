"""TAP version 13 output, as run_all.py ``--tap`` writes it: ``ok N path (mode)``, with the
run's messages as ``#`` comment lines (and a YAML block for failures)."""

from __future__ import annotations

from drillbook.suite.result import CaseResult, Cause, SuiteResult


def to_tap(suite: SuiteResult) -> str:
    """The whole suite as a TAP 13 document."""
    lines = ["TAP version 13", f"1..{len(suite.results)}"]
    for number, result in enumerate(suite.results, start=1):
        lines += _entry(number, result)
    if suite.interrupted:
        lines.append("Bail out! interrupted")
    return "\n".join(lines) + "\n"


def _entry(number: int, result: CaseResult) -> list[str]:
    status = "ok" if result.passed else "not ok"
    directive = " # timeout" if result.cause is Cause.ABORTED else ""
    lines = [f"{status} {number} {result.case.name} ({result.case.mode.value}){directive}"]
    if result.passed:
        return lines
    lines += ["  ---", f"  verdict: {result.verdict.value}", f"  cause: {result.cause.value}",
              f"  message: {_yaml_str(result.message)}",
              f"  attempts: {result.attempts}",
              f"  duration_s: {result.duration_s:.3f}", "  ..."]
    for text in result.details.splitlines():
        lines.append(f"# {text}")
    return lines


def _yaml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def tap_counts(text: str) -> tuple[int, int]:
    """(passing, not passing) in a TAP document: for tests and quick checks."""
    ok = sum(1 for line in text.splitlines() if line.startswith("ok "))
    bad = sum(1 for line in text.splitlines() if line.startswith("not ok "))
    return ok, bad



