"""One worker process per run, the parent side: :func:`run_in_worker` spawns (or has the
zygote fork) a worker, sends it the request and collects its reply (the child side is
``worker.py``).

Theory of operation
-------------------
The caller (a shell, pytest, or a Jupyter kernel) never enters a namespace. It spawns a fresh
interpreter (not a fork: a Jupyter kernel has threads and state a fork would copy) in a new
session, so the child leads its own process group. The request goes as JSON on the child's
stdin; the reply comes back as JSON on a dedicated pipe, which keeps the child's
stdout/stderr free for shell-command output and diagnostics (both are captured).

The child first asks the kernel to SIGKILL it when the parent dies (``PR_SET_PDEATHSIG``) and
checks that the parent did not die before that; then it unshares a new network namespace and
mount namespace, makes mounts private and puts a tmpfs on /tmp, brings ``lo`` up, changes to
the script's folder, builds the :class:`~drillbook.runtime.sandbox.tun.Sandbox` and calls the
entry function. Both namespaces are anonymous: they vanish with the process on any exit.

The parent enforces the timeout and turns Ctrl-C into SIGKILL of the child's whole process
group (shell commands included), then re-raises.
"""


from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from drillbook.errors import RunAborted, SandboxError
from drillbook.runtime.workers.environment import child_environment
from drillbook.runtime.workers.request import (
    EXIT_PARENT_GONE,
    PARENT_PID_ENV,
    WorkerError,
    WorkerErrorKind,
    WorkerReply,
    WorkerRequest,
)


class _Process(Protocol):
    """What the client needs of a worker process: a spawned Popen or a zygote's fork."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    @property
    def returncode(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


STDERR_TAIL_CHARS = 2000
EXIT_GRACE_S = 2.0  # after its reply, how long the worker may take to exit before SIGKILL
TERM_GRACE_S = 1.0  # after SIGTERM at the timeout, how long it may take to send a partial reply



def run_in_worker(request: WorkerRequest, timeout_s: float | None = None) -> WorkerReply:
    """Run *request* in a fresh worker process and return its reply.

    Raises SandboxError when the machine cannot host a sandbox (with how to fix it),
    RunAborted when the worker dies or exceeds *timeout_s* (it is then SIGKILLed with its
    whole process group); KeyboardInterrupt kills the worker and is re-raised.
    """
    spawn_ns = time.time_ns()
    reply_r, reply_w = os.pipe()
    try:
        proc = _spawn(reply_w)
    except BaseException:
        os.close(reply_r)
        raise
    finally:
        os.close(reply_w)
    try:
        chunks = _exchange(proc, reply_r, request.to_json().encode(), timeout_s)
    except BaseException:
        _kill_and_reap(proc)
        raise
    finally:
        os.close(reply_r)
    return _build_reply(proc, chunks, timeout_s, spawn_ns)


def _spawn(reply_w: int) -> _Process:
    env = child_environment({PARENT_PID_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"})
    from drillbook.runtime.workers.zygote import ZygoteClient

    zygote = ZygoteClient.get()
    if zygote is not None:
        try:
            return zygote.spawn(reply_w, env)
        except OSError:
            pass  # the zygote is gone: fall back to a fresh interpreter
    return subprocess.Popen(
        [sys.executable, "-m", "drillbook.runtime.workers.worker", str(reply_w)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=(reply_w,), start_new_session=True, env=env,
    )


@dataclass
class _Chunks:
    reply: bytearray = field(default_factory=bytearray)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    timed_out: bool = False


def _exchange(
    proc: _Process, reply_r: int, request: bytes, timeout_s: float | None
) -> _Chunks:
    """Feed stdin and collect reply/stdout/stderr until all close or the deadline passes."""
    assert proc.stdin and proc.stdout and proc.stderr
    chunks = _Chunks()
    sinks = {reply_r: chunks.reply, proc.stdout.fileno(): chunks.stdout,
             proc.stderr.fileno(): chunks.stderr}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    pending = memoryview(request)
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            selector.register(fd, selectors.EVENT_READ)
        os.set_blocking(proc.stdin.fileno(), False)  # a large request must not block us
        selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE, proc.stdin)
        replied = False
        while selector.get_map():
            if not replied and reply_r not in selector.get_map():
                # The reply is complete: the worker is only exiting now; do not let a stuck
                # thread or a stray holder of its stdout keep us waiting long.
                replied = True
                deadline = time.monotonic() + EXIT_GRACE_S
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                if replied or chunks.timed_out:
                    break
                # Time is up: ask for a partial reply (WorkerTimeout in the worker) first.
                chunks.timed_out = True
                _signal(proc.pid, signal.SIGTERM)
                deadline = time.monotonic() + TERM_GRACE_S
                continue
            for key, _ in selector.select(wait):
                pending = _service(selector, key, sinks, pending)
    return chunks


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _service(
    selector: selectors.BaseSelector, key: selectors.SelectorKey,
    sinks: dict[int, bytearray], pending: memoryview,
) -> memoryview:
    fd = key.fd
    if key.data is not None:  # the child's stdin: feed the request, then close it
        try:
            pending = pending[os.write(fd, pending[:65536]):]
        except BlockingIOError:
            return pending
        except BrokenPipeError:
            pending = pending[:0]
        if not pending:
            selector.unregister(fd)
            key.data.close()
        return pending
    data = os.read(fd, 65536)
    if data:
        sinks[fd] += data
    else:
        selector.unregister(fd)
    return pending


def _kill_and_reap(proc: _Process) -> None:
    from drillbook.runtime.sandbox.process import kill_group, kill_session

    kill_group(proc.pid)
    # A zygote's fork whose zygote died gets no status (OSError): it died with the zygote.
    with contextlib.suppress(OSError):
        proc.wait()
    # The worker leads its session: this also reaches shell commands' own process groups.
    kill_session(proc.pid)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _build_reply(
    proc: _Process, chunks: _Chunks, timeout_s: float | None, spawn_ns: int
) -> WorkerReply:
    # The group also holds any shell command still running: it must not outlive the run.
    _kill_and_reap(proc)
    stdout = chunks.stdout.decode(errors="replace")
    stderr = chunks.stderr.decode(errors="replace")
    if chunks.timed_out:
        raise RunAborted(f"the run timed out after {timeout_s:g} s; the worker was killed"
                         + _tail_note(stderr), trace=_partial_result(chunks.reply))
    if not chunks.reply:
        raise RunAborted(_death_message(proc.returncode) + _tail_note(stderr))
    data = json.loads(chunks.reply.decode())
    timings = {"spawn": spawn_ns, **data.get("timings", {})}
    error = _error_from(data.get("error"), stderr)
    if error is not None and error.kind is WorkerErrorKind.SANDBOX:
        raise SandboxError(error.message)
    return WorkerReply(data.get("result"), error, stdout, stderr, proc.returncode or 0, timings)


def _partial_result(reply: bytearray) -> dict[str, Any] | None:
    try:
        result = json.loads(reply.decode()).get("result") if reply else None
    except ValueError:
        return None
    return result if isinstance(result, dict) else None


def _error_from(data: dict[str, str] | None, stderr: str) -> WorkerError | None:
    if data is None:
        return None
    return WorkerError(
        kind=WorkerErrorKind(data["kind"]), message=data["message"],
        type_name=data.get("type_name", ""), traceback=data.get("traceback", ""),
        stderr_tail=stderr[-STDERR_TAIL_CHARS:],
    )


def _death_message(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        return f"the worker died from signal {name} before replying"
    if returncode == EXIT_PARENT_GONE:
        return "the worker found its parent gone and exited"
    if returncode is None:
        return "the worker vanished before replying (the zygote that forked it died)"
    return f"the worker exited with status {returncode} before replying"


def _tail_note(stderr: str) -> str:
    tail = stderr[-STDERR_TAIL_CHARS:].strip()
    return f"\nworker stderr (tail):\n{tail}" if tail else ""
