"""A newcomer's clone in a private folder (root's home is 0700): the tests that run as another
account pass from there, and ``make install`` from there gives a drillbook every account runs.

The clone is of this checkout's last commit (``git clone``, then that commit checked out):
uncommitted changes are not in it. ``make install`` runs in a clone of its own, made and
installed in the background while the tests before this module run.
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from background_setup import Prepared, Result, background_setup
from other_user import NOBODY, Stage
from suite_scripts import FAILING, FAILING_LINE, PASSING

from drillbook.runtime.sandbox.userns import missing_for_userns

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]


def _clone_problem() -> str | None:
    """Why there is nothing to clone here, or None."""
    if shutil.which("git") is None:
        return "git is not installed"
    head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode != 0:
        return f"{PROJECT} is not a git checkout: nothing to clone"
    return None


@contextmanager
def _cloned() -> Iterator[Path]:
    """This checkout's HEAD cloned into a fresh 0700 folder under /var/tmp, removed after."""
    head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    private = Path(tempfile.mkdtemp(prefix="drillbook-private-", dir="/var/tmp"))
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        clone = private / "drillbook"
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(PROJECT), str(clone)],
                       check=True, capture_output=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head],
                       check=True, capture_output=True)
        yield clone
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="module")
def private_clone(stage: Stage) -> Iterator[Path]:
    problem = _clone_problem()
    if problem:
        pytest.skip(problem)
    with _cloned() as clone:
        yield clone


@dataclass(frozen=True)
class InstallFolders:
    """Where the background ``make install`` puts the venv and the command's link."""

    prefix: Path
    bindir: Path


def _prepare_make_install() -> Prepared:
    """``make install`` in a private clone of its own (a fresh 0700 folder, as above), into a
    world-readable folder under /var/tmp; pip's temporary files stay in that folder too."""
    head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    private = Path(tempfile.mkdtemp(prefix="drillbook-private-", dir="/var/tmp"))
    target = Path(tempfile.mkdtemp(prefix="drillbook-install-", dir="/var/tmp"))

    def clean_up() -> None:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)

    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    target.chmod(0o755)
    folders = InstallFolders(target / "opt", target / "bin")
    logs, scratch = target / "logs", target / "tmp"
    logs.mkdir()
    scratch.mkdir()
    clone = private / "drillbook"
    script = ('git clone --quiet --no-checkout "$1" "$2" && git -C "$2" checkout --quiet "$3" '
              '&& cd "$2" && exec make --no-print-directory install PREFIX="$4" BINDIR="$5"')
    argv = ["sh", "-c", script, "make-install", str(PROJECT), str(clone), head,
            str(folders.prefix), str(folders.bindir)]
    return Prepared(argv, Path("/"), dict(os.environ, TMPDIR=str(scratch)), logs, folders,
                    clean_up)


# pip into a fresh venv takes a minute or more: it runs in the background while the tests
# before this module run (background_setup.py); the fixture waits for it.
MAKE_INSTALL = background_setup(
    "made_install", _prepare_make_install,
    when=lambda: os.geteuid() == 0 and shutil.which("make") is not None
    and _clone_problem() is None)


@pytest.fixture(scope="module")
def made_install(stage: Stage) -> Iterator[Result]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    problem = _clone_problem()
    if problem:
        pytest.skip(problem)
    with MAKE_INSTALL.taken() as made:
        yield made


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


def test_make_install_from_a_private_clone_runs_for_every_account(made_install: Result,
                                                                  stage: Stage) -> None:
    done, folders = made_install.done, made_install.value
    prefix, bindir = folders.prefix, folders.bindir
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    installed = (prefix / "venv" / "lib").glob("python3*/site-packages/drillbook")
    assert [path for path in installed if not path.is_symlink()], "not a real install"
    assert not list((prefix / "venv" / "lib").glob("python3*/site-packages/__editable__*"))
    _check_runs_as_nobody(bindir / "drillbook", stage)


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
