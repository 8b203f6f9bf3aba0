"""Hand-built Traces that mirror the seed examples (/work/notes/seed-examples.md).

They stand in for real runs in the unit tests of drillbook.render: realistic times (the
kernel's answers a few tens of microseconds after the event that caused them), summaries in
packetdrill notation, TCP_INFO snapshots after every event, and the failure variants the
drawers must show (mismatch, timeout, unexpected packet).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from drillbook.trace.model import (
    Direction,
    Failure,
    FailureKind,
    Outcome,
    PacketRecord,
    Step,
    StepKind,
    SyscallRecord,
    TcpInfoSnapshot,
    TcpOptionRecord,
    Trace,
)

INF = 0x7FFFFFFF
IN = Direction.INBOUND
OUT = Direction.OUTBOUND


def option(text: str) -> TcpOptionRecord:
    return TcpOptionRecord(kind=text.split(" ", 1)[0], text=text)


def sack_blocks(options: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    blocks: list[tuple[int, int]] = []
    for text in options:
        if text.startswith("sack "):
            for block in text.split()[1:]:
                left, right = block.split(":")
                blocks.append((int(left), int(right)))
    return tuple(blocks)


def packet(
    direction: Direction,
    time_us: int,
    flags: str,
    seq: int,
    end_seq: int,
    ack: int | None = None,
    win: int | None = None,
    options: tuple[str, ...] = (),
) -> PacketRecord:
    """A TCP PacketRecord whose summary is written as packetdrill writes it."""
    text = f"{flags} {seq}:{end_seq}({end_seq - seq})"
    if ack is not None:
        text += f" ack {ack}"
    if win is not None:
        text += f" win {win}"
    if options:
        text += " <" + ",".join(options) + ">"
    return PacketRecord(
        direction=direction,
        time_us=time_us,
        protocol="tcp",
        summary=text,
        flags=flags,
        seq=seq,
        end_seq=end_seq,
        payload_len=end_seq - seq,
        ack=ack,
        window=win,
        options=tuple(option(o) for o in options),
        sack_blocks=sack_blocks(options),
    )


@dataclass
class TraceBuilder:
    """Appends steps and packets in order; TCP_INFO follows the state given per event."""

    path: str
    steps: list[Step] = field(default_factory=list)
    packets: list[PacketRecord] = field(default_factory=list)
    cwnd: int = 10
    ssthresh: int = INF

    def _info(self, time_us: int, state: str) -> TcpInfoSnapshot:
        return TcpInfoSnapshot(
            time_us=time_us, state=state, snd_cwnd=self.cwnd, snd_ssthresh=self.ssthresh,
            snd_mss=1000, rcv_mss=1000,
        )

    def _step(self, kind: StepKind, text: str, t: int, state: str, **kw: object) -> Step:
        step = Step(
            index=len(self.steps), line=len(self.steps) + 1, kind=kind, text=text,
            outcome=Outcome.OK, scheduled_us=t, actual_us=t, tcp_info=self._info(t, state),
            **kw,  # type: ignore[arg-type]
        )
        self.steps.append(step)
        return step

    def call(self, t: int, text: str, result: int, state: str) -> Step:
        name = text.split("(", 1)[0]
        # As the recorder writes it: the call as written, result included.
        record = SyscallRecord(name=name, text=f"{text} = {result}", expected_result=result,
                               result=result)
        return self._step(StepKind.SYSCALL, f"{text} = {result}", t, state, syscall=record)

    def inject(self, t: int, state: str, *args: object, **kw: object) -> Step:
        pkt = packet(IN, t, *args, **kw)  # type: ignore[arg-type]
        self.packets.append(pkt)
        return self._step(StepKind.INBOUND, f"< {pkt.summary}", t, state,
                          expected=pkt, actual=pkt)

    def expect(self, t: int, state: str, *args: object, actual: PacketRecord | None = None,
               **kw: object) -> Step:
        """An expected `>` packet; the kernel's packet is the same unless ``actual`` is given
        (its summary carries the window the script left out)."""
        pkt = packet(OUT, t, *args, **kw)  # type: ignore[arg-type]
        got = actual if actual is not None else pkt
        self.packets.append(got)
        return self._step(StepKind.OUTBOUND, f"> {pkt.summary}", t, state,
                          expected=pkt, actual=got)

    def build(self, failure: Failure | None = None) -> Trace:
        packets = tuple(sorted(self.packets, key=lambda p: p.time_us))
        last = max((s.actual_us or 0) for s in self.steps)
        return Trace(
            script_path=self.path, script_text="", ip_mode="ipv4", steps=tuple(self.steps),
            packets=packets, failure=failure, duration_us=last,
            local_ip="192.168.0.1", remote_ip="192.0.2.1",
        )


def _listen(b: TraceBuilder) -> None:
    b.call(0, "socket(..., SOCK_STREAM, IPPROTO_TCP)", 3, "CLOSE")
    b.call(12, "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4)", 0, "CLOSE")
    b.call(20, "bind(3, ..., ...)", 0, "CLOSE")
    b.call(27, "listen(3, 1)", 0, "LISTEN")


def handshake_trace() -> Trace:
    """Seed example 1: handshake, a 10-byte write, the peer's FIN, close (it passes)."""
    b = TraceBuilder("handshake.pkt")
    _listen(b)
    b.inject(40, "SYN_RECV", "S", 0, 0, win=1000)
    b.expect(71, "SYN_RECV", "S.", 0, 0, ack=1, options=("mss 1460",),
             actual=packet(OUT, 71, "S.", 0, 0, ack=1, win=64240, options=("mss 1460",)))
    b.inject(100_040, "ESTABLISHED", ".", 1, 1, ack=1, win=1000)
    b.call(100_070, "accept(3, ..., ...)", 4, "ESTABLISHED")
    b.call(100_090, "write(4, ..., 10)", 10, "ESTABLISHED")
    b.expect(100_120, "ESTABLISHED", "P.", 1, 11, ack=1,
             actual=packet(OUT, 100_120, "P.", 1, 11, ack=1, win=64240))
    b.inject(100_150, "ESTABLISHED", ".", 1, 1, ack=11, win=1000)
    b.inject(100_170, "CLOSE_WAIT", "F.", 1, 1, ack=11, win=4000)
    b.expect(105_180, "CLOSE_WAIT", ".", 11, 11, ack=2,
             actual=packet(OUT, 105_180, ".", 11, 11, ack=2, win=64240))
    b.call(105_210, "close(4)", 0, "LAST_ACK")
    b.expect(105_240, "LAST_ACK", "F.", 11, 11, ack=2,
             actual=packet(OUT, 105_240, "F.", 11, 11, ack=2, win=64240))
    b.inject(105_270, "CLOSE", ".", 2, 2, ack=12, win=4000)
    return b.build()


ARRIVAL_ORDER = (1, 3, 5, 6, 8, 4, 7, 2)
# The kernel's answer after each arrival: (cumulative ack, SACK blocks newest first).
SACK_ANSWERS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1001, ()),
    (1001, ("sack 2001:3001",)),
    (1001, ("sack 4001:5001 2001:3001",)),
    (1001, ("sack 4001:6001 2001:3001",)),
    (1001, ("sack 7001:8001 4001:6001 2001:3001",)),
    (1001, ("sack 3001:6001 7001:8001",)),
    (1001, ("sack 3001:8001",)),
    (8001, ()),
)


def sack_trace() -> Trace:
    """Seed example 2 (fixed): 8 segments arrive in the order 1,3,5,6,8,4,7,2 (it passes)."""
    b = TraceBuilder("sack.pkt")
    _listen(b)
    b.inject(40, "SYN_RECV", "S", 0, 0, win=32792, options=("mss 1000", "sackOK", "nop", "nop"))
    syn_ack = ("mss 1460", "nop", "nop", "sackOK")
    b.expect(70, "SYN_RECV", "S.", 0, 0, ack=1, options=syn_ack,
             actual=packet(OUT, 70, "S.", 0, 0, ack=1, win=64240, options=syn_ack))
    b.inject(100_050, "ESTABLISHED", ".", 1, 1, ack=1, win=32792)
    b.call(100_070, "accept(3, ..., ...)", 4, "ESTABLISHED")
    t = 100_090
    for n, (ack, sack) in zip(ARRIVAL_ORDER, SACK_ANSWERS, strict=True):
        seq = 1 + (n - 1) * 1000
        b.inject(t, "ESTABLISHED", ".", seq, seq + 1000, ack=1, win=32792)
        opts = ("nop", "nop", *sack) if sack else ()
        win = 64128 if sack else 64240
        b.expect(t + 12, "ESTABLISHED", ".", 1, 1, ack=ack, options=opts,
                 actual=packet(OUT, t + 12, ".", 1, 1, ack=ack, win=win, options=opts))
        t += 25
    return b.build()


def sack_mismatch_trace() -> Trace:
    """The SACK example where the script expects `ack 2001` after segment 2 instead of 8001:
    the kernel's ACK differs in tcp_ack, the run stops there."""
    good = sack_trace()
    steps = list(good.steps)
    last = steps[-1]
    assert last.expected is not None and last.actual is not None
    wrong = replace(last.expected, summary=last.expected.summary.replace("8001", "2001"),
                    ack=2001)
    steps[-1] = replace(last, expected=wrong, outcome=Outcome.FAILED,
                        text=last.text.replace("8001", "2001"))
    failure = Failure(
        kind=FailureKind.PACKET, line=last.line, column=1, field_name="tcp_ack",
        message="error handling packet: live packet field tcp_ack: expected: 2001 vs actual: 8001",
        details=(f"script packet:  0.100287 {wrong.summary}",
                 f"actual packet:  0.100287 {last.actual.summary}"),
        path="sack.pkt",
    )
    return replace(good, steps=tuple(steps), failure=failure)


def timeout_trace() -> Trace:
    """The handshake example where the kernel never sends the expected ACK of the FIN (the
    script expects it at +.005 with `ack 3`): timeout; later steps are not run."""
    good = handshake_trace()
    steps = list(good.steps)
    i = next(i for i, s in enumerate(steps) if s.expected is not None and s.expected.ack == 2)
    bad = steps[i]
    assert bad.expected is not None
    missing = replace(bad.expected, ack=3, summary=bad.expected.summary.replace("ack 2", "ack 3"))
    steps[i] = replace(bad, expected=missing, actual=None, outcome=Outcome.FAILED,
                       actual_us=None)
    for j in range(i + 1, len(steps)):
        steps[j] = replace(steps[j], outcome=Outcome.NOT_RUN, actual_us=None, actual=None,
                           tcp_info=None)
    failure = Failure(kind=FailureKind.TIMEOUT, line=bad.line, column=1,
                      message="error handling packet: Timed out waiting for packet",
                      path="handshake.pkt")
    # The kernel's real ACK (ack 2) was sniffed but matched nothing: an unexpected packet.
    stray = bad.actual
    assert stray is not None
    packets = tuple(p for p in good.packets if p.time_us <= stray.time_us)
    return replace(good, steps=tuple(steps), packets=packets, failure=failure)


def unexpected_trace() -> Trace:
    """The handshake example with one extra packet the script never mentions: the kernel
    retransmits its FIN after the run's last line (nothing checks after the last `>`)."""
    good = handshake_trace()
    extra = packet(OUT, 305_300, "F.", 11, 11, ack=2, win=64240)
    return replace(good, packets=(*good.packets, extra))


def retransmit_trace() -> Trace:
    """The kernel sends 4000 bytes with window scaling on both sides; the peer loses the
    second segment, SACKs the rest, and the kernel retransmits it (fast retransmit)."""
    b = TraceBuilder("retransmit.pkt")
    _listen(b)
    b.inject(40, "SYN_RECV", "S", 0, 0, win=32792,
             options=("mss 1000", "sackOK", "nop", "nop", "nop", "wscale 7"))
    syn_ack = ("mss 1460", "nop", "nop", "sackOK", "nop", "wscale 7")
    b.expect(70, "SYN_RECV", "S.", 0, 0, ack=1, options=syn_ack,
             actual=packet(OUT, 70, "S.", 0, 0, ack=1, win=64240, options=syn_ack))
    b.inject(10_050, "ESTABLISHED", ".", 1, 1, ack=1, win=257)
    b.call(10_070, "accept(3, ..., ...)", 4, "ESTABLISHED")
    b.call(10_090, "write(4, ..., 4000)", 4000, "ESTABLISHED")
    for k in range(4):
        seq = 1 + 1000 * k
        flags = "P." if k == 3 else "."
        b.expect(10_110 + 5 * k, "ESTABLISHED", flags, seq, seq + 1000, ack=1,
                 actual=packet(OUT, 10_110 + 5 * k, flags, seq, seq + 1000, ack=1, win=502))
    b.inject(20_110, "ESTABLISHED", ".", 1, 1, ack=1001, win=257)
    b.inject(20_120, "ESTABLISHED", ".", 1, 1, ack=1001, win=257,
             options=("nop", "nop", "sack 2001:3001"))
    b.inject(20_130, "ESTABLISHED", ".", 1, 1, ack=1001, win=257,
             options=("nop", "nop", "sack 2001:4001"))
    b.cwnd, b.ssthresh = 7, 7
    b.inject(20_140, "ESTABLISHED", ".", 1, 1, ack=1001, win=257,
             options=("nop", "nop", "sack 2001:5001"))
    b.expect(20_160, "ESTABLISHED", ".", 1001, 2001, ack=1,
             actual=packet(OUT, 20_160, ".", 1001, 2001, ack=1, win=502))
    b.cwnd = 8
    b.inject(30_170, "ESTABLISHED", ".", 1, 1, ack=5001, win=257)
    return b.build()


def tso_trace() -> Trace:
    """The kernel sends a 4000-byte write as two 2000-byte segments; the script's one
    `> P. 1:4001(4000)` line is matched against both, and the step records their sum (an
    aggregate that is not itself a wire packet), as packetdrill does."""
    b = TraceBuilder("tso.pkt")
    _listen(b)
    b.inject(40, "SYN_RECV", "S", 0, 0, win=32792, options=("mss 1000", "sackOK", "nop", "nop"))
    b.expect(70, "SYN_RECV", "S.", 0, 0, ack=1, options=("mss 1460", "nop", "nop", "sackOK"))
    b.inject(10_050, "ESTABLISHED", ".", 1, 1, ack=1, win=32792)
    b.call(10_070, "accept(3, ..., ...)", 4, "ESTABLISHED")
    b.call(10_090, "write(4, ..., 4000)", 4000, "ESTABLISHED")
    aggregate = packet(OUT, 10_130, "P.", 1, 4001, ack=1, win=502)
    wire = (packet(OUT, 10_120, ".", 1, 2001, ack=1, win=502),
            packet(OUT, 10_130, "P.", 2001, 4001, ack=1, win=502))
    step = b.expect(10_130, "ESTABLISHED", "P.", 1, 4001, ack=1, actual=aggregate)
    b.packets.remove(aggregate)
    b.packets.extend(wire)
    assert step.actual == aggregate
    b.inject(20_130, "ESTABLISHED", ".", 1, 1, ack=4001, win=32792)
    return b.build()
