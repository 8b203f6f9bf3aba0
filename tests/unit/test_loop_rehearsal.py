"""The loop's rehearsal before time 0 (runtime/loop/loop_rehearsal.py), and the fake kernel's
errno that it relies on."""

from __future__ import annotations

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.loop.loop_rehearsal import loop_rehearsal_script, rehearse_loop
from drillbook.script.model import Script, SyscallSpec
from drillbook.testing import FakeKernel, run_fake
from drillbook.trace.model import Direction
from drillbook.trace.report import text_report

CLIENT = """`true`
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) <...>
+.01 < S. 0:0(0) ack 1 win 1000 <mss 1000>
+0  > . 1:1(0) ack 1
+0  fcntl(3, F_SETFL, O_RDWR) = 0
+0...0.01 read(3, ..., 1000) = 1000
+0  `true`
`true`
"""


def test_a_call_failing_with_the_scripts_errno_passes_on_the_fake_kernel() -> None:
    # The fake kernel left errno 0, so a non-blocking connect "= -1 EINPROGRESS" failed there
    # (and the loop's rehearsal of such a script stopped at its first call).
    trace = run_fake(CLIENT.split("+0  > S 0:0(0)")[0])
    assert trace.failure is None, text_report(trace)


def test_the_rehearsal_script_leaves_out_blocking_calls_and_the_init_and_cleanup() -> None:
    script = parse_script(CLIENT, "client.pkt", RunConfig())
    rehearsal = loop_rehearsal_script(script)
    assert rehearsal.init_command is None and rehearsal.cleanup_command is None
    names = [e.action.name for e in rehearsal.events if isinstance(e.action, SyscallSpec)]
    assert names == ["socket", "fcntl", "connect", "fcntl"]
    assert len(rehearsal.events) == len(script.events) - 1


def test_the_rehearsal_walks_the_script_on_a_fake_kernel_and_drops_its_failures() -> None:
    script = parse_script(CLIENT, "client.pkt", RunConfig())
    walked: list[Script] = []

    def walk(rehearsal: Script, kernel: FakeKernel) -> None:
        walked.append(rehearsal)
        raise RuntimeError("a fake run that fails only stops")

    rehearse_loop(script, RunConfig(), walk)
    assert walked == [loop_rehearsal_script(script)]


def test_the_walk_goes_on_past_a_packet_the_fake_kernel_gets_wrong() -> None:
    from drillbook.runtime.loop.driver import ScriptRun
    from drillbook.testing import KernelBehaviour

    text = CLIENT.split("+0  > . 1:1(0)")[0] + "+.01 < . 1:1(0) ack 1 win 1000\n"
    script = parse_script(text, "client.pkt", RunConfig())
    real = FakeKernel(script, RunConfig())
    run = ScriptRun(script, RunConfig(), real.device, real.clock, real.syscalls,
                    real.addresses, ephemeral_port=real.ephemeral_port)
    walked = FakeKernel(script, RunConfig(), KernelBehaviour(drops=frozenset({5})))
    run._walk_fake(loop_rehearsal_script(script), walked)
    # The SYN of line 5 never came (a timeout, a warning in explore mode); both inbound
    # packets after it were still written.
    assert len(walked.injected) == 2
    assert real.injected == []  # the real run's kernel saw nothing


WRITER = """0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <...>
+.01 < . 1:1(0) ack 1 win 257
+0  accept(3, ..., ...) = 4
+.01 write(4, ..., 3000) = 3000
+0  > P. 1:3001(3000) ack 1
+.01 < . 1:1(0) ack 3001 win 257
+0  write(4, ..., 3000) = 3000
+0  > P. 3001:6001(3000) ack 1
"""


def test_the_rehearsals_kernel_sends_the_first_large_packet_as_two_tso_fragments() -> None:
    """So the matcher's gathering of fragments is rehearsed too; the later large packets go
    whole, which keeps the early-answer path rehearsed."""
    from drillbook.runtime.loop.loop_rehearsal import REHEARSAL_KERNEL

    trace = run_fake(WRITER, REHEARSAL_KERNEL)
    assert trace.failure is None, text_report(trace)
    sent = [p.summary.split()[:2] for p in trace.packets if p.direction is Direction.OUTBOUND]
    assert sent == [["S.", "0:0(0)"], [".", "1:1501(1500)"],  # the first without PSH
                    ["P.", "1501:3001(1500)"], ["P.", "3001:6001(3000)"]]


def test_the_fake_kernel_sends_whole_packets_unless_told() -> None:
    trace = run_fake(WRITER)
    assert trace.failure is None, text_report(trace)
    assert len([p for p in trace.packets if p.direction is Direction.OUTBOUND]) == 3
