"""The labs' "why" self-checks: a wrong prediction is told what the kernel said and why."""

from __future__ import annotations

from test_explain import counters_only_trace

from drillbook.explain import explain_trace
from drillbook.lessons.checks import check_cause, check_causes, check_reset_reason
from drillbook.trace.model import Failure, FailureKind, Trace


def explained() -> Trace:
    trace = counters_only_trace()
    return Trace(**{**trace.__dict__, "explanations": explain_trace(trace)})


def test_check_causes_passes_the_kernels_own_causes() -> None:
    check = check_causes(explained(), [11, 12], ["tlp", "RTO "])
    assert check.ok and "line 11: tlp, line 12: rto" in check.message


def test_a_wrong_prediction_is_told_the_kernels_cause_and_its_sentence() -> None:
    check = check_causes(explained(), [11, 12], ["rto", "rto"])
    assert not check.ok
    first, *why = check.message.splitlines()
    assert "line 11: tlp" in first and "line 11 (you said rto)" in first
    assert "line 12 (you said" not in first
    (sentence,) = why
    assert sentence.startswith("tlp: tail loss probe")


def test_a_line_the_kernel_sent_nothing_again_says_so() -> None:
    check = check_causes(explained(), [11, 5], ["tlp", "rto"])
    assert not check.ok and "line 5: nothing" in check.message
    assert "nothing: it sent nothing again there" in check.message


def test_no_answer_or_the_wrong_number_of_answers_is_not_a_pass() -> None:
    assert not check_causes(explained(), [11, 12], None).ok
    wrong_count = check_causes(explained(), [11, 12], ["tlp"])
    assert not wrong_count.ok and "one cause for each of the 2 lines" in wrong_count.message
    one_string = check_causes(explained(), [11, 12], "tlp")
    assert not one_string.ok and "['tlp', 'tlp']" in one_string.message


def test_a_run_that_stopped_early_asks_for_a_rerun_not_a_new_prediction() -> None:
    """A timing miss before the line asked about leaves nothing to explain: the check says so
    instead of "the kernel sent nothing again" (which would teach something false)."""
    stopped = Failure(FailureKind.TIMING, 10, 1, "timing error: expected inbound packet at "
                      "0.2017 sec but happened at 0.2194 sec; tolerance 0.0125 sec")
    trace = Trace(**{**counters_only_trace().__dict__, "failure": stopped})
    for check in (check_causes(trace, [11, 12], ["tlp", "rto"]), check_cause(trace, 11, "tlp"),
                  check_reset_reason(trace, 13, "abort on close")):
        assert not check.ok
        assert "stopped at line 10 (timing error" in check.message, check.message
        assert "run the example's cell again" in check.message
    # A failure after the line asked about does not hide the kernel's answer there.
    late = Failure(FailureKind.TIMING, 12, 1, "timing error")
    trace = Trace(**{**explained().__dict__, "failure": late})
    assert check_cause(trace, 11, "tlp").ok
