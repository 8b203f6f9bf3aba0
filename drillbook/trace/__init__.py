"""What happened in a run: steps, packets, verdict; JSON codec, text report, pcap export."""

from drillbook.trace.model import (
    TRACE_FORMAT_VERSION,
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

__all__ = [
    "TRACE_FORMAT_VERSION",
    "Direction",
    "Failure",
    "FailureKind",
    "Outcome",
    "PacketRecord",
    "Step",
    "StepKind",
    "SyscallRecord",
    "TcpInfoSnapshot",
    "TcpOptionRecord",
    "Trace",
]
