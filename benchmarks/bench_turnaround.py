"""Turnaround: from a packet the kernel sends to the next packet injected at `+0`.

Where a script answers the kernel at once (`+0 > ...` then `+0 < ...`), the C packetdrill
reads the kernel's packet, matches it and injects the answer in a few tens of µs. drillbook's
Python work in between is what still separates it from the C tool on scripts whose verdict
hangs on a sub-millisecond edge (README, "Conformance"). This benchmark measures it on the
seed SACK example, whose eight ACKs are each answered at `+0`, from the traces: for every
outbound step followed by an inbound one, the inbound's actual time minus the outbound's
kernel timestamp. Gaps of 10 ms or more are left out: they are the script's one `+.1`
answer, not a turnaround.

    .venv/bin/python benchmarks/bench_turnaround.py [--runs 10] [--packetdrill PATH]

With ``--packetdrill`` (or $DRILLBOOK_PACKETDRILL), a C binary built from upstream's sources
outside the project, the same script runs under it too (``-v``, each run in a fresh network
namespace) and the same gaps are read from its "outbound sniffed" / "inbound injected" lines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "tests")]

from seed_scripts import SACK_FIXED  # noqa: E402

from drillbook.config import RunConfig  # noqa: E402
from drillbook.parser import parse_script  # noqa: E402
from drillbook.runtime.api import run_script  # noqa: E402
from drillbook.trace.model import StepKind, Trace  # noqa: E402

AT_ONCE_US = 10_000  # a longer gap is a scheduled wait, not a turnaround
VERBOSE_LINE = re.compile(r"^(inbound injected|outbound sniffed) packet:\s+([0-9.]+)")


def drillbook_gaps(trace: Trace) -> list[int]:
    """µs from each outbound packet to the inbound step right after it."""
    gaps = []
    for before, after in zip(trace.steps, trace.steps[1:], strict=False):
        if (before.kind is StepKind.OUTBOUND and after.kind is StepKind.INBOUND
                and before.actual_us is not None and after.actual_us is not None):
            gaps.append(after.actual_us - before.actual_us)
    return [gap for gap in gaps if gap < AT_ONCE_US]


def c_gaps(binary: str, path: Path) -> list[int]:
    """The same gaps from one ``packetdrill -v`` run in a fresh network namespace."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SystemExit("unshare(1) is needed to run the C packetdrill in a namespace")
    done = subprocess.run(
        [unshare, "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", binary, "-v",
         path.name],
        cwd=path.parent, capture_output=True, text=True, timeout=60,
    )
    events = [(m.group(1), float(m.group(2)))
              for m in map(VERBOSE_LINE.match, done.stdout.splitlines()) if m]
    gaps = [round((t2 - t1) * 1e6) for (k1, t1), (k2, t2) in zip(events, events[1:], strict=False)
            if k1.startswith("outbound") and k2.startswith("inbound")]
    return [gap for gap in gaps if gap < AT_ONCE_US]


def summary(gaps: list[int]) -> str:
    ordered = sorted(gaps)
    if not ordered:
        return "no gaps"
    pick = lambda share: ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]  # noqa: E731
    return f"n={len(ordered)}: p50 {pick(.5)} µs, p90 {pick(.9)} µs, max {ordered[-1]} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--packetdrill", default=os.environ.get("DRILLBOOK_PACKETDRILL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drillbook-turnaround-") as folder:
        path = Path(folder) / "sack.pkt"
        path.write_text(SACK_FIXED)
        config = RunConfig()
        script = parse_script(SACK_FIXED, str(path), config)
        gaps: list[int] = []
        passed = 0
        for _ in range(args.runs):
            trace = run_script(script, config)
            passed += trace.passed
            gaps += drillbook_gaps(trace)
        print(f"seed SACK example, {args.runs} runs ({passed} passed)")
        print(f"  drillbook      outbound -> +0 inbound: {summary(gaps)}")
        if args.packetdrill:
            c_all = [gap for _ in range(args.runs) for gap in c_gaps(args.packetdrill, path)]
            print(f"  C packetdrill  outbound -> +0 inbound: {summary(c_all)}")


if __name__ == "__main__":
    main()
