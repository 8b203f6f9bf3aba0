"""ICMP type and code names, per IP family, as packetdrill's ``icmp_packet.c`` spells them.

A script's ``icmp unreachable frag_needed`` is resolved when the script is parsed, with the
table of the wire family (ipv4 and ipv4-mapped-ipv6 send ICMPv4, ipv6 sends ICMPv6), so the
same line can be valid in one IP mode and a semantic error ("bad ICMP code") in another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

_V4_UNREACHABLE: Mapping[str, int] = MappingProxyType({
    "net_unreachable": 0, "host_unreachable": 1, "protocol_unreachable": 2,
    "port_unreachable": 3, "frag_needed": 4, "source_route_failed": 5, "net_unknown": 6,
    "host_unknown": 7, "source_host_isolated": 8, "net_prohibited": 9, "host_prohibited": 10,
    "net_unreachable_for_tos": 11, "host_unreachable_for_tos": 12, "packet_filtered": 13,
    "precedence_violation": 14, "precedence_cutoff": 15,
})

# name -> (type, code table or None)
ICMPV4_TYPES: Mapping[str, tuple[int, Mapping[str, int] | None]] = MappingProxyType({
    "echo_reply": (0, None), "unreachable": (3, _V4_UNREACHABLE), "source_quench": (4, None),
    "redirect": (5, None), "echo_request": (8, None), "time_exceeded": (11, None),
    "parameter_problem": (12, None), "timestamp_request": (13, None),
    "timestamp_reply": (14, None), "information_request": (15, None),
    "information_reply": (16, None), "address_mask_request": (17, None),
    "address_mask_reply": (18, None),
})

ICMPV6_TYPES: Mapping[str, tuple[int, Mapping[str, int] | None]] = MappingProxyType({
    "unreachable": (1, MappingProxyType({
        "net_unreachable": 0, "no_route": 0, "admin_prohibited": 1, "not_neighbour": 2,
        "address_unreachable": 3, "port_unreachable": 4,
    })),
    "packet_too_big": (2, None),
    "time_exceeded": (3, MappingProxyType({"exceeded_hop_limit": 0, "exceeded_frag_time": 1})),
    "parameter_problem": (4, MappingProxyType({
        "header_field": 0, "unknown_next_header": 1, "unknown_option": 2,
    })),
    "echo_request": (128, None),
    "echo_reply": (129, None),
})

ICMPV4_UNREACH, ICMPV4_FRAG_NEEDED, ICMPV6_PACKET_TOO_BIG = 3, 4, 2

# sscanf("type_%d") accepts a prefix: "type_3x" is type 3.
_NUMBERED = re.compile(r"[ \t\n]*([+-]?[0-9]+)")


def _numbered(text: str, prefix: str) -> int | None:
    if not text.startswith(prefix):
        return None
    match = _NUMBERED.match(text, len(prefix))
    return int(match.group(1)) if match else None


def resolve_icmp(
    type_name: str, code_name: str | None, ipv6: bool
) -> tuple[int | None, int | None]:
    """(type, code) for the names, or None where packetdrill says "bad ICMP type/code"."""
    table = ICMPV6_TYPES if ipv6 else ICMPV4_TYPES
    codes: Mapping[str, int] | None = None
    type_value = _numbered(type_name, "type_")
    if type_value is None and type_name in table:
        type_value, codes = table[type_name]
    if type_value is None or not 0 <= type_value <= 255:
        return None, None
    if code_name is None:
        return type_value, 0
    code_value = _numbered(code_name, "code_")
    if code_value is None and codes is not None:
        code_value = codes.get(code_name)
    if code_value is None or not 0 <= code_value <= 255:
        return type_value, None
    return type_value, code_value
