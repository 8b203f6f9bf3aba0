"""run_shell and kill_session on real processes (no privileges needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from drillbook.runtime.sandbox.process import kill_session, run_shell

PATH_ENV = {"PATH": os.defpath}


def test_output_is_captured_interleaved_and_status_kept() -> None:
    result = run_shell("echo out; echo err >&2; exit 3", PATH_ENV, 10, passthrough=False)
    assert (result.returncode, result.output, result.timed_out) == (3, "out\nerr\n", False)


def test_shell_is_our_direct_child_with_the_given_env() -> None:
    result = run_shell('echo "$PPID $X"', {**PATH_ENV, "X": "y"}, 10, passthrough=False)
    assert result.output == f"{os.getpid()} y\n"


def test_background_jobs_do_not_hold_the_command_up() -> None:
    start = time.monotonic()
    result = run_shell("sleep 5 & echo $!", PATH_ENV, 10, passthrough=False)
    assert time.monotonic() - start < 2.0
    os.kill(int(result.output), signal.SIGKILL)


def test_timeout_kills_the_whole_group() -> None:
    start = time.monotonic()
    result = run_shell("sleep 30 & echo begun; wait", PATH_ENV, 0.3, passthrough=False)
    assert result.timed_out and result.returncode == -9 and result.output == "begun\n"
    assert time.monotonic() - start < 2.0


def test_passthrough_copies_output_to_stdout(capfd: object) -> None:
    import pytest

    assert isinstance(capfd, pytest.CaptureFixture)
    run_shell("echo visible", PATH_ENV, 10)
    assert "visible\n" in capfd.readouterr().out


def test_kill_session_kills_every_member_but_the_caller() -> None:
    # A session leader whose shell starts a background job, then waits.
    leader = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 30 & sleep 30"], start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.2)
    killed = kill_session(leader.pid)
    assert leader.pid in killed and len(killed) >= 3
    assert leader.wait(5) == -9
