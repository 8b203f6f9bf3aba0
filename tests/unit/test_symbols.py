"""The symbol table covers the corpus and words errnos as glibc does."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from drillbook.script.symbols import SYMBOLS, errno_message, errno_name, lookup

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DRILLBOOK_CORPUS", PROJECT.parent / "shared" / "corpus"))

# run_all.py's -D symbols are substituted by the lexer before symbols are looked up; their
# values must be symbols (or numbers/cookies) themselves.
RUN_ALL_DEFINES = {
    "TFO_COOKIE": None,
    "CODE": None,
    "CMSG_LEVEL_IP": ("SOL_IP", "SOL_IPV6"),
    "CMSG_TYPE_RECVERR": ("IP_RECVERR", "IPV6_RECVERR"),
    "MSS": None,
}

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_BLOCKS = re.compile(r"%\{.*?\}%|`[^`]*`|\"(?:\\.|[^\"\\])*\"", re.S)
# A syscall statement: name(args) = result [ERRNO] [(note)], args possibly spanning lines.
_PACKET_LINE = re.compile(r"^\s*\S+\s+[<>].*$", re.M)
_SYSCALL = re.compile(r"\b[a-z_][a-z_0-9]*\s*\((.*?)\)\s*=\s*(-?[\w|]+)(\s+[A-Z]\w*)?", re.S)
_WORD = re.compile(r"\b[A-Z][A-Z0-9_]*[A-Z0-9_]\b")


def _syscall_words(text: str) -> set[str]:
    text = _BLOCKS.sub(" ", _COMMENTS.sub(" ", text))
    text = _PACKET_LINE.sub(" ", text)
    words: set[str] = set()
    for match in _SYSCALL.finditer(text):
        words.update(_WORD.findall(match.group(0)))
    return words


def _corpus_scripts() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set DRILLBOOK_CORPUS)")
    return sorted(CORPUS.glob("gtests-net/**/*.pkt"))


def test_every_symbol_in_corpus_syscalls_is_known() -> None:
    scripts = _corpus_scripts()
    assert len(scripts) > 100
    missing: dict[str, str] = {}
    seen: set[str] = set()
    for path in scripts:
        for word in _syscall_words(path.read_text(errors="replace")):
            seen.add(word)
            if word not in RUN_ALL_DEFINES and lookup(word) is None:
                missing.setdefault(word, path.name)
    assert not missing, missing
    # The extraction must really see syscall symbols, or this test proves nothing.
    assert {"SOL_SOCKET", "SO_REUSEADDR", "O_NONBLOCK", "MSG_FASTOPEN", "EINPROGRESS"} <= seen


def test_run_all_define_values_are_symbols() -> None:
    for values in RUN_ALL_DEFINES.values():
        for value in values or ():
            assert lookup(value) is not None, value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NULL", 0),
        ("AF_INET", 2),
        ("AF_INET6", 10),
        ("SOL_SOCKET", 1),
        ("SOL_TCP", 6),
        ("SO_REUSEADDR", 2),
        ("SO_ZEROCOPY", 60),
        ("TCP_FASTOPEN_CONNECT", 30),
        ("TCP_INQ", 36),
        ("MSG_FASTOPEN", 0x20000000),
        ("MSG_ZEROCOPY", 0x4000000),
        ("EPOLLET", 1 << 31),
        ("O_NONBLOCK", 0o4000),
        ("SIOCINQ", 0x541B),
        ("SO_EE_ORIGIN_ZEROCOPY", 5),
        ("TCP_CA_LOSS", 4),
    ],
)
def test_known_values(name: str, value: int) -> None:
    assert lookup(name) == value


def test_unknown_symbol_is_none() -> None:
    assert lookup("SO_NOT_A_THING") is None
    assert lookup("sol_socket") is None  # case matters, as in packetdrill's strcmp


def test_errnos_agree_with_python() -> None:
    errnos = {name: value for name, value in SYMBOLS.items() if hasattr(errno, name)}
    assert len(errnos) > 120
    for name, value in errnos.items():
        assert getattr(errno, name) == value, name


def test_errno_names_are_canonical() -> None:
    assert errno_name(11) == "EAGAIN"
    assert errno_name(95) == "EOPNOTSUPP"
    assert errno_name(115) == "EINPROGRESS"
    assert errno_name(9999) == "E?9999"


def test_errno_messages_are_glibc_text() -> None:
    assert errno_message(11) == "Resource temporarily unavailable"
    assert errno_message(93) == "Protocol not supported"
    assert errno_message(14) == "Bad address"
    assert errno_message(115) == "Operation now in progress"
