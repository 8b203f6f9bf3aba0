"""Warming the loop's code again before an event that ends a long wait
(runtime/loop/rewarm.py), over the fake kernel and its virtual clock."""

from __future__ import annotations

import pytest

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.loop.driver import ScriptRun
from drillbook.runtime.loop.loop_rehearsal import loop_rehearsal_script
from drillbook.runtime.loop.rewarm import (
    IDLE_MIN_US,
    MARGIN_US,
    PastDeadline,
    Rewarm,
    WalkDeadline,
    walk_start_us,
)
from drillbook.testing import FakeClock, FakeKernel
from drillbook.trace.report import text_report

SERVER = """0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
+.005 < . 1:1(0) ack 1 win 257
+0  accept(3, ..., ...) = 4
+.1 < P. 1:1001(1000) ack 1 win 257
+0  > . 1:1(0) ack 1001
+0  read(4, ..., 1000) = 1000
+.05 close(4) = 0
"""


def test_a_walk_begins_twice_its_length_and_a_margin_before_an_event_after_a_long_wait() -> None:
    assert walk_start_us(0, 100_000, 1_500) == 100_000 - 3_000 - MARGIN_US
    assert walk_start_us(5_000, 5_000 + IDLE_MIN_US, 1_500) is not None


def test_no_walk_before_a_short_wait_or_one_the_walk_would_not_fit() -> None:
    assert walk_start_us(0, IDLE_MIN_US - 1, 100) is None
    assert walk_start_us(0, 30_000, 15_000) is None  # 2 x 15 ms + 1 ms does not fit in 30 ms


def test_the_walk_ends_at_its_deadline_before_the_event() -> None:
    clock = FakeClock()
    clock.start()
    walked: list[tuple[int, int]] = []

    def walk(deadline: WalkDeadline) -> None:
        walked.append((clock.now_us(), deadline.deadline_us))

    rewarm = Rewarm(clock, walk, walk_us=2_000)
    rewarm.before(100_000)
    assert walked == [(100_000 - 4_000 - MARGIN_US, 100_000 - MARGIN_US)]
    assert rewarm.walk_us == 0  # virtual time: the walk itself took none
    rewarm.before(clock.now_us() + IDLE_MIN_US - 1)
    assert len(walked) == 1


def test_a_walk_cut_at_its_deadline_keeps_the_longer_estimate() -> None:
    clock = FakeClock()
    clock.start()

    def slow_walk(deadline: WalkDeadline) -> None:
        clock.wait_until(deadline.deadline_us)  # as if it ran up to the deadline
        with pytest.raises(PastDeadline):
            deadline.after_step(0, 1, clock.now_us())

    rewarm = Rewarm(clock, slow_walk, walk_us=2_000)
    rewarm.before(100_000)
    assert rewarm.walk_us == 2_000 + 2_000 + 0  # it ran 4 ms, up to its deadline
    assert clock.now_us() == 100_000 - MARGIN_US


def _run(text: str, rewarm: bool) -> tuple[ScriptRun, FakeKernel]:
    script = parse_script(text, "server.pkt", RunConfig())
    kernel = FakeKernel(script, RunConfig())
    run = ScriptRun(script, RunConfig(), kernel.device, kernel.clock, kernel.syscalls,
                    kernel.addresses, ephemeral_port=kernel.ephemeral_port, rewarm=rewarm)
    return run, kernel


def test_a_run_walks_again_before_each_event_after_a_long_wait_and_still_passes() -> None:
    run, _ = _run(SERVER, rewarm=True)
    trace = run.run()
    assert trace.failure is None, text_report(trace)
    assert run.state.rewarm is not None
    # Before the SYN (+.1), the data (+.1) and the close (+.05); not before the +.005 ACK.
    assert run.state.rewarm.walks == 3


def test_no_walk_without_the_option() -> None:
    run, _ = _run(SERVER, rewarm=False)
    assert run.run().failure is None
    assert run.state.rewarm is None


def test_a_walk_past_its_deadline_stops_at_the_fake_runs_first_step() -> None:
    run, _ = _run(SERVER, rewarm=False)
    clock = FakeClock()
    clock.start()
    script = loop_rehearsal_script(run.state.script)
    whole = FakeKernel(script, RunConfig())
    run._walk_fake(script, whole, (WalkDeadline(clock, 10**9),))
    assert len(whole.injected) == 3
    cut = FakeKernel(script, RunConfig())
    with pytest.raises(PastDeadline):
        run._walk_fake(script, cut, (WalkDeadline(clock, 0),))
    assert cut.injected == []


def test_walks_before_many_long_waits_leave_no_garbage_piling_up() -> None:
    """The collector is off during a run, and each walk leaves reference cycles: the driver
    collects the young generation before each walk (30 walks left ~9000 objects without)."""
    import gc

    lines = ["0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
             *["+.03 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"] * 30]
    run, _ = _run("\n".join(lines) + "\n", rewarm=True)
    gc.collect()
    trace = run.run()
    assert trace.failure is None, text_report(trace)
    assert run.state.rewarm is not None and run.state.rewarm.walks == 30
    assert gc.collect() < 2_000
