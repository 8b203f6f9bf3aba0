"""The packet steps of a run: inject an inbound packet, sniff and match an outbound one."""

from __future__ import annotations

from typing import Any, NoReturn

from drillbook.engine.packets import OutboundVerdict, PacketFailure
from drillbook.engine.records import lazy_script_record as script_record
from drillbook.engine.results import OutboundVerdictKind
from drillbook.engine.timing import sniff_timeout_us, verify_time
from drillbook.runtime.loop.base import EventFailure, EventState, RunBase, is_inbound, summary
from drillbook.script.model import Direction, Event, PacketSpec
from drillbook.trace.model import FailureKind, Outcome, StepKind

FOREVER_S = 3600.0  # `*` times: no sniff timeout (the worker's own timeout still applies)
EXPLORE_WAIT_US = 500_000  # in explore mode, how long past its time to wait for a `>` packet


class PacketSteps(RunBase):
    """Inbound and outbound packet lines."""

    def _prepare_burst(self, index: int) -> None:
        """Build this inbound packet and the inbound packets that follow it at once, before
        the first one's time: a burst (`+0 <`, `+0 <`, ...) is then written back to back.
        Nothing between two consecutive inbound packets changes how they are mapped."""
        events = self.script.events
        while index < len(events) and is_inbound(events[index]):
            action = events[index].action
            assert isinstance(action, PacketSpec)
            self.prepared[index] = self.engine.prepare_inbound(action, events[index].line)
            index += 1

    def _run_inbound(self, event: Event, spec: PacketSpec, state: EventState) -> None:
        if state.index not in self.prepared:
            self._prepare_burst(state.index)
        prepared = self.prepared.pop(state.index)
        if isinstance(prepared, PacketFailure):
            self._packet_failure(event, state, prepared, None)
        self._wait_for(event, state, "inbound packet")
        # Like packetdrill, an injection happens at the moment it is sent, before the kernel
        # processes it (and perhaps answers) inside the write; it completes after the write.
        actual = self.clock.now_us()
        sent_ns = self.sandbox.inject(prepared.data, prepared.gso_type, prepared.gso_size)
        self.completed_us = self.clock.to_script_us(sent_ns)
        if self.blocking is not None:
            self.blocking.let_return()
        record = self.engine.record(prepared.data, "<", actual)
        self.recorder.packet(record)
        if self.config.verbose:
            self.verbose.append(f"inbound injected packet: {actual / 1e6:9.6f} {summary(record)}")
        expected = script_record(spec, "<", state.schedule.start_us)
        self._step(
            event,
            state,
            StepKind.INBOUND,
            Outcome.OK,
            actual_us=actual,
            expected=expected,
            actual=record,
            tcp_info=self._tcp_info(actual),
        )

    def _run_outbound(self, event: Event, spec: PacketSpec, state: EventState) -> None:
        matcher = self.engine.begin_outbound(spec, event.line)
        if isinstance(matcher, PacketFailure):
            self._packet_failure(event, state, matcher, None)
        last_us = self._previous_us() or 0
        timeout = sniff_timeout_us(state.schedule, event.time.kind, last_us)
        if self.options.explore:
            timeout = max(0, state.schedule.end_us - self.clock.now_us()) + EXPLORE_WAIT_US
        sniff_start = state.schedule.offset_us if event.time.is_relative else self._anchor(event)
        self.observer.idle(self.last_step_index, self.clock.now_us(), state.schedule.start_us)
        while True:
            self._raise_async_failure()
            got = self.sandbox.read_outbound(FOREVER_S if timeout is None else timeout / 1e6)
            if got is None:
                self._outbound_timeout(event, spec, state)
                return
            raw, ts_ns = got
            when = self.clock.to_script_us(ts_ns)
            # packetdrill reads a packet within microseconds of the kernel sending it (or at
            # once, if it was already queued when sniffing began): that is when this event
            # completes, whatever drillbook's own read latency.
            self.completed_us = max(when, sniff_start)
            verdict = matcher.feed(raw, when)
            if verdict.kind is OutboundVerdictKind.SKIP:
                continue
            record = verdict.record
            if record is not None:
                self.recorder.packet(record)
                if self.config.verbose:
                    self.verbose.append(
                        f"outbound sniffed packet: {when / 1e6:9.6f} {summary(record)}"
                    )
            if verdict.kind is OutboundVerdictKind.MORE:
                continue
            self._finish_outbound(event, spec, state, verdict)
            return

    def _finish_outbound(
        self, event: Event, spec: PacketSpec, state: EventState, verdict: OutboundVerdict
    ) -> None:
        actual_record = verdict.actual
        actual_us = actual_record.time_us if actual_record else None
        expected = script_record(spec, ">", state.schedule.start_us)
        failure = verdict.failure
        if failure is not None:
            failure = self.engine.with_dumps(failure, spec, state.schedule.start_us, actual_record)
        if failure is None and actual_us is not None:
            timing = verify_time(
                event.time.kind,
                state.schedule,
                actual_us,
                self._previous_us(),
                self.tolerance,
                "outbound packet",
            )
            if timing:
                failure = self.engine.describe_failure(
                    timing, spec, state.schedule.start_us, actual_record, FailureKind.TIMING
                )
        if self.options.explore:
            outcome = Outcome.OK if failure is None else Outcome.WARNING
            self._step(
                event,
                state,
                StepKind.OUTBOUND,
                outcome,
                actual_us=actual_us,
                end_scheduled_us=state.schedule.end_us,
                expected=expected,
                actual=actual_record,
                message=None if failure is None else failure.message,
                tcp_info=self._tcp_info(actual_us),
            )
            return
        if failure is not None and self.config.non_fatal_packet and failure.non_fatal:
            self.recorder.warn(
                f"{self.script.source.name}:{event.line}: warning handling packet: "
                f"{failure.message}"
            )
            self._step(
                event,
                state,
                StepKind.OUTBOUND,
                Outcome.WARNING,
                actual_us=actual_us,
                expected=expected,
                actual=actual_record,
                message=failure.message,
                tcp_info=self._tcp_info(actual_us),
            )
            return
        if failure is not None:
            self._packet_failure(event, state, failure, actual_record)
        self._step(
            event,
            state,
            StepKind.OUTBOUND,
            Outcome.OK,
            actual_us=actual_us,
            end_scheduled_us=state.schedule.end_us,
            expected=expected,
            actual=actual_record,
            tcp_info=self._tcp_info(actual_us),
        )

    def _outbound_timeout(self, event: Event, spec: PacketSpec, state: EventState) -> None:
        expected = script_record(spec, ">", state.schedule.start_us)
        if self.options.explore:
            self._step(
                event,
                state,
                StepKind.OUTBOUND,
                Outcome.WARNING,
                expected=expected,
                message="no packet",
            )
            return
        message = "error handling packet: Timed out waiting for packet"
        self._fail(event, state, StepKind.OUTBOUND, FailureKind.TIMEOUT, message, expected=expected)

    def _packet_failure(
        self, event: Event, state: EventState, failure: PacketFailure, actual: Any
    ) -> NoReturn:
        message = f"error handling packet: {failure.message}"
        expected = None
        if isinstance(event.action, PacketSpec):
            expected = script_record(
                event.action, event.action.direction.value, state.schedule.start_us
            )
        kind = (
            StepKind.INBOUND
            if (
                isinstance(event.action, PacketSpec) and event.action.direction is Direction.INBOUND
            )
            else StepKind.OUTBOUND
        )
        self._step(
            event,
            state,
            kind,
            Outcome.FAILED,
            actual_us=actual.time_us if actual is not None else None,
            expected=expected,
            actual=actual,
            message=message,
        )
        raise EventFailure(failure.kind, event.line, message, failure.details, failure.field_name)

    def _sniff_for(self, duration_us: int) -> None:
        deadline = self.clock.now_us() + duration_us
        while True:
            left = deadline - self.clock.now_us()
            if left <= 0:
                return
            got = self.sandbox.read_outbound(left / 1e6)
            if got is None:
                return
            record = self.engine.observe(got[0], self.clock.to_script_us(got[1]))
            if record is not None:
                self.recorder.packet(record)

    def _drain_remaining_packets(self) -> None:
        """Record what the kernel sent that no `>` line read (for figures, not the verdict)."""
        try:
            while True:
                got = self.sandbox.read_outbound(0.0)
                if got is None:
                    return
                record = self.engine.observe(got[0], self.clock.to_script_us(got[1]))
                if record is not None:
                    self.recorder.packet(record)
        except OSError:
            return
