"""Handlers for poll, epoll, files and pipes, capabilities and PSP.

poll compares each entry's ``revents`` and prints them as flag names; epoll_wait compares the
count and the first event only (reference §3.1). open, pipe and epoll_create create script fds.
"""

from __future__ import annotations

import ctypes

from drillbook.runtime.syscalls.args import SyscallFailure, bad_type, get_int, struct_kind
from drillbook.runtime.syscalls.context import CHECK_EXACT, CHECK_FD, CallContext
from drillbook.runtime.syscalls.fdtable import FdEntry
from drillbook.runtime.syscalls.libc import EpollEvent, PollFd
from drillbook.script.model import Expr, IntExpr, ListExpr, StringExpr, StructExpr

# poll(2) flag names in packetdrill's order; unknown bits print as "???".
POLL_FLAGS: dict[int, str] = {
    0x001: "POLLIN", 0x002: "POLLPRI", 0x004: "POLLOUT", 0x040: "POLLRDNORM",
    0x080: "POLLRDBAND", 0x100: "POLLWRNORM", 0x200: "POLLWRBAND", 0x400: "POLLMSG",
    0x1000: "POLLREMOVE", 0x2000: "POLLRDHUP", 0x008: "POLLERR", 0x010: "POLLHUP",
    0x020: "POLLNVAL",
}


def poll_flags_to_string(flags: int) -> str:
    """``POLLIN|POLLOUT`` for 0x5, as packetdrill's flags_to_string (low bit first)."""
    names = [POLL_FLAGS.get(1 << bit, "???") for bit in range(64) if flags & (1 << bit)]
    return "|".join(names)


def _int_member(expr: StructExpr, name: str, default: int | None = None) -> int:
    value = expr.get(name)
    if value is None:
        if default is None:
            raise bad_type(expr, "integer")
        return default
    if not isinstance(value, IntExpr):
        raise bad_type(value, "integer")
    return value.value


def sys_poll(ctx: CallContext) -> None:
    args = ctx.args
    args.count(3)
    entries = args.get(0)
    if not isinstance(entries, ListExpr):
        raise bad_type(entries, "list")
    fds = (PollFd * max(len(entries.items), 1))()
    expected: list[int] = []
    for index, item in enumerate(entries.items):
        if not isinstance(item, StructExpr) or struct_kind(item) != "pollfd":
            raise bad_type(item, "pollfd")
        fds[index].fd = ctx.live(_int_member(item, "fd"))
        fds[index].events = _int_member(item, "events")
        expected.append(_int_member(item, "revents", 0))
        fds[index].revents = expected[-1]
    nfds, timeout = args.s32(1), args.s32(2)
    if nfds != len(expected):
        raise SyscallFailure(f"nfds {nfds} does not match {len(expected)}-element pollfd array")
    ctx.call(ctx.runtime.libc.poll, fds, nfds, timeout)
    ctx.end(CHECK_EXACT)
    for index, wanted in enumerate(expected):
        actual = fds[index].revents & 0xFFFF
        if actual != wanted:
            raise SyscallFailure(
                f"Expected revents of {poll_flags_to_string(wanted)} but got "
                f"{poll_flags_to_string(actual)} for pollfd {index}"
            )


def sys_epoll_create(ctx: CallContext) -> None:
    ctx.args.count(1)
    ctx.call(ctx.runtime.libc.epoll_create, ctx.args.s32(0))
    result = ctx.end(CHECK_FD)
    if result >= 0:
        ctx.add_fd(FdEntry(ctx.expected_result(), result, "epoll"))


def _epoll_event(ctx: CallContext, expr: Expr, script_fd: int | None,
                 live_fd: int) -> tuple[EpollEvent, str]:
    """A live epoll_event and which data member the script used (fd, ptr, u32 or u64)."""
    if not isinstance(expr, StructExpr) or struct_kind(expr) != "epollev":
        raise bad_type(expr, "epollev")
    event = EpollEvent()
    event.events = _int_member(expr, "events") & 0xFFFFFFFF
    for kind in ("ptr", "fd", "u32", "u64"):
        value = expr.get(kind)
        if value is None:
            continue
        number = get_int(value)
        if kind == "fd":
            if script_fd is None:
                live_fd = ctx.live(number)
            elif number != script_fd:
                raise SyscallFailure("wrong fd specified in epoll_event")
            number = live_fd
        width = 32 if kind in ("fd", "u32") else 64
        event.data = number & (2**width - 1)
        return event, kind
    raise SyscallFailure("epoll_event specified incorrectly")


def sys_epoll_ctl(ctx: CallContext) -> None:
    args = ctx.args
    args.count(4)
    epfd = ctx.live(args.s32(0))
    op = args.s32(1)
    script_fd = args.s32(2)
    live_fd = ctx.live(script_fd)
    event, _ = _epoll_event(ctx, args.get(3), script_fd, live_fd)
    ctx.call(ctx.runtime.libc.epoll_ctl, epfd, op, live_fd, ctypes.byref(event))
    ctx.end(CHECK_EXACT)


def sys_epoll_wait(ctx: CallContext) -> None:
    args = ctx.args
    args.count(4)
    epfd = ctx.live(args.s32(0))
    wanted, kind = _epoll_event(ctx, args.get(1), None, -1)
    maxevents, timeout = args.s32(2), args.s32(3)
    events = (EpollEvent * max(maxevents, 1))()
    ctx.call(ctx.runtime.libc.epoll_wait, epfd, events, maxevents, timeout)
    ctx.end(CHECK_EXACT)
    first = events[0]
    if wanted.events != first.events:
        raise SyscallFailure(
            "epoll_event->events does not match script: "
            f"expected: 0x{wanted.events:x} actual: 0x{first.events:x}"
        )
    width = 32 if kind in ("fd", "u32") else 64
    mask = 2**width - 1
    expected, actual = wanted.data & mask, first.data & mask
    if expected != actual:
        if kind == "fd":
            expected, actual = _signed32(expected), _signed32(actual)
        shown = (hex(expected), hex(actual)) if kind == "ptr" else (expected, actual)
        raise SyscallFailure(
            "epoll_event->data does not match script: "
            f"expected: {shown[0]} actual: {shown[1]}"
        )


def _signed32(value: int) -> int:
    return value - 2**32 if value >= 2**31 else value


def sys_open(ctx: CallContext) -> None:
    args = ctx.args
    args.count(2)
    path = args.get(0)
    if not isinstance(path, StringExpr):
        raise bad_type(path, "string")
    ctx.call(ctx.runtime.libc.open, path.value, args.s32(1))
    result = ctx.end(CHECK_FD)
    if result >= 0:
        ctx.add_fd(FdEntry(ctx.expected_result(), result, "file"))


def sys_pipe(ctx: CallContext) -> None:
    args = ctx.args
    args.count(1)
    pair = args.get(0)
    if not isinstance(pair, ListExpr):
        raise bad_type(pair, "list")
    if len(pair.items) != 2:
        raise SyscallFailure(f"{len(pair.items)} pipe file descriptors instead of 2")
    script_fds = [get_int(item) for item in pair.items]
    live_fds = (ctypes.c_int * 2)()
    ctx.call(ctx.runtime.libc.pipe, live_fds)
    result = ctx.end(CHECK_EXACT)
    if result >= 0:
        for script_fd, live_fd in zip(script_fds, live_fds, strict=True):
            ctx.add_fd(FdEntry(script_fd, live_fd, "pipe"))


def sys_splice(ctx: CallContext) -> None:
    args = ctx.args
    args.count(6)
    fd_in = ctx.live(args.s32(0))
    # packetdrill passes the offsets through as pointer values: 0 (NULL) is the usable one.
    off_in = args.s64(1)
    fd_out = ctx.live(args.s32(2))
    off_out = args.s64(3)
    length, flags = args.s32(4), args.s32(5)
    ctx.call(ctx.runtime.libc.splice, fd_in, off_in or None, fd_out, off_out or None,
             length, flags & 0xFFFFFFFF)
    ctx.end(CHECK_EXACT)


def sys_sendfile(ctx: CallContext) -> None:
    args = ctx.args
    args.count(4)
    out_fd = ctx.live(args.s32(0))
    in_fd = ctx.live(args.s32(1))
    offset = ctypes.c_long(args.bracketed_s64(2))
    count = args.s32(3)
    ctx.call(ctx.runtime.libc.sendfile, out_fd, in_fd, ctypes.byref(offset), count)
    ctx.end(CHECK_EXACT)


_CAP_VERSION_3 = 0x20080522


def sys_cap_set(ctx: CallContext) -> None:
    """Raise or drop one capability in one set, as libcap's cap_set_flag + cap_set_proc."""
    args = ctx.args
    args.count(3)
    which, capability, operation = args.s32(0), args.s32(1), args.s32(2)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} u32 triples
    if ctx.runtime.libc.capget(header, data) != 0:
        raise SyscallFailure("Error in cap_get_proc()")
    if not 0 <= which <= 2 or not 0 <= capability < 64:
        raise SyscallFailure("Error in cap_set_flag()")
    slot = 3 * (capability // 32) + which
    bit = 1 << (capability % 32)
    data[slot] = data[slot] | bit if operation else data[slot] & ~bit
    ctx.call(ctx.runtime.libc.capset, header, data)
    ctx.end(CHECK_FD)


def _psp(ctx: CallContext, bracketed: bool) -> None:
    args = ctx.args
    args.count(2)
    ctx.live(args.s32(0))
    if bracketed:
        args.bracketed_s32(1)
    else:
        args.s32(1)
    raise SyscallFailure(
        f"PSP not initialized: {ctx.spec.name} needs packetdrill's wire mode on a PSP-capable "
        "NIC, which drillbook does not support"
    )


def sys_psp_rx_assoc(ctx: CallContext) -> None:
    _psp(ctx, bracketed=True)


def sys_psp_tx_assoc(ctx: CallContext) -> None:
    _psp(ctx, bracketed=False)


HANDLERS = {
    "poll": sys_poll,
    "epoll_create": sys_epoll_create,
    "epoll_ctl": sys_epoll_ctl,
    "epoll_wait": sys_epoll_wait,
    "open": sys_open,
    "pipe": sys_pipe,
    "splice": sys_splice,
    "sendfile": sys_sendfile,
    "cap_set": sys_cap_set,
    "psp_rx_assoc": sys_psp_rx_assoc,
    "psp_tx_assoc": sys_psp_tx_assoc,
}

__all__ = ["HANDLERS", "POLL_FLAGS", "poll_flags_to_string"]
