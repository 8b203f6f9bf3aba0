"""--pcap PATH.pcapng: each packet carries a comment (file:line, expected vs actual on a
mismatch, the kernel's explanation) that Wireshark shows; read back here with tshark."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.trace.pcap import write_pcap

pytestmark = pytest.mark.kernel

SCRIPTS = Path(__file__).parent / "explain_scripts"


def comments(path: Path) -> list[tuple[str, str]]:
    rows = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "tcp.flags.str", "-e", "frame.comment"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()
    return [(flags, comment.replace("\\n", "\n")) for flags, comment in
            (row.split("\t", 1) for row in rows)]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_comments_carry_the_line_and_the_kernels_explanation(tmp_path: Path) -> None:
    script = SCRIPTS / "tlp-then-rto.pkt"
    for _ in range(3):
        trace = run_script(parse_script(script.read_text(), str(script)))
        if trace.passed:
            break
    path = tmp_path / "run.pcapng"
    write_pcap(trace, path)
    found = comments(path)
    assert len(found) == len([p for p in trace.packets if p.raw])
    assert found[0][1].startswith("tlp-then-rto.pkt:9: +0 < S 0:0(0)")
    retransmissions = [c for _, c in found if "why: cause=" in c]
    assert [c.split("\n")[0].split(":")[1] for c in retransmissions] == ["16", "17", "18"]
    assert "why: cause=tlp — tail loss probe" in retransmissions[0]
    assert "why: cause=rto " in retransmissions[1] and "backoff=1" in retransmissions[1]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_a_mismatch_comment_has_expected_and_actual(tmp_path: Path) -> None:
    text = (SCRIPTS / "passive-close.pkt").read_text().replace(
        "+0  > S. 0:0(0) ack 1 <...>", "+0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>")
    trace = run_script(parse_script(text, str(tmp_path / "bad.pkt")))
    assert trace.failure is not None and trace.failure.line == 9
    path = tmp_path / "bad.pcapng"
    write_pcap(trace, path)
    (synack,) = [c for flags, c in comments(path) if "S" in flags and "A" in flags]
    lines = synack.split("\n")
    assert lines[0] == "bad.pkt:9: +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>"
    assert lines[1] == trace.failure.message
    assert "the kernel's SYN-ACK is 4 bytes longer: it carries a wscale option" in lines[2]
    assert lines[3] == "expected: S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>"
    assert lines[4].startswith("actual: S. 0:0(0) ack 1 win ")
