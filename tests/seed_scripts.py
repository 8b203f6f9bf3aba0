"""The seed article's two scripts, shared by the tests and benchmarks that run or draw them.

HANDSHAKE passes on this kernel exactly as the article prints it. SACK_FIXED is the SACK example
with the option lists the article's HTML lost restored, and with the kernel's actual SACK
answers (it merges 2001:3001 with 3001:6001 once segment 4 arrives).
"""

from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "notebooks" / "scripts"

# The handshake lives in the project as an example script (the README runs it from there).
HANDSHAKE = (SCRIPTS / "handshake.pkt").read_text()

SACK_FIXED = """\
// SACK: data segments 1,3,5,6,8,4,7,2 arrive out of order
// and the kernel answers each with its SACK blocks (RFC 2018).
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>
+.1 < . 1:1(0) ack 1 win 32792
+0  accept(3, ..., ...) = 4
+0  < . 1:1001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001
+0  < . 2001:3001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001 <nop,nop,sack 2001:3001>
+0  < . 4001:5001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001 <nop,nop,sack 4001:5001 2001:3001>
+0  < . 5001:6001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001 <nop,nop,sack 4001:6001 2001:3001>
+0  < . 7001:8001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001 <nop,nop,sack 7001:8001 4001:6001 2001:3001>
+0  < . 3001:4001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001 <nop,nop,sack 2001:6001 7001:8001>
+0  < . 6001:7001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 1001 <nop,nop,sack 2001:8001>
+0  < . 1001:2001(1000) ack 1 win 32792
+0  > . 1:1(0) ack 8001
"""

SACK = SACK_FIXED
