"""A ``%%drill`` cell in JupyterLab, in headless Chromium: drillbook's prebuilt extension colours
it as packetdrill (comments, directions, syscalls... with JupyterLab's theme colours), leaves
Python cells to Python, and follows the cell as the student edits its first line.

No cell runs: highlighting is the editor's. The notebook is written into the copy of the
project that the session's JupyterLab serves (conftest.py); the extension is installed as a
user's ``pip install`` puts it (``make setup`` links it for the editable install).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

SCRIPT = """%%drill --tolerance_usecs=10000
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) <mss 1460,sackOK,nop,nop>
+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460>
// EDIT ME
+0  %{ assert tcpi_snd_cwnd == 10 }%"""

NOTEBOOK = "notebooks/highlight-check.ipynb"


@pytest.fixture(scope="module")
def page(lab_server: Any, lab_context: Any) -> Iterator[Any]:
    """The notebook open in one tab for the module's tests (each leaves the cells as they
    were). Nothing runs, so the tests wait for the editor, not for the kernel."""
    notebook = new_notebook(cells=[new_code_cell(SCRIPT), new_code_cell("x = 1  # python")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, str(lab_server.root / NOTEBOOK))
    tab = lab_context.new_page()
    tab.goto(lab_server.notebook_url(NOTEBOOK))
    yield tab
    tab.close()


# The look of a kind of token: the computed style of its first span, beside the colour of
# the JupyterLab theme variable it should use.
STYLE_OF = """([cellIndex, kind, variable]) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[cellIndex];
    const span = cell.querySelector('.cm-content .cm-drill-' + kind);
    if (span === null) return null;
    const probe = document.createElement('span');
    probe.style.color = `var(${variable})`;
    cell.appendChild(probe);
    const expected = getComputedStyle(probe).color;
    probe.remove();
    const style = getComputedStyle(span);
    return {text: span.textContent, color: style.color, expected,
            weight: style.fontWeight, italic: style.fontStyle};
}"""


def _style(page: Any, kind: str, variable: str, cell: int = 0) -> dict[str, str] | None:
    style: dict[str, str] | None = page.evaluate(STYLE_OF, [cell, kind, variable])
    return style


def test_a_drill_cell_shows_packetdrill_token_styles(page: Any) -> None:
    page.wait_for_selector(".cm-drill-direction", timeout=30_000)
    comment = _style(page, "comment", "--jp-mirror-editor-comment-color")
    direction = _style(page, "direction", "--jp-mirror-editor-keyword-color")
    syscall = _style(page, "syscall", "--jp-mirror-editor-def-color")
    errno = _style(page, "errno", "--jp-mirror-editor-error-color")
    time_ = _style(page, "time", "--jp-mirror-editor-string-2-color")
    assert comment is not None and comment["text"] == "// EDIT ME"
    assert comment["color"] == comment["expected"] and comment["italic"] == "italic"
    assert direction is not None and direction["text"] in {"<", ">"}
    assert direction["color"] == direction["expected"] and int(direction["weight"]) >= 700
    assert syscall is not None and syscall["text"] == "socket"
    assert syscall["color"] == syscall["expected"]
    assert errno is not None and errno["text"] == "EINPROGRESS"
    assert errno["color"] == errno["expected"]
    assert time_ is not None and time_["text"] == "0" and time_["color"] == time_["expected"]
    # Each kind has a colour of its own (the theme's variables differ for these).
    assert len({comment["color"], direction["color"], syscall["color"], errno["color"]}) == 4
    # The Python cell is still Python.
    assert page.locator(".jp-Cell").nth(1).locator("[class*=cm-drill-]").count() == 0


def test_the_highlighting_follows_the_magic_line(page: Any) -> None:
    page.wait_for_selector(".cm-drill-direction", timeout=30_000)
    first = page.locator(".jp-Cell").first.locator(".cm-content")
    first.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Delete")  # "%drill ...": no longer a cell magic
    page.wait_for_function(
        "() => document.querySelector('.jp-Cell .cm-drill-direction') === null", timeout=10_000)
    page.keyboard.type("%")  # "%%drill" again
    page.wait_for_selector(".jp-Cell .cm-drill-direction", timeout=10_000)


def test_jupyterlabs_own_html_export_colours_drill_cells(lab_server: Any) -> None:
    """File > Save and Export Notebook As > HTML: nbconvert inside the server (drillbook's
    server extension gives it the %%drill mapping)."""
    import re
    import urllib.request

    notebook = new_notebook(cells=[new_code_cell(SCRIPT)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, str(lab_server.root / "notebooks" / "export-check.ipynb"))
    url = f"{lab_server.url}nbconvert/html/notebooks/export-check.ipynb?download=false"
    with urllib.request.urlopen(url, timeout=60) as reply:
        page = reply.read().decode()
    classes = set(re.findall(r'<span class="([^"]+)">', page))
    assert {"k k-Direction", "nf nf-Syscall", "c1", "ne"} <= classes
