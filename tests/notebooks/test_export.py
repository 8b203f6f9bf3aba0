"""``drillbook export``: every lab becomes one self-contained HTML lesson.

The lessons come from one shared export run (lab_exports.py). Each must have its figures
inline, load nothing from the network, leave the solutions out and keep working
precomputed-variant players. The failure paths (an error output, a failing self-check, a
missing file) use tiny notebooks and need a Jupyter kernel but no network namespace.
"""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_support import missing_privilege
from lab_exports import LABS, exported_labs
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from drillbook.commands.export import main
from drillbook.course.leaks import solution_only_lines
from drillbook.lessons.offline import network_resources

kernel_only = pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege()))


@pytest.fixture(scope="module")
def lessons() -> dict[str, str]:
    exports = exported_labs()
    assert exports.status == 0, exports.stderr
    return exports.html


def _text(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces squeezed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _solution_only_lines(path: Path) -> list[str]:
    """Lines of the lab's solution regions that appear nowhere else in it."""
    return solution_only_lines(nbformat.read(str(path), as_version=4))


@pytest.mark.kernel
@kernel_only
def test_one_lesson_per_lab(lessons: dict[str, str]) -> None:
    assert sorted(lessons) == sorted(path.stem for path in LABS)


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_lesson_embeds_its_figures(path: Path, lessons: dict[str, str]) -> None:
    page = lessons[path.stem]
    sources = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", page)
    assert sources, "no figure in the lesson"
    assert all(src.startswith("data:image/") for src in sources), sources[:3]
    notebook = nbformat.read(str(path), as_version=4)
    shown = [c for c in notebook.cells if c.source.startswith("%%drill")
             and "solution" not in c.metadata.get("tags", [])]
    assert len(sources) >= len(shown)


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_lesson_loads_nothing_from_the_network(path: Path, lessons: dict[str, str]) -> None:
    page = lessons[path.stem]
    assert network_resources(page) == []
    for tag in re.findall(r"<(?:script|link|iframe|img|source)\b[^>]*>", page, re.IGNORECASE):
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", tag), tag
    assert "require.min.js" not in page and "MathJax.js" not in page


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_lesson_hides_the_solutions(path: Path, lessons: dict[str, str]) -> None:
    page = lessons[path.stem]
    assert "celltag_solution" not in page
    text = _text(page)
    secret = _solution_only_lines(path)
    assert secret, "the lab has no solution of its own"
    for line in secret:
        assert " ".join(line.split()) not in text, line
    assert "Exercise 1" in text and "Learning goal" in text


@pytest.mark.kernel
@kernel_only
def test_lessons_carry_precomputed_variant_players(lessons: dict[str, str]) -> None:
    players = 0
    for page in lessons.values():
        for block in re.findall(r'<div class="drillbook-variants".*?</script>', page, re.DOTALL):
            players += 1
            digests = re.findall(r'data-digest="(\w+)"', block)
            assert len(digests) >= 2 and len(set(digests)) == len(digests), digests
            assert block.count("<button") == len(digests)
    assert players >= 5


def _notebook(tmp_path: Path, *sources: str) -> Path:
    notebook = new_notebook(cells=[new_markdown_cell("# A lesson")]
                            + [new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = tmp_path / "lesson.ipynb"
    nbformat.write(notebook, str(path))
    return path


def test_error_output_fails_the_export(tmp_path: Path, capsys: Any) -> None:
    path = _notebook(tmp_path, "x = 1", "raise ValueError('boom')")
    assert main([str(path), "--out", str(tmp_path / "out")]) == 1
    assert "ValueError: boom" in capsys.readouterr().err
    assert not (tmp_path / "out" / "lesson.html").exists()


def test_failing_self_check_fails_the_export(tmp_path: Path, capsys: Any) -> None:
    path = _notebook(tmp_path, "from drillbook import labkit\nlabkit.Check(False, 'not yet')")
    assert main([str(path), "--out", str(tmp_path / "out")]) == 1
    assert "a self-check fails with the solutions" in capsys.readouterr().err


def test_export_of_a_plain_notebook_is_self_contained(tmp_path: Path) -> None:
    source = (
        "from drillbook import labkit\n"
        "labkit.variants('demo', {'a': b'\\x89PNG-a', 'b': b'\\x89PNG-b', 'c': b'\\x89PNG-c'})"
    )
    solution = new_code_cell("answer = 42")
    solution.metadata["tags"] = ["solution"]
    path = _notebook(tmp_path, source)
    notebook = nbformat.read(str(path), as_version=4)
    notebook.cells.append(solution)
    nbformat.write(notebook, str(path))
    assert main([str(path), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "lesson.html").read_text()
    assert network_resources(page) == []
    assert 'id="drillbook-variants-demo"' in page and page.count("data-digest=") == 3
    assert "answer" not in _text(page)
    assert "<title>A lesson</title>" in page


def test_usage_errors(tmp_path: Path, capsys: Any) -> None:
    assert main([str(tmp_path / "missing.ipynb"), "--out", str(tmp_path)]) == 2
    assert "no such notebook" in capsys.readouterr().err
    assert main(["--out", str(tmp_path)]) == 2
