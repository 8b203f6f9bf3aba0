"""Export every lab once per test session and share the result (HTML and executed notebooks).

Executing the labs is what costs time (each ``%%drill`` cell is a real run against the kernel),
so test_labs.py, test_export.py and the browser test share the ``drillbook export`` runs: the
browser test needs one lesson (:func:`exported_lab`, run alone when it comes first, as it does
in ``pytest tests/browser``), and :func:`exported_labs` exports the labs not exported yet. The
lessons are built from the teacher versions (``course/source/<lab>/<lab>.ipynb``); the student
versions in ``labs/`` are generated from them by nbgrader (test_course.py).

A lab mostly waits on the kernel's timers, so the labs are exported three at a time, one
``drillbook export LAB --out DIR --executed DIR2`` command each (the command a teacher runs,
into the same two folders): about half the wall time of exporting them one after another.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
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
def _folder() -> Path:
    base = Path(tempfile.mkdtemp(prefix="drillbook-lessons-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    return base


# Each lab exported so far: (exit status, stderr) of the export run it was part of.
_EXPORTED: dict[str, tuple[int, str]] = {}


EXPORTS_AT_ONCE = 3


def _export(labs: list[Path]) -> None:
    """``drillbook export LAB --out DIR --executed DIR2`` for each lab, into the session's
    folder, ``EXPORTS_AT_ONCE`` at a time."""
    base = _folder()

    def export(lab: Path) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "drillbook", "export", str(lab), "--out", str(base / "html"),
             "--executed", str(base / "executed")],
            capture_output=True, text=True, cwd=ROOT, check=False)
        return done.returncode, done.stderr

    with ThreadPoolExecutor(max_workers=EXPORTS_AT_ONCE) as pool:
        for lab, result in zip(labs, pool.map(export, labs), strict=True):
            _EXPORTED[lab.stem] = result


def exported_lab(stem: str) -> tuple[int, str, Path]:
    """Exit status, stderr and HTML lesson of one lab (exported alone unless it is already)."""
    if stem not in _EXPORTED:
        _export([lab for lab in LABS if lab.stem == stem])
    status, stderr = _EXPORTED[stem]
    return status, stderr, _folder() / "html" / f"{stem}.html"


@functools.cache
def exported_labs() -> Exports:
    """Every lab exported (those not exported yet, three at a time)."""
    missing = [lab for lab in LABS if lab.stem not in _EXPORTED]
    if missing:
        _export(missing)
    runs = {_EXPORTED[lab.stem] for lab in LABS}
    status = max(run_status for run_status, _ in runs)
    stderr = "".join(sorted(run_stderr for _, run_stderr in runs))
    out_dir, executed_dir = _folder() / "html", _folder() / "executed"
    html = {p.stem: p.read_text(encoding="utf-8") for p in sorted(out_dir.glob("*.html"))}
    executed = {
        p.stem: nbformat.read(str(p), as_version=4) for p in sorted(executed_dir.glob("*.ipynb"))
    }
    return Exports(status, stderr, out_dir, html, executed)
