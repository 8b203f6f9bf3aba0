"""A class on this server: N students at once, through a real JupyterHub (hubtraf's approach).

Starts the project's hub (hub/jupyterhub_config.py, the file `make hub` serves) on free ports
with N throwaway Unix students. All N then, at the same moment, log in with the login form, get
a token from the REST API, start their servers and run a lab's cells one after the other through
the kernel websocket, with every exercise answered. Reports:

- students whose every cell gave the expected result (every %%drill worked example passes,
  every self-check passes, no error; drillbook.classroom.labcells);
- p50 / p95 cell latency over every cell of every student, server start times;
- time to first figure (from the first cell sent to the first figure shown);
- memory per student (RSS of all the student's processes — the PID namespace's keeper and
  init, server, kernel, drillbook's workers — and the student's memory cgroup), measured
  after the lab ran, and the CPU seconds those processes used (server start and the whole
  lab): the load-independent cost that sizes a class per core;
- with --ramp, the largest N at which every student still gets the expected verdicts.

The last line reads ``classroom: N students, M as expected, p95 cell X s``. Needs root (Unix
accounts, setuid spawns); the accounts, homes, cgroups and the hub's state are removed at the
end. Note the load (printed) beside the figures.

    .venv/bin/python benchmarks/bench_classroom.py --students 20 [--lab labs/02-...ipynb]
        [--json FILE] [--ramp 5,10,15,20] [--spread S] [--hub-log FILE] [--unanswered]

The install students execute is $DRILLBOOK_HUB_PREFIX (``make hub-install``) when set, else a
fresh one in a temporary folder (~40 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drillbook.classroom import accounts
from drillbook.classroom.hubapi import StudentClient
from drillbook.classroom.labcells import Answers
from drillbook.classroom.launch import ThrowawayHub, require_proxy, student_install
from drillbook.classroom.limits import CgroupLayout, StudentGroup
from drillbook.classroom.student import StudentRun, simulate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LAB = ROOT / "labs" / "02-sack-out-of-order.ipynb"
MB = 1 << 20


@dataclass(frozen=True)
class ClassResult:
    """The figures of one class of ``students``."""

    students: int
    as_expected: int
    p50_cell_s: float
    p95_cell_s: float
    max_cell_s: float
    p50_server_start_s: float
    max_server_start_s: float
    p50_first_figure_s: float | None
    max_first_figure_s: float | None
    rss_per_student_mb: float
    cgroup_memory_per_student_mb: float | None
    cpu_per_student_s: float  # CPU seconds of a student's processes: server start and lab
    spread_s: float  # logins spread evenly over this many seconds
    wall_s: float
    load_before: str
    load_after: str
    failures: list[str]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass(frozen=True)
class Usage:
    """What one student's processes used: resident memory now, the student's memory cgroup,
    and CPU seconds since the server started (the processes' own and their reaped children's:
    kernels, drillbook workers)."""

    rss_mb: float
    cgroup_mb: float | None
    cpu_s: float


def _usage_of(name: str) -> Usage:
    student = accounts.lookup(name)
    if student is None:
        return Usage(0.0, None, 0.0)
    layout = CgroupLayout.of_this_process()
    # Every process of the student's server: those in its cgroups (with the keeper the hub
    # starts it through, which stays root), else those running as the student.
    pids = StudentGroup(layout, name).pids() if layout.paths else set()
    rss_kb, ticks = 0, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(entry) not in pids and int(fields["Uid"].split()[0]) != student.uid:
                continue
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                stat = handle.read().rsplit(")", 1)[1].split()
        except (OSError, KeyError, ValueError):
            continue
        rss_kb += int(fields.get("VmRSS", "0 kB").split()[0])
        ticks += sum(int(value) for value in stat[11:15])  # utime stime cutime cstime
    group = layout.paths.get("memory")
    usage = None
    for filename in ("memory.usage_in_bytes", "memory.current"):
        path = Path(group or "/nonexistent", name, filename)
        if path.exists():
            usage = int(path.read_text()) / MB
    return Usage(rss_kb / 1024, usage, ticks / os.sysconf("SC_CLK_TCK"))


def run_class(prefix: Path, students: int, lab: Path, answers: Answers,
              hub_log: Path | None = None, spread_s: float = 0.0) -> ClassResult:
    """One class: ``students`` students at once through a fresh hub."""
    tag = uuid.uuid4().hex[:5]
    names = [f"bc{tag}{i:03d}" for i in range(students)]
    runs: dict[str, StudentRun] = {}
    usage: dict[str, Usage] = {}
    load_before = _load()
    with ThrowawayHub(prefix, names) as hub:
        barrier = threading.Barrier(students)

        def student(index: int, name: str) -> None:
            barrier.wait()
            time.sleep(spread_s * index / max(1, students - 1))
            runs[name] = simulate(StudentClient(hub.url, name, timeout_s=600),
                                  hub.password, lab, answers)
            if runs[name].verdict is not None:  # its server ran the lab: measure it
                usage[name] = _usage_of(name)

        started = time.monotonic()
        threads = [threading.Thread(target=student, args=(i, n)) for i, n in enumerate(names)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        if hub_log is not None:
            hub_log.write_text(hub.log)
    cells = [c.seconds for r in runs.values() for c in r.cells]
    starts = [r.server_start_s for r in runs.values() if r.server_start_s]
    figures = [r.first_figure_s for r in runs.values() if r.first_figure_s is not None]
    cgroup = [u.cgroup_mb for u in usage.values() if u.cgroup_mb is not None]
    cpu = [u.cpu_s for u in usage.values()]
    return ClassResult(
        students=students,
        as_expected=sum(r.as_expected for r in runs.values()),
        p50_cell_s=_percentile(cells, 0.5), p95_cell_s=_percentile(cells, 0.95),
        max_cell_s=max(cells, default=float("nan")),
        p50_server_start_s=_percentile(starts, 0.5),
        max_server_start_s=max(starts, default=float("nan")),
        p50_first_figure_s=_percentile(figures, 0.5) if figures else None,
        max_first_figure_s=max(figures) if figures else None,
        rss_per_student_mb=statistics.median(u.rss_mb for u in usage.values()) if usage else 0,
        cgroup_memory_per_student_mb=statistics.median(cgroup) if cgroup else None,
        cpu_per_student_s=statistics.median(cpu) if cpu else 0.0,
        spread_s=spread_s,
        wall_s=wall, load_before=load_before, load_after=_load(),
        failures=[r.describe() for r in runs.values() if not r.as_expected])


def _report(result: ClassResult) -> None:
    figure = (f"{result.p50_first_figure_s:.2f} s (max {result.max_first_figure_s:.2f} s)"
              if result.p50_first_figure_s is not None else "none")
    cgroup = (f", memory cgroup {result.cgroup_memory_per_student_mb:.0f} MB"
              if result.cgroup_memory_per_student_mb is not None else "")
    print(f"  {result.students} students (logins over {result.spread_s:.0f} s): "
          f"{result.as_expected} as expected; "
          f"wall {result.wall_s:.1f} s; load {result.load_before} -> {result.load_after}")
    print(f"    cell latency p50 {result.p50_cell_s:.2f} s, p95 {result.p95_cell_s:.2f} s, "
          f"max {result.max_cell_s:.2f} s; server start p50 {result.p50_server_start_s:.1f} s,"
          f" max {result.max_server_start_s:.1f} s")
    print(f"    time to first figure p50 {figure}; per student: RSS "
          f"{result.rss_per_student_mb:.0f} MB{cgroup}, CPU {result.cpu_per_student_s:.1f} s "
          f"(server start and the whole lab)")
    for line in result.failures:
        print(f"    not as expected: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--lab", type=Path, default=DEFAULT_LAB)
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--ramp", default="",
                        help="comma-separated class sizes to try in order (stops at the "
                             "first size with a student not as expected)")
    parser.add_argument("--hub-log", type=Path, help="keep the hub's log in this file")
    parser.add_argument("--spread", type=float, default=0.0, metavar="S",
                        help="spread the logins evenly over S seconds (hubtraf's start delay;"
                             " default 0: everyone at the same moment)")
    parser.add_argument("--unanswered", action="store_true",
                        help="students answer nothing (expected: no self-check passes)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_classroom: needs root (Unix accounts and setuid spawns)", file=sys.stderr)
        return 2
    if not args.lab.is_file():
        print(f"bench_classroom: {args.lab}: no such lab", file=sys.stderr)
        return 2
    require_proxy()
    sizes = [int(n) for n in args.ramp.split(",") if n] or [args.students]
    answers = Answers.NONE if args.unanswered else Answers.FILLED
    print(f"bench_classroom: {args.lab.name}, {answers.value}, sizes {sizes}, "
          f"{os.cpu_count()} CPUs, load {_load()}")
    results: list[ClassResult] = []
    with student_install() as prefix:
        for size in sizes:
            result = run_class(prefix, size, args.lab, answers, args.hub_log, args.spread)
            _report(result)
            results.append(result)
            if result.as_expected < result.students:
                break
    good = [r.students for r in results if r.as_expected == r.students]
    largest = max(good) if good else 0
    print(f"largest class with every student as expected: {largest}"
          + ("" if len(sizes) > 1 else " (one size measured; --ramp tries several)"))
    if args.json:
        payload: dict[str, Any] = {"lab": args.lab.name, "answers": answers.value,
                                   "cpus": os.cpu_count(), "largest_all_expected": largest,
                                   "classes": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    last = results[-1]
    print(f"classroom: {last.students} students, {last.as_expected} as expected, "
          f"p95 cell {last.p95_cell_s:.2f} s")
    return 0 if last.as_expected == last.students else 1


if __name__ == "__main__":
    raise SystemExit(main())
