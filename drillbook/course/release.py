"""The student labs, made from the teacher versions by nbgrader's own ``generate_assignment``.

``course/source/<lab>/<lab>.ipynb`` (teacher version) -> ``labs/<lab>.ipynb`` (student
version, committed). nbgrader runs on a scratch copy of the course folder, so its gradebook and
release folder never land in the project; the notebooks it writes are copied byte for byte.
:func:`stale_labs` says which committed student labs differ from what generation gives, which
is how a test keeps ``labs/`` from drifting away from ``course/source/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from drillbook.course.leaks import find_leaks
from drillbook.course.regions import solution_regions
from drillbook.errors import DrillbookError

__all__ = [
    "CourseError",
    "ReleaseError",
    "StudentLab",
    "generate_student_labs",
    "leaks_in",
    "nbgrader_command",
    "stale_labs",
    "teacher_labs",
    "teacher_problems",
    "write_student_labs",
]

CONFIG_FILE = "nbgrader_config.py"


class ReleaseError(DrillbookError):
    """The student labs could not be generated: nbgrader is missing or failed."""

    exit_code = 3


class CourseError(ReleaseError):
    """The course folder is not one, or a teacher version is broken (the author's mistake)."""

    exit_code = 2


@dataclass(frozen=True)
class StudentLab:
    """One generated student lab: its file name (``02-sack-out-of-order.ipynb``) and text."""

    name: str
    text: str


def teacher_labs(course_dir: Path) -> list[Path]:
    """The teacher versions, ``course_dir/source/<lab>/<lab>.ipynb``, in lab order."""
    source = course_dir / "source"
    return sorted(p for p in source.glob("*/*.ipynb") if p.stem == p.parent.name)


def nbgrader_command() -> list[str]:
    """How to start nbgrader: the one installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "nbgrader"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("nbgrader")
    if found is None:
        raise ReleaseError(
            "nbgrader is not installed: pip install 'drillbook[course]' (make setup does)"
        )
    return [found]


def _environment() -> dict[str, str]:
    # nbgrader runs its database migrations with the `alembic` command found on PATH.
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("NBGRADER_EXECUTION", None)
    return env


def teacher_problems(path: Path) -> list[str]:
    """What keeps nbgrader from making a student version of the teacher version at ``path``:
    a broken solution region (file, cell, line, column, what was expected) or a region in a
    cell that is not marked as an nbgrader answer cell."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = list(notebook["cells"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"{path}: not a notebook: {error}"]
    problems: list[str] = []
    for index, cell in enumerate(cells):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        try:
            regions = solution_regions(text, path=f"{path} cell {index}")
        except DrillbookError as error:
            problems.append(error.render())
            continue
        if regions and not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            problems.append(f"{path} cell {index}: a solution region in a cell that is not an "
                            "nbgrader answer cell (metadata nbgrader.solution: true)")
    return problems


def generate_student_labs(course_dir: Path) -> list[StudentLab]:
    """Run ``nbgrader generate_assignment`` for every lab of ``course_dir`` (on a scratch copy)
    and return the student notebooks it writes."""
    labs = teacher_labs(course_dir)
    config = course_dir / CONFIG_FILE
    if not config.is_file() or not labs:
        raise CourseError(
            f"{course_dir}: not a course folder (it needs {CONFIG_FILE} and "
            "source/<lab>/<lab>.ipynb)"
        )
    problems = [problem for lab in labs for problem in teacher_problems(lab)]
    if problems:
        raise CourseError("\n".join(problems))
    with tempfile.TemporaryDirectory(prefix="drillbook-labs-") as scratch:
        root = Path(scratch)
        shutil.copy(config, root / CONFIG_FILE)
        for lab in labs:
            (root / "source" / lab.stem).mkdir(parents=True)
            shutil.copy(lab, root / "source" / lab.stem / lab.name)
        command = [*nbgrader_command(), "generate_assignment", "*", "--force"]
        done = subprocess.run(command, cwd=root, env=_environment(), capture_output=True,
                              text=True, check=False)
        outputs = [root / "release" / lab.stem / lab.name for lab in labs]
        missing = [path for path in outputs if not path.is_file()]
        if done.returncode != 0 or missing:
            errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
            detail = "\n".join(errors[-12:]) or done.stderr[-2000:]
            raise ReleaseError(f"nbgrader generate_assignment failed:\n{detail}")
        return [StudentLab(path.name, path.read_text(encoding="utf-8")) for path in outputs]


def write_student_labs(labs: list[StudentLab], out_dir: Path) -> list[Path]:
    """Write ``labs`` into ``out_dir``; returns the files that changed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for lab in labs:
        target = out_dir / lab.name
        if not target.is_file() or target.read_text(encoding="utf-8") != lab.text:
            target.write_text(lab.text, encoding="utf-8")
            changed.append(target)
    return changed


def stale_labs(labs: list[StudentLab], out_dir: Path) -> list[str]:
    """Student labs in ``out_dir`` that are missing, differ from ``labs``, or have no teacher
    version (``NN-*.ipynb`` files only)."""
    expected = {lab.name: lab.text for lab in labs}
    stale = []
    for name, text in expected.items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    for path in sorted(out_dir.glob("[0-9][0-9]-*.ipynb")):
        if path.name not in expected:
            stale.append(path.name)
    return stale


def leaks_in(course_dir: Path, labs: list[StudentLab]) -> list[str]:
    """Every place where a generated student lab still shows a solution of its teacher
    version (none, unless a solution sits outside the regions nbgrader removes)."""
    found: list[str] = []
    for lab in labs:
        teacher_path = course_dir / "source" / Path(lab.name).stem / lab.name
        teacher = json.loads(teacher_path.read_text(encoding="utf-8"))
        student = json.loads(lab.text)
        found += [f"{lab.name}: {leak.render()}" for leak in find_leaks(teacher, student)]
    return found
