"""``make lab`` opens JupyterLab at labs/, and the demo notebook in notebooks/ opens from there.

The test runs the Makefile's own target (on a free port, without a token, its settings in a
temporary folder) and looks at the page a student gets in Chromium.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from lab_server import ROOT, free_port


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("make-lab")
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"))
    args = "--IdentityProvider.token= --LabApp.news_url= --LabApp.expose_app_in_browser=True"
    log = (base / "make-lab.log").open("wb")
    process = subprocess.Popen(["make", "-C", str(ROOT), "lab", f"LAB_PORT={port}",
                                f"LAB_ARGS={args}"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (base / "make-lab.log").read_text()
            try:
                with urllib.request.urlopen(url + "api/status", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, "make lab did not start JupyterLab"
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_make_lab_opens_at_labs_with_the_demo_reachable(make_lab: str,
                                                         lab_context: Any) -> None:
    page = lab_context.new_page()
    try:
        page.goto(make_lab)
        page.wait_for_url("**/lab/tree/labs**")
        listing = page.locator(".jp-DirListing-content")
        listing.get_by_text("02-sack-out-of-order.ipynb").wait_for()
        crumbs = page.locator(".jp-BreadCrumbs").inner_text()
        assert "labs" in crumbs
        # one level up is the project folder, with notebooks/ and the demo in it (the
        # student's way there: the file browser's home crumb, then the folder)
        page.locator(".jp-BreadCrumbs-home").click()
        listing.get_by_text("notebooks", exact=True).dblclick()
        listing.get_by_text("drillbook-demo.ipynb").wait_for()
        assert "notebooks" in page.locator(".jp-BreadCrumbs").inner_text()
        with urllib.request.urlopen(make_lab + "api/contents/notebooks/drillbook-demo.ipynb"
                                    "?content=0") as reply:
            assert reply.status == 200
    finally:
        page.close()


TEACHER_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:course-list"}
STUDENT_PLUGINS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}


def test_students_get_no_nbgrader_teacher_panels(make_lab: str) -> None:
    """The server ``make lab`` starts hands JupyterLab a page config with nbgrader's teacher
    plugins disabled and locked (the student's assignment list and Validate button stay), and
    serves no formgrader."""
    import json
    import re

    with urllib.request.urlopen(make_lab + "lab") as reply:
        page = reply.read().decode()
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, flags=re.DOTALL)
    assert found, "no page config in /lab"
    config = json.loads(found.group(1))
    assert any(e["name"] == "@jupyter/nbgrader" for e in config["federated_extensions"])
    disabled, locked = set(config["disabledExtensions"]), set(config["lockedExtensions"])
    assert disabled >= TEACHER_PLUGINS and locked >= TEACHER_PLUGINS, (disabled, locked)
    assert not disabled & STUDENT_PLUGINS
    for teacher_only in ("formgrader", "formgraders"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(make_lab + teacher_only)
        assert refused.value.code == 404, teacher_only
    with urllib.request.urlopen(make_lab + "nbgrader_version?version=0") as reply:
        assert reply.status == 200  # the student's assignment list is served
