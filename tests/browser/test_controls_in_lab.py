"""The controls a student operates, operated in JupyterLab in Chromium after Run All.

- ``%%drill --tweak`` (the demo's tweak cell): shift a packet in "Event times", drag another
  packet to the front, drop a third, Run. The script that ran carries the shift on the packet it
  was made on (issue 13: it landed on another packet), the event-time rows follow the new order
  without the dropped packet, the runs are compared in tabs with the differences as text, and
  Undo takes the last edit back.
- The event-time boxes line up in one column.
- The variants slider of lab 2 moves with the arrow keys (JupyterLab's command mode took them).
- Script text never wraps inside a number, even in a narrow window.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import NOTEBOOKS

DEMO = "notebooks/drillbook-demo.ipynb"
TWEAK_SOURCE = "%%drill --tweak"


def _eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """``check()`` once it holds: a widget's change goes to the kernel and back."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result is not False:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {check}")
        time.sleep(0.2)


def _page(ran_notebooks: dict[str, object], path: str) -> Any:
    return ran_notebooks["page:" + path]


def _cell_index(page: Any, starts: str) -> int:
    index: int = page.evaluate("""(starts) => window.jupyterapp.shell.currentWidget.content
        .widgets.findIndex(c => c.model.sharedModel.getSource().startsWith(starts))""", starts)
    assert index >= 0, f"no cell starts with {starts!r}"
    return index


def _show(page: Any, index: int) -> Any:
    """The cell's output area (scrolled into view, as a student would)."""
    page.bring_to_front()
    cell = page.locator(".jp-Notebook > .jp-WindowedPanel-outer .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    return cell.locator(".jp-Cell-outputArea")


def _tags(output: Any) -> list[str]:
    texts: list[str] = output.locator(".jupyter-widget-tag[draggable=true]").all_inner_texts()
    return [t.strip() for t in texts]


def _tag(output: Any, seq: str) -> Any:
    return output.locator(".jupyter-widget-tag[draggable=true]", has_text=f" {seq}(")


def _time_rows(output: Any) -> list[str]:
    labels: list[str] = output.locator(".widget-gridbox code").all_inner_texts()
    return labels


def _script_shown(output: Any) -> str:
    text: str = output.locator("details", has_text="The script Run runs").locator(
        "pre").inner_text()
    return text


def _inbound_data(script: str) -> list[tuple[str, str]]:
    """(time, seq range) of each inbound data packet line, in order."""
    return re.findall(r"^(\S+)\s+< \. (\d+:\d+)\(1000\)", script, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def tweak(ran_notebooks: dict[str, object]) -> tuple[Any, Any]:
    page = _page(ran_notebooks, DEMO)
    output = _show(page, _cell_index(page, TWEAK_SOURCE))
    output.get_by_role("button", name="Reset").click()
    _eventually(lambda: _inbound_data(_script_shown(output))[-1] == ("+0", "1001:2001"))
    output.get_by_text("Event times: shift an event (ms)").click()
    return page, output


def test_edits_follow_the_packets_they_were_made_on(tweak: tuple[Any, Any]) -> None:
    page, output = tweak
    # +50 ms on the row of < . 1001:2001
    rows = _time_rows(output)
    row = next(i for i, text in enumerate(rows) if "< . 1001:2001" in text)
    box = output.locator(".widget-gridbox > *").nth(2 * row + 1).locator("input")
    box.fill("50")
    box.press("Tab")
    _eventually(lambda: "+0.05" in _script_shown(output))
    # drag 6001:7001 in front of the first data packet, drop 3001:4001
    _tag(output, "6001:7001").drag_to(_tag(output, "1:1001"))
    _eventually(lambda: _inbound_data(_script_shown(output))[0][1] == "6001:7001")
    _tag(output, "3001:4001").locator(".jupyter-widget-tag-close").click()
    _eventually(lambda: "3001:4001" not in _script_shown(output))

    shown = _script_shown(output)
    order = [seq for _, seq in _inbound_data(shown)]
    assert order[0] == "6001:7001" and "3001:4001" not in order, shown
    assert [tag.split()[-1] for tag in _tags(output)][2:] == [f"{s}(1000)" for s in order]
    times = dict((seq, t) for t, seq in _inbound_data(shown))
    assert times.pop("1001:2001") == "+0.05", shown
    assert set(times.values()) == {"+0"}, shown
    # the event-time rows follow the new order, without the dropped packet
    inbound_rows = [re.search(r"< \. (\d+:\d+)\(1000\)", r) for r in _time_rows(output)]
    assert [m.group(1) for m in inbound_rows if m] == order
    assert len(output.locator("ol li").all()) == 3  # three edits, listed

    output.get_by_role("button", name="Run").click()
    panel = output.locator(".widget-tab")
    ran = panel.locator("details", has_text="The script that ran").locator("pre").first
    # the script that ran (in "This run") is the one shown before Run, shift and all
    _eventually(lambda: _inbound_data(ran.evaluate("e => e.textContent"))
                == _inbound_data(shown), timeout_s=120)
    assert panel.locator(".lm-TabBar-tab").count() == 3


def test_runs_are_compared_in_tabs_with_the_differences_as_text(
        tweak: tuple[Any, Any], screenshot_dir: Path) -> None:
    page, output = tweak
    tabs = output.locator(".widget-tab .lm-TabBar-tab")
    assert tabs.all_inner_texts() == ["This run", "Previous run", "Differences"]
    tabs.nth(2).click()
    page.wait_for_timeout(300)
    differences = output.locator(".widget-tab").inner_text()
    assert "previous run:" in differences and "this run:" in differences
    assert re.search(r"(changed|appeared|disappeared): +> ", differences), differences
    # for a reviewer: the edited tweak cell with its differences tab open
    frame = output.locator(".widget-tab")
    frame.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "drillbook-demo-tweak-differences.png"))
    tabs.nth(0).click()


def test_undo_takes_back_the_last_edit(tweak: tuple[Any, Any]) -> None:
    page, output = tweak
    before = len(output.locator("ol li").all())
    output.get_by_role("button", name="Undo").click()
    _eventually(lambda: len(output.locator("ol li").all()) == before - 1)
    assert "3001:4001" in [seq for _, seq in _inbound_data(_script_shown(output))]


def test_event_time_boxes_line_up(tweak: tuple[Any, Any]) -> None:
    _, output = tweak
    boxes = output.locator(".widget-gridbox input").all()
    assert len(boxes) > 10
    lefts = {round(b.bounding_box()["x"]) for b in boxes}
    widths = {round(b.bounding_box()["width"]) for b in boxes}
    assert len(lefts) == 1 and len(widths) == 1, (lefts, widths)


def _variants_lab() -> str:
    from lab_server import ROOT

    for path in NOTEBOOKS:
        if "labkit.variants(" in (ROOT / path).read_text():
            return path
    pytest.skip("no notebook shows a variants player")


def test_variants_slider_moves_with_the_arrow_keys(ran_notebooks: dict[str, object]) -> None:
    path = _variants_lab()
    page = _page(ran_notebooks, path)
    output = _show(page, _player_cell(page))
    player = output.locator(".drillbook-variants").first
    slider = player.locator("input[type=range]")
    slider.focus()  # (focusing makes the player's cell the active one)
    active = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex")
    slider.press("ArrowRight")
    assert player.get_attribute("data-current") == "1"
    slider.press("ArrowRight")
    slider.press("ArrowLeft")
    assert player.get_attribute("data-current") == "1"
    slider.press("ArrowDown")
    assert player.get_attribute("data-current") == "0"
    after = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex")
    assert after == active, "the arrow keys moved JupyterLab's cell selection"


def _player_cell(page: Any) -> int:
    index: int = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .findIndex(c => c.node.querySelector('.drillbook-variants input[type=range]'))""")
    assert index >= 0
    return index


def test_script_lines_never_wrap_inside_a_number(ran_notebooks: dict[str, object]) -> None:
    page = _page(ran_notebooks, DEMO)
    page.bring_to_front()
    page.set_viewport_size({"width": 760, "height": 1000})
    try:
        time.sleep(0.5)
        split = page.evaluate("""() => {
            const broken = [];
            const cells = window.jupyterapp.shell.currentWidget.content.widgets;
            for (const cell of cells) {
                if (!cell.model.sharedModel.getSource().startsWith("%%drill")) continue;
                for (const pre of cell.node.querySelectorAll(".jp-Cell-outputArea pre")) {
                    if (pre.offsetParent === null) continue;
                    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
                    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                        for (const m of node.textContent.matchAll(/[0-9][0-9:.()]*[0-9)]/g)) {
                            const range = document.createRange();
                            range.setStart(node, m.index);
                            range.setEnd(node, m.index + m[0].length);
                            const tops = new Set([...range.getClientRects()]
                                .filter(r => r.width > 0).map(r => Math.round(r.top)));
                            if (tops.size > 1) broken.push(m[0]);
                        }
                    }
                }
            }
            return broken;
        }""")
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
    assert not split, f"numbers broken across lines: {split[:10]}"
