"""What differs in a whole packet, in one sentence a student can read.

packetdrill names the first field that differs (``ipv4_total_length: expected: 52 vs actual:
48``); the cause is often elsewhere in the packet (a missing TCP option makes it shorter). This
compares the script's packet with the kernel's, field by field and option by option:

    the kernel's SYN-ACK is 4 bytes shorter: it carries no sackOK option (script:
    <mss 1460,nop,nop,sackOK>, kernel: <mss 1460>)
"""

from __future__ import annotations

from collections import Counter

from drillbook.trace.model import PacketRecord

OPTION_BYTES = {"mss": 4, "nop": 1, "eol": 1, "sackOK": 2, "wscale": 3, "TS": 10, "md5": 18}
PADDING_KINDS = {"nop", "eol"}


def packet_name(packet: PacketRecord) -> str:
    flags = packet.flags
    if "R" in flags:
        return "RST"
    if "S" in flags:
        return "SYN-ACK" if "." in flags else "SYN"
    if "F" in flags:
        return "FIN"
    if packet.payload_len:
        return "data segment"
    return "ACK"


def _option_bytes(packet: PacketRecord) -> int | None:
    total = 0
    for option in packet.options:
        if option.kind == "sack":
            total += 2 + 8 * len(option.text.split()[1:])
        elif option.kind in OPTION_BYTES:
            total += OPTION_BYTES[option.kind]
        else:
            return None  # a length this table does not know (FO cookies, experimental)
    return total


def _size(packet: PacketRecord) -> int | None:
    options = _option_bytes(packet)
    return None if options is None else options + packet.payload_len


def _option_differences(expected: PacketRecord, actual: PacketRecord) -> list[str]:
    wanted = Counter(o.kind for o in expected.options if o.kind not in PADDING_KINDS)
    got = Counter(o.kind for o in actual.options if o.kind not in PADDING_KINDS)
    found = []
    for kind in wanted:
        if got[kind] < wanted[kind]:
            found.append(f"it carries no {kind} option")
    for kind in got:
        if wanted[kind] < got[kind]:
            found.append(f"it carries a {kind} option the script does not expect")
    texts = {o.kind: o.text for o in actual.options}
    for option in expected.options:
        mine = texts.get(option.kind)
        if option.kind not in PADDING_KINDS and mine is not None and mine != option.text:
            found.append(f"its {option.kind} is {_value(mine)}, not {_value(option.text)}")
    return found


def _value(text: str) -> str:
    return text.split(" ", 1)[1] if " " in text else text


def packet_difference(expected: PacketRecord, actual: PacketRecord) -> str | None:
    """One sentence on how the kernel's packet differs from the script's, or None."""
    differences = []
    if expected.flags != actual.flags:
        differences.append(f"its flags are {actual.flags}, not {expected.flags}")
    if expected.payload_len != actual.payload_len:
        differences.append(
            f"it carries {actual.payload_len} bytes of data, not {expected.payload_len}"
        )
    if expected.seq != actual.seq:
        differences.append(f"it starts at sequence {actual.seq}, not {expected.seq}")
    if expected.ack is not None and actual.ack is not None and expected.ack != actual.ack:
        differences.append(f"it acknowledges {actual.ack}, not {expected.ack}")
    windows = (expected.window, actual.window)
    if None not in windows and windows[0] != windows[1]:
        differences.append(f"its window is {actual.window}, not {expected.window}")
    options_known = "<...>" not in expected.summary
    option_differences = _option_differences(expected, actual) if options_known else []
    differences.extend(option_differences)
    if not differences:
        return None
    name = f"the kernel's {packet_name(actual)}"
    head = f"{name} differs"
    expected_size, actual_size = _size(expected), _size(actual)
    if options_known and expected_size is not None and actual_size is not None:
        delta = actual_size - expected_size
        if delta:
            word = "longer" if delta > 0 else "shorter"
            head = f"{name} is {abs(delta)} byte{'s' if abs(delta) != 1 else ''} {word}"
    joined = ", and ".join(differences) if len(differences) < 3 else "; ".join(differences)
    sentence = f"{head}: {joined}"
    if option_differences:
        sentence += f" (script: <{_options(expected)}>, kernel: <{_options(actual)}>)"
    return sentence


def _options(packet: PacketRecord) -> str:
    return ",".join(o.text for o in packet.options)
