"""The function the worker process calls inside its sandbox: parse, run, return the trace."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from typing import Any

from drillbook.parser import parse_script
from drillbook.runtime.driver import RunOptions, ScriptRun
from drillbook.runtime.sandbox import Sandbox
from drillbook.runtime.worker import WorkerRequest


def drive(sandbox: Sandbox, request: WorkerRequest) -> dict[str, Any]:
    config = request.run_config
    extra = dict(config.extra)
    options = RunOptions(
        explore=extra.get("explore") == "1",
        explore_grace_us=int(extra.get("explore_grace_us", "300000")),
    )
    script = parse_script(request.script_text, request.script_path, config)
    _realtime_priority()
    ports = _EphemeralPorts(sandbox.addresses.socket_family)
    try:
        run = ScriptRun(script, config, sandbox, options, ports.next)
        trace = run.run()
    finally:
        ports.close()
    from drillbook.trace.codec import trace_to_json

    result: dict[str, Any] = json.loads(trace_to_json(trace))
    return result


def _realtime_priority() -> None:
    """Run at the lowest real-time priority, as packetdrill does when there is more than one
    CPU: a busy machine then cannot delay an injection or a sniffed packet by a time slice."""
    if (os.cpu_count() or 1) < 2:
        return
    # Not permitted (no CAP_SYS_NICE): run at normal priority, as packetdrill would.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(
            0, os.SCHED_RR, os.sched_param(os.sched_get_priority_min(os.SCHED_RR))
        )


class _EphemeralPorts:
    """Remote ports for injected connections, reserved by binding and listening on port 0 in
    the namespace, as packetdrill does: each run's 4-tuple is then unique."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.sockets: list[socket.socket] = []

    def next(self) -> int:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.bind(("", 0))
        sock.listen(1)
        self.sockets.append(sock)
        return int(sock.getsockname()[1])

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
