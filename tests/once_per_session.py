"""A folder a test session fills once, however many pytest-xdist workers ask for it.

A module fixture is built once per worker, and under ``-n 3`` the tests of one module spread
over the workers: a fixture that runs every lab then runs them all on each worker that takes
one of those tests. :func:`filled_once` keeps one copy for the session instead: the first
worker to ask fills a folder beside the workers' own temporary folders (all under the
session's base folder), holding a file lock; the others wait for the lock and read what it
wrote. A fill that raised leaves no mark, so the next worker to ask tries again (and reports
its own failure).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DONE = ".filled"


def filled_once(factory: pytest.TempPathFactory, name: str,
                fill: Callable[[Path], None]) -> Path:
    """The folder ``name``, which ``fill(folder)`` filled once in this test session."""
    base = factory.getbasetemp()
    # xdist gives each worker <session base>/popen-gwN: the parent is the session's alone.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even on an error
        if not (folder / DONE).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            fill(folder)
            (folder / DONE).touch()
    return folder
