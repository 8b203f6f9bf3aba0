"""A fake kernel for the run loop: unit tests of a whole run without root.

:func:`run_fake` runs a script's text through the real interpreter and run loop over
:class:`FakeKernel` (device and syscall host) and :class:`FakeClock` (virtual time): the kernel
does what the script says unless :class:`KernelBehaviour` tells it otherwise (a packet late,
dropped or rewritten, a call returning another result, a blocking call returning later).
It tests the loop's decisions (anchoring, order, tolerance, failure at the right line,
timeouts, explore and non-fatal modes, blocking calls); the kernel tests run the same
behaviours against the real kernel.

The fake kernel and clock live in ``drillbook/runtime/loop/`` (the loop's rehearsal before time 0
walks a script over them); this package only offers them to tests, with :func:`run_fake`.
"""

from __future__ import annotations

from drillbook.runtime.loop.fake_clock import FakeClock
from drillbook.runtime.loop.fake_kernel import FakeKernel, KernelBehaviour
from drillbook.testing.run import rewrite_tcp, run_fake

__all__ = ["FakeClock", "FakeKernel", "KernelBehaviour", "rewrite_tcp", "run_fake"]
