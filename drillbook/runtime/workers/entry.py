"""The function the worker process calls inside its sandbox: parse, run, return the trace."""

from __future__ import annotations

import json
import socket
from typing import Any

from drillbook.parser import parse_script
from drillbook.runtime.loop.driver import RunOptions, ScriptRun
from drillbook.runtime.sandbox.tun import Sandbox
from drillbook.runtime.workers.priority import RealtimeWhileTimed
from drillbook.runtime.workers.request import WorkerRequest
from drillbook.script.model import Direction, PacketSpec, Script, TcpSpec


def drive(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    config = request.run_config
    options = RunOptions(explore=request.explore, explore_grace_us=request.explore_grace_us)
    script = parse_script(request.script_text, request.script_path, config)
    ports = _EphemeralPorts(sandbox.addresses.socket_family)
    ports.reserve(min(_inbound_syns(script), MAX_PORTS_AHEAD))
    priority = RealtimeWhileTimed()
    try:
        run = ScriptRun.in_sandbox(
            script, config, sandbox, options, ports.next, observers=(priority,),
            capture_instance=request.capture_instance,
        )
        trace = run.run()
    finally:
        priority.drop()  # also when the run raised before its end
        ports.close()
    from drillbook.trace.codec import trace_to_json

    result: dict[str, Any] = json.loads(trace_to_json(trace))
    return result


MAX_PORTS_AHEAD = 16


def _inbound_syns(script: Script) -> int:
    """How many inbound SYNs (each may open a connection) the script has."""
    return sum(
        1
        for event in script.events
        if isinstance(event.action, PacketSpec)
        and event.action.direction is Direction.INBOUND
        and isinstance(event.action.body, TcpSpec)
        and "S" in event.action.body.flags
        and "." not in event.action.body.flags
    )


class _EphemeralPorts:
    """Remote ports for injected connections, reserved by binding and listening on port 0 in
    the namespace, as packetdrill does: each run's 4-tuple is then unique.

    The ports a script will need are reserved before time 0 (three syscalls each, ~50 µs
    here, which would otherwise delay the SYN that opens a connection)."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.sockets: list[socket.socket] = []
        self.ahead: list[int] = []

    def reserve(self, count: int) -> None:
        self.ahead.extend(self._reserve() for _ in range(count))

    def next(self) -> int:
        return self.ahead.pop(0) if self.ahead else self._reserve()

    def _reserve(self) -> int:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.bind(("", 0))
        sock.listen(1)
        self.sockets.append(sock)
        return int(sock.getsockname()[1])

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
