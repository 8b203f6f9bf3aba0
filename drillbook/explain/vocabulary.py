"""The names the explanations use: TCP states, congestion states, counters, reset reasons.

TCP states and congestion (``ca``) states are the kernel's ABI numbers (include/net/tcp_states.h,
include/uapi/linux/tcp.h's ``tcp_ca_state``), the same in TCP_INFO and in tracepoints.
"""

from __future__ import annotations

TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "NEW_SYN_RECV",
}  # fmt: skip

CA_STATES = {0: "Open", 1: "Disorder", 2: "CWR", 3: "Recovery", 4: "Loss"}
CA_LOSS = 4
CA_RECOVERY = 3

# Namespace counters that name a cause or reason (TcpExt.* from /proc/net/netstat).
TLP_COUNTER = "TcpExt.TCPLossProbes"
RTO_COUNTER = "TcpExt.TCPTimeouts"
SYN_RETRANS_COUNTER = "TcpExt.TCPSynRetrans"
FAST_RETRANS_COUNTER = "TcpExt.TCPFastRetrans"
SACK_RECOVERY_COUNTER = "TcpExt.TCPSackRecovery"
RENO_RECOVERY_COUNTER = "TcpExt.TCPRenoRecovery"
WINDOW_PROBE_COUNTER = "TcpExt.TCPWinProbe"
KEEPALIVE_COUNTER = "TcpExt.TCPKeepAlive"

# A reset the kernel sent, and the counter that names its reason (the kernel's own
# sk_rst_reason names, as tcp_send_reset prints them).
RESET_COUNTERS = (
    ("TcpExt.TCPAbortOnClose", "TCP_ABORT_ON_CLOSE"),
    ("TcpExt.TCPAbortOnData", "TCP_ABORT_ON_DATA"),
    ("TcpExt.TCPAbortOnLinger", "TCP_ABORT_ON_LINGER"),
    ("TcpExt.TCPAbortOnMemory", "TCP_ABORT_ON_MEMORY"),
    ("TcpExt.TCPAbortOnTimeout", "TCP_KEEPALIVE_TIMEOUT"),
)

RESET_SENTENCES = {
    "TCP_ABORT_ON_CLOSE": "the socket was closed with unread data in its receive queue, so the "
    "kernel aborted the connection with a RST instead of a FIN (RFC 2525 2.17)",
    "TCP_ABORT_ON_DATA": "data arrived for a socket that was already closed by its application",
    "TCP_ABORT_ON_LINGER": "the socket was closed with SO_LINGER set to 0: abort at once",
    "TCP_ABORT_ON_MEMORY": "the kernel ran short of memory for orphaned sockets",
    "TCP_KEEPALIVE_TIMEOUT": "keepalive or user timeout expired",
    "NO_SOCKET": "no socket matches this segment",
    "TCP_INVALID_ACK_SEQUENCE": "the segment acknowledges data that was never sent",
    "TCP_TIMEWAIT_SOCKET": "a segment reached a connection in TIME_WAIT",
    "TCP_STATE": "the segment is not acceptable in the connection's state",
    "TCP_DISCONNECT_WITH_DATA": "connect(AF_UNSPEC) disconnected a socket with unread data",
    "NOT_SPECIFIED": "the kernel gave no specific reason",
}


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
