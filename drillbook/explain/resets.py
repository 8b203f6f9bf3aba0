"""Why the kernel reset a connection (the RSTs it sent), and resets it received.

Evidence: ``tcp:tcp_send_reset``'s ``reason`` (tracefs; the kernel's ``sk_rst_reason`` name),
else the namespace counter that grew with the RST (TCPAbortOnClose, TCPAbortOnData, ...).
"""

from __future__ import annotations

from drillbook.explain.context import TraceView
from drillbook.explain.vocabulary import RESET_COUNTERS, RESET_SENTENCES
from drillbook.trace.kernel import Explanation, Source
from drillbook.trace.model import Direction, PacketRecord

NEAR_US = 3000


def explain_resets(view: TraceView) -> list[Explanation]:
    found = []
    used: set[int] = set()
    for packet in view.trace.packets:
        if packet.protocol != "tcp" or "R" not in packet.flags:
            continue
        if packet.direction is Direction.OUTBOUND:
            explanation = _sent(view, packet, used)
            if explanation is not None:
                found.append(explanation)
    for event in view.trace.kernel_events:
        if event.name == "tcp_receive_reset" and not view.after_script(event.time_us):
            step = view.cause_step_at(event.time_us)
            if step is not None:
                found.append(
                    Explanation(
                        kind="reset-received",
                        line=step.line,
                        step_index=step.index,
                        time_us=event.time_us,
                        sentence="the peer reset the connection: the socket is closed and its "
                        "next call fails with ECONNRESET (or EPIPE)",
                        evidence=(Source.TRACEFS,),
                    )
                )
    return found


def _sent(view: TraceView, packet: PacketRecord, used: set[int]) -> Explanation | None:
    step = view.step_of_packet(packet)
    if step is None:
        return None
    reason: str | None = None
    evidence: tuple[Source, ...] = ()
    for event in view.events_between(
        {"tcp_send_reset"}, packet.time_us - NEAR_US, packet.time_us + NEAR_US
    ):
        if id(event) not in used:
            used.add(id(event))
            reason, evidence = event.symbol("reason") or None, (Source.TRACEFS,)
            break
    if reason is None:
        sample = view.sample_of(step.index)
        for counter, name in RESET_COUNTERS:
            if sample is not None and sample.get(counter) > 0:
                reason, evidence = name, (Source.COUNTERS,)
                break
    if reason is None:
        return None
    text = RESET_SENTENCES.get(reason, f"the kernel reset the connection ({reason})")
    return Explanation(
        kind="reset",
        line=step.line,
        step_index=step.index,
        time_us=packet.time_us,
        sentence=f"RST: {text}",
        reason=reason,
        packet_time_us=packet.time_us,
        evidence=evidence,
    )
