"""Sideways-scrolling frames: script text never wraps; a failure banner's sentences wrap at
spaces (beside JupyterLab's file browser they ran out of sight), never inside a number."""

from __future__ import annotations

import re

from drillbook.jupyter.frames import SCROLL_FRAME, scrolling_pre
from drillbook.jupyter.verdict import Verdict, VerdictKind


def _white_space(html: str) -> str:
    found = re.search(r"white-space:([a-z-]+)", html)
    assert found is not None
    return found.group(1)


def test_script_text_scrolls_and_never_wraps() -> None:
    html = scrolling_pre("+0  < . 1:1001(1000) ack 1 win 32792")
    assert SCROLL_FRAME in html and _white_space(html) == "pre"
    assert "overflow-wrap:normal" in html and "word-break:normal" in html


def test_a_failure_banner_wraps_at_spaces_only() -> None:
    verdict = Verdict(VerdictKind.FAIL, "FAIL cell:6:1: error handling packet", (
        "+0  > S. 0:0(0) ack 1", "^^^^^^^^^^^^^^^^^^^^^",
        "the kernel's SYN-ACK is 4 bytes longer: it carries a mss option the script does not "
        "expect (script: <>, kernel: <mss 1460>)"))
    html = verdict.html()
    assert _white_space(html) == "pre-wrap"
    assert "overflow-wrap:normal" in html and "word-break:normal" in html
