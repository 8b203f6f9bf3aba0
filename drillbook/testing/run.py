"""Running a script over the fake kernel, and packet rewrites for its behaviours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from drillbook.config import RunConfig
from drillbook.engine.interpreter import RunOptions
from drillbook.parser import parse_script
from drillbook.runtime.loop.driver import ScriptRun
from drillbook.runtime.loop.fake_kernel import FakeKernel, KernelBehaviour
from drillbook.trace.model import Trace
from drillbook.wire.packet import Packet, decode_packet, encode_packet


def run_fake(
    text: str,
    behaviour: KernelBehaviour | None = None,
    config: RunConfig | None = None,
    options: RunOptions | None = None,
    path: str = "fake.pkt",
) -> Trace:
    """Parse ``text`` and run it over a fresh :class:`FakeKernel`; the run's Trace."""
    config = config or RunConfig()
    script = parse_script(text, path, config)
    kernel = FakeKernel(script, config, behaviour)
    run = ScriptRun(script, config, kernel.device, kernel.clock, kernel.syscalls,
                    kernel.addresses, options or RunOptions(), kernel.ephemeral_port)
    return run.run()


def rewrite_tcp(**fields: Any) -> Callable[[bytes], bytes]:
    """A rewrite for :attr:`KernelBehaviour.rewrites`: the TCP header's ``fields`` replaced
    (live values, e.g. ``window=7``), checksums recomputed."""

    def rewrite(raw: bytes) -> bytes:
        packet = decode_packet(raw)
        assert packet.tcp is not None, "rewrite_tcp on a packet without TCP"
        return encode_packet(Packet(packet.ip, replace(packet.tcp, checksum=0, **fields)))

    return rewrite
