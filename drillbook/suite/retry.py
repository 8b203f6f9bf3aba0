"""Retries of a suite case for timing noise (drillbook.retries): a run that failed only on
timing, or whose expected packet never came, may run again; a field mismatch never does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from drillbook.retries import run_with_timing_retries
from drillbook.suite.discovery import Case
from drillbook.suite.result import CaseResult

Attempt = Callable[[Case, Sequence[str], float], CaseResult]


def run_with_retries(
    attempt: Attempt, case: Case, flags: Sequence[str], timeout_s: float, retries: int
) -> CaseResult:
    """Run *case* up to ``1 + retries`` times while it fails on timing only; return the last
    attempt, with the number of attempts and their total duration."""
    results = run_with_timing_retries(
        lambda: attempt(case, flags, timeout_s),
        lambda result: not result.passed and result.cause.retryable,
        retries,
    )
    return replace(results[-1], attempts=len(results),
                   duration_s=sum(result.duration_s for result in results))
