"""What tests that run against the real kernel need of the machine, said once.

Kernel tests skip with this reason only where the machine cannot host a sandbox (CI is root
and has /dev/net/tun, so there they always run).
"""

from __future__ import annotations

import os

import pytest

from drillbook.config import RunConfig
from drillbook.retries import run_with_timing_retries as retry_on_timing
from drillbook.runtime.api import run_script
from drillbook.script.model import Script
from drillbook.trace.model import FailureKind, Trace

CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21


def missing_privilege() -> str | None:
    """Why a network namespace with a TUN device cannot be made here, or None."""
    with open("/proc/self/status") as handle:
        caps = next(line for line in handle if line.startswith("CapEff:"))
    effective = int(caps.split()[1], 16)
    if not effective & (1 << CAP_NET_ADMIN) or not effective & (1 << CAP_SYS_ADMIN):
        return "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    return None


KERNEL_MARKS = [
    pytest.mark.kernel,
    pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege())),
]


def run_with_timing_retries(script: Script, config: RunConfig, attempts: int = 3) -> Trace:
    """Run ``script``; run it again (up to ``attempts`` runs in all) while it fails only on
    timing. The machine is shared and noisy; a failure on a field is never retried."""
    return retry_on_timing(
        lambda: run_script(script, config),
        lambda trace: trace.failure is not None and trace.failure.kind is FailureKind.TIMING,
        attempts - 1,
    )[-1]
