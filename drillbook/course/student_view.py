"""What a student's JupyterLab shows of nbgrader: the assignment list and Validate, no more.

nbgrader's wheel enables all its JupyterLab plugins and server extensions, the teacher's too:
the formgrader, Create Assignment (cell toolbar for writing tests) and the course list. In the
environment that serves students (the venv ``make lab`` and the hub's single-user servers run
from) those are disabled and locked, the way nbgrader's installation guide says
(``jupyter labextension disable/lock --level=sys_prefix``, ``jupyter server extension disable
--sys-prefix``). The teacher works with nbgrader's commands, which need none of them.

    python -m drillbook.course.student_view PREFIX    # PREFIX: the venv students' servers use
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["TEACHER_PLUGINS", "TEACHER_SERVER_EXTENSIONS", "hide_teacher_panels", "main"]

TEACHER_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
TEACHER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)


def _commands(prefix: Path) -> list[list[str]]:
    jupyter = str(prefix / "bin" / "jupyter")
    return [
        [jupyter, "labextension", "disable", "--level=sys_prefix", *TEACHER_PLUGINS],
        [jupyter, "labextension", "lock", "--level=sys_prefix", *TEACHER_PLUGINS],
        [jupyter, "server", "extension", "disable", "--sys-prefix", *TEACHER_SERVER_EXTENSIONS],
    ]


def _has_nbgrader(prefix: Path) -> bool:
    probe = [str(prefix / "bin" / "python"), "-c", "import nbgrader"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def hide_teacher_panels(prefix: Path) -> bool:
    """Disable and lock nbgrader's teacher panels in the venv at ``prefix``; False when it has
    no nbgrader (nothing to hide), RuntimeError naming the command that failed."""
    if not _has_nbgrader(prefix):
        return False
    for argv in _commands(prefix):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m drillbook.course.student_view PREFIX", file=sys.stderr)
        return 2
    try:
        hide_teacher_panels(Path(args[0]))
    except (RuntimeError, OSError) as error:
        print(f"drillbook.course.student_view: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
