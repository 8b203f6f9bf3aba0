"""Hints for common syntax mistakes, guessed from the tokens around a parse error.

packetdrill only says ``parse error at 'x': syntax error``; drillbook keeps that message (so
people who know packetdrill recognise it) and adds a ``hint:`` line a beginner can act on.
"""

from __future__ import annotations

from drillbook.parser.lexer import KEYWORDS, PUNCTUATION, Lexeme

_OPTION_WORDS = {
    "NOP", "EOL", "MSS", "WSCALE", "SACKOK", "SACK", "MD5", "TIMESTAMP", "FAST_OPEN",
    "FAST_OPEN_EXP", "ACCECN", "ELLIPSIS",
}
_CLOSERS = {"LPAR": ")", "LSQB": "]", "LBRACE": "}", "LT": ">"}
_CLOSER_TYPES = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE", "LT": "GT"}
_PUNCTUATION_TEXT = {name: text for text, name in PUNCTUATION.items()}
_KEYWORD_TEXT = {name: text for text, name in reversed(list(KEYWORDS.items()))}
_CLASS_TEXT = {
    "INTEGER": "a number", "HEX_INTEGER": "a hex number", "FLOAT": "a time", "WORD": "a name",
    "STRING": "a string", "BACK_QUOTED": "a `command`", "CODE": "a %{ code }% block",
    "OPTION": "a --option", "ELLIPSIS": "'...'", "IPV4_ADDR": "an IPv4 address",
    "IPV6_ADDR": "an IPv6 address", "$END": "the end of the script",
}
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


def _errno_without_note(lexemes: list[Lexeme], index: int, expected: set[str]) -> bool:
    """``= RESULT ERRNO`` then something other than ``(``: the note is missing."""
    return (
        expected == {"LPAR"} and index >= 3 and lexemes[index - 1].type == "WORD"
        and lexemes[index - 3].type == "EQUAL"
    )


def syntax_hint(lexemes: list[Lexeme], index: int, bad: Lexeme, expected: set[str]) -> str | None:
    """A hint for the parse error at token ``index`` (``bad``), or None."""
    if bad.type == "OTHER":
        return _bad_char_hint(bad.text)
    previous = lexemes[index - 1] if index > 0 else None
    if _errno_without_note(lexemes, index, expected):
        errno = lexemes[index - 1].value
        return f"an errno must be followed by its note in parentheses, e.g. '{errno} (reason)'"
    flags_word = previous is not None and previous.type == "WORD" and _looks_like_flags(
        str(previous.value)) and _after_time(lexemes, index - 1)
    if flags_word or (bad.type in ("DOT", "MINUS") and _after_time(lexemes, index)):
        return "a packet needs a direction before its flags: '<' (inbound) or '>' (outbound)"
    types = [lexeme.type for lexeme in lexemes[max(0, index - 3) : index]]
    if types[-3:] == ["INTEGER", "COLON", "INTEGER"] and "LPAR" in expected:
        return "a sequence range is start:end(length), e.g. 1:1001(1000)"
    if types[-2:] in (["LT", "INTEGER"], ["GT", "INTEGER"]) and bad.type == "COLON":
        return "the TCP flags are missing: e.g. '< . 1:1(0) ack 1 win 257' ('.' is ACK)"
    opener = _unclosed(lexemes, index)
    if opener is not None and (bad.type == "$END" or _CLOSER_TYPES[opener.type] in expected):
        closer = _CLOSERS[opener.type]
        return (
            f"'{opener.text}' opened at line {opener.line} column {opener.column} is not "
            f"closed with '{closer}'"
        )
    if bad.type == "$END":
        if index == 0:
            return "the script is empty: it needs at least one timed event, e.g. '0 `true`'"
        return "the script ends in the middle of a statement"
    if expected and len(expected) <= 6:
        return "expected " + " or ".join(sorted(_display(name) for name in expected))
    return None


def _display(terminal: str) -> str:
    """How a terminal looks in a script: ``(`` for LPAR, ``ack`` for ACK, ``a number``..."""
    if terminal in _PUNCTUATION_TEXT:
        return f"'{_PUNCTUATION_TEXT[terminal]}'"
    if terminal in _KEYWORD_TEXT:
        return f"'{_KEYWORD_TEXT[terminal]}'"
    return _CLASS_TEXT.get(terminal, terminal.lower())


def _bad_char_hint(char: str) -> str:
    if char == "\r":
        return "the script has Windows (CRLF) line endings: packetdrill reads only '\\n'"
    if char == "#":
        return "packetdrill has no '#' comments: use // or /* */"
    if char == "%":
        return "a '%{' code block must be closed with '}%'"
    if char == "`":
        return "a backquoted command must be closed with a second '`'"
    if char == '"':
        return "a string must be closed with a second '\"'"
    if char == "/":
        return (
            "comments are // to the end of the line, or /* ... */ (a // comment on the last "
            "line needs a newline after it)"
        )
    return f"'{char}' is not part of packetdrill's language here"
