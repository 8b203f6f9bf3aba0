"""Explanations of real runs: the right cause at the right line, as root (tracefs, counters,
TCP_INFO) and as a normal user (counters and TCP_INFO only); parallel runs see only their own
events; no tracefs instance is left behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_faults import Host, host  # noqa: F401 (a fixture)
from test_nonroot import NormalUser, normal_user  # noqa: F401 (a fixture)

from drillbook.parser import parse_script, parse_with_flags
from drillbook.runtime.api import run_script
from drillbook.runtime.capture.ringbuffer import page_spans
from drillbook.runtime.capture.session import wait_for_removals
from drillbook.runtime.capture.spare import KEEPER, UPKEEP_THREAD, discard_spare, prepare
from drillbook.runtime.capture.tracefs import Instance, leftover_instances, tracefs_root
from drillbook.trace.codec import trace_from_json
from drillbook.trace.kernel import Cause, Source
from drillbook.trace.model import Trace

pytestmark = pytest.mark.kernel

SCRIPTS = Path(__file__).parent / "explain_scripts"
PROJECT = Path(__file__).resolve().parents[2]


def run(name: str) -> Trace:
    path = SCRIPTS / name
    # With the script's own header lines (its --tolerance_usecs), as drillbook run uses them.
    script, config = parse_with_flags(path.read_text(), str(path))
    for _ in range(3):  # a shared machine may miss a timing edge: that is not what we test
        trace = run_script(script, config)
        if trace.passed:
            return trace
    assert trace.passed, trace.failure.render() if trace.failure else ""
    return trace


def keys_at(trace: Trace, line: int) -> list[str]:
    return [e.keys() for e in trace.explanations_at(line)]


def test_tail_loss_probe_then_timer_retransmissions_with_backoff() -> None:
    trace = run("tlp-then-rto.pkt")
    assert trace.sources.tracefs and trace.sources.overruns == 0, trace.sources
    causes = {e.line: e for e in trace.explanations if e.kind == "retransmission"}
    assert causes[16].cause is Cause.TLP
    assert causes[17].cause is Cause.RTO and causes[17].backoff == 1
    assert causes[17].cong is not None and causes[17].cong.new == "Loss"
    assert causes[17].cwnd is not None and causes[17].cwnd.new == "1"
    assert causes[18].cause is Cause.RTO and causes[18].backoff == 2
    assert causes[18].rto_us == 2 * (causes[17].rto_us or 0)
    assert Source.TRACEFS in causes[17].evidence
    assert set(causes) == {16, 17, 18}


def test_three_duplicate_acks_with_sack_are_a_fast_retransmit() -> None:
    trace = run("fast-retransmit-sack.pkt")
    (explanation,) = [e for e in trace.explanations if e.kind == "retransmission"]
    assert explanation.line == 21 and explanation.cause is Cause.FAST_RETRANSMIT
    assert explanation.cong is not None and explanation.cong.new == "Recovery"


def test_close_with_unread_data_resets_with_abort_on_close() -> None:
    trace = run("close-unread-reset.pkt")
    (reset,) = [e for e in trace.explanations if e.kind == "reset"]
    assert reset.line == 15 and reset.reason == "TCP_ABORT_ON_CLOSE"
    assert reset.evidence == (Source.TRACEFS,)


def test_passive_close_state_changes() -> None:
    trace = run("passive-close.pkt")
    assert "state=CLOSE->LISTEN" in keys_at(trace, 7)  # listen()
    # The child socket is made at the ACK, but the SYN put the connection in SYN_RECV.
    assert "state=LISTEN->SYN_RECV" in keys_at(trace, 8), keys_at(trace, 10)  # < S
    assert keys_at(trace, 10) == ["state=SYN_RECV->ESTABLISHED"]  # < . ack 1
    assert "state=ESTABLISHED->CLOSE_WAIT" in keys_at(trace, 12)  # < F.
    assert "state=CLOSE_WAIT->LAST_ACK" in keys_at(trace, 14)  # close()
    assert "state=LAST_ACK->CLOSE" in keys_at(trace, 16)  # < . ack 2


def test_active_close_state_changes() -> None:
    trace = run("active-close.pkt")
    assert "state=ESTABLISHED->FIN_WAIT1" in keys_at(trace, 12)  # shutdown()
    assert "state=FIN_WAIT1->FIN_WAIT2" in keys_at(trace, 14)  # < . ack 2
    assert "state=FIN_WAIT2->CLOSE" in keys_at(trace, 15)  # < F.


def test_drillbook_run_explain_prints_file_line_keys_and_sentence(tmp_path: Path) -> None:
    script = SCRIPTS / "close-unread-reset.pkt"
    trace_file = tmp_path / "trace.json"
    proc = subprocess.run(
        [sys.executable, "-m", "drillbook", "run", "--explain", "--trace", str(trace_file),
         str(script)], capture_output=True, text=True, timeout=120, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr
    assert f"{script}:15: reason=TCP_ABORT_ON_CLOSE — RST: " in proc.stdout
    trace = trace_from_json(trace_file.read_text())
    assert any(e.reason == "TCP_ABORT_ON_CLOSE" for e in trace.explanations)


def test_parallel_runs_of_the_same_script_get_only_their_own_events() -> None:
    """Same addresses, same ports, same times: only cookies and socket lifetimes tell them
    apart. Each run must see exactly one connection's events, with its own cookies."""
    with ThreadPoolExecutor(2) as pool:
        traces = list(pool.map(lambda _: run("passive-close.pkt"), range(2)))
    for trace in traces:
        cookies = {s.cookie for s in trace.sockets}
        assert cookies and {e.cookie for e in trace.kernel_events} <= cookies
        changes = [e.keys() for e in trace.explanations if e.kind == "state"]
        assert changes.count("state=ESTABLISHED->CLOSE_WAIT") == 1, changes
        assert changes.count("state=CLOSE->LISTEN") == 1, changes
    assert not {s.cookie for s in traces[0].sockets} & {s.cookie for s in traces[1].sockets}


# -- without root: counters and TCP_INFO only ------------------------------------------------


def run_as(user: NormalUser, name: str) -> list[str]:
    # Staged: the checkout may sit where the user cannot read it (root's 0700 home).
    path = user.stage.add_file(f"explain/{name}", (SCRIPTS / name).read_text())
    for _ in range(5):  # a loaded machine may miss a timing edge: that is not what we test
        proc = user.run("-m", "drillbook", "run", "--explain", str(path))
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, f"{name}: {proc.stderr}"
    return proc.stdout.splitlines()


@pytest.mark.other_user
def test_explanations_without_root(normal_user: NormalUser) -> None:  # noqa: F811
    lines = run_as(normal_user, "tlp-then-rto.pkt")
    by_line = {line.split(":")[1]: line for line in lines if "cause=" in line}
    assert "cause=tlp" in by_line["16"]
    assert "cause=rto" in by_line["17"] and "backoff=1" in by_line["17"]
    assert "cause=rto" in by_line["18"] and "backoff=2" in by_line["18"]
    lines = run_as(normal_user, "fast-retransmit-sack.pkt")
    assert any(":21: cause=fast-retransmit" in line for line in lines), lines
    lines = run_as(normal_user, "close-unread-reset.pkt")
    assert any(":15: reason=TCP_ABORT_ON_CLOSE" in line for line in lines), lines
    lines = run_as(normal_user, "passive-close.pkt")
    assert any(":12: state=ESTABLISHED->CLOSE_WAIT" in line for line in lines), lines
    # After close() no fd is left to ask: the namespace's sock_diag still sees the connection.
    assert any(":14: state=CLOSE_WAIT->LAST_ACK" in line for line in lines), lines
    assert any(":16: state=LAST_ACK->CLOSE" in line for line in lines), lines
    lines = run_as(normal_user, "active-close.pkt")
    assert any(":12: state=ESTABLISHED->FIN_WAIT1" in line for line in lines), lines
    assert any(":14: state=FIN_WAIT1->FIN_WAIT2" in line for line in lines), lines
    assert any(":15: state=FIN_WAIT2->CLOSE" in line for line in lines), lines


# -- nothing left behind -----------------------------------------------------------------------


def test_no_instance_left_after_a_pass_or_a_failure(tmp_path: Path) -> None:
    run("passive-close.pkt")
    failing = tmp_path / "fail.pkt"
    failing.write_text((SCRIPTS / "passive-close.pkt").read_text().replace("ack 2\n", "ack 3\n"))
    trace = run_script(parse_script(failing.read_text(), str(failing)))
    assert not trace.passed
    discard_spare()
    assert not [n for n in leftover_instances() if n.startswith(f"drillbook-{os.getpid()}-")]


def ours(pid: int) -> list[str]:
    return [n for n in leftover_instances() if n.startswith(f"drillbook-{pid}-")]


def test_a_run_claims_the_spare_and_the_next_spare_replaces_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a run this process keeps one spare instance (tracing off); the next run claims
    it, gets its events, and the spare after that is a new instance; discard_spare() leaves
    nothing."""
    # As a notebook or a suite keeps them: a test before this one in the same process may
    # have run a one-script command, which turns spares off for the rest of its process.
    monkeypatch.setattr(KEEPER, "enabled", True)
    run("passive-close.pkt")
    wait_for_removals()
    (spare,) = ours(os.getpid())
    root = tracefs_root()
    folder = Path(root, "instances", spare)
    assert (folder / "tracing_on").read_text().strip() == "0"
    assert (folder / "trace_clock").read_text().count("[mono]") == 1
    assert (folder / "set_event").read_text().strip()
    trace = run("passive-close.pkt")
    assert trace.sources.tracefs and trace.kernel_events
    wait_for_removals()
    (after,) = ours(os.getpid())
    assert after != spare
    discard_spare()
    assert not ours(os.getpid())


def loopback_traffic() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        for _ in range(20):
            client.sendall(b"x" * 100)
            peer.recv(1000)
        client.close()
        peer.close()


def drained(fds: dict[int, int]) -> list[int]:
    """The timestamps of every event the pipes hold."""
    stamps = []
    for fd in fds.values():
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                break
            for start in range(0, len(data), 4096):
                stamps += [stamp for stamp, _, _ in page_spans(data[start : start + 4096])[0]]
    return stamps


def test_a_spare_records_nothing_until_it_is_claimed() -> None:
    """Events enabled, tracing off: the host's TCP traffic leaves nothing in its buffer, so a
    claimed spare holds only events from its claim on (no stale events to drop)."""
    # The spare an earlier run in this process kept is not this test's: under xdist the test
    # before this one on the worker may be any test, not the one above (which discards it).
    discard_spare()
    wait_for_removals()
    spare = prepare(Instance.named(tracefs_root()))
    try:
        loopback_traffic()
        stale = drained(spare.fds)
        assert stale == [], f"{len(stale)} events recorded with tracing off"
        claimed_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        spare.instance.record()
        loopback_traffic()
        time.sleep(0.05)
        stamps = drained(spare.fds)
        assert stamps, "no event recorded after the claim"
        assert min(stamps) >= claimed_ns, f"{claimed_ns - min(stamps)} ns before the claim"
    finally:
        spare.remove()
    assert not ours(os.getpid())


def test_an_unused_spare_is_removed_after_its_idle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spare left unclaimed costs the host its enabled events' probes: it goes after
    SPARE_IDLE_S (300 s; 0.3 s here)."""
    from drillbook.runtime.capture import spare as spare_module

    discard_spare()
    monkeypatch.setattr(spare_module, "SPARE_IDLE_S", 0.3)
    spare_module.prime_spare()
    wait_for_removals()
    assert has_spare(os.getpid())
    deadline = time.monotonic() + 10
    while ours(os.getpid()):
        assert time.monotonic() < deadline, "the idle spare was not removed"
        time.sleep(0.05)


SPARE_KEEPER = """
import sys, time
from pathlib import Path
from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
path = Path(sys.argv[1])
run_script(parse_script(path.read_text(), str(path)))
print("ran", flush=True)
for _ in range(600):  # short sleeps: a Ctrl-C taken by another thread is seen within 0.1 s
    time.sleep(0.1)
"""


def has_spare(pid: int) -> bool:
    """Whether one of ``pid``'s instances is a ready spare (events enabled, tracing off)."""
    for name in ours(pid):
        folder = Path(tracefs_root(), "instances", name)
        try:  # an instance being removed is listed but unreadable
            if (folder / "set_event").read_text().strip() and (
                (folder / "tracing_on").read_text().strip() == "0"
            ):
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("sig", [None, signal.SIGINT, signal.SIGKILL],
                         ids=["exit", "SIGINT", "SIGKILL"])
def test_no_spare_left_after_the_process_exits_or_is_killed(host: Host, sig: int | None) -> None:  # noqa: F811
    """A library process keeps a spare after its run: a normal exit (atexit) and Ctrl-C
    remove it; after a SIGKILL the next run's start sweeps it."""
    code = SPARE_KEEPER if sig is not None else SPARE_KEEPER.replace("range(600)", "range(0)")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(SCRIPTS / "passive-close.pkt")], cwd=PROJECT,
        env=host.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ran\n"
    if sig is not None:
        deadline = time.monotonic() + 30
        while not has_spare(proc.pid):
            assert time.monotonic() < deadline, "no spare was prepared"
            time.sleep(0.02)
        proc.send_signal(sig)
    proc.wait(timeout=30)
    if sig == signal.SIGKILL:
        assert ours(proc.pid)  # nothing ran in the killed process
        run("passive-close.pkt")  # (with a spare, the sweep runs in its upkeep after the run)
        wait_for_removals()
    assert not ours(proc.pid)
    host.assert_untouched()


def recording(pid: int) -> bool:
    """Whether a run of ``pid``'s claimed one of its instances: tracing on and events enabled
    (a new instance has tracing on until its set-up turns it off, with no event enabled)."""
    for name in ours(pid):
        folder = Path(tracefs_root(), "instances", name)
        with contextlib.suppress(OSError):  # an instance being removed is unreadable
            if (folder / "tracing_on").read_text().strip() == "1" and (
                (folder / "set_event").read_text().strip()
            ):
                return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_no_instance_namespace_or_process_left_after_a_kill(host: Host, sig: int) -> None:  # noqa: F811
    proc = subprocess.Popen(
        [sys.executable, "-m", "drillbook", "run", str(SCRIPTS / "tlp-then-rto.pkt")],
        cwd=PROJECT, env=host.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mine = f"drillbook-{proc.pid}-"
    deadline = time.monotonic() + 30
    # The command prepares its instance as it starts; its run turns tracing on.
    while not recording(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    time.sleep(0.5)  # mid-run: the capture is draining, the worker waits for a retransmission
    proc.send_signal(sig)
    proc.wait(timeout=30)
    if sig == signal.SIGKILL:
        # Nothing ran in the killed process: the next run's start sweeps what it left.
        run("passive-close.pkt")
        wait_for_removals()
    assert not [n for n in leftover_instances() if n.startswith(mine)]
    host.assert_untouched()  # no namespace, link, process (marked by the test), file, sysctl


# -- a process's first run: the command prepares its instance as it starts -----------------

COMMAND = """
import json, os, sys, threading
from drillbook.runtime.capture import session, tracefs
made, captures = [], []
create, start = tracefs.Instance.create, session.KernelCapture.start
def noted_create(self):
    made.append([self.name, threading.current_thread().name])
    create(self)
def noted_start(*args):
    capture = start(*args)
    captures.append(capture)
    return capture
tracefs.Instance.create = noted_create
session.KernelCapture.start = noted_start
from drillbook.cli import main
code = main(sys.argv[1:])  # the command line itself
claimed = [[c.instance.name if c.instance else "", c.from_spare] for c in captures]
threads = [t.name for t in threading.enumerate()]
print(json.dumps({"code": code, "made": made, "claimed": claimed, "threads": threads,
                  "pid": os.getpid()}))
"""


def command(
    *argv: str, env: dict[str, str] | None = None, codes: tuple[int, ...] = (0, 1)
) -> tuple[int, dict[str, Any]]:
    """``drillbook ARGV`` in a fresh interpreter, through drillbook.cli.main: its pid and
    which instances it made (on which thread), which its runs claimed, its threads at the
    end."""
    proc = subprocess.run(
        [sys.executable, "-c", COMMAND, *argv], cwd=PROJECT, env=env, capture_output=True,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["code"] in codes, proc.stderr  # 1: a timing miss on a loaded machine
    return int(found["pid"]), found


def test_a_first_drillbook_run_claims_an_instance_prepared_at_its_start() -> None:
    """``drillbook run --explain x.pkt``: the upkeep thread made the instance while the
    command parsed the script, and the run claimed it (its capture made none on its path);
    no next spare after the last script, and nothing left after the exit."""
    pid, found = command("run", "--explain", str(SCRIPTS / "passive-close.pkt"))
    assert found["claimed"] == [[name, True] for name, _ in found["made"]], found
    assert [thread for _, thread in found["made"]] == [UPKEEP_THREAD], found
    assert not ours(pid)


@pytest.mark.parametrize("how", ["--no-kernel-events", "DRILLBOOK_EXPLAIN=0"])
def test_a_drillbook_run_without_explanations_prepares_nothing(how: str) -> None:
    """Explanations off: no instance made, no upkeep thread, no capture started."""
    env = {**os.environ, "DRILLBOOK_EXPLAIN": "0"} if how.startswith("DRILLBOOK") else None
    flags = [how] if how.startswith("--") else ["--explain"]
    _, found = command("run", *flags, str(SCRIPTS / "passive-close.pkt"), env=env)
    assert found["made"] == [] and found["claimed"] == [], found
    assert UPKEEP_THREAD not in found["threads"], found


def test_a_script_error_after_the_instance_was_prepared_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pkt"
    bad.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 frobnicate(\n")
    pid, found = command("run", "--explain", str(bad), codes=(2,))
    assert len(found["made"]) == 1 and found["claimed"] == [], found  # prepared, unused
    assert not ours(pid)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_nothing_left_after_a_kill_while_the_instance_is_prepared(host: Host, sig: int) -> None:  # noqa: F811
    """Killed as soon as its prepared instance appears (before the run claims it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "drillbook", "run", "--explain", str(SCRIPTS / "tlp-then-rto.pkt")],
        cwd=PROJECT, env=host.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ours(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.002)
    assert not recording(proc.pid)  # not claimed yet
    proc.send_signal(sig)
    proc.wait(timeout=30)
    if sig == signal.SIGKILL:
        assert ours(proc.pid)  # nothing ran in the killed process
        run("passive-close.pkt")  # the next start sweeps it (in the upkeep after the run)
        wait_for_removals()
    else:
        assert proc.returncode == 130
    assert not ours(proc.pid)
    host.assert_untouched()


def test_a_zero_window_is_probed() -> None:
    trace = run("zero-window-probe.pkt")
    probes = [e for e in trace.explanations if e.kind == "probe"]
    assert [(e.line, e.cause, e.backoff) for e in probes] == [
        (13, Cause.WINDOW_PROBE, 1), (14, Cause.WINDOW_PROBE, 2)]
