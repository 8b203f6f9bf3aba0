"""Figures from a Trace: sequence diagram, SACK blocks, time-sequence graph, windows.

Drawers take a matplotlib ``Axes`` and a :class:`~drillbook.trace.Trace` and return the artists
they drew, by role (matplotlib's object-oriented API only; no global figure state). ``figure_for``
picks the plots that have something to show; ``save_figure`` writes PNG or SVG.
This package is the only one that imports matplotlib.
"""

from __future__ import annotations

from drillbook.render.figure import KINDS, figure_for, relevant_kinds, save_figure
from drillbook.render.sack import AckRow, SackArtists, SackBar, ack_rows, draw_sack
from drillbook.render.sequence import PacketArrow, SequenceArtists, draw_sequence
from drillbook.render.style import FONTS, PALETTE, Fonts, Palette
from drillbook.render.timeseq import SackSpan, SegmentBeam, TimeSequenceArtists, draw_time_sequence
from drillbook.render.window import WindowArtists, draw_window

__all__ = [
    "FONTS",
    "KINDS",
    "PALETTE",
    "AckRow",
    "Fonts",
    "PacketArrow",
    "Palette",
    "SackArtists",
    "SackBar",
    "SackSpan",
    "SegmentBeam",
    "SequenceArtists",
    "TimeSequenceArtists",
    "WindowArtists",
    "ack_rows",
    "draw_sack",
    "draw_sequence",
    "draw_time_sequence",
    "draw_window",
    "figure_for",
    "relevant_kinds",
    "save_figure",
]
