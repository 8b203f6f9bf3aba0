"""How long drawing every figure of the SACK example takes (median of N).

    .venv/bin/python benchmarks/bench_render.py [N] [--real]

By default it draws the hand-built SACK trace (tests/unit/trace_fixtures.py); with ``--real``
it first runs the seed script against the kernel (needs root) and draws that trace. Reported:
building the figure (all four drawers), and writing it as PNG and as SVG.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
sys.path.insert(0, str(ROOT / "tests"))


def sack_trace(real: bool):  # type: ignore[no-untyped-def]
    if not real:
        from trace_fixtures import sack_trace as fixture

        return fixture()
    from seed_scripts import SACK

    from drillbook.config import RunConfig
    from drillbook.parser import parse_script
    from drillbook.runtime.api import run_script

    return run_script(parse_script(SACK, path="sack.pkt", config=RunConfig()),
                      RunConfig())


def median_ms(action: Callable[[], object], n: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds: on a shared machine the CPU time is the
    steadier figure (the wall clock includes waiting for a core)."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str]) -> int:
    n = int(next((a for a in argv if a.isdigit()), "9"))
    trace = sack_trace("--real" in argv)
    from drillbook.render import figure_for

    figure_for(trace)  # warm up: font cache, first imports
    build = median_ms(lambda: figure_for(trace), n)

    def write(fmt: str) -> Callable[[], object]:
        return lambda: figure_for(trace).savefig(io.BytesIO(), format=fmt, dpi=110)

    png = median_ms(write("png"), n)
    svg = median_ms(write("svg"), n)
    source = "real run" if "--real" in argv else "hand-built trace"
    print(f"SACK example ({source}, {len(trace.packets)} packets), median of {n}:")
    print(f"{'':28}{'wall':>10}{'cpu':>10}")
    for name, (wall, cpu) in (("figure_for (4 panels)", build), ("figure_for + PNG (110 dpi)", png),
                              ("figure_for + SVG", svg)):
        print(f"  {name:26}{wall:8.1f} ms{cpu:7.1f} ms")
    print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
