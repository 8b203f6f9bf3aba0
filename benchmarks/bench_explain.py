"""What kernel evidence and explanations add to a run.

    .venv/bin/python benchmarks/bench_explain.py [--runs N]

Runs the TLP/RTO example (tests/kernel/explain_scripts/tlp-then-rto.pkt) N times with
explanations on and N times off (DRILLBOOK_EXPLAIN=0 path: ``explain=False``) and reports:
- the wall time per run beyond the script's own duration, both ways (median), and the
  difference: what a user waits for on top;
- the caller's CPU time spent after the worker returned (decoding pages, attribution,
  explanations), per run and per captured kernel event (all CPUs' events, the host's
  included, since the kernel cannot filter by namespace);
- the instance's set-up and removal, which run on the capture thread beside the worker.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.runtime.capture import evidence as evidence_module
from drillbook.runtime.capture.attribute import attribute
from drillbook.runtime.capture.counters import CounterReader
from drillbook.runtime.capture.observer import RunObserver
from drillbook.runtime.capture.ringbuffer import page_spans
from drillbook.runtime.capture.session import KernelCapture, wait_for_removals
from drillbook.runtime.syscalls.fdtable import FdEntry

SCRIPT = Path(__file__).resolve().parents[1] / "tests/kernel/explain_scripts/tlp-then-rto.pkt"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    script = parse_script(SCRIPT.read_text(), str(SCRIPT))
    run_script(script, explain=False)  # warm the zygote
    overhead: dict[bool, list[float]] = {True: [], False: []}
    arm_waits = []
    for _ in range(args.runs):
        for explain in (False, True):
            start = time.perf_counter()
            trace = run_script(script, explain=explain)
            wall = time.perf_counter() - start
            overhead[explain].append(wall - trace.duration_us / 1e6)
            if explain:
                arm_waits.append(trace.sources.arm_wait_us)
    # The caller's work after the run, measured on a capture of one more run.
    captured: dict[str, object] = {}
    real_complete = evidence_module.RunEvidence.complete

    def timed_complete(self: evidence_module.RunEvidence, trace: object) -> object:
        self.stop()
        assert self.result is not None
        captured["result"] = self.result
        begin = time.process_time()
        done = real_complete(self, trace)  # type: ignore[arg-type]
        captured["cpu"] = time.process_time() - begin
        captured["trace"] = done
        return done

    evidence_module.RunEvidence.complete = timed_complete  # type: ignore[method-assign]
    run_script(script, explain=True)
    evidence_module.RunEvidence.complete = real_complete  # type: ignore[method-assign]
    result = captured["result"]
    trace = captured["trace"]
    pages = result.pages  # type: ignore[attr-defined]
    layout = result.layout  # type: ignore[attr-defined]
    events = sum(len(page_spans(page, layout)[0]) for _, page in pages)
    cookies = {s.cookie for s in trace.sockets}  # type: ignore[attr-defined]
    begin = time.process_time()
    for _ in range(20):
        attribute(pages, layout, result.formats, cookies,  # type: ignore[attr-defined]
                  trace.started_monotonic_ns)  # type: ignore[attr-defined]
    per_event_us = (time.process_time() - begin) / 20 / max(events, 1) * 1e6
    # Set-up and removal of an instance, alone.
    setup, removal, removal_done = [], [], []
    for _ in range(3):
        begin = time.perf_counter()
        capture = KernelCapture.start()
        while capture.instance is not None and not capture.result.armed and not capture.result.note:
            time.sleep(0.001)
        setup.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        capture.stop()
        removal.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        wait_for_removals()
        removal_done.append(time.perf_counter() - begin)
    # The worker's side, always on (rootless too): a counter sample (taken only at idle moments)
    # and the per-step look for new sockets (on every step).
    reader = CounterReader()
    begin = time.perf_counter()
    for _ in range(200):
        reader.sample(0, 0)
    sample_us = (time.perf_counter() - begin) / 200 * 1e6
    reader.close()
    sockets = [socket.socket() for _ in range(3)]
    entries = [FdEntry(3 + i, s.fileno(), "socket") for i, s in enumerate(sockets)]
    observer = RunObserver("", lambda: entries, lambda: 1)
    observer.after_step(0, 1, 0)
    begin = time.perf_counter()
    for index in range(1000):
        observer.after_step(index, 1, 0)
    step_us = (time.perf_counter() - begin) / 1000 * 1e6
    for s in sockets:
        s.close()
    on, off = statistics.median(overhead[True]), statistics.median(overhead[False])
    print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} runs each way")
    print(f"wall beyond the script: explanations off {off*1e3:.1f} ms, on {on*1e3:.1f} ms, "
          f"added {(on-off)*1e3:+.1f} ms (median)")
    print(f"caller CPU after the run: {captured['cpu']*1e3:.2f} ms for {events} captured events, "
          f"{len(trace.kernel_events)} of them this run's; "  # type: ignore[attr-defined]
          f"attribution {per_event_us:.2f} µs per captured event")
    print(f"worker, every step: {step_us:.2f} µs (has an fd opened or closed?); at idle "
          f"moments only: {sample_us:.0f} µs per counter sample (/proc/net/netstat + snmp)")
    print(f"worker's wait before time 0 for the capture to be armed: median "
          f"{statistics.median(arm_waits)/1e3:.1f} ms, max {max(arm_waits)/1e3:.1f} ms")
    print(f"instance set-up (on the capture thread, beside the worker's start) "
          f"{statistics.median(setup)*1e3:.1f} ms; stop() returns after "
          f"{statistics.median(removal)*1e3:.1f} ms, the removal thread ends "
          f"{statistics.median(removal_done)*1e3:.1f} ms later")
    return 0


if __name__ == "__main__":
    sys.exit(main())
