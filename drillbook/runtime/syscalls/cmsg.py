"""Comparing the control messages recvmsg returned with the ones the script expects.

Order and wording follow packetdrill's ``cmsg_expect_eq``: level, type and length of each
message; then its payload — every field of a ``sock_extended_err`` for IP(V6)_RECVERR, each
non-zero timestamp of SCM_TIMESTAMPING within ``tolerance_usecs`` of the script time, each
netlink attribute of SCM_TIMESTAMPING_OPT_STATS (``...`` matches anything, busy/limited times
within the tolerance), and a byte comparison for anything else. Then the counts.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.runtime.syscalls.msg import (
    IP_RECVERR,
    IPV6_RECVERR,
    NLA_HDRLEN,
    NLA_IGNORE,
    NLA_NAMES,
    NLA_SIZES,
    SCM_TIMESTAMPING,
    SCM_TIMESTAMPING_OPT_STATS,
    SOL_IP,
    SOL_IPV6,
    SOL_SOCKET,
    Cmsg,
)

_EE_FIELDS = ("errno", "origin", "type", "code", "info", "data")


@dataclass(frozen=True)
class TimeBase:
    """How to turn script times into live (CLOCK_REALTIME) microseconds."""

    live_start_us: int  # wall-clock µs at script time 0
    tolerance_us: int


def compare_cmsgs(expected: Sequence[Cmsg], actual: Sequence[Cmsg], base: TimeBase) -> str | None:
    """None if ``actual`` matches ``expected``, else packetdrill's message."""
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        error = _compare_one(index, want, got, base)
        if error is not None:
            return error
    count = min(len(expected), len(actual))
    if len(actual) > len(expected):
        return f"received more than {count} cmsgs"
    if len(actual) < len(expected):
        return f"received only {count} cmsgs"
    return None


def _compare_one(index: int, want: Cmsg, got: Cmsg, base: TimeBase) -> str | None:
    if got.level != want.level:
        return f"Bad level in cmsg {index}: expected={want.level} actual={got.level}"
    if got.type != want.type:
        return f"Bad type in cmsg {index}: expected={want.type} actual={got.type}"
    if got.length != want.length:
        return f"Bad len in cmsg {index}: expected={want.length} actual={got.length}"
    if (got.level, got.type) in ((SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
        return _compare_extended_err(index, want.data, got.data)
    if (got.level, got.type) == (SOL_SOCKET, SCM_TIMESTAMPING):
        return _compare_timestamps(index, want.data, got.data, base)
    if (got.level, got.type) == (SOL_SOCKET, SCM_TIMESTAMPING_OPT_STATS):
        return compare_opt_stats(index, want.data, got.data, base.tolerance_us)
    if got.data != want.data:
        return (f"Bad data in cmsg {index}: expected={_c_string(want.data)} "
                f"actual={_c_string(got.data)}")
    return None


def _c_string(data: bytes) -> str:
    """What printf("%s") shows of a binary buffer: the bytes up to the first NUL."""
    return data.split(b"\0", 1)[0].decode("latin-1")


def _compare_extended_err(index: int, want: bytes, got: bytes) -> str | None:
    expected = struct.unpack_from("=IBBBxII", want)
    actual = struct.unpack_from("=IBBBxII", got.ljust(16, b"\0"))
    for name, wanted, found in zip(_EE_FIELDS, expected, actual, strict=True):
        if wanted != found:
            return (f"Bad {name} in extended err {index}: "
                    f"expected={wanted} actual={found}")
    return None


def _compare_timestamps(index: int, want: bytes, got: bytes, base: TimeBase) -> str | None:
    expected = struct.unpack_from("=6q", want)
    actual = struct.unpack_from("=6q", got.ljust(48, b"\0"))
    for i in range(3):
        sec, nsec = expected[2 * i], expected[2 * i + 1]
        if sec == 0 and nsec == 0:
            continue  # a zero timestamp in the script is not checked
        exp_us = base.live_start_us + sec * 1_000_000 + nsec // 1000
        act_us = actual[2 * i] * 1_000_000 + actual[2 * i + 1] // 1000
        if abs(exp_us - act_us) > base.tolerance_us:
            start = base.live_start_us
            return (f"Bad timestamp {i} in scm_timestamping {index}: "
                    f"expected={exp_us} ({exp_us - start}) actual={act_us} ({act_us - start}) "
                    f"start={start}")
    return None


def compare_opt_stats(index: int, want: bytes, got: bytes, tolerance_us: int) -> str | None:
    """Compare OPT_STATS attributes pairwise at the same offsets (scm_opt_stats_expect_eq)."""
    offset = 0
    while offset < len(want):
        e_len, e_type = struct.unpack_from("=HH", want, offset)
        a_len, a_type = struct.unpack_from("=HH", got.ljust(offset + 4, b"\0"), offset)
        if e_type != a_type:
            return f"Bad nla_type {index}: expected={e_type} actual={a_type}"
        if e_len != a_len:
            return f"Bad nla_len {index}: expected={e_len} actual={a_len}"
        if e_type >= len(NLA_SIZES) or e_type == 0:
            return f"Bad nla_type {index}: expected={e_type} actual={a_type}"
        size = NLA_SIZES[e_type]
        start = offset + NLA_HDRLEN
        ev = int.from_bytes(want[start:start + size], "little")
        av = int.from_bytes(got[start:start + size].ljust(size, b"\0"), "little")
        ignore = NLA_IGNORE & (2 ** (8 * size) - 1)
        if not _nla_matches(e_type, ev, av, ignore, tolerance_us):
            return f"Bad {NLA_NAMES[e_type]}: expected={ev} actual={av}"
        offset += (e_len + 3) & ~3
    return None


def _nla_matches(kind: int, ev: int, av: int, ignore: int, tolerance_us: int) -> bool:
    if ev == ignore:
        return True
    if kind in (1, 2, 3):  # times in µs: within tolerance, but exact about zero
        return abs(ev - av) <= tolerance_us if ev else av == 0
    return ev == av


__all__ = ["TimeBase", "compare_cmsgs", "compare_opt_stats"]
