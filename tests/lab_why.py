"""The labs' "why" exercises, read from the teacher versions: each check that asks the kernel
why it sent a packet (``labkit.check_cause``, ``check_causes``, ``check_reset_reason``), with
the run it measures, the script that run comes from and the solution the teacher wrote.

Shared by the static course tests (tests/notebooks) and the kernel tests that run each
exercise's script as root and as a normal user (tests/kernel)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from drillbook.config import RunConfig
from drillbook.course.regions import teacher_script
from drillbook.lessons import checks

PROJECT = Path(__file__).resolve().parents[1]
COURSE = PROJECT / "course" / "source"
# The labs issue #11 gives a "why" exercise: RTO, fast retransmit, slow start, reset.
WHY_LABS = ("03-rto-backoff", "04-fast-retransmit", "07-slow-start-cwnd",
            "08-reset-half-close-time-wait")
WHY_CHECKS = ("check_cause", "check_causes", "check_reset_reason")


@dataclass(frozen=True)
class WhyCheck:
    """One ``labkit.check_cause(run, line, answer)`` call (or its siblings) in a lab."""

    lab: str
    check_cell: int  # the cell's index in the teacher version
    function: str  # check_cause, check_causes or check_reset_reason
    run: str  # the %%drill --out variable it measures
    lines: int | tuple[int, ...]
    answer: str  # the variable the student sets
    solution: Any  # what the teacher's answer cell sets it to
    answer_cell: int
    script: str  # the teacher's %%drill script of ``run`` (without the magic line)
    tolerance_usecs: int  # the lab's timing slack (its setup cell's %config), as its cells run

    def check(self, trace: Any, answer: Any) -> checks.Check:
        function = getattr(checks, self.function)
        lines = list(self.lines) if isinstance(self.lines, tuple) else self.lines
        result: checks.Check = function(trace, lines, answer)
        return result


def teacher(lab: str) -> Any:
    return nbformat.read(str(COURSE / lab / f"{lab}.ipynb"), as_version=4)


def student(lab: str) -> Any:
    return nbformat.read(str(PROJECT / "labs" / f"{lab}.ipynb"), as_version=4)


def _drill_script(notebook: Any, run: str) -> str:
    for cell in notebook.cells:
        first, _, rest = cell.source.partition("\n")
        if cell.cell_type == "code" and first.startswith("%%drill") and re.search(
                rf"--out\s+{re.escape(run)}\b", first):
            return teacher_script(rest)
    raise AssertionError(f"no %%drill --out {run} cell")


def _answer(notebook: Any, name: str) -> tuple[int, Any]:
    """The cell that hands out ``name`` (``name = None``) and the value its solution sets."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and re.search(rf"^{re.escape(name)} = None\b", cell.source,
                                                  flags=re.MULTILINE):
            scope: dict[str, Any] = {}
            exec(cell.source, scope)  # the teacher's answer: handed-out line, then solution
            return index, scope[name]
    raise AssertionError(f"no answer cell hands out {name}")


def _tolerance_usecs(notebook: Any) -> int:
    for cell in notebook.cells:
        found = re.search(r"^%config Drill\.tolerance_usecs\s*=\s*(\d+)", cell.source,
                          flags=re.MULTILINE)
        if cell.cell_type == "code" and found:
            return int(found.group(1))
    return RunConfig().tolerance_usecs


def why_checks(lab: str) -> list[WhyCheck]:
    notebook = teacher(lab)
    tolerance = _tolerance_usecs(notebook)
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not any(f"labkit.{f}(" in cell.source
                                               for f in WHY_CHECKS):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in WHY_CHECKS):
                continue
            run, lines, answer = node.args
            assert isinstance(run, ast.Name) and isinstance(answer, ast.Name), cell.source
            value = ast.literal_eval(lines)
            answer_cell, solution = _answer(notebook, answer.id)
            found.append(WhyCheck(
                lab, index, node.func.attr, run.id,
                tuple(value) if isinstance(value, list) else value, answer.id, solution,
                answer_cell, _drill_script(notebook, run.id), tolerance))
    return found


def wrong_answer(why: WhyCheck) -> Any:
    """A plausible wrong prediction: the one most students make."""
    if why.function == "check_reset_reason":
        return "NO_SOCKET"
    swap = {"tlp": "rto", "rto": "tlp", "fast-retransmit": "rack", "rack": "fast-retransmit"}
    if isinstance(why.solution, list):
        return [swap.get(c, "rto") for c in why.solution]
    return swap.get(why.solution, "rto")
