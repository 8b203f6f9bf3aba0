"""IP protocol numbers (IANA; <netinet/in.h>): the one copy every layer imports."""

from __future__ import annotations

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

__all__ = ["IPPROTO_ICMP", "IPPROTO_ICMPV6", "IPPROTO_TCP", "IPPROTO_UDP"]
