"""Fixtures of the browser tests: one JupyterLab server and one Chromium for the whole session,
and every notebook run once (Run All, a few tabs at a time) so each test reads what it needs.

Chromium is Debian's ``/usr/bin/chromium`` (``make test`` installs it where missing), driven by
Playwright for Python; Playwright never downloads a browser here. Screenshots of each notebook
after Run All go to ``$DRILLBOOK_SCREENSHOTS`` (default: a folder under pytest's tmp path, named
in the test output).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kernel_support import missing_privilege
from lab_server import ROOT, LabServer, copy_served_tree, start_lab

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium as root needs --no-sandbox; the rest keeps it off the network (no component
# updates, no sync, no QUIC probes) on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--disable-extensions",
]
NOTEBOOKS = ["notebooks/drillbook-demo.ipynb",
             *(f"labs/{p.name}" for p in sorted((ROOT / "labs").glob("[0-9][0-9]-*.ipynb")))]
# The modules that use the Playwright fixtures below (skipped, with the reason, without them).
OWN_MODULES = {"test_notebooks_in_lab.py", "test_controls_in_lab.py", "test_make_lab.py",
               "test_highlight_lab.py", "test_stepper_browser.py"}
TABS = int(os.environ.get("DRILLBOOK_BROWSER_TABS", "3"))  # notebooks in flight at once
# The longest first (opening + Run All + screenshot, as the session prints them: lab 3 waits
# ~30 s on the kernel's retransmission timers), so that the short ones fill the gaps at the
# end instead of a long one starting last. Notebooks not named here follow, in their order.
LONGEST_FIRST = ("labs/03-", "labs/04-", "notebooks/drillbook-demo", "labs/06-", "labs/07-")


def _run_order(paths: list[str]) -> list[str]:
    def rank(path: str) -> int:
        return next((i for i, p in enumerate(LONGEST_FIRST) if path.startswith(p)),
                    len(LONGEST_FIRST))

    return sorted(paths, key=rank)  # stable: the rest keep their order
RUN_ALL_TIMEOUT_S = 600.0


def _playwright_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs Playwright for Python (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = (None if CHROMIUM else "needs Debian's chromium (make test installs it)") \
        or _playwright_missing() or missing_privilege()
    for item in items:
        if Path(str(item.fspath)).name not in OWN_MODULES:
            continue
        item.add_marker(pytest.mark.kernel)
        item.add_marker(pytest.mark.browser)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("jupyterlab")
    started = time.monotonic()
    server = start_lab(base, copy_served_tree(base))
    print(f"\nJupyterLab answered after {time.monotonic() - started:.1f} s")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab_context(chromium: object) -> Iterator[object]:
    from notebook_page import VIEWPORT

    context = chromium.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    context.set_default_timeout(60_000)
    yield context
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("DRILLBOOK_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def ran_notebooks(lab_server: LabServer, lab_context: object,
                  screenshot_dir: Path) -> dict[str, object]:
    """Every notebook opened (was it modified at once?), Run All, measured, photographed.

    ``TABS`` notebooks are in flight at a time, each in its own tab and kernel, each moving on
    by itself: opening (a kernel start costs seconds of CPU), a second's pause (JupyterLab
    writes the kernel's metadata then, and a notebook a person only opened must still be
    unmodified), Run All, measuring. A lab spends much of its run waiting on timers in the
    kernel under test, so the tabs overlap well on two cores."""
    from notebook_page import (
        OPENED,
        NotebookReport,
        is_dirty,
        measure,
        run_all_finished,
        run_all_ok,
        screenshot_whole_notebook,
        start_run_all,
    )

    reports: dict[str, object] = {}
    begun = time.monotonic()
    waiting = _run_order(NOTEBOOKS)
    flight: dict[str, _InFlight] = {}
    deadline = begun + RUN_ALL_TIMEOUT_S * len(NOTEBOOKS) / max(TABS, 1)
    while waiting or flight:
        while waiting and len(flight) < TABS:
            path = waiting.pop(0)
            page = lab_context.new_page()  # type: ignore[attr-defined]
            page.goto(lab_server.notebook_url(path))
            flight[path] = _InFlight(page, NotebookReport(path, dirty_after_open=False),
                                     since=time.monotonic())
        for path, entry in list(flight.items()):
            page, report, now = entry.page, entry.report, time.monotonic()
            if entry.phase == "opening" and _opened(page, OPENED):
                report.open_seconds = now - entry.since
                entry.phase, entry.since = "settling", now
            elif entry.phase == "settling" and now - entry.since >= 1.0:
                report.dirty_after_open = is_dirty(page)
                start_run_all(page)
                entry.phase, entry.since = "running", now
            elif entry.phase == "running" and run_all_finished(page):
                report.run_seconds = now - entry.since
                report.run_ok = run_all_ok(page)
                time.sleep(0.5)  # the last outputs' images decode and lay out
                report.small_text_px, report.cells = measure(page)
                shot_started = time.monotonic()
                report.screenshot = screenshot_whole_notebook(
                    page, screenshot_dir / (Path(path).stem + ".png"))
                report.screenshot_seconds = time.monotonic() - shot_started
                report.slowest_cell = page.evaluate(SLOWEST_CELL)
                reports[path] = report
                reports["page:" + path] = page  # later tests operate the controls in it
                del flight[path]
        assert time.monotonic() < deadline, f"Run All did not finish: {sorted(flight)}"
        time.sleep(0.3)
    print(f"\nRun All of {len(NOTEBOOKS)} notebooks, {TABS} at a time: "
          f"{time.monotonic() - begun:.0f} s (per notebook: opening until its kernel is idle, "
          "Run All, screenshot; its slowest cell)")
    for path, report in reports.items():
        if isinstance(report, NotebookReport):
            slowest_s, slowest_cell = report.slowest_cell
            print(f"  {Path(path).stem[:24]:24} {report.open_seconds:5.1f} "
                  f"{report.run_seconds:5.1f} {report.screenshot_seconds:4.1f} s; "
                  f"{slowest_s:4.1f} s {slowest_cell}")
    print(f"screenshots of every notebook after Run All: {screenshot_dir}")
    return reports


# The longest cell of a notebook's Run All (JupyterLab's recordTiming): [seconds, first line].
SLOWEST_CELL = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter(c => c.model.type === "code").map(c => {
        const t = c.model.getMetadata("execution") || {};
        const took = Date.parse(t["shell.execute_reply"]) - Date.parse(t["iopub.execute_input"]);
        return [took / 1000 || 0, c.model.sharedModel.getSource().split("\\n")[0].slice(0, 40)];
    }).reduce((a, b) => (b[0] > a[0] ? b : a), [0, ""])"""


def _opened(page: Any, check: str) -> bool:
    from playwright.sync_api import Error

    try:
        return bool(page.evaluate(check))
    except Error:  # JupyterLab moved the tab to a workspace of its own (a navigation)
        return False


@dataclass
class _InFlight:
    page: Any
    report: Any
    phase: str = "opening"  # opening -> settling -> running
    since: float = 0.0
