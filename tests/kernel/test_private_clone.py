"""A newcomer's clone in a private folder (root's home is 0700): the tests that run as another
account pass from there, and ``make install`` from there gives a drillbook every account runs.

The clone is of this checkout's last commit (``git clone``, then that commit checked out):
uncommitted changes are not in it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from other_user import NOBODY, Stage
from suite_scripts import FAILING, FAILING_LINE, PASSING

from drillbook.runtime.sandbox.userns import missing_for_userns

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def private_clone(stage: Stage) -> Iterator[Path]:
    """This checkout's HEAD cloned into a fresh 0700 folder under /var/tmp, removed after."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    head = subprocess.run([git, "-C", str(PROJECT), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip(f"{PROJECT} is not a git checkout: nothing to clone")
    private = Path(tempfile.mkdtemp(prefix="drillbook-private-", dir="/var/tmp"))
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        clone = private / "drillbook"
        subprocess.run([git, "clone", "--quiet", "--no-checkout", str(PROJECT), str(clone)],
                       check=True, capture_output=True)
        subprocess.run([git, "-C", str(clone), "checkout", "--quiet", head.stdout.strip()],
                       check=True, capture_output=True)
        yield clone
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _summary(output: str) -> dict[str, int]:
    """pytest's closing counts: {"passed": 4, "skipped": 1, ...}."""
    last = output.strip().splitlines()[-1]
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", last)}


def test_the_other_account_tests_pass_from_a_private_clone(private_clone: Path,
                                                           stage: Stage) -> None:
    # Where the machine cannot run them at all, they skip there and this skips here, with the
    # same reason: the check below is that nothing else makes them skip.
    if stage.python_for(NOBODY) is None:
        pytest.skip(stage.no_python_reason(NOBODY))
    if missing_for_userns():
        pytest.skip("this machine forbids unprivileged runs: " + "; ".join(missing_for_userns()))
    probe = subprocess.run([*NOBODY.prefix(), "ls", str(private_clone)], capture_output=True)
    assert probe.returncode != 0, "the clone's folder must be unreadable to other accounts"
    env = dict(os.environ, PYTHONPATH=str(private_clone), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "other_user",
         "-rs", "tests/kernel"],
        cwd=private_clone, env=env, capture_output=True, text=True, timeout=600)
    counts = _summary(done.stdout)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # As many as from this checkout, and none skipped: what they need is staged.
    assert counts.get("passed", 0) >= 4 and not counts.get("skipped"), done.stdout[-4000:]
    assert f"{private_clone}/drillbook" not in done.stdout + done.stderr  # no import failure


def test_make_install_from_a_private_clone_runs_for_every_account(private_clone: Path,
                                                                  stage: Stage) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    target = Path(tempfile.mkdtemp(prefix="drillbook-install-", dir="/var/tmp"))
    try:
        target.chmod(0o755)
        prefix, bindir = target / "opt", target / "bin"
        done = subprocess.run(["make", "--no-print-directory", "install", f"PREFIX={prefix}",
                               f"BINDIR={bindir}"], cwd=private_clone, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        installed = (prefix / "venv" / "lib").glob("python3*/site-packages/drillbook")
        assert [path for path in installed if not path.is_symlink()], "not a real install"
        assert not list((prefix / "venv" / "lib").glob("python3*/site-packages/__editable__*"))
        _check_runs_as_nobody(bindir / "drillbook", stage)
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _check_runs_as_nobody(drillbook: Path, stage: Stage) -> None:
    passing = stage.add_file("install/ok.pkt", PASSING)
    failing = stage.add_file("install/wrong-ack.pkt", FAILING)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*NOBODY.prefix(), "env", "-i", "PATH=/usr/bin:/bin",
                               str(drillbook), *argv],
                              capture_output=True, text=True, timeout=120, cwd="/")

    checked = run("run", "--dry_run", str(passing))
    assert checked.returncode == 0, checked.stderr
    if missing_for_userns():
        pytest.skip("installed and checked; this machine forbids unprivileged runs: "
                    + "; ".join(missing_for_userns()))
    passed = run("run", str(passing))
    assert passed.returncode == 0, passed.stderr
    failed = run("run", str(failing))
    assert failed.returncode == 1, failed.stderr
    assert f"{failing}:{FAILING_LINE}: error handling packet" in failed.stderr
