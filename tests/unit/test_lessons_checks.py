"""Self-checks and trace queries of drillbook.lessons over small hand-built traces."""

from __future__ import annotations

from drillbook import labkit
from drillbook.lessons.queries import retransmissions, window_probes
from drillbook.trace.model import (
    Direction,
    Outcome,
    PacketRecord,
    Step,
    StepKind,
    TcpInfoSnapshot,
    Trace,
)

IN, OUT = Direction.INBOUND, Direction.OUTBOUND


def pkt(
    direction: Direction,
    time_s: float,
    flags: str,
    seq: int,
    length: int = 0,
    ack: int | None = None,
    win: int | None = None,
    sack: tuple[tuple[int, int], ...] = (),
) -> PacketRecord:
    return PacketRecord(
        direction=direction, time_us=round(time_s * 1e6), protocol="tcp",
        summary=f"{flags} {seq}:{seq + length}({length})", flags=flags, seq=seq,
        end_seq=seq + length, payload_len=length, ack=ack, window=win, sack_blocks=sack,
    )


def trace(*packets: PacketRecord, steps: tuple[Step, ...] = ()) -> Trace:
    return Trace(script_path="t.pkt", script_text="", ip_mode="ipv4", steps=steps,
                 packets=tuple(sorted(packets, key=lambda p: p.time_us)))


HANDSHAKE = (
    pkt(IN, 0.0, "S", 0, win=65535),
    pkt(OUT, 0.0, "S.", 0, ack=1),
    pkt(IN, 0.1, ".", 1, ack=1, win=65535),
)

# RTO: 1:1001 sent at 0.1, then again 0.3, 0.6 and 1.2 s later (RFC 6298 backoff).
RTO = trace(
    *HANDSHAKE,
    pkt(OUT, 0.1, "P.", 1, 1000, ack=1),
    pkt(OUT, 0.4, "P.", 1, 1000, ack=1),
    pkt(OUT, 1.0, "P.", 1, 1000, ack=1),
    pkt(OUT, 2.2, "P.", 1, 1000, ack=1),
)


def test_retransmissions_are_found_with_their_gaps() -> None:
    found = retransmissions(RTO)
    assert [round(r.gap_s, 3) for r in found] == [0.3, 0.6, 1.2]
    assert [r.count for r in found] == [1, 2, 3]
    assert found[0].label == "1:1001(1000)"


def test_check_retransmission_says_both_numbers() -> None:
    right = labkit.check_retransmission(RTO, expected_after_s=0.3)
    wrong = labkit.check_retransmission(RTO, expected_after_s=0.5)
    assert right.ok and "after 0.30 s, as you expected" in right.message
    assert not wrong.ok
    assert wrong.message == (
        "the kernel retransmitted 1:1001(1000) after 0.30 s, you expected 0.50 s"
    )
    assert labkit.check_retransmission(RTO, 0.6, nth=2).ok
    assert not labkit.check_retransmission(RTO, 0.6, nth=9).ok


def test_unanswered_prediction_is_not_a_pass() -> None:
    check = labkit.check_retransmission(RTO, None)
    assert not check.ok and "no answer yet" in check.message


def test_backoff_reports_doubling() -> None:
    check = labkit.check_backoff(RTO, [0.3, 0.6, 1.2])
    assert check.ok and "twice" in check.message
    assert not labkit.check_backoff(RTO, [0.3, 0.3, 0.3]).ok


def test_syn_retransmissions_count_as_retransmissions() -> None:
    syns = trace(pkt(OUT, 0, "S", 0), pkt(OUT, 1, "S", 0), pkt(OUT, 3, "S", 0))
    assert [round(r.gap_s) for r in retransmissions(syns)] == [1, 2]
    assert labkit.check_backoff(syns, [1.0, 2.0]).ok


def test_fast_retransmit_counts_duplicate_acks_even_if_stamped_after_the_reply() -> None:
    # The injected ACK is stamped when its write returns, a few us after the kernel's answer.
    run = trace(
        *HANDSHAKE,
        pkt(OUT, 0.1, "P.", 1, 4000, ack=1),
        pkt(IN, 0.2, ".", 1, ack=1, sack=((1001, 2001),)),
        pkt(IN, 0.2, ".", 1, ack=1, sack=((1001, 3001),)),
        pkt(OUT, 0.200004, ".", 1, 1000, ack=1),
        pkt(IN, 0.200009, ".", 1, ack=1, sack=((1001, 4001),)),
    )
    assert labkit.check_fast_retransmit(run, 3).ok
    assert "after 3 duplicate ACK(s)" in labkit.check_fast_retransmit(run, 2).message


def test_sack_blocks_of_the_reply_to_a_segment() -> None:
    run = trace(
        *HANDSHAKE,
        pkt(OUT, 0.100001, ".", 1, ack=1, sack=((2001, 3001),)),
        pkt(IN, 0.100002, ".", 2001, 1000, ack=1),
        pkt(OUT, 0.100003, ".", 1, ack=1, sack=((4001, 5001), (2001, 3001))),
        pkt(IN, 0.100004, ".", 4001, 1000, ack=1),
    )
    assert labkit.check_sack_blocks(run, 4001, [(4001, 5001), (2001, 3001)]).ok
    swapped = labkit.check_sack_blocks(run, 4001, [(2001, 3001), (4001, 5001)])
    assert not swapped.ok and "different order" in swapped.message


def test_ack_delay_and_segments() -> None:
    run = trace(
        *HANDSHAKE,
        pkt(IN, 0.2, "P.", 1, 100, ack=1),
        pkt(OUT, 0.245, ".", 1, ack=101),
        pkt(OUT, 0.3, "P.", 1, 10, ack=101),
        pkt(OUT, 0.4, "P.", 11, 20, ack=101),
    )
    assert labkit.check_ack_delay(run, 0.04).ok
    assert not labkit.check_ack_delay(run, 0.0).ok
    assert labkit.check_segments(run, [(1, 11), (11, 31)]).ok
    assert not labkit.check_segments(run, [(1, 31)]).ok
    assert labkit.check_sent(run, "R", False).ok
    assert not labkit.check_sent(run, "P", False).ok


def test_window_probes_sit_one_byte_below_the_ack() -> None:
    run = trace(
        *HANDSHAKE,
        pkt(OUT, 0.1, "P.", 1, 2000, ack=1),
        pkt(IN, 0.2, ".", 1, ack=2001, win=0),
        pkt(OUT, 0.5, ".", 2000, ack=1),
        pkt(IN, 0.5, ".", 1, ack=2001, win=0),
        pkt(OUT, 1.1, ".", 2000, ack=1),
        pkt(OUT, 1.2, ".", 2001, ack=1),  # a pure ACK at snd_nxt is no probe
    )
    assert len(window_probes(run)) == 2
    assert labkit.check_window_probes(run, 2, after_s=0.3).ok
    assert not labkit.check_window_probes(run, 2, after_s=1.0).ok
    assert not labkit.check_window_probes(run, 3).ok


def test_tcp_info_by_line() -> None:
    def step(line: int, cwnd: int) -> Step:
        info = TcpInfoSnapshot(time_us=line, state="ESTABLISHED", snd_cwnd=cwnd,
                               fields=(("tcpi_snd_cwnd", cwnd), ("tcpi_rto", 300000)))
        return Step(index=line, line=line, kind=StepKind.CODE, text="%{ }%",
                    outcome=Outcome.OK, tcp_info=info)

    run = trace(steps=(step(10, 10), step(20, 15)))
    assert labkit.check_tcp_info(run, "snd_cwnd", 15).ok
    assert labkit.check_tcp_info(run, "tcpi_snd_cwnd", 10, line=10).ok
    assert labkit.check_tcp_info(run, "rto", 300000).ok
    wrong = labkit.check_tcp_info(run, "snd_cwnd", 14)
    assert wrong.message == (
        "TCP_INFO at the end of the run says tcpi_snd_cwnd = 15; you expected 14"
    )
    assert not labkit.check_tcp_info(run, "no_such_field", 1).ok


def test_check_renders_pass_and_fail_for_graders() -> None:
    ok, bad = labkit.Check(True, "fine"), labkit.Check(False, "a < b")
    assert 'data-drillbook-check="pass"' in ok.html()
    assert 'data-drillbook-check="fail"' in bad.html() and "a &lt; b" in bad.html()
    assert bool(ok) and not bool(bad)
    assert repr(bad).startswith("✘")


def test_check_passed_uses_the_failure_text() -> None:
    from drillbook.trace.model import Failure, FailureKind

    failed = Trace(script_path="x.pkt", script_text="", ip_mode="ipv4", steps=(), packets=(),
                   failure=Failure(FailureKind.TIMING, 7, 1, "timing error", path="x.pkt"))
    check = labkit.check_passed(failed)
    assert not check.ok and "x.pkt:7: timing error" in check.message
    assert labkit.check_passed(RTO).ok


def test_back_to_back_packets_count_as_one_segment() -> None:
    run = trace(
        *HANDSHAKE,
        pkt(OUT, 0.1, ".", 1, 1000, ack=1),
        pkt(OUT, 0.10001, "P.", 1001, 1000, ack=1),
        pkt(OUT, 0.3, "P.", 2001, 2000, ack=1),
        pkt(OUT, 0.30002, "P.", 4001, 1000, ack=1),
        pkt(OUT, 0.5, "P.", 5001, 10, ack=1),
    )
    assert labkit.data_segments(run) == ((1, 2001), (2001, 5001), (5001, 5011))


def test_check_syscall_reads_the_recorded_result() -> None:
    from drillbook.trace.model import SyscallRecord

    def call(line: int, name: str, result: int, errno: int = 0, errno_name: str = "") -> Step:
        record = SyscallRecord(name=name, text=f"{name}(...)", expected_result=result,
                               result=result, errno=errno, errno_name=errno_name)
        return Step(index=line, line=line, kind=StepKind.SYSCALL, text=name,
                    outcome=Outcome.OK, syscall=record)

    run = trace(steps=(call(9, "read", 100), call(12, "read", -1, 104, "ECONNRESET")))
    assert labkit.check_syscall(run, 9, 100).ok
    assert labkit.check_syscall(run, 9, 50).message == (
        "read() on line 9 returned 100; you expected 50"
    )
    assert "returned -1 (ECONNRESET)" in labkit.check_syscall(run, 12, 0).message
    assert not labkit.check_syscall(run, 3, 0).ok


def test_no_check_passes_on_a_failed_run() -> None:
    # An "edit the script" exercise as handed out: the script fails, yet the kernel's SYN
    # retransmissions are the same, so measuring them alone would pass with no answer.
    from dataclasses import replace

    from drillbook.trace.model import Failure, FailureKind

    syns = trace(pkt(OUT, 0, "S", 0), pkt(OUT, 1, "S", 0), pkt(OUT, 3, "S", 0))
    unfixed = replace(syns, failure=Failure(FailureKind.TIMING, 8, 1, "timing error",
                                            path="cell"))
    assert labkit.check_backoff(syns, [1.0, 2.0]).ok
    check = labkit.check_backoff(unfixed, [1.0, 2.0])
    assert not check.ok
    assert check.message.startswith("the kernel disagreed with your script, so this run shows "
                                    "nothing to check yet: cell:8: timing error")
    assert "Fix the script until the kernel agrees" in check.message
    # A wrong measurement of a failed run says the run failed, not what it measured.
    assert "disagreed" in labkit.check_backoff(unfixed, [9.0]).message
    # A prediction not made yet still asks for it; the "why" checks keep their title.
    assert labkit.check_backoff(unfixed, None).message.startswith("no answer yet")
    assert labkit.check_causes(unfixed, [8], ["rto"]).title == "Why?"
