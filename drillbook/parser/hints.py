"""Hints for common syntax mistakes, guessed from the tokens around a parse error.

packetdrill only says ``parse error at 'x': syntax error``; drillbook keeps that message (so
people who know packetdrill recognise it) and adds a ``hint:`` line a beginner can act on.
"""

from __future__ import annotations

from drillbook.parser.lexer import Lexeme

_OPTION_WORDS = {
    "NOP", "EOL", "MSS", "WSCALE", "SACKOK", "SACK", "MD5", "TIMESTAMP", "FAST_OPEN",
    "FAST_OPEN_EXP", "ACCECN", "ELLIPSIS",
}
_CLOSERS = {"LPAR": ")", "LSQB": "]", "LBRACE": "}", "LT": ">"}
_TIME_TYPES = {"INTEGER", "FLOAT", "STAR"}
_FLAG_CHARS = set(".FSRPEWAU01234567-")


def _unclosed(lexemes: list[Lexeme], index: int) -> Lexeme | None:
    """The innermost bracket still open before token ``index`` (``<`` of an option list too)."""
    stack: list[Lexeme] = []
    pairs = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE", "GT": "LT"}
    for position, lexeme in enumerate(lexemes[:index]):
        if lexeme.type in ("LPAR", "LSQB", "LBRACE"):
            stack.append(lexeme)
        elif lexeme.type == "LT":
            following = lexemes[position + 1] if position + 1 < len(lexemes) else None
            if following is not None and following.type in _OPTION_WORDS:
                stack.append(lexeme)
        elif lexeme.type in pairs and stack and stack[-1].type == pairs[lexeme.type]:
            stack.pop()
    return stack[-1] if stack else None


def _after_time(lexemes: list[Lexeme], index: int) -> bool:
    return index > 0 and lexemes[index - 1].type in _TIME_TYPES


def _looks_like_flags(text: str) -> bool:
    return bool(text) and set(text) <= _FLAG_CHARS


def syntax_hint(lexemes: list[Lexeme], index: int, bad: Lexeme, expected: set[str]) -> str | None:
    """A hint for the parse error at token ``index`` (``bad``), or None."""
    if bad.type == "OTHER":
        return _bad_char_hint(bad.text)
    previous = lexemes[index - 1] if index > 0 else None
    if previous is not None and previous.type == "WORD" and expected == {"LPAR"}:
        before = lexemes[index - 2] if index > 1 else None
        if before is not None and before.type not in _TIME_TYPES | {"ELLIPSIS", "PLUS"}:
            return (
                f"an errno must be followed by its note in parentheses, e.g. "
                f"'= -1 {previous.value} (reason)'"
            )
        if _looks_like_flags(str(previous.value)):
            return "a packet needs a direction before its flags: '<' (inbound) or '>' (outbound)"
    if bad.type == "DOT" and _after_time(lexemes, index):
        return "a packet needs a direction before its flags: '<' (inbound) or '>' (outbound)"
    opener = _unclosed(lexemes, index)
    if opener is not None and (bad.type == "$END" or bad.line != opener.line):
        closer = _CLOSERS[opener.type]
        return f"'{opener.text}' opened at line {opener.line} column {opener.column} is not " \
            f"closed with '{closer}'"
    if expected and len(expected) <= 4:
        names = ", ".join(sorted(expected))
        return f"expected one of: {names}"
    return None


def _bad_char_hint(char: str) -> str:
    if char == "#":
        return "packetdrill has no '#' comments: use // or /* */"
    if char == "%":
        return "a '%{' code block must be closed with '}%'"
    if char == "`":
        return "a backquoted command must be closed with a second '`'"
    if char == '"':
        return "a string must be closed with a second '\"'"
    if char == "/":
        return "comments are // to the end of the line, or /* ... */"
    return f"'{char}' is not part of packetdrill's language here"
