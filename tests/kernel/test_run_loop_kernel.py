"""The run loop's behaviours against the real kernel (tests/unit/test_run_loop.py checks the
same ones over the fake kernel): anchoring to the kernel's timestamps, failure at the right line
with the early answer marked, explore and non-fatal modes, a blocking call."""

from __future__ import annotations

from dataclasses import replace

import pytest
from kernel_support import missing_privilege

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.trace.model import FailureKind, Outcome, Step, Trace
from drillbook.trace.report import text_report

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]

# A wide tolerance: these tests are about decisions, not about this shared machine's timing.
CONFIG = RunConfig(tolerance_usecs=200_000)
OPEN = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>
+.01 < . 1:1(0) ack 1 win 32792
+0  accept(3, ..., ...) = 4
"""
# Lines 9-12: data in, the kernel's ACK, more data at once, its ACK.
DATA = OPEN + """\
+0  < . 1:1001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001
+0  < . 1001:2001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 2001
"""


def run(text: str, config: RunConfig = CONFIG, explore: bool = False) -> Trace:
    return run_script(parse_script(text, "loop.pkt", config), config, explore=explore,
                      explore_grace_us=0)


def step(trace: Trace, line: int) -> Step:
    return next(s for s in trace.steps if s.line == line)


def test_a_plus_zero_answer_counts_from_the_kernels_timestamp() -> None:
    trace = run(DATA)
    assert trace.failure is None, text_report(trace)
    ack, answer = step(trace, 10), step(trace, 11)
    assert ack.actual_us is not None and answer.actual_us is not None
    assert answer.scheduled_us is not None and answer.scheduled_us >= ack.actual_us
    assert answer.actual_us >= answer.scheduled_us


def test_a_wrong_field_fails_at_its_line_and_the_early_answer_is_marked() -> None:
    trace = run(DATA.replace("> . 1:1(0) ack 1001", "> . 1:1(0) ack 1002"))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (10, FailureKind.PACKET)
    assert step(trace, 10).outcome is Outcome.FAILED
    answer = step(trace, 11)  # written the moment the kernel's ACK came, before the match
    assert answer.outcome is Outcome.NOT_RUN
    assert answer.actual is not None and answer.actual.payload_len == 1000
    assert sum(1 for p in trace.packets if p.payload_len == 1000) == 2


def test_explore_and_non_fatal_modes_turn_the_mismatch_into_a_warning() -> None:
    wrong = DATA.replace("> . 1:1(0) ack 1001", "> . 1:1(0) ack 1002")
    explored = run(wrong, explore=True)
    assert explored.failure is None, text_report(explored)
    assert step(explored, 10).outcome is Outcome.WARNING
    non_fatal = run(wrong, replace(CONFIG, non_fatal_packet=True))
    assert non_fatal.failure is None, text_report(non_fatal)
    assert step(non_fatal, 10).outcome is Outcome.WARNING
    assert any("loop.pkt:10: warning handling packet" in w for w in non_fatal.warnings)


def test_a_blocking_read_returns_when_its_data_arrives() -> None:
    trace = run(OPEN + "+0...0.05 read(4, ..., 1000) = 1000\n"
                       "+.05 < P. 1:1001(1000) ack 1 win 32792\n"
                       "+0 > . 1:1(0) ack 1001\n")
    assert trace.failure is None, text_report(trace)
    call = step(trace, 9)
    assert call.syscall is not None and call.syscall.blocking
    assert call.syscall.return_us is not None and call.actual_us is not None
    assert 40_000 <= call.syscall.return_us - call.actual_us <= 250_000
