"""Handlers for the socket lifecycle and control calls.

socket, bind, listen, accept, connect, close, shutdown, fcntl, ioctl, setsockopt, getsockopt;
each follows the order of checks of its ``syscall_*`` function in packetdrill's
run_system_call.c, so that the first error reported is the same one.
"""

from __future__ import annotations

import ctypes
import socket as pysocket
import struct

from drillbook.engine.types import SocketEventKind
from drillbook.runtime.syscalls.args import (
    SyscallFailure,
    get_int,
    positional,
    struct_kind,
    to_c_int,
    type_name,
)
from drillbook.runtime.syscalls.context import CHECK_EXACT, CHECK_FD, CallContext, SocketEvent
from drillbook.runtime.syscalls.fdtable import FdEntry
from drillbook.runtime.syscalls.libc import SOCKADDR_STORAGE_SIZE, sockaddr, unspec_sockaddr
from drillbook.script.model import CallExpr, Expr, ListExpr, StringExpr, StructExpr


def sys_socket(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    domain = ctx.runtime.addresses.family if args.is_ellipsis(0) else args.s32(0)
    sock_type, protocol = args.s32(1), args.s32(2)
    ctx.call(ctx.runtime.libc.socket, domain, sock_type, protocol)
    result = ctx.end(CHECK_FD)
    if result >= 0:
        script_fd = ctx.expected_result()
        if script_fd < 0:
            raise SyscallFailure(f"invalid socket fd {script_fd} in script")
        ctx.add_fd(FdEntry(script_fd, result, "socket", domain, sock_type, protocol))
        ctx.emit(SocketEvent(SocketEventKind.SOCKET, script_fd, result, sock_type, protocol))


def sys_bind(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    live_fd = ctx.live(args.s32(0))
    args.ellipsis(1)
    args.ellipsis(2)
    addresses = ctx.runtime.addresses
    address = sockaddr(addresses.local_ip, addresses.bind_port)
    ctx.call(ctx.runtime.libc.bind, live_fd, address, len(address))
    ctx.end(CHECK_EXACT)


def sys_listen(ctx: CallContext) -> None:
    args = ctx.args
    args.count(2)
    script_fd = args.s32(0)
    live_fd = ctx.live(script_fd)
    ctx.call(ctx.runtime.libc.listen, live_fd, args.s32(1))
    ctx.end(CHECK_EXACT)
    entry = ctx.entry(script_fd)
    if entry is None or entry.kind != "socket":
        raise SyscallFailure(f"unable to find socket with script fd {script_fd}")
    ctx.emit(SocketEvent(SocketEventKind.LISTEN, script_fd, live_fd, entry.sock_type,
                         entry.protocol))


def sys_accept(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    script_fd = args.s32(0)
    live_fd = ctx.live(script_fd)
    args.ellipsis(1)
    args.ellipsis(2)
    address = ctypes.create_string_buffer(SOCKADDR_STORAGE_SIZE)
    length = ctypes.c_uint(SOCKADDR_STORAGE_SIZE)
    ctx.call(ctx.runtime.libc.accept, live_fd, address, ctypes.byref(length))
    result = ctx.end(CHECK_FD)
    if result >= 0:
        child = ctx.expected_result()
        listener = ctx.entry(script_fd)
        family = listener.family if listener else 0
        sock_type = listener.sock_type if listener else pysocket.SOCK_STREAM
        protocol = listener.protocol if listener else 0
        ctx.runtime.fds.relabel(FdEntry(child, result, "socket", family, sock_type, protocol))
        ctx.emit(SocketEvent(SocketEventKind.ACCEPT, child, result, sock_type, protocol))


def connect_address(ctx: CallContext, script_fd: int, family: int | None) -> bytes:
    """The sockaddr for connect/sendto/sendmsg, and the driver's connect/disconnect event.

    ``family`` is None for ``...`` (connect to remote_ip:connect_port) or the sa_family the
    script gave (AF_UNSPEC disconnects), as packetdrill's run_syscall_connect.
    """
    entry = ctx.entry(script_fd)
    live_fd = entry.live_fd if entry else -1
    sock_type = entry.sock_type if entry else 0
    protocol = entry.protocol if entry else 0
    if family is not None:
        address = bytearray(unspec_sockaddr())
        struct.pack_into("=H", address, 0, family & 0xFFFF)
        if family == pysocket.AF_UNSPEC:
            ctx.emit(SocketEvent(SocketEventKind.DISCONNECT, script_fd, live_fd, sock_type,
                                 protocol))
        return bytes(address)
    addresses = ctx.runtime.addresses
    ctx.emit(SocketEvent(SocketEventKind.CONNECT, script_fd, live_fd, sock_type, protocol))
    return sockaddr(addresses.remote_ip, addresses.connect_port)


def sys_connect(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    script_fd = args.s32(0)
    live_fd = ctx.live(script_fd)
    family = None if args.is_ellipsis(1) else args.s32(1)
    args.ellipsis(2)
    address = connect_address(ctx, script_fd, family)
    ctx.call(ctx.runtime.libc.connect, live_fd, address, len(address))
    ctx.end(CHECK_EXACT)


def sys_close(ctx: CallContext) -> None:
    args = ctx.args
    args.count(1)
    script_fd = args.s32(0)
    live_fd = ctx.live(script_fd)
    if ctx.runtime.on_closing is not None:
        ctx.runtime.on_closing(live_fd)
    ctx.call(ctx.runtime.libc.close, live_fd)
    ctx.end(CHECK_EXACT)
    entry = ctx.runtime.fds.close(script_fd, live_fd)
    if entry.kind == "socket":
        ctx.emit(SocketEvent(SocketEventKind.CLOSE, script_fd, live_fd, entry.sock_type,
                             entry.protocol))


def sys_shutdown(ctx: CallContext) -> None:
    args = ctx.args
    args.count(2)
    live_fd = ctx.live(args.s32(0))
    ctx.call(ctx.runtime.libc.shutdown, live_fd, args.s32(1))
    ctx.end(CHECK_EXACT)


def sys_fcntl(ctx: CallContext) -> None:
    args = ctx.args
    count = len(args.items)
    if count not in (2, 3):
        raise SyscallFailure(f"fcntl expected 2-3 args but got {count}")
    live_fd = ctx.live(args.s32(0))
    command = args.s32(1)
    argument = args.s32(2) if count == 3 else 0
    ctx.call(ctx.runtime.libc.fcntl, live_fd, command, argument)
    ctx.end(CHECK_EXACT)


def sys_ioctl(ctx: CallContext) -> None:
    args = ctx.args
    count = len(args.items)
    if count not in (2, 3):
        raise SyscallFailure(f"ioctl expected 2-3 args but got {count}")
    live_fd = ctx.live(args.s32(0))
    command = args.s32(1) & 0xFFFFFFFF
    if count == 2:
        ctx.call(ctx.runtime.libc.ioctl, live_fd, command, None)
        ctx.end(CHECK_EXACT)
        return
    expected = args.bracketed_s32(2)
    value = ctypes.c_int(0)
    ctx.call(ctx.runtime.libc.ioctl, live_fd, command, ctypes.byref(value))
    ctx.end(CHECK_EXACT)
    if value.value != expected:
        raise SyscallFailure(f"Bad ioctl optval: expected: {expected} actual: {value.value}")


def _in6_addr(expr: CallExpr) -> bytes:
    text = expr.args[0] if expr.args else None
    if not isinstance(text, StringExpr):
        raise SyscallFailure("inet6_addr() needs a string argument")
    try:
        return pysocket.inet_pton(pysocket.AF_INET6, text.value.decode("ascii"))
    except (OSError, UnicodeDecodeError):
        raise SyscallFailure(
            f"bad IPv6 address: '{text.value.decode('ascii', 'replace')}'") from None


def setsockopt_value(ctx: CallContext, value: Expr) -> bytes:
    """The optval bytes a setsockopt argument stands for (packetdrill's accepted shapes)."""
    if isinstance(value, ListExpr):
        return struct.pack("=i", ctx.args.bracketed_s32(3))
    if isinstance(value, StringExpr):
        return value.value + b"\0"  # a C string literal carries its terminating NUL
    if isinstance(value, StructExpr) and struct_kind(value) == "linger":
        onoff, linger = (to_c_int(get_int(v)) for v in positional(value))
        return struct.pack("=ii", onoff, linger)
    if isinstance(value, CallExpr) and value.function == "inet6_addr":
        return _in6_addr(value)
    raise SyscallFailure(f"unsupported setsockopt value type: {type_name(value)}")


def sys_setsockopt(ctx: CallContext) -> None:
    args = ctx.args
    args.count(5)
    live_fd = ctx.live(args.s32(0))
    level, name, optlen = args.s32(1), args.s32(2), args.s32(4)
    data = setsockopt_value(ctx, args.get(3))
    # The C code passes a pointer to the value and the script's optlen, whatever its size;
    # pad so the kernel never reads past the buffer.
    buffer = ctypes.create_string_buffer(data, max(len(data), optlen, 1))
    ctx.call(ctx.runtime.libc.setsockopt, live_fd, level, name, buffer, optlen)
    ctx.end(CHECK_EXACT)


def _printable(data: bytes) -> str:
    """packetdrill's to_printable_string: printable bytes as-is, others as \\xHH."""
    out = []
    for index, byte in enumerate(data):
        if 0x20 <= byte < 0x7F or (index == len(data) - 1 and byte == 0):
            out.append(chr(byte) if byte else "")
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def sys_getsockopt(ctx: CallContext) -> None:
    args = ctx.args
    args.count(5)
    live_fd = ctx.live(args.s32(0))
    level, name = args.s32(1), args.s32(2)
    value = args.get(3)
    optlen = args.bracketed_s32(4)
    buffer = ctypes.create_string_buffer(max(optlen, 0) + 1)
    length = ctypes.c_uint(optlen & 0xFFFFFFFF)
    ctx.call(ctx.runtime.libc.getsockopt, live_fd, level, name, buffer, ctypes.byref(length))
    ctx.end(CHECK_EXACT)
    live_len = to_c_int(length.value)
    if live_len != optlen:
        raise SyscallFailure(
            f"Bad getsockopt optlen: expected: {optlen} actual: {live_len}"
        )
    _check_getsockopt_value(ctx, value, buffer.raw[:max(optlen, 0)], optlen)


def _check_getsockopt_value(ctx: CallContext, value: Expr, live: bytes, optlen: int) -> None:
    if isinstance(value, StringExpr):
        script = value.value
        if optlen != len(script):
            raise SyscallFailure(
                f"Bad getsockopt optval: expected optlen ({optlen} bytes) does not match length of "
                f"expected optval string '{_printable(script)}' ({len(script)} bytes)"
            )
        if live[:optlen] != script[:optlen]:
            raise SyscallFailure(
                f"Bad getsockopt optval: expected: '{_printable(script)}' "
                f"actual: '{_printable(live)}'"
            )
        return
    if isinstance(value, ListExpr):
        if optlen != 4:
            raise SyscallFailure(f"Unsupported getsockopt optlen: {optlen}")
        expected = ctx.args.bracketed_s32(3)
        (actual,) = struct.unpack("=i", live[:4])
        if actual != expected:
            raise SyscallFailure(
                f"Bad getsockopt optval: expected: {expected} actual: {actual}"
            )
        return
    if isinstance(value, CallExpr) and value.function == "inet6_addr":
        if optlen != 16:
            raise SyscallFailure(f"Unsupported getsockopt optlen: {optlen}")
        script = _in6_addr(value)
        if live[:16] != script:
            raise SyscallFailure(
                "Bad getsockopt optval: expected: "
                f"{pysocket.inet_ntop(pysocket.AF_INET6, script)} "
                f"actual: {pysocket.inet_ntop(pysocket.AF_INET6, live[:16])} "
            )
        return
    raise SyscallFailure(f"unsupported getsockopt value type: {type_name(value)}")


HANDLERS = {
    "socket": sys_socket,
    "bind": sys_bind,
    "listen": sys_listen,
    "accept": sys_accept,
    "connect": sys_connect,
    "close": sys_close,
    "shutdown": sys_shutdown,
    "fcntl": sys_fcntl,
    "ioctl": sys_ioctl,
    "setsockopt": sys_setsockopt,
    "getsockopt": sys_getsockopt,
}

__all__ = ["HANDLERS", "connect_address", "setsockopt_value"]
