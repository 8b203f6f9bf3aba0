"""Retries for timing noise: a run that failed only on timing may run again; a field
mismatch never does (packetdrill's verdict on it would not change with another try)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from drillbook.suite.discovery import Case
from drillbook.suite.result import CaseResult

Attempt = Callable[[Case, Sequence[str], float], CaseResult]


def run_with_retries(
    attempt: Attempt, case: Case, flags: Sequence[str], timeout_s: float, retries: int
) -> CaseResult:
    """Run *case* up to ``1 + retries`` times while it fails on timing only; return the last
    attempt, with the number of attempts and their total duration."""
    total_s = 0.0
    for number in range(1, retries + 2):
        result = attempt(case, flags, timeout_s)
        total_s += result.duration_s
        if result.passed or not result.cause.retryable or number > retries:
            return replace(result, attempts=number, duration_s=total_s)
    raise AssertionError("unreachable: the loop always returns")  # pragma: no cover
