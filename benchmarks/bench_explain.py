"""What kernel evidence and explanations add to a run.

    .venv/bin/python benchmarks/bench_explain.py [--runs N]

Runs the TLP/RTO example (tests/kernel/explain_scripts/tlp-then-rto.pkt) with explanations on
and off (``explain=False``, as ``DRILLBOOK_EXPLAIN=0``) and reports, as the wall time of a run
beyond the script's own duration (what a user waits for on top), median of N each way:

1. the **first run of a process**: ``drillbook run --explain x.pkt`` against
   ``drillbook run --no-kernel-events x.pkt``, a fresh interpreter each, through the CLI's
   own ``main`` (the program only wraps the capture's start and completion and
   ``run_script`` to time them). The command prepares its tracefs instance as it starts
   (``evidence.prepare_capture``, before it parses the script), so its run claims a ready
   one; the benchmark counts the runs that did, and also reports the whole command's wall;
2. **later runs, a pause apart** (a notebook's cells): each claims the spare instance that the
   previous run's upkeep prepared (runtime/capture/spare.py);
3. **later runs, back to back** (a suite): N runs on in a row, then N off in a row, so that an
   on run also meets the previous run's upkeep (removal, next spare) in the background.

The wall figures difference two noisy medians (a loaded machine moves them by tens of ms), so
for later runs the benchmark also sums what the capture itself costs on the run's path, per on
run: the capture's start in the caller, the worker's wait before time 0 for the capture to
record, and the caller's work after the worker returned (last drain, attribution,
explanations). That sum leaves out what the kernel's tracefs work in the background takes from
the worker (the wall figures hold it).

Then the parts: the caller's CPU after the worker returned (decoding pages, attribution,
explanations), per run and per captured kernel event (all CPUs' events, the host's included,
since the kernel cannot filter by namespace); the worker's wait before time 0 for the capture;
the worker's per-step cost; and the tracefs steps alone (preparing an instance, claiming it,
removing it), which run beside or between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.runtime.capture import evidence as evidence_module
from drillbook.runtime.capture import session as session_module
from drillbook.runtime.capture.attribute import attribute
from drillbook.runtime.capture.counters import CounterReader
from drillbook.runtime.capture.observer import RunObserver
from drillbook.runtime.capture.ringbuffer import page_spans
from drillbook.runtime.capture.spare import discard_spare, prepare
from drillbook.runtime.capture.tracefs import Instance, tracefs_root
from drillbook.runtime.syscalls.fdtable import FdEntry, FdTable
from drillbook.trace.model import Trace

SCRIPT = Path(__file__).resolve().parents[1] / "tests/kernel/explain_scripts/tlp-then-rto.pkt"
PAUSE_S = 0.5  # between "a pause apart" runs: the previous run's upkeep (~0.1 s) is done

FIRST_RUN = """
import json, sys, time
from drillbook.runtime import api
from drillbook.runtime.capture import evidence, session
spent, runs, captures = {"start": 0.0, "complete": 0.0}, [], []
start, complete, run_script = (
    session.KernelCapture.start, evidence.RunEvidence.complete, api.run_script)
def timed_start(*args):
    begin = time.perf_counter(); capture = start(*args)
    spent["start"] += time.perf_counter() - begin
    captures.append(capture)
    return capture
def timed_complete(self, trace):
    begin = time.perf_counter(); done = complete(self, trace)
    spent["complete"] += time.perf_counter() - begin
    return done
def timed_run(*args, **kwargs):
    begin = time.perf_counter(); trace = run_script(*args, **kwargs)
    runs.append((time.perf_counter() - begin, trace))
    return trace
session.KernelCapture.start = timed_start
evidence.RunEvidence.complete = timed_complete
api.run_script = timed_run  # commands/run.py imports it when it runs the script
from drillbook.cli import main
code = main(sys.argv[1:])  # the command line itself: drillbook run ...
wall, trace = runs[0]
claimed = bool(captures) and captures[0].from_spare
print(json.dumps([code, wall - trace.duration_us / 1e6, trace.sources.arm_wait_us,
                  spent["start"], spent["complete"], claimed]))
"""


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def beyond(script_run: Trace, wall_s: float) -> float:
    return wall_s - script_run.duration_us / 1e6


@dataclass
class First:
    """The one run of fresh ``drillbook run`` processes: wall beyond the script and the whole
    command's wall per mode; what the on runs spent on the capture's own path."""

    found: dict[bool, list[float]]
    commands: dict[bool, list[float]]
    arm_waits_us: list[int]
    start_s: list[float]
    complete_s: list[float]
    claims: int

    def direct_ms(self) -> float:
        return statistics.median(
            (start + wait / 1e6 + done) * 1e3
            for start, wait, done in zip(
                self.start_s, self.arm_waits_us, self.complete_s, strict=True)
        )


FIRST_ARGS = {True: ["run", "--explain"], False: ["run", "--no-kernel-events"]}


def first_runs(runs: int) -> First:
    """``drillbook run --explain x.pkt`` and ``drillbook run --no-kernel-events x.pkt``, one
    fresh interpreter each, through drillbook.cli.main (FIRST_RUN only times its parts)."""
    first = First({True: [], False: []}, {True: [], False: []}, [], [], [], 0)
    for _ in range(runs):
        for explain in (False, True):
            begin = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", FIRST_RUN, *FIRST_ARGS[explain], str(SCRIPT)],
                capture_output=True, text=True, check=True)
            first.commands[explain].append(time.perf_counter() - begin)
            code, wall, arm_wait, start_s, complete_s, claimed = json.loads(
                proc.stdout.strip().splitlines()[-1])
            assert code in (0, 1), proc.stderr  # 1: a timing miss on a loaded machine
            first.found[explain].append(wall)
            if explain:
                first.arm_waits_us.append(arm_wait)
                first.start_s.append(start_s)
                first.complete_s.append(complete_s)
                first.claims += claimed
    return first


class Claims:
    """Watches the on runs' captures: which claimed a prepared spare, and the time the caller
    spends in the capture's start and, after the worker returned, in stop + attribution +
    explanations (RunEvidence.complete)."""

    def __init__(self) -> None:
        self.captures: list[session_module.KernelCapture] = []
        self.start_s: list[float] = []
        self.complete_s: list[float] = []
        self._descriptor = session_module.KernelCapture.__dict__["start"]
        self._start = session_module.KernelCapture.start
        self._complete = evidence_module.RunEvidence.complete

    def __enter__(self) -> Claims:
        start, complete = self._start, self._complete

        def timed_start(*args: Callable[[], object]) -> session_module.KernelCapture:
            begin = time.perf_counter()
            capture = start(*args)
            self.start_s.append(time.perf_counter() - begin)
            self.captures.append(capture)
            return capture

        def timed_complete(evidence: evidence_module.RunEvidence, trace: Trace) -> Trace:
            begin = time.perf_counter()
            done = complete(evidence, trace)
            self.complete_s.append(time.perf_counter() - begin)
            return done

        session_module.KernelCapture.start = timed_start  # type: ignore[method-assign]
        evidence_module.RunEvidence.complete = timed_complete  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        session_module.KernelCapture.start = self._descriptor  # type: ignore[method-assign]
        evidence_module.RunEvidence.complete = self._complete  # type: ignore[method-assign]

    def spare_claims(self) -> int:
        return sum(1 for capture in self.captures if capture.from_spare)


@dataclass
class Later:
    """Later runs of one process: wall beyond the script per mode (in run order), and what
    the on runs spent on the capture's own path."""

    found: dict[bool, list[float]]
    pairs: list[float]  # on minus off, of adjacent runs
    arm_waits_us: list[int]
    start_s: list[float]
    complete_s: list[float]
    claims: int

    def direct_ms(self) -> float:
        """Median of start + arm wait + complete: the added cost the caller and worker spend
        themselves (not the kernel's slowing of the worker, which the wall figure holds)."""
        return statistics.median(
            (start + wait / 1e6 + done) * 1e3
            for start, wait, done in zip(
                self.start_s, self.arm_waits_us, self.complete_s, strict=True)
        )


def later_runs(runs: int, paused: bool) -> Later:
    script = parse_script(SCRIPT.read_text(), str(SCRIPT))
    found: dict[bool, list[float]] = {True: [], False: []}
    arm_waits: list[int] = []
    order = [explain for _ in range(runs) for explain in (False, True)]
    if not paused:  # blocks: N on in a row, then N off in a row
        order = [True] * runs + [False] * runs
    with Claims() as claims:
        for explain in order:
            if paused:
                time.sleep(PAUSE_S)
            begin = time.perf_counter()
            trace = run_script(script, explain=explain)
            found[explain].append(beyond(trace, time.perf_counter() - begin))
            if explain:
                arm_waits.append(trace.sources.arm_wait_us)
    pairs = [on - off for on, off in zip(found[True], found[False], strict=True)]
    return Later(found, pairs, arm_waits, claims.start_s, claims.complete_s,
                 claims.spare_claims())


def caller_work(script_text: str) -> tuple[float, int, int, float]:
    """CPU of the caller after the worker returned, captured events, the run's own events,
    and attribution per captured event (µs)."""
    captured: dict[str, object] = {}
    real_complete = evidence_module.RunEvidence.complete

    def timed_complete(self: evidence_module.RunEvidence, trace: Trace) -> Trace:
        self.stop()
        captured["result"] = self.result
        begin = time.process_time()
        done = real_complete(self, trace)
        captured["cpu"] = time.process_time() - begin
        captured["trace"] = done
        return done

    evidence_module.RunEvidence.complete = timed_complete  # type: ignore[method-assign]
    try:
        run_script(parse_script(script_text, str(SCRIPT)), explain=True)
    finally:
        evidence_module.RunEvidence.complete = real_complete  # type: ignore[method-assign]
    result = captured["result"]
    trace = captured["trace"]
    assert isinstance(result, session_module.CaptureResult) and isinstance(trace, Trace)
    events = sum(len(page_spans(page, result.layout)[0]) for _, page in result.pages)
    cookies = {s.cookie for s in trace.sockets}
    begin = time.process_time()
    for _ in range(20):
        attribute(result.pages, result.layout, result.formats, cookies, trace.started_monotonic_ns)
    per_event_us = (time.process_time() - begin) / 20 / max(events, 1) * 1e6
    cpu = captured["cpu"]
    assert isinstance(cpu, float)
    return cpu, events, len(trace.kernel_events), per_event_us


def tracefs_steps(times: int = 5) -> tuple[float, float, float]:
    """Median ms to prepare an instance, to claim it (tracing on), to remove it."""
    root = tracefs_root()
    made, claimed, removed = [], [], []
    for _ in range(times):
        begin = time.perf_counter()
        spare = prepare(Instance.named(root))
        made.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        spare.instance.record()
        claimed.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        spare.remove()
        removed.append(time.perf_counter() - begin)
    return (statistics.median(made) * 1e3, statistics.median(claimed) * 1e3,
            statistics.median(removed) * 1e3)


def worker_step_costs(times: int = 2000) -> tuple[float, float, float, float]:
    """The capture observer in the worker: µs on a step that changed no fd (most steps), on a
    step that opened a socket (noted only), for the look at the next idle moment that reads
    its cookie, and per counter sample (idle moments ≥ 1.5 ms before the next event only)."""
    table = FdTable()
    observer = RunObserver("", table.entries, lambda: table.version, table.opened_version)
    listener = socket.socket()
    table.add(FdEntry(3, listener.fileno(), "socket"))
    observer.after_step(0, 1, 0)
    observer.idle(0, 0, 1000)
    noted = looked = 0.0
    for index in range(times):
        sock = socket.socket()
        table.add(FdEntry(4, sock.fileno(), "socket"))
        begin = time.perf_counter()
        observer.after_step(index, 2, 0)
        noted += time.perf_counter() - begin
        begin = time.perf_counter()
        observer.idle(index, 0, 1000)
        looked += time.perf_counter() - begin
        observer.before_close(sock.fileno())
        table.close(4, sock.fileno())
        sock.close()
        observer.after_step(index, 3, 0)
    begin = time.perf_counter()
    for index in range(times * 5):
        observer.after_step(index, 4, 0)
    same_us = (time.perf_counter() - begin) / (times * 5) * 1e6
    listener.close()
    reader = CounterReader()
    begin = time.perf_counter()
    for _ in range(200):
        reader.sample(0, 0)
    sample_us = (time.perf_counter() - begin) / 200 * 1e6
    reader.close()
    return same_us, noted / times * 1e6, looked / times * 1e6, sample_us


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f} ms"


def added(found: dict[bool, list[float]]) -> str:
    on, off = statistics.median(found[True]), statistics.median(found[False])
    return f"off {off * 1e3:.1f} ms, on {on * 1e3:.1f} ms: added {(on - off) * 1e3:+.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {load()}; {args.runs} runs each way; script {SCRIPT.name}")
    print("wall time of a run beyond the script's own duration, median:")
    first = first_runs(args.runs)
    print(f"  1. first run of a process (drillbook run --explain x.pkt vs --no-kernel-events): "
          f"{added(first.found)}; {first.claims} of {args.runs} on runs claimed an instance "
          f"prepared at the command's start")
    print(f"     on the capture's own path: start {ms(first.start_s)}, worker's wait before "
          f"time 0 {statistics.median(first.arm_waits_us) / 1e3:.2f} ms (max "
          f"{max(first.arm_waits_us) / 1e3:.2f}), after the worker {ms(first.complete_s)}: "
          f"{first.direct_ms():.2f} ms in all (median)")
    print(f"     the whole command (interpreter start to exit, instance removal included): "
          f"{added(first.commands)}")
    run_script(parse_script(SCRIPT.read_text(), str(SCRIPT)), explain=True)  # warm up
    for label, paused in ((f"2. later runs, {PAUSE_S} s apart", True),
                          ("3. later runs, back to back", False)):
        later = later_runs(args.runs, paused=paused)
        print(f"  {label}: {added(later.found)} (median of on-off pairs "
              f"{statistics.median(later.pairs) * 1e3:+.1f} ms); {later.claims} of {args.runs} "
              f"on runs claimed a spare")
        print(f"     on the capture's own path: start {ms(later.start_s)}, worker's wait before "
              f"time 0 {statistics.median(later.arm_waits_us) / 1e3:.2f} ms (max "
              f"{max(later.arm_waits_us) / 1e3:.2f}), after the worker {ms(later.complete_s)}: "
              f"{later.direct_ms():.2f} ms in all (median)")
    cpu, events, own, per_event_us = caller_work(SCRIPT.read_text())
    print(f"caller CPU after the run (in the added cost above): {cpu * 1e3:.2f} ms for {events} "
          f"captured events, {own} of them this run's; attribution {per_event_us:.2f} µs per "
          f"captured event")
    same_us, noted_us, looked_us, sample_us = worker_step_costs()
    print(f"worker, capture observer per step: {same_us:.2f} µs (no fd changed), "
          f"{noted_us:.2f} µs (a socket opened: noted); at idle moments only (≥ 0.2 ms before "
          f"the next event): {looked_us:.1f} µs to read a new socket's cookie, and (≥ 1.5 ms) "
          f"{sample_us:.0f} µs per counter sample (/proc/net/netstat + snmp)")
    discard_spare()
    made, claimed, removed = tracefs_steps()
    print(f"tracefs alone (beside or between runs, not on the run's path once a spare exists): "
          f"prepare an instance {made:.1f} ms, claim it (tracing on) {claimed:.2f} ms, "
          f"remove it {removed:.1f} ms")
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
