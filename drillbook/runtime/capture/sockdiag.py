"""The states of the run's sockets, by cookie, from the namespace's own sock_diag
(NETLINK_SOCK_DIAG, ``inet_diag``), rootless too.

TCP_INFO needs an fd; after ``close()`` a connection lives on (FIN_WAIT1, LAST_ACK, TIME_WAIT)
with no fd to ask. A dump of the namespace's TCP sockets sees them all, keyed by the same cookie
that ``SO_COOKIE`` gave (a TIME_WAIT entry keeps its socket's cookie). A dump walks the kernel's
whole TCP hash tables, every namespace's (~7 ms on the 24 GB test machine, tens of µs where
they are small), so the observer takes one only at idle moments that leave time for it and
only while a closed socket may still live.
"""

from __future__ import annotations

import contextlib
import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
ALL_STATES = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")
_REQUEST = struct.Struct("=BBBBI48x")  # inet_diag_req_v2 with an empty inet_diag_sockid
_COOKIE_OFFSET = 4 + 4 + 32 + 4  # in inet_diag_msg: family, state, timer, retrans, id...


def dump_states() -> dict[int, int]:
    """cookie -> TCP state number of every TCP socket in this namespace ({} on any error)."""
    states: dict[int, int] = {}
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock,
    ):
        for family in (socket.AF_INET, socket.AF_INET6):
            _dump(sock, family, states)
    return states


def _dump(sock: socket.socket, family: int, states: dict[int, int]) -> None:
    body = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_STATES)
    header = _HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    sock.send(header + body)
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
            if kind in (NLMSG_DONE, NLMSG_ERROR) or length < _HEADER.size:
                return
            message = offset + _HEADER.size
            if message + _COOKIE_OFFSET + 8 <= len(data):
                state = data[message + 1]
                low, high = struct.unpack_from("=II", data, message + _COOKIE_OFFSET)
                states[low | (high << 32)] = state
            offset += (length + 3) & ~3
        if not data:
            return
