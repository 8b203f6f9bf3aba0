"""A failing ``%{ }%`` block in a real run: the failure names the block's line (packetdrill's,
as the conformance corpus records it), the failing assertion at its own script line, and the
traceback below names the script, not a temporary file."""

from __future__ import annotations

from kernel_support import KERNEL_MARKS, run_with_timing_retries
from suite_scripts import PASSING

from drillbook.config import RunConfig
from drillbook.parser import parse_script

pytestmark = KERNEL_MARKS

SCRIPT = PASSING + """\
+0 %{
seen = tcpi_snd_cwnd
assert seen == 999, seen
}%
"""


def test_a_failing_assertion_is_named_at_its_script_line() -> None:
    trace = run_with_timing_retries(parse_script(SCRIPT, "cwnd.pkt"), RunConfig())
    failure = trace.failure
    assert failure is not None and failure.line == 10
    assert failure.message.startswith(
        "error in Python code: line 12: assert seen == 999, seen raised AssertionError: ")
    text = failure.render()
    assert 'File "cwnd.pkt", line 12, in <module>' in text and "code.py" not in text
    assert text.splitlines()[-1] == (
        "cwnd.pkt: error executing code: 'python3' returned non-zero status 1")
