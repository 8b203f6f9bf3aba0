"""Which cells of a lab a simulated student runs, and whether what came back is as expected.

A student either has every exercise answered (the worked solutions: the teacher version of the
lab where one exists, ``course/source/<lab>/<lab>.ipynb``, else the lab's own hidden cells
tagged ``solution``) or none (the student version as handed out). What is expected, cell by
cell:

- every ``%%drill`` cell passes, except an exercise to edit as handed out (``EDIT ME`` and no
  ``BEGIN SOLUTION`` region: a teacher version's cell runs its solution, and passes);
- every self-check (``labkit.check_...``: a box marked ``data-drillbook-check``) passes when the
  exercises are answered, and none passes when they are not;
- no cell shows an error, except an unanswered nbgrader answer cell that says so
  (``NotImplementedError``).

All pure: notebooks are nbformat dicts, runs are lists of nbformat-like outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

CHECK_STATE = re.compile(r'data-drillbook-check="(\w+)"')
SOLUTION_TAG = "solution"


class Answers(Enum):
    """Whether the simulated student answered the exercises."""

    FILLED = "answered"
    NONE = "unanswered"


@dataclass(frozen=True)
class LabCell:
    """A code cell to run: its source and what kind of cell it is."""

    source: str
    is_check: bool
    is_drill: bool
    is_exercise: bool  # a %%drill script to edit ("EDIT ME") without its solution region
    is_answer: bool  # nbgrader answer cell (may raise NotImplementedError unanswered)


@dataclass(frozen=True)
class LabVerdict:
    """What a run of a lab gave, judged cell by cell."""

    checks: tuple[bool, ...]
    silent_checks: tuple[int, ...] = ()  # check cells that showed no verdict
    drills_failed: tuple[str, ...] = ()  # "cell N: verdict" of %%drill cells that did not pass
    errors: tuple[str, ...] = field(default=())  # "cell N: Name: value"

    def as_expected(self, answers: Answers) -> bool:
        """Every cell gave what ``answers`` should give (see module doc)."""
        if not self.checks or self.silent_checks or self.drills_failed or self.errors:
            return False
        return all(self.checks) if answers is Answers.FILLED else not any(self.checks)

    def summary(self) -> str:
        passed = sum(self.checks)
        parts = [f"{passed}/{len(self.checks)} checks passed"]
        if self.silent_checks:
            parts.append(f"check cells without a verdict: {list(self.silent_checks)}")
        if self.drills_failed:
            parts.append("%%drill cells that failed: " + " | ".join(self.drills_failed))
        parts += self.errors
        return "; ".join(parts)


def teacher_version(lab: Path, course: Path) -> Path | None:
    """nbgrader's teacher version of ``labs/<lab>.ipynb``, if the course has one."""
    candidate = course / "source" / lab.stem / lab.name
    return candidate if candidate.is_file() else None


def cells_to_run(student: dict[str, Any], teacher: dict[str, Any] | None,
                 answers: Answers) -> list[LabCell]:
    """The code cells a student with ``answers`` runs, in order."""
    if answers is Answers.FILLED and teacher is not None:
        source_cells = _code_cells(teacher)
    elif answers is Answers.FILLED:
        source_cells = _code_cells(student)
    else:
        source_cells = [c for c in _code_cells(student) if SOLUTION_TAG not in _tags(c)]
    return [_lab_cell(cell) for cell in source_cells]


def judge(cells: Sequence[LabCell], outputs: Sequence[Sequence[dict[str, Any]]]) -> LabVerdict:
    """Judge the outputs of ``cells`` (one list of outputs per cell, same order)."""
    checks: list[bool] = []
    silent: list[int] = []
    failed: list[str] = []
    errors: list[str] = []
    for index, (cell, cell_outputs) in enumerate(zip(cells, outputs, strict=True)):
        states = [s for out in cell_outputs for s in CHECK_STATE.findall(_html(out))]
        checks += [state == "pass" for state in states]
        if cell.is_check and not states:
            silent.append(index)
        verdict = _drill_verdict(cell_outputs)
        if cell.is_drill and not cell.is_exercise and not verdict.startswith("PASS"):
            failed.append(f"cell {index}: {verdict.splitlines()[0] if verdict else 'no verdict'}")
        for out in cell_outputs:
            if out.get("output_type") == "error" and not (
                    cell.is_answer and out.get("ename") == "NotImplementedError"):
                errors.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
    return LabVerdict(tuple(checks), tuple(silent), tuple(failed), tuple(errors))


def _lab_cell(cell: dict[str, Any]) -> LabCell:
    source = _source(cell)
    is_drill = source.startswith("%%drill")
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return LabCell(source=source, is_check="labkit.check_" in source, is_drill=is_drill,
                   is_exercise=is_drill and "EDIT ME" in source
                   and "BEGIN SOLUTION" not in source,
                   is_answer=bool(nbgrader.get("solution")))


def _drill_verdict(outputs: Sequence[dict[str, Any]]) -> str:
    """The verdict line a %%drill cell shows ("PASS ..." or packetdrill's message)."""
    for out in outputs:
        text = out.get("data", {}).get("text/plain", "")
        if text:
            return "".join(text)
    return ""


def _html(output: dict[str, Any]) -> str:
    html = output.get("data", {}).get("text/html", "")
    return "".join(html) if isinstance(html, list) else str(html)


def _code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)
