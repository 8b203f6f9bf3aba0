"""A fake kernel that does what the script says, unless told otherwise.

The loop's rehearsal before time 0 (``loop_rehearsal.py``) walks a script over it to warm the
loop's code; ``drillbook.testing`` offers it to tests (a whole run without root).

It plays both sides the run loop talks to: the device (the wire) and the syscall host.

- Syscalls run through their real handlers (argument reading, result and errno checks, socket
  events) with a call context whose C call does not happen: it returns the script's own result,
  or the one :class:`KernelBehaviour` puts in its place. This is the rehearsal's context.
- The kernel's packets are the script's `>` lines, built by a scratch packet engine that hears
  the same socket events and inbound packets as the run's (the engine's ``scripted_outbound``):
  each goes out at its scripted time, later by ``delays_us``, never if ``drops`` names it,
  rewritten by ``rewrites``.
- A blocking call returns at its `...end` time, or ``block_us`` after it starts; virtual time
  goes no further until its thread has handed the result over (:meth:`FakeClock.book`).
- Time is virtual (:class:`FakeClock`): nothing waits for real, nothing needs root.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from drillbook.config import RunConfig
from drillbook.engine.packets import PacketEngine
from drillbook.engine.results import PacketFailure
from drillbook.runtime.loop.fake_clock import FakeClock
from drillbook.runtime.sandbox.addresses import Addresses, resolve_addresses
from drillbook.runtime.syscalls.args import Args, SyscallFailure
from drillbook.runtime.syscalls.context import CallContext, SocketAddresses, SocketEvent
from drillbook.runtime.syscalls.executor import SyscallExecutor, SyscallOutcome
from drillbook.runtime.syscalls.libc import CallResult
from drillbook.runtime.syscalls.tcpinfo import CC_INFO_SIZE, TCP_INFO_SIZE, CodeRaw
from drillbook.script.model import Direction, Event, PacketSpec, Script, SyscallSpec, TimeKind
from drillbook.wire import TCP_FIN, TCP_PSH
from drillbook.wire.packet import Packet, decode_packet, encode_packet

FIRST_EPHEMERAL_PORT = 40_000


@dataclass(frozen=True)
class KernelBehaviour:
    """Where the fake kernel departs from the script, by script line."""

    delays_us: Mapping[int, int] = field(default_factory=dict)  # `>` line -> later by this
    drops: frozenset[int] = frozenset()  # `>` lines never sent
    rewrites: Mapping[int, Callable[[bytes], bytes]] = field(default_factory=dict)  # `>` bytes
    results: Mapping[int, int] = field(default_factory=dict)  # syscall line -> its result
    block_us: Mapping[int, int] = field(default_factory=dict)  # blocking call -> how long
    returncodes: Mapping[int, int] = field(default_factory=dict)  # command line -> exit status
    # The first `>` TCP packet with more payload than this goes out as two TSO fragments, as
    # the real kernel often sends a large one (0: none). Only the first: a packet in fragments
    # takes no early answer, and the others keep that path rehearsed.
    split_first_above: int = 0


@dataclass(frozen=True)
class FakeShellResult:
    returncode: int
    output: str = ""


class FakeKernel:
    """The device, clock and syscall host of a fake run of ``script``."""

    def __init__(
        self, script: Script, config: RunConfig, behaviour: KernelBehaviour | None = None
    ) -> None:
        self.script = script
        self.config = config
        self.behaviour = behaviour or KernelBehaviour()
        self.clock = FakeClock()
        self.addresses: Addresses = resolve_addresses(config, lambda: 0x01020304)
        ports = itertools.count(FIRST_EPHEMERAL_PORT)
        self._ports_for_run = itertools.count(FIRST_EPHEMERAL_PORT)
        self._scratch = PacketEngine(config, self.addresses, lambda: next(ports))
        self._inbound = iter([e for e in script.events if _direction(e) is Direction.INBOUND])
        self._outbound = iter([e for e in script.events if _direction(e) is Direction.OUTBOUND])
        self._pending: tuple[int, bytes] | None = None  # (script µs, packet) not yet read
        self._fragments: list[bytes] = []  # the rest of a packet sent as TSO fragments
        self._split_one = False  # split_first_above has split its packet
        self._events = {id(e.action): e for e in script.events}
        self._listener: Callable[[SocketEvent], None] | None = None
        self._entered: dict[int, int] = {}
        self._entering: dict[int, threading.Event] = {}
        self.injected: list[bytes] = []  # every packet written, in order
        self.device = self
        self.syscalls = self
        kernel = self

        class FakeCallContext(CallContext):
            """A call context whose C call is the fake kernel's."""

            def call(self, function: Any, *c_args: Any) -> int:
                return kernel._fake_call(self)

        self._executor = SyscallExecutor(
            config, _socket_addresses(config, self.addresses), self.clock.now_us,
            on_event=self._on_socket_event, context=FakeCallContext,
        )

    def ephemeral_port(self) -> int:
        """The run's engine's remote ports: the same ones the scratch engine gives out."""
        return next(self._ports_for_run)

    # -- the device ---------------------------------------------------------------------

    def inject(self, ip_packet: bytes, gso_type: int = 0, gso_size: int = 0) -> int:
        self.injected.append(ip_packet)
        event = next(self._inbound, None)
        if event is not None:
            assert isinstance(event.action, PacketSpec)
            self._scratch.prepare_inbound(event.action, event.line)
        return self.clock.wall_ns()

    def read_outbound(self, timeout_s: float) -> tuple[bytes, int] | None:
        if self._fragments:
            return self._fragments.pop(0), self.clock.wall_ns()
        if self._pending is None:
            self._pending = self._next_outbound()
        deadline = self.clock.now_us() + int(timeout_s * 1e6)
        if self._pending is None or self._pending[0] > deadline:
            self.clock.wait_until(deadline)
            return None
        when, raw = self._pending
        self._pending = None
        self.clock.wait_until(when)
        split_above = self.behaviour.split_first_above
        if split_above and not self._split_one:
            first, *self._fragments = tso_fragments(raw, split_above)
            self._split_one = bool(self._fragments)
            raw = first
        return raw, self.clock.wall_ns(when)

    def _next_outbound(self) -> tuple[int, bytes] | None:
        """The next `>` line the kernel sends: when, and its bytes."""
        behaviour = self.behaviour
        for event in self._outbound:
            assert isinstance(event.action, PacketSpec)
            matcher = self._scratch.begin_outbound(event.action, event.line)
            if isinstance(matcher, PacketFailure):
                continue
            raw = self._scratch.scripted_outbound(matcher)
            if raw is None:
                continue
            matcher.feed(raw, 0)  # the scratch engine learns the TS values and ISN it sent
            if event.line in behaviour.drops:
                continue
            rewrite = behaviour.rewrites.get(event.line)
            when = _scripted_time(event, self.clock.now_us())
            return when + behaviour.delays_us.get(event.line, 0), rewrite(raw) if rewrite else raw
        return None

    def run_shell(
        self, command: str, env: Mapping[str, str], timeout_s: float | None
    ) -> FakeShellResult:
        line = next((e.line for e in self.script.events
                     if getattr(e.action, "command", None) == command), 0)
        return FakeShellResult(self.behaviour.returncodes.get(line, 0))

    # -- the syscall host ---------------------------------------------------------------

    def listen(self, on_event: Callable[[SocketEvent], None]) -> None:
        self._listener = on_event

    def _on_socket_event(self, event: SocketEvent) -> None:
        self._scratch.on_socket_event(event)
        if self._listener is not None:
            self._listener(event)

    def execute(self, spec: SyscallSpec, script_time_us: int) -> SyscallOutcome:
        return self._executor.execute(spec, script_time_us)

    def _fake_call(self, context: CallContext) -> int:
        """The C call of ``context``: the script's result (or the behaviour's), at once or,
        for a blocking call, at its end."""
        event = self._events[id(context.spec)]
        ident = threading.get_ident()
        returned_us = self.clock.now_us()
        self._entered[ident] = self.clock.wall_ns(returned_us)
        entering = self._entering.get(ident)
        if context.spec.is_blocking:
            # Booked before the loop hears the call started: time stops at its return until
            # the thread has handed the result over (the loop's thread sets ``entering`` again
            # when its call is done).
            returned_us = self._return_time(event, context.spec, returned_us)
            self.clock.book(returned_us, entering)
        if entering is not None:
            entering.set()
        if context.spec.is_blocking:
            self.clock.sleep_until(returned_us)
        try:
            result = context.expected_result()
        except SyscallFailure:
            result = 0
        errno = context.expected_errno()
        if event.line in self.behaviour.results:
            result, errno = self.behaviour.results[event.line], 0
        context.outcome = CallResult(result, errno, self.clock.wall_ns(returned_us))
        return result

    def _return_time(self, event: Event, spec: SyscallSpec, start_us: int) -> int:
        """When a blocking call that starts at ``start_us`` returns."""
        duration = self.behaviour.block_us.get(event.line)
        if duration is None:
            assert spec.end_us is not None
            duration = spec.end_us - event.time.start_us
        return start_us + max(duration, 0)

    def evaluated_arguments(self, spec: SyscallSpec) -> Args | SyscallFailure:
        return self._executor.evaluated_arguments(spec)

    def live_fd(self, script_fd: int) -> int | None:
        return None  # no real fds: the readiness test never looks at the test process's fds

    def tcp_info_bytes(self, live_fd: int) -> bytes | None:
        return None

    def code_snapshot(self, live_fd: int) -> CodeRaw:
        """A snapshot of zeros (the fake kernel keeps no TCP state)."""
        return CodeRaw(bytes(TCP_INFO_SIZE), bytes(CC_INFO_SIZE), b"")

    def entered_ns(self, thread_ident: int) -> int:
        return self._entered.get(thread_ident, 0)

    def watch_entering(self, thread_ident: int, entering: threading.Event) -> None:
        self._entering[thread_ident] = entering

    def errno_of(self, thread_ident: int) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def rehearse(self, events: Iterable[Event]) -> None:
        return None

    def close_all(self) -> None:
        return None


def _scripted_time(event: Event, now_us: int) -> int:
    """When the script says the kernel sends this `>` packet, counting a relative time from now
    (the previous event just finished: the fake run is always on time)."""
    time = event.time
    if time.kind is TimeKind.ANY:
        return now_us
    if time.is_relative:
        return now_us + time.start_us
    return max(time.start_us, now_us)


def _direction(event: Event) -> Direction | None:
    action = event.action
    return action.direction if isinstance(action, PacketSpec) else None


def _socket_addresses(config: RunConfig, addresses: Addresses) -> SocketAddresses:
    return SocketAddresses(
        family=addresses.socket_family, local_ip=addresses.bind_ip,
        remote_ip=addresses.connect_ip, bind_port=config.bind_port,
        connect_port=config.connect_port,
    )


def tso_fragments(raw: bytes, split_above: int) -> list[bytes]:
    """``raw`` as two TSO fragments if its TCP payload is longer than ``split_above``: the
    first without PSH or FIN, the second from the middle of the payload on."""
    if len(raw) <= split_above:  # its payload is shorter still: no need to decode it
        return [raw]
    packet = decode_packet(raw)
    tcp = packet.tcp
    if tcp is None or len(tcp.payload) <= split_above:
        return [raw]
    half = len(tcp.payload) // 2
    first = replace(tcp, payload=tcp.payload[:half], checksum=0,
                    flags=tcp.flags & ~(TCP_PSH | TCP_FIN))
    second = replace(tcp, seq=(tcp.seq + half) & 0xFFFFFFFF, payload=tcp.payload[half:],
                     checksum=0)
    return [encode_packet(Packet(packet.ip, first)), encode_packet(Packet(packet.ip, second))]
