"""Timing precision of the engine, against the C packetdrill's figures on this kind of machine.

Runs two corpus scripts ten times each with a tolerance far tighter than packetdrill's default
(`--tolerance_percent=0`; 500 µs for fr-4pkt-sack-linux, 1000 µs for blocking-read) and
reports how many runs pass, then p50/p99 of (actual - scheduled) for packet injections and
for blocking-call returns, taken from the runs' traces.

    .venv/bin/python benchmarks/bench_timing.py [--runs 10] [--corpus ../shared/corpus]
        [--packetdrill /path/to/packetdrill]

C packetdrill here (../shared/corpus/README.md): 10/10 and 10/10; injections ~100-150 µs late,
blocking calls returning ~550 µs late. With ``--packetdrill`` (or $DRILLBOOK_PACKETDRILL), a C
binary built from upstream's sources outside the project, the same runs are made with it too,
each in a fresh network namespace (``unshare -n``), one before each drillbook run (so both
see the same load), and its pass count is printed beside drillbook's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
from pathlib import Path

from drillbook.commands.run import load
from drillbook.config import UPSTREAM_COMMON_FLAGS, UPSTREAM_MODE_FLAGS, IpMode
from drillbook.options import parse_argv
from drillbook.runtime.api import run_script
from drillbook.trace.model import Outcome, StepKind, Trace

C_REFERENCE_SOURCE = "../shared/corpus/README.md"
C_REFERENCE = "injections ~100-150 µs late, blocking returns ~550 µs late"

CASES = (
    ("packetdrill/tests/linux/fast_retransmit/fr-4pkt-sack-linux.pkt", 500),
    ("tcp/blocking/blocking-read.pkt", 1000),
)


def percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return float(ordered[index])


def lateness(trace: Trace) -> tuple[list[int], list[int]]:
    """(injection lateness, blocking-return lateness) in µs, from one trace."""
    injections, returns = [], []
    for step in trace.steps:
        if step.outcome is not Outcome.OK or step.actual_us is None or step.scheduled_us is None:
            continue
        if step.kind is StepKind.INBOUND:
            injections.append(step.actual_us - step.scheduled_us)
        call = step.syscall
        if (call is not None and call.blocking and call.return_us is not None
                and step.end_scheduled_us is not None):
            returns.append(call.return_us - step.end_scheduled_us)
    return injections, returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--corpus", default=os.environ.get(
        "DRILLBOOK_CORPUS", str(Path(__file__).resolve().parents[2] / "shared" / "corpus")))
    parser.add_argument("--packetdrill", default=os.environ.get("DRILLBOOK_PACKETDRILL"),
                        help="a C packetdrill binary to run the same cases with")
    args = parser.parse_args()
    base = Path(args.corpus) / "gtests-net"
    for relative, tolerance in CASES:
        path = str(base / relative)
        flags = [*UPSTREAM_MODE_FLAGS[IpMode.IPV4], *UPSTREAM_COMMON_FLAGS,
                 f"--tolerance_usecs={tolerance}", "--tolerance_percent=0"]
        script, config = load(path, parse_argv(flags))
        passed = c_passed = 0
        injections: list[int] = []
        returns: list[int] = []
        failures: list[str] = []
        for _ in range(args.runs):
            # Interleaved: each drillbook run beside a C run, so that both see the same load.
            if args.packetdrill:
                c_passed += c_packetdrill_passes(args.packetdrill, path, flags)
            trace = run_script(script, config)
            passed += trace.passed
            if trace.failure is not None:
                failures.append(trace.failure.render().splitlines()[0])
            late_in, late_ret = lateness(trace)
            injections += late_in
            returns += late_ret
        print(f"{relative} at --tolerance_usecs={tolerance} --tolerance_percent=0: "
              f"{passed}/{args.runs} passed")
        if injections:
            print(f"  injections   (n={len(injections)}): p50 {percentile(injections, .5):.0f} µs,"
                  f" p99 {percentile(injections, .99):.0f} µs late;"
                  f" mean {statistics.mean(injections):.0f} µs")
        if returns:
            print(f"  blocking returns (n={len(returns)}): p50 {percentile(returns, .5):.0f} µs,"
                  f" p99 {percentile(returns, .99):.0f} µs late")
        print(f"  C packetdrill here ({C_REFERENCE_SOURCE}): {C_REFERENCE}")
        for line in failures[:3]:
            print(f"  failed: {line}")
        if args.packetdrill:
            print(f"  C packetdrill ({args.packetdrill}): {c_passed}/{args.runs} passed "
                  "(runs interleaved with drillbook's)")


def c_packetdrill_passes(binary: str, path: str, flags: list[str]) -> bool:
    """One run of the C packetdrill in a fresh network namespace, as upstream's run_all.py
    does (``lo`` up, the script's folder as working directory)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SystemExit("unshare(1) is needed to run the C packetdrill in a namespace")
    command = ["ip link set lo up && exec \"$@\"", "sh", binary, *flags,
               os.path.basename(path)]
    done = subprocess.run([unshare, "-n", "sh", "-c", *command], cwd=os.path.dirname(path),
                          capture_output=True, timeout=120)
    return done.returncode == 0


if __name__ == "__main__":
    main()
