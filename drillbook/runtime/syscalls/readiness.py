"""Whether a blocking-style call (`...` time) would return at once: then it need not wait for
the syscall thread.

packetdrill hands every `...` call to its syscall thread and waits until that thread has made
it. Handing over costs drillbook 150-250 µs here (waking a thread on the other CPU, then the
GIL), where the C tool needs ~50 µs. For a call on a socket whose data (or connection, or
error) is already queued, the result cannot depend on which thread makes it, so the driver
makes it on the spot, keeping the syscall thread's errno. The calls covered are the receive
side: read, readv, recv, recvfrom, recvmsg and accept, on a socket that poll(2) reports
readable (POLLIN) or hung up (POLLHUP), and never with MSG_WAITALL (which may wait for more than
what is queued). POLLERR alone does not count: a TX timestamp waiting on the error queue sets
it, yet a read would still block.
"""

from __future__ import annotations

import select
from collections.abc import Callable

from drillbook.runtime.syscalls.args import Args, SyscallFailure

MSG_WAITALL = 0x100
READY = select.POLLIN | select.POLLHUP
FLAGS_ARGUMENT = {"read": None, "readv": None, "accept": None, "recv": 3, "recvfrom": 3,
                  "recvmsg": 2}


def returns_at_once(name: str, args: Args, live_fd: Callable[[int], int | None]) -> bool:
    """True if the call ``name`` with ``args`` would not block now. ``live_fd`` maps the
    script fd to the live one (None if the script never opened it)."""
    if name not in FLAGS_ARGUMENT:
        return False
    try:
        script_fd = args.s32(0)
        flag_index = FLAGS_ARGUMENT[name]
        if flag_index is not None and args.s32(flag_index) & MSG_WAITALL:
            return False
    except SyscallFailure:
        return False  # a malformed call: let the ordinary path report it
    fd = live_fd(script_fd)
    if fd is None:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        events = poller.poll(0)
    except OSError:
        return False
    return any(revents & READY for _, revents in events)


__all__ = ["returns_at_once"]
