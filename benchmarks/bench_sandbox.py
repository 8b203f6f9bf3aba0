"""Worker start-up (spawn to sandbox ready) and sandbox injection latency, on the real kernel.

Run as root: ``.venv/bin/python benchmarks/bench_sandbox.py [runs] [packets]``. Prints
median / p99 figures; there is no C counterpart measured here to take a ratio against.
Workers are forked by the zygote unless ``DRILLBOOK_ZYGOTE=0`` (a fresh interpreter per run);
the first run includes starting the zygote. On a busy machine, ``chrt -r 1`` in front shows
the cost without other people's load.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "tests" / "kernel")]
os.environ["PYTHONPATH"] = str(HERE.parents[1] / "tests" / "kernel")

from test_worker_entries import make_request  # noqa: E402

from drillbook.runtime.workers.client import run_in_worker  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def startup(runs: int) -> None:
    ready, total, cpu = [], [], []
    for _ in range(runs):
        start = time.time_ns()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        reply = run_in_worker(make_request("silence"), 30)
        total.append((time.time_ns() - start) / 1e6)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime) * 1e3)
        ready.append((reply.timings["sandbox_ready"] - reply.timings["spawn"]) / 1e6)
    print(f"worker spawn -> sandbox ready: median {statistics.median(ready):.1f} ms, "
          f"p99 {_pct(ready, 0.99):.1f} ms (n={runs})")
    print(f"whole run_in_worker round trip (0.2 s entry): median "
          f"{statistics.median(total):.1f} ms")
    print(f"worker CPU time (user+sys; 0 when the zygote forks them): median "
          f"{statistics.median(cpu):.1f} ms")


def injection(packets: int) -> None:
    reply = run_in_worker(make_request("inject_latency", extra=(("n", str(packets)),)), 60)
    assert reply.result is not None, reply.error
    inject = [ns / 1000 for ns in reply.result["inject_ns"]]
    answer = [ns / 1000 for ns in reply.result["answer_ns"]]
    print(f"inject (time before write -> after): median {statistics.median(inject):.1f} us, "
          f"p99 {_pct(inject, 0.99):.1f} us (n={len(inject)})")
    print(f"kernel answer stamped after our write began: median "
          f"{statistics.median(answer):.1f} us, p99 {_pct(answer, 0.99):.1f} us")


if __name__ == "__main__":
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    startup(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    injection(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
