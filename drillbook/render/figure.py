"""Whole figures from a Trace: pick the plots that have something to show, size them for a
notebook, save them as PNG or SVG (static images survive export to HTML)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from drillbook.render.flows import has_sack, payload_bytes
from drillbook.render.sack import ack_rows, draw_sack
from drillbook.render.sequence import draw_sequence, sequence_height
from drillbook.render.timeseq import draw_time_sequence
from drillbook.render.window import congestion_snapshots, draw_window
from drillbook.trace.model import Direction, Trace

KINDS = ("sequence", "sack", "time-sequence", "window")
WIDTH_IN = 12.25  # the sequence diagram's columns are laid out for this width
# A figure without the sequence diagram is drawn to fit a notebook's column: JupyterLab at a
# 1400 px window shows outputs about 950 px wide beside its file browser, and an SVG inch is
# 96 CSS px, so 9.6 in is shown at its own size, text as large as it was drawn. (The sequence
# diagram needs 12.25 in, 1176 px: it fits the column with the file browser closed, about
# 1200 px; beside the file browser it is shown at its own size in a frame that scrolls
# sideways, its packets in view, rather than shrunk until its labels cannot be read.)
PLOT_WIDTH_IN = 9.6
ROW_IN = 0.3  # height of one sequence-diagram row
MAX_ROWS = 90  # a longer run shows its start and the events leading to its failure
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

Drawer = Callable[[Axes, Trace], Any]
DRAWERS: dict[str, Drawer] = {
    "sequence": partial(draw_sequence, max_rows=MAX_ROWS),
    "sack": draw_sack,
    "time-sequence": draw_time_sequence,
    "window": draw_window,
}


def relevant_kinds(trace: Trace) -> tuple[str, ...]:
    """The plots worth drawing: the sequence diagram always, SACK only when SACK blocks exist,
    time-sequence only when data flows, window only when TCP_INFO was snapshotted."""
    kinds = ["sequence"]
    if has_sack(trace):
        kinds.append("sack")
    if payload_bytes(trace, Direction.INBOUND) + payload_bytes(trace, Direction.OUTBOUND):
        kinds.append("time-sequence")
    if congestion_snapshots(trace):
        kinds.append("window")
    return tuple(kinds)


@dataclass(frozen=True)
class Panel:
    """Where one plot sits, in inches: the plot area and the margins its labels need."""

    kind: str
    height: float
    top: float = 0.5  # title
    bottom: float = 0.65  # x label and ticks
    left: float = 1.2  # y label and ticks
    right: float = 0.9  # a second y axis

    @property
    def total(self) -> float:
        return self.top + self.height + self.bottom


def panel_for(trace: Trace, kind: str) -> Panel:
    """The panel of ``kind`` sized for ``trace``. The sequence diagram's columns are laid out in
    inches, so its axes take the whole width and no margins."""
    if kind == "sequence":
        return Panel(kind, sequence_height(trace, max_rows=MAX_ROWS) * ROW_IN, top=0.35,
                     bottom=0.1, left=0.15,
                     right=0.0)
    if kind == "sack":
        return Panel(kind, max(1.6, 0.36 * len(ack_rows(trace))), top=0.6, bottom=0.95,
                     right=3.2)
    if kind == "window":
        return Panel(kind, 3.0)
    return Panel(kind, 3.6, right=2.1)  # the legend sits to the right of the plot


def figure_width_in(kinds: Sequence[str]) -> float:
    """The width a figure of these kinds is drawn at (inches)."""
    return WIDTH_IN if "sequence" in kinds else PLOT_WIDTH_IN


def figure_for(
    trace: Trace, kinds: Sequence[str] | None = None, *, explanations: bool = True
) -> Figure:
    """One figure with a panel per kind, stacked (default: :func:`relevant_kinds`).
    ``explanations=False`` leaves the kernel's explanations off the sequence diagram."""
    chosen = tuple(kinds) if kinds is not None else relevant_kinds(trace)
    unknown = [k for k in chosen if k not in DRAWERS]
    if unknown or not chosen:
        raise ValueError(f"unknown figure kind(s) {unknown or chosen}; choose from {KINDS}")
    panels = [panel_for(trace, k) for k in chosen]
    height = sum(p.total for p in panels)
    width = figure_width_in(chosen)
    fig = Figure(figsize=(width, height))
    top = height
    for panel in panels:  # fixed positions: constrained layout would shrink the columns
        bottom = top - panel.top - panel.height
        rect = (panel.left / width, bottom / height,
                (width - panel.left - panel.right) / width, panel.height / height)
        axes = fig.add_axes(rect)
        if panel.kind == "sequence":
            draw_sequence(axes, trace, max_rows=MAX_ROWS, explanations=explanations)
        else:
            DRAWERS[panel.kind](axes, trace)
        top = bottom - panel.bottom
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG, SVG or PDF, chosen by the file's extension."""
    out = Path(path)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format of {out}: use .png, .svg or .pdf")
    fig.savefig(out, format=fmt, dpi=dpi, facecolor="white")
    return out
