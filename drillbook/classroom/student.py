"""One simulated student, start to end: log in, start the server, run a lab, judge it.

Used by the acceptance tests and ``benchmarks/bench_classroom.py``; every step goes through the
hub as a browser's would (login form, REST API, the server behind the proxy, the kernel
websocket), and the lab's cells are sent one after the other as *Run All* would.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.classroom.hubapi import StudentClient
from drillbook.classroom.kernel import CellRun, KernelChannel
from drillbook.classroom.labcells import (
    Answers,
    LabCell,
    LabVerdict,
    cells_to_run,
    judge,
    teacher_version,
)

COURSE = Path(__file__).resolve().parents[2] / "course"


@dataclass
class StudentRun:
    """What one student saw, with timings in seconds."""

    name: str
    answers: Answers
    login_s: float = 0.0
    server_start_s: float = 0.0
    cells: list[CellRun] = field(default_factory=list)
    first_figure_s: float | None = None  # from the first cell sent to the first figure shown
    verdict: LabVerdict | None = None
    error: str = ""  # a step that failed outright (login, start, kernel)

    @property
    def as_expected(self) -> bool:
        return not self.error and self.verdict is not None and \
            self.verdict.as_expected(self.answers)

    def describe(self) -> str:
        if self.error:
            return f"{self.name}: {self.error}"
        summary = self.verdict.summary() if self.verdict else "not judged"
        return f"{self.name} ({self.answers.value}): {summary}"


def _cells(lab: Path, answers: Answers, course: Path) -> list[LabCell]:
    teacher = teacher_version(lab, course)
    student_nb = json.loads(lab.read_text())
    teacher_nb = json.loads(teacher.read_text()) if teacher else None
    return cells_to_run(student_nb, teacher_nb, answers)


def simulate(client: StudentClient, password: str, lab: Path, answers: Answers,
             course: Path = COURSE, cell_timeout_s: float = 300.0) -> StudentRun:
    """Run one student through the hub; never raises for the hub's or the kernel's failures
    (they are recorded in :attr:`StudentRun.error`)."""
    run = StudentRun(client.name, answers)
    cells = _cells(lab, answers, course)
    try:
        started = time.monotonic()
        client.log_in(password)
        run.login_s = time.monotonic() - started
        run.server_start_s = client.start_server()
        kernel_id = client.open_notebook(f"labs/{lab.name}")
        first_cell = time.monotonic()
        with KernelChannel(client.kernel_url(kernel_id), client.token, client.name) as kernel:
            for cell in cells:
                result = kernel.execute(cell.source, timeout_s=cell_timeout_s)
                run.cells.append(result)
                if run.first_figure_s is None and result.first_figure_s is not None:
                    run.first_figure_s = (time.monotonic() - first_cell - result.seconds
                                          + result.first_figure_s)
        run.verdict = judge(cells, [c.outputs for c in run.cells])
    except Exception as exc:  # a student's failure is a result, not a crash
        run.error = f"{type(exc).__name__}: {exc}"
    return run

