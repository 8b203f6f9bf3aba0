"""Script model -> packetdrill text. The law: ``parse(format_script(s)) == s`` (spans aside).

Output is canonical rather than a copy of the input: one event per line, times in seconds
(``0``, ``+0.1``, ``+0.1~+0.2``), options and arguments separated by ``", "``, strings with C
escapes. Comments and the original spacing are not kept (the model has none).
"""

from __future__ import annotations

import re

from drillbook.script.model import (
    BinaryOrExpr,
    CallExpr,
    CodeBlock,
    Direction,
    EchoedHeader,
    EllipsisExpr,
    Event,
    EventTime,
    Expr,
    FieldExpr,
    HeaderOption,
    IcmpSpec,
    IntExpr,
    IpInfo,
    ListExpr,
    OpaqueExpr,
    PacketSpec,
    Script,
    ShellCommand,
    StringExpr,
    StructExpr,
    SymbolExpr,
    SyscallSpec,
    TcpOption,
    TcpSpec,
    TimeKind,
    UdpSpec,
)

_BARE_OPTION_VALUE = re.compile(
    r"-?[0-9]+|[A-Za-z0-9_]+|[0-9]+(\.[0-9]+){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*"
    r'|[A-Za-z0-9_]+=([A-Za-z0-9_]+|"[^"]*"|`[^`]*`)'
)
# A backslash or quote is written as \x5c / \x22: flex's longest match would read `"\\", "`
# as one string (the escaped backslash can also pair with the closing quote).
_ESCAPES = {10: "\\n", 9: "\\t", 13: "\\r", 11: "\\v", 12: "\\f", 92: "\\x5c", 34: "\\x22"}


def format_seconds(usecs: int) -> str:
    """Microseconds as packetdrill seconds: 0 -> ``0``, 100000 -> ``0.1``, 1500 -> ``0.0015``."""
    whole, frac = divmod(usecs, 1_000_000)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:06d}".rstrip("0")


def format_time(time: EventTime) -> str:
    """An event's time as written before its action (``*``, ``0.1``, ``+0.1~+0.2``...)."""
    start = format_seconds(time.start_us)
    end = format_seconds(time.end_us or 0)
    forms = {
        TimeKind.ANY: "*",
        TimeKind.ABSOLUTE: start,
        TimeKind.RELATIVE: f"+{start}",
        TimeKind.ABSOLUTE_RANGE: f"{start}~{end}",
        TimeKind.RELATIVE_RANGE: f"+{start}~+{end}",
    }
    return forms[time.kind]


def format_c_string(value: bytes) -> str:
    """Bytes as a C string literal that packetdrill's lexer reads back to the same bytes."""
    out = []
    for byte in value:
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def _format_field(member: FieldExpr) -> str:
    value = format_expr(member.value)
    if member.name is None:
        return value
    size = f"({format_expr(member.size)})" if member.size is not None else ""
    return f"{member.name}{size}={value}"


def format_expr(expr: Expr) -> str:
    """One syscall argument or result."""
    if isinstance(expr, EllipsisExpr):
        return "..."
    if isinstance(expr, IntExpr):
        return hex(expr.value) if expr.hex and expr.value >= 0 else str(expr.value)
    if isinstance(expr, SymbolExpr):
        return expr.name
    if isinstance(expr, StringExpr):
        return format_c_string(expr.value)
    if isinstance(expr, BinaryOrExpr):
        # `a|b|c` nests to the right: walk that spine in a loop, not by recursion, so a
        # (legal) 100,000-long chain prints without hitting Python's recursion limit.
        parts = []
        node: Expr = expr
        while isinstance(node, BinaryOrExpr):
            parts.append(format_expr(node.left))
            node = node.right
        parts.append(format_expr(node))
        return "|".join(parts)
    if isinstance(expr, ListExpr):
        return "[" + ", ".join(format_expr(item) for item in expr.items) + "]"
    if isinstance(expr, StructExpr):
        return "{" + ", ".join(_format_field(member) for member in expr.fields) + "}"
    if isinstance(expr, CallExpr):
        return f"{expr.function}(" + ", ".join(format_expr(a) for a in expr.args) + ")"
    if isinstance(expr, OpaqueExpr):
        return expr.text  # kept as its (normalised) source text
    raise TypeError(f"not an expression: {expr!r}")


def format_syscall(call: SyscallSpec) -> str:
    """``name(args) = result [ERRNO (note)]``, without the event time."""
    text = f"{call.name}(" + ", ".join(format_expr(a) for a in call.args) + ")"
    text += f" = {format_expr(call.result)}"
    if call.errno is not None:
        text += f" {call.errno} ({call.note or call.errno})"
    elif call.note is not None:
        text += f" ({call.note})"
    return text


def format_tcp_option(option: TcpOption) -> str:
    """One TCP option as packetdrill writes it (``mss 1460``, ``TS val 1 ecr 0``, ``FO ab``)."""
    kind = option.kind
    if kind in ("mss", "wscale"):
        return f"{kind} {option.value}"
    if kind == "TS":
        return f"TS val {option.val} ecr {option.ecr}"
    if kind == "sack":
        return "sack " + " ".join(f"{left}:{right}" for left, right in option.blocks)
    if kind in ("FO", "FOEXP", "md5"):
        return f"{kind} {option.cookie}" if option.cookie else kind
    if kind == "ECN":
        return "ECN " + " ".join(f"{name} {value}" for name, value in option.ecn_fields)
    return kind


def _format_ip(ip: IpInfo) -> str:
    parts = []
    if ip.ecn is not None:
        parts.append(ip.ecn)
    if ip.tos is not None:
        parts.append(f"tos {ip.tos:#x}")
    if ip.flowlabel is not None:
        parts.append(f"flowlabel {ip.flowlabel:#x}")
    if ip.ttl is not None and not parts:
        parts.append(f"ttl {ip.ttl}")
    return "[" + ", ".join(parts) + "]" if parts else ""


def _format_tcp(tcp: TcpSpec) -> str:
    text = f"{tcp.flags} {tcp.start_seq}:{tcp.end_seq}({tcp.payload_len})"
    for word, value in (("ack", tcp.ack), ("win", tcp.window), ("urg", tcp.urgent)):
        if value is not None:
            text += f" {word} {value}"
    if tcp.any_options:
        text += " <...>"
    elif tcp.options is not None:
        text += " <" + ",".join(format_tcp_option(o) for o in tcp.options) + ">"
    return text


def _format_echoed(echoed: EchoedHeader) -> str:
    if echoed.protocol == "tcp":
        return f"[{echoed.start_seq}:{echoed.end_seq}({echoed.payload_len})]"
    return f"[{echoed.protocol} ({echoed.payload_len})]"


def _format_icmp(icmp: IcmpSpec) -> str:
    parts = ["icmp", icmp.type_name]
    if icmp.code_name is not None:
        parts.append(icmp.code_name)
    if icmp.mtu is not None:
        parts.append(f"mtu {icmp.mtu}")
    if icmp.echo_id is not None:
        parts.append(f"id {icmp.echo_id}")
    if icmp.echoed is not None:
        parts.append(_format_echoed(icmp.echoed))
    return " ".join(parts)


def format_packet(packet: PacketSpec) -> str:
    """A packet line without its time: ``> S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>``."""
    parts = [packet.direction.value]
    parts.extend(f"{encap.text}:" for encap in packet.encapsulations)
    ip = _format_ip(packet.ip)
    if ip:
        parts.append(ip)
    body = packet.body
    if isinstance(body, UdpSpec):
        ports = f"{packet.ports[0]} > {packet.ports[1]} " if packet.ports else ""
        parts.append(f"udp {ports}({body.payload_len})")
        return " ".join(parts)
    if isinstance(body, IcmpSpec):
        parts.append(_format_icmp(body))
        return " ".join(parts)
    if packet.psp_spi is not None:
        parts.append(f"encap psp spi {packet.psp_spi}")
    if packet.ports is not None:
        parts.append(f"{packet.ports[0]} > {packet.ports[1]}")
    parts.append(_format_tcp(body))
    return " ".join(parts)


def format_action(action: PacketSpec | SyscallSpec | ShellCommand | CodeBlock) -> str:
    """An event's action, without its time."""
    if isinstance(action, PacketSpec):
        return format_packet(action)
    if isinstance(action, SyscallSpec):
        return format_syscall(action)
    if isinstance(action, ShellCommand):
        return f"`{action.command}`"
    return f"%{{ {action.code} }}%"


def format_event(event: Event) -> str:
    """One event: its time, then its action (a blocking call's ``...end`` joins the time)."""
    time = format_time(event.time)
    action = event.action
    if isinstance(action, SyscallSpec) and action.end_us is not None:
        time += "..." + format_seconds(action.end_us)
    return f"{time} {format_action(action)}"


def format_option(option: HeaderOption) -> str:
    """A header line ``--name[=value]``; a value that is not one token is quoted."""
    if option.value is None:
        return f"--{option.name}"
    value = option.value
    if not _BARE_OPTION_VALUE.fullmatch(value):
        value = format_c_string(value.encode("utf-8"))
    return f"--{option.name}={value}"


def format_script(script: Script) -> str:
    """The whole script, one statement per line, ending with a newline."""
    lines = [format_option(option) for option in script.options]
    if script.init_command is not None:
        lines.append(f"`{script.init_command.command}`")
    lines.extend(format_event(event) for event in script.events)
    if script.cleanup_command is not None:
        lines.append(f"`{script.cleanup_command.command}`")
    return "\n".join(lines) + "\n"


def direction_word(direction: Direction) -> str:
    """``inbound`` or ``outbound``, for messages."""
    return "inbound" if direction is Direction.INBOUND else "outbound"


__all__ = [
    "direction_word",
    "format_action",
    "format_c_string",
    "format_event",
    "format_expr",
    "format_option",
    "format_packet",
    "format_script",
    "format_seconds",
    "format_syscall",
    "format_tcp_option",
    "format_time",
]
