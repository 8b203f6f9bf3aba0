"""TCP state changes and congestion-state changes of the run's sockets.

Evidence: ``sock:inet_sock_set_state`` and ``tcp:tcp_cong_state_set`` (tracefs), which see
every socket of the run, even after its fd is closed; else the socket under test's TCP_INFO
from one step to the next (while its fd is open).

A state change is told at the step that caused it: the last step that acted before it. One
exception: a passive open's ``LISTEN->SYN_RECV``. Linux answers a SYN with a request socket
(no tracepoint) and makes the child socket only when the handshake's ACK arrives; the child
is a clone of the listener, so its first state change, ``LISTEN->SYN_RECV``, fires at the ACK,
just before ``SYN_RECV->ESTABLISHED``. What caused it is the SYN: the change is told at the
inbound SYN that opened this connection (the first one from the child's peer port since that
port's previous connection), at the SYN's time.
"""

from __future__ import annotations

from drillbook.explain.context import TraceView, source_port
from drillbook.explain.vocabulary import CA_STATES, TCP_STATES
from drillbook.trace.kernel import Change, Explanation, KernelEvent, Source
from drillbook.trace.model import Direction, Step

STATE_SENTENCES = {
    ("CLOSE", "SYN_SENT"): "connect() sent a SYN",
    ("SYN_SENT", "ESTABLISHED"): "the SYN-ACK arrived: the connection is open",
    ("LISTEN", "SYN_RECV"): "a SYN arrived at the listener: the kernel answers with a SYN-ACK "
    "and keeps a request socket until the handshake's ACK makes the child socket",
    ("NEW_SYN_RECV", "SYN_RECV"): "the handshake's ACK arrived: the child socket is made",
    ("SYN_RECV", "ESTABLISHED"): "the handshake's ACK arrived: the connection is open",
    ("ESTABLISHED", "CLOSE_WAIT"): "the peer's FIN arrived (passive close): the application "
    "still has to close",
    ("CLOSE_WAIT", "LAST_ACK"): "close() sent our FIN; waiting for its ACK",
    ("LAST_ACK", "CLOSE"): "our FIN was acknowledged: the connection is gone",
    ("ESTABLISHED", "FIN_WAIT1"): "close() or shutdown() sent our FIN (active close)",
    ("FIN_WAIT1", "FIN_WAIT2"): "our FIN was acknowledged; waiting for the peer's FIN",
    ("FIN_WAIT1", "CLOSING"): "the peer's FIN crossed ours (simultaneous close)",
    ("FIN_WAIT2", "TIME_WAIT"): "the peer's FIN arrived: TIME_WAIT holds the connection for 2 MSL",
    ("FIN_WAIT1", "TIME_WAIT"): "the peer acknowledged our FIN and sent its own",
    ("CLOSING", "TIME_WAIT"): "our FIN was acknowledged: TIME_WAIT holds the connection",
    ("FIN_WAIT2", "CLOSE"): "the peer's FIN arrived: a TIME_WAIT entry now holds the connection "
    "for 60 s and the socket itself is closed",
    ("CLOSING", "CLOSE"): "our FIN was acknowledged: a TIME_WAIT entry holds the connection",
    ("ESTABLISHED", "CLOSE"): "the connection was aborted (a RST was sent or received)",
    ("CLOSE", "LISTEN"): "listen() made it a listening socket",
}


def explain_states(view: TraceView) -> list[Explanation]:
    if view.trace.sources.tracefs:
        return _from_events(view)
    return _from_tcp_info(view)


def _from_events(view: TraceView) -> list[Explanation]:
    found = []
    last_cong: dict[int, int] = {}
    syns = _OpeningSyns(view)
    for event in view.trace.kernel_events:
        # The step running when it happened (the inbound packet or call that caused it).
        step = view.cause_step_at(event.time_us)
        if step is None or view.after_script(event.time_us):
            continue
        if event.name == "inet_sock_set_state":
            old = TCP_STATES.get(event.field("oldstate"), str(event.field("oldstate")))
            new = TCP_STATES.get(event.field("newstate"), str(event.field("newstate")))
            time_us = event.time_us
            if (old, new) == ("LISTEN", "SYN_RECV"):
                syn = syns.opening(event)
                if syn is not None:
                    step, time_us = syn, syn.actual_us or time_us
            found.append(_state(step.line, step.index, time_us, old, new, Source.TRACEFS))
        elif event.name == "tcp_cong_state_set":
            new_ca = event.field("cong_state")
            old_ca = last_cong.get(event.cookie, 0)
            last_cong[event.cookie] = new_ca
            if new_ca != old_ca and not _beside_retransmission(view, event.time_us):
                found.append(
                    _cong(step.line, step.index, event.time_us, old_ca, new_ca, Source.TRACEFS)
                )
    return found


class _OpeningSyns:
    """The inbound SYN each passive open's child socket came from (see the module doc)."""

    def __init__(self, view: TraceView) -> None:
        self._syns = [
            s for s in view.steps
            if s.actual is not None and s.actual_us is not None
            and s.actual.direction is Direction.INBOUND
            and "S" in s.actual.flags and "." not in s.actual.flags
        ]  # fmt: skip
        self._previous_child: dict[int | None, int] = {}  # peer port -> its last child's time

    def opening(self, child_birth: KernelEvent) -> Step | None:
        port = child_birth.field("dport", -1)
        peer = port if port > 0 else None
        since = self._previous_child.get(peer, -1)
        self._previous_child[peer] = child_birth.time_us
        for syn in self._syns:
            assert syn.actual is not None and syn.actual_us is not None
            if since < syn.actual_us <= child_birth.time_us and (
                peer is None or source_port(syn.actual) in (peer, None)
            ):
                return syn
        return None


def _beside_retransmission(view: TraceView, time_us: int) -> bool:
    """A congestion change just before a retransmission is told with that retransmission."""
    from drillbook.explain.retransmits import CONG_WINDOW_US, retransmitted

    return any(
        0 <= p.time_us - time_us <= CONG_WINDOW_US for p in retransmitted(view.trace.packets)
    )


def _after_close(view: TraceView) -> list[Explanation]:
    """A closed socket's states from the namespace's sock_diag samples (rootless too): from
    the state TCP_INFO last saw before its close to each sample's, at the first step that
    acted in the sample's window (the close() call itself for the first one)."""
    found = []
    for record in view.trace.sockets:
        if record.closed_after_step is None:
            continue
        close_step = view.steps[record.closed_after_step]
        before = view.info_before(close_step)
        previous = before.state if before is not None else None
        window_start = record.closed_after_step
        for sample in view.trace.socket_states:
            if sample.after_step < record.closed_after_step:
                continue
            state = sample.state_of(record.cookie)
            if previous is not None and state != previous:
                step = view.first_actor(window_start, sample.after_step)
                found.append(_state(step.line, step.index, sample.time_us, previous, state,
                                    Source.SOCK_DIAG))
            previous = state
            window_start = sample.after_step + 1
            if state == "CLOSE":
                break
    return found


def _from_tcp_info(view: TraceView) -> list[Explanation]:
    found = _after_close(view)
    previous = None
    for step in view.steps:
        info = step.tcp_info
        if info is None:
            continue
        # The snapshot follows the socket under test, which moves from a listener to the
        # accepted child: that is another socket, not a state change.
        moved = previous is not None and previous.state == "LISTEN" and info.state != "CLOSE"
        if previous is not None and previous.state != info.state and not moved:
            found.append(
                _state(
                    step.line, step.index, info.time_us, previous.state, info.state, Source.TCP_INFO
                )
            )
        if (
            previous is not None
            and previous.ca_state != info.ca_state
            and not _beside_retransmission(view, info.time_us)
        ):
            found.append(
                _cong(
                    step.line,
                    step.index,
                    info.time_us,
                    previous.ca_state,
                    info.ca_state,
                    Source.TCP_INFO,
                )
            )
        previous = info
    return found


def _state(line: int, index: int, time_us: int, old: str, new: str, source: Source) -> Explanation:
    text = STATE_SENTENCES.get((old, new), f"the socket went from {old} to {new}")
    return Explanation(
        kind="state",
        line=line,
        step_index=index,
        time_us=time_us,
        sentence=text,
        state=Change(old, new),
        evidence=(source,),
    )


def _cong(line: int, index: int, time_us: int, old: int, new: int, source: Source) -> Explanation:
    old_name, new_name = CA_STATES.get(old, str(old)), CA_STATES.get(new, str(new))
    return Explanation(
        kind="cong",
        line=line,
        step_index=index,
        time_us=time_us,
        sentence=f"congestion state {old_name} → {new_name}",
        cong=Change(old_name, new_name),
        evidence=(source,),
    )
