"""What the grammar actions share while one script is parsed: the source, the IP family, the
statement line packetdrill reports semantic errors at, and helpers for spans and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from drillbook.errors import ScriptSemanticError
from drillbook.parser.lexer import Lexeme
from drillbook.source import NO_SPAN, Source, Span


def lexeme_span(lexeme: Lexeme) -> Span:
    return Span(
        lexeme.line, lexeme.column, lexeme.end_line, lexeme.end_column, lexeme.offset,
        lexeme.end,
    )


def _first_span(item: Any) -> Span | None:
    if isinstance(item, Lexeme):
        return lexeme_span(item)
    if isinstance(item, Span):  # a (value, span) pair, e.g. a TCP option list
        return item if item != NO_SPAN else None
    span = getattr(item, "span", None)
    if isinstance(span, Span) and span != NO_SPAN:
        return span
    if isinstance(item, (list, tuple)):
        for sub in item:
            found = _first_span(sub)
            if found is not None:
                return found
    return None


def _last_span(item: Any) -> Span | None:
    if isinstance(item, (list, tuple)) and not hasattr(item, "span"):
        for sub in reversed(item):
            found = _last_span(sub)
            if found is not None:
                return found
        return None
    return _first_span(item)


def join_spans(first: Span, last: Span) -> Span:
    return Span(
        first.line, first.column, last.end_line, last.end_column, first.offset, last.end_offset
    )


def span_of(*items: Any) -> Span:
    """The span from the first positioned item to the last one (NO_SPAN if none has one)."""
    first = _first_span(list(items))
    last = _last_span(list(items))
    if first is None or last is None:
        return NO_SPAN
    return join_spans(first, last)


def is_uint(value: int, bits: int) -> bool:
    return 0 <= value < (1 << bits)


@dataclass
class ParseContext:
    """Per-parse state of the grammar actions (never shared between parses)."""

    source: Source
    wire_ipv6: bool
    psp_udp_port: int = 0
    # packetdrill's current_script_line: set when a statement's first part is reduced.
    statement_line: int = 0
    statement_span: Span = field(default=NO_SPAN)

    def mark_statement(self, start: Span) -> None:
        """Remember the line packetdrill blames for this statement's semantic errors.

        bison reduces ``direction: '<'`` (and a syscall name, a command, a code block) by
        default reduction, before reading the next token, so packetdrill's yylineno is then
        the line where that token ends.
        """
        self.statement_line = start.end_line
        self.statement_span = start

    def fail(self, message: str, span: Span = NO_SPAN, hint: str | None = None) -> NoReturn:
        """Raise packetdrill's ``semantic error`` at the statement's line, caret on ``span``."""
        if span == NO_SPAN or (self.statement_line and span.line != self.statement_line):
            span = self.statement_span if self.statement_line else span
        raise ScriptSemanticError(f"semantic error: {message}", span, self.source, hint)

    def fail_at(self, message: str, span: Span, hint: str | None = None) -> NoReturn:
        """Raise a semantic error exactly at ``span`` (packetdrill moves yylineno there)."""
        raise ScriptSemanticError(f"semantic error: {message}", span, self.source, hint)
