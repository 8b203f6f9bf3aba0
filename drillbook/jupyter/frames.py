"""Boxes meant to scroll sideways: a figure wider than the notebook's column, a script with long
lines. Their content beyond the frame's width scrolls (the browser tests accept that, and only
that, as not clipped: they recognise the frame by its class)."""

from __future__ import annotations

import html
import re

__all__ = ["SCROLL_FRAME", "SCROLL_HINT", "SCROLL_STYLE", "natural_width_px", "scroll_hint",
           "scrolling_pre"]

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


SCROLL_HINT = "drillbook-scroll-hint"
PT_TO_PX = 96 / 72  # matplotlib's SVG sizes are in points; a browser shows 96 px per inch


def natural_width_px(mime: str, data: bytes) -> int | None:
    """The width an image is shown at, at its own size, in CSS px (None if unknown)."""
    if mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big")
    if mime == "image/svg+xml":
        found = re.search(rb'<svg[^>]*?\swidth="([0-9.]+)(pt|px)?"', data[:2000])
        if found:
            width = float(found.group(1))
            return round(width * PT_TO_PX if found.group(2) == b"pt" else width)
    return None


def scroll_hint(width_px: int, what: str) -> str:
    """A line above a scroll frame ``width_px`` wide that shows only while the column is
    narrower than that (a container query): beside JupyterLab's file browser the sequence
    diagram's side column is out of sight, and the frame's scrollbar sits at its bottom, a
    screen or more below. Hidden unless the style rule applies, so an output whose ``<style>``
    was stripped shows no hint rather than a wrong one."""
    rule = f"{SCROLL_HINT}-{width_px}"
    return (
        f"<style>@container (max-width: {width_px - 1}px) {{ .{rule} {{ display: block "
        f"!important; }} }}</style>"
        f'<div class="{SCROLL_HINT} {rule}" style="display:none;font-size:0.85em;'
        f'color:#555;margin:0 0 2px 0">&#8594; wider than this column: scroll it sideways '
        f"(Shift + mouse wheel) for {html.escape(what, quote=False)}, or close the file "
        "browser</div>"
    )
