"""The pytest plugin: a project that opts in gets one item per script and IP mode, and a
failure shows packetdrill's message instead of a Python traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from suite_scripts import FAILING, FAILING_LINE, PASSING, require_kernel, script_folder

pytestmark = pytest.mark.kernel

INI = """\
[pytest]
drillbook_collect = true
drillbook_paths = pkt
drillbook_modes = {modes}
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *args], cwd=folder, capture_output=True,
                          text=True, timeout=240)


def test_collection_is_opt_in_and_per_mode() -> None:
    scripts = {"pkt/ok.pkt": PASSING, "pkt/x-v6.pkt": PASSING, "other/skip.pkt": PASSING}
    with script_folder(scripts) as folder:
        bare = _pytest(folder, "--collect-only", "-q")
        (folder / "pytest.ini").write_text(INI.format(modes="all"))
        opted = _pytest(folder, "--collect-only", "-q")
    assert "no tests ran" in bare.stdout or "no tests collected" in bare.stdout
    items = [line for line in opted.stdout.splitlines() if "::" in line]
    assert items == ["pkt/ok.pkt::ipv4", "pkt/ok.pkt::ipv4-mapped-ipv6", "pkt/ok.pkt::ipv6",
                     "pkt/x-v6.pkt::ipv6"]


def test_items_pass_and_fail_with_packetdrill_messages() -> None:
    require_kernel()
    with script_folder({"pkt/ok.pkt": PASSING, "pkt/bad.pkt": FAILING,
                        "pytest.ini": INI.format(modes="ipv4,ipv6")}) as folder:
        proc = _pytest(folder, "-q", "-rf")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "2 failed, 2 passed" in out
    assert f"bad.pkt:{FAILING_LINE}: error handling packet: live packet field" in out
    assert "Traceback" not in out and "runtest" not in out
    assert "FAILED pkt/bad.pkt::ipv4" in out
    assert "PytestUnknownMarkWarning" not in out
