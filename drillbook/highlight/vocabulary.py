"""What a packetdrill highlighter needs to know: the kinds of token, their words and their look.

Both highlighters read this module: the Pygments lexer directly, the JupyterLab extension
through ``labextension/src/vocabulary.json``, which ``python -m drillbook.highlight.vocabulary``
writes (a test checks that the committed file is current). The words are the keywords of
packetdrill's lexer (``drillbook.parser.lexer.KEYWORDS``, a test checks that every one is
placed), sorted by where a script uses them.

Each kind has a Pygments token type (a standard one, or a subtype of one so that any Pygments
style colours it like its parent) and its look as CSS declarations over JupyterLab's theme
variables (``--jp-mirror-editor-*``), so a script looks the same in a JupyterLab cell, in a
lesson and in either light or dark theme.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import Enum

from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    _TokenType,
)

__all__ = [
    "ELEMENTS",
    "PACKET_WORDS",
    "STRUCT_WORDS",
    "TCP_OPTION_WORDS",
    "Element",
    "Kind",
    "css_rules",
    "vocabulary_json",
]


class Kind(Enum):
    """The kinds of token a packetdrill script is coloured by."""

    MAGIC = "magic"  # %%drill
    OPTION = "option"  # --tolerance_usecs=10000, on the magic line or in the script header
    COMMENT = "comment"  # // ... and /* ... */
    TIME = "time"  # 0, +.1, 0.1~0.2, * at the start of an event
    DIRECTION = "direction"  # < (injected) and > (expected from the kernel)
    FLAGS = "flags"  # S, S., P., F., R, ., -
    FIELD = "field"  # ack, win, urg, mtu, ecn marks, encapsulation words
    TCP_OPTION = "tcp-option"  # mss, sackOK, nop, TS val ecr, wscale, sack, FO ...
    SYSCALL = "syscall"  # socket, write, setsockopt ...
    STRUCT = "struct"  # sa_family, htons, msg_iov, fd, events ...
    CONSTANT = "constant"  # SOCK_STREAM, SOL_SOCKET, MSG_DONTWAIT ...
    ERRNO = "errno"  # EINPROGRESS after a syscall's result
    NOTE = "note"  # (Operation now in progress)
    NUMBER = "number"
    STRING = "string"
    SHELL = "shell"  # `ip link ...`
    CODE = "code"  # the %{ and }% around a Python block
    OPERATOR = "operator"  # = | ~ +
    PUNCTUATION = "punctuation"  # ( ) [ ] { } , : ... and the < > around TCP options


@dataclass(frozen=True)
class Element:
    """How one kind of token is told apart and shown."""

    kind: Kind
    token: _TokenType
    css: str  # CSS declarations over JupyterLab's theme variables


def _var(name: str) -> str:
    return f"color: var(--jp-mirror-editor-{name}-color)"


ELEMENTS: tuple[Element, ...] = (
    Element(Kind.MAGIC, Name.Decorator, _var("meta")),
    Element(Kind.OPTION, Name.Attribute, _var("attribute")),
    Element(Kind.COMMENT, Comment, _var("comment") + "; font-style: italic"),
    Element(Kind.TIME, Number.Time, _var("string-2")),
    Element(Kind.DIRECTION, Keyword.Direction, _var("keyword") + "; font-weight: bold"),
    Element(Kind.FLAGS, Name.Constant.Flags, _var("atom") + "; font-weight: bold"),
    Element(Kind.FIELD, Name.Property, _var("property")),
    Element(Kind.TCP_OPTION, Name.Tag, _var("tag")),
    Element(Kind.SYSCALL, Name.Function.Syscall, _var("def")),
    Element(Kind.STRUCT, Name.Builtin, _var("builtin")),
    Element(Kind.CONSTANT, Name.Constant, _var("variable-3")),
    Element(Kind.ERRNO, Name.Exception, _var("error")),
    Element(Kind.NOTE, Comment.Special, _var("comment") + "; font-style: italic"),
    Element(Kind.NUMBER, Number, _var("number")),
    Element(Kind.STRING, String, _var("string")),
    Element(Kind.SHELL, String.Backtick, _var("string-2")),
    Element(Kind.CODE, Comment.Preproc, _var("meta")),
    Element(Kind.OPERATOR, Operator, _var("operator")),
    Element(Kind.PUNCTUATION, Punctuation, _var("punctuation")),
)

TOKEN: dict[Kind, _TokenType] = {element.kind: element.token for element in ELEMENTS}

# Words of packet lines (besides the flags): header fields, ECN marks, encapsulation.
PACKET_WORDS: tuple[str, ...] = (
    "ack", "win", "urg", "mtu", "id", "tos", "flowlabel", "ttl", "ect0", "ect1", "ect01",
    "ce", "noecn", "ipv4", "ipv6", "icmp", "udp", "raw", "gre", "GREv0", "mpls", "label", "tc",
    "encap", "psp", "spi", "sum", "off", "key", "seq", "none", "checksum", "present", "flags",
    "Flags", "sequence",
)

# Words inside a packet's <...> option list.
TCP_OPTION_WORDS: tuple[str, ...] = (
    "nop", "eol", "mss", "wscale", "sackOK", "sack", "md5", "TS", "val", "ecr", "FO", "FOEXP",
    "ECN", "e0b", "e1b", "ceb",
)

# Words of a syscall's arguments: struct fields and the helpers that build their values.
STRUCT_WORDS: tuple[str, ...] = (
    "sa_family", "sin_port", "sin_addr", "htons", "inet_addr", "inet6_addr", "msg_name",
    "msg_iov", "msg_flags", "msg_control", "cmsg_level", "cmsg_type", "cmsg_data", "ee_errno",
    "ee_origin", "ee_type", "ee_code", "ee_info", "ee_data", "scm_sec", "scm_nsec", "fd",
    "events", "revents", "onoff", "linger", "u32", "u64", "ptr",
)


def css_rules(scope: str = ".highlight") -> str:
    """CSS giving each kind its JupyterLab look in Pygments' HTML.

    Pygments marks a token with its type's class (``c1`` for a ``Comment.Single``) and, for a
    type of its own, with its parents' classes too (``m m-Time``). So each kind's rule names
    its type and the standard subtypes no other kind claims, and the rules go from the most
    general type to the most specific, so that the specific one wins."""
    from pygments.formatters import HtmlFormatter
    from pygments.token import STANDARD_TYPES

    formatter = HtmlFormatter()
    claimed = {element.token for element in ELEMENTS}
    rules = []
    for element in sorted(ELEMENTS, key=lambda element: len(element.token)):
        types = [element.token] + [
            standard for standard in STANDARD_TYPES
            if standard in element.token and standard not in claimed
        ]
        names = {formatter._get_css_class(token) for token in types}  # noqa: SLF001
        selectors = sorted(f"{scope} .{name}" for name in names)
        rules.append(f"{', '.join(selectors)} {{ {element.css} }}")
    return "\n".join(rules) + "\n"


def vocabulary_json() -> str:
    """The vocabulary as the JupyterLab extension reads it: ``labextension/src/vocabulary.json``."""
    document = {
        "generatedBy": "python -m drillbook.highlight.vocabulary",
        "kinds": {
            element.kind.value: element.css
            for element in ELEMENTS
        },
        "packetWords": list(PACKET_WORDS),
        "tcpOptionWords": list(TCP_OPTION_WORDS),
        "structWords": list(STRUCT_WORDS),
    }
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(vocabulary_json())
