"""A Pygments lexer for packetdrill scripts, and for ``%%drill`` cells (the magic line first).

Registered through Pygments' ``pygments.lexers`` entry point under the alias ``packetdrill``,
so ``pygmentize -l packetdrill``, nbconvert (with ``%%drill`` mapped to it, see
``drillbook/highlight/jupyter_nbconvert_config.json``) and ``drillbook export`` use it.

It highlights, it does not parse: it follows packetdrill's lexer where it matters for colour
(``S.`` is one flags word, ``<`` after a time is a direction but ``<`` after the packet's
fields opens its TCP options, a name followed by ``(`` is a syscall, a capitalised word after
a syscall's ``= -1`` is its errno) and never reports an error on a script packetdrill accepts.
A statement may span lines, as in packetdrill: inside a syscall's parentheses a new line does
not start an event, and a ``%{ }%`` block or a backquoted command may run over many lines.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, default, include, using, words
from pygments.lexers.python import PythonLexer
from pygments.lexers.shell import BashLexer
from pygments.token import Text, Whitespace

from drillbook.highlight.vocabulary import (
    PACKET_WORDS,
    STRUCT_WORDS,
    TCP_OPTION_WORDS,
    TOKEN,
    Kind,
)

__all__ = ["PacketdrillLexer"]

MAGIC = TOKEN[Kind.MAGIC]
OPTION = TOKEN[Kind.OPTION]
COMMENT = TOKEN[Kind.COMMENT]
TIME = TOKEN[Kind.TIME]
DIRECTION = TOKEN[Kind.DIRECTION]
FLAGS = TOKEN[Kind.FLAGS]
FIELD = TOKEN[Kind.FIELD]
TCP_OPTION = TOKEN[Kind.TCP_OPTION]
SYSCALL = TOKEN[Kind.SYSCALL]
STRUCT = TOKEN[Kind.STRUCT]
CONSTANT = TOKEN[Kind.CONSTANT]
ERRNO = TOKEN[Kind.ERRNO]
NOTE = TOKEN[Kind.NOTE]
NUMBER = TOKEN[Kind.NUMBER]
STRING = TOKEN[Kind.STRING]
SHELL = TOKEN[Kind.SHELL]
CODE = TOKEN[Kind.CODE]
OPERATOR = TOKEN[Kind.OPERATOR]
PUNCTUATION = TOKEN[Kind.PUNCTUATION]

_NUMBER = r"(?:\d+\.\d+|\d+\.(?!\.)|\.\d+|\d+)"
_TIME = rf"(?:\*|\+?{_NUMBER}(?:\s*~\s*\+?{_NUMBER})?)"
_WORD_END = r"(?![\w.])"


def _comments() -> list[tuple[str, object]]:
    return [
        (r"//[^\n]*", COMMENT.Single),
        (r"/\*(?:[^*]|\*(?!/))*\*/", COMMENT.Multiline),
    ]


def _values() -> list[tuple[str, object]]:
    """Numbers, addresses, strings and ``...``: the atoms of fields and arguments."""
    return [
        (r"\.\.\.", PUNCTUATION),
        (r'"(?:\\.|[^"\\])*"', STRING.Double),
        (r"0x[0-9a-fA-F]+\b", NUMBER.Hex),
        (r"\d+\.\d+\.\d+\.\d+\b", NUMBER.Other),  # an IPv4 address
        (r"[0-9a-fA-F]*::?[0-9a-fA-F:.]*(?<!:)(?=[\s,)\]>])", NUMBER.Other),  # an IPv6 address
        (r"-?(?:\d+\.(?!\.)\d*|\.\d+)", NUMBER.Float),
        (r"-?\d+", NUMBER.Integer),
    ]


class PacketdrillLexer(RegexLexer):  # type: ignore[misc]  # Pygments has no type hints
    """packetdrill scripts (``.pkt``) and ``%%drill`` notebook cells."""

    name = "packetdrill"
    aliases: ClassVar[list[str]] = ["packetdrill", "pkt", "drill"]
    filenames: ClassVar[list[str]] = ["*.pkt"]
    mimetypes: ClassVar[list[str]] = ["text/x-packetdrill"]
    url = "https://github.com/google/packetdrill"

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\A(\s*)(%%drill)\b", bygroups(Whitespace, MAGIC), "magic-line"),
            (rf"^([ \t]*)({_TIME})(?=\s|\.\.\.)", bygroups(Whitespace, TIME), "event"),
            (r"[ \t]*\n", Whitespace),
            (r"[ \t]+", Whitespace),
            *_comments(),
            (r"(--[\w-]+)(=?)", bygroups(OPTION, OPERATOR), "option-value"),
            (r"%\{", CODE, "code"),
            (r"`", SHELL, "shell"),
            (rf"({_TIME})(?=\s+(?:[<>]\s|\.\.\.|%\{{|`|[a-z_]\w*\s*\())", TIME, "event"),
            include("statement"),
        ],
        "magic-line": [
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            (r"(--?[\w-]+)(=?)", bygroups(OPTION, OPERATOR)),
            (r"[^\s]+", Text),
        ],
        "option-value": [
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            (r"[\w.:-]+(?=\s|$)", NUMBER.Other),
            (r'"(?:\\.|[^"\\])*"', STRING.Double),
            default("#pop"),
        ],
        "event": [
            (r"[ \t]+", Whitespace),
            (r"[<>](?=\s)", DIRECTION, ("#pop", "packet-head")),
            default("#pop"),
        ],
        # What may follow a time other than a packet: a syscall, a command, a code block.
        "statement": [
            (rf"(\.\.\.)(\s*)(\+?{_NUMBER})", bygroups(PUNCTUATION, Whitespace, TIME)),
            (r"([A-Za-z_]\w*)(\s*)(\()", bygroups(SYSCALL, Whitespace, PUNCTUATION),
             ("result", "arguments")),
            (r"`", SHELL, "shell"),
            (r"%\{", CODE, "code"),
            *_values(),
            (r"[=|~+]", OPERATOR),
            (r"[(),\[\]{}:;]", PUNCTUATION),
            (r"[A-Za-z_]\w*", Text),
            (r"\s+", Whitespace),
        ],
        # After a direction: IP info, encapsulation, UDP/ICMP, then the TCP flags.
        "packet-head": [
            (r"[ \t]+", Whitespace),
            (r"\n", Whitespace, "#pop"),
            *_comments(),
            (r"[(\[]", PUNCTUATION, "ip-info"),
            (words(("udp", "icmp"), suffix=_WORD_END), FIELD, ("#pop", "packet")),
            (words(("ipv4", "ipv6", "gre", "GREv0", "mpls", "encap", "psp", "spi"),
                   suffix=_WORD_END), FIELD),
            (r"(\d+)(>)(\d+)(?=\s)", bygroups(NUMBER.Integer, OPERATOR, NUMBER.Integer)),
            (r"(?:[A-Za-z]+\.?|\.|-)(?=\s)", FLAGS, ("#pop", "packet")),
            include("packet"),
        ],
        "ip-info": [
            (r"[)\]]", PUNCTUATION, "#pop"),
            (r"\s+", Whitespace),
            (words(PACKET_WORDS, suffix=_WORD_END), FIELD),
            (r"[,:=]", PUNCTUATION),
            *_values(),
            (r"\w+", Text),
        ],
        "packet": [
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            *_comments(),
            (r"(\d+)(:)(\d+)(\()(\d+)(\))", bygroups(NUMBER.Integer, PUNCTUATION, NUMBER.Integer,
                                                      PUNCTUATION, NUMBER.Integer, PUNCTUATION)),
            (r"<", PUNCTUATION, "tcp-options"),
            (words(PACKET_WORDS, suffix=_WORD_END), FIELD),
            (r"[\[\](),:]", PUNCTUATION),
            *_values(),
            (r"[=|>]", OPERATOR),
            (r"\w+", Text),
        ],
        "tcp-options": [
            (r">", PUNCTUATION, "#pop"),
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            (words(TCP_OPTION_WORDS, suffix=_WORD_END), TCP_OPTION),
            (r"[,:]", PUNCTUATION),
            *_values(),
            (r"\w+", Text),
        ],
        "arguments": [
            (r"\)", PUNCTUATION, "#pop"),
            (r"\(", PUNCTUATION, "#push"),
            (r"\s+", Whitespace),
            *_comments(),
            (words(STRUCT_WORDS, suffix=_WORD_END), STRUCT),
            (r"[A-Z][A-Z0-9_]*\b", CONSTANT),
            *_values(),
            (r"[=|]", OPERATOR),
            (r"[\[\]{},:]", PUNCTUATION),
            (r"\w+", Text),
        ],
        # After a syscall's closing parenthesis: ``= value``, maybe an errno and its note.
        "result": [
            (r"[ \t]+", Whitespace),
            (r"=", OPERATOR),
            (r"(E[A-Z0-9_]+)(\s*)(\([^)\n]*\))?", bygroups(ERRNO, Whitespace, NOTE)),
            (r"\([^)\n]*\)", NOTE),
            (r"[A-Z][A-Z0-9_|]*\b", CONSTANT),
            *_values(),
            (r"[\[\]{},|]", PUNCTUATION),
            *_comments(),
            default("#pop"),
        ],
        "code": [
            (r"\}%", CODE, "#pop"),
            (r"(?:[^}]|\}(?!%))+", using(PythonLexer)),
        ],
        "shell": [
            (r"`", SHELL, "#pop"),
            (r"[^`]+", using(BashLexer)),
        ],
    }
