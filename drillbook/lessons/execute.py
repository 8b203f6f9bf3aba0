"""Execute a lab notebook with a real kernel (nbclient) and insist that no cell failed.

The kernel is the ``python3`` kernel spec, which jupyter_client starts with this very Python
(``sys.executable``), so the notebook sees the same drillbook. Cells run in the notebook's own
folder, as in JupyterLab. A cell that raises stops the run; the error names the cell and says
what went wrong. Solution cells run too: a lab executed for export is executed *with* its
solutions, which is also how the tests prove that every self-check can pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat as _nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from drillbook.errors import DrillbookError

nbformat: Any = _nbformat  # untyped library: calls through Any keep mypy --strict quiet

__all__ = [
    "CellProblem",
    "LessonError",
    "error_outputs",
    "execute_notebook",
    "read_notebook",
    "write_notebook",
]

DEFAULT_CELL_TIMEOUT_S = 180


class LessonError(DrillbookError):
    """A lab could not be executed or exported (a cell failed, a check failed, bad file)."""


@dataclass(frozen=True)
class CellProblem:
    """One error output: which cell, and what it said."""

    cell_index: int
    name: str
    value: str

    def render(self) -> str:
        """``cell 7: AssertionError: ...``"""
        return f"cell {self.cell_index}: {self.name}: {self.value}".rstrip(": ")


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` (nbformat 4), or LessonError when it is not one."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as error:
        raise LessonError(f"{path}: cannot read the notebook: {error}") from None


def write_notebook(notebook: Any, path: Path) -> None:
    """Save ``notebook`` (e.g. an executed lab) at ``path``."""
    nbformat.write(notebook, str(path))


def error_outputs(notebook: Any) -> list[CellProblem]:
    """Every ``error`` output in the notebook's cells."""
    problems: list[CellProblem] = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", ()):
            if output.get("output_type") == "error":
                problems.append(
                    CellProblem(index, str(output.get("ename", "")), str(output.get("evalue", "")))
                )
    return problems


def execute_notebook(
    path: Path, *, timeout_s: int = DEFAULT_CELL_TIMEOUT_S, notebook: Any = None
) -> Any:
    """Run every cell of the lab at ``path`` (or of ``notebook``, read from there) in a fresh
    kernel, in the lab's folder; return the executed notebook.

    Raises LessonError naming the first failing cell (nbclient stops there) or listing the
    error outputs left in the notebook.
    """
    if notebook is None:
        notebook = read_notebook(path)
    client = NotebookClient(
        notebook,
        timeout=timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        allow_errors=False,
    )
    try:
        client.execute()
    except CellTimeoutError as error:
        raise LessonError(f"{path.name}: a cell ran longer than {timeout_s} s: {error}") from None
    except CellExecutionError as error:
        summary = f"{error.ename}: {error.evalue}".strip(": ")
        raise LessonError(f"{path.name}: a cell failed: {summary}") from None
    problems = error_outputs(notebook)
    if problems:
        listed = "; ".join(problem.render() for problem in problems)
        raise LessonError(f"{path.name}: error output in {listed}")
    return notebook
