"""Drive lark's LALR tables with drillbook's own tokens and per-parse grammar actions.

The grammar (packetdrill.lark) is analysed once per process; each parse then runs lark's LALR
state machine with a fresh :class:`~drillbook.parser.actions.Actions` object, fed token by
token from :mod:`drillbook.parser.lexer`. Running the actions during the parse (not on a tree
afterwards) keeps packetdrill's error order: a semantic error on line 5 is reported before a
syntax error on line 20, as bison does. lark types never leave this package.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lark
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_analysis import Shift

try:  # lark >= 1.2 keeps the LALR state machine in its own module
    from lark.parsers.lalr_parser_state import ParseConf, ParserState
except ImportError:  # pragma: no cover - lark 1.1
    from lark.parsers.lalr_parser import ParseConf, ParserState  # type: ignore[no-redef,attr-defined,unused-ignore]

from drillbook.errors import ScriptSyntaxError
from drillbook.parser.actions import Actions
from drillbook.parser.context import ParseContext, lexeme_span
from drillbook.parser.hints import syntax_hint
from drillbook.parser.lexer import Lexeme, Tokenizer
from drillbook.script.model import Script
from drillbook.source import Source, Span

GRAMMAR_PATH = Path(__file__).with_name("packetdrill.lark")
MAX_NESTING = 256  # deeper brackets are refused (no real script comes near)
MAX_OR_CHAIN = 1000  # longer `a|b|...` chains are refused (the corpus has at most 3)
_OPENERS = frozenset({"LPAR", "LSQB", "LBRACE"})
_CLOSERS = frozenset({"RPAR", "RSQB", "RBRACE"})


class _NoLexer(lark.lexer.Lexer):
    """Placeholder: tokens come from drillbook's lexer, never from lark's."""

    def __init__(self, conf: Any) -> None:
        pass

    def lex(self, state: Any, parser_state: Any) -> Any:  # pragma: no cover - never called
        return iter(())


@dataclass(frozen=True)
class _Grammar:
    parser: Any  # lark.Lark; kept for its parse table and tree builder


@functools.cache
def _grammar() -> _Grammar:
    """The analysed grammar (about 0.1 s), built once per process and never changed."""
    text = GRAMMAR_PATH.read_text(encoding="utf-8")
    return _Grammar(lark.Lark(text, parser="lalr", lexer=_NoLexer, start="start"))


def _end_lexeme(text: str) -> Lexeme:
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return Lexeme("$END", "", "", len(text), len(text), line, column, line, column)


def _tokens(source: Source, defines: dict[str, str]) -> Iterator[Lexeme]:
    """Lexemes lazily (a parse error stops the lexer), then $END; nesting is bounded."""
    depth = 0
    chain = 0  # operators in the current expression (evaluated recursively downstream)
    for lexeme in Tokenizer(source.text, defines):
        if lexeme.type in ("PIPE", "EQUAL"):  # `a|b|c`, `A=B=C`: right-nested operators
            chain += 1
            if chain > MAX_OR_CHAIN:
                raise ScriptSyntaxError(
                    f"parse error at '{lexeme.text}': expression too long (more than "
                    f"{MAX_OR_CHAIN} operators)", lexeme_span(lexeme), source,
                )
        elif lexeme.type not in ("WORD", "INTEGER", "HEX_INTEGER"):
            chain = 0
        if lexeme.type in _OPENERS:
            depth += 1
            if depth > MAX_NESTING:
                raise ScriptSyntaxError(
                    f"parse error at '{lexeme.text}': brackets nested too deeply "
                    f"(more than {MAX_NESTING})", lexeme_span(lexeme), source,
                )
        elif lexeme.type in _CLOSERS:
            depth = max(0, depth - 1)
        yield lexeme
    yield _end_lexeme(source.text)


def run_parser(
    source: Source, wire_ipv6: bool, defines: dict[str, str], psp_udp_port: int = 0
) -> Script:
    """Parse ``source`` into a Script, raising ScriptSyntaxError/ScriptSemanticError."""
    grammar = _grammar()
    ctx = ParseContext(source, wire_ipv6, psp_udp_port)
    callbacks = grammar.parser._parse_tree_builder.create_callback(Actions(ctx))
    table = grammar.parser.parser.parser.parser.parse_table
    state = ParserState(ParseConf(table, callbacks, "start"), None)  # type: ignore[arg-type]
    seen: list[Lexeme] = []  # for hints, which look back from the error
    result: Any = None
    for lexeme in _tokens(source, defines):
        while True:
            try:
                result = state.feed_token(lexeme, lexeme.type == "$END")  # type: ignore[arg-type]
                break
            except UnexpectedToken as exc:
                if not _default_reduce(state):
                    error = _syntax_error(source, seen, len(seen), lexeme, set(exc.expected))
                    raise error from None
        seen.append(lexeme)
    if not isinstance(result, Script):  # pragma: no cover - the grammar's start is a Script
        raise ScriptSyntaxError("parse error: empty script", Span.point(1, 1), source)
    return result


def _default_reduce(state: ParserState[Any]) -> bool:
    """Make bison's default reduction in the current state, if it has one.

    bison does not check an unexpected token in a state that can reduce: it reduces by the
    state's most common rule and finds the error later, after running that rule's action. So
    in ``< . 1:1(0) ack 1 abc`` packetdrill reports the packet's missing window (a semantic
    error in the packet's action), not ``abc``. lark checks the token first; this puts the
    reductions back so both report the same first error.
    """
    states = state.parse_conf.states
    actions = states[state.state_stack[-1]]
    counts = Counter(arg for action, arg in actions.values() if action is not Shift)
    if not counts:
        return False
    rule = counts.most_common(1)[0][0]
    size = len(rule.expansion)
    values = state.value_stack[-size:] if size else []
    if size:
        del state.state_stack[-size:]
        del state.value_stack[-size:]
    value = state.parse_conf.callbacks[rule](values)
    _, new_state = states[state.state_stack[-1]][rule.origin.name]
    state.state_stack.append(new_state)
    state.value_stack.append(value)
    return True


def _syntax_error(
    source: Source, lexemes: list[Lexeme], index: int, lexeme: Lexeme, expected: set[str]
) -> ScriptSyntaxError:
    if lexeme.type == "$END":
        what = "parse error at '': syntax error"  # packetdrill's words at end of input
    else:
        text = lexeme.text if len(lexeme.text) <= 200 else lexeme.text[:200] + "..."
        # Control characters (a CR, a NUL) are shown escaped, not sent to the terminal.
        text = "".join(
            c if c >= " " or c in "\n\t" else c.encode("unicode_escape").decode() for c in text
        )
        what = f"parse error at '{text}': syntax error"
    hint = syntax_hint(lexemes, index, lexeme, expected)
    span = lexeme_span(lexeme)
    if span.end_line != span.line:
        # flex's yylineno is the line where the token ends: point at that line.
        line_start = source.text.rfind("\n", 0, lexeme.end) + 1
        span = Span(span.end_line, 1, span.end_line, span.end_column, line_start, lexeme.end)
    return ScriptSyntaxError(what, span, source, hint)
