"""The per-packet hot path of a real run, in µs (target: median ≤ 50 µs).

    .venv/bin/python benchmarks/bench_hotpath.py [ROUNDS] [--profile]

A worker (fresh namespace, real kernel) runs a data-transfer script: after the handshake, ROUNDS
times ``write`` 1000 bytes, expect the data segment, inject the peer's ACK. The run is the
ordinary driver; only the four hot-path calls are wrapped with timers:

- inbound = build or patch the packet (``PacketEngine.prepare_inbound``) + write it to tun0
  (``Sandbox.inject``);
- outbound = read the frame (``Sandbox.read_outbound``, timed once the frame is waiting, so the
  kernel's own latency is not counted) + decode and match it (``OutboundMatcher.feed``).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import select
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PROFILE_ENV = "DRILLBOOK_BENCH_PROFILE"  # set (or pass --profile): cProfile the timed calls
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent)]

# The machine is shared: a wide tolerance keeps the run going under load (we time, not judge).
TOLERANCE_US = 1_000_000
HEADER = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1000,nop,nop,sackOK,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <...>
+0 < . 1:1(0) ack 1 win 2000
+0 accept(3, ..., ...) = 4
"""
ROUND = """\
+0 write(4, ..., 1000) = 1000
+0 > P. {start}:{end}(1000) ack 1
+0 < . 1:1(0) ack {end} win 2000
"""


def script_text(rounds: int) -> str:
    body = "".join(ROUND.format(start=1 + 1000 * i, end=1 + 1000 * (i + 1))
                   for i in range(rounds))
    return HEADER + body


def _timed(function: Callable[..., Any], sink: list[tuple[int, int]],
           profiler: cProfile.Profile | None = None) -> Callable[..., Any]:
    """Wrap *function*: append (wall ns, this thread's CPU ns) per call to *sink*; with a
    profiler, profile only inside the call (the hot path, not the whole run)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if profiler:
            profiler.enable()
        start, cpu = time.perf_counter_ns(), time.thread_time_ns()
        try:
            return function(*args, **kwargs)
        finally:
            sink.append((time.perf_counter_ns() - start, time.thread_time_ns() - cpu))
            if profiler:
                profiler.disable()
    return wrapper


def entry(sandbox: Any, request: Any) -> dict[str, Any]:
    """Worker entry: run the script with the hot-path calls timed; return the samples in ns."""
    from drillbook.parser import parse_script
    from drillbook.runtime.loop.driver import RunOptions, ScriptRun
    from drillbook.runtime.workers.entry import _EphemeralPorts

    config = request.run_config
    samples: dict[str, list[tuple[int, int]]] = {"build": [], "write": [], "read": [], "match": []}
    script = parse_script(request.script_text, request.script_path, config)
    ports = _EphemeralPorts(sandbox.addresses.socket_family)
    profiler = cProfile.Profile() if PROFILE_ENV in os.environ else None
    read = sandbox.read_outbound
    timed_read = _timed(read, samples["read"], profiler)

    def read_when_waiting(timeout_s: float) -> Any:
        # Wait (untimed) until the frame is there: the kernel's latency is not ours.
        if not select.select([sandbox], [], [], timeout_s)[0]:
            return read(0.0)
        return timed_read(0.0)

    sandbox.inject = _timed(sandbox.inject, samples["write"], profiler)
    sandbox.read_outbound = read_when_waiting
    try:
        run = ScriptRun.in_sandbox(script, config, sandbox, RunOptions(), ports.next)
        engine = run.state.interpreter.packets
        engine.prepare_inbound = _timed(engine.prepare_inbound, samples["build"],  # type: ignore[method-assign]
                                        profiler)
        begin = engine.begin_outbound

        def begin_timed(*args: Any) -> Any:
            matcher = begin(*args)
            if hasattr(matcher, "feed"):
                matcher.feed = _timed(matcher.feed, samples["match"], profiler)
            return matcher

        engine.begin_outbound = begin_timed  # type: ignore[method-assign]
        trace = run.run()
    finally:
        ports.close()
    failure = trace.failure.render() if trace.failure else None
    return {"samples": samples, "failure": failure, "profile": _top(profiler)}


def _top(profiler: cProfile.Profile | None, limit: int = 25) -> str:
    """The functions with the most own time, to show where the hot path goes."""
    if profiler is None:
        return ""
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    from drillbook.config import RunConfig
    from drillbook.runtime.workers.client import run_in_worker
    from drillbook.runtime.workers.request import WorkerRequest, config_to_dict

    args = [arg for arg in sys.argv[1:] if arg != "--profile"]
    if "--profile" in sys.argv:
        os.environ[PROFILE_ENV] = "1"
    rounds = int(args[0]) if args else 200
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(HERE.parent),
                                                             os.environ.get("PYTHONPATH"))))
    request = WorkerRequest(script_text=script_text(rounds), script_path="hotpath.pkt",
                            cwd="/", config=config_to_dict(RunConfig(tolerance_usecs=TOLERANCE_US)),
                            entry="bench_hotpath:entry")
    reply = run_in_worker(request, timeout_s=120)
    reply.raise_for_error()
    assert reply.result is not None
    if reply.result["failure"]:
        print("the run failed (figures still shown):", reply.result["failure"])
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {rounds} rounds")
    for column, label in ((0, "wall time"), (1, "CPU time of the driver thread")):
        us = {name: [pair[column] / 1000 for pair in values]
              for name, values in reply.result["samples"].items()}
        inbound = [b + w for b, w in zip(us["build"], us["write"], strict=False)]
        outbound = [r + m for r, m in zip(us["read"], us["match"], strict=False)]
        print(f"-- {label}")
        for name, values in (("inbound build+write", inbound), ("  build", us["build"]),
                             ("  write", us["write"]), ("outbound read+decode+match", outbound),
                             ("  read", us["read"]), ("  decode+match", us["match"])):
            print(f"{name:<28} median {statistics.median(values):7.1f} us   "
                  f"p90 {_pct(values, 0.9):7.1f} us   n={len(values)}")
    if reply.result.get("profile"):
        print(reply.result["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
