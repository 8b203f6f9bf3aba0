"""What the engine needs to know of the runtime, as structural types (no runtime import)."""

from __future__ import annotations

import enum
from typing import Protocol


class WireAddresses(Protocol):
    """The run's wire-level addresses (IPv4 on the wire in ipv4-mapped-ipv6 mode)."""

    @property
    def wire_family(self) -> int: ...

    @property
    def local_ip(self) -> str: ...

    @property
    def remote_ip(self) -> str: ...


class SocketEventKind(enum.Enum):
    """What a syscall did to the sockets the engine tracks."""

    SOCKET = "socket"
    LISTEN = "listen"
    CONNECT = "connect"
    DISCONNECT = "disconnect"  # connect or sendto with AF_UNSPEC
    ACCEPT = "accept"
    CLOSE = "close"


class SocketEventLike(Protocol):
    """A syscall's effect on sockets (the runtime's SocketEvent)."""

    @property
    def kind(self) -> SocketEventKind: ...

    @property
    def script_fd(self) -> int: ...

    @property
    def live_fd(self) -> int: ...

    @property
    def sock_type(self) -> int: ...

    @property
    def protocol(self) -> int: ...
