"""Export every lab once per test session and share the result (HTML and executed notebooks).

Executing the labs is what costs time (each ``%%drill`` cell is a real run against the kernel),
so test_labs.py, test_export.py and the browser test share one ``drillbook export`` run. The
lessons are built from the teacher versions (``course/source/<lab>/<lab>.ipynb``); the student
versions in ``labs/`` are generated from them by nbgrader (test_course.py).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[2]
LABS_DIR = ROOT / "labs"
COURSE_DIR = ROOT / "course"
# The teacher versions, one folder per lab as nbgrader wants them.
LABS = sorted(p for p in (COURSE_DIR / "source").glob("*/*.ipynb") if p.stem == p.parent.name)
# The student versions that `make labs` generates and the project commits.
STUDENT_LABS = sorted(LABS_DIR.glob("[0-9][0-9]-*.ipynb"))




@dataclass(frozen=True)
class Exports:
    """What ``drillbook export`` produced: exit status, stderr, HTML pages, executed labs."""

    status: int
    stderr: str
    out_dir: Path
    html: dict[str, str]
    executed: dict[str, Any]


@functools.cache
def exported_labs() -> Exports:
    """Run ``drillbook export course/source/*/*.ipynb --out DIR --executed DIR2`` once per
    session."""
    import contextlib
    import io

    from drillbook.commands.export import main

    base = Path(tempfile.mkdtemp(prefix="drillbook-lessons-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    out_dir, executed_dir = base / "html", base / "executed"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main([*map(str, LABS), "--out", str(out_dir), "--executed", str(executed_dir)])
    html = {p.stem: p.read_text(encoding="utf-8") for p in sorted(out_dir.glob("*.html"))}
    executed = {
        p.stem: nbformat.read(str(p), as_version=4) for p in sorted(executed_dir.glob("*.ipynb"))
    }
    return Exports(status, stderr.getvalue(), out_dir, html, executed)
