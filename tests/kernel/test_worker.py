"""The worker process: replies, errors by kind, deaths, timeouts, and the message when the
machine refuses a sandbox."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kernel_support import missing_privilege
from other_user import NOBODY, Stage
from test_worker_entries import KERNEL_DIR, make_request

from drillbook.config import IpMode
from drillbook.errors import RunAborted, ScriptError
from drillbook.runtime.workers.client import run_in_worker
from drillbook.runtime.workers.request import WorkerErrorKind, WorkerRequest

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]


@pytest.fixture(autouse=True)
def _entries_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", KERNEL_DIR)


def test_request_crosses_intact_and_cwd_is_the_scripts_folder() -> None:
    request = make_request("echo_request", cwd=KERNEL_DIR, ip_mode=IpMode.IPV6,
                           defines=(("A", "1"),))
    big = WorkerRequest("x" * 300_000, request.script_path, request.cwd, request.config,
                        request.entry)
    reply = run_in_worker(big, 20)
    assert reply.result == {
        "script_len": 300_000, "cwd": KERNEL_DIR, "same_class": "drillbook.runtime.workers.request",
        "config": request.config, "run_config_mode": "ipv6",
    }
    t = reply.timings
    assert t["spawn"] < t["child_start"] < t["sandbox_ready"] < t["entry_done"]


def test_crash_in_entry_is_reported_with_traceback() -> None:
    reply = run_in_worker(make_request("crash"), 20)
    assert reply.error is not None and reply.error.kind is WorkerErrorKind.CRASH
    assert reply.error.type_name == "ZeroDivisionError"
    assert "deliberate crash" in reply.error.traceback
    with pytest.raises(RunAborted, match="worker crashed: ZeroDivisionError"):
        reply.raise_for_error()


def test_script_error_in_entry_is_kind_script() -> None:
    reply = run_in_worker(make_request("script_error"), 20)
    assert reply.error is not None and reply.error.kind is WorkerErrorKind.SCRIPT
    with pytest.raises(ScriptError) as caught:
        reply.raise_for_error()
    assert str(caught.value) == "<script>: deliberate script error"  # rendered in the worker


def test_result_that_is_not_json_is_a_crash() -> None:
    reply = run_in_worker(make_request("not_json"), 20)
    assert reply.error is not None and reply.error.type_name == "TypeError"


def test_unknown_entry_is_a_crash() -> None:
    request = make_request("describe")
    request = WorkerRequest("", "x.pkt", "/", request.config, "no_such_module_here:f")
    reply = run_in_worker(request, 20)
    assert reply.error is not None and reply.error.type_name == "ModuleNotFoundError"


def test_worker_death_is_run_aborted() -> None:
    with pytest.raises(RunAborted, match="died from signal SIGKILL before replying"):
        run_in_worker(make_request("suicide"), 20)


def test_timeout_kills_the_worker() -> None:
    start = time.monotonic()
    with pytest.raises(RunAborted, match="timed out after 1 s; the worker was killed"):
        run_in_worker(make_request("sleep_forever"), 1.0)
    assert time.monotonic() - start < 3.0


UNPRIVILEGED_RUN = (
    "import sys\n"
    "from test_worker_entries import make_request\n"
    "from drillbook.runtime.workers.client import run_in_worker\n"
    "try:\n"
    "    reply = run_in_worker(make_request('handshake'), 20)\n"
    "    print('result', reply.result and reply.result['flags'], reply.error)\n"
    "except Exception as exc:\n"
    "    print(type(exc).__name__, exc)\n"
)


def _as_nobody(stage: Stage) -> list[str]:
    """The unprivileged run as user nobody, from the stage (the checkout may be private)."""
    python = stage.python_for(NOBODY)
    if python is None:
        pytest.skip(stage.no_python_reason(NOBODY))
    stage.add_module(Path(KERNEL_DIR, "test_worker_entries.py"))
    return stage.command(NOBODY, python, ["-c", UNPRIVILEGED_RUN])


@pytest.mark.other_user
def test_unprivileged_worker_runs_in_a_user_namespace(stage: Stage) -> None:
    from drillbook.runtime.sandbox.userns import missing_for_userns

    command = _as_nobody(stage)
    if missing_for_userns():
        pytest.skip("this machine forbids unprivileged runs: " + "; ".join(missing_for_userns()))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd="/")
    assert done.stdout == "result 18 None\n", done.stdout + done.stderr  # a SYN-ACK came back


@pytest.mark.other_user
def test_missing_capability_says_how_to_fix_it(stage: Stage) -> None:
    command = _as_nobody(stage)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed: cannot hide /dev/net/tun")
    # Without root and without /dev/net/tun (hidden in a private mount namespace), neither
    # path can work: the message must say what is missing and how to fix it.
    done = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs none /dev/net && exec "$@"', "sh", *command],
        capture_output=True, text=True, timeout=60, cwd="/",
    )
    assert done.stdout.startswith(
        "SandboxError drillbook needs CAP_NET_ADMIN and CAP_SYS_ADMIN, or unprivileged user "
        "namespaces"), done.stdout + done.stderr
    assert "/dev/net/tun does not exist (load the tun module: modprobe tun)" in done.stdout
    assert "Run as root (sudo)" in done.stdout


def test_missing_tun_device_says_how_to_fix_it() -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed: cannot hide /dev/net/tun")
    program = (
        "from drillbook.runtime.workers.client import run_in_worker\n"
        "from drillbook.runtime.workers.request import WorkerErrorKind, WorkerRequest\n"
        "try:\n"
        "    run_in_worker(WorkerRequest('', 'x.pkt', '/', {}, 'x:y'), 20)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    # A private mount namespace where /dev/net is an empty tmpfs: the host keeps its device.
    done = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs none /dev/net && exec "$0" -c "$1"', sys.executable, program],
        capture_output=True, text=True, timeout=30, env={"PYTHONPATH": PROJECT_ROOT},
    )
    assert done.stdout.startswith("SandboxError /dev/net/tun is missing: load the tun module"), (
        done.stdout + done.stderr)
    assert Path("/dev/net/tun").exists()


def test_a_stuck_thread_does_not_hold_the_reply() -> None:
    start = time.monotonic()
    reply = run_in_worker(make_request("stuck_thread"), 20)
    assert reply.result == {"done": True}
    assert reply.stdout == "from the entry\n"
    assert time.monotonic() - start < 5.0


def test_timeout_carries_the_partial_result_the_entry_returns() -> None:
    with pytest.raises(RunAborted, match="timed out after 1 s") as caught:
        run_in_worker(make_request("partial_on_timeout"), 1.0)
    assert caught.value.trace == {"partial": True, "some_steps": True}
