"""The stepper in a real browser: a ``%%drill --step`` cell run in JupyterLab, and the same
notebook exported as a lesson opened from a file with no kernel and no network.

Both: the arrow keys, the buttons and the slider move the highlight down the sequence diagram
and show that event's socket; in JupyterLab the arrow keys step the stepper instead of moving
the notebook's cell selection (command mode takes them otherwise).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

DEMO = "notebooks/drillbook-demo.ipynb"  # its "sack.stepper()" cell, after Run All

# A sender's data, the peer SACKs past a hole: the socket's numbers change from row to row.
SCRIPT = """%%drill --step --tolerance_usecs=20000
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 257
+0  accept(3, ..., ...) = 4
+0  write(4, ..., 3000) = 3000
+0  > P. 1:3001(3000) ack 1
+.1 < . 1:1(0) ack 1001 win 257 <sack 2001:3001,nop,nop>
+.1 < . 1:1(0) ack 3001 win 257
"""


def _notebook(folder: Path) -> Path:
    notebook = new_notebook(cells=[
        new_markdown_cell("# Lab 0: stepping"), new_code_cell("%load_ext drillbook"),
        new_code_cell(SCRIPT), new_code_cell("x = 1")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / "step.ipynb"
    nbformat.write(notebook, str(path))
    return path


STATE = """(root) => {
    const shown = [...root.querySelectorAll('section[data-index]')].filter(s => !s.hidden);
    const mark = root.querySelector('.dbs-mark').getBoundingClientRect();
    return {current: parseInt(root.dataset.current, 10), shown: shown.map(s => s.dataset.index),
            text: shown.length ? shown[0].innerText : '', markTop: mark.top + root.querySelector(
            '.dbs-frame').scrollTop, markHeight: mark.height,
            slider: root.querySelector('input[type=range]').value};
}"""


def _state(stepper: Any) -> dict[str, Any]:
    state: dict[str, Any] = stepper.evaluate(STATE)
    return state


def _operate(page: Any, stepper: Any) -> None:
    """Step with the keys, the buttons and the slider; check what is shown each time."""
    count = stepper.locator("section[data-index]").count()
    assert count >= 12
    first = _state(stepper)
    assert first["current"] == 0 and first["shown"] == ["0"] and "socket(" in first["text"]
    stepper.locator(".dbs-canvas").click(position={"x": 5, "y": 5})  # focus, as a click does
    stepper.focus()
    for key in ("ArrowRight", "ArrowDown") * 4:  # ↓ is also JupyterLab's "select cell below"
        page.keyboard.press(key)
    moved = _state(stepper)
    assert moved["current"] == 8 and moved["shown"] == ["8"] and moved["slider"] == "8"
    assert moved["markTop"] > first["markTop"] and moved["markHeight"] > 0
    assert "ESTABLISHED" in moved["text"] and "cwnd / ssthresh" in moved["text"]
    assert moved["text"] != first["text"]
    page.keyboard.press("ArrowUp")
    assert _state(stepper)["current"] == 7
    stepper.locator("button[data-go=last]").click()
    assert _state(stepper)["current"] == count - 1
    stepper.locator("button[data-go='-1']").click()
    assert _state(stepper)["current"] == count - 2
    # The first event with a SACK scoreboard, chosen with the slider.
    board = stepper.evaluate("(root) => [...root.querySelectorAll('section[data-index]')]"
                             ".findIndex(s => s.querySelector('.dbs-board') !== null)")
    assert board > 0
    stepper.locator("input[type=range]").evaluate(
        "(s, i) => { s.value = String(i); s.dispatchEvent(new Event('input')); }", board)
    sacked = _state(stepper)
    assert sacked["current"] == board and "SACKed" in sacked["text"]
    stepper.focus()
    page.keyboard.press("Home")
    assert _state(stepper)["current"] == 0
    stepper.locator("input[type=range]").focus()  # the slider itself takes the keys too
    for key in ("ArrowDown", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    assert _state(stepper)["current"] == 3


def test_the_stepper_in_an_exported_lesson(tmp_path: Path, chromium: Any) -> None:
    path = _notebook(tmp_path)
    out = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "drillbook", "export", str(path), "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    lesson = out / "step.html"
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(lesson.as_uri())
    # The %%drill cell's script is coloured as in JupyterLab (drillbook's Pygments lexer).
    colours = page.evaluate("""() => {
        const probe = document.createElement("span");
        document.body.appendChild(probe);
        const themed = (variable) => {
            probe.style.color = `var(${variable})`;
            return getComputedStyle(probe).color;
        };
        const shown = (selector) => {
            const span = document.querySelector(".jp-InputArea .highlight " + selector);
            return span ? [span.textContent, getComputedStyle(span).color] : null;
        };
        return {syscall: shown(".nf-Syscall"), def: themed("--jp-mirror-editor-def-color"),
                direction: shown(".k-Direction"),
                keyword: themed("--jp-mirror-editor-keyword-color")};
    }""")
    assert colours["syscall"] == ["socket", colours["def"]]
    assert colours["direction"] == ["<", colours["keyword"]]
    stepper = page.locator(".drillbook-stepper")
    assert stepper.count() == 1
    _operate(page, stepper)
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
    page.close()


def test_the_stepper_in_jupyterlab(ran_notebooks: dict[str, Any]) -> None:
    page = ran_notebooks["page:" + DEMO]
    page.bring_to_front()
    index = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .findIndex(c => c.model.sharedModel.getSource().startsWith("sack.stepper()"))""")
    assert index >= 0
    cell = page.locator(".jp-Notebook > .jp-WindowedPanel-outer .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    stepper = cell.locator(".drillbook-stepper")
    assert stepper.count() == 1, cell.locator(".jp-Cell-outputArea").inner_text()[:800]
    assert stepper.get_attribute("data-ready") == "1"
    _operate(page, stepper)
    active = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex")
    # The arrow keys stepped the stepper; JupyterLab's command mode did not take them too
    # (↓ would have selected the next cell, → expanded a heading).
    assert active == index
