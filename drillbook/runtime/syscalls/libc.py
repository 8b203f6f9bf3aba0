"""The C library calls the executor makes, through ctypes, and the C structs they take.

Python's socket and os modules raise exceptions, refuse NULL buffers and hide flags, but a
packetdrill script must be able to pass ``NULL`` (and get EFAULT from the kernel) or any flag.
So every syscall goes through libc exactly as packetdrill's C code calls it. ctypes releases the
GIL around each call, so a blocking call on the syscall thread does not stop the main thread.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

c_int = ctypes.c_int
c_void_p = ctypes.c_void_p
c_size_t = ctypes.c_size_t
c_ssize_t = ctypes.c_ssize_t
c_uint = ctypes.c_uint

SOCKADDR_STORAGE_SIZE = 128
CMSG_HEADER_SIZE = 16  # sizeof(struct cmsghdr) on x86-64: size_t len, int level, int type


class IoVec(ctypes.Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", c_void_p),
        ("msg_namelen", c_uint),
        ("msg_iov", c_void_p),
        ("msg_iovlen", c_size_t),
        ("msg_control", c_void_p),
        ("msg_controllen", c_size_t),
        ("msg_flags", c_int),
    ]


class PollFd(ctypes.Structure):
    _fields_ = [("fd", c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class EpollEvent(ctypes.Structure):
    # x86-64's struct epoll_event is packed: 4 bytes of events then 8 of data (12 bytes).
    _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


def cmsg_align(length: int) -> int:
    return (length + 7) & ~7


def cmsg_len(data_len: int) -> int:
    return CMSG_HEADER_SIZE + data_len


def cmsg_space(data_len: int) -> int:
    return CMSG_HEADER_SIZE + cmsg_align(data_len)


def sockaddr(ip: str, port: int) -> bytes:
    """A sockaddr_in or sockaddr_in6 for ``ip`` (the family follows the address's form)."""
    if ":" in ip:
        packed = socket.inet_pton(socket.AF_INET6, ip)
        return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + packed + bytes(4)
    packed = socket.inet_pton(socket.AF_INET, ip)
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + packed + bytes(8)


def unspec_sockaddr() -> bytes:
    """A zeroed address buffer for a script-given sa_family (``AF_UNSPEC``).

    packetdrill zeroes a sockaddr, sets only sa_family and passes the length of a whole
    sockaddr_storage (128 bytes).
    """
    return bytes(SOCKADDR_STORAGE_SIZE)


class CallResult(NamedTuple):
    """What a C call returned and the errno it left.

    A NamedTuple rather than a frozen dataclass: one is made per call, and this is ~5x cheaper.
    """

    result: int
    errno: int
    returned_ns: int = 0  # time.time_ns() as soon as the C call returned (blocking calls' end)


def _bind(lib: ctypes.CDLL, name: str, restype: Any, argtypes: list[Any]) -> Any:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = argtypes
    return function


class Libc:
    """Typed handles on the libc functions packetdrill's syscalls use."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)
        self.entered_ns: dict[int, int] = {}  # thread ident -> when its last call began
        self.entering: dict[int, threading.Event] = {}  # thread ident -> set as a call begins
        i, p, z, sz = c_int, c_void_p, c_size_t, c_ssize_t
        self.socket = _bind(lib, "socket", i, [i, i, i])
        self.bind = _bind(lib, "bind", i, [i, p, c_uint])
        self.listen = _bind(lib, "listen", i, [i, i])
        self.accept = _bind(lib, "accept", i, [i, p, p])
        self.connect = _bind(lib, "connect", i, [i, p, c_uint])
        self.read = _bind(lib, "read", sz, [i, p, z])
        self.write = _bind(lib, "write", sz, [i, p, z])
        self.readv = _bind(lib, "readv", sz, [i, p, i])
        self.writev = _bind(lib, "writev", sz, [i, p, i])
        self.recv = _bind(lib, "recv", sz, [i, p, z, i])
        self.send = _bind(lib, "send", sz, [i, p, z, i])
        self.recvfrom = _bind(lib, "recvfrom", sz, [i, p, z, i, p, p])
        self.sendto = _bind(lib, "sendto", sz, [i, p, z, i, p, c_uint])
        self.recvmsg = _bind(lib, "recvmsg", sz, [i, p, i])
        self.sendmsg = _bind(lib, "sendmsg", sz, [i, p, i])
        self.close = _bind(lib, "close", i, [i])
        self.shutdown = _bind(lib, "shutdown", i, [i, i])
        self.fcntl = _bind(lib, "fcntl", i, [i, i, ctypes.c_long])
        self.ioctl = _bind(lib, "ioctl", i, [i, ctypes.c_ulong, p])
        self.getsockopt = _bind(lib, "getsockopt", i, [i, i, i, p, p])
        self.setsockopt = _bind(lib, "setsockopt", i, [i, i, i, p, c_uint])
        self.poll = _bind(lib, "poll", i, [p, ctypes.c_ulong, i])
        self.epoll_create = _bind(lib, "epoll_create", i, [i])
        self.epoll_ctl = _bind(lib, "epoll_ctl", i, [i, i, i, p])
        self.epoll_wait = _bind(lib, "epoll_wait", i, [i, p, i, i])
        self.open = _bind(lib, "open", i, [ctypes.c_char_p, i])
        self.pipe = _bind(lib, "pipe", i, [p])
        self.splice = _bind(lib, "splice", sz, [i, p, i, p, z, c_uint])
        self.sendfile = _bind(lib, "sendfile", sz, [i, i, p, z])
        self.capget = _bind(lib, "capget", i, [p, p])
        self.capset = _bind(lib, "capset", i, [p, p])

    def getsockopt_bytes(self, fd: int, level: int, name: int, size: int) -> bytes | None:
        """getsockopt into a ``size``-byte buffer: the bytes it returned, or None on error."""
        buffer = ctypes.create_string_buffer(size)
        length = c_uint(size)
        if self.getsockopt(fd, level, name, buffer, ctypes.byref(length)) != 0:
            return None
        return buffer.raw[:length.value]

    def call(self, function: Callable[..., int], stale_errno: int, *args: Any) -> CallResult:
        """Run ``function`` and capture the errno it leaves.

        Like C, a call that succeeds leaves errno alone, so ``stale_errno`` (the thread's errno
        after its previous call) is put in place first: packetdrill's messages print errno even
        for calls that did not fail ("... but got 59000 with errno 2 (No such file or
        directory)"). The moment the call is entered is kept per thread (``entered_ns``): the
        driver's clock for a blocking call starts there.
        """
        ctypes.set_errno(stale_errno)
        ident = threading.get_ident()
        self.entered_ns[ident] = time.time_ns()
        signal = self.entering.get(ident)
        if signal is not None:  # the driver waits for a blocking call to reach the kernel
            signal.set()
        result = function(*args)
        returned_ns = time.time_ns()
        return CallResult(int(result), ctypes.get_errno(), returned_ns)


__all__ = [
    "CMSG_HEADER_SIZE",
    "SOCKADDR_STORAGE_SIZE",
    "CallResult",
    "EpollEvent",
    "IoVec",
    "Libc",
    "MsgHdr",
    "PollFd",
    "cmsg_align",
    "cmsg_len",
    "cmsg_space",
    "sockaddr",
    "unspec_sockaddr",
]
