"""Lab notebooks as lessons: self-checks, precomputed variants, execution and HTML export.

- :mod:`drillbook.lessons.checks` and :mod:`drillbook.lessons.queries`: self-checks over a
  run's trace (pure; a notebook imports them through :mod:`drillbook.labkit`).
- :mod:`drillbook.lessons.variants`: figures of precomputed runs behind buttons and a slider
  that work in a static page.
- :mod:`drillbook.lessons.execute`, :mod:`~drillbook.lessons.export`,
  :mod:`~drillbook.lessons.build`: run a lab with nbclient and write one self-contained HTML
  lesson with nbconvert. nbclient and nbconvert are imported only there, and only when used.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["export_lesson", "export_lessons"]


def export_lesson(
    path: Path,
    out_dir: Path,
    *,
    execute: bool = True,
    timeout_s: int = 180,
    executed_dir: Path | None = None,
) -> Path:
    """Execute the lab at ``path`` and write its HTML lesson into ``out_dir``; returns the file.

    With ``executed_dir`` the executed notebook is saved there as well.
    """
    from drillbook.lessons.build import export_lesson as _export

    return _export(path, out_dir, execute=execute, timeout_s=timeout_s, executed_dir=executed_dir)


def export_lessons(
    paths: list[Path],
    out_dir: Path,
    *,
    execute: bool = True,
    timeout_s: int = 180,
    executed_dir: Path | None = None,
) -> tuple[Path, ...]:
    """:func:`export_lesson` for each lab in order; stops at the first failure."""
    from drillbook.lessons.build import export_lessons as _export

    return _export(paths, out_dir, execute=execute, timeout_s=timeout_s,
                   executed_dir=executed_dir)
