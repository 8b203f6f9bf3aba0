"""Packets in packetdrill's short notation (packet_to_string.c, DUMP_SHORT).

``S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>``: flags in tcpdump order, the
sequence range, ``ack`` when the ACK bit is set, ``win`` unless the script left it unchecked,
then the options. Numbers are in script space when the caller has mapped them.
"""

from __future__ import annotations

from drillbook.wire.tcp import (
    TCP_ACK,
    TCP_AE,
    TCP_CWR,
    TCP_ECE,
    TCP_FLAG_LETTERS,
)
from drillbook.wire.tcp_options import (
    TCP_FASTOPEN_MAGIC,
    TCPOPT_EOL,
    TCPOPT_EXP,
    TCPOPT_FASTOPEN,
    TCPOPT_MSS,
    TCPOPT_NOP,
    TCPOPT_SACK,
    TCPOPT_SACK_PERMITTED,
    TCPOPT_TIMESTAMP,
    TCPOPT_WSCALE,
    TcpOptionValue,
)

TCPOPT_MD5 = 19
TCPOPT_ACCECN0 = 172
TCPOPT_ACCECN1 = 174

# FIN SYN RST PSH ACK URG as packetdrill prints them; the ECN letters follow, or an ACE digit.
_FLAG_LETTERS = TCP_FLAG_LETTERS[:6]


def flags_text(flags: int, ace: bool = False) -> str:
    """The flag letters packetdrill prints, in its order."""
    out = [letter for bit, letter in _FLAG_LETTERS if flags & bit]
    if ace:
        value = (1 if flags & TCP_ECE else 0) | (2 if flags & TCP_CWR else 0)
        value |= 4 if flags & TCP_AE else 0
        out.append(str(value))
    else:
        if flags & TCP_ECE:
            out.append("E")
        if flags & TCP_CWR:
            out.append("W")
        if flags & TCP_AE:
            out.append("A")
    return "".join(out)


def option_text(option: TcpOptionValue) -> str:
    """One option as packetdrill prints it (tcp_options_to_string.c)."""
    kind, data = option.kind, option.data
    if kind == TCPOPT_EOL:
        return "eol"
    if kind == TCPOPT_NOP:
        return "nop"
    if kind == TCPOPT_MSS and len(data) == 2:
        return f"mss {int.from_bytes(data, 'big')}"
    if kind == TCPOPT_WSCALE and len(data) == 1:
        return f"wscale {data[0]}"
    if kind == TCPOPT_SACK_PERMITTED:
        return "sackOK"
    if kind == TCPOPT_SACK:
        blocks = [
            f"{int.from_bytes(data[i : i + 4], 'big')}:{int.from_bytes(data[i + 4 : i + 8], 'big')}"
            for i in range(0, len(data) - 7, 8)
        ]
        return "sack " + " ".join(blocks)
    if kind == TCPOPT_TIMESTAMP and len(data) == 8:
        val = int.from_bytes(data[:4], "big")
        ecr = int.from_bytes(data[4:], "big")
        return f"TS val {val} ecr {ecr}"
    if kind == TCPOPT_FASTOPEN:
        return "FO" + (f" {data.hex()}" if data else "")
    if (
        kind == TCPOPT_EXP
        and len(data) >= 2
        and int.from_bytes(data[:2], "big") == TCP_FASTOPEN_MAGIC
    ):
        cookie = data[2:]
        return "FOEXP" + (f" {cookie.hex()}" if cookie else "")
    if kind == TCPOPT_MD5:
        return f"md5 {data.hex()}"
    if kind in (TCPOPT_ACCECN0, TCPOPT_ACCECN1):
        labels = ("e0b", "ceb", "e1b") if kind == TCPOPT_ACCECN0 else ("e1b", "ceb", "e0b")
        fields = [int.from_bytes(data[i : i + 3], "big") for i in range(0, len(data) - 2, 3)]
        return "ECN " + " ".join(f"{labels[i]} {value}" for i, value in enumerate(fields))
    return f"kind {kind} len {len(data) + 2}"


def options_text(options: tuple[TcpOptionValue, ...]) -> str:
    return ",".join(option_text(option) for option in options)


def tcp_summary(
    flags: int,
    seq: int,
    payload_len: int,
    ack: int | None,
    window: int | None,
    options: tuple[TcpOptionValue, ...],
    ace: bool = False,
) -> str:
    """``flags start:end(len) [ack N] [win N] [<options>]`` (trailing space trimmed)."""
    parts = [flags_text(flags, ace), f"{seq}:{(seq + payload_len) & 0xFFFFFFFF}({payload_len})"]
    if flags & TCP_ACK and ack is not None:
        parts.append(f"ack {ack}")
    if window is not None:
        parts.append(f"win {window}")
    if options:
        parts.append(f"<{options_text(options)}>")
    return " ".join(parts)
