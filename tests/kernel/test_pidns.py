"""The launcher the hub starts each student's server with (drillbook.classroom.pidns), run for
real as root with ``nobody`` as the student: the server sees only its own PID namespace, has
its own /tmp and /dev/shm, gets the hub's stop signal, and nothing of it outlives the keeper;
the host's /proc is untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.kernel

LAUNCH = [sys.executable, "-I", "-m", "drillbook.classroom.pidns", "--user", "nobody", "--"]
SERVER = """
import json, os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, lambda *_: sys.exit(3))
orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)  # left behind on exit
tmp_file = f"/tmp/drillbook-pidns-test-{os.getpid()}-{time.time_ns()}"
open(tmp_file, "w").write("private")
pids = sorted(int(e) for e in os.listdir("/proc") if e.isdigit())
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "pids": pids,
                  "uids": sorted({os.stat(f"/proc/{p}").st_uid for p in pids}),
                  "orphan": orphan.pid, "tmp": tmp_file,
                  "shm": os.listdir("/dev/shm")}), flush=True)
time.sleep(300)
"""


def _proc_mount() -> str:
    return next(line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                if line.split()[4] == "/proc")


def _descendants(root: int) -> set[int]:
    found, frontier = set(), {root}
    while frontier:
        children = set()
        for pid in frontier:
            try:
                text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
            except OSError:
                continue
            children |= {int(p) for p in text.split()}
        found |= children
        frontier = children
    return found


@pytest.fixture(autouse=True)
def _root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the launcher needs root (the hub runs it)")


def _start() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    keeper = subprocess.Popen([*LAUNCH, "/usr/bin/python3", "-c", SERVER], cwd="/",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert keeper.stdout is not None
    line = keeper.stdout.readline()
    assert line, keeper.communicate(timeout=30)
    return keeper, json.loads(line)


def test_the_server_sees_only_its_own_namespace_and_stops_on_the_hubs_signal() -> None:
    mount_before = _proc_mount()
    keeper, seen = _start()
    try:
        inside = _descendants(keeper.pid)
        assert seen["pid"] == 2 and seen["ppid"] == 1, seen  # the init is pid 1
        assert seen["uid"] == 65534 and seen["uids"] == [65534], seen  # no root, no host pids
        assert set(seen["pids"]) >= {1, 2} and len(seen["pids"]) <= 4, seen
        assert len(inside) >= 3, inside  # init, server, the orphan (host pids)
        assert not Path(seen["tmp"]).exists(), "the server's /tmp is its own"
        assert seen["shm"] == [], "a fresh /dev/shm"
        keeper.send_signal(signal.SIGINT)  # what JupyterHub's stop sends first
        assert keeper.wait(timeout=30) == 3, keeper.communicate()[1]
    finally:
        keeper.kill()
        keeper.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in inside) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in inside if Path(f"/proc/{pid}").exists()], "left running"
    assert _proc_mount() == mount_before, "the host's /proc changed"


def test_killing_the_keeper_ends_everything_in_the_namespace() -> None:
    keeper, _ = _start()
    inside = _descendants(keeper.pid)
    keeper.kill()  # the hub's last resort
    keeper.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in inside) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in inside if Path(f"/proc/{pid}").exists()], "left running"


def test_root_is_never_a_student() -> None:
    done = subprocess.run([*LAUNCH[:-3], "--user", "root", "--", "/bin/true"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 70
    assert "'root' is root: a student's server never runs as root" in done.stderr
