"""Boxes meant to scroll sideways: a figure wider than the notebook's column, a script with long
lines. Their content beyond the frame's width scrolls (the browser tests accept that, and only
that, as not clipped: they recognise the frame by its class)."""

from __future__ import annotations

import html

__all__ = ["SCROLL_FRAME", "SCROLL_STYLE", "scrolling_pre"]

SCROLL_FRAME = "drillbook-scroll"
# contain:inline-size keeps the frame's content out of its parent's width: inside a widget
# (a flex box that grows to its content) the frame would otherwise widen its parent to the
# figure's width, and the parent, not the frame, would hide the overflow.
SCROLL_STYLE = "overflow-x:auto;max-width:100%;contain:inline-size"


def scrolling_pre(text: str, style: str = "", *, wrap_at_spaces: bool = False) -> str:
    """Script text in a sideways-scrolling frame. Lines never wrap: JupyterLab's outputs break
    lines anywhere, even inside ``1001:2001``; a long line scrolls instead.

    ``wrap_at_spaces``: a line longer than the frame wraps, but only at a space (never inside
    ``1001:2001``), for text read as sentences, such as a failure's explanation: beside
    JupyterLab's file browser it would otherwise end out of sight."""
    white_space = "pre-wrap" if wrap_at_spaces else "pre"
    return (
        f'<pre class="{SCROLL_FRAME}" style="{SCROLL_STYLE};white-space:{white_space};'
        f'word-break:normal;overflow-wrap:normal;font-family:monospace;{style}">'
        f"{html.escape(text)}</pre>"
    )
