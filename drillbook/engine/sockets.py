"""The socket under test and packetdrill's script<->live number mapping (socket.h).

packetdrill tests one socket at a time. Script packets never carry addresses: inbound packets
get the live 4-tuple of the socket under test, outbound packets are accepted only from it.

Sequence numbers are relative, asymmetrically:
- the kernel's side (seq of ``>``, ack of ``<``) counts from the kernel's live ISN;
- the peer's side (seq of ``<``, ack of ``>``) uses the script's SYN number as the real ISN.
A SYN maps with ISN differences; any other packet maps with the live ISN alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

MASK32 = 0xFFFFFFFF


class SocketState(enum.Enum):
    NEW = "new"
    PASSIVE_LISTENING = "listening"
    PASSIVE_PACKET_RECEIVED = "passive_packet_received"  # a child made by an inbound packet
    PASSIVE_SYNACK_SENT = "passive_synack_sent"
    PASSIVE_SYNACK_ACKED = "passive_synack_acked"
    ACTIVE_CONNECTING = "active_connecting"  # connect()/sendto() was called
    ACTIVE_SYN_SENT = "active_syn_sent"  # the script's outbound SYN was seen
    ACTIVE_SYN_ACKED = "active_syn_acked"


@dataclass
class Endpoint:
    ip: str = ""
    port: int = 0


@dataclass
class TcpHeaderMemo:
    """What reset_connection needs of the last injected or sniffed TCP header (live values)."""

    seq: int = 0
    ack_seq: int = 0
    window: int = 0
    syn: bool = False
    fin: bool = False
    ack: bool = False
    payload_len: int = 0


@dataclass
class TestSocket:
    """Mutable tracking state of the socket under test (engine-private)."""

    protocol: int  # IPPROTO_TCP / IPPROTO_UDP / IPPROTO_ICMP(V6)
    state: SocketState = SocketState.NEW
    script_fd: int = -1
    live_fd: int = -1
    live_local: Endpoint = field(default_factory=Endpoint)
    live_remote: Endpoint = field(default_factory=Endpoint)
    script_local_isn: int = 0
    live_local_isn: int = 0
    live_remote_isn: int = 0
    # TS val mapping (run_packet.c map_outbound_live_packet)
    ts_val_map: dict[int, int] = field(default_factory=dict)
    found_first_ts: bool = False
    first_script_ts_val: int = 0
    first_actual_ts_val: int = 0
    # IPv6 flow label mapping
    flowlabel_script: int = 0
    flowlabel_live: int = 0
    last_injected: TcpHeaderMemo | None = None
    last_outbound: TcpHeaderMemo | None = None

    # -- offsets (u32 arithmetic) ------------------------------------------------------------

    def remote_script_to_live(self, is_syn: bool) -> int:
        return 0 if is_syn else self.live_remote_isn

    def local_script_to_live(self, is_syn: bool) -> int:
        if is_syn:
            return (self.live_local_isn - self.script_local_isn) & MASK32
        return self.live_local_isn

    def remote_live_to_script(self, is_syn: bool) -> int:
        return (-self.remote_script_to_live(is_syn)) & MASK32

    def local_live_to_script(self, is_syn: bool) -> int:
        return (-self.local_script_to_live(is_syn)) & MASK32

    def matches_outbound(self, src_ip: str, sport: int, dst_ip: str, dport: int) -> bool:
        return (
            src_ip == self.live_local.ip
            and sport == self.live_local.port
            and dst_ip == self.live_remote.ip
            and dport == self.live_remote.port
        )


def add32(value: int, offset: int) -> int:
    return (value + offset) & MASK32
