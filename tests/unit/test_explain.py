"""The pure parts of kernel evidence: the ring buffer's page format, format files, counters,
attribution by cookie and socket lifetime, and the explanations' vocabulary."""

from __future__ import annotations

import struct

from drillbook.explain import explain_trace
from drillbook.lessons.checks import check_cause, check_reset_reason
from drillbook.runtime.capture.attribute import attribute
from drillbook.runtime.capture.counters import RawSample, counter_samples, parse_counters
from drillbook.runtime.capture.formats import parse_format
from drillbook.runtime.capture.ringbuffer import PageLayout, parse_header_page, parse_page
from drillbook.trace.kernel import (
    Cause,
    Change,
    CounterDelta,
    CounterSample,
    Explanation,
    KernelEvent,
    KernelSources,
    SocketRecord,
)
from drillbook.trace.model import (
    Direction,
    Outcome,
    PacketRecord,
    Step,
    StepKind,
    TcpInfoSnapshot,
    Trace,
)

STATE_FORMAT = """name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u8 saddr[4];\toffset:24;\tsize:4;\tsigned:0;

print fmt: "oldstate=%s", __print_symbolic(REC->oldstate, { 1, "TCP_ESTABLISHED" }, \
{ 7, "TCP_CLOSE" }, { TCP_LISTEN, "TCP_LISTEN" })
"""

PROBE_FORMAT = """name: tcp_destroy_sock
ID: 2278
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__u64 sock_cookie;\toffset:16;\tsize:8;\tsigned:0;
"""

HEADER_PAGE = """\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
"""


def state_payload(skaddr: int, old: int, new: int) -> bytes:
    return struct.pack("<HBBiQii4s", 2287, 0, 0, 0, skaddr, old, new, b"\0" * 4)


def destroy_payload(skaddr: int, cookie: int) -> bytes:
    return struct.pack("<HBBiQQ", 2278, 0, 0, 0, skaddr, cookie)


def page(start_ns: int, events: list[tuple[int, bytes]], missed: bool = False) -> bytes:
    """A raw page as trace_pipe_raw hands it out: (delta_ns, payload) events."""
    data = b""
    for delta, payload in events:
        if len(payload) <= 112 and len(payload) % 4 == 0:
            data += struct.pack("<I", (delta << 5) | (len(payload) // 4)) + payload
        else:
            padded = payload + b"\0" * (-len(payload) % 4)
            data += struct.pack("<II", delta << 5, len(payload) + 4) + padded
    commit = len(data) | (1 << 31 if missed else 0)
    return struct.pack("<Qq", start_ns, commit) + data + b"\0" * (4096 - 16 - len(data))


def test_format_files_give_fields_and_resolved_enum_names() -> None:
    event = parse_format("sock", "inet_sock_set_state", STATE_FORMAT)
    assert event.event_id == 2287
    assert [f.name for f in event.fields] == ["skaddr", "oldstate", "newstate", "saddr"]
    fields, names = event.decoder().decode(state_payload(0xFFFF1, 1, 7))
    assert dict(fields) == {"skaddr": 0xFFFF1, "oldstate": 1, "newstate": 7}
    assert dict(names) == {"oldstate": "TCP_ESTABLISHED"}  # the unresolved macro is left out


def test_a_short_payload_decodes_the_fields_that_fit_and_formats_share_one_decoder() -> None:
    """A payload cut after ``oldstate`` (an older kernel's shorter event, a page's last bytes)
    gives the fields that fit, named, as the whole one does; the same format text gives the
    same format and decoder, made once."""
    event = parse_format("sock", "inet_sock_set_state", STATE_FORMAT)
    cut = state_payload(0xFFFF1, 1, 7)[:20]
    fields, names = event.decoder().decode(cut)
    assert fields == (("skaddr", 0xFFFF1), ("oldstate", 1))
    assert names == (("oldstate", "TCP_ESTABLISHED"),)
    again = parse_format("sock", "inet_sock_set_state", STATE_FORMAT)
    assert again is event and again.decoder() is event.decoder()


def test_pages_decode_with_deltas_long_events_and_lost_events() -> None:
    layout = parse_header_page(HEADER_PAGE)
    assert (layout.commit_offset, layout.commit_size, layout.data_offset) == (8, 8, 16)
    raw = page(1_000, [(5, state_payload(1, 7, 10)), (7, b"x" * 120)], missed=True)
    summary = parse_page(raw, cpu=1, layout=layout)
    assert [e.timestamp_ns for e in summary.events] == [1_005, 1_012]
    assert summary.events[0].payload[:2] == struct.pack("<H", 2287)
    assert len(summary.events[1].payload) == 120 and summary.missed == -1


def test_attribution_by_cookie_and_by_socket_lifetime_never_by_address() -> None:
    """Two sockets share one kernel address one after the other (reuse within ms): only the
    events inside our socket's lifetime are ours."""
    formats = [parse_format("sock", "inet_sock_set_state", STATE_FORMAT),
               parse_format("tcp", "tcp_destroy_sock", PROBE_FORMAT)]
    theirs = [(0, state_payload(0xA, 7, 10)), (10, destroy_payload(0xA, 99))]
    ours = [(10, state_payload(0xA, 7, 10)), (10, state_payload(0xA, 10, 7)),
            (10, destroy_payload(0xA, 42))]
    pages = [(0, page(1_000_000, theirs + ours))]
    events = attribute(pages, PageLayout(), formats, {42}, started_monotonic_ns=1_000_000)
    assert [(e.name, e.cookie) for e in events] == [
        ("inet_sock_set_state", 42), ("inet_sock_set_state", 42), ("tcp_destroy_sock", 42)]
    assert events[0].symbol("oldstate") == "TCP_CLOSE" and events[1].field("newstate") == 7


def test_counters_parse_and_deltas_skip_gauges() -> None:
    text = b"TcpExt: TCPLossProbes TCPTimeouts\nTcpExt: 1 2\nTcp: CurrEstab RetransSegs\nTcp: 1 5\n"
    assert parse_counters(text)["TcpExt.TCPTimeouts"] == 2
    later = text.replace(b"1 2\n", b"2 2\n").replace(b"1 5\n", b"0 6\n")
    (sample,) = counter_samples([RawSample(-1, 0, (text,)), RawSample(3, 50, (later,))])
    assert sample.after_step == 3 and sample.get("TcpExt.TCPLossProbes") == 1
    assert sample.get("Tcp.RetransSegs") == 1 and sample.get("Tcp.CurrEstab") == 0


def packet(time_us: int, seq: int, length: int, flags: str = "P.") -> PacketRecord:
    return PacketRecord(Direction.OUTBOUND, time_us, "tcp", f"{flags} {seq}", flags=flags,
                        seq=seq, end_seq=seq + length, payload_len=length, live_seq=seq)


def info(time_us: int, cwnd: int, ca: int, rto: int, backoff: int) -> TcpInfoSnapshot:
    return TcpInfoSnapshot(time_us, "ESTABLISHED", ca_state=ca, snd_cwnd=cwnd, rto_us=rto,
                           snd_ssthresh=0x7FFFFFFF, fields=(("tcpi_backoff", backoff),))


def out_step(index: int, line: int, record: PacketRecord, snapshot: TcpInfoSnapshot) -> Step:
    return Step(index, line, StepKind.OUTBOUND, "", Outcome.OK, actual_us=record.time_us,
                actual=record, tcp_info=snapshot)


def counters_only_trace() -> Trace:
    """A peer that stops ACKing, seen without tracefs: counters and TCP_INFO only."""
    first, tlp, rto = packet(0, 1, 1000), packet(300_000, 1, 1000), packet(620_000, 1, 1000)
    steps = (
        out_step(0, 10, first, info(0, 10, 0, 300_000, 0)),
        out_step(1, 11, tlp, info(300_000, 10, 0, 300_000, 0)),
        out_step(2, 12, rto, info(620_000, 1, 4, 600_000, 1)),
    )
    samples = (
        CounterSample(1, 300_100, (CounterDelta("TcpExt.TCPLossProbes", 1),)),
        CounterSample(2, 620_100, (CounterDelta("TcpExt.TCPTimeouts", 1),)),
    )
    return Trace("x.pkt", "", "ipv4", steps, (first, tlp, rto), counter_samples=samples,
                 sources=KernelSources(counters=("/proc/net/netstat",), tcp_info=True))


def test_counters_and_tcp_info_name_the_probe_then_the_timer() -> None:
    trace = counters_only_trace()
    explained = {e.line: e for e in explain_trace(trace) if e.kind == "retransmission"}
    assert explained[11].cause is Cause.TLP and explained[11].backoff is None
    rto = explained[12]
    assert rto.cause is Cause.RTO and rto.backoff == 1 and rto.rto_us == 300_000
    assert rto.cong == Change("Open", "Loss") and rto.cwnd == Change("10", "1")
    assert rto.keys() == "cause=rto cong=Open->Loss cwnd=10->1 rto=300ms backoff=1"
    assert rto.render("x.pkt").startswith("x.pkt:12: cause=rto ")
    assert "retransmission timer fired (RTO 300ms, 1st backoff)" in rto.sentence
    trace = Trace(**{**trace.__dict__, "explanations": explain_trace(trace)})
    assert [e.cause for e in trace.explanations_for_step(2)] == [Cause.RTO]
    counters = trace.counters_for_step(2)
    assert counters is not None and counters.get("TcpExt.TCPTimeouts") == 1


def test_labkit_checks_ask_the_explanations() -> None:
    trace = counters_only_trace()
    trace = Trace(**{**trace.__dict__, "explanations": explain_trace(trace)})
    assert check_cause(trace, 11, "tlp").ok
    wrong = check_cause(trace, 11, "rto")
    assert not wrong.ok and "cause=tlp" in wrong.message and "you predicted rto" in wrong.message
    assert not check_cause(trace, 11, None).ok
    reset = Explanation("reset", 13, 3, 0, "RST: ...", reason="TCP_ABORT_ON_CLOSE")
    trace = Trace(**{**trace.__dict__, "explanations": (reset,)})
    assert check_reset_reason(trace, 13, "abort on close").ok
    assert not check_reset_reason(trace, 13, "TCP_ABORT_ON_DATA").ok


def test_sockets_are_plain_data() -> None:
    record = SocketRecord(cookie=7, live_fd=5, script_fd=3, time_us=0, line=2)
    assert record.cookie == 7


def test_a_mismatch_says_what_differs_in_the_whole_packet() -> None:
    from drillbook.explain.packets import packet_difference
    from drillbook.trace.model import TcpOptionRecord

    def synack(options: str) -> PacketRecord:
        records = tuple(TcpOptionRecord(o.split()[0], o) for o in options.split(","))
        return PacketRecord(Direction.OUTBOUND, 0, "tcp", f"S. 0:0(0) ack 1 <{options}>",
                            flags="S.", ack=1, options=records)

    sentence = packet_difference(synack("mss 1460,nop,nop,sackOK"), synack("mss 1460"))
    assert sentence == (
        "the kernel's SYN-ACK is 4 bytes shorter: it carries no sackOK option "
        "(script: <mss 1460,nop,nop,sackOK>, kernel: <mss 1460>)"
    )
    assert packet_difference(synack("mss 1460"), synack("mss 1460")) is None
    ack = packet(0, 1, 0, ".")
    later = PacketRecord(**{**ack.__dict__, "ack": 2001})
    assert packet_difference(PacketRecord(**{**ack.__dict__, "ack": 1001}), later) == (
        "the kernel's ACK differs: it acknowledges 2001, not 1001")


def test_the_sequence_diagram_shows_explanations_beside_arrows_unless_turned_off() -> None:
    from matplotlib.figure import Figure

    from drillbook.render.sequence import draw_sequence

    trace = counters_only_trace()
    trace = Trace(**{**trace.__dict__, "explanations": explain_trace(trace)})
    shown = draw_sequence(Figure().add_subplot(), trace)
    texts = [t.get_text() for t in shown.explanations]
    assert [t.splitlines()[0] for t in texts] == [
        "why: cause=tlp", "why: cause=rto cong=Open->Loss cwnd=10->1 rto=300ms backoff=1"]
    assert not draw_sequence(Figure().add_subplot(), trace, explanations=False).explanations


def inbound(index: int, line: int, time_us: int, flags: str, peer_port: int) -> Step:
    tcp = peer_port.to_bytes(2, "big") + (8080).to_bytes(2, "big") + bytes(16)
    raw = bytes([0x45]) + bytes(19) + tcp  # IPv4, 20-byte header, then TCP
    record = PacketRecord(Direction.INBOUND, time_us, "tcp", flags, flags=flags, raw=raw)
    return Step(index, line, StepKind.INBOUND, "", Outcome.OK, actual_us=time_us, actual=record)


def set_state(time_us: int, old: int, new: int, peer_port: int, cookie: int) -> KernelEvent:
    return KernelEvent("inet_sock_set_state", time_us, 0, cookie,
                       (("oldstate", old), ("newstate", new), ("sport", 8080),
                        ("dport", peer_port)))


def test_a_passive_opens_listen_to_syn_recv_is_told_at_the_syn_not_at_the_handshakes_ack() -> None:
    """Linux makes the child socket at the handshake's ACK, a clone of the listener, so its
    LISTEN->SYN_RECV fires there; the SYN (from the child's peer port) caused it. A second
    connection from another port gets its own SYN, and a repeated SYN is not a new one."""
    listen = Step(0, 13, StepKind.SYSCALL, "", Outcome.OK, actual_us=0)
    steps = (
        listen,
        inbound(1, 15, 100_000, "S", 40_000),
        inbound(2, 16, 150_000, "S", 40_001),
        inbound(3, 17, 160_000, "S", 40_000),  # the peer repeats its SYN
        inbound(4, 18, 200_000, ".", 40_000),
        inbound(5, 19, 300_000, ".", 40_001),
    )
    events = (
        set_state(10, 7, 10, 0, cookie=1),
        set_state(200_030, 10, 3, 40_000, cookie=2),
        set_state(200_040, 3, 1, 40_000, cookie=2),
        set_state(300_030, 10, 3, 40_001, cookie=3),
        set_state(300_040, 3, 1, 40_001, cookie=3),
    )
    trace = Trace("x.pkt", "", "ipv4", steps, (), kernel_events=events,
                  sources=KernelSources(tracefs=True))
    changes = [(e.line, e.keys(), e.time_us) for e in explain_trace(trace) if e.kind == "state"]
    assert changes == [
        (13, "state=CLOSE->LISTEN", 10),
        (15, "state=LISTEN->SYN_RECV", 100_000),
        (16, "state=LISTEN->SYN_RECV", 150_000),
        (18, "state=SYN_RECV->ESTABLISHED", 200_040),
        (19, "state=SYN_RECV->ESTABLISHED", 300_040),
    ]
