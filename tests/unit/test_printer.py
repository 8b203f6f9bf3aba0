"""The printer's law, ``parse(format_script(s)) == s``: over the corpus in every IP mode, and
over generated scripts (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drillbook.config import UPSTREAM_MODE_FLAGS, IpMode, RunConfig
from drillbook.errors import ScriptError
from drillbook.options import build_config
from drillbook.parser import parse_script
from drillbook.script.model import (
    BinaryOrExpr,
    CodeBlock,
    Direction,
    EchoedHeader,
    EllipsisExpr,
    Event,
    EventTime,
    Expr,
    FieldExpr,
    IcmpSpec,
    IntExpr,
    IpInfo,
    ListExpr,
    PacketSpec,
    Script,
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
from drillbook.script.printer import (
    format_c_string,
    format_event,
    format_expr,
    format_packet,
    format_script,
    format_seconds,
)


@pytest.mark.parametrize("mode", list(IpMode), ids=lambda m: m.value)
def test_corpus_round_trips(corpus_dir: Path, mode: IpMode) -> None:
    config = build_config((), list(UPSTREAM_MODE_FLAGS[mode]))
    checked = 0
    for path in sorted((corpus_dir / "gtests-net").rglob("*.pkt")):
        try:
            script = parse_script(path.read_text(), str(path), config)
        except ScriptError:
            continue  # rejected in this mode (the dry-run test checks that)
        printed = format_script(script)
        again = parse_script(printed, str(path), config)
        assert again == script, path
        assert format_script(again) == printed, path
        checked += 1
    assert checked >= 160


def test_single_nodes() -> None:
    assert format_seconds(0) == "0" and format_seconds(100_000) == "0.1"
    assert format_seconds(1_500) == "0.0015" and format_seconds(2_000_000) == "2"
    assert format_c_string(b'a"\\\n\x00\xff') == '"a\\x22\\x5c\\n\\x00\\xff"'
    assert format_expr(BinaryOrExpr(SymbolExpr("A"), IntExpr(16, hex=True))) == "A|0x10"
    packet = PacketSpec(Direction.OUTBOUND, TcpSpec("S.", 0, 0, 0, ack=1, options=(
        TcpOption("mss", value=1460), TcpOption("nop"), TcpOption("wscale", value=8))),
        IpInfo(ecn="ect0"))
    assert format_packet(packet) == "> [ect0] S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>"
    call = SyscallSpec("accept", (IntExpr(3), EllipsisExpr(), EllipsisExpr()), IntExpr(4),
                       end_us=200_000)
    event = Event(EventTime(TimeKind.RELATIVE, 0), call)
    assert format_event(event) == "+0...0.2 accept(3, ..., ...) = 4"


def test_header_options_and_commands_round_trip() -> None:
    text = (
        '--ip_version=ipv6\n--local_ip=fd3d:a0b:17d6::1\n--remote_ip=192.0.2.1\n'
        '--define=CC="reno"\n--define=X=`date`\n--code_command="python3 -u"\n'
        "--strict_segments\n--mtu=1520\n`init\n  more`\n"
        "0 `sysctl -q a=1`\n+0 %{ assert x == 1 }%\n* > F. 1:1(0) ack 1\n`cleanup`\n"
    )
    script = parse_script(text, "h.pkt")
    printed = format_script(script)
    assert parse_script(printed, "h.pkt") == script
    assert printed.splitlines()[5] == '--code_command="python3 -u"'


# ---------------------------------------------------------------- generated scripts

symbols = st.sampled_from(["SOL_SOCKET", "SO_REUSEADDR", "O_NONBLOCK", "MSG_ZEROCOPY", "X_1"])
ints = st.builds(IntExpr, st.integers(-(2**31), 2**31), st.booleans()).map(
    lambda e: IntExpr(e.value, e.hex and e.value >= 0))
leaves: st.SearchStrategy[Expr] = st.one_of(
    ints, st.builds(SymbolExpr, symbols), st.just(EllipsisExpr()),
    st.builds(StringExpr, st.binary(max_size=12)),
)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    named = st.builds(FieldExpr, st.sampled_from(["A", "TCP_NLA_X"]), children)
    positional = st.builds(FieldExpr, st.none(), children)
    return st.one_of(
        st.builds(lambda items: ListExpr(tuple(items)), st.lists(children, max_size=3)),
        st.builds(BinaryOrExpr, st.builds(SymbolExpr, symbols), children),
        st.builds(lambda fields: StructExpr(tuple(fields)),
                  st.lists(st.one_of(named, positional), min_size=1, max_size=3)).filter(
            # `{..., x}` is an iovec to packetdrill's grammar: only `{..., N}` is expressible
            lambda s: not (s.fields[0].name is None and s.fields[0].value == EllipsisExpr())),
    )


exprs = st.recursive(leaves, _extend, max_leaves=6)
times = st.one_of(
    st.builds(EventTime, st.just(TimeKind.RELATIVE), st.integers(0, 10**8)),
    st.builds(EventTime, st.just(TimeKind.ABSOLUTE), st.integers(0, 10**8)),
)
syscalls = st.builds(
    lambda name, args, result: SyscallSpec(name, tuple(args), result),
    st.sampled_from(["write", "setsockopt", "foo"]), st.lists(exprs, max_size=4), ints,
)
options = st.lists(st.sampled_from([
    TcpOption("mss", value=1460), TcpOption("nop"), TcpOption("sackOK"),
    TcpOption("wscale", value=7), TcpOption("TS", val=5, ecr=0),
    TcpOption("sack", blocks=((1, 2),)), TcpOption("FO", cookie="abcd"),
]), max_size=3).map(tuple)


def _tcp(flags: str, start: int, length: int, ack: int | None, opts: tuple[TcpOption, ...],
         inbound: bool) -> PacketSpec:
    size = sum({"mss": 4, "nop": 1, "sackOK": 2, "wscale": 3, "TS": 10, "sack": 10,
                "FO": 4}[o.kind] for o in opts)
    padded = opts + (TcpOption("nop"),) * (-size % 4)
    body = TcpSpec(flags, start, start + length, length, ack, 100 if inbound else None,
                   None, padded or None)
    return PacketSpec(Direction.INBOUND if inbound else Direction.OUTBOUND, body)


packets = st.builds(
    _tcp, st.sampled_from(["S", "S.", ".", "P.", "F.", ".5", "-", "SEWA"]),
    st.integers(0, 2**31), st.integers(0, 1000), st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    options, st.booleans(),
)
ip_infos = st.one_of(
    st.just(IpInfo()),
    st.builds(IpInfo, ecn=st.sampled_from(["ect0", "ect1", "ce", "noecn"]),
              flowlabel=st.one_of(st.none(), st.integers(0, 2**20 - 1))),
    st.builds(IpInfo, tos=st.integers(0, 255)),
    st.builds(IpInfo, ttl=st.integers(0, 300)),
    st.builds(IpInfo, flowlabel=st.integers(0, 2**20 - 1)),
)
udp_packets = st.builds(
    lambda d, length, ports, tos: PacketSpec(d, UdpSpec(length), IpInfo(tos=tos), (), ports),
    st.sampled_from(list(Direction)), st.integers(0, 60000),
    st.one_of(st.none(), st.tuples(st.integers(0, 65535), st.integers(0, 65535))),
    st.one_of(st.none(), st.integers(0, 255)),
)
icmp_packets = st.builds(
    lambda d, names, mtu, echoed: PacketSpec(d, IcmpSpec(
        names[0], names[1], names[2], names[3], mtu if names[:2] == ("unreachable", 3)
        and names[3] == 4 else None, None, echoed)),
    st.sampled_from(list(Direction)),
    st.sampled_from([("unreachable", 3, "frag_needed", 4), ("unreachable", 3, None, 0),
                     ("echo_request", 8, None, 0), ("type_42", 42, "code_7", 7),
                     ("time_exceeded", 11, "code_1", 1)]),
    st.integers(0, 65535),
    st.one_of(st.none(), st.builds(EchoedHeader, st.just("udp"), payload_len=st.integers(0, 9)),
              st.builds(lambda a, n: EchoedHeader("tcp", a, a + n, n), st.integers(0, 2**31),
                        st.integers(0, 1000))),
)
notes = st.lists(st.sampled_from(["Operation", "now", "in", "progress", "x1"]), min_size=1,
                 max_size=3).map(" ".join)
results = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(st.sampled_from(["EAGAIN", "EINPROGRESS"]), notes),
    st.tuples(st.none(), notes),
)
blocking = st.builds(
    lambda call, end, result: SyscallSpec(call.name, call.args, call.result, result[0],
                                          result[1], end),
    syscalls, st.one_of(st.none(), st.integers(0, 10**7)), results,
)
commands = st.one_of(
    st.builds(ShellCommand, st.text("abc =-/$\n", min_size=1, max_size=20)),
    st.builds(CodeBlock, st.text("abc =+1()\n#", min_size=1, max_size=20).map(
        lambda t: t.strip(" \t")).filter(bool)),
)
outbound_times = st.one_of(
    times, st.just(EventTime(TimeKind.ANY)),
    st.builds(lambda a, b: EventTime(TimeKind.RELATIVE_RANGE, a, a + b),
              st.integers(0, 10**6), st.integers(0, 10**6)),
)


def _outbound(packet: PacketSpec) -> PacketSpec:
    return PacketSpec(Direction.OUTBOUND, packet.body, packet.ip, packet.encapsulations,
                      packet.ports, packet.psp_spi)


with_ip = st.builds(
    lambda p, ip: PacketSpec(p.direction, p.body, ip, (), p.ports), packets, ip_infos)
events = st.one_of(
    st.builds(Event, times, st.one_of(blocking, with_ip, udp_packets, icmp_packets, commands)),
    st.builds(Event, outbound_times, st.one_of(packets, icmp_packets).map(_outbound)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=5))
def test_generated_scripts_round_trip(generated: list[Event]) -> None:
    script = Script((), None, tuple(generated))
    printed = format_script(script)
    assert parse_script(printed, "gen.pkt", RunConfig()) == script, printed
