"""Retries for timing noise, said once for the notebook, the suite and the pytest plugin.

On a shared, loaded machine an injection can be late by the machine's noise, not the
kernel's behaviour: a run that failed only on timing may run again. A field mismatch never is
(packetdrill's verdict on it would not change with another try): the caller's predicate says
which results count as timing-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def run_with_timing_retries(
    attempt: Callable[[], Result], failed_on_timing: Callable[[Result], bool], retries: int
) -> list[Result]:
    """Call ``attempt`` once, then again (``retries`` times at most) while its last result
    ``failed_on_timing``; return every result in order (the last one is the verdict)."""
    results = [attempt()]
    while len(results) <= retries and failed_on_timing(results[-1]):
        results.append(attempt())
    return results


__all__ = ["run_with_timing_retries"]
