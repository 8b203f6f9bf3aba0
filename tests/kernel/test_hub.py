"""A real JupyterHub with real Unix students (hub/jupyterhub_config.py, the file `make hub` serves).

One hub on free ports for three throwaway students, made by the spawner on first login and
removed afterwards. Each student logs in with the login form; one runs a student lab with its
answers filled in (every self-check passes), one with none (no self-check passes), through the
REST API and the kernel websocket. Then isolation: while student B's kernel runs a drillbook
script in its own user + network namespace, student A, from A's own kernel, can neither list nor
enter B's namespaces, read B's home, signal B's processes, nor see B's packets, nor read the hub's
secrets (its database, its password). At the end the
host is as it was: accounts, homes, processes, namespaces, cgroups, files, /dev/net/tun.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from background_setup import Prepared, background_setup

from drillbook.classroom import accounts
from drillbook.classroom.host import TUN_PATH, needs, observe
from drillbook.classroom.hubapi import StudentClient
from drillbook.classroom.kernel import KernelChannel
from drillbook.classroom.labcells import Answers
from drillbook.classroom.launch import (
    PROXY,
    STUDENT_INSTALL_PREFIX,
    LaunchError,
    ThrowawayHub,
    proxy_problem,
    student_install,
)
from drillbook.classroom.limits import CgroupLayout
from drillbook.classroom.student import simulate

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]
LAB = PROJECT / "labs" / "02-sack-out-of-order.ipynb"


def _prepare_student_install() -> Prepared:
    """What student_install() does, as a command: build_student_install() into a fresh
    temporary folder (pip's own temporary files in it too)."""
    folder = Path(tempfile.mkdtemp(prefix=STUDENT_INSTALL_PREFIX))
    logs, scratch = folder / "logs", folder / "tmp"
    logs.mkdir()
    scratch.mkdir()
    build = ("import sys, pathlib; from drillbook.classroom.launch import build_student_install;"
             " build_student_install(pathlib.Path(sys.argv[1]))")
    return Prepared([sys.executable, "-c", build, str(folder)], PROJECT,
                    dict(os.environ, TMPDIR=str(scratch)), logs, folder / "env",
                    lambda: shutil.rmtree(folder, ignore_errors=True))


# The students' install is pip into a fresh venv, a minute or more: it is built in the
# background while the tests before this module run (background_setup.py).
STUDENT_INSTALL = background_setup(
    "classroom", _prepare_student_install,
    when=lambda: os.geteuid() == 0 and PROXY.exists()
    and not os.environ.get("DRILLBOOK_HUB_PREFIX"))


@contextmanager
def _students_prefix() -> Iterator[Path]:
    """student_install()'s prefix: the one given by $DRILLBOOK_HUB_PREFIX, else the one built
    in the background (removed on leaving, as student_install() removes its own)."""
    if os.environ.get("DRILLBOOK_HUB_PREFIX"):
        with student_install() as prefix:
            yield prefix
        return
    with STUDENT_INSTALL.taken() as made:
        if made.done.returncode != 0:
            raise LaunchError(f"the students' install failed:\n{made.done.stderr[-3000:]}")
        yield made.value


@dataclass(frozen=True)
class HostSnapshot:
    """The parts of the host a hub for ``tag``'s students could leave something in. The machine
    is shared: other sessions (another run of this very test among them) add and remove their
    own users, files and hubs meanwhile, so only what carries this test's tag is compared; the
    hub's own folders are checked by name after the teardown."""

    users: frozenset[str]
    homes: frozenset[str]
    cgroups: frozenset[str]
    tun_mode: int
    descendants: frozenset[int]
    processes_of_students: frozenset[int]

    @classmethod
    def take(cls, tag: str) -> HostSnapshot:
        cgroups = set()
        for parent in CgroupLayout.of_this_process().paths.values():
            if Path(parent).is_dir():
                cgroups |= {str(p) for p in Path(parent).glob(f"{tag}*")}
        uids = [p.pw_uid for p in pwd.getpwall() if p.pw_name.startswith(tag)]
        return cls(frozenset(p.pw_name for p in pwd.getpwall() if p.pw_name.startswith(tag)),
                   frozenset(n for n in os.listdir("/home") if n.startswith(tag)),
                   frozenset(cgroups), stat.S_IMODE(os.stat(TUN_PATH).st_mode),
                   frozenset(_descendants(os.getpid())),
                   frozenset(pid for uid in uids for pid in _pids_of(uid)))


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


@dataclass
class Classroom:
    hub: ThrowawayHub
    names: tuple[str, str, str]
    before: HostSnapshot

    def client(self, name: str) -> StudentClient:
        return StudentClient(self.hub.url, name, timeout_s=180)


@pytest.fixture(scope="module")
def classroom() -> Iterator[Classroom]:
    if os.geteuid() != 0:
        pytest.skip("a hub with Unix students needs root (useradd, setuid spawns)")
    missing = [n.render() for n in needs(observe()) if n.severity.value == "missing"
               and "chmod 0666" not in n.fix]
    if missing:
        pytest.skip("this machine cannot host students' sandboxes: " + "; ".join(missing))
    problem = proxy_problem()
    if problem:  # make test installs it: a failure that says how, never a skip
        pytest.fail(problem, pytrace=False)
    tag = uuid.uuid4().hex[:6]
    names = (f"hub{tag}a", f"hub{tag}b", f"hub{tag}c")
    before = HostSnapshot.take(f"hub{tag}")
    with _students_prefix() as prefix, ThrowawayHub(prefix, names) as hub:
        yield Classroom(hub, names, before)
    after = HostSnapshot.take(f"hub{tag}")
    assert after == before, _difference(before, after)
    assert not hub.state.exists(), f"the hub's state folder {hub.state} is left"
    assert not prefix.exists() or os.environ.get("DRILLBOOK_HUB_PREFIX"), f"{prefix} is left"
    for name in names:
        assert accounts.lookup(name) is None


def _difference(before: HostSnapshot, after: HostSnapshot) -> str:
    lines = []
    for field_name in before.__dataclass_fields__:
        old, new = getattr(before, field_name), getattr(after, field_name)
        if old != new:
            lines.append(f"{field_name}: {old!r} -> {new!r}")
    return "the host changed: " + "; ".join(lines)


def test_students_log_in_and_get_private_homes_with_their_labs(classroom: Classroom) -> None:
    for name in classroom.names:
        client = classroom.client(name)
        client.log_in(classroom.hub.password)
        client.start_server()
        assert sorted(p.name for p in LAB.parent.glob("*.ipynb")) == \
            [n for n in client.list_contents("labs") if n.endswith(".ipynb")]
        student = accounts.lookup(name)
        assert student is not None and student.uid >= accounts.UID_MIN
        assert stat.S_IMODE(os.stat(student.home).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(student.home / "labs" / LAB.name).st_mode) == 0o600
        server_uids = {os.stat(f"/proc/{pid}").st_uid for pid in _pids_of(student.uid)}
        assert server_uids == {student.uid}, "the server runs as the student"
        _assert_limited(name, _pids_of(student.uid))
    other = classroom.client(classroom.names[0])
    other.log_in(classroom.hub.password)
    assert other.status_of(f"/user/{classroom.names[1]}/api/contents") == 403


def _assert_limited(name: str, pids: list[int]) -> None:
    """Every process of the student is in the student's cgroups, with the configured limits,
    and has RLIMIT_NPROC."""
    layout = CgroupLayout.of_this_process()
    assert set(layout.paths) == {"pids", "memory", "cpu"}, layout
    for pid in pids:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
        assert f"drillbook-hub/{name}\n" in cgroups, cgroups
        limits = Path(f"/proc/{pid}/limits").read_text()
        assert any(line.startswith("Max processes") and line.split()[2] == "512"
                   for line in limits.splitlines()), limits
    folder = {n: Path(parent, name) for n, parent in layout.paths.items()}
    version_files = {"v1": ("pids.max", "memory.limit_in_bytes"), "v2": ("pids.max", "memory.max")}
    pids_file, memory_file = version_files[layout.version]
    assert (folder["pids"] / pids_file).read_text().strip() == "512"
    assert int((folder["memory"] / memory_file).read_text()) == 2 << 30


def test_a_lab_answered_passes_every_check_and_unanswered_none(classroom: Classroom) -> None:
    """Two students at once: one with every answer, one with none."""
    runs = {}

    def student(name: str, answers: Answers) -> None:
        runs[answers] = simulate(classroom.client(name), classroom.hub.password, LAB, answers)

    threads = [threading.Thread(target=student, args=(classroom.names[0], Answers.FILLED)),
               threading.Thread(target=student, args=(classroom.names[1], Answers.NONE))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered, unanswered = runs[Answers.FILLED], runs[Answers.NONE]
    assert answered.as_expected, answered.describe()
    assert answered.verdict is not None and len(answered.verdict.checks) >= 3
    assert all(answered.verdict.checks)
    assert unanswered.as_expected, unanswered.describe()
    assert unanswered.verdict is not None and not any(unanswered.verdict.checks)
    assert len(unanswered.verdict.checks) == len(answered.verdict.checks)


FORK_MANY = """
import subprocess
children, refused = [], None
try:
    for _ in range(1000):
        children.append(subprocess.Popen(["sleep", "60"]))
except OSError as exc:
    refused = type(exc).__name__
for child in children:
    child.kill()
    child.wait()
print(len(children), refused)
"""


def test_a_student_cannot_start_more_processes_than_the_limit(classroom: Classroom) -> None:
    client = classroom.client(classroom.names[1])
    client.log_in(classroom.hub.password)
    client.start_server()
    with KernelChannel(client.kernel_url(client.open_notebook(f"labs/{LAB.name}")),
                       client.token) as kernel:
        run = kernel.execute(FORK_MANY)
    text = "".join(o.get("text", "") for o in run.outputs if o["output_type"] == "stream")
    started, refused = text.split()
    assert refused == "BlockingIOError", text  # EAGAIN from fork: the task limit
    assert 100 < int(started) < 512, text


# B's script holds its namespace for a while: the handshake, then data 15 s later.
LONG_SCRIPT = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>
+0  > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 32792
+0  accept(3, ..., ...) = 4
+15 < P. 1:1001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001
"""

# What student A tries from A's own kernel; B's pids (those of B's drillbook run, in B's
# sandbox, and all of B's processes), namespace and home come as JSON. Signals are sent only to
# pids that are not A's own (a pid number of B's might also exist in A's own PID namespace).
PROBE = """
import json, os, signal, socket, subprocess
target = json.loads({target!r})
me = os.getuid()
result = {{}}
def attempt(name, action):
    try:
        action()
        result[name] = "allowed"
    except OSError as exc:
        result[name] = type(exc).__name__
def owner(pid):
    try:
        return os.stat(f"/proc/{{pid}}").st_uid
    except OSError:
        return None
def own(pid):
    return owner(pid) == me
for pid in target["pids"]:
    attempt(f"readlink ns/net {{pid}}", lambda: os.readlink(f"/proc/{{pid}}/ns/net"))
    attempt(f"open ns/net {{pid}}", lambda: os.close(os.open(f"/proc/{{pid}}/ns/net", os.O_RDONLY)))
    attempt(f"environ {{pid}}", lambda: open(f"/proc/{{pid}}/environ").read())
for pid in target["all pids"]:
    if not own(pid):
        attempt(f"kill {{pid}}", lambda: os.kill(pid, signal.SIGTERM))
        attempt(f"getpriority {{pid}}", lambda: os.getpriority(os.PRIO_PROCESS, pid))
listed = [int(e) for e in os.listdir("/proc") if e.isdigit()]
result["uids in /proc"] = sorted({{owner(pid) for pid in listed}} - {{None}})
result["B's pids in /proc"] = [pid for pid in target["all pids"] if pid in listed and not own(pid)]
ps = subprocess.run(["ps", "-e", "-o", "pid=,uid="], capture_output=True, text=True)
rows = [line.split() for line in ps.stdout.splitlines() if line.strip()]
result["uids in ps"] = sorted({{int(uid) for _, uid in rows}})
result["B's pids in ps"] = [int(pid) for pid, uid in rows if int(uid) == target["uid"]
                            or (int(pid) in target["all pids"] and int(uid) != me)]
attempt("list home", lambda: os.listdir(target["home"]))
result["B's /tmp file"] = os.path.basename(target["tmp file"]) in os.listdir("/tmp")
attempt("read hub database", lambda: open(target["state"] + "/jupyterhub.sqlite", "rb").read())
attempt("read hub password", lambda: open(target["state"] + "/shared_password").read())
attempt("read lab", lambda: open(target["home"] + "/labs/" + target["lab"]).read())
attempt("packet socket",
        lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)).close())
nsenter = subprocess.run(["nsenter", "-t", str(target["pids"][0]), "-n", "true"],
                         capture_output=True)
result["nsenter"] = nsenter.returncode
lsns = subprocess.run(["lsns", "-t", "net", "-n", "-o", "NS"], capture_output=True, text=True)
result["lsns"] = lsns.stdout.split()
# A's own sandbox (the same rootless path drillbook takes): which links can A see there?
own_ns = subprocess.run(["unshare", "-Urn", "cat", "/proc/net/dev"], capture_output=True,
                        text=True)
result["own netns links"] = [l.split(":")[0].strip() for l in own_ns.stdout.splitlines()[2:]]
print(json.dumps(result))
"""


def test_a_student_cannot_reach_another_students_sandbox(classroom: Classroom) -> None:
    name_a, name_b = classroom.names[0], classroom.names[2]
    a, b = classroom.client(name_a), classroom.client(name_b)
    for client in (a, b):
        client.log_in(classroom.hub.password)
        client.start_server()
    student_b = accounts.lookup(name_b)
    assert student_b is not None
    with KernelChannel(b.kernel_url(b.open_notebook(f"labs/{LAB.name}")), b.token) as kernel_b:
        b_tmp_file = f"/tmp/{name_b}-private"
        started = kernel_b.execute(
            "import subprocess, sys, pathlib\n"
            f"pathlib.Path('long.pkt').write_text({LONG_SCRIPT!r})\n"
            f"pathlib.Path({b_tmp_file!r}).write_text('B was here')\n"
            "run = subprocess.Popen([sys.executable, '-m', 'drillbook', 'run', 'long.pkt'],"
            " stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n")
        assert started.status == "ok", started.outputs
        sandboxed = _wait_for_sandbox(student_b.uid)
        host_netns = os.readlink("/proc/self/ns/net")
        all_of_b = _pids_of(student_b.uid)
        target = {"pids": sandboxed, "all pids": all_of_b, "uid": student_b.uid,
                  "home": str(student_b.home), "lab": LAB.name, "tmp file": b_tmp_file,
                  "state": str(classroom.hub.state)}
        with KernelChannel(a.kernel_url(a.open_notebook(f"labs/{LAB.name}")),
                           a.token) as kernel_a:
            probe = kernel_a.execute(PROBE.format(target=json.dumps(target)))
        b_netns = {os.readlink(f"/proc/{pid}/ns/net") for pid in sandboxed}
        finished = kernel_b.execute("print(run.wait(timeout=60), run.stdout.read())")
        b_sees_its_file = kernel_b.execute(f"print(open({b_tmp_file!r}).read())")
    assert not Path(b_tmp_file).exists(), "B's /tmp is B's own: nothing of it on the host"
    assert "B was here" in str(b_sees_its_file.outputs), b_sees_its_file.outputs
    text = "".join(o.get("text", "") for o in probe.outputs if o["output_type"] == "stream")
    assert probe.status == "ok", probe.outputs
    result = json.loads(text.strip().splitlines()[-1])
    assert b_netns and host_netns not in b_netns, "B's script ran in its own namespace"
    student_a = accounts.lookup(name_a)
    assert student_a is not None and len(all_of_b) >= 3, all_of_b  # server, kernel, run
    # A sees no process of B's (nor root's, nor anyone else's): not in /proc, not in ps.
    assert result["uids in /proc"] == [student_a.uid], result
    assert result["B's pids in /proc"] == [], result
    assert result["uids in ps"] == [student_a.uid], result
    assert result["B's pids in ps"] == [], result
    for pid in sandboxed:  # B's namespaces cannot be named, opened or read through /proc
        assert result[f"readlink ns/net {pid}"] == "FileNotFoundError", result
        assert result[f"open ns/net {pid}"] == "FileNotFoundError", result
        assert result[f"environ {pid}"] == "FileNotFoundError", result
    for pid in all_of_b:  # B's pids do not exist for A: nothing to signal or to ask about
        assert result.get(f"kill {pid}", "ProcessLookupError") == "ProcessLookupError", result
        assert result.get(f"getpriority {pid}", "ProcessLookupError") == \
            "ProcessLookupError", result
    assert result["list home"] == "PermissionError"
    assert result["B's /tmp file"] is False, "A's /tmp does not show B's files"
    assert result["read hub database"] == "PermissionError", "the hub's secrets are private"
    assert result["read hub password"] == "PermissionError"
    assert result["read lab"] == "PermissionError"
    assert result["packet socket"] == "PermissionError", "A cannot sniff the host's links"
    assert result["nsenter"] != 0
    inodes = {ns.split("[")[1].rstrip("]") for ns in b_netns}
    assert not inodes & set(result["lsns"]), "A's lsns lists none of B's namespaces"
    assert "tun0" not in result["own netns links"], "A's own namespace holds no tun0 of B's"
    assert result["own netns links"] == ["lo"], result
    reply = "".join(o.get("text", "") for o in finished.outputs if o["output_type"] == "stream")
    assert reply.split()[:1] == ["0"], f"B's script passed: {reply}"


def _wait_for_sandbox(uid: int, timeout_s: float = 60) -> list[int]:
    """B's processes that are in a network namespace other than the host's."""
    host = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        inside = []
        for pid in _pids_of(uid):
            try:
                if os.readlink(f"/proc/{pid}/ns/net") != host:
                    inside.append(pid)
            except OSError:
                continue
        if inside:
            return inside
        time.sleep(0.1)
    raise AssertionError("B's drillbook run never entered a network namespace")


TEACHER_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:course-list"}
STUDENT_PLUGINS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}
VALIDATED_LAB = "01-handshake-teardown.ipynb"


@pytest.fixture
def exchange() -> Iterator[Path]:
    """A throwaway nbgrader exchange students can reach (pytest's tmp_path is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="drillbook-hub-exchange-"))
    try:
        folder.chmod(0o1777)  # nbgrader's exchange: writable by every student
        yield folder
    finally:
        shutil.rmtree(folder)


def test_a_students_server_offers_nbgrader_assignments_and_validate(
        classroom: Classroom, exchange: Path) -> None:
    """A course running nbgrader: the student's JupyterLab has the Assignments list and the
    Validate button (not the teacher's formgrader), the assignment list reads the course's
    exchange, and Validate runs nbgrader on one of the student's labs, in the student's
    sandbox: unanswered, its self-checks fail with their reasons."""
    released = exchange / "drillbook" / "outbound" / VALIDATED_LAB.removesuffix(".ipynb")
    released.mkdir(parents=True)
    (released / VALIDATED_LAB).write_bytes((LAB.parent / VALIDATED_LAB).read_bytes())
    for folder in (exchange / "drillbook", exchange / "drillbook" / "outbound", released):
        folder.chmod(0o755)
    (released / VALIDATED_LAB).chmod(0o644)
    client = classroom.client(classroom.names[2])
    client.log_in(classroom.hub.password)
    client.start_server()
    user = f"/user/{classroom.names[2]}"

    page = client.request("GET", f"{user}/lab").decode()
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, flags=re.DOTALL)
    assert found, "no page config in /lab"
    config = json.loads(found.group(1))
    assert any(e["name"] == "@jupyter/nbgrader" for e in config["federated_extensions"])
    disabled = set(config["disabledExtensions"])
    assert disabled >= TEACHER_PLUGINS and not disabled & STUDENT_PLUGINS, disabled
    assert client.request("GET", f"{user}/formgrader", expect=(404,)) is not None

    # The course tells students' nbgrader where its exchange is (here, in the home's config).
    client.write_file("nbgrader_config.py",
                      f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n"
                      "c.CourseDirectory.course_id = 'drillbook'\n")
    listed = json.loads(client.request("GET", f"{user}/assignments?course_id=drillbook"))
    assert listed["success"], listed
    assert [(a["assignment_id"], a["status"]) for a in listed["value"]] == \
        [(VALIDATED_LAB.removesuffix(".ipynb"), "released")], listed

    validated = json.loads(client.request("POST", f"{user}/assignments/validate",
                                          body={"path": f"labs/{VALIDATED_LAB}"}))
    assert validated["success"], validated
    failed = validated["value"].get("failed", [])
    assert failed, validated["value"]
    assert all("Self-check not passed" in cell["raw_error"] for cell in failed), failed
