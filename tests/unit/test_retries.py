"""drillbook.retries: one helper for the notebook's, the suite's and the plugin's retries."""

from __future__ import annotations

from drillbook.retries import run_with_timing_retries


def test_retries_while_the_last_result_failed_on_timing() -> None:
    outcomes = iter(["timing", "timing", "pass", "timing"])
    results = run_with_timing_retries(lambda: next(outcomes), lambda r: r == "timing", 5)
    assert results == ["timing", "timing", "pass"]


def test_never_more_than_asked() -> None:
    results = run_with_timing_retries(lambda: "timing", lambda r: r == "timing", 2)
    assert results == ["timing"] * 3
    assert run_with_timing_retries(lambda: "timing", lambda r: r == "timing", 0) == ["timing"]


def test_a_field_mismatch_is_never_retried() -> None:
    calls: list[int] = []
    results = run_with_timing_retries(lambda: calls.append(1) or "field",
                                      lambda r: r == "timing", 3)
    assert results == ["field"] and len(calls) == 1
