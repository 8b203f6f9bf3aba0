"""A script packet as the values packetdrill builds from it (packet construction in the C
parser): flags, header lengths, options as wire bytes, and which fields go unchecked."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from drillbook.script.model import PacketSpec, TcpOption, TcpSpec
from drillbook.wire import tcp_options as opt
from drillbook.wire.tcp import (
    TCP_ACK,
    TCP_AE,
    TCP_CWR,
    TCP_ECE,
    TCP_FIN,
    TCP_PSH,
    TCP_RST,
    TCP_SYN,
    TCP_URG,
)
from drillbook.wire.tcp_options import TcpOptionValue

_LETTERS = {
    "F": TCP_FIN,
    "S": TCP_SYN,
    "R": TCP_RST,
    "P": TCP_PSH,
    ".": TCP_ACK,
    "U": TCP_URG,
    "E": TCP_ECE,
    "W": TCP_CWR,
    "A": TCP_AE,
}

ECN_BITS = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}


@dataclass(frozen=True)
class ExpectedTcp:
    flags: int
    ace: bool  # flags written with an ACE digit: compare the 3-bit field, print a digit
    seq: int
    payload_len: int
    ack: int
    window: int | None  # None: not checked (omitted on an outbound line)
    urgent: int
    options: tuple[TcpOptionValue, ...]
    any_options: bool  # `<...>`

    @property
    def options_len(self) -> int:
        return sum(option.wire_length for option in self.options)


def tcp_flags(text: str) -> tuple[int, bool]:
    """Flag letters to header bits; a digit is the AccECN ACE field (AE/CWR/ECE = 4/2/1)."""
    flags = 0
    ace = False
    for char in text:
        if char.isdigit():
            value = int(char)
            ace = True
            flags |= (TCP_AE if value & 4 else 0) | (TCP_CWR if value & 2 else 0)
            flags |= TCP_ECE if value & 1 else 0
        elif char in _LETTERS:
            flags |= _LETTERS[char]
    return flags, ace


def option_value(option: TcpOption) -> TcpOptionValue:
    """The model's option as the bytes packetdrill writes (in script order)."""
    kind = option.kind
    if kind == "mss":
        return opt.mss(option.value or 0)
    if kind == "nop":
        return opt.nop()
    if kind == "eol":
        return opt.eol()
    if kind == "sackOK":
        return opt.sack_ok()
    if kind == "wscale":
        return opt.wscale(option.value or 0)
    if kind == "TS":
        return opt.timestamp(option.val or 0, option.ecr or 0)
    if kind == "sack":
        return opt.sack(*option.blocks)
    if kind == "FO":
        return opt.fast_open(bytes.fromhex(option.cookie or ""))
    if kind == "FOEXP":
        return opt.fast_open_exp(bytes.fromhex(option.cookie or ""))
    if kind == "md5":
        digest = bytes.fromhex(option.cookie or "")
        return opt.md5(digest.ljust(opt.MD5_DIGEST_LEN, b"\0"))
    if kind == "ECN":
        order = 0 if option.ecn_fields and option.ecn_fields[0][0] == "e0b" else 1
        return opt.accecn(order, *(value for _name, value in option.ecn_fields))
    raise ValueError(f"unknown TCP option {kind!r}")


@functools.lru_cache(maxsize=4096)
def expected_tcp(spec: TcpSpec) -> ExpectedTcp:
    """The wire values of a script TCP packet (cached: the hot path asks for it again)."""
    flags, ace = tcp_flags(spec.flags)
    options = tuple(option_value(o) for o in spec.options) if spec.options else ()
    return ExpectedTcp(
        flags=flags,
        ace=ace,
        seq=spec.start_seq & 0xFFFFFFFF,
        payload_len=spec.payload_len,
        ack=(spec.ack or 0) & 0xFFFFFFFF,
        window=spec.window,
        urgent=spec.urgent or 0,
        options=options,
        any_options=spec.any_options,
    )


def ecn_bits(packet: PacketSpec) -> int:
    """The two ECN bits an inbound packet carries (0 unless written)."""
    ecn = packet.ip.ecn
    tos = packet.ip.tos or 0
    if ecn is not None and ecn in ECN_BITS:
        return (tos & ~0x3) | ECN_BITS[ecn]
    return tos


