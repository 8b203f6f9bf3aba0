"""Slow set-up commands that need no kernel timing, started in the background as soon as the
session knows a test will need them.

The hub's student install and ``make install`` from a private clone are each a minute or more
of pip into a fresh venv, and used to sit on the critical path of the suite. Such a command is
declared once (``background_setup``) with the fixture that consumes it; after collection,
conftest.py starts every command a selected test needs (side by side), and the tests before it
run meanwhile. The fixture then waits for the command's result (``taken``): the same command,
the same exit status and output as if the fixture had run it then, and the same clean-up when
the fixture ends.

The command runs *detached*: double-forked into a session of its own, so neither it nor its
children are descendants of pytest. Many kernel tests check that a run leaves no new descendant
process behind, and a pip install in progress would look like one. It runs at nice 10, so it
yields the CPU to the tests running meanwhile (root runs have SCHED_RR anyway). A command still
running when the session ends is killed with its whole process group, and what it made removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKGROUND_NICE = 10
POLL_S = 0.5

# Run by a short-lived child of pytest: fork, let the parent report the grandchild's pid and
# exit at once; the grandchild (reparented away from pytest) starts a session, lowers its
# priority, runs the command into files and writes its exit status last (renamed into place, so
# a status file is always complete).
_TRAMPOLINE = r"""
import os, subprocess, sys
logs, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid:
    print(pid, flush=True)
    os._exit(0)
os.setsid()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):  # let go of the pipe the launcher reads the pid from
    os.dup2(null, fd)
os.nice(int(os.environ.pop("DRILLBOOK_BACKGROUND_NICE", "0")))
with open(os.path.join(logs, "stdout"), "wb") as out, \
        open(os.path.join(logs, "stderr"), "wb") as err:
    try:
        code = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    except OSError as error:
        err.write(str(error).encode())
        code = 127
with open(os.path.join(logs, "status.part"), "w") as status:
    status.write(str(code))
os.rename(os.path.join(logs, "status.part"), os.path.join(logs, "status"))
os._exit(0)
"""


@dataclass(frozen=True)
class Prepared:
    """What a set-up runs: ``argv`` in ``cwd`` with ``env``, its output kept in ``logs`` (an
    empty folder), and ``value`` (what the fixture hands on: the folders the command fills);
    ``clean_up`` removes everything it made."""

    argv: Sequence[str]
    cwd: Path
    env: dict[str, str]
    logs: Path
    value: Any
    clean_up: Callable[[], None]
    timeout_s: float = 600


@dataclass
class _Running:
    prepared: Prepared
    pid: int
    started: float = field(default_factory=time.monotonic)

    def status(self) -> int | None:
        try:
            return int((self.prepared.logs / "status").read_text())
        except (OSError, ValueError):
            return None

    def wait(self) -> subprocess.CompletedProcess[str]:
        argv = list(self.prepared.argv)
        while (code := self.status()) is None:
            if time.monotonic() - self.started > self.prepared.timeout_s:
                self.kill()
                raise subprocess.TimeoutExpired(argv, self.prepared.timeout_s)
            time.sleep(POLL_S)
        logs = self.prepared.logs
        return subprocess.CompletedProcess(
            argv, code, (logs / "stdout").read_text(errors="replace"),
            (logs / "stderr").read_text(errors="replace"))

    def kill(self) -> None:
        if self.status() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _group_alive(self.pid):
                time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Result:
    """A finished set-up: its command's exit status and output, and the prepared value."""

    done: subprocess.CompletedProcess[str]
    value: Any


class BackgroundSetup:
    """A command started ahead of time; see the module doc."""

    def __init__(self, fixture: str, prepare: Callable[[], Prepared],
                 when: Callable[[], bool]) -> None:
        self.fixture = fixture
        self._prepare = prepare
        self._when = when
        self._running: _Running | None = None

    def start(self) -> None:
        """Begin in the background (once), if this machine can use the result at all."""
        if self._running is None and self._when():
            self._running = _start(self._prepare())

    @contextlib.contextmanager
    def taken(self) -> Iterator[Result]:
        """The command's result (waiting for it, or starting it now if it was never
        started); everything it made is removed on leaving."""
        if self._running is None:
            self._running = _start(self._prepare())
        try:
            yield Result(self._running.wait(), self._running.prepared.value)
        finally:
            self.close()

    def close(self) -> None:
        """Kill the command if it still runs, and remove what it made."""
        running, self._running = self._running, None
        if running is not None:
            running.kill()
            running.prepared.clean_up()


def _start(prepared: Prepared) -> _Running:
    env = dict(prepared.env, DRILLBOOK_BACKGROUND_NICE=str(BACKGROUND_NICE))
    try:
        launched = subprocess.run(
            [sys.executable, "-c", _TRAMPOLINE, str(prepared.logs), *prepared.argv],
            cwd=prepared.cwd, env=env, capture_output=True, text=True, check=True, timeout=60)
        return _Running(prepared, int(launched.stdout))
    except BaseException:
        prepared.clean_up()
        raise


_REGISTRY: list[BackgroundSetup] = []


def background_setup(fixture: str, prepare: Callable[[], Prepared],
                     when: Callable[[], bool]) -> BackgroundSetup:
    """Declare a set-up for the fixture named ``fixture``; ``when`` says whether this machine
    could use it (no point installing for a test that will skip)."""
    setup = BackgroundSetup(fixture, prepare, when)
    _REGISTRY.append(setup)
    return setup


def start_for(fixture_names_in_order: Iterable[Iterable[str]]) -> None:
    """Start, in the order the tests need them, the set-ups of the fixtures these tests use."""
    for names in fixture_names_in_order:
        for setup in _REGISTRY:
            if setup.fixture in names:
                setup.start()


def close_all() -> None:
    """End of session: nothing started in the background is left behind."""
    for setup in _REGISTRY:
        setup.close()
