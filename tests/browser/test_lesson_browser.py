"""An exported lesson in headless Chromium: it renders its figures, and its precomputed-variant
player switches the figure shown, by clicking, by the slider, and from the URL fragment.

Chromium is Debian's ``chromium`` (``make test`` installs it where missing); the test drives it
over the Chrome DevTools protocol (websocket-client) and with ``--dump-dom``. The lesson is
lab 2, exported from its teacher version by the session's shared export
(tests/notebooks/lab_exports.py): alone when this test comes first, so that
``pytest tests/browser`` runs one lab, not all nine, for it.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_support import missing_privilege

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
from lab_exports import exported_lab  # noqa: E402

LESSON = "02-sack-out-of-order"
PLAYER = "drillbook-variants-sack-orders"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)"),
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]


@pytest.fixture(scope="module")
def lesson() -> Path:
    status, stderr, path = exported_lab(LESSON)
    assert status == 0, stderr
    assert path.exists()
    return path


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's websocket."""

    def __init__(self, url: str) -> None:
        import websocket

        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                          awaitPromise=True)
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[DevTools]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-allow-origins=*", "--window-size=1200,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as reply:
            targets = json.load(reply)
        page = next(t for t in targets if t.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
        tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _open(tools: DevTools, url: str) -> None:
    tools.call("Page.enable")
    tools.call("Page.navigate", url=url)
    deadline = time.monotonic() + 60
    while tools.evaluate("document.readyState") != "complete":
        assert time.monotonic() < deadline, "the lesson did not finish loading"
        time.sleep(0.1)


def _shown(tools: DevTools) -> dict[str, Any]:
    """Which variant figures are visible, as the browser lays them out."""
    shown: dict[str, Any] = tools.evaluate(f"""(() => {{
        const root = document.getElementById({json.dumps(PLAYER)});
        const figures = [...root.querySelectorAll("figure[data-index]")];
        const visible = figures.filter(f => getComputedStyle(f).display !== "none"
                                            && f.querySelector("img").offsetHeight > 0);
        return {{visible: visible.map(f => f.dataset.index),
                 digest: visible.length ? visible[0].dataset.digest : null,
                 digests: figures.map(f => f.dataset.digest),
                 current: root.dataset.current,
                 pressed: [...root.querySelectorAll("button[aria-pressed=true]")]
                          .map(b => b.dataset.index)}};
    }})()""")
    return shown


def _player_png(tools: DevTools) -> bytes:
    box = tools.evaluate(f"""(() => {{
        const r = document.getElementById({json.dumps(PLAYER)}).getBoundingClientRect();
        return {{x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width,
                 height: r.height}};
    }})()""")
    shot = tools.call("Page.captureScreenshot", format="png",
                      clip={**box, "scale": 1}, captureBeyondViewport=True)
    return base64.b64decode(shot["data"])


def test_lesson_renders_with_its_figures(lesson: Path, browser: DevTools) -> None:
    _open(browser, lesson.as_uri())
    images = browser.evaluate("""(() => {
        const all = [...document.images];
        return {total: all.length,
                broken: all.filter(i => !(i.complete && i.naturalWidth > 0)).length,
                inline: all.filter(i => i.src.startsWith("data:image/")).length};
    })()""")
    assert images["total"] >= 4
    assert images["broken"] == 0
    assert images["inline"] == images["total"]
    assert "Lab 2" in browser.evaluate("document.title + document.body.innerText.slice(0, 200)")


def test_buttons_and_slider_change_the_figure_shown(lesson: Path, browser: DevTools) -> None:
    _open(browser, lesson.as_uri())
    first = _shown(browser)
    assert first["visible"] == ["0"] and first["pressed"] == ["0"]
    assert len(set(first["digests"])) == len(first["digests"]) >= 3
    before = _player_png(browser)

    browser.evaluate(f"document.querySelector('#{PLAYER} button[data-index=\"2\"]').click()")
    clicked = _shown(browser)
    assert clicked["visible"] == ["2"] and clicked["current"] == "2"
    assert clicked["pressed"] == ["2"]
    assert clicked["digest"] == first["digests"][2] != first["digest"]
    assert _player_png(browser) != before, "the player looks the same after the click"

    browser.evaluate(f"""(() => {{
        const slider = document.querySelector('#{PLAYER} input[type=range]');
        slider.value = "1";
        slider.dispatchEvent(new Event("input"));
    }})()""")
    slid = _shown(browser)
    assert slid["visible"] == ["1"] and slid["digest"] == first["digests"][1]


def test_url_fragment_selects_a_variant(lesson: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         f"{lesson.as_uri()}#sack-orders=3"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    root = re.search(rf'<div[^>]*id="{PLAYER}"[^>]*>', dom)
    assert root is not None and 'data-current="3"' in root.group(0)
    player = dom[root.end():].split("</script>", 1)[0]
    figures = re.findall(r'<figure[^>]*data-index="(\d)"[^>]*>', player)
    hidden = [i for i in figures if re.search(
        rf'<figure[^>]*data-index="{i}"[^>]*\bhidden\b', player)]
    assert figures == ["0", "1", "2", "3"] and hidden == ["0", "1", "2"]
