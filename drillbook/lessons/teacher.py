"""A lesson from a lab's teacher version: each answer shown as handed out, run with its solution.

A teacher version (nbgrader's source notebook) holds each answer cell with its solution in
``### BEGIN SOLUTION`` regions. The lesson shows what a student gets and what the kernel then
does, but never the solution: every answer cell becomes two cells, the student's version (the
regions removed, as nbgrader hands it out; a ``%%drill`` exercise then shows the handed-out
script failing) and the teacher's cell tagged ``solution``, which runs right after it (so the
self-checks below pass) and which the HTML export leaves out, as it always left out solution
cells.
"""

from __future__ import annotations

import copy
from typing import Any

from drillbook.course.regions import has_solution_region, student_source

__all__ = ["SOLUTION_TAG", "is_answer_cell", "is_student_version", "with_handouts"]

SOLUTION_TAG = "solution"


def is_answer_cell(cell: Any) -> bool:
    """An nbgrader answer cell (``solution: true``) or any code cell with a solution region."""
    if cell.get("cell_type") != "code":
        return False
    marked = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))
    return marked or has_solution_region(str(cell.get("source", "")))


def is_student_version(notebook: Any) -> bool:
    """Whether ``notebook`` is a student version: nbgrader answer cells, none with a solution
    (what ``nbgrader generate_assignment`` makes). Its self-checks cannot pass as it stands."""
    answers = [cell for cell in notebook.cells if is_answer_cell(cell)]
    return bool(answers) and not any(
        has_solution_region(str(cell.get("source", ""))) for cell in answers
    )


def _handout(cell: Any) -> Any:
    handout = copy.deepcopy(cell)
    handout["source"] = student_source(str(cell.get("source", ""))).rstrip("\n")
    handout["metadata"].pop("nbgrader", None)
    if "id" in handout:
        handout["id"] = f"{str(handout['id'])[:55]}-handout"
    return handout


def _solution(cell: Any) -> Any:
    solution = copy.deepcopy(cell)
    tags = list(solution["metadata"].get("tags", []))
    if SOLUTION_TAG not in tags:
        solution["metadata"]["tags"] = [*tags, SOLUTION_TAG]
    return solution


def with_handouts(notebook: Any) -> Any:
    """A copy of ``notebook`` in which every answer cell is preceded by its handout and tagged
    ``solution``. A notebook without answer cells comes back as an unchanged copy."""
    lesson = copy.deepcopy(notebook)
    cells: list[Any] = []
    for cell in lesson.cells:
        if is_answer_cell(cell):
            cells += [_handout(cell), _solution(cell)]
        else:
            cells.append(cell)
    lesson.cells = cells
    return lesson
