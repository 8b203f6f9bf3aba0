"""Does a student lab give a solution away? Compare it with its teacher version.

A solution leaks when the student notebook has a cell tagged ``solution`` (the old way of
hiding answers, which *Run All* ran), a solution region's delimiters, or a line that the
teacher version has only inside its solution regions. ``drillbook labs`` and the tests run
this over every lab; it reads notebooks as nbformat nodes or plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drillbook.course.regions import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    solution_regions,
    student_source,
)

__all__ = ["Leak", "find_leaks", "solution_only_lines"]


@dataclass(frozen=True)
class Leak:
    """Where a student notebook shows a solution: the cell's index and what gave it away."""

    cell_index: int
    what: str

    def render(self) -> str:
        """``cell 8: solution line 'final_ack = 8001'``"""
        return f"cell {self.cell_index}: {self.what}"


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _stripped(lines: Iterable[str]) -> set[str]:
    return {line.strip() for line in lines if line.strip()}


def solution_only_lines(notebook: Any) -> list[str]:
    """Lines (stripped) inside the solution regions of ``notebook`` and nowhere outside them."""
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in notebook["cells"]:
        text = _source(cell)
        for region in solution_regions(text):
            inside |= _stripped(region.body)
        outside |= _stripped(student_source(text).split("\n"))
    return sorted(inside - outside)


def find_leaks(teacher: Any, student: Any) -> list[Leak]:
    """Every way ``student`` shows a solution of ``teacher`` (its teacher version)."""
    secret = set(solution_only_lines(teacher))
    leaks: list[Leak] = []
    for index, cell in enumerate(student["cells"]):
        if "solution" in cell.get("metadata", {}).get("tags", []):
            leaks.append(Leak(index, "a cell tagged 'solution'"))
        text = _source(cell)
        if BEGIN_SOLUTION in text or END_SOLUTION in text:
            leaks.append(Leak(index, "a solution region"))
        for line in sorted(_stripped(text.split("\n")) & secret):
            leaks.append(Leak(index, f"solution line {line!r}"))
    return leaks
