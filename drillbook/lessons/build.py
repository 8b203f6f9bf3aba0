"""From lab notebooks to HTML lessons: execute, check, export, write one file per lab."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from drillbook.lessons.execute import (
    DEFAULT_CELL_TIMEOUT_S,
    LessonError,
    error_outputs,
    execute_notebook,
    read_notebook,
    write_notebook,
)
from drillbook.lessons.export import lesson_html
from drillbook.lessons.teacher import is_student_version, with_handouts

__all__ = ["export_lesson", "export_lessons", "failed_checks", "lesson_title"]


def lesson_title(notebook: object, path: Path) -> str:
    """The lab's first markdown heading, else its file name."""
    for cell in getattr(notebook, "cells", ()):
        if cell.get("cell_type") != "markdown":
            continue
        for line in str(cell.get("source", "")).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return path.stem


def failed_checks(notebook: object) -> list[str]:
    """The texts of self-check outputs that say "fail" (see drillbook.lessons.checks.Check)."""
    failed: list[str] = []
    for index, cell in enumerate(getattr(notebook, "cells", ())):
        for output in cell.get("outputs", ()):
            page = output.get("data", {}).get("text/html", "")
            if 'data-drillbook-check="fail"' in page:
                text = output.get("data", {}).get("text/plain", "")
                failed.append(f"cell {index}: {text}")
    return failed


def export_lesson(
    path: Path,
    out_dir: Path,
    *,
    execute: bool = True,
    timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    executed_dir: Path | None = None,
) -> Path:
    """Execute the lab at ``path`` (with its solutions) and write ``out_dir/<stem>.html``.

    ``path`` is a lab's teacher version (``course/source/<lab>/<lab>.ipynb``): each answer cell
    is shown as handed out and run with its solution, which the page leaves out
    (:mod:`drillbook.lessons.teacher`).

    Raises LessonError when a cell fails, an error output is left, or a self-check fails:
    a lesson whose own solutions do not pass against this kernel must not be published.
    With ``executed_dir``, the executed notebook is written there too (same file name).
    """
    notebook = read_notebook(path)
    if is_student_version(notebook):
        teacher = path.parent.parent / "course" / "source" / path.stem / path.name
        raise LessonError(
            f"{path}: a student version (its answers hold no solution, so its self-checks "
            f"cannot pass): export the lab's teacher version, e.g. {teacher}"
        )
    notebook = with_handouts(notebook)
    if execute:
        notebook = execute_notebook(path, timeout_s=timeout_s, notebook=notebook)
    else:
        problems = error_outputs(notebook)
        if problems:
            raise LessonError(f"{path.name}: error output in {problems[0].render()}")
    if executed_dir is not None:
        executed_dir.mkdir(parents=True, exist_ok=True)
        write_notebook(notebook, executed_dir / path.name)
    failed = failed_checks(notebook)
    if failed:
        raise LessonError(f"{path.name}: a self-check fails with the solutions: {failed[0]}")
    page = lesson_html(notebook, title=lesson_title(notebook, path), resources_path=path.parent)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}.html"
    target.write_text(page, encoding="utf-8")
    return target


def export_lessons(
    paths: Iterable[Path],
    out_dir: Path,
    *,
    execute: bool = True,
    timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    executed_dir: Path | None = None,
) -> tuple[Path, ...]:
    """:func:`export_lesson` for each lab, in order; stops at the first one that fails."""
    return tuple(
        export_lesson(path, out_dir, execute=execute, timeout_s=timeout_s,
                      executed_dir=executed_dir)
        for path in paths
    )
