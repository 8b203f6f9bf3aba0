"""Small scripts and helpers for the suite, plugin, fault and non-root kernel tests.

Scripts are written under /var/tmp, not /tmp: the worker mounts a private tmpfs on /tmp, and
the fault tests watch the host's temporary folders for leftovers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

# A passive open that passes in all three IP modes (a wide tolerance: the test machine is
# shared and loaded, and these tests are about the suite, not about timing).
PASSING = """\
--tolerance_usecs=100000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <...>
+.01 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
"""

# The same, expecting the wrong ack on line 6: a field mismatch (never retried).
FAILING = PASSING.replace("> S. 0:0(0) ack 1", "> S. 0:0(0) ack 2")
FAILING_LINE = 7

# A semantic error packetdrill refuses before running (line 2).
REFUSED = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0 0 0\n"


def kernel_problem() -> str | None:
    """Why real runs cannot happen here, or None."""
    if os.geteuid() != 0:
        return "needs root (CAP_NET_ADMIN) for network namespaces"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    return None


def require_kernel() -> None:
    """Skip the calling test with the reason when real runs cannot happen."""
    problem = kernel_problem()
    if problem:
        pytest.skip(problem)


@contextmanager
def script_folder(scripts: Mapping[str, str]) -> Iterator[Path]:
    """A throwaway folder under /var/tmp holding *scripts* (name -> text), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="drillbook-test-", dir="/var/tmp"))
    try:
        for name, text in scripts.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
