"""Decoding ``struct tcp_info``, ``TCP_CC_INFO`` and ``SO_MEMINFO`` as packetdrill names them.

packetdrill's ``%{ }%`` blocks see the socket under test through three getsockopt reads taken at
the block's time (reference §4.9): TCP_INFO as ``tcpi_*`` variables, TCP_CC_INFO as ``bbr_*``,
``dctcp_*`` and vegas variables, and SO_MEMINFO as ``SK_MEMINFO_*``. The layouts below are Linux
6.18's uapi ``linux/tcp.h`` and ``linux/inet_diag.h`` (x86-64, natural alignment). A kernel may
return fewer bytes than the newest layout: fields past the returned length are left out.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from drillbook.script.symbols import SYMBOLS

SOL_TCP = SYMBOLS["SOL_TCP"]
SOL_SOCKET = SYMBOLS["SOL_SOCKET"]
TCP_INFO = SYMBOLS["TCP_INFO"]
TCP_CC_INFO = 26
SO_MEMINFO = 55

# (name, struct code) in declaration order. "_wscale" and "_flags8" are bitfield bytes and
# "_ecn_bits" the trailing 32-bit bitfield word; decode() splits them into packetdrill's names.
_TCP_INFO_FIELDS: tuple[tuple[str, str], ...] = (
    ("tcpi_state", "B"), ("tcpi_ca_state", "B"), ("tcpi_retransmits", "B"),
    ("tcpi_probes", "B"), ("tcpi_backoff", "B"), ("tcpi_options", "B"),
    ("_wscale", "B"), ("_flags8", "B"),
    ("tcpi_rto", "I"), ("tcpi_ato", "I"), ("tcpi_snd_mss", "I"), ("tcpi_rcv_mss", "I"),
    ("tcpi_unacked", "I"), ("tcpi_sacked", "I"), ("tcpi_lost", "I"), ("tcpi_retrans", "I"),
    ("tcpi_fackets", "I"),
    ("tcpi_last_data_sent", "I"), ("tcpi_last_ack_sent", "I"), ("tcpi_last_data_recv", "I"),
    ("tcpi_last_ack_recv", "I"),
    ("tcpi_pmtu", "I"), ("tcpi_rcv_ssthresh", "I"), ("tcpi_rtt", "I"), ("tcpi_rttvar", "I"),
    ("tcpi_snd_ssthresh", "I"), ("tcpi_snd_cwnd", "I"), ("tcpi_advmss", "I"),
    ("tcpi_reordering", "I"),
    ("tcpi_rcv_rtt", "I"), ("tcpi_rcv_space", "I"),
    ("tcpi_total_retrans", "I"),
    ("tcpi_pacing_rate", "Q"), ("tcpi_max_pacing_rate", "Q"), ("tcpi_bytes_acked", "Q"),
    ("tcpi_bytes_received", "Q"),
    ("tcpi_segs_out", "I"), ("tcpi_segs_in", "I"),
    ("tcpi_notsent_bytes", "I"), ("tcpi_min_rtt", "I"), ("tcpi_data_segs_in", "I"),
    ("tcpi_data_segs_out", "I"),
    ("tcpi_delivery_rate", "Q"),
    ("tcpi_busy_time", "Q"), ("tcpi_rwnd_limited", "Q"), ("tcpi_sndbuf_limited", "Q"),
    ("tcpi_delivered", "I"), ("tcpi_delivered_ce", "I"),
    ("tcpi_bytes_sent", "Q"), ("tcpi_bytes_retrans", "Q"),
    ("tcpi_dsack_dups", "I"), ("tcpi_reord_seen", "I"),
    ("tcpi_rcv_ooopack", "I"),
    ("tcpi_snd_wnd", "I"), ("tcpi_rcv_wnd", "I"),
    ("tcpi_rehash", "I"),
    ("tcpi_total_rto", "H"), ("tcpi_total_rto_recoveries", "H"),
    ("tcpi_total_rto_time", "I"),
    ("tcpi_received_ce", "I"),
    ("tcpi_delivered_e1_bytes", "I"), ("tcpi_delivered_e0_bytes", "I"),
    ("tcpi_delivered_ce_bytes", "I"),
    ("tcpi_received_e1_bytes", "I"), ("tcpi_received_e0_bytes", "I"),
    ("tcpi_received_ce_bytes", "I"),
    ("_ecn_bits", "I"),
)


def _offsets(fields: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, int], ...]:
    """Each field's offset under C's natural alignment (what struct's '@' mode computes)."""
    result = []
    layout = "@"
    for name, code in fields:
        offset = struct.calcsize(layout + "0" + code)  # aligned start of the next member
        result.append((name, code, offset))
        layout += code
    return tuple(result)


_TCP_INFO_LAYOUT = _offsets(_TCP_INFO_FIELDS)
TCP_INFO_SIZE = struct.calcsize("@" + "".join(code for _, code in _TCP_INFO_FIELDS) + "0Q")
"""sizeof(struct tcp_info) on Linux 6.18 x86-64 (280 bytes)."""

# packetdrill's code.c emits these constants before each TCP_INFO dump (values from
# netinet/tcp.h's TCP_* state enum, the kernel's tcp_ca_state enum and TCPI_OPT_* flags).
CODE_CONSTANTS: Mapping[str, int] = MappingProxyType({
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11,
    "TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3,
    "TCP_CA_Loss": 4,
    "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
    "TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32, "TCPI_OPT_USEC_TS": 64,
    "TCPI_OPT_TFO_CHILD": 128,
})
"""The ``name = value`` constants packetdrill's Python preamble defines for ``%{ }%``."""

# The tcpi_* names code.c emits, in its order (it leaves out tcpi_fastopen_client_fail).
CODE_TCP_INFO_NAMES: tuple[str, ...] = (
    "tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes", "tcpi_backoff",
    "tcpi_options", "tcpi_snd_wscale", "tcpi_rcv_wscale", "tcpi_delivery_rate_app_limited",
    "tcpi_rto", "tcpi_ato", "tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_unacked", "tcpi_sacked",
    "tcpi_lost", "tcpi_retrans", "tcpi_fackets", "tcpi_last_data_sent", "tcpi_last_ack_sent",
    "tcpi_last_data_recv", "tcpi_last_ack_recv", "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rtt",
    "tcpi_rttvar", "tcpi_snd_ssthresh", "tcpi_snd_cwnd", "tcpi_advmss", "tcpi_reordering",
    "tcpi_total_retrans", "tcpi_pacing_rate", "tcpi_max_pacing_rate", "tcpi_rcv_rtt",
    "tcpi_rcv_space", "tcpi_bytes_acked", "tcpi_bytes_received", "tcpi_segs_out",
    "tcpi_segs_in", "tcpi_notsent_bytes", "tcpi_min_rtt", "tcpi_data_segs_in",
    "tcpi_data_segs_out", "tcpi_delivery_rate", "tcpi_busy_time", "tcpi_rwnd_limited",
    "tcpi_sndbuf_limited", "tcpi_delivered", "tcpi_delivered_ce", "tcpi_bytes_sent",
    "tcpi_bytes_retrans", "tcpi_dsack_dups", "tcpi_reord_seen", "tcpi_rcv_ooopack",
    "tcpi_snd_wnd", "tcpi_rcv_wnd", "tcpi_rehash", "tcpi_total_rto",
    "tcpi_total_rto_recoveries", "tcpi_total_rto_time", "tcpi_ecn_mode",
    "tcpi_accecn_opt_seen", "tcpi_accecn_fail_mode", "tcpi_options2", "tcpi_received_ce",
    "tcpi_delivered_e1_bytes", "tcpi_delivered_e0_bytes", "tcpi_delivered_ce_bytes",
    "tcpi_received_e1_bytes", "tcpi_received_e0_bytes", "tcpi_received_ce_bytes",
)

# SO_MEMINFO: an array of u32 indexed by the SK_MEMINFO_* enum (linux/sock_diag.h).
SK_MEMINFO_NAMES: tuple[str, ...] = (
    "SK_MEMINFO_RMEM_ALLOC", "SK_MEMINFO_RCVBUF", "SK_MEMINFO_WMEM_ALLOC",
    "SK_MEMINFO_SNDBUF", "SK_MEMINFO_FWD_ALLOC", "SK_MEMINFO_WMEM_QUEUED",
    "SK_MEMINFO_OPTMEM", "SK_MEMINFO_BACKLOG", "SK_MEMINFO_DROPS",
)
CC_INFO_SIZE = 20  # sizeof(union tcp_cc_info): the BBR member is the largest


class SockoptReadError(Exception):
    """A getsockopt the ``%{ }%`` snapshot needs failed; the message is packetdrill's."""


# The 6.18 layout has no padding, so the packed format equals the C layout.
_FULL = struct.Struct("=" + "".join(code for _, code in _TCP_INFO_FIELDS))
assert _FULL.size == TCP_INFO_SIZE
_NAMES = tuple(name for name, _, _ in _TCP_INFO_LAYOUT)


def decode_tcp_info(data: bytes) -> dict[str, int]:
    """Decode a TCP_INFO buffer of any length into ``tcpi_*`` values (missing fields omitted)."""
    if len(data) >= _FULL.size:
        # The common case, in one unpack: this runs after every event of a traced run.
        raw = dict(zip(_NAMES, _FULL.unpack_from(data), strict=True))
    else:
        raw = {}
        for name, code, offset in _TCP_INFO_LAYOUT:
            if offset + struct.calcsize(code) > len(data):
                break
            (raw[name],) = struct.unpack_from("=" + code, data, offset)
    return _split_bitfields(raw)


def _split_bitfields(raw: dict[str, int]) -> dict[str, int]:
    values = raw
    wscale = values.pop("_wscale", None)
    if wscale is not None:
        # Bitfields fill from the low bit on x86-64: snd_wscale:4 then rcv_wscale:4.
        values["tcpi_snd_wscale"] = wscale & 0xF
        values["tcpi_rcv_wscale"] = wscale >> 4
    flags = values.pop("_flags8", None)
    if flags is not None:
        values["tcpi_delivery_rate_app_limited"] = flags & 0x1
        values["tcpi_fastopen_client_fail"] = (flags >> 1) & 0x3
    ecn = values.pop("_ecn_bits", None)
    if ecn is not None:
        values["tcpi_ecn_mode"] = ecn & 0x3
        values["tcpi_accecn_opt_seen"] = (ecn >> 2) & 0x3
        values["tcpi_accecn_fail_mode"] = (ecn >> 4) & 0xF
        values["tcpi_options2"] = ecn >> 8
    return values


def decode_cc_info(data: bytes) -> dict[str, int]:
    """Decode TCP_CC_INFO the way packetdrill does: the union is read as all three layouts.

    packetdrill emits the BBR, DCTCP and Vegas views whenever the returned length covers each
    one, whatever the congestion control is; CCs without get_info (cubic, reno) return 0 bytes
    and so give no variables at all.
    """
    values: dict[str, int] = {}
    if len(data) >= 20:
        lo, hi, min_rtt, pacing_gain, cwnd_gain = struct.unpack_from("=5I", data)
        values.update(
            bbr_bw_lo=lo, bbr_bw_hi=hi, bbr_bw=(hi << 32) + lo, bbr_min_rtt=min_rtt,
            bbr_pacing_gain=pacing_gain, bbr_cwnd_gain=cwnd_gain,
        )
    if len(data) >= 16:
        enabled, ce_state, alpha, ab_ecn, ab_tot = struct.unpack_from("=2H3I", data)
        values.update(
            dctcp_enabled=enabled, dctcp_ce_state=ce_state, dctcp_alpha=alpha,
            dctcp_ab_ecn=ab_ecn, dctcp_ab_tot=ab_tot,
        )
        v_enabled, v_rttcnt, v_rtt, v_minrtt = struct.unpack_from("=4I", data)
        # packetdrill names the last two "tcp_rtt" and "tcp_minrtt" (sic).
        values.update(tcpv_enabled=v_enabled, tcpv_rttcnt=v_rttcnt, tcp_rtt=v_rtt,
                      tcp_minrtt=v_minrtt)
    return values


def decode_meminfo(data: bytes) -> dict[str, int]:
    """Decode SO_MEMINFO's u32 array into ``SK_MEMINFO_*`` values."""
    count = min(len(data) // 4, len(SK_MEMINFO_NAMES))
    numbers = struct.unpack_from(f"={count}I", data)
    return dict(zip(SK_MEMINFO_NAMES, numbers, strict=False))


SockoptReader = Callable[[int, int, int, int], "bytes | None"]
"""``read(fd, level, name, size)``: the bytes getsockopt returned, or None if it failed."""


def python_getsockopt(fd: int, level: int, name: int, size: int) -> bytes | None:
    """getsockopt into a ``size``-byte buffer; the returned bytes, or None on failure."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        return sock.getsockopt(level, name, size)
    except OSError:
        return None
    finally:
        sock.detach()  # the fd belongs to the script, not to this temporary object


def read_tcp_info(fd: int, read: SockoptReader = python_getsockopt) -> dict[str, int] | None:
    """``getsockopt(TCP_INFO)`` on ``fd`` decoded, or None if it fails (not TCP, closed)."""
    data = read(fd, SOL_TCP, TCP_INFO, TCP_INFO_SIZE)
    if data is None:
        return None
    return decode_tcp_info(data)


@dataclass(frozen=True)
class CodeRaw:
    """The three getsockopt results one ``%{ }%`` snapshot reads, not yet decoded: the run
    reads them at the block's time and decodes them after the run (decoding costs ~200 µs
    of Python, which would otherwise delay the next event)."""

    tcp_info: bytes
    cc_info: bytes
    meminfo: bytes

    def values(self) -> dict[str, int]:
        """The variables the snapshot defines (constants excluded)."""
        decoded = decode_tcp_info(self.tcp_info)
        values = {name: decoded.get(name, 0) for name in CODE_TCP_INFO_NAMES}
        values.update(decode_cc_info(self.cc_info))
        values.update(decode_meminfo(self.meminfo))
        return values


def read_code_raw(fd: int, read: SockoptReader = python_getsockopt) -> CodeRaw:
    """One ``%{ }%`` snapshot's reads for ``fd``, in packetdrill's order.

    Raises SockoptReadError with packetdrill's wording if one of the three reads fails.
    """
    info = read(fd, SOL_TCP, TCP_INFO, TCP_INFO_SIZE)
    if info is None:
        raise SockoptReadError("can't find getsockopt to get TCP info")
    cc_info = read(fd, SOL_TCP, TCP_CC_INFO, CC_INFO_SIZE)
    if cc_info is None:
        raise SockoptReadError("can't find getsockopt to get TCP_CC_INFO")
    meminfo = read(fd, SOL_SOCKET, SO_MEMINFO, 4 * len(SK_MEMINFO_NAMES))
    if meminfo is None:
        raise SockoptReadError("can't find getsockopt to get sk_meminfo")
    return CodeRaw(info, cc_info, meminfo)


__all__ = [
    "CC_INFO_SIZE",
    "CODE_CONSTANTS",
    "CODE_TCP_INFO_NAMES",
    "CodeRaw",
    "SK_MEMINFO_NAMES",
    "TCP_INFO_SIZE",
    "SockoptReadError",
    "SockoptReader",
    "decode_cc_info",
    "decode_meminfo",
    "decode_tcp_info",
    "python_getsockopt",
    "read_code_raw",
    "read_tcp_info",
]
