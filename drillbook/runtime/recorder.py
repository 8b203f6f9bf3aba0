"""Collects what a run does into the immutable Trace."""

from __future__ import annotations

from typing import Any

from drillbook.config import RunConfig
from drillbook.script.model import Event, Script, SyscallSpec
from drillbook.trace.model import (
    Failure,
    FailureKind,
    Outcome,
    PacketRecord,
    Step,
    StepKind,
    SyscallRecord,
    TcpInfoSnapshot,
    Trace,
)

TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}


class TraceRecorder:
    """Steps and packets as they happen; ``build`` freezes them into a Trace."""

    def __init__(self, script: Script, config: RunConfig, addresses: Any) -> None:
        self.script = script
        self.config = config
        self.steps: list[Step] = []
        self.packets: list[PacketRecord] = []
        self.unexpected: set[int] = set()
        self.failure: Failure | None = None
        self.warnings: list[str] = []
        self.outputs: list[str] = []
        self.started_at = 0.0
        self.duration_us = 0
        self.local_ip = getattr(addresses, "local_ip", "")
        self.remote_ip = getattr(addresses, "remote_ip", "")

    def event_text(self, event: Event) -> str:
        span = event.span
        source = self.script.source
        if span.offset < span.end_offset <= len(source.text):
            text = source.text[span.offset : span.end_offset]
        else:
            text = source.line_text(event.line)
        return " ".join(text.split())

    def step(
        self, index: int, event: Event, kind: StepKind, outcome: Outcome, **fields: Any
    ) -> None:
        self.steps.append(
            Step(
                index=index,
                line=event.line,
                kind=kind,
                text=self.event_text(event),
                outcome=outcome,
                **fields,
            )
        )

    def packet(self, record: PacketRecord, unexpected: bool = False) -> None:
        self.packets.append(record)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

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
        self.failure = Failure(
            kind=kind,
            line=line,
            column=column,
            message=message,
            details=details,
            field_name=field_name,
            path=self.script.path,
        )

    def syscall_record(
        self, event: Event, spec: SyscallSpec, outcome: Any, returned_us: int | None
    ) -> SyscallRecord:
        from drillbook.script.symbols import errno_name

        expected = None
        from drillbook.script.model import IntExpr

        if isinstance(spec.result, IntExpr):
            expected = spec.result.value
        errno = int(getattr(outcome, "errno", 0) or 0)
        return SyscallRecord(
            name=spec.name,
            text=self.event_text(event).split(" ", 1)[-1],
            expected_result=expected,
            result=getattr(outcome, "result", None),
            errno=errno,
            errno_name=errno_name(errno) if errno else "",
            blocking=spec.is_blocking,
            return_us=returned_us,
        )

    def tcp_info(self, info: dict[str, int], when_us: int) -> TcpInfoSnapshot:
        def get(name: str) -> int:
            return int(info.get(f"tcpi_{name}", 0))

        return TcpInfoSnapshot(
            time_us=when_us,
            state=TCP_STATES.get(get("state"), str(get("state"))),
            ca_state=get("ca_state"),
            snd_cwnd=get("snd_cwnd"),
            snd_ssthresh=get("snd_ssthresh"),
            rtt_us=get("rtt"),
            rttvar_us=get("rttvar"),
            rto_us=get("rto"),
            unacked=get("unacked"),
            sacked=get("sacked"),
            lost=get("lost"),
            retrans=get("retrans"),
            total_retrans=get("total_retrans"),
            snd_wnd=get("snd_wnd"),
            rcv_wnd=get("rcv_wnd"),
            rcv_space=get("rcv_space"),
            snd_mss=get("snd_mss"),
            rcv_mss=get("rcv_mss"),
            pmtu=get("pmtu"),
            delivered=get("delivered"),
            reordering=get("reordering"),
            fields=tuple(sorted((k, int(v)) for k, v in info.items() if isinstance(v, int))),
        )

    def build(self, output: str = "") -> Trace:
        text = "\n".join(part for part in (output, *self.outputs) if part)
        return Trace(
            script_path=self.script.path,
            script_text=self.script.source.text,
            ip_mode=self.config.ip_mode.value,
            steps=tuple(self.steps),
            packets=tuple(sorted(self.packets, key=lambda p: p.time_us)),
            failure=self.failure,
            warnings=tuple(self.warnings),
            output=text,
            duration_us=self.duration_us,
            started_at=self.started_at,
            local_ip=self.local_ip,
            remote_ip=self.remote_ip,
        )
