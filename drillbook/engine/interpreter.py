"""The sans-IO interpreter of a run: which event comes next, when, and what its outcome means.

Theory of operation (packetdrill's run.c, run_packet.c, run_system_call.c):

- The run loop asks :meth:`Interpreter.next_action` with the current script time and performs
  the action it gets (inject, await a packet, call, run a command, snapshot for code), then
  hands back what it observed (the time a packet was written, each packet sniffed, a call's
  outcome) and gets a :class:`~drillbook.engine.actions.StepReport` for the trace. The loop
  sleeps, reads the clock and does the I/O; this module never does.
- Anchoring: a relative time counts from when the previous event's action finished
  (:meth:`completed`), except that consecutive inbound packets count from the previous one's
  schedule. An event the loop performs itself falls back to "now" after a stall of more than
  ``STALL_US`` (a hiccup of drillbook's never makes it look late); an outbound packet never
  does (it is checked against the kernel's timestamp).
- Order: the first event must be at time 0; absolute times may not go backward.
- Tolerance: every start (and a blocking call's return, and an outbound packet's kernel
  timestamp) is checked with packetdrill's ``verify_time``; event 0's start is not.
- Policy: the first failure ends the run. ``--non_fatal=packet`` turns a field mismatch of an
  outbound packet (not its length) into a warning; explore mode turns every outbound mismatch
  and timeout into a warning and waits longer for each `>` packet.
- Speed: when the next event is a `+0` inbound packet whose bytes cannot depend on the awaited
  outbound one, the await carries it pre-built (:class:`EarlyAnswer`): the loop writes it the
  moment the kernel's packet arrives and only then decodes and matches. If that packet then
  fails, the run fails at its line and the answer's step is recorded as not run, with the
  moment it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from drillbook.config import RunConfig
from drillbook.engine.actions import (
    Action,
    AwaitPacket,
    Call,
    Current,
    EarlyAnswer,
    Finish,
    Inject,
    PacketSeen,
    Record,
    RunFailure,
    RunShell,
    Snapshot,
    StepReport,
    Stop,
)
from drillbook.engine.expected import expected_tcp
from drillbook.engine.outbound import OutboundMatcher
from drillbook.engine.packets import PacketEngine
from drillbook.engine.records import AnyRecord
from drillbook.engine.records import lazy_script_record as script_record
from drillbook.engine.results import (
    InboundPacket,
    OutboundVerdict,
    OutboundVerdictKind,
    PacketFailure,
)
from drillbook.engine.sockets import SocketState, TestSocket
from drillbook.engine.timing import Schedule, Tolerance, adjust, sniff_timeout_us, verify_time
from drillbook.script.model import (
    CodeBlock,
    Direction,
    Event,
    PacketSpec,
    Script,
    ShellCommand,
    SyscallSpec,
    TcpSpec,
    TimeKind,
    UdpSpec,
)
from drillbook.trace.model import FailureKind, Outcome, StepKind
from drillbook.wire import tcp_options as opt
from drillbook.wire.protocols import IPPROTO_TCP, IPPROTO_UDP
from drillbook.wire.tcp_options import TcpOptionValue

STALL_US = 1500  # longer between two events than this, and drillbook was stalled
EXPLORE_WAIT_US = 500_000  # in explore mode, how long past its time to wait for a `>` packet
AHEAD_EVENTS = 64  # how far ahead packets are built while the loop waits
AHEAD_MIN_US = 1000  # build ahead only before a wait at least this long
# Calls whose socket events change the socket under test or its state (accept only names fds).
SOCKET_CALLS = frozenset({"socket", "listen", "connect", "sendto", "sendmsg", "close"})
LEARNING_STATES = (
    SocketState.ACTIVE_CONNECTING,
    SocketState.ACTIVE_SYN_SENT,
    SocketState.PASSIVE_PACKET_RECEIVED,
)


@dataclass(frozen=True)
class RunOptions:
    """How a run treats mismatches beyond packetdrill's flags: explore mode records them as
    warnings and goes on (and sniffs ``explore_grace_us`` longer at the end)."""

    explore: bool = False
    explore_grace_us: int = 300_000


@dataclass(frozen=True)
class _Early:
    """An early answer the loop has written: when, and its record."""

    answer: EarlyAnswer
    actual_us: int
    sent_us: int
    record: AnyRecord


class Interpreter:
    """One run's decisions (see the module docstring). Not thread-safe, except the
    ``judge_*`` methods that take a :class:`Current`: they read nothing that changes."""

    def __init__(
        self, script: Script, config: RunConfig, packets: PacketEngine, options: RunOptions
    ) -> None:
        self.script = script
        self.events = script.events
        self.config = config
        self.packets = packets
        self.options = options
        self.tolerance = Tolerance(config.tolerance_usecs, config.tolerance_percent)
        self.index = 0
        self.current: Current | None = None
        self.last: Current | None = None
        self.completed_us: int | None = None  # when the current event's action finished
        self._prepared: dict[int, InboundPacket | PacketFailure] = {}  # inbound bursts
        self._early: dict[int, _Early] = {}  # answers written early, by event index
        self._shapes: dict[int, tuple[int, int]] = {}  # answers built ahead: awaited's shape

    # -- the event sequence -------------------------------------------------------------

    @property
    def current_line(self) -> int:
        return self.current.line if self.current is not None else 0

    def next_action(self, now_us: int) -> Action:
        """Start the next event: resolve its time and say what to do."""
        if self.current is not None:
            self.last, self.current = self.current, None
            self.index += 1
        if self.index >= len(self.events):
            return Finish()
        index, event = self.index, self.events[self.index]
        time = event.time
        anchor = (self._anchor(event, now_us, written=index in self._early)
                  if time.is_relative or time.kind is TimeKind.ANY else 0)
        schedule = adjust(time, anchor_us=anchor)
        stop = self._order_error(index, event, schedule)
        if stop is not None:
            return Stop(stop)
        current = Current(index, event, schedule)
        self.current = current
        self.completed_us = None
        if schedule.start_us - now_us >= AHEAD_MIN_US:
            self._prepare_ahead(index)
        action = event.action
        if isinstance(action, PacketSpec):
            if action.direction is Direction.INBOUND:
                return self._inbound(current, action)
            return self._outbound(current, action, now_us)
        if isinstance(action, SyscallSpec):
            return self._call(current, action)
        if isinstance(action, ShellCommand):
            return RunShell(current, action.command)
        return self._snapshot(current, action)

    def completed(self, when_us: int) -> None:
        """The current event's action finished at ``when_us`` (what the next one counts from)."""
        self.completed_us = when_us

    def _anchor(self, event: Event, now_us: int, written: bool = False) -> int:
        """Where a relative time counts from. ``written``: the event is an answer the loop
        wrote early; its time is fixed already and counts from the event before it, however
        long the loop took to get here."""
        last = self.last
        if last is not None and _is_inbound(last.event) and _is_inbound(event):
            return last.schedule.start_us
        # packetdrill reads "now" microseconds after the previous event's action finished; in
        # Python the bookkeeping in between takes far longer, and counting it would make every
        # relative time drift. So a relative time counts from when the previous action
        # finished; an event drillbook performs itself falls back to "now" after a stall.
        if self.completed_us is not None and (
            written or _is_outbound(event) or now_us - self.completed_us <= STALL_US
        ):
            return self.completed_us
        return now_us

    def _order_error(self, index: int, event: Event, schedule: Schedule) -> RunFailure | None:
        if index == 0 and event.time.start_us != 0:  # checked on the script's value, as in C
            return RunFailure(FailureKind.RUNTIME, event.line, "first event should be at time 0")
        last = self.last
        if (
            last is not None
            and not last.event.time.is_relative
            and not event.time.is_relative
            and event.time.kind is not TimeKind.ANY
            and last.event.time.kind is not TimeKind.ANY
            and schedule.start_us < last.schedule.start_us
        ):
            return RunFailure(
                FailureKind.RUNTIME,
                event.line,
                f"time goes backward in script from {last.schedule.start_us} usec "
                f"to {schedule.start_us} usec",
            )
        return None

    # -- starts -------------------------------------------------------------------------

    def check_start(
        self, current: Current, actual_us: int, description: str
    ) -> StepReport | None:
        """packetdrill's wait_for_event check: None if the event did not start late (event 0
        is never checked), else the failed step."""
        if current.index == 0:
            return None
        error = verify_time(
            current.event.time.kind,
            current.schedule,
            actual_us,
            self._previous_start(current),
            self.tolerance,
            description,
        )
        if error is None:
            return None
        return self._failed(current, _kind_of(current.event), FailureKind.TIMING, error,
                            actual_us=actual_us)

    def _previous_start(self, current: Current) -> int | None:
        """The schedule of the event before ``current`` (its tolerance's gap)."""
        if current.index == 0:
            return None
        if self.last is not None and self.last.index == current.index - 1:
            return self.last.schedule.start_us
        return None

    # -- inbound packets ----------------------------------------------------------------

    def _inbound(self, current: Current, spec: PacketSpec) -> Action:
        early = self._early.pop(current.index, None)
        if early is not None:
            self.completed_us = early.sent_us
            late = self.check_start(current, early.actual_us, "inbound packet")
            report = late or self._injected_report(current, spec, early.actual_us, early.record)
            return Record(report)
        if current.index not in self._prepared:
            self._prepare_burst(current.index)
        prepared = self._prepared.pop(current.index)
        if isinstance(prepared, PacketFailure):
            return Record(self._packet_failure(current, prepared, None))
        return Inject(current, prepared, self._chain_after(current.index),
                      self._burst_follows(current))

    def _burst_follows(self, current: Current) -> bool:
        """Whether the next event is an inbound packet due when ``current`` is, built already:
        packetdrill writes such a burst back to back."""
        after = current.index + 1
        return (self._due_with_previous(after, current.schedule.start_us)
                and isinstance(self._prepared.get(after), InboundPacket))

    def _due_with_previous(self, index: int, previous_start_us: int | None) -> bool:
        """Whether event ``index`` is an inbound packet due when the event before it is: at
        `+0`, or at an absolute time not after ``previous_start_us`` (when that is known; an
        early answer's time is not, until the kernel's packet comes)."""
        if index >= len(self.events) or not _is_inbound(self.events[index]):
            return False
        time = self.events[index].time
        if time.kind is TimeKind.RELATIVE:
            return time.start_us == 0
        return (previous_start_us is not None and time.kind is TimeKind.ABSOLUTE
                and time.start_us <= previous_start_us)

    def _chain_after(self, index: int) -> EarlyAnswer | None:
        """The answers built ahead for the `>` line right after inbound ``index`` and on."""
        after = index + 1
        sock = self.packets.socket
        if after + 1 not in self._shapes or sock is None or not _is_outbound(self.events[after]):
            return None
        awaited = self.events[after].action
        assert isinstance(awaited, PacketSpec)
        return self._chain(after, awaited, sock, first=False)

    def _prepare_burst(self, index: int) -> None:
        """Build this inbound packet and those that follow it at once, before the first one's
        time: a burst (`+0 <`, `+0 <`, ...) is then written back to back. Nothing between two
        consecutive inbound packets changes how they are mapped."""
        events = self.events
        while index < len(events) and _is_inbound(events[index]):
            action = events[index].action
            assert isinstance(action, PacketSpec)
            if index not in self._prepared:
                self._prepared[index] = self.packets.prepare_inbound(action, events[index].line)
            index += 1

    def injected(self, action: Inject, actual_us: int) -> tuple[AnyRecord, StepReport]:
        """The loop wrote ``action``'s packet, starting at ``actual_us``: its packet record and
        its step. (Like packetdrill, an injection happens when it is sent; it completes after
        the write, which the loop reports with :meth:`completed`.)"""
        current = action.current
        record = self.packets.record(action.packet.data, "<", actual_us)
        assert isinstance(current.event.action, PacketSpec)
        return record, self._injected_report(current, current.event.action, actual_us, record)

    def _injected_report(
        self, current: Current, spec: PacketSpec, actual_us: int, record: AnyRecord
    ) -> StepReport:
        return StepReport(
            current.index, current.event, StepKind.INBOUND, Outcome.OK,
            current.schedule.start_us, actual_us=actual_us,
            expected=script_record(spec, "<", current.schedule.start_us), actual=record,
            tcp_info=True, tcp_info_us=actual_us,
        )

    # -- outbound packets ---------------------------------------------------------------

    def _outbound(self, current: Current, spec: PacketSpec, now_us: int) -> Action:
        matcher = self.packets.begin_outbound(spec, current.line)
        if isinstance(matcher, PacketFailure):
            return Record(self._packet_failure(current, matcher, None))
        event, schedule = current.event, current.schedule
        last_us = self._previous_start(current) or 0
        timeout = sniff_timeout_us(schedule, event.time.kind, last_us)
        if self.options.explore:
            timeout = max(0, schedule.end_us - now_us) + EXPLORE_WAIT_US
        sniff_start = schedule.offset_us if event.time.is_relative else self._anchor(event, now_us)
        answer = self._early_answer(current, matcher)
        return AwaitPacket(current, matcher, timeout, sniff_start, answer)

    def _early_answer(self, current: Current, matcher: OutboundMatcher) -> EarlyAnswer | None:
        """The next event pre-built, if it is a `+0` inbound packet whose bytes cannot depend
        on the awaited one (see :meth:`_answerable`), with the answers after it that were built
        ahead (a `>`/`+0 <` pair after another: the kernel's next packet is often sent inside
        the write of the previous answer)."""
        return self._chain(current.index, matcher.spec, matcher.sock, first=True)

    def _chain(
        self, awaited_index: int, awaited: PacketSpec, sock: TestSocket, first: bool
    ) -> EarlyAnswer | None:
        index = awaited_index + 1
        if index in self._early:
            return None  # written already, as a chained answer
        shape = self._shapes.get(index)  # known when the answer was built ahead
        if shape is None:
            if not first:
                return None  # only answers built ahead are chained
            shape = self._answerable(awaited, sock, index)
            if shape is None:
                return None
        event = self.events[index]
        assert isinstance(event.action, PacketSpec)
        prepared = self._prepared.get(index)
        if prepared is None:
            prepared = self.packets.prepare_inbound(event.action, event.line)
            self._prepared[index] = prepared  # a failure is reported at its own line
        if not isinstance(prepared, InboundPacket):
            return None
        protocol, payload_len = shape
        ports = sock.live_local.port, sock.live_remote.port
        burst = self._burst_behind(index, awaited, protocol, ports, payload_len)
        last = burst[-1].index if burst else index
        then = self._chain_after(last) if self.packets.socket is sock else None
        return EarlyAnswer(index, prepared, protocol, *ports, payload_len, then, burst)

    def _burst_behind(self, index: int, awaited: PacketSpec, protocol: int,
                      ports: tuple[int, int], payload_len: int) -> tuple[EarlyAnswer, ...]:
        """The inbound packets after answer ``index`` at `+0`, built now and written at once
        behind it, as packetdrill writes a burst: as far as each is built without a failure
        and its bytes cannot depend on the awaited packet (its TS ecr)."""
        burst: list[EarlyAnswer] = []
        after = index + 1
        while self._due_with_previous(after, None):
            event = self.events[after]
            assert isinstance(event.action, PacketSpec)
            if after in self._early or not self._ecr_known(event.action, (awaited,)):
                break
            prepared = self._prepared.get(after)
            if prepared is None:
                prepared = self._prepared[after] = self.packets.prepare_inbound(
                    event.action, event.line)
            if not isinstance(prepared, InboundPacket):
                break  # its failure is reported at its own line
            burst.append(EarlyAnswer(after, prepared, protocol, *ports, payload_len))
            after += 1
        return tuple(burst)

    def _answerable(
        self, awaited: PacketSpec, sock: TestSocket | None, index: int
    ) -> tuple[int, int] | None:
        """(protocol, payload length) of the awaited packet if event ``index`` is a `+0`
        inbound packet that may answer it early, else None. The awaited packet changes the
        mapping only when it is a SYN (ISN and port learned), when the socket is still learning
        its 4-tuple, or through the TS value an inbound TS ecr is mapped from."""
        if index >= len(self.events) or self.options.explore or sock is None:
            return None
        event = self.events[index]
        time = event.time
        if not _is_inbound(event) or time.kind is not TimeKind.RELATIVE or time.start_us != 0:
            return None
        shape = _shape(awaited)
        if shape is None or not _settled(sock):
            return None
        assert isinstance(event.action, PacketSpec)
        return shape if self._ecr_known(event.action, (awaited,)) else None

    def _prepare_ahead(self, index: int) -> None:
        """Build the inbound packets from event ``index`` on while the loop would only wait,
        as far as nothing before them can change their bytes: no call that changes sockets,
        no SYN or other learning packet, no TS ecr that a `>` line on the way may map.
        Built in script order, as they will be written."""
        if self.options.explore:
            return
        awaited: list[PacketSpec] = []
        for i in range(index, min(len(self.events), index + AHEAD_EVENTS)):
            event = self.events[i]
            action = event.action
            if isinstance(action, SyscallSpec):
                if action.name in SOCKET_CALLS:
                    return
            elif isinstance(action, PacketSpec) and action.direction is Direction.OUTBOUND:
                if _shape(action) is None:
                    return
                awaited.append(action)
            elif isinstance(action, PacketSpec):
                if i in self._prepared or i in self._early:
                    continue
                sock = self.packets.socket
                if sock is None or not _settled(sock) or not self._ecr_known(action, awaited):
                    return
                self._prepared[i] = self.packets.prepare_inbound(action, event.line)
                before = self.events[i - 1].action if i > index else None
                if isinstance(before, PacketSpec) and before.direction is Direction.OUTBOUND:
                    shape = self._answerable(before, sock, i)
                    if shape is not None:
                        self._shapes[i] = shape

    def _ecr_known(self, inbound: PacketSpec, awaited: Sequence[PacketSpec]) -> bool:
        """True if ``inbound``'s TS ecr (if any) maps the same before and after ``awaited``."""
        body = inbound.body
        if not isinstance(body, TcpSpec) or "." not in body.flags or body.options is None:
            return True
        ecr = next((o.as_timestamp()[1] for o in _tcp_options(body)
                    if o.kind == opt.TCPOPT_TIMESTAMP), None)
        if ecr is None:
            return True
        sock = self.packets.socket
        if sock is None or ecr not in sock.ts_val_map:
            return False
        return all(ecr != val for spec in awaited for val in _ts_vals(spec))

    def answered_early(self, answer: EarlyAnswer, actual_us: int, sent_us: int) -> AnyRecord:
        """The loop began writing ``answer`` at ``actual_us`` and finished at ``sent_us``: its
        packet record."""
        record = self.packets.record(answer.packet.data, "<", actual_us)
        self._early[answer.index] = _Early(answer, actual_us, sent_us, record)
        self._prepared.pop(answer.index, None)
        return record

    def packet_seen(self, action: AwaitPacket, raw: bytes, when_us: int) -> PacketSeen:
        """One sniffed packet (kernel timestamp ``when_us``) during ``action``."""
        # packetdrill reads a packet within microseconds of the kernel sending it (or at once,
        # if it was already queued when sniffing began): that is when this event completes.
        self.completed_us = max(when_us, action.sniff_start_us)
        verdict = action.matcher.feed(raw, when_us)
        if verdict.kind is not OutboundVerdictKind.DONE:
            more = verdict.kind is OutboundVerdictKind.MORE
            return PacketSeen(verdict.record if more else None, None)
        return PacketSeen(verdict.record, self._outbound_report(action, verdict))

    def _outbound_report(self, action: AwaitPacket, verdict: OutboundVerdict) -> StepReport:
        current = action.current
        spec = action.matcher.spec
        schedule = current.schedule
        actual = verdict.actual
        actual_us = actual.time_us if actual is not None else None
        failure = verdict.failure
        if failure is not None:
            failure = self.packets.with_dumps(failure, spec, schedule.start_us, actual)
        if failure is None and actual_us is not None:
            timing = verify_time(current.event.time.kind, schedule, actual_us,
                                 self._previous_start(current), self.tolerance, "outbound packet")
            if timing:
                failure = self.packets.describe_failure(
                    timing, spec, schedule.start_us, actual, FailureKind.TIMING
                )
        expected = script_record(spec, ">", schedule.start_us)
        report = StepReport(
            current.index, current.event, StepKind.OUTBOUND, Outcome.OK, schedule.start_us,
            actual_us=actual_us, end_scheduled_us=schedule.end_us, expected=expected,
            actual=actual, tcp_info=True, tcp_info_us=actual_us,
        )
        if failure is None:
            return report
        if self.options.explore:
            return replace(report, outcome=Outcome.WARNING, message=failure.message)
        if self.config.non_fatal_packet and failure.non_fatal:
            warning = (f"{self.script.source.name}:{current.line}: warning handling packet: "
                       f"{failure.message}")
            return replace(report, outcome=Outcome.WARNING, end_scheduled_us=None,
                           message=failure.message, warning=warning)
        return self._packet_failure(current, failure, actual)

    def sniff_timed_out(self, action: AwaitPacket) -> StepReport:
        current = action.current
        expected = script_record(action.matcher.spec, ">", current.schedule.start_us)
        if self.options.explore:
            return StepReport(current.index, current.event, StepKind.OUTBOUND, Outcome.WARNING,
                              current.schedule.start_us, expected=expected, message="no packet")
        message = "error handling packet: Timed out waiting for packet"
        return self._failed(current, StepKind.OUTBOUND, FailureKind.TIMEOUT, message,
                            expected=expected)

    def early_answers_not_run(self) -> list[StepReport]:
        """After a failure: the answers already written early, as steps that did not run
        (their packets are on the wire and in the trace's packets)."""
        early, self._early = self._early, {}
        reports = []
        for index in sorted(early):
            written = early[index]
            event = self.events[index]
            assert isinstance(event.action, PacketSpec)
            reports.append(StepReport(
                index, event, StepKind.INBOUND, Outcome.NOT_RUN, written.actual_us,
                actual_us=written.actual_us,
                expected=script_record(event.action, "<", written.actual_us),
                actual=written.record,
                message=f"written at once as the answer to line {self.events[index - 1].line}'s "
                        "packet, before the run failed at line "
                        f"{self.current_line}",
            ))
        return reports

    def _packet_failure(
        self, current: Current, failure: PacketFailure, actual: AnyRecord | None
    ) -> StepReport:
        spec = current.event.action
        assert isinstance(spec, PacketSpec)
        message = f"error handling packet: {failure.message}"
        inbound = spec.direction is Direction.INBOUND
        return StepReport(
            current.index, current.event, StepKind.INBOUND if inbound else StepKind.OUTBOUND,
            Outcome.FAILED, current.schedule.start_us,
            actual_us=actual.time_us if actual is not None else None,
            expected=script_record(spec, spec.direction.value, current.schedule.start_us),
            actual=actual, message=message,
            failure=RunFailure(failure.kind, current.line, message, failure.details,
                               failure.field_name),
        )

    # -- syscalls -----------------------------------------------------------------------

    def _call(self, current: Current, spec: SyscallSpec) -> Call:
        if not spec.is_blocking:
            return Call(current, spec)
        assert spec.end_us is not None
        offset = current.schedule.offset_us if current.event.time.is_relative else 0
        return Call(current, spec, spec.end_us + offset)

    def judge_call(
        self,
        action: Call,
        error: str | None,
        syscall: object,
        actual_us: int,
        returned_us: int | None,
    ) -> StepReport:
        """A call's step, from its error (None: the result matched). Thread-safe."""
        current, spec = action.current, action.spec
        if error is not None:
            message = error if error.startswith("runtime error") else (
                f"runtime error in {spec.name} call: {error}")
            return self._failed(current, StepKind.SYSCALL, FailureKind.SYSCALL, message,
                                actual_us=actual_us, end_scheduled_us=action.end_us,
                                syscall=syscall)
        return StepReport(
            current.index, current.event, StepKind.SYSCALL, Outcome.OK,
            current.schedule.start_us, actual_us=actual_us, end_scheduled_us=action.end_us,
            syscall=syscall, tcp_info=True, tcp_info_us=returned_us or actual_us,
        )

    def judge_return(self, action: Call, returned_us: int) -> RunFailure | None:
        """A blocking call's return time against its `...end` time. Thread-safe."""
        current = action.current
        assert action.end_us is not None
        end = Schedule(action.end_us, action.end_us, current.schedule.offset_us)
        error = verify_time(current.event.time.kind, end, returned_us,
                            current.schedule.start_us, self.tolerance, "system call return")
        return None if error is None else RunFailure(FailureKind.TIMING, current.line, error)

    # -- commands and code --------------------------------------------------------------

    def judge_command(self, action: RunShell, returncode: int, actual_us: int) -> StepReport:
        current = action.current
        if returncode != 0:
            message = f"error executing `{action.command}` command: {status_text(returncode)}"
            return self._failed(current, StepKind.COMMAND, FailureKind.COMMAND, message,
                                actual_us=actual_us)
        return StepReport(current.index, current.event, StepKind.COMMAND, Outcome.OK,
                          current.schedule.start_us, actual_us=actual_us, tcp_info=True,
                          tcp_info_us=actual_us)

    def _snapshot(self, current: Current, block: CodeBlock) -> Snapshot:
        return Snapshot(current, block)

    def snapshot_socket(self) -> int | str:
        """The live fd a %{ }% snapshot reads, asked at the block's time (a blocking accept may
        have returned meanwhile), or why there is none."""
        if self.packets.socket is None:
            return "no socket to use for code"
        live_fd = self.packets.socket_live_fd()
        if live_fd is None:  # a child not accepted yet: packetdrill's getsockopt(-1) fails
            return "can't find getsockopt to get TCP info"
        return live_fd

    def judge_snapshot(self, action: Snapshot, error: str | None, actual_us: int) -> StepReport:
        current = action.current
        if error is not None:
            return self._failed(current, StepKind.CODE, FailureKind.CODE,
                                f"runtime error in code: {error}", actual_us=actual_us)
        return StepReport(current.index, current.event, StepKind.CODE, Outcome.OK,
                          current.schedule.start_us, actual_us=actual_us, tcp_info=True,
                          tcp_info_us=actual_us)

    # -- shared -------------------------------------------------------------------------

    def _failed(
        self,
        current: Current,
        kind: StepKind,
        failure: FailureKind,
        message: str,
        *,
        actual_us: int | None = None,
        end_scheduled_us: int | None = None,
        expected: AnyRecord | None = None,
        syscall: object = None,
    ) -> StepReport:
        return StepReport(
            current.index, current.event, kind, Outcome.FAILED, current.schedule.start_us,
            actual_us=actual_us, end_scheduled_us=end_scheduled_us, expected=expected,
            message=message, syscall=syscall,
            failure=RunFailure(failure, current.line, message),
        )


def status_text(returncode: int) -> str:
    """A shell command's exit as packetdrill words it."""
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"non-zero exit status {returncode}"


def _shape(spec: PacketSpec) -> tuple[int, int] | None:
    """(protocol, payload length) of a `>` line whose packet cannot teach the mapping
    anything (not a SYN; TCP or UDP), else None."""
    body = spec.body
    if isinstance(body, TcpSpec):
        return None if "S" in body.flags else (IPPROTO_TCP, body.payload_len)
    if isinstance(body, UdpSpec):
        return IPPROTO_UDP, body.payload_len
    return None


def _settled(sock: TestSocket) -> bool:
    """The socket's 4-tuple and ISNs are known (no packet can teach it anything more)."""
    return (sock.state not in LEARNING_STATES and sock.state is not SocketState.PASSIVE_LISTENING
            and bool(sock.live_local.port) and bool(sock.live_remote.port))


def _ts_vals(spec: PacketSpec) -> list[int]:
    return [o.as_timestamp()[0] for o in _tcp_options(spec.body)
            if o.kind == opt.TCPOPT_TIMESTAMP]


def _tcp_options(body: object) -> tuple[TcpOptionValue, ...]:
    return expected_tcp(body).options if isinstance(body, TcpSpec) else ()


def _is_inbound(event: Event) -> bool:
    return isinstance(event.action, PacketSpec) and event.action.direction is Direction.INBOUND


def _is_outbound(event: Event) -> bool:
    return isinstance(event.action, PacketSpec) and event.action.direction is Direction.OUTBOUND


def _kind_of(event: Event) -> StepKind:
    action = event.action
    if isinstance(action, PacketSpec):
        return StepKind.INBOUND if action.direction is Direction.INBOUND else StepKind.OUTBOUND
    if isinstance(action, SyscallSpec):
        return StepKind.SYSCALL
    if isinstance(action, ShellCommand):
        return StepKind.COMMAND
    return StepKind.CODE
