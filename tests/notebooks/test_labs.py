"""The guided course: its shape, and every lab executed against the real kernel.

Static checks (no kernel) make sure each lab's teacher version (course/source/) has the parts a
lab needs, in nbgrader's model: answer cells with their solutions in regions, autograder test
cells with points. The executed checks run every teacher version once (nbclient, through
``drillbook export``, which runs each answer cell as handed out and then with its solution)
and require: no error output, every script passes except an "EDIT ME" exercise as handed out,
which fails (so there is something to fix), and every self-check passes.
"""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest
from kernel_support import missing_privilege
from lab_exports import LABS, LABS_DIR, ROOT, STUDENT_LABS, exported_labs

from drillbook.course.regions import solution_regions

TOPICS = {
    "handshake": "01-",
    "sack": "02-",
    "rto": "03-",
    "fast-retransmit": "04-",
    "flow-control": "05-",
    "nagle": "06-",
    "slow-start": "07-",
    "time-wait": "08-",
}

kernel_only = pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege()))


def _read(path: Any) -> Any:
    return nbformat.read(str(path), as_version=4)


def _tags(cell: Any) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _grading(cell: Any) -> dict[str, Any]:
    return dict(cell.metadata.get("nbgrader", {}))


def _drill_cells(notebook: Any) -> list[Any]:
    return [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("%%drill")]


def test_at_least_eight_labs_cover_the_course_topics() -> None:
    assert len(LABS) >= 8
    names = [path.name for path in LABS]
    for topic, prefix in TOPICS.items():
        assert any(n.startswith(prefix) and topic in n for n in names), topic


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_each_lab_has_goal_background_example_exercises_hints_solutions(path: Any) -> None:
    notebook = _read(path)
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert notebook.cells[0].source.startswith("# Lab ")
    assert "Learning goal" in text and "## Background" in text
    assert re.search(r"RFC \d{3,4} section \d", text), "background must cite RFC sections"
    assert "## Worked example" in text
    assert len(re.findall(r"^## Exercise \d", text, flags=re.MULTILINE)) >= 3
    assert "<summary><b>Hint</b></summary>" in text
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code[0].source.startswith("%load_ext drillbook")
    answers = [c for c in code if _grading(c).get("solution")]
    assert len(answers) >= 3
    assert all(solution_regions(c.source) for c in answers), "each answer holds its solution"
    assert not any("solution" in _tags(c) for c in code), "no hidden solution cells any more"
    # Each self-check is an autograder test cell worth points: a check shown in an ordinary
    # cell (say, of a demonstration, which reads no answer) would look like a passed exercise.
    tests = [c for c in code if _grading(c).get("grade")]
    assert len(tests) >= 3
    assert all(_grading(c).get("grade") for c in code if "labkit.check_" in c.source)
    for cell in tests:
        grading = _grading(cell)
        assert "labkit.check_" in cell.source
        assert grading.get("locked") and grading.get("points", 0) > 0
    ids = [_grading(c)["grade_id"] for c in code if _grading(c)]
    assert len(ids) == len(set(ids)), "nbgrader needs unique grade ids"
    assert any("EDIT ME" in c.source for c in _drill_cells(notebook) if c in answers), (
        "an edit exercise"
    )
    assert not any(cell.get("outputs") for cell in code), "labs are committed without outputs"


def test_readmes_list_every_lab() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Labs" in readme
    section = readme.split("## Labs", 1)[1]
    index = (LABS_DIR / "README.md").read_text()
    assert [p.name for p in STUDENT_LABS] == [p.name for p in LABS]
    for path in STUDENT_LABS:
        assert path.name in section, path.name
        assert path.name in index, path.name


@pytest.fixture(scope="module")
def executed() -> dict[str, Any]:
    exports = exported_labs()
    assert exports.status == 0, exports.stderr
    return exports.executed


def _verdict(cell: Any) -> str:
    for output in cell.get("outputs", ()):
        text = output.get("data", {}).get("text/plain", "")
        if text:
            return str(text)
    return ""


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_lab_runs_without_error_outputs(path: Any, executed: dict[str, Any]) -> None:
    notebook = executed[path.stem]
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", ()):
            assert output.output_type != "error", (index, output.get("evalue"))
            if output.output_type == "stream":
                assert "Traceback" not in output.text, (index, output.text)


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_scripts_pass_and_exercises_fail_as_handed_out(path: Any, executed: dict[str, Any]) -> None:
    handed_out = 0
    for cell in _drill_cells(executed[path.stem]):
        verdict = _verdict(cell)
        assert verdict, cell.source
        if "EDIT ME" in cell.source and "solution" not in _tags(cell):
            handed_out += 1
            assert not verdict.startswith("PASS"), f"exercise already passes:\n{cell.source}"
        else:  # a worked example, or an exercise with its solution (tagged by the export)
            assert verdict.startswith("PASS"), f"{verdict}\n{cell.source}"
    assert handed_out >= 1


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_every_self_check_passes_with_the_solutions(path: Any, executed: dict[str, Any]) -> None:
    notebook = executed[path.stem]
    states = []
    for cell in notebook.cells:
        for output in cell.get("outputs", ()):
            page = output.get("data", {}).get("text/html", "")
            states += re.findall(r'data-drillbook-check="(\w+)"', page)
    asked = sum(c.source.count("labkit.check_") for c in notebook.cells if c.cell_type == "code")
    assert len(states) == asked
    assert set(states) == {"pass"}, states

