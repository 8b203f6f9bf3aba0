"""Tick-edge scripts: drillbook's verdicts beside the C packetdrill's, runs interleaved.

Some corpus scripts pass or fail depending on which 4 ms kernel tick a delayed ACK or a TLP
falls in (README, "Timing precision"). Run alone, one after the other, each of them here is run
``--runs`` times by both tools in turn (the C tool first, in a fresh network namespace with
upstream's flags), so that both see the same load; the pass counts and the first-error lines
are printed per tool, with the phase of drillbook's time 0 within the kernel tick (the trace's
``started_monotonic_ns`` modulo ``--tick-us``: jiffies change when CLOCK_MONOTONIC crosses a
multiple of the tick on this kernel).

    .venv/bin/python benchmarks/bench_tick_edge.py [--runs 10] [--packetdrill PATH]
        [SCRIPT:MODE ...]

Without ``--packetdrill`` (or $DRILLBOOK_PACKETDRILL) only drillbook runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
from collections import Counter
from pathlib import Path

from drillbook.commands.run import load
from drillbook.config import UPSTREAM_COMMON_FLAGS, UPSTREAM_MODE_FLAGS, IpMode
from drillbook.options import parse_argv
from drillbook.runtime.api import run_script

CASES = (
    "tcp/fastopen/client/syn-data-icmp-unreach-frag-needed-with-seq.pkt:ipv4",
    "tcp/fastopen/client/syn-data-icmp-unreach-frag-needed.pkt:ipv4-mapped-ipv6",
    "tcp/fastopen/server/fin-close-socket.pkt:ipv4",
    "tcp/fastopen/server/opt34/fin-close-socket.pkt:ipv4",
    "tcp/close/close-remote-fin-then-close.pkt:ipv4-mapped-ipv6",
    "tcp/shutdown/shutdown-rdwr-send-queue-ack-close.pkt:ipv4",
    "tcp/fastopen/client/nonblocking-sendto.pkt:ipv4",
)
LINE = re.compile(r"\.pkt:(\d+): ")


def c_run(binary: str, path: Path, flags: list[str]) -> int | None:
    """One C run in a fresh network namespace: None if it passed, else its first error line."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SystemExit("unshare(1) is needed to run the C packetdrill in a namespace")
    command = ['ip link set lo up && exec "$@"', "sh", binary, *flags, path.name]
    done = subprocess.run([unshare, "-n", "sh", "-c", *command], cwd=path.parent,
                          capture_output=True, text=True, timeout=120)
    if done.returncode == 0:
        return None
    found = LINE.search(done.stderr + done.stdout)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES), metavar="SCRIPT:MODE",
                        help="corpus-relative script and IP mode (default: the tick-edge set)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tick-us", type=int, default=4000, help="the kernel tick (HZ=250)")
    parser.add_argument("--corpus", default=os.environ.get(
        "DRILLBOOK_CORPUS", str(Path(__file__).resolve().parents[2] / "shared" / "corpus")))
    parser.add_argument("--packetdrill", default=os.environ.get("DRILLBOOK_PACKETDRILL"))
    args = parser.parse_args()
    for case in args.cases:
        relative, _, mode = case.rpartition(":")
        path = Path(args.corpus) / "gtests-net" / relative
        flags = [*UPSTREAM_MODE_FLAGS[IpMode(mode)], *UPSTREAM_COMMON_FLAGS]
        script, config = load(str(path), parse_argv(flags))
        c_lines: Counter[int | None] = Counter()
        lines: Counter[int | None] = Counter()
        phases: list[float] = []
        for _ in range(args.runs):
            if args.packetdrill:
                c_lines[c_run(args.packetdrill, path, flags)] += 1
            trace = run_script(script, config)
            lines[None if trace.passed else (trace.failure.line if trace.failure else 0)] += 1
            if trace.started_monotonic_ns:
                phases.append(trace.started_monotonic_ns % (args.tick_us * 1000) / 1000)
        print(f"{relative} ({mode}), {args.runs} runs each:")
        if args.packetdrill:
            print(f"  C packetdrill: {summary(c_lines, args.runs)}")
        print(f"  drillbook:     {summary(lines, args.runs)}")
        if len(phases) >= 2:
            cuts = statistics.quantiles(phases, n=20, method="inclusive")
            print(f"  drillbook's time 0 into the tick: median {statistics.median(phases):.0f} µs,"
                  f" p5 {cuts[0]:.0f}, p95 {cuts[-1]:.0f}, max {max(phases):.0f}")


def summary(lines: Counter[int | None], runs: int) -> str:
    failed = {line: count for line, count in lines.items() if line is not None}
    text = f"{lines[None]}/{runs} passed"
    if failed:
        text += "; failed at line " + ", ".join(
            f"{line} ×{count}" for line, count in sorted(failed.items()))
    return text


if __name__ == "__main__":
    main()
