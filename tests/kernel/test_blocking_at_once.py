"""A `...` call whose data is already queued is made at once by the driver, not handed to the
syscall thread (runtime/syscalls/readiness.py); its result, errno and timing stay packetdrill's."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_support import run_with_timing_retries

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.trace.model import Trace
from drillbook.trace.report import text_report

pytestmark = pytest.mark.kernel

HEAD = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 257
+0  accept(3, ..., ...) = 4
+0  < P. 1:1001(1000) ack 1 win 257
+0  > . 1:1(0) ack 1001
"""


def _run(tail: str, tmp_path: Path, tolerance_us: int = 4000, attempts: int = 1) -> Trace:
    """Run HEAD + tail; retry up to ``attempts`` times a run that failed only on timing."""
    text = HEAD + tail
    path = tmp_path / "at_once.pkt"
    path.write_text(text)
    config = RunConfig(tolerance_usecs=tolerance_us)
    return run_with_timing_retries(parse_script(text, str(path), config), config, attempts)


def test_a_queued_read_fails_with_the_syscall_threads_errno(tmp_path: Path) -> None:
    # The C packetdrill prints exactly this: the blocking thread's errno is still 0, where the
    # main thread's would be 2 (ENOENT, left by its start-up).
    trace = _run("+0...0.000 read(4, ..., 1000) = 999\n", tmp_path)
    assert trace.failure is not None
    assert trace.failure.line == 11
    assert trace.failure.message == (
        "runtime error in read call: Expected result 999 but got 1000 with errno 0 (Success)"
    )


def test_queued_reads_return_within_a_tight_tolerance(tmp_path: Path) -> None:
    tail = "+0...0.000 read(4, ..., 500) = 500\n+0...0.000 read(4, ..., 500) = 500\n"
    trace = _run(tail, tmp_path, tolerance_us=1000, attempts=3)
    assert trace.passed, text_report(trace)
    returns = [s.syscall for s in trace.steps if s.syscall is not None and s.syscall.blocking]
    assert len(returns) == 2
