"""Process-level Linux primitives the worker needs and Python 3.11 lacks: ``prctl``,
``unshare``, ``mount`` (via ctypes on libc), plus running a shell command as a killable
child.

Why each one matters:
- ``PR_SET_PDEATHSIG(SIGKILL)`` makes the kernel kill the worker (and each shell it starts)
  when its parent dies, even by SIGKILL, so no run outlives whoever started it.
- ``unshare(CLONE_NEWNET | CLONE_NEWNS)`` gives the worker an anonymous network namespace and
  a private mount namespace; both vanish with the process (no ``ip netns`` name to clean up).
- ``mount --make-rprivate /`` then a tmpfs on ``/tmp``: scripts such as upstream's
  ``set_sysctls.py`` write ``/tmp/sysctl_restore_$PID.sh``; with a private ``/tmp`` nothing is
  left on the host.
- A session guardian (a fork taken before the namespaces are unshared) waits for the worker's
  death and then SIGKILLs whatever is left in its session: background jobs of shell commands,
  which no death signal reaches and which would keep the namespace alive.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# <linux/prctl.h>, <linux/sched.h>, <sys/mount.h>
PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def _libc() -> ctypes.CDLL:
    # The interpreter's own symbols include libc's; ctypes.util.find_library would spawn
    # ldconfig and import half the standard library on every worker start.
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """``prctl(PR_SET_PDEATHSIG, sig)``: the kernel sends *sig* when our parent thread exits."""
    _check(_libc().prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0), "prctl")


def unshare(flags: int) -> None:
    """``unshare(2)``; raises OSError (EPERM without CAP_SYS_ADMIN)."""
    _check(_libc().unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    """``mount(2)`` with bytes arguments; raises OSError."""
    libc = _libc()
    libc.mount.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
    ]
    result = libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None,
        flags, data.encode() if data else None,
    )
    _check(result, f"mount {target}")


def isolate_mounts_and_tmp() -> None:
    """Make every mount private to this (already unshared) mount namespace, then lay a
    copy-on-write /tmp over the host's: everything under the host's /tmp stays readable (a
    checkout, a script's folder, a module the worker imports late may live there), and
    whatever a script writes there (set_sysctls.py's restore file, /tmp/testfile) lands in a
    tmpfs that vanishes with the worker. Where overlayfs is missing, an empty tmpfs is used."""
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    host_tmp = os.open("/tmp", os.O_PATH | os.O_DIRECTORY)
    try:
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
        try:
            os.mkdir("/tmp/.upper", 0o1777)
            os.chmod("/tmp/.upper", 0o1777)
            os.mkdir("/tmp/.work", 0o700)
            scratch = os.open("/tmp", os.O_PATH | os.O_DIRECTORY)
            try:
                # Paths through /proc/self/fd reach both the hidden host /tmp and the scratch.
                options = (f"lowerdir=/proc/self/fd/{host_tmp},"
                           f"upperdir=/proc/self/fd/{scratch}/.upper,"
                           f"workdir=/proc/self/fd/{scratch}/.work")
                mount("overlay", "/tmp", "overlay", MS_NOSUID | MS_NODEV, options)
            finally:
                os.close(scratch)
        except OSError:
            pass  # no overlayfs: the empty tmpfs still keeps the host's /tmp untouched
    finally:
        os.close(host_tmp)


@dataclass(frozen=True)
class ShellResult:
    """The outcome of one shell command: exit status (negative: killed by that signal, or
    timed out) and everything it wrote to stdout and stderr, interleaved."""

    returncode: int
    output: str
    timed_out: bool = False


def run_shell(
    command: str,
    env: Mapping[str, str],
    timeout_s: float | None,
    passthrough: bool = True,
) -> ShellResult:
    """Run *command* with ``/bin/sh -c`` as a direct child of this process (so the shell's
    ``$PPID`` is our pid, which packetdrill exports as ``PACKETDRILL_PID``), in its own process
    group; on timeout the whole group is killed. Like packetdrill's ``system()`` we wait for the
    shell only, not for background jobs it leaves. The output (stdout and stderr, interleaved)
    goes to an in-memory file, so nothing can block on a full pipe; with *passthrough* it is
    copied to our stdout, as packetdrill's shell commands print to its terminal.
    """
    out_fd = os.memfd_create("drillbook-shell", os.MFD_CLOEXEC)
    try:
        # No preexec_fn, so that Popen uses vfork(), as glibc's system(3) does for packetdrill:
        # a fork() write-protects every page of this process, and each first write to a page
        # after it traps (a worker took ~500 such faults, 1.2 ms, in its first events after
        # the init command). The worker's session guardian (start_session_guardian) kills the
        # shell and its jobs if the worker dies, as a parent-death signal would.
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=out_fd,
            stderr=out_fd, env=dict(env), process_group=0,
        )
        timed_out = _wait_or_kill(proc, timeout_s)
        output = _read_all(out_fd).decode(errors="replace")
    finally:
        os.close(out_fd)
    if passthrough and output:
        sys.stdout.write(output)
        sys.stdout.flush()
    return ShellResult(proc.returncode, output, timed_out)


def _wait_or_kill(proc: subprocess.Popen[bytes], timeout_s: float | None) -> bool:
    try:
        proc.wait(timeout=timeout_s)
        return False
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.wait()
        return True
    except BaseException:
        kill_group(proc.pid)
        proc.wait()
        raise


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def kill_session(sid: int) -> list[int]:
    """SIGKILL every process of session *sid* except the caller; returns their pids. The
    worker leads its own session, so this reaches shell commands in their own process groups
    and the background jobs they left behind."""
    killed = []
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        if _session_of(entry.path) == sid:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except ProcessLookupError:
                pass
    return killed


def start_session_guardian() -> int:
    """Fork a small guardian that waits for this process to die, however it dies, and then
    SIGKILLs everything left in our session (background jobs of shell commands, which
    PR_SET_PDEATHSIG does not reach and which would keep the sandbox's namespace alive).
    Call it before unsharing namespaces, so the guardian itself holds none of them.
    Returns the fd whose closing (at our death) wakes the guardian; keep it open."""
    read_end, write_end = os.pipe()  # both close-on-exec: shell commands never hold them
    if os.fork() == 0:  # pragma: no cover - runs in the forked guardian
        try:
            os.close(write_end)
            _detach_fds(keep=read_end)
            while os.read(read_end, 1):
                pass
            kill_session(os.getsid(0))
        finally:
            os._exit(0)
    os.close(read_end)
    return write_end


def _detach_fds(keep: int) -> None:
    # The guardian must not keep the caller's pipes (stdin, stdout, stderr, reply) open.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def _session_of(proc_path: str) -> int | None:
    try:
        with open(f"{proc_path}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[3])


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
