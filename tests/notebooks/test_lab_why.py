"""The "why" exercises of labs 3, 4, 7 and 8 (issue #11 item 7), read without a kernel: the
student predicts the kernel's cause (or a reset's reason) in an answer cell, a folded hint
follows, and an autograder test cell worth points compares the prediction with the kernel's
own explanation. The student versions hand out the question without the answer.

An nbgrader round trip grades them: an assignment made of the why exercises themselves (each
lab's setup cell, the runs its checks measure and the exercise's cells, as the lab has them)
is generated, released, answered right by one student and wrong by another, autograded with
real runs, and the feedback gives the kernel's own cause or reason for each lost point.

That the kernel gives the expected answer, as root and without root, is
tests/kernel/test_lab_why_kernel.py."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_why import (
    COURSE,
    WHY_CHECKS,
    WHY_LABS,
    WhyCheck,
    student,
    teacher,
    why_checks,
    wrong_answer,
)
from test_course import COURSE_ID, _nbgrader, _page_text, kernel_only

from drillbook.course.regions import solution_regions

EXERCISES = [why for lab in WHY_LABS for why in why_checks(lab)]


def _grading(cell: Any) -> dict[str, Any]:
    return dict(cell.metadata.get("nbgrader", {}))


@pytest.mark.parametrize("lab", WHY_LABS)
def test_each_lab_has_a_why_exercise(lab: str) -> None:
    assert why_checks(lab), f"{lab}: no labkit.check_cause/check_causes/check_reset_reason"


@pytest.mark.parametrize("why", EXERCISES, ids=lambda w: f"{w.lab}-{w.run}")
def test_the_why_check_is_a_graded_autograder_test(why: WhyCheck) -> None:
    cells = teacher(why.lab).cells
    check, answer = cells[why.check_cell], cells[why.answer_cell]
    grading = _grading(check)
    assert grading.get("grade") and grading.get("locked") and grading.get("points", 0) > 0
    assert not grading.get("solution")
    assert _grading(answer).get("solution") and not _grading(answer).get("grade")
    assert solution_regions(answer.source), "the teacher's answer is in a solution region"
    assert why.answer_cell < why.check_cell
    between = cells[why.answer_cell + 1 : why.check_cell]
    assert any(c.cell_type == "markdown" and "<summary><b>Hint</b></summary>" in c.source
               for c in between), "a folded hint between the answer and its check"
    prompt = next(c for c in reversed(cells[: why.answer_cell]) if c.cell_type == "markdown")
    assert prompt.source.startswith("## Exercise") and "**Before**" in prompt.source, (
        "the prompt asks for a prediction before the student looks at the explanations")
    # Unanswered is not a pass (the check never reads the run then).
    assert not why.check(None, None).ok


@pytest.mark.parametrize("why", EXERCISES, ids=lambda w: f"{w.lab}-{w.run}")
def test_the_student_version_asks_without_answering(why: WhyCheck) -> None:
    cells = {c.get("id"): c for c in student(why.lab).cells}
    taught = teacher(why.lab).cells
    answer = cells[taught[why.answer_cell].get("id")]
    assert f"{why.answer} = None" in answer.source
    assert "SOLUTION" not in answer.source and repr(why.solution) not in answer.source
    check = cells[taught[why.check_cell].get("id")]
    assert check.source == taught[why.check_cell].source
    assert _grading(check).get("grade") and _grading(check).get("points", 0) > 0


# --- graded by nbgrader, with real runs -------------------------------------------------------

ASSIGNMENT = "why"


def _why_cells(lab: str) -> list[Any]:
    """Lab ``lab``'s setup cell, the runs its why checks measure, and each why exercise from
    its prompt to its check; ids and grade ids prefixed with the lab's number (unique)."""
    cells = teacher(lab).cells
    exercises = [w for w in EXERCISES if w.lab == lab]
    runs = {w.run for w in exercises}
    picked = [next(i for i, c in enumerate(cells) if c.source.startswith("%load_ext drillbook"))]
    picked += [i for i, c in enumerate(cells) if c.cell_type == "code"
               and re.match(rf"%%drill .*--out ({'|'.join(runs)})\b", c.source)]
    for why in exercises:
        prompt = max(i for i in range(why.answer_cell) if cells[i].cell_type == "markdown")
        picked += range(prompt, why.check_cell + 1)
    prefix = lab[:2]
    chosen = []
    for index in dict.fromkeys(picked):  # in order, once each
        cell = copy.deepcopy(cells[index])
        cell["id"] = f"{prefix}-{cell.get('id', index)}"
        grading = cell.metadata.get("nbgrader")
        if grading:
            grading["grade_id"] = f"{prefix}-{grading['grade_id']}"
        chosen.append(cell)
    return chosen


def _answered(path: Path, *, right: bool) -> None:
    """Each answer cell as a student who found every answer leaves it, or with each why
    prediction wrong (the cell's other answers right, so only the why is at stake)."""
    notebook = nbformat.read(str(path), as_version=4)
    for why in EXERCISES:
        scope: dict[str, Any] = {}
        exec(teacher(why.lab).cells[why.answer_cell].source, scope)  # the teacher's answers
        wrong = {w.answer: wrong_answer(w) for w in EXERCISES if w.lab == why.lab}
        for cell in notebook.cells:
            if re.search(rf"^{re.escape(why.answer)} = None\b", cell.source, flags=re.MULTILINE):
                names = re.findall(r"^(\w+) = None\b", cell.source, flags=re.MULTILINE)
                cell.source += "".join(
                    f"\n{name} = {(scope[name] if right else wrong.get(name, scope[name]))!r}"
                    for name in names)
    nbformat.write(notebook, str(path))


@pytest.mark.kernel
@pytest.mark.slow
@kernel_only
def test_nbgrader_grades_the_why_exercises_with_the_kernels_reasons(tmp_path: Path) -> None:
    course = tmp_path / "course"
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text((COURSE.parent / "nbgrader_config.py").read_text())
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = teacher(WHY_LABS[0]).metadata
    notebook.cells = [cell for lab in WHY_LABS for cell in _why_cells(lab)]
    nbformat.write(notebook, str(source / f"{ASSIGNMENT}.ipynb"))
    _nbgrader("generate_assignment", ASSIGNMENT, cwd=course)
    # Submissions placed where nbgrader's collect puts them (test_course.py goes through
    # release, fetch, submit and collect; here only the grading is at stake).
    for name, right in (("alice", True), ("bob", False)):
        submitted = course / "submitted" / name / ASSIGNMENT
        submitted.mkdir(parents=True)
        shutil.copy(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", submitted)
        _answered(submitted / f"{ASSIGNMENT}.ipynb", right=right)
    _nbgrader("autograde", ASSIGNMENT, cwd=course)
    _nbgrader("generate_feedback", ASSIGNMENT, cwd=course)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        scores = {s: gradebook.find_submission(ASSIGNMENT, s).score for s in ("alice", "bob")}
    graded = [c for c in notebook.cells if _grading(c).get("grade")]
    assert len(graded) >= len(WHY_LABS)
    assert all(any(f"labkit.{f}(" in c.source for f in WHY_CHECKS) for c in graded)
    points = sum(_grading(c).get("points", 0) for c in graded)
    # Alice predicted what the kernel says: every point. Bob predicted wrong: none.
    assert scores == {"alice": points, "bob": 0}, (scores, points)
    alice = _page_text(course / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert "Why? not passed" not in alice
    assert alice.count("Why? passed:") == len(EXERCISES), alice  # one per labkit call
    # Bob's feedback gives, for each lost point, what the kernel said and why.
    bob = _page_text(course / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert bob.count("Why? not passed:") == len(graded), bob
    for phrase in ("the kernel says line 12: tlp", "tlp: tail loss probe",
                   "cause=fast-retransmit", "cause=rto", "reason=TCP_ABORT_ON_CLOSE"):
        assert phrase in bob, phrase
