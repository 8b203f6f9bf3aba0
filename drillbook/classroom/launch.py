"""A throwaway hub with throwaway students, for the acceptance tests and the classroom benchmark.

:class:`ThrowawayHub` runs the project's ``hub/jupyterhub_config.py`` — the same file ``make hub``
serves — on free ports, with its state in a fresh 0700 folder, the shared-password
authenticator and a fixed list of students whose Unix accounts the spawner creates on first
login. On exit it stops the hub (which stops every server), kills what is left by the pid files,
removes the accounts with their homes, the cgroups and the state folder, and puts the mode of
``/dev/net/tun`` back if it had to open it: the host is left as it was.

:func:`student_install` gives the install students execute: ``$DRILLBOOK_HUB_PREFIX`` when it
is given, else a fresh venv from ``/usr/bin/python3`` in a world-readable temporary folder with
this checkout and the hub's packages (~40 s from pip's cache), removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.classroom import accounts
from drillbook.classroom.host import TUN_PATH
from drillbook.classroom.limits import CgroupLayout

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT / "hub" / "jupyterhub_config.py"
PROXY = PROJECT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
SYSTEM_PYTHON = "/usr/bin/python3"
STUDENT_INSTALL_PREFIX = "drillbook-hub-install-"  # the temporary folder of student_install()


class LaunchError(Exception):
    """The hub could not be set up; the message says what is missing."""


@contextlib.contextmanager
def student_install() -> Iterator[Path]:
    """The prefix of a world-readable install of this checkout with the hub's packages."""
    given = os.environ.get("DRILLBOOK_HUB_PREFIX")
    if given:
        if not Path(given, "bin", "jupyterhub-singleuser").exists():
            raise LaunchError(f"DRILLBOOK_HUB_PREFIX={given} has no bin/jupyterhub-singleuser "
                              "(make hub-install HUB_PREFIX=... builds one)")
        yield Path(given)
        return
    folder = Path(tempfile.mkdtemp(prefix=STUDENT_INSTALL_PREFIX))
    try:
        yield build_student_install(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def build_student_install(folder: Path) -> Path:
    """Build the students' install in ``folder`` (made world-readable; the caller removes it):
    a venv from ``/usr/bin/python3`` with this checkout and the hub's packages, nbgrader's
    teacher panels hidden. Returns its prefix. (The tests start this ahead of time in a
    process of its own, so it is a function of the folder alone.)"""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        raise LaunchError(f"{SYSTEM_PYTHON} is missing: students need an interpreter outside "
                          "root's home")
    folder.chmod(0o755)
    prefix, source = folder / "env", folder / "source"
    _copy_sources(source)
    for argv in ([SYSTEM_PYTHON, "-m", "venv", str(prefix)],
                 [str(prefix / "bin/python"), "-m", "pip", "install", "--quiet",
                  f"{source}[hub]"],
                 # students see no nbgrader teacher panels, as after `make hub-install`
                 [str(prefix / "bin/python"), "-m", "drillbook.course.student_view",
                  str(prefix)]):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              preexec_fn=lambda: os.umask(0o022))
        if proc.returncode != 0:
            raise LaunchError(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return prefix


def proxy_problem() -> str | None:
    """What is wrong with the hub's proxy (configurable-http-proxy, from npm), and how to fix
    it; None when it is installed."""
    if PROXY.exists():
        return None
    return (f"the hub's proxy {PROXY} is missing (`make setup` does not install it): "
            f"`make pytest` installs it (so do `make test` and `make hub`), or "
            f"`cd {PROXY.parents[2]} && npm ci`")


def require_proxy() -> None:
    """LaunchError unless the proxy is installed (check it before any slow set-up)."""
    problem = proxy_problem()
    if problem:
        raise LaunchError(problem)


def _copy_sources(target: Path) -> None:
    """What pip needs to build the package, copied so the build leaves nothing in the
    checkout."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, target / name)
    shutil.copytree(PROJECT / "drillbook", target / "drillbook",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ThrowawayHub:
    """A hub on free ports for ``students`` (see module doc); use it as a context manager."""

    prefix: Path
    students: Sequence[str]
    labs: Path = PROJECT / "labs"
    mem_limit: str = "2G"
    max_processes: int = 512
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    def __post_init__(self) -> None:
        for name in self.students:
            accounts.check_name(name)
            if accounts.lookup(name) is not None:
                raise LaunchError(f"account {name!r} exists already: pick unused names")
        self.state = Path(tempfile.mkdtemp(prefix="drillbook-hub-state-"))
        self.port = self.port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._tun_mode: int | None = None
        self._cgroups_before = {path: Path(path).exists()
                                for path in CgroupLayout.of_this_process().paths.values()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return (self.state / "hub.log").read_text(errors="replace")

    def __enter__(self) -> ThrowawayHub:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        require_proxy()
        self._open_tun()
        (self.state / "shared_password").write_text(self.password + "\n")
        env = dict(os.environ, DRILLBOOK_HUB_PREFIX=str(self.prefix),
                   DRILLBOOK_HUB_STATE=str(self.state), DRILLBOOK_HUB_PORT=str(self.port),
                   DRILLBOOK_HUB_API_PORT=str(free_port()),
                   DRILLBOOK_HUB_PROXY_API_PORT=str(free_port()),
                   DRILLBOOK_HUB_AUTH="shared-password",
                   DRILLBOOK_HUB_STUDENTS=" ".join(self.students),
                   DRILLBOOK_HUB_CREATE_ACCOUNTS="1", DRILLBOOK_HUB_LABS=str(self.labs),
                   DRILLBOOK_HUB_MEM_LIMIT=self.mem_limit,
                   DRILLBOOK_HUB_MAX_PROCESSES=str(self.max_processes))
        with open(self.state / "hub.log", "wb") as log:
            self._process = subprocess.Popen(
                [str(self.prefix / "bin/jupyterhub"), "-f", str(CONFIG)], cwd=self.state,
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_default_signals)
        self._wait_ready(timeout_s=120)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise LaunchError(f"the hub exited with {self._process.returncode}:\n"
                                  f"{self.log[-3000:]}")
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(self.url + "/hub/api/", timeout=5) as reply:
                if reply.status == 200:
                    return
            time.sleep(0.3)
        raise LaunchError(f"the hub did not answer within {timeout_s:.0f} s:\n"
                          f"{self.log[-3000:]}")

    def _open_tun(self) -> None:
        mode = stat.S_IMODE(os.stat(TUN_PATH).st_mode)
        if mode & 0o006 != 0o006:
            self._tun_mode = mode
            os.chmod(TUN_PATH, 0o666)

    def close(self) -> None:
        """Stop everything and remove what the hub made (see module doc)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for pid_file in ("jupyterhub-proxy.pid", "jupyterhub.pid"):
            _kill_from_pid_file(self.state / pid_file)
        for name in self.students:
            student = accounts.lookup(name)
            if student is not None:
                _kill_user(student.uid)
            accounts.remove(name)
        for path, existed in self._cgroups_before.items():
            folder = Path(path)
            for child in (folder.iterdir() if folder.is_dir() else ()):
                if child.is_dir() and child.name in self.students:
                    with contextlib.suppress(OSError):
                        child.rmdir()
            if not existed:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        if self._tun_mode is not None:
            os.chmod(TUN_PATH, self._tun_mode)
        shutil.rmtree(self.state, ignore_errors=True)


def _default_signals() -> None:
    """A caller started in the background ignores SIGINT; the hub must not, since it stops
    servers with SIGINT first and would wait out every timeout."""
    for number in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)


def _kill_from_pid_file(path: Path) -> None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _kill_user(uid: int) -> None:
    """SIGKILL every process whose real uid is ``uid`` (a throwaway student's)."""
    for _ in range(20):
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()
                and _uid_of(int(entry)) == uid]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _uid_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
