"""Parse throughput over the public corpus.

    .venv/bin/python benchmarks/bench_parse.py [REPEATS]

Each script is loaded as ``drillbook run`` loads it in ipv4 mode with upstream's flags (header
options, command line, then the body with lark), REPEATS times; prints scripts/s, lines/s,
KiB/s and the median and slowest per-script times. Scripts that packetdrill itself refuses
still count (the parse up to the error is the work).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drillbook.config import UPSTREAM_COMMON_FLAGS, UPSTREAM_MODE_FLAGS, IpMode  # noqa: E402
from drillbook.errors import ScriptError  # noqa: E402
from drillbook.suite import find_scripts  # noqa: E402
from drillbook.suite.load import load_case  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
FLAGS = (*UPSTREAM_COMMON_FLAGS, *UPSTREAM_MODE_FLAGS[IpMode.IPV4])


def _time_one(path: str) -> float:
    start = time.perf_counter()
    with contextlib.suppress(ScriptError):
        load_case(path, FLAGS)
    return time.perf_counter() - start


def main() -> int:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    corpus = Path(os.environ.get("DRILLBOOK_CORPUS", PROJECT.parent / "shared" / "corpus"))
    paths = find_scripts(str(corpus / "gtests-net"))
    texts = [Path(p).read_text(errors="replace") for p in paths]
    lines = sum(t.count("\n") for t in texts)
    size = sum(len(t.encode()) for t in texts)
    _time_one(paths[0])  # warm up: grammar load, imports
    per_script: list[float] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        per_script += [_time_one(path) for path in paths]
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{len(paths)} scripts, {lines} lines, {size / 1024:.0f} KiB, x{repeats}: "
          f"{total:.2f} s")
    print(f"throughput: {repeats * len(paths) / total:.0f} scripts/s, "
          f"{repeats * lines / total:.0f} lines/s, {repeats * size / 1024 / total:.0f} KiB/s")
    print(f"CPU time {cpu:.2f} s (load-independent): "
          f"{repeats * len(paths) / cpu:.0f} scripts/s, {repeats * lines / cpu:.0f} lines/s")
    print(f"per script: median {1000 * statistics.median(per_script):.1f} ms, "
          f"max {1000 * max(per_script):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
