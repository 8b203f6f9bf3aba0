"""The packet side of the loop: write an inbound packet, read outbound ones for an await."""

from __future__ import annotations

from drillbook.engine.actions import AwaitPacket, EarlyAnswer, Inject, StepReport
from drillbook.engine.records import AnyRecord
from drillbook.runtime.loop.recorder import RawTcpInfo
from drillbook.runtime.loop.state import RunState

# An answer written ahead: the answer, when its write began (script µs) and ended (wall ns).
Written = tuple[EarlyAnswer, int, int]

FOREVER_S = 3600.0  # `*` times: no sniff timeout (the worker's own timeout still applies)


class PacketIO:
    """Inject and await actions over the run's device."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.burst_pending = False  # the last injection began a burst (see inject)

    def inject(self, action: Inject) -> None:
        state = self.state
        interpreter, clock = state.interpreter, state.clock
        state.idle(action.at_us)
        late = interpreter.check_start(
            action.current, clock.wait_until(action.at_us), "inbound packet"
        )
        if late is not None:
            state.flush()  # the burst's earlier steps first
            state.record(late)
        # Like packetdrill, an injection happens at the moment it is sent, before the kernel
        # processes it (and perhaps answers) inside the write; it completes after the write.
        actual = clock.now_us()
        packet = action.packet
        sent_ns = state.device.inject(packet.data, packet.gso_type, packet.gso_size)
        interpreter.completed(clock.to_script_us(sent_ns))
        if state.blocking is not None:
            state.blocking.let_return()
        answered = (self._records(self._answer_queued(action.then))
                    if action.then is not None else [])
        if action.burst:
            # The next packet goes out right after this one, as in packetdrill: only this
            # step's TCP_INFO is read first (the socket as this packet left it); its record
            # and step wait until the burst is written.
            tcp_info = state.tcp_info(actual)
            self.burst_pending = True
            state.defer(lambda: self._injected(*interpreter.injected(action, actual), answered,
                                               tcp_info))
            return
        record, report = interpreter.injected(action, actual)
        # The rest waits: the kernel may have answered inside the write, and the script may
        # answer that at once (an early answer, see await_packet). TCP_INFO too: reading it
        # takes the socket's lock while the kernel may still be processing the packet.
        state.defer(lambda: self._injected(record, report, answered))

    def _injected(self, record: AnyRecord, report: StepReport, answered: list[AnyRecord],
                  tcp_info: RawTcpInfo | None = None) -> None:
        self.state.packet(record, "inbound injected")
        for early in answered:
            self.state.packet(early, "inbound injected")
        self.state.record(report, tcp_info=tcp_info)

    def holds_bookkeeping(self, action: object) -> bool:
        """Whether the loop keeps the deferred bookkeeping for after ``action``: the next
        packet of a burst, written first (see :meth:`inject`)."""
        pending, self.burst_pending = self.burst_pending, False
        return pending and isinstance(action, Inject)

    def await_packet(self, action: AwaitPacket) -> None:
        """Read until the matcher's verdict; write the early answer, if any, first."""
        state = self.state
        interpreter, clock = state.interpreter, state.clock
        timeout_s = FOREVER_S if action.timeout_us is None else action.timeout_us / 1e6

        answer = action.answer
        if answer is None:
            state.idle(action.current.schedule.start_us, rewarm=False)
        while True:
            state.raise_async_failure()
            got = state.read_outbound(timeout_s)
            if got is None:
                state.flush()
                state.record(interpreter.sniff_timed_out(action))
                return
            raw, ts_ns = got
            answered: list[AnyRecord] = []
            if answer is not None and answer.completes(raw):
                answered = self._answer_all(answer)
                answer = None
            seen = interpreter.packet_seen(action, raw, clock.to_script_us(ts_ns))
            state.flush()
            state.packet(seen.record, "outbound sniffed")
            for record in answered:
                state.packet(record, "inbound injected")
            if seen.report is not None:
                state.record(seen.report)
                return

    def _answer_all(self, answer: EarlyAnswer) -> list[AnyRecord]:
        """Write ``answer``, then the answers after it whose packets are already queued (the
        packets read stay queued for their awaits). The answers' packet records."""
        return self._records([*self._answer(answer), *self._answer_queued(answer.then)])

    def _answer_queued(self, following: EarlyAnswer | None) -> list[Written]:
        """While the kernel's next packet is already queued and completes the await that
        ``following`` answers, write that answer, and so on down the chain. Only with no
        packet read ahead still waiting: the next one read must be the one ``following``
        answers."""
        state = self.state
        written: list[Written] = []
        if state.unread:
            return written
        while following is not None:
            got = state.device.read_outbound(0.0)
            if got is None:
                break
            state.unread.append(got)
            if not following.completes(got[0]):
                break
            written.extend(self._answer(following))
            following = following.then
        return written

    def _answer(self, answer: EarlyAnswer) -> list[Written]:
        """Write the `+0` answer now, and the burst of `+0` packets behind it: decoding and
        matching the packet it answers come after, and so do their records (:meth:`_records`,
        once the chain of answers is written)."""
        state = self.state
        written = []
        for packet_answer in (answer, *answer.burst):
            actual = state.clock.now_us()
            packet = packet_answer.packet
            sent_ns = state.device.inject(packet.data, packet.gso_type, packet.gso_size)
            if state.blocking is not None:
                state.blocking.let_return()
            written.append((packet_answer, actual, sent_ns))
        return written

    def _records(self, written: list[Written]) -> list[AnyRecord]:
        """The written answers' packet records, told to the interpreter in order (nothing in
        a chain of answers reads or changes what they are built from)."""
        to_script_us = self.state.clock.to_script_us
        answered_early = self.state.interpreter.answered_early
        return [answered_early(answer, actual, to_script_us(sent_ns))
                for answer, actual, sent_ns in written]

    def sniff_for(self, duration_us: int) -> None:
        """Record what the kernel sends during ``duration_us`` (explore mode's grace)."""
        state = self.state
        clock = state.clock
        deadline = clock.now_us() + duration_us
        while (left := deadline - clock.now_us()) > 0:
            got = state.read_outbound(left / 1e6)
            if got is None:
                return
            record = state.interpreter.packets.observe(got[0], clock.to_script_us(got[1]))
            if record is not None:
                state.recorder.packet(record)

    def drain(self) -> None:
        """Record what the kernel sent that no `>` line read (for figures, not the verdict)."""
        state = self.state
        try:
            while (got := state.read_outbound(0.0)) is not None:
                record = state.interpreter.packets.observe(
                    got[0], state.clock.to_script_us(got[1])
                )
                if record is not None:
                    state.recorder.packet(record)
        except OSError:
            return
