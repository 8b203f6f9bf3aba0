"""Self-checks under nbgrader: a check that has not passed raises, so its points are lost.

In a student's lab a self-check only *shows* its verdict (a red "not passed yet" box) and *Run
All* goes on. When nbgrader grades the notebook (``nbgrader autograde``, or ``nbgrader
validate`` and the Validate button), it sets ``NBGRADER_EXECUTION`` in the kernel's
environment; then a check that has not passed raises :class:`CheckNotPassed`, which fails the
autograder test cell (no points) and whose message, the check's own explanation, is what the
student reads in the feedback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from drillbook.errors import DrillbookError
from drillbook.lessons.checks import Check

__all__ = ["GRADING_VARIABLE", "CheckNotPassed", "graded", "grading_mode"]

GRADING_VARIABLE = "NBGRADER_EXECUTION"
"""Set by nbgrader while it executes a notebook: ``autograde`` or ``validate``."""


class CheckNotPassed(DrillbookError):
    """A self-check did not pass while nbgrader graded the notebook."""

    def __init__(self, check: Check) -> None:
        super().__init__(f"✘ {check.title} not passed: {check.message}")
        self.check = check


def grading_mode(environ: Mapping[str, str] | None = None) -> str | None:
    """``autograde`` or ``validate`` while nbgrader executes this kernel, else None."""
    value = (os.environ if environ is None else environ).get(GRADING_VARIABLE, "")
    return value or None


def graded(check: Check, environ: Mapping[str, str] | None = None) -> Check:
    """``check`` itself, or CheckNotPassed when it has not passed and nbgrader is grading."""
    if not check.ok and grading_mode(environ) is not None:
        raise CheckNotPassed(check)
    return check
