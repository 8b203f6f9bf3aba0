"""The demo notebook and every lab as a student sees them: JupyterLab in Chromium, 1400x1000.

Each notebook is opened, checked for being shown as modified before anyone touched it, run
with Run All, then measured as laid out: no error outputs (but the demo's cell tagged
``raises-exception``), widgets rendered, no output of a ``%%drill`` cell with content hidden
past its right edge (except inside a deliberate scroll frame), every figure shown at 85 % or
more of the width it was drawn at and its smallest text no smaller than JupyterLab's own small
text, every ``%%drill`` cell highlighted as packetdrill (the highlight extension). A
screenshot of each notebook after Run All is written (see conftest.py).
"""

from __future__ import annotations

import pytest
from conftest import NOTEBOOKS
from notebook_page import NotebookReport, measure

from drillbook.render.sequence import Layout

FIGURE_SHOWN_MIN = 0.85


def _report(ran_notebooks: dict[str, object], path: str) -> NotebookReport:
    report = ran_notebooks[path]
    assert isinstance(report, NotebookReport)
    return report


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_opens_unmodified(ran_notebooks: dict[str, object], path: str) -> None:
    report = _report(ran_notebooks, path)
    assert not report.dirty_after_open, (
        f"{path} shows as modified right after opening (its kernelspec or language_info "
        "differs from what the kernel reports)")


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_run_all_completes_without_error_outputs(ran_notebooks: dict[str, object],
                                                 path: str) -> None:
    report = _report(ran_notebooks, path)
    assert report.screenshot is not None and report.screenshot.stat().st_size > 10_000
    unexpected = [(c.index, c.source, c.errors) for c in report.cells
                  if c.errors and "raises-exception" not in c.tags]
    assert not unexpected
    assert all(c.executed for c in report.cells), f"Run All stopped in {path}"
    assert any(c.drill for c in report.cells)


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_widgets_render(ran_notebooks: dict[str, object], path: str) -> None:
    report = _report(ran_notebooks, path)
    for cell in report.cells:
        assert cell.widgetErrors == 0, (cell.index, cell.source)
        if cell.widgets:
            assert cell.widgetsShown >= cell.widgets, (cell.index, cell.source)


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_no_drill_output_is_clipped(ran_notebooks: dict[str, object], path: str) -> None:
    report = _report(ran_notebooks, path)
    clipped = [(c.index, c.source, c.clipped[:3]) for c in report.cells
               if c.drill and c.clipped]
    assert not clipped


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_figures_are_shown_readable(ran_notebooks: dict[str, object], path: str) -> None:
    report = _report(ran_notebooks, path)
    figures = [(c.index, f) for c in report.cells for f in c.figures]
    assert figures, "no figure shown"
    small = [(i, f) for i, f in figures if f["shown"] < FIGURE_SHOWN_MIN * f["drawn"]]
    assert not small, f"figures shrunk below {FIGURE_SHOWN_MIN:.0%} of their drawn width"
    tiny = [(i, f) for i, f in figures
            if f["minTextPx"] is not None and f["minTextPx"] < report.small_text_px - 0.05]
    assert not tiny, f"figure text smaller than the notebook's small text " \
                     f"({report.small_text_px:.1f} px)"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_drill_cells_are_highlighted_as_packetdrill(ran_notebooks: dict[str, object],
                                                    path: str) -> None:
    report = _report(ran_notebooks, path)
    shown = [c for c in report.cells if c.drill and c.inputShown]
    assert shown
    plain = [(c.index, c.source) for c in shown if c.highlighted < 3]
    assert not plain, "%%drill cells without packetdrill highlighting"


# What overflows sideways in the notebook's %%drill outputs, as laid out now: each frame of a
# failure banner, and each frame holding a figure (its width, its image's, and how far into
# the image the kernel's lifeline is drawn).
SIDEWAYS = """(kernelAt) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const banners = [], figures = [];
    for (const cell of panel.content.widgets) {
        if (!cell.model.sharedModel.getSource().startsWith("%%drill")) continue;
        const area = cell.node.querySelector(".jp-Cell-outputArea");
        if (!area) continue;
        for (const pre of area.querySelectorAll(".drillbook-verdict pre")) {
            if (pre.offsetParent === null) continue;
            banners.push({scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth,
                          text: pre.innerText.slice(0, 60)});
        }
        for (const frame of area.querySelectorAll(".drillbook-scroll")) {
            const img = frame.querySelector("img");
            if (frame.offsetParent === null || img === null) continue;
            const hint = frame.previousElementSibling;
            figures.push({scrollWidth: frame.scrollWidth, clientWidth: frame.clientWidth,
                          alt: img.alt, drawn: img.naturalWidth,
                          hint: hint !== null && hint.classList.contains("drillbook-scroll-hint")
                              ? (hint.offsetParent !== null ? hint.innerText : "") : null,
                          lifeline: img.alt === "drillbook: sequence"
                              ? Math.round(img.naturalWidth * kernelAt) : 0});
        }
    }
    const browser = document.querySelector("#filebrowser");
    return {fileBrowserShown: browser !== null && browser.offsetParent !== null,
            banners, figures};
}"""


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_with_the_file_browser_open_and_closed(ran_notebooks: dict[str, object],
                                              path: str) -> None:
    """JupyterLab opens with its file browser on the left (the notebook column is then about
    950 px at 1400x1000), and a student may close it (about 1200 px). Closed: every figure,
    the sequence diagram too, is shown whole, no sideways scroll. Open: the sequence diagram
    keeps its size (smaller, its labels would fall below the notebook's small text) and
    scrolls sideways in its own frame, with the kernel's lifeline and so every packet in
    view, and a line above it says it scrolls and what is out of sight (the line shows only
    while the column is narrower than the figure); a failure banner's text wraps instead of
    running out of sight; nothing outside a scroll frame is clipped."""
    page = ran_notebooks["page:" + path]
    kernel_at = Layout().kernel_x / Layout().right
    width = "window.jupyterapp.shell.currentWidget.node.clientWidth"
    beside = page.evaluate(f"() => {width}")
    try:
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        # JupyterLab lays its panels out on the next animation frames
        page.wait_for_function(f"(w) => {width} > w + 100", arg=beside)
        closed = page.evaluate(SIDEWAYS, kernel_at)
        assert not closed["fileBrowserShown"]
        scrolling = [f for f in closed["figures"] if f["scrollWidth"] > f["clientWidth"] + 1]
        assert not scrolling, "figures scroll sideways with the file browser closed"
        hinted = [f["alt"] for f in closed["figures"] if f["hint"]]
        assert not hinted, f"a scroll hint shows above a figure shown whole: {hinted}"
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        page.wait_for_function(f"(w) => {width} <= w", arg=beside)
    opened = page.evaluate(SIDEWAYS, kernel_at)
    assert opened["fileBrowserShown"]
    hidden = [b for b in opened["banners"] if b["scrollWidth"] > b["clientWidth"] + 1]
    assert not hidden, "banner text out of sight beside the file browser"
    lanes_cut = [f for f in opened["figures"] if f["lifeline"] > f["clientWidth"]]
    assert not lanes_cut, "sequence diagram's packets out of sight beside the file browser"
    # A figure that scrolls says so above it, where a student starts reading it (its
    # scrollbar is at its bottom); the sequence diagram names what is out of sight.
    unhinted = [f["alt"] for f in opened["figures"]
                if f["scrollWidth"] > f["clientWidth"] + 1 and not f["hint"]]
    assert not unhinted, f"figures scroll sideways with no hint above them: {unhinted}"
    sequences = [f for f in opened["figures"] if f["alt"] == "drillbook: sequence"]
    assert all("explanations" in f["hint"] for f in sequences if f["hint"])
    _, cells = measure(page)
    clipped = [(c.index, c.source, c.clipped[:3]) for c in cells if c.drill and c.clipped]
    assert not clipped
