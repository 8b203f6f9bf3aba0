"""The run loop's decisions over the fake kernel (drillbook.testing), without root: anchoring,
order, tolerance, failure at the right line, timeouts, explore and non-fatal modes, blocking
calls, and the early `+0` answer. tests/kernel/test_run_loop_kernel.py runs the same
behaviours against the real kernel."""

from __future__ import annotations

from drillbook.config import RunConfig
from drillbook.engine.actions import AwaitPacket, Record
from drillbook.engine.interpreter import Interpreter, RunOptions
from drillbook.engine.packets import PacketEngine
from drillbook.parser import parse_script
from drillbook.runtime.loop.driver import ScriptRun
from drillbook.testing import FakeKernel, KernelBehaviour, rewrite_tcp, run_fake
from drillbook.trace.model import FailureKind, Outcome, Step, Trace
from drillbook.trace.report import text_report

OPEN = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 1000
+0  > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 1000
+0  accept(3, ..., ...) = 4
"""
# Lines 9-11: a write, the kernel's data 20 ms later, the ACK at once.
WRITE = OPEN + """\
+0  write(4, ..., 10) = 10
+.02 > P. 1:11(10) ack 1
+0  < . 1:1(0) ack 11 win 1000
"""


def step(trace: Trace, line: int) -> Step:
    return next(s for s in trace.steps if s.line == line)


def test_a_script_the_kernel_follows_passes_on_schedule() -> None:
    trace = run_fake(WRITE)
    assert trace.failure is None, text_report(trace)
    assert [step(trace, line).scheduled_us for line in (5, 7, 9, 10, 11)] == [
        0, 100_000, 100_000, 120_000, 120_000]
    assert all(s.outcome is Outcome.OK for s in trace.steps)


def test_a_relative_time_counts_from_the_kernels_timestamp() -> None:
    # The data comes 3 ms late (inside the 4 ms tolerance): the `+0` answer counts from when
    # it came, not from when it was due.
    trace = run_fake(WRITE, KernelBehaviour(delays_us={10: 3000}))
    assert trace.failure is None, text_report(trace)
    assert step(trace, 10).actual_us == 123_000
    assert step(trace, 11).scheduled_us == 123_000


def test_consecutive_inbound_packets_count_from_the_previous_ones_schedule() -> None:
    trace = run_fake(OPEN + "+.01 < . 1:1(0) ack 1 win 2000\n+.01 < . 1:1(0) ack 1 win 3000\n")
    assert trace.failure is None, text_report(trace)
    assert [step(trace, 9).scheduled_us, step(trace, 10).scheduled_us] == [110_000, 120_000]


def test_a_wrong_field_fails_at_its_line_and_the_early_answer_is_marked() -> None:
    trace = run_fake(WRITE, KernelBehaviour(rewrites={10: rewrite_tcp(ack=5)}))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (10, FailureKind.PACKET)
    assert trace.failure.field_name == "tcp_ack_seq"
    assert step(trace, 10).outcome is Outcome.FAILED
    answer = step(trace, 11)  # written the moment line 10's packet came, before the match
    assert answer.outcome is Outcome.NOT_RUN
    assert answer.message is not None and "line 10" in answer.message
    assert answer.actual is not None and answer.actual in trace.packets


def test_a_late_packet_fails_on_timing_beyond_the_tolerance() -> None:
    trace = run_fake(WRITE, KernelBehaviour(delays_us={10: 10_000}))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (10, FailureKind.TIMING)
    assert "expected outbound packet at 0.120000 sec but happened at 0.130000" in (
        trace.failure.message)


def test_a_packet_that_never_comes_times_out_at_its_line() -> None:
    trace = run_fake(WRITE, KernelBehaviour(drops=frozenset({10})))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (10, FailureKind.TIMEOUT)
    assert trace.failure.message == "error handling packet: Timed out waiting for packet"
    assert trace.duration_us >= 2_000_000  # packetdrill's sniff timeout: whole seconds + 2 s
    assert not any(s.line == 11 for s in trace.steps)


def test_explore_mode_records_mismatches_and_timeouts_as_warnings() -> None:
    options = RunOptions(explore=True, explore_grace_us=0)
    trace = run_fake(WRITE, KernelBehaviour(drops=frozenset({10})), options=options)
    assert trace.failure is None
    assert step(trace, 10).outcome is Outcome.WARNING
    assert step(trace, 10).message == "no packet"
    wrong = run_fake(WRITE, KernelBehaviour(rewrites={10: rewrite_tcp(ack=5)}), options=options)
    assert wrong.failure is None
    assert step(wrong, 10).outcome is Outcome.WARNING
    assert step(wrong, 11).outcome is Outcome.OK


def test_non_fatal_packet_turns_a_field_mismatch_into_a_warning() -> None:
    config = RunConfig(non_fatal_packet=True)
    trace = run_fake(WRITE, KernelBehaviour(rewrites={10: rewrite_tcp(ack=5)}), config=config)
    assert trace.failure is None, text_report(trace)
    assert step(trace, 10).outcome is Outcome.WARNING
    assert trace.warnings and trace.warnings[0].startswith("fake.pkt:10: warning handling packet")
    # ...but not a payload length, which packetdrill always treats as fatal.
    short = run_fake(WRITE, KernelBehaviour(rewrites={10: rewrite_tcp(payload=bytes(12))}),
                     config=config)
    assert short.failure is not None and short.failure.line == 10
    assert "live packet payload: expected 10 bytes vs actual 12 bytes" in short.failure.message


def test_a_syscall_result_mismatch_fails_at_the_call() -> None:
    trace = run_fake(WRITE, KernelBehaviour(results={9: 5}))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (9, FailureKind.SYSCALL)
    assert "Expected result 10 but got 5" in trace.failure.message


BLOCKING = OPEN + """\
+0...0.05 read(4, ..., 10) = 10
+.05 < P. 1:11(10) ack 1 win 1000
+.1 < . 11:11(0) ack 1 win 1000
"""


def test_a_blocking_call_returns_while_the_script_goes_on() -> None:
    trace = run_fake(BLOCKING)
    assert trace.failure is None, text_report(trace)
    call = step(trace, 9)
    assert call.syscall is not None and call.syscall.blocking
    assert call.end_scheduled_us == 150_000
    assert call.syscall.return_us == 150_000
    assert step(trace, 10).scheduled_us == 150_000  # counted from the call's start


def test_a_blocking_call_that_returns_late_fails_on_its_return_time() -> None:
    trace = run_fake(BLOCKING, KernelBehaviour(block_us={9: 80_000}))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (9, FailureKind.TIMING)
    assert "expected system call return" in trace.failure.message


def test_a_code_block_snapshots_the_socket_a_blocking_accept_returned_meanwhile() -> None:
    # The accept returns during the wait for the block (basic-non-tfo-listener.pkt's shape).
    text = OPEN.replace("+.1 < . 1:1(0) ack 1 win 1000\n+0  accept(3, ..., ...) = 4\n",
                        "+0...0.05 accept(3, ..., ...) = 4\n+.05 < . 1:1(0) ack 1 win 1000\n"
                        "+.005 %{ x = 1 }%\n")
    trace = run_fake(text)
    assert trace.failure is None, text_report(trace)
    assert step(trace, 9).outcome is Outcome.OK


def test_the_order_of_events_is_checked() -> None:
    late_start = run_fake("+1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert late_start.failure is not None
    assert late_start.failure.message == "first event should be at time 0"
    backward = run_fake("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                        "0.2 close(3) = 0\n0.1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert backward.failure is not None and backward.failure.line == 3
    assert "time goes backward in script from 200000 usec to 100000 usec" in (
        backward.failure.message)


def test_a_failing_command_fails_at_its_line() -> None:
    trace = run_fake(OPEN + "+0 `exit 3`\n", KernelBehaviour(returncodes={9: 3}))
    assert trace.failure is not None
    assert (trace.failure.line, trace.failure.kind) == (9, FailureKind.COMMAND)
    assert trace.failure.message == "error executing `exit 3` command: non-zero exit status 3"


def _await_for(text: str, line: int) -> AwaitPacket:
    """The interpreter's action for the `>` line ``line`` of ``text``, with the socket events
    and packets before it played as the fake kernel would (through run_fake's parts)."""
    return _played_until(text, line)[2]


def _played_until(text: str, line: int) -> tuple[Interpreter, FakeKernel, AwaitPacket]:
    """``_await_for``, with the interpreter and the fake kernel it played against."""
    config = RunConfig()
    script = parse_script(text, "x.pkt", config)
    kernel = FakeKernel(script, config)
    engine = PacketEngine(config, kernel.addresses, kernel.ephemeral_port)
    interpreter = Interpreter(script, config, engine, RunOptions())
    kernel.listen(interpreter.packets.on_socket_event)
    while True:
        action = interpreter.next_action(0)
        if isinstance(action, AwaitPacket) and action.current.line == line:
            return interpreter, kernel, action
        if isinstance(action, AwaitPacket):
            got = kernel.read_outbound(10)
            assert got is not None
            interpreter.packet_seen(action, got[0], 0)
        elif hasattr(action, "spec"):
            kernel.execute(action.spec, 0)  # type: ignore[union-attr]
        elif hasattr(action, "packet"):
            kernel.inject(action.packet.data)  # type: ignore[union-attr]


def test_an_early_answer_is_offered_only_when_it_cannot_depend_on_the_awaited_packet() -> None:
    # The SYN-ACK teaches the kernel's ISN, which the ACK after it needs.
    handshake = OPEN.replace("+.1 < . 1:1(0) ack 1", "+0 < . 1:1(0) ack 1")
    assert _await_for(handshake, 6).answer is None
    data = _await_for(WRITE.replace("+.02 >", "+0 >"), 10)
    assert data.answer is not None and data.answer.index == 10
    # A TS ecr that echoes the awaited packet's TS val maps through it; one echoing an older
    # TS val does not.
    ts = (OPEN.replace("<...>", "<nop,nop,TS val 50 ecr 0>")
          .replace("+.1 < . 1:1(0) ack 1 win 1000", "+.1 < . 1:1(0) ack 1 win 1000 "
                   "<nop,nop,TS val 1 ecr 50>")
          + "+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 <nop,nop,TS val 100 ecr 1>\n"
          "+0 < . 1:1(0) ack 11 win 1000 <nop,nop,TS val 2 ecr 100>\n")
    assert _await_for(ts, 10).answer is None
    assert _await_for(ts.replace("ecr 100>", "ecr 50>"), 10).answer is not None


def test_an_answer_written_early_keeps_its_time_however_late_the_loop_records_it() -> None:
    """The `+0` answer was written 5 µs after the kernel's packet; the loop then stalled for
    6 ms (a busy machine) before it recorded the two events. The answer is on time: its time
    counts from the awaited packet, not from when the loop came back (as an event the loop
    still has to perform would after a stall)."""
    interpreter, kernel, action = _played_until(WRITE.replace("+.02 >", "+0 >"), 10)
    assert action.answer is not None
    got = kernel.read_outbound(10)  # the kernel's data, sent in the write before
    assert got is not None
    sniffed_us = action.sniff_start_us + 100
    interpreter.answered_early(action.answer, sniffed_us + 5, sniffed_us + 7)
    assert interpreter.packet_seen(action, got[0], sniffed_us).report is not None
    answer = interpreter.next_action(sniffed_us + 6_000)
    assert isinstance(answer, Record) and answer.report.event.line == 11
    assert answer.report.outcome is Outcome.OK and answer.report.failure is None


def test_a_burst_of_inbound_packets_is_written_back_to_back() -> None:
    """`+0 <` after `<` (packetdrill writes such a burst at once): between two packets of a
    burst the loop only reads the socket's TCP_INFO (each step's own, as its packet left
    it); the packets' records and steps come after the burst."""
    text = OPEN + ("+.01 < . 1:1(0) ack 1 win 2000\n+0 < . 1:1(0) ack 1 win 3000\n"
                   "+0 < . 1:1(0) ack 1 win 4000\n")
    config = RunConfig()
    script = parse_script(text, "x.pkt", config)
    kernel = FakeKernel(script, config)
    log: list[str] = []
    inject, tcp_info = kernel.inject, kernel.tcp_info_bytes

    def logged_inject(data: bytes, gso_type: int = 0, gso_size: int = 0) -> int:
        log.append(f"inject win {int.from_bytes(data[34:36], 'big')}")
        return inject(data, gso_type, gso_size)

    def logged_tcp_info(live_fd: int) -> bytes | None:
        log.append("tcp_info")
        return tcp_info(live_fd)

    kernel.inject = logged_inject  # type: ignore[method-assign]
    kernel.tcp_info_bytes = logged_tcp_info  # type: ignore[method-assign]
    run = ScriptRun(script, config, kernel.device, kernel.clock, kernel.syscalls,
                    kernel.addresses, RunOptions(), kernel.ephemeral_port)
    recorded: list[int] = []
    step_of = run.state.recorder.step

    def logged_step(index: int, *args: object, **kwargs: object) -> None:
        recorded.append(index)
        log.append(f"step {index}")
        step_of(index, *args, **kwargs)  # type: ignore[arg-type]

    run.state.recorder.step = logged_step  # type: ignore[method-assign]
    trace = run.run()
    assert trace.failure is None, text_report(trace)
    burst = log[log.index("inject win 2000"):]
    assert burst[:5] == ["inject win 2000", "tcp_info", "inject win 3000", "tcp_info",
                         "inject win 4000"], log
    assert [step(trace, line).scheduled_us for line in (9, 10, 11)] == [110_000] * 3
    assert sorted(recorded) == recorded, "steps recorded in order"


def test_a_burst_behind_an_early_answer_is_written_with_it() -> None:
    """`> P.` then `+0 < .` (answered early) then `+0 < F.`: the FIN is built with the answer
    and written right behind it, before the data packet is decoded, as packetdrill writes a
    burst (the seed handshake's FIN-ACK depends on the FIN reaching the kernel at once)."""
    text = WRITE + "+0 < F. 1:1(0) ack 11 win 1000\n"
    data = _await_for(text, 10)
    assert data.answer is not None and data.answer.index == 10
    assert [follower.index for follower in data.answer.burst] == [11]
    trace = run_fake(text)
    assert trace.failure is None, text_report(trace)
    assert [step(trace, line).scheduled_us for line in (10, 11, 12)] == [120_000] * 3
