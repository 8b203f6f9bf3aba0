"""A tokenizer that reads a script exactly as packetdrill's flex lexer (``lexer.l``) does.

flex picks, at every position, the *longest* match among all rules, and on a tie the rule that
comes first in the file. That is what makes ``S.`` a WORD and a ``.``, ``.5`` a FLOAT,
``1.2.3.4`` an address rather than a FLOAT, ``0x1f`` a HEX_INTEGER but ``0x1fg`` a WORD and
``ack`` a keyword but ``acks`` a WORD. Python's ``re`` alternation is first-match, so each rule
is tried on its own and the longest wins.

``-D`` defines are substituted here, as packetdrill's ``word()`` does: a WORD (never a keyword)
equal to a defined name becomes the value: ``"x"`` a STRING, a backquoted value a BACK_QUOTED,
a value ``strtol(value, 0)`` reads entirely an INTEGER, anything else a WORD.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Reserved words (lexer.l) and the token each one becomes.
KEYWORDS: Mapping[str, str] = {
    "sa_family": "SA_FAMILY", "sin_port": "SIN_PORT", "sin_addr": "SIN_ADDR",
    "msg_name": "MSG_NAME", "msg_iov": "MSG_IOV", "msg_flags": "MSG_FLAGS",
    "msg_control": "MSG_CONTROL", "cmsg_data": "CMSG_DATA", "cmsg_level": "CMSG_LEVEL",
    "cmsg_type": "CMSG_TYPE", "ee_errno": "EE_ERRNO", "ee_origin": "EE_ORIGIN",
    "ee_type": "EE_TYPE", "ee_code": "EE_CODE", "ee_info": "EE_INFO", "ee_data": "EE_DATA",
    "scm_sec": "SCM_SEC", "scm_nsec": "SCM_NSEC", "fd": "FD", "u32": "U32", "u64": "U64",
    "ptr": "PTR", "events": "EVENTS", "revents": "REVENTS", "onoff": "ONOFF",
    "linger": "LINGER", "htons": "HTONS", "ipv4": "IPV4", "ipv6": "IPV6", "icmp": "ICMP",
    "udp": "UDP", "GREv0": "GRE", "gre": "GRE", "raw": "RAW", "sum": "SUM", "off": "OFF",
    "key": "KEY", "seq": "SEQ", "none": "NONE", "checksum": "CHECKSUM",
    "present": "PRESENT", "encap": "ENCAP", "psp": "PSP", "spi": "SPI", "mpls": "MPLS",
    "label": "LABEL", "tc": "TC", "ttl": "TTL", "inet_addr": "INET_ADDR",
    "inet6_addr": "INET6_ADDR", "ack": "ACK", "eol": "EOL", "ecr": "ECR", "mss": "MSS",
    "mtu": "MTU", "nop": "NOP", "sack": "SACK", "sackOK": "SACKOK", "md5": "MD5",
    "TS": "TIMESTAMP", "FO": "FAST_OPEN", "FOEXP": "FAST_OPEN_EXP", "ECN": "ACCECN",
    "e0b": "ACCECN_E0B", "e1b": "ACCECN_E1B", "ceb": "ACCECN_CEB", "tos": "TOS",
    "flowlabel": "FLOWLABEL", "flags": "FLAGS", "Flags": "FLAGS", "val": "VAL", "win": "WIN",
    "urg": "URG", "wscale": "WSCALE", "ect01": "ECT01", "ect0": "ECT0", "ect1": "ECT1",
    "noecn": "NO_ECN", "ce": "CE", "id": "ID",
}

# Single characters the grammar uses; any other visible character is OTHER (a syntax error).
PUNCTUATION: Mapping[str, str] = {
    "<": "LT", ">": "GT", "(": "LPAR", ")": "RPAR", "[": "LSQB", "]": "RSQB",
    "{": "LBRACE", "}": "RBRACE", ",": "COMMA", ":": "COLON", "=": "EQUAL", "+": "PLUS",
    "*": "STAR", "~": "TILDE", ".": "DOT", "-": "MINUS", "|": "PIPE",
}

_SIMPLE_PUNCTUATION = frozenset("<>()[]{},=+*~|")
_WORD = re.compile(r"[a-zA-Z0-9_]+")
_FLOAT = re.compile(r"-?[0-9]*\.[0-9]+")
_INTEGER = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OPTION = re.compile(r"--[a-zA-Z0-9_]+")
_SPACE = re.compile(r"[ \t\n]+")
_CPP_COMMENT = re.compile(r"//[^\n]*\n")
_C_COMMENT = re.compile(r"/\*(?:[^*]|\*[^/])*\*/")
_CODE = re.compile(r"%\{(?:[^}]|\}[^%])*\}%")
_IPV4 = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"
_SEG = r"[0-9a-fA-F]{1,4}"
_IPV6_FORMS = [
    r"::",
    rf"(?:{_SEG}:){{7}}{_SEG}",
    rf"(?:{_SEG}:){{1,7}}:",
    rf"(?:{_SEG}:){{1,6}}:{_SEG}",
    rf"(?:{_SEG}:){{1,5}}(?::{_SEG}){{1,2}}",
    rf"(?:{_SEG}:){{1,4}}(?::{_SEG}){{1,3}}",
    rf"(?:{_SEG}:){{1,3}}(?::{_SEG}){{1,4}}",
    rf"(?:{_SEG}:){{1,2}}(?::{_SEG}){{1,5}}",
    rf"{_SEG}:(?:(?::{_SEG}){{1,6}})",
    rf":(?::{_SEG}){{1,7}}",
    rf"::ffff:{_IPV4}",
    rf"::ffff:0{{1,4}}:{_IPV4}",
    rf"(?:{_SEG}:){{1,4}}:{_IPV4}",
]
_IPV4_RE = re.compile(_IPV4)
# flex regexes are greedy per repetition and pick the longest overall match; trying each form
# separately and keeping the longest reproduces that for these address shapes.
_IPV6_RES = [re.compile(form) for form in _IPV6_FORMS]
_HEX_RUN = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True)
class Lexeme:
    """One token: its type, its value (already resolved) and where its text is."""

    type: str
    value: Any  # int for INTEGER/HEX_INTEGER, str otherwise
    text: str
    offset: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int


def _longest(candidates: list[tuple[int, str]]) -> tuple[int, str]:
    """The (length, rule) of the longest candidate; the earliest rule wins a tie."""
    best_len, best_rule = 0, ""
    for length, rule in candidates:
        if length > best_len:
            best_len, best_rule = length, rule
    return best_len, best_rule


def _match_len(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return match.end() - pos if match else 0


def _ipv6_len(text: str, pos: int) -> int:
    run = _HEX_RUN.match(text, pos)
    after = run.end() if run else pos
    if after >= len(text) or text[after] != ":":
        return 0
    return max(_match_len(form, text, pos) for form in _IPV6_RES)


def _quoted_len(text: str, pos: int, quote: str) -> int:
    """Longest match of flex's ``\"(\\.|[^"])*\"`` (or the backquote form) at ``pos``.

    The two alternatives overlap on a backslash, so a backtracking regex takes exponential time
    on an unclosed quote full of backslashes; this scan is linear. ``[^"]`` also takes a
    backslash or a newline; ``\\.`` lets a backslash hide the closing quote (not a newline).
    """
    if not text.startswith(quote, pos):
        return 0
    best = 0
    i, here, ahead = pos + 1, True, False  # is i reachable; is i + 1 reachable
    limit = len(text)
    while i < limit and (here or ahead):
        skip = False
        if here:
            char = text[i]
            if char == quote:
                best = i + 1 - pos
            else:
                ahead = True
            skip = char == "\\" and i + 1 < limit and text[i + 1] != "\n"
        here, ahead = ahead, skip
        i += 1
    return best


def _strtol(value: str) -> int | None:
    """C ``strtol(value, &end, 0)`` when it consumes the whole string, else None."""
    text = value.strip(" \t\n\v\f\r") if value[:1].isspace() else value
    if text == "":
        return 0  # strtol reads nothing, and end points at the (empty) string's NUL
    match = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:2].lower() == "0x":
        number = int(digits[2:], 16)
    elif digits.startswith("0"):
        number = int(digits, 8)
    else:
        number = int(digits)
    number = -number if sign == "-" else number
    # LONG_MIN and LONG_MAX are refused by word() (they signal overflow).
    if not -(2**63) < number < 2**63 - 1:
        return None
    return number


def resolve_define(value: str) -> tuple[str, Any]:
    """The token a ``-D`` value becomes when it replaces a WORD (packetdrill's ``word()``)."""
    if value.startswith('"'):
        return "STRING", value[1:-1] if len(value) >= 2 else ""
    if value.startswith("`"):
        return "BACK_QUOTED", value[1:-1] if len(value) >= 2 else ""
    number = _strtol(value)
    if number is not None:
        return "INTEGER", number
    return "WORD", value


class Tokenizer:
    """Splits a script into lexemes; comments and whitespace are dropped."""

    def __init__(self, text: str, defines: Mapping[str, str] | None = None) -> None:
        self.text = text
        self.defines = dict(defines or {})
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def _candidates(self, text: str, pos: int) -> tuple[int, str]:
        char = text[pos]
        # Fast paths where no other rule can match longer (most tokens of a script).
        if char in _SIMPLE_PUNCTUATION:
            return 1, "CHAR"
        if char.isalpha() or char == "_" or char.isdigit():
            word_len = _match_len(_WORD, text, pos)
            after = text[pos + word_len] if pos + word_len < len(text) else ""
            if after not in (":", "#", "."):
                word = text[pos : pos + word_len]
                if not char.isdigit():
                    return word_len, "KEYWORD" if word in KEYWORDS else "WORD"
                if word.isdigit():  # all digits: INTEGER wins the tie with WORD
                    return word_len, "INTEGER"
        cands: list[tuple[int, str]] = []
        if char.isalnum() or char == "_":
            word_len = _match_len(_WORD, text, pos)
            word = text[pos : pos + word_len]
            if word == "sequence" and text.startswith("#", pos + word_len):
                cands.append((word_len + 1, "KEYWORD"))
            elif word in KEYWORDS:
                cands.append((word_len, "KEYWORD"))
            if char.isdigit():
                cands.append((_match_len(_FLOAT, text, pos), "FLOAT"))
                cands.append((_match_len(_INTEGER, text, pos), "INTEGER"))
                cands.append((_match_len(_HEX, text, pos), "HEX_INTEGER"))
            cands.append((word_len, "WORD"))
            if char.isdigit():
                cands.append((_match_len(_IPV4_RE, text, pos), "IPV4_ADDR"))
            if char in "0123456789abcdefABCDEF":
                cands.append((_ipv6_len(text, pos), "IPV6_ADDR"))
            return _longest(cands)
        if char == ".":
            cands.append((3 if text.startswith("...", pos) else 0, "ELLIPSIS"))
            cands.append((_match_len(_FLOAT, text, pos), "FLOAT"))
        elif char == "-":
            cands.append((_match_len(_OPTION, text, pos), "OPTION"))
            cands.append((_match_len(_FLOAT, text, pos), "FLOAT"))
            cands.append((_match_len(_INTEGER, text, pos), "INTEGER"))
        elif char == '"':
            cands.append((_quoted_len(text, pos, '"'), "STRING"))
        elif char == "`":
            cands.append((_quoted_len(text, pos, "`"), "BACK_QUOTED"))
        elif char in " \t\n":
            return _match_len(_SPACE, text, pos), "SPACE"
        elif char == "/":
            cands.append((1, "CHAR"))
            cands.append((_match_len(_CPP_COMMENT, text, pos), "COMMENT"))
            cands.append((_match_len(_C_COMMENT, text, pos), "COMMENT"))
            return _longest(cands)
        elif char == "%":
            cands.append((1, "CHAR"))
            cands.append((_match_len(_CODE, text, pos), "CODE"))
            return _longest(cands)
        elif char == ":":
            cands.append((1, "CHAR"))
            cands.append((_ipv6_len(text, pos), "IPV6_ADDR"))
            return _longest(cands)
        cands.append((1, "CHAR"))
        return _longest(cands)

    def _advance(self, length: int) -> tuple[int, int]:
        """Move past ``length`` characters; return the (line, column) after them."""
        chunk_end = self.pos + length
        newlines = self.text.count("\n", self.pos, chunk_end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rindex("\n", self.pos, chunk_end) + 1
        self.pos = chunk_end
        return self.line, chunk_end - self.line_start + 1

    def __iter__(self) -> Iterator[Lexeme]:
        text = self.text
        while self.pos < len(text):
            start, line, column = self.pos, self.line, self.pos - self.line_start + 1
            length, rule = self._candidates(text, start)
            if length == 0:  # cannot happen: a single char always matches
                length, rule = 1, "CHAR"
            end_line, end_column = self._advance(length)
            if rule in ("SPACE", "COMMENT"):
                continue
            lexeme_text = text[start : start + length]
            kind, value = self._classify(rule, lexeme_text)
            yield Lexeme(
                kind, value, lexeme_text, start, start + length, line, column, end_line,
                end_column,
            )

    def _classify(self, rule: str, text: str) -> tuple[str, Any]:
        if rule == "KEYWORD":
            return KEYWORDS.get(text, "SEQUENCE"), text
        if rule == "WORD":
            if text in self.defines:
                return resolve_define(self.defines[text])
            return "WORD", text
        if rule == "INTEGER":
            return "INTEGER", int(text)
        if rule == "HEX_INTEGER":
            return "HEX_INTEGER", int(text[2:], 16)
        if rule == "FLOAT":
            return "FLOAT", text
        if rule in ("STRING", "BACK_QUOTED"):
            return rule, text[1:-1]
        if rule == "CODE":
            return "CODE", text[2:-2].strip(" \t")
        if rule == "OPTION":
            return "OPTION", text[2:]
        if rule in ("ELLIPSIS", "IPV4_ADDR", "IPV6_ADDR"):
            return rule, text
        return PUNCTUATION.get(text, "OTHER"), text


def tokenize(text: str, defines: Mapping[str, str] | None = None) -> list[Lexeme]:
    """All lexemes of ``text`` (comments and whitespace dropped)."""
    return list(Tokenizer(text, defines))
