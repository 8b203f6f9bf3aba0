"""The "why" exercises of labs 3, 4, 7 and 8 (issue #11 item 7), read without a kernel: the
student predicts the kernel's cause (or a reset's reason) in an answer cell, a folded hint
follows, and an autograder test cell worth points compares the prediction with the kernel's
own explanation. The student versions hand out the question without the answer.

That the kernel gives the expected answer, as root and without root, is
tests/kernel/test_lab_why_kernel.py."""

from __future__ import annotations

from typing import Any

import pytest
from lab_why import WHY_LABS, WhyCheck, student, teacher, why_checks

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
