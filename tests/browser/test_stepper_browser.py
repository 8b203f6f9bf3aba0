"""The stepper in a real browser: a ``%%drill --step`` cell run in JupyterLab, and the same
notebook exported as a lesson opened from a file with no kernel and no network.

Both: the arrow keys, the buttons and the slider move the highlight down the sequence diagram
and show that event's socket; in JupyterLab the arrow keys step the stepper instead of moving
the notebook's cell selection (command mode takes them otherwise).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_support import missing_privilege
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (make setup)")

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


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
    page.keyboard.press("ArrowUp")
    assert _state(stepper)["current"] == 7
    stepper.locator("button[data-go=last]").click()
    last = _state(stepper)
    assert last["current"] == count - 1
    stepper.locator("button[data-go='-1']").click()
    assert _state(stepper)["current"] == count - 2
    stepper.locator("input[type=range]").evaluate(
        "(s) => { s.value = '10'; s.dispatchEvent(new Event('input')); }")
    sacked = _state(stepper)
    assert sacked["current"] == 10 and "sack 2001:3001" in sacked["text"]
    assert "SACKed 2001:3001" in sacked["text"]  # the scoreboard of that moment
    page.keyboard.press("Home")
    assert _state(stepper)["current"] == 0
    stepper.locator("input[type=range]").focus()  # the slider itself takes the keys too
    for key in ("ArrowDown", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    assert _state(stepper)["current"] == 3


def test_the_stepper_in_an_exported_lesson(tmp_path: Path, browser: Any) -> None:
    path = _notebook(tmp_path)
    out = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "drillbook", "export", str(path), "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    lesson = out / "step.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(lesson.as_uri())
    stepper = page.locator(".drillbook-stepper")
    assert stepper.count() == 1
    _operate(page, stepper)
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
    page.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[str]:
    _notebook(tmp_path)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, "JupyterLab exited"
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_stepper_in_jupyterlab(lab: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{lab}/lab/tree/step.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # Run All once the kernel is up, as JupyterLab's own UI tests do (galata).
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
        timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    stepper = page.locator(".jp-Cell").nth(2).locator(".drillbook-stepper")
    stepper.wait_for(timeout=180_000)
    page.wait_for_function("() => document.querySelector('.drillbook-stepper').dataset.ready")
    _operate(page, stepper)
    active = page.evaluate(
        "() => [...document.querySelectorAll('.jp-Cell')].findIndex("
        "c => c.classList.contains('jp-mod-active'))")
    # The arrow keys stepped the stepper; JupyterLab's command mode did not take them too
    # (↓ would have selected the next cell, → expanded a heading).
    assert active == 2
    page.close()
