"""Without root: ``drillbook run`` as a throwaway normal user, through a user namespace
(drillbook.runtime.sandbox.userns), where the machine allows unprivileged user namespaces and
/dev/net/tun is accessible; otherwise a message saying exactly what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from suite_scripts import PASSING, script_folder

from drillbook.runtime.sandbox.userns import missing_for_userns

pytestmark = pytest.mark.kernel

PROJECT = Path(__file__).resolve().parents[2]
SITE = Path(sys.prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}",
            "site-packages")


@dataclass(frozen=True)
class NormalUser:
    """A throwaway account and how to run this project's Python as it."""

    name: str
    python: str

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/var/tmp",
               f"PYTHONPATH={PROJECT}{os.pathsep}{SITE}"]
        command = ["setpriv", f"--reuid={self.name}", f"--regid={self.name}",
                   "--clear-groups", *env, self.python, *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd="/")


def _python_for(name: str) -> str | None:
    """An interpreter of this Python version that the user can execute (the venv's may live
    under a private home), with this project importable."""
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{minor}", f"/usr/local/bin/{minor}"):
        probe = subprocess.run(
            ["setpriv", f"--reuid={name}", f"--regid={name}", "--clear-groups", "env", "-i",
             f"PYTHONPATH={PROJECT}{os.pathsep}{SITE}", candidate, "-c", "import drillbook"],
            capture_output=True, timeout=60)
        if probe.returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def normal_user() -> Iterator[NormalUser]:
    if os.geteuid() != 0:
        pytest.skip("creating a throwaway user needs root")
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    missing = missing_for_userns()
    if missing:
        pytest.skip("this machine forbids unprivileged runs: " + "; ".join(missing))
    name = f"drill{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    try:
        python = _python_for(name)
        if python is None:
            pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that a "
                        f"normal user may run can import {PROJECT}")
        yield NormalUser(name, python)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def public_script() -> Iterator[Path]:
    with script_folder({"ok.pkt": PASSING}) as folder:
        for path in (folder, folder / "ok.pkt"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield folder / "ok.pkt"


def test_the_user_namespace_path_runs_a_script(normal_user: NormalUser,
                                               public_script: Path) -> None:
    """enter_if_unprivileged() then the ordinary run: the worker inherits the namespace."""
    code = ("from drillbook.runtime.sandbox.userns import enter_if_unprivileged\n"
            "assert enter_if_unprivileged()\n"
            "from drillbook.cli import main\n"
            f"raise SystemExit(main(['run', {str(public_script)!r}]))\n")
    proc = normal_user.run("-c", code)
    assert proc.returncode == 0, proc.stderr


def test_drillbook_run_as_a_normal_user(normal_user: NormalUser, public_script: Path) -> None:
    """The ordinary command: the worker enters the user namespace itself."""
    proc = normal_user.run("-m", "drillbook", "run", str(public_script))
    assert proc.returncode == 0, proc.stderr


def test_a_refused_user_namespace_says_why() -> None:
    """A real refusal: unshare(CLONE_NEWUSER) fails with EINVAL in a threaded process."""
    code = ("import threading, time\n"
            "threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
            "from drillbook.errors import SandboxError\n"
            "from drillbook.runtime.sandbox.userns import enter_user_namespace\n"
            "try:\n    enter_user_namespace()\nexcept SandboxError as exc:\n"
            "    print(exc.render())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=PROJECT)
    assert "the process is multi-threaded" in proc.stdout, proc.stdout + proc.stderr
    assert "Run as root (sudo)" in proc.stdout
