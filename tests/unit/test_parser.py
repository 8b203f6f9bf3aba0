"""The grammar and the model it builds: tokenisation quirks, every statement form, values."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drillbook.config import IpMode, RunConfig
from drillbook.errors import ScriptSemanticError, ScriptSyntaxError
from drillbook.parser import parse_header_options, parse_script
from drillbook.parser.lexer import tokenize
from drillbook.script.model import (
    BinaryOrExpr,
    CallExpr,
    CodeBlock,
    Direction,
    EchoedHeader,
    EllipsisExpr,
    FieldExpr,
    IcmpSpec,
    IntExpr,
    IpInfo,
    ListExpr,
    OpaqueExpr,
    PacketSpec,
    ShellCommand,
    StringExpr,
    StructExpr,
    SymbolExpr,
    SyscallSpec,
    TcpOption,
    TcpSpec,
    TimeKind,
    UdpSpec,
)

V6 = RunConfig(ip_mode=IpMode.IPV6)


def one(line: str, config: RunConfig | None = None) -> PacketSpec | SyscallSpec:
    script = parse_script(line, "t.pkt", config)
    assert len(script.events) == 1
    action = script.events[0].action
    assert isinstance(action, (PacketSpec, SyscallSpec))
    return action


def tcp(line: str) -> TcpSpec:
    packet = one(line)
    assert isinstance(packet, PacketSpec) and isinstance(packet.body, TcpSpec)
    return packet.body


# ---------------------------------------------------------------- lexer


@pytest.mark.parametrize(
    ("text", "types"),
    [
        ("S.", ["WORD", "DOT"]),
        (".5", ["FLOAT"]),
        ("P.5", ["WORD", "FLOAT"]),
        ("5.", ["INTEGER", "DOT"]),
        ("0x1f", ["HEX_INTEGER"]),
        ("0x1fg", ["WORD"]),
        ("1.2.3.4", ["IPV4_ADDR"]),
        ("fd3d:a0b:17d6::1", ["IPV6_ADDR"]),
        ("...", ["ELLIPSIS"]),
        ("+0...0.2", ["PLUS", "INTEGER", "ELLIPSIS", "FLOAT"]),
        ("sequence#", ["SEQUENCE"]),
        ("ack acks", ["ACK", "WORD"]),
        ("-1", ["INTEGER"]),
        ("--mtu=1500", ["OPTION", "EQUAL", "INTEGER"]),
        ("a // c\nb /* x\ny */ c", ["WORD", "WORD", "WORD"]),
        ("3021b9d889017eeb", ["WORD"]),
        ("#", ["OTHER"]),
    ],
)
def test_tokens_follow_flex_longest_match(text: str, types: list[str]) -> None:
    assert [lexeme.type for lexeme in tokenize(text)] == types


def test_defines_substitute_words_not_keywords() -> None:
    defines = {"A": '"str"', "B": "`cmd`", "C": "0x10", "D": "host_unreachable", "ack": "1"}
    lexemes = tokenize("A B C D ack", defines)
    assert [(x.type, x.value) for x in lexemes] == [
        ("STRING", "str"), ("BACK_QUOTED", "cmd"), ("INTEGER", 16),
        ("WORD", "host_unreachable"), ("ACK", "ack"),
    ]


def test_lines_and_columns() -> None:
    lexemes = tokenize("a\n  b `x\ny` c")
    assert [(x.line, x.column) for x in lexemes] == [(1, 1), (2, 3), (2, 5), (3, 4)]


def test_unclosed_quote_with_backslashes_is_fast() -> None:
    # A backtracking regex would take exponential time here.
    assert [x.type for x in tokenize('"' + "\\" * 5001)][0] == "OTHER"


# ---------------------------------------------------------------- script shape


def test_script_shape() -> None:
    text = (
        "--tolerance_usecs=10000\n--strict_segments\n`init`\n"
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+.1 `sysctl -q x=1`\n+0 %{ assert 1 }%\n`cleanup\nmore`\n"
    )
    script = parse_script(text, "s.pkt")
    assert [(o.name, o.value) for o in script.options] == [
        ("tolerance_usecs", "10000"), ("strict_segments", None)
    ]
    assert script.init_command == ShellCommand("init")
    assert script.cleanup_command == ShellCommand("cleanup\nmore")
    assert script.events[1].action == ShellCommand("sysctl -q x=1")
    assert script.events[2].action == CodeBlock("assert 1")
    assert [e.line for e in script.events] == [4, 5, 6]
    assert script.path == "s.pkt"


def test_statement_may_span_lines_and_line_is_the_timestamps() -> None:
    script = parse_script("\n  +0\n  write(4,\n ..., 10)\n = 10\n")
    assert script.events[0].line == 2


@pytest.mark.parametrize(
    ("time", "kind", "start", "end"),
    [
        ("0", TimeKind.ABSOLUTE, 0, None),
        ("0.100", TimeKind.ABSOLUTE, 100_000, None),
        ("+.1", TimeKind.RELATIVE, 100_000, None),
        ("+1.001", TimeKind.RELATIVE, 1_001_000, None),
        ("*", TimeKind.ANY, 0, None),
        ("0.1~0.2", TimeKind.ABSOLUTE_RANGE, 100_000, 200_000),
        ("+.1~+.105", TimeKind.RELATIVE_RANGE, 100_000, 105_000),
    ],
)
def test_times_are_exact_microseconds(time: str, kind: TimeKind, start: int, end: int) -> None:
    script = parse_script(f"{time} > . 1:1(0) ack 1")
    assert script.events[0].time.kind is kind
    assert (script.events[0].time.start_us, script.events[0].time.end_us) == (start, end)


def test_blocking_end_time() -> None:
    call = one("+0...0.200 accept(3, ..., ...) = 4")
    assert isinstance(call, SyscallSpec) and call.end_us == 200_000 and call.is_blocking


# ---------------------------------------------------------------- packets


@pytest.mark.parametrize("flags", ["S", "S.", ".", "P.", "F.", "SEW", "SE.", "U.", ".5", "P.5",
                                   "S.2", "SEWA", "EAP.", "-"])
def test_flag_strings(flags: str) -> None:
    assert tcp(f"+0 > {flags} 0:0(0)").flags == flags


def test_tcp_packet_fields() -> None:
    body = tcp("+0 < U. 1:101(100) ack 1 win 257 urg 100")
    assert (body.start_seq, body.end_seq, body.payload_len) == (1, 101, 100)
    assert (body.ack, body.window, body.urgent, body.options) == (1, 257, 100, None)


def test_every_tcp_option() -> None:
    first = tcp("+0 > S. 0:0(0) <mss 1460,nop,eol,sackOK,wscale 8,TS val 100 ecr 0,sack 1:2 3:4,"
                "nop>").options
    second = tcp("+0 > S. 0:0(0) <FO,FO 0123abCD,FOEXP abcd,md5 000102030405060708090a0b0c0d0e0f"
                 ">").options
    third = tcp("+0 > S. 0:0(0) <ECN e1b 1 ceb 0 e0b 1,nop>").options
    assert first is not None and second is not None and third is not None
    kinds = [option.kind for option in (*first, *second, *third)]
    assert kinds == ["mss", "nop", "eol", "sackOK", "wscale", "TS", "sack", "nop", "FO", "FO",
                     "FOEXP", "md5", "ECN", "nop"]
    assert first[5] == TcpOption("TS", val=100, ecr=0)
    assert first[6].blocks == ((1, 2), (3, 4))
    assert (second[0].cookie, second[1].cookie) == ("", "0123abcd")
    assert third[0].ecn_fields == (("e1b", 1), ("ceb", 0), ("e0b", 1))


def test_any_options() -> None:
    body = tcp("+0 > S 0:0(0) <...>")
    assert body.any_options and body.options is None


def test_ip_info_ports_and_psp() -> None:
    packet = one("+0 > [ect0, flowlabel 0x1234] encap psp spi 23 1000 > 2000 P. 1:2(1) ack 1",
                 RunConfig(psp_udp_port=1000))
    assert isinstance(packet, PacketSpec)
    assert packet.ip == IpInfo(ecn="ect0", flowlabel=0x1234)
    assert (packet.psp_spi, packet.ports) == (23, (1000, 2000))
    assert one("+0 < (tos 0x10) . 1:1(0) ack 1 win 1").ip.tos == 0x10  # type: ignore[union-attr]
    assert one("+0 < [ttl 64] . 1:1(0) ack 1 win 1").ip.ttl == 64  # type: ignore[union-attr]


def test_encapsulations_are_kept_as_text() -> None:
    packet = one("+0 < ipv4 192.0.2.1 > 192.168.0.1: gre: mpls (label 100, tc 0, [S], ttl 64): "
                 ". 1:1(0) ack 1 win 100")
    assert isinstance(packet, PacketSpec)
    assert [(e.kind, e.text) for e in packet.encapsulations] == [
        ("ipv4", "ipv4 192.0.2.1 > 192.168.0.1"), ("gre", "gre"),
        ("mpls", "mpls (label 100, tc 0, [S], ttl 64)"),
    ]


def test_udp() -> None:
    packet = one("+0 > udp 8080 > 9000 (1000)")
    assert isinstance(packet, PacketSpec)
    assert packet.body == UdpSpec(1000) and packet.ports == (8080, 9000)


def test_icmp_names_depend_on_the_ip_mode() -> None:
    v4 = one("+0 < icmp unreachable frag_needed mtu 800 [5000:6000(1000)]")
    assert isinstance(v4, PacketSpec)
    assert v4.body == IcmpSpec("unreachable", 3, "frag_needed", 4, 800, None,
                               EchoedHeader("tcp", 5000, 6000, 1000))
    v6 = one("+0 < icmp packet_too_big mtu 1400 [udp (10)]", V6)
    assert isinstance(v6, PacketSpec) and isinstance(v6.body, IcmpSpec)
    assert (v6.body.type_value, v6.body.code_value, v6.body.echoed) == (
        2, 0, EchoedHeader("udp", payload_len=10))
    numbered = one("+0 < icmp type_255 code_7 id 9")
    assert isinstance(numbered, PacketSpec) and isinstance(numbered.body, IcmpSpec)
    assert (numbered.body.type_value, numbered.body.code_value, numbered.body.echo_id) == (
        255, 7, 9)


# ---------------------------------------------------------------- system calls


def test_syscall_arguments() -> None:
    call = one('+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY, "\\xf7\\x63a" "b\\n", 0x10) = 0')
    assert isinstance(call, SyscallSpec)
    assert call.args[:3] == (IntExpr(3), SymbolExpr("SOL_TCP"), SymbolExpr("TCP_FASTOPEN_KEY"))
    assert call.args[3] == StringExpr(b"\xf7\x63ab\n")
    assert call.args[4] == IntExpr(16) and call.args[4].hex  # type: ignore[union-attr]


def test_or_is_right_associative() -> None:
    call = one("+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK|O_APPEND) = 0")
    assert isinstance(call, SyscallSpec)
    assert call.args[2] == BinaryOrExpr(
        SymbolExpr("O_RDWR"), BinaryOrExpr(SymbolExpr("O_NONBLOCK"), SymbolExpr("O_APPEND")))


def test_structs() -> None:
    call = one(
        "+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=MSG_ERRQUEUE, "
        "msg_control=[{cmsg_level=SOL_IP, cmsg_type=IP_RECVERR, cmsg_data={ee_errno=0, "
        "ee_origin=2, ee_type=0, ee_code=1, ee_info=0, ee_data=2}}]}, MSG_ERRQUEUE) = 0"
    )
    assert isinstance(call, SyscallSpec)
    msg = call.args[1]
    assert isinstance(msg, StructExpr)
    assert [f.name for f in msg.fields] == ["msg_name", "msg_iov", "msg_flags", "msg_control"]
    assert msg.fields[0] == FieldExpr("msg_name", EllipsisExpr(), EllipsisExpr())
    iov = msg.get("msg_iov")
    assert iov == ListExpr((StructExpr((FieldExpr(None, EllipsisExpr()),
                                        FieldExpr(None, IntExpr(10)))),))
    assert msg.fields[1].size == IntExpr(1)


def test_more_struct_forms() -> None:
    call = one(
        "+0 f({events=EPOLLIN, u64=1}, [{fd=3, events=POLLIN, revents=0}], {onoff=1, linger=0},"
        " {scm_sec=0, scm_nsec=20}, {sa_family=AF_INET, sin_port=htons(80), "
        'sin_addr=inet_addr("1.2.3.4")}, {A=1, 2}, inet6_addr("::1"), [], {}) = 0'
    )
    assert isinstance(call, SyscallSpec)
    names = [[f.name for f in a.fields] for a in call.args if isinstance(a, StructExpr)]
    assert names == [["events", "u64"], ["onoff", "linger"], ["scm_sec", "scm_nsec"],
                     ["sa_family", "sin_port", "sin_addr"], ["A", None]]
    sockaddr = call.args[4]
    assert isinstance(sockaddr, StructExpr)
    assert sockaddr.get("sin_port") == CallExpr("htons", (IntExpr(80),))
    assert call.args[6] == CallExpr("inet6_addr", (StringExpr(b"::1"),))
    assert call.args[7] == ListExpr(())
    assert call.args[8] == OpaqueExpr("mpls", "{}")


@pytest.mark.parametrize(
    ("text", "errno", "note"),
    [
        ("= -1 EINPROGRESS (Operation now in progress)", "EINPROGRESS",
         "Operation now in progress"),
        ("= 0x2 (flags O_RDWR)", None, "flags O_RDWR"),
        ("= 0", None, None),
    ],
)
def test_results(text: str, errno: str | None, note: str | None) -> None:
    call = one(f"+0 connect(3, ..., ...) {text}")
    assert isinstance(call, SyscallSpec)
    assert (call.errno, call.note) == (errno, note)


# ---------------------------------------------------------------- header options


def test_header_options_prepass() -> None:
    text = '--local_ip=192.168.0.2\n--define=X="a b"\n--ip_version=ipv6\n--mss=1000\n0 `x`\n'
    assert [(o.name, o.value) for o in parse_header_options(text)] == [
        ("local_ip", "192.168.0.2"), ("define", 'X="a b"'), ("ip_version", "ipv6"),
        ("mss", "1000"),
    ]
    assert parse_header_options("0 `x`") == ()


def test_defines_reach_packet_lines() -> None:
    config = RunConfig(defines=(("MSS", "1100"), ("CODE", "host_unreachable")))
    assert tcp_with(config).options == (TcpOption("mss", value=1100),)
    packet = one("+0 < icmp unreachable CODE", config)
    assert isinstance(packet, PacketSpec) and isinstance(packet.body, IcmpSpec)
    assert packet.body.code_value == 1


def tcp_with(config: RunConfig) -> TcpSpec:
    packet = one("+0 > S 0:0(0) <mss MSS>", config)
    assert isinstance(packet, PacketSpec) and isinstance(packet.body, TcpSpec)
    return packet.body


def test_errors_are_script_errors() -> None:
    with pytest.raises(ScriptSyntaxError):
        parse_script("0 5. 1:1(0)")
    with pytest.raises(ScriptSemanticError):
        parse_script("0 < S 0:0(0)")
    assert one("+0 > S 0:0(0)").direction is Direction.OUTBOUND  # type: ignore[union-attr]


# ---------------------------------------------------------------- any text at all

_PIECES = st.sampled_from([
    "0", "+0", "+.1", "*", "~", "<", ">", "S.", ".", "1:1(0)", "ack", "win", "1", "<mss 1460>",
    "write(", ")", "(", "[", "]", "{", "}", ",", "=", "|", "...", '"s', '"', "`", "%{", "}%",
    "//", "/*", "*/", "\n", "-", "0x", "icmp", "udp", "EAGAIN", "--mtu=", "\\", "#", "\x00",
])


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=30).map(" ".join)))
def test_any_text_parses_or_raises_a_script_error(text: str) -> None:
    try:
        parse_script(text, "any.pkt")
    except (ScriptSyntaxError, ScriptSemanticError) as exc:
        assert exc.span.line >= 1
        assert exc.render().startswith("any.pkt:")


def test_a_packet_events_span_reaches_its_last_token() -> None:
    text = (
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 < S 0:0(0) win 1000 <mss 1000,sackOK,nop,nop>\n"
        "+0 > S. 0:0(0) ack 1 <...>\n"
        "+0 > . 1:1(0) ack 1   // a comment\n"
        "+0 > . 1:1(0) ack 1 win 5 urg 3\n"
    )
    spans = [event.span for event in parse_script(text, "x.pkt").events]
    assert [text[s.offset : s.end_offset] for s in spans] == [
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "+0 < S 0:0(0) win 1000 <mss 1000,sackOK,nop,nop>",
        "+0 > S. 0:0(0) ack 1 <...>",
        "+0 > . 1:1(0) ack 1",
        "+0 > . 1:1(0) ack 1 win 5 urg 3",
    ]


def test_every_corpus_event_on_one_line_spans_the_whole_line(corpus_dir: Path) -> None:
    checked = 0
    for path in sorted((corpus_dir / "gtests-net").rglob("*.pkt")):
        text = path.read_text()
        try:
            script = parse_script(text, str(path))
        except (ScriptSyntaxError, ScriptSemanticError):
            continue  # rejected in this mode (the dry-run test checks that)
        lines = text.splitlines()
        for event in script.events:
            span = event.span
            if span.line != span.end_line or isinstance(event.action, (ShellCommand, CodeBlock)):
                continue
            line = lines[span.line - 1].split("//")[0].rstrip()
            assert text[span.offset : span.end_offset] == line.strip(), (path, span.line)
            checked += 1
    assert checked > 3000
