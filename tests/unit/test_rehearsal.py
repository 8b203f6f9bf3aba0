"""The rehearsal before time 0 walks a script's code paths without touching the kernel or the
run's own state (drillbook/runtime/loop/rehearsal.py)."""

from __future__ import annotations

import os
import socket

from seed_scripts import HANDSHAKE

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.loop.rehearsal import RehearsalContext, rehearse
from drillbook.runtime.syscalls.context import SocketAddresses
from drillbook.runtime.syscalls.executor import SyscallExecutor
from drillbook.script.model import SyscallSpec


class Addresses:
    wire_family = socket.AF_INET
    local_ip = "192.168.0.1"
    remote_ip = "192.0.2.1"


def _executor(config: RunConfig) -> SyscallExecutor:
    addresses = SocketAddresses(socket.AF_INET, "192.168.0.1", "192.0.2.1", 8080, 8080)
    return SyscallExecutor(config, addresses, lambda: 0)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_rehearsal_leaves_the_kernel_and_the_run_untouched() -> None:
    config = RunConfig()
    script = parse_script(HANDSHAKE, "handshake.pkt", config)
    executor = _executor(config)
    before = _open_fds()
    rehearse(script.events, executor, config, Addresses())
    # No socket was made, bound, accepted or closed for real...
    assert _open_fds() == before
    # ...and the run's own fd table saw nothing (the rehearsal keeps a scratch one).
    assert executor.fd_entry(3) is None and executor.fd_entry(4) is None


def test_rehearsal_evaluates_every_syscall_once_for_the_run() -> None:
    config = RunConfig()
    script = parse_script(HANDSHAKE, "handshake.pkt", config)
    executor = _executor(config)
    rehearse(script.events, executor, config, Addresses())
    specs = [e.action for e in script.events if isinstance(e.action, SyscallSpec)]
    assert specs
    for spec in specs:
        first = executor.evaluated_arguments(spec)
        assert executor.evaluated_arguments(spec) is first


def test_a_rehearsed_call_returns_the_script_result_without_the_kernel() -> None:
    config = RunConfig()
    script = parse_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 7\n", "s.pkt", config)
    spec = script.events[0].action
    assert isinstance(spec, SyscallSpec)
    executor = _executor(config)
    args = executor.evaluated_arguments(spec)
    assert not isinstance(args, Exception)
    context = RehearsalContext(executor.runtime, spec, args)
    before = _open_fds()
    assert context.call(executor.runtime.libc.socket, socket.AF_INET, socket.SOCK_STREAM, 0) == 7
    assert _open_fds() == before


def test_a_script_that_cannot_run_rehearses_without_raising() -> None:
    config = RunConfig()
    text = (
        "0 close(9) = 0\n"  # no such fd
        "+0 < . 1:1(0) ack 1 win 100\n"  # no socket yet
        "+0 > S. 0:0(0) ack 1\n"
        "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
    )
    script = parse_script(text, "bad.pkt", config)
    rehearse(script.events, _executor(config), config, Addresses())
