"""Grammar actions: turn each reduced rule into the script model (drillbook/script/model.py).

The LALR parser calls ``Actions.<rule>(children)`` on every reduction, bottom-up and left to
right, exactly when bison would run packetdrill's action, so semantic errors come out in
packetdrill's order and at its line. Children are :class:`~drillbook.parser.lexer.Lexeme`
objects for tokens and model values (or small private records) for rules.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from drillbook.parser.context import ParseContext, lexeme_span, span_of
from drillbook.parser.escapes import decode_c_string
from drillbook.parser.lexer import Lexeme
from drillbook.parser.packet_actions import PacketActions
from drillbook.script.model import (
    BinaryOrExpr,
    CallExpr,
    CodeBlock,
    Direction,
    EllipsisExpr,
    Event,
    EventTime,
    Expr,
    FieldExpr,
    HeaderOption,
    IntExpr,
    ListExpr,
    OpaqueExpr,
    PacketSpec,
    Script,
    ShellCommand,
    StringExpr,
    StructExpr,
    SymbolExpr,
    SyscallSpec,
    TimeKind,
)
from drillbook.source import Span


@dataclass(frozen=True)
class Assignment:
    """``NAME=value`` before we know where it is: a field inside ``{}``, opaque elsewhere."""

    name: str
    value: Expr
    text: str
    span: Span


@dataclass(frozen=True)
class Note:
    """``ERRNO (words)`` or ``(words)`` after a syscall's result."""

    errno: str | None
    words: str
    span: Span


@dataclass(frozen=True)
class Time:
    usecs: int
    span: Span


@dataclass(frozen=True)
class Tagged:
    tag: str
    value: Any


class Actions(PacketActions):
    """All grammar actions for one parse; ``ctx`` carries that parse's state."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx

    def _finish(self, item: Any) -> Expr:
        """An expression outside ``{}``: a ``NAME=value`` there is kept as text."""
        if isinstance(item, Assignment):
            return OpaqueExpr("assignment", item.text, item.span)
        expr: Expr = item
        return expr

    # ------------------------------------------------------------ script shape
    def start(self, c: list[Any]) -> Script:
        options: tuple[HeaderOption, ...] = c[0]
        init = next((t.value for t in c if isinstance(t, Tagged) and t.tag == "init"), None)
        cleanup = next((t.value for t in c if isinstance(t, Tagged) and t.tag == "cleanup"), None)
        events = next(item for item in c if isinstance(item, tuple) and item is not options)
        return Script(options, init, events, cleanup, self.ctx.source)

    def options(self, c: list[Any]) -> tuple[HeaderOption, ...]:
        return tuple(c)

    def option(self, c: list[Any]) -> HeaderOption:
        value = c[2][0] if len(c) == 3 else None
        return HeaderOption(str(c[0].value), value, span_of(*c))

    def option_value(self, c: list[Any]) -> tuple[str, Span]:
        span = span_of(*c)
        if len(c) == 3:
            rhs: Lexeme = c[2]
            quote = {"STRING": '"', "BACK_QUOTED": "`"}.get(rhs.type, "")
            return f"{c[0].value}={quote}{rhs.value}{quote}", span
        token: Lexeme = c[0]
        if token.type == "INTEGER":
            return token.text, span  # packetdrill copies yytext
        return str(token.value), span

    def init_command(self, c: list[Any]) -> Tagged:
        return Tagged("init", ShellCommand(str(c[0].value), lexeme_span(c[0])))

    def cleanup_command(self, c: list[Any]) -> Tagged:
        return Tagged("cleanup", ShellCommand(str(c[0].value), lexeme_span(c[0])))

    def events(self, c: list[Any]) -> tuple[Event, ...]:
        return tuple(c)

    def event(self, c: list[Any]) -> Event:
        time: EventTime = c[0]
        action = c[1]
        if time.end_us is not None and time.end_us < time.start_us:
            self.ctx.fail("time range is backwards", time.span)
        outbound = isinstance(action, PacketSpec) and action.direction is Direction.OUTBOUND
        if time.kind is TimeKind.ANY and not outbound:
            self.ctx.fail_at(
                "event time <star> can only be used with outbound packets", time.span,
                hint="`*` means 'any time' and only makes sense for a packet the kernel sends",
            )
        if time.is_range and not outbound:
            self.ctx.fail_at(
                "event time range can only be used with outbound packets", time.span,
                hint="a time range only makes sense for a packet the kernel sends",
            )
        return Event(time, action, span_of(time, action))

    # ------------------------------------------------------------ times
    def time(self, c: list[Any]) -> Time:
        token: Lexeme = c[0]
        span = lexeme_span(token)
        seconds = Decimal(str(token.value))
        if seconds < 0:
            # packetdrill blames the line of the statement it parsed last (current_script_line).
            self.ctx.fail("negative time", span)
        # Exact decimal seconds to whole microseconds (packetdrill truncates a double).
        return Time(int(seconds * 1_000_000), span)

    def relative_time(self, c: list[Any]) -> EventTime:
        return EventTime(TimeKind.RELATIVE, c[1].usecs, None, span_of(*c))

    def absolute_time(self, c: list[Any]) -> EventTime:
        return EventTime(TimeKind.ABSOLUTE, c[0].usecs, None, span_of(*c))

    def any_time(self, c: list[Any]) -> EventTime:
        return EventTime(TimeKind.ANY, 0, None, span_of(*c))

    def absolute_range(self, c: list[Any]) -> EventTime:
        return EventTime(TimeKind.ABSOLUTE_RANGE, c[0].usecs, c[2].usecs, span_of(*c))

    def relative_range(self, c: list[Any]) -> EventTime:
        return EventTime(TimeKind.RELATIVE_RANGE, c[1].usecs, c[4].usecs, span_of(*c))

    def command_spec(self, c: list[Any]) -> ShellCommand:
        span = lexeme_span(c[0])
        self.ctx.mark_statement(span)
        return ShellCommand(str(c[0].value), span)

    def code_spec(self, c: list[Any]) -> CodeBlock:
        span = lexeme_span(c[0])
        self.ctx.mark_statement(span)
        return CodeBlock(str(c[0].value), span)

    # ------------------------------------------------------------ system calls
    def syscall_spec(self, c: list[Any]) -> SyscallSpec:
        end_time: Time | None = c[0]
        name: Lexeme = c[1]
        errno_part: Note | None = c[5]
        note_part: Note | None = c[6]
        errno = errno_part.errno if errno_part else None
        note = errno_part.words if errno_part else (note_part.words if note_part else None)
        return SyscallSpec(
            str(name.value), c[2], self._finish(c[4]), errno, note,
            end_time.usecs if end_time else None, span_of(*c),
        )

    def opt_end_time(self, c: list[Any]) -> Time | None:
        if not c:
            return None
        time: Time = c[1]
        return time

    def function_name(self, c: list[Any]) -> Lexeme:
        self.ctx.mark_statement(lexeme_span(c[0]))
        name: Lexeme = c[0]
        return name

    def function_arguments(self, c: list[Any]) -> tuple[Expr, ...]:
        return tuple(self._finish(item) for item in c[1]) if len(c) == 3 else ()

    def expression_list(self, c: list[Any]) -> list[Any]:
        return [item for item in c if not isinstance(item, Lexeme) or item.type != "COMMA"]

    def opt_errno(self, c: list[Any]) -> Note | None:
        if not c:
            return None
        note: Note = c[1]
        return Note(str(c[0].value), note.words, span_of(*c))

    def opt_note(self, c: list[Any]) -> Note | None:
        note: Note | None = c[0] if c else None
        return note

    def note(self, c: list[Any]) -> Note:
        return Note(None, c[1], span_of(*c))

    def word_list(self, c: list[Any]) -> str:
        return " ".join("flags" if t.type == "FLAGS" else str(t.value) for t in c)

    # ------------------------------------------------------------ expressions
    def ellipsis(self, c: list[Any]) -> EllipsisExpr:
        return EllipsisExpr(lexeme_span(c[0]))

    def decimal_integer(self, c: list[Any]) -> IntExpr:
        return IntExpr(int(c[0].value), False, lexeme_span(c[0]))

    def hex_integer(self, c: list[Any]) -> IntExpr:
        return IntExpr(int(c[0].value), True, lexeme_span(c[0]))

    def symbol(self, c: list[Any]) -> SymbolExpr:
        return SymbolExpr(str(c[0].value), lexeme_span(c[0]))

    def string_sequence(self, c: list[Any]) -> StringExpr:
        value = b"".join(decode_c_string(str(t.value)) for t in c)
        return StringExpr(value, span_of(*c))

    def _opaque(self, kind: str, c: list[Any]) -> OpaqueExpr:
        span = span_of(*c)
        return OpaqueExpr(kind, self._source_text(span), span)

    def string_ellipsis(self, c: list[Any]) -> OpaqueExpr:
        return self._opaque("string_ellipsis", c)

    def binary_or(self, c: list[Any]) -> BinaryOrExpr:
        return BinaryOrExpr(self._finish(c[0]), self._finish(c[2]), span_of(*c))

    def assignment(self, c: list[Any]) -> Assignment:
        span = span_of(*c)
        return Assignment(str(c[0].value), self._finish(c[2]), self._source_text(span), span)

    def array(self, c: list[Any]) -> ListExpr:
        items = tuple(self._finish(item) for item in c[1]) if len(c) == 3 else ()
        return ListExpr(items, span_of(*c))

    def _string_arg(self, c: list[Any]) -> StringExpr:
        return StringExpr(decode_c_string(str(c[2].value)), lexeme_span(c[2]))

    def inaddr(self, c: list[Any]) -> CallExpr:
        return CallExpr("inet_addr", (self._string_arg(c),), span_of(*c))

    def in6addr(self, c: list[Any]) -> CallExpr:
        try:
            ipaddress.IPv6Address(str(c[2].value))
        except ValueError:
            self.ctx.fail("cannot parse in6_addr", lexeme_span(c[2]))
        return CallExpr("inet6_addr", (self._string_arg(c),), span_of(*c))

    def _field(self, name: Lexeme | None, value: Any, size: Expr | None = None) -> FieldExpr:
        expr = self._finish(value)
        parts = [part for part in (name, value) if part is not None]
        return FieldExpr(str(name.value) if name else None, expr, size, span_of(*parts))

    def _struct(self, c: list[Any], fields: list[FieldExpr]) -> StructExpr:
        return StructExpr(tuple(fields), span_of(*c))

    def sockaddr(self, c: list[Any]) -> StructExpr:
        family, port, address = str(c[3].value), c[9], c[16]
        if family in ("AF_INET", "AF_INET6"):
            version = 4 if family == "AF_INET" else 6
            try:
                valid = ipaddress.ip_address(str(address.value)).version == version
            except ValueError:
                valid = False
            if not valid:
                self.ctx.fail(f"invalid IPv{version} address", lexeme_span(address))
        port_expr = CallExpr(
            "htons", (IntExpr(int(port.value), False, lexeme_span(port)),), span_of(*c[7:11])
        )
        addr_expr = CallExpr(
            "inet_addr", (StringExpr(decode_c_string(str(address.value)), lexeme_span(address)),),
            span_of(*c[14:18]),
        )
        return self._struct(c, [
            self._field(c[1], SymbolExpr(family, lexeme_span(c[3]))),
            self._field(c[5], port_expr),
            self._field(c[12], addr_expr),
        ])

    def msghdr(self, c: list[Any]) -> StructExpr:
        iov_len = IntExpr(int(c[10].value), False, lexeme_span(c[10]))
        fields = [
            self._field(c[1], EllipsisExpr(lexeme_span(c[6])), EllipsisExpr(lexeme_span(c[3]))),
            self._field(c[8], c[13], iov_len),
            self._field(c[15], c[17]),
        ]
        if c[18] is not None:
            fields.append(c[18])
        return self._struct(c, fields)

    def opt_cmsg(self, c: list[Any]) -> FieldExpr | None:
        return self._field(c[1], c[3]) if c else None

    def _keyword_struct(self, c: list[Any]) -> StructExpr:
        """``{kw=expr, kw=expr, ...}``: every keyword token is followed by ``=`` and a value."""
        fields = []
        for index, item in enumerate(c):
            if isinstance(item, Lexeme) and index + 2 < len(c) and (
                isinstance(c[index + 1], Lexeme) and c[index + 1].type == "EQUAL"
            ) and item.type not in ("EQUAL", "COMMA", "LBRACE"):
                value = c[index + 2]
                if isinstance(value, Lexeme):  # INTEGER-only fields (linger, scm_timestamping)
                    value = IntExpr(int(value.value), False, lexeme_span(value))
                fields.append(self._field(item, value))
        return self._struct(c, fields)

    cmsg_expr = _keyword_struct
    scm_timestamping_expr = _keyword_struct
    sock_extended_err_expr = _keyword_struct
    linger = _keyword_struct

    def pollfd(self, c: list[Any]) -> StructExpr:
        struct = self._keyword_struct(c[:-2])
        revents: FieldExpr | None = c[-2]
        fields = (*struct.fields, revents) if revents is not None else struct.fields
        return StructExpr(fields, span_of(*c))

    def opt_revents(self, c: list[Any]) -> FieldExpr | None:
        return self._field(c[1], c[3]) if c else None

    def epollev(self, c: list[Any]) -> StructExpr:
        return self._struct(c, [self._field(c[1], c[3]), self._field(c[5], c[7])])

    def epoll_data_name(self, c: list[Any]) -> Lexeme:
        name: Lexeme = c[0]
        return name

    def iovec(self, c: list[Any]) -> StructExpr:
        length = IntExpr(int(c[3].value), False, lexeme_span(c[3]))
        return self._struct(c, [
            FieldExpr(None, EllipsisExpr(lexeme_span(c[1])), None, lexeme_span(c[1])),
            FieldExpr(None, length, None, length.span),
        ])

    def sub_expr_list(self, c: list[Any]) -> StructExpr:
        fields = []
        for item in c[1]:
            if isinstance(item, Assignment):
                fields.append(FieldExpr(item.name, item.value, None, item.span))
            else:
                fields.append(FieldExpr(None, item, None, item.span))
        return self._struct(c, fields)

    def mpls_stack_expression(self, c: list[Any]) -> OpaqueExpr:
        return self._opaque("mpls", c)

    def gre_expression(self, c: list[Any]) -> OpaqueExpr:
        return self._opaque("gre", c)

    # Rules only kept as text (GRE/MPLS details): return the children for span computing.
    def _children(self, c: list[Any]) -> list[Any]:
        return c

    gre_header_expression = _children
    gre_flags_list = _children
    gre_flags = _children
    gre_flag = _children
    gre_sum = _children
    gre_off = _children
    gre_key = _children
    gre_seq = _children
    opt_comma = _children
    opt_equals = _children
    mpls_stack = _children
