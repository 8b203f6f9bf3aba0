"""What a browser test does with a notebook in JupyterLab, and what it measures there.

Like galata (JupyterLab's own UI tests), a test drives JupyterLab through its application
object (``window.jupyterapp``, exposed by the test server) and its commands, and reads what
the page shows from the DOM as laid out by the browser: sizes come from ``clientWidth`` and
``scrollWidth``, not from what the Python side meant to draw.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

VIEWPORT = {"width": 1400, "height": 1000}
# A deliberate scroll frame: drillbook marks the boxes meant to scroll sideways (a long figure,
# a wide script) with this class; content beyond their width is not "clipped", it scrolls.
SCROLL_FRAME = "drillbook-scroll"

_CURRENT = "window.jupyterapp.shell.currentWidget"

OPENED = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    if (!panel || !panel.context || !panel.context.isReady || !panel.sessionContext) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === "idle" && panel.content.widgets.length > 0;
}"""

# Galata runs "notebook:run-all-cells" and awaits it; the promise resolves when the last cell
# has run (or Run All stopped at an error).
START_RUN_ALL = """() => {
    const app = window.jupyterapp;
    window.__drillbookRunAll = {done: false, ok: null};
    app.commands.execute("notebook:run-all-cells").then(
        ok => { window.__drillbookRunAll = {done: true, ok: ok}; },
        error => { window.__drillbookRunAll = {done: true, ok: false, error: String(error)}; });
}"""

RUN_ALL_DONE = f"""() => {{
    const state = window.__drillbookRunAll;
    if (!state || !state.done) return false;
    const kernel = {_CURRENT}.sessionContext.session.kernel;
    return kernel.status === "idle";
}}"""

# Everything a person would call wrong in a notebook after Run All, measured per cell.
MEASURE = """(scrollFrame) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const probe = document.createElement("span");
    probe.style.fontSize = "var(--jp-ui-font-size0)";
    probe.textContent = "x";
    panel.content.node.appendChild(probe);
    const smallText = parseFloat(getComputedStyle(probe).fontSize);
    probe.remove();
    const cells = [];
    panel.content.widgets.forEach((cell, index) => {
        const model = cell.model;
        if (model.type !== "code") return;
        const source = model.sharedModel.getSource();
        const outputs = model.outputs.toJSON();
        const tags = model.getMetadata("tags") || [];
        const area = cell.node.querySelector(".jp-Cell-outputArea");
        const clipped = [];
        const figures = [];
        if (area) {
            for (const element of area.querySelectorAll("*")) {
                if (element.closest("." + scrollFrame)) continue;
                if (element.scrollWidth > element.clientWidth + 1 && element.clientWidth > 0) {
                    clipped.push({tag: element.tagName.toLowerCase(),
                                  cls: String(element.className).slice(0, 80),
                                  scrollWidth: element.scrollWidth,
                                  clientWidth: element.clientWidth,
                                  text: (element.innerText || "").slice(0, 80)});
                }
            }
            for (const img of area.querySelectorAll("img")) {
                if (img.offsetParent === null) continue;  // a hidden tab or variant
                const figure = {drawn: img.naturalWidth, shown: img.clientWidth,
                                alt: img.alt, minTextPx: null};
                if (img.src.startsWith("data:image/svg+xml;base64,")) {
                    const svg = atob(img.src.split(",")[1]);
                    const viewBox = /viewBox="([^"]+)"/.exec(svg);
                    const sizes = [...svg.matchAll(/font-size: ?([0-9.]+)px/g)]
                        .map(m => parseFloat(m[1]));
                    if (viewBox && sizes.length) {
                        const width = parseFloat(viewBox[1].split(/\\s+/)[2]);
                        figure.minTextPx = Math.min(...sizes) * img.clientWidth / width;
                    }
                }
                figures.push(figure);
            }
        }
        const widgets = outputs.filter(
            o => o.data && o.data["application/vnd.jupyter.widget-view+json"]).length;
        cells.push({
            index, drill: source.startsWith("%%drill"), tags,
            source: source.slice(0, 60),
            errors: outputs.filter(o => o.output_type === "error")
                           .map(o => o.ename + ": " + o.evalue),
            widgets,
            widgetsShown: area ? area.querySelectorAll(".jupyter-widgets.widget-vbox, "
                                   + ".jupyter-widgets.widget-box").length : 0,
            widgetErrors: area ? [...area.querySelectorAll(".jp-OutputArea-output")]
                .filter(o => /Error displaying widget|Loading widget/.test(o.innerText))
                .length : 0,
            executed: model.executionCount !== null,
            clipped, figures,
            inputShown: !cell.inputHidden,
            highlighted: cell.node.querySelectorAll(
                ".jp-Cell-inputArea .cm-content [class*=cm-drill-]").length,
        });
    });
    return {smallText, cells};
}"""


@dataclass
class CellReport:
    """One code cell as the browser showed it after Run All."""

    index: int
    drill: bool
    tags: list[str]
    source: str
    errors: list[str]
    widgets: int
    widgetsShown: int  # noqa: N815 - the page's field name
    widgetErrors: int  # noqa: N815
    executed: bool
    clipped: list[dict[str, Any]]
    figures: list[dict[str, Any]]
    inputShown: bool  # noqa: N815
    highlighted: int  # tokens the packetdrill highlighter marked in the cell's editor


@dataclass
class NotebookReport:
    """What a test saw of one notebook: opened clean or not, how Run All went, every cell."""

    path: str
    dirty_after_open: bool
    run_ok: bool | None = None
    run_seconds: float = 0.0
    small_text_px: float = 0.0
    cells: list[CellReport] = field(default_factory=list)
    screenshot: Path | None = None
    open_seconds: float = 0.0  # page load until the kernel is idle
    screenshot_seconds: float = 0.0
    slowest_cell: tuple[float, str] = (0.0, "")  # seconds, first line


def open_notebook(page: Page, url: str, timeout_s: float = 90.0) -> None:
    """Open a notebook and wait until its kernel is idle."""
    page.goto(url)
    page.wait_for_function(OPENED, timeout=timeout_s * 1000, polling=250)


def is_dirty(page: Page) -> bool:
    return bool(page.evaluate(f"() => {_CURRENT}.context.model.dirty"))


def start_run_all(page: Page) -> None:
    page.evaluate(START_RUN_ALL)


def run_all_finished(page: Page) -> bool:
    return bool(page.evaluate(RUN_ALL_DONE))


def run_all_ok(page: Page) -> bool | None:
    state = page.evaluate("() => window.__drillbookRunAll")
    return None if state is None else state.get("ok")


def measure(page: Page) -> tuple[float, list[CellReport]]:
    """The notebook's small text size (px) and a report per code cell."""
    raw = page.evaluate(MEASURE, SCROLL_FRAME)
    return float(raw["smallText"]), [CellReport(**cell) for cell in raw["cells"]]


def screenshot_whole_notebook(page: Page, path: Path) -> Path:
    """The whole notebook in one picture: the window grows to the notebook's height for the
    shot (same width, so the layout is what the test measured), then shrinks back."""
    height = page.evaluate(f"""() => {{
        const content = {_CURRENT}.content.node;
        const node = content.querySelector(".jp-WindowedPanel-outer") || content;
        node.scrollTop = 0;  // Run All left it at the last cell
        return node.scrollHeight + (window.innerHeight - node.clientHeight);
    }}""")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height), 30000)})
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Chromium's own capture with its fast PNG encoder: a whole notebook is 6-17 thousand
    # pixels tall, and Playwright's screenshot (best compression) spent seconds of CPU on each.
    session = page.context.new_cdp_session(page)
    try:
        shot = session.send("Page.captureScreenshot", {"format": "png",
                                                        "optimizeForSpeed": True})
    finally:
        session.detach()
    path.write_bytes(base64.b64decode(shot["data"]))
    page.set_viewport_size(VIEWPORT)
    return path
