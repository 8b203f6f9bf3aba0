"""A student's server in its own PID namespace with its own /proc: a student sees, and can
address by pid, only their own processes.

The hub (root) runs ``python -I -m drillbook.classroom.pidns --user NAME -- CMD ...`` in place
of CMD (:class:`drillbook.classroom.spawner.StudentSpawner` does, after putting the process in
the student's cgroups and setting RLIMIT_NPROC). Three processes result:

- the **keeper**, the pid the hub knows (host PID namespace, root, invisible to students). It
  unshares new PID, mount and IPC namespaces, forks the init, passes the hub's stop signals
  (SIGINT, then SIGTERM) on to it and exits with the server's status, so JupyterHub's
  poll/stop of that pid and the idle culler work unchanged.
- the **init**, pid 1 of the new namespace. It makes every mount private to its mount namespace
  (nothing propagates back to the host), mounts a fresh procfs on /proc — a procfs shows the
  processes of the PID namespace it was mounted from, so the host's /proc and its mount options
  are left as they are — lays a private /tmp over the host's (the worker's copy-on-write
  overlay: what was there stays readable, what the student writes lands in a tmpfs of their
  own, charged to their memory cgroup, gone with the server) and a fresh /dev/shm, and drops
  to the student for good. It then starts the server as pid
  2, passes signals on to it, reaps orphans (a kernel's leftover children) and exits with the
  server's status; the kernel then kills whatever is left in the namespace. It dies with the
  keeper (parent-death signal), so a SIGKILL of the keeper ends everything.
- the **server** (pid 2): CMD, as the student, in the student's home, in its own session.

Inside, a student's processes — and drillbook's rootless workers, which still make their own
user + network namespaces below this one — see only pids of this namespace. Another student's
processes have no pid here: /proc, ``ps``, ``lsns``, kill(2), getpriority(2) find nothing. The
IPC namespace, the private /tmp and /dev/shm also keep System V IPC objects, POSIX shared
memory and semaphores, and files in /tmp per student: another student cannot see their names,
nor plant a file or link where this student's programs will look.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import select
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.runtime.sandbox.process import (
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWPID,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    isolate_mounts_and_tmp,
    mount,
    set_parent_death_signal,
    unshare,
)

# What the hub (stop), a terminal or the student may ask the server to do.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2)
SETUP_FAILED = 70  # EX_SOFTWARE: the namespaces or the drop to the student failed
EXEC_FAILED = 127


class LaunchRefused(Exception):
    """The launch cannot go ahead; the message says why."""


@dataclass(frozen=True)
class Student:
    """Who the server runs as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @classmethod
    def named(cls, name: str) -> Student:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise LaunchRefused(f"no Unix account {name!r}") from None
        if entry.pw_uid == 0:
            raise LaunchRefused(f"{name!r} is root: a student's server never runs as root")
        return cls(name, entry.pw_uid, entry.pw_gid,
                   tuple(os.getgrouplist(name, entry.pw_gid)), entry.pw_dir)


@dataclass(frozen=True)
class Launch:
    """What to run (``command``) and as whom (``user``)."""

    user: str
    command: tuple[str, ...]


def parse(argv: Sequence[str]) -> Launch:
    parser = argparse.ArgumentParser(
        prog="python -m drillbook.classroom.pidns",
        description="Run COMMAND as USER in its own PID, mount and IPC namespaces (root only).")
    parser.add_argument("--user", required=True)
    parser.add_argument("command", nargs="+", metavar="COMMAND")
    args = parser.parse_args(list(argv))
    return Launch(args.user, tuple(args.command))


def exit_code(wait_status: int) -> int:
    """The exit code a shell would report for ``wait_status`` (128 + N after signal N)."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.waitstatus_to_exitcode(wait_status)


def drop_to(student: Student) -> None:
    """Become the student for good (group, supplementary groups, then user), as JupyterHub's
    LocalProcessSpawner does; verify that root cannot be regained."""
    os.setgid(student.gid)
    os.setgroups(list(student.groups))
    os.setuid(student.uid)
    if os.geteuid() != student.uid or os.getegid() != student.gid:
        raise LaunchRefused(f"could not become {student.name}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise LaunchRefused(f"still able to regain root after becoming {student.name}")


def keeper(launch: Launch) -> int:
    """Run in the host PID namespace as root: make the namespaces, keep the init, return the
    server's exit code."""
    student = Student.named(launch.user)
    unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC)
    # The init learns from this pipe's EOF that the keeper died before its parent-death
    # signal was armed (it is armed after the drop to the student, which would clear it).
    alive_read, alive_write = os.pipe()
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    init_pid = os.fork()
    if init_pid == 0:
        os.close(alive_write)
        code = SETUP_FAILED
        try:
            code = init(student, launch.command, alive_read)
        except Exception as error:  # noqa: BLE001 - said on stderr (the hub's log), never raised
            print(f"drillbook.classroom.pidns: {launch.user}: {error}", file=sys.stderr)
        finally:
            os._exit(code)
    os.close(alive_read)
    _forward_signals_to(init_pid)
    while True:
        pid, status = os.waitpid(init_pid, 0)
        if pid == init_pid:
            return exit_code(status)


def init(student: Student, command: Sequence[str], keeper_alive: int) -> int:
    """Pid 1 of the new namespace (see module doc); returns the server's exit code."""
    isolate_mounts_and_tmp()  # every mount private first: nothing below reaches the host
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    drop_to(student)
    set_parent_death_signal(signal.SIGKILL)
    if select.select([keeper_alive], [], [], 0)[0]:
        return SETUP_FAILED  # EOF: the keeper is gone already
    server = os.fork()
    if server == 0:
        _become_server(student, command)
    _forward_signals_to(server)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return SETUP_FAILED
        if pid == server:
            return exit_code(status)


def _become_server(student: Student, command: Sequence[str]) -> None:
    try:
        os.setsid()
        try:
            os.chdir(student.home)
        except OSError:
            os.chdir("/")
        for number in FORWARDED:
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.execvp(command[0], list(command))
    except OSError as error:
        print(f"drillbook.classroom.pidns: cannot run {command[0]}: {error}", file=sys.stderr)
    os._exit(EXEC_FAILED)


def _forward_signals_to(pid: int) -> None:
    def forward(number: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)

    for number in FORWARDED:
        signal.signal(number, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)


def main(argv: Sequence[str] | None = None) -> int:
    launch = parse(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print("drillbook.classroom.pidns: needs root (the hub runs it)", file=sys.stderr)
        return 2
    try:
        return keeper(launch)
    except (OSError, LaunchRefused) as error:
        print(f"drillbook.classroom.pidns: {launch.user}: {error}", file=sys.stderr)
        return SETUP_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
