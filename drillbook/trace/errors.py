"""The exception a failed trace turns into at a boundary (CLI exit code, pytest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.errors import DrillbookError

if TYPE_CHECKING:  # pragma: no cover
    from drillbook.trace.model import Trace


class ScriptFailed(DrillbookError):
    """The kernel did not behave as the script says; carries the whole trace."""

    exit_code = 1

    def __init__(self, trace: Trace) -> None:
        assert trace.failure is not None
        super().__init__(trace.failure.render())
        self.trace = trace


def raise_for_failures(trace: Trace) -> None:
    """Raise :class:`ScriptFailed` when the run failed: mismatches are data until a boundary
    (CLI exit code, pytest) wants an exception."""
    if trace.failure is not None:
        raise ScriptFailed(trace)
