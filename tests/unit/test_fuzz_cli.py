"""Bad input: mutated corpus scripts never crash ``drillbook run --dry_run``.

Mutations (hypothesis): deleted, duplicated and swapped lines and tokens, random bytes, huge
numbers, deep nesting, invalid UTF-8. For every input the CLI (called in-process) returns a
documented exit code (0 or 2 for a dry run), an error names ``file:LINE``, no exception escapes,
and each run ends within a bounded time.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drillbook.cli import main

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DRILLBOOK_CORPUS", PROJECT.parent / "shared" / "corpus"))
MAX_SEED_BYTES = 3000  # small scripts keep 200 examples well under a minute
PER_RUN_LIMIT_S = 5.0

BUILT_IN_SEED = b"""\
--tolerance_usecs=10000
`../common/defaults.sh`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
"""


def _seeds() -> list[bytes]:
    seeds = [BUILT_IN_SEED]
    folder = CORPUS / "gtests-net"
    if folder.is_dir():
        paths = sorted(folder.rglob("*.pkt"))
        seeds += [p.read_bytes() for p in paths if p.stat().st_size <= MAX_SEED_BYTES]
    return seeds


SEEDS = _seeds()
HUGE = [b"99999999999999999999999999999", b"4294967296", b"18446744073709551616",
        b"-2147483649", b"1e400", b"0x1ffffffffffffffff", b"-0"]
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00", b"\xe2\x82"]
Mutation = Callable[[st.DrawFn, bytes], bytes]


def _index(draw: st.DrawFn, items: list[bytes]) -> int:
    return draw(st.integers(0, max(0, len(items) - 1)))


def _lines(edit: Callable[[st.DrawFn, list[bytes]], None]) -> Mutation:
    def mutate(draw: st.DrawFn, data: bytes) -> bytes:
        lines = data.split(b"\n")
        edit(draw, lines)
        return b"\n".join(lines)
    return mutate


def _tokens(edit: Callable[[st.DrawFn, list[bytes]], None]) -> Mutation:
    def mutate(draw: st.DrawFn, data: bytes) -> bytes:
        tokens = re.split(rb"(\s+|[(),;<>\[\]{}=])", data)
        edit(draw, tokens)
        return b"".join(tokens)
    return mutate


def _delete(draw: st.DrawFn, items: list[bytes]) -> None:
    if items:
        del items[_index(draw, items)]


def _duplicate(draw: st.DrawFn, items: list[bytes]) -> None:
    if items:
        index = _index(draw, items)
        items.insert(index, items[index])


def _swap(draw: st.DrawFn, items: list[bytes]) -> None:
    if items:
        a, b = _index(draw, items), _index(draw, items)
        items[a], items[b] = items[b], items[a]


def _insert(payload: st.SearchStrategy[bytes]) -> Mutation:
    def mutate(draw: st.DrawFn, data: bytes) -> bytes:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(payload) + data[at:]
    return mutate


def _huge_number(draw: st.DrawFn, data: bytes) -> bytes:
    numbers = list(re.finditer(rb"\d+", data))
    if not numbers:
        return data
    match = numbers[draw(st.integers(0, len(numbers) - 1))]
    return data[: match.start()] + draw(st.sampled_from(HUGE)) + data[match.end():]


def _nesting(draw: st.DrawFn, data: bytes) -> bytes:
    depth = draw(st.integers(50, 5000))
    opener, closer = draw(st.sampled_from([(b"(", b")"), (b"[", b"]"), (b"{", b"}"),
                                           (b"<", b">"), (b"%{", b"}%")]))
    at = draw(st.integers(0, len(data)))
    return data[:at] + opener * depth + b"1" + closer * depth + data[at:]


MUTATIONS: list[Mutation] = [
    _lines(_delete), _lines(_duplicate), _lines(_swap),
    _tokens(_delete), _tokens(_duplicate), _tokens(_swap),
    _insert(st.binary(min_size=1, max_size=24)),
    _insert(st.sampled_from(BAD_UTF8)),
    _huge_number, _nesting,
]


@st.composite
def mutated_scripts(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        data = draw(st.sampled_from(MUTATIONS))(draw, data)
    return data


def _dry_run(data: bytes, folder: str) -> tuple[int, str, float]:
    path = os.path.join(folder, "fuzz.pkt")
    with open(path, "wb") as handle:
        handle.write(data)
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["run", "--dry_run", path])
    return code, err.getvalue(), time.monotonic() - start


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=200, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_scripts())
def test_mutated_scripts_never_crash_the_cli(folder: str, data: bytes) -> None:
    code, err, seconds = _dry_run(data, folder)
    assert code in (0, 2), (code, err)
    assert seconds < PER_RUN_LIMIT_S, f"dry run took {seconds:.1f} s"
    if code == 2:
        path = os.path.join(folder, "fuzz.pkt")
        located = re.search(re.escape(path) + r":\d+", err)
        empty = not data.strip() and "script is empty" in err
        assert located or empty, err
    else:
        assert err == ""


def test_the_seeds_themselves_are_accepted_or_located(folder: str) -> None:
    for data in SEEDS[:20]:
        code, err, _ = _dry_run(data, folder)
        assert code in (0, 2), err
