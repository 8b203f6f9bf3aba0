"""The script model: a packetdrill script as immutable, typed data.

Every node carries the :class:`~drillbook.source.Span` it came from. Spans never take part in
equality (``compare=False``) so that the printer's law ``parse(print(s)) == s`` can hold: a
reprinted script has other positions but the same meaning.

Values are already resolved the way packetdrill's lexer resolves them: ``-D`` symbols are
substituted, numbers are ints, times are integer microseconds. Symbolic syscall arguments stay
symbolic (``SymbolExpr``): packetdrill resolves them only at run time, and so does drillbook.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from drillbook.source import NO_SPAN, Source, Span

# --------------------------------------------------------------------------------------------
# Times


class TimeKind(enum.Enum):
    ABSOLUTE = "absolute"  # `0.100`
    RELATIVE = "relative"  # `+.1`
    ANY = "any"  # `*`: never checked, no sniff timeout (outbound only)
    ABSOLUTE_RANGE = "absolute_range"  # `0.1~0.2` (outbound only)
    RELATIVE_RANGE = "relative_range"  # `+.1~+.2` (outbound only)


@dataclass(frozen=True)
class EventTime:
    """When an event happens. ``start_us``/``end_us`` are as written (relative or absolute)."""

    kind: TimeKind
    start_us: int = 0
    end_us: int | None = None  # the upper bound of a range
    span: Span = field(default=NO_SPAN, compare=False)

    @property
    def is_relative(self) -> bool:
        return self.kind in (TimeKind.RELATIVE, TimeKind.RELATIVE_RANGE)

    @property
    def is_range(self) -> bool:
        return self.kind in (TimeKind.ABSOLUTE_RANGE, TimeKind.RELATIVE_RANGE)


# --------------------------------------------------------------------------------------------
# Expressions (syscall arguments and results)


@dataclass(frozen=True)
class EllipsisExpr:
    """``...``: packetdrill fills it in (addresses, buffers, lengths, the socket domain)."""

    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class IntExpr:
    value: int
    hex: bool = field(default=False, compare=False)  # written as 0x..., kept for printing
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class SymbolExpr:
    """A bare word such as ``SOL_SOCKET``; resolved to a number at run time."""

    name: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class StringExpr:
    """A C string literal, escapes decoded (adjacent literals already concatenated)."""

    value: bytes
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class BinaryOrExpr:
    """``A|B``; both sides must evaluate to integers."""

    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class ListExpr:
    """``[a, b, ...]``; its meaning depends on the argument position."""

    items: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class FieldExpr:
    """One member of a ``{...}`` struct: ``name=value``, ``name(size)=value`` or positional.

    ``name`` is None for positional members (``{..., 1000}`` iovecs); ``size`` carries the
    parenthesised part of ``msg_iov(1)=[...]`` or ``msg_name(...)=...``.
    """

    name: str | None
    value: Expr
    size: Expr | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class StructExpr:
    """``{...}``: msghdr, iovec, cmsg, pollfd, epoll_event, linger, sock_extended_err..."""

    fields: tuple[FieldExpr, ...]
    span: Span = field(default=NO_SPAN, compare=False)

    def get(self, name: str) -> Expr | None:
        for member in self.fields:
            if member.name == name:
                return member.value
        return None


@dataclass(frozen=True)
class CallExpr:
    """``htons(8080)``, ``inet_addr("1.2.3.4")``, ``inet6_addr("::1")``."""

    function: str
    args: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class OpaqueExpr:
    """A value drillbook keeps as text only (GRE/MPLS setsockopt values): ``kind`` names it."""

    kind: str
    text: str
    span: Span = field(default=NO_SPAN, compare=False)


Expr = (
    EllipsisExpr
    | IntExpr
    | SymbolExpr
    | StringExpr
    | BinaryOrExpr
    | ListExpr
    | StructExpr
    | CallExpr
    | OpaqueExpr
)


# --------------------------------------------------------------------------------------------
# Packets


class Direction(enum.Enum):
    INBOUND = "<"  # injected into the kernel through the TUN device
    OUTBOUND = ">"  # the kernel must send it; sniffed and compared


@dataclass(frozen=True)
class IpInfo:
    """IP-level fields written on a packet line: ``[ect0]``, ``(tos 0x10)``, ``ttl``..."""

    ecn: str | None = None  # noecn | ect0 | ect1 | ect01 | ce
    tos: int | None = None
    ttl: int | None = None
    flowlabel: int | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class TcpOption:
    """One TCP option as written: ``kind`` is packetdrill's name for it.

    kind: mss | nop | eol | sackOK | wscale | TS | sack | FO | FOEXP | md5 | ECN
    - mss, wscale: ``value``
    - TS: ``val``, ``ecr``
    - sack: ``blocks`` as (start, end) pairs
    - FO, FOEXP, md5: ``cookie`` as lowercase hex ("" for an empty FO cookie)
    - ECN (AccECN): ``ecn_fields`` as ((name, value), ...) in script order
    """

    kind: str
    value: int | None = None
    val: int | None = None
    ecr: int | None = None
    blocks: tuple[tuple[int, int], ...] = ()
    cookie: str | None = None
    ecn_fields: tuple[tuple[str, int], ...] = ()
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class TcpSpec:
    """``flags start:end(len) [ack N] [win N] [urg N] [<options>]``.

    ``flags`` is the flag string as written (``S.``, ``P.``, ``SEW``, ``.5``, ``-``).
    ``options`` is None when no option list was written (outbound: the packet must carry no
    options), or a tuple; ``any_options`` is True for ``<...>`` (outbound: not checked).
    """

    flags: str
    start_seq: int
    end_seq: int
    payload_len: int
    ack: int | None = None
    window: int | None = None
    urgent: int | None = None
    options: tuple[TcpOption, ...] | None = None
    any_options: bool = False
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class UdpSpec:
    payload_len: int
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class EchoedHeader:
    """What an ICMP error echoes: ``[start:end(len)]`` (TCP seq), ``[udp (N)]`` or ``[raw (N)]``."""

    protocol: str  # tcp | udp | raw
    start_seq: int = 0
    end_seq: int = 0
    payload_len: int = 0
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class IcmpSpec:
    """``icmp TYPE [CODE] [mtu N] [id N] [echoed]``: names are resolved for the IP mode."""

    type_name: str
    type_value: int
    code_name: str | None = None
    code_value: int = 0
    mtu: int | None = None
    echo_id: int | None = None
    echoed: EchoedHeader | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Encapsulation:
    """An outer layer written before the packet: ``gre``, ``mpls``, an outer ``ipv4/ipv6``."""

    kind: str
    text: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class PacketSpec:
    direction: Direction
    body: TcpSpec | UdpSpec | IcmpSpec
    ip: IpInfo = IpInfo()
    encapsulations: tuple[Encapsulation, ...] = ()
    ports: tuple[int, int] | None = None  # explicit `sport > dport`
    psp_spi: int | None = None
    span: Span = field(default=NO_SPAN, compare=False)


# --------------------------------------------------------------------------------------------
# Syscalls, commands, code


@dataclass(frozen=True)
class SyscallSpec:
    """``[...end] name(args) = result [ERRNO] [(note)]``."""

    name: str
    args: tuple[Expr, ...]
    result: Expr
    errno: str | None = None
    note: str | None = None
    end_us: int | None = None  # `...end` of a blocking call, same base as the event's start
    span: Span = field(default=NO_SPAN, compare=False)

    @property
    def is_blocking(self) -> bool:
        return self.end_us is not None


@dataclass(frozen=True)
class ShellCommand:
    """A backtick command, run through ``/bin/sh`` inside the run's namespace."""

    command: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class CodeBlock:
    """A ``%{ python }%`` block; its text is trimmed of spaces and tabs at either end."""

    code: str
    span: Span = field(default=NO_SPAN, compare=False)


Action = (
    PacketSpec
    | SyscallSpec
    | ShellCommand
    | CodeBlock
)


@dataclass(frozen=True)
class Event:
    """One timed event; its line (for messages) is the line of its timestamp."""

    time: EventTime
    action: Action
    span: Span = field(default=NO_SPAN, compare=False)

    @property
    def line(self) -> int:
        return self.span.line


@dataclass(frozen=True)
class HeaderOption:
    """A ``--name[=value]`` line at the top of a script (same names as the CLI flags)."""

    name: str
    value: str | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Script:
    options: tuple[HeaderOption, ...]
    init_command: ShellCommand | None
    events: tuple[Event, ...]
    cleanup_command: ShellCommand | None = None
    source: Source = field(default=Source("<script>", ""), compare=False)

    @property
    def path(self) -> str:
        return self.source.path


__all__ = [
    "Action",
    "BinaryOrExpr",
    "CallExpr",
    "CodeBlock",
    "Direction",
    "EchoedHeader",
    "EllipsisExpr",
    "Encapsulation",
    "Event",
    "EventTime",
    "Expr",
    "FieldExpr",
    "HeaderOption",
    "IcmpSpec",
    "IntExpr",
    "IpInfo",
    "ListExpr",
    "OpaqueExpr",
    "PacketSpec",
    "Script",
    "ShellCommand",
    "StringExpr",
    "StructExpr",
    "SymbolExpr",
    "SyscallSpec",
    "TcpOption",
    "TcpSpec",
    "TimeKind",
    "UdpSpec",
]
