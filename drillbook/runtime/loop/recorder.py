"""Collects what a run does into the immutable Trace.

Recording is split in two so that the hot path between events stays cheap: during the run the
recorder only remembers raw facts (the event, its outcome, TCP_INFO bytes); Steps, decoded
snapshots and text are built after the run, in ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from drillbook.config import RunConfig
from drillbook.engine.records import AnyRecord, materialize
from drillbook.explain.packets import packet_difference
from drillbook.runtime.capture.observer import WorkerEvidence
from drillbook.runtime.syscalls.tcpinfo import decode_tcp_info
from drillbook.script.model import Event, IntExpr, Script, SyscallSpec
from drillbook.script.symbols import errno_name
from drillbook.trace.model import (
    Failure,
    FailureKind,
    Outcome,
    Step,
    StepKind,
    SyscallRecord,
    TcpInfoSnapshot,
    Trace,
)

TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "NEW_SYN_RECV",
}  # fmt: skip


def _without_comment(line: str) -> str:
    """The line without a trailing `//` comment (outside strings, as the lexer sees it)."""
    in_string = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            in_string = not in_string
        elif not in_string and line.startswith("//", index):
            return line[:index]
    return line


@dataclass(frozen=True)
class RawTcpInfo:
    """TCP_INFO bytes read right after an event; decoded only when the trace is built."""

    when_us: int
    data: bytes


@dataclass(frozen=True)
class _PendingStep:
    index: int
    event: Event
    kind: StepKind
    outcome: Outcome
    fields: dict[str, Any]


class TraceRecorder:
    """Steps and packets as they happen; ``build`` freezes them into a Trace."""

    def __init__(self, script: Script, config: RunConfig, addresses: Any) -> None:
        self.script = script
        self.config = config
        self._pending: list[_PendingStep] = []
        self.packets: list[AnyRecord] = []
        self.failure: Failure | None = None
        self.warnings: list[str] = []
        self.outputs: list[str] = []
        self.started_at = 0.0
        self.duration_us = 0
        self.kernel: WorkerEvidence | None = None
        self.local_ip = getattr(addresses, "local_ip", "")
        self.remote_ip = getattr(addresses, "remote_ip", "")

    def step(
        self, index: int, event: Event, kind: StepKind, outcome: Outcome, **fields: Any
    ) -> None:
        self._pending.append(_PendingStep(index, event, kind, outcome, fields))

    def packet(self, record: AnyRecord) -> None:
        self.packets.append(record)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def evidence(self, kernel: WorkerEvidence) -> None:
        """The run's sockets, counter samples and sources (runtime/capture/observer.py)."""
        self.kernel = kernel

    def command_output(self, text: str) -> None:
        if text:
            self.outputs.append(text)

    def fail(
        self,
        kind: FailureKind,
        line: int,
        message: str,
        details: tuple[str, ...],
        field_name: str | None,
    ) -> None:
        column = 1
        for event in self.script.events:
            if event.line == line:
                column = max(event.span.column, 1)
                break
        self.failure = Failure(kind=kind, line=line, column=column, message=message,
                               details=details, field_name=field_name, path=self.script.path)

    def syscall_record(self, spec: SyscallSpec, outcome: Any, returned_us: int | None) -> Any:
        """What a syscall did (raw; made into a SyscallRecord after the run)."""
        return (spec, int(getattr(outcome, "result", 0)), int(getattr(outcome, "errno", 0) or 0),
                returned_us)

    # -- after the run ---------------------------------------------------------------------

    def event_text(self, event: Event) -> str:
        """The event as written: from its time to the end of its last line, comments dropped,
        white space folded."""
        span = event.span
        source = self.script.source
        text = source.text
        if 0 <= span.offset < span.end_offset <= len(text):
            end = text.find("\n", span.end_offset)
            chunk = text[span.offset : len(text) if end < 0 else end]
        else:
            chunk = source.line_text(event.line)
        lines = [_without_comment(line) for line in chunk.splitlines()]
        return " ".join(" ".join(lines).split())

    def _syscall(self, event: Event, raw: Any) -> SyscallRecord:
        spec, result, errno, returned_us = raw
        expected = spec.result.value if isinstance(spec.result, IntExpr) else None
        text = self.event_text(event)
        call = text[text.find(spec.name):] if spec.name in text else text
        return SyscallRecord(
            name=spec.name, text=call, expected_result=expected, result=result, errno=errno,
            errno_name=errno_name(errno) if errno else "", blocking=spec.is_blocking,
            return_us=returned_us,
        )

    def tcp_info(self, info: dict[str, int], when_us: int) -> TcpInfoSnapshot:
        def get(name: str) -> int:
            return int(info.get(f"tcpi_{name}", 0))

        return TcpInfoSnapshot(
            time_us=when_us, state=TCP_STATES.get(get("state"), str(get("state"))),
            ca_state=get("ca_state"), snd_cwnd=get("snd_cwnd"), snd_ssthresh=get("snd_ssthresh"),
            rtt_us=get("rtt"), rttvar_us=get("rttvar"), rto_us=get("rto"), unacked=get("unacked"),
            sacked=get("sacked"), lost=get("lost"), retrans=get("retrans"),
            total_retrans=get("total_retrans"), snd_wnd=get("snd_wnd"), rcv_wnd=get("rcv_wnd"),
            rcv_space=get("rcv_space"), snd_mss=get("snd_mss"), rcv_mss=get("rcv_mss"),
            pmtu=get("pmtu"), delivered=get("delivered"), reordering=get("reordering"),
            fields=tuple(sorted((k, int(v)) for k, v in info.items() if isinstance(v, int))),
        )  # fmt: skip

    def _build_step(self, pending: _PendingStep) -> Step:
        fields = dict(pending.fields)
        raw_info = fields.pop("tcp_info", None)
        if isinstance(raw_info, RawTcpInfo):
            fields["tcp_info"] = self.tcp_info(decode_tcp_info(raw_info.data), raw_info.when_us)
        for name in ("expected", "actual"):
            if name in fields:
                fields[name] = materialize(fields[name])
        raw_call = fields.pop("syscall", None)
        if raw_call is not None:
            fields["syscall"] = self._syscall(pending.event, raw_call)
        return Step(index=pending.index, line=pending.event.line, kind=pending.kind,
                    text=self.event_text(pending.event), outcome=pending.outcome, **fields)

    def build(self, output: str = "") -> Trace:
        text = "\n".join(part for part in (output, *self.outputs) if part)
        steps = tuple(self._build_step(pending) for pending in self._pending)
        failure = with_packet_difference(self.failure, steps)
        return Trace(
            script_path=self.script.path, script_text=self.script.source.text,
            ip_mode=self.config.ip_mode.value,
            steps=steps,
            packets=tuple(sorted((r for r in map(materialize, self.packets) if r is not None),
                                 key=lambda p: p.time_us)),
            failure=failure, warnings=tuple(self.warnings), output=text,
            duration_us=self.duration_us, started_at=self.started_at,
            local_ip=self.local_ip, remote_ip=self.remote_ip, **self._kernel_fields(),
        )

    def _kernel_fields(self) -> dict[str, Any]:
        kernel = self.kernel
        if kernel is None:
            return {}
        return {"started_monotonic_ns": kernel.started_monotonic_ns,
                "script_end_us": kernel.script_end_us, "sockets": kernel.sockets,
                "socket_states": kernel.socket_states,
                "counter_samples": kernel.counter_samples, "sources": kernel.sources}


def with_packet_difference(failure: Failure | None, steps: tuple[Step, ...]) -> Failure | None:
    """A packet mismatch gains one line under packetdrill's message: what differs in the
    whole packet (drillbook/explain/packets.py). packetdrill's own lines stay first."""
    if failure is None or failure.kind is not FailureKind.PACKET:
        return failure
    for step in steps:
        if step.line == failure.line and step.expected is not None and step.actual is not None:
            sentence = packet_difference(step.expected, step.actual)
            if sentence:
                return replace(failure, details=(*failure.details, sentence))
    return failure
