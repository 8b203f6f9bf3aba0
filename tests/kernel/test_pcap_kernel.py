"""A real run's capture (trace.to_pcap): every packet, both ways, with its time, readable by
tshark."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from seed_scripts import HANDSHAKE

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.trace.model import Direction
from drillbook.trace.pcap import write_pcap

pytestmark = pytest.mark.kernel


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_the_handshake_capture_reads_back_in_tshark(tmp_path: Path) -> None:
    config = RunConfig(tolerance_usecs=10_000)
    trace = run_script(parse_script(HANDSHAKE, str(tmp_path / "handshake.pkt"), config), config)
    path = tmp_path / "run.pcap"
    write_pcap(trace, str(path))
    rows = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-E", "separator=,",
         "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.flags.str", "-e", "tcp.len"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()
    fields = [row.split(",") for row in rows]
    assert len(fields) == len(trace.packets) >= 9
    # Inbound packets come from the remote address, the kernel's from the local one, in the
    # trace's order, with the trace's times.
    inbound = [p.direction is Direction.INBOUND for p in trace.packets]
    assert {f[1] for f, i in zip(fields, inbound, strict=True) if i} == {"192.0.2.1"}
    local = {f[1] for f, i in zip(fields, inbound, strict=True) if not i}
    assert len(local) == 1 and local != {"192.0.2.1"}
    times = [float(f[0]) for f in fields]
    assert times == sorted(times)
    offsets = [round((t - times[0]) * 1e6) for t in times]
    first = trace.packets[0].time_us
    wanted = [p.time_us - first for p in trace.packets]
    assert all(abs(o - w) <= 1 for o, w in zip(offsets, wanted, strict=True))
    assert [int(f[3]) for f in fields] == [p.payload_len for p in trace.packets]
