"""A fork server for worker processes: starting a run costs a fork, not an interpreter.

A fresh Python that imports drillbook's runtime and builds the grammar takes about a second;
a suite of hundreds of runs, or a student pressing Run again and again, should not pay that
every time. The zygote is a child of the client process that has imported everything once.
For each run the client passes it the run's pipe ends (stdin, stdout, stderr, reply) over a
Unix socket; the zygote forks, and the fork becomes the worker exactly as a spawned
``python -m drillbook.runtime.workers.worker`` would (session leader, parent-death signal, fresh
namespaces made after the fork). The zygote reports each fork's pid and exit status.

Lifetimes: the zygote lives as long as its client process and exits when the client's end of
the socket closes (however the client dies); each fork dies with the zygote
(PR_SET_PDEATHSIG), so a killed client leaves nothing behind.
Set ``DRILLBOOK_ZYGOTE=0`` to spawn a fresh interpreter per run instead.
"""

from __future__ import annotations

import array
import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO

from drillbook.runtime.threads import without_process_signals

ENV_SWITCH = "DRILLBOOK_ZYGOTE"
ZYGOTE_MODULE = "drillbook.runtime.workers.zygote"  # in the zygote's command line
WORKER_NAME = "drillbook-run"  # the comm of a forked worker (a spawned one runs -m ...worker)
PR_SET_NAME = 15
_HEADER_MAX = 4096


# ------------------------------------------------------------------------------ client side


@dataclass
class ForkedWorker:
    """The subset of ``subprocess.Popen`` the worker client uses, for a zygote's fork."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None
    _status: Future[int] = field(repr=False)
    returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        self.returncode = self._status.result(timeout)
        return self.returncode

    def poll(self) -> int | None:
        if self._status.done():
            self.returncode = self._status.result()
        return self.returncode


class ZygoteClient:
    """One zygote per client process, started on first use and shared by its threads."""

    _lock = threading.Lock()
    _instance: ZygoteClient | None = None

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        from drillbook.runtime.workers.environment import child_environment

        env = child_environment()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "drillbook.runtime.workers.zygote", str(child_end.fileno())],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
        child_end.close()
        self._sock = parent_end
        self._send_lock = threading.Lock()
        self._next_id = 0
        self._pids: dict[int, Future[int]] = {}
        self._statuses: dict[int, Future[int]] = {}
        # Ctrl-C and the other process signals are for the threads waiting on workers.
        self._reader = threading.Thread(target=without_process_signals(self._read_loop),
                                        name="drillbook-zygote", daemon=True)
        self._reader.start()

    @classmethod
    def get(cls) -> ZygoteClient | None:
        """The process's zygote, or None when disabled or it cannot run."""
        if os.environ.get(ENV_SWITCH, "1") == "0":
            return None
        with cls._lock:
            if cls._instance is not None and cls._instance.alive:
                return cls._instance
            try:
                cls._instance = ZygoteClient()
            except OSError:
                cls._instance = None
            return cls._instance

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None and self._reader.is_alive()

    def spawn(self, reply_w: int, env: dict[str, str]) -> ForkedWorker:
        """Fork a worker whose stdin/stdout/stderr are new pipes and whose reply fd is
        ``reply_w``; ``env`` becomes its environment."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid_future: Future[int] = Future()
        status: Future[int] = Future()
        try:
            with self._send_lock:
                self._next_id += 1
                ident = self._next_id
                self._pids[ident] = pid_future
                self._statuses[ident] = status
                header = json.dumps({"id": ident, "env": env}).encode()
                fds = array.array("i", [in_r, out_w, err_w, reply_w])
                self._sock.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            pid = pid_future.result(timeout=30)
        except BaseException:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        return ForkedWorker(pid, os.fdopen(in_w, "wb"), os.fdopen(out_r, "rb"),
                            os.fdopen(err_r, "rb"), status)

    def _read_loop(self) -> None:
        while True:
            try:
                data = self._sock.recv(_HEADER_MAX)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            ident = message["id"]
            if "pid" in message:
                self._pids.pop(ident).set_result(message["pid"])
            elif "error" in message:
                self._pids.pop(ident).set_exception(OSError(message["error"]))
                self._statuses.pop(ident).set_result(-1)
            else:
                self._statuses.pop(ident).set_result(message["status"])
        # The zygote is gone: reap it, and nobody will report on the forks still pending.
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        for future in (*self._pids.values(), *self._statuses.values()):
            if not future.done():
                future.set_exception(OSError("the drillbook zygote died"))


# ------------------------------------------------------------------------------ zygote side


def _warm_up() -> None:
    """Import and build everything a run needs, once, before any fork."""
    import drillbook.runtime.sandbox.netlink  # noqa: F401
    import drillbook.runtime.workers.entry  # noqa: F401  (driver, engine, parser, syscalls, sandbox)
    import drillbook.trace.codec  # noqa: F401
    from drillbook.parser import parse_script

    parse_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", "warm-up.pkt")


def serve(sock_fd: int) -> int:
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us exits (a suite's
    # pool thread), not the client process. The client's death closes its end of the socket
    # instead, however it dies, and then the zygote kills its forks and exits.
    sock = socket.socket(fileno=sock_fd)
    _warm_up()
    # Objects that exist now are never collected again: forks then do not copy the pages a
    # collection would touch.
    import gc

    gc.collect()
    gc.freeze()
    children: dict[int, int] = {}  # pid -> request id
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fd == wake_r:
                    os.read(wake_r, 512)
                    continue
                if not _accept_request(sock, children):
                    _kill_all(children)
                    return 0
            _reap(sock, children)


def _accept_request(sock: socket.socket, children: dict[int, int]) -> bool:
    fds = array.array("i")
    try:
        data, ancdata, _flags, _addr = sock.recvmsg(
            _HEADER_MAX, socket.CMSG_SPACE(4 * fds.itemsize)
        )
    except OSError:
        return False
    if not data:
        return False
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    message = json.loads(data)
    stdin_fd, stdout_fd, stderr_fd, reply_fd = fds.tolist()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked worker
        os._exit(_become_worker(sock, stdin_fd, stdout_fd, stderr_fd, reply_fd, message["env"]))
    for fd in fds:
        os.close(fd)
    children[pid] = message["id"]
    sock.send(json.dumps({"id": message["id"], "pid": pid}).encode())
    return True


def _become_worker(
    sock: socket.socket, stdin_fd: int, stdout_fd: int, stderr_fd: int, reply_fd: int,
    env: dict[str, str],
) -> int:
    from drillbook.runtime.workers.worker import serve_request

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sock.close()
    _set_name(WORKER_NAME)
    for target, fd in ((0, stdin_fd), (1, stdout_fd), (2, stderr_fd)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    # A fresh interpreter would put the client's PYTHONPATH first on sys.path: do the same, so
    # an entry function importable by the client is importable here too.
    for entry in reversed([p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    importlib.invalidate_caches()
    sys.stdin = os.fdopen(0, "r", closefd=False)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    try:
        return serve_request(reply_fd)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _set_name(name: str) -> None:
    """``prctl(PR_SET_NAME)``: a fork shows as ``drillbook-run`` in ps and /proc/PID/comm."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def _reap(sock: socket.socket, children: dict[int, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ident = children.pop(pid, None)
        if ident is not None:
            code = os.waitstatus_to_exitcode(status)
            sock.send(json.dumps({"id": ident, "status": code}).encode())


def _kill_all(children: dict[int, int]) -> None:
    """Kill each fork's whole session: its shell commands run in process groups of their own."""
    from drillbook.runtime.sandbox.process import kill_session

    for pid in children:
        with contextlib.suppress(OSError):
            kill_session(pid)


def main(argv: list[str]) -> int:
    return serve(int(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["ENV_SWITCH", "WORKER_NAME", "ForkedWorker", "ZygoteClient", "main"]
