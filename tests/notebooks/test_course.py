"""The labs as an nbgrader course: student labs without solutions, generated, and graded.

- labs/ holds no solution: no cell tagged ``solution``, no solution region, no line that the
  teacher version has only inside its solution regions (static, over every lab);
- labs/ is exactly what ``nbgrader generate_assignment`` makes of course/source/ (real
  nbgrader on a scratch copy of the course folder), so the two cannot drift apart;
- a student's *Run All* of every unanswered lab runs to the end and passes no check: every
  autograder test cell shows a red box (so it raises under nbgrader: zero points) and no box
  shows outside one;
- a round trip with real nbgrader on a real course folder in a temporary directory:
  generate, release, two students fetch and submit (one right, one wrong, whom
  ``nbgrader validate`` warns first), collect,
  autograde (real runs against the kernel), feedback. The right one scores full marks; the
  wrong one less, and its feedback says why.

The round trip uses lab 1, the smallest (four ``%%drill`` cells, no precomputed variants).
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_support import missing_privilege
from lab_exports import COURSE_DIR, LABS, LABS_DIR, STUDENT_LABS
from once_per_session import filled_once

from drillbook.course.leaks import solution_only_lines
from drillbook.course.regions import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    solution_regions,
    teacher_script,
)
from drillbook.course.release import generate_student_labs, nbgrader_command, stale_labs

SMALL_LAB = "01-handshake-teardown"
kernel_only = pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege()))
COURSE_ID = "drillbook"


def _read(path: Path) -> Any:
    return nbformat.read(str(path), as_version=4)


def _grading(cell: Any) -> dict[str, Any]:
    return dict(cell.metadata.get("nbgrader", {}))


# --- no solution in labs/ -----------------------------------------------------------------


def test_every_teacher_version_has_a_student_lab() -> None:
    assert [p.name for p in STUDENT_LABS] == [p.name for p in LABS]


@pytest.mark.parametrize("teacher", LABS, ids=lambda p: p.stem)
def test_student_lab_contains_no_solution(teacher: Path) -> None:
    student = _read(LABS_DIR / teacher.name)
    secret = solution_only_lines(_read(teacher))
    assert secret, "the teacher version holds no solution of its own"
    for index, cell in enumerate(student.cells):
        assert "solution" not in cell.metadata.get("tags", []), index
        assert BEGIN_SOLUTION not in cell.source and END_SOLUTION not in cell.source, index
        lines = {line.strip() for line in cell.source.splitlines()}
        assert not lines & set(secret), (index, sorted(lines & set(secret)))


@pytest.mark.parametrize("teacher", LABS, ids=lambda p: p.stem)
def test_student_lab_keeps_its_exercises_and_graded_checks(teacher: Path) -> None:
    student = _read(LABS_DIR / teacher.name)
    answers = [c for c in student.cells if _grading(c).get("solution")]
    checks = [c for c in student.cells if _grading(c).get("grade")]
    assert len(answers) >= 3 and len(checks) >= 3
    # What the student starts from: a prediction still None, or a script still to fix.
    assert all("= None" in c.source or "EDIT ME" in c.source for c in answers)
    assert all(c.metadata.get("editable") is False for c in checks), "tests are read-only"


def _drill_output(source: str) -> str | None:
    """The variable a ``%%drill --out NAME`` cell stores its run in, if any."""
    found = re.match(r"%%drill\b[^\n]*--out[ =](\w+)", source)
    return found.group(1) if found else None


@pytest.mark.parametrize("teacher", LABS, ids=lambda p: p.stem)
def test_worked_examples_a_check_measures_are_read_only(teacher: Path) -> None:
    """A check that reads a worked example's run grades what the kernel did in that run, so
    the student must not be able to edit the example into another one: nbgrader's read-only
    (locked) cells, which generate_assignment makes uneditable and autograde restores."""
    student = _read(LABS_DIR / teacher.name)
    examples = {
        name: cell
        for cell in student.cells
        if cell.cell_type == "code"
        and not _grading(cell).get("solution")
        and (name := _drill_output(cell.source))
    }
    measured = {
        name
        for cell in student.cells
        if _grading(cell).get("grade")
        for name in examples
        if re.search(rf"\b{name}\b", cell.source)
    }
    unlocked = [
        name
        for name in sorted(measured)
        if not (
            _grading(examples[name]).get("locked")
            and examples[name].metadata.get("editable") is False
        )
    ]
    assert not unlocked, f"worked examples a check measures but a student can edit: {unlocked}"


# --- labs/ is what nbgrader generates -----------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> Any:
    return generate_student_labs(COURSE_DIR)


def test_labs_are_exactly_what_nbgrader_generates(generated: Any) -> None:
    assert [lab.name for lab in generated] == [p.name for p in STUDENT_LABS]
    assert stale_labs(generated, LABS_DIR) == [], "run 'make labs' and commit labs/"


def test_a_drifted_or_orphan_student_lab_is_reported(generated: Any, tmp_path: Path) -> None:
    for lab in generated:
        (tmp_path / lab.name).write_text(lab.text, encoding="utf-8")
    assert stale_labs(generated, tmp_path) == []
    drifted = tmp_path / generated[1].name
    drifted.write_text(drifted.read_text().replace("Lab ", "Lab  ", 1), encoding="utf-8")
    (tmp_path / "99-orphan.ipynb").write_text("{}", encoding="utf-8")
    assert stale_labs(generated, tmp_path) == [generated[1].name, "99-orphan.ipynb"]


# --- executed: a student's Run All, and nbgrader's round trip ----------------------------


def _nbgrader(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [*nbgrader_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _check_states(notebook: Any) -> list[tuple[str, str]]:
    states = []
    for cell in notebook.cells:
        for output in cell.get("outputs", ()):
            page = output.get("data", {}).get("text/html", "")
            for state in re.findall(r'data-drillbook-check="(\w+)"', page):
                states.append((state, output["data"].get("text/plain", "")))
    return states


def _run_all(lab: str, folder: Path) -> Any:
    """A student's *Run All* of ``lab`` as handed out (not under nbgrader), in ``folder``."""
    from nbclient import NotebookClient

    notebook = _read(LABS_DIR / f"{lab}.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute(env=env)
    return notebook


def _run_all_unanswered(folder: Path) -> None:
    """Every student lab run as handed out, three at a time (a lab mostly waits on the
    kernel's timers, so this takes about a third of running them one after another); each
    executed notebook saved in ``folder``."""
    from concurrent.futures import ThreadPoolExecutor

    labs = [p.stem for p in STUDENT_LABS]
    (folder / "run").mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        for lab, notebook in zip(labs, pool.map(lambda lab: _run_all(lab, folder / "run"), labs),
                                 strict=True):
            nbformat.write(notebook, str(folder / f"{lab}.ipynb"))


@pytest.fixture(scope="module")
def unanswered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every student lab run once as handed out, once per test session (whichever worker
    comes first runs them; see once_per_session.py)."""
    folder = filled_once(tmp_path_factory, "unanswered-labs", _run_all_unanswered)
    return {p.stem: _read(folder / f"{p.stem}.ipynb") for p in STUDENT_LABS}


def _only(cell: Any) -> Any:
    return nbformat.from_dict({"cells": [cell]})


@pytest.mark.kernel
@pytest.mark.slow
@kernel_only
@pytest.mark.parametrize("lab", [p.stem for p in STUDENT_LABS])
def test_run_all_of_an_unanswered_student_lab_passes_no_check(
    lab: str, unanswered: dict[str, Any]
) -> None:
    """Every lab, as handed out and run from top to bottom: no graded check passes (each test
    cell shows a red box, so under nbgrader each raises and the lab scores zero), and no box
    shows outside an autograder test cell (a demonstration does not look like a pass)."""
    notebook = unanswered[lab]
    errors = [o for c in notebook.cells for o in c.get("outputs", ()) if o.output_type == "error"]
    assert errors == [], "Run All must reach the end"
    states = _check_states(notebook)
    asked = sum(c.source.count("labkit.check_") for c in notebook.cells if c.cell_type == "code")
    assert len(states) == asked >= 3
    passed = [text for state, text in states if state != "fail"]
    assert passed == [], f"{lab}: passed with no answer: {passed}"
    assert all("not passed yet" in text for _, text in states), states
    graded = {i for i, c in enumerate(notebook.cells) if _grading(c).get("grade")}
    shown = {i for i, c in enumerate(notebook.cells) if _check_states(_only(c))}
    assert shown <= graded, f"self-check boxes outside test cells: {shown - graded}"
    assert graded <= shown, f"test cells without a red box: {graded - shown}"


def _page_text(path: Path) -> str:
    """An HTML page's text: scripts and styles dropped, tags removed, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(), flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _right(teacher_source: str) -> str:
    """What a student who found the answer has in the cell."""
    if teacher_source.startswith("%%drill"):
        return teacher_script(teacher_source)
    return "\n".join(line for region in solution_regions(teacher_source) for line in region.body)


def _wrong_value(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 2 + 1
    if isinstance(value, list | tuple):
        return list(reversed(value)) if len(value) > 1 else [*value, *value]
    raise AssertionError(f"no wrong answer made for {value!r}")


def _wrong(teacher_source: str, handed_out: str) -> str:
    """A prediction with every value wrong (same type); a script left as handed out."""
    if teacher_source.startswith("%%drill"):
        return handed_out
    lines = []
    for region in solution_regions(teacher_source):
        tree = ast.parse("\n".join(region.body))
        for node in tree.body:
            assert isinstance(node, ast.Assign), ast.dump(node)
            target = ast.unparse(node.targets[0])
            lines.append(f"{target} = {_wrong_value(ast.literal_eval(node.value))!r}")
    return "\n".join(lines)


def _answer(path: Path, teacher: Any, *, right: bool) -> None:
    notebook = _read(path)
    solutions = {
        _grading(c)["grade_id"]: c.source for c in teacher.cells if _grading(c).get("solution")
    }
    for cell in notebook.cells:
        grade_id = _grading(cell).get("grade_id")
        if grade_id in solutions:
            source = solutions[grade_id]
            cell.source = _right(source) if right else _wrong(source, cell.source)
    nbformat.write(notebook, str(path))


@pytest.mark.kernel
@pytest.mark.slow
@kernel_only
@pytest.mark.parametrize("lab", [SMALL_LAB])
def test_nbgrader_round_trip_scores_right_and_wrong_answers(lab: str, tmp_path: Path) -> None:
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    (course / "source").mkdir(parents=True)
    shutil.copy(COURSE_DIR / "nbgrader_config.py", course)
    shutil.copytree(COURSE_DIR / "source" / lab, course / "source" / lab)
    teacher = _read(course / "source" / lab / f"{lab}.ipynb")
    exchange_flag = f"--Exchange.root={exchange}"

    _nbgrader("generate_assignment", lab, cwd=course)
    release = course / "release" / lab / f"{lab}.ipynb"
    assert release.read_text() == (LABS_DIR / f"{lab}.ipynb").read_text()
    _nbgrader("release_assignment", lab, exchange_flag, cwd=course)
    for student, right in (("alice", True), ("bob", False)):
        home = tmp_path / student
        home.mkdir()
        _nbgrader("fetch_assignment", lab, f"--course={COURSE_ID}", exchange_flag, cwd=home)
        _answer(home / lab / f"{lab}.ipynb", teacher, right=right)
        if not right:  # what the Validate button tells Bob before he submits
            said = _nbgrader("validate", f"{lab}/{lab}.ipynb", cwd=home)
            tests = sum(1 for c in teacher.cells if _grading(c).get("grade"))
            assert f"VALIDATION FAILED ON {tests} CELL(S)" in said, said
            assert said.count("Self-check not passed:") == tests, said
        # Both students are this test's own account: --student names the submitter, as
        # nbgrader allows (on a hub each student submits as their own Unix user).
        _nbgrader(
            "submit", lab, f"--course={COURSE_ID}", f"--student={student}", exchange_flag, cwd=home
        )
    _nbgrader("collect", lab, exchange_flag, cwd=course)
    _nbgrader("autograde", lab, cwd=course)
    _nbgrader("generate_feedback", lab, cwd=course)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        scores = {
            s: (
                gradebook.find_submission(lab, s).score,
                gradebook.find_submission(lab, s).max_score,
            )
            for s in ("alice", "bob")
        }
    points = sum(_grading(c).get("points", 0) for c in teacher.cells if _grading(c).get("grade"))
    assert points >= 3
    assert scores["alice"] == (points, points), scores
    assert scores["bob"][0] < points, scores

    # Bob's feedback gives each lost point's reason in the check's own words.
    bob = _page_text(course / "feedback" / "bob" / lab / f"{lab}.html")
    assert bob.count("Self-check not passed:") == points, "one reason per lost point"
    assert "you expected" in bob
    assert "the kernel disagreed with your script" in bob
    alice = _page_text(course / "feedback" / "alice" / lab / f"{lab}.html")
    assert "Self-check not passed" not in alice and alice.count("Self-check passed:") == points
    graded = json.loads((course / "autograded" / "alice" / lab / f"{lab}.ipynb").read_text())
    outputs = [o for cell in graded["cells"] for o in cell.get("outputs", [])]
    assert outputs and all(o.get("output_type") != "error" for o in outputs)
