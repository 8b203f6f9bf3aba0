"""Errors a person can act on: message (packetdrill's wording), line, caret, hint, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drillbook.cli import main
from drillbook.config import IpMode, RunConfig
from drillbook.errors import ScriptError, ScriptSemanticError, ScriptSyntaxError
from drillbook.parser import parse_script

PROJECT = Path(__file__).resolve().parents[2]
HEAD = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"


def error_of(text: str, config: RunConfig | None = None) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        parse_script(text, "e.pkt", config)
    return info.value


@pytest.mark.parametrize(
    ("body", "line", "message", "hint"),
    [
        ("+0 S 0:0(0) win 100\n", 2, "parse error at '0': syntax error", "direction"),
        ("+0 . 1:1(0) ack 1 win 1\n", 2, "parse error at '.': syntax error", "direction"),
        ("+0 > S 0:0(0) <mss 1460\n+0 close(3) = 0\n", 3, "parse error at '+': syntax error",
         "'<' opened at line 2 column 15 is not closed with '>'"),
        ("+0 write(3, ..., 10 = 10\n", 2, "parse error at '=': syntax error",
         "'(' opened at line 2 column 9"),
        ("+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1, 4) = 0\n", 2,
         "parse error at ')': syntax error", "'[' opened"),
        ("+0 %{ x = 1\n", 2, "parse error at '%': syntax error", "'}%'"),
        ("+0 `sysctl -q x\n", 2, "parse error at '`': syntax error", "second '`'"),
        ('+0 open("/tmp/x, O_RDONLY) = 5\n', 2, "parse error at '\"': syntax error", "string"),
        ("+0 connect(3, ..., ...) = -1 EINPROGRESS\n+0 close(3) = 0\n", 3,
         "parse error at '+': syntax error", "EINPROGRESS (reason)"),
        ("+0 close(3) = -1 EAGAIN (no ack)\n", 2, "parse error at 'ack': syntax error", None),
        ("+0 > S. 0:0 ack 1\n", 2, "parse error at 'ack': syntax error", "start:end(length)"),
        ("+0 < 1:1(0) ack 1 win 1\n", 2, "parse error at ':': syntax error", "flags are missing"),
        ("+0 close(3) = 0\r\n", 2, "parse error at '\\r': syntax error", "CRLF"),
        ("# a comment\n", 2, "parse error at '#': syntax error", "// or /*"),
        ("+0 close(3) = 0 +\n", 3, "parse error at '': syntax error", "middle of a statement"),
    ],
)
def test_syntax_errors(body: str, line: int, message: str, hint: str | None) -> None:
    error = error_of(HEAD + body)
    assert isinstance(error, ScriptSyntaxError)
    assert error.message == message
    assert error.span.line == line
    rendered = error.render().splitlines()
    assert rendered[0] == f"e.pkt:{line}:{error.span.column}: {message}"
    bad = message.split("'")[1]
    if bad and not bad.startswith("\\"):  # the caret is under the offending token
        assert rendered[1][rendered[2].index("^"):].startswith(bad)
    if hint is not None:
        assert error.hint is not None and hint in error.hint


@pytest.mark.parametrize(
    ("body", "message", "caret_on"),
    [
        ("+0 < S 0:0(0)", "window must be specified for inbound packets", "0:0(0)"),
        ("+0 > P. 1:11(5) ack 1", "inconsistent TCP sequence numbers and payload size",
         "1:11(5)"),
        ("+.2~+.1 > . 1:1(0) ack 1", "time range is backwards", "+.2~+.1"),
        ("* write(3, ..., 1) = 1", "event time <star> can only be used with outbound packets",
         "*"),
        ("+0~+1 < . 1:1(0) ack 1 win 1",
         "event time range can only be used with outbound packets", "+0~+1"),
        ("+0 < . 1:1(0) ack 1 win 70000", "TCP window value out of range", "70000"),
        ("+0 > . 4294967296:4294967296(0) ack 1", "TCP start sequence number out of range",
         "4294967296"),
        ("+0 > . 1:1(0) ack 4294967296", "TCP ack sequence number out of range", "4294967296"),
        ("+0 < U. 1:1(0) ack 1 win 1 urg 65536", "urg_ptr value out of range", "65536"),
        ("+0 > S 0:0(0) <mss 65536>", "mss value out of range", "65536"),
        ("+0 > . 1:1(0) <sack 1:2 3:4 5:6 7:8 9:10,nop,nop>", "TCP option list too long",
         "sack"),
        ("+0 > S 0:0(0) <FO abc,nop>", "TCP fast open cookie has an odd number of digits",
         "abc"),
        ("+0 > S 0:0(0) <FO abcx,nop,nop>", "TCP fast open cookie 'abcx' is not a valid hex "
         "string", "abcx"),
        ("+0 > S 0:0(0) <mss 1460,nop>", "TCP options are not padded correctly to ensure TCP "
         "header is a multiple of 4 bytes: 1 excess bytes", "<mss 1460,nop>"),
        ("+0 > [ect0] udp (10)", "ECN can only be used with TCP packets", "[ect0]"),
        ("+0 < [ect01] . 1:1(0) ack 1 win 1", "[ect01] can only be used with outbound packets",
         "[ect01]"),
        ("+0 < S 0:0(0) win 1 <...>", "<...> for TCP options can only be used with outbound "
         "packets", "<...>"),
        ("+0 > ZZ 0:0(0)", "Invalid TCP flag: 'Z'", "ZZ"),
        ("+0 < icmp unreachable nope", "bad ICMP code nope", "nope"),
        ("+0 < icmp bogus", "bad ICMP type bogus", "bogus"),
        ("+0 > encap psp spi 1 . 1:1(0)", "attempting to use PSP without specifying its UDP "
         "port", "1:1(0)"),
    ],
)
def test_semantic_errors(body: str, message: str, caret_on: str) -> None:
    text = HEAD + body + "\n"
    error = error_of(text)
    assert isinstance(error, ScriptSemanticError)
    assert error.message == f"semantic error: {message}"
    assert error.span.line == 2
    rendered = error.render().splitlines()
    assert rendered[0] == f"e.pkt:2:{error.span.column}: semantic error: {message}"
    assert rendered[1] == body.replace("\t", " ")
    caret_start = rendered[2].index("^")
    assert rendered[1][caret_start:].startswith(caret_on)


def test_icmp_code_depends_on_the_ip_mode() -> None:
    text = HEAD + "+0 < icmp unreachable frag_needed mtu 1400\n"
    parse_script(text, "e.pkt", RunConfig(ip_mode=IpMode.IPV4_MAPPED_IPV6))
    error = error_of(text, RunConfig(ip_mode=IpMode.IPV6))
    assert error.message == "semantic error: bad ICMP code frag_needed"
    assert error.hint is not None and "ICMPv6" in error.hint


def test_empty_script() -> None:
    error = error_of("// nothing here\n")
    assert error.message == "parse error at '': syntax error"
    assert error.span.line == 2 and error.hint is not None and "empty" in error.hint


def test_semantic_error_comes_before_a_later_syntax_error() -> None:
    # bison runs actions while parsing: packetdrill reports the first problem in the file.
    error = error_of(HEAD + "+0 < S 0:0(0)\n+0 ??? \n")
    assert isinstance(error, ScriptSemanticError) and error.span.line == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--bogus=1\n" + HEAD, "option 'bogus' unknown"),
        ("--strict_segments=1\n" + HEAD, "option 'strict_segments' forbids an argument"),
        ("--mtu\n" + HEAD, "option 'mtu' requires an argument"),
        ("--tolerance_usecs=0\n" + HEAD, "bad --tolerance_usecs: 0"),
        (HEAD + "+0 setsockopt(3, SOL_SOCKETT, SO_REUSEADDR, [1], 4) = 0\n",
         "unknown symbol: 'SOL_SOCKETT'"),
        (HEAD + "+0 close(3) = -1 EBOGUS (x)\n", "unknown symbol: 'EBOGUS'"),
    ],
)
def test_dry_run_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    script = tmp_path / "bad.pkt"
    script.write_text(text)
    assert main(["run", "--dry_run", str(script)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.startswith(f"{script}:")
    if expected.startswith("unknown symbol"):  # the caret is under the name
        source_line, caret = err.splitlines()[1:3]
        assert source_line[caret.index("^"):].startswith(expected.split("'")[1])
    assert "Traceback" not in err


def test_real_cli_shows_message_caret_and_hint(tmp_path: Path) -> None:
    script = tmp_path / "nowin.pkt"
    script.write_text(HEAD + "+0 < S 0:0(0)\n")
    result = subprocess.run(
        [sys.executable, "-m", "drillbook", "--dry_run", str(script)],
        capture_output=True, text=True, cwd=PROJECT, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"{script}:2:8: semantic error: window must be specified for inbound packets"
    assert lines[1] == "+0 < S 0:0(0)"
    assert lines[2] == "       ^^^^^^"
    assert lines[3].startswith("hint: ")
