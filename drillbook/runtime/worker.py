"""One worker process per run: the parent side (:func:`run_in_worker`) and the child side
(:func:`main`, run as ``python -m drillbook.runtime.worker REPLY_FD``).

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
the script's folder, builds the :class:`~drillbook.runtime.sandbox.Sandbox` and calls the
entry function. Both namespaces are anonymous: they vanish with the process on any exit.

The parent enforces the timeout and turns Ctrl-C into SIGKILL of the child's whole process
group (shell commands included), then re-raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from drillbook.config import IpMode, RunConfig
from drillbook.errors import DrillbookError, RunAborted, SandboxError, ScriptError

DEFAULT_ENTRY = "drillbook.runtime.driver:drive"


class _Process(Protocol):
    """What the client needs of a worker process: a spawned Popen or a zygote's fork."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    @property
    def returncode(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


PARENT_PID_ENV = "DRILLBOOK_PARENT_PID"
STDERR_TAIL_CHARS = 2000
EXIT_PARENT_GONE = 70
EXIT_GRACE_S = 2.0  # after its reply, how long the worker may take to exit before SIGKILL
TERM_GRACE_S = 1.0  # after SIGTERM at the timeout, how long it may take to send a partial reply


class WorkerTimeout(BaseException):
    """Raised inside the worker (from its SIGTERM handler) when the parent's timeout expires.
    An entry may catch it and return what it has so far: the parent then raises RunAborted
    carrying that partial result as ``trace``. Like KeyboardInterrupt it is not an
    Exception, so ``except Exception`` does not swallow it by accident."""


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """A JSON-able dict of *config* (enums by value, tuples as lists)."""
    data = {key: _lists(value) for key, value in dataclasses.asdict(config).items()}
    data["ip_mode"] = config.ip_mode.value
    return data


def _lists(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_lists(item) for item in value]
    return value


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """Inverse of :func:`config_to_dict`; unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown RunConfig fields: {sorted(unknown)}")
    values = {key: _tuples(value) for key, value in data.items()}
    if "ip_mode" in values:
        values["ip_mode"] = IpMode(values["ip_mode"])
    return RunConfig(**values)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


@dataclass(frozen=True)
class WorkerRequest:
    """Everything the worker needs to run one script."""

    script_text: str
    script_path: str
    cwd: str
    config: dict[str, Any] = field(default_factory=dict)
    entry: str = DEFAULT_ENTRY

    @property
    def run_config(self) -> RunConfig:
        """The configuration as a RunConfig again."""
        return config_from_dict(self.config)

    def to_json(self) -> str:
        """The request as sent on the worker's stdin."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerRequest:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class WorkerError:
    """Why a worker could not return a result. ``kind``: sandbox | script | crash | timeout
    (the last only reaches the parent inside the RunAborted it raises)."""

    kind: str
    message: str
    type_name: str = ""
    traceback: str = ""
    stderr_tail: str = ""


@dataclass(frozen=True)
class WorkerReply:
    """The entry function's result (or an error), the child's output, and timings in ns
    (``spawn``: parent before spawning; ``child_start``, ``sandbox_ready``, ``entry_done``
    taken by the child, all ``time.time_ns()``)."""

    result: dict[str, Any] | None
    error: WorkerError | None
    stdout: str
    stderr: str
    returncode: int
    timings: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the entry returned a result."""
        return self.error is None

    def raise_for_error(self) -> None:
        """Raise the error as a drillbook exception (ScriptError for kind ``script``,
        SandboxError for ``sandbox``, RunAborted for ``crash``)."""
        if self.error is None:
            return
        if self.error.kind == "script":
            raise RemoteScriptError(self.error.message)
        if self.error.kind == "sandbox":
            raise SandboxError(self.error.message)
        raise RunAborted(_crash_message(self.error))


class RemoteScriptError(ScriptError):
    """A ScriptError raised inside the worker; its message arrives already rendered
    (``path:line:col: message`` plus the caret excerpt), so it is shown as is."""

    def __str__(self) -> str:
        return self.message

    def render(self) -> str:
        return self.message


def _crash_message(error: WorkerError) -> str:
    text = f"the worker crashed: {error.type_name}: {error.message}"
    if error.traceback:
        text += "\n" + error.traceback.rstrip()
    return text


# ---------------------------------------------------------------------------- parent side


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
    env = dict(os.environ)
    env[PARENT_PID_ENV] = str(os.getpid())
    env["PYTHONUNBUFFERED"] = "1"
    # Find this very drillbook even when it is not installed (a checkout on sys.path).
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    from drillbook.runtime.zygote import ZygoteClient

    zygote = ZygoteClient.get()
    if zygote is not None:
        try:
            return zygote.spawn(reply_w, env)
        except OSError:
            pass  # the zygote is gone: fall back to a fresh interpreter
    return subprocess.Popen(
        [sys.executable, "-m", "drillbook.runtime.worker", str(reply_w)],
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
    from drillbook.runtime.process import kill_group, kill_session

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
    if error is not None and error.kind == "sandbox":
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
        kind=data["kind"], message=data["message"], type_name=data.get("type_name", ""),
        traceback=data.get("traceback", ""), stderr_tail=stderr[-STDERR_TAIL_CHARS:],
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


# ----------------------------------------------------------------------------- child side


def main(argv: list[str]) -> int:
    """The worker's entry point: ``python -m drillbook.runtime.worker REPLY_FD``."""
    from drillbook.runtime.process import set_parent_death_signal

    set_parent_death_signal(signal.SIGKILL)
    # The parent may have died between our fork and the prctl: then nobody will kill us.
    if str(os.getppid()) != os.environ.get(PARENT_PID_ENV, str(os.getppid())):
        return EXIT_PARENT_GONE
    return serve_request(int(argv[0]))


def serve_request(reply_fd: int) -> int:
    """Read one request on stdin, run it, write the reply to ``reply_fd`` (also the body of a
    fork made by the zygote, drillbook/runtime/zygote.py)."""
    from drillbook.runtime.process import (
        kill_session,
        set_parent_death_signal,
        start_session_guardian,
    )

    set_parent_death_signal(signal.SIGKILL)
    if os.getsid(0) != os.getpid():
        os.setsid()  # lead a session (and a process group): the unit everything is killed by
    timings = {"child_start": time.time_ns()}
    start_session_guardian()
    signal.signal(signal.SIGTERM, _raise_timeout)
    request = WorkerRequest.from_json(sys.stdin.read())
    reply = _child_run(request, timings)
    try:
        text = json.dumps(reply)
    except (TypeError, ValueError) as exc:
        text = json.dumps({"error": _error_dict("crash", exc), "timings": timings})
    with os.fdopen(reply_fd, "w") as out:
        out.write(text)
    # Shell commands may have left background jobs: none may outlive the run.
    kill_session(os.getsid(0))
    return 0


def _raise_timeout(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends us outright
    raise WorkerTimeout("the parent's timeout expired")


def _child_run(request: WorkerRequest, timings: dict[str, int]) -> dict[str, Any]:
    try:
        sandbox = _enter_sandbox(request)
    except DrillbookError as exc:
        return {"error": _error_dict("sandbox", exc), "timings": timings}
    timings["sandbox_ready"] = time.time_ns()
    try:
        result = load_entry(request.entry)(sandbox, request)
    except ScriptError as exc:
        return {"error": _error_dict("script", exc), "timings": timings}
    except SandboxError as exc:
        return {"error": _error_dict("sandbox", exc), "timings": timings}
    except Exception as exc:
        return {"error": _error_dict("crash", exc), "timings": timings}
    except WorkerTimeout as exc:
        return {"error": _error_dict("timeout", exc), "timings": timings}
    finally:
        sandbox.close()
    timings["entry_done"] = time.time_ns()
    return {"result": result, "timings": timings}


def _enter_sandbox(request: WorkerRequest) -> Any:
    from drillbook.runtime import netlink, process
    from drillbook.runtime.sandbox import Sandbox, needs_cap_net_admin

    # Enter the script's folder first: the private tmpfs mounted over /tmp below would hide a
    # folder under /tmp, while a current directory taken before the mount stays usable.
    try:
        os.chdir(request.cwd)
    except OSError as exc:
        raise SandboxError(f"cannot enter the script's folder {request.cwd!r}: {exc}") from exc
    # Without CAP_NET_ADMIN/CAP_SYS_ADMIN: a user namespace first, where the machine allows it
    # (SandboxError naming what is missing otherwise). We are still single-threaded here.
    from drillbook.runtime.userns import enter_if_unprivileged

    enter_if_unprivileged()
    try:
        process.unshare(process.CLONE_NEWNET | process.CLONE_NEWNS)
        process.isolate_mounts_and_tmp()
        netlink.bring_up_loopback()
    except PermissionError as exc:
        raise SandboxError(f"cannot create a network namespace: {needs_cap_net_admin()}"
                           ) from exc
    except OSError as exc:
        raise SandboxError(f"cannot create the sandbox: {exc}") from exc
    return Sandbox.create(request.run_config)


def load_entry(dotted: str) -> Callable[[Any, WorkerRequest], dict[str, Any]]:
    """Resolve ``"package.module:function"``."""
    module_name, _, attribute = dotted.partition(":")
    function = getattr(importlib.import_module(module_name), attribute or "main")
    if not callable(function):
        raise TypeError(f"{dotted} is not callable")
    return function  # type: ignore[no-any-return]


def _error_dict(kind: str, exc: BaseException) -> dict[str, str]:
    import traceback

    message = exc.render() if isinstance(exc, DrillbookError) else str(exc)
    trace = "" if isinstance(exc, DrillbookError) else traceback.format_exc()
    return {"kind": kind, "message": message, "type_name": type(exc).__name__,
            "traceback": trace}


if __name__ == "__main__":
    # Run the canonical module's main, so that the entry function sees the same
    # WorkerRequest class as "drillbook.runtime.worker" (not a copy in __main__).
    from drillbook.runtime.worker import main as _main

    _code = _main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)  # no interpreter teardown: threads stuck in syscalls must not hold us
