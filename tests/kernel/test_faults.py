"""Faults: runs killed at random moments, a syscall that never returns, a packet the kernel
never sends, a shell command that hangs. Each ends with a clear verdict in bounded time and
leaves the host as it was.

The machine is shared: other people's runs create and drop namespaces and TUN devices while
these tests run. So besides :func:`drillbook.runtime.workers.hostcheck.diff` on what only we could
change (links, named namespaces, our descendants, sysctls, our temporary folder), every process
we start carries a marker in its environment (inherited by the worker and its shell commands),
and no marked process may survive: namespaces and TUN devices live only as long as a process
holds them, so this proves none of ours leaked.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from suite_scripts import PASSING, require_kernel, script_folder

from drillbook.config import IpMode
from drillbook.runtime.capture.tracefs import (
    TracefsUnavailable,
    leftover_instances,
    sweep_stale,
    tracefs_root,
)
from drillbook.runtime.workers.hostcheck import HostState, diff
from drillbook.suite import Case, Cause, SuiteOptions, Verdict, run_suite
from drillbook.suite.result import CaseResult

pytestmark = pytest.mark.kernel

MARKER_VAR = "DRILLBOOK_FAULT_TEST"
SETTLE_S = 8.0  # how long leftovers may take to be reaped after a kill
PROJECT = Path(__file__).resolve().parents[2]
# Lines of hostcheck.diff that other people's concurrent runs also produce.
SHARED = ("new netns inode", "netns inode gone", "new open /dev/net/tun",
          "open /dev/net/tun (pid, fd) gone")

SLOW = PASSING + "+0 `sleep 20 & sleep 20`\n+0 close(4) = 0\n"
BLOCKING = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 accept(3, ..., ...) = 4
"""
NEVER_SENT = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 > S. 0:0(0) ack 1 <...>
"""
HANGING_SHELL = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 `sleep 1000`
+0 close(3) = 0
"""


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries *marker* (ours, wherever they were reparented)."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


class Host:
    """Before/after check of everything a run could leak (see the module doc)."""

    def __init__(self, tmp_dir: Path) -> None:
        self.marker = uuid.uuid4().hex
        self.tmp_dir = tmp_dir
        self.before = HostState.capture(str(tmp_dir))

    def env(self) -> dict[str, str]:
        return {**os.environ, MARKER_VAR: self.marker, "TMPDIR": str(self.tmp_dir)}

    def problems(self) -> list[str]:
        after = HostState.capture(str(self.tmp_dir))
        ours = [line for line in diff(self.before, after) if not line.startswith(SHARED)]
        return ours + [f"process {pid} of this run survived" for pid in _marked(self.marker)]

    def assert_untouched(self) -> None:
        deadline = time.monotonic() + SETTLE_S
        while (problems := self.problems()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not problems, "\n".join(problems)


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    require_kernel()
    # The runtime keeps one warm fork server (the zygote) per client process for all its
    # runs: start it before the snapshot, so that it counts as part of the host as found.
    from drillbook.runtime.workers.zygote import ZygoteClient

    ZygoteClient.get()
    with script_folder({}) as tmp_dir:
        checker = Host(tmp_dir)
        # Workers inherit our environment: mark them (and their shell commands).
        monkeypatch.setenv(MARKER_VAR, checker.marker)
        yield checker


MOMENTS = [(sig, delay) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
           for delay in sorted(random.Random(sig).uniform(0.05, 3.0) for _ in range(2))]


@pytest.mark.parametrize(("sig", "delay"), MOMENTS,
                         ids=[f"{s.name}-{d:.2f}s" for s, d in MOMENTS])
def test_killed_run_leaves_no_trace(host: Host, sig: signal.Signals, delay: float) -> None:
    with script_folder({"slow.pkt": SLOW}) as folder:
        argv = [sys.executable, "-m", "drillbook", "run", str(folder / "slow.pkt")]
        proc = subprocess.Popen(argv, env=host.env(), cwd=PROJECT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(sig)
        start = time.monotonic()
        _, err = proc.communicate(timeout=15)
        ended_s = time.monotonic() - start
    assert ended_s < 10, f"took {ended_s:.1f} s to stop after {sig.name}"
    if sig is signal.SIGINT:
        # Interrupted once Python handles SIGINT (exit 130, a message); killed before that.
        assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
        if proc.returncode == 130:
            assert "interrupted" in err
    elif sig is signal.SIGTERM:
        # Stopped as on Ctrl-C once drillbook's main() runs (exit 143, a message, its tracefs
        # instance removed by itself); killed by the default action before that.
        assert proc.returncode in (143, -signal.SIGTERM), (proc.returncode, err)
        if delay >= 1.0:  # main() is long running by then
            assert proc.returncode == 143, (proc.returncode, err)
        if proc.returncode == 143:
            assert "drillbook: terminated" in err
    else:
        assert proc.returncode == -sig, (proc.returncode, err)
    _assert_no_instance_left(proc.pid, killed=proc.returncode < 0)
    host.assert_untouched()


def _assert_no_instance_left(pid: int, killed: bool) -> None:
    """No tracefs instance of ``pid`` is left. One killed outright cannot remove its own: the
    next drillbook start sweeps it (runtime/capture/tracefs.py), so do that here, as
    test_explain_kernel.py's kill tests do with a run."""
    try:
        root = tracefs_root(mount_if_missing=False)
    except TracefsUnavailable:
        return
    if killed:
        sweep_stale(root)
    assert not [n for n in leftover_instances(root) if n.startswith(f"drillbook-{pid}-")]


def _run_one(text: str, timeout_s: float) -> CaseResult:
    with script_folder({"fault.pkt": text}) as folder:
        case = Case(str(folder / "fault.pkt"), "fault.pkt", IpMode.IPV4)
        suite = run_suite([case], SuiteOptions(jobs=1, timeout_s=timeout_s))
    return suite.results[0]


def test_blocking_syscall_that_never_returns(host: Host) -> None:
    start = time.monotonic()
    result = _run_one(BLOCKING, timeout_s=8)
    assert time.monotonic() - start < 20
    assert result.verdict is Verdict.FAIL, result
    assert result.message, "a clear verdict names what happened"
    host.assert_untouched()


def test_the_host_check_sees_a_leaked_process(host: Host) -> None:
    leak = subprocess.Popen(["sleep", "60"], env=host.env(), start_new_session=True)
    try:
        assert any(f"process {leak.pid} of this run survived" in p for p in host.problems())
    finally:
        leak.kill()
        leak.wait()
    host.assert_untouched()


def test_kernel_never_sends_the_expected_packet(host: Host) -> None:
    start = time.monotonic()
    result = _run_one(NEVER_SENT, timeout_s=30)
    assert time.monotonic() - start < 30
    assert result.verdict is Verdict.FAIL and result.cause is Cause.TIMEOUT, result
    assert result.line == 5, result.message
    host.assert_untouched()


def test_hanging_shell_command(host: Host) -> None:
    start = time.monotonic()
    result = _run_one(HANGING_SHELL, timeout_s=6)
    assert time.monotonic() - start < 20
    assert result.verdict is Verdict.FAIL and result.cause is Cause.ABORTED, result
    assert "timed out after 6 s" in result.message
    host.assert_untouched()


def test_interrupted_suite_stops_its_runs(host: Host) -> None:
    scripts = {f"slow{i}.pkt": SLOW for i in range(4)}
    with script_folder(scripts) as folder:
        argv = [sys.executable, "-m", "drillbook", "suite", str(folder), "--jobs", "2", "-q"]
        proc = subprocess.Popen(argv, env=host.env(), cwd=PROJECT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = proc.communicate(timeout=30)
        ended_s = time.monotonic() - start
    assert ended_s < 10, f"took {ended_s:.1f} s to stop"
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "(interrupted)" in out
    host.assert_untouched()
