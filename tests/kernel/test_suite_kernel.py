"""``drillbook suite`` against the real kernel: verdicts, exit codes, TAP/JUnit, --expected."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from suite_scripts import FAILING, FAILING_LINE, PASSING, REFUSED, require_kernel, script_folder

from drillbook.commands.suite import main
from drillbook.config import IpMode
from drillbook.suite import Cause, SuiteOptions, Verdict, discover, run_suite

pytestmark = pytest.mark.kernel


def test_suite_verdicts_in_every_mode() -> None:
    require_kernel()
    scripts = {"a/ok.pkt": PASSING, "a/bad.pkt": FAILING, "b/refused.pkt": REFUSED,
               "b/only-v6.pkt": PASSING}
    with script_folder(scripts) as folder:
        suite = run_suite(discover([str(folder)]), SuiteOptions(jobs=2, retries=1))
    got = {(r.case.name, r.case.mode): r for r in suite.results}
    assert len(got) == 10  # 3 scripts x 3 modes, plus only-v6 in ipv6 only
    for mode in IpMode:
        assert got[("a/ok.pkt", mode)].verdict is Verdict.PASS
        bad = got[("a/bad.pkt", mode)]
        assert bad.verdict is Verdict.FAIL and bad.cause is Cause.PACKET
        assert bad.attempts == 1  # a field mismatch is never retried
        assert bad.message.startswith(f"bad.pkt:{FAILING_LINE}: error handling packet:")
        refused = got[("b/refused.pkt", mode)]
        assert refused.cause is Cause.SCRIPT and refused.line == 2
    assert [r.case.mode for r in suite.results if r.case.name == "b/only-v6.pkt"] == [
        IpMode.IPV6]


def test_suite_command_exit_codes_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    require_kernel()
    with script_folder({"ok.pkt": PASSING, "bad.pkt": FAILING}) as folder:
        tap, junit = folder / "out.tap", folder / "out.xml"
        assert main([str(folder / "ok.pkt"), "-j", "3", "-q"]) == 0
        code = main([str(folder), "--modes", "ipv4", "--tap", str(tap), "--junit", str(junit)])
        assert code == 1
        tap_text, junit_text = tap.read_text(), junit.read_text()
        expected = folder / "expected.tsv"
        expected.write_text("path\tip_mode\tverdict\tfirst_error\n"
                            "ok.pkt\tipv4\tpass\t\n"
                            f"bad.pkt\tipv4\tfail\tbad.pkt:{FAILING_LINE}: error\n")
        assert main([str(folder), "--modes", "ipv4", "--expected", str(expected), "-q"]) == 0
    out = capsys.readouterr().out
    assert "verdict agreement 2/2 (100.0 %" in out and "same first-error line 1/1" in out
    assert "ok 2 ok.pkt (ipv4)" in tap_text and "not ok 1 bad.pkt (ipv4)" in tap_text
    root = ET.fromstring(junit_text)
    assert root.find("testsuite/testcase/failure") is not None


def test_suite_through_the_cli_entry_point() -> None:
    require_kernel()
    project = Path(__file__).resolve().parents[2]
    with script_folder({"ok.pkt": PASSING}) as folder:
        proc = subprocess.run([sys.executable, "-m", "drillbook", "suite", str(folder),
                               "--modes", "ipv6"], capture_output=True, text=True,
                              timeout=120, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "Ran 1 runs: 1 passing" in proc.stdout
