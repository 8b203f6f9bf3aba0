"""Checks a dry run makes on a parsed script, beyond packetdrill's parse-time ones.

packetdrill resolves symbols (``SOL_SOCKET``, errno names) only when a syscall runs and fails
there with ``unknown symbol: 'X'``. A dry run reports them all up front instead, so a typo is
found before a namespace is ever set up; a real run leaves them to the runtime, which fails at
the same line as packetdrill.
"""

from __future__ import annotations

from collections.abc import Iterator

from drillbook.errors import ScriptSemanticError
from drillbook.script.model import (
    BinaryOrExpr,
    CallExpr,
    Expr,
    ListExpr,
    Script,
    StructExpr,
    SymbolExpr,
    SyscallSpec,
)
from drillbook.script.symbols import lookup
from drillbook.source import Span


def iter_symbols(expr: Expr) -> Iterator[SymbolExpr]:
    """Every symbol in ``expr`` (iteratively: nesting depth is not bounded by recursion)."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, SymbolExpr):
            yield node
        elif isinstance(node, BinaryOrExpr):
            stack.extend((node.right, node.left))
        elif isinstance(node, (ListExpr, CallExpr)):
            stack.extend(reversed(node.items if isinstance(node, ListExpr) else node.args))
        elif isinstance(node, StructExpr):
            for member in reversed(node.fields):
                stack.append(member.value)
                if member.size is not None:
                    stack.append(member.size)


def _syscall_errors(call: SyscallSpec, script: Script) -> Iterator[ScriptSemanticError]:
    for expr in (*call.args, call.result):
        for symbol in iter_symbols(expr):
            if lookup(symbol.name) is None:
                yield ScriptSemanticError(
                    f"unknown symbol: '{symbol.name}'", symbol.span, script.source,
                    "not a constant packetdrill knows (check the spelling, or define it "
                    "with -D NAME=VALUE)",
                )
    if call.errno is not None and lookup(call.errno) is None:
        yield ScriptSemanticError(
            f"unknown symbol: '{call.errno}'", _word_span(script, call.span, call.errno),
            script.source, "errno names are the E... macros, e.g. EAGAIN",
        )


def _word_span(script: Script, within: Span, word: str) -> Span:
    """Where ``word`` is written inside ``within`` (the model keeps no span for an errno)."""
    text = script.source.text
    at = text.rfind(word, within.offset, within.end_offset)
    if at < 0 or within.line <= 0:
        return within
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return Span(line, column, line, column + len(word), at, at + len(word))


def symbol_errors(script: Script) -> list[ScriptSemanticError]:
    """Every unknown symbol or errno name of the script's syscalls, in script order."""
    errors: list[ScriptSemanticError] = []
    for event in script.events:
        if isinstance(event.action, SyscallSpec):
            errors.extend(_syscall_errors(event.action, script))
    return errors


def check_script(script: Script) -> None:
    """Raise the first error :func:`symbol_errors` finds (a dry run's extra checks)."""
    errors = symbol_errors(script)
    if errors:
        raise errors[0]


__all__ = ["check_script", "iter_symbols", "symbol_errors"]
