"""Handlers for the data calls: read/write, recv/send, recvfrom/sendto, readv/writev and
recvmsg/sendmsg.

Buffers are zero-filled (``...``) or NULL (``0``/``NULL``: the kernel answers EFAULT). Send
buffers stay alive for the whole run under ``--send_omit_free``, because with MSG_ZEROCOPY the
kernel still reads them after the call returns.
"""

from __future__ import annotations

import ctypes
import socket as pysocket
import time

from drillbook.runtime.syscalls.args import SyscallFailure
from drillbook.runtime.syscalls.cmsg import TimeBase, compare_cmsgs
from drillbook.runtime.syscalls.context import CHECK_EXACT, CallContext
from drillbook.runtime.syscalls.libc import SOCKADDR_STORAGE_SIZE
from drillbook.runtime.syscalls.msg import (
    build_iovecs,
    build_msg,
    iovec_lengths,
    msg_spec,
    parse_cmsgs,
)
from drillbook.runtime.syscalls.sockets import connect_address

ICMP_ECHO = 8
ICMPV6_ECHO_REQUEST = 128
ICMP_HEADER_SIZE = 8


def _buffer(is_null: bool, count: int) -> ctypes.Array[ctypes.c_char] | None:
    # A negative count is a huge size_t to the kernel: never pair it with a real buffer it
    # could write past; NULL makes the kernel fail the call instead.
    return None if is_null or count < 0 else ctypes.create_string_buffer(count)


def _fd_buffer_count(ctx: CallContext) -> tuple[int, ctypes.Array[ctypes.c_char] | None, int]:
    """Arguments 0-2 of read/write/send/recv...: live fd, buffer (or NULL), count."""
    args = ctx.args
    live_fd = ctx.live(args.s32(0))
    is_null = args.buffer_is_null(1)
    count = args.s32(2)
    return live_fd, _buffer(is_null, count), count


def sys_read(ctx: CallContext) -> None:
    ctx.args.count(3)
    live_fd, buffer, count = _fd_buffer_count(ctx)
    ctx.call(ctx.runtime.libc.read, live_fd, buffer, count)
    ctx.end(CHECK_EXACT)


def sys_write(ctx: CallContext) -> None:
    ctx.args.count(3)
    live_fd, buffer, count = _fd_buffer_count(ctx)
    ctx.call(ctx.runtime.libc.write, live_fd, buffer, count)
    ctx.end(CHECK_EXACT)


def sys_recv(ctx: CallContext) -> None:
    ctx.args.count(4)
    live_fd, buffer, count = _fd_buffer_count(ctx)
    ctx.call(ctx.runtime.libc.recv, live_fd, buffer, count, ctx.args.s32(3))
    ctx.end(CHECK_EXACT)


def sys_send(ctx: CallContext) -> None:
    ctx.args.count(4)
    live_fd, buffer, count = _fd_buffer_count(ctx)
    ctx.call(ctx.runtime.libc.send, live_fd, buffer, count, ctx.args.s32(3))
    ctx.runtime.retain(buffer)
    ctx.end(CHECK_EXACT)


def sys_recvfrom(ctx: CallContext) -> None:
    args = ctx.args
    args.count(6)
    live_fd, buffer, count = _fd_buffer_count(ctx)
    flags = args.s32(3)
    args.ellipsis(4)
    args.ellipsis(5)
    address = ctypes.create_string_buffer(SOCKADDR_STORAGE_SIZE)
    length = ctypes.c_uint(SOCKADDR_STORAGE_SIZE)
    ctx.call(ctx.runtime.libc.recvfrom, live_fd, buffer, count, flags, address,
             ctypes.byref(length))
    ctx.end(CHECK_EXACT)


def _is_icmp_socket(ctx: CallContext, script_fd: int) -> bool:
    entry = ctx.entry(script_fd)
    return entry is not None and entry.sock_type == pysocket.SOCK_DGRAM and (
        (entry.family == pysocket.AF_INET and entry.protocol == pysocket.IPPROTO_ICMP)
        or (entry.family == pysocket.AF_INET6 and entry.protocol == pysocket.IPPROTO_ICMPV6)
    )


def sys_sendto(ctx: CallContext) -> None:
    args = ctx.args
    args.count(6)
    script_fd = args.s32(0)
    live_fd, buffer, count = _fd_buffer_count(ctx)
    flags = args.s32(3)
    icmp = _is_icmp_socket(ctx, script_fd)
    if icmp:
        args.ellipsis(4)
        family = None
    else:
        family = None if args.is_ellipsis(4) else args.s32(4)
    args.ellipsis(5)
    # sendto always goes through packetdrill's connect logic: with MSG_FASTOPEN it is TFO's
    # implicit connect, and with AF_UNSPEC it disconnects.
    address = connect_address(ctx, script_fd, family)
    if icmp and buffer is not None and count >= ICMP_HEADER_SIZE:
        # An ICMP ping socket only accepts an echo request: set its type byte.
        wire_v6 = ctx.runtime.config.ip_mode.wire_is_ipv6
        buffer[0] = bytes([ICMPV6_ECHO_REQUEST if wire_v6 else ICMP_ECHO])
    ctx.call(ctx.runtime.libc.sendto, live_fd, buffer, count, flags, address, len(address))
    if not icmp:
        ctx.runtime.retain(buffer)
    ctx.end(CHECK_EXACT)


def _iov_call(ctx: CallContext, writing: bool) -> None:
    args = ctx.args
    args.count(3)
    live_fd = ctx.live(args.s32(0))
    lengths = iovec_lengths(args.get(1))
    iov_count = args.s32(2)
    if iov_count != len(lengths):
        raise SyscallFailure(
            f"iov_count {iov_count} does not match {len(lengths)}-element iovec array"
        )
    keep: list[object] = []
    iovecs = build_iovecs(lengths, keep)
    function = ctx.runtime.libc.writev if writing else ctx.runtime.libc.readv
    ctx.call(function, live_fd, iovecs, iov_count)
    ctx.end(CHECK_EXACT)


def sys_readv(ctx: CallContext) -> None:
    _iov_call(ctx, writing=False)


def sys_writev(ctx: CallContext) -> None:
    _iov_call(ctx, writing=True)


def sys_sendmsg(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    script_fd = args.s32(0)
    live_fd = ctx.live(script_fd)
    spec = msg_spec(args.get(1))
    flags = args.s32(2)
    name = connect_address(ctx, script_fd, None) if spec.has_name else None
    if spec.flags != 0:
        raise SyscallFailure("sendmsg ignores msg_flags field in msghdr")
    message = build_msg(spec, name)
    ctx.call(ctx.runtime.libc.sendmsg, live_fd, ctypes.byref(message.header), flags)
    ctx.runtime.retain(message)
    ctx.end(CHECK_EXACT)


def sys_recvmsg(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    live_fd = ctx.live(args.s32(0))
    spec = msg_spec(args.get(1))
    flags = args.s32(2)
    message = build_msg(spec, None)
    ctx.call(ctx.runtime.libc.recvmsg, live_fd, ctypes.byref(message.header), flags)
    ctx.end(CHECK_EXACT)
    actual_flags = message.header.msg_flags
    if actual_flags != spec.flags:
        raise SyscallFailure(
            f"Expected msg_flags 0x{spec.flags & 0xFFFFFFFF:08X} "
            f"but got 0x{actual_flags & 0xFFFFFFFF:08X}"
        )
    assert message.control is not None
    actual = parse_cmsgs(message.control.raw, message.header.msg_controllen)
    error = compare_cmsgs(spec.cmsgs, actual, _time_base(ctx))
    if error is not None:
        raise SyscallFailure(error)


def _time_base(ctx: CallContext) -> TimeBase:
    """Script time 0 on the wall clock, which SO_TIMESTAMPING's software stamps use."""
    live_start_us = time.time_ns() // 1000 - ctx.runtime.clock()
    return TimeBase(live_start_us, ctx.runtime.config.tolerance_usecs)


HANDLERS = {
    "read": sys_read,
    "write": sys_write,
    "recv": sys_recv,
    "send": sys_send,
    "recvfrom": sys_recvfrom,
    "sendto": sys_sendto,
    "readv": sys_readv,
    "writev": sys_writev,
    "sendmsg": sys_sendmsg,
    "recvmsg": sys_recvmsg,
}

__all__ = ["HANDLERS"]
