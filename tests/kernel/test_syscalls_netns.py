"""Helpers for the syscall executor's kernel tests: a fresh network namespace per test, and
small builders for SyscallSpecs (the tests do not depend on the parser).

``in_netns(fn)`` forks; the child unshares a new network namespace, brings ``lo`` up, runs
``fn`` and sends its (picklable) return value or its traceback back through a pipe.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pickle
import signal
import socket
import struct
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from drillbook.config import IpMode, RunConfig
from drillbook.runtime.syscalls.context import SocketAddresses
from drillbook.runtime.syscalls.executor import SyscallExecutor
from drillbook.script.model import (
    BinaryOrExpr,
    EllipsisExpr,
    Expr,
    FieldExpr,
    IntExpr,
    ListExpr,
    StringExpr,
    StructExpr,
    SymbolExpr,
    SyscallSpec,
)

CLONE_NEWNET = 0x40000000
ELL = EllipsisExpr()


def _can_unshare() -> str | None:
    """None if this process may create network namespaces, else why not."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    effective = int(fields.get("CapEff", "0").strip(), 16)
    if not effective & (1 << 12) or not effective & (1 << 21):
        return "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root) to create a network namespace"
    return None


SKIP_REASON = _can_unshare()
needs_netns = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


def _lo_up() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS UP
    finally:
        sock.close()


def in_netns(fn: Callable[[], Any], timeout_s: int = 20) -> Any:
    """Run ``fn`` in a child process inside a new, empty network namespace."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            signal.alarm(timeout_s)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            _lo_up()
            payload = pickle.dumps(("ok", fn()))
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            payload = pickle.dumps(("error", traceback.format_exc()))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    if not data:
        raise AssertionError("child process died without an answer")
    status, value = pickle.loads(data)
    if status == "error":
        raise AssertionError(f"in namespace:\n{value}")
    return value


def expr(value: Any) -> Expr:
    """Shorthand: int -> IntExpr, "..." -> EllipsisExpr, "A|B" -> symbols, bytes -> string,
    list -> ListExpr, dict -> StructExpr, tuple -> positional struct (iovec)."""
    if isinstance(value, Expr.__args__):  # type: ignore[attr-defined]
        return value  # type: ignore[no-any-return]
    if value is ...:
        return ELL
    if isinstance(value, int):
        return IntExpr(value)
    if isinstance(value, bytes):
        return StringExpr(value)
    if isinstance(value, str):
        if value == "...":
            return ELL
        names = value.split("|")
        result: Expr = SymbolExpr(names[0])
        for name in names[1:]:
            result = BinaryOrExpr(result, SymbolExpr(name))
        return result
    if isinstance(value, list):
        return ListExpr(tuple(expr(v) for v in value))
    if isinstance(value, dict):
        fields = []
        for key, item in value.items():
            name, _, size = key.partition("(")
            size_expr = expr(int(size[:-1]) if size[:-1].isdigit() else ...) if size else None
            fields.append(FieldExpr(name, expr(item), size_expr))
        return StructExpr(tuple(fields))
    if isinstance(value, tuple):
        return StructExpr(tuple(FieldExpr(None, expr(v)) for v in value))
    raise TypeError(value)


def call(name: str, *args: Any, result: Any = 0, errno: str | None = None,
         note: str | None = None, end_us: int | None = None) -> SyscallSpec:
    """A SyscallSpec as the parser would build it."""
    return SyscallSpec(name, tuple(expr(a) for a in args), expr(result), errno,
                       note if note is not None or errno is None else "note", end_us)


def loopback_executor(ip_mode: IpMode = IpMode.IPV4, port: int = 8080,
                      **config: Any) -> SyscallExecutor:
    """An executor whose `...` addresses point at loopback (bind and connect to one port)."""
    if ip_mode is IpMode.IPV4:
        addresses = SocketAddresses(socket.AF_INET, "127.0.0.1", "127.0.0.1", port, port)
    elif ip_mode is IpMode.IPV6:
        addresses = SocketAddresses(socket.AF_INET6, "::1", "::1", port, port)
    else:
        addresses = SocketAddresses(socket.AF_INET6, "::ffff:127.0.0.1", "::ffff:127.0.0.1",
                                    port, port)
    return SyscallExecutor(RunConfig(ip_mode=ip_mode, **config), addresses, lambda: 0)


def run_all(executor: SyscallExecutor, *specs: SyscallSpec) -> list[str | None]:
    """Execute specs in order; the list of their errors (None for a match)."""
    return [executor.execute(spec, 0).error for spec in specs]


def server_client_pair(executor: SyscallExecutor) -> None:
    """Listener 3, client 4 connected, accepted child 5 (all checked)."""
    errors = run_all(
        executor,
        call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=3),
        call("setsockopt", 3, "SOL_SOCKET", "SO_REUSEADDR", [1], 4),
        call("bind", 3, ..., ...),
        call("listen", 3, 1),
        call("socket", ..., "SOCK_STREAM", "IPPROTO_TCP", result=4),
        call("connect", 4, ..., ...),
        call("accept", 3, ..., ..., result=5),
    )
    assert errors == [None] * 7, errors


def test_helpers_build_specs() -> None:
    spec = call("fcntl", 3, "F_SETFL", "O_RDWR|O_NONBLOCK")
    assert isinstance(spec.args[2], BinaryOrExpr)
    assert spec.result == IntExpr(0)
