"""The driver: runs one parsed script over a device, a clock and a syscall host, and returns its
Trace.

Theory of operation (packetdrill's run.c, run_packet.c, run_system_call.c):

- The decisions are the interpreter's (``drillbook/engine/interpreter.py``): when each event
  happens (anchoring of relative times, order), whether it was on time (tolerance), what a
  mismatch means (failure, ``--non_fatal``, explore mode), and what comes next. This loop asks
  it for an action, performs it over the injected :class:`Device`, :class:`Clock` and
  :class:`SyscallHost` (``ports.py``), hands back what it observed and records the step
  report it gets. It never decides; it waits, writes, reads and calls.
- The parts share one :class:`RunState` (``state.py``): :class:`PacketIO` injects and awaits
  packets (writing a `+0` answer the moment the packet it answers arrives, then matching),
  :class:`CallIO` makes calls (a `...` call on the blocking-call thread, ``blocking.py``,
  unless its data is already queued, ``syscalls/readiness.py``), :class:`CommandIO` runs
  shell commands and %{ }% snapshots.
- Before time 0 the init command runs, and every event's code path is rehearsed on scratch
  state (``rehearsal.py``); time 0 starts just after a clock tick. In a run against the real
  kernel, the loop's part of that rehearsal is walked again before an event that ends a long
  wait, which lets the caches go cold (``rewarm.py``).
- The first failure ends the run: only the cleanup command then runs. On success: cleanup
  command, then the deferred %{ }% code, then RSTs for the connection under test.
- Observers (:class:`RunObserver`, ``ports.py``): kernel-event capture and counter snapshots
  (``runtime/capture/observer.py``) hook in here. Each hears ``before_time_zero`` after the
  init command, ``time_zero`` as the clock starts, ``after_step`` after every recorded step
  (after its I/O and TCP_INFO read: never between a packet's arrival and the answer to it; a
  blocking call's step is reported from the blocking-call thread), ``idle`` before each wait
  (before an inbound packet's, a call's, a command's or snapshot's time, and before an await
  that has no early answer), ``script_done`` when the last event ran or one failed (before
  the end-of-run RSTs), and ``finish`` before the trace is built.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from drillbook.config import RunConfig
from drillbook.engine.actions import (
    AwaitPacket,
    Call,
    Finish,
    Inject,
    Record,
    RunFailure,
    RunShell,
    Snapshot,
    Stop,
)
from drillbook.engine.expected import expected_tcp
from drillbook.engine.interpreter import Interpreter, RunOptions
from drillbook.engine.packets import PacketEngine
from drillbook.engine.records import lazy_script_record as script_record
from drillbook.engine.records import materialize
from drillbook.runtime.capture.observer import RunObserver as CaptureObserver
from drillbook.runtime.capture.observer import socket_cookie
from drillbook.runtime.loop.call_io import CallIO
from drillbook.runtime.loop.clock import RunClock
from drillbook.runtime.loop.code import code_error
from drillbook.runtime.loop.command_io import CommandIO
from drillbook.runtime.loop.deadline import WorkerTimeout
from drillbook.runtime.loop.fake_kernel import FakeKernel
from drillbook.runtime.loop.kernel import KernelSyscalls
from drillbook.runtime.loop.loop_rehearsal import rehearse_loop
from drillbook.runtime.loop.packet_io import PacketIO
from drillbook.runtime.loop.ports import Clock, Device, RunAddresses, RunObserver, SyscallHost
from drillbook.runtime.loop.recorder import TraceRecorder
from drillbook.runtime.loop.rewarm import Rewarm, WalkDeadline
from drillbook.runtime.loop.state import EventFailure, RunState
from drillbook.runtime.sandbox.tun import Sandbox
from drillbook.runtime.syscalls.context import SocketAddresses
from drillbook.runtime.syscalls.tcpinfo import SockoptReadError
from drillbook.script.model import PacketSpec, Script, SyscallSpec, TcpSpec
from drillbook.trace.model import FailureKind, Trace

__all__ = ["EventFailure", "RunOptions", "ScriptRun"]

DEFAULT_OPTIONS = RunOptions()


class ScriptRun:
    """One run of one script over one device, clock and syscall host."""

    def __init__(
        self,
        script: Script,
        config: RunConfig,
        device: Device,
        clock: Clock,
        syscalls: SyscallHost,
        addresses: RunAddresses,
        options: RunOptions = DEFAULT_OPTIONS,
        ephemeral_port: Callable[[], int] = lambda: 0,
        observers: Sequence[RunObserver] = (),
        capture: CaptureObserver | None = None,
        rewarm: bool = False,
    ) -> None:
        """``addresses``: the run's wire addresses (``sandbox.addresses``: local_ip,
        remote_ip, wire_family, socket_family). ``capture``: the kernel-evidence observer
        whose evidence goes into the trace (it is one of the observers too). ``rewarm``:
        walk the rehearsal again before an event that ends a long wait (``rewarm.py``)."""
        packets = PacketEngine(config, addresses, ephemeral_port)
        syscalls.listen(packets.on_socket_event)  # at once: a blocking connect's SYN
        self.addresses = addresses
        self.options = options
        self.state = RunState(
            script, config, Interpreter(script, config, packets, options), device, clock,
            syscalls, TraceRecorder(script, config, addresses),
            (*observers, capture) if capture is not None else tuple(observers),
        )
        self.capture = capture
        self.rewarm = rewarm
        self.packets = PacketIO(self.state)
        self.calls = CallIO(self.state)
        self.commands = CommandIO(self.state)

    @classmethod
    def in_sandbox(
        cls,
        script: Script,
        config: RunConfig,
        sandbox: Sandbox,
        options: RunOptions = DEFAULT_OPTIONS,
        ephemeral_port: Callable[[], int] = lambda: 0,
        observers: Sequence[RunObserver] = (),
        capture_instance: str = "",
    ) -> ScriptRun:
        """A run against the real kernel: the sandbox's TUN device, the wall clock and the
        syscall executor. ``capture_instance``: the caller's tracefs instance folder, which the
        run waits for before time 0 ("" without a capture)."""
        addresses = sandbox.addresses
        clock = RunClock()
        kernel = KernelSyscalls(
            config,
            SocketAddresses(
                family=addresses.socket_family, local_ip=addresses.bind_ip,
                remote_ip=addresses.connect_ip, bind_port=config.bind_port,
                connect_port=config.connect_port,
            ),
            addresses, clock.now_us,
        )
        # Kernel evidence (runtime/capture/observer.py): cookies, counters, the capture's gate.
        capture = CaptureObserver(
            capture_instance,
            kernel.executor.fd_entries,
            kernel.executor.fd_version,
            kernel.executor.fd_opened,
        )
        kernel.executor.on_closing(capture.before_close)
        return cls(script, config, sandbox, clock, kernel, addresses, options, ephemeral_port,
                   observers, capture, rewarm=True)

    def run(self) -> Trace:
        # A collection of the older generations can stall for milliseconds: none during a run.
        gc.disable()
        try:
            return self._run()
        finally:
            gc.enable()

    def _warm_up(self) -> None:
        """Before time 0, walk the hot paths once: the first call of a function in a freshly
        forked worker pays for page faults and specialisation, which must not land on an
        event's clock."""
        state = self.state
        walk_started = time.perf_counter_ns()
        rehearse_loop(state.script, state.config, self._walk_fake)
        if self.rewarm:
            walk_us = (time.perf_counter_ns() - walk_started) // 1000
            state.rewarm = Rewarm(state.clock, self._walk_again, walk_us)
        for event in state.script.events:
            action = event.action
            if isinstance(action, PacketSpec) and isinstance(action.body, TcpSpec):
                expected_tcp(action.body)
                materialize(script_record(action, action.direction.value, 0))
        state.interpreter.packets.warm_up()
        state.syscalls.rehearse(state.script.events)
        family = self.addresses.socket_family
        # The socket reads of a TCP_INFO step and of a %{ }% block, on a throwaway socket (the
        # first %{ }% read took ~190 µs in a fresh worker, ~10 µs after).
        # The capture observer's cookie read too: its first one took ~200 µs at the first
        # socket() of the script.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            state.syscalls.tcp_info_bytes(probe.fileno())
            with contextlib.suppress(SockoptReadError):
                state.syscalls.code_snapshot(probe.fileno())
            if self.capture is not None:
                socket_cookie(probe.fileno())
        state.clock.now_us()

    def _walk_fake(self, script: Script, kernel: FakeKernel,
                   observers: Sequence[RunObserver] = ()) -> None:
        """The loop's events of ``script`` over the fake ``kernel`` (loop_rehearsal.py)."""
        # Explore mode: a packet the fake kernel gets wrong is a warning, and the walk goes on.
        options = replace(self.options, explore=True, explore_grace_us=0)
        fake = ScriptRun(script, self.state.config, kernel.device, kernel.clock,
                         kernel.syscalls, kernel.addresses, options, kernel.ephemeral_port,
                         observers)
        try:
            fake.state.clock.start()
            fake._run_events()
        finally:
            fake._shutdown()

    def _walk_again(self, deadline: WalkDeadline) -> None:
        """The rehearsal's walk once more, mid-run, stopped at ``deadline`` (rewarm.py)."""
        # A walk leaves ~350 objects (~64 kB) in reference cycles, and the collector is off
        # during a run: collect the young generation first (40-90 µs here), so that walks
        # before hundreds of long waits do not pile up.
        gc.collect(0)
        state = self.state
        rehearse_loop(state.script, state.config,
                      lambda script, kernel: self._walk_fake(script, kernel, (deadline,)))

    def _run(self) -> Trace:
        state = self.state
        self._warm_up()
        if any(isinstance(e.action, SyscallSpec) and e.action.is_blocking
               for e in state.script.events):
            self.calls.start_thread()  # ready before time 0, not created mid-script
        try:
            self.commands.init()
            for observer in state.observers:
                observer.before_time_zero()
            state.clock.start()
            for observer in state.observers:
                observer.time_zero(state.clock.start_ns)
            state.recorder.started_at = state.clock.started_at
            self._run_events()
            self._finish_success()
        except EventFailure as failed:
            with contextlib.suppress(EventFailure):
                state.flush()
            for report in state.interpreter.early_answers_not_run():
                state.not_run(report)
            state.end_script()
            failure = failed.failure
            state.recorder.fail(failure.kind, failure.line, failure.message, failure.details,
                                failure.field_name)
            self.commands.cleanup(after_failure=True)
        except WorkerTimeout:
            state.deferred.clear()
            # The caller's time limit: return what happened so far (RunAborted carries it).
            state.recorder.fail(FailureKind.RUNTIME, state.interpreter.current_line,
                                "runtime error: the run exceeded its time limit", (), None)
        finally:
            if not state.reset_sent:
                self.packets.drain()
            self._shutdown()
        state.recorder.duration_us = state.clock.now_us()
        for observer in state.observers:
            observer.finish(state.last_step_index, state.recorder.duration_us)
        if self.capture is not None:
            state.recorder.evidence(self.capture.evidence())
        return state.recorder.build(output="\n".join(state.verbose))

    def _run_events(self) -> None:
        state = self.state
        interpreter = state.interpreter
        while True:
            state.raise_async_failure()
            action = interpreter.next_action(state.clock.now_us())
            if self.packets.holds_bookkeeping(action):
                pass  # a burst's next packet: written first, the bookkeeping after it
            elif not isinstance(action, AwaitPacket) or action.answer is None:
                state.flush()  # an await with an answer flushes once the answer is written
            if isinstance(action, Inject):
                self.packets.inject(action)
            elif isinstance(action, AwaitPacket):
                self.packets.await_packet(action)
            elif isinstance(action, Call):
                self.calls.call(action)
            elif isinstance(action, RunShell):
                self.commands.run_shell(action)
            elif isinstance(action, Snapshot):
                self.commands.snapshot(action)
            elif isinstance(action, Record):
                state.packet(action.packet, "inbound injected")
                state.record(action.report)
            elif isinstance(action, Stop):
                raise EventFailure(action.failure)
            else:
                assert isinstance(action, Finish)
                return

    def _finish_success(self) -> None:
        """packetdrill's end of run: cleanup command, code, then the syscall thread is stopped
        (a call still blocked after 1 s fails the run), then RSTs. A blocking call's own failure
        ends the run as soon as the call returns, as the C thread's die() does."""
        state = self.state
        state.raise_async_failure()
        if self.options.explore and self.options.explore_grace_us > 0:
            self.packets.sniff_for(self.options.explore_grace_us)
        self.commands.cleanup()
        self.calls.settle()
        if state.code.has_blocks:
            result = state.code.run(state.script.path, state.config.code_command, timeout_s=60.0)
            if state.blocking is not None:
                state.blocking.interrupt()
            if result.output:
                state.verbose.append(result.output)
                state.recorder.command_output(result.output)
            if not result.ok:
                # packetdrill dies on the failed code at once, before a blocking call that the
                # interpreter's exit interrupted can report anything.
                line, message, details = code_error(result.error or "error in Python code")
                raise EventFailure(RunFailure(FailureKind.CODE, line, message, details))
            self.calls.settle()
        if state.blocking is not None and not state.blocking.await_idle():
            busy = state.blocking.busy
            raise EventFailure(RunFailure(
                FailureKind.SYSCALL, busy.line if busy else 0,
                "runtime error: exiting while a blocking system call is in progress",
            ))
        state.raise_async_failure()
        # What the kernel sent that no line read belongs in the trace; its answers to the RSTs
        # below (challenge ACKs) do not.
        self.packets.drain()
        state.reset_sent = True
        state.end_script()  # what follows, no line caused
        for packet in state.interpreter.packets.reset_packets():
            state.device.inject(packet)

    def _shutdown(self) -> None:
        state = self.state
        if state.blocking is not None:
            state.blocking.stop()
        state.syscalls.close_all()
