"""``connect`` and ``sendto`` with AF_UNSPEC on a TCP socket: packetdrill marks the socket new
and keeps its live addresses, so the reset the kernel sends on the disconnect (and any packet
after a sendto that disconnects nothing) is still the socket's packet and matches its line.
The C packetdrill passes both scripts."""

from __future__ import annotations

import pytest
from kernel_support import KERNEL_MARKS, run_with_timing_retries

from drillbook.config import IpMode, RunConfig
from drillbook.parser import parse_script

pytestmark = KERNEL_MARKS

HANDSHAKE = """\
--tolerance_usecs=100000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+.01 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > . 1:1(0) ack 1
"""

# tcp_disconnect() resets an established connection.
CONNECT_UNSPEC = HANDSHAKE + """\
+0 connect(3, AF_UNSPEC, ...) = 0
+0 > R. 1:1(0) ack 1
"""

# TCP ignores a sendto's address (no MSG_FASTOPEN): the data goes out on the connection.
SENDTO_UNSPEC = HANDSHAKE + """\
+0 sendto(3, ..., 10, 0, AF_UNSPEC, ...) = 10
+0 > P. 1:11(10) ack 1
+.01 < . 1:1(0) ack 11 win 257
+0 connect(3, AF_UNSPEC, ...) = 0
+0 > R. 11:11(0) ack 1
"""

# A reset that does not come as the script says still fails at its line.
WRONG_RESET = CONNECT_UNSPEC.replace("> R. 1:1(0) ack 1", "> R. 2:2(0) ack 1")


@pytest.mark.parametrize("mode", [IpMode.IPV4, IpMode.IPV6])
@pytest.mark.parametrize("text", [CONNECT_UNSPEC, SENDTO_UNSPEC], ids=["connect", "sendto"])
def test_the_disconnects_reset_matches(text: str, mode: IpMode) -> None:
    config = RunConfig(ip_mode=mode)
    trace = run_with_timing_retries(parse_script(text, "unspec.pkt", config), config)
    assert trace.passed, trace.failure and trace.failure.render()


def test_a_wrong_reset_fails_at_its_line() -> None:
    trace = run_with_timing_retries(parse_script(WRONG_RESET, "unspec.pkt"), RunConfig())
    assert trace.failure is not None and trace.failure.line == 9
    assert "timed out" not in trace.failure.message.lower(), trace.failure.render()
