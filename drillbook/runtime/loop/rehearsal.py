"""A rehearsal before time 0: every event's Python path walked once, on throwaway state.

Why: in a fresh worker the first execution of a code path costs several times what the next
one does (measured on the seed handshake: the first ``socket()`` took ~200 µs of which ~30 µs
were the kernel's, the first ``accept()`` ~200 µs, building the first SYN ~150 µs; warm, each
is 15-35 µs). packetdrill's C code has no such cost, and over a handful of events it adds up
to a millisecond or more of drift: the handshake's FIN then arrived too close to the kernel's
delayed-ACK tick and the script failed on timing in about one run in ten.

So before the clock starts, the driver walks the script on scratch objects:

- every syscall runs through its real handler with a scratch fd table and a context whose
  "C call" returns the script's own result without entering the kernel;
- every inbound packet is built by a scratch :class:`PacketEngine` that hears the scratch
  syscalls' socket events;
- every outbound packet is matched against a packet synthesised from the script line, as if
  the kernel had sent exactly that (its ISN equal to the script's).

Nothing here touches the kernel, the sandbox or the real run's state, and nothing it computes
is used by the run except the syscall arguments' evaluation cache (a pure function of the
script). A path that fails in rehearsal simply stops there: the rehearsal only warms code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from drillbook.config import RunConfig
from drillbook.engine.packets import PacketEngine
from drillbook.engine.results import PacketFailure
from drillbook.engine.types import WireAddresses
from drillbook.runtime.syscalls.args import SyscallFailure
from drillbook.runtime.syscalls.context import CallContext, Runtime
from drillbook.runtime.syscalls.executor import SYSCALL_HANDLERS, SyscallExecutor
from drillbook.runtime.syscalls.libc import CallResult
from drillbook.script.model import Direction, Event, PacketSpec, SyscallSpec

MAX_EVENTS = 400  # paths repeat: a longer script gains nothing from walking all of it
REHEARSAL_PORT = 40_000  # the scratch engine's remote port (the real one reserves its own)


class RehearsalContext(CallContext):
    """A call context whose C call does not happen: it "returns" the script's result."""

    def call(self, function: Any, *c_args: Any) -> int:
        try:
            result = self.expected_result()
        except SyscallFailure:
            result = 0
        self.outcome = CallResult(result, self.expected_errno(), time.time_ns())
        return result


def rehearse(
    events: Iterable[Event], executor: SyscallExecutor, config: RunConfig, addresses: WireAddresses
) -> None:
    """Walk ``events`` once on scratch state. The run's ``executor`` gets its syscall arguments
    evaluated ahead; everything else happens on a scratch runtime and a scratch engine."""
    scratch_engine = PacketEngine(config, addresses, lambda: REHEARSAL_PORT)
    real = executor.runtime
    scratch = Runtime(
        real.config,
        real.addresses,
        real.clock,
        libc=real.libc,  # RehearsalContext intercepts the calls (cap_set's capget only reads)
        on_event=scratch_engine.on_socket_event,
    )
    for index, event in enumerate(events):
        if index >= MAX_EVENTS:
            break
        action = event.action
        try:
            if isinstance(action, SyscallSpec):
                _syscall(action, executor, scratch)
            elif isinstance(action, PacketSpec):
                _packet(action, event.line, scratch_engine)
        except Exception:  # noqa: BLE001 - a rehearsal only warms code; the run reports errors
            continue


def _syscall(spec: SyscallSpec, executor: SyscallExecutor, scratch: Runtime) -> None:
    args = executor.evaluated_arguments(spec)  # cached for the run: a pure function of spec
    handler = SYSCALL_HANDLERS.get(spec.name)
    if handler is None or isinstance(args, SyscallFailure):
        return
    handler(RehearsalContext(scratch, spec, args))  # a SyscallFailure ends this call's walk


def _packet(spec: PacketSpec, line: int, engine: PacketEngine) -> None:
    if spec.direction is Direction.INBOUND:
        engine.prepare_inbound(spec, line)
        return
    matcher = engine.begin_outbound(spec, line)
    if isinstance(matcher, PacketFailure):
        return
    raw = engine.scripted_outbound(matcher)
    if raw is not None:
        matcher.feed(raw, 0)


__all__ = ["rehearse"]
