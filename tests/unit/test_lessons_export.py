"""HTML lessons from notebooks that already have their outputs (no kernel needed)."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from drillbook.cli import main as cli_main
from drillbook.lessons.build import export_lesson, failed_checks, lesson_title
from drillbook.lessons.execute import LessonError, error_outputs
from drillbook.lessons.export import lesson_html
from drillbook.lessons.offline import network_resources

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfigure").decode()


def _lesson() -> nbformat.NotebookNode:
    figure = new_code_cell("show()", outputs=[
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        new_output("display_data", data={
            "text/html": '<script src="https://cdn.example.org/lib.js"></script><b>shown</b>',
            "text/plain": "x"}),
    ])
    secret = new_code_cell("the_answer = 42")
    secret.metadata["tags"] = ["solution"]
    return new_notebook(cells=[new_markdown_cell("# Lab 9: a title\n\ntext"), figure, secret])


def test_lesson_html_embeds_hides_and_strips() -> None:
    page = lesson_html(_lesson(), title="Lab 9")
    assert f"data:image/png;base64,{PNG}" in page
    assert "the_answer" not in page
    assert "<b>shown</b>" in page
    assert network_resources(page) == []
    assert "cdn.example.org" not in page
    assert "<title>Lab 9</title>" in page


def test_export_without_execution_uses_saved_outputs(tmp_path: Path) -> None:
    path = tmp_path / "lab9.ipynb"
    nbformat.write(_lesson(), str(path))
    written = export_lesson(path, tmp_path / "out", execute=False)
    assert written == tmp_path / "out" / "lab9.html"
    assert "the_answer" not in written.read_text()


def test_saved_error_output_fails_the_export(tmp_path: Path) -> None:
    notebook = _lesson()
    notebook.cells.append(new_code_cell("1/0", outputs=[
        new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]))
    assert [p.render() for p in error_outputs(notebook)] == [
        "cell 3: ZeroDivisionError: division by zero"]
    path = tmp_path / "bad.ipynb"
    nbformat.write(notebook, str(path))
    with pytest.raises(LessonError, match="ZeroDivisionError"):
        export_lesson(path, tmp_path / "out", execute=False)


def test_title_and_failed_checks() -> None:
    notebook = _lesson()
    assert lesson_title(notebook, Path("x.ipynb")) == "Lab 9: a title"
    assert lesson_title(new_notebook(), Path("x.ipynb")) == "x"
    notebook.cells.append(new_code_cell("check()", outputs=[new_output("execute_result", data={
        "text/html": '<div class="drillbook-check" data-drillbook-check="fail">no</div>',
        "text/plain": "✘ Self-check: no"}, execution_count=1)]))
    assert failed_checks(notebook) == ["cell 3: ✘ Self-check: no"]


def test_cli_dispatches_export(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["export", "--help"]) == 0
    assert "self-contained HTML lesson" in capsys.readouterr().out


def test_a_widget_output_shows_its_static_fallback_in_the_lesson() -> None:
    # What a `%%drill --tweak` cell leaves: the widget view and the latest run as HTML.
    tweak = new_code_cell("%%drill --tweak", outputs=[
        new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {
                "model_id": "0123abcd", "version_major": 2, "version_minor": 0},
            "text/html": "<div class='drill-banner'>PASS: the latest run</div>",
            "text/plain": "DrillControls(...)"}),
    ])
    page = lesson_html(new_notebook(cells=[tweak]), title="Tweak")
    assert "PASS: the latest run" in page
