"""A JupyterLab server for browser tests, the way JupyterLab's own galata tests start one.

The server serves a throw-away copy of ``labs/`` and ``notebooks/`` (Run All must never write
outputs into the project's notebooks: JupyterLab autosaves), on a free port of 127.0.0.1, with
no token, the application object exposed to the page (galata's ``expose_app_in_browser``, so a
test runs commands such as ``notebook:run-all-cells`` instead of hunting for menu items), and
settings and workspaces of its own so a developer's JupyterLab settings change nothing. Nothing
is fetched from the network: news and update checks are off.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVED_FOLDERS = ("labs", "notebooks")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LabServer:
    """One running ``jupyter lab``; ``url`` ends in ``/``."""

    process: subprocess.Popen[bytes]
    root: Path
    url: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def notebook_url(self, relative: str) -> str:
        """The notebook in a JupyterLab workspace of its own: tabs opened at once in one
        workspace make JupyterLab move all but one to new workspaces (a reload)."""
        workspace = "".join(c if c.isalnum() else "-" for c in relative)
        return f"{self.url}lab/workspaces/{workspace}/tree/{relative}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def copy_served_tree(base: Path) -> Path:
    """The folders JupyterLab serves, copied under ``base/root`` (outputs land there)."""
    root = base / "root"
    for name in SERVED_FOLDERS:
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


def start_lab(base: Path, root: Path, *, timeout_s: float = 90.0) -> LabServer:
    """Start JupyterLab on a free port serving ``root``; returns once it answers."""
    port = free_port()
    settings = base / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    # Autosave off: a test decides when a notebook is saved (and a saved file is a copy anyway).
    (settings / "overrides.json").write_text(json.dumps({
        "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
        # Every cell in the DOM (JupyterLab 4 renders only the cells in view by default): the
        # tests measure all outputs, and the screenshot shows the whole notebook.
        # recordTiming: each cell's start and end in its metadata (the session prints the
        # slowest cells, for whoever wants these tests faster).
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none",
                                                   "recordTiming": True},
        "@jupyterlab/apputils-extension:notification": {
            "checkForUpdates": False, "fetchNews": "false"},
    }))
    # No build check: every page load would ask the server whether JupyterLab needs a
    # rebuild, which runs node twice (node-version-check.js, yarn config) for an answer that
    # is always "no" here (a pip-installed JupyterLab with prebuilt extensions).
    labconfig = base / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"buildCheck": False, "buildAvailable": False}))
    # The kernels draw their figures themselves: the tests keep two or three notebooks
    # running at once on two CPUs, where drillbook's two figure helper processes per kernel
    # gain nothing and cost two more matplotlib start-ups per notebook (the figures are the
    # same either way; tests/unit/test_jupyter_result.py tests the helpers).
    kernel_config = base / "ipython" / "profile_default"
    kernel_config.mkdir(parents=True, exist_ok=True)
    (kernel_config / "ipython_kernel_config.py").write_text(
        "c.Drill.parallel_figures = False\n")
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "IPYTHONDIR": str(base / "ipython"),
        "PYTHONUNBUFFERED": "1",
    })
    log = base / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}", "--IdentityProvider.token=",
        "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabServerApp.app_settings_dir={settings}",
        "--LabApp.extension_manager=readonly",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(process, root, f"http://127.0.0.1:{port}/", log)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({process.returncode}):\n{server.log_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}api/status", timeout=5) as reply:
                if reply.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"jupyter lab did not answer in {timeout_s} s:\n"
                               f"{server.log_text()}")
        time.sleep(0.25)
