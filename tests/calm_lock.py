"""Tests whose runs have no real-time priority are not run beside tests that keep the CPUs busy.

A hub's students, and the other accounts of test_private_clone.py, run their scripts as normal
users: their workers cannot raise themselves to real-time priority as root's do, so a CPU
kept busy by a browser's Run All, lab exports or nbgrader's autograding makes their packets
late (35-55 ms on 2026-12-07, where the labs allow 25). Under pytest-xdist such tests and the
busy ones would otherwise meet on different workers whenever the queue puts them side by side.

So each test of a *busy* module holds a shared lock for its whole protocol (set-up, call,
tear-down: a module or session fixture's work happens inside its first test's set-up), and
each test of a *calm* module holds it exclusively: a calm test waits until no busy test is
running, and busy tests wait while a calm one runs. The lock file lives in the session's
base folder, which xdist's workers share; a session without workers needs no lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import pytest

LOCK_NAME = "calm-or-busy.lock"


class Need(Enum):
    BUSY = fcntl.LOCK_SH
    CALM = fcntl.LOCK_EX


# Test files (relative to tests/) by what they need. Busy: they run labs or notebooks in
# kernels, a browser, or nbgrader's autograding for tens of seconds. Calm: rootless runs.
BUSY = ("browser/", "notebooks/")
CALM = ("kernel/test_hub.py", "kernel/test_private_clone.py")


def need_of(path_under_tests: str) -> Need | None:
    if path_under_tests.startswith(CALM):
        return Need.CALM
    if path_under_tests.startswith(BUSY):
        return Need.BUSY
    return None


def lock_path(config: pytest.Config) -> Path | None:
    """The lock file shared by this session's xdist workers (None outside a worker)."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or not config.option.basetemp:
        return None
    # xdist gives each worker --basetemp=<session base>/popen-gwN.
    return Path(config.option.basetemp).parent / LOCK_NAME


@contextmanager
def holding(path: Path | None, need: Need | None) -> Iterator[None]:
    if path is None or need is None:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, need.value)  # released when the file closes
        yield
