"""The course layer: solution regions, graded checks, leaks, lessons from teacher versions.

Pure logic over small texts and notebooks; one test holds :func:`student_source` to what
nbgrader's own ClearSolutions makes of the same cells with the course's configuration.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from drillbook import labkit
from drillbook.course.grading import CheckNotPassed, graded, grading_mode
from drillbook.course.leaks import find_leaks, solution_only_lines
from drillbook.course.regions import CODE_STUB, solution_regions, student_source, teacher_script
from drillbook.errors import ScriptSyntaxError
from drillbook.lessons.checks import Check
from drillbook.lessons.teacher import is_answer_cell, with_handouts

ROOT = Path(__file__).resolve().parents[2]

PREDICTION = """final_ack = None  # an integer
### BEGIN SOLUTION
final_ack = 8001
### END SOLUTION"""

EDIT = """%%drill --out nosack
+0  < S 0:0(0) win 32792 <mss 1000>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>   // EDIT ME
### BEGIN SOLUTION
+0  > S. 0:0(0) ack 1 <mss 1460>
### END SOLUTION
+.1 < . 1:1(0) ack 1 win 32792"""


def test_a_prediction_keeps_its_handed_out_line_and_loses_its_solution() -> None:
    assert student_source(PREDICTION) == "final_ack = None  # an integer\n"
    # No EDIT ME line above: the solution replaces nothing, it follows the handed-out line.
    assert teacher_script(PREDICTION) == "final_ack = None  # an integer\nfinal_ack = 8001"
    (region,) = solution_regions(PREDICTION)
    assert region.body == ("final_ack = 8001",) and (region.begin, region.end) == (1, 3)


def test_a_drill_edit_runs_the_fix_for_the_teacher_and_the_broken_line_for_the_student() -> None:
    student = student_source(EDIT).split("\n")
    teacher = teacher_script(EDIT).split("\n")
    assert student[2].endswith("// EDIT ME") and "sackOK" in student[2]
    assert teacher[2] == "+0  > S. 0:0(0) ack 1 <mss 1460>"
    assert all("EDIT ME" not in line and "SOLUTION" not in line for line in teacher)
    # Same line numbers in both: the line after the exercise is line 5 in each.
    assert len(teacher) == len(student)
    assert teacher[4] == student[4] == "+.1 < . 1:1(0) ack 1 win 32792"


def test_a_counted_region_replaces_unmarked_lines_and_an_empty_one_deletes() -> None:
    text = ("a\nb\nc  // EDIT ME\n### BEGIN SOLUTION (replaces 2 lines above)\nB\nC\n"
            "### END SOLUTION\nd")
    assert teacher_script(text).split("\n") == ["a", "B", "C", "", "d"]
    assert student_source(text).split("\n") == ["a", "b", "c  // EDIT ME", "", "d"]
    deleted = "a\nx  // EDIT ME\n### BEGIN SOLUTION\n### END SOLUTION\nb"
    assert teacher_script(deleted).split("\n") == ["a", "", "", "b"]
    added = "a\n### BEGIN SOLUTION\nnew\n### END SOLUTION\nb"
    assert teacher_script(added).split("\n") == ["a", "new", "b"]


@pytest.mark.parametrize(("text", "line", "says"), [
    ("a\n### BEGIN SOLUTION\nb", 2, "without an 'END SOLUTION'"),
    ("a\n### END SOLUTION", 2, "without a 'BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", 2, "inside another"),
    ("a\n### BEGIN SOLUTION (replaces 3 lines above)\n### END SOLUTION", 2, "only 1 lines"),
])
def test_a_broken_region_is_a_script_error_naming_its_line(text: str, line: int,
                                                            says: str) -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        teacher_script(text)
    assert caught.value.span.line == line and says in caught.value.render()
    assert caught.value.render().startswith(f"cell:{line}:1:")


def test_student_source_is_what_nbgrader_hands_out() -> None:
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    config = runpy.run_path(str(ROOT / "course" / "nbgrader_config.py"),
                            init_globals={"get_config": Config})["c"]
    assert config.ClearSolutions.code_stub == {"python": CODE_STUB}
    clear = ClearSolutions(config=config)
    indented = "    x = 1\n    ### BEGIN SOLUTION\n    x = 2\n    ### END SOLUTION"
    for text in (PREDICTION, EDIT, indented):
        cell = new_code_cell(text)
        cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "a"}
        clear._replace_solution_region(cell, "python")
        assert cell.source == student_source(text)


def test_checks_raise_only_while_nbgrader_grades() -> None:
    failed, passed = Check(False, "you expected 5"), Check(True, "as you expected")
    assert grading_mode({}) is None and grading_mode({"NBGRADER_EXECUTION": "autograde"})
    assert graded(failed, {}) is failed and graded(passed, {"NBGRADER_EXECUTION": "x"}) is passed
    with pytest.raises(CheckNotPassed) as caught:
        graded(failed, {"NBGRADER_EXECUTION": "validate"})
    assert caught.value._render_traceback_() == ["✘ Self-check not passed: you expected 5"]
    assert failed.text.startswith("✘ Self-check not passed yet:")
    assert 'data-drillbook-check="fail"' in failed.html() and "not passed yet" in failed.html()


def test_labkit_checks_are_graded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert "no answer yet" in labkit.check_packet(None, line=1, field="ack", expected=None).message
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(CheckNotPassed, match="no answer yet"):
        labkit.check_packet(None, line=1, field="ack", expected=None)


def _lab() -> Any:
    answer = new_code_cell(EDIT)
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "ex3"}
    check = new_code_cell("labkit.check_passed(nosack)")
    return new_notebook(cells=[new_markdown_cell("# Lab"), answer, check])


def test_a_lesson_shows_the_handout_and_runs_the_hidden_solution_after_it() -> None:
    lab = _lab()
    lesson = with_handouts(lab)
    handout, solution = lesson.cells[1], lesson.cells[2]
    assert handout.source == student_source(EDIT).rstrip("\n")
    assert "nbgrader" not in handout.metadata
    assert solution.source == EDIT and solution.metadata["tags"] == ["solution"]
    assert handout.id != solution.id and len(lesson.cells) == 4
    assert len(lab.cells) == 3 and is_answer_cell(lab.cells[1]) and not is_answer_cell(lab.cells[2])


def test_leaks_are_found_in_a_student_notebook() -> None:
    teacher = _lab()
    assert solution_only_lines(teacher) == ["+0  > S. 0:0(0) ack 1 <mss 1460>"]
    student = new_notebook(cells=[new_code_cell(student_source(EDIT))])
    assert find_leaks(teacher, student) == []
    leaky = new_notebook(cells=[new_code_cell(EDIT), new_code_cell("x = 1")])
    leaky.cells[1].metadata["tags"] = ["solution"]
    found = [leak.render() for leak in find_leaks(teacher, leaky)]
    assert found == ["cell 0: a solution region",
                     "cell 0: solution line '+0  > S. 0:0(0) ack 1 <mss 1460>'",
                     "cell 1: a cell tagged 'solution'"]


def test_every_check_a_lab_can_call_is_graded() -> None:
    from drillbook.lessons import checks

    names = [name for name in checks.__all__ if name.startswith("check_")]
    assert names
    for name in names:
        wrapped = getattr(labkit, name)
        assert wrapped is not getattr(checks, name), f"labkit.{name} is not graded"
        assert wrapped.__wrapped__ is getattr(checks, name)


def test_drillbook_labs_names_a_broken_teacher_version_without_running_nbgrader(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import nbformat

    from drillbook.commands.labs import main

    assert main(["--course", str(tmp_path / "nowhere")]) == 2
    assert "not a course folder" in capsys.readouterr().err
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    lab = tmp_path / "source" / "01-x" / "01-x.ipynb"
    lab.parent.mkdir(parents=True)
    unbalanced = new_code_cell("x = None\n### BEGIN SOLUTION\nx = 1")
    unbalanced.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "a"}
    unmarked = new_code_cell("### BEGIN SOLUTION\ny = 2\n### END SOLUTION")
    nbformat.write(new_notebook(cells=[unbalanced, unmarked]), str(lab))
    assert main(["--course", str(tmp_path), "--out", str(tmp_path / "labs")]) == 2
    err = capsys.readouterr().err
    assert f"{lab} cell 0:2:1: 'BEGIN SOLUTION' without an 'END SOLUTION'" in err
    assert f"{lab} cell 1: a solution region in a cell that is not an nbgrader answer" in err
    assert "Traceback" not in err and not (tmp_path / "labs").exists()


def test_exporting_a_student_version_says_to_export_the_teacher_version(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import nbformat

    from drillbook.commands.export import main
    from drillbook.lessons.teacher import is_student_version

    student = _lab()
    student.cells[1].source = student_source(EDIT)
    assert is_student_version(student) and not is_student_version(_lab())
    path = tmp_path / "labs" / "02-x.ipynb"
    path.parent.mkdir()
    nbformat.write(student, str(path))
    assert main([str(path), "--out", str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err
    assert "a student version" in err and "course/source/02-x/02-x.ipynb" in err
    assert not (tmp_path / "site").exists()
