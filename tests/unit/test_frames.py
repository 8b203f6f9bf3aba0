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


def test_a_figure_says_it_scrolls_only_while_the_column_is_narrower() -> None:
    import struct

    from drillbook.jupyter.frames import SCROLL_HINT, natural_width_px
    from drillbook.jupyter.result import FigureImage

    svg = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="882pt" '
           b'height="10pt" viewBox="0 0 882 10"></svg>')
    assert natural_width_px("image/svg+xml", svg) == 1176
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", 980, 40)
    assert natural_width_px("image/png", png) == 980
    assert natural_width_px("image/png", b"not a png") is None
    html = FigureImage("image/svg+xml", svg, "drillbook: sequence").html()
    # Hidden by default; the container query, one px below the figure's width, shows it.
    assert f'class="{SCROLL_HINT} {SCROLL_HINT}-1176" style="display:none' in html
    assert "@container (max-width: 1175px)" in html and "container-type:inline-size" in html
    assert "the kernel's explanations" in html
    assert html.index(SCROLL_HINT) < html.index(f'class="{SCROLL_FRAME}"')
    bare = FigureImage("image/png", b"unknown", "drillbook: window").html()
    assert SCROLL_HINT not in bare and SCROLL_FRAME in bare
