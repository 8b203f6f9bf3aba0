"""Why a segment left again: tail loss probe, timer, fast retransmit, RACK, SYN timers.

Evidence, best first: the kernel's congestion-state change just before the retransmission
(tracefs: entering Loss is the RTO, entering Recovery a fast retransmit or RACK); otherwise the
namespace's counters that grew in the sample covering the step (TCPLossProbes, TCPTimeouts,
TCPFastRetrans, TCPSynRetrans), taken in the order the kernel acts: a probe before the timer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drillbook.explain.context import TraceView, tcpi
from drillbook.explain.vocabulary import (
    CA_LOSS,
    CA_RECOVERY,
    CA_STATES,
    FAST_RETRANS_COUNTER,
    KEEPALIVE_COUNTER,
    RTO_COUNTER,
    TLP_COUNTER,
    WINDOW_PROBE_COUNTER,
    ordinal,
)
from drillbook.trace.kernel import Cause, Change, Explanation, Source, format_ms
from drillbook.trace.model import Direction, PacketRecord, Step

CONG_WINDOW_US = 3000
ON_ACK_US = 1000  # a congestion-state change this close before a retransmission caused it
INFINITE_SSTHRESH = 0x7FFFFFFF


def retransmitted(packets: tuple[PacketRecord, ...]) -> Iterator[PacketRecord]:
    """Outbound TCP segments that carry sequence space already sent."""
    highest: int | None = None
    syns: set[int] = set()
    for packet in packets:
        if packet.direction is not Direction.OUTBOUND or packet.protocol != "tcp":
            continue
        if "S" in packet.flags:
            if packet.live_seq in syns:
                yield packet
            syns.add(packet.live_seq)
            highest = packet.live_seq + 1
            continue
        length = packet.payload_len + (1 if "F" in packet.flags else 0)
        if length == 0 or "R" in packet.flags:
            continue
        end = (packet.live_seq + length) & 0xFFFFFFFF
        if highest is not None and _before_or_at(end, highest):
            yield packet
        elif highest is None or not _before_or_at(end, highest):
            highest = end


def probes(packets: tuple[PacketRecord, ...]) -> Iterator[PacketRecord]:
    """Outbound zero-length ACKs one below the data already sent (``snd_una - 1``): window
    probes and keepalives (tcp_xmit_probe_skb), which repeat an old byte to draw an ACK."""
    highest: int | None = None
    for packet in packets:
        if packet.direction is not Direction.OUTBOUND or packet.protocol != "tcp":
            continue
        length = packet.payload_len + (1 if ("F" in packet.flags or "S" in packet.flags) else 0)
        if length:
            end = (packet.live_seq + length) & 0xFFFFFFFF
            if highest is None or not _before_or_at(end, highest):
                highest = end
        elif (
            highest is not None
            and packet.flags == "."
            and packet.live_seq == (highest - 1) & 0xFFFFFFFF
        ):
            yield packet


def _before_or_at(a: int, b: int) -> bool:
    return ((b - a) & 0xFFFFFFFF) < 0x80000000


@dataclass
class _Budget:
    """Counter growth not yet assigned to a retransmission, per sample."""

    left: dict[tuple[int, str], int]

    def take(self, sample_key: int, counter: str, available: int) -> bool:
        key = (sample_key, counter)
        left = self.left.setdefault(key, available)
        if left > 0:
            self.left[key] = left - 1
            return True
        return False


def explain_retransmissions(view: TraceView) -> list[Explanation]:
    budget = _Budget({})
    found = []
    for packet in retransmitted(view.trace.packets):
        step = view.step_of_packet(packet)
        if step is not None:
            found.append(_explain(view, packet, step, budget))
    for packet in probes(view.trace.packets):
        step = view.step_of_packet(packet)
        if step is not None:
            found.append(_probe(view, packet, step))
    return found


def _probe(view: TraceView, packet: PacketRecord, step: Step) -> Explanation:
    """A window probe when the peer's window is zero (TCP_INFO's snd_wnd, or the counter
    TCPWinProbe), otherwise a keepalive (TCPKeepAlive)."""
    sample = view.sample_of(step.index)
    before = view.info_before(step)
    window_zero = before is not None and before.snd_wnd == 0
    evidence: tuple[Source, ...] = (Source.TCP_INFO,) if before is not None else ()
    if sample is not None and sample.get(WINDOW_PROBE_COUNTER):
        cause, evidence = Cause.WINDOW_PROBE, (Source.COUNTERS,)
    elif sample is not None and sample.get(KEEPALIVE_COUNTER):
        cause, evidence = Cause.KEEPALIVE, (Source.COUNTERS,)
    else:
        cause = Cause.WINDOW_PROBE if window_zero else Cause.KEEPALIVE
    after = view.info_at(step)
    backoff = tcpi(after, "backoff") if cause is Cause.WINDOW_PROBE else None
    explanation = Explanation(
        kind="probe",
        line=step.line,
        step_index=step.index,
        time_us=packet.time_us,
        sentence="",
        cause=cause,
        backoff=backoff or None,
        packet_time_us=packet.time_us,
        evidence=evidence,
    )
    from dataclasses import replace

    return replace(explanation, sentence=sentence(explanation))


def _explain(view: TraceView, packet: PacketRecord, step: Step, budget: _Budget) -> Explanation:
    cause, evidence, cong = _cause(view, packet, step, budget)
    before, after = view.info_before(step), view.info_at(step)
    if (
        cong is None
        and before is not None
        and after is not None
        and before.ca_state != after.ca_state
    ):
        cong = Change(_ca(before.ca_state), _ca(after.ca_state))
        evidence = (*evidence, Source.TCP_INFO)
    cwnd = None
    if before is not None and after is not None and before.snd_cwnd != after.snd_cwnd:
        cwnd = Change(str(before.snd_cwnd), str(after.snd_cwnd))
    ssthresh = after.snd_ssthresh if after and after.snd_ssthresh < INFINITE_SSTHRESH else None
    # The timer that fired is the RTO before the step; after it the kernel doubled it.
    rto_us = before.rto_us if before is not None and before.rto_us else None
    timer = cause in (Cause.RTO, Cause.SYN_RETRANSMIT, Cause.SYNACK_RETRANSMIT)
    backoff = tcpi(after, "backoff") if timer else None
    explanation = Explanation(
        kind="retransmission",
        line=step.line,
        step_index=step.index,
        time_us=packet.time_us,
        sentence="",
        cause=cause,
        cong=cong,
        cwnd=cwnd,
        ssthresh=ssthresh,
        rto_us=rto_us if timer else None,
        backoff=backoff or None,
        packet_time_us=packet.time_us,
        evidence=tuple(dict.fromkeys(evidence)),
    )
    from dataclasses import replace

    return replace(explanation, sentence=sentence(explanation))


def _cause(
    view: TraceView, packet: PacketRecord, step: Step, budget: _Budget
) -> tuple[Cause | None, tuple[Source, ...], Change | None]:
    if "S" in packet.flags:
        syn_cause = Cause.SYNACK_RETRANSMIT if "." in packet.flags else Cause.SYN_RETRANSMIT
        return syn_cause, (), None
    cong_events = view.events_between(
        {"tcp_cong_state_set"}, packet.time_us - CONG_WINDOW_US, packet.time_us
    )
    if cong_events:
        last = cong_events[-1]
        state = last.field("cong_state")
        previous = _previous_cong(view, last)
        change = (
            Change(_ca(previous), _ca(state))
            if previous is not None and previous != state
            else None
        )
        if state == CA_LOSS:
            return Cause.RTO, (Source.TRACEFS,), change
        if state == CA_RECOVERY:
            # Recovery entered on an arriving ACK is a fast retransmit; on RACK's timer, RACK.
            cause = Cause.FAST_RETRANSMIT if _on_an_ack(view, last.time_us) else Cause.RACK
            return cause, (Source.TRACEFS,), change
    sample = view.sample_of(step.index)
    if sample is not None:
        for counter, cause in (
            (TLP_COUNTER, Cause.TLP),
            (FAST_RETRANS_COUNTER, Cause.FAST_RETRANSMIT),
            (RTO_COUNTER, Cause.RTO),
            (WINDOW_PROBE_COUNTER, Cause.WINDOW_PROBE),
        ):
            if budget.take(sample.after_step, counter, sample.get(counter)):
                if cause is Cause.FAST_RETRANSMIT and not _on_an_ack(view, packet.time_us):
                    cause = Cause.RACK  # sent by RACK's reordering timer, not on an ACK
                return cause, (Source.COUNTERS,), None
    return None, (), None


def _on_an_ack(view: TraceView, time_us: int) -> bool:
    """Whether an inbound packet arrived in the millisecond before ``time_us`` (the kernel
    acted on it) rather than a timer."""
    return any(
        p.direction is Direction.INBOUND and 0 <= time_us - p.time_us <= ON_ACK_US
        for p in view.trace.packets
    )


def _previous_cong(view: TraceView, event: object) -> int | None:
    previous = None
    for candidate in view.trace.kernel_events:
        if candidate is event:
            return previous if previous is not None else 0
        if candidate.name == "tcp_cong_state_set":
            previous = candidate.field("cong_state")
    return None


def _ca(state: int) -> str:
    return CA_STATES.get(state, str(state))


def sentence(e: Explanation) -> str:
    """One plain sentence for a retransmission."""
    tail = []
    if e.cong is not None:
        tail.append(f"cong state {e.cong.new}")
    if e.cwnd is not None:
        tail.append(f"cwnd {e.cwnd.old}→{e.cwnd.new}")
    rest = (": " + ", ".join(tail)) if tail else ""
    if e.cause is Cause.RTO:
        rto = f"RTO {format_ms(e.rto_us)}" if e.rto_us else "RTO"
        back = f", {ordinal(e.backoff)} backoff" if e.backoff else ""
        return f"retransmission timer fired ({rto}{back}){rest}"
    if e.cause is Cause.TLP:
        return (
            "tail loss probe: no ACK came within the probe timeout, so the kernel sent its "
            f"last segment again to draw an ACK before the RTO (RFC 8985 7.3){rest}"
        )
    if e.cause is Cause.FAST_RETRANSMIT:
        return f"fast retransmit: duplicate ACKs and SACK blocks showed the segment lost{rest}"
    if e.cause is Cause.RACK:
        return f"RACK: a later segment was delivered and the reordering window passed{rest}"
    if e.cause is Cause.SYN_RETRANSMIT:
        return f"no SYN-ACK came: the SYN timer sent the SYN again{_rto(e)}"
    if e.cause is Cause.SYNACK_RETRANSMIT:
        return f"no ACK of the SYN-ACK came: the listener sent its SYN-ACK again{_rto(e)}"
    if e.cause is Cause.WINDOW_PROBE:
        back = f" ({ordinal(e.backoff)} backoff)" if e.backoff else ""
        return (
            "the peer's window is zero: a window probe (an old byte's sequence number, no data) "
            f"asks whether it opened{back} (RFC 9293 3.8.6.1)"
        )
    if e.cause is Cause.KEEPALIVE:
        return "the connection was idle: a keepalive probe asks whether the peer is still there"
    return f"segment sent again (cause unknown: no counter or event names it){rest}"


def _rto(e: Explanation) -> str:
    return f" (RTO {format_ms(e.rto_us)})" if e.rto_us else ""
