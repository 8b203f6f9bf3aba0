"""%drill and %%drill in a real in-process IPython shell, against the real kernel: the line
magic on a file, -D, --out, --pcap, `_`, and --check failing the cell."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from kernel_support import KERNEL_MARKS

from drillbook.jupyter.result import DrillResult
from drillbook.trace.errors import ScriptFailed

DEMO = Path(__file__).resolve().parents[2] / "notebooks" / "drillbook-demo.ipynb"




pytestmark = KERNEL_MARKS


def _handshake() -> str:
    for cell in json.loads(DEMO.read_text())["cells"]:
        if "seed-handshake" in cell["metadata"].get("tags", []):
            return "".join(cell["source"]).split("\n", 1)[1]
    raise LookupError("seed-handshake")


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    assert ip.run_cell("%load_ext drillbook\n%config Drill.tolerance_usecs = 10000").success
    return ip


def test_line_magic_runs_a_file_with_header_options(shell: InteractiveShell,
                                                     tmp_path: Path) -> None:
    script = tmp_path / "handshake.pkt"
    script.write_text("--tolerance_usecs=20000\n" + _handshake() + "\n")
    pcap = tmp_path / "handshake.pcap"
    shell.user_ns["script_path"] = str(script)
    outcome = shell.run_cell(
        f"%drill {{script_path}} --no-figures --out hs --pcap {pcap}", store_history=True
    )
    assert outcome.success, outcome.error_in_exec
    result = outcome.result
    assert isinstance(result, DrillResult) and result.passed
    assert shell.user_ns["hs"] is result and shell.user_ns["_"] is result
    assert result.config.tolerance_usecs == 20000  # the script's header beats %config
    assert result.script.source.name == "handshake.pkt"
    magic, = struct.unpack("<I", pcap.read_bytes()[:4])
    assert magic in (0xA1B2C3D4, 0xA1B23C4D)  # a pcap file, microsecond or nanosecond
    assert result.images == ()


def test_defines_apply_in_packet_lines(shell: InteractiveShell) -> None:
    text = _handshake().replace("win 1000", "win WIN", 1)
    result = shell.run_cell_magic("drill", "-D WIN=1000 --no-figures", text)
    assert result.passed, result.verdict.text


def test_check_fails_the_cell_with_packetdrills_message(shell: InteractiveShell) -> None:
    text = _handshake().replace("> P. 1:11(10) ack 1", "> P. 1:11(10) ack 2")
    outcome = shell.run_cell("%%drill --check --no-figures\n" + text)
    assert isinstance(outcome.error_in_exec, ScriptFailed)
    rendered = "\n".join(outcome.error_in_exec._render_traceback_())
    assert "cell:10: error handling packet: live packet field tcp_ack" in rendered
