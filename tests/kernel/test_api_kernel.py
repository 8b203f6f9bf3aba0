"""``drillbook.run`` against the real kernel: with text, with a path, and with bad input; it
returns the object a ``%%drill`` cell returns."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_support import KERNEL_MARKS
from suite_scripts import FAILING, FAILING_LINE, PASSING

import drillbook
from drillbook.jupyter.result import DrillResult
from drillbook.trace.model import FailureKind

pytestmark = KERNEL_MARKS

SCRIPTS = Path(__file__).resolve().parents[2] / "notebooks" / "scripts"


def test_run_text_passes_and_returns_the_cells_result() -> None:
    result = drillbook.run(PASSING, timing_retries=2)
    assert isinstance(result, DrillResult)
    assert result.passed, result.failure and result.failure.render()
    assert result.script.source.path == "<script>"
    assert [step.kind.name for step in result.trace.steps][:2] == ["SYSCALL", "SYSCALL"]
    assert result.images == ()


def test_run_a_path_fails_where_the_kernel_differs() -> None:
    result = drillbook.run(SCRIPTS / "sack-wrong-guess.pkt", timing_retries=2)
    assert not result.passed and result.failure is not None
    assert result.failure.kind is not FailureKind.TIMING
    assert result.failure.line == 22
    assert "expected: sack 3001:6001 7001:8001" in result.failure.render()


def test_flags_reach_the_run(tmp_path: Path) -> None:
    result = drillbook.run(FAILING, ip_version="ipv6", figures=None)
    assert result.config.ip_mode.value == "ipv6"
    assert result.failure is not None and result.failure.line == FAILING_LINE
    assert result.images  # the notebook's figures, when asked for


def test_bad_input_raises_before_any_run() -> None:
    with pytest.raises(drillbook.ScriptSyntaxError, match="parse error"):
        drillbook.run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3 = 0\n")
    ambiguous = "'--tolerance' is ambiguous: tolerance_percent, tolerance_usecs"
    with pytest.raises(drillbook.UsageError, match=ambiguous):
        drillbook.run(PASSING, tolerance=5)
    with pytest.raises(drillbook.UsageError, match="cannot read script"):
        drillbook.run(SCRIPTS / "no-such-script.pkt")
