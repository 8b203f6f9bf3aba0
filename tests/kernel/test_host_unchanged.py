"""Runs leave the host as they found it: after runs that pass, fail, time out, are
interrupted (SIGINT) or killed (SIGKILL of the worker, or of a process that launched one).

Other people's runs may share this machine, so namespace inodes, TUN fds and /tmp entries
are judged by attribution (ours must be gone); links, named namespaces, TCP and core sysctls
and our descendants must be exactly as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kernel_support import missing_privilege
from test_worker_entries import KERNEL_DIR, make_request

from drillbook.errors import RunAborted
from drillbook.runtime.workers.client import run_in_worker
from drillbook.runtime.workers.hostcheck import HostState, diff
from drillbook.runtime.workers.request import WorkerReply
from drillbook.runtime.workers.zygote import WORKER_NAME

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
WORKER_MARK = "drillbook.runtime.workers.worker"  # a worker spawned as a fresh interpreter


@pytest.fixture(autouse=True)
def _entries_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", KERNEL_DIR)


def _strict(lines: list[str]) -> list[str]:
    # Shared with other people's runs: judged by attribution below. A descendant that ended
    # during the test (left by an earlier test of the session) is not a leak either.
    # The zygote (drillbook/runtime/workers/zygote.py) is a deliberate long-lived child that forks
    # workers; it holds no namespace, TUN device or file of a run.
    shared = ("netns inode", "open /dev/net/tun", "file in /tmp", "descendant process gone",
              "drillbook.runtime.workers.zygote")
    return [line for line in lines if not any(word in line for word in shared)]


def assert_unchanged(before: HostState, ours: set[int], our_netns: set[int],
                     tmp_names: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Wait (bounded) for the host to settle, then check nothing of ours is left."""
    deadline = time.monotonic() + 5.0
    while True:
        after = HostState.capture()
        problems = _strict(diff(before, after))
        problems += [f"worker netns {n} still exists" for n in our_netns & after.netns_inodes]
        problems += [f"pid {pid} of ours alive" for pid in ours if _alive(pid)]
        problems += [f"/tmp/{name} left behind" for name in tmp_names & after.tmp_files]
        problems += [f"new /tmp/{name}" for name in after.tmp_files - before.tmp_files
                     if name.startswith("sysctl_restore_")]
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert problems == [], "\n".join(problems + ["full diff:"] + diff(before, after))


def _alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return raw[raw.rindex(b")") + 2:].split()[0] != b"Z"


def _workers_below(pid: int) -> list[int]:
    """Worker processes descending from *pid* (found through /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _is_descendant(int(entry), pid):
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes() if _alive(int(entry)) else b""
            if WORKER_MARK.encode() in cmd or _comm(int(entry)) == WORKER_NAME:
                found.append(int(entry))
    return found


def _comm(pid: int) -> str:
    """A worker forked by the zygote keeps the zygote's command line but names itself."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _is_descendant(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        try:
            raw = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return False
        pid = int(raw[raw.rindex(b")") + 2:].split()[1])
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def _wait_for_worker(ancestor: int) -> tuple[int, int, list[int]]:
    """(worker pid, its netns inode, its session's pids) once its sandbox is up."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pid in _workers_below(ancestor):
            try:
                netns = os.stat(f"/proc/{pid}/ns/net").st_ino
            except OSError:
                continue
            if netns != os.stat("/proc/self/ns/net").st_ino and _session(pid):
                return pid, netns, _session(pid)
        time.sleep(0.02)
    raise AssertionError("the worker did not start")


def _session(sid: int) -> list[int]:
    from drillbook.runtime.sandbox.process import _session_of

    # The sandbox is up once sleep_forever's background job ("sleep 3600") exists.
    members = [int(p) for p in os.listdir("/proc") if p.isdigit()
               and _session_of(f"/proc/{p}") == sid]
    cmds = [Path(f"/proc/{p}/cmdline").read_bytes() for p in members if _alive(p)]
    return members if any(c.startswith(b"sleep\0") for c in cmds) else []


def test_passing_run_leaves_nothing() -> None:
    before = HostState.capture()
    reply = run_in_worker(make_request("handshake"), 20)
    assert reply.ok
    assert_unchanged(before, {reply.result["pid"]} if reply.result else set(), set())


def test_failing_run_leaves_nothing() -> None:
    before = HostState.capture()
    reply = run_in_worker(make_request("crash"), 20)
    assert reply.error is not None
    assert_unchanged(before, set(), set())


def test_files_sysctls_and_background_jobs_stay_in_the_sandbox() -> None:
    marker = f"drillbook-hostcheck-{os.getpid()}-{time.monotonic_ns()}"
    before = HostState.capture()
    reply: WorkerReply = run_in_worker(make_request("leave_traces", extra=(("m", marker),)), 20)
    r = reply.result
    assert r is not None and r["returncode"] == 0
    assert marker in r["tmp"] and any(n.startswith("sysctl_restore_") for n in r["tmp"])
    assert r["syncookies_inside"] == "0"
    assert_unchanged(before, set(), {r["netns"]}, {marker})


def test_timed_out_run_leaves_nothing() -> None:
    before = HostState.capture()
    holder: dict[str, object] = {}

    def run() -> None:
        try:
            run_in_worker(make_request("sleep_forever"), 3.0)
        except RunAborted as exc:
            holder["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    pid, netns, session = _wait_for_worker(os.getpid())
    thread.join(10)
    assert "timed out" in str(holder.get("error"))
    assert_unchanged(before, {pid, *session}, {netns})


def test_sigkill_of_the_worker_leaves_nothing() -> None:
    before = HostState.capture()
    holder: dict[str, object] = {}

    def run() -> None:
        try:
            run_in_worker(make_request("sleep_forever"), 30)
        except RunAborted as exc:
            holder["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    pid, netns, session = _wait_for_worker(os.getpid())
    os.kill(pid, signal.SIGKILL)
    thread.join(10)
    assert "died from signal SIGKILL" in str(holder.get("error"))
    assert_unchanged(before, {pid, *session}, {netns})


LAUNCHER = (
    "import sys\n"
    "from drillbook.runtime.workers.client import run_in_worker\n"
        "from drillbook.runtime.workers.request import WorkerRequest\n"
    "request = WorkerRequest('', 'x.pkt', '/', {}, 'test_worker_entries:sleep_forever')\n"
    "try:\n"
    "    run_in_worker(request, 60)\n"
    "except KeyboardInterrupt:\n"
    "    print('interrupted', flush=True)\n"
    "    sys.exit(130)\n"
)


def _launch() -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((KERNEL_DIR, PROJECT_ROOT)))
    return subprocess.Popen([sys.executable, "-c", LAUNCHER], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigint_of_the_launcher_kills_its_worker() -> None:
    before = HostState.capture()
    launcher = _launch()
    pid, netns, session = _wait_for_worker(launcher.pid)
    launcher.send_signal(signal.SIGINT)
    out, err = launcher.communicate(timeout=10)
    assert (launcher.returncode, out) == (130, "interrupted\n"), err
    assert_unchanged(before, {pid, *session}, {netns})


def test_sigkill_of_the_launcher_kills_its_worker() -> None:
    before = HostState.capture()
    launcher = _launch()
    pid, netns, session = _wait_for_worker(launcher.pid)
    launcher.kill()
    launcher.communicate(timeout=10)
    start = time.monotonic()
    # Normally well under 100 ms; the bound leaves room for a loaded machine whose real-time
    # workers (runs use SCHED_RR) delay ordinary processes such as the guardian.
    while any(_alive(p) for p in (pid, *session)) and time.monotonic() - start < 5.0:
        time.sleep(0.01)
    assert not any(_alive(p) for p in (pid, *session)), "worker outlived its launcher by 5 s"
    assert_unchanged(before, {pid, *session}, {netns})
