"""msghdr, iovec and cmsg: building them for sendmsg/recvmsg and checking what recvmsg got.

The expected control messages are laid out exactly as packetdrill lays them out (``cmsg_new``
in run_system_call.c), because their lengths are compared: an int is 4 bytes, a
``scm_timestamping`` 48, a ``sock_extended_err`` 16 plus the offender's sockaddr (sockaddr_in
for SOL_IP, sockaddr_in6 otherwise), an NLA list its netlink attributes. recvmsg then gets a
control buffer of exactly the expected size, so extra messages show up as MSG_CTRUNC.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.runtime.syscalls.args import (
    SyscallFailure,
    bad_type,
    get_int,
    get_s8,
    get_s32,
    positional,
    struct_kind,
    to_c_int,
)
from drillbook.runtime.syscalls.libc import (
    CMSG_HEADER_SIZE,
    SOCKADDR_STORAGE_SIZE,
    IoVec,
    MsgHdr,
    cmsg_align,
    cmsg_len,
    cmsg_space,
)
from drillbook.script.model import EllipsisExpr, Expr, IntExpr, ListExpr, StructExpr
from drillbook.script.symbols import lookup

MSGHDR_MAX_CONTROLLEN = 2000  # packetdrill's arbitrary maximum cmsg length
SOL_IP, SOL_IPV6, SOL_SOCKET = 0, 41, 1
IP_RECVERR, IPV6_RECVERR = 11, 25
SCM_TIMESTAMPING, SCM_TIMESTAMPING_OPT_STATS = 37, 54
NLA_HDRLEN = 4
NLA_IGNORE = 0xFFFFFFFF  # packetdrill's ~0U for `...` values, truncated to the field width

# TCP_NLA_* attribute sizes in bytes, indexed by type (linux/tcp.h; packetdrill's tcp_nla[]).
NLA_SIZES: tuple[int, ...] = (4, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 1, 1, 4, 1, 4, 4, 4, 8, 8, 4, 4, 4)
NLA_NAMES: tuple[str, ...] = (
    "TCP_NLA_PAD", "TCP_NLA_BUSY", "TCP_NLA_RWND_LIMITED", "TCP_NLA_SNDBUF_LIMITED",
    "TCP_NLA_DATA_SEGS_OUT", "TCP_NLA_TOTAL_RETRANS", "TCP_NLA_PACING_RATE",
    "TCP_NLA_DELIVERY_RATE", "TCP_NLA_SND_CWND", "TCP_NLA_REORDERING", "TCP_NLA_MIN_RTT",
    "TCP_NLA_RECUR_RETRANS", "TCP_NLA_DELIVERY_RATE_APP_LMT", "TCP_NLA_SNDQ_SIZE",
    "TCP_NLA_CA_STATE", "TCP_NLA_SND_SSTHRESH", "TCP_NLA_DELIVERED", "TCP_NLA_DELIVERED_CE",
    "TCP_NLA_BYTES_SENT", "TCP_NLA_BYTES_RETRANS", "TCP_NLA_DSACK_DUPS", "TCP_NLA_REORD_SEEN",
    "TCP_NLA_SRTT",
)


@dataclass(frozen=True)
class Cmsg:
    """One control message: level, type, cmsg_len and its data bytes."""

    level: int
    type: int
    length: int
    data: bytes


@dataclass
class LiveMsg:
    """A ctypes msghdr and everything it points to (kept alive while the kernel uses it)."""

    header: MsgHdr
    iov_count: int
    keep: list[object]
    control: ctypes.Array[ctypes.c_char] | None = None


# --------------------------------------------------------------------------------------------
# iovecs


def iovec_lengths(expr: Expr) -> list[int]:
    """The lengths of a ``[{..., len}, ...]`` iovec list (packetdrill's iovec_new)."""
    if not isinstance(expr, ListExpr):
        raise bad_type(expr, "list")
    lengths = []
    for item in expr.items:
        if not isinstance(item, StructExpr) or struct_kind(item) != "iovec":
            raise bad_type(item, "iovec")
        lengths.append(get_int(positional(item)[1]))
    return lengths


def build_iovecs(lengths: Sequence[int], keep: list[object]) -> ctypes.Array[IoVec]:
    """A C iovec array of zero-filled buffers; buffers are appended to ``keep``."""
    array = (IoVec * max(len(lengths), 1))()
    for index, length in enumerate(lengths):
        array[index].iov_len = length & 0xFFFFFFFFFFFFFFFF
        if length < 0:
            continue  # a NULL base: the kernel refuses it rather than overrunning a buffer
        buffer = ctypes.create_string_buffer(length)
        keep.append(buffer)
        array[index].iov_base = ctypes.cast(buffer, ctypes.c_void_p)
    keep.append(array)
    return array


# --------------------------------------------------------------------------------------------
# Expected cmsgs


def _nla_key(name: str | None) -> int:
    if name is None:
        raise SyscallFailure("Bad type; actual: integer expected: binary_expression")
    value = lookup(name)
    if value is None:
        raise SyscallFailure(f"unknown symbol: '{name}'")
    return value


def _nla_items(expr: Expr) -> list[tuple[int, Expr]]:
    """``{TCP_NLA_X=v, ...}`` as (type, value) pairs."""
    if isinstance(expr, StructExpr):
        return [(_nla_key(member.name), member.value) for member in expr.fields]
    assert isinstance(expr, ListExpr)
    pairs: list[tuple[int, Expr]] = []
    for item in expr.items:
        if not isinstance(item, StructExpr) or len(item.fields) != 1:
            raise bad_type(item, "binary_expression")
        pairs.extend(_nla_items(item))
    return pairs


def nla_bytes(expr: Expr) -> bytes:
    """Netlink attributes for an OPT_STATS list; ``...`` values become the ignore marker."""
    out = bytearray()
    for key, value in _nla_items(expr):
        if not isinstance(value, IntExpr | EllipsisExpr):
            raise SyscallFailure("values must be numeric or ellipsis")
        if key < 0 or key >= len(NLA_SIZES):
            raise SyscallFailure(f"bad NLA type {key}\n")
        size = NLA_SIZES[key]
        number = value.value if isinstance(value, IntExpr) else NLA_IGNORE
        if isinstance(value, IntExpr) and size == 1 and not 0 <= number <= 0xFF:
            raise SyscallFailure("out of bound u8 value specified\n")
        if isinstance(value, IntExpr) and size == 4 and not 0 <= number <= 0xFFFFFFFF:
            raise SyscallFailure("out of bound u32 value specified\n")
        payload = (number & (2 ** (8 * size) - 1)).to_bytes(size, "little")
        attribute = struct.pack("=HH", NLA_HDRLEN + size, key) + payload
        out += attribute + bytes(-len(attribute) % 4)
    return bytes(out)


def _cmsg_data(level: int, data: Expr) -> bytes:
    if isinstance(data, IntExpr):
        return struct.pack("=i", to_c_int(get_s32(data)))
    if isinstance(data, ListExpr):
        return nla_bytes(data)
    if not isinstance(data, StructExpr):
        raise SyscallFailure("Unrecognized type for cmsg_data")
    kind = struct_kind(data)
    if kind == "scm_timestamping":
        sec, nsec = (get_int(v) for v in positional(data)[:2])
        return struct.pack("=qq", sec, nsec) + bytes(32)
    if kind == "sock_extended_err":
        return _extended_err(level, data)
    if kind == "list":
        return nla_bytes(data)
    raise SyscallFailure("Unrecognized type for cmsg_data")


def _extended_err(level: int, data: StructExpr) -> bytes:
    values = {member.name: member.value for member in data.fields}
    packed = struct.pack(
        "=IBBBxII",
        get_s32(values["ee_errno"]) & 0xFFFFFFFF,
        get_s8(values["ee_origin"]) & 0xFF,
        get_s8(values["ee_type"]) & 0xFF,
        get_s8(values["ee_code"]) & 0xFF,
        get_s32(values["ee_info"]) & 0xFFFFFFFF,
        get_s32(values["ee_data"]) & 0xFFFFFFFF,
    )
    # ip(v6)_recv_error appends the offender's address to the struct.
    return packed + bytes(16 if level == SOL_IP else 28)


def expected_cmsgs(expr: Expr | None) -> list[Cmsg]:
    """The cmsgs a ``msg_control=[...]`` list describes, laid out as packetdrill does."""
    if expr is None:
        return []
    if not isinstance(expr, ListExpr):
        raise bad_type(expr, "list")
    result = []
    for item in expr.items:
        if not isinstance(item, StructExpr) or struct_kind(item) != "cmsg":
            raise bad_type(item, "cmsg")
        values = {member.name: member.value for member in item.fields}
        level = to_c_int(get_s32(values["cmsg_level"]))
        kind = to_c_int(get_s32(values["cmsg_type"]))
        data = _cmsg_data(level, values["cmsg_data"])
        result.append(Cmsg(level, kind, cmsg_len(len(data)), data))
    return result


def control_buffer(cmsgs: Sequence[Cmsg]) -> tuple[ctypes.Array[ctypes.c_char], int]:
    """A control buffer holding ``cmsgs`` and its msg_controllen (the sum of CMSG_SPACEs)."""
    buffer = ctypes.create_string_buffer(MSGHDR_MAX_CONTROLLEN)
    offset = 0
    for cmsg in cmsgs:
        if offset + cmsg_space(len(cmsg.data)) > MSGHDR_MAX_CONTROLLEN:
            raise SyscallFailure(f"msg_control longer than {MSGHDR_MAX_CONTROLLEN} bytes")
        struct.pack_into("=Qii", buffer, offset, cmsg.length, cmsg.level, cmsg.type)
        ctypes.memmove(ctypes.addressof(buffer) + offset + CMSG_HEADER_SIZE, cmsg.data,
                       len(cmsg.data))
        offset += cmsg_space(len(cmsg.data))
    return buffer, offset


def parse_cmsgs(buffer: bytes, controllen: int) -> list[Cmsg]:
    """Walk a control buffer as CMSG_FIRSTHDR/CMSG_NXTHDR do."""
    result = []
    offset = 0
    while offset + CMSG_HEADER_SIZE <= controllen:
        length, level, kind = struct.unpack_from("=Qii", buffer, offset)
        if length < CMSG_HEADER_SIZE or offset + length > controllen:
            break
        result.append(Cmsg(level, kind, length, bytes(buffer[offset + 16:offset + length])))
        offset += cmsg_align(length)
    return result


# --------------------------------------------------------------------------------------------
# msghdr


@dataclass(frozen=True)
class MsgSpec:
    """The parts of a script ``{msg_name(...)=..., msg_iov(N)=[...], ...}`` packetdrill uses."""

    has_name: bool
    iov_lengths: tuple[int, ...]
    flags: int
    cmsgs: tuple[Cmsg, ...]


def msg_spec(expr: Expr) -> MsgSpec:
    """Read a msghdr expression with packetdrill's checks (msghdr_new)."""
    if not isinstance(expr, StructExpr) or struct_kind(expr) != "msghdr":
        raise bad_type(expr, "msghdr")
    members = {member.name: member for member in expr.fields}
    iov = members.get("msg_iov")
    lengths = iovec_lengths(iov.value) if iov is not None else []
    if iov is not None and iov.size is not None:
        declared = to_c_int(get_s32(iov.size))
        if declared != len(lengths):
            raise SyscallFailure(
                f"msg_iovlen {declared} does not match {len(lengths)}-element iovec array"
            )
    flags_member = members.get("msg_flags")
    flags = to_c_int(get_s32(flags_member.value)) if flags_member is not None else 0
    control = members.get("msg_control")
    cmsgs = expected_cmsgs(control.value if control is not None else None)
    return MsgSpec("msg_name" in members, tuple(lengths), flags, tuple(cmsgs))


def build_msg(spec: MsgSpec, name: bytes | None) -> LiveMsg:
    """A live msghdr for ``spec``; ``name`` is the sockaddr to put in msg_name, if any."""
    keep: list[object] = []
    header = MsgHdr()
    if spec.has_name:
        name_buffer = ctypes.create_string_buffer(SOCKADDR_STORAGE_SIZE)
        length = SOCKADDR_STORAGE_SIZE
        if name is not None:
            ctypes.memmove(name_buffer, name, len(name))
            length = len(name)
        keep.append(name_buffer)
        header.msg_name = ctypes.cast(name_buffer, ctypes.c_void_p)
        header.msg_namelen = length
    iovecs = build_iovecs(spec.iov_lengths, keep)
    header.msg_iov = ctypes.cast(iovecs, ctypes.c_void_p)
    header.msg_iovlen = len(spec.iov_lengths)
    control, controllen = control_buffer(spec.cmsgs)
    keep.append(control)
    header.msg_control = ctypes.cast(control, ctypes.c_void_p)
    header.msg_controllen = controllen
    header.msg_flags = spec.flags
    return LiveMsg(header, len(spec.iov_lengths), keep, control)


__all__ = [
    "NLA_NAMES",
    "NLA_SIZES",
    "Cmsg",
    "LiveMsg",
    "MsgSpec",
    "build_iovecs",
    "build_msg",
    "control_buffer",
    "expected_cmsgs",
    "iovec_lengths",
    "msg_spec",
    "nla_bytes",
    "parse_cmsgs",
]
