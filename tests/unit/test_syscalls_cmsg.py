"""Expected cmsg layout and recvmsg cmsg comparison, without a kernel."""

from __future__ import annotations

import struct

from drillbook.runtime.syscalls.args import Args, SyscallFailure, evaluate, type_name
from drillbook.runtime.syscalls.cmsg import TimeBase, compare_cmsgs, compare_opt_stats
from drillbook.runtime.syscalls.msg import (
    Cmsg,
    control_buffer,
    expected_cmsgs,
    msg_spec,
    nla_bytes,
    parse_cmsgs,
)
from drillbook.script.model import (
    BinaryOrExpr,
    EllipsisExpr,
    FieldExpr,
    IntExpr,
    ListExpr,
    StringExpr,
    StructExpr,
    SymbolExpr,
)


def struct_of(**members: object) -> StructExpr:
    def as_expr(value: object) -> object:
        if isinstance(value, int):
            return IntExpr(value)
        if isinstance(value, str):
            return SymbolExpr(value)
        return value

    return StructExpr(tuple(FieldExpr(k, as_expr(v)) for k, v in members.items()))  # type: ignore[arg-type]


def cmsg(level: str, kind: str, data: object) -> StructExpr:
    return struct_of(cmsg_level=level, cmsg_type=kind, cmsg_data=data)


def test_evaluate_resolves_symbols_and_or() -> None:
    expr = BinaryOrExpr(SymbolExpr("O_RDWR"), BinaryOrExpr(SymbolExpr("O_NONBLOCK"), IntExpr(8)))
    assert evaluate(expr) == IntExpr(2 | 0o4000 | 8)
    try:
        evaluate(ListExpr((SymbolExpr("NOPE"),)))
    except SyscallFailure as failure:
        assert str(failure) == "unknown symbol: 'NOPE'"
    else:
        raise AssertionError("no failure")
    try:
        evaluate(BinaryOrExpr(StringExpr(b"x"), IntExpr(1)))
    except SyscallFailure as failure:
        assert str(failure) == "left hand side of | not an integer"


def test_type_names_follow_packetdrill() -> None:
    assert type_name(EllipsisExpr()) == "ellipsis"
    assert type_name(struct_of(onoff=1, linger=0)) == "linger"
    assert type_name(struct_of(fd=1, events=1)) == "pollfd"
    assert type_name(struct_of(events=1, fd=1)) == "epollev"
    iovec = StructExpr((FieldExpr(None, EllipsisExpr()), FieldExpr(None, IntExpr(3))))
    assert type_name(iovec) == "iovec"


def test_args_messages() -> None:
    args = Args((IntExpr(3), ListExpr((IntExpr(1), IntExpr(2))), StringExpr(b"a")))
    checks = [
        (lambda: args.count(2), "Expected 2 args but got 3"),
        (lambda: args.get(5), "Argument list too short"),
        (lambda: args.bracketed(1), "Expected [<element>] but got multiple elements"),
        (lambda: args.s32(2), "Bad type; actual: string expected: integer"),
        (lambda: args.buffer_is_null(0), "Expected ... or NULL for buffer"),
        (lambda: Args((IntExpr(2**33),)).s32(0), "Value out of range for 32-bit integer: "
                                                  "8589934592"),
    ]
    for check, message in checks:
        try:
            check()
        except SyscallFailure as failure:
            assert str(failure) == message
        else:
            raise AssertionError(message)
    assert Args((IntExpr(0xFFFFFFFF),)).s32(0) == -1  # a u32 stored in a C int


def test_cmsg_lengths_match_packetdrill() -> None:
    extended = struct_of(ee_errno=0, ee_origin=5, ee_type=0, ee_code=1, ee_info=0, ee_data=3)
    cmsgs = expected_cmsgs(evaluate(ListExpr((
        cmsg("SOL_TCP", "TCP_CM_INQ", IntExpr(5)),
        cmsg("SOL_IP", "IP_RECVERR", extended),
        cmsg("SOL_IPV6", "IPV6_RECVERR", extended),
        cmsg("SOL_SOCKET", "SCM_TIMESTAMPING", struct_of(scm_sec=1, scm_nsec=5000)),
    ))))
    assert [c.length for c in cmsgs] == [20, 16 + 32, 16 + 44, 16 + 48]
    buffer, controllen = control_buffer(cmsgs)
    assert controllen == 24 + 48 + 64 + 64
    assert parse_cmsgs(buffer.raw, controllen) == cmsgs


def test_msghdr_iovlen_mismatch() -> None:
    iovec = StructExpr((FieldExpr(None, EllipsisExpr()), FieldExpr(None, IntExpr(3))))
    msg = StructExpr((
        FieldExpr("msg_name", EllipsisExpr(), EllipsisExpr()),
        FieldExpr("msg_iov", ListExpr((iovec,)), IntExpr(2)),
        FieldExpr("msg_flags", IntExpr(0)),
    ))
    try:
        msg_spec(msg)
    except SyscallFailure as failure:
        assert str(failure) == "msg_iovlen 2 does not match 1-element iovec array"
    else:
        raise AssertionError("no failure")


def _ee(level: int, origin: int, info: int, data: int) -> Cmsg:
    payload = struct.pack("=IBBBxII", 0, origin, 0, 0, info, data) + bytes(16)
    return Cmsg(level, 11, 16 + len(payload), payload)


def test_compare_extended_err_and_counts() -> None:
    base = TimeBase(0, 4000)
    assert compare_cmsgs([_ee(0, 5, 0, 1)], [_ee(0, 5, 0, 1)], base) is None
    assert compare_cmsgs([_ee(0, 5, 0, 1)], [_ee(0, 5, 0, 2)], base) == (
        "Bad data in extended err 0: expected=1 actual=2")
    assert compare_cmsgs([_ee(0, 5, 0, 1)], [_ee(0, 4, 0, 1)], base) == (
        "Bad origin in extended err 0: expected=5 actual=4")
    assert compare_cmsgs([], [_ee(0, 5, 0, 1)], base) == "received more than 0 cmsgs"
    assert compare_cmsgs([_ee(0, 5, 0, 1)] * 2, [_ee(0, 5, 0, 1)], base) == (
        "received only 1 cmsgs")
    assert compare_cmsgs([_ee(0, 5, 0, 1)], [Cmsg(1, 11, 48, bytes(32))], base) == (
        "Bad level in cmsg 0: expected=0 actual=1")


def _stamp(sec: int, nsec: int) -> Cmsg:
    payload = struct.pack("=qq", sec, nsec) + bytes(32)
    return Cmsg(1, 37, 64, payload)


def test_scm_timestamping_tolerance() -> None:
    start = 1_700_000_000_000_000
    base = TimeBase(start, 4000)
    # The script expects 20 ms after the start; the kernel stamped 22 ms, then 25 ms.
    want = _stamp(0, 20_000_000)
    ok = _stamp(1_700_000_000, 22_000_000)
    late = _stamp(1_700_000_000, 25_000_000)
    assert compare_cmsgs([want], [ok], base) is None
    assert compare_cmsgs([want], [late], base) == (
        f"Bad timestamp 0 in scm_timestamping 0: expected={start + 20000} (20000) "
        f"actual={start + 25000} (25000) start={start}")
    assert compare_cmsgs([_stamp(0, 0)], [late], base) is None  # zero: not checked


def test_opt_stats_nla_values() -> None:
    script = StructExpr((
        FieldExpr("TCP_NLA_BUSY", IntExpr(10000)),
        FieldExpr("TCP_NLA_SND_CWND", IntExpr(10)),
        FieldExpr("TCP_NLA_CA_STATE", EllipsisExpr()),
    ))
    want = nla_bytes(script)
    assert len(want) == 12 + 8 + 8
    actual = bytearray(want)
    struct.pack_into("=Q", actual, 4, 12000)  # busy time within 4 ms
    actual[24] = 3  # CA state: `...` matches anything
    assert compare_opt_stats(0, want, bytes(actual), 4000) is None
    struct.pack_into("=I", actual, 16, 11)
    assert compare_opt_stats(0, want, bytes(actual), 4000) == (
        "Bad TCP_NLA_SND_CWND: expected=10 actual=11")
    struct.pack_into("=Q", actual, 4, 20000)
    assert compare_opt_stats(0, want, bytes(actual), 4000) == (
        "Bad TCP_NLA_BUSY: expected=10000 actual=20000")
