"""What a lab notebook imports: self-checks over a run and precomputed-variant players.

    from drillbook import labkit
    labkit.check_retransmission(result, expected_after_s=0.3)
    labkit.variants("orders", {"in order": r1, "1,3,2": r2})

Everything here comes from :mod:`drillbook.lessons.checks`,
:mod:`drillbook.lessons.queries` and :mod:`drillbook.lessons.variants`, so a lab needs one
import and a course author finds every helper in one place. The checks are the lessons'
checks made *graded* (:mod:`drillbook.course.grading`): in a student's lab a check that has not
passed shows a red "not passed yet" box and the notebook runs on; while nbgrader autogrades or
validates the notebook it raises instead, so the test cell loses its points and the feedback
says why. No check passes on a run that failed
(:func:`drillbook.lessons.checks.measured_on_a_passing_run`): the handed-out script of an "edit
the script" exercise fails, yet the kernel does much the same, so a check that only measured it
would pass an unanswered exercise.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, cast

from drillbook.course.grading import graded
from drillbook.lessons import checks as _checks
from drillbook.lessons.checks import Check
from drillbook.lessons.queries import (
    Retransmission,
    ack_delay_us,
    data_segments,
    retransmissions,
    tcp_info_at,
    window_probes,
)
from drillbook.lessons.variants import Variant, VariantPlayer, variants

_P = ParamSpec("_P")


def _graded(check: Callable[_P, Check]) -> Callable[_P, Check]:
    @wraps(check)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> Check:
        result = cast(_checks.Result, args[0] if args else kwargs["result"])
        return graded(_checks.measured_on_a_passing_run(check(*args, **kwargs), result))

    return checked


check_ack_delay = _graded(_checks.check_ack_delay)
check_backoff = _graded(_checks.check_backoff)
check_cause = _graded(_checks.check_cause)
check_causes = _graded(_checks.check_causes)
check_fast_retransmit = _graded(_checks.check_fast_retransmit)
check_packet = _graded(_checks.check_packet)
check_passed = _graded(_checks.check_passed)
check_reset_reason = _graded(_checks.check_reset_reason)
check_retransmission = _graded(_checks.check_retransmission)
check_sack_blocks = _graded(_checks.check_sack_blocks)
check_segments = _graded(_checks.check_segments)
check_sent = _graded(_checks.check_sent)
check_syscall = _graded(_checks.check_syscall)
check_tcp_info = _graded(_checks.check_tcp_info)
check_window_probes = _graded(_checks.check_window_probes)

__all__ = [
    "Check",
    "Retransmission",
    "Variant",
    "VariantPlayer",
    "ack_delay_us",
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
    "data_segments",
    "retransmissions",
    "run",
    "tcp_info_at",
    "variants",
    "window_probes",
]


def run(
    text: str,
    *flags: str,
    explore: bool = False,
    grace_s: float = 0.3,
    figures: tuple[str, ...] | None = None,
    timeout_s: float | None = 120.0,
) -> Any:
    """Run packetdrill script ``text`` as a ``%%drill`` cell would; returns its DrillResult.

    ``flags`` are packetdrill's (``"--tolerance_usecs=10000"``). With ``explore`` the ``>``
    lines are not asserted and whatever the kernel sends until ``grace_s`` after the last
    event is recorded. A lab uses this to precompute the variants an exercise asks about
    (every arrival order, every timing) for a :func:`variants` player.
    """
    from drillbook.jupyter.runner import RunRequest, run_text

    request = RunRequest(
        argv=flags,
        explore=explore,
        explore_grace_us=round(grace_s * 1e6),
        figures=figures,
        timeout_s=timeout_s,
    )
    return run_text(text, "cell", request)
