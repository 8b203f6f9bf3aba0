"""One worker process per run, the child side: :func:`main`, run as
``python -m drillbook.runtime.workers.worker REPLY_FD`` (or :func:`serve_request` in a fork of
the zygote) reads the request, enters a fresh sandbox, calls the entry function and writes
the reply. The parent side and the theory of operation are in ``client.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from drillbook.errors import DrillbookError, SandboxError, ScriptError
from drillbook.runtime.loop.deadline import WorkerTimeout
from drillbook.runtime.workers.request import (
    EXIT_PARENT_GONE,
    PARENT_PID_ENV,
    WorkerErrorKind,
    WorkerRequest,
)


def main(argv: list[str]) -> int:
    """The worker's entry point: ``python -m drillbook.runtime.workers.worker REPLY_FD``."""
    from drillbook.runtime.sandbox.process import set_parent_death_signal

    set_parent_death_signal(signal.SIGKILL)
    # The parent may have died between our fork and the prctl: then nobody will kill us.
    if str(os.getppid()) != os.environ.get(PARENT_PID_ENV, str(os.getppid())):
        return EXIT_PARENT_GONE
    return serve_request(int(argv[0]))


def serve_request(reply_fd: int) -> int:
    """Read one request on stdin, run it, write the reply to ``reply_fd`` (also the body of a
    fork made by the zygote, drillbook/runtime/workers/zygote.py)."""
    from drillbook.runtime.sandbox.process import (
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
        text = json.dumps({"error": _error_dict(WorkerErrorKind.CRASH, exc), "timings": timings})
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
        return {"error": _error_dict(WorkerErrorKind.SANDBOX, exc), "timings": timings}
    timings["sandbox_ready"] = time.time_ns()
    try:
        result = load_entry(request.entry)(sandbox, request)
    except ScriptError as exc:
        return {"error": _error_dict(WorkerErrorKind.SCRIPT, exc), "timings": timings}
    except SandboxError as exc:
        return {"error": _error_dict(WorkerErrorKind.SANDBOX, exc), "timings": timings}
    except Exception as exc:
        return {"error": _error_dict(WorkerErrorKind.CRASH, exc), "timings": timings}
    except WorkerTimeout as exc:
        return {"error": _error_dict(WorkerErrorKind.TIMEOUT, exc), "timings": timings}
    finally:
        sandbox.close()
    timings["entry_done"] = time.time_ns()
    return {"result": result, "timings": timings}


def _enter_sandbox(request: WorkerRequest) -> Any:
    from drillbook.runtime.sandbox import netlink, process
    from drillbook.runtime.sandbox.tun import Sandbox, needs_cap_net_admin

    # Enter the script's folder first: the private tmpfs mounted over /tmp below would hide a
    # folder under /tmp, while a current directory taken before the mount stays usable.
    try:
        os.chdir(request.cwd)
    except OSError as exc:
        raise SandboxError(f"cannot enter the script's folder {request.cwd!r}: {exc}") from exc
    # Without CAP_NET_ADMIN/CAP_SYS_ADMIN: a user namespace first, where the machine allows it
    # (SandboxError naming what is missing otherwise). We are still single-threaded here.
    from drillbook.runtime.sandbox.userns import enter_if_unprivileged

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


def _error_dict(kind: WorkerErrorKind, exc: BaseException) -> dict[str, str]:
    import traceback

    message = exc.render() if isinstance(exc, DrillbookError) else str(exc)
    trace = "" if isinstance(exc, DrillbookError) else traceback.format_exc()
    return {"kind": kind.value, "message": message, "type_name": type(exc).__name__,
            "traceback": trace}


if __name__ == "__main__":
    # Run the canonical module's main, so that the entry function sees the same
    # WorkerRequest class as "drillbook.runtime.workers.request" (not a copy in __main__).
    from drillbook.runtime.workers.worker import main as _main

    _code = _main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)  # no interpreter teardown: threads stuck in syscalls must not hold us
