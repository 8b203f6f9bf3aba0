"""Without root: ``drillbook run`` as a throwaway normal user, through a user namespace
(drillbook.runtime.sandbox.userns), where the machine allows unprivileged user namespaces and
/dev/net/tun is accessible; otherwise a message saying exactly what is missing."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from other_user import Account, Stage
from suite_scripts import PASSING

from drillbook.runtime.sandbox.userns import missing_for_userns

pytestmark = pytest.mark.kernel

PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class NormalUser:
    """A throwaway account and how to run this project's Python as it, from the stage (the
    checkout and the venv's interpreter may sit in a private folder)."""

    account: Account
    python: str
    stage: Stage

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.stage.command(self.account, self.python, argv),
                              capture_output=True, text=True, timeout=timeout, cwd="/")


@pytest.fixture(scope="module")
def normal_user(stage: Stage) -> Iterator[NormalUser]:
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    missing = missing_for_userns()
    if missing:
        pytest.skip("this machine forbids unprivileged runs: " + "; ".join(missing))
    name = f"drill{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        account = Account(entry.pw_uid, entry.pw_gid)
        python = stage.python_for(account)
        if python is None:
            pytest.skip(stage.no_python_reason(account))
        yield NormalUser(account, python, stage)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def public_script(stage: Stage) -> Path:
    return stage.add_file("ok.pkt", PASSING)


@pytest.mark.other_user
def test_the_user_namespace_path_runs_a_script(normal_user: NormalUser,
                                               public_script: Path) -> None:
    """enter_if_unprivileged() then the ordinary run: the worker inherits the namespace."""
    code = ("from drillbook.runtime.sandbox.userns import enter_if_unprivileged\n"
            "assert enter_if_unprivileged()\n"
            "from drillbook.cli import main\n"
            f"raise SystemExit(main(['run', {str(public_script)!r}]))\n")
    proc = normal_user.run("-c", code)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.other_user
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
